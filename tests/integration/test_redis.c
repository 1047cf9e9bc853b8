/*
 * store redis (docs/protocol.md §11) against the real Mosquitto and a real
 * redis-server: three brokers share one Redis, and terminals on different
 * brokers exchange; a key matches once when claimed through two brokers at
 * the same moment; attempts and rate limits count across brokers; replies
 * wait for a terminal connected nowhere; Redis stopped and continued, a
 * broker killed and restarted, Redis restarted with its append-only file.
 *
 * Every test starts its own redis-server and brokers (redis_server.h,
 * broker.h) and stops them by PID; every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "cardex.h"
#include "mqttc.h"
#include "redis_server.h"
#include "term.h"

#define NBROKERS 3
#define QUIET_MS 400
#define KEY "483920"
#define WRONG "111111"

static const cxb_account accounts[] = {
	{"A", "pw-a"}, {"B", "pw-b"}, {"C", "pw-c"}, {"D", "pw-d"},
};

static const char *password_of(const char *id)
{
	for(size_t i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++){
		if(strcmp(accounts[i].id, id) == 0){
			return accounts[i].password;
		}
	}
	return NULL;
}

struct fx {
	rsv_server r;
	bool redis_up;
	cxb_broker b[NBROKERS];
	cxb_config cfg[NBROKERS];
	char opts[NBROKERS][512];
	bool started[NBROKERS];
	mc_set mc;
	pid_t haproxy;         /* test_haproxy; stopped by the teardown */
	char *card;
	size_t card_len;
};

/* Waits (at most 10 s) until broker b logged that its shared store is available. */
static int wait_store(cxb_broker *b)
{
	long long deadline = cxb_now_ms() + 10000;

	while(cxb_now_ms() < deadline){
		if(cxb_log_contains(b, "cardex: redis | connected")){
			return 0;
		}
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "broker on port %d never connected to Redis\n", b->port);
	return -1;
}

/* Starts Redis (persist: with an append-only file) and the three brokers b1..b3. */
static void haproxy_stop(pid_t pid);

static int fx_start(void **state, bool persist)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	*state = fx;
	if(rsv_start(&fx->r, persist) != 0){
		return -1;
	}
	fx->redis_up = true;
	for(int i = 0; i < NBROKERS; i++){
		snprintf(fx->opts[i], sizeof(fx->opts[i]),
				"plugin_opt_store redis\nplugin_opt_redis_port %d\nplugin_opt_broker_id b%d\n"
				"plugin_opt_redis_timeout_ms 300\nplugin_opt_attempts 3\nplugin_opt_claim_failures_per_min 4\n"
				"plugin_opt_error_replies_per_sec 1000\n",
				fx->r.port, i + 1);
		fx->cfg[i] = (cxb_config){
			.plugin = true,
			.plugin_opts = fx->opts[i],
			.extra_conf = "set_tcp_nodelay true\n",
			.accounts = accounts,
			.naccounts = sizeof(accounts) / sizeof(accounts[0]),
		};
		if(cxb_start(&fx->b[i], &fx->cfg[i]) != 0){
			return -1;
		}
		fx->started[i] = true;
	}
	for(int i = 0; i < NBROKERS; i++){
		if(wait_store(&fx->b[i]) != 0){
			return -1;
		}
	}
	mc_set_init(&fx->mc, fx->b[0].port);
	fx->card = term_load("ada.json", &fx->card_len);
	return 0;
}

static int setup(void **state)
{
	return fx_start(state, false);
}

static int setup_persist(void **state)
{
	return fx_start(state, true);
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	int rc = 0;

	if(fx == NULL){
		return 0;
	}
	mc_set_free(&fx->mc);
	haproxy_stop(fx->haproxy);
	for(int i = 0; i < NBROKERS; i++){
		if(fx->started[i] && cxb_stop_check(&fx->b[i]) != 0){
			rc = -1;
		}
	}
	rsv_stop(&fx->r);
	free(fx->card);
	free(fx);
	return rc;
}

/* ---- helpers ---- */

/* Terminal id connected to broker i (0-based), subscribed QoS 1 to its reply topic. */
static mc_client *term_on(struct fx *fx, int i, const char *id)
{
	char topic[80];
	mc_client *c;

	fx->mc.port = fx->b[i].port;
	c = mc_new(&fx->mc, id, id, password_of(id), true, MQTT_PROTOCOL_V311);
	assert_non_null(c);
	assert_int_equal(mc_connect(&fx->mc, c, NULL), 0);
	snprintf(topic, sizeof(topic), "reply/%s", id);
	assert_int_equal(mc_subscribe(&fx->mc, c, topic, 1, 0, NULL), 1);
	return c;
}

