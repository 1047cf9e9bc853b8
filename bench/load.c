/*
 * Terminal pairs on one epoll loop (load.h).
 *
 * Each pair runs a small state machine: A offers; on A's offer reply B
 * claims; on its match each side sends its card; the exchange is done when
 * both sides have their match, the peer's card and their own "sent". Then
 * the pair starts the next one at once. Every event is checked against the
 * exchange in hand (refs, exchange ID, peer, card bytes); anything else
 * fails the pair, which then stops.
 *
 * Publishes made inside a client's own callback are only queued by
 * libmosquitto; every client that may have queued something is put on a
 * dirty list and flushed after each read, and watched for EPOLLOUT only
 * while the kernel refuses more.
 */
#include "load.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <mosquitto.h>

#include "bench.h"
#include "cards.h"
#include "crypto.h"
#include "proto.h"
#include "topic.h"

#define SIDE_A 0
#define SIDE_B 1
#define F_MATCH(s) (1u << (s))
#define F_CARD(s) (4u << (s))  /* side s received the peer's card */
#define F_SENT(s) (16u << (s)) /* side s was told its card passed */
#define F_ALL 0x3fu

#define KEEPALIVE_S 60
#define CONNECT_TIMEOUT_NS (20 * INT64_C(1000000000))
#define MISC_EVERY_NS INT64_C(1000000000)
#define CHECK_EVERY_NS (100 * INT64_C(1000000))
#define EPOLL_BATCH 256
#define FAIL_LINES_MAX 10  /* failures printed in full; the rest are only counted */
#define TOPIC_MAX 320
#define PAIRS_MAX 9999     /* refs hold the pair index in 4 digits */

enum stage {
	ST_IDLE = 0,
	ST_OFFERED, /* waiting for A's offer reply */
	ST_CLAIMED  /* claim sent: matches, cards and sents under way */
};

enum ev {
	EV_OFFER_ACK,
	EV_MATCH,
	EV_CARD,
	EV_SENT
};

struct fleet;
struct pair;

struct client {
	struct mosquitto *mosq;
	struct pair *pair;
	int side;
	int fd;
	bool connected;
	bool subscribed;
	bool watch_out;  /* EPOLLOUT registered */
	bool dirty;      /* on the load's dirty list */
	int sub_mid;
	char id[32];
	char sub[TOPIC_MAX]; /* the one subscription */
	struct client *next_dirty;
};

struct pair {
	struct fleet *fleet;
	size_t index;
	struct client c[2];
	enum stage stage;
	unsigned flags;
	bool dead;
	uint32_t seq;
	uint64_t done;   /* exchanges completed in the current round */
	int64_t t_offer, t_claim, t_cards, deadline;
	int64_t t_match[2];
	char key[CX_KEY_DIGITS_MAX + 1];
	char ref[2][CX_REF_MAX + 1];
	char xid[CX_XID_HEX + 1];
	char t_offer_topic[TOPIC_MAX];
	char t_claim_topic[TOPIC_MAX];
	char t_card[2][TOPIC_MAX]; /* where side s publishes its card */
};

struct fleet {
	bench__load *load;
	bench__fleet_cfg cfg;
	struct pair *pairs;
	size_t npairs;
	bool accepting;      /* pairs start new exchanges */
	int64_t window_end;  /* exchanges completed after it are not counted */
	uint64_t count;      /* per pair and round; 0 = until window_end */
	size_t busy;         /* pairs with an exchange under way */
	int64_t last_done;
	bench__tally *tally; /* NULL outside rounds */
	uint64_t failures;
};

struct bench__load {
	int ep;
	struct fleet *fleets;
	size_t nfleets;
	int64_t timeout_ns;
	int round_wait_ms;   /* epoll_wait timeout in rounds: 0 polls (bench__load_new) */
	cx_rng *rng;
	bool fatal;          /* a connection was lost or refused */
	unsigned fail_lines;
	struct client *dirty;
	char card[2][BENCH_CARD_BYTES + 1];
	char scratch[BENCH_CARD_BYTES + 512]; /* payloads; libmosquitto copies them */
	char expect[BENCH_CARD_BYTES + 512];  /* the reply a card or sent must be */
};

