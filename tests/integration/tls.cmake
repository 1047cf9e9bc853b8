# TLS: libcardex and the CLI against Mosquitto on a TLS listener, with
# certificates made by the openssl command at test time.
find_program(OPENSSL_EXECUTABLE openssl)
if(OPENSSL_EXECUTABLE)
  cardex_add_test(test_tls
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_tls.c
    LIBS cardex_cli_run cardex_broker_harness cardex_static cardex_common PkgConfig::MOSQUITTO
    LABELS integration
    TIMEOUT 300)
  add_dependencies(test_tls cardex_cli)
  set_property(TEST test_tls APPEND PROPERTY ENVIRONMENT "OPENSSL=${OPENSSL_EXECUTABLE}")
else()
  message(WARNING "openssl not found: test_tls is not built (scripts/deps installs it)")
endif()
