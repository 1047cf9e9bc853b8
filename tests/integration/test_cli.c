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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"

#define RUN_MS 30000 /* longest a CLI run may take in these tests */
#define OUT_MAX 65536

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
};

struct proc {
	pid_t pid;
	int in;  /* write end of the child's stdin, or -1 */
	int out; /* read end of its stdout */
	int err; /* read end of its stderr */
	char obuf[OUT_MAX];
	size_t olen;
	char ebuf[OUT_MAX];
	size_t elen;
	size_t oline; /* start of the first stdout line not yet returned */
	int status;   /* exit status, -1 while running */
};

struct fx {
	cxb_broker b;
	char port[16];
	char card_ada[1024];
	char card_grace[1024];
	char card_bad[1024];
	char home[256];  /* XDG_DATA_HOME and XDG_CONFIG_HOME of the CLI runs: never the user's */
	struct proc *procs[4];
};

static const char *cli(void)
{
	const char *p = getenv("CARDEX_CLI");

	return p && p[0] ? p : "cardex";
}

/*
 * Starts argv[] (argv[0] is replaced by the CLI's path) with the given
 * password in CARDEX_PASSWORD (NULL: none) and, when stdin_data is not NULL,
 * that text on its stdin (then closed).
 */
static struct proc *spawn(struct fx *fx, const char *password, const char *stdin_data,
		const char *const *args)
{
	struct proc *p = calloc(1, sizeof(*p));
	int pin[2], pout[2], perr[2];
	size_t i;

	assert_non_null(p);
	assert_int_equal(pipe(pin), 0);
	assert_int_equal(pipe(pout), 0);
	assert_int_equal(pipe(perr), 0);
	p->status = -1;
	p->pid = fork();
	assert_true(p->pid >= 0);
	if(p->pid == 0) {
		char *argv[32];
		size_t n = 0;

		dup2(pin[0], STDIN_FILENO);
		dup2(pout[1], STDOUT_FILENO);
		dup2(perr[1], STDERR_FILENO);
		close(pin[0]);
		close(pin[1]);
		close(pout[0]);
		close(pout[1]);
		close(perr[0]);
		close(perr[1]);
		unsetenv("CARDEX_HOST");
		unsetenv("CARDEX_PORT");
		unsetenv("CARDEX_ID");
		unsetenv("CARDEX_PASSWORD");
		/* Received cards go into the contacts store: a private one per test. */
		setenv("XDG_DATA_HOME", fx->home, 1);
		setenv("XDG_CONFIG_HOME", fx->home, 1);
		if(password) {
			setenv("CARDEX_PASSWORD", password, 1);
		}
		argv[n++] = (char *)cli();
		for(i = 0; args[i] && n < 31; i++) {
			argv[n++] = (char *)args[i];
		}
		argv[n] = NULL;
		execv(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	p->out = pout[0];
	p->err = perr[0];
	p->in = pin[1];
	if(stdin_data) {
		assert_int_equal(write(p->in, stdin_data, strlen(stdin_data)), (ssize_t)strlen(stdin_data));
	}
	close(p->in);
	p->in = -1;
	for(i = 0; i < 4; i++) {
		if(!fx->procs[i]) {
			fx->procs[i] = p;
			break;
		}
	}
	return p;
}

/* Reads what is available on stdout/stderr within ms; false when both are at EOF. */
static bool pump(struct proc *p, int ms)
{
	struct pollfd fds[2] = {{p->out, POLLIN, 0}, {p->err, POLLIN, 0}};
	int i;

	if(p->out < 0 && p->err < 0) {
		return false;
	}
	if(poll(fds, 2, ms) <= 0) {
		return true;
	}
	for(i = 0; i < 2; i++) {
		int *fd = i == 0 ? &p->out : &p->err;
		char *buf = i == 0 ? p->obuf : p->ebuf;
		size_t *len = i == 0 ? &p->olen : &p->elen;
		ssize_t r;

		if(*fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
			continue;
		}
		r = read(*fd, buf + *len, OUT_MAX - 1 - *len);
		if(r <= 0) {
			close(*fd);
			*fd = -1;
			continue;
		}
		*len += (size_t)r;
		buf[*len] = '\0';
	}
	return true;
}

/* The next whole stdout line (NUL-terminated copy in line[cap]) within RUN_MS. */
static void next_line(struct proc *p, char *line, size_t cap)
{
	long long deadline = cxb_now_ms() + RUN_MS;
	char *nl;

	for(;;) {
		nl = memchr(p->obuf + p->oline, '\n', p->olen - p->oline);
		if(nl) {
			break;
		}
		if(cxb_now_ms() > deadline || !pump(p, 100)) {
			fail_msg("no output line; stdout: %s; stderr: %s", p->obuf, p->ebuf);
		}
	}
	snprintf(line, cap, "%.*s", (int)(nl - (p->obuf + p->oline)), p->obuf + p->oline);
	p->oline = (size_t)(nl - p->obuf) + 1;
}

/* Waits (bounded) for the process to end, reading its output; returns its exit code. */
static int finish(struct proc *p)
{
	long long deadline = cxb_now_ms() + RUN_MS;
	int st;

	while(p->status < 0) {
		pid_t r;

		pump(p, 50);
		r = waitpid(p->pid, &st, WNOHANG);
		if(r == p->pid) {
			p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		} else if(cxb_now_ms() > deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			p->status = 999;
		}
	}
	while(pump(p, 100)) {
		if(cxb_now_ms() > deadline + 2000) {
			break;
		}
	}
	return p->status;
}

static void proc_free(struct proc *p)
{
	int st;

	if(!p) {
		return;
	}
	if(p->status < 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
	}
	if(p->out >= 0) {
		close(p->out);
	}
	if(p->err >= 0) {
		close(p->err);
	}
	free(p);
}

/* Runs the CLI to its end; returns the exit code. */
static int run(struct fx *fx, const char *password, const char *stdin_data, const char *const *args,
		struct proc **out)
{
	struct proc *p = spawn(fx, password, stdin_data, args);

	*out = p;
	return finish(p);
}

/* Parses every stdout line of p as JSON and returns the first event named event (or NULL). */
static cJSON *json_event(struct proc *p, const char *event, int *nevents)
{
	char *save = NULL;
	char *copy = strdup(p->obuf);
	cJSON *found = NULL;
	char *line;
	int n = 0;

	assert_non_null(copy);
	for(line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *ev;

		if(!j) {
			fail_msg("stdout line is not JSON: %s", line);
		}
		ev = cJSON_GetObjectItemCaseSensitive(j, "event");
		assert_true(cJSON_IsString(ev));
		if(strcmp(ev->valuestring, event) == 0) {
			n++;
			if(!found) {
				found = j;
				continue;
			}
		}
		cJSON_Delete(j);
	}
	free(copy);
	if(nevents) {
		*nevents = n;
	}
	return found;
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

/* ---- fixtures ---- */

/* Removes path and everything below it (the CLI's data directory in fx->home). */
static void remove_tree(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if(lstat(path, &st) != 0) {
		return;
	}
	if(S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while((de = readdir(d)) != NULL) {
			char sub[1024];
			if(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
				continue;
			}
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			remove_tree(sub);
		}
		closedir(d);
		rmdir(path);
		return;
	}
	unlink(path);
}

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
	size_t i;

	if(!fx) {
		return 0;
	}
	for(i = 0; i < 4; i++) {
		proc_free(fx->procs[i]);
	}
	cxb_stop(&fx->b);
	remove_tree(fx->home);
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
	struct proc *a, *b;
	char line[1024];
	char key_line[64];
	cJSON *j, *card;
	int n;

	a = spawn(fx, "pw-a-secret", NULL, offer_args);
	next_line(a, line, sizeof(line));
	j = cJSON_Parse(line);
	assert_non_null(j);
	assert_string_equal(jstr(j, "event"), "offer");
	assert_string_equal(jstr(j, "id"), "A");
	assert_int_equal(strlen(jstr(j, "key")), 6);
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "expires_in")->valuedouble, 120);
	snprintf(key_line, sizeof(key_line), "%s\n", jstr(j, "key"));
	cJSON_Delete(j);

	b = spawn(fx, "pw-b-secret", key_line, claim_args);
	assert_int_equal(finish(b), 0);
	assert_int_equal(finish(a), 0);

	j = json_event(a, "card", &n);
	assert_non_null(j);
	assert_int_equal(n, 1);
	assert_string_equal(jstr(j, "from"), "B");
	assert_int_equal(strlen(jstr(j, "exchange")), 32);
	card = cJSON_GetObjectItemCaseSensitive(j, "card");
	assert_true(cJSON_IsArray(card));
	assert_non_null(strstr(a->obuf, "Grace Hopper"));
	cJSON_Delete(j);
	j = json_event(b, "card", &n);
	assert_non_null(j);
	assert_int_equal(n, 1);
	assert_string_equal(jstr(j, "from"), "A");
	assert_non_null(strstr(b->obuf, "Ada Lovelace"));
	cJSON_Delete(j);
	j = json_event(a, "match", &n);
	assert_int_equal(n, 1);
	assert_string_equal(jstr(j, "peer"), "B");
	cJSON_Delete(j);
	j = json_event(b, "sent", &n);
	assert_int_equal(n, 1);
	assert_string_equal(jstr(j, "to"), "A");
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
	struct proc *a, *b;
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
	next_line(a, line, sizeof(line));
	assert_string_equal(line, "Terminal ID: A");
	next_line(a, line, sizeof(line));
	assert_int_equal(strncmp(line, "Instant key: ", 13), 0);
	/* Shown grouped ("123 456 789"); the claim takes it as typed. */
	snprintf(key, sizeof(key), "%.40s", line + 13);
	assert_int_equal(strlen(key), 11);
	assert_int_equal(key[3], ' ');
	next_line(a, line, sizeof(line));
	assert_string_equal(line, "Expires in: 120 s");

	claim_args[2] = key;
	b = spawn(fx, NULL, NULL, claim_args);
	if(finish(b) != 0) {
		fail_msg("claim exit %d, stderr: %s", b->status, b->ebuf);
	}
	assert_int_equal(finish(a), 0);
	assert_non_null(strstr(a->obuf, "Card received from B"));
	assert_non_null(strstr(a->obuf, "Grace Hopper"));
	assert_non_null(strstr(a->obuf, "US Navy, Bureau of Ordnance"));
	assert_non_null(strstr(a->obuf, "grace@example.net"));
	assert_non_null(strstr(b->obuf, "Card received from A"));
	assert_non_null(strstr(b->obuf, "Ada Lovelace"));
	assert_non_null(strstr(b->obuf, "+44-20-7946-0001"));
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
	struct proc *p;
	size_t i;

	assert_int_equal(run(fx, NULL, NULL, help, &p), 0);
	assert_non_null(strstr(p->obuf, "Usage:"));
	assert_non_null(strstr(p->obuf, "Exit status:"));
	assert_int_equal(p->elen, 0);
	proc_free(p);
	fx->procs[0] = NULL;
	assert_int_equal(run(fx, NULL, NULL, claim_help, &p), 0);
	assert_non_null(strstr(p->obuf, "Usage:"));
	proc_free(p);
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
		proc_free(p);
		fx->procs[0] = NULL;
	}
}

