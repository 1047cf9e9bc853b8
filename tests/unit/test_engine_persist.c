/*
 * Unit tests of the engine's saved state (broker-plugin/engine_persist.c)
 * and of the atomically replaced files it goes to (statefile.c): what a
 * clean restart keeps (offers, attempts, exchanges half done, failure
 * windows, remembered claims, held notices), how the time the broker was
 * down is counted, and that every damaged file is refused whole.
 *
 * An engine is saved into memory at one monotonic clock and loaded into a
 * new one at another, as a restarted broker does.
 */
#define _GNU_SOURCE /* memmem */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/sha256.h>

#include "crypto.h"
#include "engine.h"
#include "ids.h"
#include "statefile.h"

#define T0 INT64_C(5000000)       /* monotonic ms of the first engine */
#define T1 INT64_C(90000000)      /* monotonic ms of the engine after the restart */
#define WALL INT64_C(1800000000000) /* wall clock at the save, Unix ms */
#define SEC INT64_C(1000)

/* One reply, as much of it as these tests look at. */
typedef struct {
	char to[CX_ID_MAX + 1];
	cx_reply_type type;
	cx_code code;
	char xid[CX_XID_HEX + 1];
	char ref[CX_REF_MAX + 1];
	char peer[CX_ID_MAX + 1];
	bool offer;
	uint32_t attempts_left;
	uint32_t retry_after;
	uint32_t expires_in;
} rec;

typedef struct {
	rec v[256];
	size_t n;
} replies;

static void record(void *ctx, const char *to, const cx_reply *r)
{
	replies *rs = ctx;
	rec *x;

	assert_true(rs->n < sizeof(rs->v) / sizeof(rs->v[0]));
	x = &rs->v[rs->n++];
	memset(x, 0, sizeof(*x));
	snprintf(x->to, sizeof(x->to), "%s", to);
	x->type = r->type;
	x->code = r->code;
	snprintf(x->xid, sizeof(x->xid), "%s", r->xid ? r->xid : "");
	snprintf(x->ref, sizeof(x->ref), "%s", r->ref ? r->ref : "");
	snprintf(x->peer, sizeof(x->peer), "%s", r->peer ? r->peer : "");
	x->offer = r->offer;
	x->attempts_left = r->attempts_left;
	x->retry_after = r->retry_after;
	x->expires_in = r->expires_in;
}

/* The last reply to terminal to, or NULL. */
static const rec *last_to(const replies *rs, const char *to)
{
	for(size_t i = rs->n; i > 0; i--){
		if(strcmp(rs->v[i - 1].to, to) == 0){
			return &rs->v[i - 1];
		}
	}
	return NULL;
}

static size_t count(const replies *rs, const char *to, cx_reply_type type)
{
	size_t n = 0;

	for(size_t i = 0; i < rs->n; i++){
		n += strcmp(rs->v[i].to, to) == 0 && rs->v[i].type == type;
	}
	return n;
}

/* A growing memory buffer, as a cx_write_fn sink; fail_after > 0 makes the nth write fail. */
typedef struct {
	unsigned char *p;
	size_t len, cap;
	int writes, fail_after;
} sink;

static int sink_write(void *ctx, const void *buf, size_t len)
{
	sink *s = ctx;

	if(s->fail_after > 0 && ++s->writes >= s->fail_after){
		return -1;
	}
	if(s->len + len > s->cap){
		s->cap = (s->len + len) * 2;
		s->p = realloc(s->p, s->cap);
		assert_non_null(s->p);
	}
	memcpy(s->p + s->len, buf, len);
	s->len += len;
	return 0;
}

static cx_engine *engine(const cx_limits *lim, replies *rs)
{
	cx_limits def;
	cx_engine *e;

	if(lim == NULL){
		cx_limits_default(&def);
		lim = &def;
	}
	e = cx_engine_new(lim, record, rs);
	assert_non_null(e);
	return e;
}

