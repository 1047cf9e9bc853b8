/*
 * libcardex terminals driven by integration tests: see term.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "term.h"

char *term_load(const char *name, size_t *len)
{
	const char *dir = getenv("CARDEX_TEST_DATA");
	char path[1024];
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", name);
	buf = cxb_read_file(path, len);
	if(buf == NULL) {
		fail_msg("cannot read %s", path);
	}
	assert_true(*len > 0);
	return buf;
}

void term_reset(struct term *t)
{
	for(size_t i = 0; i < t->n; i++) {
		cardex_event_clear(&t->evs[i]);
	}
	t->n = 0;
}

void term_close(struct term *t)
{
	term_reset(t);
	cardex_close(t->cx);
	t->cx = NULL;
}

void term_record(struct term *t, const cardex_event *ev)
{
	assert_true(t->n < CXT_MAX_EVS);
	t->evs[t->n] = *ev;
	if(ev->card) {
		t->evs[t->n].card = malloc(ev->card_len + 1);
		assert_non_null(t->evs[t->n].card);
		memcpy(t->evs[t->n].card, ev->card, ev->card_len + 1);
	}
	t->n++;
}

void term_turn(struct term *t, int ms)
{
	cardex_event ev;
	int rc;

	if(!t || !t->cx) {
		return;
	}
	rc = cardex_wait(t->cx, ms, &ev);
	if(rc == CARDEX_ETIMEOUT) {
		return;
	}
	assert_int_equal(rc, CARDEX_OK);
	term_record(t, &ev);
	cardex_event_clear(&ev);
}

const cardex_event *term_find(const struct term *t, cardex_event_type type)
{
	return term_find_from(t, type, 0);
}

const cardex_event *term_find_from(const struct term *t, cardex_event_type type, size_t from)
{
	for(size_t i = from; i < t->n; i++) {
		if(t->evs[i].type == type) {
			return &t->evs[i];
		}
	}
	return NULL;
}

size_t term_count(const struct term *t, cardex_event_type type)
{
	size_t c = 0;

	for(size_t i = 0; i < t->n; i++) {
		c += t->evs[i].type == type;
	}
	return c;
}

const cardex_event *term_wait_for(struct term *t, cardex_event_type type, struct term *also)
{
	return term_wait_from(t, type, also, 0);
}

const cardex_event *term_wait_from(struct term *t, cardex_event_type type, struct term *also, size_t from)
{
	long long deadline = cxb_now_ms() + CXT_WAIT_MS;

	while(!term_find_from(t, type, from)) {
		if(cxb_now_ms() > deadline) {
			fail_msg("no %s event within %d ms", cardex_event_type_name(type), CXT_WAIT_MS);
		}
		term_turn(t, CXT_SLICE_MS);
		term_turn(also, CXT_SLICE_MS);
	}
	return term_find_from(t, type, from);
}

void term_quiet(struct term *t, struct term *also, int ms)
{
	long long end = cxb_now_ms() + ms;

	while(cxb_now_ms() < end) {
		term_turn(t, CXT_SLICE_MS);
		term_turn(also, CXT_SLICE_MS);
	}
}
