/*
 * Integration tests of libcardex against the real Mosquitto: full exchanges
 * between two handles in one process (driven alternately with short
 * cardex_wait timeouts, or with cardex_loop and callbacks), wrong keys,
 * stale replies in a persistent session, a peer that is offline when the
 * card is sent, refused passwords, a gentle close. Some tests replace the
 * plugin with a raw client that plays the server on a plugin-less broker,
 * to feed the event filter duplicates, stale and reordered replies, and the
 * second answers that QoS 1 resends of requests cause.
 *
 * Every test starts its own broker in its fixture; every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "broker.h"
#include "cardex.h"
#include "proto.h"
#include "term.h"

#define WAIT_MS 8000   /* longest wait for something that should happen */
#define QUIET_MS 500   /* how long "nothing more arrives" is watched */
#define SLICE_MS 20    /* one turn of a handle when two are driven alternately */

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
	{"S", "pw-s-secret"},
};

struct fx {
	cxb_broker b;
	bool started;
	struct term a;
	struct term b_;
	char *card_ada;
	size_t ada_len;
	char *card_grace;
	size_t grace_len;
};

/* ---- helpers ---- */

/*
 * Connects; plain true allows plaintext exchanges (the filter tests play a
 * server that knows nothing of sealing).
 */
static int connect_opt(struct fx *fx, const char *id, const char *password, bool plain, cardex **out)
{
	cardex_options o;

	cardex_options_init(&o);
	o.allow_plain = plain;
	o.host = "127.0.0.1";
	o.port = fx->b.port;
	o.id = id;
	o.password = password;
	o.connect_timeout_ms = 5000;
	return cardex_connect(&o, out);
}

static int connect_as(struct fx *fx, const char *id, const char *password, cardex **out)
{
	return connect_opt(fx, id, password, false, out);
}

/* A matched exchange between a (offering) and b (claiming); returns its ID. */
static const char *match(struct term *a, struct term *b)
{
	char key[CARDEX_KEY_MAX + 1];
	const cardex_event *ma, *mb;

	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(a->cx, key, 0), CARDEX_OK);
	assert_int_equal(term_wait_for(a, CARDEX_EV_OFFER, b)->expires_in, 120);
	assert_int_equal(cardex_claim(b->cx, cardex_id(a->cx), key), CARDEX_OK);
	ma = term_wait_for(a, CARDEX_EV_MATCH, b);
	mb = term_wait_for(b, CARDEX_EV_MATCH, a);
	assert_string_equal(ma->exchange, mb->exchange);
	assert_int_equal(strlen(ma->exchange), CARDEX_XID_LEN);
	assert_string_equal(ma->peer, cardex_id(b->cx));
	assert_string_equal(mb->peer, cardex_id(a->cx));
	assert_int_equal(ma->expires_in, 300);
	return ma->exchange;
}

static bool card_has(const cardex_event *ev, const char *text)
{
	return ev && ev->card && strstr(ev->card, text) != NULL;
}

/* ---- raw MQTT client (session takeover, fake server) ---- */

struct raw {
	struct mosquitto *m;
	int connack;
	bool subscribed;
	char last_topic[256];
	char last_payload[1024];
	int nmsgs;
	int sent;         /* QoS 1 messages published, and those the broker acknowledged */
	int acked;
	long max_left;    /* highest and lowest attempts_left of the messages received, -1 before any */
	long min_left;
};

static void raw_on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)m;
	((struct raw *)ud)->connack = rc;
}

static void raw_on_subscribe(struct mosquitto *m, void *ud, int mid, int n, const int *q)
{
	(void)m;
	(void)mid;
	(void)n;
	(void)q;
	((struct raw *)ud)->subscribed = true;
}

static void raw_on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m;
	(void)mid;
	((struct raw *)ud)->acked++;
}

static void raw_on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	struct raw *r = ud;
	const char *left;

	(void)m;
	snprintf(r->last_topic, sizeof(r->last_topic), "%s", msg->topic);
	snprintf(r->last_payload, sizeof(r->last_payload), "%.*s", msg->payloadlen,
			(const char *)msg->payload);
	r->nmsgs++;
	left = strstr(r->last_payload, "\"attempts_left\":");
	if(left) {
		long v = strtol(left + 16, NULL, 10);

		r->max_left = v > r->max_left ? v : r->max_left;
		r->min_left = r->min_left < 0 || v < r->min_left ? v : r->min_left;
	}
}

