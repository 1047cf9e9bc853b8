/*
 * Terminals and exchanges of the soak: pairing idle terminals, the offer /
 * claim / card steps of each side, the events each handle reports, the
 * injected disconnects, and the final accounting of every card.
 *
 * Every card carries a token in its NOTE, "soak:<exchange>.<side>.<nonce>",
 * and its sender's name in FN, so that a received card names the one
 * exchange, sender and recipient it was made for.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "soak.h"
/* Only to read the filter's count of dropped answers to resent requests. */
#include "cardex_int.h"

/* How many problems of each kind are described one by one. */
#define SHOW_MAX 20

uint64_t soak_rand(soak *S, uint64_t n)
{
	uint64_t x = S->rng;

	/* xorshift64*: fast, and reproducible from --seed. */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	S->rng = x;
	return (x * 0x2545F4914F6CDD1DULL) % n;
}

static const char *end_name(soak_end e)
{
	static const char *const names[] = {"none", "completed", "offer-expired", "exchange-expired",
		"refused", "revoked", "abandoned", "peer-left", "error"};

	return (size_t)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}

/* Which side of exchange e terminal ti is: 0, 1, or -1 when neither. */
static int side_of(const soak *S, size_t e, size_t ti)
{
	if(S->x[e].s[0].term == (int)ti) {
		return 0;
	}
	return S->x[e].s[1].term == (int)ti ? 1 : -1;
}

static void rest(soak *S, soak_term *t)
{
	t->ready_at = S->now + (long long)soak_rand(S, (uint64_t)S->o->think_ms + 1);
}

/* Counts the outcome of an exchange once both of its sides have ended. */
static void finish(soak *S, size_t e)
{
	soak_exch *x = &S->x[e];
	soak_end a = x->s[0].end, b = x->s[1].end;

	if(x->finished || a == END_NONE || b == END_NONE) {
		return;
	}
	x->finished = true;
	if(a == END_COMPLETED && b == END_COMPLETED) {
		S->st.completed++;
	} else if(a == END_ABANDONED || b == END_ABANDONED || a == END_PEER_LEFT || b == END_PEER_LEFT) {
		S->st.abandoned++;
	} else if(a == END_EXCHANGE_EXPIRED || b == END_EXCHANGE_EXPIRED) {
		S->st.exchange_expired++;
	} else if(a == END_OFFER_EXPIRED || b == END_OFFER_EXPIRED) {
		S->st.offer_expired++;
	} else if(a == END_REFUSED || b == END_REFUSED) {
		S->st.refused++;
	} else if(a == END_REVOKED || b == END_REVOKED) {
		S->st.revoked++;
	} else {
		S->st.other_failed++;
	}
}

/* Ends side i of exchange e (once); its terminal becomes idle after a rest. */
static void side_end(soak *S, size_t e, int i, soak_end end, const char *err)
{
	soak_side *s = &S->x[e].s[i];
	soak_term *t = &S->t[s->term];

	if(s->end != END_NONE) {
		return;
	}
	s->end = end;
	snprintf(s->err, sizeof(s->err), "%s", err ? err : "");
	if(t->cur == (int)e) {
		t->cur = -1;
		rest(S, t);
	}
	if(S->o->verbose && end != END_COMPLETED) {
		fprintf(stderr, "cardex-soak: exchange %zu side %s (%s): %s%s%s\n", e, t->id,
				i ? "claimer" : "offerer", end_name(end), err && err[0] ? " " : "", err ? err : "");
	}
	finish(S, e);
}

static void check_complete(soak *S, size_t e, int i)
{
	soak_side *s = &S->x[e].s[i];

	if(s->got_card && s->got_sent) {
		side_end(S, e, i, END_COMPLETED, NULL);
	}
}

static void add_recent(soak_term *t, size_t e)
{
	t->recent[t->nrecent % SOAK_RECENT] = (int)e;
	t->nrecent++;
}

/* The exchange with this xid that terminal t matched, or -1. */
static int find_recent(const soak *S, const soak_term *t, const char *xid)
{
	unsigned n = t->nrecent < SOAK_RECENT ? t->nrecent : SOAK_RECENT;
	unsigned k;

	for(k = 0; k < n; k++) {
		int e = t->recent[(t->nrecent - 1 - k) % SOAK_RECENT];

		if(strcmp(S->x[e].xid, xid) == 0) {
			return e;
		}
	}
	return -1;
}

