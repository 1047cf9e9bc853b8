/*
 * Private header of the Mosquitto 2.0 adapter around the exchange engine.
 *
 * One concern per file, like Mosquitto's dynamic-security plugin:
 * plugin.c (version, init, cleanup), config.c (plugin_opt_* parsing),
 * auth.c (BASIC_AUTH), acl.c (ACL_CHECK), message.c (MESSAGE and publishing
 * replies), tick.c (TICK and the clock), coexist.c (sharing the broker:
 * known terminals, DISCONNECT, RELOAD), terminals.c (the known-terminal
 * registry), brokerconf.c (reading the broker's configuration), sys.c
 * (counters and gauges under $SYS), nodelay.c (whether the broker disables
 * Nagle), dynsec.c (terminals disabled or deleted in the dynamic-security
 * plugin), persist.c (offers and exchanges kept across a clean restart),
 * proxy.c (clients behind a reverse proxy), store_redis.c, redis_worker.c
 * and redis_route.c (the shared store of several brokers). All state lives
 * in one struct plugin__data handed to every callback as userdata: no
 * globals.
 *
 * Every callback runs on the broker's single main thread, so the state needs
 * no locking. The one exception is store redis (store_redis.c), whose worker
 * threads (redis_worker.c) share only their job queues, under their own
 * mutex, and never call Mosquitto.
 */
#ifndef CX_PLUGIN_H
#define CX_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "brokerconf.h"
#include "direct.h"
#include "engine.h"
#include "ids.h"
#include "netlist.h"
#include "terminals.h"

#define PLUGIN_TICK_BUDGET 1000 /* timers expired per TICK, so one tick stays short */
#define PLUGIN_MAX_PAYLOAD_DEFAULT 65536u
#define PLUGIN_STATS_INTERVAL_DEFAULT 60u /* seconds between "cardex: stats" lines; 0: none */
#define PLUGIN_ALARM_INTERVAL_MS 10000 /* at most one warning per kind of limit in this time */
#define PLUGIN_MAX_SESSIONS_DEFAULT 8u   /* sessions (client IDs) one terminal may hold */
#define PLUGIN_MAX_TERMINALS_DEFAULT 100000u /* known terminals remembered */

/* How the plugin shares the broker with other clients (coexist.c, docs/protocol.md). */
enum plugin__terminals_mode {
	PLUGIN_TERMINALS_SHARED = 0, /* only known terminals' client IDs are reserved */
	PLUGIN_TERMINALS_STRICT,     /* every client must follow the terminal identity rules */
};
enum plugin__outside_acl {
	PLUGIN_OUTSIDE_AUTO = 0, /* allow or defer, from what the broker's configuration holds */
	PLUGIN_OUTSIDE_ALLOW,    /* allow every ACL check outside the namespace */
	PLUGIN_OUTSIDE_DEFER,    /* leave them to the broker's other mechanisms */
};
struct plugin__coexist_config {
	enum plugin__terminals_mode terminals;
	enum plugin__outside_acl outside_acl;
	char *state_file;          /* malloc'ed; NULL: known terminals kept in memory only */
	uint32_t max_sessions;     /* max_sessions_per_terminal */
	uint32_t max_terminals;
	uint32_t session_expiry_s; /* 0: sessions never expire (Mosquitto's default) */
};

/* persist.c: where the engine's state is kept across a clean restart. */
enum plugin__persist_mode {
	PLUGIN_PERSIST_AUTO = 0, /* as the broker's own persistence, beside its persistence file */
	PLUGIN_PERSIST_FILE,     /* at file, whatever the broker does */
	PLUGIN_PERSIST_NONE,     /* never */
};
struct plugin__persist_config {
	enum plugin__persist_mode mode;
	char *file;              /* PLUGIN_PERSIST_FILE: an absolute path; malloc'ed */
};

/* Where the state that decides a match lives (store.c, docs/protocol.md §11). */
enum plugin__store {
	PLUGIN_STORE_MEMORY = 0, /* the engine inside this broker */
	PLUGIN_STORE_REDIS,      /* Redis, shared by several brokers (store_redis.c) */
};
struct plugin__redis_config {
	char *host;          /* malloc'ed; NULL: 127.0.0.1 */
	uint32_t port;
	char *socket;        /* malloc'ed absolute path, or NULL: host and port */
	char *password;      /* malloc'ed, or NULL; never logged, wiped by plugin__config_free */
	char *prefix;        /* malloc'ed; NULL: "cardex:" */
	char *broker_id;     /* malloc'ed; required with PLUGIN_STORE_REDIS */
	uint32_t timeout_ms;
	uint32_t queue;      /* requests waiting for Redis at once */
	uint32_t inbox_max;
	uint32_t inbox_ttl_s;
};

