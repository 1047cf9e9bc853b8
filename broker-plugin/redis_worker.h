/*
 * The Redis side of store redis: a worker thread that runs the scripts of
 * lua/ one job at a time over a hiredis connection, and a listener thread
 * subscribed to this broker's channel. Neither makes a Mosquitto call: the
 * broker's thread submits jobs, takes them back done (store_redis.c) and is
 * woken by a signal when some are, so that results need not wait for the
 * next idle tick of the broker's loop (up to 100 ms).
 *
 * Jobs wait in a bounded queue. One that cannot be run (no connection, too
 * long in the queue, a timeout, an error from Redis) comes back failed and
 * is answered "unavailable" by the caller; a script is applied by Redis
 * whole or not at all, so a failed job changed nothing, or changed
 * everything and only its answer was lost.
 */
#ifndef CX_REDIS_WORKER_H
#define CX_REDIS_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"

typedef enum {
	CX_RS_OFFER = 0,
	CX_RS_CLAIM,
	CX_RS_CARD,
	CX_RS_HERE,
	CX_RS_GONE,
	CX_RS_REFRESH,
	CX_RS_POP,
	CX_RS_SWEEP,
	CX_RS_SECRET,
	CX_RS_STASH,
	CX_RS__COUNT,
	/*
	 * Not a script: a reply another broker's script sent on this broker's
	 * channel, argv[0] the terminal, argv[1] the payload. It passes
	 * through the worker's queue, unsent, so that it keeps its place
	 * behind the inbox hand-overs queued before it.
	 */
	CX_RS_DELIVER = CX_RS__COUNT
} cx_rscript;

#define CX_RJOB_ARGS_MAX 24

/* One script call. Built by the caller, owned by the worker once submitted. */
typedef struct cx_rjob {
	struct cx_rjob *next;
	cx_rscript script;
	int argc;                       /* the script's own arguments, ARGV[5] on */
	char *argv[CX_RJOB_ARGS_MAX];   /* malloc'ed; wiped when the job is freed */
	size_t argvlen[CX_RJOB_ARGS_MAX];
	char **extra;                   /* refresh: more terminal IDs (malloc'ed array of malloc'ed) */
	size_t nextra;
	/* Who is answered, and how, when the job fails ("" when nobody). */
	char sender[CX_ID_MAX + 1];
	char ref[CX_REF_MAX + 1];
	char xid[CX_XID_HEX + 1];
	char *topic;                    /* malloc'ed topic of the request, or NULL */
	int64_t queued_ms;
	/* Set by the worker. */
	bool failed;
	void *reply;                    /* the redisReply, freed with the job */
} cx_rjob;

/* What the worker needs to reach Redis; strings are copied. */
typedef struct {
	const char *host;       /* NULL: 127.0.0.1 */
	int port;
	const char *socket;     /* NULL: host and port */
	const char *password;   /* NULL: no AUTH; copied and wiped at cx_rworker_free */
	const char *prefix;     /* key prefix, the hash tag included ("cardex:{cx}:") */
	const char *broker_id;
	uint32_t timeout_ms;
	uint32_t queue_max;
	uint32_t inbox_max;
	uint32_t inbox_ttl_s;
	pid_t wake_tid;         /* the broker's thread (its kernel thread ID) */
	int wake_signal;        /* sent to it when jobs are done; 0: none */
} cx_rworker_config;

typedef struct cx_rworker cx_rworker;

/* Counters and state, for the broker's log and the benchmark. */
typedef struct {
	bool up;                /* the worker's connection works */
	bool listening;         /* the listener is subscribed */
	uint64_t downs;         /* times the connection was lost or could not be made */
	uint64_t listens;       /* times the listener subscribed (a new one asks for a refresh) */
	uint64_t round_trips;   /* round trips to Redis: pipelines of one or more commands */
	uint64_t commands;      /* script calls sent */
	uint64_t jobs_failed;
	uint64_t queue_full;
	char last_error[128];   /* never holds a password or key */
} cx_rworker_stats;

/*
 * Creates the worker and starts its two threads (with every signal
 * blocked). Returns NULL when memory or threads cannot be had; a Redis that
 * cannot be reached is no failure (jobs fail until it can).
 */
cx_rworker *cx_rworker_new(const cx_rworker_config *cfg);

/*
 * For a clean stop: the listener leaves this broker's channel, and what
 * Redis published on it before it left becomes jobs, which the broker
 * takes with the others (cx_rworker_take_done). Returns once the listener
 * has ended, within about timeout_ms plus a poll.
 */
void cx_rworker_unlisten(cx_rworker *w);

/* Stops the threads (within about timeout_ms), frees done and queued jobs and wipes the password. Accepts NULL. */
void cx_rworker_free(cx_rworker *w);

/* A new zeroed job for script, queued_ms set; NULL when memory runs out. */
cx_rjob *cx_rjob_new(cx_rscript script);
/* Appends a copy of len bytes of s as the next argument. -1: memory, or too many. */
int cx_rjob_arg(cx_rjob *j, const char *s, size_t len);
int cx_rjob_argstr(cx_rjob *j, const char *s);
int cx_rjob_argu(cx_rjob *j, uint64_t v);
/* Wipes and frees j, its reply too. Accepts NULL. */
void cx_rjob_free(cx_rjob *j);

/*
 * Queues j. Returns 0 (the worker owns j), or -1 when the queue is full or
 * the worker stops (the caller still owns j).
 */
int cx_rworker_submit(cx_rworker *w, cx_rjob *j);

/*
 * As cx_rworker_submit, from a broker callback run before the TICK of the
 * same pass of the broker's loop (MESSAGE, ACL check, DISCONNECT): until
 * that TICK takes the done jobs, the broker is awake and will take them, so
 * jobs done meanwhile wake nobody.
 */
int cx_rworker_submit_awake(cx_rworker *w, cx_rjob *j);

/*
 * Waits, at most max_ms, until every queued job has been run (for a clean
 * stop: the requests were acknowledged to their senders). Cannot fail.
 */
void cx_rworker_drain(cx_rworker *w, int64_t max_ms);

/* Takes every done job, oldest first, as a list linked by next; NULL when none. */
cx_rjob *cx_rworker_take_done(cx_rworker *w);

/* Copies the shared MAC secret (two SipHash keys) into out; false until it was read from Redis. */
bool cx_rworker_secret(cx_rworker *w, unsigned char out[32]);

void cx_rworker_get_stats(cx_rworker *w, cx_rworker_stats *out);

#endif
