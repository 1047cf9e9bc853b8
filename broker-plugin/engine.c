/*
 * The exchange engine (engine.h): offers, claims, exchanges, expiry, limits.
 *
 * State lives in keyed hash tables (offers by owner ID, exchanges by raw
 * 16-byte exchange ID, failure windows by claimer ID and by source address,
 * error-reply windows by terminal ID, each claimer's last claim by claimer
 * ID) whose entries embed their table link
 * and, but for the error windows, their timer, and in one min-heap holding
 * every timer. Each request therefore costs O(1) expected table work plus
 * O(log n) heap work, whatever the number of pending offers.
 *
 * No guess goes uncounted: before a claim is evaluated, the entries and heap
 * slots its failure would need are secured (a spare entry per table, kept
 * for the next claim when this one matches), so counting a failure cannot
 * fail afterwards. A claim for which they cannot be had is refused
 * unevaluated.
 *
 * Error replies to one terminal are budgeted per clock second. The windows
 * are aligned to whole seconds, so that they need no timers: the whole table
 * is dropped when the second changes.
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

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crypto.h"
#include "engine_internal.h"
#include "ids.h"

/*
 * Due timers reclaimed before refusing for capacity: expired entries still
 * held because the tick has not run yet should not crowd out live ones, but
 * a request must stay cheap.
 */
#define CAPACITY_RECLAIM 16
/*
 * Entries a tick moves in each table that is growing (cx_htab_rehash), to
 * finish a growth that inserts left under way: some 50 us at a million
 * offers, where every entry moved is a cache miss or two.
 */
#define TICK_REHASH 256
/* Fresh exchange IDs drawn when one collides with a live exchange. */
#define XID_TRIES 4

_Static_assert(CX_MAC_LEN == 2 * sizeof(uint64_t), "key_mac writes two SipHash outputs");

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
	lim->claim_failures_per_min_per_address = 50;
	lim->claim_failures_per_min_total = 1000;
	lim->max_limiters = 100000;
	lim->error_replies_per_sec = 20;
	lim->require_sealed = false;
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
	if(lim->claim_failures_per_min_per_address < 1 || lim->claim_failures_per_min_per_address > 1000000){
		return "claim_failures_per_min_per_address must be 1..1000000";
	}
	if(lim->claim_failures_per_min_total < 1 || lim->claim_failures_per_min_total > 100000000){
		return "claim_failures_per_min_total must be 1..100000000";
	}
	/* A claim may need a claimer's and an address's window at once. */
	if(lim->max_limiters < 2){
		return "max_limiters must be at least 2";
	}
	if(lim->error_replies_per_sec < 1 || lim->error_replies_per_sec > 100000){
		return "error_replies_per_sec must be 1..100000";
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

static uint64_t errwin_hash(const cx_hnode *n, const void *ctx)
{
	return hash_str(ctx, CONTAINER(n, errwin, hn)->id);
}

static bool errwin_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, errwin, hn)->id, key) == 0;
}

static uint64_t recent_hash(const cx_hnode *n, const void *ctx)
{
	return hash_str(ctx, CONTAINER(n, recent, hn)->claimer);
}

static bool recent_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, recent, hn)->claimer, key) == 0;
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

static limiter *limiter_find(const cx_engine *e, const cx_htab *t, const char *id)
{
	cx_hnode *n = cx_htab_find(t, hash_str(e, id), limiter_eq, id);
	return n ? CONTAINER(n, limiter, hn) : NULL;
}

static errwin *errwin_find(const cx_engine *e, const char *id)
{
	cx_hnode *n = cx_htab_find(&e->errwins, hash_str(e, id), errwin_eq, id);
	return n ? CONTAINER(n, errwin, hn) : NULL;
}

static recent *recent_find(const cx_engine *e, const char *claimer)
{
	cx_hnode *n = cx_htab_find(&e->recents, hash_str(e, claimer), recent_eq, claimer);
	return n ? CONTAINER(n, recent, hn) : NULL;
}

/* The table a limiter lives in, by the kind of its timer. */
static cx_htab *limiter_table(cx_engine *e, const limiter *l)
{
	return l->timer.kind == TIMER_ADDR_LIMITER ? &e->addr_limiters : &e->limiters;
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
	cx_htab_remove(limiter_table(e, l), &l->hn, hash_str(e, l->id));
	cx_theap_remove(&e->timers, &l->timer);
	free(l);
}

static void recent_destroy(cx_engine *e, recent *r)
{
	cx_htab_remove(&e->recents, &r->hn, hash_str(e, r->claimer));
	cx_theap_remove(&e->timers, &r->timer);
	cx_wipe(r, sizeof(*r));
	free(r);
}

/* ---- error budget ---- */

static void free_errwin_node(cx_hnode *n, void *arg)
{
	(void)arg;
	free(CONTAINER(n, errwin, hn));
}

/* The clock second of now_ms, rounded down also for negative times. */
static int64_t second_of(int64_t now_ms)
{
	return now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
}

