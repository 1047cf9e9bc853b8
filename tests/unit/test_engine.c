/*
 * Unit tests of the exchange engine: every reply type and error code, expiry,
 * limits, and its hash table and timer heap at scale.
 *
 * A fixture owns an engine whose emit callback records every reply (strings
 * copied), and the tests walk the recorded replies in order with expect_*.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"
#include "engine.h"
#include "engine_heap.h"
#include "engine_table.h"
#include "ids.h"

#define T0 INT64_C(1000000) /* an arbitrary monotonic start time, ms */
#define SEC INT64_C(1000)

/*
 * Fault injection through the linker (-Wl,--wrap in engine.cmake): while
 * the flag is set, the engine's calls of the DRBG fail.
 */
static bool fail_rng;

int __real_cx_rng_bytes(cx_rng *rng, void *out, size_t len);
int __wrap_cx_rng_bytes(cx_rng *rng, void *out, size_t len);

int __wrap_cx_rng_bytes(cx_rng *rng, void *out, size_t len)
{
	if(fail_rng){
		return -1;
	}
	return __real_cx_rng_bytes(rng, out, len);
}

/* One emitted reply, owning copies of its strings. */
typedef struct {
	char to[CX_ID_MAX + 1];
	cx_reply_type type;
	char ref[CX_REF_MAX + 1];
	char xid[64];
	char peer[CX_ID_MAX + 1];
	uint32_t expires_in;
	uint32_t attempts_left;
	char reason[32];
	bool offer;
	char card[256];
	size_t card_len;
	char commit[64];
	char pk[64];
	char n[32];
	char ct[256];
	cx_code code;
	char topic[256];
	bool default_message;
	uint32_t retry_after;
} rec;

typedef struct {
	cx_engine *e;
	cx_limits lim;
	bool record;       /* false: count only (bulk tests) */
	rec *v;
	size_t len, cap;
	size_t seen;       /* replies already checked by expect_* */
	size_t by_type[CX_REPLY__LAST + 1];
	/* bulk-test hook, called for every reply when set */
	void (*hook)(void *hctx, const char *to, const cx_reply *r);
	void *hctx;
} fx;

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static void record_reply(void *ctx, const char *to, const cx_reply *r)
{
	fx *f = ctx;
	char buf[1024];

	assert_non_null(to);
	assert_true(r->type >= CX_REPLY_OFFER && r->type <= CX_REPLY__LAST);
	f->by_type[r->type]++;
	if(f->hook != NULL){
		f->hook(f->hctx, to, r);
	}
	if(!f->record){
		return;
	}
	/* Every reply must be encodable by the shared codec. */
	size_t n = cx_reply_encode(r, buf, sizeof(buf));
	assert_true(n > 0 && n < sizeof(buf));

	if(f->len == f->cap){
		f->cap = f->cap ? f->cap * 2 : 64;
		f->v = realloc(f->v, f->cap * sizeof(*f->v));
		assert_non_null(f->v);
	}
	rec *x = &f->v[f->len++];
	memset(x, 0, sizeof(*x));
	copy_str(x->to, sizeof(x->to), to);
	x->type = r->type;
	copy_str(x->ref, sizeof(x->ref), r->ref);
	copy_str(x->xid, sizeof(x->xid), r->xid);
	copy_str(x->peer, sizeof(x->peer), r->peer);
	x->expires_in = r->expires_in;
	x->attempts_left = r->attempts_left;
	copy_str(x->reason, sizeof(x->reason), r->reason);
	x->offer = r->offer;
	if(r->card != NULL){
		assert_true(r->card_len < sizeof(x->card));
		memcpy(x->card, r->card, r->card_len);
		x->card_len = r->card_len;
	}
	copy_str(x->commit, sizeof(x->commit), r->commit);
	copy_str(x->pk, sizeof(x->pk), r->pk);
	copy_str(x->n, sizeof(x->n), r->n);
	if(r->ct != NULL){
		assert_true(r->ct_len < sizeof(x->ct));
		memcpy(x->ct, r->ct, r->ct_len);
	}
	x->code = r->code;
	copy_str(x->topic, sizeof(x->topic), r->topic);
	x->default_message = r->message == NULL;
	x->retry_after = r->retry_after;
}

static fx *fx_make(const cx_limits *lim)
{
	fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	if(lim != NULL){
		f->lim = *lim;
	}else{
		cx_limits_default(&f->lim);
	}
	f->record = true;
	f->e = cx_engine_new(&f->lim, record_reply, f);
	assert_non_null(f->e);
	return f;
}

static void fx_destroy(fx *f)
{
	if(f == NULL){
		return;
	}
	cx_engine_free(f->e);
	free(f->v);
	free(f);
}

static int setup(void **state)
{
	*state = fx_make(NULL);
	return 0;
}

static int teardown(void **state)
{
	fx_destroy(*state);
	return 0;
}

/* Replaces the fixture's engine by one with other limits. */
static fx *fx_with(void **state, const cx_limits *lim)
{
	fx_destroy(*state);
	*state = fx_make(lim);
	return *state;
}

/* ---- requests ---- */

static void do_offer(fx *f, int64_t now, const char *owner, const char *key, uint32_t ttl,
		const char *ref)
{
	cx_offer_req req;
	char topic[128];

	memset(&req, 0, sizeof(req));
	copy_str(req.key, sizeof(req.key), key);
	req.ttl = ttl;
	copy_str(req.ref, sizeof(req.ref), ref);
	snprintf(topic, sizeof(topic), "keys/%s", owner);
	cx_engine_offer(f->e, now, owner, &req, topic);
}

static void do_claim(fx *f, int64_t now, const char *claimer, const char *owner, const char *key,
		const char *from, const char *ref)
{
	cx_claim_req req;
	char topic[128];

	memset(&req, 0, sizeof(req));
	copy_str(req.key, sizeof(req.key), key);
	copy_str(req.from, sizeof(req.from), from);
	copy_str(req.ref, sizeof(req.ref), ref);
	snprintf(topic, sizeof(topic), "claim/%s", owner);
	cx_engine_claim(f->e, now, claimer, owner, &req, topic);
}

static void do_claim_from(fx *f, int64_t now, const char *claimer, const char *address, const char *owner,
		const char *key, const char *ref)
{
	cx_claim_req req;
	char topic[128];

	memset(&req, 0, sizeof(req));
	copy_str(req.key, sizeof(req.key), key);
	copy_str(req.ref, sizeof(req.ref), ref);
	snprintf(topic, sizeof(topic), "claim/%s", owner);
	cx_engine_claim_from(f->e, now, claimer, address, owner, &req, topic);
}

static void do_card(fx *f, int64_t now, const char *sender, const char *peer, const char *xid,
		const char *card)
{
	cx_card_req req;
	char topic[128];
	char text[256];

	memset(&req, 0, sizeof(req));
	copy_str(req.xid, sizeof(req.xid), xid);
	copy_str(text, sizeof(text), card);
	req.card = text;
	req.card_len = strlen(text);
	snprintf(topic, sizeof(topic), "card/%s", peer);
	cx_engine_card(f->e, now, sender, peer, &req, topic);
}

/* ---- expectations, in emission order ---- */

static const rec *next_rec(fx *f, const char *to, cx_reply_type type)
{
	if(f->seen >= f->len){
		fail_msg("expected a reply of type %d to %s, got none", (int)type, to);
	}
	const rec *x = &f->v[f->seen++];
	if(x->type != type){
		fail_msg("reply %zu: expected type %d, got %d (to %s)", f->seen - 1, (int)type,
				(int)x->type, x->to);
	}
	assert_string_equal(x->to, to);
	return x;
}

static void expect_none(fx *f)
{
	if(f->seen != f->len){
		fail_msg("unexpected reply %zu of type %d to %s", f->seen, (int)f->v[f->seen].type,
				f->v[f->seen].to);
	}
}

static void expect_offer(fx *f, const char *to, uint32_t expires_in, const char *ref)
{
	const rec *x = next_rec(f, to, CX_REPLY_OFFER);
	assert_int_equal(x->expires_in, expires_in);
	assert_string_equal(x->ref, ref);
}

/* Returns the exchange ID of the match (valid until the next request). */
static const char *expect_match(fx *f, const char *to, const char *peer, const char *ref,
		uint32_t expires_in)
{
	const rec *x = next_rec(f, to, CX_REPLY_MATCH);
	assert_string_equal(x->peer, peer);
	assert_string_equal(x->ref, ref);
	assert_int_equal(x->expires_in, expires_in);
	assert_true(cx_xid_valid(x->xid, strlen(x->xid)));
	return x->xid;
}

static void expect_attempt(fx *f, const char *to, uint32_t left, const char *ref)
{
	const rec *x = next_rec(f, to, CX_REPLY_ATTEMPT);
	assert_int_equal(x->attempts_left, left);
	assert_string_equal(x->ref, ref);
}

static void expect_revoked(fx *f, const char *to, const char *reason, const char *ref)
{
	const rec *x = next_rec(f, to, CX_REPLY_REVOKED);
	assert_string_equal(x->reason, reason);
	assert_string_equal(x->ref, ref);
}

static void expect_offer_expired(fx *f, const char *to, const char *ref)
{
	const rec *x = next_rec(f, to, CX_REPLY_EXPIRED);
	assert_true(x->offer);
	assert_string_equal(x->ref, ref);
	assert_string_equal(x->xid, "");
}

static void expect_exchange_expired(fx *f, const char *to, const char *xid)
{
	const rec *x = next_rec(f, to, CX_REPLY_EXPIRED);
	assert_false(x->offer);
	assert_string_equal(x->xid, xid);
}

static void expect_card(fx *f, const char *to, const char *from, const char *xid, const char *card)
{
	const rec *x = next_rec(f, to, CX_REPLY_CARD);
	assert_string_equal(x->peer, from);
	assert_string_equal(x->xid, xid);
	assert_int_equal(x->card_len, strlen(card));
	assert_memory_equal(x->card, card, x->card_len);
}

static void expect_sent(fx *f, const char *to, const char *peer, const char *xid)
{
	const rec *x = next_rec(f, to, CX_REPLY_SENT);
	assert_string_equal(x->peer, peer);
	assert_string_equal(x->xid, xid);
}

static const rec *expect_error(fx *f, const char *to, cx_code code, const char *topic,
		const char *ref)
{
	const rec *x = next_rec(f, to, CX_REPLY_ERROR);
	if(x->code != code){
		fail_msg("expected error %s, got %s", cx_code_name(code), cx_code_name(x->code));
	}
	assert_string_equal(x->topic, topic);
	assert_string_equal(x->ref, ref);
	if(code != CX_CODE_RATE_LIMITED){
		assert_int_equal(x->retry_after, 0);
	}
	return x;
}

static void expect_stats(fx *f, size_t offers, size_t exchanges, size_t limiters, size_t timers)
{
	cx_engine_stats st;

	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.offers, offers);
	assert_int_equal(st.exchanges, exchanges);
	assert_int_equal(st.limiters, limiters);
	/* timers: those of offers, exchanges and windows; remembered claims have one each too. */
	assert_int_equal(st.timers - st.recent_claims, timers);
}

