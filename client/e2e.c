/*
 * The sealing layer of libcardex (docs/protocol.md §8). Events come out of
 * the filter into cx->queue; here each one moves to cx->ready, the queue the
 * application reads, after what sealing needs: our public key goes out
 * (the offerer's at the match, once the claimer committed; the claimer's
 * once the offerer's key arrived), keys are agreed and the safety code
 * reported, sealed cards are opened (or refused), a card waiting to be sent
 * is sealed and sent as soon as the keys are agreed and, in confirm mode,
 * the user accepted the code. Plaintext goes out or is accepted only when
 * the application allows it.
 *
 * This runs from cardex_wait, cardex_loop and cardex_confirm, outside the
 * libmosquitto callbacks, so it may publish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cardex_int.h"

#define ALTERED_KEY "the server altered this exchange: the peer's key does not match its commitment; nothing was sent"
#define ALTERED_BADKEY "the server altered this exchange: the peer's key is not a valid key; nothing was sent"
#define ALTERED_CARD "the server altered this exchange: a sealed card failed authentication; nothing was saved"
#define ALTERED_EARLY "the server altered this exchange: a sealed card came before the keys; nothing was saved"
#define ALTERED_PLAIN "the server altered this exchange: a plaintext card came in a sealed exchange; nothing was saved"
#define NOT_SEALED_MATCH "the peer does not seal this exchange: no card is sent or accepted in plaintext (allow plaintext to go on)"
#define NOT_SEALED_CARD "the peer sent its card in plaintext: it was not accepted, and no card was sent (allow plaintext to go on)"

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* An event of this handle's own making about exchange x. */
static int local_event(cardex *cx, const cardex__exchange *x, cardex_event_type type, const char *code,
		const char *message)
{
	cardex_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	copy_str(ev.exchange, sizeof(ev.exchange), x->xid);
	copy_str(ev.peer, sizeof(ev.peer), x->peer);
	copy_str(ev.code, sizeof(ev.code), code);
	copy_str(ev.message, sizeof(ev.message), message);
	return cardex__queue_push(&cx->ready, &ev);
}

/* Ends the exchange on this side: every secret and card it holds is wiped. */
static void abort_exchange(cardex__exchange *x)
{
	x->aborted = true;
	cardex__exchange_release(x);
}

static int fail_exchange(cardex *cx, cardex__exchange *x, const char *code, const char *message)
{
	abort_exchange(x);
	return local_event(cx, x, CARDEX_EV_ERROR, code, message);
}

/*
 * Once our card went out and the peer's was opened, the direction keys
 * have done their work: they are wiped with the rest of the context.
 */
static void wipe_keys_if_done(cardex__exchange *x)
{
	if(x->card_out_sent && x->card_opened) {
		cx_seal_free(x->seal);
		x->seal = NULL;
	}
}

/* ---- sending ---- */

static int send_pk(cardex *cx, cardex__exchange *x)
{
	unsigned char pk[CX_SEAL_KEY_LEN];
	char b64[CX_SEAL_B64_32 + 1];
	char buf[256];
	size_t len;
	int rc;

	cx_seal_public(x->seal, pk);
	cx_b64u_encode(pk, sizeof(pk), b64, sizeof(b64));
	len = cx_pk_encode(x->xid, b64, buf, sizeof(buf));
	if(len >= sizeof(buf)) {
		return CARDEX_EPROTOCOL;
	}
	rc = cardex__publish_to(cx, CX_TOPIC_CARD, x->peer, buf, len);
	if(rc == CARDEX_OK) {
		x->pk_sent = true;
	}
	return rc;
}

/* Publishes {"exchange","card"} with card[0..len) in plaintext. */
static int send_plain(cardex *cx, cardex__exchange *x, const char *card, size_t len)
{
	size_t cap = len + 128;
	char *buf = malloc(cap);
	size_t need;
	int rc;

	if(!buf) {
		return CARDEX_ENOMEM;
	}
	need = cx_card_encode(x->xid, card, len, buf, cap);
	rc = need < cap ? cardex__publish_to(cx, CX_TOPIC_CARD, x->peer, buf, need) : CARDEX_EPROTOCOL;
	if(rc == CARDEX_OK) {
		x->sends_pending++;
	}
	cx_wipe(buf, cap);
	free(buf);
	return rc;
}

