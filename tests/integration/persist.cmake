# Offers, exchanges and limits across a restart of the broker with
# persistence true: clean stop and start, a crash after it, a damaged file,
# where the file goes (tests/integration/test_persist.c).
cardex_add_test(test_persist
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_persist.c
  LIBS cardex_mqtt_clients cardex_cli_run cardex_broker_harness PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)
