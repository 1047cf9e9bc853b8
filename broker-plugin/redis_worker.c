/*
 * The worker and listener threads of store redis (redis_worker.h).
 *
 * The worker runs jobs in the order they were queued, over one synchronous
 * hiredis connection with a timeout on every read and write. A script is
 * called by its SHA1 (EVALSHA); when Redis does not know it (NOSCRIPT: a
 * restarted or flushed Redis), its text is sent once (EVAL) and Redis keeps
 * it again. A lost connection fails the job under way and every job queued
 * behind it at once, rather than letting each wait for its own timeout, and
 * is tried again 250 ms later, then at doubling intervals up to 2 s.
 *
 * The listener holds a second connection subscribed to this broker's
 * channel; each word on it (a terminal ID) becomes a "pop" job.
 *
 * Both threads only touch the shared state under the mutex, and wake the
 * broker's thread with a signal when done jobs wait for it; they keep
 * signalling every 2 ms until the broker has taken them, since a signal
 * that lands just before the broker's loop starts to wait wakes nothing.
 * Every wake-up costs the broker a pass of its loop, and the whole process
 * two switches of thread, much more than the job's own work when idle, so
 * none is sent while the broker is known to be awake: between a request it
 * submitted from a callback and the TICK that ends that pass of its loop.
 * The signal goes out after the mutex is released, or the broker would
 * wake only to wait for it.
 */
#define _GNU_SOURCE /* syscall */
#include "redis_worker.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "crypto.h"
#include "redis_scripts.h"

#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 2000
#define RESIGNAL_MS 2
#define IDLE_WAIT_MS 100
#define LISTEN_POLL_MS 200
#define BATCH_MAX 64 /* jobs written before their answers are read: one round trip */

static const char *const script_text[CX_RS__COUNT] = {
	[CX_RS_OFFER] = cx_lua_offer,
	[CX_RS_CLAIM] = cx_lua_claim,
	[CX_RS_CARD] = cx_lua_card,
	[CX_RS_HERE] = cx_lua_here,
	[CX_RS_GONE] = cx_lua_gone,
	[CX_RS_REFRESH] = cx_lua_refresh,
	[CX_RS_POP] = cx_lua_pop,
	[CX_RS_SWEEP] = cx_lua_sweep,
	[CX_RS_SECRET] = cx_lua_secret,
	[CX_RS_STASH] = cx_lua_stash,
};

struct cx_rworker {
	/* Copied configuration. */
	char *host, *socket, *password, *prefix, *broker_id, *channel, *anchor;
	int port;
	uint32_t timeout_ms, queue_max;
	char inbox_max[24], inbox_ttl_ms[24];
	pid_t wake_pid, wake_tid;
	int wake_signal;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool unlisten;                  /* the listener leaves the channel for good (a clean stop) */
	cx_rjob *head, *tail;           /* queued */
	size_t queued;
	cx_rjob *done_head, *done_tail; /* done, for the broker's thread */
	bool have_secret;
	unsigned char secret[32];
	cx_rworker_stats stats;
	bool signalled;                 /* a wake-up went out that the broker has not answered */
	bool awake;                     /* the broker submitted from a callback and has not ticked since */
	bool busy;                      /* the worker runs a batch taken off the queue */

	/* Worker thread only. */
	redisContext *c;
	int64_t next_try_ms;
	uint32_t retry_ms;
	char sha[CX_RS__COUNT][41];

