/*
 * The Lua scripts of store redis (the files of lua/, docs/protocol.md §11.3),
 * embedded at build time by lua/embed.cmake, each preceded by lua/common.lua.
 */
#ifndef CX_REDIS_SCRIPTS_H
#define CX_REDIS_SCRIPTS_H

extern const char cx_lua_offer[];
extern const char cx_lua_claim[];
extern const char cx_lua_card[];
extern const char cx_lua_here[];
extern const char cx_lua_gone[];
extern const char cx_lua_refresh[];
extern const char cx_lua_pop[];
extern const char cx_lua_sweep[];
extern const char cx_lua_secret[];
extern const char cx_lua_stash[];

#endif
