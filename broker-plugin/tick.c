/*
 * TICK: drives the engine's timers (expiry notices, memory reclaim) and tells
 * the operator about the state of the plugin: a periodic "cardex: stats"
 * line, and a warning when a configured limit is reached. The event's own
 * time fields are zero in Mosquitto 2.0.11, so the clock is read here.
 * Correctness never depends on ticks: with per_listener_settings true 2.0.11
 * sends none, and the engine checks expiry whenever it touches an offer or
 * exchange.
 *
 * Warnings are derived from the engine's counters rather than logged where
 * a request is refused, so that a flood of refused requests yields one line
 * per kind every PLUGIN_ALARM_INTERVAL_MS, not one line per request.
 */
#include <inttypes.h>
#include <stddef.h>
#include <time.h>

#include "plugin.h"
#include "store_redis.h"

/* A limit worth a warning when requests are refused because of it. */
struct alarm {
	size_t counter;   /* offset of a uint64_t counter in cx_engine_stats */
	size_t limit;     /* offset of the uint32_t limit in cx_limits */
	int level;        /* MOSQ_LOG_* */
	const char *name; /* the plugin option */
	const char *what; /* what was refused, after the count */
};

static const struct alarm alarms[PLUGIN_NALARMS] = {
	{offsetof(cx_engine_stats, capacity_offers), offsetof(cx_limits, max_offers), MOSQ_LOG_WARNING,
			"max_offers", "offer(s) refused with \"capacity\""},
	{offsetof(cx_engine_stats, capacity_exchanges), offsetof(cx_limits, max_exchanges), MOSQ_LOG_WARNING,
			"max_exchanges", "match(es) refused with \"capacity\""},
	{offsetof(cx_engine_stats, capacity_limiters), offsetof(cx_limits, max_limiters), MOSQ_LOG_WARNING,
			"max_limiters", "claim(s) refused with \"capacity\""},
	{offsetof(cx_engine_stats, total_limit_reached), offsetof(cx_limits, claim_failures_per_min_total),
			MOSQ_LOG_WARNING, "claim_failures_per_min_total",
			"time(s): claims from every terminal are refused \"rate-limited\" until the window ends"},
	{offsetof(cx_engine_stats, errors_dropped), offsetof(cx_limits, error_replies_per_sec), MOSQ_LOG_NOTICE,
			"error_replies_per_sec", "error reply(ies) dropped"},
};

int64_t plugin__now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; 0 keeps the engine consistent if it ever did. */
	if(clock_gettime(CLOCK_MONOTONIC, &ts) != 0){
		return 0;
	}
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t counter_at(const cx_engine_stats *st, size_t offset)
{
	return *(const uint64_t *)(const void *)((const char *)st + offset);
}

static uint32_t limit_at(const cx_limits *lim, size_t offset)
{
	return *(const uint32_t *)(const void *)((const char *)lim + offset);
}

void plugin__log_stats(struct plugin__data *data)
{
	cx_engine_stats st;

	cx_engine_get_stats(data->engine, &st);
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"cardex: stats | offers=%zu exchanges=%zu limiters=%zu address_limiters=%zu "
			"error_windows=%zu timers=%zu total_failures=%" PRIu32 " evaluated=%" PRIu64
			" failed=%" PRIu64 " rate_limited=%" PRIu64 " capacity=%" PRIu64 " errors_sent=%" PRIu64
			" errors_dropped=%" PRIu64 " recent_claims=%zu repeated=%" PRIu64 " replies_direct=%" PRIu64
			" replies_routed=%" PRIu64,
			st.offers, st.exchanges, st.limiters, st.address_limiters, st.error_windows, st.timers,
			st.total_failures, st.claims_evaluated, st.claims_failed, st.claims_rate_limited,
			st.capacity_offers + st.capacity_exchanges + st.capacity_limiters, st.errors_sent,
			st.errors_dropped, st.recent_claims, st.claims_repeated, data->delivery.direct_replies,
			data->delivery.routed_replies);
}

/*
 * One warning per limit whose counter grew since the last warning about it,
 * at most one per PLUGIN_ALARM_INTERVAL_MS each, with the count since then.
 */
static void check_alarms(struct plugin__data *data, int64_t now_ms)
{
	cx_engine_stats st;

	cx_engine_get_stats(data->engine, &st);
	for(size_t i = 0; i < PLUGIN_NALARMS; i++){
		struct plugin__alarm_state *as = &data->alarms[i];
		uint64_t count = counter_at(&st, alarms[i].counter);

		if(count == as->warned || now_ms < as->next_ms){
			continue;
		}
		mosquitto_log_printf(alarms[i].level, "cardex: limit %s (%" PRIu32 ") reached: %" PRIu64 " %s",
				alarms[i].name, limit_at(&data->cfg.limits, alarms[i].limit), count - as->warned,
				alarms[i].what);
		as->warned = count;
		as->next_ms = now_ms + PLUGIN_ALARM_INTERVAL_MS;
	}
}

/*
 * Expires at most PLUGIN_TICK_BUDGET due timers, so one tick never stalls the
 * broker; the rest wait for the next tick (at most about 100 ms away). Then
 * logs what is due: warnings, and the stats line and $SYS values every
 * stats_interval. First of all, offers of terminals disabled in the
 * dynamic-security plugin are withdrawn (dynsec.c).
 */
int plugin__tick(int event, void *event_data, void *userdata)
{
	struct plugin__data *data = userdata;
	int64_t now_ms = plugin__now_ms();

	(void)event;
	(void)event_data;
	if(data->persist_loaded){
		plugin__persist_started(data);
	}
	plugin__dynsec_check(data, now_ms);
	cx_engine_tick(data->engine, now_ms, PLUGIN_TICK_BUDGET);
	if(data->redis != NULL){
		plugin__redis_tick(data, now_ms);
	}
	plugin__coexist_tick(data, now_ms);
	check_alarms(data, now_ms);
	plugin__nodelay_check(data, now_ms);
	if(data->cfg.stats_interval_s == 0){
		return MOSQ_ERR_SUCCESS;
	}
	/* $SYS gets its values at the first tick, the log its first line one interval later. */
	if(data->next_stats_ms == 0){
		plugin__sys_publish(data);
		data->next_stats_ms = now_ms + (int64_t)data->cfg.stats_interval_s * 1000;
	}else if(now_ms >= data->next_stats_ms){
		plugin__log_stats(data);
		plugin__sys_publish(data);
		data->next_stats_ms = now_ms + (int64_t)data->cfg.stats_interval_s * 1000;
	}
	return MOSQ_ERR_SUCCESS;
}
