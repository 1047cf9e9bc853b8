/*
 * The exchange engine (engine.h): offers, claims, exchanges, expiry, limits.
 *
 * State lives in three keyed hash tables (offers by owner ID, exchanges by
 * raw 16-byte exchange ID, rate limiters by claimer ID) whose entries embed
 * their table link and their timer, and in one min-heap holding every timer.
 * Each request therefore costs O(1) expected table work plus O(log n) heap
 * work, whatever the number of pending offers.
 *
 * Expiry on touch: an offer or exchange found past its expiry when a request
 * reaches it is expired right there, with the same notice the tick would have
 * sent ("expired" offer to the owner, "expired" exchange to both parties), and
 * then removed, so its timer never fires. Every party thus hears about an
 * expiry exactly once, whichever of touch or tick comes first.
 *
 * Requests name their sender; the adapter passes authenticated, valid terminal
 * IDs. A request whose sender is not a valid terminal ID is a caller bug with
 * no reply topic to answer on: it is ignored.
 *
 * The emit callback must not call back into the engine: replies are emitted
 * while the engine's state is being changed.
 */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "engine_heap.h"
#include "engine_table.h"
#include "ids.h"

#define SECRET_LEN 32
#define XID_LEN 16
/* The rate-limit window: fixed, starting at a claimer's first failure. */
#define WINDOW_MS 60000
/*
 * Due timers reclaimed before refusing for capacity: expired entries still
 * held because the tick has not run yet should not crowd out live ones, but
 * a request must stay cheap.
 */
#define CAPACITY_RECLAIM 16
/* Fresh exchange IDs drawn when one collides with a live exchange. */
#define XID_TRIES 4

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum timer_kind {
	TIMER_OFFER = 1,
	TIMER_EXCHANGE,
	TIMER_LIMITER
};

/* A pending offer. Members ordered so the struct packs into 128 bytes. */
typedef struct {
	cx_hnode hn;
	cx_timer timer;                 /* due = expiry */
	uint8_t attempts_left;          /* >= 1 while held (attempts is at most 100) */
	unsigned char mac[CX_MAC_LEN];  /* cx_key_mac(secret, owner, key); never the key */
	char ref[CX_REF_MAX + 1];
	char owner[CX_ID_MAX + 1];
} offer;

#define SENT_A 1u
#define SENT_B 2u

/* A live exchange between the offer's owner (a) and the claimer (b). */
typedef struct {
	cx_hnode hn;
	cx_timer timer;                 /* due = end of the exchange's lifetime */
	uint8_t sent;                   /* SENT_A | SENT_B */
	unsigned char xid[XID_LEN];
	char a[CX_ID_MAX + 1];
	char b[CX_ID_MAX + 1];
} exchange;

/* Failed claims of one claimer in its current window. */
typedef struct {
	cx_hnode hn;
	cx_timer timer;                 /* due = end of the window */
	uint32_t failures;
	char id[CX_ID_MAX + 1];
} limiter;

struct cx_engine {
	cx_limits lim;
	cx_emit_fn emit;
	void *ctx;
	cx_rng *rng;
	unsigned char secret[SECRET_LEN];     /* MAC key for instant keys */
	unsigned char hkey[CX_SIPHASH_KEY_LEN]; /* hash-table key */
	cx_htab offers;
	cx_htab exchanges;
	cx_htab limiters;
	cx_theap timers;
};

/* ---- limits ---- */

void cx_limits_default(cx_limits *lim)
{
	lim->ttl_default_s = CX_TTL_DEFAULT;
	lim->ttl_max_s = CX_TTL_MAX;
	lim->key_digits_min = CX_KEY_DIGITS_MIN;
	lim->attempts = 3;
	lim->exchange_ttl_s = 300;
	lim->claim_failures_per_min = 10;
	lim->max_offers = 1000000;
	lim->max_exchanges = 1000000;
}

