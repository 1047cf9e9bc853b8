/*
 * Starts and stops a private Mosquitto for integration tests. See broker.h.
 *
 * The broker runs from a generated config in a fresh temporary directory,
 * listens on 127.0.0.1 only, and writes its log (stderr) into that
 * directory. Passwords are written in clear to the file and hashed in place
 * with `mosquitto_passwd -U`, so that no password ever appears on argv.
 *
 * Instrumented runs (broker.h): the command line and environment of the
 * broker are built before fork(), since the test process may have threads
 * and the child may only call async-signal-safe functions until it execs.
 */
#include "broker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
/* Sanitizer runtimes and valgrind start slowly and check for leaks at exit. */
#define INSTRUMENTED_TIMEOUT_MS 60000
#define PORT_TRIES 3
#define MAX_WRAPPER_WORDS 32

extern char **environ;

/* LeakSanitizer's entry point when the test itself runs under ASan; NULL otherwise. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

/* Broker runs with a report, over the whole test process (see cxb_stop). */
static int reports_found;
static bool fail_at_exit_registered;

static int stop_broker(cxb_broker *b, bool check_exit);

bool cxb_instrumented(void)
{
	const char *preload = getenv("CARDEX_BROKER_PRELOAD");
	const char *wrapper = getenv("CARDEX_BROKER_WRAPPER");

	return (preload != NULL && *preload != '\0') || (wrapper != NULL && *wrapper != '\0');
}

long long cxb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

int cxb_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
			getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* True when something accepts TCP connections on 127.0.0.1:port. */