static void offer(cx_engine *e, int64_t now, const char *owner, const char *key, uint32_t ttl, const char *ref)
{
	cx_offer_req req;

	memset(&req, 0, sizeof(req));
	snprintf(req.key, sizeof(req.key), "%s", key);
	snprintf(req.ref, sizeof(req.ref), "%s", ref);
	req.ttl = ttl;
	cx_engine_offer(e, now, owner, &req, "keys/x");
}

static void claim(cx_engine *e, int64_t now, const char *claimer, const char *owner, const char *key,
		const char *ref)
{
	cx_claim_req req;

	memset(&req, 0, sizeof(req));
	snprintf(req.key, sizeof(req.key), "%s", key);
	snprintf(req.ref, sizeof(req.ref), "%s", ref);
	cx_engine_claim_from(e, now, claimer, "192.0.2.7", owner, &req, "claim/x");
}

static void card(cx_engine *e, int64_t now, const char *sender, const char *peer, const char *xid)
{
	static const char text[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"A\"]]]";
	cx_card_req req;

	memset(&req, 0, sizeof(req));
	snprintf(req.xid, sizeof(req.xid), "%s", xid);
	req.kind = CX_CARD_PLAIN;
	req.card = text;
	req.card_len = sizeof(text) - 1;
	cx_engine_card(e, now, sender, peer, &req, "card/x");
}

static void save(const cx_engine *e, int64_t now, int64_t wall, sink *s)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(cx_engine_save(e, now, wall, sink_write, s), 0);
	assert_true(s->len > 0);
}

static void load_ok(cx_engine *e, const sink *s, int64_t now, int64_t wall, cx_engine_loaded *st)
{
	char err[256] = "";
	int rc = cx_engine_load(e, now, wall, s->p, s->len, st, err, sizeof(err));

	if(rc != 0){
		fprintf(stderr, "load failed: %s\n", err);
	}
	assert_int_equal(rc, 0);
}

/* True when e holds no entry (and, with total, no all-claimers window). */
static bool holds_nothing(const cx_engine *e, bool total)
{
	cx_engine_stats st;

	cx_engine_get_stats(e, &st);
	return st.offers == 0 && st.exchanges == 0 && st.limiters == 0 && st.address_limiters == 0
			&& st.recent_claims == 0 && st.timers == 0 && (!total || st.total_failures == 0);
}

static bool engine_empty(const cx_engine *e)
{
	return holds_nothing(e, true);
}

/* ---- what a restart keeps ---- */

/*
 * An offer with an attempt gone, an exchange where one card passed and a
 * claimer at its failure limit, saved and loaded 10 s later: the right key
 * still matches (the MAC key came along), the attempts left are those
 * left, the exchange completes, and the claimer stays rate-limited for
 * what is left of its window.
 */
