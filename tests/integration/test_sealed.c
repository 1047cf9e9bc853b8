/*
 * Sealed exchanges against the real Mosquitto with the plugin: no card in
 * plaintext where the server can see it (an operator subscribed to "#"
 * under an ACL file, the log at log_type all, the persistence file), a
 * server that swaps keys (a man in the middle between the terminals and
 * the broker, mitm.c), tampered and replayed sealed cards, a second key,
 * downgrades, plaintext clients while require_sealed is off and refused
 * when it is on, and the CLI's --confirm.
 *
 * Every test starts its own broker; every wait is bounded; every process
 * and thread it starts is stopped by its fixture.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mosquitto.h>

#include "broker.h"
#include "cardex.h"
#include "cli_run.h"
#include "mitm.h"
#include "mqttc.h"
#include "seal.h"
#include "term.h"

#define WAIT_MS 8000
#define QUIET_MS 600

/* What must never be readable outside the two terminals. */
static const char *const secrets[] = {
	"Ada Lovelace", "Lovelace", "ada@example.org", "+44-20-7946-0001", "Analytical Engines",
	"Grace Hopper", "grace@example.net", "+1-202-555-0142", "Bureau of Ordnance",
};

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
	{"ops", "pw-ops-secret"},
};

struct fx {
	cxb_broker b;
	bool started;
	mitm *m;
	mc_set mc;             /* raw MQTT clients */
	struct term a;
	struct term b_;
	char *card_ada;
	size_t ada_len;
	char *card_grace;
	size_t grace_len;
	char dir[256];         /* persistence, ACL file, CLI home */
	cxr_proc *procs[2];
};

/* ---- helpers ---- */

/* Where needle[0..n) is in buf[0..len) (which may hold NUL bytes), or NULL. */
static const char *find_bytes(const char *buf, size_t len, const char *needle, size_t n)
{
	for(size_t i = 0; buf && n <= len && i <= len - n; i++) {
		if(memcmp(buf + i, needle, n) == 0) {
			return buf + i;
		}
	}
	return NULL;
}

/* True when none of the secrets is in buf[0..len) (which may hold NUL bytes). */
static bool no_secret(const char *buf, size_t len)
{
	for(size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if(find_bytes(buf, len, secrets[i], strlen(secrets[i])) != NULL) {
			fprintf(stderr, "found \"%s\"\n", secrets[i]);
			return false;
		}
	}
	return true;
}

static int connect_term(struct fx *fx, const char *id, const char *pw, int port, bool confirm,
		bool allow_plain, cardex **out)
{
	cardex_options o;

	cardex_options_init(&o);
	o.host = "127.0.0.1";
	o.port = port;
	o.id = id;
	o.password = pw;
	o.connect_timeout_ms = 5000;
	o.confirm = confirm;
	o.allow_plain = allow_plain;
	(void)fx;
	return cardex_connect(&o, out);
}

/*
 * Offer by a, claim by b; returns the exchange ID (valid while a's events
 * are). Either side may still hold the events of an earlier exchange, whose
 * "offer" or "match" must not stand for this one's: the claim would race
 * the offer, and the ID returned would be the old exchange's.
 */
static const char *match(struct term *a, struct term *b)
{
	char key[CARDEX_KEY_MAX + 1];
	size_t na = a->n, nb = b->n;
	const cardex_event *ma, *mb;

	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(a->cx, key, 0), CARDEX_OK);
	term_wait_from(a, CARDEX_EV_OFFER, b, na);
	assert_int_equal(cardex_claim(b->cx, cardex_id(a->cx), key), CARDEX_OK);
	ma = term_wait_from(a, CARDEX_EV_MATCH, b, na);
	mb = term_wait_from(b, CARDEX_EV_MATCH, a, nb);
	assert_string_equal(ma->exchange, mb->exchange);
	return ma->exchange;
}

/* ---- raw MQTT clients (an operator, a plaintext terminal), mqttc.h ---- */

/* A client connected as id and subscribed QoS 1 to sub; the fixture's set owns it. */
static mc_client *raw_connect(struct fx *fx, const char *id, const char *pw, const char *sub)
{
	mc_client *c = mc_new(&fx->mc, id, id, pw, true, MQTT_PROTOCOL_V311);

	assert_non_null(c);
	assert_int_equal(mc_connect(&fx->mc, c, NULL), 0);
	assert_int_equal(mc_subscribe(&fx->mc, c, sub, 1, 0, NULL), 1);
	return c;
}