/* A→B match through offer and claim; copies the exchange ID into xid. */
static void matched(fx *f, int64_t now, const char *a, const char *b, char xid[CX_XID_HEX + 1])
{
	do_offer(f, now, a, "483920", 0, "ra");
	expect_offer(f, a, f->lim.ttl_default_s, "ra");
	do_claim(f, now, b, a, "483920", "", "rb");
	copy_str(xid, CX_XID_HEX + 1, expect_match(f, a, b, "ra", f->lim.exchange_ttl_s));
	assert_string_equal(expect_match(f, b, a, "rb", f->lim.exchange_ttl_s), xid);
	expect_none(f);
}

/* ---- limits and lifecycle ---- */

static void check_bad(cx_limits lim, const char *field)
{
	const char *why = cx_limits_check(&lim);
	assert_non_null(why);
	if(strstr(why, field) == NULL){
		fail_msg("message \"%s\" does not name %s", why, field);
	}
	assert_null(cx_engine_new(&lim, record_reply, NULL));
}

static void test_limits(void **state)
{
	(void)state;
	cx_limits d, l;

	cx_limits_default(&d);
	assert_null(cx_limits_check(&d));
	assert_int_equal(d.ttl_default_s, 120);
	assert_int_equal(d.ttl_max_s, 600);
	assert_int_equal(d.key_digits_min, 6);
	assert_int_equal(d.attempts, 3);
	assert_int_equal(d.exchange_ttl_s, 300);
	assert_int_equal(d.claim_failures_per_min, 10);
	assert_int_equal(d.max_offers, 1000000);
	assert_int_equal(d.max_exchanges, 1000000);
	assert_int_equal(d.claim_failures_per_min_per_address, 50);
	assert_int_equal(d.claim_failures_per_min_total, 1000);
	assert_int_equal(d.max_limiters, 100000);
	assert_int_equal(d.error_replies_per_sec, 20);

	l = d; l.ttl_max_s = 4; check_bad(l, "ttl_max_s");
	l = d; l.ttl_max_s = 601; check_bad(l, "ttl_max_s");
	l = d; l.ttl_default_s = 4; check_bad(l, "ttl_default_s");
	l = d; l.ttl_max_s = 60; l.ttl_default_s = 61; check_bad(l, "ttl_default_s");
	l = d; l.key_digits_min = 5; check_bad(l, "key_digits_min");
	l = d; l.key_digits_min = 17; check_bad(l, "key_digits_min");
	l = d; l.attempts = 0; check_bad(l, "attempts");
	l = d; l.attempts = 101; check_bad(l, "attempts");
	l = d; l.exchange_ttl_s = 9; check_bad(l, "exchange_ttl_s");
	l = d; l.exchange_ttl_s = 3601; check_bad(l, "exchange_ttl_s");
	l = d; l.claim_failures_per_min = 0; check_bad(l, "claim_failures_per_min");
	l = d; l.claim_failures_per_min = 10001; check_bad(l, "claim_failures_per_min");
	l = d; l.max_offers = 0; check_bad(l, "max_offers");
	l = d; l.max_exchanges = 0; check_bad(l, "max_exchanges");
	l = d; l.claim_failures_per_min_per_address = 0; check_bad(l, "claim_failures_per_min_per_address");
	l = d; l.claim_failures_per_min_per_address = 1000001; check_bad(l, "claim_failures_per_min_per_address");
	l = d; l.claim_failures_per_min_total = 0; check_bad(l, "claim_failures_per_min_total");
	l = d; l.claim_failures_per_min_total = 100000001; check_bad(l, "claim_failures_per_min_total");
	l = d; l.max_limiters = 1; check_bad(l, "max_limiters");
	l = d; l.error_replies_per_sec = 0; check_bad(l, "error_replies_per_sec");
	l = d; l.error_replies_per_sec = 100001; check_bad(l, "error_replies_per_sec");

	/* The edges of every range are accepted. */
	l = d; l.ttl_max_s = 5; l.ttl_default_s = 5; assert_null(cx_limits_check(&l));
	l = d; l.ttl_default_s = 600; assert_null(cx_limits_check(&l));
	l = d; l.key_digits_min = 16; l.attempts = 100; assert_null(cx_limits_check(&l));
	l = d; l.exchange_ttl_s = 10; l.claim_failures_per_min = 1; assert_null(cx_limits_check(&l));
	l = d; l.exchange_ttl_s = 3600; l.claim_failures_per_min = 10000; assert_null(cx_limits_check(&l));
	l = d; l.max_offers = 1; l.max_exchanges = 1; assert_null(cx_limits_check(&l));
	l = d; l.key_digits_min = 6; l.attempts = 1; assert_null(cx_limits_check(&l));
	l = d; l.claim_failures_per_min_per_address = 1; l.claim_failures_per_min_total = 1; l.max_limiters = 2;
	l.error_replies_per_sec = 1; assert_null(cx_limits_check(&l));
	l = d; l.claim_failures_per_min_per_address = 1000000; l.claim_failures_per_min_total = 100000000;
	l.max_limiters = UINT32_MAX; l.error_replies_per_sec = 100000; assert_null(cx_limits_check(&l));

	assert_null(cx_engine_new(&d, NULL, NULL));
	cx_engine_free(NULL);
}

static void test_fresh_engine_is_empty(void **state)
{
	fx *f = *state;

	expect_stats(f, 0, 0, 0, 0);
	assert_int_equal(cx_engine_tick(f->e, T0, 100), 0);
	expect_none(f);
}

/* ---- offers ---- */

static void test_offer_default_ttl(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "r1");
	expect_offer(f, "A", 120, "r1");
	expect_none(f);
	expect_stats(f, 1, 0, 0, 1);
}

static void test_offer_explicit_ttl_without_ref(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 30, "");
	expect_offer(f, "A", 30, "");
	expect_none(f);
	/* It lives exactly 30 s. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 30 * SEC - 1, 10), 0);
	assert_int_equal(cx_engine_tick(f->e, T0 + 30 * SEC, 10), 1);
	expect_offer_expired(f, "A", "");
	expect_none(f);
}

static void test_offer_ttl_too_long(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.ttl_max_s = 60;
	lim.ttl_default_s = 60;
	fx *f = fx_with(state, &lim);

	do_offer(f, T0, "A", "483920", 61, "r1");
	const rec *x = expect_error(f, "A", CX_CODE_BAD_REQUEST, "keys/A", "r1");
	assert_false(x->default_message);
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);

	do_offer(f, T0, "A", "483920", 60, "r2");
	expect_offer(f, "A", 60, "r2");
	do_offer(f, T0, "A", "483920", 0, "r3");
	expect_revoked(f, "A", "replaced", "r2");
	expect_offer(f, "A", 60, "r3");
	expect_none(f);
}

static void test_offer_ttl_below_minimum(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 4, "r1");
	expect_error(f, "A", CX_CODE_BAD_REQUEST, "keys/A", "r1");
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
}

static void test_offer_short_key(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.key_digits_min = 8;
	fx *f = fx_with(state, &lim);

	do_offer(f, T0, "A", "1234567", 0, "r1");
	expect_error(f, "A", CX_CODE_BAD_REQUEST, "keys/A", "r1");
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);

	do_offer(f, T0, "A", "12345678", 0, "r2");
	expect_offer(f, "A", 120, "r2");
	expect_none(f);
}

static void test_offer_bad_request_keeps_pending_offer(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	do_offer(f, T0, "A", "483920", 0, "r1");
	expect_offer(f, "A", 120, "r1");
	do_offer(f, T0, "A", "111111", 601, "r2");
	expect_error(f, "A", CX_CODE_BAD_REQUEST, "keys/A", "r2");
	expect_none(f);
	do_claim(f, T0, "B", "A", "483920", "", "rb");
	copy_str(xid, sizeof(xid), expect_match(f, "A", "B", "r1", 300));
	expect_match(f, "B", "A", "rb", 300);
	expect_none(f);
}

static void test_offer_replacement(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "111111", 0, "old");
	expect_offer(f, "A", 120, "old");
	do_offer(f, T0 + SEC, "A", "222222", 30, "new");
	expect_revoked(f, "A", "replaced", "old");
	expect_offer(f, "A", 30, "new");
	expect_none(f);
	expect_stats(f, 1, 0, 0, 1);

	/* The old key is gone: it is a wrong key against the new offer. */
	do_claim(f, T0 + SEC, "B", "A", "111111", "", "c1");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "c1");
	expect_attempt(f, "A", 2, "new");
	do_claim(f, T0 + SEC, "B", "A", "222222", "", "c2");
	expect_match(f, "A", "B", "new", 300);
	expect_match(f, "B", "A", "c2", 300);
	expect_none(f);
}

static void test_offer_replacement_restores_attempts_and_lifetime(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "111111", 10, "o1");
	expect_offer(f, "A", 10, "o1");
	do_claim(f, T0, "B", "A", "999999", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "");
	expect_attempt(f, "A", 2, "o1");
	do_offer(f, T0 + 5 * SEC, "A", "111111", 10, "o2");
	expect_revoked(f, "A", "replaced", "o1");
	expect_offer(f, "A", 10, "o2");
	/* The new offer counts from its own start and has all its attempts. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 14 * SEC, 10), 0);
	do_claim(f, T0 + 14 * SEC, "C", "A", "999999", "", "");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/A", "");
	expect_attempt(f, "A", 2, "o2");
	expect_none(f);
	assert_int_equal(cx_engine_tick(f->e, T0 + 15 * SEC, 10), 1);
	expect_offer_expired(f, "A", "o2");
	expect_none(f);
}

static void test_offer_replacing_expired_offer(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "111111", 5, "o1");
	expect_offer(f, "A", 5, "o1");
	/* Found expired on touch: the owner hears "expired" (not "revoked") once. */
	do_offer(f, T0 + 5 * SEC, "A", "222222", 5, "o2");
	expect_offer_expired(f, "A", "o1");
	expect_offer(f, "A", 5, "o2");
	expect_none(f);
	expect_stats(f, 1, 0, 0, 1);
	assert_int_equal(cx_engine_tick(f->e, T0 + 10 * SEC, 10), 1);
	expect_offer_expired(f, "A", "o2");
	expect_none(f);
}

/* ---- claims ---- */

static void test_claim_match(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim(f, T0 + 1, "B", "A", "483920", "B", "rb");
	const char *xa = expect_match(f, "A", "B", "ra", 300);
	const char *xb = expect_match(f, "B", "A", "rb", 300);
	assert_string_equal(xa, xb);
	for(const char *p = xa; *p; p++){
		assert_true((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'));
	}
	assert_int_equal(strlen(xa), 32);
	expect_none(f);
	expect_stats(f, 0, 1, 0, 1);
}

static void test_claim_exchange_ids_differ(void **state)
{
	fx *f = *state;
	char x1[CX_XID_HEX + 1], x2[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", x1);
	matched(f, T0, "C", "D", x2);
	assert_string_not_equal(x1, x2);
	expect_stats(f, 0, 2, 0, 2);

	/* Across several draws of the DRBG (IDs are drawn 16 at a time): all valid, all different. */
	enum { N = 50 };
	static char xids[N][CX_XID_HEX + 1];
	for(int i = 0; i < N; i++) {
		char a[16], b[16];
		snprintf(a, sizeof(a), "a%d", i);
		snprintf(b, sizeof(b), "b%d", i);
		matched(f, T0, a, b, xids[i]);
		assert_true(cx_xid_valid(xids[i], strlen(xids[i])));
		assert_string_not_equal(xids[i], x1);
		assert_string_not_equal(xids[i], x2);
		for(int j = 0; j < i; j++) {
			assert_string_not_equal(xids[i], xids[j]);
		}
	}
	expect_stats(f, 0, 2 + N, 0, 2 + N);
}

static void test_claim_single_use(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_claim(f, T0, "B", "A", "483920", "", "again");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "again");
	expect_none(f);
}

static void test_claim_two_claimers_same_offer(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim(f, T0, "B", "A", "483920", "", "rb");
	expect_match(f, "A", "B", "ra", 300);
	expect_match(f, "B", "A", "rb", 300);
	do_claim(f, T0, "C", "A", "483920", "C", "rc");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/A", "rc");
	expect_none(f);
	expect_stats(f, 0, 1, 1, 2);
}

static void test_claim_no_offer(void **state)
{
	fx *f = *state;

	do_claim(f, T0, "B", "A", "483920", "", "rb");
	const rec *x = expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "rb");
	assert_true(x->default_message);
	expect_none(f);
	expect_stats(f, 0, 0, 1, 1);
}

static void test_claim_at_last_millisecond(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 5, "ra");
	expect_offer(f, "A", 5, "ra");
	do_claim(f, T0 + 5 * SEC - 1, "B", "A", "483920", "", "rb");
	expect_match(f, "A", "B", "ra", 300);
	expect_match(f, "B", "A", "rb", 300);
	expect_none(f);
}

