/*
 * Binary min-heap of embedded timers with back-indices (engine_heap.h).
 */
#include "engine_heap.h"

#include <stdbool.h>
#include <stdlib.h>

/* Smallest array allocated, so that small engines do not reallocate at every push. */
#define THEAP_MIN_CAP 64

void cx_theap_init(cx_theap *h)
{
	h->v = NULL;
	h->len = 0;
	h->cap = 0;
}

void cx_theap_free(cx_theap *h)
{
	if(h == NULL){
		return;
	}
	for(size_t i = 0; i < h->len; i++){
		h->v[i].t->idx = CX_TIMER_DETACHED;
	}
	free(h->v);
	cx_theap_init(h);
}

static void place(cx_theap *h, size_t i, cx_theap_slot s)
{
	h->v[i] = s;
	s.t->idx = (uint32_t)i;
}

/* Moves the slot at i towards the root until its parent is not later. */
static void sift_up(cx_theap *h, size_t i)
{
	cx_theap_slot s = h->v[i];

	while(i > 0){
		size_t parent = (i - 1) / 2;
		if(h->v[parent].due <= s.due){
			break;
		}
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, s);
}

/* Moves the slot at i towards the leaves until no child is earlier. */
static void sift_down(cx_theap *h, size_t i)
{
	cx_theap_slot s = h->v[i];

	for(;;){
		size_t child = 2 * i + 1;
		if(child >= h->len){
			break;
		}
		if(child + 1 < h->len && h->v[child + 1].due < h->v[child].due){
			child++;
		}
		if(s.due <= h->v[child].due){
			break;
		}
		place(h, i, h->v[child]);
		i = child;
	}
	place(h, i, s);
}

int cx_theap_reserve(cx_theap *h, size_t n)
{
	size_t ncap = h->cap ? h->cap : THEAP_MIN_CAP;

	/* idx is 32 bits wide and UINT32_MAX means detached. */
	if(n >= (size_t)CX_TIMER_DETACHED - 1 || h->len >= (size_t)CX_TIMER_DETACHED - 1 - n){
		return -1;
	}
	if(h->len + n <= h->cap){
		return 0;
	}
	while(ncap < h->len + n){
		if(ncap > SIZE_MAX / 2){
			return -1;
		}
		ncap *= 2;
	}
	if(ncap > SIZE_MAX / sizeof(*h->v)){
		return -1;
	}
	cx_theap_slot *nv = realloc(h->v, ncap * sizeof(*nv));
	if(nv == NULL){
		return -1;
	}
	h->v = nv;
	h->cap = ncap;
	return 0;
}

int cx_theap_push(cx_theap *h, cx_timer *t)
{
	if(cx_theap_reserve(h, 1) != 0){
		return -1;
	}
	h->len++;
	place(h, h->len - 1, (cx_theap_slot){.due = t->due, .t = t});
	sift_up(h, h->len - 1);
	return 0;
}

/* True when t sits in h at its recorded position. */
static bool in_heap(const cx_theap *h, const cx_timer *t)
{
	return t->idx != CX_TIMER_DETACHED && t->idx < h->len && h->v[t->idx].t == t;
}

/* Restores order around slot i, whose due time may have moved either way. */
static void resift(cx_theap *h, size_t i)
{
	if(i > 0 && h->v[(i - 1) / 2].due > h->v[i].due){
		sift_up(h, i);
	}else{
		sift_down(h, i);
	}
}

void cx_theap_remove(cx_theap *h, cx_timer *t)
{
	size_t i;

	if(!in_heap(h, t)){
		return;
	}
	i = t->idx;
	t->idx = CX_TIMER_DETACHED;
	h->len--;
	if(i == h->len){
		return;
	}
	/* The last timer fills the hole; it may belong above or below it. */
	place(h, i, h->v[h->len]);
	resift(h, i);
}

void cx_theap_update(cx_theap *h, cx_timer *t)
{
	if(!in_heap(h, t)){
		return;
	}
	h->v[t->idx].due = t->due;
	resift(h, t->idx);
}

cx_timer *cx_theap_top(const cx_theap *h)
{
	return h->len ? h->v[0].t : NULL;
}
