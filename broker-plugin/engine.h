/*
 * The exchange engine: offers, claims, exchanges, expiry and limits.
 *
 * Pure C with no Mosquitto calls. It takes decoded requests, the identity of
 * the sender and the current time, and hands each reply to publish to an
 * emit callback, synchronously, before the call returns. It is driven by the
 * broker adapter, the unit tests and the benchmark alike.
 *
 * Time is a monotonic clock in milliseconds supplied by the caller. Expiry is
 * checked whenever an offer or exchange is touched, so correctness never
 * depends on ticks; cx_engine_tick() sends expiry notices and reclaims memory.
 *
 * Costs: offer, claim and card are O(1) expected (hash tables); expiry uses a
 * binary min-heap, O(log n) per timer, and a tick does bounded work. The
 * tables grow incrementally (engine_table.h), so no single call pauses to
 * rehash a whole table, however many entries it holds.
 *
 * Every table the engine keeps has a ceiling (max_offers, max_exchanges,
 * max_limiters), so no sequence of requests can make it grow without bound.
 */
#ifndef CX_ENGINE_H
#define CX_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Longest source-address key the engine keeps: an IPv6 address in text is
 * at most 45 characters, "/64" included 48.
 */
#define CX_ADDR_MAX 64

/*
 * Limits on guessing. Instant keys are short (6 digits is about 20 bits), so
 * what makes guessing hopeless is how few guesses get evaluated: each offer
 * survives `attempts` wrong keys, and failed claims (no-match) are counted in
 * three fixed 60 s windows, each opened by the first failure it counts: one
 * per claiming terminal, one per source address (cx_address_key), one for
 * all claimers together. Every evaluated failure counts in all three.
 *
 * The limits are fair to terminals that share an address (NAT) or the
 * server with an attacker: a claim is answered rate-limited, unevaluated,
 * when its terminal's window is at per_min; or when its terminal has
 * failures in its live window and its address's window is at
 * per_min_per_address or the all-claimers window at per_min_total; or when
 * the all-claimers window holds 2 x per_min_total (a hard ceiling). A
 * terminal without failures in a live window is evaluated while the shared
 * windows are full, so each terminal adds at most one failure per window
 * beyond a shared limit. For T terminals on S addresses, within one window
 * the failures evaluated are at most
 *   min(T x per_min, S x per_min_per_address + T, per_min_total + min(T, per_min_total)).
 */
typedef struct {
	uint32_t ttl_default_s;          /* offer lifetime when the offer has no ttl (120) */
	uint32_t ttl_max_s;              /* longest offer lifetime accepted (600); ttl above it is bad-request */
	uint32_t key_digits_min;         /* shortest key accepted in offers (6) */
	uint32_t attempts;               /* wrong keys an offer survives before it burns (3) */
	uint32_t exchange_ttl_s;         /* lifetime of an exchange after the match (300) */
	uint32_t claim_failures_per_min; /* failed claims per claimer per 60 s window (10) */
	uint32_t max_offers;             /* pending offers held at once (1000000); more is "capacity" */
	uint32_t max_exchanges;          /* live exchanges held at once (1000000) */
	uint32_t claim_failures_per_min_per_address; /* per source address per 60 s window (50) */
	uint32_t claim_failures_per_min_total;       /* of all claimers together per 60 s window (1000) */
	/*
	 * Failure windows held at once, claimers' and addresses' together
	 * (100000, at least 2). A claim whose failure could not be counted
	 * because the ceiling is reached is refused with "capacity", unevaluated:
	 * no guess is ever evaluated without being counted. The same ceiling
	 * bounds the error-reply windows below and the claims remembered to
	 * recognise copies (see cx_engine_claim_from).
	 */
	uint32_t max_limiters;
	/*
	 * Error replies sent to one terminal per clock second (20). Further ones
	 * in that second are dropped and counted (errors_dropped): a flood of
	 * refused requests is not answered by an equal flood of errors.
	 */
	uint32_t error_replies_per_sec;
	/*
	 * Refuse plaintext cards and claims without a "commit" (sealed-required),
	 * so that the server never sees a card (false).
	 */
	bool require_sealed;
} cx_limits;

/* Fills lim with the defaults given in parentheses above. Cannot fail. */
void cx_limits_default(cx_limits *lim);

/*
 * Checks a set of limits; returns NULL when valid, else a static message
 * naming the offending field (for the broker's start-up log).
 */
const char *cx_limits_check(const cx_limits *lim);