static void pub(struct fx *fx, mc_client *c, const char *topic, const char *payload)
{
	assert_int_equal(mc_publish(&fx->mc, c, topic, payload, (int)strlen(payload), 1, false, NULL), 0);
}

static void offer(struct fx *fx, mc_client *c, const char *id, const char *key, const char *ref)
{
	char topic[80], body[160];

	snprintf(topic, sizeof(topic), "keys/%s", id);
	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"ref\":\"%s\"}", key, ref);
	pub(fx, c, topic, body);
}

static void claim(struct fx *fx, mc_client *c, const char *owner, const char *key, const char *ref)
{
	char topic[80], body[160];

	snprintf(topic, sizeof(topic), "claim/%s", owner);
	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"ref\":\"%s\"}", key, ref);
	pub(fx, c, topic, body);
}

static void send_card(struct fx *fx, mc_client *c, const char *peer, const char *xid)
{
	char topic[80];
	size_t cap = fx->card_len + 128;
	char *body = malloc(cap);

	assert_non_null(body);
	snprintf(topic, sizeof(topic), "card/%s", peer);
	snprintf(body, cap, "{\"exchange\":\"%s\",\"card\":%s}", xid, fx->card);
	pub(fx, c, topic, body);
	free(body);
}

/* The index of the first message of c containing needle, or -1. */
static long find_msg(const mc_client *c, const char *needle)
{
	for(size_t i = 0; i < c->nmsgs; i++){
		if(strstr(c->msgs[i].payload, needle) != NULL){
			return (long)i;
		}
	}
	return -1;
}

/* The exchange ID of c's first match, copied into out (33 bytes). */
static void match_xid(const mc_client *c, char out[33])
{
	long i = find_msg(c, "\"type\":\"match\"");
	const char *p;

	assert_true(i >= 0);
	p = strstr(c->msgs[i].payload, "\"exchange\":\"");
	assert_non_null(p);
	memcpy(out, p + 12, 32);
	out[32] = '\0';
}

static void wait_for(struct fx *fx, const mc_client *c, const char *needle, size_t n)
{
	if(!mc_wait_count(&fx->mc, c, needle, n)){
		for(size_t i = 0; i < c->nmsgs; i++){
			fprintf(stderr, "  got: %s\n", c->msgs[i].payload);
		}
		fail_msg("no %zu message(s) with %s", n, needle);
	}
}

static long long loc_exists(struct fx *fx, const char *id)
{
	return rsv_command(&fx->r, "EXISTS cardex:{cx}:t:%s", id);
}

/* Waits until Redis records terminal id as connected (or, gone, as not). */
static void wait_loc(struct fx *fx, const char *id, bool gone)
{
	long long deadline = cxb_now_ms() + 5000;

	while(cxb_now_ms() < deadline && (loc_exists(fx, id) == 1) == gone){
		mc_pump(&fx->mc, 10);
	}
	assert_int_equal(loc_exists(fx, id), gone ? 0 : 1);
}

/* ---- tests ---- */

/* A on b1 and B on b2: offer, claim, both cards, each reply once; no key in Redis. */
static void test_cross_broker_plain(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	char xa[33], xb[33];

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	claim(fx, b, "A", KEY, "c1");
	wait_for(fx, b, "\"type\":\"match\"", 1);
	wait_for(fx, a, "\"type\":\"match\"", 1);
	match_xid(a, xa);
	match_xid(b, xb);
	assert_string_equal(xa, xb);
	assert_int_equal(mc_count(a, "\"peer\":\"B\""), 1);
	assert_int_equal(mc_count(a, "\"ref\":\"o1\""), 2); /* offer and match carry the offer's ref */
	assert_int_equal(mc_count(b, "\"ref\":\"c1\""), 1);

	send_card(fx, a, "B", xa);
	wait_for(fx, b, "\"type\":\"card\"", 1);
	wait_for(fx, a, "\"type\":\"sent\"", 1);
	send_card(fx, b, "A", xb);
	wait_for(fx, a, "\"type\":\"card\"", 1);
	wait_for(fx, b, "\"type\":\"sent\"", 1);
	assert_int_equal(mc_count(b, "Ada Lovelace"), 1);
	mc_pump(&fx->mc, QUIET_MS);
	assert_int_equal(a->nmsgs, 4); /* offer, match, sent, card */
	assert_int_equal(b->nmsgs, 3); /* match, card, sent */

	/* The exchange is closed everywhere: a third card is unknown-exchange on b3. */
	mc_client *b3 = term_on(fx, 2, "B");
	send_card(fx, b3, "A", xb);
	wait_for(fx, b3, "unknown-exchange", 1);
	assert_false(rsv_holds(&fx->r, KEY));
	assert_false(rsv_holds(&fx->r, "Ada Lovelace"));
}

