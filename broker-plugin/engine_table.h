/*
 * Keyed hashing and an intrusive chained hash table for the exchange engine.
 *
 * Clients choose the terminal IDs the engine hashes, so the hash is
 * SipHash-1-3 keyed with a random secret: nobody outside can aim many IDs at
 * one bucket. The table stores nodes embedded in the caller's objects and
 * never allocates per entry; only its bucket arrays are its own.
 */
#ifndef CX_ENGINE_TABLE_H
#define CX_ENGINE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CX_SIPHASH_KEY_LEN 16

/* SipHash-1-3 of data[0..len) under a 16-byte key, for hash tables. Cannot fail. */
uint64_t cx_siphash13(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len);

/* SipHash-2-4 (the PRF of the SipHash paper) of data[0..len) under a 16-byte key. Cannot fail. */
uint64_t cx_siphash24(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len);

typedef struct cx_hnode {
	struct cx_hnode *next;
} cx_hnode;

/*
 * Recomputes the hash of a node when the table grows; nodes carry no stored
 * hash, which keeps each entry one pointer wide.
 */
typedef uint64_t (*cx_htab_hash_fn)(const cx_hnode *n, const void *ctx);

/* True when node n has the key the caller looks for. */
typedef bool (*cx_htab_eq_fn)(const cx_hnode *n, const void *key);

/*
 * Most entries one insert moves from the old bucket array to the new one
 * while the table grows, and most buckets it looks at (empty ones included)
 * in doing so. They bound the work any single operation does, so that
 * growing a table of a million entries never stops the broker's thread for
 * more than a few microseconds; see cx_htab_insert. At least 2, so that a
 * growth is over before the next one is due.
 */
#define CX_HTAB_STEP_ENTRIES 2
#define CX_HTAB_STEP_VISITS (8 * CX_HTAB_STEP_ENTRIES)

/*
 * Grows by incremental rehashing, like Redis' dict.c: when it doubles, the
 * old bucket array stays beside the new one and its buckets are emptied into
 * the new one a few at a time, by every insert and by cx_htab_rehash,
 * until none is left. Meanwhile a key is looked for in its old bucket when
 * that bucket has not been emptied yet, and in its new one.
 * The pages of a large old array are handed back to the kernel in pieces as
 * it empties, so that freeing it is no pause either.
 */
typedef struct {
	cx_hnode **b;     /* bucket heads where new entries go; the count is a power of two */
	size_t mask;      /* bucket count of b - 1 */
	cx_hnode **old;   /* while growing: the array being emptied into b; else NULL */
	size_t old_mask;  /* bucket count of old - 1 */
	size_t migrate;   /* while growing: the buckets of old below this index are empty */
	size_t released;  /* while growing: bytes at the start of old handed back (or skipped) */
	size_t count;     /* nodes held, in both arrays */
	cx_htab_hash_fn hash;
	const void *hctx;
	/* Instrumentation, for the tests and the benchmark: */
	size_t last_moved; /* entries moved by the latest insert, remove (none) or cx_htab_rehash */
	uint64_t moved;    /* entries moved by every growth so far */
} cx_htab;

/*
 * Prepares an empty table with a first bucket array. Returns 0, or -1 when
 * it cannot be allocated (t then owns nothing and cx_htab_free is harmless).
 */
int cx_htab_init(cx_htab *t, cx_htab_hash_fn hash, const void *hctx);

/*
 * Calls each(n, arg) once for every node (each may free the node) and frees
 * the bucket arrays. Accepts NULL and a table whose init failed.
 */
void cx_htab_free(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg);

/*
 * Calls each(n, arg) once for every node (each may free the node) and
 * empties the table, which stays usable; a growth under way is abandoned.
 * A bucket array grown past its first size is given back when a smaller one
 * can be had; otherwise it is kept, zeroed. Cannot fail. Costs time in
 * proportion to the bucket count: not for tables that grow large.
 */
void cx_htab_clear(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg);

/*
 * The node of hash for which eq(n, key) holds, or NULL. Moves nothing, so
 * that a lookup only reads (a growth advances with inserts).
 */
cx_hnode *cx_htab_find(const cx_htab *t, uint64_t hash, cx_htab_eq_fn eq, const void *key);

/*
 * Links n (hash must be its hash; its key must not be in the table yet).
 * Starts doubling the bucket array when the load passes one node per bucket
 * and no growth is under way, and moves at most CX_HTAB_STEP_ENTRIES entries
 * of a growth under way. The doubling needs only an allocation (whose pages
 * the kernel hands out as they are touched); when it fails, the table keeps
 * its size and chains get longer, so inserting never fails.
 */
void cx_htab_insert(cx_htab *t, cx_hnode *n, uint64_t hash);

/*
 * Unlinks n, of hash hash; does nothing when it is not there. Moves no
 * other entry (see cx_htab_insert for why growths still end in time).
 */
void cx_htab_remove(cx_htab *t, cx_hnode *n, uint64_t hash);

/*
 * Moves at most max entries (looking at most 8 * max buckets) of a growth
 * under way, so that an idle table finishes growing and frees its old array.
 * Returns the number moved (also left in t->last_moved). Cannot fail.
 */
size_t cx_htab_rehash(cx_htab *t, size_t max);

/* True while a growth is under way (two bucket arrays held). */
bool cx_htab_growing(const cx_htab *t);

#endif