static void test_wrong_password(void **state)
{
	struct fx *fx = *state;
	const char *args[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "20", NULL};
	struct proc *p;
	cJSON *j;

	assert_int_equal(run(fx, "wrong-password", NULL, args, &p), 3);
	j = json_event(p, "error", NULL);
	assert_non_null(j);
	assert_string_equal(jstr(j, "code"), "auth");
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
	struct proc *p;

	snprintf(port, sizeof(port), "%d", cxb_free_port());
	assert_int_equal(run(fx, "pw-a-secret", NULL, args, &p), 3);
	assert_non_null(strstr(p->ebuf, "cannot connect"));
}

static void test_claim_no_match(void **state)
{
	struct fx *fx = *state;
	const char *args[] = {"claim", "A", "--json", "--key-stdin", "--host", "127.0.0.1", "--port", fx->port,
		"--id", "B", "--card", fx->card_grace, "--timeout", "20", NULL};
	struct proc *p;
	cJSON *j;

	assert_int_equal(run(fx, "pw-b-secret", "000 000\n", args, &p), 1);
	j = json_event(p, "error", NULL);
	assert_non_null(j);
	assert_string_equal(jstr(j, "code"), "no-match");
	assert_true(strlen(jstr(j, "message")) > 0);
	cJSON_Delete(j);
}

static void test_timeout(void **state)
{
	struct fx *fx = *state;
	const char *args[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_ada, "--timeout", "1", NULL};
	long long t0 = cxb_now_ms();
	struct proc *p;
	cJSON *j;

	assert_int_equal(run(fx, "pw-a-secret", NULL, args, &p), 4);
	assert_true(cxb_now_ms() - t0 < 10000);
	j = json_event(p, "offer", NULL);
	assert_non_null(j);
	cJSON_Delete(j);
	j = json_event(p, "error", NULL);
	assert_non_null(j);
	assert_string_equal(jstr(j, "code"), "timeout");
	cJSON_Delete(j);
}

static void test_card_errors(void **state)
{
	struct fx *fx = *state;
	const char *missing[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", "/nonexistent/card.json", NULL};
	const char *bad[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--card", fx->card_bad, NULL};
	struct proc *p;

	assert_int_equal(run(fx, "pw-a-secret", NULL, missing, &p), 5);
	assert_non_null(strstr(p->ebuf, "card file"));
	proc_free(p);
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
