# The protocol core of the phone page (web/src/core), run by Node against
# the C side: unit tests (the §8.6 vectors, the reply filter, vCard and
# jCard against the cardex CLI's reading of the same files) and exchanges
# through the real Mosquitto and plugin over WebSockets, with the CLI on the
# other end. cardex-web-run starts the broker with the harness (broker.c).
# The files of a directory share the broker's accounts: one at a time.
add_executable(cardex_web_run ${CMAKE_CURRENT_SOURCE_DIR}/integration/web_run.c)
target_link_libraries(cardex_web_run PRIVATE cardex_broker_harness)

if(TARGET web_npm)
  set(_web_env "CARDEX_PLUGIN=$<TARGET_FILE:mosquitto_cardex>;CARDEX_CLI=$<TARGET_FILE:cardex_cli>;MOSQUITTO=${MOSQUITTO_EXECUTABLE};MOSQUITTO_PASSWD=${MOSQUITTO_PASSWD_EXECUTABLE};CARDEX_TEST_DATA=${PROJECT_SOURCE_DIR}/tests/data")
  add_test(NAME web_core
    COMMAND ${CARDEX_NODE} --test ${PROJECT_SOURCE_DIR}/web/test/unit/)
  add_test(NAME web_terminal
    COMMAND cardex_web_run --timeout 240 -- ${CARDEX_NODE} --test --test-concurrency=1 ${PROJECT_SOURCE_DIR}/web/test/broker/)
  # The core in Debian's Chromium, served by Mosquitto's http_dir.
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/web/test-www)
  add_test(NAME web_core_browser
    COMMAND cardex_web_run --timeout 240 --http-dir ${PROJECT_BINARY_DIR}/web/test-www
      -- ${CARDEX_NODE} --test --test-concurrency=1 ${PROJECT_SOURCE_DIR}/web/test/browser/)
  foreach(t web_core web_terminal web_core_browser)
    set_tests_properties(${t} PROPERTIES LABELS integration TIMEOUT 300
      ENVIRONMENT "${_web_env};XDG_DATA_HOME=${PROJECT_BINARY_DIR}/test-home/${t}/data;XDG_CONFIG_HOME=${PROJECT_BINARY_DIR}/test-home/${t}/config")
  endforeach()
endif()
