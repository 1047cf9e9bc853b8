# Writes OUT, a C file with one string per Lua script of store redis:
# cx_lua_<name>, the text of DIR/common.lua followed by DIR/<name>.lua
# (common.lua itself is not written alone). NAMES is a comma-separated
# list. Run with cmake -P.
set(_c "/* Generated from broker-plugin/lua by lua/embed.cmake: do not edit. */\n#include \"redis_scripts.h\"\n")
string(REPLACE "," ";" NAMES "${NAMES}")
file(READ ${DIR}/common.lua _common HEX)
foreach(name ${NAMES})
  if(name STREQUAL "common")
    continue()
  endif()
  file(READ ${DIR}/${name}.lua _body HEX)
  set(_hex "${_common}${_body}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
  string(APPEND _c "const char cx_lua_${name}[] = {${_bytes}0x00};\n")
endforeach()
file(WRITE ${OUT}.tmp "${_c}")
file(RENAME ${OUT}.tmp ${OUT})