static void raw_connect(struct raw *r, int port, const char *id, const char *pw, bool clean)
{
	long long deadline = cxb_now_ms() + WAIT_MS;

	memset(r, 0, sizeof(*r));
	r->connack = -1;
	r->max_left = -1;
	r->min_left = -1;
	r->m = mosquitto_new(id, clean, r);
	assert_non_null(r->m);
	mosquitto_connect_callback_set(r->m, raw_on_connect);
	mosquitto_subscribe_callback_set(r->m, raw_on_subscribe);
	mosquitto_publish_callback_set(r->m, raw_on_publish);
	mosquitto_message_callback_set(r->m, raw_on_message);
	assert_int_equal(mosquitto_username_pw_set(r->m, id, pw), MOSQ_ERR_SUCCESS);
	assert_int_equal(mosquitto_connect(r->m, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
	while(r->connack < 0 && cxb_now_ms() < deadline) {
		mosquitto_loop(r->m, 50, 1);
	}
	assert_int_equal(r->connack, 0);
}

static void raw_loop(struct raw *r, int ms)
{
	long long end = cxb_now_ms() + ms;

	while(cxb_now_ms() < end) {
		mosquitto_loop(r->m, 10, 1);
	}
}

static void raw_close(struct raw *r)
{
	if(r->m) {
		mosquitto_disconnect(r->m);
		mosquitto_loop(r->m, 10, 1);
		mosquitto_destroy(r->m);
		r->m = NULL;
	}
}

static void raw_publish(struct raw *r, const char *topic, const char *payload)
{
	assert_int_equal(mosquitto_publish(r->m, NULL, topic, (int)strlen(payload), payload, 1, false),
			MOSQ_ERR_SUCCESS);
	r->sent++;
	mosquitto_loop(r->m, 5, 1);
}

/*
 * Drives r until the broker acknowledged every message r published: each
 * is then queued for its subscribers (or in their sessions).
 */
static void raw_settle(struct raw *r)
{
	long long deadline = cxb_now_ms() + WAIT_MS;

	while(r->acked < r->sent && cxb_now_ms() < deadline) {
		mosquitto_loop(r->m, 10, 1);
	}
	assert_int_equal(r->acked, r->sent);
}

/* ---- fixtures ---- */

static int start(void **state, bool plugin)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	cxb_config cfg;

	if(!fx) {
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = plugin;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	if(cxb_start(&fx->b, &cfg) != 0) {
		free(fx);
		return -1;
	}
	fx->started = true;
	*state = fx;
	return 0;
}

static int setup(void **state)
{
	return start(state, true);
}

static int setup_no_plugin(void **state)
{
	return start(state, false);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(!fx) {
		return 0;
	}
	term_close(&fx->a);
	term_close(&fx->b_);
	if(fx->started) {
		cxb_stop(&fx->b);
	}
	free(fx->card_ada);
	free(fx->card_grace);
	free(fx);
	return 0;
}

/* Connects A and B and loads both cards. */
static void two_terms(struct fx *fx)
{
	assert_int_equal(connect_as(fx, "A", "pw-a-secret", &fx->a.cx), CARDEX_OK);
	assert_int_equal(connect_as(fx, "B", "pw-b-secret", &fx->b_.cx), CARDEX_OK);
	fx->card_ada = term_load("ada.json", &fx->ada_len);
	fx->card_grace = term_load("grace.json", &fx->grace_len);
}

/* ---- tests ---- */

static void test_full_exchange(void **state)
{
	struct fx *fx = *state;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	assert_true(card_has(term_wait_for(&fx->a, CARDEX_EV_CARD, &fx->b_), "Grace Hopper"));
	assert_true(card_has(term_wait_for(&fx->b_, CARDEX_EV_CARD, &fx->a), "Ada Lovelace"));
	assert_string_equal(term_wait_for(&fx->a, CARDEX_EV_SENT, &fx->b_)->peer, "B");
	assert_string_equal(term_wait_for(&fx->b_, CARDEX_EV_SENT, &fx->a)->peer, "A");
	assert_string_equal(term_find(&fx->a, CARDEX_EV_CARD)->peer, "B");
	assert_string_equal(term_find(&fx->a, CARDEX_EV_CARD)->exchange, xid);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	/* Each event once: A offer, match, safety, card, sent; B match, safety, card, sent. */
	assert_int_equal(fx->a.n, 5);
	assert_int_equal(fx->b_.n, 4);
	/* Sealed by default: both sides derived the same safety code. */
	assert_true(term_find(&fx->a, CARDEX_EV_MATCH)->sealed);
	assert_true(term_find(&fx->b_, CARDEX_EV_MATCH)->sealed);
	assert_int_equal(strlen(term_find(&fx->a, CARDEX_EV_SAFETY)->safety_code), 6);
	assert_string_equal(term_find(&fx->a, CARDEX_EV_SAFETY)->safety_code,
			term_find(&fx->b_, CARDEX_EV_SAFETY)->safety_code);
	assert_true(term_find(&fx->a, CARDEX_EV_CARD)->sealed);
	assert_true(term_find(&fx->b_, CARDEX_EV_CARD)->sealed);
	assert_false(term_find(&fx->b_, CARDEX_EV_CARD)->verified);
	/* The exchange is done: its keys are wiped, so a second card cannot even be sealed. */
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_ESTATE);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_ESTATE);
}

static void test_wrong_key(void **state)
{
	struct fx *fx = *state;
	char key[CARDEX_KEY_MAX + 1];
	char wrong[CARDEX_KEY_MAX + 1];
	const cardex_event *ev;

	two_terms(fx);
	assert_int_equal(cardex_generate_key(8, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(strlen(key), 8);
	memcpy(wrong, key, sizeof(key));
	wrong[0] = key[0] == '9' ? '0' : (char)(key[0] + 1);
	assert_int_equal(cardex_offer(fx->a.cx, key, 60), CARDEX_OK);
	assert_int_equal(term_wait_for(&fx->a, CARDEX_EV_OFFER, NULL)->expires_in, 60);
	assert_int_equal(cardex_claim(fx->b_.cx, "A", wrong), CARDEX_OK);
	ev = term_wait_for(&fx->b_, CARDEX_EV_ERROR, &fx->a);
	assert_string_equal(ev->code, "no-match");
	assert_int_equal(strlen(ev->ref), 16);
	assert_int_equal(term_wait_for(&fx->a, CARDEX_EV_ATTEMPT, &fx->b_)->attempts_left, 2);
	/* The offer survives one wrong key. */
	assert_int_equal(cardex_claim(fx->b_.cx, "A", key), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_MATCH, &fx->b_);
	term_wait_for(&fx->b_, CARDEX_EV_MATCH, &fx->a);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_int_equal(term_count(&fx->a, CARDEX_EV_ATTEMPT), 1);
	assert_int_equal(term_count(&fx->b_, CARDEX_EV_ERROR), 1);
	/* The keys are agreed at the match, before any card: both get the safety code. */
	assert_int_equal(term_count(&fx->a, CARDEX_EV_SAFETY), 1);
	assert_int_equal(term_count(&fx->b_, CARDEX_EV_SAFETY), 1);
	assert_int_equal(fx->a.n, 4);
	assert_int_equal(fx->b_.n, 3);
}

/*
 * Exchange 1 leaves a match in A's persistent session (A closes before
 * reading it, so B's sealed card waits in B for keys that never come); a
 * new handle of A then runs exchange 2 and must report only exchange 2's
 * events, each once.
 */
static void test_stale_session(void **state)
{
	struct fx *fx = *state;
	char xid1[CARDEX_XID_LEN + 1];
	char key[CARDEX_KEY_MAX + 1];
	char xid2[CARDEX_XID_LEN + 1];
	size_t i;

	two_terms(fx);
	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(fx->a.cx, key, 0), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_OFFER, NULL);
	assert_int_equal(cardex_claim(fx->b_.cx, "A", key), CARDEX_OK);
	snprintf(xid1, sizeof(xid1), "%s", term_wait_for(&fx->b_, CARDEX_EV_MATCH, NULL)->exchange);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid1, fx->card_grace, fx->grace_len), CARDEX_OK);
	/* A leaves without reading its match. */
	term_close(&fx->a);
	term_reset(&fx->b_);

	assert_int_equal(connect_as(fx, "A", "pw-a-secret", &fx->a.cx), CARDEX_OK);
	term_quiet(&fx->a, NULL, QUIET_MS);
	assert_int_equal(fx->a.n, 0);
	snprintf(xid2, sizeof(xid2), "%s", match(&fx->a, &fx->b_));
	assert_string_not_equal(xid1, xid2);
	assert_int_equal(cardex_send_card(fx->a.cx, xid2, fx->card_ada, fx->ada_len), CARDEX_OK);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid2, fx->card_grace, fx->grace_len), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_CARD, &fx->b_);
	term_wait_for(&fx->a, CARDEX_EV_SENT, &fx->b_);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_int_equal(fx->a.n, 5);
	for(i = 0; i < fx->a.n; i++) {
		assert_string_not_equal(fx->a.evs[i].exchange, xid1);
	}
	/* The old exchange is unknown to the new handle. */
	assert_int_equal(cardex_send_card(fx->a.cx, xid1, fx->card_ada, fx->ada_len), CARDEX_ESTATE);
}