static int connect_term(int port, const char *id, cardex **out)
{
	cardex_options o;

	cardex_options_init(&o);
	o.host = "127.0.0.1";
	o.port = port;
	o.id = id;
	o.password = password_of(id);
	o.connect_timeout_ms = 5000;
	return cardex_connect(&o, out);
}

/* libcardex terminals on b1 and b3 complete a sealed exchange; no card in plaintext in Redis. */
static void test_cross_broker_sealed(void **state)
{
	struct fx *fx = *state;
	struct term a = {0}, b = {0};
	char key[CARDEX_KEY_MAX + 1];
	size_t grace_len;
	char *grace = term_load("grace.json", &grace_len);
	const char *xid;

	assert_int_equal(connect_term(fx->b[0].port, "A", &a.cx), CARDEX_OK);
	assert_int_equal(connect_term(fx->b[2].port, "B", &b.cx), CARDEX_OK);
	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(a.cx, key, 0), CARDEX_OK);
	term_wait_for(&a, CARDEX_EV_OFFER, &b);
	assert_int_equal(cardex_claim(b.cx, "A", key), CARDEX_OK);
	term_wait_for(&a, CARDEX_EV_MATCH, &b);
	term_wait_for(&b, CARDEX_EV_MATCH, &a);
	assert_true(term_find(&a, CARDEX_EV_MATCH)->sealed);
	xid = term_find(&a, CARDEX_EV_MATCH)->exchange;
	assert_int_equal(cardex_send_card(a.cx, xid, fx->card, fx->card_len), CARDEX_OK);
	assert_int_equal(cardex_send_card(b.cx, term_find(&b, CARDEX_EV_MATCH)->exchange, grace, grace_len), CARDEX_OK);
	assert_non_null(strstr(term_wait_for(&b, CARDEX_EV_CARD, &a)->card, "Ada Lovelace"));
	assert_non_null(strstr(term_wait_for(&a, CARDEX_EV_CARD, &b)->card, "Grace Hopper"));
	assert_true(term_find(&a, CARDEX_EV_CARD)->sealed);
	assert_null(term_find(&a, CARDEX_EV_ERROR));
	assert_null(term_find(&b, CARDEX_EV_ERROR));
	assert_false(rsv_holds(&fx->r, key));
	assert_false(rsv_holds(&fx->r, "Grace Hopper"));
	term_close(&a);
	term_close(&b);
	free(grace);
}

/* The right key claimed through b2 and b3 at the same moment matches once, round after round. */
static void test_one_match_two_brokers(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	mc_client *c = term_on(fx, 2, "C");
	char key[8], ref[16];

	for(int round = 0; round < 10; round++){
		snprintf(key, sizeof(key), "%06d", 100000 + round * 7919);
		snprintf(ref, sizeof(ref), "r%d", round);
		offer(fx, a, "A", key, ref);
		wait_for(fx, a, "\"type\":\"offer\"", (size_t)round + 1);
		/* Both PUBLISHes leave before either answer can come back. */
		char body[64];
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"ref\":\"%s\"}", key, ref);
		assert_int_equal(mosquitto_publish(b->m, NULL, "claim/A", (int)strlen(body), body, 1, false), MOSQ_ERR_SUCCESS);
		assert_int_equal(mosquitto_publish(c->m, NULL, "claim/A", (int)strlen(body), body, 1, false), MOSQ_ERR_SUCCESS);
		wait_for(fx, a, "\"type\":\"match\"", (size_t)round + 1);
		long long deadline = cxb_now_ms() + 5000;
		while(cxb_now_ms() < deadline && mc_count(b, "\"type\":\"") + mc_count(c, "\"type\":\"") < 2 * ((size_t)round + 1)){
			mc_pump(&fx->mc, 5);
		}
		mc_pump(&fx->mc, 50);
		assert_int_equal(mc_count(b, "\"type\":\"match\"") + mc_count(c, "\"type\":\"match\""), (size_t)round + 1);
		/* The other is refused: no-match, or rate-limited once its failures reach the limit (4). */
		assert_int_equal(mc_count(b, "\"type\":\"error\"") + mc_count(c, "\"type\":\"error\""), (size_t)round + 1);
	}
	mc_pump(&fx->mc, QUIET_MS);
	assert_int_equal(mc_count(a, "\"type\":\"match\""), 10);
}

