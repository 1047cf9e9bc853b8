/*
 * Terminals disabled or deleted in Mosquitto's dynamic-security plugin lose
 * their pending offer.
 *
 * On disableClient and deleteClient, dynamic security kicks the client's
 * connections (mosquitto_kick_client_by_username) and refuses it from then
 * on, so a disabled terminal can no longer claim. Its pending offer would
 * still be claimable until it expires, and the plugin cannot tell from
 * the kick itself: in Mosquitto 2.0.11 the DISCONNECT event carries reason
 * -1 for every disconnection, a kick looks like a dropped connection, and
 * dynamic security answers control commands to their sender only. What
 * dynamic security does right after the kick, in the same call, is save its
 * configuration file (written to "<file>.new", then renamed over the file).
 *
 * So, given the same path (plugin_opt_dynsec_config_file), the plugin
 * looks at the file's identity (device, inode, size, mtime) every
 * PLUGIN_DYNSEC_CHECK_MS from the TICK callback, and when it changed reads
 * the clients: the offer of every client marked "disabled" and of every
 * client present at the previous read and gone now is withdrawn (the
 * terminal gets "revoked" with reason "withdrawn" once it may connect
 * again). The next tick comes within about 100 ms of the kick.
 *
 * The file holds password hashes: its bytes and the parsed tree are wiped
 * after reading.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto.h"
#include "json.h"
#include "plugin.h"

#define DYNSEC_FILE_MAX (64u * 1024 * 1024)

/* A client of the configuration that is a terminal. */
struct client {
	char *id; /* malloc'ed */
	bool disabled;
};

/* The clients read from a file, sorted by ID. */
struct client_list {
	struct client *v;
	size_t n;
};

static void list_free(struct client_list *l)
{
	for(size_t i = 0; i < l->n; i++){
		free(l->v[i].id);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int cmp_clients(const void *a, const void *b)
{
	return strcmp(((const struct client *)a)->id, ((const struct client *)b)->id);
}

static bool list_contains(const struct client_list *l, const char *id)
{
	struct client key = {.id = (char *)id, .disabled = false};

	return l->n > 0 && bsearch(&key, l->v, l->n, sizeof(*l->v), cmp_clients) != NULL;
}

/*
 * Reads the whole file into a malloc'ed buffer (*len bytes, NUL added).
 * Returns NULL with *why set when it cannot be read or is too large.
 */
static char *read_file(const char *path, size_t *len, const char **why)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if(fp == NULL){
		*why = strerror(errno);
		return NULL;
	}
	if(fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0){
		*why = "cannot find its size";
		goto cleanup;
	}
	if((unsigned long)size > DYNSEC_FILE_MAX){
		*why = "larger than 64 MiB";
		goto cleanup;
	}
	buf = malloc((size_t)size + 1);
	if(buf == NULL){
		*why = "out of memory";
		goto cleanup;
	}
	if(fread(buf, 1, (size_t)size, fp) != (size_t)size){
		cx_wipe(buf, (size_t)size);
		free(buf);
		buf = NULL;
		*why = "read error";
		goto cleanup;
	}
	buf[size] = '\0';
	*len = (size_t)size;
cleanup:
	fclose(fp);
	return buf;
}

/*
 * Fills l with the clients of the configuration in text: usernames that are
 * valid terminal IDs, sorted, and whether each is disabled. Returns NULL, or
 * a static reason when the text is not such a configuration (l is empty).
 */
static const char *parse_clients(const char *text, size_t len, struct client_list *l)
{
	const char *why = NULL;
	const cJSON *clients;
	const cJSON *c;
	cJSON *root;
	size_t cap;

	memset(l, 0, sizeof(*l));
	root = cx_json_parse_object(text, len, &why);
	if(root == NULL){
		return why != NULL ? why : "not a JSON object";
	}
	if(cx_json_member(root, "clients", &clients) != CX_JSON_OK){
		clients = NULL; /* A configuration without clients has none. */
	}else if(!cJSON_IsArray(clients)){
		why = "\"clients\" is not an array";
		goto cleanup;
	}
	cap = clients != NULL ? (size_t)cJSON_GetArraySize(clients) : 0;
	if(cap > 0){
		l->v = calloc(cap, sizeof(*l->v));
		if(l->v == NULL){
			why = "out of memory";
			goto cleanup;
		}
	}
	cJSON_ArrayForEach(c, clients){
		const char *name = NULL;
		size_t namelen = 0;
		bool disabled = false;

		if(cx_json_get_string(c, "username", &name, &namelen) != CX_JSON_OK || !cx_id_valid(name, namelen)){
			continue; /* Not a terminal: none of cardex's business. */
		}
		if(cx_json_get_bool(c, "disabled", &disabled) == CX_JSON_BAD){
			disabled = false;
		}
		l->v[l->n].id = strdup(name);
		if(l->v[l->n].id == NULL){
			why = "out of memory";
			goto cleanup;
		}
		l->v[l->n++].disabled = disabled;
	}
	if(l->n > 1){
		qsort(l->v, l->n, sizeof(*l->v), cmp_clients);
	}
cleanup:
	cx_json_delete(root);
	if(why != NULL){
		list_free(l);
	}
	return why;
}

static void withdraw(struct plugin__data *data, int64_t now_ms, const char *id, const char *what)
{
	if(cx_engine_withdraw(data->engine, now_ms, id)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "cardex: offer withdrawn | terminal=%s reason=%s", id, what);
	}
}