/*
 * B's connection is taken over (another client connects with B's client ID)
 * and B is offline when A sends its card; B's handle reconnects inside
 * cardex_wait and gets the card from its persistent session.
 */
static void test_offline_peer(void **state)
{
	struct fx *fx = *state;
	char xid[CARDEX_XID_LEN + 1];
	struct raw intruder;

	two_terms(fx);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	term_wait_for(&fx->b_, CARDEX_EV_SENT, NULL);
	term_wait_for(&fx->a, CARDEX_EV_CARD, NULL);

	raw_connect(&intruder, fx->b.port, "B", "pw-b-secret", false);
	raw_close(&intruder);
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_SENT, NULL);

	assert_true(card_has(term_wait_for(&fx->b_, CARDEX_EV_CARD, NULL), "Ada Lovelace"));
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_int_equal(term_count(&fx->b_, CARDEX_EV_CARD), 1);
	assert_int_equal(fx->b_.n, 4);
	assert_true(cardex_socket(fx->b_.cx) >= 0);
}

/* Callback mode: the card goes out from inside the MATCH callback. */
struct cbstate {
	struct fx *fx;
	struct term *t;
	const char *card;
	size_t card_len;
	int send_rc;
};

static void on_event(cardex *cx, const cardex_event *ev, void *ud)
{
	struct cbstate *s = ud;

	term_record(s->t, ev);
	if(ev->type == CARDEX_EV_MATCH) {
		s->send_rc = cardex_send_card(cx, ev->exchange, s->card, s->card_len);
	}
}

static void test_callback_mode(void **state)
{
	struct fx *fx = *state;
	struct cbstate sa, sb;
	char key[CARDEX_KEY_MAX + 1];
	long long deadline;

	two_terms(fx);
	sa = (struct cbstate){fx, &fx->a, fx->card_ada, fx->ada_len, 1};
	sb = (struct cbstate){fx, &fx->b_, fx->card_grace, fx->grace_len, 1};
	cardex_set_event_cb(fx->a.cx, on_event, &sa);
	cardex_set_event_cb(fx->b_.cx, on_event, &sb);
	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(fx->a.cx, key, 0), CARDEX_OK);
	deadline = cxb_now_ms() + WAIT_MS;
	while(!term_find(&fx->a, CARDEX_EV_OFFER) && cxb_now_ms() < deadline) {
		assert_int_equal(cardex_loop(fx->a.cx, SLICE_MS), CARDEX_OK);
	}
	assert_non_null(term_find(&fx->a, CARDEX_EV_OFFER));
	assert_int_equal(cardex_claim(fx->b_.cx, "A", key), CARDEX_OK);
	while(!(term_find(&fx->a, CARDEX_EV_CARD) && term_find(&fx->a, CARDEX_EV_SENT) && term_find(&fx->b_, CARDEX_EV_CARD)
			&& term_find(&fx->b_, CARDEX_EV_SENT)) && cxb_now_ms() < deadline) {
		assert_int_equal(cardex_loop(fx->a.cx, SLICE_MS), CARDEX_OK);
		assert_int_equal(cardex_loop(fx->b_.cx, SLICE_MS), CARDEX_OK);
	}
	assert_int_equal(sa.send_rc, CARDEX_OK);
	assert_int_equal(sb.send_rc, CARDEX_OK);
	assert_true(card_has(term_find(&fx->a, CARDEX_EV_CARD), "Grace Hopper"));
	assert_true(card_has(term_find(&fx->b_, CARDEX_EV_CARD), "Ada Lovelace"));
	assert_int_equal(fx->a.n, 5);
	assert_int_equal(fx->b_.n, 4);
}

static void test_wrong_password(void **state)
{
	struct fx *fx = *state;
	cardex *cx = (cardex *)1;

	assert_int_equal(connect_as(fx, "A", "not-the-password", &cx), CARDEX_EAUTH);
	assert_null(cx);
	assert_int_equal(connect_as(fx, "nobody", "pw", &cx), CARDEX_EAUTH);
	assert_null(cx);
	assert_int_equal(connect_as(fx, "A", NULL, &cx), CARDEX_EAUTH);
	assert_null(cx);
}

