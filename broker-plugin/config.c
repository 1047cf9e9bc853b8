/*
 * plugin_opt_* parsing. Every option is checked strictly at start: a typo in
 * an option name or value stops the broker with one clear log line rather
 * than running with a limit the operator did not mean.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "plugin.h"
#include "topic.h"

#define MQTT_TOPIC_MAX 65535u

/* A numeric option: where it goes inside struct plugin__config and its range. */
struct num_opt {
	const char *name;
	size_t offset; /* of a uint32_t inside struct plugin__config */
	uint32_t min;
	uint32_t max;
};

static const struct num_opt num_opts[] = {
	{"key_ttl_default", offsetof(struct plugin__config, limits.ttl_default_s), CX_TTL_MIN, CX_TTL_MAX},
	{"key_ttl_max", offsetof(struct plugin__config, limits.ttl_max_s), CX_TTL_MIN, CX_TTL_MAX},
	{"key_digits_min", offsetof(struct plugin__config, limits.key_digits_min), CX_KEY_DIGITS_MIN,
			CX_KEY_DIGITS_MAX},
	{"attempts", offsetof(struct plugin__config, limits.attempts), 1, 100},
	{"exchange_ttl", offsetof(struct plugin__config, limits.exchange_ttl_s), 10, 3600},
	{"max_payload", offsetof(struct plugin__config, max_payload), 1024, 1048576},
	{"claim_failures_per_min", offsetof(struct plugin__config, limits.claim_failures_per_min), 1,
			10000},
	{"max_offers", offsetof(struct plugin__config, limits.max_offers), 1, UINT32_MAX},
	{"max_exchanges", offsetof(struct plugin__config, limits.max_exchanges), 1, UINT32_MAX},
	{"claim_failures_per_min_per_address",
			offsetof(struct plugin__config, limits.claim_failures_per_min_per_address), 1, 1000000},
	{"claim_failures_per_min_total", offsetof(struct plugin__config, limits.claim_failures_per_min_total),
			1, 100000000},
	{"max_limiters", offsetof(struct plugin__config, limits.max_limiters), 2, UINT32_MAX},
	{"error_replies_per_sec", offsetof(struct plugin__config, limits.error_replies_per_sec), 1, 100000},
	{"stats_interval", offsetof(struct plugin__config, stats_interval_s), 0, 86400},
	{"redis_port", offsetof(struct plugin__config, redis.port), 1, 65535},
	{"redis_timeout_ms", offsetof(struct plugin__config, redis.timeout_ms), 100, 10000},
	{"redis_queue", offsetof(struct plugin__config, redis.queue), 16, 1000000},
	{"redis_inbox_max", offsetof(struct plugin__config, redis.inbox_max), 1, 100000},
	{"redis_inbox_ttl", offsetof(struct plugin__config, redis.inbox_ttl_s), 60, 604800},
};
#define NNUM_OPTS (sizeof(num_opts) / sizeof(num_opts[0]))

/*
 * Parses a plain decimal number (digits only: no sign, no blanks) into *out.
 * Returns false when value is not one or the number exceeds UINT32_MAX.
 */
static bool parse_u32(const char *value, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if(value[0] == '\0'){
		return false;
	}
	for(i = 0; value[i] != '\0'; i++){
		if(value[i] < '0' || value[i] > '9'){
			return false;
		}
		v = v * 10 + (uint64_t)(value[i] - '0');
		if(v > UINT32_MAX){
			return false;
		}
	}
	*out = (uint32_t)v;
	return true;
}

/* Stores a numeric option. Returns MOSQ_ERR_INVAL after logging a bad value. */
static int set_num(struct plugin__config *cfg, const struct num_opt *opt, const char *value)
{
	uint32_t v;

	if(!parse_u32(value, &v) || v < opt->min || v > opt->max){
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: invalid value for plugin_opt_%s: \"%s\" (expected an integer from %u to %u)",
				opt->name, value, (unsigned)opt->min, (unsigned)opt->max);
		return MOSQ_ERR_INVAL;
	}
	memcpy((char *)cfg + opt->offset, &v, sizeof(v));
	return MOSQ_ERR_SUCCESS;
}

/* Why value cannot be a topic prefix, or NULL when it can. */
static const char *prefix_problem(const char *value)
{
	size_t len = strlen(value);

	if(len == 0 || value[len - 1] != '/'){
		return "must end with '/'";
	}
	if(len > MQTT_TOPIC_MAX - CX_TOPIC_BASE_MAX){
		return "is too long";
	}
	if(mosquitto_validate_utf8(value, (int)len) != MOSQ_ERR_SUCCESS){
		return "is not valid UTF-8";
	}
	if(mosquitto_pub_topic_check(value) != MOSQ_ERR_SUCCESS){
		return "must be a topic without wildcards";
	}
	/* The broker refuses client publishes under these, so nothing could reach the plugin. */
	if(strncmp(value, "$SYS/", 5) == 0 || strncmp(value, "$share/", 7) == 0){
		return "must not start with $SYS/ or $share/";
	}
	return NULL;
}