static void test_claim_after_expiry(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 5, "ra");
	expect_offer(f, "A", 5, "ra");
	/* Not ticked yet: the claim finds it expired, the owner hears once. */
	do_claim(f, T0 + 5 * SEC, "B", "A", "483920", "", "rb");
	expect_offer_expired(f, "A", "ra");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "rb");
	expect_none(f);
	expect_stats(f, 0, 0, 1, 1);
	/* Only the claimer's failure window and its remembered claim are left for the tick; it is silent. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 600 * SEC, 10), 2);
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
}

static void test_attempts_and_burning(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim(f, T0, "B", "A", "000001", "", "b1");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b1");
	expect_attempt(f, "A", 2, "ra");
	do_claim(f, T0, "C", "A", "000002", "", "c1");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/A", "c1");
	expect_attempt(f, "A", 1, "ra");
	do_claim(f, T0, "B", "A", "0000000000000003", "", "b2");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b2");
	expect_revoked(f, "A", "attempts", "ra");
	expect_none(f);
	expect_stats(f, 0, 0, 2, 2);
	/* Burned: even the right key fails now, and the owner hears nothing. */
	do_claim(f, T0, "D", "A", "483920", "", "d1");
	expect_error(f, "D", CX_CODE_NO_MATCH, "claim/A", "d1");
	expect_none(f);
}

static void test_single_attempt(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.attempts = 1;
	fx *f = fx_with(state, &lim);

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim(f, T0, "B", "A", "483921", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "");
	expect_revoked(f, "A", "attempts", "ra");
	expect_none(f);
}

static void test_key_bound_to_owner(void **state)
{
	fx *f = *state;

	/* The same key under two owners: a claim matches only the owner it names. */
	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_offer(f, T0, "C", "111111", 0, "rc");
	expect_offer(f, "C", 120, "rc");
	do_claim(f, T0, "B", "C", "483920", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/C", "");
	expect_attempt(f, "C", 2, "rc");
	expect_none(f);
}

static void test_self_claim(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim(f, T0, "A", "A", "483920", "", "self");
	const rec *x = expect_error(f, "A", CX_CODE_SELF_CLAIM, "claim/A", "self");
	assert_true(x->default_message);
	expect_none(f);
	expect_stats(f, 1, 0, 0, 1);
}

static void test_spoofed_from(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim(f, T0, "B", "A", "483920", "C", "rb");
	const rec *x = expect_error(f, "B", CX_CODE_BAD_REQUEST, "claim/A", "rb");
	assert_false(x->default_message);
	expect_none(f);
	/* The offer is untouched and no failure was counted. */
	expect_stats(f, 1, 0, 0, 1);
	do_claim(f, T0, "B", "A", "483920", "B", "rb2");
	expect_match(f, "A", "B", "ra", 300);
	expect_match(f, "B", "A", "rb2", 300);
	expect_none(f);
}

static void test_from_check_precedes_self_claim(void **state)
{
	fx *f = *state;

	do_claim(f, T0, "A", "A", "483920", "B", "");
	expect_error(f, "A", CX_CODE_BAD_REQUEST, "claim/A", "");
	expect_none(f);
}

/* ---- rate limiting ---- */

static void test_rate_limit(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min = 3;
	fx *f = fx_with(state, &lim);

	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	/* Three failures in the window that opens at the first one (T0 + 1 s). */
	do_claim(f, T0 + 1 * SEC, "B", "X", "111111", "", "b1");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "b1");
	do_claim(f, T0 + 10 * SEC, "B", "X", "111111", "", "b2");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "b2");
	do_claim(f, T0 + 20 * SEC, "B", "A", "111111", "", "b3");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b3");
	expect_attempt(f, "A", 2, "ra");
	expect_none(f);

	/* Limited: not evaluated, so A's offer loses no attempt; even the right key is refused. */
	do_claim(f, T0 + 30 * SEC, "B", "A", "222222", "", "b4");
	const rec *x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/A", "b4");
	assert_int_equal(x->retry_after, 31);
	do_claim(f, T0 + 30 * SEC + 1, "B", "A", "483920", "", "b5");
	x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/A", "b5");
	assert_int_equal(x->retry_after, 31);
	do_claim(f, T0 + 61 * SEC - 1, "B", "A", "222222", "C", "b6");
	x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/A", "b6");
	assert_int_equal(x->retry_after, 1);
	expect_none(f);

	/* Other claimers are not affected. */
	do_claim(f, T0 + 30 * SEC, "C", "A", "333333", "", "c1");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/A", "c1");
	expect_attempt(f, "A", 1, "ra");
	expect_none(f);

	/* The window ends 60 s after its first failure: B is evaluated again. */
	do_claim(f, T0 + 61 * SEC, "B", "A", "483920", "", "b7");
	expect_match(f, "A", "B", "ra", 300);
	expect_match(f, "B", "A", "b7", 300);
	expect_none(f);
}