/* Wrong keys through three brokers burn the offer; failures through three brokers reach the limit. */
static void test_limits_across_brokers(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	mc_client *c = term_on(fx, 2, "C");
	mc_client *d = term_on(fx, 0, "D");
	mc_client *cs[NBROKERS];
	char ref[16];

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	claim(fx, b, "A", WRONG, "w1");
	wait_for(fx, a, "\"attempts_left\":2", 1);
	claim(fx, c, "A", WRONG, "w2");
	wait_for(fx, a, "\"attempts_left\":1", 1);
	claim(fx, d, "A", WRONG, "w3");
	wait_for(fx, a, "\"reason\":\"attempts\"", 1);
	claim(fx, b, "A", KEY, "w4");
	wait_for(fx, b, "no-match", 2);
	assert_int_equal(mc_count(b, "\"type\":\"match\""), 0);

	/*
	 * claim_failures_per_min 4: C's failure above (through b3), three more
	 * through b1, b2, b3, then rate-limited through b1.
	 */
	mc_close(&fx->mc, c);
	for(int i = 0; i < NBROKERS; i++){
		cs[i] = term_on(fx, i, "C");
	}
	for(int i = 0; i < NBROKERS; i++){
		snprintf(ref, sizeof(ref), "f%d", i);
		claim(fx, cs[i], "D", WRONG, ref);
		wait_for(fx, cs[i], "no-match", 1);
	}
	claim(fx, cs[0], "D", KEY, "f4");
	wait_for(fx, cs[0], "rate-limited", 1);
	assert_int_equal(mc_count(cs[0], "\"retry_after\":"), 1);
	assert_int_equal(rsv_command(&fx->r, "GET cardex:{cx}:fc:C"), 1); /* "4": one byte */
	/* B, with no failures of its own, is still evaluated. */
	claim(fx, b, "D", WRONG, "w5");
	wait_for(fx, b, "no-match", 3);
}

/* A reply for a terminal connected nowhere waits, and comes in order where it connects next. */
static void test_offline_delivery(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	char xid[33];
	long im, ic;

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	mc_close(&fx->mc, a);
	wait_loc(fx, "A", true);
	claim(fx, b, "A", KEY, "c1");
	wait_for(fx, b, "\"type\":\"match\"", 1);
	match_xid(b, xid);
	send_card(fx, b, "A", xid);
	wait_for(fx, b, "\"type\":\"sent\"", 1);
	assert_int_equal(rsv_command(&fx->r, "LLEN cardex:{cx}:in:A"), 2);

	a = term_on(fx, 2, "A");
	wait_for(fx, a, "\"type\":\"card\"", 1);
	mc_pump(&fx->mc, QUIET_MS);
	im = find_msg(a, "\"type\":\"match\"");
	ic = find_msg(a, "\"type\":\"card\"");
	assert_true(im >= 0 && ic > im);
	assert_int_equal(a->nmsgs, 2);
	assert_int_equal(rsv_command(&fx->r, "EXISTS cardex:{cx}:in:A"), 0);
	send_card(fx, a, "B", xid);
	wait_for(fx, b, "\"type\":\"card\"", 1);
}

