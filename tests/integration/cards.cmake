# Integration tests of profiles, chosen fields, the contacts store, the config
# file and the terminal output of the cardex CLI, against the real Mosquitto.
cardex_add_test(test_cards
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_cards.c
  LIBS cardex_cli_run cardex_broker_harness cardex_common PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)
add_dependencies(test_cards cardex_cli)

# card import and export with the vCard corpus, read back by python3-vobject; no broker.
cardex_add_test(test_import
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_import.c
  LIBS cardex_cli_run
  LABELS integration
  TIMEOUT 120)
add_dependencies(test_import cardex_cli)
