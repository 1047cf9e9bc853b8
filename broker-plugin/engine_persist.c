/*
 * Saving and loading the engine's live state (engine.h: cx_engine_save,
 * cx_engine_load), so that a broker that stops cleanly starts again with
 * its offers, exchanges and limits.
 *
 * Format, version 1; integers little-endian, a string is a length byte and
 * that many bytes:
 *   "cxengine"  8 bytes
 *   version     u32 (1)
 *   wall_ms     i64   wall clock at the save, Unix ms
 *   mac key     32 bytes (the two SipHash keys of key_mac)
 *   total       u8 open, u32 ms left, u32 failures (the all-claimers window)
 *   records, each a tag byte and its fields ("left" is u32 ms left):
 *     'O' offer         owner, ref, mac[16], u8 attempts left, left
 *     'X' exchange      xid[16], a, b, u8 sent, u8 keys sent, u8 sealed, left
 *     'L' claimer window  id, u32 failures, left
 *     'A' address window  address key, u32 failures, left
 *     'R' remembered claim  claimer, ref, mac[16], u8 outcome, xid[16], left
 *     'N' held notice   owner, ref, u8 type, u8 attempts left
 *     'E' end           u64 number of records before it
 *   SHA-256 of every byte before it, 32 bytes
 *
 * The loader checks the size, magic, version and checksum before it reads
 * a record, then every field of every record, so a damaged file is refused
 * whole with a reason, never half-loaded. Nothing here is on a request's
 * path: it runs at the broker's start and stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "engine_internal.h"

#define MAGIC "cxengine"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1u
#define HEADER_LEN (MAGIC_LEN + 4 + 8 + 2 * CX_SIPHASH_KEY_LEN + 1 + 4 + 4)
#define END_LEN (1 + 8)
#define DIGEST_LEN 32
#define OUT_BUF 65536

enum {
	TAG_OFFER = 'O',
	TAG_EXCHANGE = 'X',
	TAG_LIMITER = 'L',
	TAG_ADDR_LIMITER = 'A',
	TAG_RECENT = 'R',
	TAG_NOTICE = 'N',
	TAG_END = 'E',
};

/* ---- writing ---- */

/* A buffered writer that hashes what it passes on. */
struct out {
	cx_write_fn write;
	void *ctx;
	mbedtls_sha256_context sha;
	int rc;          /* -1 once a write or the hash failed */
	size_t n;
	unsigned char buf[OUT_BUF];
};

static void out_flush(struct out *o)
{
	if(o->rc == 0 && o->n > 0){
		if(mbedtls_sha256_update_ret(&o->sha, o->buf, o->n) != 0 || o->write(o->ctx, o->buf, o->n) != 0){
			o->rc = -1;
		}
	}
	cx_wipe(o->buf, o->n);
	o->n = 0;
}

static void put(struct out *o, const void *p, size_t len)
{
	const unsigned char *b = p;

	while(len > 0){
		size_t k = OUT_BUF - o->n < len ? OUT_BUF - o->n : len;

		memcpy(o->buf + o->n, b, k);
		o->n += k;
		b += k;
		len -= k;
		if(o->n == OUT_BUF){
			out_flush(o);
		}
	}
}

static void put_u8(struct out *o, unsigned v)
{
	unsigned char b = (unsigned char)v;

	put(o, &b, 1);
}

static void put_u32(struct out *o, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
		(unsigned char)(v >> 24)};

	put(o, b, sizeof(b));
}

static void put_u64(struct out *o, uint64_t v)
{
	put_u32(o, (uint32_t)v);
	put_u32(o, (uint32_t)(v >> 32));
}

static void put_str(struct out *o, const char *s)
{
	size_t len = strlen(s);

	put_u8(o, (unsigned)len);
	put(o, s, len);
}

/* Milliseconds from now_ms to due, 0 when due has passed, at most UINT32_MAX. */
static uint32_t left_ms(int64_t now_ms, int64_t due)
{
	if(due <= now_ms){
		return 0;
	}
	return due - now_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)(due - now_ms);
}