/* How replies reach their terminal's sessions (delivery.c, docs/protocol.md §9). */
enum plugin__replies {
	PLUGIN_REPLIES_AUTO = 0, /* addressed to the reading sessions where that gives what routing gives */
	PLUGIN_REPLIES_ROUTED,   /* always through the subscription tree */
};

/* The settings read from plugin_opt_* lines. */
struct plugin__config {
	enum plugin__store store;
	enum plugin__replies replies;
	struct plugin__redis_config redis; /* PLUGIN_STORE_REDIS */
	cx_limits limits;
	char *prefix;         /* topic prefix, "" when none; malloc'ed */
	size_t prefixlen;
	uint32_t max_payload; /* bytes; larger payloads get too-large unparsed */
	uint32_t stats_interval_s; /* seconds between "cardex: stats" log lines and $SYS updates; 0: never */
	char *dynsec_file;    /* the dynamic-security plugin's config_file to watch, or NULL; malloc'ed */
	struct plugin__coexist_config coexist; /* coexist.c */
	struct plugin__persist_config persist; /* persist.c */
	cx_netlist proxies; /* proxy.c: clients of these count as address-unknown per address */
};

/*
 * What the TICK callback has logged so far: the engine's counters at the
 * last stats line and, per limit, the count it last warned about and when
 * it may warn again.
 */
struct plugin__alarm_state {
	uint64_t warned;
	int64_t next_ms;
};

#define PLUGIN_NALARMS 5
#define PLUGIN_SYS_NVALUES 22 /* values published under $SYS/broker/cardex/ (sys.c) */

/* What sys.c last published, so that only changed values are sent again. */
struct plugin__sys_state {
	bool published;  /* a first, complete round went out */
	uint64_t last[PLUGIN_SYS_NVALUES];
};

/* nodelay.c: looks at accepted connections until it can tell. */
struct plugin__nodelay_state {
	bool decided;
	int64_t next_ms; /* next look; 0: not yet */
	uint32_t asked;  /* looks asked for by requests (plugin__nodelay_soon) */
};

/*
 * dynsec.c: what the dynamic-security configuration file held when last
 * read, so that a change shows which terminals were disabled or deleted.
 */
struct plugin__dynsec_state {
	bool present;              /* it existed at the last look */
	unsigned long long dev, ino, size; /* identity of the file last read */
	long long mtime_s, mtime_ns;
	char **clients;            /* sorted terminal IDs of its clients; malloc'ed */
	size_t nclients;
	int64_t next_ms;           /* next look at the file */
};

/* delivery.c: how replies reach their readers. */
struct plugin__delivery_state {
	bool decided;         /* the first configuration was judged; a reload can only turn direct off */
	cx_direct *direct;    /* the sessions replies go to directly; NULL: every reply routed */
	char *auth_client_id; /* the client ID of the latest connection authenticated; malloc'ed or NULL */
	enum {
		PLUGIN_AUTH_CLEAN = 0, /* a clean session: a session it takes over loses its subscriptions */
		PLUGIN_AUTH_RESUMES,   /* MQTT 3.x, not clean: it takes over a session's subscriptions */
		PLUGIN_AUTH_OTHER,     /* MQTT 5, not clean: it takes them over, into a session not followed */
	} auth_kind;          /* of that connection */
	char *save_path;      /* where the registry outlives a restart (persistence true); malloc'ed or NULL */
	uint32_t expiry_s;    /* persistent_client_expiration in seconds; 0: sessions never expire */
	uint64_t direct_replies; /* replies handed to sessions by client ID */
	uint64_t routed_replies; /* replies routed through the subscription tree */
};