static void test_local_errors(void **state)
{
	struct fx *fx = *state;
	char key[CARDEX_KEY_MAX + 1];
	char xid[CARDEX_XID_LEN + 1];
	cardex_options o;
	cardex *cx = NULL;
	int port;
	size_t bad_len;
	char *bad;

	/* No broker needed for these. */
	assert_int_equal(cardex_generate_key(5, key, sizeof(key)), CARDEX_EINVAL);
	assert_int_equal(cardex_generate_key(17, key, sizeof(key)), CARDEX_EINVAL);
	assert_int_equal(cardex_generate_key(16, key, 16), CARDEX_EINVAL);
	assert_int_equal(cardex_generate_key(16, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(strlen(key), 16);
	assert_string_equal(cardex_err_name(CARDEX_ETIMEOUT), "CARDEX_ETIMEOUT");
	assert_string_equal(cardex_err_name(CARDEX_EAUTH), "CARDEX_EAUTH");
	assert_string_equal(cardex_strerror(CARDEX_ETIMEOUT), "timed out");
	assert_non_null(cardex_strerror(12345));
	assert_string_equal(cardex_event_type_name(CARDEX_EV_MATCH), "match");
	cardex_options_init(&o);
	assert_int_equal(cardex_connect(&o, &cx), CARDEX_EINVAL);
	o.id = "not/valid";
	assert_int_equal(cardex_connect(&o, &cx), CARDEX_EINVAL);
	o.id = "A";
	o.host = "127.0.0.1";
	port = cxb_free_port();
	assert_true(port > 0);
	o.port = port;
	assert_int_equal(cardex_connect(&o, &cx), CARDEX_ECONNECT);
	assert_null(cx);
	cardex_close(NULL);
	cardex_event_clear(NULL);

	two_terms(fx);
	assert_int_equal(cardex_offer(fx->a.cx, "12345", 0), CARDEX_EINVAL);
	assert_int_equal(cardex_offer(fx->a.cx, "12345a", 0), CARDEX_EINVAL);
	assert_int_equal(cardex_offer(fx->a.cx, "123456", 601), CARDEX_EINVAL);
	assert_int_equal(cardex_claim(fx->b_.cx, "A/B", "123456"), CARDEX_EINVAL);
	assert_int_equal(cardex_send_card(fx->a.cx, "0123456789abcdef0123456789abcdef", fx->card_ada,
			fx->ada_len), CARDEX_ESTATE);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	bad = term_load("no-fn.json", &bad_len);
	assert_int_equal(cardex_send_card(fx->a.cx, xid, bad, bad_len), CARDEX_ECARD);
	assert_int_equal(cardex_send_card(fx->a.cx, xid, "[\"vcard\"", 8), CARDEX_ECARD);
	free(bad);
	/* A self-claim is the server's to refuse. */
	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_claim(fx->b_.cx, "B", key), CARDEX_OK);
	assert_string_equal(term_wait_for(&fx->b_, CARDEX_EV_ERROR, NULL)->code, "self-claim");
}

/*
 * The event filter, fed by a raw client playing the server on a broker
 * without the plugin: stale replies, duplicates, a card before its match,
 * attempts out of order, replies to a replaced offer.
 */
static void test_filter(void **state)
{
	struct fx *fx = *state;
	static const char card[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Bob\"]]]";
	const char *x0 = "00000000000000000000000000000000";
	const char *x1 = "11111111111111111111111111111111";
	char key[CARDEX_KEY_MAX + 1];
	char msg[1024];
	char ref[CX_REF_MAX + 1];
	cx_offer_req req;
	struct raw srv;
	long long deadline;
	static const cardex_event_type want[] = {CARDEX_EV_OFFER, CARDEX_EV_ATTEMPT, CARDEX_EV_ATTEMPT,
		CARDEX_EV_MATCH, CARDEX_EV_CARD, CARDEX_EV_SENT, CARDEX_EV_ERROR, CARDEX_EV_OFFER};
	size_t i;

	raw_connect(&srv, fx->b.port, "S", "pw-s-secret", true);
	assert_int_equal(mosquitto_subscribe(srv.m, NULL, "keys/#", 1), MOSQ_ERR_SUCCESS);
	deadline = cxb_now_ms() + WAIT_MS;
	while(!srv.subscribed && cxb_now_ms() < deadline) {
		mosquitto_loop(srv.m, 10, 1);
	}
	assert_true(srv.subscribed);
	assert_int_equal(connect_opt(fx, "A", "pw-a-secret", true, &fx->a.cx), CARDEX_OK);

	/* Stale replies of an earlier run. */
	snprintf(msg, sizeof(msg), "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"stale00000000000\"}", x0);
	raw_publish(&srv, "reply/A", msg);
	snprintf(msg, sizeof(msg), "{\"type\":\"card\",\"exchange\":\"%s\",\"from\":\"B\",\"card\":%s}", x0, card);
	raw_publish(&srv, "reply/A", msg);
	raw_publish(&srv, "reply/A", "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"stale00000000000\"}");
	raw_publish(&srv, "reply/A", "{\"type\":\"error\",\"code\":\"no-match\",\"topic\":\"claim/C\","
			"\"message\":\"x\",\"ref\":\"stale00000000000\"}");
	term_quiet(&fx->a, NULL, QUIET_MS);
	assert_int_equal(fx->a.n, 0);

	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(fx->a.cx, key, 0), CARDEX_OK);
	deadline = cxb_now_ms() + WAIT_MS;
	while(srv.nmsgs == 0 && cxb_now_ms() < deadline) {
		mosquitto_loop(srv.m, 10, 1);
	}
	assert_string_equal(srv.last_topic, "keys/A");
	memset(&req, 0, sizeof(req));
	assert_int_equal(cx_offer_decode(srv.last_payload, strlen(srv.last_payload), &req, NULL), CX_CODE_NONE);
	assert_string_equal(req.key, key);
	assert_int_equal(strlen(req.ref), 16);
	memcpy(ref, req.ref, sizeof(ref));
	cx_offer_req_clear(&req);

	snprintf(msg, sizeof(msg), "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", ref);
	raw_publish(&srv, "reply/A", msg);
	raw_publish(&srv, "reply/A", msg);
	snprintf(msg, sizeof(msg), "{\"type\":\"attempt\",\"attempts_left\":2,\"ref\":\"%s\"}", ref);
	raw_publish(&srv, "reply/A", msg);
	raw_publish(&srv, "reply/A", msg);
	/* An attempt count that went up is a stale redelivery; one that went down is news. */
	snprintf(msg, sizeof(msg), "{\"type\":\"attempt\",\"attempts_left\":3,\"ref\":\"%s\"}", ref);
	raw_publish(&srv, "reply/A", msg);
	snprintf(msg, sizeof(msg), "{\"type\":\"attempt\",\"attempts_left\":1,\"ref\":\"%s\"}", ref);
	raw_publish(&srv, "reply/A", msg);
	/* The card overtakes its match: held, then reported after it. */
	snprintf(msg, sizeof(msg), "{\"type\":\"card\",\"exchange\":\"%s\",\"from\":\"B\",\"card\":%s}", x1, card);
	raw_publish(&srv, "reply/A", msg);
	snprintf(msg, sizeof(msg), "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"%s\"}", x1, ref);
	raw_publish(&srv, "reply/A", msg);
	raw_publish(&srv, "reply/A", msg);
	/* A sends its card twice (both its own requests): each gets one answer. */
	while(!term_find(&fx->a, CARDEX_EV_MATCH) && cxb_now_ms() < deadline) {
		mosquitto_loop(srv.m, 10, 1);
		term_turn(&fx->a, 5);
	}
	assert_int_equal(cardex_send_card(fx->a.cx, x1, card, strlen(card)), CARDEX_OK);
	assert_int_equal(cardex_send_card(fx->a.cx, x1, card, strlen(card)), CARDEX_OK);
	snprintf(msg, sizeof(msg), "{\"type\":\"card\",\"exchange\":\"%s\",\"from\":\"B\",\"card\":%s}", x1, card);
	raw_publish(&srv, "reply/A", msg);
	snprintf(msg, sizeof(msg), "{\"type\":\"sent\",\"exchange\":\"%s\",\"to\":\"B\"}", x1);
	raw_publish(&srv, "reply/A", msg);
	raw_publish(&srv, "reply/A", msg);
	snprintf(msg, sizeof(msg), "{\"type\":\"error\",\"code\":\"already-sent\",\"topic\":\"card/B\","
			"\"message\":\"m\",\"exchange\":\"%s\"}", x1);
	raw_publish(&srv, "reply/A", msg);
	/* The answer to the second card, redelivered: one answer per request. */
	raw_publish(&srv, "reply/A", msg);

	raw_loop(&srv, 50);
	term_quiet(&fx->a, NULL, QUIET_MS);
	assert_int_equal(fx->a.n, 7);

	/* A new offer: the old ref dies with it. */
	assert_int_equal(cardex_offer(fx->a.cx, key, 0), CARDEX_OK);
	srv.nmsgs = 0;
	deadline = cxb_now_ms() + WAIT_MS;
	while(srv.nmsgs == 0 && cxb_now_ms() < deadline) {
		mosquitto_loop(srv.m, 10, 1);
		term_turn(&fx->a, 5);
	}
	snprintf(msg, sizeof(msg), "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"%s\"}", ref);
	raw_publish(&srv, "reply/A", msg);
	memset(&req, 0, sizeof(req));
	assert_int_equal(cx_offer_decode(srv.last_payload, strlen(srv.last_payload), &req, NULL), CX_CODE_NONE);
	assert_string_not_equal(req.ref, ref);
	snprintf(msg, sizeof(msg), "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", req.ref);
	cx_offer_req_clear(&req);
	raw_publish(&srv, "reply/A", msg);
	raw_loop(&srv, 50);
	term_quiet(&fx->a, NULL, QUIET_MS);
	raw_close(&srv);

	for(i = 0; i < fx->a.n; i++) {
		print_message("event %zu: %s\n", i, cardex_event_type_name(fx->a.evs[i].type));
	}
	assert_int_equal(fx->a.n, sizeof(want) / sizeof(want[0]));
	for(i = 0; i < fx->a.n; i++) {
		assert_int_equal(fx->a.evs[i].type, want[i]);
	}
	assert_int_equal(fx->a.evs[1].attempts_left, 2);
	assert_int_equal(fx->a.evs[2].attempts_left, 1);
	assert_true(card_has(&fx->a.evs[4], "Bob"));
	assert_string_equal(fx->a.evs[4].exchange, x1);
	assert_string_equal(fx->a.evs[6].code, "already-sent");
}

/* ---- resent requests, answered twice (fake server) ---- */

static const char tiny_card[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Al\"]]]";

/*
 * A raw client that plays the server on a broker without the plugin: it
 * sees A's requests on keys/, claim/ and card/, and answers on reply/A.
 */
static void srv_start(struct fx *fx, struct raw *srv)
{
	char *subs[] = {"keys/#", "claim/#", "card/#"};
	long long deadline = cxb_now_ms() + WAIT_MS;

	raw_connect(srv, fx->b.port, "S", "pw-s-secret", true);
	assert_int_equal(mosquitto_subscribe_multiple(srv->m, NULL, 3, subs, 1, 0, NULL), MOSQ_ERR_SUCCESS);
	while(!srv->subscribed && cxb_now_ms() < deadline) {
		mosquitto_loop(srv->m, 10, 1);
	}
	assert_true(srv->subscribed);
	assert_int_equal(connect_opt(fx, "A", "pw-a-secret", true, &fx->a.cx), CARDEX_OK);
}

__attribute__((format(printf, 2, 3)))
static void srv_reply(struct raw *srv, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(msg));
	raw_publish(srv, "reply/A", msg);
}

/* Drives A and the server until the request after the first before ones arrived on topic. */
static void srv_await(struct raw *srv, struct term *a, int before, const char *topic)
{
	long long deadline = cxb_now_ms() + WAIT_MS;

	while(srv->nmsgs == before && cxb_now_ms() < deadline) {
		mosquitto_loop(srv->m, 10, 1);
		term_turn(a, 5);
	}
	assert_int_equal(srv->nmsgs, before + 1);
	assert_string_equal(srv->last_topic, topic);
}

/* A offers a fresh key; ref receives the offer's ref, as the server saw it. */
static void srv_offer(struct raw *srv, struct term *a, char ref[CX_REF_MAX + 1])
{
	char key[CARDEX_KEY_MAX + 1];
	int before = srv->nmsgs;
	cx_offer_req req;

	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(a->cx, key, 0), CARDEX_OK);
	srv_await(srv, a, before, "keys/A");
	memset(&req, 0, sizeof(req));
	assert_int_equal(cx_offer_decode(srv->last_payload, strlen(srv->last_payload), &req, NULL),
			CX_CODE_NONE);
	assert_int_equal(strlen(req.ref), 16);
	memcpy(ref, req.ref, CX_REF_MAX + 1);
	cx_offer_req_clear(&req);
}

