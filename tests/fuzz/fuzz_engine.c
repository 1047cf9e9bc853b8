/*
 * Fuzz target: the exchange engine (broker-plugin/engine.h) driven by a
 * sequence of requests, the way the plugin's MESSAGE and TICK callbacks drive
 * it (a payload that does not decode is answered through cx_engine_error,
 * as message.c does), and checked against a model of docs/protocol.md and
 * of the limits in engine.h.
 *
 * Input, one record per line ('\n' ends a record):
 *   An optional first line "#" followed by up to 13 limit bytes (read_limits).
 *   Then records of 5 header bytes and a payload:
 *     op      'o' offer, 'c' claim, 'k' card, 't' tick, 'w' withdraw the
 *             sender's offer; 'b' burst: the payload offered by sender and
 *             claimed by target 8..128 times (the address byte says how
 *             often), each claim with a ref of its own so that none is a
 *             copy of the one before, which grows the tables;
 *             'x' ends the input at once, so that the engine is freed full;
 *             any other byte only advances the clock
 *     sender  terminal selector: '0'..'9' pick terminals[0..9], other bytes
 *             are taken mod 10 (7..9 are not valid terminal IDs)
 *     target  terminal selector: claim owner, card peer; for a tick the
 *             budget ('0'..'9' from tick_budgets)
 *     time    clock advance before the record: '0'..'9' from clock_steps,
 *             any other byte b means b seconds
 *     address the claimer's source address, an index into addresses[]
 *     payload the rest of the line, decoded as the plugin decodes it; in a
 *             card payload "$0".."$9" stand for the exchange ID of a recent
 *             match (a ring of the last 10), so that cards reach live
 *             exchanges although their IDs are random
 *
 * Invariants, besides ASan/UBSan/LeakSanitizer:
 *   - no reply goes to an invalid or unknown terminal; a request from an
 *     invalid sender gets no reply at all;
 *   - every reply encodes, and decodes back to the same type and fields;
 *   - each request gets exactly one answer (offer, match pair, card + sent,
 *     or one error; a public key relayed gets none), or its error is
 *     dropped, and only when the sender's error budget for this second (or
 *     the ceiling on budgets) is spent;
 *   - the answer is the one the model expects: a match only with the live
 *     offer's key and only for a claim the fair rate limits let through
 *     (engine.h, above cx_limits: the claimer's window at per_min; with
 *     failures of its own, its address's or the all-claimers window at its
 *     limit; the all-claimers window at twice its limit), rate-limited with
 *     the exact retry_after, the owner's match carrying the claim's commit;
 *     attempts and revocations counted down, the owner told only after the
 *     claimer's no-match (notices are not deferred here); each capacity
 *     refusal only at its ceiling;
 *   - a copy of a claimer's last evaluated claim (same ref, owner and key,
 *     within 60 s) is answered as that claim was, "match" again to the
 *     claimer alone while its exchange lives, else no-match, neither
 *     evaluated nor counted; the model knows which claims the engine holds
 *     (their table shares max_limiters, best effort) and, where a reclaim
 *     leaves it open, settles it from the engine's count;
 *   - cards only between the two parties of a live exchange, once each way
 *     and unchanged; in a sealed exchange one public key each, the
 *     offerer's first, sealed cards only after both, plaintext only from a
 *     party that sent no key; withdrawals revoke exactly a live offer;
 *   - no failure window ever holds more failures than the rule allows;
 *   - expiry notices come once, only for what is due, both parties of an
 *     exchange in a row;
 *   - the engine's statistics and counters agree with the model (so they
 *     never wrap below zero), no table exceeds its ceiling, every entry
 *     has one timer (remembered claims included);
 *   - a tick with spare budget leaves nothing due, and after the last
 *     record a final tick far in the future empties the engine.
 *
 * With CARDEX_FUZZ_TRACE set in the environment, every record and reply is
 * printed to stderr, to follow a crashing input step by step.
 */
#include "fuzz.h"

#include "engine.h"

#define NTERM 10
#define NVALID 7    /* terminals[0..6] are valid terminal IDs */
#define MAX_X 1024  /* exchanges the model can track at once */
#define SLOTS 10    /* recent exchange IDs reachable as "$0".."$9" */
#define WINDOW_MS 60000

static const char *const terminals[NTERM] = {
	"A",
	"B",
	"C",
	"ada",
	"grace.hopper",
	"x_1-Z",
	"T123456789012345678901234567890123456789012345678901234567890123", /* 64 */
	"", /* the three below are not terminal IDs */
	"not/valid",
	"T1234567890123456789012345678901234567890123456789012345678901234", /* 65 */
};

/* Source addresses and the key cx_address_key must give each. */
#define NADDR 8
static const struct {
	const char *address;
	int key; /* index into address_keys */
} addresses[NADDR] = {
	{NULL, 0},
	{"", 0},
	{"192.0.2.7", 1},
	{"::ffff:192.0.2.7", 1},
	{"2001:db8:1:2::1", 2},
	{"2001:db8:1:2:aaaa::2", 2},
	{"2001:db8:1:3::1", 3},
	{"198.51.100.1", 4},
};

#define NKEYS 5
static const char *const address_keys[NKEYS] = {
	"", "192.0.2.7", "2001:db8:1:2::/64", "2001:db8:1:3::/64", "198.51.100.1",
};

static const int64_t clock_steps[10] = {
	0, 1, 999, 1000, 5000, 59999, 60000, 120000, 300000, 601000,
};

static const size_t tick_budgets[10] = {
	0, 1, 2, 3, 5, 8, 16, 1000, 100000, SIZE_MAX,
};

typedef struct {
	bool live;
	char key[CX_KEY_DIGITS_MAX + 1];
	char ref[CX_REF_MAX + 1];
	int64_t due;
	uint32_t attempts_left;
} m_offer;

typedef struct {
	bool used;
	char xid[CX_XID_HEX + 1];
	int a; /* the offer's owner */
	int b; /* the claimer */
	int64_t due;
	bool sent_a;
	bool sent_b;
	bool sealed;    /* its claim carried a commit */
	bool pk_a;      /* public keys relayed (sealed exchanges) */
	bool pk_b;
	bool expired_a; /* the first of the two expiry notices went out */
} m_exchange;

/*
 * A claimer's last evaluated claim, which the engine remembers best effort
 * (the table shares max_limiters): held for certain, certainly not, or
 * either (a note at the ceiling, or an entry past its time that a reclaim
 * may have dropped). Whenever the engine's count allows only one answer,
 * the model takes it (resolve_recents).
 */
typedef enum {
	R_ABSENT,
	R_PRESENT,
	R_MAYBE
} recent_state;

typedef struct {
	recent_state state;
	int64_t due;
	char ref[CX_REF_MAX + 1];
	int owner;
	char key[CX_KEY_DIGITS_MAX + 1];
	bool matched;
	char xid[CX_XID_HEX + 1]; /* matched: the exchange it opened */
} m_recent;

/* Whether the claim in progress is a copy of its claimer's last claim. */
typedef enum {
	COPY_NO,
	COPY_YES,
	COPY_MAYBE /* the engine may or may not still hold that claim */
} copy_kind;

/* A failed-claims window; open once it was ever opened, live while not due. */
typedef struct {
	bool open;
	int64_t due;
	uint32_t failures;
} m_window;

typedef enum {
	OP_OFFER,
	OP_CLAIM,
	OP_CARD,
	OP_ERROR, /* a payload the adapter could not decode */
	OP_WITHDRAW,
	OP_TICK
} op_kind;

