# Unit tests of the known-terminal registry (broker-plugin/terminals.c).
cardex_add_test(test_terminals SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_terminals.c LIBS cardex_engine LABELS unit)