const char *cx_limits_check(const cx_limits *lim)
{
	if(lim == NULL){
		return "limits missing";
	}
	if(lim->ttl_max_s < CX_TTL_MIN || lim->ttl_max_s > CX_TTL_MAX){
		return "ttl_max_s must be 5..600 seconds";
	}
	if(lim->ttl_default_s < CX_TTL_MIN || lim->ttl_default_s > lim->ttl_max_s){
		return "ttl_default_s must be 5 seconds..ttl_max_s";
	}
	if(lim->key_digits_min < CX_KEY_DIGITS_MIN || lim->key_digits_min > CX_KEY_DIGITS_MAX){
		return "key_digits_min must be 6..16";
	}
	if(lim->attempts < 1 || lim->attempts > 100){
		return "attempts must be 1..100";
	}
	if(lim->exchange_ttl_s < 10 || lim->exchange_ttl_s > 3600){
		return "exchange_ttl_s must be 10..3600 seconds";
	}
	if(lim->claim_failures_per_min < 1 || lim->claim_failures_per_min > 10000){
		return "claim_failures_per_min must be 1..10000";
	}
	if(lim->max_offers < 1){
		return "max_offers must be at least 1";
	}
	if(lim->max_exchanges < 1){
		return "max_exchanges must be at least 1";
	}
	return NULL;
}

/* ---- hashing and lookup ---- */

static uint64_t hash_str(const cx_engine *e, const char *s)
{
	return cx_siphash13(e->hkey, s, strlen(s));
}

static uint64_t offer_hash(const cx_hnode *n, const void *ctx)
{
	return hash_str(ctx, CONTAINER(n, offer, hn)->owner);
}

static uint64_t exchange_hash(const cx_hnode *n, const void *ctx)
{
	const cx_engine *e = ctx;
	return cx_siphash13(e->hkey, CONTAINER(n, exchange, hn)->xid, XID_LEN);
}

static uint64_t limiter_hash(const cx_hnode *n, const void *ctx)
{
	return hash_str(ctx, CONTAINER(n, limiter, hn)->id);
}

static bool offer_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, offer, hn)->owner, key) == 0;
}

static bool exchange_eq(const cx_hnode *n, const void *key)
{
	return memcmp(CONTAINER(n, exchange, hn)->xid, key, XID_LEN) == 0;
}

static bool limiter_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, limiter, hn)->id, key) == 0;
}

static offer *offer_find(const cx_engine *e, const char *owner)
{
	cx_hnode *n = cx_htab_find(&e->offers, hash_str(e, owner), offer_eq, owner);
	return n ? CONTAINER(n, offer, hn) : NULL;
}

static exchange *exchange_find(const cx_engine *e, const unsigned char xid[XID_LEN])
{
	cx_hnode *n = cx_htab_find(&e->exchanges, cx_siphash13(e->hkey, xid, XID_LEN), exchange_eq, xid);
	return n ? CONTAINER(n, exchange, hn) : NULL;
}

static limiter *limiter_find(const cx_engine *e, const char *id)
{
	cx_hnode *n = cx_htab_find(&e->limiters, hash_str(e, id), limiter_eq, id);
	return n ? CONTAINER(n, limiter, hn) : NULL;
}

/* ---- removal (table, heap, wipe, free) ---- */

static void offer_destroy(cx_engine *e, offer *o)
{
	cx_htab_remove(&e->offers, &o->hn, hash_str(e, o->owner));
	cx_theap_remove(&e->timers, &o->timer);
	cx_wipe(o, sizeof(*o));
	free(o);
}

static void exchange_destroy(cx_engine *e, exchange *x)
{
	cx_htab_remove(&e->exchanges, &x->hn, cx_siphash13(e->hkey, x->xid, XID_LEN));
	cx_theap_remove(&e->timers, &x->timer);
	cx_wipe(x, sizeof(*x));
	free(x);
}

static void limiter_destroy(cx_engine *e, limiter *l)
{
	cx_htab_remove(&e->limiters, &l->hn, hash_str(e, l->id));
	cx_theap_remove(&e->timers, &l->timer);
	free(l);
}

/* ---- replies ---- */

static void emit_error(cx_engine *e, const char *to, cx_code code, const char *topic,
		const char *ref, const char *xid, const char *message)
{
	cx_reply r = {
		.type = CX_REPLY_ERROR,
		.code = code,
		.topic = topic,
		.ref = ref,
		.xid = xid,
		.message = message,
	};
	e->emit(e->ctx, to, &r);
}

static void emit_offer_expired(cx_engine *e, const offer *o)
{
	cx_reply r = {.type = CX_REPLY_EXPIRED, .offer = true, .ref = o->ref};
	e->emit(e->ctx, o->owner, &r);
}

static void emit_exchange_expired(cx_engine *e, const exchange *x)
{
	char hex[CX_XID_HEX + 1];
	cx_reply r = {.type = CX_REPLY_EXPIRED, .offer = false, .xid = hex};

	cx_xid_format(x->xid, hex);
	e->emit(e->ctx, x->a, &r);
	e->emit(e->ctx, x->b, &r);
}