/* ---- failures ---- */

/* Marks p failed (it does no more exchanges) and says why, for the first few. */
static void pair_fail(struct pair *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void pair_fail(struct pair *p, const char *fmt, ...)
{
	struct fleet *f = p->fleet;
	bench__load *l = f->load;
	va_list ap;

	if (p->dead)
		return;
	if (l->fail_lines < FAIL_LINES_MAX) {
		fprintf(stderr, "cardex-bench: %s: pair %zu, exchange %u failed: ", f->cfg.label,
				p->index, p->seq);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
		if (++l->fail_lines == FAIL_LINES_MAX)
			fprintf(stderr, "cardex-bench: further failures are only counted\n");
	}
	p->dead = true;
	if (p->stage != ST_IDLE)
		f->busy--;
	p->stage = ST_IDLE;
	f->failures++;
	if (f->tally != NULL)
		f->tally->failures++;
}

/* ---- writing ---- */

/* Puts c on the list of clients flushed after the current event. */
static void mark_dirty(bench__load *l, struct client *c)
{
	if (c->dirty)
		return;
	c->dirty = true;
	c->next_dirty = l->dirty;
	l->dirty = c;
}

/* A connection failed: the run stops (l->fatal), with one line saying which. */
static void client_lost(bench__load *l, struct client *c, int rc)
{
	if (!l->fatal)
		fprintf(stderr, "cardex-bench: %s: connection of %s lost: %s\n", c->pair->fleet->cfg.label,
				c->id, mosquitto_strerror(rc));
	l->fatal = true;
	c->connected = false;
	/* The socket is libmosquitto's to close (now or at destroy): leave it alone. */
	c->fd = -1;
}

/* Registers EPOLLOUT for c exactly while libmosquitto has bytes the kernel refused. */
static void watch_out(bench__load *l, struct client *c)
{
	bool want = mosquitto_want_write(c->mosq);
	struct epoll_event ev;

	if (want == c->watch_out || c->fd < 0)
		return;
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->watch_out = want;
}

/* Writes what every dirty client queued; a write error loses that client. */
static void flush_dirty(bench__load *l)
{
	while (l->dirty != NULL) {
		struct client *c = l->dirty;

		l->dirty = c->next_dirty;
		c->dirty = false;
		if (c->fd >= 0 && mosquitto_want_write(c->mosq)) {
			int rc = mosquitto_loop_write(c->mosq, 1);

			if (rc != MOSQ_ERR_SUCCESS) {
				client_lost(l, c, rc);
				continue;
			}
		}
		watch_out(l, c);
	}
}

/* Publishes payload[len] on topic, QoS 1, as c. Fails c's pair on error. */
static void publish(struct client *c, const char *topic, const char *payload, size_t len)
{
	int rc = mosquitto_publish(c->mosq, NULL, topic, (int)len, payload, 1, false);

	if (rc != MOSQ_ERR_SUCCESS) {
		pair_fail(c->pair, "%s cannot publish: %s", c->id, mosquitto_strerror(rc));
		return;
	}
	mark_dirty(c->pair->fleet->load, c);
}

/* ---- the exchange ---- */

/* Starts the pair's next exchange: fresh key and refs, A publishes the offer. */
static void send_offer(struct pair *p, int64_t now)
{
	bench__load *l = p->fleet->load;
	cx_offer_req req;
	size_t len;

	p->seq++;
	p->flags = 0;
	p->xid[0] = '\0';
	if (cx_key_generate(l->rng, 6, p->key, sizeof(p->key)) != 0) {
		pair_fail(p, "cannot generate a key");
		return;
	}
	snprintf(p->ref[SIDE_A], sizeof(p->ref[SIDE_A]), "a%zu.%u", p->index, p->seq);
	snprintf(p->ref[SIDE_B], sizeof(p->ref[SIDE_B]), "b%zu.%u", p->index, p->seq);
	memset(&req, 0, sizeof(req));
	memcpy(req.key, p->key, sizeof(req.key));
	memcpy(req.ref, p->ref[SIDE_A], sizeof(req.ref));
	len = cx_offer_encode(&req, l->scratch, sizeof(l->scratch));
	cx_offer_req_clear(&req);
	p->stage = ST_OFFERED;
	p->fleet->busy++;
	p->t_offer = now;
	p->deadline = now + l->timeout_ns;
	publish(&p->c[SIDE_A], p->t_offer_topic, l->scratch, len);
}

/* B claims A's offer with the key A "showed". */
static void send_claim(struct pair *p)
{
	bench__load *l = p->fleet->load;
	cx_claim_req req;
	size_t len;

	memset(&req, 0, sizeof(req));
	memcpy(req.key, p->key, sizeof(req.key));
	memcpy(req.from, p->c[SIDE_B].id, strlen(p->c[SIDE_B].id) + 1);
	memcpy(req.ref, p->ref[SIDE_B], sizeof(req.ref));
	len = cx_claim_encode(&req, l->scratch, sizeof(l->scratch));
	cx_claim_req_clear(&req);
	p->t_claim = bench__now_ns();
	publish(&p->c[SIDE_B], p->t_claim_topic, l->scratch, len);
}

/* side publishes its card to the peer (baseline: on the pair's card topic). */
static void send_card(struct pair *p, int side)
{
	bench__load *l = p->fleet->load;
	char fake[CX_XID_HEX + 1];
	const char *xid = p->xid;
	size_t len;

	if (p->fleet->cfg.mode == BENCH_MODE_BASELINE) {
		/* Same size as a real exchange ID, so the payload is byte for byte as large. */
		snprintf(fake, sizeof(fake), "%016llx%016llx", (unsigned long long)p->index,
				(unsigned long long)p->seq);
		xid = fake;
	}
	len = cx_card_encode(xid, l->card[side], BENCH_CARD_BYTES, l->scratch, sizeof(l->scratch));
	if (len >= sizeof(l->scratch)) {
		pair_fail(p, "card payload does not fit");
		return;
	}
	publish(&p->c[side], p->t_card[side], l->scratch, len);
}

/* Starts another exchange unless the round or the pair's count is over. */
static void maybe_start(struct pair *p, int64_t now)
{
	struct fleet *f = p->fleet;

	if (p->dead || !f->accepting || now >= f->window_end)
		return;
	if (f->count != 0 && p->done >= f->count)
		return;
	send_offer(p, now);
}

/* Adds a finished exchange's latencies to t; a sample lost to memory is reported. */
static void record(bench__tally *t, const struct pair *p)
{
	int64_t both = p->t_match[SIDE_A] > p->t_match[SIDE_B] ? p->t_match[SIDE_A]
		: p->t_match[SIDE_B];
	int rc = 0;

	t->exchanges++;
	rc |= bench__samples_add(&t->match[SIDE_A], (uint64_t)(p->t_match[SIDE_A] - p->t_claim));
	rc |= bench__samples_add(&t->match[SIDE_B], (uint64_t)(p->t_match[SIDE_B] - p->t_claim));
	rc |= bench__samples_add(&t->match_both, (uint64_t)(both - p->t_claim));
	rc |= bench__samples_add(&t->exchange, (uint64_t)(p->t_cards - p->t_offer));
	if (rc != 0)
		fprintf(stderr, "cardex-bench: out of memory; a latency sample was lost\n");
}

/* The exchange in hand is done: count it and go on. */
static void complete(struct pair *p, int64_t now)
{
	struct fleet *f = p->fleet;

	p->stage = ST_IDLE;
	f->busy--;
	p->done++;
	f->last_done = now;
	if (f->tally != NULL)
		f->tally->completed++;
	if (f->tally != NULL && now <= f->window_end)
		record(f->tally, p);
	maybe_start(p, now);
}

/* "A" or "B", for failure messages. */
static const char *side_name(int side)
{
	return side == SIDE_A ? "A" : "B";
}

/* Advances the exchange by one event of side; an event out of turn fails the pair. */
static void pair_event(struct pair *p, int side, enum ev ev, int64_t now)
{
	switch (ev) {
	case EV_OFFER_ACK:
		if (p->stage != ST_OFFERED) {
			pair_fail(p, "offer reply out of turn");
			return;
		}
		p->stage = ST_CLAIMED;
		send_claim(p);
		return;
	case EV_MATCH:
		if (p->stage != ST_CLAIMED || (p->flags & F_MATCH(side))) {
			pair_fail(p, "match for %s out of turn", side_name(side));
			return;
		}
		p->flags |= F_MATCH(side);
		p->t_match[side] = now;
		send_card(p, side);
		break;
	case EV_CARD:
		if (!(p->flags & F_MATCH(side)) || (p->flags & F_CARD(side))) {
			pair_fail(p, "card for %s out of turn", side_name(side));
			return;
		}
		p->flags |= F_CARD(side);
		if (p->flags & F_CARD(!side))
			p->t_cards = now;
		break;
	case EV_SENT:
		if (!(p->flags & F_MATCH(side)) || (p->flags & F_SENT(side))) {
			pair_fail(p, "sent for %s out of turn", side_name(side));
			return;
		}
		p->flags |= F_SENT(side);
		break;
	}
	if (p->flags == F_ALL)
		complete(p, now);
}

/*
 * The exact reply the plugin must send side for the peer's card (card
 * true) or for its own card ("sent"), written with the protocol's own
 * encoder into l->expect. Returns its length, 0 when it does not fit.
 */
static size_t expected_reply(struct pair *p, int side, bool card)
{
	bench__load *l = p->fleet->load;
	cx_reply r;
	size_t len;

	memset(&r, 0, sizeof(r));
	r.type = card ? CX_REPLY_CARD : CX_REPLY_SENT;
	r.xid = p->xid;
	r.peer = p->c[!side].id;
	if (card) {
		r.card = l->card[!side];
		r.card_len = BENCH_CARD_BYTES;
	}
	len = cx_reply_encode(&r, l->expect, sizeof(l->expect));
	return len < sizeof(l->expect) ? len : 0;
}

/* Maps a decoded reply to an event of the exchange in hand; -1 with *why when it is not one. */
static int plugin_event(struct pair *p, int side, const cx_reply_msg *r, const char **why)
{
	const char *peer = p->c[!side].id;

	switch (r->type) {
	case CX_REPLY_OFFER:
		if (side != SIDE_A || strcmp(r->ref, p->ref[SIDE_A]) != 0)
			break;
		return EV_OFFER_ACK;
	case CX_REPLY_MATCH:
		if (strcmp(r->ref, p->ref[side]) != 0 || strcmp(r->peer, peer) != 0)
			break;
		if (p->xid[0] == '\0')
			memcpy(p->xid, r->xid, sizeof(p->xid));
		else if (strcmp(p->xid, r->xid) != 0)
			break;
		return EV_MATCH;
	case CX_REPLY_CARD:
		if (strcmp(r->xid, p->xid) == 0 && strcmp(r->peer, peer) == 0) {
			*why = "the card received differs from the card sent";
			return -1;
		}
		break;
	case CX_REPLY_ERROR:
		*why = r->code_name[0] ? r->code_name : "error";
		return -1;
	default:
		break;
	}
	*why = "a reply that does not belong to the exchange in hand";
	return -1;
}

/*
 * Card and sent replies are compared byte for byte with what the plugin
 * must send, which checks more than decoding would and keeps the bench's
 * own work per exchange small; anything else is decoded. Only a reply
 * that matches nothing expected is decoded for the failure message.
 */
static void plugin_message(struct pair *p, int side, const struct mosquitto_message *msg,
		int64_t now)
{
	/* The reply's type leads the encoder's output, so one prefix picks the reply to build. */
	static const char card_head[] = "{\"type\":\"card\"";
	bench__load *l = p->fleet->load;
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	const char *why = NULL;
	cx_reply_msg r;
	int ev = -1;

	if (p->xid[0] != '\0' && len > sizeof(card_head)) {
		bool card = memcmp(msg->payload, card_head, sizeof(card_head) - 1) == 0;
		size_t n = expected_reply(p, side, card);

		if (n != 0 && n == len && memcmp(msg->payload, l->expect, n) == 0) {
			pair_event(p, side, card ? EV_CARD : EV_SENT, now);
			return;
		}
	}
	if (cx_reply_decode(msg->payload, len, &r, &why) != CX_CODE_NONE) {
		pair_fail(p, "%s got an undecodable reply (%s)", p->c[side].id, why ? why : "?");
		return;
	}
	ev = plugin_event(p, side, &r, &why);
	if (ev < 0)
		pair_fail(p, "%s got a %s reply: %s", p->c[side].id, cx_reply_type_name(r.type), why);
	cx_reply_msg_clear(&r);
	if (ev >= 0)
		pair_event(p, side, (enum ev)ev, now);
}

/* A baseline delivery: which step it is follows from its topic alone. */
static void baseline_message(struct pair *p, int side, const struct mosquitto_message *msg,
		int64_t now)
{
	const char *t = msg->topic;

	if (side == SIDE_A && strcmp(t, p->t_offer_topic) == 0)
		pair_event(p, side, EV_OFFER_ACK, now);
	else if (strcmp(t, p->t_claim_topic) == 0)
		pair_event(p, side, EV_MATCH, now);
	else if (strcmp(t, p->t_card[side]) == 0)
		pair_event(p, side, EV_SENT, now);
	else if (strcmp(t, p->t_card[!side]) == 0)
		pair_event(p, side, EV_CARD, now);
	else
		pair_fail(p, "%s got a message on an unexpected topic", p->c[side].id);
}

/* ---- libmosquitto callbacks ---- */

/* Every delivery, timestamped on arrival, then read as its fleet's kind. */
static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg)
{
	struct client *c = ud;
	struct pair *p = c->pair;
	int64_t now = bench__now_ns();

	(void)mosq;
	if (p->dead)
		return;
	if (p->stage == ST_IDLE) {
		pair_fail(p, "%s got a message outside any exchange", c->id);
		return;
	}
	if (p->fleet->cfg.mode == BENCH_MODE_PLUGIN)
		plugin_message(p, c->side, msg, now);
	else
		baseline_message(p, c->side, msg, now);
}

