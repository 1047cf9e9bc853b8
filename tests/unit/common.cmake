# Unit tests of common/: one cmocka executable per module. Included from
# tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.
foreach(t test_ids test_topic test_proto test_crypto test_seal test_jcard test_card test_vcard test_charset)
  cardex_add_test(${t} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c LIBS cardex_common LABELS unit)
endforeach()