static void test_round_trip(void **state)
{
	replies a = {0}, b = {0};
	cx_engine *e1 = engine(NULL, &a), *e2;
	cx_engine_loaded st;
	char xid[CX_XID_HEX + 1];
	const rec *r;
	sink s;

	(void)state;
	offer(e1, T0, "alice", "483920", 120, "r1");
	claim(e1, T0, "bob", "alice", "111111", "c1");
	assert_int_equal(last_to(&a, "alice")->attempts_left, 2);
	offer(e1, T0, "dave", "555555", 120, "r2");
	claim(e1, T0, "erin", "dave", "555555", "c2");
	r = last_to(&a, "erin");
	assert_int_equal(r->type, CX_REPLY_MATCH);
	snprintf(xid, sizeof(xid), "%s", r->xid);
	card(e1, T0, "dave", "erin", xid);
	assert_int_equal(last_to(&a, "dave")->type, CX_REPLY_SENT);
	for(int i = 0; i < 10; i++){
		char ref[8];
		snprintf(ref, sizeof(ref), "m%d", i);
		claim(e1, T0 + 1000 + i, "mallory", "nobody", "000000", ref);
	}
	claim(e1, T0 + 2000, "mallory", "nobody", "000000", "m10");
	assert_int_equal(last_to(&a, "mallory")->code, CX_CODE_RATE_LIMITED);

	save(e1, T0 + 5 * SEC, WALL, &s);
	/* The key itself is nowhere in the file. */
	assert_null(memmem(s.p, s.len, "483920", 6));
	cx_engine_free(e1);

	e2 = engine(NULL, &b);
	load_ok(e2, &s, T1, WALL + 10 * SEC, &st);
	assert_int_equal(st.offers, 1);
	assert_int_equal(st.exchanges, 1);
	assert_int_equal(st.limiters, 3); /* bob's and mallory's windows, and their address's */
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.downtime_ms, 10 * SEC);
	assert_int_equal(b.n, 0); /* loading emits nothing */

	/* Rate-limited still: the window opened at T0 + 1 s, 4 + 10 s of it are gone. */
	claim(e2, T1, "mallory", "nobody", "000000", "m11");
	r = last_to(&b, "mallory");
	assert_int_equal(r->code, CX_CODE_RATE_LIMITED);
	assert_int_equal(r->retry_after, 46);

	/* One more wrong key leaves one attempt, then the right key matches. */
	claim(e2, T1, "frank", "alice", "222222", "c3");
	assert_int_equal(last_to(&b, "alice")->attempts_left, 1);
	claim(e2, T1, "bob", "alice", "483920", "c4");
	r = last_to(&b, "bob");
	assert_int_equal(r->type, CX_REPLY_MATCH);
	assert_string_equal(r->peer, "alice");
	assert_string_equal(last_to(&b, "alice")->ref, "r1");

	/* The exchange goes on where it was: dave has sent, erin has not. */
	card(e2, T1, "dave", "erin", xid);
	assert_int_equal(last_to(&b, "dave")->code, CX_CODE_ALREADY_SENT);
	card(e2, T1, "erin", "dave", xid);
	assert_int_equal(last_to(&b, "dave")->type, CX_REPLY_CARD);
	assert_int_equal(last_to(&b, "erin")->type, CX_REPLY_SENT);
	card(e2, T1, "erin", "dave", xid);
	assert_int_equal(last_to(&b, "erin")->code, CX_CODE_UNKNOWN_EXCHANGE);

	cx_engine_free(e2);
	cx_wipe(s.p, s.len);
	free(s.p);
}

/*
 * The time the broker was down counts: an offer with 30 s left, loaded 40 s
 * later, expires at the first tick with its notice; one with 120 s left,
 * loaded 100 s later, lives 20 s more. An exchange that ran out is expired
 * to both parties. A wall clock that went back counts as no downtime.
 */