/* The card side i of exchange e sends: its sender's name and the token. */
static int card_text(const soak *S, size_t e, int i, char *buf, size_t cap)
{
	const soak_exch *x = &S->x[e];

	return snprintf(buf, cap,
			"[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
			"[\"fn\",{},\"text\",\"Soak terminal %s\"],"
			"[\"note\",{},\"text\",\"soak:%zu.%d.%016" PRIx64 "\"]]]",
			S->t[x->s[i].term].id, e, i, x->card[i].nonce);
}

/* Sends side i's card once it is matched; a cut connection only postpones it. */
static void try_send(soak *S, size_t e, int i)
{
	soak_exch *x = &S->x[e];
	soak_side *s = &x->s[i];
	soak_term *t = &S->t[s->term];
	char card[512];
	int len, rc;

	if(!s->matched || s->card_requested || s->end != END_NONE || t->st != T_ON) {
		return;
	}
	len = card_text(S, e, i, card, sizeof(card));
	rc = cardex_send_card(t->cx, x->xid, card, (size_t)len);
	if(rc == CARDEX_OK) {
		s->card_requested = true;
		x->card[i].requested = true;
		S->st.cards_requested++;
		return;
	}
	if(rc != CARDEX_EDISCONNECTED) {
		S->st.lib_errors++;
		side_end(S, e, i, END_ERROR, cardex_err_name(rc));
	}
}

/* The claimer types the key once the offerer shows it (its "offer" event). */
static void try_claim(soak *S, size_t e)
{
	soak_exch *x = &S->x[e];
	soak_term *b = &S->t[x->s[1].term];
	int rc;

	if(!x->offer_acked || x->claim_made || x->s[1].end != END_NONE || b->st != T_ON) {
		return;
	}
	rc = cardex_claim(b->cx, S->t[x->s[0].term].id, x->key);
	if(rc == CARDEX_OK) {
		x->claim_made = true;
		b->last_claim = (int)e;
		return;
	}
	if(rc != CARDEX_EDISCONNECTED) {
		S->st.lib_errors++;
		side_end(S, e, 1, END_ERROR, cardex_err_name(rc));
	}
}

static void card_accounted(soak *S, size_t ti, size_t e, int side, const char *card, const char *from,
		const char *xid, bool via_session);

void soak_card_received(soak *S, size_t ti, const char *card, const char *from, const char *xid,
		bool via_session)
{
	const char *tok = card ? strstr(card, "soak:") : NULL;
	size_t e = SIZE_MAX;
	int side = -1;
	uint64_t nonce = 0;

	if(!tok || sscanf(tok, "soak:%zu.%d.%" SCNx64, &e, &side, &nonce) != 3 || e >= S->nx
			|| (side != 0 && side != 1) || S->x[e].card[side].nonce != nonce) {
		S->st.misdelivered++;
		fprintf(stderr, "cardex-soak: MISDELIVERED: %s got a card with no valid token\n",
				S->t[ti].id);
		return;
	}
	card_accounted(S, ti, e, side, card, from, xid, via_session);
}

void soak_sealed_card_received(soak *S, size_t ti, const char *from, const char *xid)
{
	for(size_t e = 0; e < S->nx; e++) {
		soak_exch *x = &S->x[e];
		if(strcmp(x->xid, xid) != 0) {
			continue;
		}
		for(int side = 0; side < 2; side++) {
			if(strcmp(from, S->t[x->s[side].term].id) == 0) {
				card_accounted(S, ti, e, side, NULL, from, xid, true);
				return;
			}
		}
	}
	S->st.misdelivered++;
	fprintf(stderr, "cardex-soak: MISDELIVERED: %s got a sealed card of no known exchange and sender\n",
			S->t[ti].id);
}

