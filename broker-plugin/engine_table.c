/*
 * SipHash-1-3 and an intrusive chained hash table (engine_table.h).
 */
#include "engine_table.h"

#include <stdlib.h>
#include <string.h>

/* First bucket array; small so an idle engine costs little. */
#define HTAB_MIN_BUCKETS 64

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)                                              \
	do{                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	}while(0)

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for(int i = 7; i >= 0; i--){
		v = (v << 8) | p[i];
	}
	return v;
}

uint64_t cx_siphash13(const unsigned char key[CX_SIPHASH_KEY_LEN], const void *data, size_t len)
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
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for(size_t i = full; i < len; i++){
		b |= (uint64_t)in[i] << (8 * (i - full));
	}
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

int cx_htab_init(cx_htab *t, cx_htab_hash_fn hash, const void *hctx)
{
	t->hash = hash;
	t->hctx = hctx;
	t->count = 0;
	t->mask = 0;
	t->b = calloc(HTAB_MIN_BUCKETS, sizeof(*t->b));
	if(t->b == NULL){
		return -1;
	}
	t->mask = HTAB_MIN_BUCKETS - 1;
	return 0;
}

/* Calls each on every node; the bucket heads are left dangling. */
static void visit_all(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg)
{
	for(size_t i = 0; i <= t->mask; i++){
		cx_hnode *n = t->b[i];
		while(n != NULL){
			cx_hnode *next = n->next;
			if(each != NULL){
				each(n, arg);
			}
			n = next;
		}
	}
}

void cx_htab_clear(cx_htab *t, void (*each)(cx_hnode *n, void *arg), void *arg)
{
	cx_hnode **nb = NULL;

	if(t == NULL || t->b == NULL){
		return;
	}
	visit_all(t, each, arg);
	if(t->mask + 1 > HTAB_MIN_BUCKETS){
		nb = calloc(HTAB_MIN_BUCKETS, sizeof(*nb));
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

cx_hnode *cx_htab_find(const cx_htab *t, uint64_t hash, cx_htab_eq_fn eq, const void *key)
{
	for(cx_hnode *n = t->b[hash & t->mask]; n != NULL; n = n->next){
		if(eq(n, key)){
			return n;
		}
	}
	return NULL;
}

/*
 * Moves every node into a bucket array twice the size. This is the only O(n)
 * step, once per doubling, so its cost per insert is constant on average.
 */
static void grow(cx_htab *t)
{
	size_t nbuckets = (t->mask + 1) * 2;

	if(nbuckets == 0 || nbuckets > SIZE_MAX / sizeof(*t->b)){
		return;
	}
	cx_hnode **nb = calloc(nbuckets, sizeof(*nb));
	if(nb == NULL){
		return;
	}
	size_t nmask = nbuckets - 1;
	for(size_t i = 0; i <= t->mask; i++){
		cx_hnode *n = t->b[i];
		while(n != NULL){
			cx_hnode *next = n->next;
			size_t j = t->hash(n, t->hctx) & nmask;
			n->next = nb[j];
			nb[j] = n;
			n = next;
		}
	}
	free(t->b);
	t->b = nb;
	t->mask = nmask;
}

void cx_htab_insert(cx_htab *t, cx_hnode *n, uint64_t hash)
{
	cx_hnode **head = &t->b[hash & t->mask];

	n->next = *head;
	*head = n;
	t->count++;
	if(t->count > t->mask + 1){
		grow(t);
	}
}

void cx_htab_remove(cx_htab *t, cx_hnode *n, uint64_t hash)
{
	for(cx_hnode **pp = &t->b[hash & t->mask]; *pp != NULL; pp = &(*pp)->next){
		if(*pp == n){
			*pp = n->next;
			n->next = NULL;
			t->count--;
			return;
		}
	}
}
