/*
 * libcardex public API: errors, options, the handle's life cycle, the three
 * requests (offer, claim, card) and the two ways to receive events
 * (cardex_wait, cardex_loop with a callback). The connection lives in
 * conn.c, the event filter in filter.c, the event queue in events.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "cardex_int.h"
#include "jcard.h"
#include "topic.h"

#define DEFAULT_PORT 1883
#define DEFAULT_TLS_PORT 8883
#define DEFAULT_KEEPALIVE 30
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
/* Longest wait slice, so that a wait with a deadline notices it in time. */
#define WAIT_SLICE_MS 1000

/* ---- errors ---- */

const char *cardex_strerror(int err)
{
	switch(err) {
	case CARDEX_OK:
		return "success";
#define CARDEX_ERR_MSG(name, val, msg) \
	case (val): \
		return msg;
	CARDEX_ERRNO_MAP(CARDEX_ERR_MSG)
#undef CARDEX_ERR_MSG
	default:
		return "unknown error";
	}
}

const char *cardex_err_name(int err)
{
	switch(err) {
	case CARDEX_OK:
		return "CARDEX_OK";
#define CARDEX_ERR_NAME(name, val, msg) \
	case (val): \
		return "CARDEX_E" #name;
	CARDEX_ERRNO_MAP(CARDEX_ERR_NAME)
#undef CARDEX_ERR_NAME
	default:
		return "CARDEX_UNKNOWN";
	}
}

/* ---- options and life cycle ---- */

void cardex_options_init(cardex_options *opts)
{
	if(opts) {
		memset(opts, 0, sizeof(*opts));
	}
}

/* strdup that returns NULL for NULL; sets *fail on allocation failure. */
static char *dup_opt(const char *s, bool *fail)
{
	char *d;

	if(!s) {
		return NULL;
	}
	d = strdup(s);
	if(!d) {
		*fail = true;
	}
	return d;
}

static void handle_free(cardex *cx)
{
	if(!cx) {
		return;
	}
	cardex__conn_close(cx);
	cx_wipe_str(cx->password);
	free(cx->password);
	free(cx->client_id);
	free(cx->host);
	free(cx->prefix);
	free(cx->reply_topic);
	cardex__queue_clear(&cx->queue);
	cardex__queue_clear(&cx->ready);
	cardex__filter_free(&cx->filter);
	cx_rng_free(cx->rng);
	cx_wipe(cx, sizeof(*cx));
	free(cx);
}

/* Checks the options and fills the plain fields of cx (no allocation). */
static int check_options(const cardex_options *o, cardex *cx)
{
	if(!o->id || !cx_id_valid(o->id, strlen(o->id))) {
		return CARDEX_EINVAL;
	}
	if(o->port < 0 || o->port > 65535 || o->connect_timeout_ms < 0) {
		return CARDEX_EINVAL;
	}
	/* libmosquitto accepts 0 (off) or 5..65535 seconds. */
	if(o->keepalive < 0 || (o->keepalive > 0 && o->keepalive < 5) || o->keepalive > 65535) {
		return CARDEX_EINVAL;
	}
	if(o->client_suffix && strlen(o->client_suffix) > 256) {
		return CARDEX_EINVAL;
	}
	memcpy(cx->id, o->id, strlen(o->id) + 1);
	cx->allow_plain = o->allow_plain;
	cx->confirm = o->confirm;
	cx->port = o->port ? o->port : (o->cafile ? DEFAULT_TLS_PORT : DEFAULT_PORT);
	cx->keepalive = o->keepalive ? o->keepalive : DEFAULT_KEEPALIVE;
	cx->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms
			: DEFAULT_CONNECT_TIMEOUT_MS;
	return CARDEX_OK;
}

