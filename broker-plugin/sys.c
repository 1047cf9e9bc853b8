/*
 * The plugin's counters and gauges under $SYS/broker/cardex/, published the
 * way Mosquitto publishes its own $SYS tree: retained, QoS 0, the value as
 * decimal text, every value in the first round and afterwards only those
 * that changed. Existing MQTT monitoring (mosquitto_sub -t '$SYS/#',
 * Telegraf's mqtt_consumer, MQTT-to-Prometheus exporters) reads them with
 * no new software; the broker's ACLs decide who may (the plugin defers on
 * $SYS, so an acl_file or dynamic-security role must grant the read).
 *
 * The messages go to subscribers like any publish without a client ID
 * (mosquitto_broker_publish_copy with clientid NULL), so a READ check runs
 * for every subscriber.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "plugin.h"

#define SYS_PREFIX "$SYS/broker/cardex/"

#ifndef CARDEX_VERSION_STRING
#error "CARDEX_VERSION_STRING comes from the project version (broker-plugin/CMakeLists.txt)"
#endif

enum width { W_SIZE, W_U32, W_U64 };

/* One published value: its topic below SYS_PREFIX and where it is in cx_engine_stats. */
struct sys_value {
	const char *topic;
	size_t offset;
	enum width width;
};

#define GAUGE(t, f) {t, offsetof(cx_engine_stats, f), W_SIZE}
#define COUNT(t, f) {t, offsetof(cx_engine_stats, f), W_U64}

static const struct sys_value values[PLUGIN_SYS_NVALUES] = {
	GAUGE("offers/pending", offers),
	COUNT("offers/accepted", offers_accepted),
	COUNT("offers/withdrawn", offers_withdrawn),
	GAUGE("exchanges/active", exchanges),
	COUNT("exchanges/completed", exchanges_completed),
	COUNT("matches", matches),
	COUNT("claims/evaluated", claims_evaluated),
	COUNT("claims/failed", claims_failed),
	COUNT("claims/rate_limited", claims_rate_limited),
	{"claims/failures_in_window", offsetof(cx_engine_stats, total_failures), W_U32},
	COUNT("claims/total_limit_reached", total_limit_reached),
	COUNT("capacity/offers", capacity_offers),
	COUNT("capacity/exchanges", capacity_exchanges),
	COUNT("capacity/limiters", capacity_limiters),
	COUNT("errors/sent", errors_sent),
	COUNT("errors/dropped", errors_dropped),
	COUNT("cards/relayed", cards_relayed),
	COUNT("cards/bytes_relayed", card_bytes_relayed),
	GAUGE("limiters/terminals", limiters),
	GAUGE("limiters/addresses", address_limiters),
	GAUGE("limiters/error_windows", error_windows),
	GAUGE("timers", timers),
};

static uint64_t value_of(const cx_engine_stats *st, const struct sys_value *v)
{
	const char *p = (const char *)st + v->offset;

	switch(v->width){
	case W_SIZE:
		return *(const size_t *)(const void *)p;
	case W_U32:
		return *(const uint32_t *)(const void *)p;
	default:
		return *(const uint64_t *)(const void *)p;
	}
}

/* Publishes text retained on SYS_PREFIX<suffix>. Returns false after logging a failure. */
static bool publish(const char *suffix, const char *text)
{
	char topic[128];
	int rc;

	snprintf(topic, sizeof(topic), SYS_PREFIX "%s", suffix);
	rc = mosquitto_broker_publish_copy(NULL, topic, (int)strlen(text), text, 0, true, NULL);
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot publish %s (error %d)", topic, rc);
		return false;
	}
	return true;
}

void plugin__sys_publish(struct plugin__data *data)
{
	struct plugin__sys_state *ss = &data->sys;
	cx_engine_stats st;
	char text[24];

	cx_engine_get_stats(data->engine, &st);
	if(!ss->published && !publish("version", "cardex " CARDEX_VERSION_STRING)){
		return;
	}
	for(size_t i = 0; i < PLUGIN_SYS_NVALUES; i++){
		uint64_t v = value_of(&st, &values[i]);

		if(ss->published && v == ss->last[i]){
			continue;
		}
		snprintf(text, sizeof(text), "%" PRIu64, v);
		if(publish(values[i].topic, text)){
			ss->last[i] = v;
		}
	}
	ss->published = true;
}