/* The payload of the last message c received, "" before any. */
static const char *last(const mc_client *c)
{
	return c->nmsgs > 0 ? c->msgs[c->nmsgs - 1].payload : "";
}

/* Whether needle[0..n) is in the topic or the payload of a message c received. */
static bool received(const mc_client *c, const char *needle, size_t n)
{
	assert_int_equal(c->dropped, 0);
	for(size_t i = 0; i < c->nmsgs; i++) {
		if(find_bytes(c->msgs[i].topic, strlen(c->msgs[i].topic), needle, n) != NULL
				|| find_bytes(c->msgs[i].payload, (size_t)c->msgs[i].len, needle, n) != NULL) {
			return true;
		}
	}
	return false;
}

/* True when none of the secrets is in what c received. */
static bool received_no_secret(const mc_client *c)
{
	for(size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		if(received(c, secrets[i], strlen(secrets[i]))) {
			fprintf(stderr, "found \"%s\"\n", secrets[i]);
			return false;
		}
	}
	return true;
}

/* Publishes (QoS 1) and waits until a reply arrives (one message more than before). */
static void raw_request(struct fx *fx, mc_client *c, const char *topic, const char *payload)
{
	size_t before = c->nmsgs;

	assert_int_equal(mc_publish(&fx->mc, c, topic, payload, (int)strlen(payload), 1, false, NULL), 0);
	assert_true(mc_wait_msgs(&fx->mc, c, before + 1));
}

/* Publishes a request that gets no reply when it passes. */
static void raw_send(struct fx *fx, mc_client *c, const char *topic, const char *payload)
{
	assert_int_equal(mc_publish(&fx->mc, c, topic, payload, (int)strlen(payload), 1, false, NULL), 0);
	mc_pump(&fx->mc, 100);
}

/* ---- fixtures ---- */

static int start_broker(struct fx *fx, const char *plugin_opts, const char *extra)
{
	cxb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = plugin_opts;
	cfg.extra_conf = extra;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	if(cxb_start(&fx->b, &cfg) != 0) {
		return -1;
	}
	fx->started = true;
	mc_set_free(&fx->mc);
	mc_set_init(&fx->mc, fx->b.port);
	return 0;
}

static int setup_fx(void **state, const char *plugin_opts)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if(!fx) {
		return -1;
	}
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/cardex-sealed-XXXXXX");
	if(!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	*state = fx;
	fx->card_ada = term_load("ada.json", &fx->ada_len);
	fx->card_grace = term_load("grace.json", &fx->grace_len);
	return plugin_opts == NULL ? 0 : start_broker(fx, plugin_opts, NULL);
}

static int setup(void **state)
{
	return setup_fx(state, "");
}

static int setup_require_sealed(void **state)
{
	return setup_fx(state, "plugin_opt_require_sealed true\n");
}

static int setup_later(void **state)
{
	return setup_fx(state, NULL);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(!fx) {
		return 0;
	}
	cxr_free_all(fx->procs, 2);
	term_close(&fx->a);
	term_close(&fx->b_);
	mitm_stop(fx->m);
	mc_set_free(&fx->mc);
	if(fx->started) {
		cxb_stop(&fx->b);
	}
	cxr_remove_tree(fx->dir);
	free(fx->card_ada);
	free(fx->card_grace);
	free(fx);
	return 0;
}

/* A and B, through the man in the middle in mode (or straight to the broker when mode < 0). */
static void two_terms(struct fx *fx, int mode, bool confirm)
{
	int port = fx->b.port;

	if(mode >= 0) {
		fx->m = mitm_start(fx->b.port, "A", (mitm_mode)mode);
		assert_non_null(fx->m);
		port = mitm_port(fx->m);
	}
	assert_int_equal(connect_term(fx, "A", "pw-a-secret", port, confirm, false, &fx->a.cx), CARDEX_OK);
	assert_int_equal(connect_term(fx, "B", "pw-b-secret", port, confirm, false, &fx->b_.cx), CARDEX_OK);
}

/* ---- tests ---- */

