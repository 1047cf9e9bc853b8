/*
 * ACL_CHECK: guards the namespace. A terminal reads only <prefix>reply/<own
 * id>, and only messages that are not retained (the plugin never publishes a
 * retained one). No client's message is ever allowed onto a namespace topic:
 * the WRITE check hands it to the request handler (message.c), which answers
 * it and refuses it. Mosquitto 2.0.11 makes this check for every PUBLISH and
 * for every will (immediate, delayed, fired by a DISCONNECT reason or by a
 * session takeover), so neither can reach a subscriber, a bridge or the
 * retained store; the plugin's own replies are queued without a WRITE check.
 * A client without an identity gets nothing in the namespace. Topics outside
 * it get the answer coexist.c chose (plugin_opt_outside_acl): allowed when
 * nothing else decides about ACLs, as without the plugin, else deferred to
 * the broker's acl_file and other plugins.
 *
 * READ is what protects data: Mosquitto checks it per delivered message, per
 * retained message and for queued messages at reconnect, whereas a
 * SUBSCRIBE check only sees the filter.
 */
#include <string.h>

#include "plugin.h"
#include "topic.h"

/* The four first levels (after the prefix) that make up the namespace. */
static const char *const kinds[] = {"keys", "claim", "card", "reply"};

const char *plugin__strip_share(const char *filter)
{
	const char *group;
	const char *slash;

	if(strncmp(filter, "$share/", 7) != 0){
		return filter;
	}
	group = filter + 7;
	slash = strchr(group, '/');
	return slash != NULL ? slash + 1 : filter;
}

/*
 * True when every topic filter can match lies in the namespace: the prefix
 * and the kind level are literal. "keys/#", "reply/+" and "claim" qualify;
 * "#", "+/keys/A" and (under prefix "cx/") "cx/#" do not.
 */
static bool filter_namespace_only(const struct plugin__data *data, const char *filter)
{
	const char *level;
	size_t len;

	if(strncmp(filter, data->cfg.prefix, data->cfg.prefixlen) != 0){
		return false;
	}
	level = filter + data->cfg.prefixlen;
	len = strcspn(level, "/");
	for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++){
		if(strlen(kinds[i]) == len && memcmp(level, kinds[i], len) == 0){
			return true;
		}
	}
	return false;
}

/* True when topic is <prefix>reply/<identity>. */
static bool is_own_reply(const struct plugin__data *data, const char *topic, const char *identity)
{
	const char *id = NULL;
	size_t idlen = 0;

	if(cx_topic_parse(data->cfg.prefix, data->cfg.prefixlen, topic, &id, &idlen) != CX_TOPIC_REPLY){
		return false;
	}
	return idlen == strlen(identity) && memcmp(id, identity, idlen) == 0;
}

/*
 * SUBSCRIBE: the own reply topic is allowed; a filter that can only match
 * namespace topics the client may not read is denied; a namespace filter
 * that matches the own reply topic among others is deferred, since READ
 * still filters every message it would deliver. A filter that reaches
 * outside the namespace gets the outside answer (coexist.c).
 */
static int check_subscribe(struct plugin__data *data, const struct mosquitto *client, const char *topic)
{
	const char *filter = plugin__strip_share(topic);
	const char *identity;
	bool match = false;

	if(!filter_namespace_only(data, filter)){
		return data->outside_rc;
	}
	identity = plugin__identity(client);
	if(identity == NULL || !plugin__terminal_touch(data, client, identity, true)){
		return MOSQ_ERR_ACL_DENIED;
	}
	if(is_own_reply(data, filter, identity)){
		return MOSQ_ERR_SUCCESS;
	}
	if(cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, identity) == 0){
		return MOSQ_ERR_ACL_DENIED;
	}
	if(mosquitto_topic_matches_sub(filter, data->topic_buf, &match) != MOSQ_ERR_SUCCESS || !match){
		return MOSQ_ERR_ACL_DENIED;
	}
	return MOSQ_ERR_PLUGIN_DEFER;
}

/* Decides an ACL check. Never fails: returns SUCCESS, ACL_DENIED or PLUGIN_DEFER. */
int plugin__acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	struct plugin__data *data = userdata;
	const char *identity;
	const char *id = NULL;
	size_t idlen = 0;
	cx_topic_kind kind;

	(void)event;

	if(ed->topic == NULL){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	switch(ed->access){
	case MOSQ_ACL_SUBSCRIBE:{
		int rc = check_subscribe(data, ed->client, ed->topic);

		/* Whether this terminal's replies may skip the subscription tree: delivery.c. */
		plugin__delivery_subscribe(data, ed->client, plugin__identity(ed->client), ed->topic, ed->qos, rc);
		return rc;
	}
	case MOSQ_ACL_UNSUBSCRIBE:
		plugin__delivery_unsubscribe(data, ed->client, plugin__identity(ed->client), ed->topic);
		/* Leaving a namespace subscription is harmless and must not depend on other ACLs. */
		return filter_namespace_only(data, plugin__strip_share(ed->topic)) ? MOSQ_ERR_SUCCESS
				: data->outside_rc;
	case MOSQ_ACL_READ:
	case MOSQ_ACL_WRITE:
		break;
	default:
		return MOSQ_ERR_PLUGIN_DEFER;
	}

	kind = cx_topic_parse(data->cfg.prefix, data->cfg.prefixlen, ed->topic, &id, &idlen);
	if(kind == CX_TOPIC_OUTSIDE){
		return data->outside_rc;
	}
	/*
	 * Namespace activity makes a terminal known and counts its session; a
	 * session beyond max_sessions_per_terminal gets nothing here. A READ of
	 * someone else's topic is no activity: a client subscribed to "#" must
	 * not become a terminal because replies pass by.
	 */
	identity = plugin__identity(ed->client);
	if(ed->access == MOSQ_ACL_WRITE){
		const struct plugin__request req = {
			.client = ed->client,
			.identity = identity,
			.topic = ed->topic,
			.payload = ed->payload,
			.payloadlen = ed->payloadlen,
		};

		if(identity != NULL && !plugin__terminal_touch(data, ed->client, identity, true)){
			return MOSQ_ERR_ACL_DENIED;
		}
		return plugin__request_handle(data, &req);
	}
	/* A READ is allowed on the own reply topic only (is_own_reply, on the topic parsed above). */
	if(identity == NULL || ed->retain || kind != CX_TOPIC_REPLY || idlen != strlen(identity)
			|| memcmp(id, identity, idlen) != 0){
		return MOSQ_ERR_ACL_DENIED;
	}
	return plugin__terminal_touch(data, ed->client, identity, false) ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ACL_DENIED;
}
