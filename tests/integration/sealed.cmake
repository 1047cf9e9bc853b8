# Sealed exchanges end to end: no plaintext at the server, a man in the middle
# (mitm.c, a test-only MQTT proxy), tampering, replay, downgrades, --confirm.
find_package(Threads REQUIRED)
cardex_add_test(test_sealed
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_sealed.c ${CMAKE_CURRENT_SOURCE_DIR}/integration/mitm.c
  LIBS cardex_term_harness cardex_mqtt_clients cardex_cli_run cardex_broker_harness cardex_static cardex_common PkgConfig::MOSQUITTO Threads::Threads
  LABELS integration
  TIMEOUT 300)
add_dependencies(test_sealed cardex_cli)
