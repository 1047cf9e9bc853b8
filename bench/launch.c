/*
 * Private Mosquitto brokers for cardex-bench (launch.h).
 *
 * Both brokers of a run get the same settings apart from the plugin lines,
 * so that connection handling, logging and socket options are equal: no
 * persistence, no $SYS publishing, TCP_NODELAY on client sockets (Nagle
 * plus delayed ACKs would otherwise add tens of milliseconds to some small
 * replies), no debug logging (Mosquitto logs every packet at that level).
 */
#include "launch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "bench.h"
#include "crypto.h"
#include "stats.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
#define PORT_TRIES 3
#define FILE_MAX (16 * 1024 * 1024)

/* Monotonic milliseconds. */
static int64_t now_ms(void)
{
	return bench__now_ns() / 1000000;
}

/* Sleeps about ms; a signal cuts it short, which the callers' loops tolerate. */
static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A port on 127.0.0.1 that was free a moment ago, or -1. */
int bench__free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

/* Writes len bytes of text to a new file of the given mode. Returns 0 or -1. */
static int write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	size_t off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

/* Reads a whole file (at most FILE_MAX bytes) into a malloc'ed string, or NULL. */
static char *read_file(const char *path, size_t *lenp)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (buf == NULL || fd < 0)
		goto fail;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *nb = cap < FILE_MAX ? realloc(buf, cap * 2) : NULL;

			if (nb == NULL)
				goto fail;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* Removes dir and the plain files in it; a missing dir or "" is fine. */
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

/* A fresh private directory under $TMPDIR (or /tmp) into dir[cap]; 0 or -1. */
static int make_dir(char *dir, size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, cap, "%s/cardex-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	return 0;
}

/* Runs argv with its output discarded; returns its exit status, or -1. */
static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid, got;

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
	/* Bounded by the child, which only hashes a file; a signal must not orphan it. */
	do {
		got = waitpid(pid, &status, 0);
	} while (got < 0 && errno == EINTR);
	if (got != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

char *bench__password_file(const char *mosquitto_passwd, const char *const *ids, size_t n,
		const char *password)
{
	char dir[256], path[320];
	char *clear = NULL, *hashed = NULL;
	size_t cap = 1, len = 0, plen = strlen(password);
	char *argv[] = {(char *)mosquitto_passwd, "-U", path, NULL};

	if (make_dir(dir, sizeof(dir)) != 0) {
		fprintf(stderr, "cardex-bench: cannot create a temporary directory: %s\n",
				strerror(errno));
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/passwords", dir);
	for (size_t i = 0; i < n; i++)
		cap += strlen(ids[i]) + plen + 2;
	clear = malloc(cap);
	if (clear == NULL)
		goto cleanup;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(clear + len, cap - len, "%s:%s\n", ids[i], password);
	if (write_file(path, clear, len, 0600) != 0) {
		fprintf(stderr, "cardex-bench: cannot write %s: %s\n", path, strerror(errno));
		goto cleanup;
	}
	if (run_quiet(argv) != 0) {
		fprintf(stderr, "cardex-bench: %s -U failed\n", mosquitto_passwd);
		goto cleanup;
	}
	hashed = read_file(path, NULL);
	if (hashed == NULL)
		fprintf(stderr, "cardex-bench: cannot read back %s\n", path);

cleanup:
	if (clear != NULL)
		cx_wipe(clear, cap);
	free(clear);
	remove_dir(dir);
	return hashed;
}

/* Writes b->conf for b->port. Returns 0, or -1 when it does not fit or cannot be written. */
static int write_config(bench__broker *b, const bench__broker_cfg *cfg)
{
	char conf[4096];
	int n;

	/*
	 * A root-run broker drops to the mosquitto user before it opens the
	 * password file and plugin, which it cannot read in our 0700 directory.
	 * claim_failures_per_min is raised only so that no limit can interfere;
	 * a correct run never fails a claim.
	 */
	n = snprintf(conf, sizeof(conf),
			"# cardex-bench: generated for one run, removed when it ends\n"
			"%s"
			"per_listener_settings false\n"
			"allow_anonymous false\n"
			"password_file %s\n"
			"persistence false\n"
			"log_dest stderr\n"
			"log_type error\n"
			"log_type warning\n"
			"log_type notice\n"
			"log_type information\n"
			"log_timestamp true\n"
			"sys_interval 0\n"
			"set_tcp_nodelay true\n"
			"max_queued_messages 10000\n"
			"%s%s%s%s"
			"listener %d 127.0.0.1\n",
			geteuid() == 0 ? "user root\n" : "", b->pwfile,
			cfg->plugin ? "plugin " : "", cfg->plugin ? cfg->plugin : "",
			cfg->plugin ? "\nplugin_opt_claim_failures_per_min 10000\n" : "",
			cfg->plugin && cfg->plugin_opts ? cfg->plugin_opts : "", b->port);
	if (n < 0 || (size_t)n >= sizeof(conf))
		return -1;
	return write_file(b->conf, conf, (size_t)n, 0600);
}

/* Forks and execs the broker with its log as stdout/stderr. Returns its PID, or -1. */
static pid_t spawn(const bench__broker *b, const bench__broker_cfg *cfg)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		int null = open("/dev/null", O_RDONLY);
		int log = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Own process group: a terminal's Ctrl-C reaches the bench, which stops us in order. */
		setpgid(0, 0);
		/* Should the bench die without cleaning up, the broker goes too. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		/* Before exec: the broker's first instruction already runs on its processor. */
		if (cfg->pin && bench__pin(0, cfg->cpu) != 0) {
			dprintf(STDERR_FILENO, "cardex-bench: cannot pin the broker to processor %d: %s\n",
					cfg->cpu, strerror(errno));
			_exit(127);
		}
		execl(cfg->mosquitto, "mosquitto", "-c", b->conf, (char *)NULL);
		_exit(127);
	}
}