struct plugin__data {
	mosquitto_plugin_id_t *pid;
	struct plugin__config cfg;
	cx_engine *engine;
	char *topic_buf; /* scratch for <prefix>reply/<id>; malloc'ed, topic_cap bytes */
	size_t topic_cap;
	unsigned registered; /* bit i set when callback i of plugin.c's table is registered */
	int64_t next_stats_ms; /* when the next stats line is due; 0: not scheduled yet */
	struct plugin__alarm_state alarms[PLUGIN_NALARMS]; /* tick.c */
	/* coexist.c */
	cx_terminals *terminals;   /* the known-terminal registry */
	int outside_rc;            /* ACL answer outside the namespace: SUCCESS or PLUGIN_DEFER */
	int64_t next_save_ms;      /* earliest time the state file may be written again */
	int64_t next_seen_save_ms; /* earliest time it is written for last-seen times alone */
	bool ticking;              /* a TICK came: saves happen there, not in ACL callbacks */
	int64_t next_sweep_ms;     /* when expired registry entries are dropped next */
	int64_t next_warn_ms;      /* when the next registry warning may be logged */
	struct plugin__sys_state sys;         /* sys.c */
	struct plugin__nodelay_state nodelay; /* nodelay.c */
	struct plugin__dynsec_state dynsec;   /* dynsec.c */
	char *persist_path;        /* persist.c: the engine's state file; NULL: none; malloc'ed */
	bool persist_loaded;       /* persist.c: it was loaded and is still there (see plugin__persist_started) */
	struct cx_store_redis *redis;         /* store_redis.c; NULL in memory mode */
	struct plugin__delivery_state delivery; /* delivery.c */
};

/*
 * config.c. Parses options into cfg (defaults for what is absent). Returns
 * MOSQ_ERR_SUCCESS, or MOSQ_ERR_INVAL after logging "cardex: ..." at
 * MOSQ_LOG_ERR for an unknown option or a bad value, or MOSQ_ERR_NOMEM. On
 * error nothing is left allocated; on success release with
 * plugin__config_free.
 */
int plugin__config_parse(struct plugin__config *cfg, const struct mosquitto_opt *opts, int nopts);
/*
 * config.c. Sets *out to a copy of value, a file option that must be an
 * absolute path (the old *out is freed). Returns MOSQ_ERR_SUCCESS, or
 * MOSQ_ERR_INVAL (a relative path) or MOSQ_ERR_NOMEM after logging
 * "cardex: ..." naming plugin_opt_<key>.
 */
int plugin__config_set_path(const char *key, const char *value, char **out);
/* Frees what cfg owns; accepts a zeroed cfg. */
void plugin__config_free(struct plugin__config *cfg);

/*
 * persist.c. Parses plugin_opt_persist_file into cfg: an absolute path, or
 * "none". Returns MOSQ_ERR_SUCCESS, or MOSQ_ERR_INVAL after logging a bad
 * value, or MOSQ_ERR_NOMEM. plugin__persist_config_free accepts a zeroed cfg.
 */
int plugin__persist_option(struct plugin__persist_config *cfg, const char *value);
void plugin__persist_config_free(struct plugin__persist_config *cfg);

/*
 * persist.c. Decides where the engine's state is kept (the option, else
 * the broker's persistence settings), checks that a file can be written
 * there and loads the one a clean stop left, into the fresh engine, and
 * logs all of it. Returns MOSQ_ERR_SUCCESS, or an error after logging why
 * (a file that cannot be read or is not a valid one, a place where none
 * can be written: the broker stops).
 */
int plugin__persist_setup(struct plugin__data *data);
/*
 * persist.c. Removes the loaded file once the broker serves (first TICK or
 * request, whichever comes first), so that a crash from then on cannot
 * bring back offers and exchanges used since; until then a broker that
 * fails to start keeps it for the next start. Call when persist_loaded.
 */
void plugin__persist_started(struct plugin__data *data);
/*
 * persist.c. "<the broker's persistence file><suffix>" as an absolute
 * path, malloc'ed, from the broker's configuration bc; NULL with a reason in
 * *why when out of memory or too long.
 */
char *plugin__persist_beside(const struct brokerconf *bc, const char *suffix, const char **why);
/*
 * coexist.c. A duration as Mosquitto's persistent_client_expiration writes
 * it ("14d"; h, d, w, m, y) or plain seconds, into *out; false when it is
 * not one.
 */
bool plugin__parse_duration(const char *v, uint32_t *out);
/* persist.c. At a clean stop: writes the engine's state to its file, when there is one. Cannot fail. */
void plugin__persist_save(struct plugin__data *data);

/*
 * The authenticated terminal ID of client, or NULL when the client has none
 * (no username, or a username or client ID that breaks the identity rules).
 * The string belongs to the broker and lives as long as the connection.
 */
const char *plugin__identity(const struct mosquitto *client);

