/*
 * Private header of the Mosquitto 2.0 adapter around the exchange engine.
 *
 * One concern per file, like Mosquitto's dynamic-security plugin:
 * plugin.c (version, init, cleanup), config.c (plugin_opt_* parsing),
 * auth.c (BASIC_AUTH), acl.c (ACL_CHECK), message.c (MESSAGE and publishing
 * replies), tick.c (TICK and the clock), sys.c (counters and gauges under
 * $SYS), nodelay.c (whether the broker disables Nagle), dynsec.c (terminals
 * disabled or deleted in the dynamic-security plugin). All state lives in
 * one struct plugin__data handed to every callback as userdata: no globals.
 *
 * Every callback runs on the broker's single main thread, so the state needs
 * no locking.
 */
#ifndef CX_PLUGIN_H
#define CX_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "engine.h"
#include "ids.h"

#define PLUGIN_TICK_BUDGET 1000 /* timers expired per TICK, so one tick stays short */
#define PLUGIN_MAX_PAYLOAD_DEFAULT 65536u
#define PLUGIN_STATS_INTERVAL_DEFAULT 60u /* seconds between "cardex: stats" lines; 0: none */
#define PLUGIN_ALARM_INTERVAL_MS 10000 /* at most one warning per kind of limit in this time */

/* The settings read from plugin_opt_* lines. */
struct plugin__config {
	cx_limits limits;
	char *prefix;         /* topic prefix, "" when none; malloc'ed */
	size_t prefixlen;
	uint32_t max_payload; /* bytes; larger payloads get too-large unparsed */
	uint32_t stats_interval_s; /* seconds between "cardex: stats" log lines and $SYS updates; 0: never */
	char *dynsec_file;    /* the dynamic-security plugin's config_file to watch, or NULL; malloc'ed */
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

struct plugin__data {
	mosquitto_plugin_id_t *pid;
	struct plugin__config cfg;
	cx_engine *engine;
	char *topic_buf; /* scratch for <prefix>reply/<id>; malloc'ed, topic_cap bytes */
	size_t topic_cap;
	unsigned registered; /* bit i set when callback i of plugin.c's table is registered */
	int64_t next_stats_ms; /* when the next stats line is due; 0: not scheduled yet */
	struct plugin__alarm_state alarms[PLUGIN_NALARMS]; /* tick.c */
	struct plugin__sys_state sys;         /* sys.c */
	struct plugin__nodelay_state nodelay; /* nodelay.c */
	struct plugin__dynsec_state dynsec;   /* dynsec.c */
};

/*
 * config.c. Parses options into cfg (defaults for what is absent). Returns
 * MOSQ_ERR_SUCCESS, or MOSQ_ERR_INVAL after logging "cardex: ..." at
 * MOSQ_LOG_ERR for an unknown option or a bad value, or MOSQ_ERR_NOMEM. On
 * error nothing is left allocated; on success release with
 * plugin__config_free.
 */
int plugin__config_parse(struct plugin__config *cfg, const struct mosquitto_opt *opts, int nopts);
/* Frees what cfg owns; accepts a zeroed cfg. */
void plugin__config_free(struct plugin__config *cfg);

/*
 * The authenticated terminal ID of client, or NULL when the client has none
 * (no username, or a username or client ID that breaks the identity rules).
 * The string belongs to the broker and lives as long as the connection.
 */
const char *plugin__identity(const struct mosquitto *client);

/* Callbacks, registered by plugin.c with a struct plugin__data as userdata. */
int plugin__basic_auth(int event, void *event_data, void *userdata);   /* auth.c */
int plugin__acl_check(int event, void *event_data, void *userdata);    /* acl.c */
int plugin__message(int event, void *event_data, void *userdata);      /* message.c */
int plugin__tick(int event, void *event_data, void *userdata);         /* tick.c */

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
