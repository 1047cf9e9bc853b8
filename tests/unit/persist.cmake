# Unit tests of the engine's saved state across a clean restart
# (broker-plugin/engine_persist.c) and of the atomically replaced files
# (broker-plugin/statefile.c).
cardex_add_test(test_engine_persist SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine_persist.c
  LIBS cardex_engine LABELS unit)