/*
 * The key under which failed claims from address are counted, written to
 * out with a NUL: an IPv4 address as it is (also when written IPv4-mapped,
 * "::ffff:192.0.2.7" is "192.0.2.7"); an IPv6 address cut to its /64
 * ("2001:db8:1:2::/64"), since one host commonly holds a whole /64; anything
 * else (a Unix socket, a name) as it is, cut to CX_ADDR_MAX bytes. Returns
 * the key's length, 0 (and "") when address is NULL or empty. Cannot fail.
 */
size_t cx_address_key(const char *address, char out[CX_ADDR_MAX + 1]);

/*
 * Called once per reply: publish r on reply/<to>. Both pointers are valid
 * only during the call.
 */
typedef void (*cx_emit_fn)(void *ctx, const char *to, const cx_reply *r);

typedef struct cx_engine cx_engine;

/*
 * Creates an engine with a copy of lim (which must pass cx_limits_check),
 * its own random MAC secret and exchange ID generator. Returns NULL when lim
 * is invalid, memory runs out or the random generator cannot be seeded.
 */
cx_engine *cx_engine_new(const cx_limits *lim, cx_emit_fn emit, void *ctx);

/* Frees everything and wipes the MAC key and stored MACs; accepts NULL. */
void cx_engine_free(cx_engine *e);

/*
 * Terminal owner published an offer. Replaces a pending offer of owner (the
 * old one gets "revoked"/"replaced"). Emits "offer" to owner, or an error:
 * bad-request (key shorter than key_digits_min, ttl above ttl_max_s),
 * capacity. topic is echoed in errors. The caller wipes req afterwards.
 */
void cx_engine_offer(cx_engine *e, int64_t now_ms, const char *owner, const cx_offer_req *req,
		const char *topic);

/*
 * Terminal claimer claims the offer of owner. Emits to claimer: "match", or
 * an error: bad-request (from present and not claimer), self-claim,
 * rate-limited (with retry_after), no-match (no offer, expired, used, wrong
 * key: indistinguishable), capacity. On a wrong key against a live offer,
 * emits "attempt" to the owner, or "revoked"/"attempts" when none is left,
 * after the claimer's no-match (or later: cx_engine_defer_notices).
 * Every no-match counts against claimer's failures in the current window.
 * On a match the offer is consumed and both get "match"; the owner's carries
 * the claim's "commit" as "peer_commit", which makes the exchange sealed.
 * Same as cx_engine_claim_from with no address.
 */
void cx_engine_claim(cx_engine *e, int64_t now_ms, const char *claimer, const char *owner,
		const cx_claim_req *req, const char *topic);

/*
 * cx_engine_claim for a claimer connected from address (the broker's text
 * form of the peer address, keyed by cx_address_key; NULL or "" when unknown,
 * which exempts the claim from the per-address limit only). The checks, in
 * order: a copy of the claimer's last evaluated claim (same ref, same owner
 * and key, within 60 s: a QoS 2 PUBLISH resent before PUBREL reaches the
 * plugin twice, and clients resend after a reconnect) is answered as that
 * claim was, "match" again to the claimer alone while the exchange lives,
 * else no-match, and is neither evaluated nor counted; the rate limits
 * (rate-limited, retry_after the wait until the claim would be evaluated;
 * the rule is above cx_limits), from (bad-request), a missing commit under
 * require_sealed (sealed-required), self-claim, room to count a failure
 * (capacity when max_limiters is reached, internal when memory runs out;
 * both unevaluated), then lookup, expiry and key comparison (no-match). Every no-match counts once against the claimer, its address
 * and the total. A no-match costs the same work whether or not an offer
 * exists, and the claimer's answer is emitted before the owner's notice.
 */
void cx_engine_claim_from(cx_engine *e, int64_t now_ms, const char *claimer, const char *address,
		const char *owner, const cx_claim_req *req, const char *topic);

/*
 * Terminal sender sends its card to peer in exchange req->xid. Emits "card"
 * to peer and "sent" to sender, or to sender an error: unknown-exchange (no
 * such live exchange), not-peer (sender and peer are not its two parties),
 * already-sent. The exchange closes when both cards passed. The card text is
 * passed through; the caller keeps ownership.
 *
 * In a sealed exchange (its claim had a commit) the engine also relays the
 * public keys (req->kind CX_CARD_PK: "pk" to the peer, no reply to the
 * sender) and sealed cards (CX_CARD_SEALED: "card" with n and ct), opaque,
 * and checks only their order: each party sends one key, the offerer's
 * first, the claimer's after it, and a sealed card only once both keys
 * passed; a plaintext card only from a party that sent no key. Anything
 * else is bad-order (a second key: already-sent); under require_sealed a
 * plaintext card is sealed-required.
 */