/*
 * Two sealed exchanges, the second leaving A's sealed card queued in B's
 * persistent session when the broker stops: the operator's "#", the log at
 * log_type all and the persistence file hold none of the cards' contents,
 * though the persistence file does hold the queued ciphertext.
 */
static void test_no_plaintext_at_rest_or_in_transit(void **state)
{
	struct fx *fx = *state;
	char extra[1024];
	char path[512];
	char xid[CARDEX_XID_LEN + 1];
	mc_client *ops;
	char *log, *db;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/acl", fx->dir);
	f = fopen(path, "w");
	assert_non_null(f);
	/* The way an operator would grant itself everything. */
	fputs("user ops\ntopic readwrite #\n", f);
	fclose(f);
	chmod(fx->dir, 0755);
	snprintf(extra, sizeof(extra), "acl_file %s\npersistence true\npersistence_location %s/\n"
			"autosave_interval 0\n", path, fx->dir);
	assert_int_equal(start_broker(fx, "", extra), 0);
	ops = raw_connect(fx, "ops", "pw-ops-secret", "#");

	two_terms(fx, -1, false);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	assert_non_null(strstr(term_wait_for(&fx->b_, CARDEX_EV_CARD, &fx->a)->card, "Ada Lovelace"));
	assert_non_null(strstr(term_wait_for(&fx->a, CARDEX_EV_CARD, &fx->b_)->card, "Grace Hopper"));
	assert_true(term_find(&fx->a, CARDEX_EV_CARD)->sealed);

	/* Exchange 2: B leaves once the keys are agreed; A's card waits in B's session. */
	term_reset(&fx->a);
	term_reset(&fx->b_);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	term_wait_for(&fx->a, CARDEX_EV_SAFETY, &fx->b_);
	term_wait_for(&fx->b_, CARDEX_EV_SAFETY, &fx->a);
	term_close(&fx->b_);
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_SENT, NULL);
	mc_pump(&fx->mc, 200);

	/* In transit: the operator's "#" (it may see nothing of the namespace at all). */
	assert_true(received_no_secret(ops));
	mc_close(&fx->mc, ops);
	/* The log, at log_type all. */
	log = cxb_log_read(&fx->b);
	assert_non_null(log);
	assert_non_null(strstr(log, "card/B"));
	assert_true(no_secret(log, strlen(log)));
	free(log);
	/* At rest: the persistence file written at a clean stop holds only ciphertext. */
	term_close(&fx->a);
	assert_int_equal(cxb_stop_check(&fx->b), 0);
	fx->started = false;
	snprintf(path, sizeof(path), "%s/mosquitto.db", fx->dir);
	db = cxb_read_file(path, &len);
	assert_non_null(db);
	assert_non_null(find_bytes(db, len, "\"ct\":\"", 6));
	assert_non_null(find_bytes(db, len, xid, strlen(xid)));
	assert_true(no_secret(db, len));
	free(db);
}

/*
 * A server that gives each side its own key, and commits to the one it
 * gives A: the commitment holds, but the codes differ. With confirm, the
 * people see it and abort: no card leaves either terminal.
 */
static void test_mitm_swapped_keys(void **state)
{
	struct fx *fx = *state;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx, MITM_SWAP_KEYS, true);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_SAFETY, &fx->b_);
	term_wait_for(&fx->b_, CARDEX_EV_SAFETY, &fx->a);
	assert_true(mitm_rewrites(fx->m) >= 3);
	/* About one in a million times the codes would match by chance. */
	assert_string_not_equal(term_find(&fx->a, CARDEX_EV_SAFETY)->safety_code,
			term_find(&fx->b_, CARDEX_EV_SAFETY)->safety_code);
	assert_null(term_find(&fx->a, CARDEX_EV_ERROR));
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	/* Nothing moved while the codes were being compared. */
	assert_int_equal(mitm_sealed_sent(fx->m), 0);
	assert_int_equal(cardex_confirm(fx->a.cx, xid, false), CARDEX_OK);
	assert_int_equal(cardex_confirm(fx->b_.cx, xid, false), CARDEX_OK);
	assert_int_equal(cardex_confirm(fx->a.cx, xid, true), CARDEX_EABORTED);
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_EABORTED);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_int_equal(mitm_sealed_sent(fx->m), 0);
	assert_int_equal(mitm_plain_sent(fx->m), 0);
	assert_int_equal(term_count(&fx->a, CARDEX_EV_CARD) + term_count(&fx->b_, CARDEX_EV_CARD), 0);
	assert_int_equal(term_count(&fx->a, CARDEX_EV_SENT) + term_count(&fx->b_, CARDEX_EV_SENT), 0);
	assert_true(cxb_alive(&fx->b));
}

