/*
 * store redis: requests to script calls, and their results to publishes
 * (store_redis.h, docs/protocol.md §11).
 *
 * The key never leaves the broker's thread: the MAC of owner and key is
 * computed here, under the secret every broker reads from Redis, as the
 * memory engine computes it under its own, and only the MAC is queued. The
 * checks that need no shared state (key length, ttl range) are made here,
 * with the memory engine's messages; everything else is the scripts'.
 *
 * Results come back in the order the requests were queued and are published
 * in that order: each script's replies for one terminal keep theirs.
 * Errors, the scripts' and "unavailable" alike, go out through the engine's
 * per-terminal error budget, as in memory mode.
 */
#define _GNU_SOURCE /* dladdr */
#include "store_redis.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "brokerconf.h"
#include "topic.h"

#define XID_LEN 16

/* The wake-up signal's handler: its only job is to end the broker's epoll_wait early. */
static void on_wake(int sig)
{
	(void)sig;
}

static void hex_of(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for(size_t i = 0; i < len; i++){
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* ---- replies ---- */

/* An error reply to to under the engine's budget; message "" or NULL: the code's own. */
static void send_error(struct plugin__data *data, const char *to, cx_code code, const char *topic,
		const char *message, uint32_t retry_after, const char *ref, const char *xid)
{
	cx_reply r = {
		.type = CX_REPLY_ERROR,
		.code = code,
		.topic = topic,
		.message = message != NULL && message[0] != '\0' ? message : NULL,
		.retry_after = retry_after,
		.ref = ref != NULL && ref[0] != '\0' ? ref : NULL,
		.xid = xid != NULL && xid[0] != '\0' ? xid : NULL,
	};
	cx_engine_error_reply(data->engine, plugin__now_ms(), to, &r);
}

static void send_unavailable(struct plugin__data *data, const char *to, const char *topic, const char *ref,
		const char *xid)
{
	send_error(data, to, CX_CODE_UNAVAILABLE, topic, NULL, PLUGIN_REDIS_RETRY_AFTER, ref, xid);
}

/*
 * A copy of a reply handed to mosquitto_broker_publish. Mosquitto queues
 * such messages at the top of its next main-loop iteration, and TICK is the
 * last step of an iteration: what a TICK (or a callback before it) published
 * is still in Mosquitto's hands, unqueued, if the broker stops right after.
 * The copies published before one TICK ended are queued by the time the
 * next TICK comes and are dropped then; at a clean stop, those left go to
 * their terminals' inboxes (stash_pending).
 */
struct cx_rheld {
	struct cx_rheld *next;
	size_t len;
	char to[CX_ID_MAX + 1];
	char payload[];
};

static void held_free(struct cx_rheld *h)
{
	while(h != NULL){
		struct cx_rheld *next = h->next;
		cx_wipe(h->payload, h->len);
		free(h);
		h = next;
	}
}

/* Keeps a copy of a reply just published; without memory the copy is not kept. */
static void held_add(struct cx_store_redis *s, const char *to, const char *payload, size_t len)
{
	struct cx_rheld *h = malloc(sizeof(*h) + len);

	if(h == NULL){
		return;
	}
	memset(h->to, 0, sizeof(h->to));
	memcpy(h->to, to, strnlen(to, CX_ID_MAX));
	memcpy(h->payload, payload, len);
	h->len = len;
	h->next = s->held;
	s->held = h;
}

/* Publishes payload (len bytes, as a script or the encoder wrote it) on reply/<to>, QoS 1. */
static void publish_payload(struct plugin__data *data, const char *to, const char *payload, size_t len)
{
	char *copy;
	int rc;

	if(len == 0 || len >= (size_t)INT32_MAX
			|| cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, to) == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: redis: a reply with no valid recipient; dropped");
		return;
	}
	copy = mosquitto_malloc(len);
	if(copy == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory; a reply to %s dropped", to);
		return;
	}
	memcpy(copy, payload, len);
	/* On success the broker owns and frees copy. */
	rc = mosquitto_broker_publish(NULL, data->topic_buf, (int)len, copy, 1, false, NULL);
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot publish a reply to %s (error %d)", to, rc);
		cx_wipe(copy, len);
		mosquitto_free(copy);
		return;
	}
	held_add(data->redis, to, payload, len);
}