static bool port_open(int port)
{
	struct sockaddr_in sa;
	int fd, rc;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return false;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	if (fputs(text, f) >= 0)
		rc = 0;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Runs argv to completion with output discarded; returns its exit status or -1. */
static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int write_passwords(cxb_broker *b, const cxb_config *cfg)
{
	const char *passwd = getenv("MOSQUITTO_PASSWD");
	size_t i, cap = 64, len = 0;
	char *text;
	int rc = -1;

	for (i = 0; i < cfg->naccounts; i++)
		cap += strlen(cfg->accounts[i].id) + strlen(cfg->accounts[i].password) + 2;
	text = calloc(1, cap);
	if (text == NULL)
		return -1;
	for (i = 0; i < cfg->naccounts; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s:%s\n", cfg->accounts[i].id,
				cfg->accounts[i].password);
	if (write_file(b->pwfile, text, 0644) != 0)
		goto cleanup;
	if (cfg->naccounts > 0) {
		char *argv[] = {(char *)(passwd ? passwd : "/usr/bin/mosquitto_passwd"), "-U", b->pwfile,
			NULL};

		if (run_quiet(argv) != 0) {
			fprintf(stderr, "broker harness: mosquitto_passwd -U failed\n");
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	memset(text, 0, cap);
	free(text);
	return rc;
}

static int write_config(cxb_broker *b, const cxb_config *cfg)
{
	const char *plugin = getenv("CARDEX_PLUGIN");
	char *conf;
	size_t cap;
	int n, rc;

	if (cfg->plugin && (plugin == NULL || *plugin == '\0')) {
		fprintf(stderr, "broker harness: CARDEX_PLUGIN is not set\n");
		return -1;
	}
	cap = 4096 + (cfg->plugin_opts ? strlen(cfg->plugin_opts) : 0) +
		(cfg->extra_conf ? strlen(cfg->extra_conf) : 0);
	conf = malloc(cap);
	if (conf == NULL)
		return -1;
	/* A root-run broker drops to the mosquitto user before it opens the
	 * password file and plugin, which it cannot read in our 0700 directory. */
	n = snprintf(conf, cap,
			"%s"
			"per_listener_settings false\n"
			"allow_anonymous false\n"
			"password_file %s\n"
			"persistence false\n"
			"log_dest stderr\n"
			"log_type all\n"
			"log_timestamp true\n"
			"max_queued_messages 10000\n"
			/* Replies follow a PUBACK; with Nagle they wait ~40 ms for the client's ACK. */
			"set_tcp_nodelay true\n"
			"%s%s%s"
			"%s"
			"listener %d 127.0.0.1\n",
			geteuid() == 0 ? "user root\n" : "", b->pwfile,
			cfg->plugin ? "plugin " : "", cfg->plugin ? plugin : "", cfg->plugin ? "\n" : "",
			cfg->plugin && cfg->plugin_opts ? cfg->plugin_opts : "", b->port);
	if (n < 0 || (size_t)n >= cap) {
		free(conf);
		return -1;
	}
	if (cfg->extra_conf)
		snprintf(conf + n, cap - (size_t)n, "%s", cfg->extra_conf);
	rc = write_file(b->conf, conf, 0600);
	free(conf);
	return rc;
}

/* The broker's command line and environment, built before fork(). */
struct launch {
	char path[PATH_MAX];                   /* what execve runs */
	char *argv[MAX_WRAPPER_WORDS + 4];
	char *words[MAX_WRAPPER_WORDS];        /* malloc'ed wrapper words */
	size_t nwords;
	char **envp;                           /* malloc'ed array, NULL: environ as it is */
	char *env_added[3];                    /* malloc'ed "NAME=value" strings in envp */
};

static void launch_free(struct launch *l)
{
	for (size_t i = 0; i < l->nwords; i++)
		free(l->words[i]);
	for (size_t i = 0; i < sizeof(l->env_added) / sizeof(l->env_added[0]); i++)
		free(l->env_added[i]);
	free(l->envp);
	memset(l, 0, sizeof(*l));
}

/* Finds name on PATH (or takes it as a path when it has a '/'); 0 or -1. */
static int resolve_exe(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH");
	const char *p, *end;

	if (strchr(name, '/') != NULL) {
		snprintf(out, cap, "%s", name);
		return 0;
	}
	for (p = path != NULL ? path : "/usr/bin:/bin"; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchr(p, ':');
		if (end == NULL)
			end = p + strlen(p);
		if ((size_t)snprintf(out, cap, "%.*s/%s", (int)(end - p), p, name) < cap &&
				access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* A malloc'ed copy of word with every "@DIR@" replaced by dir, or NULL. */
static char *subst_dir(const char *word, size_t len, const char *dir)
{
	size_t cap = len + 1, n = 0;
	char *out;

	for (size_t i = 0; i + 5 <= len; i++)
		if (memcmp(word + i, "@DIR@", 5) == 0)
			cap += strlen(dir);
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; ) {
		if (i + 5 <= len && memcmp(word + i, "@DIR@", 5) == 0) {
			memcpy(out + n, dir, strlen(dir));
			n += strlen(dir);
			i += 5;
		} else {
			out[n++] = word[i++];
		}
	}
	out[n] = '\0';
	return out;
}

/* "NAME=<old value>:<tail>" (or "NAME=<tail>"), malloc'ed, or NULL. */
static char *env_append(const char *name, const char *tail)
{
	const char *old = getenv(name);
	size_t cap = strlen(name) + (old ? strlen(old) : 0) + strlen(tail) + 3;
	char *s = malloc(cap);

	if (s != NULL)
		snprintf(s, cap, "%s=%s%s%s", name, old && *old ? old : "", old && *old ? ":" : "", tail);
	return s;
}

/* environ without LD_PRELOAD, ASAN_OPTIONS and UBSAN_OPTIONS, plus l->env_added. */
static int build_env(struct launch *l, const cxb_broker *b, const char *preload)
{
	char tail[320];
	size_t n = 0, k = 0;

	while (environ[n] != NULL)
		n++;
	l->envp = calloc(n + 4, sizeof(*l->envp));
	if (l->envp == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
				strncmp(environ[i], "ASAN_OPTIONS=", 13) != 0 &&
				strncmp(environ[i], "UBSAN_OPTIONS=", 14) != 0)
			l->envp[k++] = environ[i];
	l->env_added[0] = malloc(strlen(preload) + 12);
	if (l->env_added[0] == NULL)
		return -1;
	snprintf(l->env_added[0], strlen(preload) + 12, "LD_PRELOAD=%s", preload);
	snprintf(tail, sizeof(tail), "log_path=%s/asan", b->dir);
	l->env_added[1] = env_append("ASAN_OPTIONS", tail);
	snprintf(tail, sizeof(tail), "log_path=%s/ubsan", b->dir);
	l->env_added[2] = env_append("UBSAN_OPTIONS", tail);
	if (l->env_added[1] == NULL || l->env_added[2] == NULL)
		return -1;
	for (size_t i = 0; i < 3; i++)
		l->envp[k++] = l->env_added[i];
	l->envp[k] = NULL;
	return 0;
}

/* Fills l from MOSQUITTO, CARDEX_BROKER_WRAPPER and CARDEX_BROKER_PRELOAD; 0 or -1 (printed). */
static int launch_build(struct launch *l, const cxb_broker *b)
{
	const char *exe = getenv("MOSQUITTO");
	const char *wrapper = getenv("CARDEX_BROKER_WRAPPER");
	const char *preload = getenv("CARDEX_BROKER_PRELOAD");
	size_t argc = 0;

	memset(l, 0, sizeof(*l));
	if (exe == NULL || *exe == '\0')
		exe = "/usr/sbin/mosquitto";
	for (const char *p = wrapper; p != NULL && *p != '\0'; ) {
		size_t len = strcspn(p, " \t");

		if (len > 0) {
			if (l->nwords == MAX_WRAPPER_WORDS) {
				fprintf(stderr, "broker harness: CARDEX_BROKER_WRAPPER has too many words\n");
				return -1;
			}
			l->words[l->nwords] = subst_dir(p, len, b->dir);
			if (l->words[l->nwords] == NULL)
				return -1;
			l->argv[argc++] = l->words[l->nwords++];
		}
		p += len;
		p += strspn(p, " \t");
	}
	if (argc > 0) {
		if (resolve_exe(l->argv[0], l->path, sizeof(l->path)) != 0) {
			fprintf(stderr, "broker harness: wrapper %s not found on PATH\n", l->argv[0]);
			return -1;
		}
		l->argv[argc++] = (char *)exe;
	} else {
		snprintf(l->path, sizeof(l->path), "%s", exe);
		l->argv[argc++] = "mosquitto";
	}
	l->argv[argc++] = "-c";
	l->argv[argc++] = (char *)b->conf;
	l->argv[argc] = NULL;
	if (preload != NULL && *preload != '\0')
		return build_env(l, b, preload);
	return 0;
}

static pid_t spawn_broker(const cxb_broker *b)
{
	struct launch l;
	pid_t pid;

	if (launch_build(&l, b) != 0) {
		launch_free(&l);
		return -1;
	}
	pid = fork();
	if (pid != 0) {
		launch_free(&l);
		return pid;
	}
	{
		int null = open("/dev/null", O_RDONLY);
		int log = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		execve(l.path, l.argv, l.envp != NULL ? l.envp : environ);
		_exit(127);
	}
}

static void remove_dir(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	if (dir[0] == '\0')
		return;
	d = opendir(dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void dump_log(const cxb_broker *b)
{
	char *log = cxb_log_read(b);

	fprintf(stderr, "---- mosquitto log (%s) ----\n%s---- end of log ----\n", b->log,
			log ? log : "(unreadable)\n");
	free(log);
}

/*
 * True when the broker logged "mosquitto version X running": every listener
 * is open and its signal handlers are in place. A SIGTERM before that kills
 * it without its exit-time checks (or, in Mosquitto 2.0.11, is lost).
 */
static bool log_says_running(const cxb_broker *b)
{
	char *log = cxb_log_read(b);
	bool running = false;

	for (const char *p = log ? strstr(log, "mosquitto version ") : NULL; p != NULL && !running;
			p = strstr(p + 1, "mosquitto version ")) {
		const char *eol = strchr(p, '\n');

		running = eol != NULL && eol - p > 8 && memcmp(eol - 8, " running", 8) == 0;
	}
	free(log);
	return running;
}

/* One attempt on one port: 0 when up, 1 when the port was taken, -1 on failure. */
static int start_once(cxb_broker *b)
{
	long long deadline = cxb_now_ms() +
		(cxb_instrumented() ? INSTRUMENTED_TIMEOUT_MS : START_TIMEOUT_MS);
	int status;

	unlink(b->log);
	b->exit_status = -1;
	b->pid = spawn_broker(b);
	if (b->pid < 0) {
		b->pid = 0;
		return -1;
	}
	while (cxb_now_ms() < deadline) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			b->exit_status = status;
			return cxb_log_contains(b, "Address already in use") ? 1 : -1;
		}
		/* Instrumented, other listeners (TLS) may still be starting, slowly: wait for all. */
		if (port_open(b->port) && (!cxb_instrumented() || log_says_running(b)))
			return 0;
		sleep_ms(20);
	}
	return -1;
}

int cxb_start(cxb_broker *b, const cxb_config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	int tries, rc = -1;

	memset(b, 0, sizeof(*b));
	b->exit_status = -1;
	snprintf(b->dir, sizeof(b->dir), "%s/cardex-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(b->dir) == NULL) {
		b->dir[0] = '\0';
		return -1;
	}
	snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/mosquitto.log", b->dir);
	snprintf(b->pwfile, sizeof(b->pwfile), "%s/passwords", b->dir);
	if (write_passwords(b, cfg) != 0)
		goto fail;
	for (tries = 0; tries < PORT_TRIES; tries++) {
		b->port = cxb_free_port();
		if (b->port <= 0 || write_config(b, cfg) != 0)
			goto fail;
		rc = start_once(b);
		if (rc != 1)
			break;
	}
	if (rc == 0)
		return 0;
fail:
	if (b->dir[0] != '\0' && access(b->log, R_OK) == 0)
		dump_log(b);
	/* A broker that failed to start exits non-zero by design: only its report files count. */
	stop_broker(b, false);
	return -1;
}

int cxb_restart(cxb_broker *b)
{
	if (b->pid > 0 || b->dir[0] == '\0')
		return -1;
	/* b->killed stays: the killed process's valgrind log, cut short, is still there. */
	if (start_once(b) == 0)
		return 0;
	if (access(b->log, R_OK) == 0)
		dump_log(b);
	return -1;
}

bool cxb_alive(cxb_broker *b)
{
	int status;

	if (b->pid <= 0)
		return false;
	if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
		b->pid = 0;
		b->exit_status = status;
		return false;
	}
	return true;
}

/* Prints a report with its text (when path is not NULL). */
static void print_report(const char *what, const char *path)
{
	FILE *f = path != NULL ? fopen(path, "r") : NULL;
	char buf[4096];
	size_t n;

	fprintf(stderr, "broker harness: REPORT: %s%s%s\n", what, path ? " " : "", path ? path : "");
	if (f != NULL) {
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, stderr);
		fclose(f);
		fprintf(stderr, "broker harness: end of %s\n", path);
	}
}

/*
 * True when the valgrind log at path says "ERROR SUMMARY: 0 errors" (or
 * cannot be read). A broker that was killed wrote no summary: its log is
 * clean when it shows no error, whose report always has a stack ("at 0x").
 */
static bool valgrind_clean(const char *path, bool killed)
{
	FILE *f = fopen(path, "r");
	char line[512];
	bool clean = false, summary = false, stack = false;

	if (f == NULL)
		return true;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "ERROR SUMMARY: ") != NULL) {
			summary = true;
			clean = strstr(line, "ERROR SUMMARY: 0 errors") != NULL;
		}
		stack = stack || strstr(line, "   at 0x") != NULL;
	}
	fclose(f);
	return summary ? clean : killed && !stack;
}

