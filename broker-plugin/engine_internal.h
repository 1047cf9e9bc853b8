/*
 * The exchange engine's entries and state, shared by engine.c (requests,
 * expiry) and engine_persist.c (saving and loading them). Private to the
 * engine: nothing outside these two files includes it.
 */
#ifndef CX_ENGINE_INTERNAL_H
#define CX_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "engine.h"
#include "engine_heap.h"
#include "engine_table.h"
#include "ids.h"

#define XID_LEN 16
#define XID_POOL 16 /* exchange IDs drawn from the DRBG at once */
/* Every failure window: fixed, from the first failure it counts. */
#define WINDOW_MS 60000

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum timer_kind {
	TIMER_OFFER = 1,
	TIMER_EXCHANGE,
	TIMER_LIMITER,     /* a claimer's failure window */
	TIMER_ADDR_LIMITER, /* a source address's failure window */
	TIMER_RECENT       /* a claimer's last evaluated claim, kept to recognise a copy */
};

/* A pending offer. Members ordered so the struct packs into 128 bytes. */
typedef struct {
	cx_hnode hn;
	cx_timer timer;                 /* due = expiry */
	uint8_t attempts_left;          /* >= 1 while held (attempts is at most 100) */
	unsigned char mac[CX_MAC_LEN];  /* key_mac(owner, key); never the key */
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
	uint8_t pk_sent;                /* SENT_A | SENT_B: public keys relayed (sealed exchanges) */
	bool sealed;                    /* the claim carried a commit */
	unsigned char xid[XID_LEN];
	char a[CX_ID_MAX + 1];
	char b[CX_ID_MAX + 1];
} exchange;

/* Failed claims of one claimer (or one source address) in its current window. */
typedef struct {
	cx_hnode hn;
	cx_timer timer;                 /* due = end of the window; kind tells the table */
	uint32_t failures;
	char id[CX_ID_MAX + 1];         /* terminal ID, or address key (CX_ADDR_MAX == CX_ID_MAX) */
} limiter;

/* Error replies sent to one terminal in the current clock second. */
typedef struct {
	cx_hnode hn;
	uint32_t sent;
	char id[CX_ID_MAX + 1];
} errwin;

/*
 * What a claimer last claimed and how it was answered, so that a copy of
 * that claim (a QoS 2 PUBLISH resent with DUP before PUBREL, which reaches
 * the plugin again; a claim resent after a reconnect) is answered the same
 * way without being evaluated or counted a second time. The MAC binds the
 * owner and the key, so a copy is the same ref and the same MAC.
 */
#define RECENT_NO_MATCH 1u
#define RECENT_MATCH 2u

typedef struct {
	cx_hnode hn;
	cx_timer timer;                 /* due = when a copy is no longer recognised */
	uint8_t outcome;                /* RECENT_NO_MATCH, RECENT_MATCH */
	unsigned char mac[CX_MAC_LEN];  /* of the claim's owner and key; never the key */
	unsigned char xid[XID_LEN];     /* RECENT_MATCH: the exchange it opened */
	char ref[CX_REF_MAX + 1];
	char claimer[CX_ID_MAX + 1];
} recent;

/*
 * An owner's notice of a wrong key (attempt, or revoked for attempts),
 * held back until the claimer's answer has left (cx_engine_defer_notices).
 */
typedef struct {
	uint64_t tick;                  /* the engine's tick count when it was held */
	int64_t due;                    /* not emitted before this time */
	uint8_t type;                   /* CX_REPLY_ATTEMPT or CX_REPLY_REVOKED */
	uint8_t attempts_left;
	char ref[CX_REF_MAX + 1];
	char owner[CX_ID_MAX + 1];
} notice;

/* Which spare limiter entry (struct cx_engine's spare[]) serves which table. */
enum {
	SPARE_CLAIMER,
	SPARE_ADDRESS,
	NSPARES
};

struct cx_engine {
	cx_limits lim;
	cx_emit_fn emit;
	void *ctx;
	cx_rng *rng;
	unsigned char mkey[2][CX_SIPHASH_KEY_LEN]; /* random keys of key_mac, for instant keys */
	unsigned char hkey[CX_SIPHASH_KEY_LEN]; /* hash-table key */
	cx_htab offers;
	cx_htab exchanges;
	cx_htab limiters;      /* by claimer ID */
	cx_htab addr_limiters; /* by address key */
	cx_htab errwins;       /* by terminal ID, for err_second only */
	cx_htab recents;       /* by claimer ID */
	cx_theap timers;
	limiter *spare[NSPARES]; /* secured before a claim is evaluated; see prepare_counting */
	int64_t err_second;      /* the clock second errwins counts */
	bool total_open;         /* the all-claimers window */
	int64_t total_due;
	uint32_t total_failures;
	cx_engine_stats counters; /* only the counter fields are used */
	/* Compared against when a claim names no live offer, so both paths do the same work. */
	unsigned char dummy_mac[CX_MAC_LEN];
	bool defer;          /* owners' wrong-key notices wait for the second tick */
	uint64_t ticks;      /* cx_engine_tick calls so far */
	notice *held;        /* held notices, in order; malloc'ed */
	size_t nheld, held_cap;
	/*
	 * Exchange IDs drawn ahead, XID_POOL at a time: one DRBG call costs
	 * about as much for 16 bytes as for 256 (its update step dominates).
	 * Used bytes are wiped at once; the rest as the engine is freed.
	 */
	unsigned char xid_pool[XID_POOL * XID_LEN];
	size_t xid_left;     /* unused IDs at the end of xid_pool */
};

#if CX_ADDR_MAX != CX_ID_MAX
#error "limiter.id holds both terminal IDs and address keys"
#endif

#endif
