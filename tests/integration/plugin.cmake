# Black-box tests of mosquitto_cardex.so inside the real Mosquitto.
cardex_add_test(test_plugin
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_plugin.c
  LIBS cardex_broker_harness cardex_common PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)