/* Counts card (side's card of exchange e, NULL when sealed) as received by terminal ti. */
static void card_accounted(soak *S, size_t ti, size_t e, int side, const char *card, const char *from,
		const char *xid, bool via_session)
{
	char fn[64];
	soak_exch *x;
	soak_card *c;
	int rcpt;

	x = &S->x[e];
	c = &x->card[side];
	rcpt = x->s[1 - side].term;
	snprintf(fn, sizeof(fn), "\"Soak terminal %s\"", S->t[x->s[side].term].id);
	if(rcpt != (int)ti || strcmp(from, S->t[x->s[side].term].id) != 0 || strcmp(xid, x->xid) != 0
			|| (card != NULL && !strstr(card, fn))) {
		S->st.misdelivered++;
		fprintf(stderr, "cardex-soak: MISDELIVERED: card of exchange %zu from %s to %s reached %s "
				"(from \"%s\", exchange %s, via %s)\n", e, S->t[x->s[side].term].id,
				S->t[rcpt].id, S->t[ti].id, from, xid, via_session ? "session" : "handle");
		return;
	}
	if(c->delivered > 0 && via_session && !c->via_session && c->handle_gen == S->t[ti].gen) {
		/*
		 * The recipient's handle got this card on the very connection that
		 * preceded the reader, and its PUBACK did not reach the broker: the
		 * connection was cut under it. (cardex_close lets the broker read
		 * the last PUBACKs and the DISCONNECT before the socket closes; an
		 * abrupt close used to reset the connection and lose them.) The
		 * broker rightly sends it again at the next connect (QoS 1). A new
		 * libcardex handle drops such a copy; the raw reader sees it. Not a
		 * second delivery to an application; a copy of a card delivered on
		 * an earlier connection would be.
		 */
		S->st.session_redeliveries++;
		if(S->o->verbose) {
			fprintf(stderr, "cardex-soak: %lld %s: card of exchange %zu from %s redelivered into "
					"the session\n", S->now, S->t[ti].id, e, from);
		}
		return;
	}
	if(c->delivered > 0) {
		S->st.duplicates++;
		fprintf(stderr, "cardex-soak: DUPLICATE: card of exchange %zu from %s to %s delivered "
				"again (via %s)\n", e, from, S->t[ti].id, via_session ? "session" : "handle");
	} else {
		S->st.cards_delivered++;
		if(via_session) {
			S->st.cards_via_session++;
		}
	}
	c->delivered++;
	c->via_session = c->via_session || via_session;
	if(!via_session) {
		c->handle_gen = S->t[ti].gen;
	}
	if(!via_session) {
		x->s[1 - side].got_card = true;
		check_complete(S, e, 1 - side);
	}
}

/* Counts a notice about an offer or exchange side that is already over. */
static void late(soak *S, size_t ti, const cardex_event *ev)
{
	S->st.late_notices++;
	if(S->o->verbose) {
		fprintf(stderr, "cardex-soak: %s: late %s %s%s%s\n", S->t[ti].id,
				cardex_event_type_name(ev->type), ev->exchange, ev->code[0] ? " " : "", ev->code);
	}
}

/* Counts an event the driver cannot place. */
static void stray(soak *S, size_t ti, const cardex_event *ev)
{
	S->st.stray_events++;
	if(S->o->verbose) {
		fprintf(stderr, "cardex-soak: %s: stray %s %s peer %s%s%s\n", S->t[ti].id,
				cardex_event_type_name(ev->type), ev->exchange, ev->peer, ev->code[0] ? " " : "",
				ev->code);
	}
}

/* Answers to resent requests that the handle dropped, as libcardex counts them. */
static unsigned long resends_dropped(const cardex *cx)
{
	return cx ? cx->filter.resend_drops : 0;
}

/*
 * Counts the refusal of a QoS 1 resend of a request that had already
 * passed, reported by the library although it should have dropped it (the
 * run fails on these).
 */
static void resent(soak *S, size_t ti, const cardex_event *ev)
{
	S->st.dup_request_errors++;
	if(S->o->verbose) {
		fprintf(stderr, "cardex-soak: %s: resent request refused: %s %s %s\n", S->t[ti].id,
				cardex_event_type_name(ev->type), ev->code[0] ? ev->code : ev->reason, ev->topic);
	}
}

