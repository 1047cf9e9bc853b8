# Unit tests of the exchange engine (broker-plugin/engine.c) and its internals.
cardex_add_test(test_engine SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_engine.c LIBS cardex_engine LABELS unit)
# Fault injection: the test wraps the DRBG to reach the "internal" error paths.
target_link_options(test_engine PRIVATE -Wl,--wrap=cx_rng_bytes)
# Unit tests of the proxies' network list (broker-plugin/netlist.c, plugin_opt_proxy_addresses).
cardex_add_test(test_netlist SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_netlist.c LIBS cardex_engine LABELS unit)