/* Drops the error windows when now_ms is in a later second than they count. */
static void errwins_roll(cx_engine *e, int64_t now_ms)
{
	int64_t sec = second_of(now_ms);

	if(sec == e->err_second){
		return;
	}
	if(e->errwins.count > 0){
		cx_htab_clear(&e->errwins, free_errwin_node, NULL);
	}
	e->err_second = sec;
}

/*
 * Takes one error reply to terminal to from its budget for this second.
 * False when the budget is spent, or when its window cannot be tracked
 * (ceiling or memory): an error that cannot be counted is not sent.
 */
static bool error_budget_take(cx_engine *e, int64_t now_ms, const char *to)
{
	errwin *w;

	errwins_roll(e, now_ms);
	w = errwin_find(e, to);
	if(w != NULL){
		if(w->sent >= e->lim.error_replies_per_sec){
			return false;
		}
		w->sent++;
		return true;
	}
	if(e->errwins.count >= e->lim.max_limiters){
		return false;
	}
	w = calloc(1, sizeof(*w));
	if(w == NULL){
		return false;
	}
	memcpy(w->id, to, strlen(to) + 1);
	w->sent = 1;
	cx_htab_insert(&e->errwins, &w->hn, hash_str(e, to));
	return true;
}

/* ---- replies ---- */

/* Emits error r (type must be CX_REPLY_ERROR) to terminal to, within its budget. */
static bool emit_error_reply(cx_engine *e, int64_t now_ms, const char *to, const cx_reply *r)
{
	if(!error_budget_take(e, now_ms, to)){
		e->counters.errors_dropped++;
		return false;
	}
	e->counters.errors_sent++;
	e->emit(e->ctx, to, r);
	return true;
}

static void emit_error(cx_engine *e, int64_t now_ms, const char *to, cx_code code, const char *topic,
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
	emit_error_reply(e, now_ms, to, &r);
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
	e->counters.offers_accepted++;
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
	case TIMER_ADDR_LIMITER:
		limiter_destroy(e, CONTAINER(t, limiter, timer));
		break;
	case TIMER_RECENT:
		recent_destroy(e, CONTAINER(t, recent, timer));
		break;
	default:
		/* Unreachable: every timer is embedded by one of the kinds above. */
		cx_theap_remove(&e->timers, t);
		break;
	}
}