/* Redis stopped for 3 s: clear errors, then recovery, and the key still matches once. */
static void test_redis_stopped(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	mc_client *c = term_on(fx, 2, "C");
	mc_client *d = term_on(fx, 2, "D");
	char ref[16];
	long long deadline;

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	rsv_signal(&fx->r, SIGSTOP);
	claim(fx, b, "A", KEY, "s1");
	for(int i = 0; i < 10; i++){
		snprintf(ref, sizeof(ref), "x%d", i);
		claim(fx, c, "A", WRONG, ref);
	}
	offer(fx, d, "D", KEY, "od");
	wait_for(fx, b, "unavailable", 1);
	wait_for(fx, c, "unavailable", 10);
	wait_for(fx, d, "unavailable", 1);
	assert_int_equal(mc_count(b, "\"retry_after\":"), 1);
	mc_pump(&fx->mc, 2000);
	rsv_signal(&fx->r, SIGCONT);

	/* B sends its claim again until it is answered otherwise than unavailable. */
	deadline = cxb_now_ms() + 8000;
	while(cxb_now_ms() < deadline && mc_count(b, "\"type\":\"match\"") == 0){
		claim(fx, b, "A", KEY, "s1");
		mc_pump(&fx->mc, 300);
	}
	wait_for(fx, b, "\"type\":\"match\"", 1);
	wait_for(fx, a, "\"type\":\"match\"", 1);
	claim(fx, d, "A", KEY, "late");
	wait_for(fx, d, "no-match", 1);
	mc_pump(&fx->mc, QUIET_MS);
	assert_int_equal(mc_count(a, "\"type\":\"match\""), 1);
	assert_int_equal(rsv_command(&fx->r, "ZCARD cardex:{cx}:dx"), 1);
	/* And service goes on: D's offer now goes through. */
	offer(fx, d, "D", KEY, "od2");
	wait_for(fx, d, "\"ref\":\"od2\"", 1);
}

/*
 * A broker killed mid-exchange (kill -9) and restarted: its terminal comes
 * back to it and the exchange completes; the restarted broker serves new
 * exchanges. (test_haproxy moves a killed broker's terminals elsewhere.)
 */
static void test_broker_killed(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	char xid[33];

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	claim(fx, b, "A", KEY, "c1");
	wait_for(fx, a, "\"type\":\"match\"", 1);
	wait_for(fx, b, "\"type\":\"match\"", 1);
	match_xid(a, xid);

	/* B's broker dies; A's card waits for B, which comes back to the restarted broker. */
	cxb_kill(&fx->b[1]);
	mc_close(&fx->mc, b);
	send_card(fx, a, "B", xid);
	wait_for(fx, a, "\"type\":\"sent\"", 1);
	assert_int_equal(rsv_command(&fx->r, "LLEN cardex:{cx}:in:B"), 1);
	assert_int_equal(cxb_restart(&fx->b[1]), 0);
	assert_int_equal(wait_store(&fx->b[1]), 0);
	b = term_on(fx, 1, "B");
	wait_for(fx, b, "\"type\":\"card\"", 1);
	send_card(fx, b, "A", xid);
	wait_for(fx, a, "\"type\":\"card\"", 1);
	wait_for(fx, b, "\"type\":\"sent\"", 1);
	mc_pump(&fx->mc, QUIET_MS);
	assert_int_equal(mc_count(b, "\"type\":\"card\""), 1);

	mc_client *c = term_on(fx, 1, "C");
	offer(fx, c, "C", KEY, "oc");
	wait_for(fx, c, "\"type\":\"offer\"", 1);
	claim(fx, a, "C", KEY, "ca");
	wait_for(fx, c, "\"type\":\"match\"", 1);
	wait_for(fx, a, "\"type\":\"match\"", 2);
}

/* Redis restarted with its append-only file: the offer made before is matched after. */
static void test_redis_restarted(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 1, "B");
	long long deadline;

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	rsv_halt(&fx->r);
	assert_int_equal(rsv_restart(&fx->r), 0);
	deadline = cxb_now_ms() + 8000;
	while(cxb_now_ms() < deadline && mc_count(b, "\"type\":\"match\"") == 0){
		claim(fx, b, "A", KEY, "c1");
		mc_pump(&fx->mc, 300);
	}
	wait_for(fx, b, "\"type\":\"match\"", 1);
	wait_for(fx, a, "\"type\":\"match\"", 1);
	mc_pump(&fx->mc, QUIET_MS);
	assert_int_equal(mc_count(a, "\"type\":\"match\""), 1);
}

/* ---- HAProxy in front of the brokers ---- */

