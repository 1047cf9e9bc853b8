# The namespace matrix: every MQTT way to put or read a message, against every namespace topic.
cardex_add_test(test_matrix
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_matrix.c
  LIBS cardex_mqtt_clients cardex_broker_harness PkgConfig::MOSQUITTO
  LABELS integration
  TIMEOUT 300)

# docs/protocol.md publishes the matrix's rows: the table there is the one the test runs.
add_test(NAME matrix_doc COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/integration/check-matrix-doc.sh
  $<TARGET_FILE:test_matrix> ${PROJECT_SOURCE_DIR}/docs/protocol.md)
set_tests_properties(matrix_doc PROPERTIES LABELS unit TIMEOUT 30)
