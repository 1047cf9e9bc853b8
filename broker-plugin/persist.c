/*
 * Offers, exchanges and limits across a clean restart: the engine's state
 * is written at the plugin's cleanup (the broker stopping on SIGTERM or
 * SIGINT) and read back at its init, so that terminals finish what they
 * started and an attacker's failure windows do not start again from zero.
 *
 * Where: plugin_opt_persist_file (an absolute path, or "none"); without
 * it, when the broker persists (persistence true), beside the broker's own
 * persistence file, as "<that file>.cardex" (/var/lib/mosquitto/
 * mosquitto.db.cardex on Debian), so that two brokers sharing a directory
 * with different persistence files keep theirs apart.
 *
 * The file holds the MACs of live instant keys and the MAC key: with both,
 * a short key is found by trying them all, so the file is as secret as the
 * keys while its offers live (mode 0600, read into memory that is wiped).
 * It is removed once the restarted broker serves (plugin__persist_started),
 * so that a crash later cannot bring back offers used since; a crash
 * (kill -9, power loss) therefore loses the state, as Mosquitto loses what
 * came after its last save, and terminals start their exchange again.
 */
#define _GNU_SOURCE /* dladdr */

#include <dlfcn.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "brokerconf.h"
#include "crypto.h"
#include "plugin.h"
#include "statefile.h"

#define PERSIST_SUFFIX ".cardex"
#define ERR_LEN 512

int plugin__persist_option(struct plugin__persist_config *cfg, const char *value)
{
	int rc;

	if(strcmp(value, "none") == 0){
		free(cfg->file);
		cfg->file = NULL;
		cfg->mode = PLUGIN_PERSIST_NONE;
		return MOSQ_ERR_SUCCESS;
	}
	rc = plugin__config_set_path("persist_file", value, &cfg->file);
	if(rc == MOSQ_ERR_SUCCESS){
		cfg->mode = PLUGIN_PERSIST_FILE;
	}
	return rc;
}

void plugin__persist_config_free(struct plugin__persist_config *cfg)
{
	free(cfg->file);
	cfg->file = NULL;
	cfg->mode = PLUGIN_PERSIST_AUTO;
}

/* The wall clock in Unix milliseconds: the downtime between save and load is counted in it. */
static int64_t wall_ms(void)
{
	struct timespec ts;

	if(clock_gettime(CLOCK_REALTIME, &ts) != 0){
		return 0;
	}
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * "<the broker's persistence file><suffix>", malloc'ed: the path Mosquitto
 * 2.0.11 builds (conf.c: persistence_location + "/" + persistence_file, the
 * file alone without a location, "mosquitto.db" by default), made absolute
 * against the working directory, as Mosquitto opens it. NULL when out of
 * memory or too long (why says which).
 */
char *plugin__persist_beside(const struct brokerconf *bc, const char *suffix, const char **why)
{
	const char *file = bc->persistence_file[0] != '\0' ? bc->persistence_file : "mosquitto.db";
	const char *loc = bc->persistence_location;
	size_t loclen = strlen(loc);
	/* "/var/lib/mosquitto/" is the usual spelling: no second slash after it. */
	const char *sep = loclen > 0 && loc[loclen - 1] != '/' ? "/" : "";
	char cwd[PATH_MAX];
	char *path = malloc(CX_STATEFILE_PATH_MAX);
	int n;

	*why = "out of memory";
	if(path == NULL){
		return NULL;
	}
	n = snprintf(path, CX_STATEFILE_PATH_MAX, "%s%s%s%s", loc, sep, file, suffix);
	if(n > 0 && path[0] != '/'){
		if(getcwd(cwd, sizeof(cwd)) == NULL){
			*why = "the working directory cannot be found";
			free(path);
			return NULL;
		}
		n = snprintf(path, CX_STATEFILE_PATH_MAX, "%s/%s%s%s%s", cwd, loc, sep, file, suffix);
	}
	if(n < 0 || n >= CX_STATEFILE_PATH_MAX){
		*why = "the path is too long";
		free(path);
		return NULL;
	}
	return path;
}

/*
 * Sets data->persist_path as the options and the broker's configuration
 * say (NULL: none), logging the choice. Returns MOSQ_ERR_SUCCESS, or
 * MOSQ_ERR_NOMEM or MOSQ_ERR_INVAL (a path too long) after logging.
 */
static int choose_path(struct plugin__data *data)
{
	const struct plugin__persist_config *c = &data->cfg.persist;
	struct brokerconf bc;
	const char *self = NULL, *why;
	Dl_info info;

	/* store redis: offers and exchanges live in Redis and outlive any broker. */
	if(data->cfg.store == PLUGIN_STORE_REDIS){
		if(c->mode == PLUGIN_PERSIST_FILE){
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: plugin_opt_persist_file has no use with "
					"plugin_opt_store redis, which keeps offers and exchanges in Redis: remove it");
			return MOSQ_ERR_INVAL;
		}
		return MOSQ_ERR_SUCCESS;
	}
	switch(c->mode){
	case PLUGIN_PERSIST_NONE:
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: persistence | off (plugin_opt_persist_file none): "
				"pending offers and open exchanges are lost when the broker stops");
		return MOSQ_ERR_SUCCESS;
	case PLUGIN_PERSIST_FILE:
		data->persist_path = strdup(c->file);
		why = "out of memory";
		break;
	case PLUGIN_PERSIST_AUTO:
	default:
		if(dladdr((void *)plugin__persist_setup, &info) != 0){
			self = info.dli_fname;
		}
		brokerconf_scan(&bc, self);
		if(!bc.read){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: WARNING: cannot tell whether the broker persists "
					"(%s): pending offers and open exchanges are lost when it stops. Set "
					"plugin_opt_persist_file to keep them", bc.why);
			return MOSQ_ERR_SUCCESS;
		}
		if(!bc.persistence){
			mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: persistence | off (the broker's persistence is "
					"off): pending offers and open exchanges are lost when the broker stops");
			return MOSQ_ERR_SUCCESS;
		}
		data->persist_path = plugin__persist_beside(&bc, PERSIST_SUFFIX, &why);
		break;
	}
	if(data->persist_path == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot place the file for offers and exchanges: %s", why);
		return strcmp(why, "out of memory") == 0 ? MOSQ_ERR_NOMEM : MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

/* Loads the file at data->persist_path into the engine. Returns MOSQ_ERR_SUCCESS or MOSQ_ERR_INVAL (logged). */
static int load(struct plugin__data *data)
{
	char err[ERR_LEN];
	unsigned char *buf = NULL;
	size_t len = 0;
	cx_engine_loaded st;
	uint64_t max = cx_engine_saved_max(&data->cfg.limits);
	int rc;

	rc = cx_statefile_read(data->persist_path, max > SIZE_MAX ? SIZE_MAX : (size_t)max, &buf, &len, err,
			sizeof(err));
	if(rc == 1){
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: persistence | no saved offers and exchanges in %s: "
				"starting with none", data->persist_path);
		return MOSQ_ERR_SUCCESS;
	}
	if(rc == 0){
		rc = cx_engine_load(data->engine, plugin__now_ms(), wall_ms(), buf, len, &st, err, sizeof(err));
		cx_wipe(buf, len);
		free(buf);
	}
	if(rc != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot load saved offers and exchanges from %s: %s "
				"(move the file away to start without them)", data->persist_path, err);
		return MOSQ_ERR_INVAL;
	}
	data->persist_loaded = true;
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: persistence | loaded from %s, saved %" PRId64 " s before: "
			"%zu offer(s), %zu exchange(s), %zu failure window(s), %zu remembered claim(s), %zu held "
			"notice(s); %zu offer(s) and exchange(s) expired meanwhile (their terminals are told), %zu "
			"entries over the limits left out", data->persist_path, st.downtime_ms / 1000, st.offers,
			st.exchanges, st.limiters, st.recent_claims, st.notices, st.expired, st.dropped);
	if(st.dropped > 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: %zu saved entries were left out: the file holds more "
				"than max_offers, max_exchanges or max_limiters allow now", st.dropped);
	}
	return MOSQ_ERR_SUCCESS;
}

