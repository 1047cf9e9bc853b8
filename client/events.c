/*
 * Events of libcardex: their names, their release, and the FIFO that holds
 * them between the moment a reply is filtered and the moment the application
 * takes it (cardex_wait or the callback of cardex_loop).
 */
#include <stdlib.h>
#include <string.h>

#include "cardex_int.h"

struct cardex__qnode {
	cardex_event ev;
	cardex__qnode *next;
};

static const char *const event_names[] = {
	[CARDEX_EV_OFFER] = "offer",
	[CARDEX_EV_MATCH] = "match",
	[CARDEX_EV_ATTEMPT] = "attempt",
	[CARDEX_EV_REVOKED] = "revoked",
	[CARDEX_EV_CARD] = "card",
	[CARDEX_EV_SAFETY] = "safety",
	[CARDEX_EV_SENT] = "sent",
	[CARDEX_EV_EXPIRED] = "expired",
	[CARDEX_EV_ERROR] = "error",
};

/* Never NULL: an out-of-range type is "unknown". */
const char *cardex_event_type_name(cardex_event_type t)
{
	if(t < CARDEX_EV_OFFER || t > CARDEX_EV_SAFETY) {
		return "unknown";
	}
	return event_names[t];
}

/* Wipes the card before freeing it: it is personal data of the peer. */
void cardex_event_clear(cardex_event *ev)
{
	if(!ev) {
		return;
	}
	if(ev->card) {
		cx_wipe(ev->card, ev->card_len);
		free(ev->card);
	}
	cx_wipe(ev, sizeof(*ev));
	memset(ev, 0, sizeof(*ev));
}

int cardex__queue_push(cardex__queue *q, cardex_event *ev)
{
	cardex__qnode *n = calloc(1, sizeof(*n));

	if(!n) {
		cardex_event_clear(ev);
		return CARDEX_ENOMEM;
	}
	n->ev = *ev;
	ev->card = NULL;
	ev->card_len = 0;
	if(q->tail) {
		q->tail->next = n;
	} else {
		q->head = n;
	}
	q->tail = n;
	q->len++;
	return CARDEX_OK;
}

bool cardex__queue_pop(cardex__queue *q, cardex_event *ev)
{
	cardex__qnode *n = q->head;

	if(!n) {
		return false;
	}
	q->head = n->next;
	if(!q->head) {
		q->tail = NULL;
	}
	q->len--;
	*ev = n->ev;
	cx_wipe(&n->ev, sizeof(n->ev));
	free(n);
	return true;
}

void cardex__queue_clear(cardex__queue *q)
{
	cardex_event ev;

	while(cardex__queue_pop(q, &ev)) {
		cardex_event_clear(&ev);
	}
}