/* Seals the waiting card under a fresh nonce and publishes {"exchange","n","ct"}. */
static int send_sealed(cardex *cx, cardex__exchange *x)
{
	unsigned char nonce[CX_SEAL_NONCE_LEN];
	char n64[CX_SEAL_B64_NONCE + 1];
	size_t ct_len = x->out_len + CX_SEAL_TAG_LEN;
	size_t b64_len = cx_b64u_len(ct_len);
	size_t cap = b64_len + 128;
	unsigned char *ct = malloc(ct_len);
	char *ct64 = malloc(b64_len + 1);
	char *buf = malloc(cap);
	size_t need;
	int rc = CARDEX_ENOMEM;

	if(!ct || !ct64 || !buf) {
		goto cleanup;
	}
	if(b64_len > CX_SEAL_CT_B64_MAX) {
		rc = CARDEX_ETOOBIG;
		goto cleanup;
	}
	if(cx_seal_card(x->seal, (const unsigned char *)x->out_card, x->out_len, nonce, ct) != CX_SEAL_OK) {
		rc = CARDEX_ERANDOM;
		goto cleanup;
	}
	cx_b64u_encode(nonce, sizeof(nonce), n64, sizeof(n64));
	cx_b64u_encode(ct, ct_len, ct64, b64_len + 1);
	need = cx_sealed_encode(x->xid, n64, ct64, b64_len, buf, cap);
	rc = need < cap ? cardex__publish_to(cx, CX_TOPIC_CARD, x->peer, buf, need) : CARDEX_EPROTOCOL;
	if(rc == CARDEX_OK) {
		x->sends_pending++;
		x->card_out_sent = true;
		cx_wipe(x->out_card, x->out_len);
		free(x->out_card);
		x->out_card = NULL;
		x->out_len = 0;
		wipe_keys_if_done(x);
	}
cleanup:
	/* The ciphertext is no secret, but the buffers are cheap to wipe. */
	if(ct) {
		cx_wipe(ct, ct_len);
	}
	free(ct);
	free(ct64);
	free(buf);
	return rc;
}

/*
 * Does what is due in x now: our key, then a waiting card. A failed
 * publish (connection down) is tried again on the next pump. Returns the
 * result of the last send tried, CARDEX_OK when none was due.
 */
static int advance(cardex *cx, cardex__exchange *x)
{
	int rc = CARDEX_OK;

	if(!x->used || x->aborted) {
		return CARDEX_OK;
	}
	if(x->sealed && x->seal && !x->pk_sent && (x->offerer || x->agreed)) {
		rc = send_pk(cx, x);
		if(rc != CARDEX_OK) {
			return rc;
		}
	}
	if(!x->out_card) {
		return CARDEX_OK;
	}
	if(!x->sealed) {
		if(!cx->allow_plain) {
			return CARDEX_OK;
		}
		rc = send_plain(cx, x, x->out_card, x->out_len);
		if(rc == CARDEX_OK) {
			cx_wipe(x->out_card, x->out_len);
			free(x->out_card);
			x->out_card = NULL;
			x->out_len = 0;
		}
		return rc;
	}
	if(x->agreed && x->pk_sent && (!cx->confirm || x->confirmed)) {
		rc = send_sealed(cx, x);
	}
	return rc;
}

int cardex__e2e_send(cardex *cx, cardex__exchange *x, const char *card, size_t len)
{
	char *copy;

	if(x->aborted) {
		return CARDEX_EABORTED;
	}
	if(!x->sealed && !x->seal) {
		if(!cx->allow_plain) {
			return CARDEX_EPLAIN;
		}
		return send_plain(cx, x, card, len);
	}
	if(x->sealed && !x->seal) {
		/* Both cards passed and the keys are wiped: nothing can be sealed in it any more. */
		return CARDEX_ESTATE;
	}
	copy = malloc(len + 1);
	if(!copy) {
		return CARDEX_ENOMEM;
	}
	memcpy(copy, card, len);
	copy[len] = '\0';
	if(x->out_card) {
		cx_wipe(x->out_card, x->out_len);
		free(x->out_card);
	}
	x->out_card = copy;
	x->out_len = len;
	/* Sending again (after "sent") is the application's choice; the server decides. */
	x->card_out_sent = false;
	(void)advance(cx, x);
	return CARDEX_OK;
}

/* ---- receiving ---- */