/* offer, revoked, expired(offer), attempt: they concern the newest offer of the terminal. */
static void on_offer_event(soak *S, size_t ti, const cardex_event *ev)
{
	soak_term *t = &S->t[ti];
	int e = t->last_offer;
	soak_exch *x = e >= 0 ? &S->x[e] : NULL;
	bool live = x && x->s[0].end == END_NONE && !x->s[0].matched;

	if(!x) {
		stray(S, ti, ev);
		return;
	}
	switch(ev->type) {
	case CARDEX_EV_OFFER:
		if(x->offer_acked) {
			stray(S, ti, ev);
			return;
		}
		x->offer_acked = true;
		try_claim(S, (size_t)e);
		return;
	case CARDEX_EV_REVOKED:
		/*
		 * The terminal made no newer offer, so "replaced" can only come from
		 * the broker getting this very offer twice (a QoS 1 resend after a
		 * cut connection): the offer is still live.
		 */
		if(strcmp(ev->reason, "replaced") == 0) {
			resent(S, ti, ev);
			return;
		}
		if(live) {
			side_end(S, (size_t)e, 0, END_REVOKED, ev->reason);
			return;
		}
		late(S, ti, ev);
		return;
	case CARDEX_EV_EXPIRED:
		if(live) {
			side_end(S, (size_t)e, 0, END_OFFER_EXPIRED, NULL);
			if(!x->claim_made) {
				side_end(S, (size_t)e, 1, END_OFFER_EXPIRED, NULL);
			}
			return;
		}
		if(x->s[0].matched) {
			/* A resent copy of an offer that had matched lived on and expired. */
			resent(S, ti, ev);
			return;
		}
		late(S, ti, ev);
		return;
	default:
		/* Nobody here types a wrong key. */
		stray(S, ti, ev);
		return;
	}
}

static void on_match(soak *S, size_t ti, const cardex_event *ev)
{
	soak_term *t = &S->t[ti];
	int e = t->cur;
	soak_exch *x;
	int i;

	if(e < 0) {
		stray(S, ti, ev);
		return;
	}
	x = &S->x[e];
	i = side_of(S, (size_t)e, ti);
	if(x->s[i].matched || strcmp(ev->peer, S->t[x->s[1 - i].term].id) != 0
			|| (i == 1 && !x->claim_made) || (x->xid[0] && strcmp(x->xid, ev->exchange) != 0)) {
		/* A second match from resent copies of both the offer and the claim, say. */
		stray(S, ti, ev);
		return;
	}
	snprintf(x->xid, sizeof(x->xid), "%s", ev->exchange);
	x->s[i].matched = true;
	add_recent(t, (size_t)e);
	try_send(S, (size_t)e, i);
}

/* The newest exchange in which ti claimed the offer of terminal offerer, or -1. */
static int find_claim(const soak *S, size_t ti, const char *offerer)
{
	size_t k;

	for(k = S->nx; k > 0; k--) {
		const soak_exch *x = &S->x[k - 1];

		if(x->s[1].term == (int)ti && x->claim_made
				&& strcmp(S->t[x->s[0].term].id, offerer) == 0) {
			return (int)(k - 1);
		}
	}
	return -1;
}

static void on_error(soak *S, size_t ti, const cardex_event *ev)
{
	soak_term *t = &S->t[ti];
	soak_exch *x;
	int e, i;

	if(ev->exchange[0]) {
		e = find_recent(S, t, ev->exchange);
		if(e < 0) {
			stray(S, ti, ev);
			return;
		}
		x = &S->x[e];
		i = side_of(S, (size_t)e, ti);
		/*
		 * The card went through once; a QoS 1 resend of it is refused, as
		 * already sent, or as unknown once both cards closed the exchange.
		 */
		if(x->s[i].card_requested && (strcmp(ev->code, "already-sent") == 0
				|| (x->s[i].got_sent && strcmp(ev->code, "unknown-exchange") == 0))) {
			resent(S, ti, ev);
			return;
		}
		if(x->s[i].end != END_NONE) {
			late(S, ti, ev);
			return;
		}
		side_end(S, (size_t)e, i, END_ERROR, ev->code);
		return;
	}
	if(strncmp(ev->topic, "claim/", 6) == 0) {
		e = find_claim(S, ti, ev->topic + 6);
		if(e < 0) {
			stray(S, ti, ev);
			return;
		}
		/* A claim that matched, refused when its QoS 1 resend reached the broker. */
		if(S->x[e].s[1].matched) {
			resent(S, ti, ev);
			return;
		}
		if(S->x[e].s[1].end != END_NONE) {
			late(S, ti, ev);
			return;
		}
		side_end(S, (size_t)e, 1, END_REFUSED, ev->code);
		return;
	}
	if(strncmp(ev->topic, "keys/", 5) == 0 && t->last_offer >= 0
			&& S->x[t->last_offer].s[0].end == END_NONE) {
		side_end(S, (size_t)t->last_offer, 0, END_ERROR, ev->code);
		return;
	}
	stray(S, ti, ev);
}

