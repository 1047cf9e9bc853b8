# Replies handed to their readers by client ID, and where they are routed
# instead (tests/integration/test_delivery.c).
cardex_add_test(test_delivery
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_delivery.c
  LIBS cardex_mqtt_clients cardex_cli_run cardex_broker_harness PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 120)
