/*
 * The soak's private Mosquitto: generated config and password file in a
 * fresh temporary directory, the cardex plugin, one listener on a free
 * 127.0.0.1 port, log in that directory. Started with fork/exec and ended by
 * its PID on every exit path; the child also asks the kernel for SIGKILL
 * when the driver dies, so that not even a killed driver leaves it behind.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "soak.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

volatile pid_t soak_broker_pid;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while(nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* A port on 127.0.0.1 that was free a moment ago, or -1. */
static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0) {
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0
			&& getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
		port = ntohs(sa.sin_port);
	}
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in sa;
	int fd, rc;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0) {
		return false;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return rc == 0;
}

/* Runs argv with its output discarded; returns its exit status, or -1. */
static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if(pid < 0) {
		return -1;
	}
	if(pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if(null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if(waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Passwords go into the file in clear and are hashed in place, never through argv. */
static int write_passwords(soak_broker *b, const soak_opts *o, char *const *ids, char *const *pws,
		size_t n)
{
	char *argv[] = {(char *)o->passwd, "-U", b->pwfile, NULL};
	FILE *f;
	size_t i;
	int fd, rc = 0;

	fd = open(b->pwfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0) {
		return -1;
	}
	f = fdopen(fd, "w");
	if(!f) {
		close(fd);
		return -1;
	}
	for(i = 0; i < n && rc == 0; i++) {
		if(fprintf(f, "%s:%s\n", ids[i], pws[i]) < 0) {
			rc = -1;
		}
	}
	if(fclose(f) != 0 || rc != 0) {
		return -1;
	}
	if(run_quiet(argv) != 0) {
		fprintf(stderr, "cardex-soak: %s -U failed\n", o->passwd);
		return -1;
	}
	return 0;
}

static int write_config(soak_broker *b, const soak_opts *o)
{
	FILE *f = fopen(b->conf, "w");
	int rc;

	if(!f) {
		return -1;
	}
	char persist[400];

	/* Several brokers: sessions survive the restart of one, as in production. */
	if(b->extra[0]) {
		snprintf(persist, sizeof(persist), "persistence true\npersistence_location %s/\n", b->dir);
	} else {
		snprintf(persist, sizeof(persist), "persistence false\n");
	}
	/*
	 * A root-run broker drops to the mosquitto user, which cannot read our
	 * 0700 directory: stay root in this test-only config. Information-level
	 * logging keeps one line per connect and disconnect, not per message.
	 */
	rc = fprintf(f,
			"%s"
			"per_listener_settings false\n"
			"allow_anonymous false\n"
			"password_file %s\n"
			"%s"
			"log_dest stderr\n"
			"log_type error\n"
			"log_type warning\n"
			"log_type notice\n"
			"log_type information\n"
			"log_timestamp true\n"
			"max_queued_messages 1000\n"
			"max_inflight_messages 20\n"
			"plugin %s\n"
			"plugin_opt_exchange_ttl %u\n"
			"plugin_opt_key_ttl_max 600\n"
			"%s"
			"listener %d 127.0.0.1\n",
			geteuid() == 0 ? "user root\n" : "", b->pwfile, persist, o->plugin, o->exchange_ttl, b->extra, b->port);
	if(fclose(f) != 0 || rc < 0) {
		return -1;
	}
	return 0;
}

static pid_t spawn(const soak_broker *b, const soak_opts *o)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if(pid != 0) {
		return pid;
	}
	{
		int null = open("/dev/null", O_RDONLY);
		int log = open(b->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* Die with the driver, even when it is killed outright. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if(getppid() != parent) {
			_exit(126);
		}
		if(null >= 0) {
			dup2(null, STDIN_FILENO);
		}
		if(log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		execl(o->mosquitto, "mosquitto", "-c", b->conf, (char *)NULL);
		_exit(127);
	}
}

static void remove_dir(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	if(!dir[0]) {
		return;
	}
	d = opendir(dir);
	if(d) {
		while((de = readdir(d)) != NULL) {
			if(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* One start on one port: 0 up, 1 port taken meanwhile, -1 failed. */
static int start_once(soak_broker *b, const soak_opts *o)
{
	long long deadline = now_ms() + START_TIMEOUT_MS;
	int status;

	unlink(b->log);
	b->pid = spawn(b, o);
	if(b->pid < 0) {
		b->pid = 0;
		return -1;
	}
	soak_broker_pid = b->pid;
	while(now_ms() < deadline) {
		if(waitpid(b->pid, &status, WNOHANG) == b->pid) {
			char buf[4096];
			FILE *f = fopen(b->log, "r");
			size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

			if(f) {
				fclose(f);
			}
			buf[n] = '\0';
			b->pid = 0;
			soak_broker_pid = 0;
			return strstr(buf, "Address already in use") ? 1 : -1;
		}
		if(port_open(b->port)) {
			return 0;
		}
		sleep_ms(20);
	}
	return -1;
}

int soak_broker_start(soak_broker *b, const soak_opts *o, char *const *ids, char *const *pws,
		size_t n)
{
	const char *tmp = getenv("TMPDIR");
	char extra[sizeof(b->extra)];
	int tries, rc = -1;

	/* The caller's extra lines survive the reset. */
	memcpy(extra, b->extra, sizeof(extra));
	memset(b, 0, sizeof(*b));
	memcpy(b->extra, extra, sizeof(extra));
	snprintf(b->dir, sizeof(b->dir), "%s/cardex-soak-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if(!mkdtemp(b->dir)) {
		b->dir[0] = '\0';
		fprintf(stderr, "cardex-soak: cannot create a temporary directory: %s\n", strerror(errno));
		return -1;
	}
	snprintf(b->conf, sizeof(b->conf), "%s/mosquitto.conf", b->dir);
	snprintf(b->log, sizeof(b->log), "%s/mosquitto.log", b->dir);
	snprintf(b->pwfile, sizeof(b->pwfile), "%s/passwords", b->dir);
	if(write_passwords(b, o, ids, pws, n) != 0) {
		goto fail;
	}
	for(tries = 0; tries < 3; tries++) {
		b->port = free_port();
		if(b->port <= 0 || write_config(b, o) != 0) {
			goto fail;
		}
		rc = start_once(b, o);
		if(rc != 1) {
			break;
		}
	}
	if(rc == 0) {
		return 0;
	}
	fprintf(stderr, "cardex-soak: mosquitto did not start\n");
	soak_broker_tail(b, 4096);
fail:
	soak_broker_stop(b, false);
	return -1;
}

bool soak_broker_alive(soak_broker *b)
{
	int status;

	if(b->pid <= 0) {
		return false;
	}
	if(waitpid(b->pid, &status, WNOHANG) == b->pid) {
		b->pid = 0;
		soak_broker_pid = 0;
		return false;
	}
	return true;
}

/*
 * SIGTERM, up to STOP_TIMEOUT_MS for the broker to end, then SIGKILL; reaps
 * it. Only an unreaped child is signalled: its PID cannot have been reused.
 */
static void end_broker(soak_broker *b)
{
	long long deadline = now_ms() + STOP_TIMEOUT_MS;
	int status;
	bool reaped = false;

	kill(b->pid, SIGTERM);
	while(!reaped && now_ms() < deadline) {
		reaped = waitpid(b->pid, &status, WNOHANG) == b->pid;
		if(!reaped) {
			sleep_ms(10);
		}
	}
	if(!reaped) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, &status, 0);
	}
	b->pid = 0;
}

void soak_broker_stop(soak_broker *b, bool keep)
{
	if(b->pid > 0) {
		end_broker(b);
		soak_broker_pid = 0;
	}
	if(keep && b->dir[0]) {
		fprintf(stderr, "cardex-soak: broker directory kept: %s\n", b->dir);
	} else {
		remove_dir(b->dir);
	}
	b->dir[0] = '\0';
}

int soak_broker_restart(soak_broker *b, const soak_opts *o)
{
	if(b->pid <= 0) {
		return -1;
	}
	end_broker(b);
	return start_once(b, o) == 0 ? 0 : -1;
}

void soak_broker_tail(const soak_broker *b, size_t max)
{
	char *buf;
	FILE *f;
	long size;
	size_t n;

	f = fopen(b->log, "r");
	if(!f) {
		return;
	}
	if(fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0) {
		fseek(f, size > (long)max ? size - (long)max : 0, SEEK_SET);
	}
	buf = malloc(max + 1);
	if(buf) {
		n = fread(buf, 1, max, f);
		buf[n] = '\0';
		fprintf(stderr, "---- mosquitto log (%s), last %zu bytes ----\n%s---- end of log ----\n",
				b->log, n, buf);
		free(buf);
	}
	fclose(f);
}