/* True when something accepts TCP connections on 127.0.0.1:port. */
static bool tcp_open(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	if(fd < 0){
		return false;
	}
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/*
 * Starts haproxy (HAPROXY, else haproxy on the PATH) in the foreground on a
 * free port, balancing by client ID over the three brokers as
 * packaging/haproxy/cardex-haproxy.cfg does. Returns its PID (*port set),
 * 0 when there is no haproxy (the test skips), or -1.
 */
static pid_t haproxy_start(struct fx *fx, int *port, char *cfgpath, size_t cap)
{
	const char *exe = getenv("HAPROXY");
	char text[2048];
	long long deadline;
	FILE *f;
	pid_t pid;

	if(exe == NULL || *exe == '\0'){
		exe = "haproxy";
	}
	if(system("command -v haproxy >/dev/null 2>&1") != 0 && getenv("HAPROXY") == NULL){
		return 0;
	}
	*port = cxb_free_port();
	snprintf(cfgpath, cap, "%s/haproxy.cfg", fx->r.dir);
	snprintf(text, sizeof(text),
			"global\n    maxconn 1000\n"
			"defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 1m\n    timeout server 1m\n"
			"    retries 2\n    option redispatch 1\n"
			"frontend mqtt\n    bind 127.0.0.1:%d\n    tcp-request inspect-delay 5s\n"
			"    tcp-request content reject unless { req.len gt 0 } { req.payload(0,0),mqtt_is_valid }\n"
			"    default_backend cardex\n"
			"backend cardex\n"
			"    balance hash req.payload(0,0),mqtt_field_value(connect,client_identifier)\n"
			"    hash-type consistent\n"
			"    default-server check inter 300ms fall 2 rise 2\n"
			"    server b1 127.0.0.1:%d\n    server b2 127.0.0.1:%d\n    server b3 127.0.0.1:%d\n",
			*port, fx->b[0].port, fx->b[1].port, fx->b[2].port);
	f = fopen(cfgpath, "w");
	if(f == NULL || fputs(text, f) < 0 || fclose(f) != 0){
		return -1;
	}
	pid = fork();
	if(pid == 0){
		execlp(exe, exe, "-db", "-q", "-f", cfgpath, (char *)NULL);
		_exit(127);
	}
	if(pid < 0){
		return -1;
	}
	deadline = cxb_now_ms() + 5000;
	while(cxb_now_ms() < deadline){
		if(tcp_open(*port)){
			return pid;
		}
		if(waitpid(pid, NULL, WNOHANG) == pid){
			return -1;
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void haproxy_stop(pid_t pid)
{
	if(pid > 0){
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

/* The broker (0-based) Redis records terminal id at, or -1. */
static int broker_of(struct fx *fx, const char *id)
{
	for(int i = 0; i < NBROKERS; i++){
		char at[8];
		snprintf(at, sizeof(at), "b%d", i + 1);
		if(rsv_command(&fx->r, "EVAL %s 1 cardex:{cx}:t:%s %s",
				"return redis.call('GET', KEYS[1]) == ARGV[1] and 1 or 0", id, at) == 1){
			return i;
		}
	}
	return -1;
}

/*
 * Waits (5 s at most) until Redis records terminal id at a broker other
 * than gone (the plugin records it when the terminal subscribes, on its
 * worker thread: after the SUBACK, not before), and returns that broker.
 */
static int wait_moved(struct fx *fx, const char *id, int gone)
{
	long long deadline = cxb_now_ms() + 5000;
	int at = broker_of(fx, id);

	while(cxb_now_ms() < deadline && (at < 0 || at == gone)){
		mc_pump(&fx->mc, 10);
		at = broker_of(fx, id);
	}
	assert_true(at >= 0 && at != gone);
	return at;
}

/*
 * Terminals through HAProxy (packaging/haproxy): each lands on the broker
 * its client ID hashes to, they exchange whichever brokers those are, and
 * when B's broker dies B reconnects through HAProxy to another and finishes.
 */
static void test_haproxy(void **state)
{
	struct fx *fx = *state;
	char cfg[320], xid[33];
	int port = 0, bb;
	pid_t hp = haproxy_start(fx, &port, cfg, sizeof(cfg));
	mc_client *a, *b;

	if(hp == 0){
		skip();
	}
	assert_true(hp > 0);
	fx->haproxy = hp;
	fx->mc.port = port;
	a = mc_new(&fx->mc, "A", "A", password_of("A"), true, MQTT_PROTOCOL_V311);
	b = mc_new(&fx->mc, "B", "B", password_of("B"), true, MQTT_PROTOCOL_V311);
	assert_int_equal(mc_connect(&fx->mc, a, NULL), 0);
	assert_int_equal(mc_connect(&fx->mc, b, NULL), 0);
	assert_int_equal(mc_subscribe(&fx->mc, a, "reply/A", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&fx->mc, b, "reply/B", 1, 0, NULL), 1);
	wait_loc(fx, "A", false);
	wait_loc(fx, "B", false);
	bb = broker_of(fx, "B");
	assert_true(broker_of(fx, "A") >= 0 && bb >= 0);

	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	claim(fx, b, "A", KEY, "c1");
	wait_for(fx, a, "\"type\":\"match\"", 1);
	wait_for(fx, b, "\"type\":\"match\"", 1);
	match_xid(a, xid);

	/* B's broker dies (A's too, when they share it); they come back through HAProxy, elsewhere. */
	bool a_too = broker_of(fx, "A") == bb;
	cxb_kill(&fx->b[bb]);
	mc_close(&fx->mc, b);
	if(a_too){
		mc_close(&fx->mc, a);
		a = mc_new(&fx->mc, "A", "A", password_of("A"), true, MQTT_PROTOCOL_V311);
		assert_int_equal(mc_connect(&fx->mc, a, NULL), 0);
		assert_int_equal(mc_subscribe(&fx->mc, a, "reply/A", 1, 0, NULL), 1);
		wait_moved(fx, "A", bb);
	}
	send_card(fx, a, "B", xid);
	wait_for(fx, a, "\"type\":\"sent\"", 1);
	b = mc_new(&fx->mc, "B", "B", password_of("B"), true, MQTT_PROTOCOL_V311);
	assert_int_equal(mc_connect(&fx->mc, b, NULL), 0);
	assert_int_equal(mc_subscribe(&fx->mc, b, "reply/B", 1, 0, NULL), 1);
	wait_for(fx, b, "\"type\":\"card\"", 1);
	wait_moved(fx, "B", bb);
	send_card(fx, b, "A", xid);
	wait_for(fx, a, "\"type\":\"card\"", 1);
	/* The killed broker is restarted, so that the fixture stops three live ones. */
	assert_int_equal(cxb_restart(&fx->b[bb]), 0);
}

/* ---- options ---- */

static void expect_refused(const char *opts, const char *extra, const char *needle)
{
	cxb_config cfg = {.plugin = true, .plugin_opts = opts, .extra_conf = extra, .accounts = accounts, .naccounts = 1};

	assert_true(cxb_refused_with(&cfg, needle));
}

/*
 * Bad store options stop the broker with one clear line; a wrong Redis
 * password is never logged, and requests are answered "unavailable" until
 * Redis can be used.
 */
static void test_options(void **state)
{
	struct fx *fx = *state;
	char opts[512];
	cxb_broker b;
	mc_client *a;

	expect_refused("plugin_opt_store redis\n", NULL, "needs plugin_opt_broker_id");
	expect_refused("plugin_opt_store disk\n", NULL, "invalid value for plugin_opt_store");
	expect_refused("plugin_opt_store redis\nplugin_opt_broker_id b/1\n", NULL, "invalid value for plugin_opt_broker_id");
	expect_refused("plugin_opt_redis_prefix a{b}:\n", NULL, "invalid value for plugin_opt_redis_prefix");
	expect_refused("plugin_opt_redis_port 0\n", NULL, "invalid value for plugin_opt_redis_port");
	expect_refused("plugin_opt_redis_port 65536\n", NULL, "invalid value for plugin_opt_redis_port");
	expect_refused("plugin_opt_redis_timeout_ms 5\n", NULL, "invalid value for plugin_opt_redis_timeout_ms");
	expect_refused("plugin_opt_redis_socket redis.sock\n", NULL, "must be an absolute path");
	expect_refused("plugin_opt_redis_inbox_max 0\n", NULL, "invalid value for plugin_opt_redis_inbox_max");
	/* Offers and exchanges live in Redis: a file of the broker's own for them is refused. */
	snprintf(opts, sizeof(opts), "plugin_opt_store redis\nplugin_opt_redis_port %d\nplugin_opt_broker_id b8\n"
			"plugin_opt_persist_file /tmp/cardex-never-written\n", fx->r.port);
	expect_refused(opts, NULL, "plugin_opt_persist_file has no use with plugin_opt_store redis");

	/* A wrong password: refused by Redis (which has none), never written to the log. */
	snprintf(opts, sizeof(opts), "plugin_opt_store redis\nplugin_opt_redis_port %d\nplugin_opt_broker_id b9\n"
			"plugin_opt_redis_password pw-never-logged-4711\n", fx->r.port);
	cxb_config cfg = {.plugin = true, .plugin_opts = opts, .accounts = accounts, .naccounts = 4};
	assert_int_equal(cxb_start(&b, &cfg), 0);
	fx->mc.port = b.port;
	a = mc_new(&fx->mc, "A", "A", password_of("A"), true, MQTT_PROTOCOL_V311);
	assert_int_equal(mc_connect(&fx->mc, a, NULL), 0);
	assert_int_equal(mc_subscribe(&fx->mc, a, "reply/A", 1, 0, NULL), 1);
	offer(fx, a, "A", KEY, "o1");
	wait_for(fx, a, "unavailable", 1);
	assert_int_equal(mc_count(a, "\"retry_after\":1"), 1);
	assert_true(cxb_log_contains(&b, "cardex: redis | unavailable: AUTH refused"));
	assert_false(cxb_log_contains(&b, "pw-never-logged-4711"));
	mc_close(&fx->mc, a);
	assert_int_equal(cxb_stop_check(&b), 0);
}

/*
 * The queue toward Redis is bounded: with Redis stopped and redis_queue 16,
 * a flood of claims is answered "unavailable" in full, the queue's overflow
 * at once, and the broker says so in its log.
 */
static void test_queue_full(void **state)
{
	struct fx *fx = *state;
	char opts[512], ref[16];
	cxb_broker b;
	mc_client *c;

	snprintf(opts, sizeof(opts), "plugin_opt_store redis\nplugin_opt_redis_port %d\nplugin_opt_broker_id b9\n"
			"plugin_opt_redis_queue 16\nplugin_opt_redis_timeout_ms 1000\nplugin_opt_error_replies_per_sec 1000\n",
			fx->r.port);
	cxb_config cfg = {.plugin = true, .plugin_opts = opts, .accounts = accounts, .naccounts = 4};
	assert_int_equal(cxb_start(&b, &cfg), 0);
	assert_int_equal(wait_store(&b), 0);
	fx->mc.port = b.port;
	c = mc_new(&fx->mc, "C", "C", password_of("C"), true, MQTT_PROTOCOL_V311);
	assert_int_equal(mc_connect(&fx->mc, c, NULL), 0);
	assert_int_equal(mc_subscribe(&fx->mc, c, "reply/C", 1, 0, NULL), 1);
	mc_pump(&fx->mc, 200);
	rsv_signal(&fx->r, SIGSTOP);
	for(int i = 0; i < 60; i++){
		char body[64];
		snprintf(ref, sizeof(ref), "q%d", i);
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"ref\":\"%s\"}", WRONG, ref);
		assert_int_equal(mosquitto_publish(c->m, NULL, "claim/A", (int)strlen(body), body, 1, false), MOSQ_ERR_SUCCESS);
	}
	wait_for(fx, c, "unavailable", 60);
	rsv_signal(&fx->r, SIGCONT);
	assert_true(cxb_log_contains(&b, "queue full (redis_queue 16)"));
	mc_close(&fx->mc, c);
	assert_int_equal(cxb_stop_check(&b), 0);
}

/*
 * Expiry: whichever broker's sweep finds an offer due, its owner hears
 * "expired" once, and a claim after it is no-match.
 */
static void test_offer_expiry(void **state)
{
	struct fx *fx = *state;
	mc_client *a = term_on(fx, 0, "A");
	mc_client *b = term_on(fx, 2, "B");

	pub(fx, a, "keys/A", "{\"key\":\"" KEY "\",\"ttl\":5,\"ref\":\"o5\"}");
	wait_for(fx, a, "\"type\":\"offer\"", 1);
	assert_int_equal(rsv_command(&fx->r, "ZCARD cardex:{cx}:do"), 1);
	long long deadline = cxb_now_ms() + 9000;
	while(cxb_now_ms() < deadline && mc_count(a, "\"type\":\"expired\"") == 0){
		mc_pump(&fx->mc, 20);
	}
	assert_int_equal(mc_count(a, "{\"type\":\"expired\",\"offer\":true,\"ref\":\"o5\"}"), 1);
	claim(fx, b, "A", KEY, "late");
	wait_for(fx, b, "no-match", 1);
	mc_pump(&fx->mc, 1500);
	assert_int_equal(mc_count(a, "\"type\":\"expired\""), 1);
	assert_int_equal(rsv_command(&fx->r, "ZCARD cardex:{cx}:do"), 0);
	assert_int_equal(rsv_command(&fx->r, "EXISTS cardex:{cx}:o:A"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cross_broker_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cross_broker_sealed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_match_two_brokers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_across_brokers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broker_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_restarted, setup_persist, teardown),
		cmocka_unit_test_setup_teardown(test_haproxy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offer_expiry, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
