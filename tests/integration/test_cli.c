/*
 * Integration tests of the cardex CLI (the binary named by CARDEX_CLI)
 * against the real Mosquitto with the plugin. Processes are started with
 * fork/exec (no shell); the password goes through CARDEX_PASSWORD or a
 * password file, never argv; stdout and stderr are read through pipes with
 * bounded waits, and a process that overstays is killed by its PID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "cli_run.h"

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
};

struct fx {
	cxb_broker b;
	char port[16];
	char card_ada[1024];
	char card_grace[1024];
	char card_bad[1024];
	char home[256];  /* XDG_DATA_HOME and XDG_CONFIG_HOME of the CLI runs: never the user's */
	cxr_proc *procs[4];
};

/*
 * Starts the CLI with args, password in CARDEX_PASSWORD (NULL: none) and,
 * when stdin_data is not NULL, that text on its stdin (then closed).
 */
static cxr_proc *spawn(struct fx *fx, const char *password, const char *stdin_data,
		const char *const *args)
{
	char data[300], config[300];
	/* Received cards go into the contacts store: a private one per test. */
	cxr_opts o = {.stdin_data = stdin_data, .password = password, .env = {data, config}};
	cxr_proc *p;

	snprintf(data, sizeof(data), "XDG_DATA_HOME=%s", fx->home);
	snprintf(config, sizeof(config), "XDG_CONFIG_HOME=%s", fx->home);
	p = cxr_spawn(&o, args);
	cxr_track(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]), p);
	return p;
}

/* Runs the CLI to its end; returns the exit code. */
static int run(struct fx *fx, const char *password, const char *stdin_data, const char *const *args,
		cxr_proc **out)
{
	cxr_proc *p = spawn(fx, password, stdin_data, args);

	*out = p;
	return cxr_finish(p);
}

/* The first event named event in p's --json output (or NULL), and how many there are; every line must be an event. */
static cJSON *json_event(const cxr_proc *p, const char *event, int *nevents)
{
	cJSON *lines = cxr_json_lines(p);
	const cJSON *line;

	cJSON_ArrayForEach(line, lines) {
		assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(line, "event")));
	}
	cJSON_Delete(lines);
	return cxr_json_event(p, event, nevents);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *dir = getenv("CARDEX_TEST_DATA");
	cxb_config cfg;

	if(!fx) {
		return -1;
	}
	if(!dir) {
		dir = "tests/data";
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	if(cxb_start(&fx->b, &cfg) != 0) {
		free(fx);
		return -1;
	}
	snprintf(fx->port, sizeof(fx->port), "%d", fx->b.port);
	snprintf(fx->card_ada, sizeof(fx->card_ada), "%s/ada.json", dir);
	snprintf(fx->card_grace, sizeof(fx->card_grace), "%s/grace.json", dir);
	snprintf(fx->card_bad, sizeof(fx->card_bad), "%s/no-fn.json", dir);
	snprintf(fx->home, sizeof(fx->home), "%s/cardex-cli-home-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if(!mkdtemp(fx->home)) {
		cxb_stop(&fx->b);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(!fx) {
		return 0;
	}
	cxr_free_all(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]));
	cxb_stop(&fx->b);
	cxr_remove_tree(fx->home);
	free(fx);
	return 0;
}

/* ---- tests ---- */

static void test_json_exchange(void **state)
{
	struct fx *fx = *state;
	const char *offer_args[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "30", NULL};
	const char *claim_args[] = {"claim", "A", "--json", "--host", "127.0.0.1", "--port", fx->port,
		"--id", "B", "--card", fx->card_grace, "--timeout", "30", NULL};
	cxr_proc *a, *b;
	char line[1024];
	char key_line[64];
	cJSON *j, *card;
	int n;

	a = spawn(fx, "pw-a-secret", NULL, offer_args);
	cxr_next_line(a, line, sizeof(line));
	j = cJSON_Parse(line);
	assert_non_null(j);
	assert_string_equal(cxr_jstr(j, "event"), "offer");
	assert_string_equal(cxr_jstr(j, "id"), "A");
	assert_int_equal(strlen(cxr_jstr(j, "key")), 6);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "expires_in")->valuedouble, 120);
	snprintf(key_line, sizeof(key_line), "%s\n", cxr_jstr(j, "key"));
	cJSON_Delete(j);

	b = spawn(fx, "pw-b-secret", key_line, claim_args);
	assert_int_equal(cxr_finish(b), 0);
	assert_int_equal(cxr_finish(a), 0);

	j = json_event(a, "card", &n);
	assert_non_null(j);
	assert_int_equal(n, 1);
	assert_string_equal(cxr_jstr(j, "from"), "B");
	assert_int_equal(strlen(cxr_jstr(j, "exchange")), 32);
	card = cJSON_GetObjectItemCaseSensitive(j, "card");
	assert_true(cJSON_IsArray(card));
	assert_non_null(strstr(a->obuf, "Grace Hopper"));
	cJSON_Delete(j);
	j = json_event(b, "card", &n);
	assert_non_null(j);
	assert_int_equal(n, 1);
	assert_string_equal(cxr_jstr(j, "from"), "A");
	assert_non_null(strstr(b->obuf, "Ada Lovelace"));
	cJSON_Delete(j);
	j = json_event(a, "match", &n);
	assert_int_equal(n, 1);
	assert_string_equal(cxr_jstr(j, "peer"), "B");
	cJSON_Delete(j);
	j = json_event(b, "sent", &n);
	assert_int_equal(n, 1);
	assert_string_equal(cxr_jstr(j, "to"), "A");
	cJSON_Delete(j);
	/* Sealed: both sides show the same safety code, once, as a "safety" event. */
	j = json_event(a, "safety", &n);
	assert_int_equal(n, 1);
	cJSON *k = json_event(b, "safety", &n);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(cxr_jstr(j, "safety_code")), 6);
	assert_string_equal(cxr_jstr(j, "safety_code"), cxr_jstr(k, "safety_code"));
	cJSON_Delete(j);
	cJSON_Delete(k);
	j = json_event(a, "card", &n);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "sealed")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "verified")));
	cJSON_Delete(j);
	/* The claimer never prints the key it was given. */
	key_line[6] = '\0';
	assert_null(strstr(b->obuf, key_line));
	assert_null(strstr(b->ebuf, key_line));
}

