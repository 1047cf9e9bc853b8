/*
 * Test harness: a private redis-server on a free 127.0.0.1 port, in a
 * temporary directory, for the tests of store redis. Started as
 * `redis-server --save '' --port <free> --bind 127.0.0.1` (with an
 * append-only file when asked for persistence) and stopped by PID. The path
 * comes from REDIS_SERVER (set by ctest), else redis-server on the PATH.
 */
#ifndef CX_TEST_REDIS_SERVER_H
#define CX_TEST_REDIS_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct {
	pid_t pid;
	int port;
	bool persist;    /* appendonly yes, fsync always */
	char dir[256];   /* working directory: log, append-only file */
	char log[320];
} rsv_server;

/*
 * Starts a server (persist: with an append-only file in its directory) and
 * waits, at most 10 s, until it answers PING. Returns 0, or -1 with its log
 * printed to stderr and everything cleaned up.
 */
int rsv_start(rsv_server *r, bool persist);

/* Stops it with SIGTERM (SIGKILL after 5 s) and reaps it; the directory stays for rsv_restart. */
void rsv_halt(rsv_server *r);

/* Starts a halted server again on the same port and directory. 0 or -1. */
int rsv_restart(rsv_server *r);

/* rsv_halt, then removes the directory. Accepts a stopped server. */
void rsv_stop(rsv_server *r);

/* Sends sig (SIGSTOP, SIGCONT) to the server. */
void rsv_signal(const rsv_server *r, int sig);

/*
 * Runs one command (arguments as for redisCommand's format) and returns
 * its integer reply, the length of a string or array reply, or -1 on
 * error. For checks of what Redis holds.
 */
long long rsv_command(const rsv_server *r, const char *fmt, ...);

/*
 * True when some key of the server, or some value of a string, hash or
 * list key, contains needle (a check that a secret never reached Redis).
 */
bool rsv_holds(const rsv_server *r, const char *needle);

#endif
