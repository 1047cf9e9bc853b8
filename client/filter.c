/*
 * The event filter of libcardex. A terminal's persistent session may hold
 * replies from an earlier run, and QoS 1 may deliver a reply twice, so the
 * handle reports only replies that answer a request it made (by the "ref"
 * the plugin echoes) or that belong to an exchange it learnt through such a
 * reply, and each of them once:
 *   offer, revoked, expired(offer)  once per live offer ref;
 *   attempt                         when attempts_left drops below the last one reported;
 *   match                           once per exchange, only with a live ref;
 *   card, sent, expired(exchange)   once per known exchange;
 *   error                           with a live ref or a known exchange, exact
 *                                   duplicates (same payload) dropped.
 * A reply naming an exchange that is not known yet (a card overtaking its
 * match) is held in a small bounded list and replayed when the match comes.
 */
#include <stdlib.h>
#include <string.h>

#include "cardex_int.h"
#include "topic.h"

/* Copies a NUL-terminated src into dst[cap], cutting it when needed. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

uint64_t cardex__hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

void cardex__filter_init(cardex__filter *f, const char *prefix)
{
	memset(f, 0, sizeof(*f));
	f->prefix = prefix ? prefix : "";
	f->offer_attempts = UINT32_MAX;
}

void cardex__filter_free(cardex__filter *f)
{
	size_t i;

	for(i = 0; i < CARDEX__PENDING; i++) {
		if(f->held[i].used) {
			cx_reply_msg_clear(&f->held[i].msg);
			f->held[i].used = false;
		}
	}
}

void cardex__filter_new_offer(cardex__filter *f, const char *ref)
{
	copy_str(f->offer_ref, sizeof(f->offer_ref), ref);
	f->offer_acked = false;
	f->offer_revoked = false;
	f->offer_expired = false;
	f->offer_attempts = UINT32_MAX;
}

void cardex__filter_new_claim(cardex__filter *f, const char *ref)
{
	copy_str(f->claim_refs[f->claim_next], sizeof(f->claim_refs[0]), ref);
	f->claim_next = (f->claim_next + 1) % CARDEX__CLAIM_REFS;
}

cardex__exchange *cardex__filter_exchange(cardex__filter *f, const char *xid)
{
	size_t i;

	if(!xid || !xid[0]) {
		return NULL;
	}
	for(i = 0; i < CARDEX__EXCHANGES; i++) {
		if(f->xs[i].used && strcmp(f->xs[i].xid, xid) == 0) {
			return &f->xs[i];
		}
	}
	return NULL;
}

static bool is_offer_ref(const cardex__filter *f, const char *ref)
{
	return ref[0] && f->offer_ref[0] && strcmp(ref, f->offer_ref) == 0;
}

static bool is_live_ref(const cardex__filter *f, const char *ref)
{
	size_t i;

	if(!ref[0]) {
		return false;
	}
	if(is_offer_ref(f, ref)) {
		return true;
	}
	for(i = 0; i < CARDEX__CLAIM_REFS; i++) {
		if(f->claim_refs[i][0] && strcmp(f->claim_refs[i], ref) == 0) {
			return true;
		}
	}
	return false;
}

/* Remembers hash; returns false when it was already there (a redelivery). */
static bool seen_first(cardex__filter *f, uint64_t hash)
{
	unsigned i;

	for(i = 0; i < f->seen_len; i++) {
		if(f->seen[i] == hash) {
			return false;
		}
	}
	f->seen[f->seen_next] = hash;
	f->seen_next = (f->seen_next + 1) % CARDEX__SEEN;
	if(f->seen_len < CARDEX__SEEN) {
		f->seen_len++;
	}
	return true;
}

/* Registers a new exchange, forgetting the oldest one when the table is full. */
static cardex__exchange *add_exchange(cardex__filter *f, const char *xid, const char *peer)
{
	cardex__exchange *slot = NULL;
	size_t i;

	for(i = 0; i < CARDEX__EXCHANGES; i++) {
		if(!f->xs[i].used) {
			slot = &f->xs[i];
			break;
		}
		if(!slot || f->xs[i].seq < slot->seq) {
			slot = &f->xs[i];
		}
	}
	memset(slot, 0, sizeof(*slot));
	slot->used = true;
	slot->seq = ++f->xseq;
	copy_str(slot->xid, sizeof(slot->xid), xid);
	copy_str(slot->peer, sizeof(slot->peer), peer);
	return slot;
}