static void emit_revoked(cx_engine *e, const offer *o, const char *reason)
{
	cx_reply r = {.type = CX_REPLY_REVOKED, .reason = reason, .ref = o->ref};
	e->emit(e->ctx, o->owner, &r);
}

static void emit_offer_accepted(cx_engine *e, const offer *o, uint32_t ttl)
{
	cx_reply r = {.type = CX_REPLY_OFFER, .expires_in = ttl, .ref = o->ref};
	e->emit(e->ctx, o->owner, &r);
}

/* ---- expiry ---- */

/* Handles one due timer: notice (offers, exchanges) and removal. */
static void expire_timer(cx_engine *e, cx_timer *t)
{
	switch((enum timer_kind)t->kind){
	case TIMER_OFFER: {
		offer *o = CONTAINER(t, offer, timer);
		emit_offer_expired(e, o);
		offer_destroy(e, o);
		break;
	}
	case TIMER_EXCHANGE: {
		exchange *x = CONTAINER(t, exchange, timer);
		emit_exchange_expired(e, x);
		exchange_destroy(e, x);
		break;
	}
	case TIMER_LIMITER:
		limiter_destroy(e, CONTAINER(t, limiter, timer));
		break;
	default:
		/* Unreachable: every timer is embedded by one of the kinds above. */
		cx_theap_remove(&e->timers, t);
		break;
	}
}

size_t cx_engine_tick(cx_engine *e, int64_t now_ms, size_t budget)
{
	size_t done = 0;

	while(done < budget){
		cx_timer *t = cx_theap_top(&e->timers);
		if(t == NULL || t->due > now_ms){
			break;
		}
		expire_timer(e, t);
		done++;
	}
	return done;
}

/* An offer found past its expiry by a request: expire it now, as the tick would. */
static offer *offer_live(cx_engine *e, int64_t now_ms, const char *owner)
{
	offer *o = offer_find(e, owner);

	if(o != NULL && o->timer.due <= now_ms){
		emit_offer_expired(e, o);
		offer_destroy(e, o);
		o = NULL;
	}
	return o;
}

static exchange *exchange_live(cx_engine *e, int64_t now_ms, const unsigned char xid[XID_LEN])
{
	exchange *x = exchange_find(e, xid);

	if(x != NULL && x->timer.due <= now_ms){
		emit_exchange_expired(e, x);
		exchange_destroy(e, x);
		x = NULL;
	}
	return x;
}

/* ---- lifecycle ---- */

static void free_offer_node(cx_hnode *n, void *arg)
{
	(void)arg;
	offer *o = CONTAINER(n, offer, hn);
	cx_wipe(o, sizeof(*o));
	free(o);
}

static void free_exchange_node(cx_hnode *n, void *arg)
{
	(void)arg;
	exchange *x = CONTAINER(n, exchange, hn);
	cx_wipe(x, sizeof(*x));
	free(x);
}

static void free_limiter_node(cx_hnode *n, void *arg)
{
	(void)arg;
	free(CONTAINER(n, limiter, hn));
}