/* A server that swaps B's key but cannot change the commitment B made: A refuses. */
static void test_mitm_swapped_key_fails_commitment(void **state)
{
	struct fx *fx = *state;
	const cardex_event *ev;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx, MITM_SWAP_PK, true);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	ev = term_wait_for(&fx->a, CARDEX_EV_ERROR, &fx->b_);
	assert_string_equal(ev->code, "altered");
	assert_string_equal(ev->exchange, xid);
	assert_non_null(strstr(ev->message, "the server altered this exchange"));
	assert_null(term_find(&fx->a, CARDEX_EV_SAFETY));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_EABORTED);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_int_equal(mitm_sealed_sent(fx->m), 0);
	assert_int_equal(mitm_plain_sent(fx->m), 0);
	assert_null(term_find(&fx->b_, CARDEX_EV_CARD));
}

/* A key of low order for B: refused as an alteration; B sends neither its key nor its card. */
static void test_low_order_key(void **state)
{
	struct fx *fx = *state;
	const cardex_event *ev;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx, MITM_ZERO_PK, false);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	ev = term_wait_for(&fx->b_, CARDEX_EV_ERROR, &fx->a);
	assert_string_equal(ev->code, "altered");
	assert_non_null(strstr(ev->message, "not a valid key"));
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_null(term_find(&fx->b_, CARDEX_EV_SAFETY));
	/* Only A's key went out; B's key and card did not. */
	assert_int_equal(mitm_pk_sent(fx->m), 1);
	assert_int_equal(mitm_sealed_sent(fx->m) + mitm_plain_sent(fx->m), 0);
	assert_true(cxb_alive(&fx->b));
}

/* One tampering (mode) on A's sealed card: B refuses it, saves nothing; the broker lives on. */
static void tampered(struct fx *fx, mitm_mode mode)
{
	const cardex_event *ev;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx, mode, false);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	term_wait_for(&fx->a, CARDEX_EV_SENT, &fx->b_);
	ev = term_wait_for(&fx->b_, CARDEX_EV_ERROR, &fx->a);
	assert_string_equal(ev->code, "altered");
	assert_non_null(strstr(ev->message, "failed authentication"));
	assert_int_equal(mitm_rewrites(fx->m), 1);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_null(term_find(&fx->b_, CARDEX_EV_CARD));
	/* B's own card no longer goes out in that exchange. */
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_EABORTED);
	assert_true(cxb_alive(&fx->b));
}

static void test_flipped_ct(void **state)
{
	tampered(*state, MITM_FLIP_CT);
}

static void test_flipped_nonce(void **state)
{
	tampered(*state, MITM_FLIP_N);
}

/* A sealed card of exchange 1, replayed into exchange 2, does not open there. */
static void test_replayed_card(void **state)
{
	struct fx *fx = *state;
	const cardex_event *ev;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx, MITM_REPLAY, false);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	assert_non_null(strstr(term_wait_for(&fx->b_, CARDEX_EV_CARD, &fx->a)->card, "Ada Lovelace"));
	term_reset(&fx->b_);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	ev = term_wait_for(&fx->b_, CARDEX_EV_ERROR, &fx->a);
	assert_string_equal(ev->code, "altered");
	assert_string_equal(ev->exchange, xid);
	assert_int_equal(mitm_rewrites(fx->m), 1);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_null(term_find(&fx->b_, CARDEX_EV_CARD));
	assert_true(cxb_alive(&fx->b));
}

