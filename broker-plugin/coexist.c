/*
 * Sharing the broker with clients that are not terminals: the options that
 * say how, the known-terminal registry's life (state file, expiry, the
 * DISCONNECT event), and the answer given to ACL checks outside the
 * namespace. auth.c and acl.c ask here; docs/protocol.md explains the
 * choices to operators.
 */
#define _GNU_SOURCE /* dladdr */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "brokerconf.h"
#include "plugin.h"
#include "store_redis.h"

#define SAVE_INTERVAL_MS 1000   /* a new terminal or session reaches the state file within this */
#define SEEN_SAVE_INTERVAL_MS 300000 /* last-seen times alone reach it within this (expiry is in days) */
#define SWEEP_INTERVAL_MS 60000 /* expired entries are dropped this often (besides lazily) */
#define SESSIONS_MAX 1000u
#define TERMINALS_MAX 100000000u
#define ERR_LEN 512

void plugin__coexist_config_default(struct plugin__coexist_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->terminals = PLUGIN_TERMINALS_SHARED;
	cfg->outside_acl = PLUGIN_OUTSIDE_AUTO;
	cfg->max_sessions = PLUGIN_MAX_SESSIONS_DEFAULT;
	cfg->max_terminals = PLUGIN_MAX_TERMINALS_DEFAULT;
}

void plugin__coexist_config_free(struct plugin__coexist_config *cfg)
{
	free(cfg->state_file);
	cfg->state_file = NULL;
}

/*
 * A duration as Mosquitto's persistent_client_expiration writes it
 * ("14d": h, d, w, m for 30 days, y for 365 days), or a plain number of
 * seconds; "0" means never. False on anything else or above UINT32_MAX s.
 */
bool plugin__parse_duration(const char *v, uint32_t *out)
{
	uint64_t n = 0;
	uint64_t unit = 1;
	size_t i;

	for(i = 0; v[i] >= '0' && v[i] <= '9'; i++){
		n = n * 10 + (uint64_t)(v[i] - '0');
		if(n > UINT32_MAX){
			return false;
		}
	}
	if(i == 0){
		return false;
	}
	if(v[i] != '\0'){
		switch(v[i]){
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		case 'm': unit = 30 * 86400; break;
		case 'y': unit = 365 * 86400; break;
		default: return false;
		}
		if(v[i + 1] != '\0'){
			return false;
		}
	}
	if(n * unit > UINT32_MAX){
		return false;
	}
	*out = (uint32_t)(n * unit);
	return true;
}

static bool parse_count(const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t n = 0;

	if(v[0] == '\0'){
		return false;
	}
	for(size_t i = 0; v[i] != '\0'; i++){
		if(v[i] < '0' || v[i] > '9'){
			return false;
		}
		n = n * 10 + (uint64_t)(v[i] - '0');
		if(n > max){
			return false;
		}
	}
	if(n < min){
		return false;
	}
	*out = (uint32_t)n;
	return true;
}

static int bad(const char *key, const char *value, const char *expected)
{
	mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid value for plugin_opt_%s: \"%s\" (expected %s)",
			key, value, expected);
	return MOSQ_ERR_INVAL;
}

