/*
 * store redis (docs/protocol.md §11): the plugin's side of the shared store.
 * Requests are decoded and checked by message.c as in memory mode, turned
 * here into script calls for the Redis worker (redis_worker.h), and their
 * results published on the broker's thread, from TICK; routing of replies to
 * terminals on other brokers and the record of which terminals are
 * connected here live in redis_route.c.
 *
 * Every function runs on the broker's thread. None fails: a request that
 * cannot be queued is answered "unavailable" at once.
 */
#ifndef CX_STORE_REDIS_H
#define CX_STORE_REDIS_H

#include <signal.h>

#include "crypto.h"
#include "engine_table.h"
#include "plugin.h"
#include "redis_worker.h"

/* Terminals connected here for longer than this are recorded again (refresh). */
#define PLUGIN_REDIS_HERE_TTL_MS 90000
#define PLUGIN_REDIS_REFRESH_MS 30000
#define PLUGIN_REDIS_SWEEP_MS 1000
#define PLUGIN_REDIS_SWEEP_BUDGET 200
#define PLUGIN_REDIS_RETRY_AFTER 1 /* seconds, in "unavailable" errors */
#define PLUGIN_REDIS_RETRY_MS 500  /* a failed hand-over of an inbox is tried again this soon */

/* A client of a terminal seen acting here (redis_route.c), by its broker-owned pointer. */
struct cx_rclient {
	cx_hnode hn;
	const struct mosquitto *client;
	struct cx_rterm *term;
};

/* A terminal with clients here. */
struct cx_rterm {
	cx_hnode hn;
	uint32_t clients;
	size_t idx;          /* in cx_store_redis.terms_v */
	char id[CX_ID_MAX + 1];
};

struct cx_store_redis {
	cx_rworker *w;
	bool have_secret;
	unsigned char secret[32];        /* two SipHash keys of the key MAC; wiped at free */
	char dummy_mac[2 * CX_MAC_LEN + 1]; /* compared when a claim names no offer */
	cx_rng *rng;                     /* exchange IDs */
	char prefix[80];                 /* redis_prefix with the hash tag */
	int64_t next_sweep_ms, next_refresh_ms;
	cx_rworker_stats seen;           /* what the log was last told */
	uint32_t timeout_ms;
	int signo;
	struct sigaction old_sa;
	bool sa_set;
	unsigned char hkey[CX_SIPHASH_KEY_LEN];
	cx_htab clients;                 /* struct cx_rclient by client pointer */
	cx_htab terms;                   /* struct cx_rterm by ID */
	struct cx_rterm **terms_v;       /* the same, for the refresh */
	size_t nterms, terms_cap;
	struct cx_rheld *held, *sealed;  /* replies Mosquitto may not have queued yet (store_redis.c) */
};

/*
 * Starts the store for data->cfg (store redis): the wake-up signal's
 * handler, the worker and listener threads. Returns MOSQ_ERR_SUCCESS, or an
 * error after logging why. A Redis that cannot be reached yet is logged,
 * not fatal.
 */
int plugin__redis_setup(struct plugin__data *data);
/* Stops the threads, restores the signal's handler, frees; accepts NULL. */
void plugin__redis_free(struct cx_store_redis *s);

/* The requests, once decoded and found well-formed (message.c). The caller wipes req. */
void plugin__redis_offer(struct plugin__data *data, const char *owner, const cx_offer_req *req, const char *topic);
void plugin__redis_claim(struct plugin__data *data, const char *claimer, const char *address, const char *owner,
		const cx_claim_req *req, const char *topic);
void plugin__redis_card(struct plugin__data *data, const char *sender, const char *peer, const cx_card_req *req,
		const char *topic);

/* From TICK: publishes done results, runs the sweep and refresh when due, logs state changes. */
void plugin__redis_tick(struct plugin__data *data, int64_t now_ms);

/*
 * redis_route.c. A client of terminal id acts in the namespace: the first
 * time for this client, the terminal is recorded as connected here (and
 * its inbox handed over).
 */
void plugin__redis_present(struct plugin__data *data, const struct mosquitto *client, const char *id);
/* redis_route.c. A client left: when it was the terminal's last one here, the record goes. */
void plugin__redis_disconnect(struct plugin__data *data, const struct mosquitto *client);
/* redis_route.c. Queues refresh jobs for every terminal connected here. */
void plugin__redis_refresh(struct plugin__data *data);
/* redis_route.c. Sets up and frees the tables; init returns 0 or -1 (memory). */
int plugin__redis_route_init(struct cx_store_redis *s);
void plugin__redis_route_free(struct cx_store_redis *s);

#endif