/* CONNACK: subscribe, or stop the run when the broker refused the terminal. */
static void on_connect(struct mosquitto *mosq, void *ud, int rc)
{
	struct client *c = ud;
	bench__load *l = c->pair->fleet->load;
	int src;

	if (rc != 0) {
		fprintf(stderr, "cardex-bench: %s: connection of %s refused: %s\n",
				c->pair->fleet->cfg.label, c->id, mosquitto_connack_string(rc));
		l->fatal = true;
		return;
	}
	c->connected = true;
	src = mosquitto_subscribe(mosq, &c->sub_mid, c->sub, 1);
	if (src != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "cardex-bench: %s cannot subscribe: %s\n", c->id, mosquitto_strerror(src));
		l->fatal = true;
		return;
	}
	mark_dirty(l, c);
}

/* SUBACK: the terminal is ready, or the run stops when the broker refused the filter. */
static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int qos_count,
		const int *granted)
{
	struct client *c = ud;

	(void)mosq;
	if (mid != c->sub_mid)
		return;
	if (qos_count < 1 || granted[0] > 2) {
		fprintf(stderr, "cardex-bench: %s: subscription of %s to %s refused\n",
				c->pair->fleet->cfg.label, c->id, c->sub);
		c->pair->fleet->load->fatal = true;
		return;
	}
	c->subscribed = true;
}