/* A message a client puts on a topic: a PUBLISH, or a will the broker sends for it. */
struct plugin__request {
	struct mosquitto *client;
	const char *identity; /* plugin__identity(client), found once by the caller; NULL: none */
	const char *topic;
	const void *payload;
	uint32_t payloadlen;
};

/*
 * message.c. Handles a message a client puts into the namespace, sent by
 * the terminal req->identity (NULL: not a terminal, refused unanswered): answers it
 * (through the engine, or with an error reply) and returns
 * MOSQ_ERR_ACL_DENIED, so that the broker never routes, retains or stores
 * it. Returns MOSQ_ERR_SUCCESS, untouched, for a topic outside the
 * namespace. Cannot fail otherwise.
 */
int plugin__request_handle(struct plugin__data *data, const struct plugin__request *req);

/*
 * proxy.c. Parses plugin_opt_proxy_addresses (IP addresses, each optionally
 * with /bits, separated by blanks or commas; netlist.h) into *proxies,
 * replacing what it held. Returns MOSQ_ERR_SUCCESS, MOSQ_ERR_NOT_FOUND for
 * another key, or MOSQ_ERR_INVAL after logging a bad value. Allocates
 * nothing.
 */
int plugin__proxy_option(cx_netlist *proxies, const char *key, const char *value);
/*
 * proxy.c. The address the per-address claim limit counts client under:
 * its peer address, or NULL (address-unknown) when that is a proxy's.
 */
const char *plugin__limit_address(const struct plugin__data *data, struct mosquitto *client);

/*
 * coexist.c. Parses the option key (terminals, outside_acl, state_file,
 * max_sessions_per_terminal, max_terminals, session_expiry) into cfg.
 * Returns MOSQ_ERR_SUCCESS, MOSQ_ERR_NOT_FOUND for a key it does not know,
 * MOSQ_ERR_INVAL after logging a bad value, or MOSQ_ERR_NOMEM.
 */
int plugin__coexist_option(struct plugin__coexist_config *cfg, const char *key, const char *value);
void plugin__coexist_config_default(struct plugin__coexist_config *cfg);
void plugin__coexist_config_free(struct plugin__coexist_config *cfg);

/*
 * coexist.c. Creates the known-terminal registry, loads the state file,
 * decides how ACL checks outside the namespace are answered and logs all of
 * it. Returns MOSQ_ERR_SUCCESS, or an error after logging why (a state file
 * that cannot be read or is corrupt stops the broker).
 */
int plugin__coexist_setup(struct plugin__data *data);
/* coexist.c. Saves the state file when it changed; frees the registry. Accepts a failed setup. */
void plugin__coexist_cleanup(struct plugin__data *data);
/* coexist.c. From TICK: drops expired entries now and then, saves the state file when due. */
void plugin__coexist_tick(struct plugin__data *data, int64_t now_ms);

/*
 * coexist.c. Called for namespace activity of a client with identity id.
 * acting (it subscribed or sent a message): makes id a known terminal and
 * the client's ID one of its sessions (cx_terminals_touch). Not acting (a
 * reply is being delivered to it): checks that the client's ID is one of
 * id's sessions. False when that is refused (too many sessions, registry
 * full, out of memory; a warning is logged now and then): the client then
 * gets nothing in the namespace.
 */
bool plugin__terminal_touch(struct plugin__data *data, const struct mosquitto *client, const char *id,
		bool acting);
/*
 * coexist.c. plugin__terminal_touch, not acting, for the session client_id
 * of terminal id, connected or not: whether a reply of id may be delivered
 * to it, as the READ check decides.
 */
bool plugin__session_reads(struct plugin__data *data, const char *id, const char *client_id);

/*
 * delivery.c. Decides, from the broker's configuration (bc, read by
 * coexist.c), whether replies may go straight to the sessions that read them
 * (plugin_opt_replies auto, no other ACL mechanism, no bridge, no
 * persistence, store memory) and logs the choice. Cannot fail: without
 * memory every reply is routed. plugin__delivery_free accepts a NULL registry.
 */
void plugin__delivery_setup(struct plugin__data *data, const struct brokerconf *bc);
void plugin__delivery_free(struct plugin__data *data);
/* delivery.c. At a clean stop of a broker that persists: writes what the registry must keep. */
void plugin__delivery_save(struct plugin__data *data);
/*
 * delivery.c. A SUBSCRIBE check of client (identity id, may be NULL) for
 * filter at qos was answered rc: records what it means for id's replies.
 */
void plugin__delivery_subscribe(struct plugin__data *data, const struct mosquitto *client, const char *id,
		const char *filter, int qos, int rc);