/* Writes the entry whose timer is t; returns whether a record was written. */
static bool put_timer(struct out *o, int64_t now_ms, const cx_timer *t)
{
	switch((enum timer_kind)t->kind){
	case TIMER_OFFER: {
		const offer *of = CONTAINER(t, offer, timer);
		put_u8(o, TAG_OFFER);
		put_str(o, of->owner);
		put_str(o, of->ref);
		put(o, of->mac, CX_MAC_LEN);
		put_u8(o, of->attempts_left);
		put_u32(o, left_ms(now_ms, t->due));
		return true;
	}
	case TIMER_EXCHANGE: {
		const exchange *x = CONTAINER(t, exchange, timer);
		put_u8(o, TAG_EXCHANGE);
		put(o, x->xid, XID_LEN);
		put_str(o, x->a);
		put_str(o, x->b);
		put_u8(o, x->sent);
		put_u8(o, x->pk_sent);
		put_u8(o, x->sealed ? 1 : 0);
		put_u32(o, left_ms(now_ms, t->due));
		return true;
	}
	case TIMER_LIMITER:
	case TIMER_ADDR_LIMITER: {
		const limiter *l = CONTAINER(t, limiter, timer);
		if(t->due <= now_ms){
			return false;
		}
		put_u8(o, t->kind == TIMER_LIMITER ? TAG_LIMITER : TAG_ADDR_LIMITER);
		put_str(o, l->id);
		put_u32(o, l->failures);
		put_u32(o, left_ms(now_ms, t->due));
		return true;
	}
	case TIMER_RECENT: {
		const recent *r = CONTAINER(t, recent, timer);
		if(t->due <= now_ms){
			return false;
		}
		put_u8(o, TAG_RECENT);
		put_str(o, r->claimer);
		put_str(o, r->ref);
		put(o, r->mac, CX_MAC_LEN);
		put_u8(o, r->outcome);
		put(o, r->xid, XID_LEN);
		put_u32(o, left_ms(now_ms, t->due));
		return true;
	}
	default:
		return false;
	}
}

int cx_engine_save(const cx_engine *e, int64_t now_ms, int64_t wall_ms, cx_write_fn write, void *ctx)
{
	unsigned char digest[DIGEST_LEN];
	uint64_t records = 0;
	struct out *o;
	int rc;

	o = malloc(sizeof(*o));
	if(o == NULL){
		return -1;
	}
	o->write = write;
	o->ctx = ctx;
	o->n = 0;
	mbedtls_sha256_init(&o->sha);
	o->rc = mbedtls_sha256_starts_ret(&o->sha, 0) == 0 ? 0 : -1;

	put(o, MAGIC, MAGIC_LEN);
	put_u32(o, FORMAT_VERSION);
	put_u64(o, (uint64_t)(wall_ms > 0 ? wall_ms : 0)); /* the loader refuses a time before 1970 */
	put(o, e->mkey, sizeof(e->mkey));
	if(e->total_open && e->total_due > now_ms){
		put_u8(o, 1);
		put_u32(o, left_ms(now_ms, e->total_due));
		put_u32(o, e->total_failures);
	}else{
		put_u8(o, 0);
		put_u32(o, 0);
		put_u32(o, 0);
	}
	for(size_t i = 0; i < e->timers.len; i++){
		records += put_timer(o, now_ms, e->timers.v[i].t) ? 1 : 0;
	}
	for(size_t i = 0; i < e->nheld; i++){
		const notice *n = &e->held[i];
		put_u8(o, TAG_NOTICE);
		put_str(o, n->owner);
		put_str(o, n->ref);
		put_u8(o, n->type);
		put_u8(o, n->attempts_left);
		records++;
	}
	put_u8(o, TAG_END);
	put_u64(o, records);
	out_flush(o);
	if(o->rc == 0 && mbedtls_sha256_finish_ret(&o->sha, digest) == 0){
		if(write(ctx, digest, sizeof(digest)) != 0){
			o->rc = -1;
		}
	}else{
		o->rc = -1;
	}
	rc = o->rc;
	mbedtls_sha256_free(&o->sha);
	cx_wipe(o, sizeof(*o));
	free(o);
	cx_wipe(digest, sizeof(digest));
	return rc;
}