/* Replaces cfg->prefix. Returns MOSQ_ERR_INVAL after logging, or MOSQ_ERR_NOMEM. */
static int set_prefix(struct plugin__config *cfg, const char *value)
{
	const char *why = prefix_problem(value);
	char *copy;

	if(why != NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid value for plugin_opt_topic_prefix: \"%s\" (%s)",
				value, why);
		return MOSQ_ERR_INVAL;
	}
	copy = strdup(value);
	if(copy == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		return MOSQ_ERR_NOMEM;
	}
	free(cfg->prefix);
	cfg->prefix = copy;
	cfg->prefixlen = strlen(copy);
	return MOSQ_ERR_SUCCESS;
}

int plugin__config_set_path(const char *key, const char *value, char **out)
{
	char *copy;

	if(value[0] != '/'){
		/* Mosquitto may change directory (daemon mode): only an absolute path is certain. */
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: invalid value for plugin_opt_%s: \"%s\" (must be an absolute path)", key, value);
		return MOSQ_ERR_INVAL;
	}
	copy = strdup(value);
	if(copy == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		return MOSQ_ERR_NOMEM;
	}
	free(*out);
	*out = copy;
	return MOSQ_ERR_SUCCESS;
}

/* A boolean option: true/false (also on/off, yes/no, 1/0). Returns MOSQ_ERR_INVAL after logging. */
static int set_bool(const char *name, const char *value, bool *out)
{
	if(strcmp(value, "true") == 0 || strcmp(value, "on") == 0 || strcmp(value, "yes") == 0
			|| strcmp(value, "1") == 0){
		*out = true;
		return MOSQ_ERR_SUCCESS;
	}
	if(strcmp(value, "false") == 0 || strcmp(value, "off") == 0 || strcmp(value, "no") == 0
			|| strcmp(value, "0") == 0){
		*out = false;
		return MOSQ_ERR_SUCCESS;
	}
	mosquitto_log_printf(MOSQ_LOG_ERR,
			"cardex: invalid value for plugin_opt_%s: \"%s\" (expected true or false)", name, value);
	return MOSQ_ERR_INVAL;
}

/* Replaces *out with a copy of value. Returns MOSQ_ERR_NOMEM after logging. */
static int set_str(const char *value, char **out)
{
	char *copy = strdup(value);

	if(copy == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		return MOSQ_ERR_NOMEM;
	}
	if(*out != NULL){
		cx_wipe_str(*out);
		free(*out);
	}
	*out = copy;
	return MOSQ_ERR_SUCCESS;
}

/*
 * True when value is 1..64 bytes of printable ASCII without blanks or
 * braces (ids: only A-Z a-z 0-9 . _ -): a Redis key prefix, or a broker ID
 * that becomes part of a channel name.
 */
static bool name_valid(const char *value, bool ids)
{
	size_t len = strlen(value);

	if(len == 0 || len > 64){
		return false;
	}
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)value[i];
		if(ids ? !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
				|| c == '.' || c == '_' || c == '-')
				: (c <= ' ' || c >= 0x7f || c == '{' || c == '}')){
			return false;
		}
	}
	return true;
}

/*
 * The options of store redis (docs/protocol.md §11.1). Returns
 * MOSQ_ERR_NOT_FOUND for a key that is not one of them, else as set_option.
 * The password is never logged.
 */
static int set_store_option(struct plugin__config *cfg, const char *key, const char *value)
{
	struct plugin__redis_config *r = &cfg->redis;

	if(strcmp(key, "store") == 0){
		if(strcmp(value, "memory") == 0 || strcmp(value, "redis") == 0){
			cfg->store = value[0] == 'm' ? PLUGIN_STORE_MEMORY : PLUGIN_STORE_REDIS;
			return MOSQ_ERR_SUCCESS;
		}
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: invalid value for plugin_opt_store: \"%s\" (expected memory or redis)", value);
		return MOSQ_ERR_INVAL;
	}
	if(strcmp(key, "redis_password") == 0){
		if(value[0] == '\0'){
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid value for plugin_opt_redis_password: empty");
			return MOSQ_ERR_INVAL;
		}
		return set_str(value, &r->password);
	}
	if(strcmp(key, "redis_socket") == 0){
		return plugin__config_set_path(key, value, &r->socket);
	}
	if(strcmp(key, "redis_host") == 0 || strcmp(key, "redis_prefix") == 0 || strcmp(key, "broker_id") == 0){
		bool ids = strcmp(key, "broker_id") == 0;
		if(!name_valid(value, ids)){
			mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid value for plugin_opt_%s: \"%s\" (%s)", key, value,
					ids ? "expected 1..64 characters A-Z a-z 0-9 . _ -"
					: "expected 1..64 printable characters without blanks or braces");
			return MOSQ_ERR_INVAL;
		}
		return set_str(value, key[0] == 'b' ? &r->broker_id : key[6] == 'h' ? &r->host : &r->prefix);
	}
	return MOSQ_ERR_NOT_FOUND;
}