typedef struct {
	cx_limits lim;
	int64_t now;
	m_offer offers[NTERM];
	size_t noffers;
	m_exchange xs[MAX_X];
	size_t nxs;
	size_t xs_hi;            /* xs[xs_hi..] were never used */
	m_window claimers[NTERM];
	m_window addrs[NKEYS];
	m_window total;
	int64_t err_second;      /* the clock second errs counts */
	uint32_t errs[NTERM];    /* error replies taken from each terminal's budget */
	char slots[SLOTS][CX_XID_HEX + 1];
	size_t nmatches;
	m_recent recents[NTERM];
	uint64_t completed;      /* exchanges closed with both cards passed */
	uint64_t cards;          /* cards relayed */
	uint64_t card_bytes;     /* their jCard bytes */
	uint64_t withdrawn;

	/* The call in progress. */
	op_kind op;
	int sender;
	int target;
	int addr;                /* address key index */
	const char *topic;
	const cx_offer_req *offer;
	const cx_claim_req *claim;
	const cx_card_req *card;
	cx_code refused;         /* OP_ERROR: the decoder's code */
	const char *refused_ref;
	const char *refused_xid;
	cx_engine_stats before;
	size_t emits;            /* replies of any kind */
	size_t answers;          /* replies answering the request itself */
	cx_reply_type answer;
	cx_code answer_code;
	uint32_t answer_retry;
	bool replaced;           /* "revoked"/"replaced" went to the sender */
	bool touched;            /* "attempt" or "revoked"/"attempts" went to the owner */
	size_t answers_at_touch; /* answers emitted before that notice */
	copy_kind copy;
	bool repeat_match;       /* a copy must be answered "match" again */
	bool repeat_answered;    /* it was */
	m_exchange *repeat_x;    /* the exchange the remembered claim opened, if the model holds it */
	cx_code card_verdict;    /* OP_CARD: CX_CODE_NONE when the card (or key) passes */
	bool pk_delivered;
	bool withdrew;           /* "revoked"/"withdrawn" went to the sender */
	bool withdraw_ret;       /* what cx_engine_withdraw returned */
	int match_stage;         /* 1 after the owner's "match", 2 after the claimer's */
	char match_xid[CX_XID_HEX + 1];
	bool card_delivered;
	size_t offers_expired;
	size_t exchanges_expired;
} model;

static model M;
static bool trace;