/* card, sent, expired(exchange): they name an exchange this terminal matched. */
static void on_exchange_event(soak *S, size_t ti, const cardex_event *ev)
{
	soak_term *t = &S->t[ti];
	int e = find_recent(S, t, ev->exchange);
	soak_exch *x;
	int i;

	if(ev->type == CARDEX_EV_CARD) {
		soak_card_received(S, ti, ev->card, ev->peer, ev->exchange, false);
		return;
	}
	if(e < 0) {
		stray(S, ti, ev);
		return;
	}
	x = &S->x[e];
	i = side_of(S, (size_t)e, ti);
	if(ev->type == CARDEX_EV_SENT) {
		if(!x->s[i].card_requested || x->s[i].got_sent) {
			stray(S, ti, ev);
			return;
		}
		x->s[i].got_sent = true;
		x->card[i].acked = true;
		S->st.cards_acked++;
		check_complete(S, (size_t)e, i);
		return;
	}
	if(x->s[i].end != END_NONE) {
		late(S, ti, ev);
		return;
	}
	side_end(S, (size_t)e, i, END_EXCHANGE_EXPIRED, NULL);
}

static void on_event(soak *S, size_t ti, const cardex_event *ev)
{
	switch(ev->type) {
	case CARDEX_EV_OFFER:
	case CARDEX_EV_ATTEMPT:
	case CARDEX_EV_REVOKED:
		on_offer_event(S, ti, ev);
		return;
	case CARDEX_EV_EXPIRED:
		if(ev->offer) {
			on_offer_event(S, ti, ev);
		} else {
			on_exchange_event(S, ti, ev);
		}
		return;
	case CARDEX_EV_MATCH:
		on_match(S, ti, ev);
		return;
	case CARDEX_EV_CARD:
	case CARDEX_EV_SENT:
		on_exchange_event(S, ti, ev);
		return;
	case CARDEX_EV_ERROR:
		on_error(S, ti, ev);
		return;
	case CARDEX_EV_SAFETY:
		/* Sealed exchanges: the code is the people's business; the soak only counts cards. */
		return;
	}
	stray(S, ti, ev);
}

int soak_term_open(soak *S, size_t i)
{
	soak_term *t = &S->t[i];
	cardex_options o;

	cardex_options_init(&o);
	o.host = "127.0.0.1";
	o.port = soak_port_of(S, i);
	o.id = t->id;
	o.password = t->password;
	o.connect_timeout_ms = 5000;
	return cardex_connect(&o, &t->cx);
}

void soak_term_drive(soak *S, size_t i)
{
	soak_term *t = &S->t[i];
	int n;

	for(n = 0; n < 64 && t->st == T_ON; n++) {
		cardex_event ev;
		int rc = cardex_wait(t->cx, 0, &ev);

		if(rc == CARDEX_OK) {
			on_event(S, i, &ev);
			cardex_event_clear(&ev);
			continue;
		}
		if(rc != CARDEX_ETIMEOUT && rc != CARDEX_EDISCONNECTED) {
			S->st.lib_errors++;
			fprintf(stderr, "cardex-soak: %s: cardex_wait: %s\n", t->id, cardex_strerror(rc));
		}
		break;
	}
	t->last_drive = S->now;
	/* Without a socket, the handle has seen the cut: what it reads next comes from a new connection. */
	if(t->cut && t->st == T_ON && cardex_socket(t->cx) < 0) {
		if(S->o->verbose) {
			fprintf(stderr, "cardex-soak: %lld %s: cut noticed\n", S->now, t->id);
		}
		t->cut = false;
		t->gen++;
	}
	if(t->st == T_ON && t->cur >= 0) {
		int side = side_of(S, (size_t)t->cur, i);

		if(side == 1) {
			try_claim(S, (size_t)t->cur);
		}
		if(t->cur >= 0) {
			try_send(S, (size_t)t->cur, side);
		}
	}
}

/* A new exchange record (zeroed) or SIZE_MAX when out of memory. */
static size_t new_exch(soak *S)
{
	if(S->nx == S->capx) {
		size_t cap = S->capx ? S->capx * 2 : 1024;
		soak_exch *nx = realloc(S->x, cap * sizeof(*nx));

		if(!nx) {
			return SIZE_MAX;
		}
		S->x = nx;
		S->capx = cap;
	}
	memset(&S->x[S->nx], 0, sizeof(S->x[0]));
	return S->nx++;
}

