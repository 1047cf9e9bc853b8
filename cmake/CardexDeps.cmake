# Locates the Debian 12 packages cardex builds on. Each dependency becomes an
# imported target so components link by name and carry include paths along.
find_package(PkgConfig REQUIRED)
# The plugin's Redis worker threads.
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)

pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
# The plugin's shared store (plugin_opt_store redis): hiredis 0.14 (libhiredis-dev).
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)

# mbedTLS 2.28 on Debian ships no pkg-config file.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ctr_drbg.h REQUIRED)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
add_library(cardex_dep_mbedcrypto INTERFACE)
target_include_directories(cardex_dep_mbedcrypto INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(cardex_dep_mbedcrypto INTERFACE ${MBEDCRYPTO_LIBRARY})

# The broker headers (mosquitto_broker.h, mosquitto_plugin.h) come from mosquitto-dev.
find_path(MOSQUITTO_BROKER_INCLUDE_DIR mosquitto_broker.h REQUIRED)
find_program(MOSQUITTO_EXECUTABLE mosquitto PATHS /usr/sbin /usr/local/sbin)
find_program(MOSQUITTO_PASSWD_EXECUTABLE mosquitto_passwd PATHS /usr/bin /usr/local/bin)
# Started by the integration tests of store redis (tests/integration/redis.c).
find_program(REDIS_SERVER_EXECUTABLE redis-server PATHS /usr/bin /usr/local/bin)
