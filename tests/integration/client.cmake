# Integration tests of libcardex and the cardex CLI against the real Mosquitto.
cardex_add_test(test_client
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_client.c
  LIBS cardex_term_harness cardex_broker_harness cardex_static cardex_common PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli.c)
  cardex_add_test(test_cli
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cli.c
    LIBS cardex_cli_run cardex_broker_harness cardex_common PkgConfig::MOSQUITTO
    LABELS integration
    TIMEOUT 300)
  add_dependencies(test_cli cardex_cli)
endif()