static void start_exchange(soak *S, size_t a, size_t b)
{
	size_t e = new_exch(S);
	soak_exch *x;
	int rc;

	if(e == SIZE_MAX) {
		S->st.lib_errors++;
		return;
	}
	x = &S->x[e];
	x->s[0].term = (int)a;
	x->s[1].term = (int)b;
	x->started = S->now;
	x->card[0].nonce = soak_rand(S, UINT64_MAX);
	x->card[1].nonce = soak_rand(S, UINT64_MAX);
	rc = cardex_generate_key(6, x->key, sizeof(x->key));
	if(rc == CARDEX_OK) {
		rc = cardex_offer(S->t[a].cx, x->key, S->o->offer_ttl);
	}
	if(rc != CARDEX_OK) {
		/* Not started: the offerer's connection was found cut just now, say. */
		S->st.offer_failures++;
		if(S->o->verbose) {
			fprintf(stderr, "cardex-soak: %s: offer not sent: %s\n", S->t[a].id, cardex_err_name(rc));
		}
		S->nx--;
		rest(S, &S->t[a]);
		return;
	}
	S->t[a].cur = (int)e;
	S->t[b].cur = (int)e;
	S->t[a].last_offer = (int)e;
	S->st.started++;
}

void soak_start_exchanges(soak *S)
{
	size_t *idle = malloc(S->nt * sizeof(*idle));
	size_t n = 0, i;

	if(!idle) {
		return;
	}
	for(i = 0; i < S->nt; i++) {
		soak_term *t = &S->t[i];

		if(t->st == T_ON && t->cur < 0 && t->ready_at <= S->now && cardex_socket(t->cx) >= 0) {
			idle[n++] = i;
		}
	}
	/* Random pairs: shuffle, then take them two by two. */
	for(i = n; i > 1; i--) {
		size_t j = (size_t)soak_rand(S, i);
		size_t tmp = idle[i - 1];

		idle[i - 1] = idle[j];
		idle[j] = tmp;
	}
	for(i = 0; i + 1 < n; i += 2) {
		start_exchange(S, idle[i], idle[i + 1]);
	}
	free(idle);
}

static void drop_term(soak *S, soak_term *t)
{
	int fd = cardex_socket(t->cx);

	if(fd < 0) {
		return;
	}
	/*
	 * Cut the TCP connection under the library: the broker sees the
	 * terminal go offline and queues its replies in its persistent session;
	 * the handle notices when it is driven again and reconnects by itself.
	 * Mostly short outages, sometimes longer than the exchange lifetime.
	 */
	shutdown(fd, SHUT_RDWR);
	t->st = T_DROPPED;
	t->cut = true;
	if(S->o->verbose) {
		fprintf(stderr, "cardex-soak: %lld %s: drop\n", S->now, t->id);
	}
	if(soak_rand(S, 100) < 5) {
		t->back_at = S->now + ((long long)S->o->exchange_ttl + 2 + (long long)soak_rand(S, 8)) * 1000;
	} else {
		t->back_at = S->now + 50 + (long long)soak_rand(S, 4000);
	}
	S->st.drops++;
}

static void close_term(soak *S, soak_term *t)
{
	int e = t->cur;

	/* The application quits: whatever its handle knew about the exchange is gone. */
	if(S->o->verbose) {
		fprintf(stderr, "cardex-soak: %lld %s: close%s\n", S->now, t->id, t->cut ? " (cut)" : "");
	}
	S->st.resends_dropped += resends_dropped(t->cx);
	cardex_close(t->cx);
	t->cx = NULL;
	t->st = T_CLOSED;
	t->back_at = S->now + 200 + (long long)soak_rand(S, 2800);
	S->st.closes++;
	if(e < 0) {
		return;
	}
	t->abandoned = e;
	{
		int i = side_of(S, (size_t)e, t->index);
		soak_exch *x = &S->x[e];

		side_end(S, (size_t)e, i, END_ABANDONED, NULL);
		/* The offerer left before its key was shown: the claimer has nothing to type. */
		if(i == 0 && !x->offer_acked) {
			side_end(S, (size_t)e, 1, END_PEER_LEFT, NULL);
		}
	}
}

void soak_disconnect_one(soak *S)
{
	bool want_busy = soak_rand(S, 100) < 80;
	int tries;

	for(tries = 0; tries < 30; tries++) {
		soak_term *t = &S->t[soak_rand(S, S->nt)];

		if(t->st != T_ON || cardex_socket(t->cx) < 0) {
			continue;
		}
		if(want_busy && t->cur < 0 && tries < 25) {
			continue;
		}
		if((double)soak_rand(S, 10000) < S->o->close_ratio * 10000.0) {
			close_term(S, t);
		} else {
			drop_term(S, t);
		}
		return;
	}
}

