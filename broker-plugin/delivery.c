/*
 * How a reply reaches the sessions that read it: routed, through
 * Mosquitto's subscription tree (mosquitto_broker_publish without a client
 * ID), or addressed to each of those sessions by client ID ("direct").
 *
 * A routed plugin publish costs Mosquitto 2.0.11 one more copy of the reply,
 * a walk of the subscription tree and an ACL check per subscriber; an
 * addressed one none of these (docs/benchmarks.md, "Direct replies"). An
 * addressed reply reaches a session whether or not it subscribed, with the
 * QoS given, no READ check and no bridge, so it is used only where it gives
 * exactly what routing would:
 *
 * - plugin_opt_replies auto (the default), store memory;
 * - the broker's configuration can be read and holds no acl_file, no other
 *   plugin, no per_listener_settings, no bridge and no upgrade_outgoing_qos:
 *   then every SUBSCRIBE and READ check is this plugin's alone, and its
 *   answers are final. With persistence true, the sessions Mosquitto
 *   restores at start are known from the registry a clean stop saved (after
 *   a crash, the terminals known before are routed for good); with
 *   persistent_client_expiration, a session away nearly that long routes
 *   its terminal, since Mosquitto ends sessions without an event;
 * - per terminal, every subscription that could take its replies was seen
 *   and is an exact, unshared subscription to its reply topic by an MQTT
 *   3.x session (direct.h), and the plugin knows where each of them went:
 *   a clean session's ends with its connection; a persistent one's stays
 *   while it is away (Mosquitto queues an addressed reply for it as it
 *   queues a routed one), moves to the connection that resumes the session
 *   and ends when a clean one takes its client ID. Mosquitto shows a
 *   session taken over as a DISCONNECT of the old connection, always with
 *   "clean session" set; the authentication of the new connection, just
 *   before, tells which of the two it is. Anything else routes the terminal
 *   for good.
 *
 * The READ check routing would make is still made, per session, by the same
 * function (plugin__session_reads), and the QoS is what routing gives,
 * min(1, granted). Replies of both kinds share Mosquitto's one queue of
 * plugin publishes, so they leave in the order they were made.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto.h"
#include "plugin.h"
#include "statefile.h"
#include "topic.h"

/* Beside the broker's persistence file: the registry kept across a clean restart. */
#define DELIVERY_SUFFIX ".cardex-replies"
#define DELIVERY_FILE_MAX (64u * 1024 * 1024)
#define ERR_LEN 512

static int64_t wall_s(void)
{
	return (int64_t)time(NULL);
}

/* Terminals whose reply sessions are held, at least; beyond, a new one is routed (and then all are). */
#define DELIVERY_MAX_IDS_FLOOR 1024u

/* Why direct replies are off for this configuration, or NULL when they may be used. */
static const char *why_routed(const struct plugin__data *data, const struct brokerconf *bc)
{
	if(data->cfg.replies == PLUGIN_REPLIES_ROUTED){
		return "plugin_opt_replies routed";
	}
	if(data->cfg.store != PLUGIN_STORE_MEMORY){
		return "store redis";
	}
	if(!bc->read){
		return "the broker's configuration cannot be read";
	}
	if(bc->acl_files > 0 || bc->other_plugins > 0){
		return "an acl_file or another plugin also decides ACL checks";
	}
	if(bc->per_listener_settings){
		return "per_listener_settings true";
	}
	if(bc->bridges > 0){
		return "a bridge may carry replies";
	}
	if(bc->upgrade_outgoing_qos){
		return "upgrade_outgoing_qos true";
	}
	return NULL;
}

static void direct_off(struct plugin__delivery_state *ds)
{
	cx_direct_free(ds->direct);
	ds->direct = NULL;
	free(ds->auth_client_id);
	ds->auth_client_id = NULL;
	free(ds->save_path);
	ds->save_path = NULL;
}

static void route_one(const char *id, void *arg)
{
	cx_direct_route(arg, id);
}