static int on_match(cardex *cx, cardex__exchange *x, cardex_event *ev)
{
	int rc;

	if(x->offerer && x->has_commit && !x->seal) {
		x->seal = cx_seal_new(cx->rng, CX_SEAL_OFFERER, cx->id, x->peer);
		if(!x->seal) {
			cardex_event_clear(ev);
			return fail_exchange(cx, x, "internal", "cannot make a key pair for this exchange");
		}
		x->sealed = true;
	}
	ev->sealed = x->sealed;
	rc = cardex__queue_push(&cx->ready, ev);
	if(rc == CARDEX_OK && x->offerer && !x->sealed && !cx->allow_plain) {
		rc = local_event(cx, x, CARDEX_EV_ERROR, "not-sealed", NOT_SEALED_MATCH);
	}
	(void)advance(cx, x);
	return rc;
}

static int on_pk(cardex *cx, cardex__exchange *x)
{
	cx_seal_res res;
	cardex_event ev;
	int rc;

	if(!x->sealed || !x->seal || x->agreed || x->aborted) {
		/* Only the plugin's order brings a key, once; anything else is not ours to act on. */
		return CARDEX_OK;
	}
	res = cx_seal_agree(x->seal, x->xid, x->peer_pk, x->offerer ? x->peer_commit : NULL);
	if(res == CX_SEAL_ALTERED) {
		return fail_exchange(cx, x, "altered", x->offerer ? ALTERED_KEY : ALTERED_BADKEY);
	}
	if(res != CX_SEAL_OK) {
		return fail_exchange(cx, x, "internal", "cannot derive the keys of this exchange");
	}
	x->agreed = true;
	memset(&ev, 0, sizeof(ev));
	ev.type = CARDEX_EV_SAFETY;
	ev.sealed = true;
	copy_str(ev.exchange, sizeof(ev.exchange), x->xid);
	copy_str(ev.peer, sizeof(ev.peer), x->peer);
	snprintf(ev.safety_code, sizeof(ev.safety_code), "%06u", (unsigned)cx_seal_code(x->seal));
	rc = cardex__queue_push(&cx->ready, &ev);
	(void)advance(cx, x);
	return rc;
}

/*
 * Opens the sealed card of ev in place: ev->card becomes the compact jCard.
 * CARDEX_EABORTED when it fails authentication (or is not base64url),
 * CARDEX_ECARD when what it holds is not a jCard, CARDEX_ENOMEM.
 */
static int open_card(cardex__exchange *x, cardex_event *ev)
{
	unsigned char nonce[CX_SEAL_NONCE_LEN];
	size_t cap = ev->card_len / 4 * 3 + 3;
	unsigned char *ct = malloc(cap);
	unsigned char *pt = NULL;
	char *card = NULL;
	long ct_len;
	int rc = CARDEX_ENOMEM;

	if(!ct) {
		goto cleanup;
	}
	ct_len = cx_b64u_decode(ev->card, ev->card_len, ct, cap);
	if(ct_len < CX_SEAL_TAG_LEN
			|| cx_b64u_decode(x->in_n, strlen(x->in_n), nonce, sizeof(nonce)) != CX_SEAL_NONCE_LEN) {
		rc = CARDEX_EABORTED;
		goto cleanup;
	}
	pt = malloc((size_t)ct_len - CX_SEAL_TAG_LEN + 1);
	if(!pt) {
		goto cleanup;
	}
	if(cx_seal_open(x->seal, nonce, ct, (size_t)ct_len, pt) != CX_SEAL_OK) {
		rc = CARDEX_EABORTED;
		goto cleanup;
	}
	card = cardex__compact_card((const char *)pt, (size_t)ct_len - CX_SEAL_TAG_LEN, &rc);
	if(!card) {
		goto cleanup;
	}
	cx_wipe(ev->card, ev->card_len);
	free(ev->card);
	ev->card = card;
	ev->card_len = strlen(card);
	rc = CARDEX_OK;
cleanup:
	if(pt) {
		cx_wipe(pt, (size_t)ct_len - CX_SEAL_TAG_LEN);
	}
	free(pt);
	free(ct);
	return rc;
}

