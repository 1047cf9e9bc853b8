/*
 * Starts and stops a private Mosquitto for integration tests. See broker.h.
 *
 * The broker runs from a generated config in a fresh temporary directory,
 * listens on 127.0.0.1 only, and writes its log (stderr) into that
 * directory. Passwords are written in clear to the file and hashed in place
 * with `mosquitto_passwd -U`, so that no password ever appears on argv.
 */
#include "broker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#define PORT_TRIES 3

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

static pid_t spawn_broker(const cxb_broker *b)
{
	const char *exe = getenv("MOSQUITTO");
	pid_t pid;

	if (exe == NULL || *exe == '\0')
		exe = "/usr/sbin/mosquitto";
	pid = fork();
	if (pid != 0)
		return pid;
	{
		int null = open("/dev/null", O_RDONLY);
		int log = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (null >= 0)
			dup2(null, STDIN_FILENO);
		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		execl(exe, "mosquitto", "-c", b->conf, (char *)NULL);
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

/* One attempt on one port: 0 when up, 1 when the port was taken, -1 on failure. */
static int start_once(cxb_broker *b)
{
	long long deadline = cxb_now_ms() + START_TIMEOUT_MS;
	int status;

	unlink(b->log);
	b->pid = spawn_broker(b);
	if (b->pid < 0)
		return -1;
	while (cxb_now_ms() < deadline) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			return cxb_log_contains(b, "Address already in use") ? 1 : -1;
		}
		if (port_open(b->port))
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
	cxb_stop(b);
	return -1;
}

bool cxb_alive(cxb_broker *b)
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

void cxb_stop(cxb_broker *b)
{
	long long deadline = cxb_now_ms() + STOP_TIMEOUT_MS;
	int status;

	if (b->pid > 0) {
		bool reaped = false;

		kill(b->pid, SIGTERM);
		while (!reaped && cxb_now_ms() < deadline) {
			reaped = waitpid(b->pid, &status, WNOHANG) == b->pid;
			if (!reaped)
				sleep_ms(10);
		}
		/* Only an unreaped child can be signalled: its PID cannot be reused yet. */
		if (!reaped) {
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
		}
		b->pid = 0;
	}
	if (getenv("CARDEX_KEEP_BROKER_DIR") == NULL)
		remove_dir(b->dir);
	b->dir[0] = '\0';
}

char *cxb_log_read(const cxb_broker *b)
{
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	FILE *f;

	f = fopen(b->log, "r");
	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap += 65536;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

bool cxb_log_contains(const cxb_broker *b, const char *needle)
{
	char *log = cxb_log_read(b);
	bool found = log != NULL && strstr(log, needle) != NULL;

	free(log);
	return found;
}