/* A claims B's offer; ref receives the claim's ref. */
static void srv_claim(struct raw *srv, struct term *a, char ref[CX_REF_MAX + 1])
{
	int before = srv->nmsgs;
	cx_claim_req req;

	assert_int_equal(cardex_claim(a->cx, "B", "123456"), CARDEX_OK);
	srv_await(srv, a, before, "claim/B");
	memset(&req, 0, sizeof(req));
	assert_int_equal(cx_claim_decode(srv->last_payload, strlen(srv->last_payload), &req, NULL),
			CX_CODE_NONE);
	assert_int_equal(strlen(req.ref), 16);
	memcpy(ref, req.ref, CX_REF_MAX + 1);
	cx_claim_req_clear(&req);
}

/* A sends its card in exchange xid (to B). */
static void srv_card(struct raw *srv, struct term *a, const char *xid)
{
	int before = srv->nmsgs;

	assert_int_equal(cardex_send_card(a->cx, xid, tiny_card, strlen(tiny_card)), CARDEX_OK);
	srv_await(srv, a, before, "card/B");
}

/* Lets every reply published so far reach A, and A report what it reports. */
static void srv_settle(struct raw *srv, struct term *a)
{
	raw_loop(srv, 50);
	term_quiet(a, NULL, QUIET_MS);
}

