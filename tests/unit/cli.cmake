# Unit tests of the cardex CLI's modules (client/cli/), linked against the
# same static library as the binary. Included from tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/.
foreach(t test_profiles test_contacts test_cli_config test_cli_terminal test_owncard)
  cardex_add_test(${t} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/cli_fixture.c
    LIBS cardex_cli_core LABELS unit)
endforeach()