static const char *elem_str(const redisReply *r, size_t i)
{
	return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
}

/* Carries out the actions a script returned (lua/common.lua). */
static void apply_actions(struct plugin__data *data, const cx_rjob *j, int64_t now_ms)
{
	const redisReply *r = j->reply;

	for(size_t i = 0; i < r->elements; i++){
		const redisReply *a = r->element[i];
		const char *kind, *to;

		if(a->type != REDIS_REPLY_ARRAY || a->elements < 3){
			continue;
		}
		kind = elem_str(a, 0);
		to = elem_str(a, 1);
		if(kind == NULL || to == NULL){
			continue;
		}
		if(kind[0] == 's'){
			/* The sweep found more due entries than its budget: the next tick sweeps again. */
			const char *more = elem_str(a, 2);
			if(more != NULL && strcmp(more, "more") == 0){
				data->redis->next_sweep_ms = now_ms;
			}
			continue;
		}
		if(kind[0] == 'p' && a->element[2]->type == REDIS_REPLY_STRING){
			publish_payload(data, to, a->element[2]->str, a->element[2]->len);
		}else if(kind[0] == 'e' && a->elements >= 7){
			const char *code = elem_str(a, 2);
			long long retry = a->element[3]->type == REDIS_REPLY_INTEGER ? a->element[3]->integer : 0;
			cx_code c = code != NULL ? cx_code_from_name(code, strlen(code)) : CX_CODE_NONE;
			send_error(data, to, c != CX_CODE_NONE ? c : CX_CODE_INTERNAL, j->topic, elem_str(a, 4),
					retry > 0 && retry <= UINT32_MAX ? (uint32_t)retry : 0, elem_str(a, 5), elem_str(a, 6));
		}
	}
}

/* ---- jobs ---- */

/* Copies at most cap - 1 bytes of s (NULL: nothing) into the zeroed out[cap]. */
static void copy_bounded(char *out, size_t cap, const char *s)
{
	if(s != NULL){
		memcpy(out, s, strnlen(s, cap - 1));
	}
}

/*
 * A job with the common answer data of a request from sender. NULL when
 * memory runs out.
 */
static cx_rjob *request_job(cx_rscript script, const char *sender, const char *topic, const char *ref,
		const char *xid)
{
	cx_rjob *j = cx_rjob_new(script);

	if(j == NULL){
		return NULL;
	}
	/* The job was zeroed: each copy stays terminated. */
	copy_bounded(j->sender, sizeof(j->sender), sender);
	copy_bounded(j->ref, sizeof(j->ref), ref);
	copy_bounded(j->xid, sizeof(j->xid), xid);
	if(topic != NULL){
		j->topic = strdup(topic);
		if(j->topic == NULL){
			cx_rjob_free(j);
			return NULL;
		}
	}
	return j;
}

/* Queues j (args_ok: every argument was added); answers unavailable when it cannot be. */
static void submit_request(struct plugin__data *data, cx_rjob *j, bool args_ok, const char *sender,
		const char *topic, const char *ref, const char *xid)
{
	if(j != NULL && args_ok && cx_rworker_submit_awake(data->redis->w, j) == 0){
		return;
	}
	cx_rjob_free(j);
	send_unavailable(data, sender, topic, ref, xid);
}

/* The secret, fetched from the worker once it has it. */
static bool have_secret(struct cx_store_redis *s)
{
	if(!s->have_secret){
		s->have_secret = cx_rworker_secret(s->w, s->secret);
	}
	return s->have_secret;
}

/* The MAC of owner and key in hex, under the keys all brokers share (cx_engine_key_mac). */
static void key_mac_hex(const struct cx_store_redis *s, const char *owner, const char *key,
		char out[2 * CX_MAC_LEN + 1])
{
	unsigned char mac[CX_MAC_LEN];

	cx_engine_key_mac(s->secret, s->secret + CX_SIPHASH_KEY_LEN, owner, key, mac);
	hex_of(mac, sizeof(mac), out);
	cx_wipe(mac, sizeof(mac));
}