static void test_downtime(void **state)
{
	replies a = {0}, b = {0};
	cx_engine *e1 = engine(NULL, &a), *e2;
	cx_engine_loaded st;
	const rec *r;
	sink s;

	(void)state;
	offer(e1, T0, "alice", "483920", 30, "short");
	offer(e1, T0, "carol", "777777", 120, "long");
	offer(e1, T0, "dave", "555555", 120, "r2");
	claim(e1, T0, "erin", "dave", "555555", "c2");
	save(e1, T0, WALL, &s);
	cx_engine_free(e1);

	e2 = engine(NULL, &b);
	load_ok(e2, &s, T1, WALL + 40 * SEC, &st);
	assert_int_equal(st.offers, 2);
	assert_int_equal(st.expired, 1);
	assert_int_equal(cx_engine_tick(e2, T1, 100), 1);
	r = last_to(&b, "alice");
	assert_non_null(r);
	assert_int_equal(r->type, CX_REPLY_EXPIRED);
	assert_true(r->offer);
	assert_string_equal(r->ref, "short");
	assert_null(last_to(&b, "carol"));
	cx_engine_free(e2);

	/* 100 s down: carol's offer has 20 s left, the exchange (300 s) 200 s. */
	memset(&b, 0, sizeof(b));
	e2 = engine(NULL, &b);
	load_ok(e2, &s, T1, WALL + 100 * SEC, &st);
	assert_int_equal(cx_engine_tick(e2, T1 + 20 * SEC - 1, 100), 1); /* alice's only */
	assert_null(last_to(&b, "carol"));
	assert_int_equal(cx_engine_tick(e2, T1 + 20 * SEC, 100), 1);
	assert_int_equal(last_to(&b, "carol")->type, CX_REPLY_EXPIRED);
	assert_int_equal(cx_engine_tick(e2, T1 + 200 * SEC - 1, 100), 0);
	assert_int_equal(cx_engine_tick(e2, T1 + 200 * SEC, 100), 1);
	assert_int_equal(count(&b, "dave", CX_REPLY_EXPIRED), 1);
	assert_int_equal(count(&b, "erin", CX_REPLY_EXPIRED), 1);
	cx_engine_free(e2);

	/* 400 s down: everything ran out and is told once, at the first tick. */
	memset(&b, 0, sizeof(b));
	e2 = engine(NULL, &b);
	load_ok(e2, &s, T1, WALL + 400 * SEC, &st);
	assert_int_equal(st.expired, 3);
	assert_int_equal(cx_engine_tick(e2, T1, 100), 3);
	assert_int_equal(count(&b, "alice", CX_REPLY_EXPIRED) + count(&b, "carol", CX_REPLY_EXPIRED)
			+ count(&b, "dave", CX_REPLY_EXPIRED) + count(&b, "erin", CX_REPLY_EXPIRED), 4);
	assert_int_equal(cx_engine_tick(e2, T1 + 1000 * SEC, 100), 0);
	cx_engine_free(e2);

	/* The clock went back an hour: nothing is counted as gone. */
	memset(&b, 0, sizeof(b));
	e2 = engine(NULL, &b);
	load_ok(e2, &s, T1, WALL - 3600 * SEC, &st);
	assert_int_equal(st.downtime_ms, 0);
	assert_int_equal(st.expired, 0);
	assert_int_equal(cx_engine_tick(e2, T1 + 30 * SEC - 1, 100), 0);
	assert_int_equal(cx_engine_tick(e2, T1 + 30 * SEC, 100), 1);
	cx_engine_free(e2);

	cx_wipe(s.p, s.len);
	free(s.p);
}

/*
 * A claim resent after the restart (the claimer did not get its match) is
 * answered as it was; an owner's notice held when the broker stopped goes
 * out after the restart.
 */
static void test_repeat_and_notices(void **state)
{
	replies a = {0}, b = {0};
	cx_engine *e1 = engine(NULL, &a), *e2;
	cx_engine_loaded st;
	char xid[CX_XID_HEX + 1];
	const rec *r;
	sink s;

	(void)state;
	cx_engine_defer_notices(e1, true);
	offer(e1, T0, "alice", "483920", 120, "r1");
	claim(e1, T0, "bob", "alice", "483920", "c1");
	snprintf(xid, sizeof(xid), "%s", last_to(&a, "bob")->xid);
	offer(e1, T0, "carol", "777777", 120, "r2");
	claim(e1, T0, "dan", "carol", "000000", "c2");
	assert_int_equal(count(&a, "carol", CX_REPLY_ATTEMPT), 0); /* held */
	save(e1, T0, WALL, &s);
	cx_engine_free(e1);

	e2 = engine(NULL, &b);
	cx_engine_defer_notices(e2, true);
	load_ok(e2, &s, T1, WALL + 2 * SEC, &st);
	assert_int_equal(st.notices, 1);
	assert_int_equal(st.recent_claims, 2);
	claim(e2, T1, "bob", "alice", "483920", "c1");
	r = last_to(&b, "bob");
	assert_int_equal(r->type, CX_REPLY_MATCH);
	assert_string_equal(r->xid, xid);
	assert_int_equal(r->expires_in, 298);
	assert_null(last_to(&b, "alice")); /* the owner heard of it once */
	cx_engine_tick(e2, T1 + 20, 10);
	cx_engine_tick(e2, T1 + 40, 10);
	r = last_to(&b, "carol");
	assert_non_null(r);
	assert_int_equal(r->type, CX_REPLY_ATTEMPT);
	assert_int_equal(r->attempts_left, 2);
	assert_string_equal(r->ref, "r2");
	cx_engine_free(e2);
	cx_wipe(s.p, s.len);
	free(s.p);
}

#define COMMIT "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define PK "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"