void cx_engine_card(cx_engine *e, int64_t now_ms, const char *sender, const char *peer,
		const cx_card_req *req, const char *topic);

/*
 * Sends terminal to an error reply for a request the caller refused itself
 * (undecodable payload, forbidden topic, too large), under the same
 * per-terminal error budget as the engine's own errors: past
 * error_replies_per_sec in the current second it is dropped and counted.
 * message NULL means the code's default; ref and xid may be NULL. Returns
 * whether the reply was emitted. Does nothing when to is not a valid
 * terminal ID.
 */
bool cx_engine_error(cx_engine *e, int64_t now_ms, const char *to, cx_code code, const char *topic,
		const char *message, const char *ref, const char *xid);

/*
 * cx_engine_error for an error reply the caller built itself (r->type must
 * be CX_REPLY_ERROR), for errors that carry more than cx_engine_error
 * takes, such as retry_after: the same budget, the same return. Does
 * nothing when to is not a valid terminal ID or r is not an error.
 */
bool cx_engine_error_reply(cx_engine *e, int64_t now_ms, const char *to, const cx_reply *r);

/*
 * Withdraws the pending offer of owner, if it has one: the offer is
 * destroyed (no claim can match it any more) and owner gets "revoked" with
 * reason "withdrawn", delivered when it is next connected if its session
 * persists. For an operator's decision, such as a terminal disabled in the
 * broker. An offer found past its lifetime expires instead ("expired", as
 * on any touch). Returns true when an offer was withdrawn. Cannot fail.
 */
bool cx_engine_withdraw(cx_engine *e, int64_t now_ms, const char *owner);

/*
 * With defer set, an owner's notice of a wrong key (attempt, or revoked
 * with reason attempts) is held and emitted by the second cx_engine_tick
 * after the claim, instead of right after the claimer's no-match. In a
 * broker that writes every reply of one round in no set order, that keeps
 * the owner's notice from delaying the claimer's answer, which would tell
 * the claimer that an offer exists. Off when the engine is created (the
 * notice follows the answer at once). Cannot fail; a notice that cannot be
 * held (memory) is emitted at once.
 */
void cx_engine_defer_notices(cx_engine *e, bool defer);

/*
 * Expires at most budget timers that are due at now_ms (offers: "expired"
 * with offer true to the owner; exchanges: "expired" with the xid to both
 * parties; rate-limit windows are dropped silently), after emitting the
 * owners' notices held long enough (cx_engine_defer_notices). Returns how
 * many timers it handled; call again when it returns budget. Also drops the error-reply
 * windows of a second that has passed, and moves a bounded number of entries
 * (256 per table) of a table that is growing (neither counted in the result).
 */
size_t cx_engine_tick(cx_engine *e, int64_t now_ms, size_t budget);

typedef struct {
	size_t offers;    /* pending offers held (some may be past expiry until ticked) */
	size_t exchanges; /* live exchanges held */
	size_t limiters;  /* claimers with an open failure window */
	size_t timers;    /* entries in the timer heap */
	size_t address_limiters; /* source addresses with an open failure window */
	size_t error_windows;    /* terminals sent an error in the current second */
	size_t recent_claims;    /* claimers whose last evaluated claim is remembered */
	uint32_t total_failures; /* failed claims counted in the all-claimers window (0 when none is open) */
	/* Counters since the engine was created: */
	uint64_t claims_evaluated;    /* claims that reached the key comparison (matches and no-matches) */
	uint64_t claims_failed;       /* of those, no-match */
	uint64_t claims_rate_limited; /* claims refused rate-limited, unevaluated */
	uint64_t claims_repeated;     /* copies of a claim answered as it was, unevaluated */
	uint64_t total_limit_reached; /* times the all-claimers window reached its limit */
	uint64_t capacity_offers;     /* offers refused: max_offers */
	uint64_t capacity_exchanges;  /* matches refused: max_exchanges */
	uint64_t capacity_limiters;   /* claims refused: max_limiters */
	uint64_t errors_sent;         /* error replies emitted */
	uint64_t errors_dropped;      /* error replies dropped by the per-terminal budget or its ceiling */
	uint64_t offers_accepted;     /* offers answered "offer" (replacements included) */
	uint64_t offers_withdrawn;    /* offers withdrawn by cx_engine_withdraw */
	uint64_t matches;             /* claims that matched and opened an exchange */
	uint64_t exchanges_completed; /* exchanges closed with both cards passed */
	uint64_t cards_relayed;       /* cards passed to the peer */
	uint64_t card_bytes_relayed;  /* bytes of those cards (the jCard text) */
} cx_engine_stats;