static void test_rate_limit_new_window(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min = 2;
	fx *f = fx_with(state, &lim);

	do_claim(f, T0, "B", "X", "111111", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	do_claim(f, T0 + 59 * SEC, "B", "X", "111112", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	do_claim(f, T0 + 59 * SEC, "B", "X", "111113", "", "");
	expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/X", "");
	/* A fresh window opens at the first failure after the old one ended. */
	do_claim(f, T0 + 60 * SEC, "B", "X", "111114", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	expect_stats(f, 0, 0, 1, 1);
	do_claim(f, T0 + 100 * SEC, "B", "X", "111115", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	do_claim(f, T0 + 100 * SEC, "B", "X", "111116", "", "");
	const rec *x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/X", "");
	assert_int_equal(x->retry_after, 20);
	expect_none(f);
	/* The tick drops the window silently once it ends. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 120 * SEC - 1, 10), 0);
	assert_int_equal(cx_engine_tick(f->e, T0 + 120 * SEC, 10), 1);
	assert_int_equal(cx_engine_tick(f->e, T0 + 160 * SEC, 10), 1); /* the remembered claim */
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
	do_claim(f, T0 + 120 * SEC, "B", "X", "111117", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	expect_none(f);
}

static void test_rate_limit_counts_only_no_match(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min = 1;
	fx *f = fx_with(state, &lim);

	for(int i = 0; i < 5; i++){
		do_claim(f, T0, "B", "B", "111111", "", "");
		expect_error(f, "B", CX_CODE_SELF_CLAIM, "claim/B", "");
		do_claim(f, T0, "B", "A", "111111", "Z", "");
		expect_error(f, "B", CX_CODE_BAD_REQUEST, "claim/A", "");
	}
	expect_stats(f, 0, 0, 0, 0);
	do_claim(f, T0, "B", "A", "111111", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "");
	/* Rate limiting comes first, before the from and self-claim checks. */
	do_claim(f, T0, "B", "B", "111111", "Z", "r");
	expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/B", "r");
	do_claim(f, T0 + SEC, "B", "A", "111112", "", "");
	const rec *x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/A", "");
	assert_int_equal(x->retry_after, 59);
	expect_none(f);
	/* Rate-limited claims do not extend or count: the window still ends at T0 + 60 s. */
	do_claim(f, T0 + 60 * SEC, "B", "A", "111111", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "");
	expect_none(f);
}

/* ---- cards ---- */

static const char CARD_A[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ada\"]]]";
static const char CARD_B[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Bob\"]]]";

static void test_card_exchange(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_card(f, T0 + SEC, "A", "B", xid, CARD_A);
	expect_card(f, "B", "A", xid, CARD_A);
	expect_sent(f, "A", "B", xid);
	expect_none(f);
	expect_stats(f, 0, 1, 0, 1);
	do_card(f, T0 + 2 * SEC, "B", "A", xid, CARD_B);
	expect_card(f, "A", "B", xid, CARD_B);
	expect_sent(f, "B", "A", xid);
	expect_none(f);
	/* Both cards passed: the exchange is closed and gone. */
	expect_stats(f, 0, 0, 0, 0);
	do_card(f, T0 + 3 * SEC, "A", "B", xid, CARD_A);
	const rec *x = expect_error(f, "A", CX_CODE_UNKNOWN_EXCHANGE, "card/B", "");
	assert_string_equal(x->xid, xid);
	expect_none(f);
	/* Only B's remembered claim was left. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 3600 * SEC, 10), 1);
	expect_none(f);
}

#define COMMIT "fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q"
#define PK_A "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
#define PK_B "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"
#define NONCE "AAECAwQFBgcICQoL"
#define CT "tYym2wfw9z1TEbpdRh4MNlDeXJk16xmXfVh2q-4bFLQ"

/* A sealed request on card/<peer>: a public key (ct NULL) or a sealed card. */
static void do_sealed(fx *f, int64_t now, const char *sender, const char *peer, const char *xid,
		const char *pk, const char *ct)
{
	cx_card_req req;
	char topic[128];

	memset(&req, 0, sizeof(req));
	copy_str(req.xid, sizeof(req.xid), xid);
	if(ct == NULL){
		req.kind = CX_CARD_PK;
		copy_str(req.pk, sizeof(req.pk), pk);
	}else{
		req.kind = CX_CARD_SEALED;
		copy_str(req.n, sizeof(req.n), NONCE);
		req.ct = ct;
		req.ct_len = strlen(ct);
	}
	snprintf(topic, sizeof(topic), "card/%s", peer);
	cx_engine_card(f->e, now, sender, peer, &req, topic);
}

/* A sealed match: the claim carries COMMIT, and only the owner's match relays it. */
static void sealed_match(fx *f, int64_t now, const char *a, const char *b, char xid[CX_XID_HEX + 1])
{
	cx_claim_req req;

	do_offer(f, now, a, "483920", 0, "ra");
	expect_offer(f, a, f->lim.ttl_default_s, "ra");
	memset(&req, 0, sizeof(req));
	copy_str(req.key, sizeof(req.key), "483920");
	copy_str(req.ref, sizeof(req.ref), "rb");
	copy_str(req.commit, sizeof(req.commit), COMMIT);
	cx_engine_claim(f->e, now, b, a, &req, "claim/A");
	copy_str(xid, CX_XID_HEX + 1, expect_match(f, a, b, "ra", f->lim.exchange_ttl_s));
	assert_string_equal(f->v[f->seen - 1].commit, COMMIT);
	assert_string_equal(expect_match(f, b, a, "rb", f->lim.exchange_ttl_s), xid);
	assert_string_equal(f->v[f->seen - 1].commit, "");
	expect_none(f);
}

static void test_sealed_exchange(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];
	const rec *x;

	sealed_match(f, T0, "A", "B", xid);
	/* The claimer may not reveal first, and nobody seals before both keys passed. */
	do_sealed(f, T0, "B", "A", xid, PK_B, NULL);
	expect_error(f, "B", CX_CODE_BAD_ORDER, "card/A", "");
	do_sealed(f, T0, "A", "B", xid, NULL, CT);
	expect_error(f, "A", CX_CODE_BAD_ORDER, "card/B", "");
	do_sealed(f, T0, "A", "B", xid, PK_A, NULL);
	x = next_rec(f, "B", CX_REPLY_PK);
	assert_string_equal(x->pk, PK_A);
	assert_string_equal(x->peer, "A");
	assert_string_equal(x->xid, xid);
	expect_none(f);
	/* A second key is refused, and so is a plaintext card from a party that sealed. */
	do_sealed(f, T0, "A", "B", xid, PK_B, NULL);
	expect_error(f, "A", CX_CODE_ALREADY_SENT, "card/B", "");
	do_card(f, T0, "A", "B", xid, CARD_A);
	expect_error(f, "A", CX_CODE_BAD_ORDER, "card/B", "");
	do_sealed(f, T0, "B", "A", xid, NULL, CT);
	expect_error(f, "B", CX_CODE_BAD_ORDER, "card/A", "");
	do_sealed(f, T0, "B", "A", xid, PK_B, NULL);
	x = next_rec(f, "A", CX_REPLY_PK);
	assert_string_equal(x->pk, PK_B);
	expect_none(f);
	/* A third terminal cannot slip a key in. */
	do_sealed(f, T0, "C", "A", xid, PK_B, NULL);
	expect_error(f, "C", CX_CODE_NOT_PEER, "card/A", "");
	do_sealed(f, T0, "A", "B", xid, NULL, CT);
	x = next_rec(f, "B", CX_REPLY_CARD);
	assert_string_equal(x->ct, CT);
	assert_string_equal(x->n, NONCE);
	assert_int_equal(x->card_len, 0);
	expect_sent(f, "A", "B", xid);
	do_sealed(f, T0, "A", "B", xid, NULL, CT);
	expect_error(f, "A", CX_CODE_ALREADY_SENT, "card/B", "");
	do_sealed(f, T0, "B", "A", xid, NULL, CT);
	next_rec(f, "A", CX_REPLY_CARD);
	expect_sent(f, "B", "A", xid);
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
}

/* Without a commit the exchange is plain: keys are refused, plaintext cards pass. */
static void test_unsealed_exchange_refuses_keys(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_sealed(f, T0, "A", "B", xid, PK_A, NULL);
	expect_error(f, "A", CX_CODE_BAD_ORDER, "card/B", "");
	do_sealed(f, T0, "A", "B", xid, NULL, CT);
	expect_error(f, "A", CX_CODE_BAD_ORDER, "card/B", "");
	do_card(f, T0, "A", "B", xid, CARD_A);
	expect_card(f, "B", "A", xid, CARD_A);
	expect_sent(f, "A", "B", xid);
	expect_none(f);
}

static void test_require_sealed(void **state)
{
	cx_limits lim;
	char xid[CX_XID_HEX + 1];

	cx_limits_default(&lim);
	lim.require_sealed = true;
	fx *f = fx_with(state, &lim);
	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", lim.ttl_default_s, "ra");
	/* A claim without a commit is refused before evaluation: the offer keeps its attempts. */
	do_claim(f, T0, "B", "A", "483920", "", "rb");
	expect_error(f, "B", CX_CODE_SEALED_REQUIRED, "claim/A", "rb");
	expect_none(f);
	expect_stats(f, 1, 0, 0, 1);
	do_claim(f, T0, "B", "A", "000000", "", "rb");
	expect_error(f, "B", CX_CODE_SEALED_REQUIRED, "claim/A", "rb");
	expect_none(f);
	sealed_match(f, T0, "C", "B", xid);
	do_card(f, T0, "C", "B", xid, CARD_A);
	expect_error(f, "C", CX_CODE_SEALED_REQUIRED, "card/B", "");
	expect_none(f);
}

static void test_card_before_match(void **state)
{
	fx *f = *state;

	do_card(f, T0, "A", "B", "0123456789abcdef0123456789abcdef", CARD_A);
	const rec *x = expect_error(f, "A", CX_CODE_UNKNOWN_EXCHANGE, "card/B", "");
	assert_string_equal(x->xid, "0123456789abcdef0123456789abcdef");
	assert_true(x->default_message);
	/* An exchange ID that is not one is not echoed. */
	do_card(f, T0, "A", "B", "0123456789ABCDEF0123456789ABCDEF", CARD_A);
	x = expect_error(f, "A", CX_CODE_UNKNOWN_EXCHANGE, "card/B", "");
	assert_string_equal(x->xid, "");
	do_card(f, T0, "A", "B", "", CARD_A);
	x = expect_error(f, "A", CX_CODE_UNKNOWN_EXCHANGE, "card/B", "");
	assert_string_equal(x->xid, "");
	expect_none(f);
}

static void test_card_from_third_terminal(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_card(f, T0, "C", "B", xid, CARD_A);
	const rec *x = expect_error(f, "C", CX_CODE_NOT_PEER, "card/B", "");
	assert_string_equal(x->xid, xid);
	do_card(f, T0, "C", "A", xid, CARD_A);
	expect_error(f, "C", CX_CODE_NOT_PEER, "card/A", "");
	expect_none(f);
	/* The parties are unaffected. */
	do_card(f, T0, "B", "A", xid, CARD_B);
	expect_card(f, "A", "B", xid, CARD_B);
	expect_sent(f, "B", "A", xid);
	expect_none(f);
}

static void test_card_to_wrong_target(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_card(f, T0, "A", "C", xid, CARD_A);
	expect_error(f, "A", CX_CODE_NOT_PEER, "card/C", "");
	do_card(f, T0, "A", "A", xid, CARD_A);
	expect_error(f, "A", CX_CODE_NOT_PEER, "card/A", "");
	do_card(f, T0, "B", "B", xid, CARD_B);
	expect_error(f, "B", CX_CODE_NOT_PEER, "card/B", "");
	expect_none(f);
	/* Refused cards do not count as sent. */
	do_card(f, T0, "A", "B", xid, CARD_A);
	expect_card(f, "B", "A", xid, CARD_A);
	expect_sent(f, "A", "B", xid);
	expect_none(f);
}

static void test_card_already_sent(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_card(f, T0, "B", "A", xid, CARD_B);
	expect_card(f, "A", "B", xid, CARD_B);
	expect_sent(f, "B", "A", xid);
	do_card(f, T0, "B", "A", xid, CARD_B);
	const rec *x = expect_error(f, "B", CX_CODE_ALREADY_SENT, "card/A", "");
	assert_string_equal(x->xid, xid);
	expect_none(f);
	expect_stats(f, 0, 1, 0, 1);
}

static void test_card_on_expired_exchange(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.exchange_ttl_s = 10;
	fx *f = fx_with(state, &lim);
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_card(f, T0 + 10 * SEC - 1, "A", "B", xid, CARD_A);
	expect_card(f, "B", "A", xid, CARD_A);
	expect_sent(f, "A", "B", xid);
	/* Not ticked yet: found expired on touch, both parties hear once. */
	do_card(f, T0 + 10 * SEC, "B", "A", xid, CARD_B);
	expect_exchange_expired(f, "A", xid);
	expect_exchange_expired(f, "B", xid);
	expect_error(f, "B", CX_CODE_UNKNOWN_EXCHANGE, "card/A", "");
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
	/* Only B's remembered claim was left. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 3600 * SEC, 10), 1);
	expect_none(f);
}

/* ---- ticks ---- */

static void test_tick_offer_expiry(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "111111", 10, "ra");
	do_offer(f, T0, "B", "222222", 5, "rb");
	do_offer(f, T0, "C", "333333", 20, "rc");
	expect_offer(f, "A", 10, "ra");
	expect_offer(f, "B", 5, "rb");
	expect_offer(f, "C", 20, "rc");
	assert_int_equal(cx_engine_tick(f->e, T0 + 5 * SEC - 1, 10), 0);
	expect_none(f);
	assert_int_equal(cx_engine_tick(f->e, T0 + 5 * SEC, 10), 1);
	expect_offer_expired(f, "B", "rb");
	expect_none(f);
	assert_int_equal(cx_engine_tick(f->e, T0 + 30 * SEC, 10), 2);
	expect_offer_expired(f, "A", "ra");
	expect_offer_expired(f, "C", "rc");
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
	/* An expired offer does not come back for a claim. */
	do_claim(f, T0 + 30 * SEC, "B", "A", "111111", "", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "");
	expect_none(f);
}

static void test_tick_exchange_expiry(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_card(f, T0, "A", "B", xid, CARD_A);
	expect_card(f, "B", "A", xid, CARD_A);
	expect_sent(f, "A", "B", xid);
	/* B's remembered claim goes silently at T0 + 60 s. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 300 * SEC - 1, 10), 1);
	assert_int_equal(cx_engine_tick(f->e, T0 + 300 * SEC, 10), 1);
	expect_exchange_expired(f, "A", xid);
	expect_exchange_expired(f, "B", xid);
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
	do_card(f, T0 + 300 * SEC, "B", "A", xid, CARD_B);
	expect_error(f, "B", CX_CODE_UNKNOWN_EXCHANGE, "card/A", "");
	expect_none(f);
}

static void test_tick_budget(void **state)
{
	fx *f = *state;
	char id[16];

	for(int i = 0; i < 10; i++){
		snprintf(id, sizeof(id), "T%d", i);
		do_offer(f, T0 + i, id, "111111", 5, "");
		expect_offer(f, id, 5, "");
	}
	int64_t now = T0 + 60 * SEC;
	assert_int_equal(cx_engine_tick(f->e, now, 3), 3);
	assert_int_equal(f->len - f->seen, 3);
	expect_stats(f, 7, 0, 0, 7);
	assert_int_equal(cx_engine_tick(f->e, now, 3), 3);
	assert_int_equal(cx_engine_tick(f->e, now, 3), 3);
	assert_int_equal(cx_engine_tick(f->e, now, 3), 1);
	assert_int_equal(cx_engine_tick(f->e, now, 3), 0);
	assert_int_equal(cx_engine_tick(f->e, now, 0), 0);
	/* Earliest first. */
	for(int i = 0; i < 10; i++){
		snprintf(id, sizeof(id), "T%d", i);
		expect_offer_expired(f, id, "");
	}
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
}

/* ---- capacity ---- */

static void test_capacity_offers(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.max_offers = 2;
	fx *f = fx_with(state, &lim);

	do_offer(f, T0, "A", "111111", 5, "ra");
	expect_offer(f, "A", 5, "ra");
	do_offer(f, T0, "B", "222222", 60, "rb");
	expect_offer(f, "B", 60, "rb");
	do_offer(f, T0, "C", "333333", 0, "rc");
	const rec *x = expect_error(f, "C", CX_CODE_CAPACITY, "keys/C", "rc");
	/* A message of its own, so that a terminal can tell which ceiling it met. */
	assert_false(x->default_message);
	expect_none(f);
	expect_stats(f, 2, 0, 0, 2);

	/* Replacing one's own offer at the limit still works. */
	do_offer(f, T0 + 1, "B", "222223", 60, "rb2");
	expect_revoked(f, "B", "replaced", "rb");
	expect_offer(f, "B", 60, "rb2");
	expect_none(f);

	/* A's offer has expired but is not ticked yet: it makes room. */
	do_offer(f, T0 + 5 * SEC, "C", "333333", 0, "rc2");
	expect_offer_expired(f, "A", "ra");
	expect_offer(f, "C", 120, "rc2");
	expect_none(f);
	expect_stats(f, 2, 0, 0, 2);

	/* A consumed offer frees its place too. */
	do_claim(f, T0 + 5 * SEC, "D", "C", "333333", "", "rd");
	expect_match(f, "C", "D", "rc2", 300);
	expect_match(f, "D", "C", "rd", 300);
	do_offer(f, T0 + 5 * SEC, "A", "111111", 0, "ra2");
	expect_offer(f, "A", 120, "ra2");
	expect_none(f);
}

static void test_capacity_exchanges(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.max_exchanges = 1;
	fx *f = fx_with(state, &lim);
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_offer(f, T0, "C", "333333", 0, "rc");
	expect_offer(f, "C", 120, "rc");
	do_claim(f, T0, "D", "C", "333333", "", "rd");
	expect_error(f, "D", CX_CODE_CAPACITY, "claim/C", "rd");
	expect_none(f);
	/* The offer survives with all attempts and D counts no failure. */
	expect_stats(f, 1, 1, 0, 2);

	do_card(f, T0, "A", "B", xid, CARD_A);
	do_card(f, T0, "B", "A", xid, CARD_B);
	f->seen = f->len;
	expect_stats(f, 1, 0, 0, 1);
	do_claim(f, T0, "D", "C", "333333", "", "rd2");
	expect_match(f, "C", "D", "rc", 300);
	expect_match(f, "D", "C", "rd2", 300);
	expect_none(f);
}

static void test_capacity_exchanges_reclaims_expired(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.max_exchanges = 1;
	lim.exchange_ttl_s = 10;
	fx *f = fx_with(state, &lim);
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_offer(f, T0, "C", "333333", 0, "rc");
	expect_offer(f, "C", 120, "rc");
	do_claim(f, T0 + 10 * SEC, "D", "C", "333333", "", "rd");
	expect_exchange_expired(f, "A", xid);
	expect_exchange_expired(f, "B", xid);
	expect_match(f, "C", "D", "rc", 10);
	expect_match(f, "D", "C", "rd", 10);
	expect_none(f);
	expect_stats(f, 0, 1, 0, 1);
}

/* ---- stats ---- */

static void test_stats(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];

	matched(f, T0, "A", "B", xid);
	do_offer(f, T0, "C", "333333", 0, "");
	do_offer(f, T0, "E", "555555", 0, "");
	do_claim(f, T0, "F", "X", "111111", "", "");
	do_claim(f, T0, "G", "X", "111111", "", "");
	do_claim(f, T0, "G", "X", "111112", "", "");
	f->seen = f->len;
	expect_stats(f, 2, 1, 2, 5);
	do_offer(f, T0, "C", "333334", 0, "");
	f->seen = f->len;
	expect_stats(f, 2, 1, 2, 5);
	/* The two windows and the remembered claims of B, F and G. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 60 * SEC, 100), 5);
	expect_stats(f, 2, 1, 0, 3);
	assert_int_equal(cx_engine_tick(f->e, T0 + 3600 * SEC, 100), 3);
	expect_stats(f, 0, 0, 0, 0);
}

/* ---- withdrawal and activity counters ---- */

static void test_withdraw(void **state)
{
	fx *f = *state;
	cx_engine_stats st;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	assert_true(cx_engine_withdraw(f->e, T0 + SEC, "A"));
	expect_revoked(f, "A", "withdrawn", "ra");
	expect_none(f);
	expect_stats(f, 0, 0, 0, 0);
	/* The right key no longer matches, and the failure counts as any other. */
	do_claim(f, T0 + 2 * SEC, "B", "A", "483920", "", "rb");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "rb");
	expect_none(f);
	/* Nothing to withdraw: no reply, no count; an invalid ID is ignored. */
	assert_false(cx_engine_withdraw(f->e, T0 + 2 * SEC, "A"));
	assert_false(cx_engine_withdraw(f->e, T0 + 2 * SEC, "bad/id"));
	assert_false(cx_engine_withdraw(f->e, T0 + 2 * SEC, NULL));
	expect_none(f);
	/* An offer past its lifetime is not withdrawn: its owner hears "expired". */
	do_offer(f, T0 + 3 * SEC, "C", "111111", 5, "rc");
	expect_offer(f, "C", 5, "rc");
	assert_false(cx_engine_withdraw(f->e, T0 + 8 * SEC, "C"));
	expect_offer_expired(f, "C", "rc");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.offers_withdrawn, 1);
	assert_int_equal(st.offers_accepted, 2);
	assert_int_equal(st.matches, 0);
}

static void test_activity_counters(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];
	cx_engine_stats st;

	matched(f, T0, "A", "B", xid);
	do_card(f, T0 + SEC, "A", "B", xid, CARD_A);
	do_card(f, T0 + SEC, "B", "A", xid, CARD_B);
	/* Refused: the exchange is closed. */
	do_card(f, T0 + SEC, "A", "B", xid, CARD_A);
	do_offer(f, T0, "C", "333333", 0, "");
	do_offer(f, T0, "C", "333334", 0, "");
	do_claim(f, T0, "D", "C", "333333", "", "");
	f->seen = f->len;
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.offers_accepted, 3);
	assert_int_equal(st.matches, 1);
	assert_int_equal(st.exchanges_completed, 1);
	assert_int_equal(st.cards_relayed, 2);
	assert_int_equal(st.card_bytes_relayed, strlen(CARD_A) + strlen(CARD_B));
	assert_int_equal(st.claims_evaluated, 2);
	assert_int_equal(st.claims_failed, 1);
	assert_int_equal(st.errors_sent, 2);
}

/* ---- internal errors ---- */

static void test_internal_errors(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	/* No exchange ID can be drawn: the claimer hears "internal", the offer stays. */
	fail_rng = true;
	do_claim(f, T0, "B", "A", "483920", "", "rb");
	fail_rng = false;
	const rec *x = expect_error(f, "B", CX_CODE_INTERNAL, "claim/A", "rb");
	assert_true(x->default_message);
	expect_none(f);
	expect_stats(f, 1, 0, 0, 1);
	do_claim(f, T0, "B", "A", "483920", "", "rb2");
	expect_match(f, "A", "B", "ra", 300);
	expect_match(f, "B", "A", "rb2", 300);
	expect_none(f);
}

static void test_new_fails_without_randomness(void **state)
{
	(void)state;
	cx_limits lim;

	cx_limits_default(&lim);
	fail_rng = true;
	cx_engine *e = cx_engine_new(&lim, record_reply, NULL);
	fail_rng = false;
	assert_null(e);
}

/* ---- internals: SipHash, table, heap ---- */

static void test_siphash13_vectors(void **state)
{
	(void)state;
	/* Vectors from CPython's siphash13 (_imp.source_hash with k0 = 0x0706050403020100, k1 = 0). */
	const unsigned char key[16] = {0, 1, 2, 3, 4, 5, 6, 7};
	unsigned char seq[40];

	for(int i = 0; i < 40; i++){
		seq[i] = (unsigned char)i;
	}
	assert_true(cx_siphash13(key, "", 0) == UINT64_C(0xf46d3bfe2ea281dc));
	assert_true(cx_siphash13(key, "a", 1) == UINT64_C(0x3fb4dc0da52d727d));
	assert_true(cx_siphash13(key, "abcdefgh", 8) == UINT64_C(0x802d0b2ad580d7ed));
	assert_true(cx_siphash13(key, "terminal-A.01", 13) == UINT64_C(0xaf1ea9ecb7b4698a));
	assert_true(cx_siphash13(key, seq, 40) == UINT64_C(0x1938c2c3dc371b47));
}

static void test_siphash24_vectors(void **state)
{
	(void)state;
	/* The SipHash paper's vectors: key 00..0f, messages 00..(n-1). */
	unsigned char key[16], seq[16];

	for(int i = 0; i < 16; i++){
		key[i] = (unsigned char)i;
		seq[i] = (unsigned char)i;
	}
	assert_true(cx_siphash24(key, seq, 0) == UINT64_C(0x726fdb47dd0e0e31));
	assert_true(cx_siphash24(key, seq, 15) == UINT64_C(0xa129ca6149be45e5));
}

typedef struct {
	cx_hnode hn;
	int k;
} tnode;

/* A deliberately poor hash: every node of the same k % 3 shares a chain. */
static uint64_t tnode_hash(const cx_hnode *n, const void *ctx)
{
	(void)ctx;
	return (uint64_t)(((const tnode *)(const void *)n)->k % 3);
}

static bool tnode_eq(const cx_hnode *n, const void *key)
{
	return ((const tnode *)(const void *)n)->k == *(const int *)key;
}

static void count_node(cx_hnode *n, void *arg)
{
	(void)n;
	(*(int *)arg)++;
}

static void test_table_chains_and_growth(void **state)
{
	(void)state;
	enum { N = 1000 };
	static tnode nodes[N];
	cx_htab t;
	int visited = 0;

	assert_int_equal(cx_htab_init(&t, tnode_hash, NULL), 0);
	for(int i = 0; i < N; i++){
		nodes[i].k = i;
		cx_htab_insert(&t, &nodes[i].hn, tnode_hash(&nodes[i].hn, NULL));
		/* Chains of hundreds of nodes still move a few at a time, buckets half moved. */
		assert_true(t.last_moved <= CX_HTAB_STEP_ENTRIES);
	}
	assert_int_equal(t.count, N);
	assert_true(t.mask + 1 >= N);
	/* Remove every other node, from the middle of long chains. */
	for(int i = 0; i < N; i += 2){
		cx_htab_remove(&t, &nodes[i].hn, tnode_hash(&nodes[i].hn, NULL));
		assert_true(t.last_moved <= CX_HTAB_STEP_ENTRIES);
	}
	assert_int_equal(t.count, N / 2);
	for(int i = 0; i < N; i++){
		cx_hnode *n = cx_htab_find(&t, (uint64_t)(i % 3), tnode_eq, &i);
		if(i % 2){
			assert_ptr_equal(n, &nodes[i].hn);
		}else{
			assert_null(n);
		}
	}
	/* Removing an absent node changes nothing. */
	cx_htab_remove(&t, &nodes[0].hn, 0);
	assert_int_equal(t.count, N / 2);
	cx_htab_free(&t, count_node, &visited);
	assert_int_equal(visited, N / 2);
	cx_htab_free(&t, count_node, &visited);
	cx_htab_free(NULL, NULL, NULL);
}

/* A well-mixed hash of k (SplitMix64's finaliser), for tables that should spread. */
static uint64_t mix_hash(const cx_hnode *n, const void *ctx)
{
	uint64_t x = (uint64_t)((const tnode *)(const void *)n)->k;

	(void)ctx;
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Every node below n is found exactly when it is not marked gone. */
static void table_check_all(const cx_htab *t, tnode *nodes, const bool *gone, int n)
{
	for(int i = 0; i < n; i++){
		cx_hnode *found = cx_htab_find(t, mix_hash(&nodes[i].hn, NULL), tnode_eq, &i);
		if(gone[i]){
			assert_null(found);
		}else{
			assert_ptr_equal(found, &nodes[i].hn);
		}
	}
}

/*
 * Growth is spread over operations: no insert or remove moves more than
 * CX_HTAB_STEP_ENTRIES entries, and while two bucket arrays are held every
 * entry stays findable, also after removals in the middle of a growth.
 */
static void test_table_incremental_growth(void **state)
{
	(void)state;
	enum { N = 200000 };
	tnode *nodes = calloc(N, sizeof(*nodes));
	bool *gone = calloc(N, sizeof(*gone));
	cx_htab t;
	size_t max_moved = 0, live = 0, checks_while_growing = 0, growths = 0;
	size_t checked_mask = 0;
	bool was_growing = false;

	assert_non_null(nodes);
	assert_non_null(gone);
	assert_int_equal(cx_htab_init(&t, mix_hash, NULL), 0);
	for(int i = 0; i < N; i++){
		nodes[i].k = i;
		cx_htab_insert(&t, &nodes[i].hn, mix_hash(&nodes[i].hn, NULL));
		live++;
		assert_true(t.last_moved <= CX_HTAB_STEP_ENTRIES);
		max_moved = t.last_moved > max_moved ? t.last_moved : max_moved;
		/* Removals all along, during growths too: every 7th insert drops an older node. */
		if(i % 7 == 6){
			int victim = i / 2;
			if(!gone[victim]){
				cx_htab_remove(&t, &nodes[victim].hn, mix_hash(&nodes[victim].hn, NULL));
				assert_true(t.last_moved <= CX_HTAB_STEP_ENTRIES);
				gone[victim] = true;
				live--;
			}
		}
		assert_int_equal(t.count, live);
		if(cx_htab_growing(&t) && !was_growing){
			growths++;
		}
		was_growing = cx_htab_growing(&t);
		/* Once per growth, half way through it: look every node up. */
		if(was_growing && t.migrate > t.old_mask / 2 && checked_mask != t.mask){
			checked_mask = t.mask;
			table_check_all(&t, nodes, gone, i + 1);
			/* Lookups move nothing: the growth is still under way. */
			assert_true(cx_htab_growing(&t));
			checks_while_growing++;
		}
	}
	/* 64 buckets doubled to 262,144: 12 growths, each checked half way. */
	assert_int_equal(growths, 12);
	assert_int_equal(checks_while_growing, growths);
	/* The bound is reached (the counter works), never passed. */
	assert_int_equal(max_moved, CX_HTAB_STEP_ENTRIES);
	assert_true(t.mask + 1 >= live);

	table_check_all(&t, nodes, gone, N);
	cx_htab_free(&t, NULL, NULL);

	/* A growth that inserts left under way is finished by explicit steps, each bounded. */
	memset(gone, 0, N * sizeof(*gone));
	assert_int_equal(cx_htab_init(&t, mix_hash, NULL), 0);
	int n = 0;
	while(!cx_htab_growing(&t)){
		cx_htab_insert(&t, &nodes[n].hn, mix_hash(&nodes[n].hn, NULL));
		n++;
	}
	assert_int_equal(n, 65);
	size_t steps = 0;
	while(cx_htab_growing(&t)){
		table_check_all(&t, nodes, gone, n);
		assert_true(cx_htab_rehash(&t, 2) <= 2);
		steps++;
	}
	assert_true(steps > 1);
	assert_int_equal(cx_htab_rehash(&t, 2), 0);
	table_check_all(&t, nodes, gone, n);
	/* Clearing in the middle of a growth visits every node once and drops both arrays. */
	while(!cx_htab_growing(&t)){
		cx_htab_insert(&t, &nodes[n].hn, mix_hash(&nodes[n].hn, NULL));
		n++;
	}
	int visited = 0;
	cx_htab_clear(&t, count_node, &visited);
	assert_int_equal(visited, n);
	assert_false(cx_htab_growing(&t));
	assert_int_equal(t.count, 0);
	assert_int_equal(t.mask + 1, 64);
	cx_htab_free(&t, NULL, NULL);
	free(gone);
	free(nodes);
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return *s >> 33;
}

static void heap_check(const cx_theap *h)
{
	for(size_t i = 0; i < h->len; i++){
		assert_int_equal(h->v[i].t->idx, i);
		/* The copy of the due time beside the pointer is never stale. */
		assert_true(h->v[i].due == h->v[i].t->due);
		if(i > 0){
			assert_true(h->v[(i - 1) / 2].due <= h->v[i].due);
		}
	}
}

static void test_heap_random_operations(void **state)
{
	(void)state;
	enum { N = 2000 };
	static cx_timer t[N];
	cx_theap h;
	uint64_t seed = 42;

	cx_theap_init(&h);
	assert_null(cx_theap_top(&h));
	for(int i = 0; i < N; i++){
		t[i].idx = CX_TIMER_DETACHED;
		t[i].due = (int64_t)(lcg(&seed) % 1000);
		assert_int_equal(cx_theap_push(&h, &t[i]), 0);
	}
	heap_check(&h);
	for(int round = 0; round < 5 * N; round++){
		cx_timer *x = &t[lcg(&seed) % N];
		switch(lcg(&seed) % 3){
		case 0:
			cx_theap_remove(&h, x);
			assert_int_equal(x->idx, CX_TIMER_DETACHED);
			cx_theap_remove(&h, x);
			break;
		case 1:
			x->due = (int64_t)(lcg(&seed) % 1000);
			cx_theap_update(&h, x);
			break;
		default:
			if(x->idx == CX_TIMER_DETACHED){
				assert_int_equal(cx_theap_push(&h, x), 0);
			}
			break;
		}
	}
	heap_check(&h);
	int64_t last = INT64_MIN;
	while(h.len > 0){
		cx_timer *x = cx_theap_top(&h);
		assert_true(x->due >= last);
		last = x->due;
		cx_theap_remove(&h, x);
	}
	cx_theap_free(&h);
	cx_theap_free(NULL);
}

/* ---- many offers ---- */

enum { MANY = 100000 };

typedef struct {
	int64_t due[MANY];
	int64_t now;          /* time of the current tick */
	unsigned char state[MANY]; /* 0 pending, 1 matched, 2 expired */
	size_t matches, expired, exchange_notices;
} many_ctx;

static int owner_index(const char *to)
{
	assert_true(to[0] == 'o');
	return atoi(to + 1);
}

static void many_hook(void *hctx, const char *to, const cx_reply *r)
{
	many_ctx *m = hctx;

	if(r->type == CX_REPLY_EXPIRED && !r->offer){
		/* Exchanges live 300 s from the match at T0. */
		assert_true(m->now >= T0 + 300 * SEC && m->now < T0 + 310 * SEC);
		m->exchange_notices++;
	}else if(r->type == CX_REPLY_EXPIRED){
		int i = owner_index(to);
		assert_int_equal(m->state[i], 0);
		/* Due now and not before the previous tick that left it alone. */
		assert_true(m->due[i] <= m->now);
		assert_true(m->due[i] > m->now - 10 * SEC);
		m->state[i] = 2;
		m->expired++;
	}else if(r->type == CX_REPLY_MATCH && to[0] == 'o'){
		int i = owner_index(to);
		assert_int_equal(m->state[i], 0);
		m->state[i] = 1;
		m->matches++;
	}
}

static void key_of(int i, char key[8])
{
	snprintf(key, 8, "%06d", (i * 7919) % 1000000);
}

static void test_many_offers(void **state)
{
	fx *f = *state;
	many_ctx *m = calloc(1, sizeof(*m));
	uint64_t seed = 7;
	char id[16], claimer[16], key[8];

	assert_non_null(m);
	f->record = false;
	f->hook = many_hook;
	f->hctx = m;

	for(int i = 0; i < MANY; i++){
		uint32_t ttl = (uint32_t)(5 + lcg(&seed) % 596);
		snprintf(id, sizeof(id), "o%d", i);
		key_of(i, key);
		do_offer(f, T0, id, key, ttl, "");
		m->due[i] = T0 + (int64_t)ttl * SEC;
	}
	assert_int_equal(f->by_type[CX_REPLY_OFFER], MANY);
	expect_stats(f, MANY, 0, 0, MANY);

	/* Claim every third offer with its key, at T0 (all still live). */
	for(int i = 0; i < MANY; i += 3){
		snprintf(id, sizeof(id), "o%d", i);
		snprintf(claimer, sizeof(claimer), "c%d", i);
		key_of(i, key);
		do_claim(f, T0, claimer, id, key, "", "");
	}
	size_t claimed = (MANY + 2) / 3;
	assert_int_equal(m->matches, claimed);
	assert_int_equal(f->by_type[CX_REPLY_MATCH], 2 * claimed);
	assert_int_equal(f->by_type[CX_REPLY_ERROR], 0);
	expect_stats(f, MANY - claimed, claimed, 0, MANY);

	/* Tick through time in 10 s steps with a bounded budget. */
	for(int64_t now = T0 + 10 * SEC; now <= T0 + 610 * SEC; now += 10 * SEC){
		m->now = now;
		size_t n;
		do{
			n = cx_engine_tick(f->e, now, 1000);
			assert_true(n <= 1000);
		}while(n == 1000);
	}
	assert_int_equal(m->expired, MANY - claimed);
	/* Exchanges (300 s) expired too: two notices each. */
	assert_int_equal(m->exchange_notices, 2 * claimed);
	assert_int_equal(f->by_type[CX_REPLY_EXPIRED], MANY - claimed + 2 * claimed);
	expect_stats(f, 0, 0, 0, 0);
	for(int i = 0; i < MANY; i++){
		assert_int_equal(m->state[i], i % 3 == 0 ? 1 : 2);
	}
	free(m);
}


/* ---- limits per address and overall ---- */

static void test_address_key(void **state)
{
	(void)state;
	char k[CX_ADDR_MAX + 1];
	char longer[100];

	assert_int_equal(cx_address_key(NULL, k), 0);
	assert_string_equal(k, "");
	assert_int_equal(cx_address_key("", k), 0);
	assert_string_equal(k, "");
	assert_int_equal(cx_address_key("192.0.2.7", k), 9);
	assert_string_equal(k, "192.0.2.7");
	/* The same IPv4 host, seen through an IPv6 socket. */
	cx_address_key("::ffff:192.0.2.7", k);
	assert_string_equal(k, "192.0.2.7");
	/* IPv6: the /64 a host usually holds whole. */
	cx_address_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	cx_address_key("2001:db8:1:2::1", k);
	assert_string_equal(k, "2001:db8:1:2::/64");
	cx_address_key("2001:db8:1:3::1", k);
	assert_string_equal(k, "2001:db8:1:3::/64");
	cx_address_key("::1", k);
	assert_string_equal(k, "::/64");
	/* Anything else as it is, cut to CX_ADDR_MAX bytes. */
	cx_address_key("/run/mosquitto.sock", k);
	assert_string_equal(k, "/run/mosquitto.sock");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(cx_address_key(longer, k), CX_ADDR_MAX);
	assert_int_equal(strlen(k), CX_ADDR_MAX);
}

static void expect_ext_stats(fx *f, size_t limiters, size_t address_limiters, uint32_t total_failures)
{
	cx_engine_stats st;

	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.limiters, limiters);
	assert_int_equal(st.address_limiters, address_limiters);
	assert_int_equal(st.total_failures, total_failures);
}

static void test_rate_limit_per_address(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min_per_address = 3;
	fx *f = fx_with(state, &lim);
	const rec *x;

	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	/* Three terminals behind one address share its window, opened at T0 + 1 s. */
	do_claim_from(f, T0 + 1 * SEC, "B1", "192.0.2.7", "X", "111111", "b1");
	expect_error(f, "B1", CX_CODE_NO_MATCH, "claim/X", "b1");
	do_claim_from(f, T0 + 2 * SEC, "B2", "192.0.2.7", "X", "111111", "b2");
	expect_error(f, "B2", CX_CODE_NO_MATCH, "claim/X", "b2");
	do_claim_from(f, T0 + 3 * SEC, "B3", "::ffff:192.0.2.7", "A", "111111", "b3");
	expect_error(f, "B3", CX_CODE_NO_MATCH, "claim/A", "b3");
	expect_attempt(f, "A", 2, "ra");
	expect_none(f);
	expect_ext_stats(f, 3, 1, 3);

	/* The address is spent: a terminal with failures there waits, even with the right key. */
	do_claim_from(f, T0 + 11 * SEC, "B1", "192.0.2.7", "A", "483920", "b1b");
	x = expect_error(f, "B1", CX_CODE_RATE_LIMITED, "claim/A", "b1b");
	assert_int_equal(x->retry_after, 50);
	expect_none(f);
	expect_ext_stats(f, 3, 1, 3);

	/*
	 * A terminal without failures behind it is still evaluated: once (a
	 * fourth failure for the address), then it waits like the others, until
	 * the first of its own window and the address's ends.
	 */
	do_claim_from(f, T0 + 11 * SEC, "B4", "192.0.2.7", "A", "222222", "b4");
	expect_error(f, "B4", CX_CODE_NO_MATCH, "claim/A", "b4");
	expect_attempt(f, "A", 1, "ra");
	do_claim_from(f, T0 + 12 * SEC, "B4", "192.0.2.7", "A", "483920", "b4b");
	x = expect_error(f, "B4", CX_CODE_RATE_LIMITED, "claim/A", "b4b");
	assert_int_equal(x->retry_after, 49);
	expect_none(f);
	expect_ext_stats(f, 4, 1, 4);
	/* And an honest terminal there with the right key gets its match. */
	do_claim_from(f, T0 + 12 * SEC, "H", "192.0.2.7", "A", "483920", "h");
	expect_match(f, "A", "H", "ra", 300);
	expect_match(f, "H", "A", "h", 300);
	expect_none(f);

	/* Another address, and a claimer whose address is unknown, are evaluated. */
	do_claim_from(f, T0 + 13 * SEC, "B1", "198.51.100.1", "X", "222222", "c");
	x = expect_error(f, "B1", CX_CODE_NO_MATCH, "claim/X", "c");
	do_claim_from(f, T0 + 13 * SEC, "D", NULL, "X", "222222", "d");
	expect_error(f, "D", CX_CODE_NO_MATCH, "claim/X", "d");
	expect_none(f);
	expect_ext_stats(f, 5, 2, 6);

	/* The windows end 60 s after their first failures: B1 is evaluated from the address again. */
	do_claim_from(f, T0 + 61 * SEC, "B1", "192.0.2.7", "X", "333333", "b1c");
	expect_error(f, "B1", CX_CODE_NO_MATCH, "claim/X", "b1c");
	expect_none(f);
}

static void test_rate_limit_total(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min_total = 4;
	fx *f = fx_with(state, &lim);
	char id[16], addr[32];
	cx_engine_stats st;
	const rec *x;

	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	/* Four claimers from four addresses: each is far below its own limits. */
	for(int i = 0; i < 4; i++){
		snprintf(id, sizeof(id), "B%d", i);
		snprintf(addr, sizeof(addr), "192.0.2.%d", i + 1);
		do_claim_from(f, T0 + i * SEC, id, addr, "X", "111111", "");
		expect_error(f, id, CX_CODE_NO_MATCH, "claim/X", "");
	}
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.total_limit_reached, 1);
	assert_int_equal(st.total_failures, 4);
	/* Now every claimer with failures waits for the window that opened at T0, from anywhere. */
	do_claim_from(f, T0 + 30 * SEC, "B0", "203.0.113.9", "A", "483920", "b0");
	x = expect_error(f, "B0", CX_CODE_RATE_LIMITED, "claim/A", "b0");
	assert_int_equal(x->retry_after, 30);
	/* The limits come before the other checks: even its self-claim is answered rate-limited. */
	do_claim(f, T0 + 30 * SEC, "B1", "B1", "483920", "", "s1");
	expect_error(f, "B1", CX_CODE_RATE_LIMITED, "claim/B1", "s1");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.claims_rate_limited, 2);
	assert_int_equal(st.claims_evaluated, 4);
	/* A terminal without failures is evaluated: the offer lost no attempt meanwhile. */
	do_claim_from(f, T0 + 30 * SEC, "C", "203.0.113.9", "A", "483920", "c1");
	expect_match(f, "A", "C", "ra", 300);
	expect_match(f, "C", "A", "c1", 300);
	expect_none(f);
	/* Up to the hard ceiling, twice the limit: four more clean terminals fail once each... */
	for(int i = 0; i < 4; i++){
		snprintf(id, sizeof(id), "E%d", i);
		do_claim(f, T0 + 31 * SEC, id, "X", "111111", "", "");
		expect_error(f, id, CX_CODE_NO_MATCH, "claim/X", "");
	}
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.total_failures, 8);
	assert_int_equal(st.total_limit_reached, 1);
	/* ...and then nobody is evaluated until the window ends. */
	do_claim(f, T0 + 31 * SEC, "F", "X", "111111", "", "f");
	x = expect_error(f, "F", CX_CODE_RATE_LIMITED, "claim/X", "f");
	assert_int_equal(x->retry_after, 29);
	expect_none(f);
	do_claim(f, T0 + 60 * SEC, "F", "X", "111111", "", "f2");
	expect_error(f, "F", CX_CODE_NO_MATCH, "claim/X", "f2");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.total_failures, 1);
	assert_int_equal(st.claims_failed, 9);
	assert_int_equal(st.total_limit_reached, 1);
}