/* Each recorded event of A has the type in want[], in this order. */
static void expect_types(const struct term *a, const cardex_event_type *want, size_t n)
{
	size_t i;

	for(i = 0; i < a->n; i++) {
		print_message("event %zu: %s %s %s %s\n", i, cardex_event_type_name(a->evs[i].type),
				a->evs[i].code, a->evs[i].reason, a->evs[i].exchange);
	}
	assert_int_equal(a->n, n);
	for(i = 0; i < n; i++) {
		assert_int_equal(a->evs[i].type, want[i]);
	}
}

/*
 * A card request resent after a reconnect passed once; the copy is refused
 * as "already-sent", or as "unknown-exchange" once both cards closed the
 * exchange. Those refusals are dropped; the answer to a card A really sent
 * again is reported, once.
 */
static void test_filter_resent_card(void **state)
{
	struct fx *fx = *state;
	const char *x = "22222222222222222222222222222222";
	static const cardex_event_type want[] = {CARDEX_EV_OFFER, CARDEX_EV_MATCH, CARDEX_EV_SENT,
		CARDEX_EV_ERROR, CARDEX_EV_ERROR, CARDEX_EV_ERROR};
	char ref[CX_REF_MAX + 1];
	struct raw srv;

	srv_start(fx, &srv);
	srv_offer(&srv, &fx->a, ref);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", ref);
	srv_reply(&srv, "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"%s\"}", x, ref);
	term_wait_for(&fx->a, CARDEX_EV_MATCH, NULL);
	srv_card(&srv, &fx->a, x);
	srv_reply(&srv, "{\"type\":\"sent\",\"exchange\":\"%s\",\"to\":\"B\"}", x);
	/* The resend's refusal, while the exchange lives and after it closed. */
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"already-sent\",\"topic\":\"card/B\","
			"\"message\":\"m\",\"exchange\":\"%s\"}", x);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"unknown-exchange\",\"topic\":\"card/B\","
			"\"message\":\"m\",\"exchange\":\"%s\"}", x);
	srv_settle(&srv, &fx->a);
	assert_int_equal(fx->a.n, 3);

	/* A sends its card again itself: that request's refusal is news, its redelivery is not. */
	srv_card(&srv, &fx->a, x);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"unknown-exchange\",\"topic\":\"card/B\","
			"\"message\":\"m\",\"exchange\":\"%s\"}", x);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"unknown-exchange\",\"topic\":\"card/B\","
			"\"message\":\"m\",\"exchange\":\"%s\"}", x);
	srv_settle(&srv, &fx->a);
	/* A resent public key's refusal, while a card awaits its answer, is not that card's. */
	srv_card(&srv, &fx->a, x);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"already-sent\",\"topic\":\"card/B\","
			"\"message\":\"%s\",\"exchange\":\"%s\"}", CX_MSG_KEY_ALREADY_SENT, x);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"unknown-exchange\",\"topic\":\"card/B\","
			"\"message\":\"m\",\"exchange\":\"%s\"}", x);
	srv_settle(&srv, &fx->a);
	/* too-large carries no exchange: it is placed by its topic, for a card awaiting its answer. */
	srv_card(&srv, &fx->a, x);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"too-large\",\"topic\":\"card/B\",\"message\":\"m\"}");
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"too-large\",\"topic\":\"card/B\",\"message\":\"m\"}");
	srv_settle(&srv, &fx->a);
	raw_close(&srv);

	expect_types(&fx->a, want, sizeof(want) / sizeof(want[0]));
	assert_string_equal(fx->a.evs[3].code, "unknown-exchange");
	assert_string_equal(fx->a.evs[3].exchange, x);
	assert_string_equal(fx->a.evs[4].code, "unknown-exchange");
	assert_string_equal(fx->a.evs[5].code, "too-large");
	assert_string_equal(fx->a.evs[5].exchange, x);
}