/*
 * The MAC an offer keeps instead of its key, and a claim is compared by:
 * two SipHash-2-4 (a PRF) under independent random 16-byte keys k0 and k1,
 * over owner, a 0 byte and key, 128 bits in all. Being bound to the owner,
 * a key found for one offer says nothing about another's. A few hundred
 * instructions, where HMAC-SHA256 took some 8,800: every claim computes
 * one. The engine uses it under its own keys; the redis store under keys
 * all brokers share. Cannot fail.
 */
void cx_engine_key_mac(const unsigned char *k0, const unsigned char *k1, const char *owner, const char *key,
		unsigned char out[CX_MAC_LEN]);

/* Fills out; cannot fail. */
void cx_engine_get_stats(const cx_engine *e, cx_engine_stats *out);

/* ---- saving and loading (engine_persist.c) ---- */

/*
 * Receives the bytes of a saved engine, in order, len > 0. Returns 0, or -1
 * to stop the save (cx_engine_save then returns -1).
 */
typedef int (*cx_write_fn)(void *ctx, const void *buf, size_t len);

/*
 * Writes e's live state in the format cx_engine_load reads (versioned,
 * SHA-256 at the end): pending offers (owner, ref, the MAC of the key, never
 * the key, attempts left), live exchanges (ID, parties, who sent a card or a
 * key, sealed or not), the failure windows of claimers, addresses and all
 * claimers, the remembered claims, the owners' notices still held, each
 * with the time it has left at now_ms, and the MAC key, without which the
 * MACs are worthless: the output is as secret as the keys of the offers it
 * holds. An offer or exchange past its time whose notice has not gone yet
 * is written with no time left; an ended window or remembered claim is left
 * out. Error-reply budgets and the counters are not written. wall_ms is the
 * wall clock (Unix time in ms) at now_ms: cx_engine_load counts the time in
 * between from it. Every byte goes through write, in pieces of at most
 * 64 KiB, from a buffer wiped afterwards. Returns 0, or -1 when write failed.
 */
int cx_engine_save(const cx_engine *e, int64_t now_ms, int64_t wall_ms, cx_write_fn write, void *ctx);

/*
 * The largest output of cx_engine_save for an engine with limits lim, in
 * bytes: every table at its ceiling with the longest IDs, and a held notice
 * per offer. A bound for reading a saved engine back. Cannot fail.
 */
uint64_t cx_engine_saved_max(const cx_limits *lim);

/* What cx_engine_load found. */
typedef struct {
	int64_t saved_wall_ms; /* the wall clock when it was saved */
	int64_t downtime_ms;   /* wall time from the save to the load; 0 when the clock went back */
	size_t offers;         /* offers loaded (expired ones included) */
	size_t exchanges;      /* exchanges loaded (expired ones included) */
	size_t limiters;       /* failure windows of claimers and addresses loaded */
	size_t recent_claims;  /* remembered claims loaded */
	size_t notices;        /* owners' notices held again */
	size_t expired;        /* of the offers and exchanges, those whose time ran out meanwhile */
	size_t dropped;        /* entries left out: beyond max_offers, max_exchanges or max_limiters */
} cx_engine_loaded;

/*
 * Loads into e, which must hold nothing yet (fresh from cx_engine_new),
 * the len bytes at buf that cx_engine_save wrote, at now_ms. Every time
 * left is shortened by the wall-clock time since the save (wall_ms less the
 * saved wall clock; nothing when that is negative) and cut to e's limits
 * (ttl_max_s, exchange_ttl_s, the 60 s windows); attempts left are cut to
 * e's attempts. An offer or exchange whose time ran out is kept, due at
 * now_ms, so that the next cx_engine_tick (or a request that touches it)
 * sends its "expired" notices as if the engine had run on; an ended window
 * or remembered claim is dropped. Entries beyond e's max_offers,
 * max_exchanges or max_limiters are dropped and counted; held notices come
 * out at the second tick. Emits nothing; takes e's MAC key from buf.
 * Returns 0 and fills *out (when not NULL); or -1 with a reason in err
 * (errcap bytes): not a saved engine, a format version this code does not
 * read, a bad checksum (damage, truncation), a malformed or repeated record
 * (named by its byte offset), out of memory, or e not empty; e is then
 * left as it was. The caller keeps buf (and should wipe it).
 */
int cx_engine_load(cx_engine *e, int64_t now_ms, int64_t wall_ms, const void *buf, size_t len,
		cx_engine_loaded *out, char *err, size_t errcap);

#endif