/* Largest records: tag, strings with their length bytes, fixed fields. */
#define OFFER_MAX (1 + 1 + CX_ID_MAX + 1 + CX_REF_MAX + CX_MAC_LEN + 1 + 4)
#define EXCHANGE_MAX (1 + XID_LEN + 2 * (1 + CX_ID_MAX) + 3 + 4)
#define LIMITER_MAX (1 + 1 + CX_ID_MAX + 4 + 4)
#define RECENT_MAX (1 + 1 + CX_ID_MAX + 1 + CX_REF_MAX + CX_MAC_LEN + 1 + XID_LEN + 4)
#define NOTICE_MAX (1 + 1 + CX_ID_MAX + 1 + CX_REF_MAX + 2)

uint64_t cx_engine_saved_max(const cx_limits *lim)
{
	return HEADER_LEN + END_LEN + DIGEST_LEN + (uint64_t)lim->max_offers * (OFFER_MAX + NOTICE_MAX)
			+ (uint64_t)lim->max_exchanges * EXCHANGE_MAX + (uint64_t)lim->max_limiters * (LIMITER_MAX + RECENT_MAX);
}

/* ---- reading ---- */

struct in {
	const unsigned char *p;
	size_t len; /* bytes of records (the trailer excluded) */
	size_t off;
	bool bad;   /* ran past the end */
};

static const unsigned char *take(struct in *r, size_t n)
{
	const unsigned char *p;

	if(r->bad || r->len - r->off < n){
		r->bad = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

static unsigned get_u8(struct in *r)
{
	const unsigned char *p = take(r, 1);

	return p != NULL ? p[0] : 0;
}

static uint32_t get_u32(struct in *r)
{
	const unsigned char *p = take(r, 4);

	return p != NULL ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

static uint64_t get_u64(struct in *r)
{
	uint64_t lo = get_u32(r);

	return lo | (uint64_t)get_u32(r) << 32;
}

static void get_bytes(struct in *r, void *out, size_t n)
{
	const unsigned char *p = take(r, n);

	if(p != NULL){
		memcpy(out, p, n);
	}else{
		memset(out, 0, n);
	}
}

/*
 * A string of at most max bytes into out (max + 1 bytes), NUL-terminated.
 * Returns its length, or -1 when it is longer, holds a NUL byte or runs
 * past the end.
 */
static int get_str(struct in *r, char *out, size_t max)
{
	size_t len = get_u8(r);
	const unsigned char *p;

	out[0] = '\0';
	if(r->bad || len > max){
		return -1;
	}
	p = take(r, len);
	if(p == NULL || memchr(p, '\0', len) != NULL){
		return -1;
	}
	memcpy(out, p, len);
	out[len] = '\0';
	return (int)len;
}

static bool get_id(struct in *r, char out[CX_ID_MAX + 1])
{
	int len = get_str(r, out, CX_ID_MAX);

	return len > 0 && cx_id_valid(out, (size_t)len);
}

static bool get_ref(struct in *r, char out[CX_REF_MAX + 1])
{
	int len = get_str(r, out, CX_REF_MAX);

	return len == 0 || (len > 0 && cx_ref_valid(out, (size_t)len));
}

/* An address key (cx_address_key): 1..CX_ADDR_MAX bytes. */
static bool get_addr(struct in *r, char out[CX_ADDR_MAX + 1])
{
	return get_str(r, out, CX_ADDR_MAX) > 0;
}

static bool offer_eq_key(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, offer, hn)->owner, key) == 0;
}

static bool exchange_eq_key(const cx_hnode *n, const void *key)
{
	return memcmp(CONTAINER(n, exchange, hn)->xid, key, XID_LEN) == 0;
}

static bool limiter_eq_key(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, limiter, hn)->id, key) == 0;
}

static bool recent_eq_key(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, recent, hn)->claimer, key) == 0;
}

/* ---- loading ---- */

struct load {
	cx_engine *e;
	int64_t now_ms;
	int64_t elapsed;    /* ms between save and load */
	cx_engine_loaded st;
	size_t held_cap;    /* notices kept at most */
	char *err;
	size_t errcap;
};

/*
 * The due time of an entry with left ms at the save, at most max from now:
 * left less the time since, now_ms at the earliest; *over when none was left.
 */
