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
 *   plugin, no per_listener_settings, no bridge, no persistence (whose
 *   restored sessions subscribed before this plugin could see them) and no
 *   upgrade_outgoing_qos: then every SUBSCRIBE and READ check is this
 *   plugin's alone, and its answers are final;
 * - per terminal, every subscription that could take its replies was seen
 *   and is an exact, unshared subscription to its reply topic by a clean
 *   MQTT 3.x session (direct.h); anything else routes the terminal for good.
 *
 * The READ check routing would make is still made, per session, by the same
 * function (plugin__terminal_touch), and the QoS is what routing gives,
 * min(1, granted). Replies of both kinds share Mosquitto's one queue of
 * plugin publishes, so they leave in the order they were made.
 */
#include <string.h>

#include "crypto.h"
#include "plugin.h"
#include "topic.h"

/* Terminals whose reply sessions are held; beyond, a new one is routed (and then all are). */
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
	if(bc->persistence){
		return "persistence true restores sessions the plugin has not seen subscribe";
	}
	if(bc->upgrade_outgoing_qos){
		return "upgrade_outgoing_qos true";
	}
	return NULL;
}

void plugin__delivery_setup(struct plugin__data *data, const struct brokerconf *bc)
{
	const char *why = why_routed(data, bc);
	uint32_t max_ids = data->cfg.coexist.max_terminals;

	if(why != NULL){
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: replies are routed through the subscription tree (%s)", why);
		return;
	}
	data->direct = cx_direct_new(max_ids > DELIVERY_MAX_IDS_FLOOR ? max_ids : DELIVERY_MAX_IDS_FLOOR);
	if(data->direct == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: replies are routed through the subscription tree (out of memory or no entropy)");
		return;
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: replies go straight to the sessions subscribed to their "
			"terminal's reply topic, routed for any terminal the plugin cannot follow (plugin_opt_replies auto)");
}

void plugin__delivery_free(struct plugin__data *data)
{
	cx_direct_free(data->direct);
	data->direct = NULL;
}

/* Skips a "$share/<group>/" head. Returns filter itself when there is none. */
static const char *unshared(const char *filter, bool *shared)
{
	const char *slash;

	*shared = false;
	if(strncmp(filter, "$share/", 7) != 0){
		return filter;
	}
	slash = strchr(filter + 7, '/');
	if(slash == NULL){
		return filter;
	}
	*shared = true;
	return slash + 1;
}

void plugin__delivery_subscribe(struct plugin__data *data, const struct mosquitto *client, const char *id,
		const char *filter, int qos, int rc)
{
	bool shared;
	bool match = false;
	const char *f;

	if(data->direct == NULL || id == NULL || rc == MOSQ_ERR_ACL_DENIED){
		/* Without an identity, READ lets none of the namespace through; a refused filter subscribes nothing. */
		return;
	}
	if(cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, id) == 0){
		cx_direct_route(data->direct, id);
		return;
	}
	f = unshared(filter, &shared);
	if(mosquitto_topic_matches_sub(f, data->topic_buf, &match) != MOSQ_ERR_SUCCESS){
		/* A filter Mosquitto will refuse anyway; nothing to learn, but nothing to risk either. */
		cx_direct_route(data->direct, id);
		return;
	}
	if(!match){
		return;
	}
	if(rc == MOSQ_ERR_SUCCESS && !shared && strcmp(f, data->topic_buf) == 0
			&& mosquitto_client_protocol_version(client) != 5 && mosquitto_client_clean_session(client)){
		const char *client_id = mosquitto_client_id(client);

		if(client_id != NULL){
			cx_direct_subscribed(data->direct, id, client, client_id, qos);
			return;
		}
	}
	/* A wildcard, a shared group, a session that outlives its connection or an MQTT 5 one: route. */
	cx_direct_route(data->direct, id);
}

void plugin__delivery_unsubscribe(struct plugin__data *data, const struct mosquitto *client, const char *id,
		const char *filter)
{
	bool shared;
	const char *f;

	if(data->direct == NULL || id == NULL){
		return;
	}
	f = unshared(filter, &shared);
	if(shared || cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, id) == 0
			|| strcmp(f, data->topic_buf) != 0){
		return;
	}
	cx_direct_forget(data->direct, id, client);
}

void plugin__delivery_gone(struct plugin__data *data, const struct mosquitto *client)
{
	const char *id;

	if(data->direct == NULL){
		return;
	}
	id = plugin__identity(client);
	if(id != NULL){
		cx_direct_forget(data->direct, id, client);
	}
}

int plugin__delivery_publish(struct plugin__data *data, const char *to, const char *topic, char *payload,
		size_t len)
{
	const cx_direct_session *s = NULL;
	size_t n = data->direct != NULL ? cx_direct_sessions(data->direct, to, &s) : 0;
	unsigned readers = 0;
	size_t last = n;
	int rc;

	if(n == 0){
		return mosquitto_broker_publish(NULL, topic, (int)len, payload, 1, false, NULL);
	}
	/* The READ check routing would make, once per session; the last reader gets the payload itself. */
	for(size_t i = 0; i < n; i++){
		if(plugin__terminal_touch(data, s[i].client, to, false)){
			readers |= 1u << i;
			last = i;
		}
	}
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