static void test_rate_limit_wait_until_evaluated(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min = 3;
	lim.claim_failures_per_min_per_address = 2;
	fx *f = fx_with(state, &lim);
	const rec *x;

	/* B's window opens at T0 (from a2), a1's at T0 + 10 s. */
	do_claim_from(f, T0, "B", "a2", "X", "111111", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	do_claim_from(f, T0 + 10 * SEC, "A", "a1", "X", "111111", "");
	expect_error(f, "A", CX_CODE_NO_MATCH, "claim/X", "");
	do_claim_from(f, T0 + 20 * SEC, "B", "a1", "X", "111112", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	expect_ext_stats(f, 2, 2, 3);
	/* a1 is full until T0 + 70 s, but B's own window, and its failures, end at T0 + 60 s. */
	do_claim_from(f, T0 + 30 * SEC, "B", "a1", "X", "111113", "");
	x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/X", "");
	assert_int_equal(x->retry_after, 30);
	do_claim_from(f, T0 + 60 * SEC, "B", "a1", "X", "111114", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	/* Failures again: now the address's window is the first to end. */
	do_claim_from(f, T0 + 61 * SEC, "B", "a1", "X", "111115", "");
	x = expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/X", "");
	assert_int_equal(x->retry_after, 9);
	expect_none(f);
}

/* A copy of a failed claim is answered no-match again, neither evaluated nor counted. */
static void test_claim_copy_no_match(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.claim_failures_per_min = 2;
	fx *f = fx_with(state, &lim);
	cx_engine_stats st;

	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	do_claim_from(f, T0, "B", "192.0.2.1", "A", "111111", "r1");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "r1");
	expect_attempt(f, "A", 2, "ra");
	/* The copy (a QoS 2 resend, a resend after a reconnect, from any address). */
	do_claim_from(f, T0 + SEC, "B", "192.0.2.2", "A", "111111", "r1");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "r1");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.claims_evaluated, 1);
	assert_int_equal(st.claims_failed, 1);
	assert_int_equal(st.claims_repeated, 1);
	assert_int_equal(st.recent_claims, 1);
	/* Another ref, or another key, is a new claim. */
	do_claim_from(f, T0 + 2 * SEC, "B", "192.0.2.1", "A", "111111", "r2");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "r2");
	expect_attempt(f, "A", 1, "ra");
	/* B's window is at its limit now, yet a copy of its last claim is answered as it was. */
	do_claim_from(f, T0 + 3 * SEC, "B", "192.0.2.1", "A", "111111", "r2");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "r2");
	do_claim_from(f, T0 + 3 * SEC, "B", "192.0.2.1", "A", "111112", "r2");
	expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/A", "r2");
	/* Only the last claim is remembered: the first one is not a copy any more. */
	do_claim_from(f, T0 + 3 * SEC, "B", "192.0.2.1", "A", "111111", "r1");
	expect_error(f, "B", CX_CODE_RATE_LIMITED, "claim/A", "r1");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.claims_failed, 2);
	assert_int_equal(st.claims_repeated, 2);
	/* Remembered for 60 s: later, the same claim is evaluated again. */
	do_claim_from(f, T0 + 62 * SEC, "B", "192.0.2.1", "A", "111111", "r2");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "r2");
	expect_revoked(f, "A", "attempts", "ra");
	expect_none(f);
}