/* Holds msg (taking its card) until its exchange is known; evicts the oldest when full. */
static void hold(cardex__filter *f, cx_reply_msg *msg, uint64_t hash)
{
	cardex__held *slot = NULL;
	size_t i;

	for(i = 0; i < CARDEX__PENDING; i++) {
		if(!f->held[i].used) {
			slot = &f->held[i];
			break;
		}
		if(!slot || f->held[i].seq < slot->seq) {
			slot = &f->held[i];
		}
	}
	if(slot->used) {
		cx_reply_msg_clear(&slot->msg);
	}
	slot->used = true;
	slot->seq = ++f->hseq;
	slot->hash = hash;
	slot->msg = *msg;
	msg->card = NULL;
	msg->card_len = 0;
}

/* Builds the event of a reply; moves the card out of msg. */
static void make_event(cardex_event *ev, cardex_event_type type, cx_reply_msg *msg)
{
	const char *code = msg->code_name;

	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	copy_str(ev->ref, sizeof(ev->ref), msg->ref);
	copy_str(ev->exchange, sizeof(ev->exchange), msg->xid);
	copy_str(ev->peer, sizeof(ev->peer), msg->peer);
	ev->expires_in = msg->expires_in;
	ev->attempts_left = msg->attempts_left;
	copy_str(ev->reason, sizeof(ev->reason), msg->reason);
	ev->offer = msg->offer;
	if(!code[0] && cx_code_name(msg->code)) {
		code = cx_code_name(msg->code);
	}
	copy_str(ev->code, sizeof(ev->code), code);
	copy_str(ev->message, sizeof(ev->message), msg->message);
	copy_str(ev->topic, sizeof(ev->topic), msg->topic);
	ev->retry_after = msg->retry_after;
	ev->card = msg->card;
	ev->card_len = msg->card_len;
	msg->card = NULL;
	msg->card_len = 0;
}

static int emit(cardex__queue *q, cardex_event_type type, cx_reply_msg *msg)
{
	cardex_event ev;

	make_event(&ev, type, msg);
	return cardex__queue_push(q, &ev);
}

static int dispatch(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg, uint64_t hash);

/* Replays, in arrival order, the held replies of an exchange that just became known. */
static int release_held(cardex__filter *f, cardex__queue *q, const char *xid)
{
	int rc = CARDEX_OK;

	for(;;) {
		cardex__held *next = NULL;
		cx_reply_msg msg;
		uint64_t hash;
		size_t i;
		int r;

		for(i = 0; i < CARDEX__PENDING; i++) {
			cardex__held *h = &f->held[i];
			if(h->used && strcmp(h->msg.xid, xid) == 0 && (!next || h->seq < next->seq)) {
				next = h;
			}
		}
		if(!next) {
			return rc;
		}
		msg = next->msg;
		hash = next->hash;
		memset(next, 0, sizeof(*next));
		r = dispatch(f, q, &msg, hash);
		cx_reply_msg_clear(&msg);
		if(r != CARDEX_OK) {
			rc = r;
		}
	}
}

static int on_match(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	int rc;

	if(!is_live_ref(f, msg->ref) || cardex__filter_exchange(f, msg->xid)) {
		return CARDEX_OK;
	}
	if(!cx_xid_valid(msg->xid, strlen(msg->xid)) || !cx_id_valid(msg->peer, strlen(msg->peer))) {
		return CARDEX_OK;
	}
	add_exchange(f, msg->xid, msg->peer);
	rc = emit(q, CARDEX_EV_MATCH, msg);
	if(rc != CARDEX_OK) {
		return rc;
	}
	return release_held(f, q, msg->xid);
}