/* Client ID, reply topic and copies of the strings of the options. */
static int copy_options(const cardex_options *o, cardex *cx)
{
	const char *prefix = o->topic_prefix ? o->topic_prefix : "";
	bool fail = false;
	size_t cap;

	cx->host = dup_opt(o->host ? o->host : "localhost", &fail);
	cx->password = dup_opt(o->password, &fail);
	cx->prefix = dup_opt(prefix, &fail);
	if(o->client_suffix && o->client_suffix[0]) {
		cap = strlen(cx->id) + 1 + strlen(o->client_suffix) + 1;
		cx->client_id = malloc(cap);
		if(cx->client_id) {
			snprintf(cx->client_id, cap, "%s:%s", cx->id, o->client_suffix);
		}
	} else {
		cx->client_id = strdup(cx->id);
	}
	cap = strlen(prefix) + CX_TOPIC_BASE_MAX + 1;
	cx->reply_topic = malloc(cap);
	if(fail || !cx->client_id || !cx->reply_topic) {
		return CARDEX_ENOMEM;
	}
	if(cx_topic_build(cx->reply_topic, cap, prefix, CX_TOPIC_REPLY, cx->id) == 0
			|| mosquitto_sub_topic_check(cx->reply_topic) != MOSQ_ERR_SUCCESS) {
		return CARDEX_EINVAL;
	}
	return CARDEX_OK;
}

int cardex_connect(const cardex_options *opts, cardex **out)
{
	cardex *cx = NULL;
	int rc = CARDEX_EINVAL;

	if(out) {
		*out = NULL;
	}
	if(opts && opts->errbuf && opts->errbuf_size > 0) {
		opts->errbuf[0] = '\0';
	}
	if(!opts || !out) {
		return CARDEX_EINVAL;
	}
	cx = calloc(1, sizeof(*cx));
	if(!cx) {
		return CARDEX_ENOMEM;
	}
	rc = check_options(opts, cx);
	if(rc != CARDEX_OK) {
		goto cleanup;
	}
	rc = copy_options(opts, cx);
	if(rc != CARDEX_OK) {
		goto cleanup;
	}
	cardex__filter_init(&cx->filter, cx->prefix);
	cx->rng = cx_rng_new("libcardex");
	if(!cx->rng) {
		rc = CARDEX_ERANDOM;
		goto cleanup;
	}
	rc = cardex__conn_open(cx, opts->cafile);
	if(rc != CARDEX_OK) {
		if(opts->errbuf && opts->errbuf_size > 0) {
			snprintf(opts->errbuf, opts->errbuf_size, "%s", cx->detail);
		}
		goto cleanup;
	}
	*out = cx;
	cx = NULL;
cleanup:
	handle_free(cx);
	return rc;
}

void cardex_close(cardex *cx)
{
	handle_free(cx);
}

const char *cardex_id(const cardex *cx)
{
	return cx ? cx->id : NULL;
}

int cardex_socket(const cardex *cx)
{
	if(!cx || !cx->mosq) {
		return -1;
	}
	return mosquitto_socket(cx->mosq);
}

/* ---- requests ---- */

int cardex_generate_key(unsigned digits, char *key, size_t keycap)
{
	cx_rng *rng;
	int rc;

	if(!key || digits < CX_KEY_DIGITS_MIN || digits > CX_KEY_DIGITS_MAX || keycap < digits + 1) {
		return CARDEX_EINVAL;
	}
	rng = cx_rng_new("cardex-key");
	if(!rng) {
		key[0] = '\0';
		return CARDEX_ERANDOM;
	}
	rc = cx_key_generate(rng, digits, key, keycap) == 0 ? CARDEX_OK : CARDEX_ERANDOM;
	cx_rng_free(rng);
	return rc;
}

