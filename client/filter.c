/*
 * The event filter of libcardex. A terminal's persistent session may hold
 * replies from an earlier run, QoS 1 may deliver a reply twice, and after a
 * reconnect libmosquitto resends the requests whose PUBACK it did not get,
 * so that the plugin may process one request twice and answer both copies
 * (the second refused, or creating a copy of an offer). The handle reports
 * only replies that answer a request it made (by the "ref" the plugin
 * echoes) or that belong to an exchange it learnt through such a reply, and
 * each request's outcome once:
 *   offer                   once per live offer ref;
 *   attempt                 when attempts_left drops below the last one reported;
 *   revoked, expired(offer) once per live offer ref;
 *   revoked "replaced"      of the live ref: held until the next reply, which
 *                           the plugin sends right after it: the "offer" reply
 *                           of the replacing offer. The same ref means that our
 *                           own offer, resent, replaced itself and lives on
 *                           (dropped); another ref, that another connection of
 *                           this terminal replaced it (reported);
 *   anything about the offer ref after its match: dropped, the match consumed
 *                           the offer, so only a copy created by a resend of
 *                           it can still be answered, tried or expire;
 *   match                   once per exchange and once per offer or claim ref
 *                           (each matches once; a second exchange can only
 *                           come from resent copies of both);
 *   card, sent, expired(exchange)  once per known exchange;
 *   error with a ref        only as the first answer of its offer or claim: an
 *                           error after the match, the "offer" reply or an
 *                           earlier error of the same request refuses a resend;
 *   error for a card        only while a card we sent in that exchange awaits
 *                           its answer: the plugin answers each card once, so
 *                           "already-sent" or "unknown-exchange" after "sent"
 *                           refuses a resend, unless we sent the card again.
 * A card, sent or expired reply naming an exchange that is not known yet (a
 * card overtaking its match) is held in a small bounded list and replayed
 * when the match comes.
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

void cardex__filter_init(cardex__filter *f, const char *prefix)
{
	memset(f, 0, sizeof(*f));
	f->prefix = prefix ? prefix : "";
	f->offer_attempts = UINT32_MAX;
}

void cardex__exchange_release(cardex__exchange *x)
{
	cx_seal_free(x->seal);
	x->seal = NULL;
	if(x->out_card) {
		cx_wipe(x->out_card, x->out_len);
		free(x->out_card);
		x->out_card = NULL;
	}
	if(x->in_card) {
		cx_wipe(x->in_card, x->in_len);
		free(x->in_card);
		x->in_card = NULL;
	}
}

void cardex__filter_free(cardex__filter *f)
{
	size_t i;

	for(i = 0; i < CARDEX__CLAIM_REFS; i++) {
		cx_seal_free(f->claims[i].seal);
		f->claims[i].seal = NULL;
	}
	for(i = 0; i < CARDEX__EXCHANGES; i++) {
		cardex__exchange_release(&f->xs[i]);
	}
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
	f->offer_refused = false;
	f->offer_matched = false;
	f->offer_revoked = false;
	f->offer_expired = false;
	f->offer_replace_held = false;
	f->offer_attempts = UINT32_MAX;
}

void cardex__filter_new_claim(cardex__filter *f, const char *ref, cx_seal *seal)
{
	cardex__claim *c = &f->claims[f->claim_next];

	cx_seal_free(c->seal);
	memset(c, 0, sizeof(*c));
	c->seal = seal;
	copy_str(c->ref, sizeof(c->ref), ref);
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

/* The live claim with this ref, or NULL. */
static cardex__claim *find_claim(cardex__filter *f, const char *ref)
{
	size_t i;

	if(!ref[0]) {
		return NULL;
	}
	for(i = 0; i < CARDEX__CLAIM_REFS; i++) {
		if(f->claims[i].ref[0] && strcmp(f->claims[i].ref, ref) == 0) {
			return &f->claims[i];
		}
	}
	return NULL;
}

/* Drops a reply that only a resent request, or a redelivered answer, causes. */
static int drop_resend(cardex__filter *f)
{
	f->resend_drops++;
	return CARDEX_OK;
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
	cardex__exchange_release(slot);
	memset(slot, 0, sizeof(*slot));
	slot->used = true;
	slot->seq = ++f->xseq;
	copy_str(slot->xid, sizeof(slot->xid), xid);
	copy_str(slot->peer, sizeof(slot->peer), peer);
	return slot;
}

