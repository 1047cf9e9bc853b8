/*
 * cardex-web-run: runs a command (the Node tests of web/, or a browser test)
 * against a private Mosquitto started by the integration harness (broker.c)
 * with the built plugin, a plain MQTT listener and beside it a websockets
 * listener that also serves a directory over HTTP (http_dir), as the page is
 * served in the demo. The command finds the broker in its environment:
 *
 *   CARDEX_WS_URL      ws://127.0.0.1:<port>/mqtt (the websockets listener)
 *   CARDEX_HTTP_URL    http://127.0.0.1:<port>/ (the same listener's pages)
 *   CARDEX_HOST, CARDEX_PORT   the plain listener (what the cardex CLI uses)
 *   CARDEX_TEST_PASSWORD       the password of every account, a fresh random one
 *   CARDEX_TEST_ACCOUNTS       the accounts, comma-separated
 *   CARDEX_BROKER_LOG          the broker's log file
 *   CARDEX_HTTP_DIR            the --http-dir, when given (a test may fill it)
 *
 * Usage: cardex-web-run [--http-dir DIR] [--accounts a,b,c] [--opt LINE]...
 *                       [--timeout S] -- COMMAND [ARG...]
 *
 * The command runs with a bounded time (default 240 s; then it is killed by
 * its PID, with its process group). Its exit status is ours, or 1 when the
 * broker, instrumented, reported memory errors (broker.h), or when it died.
 * Exit 2 for a usage error, 3 when the broker does not start.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

#define MAX_ACCOUNTS 32
#define MAX_OPTS 16

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static int usage(const char *why)
{
	fprintf(stderr, "cardex-web-run: %s\n"
			"usage: cardex-web-run [--http-dir DIR] [--accounts a,b,c] [--opt LINE]... "
			"[--timeout S] -- COMMAND [ARG...]\n", why);
	return 2;
}

/* A random password of 32 lowercase hex digits into out[33]; -1 when no randomness. */
static int random_password(char out[33])
{
	unsigned char raw[16];
	static const char hex[] = "0123456789abcdef";

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	out[32] = '\0';
	return 0;
}

