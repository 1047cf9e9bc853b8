/*
 * SipHash-1-3 and an intrusive chained hash table (engine_table.h).
 */
/* For madvise and MADV_DONTNEED, which _POSIX_C_SOURCE alone does not expose. */
#define _DEFAULT_SOURCE

#include "engine_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* First bucket array; small so an idle engine costs little. */
#define HTAB_MIN_BUCKETS 64
/*
 * Handing a large bucket array back to the kernel costs time in proportion
 * to its size: about 0.3 ms for the 4 MiB array of a table growing past
 * half a million entries. So while a growth empties an old array of at
 * least HTAB_RELEASE_MIN bytes, its emptied pages are handed back
 * HTAB_RELEASE_STEP bytes at a time (some microseconds each), and freeing
 * what is left at the end costs little.
 */
#define HTAB_RELEASE_MIN ((size_t)256 * 1024)
#define HTAB_RELEASE_STEP ((size_t)64 * 1024)

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                              \
	do{                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	}while(0)

static inline uint64_t load_le64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* One load where the byte order is already the right one. */
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
#else
	uint64_t v = 0;

	for(int i = 7; i >= 0; i--){
		v = (v << 8) | p[i];
	}
	return v;
#endif
}

/* SipHash-c-d (Aumasson and Bernstein): c rounds per message block, d to finalise. */
static inline uint64_t siphash(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len,
		int c, int d)
{
	const unsigned char *in = data;
	uint64_t k0 = load_le64(key);
	uint64_t k1 = load_le64(key + 8);
	uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k0;
	uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
	uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k0;
	uint64_t v3 = UINT64_C(0x7465646279746573) ^ k1;
	uint64_t b = (uint64_t)len << 56;
	size_t full = len - (len % 8);

	for(size_t i = 0; i < full; i += 8){
		uint64_t m = load_le64(in + i);
		v3 ^= m;
		for(int r = 0; r < c; r++){
			SIPROUND(v0, v1, v2, v3);
		}
		v0 ^= m;
	}
	/* The last len % 8 bytes, little-endian, without a loop. */
	switch(len - full){
	case 7: b |= (uint64_t)in[full + 6] << 48; /* fall through */
	case 6: b |= (uint64_t)in[full + 5] << 40; /* fall through */
	case 5: b |= (uint64_t)in[full + 4] << 32; /* fall through */
	case 4: b |= (uint64_t)in[full + 3] << 24; /* fall through */
	case 3: b |= (uint64_t)in[full + 2] << 16; /* fall through */
	case 2: b |= (uint64_t)in[full + 1] << 8; /* fall through */
	case 1: b |= (uint64_t)in[full]; /* fall through */
	default: break;
	}
	v3 ^= b;
	for(int r = 0; r < c; r++){
		SIPROUND(v0, v1, v2, v3);
	}
	v0 ^= b;
	v2 ^= 0xff;
	for(int r = 0; r < d; r++){
		SIPROUND(v0, v1, v2, v3);
	}
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t cx_siphash13(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len)
{
	return siphash(key, data, len, 1, 3);
}

uint64_t cx_siphash24(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len)
{
	return siphash(key, data, len, 2, 4);
}

/* A zeroed array of n buckets, or NULL. Free with free(). */
static cx_hnode **buckets_alloc(size_t n)
{
	/*
	 * calloc takes large arrays straight from the kernel as fresh zero
	 * pages, backed by memory only as they are touched: no time in
	 * proportion to n.
	 */
	return calloc(n, sizeof(cx_hnode *));
}

/* Frees the old array of a growth that is over or abandoned. */
static void drop_old(cx_htab *t)
{
	free(t->old);
	t->old = NULL;
	t->old_mask = 0;
	t->migrate = 0;
	t->released = 0;
}

/*
 * The offset in an old array of bytes bytes where handing pages back
 * starts: its first page boundary, or bytes (never) when the array is small
 * or the page size does not divide the step.
 */
static size_t release_start(const cx_hnode *const *old, size_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t base = (uintptr_t)old;
	size_t skip;

	if(bytes < HTAB_RELEASE_MIN || page <= 0 || HTAB_RELEASE_STEP % (size_t)page != 0){
		return bytes;
	}
	skip = (size_t)((uintptr_t)page - base % (uintptr_t)page) % (size_t)page;
	return skip;
}

/*
 * Hands back to the kernel the whole pages of the old array that lie below
 * migrate: their buckets are empty and never read again. (free() may write
 * its bookkeeping there later, which only brings back a zero page.) A piece
 * the kernel refuses stops this for the rest of the growth; free() still
 * gives everything back.
 */
static void release_emptied(cx_htab *t)
{
	size_t bytes = (t->old_mask + 1) * sizeof(cx_hnode *);
	size_t emptied = t->migrate * sizeof(cx_hnode *);

	while(t->released < bytes && t->released + HTAB_RELEASE_STEP <= emptied){
		if(madvise((char *)t->old + t->released, HTAB_RELEASE_STEP, MADV_DONTNEED) != 0){
			t->released = bytes;
			return;
		}
		t->released += HTAB_RELEASE_STEP;
	}
}

int cx_htab_init(cx_htab *t, cx_htab_hash_fn hash, const void *hctx)
{
	memset(t, 0, sizeof(*t));
	t->hash = hash;
	t->hctx = hctx;
	t->b = buckets_alloc(HTAB_MIN_BUCKETS);
	if(t->b == NULL){
		return -1;
	}
	t->mask = HTAB_MIN_BUCKETS - 1;
	return 0;
}

bool cx_htab_growing(const cx_htab *t)
{
	return t->old != NULL;
}

/* Calls each on every node of buckets[from..mask]; the bucket heads are left dangling. */
static void visit(cx_hnode **buckets, size_t from, size_t mask, void (*each)(cx_hnode *n, void *arg),
		void *arg)
{
	for(size_t i = from; i <= mask; i++){
		cx_hnode *n = buckets[i];
		while(n != NULL){
			cx_hnode *next = n->next;
			if(each != NULL){
				each(n, arg);
			}
			n = next;
		}
	}
}

/* Calls each on every node of both arrays and frees the old one. */
static void visit_all(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg)
{
	if(t->old != NULL){
		/* Buckets of old below migrate are empty (and their pages may have been handed back). */
		visit(t->old, t->migrate, t->old_mask, each, arg);
		drop_old(t);
	}
	visit(t->b, 0, t->mask, each, arg);
}

void cx_htab_clear(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg)
{
	cx_hnode **nb = NULL;

	if(t == NULL || t->b == NULL){
		return;
	}
	visit_all(t, each, arg);
	if(t->mask + 1 > HTAB_MIN_BUCKETS){
		nb = buckets_alloc(HTAB_MIN_BUCKETS);
	}
	if(nb != NULL){
		free(t->b);
		t->b = nb;
		t->mask = HTAB_MIN_BUCKETS - 1;
	}else{
		memset(t->b, 0, (t->mask + 1) * sizeof(*t->b));
	}
	t->count = 0;
}

void cx_htab_free(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg)
{
	if(t == NULL || t->b == NULL){
		return;
	}
	visit_all(t, each, arg);
	free(t->b);
	t->b = NULL;
	t->mask = 0;
	t->count = 0;
}

/*
 * The chain of old that may still hold an entry of hash, or NULL when no
 * growth is under way or that bucket has been emptied already.
 */
static cx_hnode **old_chain(const cx_htab *t, uint64_t hash)
{
	size_t i;

	if(t->old == NULL){
		return NULL;
	}
	i = (size_t)(hash & t->old_mask);
	/* Bucket migrate may be half moved: what is left of it is still in old. */
	return i >= t->migrate ? &t->old[i] : NULL;
}

static cx_hnode *chain_find(cx_hnode *n, cx_htab_eq_fn eq, const void *key)
{
	for(; n != NULL; n = n->next){
		if(eq(n, key)){
			return n;
		}
	}
	return NULL;
}

cx_hnode *cx_htab_find(const cx_htab *t, uint64_t hash, cx_htab_eq_fn eq, const void *key)
{
	cx_hnode **oc = old_chain(t, hash);
	cx_hnode *n;

	if(oc != NULL){
		n = chain_find(*oc, eq, key);
		if(n != NULL){
			return n;
		}
	}
	return chain_find(t->b[hash & t->mask], eq, key);
}

size_t cx_htab_rehash(cx_htab *t, size_t max)
{
	size_t moved = 0;
	size_t visits = 0;
	size_t max_visits = max > SIZE_MAX / 8 ? SIZE_MAX : 8 * max;

	/* Bounded twice over: by entries moved (each costs a hash) and by buckets looked at. */
	while(t->old != NULL && moved < max && visits < max_visits){
		cx_hnode *n = t->old[t->migrate];
		if(n == NULL){
			visits++;
			if(t->migrate == t->old_mask){
				drop_old(t);
				break;
			}
			t->migrate++;
			continue;
		}
		/* One entry at a time from the head, so a bucket can be left half moved. */
		t->old[t->migrate] = n->next;
		cx_hnode **head = &t->b[t->hash(n, t->hctx) & t->mask];
		n->next = *head;
		*head = n;
		moved++;
	}
	if(t->old != NULL){
		release_emptied(t);
	}
	t->last_moved = moved;
	t->moved += moved;
	return moved;
}

/*
 * Starts doubling: the current array becomes the old one, emptied by later
 * steps. When the new array cannot be had nothing changes.
 */
static void grow_start(cx_htab *t)
{
	size_t nbuckets = (t->mask + 1) * 2;
	cx_hnode **nb;

	if(nbuckets == 0 || nbuckets > SIZE_MAX / sizeof(*t->b)){
		return;
	}
	nb = buckets_alloc(nbuckets);
	if(nb == NULL){
		return;
	}
	t->old = t->b;
	t->old_mask = t->mask;
	t->migrate = 0;
	t->released = release_start((const cx_hnode *const *)t->old, (t->old_mask + 1) * sizeof(*t->old));
	t->b = nb;
	t->mask = nbuckets - 1;
}

void cx_htab_insert(cx_htab *t, cx_hnode *n, uint64_t hash)
{
	cx_hnode **head = &t->b[hash & t->mask];

	n->next = *head;
	*head = n;
	t->count++;
	/*
	 * A growth starts when count passes the B buckets of the array, so it
	 * has at most B + 1 entries to move and B buckets to look at. Each
	 * insert moves CX_HTAB_STEP_ENTRIES (at least 2) or looks at
	 * CX_HTAB_STEP_VISITS buckets, so at most (B + 1) / 2 + B / 16 + 1
	 * inserts finish it: fewer than the B more inserts after which the new
	 * array would be full in turn.
	 */
	if(t->old == NULL && t->count > t->mask + 1){
		grow_start(t);
	}
	cx_htab_rehash(t, CX_HTAB_STEP_ENTRIES);
}

/* Unlinks n from the chain at *pp; false when it is not there. */
static bool chain_unlink(cx_hnode **pp, cx_hnode *n)
{
	for(; *pp != NULL; pp = &(*pp)->next){
		if(*pp == n){
			*pp = n->next;
			n->next = NULL;
			return true;
		}
	}
	return false;
}

void cx_htab_remove(cx_htab *t, cx_hnode *n, uint64_t hash)
{
	cx_hnode **oc = old_chain(t, hash);

	/*
	 * No rehashing here: the engine removes in batches (a tick expires up to
	 * a thousand timers), and moving entries on each removal would multiply
	 * a tick's cost during a growth. Inserts alone finish a growth in time.
	 */
	t->last_moved = 0;
	if((oc != NULL && chain_unlink(oc, n)) || chain_unlink(&t->b[hash & t->mask], n)){
		t->count--;
	}
}