static void send_key(cx_engine *e, int64_t now, const char *sender, const char *peer, const char *xid)
{
	cx_card_req req;

	memset(&req, 0, sizeof(req));
	snprintf(req.xid, sizeof(req.xid), "%s", xid);
	req.kind = CX_CARD_PK;
	snprintf(req.pk, sizeof(req.pk), "%s", PK);
	cx_engine_card(e, now, sender, peer, &req, "card/x");
}

/* A sealed exchange keeps its order: the offerer's key passed, the claimer's may follow, not a second one. */
static void test_sealed_exchange(void **state)
{
	replies a = {0}, b = {0};
	cx_engine *e1 = engine(NULL, &a), *e2;
	char xid[CX_XID_HEX + 1];
	cx_claim_req req;
	sink s;

	(void)state;
	offer(e1, T0, "alice", "483920", 120, "r1");
	memset(&req, 0, sizeof(req));
	snprintf(req.key, sizeof(req.key), "483920");
	snprintf(req.commit, sizeof(req.commit), COMMIT);
	cx_engine_claim(e1, T0, "bob", "alice", &req, "claim/alice");
	assert_int_equal(last_to(&a, "bob")->type, CX_REPLY_MATCH);
	snprintf(xid, sizeof(xid), "%s", last_to(&a, "bob")->xid);
	send_key(e1, T0, "alice", "bob", xid);
	assert_int_equal(last_to(&a, "bob")->type, CX_REPLY_PK);
	save(e1, T0, WALL, &s);
	cx_engine_free(e1);

	e2 = engine(NULL, &b);
	load_ok(e2, &s, T1, WALL, NULL);
	send_key(e2, T1, "alice", "bob", xid);
	assert_int_equal(last_to(&b, "alice")->code, CX_CODE_ALREADY_SENT);
	card(e2, T1, "alice", "bob", xid); /* plaintext from a party that sent its key */
	assert_int_equal(last_to(&b, "alice")->code, CX_CODE_BAD_ORDER);
	send_key(e2, T1, "bob", "alice", xid);
	assert_int_equal(last_to(&b, "alice")->type, CX_REPLY_PK);
	cx_engine_free(e2);
	cx_wipe(s.p, s.len);
	free(s.p);
}

/* Lower limits after the restart: attempts and lifetimes are cut, the excess left out and counted. */
static void test_lower_limits(void **state)
{
	replies a = {0}, b = {0};
	cx_limits lim;
	cx_engine *e1, *e2;
	cx_engine_loaded st;
	sink s;

	(void)state;
	cx_limits_default(&lim);
	lim.attempts = 5;
	e1 = engine(&lim, &a);
	offer(e1, T0, "alice", "483920", 600, "r1");
	offer(e1, T0, "carol", "777777", 600, "r2");
	offer(e1, T0, "dave", "555555", 600, "r3");
	save(e1, T0, WALL, &s);
	cx_engine_free(e1);

	cx_limits_default(&lim);
	lim.attempts = 1;
	lim.max_offers = 2;
	lim.ttl_max_s = 60;
	lim.ttl_default_s = 60;
	e2 = engine(&lim, &b);
	load_ok(e2, &s, T1, WALL, &st);
	assert_int_equal(st.offers, 2);
	assert_int_equal(st.dropped, 1);
	/* One attempt: a wrong key burns whichever offer it hits. */
	claim(e2, T1, "bob", "alice", "000000", "c1");
	claim(e2, T1, "bob", "carol", "000000", "c2");
	claim(e2, T1, "bob", "dave", "000000", "c3");
	assert_int_equal(count(&b, "alice", CX_REPLY_REVOKED) + count(&b, "carol", CX_REPLY_REVOKED)
			+ count(&b, "dave", CX_REPLY_REVOKED), 2);
	cx_engine_free(e2);

	/* Lifetimes are cut to the new ttl_max. */
	memset(&b, 0, sizeof(b));
	e2 = engine(&lim, &b);
	load_ok(e2, &s, T1, WALL, &st);
	assert_int_equal(cx_engine_tick(e2, T1 + 60 * SEC, 100), 2);
	cx_engine_free(e2);
	cx_wipe(s.p, s.len);
	free(s.p);
}

/* ---- refusals ---- */