/* The plugin's order at the broker: a second key, a key out of turn, a card before the keys. */
static void test_second_pk_and_order(void **state)
{
	struct fx *fx = *state;
	static const char pk[] = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo";
	static const char commit[] = "fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q";
	mc_client *a, *b;
	char msg[512];
	char xid[CARDEX_XID_LEN + 1];
	const char *x;

	a = raw_connect(fx, "A", "pw-a-secret", "reply/A");
	b = raw_connect(fx, "B", "pw-b-secret", "reply/B");
	raw_request(fx, a, "keys/A", "{\"key\":\"483920\"}");
	snprintf(msg, sizeof(msg), "{\"key\":\"483920\",\"commit\":\"%s\"}", commit);
	raw_request(fx, b, "claim/A", msg);
	mc_pump(&fx->mc, 100);
	assert_non_null(strstr(last(a), "\"peer_commit\":\"fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q\""));
	assert_null(strstr(last(b), "peer_commit"));
	x = strstr(last(b), "\"exchange\":\"");
	assert_non_null(x);
	snprintf(xid, sizeof(xid), "%.32s", x + 12);

	snprintf(msg, sizeof(msg), "{\"exchange\":\"%s\",\"pk\":\"%s\"}", xid, pk);
	raw_request(fx, b, "card/A", msg);
	assert_non_null(strstr(last(b), "\"code\":\"bad-order\""));
	snprintf(msg, sizeof(msg), "{\"exchange\":\"%s\",\"n\":\"AAECAwQFBgcICQoL\",\"ct\":\"%s\"}", xid, pk);
	raw_request(fx, a, "card/B", msg);
	assert_non_null(strstr(last(a), "\"code\":\"bad-order\""));
	snprintf(msg, sizeof(msg), "{\"exchange\":\"%s\",\"pk\":\"%s\"}", xid, pk);
	raw_send(fx, a, "card/B", msg);
	mc_pump(&fx->mc, 100);
	assert_non_null(strstr(last(b), "\"type\":\"pk\""));
	raw_request(fx, a, "card/B", msg);
	assert_non_null(strstr(last(a), "\"code\":\"already-sent\""));
	/* Plaintext from a party that sealed. */
	snprintf(msg, sizeof(msg), "{\"exchange\":\"%s\",\"card\":%s}", xid, fx->card_ada);
	raw_request(fx, a, "card/B", msg);
	assert_non_null(strstr(last(a), "\"code\":\"bad-order\""));
	mc_close(&fx->mc, a);
	mc_close(&fx->mc, b);
	assert_true(cxb_alive(&fx->b));
}

/* A server that strips the commitment: A sends nothing in plaintext. */
static void test_downgrade_stripped(void **state)
{
	struct fx *fx = *state;
	const cardex_event *ev;
	char xid[CARDEX_XID_LEN + 1];

	two_terms(fx, MITM_STRIP_COMMIT, false);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_false(term_find(&fx->a, CARDEX_EV_MATCH)->sealed);
	ev = term_wait_for(&fx->a, CARDEX_EV_ERROR, &fx->b_);
	assert_string_equal(ev->code, "not-sealed");
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_EPLAIN);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	term_quiet(&fx->a, &fx->b_, QUIET_MS);
	assert_int_equal(mitm_plain_sent(fx->m), 0);
	assert_int_equal(mitm_sealed_sent(fx->m), 0);
	assert_int_equal(mitm_pk_sent(fx->m), 0);
	assert_null(term_find(&fx->a, CARDEX_EV_CARD));
	assert_null(term_find(&fx->b_, CARDEX_EV_CARD));
}

/*
 * A plaintext terminal (a raw MQTT client, as paho or mosquitto_pub would
 * be) exchanges with a libcardex terminal while require_sealed is off:
 * refused by default, in plaintext when the application allows it.
 */