/* A fresh request reference: 16 lowercase hex digits from the handle's DRBG. */
static int new_ref(cardex *cx, char ref[CX_REF_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[CX_REF_MAX / 2];
	size_t i;

	if(cx_rng_bytes(cx->rng, raw, sizeof(raw)) != 0) {
		return CARDEX_ERANDOM;
	}
	for(i = 0; i < sizeof(raw); i++) {
		ref[2 * i] = hex[raw[i] >> 4];
		ref[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	ref[CX_REF_MAX] = '\0';
	return CARDEX_OK;
}

int cardex__publish_to(cardex *cx, cx_topic_kind kind, const char *id, const char *payload,
		size_t len)
{
	size_t cap = strlen(cx->prefix) + CX_TOPIC_BASE_MAX + 1;
	char *topic = malloc(cap);
	int rc;

	if(!topic) {
		return CARDEX_ENOMEM;
	}
	if(cx_topic_build(topic, cap, cx->prefix, kind, id) == 0) {
		free(topic);
		return CARDEX_EINVAL;
	}
	rc = cardex__conn_publish(cx, topic, payload, len);
	free(topic);
	return rc;
}

static bool key_ok(const char *key)
{
	return key && cx_key_valid(key, strnlen(key, CX_KEY_DIGITS_MAX + 1), CX_KEY_DIGITS_MIN);
}

int cardex_offer(cardex *cx, const char *key, unsigned ttl)
{
	cx_offer_req req;
	char buf[256];
	size_t len;
	int rc;

	if(!cx || !key_ok(key) || (ttl != 0 && (ttl < CX_TTL_MIN || ttl > CX_TTL_MAX))) {
		return CARDEX_EINVAL;
	}
	memset(&req, 0, sizeof(req));
	memcpy(req.key, key, strlen(key) + 1);
	req.ttl = ttl;
	rc = new_ref(cx, req.ref);
	if(rc != CARDEX_OK) {
		goto cleanup;
	}
	len = cx_offer_encode(&req, buf, sizeof(buf));
	if(len >= sizeof(buf)) {
		rc = CARDEX_EPROTOCOL;
		goto cleanup;
	}
	rc = cardex__publish_to(cx, CX_TOPIC_KEYS, cx->id, buf, len);
	if(rc == CARDEX_OK) {
		cardex__filter_new_offer(&cx->filter, req.ref);
	}
cleanup:
	cx_wipe(buf, sizeof(buf));
	cx_offer_req_clear(&req);
	return rc;
}

int cardex_claim(cardex *cx, const char *peer_id, const char *key)
{
	unsigned char commit[CX_SEAL_KEY_LEN];
	cx_seal *seal = NULL;
	cx_claim_req req;
	char buf[384];
	size_t len;
	int rc;

	if(!cx || !peer_id || !cx_id_valid(peer_id, strnlen(peer_id, CX_ID_MAX + 1)) || !key_ok(key)) {
		return CARDEX_EINVAL;
	}
	memset(&req, 0, sizeof(req));
	memcpy(req.key, key, strlen(key) + 1);
	memcpy(req.from, cx->id, strlen(cx->id) + 1);
	rc = new_ref(cx, req.ref);
	if(rc != CARDEX_OK) {
		goto cleanup;
	}
	/* A fresh key pair for the exchange this claim may open; the claim commits to it. */
	seal = cx_seal_new(cx->rng, CX_SEAL_CLAIMER, peer_id, cx->id);
	if(!seal) {
		rc = CARDEX_ERANDOM;
		goto cleanup;
	}
	cx_seal_commit(seal, commit);
	cx_b64u_encode(commit, sizeof(commit), req.commit, sizeof(req.commit));
	len = cx_claim_encode(&req, buf, sizeof(buf));
	if(len >= sizeof(buf)) {
		rc = CARDEX_EPROTOCOL;
		goto cleanup;
	}
	rc = cardex__publish_to(cx, CX_TOPIC_CLAIM, peer_id, buf, len);
	if(rc == CARDEX_OK) {
		cardex__filter_new_claim(&cx->filter, req.ref, seal);
		seal = NULL;
	}
cleanup:
	cx_seal_free(seal);
	cx_wipe(buf, sizeof(buf));
	cx_claim_req_clear(&req);
	return rc;
}

/* Wipes every string of a cJSON tree: it holds card data. */
static void wipe_json(cJSON *j)
{
	for(; j; j = j->next) {
		cx_wipe_str(j->valuestring);
		cx_wipe_str(j->string);
		wipe_json(j->child);
	}
}

/*
 * Checks card_json as a jCard and returns its compact text (malloc'ed, the
 * caller wipes and frees it), or NULL with *rc set to CARDEX_ECARD or
 * CARDEX_ENOMEM. Re-printing drops whitespace and anything after the value.
 */
char *cardex__compact_card(const char *card_json, size_t card_len, int *rc)
{
	cJSON *root = cJSON_ParseWithLength(card_json, card_len);
	char *out = NULL;

	*rc = CARDEX_ECARD;
	if(!root || cx_jcard_check(root, NULL) != 0) {
		goto cleanup;
	}
	out = cJSON_PrintUnformatted(root);
	*rc = out ? CARDEX_OK : CARDEX_ENOMEM;
cleanup:
	wipe_json(root);
	cJSON_Delete(root);
	return out;
}

int cardex_send_card(cardex *cx, const char *exchange, const char *card_json, size_t card_len)
{
	cardex__exchange *x;
	char *card = NULL;
	size_t clen;
	int rc = CARDEX_EINVAL;

	if(!cx || !exchange || !card_json) {
		return CARDEX_EINVAL;
	}
	x = cardex__filter_exchange(&cx->filter, exchange);
	if(!x) {
		return CARDEX_ESTATE;
	}
	card = cardex__compact_card(card_json, card_len, &rc);
	if(!card) {
		return rc;
	}
	clen = strlen(card);
	rc = cardex__e2e_send(cx, x, card, clen);
	cx_wipe(card, clen);
	free(card);
	return rc;
}

/* ---- events ---- */

/* What a wait that ran out of time reports: a lasting outage is not a mere timeout. */
static int timeout_result(const cardex *cx)
{
	if(cx->down_since && cardex__now_ms() - cx->down_since >= cx->connect_timeout_ms) {
		return CARDEX_EDISCONNECTED;
	}
	return CARDEX_ETIMEOUT;
}

static int slice(long long deadline)
{
	long long left;

	if(deadline < 0) {
		return WAIT_SLICE_MS;
	}
	left = deadline - cardex__now_ms();
	if(left < 0) {
		return 0;
	}
	return left > WAIT_SLICE_MS ? WAIT_SLICE_MS : (int)left;
}

int cardex_wait(cardex *cx, int timeout_ms, cardex_event *ev)
{
	long long deadline;
	bool drove = false;
	int rc;

	if(!cx || !ev) {
		return CARDEX_EINVAL;
	}
	memset(ev, 0, sizeof(*ev));
	deadline = timeout_ms < 0 ? -1 : cardex__now_ms() + timeout_ms;
	for(;;) {
		if(cardex__e2e_pump(cx) != CARDEX_OK) {
			cx->nomem = true;
		}
		if(cardex__queue_pop(&cx->ready, ev)) {
			return CARDEX_OK;
		}
		if(cx->nomem) {
			cx->nomem = false;
			return CARDEX_ENOMEM;
		}
		if(drove && deadline >= 0 && cardex__now_ms() >= deadline) {
			return timeout_result(cx);
		}
		rc = cardex__conn_drive(cx, slice(deadline));
		if(rc != CARDEX_OK) {
			return rc;
		}
		drove = true;
	}
}

void cardex_set_event_cb(cardex *cx, cardex_event_cb cb, void *userdata)
{
	if(!cx) {
		return;
	}
	cx->cb = cb;
	cx->cb_ud = userdata;
}

/* Hands every queued event to the callback; returns how many. */
static size_t deliver(cardex *cx)
{
	cardex_event ev;
	size_t n = 0;

	if(cardex__e2e_pump(cx) != CARDEX_OK) {
		cx->nomem = true;
	}
	if(!cx->cb) {
		return 0;
	}
	while(cardex__queue_pop(&cx->ready, &ev)) {
		cx->cb(cx, &ev, cx->cb_ud);
		cardex_event_clear(&ev);
		n++;
	}
	return n;
}

int cardex_loop(cardex *cx, int timeout_ms)
{
	long long deadline;
	bool drove = false;
	int rc;

	if(!cx) {
		return CARDEX_EINVAL;
	}
	deadline = timeout_ms < 0 ? -1 : cardex__now_ms() + timeout_ms;
	for(;;) {
		if(deliver(cx) > 0 || (!cx->cb && cx->ready.len > 0)) {
			return CARDEX_OK;
		}
		if(cx->nomem) {
			cx->nomem = false;
			return CARDEX_ENOMEM;
		}
		if(drove && deadline >= 0 && cardex__now_ms() >= deadline) {
			return CARDEX_OK;
		}
		rc = cardex__conn_drive(cx, slice(deadline));
		if(rc != CARDEX_OK) {
			return rc;
		}
		drove = true;
	}
}