static int64_t due_of(const struct load *ld, uint32_t left, int64_t max, bool *over)
{
	int64_t rest = (int64_t)left - ld->elapsed;

	*over = rest <= 0;
	if(rest <= 0){
		return ld->now_ms;
	}
	return ld->now_ms + (rest < max ? rest : max);
}

static int fail(struct load *ld, size_t off, const char *what)
{
	snprintf(ld->err, ld->errcap, "byte %zu: %s", off, what);
	return -1;
}

/* Links timer t (kind and due set) into the heap; false when memory runs out. */
static bool timer_add(cx_engine *e, cx_timer *t)
{
	t->idx = CX_TIMER_DETACHED;
	return cx_theap_push(&e->timers, t) == 0;
}

static int load_offer(struct load *ld, struct in *r, size_t at)
{
	cx_engine *e = ld->e;
	offer tmp, *o;
	uint32_t left;
	uint64_t h;
	bool over;

	memset(&tmp, 0, sizeof(tmp));
	if(!get_id(r, tmp.owner) || !get_ref(r, tmp.ref)){
		return fail(ld, at, "offer: invalid owner or ref");
	}
	get_bytes(r, tmp.mac, CX_MAC_LEN);
	tmp.attempts_left = (uint8_t)get_u8(r);
	left = get_u32(r);
	if(r->bad || tmp.attempts_left < 1 || tmp.attempts_left > 100){
		cx_wipe(&tmp, sizeof(tmp));
		return fail(ld, at, "offer: invalid record");
	}
	h = cx_siphash13(e->hkey, tmp.owner, strlen(tmp.owner));
	if(cx_htab_find(&e->offers, h, offer_eq_key, tmp.owner) != NULL){
		cx_wipe(&tmp, sizeof(tmp));
		return fail(ld, at, "offer: owner listed twice");
	}
	if(e->offers.count >= e->lim.max_offers){
		cx_wipe(&tmp, sizeof(tmp));
		ld->st.dropped++;
		return 0;
	}
	if(tmp.attempts_left > e->lim.attempts){
		tmp.attempts_left = (uint8_t)e->lim.attempts;
	}
	tmp.timer.kind = TIMER_OFFER;
	tmp.timer.due = due_of(ld, left, (int64_t)e->lim.ttl_max_s * 1000, &over);
	o = malloc(sizeof(*o));
	if(o == NULL){
		cx_wipe(&tmp, sizeof(tmp));
		return fail(ld, at, "out of memory");
	}
	*o = tmp;
	cx_wipe(&tmp, sizeof(tmp));
	if(!timer_add(e, &o->timer)){
		cx_wipe(o, sizeof(*o));
		free(o);
		return fail(ld, at, "out of memory");
	}
	cx_htab_insert(&e->offers, &o->hn, h);
	ld->st.offers++;
	ld->st.expired += over ? 1 : 0;
	return 0;
}

static int load_exchange(struct load *ld, struct in *r, size_t at)
{
	cx_engine *e = ld->e;
	exchange tmp, *x;
	unsigned sealed;
	uint32_t left;
	uint64_t h;
	bool over;

	memset(&tmp, 0, sizeof(tmp));
	get_bytes(r, tmp.xid, XID_LEN);
	if(!get_id(r, tmp.a) || !get_id(r, tmp.b) || strcmp(tmp.a, tmp.b) == 0){
		return fail(ld, at, "exchange: invalid parties");
	}
	tmp.sent = (uint8_t)get_u8(r);
	tmp.pk_sent = (uint8_t)get_u8(r);
	sealed = get_u8(r);
	left = get_u32(r);
	/* Both cards sent closes an exchange; keys pass only in a sealed one. */
	if(r->bad || tmp.sent >= (SENT_A | SENT_B) || tmp.pk_sent > (SENT_A | SENT_B) || sealed > 1
			|| (tmp.pk_sent != 0 && sealed == 0)){
		return fail(ld, at, "exchange: invalid record");
	}
	tmp.sealed = sealed == 1;
	h = cx_siphash13(e->hkey, tmp.xid, XID_LEN);
	if(cx_htab_find(&e->exchanges, h, exchange_eq_key, tmp.xid) != NULL){
		return fail(ld, at, "exchange: ID listed twice");
	}
	if(e->exchanges.count >= e->lim.max_exchanges){
		ld->st.dropped++;
		return 0;
	}
	tmp.timer.kind = TIMER_EXCHANGE;
	tmp.timer.due = due_of(ld, left, (int64_t)e->lim.exchange_ttl_s * 1000, &over);
	x = malloc(sizeof(*x));
	if(x == NULL){
		return fail(ld, at, "out of memory");
	}
	*x = tmp;
	if(!timer_add(e, &x->timer)){
		cx_wipe(x, sizeof(*x));
		free(x);
		return fail(ld, at, "out of memory");
	}
	cx_htab_insert(&e->exchanges, &x->hn, h);
	ld->st.exchanges++;
	ld->st.expired += over ? 1 : 0;
	return 0;
}

