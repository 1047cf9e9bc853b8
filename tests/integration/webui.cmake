# The phone page (web/) in Debian's Chromium, driven by playwright-core from
# web/e2e/webui.mjs, against the real Mosquitto and plugin serving the page
# (cardex-web-run, web.cmake). Screenshots, the request log and the numbers
# measured go to build/web/artifacts.
if(TARGET web AND TARGET cardex_web_run)
  add_test(NAME test_webui
    COMMAND cardex_web_run --http-dir ${CARDEX_WWW_DIR}
      --accounts ada,grace,cli,eve,lin,mae,sam
      # Three wrong claims a minute reach the rate-limited state quickly;
      # sealed exchanges only, so that a plaintext card cannot pass unnoticed.
      --opt "plugin_opt_claim_failures_per_min 3"
      --opt "plugin_opt_require_sealed true"
      --timeout 200
      -- ${CARDEX_NODE} ${PROJECT_SOURCE_DIR}/web/e2e/webui.mjs)
  set_tests_properties(test_webui PROPERTIES LABELS integration TIMEOUT 240
    ENVIRONMENT "${_web_env};CARDEX_WWW_DIR=${CARDEX_WWW_DIR};CARDEX_WEBUI_ARTIFACTS=${PROJECT_BINARY_DIR}/web/artifacts;XDG_DATA_HOME=${PROJECT_BINARY_DIR}/test-home/test_webui/data;XDG_CONFIG_HOME=${PROJECT_BINARY_DIR}/test-home/test_webui/config")
endif()
