/*
 * Keyed hashing and an intrusive chained hash table for the exchange engine.
 *
 * Clients choose the terminal IDs the engine hashes, so the hash is
 * SipHash-1-3 keyed with a random secret: nobody outside can aim many IDs at
 * one bucket. The table stores nodes embedded in the caller's objects and
 * never allocates per entry; only its bucket array is its own.
 */
#ifndef CX_ENGINE_TABLE_H
#define CX_ENGINE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CX_SIPHASH_KEY_LEN 16

/* SipHash-1-3 of data[0..len) under a 16-byte key. Cannot fail. */
uint64_t cx_siphash13(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len);

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

typedef struct {
	cx_hnode **b;   /* bucket heads; the count is a power of two */
	size_t mask;    /* bucket count - 1 */
	size_t count;   /* nodes held */
	cx_htab_hash_fn hash;
	const void *hctx;
} cx_htab;

/*
 * Prepares an empty table with a first bucket array. Returns 0, or -1 when
 * it cannot be allocated (t then owns nothing and cx_htab_free is harmless).
 */
int cx_htab_init(cx_htab *t, cx_htab_hash_fn hash, const void *hctx);

/*
 * Calls each(n, arg) once for every node (each may free the node) and frees
 * the bucket array. Accepts NULL and a table whose init failed.
 */
void cx_htab_free(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg);

/*
 * Calls each(n, arg) once for every node (each may free the node) and
 * empties the table, which stays usable. A bucket array grown past its first
 * size is given back when a smaller one can be had; otherwise it is kept,
 * zeroed. Cannot fail.
 */
void cx_htab_clear(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg);

/* The node in bucket hash for which eq(n, key) holds, or NULL. */
cx_hnode *cx_htab_find(const cx_htab *t, uint64_t hash, cx_htab_eq_fn eq, const void *key);

/*
 * Links n (hash must be its hash; its key must not be in the table yet).
 * Doubles the bucket array when the load passes one node per bucket; when
 * that allocation fails the table keeps its size and chains get longer, so
 * inserting never fails.
 */
void cx_htab_insert(cx_htab *t, cx_hnode *n, uint64_t hash);

/* Unlinks n, found in bucket hash; does nothing when it is not there. */
void cx_htab_remove(cx_htab *t, cx_hnode *n, uint64_t hash);

#endif