/* Holds msg (taking its card) until its exchange is known; evicts the oldest when full. */
static void hold(cardex__filter *f, cx_reply_msg *msg)
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
	slot->msg = *msg;
	msg->card = NULL;
	msg->card_len = 0;
	msg->ct = NULL;
	msg->ct_len = 0;
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

static int dispatch(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg);

/* Replays, in arrival order, the held replies of an exchange that just became known. */
static int release_held(cardex__filter *f, cardex__queue *q, const char *xid)
{
	int rc = CARDEX_OK;

	for(;;) {
		cardex__held *next = NULL;
		cx_reply_msg msg;
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
		memset(next, 0, sizeof(*next));
		r = dispatch(f, q, &msg);
		cx_reply_msg_clear(&msg);
		if(r != CARDEX_OK) {
			rc = r;
		}
	}
}

static int on_match(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	cardex__exchange *x;
	bool *matched;
	cardex__claim *c = NULL;
	int rc;

	if(is_offer_ref(f, msg->ref)) {
		matched = &f->offer_matched;
	} else if((c = find_claim(f, msg->ref)) != NULL) {
		matched = &c->matched;
	} else {
		return CARDEX_OK;
	}
	if(cardex__filter_exchange(f, msg->xid)) {
		return CARDEX_OK;
	}
	if(!cx_xid_valid(msg->xid, strlen(msg->xid)) || !cx_id_valid(msg->peer, strlen(msg->peer))) {
		return CARDEX_OK;
	}
	if(*matched) {
		/*
		 * An offer is consumed by its match and a claim is evaluated once:
		 * a second exchange for the same ref paired a resent copy of the
		 * offer with a resent copy of the claim.
		 */
		return drop_resend(f);
	}
	*matched = true;
	x = add_exchange(f, msg->xid, msg->peer);
	if(c) {
		/* The key pair the claim committed to now belongs to the exchange. */
		x->seal = c->seal;
		c->seal = NULL;
		x->sealed = x->seal != NULL;
	} else {
		x->offerer = true;
		x->has_commit = msg->commit[0]
			&& cx_b64u_decode(msg->commit, strlen(msg->commit), x->peer_commit,
				sizeof(x->peer_commit)) == CX_SEAL_KEY_LEN;
	}
	rc = emit(q, CARDEX_EV_MATCH, msg);
	if(rc != CARDEX_OK) {
		return rc;
	}
	return release_held(f, q, msg->xid);
}