/* True when the broker's log holds needle. */
static bool log_contains(const bench__broker *b, const char *needle)
{
	char *log = read_file(b->log, NULL);
	bool found = log != NULL && strstr(log, needle) != NULL;

	free(log);
	return found;
}

void bench__broker_dump_log(const bench__broker *b)
{
	char *log = read_file(b->log, NULL);

	fprintf(stderr, "---- mosquitto log (%s) ----\n%s---- end of log ----\n", b->log,
			log ? log : "(unreadable)\n");
	free(log);
}

/* One attempt on one port: 0 when up, 1 when the port was taken, -1 on failure. */
static int start_once(bench__broker *b, const bench__broker_cfg *cfg)
{
	int64_t deadline = now_ms() + START_TIMEOUT_MS;
	int status;

	unlink(b->log);
	b->pid = spawn(b, cfg);
	if (b->pid < 0) {
		b->pid = 0;
		return -1;
	}
	while (now_ms() < deadline && !bench__stop) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			return log_contains(b, "Address already in use") ? 1 : -1;
		}
		if (port_open(b->port))
			return 0;
		sleep_ms(20);
	}
	return -1;
}

int bench__broker_start(bench__broker *b, const bench__broker_cfg *cfg)
{
	int rc = -1;

	memset(b, 0, sizeof(*b));
	if (make_dir(b->dir, sizeof(b->dir)) != 0) {
		fprintf(stderr, "cardex-bench: cannot create a temporary directory: %s\n",
				strerror(errno));
		return -1;
	}
	snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/mosquitto.log", b->dir);
	snprintf(b->pwfile, sizeof(b->pwfile), "%s/passwords", b->dir);
	if (write_file(b->pwfile, cfg->pwfile_text, strlen(cfg->pwfile_text), 0600) != 0)
		goto fail;
	for (int tries = 0; tries < PORT_TRIES; tries++) {
		b->port = bench__free_port();
		if (b->port <= 0 || write_config(b, cfg) != 0)
			goto fail;
		rc = start_once(b, cfg);
		if (rc != 1)
			break;
	}
	if (rc == 0)
		return 0;
fail:
	if (!bench__stop) {
		fprintf(stderr, "cardex-bench: cannot start %s%s\n", cfg->mosquitto,
				cfg->plugin ? " with the cardex plugin" : "");
		if (access(b->log, R_OK) == 0)
			bench__broker_dump_log(b);
	}
	bench__broker_stop(b);
	return -1;
}

bool bench__broker_alive(bench__broker *b)
{
	int status;

	if (b->pid <= 0)
		return false;
	if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
		b->pid = 0;
		return false;
	}
	return true;
}

void bench__broker_stop(bench__broker *b)
{
	int64_t deadline = now_ms() + STOP_TIMEOUT_MS;
	int status;

	if (b->pid > 0) {
		bool reaped = false;

		kill(b->pid, SIGTERM);
		while (!reaped && now_ms() < deadline) {
			reaped = waitpid(b->pid, &status, WNOHANG) == b->pid;
			if (!reaped)
				sleep_ms(10);
		}
		/* Only an unreaped child can be signalled: its PID cannot be reused yet. */
		if (!reaped) {
			kill(b->pid, SIGKILL);
			while (waitpid(b->pid, &status, 0) < 0 && errno == EINTR) {
			}
		}
		b->pid = 0;
	}
	remove_dir(b->dir);
	b->dir[0] = '\0';
}

int bench__make_password(char out[2 * BENCH__PASSWORD_BYTES + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[BENCH__PASSWORD_BYTES];
	cx_rng *rng = cx_rng_new("cardex-bench-password");
	int rc = -1;

	if (rng != NULL && cx_rng_bytes(rng, raw, sizeof(raw)) == 0) {
		for (size_t i = 0; i < sizeof(raw); i++) {
			out[2 * i] = hex[raw[i] >> 4];
			out[2 * i + 1] = hex[raw[i] & 15];
		}
		out[2 * BENCH__PASSWORD_BYTES] = '\0';
		rc = 0;
	}
	cx_wipe(raw, sizeof(raw));
	cx_rng_free(rng);
	return rc;
}

char *bench__pairs_password_file(const char *mosquitto_passwd, size_t pairs, const char *password)
{
	size_t n = 2 * pairs;
	char (*names)[32] = calloc(n, sizeof(*names));
	const char **ids = calloc(n, sizeof(*ids));
	char *text = NULL;

	if (names == NULL || ids == NULL) {
		fprintf(stderr, "cardex-bench: out of memory\n");
		goto cleanup;
	}
	for (size_t i = 0; i < pairs; i++) {
		snprintf(names[2 * i], sizeof(names[0]), "bench-a-%zu", i);
		snprintf(names[2 * i + 1], sizeof(names[0]), "bench-b-%zu", i);
		ids[2 * i] = names[2 * i];
		ids[2 * i + 1] = names[2 * i + 1];
	}
	text = bench__password_file(mosquitto_passwd, ids, n, password);
cleanup:
	free(ids);
	free(names);
	return text;
}