void plugin__redis_offer(struct plugin__data *data, const char *owner, const cx_offer_req *req, const char *topic)
{
	struct cx_store_redis *s = data->redis;
	const cx_limits *lim = &data->cfg.limits;
	uint32_t ttl = req->ttl ? req->ttl : lim->ttl_default_s;
	char mac[2 * CX_MAC_LEN + 1];
	cx_rjob *j;
	bool ok;

	if(!cx_key_valid(req->key, strlen(req->key), lim->key_digits_min)){
		send_error(data, owner, CX_CODE_BAD_REQUEST, topic, "key has fewer digits than this server requires", 0,
				req->ref, NULL);
		return;
	}
	if(ttl < CX_TTL_MIN || ttl > lim->ttl_max_s){
		send_error(data, owner, CX_CODE_BAD_REQUEST, topic, "ttl is outside the range this server allows", 0,
				req->ref, NULL);
		return;
	}
	if(!have_secret(s)){
		send_unavailable(data, owner, topic, req->ref, NULL);
		return;
	}
	key_mac_hex(s, owner, req->key, mac);
	j = request_job(CX_RS_OFFER, owner, topic, req->ref, NULL);
	ok = j != NULL && cx_rjob_argstr(j, owner) == 0 && cx_rjob_argstr(j, mac) == 0 && cx_rjob_argstr(j, req->ref) == 0
			&& cx_rjob_argu(j, ttl) == 0 && cx_rjob_argu(j, lim->attempts) == 0
			&& cx_rjob_argu(j, lim->max_offers) == 0;
	cx_wipe(mac, sizeof(mac));
	submit_request(data, j, ok, owner, topic, req->ref, NULL);
}

void plugin__redis_claim(struct plugin__data *data, const char *claimer, const char *address, const char *owner,
		const cx_claim_req *req, const char *topic)
{
	struct cx_store_redis *s = data->redis;
	const cx_limits *lim = &data->cfg.limits;
	char mac[2 * CX_MAC_LEN + 1];
	char addr[CX_ADDR_MAX + 1];
	unsigned char raw[XID_LEN];
	char xid[CX_XID_HEX + 1];
	cx_rjob *j;
	bool ok;

	if(!cx_id_valid(owner, strlen(owner))){
		return;
	}
	if(!have_secret(s) || cx_rng_bytes(s->rng, raw, sizeof(raw)) != 0){
		send_unavailable(data, claimer, topic, req->ref, NULL);
		return;
	}
	cx_xid_format(raw, xid);
	cx_address_key(address, addr);
	key_mac_hex(s, owner, req->key, mac);
	j = request_job(CX_RS_CLAIM, claimer, topic, req->ref, NULL);
	ok = j != NULL && cx_rjob_argstr(j, claimer) == 0 && cx_rjob_argstr(j, owner) == 0 && cx_rjob_argstr(j, addr) == 0
			&& cx_rjob_argstr(j, mac) == 0 && cx_rjob_argstr(j, req->ref) == 0
			&& cx_rjob_argstr(j, req->commit) == 0 && cx_rjob_argstr(j, req->from) == 0
			&& cx_rjob_argstr(j, xid) == 0 && cx_rjob_argstr(j, s->dummy_mac) == 0
			&& cx_rjob_argu(j, lim->claim_failures_per_min) == 0
			&& cx_rjob_argu(j, lim->claim_failures_per_min_per_address) == 0
			&& cx_rjob_argu(j, lim->claim_failures_per_min_total) == 0
			&& cx_rjob_argu(j, lim->exchange_ttl_s) == 0 && cx_rjob_argu(j, lim->max_exchanges) == 0
			&& cx_rjob_argstr(j, lim->require_sealed ? "1" : "0") == 0;
	cx_wipe(mac, sizeof(mac));
	submit_request(data, j, ok, claimer, topic, req->ref, NULL);
}

/*
 * Encodes r into a malloc'ed buffer; NULL when memory runs out or r cannot
 * be encoded. *len gets its length.
 */
static char *encode(const cx_reply *r, size_t *len)
{
	char probe[1];
	size_t need = cx_reply_encode(r, probe, sizeof(probe));
	char *buf;

	if(need == 0 || need >= (size_t)INT32_MAX){
		return NULL;
	}
	buf = malloc(need + 1);
	if(buf == NULL || cx_reply_encode(r, buf, need + 1) != need){
		free(buf);
		return NULL;
	}
	*len = need;
	return buf;
}

