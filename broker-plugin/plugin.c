/*
 * Entry points of the cardex plugin for Mosquitto 2.0 (plugin interface v5):
 * version, init and cleanup. The callbacks live in auth.c, acl.c, message.c,
 * tick.c and coexist.c; the options are parsed in config.c.
 *
 * These three functions are the only symbols the module exports (the project
 * builds with hidden visibility by default).
 */
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "store_redis.h"
#include "topic.h"

#define PLUGIN_EXPORT __attribute__((visibility("default")))

/* The callbacks registered at init and unregistered at cleanup, in order. */
static const struct {
	int event;
	MOSQ_FUNC_generic_callback cb;
	const char *name;
} callbacks[] = {
	{MOSQ_EVT_BASIC_AUTH, plugin__basic_auth, "BASIC_AUTH"},
	{MOSQ_EVT_EXT_AUTH_START, plugin__ext_auth_start, "EXT_AUTH_START"},
	{MOSQ_EVT_DISCONNECT, plugin__disconnect, "DISCONNECT"},
	{MOSQ_EVT_RELOAD, plugin__reload, "RELOAD"},
	{MOSQ_EVT_ACL_CHECK, plugin__acl_check, "ACL_CHECK"},
	{MOSQ_EVT_MESSAGE, plugin__message, "MESSAGE"},
	{MOSQ_EVT_TICK, plugin__tick, "TICK"},
};
#define NCALLBACKS (sizeof(callbacks) / sizeof(callbacks[0]))

/* Unregisters whatever data->registered says is registered. Cannot fail. */
static void unregister_all(struct plugin__data *data)
{
	for(size_t i = 0; i < NCALLBACKS; i++){
		if(data->registered & (1u << i)){
			mosquitto_callback_unregister(data->pid, callbacks[i].event, callbacks[i].cb, NULL);
			data->registered &= ~(1u << i);
		}
	}
}

/* Frees data and everything it owns; accepts NULL. Callbacks must be unregistered. */
static void data_free(struct plugin__data *data)
{
	if(data == NULL){
		return;
	}
	plugin__dynsec_free(&data->dynsec);
	plugin__redis_free(data->redis);
	cx_engine_free(data->engine);
	plugin__coexist_cleanup(data);
	plugin__delivery_free(data);
	plugin__config_free(&data->cfg);
	free(data->persist_path);
	free(data->topic_buf);
	free(data);
}

/* One line with the limits in force, so that an operator sees what a refusal is measured against. */
static void log_limits(const struct plugin__config *cfg)
{
	const cx_limits *l = &cfg->limits;

	mosquitto_log_printf(MOSQ_LOG_INFO,
			"cardex: limits | attempts=%u claim_failures_per_min=%u claim_failures_per_min_per_address=%u "
			"claim_failures_per_min_total=%u max_offers=%u max_exchanges=%u max_limiters=%u "
			"error_replies_per_sec=%u max_payload=%u require_sealed=%s",
			(unsigned)l->attempts, (unsigned)l->claim_failures_per_min,
			(unsigned)l->claim_failures_per_min_per_address, (unsigned)l->claim_failures_per_min_total,
			(unsigned)l->max_offers, (unsigned)l->max_exchanges, (unsigned)l->max_limiters,
			(unsigned)l->error_replies_per_sec, (unsigned)cfg->max_payload,
			l->require_sealed ? "true" : "false");
	if(cfg->proxies.n > 0){
		mosquitto_log_printf(MOSQ_LOG_INFO,
				"cardex: proxy_addresses | %u networks: their clients' failed claims count per terminal "
				"and in the total, not per address", (unsigned)cfg->proxies.n);
	}
}

PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5){
			return 5;
		}
	}
	return -1;
}

/*
 * Reads the options, creates the engine and registers the callbacks.
 * Returns MOSQ_ERR_SUCCESS, or an error after logging why, which makes
 * Mosquitto refuse to start: bad options are MOSQ_ERR_INVAL.
 */
PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	struct plugin__data *data;
	int rc = MOSQ_ERR_NOMEM;

	data = calloc(1, sizeof(*data));
	if(data == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		return MOSQ_ERR_NOMEM;
	}
	data->pid = identifier;

	rc = plugin__config_parse(&data->cfg, options, option_count);
	if(rc != MOSQ_ERR_SUCCESS){
		goto cleanup;
	}

	/* Room for the longest reply topic: prefix, "claim/" (the longest kind), a 64-char ID. */
	data->topic_cap = data->cfg.prefixlen + CX_TOPIC_BASE_MAX + 1;
	data->topic_buf = malloc(data->topic_cap);
	if(data->topic_buf == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		rc = MOSQ_ERR_NOMEM;
		goto cleanup;
	}

	data->engine = cx_engine_new(&data->cfg.limits, plugin__emit, data);
	if(data->engine == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: cannot create the exchange engine (out of memory or no entropy)");
		rc = MOSQ_ERR_UNKNOWN;
		goto cleanup;
	}
	/* Mosquitto writes the replies of one round in no set order: the owner's notice waits a round. */
	cx_engine_defer_notices(data->engine, true);

	/* store redis: the shared store's threads (store_redis.c). */
	if(data->cfg.store == PLUGIN_STORE_REDIS){
		rc = plugin__redis_setup(data);
		if(rc != MOSQ_ERR_SUCCESS){
			goto cleanup;
		}
	}

	/* Known terminals, state file, the answer outside the namespace: coexist.c. */
	rc = plugin__coexist_setup(data);
	if(rc != MOSQ_ERR_SUCCESS){
		goto cleanup;
	}

	/* Offers and exchanges a clean stop left: persist.c. */
	rc = plugin__persist_setup(data);
	if(rc != MOSQ_ERR_SUCCESS){
		goto cleanup;
	}

	for(size_t i = 0; i < NCALLBACKS; i++){
		rc = mosquitto_callback_register(identifier, callbacks[i].event, callbacks[i].cb, NULL, data);
		if(rc != MOSQ_ERR_SUCCESS){
			/* mosquitto_strerror is not in the broker's documented export list. */
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot register the %s callback (error %d)",
					callbacks[i].name, rc);
			goto cleanup;
		}
		data->registered |= 1u << i;
	}

	plugin__dynsec_init(data);
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: plugin %s ready (topic prefix \"%s\")", CARDEX_VERSION_STRING,
			data->cfg.prefix);
	log_limits(&data->cfg);
	*userdata = data;
	return MOSQ_ERR_SUCCESS;

cleanup:
	unregister_all(data);
	data_free(data);
	*userdata = NULL;
	return rc;
}

/*
 * Unregisters the callbacks, saves the engine's state (when it is kept
 * across restarts), logs the final stats line (when stats lines are on) and
 * frees the engine (which wipes its secret). Only here, not after a failed
 * init: that would replace a saved state with an empty one.
 */
PLUGIN_EXPORT int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	struct plugin__data *data = userdata;

	(void)options;
	(void)option_count;
	if(data == NULL){
		return MOSQ_ERR_SUCCESS;
	}
	unregister_all(data);
	plugin__persist_save(data);
	plugin__delivery_save(data);
	if(data->cfg.stats_interval_s > 0){
		plugin__log_stats(data);
	}
	data_free(data);
	return MOSQ_ERR_SUCCESS;
}