static void test_plain_peer(void **state)
{
	struct fx *fx = *state;
	mc_client *a;
	char msg[2048];
	char xid[CARDEX_XID_LEN + 1];
	const cardex_event *ev;
	const char *x;

	for(int allow = 0; allow < 2; allow++) {
		a = raw_connect(fx, "A", "pw-a-secret", "reply/A");
		assert_int_equal(connect_term(fx, "B", "pw-b-secret", fx->b.port, false, allow == 1, &fx->b_.cx),
				CARDEX_OK);
		raw_request(fx, a, "keys/A", "{\"key\":\"483920\"}");
		assert_int_equal(cardex_claim(fx->b_.cx, "A", "483920"), CARDEX_OK);
		snprintf(xid, sizeof(xid), "%s", term_wait_for(&fx->b_, CARDEX_EV_MATCH, NULL)->exchange);
		mc_pump(&fx->mc, 100);
		x = strstr(last(a), "\"exchange\":\"");
		assert_non_null(x);
		assert_int_equal(strncmp(x + 12, xid, 32), 0);
		/* The plaintext terminal ignores peer_commit and sends its card as it always did. */
		assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
		snprintf(msg, sizeof(msg), "{\"exchange\":\"%s\",\"card\":%s}", xid, fx->card_ada);
		raw_request(fx, a, "card/B", msg);
		assert_non_null(strstr(last(a), "\"type\":\"sent\""));
		if(!allow) {
			ev = term_wait_for(&fx->b_, CARDEX_EV_ERROR, NULL);
			assert_string_equal(ev->code, "not-sealed");
			term_quiet(&fx->b_, NULL, QUIET_MS);
			mc_pump(&fx->mc, 200);
			assert_null(term_find(&fx->b_, CARDEX_EV_CARD));
			/* B's card never went out in plaintext. */
			assert_false(received(a, "Grace Hopper", 12));
		} else {
			ev = term_wait_for(&fx->b_, CARDEX_EV_CARD, NULL);
			assert_false(ev->sealed);
			assert_non_null(strstr(ev->card, "Ada Lovelace"));
			term_wait_for(&fx->b_, CARDEX_EV_SENT, NULL);
			mc_pump(&fx->mc, 200);
			assert_true(received(a, "Grace Hopper", 12));
		}
		mc_close(&fx->mc, a);
		term_close(&fx->b_);
	}
}

/* require_sealed: plaintext claims and cards are refused; sealed terminals go on. */
static void test_require_sealed(void **state)
{
	struct fx *fx = *state;
	mc_client *a;
	char xid[CARDEX_XID_LEN + 1];

	assert_true(cxb_log_contains(&fx->b, "require_sealed=true"));
	a = raw_connect(fx, "A", "pw-a-secret", "reply/A");
	raw_request(fx, a, "claim/B", "{\"key\":\"483920\"}");
	assert_non_null(strstr(last(a), "\"code\":\"sealed-required\""));
	mc_close(&fx->mc, a);
	two_terms(fx, -1, false);
	snprintf(xid, sizeof(xid), "%s", match(&fx->a, &fx->b_));
	assert_int_equal(cardex_send_card(fx->a.cx, xid, fx->card_ada, fx->ada_len), CARDEX_OK);
	assert_int_equal(cardex_send_card(fx->b_.cx, xid, fx->card_grace, fx->grace_len), CARDEX_OK);
	assert_true(term_wait_for(&fx->b_, CARDEX_EV_CARD, &fx->a)->sealed);
	assert_true(term_wait_for(&fx->a, CARDEX_EV_CARD, &fx->b_)->sealed);
}

/* ---- the CLI ---- */

static cxr_proc *cli(struct fx *fx, const char *pw, bool pty, const char *const *args)
{
	char home[300], cfg[300];
	cxr_opts o;
	cxr_proc *p;

	memset(&o, 0, sizeof(o));
	o.password = pw;
	o.pty = pty;
	snprintf(home, sizeof(home), "XDG_DATA_HOME=%s", fx->dir);
	snprintf(cfg, sizeof(cfg), "XDG_CONFIG_HOME=%s", fx->dir);
	o.env[0] = home;
	o.env[1] = cfg;
	o.env[2] = "NO_COLOR=1";
	p = cxr_spawn(&o, args);
	cxr_track(fx->procs, 2, p);
	return p;
}

/* Number of contacts the CLI saved. */
static int contacts(const struct fx *fx)
{
	char path[400];
	int n = 0;

	snprintf(path, sizeof(path), "%s/cardex/contacts", fx->dir);
	DIR *d = opendir(path);
	if(!d) {
		return 0;
	}
	for(struct dirent *e; (e = readdir(d)) != NULL;) {
		n += strstr(e->d_name, ".vcf") != NULL;
	}
	closedir(d);
	return n;
}

/*
 * The CLI with --confirm through the man in the middle: the user types the
 * code shown on the other screen, it does not match, and the CLI sends and
 * saves nothing. Then without the man in the middle: the right code, and
 * the contact is recorded as verified.
 */