/* card, sent and expired(exchange): once per known exchange. */
static int on_exchange_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	cardex__exchange *x = cardex__filter_exchange(f, msg->xid);

	if(!x) {
		if(cx_xid_valid(msg->xid, strlen(msg->xid))) {
			hold(f, msg);
		}
		return CARDEX_OK;
	}
	switch(msg->type) {
	case CX_REPLY_PK:
		if(x->pk_seen || strcmp(msg->peer, x->peer) != 0
				|| cx_b64u_decode(msg->pk, strlen(msg->pk), x->peer_pk, sizeof(x->peer_pk))
					!= CX_SEAL_KEY_LEN) {
			return CARDEX_OK;
		}
		x->pk_seen = true;
		return emit(q, (cardex_event_type)CARDEX__EV_PK, msg);
	case CX_REPLY_CARD:
		if(x->card_seen || strcmp(msg->peer, x->peer) != 0) {
			return CARDEX_OK;
		}
		x->card_seen = true;
		if(msg->ct) {
			/* Sealed: the event carries the ciphertext until e2e.c opens it. */
			cardex_event ev;
			copy_str(x->in_n, sizeof(x->in_n), msg->n);
			make_event(&ev, CARDEX_EV_CARD, msg);
			ev.sealed = true;
			ev.card = msg->ct;
			ev.card_len = msg->ct_len;
			msg->ct = NULL;
			msg->ct_len = 0;
			return cardex__queue_push(q, &ev);
		}
		return emit(q, CARDEX_EV_CARD, msg);
	case CX_REPLY_SENT:
		if(x->sent_seen || strcmp(msg->peer, x->peer) != 0) {
			return CARDEX_OK;
		}
		x->sent_seen = true;
		if(x->sends_pending > 0) {
			x->sends_pending--;
		}
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
	if(f->offer_matched) {
		/* Its match consumed the offer: this concerns a copy a resent offer created. */
		return drop_resend(f);
	}
	switch(msg->type) {
	case CX_REPLY_OFFER:
		if(f->offer_replace_held) {
			/* Our offer, resent, replaced itself: it lives on, same ref, same key. */
			f->offer_replace_held = false;
			if(f->offer_acked) {
				return drop_resend(f);
			}
		}
		flag = &f->offer_acked;
		break;
	case CX_REPLY_REVOKED:
		if(strcmp(msg->reason, "replaced") == 0 && !f->offer_revoked) {
			/* Whose offer replaced it, the next reply tells (cardex__filter_reply). */
			f->offer_replace_held = true;
			return CARDEX_OK;
		}
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

/* True when msg is what follows a held "replaced" revocation when our own offer replaced itself. */
static bool continues_own_replacement(const cardex__filter *f, const cx_reply_msg *msg)
{
	if(!is_offer_ref(f, msg->ref)) {
		return false;
	}
	if(msg->type == CX_REPLY_OFFER) {
		return true;
	}
	/* The revocation itself again: a QoS 1 redelivery. */
	return msg->type == CX_REPLY_REVOKED && strcmp(msg->reason, "replaced") == 0;
}

/* Reports the held "replaced" revocation: another connection of this terminal made an offer. */
static int release_replaced(cardex__filter *f, cardex__queue *q)
{
	cx_reply_msg msg;

	f->offer_replace_held = false;
	f->offer_revoked = true;
	memset(&msg, 0, sizeof(msg));
	msg.type = CX_REPLY_REVOKED;
	copy_str(msg.ref, sizeof(msg.ref), f->offer_ref);
	copy_str(msg.reason, sizeof(msg.reason), "replaced");
	return emit(q, CARDEX_EV_REVOKED, &msg);
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
		if(!x->used || x->sends_pending == 0) {
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

/* An error answering an offer or claim: only the first answer of that request counts. */
static int on_ref_error(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	cardex__claim *c;

	if(is_offer_ref(f, msg->ref)) {
		if(f->offer_acked || f->offer_refused || f->offer_matched) {
			return drop_resend(f);
		}
		f->offer_refused = true;
		return emit(q, CARDEX_EV_ERROR, msg);
	}
	c = find_claim(f, msg->ref);
	if(!c) {
		return CARDEX_OK;
	}
	if(c->matched || c->refused) {
		return drop_resend(f);
	}
	c->refused = true;
	return emit(q, CARDEX_EV_ERROR, msg);
}

static int on_error(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	cardex__exchange *x;

	if(msg->ref[0]) {
		return on_ref_error(f, q, msg);
	}
	if(msg->xid[0]) {
		/* Card errors only: we send no card before the match, so an unknown exchange is not ours. */
		x = cardex__filter_exchange(f, msg->xid);
	} else {
		x = unanswered_card(f, msg->topic);
		if(x) {
			copy_str(msg->xid, sizeof(msg->xid), x->xid);
		}
	}
	if(!x) {
		return CARDEX_OK;
	}
	if(msg->code == CX_CODE_ALREADY_SENT && strcmp(msg->message, CX_MSG_KEY_ALREADY_SENT) == 0) {
		/* We send our key once: this refuses a resent copy of it, not a card. */
		return drop_resend(f);
	}
	if(x->sends_pending == 0) {
		/* Every card we sent in it has its answer: this one refuses a resent copy. */
		return drop_resend(f);
	}
	x->sends_pending--;
	return emit(q, CARDEX_EV_ERROR, msg);
}

static int dispatch(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
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
		return on_exchange_reply(f, q, msg);
	case CX_REPLY_MATCH:
		return on_match(f, q, msg);
	case CX_REPLY_CARD:
	case CX_REPLY_SENT:
		return on_exchange_reply(f, q, msg);
	case CX_REPLY_ERROR:
		return on_error(f, q, msg);
	case CX_REPLY_PK:
		return on_exchange_reply(f, q, msg);
	}
	return CARDEX_OK;
}

int cardex__filter_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg)
{
	int rc = CARDEX_OK;
	int r;

	if(f->offer_replace_held && !continues_own_replacement(f, msg)) {
		rc = release_replaced(f, q);
	}
	r = dispatch(f, q, msg);
	if(r != CARDEX_OK) {
		rc = r;
	}
	cx_reply_msg_clear(msg);
	return rc;
}