	pthread_t worker, listener;
	bool worker_started, listener_started;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- jobs ---- */

/* Writes v in decimal at p; returns the end. */
static char *put_u(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0;

	do{
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	}while(v != 0);
	while(n > 0){
		*p++ = tmp[--n];
	}
	return p;
}

cx_rjob *cx_rjob_new(cx_rscript script)
{
	cx_rjob *j = calloc(1, sizeof(*j));

	if(j != NULL){
		j->script = script;
		j->queued_ms = mono_ms();
	}
	return j;
}

int cx_rjob_arg(cx_rjob *j, const char *s, size_t len)
{
	char *copy;

	if(j->argc >= CX_RJOB_ARGS_MAX){
		return -1;
	}
	copy = malloc(len + 1);
	if(copy == NULL){
		return -1;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	j->argv[j->argc] = copy;
	j->argvlen[j->argc] = len;
	j->argc++;
	return 0;
}

int cx_rjob_argstr(cx_rjob *j, const char *s)
{
	return cx_rjob_arg(j, s, strlen(s));
}

int cx_rjob_argu(cx_rjob *j, uint64_t v)
{
	char buf[24];

	return cx_rjob_arg(j, buf, (size_t)(put_u(buf, v) - buf));
}

void cx_rjob_free(cx_rjob *j)
{
	if(j == NULL){
		return;
	}
	for(int i = 0; i < j->argc; i++){
		cx_wipe(j->argv[i], j->argvlen[i]);
		free(j->argv[i]);
	}
	for(size_t i = 0; i < j->nextra; i++){
		free(j->extra[i]);
	}
	free(j->extra);
	free(j->topic);
	if(j->reply != NULL){
		freeReplyObject(j->reply);
	}
	cx_wipe(j, sizeof(*j));
	free(j);
}

static void free_list(cx_rjob *j)
{
	while(j != NULL){
		cx_rjob *next = j->next;
		cx_rjob_free(j);
		j = next;
	}
}

/* ---- shared state (mutex held) ---- */

static void set_error(cx_rworker *w, const char *what, const char *detail)
{
	snprintf(w->stats.last_error, sizeof(w->stats.last_error), "%s%s%s", what, detail ? ": " : "",
			detail ? detail : "");
}

static void push_done(cx_rworker *w, cx_rjob *j)
{
	j->next = NULL;
	if(j->failed){
		w->stats.jobs_failed++;
	}
	if(w->done_tail != NULL){
		w->done_tail->next = j;
	}else{
		w->done_head = j;
	}
	w->done_tail = j;
}

/*
 * Sends the wake-up signal, the mutex not held. tgkill rather than
 * pthread_kill, which blocks and restores every signal around it (two more
 * system calls): the broker's thread outlives this worker's threads.
 */
static void wake_broker(cx_rworker *w)
{
	if(w->wake_signal != 0){
		(void)syscall(SYS_tgkill, w->wake_pid, w->wake_tid, w->wake_signal);
	}
}

/* Fails every queued job (the connection is down). */
static void fail_queued(cx_rworker *w)
{
	while(w->head != NULL){
		cx_rjob *j = w->head;
		w->head = j->next;
		/* A reply from another broker needs no connection: it is delivered. */
		j->failed = j->script != CX_RS_DELIVER;
		push_done(w, j);
	}
	w->tail = NULL;
	w->queued = 0;
}

/* Queues j; force: even past queue_max; awake: see cx_rworker_submit_awake. 0, or -1 (full, stopping). */
static int submit(cx_rworker *w, cx_rjob *j, bool force, bool awake)
{
	int rc = -1;

	pthread_mutex_lock(&w->mu);
	if(!w->stop && (force || w->queued < w->queue_max)){
		w->awake = w->awake || awake;
		j->next = NULL;
		if(w->tail != NULL){
			w->tail->next = j;
		}else{
			w->head = j;
		}
		w->tail = j;
		w->queued++;
		rc = 0;
	}else{
		w->stats.queue_full++;
	}
	pthread_mutex_unlock(&w->mu);
	/* After the unlock: a worker woken under the lock would only wait for it. */
	if(rc == 0){
		pthread_cond_signal(&w->cv);
	}
	return rc;
}

int cx_rworker_submit(cx_rworker *w, cx_rjob *j)
{
	return submit(w, j, false, false);
}

int cx_rworker_submit_awake(cx_rworker *w, cx_rjob *j)
{
	return submit(w, j, false, true);
}

void cx_rworker_drain(cx_rworker *w, int64_t max_ms)
{
	int64_t deadline = mono_ms() + max_ms;

	pthread_mutex_lock(&w->mu);
	while((w->head != NULL || w->busy) && mono_ms() < deadline){
		struct timespec ts = {0, 5 * 1000000L};
		pthread_mutex_unlock(&w->mu);
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
}

cx_rjob *cx_rworker_take_done(cx_rworker *w)
{
	cx_rjob *j;

	pthread_mutex_lock(&w->mu);
	j = w->done_head;
	w->done_head = w->done_tail = NULL;
	w->signalled = false;
	w->awake = false;
	pthread_mutex_unlock(&w->mu);
	return j;
}

bool cx_rworker_secret(cx_rworker *w, unsigned char out[32])
{
	bool have;

	pthread_mutex_lock(&w->mu);
	have = w->have_secret;
	if(have){
		memcpy(out, w->secret, 32);
	}
	pthread_mutex_unlock(&w->mu);
	return have;
}

void cx_rworker_get_stats(cx_rworker *w, cx_rworker_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	pthread_mutex_unlock(&w->mu);
}

/* ---- connections (no mutex) ---- */

/*
 * A connected, authenticated context, or NULL with *why set to a static
 * reason or Redis's own error text (copied into why, never the password).
 */
static redisContext *redis_open(cx_rworker *w, char *why, size_t whycap)
{
	struct timeval tv = {.tv_sec = w->timeout_ms / 1000, .tv_usec = (w->timeout_ms % 1000) * 1000};
	redisContext *c;
	redisReply *r;

	c = w->socket != NULL ? redisConnectUnixWithTimeout(w->socket, tv) : redisConnectWithTimeout(w->host, w->port, tv);
	if(c == NULL || c->err){
		snprintf(why, whycap, "cannot connect: %.100s", c != NULL ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	if(redisSetTimeout(c, tv) != REDIS_OK){
		snprintf(why, whycap, "cannot set the timeout");
		redisFree(c);
		return NULL;
	}
	if(w->password != NULL){
		const char *argv[2] = {"AUTH", w->password};
		size_t lens[2] = {4, strlen(w->password)};
		r = redisCommandArgv(c, 2, argv, lens);
		if(r == NULL || r->type == REDIS_REPLY_ERROR){
			snprintf(why, whycap, "AUTH refused: %.100s", r != NULL ? r->str : c->errstr);
			if(r != NULL){
				freeReplyObject(r);
			}
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

static void drop_conn(cx_rworker *w, const char *why)
{
	if(w->c != NULL){
		redisFree(w->c);
		w->c = NULL;
	}
	w->next_try_ms = mono_ms() + w->retry_ms;
	w->retry_ms = w->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : w->retry_ms * 2;
	pthread_mutex_lock(&w->mu);
	if(w->stats.up || w->stats.downs == 0){
		w->stats.downs++;
	}
	w->stats.up = false;
	set_error(w, why, NULL);
	pthread_mutex_unlock(&w->mu);
}

/*
 * The command that calls script s (EVALSHA, or EVAL with its text) with the
 * common arguments and those of its own, in malloc'ed arrays *av and *al
 * (the strings are borrowed). Returns the argument count, or 0 (memory).
 */
static size_t build_call(cx_rworker *w, bool by_text, cx_rscript s, int argc, char *const *argv,
		const size_t *argvlen, char *const *extra, size_t nextra, const char ***av, size_t **al)
{
	size_t n = 8 + (size_t)argc + nextra;
	size_t k = 0;

	*av = malloc(n * sizeof(**av));
	*al = malloc(n * sizeof(**al));
	if(*av == NULL || *al == NULL){
		free(*av);
		free(*al);
		*av = NULL;
		*al = NULL;
		return 0;
	}
	(*av)[k++] = by_text ? "EVAL" : "EVALSHA";
	(*av)[k++] = by_text ? script_text[s] : w->sha[s];
	(*av)[k++] = "1";
	(*av)[k++] = w->anchor;
	(*av)[k++] = w->prefix;
	(*av)[k++] = w->broker_id;
	(*av)[k++] = w->inbox_max;
	(*av)[k++] = w->inbox_ttl_ms;
	for(size_t i = 0; i < k; i++){
		(*al)[i] = strlen((*av)[i]);
	}
	for(int i = 0; i < argc; i++){
		(*av)[k] = argv[i];
		(*al)[k++] = argvlen[i];
	}
	for(size_t i = 0; i < nextra; i++){
		(*av)[k] = extra[i];
		(*al)[k++] = strlen(extra[i]);
	}
	return k;
}

static void count_trip(cx_rworker *w, uint64_t commands)
{
	pthread_mutex_lock(&w->mu);
	w->stats.round_trips++;
	w->stats.commands += commands;
	pthread_mutex_unlock(&w->mu);
}

/* Calls script s by its text, alone. NULL: connection lost or memory. */
static redisReply *eval_text(cx_rworker *w, cx_rscript s, int argc, char *const *argv, const size_t *argvlen,
		char *const *extra, size_t nextra)
{
	const char **av;
	size_t *al;
	size_t k = build_call(w, true, s, argc, argv, argvlen, extra, nextra, &av, &al);
	redisReply *r;

	if(k == 0){
		return NULL;
	}
	count_trip(w, 1);
	r = redisCommandArgv(w->c, (int)k, av, al);
	free(av);
	free(al);
	return r;
}

/*
 * Appends a call of script s by its SHA1 to the connection's output. 0, or
 * -1 (memory). The command is put in Redis's protocol here, in one pass:
 * hiredis's own formatting (redisAppendCommandArgv) parses a format string
 * per argument and was more than half of this thread's instructions.
 */
static int append_call(cx_rworker *w, cx_rscript s, int argc, char *const *argv, const size_t *argvlen,
		char *const *extra, size_t nextra)
{
	const char **av;
	size_t *al;
	size_t k = build_call(w, false, s, argc, argv, argvlen, extra, nextra, &av, &al);
	size_t need = 1 + 20 + 2;
	char *buf, *p;
	int rc = -1;

	if(k == 0){
		return -1;
	}
	for(size_t i = 0; i < k; i++){
		need += 1 + 20 + 2 + al[i] + 2;
	}
	buf = malloc(need);
	if(buf != NULL){
		p = buf;
		*p++ = '*';
		p = put_u(p, k);
		*p++ = '\r';
		*p++ = '\n';
		for(size_t i = 0; i < k; i++){
			*p++ = '$';
			p = put_u(p, al[i]);
			*p++ = '\r';
			*p++ = '\n';
			memcpy(p, av[i], al[i]);
			p += al[i];
			*p++ = '\r';
			*p++ = '\n';
		}
		rc = redisAppendFormattedCommand(w->c, buf, (size_t)(p - buf)) == REDIS_OK ? 0 : -1;
		/* It held the arguments: MACs, cards. */
		cx_wipe(buf, (size_t)(p - buf));
		free(buf);
	}
	free(av);
	free(al);
	return rc;
}

/* Loads the scripts' SHA1s and the shared secret on a fresh connection. 0, or -1 with why set. */
static int prepare_conn(cx_rworker *w, char *why, size_t whycap)
{
	unsigned char fresh[32];
	char hex[65];
	char *argv[1] = {hex};
	size_t argvlen[1] = {64};
	cx_rng *rng;
	redisReply *r;
	int rc = -1;

	for(int s = 0; s < CX_RS__COUNT; s++){
		const char *av[3] = {"SCRIPT", "LOAD", script_text[s]};
		size_t al[3] = {6, 4, strlen(script_text[s])};
		r = redisCommandArgv(w->c, 3, av, al);
		if(r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40){
			snprintf(why, whycap, "SCRIPT LOAD failed: %.100s",
					r == NULL ? w->c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			if(r != NULL){
				freeReplyObject(r);
			}
			return -1;
		}
		memcpy(w->sha[s], r->str, 40);
		w->sha[s][40] = '\0';
		freeReplyObject(r);
	}
	rng = cx_rng_new("cardex-redis-secret");
	if(rng == NULL || cx_rng_bytes(rng, fresh, sizeof(fresh)) != 0){
		cx_rng_free(rng);
		snprintf(why, whycap, "no entropy for the shared secret");
		return -1;
	}
	cx_rng_free(rng);
	for(size_t i = 0; i < 32; i++){
		snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
	}
	count_trip(w, 1);
	r = append_call(w, CX_RS_SECRET, 1, argv, argvlen, NULL, 0) == 0
			&& redisGetReply(w->c, (void **)&r) == REDIS_OK ? r : NULL;
	if(r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0){
		freeReplyObject(r);
		r = eval_text(w, CX_RS_SECRET, 1, argv, argvlen, NULL, 0);
	}
	if(r == NULL || r->type != REDIS_REPLY_STRING || r->len != 64){
		snprintf(why, whycap, "cannot read the shared secret: %.100s",
				r == NULL ? w->c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "not 64 hex digits");
		goto cleanup;
	}
	for(size_t i = 0; i < 32; i++){
		unsigned v;
		if(sscanf(r->str + 2 * i, "%2x", &v) != 1){
			snprintf(why, whycap, "the shared secret is not hex");
			goto cleanup;
		}
		fresh[i] = (unsigned char)v;
	}
	pthread_mutex_lock(&w->mu);
	memcpy(w->secret, fresh, 32);
	w->have_secret = true;
	w->stats.up = true;
	w->stats.last_error[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	rc = 0;

cleanup:
	if(r != NULL){
		cx_wipe(r->str, r->len);
		freeReplyObject(r);
	}
	cx_wipe(fresh, sizeof(fresh));
	cx_wipe(hex, sizeof(hex));
	return rc;
}

/* Connects when down and due. 0 when connected. */
static int ensure_conn(cx_rworker *w)
{
	char why[160];

	if(w->c != NULL){
		return 0;
	}
	if(mono_ms() < w->next_try_ms){
		return -1;
	}
	w->c = redis_open(w, why, sizeof(why));
	if(w->c == NULL || prepare_conn(w, why, sizeof(why)) != 0){
		drop_conn(w, why);
		return -1;
	}
	w->retry_ms = RETRY_MIN_MS;
	return 0;
}

/* Takes Redis's answer r for job j: an array of actions, or j fails. */
static void take_reply(cx_rworker *w, cx_rjob *j, redisReply *r)
{
	if(r->type != REDIS_REPLY_ARRAY){
		pthread_mutex_lock(&w->mu);
		set_error(w, "script failed", r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		pthread_mutex_unlock(&w->mu);
		freeReplyObject(r);
		j->failed = true;
		return;
	}
	j->reply = r;
}

/*
 * Runs jobs[0..n) in one round trip: every call is written, then every
 * answer read, in order (Redis runs them in that order). A job queued
 * longer than the timeout fails unsent: its sender gave up waiting, and a
 * late answer would only confuse it. A NOSCRIPT answer (an operator ran
 * SCRIPT FLUSH) sends that script's text, at once. Sets each job's failed
 * or reply. Returns -1 when the connection was lost (the jobs not answered
 * fail).
 */
static int run_batch(cx_rworker *w, cx_rjob **jobs, size_t n)
{
	bool sent[BATCH_MAX] = {false};
	int64_t now = mono_ms();
	uint64_t nsent = 0;
	size_t i;

	for(i = 0; i < n && jobs[i]->script == CX_RS_DELIVER; i++){
	}
	if(i == n){
		/* Replies from other brokers only: nothing to send. */
		return 0;
	}
	if(ensure_conn(w) != 0){
		for(i = 0; i < n; i++){
			jobs[i]->failed = jobs[i]->script != CX_RS_DELIVER;
		}
		return -1;
	}
	for(i = 0; i < n; i++){
		cx_rjob *j = jobs[i];
		if(j->script == CX_RS_DELIVER){
			continue;
		}
		if(now - j->queued_ms > (int64_t)w->timeout_ms
				|| append_call(w, j->script, j->argc, j->argv, j->argvlen, j->extra, j->nextra) != 0){
			j->failed = true;
			continue;
		}
		sent[i] = true;
		nsent++;
	}
	if(nsent > 0){
		count_trip(w, nsent);
	}
	for(i = 0; i < n; i++){
		redisReply *r = NULL;
		if(!sent[i]){
			continue;
		}
		if(redisGetReply(w->c, (void **)&r) != REDIS_OK || r == NULL){
			char why[160];
			snprintf(why, sizeof(why), "connection lost: %.100s", w->c->errstr);
			drop_conn(w, why);
			for(; i < n; i++){
				jobs[i]->failed = jobs[i]->failed || sent[i];
			}
			return -1;
		}
		if(r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0){
			cx_rjob *j = jobs[i];
			freeReplyObject(r);
			r = eval_text(w, j->script, j->argc, j->argv, j->argvlen, j->extra, j->nextra);
			if(r == NULL){
				char why[160];
				snprintf(why, sizeof(why), "connection lost: %.100s", w->c->errstr);
				drop_conn(w, why);
				for(; i < n; i++){
					jobs[i]->failed = jobs[i]->failed || sent[i];
				}
				return -1;
			}
		}
		take_reply(w, jobs[i], r);
	}
	return 0;
}

/*
 * Whether the broker needs a signal for the jobs just done (mutex held):
 * not when one it has not answered is on its way, nor when it is awake and
 * takes them at its next TICK anyway.
 */
static bool wake_due(cx_rworker *w, int64_t *last_signal)
{
	if(w->signalled || w->awake){
		return false;
	}
	w->signalled = true;
	*last_signal = mono_ms();
	return true;
}

static void *worker_main(void *arg)
{
	cx_rworker *w = arg;
	int64_t last_signal = 0;
	cx_rjob *batch[BATCH_MAX];

	pthread_mutex_lock(&w->mu);
	while(!w->stop){
		size_t n = 0;
		if(w->head == NULL){
			/* Idle: keep waking the broker while it has not taken what is done; connect when due. */
			int64_t now = mono_ms();
			if(w->done_head != NULL && !w->awake && now - last_signal >= RESIGNAL_MS){
				w->signalled = true;
				last_signal = now;
				pthread_mutex_unlock(&w->mu);
				wake_broker(w);
				pthread_mutex_lock(&w->mu);
				continue;
			}
			if(w->c == NULL && now >= w->next_try_ms){
				pthread_mutex_unlock(&w->mu);
				(void)ensure_conn(w);
				pthread_mutex_lock(&w->mu);
				continue;
			}
			struct timespec until;
			int64_t wait_ms = w->done_head != NULL ? RESIGNAL_MS : IDLE_WAIT_MS;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
			until.tv_sec += (time_t)(wait_ms / 1000) + until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&w->cv, &w->mu, &until);
			continue;
		}
		while(n < BATCH_MAX && w->head != NULL){
			batch[n++] = w->head;
			w->head = w->head->next;
			w->queued--;
		}
		if(w->head == NULL){
			w->tail = NULL;
		}
		w->busy = true;
		pthread_mutex_unlock(&w->mu);
		int lost = run_batch(w, batch, n);
		pthread_mutex_lock(&w->mu);
		w->busy = false;
		for(size_t i = 0; i < n; i++){
			push_done(w, batch[i]);
		}
		if(lost != 0){
			fail_queued(w);
		}
		if(wake_due(w, &last_signal)){
			pthread_mutex_unlock(&w->mu);
			wake_broker(w);
			pthread_mutex_lock(&w->mu);
		}
	}
	pthread_mutex_unlock(&w->mu);
	if(w->c != NULL){
		redisFree(w->c);
		w->c = NULL;
	}
	return NULL;
}

/* ---- listener ---- */

static bool stopping(cx_rworker *w)
{
	bool stop;

	pthread_mutex_lock(&w->mu);
	stop = w->stop || w->unlisten;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

/* Sleeps ms in slices, returning early when the worker stops. */
static void nap(cx_rworker *w, uint32_t ms)
{
	for(uint32_t done = 0; done < ms && !stopping(w); done += 50){
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/*
 * Turns one message of the channel into a job: "<id>" (replies wait in
 * the inbox) a pop, "<id> <payload>" a reply to deliver. A reply is queued
 * even past queue_max: Redis holds no copy of it any more.
 */
static void on_message(cx_rworker *w, redisReply *r)
{
	const redisReply *m;
	const char *sp;
	size_t idlen;
	cx_rjob *j;
	bool ok;

	if(r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING
			|| strcmp(r->element[0]->str, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING){
		return;
	}
	m = r->element[2];
	sp = memchr(m->str, ' ', m->len);
	idlen = sp != NULL ? (size_t)(sp - m->str) : m->len;
	if(!cx_id_valid(m->str, idlen)){
		return;
	}
	j = cx_rjob_new(sp != NULL ? CX_RS_DELIVER : CX_RS_POP);
	ok = j != NULL && cx_rjob_arg(j, m->str, idlen) == 0;
	if(ok && sp != NULL){
		ok = cx_rjob_arg(j, sp + 1, m->len - idlen - 1) == 0 && submit(w, j, true, false) == 0;
	}else if(ok){
		/* The inbox keeps the replies; the next refresh hands them over. */
		ok = submit(w, j, false, false) == 0;
	}
	if(!ok){
		if(sp != NULL){
			pthread_mutex_lock(&w->mu);
			set_error(w, "a reply from another broker was dropped (out of memory)", NULL);
			pthread_mutex_unlock(&w->mu);
		}
		cx_rjob_free(j);
	}
}

/*
 * Waits up to wait_ms for what the channel brings and turns each message
 * into a job; true when the connection broke. With left, also whether
 * Redis confirmed that this connection left the channel.
 */
static bool read_messages(cx_rworker *w, redisContext *c, int wait_ms, bool *left)
{
	void *reply = NULL;
	struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
	int n = poll(&pfd, 1, wait_ms);

	if(n < 0 && errno == EINTR){
		return false;
	}
	if(n < 0 || (n > 0 && redisBufferRead(c) != REDIS_OK)){
		return true;
	}
	while(redisGetReplyFromReader(c, &reply) == REDIS_OK && reply != NULL){
		const redisReply *r = reply;
		if(left != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3
				&& r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "unsubscribe") == 0){
			*left = true;
		}
		on_message(w, reply);
		freeReplyObject(reply);
		reply = NULL;
	}
	return c->err != 0;
}

/*
 * A clean stop: leaves the channel and takes every message Redis sent
 * before its confirmation, within the timeout. Once Redis has confirmed,
 * a PUBLISH to the channel reaches no one, so the broker that sends a
 * reply here puts it in the terminal's inbox instead (lua/common.lua,
 * route); a reply published before is a job of this worker, which the
 * stopping broker moves to the inbox (store_redis.c, stash_pending).
 * Closing the connection alone would leave a window in which Redis still
 * counts this listener, and the reply published then would be lost.
 */
static void leave_channel(cx_rworker *w, redisContext *c)
{
	const char *av[2] = {"UNSUBSCRIBE", w->channel};
	size_t al[2] = {11, strlen(w->channel)};
	int64_t deadline = mono_ms() + (w->timeout_ms > 0 ? w->timeout_ms : 1000);
	bool left = false, broken = false;
	int done = 0;

	pthread_mutex_lock(&w->mu);
	if(w->stop){
		pthread_mutex_unlock(&w->mu);
		return;
	}
	pthread_mutex_unlock(&w->mu);
	if(redisAppendCommandArgv(c, 2, av, al) != REDIS_OK){
		return;
	}
	while(!done && !c->err){
		if(redisBufferWrite(c, &done) != REDIS_OK){
			return;
		}
	}
	while(!left && !broken && mono_ms() < deadline){
		broken = read_messages(w, c, 50, &left);
	}
}

static void *listener_main(void *arg)
{
	cx_rworker *w = arg;
	uint32_t retry = RETRY_MIN_MS;
	char why[160];

	while(!stopping(w)){
		redisContext *c = redis_open(w, why, sizeof(why));
		redisReply *r = NULL;
		if(c != NULL){
			const char *av[2] = {"SUBSCRIBE", w->channel};
			size_t al[2] = {9, strlen(w->channel)};
			r = redisCommandArgv(c, 2, av, al);
		}
		if(r == NULL || r->type != REDIS_REPLY_ARRAY){
			if(r != NULL){
				freeReplyObject(r);
			}
			redisFree(c);
			nap(w, retry);
			retry = retry * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry * 2;
			continue;
		}
		freeReplyObject(r);
		retry = RETRY_MIN_MS;
		pthread_mutex_lock(&w->mu);
		w->stats.listening = true;
		w->stats.listens++;
		pthread_mutex_unlock(&w->mu);
		bool broken = false;
		while(!broken && !stopping(w)){
			broken = read_messages(w, c, LISTEN_POLL_MS, NULL);
		}
		if(!broken){
			leave_channel(w, c);
		}
		pthread_mutex_lock(&w->mu);
		w->stats.listening = false;
		pthread_mutex_unlock(&w->mu);
		redisFree(c);
	}
	return NULL;
}

/* ---- lifecycle ---- */

static char *dup_or(const char *s, const char *dflt)
{
	return strdup(s != NULL ? s : dflt);
}

cx_rworker *cx_rworker_new(const cx_rworker_config *cfg)
{
	cx_rworker *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	size_t len;

	if(w == NULL){
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->host = dup_or(cfg->host, "127.0.0.1");
	w->socket = cfg->socket != NULL ? strdup(cfg->socket) : NULL;
	w->password = cfg->password != NULL ? strdup(cfg->password) : NULL;
	w->prefix = dup_or(cfg->prefix, "cardex:{cx}:");
	w->broker_id = dup_or(cfg->broker_id, "");
	len = strlen(w->prefix);
	w->channel = malloc(len + strlen(w->broker_id) + 3);
	w->anchor = malloc(len + 7);
	if(w->host == NULL || w->prefix == NULL || w->broker_id == NULL || w->channel == NULL || w->anchor == NULL
			|| (cfg->socket != NULL && w->socket == NULL) || (cfg->password != NULL && w->password == NULL)){
		cx_rworker_free(w);
		return NULL;
	}
	sprintf(w->channel, "%sb:%s", w->prefix, w->broker_id);
	sprintf(w->anchor, "%ssecret", w->prefix);
	w->port = cfg->port;
	w->timeout_ms = cfg->timeout_ms;
	w->queue_max = cfg->queue_max;
	snprintf(w->inbox_max, sizeof(w->inbox_max), "%" PRIu32, cfg->inbox_max);
	snprintf(w->inbox_ttl_ms, sizeof(w->inbox_ttl_ms), "%" PRIu64, (uint64_t)cfg->inbox_ttl_s * 1000);
	w->wake_pid = getpid();
	w->wake_tid = cfg->wake_tid;
	w->wake_signal = cfg->wake_signal;
	w->retry_ms = RETRY_MIN_MS;

	/* The broker's signals (SIGTERM, SIGHUP, ...) must keep going to its own thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	w->worker_started = pthread_create(&w->worker, NULL, worker_main, w) == 0;
	w->listener_started = w->worker_started && pthread_create(&w->listener, NULL, listener_main, w) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if(!w->listener_started){
		cx_rworker_free(w);
		return NULL;
	}
	return w;
}

void cx_rworker_unlisten(cx_rworker *w)
{
	pthread_mutex_lock(&w->mu);
	w->unlisten = true;
	pthread_mutex_unlock(&w->mu);
	if(w->listener_started){
		pthread_join(w->listener, NULL);
		w->listener_started = false;
	}
}

void cx_rworker_free(cx_rworker *w)
{
	if(w == NULL){
		return;
	}
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if(w->worker_started){
		pthread_join(w->worker, NULL);
	}
	if(w->listener_started){
		pthread_join(w->listener, NULL);
	}
	free_list(w->head);
	free_list(w->done_head);
	if(w->password != NULL){
		cx_wipe_str(w->password);
	}
	cx_wipe(w->secret, sizeof(w->secret));
	free(w->host);
	free(w->socket);
	free(w->password);
	free(w->prefix);
	free(w->broker_id);
	free(w->channel);
	free(w->anchor);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}