cx_engine *cx_engine_new(const cx_limits *lim, cx_emit_fn emit, void *ctx)
{
	cx_engine *e = NULL;

	if(emit == NULL || cx_limits_check(lim) != NULL){
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if(e == NULL){
		return NULL;
	}
	e->lim = *lim;
	e->emit = emit;
	e->ctx = ctx;
	cx_theap_init(&e->timers);
	e->rng = cx_rng_new("cardex-engine");
	if(e->rng == NULL){
		goto cleanup;
	}
	if(cx_rng_bytes(e->rng, e->secret, sizeof(e->secret)) != 0
			|| cx_rng_bytes(e->rng, e->hkey, sizeof(e->hkey)) != 0){
		goto cleanup;
	}
	if(cx_htab_init(&e->offers, offer_hash, e) != 0
			|| cx_htab_init(&e->exchanges, exchange_hash, e) != 0
			|| cx_htab_init(&e->limiters, limiter_hash, e) != 0){
		goto cleanup;
	}
	return e;

cleanup:
	cx_engine_free(e);
	return NULL;
}

void cx_engine_free(cx_engine *e)
{
	if(e == NULL){
		return;
	}
	/* Timers are embedded in the entries: drop the heap first, then the entries. */
	cx_theap_free(&e->timers);
	cx_htab_free(&e->offers, free_offer_node, NULL);
	cx_htab_free(&e->exchanges, free_exchange_node, NULL);
	cx_htab_free(&e->limiters, free_limiter_node, NULL);
	cx_rng_free(e->rng);
	cx_wipe(e->secret, sizeof(e->secret));
	cx_wipe(e->hkey, sizeof(e->hkey));
	free(e);
}

void cx_engine_get_stats(const cx_engine *e, cx_engine_stats *out)
{
	out->offers = e->offers.count;
	out->exchanges = e->exchanges.count;
	out->limiters = e->limiters.count;
	out->timers = e->timers.len;
}

/* ---- offer ---- */

static bool sender_valid(const char *id)
{
	return id != NULL && cx_id_valid(id, strlen(id));
}

/*
 * Makes room for one more entry in a table at its limit by expiring due
 * timers. Returns true when the table is below max afterwards.
 */
static bool room_for(cx_engine *e, int64_t now_ms, const cx_htab *t, uint32_t max)
{
	if(t->count < max){
		return true;
	}
	cx_engine_tick(e, now_ms, CAPACITY_RECLAIM);
	return t->count < max;
}

/* A new offer entry with its timer in the heap, or NULL when memory runs out. */
static offer *offer_create(cx_engine *e, const char *owner, int64_t due)
{
	offer *o = calloc(1, sizeof(*o));

	if(o == NULL){
		return NULL;
	}
	memcpy(o->owner, owner, strlen(owner) + 1);
	o->timer.due = due;
	o->timer.kind = TIMER_OFFER;
	o->timer.idx = CX_TIMER_DETACHED;
	if(cx_theap_push(&e->timers, &o->timer) != 0){
		free(o);
		return NULL;
	}
	cx_htab_insert(&e->offers, &o->hn, hash_str(e, owner));
	return o;
}

void cx_engine_offer(cx_engine *e, int64_t now_ms, const char *owner, const cx_offer_req *req,
		const char *topic)
{
	unsigned char mac[CX_MAC_LEN];
	uint32_t ttl = req->ttl ? req->ttl : e->lim.ttl_default_s;
	int64_t due = now_ms + (int64_t)ttl * 1000;
	offer *o;

	if(!sender_valid(owner)){
		return;
	}
	if(!cx_key_valid(req->key, strlen(req->key), e->lim.key_digits_min)){
		emit_error(e, owner, CX_CODE_BAD_REQUEST, topic, req->ref, NULL,
				"key has fewer digits than this server requires");
		return;
	}
	if(ttl < CX_TTL_MIN || ttl > e->lim.ttl_max_s){
		emit_error(e, owner, CX_CODE_BAD_REQUEST, topic, req->ref, NULL,
				"ttl is outside the range this server allows");
		return;
	}
	if(cx_key_mac(e->secret, sizeof(e->secret), owner, req->key, mac) != 0){
		emit_error(e, owner, CX_CODE_INTERNAL, topic, req->ref, NULL, NULL);
		goto cleanup;
	}

	o = offer_live(e, now_ms, owner);
	if(o != NULL){
		/* Replace in place: the owner keeps its slot, so no capacity check. */
		emit_revoked(e, o, "replaced");
		o->timer.due = due;
		cx_theap_update(&e->timers, &o->timer);
	}else{
		if(!room_for(e, now_ms, &e->offers, e->lim.max_offers)){
			emit_error(e, owner, CX_CODE_CAPACITY, topic, req->ref, NULL, NULL);
			goto cleanup;
		}
		o = offer_create(e, owner, due);
		if(o == NULL){
			emit_error(e, owner, CX_CODE_INTERNAL, topic, req->ref, NULL, NULL);
			goto cleanup;
		}
	}
	memcpy(o->mac, mac, sizeof(mac));
	memcpy(o->ref, req->ref, sizeof(o->ref));
	o->ref[CX_REF_MAX] = '\0';
	o->attempts_left = (uint8_t)e->lim.attempts;
	emit_offer_accepted(e, o, ttl);

cleanup:
	cx_wipe(mac, sizeof(mac));
}

/* ---- claim ---- */

/* Counts one failed claim of claimer; opens a window at its first failure. */
static void count_failure(cx_engine *e, int64_t now_ms, const char *claimer)
{
	limiter *l = limiter_find(e, claimer);

	if(l != NULL){
		l->failures++;
		return;
	}
	l = calloc(1, sizeof(*l));
	if(l == NULL){
		/* Losing one count under memory pressure beats refusing the claim reply. */
		return;
	}
	memcpy(l->id, claimer, strlen(claimer) + 1);
	l->failures = 1;
	l->timer.due = now_ms + WINDOW_MS;
	l->timer.kind = TIMER_LIMITER;
	l->timer.idx = CX_TIMER_DETACHED;
	if(cx_theap_push(&e->timers, &l->timer) != 0){
		free(l);
		return;
	}
	cx_htab_insert(&e->limiters, &l->hn, hash_str(e, claimer));
}

/*
 * Seconds until claimer's window ends when it has used up its failures,
 * else 0. A window that has ended is dropped here.
 */
static uint32_t rate_limited_for(cx_engine *e, int64_t now_ms, const char *claimer)
{
	limiter *l = limiter_find(e, claimer);

	if(l == NULL){
		return 0;
	}
	if(l->timer.due <= now_ms){
		limiter_destroy(e, l);
		return 0;
	}
	if(l->failures < e->lim.claim_failures_per_min){
		return 0;
	}
	return (uint32_t)((l->timer.due - now_ms + 999) / 1000);
}

/* A new exchange between a and b with a fresh random ID, or NULL (memory, DRBG). */
static exchange *exchange_create(cx_engine *e, int64_t now_ms, const char *a, const char *b)
{
	exchange *x = calloc(1, sizeof(*x));
	int tries = 0;

	if(x == NULL){
		return NULL;
	}
	do{
		if(tries++ == XID_TRIES || cx_rng_bytes(e->rng, x->xid, XID_LEN) != 0){
			free(x);
			return NULL;
		}
	}while(exchange_find(e, x->xid) != NULL);
	memcpy(x->a, a, strlen(a) + 1);
	memcpy(x->b, b, strlen(b) + 1);
	x->timer.due = now_ms + (int64_t)e->lim.exchange_ttl_s * 1000;
	x->timer.kind = TIMER_EXCHANGE;
	x->timer.idx = CX_TIMER_DETACHED;
	if(cx_theap_push(&e->timers, &x->timer) != 0){
		free(x);
		return NULL;
	}
	cx_htab_insert(&e->exchanges, &x->hn, cx_siphash13(e->hkey, x->xid, XID_LEN));
	return x;
}

/* A wrong key against live offer o: one attempt gone, and the owner is told. */
static void offer_wrong_key(cx_engine *e, offer *o)
{
	o->attempts_left--;
	if(o->attempts_left > 0){
		cx_reply r = {.type = CX_REPLY_ATTEMPT, .attempts_left = o->attempts_left, .ref = o->ref};
		e->emit(e->ctx, o->owner, &r);
		return;
	}
	emit_revoked(e, o, "attempts");
	offer_destroy(e, o);
}

/* Key matched offer o: open the exchange, tell both, consume the offer. */
static void offer_matched(cx_engine *e, int64_t now_ms, offer *o, const char *claimer,
		const cx_claim_req *req, const char *topic)
{
	char hex[CX_XID_HEX + 1];
	exchange *x;

	/* The reclaim inside cannot touch o: it is live, so its timer is not due. */
	if(!room_for(e, now_ms, &e->exchanges, e->lim.max_exchanges)){
		emit_error(e, claimer, CX_CODE_CAPACITY, topic, req->ref, NULL, NULL);
		return;
	}
	x = exchange_create(e, now_ms, o->owner, claimer);
	if(x == NULL){
		emit_error(e, claimer, CX_CODE_INTERNAL, topic, req->ref, NULL, NULL);
		return;
	}
	cx_xid_format(x->xid, hex);
	cx_reply r = {
		.type = CX_REPLY_MATCH,
		.xid = hex,
		.peer = x->b,
		.expires_in = e->lim.exchange_ttl_s,
		.ref = o->ref,
	};
	e->emit(e->ctx, x->a, &r);
	r.peer = x->a;
	r.ref = req->ref;
	e->emit(e->ctx, x->b, &r);
	offer_destroy(e, o);
}

void cx_engine_claim(cx_engine *e, int64_t now_ms, const char *claimer, const char *owner,
		const cx_claim_req *req, const char *topic)
{
	unsigned char mac[CX_MAC_LEN];
	uint32_t retry;
	offer *o;

	if(!sender_valid(claimer) || owner == NULL){
		return;
	}
	retry = rate_limited_for(e, now_ms, claimer);
	if(retry > 0){
		cx_reply r = {
			.type = CX_REPLY_ERROR,
			.code = CX_CODE_RATE_LIMITED,
			.topic = topic,
			.ref = req->ref,
			.retry_after = retry,
		};
		e->emit(e->ctx, claimer, &r);
		return;
	}
	if(req->from[0] != '\0' && strcmp(req->from, claimer) != 0){
		emit_error(e, claimer, CX_CODE_BAD_REQUEST, topic, req->ref, NULL,
				"from is not the sender's terminal ID");
		return;
	}
	if(strcmp(claimer, owner) == 0){
		emit_error(e, claimer, CX_CODE_SELF_CLAIM, topic, req->ref, NULL, NULL);
		return;
	}
	/* MAC first, so that a missing offer costs the same work as a wrong key. */
	if(cx_key_mac(e->secret, sizeof(e->secret), owner, req->key, mac) != 0){
		emit_error(e, claimer, CX_CODE_INTERNAL, topic, req->ref, NULL, NULL);
		goto cleanup;
	}
	o = offer_live(e, now_ms, owner);
	if(o != NULL && cx_ct_equal(mac, o->mac, CX_MAC_LEN)){
		offer_matched(e, now_ms, o, claimer, req, topic);
		goto cleanup;
	}
	if(o != NULL){
		offer_wrong_key(e, o);
	}
	count_failure(e, now_ms, claimer);
	emit_error(e, claimer, CX_CODE_NO_MATCH, topic, req->ref, NULL, NULL);

cleanup:
	cx_wipe(mac, sizeof(mac));
}

/* ---- card ---- */

static int hex_nibble(char c)
{
	if(c >= '0' && c <= '9'){
		return c - '0';
	}
	if(c >= 'a' && c <= 'f'){
		return c - 'a' + 10;
	}
	return -1;
}

/* Parses 32 lowercase hex digits into raw; false when s is anything else. */
static bool xid_parse(const char *s, unsigned char raw[XID_LEN])
{
	size_t len = 0;

	/* Bounded: the length only needs to tell 32 from anything else. */
	while(len <= CX_XID_HEX && s[len] != '\0'){
		len++;
	}
	if(!cx_xid_valid(s, len)){
		return false;
	}
	for(size_t i = 0; i < XID_LEN; i++){
		raw[i] = (unsigned char)(hex_nibble(s[2 * i]) << 4 | hex_nibble(s[2 * i + 1]));
	}
	return true;
}

void cx_engine_card(cx_engine *e, int64_t now_ms, const char *sender, const char *peer,
		const cx_card_req *req, const char *topic)
{
	unsigned char raw[XID_LEN];
	const char *xid_echo;
	const char *other;
	unsigned bit;
	exchange *x = NULL;

	if(!sender_valid(sender) || peer == NULL){
		return;
	}
	xid_echo = xid_parse(req->xid, raw) ? req->xid : NULL;
	if(xid_echo != NULL){
		x = exchange_live(e, now_ms, raw);
	}
	if(x == NULL){
		emit_error(e, sender, CX_CODE_UNKNOWN_EXCHANGE, topic, NULL, xid_echo, NULL);
		return;
	}
	if(strcmp(sender, x->a) == 0){
		bit = SENT_A;
		other = x->b;
	}else if(strcmp(sender, x->b) == 0){
		bit = SENT_B;
		other = x->a;
	}else{
		emit_error(e, sender, CX_CODE_NOT_PEER, topic, NULL, xid_echo, NULL);
		return;
	}
	if(strcmp(peer, other) != 0){
		emit_error(e, sender, CX_CODE_NOT_PEER, topic, NULL, xid_echo, NULL);
		return;
	}
	if(x->sent & bit){
		emit_error(e, sender, CX_CODE_ALREADY_SENT, topic, NULL, xid_echo, NULL);
		return;
	}

	cx_reply card = {
		.type = CX_REPLY_CARD,
		.xid = xid_echo,
		.peer = sender,
		.card = req->card,
		.card_len = req->card_len,
	};
	e->emit(e->ctx, other, &card);
	cx_reply sent = {.type = CX_REPLY_SENT, .xid = xid_echo, .peer = other};
	e->emit(e->ctx, sender, &sent);

	x->sent |= (uint8_t)bit;
	if(x->sent == (SENT_A | SENT_B)){
		exchange_destroy(e, x);
	}
}