/*
 * A claim resent after it matched is refused (no-match: the offer is
 * consumed; or rate-limited), or matches a copy of the offer that a resent
 * offer created: dropped. A claim that never matched keeps its refusal, and
 * a claim gets one answer.
 */
static void test_filter_resent_claim(void **state)
{
	struct fx *fx = *state;
	const char *x1 = "33333333333333333333333333333333";
	const char *x2 = "44444444444444444444444444444444";
	static const cardex_event_type want[] = {CARDEX_EV_MATCH, CARDEX_EV_ERROR, CARDEX_EV_ERROR};
	char c1[CX_REF_MAX + 1], c2[CX_REF_MAX + 1], c3[CX_REF_MAX + 1];
	struct raw srv;

	srv_start(fx, &srv);
	srv_claim(&srv, &fx->a, c1);
	srv_reply(&srv, "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"%s\"}", x1, c1);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"no-match\",\"topic\":\"claim/B\",\"message\":\"m\","
			"\"ref\":\"%s\"}", c1);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"rate-limited\",\"topic\":\"claim/B\",\"message\":\"m\","
			"\"retry_after\":9,\"ref\":\"%s\"}", c1);
	srv_reply(&srv, "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"%s\"}", x2, c1);
	srv_settle(&srv, &fx->a);
	assert_int_equal(fx->a.n, 1);

	/* Never matched: its no-match is reported; a second refusal of it is not. */
	srv_claim(&srv, &fx->a, c2);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"no-match\",\"topic\":\"claim/B\",\"message\":\"m\","
			"\"ref\":\"%s\"}", c2);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"rate-limited\",\"topic\":\"claim/B\",\"message\":\"m\","
			"\"retry_after\":30,\"ref\":\"%s\"}", c2);
	srv_claim(&srv, &fx->a, c3);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"rate-limited\",\"topic\":\"claim/B\",\"message\":\"m\","
			"\"retry_after\":42,\"ref\":\"%s\"}", c3);
	srv_settle(&srv, &fx->a);
	raw_close(&srv);

	expect_types(&fx->a, want, sizeof(want) / sizeof(want[0]));
	assert_string_equal(fx->a.evs[0].exchange, x1);
	assert_string_equal(fx->a.evs[0].ref, c1);
	assert_string_equal(fx->a.evs[1].code, "no-match");
	assert_string_equal(fx->a.evs[1].ref, c2);
	assert_string_equal(fx->a.evs[2].code, "rate-limited");
	assert_string_equal(fx->a.evs[2].ref, c3);
	assert_int_equal(fx->a.evs[2].retry_after, 42);
	/* The second exchange was never reported, so it is not A's to use. */
	assert_int_equal(cardex_send_card(fx->a.cx, x2, tiny_card, strlen(tiny_card)), CARDEX_ESTATE);
}

/*
 * An offer resent while it is live replaces itself: "revoked replaced" with
 * its own ref, then "offer" again; it lives on, so neither is reported. A
 * replacement by another connection of the terminal (another ref follows)
 * is. After its match, the offer's ref only concerns copies that a resend
 * created (offer, attempt, revoked, expired, a second match, an error): all
 * dropped. Without a match, its expiry and a first refusal are reported.
 */
static void test_filter_resent_offer(void **state)
{
	struct fx *fx = *state;
	const char *x1 = "55555555555555555555555555555555";
	const char *x2 = "66666666666666666666666666666666";
	static const cardex_event_type want[] = {CARDEX_EV_OFFER, CARDEX_EV_ATTEMPT, CARDEX_EV_REVOKED,
		CARDEX_EV_OFFER, CARDEX_EV_MATCH, CARDEX_EV_OFFER, CARDEX_EV_EXPIRED, CARDEX_EV_ERROR};
	char r1[CX_REF_MAX + 1], r2[CX_REF_MAX + 1], r3[CX_REF_MAX + 1], r4[CX_REF_MAX + 1];
	struct raw srv;

	srv_start(fx, &srv);
	srv_offer(&srv, &fx->a, r1);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r1);
	srv_reply(&srv, "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"%s\"}", r1);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r1);
	srv_reply(&srv, "{\"type\":\"attempt\",\"attempts_left\":2,\"ref\":\"%s\"}", r1);
	/* Once more, with the revocation redelivered in between. */
	srv_reply(&srv, "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"%s\"}", r1);
	srv_reply(&srv, "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"%s\"}", r1);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r1);
	/* The offer was answered: an error for its ref refuses a resend. */
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"capacity\",\"topic\":\"keys/A\",\"message\":\"m\","
			"\"ref\":\"%s\"}", r1);
	srv_settle(&srv, &fx->a);
	assert_int_equal(fx->a.n, 2);
	/* Another connection of A offers: A's offer is really gone. */
	srv_reply(&srv, "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"%s\"}", r1);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"other00000000000\"}");
	srv_settle(&srv, &fx->a);
	assert_int_equal(fx->a.n, 3);

	srv_offer(&srv, &fx->a, r2);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"%s\"}", x1, r2);
	/* The copy a resend of the offer created after the match. */
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"attempt\",\"attempts_left\":2,\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"match\",\"exchange\":\"%s\",\"peer\":\"B\",\"expires_in\":300,"
			"\"ref\":\"%s\"}", x2, r2);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"capacity\",\"topic\":\"keys/A\",\"message\":\"m\","
			"\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"expired\",\"offer\":true,\"ref\":\"%s\"}", r2);
	srv_reply(&srv, "{\"type\":\"revoked\",\"reason\":\"attempts\",\"ref\":\"%s\"}", r2);
	srv_settle(&srv, &fx->a);
	assert_int_equal(fx->a.n, 5);

	/* Unmatched offers: the expiry and a first refusal are real. */
	srv_offer(&srv, &fx->a, r3);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", r3);
	srv_reply(&srv, "{\"type\":\"expired\",\"offer\":true,\"ref\":\"%s\"}", r3);
	srv_settle(&srv, &fx->a);
	srv_offer(&srv, &fx->a, r4);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"capacity\",\"topic\":\"keys/A\",\"message\":\"m\","
			"\"ref\":\"%s\"}", r4);
	srv_reply(&srv, "{\"type\":\"error\",\"code\":\"internal\",\"topic\":\"keys/A\",\"message\":\"m\","
			"\"ref\":\"%s\"}", r4);
	srv_settle(&srv, &fx->a);
	raw_close(&srv);

	expect_types(&fx->a, want, sizeof(want) / sizeof(want[0]));
	assert_int_equal(fx->a.evs[1].attempts_left, 2);
	assert_string_equal(fx->a.evs[2].reason, "replaced");
	assert_string_equal(fx->a.evs[2].ref, r1);
	assert_string_equal(fx->a.evs[4].exchange, x1);
	assert_string_equal(fx->a.evs[6].ref, r3);
	assert_true(fx->a.evs[6].offer);
	assert_string_equal(fx->a.evs[7].code, "capacity");
	assert_string_equal(fx->a.evs[7].ref, r4);
	assert_int_equal(cardex_send_card(fx->a.cx, x2, tiny_card, strlen(tiny_card)), CARDEX_ESTATE);
}