int plugin__coexist_option(struct plugin__coexist_config *cfg, const char *key, const char *value)
{
	if(strcmp(key, "terminals") == 0){
		if(strcmp(value, "shared") == 0){
			cfg->terminals = PLUGIN_TERMINALS_SHARED;
		}else if(strcmp(value, "strict") == 0){
			cfg->terminals = PLUGIN_TERMINALS_STRICT;
		}else{
			return bad(key, value, "shared or strict");
		}
		return MOSQ_ERR_SUCCESS;
	}
	if(strcmp(key, "outside_acl") == 0){
		if(strcmp(value, "auto") == 0){
			cfg->outside_acl = PLUGIN_OUTSIDE_AUTO;
		}else if(strcmp(value, "allow") == 0){
			cfg->outside_acl = PLUGIN_OUTSIDE_ALLOW;
		}else if(strcmp(value, "defer") == 0){
			cfg->outside_acl = PLUGIN_OUTSIDE_DEFER;
		}else{
			return bad(key, value, "auto, allow or defer");
		}
		return MOSQ_ERR_SUCCESS;
	}
	if(strcmp(key, "state_file") == 0){
		return plugin__config_set_path(key, value, &cfg->state_file);
	}
	if(strcmp(key, "max_sessions_per_terminal") == 0){
		return parse_count(value, 1, SESSIONS_MAX, &cfg->max_sessions) ? MOSQ_ERR_SUCCESS
				: bad(key, value, "an integer from 1 to 1000");
	}
	if(strcmp(key, "max_terminals") == 0){
		return parse_count(value, 1, TERMINALS_MAX, &cfg->max_terminals) ? MOSQ_ERR_SUCCESS
				: bad(key, value, "an integer from 1 to 100000000");
	}
	if(strcmp(key, "session_expiry") == 0){
		return plugin__parse_duration(value, &cfg->session_expiry_s) ? MOSQ_ERR_SUCCESS
				: bad(key, value, "seconds, or a number followed by h, d, w, m or y; 0 for never");
	}
	return MOSQ_ERR_NOT_FOUND;
}

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

/*
 * Writes the state file when it is due (or force and anything changed): a
 * new or removed terminal or session within SAVE_INTERVAL_MS, moved
 * last-seen times within SEEN_SAVE_INTERVAL_MS, since a large registry is
 * megabytes to write and fsync on the broker's thread.
 */
static void save_if_due(struct plugin__data *data, int64_t now_ms, bool force)
{
	char err[ERR_LEN];
	bool dirty;
	bool stale;

	if(data->cfg.coexist.state_file == NULL || data->terminals == NULL){
		return;
	}
	dirty = cx_terminals_dirty(data->terminals);
	stale = cx_terminals_stale(data->terminals);
	if(!force && !(dirty && now_ms >= data->next_save_ms) && !(stale && now_ms >= data->next_seen_save_ms)){
		return;
	}
	if(!dirty && !stale){
		return;
	}
	data->next_save_ms = now_ms + SAVE_INTERVAL_MS;
	data->next_seen_save_ms = now_ms + SEEN_SAVE_INTERVAL_MS;
	if(cx_terminals_save(data->terminals, data->cfg.coexist.state_file, wall_now(), err, sizeof(err)) != 0){
		/* Kept dirty: the next attempt comes with the next change or tick. */
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot save known terminals to %s: %s",
				data->cfg.coexist.state_file, err);
	}
}