/* delivery.c. client (identity id) unsubscribes from filter. */
void plugin__delivery_unsubscribe(struct plugin__data *data, const struct mosquitto *client, const char *id,
		const char *filter);
/* delivery.c. client is being authenticated (BASIC_AUTH, EXT_AUTH_START): it may take over a session. */
void plugin__delivery_auth(struct plugin__data *data, const struct mosquitto *client);
/* delivery.c. client's connection ended, or its session was taken over (DISCONNECT). */
void plugin__delivery_gone(struct plugin__data *data, const struct mosquitto *client);
/*
 * delivery.c. Publishes payload (len bytes, mosquitto_malloc'ed; the broker
 * owns it on success) on topic, the reply topic of terminal to: to each
 * session that reads it directly, or routed. Returns MOSQ_ERR_SUCCESS when
 * the broker took it, else an error (payload still the caller's).
 */
int plugin__delivery_publish(struct plugin__data *data, const char *to, const char *topic, char *payload,
		size_t len);

/*
 * acl.c. Skips a "$share/<group>/" head so that a shared subscription is
 * judged by the filter it shares. Returns filter itself when there is none.
 */
const char *plugin__strip_share(const char *filter);

/* Callbacks, registered by plugin.c with a struct plugin__data as userdata. */
int plugin__basic_auth(int event, void *event_data, void *userdata);   /* auth.c */
int plugin__acl_check(int event, void *event_data, void *userdata);    /* acl.c */
int plugin__message(int event, void *event_data, void *userdata);      /* message.c */
int plugin__tick(int event, void *event_data, void *userdata);         /* tick.c */
int plugin__ext_auth_start(int event, void *event_data, void *userdata); /* auth.c */
int plugin__disconnect(int event, void *event_data, void *userdata);   /* coexist.c */
int plugin__reload(int event, void *event_data, void *userdata);       /* coexist.c */

/*
 * message.c. The engine's emit callback (ctx is the struct plugin__data):
 * encodes r into a fresh payload and publishes it on <prefix>reply/<to>,
 * QoS 1, not retained. Failures are logged and the reply dropped.
 */
void plugin__emit(void *ctx, const char *to, const cx_reply *r);

/* tick.c. CLOCK_MONOTONIC in milliseconds, the engine's time base. */
int64_t plugin__now_ms(void);

/*
 * tick.c. Logs one "cardex: stats | ..." line at MOSQ_LOG_INFO with the
 * engine's table sizes and counters (never an ID, key or card). Cannot fail.
 */
void plugin__log_stats(struct plugin__data *data);

/*
 * sys.c. Publishes the engine's counters and gauges as retained QoS 0
 * messages under $SYS/broker/cardex/ (plus .../version once): every value
 * in the first round, afterwards only those that changed, as Mosquitto
 * does for its own $SYS tree. Failures are logged; cannot fail otherwise.
 */
void plugin__sys_publish(struct plugin__data *data);

/*
 * nodelay.c. At most once a second until it can tell, looks at the
 * broker's accepted TCP connections; when one has Nagle's algorithm on
 * (set_tcp_nodelay false, Mosquitto's default), logs a notice saying what
 * that costs. Cannot fail.
 */
void plugin__nodelay_check(struct plugin__data *data, int64_t now_ms);

/*
 * nodelay.c. A request came from a connected client: until the question is
 * decided, the next plugin__nodelay_check looks at once, while that
 * connection is surely open, instead of up to a second later, when a short
 * exchange may be over. At most 64 such looks in all (a broker whose
 * clients all come over WebSockets never decides). Cannot fail.
 */
void plugin__nodelay_soon(struct plugin__data *data);

/*
 * dynsec.c. With plugin_opt_dynsec_config_file set, looks at that file at
 * most every PLUGIN_DYNSEC_CHECK_MS; when it changed, reads its clients and
 * withdraws the pending offers of terminals now disabled or deleted.
 * plugin__dynsec_init reads it once at start (nothing to withdraw then);
 * plugin__dynsec_free frees the state and accepts a zeroed one. Problems
 * with the file are logged once per change; none is fatal.
 */
#define PLUGIN_DYNSEC_CHECK_MS 100
void plugin__dynsec_init(struct plugin__data *data);
void plugin__dynsec_check(struct plugin__data *data, int64_t now_ms);
void plugin__dynsec_free(struct plugin__dynsec_state *st);

#endif
