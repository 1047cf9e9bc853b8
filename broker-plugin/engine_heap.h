/*
 * Binary min-heap of timers for the exchange engine.
 *
 * Timers are embedded in the objects they time (offers, exchanges, rate
 * limiters) and carry their own heap position, so that an object consumed
 * before its time removes its timer in O(log n) without a search. The heap
 * stores pointers, each beside a copy of its timer's due time; it never owns
 * or frees a timer.
 */
#ifndef CX_ENGINE_HEAP_H
#define CX_ENGINE_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* Position of a timer that is in no heap. */
#define CX_TIMER_DETACHED UINT32_MAX

typedef struct {
	int64_t due;  /* monotonic ms at which the timer fires */
	uint32_t idx; /* position in the heap, CX_TIMER_DETACHED when not in it */
	uint8_t kind; /* which kind of object embeds this timer (the engine's business) */
} cx_timer;

/*
 * One heap slot. The due time is copied next to the pointer so that sifting
 * compares slots without reading the timers, which lie scattered in memory
 * (a cache miss each with a million offers); only a timer that moves is
 * touched, to update its idx.
 */
typedef struct {
	int64_t due; /* == t->due while t is in the heap */
	cx_timer *t;
} cx_theap_slot;

typedef struct {
	cx_theap_slot *v; /* v[0] holds the earliest timer */
	size_t len;
	size_t cap;
} cx_theap;

/* An empty heap that owns no memory yet. Cannot fail. */
void cx_theap_init(cx_theap *h);

/* Frees the pointer array (not the timers); the heap is empty afterwards. Accepts NULL. */
void cx_theap_free(cx_theap *h);

/*
 * Adds t (which must be detached) ordered by t->due. Returns 0, or -1 when
 * the array cannot grow (t stays detached and the heap unchanged).
 */
int cx_theap_push(cx_theap *h, cx_timer *t);

/*
 * Makes sure the next n pushes cannot fail for lack of memory. Returns 0, or
 * -1 when the array cannot grow (the heap is unchanged).
 */
int cx_theap_reserve(cx_theap *h, size_t n);

/* Removes t from the heap when it is in it; otherwise does nothing. Cannot fail. */
void cx_theap_remove(cx_theap *h, cx_timer *t);

/*
 * Restores order after t->due changed while t was in the heap (the heap's
 * copy of it is refreshed here). Cannot fail.
 */
void cx_theap_update(cx_theap *h, cx_timer *t);

/* The earliest timer, or NULL when the heap is empty. */
cx_timer *cx_theap_top(const cx_theap *h);

#endif