/* Expires at most budget due timers; returns how many. The work of a tick but the rehashing. */
static size_t expire_due(cx_engine *e, int64_t now_ms, size_t budget)
{
	size_t done = 0;

	errwins_roll(e, now_ms);
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

static void notices_release(cx_engine *e, int64_t now_ms);

void cx_engine_defer_notices(cx_engine *e, bool defer)
{
	e->defer = defer;
}

size_t cx_engine_tick(cx_engine *e, int64_t now_ms, size_t budget)
{
	size_t done;

	e->ticks++;
	notices_release(e, now_ms);
	done = expire_due(e, now_ms, budget);

	/*
	 * Tables grow a few entries per insert; the ticks also finish a
	 * growth that traffic left under way, so that the old array is freed.
	 */
	cx_htab_rehash(&e->offers, TICK_REHASH);
	cx_htab_rehash(&e->exchanges, TICK_REHASH);
	cx_htab_rehash(&e->limiters, TICK_REHASH);
	cx_htab_rehash(&e->addr_limiters, TICK_REHASH);
	cx_htab_rehash(&e->errwins, TICK_REHASH);
	cx_htab_rehash(&e->recents, TICK_REHASH);
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

static void free_recent_node(cx_hnode *n, void *arg)
{
	(void)arg;
	recent *r = CONTAINER(n, recent, hn);
	cx_wipe(r, sizeof(*r));
	free(r);
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
	if(cx_rng_bytes(e->rng, e->mkey[0], sizeof(e->mkey[0])) != 0
			|| cx_rng_bytes(e->rng, e->mkey[1], sizeof(e->mkey[1])) != 0
			|| cx_rng_bytes(e->rng, e->hkey, sizeof(e->hkey)) != 0
			|| cx_rng_bytes(e->rng, e->dummy_mac, sizeof(e->dummy_mac)) != 0){
		goto cleanup;
	}
	if(cx_htab_init(&e->offers, offer_hash, e) != 0
			|| cx_htab_init(&e->exchanges, exchange_hash, e) != 0
			|| cx_htab_init(&e->limiters, limiter_hash, e) != 0
			|| cx_htab_init(&e->addr_limiters, limiter_hash, e) != 0
			|| cx_htab_init(&e->errwins, errwin_hash, e) != 0
			|| cx_htab_init(&e->recents, recent_hash, e) != 0){
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
	cx_htab_free(&e->addr_limiters, free_limiter_node, NULL);
	cx_htab_free(&e->errwins, free_errwin_node, NULL);
	cx_htab_free(&e->recents, free_recent_node, NULL);
	if(e->held != NULL){
		cx_wipe(e->held, e->held_cap * sizeof(*e->held));
		free(e->held);
	}
	for(size_t i = 0; i < NSPARES; i++){
		free(e->spare[i]);
	}
	cx_rng_free(e->rng);
	cx_wipe(e->mkey, sizeof(e->mkey));
	cx_wipe(e->hkey, sizeof(e->hkey));
	cx_wipe(e->dummy_mac, sizeof(e->dummy_mac));
	cx_wipe(e->xid_pool, sizeof(e->xid_pool));
	free(e);
}

void cx_engine_get_stats(const cx_engine *e, cx_engine_stats *out)
{
	*out = e->counters;
	out->offers = e->offers.count;
	out->exchanges = e->exchanges.count;
	out->limiters = e->limiters.count;
	out->timers = e->timers.len;
	out->address_limiters = e->addr_limiters.count;
	out->error_windows = e->errwins.count;
	out->recent_claims = e->recents.count;
	out->total_failures = e->total_open ? e->total_failures : 0;
}

/* ---- offer ---- */

void cx_engine_key_mac(const unsigned char *k0, const unsigned char *k1, const char *owner, const char *key,
		unsigned char out[CX_MAC_LEN])
{
	unsigned char in[CX_ID_MAX + 1 + CX_KEY_DIGITS_MAX];
	size_t olen = strnlen(owner, CX_ID_MAX), klen = strnlen(key, CX_KEY_DIGITS_MAX);
	uint64_t h[2];

	memcpy(in, owner, olen);
	in[olen] = 0;
	memcpy(in + olen + 1, key, klen);
	h[0] = cx_siphash24(k0, in, olen + 1 + klen);
	h[1] = cx_siphash24(k1, in, olen + 1 + klen);
	memcpy(out, h, CX_MAC_LEN);
	cx_wipe(in, sizeof(in));
	cx_wipe(h, sizeof(h));
}

/* The MAC an offer keeps instead of its key (cx_engine_key_mac), under this engine's keys. */
static void key_mac(const cx_engine *e, const char *owner, const char *key, unsigned char out[CX_MAC_LEN])
{
	cx_engine_key_mac(e->mkey[0], e->mkey[1], owner, key, out);
}

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
	expire_due(e, now_ms, CAPACITY_RECLAIM);
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
		emit_error(e, now_ms, owner, CX_CODE_BAD_REQUEST, topic, req->ref, NULL,
				"key has fewer digits than this server requires");
		return;
	}
	if(ttl < CX_TTL_MIN || ttl > e->lim.ttl_max_s){
		emit_error(e, now_ms, owner, CX_CODE_BAD_REQUEST, topic, req->ref, NULL,
				"ttl is outside the range this server allows");
		return;
	}
	key_mac(e, owner, req->key, mac);
	o = offer_live(e, now_ms, owner);
	if(o != NULL){
		/* Replace in place: the owner keeps its slot, so no capacity check. */
		emit_revoked(e, o, "replaced");
		o->timer.due = due;
		cx_theap_update(&e->timers, &o->timer);
	}else{
		if(!room_for(e, now_ms, &e->offers, e->lim.max_offers)){
			e->counters.capacity_offers++;
			emit_error(e, now_ms, owner, CX_CODE_CAPACITY, topic, req->ref, NULL,
					"the server holds as many pending offers as it is configured to; try again later");
			goto cleanup;
		}
		o = offer_create(e, owner, due);
		if(o == NULL){
			emit_error(e, now_ms, owner, CX_CODE_INTERNAL, topic, req->ref, NULL, NULL);
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

bool cx_engine_withdraw(cx_engine *e, int64_t now_ms, const char *owner)
{
	offer *o;

	if(!sender_valid(owner)){
		return false;
	}
	o = offer_live(e, now_ms, owner);
	if(o == NULL){
		return false;
	}
	e->counters.offers_withdrawn++;
	emit_revoked(e, o, "withdrawn");
	offer_destroy(e, o);
	return true;
}

/* ---- claim ---- */

/*
 * The live window of key in table t, or NULL. A window that has ended is
 * dropped here.
 */
static limiter *limiter_live(cx_engine *e, int64_t now_ms, cx_htab *t, const char *key)
{
	limiter *l = limiter_find(e, t, key);

	if(l != NULL && l->timer.due <= now_ms){
		limiter_destroy(e, l);
		l = NULL;
	}
	return l;
}

/* Whole seconds from now_ms until due (at least 1 when due is later). */
static uint32_t seconds_until(int64_t now_ms, int64_t due)
{
	return due > now_ms ? (uint32_t)((due - now_ms + 999) / 1000) : 0;
}

/* Ends the all-claimers window when its time is over. */
static void total_roll(cx_engine *e, int64_t now_ms)
{
	if(e->total_open && e->total_due <= now_ms){
		e->total_open = false;
		e->total_failures = 0;
	}
}

/*
 * Seconds until a claim of claimer from address key addr (may be "") would
 * be evaluated, 0 when it is now. The rule, fair to terminals that share an
 * address or the server with an attacker:
 * - a claimer whose own window is at its limit waits for it to end;
 * - a claimer with failures in its own window waits while its address's or
 *   the all-claimers window is at its limit (until the first of its own
 *   window and those ends: then it is evaluated again);
 * - a claimer without failures in a live window is evaluated even then, so
 *   an attacker next to it cannot lock it out; each terminal can add at
 *   most one failure per window this way (it has one at once);
 * - nobody is evaluated once the all-claimers window holds twice its limit:
 *   a hard ceiling that many terminals cannot get past one failure each.
 */
static uint32_t rate_limited_for(cx_engine *e, int64_t now_ms, const char *claimer, const char *addr)
{
	limiter *own = limiter_live(e, now_ms, &e->limiters, claimer);
	limiter *at = addr[0] != '\0' ? limiter_live(e, now_ms, &e->addr_limiters, addr) : NULL;
	uint32_t shared = 0, w;

	total_roll(e, now_ms);
	if(own != NULL && own->failures >= e->lim.claim_failures_per_min){
		return seconds_until(now_ms, own->timer.due);
	}
	if(e->total_open && e->total_failures >= 2 * (uint64_t)e->lim.claim_failures_per_min_total){
		return seconds_until(now_ms, e->total_due);
	}
	if(own == NULL){
		return 0;
	}
	if(at != NULL && at->failures >= e->lim.claim_failures_per_min_per_address){
		shared = seconds_until(now_ms, at->timer.due);
	}
	if(e->total_open && e->total_failures >= e->lim.claim_failures_per_min_total){
		w = seconds_until(now_ms, e->total_due);
		shared = w > shared ? w : shared;
	}
	if(shared == 0){
		return 0;
	}
	w = seconds_until(now_ms, own->timer.due);
	return w < shared ? w : shared;
}

/*
 * Secures what counting a failure of this claim needs, so that once it is
 * evaluated its failure is always counted: a spare entry for each window
 * that does not exist yet (kept for a later claim if this one matches), room
 * for them under max_limiters (reclaiming ended windows first) and heap
 * slots for their timers. Returns CX_CODE_NONE, CX_CODE_CAPACITY or
 * CX_CODE_INTERNAL (memory).
 */
static cx_code prepare_counting(cx_engine *e, int64_t now_ms, const char *claimer, const char *addr)
{
	bool need[NSPARES];
	size_t n;

	/* rate_limited_for has just dropped ended windows, so a window found here is live. */
	need[SPARE_CLAIMER] = limiter_find(e, &e->limiters, claimer) == NULL;
	need[SPARE_ADDRESS] = addr[0] != '\0' && limiter_find(e, &e->addr_limiters, addr) == NULL;
	n = (size_t)need[SPARE_CLAIMER] + (size_t)need[SPARE_ADDRESS];
	if(n == 0){
		return CX_CODE_NONE;
	}
	if(e->limiters.count + e->addr_limiters.count + n > e->lim.max_limiters){
		/* The reclaim cannot drop the windows looked up above: they are absent or live. */
		expire_due(e, now_ms, CAPACITY_RECLAIM);
		if(e->limiters.count + e->addr_limiters.count + n > e->lim.max_limiters){
			return CX_CODE_CAPACITY;
		}
	}
	for(size_t i = 0; i < NSPARES; i++){
		if(need[i] && e->spare[i] == NULL){
			e->spare[i] = calloc(1, sizeof(*e->spare[i]));
			if(e->spare[i] == NULL){
				return CX_CODE_INTERNAL;
			}
		}
	}
	return cx_theap_reserve(&e->timers, n) == 0 ? CX_CODE_NONE : CX_CODE_INTERNAL;
}

/*
 * Counts one failure in the window of key in table t, opening the window
 * with the spare entry prepare_counting secured when there is none.
 */
static void limiter_count(cx_engine *e, int64_t now_ms, cx_htab *t, uint8_t kind, size_t spare,
		const char *key)
{
	limiter *l = limiter_find(e, t, key);

	if(l != NULL){
		l->failures++;
		return;
	}
	l = e->spare[spare];
	e->spare[spare] = NULL;
	memset(l, 0, sizeof(*l));
	memcpy(l->id, key, strlen(key) + 1);
	l->failures = 1;
	l->timer.due = now_ms + WINDOW_MS;
	l->timer.kind = kind;
	l->timer.idx = CX_TIMER_DETACHED;
	/* Cannot fail: prepare_counting reserved the slot. */
	(void)cx_theap_push(&e->timers, &l->timer);
	cx_htab_insert(t, &l->hn, hash_str(e, key));
}

/* Counts one failed claim against claimer, its address (when known) and the total. */
static void count_failure(cx_engine *e, int64_t now_ms, const char *claimer, const char *addr)
{
	limiter_count(e, now_ms, &e->limiters, TIMER_LIMITER, SPARE_CLAIMER, claimer);
	if(addr[0] != '\0'){
		limiter_count(e, now_ms, &e->addr_limiters, TIMER_ADDR_LIMITER, SPARE_ADDRESS, addr);
	}
	if(!e->total_open){
		e->total_open = true;
		e->total_due = now_ms + WINDOW_MS;
		e->total_failures = 0;
	}
	e->total_failures++;
	if(e->total_failures == e->lim.claim_failures_per_min_total){
		e->counters.total_limit_reached++;
	}
	e->counters.claims_failed++;
}

/* A fresh random exchange ID into out; -1 when the DRBG fails. */
static int xid_draw(cx_engine *e, unsigned char out[XID_LEN])
{
	unsigned char *next;

	if(e->xid_left == 0){
		if(cx_rng_bytes(e->rng, e->xid_pool, sizeof(e->xid_pool)) != 0){
			cx_wipe(e->xid_pool, sizeof(e->xid_pool));
			return -1;
		}
		e->xid_left = XID_POOL;
	}
	next = e->xid_pool + (XID_POOL - e->xid_left) * XID_LEN;
	memcpy(out, next, XID_LEN);
	cx_wipe(next, XID_LEN);
	e->xid_left--;
	return 0;
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
		if(tries++ == XID_TRIES || xid_draw(e, x->xid) != 0){
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
	e->counters.matches++;
	return x;
}

/* Emits the owner's notice n. */
static void notice_emit(cx_engine *e, const notice *n)
{
	cx_reply r = {.type = (cx_reply_type)n->type, .attempts_left = n->attempts_left, .ref = n->ref};

	if(n->type == CX_REPLY_REVOKED){
		r.reason = "attempts";
	}
	e->emit(e->ctx, n->owner, &r);
}

/*
 * Tells the owner of o about a wrong key: at once, or, deferring, held
 * until the second tick from now and NOTICE_DELAY_MS, when the claimer's
 * answer has surely left the broker and reached the claimer (emitted in the
 * same callback, the two would be written in the same round, in no set
 * order, and the owner's, which can go to several connections, would delay
 * the claimer's; emitted right after it, it would still keep the broker
 * busy while the claimer's answer is on its way). Emitted at once when it
 * cannot be held (memory).
 */
#define NOTICE_DELAY_MS 10
/*
 * Held this long, a notice goes with the next request even without ticks
 * (Mosquitto 2.0.11 never calls TICK with per_listener_settings true), so
 * that the held notices stay few.
 */
#define NOTICE_LATE_MS 250

static void notice_owner(cx_engine *e, int64_t now_ms, const offer *o, cx_reply_type type)
{
	notice n;

	memset(&n, 0, sizeof(n));
	n.tick = e->ticks;
	n.due = now_ms + NOTICE_DELAY_MS;
	n.type = (uint8_t)type;
	n.attempts_left = o->attempts_left;
	memcpy(n.ref, o->ref, sizeof(n.ref));
	memcpy(n.owner, o->owner, strlen(o->owner) + 1);
	if(e->defer && e->nheld == e->held_cap){
		size_t cap = e->held_cap ? 2 * e->held_cap : 64;
		notice *grown = realloc(e->held, cap * sizeof(*grown));
		if(grown != NULL){
			e->held = grown;
			e->held_cap = cap;
		}
	}
	if(e->defer && e->nheld < e->held_cap){
		e->held[e->nheld++] = n;
		return;
	}
	notice_emit(e, &n);
}

/*
 * Emits the held notices, oldest first, that have waited for a tick past
 * the one they were held in and NOTICE_DELAY_MS, or NOTICE_LATE_MS.
 */
static void notices_release(cx_engine *e, int64_t now_ms)
{
	size_t done = 0;

	while(done < e->nheld && ((e->held[done].tick + 1 < e->ticks && e->held[done].due <= now_ms)
			|| e->held[done].due + NOTICE_LATE_MS <= now_ms)){
		notice_emit(e, &e->held[done]);
		done++;
	}
	if(done > 0){
		memmove(e->held, e->held + done, (e->nheld - done) * sizeof(*e->held));
		e->nheld -= done;
	}
}

/* A wrong key against live offer o: one attempt gone, and the owner is told. */
static void offer_wrong_key(cx_engine *e, int64_t now_ms, offer *o)
{
	o->attempts_left--;
	if(o->attempts_left > 0){
		notice_owner(e, now_ms, o, CX_REPLY_ATTEMPT);
		return;
	}
	notice_owner(e, now_ms, o, CX_REPLY_REVOKED);
	offer_destroy(e, o);
}

/*
 * Key matched offer o: open the exchange, tell both, consume the offer.
 * Returns the exchange, or NULL when none could be opened (the claimer was
 * told: capacity or internal; the offer stays).
 */
static exchange *offer_matched(cx_engine *e, int64_t now_ms, offer *o, const char *claimer,
		const cx_claim_req *req, const char *topic)
{
	char hex[CX_XID_HEX + 1];
	exchange *x;

	/* The reclaim inside cannot touch o: it is live, so its timer is not due. */
	if(!room_for(e, now_ms, &e->exchanges, e->lim.max_exchanges)){
		e->counters.capacity_exchanges++;
		emit_error(e, now_ms, claimer, CX_CODE_CAPACITY, topic, req->ref, NULL,
				"the server holds as many live exchanges as it is configured to; try again later");
		return NULL;
	}
	x = exchange_create(e, now_ms, o->owner, claimer);
	if(x == NULL){
		emit_error(e, now_ms, claimer, CX_CODE_INTERNAL, topic, req->ref, NULL, NULL);
		return NULL;
	}
	cx_xid_format(x->xid, hex);
	x->sealed = req->commit[0] != '\0';
	cx_reply r = {
		.type = CX_REPLY_MATCH,
		.xid = hex,
		.peer = x->b,
		.expires_in = e->lim.exchange_ttl_s,
		.ref = o->ref,
		.commit = req->commit, /* relayed unread; "" is left out */
	};
	e->emit(e->ctx, x->a, &r);
	r.peer = x->a;
	r.ref = req->ref;
	r.commit = NULL;
	e->emit(e->ctx, x->b, &r);
	offer_destroy(e, o);
	return x;
}

/* Copies of a claim are recognised for as long as a failure window lasts. */
#define RECENT_MS WINDOW_MS

/*
 * Remembers claimer's evaluated claim (MAC of its owner and key, its ref)
 * and the outcome, replacing the claim it remembered before. Best effort:
 * when max_limiters entries are held or memory runs out, nothing is kept,
 * and a copy of this claim would be evaluated as a new claim.
 */
static void recent_note(cx_engine *e, int64_t now_ms, const char *claimer, const unsigned char mac[CX_MAC_LEN],
		const char *ref, uint8_t outcome, const unsigned char *xid)
{
	recent *r = recent_find(e, claimer);

	if(r == NULL){
		if(!room_for(e, now_ms, &e->recents, e->lim.max_limiters)){
			return;
		}
		r = calloc(1, sizeof(*r));
		if(r == NULL){
			return;
		}
		memcpy(r->claimer, claimer, strlen(claimer) + 1);
		r->timer.kind = TIMER_RECENT;
		r->timer.idx = CX_TIMER_DETACHED;
		r->timer.due = now_ms + RECENT_MS;
		if(cx_theap_push(&e->timers, &r->timer) != 0){
			free(r);
			return;
		}
		cx_htab_insert(&e->recents, &r->hn, hash_str(e, claimer));
	}else{
		r->timer.due = now_ms + RECENT_MS;
		cx_theap_update(&e->timers, &r->timer);
	}
	r->outcome = outcome;
	memcpy(r->mac, mac, CX_MAC_LEN);
	memcpy(r->ref, ref, sizeof(r->ref));
	r->ref[CX_REF_MAX] = '\0';
	if(xid != NULL){
		memcpy(r->xid, xid, XID_LEN);
	}else{
		memset(r->xid, 0, XID_LEN);
	}
}

/*
 * A copy of the claim r remembers: answered as that claim was, neither
 * evaluated nor counted. A match is sent again to the claimer alone while
 * its exchange lives (the owner heard of it once); after that, or after a
 * no-match, the answer is no-match.
 */
static void claim_repeat(cx_engine *e, int64_t now_ms, const recent *r, const char *claimer,
		const cx_claim_req *req, const char *topic)
{
	e->counters.claims_repeated++;
	if(r->outcome == RECENT_MATCH){
		exchange *x = exchange_live(e, now_ms, r->xid);
		if(x != NULL && strcmp(x->b, claimer) == 0){
			char hex[CX_XID_HEX + 1];
			cx_xid_format(x->xid, hex);
			cx_reply m = {
				.type = CX_REPLY_MATCH,
				.xid = hex,
				.peer = x->a,
				.expires_in = seconds_until(now_ms, x->timer.due),
				.ref = req->ref,
			};
			e->emit(e->ctx, claimer, &m);
			return;
		}
	}
	emit_error(e, now_ms, claimer, CX_CODE_NO_MATCH, topic, req->ref, NULL, NULL);
}

void cx_engine_claim(cx_engine *e, int64_t now_ms, const char *claimer, const char *owner,
		const cx_claim_req *req, const char *topic)
{
	cx_engine_claim_from(e, now_ms, claimer, NULL, owner, req, topic);
}

void cx_engine_claim_from(cx_engine *e, int64_t now_ms, const char *claimer, const char *address,
		const char *owner, const cx_claim_req *req, const char *topic)
{
	unsigned char mac[CX_MAC_LEN];
	char addr[CX_ADDR_MAX + 1];
	bool have_mac = false, matched;
	uint32_t retry;
	cx_code code;
	recent *last;
	exchange *x;
	offer *o;

	if(!sender_valid(claimer) || owner == NULL){
		return;
	}
	if(e->nheld > 0){
		notices_release(e, now_ms);
	}
	/*
	 * A copy of the last claim is answered first, as the claim was, also
	 * when a limit has been reached since: the MAC is computed only when
	 * the ref matches, so refused floods stay cheap.
	 */
	last = recent_find(e, claimer);
	if(last != NULL && last->timer.due > now_ms && strcmp(last->ref, req->ref) == 0){
		key_mac(e, owner, req->key, mac);
		have_mac = true;
		if(cx_ct_equal(mac, last->mac, CX_MAC_LEN)){
			claim_repeat(e, now_ms, last, claimer, req, topic);
			goto cleanup;
		}
	}
	cx_address_key(address, addr);
	retry = rate_limited_for(e, now_ms, claimer, addr);
	if(retry > 0){
		cx_reply r = {
			.type = CX_REPLY_ERROR,
			.code = CX_CODE_RATE_LIMITED,
			.topic = topic,
			.ref = req->ref,
			.retry_after = retry,
		};
		e->counters.claims_rate_limited++;
		emit_error_reply(e, now_ms, claimer, &r);
		goto cleanup;
	}
	if(req->from[0] != '\0' && strcmp(req->from, claimer) != 0){
		emit_error(e, now_ms, claimer, CX_CODE_BAD_REQUEST, topic, req->ref, NULL,
				"from is not the sender's terminal ID");
		goto cleanup;
	}
	if(e->lim.require_sealed && req->commit[0] == '\0'){
		emit_error(e, now_ms, claimer, CX_CODE_SEALED_REQUIRED, topic, req->ref, NULL,
				"this server accepts only sealed exchanges: the claim needs a \"commit\"");
		goto cleanup;
	}
	if(strcmp(claimer, owner) == 0){
		emit_error(e, now_ms, claimer, CX_CODE_SELF_CLAIM, topic, req->ref, NULL, NULL);
		goto cleanup;
	}
	code = prepare_counting(e, now_ms, claimer, addr);
	if(code == CX_CODE_CAPACITY){
		e->counters.capacity_limiters++;
		emit_error(e, now_ms, claimer, code, topic, req->ref, NULL,
				"the server tracks as many failing claimers as it is configured to; try again later");
		goto cleanup;
	}
	if(code != CX_CODE_NONE){
		emit_error(e, now_ms, claimer, code, topic, req->ref, NULL, NULL);
		goto cleanup;
	}
	/*
	 * From here on a missing offer costs the same work as a wrong key, so
	 * that no-match cannot tell whether an offer exists: the MAC is always
	 * computed and compared (against a random one when there is no offer),
	 * and the claimer is answered before the owner's notice is even built.
	 */
	if(!have_mac){
		key_mac(e, owner, req->key, mac);
	}
	e->counters.claims_evaluated++;
	o = offer_live(e, now_ms, owner);
	matched = cx_ct_equal(mac, o != NULL ? o->mac : e->dummy_mac, CX_MAC_LEN);
	if(matched && o != NULL){
		x = offer_matched(e, now_ms, o, claimer, req, topic);
		if(x != NULL){
			recent_note(e, now_ms, claimer, mac, req->ref, RECENT_MATCH, x->xid);
		}
		goto cleanup;
	}
	count_failure(e, now_ms, claimer, addr);
	emit_error(e, now_ms, claimer, CX_CODE_NO_MATCH, topic, req->ref, NULL, NULL);
	if(o != NULL){
		offer_wrong_key(e, now_ms, o);
	}
	recent_note(e, now_ms, claimer, mac, req->ref, RECENT_NO_MATCH, NULL);

cleanup:
	cx_wipe(mac, sizeof(mac));
}

bool cx_engine_error(cx_engine *e, int64_t now_ms, const char *to, cx_code code, const char *topic,
		const char *message, const char *ref, const char *xid)
{
	cx_reply r = {
		.type = CX_REPLY_ERROR,
		.code = code,
		.topic = topic,
		.ref = ref,
		.xid = xid,
		.message = message,
	};

	if(!sender_valid(to)){
		return false;
	}
	return emit_error_reply(e, now_ms, to, &r);
}

bool cx_engine_error_reply(cx_engine *e, int64_t now_ms, const char *to, const cx_reply *r)
{
	if(!sender_valid(to) || r == NULL || r->type != CX_REPLY_ERROR){
		return false;
	}
	return emit_error_reply(e, now_ms, to, r);
}

/* ---- addresses ---- */

size_t cx_address_key(const char *address, char out[CX_ADDR_MAX + 1])
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char a6[16];
	size_t len;

	out[0] = '\0';
	if(address == NULL || address[0] == '\0'){
		return 0;
	}
	/* Every IPv6 text has a ':'; an IPv4 address is taken as it is without asking inet_pton. */
	if(strchr(address, ':') != NULL && inet_pton(AF_INET6, address, a6) == 1){
		if(memcmp(a6, v4mapped, sizeof(v4mapped)) == 0){
			if(inet_ntop(AF_INET, a6 + 12, out, CX_ADDR_MAX + 1) != NULL){
				return strlen(out);
			}
		}else{
			/* The interface half goes: one host commonly holds the whole /64. */
			memset(a6 + 8, 0, 8);
			/* INET6_ADDRSTRLEN (46) plus "/64" fits in CX_ADDR_MAX + 1. */
			if(inet_ntop(AF_INET6, a6, out, CX_ADDR_MAX + 1) != NULL){
				len = strlen(out);
				memcpy(out + len, "/64", 4);
				return len + 3;
			}
		}
	}
	/*
	 * IPv4, or an address of another kind: the text itself. (inet_ntop
	 * fails only for lack of room, which the sizes above rule out.)
	 */
	len = strnlen(address, CX_ADDR_MAX);
	memcpy(out, address, len);
	out[len] = '\0';
	return len;
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

/*
 * Whether a message of this kind from the party with bit may pass now in
 * exchange x (which it has sent no card in yet): NULL, or the reason for
 * the error and *code. The plugin reads neither keys nor cards: it only
 * keeps the order that makes the commitment work (the offerer's key before
 * the claimer's) and keeps plaintext out of an exchange a party sealed.
 */
static const char *card_order(const cx_engine *e, const exchange *x, unsigned bit, cx_card_kind kind,
		cx_code *code)
{
	*code = CX_CODE_BAD_ORDER;
	switch(kind){
	case CX_CARD_PK:
		if(!x->sealed){
			return "this exchange is not sealed: its claim carried no commit";
		}
		if(x->pk_sent & bit){
			*code = CX_CODE_ALREADY_SENT;
			return CX_MSG_KEY_ALREADY_SENT;
		}
		if(bit == SENT_B && !(x->pk_sent & SENT_A)){
			return "the claimer sends its key only after the offerer's";
		}
		return NULL;
	case CX_CARD_SEALED:
		if(x->pk_sent != (SENT_A | SENT_B)){
			return "a sealed card passes only after both keys";
		}
		return NULL;
	case CX_CARD_PLAIN:
	default:
		if(e->lim.require_sealed){
			*code = CX_CODE_SEALED_REQUIRED;
			return "this server accepts only sealed cards";
		}
		if(x->pk_sent & bit){
			return "this terminal sealed this exchange: its card must be sealed";
		}
		return NULL;
	}
}

void cx_engine_card(cx_engine *e, int64_t now_ms, const char *sender, const char *peer,
		const cx_card_req *req, const char *topic)
{
	unsigned char raw[XID_LEN];
	const char *why;
	cx_code code;
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
		emit_error(e, now_ms, sender, CX_CODE_UNKNOWN_EXCHANGE, topic, NULL, xid_echo, NULL);
		return;
	}
	if(strcmp(sender, x->a) == 0){
		bit = SENT_A;
		other = x->b;
	}else if(strcmp(sender, x->b) == 0){
		bit = SENT_B;
		other = x->a;
	}else{
		emit_error(e, now_ms, sender, CX_CODE_NOT_PEER, topic, NULL, xid_echo, NULL);
		return;
	}
	if(strcmp(peer, other) != 0){
		emit_error(e, now_ms, sender, CX_CODE_NOT_PEER, topic, NULL, xid_echo, NULL);
		return;
	}
	if(x->sent & bit){
		emit_error(e, now_ms, sender, CX_CODE_ALREADY_SENT, topic, NULL, xid_echo, NULL);
		return;
	}
	why = card_order(e, x, bit, req->kind, &code);
	if(why != NULL){
		emit_error(e, now_ms, sender, code, topic, NULL, xid_echo, why);
		return;
	}
	if(req->kind == CX_CARD_PK){
		cx_reply pk = {.type = CX_REPLY_PK, .xid = xid_echo, .peer = sender, .pk = req->pk};
		x->pk_sent |= (uint8_t)bit;
		e->emit(e->ctx, other, &pk);
		return;
	}

	cx_reply card = {
		.type = CX_REPLY_CARD,
		.xid = xid_echo,
		.peer = sender,
		.card = req->card,
		.card_len = req->card_len,
	};
	if(req->kind == CX_CARD_SEALED){
		card.card = NULL;
		card.card_len = 0;
		card.n = req->n;
		card.ct = req->ct;
		card.ct_len = req->ct_len;
	}
	e->emit(e->ctx, other, &card);
	e->counters.cards_relayed++;
	e->counters.card_bytes_relayed += req->card_len;
	cx_reply sent = {.type = CX_REPLY_SENT, .xid = xid_echo, .peer = other};
	e->emit(e->ctx, sender, &sent);

	x->sent |= (uint8_t)bit;
	if(x->sent == (SENT_A | SENT_B)){
		e->counters.exchanges_completed++;
		exchange_destroy(e, x);
	}
}