int plugin__persist_setup(struct plugin__data *data)
{
	char err[ERR_LEN];
	cx_statefile f;
	int rc;

	rc = choose_path(data);
	if(rc != MOSQ_ERR_SUCCESS || data->persist_path == NULL){
		return rc;
	}
	/* Prove now that the file can be written at the stop, when nothing can be done about it. */
	if(cx_statefile_begin(&f, data->persist_path, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot write offers and exchanges beside %s: %s (give "
				"the broker's user write access to the directory, or set plugin_opt_persist_file)",
				data->persist_path, err);
		return MOSQ_ERR_INVAL;
	}
	cx_statefile_abort(&f);
	rc = load(data);
	if(rc != MOSQ_ERR_SUCCESS){
		return rc;
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: persistence | pending offers and open exchanges are saved "
			"to %s when the broker stops", data->persist_path);
	return MOSQ_ERR_SUCCESS;
}

void plugin__persist_started(struct plugin__data *data)
{
	char err[ERR_LEN];

	data->persist_loaded = false;
	if(cx_statefile_remove(data->persist_path, err, sizeof(err)) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: %s: after a crash the broker would load offers and "
				"exchanges that may have been used since; remove the file by hand", err);
	}
}

void plugin__persist_save(struct plugin__data *data)
{
	char err[ERR_LEN];
	cx_engine_stats st;
	cx_statefile f;

	if(data->persist_path == NULL || data->engine == NULL){
		return;
	}
	if(cx_statefile_begin(&f, data->persist_path, err, sizeof(err)) != 0){
		goto failed;
	}
	if(cx_engine_save(data->engine, plugin__now_ms(), wall_ms(), cx_statefile_write, &f) != 0){
		/* The commit names the failed write; a failure of the engine's own is memory. */
		if(f.err == 0){
			snprintf(err, sizeof(err), "out of memory");
			cx_statefile_abort(&f);
			goto failed;
		}
	}
	if(cx_statefile_commit(&f, err, sizeof(err)) != 0){
		goto failed;
	}
	cx_engine_get_stats(data->engine, &st);
	mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: persistence | saved %zu offer(s), %zu exchange(s), %zu "
			"failure window(s) and %zu remembered claim(s) to %s", st.offers, st.exchanges,
			st.limiters + st.address_limiters, st.recent_claims, data->persist_path);
	return;

failed:
	mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot save offers and exchanges to %s: %s; they are lost",
			data->persist_path, err);
}
