/*
 * Binary min-heap of embedded timers with back-indices (engine_heap.h).
 */
#include "engine_heap.h"

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
		h->v[i]->idx = CX_TIMER_DETACHED;
	}
	free(h->v);
	cx_theap_init(h);
}

static void place(cx_theap *h, size_t i, cx_timer *t)
{
	h->v[i] = t;
	t->idx = (uint32_t)i;
}

/* Moves the timer at i towards the root until its parent is not later. */
static void sift_up(cx_theap *h, size_t i)
{
	cx_timer *t = h->v[i];

	while(i > 0){
		size_t parent = (i - 1) / 2;
		if(h->v[parent]->due <= t->due){
			break;
		}
		place(h, i, h->v[parent]);
		i = parent;
	}
	place(h, i, t);
}

/* Moves the timer at i towards the leaves until no child is earlier. */
static void sift_down(cx_theap *h, size_t i)
{
	cx_timer *t = h->v[i];

	for(;;){
		size_t child = 2 * i + 1;
		if(child >= h->len){
			break;
		}
		if(child + 1 < h->len && h->v[child + 1]->due < h->v[child]->due){
			child++;
		}
		if(t->due <= h->v[child]->due){
			break;
		}
		place(h, i, h->v[child]);
		i = child;
	}
	place(h, i, t);
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
	cx_timer **nv = realloc(h->v, ncap * sizeof(*nv));
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
	place(h, h->len - 1, t);
	sift_up(h, h->len - 1);
	return 0;
}

void cx_theap_remove(cx_theap *h, cx_timer *t)
{
	size_t i = t->idx;

	if(i == CX_TIMER_DETACHED || i >= h->len || h->v[i] != t){
		return;
	}
	t->idx = CX_TIMER_DETACHED;
	h->len--;
	if(i == h->len){
		return;
	}
	/* The last timer fills the hole; it may belong above or below it. */
	place(h, i, h->v[h->len]);
	cx_theap_update(h, h->v[i]);
}

void cx_theap_update(cx_theap *h, cx_timer *t)
{
	size_t i = t->idx;

	if(i == CX_TIMER_DETACHED || i >= h->len || h->v[i] != t){
		return;
	}
	if(i > 0 && h->v[(i - 1) / 2]->due > t->due){
		sift_up(h, i);
	}else{
		sift_down(h, i);
	}
}

cx_timer *cx_theap_top(const cx_theap *h)
{
	return h->len ? h->v[0] : NULL;
}
