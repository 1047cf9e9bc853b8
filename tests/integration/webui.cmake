# The phone page (web/) in Debian's Chromium, driven by playwright-core from
# web/e2e/webui.mjs, against the real Mosquitto and plugin serving the page.
# Screenshots and logs go to build/web/artifacts.
if(TARGET web)
  cardex_add_test(test_webui
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_webui.c
    LIBS cardex_cli_run cardex_broker_harness
    LABELS integration
    TIMEOUT 240)
  add_dependencies(test_webui cardex_cli web)
  set_property(TEST test_webui APPEND PROPERTY ENVIRONMENT
    "CARDEX_WWW_DIR=${CARDEX_WWW_DIR}"
    "CARDEX_NODE=${CARDEX_NODE}"
    "CARDEX_WEBUI_TEST=${PROJECT_SOURCE_DIR}/web/e2e/webui.mjs"
    "CARDEX_WEBUI_ARTIFACTS=${PROJECT_BINARY_DIR}/web/artifacts")
  set_tests_properties(test_webui PROPERTIES SKIP_RETURN_CODE 77)
endif()