static void test_human_exchange(void **state)
{
	struct fx *fx = *state;
	char pwfile[400];
	const char *offer_args[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "30", "--digits", "9", NULL};
	const char *claim_args[] = {"claim", "A", NULL, "--host", "127.0.0.1", "--port", fx->port,
		"--id", "B", "--card", fx->card_grace, "--timeout", "30", "--password-file", pwfile, NULL};
	cxr_proc *a, *b;
	char line[1024];
	char key[64];
	FILE *f;

	snprintf(pwfile, sizeof(pwfile), "%s/b.pw", fx->b.dir);
	f = fopen(pwfile, "w");
	assert_non_null(f);
	fputs("pw-b-secret\nsecond line ignored\n", f);
	fclose(f);
	/* A password file that others may read is refused. */
	assert_int_equal(chmod(pwfile, 0600), 0);

	a = spawn(fx, "pw-a-secret", NULL, offer_args);
	cxr_next_line(a, line, sizeof(line));
	assert_string_equal(line, "Terminal ID: A");
	cxr_next_line(a, line, sizeof(line));
	assert_int_equal(strncmp(line, "Instant key: ", 13), 0);
	/* Shown grouped ("123 456 789"); the claim takes it as typed. */
	snprintf(key, sizeof(key), "%.40s", line + 13);
	assert_int_equal(strlen(key), 11);
	assert_int_equal(key[3], ' ');
	cxr_next_line(a, line, sizeof(line));
	assert_string_equal(line, "Expires in: 120 s");

	claim_args[2] = key;
	b = spawn(fx, NULL, NULL, claim_args);
	if(cxr_finish(b) != 0) {
		fail_msg("claim exit %d, stderr: %s", b->status, b->ebuf);
	}
	assert_int_equal(cxr_finish(a), 0);
	assert_non_null(strstr(a->obuf, "Card received from B"));
	assert_non_null(strstr(a->obuf, "Grace Hopper"));
	assert_non_null(strstr(a->obuf, "US Navy, Bureau of Ordnance"));
	assert_non_null(strstr(a->obuf, "grace@example.net"));
	assert_non_null(strstr(b->obuf, "Card received from A"));
	assert_non_null(strstr(b->obuf, "Ada Lovelace"));
	assert_non_null(strstr(b->obuf, "+44-20-7946-0001"));
	/* The same safety code on both screens, grouped, never mistaken for the key. */
	const char *sa = strstr(a->obuf, "Safety code: ");
	const char *sb = strstr(b->obuf, "Safety code: ");
	assert_non_null(sa);
	assert_non_null(sb);
	assert_int_equal(strncmp(sa, sb, 20), 0);
	assert_int_equal(sa[16], ' ');
	assert_int_equal(strncmp(sa + 20, " (compare it with the other screen)", 35), 0);
}

