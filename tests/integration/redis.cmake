# store redis: three brokers sharing a private redis-server (test_redis).
cardex_add_test(test_redis
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_redis.c ${CMAKE_CURRENT_SOURCE_DIR}/integration/redis_server.c
  LIBS cardex_term_harness cardex_mqtt_clients cardex_broker_harness cardex_static cardex_common PkgConfig::MOSQUITTO PkgConfig::HIREDIS
  LABELS integration
  TIMEOUT 180)
set_property(TEST test_redis APPEND PROPERTY ENVIRONMENT "REDIS_SERVER=${REDIS_SERVER_EXECUTABLE}")
