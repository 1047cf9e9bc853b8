/* A private redis-server for tests (redis_server.h). */
#include "redis_server.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "broker.h"

#define START_MS 10000
#define STOP_MS 5000

static void nap_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static redisContext *open_ctx(const rsv_server *r)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);

	if (c == NULL || c->err) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

static bool pings(const rsv_server *r)
{
	redisContext *c = open_ctx(r);
	redisReply *rep;
	bool ok;

	if (c == NULL)
		return false;
	rep = redisCommand(c, "PING");
	ok = rep != NULL && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(c);
	return ok;
}

static void dump_log(const rsv_server *r)
{
	char *text = cxb_read_file(r->log, NULL);

	fprintf(stderr, "redis harness: log of redis-server on port %d:\n%s\n", r->port, text ? text : "(none)");
	free(text);
}

static pid_t spawn(const rsv_server *r)
{
	const char *exe = getenv("REDIS_SERVER");
	char port[16];
	pid_t pid;

	if (exe == NULL || *exe == '\0')
		exe = "redis-server";
	snprintf(port, sizeof(port), "%d", r->port);
	pid = fork();
	if (pid != 0)
		return pid;
	if (chdir(r->dir) != 0)
		_exit(127);
	execlp(exe, exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--dir", r->dir, "--logfile", r->log,
			"--daemonize", "no", "--protected-mode", "yes", "--appendonly", r->persist ? "yes" : "no",
			"--appendfsync", "always", (char *)NULL);
	_exit(127);
}

/* 0 when it answers, 1 when it exited (port taken?), -1 on timeout. */
static int wait_up(rsv_server *r)
{
	long long deadline = cxb_now_ms() + START_MS;
	int status;

	while (cxb_now_ms() < deadline) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			return 1;
		}
		if (pings(r))
			return 0;
		nap_ms(20);
	}
	return -1;
}

int rsv_start(rsv_server *r, bool persist)
{
	const char *tmp = getenv("TMPDIR");

	memset(r, 0, sizeof(*r));
	r->persist = persist;
	snprintf(r->dir, sizeof(r->dir), "%s/cardex-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(r->dir) == NULL) {
		r->dir[0] = '\0';
		return -1;
	}
	snprintf(r->log, sizeof(r->log), "%s/redis.log", r->dir);
	for (int tries = 0; tries < 5; tries++) {
		r->port = cxb_free_port();
		if (r->port <= 0)
			break;
		r->pid = spawn(r);
		if (r->pid < 0) {
			r->pid = 0;
			break;
		}
		int rc = wait_up(r);
		if (rc == 0)
			return 0;
		if (rc < 0)
			break;
	}
	dump_log(r);
	rsv_stop(r);
	return -1;
}

void rsv_halt(rsv_server *r)
{
	long long deadline = cxb_now_ms() + STOP_MS;
	int status;

	if (r->pid <= 0)
		return;
	kill(r->pid, SIGCONT);
	kill(r->pid, SIGTERM);
	while (cxb_now_ms() < deadline) {
		if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
			r->pid = 0;
			return;
		}
		nap_ms(10);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &status, 0);
	r->pid = 0;
}

int rsv_restart(rsv_server *r)
{
	if (r->pid > 0 || r->dir[0] == '\0')
		return -1;
	r->pid = spawn(r);
	if (r->pid < 0) {
		r->pid = 0;
		return -1;
	}
	if (wait_up(r) == 0)
		return 0;
	dump_log(r);
	return -1;
}

void rsv_stop(rsv_server *r)
{
	char cmd[300];

	rsv_halt(r);
	if (r->dir[0] != '\0' && getenv("CARDEX_KEEP_BROKER_DIR") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "redis harness: cannot remove %s\n", r->dir);
	}
	r->dir[0] = '\0';
}

void rsv_signal(const rsv_server *r, int sig)
{
	if (r->pid > 0)
		kill(r->pid, sig);
}

long long rsv_command(const rsv_server *r, const char *fmt, ...)
{
	redisContext *c = open_ctx(r);
	redisReply *rep;
	long long v = -1;
	va_list ap;

	if (c == NULL)
		return -1;
	va_start(ap, fmt);
	rep = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (rep != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER)
			v = rep->integer;
		else if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
			v = (long long)rep->len;
		else if (rep->type == REDIS_REPLY_ARRAY)
			v = (long long)rep->elements;
		else if (rep->type == REDIS_REPLY_NIL)
			v = 0;
		freeReplyObject(rep);
	}
	redisFree(c);
	return v;
}

/* True when some string in rep (recursively) contains needle. */
static bool reply_holds(const redisReply *rep, const char *needle)
{
	if (rep == NULL)
		return false;
	if (rep->type == REDIS_REPLY_STRING || rep->type == REDIS_REPLY_STATUS)
		return rep->str != NULL && strstr(rep->str, needle) != NULL;
	if (rep->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < rep->elements; i++)
			if (reply_holds(rep->element[i], needle))
				return true;
	}
	return false;
}

bool rsv_holds(const rsv_server *r, const char *needle)
{
	redisContext *c = open_ctx(r);
	redisReply *keys, *v;
	bool found = false;

	if (c == NULL)
		return false;
	keys = redisCommand(c, "KEYS *");
	for (size_t i = 0; keys != NULL && keys->type == REDIS_REPLY_ARRAY && i < keys->elements && !found; i++) {
		const char *k = keys->element[i]->str;
		v = redisCommand(c, "TYPE %s", k);
		const char *type = v != NULL && v->type == REDIS_REPLY_STATUS ? v->str : "";
		redisReply *val = NULL;
		if (strstr(k, needle) != NULL)
			found = true;
		else if (strcmp(type, "string") == 0)
			val = redisCommand(c, "GET %s", k);
		else if (strcmp(type, "hash") == 0)
			val = redisCommand(c, "HGETALL %s", k);
		else if (strcmp(type, "list") == 0)
			val = redisCommand(c, "LRANGE %s 0 -1", k);
		else if (strcmp(type, "zset") == 0)
			val = redisCommand(c, "ZRANGE %s 0 -1", k);
		found = found || reply_holds(val, needle);
		if (val != NULL)
			freeReplyObject(val);
		if (v != NULL)
			freeReplyObject(v);
	}
	if (keys != NULL)
		freeReplyObject(keys);
	redisFree(c);
	return found;
}