static void test_usage_errors(void **state)
{
	struct fx *fx = *state;
	const char *none[] = {NULL};
	const char *help[] = {"--help", NULL};
	const char *claim_help[] = {"claim", "--help", NULL};
	const char *bad_cmd[] = {"exchange", NULL};
	const char *no_card[] = {"offer", "--id", "A", NULL};
	const char *no_id[] = {"offer", "--card", fx->card_ada, NULL};
	const char *bad_opt[] = {"offer", "--id", "A", "--card", fx->card_ada, "--password", "x", NULL};
	const char *bad_digits[] = {"offer", "--id", "A", "--card", fx->card_ada, "--digits", "5", NULL};
	const char *bad_timeout[] = {"offer", "--id", "A", "--card", fx->card_ada, "--timeout", "0", NULL};
	const char *no_peer[] = {"claim", "--id", "B", "--card", fx->card_grace, NULL};
	const char *bad_key[] = {"claim", "A", "12a456", "--id", "B", "--card", fx->card_grace, NULL};
	const char *offer_key_stdin[] = {"offer", "--key-stdin", "--id", "A", "--card", fx->card_ada, NULL};
	const char *extra[] = {"offer", "extra", "--id", "A", "--card", fx->card_ada, NULL};
	const char *const *cases[] = {none, bad_cmd, no_card, no_id, bad_opt, bad_digits, bad_timeout,
		no_peer, bad_key, offer_key_stdin, extra};
	cxr_proc *p;
	size_t i;

	assert_int_equal(run(fx, NULL, NULL, help, &p), 0);
	assert_non_null(strstr(p->obuf, "Usage:"));
	assert_non_null(strstr(p->obuf, "Exit status:"));
	assert_int_equal(p->elen, 0);
	cxr_free(p);
	fx->procs[0] = NULL;
	assert_int_equal(run(fx, NULL, NULL, claim_help, &p), 0);
	assert_non_null(strstr(p->obuf, "Usage:"));
	cxr_free(p);
	fx->procs[0] = NULL;
	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run(fx, "pw-a-secret", NULL, cases[i], &p);
		if(rc != 2) {
			fail_msg("case %zu: exit %d, stderr: %s", i, rc, p->ebuf);
		}
		assert_int_equal(p->olen, 0);
		assert_non_null(strstr(p->ebuf, "cardex: "));
		/* The bad key is not echoed. */
		assert_null(strstr(p->ebuf, "12a456"));
		cxr_free(p);
		fx->procs[0] = NULL;
	}
}

static void test_wrong_password(void **state)
{
	struct fx *fx = *state;
	const char *args[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "20", NULL};
	cxr_proc *p;
	cJSON *j;

	assert_int_equal(run(fx, "wrong-password", NULL, args, &p), 3);
	j = json_event(p, "error", NULL);
	assert_non_null(j);
	assert_string_equal(cxr_jstr(j, "code"), "auth");
	cJSON_Delete(j);
	assert_null(strstr(p->obuf, "wrong-password"));
	assert_null(strstr(p->ebuf, "wrong-password"));
}

static void test_no_broker(void **state)
{
	struct fx *fx = *state;
	char port[16];
	const char *args[] = {"offer", "--host", "127.0.0.1", "--port", port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "20", NULL};
	cxr_proc *p;

	snprintf(port, sizeof(port), "%d", cxb_free_port());
	assert_int_equal(run(fx, "pw-a-secret", NULL, args, &p), 3);
	assert_non_null(strstr(p->ebuf, "cannot connect"));
}

static void test_claim_no_match(void **state)
{
	struct fx *fx = *state;
	const char *args[] = {"claim", "A", "--json", "--key-stdin", "--host", "127.0.0.1", "--port", fx->port,
		"--id", "B", "--card", fx->card_grace, "--timeout", "20", NULL};
	cxr_proc *p;
	cJSON *j;

	assert_int_equal(run(fx, "pw-b-secret", "000 000\n", args, &p), 1);
	j = json_event(p, "error", NULL);
	assert_non_null(j);
	assert_string_equal(cxr_jstr(j, "code"), "no-match");
	assert_true(strlen(cxr_jstr(j, "message")) > 0);
	cJSON_Delete(j);
}

static void test_timeout(void **state)
{
	struct fx *fx = *state;
	const char *args[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "1", NULL};
	long long t0 = cxb_now_ms();
	cxr_proc *p;
	cJSON *j;

	assert_int_equal(run(fx, "pw-a-secret", NULL, args, &p), 4);
	assert_true(cxb_now_ms() - t0 < 10000);
	j = json_event(p, "offer", NULL);
	assert_non_null(j);
	cJSON_Delete(j);
	j = json_event(p, "error", NULL);
	assert_non_null(j);
	assert_string_equal(cxr_jstr(j, "code"), "timeout");
	cJSON_Delete(j);
}

static void test_card_errors(void **state)
{
	struct fx *fx = *state;
	const char *missing[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", "/nonexistent/card.json", NULL};
	const char *bad[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_bad, NULL};
	cxr_proc *p;

	assert_int_equal(run(fx, "pw-a-secret", NULL, missing, &p), 5);
	assert_non_null(strstr(p->ebuf, "card file"));
	cxr_free(p);
	fx->procs[0] = NULL;
	assert_int_equal(run(fx, "pw-a-secret", NULL, bad, &p), 5);
	assert_non_null(strstr(p->ebuf, "not a valid jCard"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_human_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_broker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_no_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_errors, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