static void test_cli_confirm(void **state)
{
	struct fx *fx = *state;
	char port[16], path[600], line[64];
	const char *code;
	cxr_proc *p;
	char *text;
	size_t len;
	char card_path[300];

	snprintf(card_path, sizeof(card_path), "%s/grace.json", getenv("CARDEX_TEST_DATA") ? getenv("CARDEX_TEST_DATA") : "tests/data");
	for(int round = 0; round < 2; round++) {
		fx->m = mitm_start(fx->b.port, "A", round == 0 ? MITM_SWAP_KEYS : MITM_RELAY);
		assert_non_null(fx->m);
		snprintf(port, sizeof(port), "%d", mitm_port(fx->m));
		assert_int_equal(connect_term(fx, "A", "pw-a-secret", mitm_port(fx->m), true, false, &fx->a.cx),
				CARDEX_OK);
		assert_int_equal(cardex_offer(fx->a.cx, "483920", 0), CARDEX_OK);
		term_wait_for(&fx->a, CARDEX_EV_OFFER, NULL);
		const char *args[] = {"claim", "A", "483920", "--confirm", "--host", "127.0.0.1", "--port", port,
			"--id", "B", "--card", card_path, "--timeout", "20", NULL};
		p = cli(fx, "pw-b-secret", true, args);
		term_wait_for(&fx->a, CARDEX_EV_MATCH, NULL);
		assert_int_equal(cardex_send_card(fx->a.cx, term_find(&fx->a, CARDEX_EV_MATCH)->exchange, fx->card_ada,
				fx->ada_len), CARDEX_OK);
		code = term_wait_for(&fx->a, CARDEX_EV_SAFETY, NULL)->safety_code;
		cxr_wait_for(p, "(compare it with the other screen)");
		cxr_wait_for(p, "Type the safety code");
		/* What the user reads off A's screen, grouped as shown there. */
		snprintf(line, sizeof(line), "%.3s %.3s\n", code, code + 3);
		assert_int_equal(write(p->out, line, strlen(line)), (ssize_t)strlen(line));
		if(round == 0) {
			assert_int_equal(cxr_finish(p), 1);
			assert_non_null(strstr(p->obuf, "Safety code: "));
			assert_non_null(strstr(p->obuf, "not confirmed"));
			assert_int_equal(contacts(fx), 0);
			assert_int_equal(cardex_confirm(fx->a.cx, term_find(&fx->a, CARDEX_EV_MATCH)->exchange, false),
					CARDEX_OK);
			term_quiet(&fx->a, NULL, QUIET_MS);
			assert_int_equal(mitm_sealed_sent(fx->m), 0);
			assert_null(term_find(&fx->a, CARDEX_EV_CARD));
		} else {
			assert_int_equal(cardex_confirm(fx->a.cx, term_find(&fx->a, CARDEX_EV_MATCH)->exchange, true),
					CARDEX_OK);
			assert_true(term_wait_for(&fx->a, CARDEX_EV_CARD, NULL)->verified);
			assert_int_equal(cxr_finish(p), 0);
			assert_int_equal(contacts(fx), 1);
			snprintf(path, sizeof(path), "%s/cardex/contacts", fx->dir);
			DIR *d = opendir(path);
			assert_non_null(d);
			for(struct dirent *e; (e = readdir(d)) != NULL;) {
				if(strstr(e->d_name, ".vcf")) {
					snprintf(path, sizeof(path), "%s/cardex/contacts/%s", fx->dir, e->d_name);
				}
			}
			closedir(d);
			text = cxb_read_file(path, &len);
			assert_non_null(text);
			assert_non_null(strstr(text, "X-CARDEX-VERIFIED:true"));
			assert_non_null(strstr(text, "Ada Lovelace"));
			free(text);
		}
		cxr_free_all(fx->procs, 2);
		term_close(&fx->a);
		mitm_stop(fx->m);
		fx->m = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_plaintext_at_rest_or_in_transit, setup_later, teardown),
		cmocka_unit_test_setup_teardown(test_mitm_swapped_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mitm_swapped_key_fails_commitment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_low_order_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_ct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flipped_nonce, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replayed_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_pk_and_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_downgrade_stripped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_require_sealed, setup_require_sealed, teardown),
		cmocka_unit_test_setup_teardown(test_cli_confirm, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