/* Applies one option. Returns MOSQ_ERR_INVAL after logging an unknown name or bad value. */
static int set_option(struct plugin__config *cfg, const char *key, const char *value)
{
	int rc;

	if(strcmp(key, "topic_prefix") == 0){
		return set_prefix(cfg, value);
	}
	if(strcmp(key, "dynsec_config_file") == 0){
		return plugin__config_set_path(key, value, &cfg->dynsec_file);
	}
	if(strcmp(key, "persist_file") == 0){
		return plugin__persist_option(&cfg->persist, value);
	}
	if(strcmp(key, "require_sealed") == 0){
		return set_bool(key, value, &cfg->limits.require_sealed);
	}
	if(strcmp(key, "replies") == 0){
		if(strcmp(value, "auto") != 0 && strcmp(value, "routed") != 0){
			mosquitto_log_printf(MOSQ_LOG_ERR,
					"cardex: invalid value for plugin_opt_replies: \"%s\" (expected auto or routed)", value);
			return MOSQ_ERR_INVAL;
		}
		cfg->replies = value[0] == 'a' ? PLUGIN_REPLIES_AUTO : PLUGIN_REPLIES_ROUTED;
		return MOSQ_ERR_SUCCESS;
	}
	for(size_t i = 0; i < NNUM_OPTS; i++){
		if(strcmp(key, num_opts[i].name) == 0){
			return set_num(cfg, &num_opts[i], value);
		}
	}
	rc = plugin__proxy_option(&cfg->proxies, key, value);
	if(rc != MOSQ_ERR_NOT_FOUND){
		return rc;
	}
	rc = set_store_option(cfg, key, value);
	if(rc != MOSQ_ERR_NOT_FOUND){
		return rc;
	}
	/* Sharing the broker with other clients: coexist.c. */
	rc = plugin__coexist_option(&cfg->coexist, key, value);
	if(rc != MOSQ_ERR_NOT_FOUND){
		return rc;
	}
	mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: unknown option plugin_opt_%s", key);
	return MOSQ_ERR_INVAL;
}

/* Checks the relations between options. Returns MOSQ_ERR_INVAL after logging. */
static int check_relations(const struct plugin__config *cfg)
{
	const char *why;

	if(cfg->limits.ttl_default_s > cfg->limits.ttl_max_s){
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: invalid value for plugin_opt_key_ttl_default: %u is above key_ttl_max (%u)",
				(unsigned)cfg->limits.ttl_default_s, (unsigned)cfg->limits.ttl_max_s);
		return MOSQ_ERR_INVAL;
	}
	if(cfg->store == PLUGIN_STORE_REDIS && cfg->redis.broker_id == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR,
				"cardex: plugin_opt_store redis needs plugin_opt_broker_id, unique among the brokers sharing the Redis");
		return MOSQ_ERR_INVAL;
	}
	why = cx_limits_check(&cfg->limits);
	if(why != NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: invalid plugin options: %s", why);
		return MOSQ_ERR_INVAL;
	}
	return MOSQ_ERR_SUCCESS;
}

int plugin__config_parse(struct plugin__config *cfg, const struct mosquitto_opt *opts, int nopts)
{
	int rc = MOSQ_ERR_NOMEM;

	memset(cfg, 0, sizeof(*cfg));
	cx_limits_default(&cfg->limits);
	cfg->max_payload = PLUGIN_MAX_PAYLOAD_DEFAULT;
	cfg->stats_interval_s = PLUGIN_STATS_INTERVAL_DEFAULT;
	cfg->redis.port = 6379;
	cfg->redis.timeout_ms = 500;
	cfg->redis.queue = 4096;
	cfg->redis.inbox_max = 256;
	cfg->redis.inbox_ttl_s = 3600;
	plugin__coexist_config_default(&cfg->coexist);
	cfg->prefix = strdup("");
	if(cfg->prefix == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		goto cleanup;
	}

	for(int i = 0; i < nopts; i++){
		if(opts[i].key == NULL || opts[i].value == NULL){
			continue;
		}
		rc = set_option(cfg, opts[i].key, opts[i].value);
		if(rc != MOSQ_ERR_SUCCESS){
			goto cleanup;
		}
	}
	rc = check_relations(cfg);
	if(rc != MOSQ_ERR_SUCCESS){
		goto cleanup;
	}
	return MOSQ_ERR_SUCCESS;

cleanup:
	plugin__config_free(cfg);
	return rc;
}

void plugin__config_free(struct plugin__config *cfg)
{
	plugin__coexist_config_free(&cfg->coexist);
	free(cfg->prefix);
	cfg->prefix = NULL;
	cfg->prefixlen = 0;
	free(cfg->dynsec_file);
	cfg->dynsec_file = NULL;
	plugin__persist_config_free(&cfg->persist);
	if(cfg->redis.password != NULL){
		cx_wipe_str(cfg->redis.password);
	}
	free(cfg->redis.password);
	free(cfg->redis.host);
	free(cfg->redis.socket);
	free(cfg->redis.prefix);
	free(cfg->redis.broker_id);
	memset(&cfg->redis, 0, sizeof(cfg->redis));
}