static void fill(cx_engine *e, replies *a)
{
	cx_engine_defer_notices(e, true);
	offer(e, T0, "alice", "483920", 120, "r1");
	offer(e, T0, "carol", "777777", 120, "");
	claim(e, T0, "dan", "carol", "000000", "c2");
	offer(e, T0, "dave", "555555", 120, "r2");
	claim(e, T0, "erin", "dave", "555555", "c3");
	card(e, T0, "erin", "dave", a->v[a->n - 1].xid);
	claim(e, T0, "mallory", "alice", "123456", "");
}

/*
 * Every truncation and every single-byte change of a saved engine is
 * refused with a reason, and the engine is left empty and usable.
 */
static void test_damage_refused(void **state)
{
	replies a = {0}, b = {0};
	cx_engine *e1 = engine(NULL, &a), *e2 = engine(NULL, &b);
	char err[256];
	sink s;

	(void)state;
	fill(e1, &a);
	save(e1, T0, WALL, &s);
	for(size_t len = 0; len < s.len; len++){
		err[0] = '\0';
		assert_int_equal(cx_engine_load(e2, T1, WALL, s.p, len, NULL, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		assert_true(engine_empty(e2));
	}
	for(size_t i = 0; i < s.len; i++){
		s.p[i] ^= 0x5a;
		err[0] = '\0';
		assert_int_equal(cx_engine_load(e2, T1, WALL, s.p, s.len, NULL, err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
		assert_true(engine_empty(e2));
		s.p[i] ^= 0x5a;
	}
	/* Still loadable, and the engine takes it after all those refusals. */
	load_ok(e2, &s, T1, WALL, NULL);
	assert_false(engine_empty(e2));
	/* An engine that holds anything refuses to load. */
	assert_int_equal(cx_engine_load(e2, T1, WALL, s.p, s.len, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not empty"));
	cx_engine_free(e1);
	cx_engine_free(e2);
	cx_wipe(s.p, s.len);
	free(s.p);
}

/* Rewrites the checksum at the end of s after a change, as a forger would. */
static void reseal(sink *s)
{
	assert_int_equal(mbedtls_sha256_ret(s->p, s->len - 32, s->p + s->len - 32, 0), 0);
}

/*
 * A file with a valid checksum but any byte changed (every offset, several
 * values) is loaded or refused whole, never half: the checks of the
 * records themselves. Under the sanitizers, nothing leaks or overflows.
 */
static void test_forged_records(void **state)
{
	static const unsigned char values[] = {0x00, 0x01, 0x02, 0x40, 0x7f, 0x80, 0xff};
	replies a = {0}, b = {0};
	cx_engine *e1 = engine(NULL, &a), *e2 = engine(NULL, &b);
	size_t loaded = 0, refused = 0;
	char err[256];
	sink s;

	(void)state;
	fill(e1, &a);
	save(e1, T0, WALL, &s);
	for(size_t i = 12; i < s.len - 32; i++){
		unsigned char was = s.p[i];

		for(size_t k = 0; k < sizeof(values); k++){
			if(values[k] == was){
				continue;
			}
			s.p[i] = values[k];
			reseal(&s);
			b.n = 0;
			if(cx_engine_load(e2, T1, WALL, s.p, s.len, NULL, err, sizeof(err)) == 0){
				loaded++;
				assert_int_equal(b.n, 0);
				/* Whatever it holds expires cleanly. */
				cx_engine_tick(e2, T1 + 4000 * SEC, 1000000);
				assert_true(holds_nothing(e2, false));
				cx_engine_free(e2);
				e2 = engine(NULL, &b);
			}else{
				refused++;
				assert_non_null(strstr(err, "byte "));
				assert_true(engine_empty(e2));
			}
		}
		s.p[i] = was;
	}
	reseal(&s);
	assert_true(loaded > 0);
	assert_true(refused > 0);

	/* Another format version is named as such. */
	s.p[8] = 2;
	assert_int_equal(cx_engine_load(e2, T1, WALL, s.p, s.len, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "format version 2"));
	s.p[0] = 'X';
	assert_int_equal(cx_engine_load(e2, T1, WALL, s.p, s.len, NULL, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a saved cardex engine"));
	cx_engine_free(e1);
	cx_engine_free(e2);
	cx_wipe(s.p, s.len);
	free(s.p);
}

/* A write that fails stops the save with -1, at any point. */
static void test_save_write_fails(void **state)
{
	replies a = {0};
	cx_engine *e = engine(NULL, &a);
	sink s;

	(void)state;
	fill(e, &a);
	for(int n = 1; n <= 2; n++){
		memset(&s, 0, sizeof(s));
		s.fail_after = n;
		assert_int_equal(cx_engine_save(e, T0, WALL, sink_write, &s), -1);
		free(s.p);
	}
	/* An empty engine saves and loads as empty. */
	cx_engine_free(e);
	e = engine(NULL, &a);
	save(e, T0, WALL, &s);
	cx_engine_free(e);
	e = engine(NULL, &a);
	load_ok(e, &s, T1, WALL, NULL);
	assert_true(engine_empty(e));
	cx_engine_free(e);
	free(s.p);
}

/* The size bound covers a full engine's file (here with small ceilings). */
static void test_saved_max(void **state)
{
	replies a = {0};
	cx_limits lim;
	cx_engine *e;
	char owner[CX_ID_MAX + 1];
	sink s;

	(void)state;
	cx_limits_default(&lim);
	lim.max_offers = 20;
	lim.max_exchanges = 4;
	lim.max_limiters = 8;
	e = engine(&lim, &a);
	for(int i = 0; i < 20; i++){
		memset(owner, 'o', CX_ID_MAX);
		owner[CX_ID_MAX] = '\0';
		owner[0] = (char)('a' + i);
		offer(e, T0, owner, "483920", 120, "abcdefghijklmnop");
		a.n = 0;
	}
	save(e, T0, WALL, &s);
	assert_true(s.len <= cx_engine_saved_max(&lim));
	cx_engine_free(e);
	free(s.p);
}

/* ---- statefile ---- */

static void test_statefile(void **state)
{
	char dir[] = "/tmp/cardex-statefile-XXXXXX";
	char path[256], tmp[300], err[256];
	unsigned char *buf;
	size_t len;
	cx_statefile f;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(cx_statefile_read(path, 100, &buf, &len, err, sizeof(err)), 1);
	assert_null(buf);

	assert_int_equal(cx_statefile_begin(&f, path, err, sizeof(err)), 0);
	assert_int_equal(cx_statefile_write(&f, "hello ", 6), 0);
	assert_int_equal(cx_statefile_write(&f, "world", 5), 0);
	assert_int_equal(access(path, F_OK), -1); /* not in place before the commit */
	assert_int_equal(cx_statefile_commit(&f, err, sizeof(err)), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cx_statefile_read(path, 100, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "hello world", 11);
	free(buf);
	assert_int_equal(cx_statefile_read(path, 10, &buf, &len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
	assert_int_equal(cx_statefile_read(dir, 10, &buf, &len, err, sizeof(err)), -1);

	/* An aborted write leaves the old file as it was and no temporary file. */
	assert_int_equal(cx_statefile_begin(&f, path, err, sizeof(err)), 0);
	assert_int_equal(cx_statefile_write(&f, "x", 1), 0);
	cx_statefile_abort(&f);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(cx_statefile_read(path, 100, &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 11);
	free(buf);

	assert_int_equal(cx_statefile_remove(path, err, sizeof(err)), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(cx_statefile_remove(path, err, sizeof(err)), 0);

	/* A directory that does not exist: a reason, nothing created. */
	snprintf(path, sizeof(path), "%s/no/such/state", dir);
	assert_int_equal(cx_statefile_begin(&f, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot create"));
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_downtime),
		cmocka_unit_test(test_repeat_and_notices),
		cmocka_unit_test(test_sealed_exchange),
		cmocka_unit_test(test_lower_limits),
		cmocka_unit_test(test_damage_refused),
		cmocka_unit_test(test_forged_records),
		cmocka_unit_test(test_save_write_fails),
		cmocka_unit_test(test_saved_max),
		cmocka_unit_test(test_statefile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
