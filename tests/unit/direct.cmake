# Unit tests of the direct-reply registry (broker-plugin/direct.c).
cardex_add_test(test_direct SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_direct.c LIBS cardex_engine LABELS unit)
