/*
 * TICK: drives the engine's timers (expiry notices, memory reclaim). The
 * event's own time fields are zero in Mosquitto 2.0.11, so the clock is read
 * here. Correctness never depends on ticks: with per_listener_settings true
 * 2.0.11 sends none, and the engine checks expiry whenever it touches an
 * offer or exchange.
 */
#include <time.h>

#include "plugin.h"

int64_t plugin__now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail on Linux; 0 keeps the engine consistent if it ever did. */
	if(clock_gettime(CLOCK_MONOTONIC, &ts) != 0){
		return 0;
	}
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Expires at most PLUGIN_TICK_BUDGET due timers, so one tick never stalls the
 * broker; the rest wait for the next tick (at most about 100 ms away).
 */
int plugin__tick(int event, void *event_data, void *userdata)
{
	struct plugin__data *data = userdata;

	(void)event;
	(void)event_data;
	cx_engine_tick(data->engine, plugin__now_ms(), PLUGIN_TICK_BUDGET);
	return MOSQ_ERR_SUCCESS;
}
