/*
 * libcardex terminals driven by integration tests: a handle and every event
 * it reported, turned in short slices so that two terminals in one process
 * can be driven alternately. Every wait is bounded (CXT_WAIT_MS) and fails
 * the running cmocka test when it runs out.
 */
#ifndef CX_TEST_TERM_H
#define CX_TEST_TERM_H

#include <stdbool.h>
#include <stddef.h>

#include "cardex.h"

#define CXT_WAIT_MS 8000 /* longest wait for something that should happen */
#define CXT_SLICE_MS 20  /* one turn of a handle when two are driven alternately */
#define CXT_MAX_EVS 64

/* A terminal under test and every event it reported (owned: see term_reset). */
struct term {
	cardex *cx;
	cardex_event evs[CXT_MAX_EVS];
	size_t n;
};

/*
 * The test data file name ($CARDEX_TEST_DATA/name, tests/data/name by
 * default), such as a card to send, in a malloc'ed NUL-terminated buffer;
 * *len gets its size. Fails the test when it is missing or empty.
 */
char *term_load(const char *name, size_t *len);

/* Clears every recorded event; the handle stays open. */
void term_reset(struct term *t);

/* term_reset, then closes the handle (accepts a closed one). */
void term_close(struct term *t);

/* Records a copy of ev (its card copied too); fails the test when t is full. */
void term_record(struct term *t, const cardex_event *ev);

/* One turn of up to ms milliseconds; records what it reports. Accepts NULL or a closed terminal. */
void term_turn(struct term *t, int ms);

/* The first recorded event of type, or NULL. */
const cardex_event *term_find(const struct term *t, cardex_event_type type);

/* The first event of type recorded at index from or later, or NULL. */
const cardex_event *term_find_from(const struct term *t, cardex_event_type type, size_t from);

/* Number of recorded events of type. */
size_t term_count(const struct term *t, cardex_event_type type);

/*
 * Drives t (and also, when not NULL) until t reported an event of type;
 * returns the first such event. Fails the test after CXT_WAIT_MS.
 */
const cardex_event *term_wait_for(struct term *t, cardex_event_type type, struct term *also);

/*
 * term_wait_for, counting only events recorded at index from or later: for
 * a second round of requests while t still holds the events of the first
 * (an earlier "offer" or "match" would otherwise answer the wait at once).
 */
const cardex_event *term_wait_from(struct term *t, cardex_event_type type, struct term *also, size_t from);

/* Drives both for ms milliseconds, so that late events would show up. */
void term_quiet(struct term *t, struct term *also, int ms);

#endif