/*
 * Mosquitto restored sessions from db that the last stop did not record (it
 * was a crash): they belong to terminals known before (the known-terminal
 * registry, kept in state_file), which are routed for good; without a
 * state_file they cannot be told, and every reply is routed for good.
 */
static void route_restored(struct plugin__data *data, const char *db)
{
	cx_direct *d = data->delivery.direct;

	if(data->cfg.coexist.state_file != NULL){
		cx_terminals_each(data->terminals, route_one, d);
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: the %zu terminal(s) known before are routed through the "
				"subscription tree from now on: sessions restored from %s were not recorded at the last stop",
				cx_terminals_count(data->terminals), db);
		return;
	}
	cx_direct_route_all(d);
	mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: replies are routed through the subscription tree from now on: "
			"sessions restored from %s were not recorded at the last stop, and without plugin_opt_state_file "
			"their terminals are not known (this holds until the broker starts without that file)", db);
}

/*
 * With persistence true, Mosquitto brings back persistent sessions with
 * their subscriptions at start, before any plugin sees them: the registry a
 * clean stop wrote tells them (and is removed once read, so that a crash
 * cannot bring back an old one). Without it, when the broker restores a
 * persistence file, route_restored decides.
 */
static void restore(struct plugin__data *data, const struct brokerconf *bc)
{
	struct plugin__delivery_state *ds = &data->delivery;
	const char *why = NULL;
	char err[ERR_LEN];
	unsigned char *buf = NULL;
	size_t len = 0;
	char *db;
	struct stat st;
	int rc;

	ds->save_path = plugin__persist_beside(bc, DELIVERY_SUFFIX, &why);
	db = plugin__persist_beside(bc, "", &why);
	if(ds->save_path == NULL || db == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: replies are routed through the subscription tree "
				"(the broker's persistence file cannot be placed: %s)", why);
		cx_direct_route_all(ds->direct);
		free(db);
		return;
	}
	rc = cx_statefile_read(ds->save_path, DELIVERY_FILE_MAX, &buf, &len, err, sizeof(err));
	if(rc == 0){
		if(cx_direct_load(ds->direct, (const char *)buf, len) != 0){
			cx_direct_route_all(ds->direct);
			mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: %s is not a file of reply sessions: replies are "
					"routed through the subscription tree from now on", ds->save_path);
		}else if(cx_direct_all_routed(ds->direct)){
			mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: replies are routed through the subscription tree, as "
					"since a crash (%s)", ds->save_path);
		}
		free(buf);
		if(cx_statefile_remove(ds->save_path, err, sizeof(err)) != 0){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot remove %s: %s", ds->save_path, err);
		}
	}else if(rc < 0){
		cx_direct_route_all(ds->direct);
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot read %s (%s): replies are routed through the "
				"subscription tree from now on", ds->save_path, err);
	}else if(stat(db, &st) == 0 || errno != ENOENT){
		route_restored(data, db);
	}
	free(db);
}

/*
 * A run that routes every reply does not follow sessions: what an earlier
 * clean stop saved would no longer match the sessions this run leaves, so
 * it goes.
 */