/* Reads the file; on success withdraws what changed (when act) and keeps its clients. */
static void reload(struct plugin__data *data, int64_t now_ms, bool act)
{
	struct plugin__dynsec_state *st = &data->dynsec;
	struct client_list l;
	const char *why = NULL;
	size_t len = 0;
	char *text = read_file(data->cfg.dynsec_file, &len, &why);

	if(text == NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: cannot read plugin_opt_dynsec_config_file %s: %s",
				data->cfg.dynsec_file, why);
		return;
	}
	why = parse_clients(text, len, &l);
	cx_wipe(text, len);
	free(text);
	if(why != NULL){
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: cannot read the clients of plugin_opt_dynsec_config_file %s: %s",
				data->cfg.dynsec_file, why);
		return;
	}
	if(act){
		for(size_t i = 0; i < l.n; i++){
			if(l.v[i].disabled){
				withdraw(data, now_ms, l.v[i].id, "disabled");
			}
		}
		for(size_t i = 0; i < st->nclients; i++){
			if(!list_contains(&l, st->clients[i])){
				withdraw(data, now_ms, st->clients[i], "deleted");
			}
		}
	}
	/* Keep the IDs (sorted already) for the next comparison. */
	plugin__dynsec_free(st);
	st->clients = malloc((l.n > 0 ? l.n : 1) * sizeof(*st->clients));
	if(st->clients == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory reading plugin_opt_dynsec_config_file");
		list_free(&l);
		return;
	}
	for(size_t i = 0; i < l.n; i++){
		st->clients[i] = l.v[i].id;
	}
	st->nclients = l.n;
	free(l.v);
}

/* True when the file's identity differs from the one last seen (and records the new one). */
static bool changed(struct plugin__dynsec_state *st, const char *path)
{
	struct stat sb;
	bool was_present = st->present;

	if(stat(path, &sb) != 0){
		st->present = false;
		return false; /* Missing for now: keep what was read; dynamic security renames a new one in. */
	}
	st->present = true;
	if(was_present && st->dev == (unsigned long long)sb.st_dev && st->ino == (unsigned long long)sb.st_ino
			&& st->size == (unsigned long long)sb.st_size && st->mtime_s == (long long)sb.st_mtim.tv_sec
			&& st->mtime_ns == (long long)sb.st_mtim.tv_nsec){
		return false;
	}
	st->dev = (unsigned long long)sb.st_dev;
	st->ino = (unsigned long long)sb.st_ino;
	st->size = (unsigned long long)sb.st_size;
	st->mtime_s = (long long)sb.st_mtim.tv_sec;
	st->mtime_ns = (long long)sb.st_mtim.tv_nsec;
	return true;
}

void plugin__dynsec_init(struct plugin__data *data)
{
	struct plugin__dynsec_state *st = &data->dynsec;

	if(data->cfg.dynsec_file == NULL){
		return;
	}
	if(changed(st, data->cfg.dynsec_file)){
		reload(data, 0, false);
	}else{
		mosquitto_log_printf(MOSQ_LOG_WARNING,
				"cardex: plugin_opt_dynsec_config_file %s does not exist (yet); watching for it",
				data->cfg.dynsec_file);
	}
	mosquitto_log_printf(MOSQ_LOG_INFO,
			"cardex: watching %s: offers of terminals disabled or deleted there are withdrawn (%zu terminals)",
			data->cfg.dynsec_file, st->nclients);
}

void plugin__dynsec_check(struct plugin__data *data, int64_t now_ms)
{
	struct plugin__dynsec_state *st = &data->dynsec;

	if(data->cfg.dynsec_file == NULL || now_ms < st->next_ms){
		return;
	}
	st->next_ms = now_ms + PLUGIN_DYNSEC_CHECK_MS;
	if(changed(st, data->cfg.dynsec_file)){
		reload(data, now_ms, true);
	}
}

void plugin__dynsec_free(struct plugin__dynsec_state *st)
{
	for(size_t i = 0; i < st->nclients; i++){
		free(st->clients[i]);
	}
	free(st->clients);
	st->clients = NULL;
	st->nclients = 0;
}