/*
 * cardex_close while the broker is still sending replies: the broker must
 * read the DISCONNECT (no reset, no "Broken pipe") after the PUBACKs of
 * every reply the handle read, so that none the application saw is
 * redelivered to the session, and what the handle did not read stays there.
 */
static void test_gentle_close(void **state)
{
	enum { BURST = 400, SEEN = 40, TOP = 100000 };
	struct fx *fx = *state;
	char ref[CX_REF_MAX + 1];
	struct raw srv, reader;
	long long deadline;
	long long t0;
	uint32_t lowest;
	char msg[128];
	char *log;
	int i;

	srv_start(fx, &srv);
	srv_offer(&srv, &fx->a, ref);
	srv_reply(&srv, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"%s\"}", ref);
	term_wait_for(&fx->a, CARDEX_EV_OFFER, NULL);
	/* Each notice has a lower count than the one before, so each is reported. */
	for(i = 0; i < BURST; i++) {
		int n = snprintf(msg, sizeof(msg), "{\"type\":\"attempt\",\"attempts_left\":%d,\"ref\":\"%s\"}",
				TOP - i, ref);

		assert_int_equal(mosquitto_publish(srv.m, NULL, "reply/A", n, msg, 1, false), MOSQ_ERR_SUCCESS);
		srv.sent++;
	}
	deadline = cxb_now_ms() + WAIT_MS;
	while(term_count(&fx->a, CARDEX_EV_ATTEMPT) < SEEN && cxb_now_ms() < deadline) {
		mosquitto_loop(srv.m, 1, 1);
		term_turn(&fx->a, 1);
	}
	assert_true(term_count(&fx->a, CARDEX_EV_ATTEMPT) >= SEEN);
	lowest = fx->a.evs[fx->a.n - 1].attempts_left;
	t0 = cxb_now_ms();
	term_close(&fx->a);
	assert_true(cxb_now_ms() - t0 < 1000);
	/*
	 * The rest of the burst goes into A's session. libmosquitto keeps 20
	 * messages in flight, so that takes round trips, and their time depends
	 * on the load: the wait is for the broker's acknowledgements.
	 */
	raw_settle(&srv);
	/* The broker's word on how A left, however it left, before the log is judged. */
	deadline = cxb_now_ms() + WAIT_MS;
	while(!cxb_log_contains(&fx->b, "Client A disconnected") && !cxb_log_contains(&fx->b, "Client A closed its")
			&& !cxb_log_contains(&fx->b, "Socket error on client A") && cxb_now_ms() < deadline) {
		raw_loop(&srv, 10);
	}

	log = cxb_log_read(&fx->b);
	assert_non_null(log);
	assert_non_null(strstr(log, "Received DISCONNECT from A"));
	assert_null(strstr(log, "Client A disconnected: "));
	assert_null(strstr(log, "Socket error on client A,"));
	assert_null(strstr(log, "Client A closed its connection"));
	free(log);

	raw_connect(&reader, fx->b.port, "A", "pw-a-secret", false);
	/* The session delivers in order, a redelivered message first: the burst's last one ends it. */
	deadline = cxb_now_ms() + WAIT_MS;
	while(reader.min_left != TOP - BURST + 1 && cxb_now_ms() < deadline) {
		mosquitto_loop(reader.m, 10, 1);
	}
	raw_close(&reader);
	raw_close(&srv);
	print_message("A reported down to %u; its session held %d, from %ld down to %ld\n", lowest,
			reader.nmsgs, reader.max_left, reader.min_left);
	/* Nothing A reported comes again; the burst's end is in the session. */
	assert_true(reader.nmsgs > 0);
	assert_true(reader.max_left < (long)lowest);
	assert_int_equal(reader.min_left, TOP - BURST + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_password, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_filter, setup_no_plugin, teardown),
		cmocka_unit_test_setup_teardown(test_filter_resent_card, setup_no_plugin, teardown),
		cmocka_unit_test_setup_teardown(test_filter_resent_claim, setup_no_plugin, teardown),
		cmocka_unit_test_setup_teardown(test_filter_resent_offer, setup_no_plugin, teardown),
		cmocka_unit_test_setup_teardown(test_gentle_close, setup_no_plugin, teardown),
	};

	mosquitto_lib_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