/* A connection that ends while we still use it stops the run. */
static void on_disconnect(struct mosquitto *mosq, void *ud, int rc)
{
	struct client *c = ud;

	(void)mosq;
	if (c->connected)
		client_lost(c->pair->fleet->load, c, rc ? rc : MOSQ_ERR_CONN_LOST);
}

/* ---- the loop ---- */

/*
 * One mosquitto_loop_read per readiness: it takes one packet (more while
 * QoS 1 messages are in flight). What is left makes epoll report the socket
 * again, which costs one epoll_wait shared by all ready sockets rather than
 * a probe per packet.
 */
static void read_client(bench__load *l, struct client *c)
{
	int rc;

	if (c->fd < 0)
		return;
	rc = mosquitto_loop_read(c->mosq, 1);
	if (rc != MOSQ_ERR_SUCCESS) {
		client_lost(l, c, rc);
		return;
	}
	mark_dirty(l, c);
}

/* One epoll wait of at most wait_ms, and everything it reports. Returns 0, or -1. */
static int service(bench__load *l, int wait_ms)
{
	struct epoll_event ev[EPOLL_BATCH];
	int n = epoll_wait(l->ep, ev, EPOLL_BATCH, wait_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct client *c = ev[i].data.ptr;

		if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			read_client(l, c);
		else if (ev[i].events & EPOLLOUT)
			mark_dirty(l, c);
		flush_dirty(l);
	}
	return 0;
}