void plugin__redis_card(struct plugin__data *data, const char *sender, const char *peer, const cx_card_req *req,
		const char *topic)
{
	const char *kind = req->kind == CX_CARD_PK ? "pk" : req->kind == CX_CARD_SEALED ? "sealed" : "plain";
	cx_reply r = {.xid = req->xid, .peer = sender};
	char *payload;
	size_t len = 0;
	cx_rjob *j;
	bool ok;

	if(!cx_id_valid(peer, strlen(peer))){
		return;
	}
	if(req->kind == CX_CARD_PK){
		r.type = CX_REPLY_PK;
		r.pk = req->pk;
	}else{
		r.type = CX_REPLY_CARD;
		r.card = req->card;
		r.card_len = req->card_len;
		if(req->kind == CX_CARD_SEALED){
			r.card = NULL;
			r.card_len = 0;
			r.n = req->n;
			r.ct = req->ct;
			r.ct_len = req->ct_len;
		}
	}
	payload = encode(&r, &len);
	j = request_job(CX_RS_CARD, sender, topic, NULL, req->xid);
	ok = payload != NULL && j != NULL && cx_rjob_argstr(j, sender) == 0 && cx_rjob_argstr(j, peer) == 0
			&& cx_rjob_argstr(j, req->xid) == 0 && cx_rjob_argstr(j, kind) == 0
			&& cx_rjob_arg(j, payload, len) == 0
			&& cx_rjob_argstr(j, data->cfg.limits.require_sealed ? "1" : "0") == 0;
	if(payload != NULL){
		cx_wipe(payload, len);
		free(payload);
	}
	submit_request(data, j, ok, sender, topic, NULL, req->xid);
}

/* ---- tick ---- */

/* One line per change of the connection's state; never a password. */
static void log_state(struct cx_store_redis *s, uint32_t queue_max)
{
	cx_rworker_stats st;

	cx_rworker_get_stats(s->w, &st);
	if(st.up && !s->seen.up){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "cardex: redis | connected; shared store available");
	}else if(!st.up && (s->seen.up || st.downs != s->seen.downs || strcmp(st.last_error, s->seen.last_error) != 0)
			&& st.last_error[0] != '\0'){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: redis | unavailable: %s; requests get \"unavailable\"",
				st.last_error);
	}else if(st.up && st.last_error[0] != '\0' && strcmp(st.last_error, s->seen.last_error) != 0){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: redis | %s", st.last_error);
	}
	if(st.queue_full != s->seen.queue_full){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "cardex: redis | queue full (redis_queue %" PRIu64 "): %" PRIu64
				" request(s) refused \"unavailable\"", (uint64_t)queue_max, st.queue_full - s->seen.queue_full);
	}
	if(st.listens != s->seen.listens || (st.up && !s->seen.up)){
		/*
		 * A new subscription may have missed words, and pops may have failed
		 * while the connection was down: hand over every inbox of ours.
		 */
		s->next_refresh_ms = 0;
	}
	s->seen = st;
}

void plugin__redis_tick(struct plugin__data *data, int64_t now_ms)
{
	struct cx_store_redis *s = data->redis;
	cx_rjob *j = cx_rworker_take_done(s->w);

	/* Mosquitto has queued what was published before the last TICK ended. */
	held_free(s->sealed);
	s->sealed = NULL;
	while(j != NULL){
		cx_rjob *next = j->next;
		if(j->failed){
			if(j->sender[0] != '\0'){
				send_unavailable(data, j->sender, j->topic, j->ref, j->xid);
			}else if(j->script == CX_RS_POP || j->script == CX_RS_HERE || j->script == CX_RS_REFRESH){
				/* The replies wait in the inbox: hand them over soon, not at the next regular refresh. */
				if(s->next_refresh_ms > now_ms + PLUGIN_REDIS_RETRY_MS){
					s->next_refresh_ms = now_ms + PLUGIN_REDIS_RETRY_MS;
				}
			}
		}else if(j->script == CX_RS_DELIVER){
			publish_payload(data, j->argv[0], j->argv[1], j->argvlen[1]);
		}else if(j->reply != NULL){
			apply_actions(data, j, now_ms);
		}
		cx_rjob_free(j);
		j = next;
	}
	log_state(s, data->cfg.redis.queue);
	if(now_ms >= s->next_sweep_ms){
		cx_rjob *sw = cx_rjob_new(CX_RS_SWEEP);
		if(sw == NULL || cx_rjob_argu(sw, PLUGIN_REDIS_SWEEP_BUDGET) != 0 || cx_rworker_submit(s->w, sw) != 0){
			cx_rjob_free(sw);
		}
		s->next_sweep_ms = now_ms + PLUGIN_REDIS_SWEEP_MS;
	}
	if(now_ms >= s->next_refresh_ms){
		plugin__redis_refresh(data);
		s->next_refresh_ms = now_ms + PLUGIN_REDIS_REFRESH_MS;
	}
	s->sealed = s->held;
	s->held = NULL;
}