/* card, sent and expired(exchange): once per known exchange. */
static int on_exchange_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg,
		uint64_t hash)
{
	cardex__exchange *x = cardex__filter_exchange(f, msg->xid);

	if(!x) {
		if(cx_xid_valid(msg->xid, strlen(msg->xid))) {
			hold(f, msg, hash);
		}
		return CARDEX_OK;
	}
	switch(msg->type) {
	case CX_REPLY_CARD:
		if(x->card_seen || strcmp(msg->peer, x->peer) != 0) {
			return CARDEX_OK;
		}
		x->card_seen = true;
		return emit(q, CARDEX_EV_CARD, msg);
	case CX_REPLY_SENT:
		if(x->sent_seen || strcmp(msg->peer, x->peer) != 0) {
			return CARDEX_OK;
		}
		x->sent_seen = true;
		x->send_pending = false;
		return emit(q, CARDEX_EV_SENT, msg);
	default:
		if(x->expired_seen) {
			return CARDEX_OK;
		}
		x->expired_seen = true;
		return emit(q, CARDEX_EV_EXPIRED, msg);
	}
}

static int on_offer_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	bool *flag;

	if(!is_offer_ref(f, msg->ref)) {
		return CARDEX_OK;
	}
	switch(msg->type) {
	case CX_REPLY_OFFER:
		flag = &f->offer_acked;
		break;
	case CX_REPLY_REVOKED:
		flag = &f->offer_revoked;
		break;
	case CX_REPLY_EXPIRED:
		flag = &f->offer_expired;
		break;
	default: /* attempt: counts only go down, so a lower count is news */
		if(msg->attempts_left >= f->offer_attempts) {
			return CARDEX_OK;
		}
		f->offer_attempts = msg->attempts_left;
		return emit(q, CARDEX_EV_ATTEMPT, msg);
	}
	if(*flag) {
		return CARDEX_OK;
	}
	*flag = true;
	return emit(q, msg->type == CX_REPLY_OFFER ? CARDEX_EV_OFFER
			: msg->type == CX_REPLY_REVOKED ? CARDEX_EV_REVOKED : CARDEX_EV_EXPIRED, msg);
}

/*
 * An error that carries neither ref nor exchange (too-large: the plugin did
 * not parse the payload) is ours only when it names the card topic of an
 * exchange whose card we sent and which has had no answer yet.
 */
static cardex__exchange *unanswered_card(cardex__filter *f, const char *topic)
{
	char want[512];
	size_t i;

	for(i = 0; i < CARDEX__EXCHANGES; i++) {
		cardex__exchange *x = &f->xs[i];
		if(!x->used || !x->send_pending) {
			continue;
		}
		if(cx_topic_build(want, sizeof(want), f->prefix, CX_TOPIC_CARD, x->peer) == 0) {
			continue;
		}
		if(strcmp(want, topic) == 0) {
			return x;
		}
	}
	return NULL;
}

static int on_error(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg, uint64_t hash)
{
	cardex__exchange *x = NULL;

	if(msg->ref[0]) {
		if(!is_live_ref(f, msg->ref)) {
			return CARDEX_OK;
		}
	} else if(msg->xid[0]) {
		x = cardex__filter_exchange(f, msg->xid);
		if(!x) {
			if(cx_xid_valid(msg->xid, strlen(msg->xid))) {
				hold(f, msg, hash);
			}
			return CARDEX_OK;
		}
	} else {
		x = unanswered_card(f, msg->topic);
		if(!x) {
			return CARDEX_OK;
		}
		copy_str(msg->xid, sizeof(msg->xid), x->xid);
	}
	if(!seen_first(f, hash)) {
		return CARDEX_OK;
	}
	if(x) {
		x->send_pending = false;
	}
	return emit(q, CARDEX_EV_ERROR, msg);
}

static int dispatch(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg, uint64_t hash)
{
	switch(msg->type) {
	case CX_REPLY_OFFER:
	case CX_REPLY_ATTEMPT:
	case CX_REPLY_REVOKED:
		return on_offer_reply(f, q, msg);
	case CX_REPLY_EXPIRED:
		if(msg->offer) {
			return on_offer_reply(f, q, msg);
		}
		return on_exchange_reply(f, q, msg, hash);
	case CX_REPLY_MATCH:
		return on_match(f, q, msg);
	case CX_REPLY_CARD:
	case CX_REPLY_SENT:
		return on_exchange_reply(f, q, msg, hash);
	case CX_REPLY_ERROR:
		return on_error(f, q, msg, hash);
	}
	return CARDEX_OK;
}

int cardex__filter_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg, uint64_t hash)
{
	int rc = dispatch(f, q, msg, hash);

	cx_reply_msg_clear(msg);
	return rc;
}