static int load_limiter(struct load *ld, struct in *r, size_t at, bool address)
{
	cx_engine *e = ld->e;
	cx_htab *t = address ? &e->addr_limiters : &e->limiters;
	limiter tmp, *l;
	uint32_t left;
	uint64_t h;
	bool over, ok;

	memset(&tmp, 0, sizeof(tmp));
	ok = address ? get_addr(r, tmp.id) : get_id(r, tmp.id);
	tmp.failures = get_u32(r);
	left = get_u32(r);
	if(!ok || r->bad || tmp.failures == 0){
		return fail(ld, at, "failure window: invalid record");
	}
	h = cx_siphash13(e->hkey, tmp.id, strlen(tmp.id));
	if(cx_htab_find(t, h, limiter_eq_key, tmp.id) != NULL){
		return fail(ld, at, "failure window: listed twice");
	}
	tmp.timer.kind = address ? TIMER_ADDR_LIMITER : TIMER_LIMITER;
	tmp.timer.due = due_of(ld, left, WINDOW_MS, &over);
	if(over){
		return 0;
	}
	if(e->limiters.count + e->addr_limiters.count >= e->lim.max_limiters){
		ld->st.dropped++;
		return 0;
	}
	l = malloc(sizeof(*l));
	if(l == NULL){
		return fail(ld, at, "out of memory");
	}
	*l = tmp;
	if(!timer_add(e, &l->timer)){
		free(l);
		return fail(ld, at, "out of memory");
	}
	cx_htab_insert(t, &l->hn, h);
	ld->st.limiters++;
	return 0;
}

static int load_recent(struct load *ld, struct in *r, size_t at)
{
	cx_engine *e = ld->e;
	recent tmp, *rc;
	uint32_t left;
	uint64_t h;
	bool over;
	int ret = 0;

	memset(&tmp, 0, sizeof(tmp));
	if(!get_id(r, tmp.claimer) || !get_ref(r, tmp.ref)){
		return fail(ld, at, "remembered claim: invalid claimer or ref");
	}
	get_bytes(r, tmp.mac, CX_MAC_LEN);
	tmp.outcome = (uint8_t)get_u8(r);
	get_bytes(r, tmp.xid, XID_LEN);
	left = get_u32(r);
	if(r->bad || (tmp.outcome != RECENT_NO_MATCH && tmp.outcome != RECENT_MATCH)){
		ret = fail(ld, at, "remembered claim: invalid record");
		goto done;
	}
	h = cx_siphash13(e->hkey, tmp.claimer, strlen(tmp.claimer));
	if(cx_htab_find(&e->recents, h, recent_eq_key, tmp.claimer) != NULL){
		ret = fail(ld, at, "remembered claim: claimer listed twice");
		goto done;
	}
	tmp.timer.kind = TIMER_RECENT;
	tmp.timer.due = due_of(ld, left, WINDOW_MS, &over);
	if(over){
		goto done;
	}
	if(e->recents.count >= e->lim.max_limiters){
		ld->st.dropped++;
		goto done;
	}
	rc = malloc(sizeof(*rc));
	if(rc == NULL){
		ret = fail(ld, at, "out of memory");
		goto done;
	}
	*rc = tmp;
	if(!timer_add(e, &rc->timer)){
		cx_wipe(rc, sizeof(*rc));
		free(rc);
		ret = fail(ld, at, "out of memory");
		goto done;
	}
	cx_htab_insert(&e->recents, &rc->hn, h);
	ld->st.recent_claims++;

done:
	cx_wipe(&tmp, sizeof(tmp));
	return ret;
}

