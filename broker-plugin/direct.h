/*
 * Direct replies: which sessions read a terminal's replies, so that a reply
 * can be handed to them by client ID instead of through the subscription
 * tree.
 *
 * Mosquitto 2.0.11 routes a plugin's publish without a client ID (the usual
 * way) by copying it once more, matching it against the subscription tree
 * and asking every ACL callback about every subscriber; a publish addressed
 * to a client ID skips all three (docs/benchmarks.md, "Direct replies").
 * Addressed delivery gives what routing gives only when the plugin knows
 * every subscription that could take the reply, so this registry keeps, per
 * terminal ID, the sessions (by client ID) that subscribed to exactly
 * <prefix>reply/<id> in a way the plugin can follow to its end (MQTT 3.x,
 * not a shared subscription), and marks the terminal "routed" for good the
 * moment anything else could take its replies: a wildcard or shared
 * subscription, an MQTT 5 session, a subscription another ACL mechanism
 * decided, a session whose fate the plugin cannot tell. A terminal it holds
 * no session of is routed too. So whenever it cannot tell, the answer is
 * "route", which is always right.
 *
 * No Mosquitto calls: driven directly by the unit tests.
 */
#ifndef CX_DIRECT_H
#define CX_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h" /* cx_write_fn */

/* Sessions one terminal may read its replies from directly; one more routes it. */
#define CX_DIRECT_SESSIONS 8

typedef struct cx_direct cx_direct;

/* One session that subscribed to exactly the terminal's reply topic. */
typedef struct {
	char *client_id;    /* its client ID (a copy) */
	int qos;            /* the QoS a routed reply would reach it with: min(1, granted) */
	bool persistent;    /* its subscription outlives the connection (clean session false) */
	int64_t away_since; /* persistent: wall-clock seconds since its connection ended; 0 while connected */
} cx_direct_session;

/*
 * A new, empty registry holding at most max_ids terminals (at least 1).
 * Returns NULL when out of memory or without entropy for the hash key.
 */
cx_direct *cx_direct_new(size_t max_ids);
/* Frees d and everything it holds; accepts NULL. */
void cx_direct_free(cx_direct *d);

/*
 * Session client_id of terminal id now reads id's replies on exactly its
 * reply topic, granted qos; persistent: its subscription outlives the
 * connection. A session already held gets the new QoS and kind. A ninth
 * session, or one that cannot be recorded (the registry full, no memory),
 * routes id instead, or every terminal when even that cannot be recorded.
 * Cannot fail.
 */
void cx_direct_subscribed(cx_direct *d, const char *id, const char *client_id, int qos, bool persistent);
/*
 * Something the registry cannot follow may take id's replies: id is routed
 * from now on, for as long as d lives (every terminal when id cannot be
 * recorded). Cannot fail.
 */
void cx_direct_route(cx_direct *d, const char *id);
/*
 * Session client_id of id no longer reads the reply topic (it unsubscribed
 * from it, or its session ended). Does nothing for what d does not hold.
 */
void cx_direct_forget(cx_direct *d, const char *id, const char *client_id);
/* The session client_id of id as held, or NULL (also when id is routed). */
const cx_direct_session *cx_direct_find(const cx_direct *d, const char *id, const char *client_id);
/*
 * The sessions id's replies go to directly, in *out (valid until the next
 * change of d), and their number; 0 when id's replies must be routed.
 */
size_t cx_direct_sessions(const cx_direct *d, const char *id, const cx_direct_session **out);
/*
 * A persistent session away this close to its expiry routes its terminal:
 * the broker may end it at any moment without telling plugins.
 */
#define CX_DIRECT_EXPIRY_MARGIN_S 60
/*
 * cx_direct_sessions at wall-clock time now, for a broker whose persistent
 * sessions expire expiry_s seconds after their connection ended (0:
 * never): when one of id's sessions has been away for expiry_s less
 * CX_DIRECT_EXPIRY_MARGIN_S or more, id is routed from now on and 0
 * returned.
 */
size_t cx_direct_readers(cx_direct *d, const char *id, int64_t now, uint32_t expiry_s,
		const cx_direct_session **out);
/*
 * The persistent session client_id of id is away since since (wall-clock
 * seconds), or connected again (since 0). Does nothing for what d does not
 * hold.
 */
void cx_direct_away(cx_direct *d, const char *id, const char *client_id, int64_t since);

/* True when every terminal is routed (a terminal that had to be could not be recorded). */
bool cx_direct_all_routed(const cx_direct *d);
/* Routes every terminal from now on. */
void cx_direct_route_all(cx_direct *d);

/*
 * Writes what must outlive a restart of a broker that persists its
 * sessions: the persistent sessions (those connected as away since now,
 * the broker stopping), the routed terminals, and whether all are routed
 * (clean sessions end with the broker). A small text format,
 * "cardex-replies 1" first. Returns 0, or -1 when w failed.
 */
int cx_direct_save(const cx_direct *d, int64_t now, cx_write_fn w, void *ctx);
/*
 * Adds what cx_direct_save wrote (buf, len) to d. Returns 0, or -1 when buf
 * is not such a file (d may then hold part of it: route all).
 */
int cx_direct_load(cx_direct *d, const char *buf, size_t len);

/* Terminals held (with sessions or routed), for the tests. */
size_t cx_direct_count(const cx_direct *d);

#endif
