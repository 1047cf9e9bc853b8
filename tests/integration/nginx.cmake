# The sample nginx configuration (packaging/nginx/cardex.conf) in front of
# Mosquitto and the plugin: the page's types and headers, and an exchange
# over WebSockets through it (tests/integration/test_nginx.c with
# tests/js/nginx-check.mjs). Skipped without nginx, node or web/node_modules.
cardex_add_test(test_nginx
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_nginx.c
  LIBS cardex_cli_run cardex_broker_harness
  LABELS integration
  TIMEOUT 120)
add_dependencies(test_nginx cardex_cli)
# web/node_modules (mqtt) comes with the page's npm ci, when Node is there.
if(TARGET web_npm)
  add_dependencies(test_nginx web_npm)
endif()
set_property(TEST test_nginx APPEND PROPERTY ENVIRONMENT
  "CARDEX_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
  "CARDEX_WEB_DIR=${PROJECT_SOURCE_DIR}/web"
  "CARDEX_WEB_ROOT=${PROJECT_BINARY_DIR}/web/www")