/*
 * A closed terminal's session is read once nothing more can be queued in it
 * for the exchange it quit: the peer's card has passed (so it is in the
 * session), or the peer's side has ended (so it never will).
 */
static bool abandoned_settled(const soak *S, const soak_term *t)
{
	const soak_exch *x;
	int p;

	if(t->abandoned < 0) {
		return true;
	}
	x = &S->x[t->abandoned];
	p = 1 - side_of(S, (size_t)t->abandoned, t->index);
	return x->s[p].end != END_NONE || x->card[p].acked;
}

/* Opens a new handle for a closed terminal; retries later on failure. */
static void reopen(soak *S, soak_term *t)
{
	int rc = soak_term_open(S, t->index);

	if(rc != CARDEX_OK) {
		/* Retried; a terminal that never comes back leaves its exchanges stuck, which fails the run. */
		S->st.reopen_retries++;
		fprintf(stderr, "cardex-soak: %s: reconnect failed: %s\n", t->id, cardex_strerror(rc));
		t->st = T_CLOSED;
		t->back_at = S->now + 500;
		return;
	}
	t->st = T_ON;
	t->abandoned = -1;
	t->cur = -1;
	t->cut = false;
	t->gen++;
	rest(S, t);
}

void soak_wake(soak *S)
{
	size_t i;

	for(i = 0; i < S->nt; i++) {
		soak_term *t = &S->t[i];
		bool due = S->draining || S->now >= t->back_at;

		switch(t->st) {
		case T_ON:
			break;
		case T_DROPPED:
			if(due) {
				t->st = T_ON;
			}
			break;
		case T_CLOSED:
			if(!due || !abandoned_settled(S, t)) {
				break;
			}
			if(t->abandoned < 0) {
				reopen(S, t);
			} else if(soak_reader_start(S, i) != 0) {
				t->back_at = S->now + 500;
			}
			break;
		case T_READING:
			if(soak_reader_step(S, i)) {
				reopen(S, t);
			}
			break;
		}
	}
}

bool soak_settled(const soak *S)
{
	size_t i;

	for(i = 0; i < S->nt; i++) {
		if(S->t[i].st != T_ON) {
			return false;
		}
	}
	for(i = 0; i < S->nx; i++) {
		if(!S->x[i].finished) {
			return false;
		}
	}
	return true;
}

void soak_account(soak *S)
{
	unsigned shown_lost = 0, shown_stuck = 0;
	size_t e, ti;
	int i;

	for(ti = 0; ti < S->nt; ti++) {
		S->st.resends_dropped += resends_dropped(S->t[ti].cx);
	}
	for(e = 0; e < S->nx; e++) {
		soak_exch *x = &S->x[e];

		for(i = 0; i < 2; i++) {
			soak_card *c = &x->card[i];
			const soak_side *r = &x->s[1 - i];

			if(c->acked && c->delivered == 0) {
				S->st.lost++;
				if(shown_lost++ < SHOW_MAX) {
					fprintf(stderr, "cardex-soak: LOST: card of exchange %zu (%s) from %s to %s: "
							"acknowledged, never delivered; recipient side %s%s%s, matched %d\n",
							e, x->xid, S->t[x->s[i].term].id, S->t[r->term].id, end_name(r->end),
							r->err[0] ? " " : "", r->err, r->matched);
				}
			}
			if(c->delivered > 0 && !c->acked) {
				S->st.delivered_unacked++;
			}
			if(c->requested && !c->acked && c->delivered == 0) {
				S->st.not_relayed++;
			}
			if(x->s[i].end == END_NONE) {
				S->st.stuck++;
				if(shown_stuck++ < SHOW_MAX) {
					fprintf(stderr, "cardex-soak: STUCK: exchange %zu side %s (%s): matched %d, "
							"card sent %d, got card %d, got sent %d, offer shown %d, claimed %d\n",
							e, S->t[x->s[i].term].id, i ? "claimer" : "offerer", x->s[i].matched,
							x->s[i].card_requested, x->s[i].got_card, x->s[i].got_sent,
							x->offer_acked, x->claim_made);
				}
			}
		}
	}
}
