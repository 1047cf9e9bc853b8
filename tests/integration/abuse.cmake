# Abuse of mosquitto_cardex.so inside the real Mosquitto: brute force against
# the claim limits, floods, ceilings (tests/integration/test_abuse.c).
cardex_add_test(test_abuse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_abuse.c
  LIBS cardex_broker_harness cardex_common PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 600)