/* Runs argv with a deadline; returns its exit status, 128+signal, or 124 when killed for overstaying. */
static int run_bounded(char *const argv[], int timeout_s)
{
	long long deadline = cxb_now_ms() + (long long)timeout_s * 1000;
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		perror("cardex-web-run: fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0); /* its own group, so that a kill reaches what it started */
		execvp(argv[0], argv);
		fprintf(stderr, "cardex-web-run: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("cardex-web-run: waitpid");
			return 1;
		}
		if (cxb_now_ms() > deadline) {
			fprintf(stderr, "cardex-web-run: %s overstayed %d s: killed\n", argv[0], timeout_s);
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 124;
		}
		sleep_ms(50);
	}
	/* Whatever the command left running in its group goes with it. */
	kill(-pid, SIGKILL);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int main(int argc, char **argv)
{
	const char *http_dir = NULL;
	char accounts_arg[1024] = "ada,grace,alan,edsger,barbara,mallory,ken,dennis,linus,margaret,radia,frances";
	char *opts[MAX_OPTS];
	size_t nopts = 0;
	int timeout_s = 240;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc)
			return usage("an option lacks its value");
		if (strcmp(argv[i], "--http-dir") == 0) {
			http_dir = argv[++i];
		} else if (strcmp(argv[i], "--accounts") == 0) {
			if (strlen(argv[i + 1]) >= sizeof(accounts_arg))
				return usage("--accounts is too long");
			snprintf(accounts_arg, sizeof(accounts_arg), "%s", argv[++i]);
		} else if (strcmp(argv[i], "--opt") == 0) {
			if (nopts == MAX_OPTS)
				return usage("too many --opt");
			opts[nopts++] = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0) {
			timeout_s = atoi(argv[++i]);
			if (timeout_s < 1 || timeout_s > 3600)
				return usage("--timeout must be 1 to 3600 seconds");
		} else {
			return usage("unknown option");
		}
	}
	if (i >= argc)
		return usage("no command after --");

	char password[33];
	if (random_password(password) != 0) {
		fprintf(stderr, "cardex-web-run: no randomness for the test password\n");
		return 3;
	}
	cxb_account accounts[MAX_ACCOUNTS];
	size_t naccounts = 0;
	char ids[sizeof(accounts_arg)];
	snprintf(ids, sizeof(ids), "%s", accounts_arg);
	for (char *save = NULL, *id = strtok_r(ids, ",", &save); id != NULL; id = strtok_r(NULL, ",", &save)) {
		if (naccounts == MAX_ACCOUNTS)
			return usage("too many accounts");
		accounts[naccounts++] = (cxb_account){.id = id, .password = password};
	}

	int ws_port = cxb_free_port();
	if (ws_port < 0) {
		fprintf(stderr, "cardex-web-run: no free port\n");
		return 3;
	}
	char extra[4096];
	int n = snprintf(extra, sizeof(extra),
			"listener %d 127.0.0.1\n"
			"protocol websockets\n"
			"socket_domain ipv4\n"
			/* Browsers send more than the default 1024 bytes of headers. */
			"websockets_headers_size 4096\n"
			"%s%s%s",
			ws_port, http_dir ? "http_dir " : "", http_dir ? http_dir : "", http_dir ? "\n" : "");
	char plugin_opts[2048] = "";
	size_t used = 0;
	for (size_t k = 0; k < nopts; k++) {
		int m = snprintf(plugin_opts + used, sizeof(plugin_opts) - used, "%s\n", opts[k]);
		if (m < 0 || (size_t)m >= sizeof(plugin_opts) - used)
			return usage("--opt lines are too long");
		used += (size_t)m;
	}
	if (n < 0 || (size_t)n >= sizeof(extra))
		return usage("--http-dir is too long");

	cxb_config cfg = {.plugin = true, .plugin_opts = plugin_opts, .extra_conf = extra,
		.accounts = accounts, .naccounts = naccounts};
	cxb_broker b;
	if (cxb_start(&b, &cfg) != 0) {
		fprintf(stderr, "cardex-web-run: the broker did not start\n");
		return 3;
	}
	/* The websockets listener opens after the plain one, which cxb_start waited for. */
	long long until = cxb_now_ms() + 10000;
	char line[64];
	snprintf(line, sizeof(line), "port %d", ws_port);
	while (!cxb_log_contains(&b, line) && cxb_now_ms() < until)
		sleep_ms(20);

	char url[128], http[128], port[16];
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/mqtt", ws_port);
	snprintf(http, sizeof(http), "http://127.0.0.1:%d/", ws_port);
	snprintf(port, sizeof(port), "%d", b.port);
	setenv("CARDEX_WS_URL", url, 1);
	setenv("CARDEX_HTTP_URL", http, 1);
	setenv("CARDEX_HOST", "127.0.0.1", 1);
	setenv("CARDEX_PORT", port, 1);
	setenv("CARDEX_TEST_PASSWORD", password, 1);
	setenv("CARDEX_TEST_ACCOUNTS", accounts_arg, 1);
	setenv("CARDEX_BROKER_LOG", b.log, 1);
	if (http_dir)
		setenv("CARDEX_HTTP_DIR", http_dir, 1);

	int rc = run_bounded(argv + i, timeout_s);
	if (!cxb_alive(&b)) {
		fprintf(stderr, "cardex-web-run: the broker died during the run\n");
		if (rc == 0)
			rc = 1;
	}
	if (rc != 0 && getenv("CARDEX_WEB_RUN_LOG")) {
		char *log = cxb_log_read(&b);
		if (log)
			fprintf(stderr, "---- mosquitto log ----\n%s---- end ----\n", log);
		free(log);
	}
	if (cxb_stop_check(&b) != 0 && rc == 0)
		rc = 1;
	/* The test accounts' password: gone with the broker, wiped all the same. */
	for (volatile char *p = password; *p != '\0'; p++)
		*p = '\0';
	return rc;
}