/* A copy of a matching claim gets the same match, to the claimer alone. */
static void test_claim_copy_match(void **state)
{
	fx *f = *state;
	char xid[CX_XID_HEX + 1];
	cx_engine_stats st;
	const char *again;

	matched(f, T0, "A", "B", xid);
	do_claim(f, T0 + 10 * SEC, "B", "A", "483920", "", "rb");
	again = expect_match(f, "B", "A", "rb", f->lim.exchange_ttl_s - 10);
	assert_string_equal(again, xid);
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.claims_evaluated, 1);
	assert_int_equal(st.claims_failed, 0);
	assert_int_equal(st.claims_repeated, 1);
	assert_int_equal(st.limiters, 0);
	/* Once the exchange is closed, the copy gets no-match, still uncounted. */
	do_card(f, T0 + 11 * SEC, "A", "B", xid, CARD_A);
	do_card(f, T0 + 11 * SEC, "B", "A", xid, CARD_B);
	f->seen = f->len;
	do_claim(f, T0 + 12 * SEC, "B", "A", "483920", "", "rb");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "rb");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.claims_failed, 0);
	assert_int_equal(st.claims_repeated, 2);
	assert_int_equal(st.limiters, 0);
}

/*
 * Deferring (as the plugin does), the owner's notices of wrong keys wait for
 * the second tick and 10 ms, in order, the claimer's answers going first.
 */