static bool str_eq(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static int term_index(const char *id)
{
	for(int i = 0; i < NTERM; i++) {
		if(strcmp(terminals[i], id) == 0) {
			return i;
		}
	}
	return -1;
}

static m_exchange *find_x(model *m, const char *xid)
{
	for(size_t i = 0; i < m->xs_hi; i++) {
		if(m->xs[i].used && str_eq(m->xs[i].xid, xid)) {
			return &m->xs[i];
		}
	}
	return NULL;
}

/* ---- rate limits ---- */

static bool window_live(const model *m, const m_window *w)
{
	return w->open && w->due > m->now;
}

/* Whole seconds until due, rounded up; 0 when due has passed. */
static uint32_t seconds_until(const model *m, int64_t due)
{
	return due > m->now ? (uint32_t)((due - m->now + 999) / 1000) : 0;
}

/* Seconds until w ends when it is live and holds at least max failures, else 0. */
static uint32_t window_wait(const model *m, const m_window *w, uint64_t max)
{
	if(!window_live(m, w) || w->failures < max) {
		return 0;
	}
	return seconds_until(m, w->due);
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/*
 * The retry_after of the claim in progress, 0 when it is evaluated (the
 * rule above cx_limits): its terminal's window at per_min waits for that
 * window; the all-claimers window at twice per_min_total waits for that one;
 * a terminal with failures in its live window waits while its address's or
 * the all-claimers window is at its limit, until the first of its own window
 * and the longest of those ends; a terminal without is evaluated.
 */
static uint32_t claim_wait(const model *m)
{
	const m_window *own = &m->claimers[m->sender];
	uint32_t wait = window_wait(m, own, m->lim.claim_failures_per_min);
	uint32_t shared = 0;

	if(wait > 0) {
		return wait;
	}
	wait = window_wait(m, &m->total, 2 * (uint64_t)m->lim.claim_failures_per_min_total);
	if(wait > 0 || !window_live(m, own)) {
		return wait;
	}
	if(m->addr != 0) {
		shared = window_wait(m, &m->addrs[m->addr], m->lim.claim_failures_per_min_per_address);
	}
	shared = max_u32(shared, window_wait(m, &m->total, m->lim.claim_failures_per_min_total));
	return shared == 0 ? 0 : min_u32(seconds_until(m, own->due), shared);
}

static bool from_ok(const model *m)
{
	const char *from = m->claim->from;
	return from[0] == '\0' || strcmp(from, terminals[m->sender]) == 0;
}

/* Under require_sealed a claim must carry a commit. */
static bool commit_ok(const model *m)
{
	return !m->lim.require_sealed || m->claim->commit[0] != '\0';
}

/* The claim passes the rate limits and the from, commit and self-claim checks. */
static bool claim_reaches_lookup(const model *m)
{
	return claim_wait(m) == 0 && from_ok(m) && commit_ok(m) && m->sender != m->target;
}

/* The owner's offer is live and the claim's key is its key. */
static bool claim_key_matches(const model *m)
{
	const m_offer *o = &m->offers[m->target];
	return o->live && o->due > m->now && strcmp(o->key, m->claim->key) == 0;
}

/* Windows the claim's failure would have to open. */
static size_t windows_needed(const model *m)
{
	size_t n = window_live(m, &m->claimers[m->sender]) ? 0 : 1;

	if(m->addr != 0 && !window_live(m, &m->addrs[m->addr])) {
		n++;
	}
	return n;
}

static void window_count(model *m, m_window *w)
{
	if(window_live(m, w)) {
		w->failures++;
	} else {
		w->open = true;
		w->due = m->now + WINDOW_MS;
		w->failures = 1;
	}
}

/* Counts an evaluated failure; returns whether the all-claimers window reached its limit. */
static bool count_failure(model *m)
{
	m_window *own = &m->claimers[m->sender];
	const m_window *at = &m->addrs[m->addr];

	/*
	 * What an evaluated claim found: its terminal's window below per_min, the
	 * total below twice its limit, and, when the terminal already had
	 * failures, its address's window and the total below theirs. So a
	 * terminal's window never passes per_min, the total never passes twice
	 * per_min_total, and each terminal adds at most one failure per window
	 * beyond a shared limit.
	 */
	FUZZ_CHECK(!window_live(m, own) || own->failures < m->lim.claim_failures_per_min);
	FUZZ_CHECK(!window_live(m, &m->total)
			|| m->total.failures < 2 * (uint64_t)m->lim.claim_failures_per_min_total);
	if(window_live(m, own)) {
		FUZZ_CHECK(m->addr == 0 || !window_live(m, at)
				|| at->failures < m->lim.claim_failures_per_min_per_address);
		FUZZ_CHECK(!window_live(m, &m->total)
				|| m->total.failures < m->lim.claim_failures_per_min_total);
	}
	window_count(m, own);
	if(m->addr != 0) {
		window_count(m, &m->addrs[m->addr]);
	}
	window_count(m, &m->total);
	return m->total.failures == m->lim.claim_failures_per_min_total;
}

/* ---- remembered claims ---- */

/* Same owner for the engine's MAC, which keys at most CX_ID_MAX bytes of the owner ID. */
static bool mac_owner_eq(int a, int b)
{
	return strncmp(terminals[a], terminals[b], CX_ID_MAX) == 0;
}

/* The claim in progress against its claimer's remembered claim (the engine's first check). */
static copy_kind claim_copy(const model *m)
{
	const m_recent *r = &m->recents[m->sender];

	if(m->sender >= NVALID || r->state == R_ABSENT || r->due <= m->now
			|| strcmp(r->ref, m->claim->ref) != 0 || !mac_owner_eq(r->owner, m->target)
			|| strcmp(r->key, m->claim->key) != 0) {
		return COPY_NO;
	}
	return r->state == R_PRESENT ? COPY_YES : COPY_MAYBE;
}

/* Held for certain: present and not yet due (only due entries are ever dropped). */
static bool recent_held(const model *m, const m_recent *r)
{
	return r->state == R_PRESENT && r->due > m->now;
}

/*
 * The engine remembers the claim just evaluated, replacing its claimer's
 * entry, or, without one, in a new entry when fewer than max_limiters are
 * held after reclaiming due ones.
 */
static void recent_note(model *m, bool matched)
{
	m_recent *r = &m->recents[m->sender];
	size_t others_upper = 0;
	size_t others_held = 0;

	for(int i = 0; i < NVALID; i++) {
		if(i != m->sender) {
			others_upper += m->recents[i].state != R_ABSENT;
			others_held += recent_held(m, &m->recents[i]);
		}
	}
	if(recent_held(m, r) || others_upper < m->lim.max_limiters) {
		r->state = R_PRESENT;
	} else if(r->state == R_ABSENT && others_held >= m->lim.max_limiters) {
		r->state = R_ABSENT;
	} else {
		r->state = R_MAYBE;
	}
	r->due = m->now + WINDOW_MS;
	memcpy(r->ref, m->claim->ref, sizeof(r->ref));
	r->owner = m->target;
	memcpy(r->key, m->claim->key, sizeof(r->key));
	r->matched = matched;
	memcpy(r->xid, matched ? m->match_xid : "", matched ? sizeof(r->xid) : 1);
}

/*
 * Checks the engine's count of remembered claims against the model and
 * settles what it leaves only one way: none beyond those held for certain,
 * or every one that may be held.
 */
static void resolve_recents(model *m, size_t count)
{
	size_t lo = 0;
	size_t hi = 0;

	for(int i = 0; i < NTERM; i++) {
		FUZZ_CHECK(i < NVALID || m->recents[i].state == R_ABSENT);
		lo += recent_held(m, &m->recents[i]);
		hi += m->recents[i].state != R_ABSENT;
	}
	FUZZ_CHECK(count >= lo && count <= hi);
	FUZZ_CHECK(count <= m->lim.max_limiters);
	for(int i = 0; i < NVALID; i++) {
		m_recent *r = &m->recents[i];
		if(count == lo && !recent_held(m, r)) {
			r->state = R_ABSENT;
		} else if(count == hi && r->state == R_MAYBE) {
			r->state = R_PRESENT;
		}
	}
}

/* ---- offers ---- */

static uint32_t offer_ttl(const model *m)
{
	return m->offer->ttl != 0 ? m->offer->ttl : m->lim.ttl_default_s;
}

static bool offer_acceptable(const model *m)
{
	return strlen(m->offer->key) >= m->lim.key_digits_min && offer_ttl(m) <= m->lim.ttl_max_s;
}

/* ---- error budget ---- */

static int64_t second_of(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

static size_t error_windows(const model *m)
{
	size_t n = 0;

	for(int i = 0; i < NTERM; i++) {
		n += m->errs[i] > 0;
	}
	return n;
}

static void errors_roll(model *m)
{
	int64_t sec = second_of(m->now);

	if(sec != m->err_second) {
		memset(m->errs, 0, sizeof(m->errs));
		m->err_second = sec;
	}
}

/* An error reply to the sender was attempted: emitted within its budget, or dropped. */
static void error_attempt(model *m, bool emitted)
{
	uint32_t *c = &m->errs[m->sender];

	errors_roll(m);
	if(*c > 0) {
		FUZZ_CHECK(emitted == (*c < m->lim.error_replies_per_sec));
		*c += emitted;
		return;
	}
	FUZZ_CHECK(emitted == (error_windows(m) < m->lim.max_limiters));
	*c = emitted;
}

/* ---- every reply ---- */

static void check_encodes(const cx_reply *r)
{
	cx_reply_msg d;
	const char *why = NULL;
	size_t need = cx_reply_encode(r, NULL, 0);

	FUZZ_CHECK(need > 0);
	char *buf = malloc(need + 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(cx_reply_encode(r, buf, need + 1) == need);
	if(cx_reply_decode(buf, need, &d, &why) != CX_CODE_NONE) {
		fprintf(stderr, "engine reply refused by cx_reply_decode: %s\n", why);
		FUZZ_CHECK(!"engine replies decode");
	}
	FUZZ_CHECK(d.type == r->type);
	FUZZ_CHECK(r->type == CX_REPLY_EXPIRED && !r->offer ? d.ref[0] == '\0' : str_eq(d.ref, r->ref));
	FUZZ_CHECK(r->type == CX_REPLY_EXPIRED && r->offer ? d.xid[0] == '\0' : str_eq(d.xid, r->xid));
	if(r->type == CX_REPLY_ERROR) {
		FUZZ_CHECK(d.code == r->code);
		FUZZ_CHECK(str_eq(d.topic, r->topic));
	}
	if(r->type == CX_REPLY_MATCH || r->type == CX_REPLY_CARD || r->type == CX_REPLY_SENT
			|| r->type == CX_REPLY_PK) {
		FUZZ_CHECK(str_eq(d.peer, r->peer));
	}
	if(r->type == CX_REPLY_MATCH) {
		FUZZ_CHECK(str_eq(d.commit, r->commit));
	}
	if(r->type == CX_REPLY_PK) {
		FUZZ_CHECK(str_eq(d.pk, r->pk));
	}
	cx_reply_msg_clear(&d);
	free(buf);
}

static void begin_answer(model *m, int who, const cx_reply *r)
{
	FUZZ_CHECK(m->op != OP_TICK);
	FUZZ_CHECK(who == m->sender);
	FUZZ_CHECK(m->answers == 0);
	m->answers++;
	m->answer = r->type;
	m->answer_code = r->code;
	m->answer_retry = r->retry_after;
}

/* ---- notices ---- */

static void on_expired(model *m, int who, const cx_reply *r)
{
	if(r->offer) {
		m_offer *o = &m->offers[who];
		FUZZ_CHECK(o->live && o->due <= m->now);
		FUZZ_CHECK(str_eq(r->ref, o->ref));
		o->live = false;
		m->noffers--;
		m->offers_expired++;
		return;
	}
	m_exchange *x = find_x(m, r->xid);
	FUZZ_CHECK(x != NULL && x->due <= m->now);
	if(!x->expired_a) {
		FUZZ_CHECK(who == x->a);
		x->expired_a = true;
		return;
	}
	FUZZ_CHECK(who == x->b);
	x->used = false;
	m->nxs--;
	m->exchanges_expired++;
}

static void on_revoked(model *m, int who, const cx_reply *r)
{
	m_offer *o = &m->offers[who];

	FUZZ_CHECK(o->live && o->due > m->now && str_eq(r->ref, o->ref));
	if(str_eq(r->reason, "replaced")) {
		FUZZ_CHECK(m->answers == 0);
		FUZZ_CHECK(m->op == OP_OFFER && who == m->sender && !m->replaced);
		m->replaced = true;
		return;
	}
	if(str_eq(r->reason, "withdrawn")) {
		FUZZ_CHECK(m->op == OP_WITHDRAW && who == m->sender && !m->withdrew);
		m->withdrew = true;
		o->live = false;
		m->noffers--;
		m->withdrawn++;
		return;
	}
	FUZZ_CHECK(str_eq(r->reason, "attempts"));
	FUZZ_CHECK(m->op == OP_CLAIM && who == m->target && !m->touched && m->copy != COPY_YES);
	/* After the claimer's no-match (or its drop by the error budget), never before it. */
	FUZZ_CHECK(m->answers == 0 || (m->answer == CX_REPLY_ERROR && m->answer_code == CX_CODE_NO_MATCH));
	FUZZ_CHECK(claim_reaches_lookup(m) && !claim_key_matches(m));
	FUZZ_CHECK(o->attempts_left == 1);
	o->live = false;
	m->noffers--;
	m->touched = true;
	m->answers_at_touch = m->answers;
}

static void on_attempt(model *m, int who, const cx_reply *r)
{
	m_offer *o = &m->offers[who];

	FUZZ_CHECK(m->op == OP_CLAIM && who == m->target && !m->touched && m->copy != COPY_YES);
	/* After the claimer's no-match (or its drop by the error budget), never before it. */
	FUZZ_CHECK(m->answers == 0 || (m->answer == CX_REPLY_ERROR && m->answer_code == CX_CODE_NO_MATCH));
	m->answers_at_touch = m->answers;
	FUZZ_CHECK(claim_reaches_lookup(m) && !claim_key_matches(m));
	FUZZ_CHECK(o->live && o->due > m->now && str_eq(r->ref, o->ref));
	FUZZ_CHECK(o->attempts_left > 1 && r->attempts_left == o->attempts_left - 1);
	o->attempts_left--;
	m->touched = true;
}

/* ---- answers ---- */

static void on_offer(model *m, int who, const cx_reply *r)
{
	m_offer *o = &m->offers[who];

	FUZZ_CHECK(m->op == OP_OFFER);
	begin_answer(m, who, r);
	FUZZ_CHECK(offer_acceptable(m));
	FUZZ_CHECK(r->expires_in == offer_ttl(m));
	FUZZ_CHECK(str_eq(r->ref, m->offer->ref));
	if(m->replaced) {
		FUZZ_CHECK(o->live);
	} else {
		/* A live offer must have been replaced; a due one must have expired first. */
		FUZZ_CHECK(!o->live && m->noffers < m->lim.max_offers);
		m->noffers++;
	}
	o->live = true;
	memcpy(o->key, m->offer->key, sizeof(o->key));
	memcpy(o->ref, m->offer->ref, sizeof(o->ref));
	o->due = m->now + (int64_t)offer_ttl(m) * 1000;
	o->attempts_left = m->lim.attempts;
}

static void add_exchange(model *m)
{
	m_exchange *x = NULL;

	for(size_t i = 0; i < MAX_X && x == NULL; i++) {
		if(!m->xs[i].used) {
			x = &m->xs[i];
			m->xs_hi = i + 1 > m->xs_hi ? i + 1 : m->xs_hi;
		}
	}
	FUZZ_CHECK(x != NULL); /* the record loop stops before the model fills up */
	memset(x, 0, sizeof(*x));
	x->used = true;
	memcpy(x->xid, m->match_xid, sizeof(x->xid));
	x->a = m->target;
	x->b = m->sender;
	x->due = m->now + (int64_t)m->lim.exchange_ttl_s * 1000;
	x->sealed = m->claim->commit[0] != '\0';
	m->nxs++;
	memcpy(m->slots[m->nmatches % SLOTS], m->match_xid, sizeof(m->match_xid));
	m->nmatches++;
}

static void on_match(model *m, int who, const cx_reply *r)
{
	FUZZ_CHECK(m->op == OP_CLAIM);
	if(m->match_stage == 0 && m->copy != COPY_NO && who == m->sender) {
		/* A copy of a claim that matched: "match" again, to the claimer alone. */
		const m_recent *rc = &m->recents[m->sender];
		begin_answer(m, who, r);
		FUZZ_CHECK(m->repeat_match && !m->repeat_answered && !m->touched);
		FUZZ_CHECK(m->repeat_x != NULL && m->repeat_x->used && m->repeat_x->due > m->now);
		FUZZ_CHECK(str_eq(r->xid, rc->xid));
		FUZZ_CHECK(str_eq(r->peer, terminals[m->repeat_x->a]));
		FUZZ_CHECK(str_eq(r->ref, m->claim->ref));
		FUZZ_CHECK(str_eq(r->commit, NULL));
		FUZZ_CHECK(r->expires_in == seconds_until(m, m->repeat_x->due));
		m->repeat_answered = true;
		return;
	}
	FUZZ_CHECK(r->expires_in == m->lim.exchange_ttl_s);
	if(m->match_stage == 0) {
		FUZZ_CHECK(who == m->target && m->answers == 0 && !m->touched && m->copy != COPY_YES);
		FUZZ_CHECK(str_eq(r->commit, m->claim->commit));
		FUZZ_CHECK(claim_reaches_lookup(m) && claim_key_matches(m));
		FUZZ_CHECK(m->nxs < m->lim.max_exchanges);
		FUZZ_CHECK(str_eq(r->peer, terminals[m->sender]));
		FUZZ_CHECK(str_eq(r->ref, m->offers[m->target].ref));
		FUZZ_CHECK(r->xid != NULL && cx_xid_valid(r->xid, strlen(r->xid)));
		FUZZ_CHECK(find_x(m, r->xid) == NULL);
		memcpy(m->match_xid, r->xid, sizeof(m->match_xid));
		m->match_stage = 1;
		return;
	}
	FUZZ_CHECK(m->match_stage == 1);
	begin_answer(m, who, r);
	FUZZ_CHECK(str_eq(r->peer, terminals[m->target]));
	FUZZ_CHECK(str_eq(r->ref, m->claim->ref));
	FUZZ_CHECK(str_eq(r->xid, m->match_xid));
	FUZZ_CHECK(str_eq(r->commit, NULL));
	m->match_stage = 2;
	add_exchange(m);
	m->offers[m->target].live = false;
	m->noffers--;
}

/* The card's exchange is live and sender and target are its parties, the right way round. */
static m_exchange *card_exchange(model *m)
{
	m_exchange *x = find_x(m, m->card->xid);

	if(x == NULL || x->due <= m->now) {
		return NULL;
	}
	if(!((x->a == m->sender && x->b == m->target) || (x->b == m->sender && x->a == m->target))) {
		return NULL;
	}
	return x;
}

static bool *sent_flag(m_exchange *x, int who)
{
	return who == x->a ? &x->sent_a : &x->sent_b;
}

static bool *pk_flag(m_exchange *x, int who)
{
	return who == x->a ? &x->pk_a : &x->pk_b;
}

/*
 * The engine's verdict on the card request in progress, taken before the
 * call (an exchange past its time expires on touch): CX_CODE_NONE when it
 * passes. In a sealed exchange each party sends one key, the offerer's
 * first, and a sealed card only after both; a plaintext card only from a
 * party that sent no key.
 */
static cx_code card_verdict(model *m)
{
	m_exchange *x = find_x(m, m->card->xid);

	if(x == NULL || x->due <= m->now) {
		return CX_CODE_UNKNOWN_EXCHANGE;
	}
	if(card_exchange(m) == NULL) {
		return CX_CODE_NOT_PEER;
	}
	if(*sent_flag(x, m->sender)) {
		return CX_CODE_ALREADY_SENT;
	}
	switch(m->card->kind) {
	case CX_CARD_PK:
		if(!x->sealed) {
			return CX_CODE_BAD_ORDER;
		}
		if(*pk_flag(x, m->sender)) {
			return CX_CODE_ALREADY_SENT;
		}
		return m->sender == x->b && !x->pk_a ? CX_CODE_BAD_ORDER : CX_CODE_NONE;
	case CX_CARD_SEALED:
		return x->pk_a && x->pk_b ? CX_CODE_NONE : CX_CODE_BAD_ORDER;
	case CX_CARD_PLAIN:
	default:
		if(m->lim.require_sealed) {
			return CX_CODE_SEALED_REQUIRED;
		}
		return *pk_flag(x, m->sender) ? CX_CODE_BAD_ORDER : CX_CODE_NONE;
	}
}

static void on_card(model *m, int who, const cx_reply *r)
{
	FUZZ_CHECK(m->op == OP_CARD && who == m->target && m->answers == 0 && !m->card_delivered);
	FUZZ_CHECK(m->card_verdict == CX_CODE_NONE && m->card->kind != CX_CARD_PK);
	m_exchange *x = card_exchange(m);
	FUZZ_CHECK(x != NULL && !*sent_flag(x, m->sender));
	FUZZ_CHECK(str_eq(r->peer, terminals[m->sender]));
	FUZZ_CHECK(str_eq(r->xid, m->card->xid));
	if(m->card->kind == CX_CARD_SEALED) {
		FUZZ_CHECK(r->card == NULL && r->card_len == 0);
		FUZZ_CHECK(str_eq(r->n, m->card->n));
		FUZZ_CHECK(r->ct != NULL && r->ct_len == m->card->ct_len);
		FUZZ_CHECK(memcmp(r->ct, m->card->ct, r->ct_len) == 0);
	} else {
		FUZZ_CHECK(r->ct == NULL);
		FUZZ_CHECK(r->card_len == m->card->card_len);
		FUZZ_CHECK(memcmp(r->card, m->card->card, r->card_len) == 0);
		m->card_bytes += r->card_len;
	}
	m->cards++;
	m->card_delivered = true;
}

/* A public key relayed to the peer; the sender gets no reply. */
static void on_pk(model *m, int who, const cx_reply *r)
{
	FUZZ_CHECK(m->op == OP_CARD && who == m->target && m->emits == 1);
	FUZZ_CHECK(m->card_verdict == CX_CODE_NONE && m->card->kind == CX_CARD_PK);
	m_exchange *x = card_exchange(m);
	FUZZ_CHECK(x != NULL && x->sealed && !*pk_flag(x, m->sender));
	FUZZ_CHECK(str_eq(r->peer, terminals[m->sender]));
	FUZZ_CHECK(str_eq(r->xid, m->card->xid));
	FUZZ_CHECK(str_eq(r->pk, m->card->pk));
	*pk_flag(x, m->sender) = true;
	m->pk_delivered = true;
}

static void on_sent(model *m, int who, const cx_reply *r)
{
	FUZZ_CHECK(m->op == OP_CARD && m->card_delivered);
	begin_answer(m, who, r);
	m_exchange *x = card_exchange(m);
	FUZZ_CHECK(x != NULL && !*sent_flag(x, m->sender));
	FUZZ_CHECK(str_eq(r->peer, terminals[m->target]));
	FUZZ_CHECK(str_eq(r->xid, m->card->xid));
	*sent_flag(x, m->sender) = true;
	if(x->sent_a && x->sent_b) {
		x->used = false;
		m->nxs--;
		m->completed++;
	}
}

/* What an error echoes; which code is right is decided when the call returns. */
static void on_error(model *m, int who, const cx_reply *r)
{
	FUZZ_CHECK(m->match_stage == 0 && !m->card_delivered);
	begin_answer(m, who, r);
	FUZZ_CHECK(str_eq(r->topic, m->topic));
	switch(m->op) {
	case OP_OFFER:
		FUZZ_CHECK(str_eq(r->ref, m->offer->ref) && str_eq(r->xid, NULL));
		break;
	case OP_CLAIM:
		FUZZ_CHECK(str_eq(r->ref, m->claim->ref) && str_eq(r->xid, NULL));
		break;
	case OP_CARD:
		FUZZ_CHECK(str_eq(r->ref, NULL) && str_eq(r->xid, m->card->xid));
		break;
	case OP_ERROR:
		FUZZ_CHECK(str_eq(r->ref, m->refused_ref) && str_eq(r->xid, m->refused_xid));
		break;
	case OP_WITHDRAW:
	case OP_TICK:
		FUZZ_CHECK(!"an error from a withdrawal or a tick");
		break;
	}
}

static void on_emit(void *ctx, const char *to, const cx_reply *r)
{
	model *m = ctx;
	int who = to != NULL ? term_index(to) : -1;

	FUZZ_CHECK(who >= 0 && who < NVALID);
	FUZZ_CHECK(r != NULL);
	m->emits++;
	check_encodes(r);
	if(trace) {
		char buf[512];
		size_t n = cx_reply_encode(r, buf, sizeof(buf));
		fprintf(stderr, "    -> %s: %s%s\n", to, buf, n >= sizeof(buf) ? "..." : "");
	}
	switch(r->type) {
	case CX_REPLY_EXPIRED:
		on_expired(m, who, r);
		break;
	case CX_REPLY_REVOKED:
		on_revoked(m, who, r);
		break;
	case CX_REPLY_ATTEMPT:
		on_attempt(m, who, r);
		break;
	case CX_REPLY_OFFER:
		on_offer(m, who, r);
		break;
	case CX_REPLY_MATCH:
		on_match(m, who, r);
		break;
	case CX_REPLY_CARD:
		on_card(m, who, r);
		break;
	case CX_REPLY_SENT:
		on_sent(m, who, r);
		break;
	case CX_REPLY_ERROR:
		on_error(m, who, r);
		break;
	case CX_REPLY_PK:
		on_pk(m, who, r);
		break;
	}
}

/* ---- after each call ---- */

/* Counter increments of the call in progress. */
typedef struct {
	uint64_t evaluated;
	uint64_t failed;
	uint64_t rate_limited;
	uint64_t cap_offers;
	uint64_t cap_exchanges;
	uint64_t cap_limiters;
	uint64_t errors_sent;
	uint64_t errors_dropped;
	uint64_t repeated;
	uint64_t limit_reached;
} deltas;

static deltas counter_deltas(const cx_engine_stats *b, const cx_engine_stats *a)
{
	deltas d = {
		.evaluated = a->claims_evaluated - b->claims_evaluated,
		.failed = a->claims_failed - b->claims_failed,
		.rate_limited = a->claims_rate_limited - b->claims_rate_limited,
		.cap_offers = a->capacity_offers - b->capacity_offers,
		.cap_exchanges = a->capacity_exchanges - b->capacity_exchanges,
		.cap_limiters = a->capacity_limiters - b->capacity_limiters,
		.errors_sent = a->errors_sent - b->errors_sent,
		.errors_dropped = a->errors_dropped - b->errors_dropped,
		.repeated = a->claims_repeated - b->claims_repeated,
		.limit_reached = a->total_limit_reached - b->total_limit_reached,
	};
	return d;
}

static void check_stats(const model *m, const cx_engine_stats *st)
{
	size_t live_claimers = 0, open_claimers = 0, live_addrs = 0, open_addrs = 0;

	FUZZ_CHECK(st->offers == m->noffers);
	FUZZ_CHECK(st->exchanges == m->nxs);
	/* Remembered claims have timers too. */
	FUZZ_CHECK(st->timers == st->offers + st->exchanges + st->limiters + st->address_limiters
			+ st->recent_claims);
	FUZZ_CHECK(st->offers <= m->lim.max_offers);
	FUZZ_CHECK(st->exchanges <= m->lim.max_exchanges);
	FUZZ_CHECK(st->limiters + st->address_limiters <= m->lim.max_limiters);
	FUZZ_CHECK(st->error_windows <= m->lim.max_limiters);
	/* A reclaim inside a request ticks, and a tick drops the windows of a past second. */
	FUZZ_CHECK(st->error_windows == error_windows(m)
			|| (st->error_windows == 0 && m->err_second != second_of(m->now)));
	for(int i = 0; i < NTERM; i++) {
		live_claimers += window_live(m, &m->claimers[i]);
		open_claimers += m->claimers[i].open;
	}
	for(int i = 1; i < NKEYS; i++) {
		live_addrs += window_live(m, &m->addrs[i]);
		open_addrs += m->addrs[i].open;
	}
	FUZZ_CHECK(st->limiters >= live_claimers && st->limiters <= open_claimers);
	FUZZ_CHECK(st->address_limiters >= live_addrs && st->address_limiters <= open_addrs);
	if(window_live(m, &m->total)) {
		FUZZ_CHECK(st->total_failures == m->total.failures);
	}
	FUZZ_CHECK(st->claims_failed <= st->claims_evaluated);
	/* No fault is injected here: an evaluated claim fails, matches, or finds no room. */
	FUZZ_CHECK(st->claims_evaluated == st->claims_failed + st->matches + st->capacity_exchanges);
	FUZZ_CHECK(st->matches == m->nmatches);
	FUZZ_CHECK(st->exchanges_completed == m->completed);
	FUZZ_CHECK(st->cards_relayed == m->cards && st->card_bytes_relayed == m->card_bytes);
	FUZZ_CHECK(st->offers_withdrawn == m->withdrawn);
	for(size_t i = 0; i < m->xs_hi; i++) {
		FUZZ_CHECK(!(m->xs[i].used && m->xs[i].expired_a));
	}
}

static void begin_call(model *m, cx_engine *e, op_kind op, int sender, int target)
{
	m->op = op;
	m->sender = sender;
	m->target = target;
	m->addr = 0;
	m->topic = NULL;
	m->offer = NULL;
	m->claim = NULL;
	m->card = NULL;
	m->refused = CX_CODE_NONE;
	m->refused_ref = NULL;
	m->refused_xid = NULL;
	cx_engine_get_stats(e, &m->before);
	m->emits = 0;
	m->answers = 0;
	m->answer = CX_REPLY_OFFER;
	m->answer_code = CX_CODE_NONE;
	m->answer_retry = 0;
	m->replaced = false;
	m->touched = false;
	m->answers_at_touch = 0;
	m->copy = COPY_NO;
	m->repeat_match = false;
	m->repeat_answered = false;
	m->repeat_x = NULL;
	m->card_verdict = CX_CODE_NONE;
	m->pk_delivered = false;
	m->withdrew = false;
	m->withdraw_ret = false;
	m->match_stage = 0;
	m->match_xid[0] = '\0';
	m->card_delivered = false;
	m->offers_expired = 0;
	m->exchanges_expired = 0;
}

/* The request's answer is error code: sent, or dropped by the error budget. */
static void expect_error(model *m, const deltas *d, cx_code code)
{
	FUZZ_CHECK(d->errors_sent + d->errors_dropped == 1);
	if(d->errors_sent == 1) {
		FUZZ_CHECK(m->answers == 1 && m->answer == CX_REPLY_ERROR && m->answer_code == code);
	} else {
		FUZZ_CHECK(m->answers == 0);
	}
	error_attempt(m, d->errors_sent == 1);
}

static void expect_no_error(const model *m, const deltas *d)
{
	FUZZ_CHECK(d->errors_sent == 0 && d->errors_dropped == 0);
	FUZZ_CHECK(m->answers == 1 && m->answer != CX_REPLY_ERROR);
}

static void end_offer(model *m, const deltas *d)
{
	FUZZ_CHECK(d->evaluated == 0 && d->rate_limited == 0 && d->cap_exchanges == 0
			&& d->cap_limiters == 0);
	if(!offer_acceptable(m)) {
		FUZZ_CHECK(d->cap_offers == 0);
		expect_error(m, d, CX_CODE_BAD_REQUEST);
		return;
	}
	if(m->answers == 1 && m->answer == CX_REPLY_OFFER) {
		FUZZ_CHECK(d->cap_offers == 0);
		expect_no_error(m, d);
		return;
	}
	FUZZ_CHECK(d->cap_offers == 1);
	FUZZ_CHECK(!m->replaced && !m->offers[m->sender].live && m->noffers >= m->lim.max_offers);
	expect_error(m, d, CX_CODE_CAPACITY);
}

/* A copy of the claimer's last claim: answered as it was, neither evaluated nor counted. */
static void end_repeat(model *m, const deltas *d)
{
	FUZZ_CHECK(d->evaluated == 0 && d->failed == 0 && d->rate_limited == 0 && d->cap_exchanges == 0
			&& d->cap_limiters == 0 && d->limit_reached == 0);
	FUZZ_CHECK(!m->touched && m->match_stage == 0);
	m->recents[m->sender].state = R_PRESENT;
	/* An exchange found past its time expired on the touch, both notices sent. */
	FUZZ_CHECK(m->repeat_x == NULL || m->repeat_x->due > m->now || !m->repeat_x->used);
	if(m->repeat_match) {
		FUZZ_CHECK(m->repeat_answered);
		expect_no_error(m, d);
		return;
	}
	FUZZ_CHECK(!m->repeat_answered);
	expect_error(m, d, CX_CODE_NO_MATCH);
}

static void end_claim(model *m, const deltas *d, const cx_engine_stats *after)
{
	const m_offer *o = &m->offers[m->target];
	uint32_t wait;

	FUZZ_CHECK(d->cap_offers == 0);
	FUZZ_CHECK(d->repeated == (m->copy == COPY_YES) || (m->copy == COPY_MAYBE && d->repeated <= 1));
	if(d->repeated == 1) {
		end_repeat(m, d);
		return;
	}
	/* Not a copy: the engine held no claim of this claimer with these fields. */
	if(m->copy == COPY_MAYBE) {
		m->recents[m->sender].state = R_ABSENT;
	}
	FUZZ_CHECK(!m->repeat_answered);
	wait = claim_wait(m);
	FUZZ_CHECK((d->rate_limited == 1) == (wait > 0));
	if(wait > 0) {
		FUZZ_CHECK(d->evaluated == 0 && d->cap_limiters == 0);
		expect_error(m, d, CX_CODE_RATE_LIMITED);
		FUZZ_CHECK(m->answers == 0 || m->answer_retry == wait);
		return;
	}
	if(!from_ok(m) || m->sender == m->target || !commit_ok(m)) {
		FUZZ_CHECK(d->evaluated == 0 && d->cap_limiters == 0);
		expect_error(m, d, !from_ok(m) ? CX_CODE_BAD_REQUEST
				: !commit_ok(m) ? CX_CODE_SEALED_REQUIRED : CX_CODE_SELF_CLAIM);
		return;
	}
	if(d->cap_limiters == 1) {
		/* Refused unevaluated: the failure could not have been counted. */
		FUZZ_CHECK(d->evaluated == 0);
		FUZZ_CHECK(after->limiters + after->address_limiters + windows_needed(m)
				> m->lim.max_limiters);
		expect_error(m, d, CX_CODE_CAPACITY);
		return;
	}
	FUZZ_CHECK(d->evaluated == 1);
	if(m->match_stage == 2) {
		FUZZ_CHECK(d->failed == 0 && d->cap_exchanges == 0 && d->limit_reached == 0);
		expect_no_error(m, d);
		recent_note(m, true);
		return;
	}
	FUZZ_CHECK(m->match_stage == 0);
	if(d->cap_exchanges == 1) {
		/* Not remembered: a copy is evaluated again. */
		FUZZ_CHECK(d->failed == 0 && d->limit_reached == 0);
		FUZZ_CHECK(claim_key_matches(m) && m->nxs >= m->lim.max_exchanges);
		expect_error(m, d, CX_CODE_CAPACITY);
		return;
	}
	FUZZ_CHECK(d->failed == 1);
	FUZZ_CHECK(!claim_key_matches(m));
	/* A live offer with another key must have lost an attempt to this claim. */
	FUZZ_CHECK(!o->live || (o->due > m->now && m->touched));
	/* Nothing went to the claimer after the owner's notice. */
	FUZZ_CHECK(!m->touched || m->answers == m->answers_at_touch);
	FUZZ_CHECK(d->limit_reached == count_failure(m));
	expect_error(m, d, CX_CODE_NO_MATCH);
	recent_note(m, false);
}

static void end_card(model *m, const deltas *d)
{
	FUZZ_CHECK(d->evaluated == 0 && d->rate_limited == 0 && d->cap_offers == 0
			&& d->cap_exchanges == 0 && d->cap_limiters == 0);
	if(m->card_verdict != CX_CODE_NONE) {
		FUZZ_CHECK(!m->card_delivered && !m->pk_delivered);
		expect_error(m, d, m->card_verdict);
		return;
	}
	if(m->card->kind == CX_CARD_PK) {
		FUZZ_CHECK(m->pk_delivered && m->emits == 1 && m->answers == 0);
		FUZZ_CHECK(d->errors_sent == 0 && d->errors_dropped == 0);
		return;
	}
	FUZZ_CHECK(m->card_delivered && m->answer == CX_REPLY_SENT);
	expect_no_error(m, d);
}

/* cx_engine_withdraw returned withdrew: it did exactly when a live offer went. */
static void end_withdraw(model *m, const deltas *d, bool withdrew)
{
	FUZZ_CHECK(withdrew == m->withdrew);
	FUZZ_CHECK(m->answers == 0 && d->errors_sent == 0 && d->errors_dropped == 0);
	FUZZ_CHECK(m->emits == (m->withdrew || m->offers_expired > 0));
	FUZZ_CHECK(!m->offers[m->sender].live);
	FUZZ_CHECK(!(m->withdrew && m->offers_expired > 0));
}

/* A request got the answer the model expects, consistent with what happened on the way. */
static void end_request(model *m, cx_engine *e)
{
	cx_engine_stats after;

	cx_engine_get_stats(e, &after);
	deltas d = counter_deltas(&m->before, &after);
	if(m->sender >= NVALID) {
		FUZZ_CHECK(m->emits == 0);
		FUZZ_CHECK(d.errors_sent == 0 && d.errors_dropped == 0 && d.evaluated == 0 && d.repeated == 0);
		FUZZ_CHECK(!m->withdraw_ret);
		check_stats(m, &after);
		resolve_recents(m, after.recent_claims);
		return;
	}
	FUZZ_CHECK(m->match_stage != 1);
	FUZZ_CHECK(!m->replaced || m->answer == CX_REPLY_OFFER);
	FUZZ_CHECK(!m->touched || m->answers == 0 || m->answer == CX_REPLY_ERROR);
	switch(m->op) {
	case OP_OFFER:
		end_offer(m, &d);
		break;
	case OP_CLAIM:
		end_claim(m, &d, &after);
		break;
	case OP_CARD:
		end_card(m, &d);
		break;
	case OP_ERROR:
		FUZZ_CHECK(m->emits == m->answers);
		expect_error(m, &d, m->refused);
		break;
	case OP_WITHDRAW:
		end_withdraw(m, &d, m->withdraw_ret);
		break;
	case OP_TICK:
		FUZZ_CHECK(!"a tick is not a request");
		break;
	}
	if(m->op != OP_CLAIM) {
		FUZZ_CHECK(d.repeated == 0 && d.limit_reached == 0);
	}
	check_stats(m, &after);
	resolve_recents(m, after.recent_claims);
}

/* Nothing is left that was due at now. */
static void check_nothing_due(model *m, const cx_engine_stats *st)
{
	size_t live_claimers = 0;
	size_t live_addrs = 0;

	for(int i = 0; i < NTERM; i++) {
		FUZZ_CHECK(!m->offers[i].live || m->offers[i].due > m->now);
		live_claimers += window_live(m, &m->claimers[i]);
	}
	for(int i = 1; i < NKEYS; i++) {
		live_addrs += window_live(m, &m->addrs[i]);
	}
	for(size_t i = 0; i < m->xs_hi; i++) {
		FUZZ_CHECK(!m->xs[i].used || m->xs[i].due > m->now);
	}
	FUZZ_CHECK(st->limiters == live_claimers && st->address_limiters == live_addrs);
	for(int i = 0; i < NTERM; i++) {
		if(m->recents[i].due <= m->now) {
			m->recents[i].state = R_ABSENT;
		}
	}
	resolve_recents(m, st->recent_claims);
}

static void run_tick(model *m, cx_engine *e, size_t budget)
{
	cx_engine_stats after;

	begin_call(m, e, OP_TICK, -1, -1);
	size_t n = cx_engine_tick(e, m->now, budget);
	errors_roll(m);
	cx_engine_get_stats(e, &after);
	deltas d = counter_deltas(&m->before, &after);
	FUZZ_CHECK(d.errors_sent == 0 && d.errors_dropped == 0 && d.evaluated == 0);
	FUZZ_CHECK(n <= budget);
	FUZZ_CHECK(d.repeated == 0 && d.limit_reached == 0);
	FUZZ_CHECK(after.limiters <= m->before.limiters);
	FUZZ_CHECK(after.address_limiters <= m->before.address_limiters);
	FUZZ_CHECK(after.recent_claims <= m->before.recent_claims);
	size_t dropped = (m->before.limiters - after.limiters)
		+ (m->before.address_limiters - after.address_limiters)
		+ (m->before.recent_claims - after.recent_claims);
	FUZZ_CHECK(n == m->offers_expired + m->exchanges_expired + dropped);
	FUZZ_CHECK(m->answers == 0);
	check_stats(m, &after);
	resolve_recents(m, after.recent_claims);
	if(n < budget) {
		check_nothing_due(m, &after);
	}
}

/* ---- requests ---- */

/* A payload the adapter could not decode: it answers through cx_engine_error. */
static void run_refused(model *m, cx_engine *e, int sender, int target, const char *topic,
		cx_code code, const char *why, const char *ref, const char *xid)
{
	begin_call(m, e, OP_ERROR, sender, target);
	m->topic = topic;
	m->refused = code;
	m->refused_ref = ref;
	m->refused_xid = xid;
	bool sent = cx_engine_error(e, m->now, terminals[sender], code, topic, why, ref, xid);
	FUZZ_CHECK(sent == (m->answers == 1));
	end_request(m, e);
}

static const char *valid_or_null(const char *s, bool valid)
{
	return valid && s[0] != '\0' ? s : NULL;
}

static void run_offer(model *m, cx_engine *e, int sender, const char *payload, size_t len)
{
	cx_offer_req req;
	const char *why = NULL;
	char topic[128];

	snprintf(topic, sizeof(topic), "keys/%s", terminals[sender]);
	cx_code code = cx_offer_decode(payload, len, &req, &why);
	if(code != CX_CODE_NONE) {
		run_refused(m, e, sender, sender, topic, code, why,
				valid_or_null(req.ref, fuzz_ref_ok(req.ref, sizeof(req.ref))), NULL);
		cx_offer_req_clear(&req);
		return;
	}
	begin_call(m, e, OP_OFFER, sender, sender);
	m->topic = topic;
	m->offer = &req;
	cx_engine_offer(e, m->now, terminals[sender], &req, topic);
	end_request(m, e);
	cx_offer_req_clear(&req);
}

/* ref, when not NULL, replaces the decoded claim's ref. */
static void run_claim(model *m, cx_engine *e, int sender, int target, int address,
		const char *payload, size_t len, const char *ref)
{
	cx_claim_req req;
	const char *why = NULL;
	char topic[128];

	snprintf(topic, sizeof(topic), "claim/%s", terminals[target]);
	cx_code code = cx_claim_decode(payload, len, &req, &why);
	if(code != CX_CODE_NONE) {
		run_refused(m, e, sender, target, topic, code, why,
				valid_or_null(req.ref, fuzz_ref_ok(req.ref, sizeof(req.ref))), NULL);
		cx_claim_req_clear(&req);
		return;
	}
	if(ref != NULL) {
		snprintf(req.ref, sizeof(req.ref), "%s", ref);
	}
	begin_call(m, e, OP_CLAIM, sender, target);
	m->topic = topic;
	m->claim = &req;
	m->addr = addresses[address].key;
	m->copy = claim_copy(m);
	if(m->copy != COPY_NO && m->recents[sender].matched) {
		m->repeat_x = find_x(m, m->recents[sender].xid);
		m->repeat_match = m->repeat_x != NULL && m->repeat_x->due > m->now;
	}
	cx_engine_claim_from(e, m->now, terminals[sender], addresses[address].address,
			terminals[target], &req, topic);
	end_request(m, e);
	cx_claim_req_clear(&req);
}

/* Copies payload with "$0".."$9" replaced by recent exchange IDs. NULL when out of memory. */
static char *substitute_xids(const model *m, const char *payload, size_t len, size_t *outlen)
{
	static const char unknown[] = "ffffffffffffffffffffffffffffffff";
	char *out = malloc(len * CX_XID_HEX / 2 + 1);
	size_t n = 0;

	if(out == NULL) {
		return NULL;
	}
	for(size_t i = 0; i < len; i++) {
		if(payload[i] == '$' && i + 1 < len && payload[i + 1] >= '0' && payload[i + 1] <= '9') {
			size_t slot = (size_t)(payload[i + 1] - '0');
			const char *xid = slot < m->nmatches ? m->slots[slot] : unknown;
			memcpy(out + n, xid, CX_XID_HEX);
			n += CX_XID_HEX;
			i++;
		} else {
			out[n++] = payload[i];
		}
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

static void run_card(model *m, cx_engine *e, int sender, int target, const char *payload,
		size_t len)
{
	cx_card_req req;
	const char *why = NULL;
	char topic[128];
	size_t n = 0;
	char *text = substitute_xids(m, payload, len, &n);

	FUZZ_CHECK(text != NULL);
	snprintf(topic, sizeof(topic), "card/%s", terminals[target]);
	cx_code code = cx_card_decode(text, n, &req, &why);
	if(code != CX_CODE_NONE) {
		run_refused(m, e, sender, target, topic, code, why, NULL,
				valid_or_null(req.xid, fuzz_xid_ok(req.xid, sizeof(req.xid))));
	} else {
		begin_call(m, e, OP_CARD, sender, target);
		m->topic = topic;
		m->card = &req;
		m->card_verdict = card_verdict(m);
		cx_engine_card(e, m->now, terminals[sender], terminals[target], &req, topic);
		end_request(m, e);
	}
	cx_card_req_clear(&req);
	free(text);
}

static void run_withdraw(model *m, cx_engine *e, int sender)
{
	begin_call(m, e, OP_WITHDRAW, sender, sender);
	m->withdraw_ret = cx_engine_withdraw(e, m->now, terminals[sender]);
	end_request(m, e);
}

/* ---- input ---- */

static unsigned selector(uint8_t b)
{
	return b >= '0' && b <= '9' ? (unsigned)(b - '0') : b;
}

/*
 * "#" line: attempts, claim failures per minute, max offers, max exchanges,
 * key digits minimum, ttl max, ttl default, exchange ttl, failures per
 * address, failures in total, max limiters, error replies per second,
 * require_sealed (odd selector: on); each
 * byte folded into a small valid range. Absent bytes keep the defaults.
 */
static void read_limits(cx_limits *lim, const uint8_t *p, size_t n)
{
	cx_limits_default(lim);
	if(n > 0) {
		lim->attempts = 1 + selector(p[0]) % 100;
	}
	if(n > 1) {
		lim->claim_failures_per_min = 1 + selector(p[1]) % 20;
	}
	if(n > 2) {
		lim->max_offers = 1 + selector(p[2]) % 8;
	}
	if(n > 3) {
		lim->max_exchanges = 1 + selector(p[3]) % 8;
	}
	if(n > 4) {
		lim->key_digits_min = CX_KEY_DIGITS_MIN
			+ selector(p[4]) % (CX_KEY_DIGITS_MAX - CX_KEY_DIGITS_MIN + 1);
	}
	if(n > 5) {
		lim->ttl_max_s = CX_TTL_MIN + (selector(p[5]) * 37u) % (CX_TTL_MAX - CX_TTL_MIN + 1);
		lim->ttl_default_s = lim->ttl_max_s < lim->ttl_default_s ? lim->ttl_max_s
			: lim->ttl_default_s;
	}
	if(n > 6) {
		lim->ttl_default_s = CX_TTL_MIN + (selector(p[6]) * 13u) % (lim->ttl_max_s - CX_TTL_MIN + 1);
	}
	if(n > 7) {
		lim->exchange_ttl_s = 10 + (selector(p[7]) * 61u) % 3591;
	}
	if(n > 8) {
		lim->claim_failures_per_min_per_address = 1 + selector(p[8]) % 30;
	}
	if(n > 9) {
		lim->claim_failures_per_min_total = 1 + selector(p[9]) % 40;
	}
	if(n > 10) {
		lim->max_limiters = 2 + selector(p[10]) % 10;
	}
	if(n > 11) {
		lim->error_replies_per_sec = 1 + selector(p[11]) % 10;
	}
	if(n > 12) {
		lim->require_sealed = selector(p[12]) % 2 == 1;
	}
}

static int64_t clock_step(uint8_t b)
{
	return b >= '0' && b <= '9' ? clock_steps[b - '0'] : (int64_t)b * 1000;
}

/* Offer and claim of one payload, repeated: many exchanges between two terminals. */
static void run_burst(model *m, cx_engine *e, int owner, int claimer, unsigned count,
		const char *payload, size_t len)
{
	char ref[16];

	for(unsigned i = 0; i < count && m->nxs < MAX_X - 1; i++) {
		run_offer(m, e, owner, payload, len);
		/* A ref of its own, or each claim would be a copy of the one before. */
		snprintf(ref, sizeof(ref), "burst%u", i);
		run_claim(m, e, claimer, owner, 0, payload, len, ref);
	}
}

static void run_record(model *m, cx_engine *e, const uint8_t *rec, size_t len)
{
	if(len < 5) {
		return;
	}
	int sender = (int)(selector(rec[1]) % NTERM);
	int target = (int)(selector(rec[2]) % NTERM);
	int address = (int)(selector(rec[4]) % NADDR);
	const char *payload = (const char *)rec + 5;
	size_t plen = len - 5;

	m->now += clock_step(rec[3]);
	if(trace) {
		fprintf(stderr, "t=%lld %c sender=%s target=%s address=%s: %.*s\n", (long long)m->now,
				rec[0], terminals[sender], terminals[target],
				addresses[address].address != NULL ? addresses[address].address : "(none)",
				(int)plen, payload);
	}
	switch(rec[0]) {
	case 'o':
		run_offer(m, e, sender, payload, plen);
		break;
	case 'c':
		run_claim(m, e, sender, target, address, payload, plen, NULL);
		break;
	case 'k':
		run_card(m, e, sender, target, payload, plen);
		break;
	case 't':
		run_tick(m, e, tick_budgets[selector(rec[2]) % 10]);
		break;
	case 'w':
		run_withdraw(m, e, sender);
		break;
	case 'b':
		run_burst(m, e, sender, target, 8 * (1 + selector(rec[4]) % 16), payload, plen);
		break;
	default:
		break;
	}
}

/* The address keys the model relies on are the ones the engine uses. */
static void check_address_keys(void)
{
	char key[CX_ADDR_MAX + 1];

	for(int i = 0; i < NADDR; i++) {
		size_t n = cx_address_key(addresses[i].address, key);
		FUZZ_CHECK(n == strlen(key) && strcmp(key, address_keys[addresses[i].key]) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	model *m = &M;
	const uint8_t *p = data;
	const uint8_t *end = data + size;

	memset(m, 0, sizeof(*m));
	trace = getenv("CARDEX_FUZZ_TRACE") != NULL;
	check_address_keys();
	if(p < end && *p == '#') {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl != NULL ? nl : end) - p - 1);
		read_limits(&m->lim, p + 1, n);
		p = nl != NULL ? nl + 1 : end;
	} else {
		cx_limits_default(&m->lim);
	}
	FUZZ_CHECK(cx_limits_check(&m->lim) == NULL);
	cx_engine *e = cx_engine_new(&m->lim, on_emit, m);
	FUZZ_CHECK(e != NULL);

	/* The model tracks at most MAX_X exchanges; a longer input is cut short. */
	while(p < end && m->nxs < MAX_X - 1) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *stop = nl != NULL ? nl : end;
		if(stop - p >= 5 && p[0] == 'x') {
			/* Freed with offers, exchanges and windows held: LeakSanitizer checks the rest. */
			cx_engine_free(e);
			return 0;
		}
		run_record(m, e, p, (size_t)(stop - p));
		p = stop < end ? stop + 1 : end;
	}

	/* Far beyond every lifetime and window: everything expires, each notice once. */
	m->now += 2 * 3600 * 1000;
	run_tick(m, e, SIZE_MAX);
	cx_engine_stats st;
	cx_engine_get_stats(e, &st);
	FUZZ_CHECK(st.offers == 0 && st.exchanges == 0 && st.limiters == 0 && st.timers == 0);
	FUZZ_CHECK(st.address_limiters == 0 && st.error_windows == 0);
	FUZZ_CHECK(m->noffers == 0 && m->nxs == 0);
	cx_engine_free(e);
	return 0;
}
