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
 * binary min-heap, O(log n) per timer, and a tick does bounded work.
 */
#ifndef CX_ENGINE_H
#define CX_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

typedef struct {
	uint32_t ttl_default_s;          /* offer lifetime when the offer has no ttl (120) */
	uint32_t ttl_max_s;              /* longest offer lifetime accepted (600); ttl above it is bad-request */
	uint32_t key_digits_min;         /* shortest key accepted in offers (6) */
	uint32_t attempts;               /* wrong keys an offer survives before it burns (3) */
	uint32_t exchange_ttl_s;         /* lifetime of an exchange after the match (300) */
	uint32_t claim_failures_per_min; /* failed claims per claimer per 60 s window (10) */
	uint32_t max_offers;             /* pending offers held at once (1000000); more is "capacity" */
	uint32_t max_exchanges;          /* live exchanges held at once (1000000) */
} cx_limits;

/* Fills lim with the defaults given in parentheses above. Cannot fail. */
void cx_limits_default(cx_limits *lim);

/*
 * Checks a set of limits; returns NULL when valid, else a static message
 * naming the offending field (for the broker's start-up log).
 */
const char *cx_limits_check(const cx_limits *lim);

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

/* Frees everything and wipes the secret and stored MACs; accepts NULL. */
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
 * emits "attempt" to the owner, or "revoked"/"attempts" when none is left.
 * Every no-match counts against claimer's failures in the current window.
 * On a match the offer is consumed and both get "match".
 */
void cx_engine_claim(cx_engine *e, int64_t now_ms, const char *claimer, const char *owner,
		const cx_claim_req *req, const char *topic);

/*
 * Terminal sender sends its card to peer in exchange req->xid. Emits "card"
 * to peer and "sent" to sender, or to sender an error: unknown-exchange (no
 * such live exchange), not-peer (sender and peer are not its two parties),
 * already-sent. The exchange closes when both cards passed. The card text is
 * passed through; the caller keeps ownership.
 */
void cx_engine_card(cx_engine *e, int64_t now_ms, const char *sender, const char *peer,
		const cx_card_req *req, const char *topic);

/*
 * Expires at most budget timers that are due at now_ms (offers: "expired"
 * with offer true to the owner; exchanges: "expired" with the xid to both
 * parties; rate-limit windows are dropped silently). Returns how many timers
 * it handled; call again when it returns budget.
 */
size_t cx_engine_tick(cx_engine *e, int64_t now_ms, size_t budget);

typedef struct {
	size_t offers;    /* pending offers held (some may be past expiry until ticked) */
	size_t exchanges; /* live exchanges held */
	size_t limiters;  /* claimers with an open failure window */
	size_t timers;    /* entries in the timer heap */
} cx_engine_stats;

void cx_engine_get_stats(const cx_engine *e, cx_engine_stats *out);

#endif