/* ---- lifecycle ---- */

/* False when the broker's configuration says per_listener_settings true (no TICK in 2.0.11). */
static bool ticks_come(void)
{
	struct brokerconf bc;
	Dl_info info;
	const char *self = NULL;

	if(dladdr((void *)plugin__redis_setup, &info) != 0){
		self = info.dli_fname;
	}
	brokerconf_scan(&bc, self);
	return !(bc.read && bc.per_listener_settings);
}

int plugin__redis_setup(struct plugin__data *data)
{
	const struct plugin__redis_config *rc = &data->cfg.redis;
	struct cx_store_redis *s = calloc(1, sizeof(*s));
	unsigned char dummy[CX_MAC_LEN];
	struct sigaction sa;
	cx_rworker_config wc;

	if(s == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: out of memory");
		return MOSQ_ERR_NOMEM;
	}
	data->redis = s;
	if(!ticks_come()){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: plugin_opt_store redis publishes results from TICK events, "
				"which Mosquitto 2.0.11 never sends with per_listener_settings true: set it to false");
		return MOSQ_ERR_INVAL;
	}
	snprintf(s->prefix, sizeof(s->prefix), "%s{cx}:", rc->prefix != NULL ? rc->prefix : "cardex:");
	s->rng = cx_rng_new("cardex-redis-store");
	if(s->rng == NULL || cx_rng_bytes(s->rng, dummy, sizeof(dummy)) != 0
			|| cx_rng_bytes(s->rng, s->hkey, sizeof(s->hkey)) != 0 || plugin__redis_route_init(s) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot set up the redis store (out of memory or no entropy)");
		return MOSQ_ERR_UNKNOWN;
	}
	hex_of(dummy, sizeof(dummy), s->dummy_mac);

	/* A real-time signal no one else uses ends the broker's wait for sockets early. */
	s->signo = SIGRTMIN + 4;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_wake;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if(sigaction(s->signo, &sa, &s->old_sa) != 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot install the redis store's wake-up signal");
		return MOSQ_ERR_UNKNOWN;
	}
	s->sa_set = true;

	memset(&wc, 0, sizeof(wc));
	wc.host = rc->host;
	wc.port = (int)rc->port;
	wc.socket = rc->socket;
	wc.password = rc->password;
	wc.prefix = s->prefix;
	wc.broker_id = rc->broker_id;
	wc.timeout_ms = rc->timeout_ms;
	wc.queue_max = rc->queue;
	wc.inbox_max = rc->inbox_max;
	wc.inbox_ttl_s = rc->inbox_ttl_s;
	wc.wake_tid = (pid_t)syscall(SYS_gettid);
	wc.wake_signal = s->signo;
	s->timeout_ms = rc->timeout_ms;
	s->w = cx_rworker_new(&wc);
	if(s->w == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot start the redis store's threads");
		return MOSQ_ERR_UNKNOWN;
	}
	/* The worker has its own copy; this one is not needed any more. */
	if(data->cfg.redis.password != NULL){
		cx_wipe_str(data->cfg.redis.password);
	}
	if(rc->socket != NULL){
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: store redis | broker_id=%s redis=unix:%s prefix=%s", rc->broker_id,
				rc->socket, s->prefix);
	}else{
		mosquitto_log_printf(MOSQ_LOG_INFO, "cardex: store redis | broker_id=%s redis=%s:%u prefix=%s", rc->broker_id,
				rc->host != NULL ? rc->host : "127.0.0.1", (unsigned)rc->port, s->prefix);
	}
	return MOSQ_ERR_SUCCESS;
}