static void forget_saved(const struct brokerconf *bc)
{
	const char *why = NULL;
	char err[ERR_LEN];
	char *path = plugin__persist_beside(bc, DELIVERY_SUFFIX, &why);

	if(path != NULL && cx_statefile_remove(path, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot remove %s: %s", path, err);
	}
	free(path);
}

void plugin__delivery_setup(struct plugin__data *data, const struct brokerconf *bc)
{
	struct plugin__delivery_state *ds = &data->delivery;
	const char *why = why_routed(data, bc);
	uint32_t max_ids = data->cfg.coexist.max_terminals;
	bool first = !ds->decided;

	ds->decided = true;
	if(why == NULL && bc->session_expiry[0] != '\0' && !plugin__parse_duration(bc->session_expiry, &ds->expiry_s)){
		why = "persistent_client_expiration cannot be read";
	}
	if(why != NULL){
		if(first || ds->direct != NULL){
			mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: replies are routed through the subscription tree (%s)",
					why);
		}
		if(first && bc->read && bc->persistence){
			forget_saved(bc);
		}
		direct_off(ds);
		return;
	}
	if(!first){
		/* A reload changes nothing here: either direct replies go on, or subscriptions went unseen. */
		return;
	}
	ds->direct = cx_direct_new(max_ids > DELIVERY_MAX_IDS_FLOOR ? max_ids : DELIVERY_MAX_IDS_FLOOR);
	if(ds->direct == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: replies are routed through the subscription tree (out of memory or no entropy)");
		return;
	}
	if(bc->persistence){
		restore(data, bc);
	}
	if(!cx_direct_all_routed(ds->direct)){
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: replies go straight to the sessions subscribed to their "
				"terminal's reply topic, routed for any terminal the plugin cannot follow (plugin_opt_replies auto)");
	}
}

void plugin__delivery_save(struct plugin__data *data)
{
	struct plugin__delivery_state *ds = &data->delivery;
	char err[ERR_LEN];
	cx_statefile f;

	if(ds->direct == NULL || ds->save_path == NULL){
		return;
	}
	if(cx_statefile_begin(&f, ds->save_path, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot save reply sessions to %s: %s", ds->save_path, err);
		return;
	}
	if(cx_direct_save(ds->direct, wall_s(), cx_statefile_write, &f) != 0){
		cx_statefile_abort(&f);
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot save reply sessions to %s", ds->save_path);
		return;
	}
	if(cx_statefile_commit(&f, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot save reply sessions to %s: %s", ds->save_path, err);
	}
}

void plugin__delivery_free(struct plugin__data *data)
{
	direct_off(&data->delivery);
}

/* True when client speaks MQTT 3.x, the protocols whose sessions the registry can follow. */
static bool followable(const struct mosquitto *client)
{
	int v = mosquitto_client_protocol_version(client);

	return v == 3 || v == 4;
}

void plugin__delivery_subscribe(struct plugin__data *data, const struct mosquitto *client, const char *id,
		const char *filter, int qos, int rc)
{
	cx_direct *d = data->delivery.direct;
	const char *client_id = mosquitto_client_id(client);
	bool shared;
	bool match = false;
	const char *f;

	if(d == NULL || id == NULL || rc == MOSQ_ERR_ACL_DENIED){
		/* Without an identity, READ lets none of the namespace through; a refused filter subscribes nothing. */
		return;
	}
	if(cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, id) == 0){
		cx_direct_route(d, id);
		return;
	}
	f = plugin__strip_share(filter);
	shared = f != filter;
	if(mosquitto_topic_matches_sub(f, data->topic_buf, &match) != MOSQ_ERR_SUCCESS){
		/* Mosquitto refuses such a filter itself; routing is right either way. */
		cx_direct_route(d, id);
		return;
	}
	if(!match){
		return;
	}
	if(rc == MOSQ_ERR_SUCCESS && !shared && client_id != NULL && followable(client)
			&& strcmp(f, data->topic_buf) == 0){
		cx_direct_subscribed(d, id, client_id, qos, !mosquitto_client_clean_session(client));
		return;
	}
	/* A wildcard, a shared group, an MQTT 5 session, a filter left to others: route. */
	cx_direct_route(d, id);
}

void plugin__delivery_unsubscribe(struct plugin__data *data, const struct mosquitto *client, const char *id,
		const char *filter)
{
	cx_direct *d = data->delivery.direct;
	const char *client_id = mosquitto_client_id(client);
	bool shared;
	const char *f;

	if(d == NULL || id == NULL || client_id == NULL){
		return;
	}
	f = plugin__strip_share(filter);
	shared = f != filter;
	if(shared || cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, id) == 0
			|| strcmp(f, data->topic_buf) != 0){
		return;
	}
	cx_direct_forget(d, id, client_id);
}