static int on_card(cardex *cx, cardex__exchange *x, cardex_event *ev)
{
	int rc;

	if(x->aborted) {
		cardex_event_clear(ev);
		return CARDEX_OK;
	}
	if(!ev->sealed) {
		if(!cx->allow_plain) {
			cardex_event_clear(ev);
			return fail_exchange(cx, x, "not-sealed", NOT_SEALED_CARD);
		}
		if(x->agreed) {
			cardex_event_clear(ev);
			return fail_exchange(cx, x, "altered", ALTERED_PLAIN);
		}
		/* Allowed downgrade: the peer does not seal, so our card goes in plaintext too. */
		x->sealed = false;
		cx_seal_free(x->seal);
		x->seal = NULL;
		rc = cardex__queue_push(&cx->ready, ev);
		(void)advance(cx, x);
		return rc;
	}
	if(!x->agreed) {
		cardex_event_clear(ev);
		return fail_exchange(cx, x, "altered", ALTERED_EARLY);
	}
	rc = open_card(x, ev);
	if(rc != CARDEX_OK) {
		cardex_event_clear(ev);
		if(rc == CARDEX_ENOMEM) {
			return rc;
		}
		return rc == CARDEX_ECARD ? fail_exchange(cx, x, "bad-card", "the peer's sealed card is not a valid jCard; nothing was saved")
			: fail_exchange(cx, x, "altered", ALTERED_CARD);
	}
	x->card_opened = true;
	wipe_keys_if_done(x);
	if(cx->confirm && !x->confirmed) {
		/* Held, opened, until the user compared the codes. */
		x->in_card = ev->card;
		x->in_len = ev->card_len;
		ev->card = NULL;
		ev->card_len = 0;
		cardex_event_clear(ev);
		return CARDEX_OK;
	}
	ev->verified = x->confirmed;
	return cardex__queue_push(&cx->ready, ev);
}

static int process(cardex *cx, cardex_event *ev)
{
	cardex__exchange *x = cardex__filter_exchange(&cx->filter, ev->exchange);

	if(!x) {
		if((int)ev->type == CARDEX__EV_PK) {
			return CARDEX_OK;
		}
		return cardex__queue_push(&cx->ready, ev);
	}
	switch((int)ev->type) {
	case CARDEX_EV_MATCH:
		return on_match(cx, x, ev);
	case CARDEX__EV_PK:
		cardex_event_clear(ev);
		return on_pk(cx, x);
	case CARDEX_EV_CARD:
		return on_card(cx, x, ev);
	default:
		return cardex__queue_push(&cx->ready, ev);
	}
}

int cardex__e2e_pump(cardex *cx)
{
	cardex_event ev;
	int rc = CARDEX_OK;

	while(cardex__queue_pop(&cx->queue, &ev)) {
		if(process(cx, &ev) != CARDEX_OK) {
			rc = CARDEX_ENOMEM;
		}
	}
	/* Sends that failed while the connection was down. */
	for(size_t i = 0; i < CARDEX__EXCHANGES; i++) {
		cardex__exchange *x = &cx->filter.xs[i];
		if(x->used && !x->aborted && ((x->sealed && x->seal && !x->pk_sent && (x->offerer || x->agreed))
				|| (x->out_card && (x->agreed || !x->sealed)))) {
			(void)advance(cx, x);
		}
	}
	return rc;
}

int cardex_confirm(cardex *cx, const char *exchange, bool accept)
{
	cardex__exchange *x;
	cardex_event ev;
	int rc;

	if(!cx || !exchange) {
		return CARDEX_EINVAL;
	}
	x = cardex__filter_exchange(&cx->filter, exchange);
	if(!x) {
		return CARDEX_ESTATE;
	}
	if(x->aborted) {
		return CARDEX_EABORTED;
	}
	if(!accept) {
		abort_exchange(x);
		return CARDEX_OK;
	}
	if(!x->agreed) {
		return CARDEX_ESTATE;
	}
	x->confirmed = true;
	if(x->in_card) {
		memset(&ev, 0, sizeof(ev));
		ev.type = CARDEX_EV_CARD;
		copy_str(ev.exchange, sizeof(ev.exchange), x->xid);
		copy_str(ev.peer, sizeof(ev.peer), x->peer);
		ev.card = x->in_card;
		ev.card_len = x->in_len;
		ev.sealed = true;
		ev.verified = true;
		x->in_card = NULL;
		x->in_len = 0;
		rc = cardex__queue_push(&cx->ready, &ev);
		if(rc != CARDEX_OK) {
			return rc;
		}
	}
	rc = advance(cx, x);
	return rc == CARDEX_EDISCONNECTED ? rc : CARDEX_OK;
}