/* Keepalives (PINGREQ) of every client, busy fleet or idle. */
static void misc_all(bench__load *l)
{
	for (size_t fi = 0; fi < l->nfleets; fi++) {
		struct fleet *f = &l->fleets[fi];

		for (size_t i = 0; i < f->npairs; i++) {
			for (int s = 0; s < 2; s++) {
				struct client *c = &f->pairs[i].c[s];

				if (c->fd >= 0 && mosquitto_loop_misc(c->mosq) == MOSQ_ERR_SUCCESS)
					mark_dirty(l, c);
			}
		}
	}
	flush_dirty(l);
}

/* What an exchange still waits for, for the timeout message. */
static const char *waiting_for(const struct pair *p)
{
	static const struct {
		unsigned flag;
		const char *what;
	} steps[] = {
		{F_MATCH(SIDE_A), "A's match"}, {F_MATCH(SIDE_B), "B's match"},
		{F_CARD(SIDE_B), "A's card at B"}, {F_CARD(SIDE_A), "B's card at A"},
		{F_SENT(SIDE_A), "A's sent"}, {F_SENT(SIDE_B), "B's sent"},
	};

	if (p->stage == ST_OFFERED)
		return "A's offer reply";
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (!(p->flags & steps[i].flag))
			return steps[i].what;
	}
	return "nothing";
}