static void test_owner_notices_deferred(void **state)
{
	fx *f = *state;

	cx_engine_defer_notices(f->e, true);
	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	do_claim(f, T0, "B", "A", "000000", "", "b1");
	do_claim(f, T0, "C", "A", "000001", "", "c1");
	do_claim(f, T0, "D", "A", "000002", "", "d1");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b1");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/A", "c1");
	expect_error(f, "D", CX_CODE_NO_MATCH, "claim/A", "d1");
	expect_none(f);
	/* The offer burned at once: the right key no longer matches, before any notice. */
	do_claim(f, T0, "E", "A", "483920", "", "e1");
	expect_error(f, "E", CX_CODE_NO_MATCH, "claim/A", "e1");
	/* The first tick: the notices wait for the second, and for 10 ms. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 1, 10), 0);
	expect_none(f);
	/* The second tick, but too early. */
	assert_int_equal(cx_engine_tick(f->e, T0 + 5, 10), 0);
	expect_none(f);
	assert_int_equal(cx_engine_tick(f->e, T0 + 10, 10), 0);
	expect_attempt(f, "A", 2, "ra");
	expect_attempt(f, "A", 1, "ra");
	expect_revoked(f, "A", "attempts", "ra");
	expect_none(f);
	assert_int_equal(cx_engine_tick(f->e, T0 + 20, 10), 0);
	expect_none(f);
	/* Without ticks, a held notice goes with the next claim once it is late. */
	do_offer(f, T0 + 30, "A", "483920", 600, "ra2");
	expect_offer(f, "A", 600, "ra2");
	do_claim(f, T0 + 30, "B", "A", "000003", "", "b2");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b2");
	do_claim(f, T0 + 289, "C", "X", "000004", "", "c2");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/X", "c2");
	expect_none(f);
	do_claim(f, T0 + 290, "C", "X", "000005", "", "c3");
	expect_attempt(f, "A", 2, "ra2");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/X", "c3");
	expect_none(f);
}

