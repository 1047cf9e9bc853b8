# The plugin inside a broker that serves other clients too: the same MQTT
# outside the namespace with and without it, terminals' protections, the
# known-terminal state file, sessions per terminal, dynamic security beside
# it (tests/integration/test_coexist.c).
cardex_add_test(test_coexist
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_coexist.c
  LIBS cardex_mqtt_clients cardex_cli_run cardex_broker_harness PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)