void plugin__delivery_auth(struct plugin__data *data, const struct mosquitto *client)
{
	struct plugin__delivery_state *ds = &data->delivery;
	const char *client_id = mosquitto_client_id(client);

	if(ds->direct == NULL){
		return;
	}
	free(ds->auth_client_id);
	ds->auth_client_id = client_id != NULL ? strdup(client_id) : NULL;
	if(mosquitto_client_clean_session(client)){
		ds->auth_kind = PLUGIN_AUTH_CLEAN;
	}else{
		ds->auth_kind = followable(client) ? PLUGIN_AUTH_RESUMES : PLUGIN_AUTH_OTHER;
	}
}

void plugin__delivery_gone(struct plugin__data *data, const struct mosquitto *client)
{
	struct plugin__delivery_state *ds = &data->delivery;
	const char *client_id = mosquitto_client_id(client);
	const cx_direct_session *s;
	const char *id;
	bool taken_over;

	if(ds->direct == NULL || client_id == NULL || (id = plugin__identity(client)) == NULL){
		return;
	}
	s = cx_direct_find(ds->direct, id, client_id);
	if(s == NULL){
		return;
	}
	if(!s->persistent){
		/* A clean session's subscription ends with its connection, taken over or not. */
		cx_direct_forget(ds->direct, id, client_id);
		return;
	}
	if(!mosquitto_client_clean_session(client)){
		/* The connection of a persistent session ended: it stays subscribed while away. */
		cx_direct_away(ds->direct, id, client_id, wall_s());
		return;
	}
	/* Mosquitto marks a session it hands over "clean": the new connection tells where it went. */
	taken_over = ds->auth_client_id != NULL && strcmp(ds->auth_client_id, client_id) == 0;
	if(taken_over){
		free(ds->auth_client_id);
		ds->auth_client_id = NULL;
	}
	if(taken_over && ds->auth_kind == PLUGIN_AUTH_RESUMES){
		/* Resumed: the same client ID holds the subscription, connected. */
		cx_direct_away(ds->direct, id, client_id, 0);
		return;
	}
	if(taken_over && ds->auth_kind == PLUGIN_AUTH_CLEAN){
		/* A clean connection took the client ID: the subscription is gone. */
		cx_direct_forget(ds->direct, id, client_id);
		return;
	}
	cx_direct_route(ds->direct, id);
}

int plugin__delivery_publish(struct plugin__data *data, const char *to, const char *topic, char *payload,
		size_t len)
{
	struct plugin__delivery_state *ds = &data->delivery;
	const cx_direct_session *s = NULL;
	size_t n = ds->direct != NULL ? cx_direct_readers(ds->direct, to, wall_s(), ds->expiry_s, &s) : 0;
	unsigned readers = 0;
	size_t last = n;
	int rc;

	if(n == 0){
		rc = mosquitto_broker_publish(NULL, topic, (int)len, payload, 1, false, NULL);
		ds->routed_replies += rc == MOSQ_ERR_SUCCESS;
		return rc;
	}
	/* The READ check routing would make, once per session; the last reader gets the payload itself. */
	for(size_t i = 0; i < n; i++){
		if(plugin__session_reads(data, to, s[i].client_id)){
			readers |= 1u << i;
			last = i;
		}
	}
	ds->direct_replies++;
	if(readers == 0){
		/* Routing would have delivered it to no one either. */
		cx_wipe(payload, len);
		mosquitto_free(payload);
		return MOSQ_ERR_SUCCESS;
	}
	for(size_t i = 0; i < last; i++){
		if(readers & (1u << i)){
			rc = mosquitto_broker_publish_copy(s[i].client_id, topic, (int)len, payload, s[i].qos, false, NULL);
			if(rc != MOSQ_ERR_SUCCESS){
				return rc;
			}
		}
	}
	return mosquitto_broker_publish(s[last].client_id, topic, (int)len, payload, s[last].qos, false, NULL);
}
