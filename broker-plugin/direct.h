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

/* Sessions one terminal may read its replies from directly; one more routes it. */
#define CX_DIRECT_SESSIONS 8

typedef struct cx_direct cx_direct;

/* One session that subscribed to exactly the terminal's reply topic. */
typedef struct {
	char *client_id;    /* its client ID (a copy) */
	int qos;            /* the QoS a routed reply would reach it with: min(1, granted) */
	bool persistent;    /* its subscription outlives the connection (clean session false) */
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
/* Terminals held (with sessions or routed), for the tests. */
size_t cx_direct_count(const cx_direct *d);

#endif