/* Counts and prints the sanitizer and valgrind reports in b->dir. */
static int scan_reports(const cxb_broker *b)
{
	char path[512];
	struct dirent *de;
	int found = 0;
	DIR *d;

	if (b->dir[0] == '\0' || (d = opendir(b->dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", b->dir, de->d_name);
		if (strncmp(de->d_name, "asan.", 5) == 0 || strncmp(de->d_name, "ubsan.", 6) == 0) {
			print_report("sanitizer report in", path);
			found++;
		} else if (strncmp(de->d_name, "valgrind.", 9) == 0 && !valgrind_clean(path, b->killed)) {
			print_report("valgrind found errors, see", path);
			found++;
		}
	}
	closedir(d);
	return found;
}

static void fail_at_exit(void)
{
	if (reports_found == 0)
		return;
	fprintf(stderr, "broker harness: %d broker run(s) had reports (lines \"broker harness: REPORT\" "
			"above); exiting with status 1\n", reports_found);
	fflush(NULL);
	/* _exit skips the test's own leak check, which would run after this handler: run it now. */
	if (__lsan_do_leak_check != NULL)
		__lsan_do_leak_check();
	_exit(1);
}

/*
 * Stops the broker and, when it ran instrumented, looks for reports; with
 * check_exit, an exit other than status 0 is one too. Returns the number of
 * reports; removes the directory (unless CARDEX_KEEP_BROKER_DIR is set).
 */
static int stop_broker(cxb_broker *b, bool check_exit)
{
	bool instrumented = cxb_instrumented();
	long long deadline = cxb_now_ms() + (instrumented ? INSTRUMENTED_TIMEOUT_MS : STOP_TIMEOUT_MS);
	bool killed = false;
	int status = 0, found = 0;

	if (b->pid > 0) {
		long long sent = cxb_now_ms();
		bool reaped = false;

		kill(b->pid, SIGTERM);
		while (!reaped && cxb_now_ms() < deadline) {
			reaped = waitpid(b->pid, &status, WNOHANG) == b->pid;
			if (reaped)
				break;
			sleep_ms(10);
			/*
			 * Mosquitto 2.0.11 sets its run flag after installing its
			 * SIGTERM handler, so a SIGTERM that arrives just after start
			 * is lost (the slower the broker starts, the likelier): repeat.
			 */
			if (cxb_now_ms() - sent >= 1000) {
				kill(b->pid, SIGTERM);
				sent = cxb_now_ms();
			}
		}
		/* Only an unreaped child can be signalled: its PID cannot be reused yet. */
		if (!reaped) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			killed = true;
		}
		b->exit_status = status;
		b->pid = 0;
	}
	if (instrumented) {
		found = scan_reports(b);
		if (killed) {
			print_report("broker did not exit after SIGTERM; its exit-time checks did not run", NULL);
			found++;
		} else if (check_exit && b->exit_status != -1 &&
				!(WIFEXITED(b->exit_status) && WEXITSTATUS(b->exit_status) == 0)) {
			char what[96];

			snprintf(what, sizeof(what), "broker ended with %s %d", WIFSIGNALED(b->exit_status) ?
					"signal" : "exit status", WIFSIGNALED(b->exit_status) ?
					WTERMSIG(b->exit_status) : WEXITSTATUS(b->exit_status));
			print_report(what, NULL);
			found++;
		}
		if (found > 0) {
			reports_found += found;
			if (!fail_at_exit_registered)
				fail_at_exit_registered = atexit(fail_at_exit) == 0;
		}
	}
	if (getenv("CARDEX_KEEP_BROKER_DIR") == NULL)
		remove_dir(b->dir);
	b->dir[0] = '\0';
	return found;
}

void cxb_stop(cxb_broker *b)
{
	stop_broker(b, true);
}

void cxb_kill(cxb_broker *b)
{
	int status;

	if (b->pid <= 0)
		return;
	/* Only an unreaped child can be signalled: its PID cannot be reused yet. */
	kill(b->pid, SIGKILL);
	waitpid(b->pid, &status, 0);
	b->pid = 0;
	/* Killed on purpose: cxb_stop does not count its exit as a report. */
	b->exit_status = -1;
	b->killed = true;
}

int cxb_stop_check(cxb_broker *b)
{
	return stop_broker(b, true) == 0 ? 0 : -1;
}

long cxb_rss_kb(const cxb_broker *b)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (b->pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)b->pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

char *cxb_read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, used = 0, n;
	FILE *f;

	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	do {
		if (cap - used < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + used, 1, cap - used - 1, f);
		used += n;
	} while (n > 0);
	fclose(f);
	buf[used] = '\0';
	if (len != NULL)
		*len = used;
	return buf;
}