/* Decides data->outside_rc and logs why. */
static void decide_outside(struct plugin__data *data)
{
	const struct plugin__coexist_config *c = &data->cfg.coexist;
	struct brokerconf bc;
	Dl_info info;
	const char *self = NULL;

	if(dladdr((void *)plugin__disconnect, &info) != 0){
		self = info.dli_fname;
	}
	brokerconf_scan(&bc, self);
	/* Whether replies may go straight to their readers depends on the same configuration: delivery.c. */
	plugin__delivery_setup(data, &bc);
	if(bc.read && bc.plugins_before > 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: WARNING: %u plugin line(s) come before cardex's in %s (first: %s). Their ACL "
				"and authentication callbacks run first and can open the cardex namespace or let "
				"another client take a terminal's session: put cardex's plugin line first",
				bc.plugins_before, bc.file, bc.first_before);
	}
	if(bc.read && bc.password_files == 0 && bc.other_plugins == 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: WARNING: %s has no password_file and no authentication plugin: terminal IDs "
				"are usernames nobody checks, and Mosquitto 2.0.11 refuses every client that sends a "
				"username while cardex is loaded", bc.file);
	}
	switch(c->outside_acl){
	case PLUGIN_OUTSIDE_ALLOW:
		data->outside_rc = MOSQ_ERR_SUCCESS;
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: outside the namespace every ACL check is allowed "
				"(outside_acl allow)");
		return;
	case PLUGIN_OUTSIDE_DEFER:
		data->outside_rc = MOSQ_ERR_PLUGIN_DEFER;
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: outside the namespace ACL checks are left to the "
				"broker's acl_file and other plugins (outside_acl defer)");
		return;
	case PLUGIN_OUTSIDE_AUTO:
		break;
	}
	if(!bc.read){
		data->outside_rc = MOSQ_ERR_PLUGIN_DEFER;
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: WARNING: cannot tell what else decides about ACLs (%s): outside the namespace "
				"ACL checks are deferred, which Mosquitto 2.0.11 turns into \"denied\" when nothing "
				"else decides. Set plugin_opt_outside_acl allow (no acl_file, no other plugin) or "
				"defer to choose", bc.why);
		return;
	}
	if(bc.acl_files == 0 && bc.other_plugins == 0){
		data->outside_rc = MOSQ_ERR_SUCCESS;
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: %s has no acl_file and no other plugin: outside the "
				"namespace every ACL check is allowed, as without cardex (outside_acl auto)", bc.file);
		return;
	}
	data->outside_rc = MOSQ_ERR_PLUGIN_DEFER;
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: %s has %u acl_file line(s) and %u other plugin line(s): "
			"outside the namespace ACL checks are left to them (outside_acl auto)", bc.file, bc.acl_files,
			bc.other_plugins);
}

int plugin__coexist_setup(struct plugin__data *data)
{
	const struct plugin__coexist_config *c = &data->cfg.coexist;
	char err[ERR_LEN];
	char expiry[32];
	int rc;

	data->terminals = cx_terminals_new(c->max_terminals, c->max_sessions, c->session_expiry_s);
	if(data->terminals == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot create the terminal registry (out of memory "
				"or no entropy)");
		return MOSQ_ERR_NOMEM;
	}
	if(c->state_file != NULL){
		rc = cx_terminals_load(data->terminals, c->state_file, wall_now(), err, sizeof(err));
		if(rc < 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot load known terminals from %s: %s (move "
					"the file away to start with none, or fix it)", c->state_file, err);
			return MOSQ_ERR_INVAL;
		}
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: known terminals | %s %s: %zu terminal(s), %zu session(s)",
				rc == 1 ? "new state file" : "loaded from", c->state_file,
				cx_terminals_count(data->terminals), cx_terminals_sessions(data->terminals));
		/* Prove now that the file can be written, rather than at the first new terminal. */
		if(cx_terminals_save(data->terminals, c->state_file, wall_now(), err, sizeof(err)) != 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot write known terminals to %s: %s",
					c->state_file, err);
			return MOSQ_ERR_INVAL;
		}
	}else if(c->terminals == PLUGIN_TERMINALS_SHARED){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: WARNING: no plugin_opt_state_file: known terminals are kept in memory only. "
				"After a restart, until a terminal next uses cardex, any client may connect with its "
				"client ID, take over its session and wipe its queued replies; its session count "
				"starts again from zero");
	}
	if(c->session_expiry_s > 0){
		snprintf(expiry, sizeof(expiry), "%us", (unsigned)c->session_expiry_s);
	}else{
		snprintf(expiry, sizeof(expiry), "never");
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: terminals | mode=%s max_sessions_per_terminal=%u "
			"max_terminals=%u session_expiry=%s",
			c->terminals == PLUGIN_TERMINALS_STRICT ? "strict" : "shared", (unsigned)c->max_sessions,
			(unsigned)c->max_terminals, expiry);
	decide_outside(data);
	return MOSQ_ERR_SUCCESS;
}

void plugin__coexist_cleanup(struct plugin__data *data)
{
	save_if_due(data, 0, true);
	cx_terminals_free(data->terminals);
	data->terminals = NULL;
}