/* No-match is answered to the claimer before the owner hears of the attempt. */
static void test_no_match_claimer_first(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	do_claim(f, T0, "B", "A", "000000", "", "b");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b");
	expect_attempt(f, "A", 2, "ra");
	do_claim(f, T0, "B", "Z", "000000", "", "b");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/Z", "b");
	expect_none(f);
}

static void test_max_limiters(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.max_limiters = 3;
	fx *f = fx_with(state, &lim);
	cx_engine_stats st;
	const rec *x;

	do_offer(f, T0, "A", "483920", 600, "ra");
	expect_offer(f, "A", 600, "ra");
	/* B and its address: two windows; C from the same address: a third. */
	do_claim_from(f, T0, "B", "a1", "X", "111111", "");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/X", "");
	do_claim_from(f, T0 + SEC, "C", "a1", "X", "111111", "");
	expect_error(f, "C", CX_CODE_NO_MATCH, "claim/X", "");
	expect_ext_stats(f, 2, 1, 2);

	/* D would need a fourth window: refused before evaluation; A's offer keeps its attempts. */
	do_claim_from(f, T0 + 2 * SEC, "D", "a1", "A", "111111", "d1");
	x = expect_error(f, "D", CX_CODE_CAPACITY, "claim/A", "d1");
	assert_false(x->default_message);
	do_claim(f, T0 + 2 * SEC, "D", "A", "483920", "", "d2");
	expect_error(f, "D", CX_CODE_CAPACITY, "claim/A", "d2");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.capacity_limiters, 2);
	assert_int_equal(st.claims_evaluated, 2);

	/* B has its windows already: it is evaluated, and its wrong key costs A an attempt. */
	do_claim_from(f, T0 + 2 * SEC, "B", "a1", "A", "111111", "b");
	expect_error(f, "B", CX_CODE_NO_MATCH, "claim/A", "b");
	expect_attempt(f, "A", 2, "ra");
	expect_none(f);

	/* Ended windows are reclaimed when room is needed, even before a tick. */
	do_claim_from(f, T0 + 61 * SEC, "D", "a2", "A", "483920", "d3");
	expect_match(f, "A", "D", "ra", 300);
	expect_match(f, "D", "A", "d3", 300);
	expect_none(f);
	expect_ext_stats(f, 0, 0, 0);
}

/* A matching claim leaves no window behind (the benchmark relies on it). */
static void test_match_leaves_no_limiter(void **state)
{
	fx *f = *state;

	do_offer(f, T0, "A", "483920", 0, "ra");
	expect_offer(f, "A", 120, "ra");
	do_claim_from(f, T0, "B", "192.0.2.7", "A", "483920", "rb");
	expect_match(f, "A", "B", "ra", 300);
	expect_match(f, "B", "A", "rb", 300);
	expect_none(f);
	expect_stats(f, 0, 1, 0, 1);
	expect_ext_stats(f, 0, 0, 0);
}

/* ---- error budget ---- */

static void test_error_budget(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.error_replies_per_sec = 3;
	fx *f = fx_with(state, &lim);
	cx_engine_stats st;

	/* Five refused claims within one clock second: three answers. */
	for(int i = 0; i < 5; i++){
		do_claim(f, T0 + 100 * i, "B", "B", "111111", "", "");
	}
	for(int i = 0; i < 3; i++){
		expect_error(f, "B", CX_CODE_SELF_CLAIM, "claim/B", "");
	}
	expect_none(f);
	/* Errors the adapter sends count against the same budget. */
	assert_false(cx_engine_error(f->e, T0 + 999, "B", CX_CODE_BAD_TOPIC, "reply/B", NULL, NULL, NULL));
	/* Other terminals have their own budget, and replies other than errors none. */
	assert_true(cx_engine_error(f->e, T0 + 999, "C", CX_CODE_BAD_TOPIC, "reply/B", "why", "r1", NULL));
	const rec *x = expect_error(f, "C", CX_CODE_BAD_TOPIC, "reply/B", "r1");
	assert_false(x->default_message);
	do_offer(f, T0 + 999, "B", "483920", 0, "ok");
	expect_offer(f, "B", 120, "ok");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.errors_sent, 4);
	assert_int_equal(st.errors_dropped, 3);
	assert_int_equal(st.error_windows, 2);

	/* The next second brings a fresh budget; a tick in a later second frees the windows. */
	do_claim(f, T0 + 1000, "B", "B", "111111", "", "");
	expect_error(f, "B", CX_CODE_SELF_CLAIM, "claim/B", "");
	expect_none(f);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.error_windows, 1);
	assert_int_equal(cx_engine_tick(f->e, T0 + 2000, 10), 0);
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.error_windows, 0);
	/* An invalid recipient gets nothing. */
	assert_false(cx_engine_error(f->e, T0 + 2000, "bad id", CX_CODE_BAD_TOPIC, "x", NULL, NULL, NULL));
	expect_none(f);
}

static void test_error_budget_ceiling(void **state)
{
	cx_limits lim;
	cx_limits_default(&lim);
	lim.max_limiters = 2;
	fx *f = fx_with(state, &lim);
	cx_engine_stats st;

	assert_true(cx_engine_error(f->e, T0, "A", CX_CODE_BAD_TOPIC, "t", NULL, NULL, NULL));
	assert_true(cx_engine_error(f->e, T0, "B", CX_CODE_BAD_TOPIC, "t", NULL, NULL, NULL));
	/* A third terminal's window cannot be tracked this second: its error is dropped. */
	assert_false(cx_engine_error(f->e, T0, "C", CX_CODE_BAD_TOPIC, "t", NULL, NULL, NULL));
	assert_true(cx_engine_error(f->e, T0, "A", CX_CODE_BAD_TOPIC, "t", NULL, NULL, NULL));
	assert_true(cx_engine_error(f->e, T0 + SEC, "C", CX_CODE_BAD_TOPIC, "t", NULL, NULL, NULL));
	cx_engine_get_stats(f->e, &st);
	assert_int_equal(st.errors_sent, 4);
	assert_int_equal(st.errors_dropped, 1);
	f->seen = f->len;
}

/* ---- table clearing and heap reservation ---- */

static void test_table_clear_and_heap_reserve(void **state)
{
	(void)state;
	enum { N = 300 };
	static tnode nodes[N];
	cx_htab t;
	cx_theap h;
	cx_timer tm[3];
	int visited = 0;

	assert_int_equal(cx_htab_init(&t, tnode_hash, NULL), 0);
	for(int i = 0; i < N; i++){
		nodes[i].k = i;
		cx_htab_insert(&t, &nodes[i].hn, tnode_hash(&nodes[i].hn, NULL));
	}
	assert_true(t.mask + 1 >= N);
	cx_htab_clear(&t, count_node, &visited);
	assert_int_equal(visited, N);
	assert_int_equal(t.count, 0);
	/* The grown bucket array was given back, and the table works on. */
	assert_int_equal(t.mask + 1, 64);
	for(int i = 0; i < N; i++){
		int k = i;
		assert_null(cx_htab_find(&t, (uint64_t)(i % 3), tnode_eq, &k));
	}
	cx_htab_insert(&t, &nodes[5].hn, tnode_hash(&nodes[5].hn, NULL));
	assert_int_equal(t.count, 1);
	cx_htab_clear(&t, NULL, NULL);
	cx_htab_clear(NULL, NULL, NULL);
	cx_htab_free(&t, NULL, NULL);

	cx_theap_init(&h);
	assert_int_equal(cx_theap_reserve(&h, 0), 0);
	assert_int_equal(cx_theap_reserve(&h, 100), 0);
	assert_true(h.cap >= 100);
	size_t cap = h.cap;
	for(int i = 0; i < 3; i++){
		tm[i].due = 3 - i;
		tm[i].idx = CX_TIMER_DETACHED;
		assert_int_equal(cx_theap_push(&h, &tm[i]), 0);
	}
	assert_int_equal(h.cap, cap);
	assert_ptr_equal(cx_theap_top(&h), &tm[2]);
	assert_int_equal(cx_theap_reserve(&h, SIZE_MAX / 2), -1);
	assert_int_equal(h.len, 3);
	cx_theap_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test_setup_teardown(test_fresh_engine_is_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_default_ttl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdraw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activity_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_explicit_ttl_without_ref, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_ttl_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_ttl_below_minimum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_short_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_bad_request_keeps_pending_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_replacement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_replacement_restores_attempts_and_lifetime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_replacing_expired_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_exchange_ids_differ, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_single_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_two_claimers_same_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_no_offer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_at_last_millisecond, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_after_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attempts_and_burning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_attempt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_bound_to_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_self_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofed_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_check_precedes_self_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_new_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_counts_only_no_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sealed_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsealed_exchange_refuses_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_require_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_before_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_from_third_terminal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_to_wrong_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_already_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_on_expired_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_offer_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_exchange_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tick_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_offers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_exchanges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capacity_exchanges_reclaims_expired, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_internal_errors, setup, teardown),
		cmocka_unit_test(test_new_fails_without_randomness),
		cmocka_unit_test(test_siphash13_vectors),
		cmocka_unit_test(test_siphash24_vectors),
		cmocka_unit_test(test_table_chains_and_growth),
		cmocka_unit_test(test_table_incremental_growth),
		cmocka_unit_test(test_heap_random_operations),
		cmocka_unit_test_setup_teardown(test_many_offers, setup, teardown),
		cmocka_unit_test(test_address_key),
		cmocka_unit_test_setup_teardown(test_rate_limit_per_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rate_limit_wait_until_evaluated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_copy_no_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_copy_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_match_claimer_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner_notices_deferred, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_limiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_match_leaves_no_limiter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_budget_ceiling, setup, teardown),
		cmocka_unit_test(test_table_clear_and_heap_reserve),
	};

	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