static int load_notice(struct load *ld, struct in *r, size_t at)
{
	cx_engine *e = ld->e;
	notice n;

	memset(&n, 0, sizeof(n));
	if(!get_id(r, n.owner) || !get_ref(r, n.ref)){
		return fail(ld, at, "notice: invalid owner or ref");
	}
	n.type = (uint8_t)get_u8(r);
	n.attempts_left = (uint8_t)get_u8(r);
	if(r->bad || (n.type != CX_REPLY_ATTEMPT && n.type != CX_REPLY_REVOKED) || n.attempts_left > 100){
		return fail(ld, at, "notice: invalid record");
	}
	if(e->nheld >= ld->held_cap){
		ld->st.dropped++;
		return 0;
	}
	if(e->nheld == e->held_cap){
		size_t cap = e->held_cap ? 2 * e->held_cap : 64;
		notice *grown = realloc(e->held, cap * sizeof(*grown));
		if(grown == NULL){
			return fail(ld, at, "out of memory");
		}
		e->held = grown;
		e->held_cap = cap;
	}
	/* Held as if just now: out at the second tick, as a fresh notice is. */
	n.tick = e->ticks;
	n.due = ld->now_ms;
	e->held[e->nheld++] = n;
	ld->st.notices++;
	return 0;
}

static void unlink_node(cx_hnode *n, void *arg)
{
	(void)n;
	(void)arg;
}

/*
 * Empties what a failed load added: the tables, then every entry through
 * the heap (each entry of the tables has its timer there), the held notices
 * and the all-claimers window. e held nothing before the load.
 */
static void drop_all(cx_engine *e)
{
	/* The tables first: clearing them reads the nodes, which the heap's loop frees. */
	cx_htab_clear(&e->offers, unlink_node, NULL);
	cx_htab_clear(&e->exchanges, unlink_node, NULL);
	cx_htab_clear(&e->limiters, unlink_node, NULL);
	cx_htab_clear(&e->addr_limiters, unlink_node, NULL);
	cx_htab_clear(&e->recents, unlink_node, NULL);
	for(size_t i = 0; i < e->timers.len; i++){
		cx_timer *t = e->timers.v[i].t;
		void *entry;
		size_t size;

		switch((enum timer_kind)t->kind){
		case TIMER_OFFER: entry = CONTAINER(t, offer, timer); size = sizeof(offer); break;
		case TIMER_EXCHANGE: entry = CONTAINER(t, exchange, timer); size = sizeof(exchange); break;
		case TIMER_RECENT: entry = CONTAINER(t, recent, timer); size = sizeof(recent); break;
		default: entry = CONTAINER(t, limiter, timer); size = sizeof(limiter); break;
		}
		cx_wipe(entry, size);
		free(entry);
	}
	e->timers.len = 0;
	if(e->held != NULL){
		cx_wipe(e->held, e->held_cap * sizeof(*e->held));
	}
	e->nheld = 0;
	e->total_open = false;
	e->total_due = 0;
	e->total_failures = 0;
}

/* Checks the header and the checksum; fills *r with the records. Returns 0 or -1 (err set). */
static int open_records(struct load *ld, const unsigned char *buf, size_t len, struct in *r)
{
	unsigned char digest[DIGEST_LEN];
	uint32_t version;
	int ok;

	if(len < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0){
		snprintf(ld->err, ld->errcap, "not a saved cardex engine (no \"%s\" at the start)", MAGIC);
		return -1;
	}
	if(len < MAGIC_LEN + 4){
		snprintf(ld->err, ld->errcap, "truncated (%zu bytes)", len);
		return -1;
	}
	version = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
	if(version != FORMAT_VERSION){
		snprintf(ld->err, ld->errcap, "format version %lu, this plugin reads version %u",
				(unsigned long)version, FORMAT_VERSION);
		return -1;
	}
	if(len < HEADER_LEN + END_LEN + DIGEST_LEN){
		snprintf(ld->err, ld->errcap, "truncated (%zu bytes)", len);
		return -1;
	}
	ok = mbedtls_sha256_ret(buf, len - DIGEST_LEN, digest, 0) == 0
			&& cx_ct_equal(digest, buf + len - DIGEST_LEN, DIGEST_LEN);
	cx_wipe(digest, sizeof(digest));
	if(!ok){
		snprintf(ld->err, ld->errcap, "checksum mismatch: the file is damaged or truncated");
		return -1;
	}
	r->p = buf;
	r->len = len - DIGEST_LEN;
	r->off = MAGIC_LEN + 4;
	r->bad = false;
	return 0;
}