void plugin__coexist_tick(struct plugin__data *data, int64_t now_ms)
{
	data->ticking = true;
	if(now_ms >= data->next_sweep_ms){
		data->next_sweep_ms = now_ms + SWEEP_INTERVAL_MS;
		cx_terminals_sweep(data->terminals, wall_now());
	}
	save_if_due(data, now_ms, false);
}

/* plugin__terminal_touch for the session client_id; client is needed only when acting. */
static bool touch_session(struct plugin__data *data, const struct mosquitto *client, const char *client_id,
		const char *id, bool acting)
{
	int64_t now_ms;
	cx_term_result r;

	r = cx_terminals_touch(data->terminals, id, client_id, acting, wall_now());
	if(r == CX_TERM_OK){
		if(acting && data->redis != NULL){
			/* store redis: replies for id now come to this broker. */
			plugin__redis_present(data, client, id);
		}
		/* TICK saves; without ticks (per_listener_settings true in 2.0.11), this does. */
		if(!data->ticking){
			save_if_due(data, plugin__now_ms(), false);
		}
		return true;
	}
	now_ms = plugin__now_ms();
	if(now_ms >= data->next_warn_ms){
		data->next_warn_ms = now_ms + PLUGIN_ALARM_INTERVAL_MS;
		if(r == CX_TERM_FULL){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: terminal %s already holds %u sessions "
					"(max_sessions_per_terminal): client %s gets nothing in the namespace", id,
					(unsigned)data->cfg.coexist.max_sessions, client_id);
		}else if(r == CX_TERM_CAPACITY){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: limit max_terminals (%u) reached: terminal "
					"%s gets nothing in the namespace", (unsigned)data->cfg.coexist.max_terminals, id);
		}else{
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		}
	}
	return false;
}

bool plugin__terminal_touch(struct plugin__data *data, const struct mosquitto *client, const char *id,
		bool acting)
{
	const char *client_id = mosquitto_client_id(client);

	return client_id != NULL && touch_session(data, client, client_id, id, acting);
}

bool plugin__session_reads(struct plugin__data *data, const char *id, const char *client_id)
{
	return touch_session(data, NULL, client_id, id, false);
}

/*
 * RELOAD (SIGHUP): Mosquitto has read its configuration again and is about
 * to load a new acl_file, whose callback it registers after every plugin's.
 * An "allow" chosen when there was none would then answer before it, so
 * auto decides again. Returns MOSQ_ERR_PLUGIN_DEFER: in 2.0.11 any other
 * answer ends the reload loop early, skipping the other plugins' reload
 * callbacks and the v4 plugins' security_init.
 */
int plugin__reload(int event, void *event_data, void *userdata)
{
	struct plugin__data *data = userdata;

	(void)event;
	(void)event_data;
	decide_outside(data);
	return MOSQ_ERR_PLUGIN_DEFER;
}

/*
 * DISCONNECT: a session of a known terminal was seen now. An MQTT 3.x
 * clean session ends with its connection, so it no longer counts; an MQTT 5
 * session's expiry interval is not visible to plugins in 2.0.11, so it
 * counts until session_expiry.
 */
int plugin__disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;
	struct plugin__data *data = userdata;
	const char *id;
	bool forget;

	(void)event;
	plugin__delivery_gone(data, ed->client);
	if(data->redis != NULL){
		plugin__redis_disconnect(data, ed->client);
	}
	id = plugin__identity(ed->client);
	if(id == NULL){
		return MOSQ_ERR_SUCCESS;
	}
	forget = mosquitto_client_protocol_version(ed->client) != 5 && mosquitto_client_clean_session(ed->client);
	cx_terminals_disconnect(data->terminals, id, mosquitto_client_id(ed->client), forget, wall_now());
	if(!data->ticking){
		save_if_due(data, plugin__now_ms(), false);
	}
	return MOSQ_ERR_SUCCESS;
}
