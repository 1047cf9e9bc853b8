# What an operator does to a running broker: dynamic-security provisioning and
# disabling, password_file reload, the $SYS tree, the set_tcp_nodelay notice
# (tests/integration/test_ops.c).
cardex_add_test(test_ops
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_ops.c
  LIBS cardex_cli_run cardex_broker_harness PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)
add_dependencies(test_ops cardex_cli)