/* Fails every exchange of f that has run past its deadline. */
static void check_deadlines(struct fleet *f, int64_t now)
{
	for (size_t i = 0; i < f->npairs; i++) {
		struct pair *p = &f->pairs[i];

		if (!p->dead && p->stage != ST_IDLE && now > p->deadline)
			pair_fail(p, "timed out waiting for %s", waiting_for(p));
	}
}

int bench__load_round(bench__load *l, size_t fi, double seconds, uint64_t count,
		bench__tally *t)
{
	struct fleet *f = &l->fleets[fi];
	int64_t start = bench__now_ns(), now = start, next_check = start, next_misc = start;
	int rc = 0;

	f->tally = t;
	f->count = count;
	f->window_end = count ? INT64_MAX : start + (int64_t)(seconds * 1e9);
	f->accepting = true;
	f->last_done = start;
	for (size_t i = 0; i < f->npairs; i++) {
		f->pairs[i].done = 0;
		maybe_start(&f->pairs[i], start);
	}
	flush_dirty(l);
	/* Bounded: no new exchange starts after window_end, each running one ends by its deadline. */
	for (;;) {
		if (bench__stop) {
			rc = 1;
			break;
		}
		if (l->fatal) {
			rc = -1;
			break;
		}
		if (f->accepting && now >= f->window_end)
			f->accepting = false;
		if (f->busy == 0 && (!f->accepting || count != 0))
			break;
		if (service(l, l->round_wait_ms) != 0) {
			fprintf(stderr, "cardex-bench: epoll_wait: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		now = bench__now_ns();
		if (now >= next_check) {
			check_deadlines(f, now);
			next_check = now + CHECK_EVERY_NS;
		}
		if (now >= next_misc) {
			misc_all(l);
			next_misc = now + MISC_EVERY_NS;
		}
	}
	f->accepting = false;
	f->tally = NULL;
	t->active_s += count ? (double)(f->last_done - start) / 1e9 : seconds;
	return rc;
}

uint64_t bench__load_failures(const bench__load *l, size_t fi)
{
	return l->fleets[fi].failures;
}

/* ---- setup ---- */

/* One cardex topic into out[TOPIC_MAX]; -1 when it does not fit. */
static int topic(char *out, const char *prefix, cx_topic_kind kind, const char *id)
{
	return cx_topic_build(out, TOPIC_MAX, prefix, kind, id) == 0 ? -1 : 0;
}

/* Names and topics of pair i of fleet f. Returns 0, or -1 when a topic does not fit. */
static int pair_init(struct fleet *f, struct pair *p, size_t i)
{
	const char *pre = f->cfg.prefix;
	struct client *a = &p->c[SIDE_A], *b = &p->c[SIDE_B];

	p->fleet = f;
	p->index = i;
	for (int s = 0; s < 2; s++) {
		p->c[s].pair = p;
		p->c[s].side = s;
		p->c[s].fd = -1;
		snprintf(p->c[s].id, sizeof(p->c[s].id), "bench-%s-%zu", s == SIDE_A ? "a" : "b", i);
	}
	if (f->cfg.mode == BENCH_MODE_BASELINE) {
		/* A alone reads bench/<i>/a; both read bench/<i>/x/...: 1 and 2 deliveries. */
		snprintf(p->t_offer_topic, TOPIC_MAX, "bench/%zu/a", i);
		snprintf(p->t_claim_topic, TOPIC_MAX, "bench/%zu/x/claim", i);
		snprintf(p->t_card[SIDE_A], TOPIC_MAX, "bench/%zu/x/card-a", i);
		snprintf(p->t_card[SIDE_B], TOPIC_MAX, "bench/%zu/x/card-b", i);
		snprintf(a->sub, TOPIC_MAX, "bench/%zu/#", i);
		snprintf(b->sub, TOPIC_MAX, "bench/%zu/x/#", i);
		return 0;
	}
	if (topic(p->t_offer_topic, pre, CX_TOPIC_KEYS, a->id) != 0 ||
			topic(p->t_claim_topic, pre, CX_TOPIC_CLAIM, a->id) != 0 ||
			topic(p->t_card[SIDE_A], pre, CX_TOPIC_CARD, b->id) != 0 ||
			topic(p->t_card[SIDE_B], pre, CX_TOPIC_CARD, a->id) != 0 ||
			topic(a->sub, pre, CX_TOPIC_REPLY, a->id) != 0 ||
			topic(b->sub, pre, CX_TOPIC_REPLY, b->id) != 0)
		return -1;
	return 0;
}

/* Creates c's libmosquitto client and starts its connection. Returns 0, or -1 after printing why. */
static int client_connect(bench__load *l, struct client *c)
{
	const bench__fleet_cfg *cfg = &c->pair->fleet->cfg;
	struct epoll_event ev;
	int rc;

	c->mosq = mosquitto_new(c->id, true, c);
	if (c->mosq == NULL) {
		fprintf(stderr, "cardex-bench: cannot create client %s: out of memory\n", c->id);
		return -1;
	}
	mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_message_callback_set(c->mosq, on_message);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	int port = c->side == SIDE_B && cfg->port_b != 0 ? cfg->port_b : cfg->port;

	rc = mosquitto_username_pw_set(c->mosq, c->id, cfg->password);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect(c->mosq, cfg->host, port, KEEPALIVE_S);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "cardex-bench: %s: %s cannot connect to %s:%d: %s\n", cfg->label, c->id,
				cfg->host, port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
		return -1;
	}
	c->fd = mosquitto_socket(c->mosq);
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (c->fd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		fprintf(stderr, "cardex-bench: cannot watch the socket of %s\n", c->id);
		return -1;
	}
	mark_dirty(l, c);
	return 0;
}

/* True when every client of every fleet holds its subscription. */
static bool all_subscribed(const bench__load *l)
{
	for (size_t fi = 0; fi < l->nfleets; fi++) {
		for (size_t i = 0; i < l->fleets[fi].npairs; i++) {
			const struct pair *p = &l->fleets[fi].pairs[i];

			if (!p->c[SIDE_A].subscribed || !p->c[SIDE_B].subscribed)
				return false;
		}
	}
	return true;
}

/* Waits until every client is connected and subscribed. Returns 0, or -1 after printing why. */
static int wait_ready(bench__load *l)
{
	int64_t deadline = bench__now_ns() + CONNECT_TIMEOUT_NS;

	flush_dirty(l);
	while (!all_subscribed(l)) {
		if (l->fatal || bench__stop)
			return -1;
		if (bench__now_ns() > deadline) {
			fprintf(stderr, "cardex-bench: terminals not connected and subscribed after %d s\n",
					(int)(CONNECT_TIMEOUT_NS / 1000000000));
			return -1;
		}
		if (service(l, 10) != 0)
			return -1;
	}
	return 0;
}

bench__load *bench__load_new(const bench__fleet_cfg *cfgs, size_t nfleets, size_t pairs,
		unsigned timeout_s, bool poll)
{
	bench__load *l;

	if (pairs == 0 || pairs > PAIRS_MAX) {
		fprintf(stderr, "cardex-bench: pairs must be 1..%d\n", PAIRS_MAX);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->timeout_ns = (int64_t)timeout_s * 1000000000;
	/*
	 * A sleeping reader makes every broker write that wakes it pay for the
	 * wakeup in the broker's own system time, an inter-processor interrupt
	 * in a virtual machine; real terminals are woken on other machines.
	 */
	l->round_wait_ms = poll ? 0 : 5;
	l->rng = cx_rng_new("cardex-bench");
	l->fleets = calloc(nfleets, sizeof(*l->fleets));
	if (l->ep < 0 || l->rng == NULL || l->fleets == NULL) {
		fprintf(stderr, "cardex-bench: cannot set up the load (memory, epoll or entropy)\n");
		goto fail;
	}
	if (bench__card_build(0, l->card[0], sizeof(l->card[0])) == 0 ||
			bench__card_build(1, l->card[1], sizeof(l->card[1])) == 0) {
		fprintf(stderr, "cardex-bench: the built-in cards do not pass the jCard check\n");
		goto fail;
	}
	l->nfleets = nfleets;
	for (size_t fi = 0; fi < nfleets; fi++) {
		struct fleet *f = &l->fleets[fi];

		f->load = l;
		f->cfg = cfgs[fi];
		f->pairs = calloc(pairs, sizeof(*f->pairs));
		if (f->pairs == NULL)
			goto fail;
		f->npairs = pairs;
		for (size_t i = 0; i < pairs; i++) {
			if (pair_init(f, &f->pairs[i], i) != 0) {
				fprintf(stderr, "cardex-bench: the topic prefix is too long\n");
				goto fail;
			}
		}
	}
	for (size_t fi = 0; fi < nfleets; fi++) {
		for (size_t i = 0; i < pairs; i++) {
			if (client_connect(l, &l->fleets[fi].pairs[i].c[SIDE_A]) != 0 ||
					client_connect(l, &l->fleets[fi].pairs[i].c[SIDE_B]) != 0)
				goto fail;
		}
	}
	if (wait_ready(l) != 0)
		goto fail;
	return l;
fail:
	bench__load_free(l);
	return NULL;
}

void bench__load_free(bench__load *l)
{
	if (l == NULL)
		return;
	for (size_t fi = 0; l->fleets != NULL && fi < l->nfleets; fi++) {
		struct fleet *f = &l->fleets[fi];

		for (size_t i = 0; f->pairs != NULL && i < f->npairs; i++) {
			for (int s = 0; s < 2; s++) {
				struct client *c = &f->pairs[i].c[s];

				if (c->mosq == NULL)
					continue;
				if (c->connected) {
					c->connected = false;
					mosquitto_disconnect(c->mosq);
				}
				mosquitto_destroy(c->mosq);
			}
		}
		free(f->pairs);
	}
	free(l->fleets);
	cx_rng_free(l->rng);
	if (l->ep >= 0)
		close(l->ep);
	cx_wipe(l->card, sizeof(l->card));
	cx_wipe(l->scratch, sizeof(l->scratch));
	cx_wipe(l->expect, sizeof(l->expect));
	free(l);
}

void bench__tally_free(bench__tally *t)
{
	bench__samples_free(&t->match[SIDE_A]);
	bench__samples_free(&t->match[SIDE_B]);
	bench__samples_free(&t->match_both);
	bench__samples_free(&t->exchange);
}