char *cxb_log_read(const cxb_broker *b)
{
	return cxb_read_file(b->log, NULL);
}

char *cxb_start_refused(const cxb_config *cfg)
{
	bool keep = getenv("CARDEX_KEEP_BROKER_DIR") != NULL;
	cxb_broker b;
	char *log;
	int rc;

	/* cxb_start cleans up after a failed start: keep the directory to read the log. */
	setenv("CARDEX_KEEP_BROKER_DIR", "1", 1);
	rc = cxb_start(&b, cfg);
	if (!keep)
		unsetenv("CARDEX_KEEP_BROKER_DIR");
	if (rc == 0) {
		fprintf(stderr, "broker started with plugin options:\n%s", cfg->plugin_opts ? cfg->plugin_opts : "");
		cxb_stop(&b);
		return NULL;
	}
	log = cxb_log_read(&b);
	/* The failed start cleared b.dir; the log names the directory it kept. */
	if (!keep && strrchr(b.log, '/') != NULL) {
		char dir[sizeof(b.log)];

		snprintf(dir, sizeof(dir), "%s", b.log);
		*strrchr(dir, '/') = '\0';
		remove_dir(dir);
	}
	return log;
}

bool cxb_refused_with(const cxb_config *cfg, const char *needle)
{
	char *log = cxb_start_refused(cfg);
	bool found = log != NULL && strstr(log, needle) != NULL;

	if (!found)
		fprintf(stderr, "log lacks \"%s\":\n%s\n", needle, log != NULL ? log : "(none)");
	free(log);
	return found;
}

bool cxb_log_contains(const cxb_broker *b, const char *needle)
{
	char *log = cxb_log_read(b);
	bool found = log != NULL && strstr(log, needle) != NULL;

	free(log);
	return found;
}

const char *cxb_dynsec_plugin(void)
{
	static const char *const paths[] = {
		"/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/i386-linux-gnu/mosquitto_dynamic_security.so",
		"/usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so",
		"/usr/lib/mosquitto_dynamic_security.so",
		"/usr/local/lib/mosquitto_dynamic_security.so",
	};
	const char *env = getenv("MOSQUITTO_DYNSEC_PLUGIN");

	if(env != NULL && *env != '\0'){
		return access(env, R_OK) == 0 ? env : NULL;
	}
	for(size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++){
		if(access(paths[i], R_OK) == 0){
			return paths[i];
		}
	}
	return NULL;
}