/*
 * Reads the wall clock, MAC key (into key) and all-claimers window of the
 * header. False when it is malformed.
 */
static bool read_header(struct load *ld, struct in *r, int64_t wall_ms, unsigned char *key, size_t keylen)
{
	cx_engine *e = ld->e;
	unsigned open;
	uint32_t left, failures;
	int64_t due;
	bool over;

	ld->st.saved_wall_ms = (int64_t)get_u64(r);
	if(ld->st.saved_wall_ms < 0){
		return false; /* before 1970: not a clock cx_engine_save was given */
	}
	ld->elapsed = wall_ms > ld->st.saved_wall_ms ? wall_ms - ld->st.saved_wall_ms : 0;
	ld->st.downtime_ms = ld->elapsed;
	get_bytes(r, key, keylen);
	open = get_u8(r);
	left = get_u32(r);
	failures = get_u32(r);
	if(r->bad || open > 1){
		return false;
	}
	due = due_of(ld, left, WINDOW_MS, &over);
	if(open == 1 && !over && failures > 0){
		e->total_open = true;
		e->total_due = due;
		e->total_failures = failures;
	}
	return true;
}

int cx_engine_load(cx_engine *e, int64_t now_ms, int64_t wall_ms, const void *buf, size_t len,
		cx_engine_loaded *out, char *err, size_t errcap)
{
	unsigned char key[sizeof(e->mkey)];
	struct load ld;
	struct in r;
	uint64_t records = 0;
	int rc = -1;

	memset(&ld, 0, sizeof(ld));
	ld.e = e;
	ld.now_ms = now_ms;
	ld.err = err;
	ld.errcap = errcap;
	ld.held_cap = e->lim.max_offers;
	if(e->offers.count + e->exchanges.count + e->limiters.count + e->addr_limiters.count + e->recents.count
			+ e->nheld > 0 || e->total_open){
		snprintf(err, errcap, "the engine is not empty");
		return -1;
	}
	if(open_records(&ld, buf, len, &r) != 0){
		return -1;
	}
	if(!read_header(&ld, &r, wall_ms, key, sizeof(key))){
		fail(&ld, MAGIC_LEN + 4, "invalid header");
		goto cleanup;
	}
	for(;;){
		size_t at = r.off;
		unsigned tag = get_u8(&r);
		int step;

		if(r.bad){
			fail(&ld, at, "records end without an end record");
			goto cleanup;
		}
		switch(tag){
		case TAG_OFFER: step = load_offer(&ld, &r, at); break;
		case TAG_EXCHANGE: step = load_exchange(&ld, &r, at); break;
		case TAG_LIMITER: step = load_limiter(&ld, &r, at, false); break;
		case TAG_ADDR_LIMITER: step = load_limiter(&ld, &r, at, true); break;
		case TAG_RECENT: step = load_recent(&ld, &r, at); break;
		case TAG_NOTICE: step = load_notice(&ld, &r, at); break;
		case TAG_END:
			if(get_u64(&r) != records || r.bad){
				fail(&ld, at, "end record: wrong number of records");
				goto cleanup;
			}
			if(r.off != r.len){
				fail(&ld, r.off, "bytes after the end record");
				goto cleanup;
			}
			goto done;
		default:
			fail(&ld, at, "unknown record");
			goto cleanup;
		}
		if(step != 0){
			goto cleanup;
		}
		records++;
	}

done:
	memcpy(e->mkey, key, sizeof(key));
	if(out != NULL){
		*out = ld.st;
	}
	rc = 0;

cleanup:
	if(rc != 0){
		drop_all(e);
	}
	cx_wipe(key, sizeof(key));
	return rc;
}
