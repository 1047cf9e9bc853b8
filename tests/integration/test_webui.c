/*
 * The phone page (web/) in a real browser: starts Mosquitto with the
 * cardex plugin through the broker harness, with a websockets listener that
 * serves the bundled page (http_dir) beside the plain listener, and runs
 * web/e2e/webui.mjs, which drives Debian's Chromium with playwright-core
 * through every screen: two pages exchanging sealed cards, a page and the
 * cardex CLI both ways, a QR code read through a fake camera, the error
 * states, accessibility (axe-core), the request log and the budgets.
 *
 * Skipped (exit 77) when the page was not built (no Node.js at configure);
 * fails when Chromium is missing (scripts/deps installs it). Node gets the ports and the accounts in its
 * environment; it is killed by its PID when it overstays.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "cli_run.h"

#define NODE_RUN_MS 170000

static const cxb_account accounts[] = {
	{"ada", "ada-web-pw"},
	{"grace", "grace-web-pw"},
	{"cli", "cli-web-pw"},
	{"eve", "eve-web-pw"},
	{"lin", "lin-web-pw"},
	{"mae", "mae-web-pw"},
	{"sam", "sam-web-pw"},
};

static void test_page(void **state)
{
	const char *www = getenv("CARDEX_WWW_DIR");
	const char *node = getenv("CARDEX_NODE");
	const char *script = getenv("CARDEX_WEBUI_TEST");
	const char *artifacts = getenv("CARDEX_WEBUI_ARTIFACTS");
	char extra[1024], env_ports[64], env_ws[64], env_acc[512], env_www[600], env_art[600];
	cxb_config cfg = {
		.plugin = true,
		/* Three wrong claims per terminal a minute, so that the rate-limited
		 * state is reached quickly; sealed exchanges only, so that a card
		 * in plaintext cannot pass unnoticed. */
		.plugin_opts = "plugin_opt_claim_failures_per_min 3\n"
			"plugin_opt_require_sealed true\n"
			"plugin_opt_exchange_ttl 120\n",
		.accounts = accounts,
		.naccounts = sizeof(accounts) / sizeof(accounts[0]),
	};
	cxb_broker b;
	cxr_proc *p;
	size_t n = 0;
	int ws_port;
	long long deadline;

	(void)state;
	assert_non_null(www);
	assert_non_null(node);
	assert_non_null(script);
	assert_non_null(artifacts);
	ws_port = cxb_free_port();
	assert_true(ws_port > 0);
	snprintf(extra, sizeof(extra),
			"listener %d 127.0.0.1\n"
			"protocol websockets\n"
			"socket_domain ipv4\n"
			"http_dir %s\n"
			"websockets_headers_size 4096\n",
			ws_port, www);
	cfg.extra_conf = extra;
	assert_int_equal(cxb_start(&b, &cfg), 0);

	snprintf(env_ports, sizeof(env_ports), "CX_MQTT_PORT=%d", b.port);
	snprintf(env_ws, sizeof(env_ws), "CX_WS_PORT=%d", ws_port);
	n = (size_t)snprintf(env_acc, sizeof(env_acc), "CX_ACCOUNTS=");
	for (size_t i = 0; i < cfg.naccounts; i++)
		n += (size_t)snprintf(env_acc + n, sizeof(env_acc) - n, "%s%s:%s", i ? "," : "",
				accounts[i].id, accounts[i].password);
	snprintf(env_www, sizeof(env_www), "CX_WWW=%s", www);
	snprintf(env_art, sizeof(env_art), "CX_ARTIFACTS=%s", artifacts);

	{
		cxr_opts o = {.exe = node, .env = {env_ports, env_ws, env_acc, env_www, env_art}};
		const char *args[] = {script, NULL};

		p = cxr_spawn(&o, args);
	}
	deadline = cxb_now_ms() + NODE_RUN_MS;
	while (cxb_now_ms() < deadline && cxr_pump(p, 500))
		;
	if (cxb_now_ms() >= deadline)
		fprintf(stderr, "test_webui: the browser test overstayed %d s; killing it\n", NODE_RUN_MS / 1000);
	else
		cxr_finish(p);
	fprintf(stderr, "%.*s%.*s", (int)p->olen, p->obuf, (int)p->elen, p->ebuf);
	{
		int status = p->status;

		cxr_free(p);
		cxb_stop(&b);
		assert_int_equal(status, 0);
	}
}

int main(void)
{
	const char *www = getenv("CARDEX_WWW_DIR");
	char index[600];
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
	};

	snprintf(index, sizeof(index), "%s/index.html", www ? www : "");
	if (www == NULL || access(index, R_OK) != 0) {
		fprintf(stderr, "test_webui: the page was not built (no %s): skipped\n", index);
		return 77;
	}
	if (access("/usr/bin/chromium", X_OK) != 0) {
		fprintf(stderr, "test_webui: /usr/bin/chromium is missing (scripts/deps installs it)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