/* Queues a stash job of the replies to for the inbox of to. */
static void stash(struct cx_store_redis *s, const char *to, char *const *payloads, const size_t *lens, size_t n)
{
	cx_rjob *j = cx_rjob_new(CX_RS_STASH);
	bool ok = j != NULL && cx_rjob_argstr(j, to) == 0;

	for(size_t i = 0; ok && i < n; i++){
		ok = cx_rjob_arg(j, payloads[i], lens[i]) == 0;
	}
	if(!ok || cx_rworker_submit(s->w, j) != 0){
		cx_rjob_free(j);
	}
}

/* Reverses a list of held copies (kept newest first). */
static struct cx_rheld *held_reverse(struct cx_rheld *h)
{
	struct cx_rheld *r = NULL;

	while(h != NULL){
		struct cx_rheld *next = h->next;
		h->next = r;
		r = h;
		h = next;
	}
	return r;
}

/*
 * Stashes the replies Mosquitto never queued, oldest first: those of the
 * last TICK and of callbacks after it. They come before the replies of
 * jobs still pending, which were made later. Returns how many.
 */
static size_t stash_held(struct cx_store_redis *s)
{
	struct cx_rheld *all = held_reverse(s->sealed);
	struct cx_rheld *later = held_reverse(s->held);
	size_t n = 0;

	s->sealed = s->held = NULL;
	for(struct cx_rheld *h = all; h != NULL; h = h->next){
		char *p = h->payload;
		stash(s, h->to, &p, &h->len, 1);
		n++;
	}
	for(struct cx_rheld *h = later; h != NULL; h = h->next){
		char *p = h->payload;
		stash(s, h->to, &p, &h->len, 1);
		n++;
	}
	held_free(all);
	held_free(later);
	return n;
}

/*
 * A clean stop: Mosquitto has saved its sessions already and publishes
 * nothing any more, so the requests still queued are run, and the replies
 * this broker would have published go to their terminals' inboxes, handed
 * over where each connects next. Bounded by a few timeouts.
 */
static void stash_pending(struct cx_store_redis *s, uint32_t timeout_ms)
{
	cx_rjob *done, *j;
	size_t stashed = 0;

	/* First off the channel: a reply published there later goes to its terminal's inbox. */
	cx_rworker_unlisten(s->w);
	cx_rworker_drain(s->w, 2 * (int64_t)timeout_ms);
	done = cx_rworker_take_done(s->w);
	stashed += stash_held(s);
	for(j = done; j != NULL; j = j->next){
		if(j->script == CX_RS_DELIVER){
			stash(s, j->argv[0], &j->argv[1], &j->argvlen[1], 1);
			stashed++;
			continue;
		}
		if(j->failed || j->reply == NULL){
			continue;
		}
		const redisReply *r = j->reply;
		for(size_t i = 0; i < r->elements; i++){
			const redisReply *a = r->element[i];
			const char *kind = a->type == REDIS_REPLY_ARRAY && a->elements >= 3 ? elem_str(a, 0) : NULL;
			if(kind != NULL && kind[0] == 'p' && elem_str(a, 1) != NULL && a->element[2]->type == REDIS_REPLY_STRING){
				char *p = a->element[2]->str;
				size_t len = a->element[2]->len;
				stash(s, elem_str(a, 1), &p, &len, 1);
				stashed++;
			}
		}
	}
	while(done != NULL){
		j = done->next;
		cx_rjob_free(done);
		done = j;
	}
	if(stashed > 0){
		cx_rworker_drain(s->w, 2 * (int64_t)timeout_ms);
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "cardex: redis | stopping: %zu reply(ies) not published here "
				"went to their terminals' inboxes", stashed);
	}
}

void plugin__redis_free(struct cx_store_redis *s)
{
	if(s == NULL){
		return;
	}
	if(s->w != NULL){
		stash_pending(s, s->timeout_ms);
	}
	cx_rworker_free(s->w);
	if(s->sa_set){
		sigaction(s->signo, &s->old_sa, NULL);
	}
	held_free(s->held);
	held_free(s->sealed);
	plugin__redis_route_free(s);
	cx_rng_free(s->rng);
	cx_wipe(s, sizeof(*s));
	free(s);
}
