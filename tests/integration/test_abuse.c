/*
 * Abuse of mosquitto_cardex.so inside the real Mosquitto: brute force on
 * instant keys, floods, and the plugin's ceilings. Raw libmosquitto clients
 * (MQTT 3.1.1) on loopback; attackers bind to other 127.0.0.x source
 * addresses so that the per-address limit sees several hosts.
 *
 * Many clients are driven from one thread with poll(): every wait is a pump
 * of all sockets with a deadline. A flood is a "drive" function called on
 * every pump iteration, so that it keeps going while the test waits for an
 * honest exchange to complete.
 *
 * Counts come from what the clients receive; the plugin's own counters (its
 * "cardex: stats" log line, plugin_opt_stats_interval 1) are checked against
 * them, and memory is read from the plugin's table sizes and from the
 * broker's resident size.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "broker.h"
#include "proto.h"

/*
 * Times are scaled when the broker is instrumented (broker.h): by 2 under
 * the sanitizer runtimes, by 8 under valgrind, which runs it some 20 times
 * slower. The bound on an honest exchange then only guards against
 * starvation; the counts checked do not depend on speed.
 */
static int slowdown = 1;
#define WAIT_MS (5000 * slowdown)          /* longest wait for a reply that must come */
#define HONEST_BOUND_MS (5000 * slowdown)  /* an honest exchange completes within this, flood or not */
#define NACCOUNTS 160
#define MAX_CLIENTS 170
#define QCAP 64
#define CONNACK_ACCEPTED 0
#define RSS_GROWTH_MAX_KB (16 * 1024) /* broker growth allowed across a flood, uninstrumented */

static const char card_a[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ada Lovelace\"]]]";
static const char card_b[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Bob Babbage\"]]]";

/* ---- clients ---- */

struct fx;

/* One raw MQTT connection of a terminal and what it received. */
typedef struct cl {
	struct fx *f;
	struct mosquitto *m;
	char id[CX_ID_MAX + 1];  /* the terminal (username) */
	char reply_topic[128];
	int connack;             /* -1 until the CONNACK */
	bool connected;
	int sub_mid;
	int sub_granted;         /* -1 until the SUBACK */
	uint64_t replies;        /* messages on its own reply topic */
	uint64_t foreign;        /* messages on any other topic */
	uint64_t undecodable;
	uint64_t by_type[CX_REPLY__LAST + 1];
	uint64_t by_code[CX_CODE__COUNT];
	bool queue;              /* keep decoded replies for next_reply() */
	cx_reply_msg q[QCAP];
	size_t qhead, qlen, qoverflow;
	void (*hook)(struct cl *c, const cx_reply_msg *r); /* sees every decoded reply */
	int tag;                 /* the test's own use */
	long long next_send_ms;  /* the test's own use */
} cl;

typedef struct fx {
	cxb_broker b;
	bool started;
	cl *cl[MAX_CLIENTS];
	size_t ncl;
	cxb_account accounts[NACCOUNTS];
	char ids[NACCOUNTS][16];
	char passwords[NACCOUNTS][32];
	char aclfile[64];
	void (*drive)(struct fx *f); /* called on every pump iteration */
	void *dctx;
	uint64_t rng;
} fx;

static uint32_t rnd(fx *f)
{
	/* xorshift64*: reproducible from the seed printed at setup. */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (uint32_t)((f->rng * UINT64_C(2685821657736338717)) >> 32);
}

static void random_key(fx *f, char key[7])
{
	snprintf(key, 7, "%06u", rnd(f) % 1000000u);
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	cl *c = obj;

	(void)m;
	c->connack = rc;
	c->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	cl *c = obj;

	(void)m;
	(void)rc;
	c->connected = false;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted)
{
	cl *c = obj;

	(void)m;
	if(mid == c->sub_mid && count > 0){
		c->sub_granted = granted[0];
	}
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	cl *c = obj;
	cx_reply_msg r;
	const char *why = NULL;

	(void)m;
	if(strcmp(msg->topic, c->reply_topic) != 0){
		c->foreign++;
		return;
	}
	c->replies++;
	memset(&r, 0, sizeof(r));
	if(cx_reply_decode(msg->payload, (size_t)msg->payloadlen, &r, &why) != CX_CODE_NONE){
		c->undecodable++;
		return;
	}
	c->by_type[r.type]++;
	if(r.type == CX_REPLY_ERROR && r.code < CX_CODE__COUNT){
		c->by_code[r.code]++;
	}
	if(c->hook != NULL){
		c->hook(c, &r);
	}
	if(c->queue && c->qlen < QCAP){
		c->q[(c->qhead + c->qlen++) % QCAP] = r;
		return;
	}
	if(c->queue){
		c->qoverflow++;
	}
	cx_reply_msg_clear(&r);
}

static void cl_free(cl *c)
{
	if(c == NULL){
		return;
	}
	if(c->m != NULL){
		mosquitto_disconnect(c->m);
		mosquitto_destroy(c->m);
	}
	while(c->qlen > 0){
		cx_reply_msg_clear(&c->q[c->qhead]);
		c->qhead = (c->qhead + 1) % QCAP;
		c->qlen--;
	}
	free(c);
}

/*
 * A client of terminal id (NULL: account i of the fixture) with MQTT client
 * ID client_id (NULL: the terminal ID), owned by the fixture.
 */
static cl *cl_new(fx *f, size_t i, const char *client_id)
{
	cl *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	assert_true(f->ncl < MAX_CLIENTS);
	assert_true(i < NACCOUNTS);
	f->cl[f->ncl++] = c;
	c->f = f;
	c->connack = -1;
	c->sub_granted = -1;
	snprintf(c->id, sizeof(c->id), "%s", f->ids[i]);
	snprintf(c->reply_topic, sizeof(c->reply_topic), "reply/%s", c->id);
	c->m = mosquitto_new(client_id != NULL ? client_id : c->id, true, c);
	assert_non_null(c->m);
	assert_int_equal(mosquitto_username_pw_set(c->m, f->ids[i], f->passwords[i]), MOSQ_ERR_SUCCESS);
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_disconnect_callback_set(c->m, on_disconnect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_message_callback_set(c->m, on_message);
	return c;
}

/* One round over every socket: at most wait_ms in poll, then reads, writes, keepalive. */
static void pump_once(fx *f, int wait_ms)
{
	struct pollfd pfd[MAX_CLIENTS];
	cl *who[MAX_CLIENTS];
	nfds_t n = 0;

	if(f->drive != NULL){
		f->drive(f);
	}
	for(size_t i = 0; i < f->ncl; i++){
		cl *c = f->cl[i];
		int s = c->m != NULL ? mosquitto_socket(c->m) : -1;

		if(s < 0){
			continue;
		}
		pfd[n].fd = s;
		pfd[n].events = POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0);
		pfd[n].revents = 0;
		who[n++] = c;
	}
	if(poll(pfd, n, wait_ms) <= 0){
		return;
	}
	for(nfds_t i = 0; i < n; i++){
		cl *c = who[i];

		if(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)){
			/* Several packets may be waiting: libmosquitto reads about one per call. */
			for(int k = 0; k < 64 && c->m != NULL; k++){
				if(mosquitto_loop_read(c->m, 1) != MOSQ_ERR_SUCCESS){
					c->connected = false;
					break;
				}
			}
		}
		if(c->m != NULL && (pfd[i].revents & POLLOUT)){
			mosquitto_loop_write(c->m, 1);
		}
		if(c->m != NULL){
			mosquitto_loop_misc(c->m);
		}
	}
}

static void pump(fx *f, int ms)
{
	long long deadline = cxb_now_ms() + ms;

	do{
		pump_once(f, 5);
	}while(cxb_now_ms() < deadline);
}

/* Connects the clients (from source address bind, NULL: default) and subscribes each to its reply topic. */
static void cl_connect_all(fx *f, cl *const *cs, size_t n, const char *bind)
{
	long long deadline = cxb_now_ms() + WAIT_MS;
	size_t done;

	for(size_t i = 0; i < n; i++){
		cs[i]->connack = -1;
		assert_int_equal(mosquitto_connect_bind(cs[i]->m, "127.0.0.1", f->b.port, 60, bind), MOSQ_ERR_SUCCESS);
	}
	do{
		pump_once(f, 5);
		done = 0;
		for(size_t i = 0; i < n; i++){
			done += cs[i]->connack != -1;
		}
	}while(done < n && cxb_now_ms() < deadline);
	for(size_t i = 0; i < n; i++){
		if(cs[i]->connack != CONNACK_ACCEPTED){
			fprintf(stderr, "%s from %s: CONNACK %d\n", cs[i]->id, bind ? bind : "default", cs[i]->connack);
			fail();
		}
		cs[i]->sub_granted = -1;
		assert_int_equal(mosquitto_subscribe(cs[i]->m, &cs[i]->sub_mid, cs[i]->reply_topic, 1), MOSQ_ERR_SUCCESS);
	}
	deadline = cxb_now_ms() + WAIT_MS;
	do{
		pump_once(f, 5);
		done = 0;
		for(size_t i = 0; i < n; i++){
			done += cs[i]->sub_granted != -1;
		}
	}while(done < n && cxb_now_ms() < deadline);
	for(size_t i = 0; i < n; i++){
		assert_int_equal(cs[i]->sub_granted, 1);
	}
}

/* A connected, subscribed client of account i that queues its replies. */
static cl *terminal(fx *f, size_t i, const char *bind)
{
	cl *c = cl_new(f, i, NULL);

	c->queue = true;
	cl_connect_all(f, &c, 1, bind);
	return c;
}

static void publish(cl *c, const char *topic, const void *payload, size_t len, int qos)
{
	int rc = mosquitto_publish(c->m, NULL, topic, (int)len, payload, qos, false);

	if(rc != MOSQ_ERR_SUCCESS){
		fprintf(stderr, "publish by %s on %s: %s\n", c->id, topic, mosquitto_strerror(rc));
		fail();
	}
}

static void publish_str(cl *c, const char *topic, const char *payload)
{
	publish(c, topic, payload, strlen(payload), 1);
}

/* The next queued reply of c within timeout_ms (the caller clears it). */
static void next_reply_within(cl *c, cx_reply_msg *out, int timeout_ms)
{
	long long deadline = cxb_now_ms() + timeout_ms;

	while(c->qlen == 0 && cxb_now_ms() < deadline){
		pump_once(c->f, 5);
	}
	if(c->qlen == 0){
		fprintf(stderr, "%s: no reply within %d ms\n", c->id, timeout_ms);
		fail();
	}
	*out = c->q[c->qhead];
	c->qhead = (c->qhead + 1) % QCAP;
	c->qlen--;
}

static void expect_type(cl *c, cx_reply_msg *m, cx_reply_type type)
{
	next_reply_within(c, m, WAIT_MS);
	if(m->type != type){
		fprintf(stderr, "%s: reply %s (%s), expected %s\n", c->id, cx_reply_type_name(m->type),
				m->code_name, cx_reply_type_name(type));
		fail();
	}
}

static void expect_error_code(cl *c, cx_code code)
{
	cx_reply_msg m;

	expect_type(c, &m, CX_REPLY_ERROR);
	if(m.code != code){
		fprintf(stderr, "%s: error %s, expected %s\n", c->id, m.code_name, cx_code_name(code));
		fail();
	}
	cx_reply_msg_clear(&m);
}

static void offer(cl *a, const char *key, const char *ref)
{
	char t[128], payload[128];
	cx_reply_msg m;

	snprintf(t, sizeof(t), "keys/%s", a->id);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600,\"ref\":\"%s\"}", key, ref);
	publish_str(a, t, payload);
	expect_type(a, &m, CX_REPLY_OFFER);
	assert_string_equal(m.ref, ref);
	cx_reply_msg_clear(&m);
}

/* b claims a's offer with key; both get "match"; the exchange ID goes to xid. */
static void claim_match(cl *a, cl *b, const char *key, char xid[CX_XID_HEX + 1])
{
	char t[128], payload[160];
	cx_reply_msg ma, mb;

	snprintf(t, sizeof(t), "claim/%s", a->id);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"from\":\"%s\",\"ref\":\"hc\"}", key, b->id);
	publish_str(b, t, payload);
	expect_type(a, &ma, CX_REPLY_MATCH);
	expect_type(b, &mb, CX_REPLY_MATCH);
	assert_string_equal(ma.xid, mb.xid);
	assert_string_equal(ma.peer, b->id);
	assert_string_equal(mb.peer, a->id);
	memcpy(xid, ma.xid, CX_XID_HEX + 1);
	cx_reply_msg_clear(&ma);
	cx_reply_msg_clear(&mb);
}

static void send_card(cl *from, cl *to, const char *xid, const char *card)
{
	char t[128], payload[512];
	cx_reply_msg mc, ms;

	snprintf(t, sizeof(t), "card/%s", to->id);
	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card);
	publish_str(from, t, payload);
	expect_type(to, &mc, CX_REPLY_CARD);
	assert_string_equal(mc.xid, xid);
	assert_string_equal(mc.card, card);
	expect_type(from, &ms, CX_REPLY_SENT);
	cx_reply_msg_clear(&mc);
	cx_reply_msg_clear(&ms);
}

/*
 * A whole exchange between honest terminals a and b with a fresh key.
 * Returns how long it took, after asserting it stayed within
 * HONEST_BOUND_MS.
 */
static long long honest_exchange(fx *f, cl *a, cl *b)
{
	long long start = cxb_now_ms(), took;
	char key[7], xid[CX_XID_HEX + 1];

	random_key(f, key);
	offer(a, key, "honest");
	claim_match(a, b, key, xid);
	send_card(a, b, xid, card_a);
	send_card(b, a, xid, card_b);
	took = cxb_now_ms() - start;
	if(took > HONEST_BOUND_MS){
		fprintf(stderr, "honest exchange %s-%s took %lld ms (bound %d ms)\n", a->id, b->id, took,
				HONEST_BOUND_MS);
		fail();
	}
	return took;
}

/* ---- broker, log and stats ---- */

/* Starts a broker with the plugin, accounts t0..t159, plugin_opts and extra_conf. */
static void fx_start(fx *f, const char *plugin_opts, const char *extra_conf)
{
	cxb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = plugin_opts;
	cfg.extra_conf = extra_conf;
	cfg.accounts = f->accounts;
	cfg.naccounts = NACCOUNTS;
	assert_int_equal(cxb_start(&f->b, &cfg), 0);
	f->started = true;
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	const char *seed = getenv("CARDEX_TEST_SEED");

	if(f == NULL){
		return -1;
	}
	for(size_t i = 0; i < NACCOUNTS; i++){
		snprintf(f->ids[i], sizeof(f->ids[i]), "t%zu", i);
		snprintf(f->passwords[i], sizeof(f->passwords[i]), "pw-t%zu-secret", i);
		f->accounts[i].id = f->ids[i];
		f->accounts[i].password = f->passwords[i];
	}
	f->rng = seed != NULL ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if(f->rng == 0){
		f->rng = 1;
	}
	fprintf(stderr, "(CARDEX_TEST_SEED=%" PRIu64 ")\n", f->rng);
	*state = f;
	return 0;
}

/* Frees the clients and stops the broker; a sanitizer or valgrind report fails the test. */
static int teardown(void **state)
{
	fx *f = *state;
	int rc = 0;

	f->drive = NULL;
	for(size_t i = 0; i < f->ncl; i++){
		cl_free(f->cl[i]);
	}
	if(f->started && cxb_stop_check(&f->b) != 0){
		rc = -1;
	}
	if(f->aclfile[0] != '\0'){
		unlink(f->aclfile);
	}
	free(f);
	return rc;
}

/* The broker's log; fails the test when it cannot be read. The caller frees it. */
static char *read_log(fx *f)
{
	char *log = cxb_log_read(&f->b);

	assert_non_null(log);
	return log;
}

/* Counts the lines of the log that contain needle. */
static size_t log_count(fx *f, const char *needle)
{
	char *log = read_log(f);
	size_t n = 0;

	for(const char *p = strstr(log, needle); p != NULL; p = strstr(p + 1, needle)){
		n++;
	}
	free(log);
	return n;
}

typedef struct {
	long long offers, exchanges, limiters, address_limiters, error_windows, timers, total_failures;
	long long evaluated, failed, rate_limited, capacity, errors_sent, errors_dropped;
	long long recent_claims, repeated;
} stats;

static long long stat_field(const char *line, const char *name)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", name);
	p = strstr(line, pat);
	if(p == NULL){
		fprintf(stderr, "stats line lacks %s: %s\n", name, line);
		fail();
	}
	return strtoll(p + strlen(pat), NULL, 10);
}

/*
 * Waits for the plugin's next "cardex: stats" line (plugin_opt_stats_interval
 * 1) and parses it, so that it reflects everything that happened before the
 * call.
 */
static void fresh_stats(fx *f, stats *st)
{
	size_t before = log_count(f, "cardex: stats |");
	long long deadline = cxb_now_ms() + WAIT_MS;
	char *log = NULL, *line, *end;

	do{
		pump(f, 100);
	}while(log_count(f, "cardex: stats |") < before + 2 && cxb_now_ms() < deadline);
	log = read_log(f);
	line = NULL;
	for(char *p = strstr(log, "cardex: stats |"); p != NULL; p = strstr(p + 1, "cardex: stats |")){
		line = p;
	}
	if(line == NULL){
		fprintf(stderr, "no stats line in the log\n");
		free(log);
		fail();
	}
	end = strchr(line, '\n');
	if(end != NULL){
		*end = '\0';
	}
	st->offers = stat_field(line, "offers");
	st->exchanges = stat_field(line, "exchanges");
	st->limiters = stat_field(line, "limiters");
	st->address_limiters = stat_field(line, "address_limiters");
	st->error_windows = stat_field(line, "error_windows");
	st->timers = stat_field(line, "timers");
	st->total_failures = stat_field(line, "total_failures");
	st->evaluated = stat_field(line, "evaluated");
	st->failed = stat_field(line, "failed");
	st->rate_limited = stat_field(line, "rate_limited");
	st->capacity = stat_field(line, "capacity");
	st->errors_sent = stat_field(line, "errors_sent");
	st->errors_dropped = stat_field(line, "errors_dropped");
	st->recent_claims = stat_field(line, "recent_claims");
	st->repeated = stat_field(line, "repeated");
	fprintf(stderr, "plugin %s\n", line);
	free(log);
}

/* Prints the broker's growth in resident memory and, uninstrumented, bounds it. */
static void check_rss(fx *f, long rss_before_kb, const char *what)
{
	long after = cxb_rss_kb(&f->b);

	assert_true(rss_before_kb > 0 && after > 0);
	fprintf(stderr, "broker RSS %s: %ld KiB before, %ld KiB after (%+ld KiB)%s\n", what, rss_before_kb,
			after, after - rss_before_kb, cxb_instrumented() ? " [instrumented: not bounded]" : "");
	if(!cxb_instrumented() && after - rss_before_kb > RSS_GROWTH_MAX_KB){
		fprintf(stderr, "broker grew by more than %d KiB\n", RSS_GROWTH_MAX_KB);
		fail();
	}
}

/* ---- brute force ---- */

/*
 * An upper bound on attacker successes that fails with probability at most
 * tail. Attackers make guesses (claims that get evaluated) until the limits
 * stop them after fmax failures; each guess, whatever the attacker learnt
 * before, is right with probability at most p = 1 / (10^k - (A - 1)): the
 * offer's key is uniform over 10^k values, of which that offer's earlier
 * wrong guesses excluded at most A - 1 before it burned. A (s+1)-th success
 * must come among the first fmax + s + 1 guesses, so
 *   P(S >= s+1) <= C(fmax + s + 1, s + 1) p^(s+1),
 * and the bound is the smallest s for which that is at most tail.
 */
static unsigned success_bound(unsigned fmax, double p, double tail)
{
	double term = (double)(fmax + 1) * p; /* C(fmax + 1, 1) p */

	for(unsigned s = 0; s < 1000; s++){
		if(term <= tail){
			return s;
		}
		/* C(n+1, s+2) p^(s+2) = C(n, s+1) p^(s+1) * (n+1)/(s+2) * p with n = fmax + s + 1 */
		term *= (double)(fmax + s + 2) / (double)(s + 2) * p;
	}
	return 1000;
}

struct attack {
	cl *attackers[MAX_CLIENTS];
	size_t nattackers;
	cl *victims[MAX_CLIENTS];
	size_t nvictims;
	char keys[MAX_CLIENTS][7];   /* each victim's live key */
	unsigned reoffers;
	bool on;
	int period_ms;               /* between two claims of one attacker */
	uint64_t successes;          /* matches an attacker received */
	uint64_t victim_matches;     /* matches a victim received with an attacker as peer */
	uint64_t attempts_seen;      /* "attempt" and "revoked"/"attempts" notices to victims */
	uint64_t retry_after_bad;    /* rate-limited replies with retry_after outside 1..60 */
};

/* Attackers guess: each claims a victim's offer with a random key every period_ms. */
static void drive_attack(fx *f)
{
	struct attack *a = f->dctx;
	long long now = cxb_now_ms();
	char t[128], payload[96], key[7];

	if(!a->on){
		return;
	}
	for(size_t i = 0; i < a->nattackers; i++){
		cl *c = a->attackers[i];
		cl *v;

		if(now < c->next_send_ms || mosquitto_want_write(c->m)){
			continue;
		}
		c->next_send_ms = now + a->period_ms;
		v = a->victims[rnd(f) % a->nvictims];
		random_key(f, key);
		snprintf(t, sizeof(t), "claim/%s", v->id);
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"from\":\"%s\"}", key, c->id);
		publish(c, t, payload, strlen(payload), 0);
	}
}

static void attacker_hook(cl *c, const cx_reply_msg *r)
{
	struct attack *a = c->f->dctx;

	if(r->type == CX_REPLY_MATCH){
		a->successes++;
	}
	if(r->type == CX_REPLY_ERROR && r->code == CX_CODE_RATE_LIMITED &&
			(r->retry_after < 1 || r->retry_after > 60)){
		a->retry_after_bad++;
	}
}

/* Victims keep an offer live: a burned offer is replaced at once with a fresh key. */
static void victim_hook(cl *c, const cx_reply_msg *r)
{
	struct attack *a = c->f->dctx;
	char t[128], payload[96];

	if(r->type == CX_REPLY_ATTEMPT){
		a->attempts_seen++;
	}
	if(r->type == CX_REPLY_MATCH){
		a->victim_matches++;
	}
	if(r->type == CX_REPLY_REVOKED && strcmp(r->reason, "attempts") == 0){
		a->attempts_seen++;
		random_key(c->f, a->keys[c->tag]);
		snprintf(t, sizeof(t), "keys/%s", c->id);
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600,\"ref\":\"re\"}", a->keys[c->tag]);
		publish(c, t, payload, strlen(payload), 1);
		a->reoffers++;
	}
}

/* Connects nvictims victims (accounts from first) and gives each a live offer. */
static void start_victims(fx *f, struct attack *a, size_t first, size_t nvictims)
{
	char t[128], payload[96];
	long long deadline;
	uint64_t offers = 0;

	for(size_t i = 0; i < nvictims; i++){
		cl *v = cl_new(f, first + i, NULL);

		v->hook = victim_hook;
		v->tag = (int)i;
		a->victims[a->nvictims++] = v;
	}
	cl_connect_all(f, a->victims, a->nvictims, NULL);
	for(size_t i = 0; i < a->nvictims; i++){
		random_key(f, a->keys[i]);
		snprintf(t, sizeof(t), "keys/%s", a->victims[i]->id);
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600,\"ref\":\"v\"}", a->keys[i]);
		publish(a->victims[i], t, payload, strlen(payload), 1);
	}
	deadline = cxb_now_ms() + WAIT_MS;
	do{
		pump_once(f, 5);
		offers = 0;
		for(size_t i = 0; i < a->nvictims; i++){
			offers += a->victims[i]->by_type[CX_REPLY_OFFER];
		}
	}while(offers < a->nvictims && cxb_now_ms() < deadline);
	assert_int_equal(offers, a->nvictims);
}

/* Connects the attackers accounts[first + i], the i-th from address addr_of(i). */
static void start_attackers(fx *f, struct attack *a, size_t first, size_t n, const char *(*addr_of)(size_t i))
{
	for(size_t i = 0; i < n; i++){
		cl *c = cl_new(f, first + i, NULL);

		c->hook = attacker_hook;
		a->attackers[a->nattackers++] = c;
		cl_connect_all(f, &c, 1, addr_of(i));
	}
}

static uint64_t sum_code(cl *const *cs, size_t n, cx_code code)
{
	uint64_t s = 0;

	for(size_t i = 0; i < n; i++){
		s += cs[i]->by_code[code];
	}
	return s;
}

/*
 * Attacker layout of test_brute_force: addresses 127.0.0.10..13 hold one
 * attacker each, 127.0.0.20..25 six each (40 attackers on 10 addresses).
 */
#define BF_SINGLE 4
#define BF_SHARED 6
#define BF_PER_SHARED 6
#define BF_ATTACKERS (BF_SINGLE + BF_SHARED * BF_PER_SHARED)
#define BF_ADDRESSES (BF_SINGLE + BF_SHARED)
#define BF_PER_TERMINAL 4
#define BF_PER_ADDRESS 10
#define BF_TOTAL 1000
#define BF_ATTEMPTS 3
#define BF_KEY_DIGITS 6
#define BF_VICTIMS 30

static const char *bf_address(size_t i)
{
	static char buf[32];

	if(i < BF_SINGLE){
		snprintf(buf, sizeof(buf), "127.0.0.%zu", 10 + i);
	}else{
		snprintf(buf, sizeof(buf), "127.0.0.%zu", 20 + (i - BF_SINGLE) / BF_PER_SHARED);
	}
	return buf;
}

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

static unsigned min2(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/*
 * The bound of docs/protocol.md section 7 on the failures evaluated in one
 * window, for attackers[i] terminals on address i (n addresses), limits t
 * per terminal, s per address and a in total: a terminal without failures
 * is evaluated while a shared window is full, so each adds at most one
 * failure beyond a shared limit.
 */
static unsigned failure_bound(const unsigned *attackers, size_t n, unsigned t, unsigned s, unsigned a)
{
	unsigned sum = 0, terminals = 0;

	for(size_t i = 0; i < n; i++){
		sum += min2(attackers[i] * t, s + attackers[i]);
		terminals += attackers[i];
	}
	return min2(sum, a + min2(terminals, a));
}

/*
 * Many attacker terminals on several source addresses guess keys against
 * many live offers, each guess a real claim through the broker, while honest
 * terminals exchange cards. The failures evaluated must be exactly what the
 * limits allow, and the successes within the bound computed from them.
 */
static void test_brute_force(void **state)
{
	fx *f = *state;
	struct attack *a = calloc(1, sizeof(*a));
	cl *honest[4];
	char opts[512];
	unsigned fmax_formula, fmax_old = 0, bound, layout[BF_ADDRESSES];
	double p;
	uint64_t no_match, rate_limited;
	long long worst = 0, took, start, rss0;
	stats st;

	assert_non_null(a);
	snprintf(opts, sizeof(opts),
			"plugin_opt_attempts %d\nplugin_opt_claim_failures_per_min %d\n"
			"plugin_opt_claim_failures_per_min_per_address %d\nplugin_opt_claim_failures_per_min_total %d\n"
			"plugin_opt_error_replies_per_sec 100000\nplugin_opt_stats_interval 1\n",
			BF_ATTEMPTS, BF_PER_TERMINAL, BF_PER_ADDRESS, BF_TOTAL);
	fx_start(f, opts, NULL);
	f->dctx = a;
	f->drive = drive_attack;
	a->period_ms = 10 * slowdown;

	/*
	 * The bound, from the limits alone (one window each: the test lasts well
	 * under 60 s); and what the limits alone allow when no terminal is let
	 * through a full shared window, the least that must be evaluated.
	 */
	for(size_t i = 0; i < BF_ADDRESSES; i++){
		layout[i] = i < BF_SINGLE ? 1 : BF_PER_SHARED;
		fmax_old += min2(layout[i] * BF_PER_TERMINAL, BF_PER_ADDRESS);
	}
	fmax_formula = failure_bound(layout, BF_ADDRESSES, BF_PER_TERMINAL, BF_PER_ADDRESS, BF_TOTAL);
	assert_true(fmax_formula <= min3(BF_ATTACKERS * BF_PER_TERMINAL,
			BF_ADDRESSES * BF_PER_ADDRESS + BF_ATTACKERS, BF_TOTAL + BF_ATTACKERS));
	fmax_old = min2(fmax_old, BF_TOTAL);
	p = 1.0 / (1e6 - (BF_ATTEMPTS - 1));
	bound = success_bound(fmax_formula, p, 1e-9);
	fprintf(stderr, "brute force: %d attackers on %d addresses, %d-digit keys, %d attempts per offer; "
			"limits %d/terminal, %d/address, %d total per 60 s\n", BF_ATTACKERS, BF_ADDRESSES, BF_KEY_DIGITS,
			BF_ATTEMPTS, BF_PER_TERMINAL, BF_PER_ADDRESS, BF_TOTAL);
	fprintf(stderr, "brute force: failures evaluated <= %u with this layout (min(%d, %d + %d, %d + %d) "
			"whatever the layout), at least %u; successes <= %u (P(more) <= 1e-9, expected %.2g)\n",
			fmax_formula, BF_ATTACKERS * BF_PER_TERMINAL, BF_ADDRESSES * BF_PER_ADDRESS, BF_ATTACKERS,
			BF_TOTAL, BF_ATTACKERS, fmax_old, bound, (double)fmax_formula * p / (1 - p));

	start_victims(f, a, 0, BF_VICTIMS);
	for(size_t i = 0; i < 4; i++){
		honest[i] = terminal(f, 100 + i, NULL);
	}
	start_attackers(f, a, 40, BF_ATTACKERS, bf_address);
	rss0 = cxb_rss_kb(&f->b);

	/* Attack for about 6 s; honest exchanges run all along, before and after the limits bite. */
	a->on = true;
	start = cxb_now_ms();
	for(int round = 0; cxb_now_ms() - start < 6000 && round < 50; round++){
		took = honest_exchange(f, honest[(2 * round) % 4], honest[(2 * round + 1) % 4]);
		worst = took > worst ? took : worst;
		pump(f, 300);
	}
	a->on = false;
	pump(f, 500);
	fresh_stats(f, &st);

	no_match = sum_code(a->attackers, a->nattackers, CX_CODE_NO_MATCH);
	rate_limited = sum_code(a->attackers, a->nattackers, CX_CODE_RATE_LIMITED);
	fprintf(stderr, "brute force: %" PRIu64 " failures evaluated, %" PRIu64 " successes, %" PRIu64
			" claims refused rate-limited; victims saw %" PRIu64 " wrong attempts and re-offered %u times; "
			"worst honest exchange %lld ms\n", no_match, a->successes, rate_limited, a->attempts_seen,
			a->reoffers, worst);
	assert_true(no_match <= fmax_formula);
	assert_true(no_match >= fmax_old);
	assert_true(a->successes <= bound);
	assert_int_equal(a->successes, a->victim_matches);
	/* Only evaluated failures can cost an offer an attempt. */
	assert_true(a->attempts_seen <= no_match);
	assert_true(rate_limited > 10 * no_match);
	assert_int_equal(a->retry_after_bad, 0);
	/* The plugin counts the same. */
	assert_int_equal(st.failed, (long long)no_match);
	assert_int_equal(st.rate_limited, (long long)rate_limited);
	assert_int_equal(st.errors_dropped, 0);
	assert_true(st.limiters <= BF_ATTACKERS && st.address_limiters <= BF_ADDRESSES);
	check_rss(f, rss0, "under brute force");
	free(a);
}

static const char *own_address(size_t i)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "127.0.0.%zu", 10 + i);
	return buf;
}

/*
 * Attackers on 40 addresses, each within its own limits, exhaust the limit
 * for all claimers together. The failures evaluated stay within the bound
 * (the limit, plus at most one per terminal that had none when it was
 * reached), the attackers are then refused, and honest terminals, which
 * have no failures, still exchange: their claims are evaluated. Exchanges
 * matched before go on. The operator is warned.
 */
static void test_brute_force_total(void **state)
{
	fx *f = *state;
	struct attack *a = calloc(1, sizeof(*a));
	cl *h0, *h1, *h2, *h3;
	char key[7], xid[CX_XID_HEX + 1];
	unsigned layout[40], fmax;
	uint64_t no_match, rate_limited;
	long long deadline;
	stats st;

	assert_non_null(a);
	fx_start(f, "plugin_opt_claim_failures_per_min 3\nplugin_opt_claim_failures_per_min_per_address 3\n"
			"plugin_opt_claim_failures_per_min_total 50\nplugin_opt_error_replies_per_sec 100000\n"
			"plugin_opt_stats_interval 1\n", NULL);
	for(size_t i = 0; i < 40; i++){
		layout[i] = 1;
	}
	fmax = failure_bound(layout, 40, 3, 3, 50);
	f->dctx = a;
	f->drive = drive_attack;
	a->period_ms = 20 * slowdown;
	start_victims(f, a, 0, 20);
	h0 = terminal(f, 100, NULL);
	h1 = terminal(f, 101, NULL);
	h2 = terminal(f, 102, NULL);
	h3 = terminal(f, 103, NULL);
	/* An exchange matched before the attack. */
	random_key(f, key);
	offer(h0, key, "before");
	claim_match(h0, h1, key, xid);
	start_attackers(f, a, 40, 40, own_address);

	a->on = true;
	deadline = cxb_now_ms() + 10000 * slowdown;
	do{
		pump(f, 100);
		no_match = sum_code(a->attackers, a->nattackers, CX_CODE_NO_MATCH);
	}while(no_match < 50 && cxb_now_ms() < deadline);
	assert_true(no_match >= 50);
	/* The window is full and the attack goes on: honest terminals exchange all the same. */
	for(int round = 0; round < 4; round++){
		honest_exchange(f, round % 2 ? h2 : h3, round % 2 ? h3 : h2);
		pump(f, 200);
	}
	a->on = false;
	pump(f, 300);
	/* Cards are not claims: the exchange matched before completes. */
	send_card(h0, h1, xid, card_a);
	send_card(h1, h0, xid, card_b);

	no_match = sum_code(a->attackers, a->nattackers, CX_CODE_NO_MATCH);
	rate_limited = sum_code(a->attackers, a->nattackers, CX_CODE_RATE_LIMITED);
	fprintf(stderr, "total limit: %" PRIu64 " failures evaluated (bound min(40 x 3, 40 x 3 + 40, 50 + 40) = %u), "
			"%" PRIu64 " successes, %" PRIu64 " refused rate-limited\n", no_match, fmax, a->successes,
			rate_limited);
	assert_true(no_match >= 50 && no_match <= fmax);
	assert_true(a->successes <= success_bound(fmax, 1.0 / (1e6 - 2), 1e-9));
	assert_true(rate_limited > 2 * no_match);
	assert_int_equal(a->retry_after_bad, 0);

	fresh_stats(f, &st);
	assert_int_equal(st.failed, (long long)no_match);
	assert_int_equal(st.total_failures, (long long)no_match);
	assert_true(log_count(f, "cardex: limit claim_failures_per_min_total (50) reached") >= 1);
	free(a);
}

/* Attackers layout of test_shared_address: all on one address, with the honest terminals. */
#define SA_ATTACKERS 8
#define SA_PER_TERMINAL 4
#define SA_PER_ADDRESS 10
#define SA_ADDRESS "127.0.0.30"

static const char *shared_address(size_t i)
{
	(void)i;
	return SA_ADDRESS;
}

/*
 * Attackers and honest terminals behind one address (a NAT in a crowded
 * hall): the attackers fill the address's window within moments and are
 * throttled, but every honest exchange, claims from that same address
 * included, completes; the failures evaluated stay within the bound.
 */
static void test_shared_address(void **state)
{
	fx *f = *state;
	struct attack *a = calloc(1, sizeof(*a));
	cl *honest[4];
	char opts[512];
	unsigned layout[1] = {SA_ATTACKERS}, fmax;
	uint64_t no_match, rate_limited;
	long long start, took, worst = 0;
	int exchanges = 0;
	stats st;

	assert_non_null(a);
	snprintf(opts, sizeof(opts),
			"plugin_opt_claim_failures_per_min %d\nplugin_opt_claim_failures_per_min_per_address %d\n"
			"plugin_opt_error_replies_per_sec 100000\nplugin_opt_stats_interval 1\n",
			SA_PER_TERMINAL, SA_PER_ADDRESS);
	fx_start(f, opts, NULL);
	fmax = failure_bound(layout, 1, SA_PER_TERMINAL, SA_PER_ADDRESS, 1000);
	f->dctx = a;
	f->drive = drive_attack;
	a->period_ms = 10 * slowdown;
	start_victims(f, a, 0, 10);
	for(size_t i = 0; i < 4; i++){
		honest[i] = terminal(f, 100 + i, SA_ADDRESS);
	}
	start_attackers(f, a, 40, SA_ATTACKERS, shared_address);

	a->on = true;
	start = cxb_now_ms();
	while(cxb_now_ms() - start < 4000){
		took = honest_exchange(f, honest[exchanges % 4], honest[(exchanges + 1) % 4]);
		worst = took > worst ? took : worst;
		exchanges++;
		pump(f, 200);
	}
	a->on = false;
	pump(f, 300);
	no_match = sum_code(a->attackers, a->nattackers, CX_CODE_NO_MATCH);
	rate_limited = sum_code(a->attackers, a->nattackers, CX_CODE_RATE_LIMITED);
	fprintf(stderr, "shared address: %d attackers and 4 honest terminals on %s; %d honest exchanges, worst "
			"%lld ms; %" PRIu64 " failures evaluated (bound min(%d x %d, %d + %d) = %u), %" PRIu64
			" refused rate-limited, %" PRIu64 " successes\n", SA_ATTACKERS, SA_ADDRESS, exchanges, worst,
			no_match, SA_ATTACKERS, SA_PER_TERMINAL, SA_PER_ADDRESS, SA_ATTACKERS, fmax, rate_limited,
			a->successes);
	assert_true(exchanges >= 4);
	for(size_t i = 0; i < 4; i++){
		assert_int_equal(honest[i]->by_code[CX_CODE_RATE_LIMITED], 0);
		assert_int_equal(honest[i]->by_code[CX_CODE_NO_MATCH], 0);
	}
	assert_true(no_match >= SA_PER_ADDRESS && no_match <= fmax);
	assert_true(rate_limited > 10 * no_match);
	assert_int_equal(a->retry_after_bad, 0);
	fresh_stats(f, &st);
	assert_int_equal(st.failed, (long long)no_match);
	assert_int_equal(st.address_limiters, 1);
	free(a);
}

/* Publishes a claim of c on owner's offer with key and ref (QoS 1). */
static void claim_with(cl *c, const char *owner, const char *key, const char *ref)
{
	char t[128], payload[128];

	snprintf(t, sizeof(t), "claim/%s", owner);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ref\":\"%s\"}", key, ref);
	publish_str(c, t, payload);
}

/* Proxy layout of test_proxy_address: a reverse proxy's address and a plain one. */
#define PX_PROXY "127.0.0.40"
#define PX_PLAIN "127.0.0.41"
#define PX_TERMINALS 4

/* A claim of c on owner (who offers nothing) with the n-th wrong key: a new claim each time, never a resend. */
static void px_claim(cl *c, cl *owner, unsigned n)
{
	char key[7], ref[16];

	snprintf(key, sizeof(key), "%06u", n);
	snprintf(ref, sizeof(ref), "px%u", n);
	claim_with(c, owner->id, key, ref);
}

/*
 * Terminals behind a reverse proxy (plugin_opt_proxy_addresses) all have
 * its address: the per-address window is not theirs to share, so each gets
 * its own failures evaluated, far beyond the address limit, while the
 * per-terminal limit still refuses each one at its own count. Terminals on
 * an address that is not a proxy still share its window.
 */
static void test_proxy_address(void **state)
{
	fx *f = *state;
	cl *owner, *px[PX_TERMINALS], *plain[2];
	unsigned k = 0;
	stats st;

	fx_start(f, "plugin_opt_claim_failures_per_min 2\nplugin_opt_claim_failures_per_min_per_address 3\n"
			"plugin_opt_proxy_addresses ::1, " PX_PROXY " 10.0.0.0/8\n"
			"plugin_opt_error_replies_per_sec 100000\nplugin_opt_stats_interval 1\n", NULL);
	assert_true(log_count(f, "cardex: proxy_addresses | 3 networks") == 1);
	owner = terminal(f, 100, NULL);
	for(size_t i = 0; i < PX_TERMINALS; i++){
		px[i] = terminal(f, 101 + i, PX_PROXY);
	}
	plain[0] = terminal(f, 110, PX_PLAIN);
	plain[1] = terminal(f, 111, PX_PLAIN);

	/* 8 failures from the proxy's address, 3 allowed per address: each terminal has its 2. */
	for(size_t i = 0; i < PX_TERMINALS; i++){
		for(int n = 0; n < 2; n++){
			px_claim(px[i], owner, k++);
			expect_error_code(px[i], CX_CODE_NO_MATCH);
		}
		px_claim(px[i], owner, k++);
		expect_error_code(px[i], CX_CODE_RATE_LIMITED);
	}
	/* On a plain address the third failure fills the window, and the other terminal is refused. */
	for(int n = 0; n < 2; n++){
		px_claim(plain[0], owner, k++);
		expect_error_code(plain[0], CX_CODE_NO_MATCH);
	}
	px_claim(plain[1], owner, k++);
	expect_error_code(plain[1], CX_CODE_NO_MATCH);
	px_claim(plain[1], owner, k++);
	expect_error_code(plain[1], CX_CODE_RATE_LIMITED);

	fresh_stats(f, &st);
	assert_int_equal(st.total_failures, 2 * PX_TERMINALS + 3);
	assert_int_equal(st.address_limiters, 1);
}

/* Disconnects c and connects a new client of the same terminal in its place. */
static cl *reconnect(fx *f, cl *c, size_t account)
{
	long long deadline = cxb_now_ms() + WAIT_MS;

	mosquitto_disconnect(c->m);
	while(c->connected && cxb_now_ms() < deadline){
		pump_once(f, 5);
	}
	assert_false(c->connected);
	return terminal(f, account, NULL);
}

/*
 * A claim resent after a reconnect, as clients do when they got no answer,
 * is answered like the first and is not counted twice: neither a second
 * failure nor a second attempt gone from the offer; a resent matching claim
 * gets its match again, and the owner hears of the match once.
 */
static void test_claim_resent_after_reconnect(void **state)
{
	fx *f = *state;
	cl *a, *b;
	char key[7], wrong[7], xid[CX_XID_HEX + 1];
	cx_reply_msg m;
	stats st;

	fx_start(f, "plugin_opt_stats_interval 1\n", NULL);
	a = terminal(f, 100, NULL);
	b = terminal(f, 101, NULL);
	random_key(f, key);
	snprintf(wrong, sizeof(wrong), "%06u", (unsigned)(strtoul(key, NULL, 10) + 1) % 1000000u);
	offer(a, key, "ra");

	claim_with(b, a->id, wrong, "r1");
	expect_error_code(b, CX_CODE_NO_MATCH);
	expect_type(a, &m, CX_REPLY_ATTEMPT);
	assert_int_equal(m.attempts_left, 2);
	cx_reply_msg_clear(&m);
	b = reconnect(f, b, 101);
	claim_with(b, a->id, wrong, "r1");
	expect_error_code(b, CX_CODE_NO_MATCH);

	claim_with(b, a->id, key, "r2");
	expect_type(b, &m, CX_REPLY_MATCH);
	memcpy(xid, m.xid, sizeof(xid));
	cx_reply_msg_clear(&m);
	expect_type(a, &m, CX_REPLY_MATCH);
	assert_string_equal(m.xid, xid);
	cx_reply_msg_clear(&m);
	b = reconnect(f, b, 101);
	claim_with(b, a->id, key, "r2");
	expect_type(b, &m, CX_REPLY_MATCH);
	assert_string_equal(m.xid, xid);
	assert_string_equal(m.peer, a->id);
	assert_string_equal(m.ref, "r2");
	cx_reply_msg_clear(&m);
	pump(f, 300);
	/* The owner heard of one wrong key and one match, nothing more. */
	assert_int_equal(a->qlen, 0);
	assert_int_equal(a->by_type[CX_REPLY_ATTEMPT], 1);
	assert_int_equal(a->by_type[CX_REPLY_MATCH], 1);
	send_card(a, b, xid, card_a);
	send_card(b, a, xid, card_b);
	fresh_stats(f, &st);
	assert_int_equal(st.evaluated, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.repeated, 2);
}

/* ---- a raw MQTT 3.1.1 connection, for packets libmosquitto does not send ---- */

#define RAW_MAX 4096

typedef struct {
	int fd;
	unsigned char type;       /* of the last packet read: its first byte */
	unsigned char body[RAW_MAX];
	size_t len;
	cx_reply_msg replies[8];  /* the first PUBLISH packets received (QoS 0), decoded */
	size_t nreplies;
	uint64_t by_type[CX_REPLY_ERROR + 1]; /* every PUBLISH received, by reply type */
} raw;

static void raw_write(raw *r, const unsigned char *p, size_t n)
{
	while(n > 0){
		ssize_t w = write(r->fd, p, n);
		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

/* Writes a packet: first byte, remaining length, body. */
static void raw_packet(raw *r, unsigned char first, const unsigned char *body, size_t n)
{
	unsigned char head[5];
	size_t h = 0, rem = n;

	head[h++] = first;
	do{
		head[h] = (unsigned char)(rem % 128);
		rem /= 128;
		head[h++] |= rem > 0 ? 0x80 : 0;
	}while(rem > 0);
	raw_write(r, head, h);
	raw_write(r, body, n);
}

static size_t put_str(unsigned char *p, const char *s)
{
	size_t n = strlen(s);

	p[0] = (unsigned char)(n >> 8);
	p[1] = (unsigned char)n;
	memcpy(p + 2, s, n);
	return n + 2;
}

static bool raw_read_full(raw *r, unsigned char *p, size_t n, long long deadline)
{
	while(n > 0){
		struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
		int left = (int)(deadline - cxb_now_ms());
		ssize_t got;

		if(left < 0 || poll(&pfd, 1, left) <= 0){
			return false;
		}
		got = read(r->fd, p, n);
		if(got <= 0){
			fprintf(stderr, "raw connection: %s\n", got == 0 ? "closed by the broker" : strerror(errno));
			fail();
		}
		p += got;
		n -= (size_t)got;
	}
	return true;
}

/*
 * Reads packets until one whose first byte is want arrives within
 * timeout_ms (true), decoding every PUBLISH on the way into r->replies.
 * want 0: read until the time is up, and return true.
 */
static bool raw_until(raw *r, unsigned char want, int timeout_ms)
{
	long long deadline = cxb_now_ms() + timeout_ms;

	for(;;){
		unsigned char b;
		size_t rem = 0, mult = 1;
		long long packet_deadline;

		if(!raw_read_full(r, &r->type, 1, deadline)){
			return want == 0;
		}
		/* A packet begun is read to its end. */
		packet_deadline = cxb_now_ms() + WAIT_MS;
		do{
			assert_true(raw_read_full(r, &b, 1, packet_deadline));
			rem += (size_t)(b & 0x7f) * mult;
			mult *= 128;
		}while(b & 0x80);
		assert_true(rem <= RAW_MAX);
		assert_true(raw_read_full(r, r->body, rem, packet_deadline));
		r->len = rem;
		if((r->type & 0xf0) == 0x30){
			size_t tl = (size_t)r->body[0] << 8 | r->body[1];
			const char *why = NULL;
			cx_reply_msg m;

			assert_true(2 + tl <= rem);
			memset(&m, 0, sizeof(m));
			assert_int_equal(cx_reply_decode((const char *)r->body + 2 + tl, rem - 2 - tl, &m, &why), CX_CODE_NONE);
			r->by_type[m.type]++;
			if(r->nreplies < 8){
				r->replies[r->nreplies++] = m;
			}else{
				cx_reply_msg_clear(&m);
			}
		}
		if(want != 0 && r->type == want){
			return true;
		}
	}
}

/*
 * Connects account i of the fixture (clean session, client ID client_id,
 * NULL: the terminal ID) and subscribes to its reply topic at QoS 0.
 */
static void raw_open_as(fx *f, raw *r, size_t i, const char *client_id)
{
	struct sockaddr_in sa;
	unsigned char body[256], topic[64];
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(r->fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)f->b.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n += put_str(body + n, "MQTT");
	body[n++] = 4;    /* 3.1.1 */
	body[n++] = 0xc2; /* username, password, clean session */
	body[n++] = 0;
	body[n++] = 60;   /* keepalive */
	n += put_str(body + n, client_id != NULL ? client_id : f->ids[i]);
	n += put_str(body + n, f->ids[i]);
	n += put_str(body + n, f->passwords[i]);
	raw_packet(r, 0x10, body, n);
	assert_true(raw_until(r, 0x20, WAIT_MS));
	assert_int_equal(r->len, 2);
	assert_int_equal(r->body[1], 0);
	snprintf((char *)topic, sizeof(topic), "reply/%s", f->ids[i]);
	n = 0;
	body[n++] = 0;
	body[n++] = 1;
	n += put_str(body + n, (const char *)topic);
	body[n++] = 0;
	raw_packet(r, 0x82, body, n);
	assert_true(raw_until(r, 0x90, WAIT_MS));
}

static void raw_open(fx *f, raw *r, size_t i)
{
	raw_open_as(f, r, i, NULL);
}

/* PUBLISH at QoS 2 with packet ID pid, DUP set or not. */
static void raw_publish_qos2(raw *r, const char *topic, const char *payload, uint16_t pid, bool dup)
{
	unsigned char body[512];
	size_t n = put_str(body, topic), pl = strlen(payload);

	body[n++] = (unsigned char)(pid >> 8);
	body[n++] = (unsigned char)pid;
	memcpy(body + n, payload, pl);
	raw_packet(r, (unsigned char)(0x34 | (dup ? 0x08 : 0)), body, n + pl);
}

/*
 * One QoS 2 claim as a client resending it before PUBREL does: PUBLISH,
 * PUBREC, the same PUBLISH again with DUP and the same packet ID, PUBREC,
 * PUBREL, PUBCOMP.
 */
static void raw_claim_qos2_twice(raw *r, const char *owner, const char *key, const char *ref, uint16_t pid)
{
	char topic[128], payload[128];
	unsigned char pubrel[2] = {(unsigned char)(pid >> 8), (unsigned char)pid};

	snprintf(topic, sizeof(topic), "claim/%s", owner);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ref\":\"%s\"}", key, ref);
	raw_publish_qos2(r, topic, payload, pid, false);
	assert_true(raw_until(r, 0x50, WAIT_MS));
	raw_publish_qos2(r, topic, payload, pid, true);
	assert_true(raw_until(r, 0x50, WAIT_MS));
	assert_int_equal(r->body[0] << 8 | r->body[1], pid);
	raw_packet(r, 0x62, pubrel, 2);
	assert_true(raw_until(r, 0x70, WAIT_MS));
}

static void raw_close(raw *r)
{
	for(size_t i = 0; i < r->nreplies; i++){
		cx_reply_msg_clear(&r->replies[i]);
	}
	if(r->fd >= 0){
		close(r->fd);
	}
	r->fd = -1;
}

/*
 * Mosquitto 2.0.11 hands a QoS 2 PUBLISH resent with DUP and the same packet
 * ID before PUBREL to the plugin again (its duplicate check comes after the
 * MESSAGE event). The copy is answered like the first, neither evaluated
 * nor counted: one failure and one attempt for a wrong key, one match for
 * the owner for the right one.
 */
static void test_qos2_duplicate(void **state)
{
	fx *f = *state;
	raw r;
	cl *a;
	char key[7], wrong[7];
	cx_reply_msg m;
	stats st;

	fx_start(f, "plugin_opt_stats_interval 1\n", NULL);
	a = terminal(f, 100, NULL);
	random_key(f, key);
	snprintf(wrong, sizeof(wrong), "%06u", (unsigned)(strtoul(key, NULL, 10) + 1) % 1000000u);
	offer(a, key, "ra");
	raw_open(f, &r, 101);

	raw_claim_qos2_twice(&r, a->id, wrong, "q1", 7);
	assert_true(raw_until(&r, 0, 300 * slowdown));
	assert_int_equal(r.nreplies, 2);
	for(size_t i = 0; i < 2; i++){
		assert_int_equal(r.replies[i].type, CX_REPLY_ERROR);
		assert_int_equal(r.replies[i].code, CX_CODE_NO_MATCH);
		assert_string_equal(r.replies[i].ref, "q1");
	}
	expect_type(a, &m, CX_REPLY_ATTEMPT);
	assert_int_equal(m.attempts_left, 2);
	cx_reply_msg_clear(&m);

	raw_claim_qos2_twice(&r, a->id, key, "q2", 8);
	assert_true(raw_until(&r, 0, 300 * slowdown));
	assert_int_equal(r.nreplies, 4);
	for(size_t i = 2; i < 4; i++){
		assert_int_equal(r.replies[i].type, CX_REPLY_MATCH);
		assert_string_equal(r.replies[i].ref, "q2");
		assert_string_equal(r.replies[i].peer, a->id);
	}
	assert_string_equal(r.replies[2].xid, r.replies[3].xid);
	expect_type(a, &m, CX_REPLY_MATCH);
	assert_string_equal(m.xid, r.replies[2].xid);
	cx_reply_msg_clear(&m);
	pump(f, 200);
	assert_int_equal(a->qlen, 0);

	fresh_stats(f, &st);
	assert_int_equal(st.evaluated, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.repeated, 2);
	raw_close(&r);
}

/* ---- timing ---- */

#define TIMING_CLAIMS 300 /* per kind */
#define TIMING_WARMUP 20
#define TIMING_OWNER_CONNECTIONS 16
#define TIMING_ATTEMPTS 100

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *x, const void *y)
{
	long long a = *(const long long *)x, b = *(const long long *)y;

	return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted v[0..n). */
static long long pct(const long long *v, size_t n, unsigned p)
{
	size_t k = (n * p + 99) / 100;

	return v[k > 0 ? k - 1 : 0];
}

/*
 * How often a latency of x exceeds one of y (ties count half): 0.5 when a
 * single latency tells nothing about which kind it came from, 1 or 0 when it
 * always tells (the Mann-Whitney statistic over n * n pairs).
 */
static double prob_greater(const long long *x, const long long *y, size_t n)
{
	double wins = 0;

	for(size_t i = 0; i < n; i++){
		for(size_t j = 0; j < n; j++){
			wins += x[i] > y[j] ? 1.0 : x[i] == y[j] ? 0.5 : 0.0;
		}
	}
	return wins / ((double)n * (double)n);
}

/* One claim of b on owner's offer with a wrong key; returns microseconds until b's no-match. */
static long long timed_claim(fx *f, cl *b, const char *owner, const char *live_key, unsigned i)
{
	char t[128], payload[128], key[7];
	long long start, took;
	cx_reply_msg m;

	do{
		random_key(f, key);
	}while(strcmp(key, live_key) == 0);
	snprintf(t, sizeof(t), "claim/%s", owner);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ref\":\"t%u\"}", key, i);
	start = now_us();
	publish(b, t, payload, strlen(payload), 0);
	while(b->qlen == 0 && now_us() - start < (long long)WAIT_MS * 1000){
		pump_once(f, 5);
	}
	took = now_us() - start;
	next_reply_within(b, &m, 0);
	assert_int_equal(m.type, CX_REPLY_ERROR);
	assert_int_equal(m.code, CX_CODE_NO_MATCH);
	cx_reply_msg_clear(&m);
	return took;
}

/*
 * The owner's side between two timed claims: reads the notices of all its
 * connections until the first has heard of `notices` wrong keys (attempt,
 * or revoked when the offer burned), and offers again, and waits for the
 * offer to be taken, once one burned.
 */
static void owner_keep_offer(fx *f, raw *owners, char key[7], uint64_t *revoked_seen, uint64_t notices)
{
	long long deadline = cxb_now_ms() + WAIT_MS;
	char topic[64], payload[96];
	raw *owner = &owners[0];

	/* The notices come some 10 to 100 ms later: waited for only when the offer may have burned. */
	raw_until(owner, 0, 0);
	while(notices % TIMING_ATTEMPTS == 0 && notices > 0
			&& owner->by_type[CX_REPLY_ATTEMPT] + owner->by_type[CX_REPLY_REVOKED] - 1 < notices
			&& cxb_now_ms() < deadline){
		raw_until(owner, 0, 1);
	}
	for(size_t k = 1; k < TIMING_OWNER_CONNECTIONS; k++){
		raw_until(&owners[k], 0, 0);
	}
	if(owner->by_type[CX_REPLY_REVOKED] == *revoked_seen){
		return;
	}
	*revoked_seen = owner->by_type[CX_REPLY_REVOKED];
	random_key(f, key);
	snprintf(topic, sizeof(topic), "keys/%s", f->ids[0]);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600}", key);
	{
		unsigned char body[256];
		size_t n = put_str(body, topic), pl = strlen(payload);

		memcpy(body + n, payload, pl);
		raw_packet(owner, 0x30, body, n + pl);
	}
	while(owner->by_type[CX_REPLY_OFFER] < *revoked_seen && cxb_now_ms() < deadline){
		raw_until(owner, 0, 1);
	}
	assert_int_equal(owner->by_type[CX_REPLY_OFFER], *revoked_seen);
}

/*
 * no-match must not tell whether an offer exists: wrong claims on a terminal
 * with a live offer (its owner online, told of every attempt) and on one
 * without, interleaved so that the machine's load falls on both alike,
 * with the limits raised for the measurement. The owner is online with
 * several connections, each of which gets every notice: any work the broker
 * does for the notice before the claimer's answer shows many times over
 * (with the notice sent first, P(live > none) is about 1). They are raw
 * connections read between claims only, so that the claimer's clock
 * measures the broker, not this process reading the owner's notices. Both
 * latency distributions are printed; a single latency must not tell the two
 * apart (Mann-Whitney: P(live > none) near 0.5), and the medians must be
 * close.
 */
static void test_no_match_timing(void **state)
{
	fx *f = *state;
	long long *live = calloc(TIMING_CLAIMS, sizeof(*live)), *none = calloc(TIMING_CLAIMS, sizeof(*none));
	uint64_t revoked_seen = 0, notices = 0;
	char key[7] = "";
	double auc, ratio;
	raw owner[TIMING_OWNER_CONNECTIONS];
	char cid[32];
	cl *b;

	assert_non_null(live);
	assert_non_null(none);
	fx_start(f, "plugin_opt_attempts 100\nplugin_opt_claim_failures_per_min 10000\n"
			"plugin_opt_claim_failures_per_min_per_address 1000000\n"
			"plugin_opt_claim_failures_per_min_total 100000000\nplugin_opt_error_replies_per_sec 100000\n"
			/* The owner holds a session per connection. */
			"plugin_opt_max_sessions_per_terminal 64\n",
			NULL);
	for(size_t k = 0; k < TIMING_OWNER_CONNECTIONS; k++){
		snprintf(cid, sizeof(cid), "%s:%zu", f->ids[0], k);
		raw_open_as(f, &owner[k], 0, cid);
	}
	owner[0].by_type[CX_REPLY_REVOKED] = 1; /* makes the first call offer */
	owner_keep_offer(f, owner, key, &revoked_seen, 0);
	/* Without TCP_NODELAY every reply waits for a delayed ACK, some 40 ms. */
	b = cl_new(f, 101, NULL);
	b->queue = true;
	assert_int_equal(mosquitto_int_option(b->m, MOSQ_OPT_TCP_NODELAY, 1), MOSQ_ERR_SUCCESS);
	cl_connect_all(f, &b, 1, NULL);
	for(unsigned i = 0; i < TIMING_WARMUP; i++){
		timed_claim(f, b, i % 2 ? "t0" : "t2", key, 10000 + i);
		notices += i % 2;
		owner_keep_offer(f, owner, key, &revoked_seen, notices);
	}
	for(unsigned i = 0; i < 2 * TIMING_CLAIMS; i++){
		/* L N N L L N N L ...: each kind as often first as second, and after either kind. */
		bool is_live = (i % 4 == 0) || (i % 4 == 3);
		long long took = timed_claim(f, b, is_live ? "t0" : "t2", key, i);

		if(is_live){
			live[i / 2] = took;
			notices++;
		}else{
			none[i / 2] = took;
		}
		owner_keep_offer(f, owner, key, &revoked_seen, notices);
	}
	/* Every notice arrives in the end. */
	for(long long deadline = cxb_now_ms() + WAIT_MS; owner[0].by_type[CX_REPLY_ATTEMPT]
			+ owner[0].by_type[CX_REPLY_REVOKED] - 1 < notices && cxb_now_ms() < deadline;){
		raw_until(&owner[0], 0, 10);
	}
	auc = prob_greater(live, none, TIMING_CLAIMS);
	qsort(live, TIMING_CLAIMS, sizeof(*live), cmp_ll);
	qsort(none, TIMING_CLAIMS, sizeof(*none), cmp_ll);
	ratio = (double)pct(live, TIMING_CLAIMS, 50) / (double)pct(none, TIMING_CLAIMS, 50);
	fprintf(stderr, "no-match latency (us, %d claims each, p10 / p50 / p90 / p99): live offer %lld / %lld / %lld / "
			"%lld, no offer %lld / %lld / %lld / %lld; median ratio %.3f; P(live > none) %.3f; the owner was "
			"told of %" PRIu64 " attempts and %" PRIu64 " burned offers on each of %d connections%s\n", TIMING_CLAIMS,
			pct(live, TIMING_CLAIMS, 10), pct(live, TIMING_CLAIMS, 50), pct(live, TIMING_CLAIMS, 90),
			pct(live, TIMING_CLAIMS, 99), pct(none, TIMING_CLAIMS, 10), pct(none, TIMING_CLAIMS, 50),
			pct(none, TIMING_CLAIMS, 90), pct(none, TIMING_CLAIMS, 99), ratio, auc,
			owner[0].by_type[CX_REPLY_ATTEMPT], owner[0].by_type[CX_REPLY_REVOKED] - 1, TIMING_OWNER_CONNECTIONS,
			cxb_instrumented() ? " [instrumented: not judged]" : "");
	/* Every wrong key on the live offer reached its owner: the two kinds really differ inside. */
	assert_int_equal(owner[0].by_type[CX_REPLY_ATTEMPT] + owner[0].by_type[CX_REPLY_REVOKED] - 1, notices);
	if(!cxb_instrumented()){
		assert_true(auc > 0.35 && auc < 0.65);
		assert_true(ratio > 0.75 && ratio < 1.33);
	}
	for(size_t k = 0; k < TIMING_OWNER_CONNECTIONS; k++){
		raw_close(&owner[k]);
	}
	free(live);
	free(none);
}

/* ---- floods ---- */

struct flood {
	cl *flooder;
	bool on;
	unsigned next;              /* round-robin over the kinds */
	uint64_t sent[16];          /* per kind */
	uint64_t total;
	char *big;                  /* an oversized payload */
	size_t biglen;
	char *deep;                 /* deeply nested JSON within the size limit */
	size_t deeplen;
	char *deep_card;
	size_t deep_cardlen;
	const char *victim;         /* a terminal ID the flooder aims at */
	unsigned ghost;             /* counter for IDs that never existed */
};

enum {
	FK_OFFER,        /* keys/<own>: valid offers, each replacing the last */
	FK_OTHER_KEYS,   /* keys/<other>: bad-topic */
	FK_GHOST_CLAIM,  /* claim/<never existed>: no-match, then rate-limited */
	FK_CARD,         /* card/<other> with an exchange that does not exist */
	FK_REPLY,        /* reply/<other>: bad-topic */
	FK_BAD_LEVELS,   /* "claim/", "keys/a/b": bad-topic */
	FK_TOO_LARGE,    /* above max_payload: too-large, unparsed */
	FK_DEEP,         /* deeply nested JSON offer: bad-request */
	FK_DEEP_CARD,    /* deeply nested card: bad-request or bad-card */
	FK_NOT_JSON,     /* claim that is not JSON: bad-request */
	FK_COUNT
};

/* The flooder publishes QoS 0 as fast as its socket takes it, over every kind in turn. */
static void drive_flood(fx *f)
{
	struct flood *fl = f->dctx;
	cl *c = fl->flooder;
	char t[128], payload[128], key[7];

	if(!fl->on){
		return;
	}
	for(int burst = 0; burst < 256 && !mosquitto_want_write(c->m); burst++){
		unsigned kind = fl->next++ % FK_COUNT;

		switch(kind){
		case FK_OFFER:
			random_key(f, key);
			snprintf(t, sizeof(t), "keys/%s", c->id);
			snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600}", key);
			publish(c, t, payload, strlen(payload), 0);
			break;
		case FK_OTHER_KEYS:
			snprintf(t, sizeof(t), "keys/%s", fl->victim);
			publish(c, t, "{\"key\":\"123456\"}", 16, 0);
			break;
		case FK_GHOST_CLAIM:
			snprintf(t, sizeof(t), "claim/ghost-%u", fl->ghost++);
			publish(c, t, "{\"key\":\"123456\"}", 16, 0);
			break;
		case FK_CARD:
			snprintf(t, sizeof(t), "card/%s", fl->victim);
			snprintf(payload, sizeof(payload), "{\"exchange\":\"%032x\",\"card\":%s}", rnd(f), card_a);
			publish(c, t, payload, strlen(payload), 0);
			break;
		case FK_REPLY:
			snprintf(t, sizeof(t), "reply/%s", fl->victim);
			publish(c, t, "{\"type\":\"match\"}", 16, 0);
			break;
		case FK_BAD_LEVELS:
			publish(c, fl->sent[kind] % 2 ? "claim/" : "keys/a/b", "{}", 2, 0);
			break;
		case FK_TOO_LARGE:
			snprintf(t, sizeof(t), "keys/%s", c->id);
			publish(c, t, fl->big, fl->biglen, 0);
			break;
		case FK_DEEP:
			snprintf(t, sizeof(t), "keys/%s", c->id);
			publish(c, t, fl->deep, fl->deeplen, 0);
			break;
		case FK_DEEP_CARD:
			snprintf(t, sizeof(t), "card/%s", fl->victim);
			publish(c, t, fl->deep_card, fl->deep_cardlen, 0);
			break;
		default:
			snprintf(t, sizeof(t), "claim/%s", fl->victim);
			publish(c, t, "not json at all", 15, 0);
			break;
		}
		fl->sent[kind]++;
		fl->total++;
	}
}

/* "<head>" followed by depth '[' and depth ']' and "<tail>", malloc'ed. */
static char *nested(const char *head, size_t depth, const char *tail, size_t *len)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = malloc(hl + 2 * depth + tl + 1);

	assert_non_null(s);
	memcpy(s, head, hl);
	memset(s + hl, '[', depth);
	memset(s + hl + depth, ']', depth);
	memcpy(s + hl + 2 * depth, tail, tl + 1);
	*len = hl + 2 * depth + tl;
	return s;
}

static void flood_free(struct flood *fl)
{
	free(fl->big);
	free(fl->deep);
	free(fl->deep_card);
	free(fl);
}

/*
 * One terminal floods every kind of namespace publish as fast as it can.
 * Honest exchanges between others complete within the bound meanwhile; the
 * flooder gets at most one error per refused message, only on its own reply
 * topic and within its error budget; nobody else gets anything; the
 * plugin's tables and the broker's memory stay bounded.
 */
static void test_flood_every_topic(void **state)
{
	fx *f = *state;
	struct flood *fl = calloc(1, sizeof(*fl));
	cl *h[4], *watcher;
	long long start, end, took, worst = 0, rss0;
	uint64_t errors, refused, seconds;
	unsigned exchanges = 0;
	int fd;
	char extra[128];
	stats st;

	assert_non_null(fl);
	/* An acl_file granting everything, so that the watcher's "#" is accepted: only the plugin protects. */
	snprintf(f->aclfile, sizeof(f->aclfile), "/tmp/cardex-acl-XXXXXX");
	fd = mkstemp(f->aclfile);
	assert_true(fd >= 0);
	assert_true(write(fd, "pattern readwrite #\n", 20) == 20);
	close(fd);
	chmod(f->aclfile, 0644);
	snprintf(extra, sizeof(extra), "acl_file %s\n", f->aclfile);
	fx_start(f, "plugin_opt_max_payload 4096\nplugin_opt_stats_interval 1\n", extra);

	fl->big = malloc(5000);
	assert_non_null(fl->big);
	memset(fl->big, ' ', 5000);
	memcpy(fl->big, "{\"key\":\"123456\"}", 16);
	fl->biglen = 5000;
	fl->deep = nested("{\"key\":", 2000, "}", &fl->deeplen);
	fl->deep_card = nested("{\"exchange\":\"0123456789abcdef0123456789abcdef\",\"card\":[\"vcard\",", 1900, "]}",
			&fl->deep_cardlen);
	for(size_t i = 0; i < 4; i++){
		h[i] = terminal(f, 100 + i, NULL);
	}
	watcher = terminal(f, 110, NULL);
	assert_int_equal(mosquitto_subscribe(watcher->m, NULL, "#", 0), MOSQ_ERR_SUCCESS);
	fl->flooder = terminal(f, 120, "127.0.0.2");
	fl->flooder->queue = false;
	fl->victim = h[3]->id;
	f->dctx = fl;
	f->drive = drive_flood;
	pump(f, 200);
	rss0 = cxb_rss_kb(&f->b);

	fl->on = true;
	start = cxb_now_ms();
	while(cxb_now_ms() - start < 4000){
		took = honest_exchange(f, h[exchanges % 2], h[2]);
		worst = took > worst ? took : worst;
		exchanges++;
	}
	fl->on = false;
	end = cxb_now_ms();
	pump(f, 1000);
	/* After the flood, too. */
	took = honest_exchange(f, h[0], h[1]);
	worst = took > worst ? took : worst;
	fresh_stats(f, &st);

	errors = fl->flooder->by_type[CX_REPLY_ERROR];
	refused = fl->total - fl->sent[FK_OFFER];
	seconds = (uint64_t)((end - start) / 1000) + 2;
	fprintf(stderr, "flood: %" PRIu64 " messages in %lld ms (%" PRIu64 " offers); flooder got %" PRIu64
			" errors, %" PRIu64 " offer and %" PRIu64 " revoked replies; %u honest exchanges meanwhile, "
			"worst %lld ms\n", fl->total, end - start, fl->sent[FK_OFFER], errors,
			fl->flooder->by_type[CX_REPLY_OFFER], fl->flooder->by_type[CX_REPLY_REVOKED], exchanges + 1, worst);
	assert_true(fl->total > 1000);
	/* No amplification: at most one error per refused message, within 20 per clock second. */
	assert_true(errors <= refused);
	assert_true(errors <= 20 * seconds);
	assert_true(fl->flooder->by_type[CX_REPLY_OFFER] <= fl->sent[FK_OFFER]);
	assert_true(fl->flooder->by_type[CX_REPLY_REVOKED] <= fl->sent[FK_OFFER]);
	assert_int_equal(fl->flooder->foreign, 0);
	assert_int_equal(fl->flooder->undecodable, 0);
	assert_true(st.errors_dropped > 0);
	/* Every refused message was answered or dropped, once: none twice. */
	assert_int_equal(st.errors_sent + st.errors_dropped, (long long)refused);
	/* Nobody else heard any of it. */
	assert_int_equal(watcher->foreign, 0);
	assert_int_equal(watcher->replies, 0);
	for(size_t i = 0; i < 4; i++){
		assert_int_equal(h[i]->foreign, 0);
		assert_int_equal(h[i]->by_type[CX_REPLY_ERROR], 0);
		assert_int_equal(h[i]->qlen, 0);
	}
	/* Bounded state: the flooder's one offer, its own windows. */
	assert_true(st.offers <= 1);
	assert_int_equal(st.exchanges, 0);
	assert_true(st.limiters <= 1 && st.address_limiters <= 1);
	assert_true(cxb_alive(&f->b));
	check_rss(f, rss0, "under a flood of every kind");
	flood_free(fl);
}

/*
 * Oversized payloads: a stream of 1 MiB publishes (max_payload is 64 KiB)
 * is refused unparsed and leaves the broker's memory where it was; one
 * beyond max_packet_size gets the flooder disconnected, and others go on.
 */
static void test_flood_oversized(void **state)
{
	fx *f = *state;
	cl *flooder, *h0, *h1;
	size_t big = 1024 * 1024, n = cxb_instrumented() ? 24 : 64;
	char *payload = malloc(3 * big);
	long long rss0, deadline;
	stats st;
	int rc;

	assert_non_null(payload);
	memset(payload, 'x', 3 * big);
	fx_start(f, "plugin_opt_stats_interval 1\n", "max_packet_size 2097152\n");
	h0 = terminal(f, 100, NULL);
	h1 = terminal(f, 101, NULL);
	flooder = terminal(f, 120, "127.0.0.2");
	flooder->queue = false;
	rss0 = cxb_rss_kb(&f->b);

	for(size_t i = 0; i < n; i++){
		publish(flooder, "keys/t120", payload, big, 0);
		deadline = cxb_now_ms() + WAIT_MS;
		while(mosquitto_want_write(flooder->m) && cxb_now_ms() < deadline){
			pump_once(f, 5);
		}
	}
	deadline = cxb_now_ms() + WAIT_MS;
	while(flooder->by_code[CX_CODE_TOO_LARGE] < 20 && cxb_now_ms() < deadline){
		pump_once(f, 5);
	}
	pump(f, 300);
	fprintf(stderr, "oversized: %zu publishes of %zu bytes, %" PRIu64 " too-large replies\n", n, big,
			flooder->by_code[CX_CODE_TOO_LARGE]);
	assert_true(flooder->by_code[CX_CODE_TOO_LARGE] >= 20);
	assert_true(flooder->by_type[CX_REPLY_ERROR] <= n);
	assert_int_equal(flooder->by_type[CX_REPLY_OFFER], 0);
	honest_exchange(f, h0, h1);
	check_rss(f, rss0, "after oversized payloads");

	/* Beyond max_packet_size the broker drops the connection; the plugin never
	 * sees it. libmosquitto writes the packet at once, so the publish itself may
	 * already meet the closed connection (and close its socket). */
	rc = mosquitto_publish(flooder->m, NULL, "keys/t120", (int)(3 * big), payload, 0, false);
	assert_true(rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO);
	deadline = cxb_now_ms() + WAIT_MS;
	while(flooder->connected && mosquitto_socket(flooder->m) >= 0 && cxb_now_ms() < deadline){
		pump_once(f, 5);
	}
	assert_true(!flooder->connected || mosquitto_socket(flooder->m) < 0);
	assert_true(cxb_log_contains(&f->b, "t120 disconnected due to oversize packet"));
	honest_exchange(f, h0, h1);
	fresh_stats(f, &st);
	assert_int_equal(st.offers, 0);
	free(payload);
}

/*
 * Thousands of offers replaced in a row: one offer is held whatever the
 * count, each replacement answers its sender only, and only the last key
 * matches.
 */
static void test_flood_offer_replacement(void **state)
{
	fx *f = *state;
	cl *a, *b;
	char t[128], payload[96], key[7], prev[7] = "", xid[CX_XID_HEX + 1];
	unsigned n = cxb_instrumented() ? 1000 : 3000;
	cx_reply_msg m;
	long long deadline, rss0;
	stats st;

	fx_start(f, "plugin_opt_stats_interval 1\n", NULL);
	a = terminal(f, 100, NULL);
	b = terminal(f, 101, NULL);
	a->queue = false;
	rss0 = cxb_rss_kb(&f->b);
	snprintf(t, sizeof(t), "keys/%s", a->id);
	for(unsigned i = 0; i < n; i++){
		memcpy(prev, key, sizeof(prev));
		random_key(f, key);
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600,\"ref\":\"o%u\"}", key, i);
		publish(a, t, payload, strlen(payload), 0);
		while(mosquitto_want_write(a->m)){
			pump_once(f, 1);
		}
	}
	deadline = cxb_now_ms() + 2 * WAIT_MS;
	while(a->by_type[CX_REPLY_OFFER] < n && cxb_now_ms() < deadline){
		pump_once(f, 5);
	}
	fprintf(stderr, "offer replacement: %u offers, %" PRIu64 " offer and %" PRIu64 " revoked replies\n", n,
			a->by_type[CX_REPLY_OFFER], a->by_type[CX_REPLY_REVOKED]);
	assert_int_equal(a->by_type[CX_REPLY_OFFER], n);
	assert_int_equal(a->by_type[CX_REPLY_REVOKED], n - 1);
	assert_int_equal(a->by_type[CX_REPLY_ERROR], 0);
	assert_int_equal(b->replies, 0);
	fresh_stats(f, &st);
	assert_int_equal(st.offers, 1);
	assert_int_equal(st.timers, 1);

	/* Only the last key matches: the one before it costs an attempt. */
	a->queue = true;
	if(strcmp(prev, key) != 0){
		snprintf(t, sizeof(t), "claim/%s", a->id);
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ref\":\"prev\"}", prev);
		publish_str(b, t, payload);
		expect_error_code(b, CX_CODE_NO_MATCH);
		expect_type(a, &m, CX_REPLY_ATTEMPT);
		assert_int_equal(m.attempts_left, 2);
		cx_reply_msg_clear(&m);
	}
	claim_match(a, b, key, xid);
	send_card(a, b, xid, card_a);
	send_card(b, a, xid, card_b);
	check_rss(f, rss0, "after offer replacements");
}

/* Claims for IDs that never existed, from many terminals: no state for the IDs, bounded windows. */
static void test_flood_ghost_claims(void **state)
{
	fx *f = *state;
	cl *att[20], *h0, *h1;
	char t[128];
	long long start, rss0;
	unsigned ghost = 0;
	uint64_t no_match = 0;
	stats st;

	fx_start(f, "plugin_opt_stats_interval 1\n", NULL);
	h0 = terminal(f, 100, NULL);
	h1 = terminal(f, 101, NULL);
	for(size_t i = 0; i < 20; i++){
		att[i] = cl_new(f, 40 + i, NULL);
	}
	cl_connect_all(f, att, 20, "127.0.0.2");
	rss0 = cxb_rss_kb(&f->b);
	start = cxb_now_ms();
	while(cxb_now_ms() - start < 3000){
		for(size_t i = 0; i < 20; i++){
			if(!mosquitto_want_write(att[i]->m)){
				snprintf(t, sizeof(t), "claim/never-%u", ghost++);
				publish(att[i], t, "{\"key\":\"000000\"}", 16, 0);
			}
		}
		pump_once(f, 1);
	}
	pump(f, 500);
	honest_exchange(f, h0, h1);
	fresh_stats(f, &st);
	for(size_t i = 0; i < 20; i++){
		no_match += att[i]->by_code[CX_CODE_NO_MATCH];
		assert_int_equal(att[i]->foreign, 0);
	}
	fprintf(stderr, "ghost claims: %u claims for IDs that never existed, %" PRIu64 " evaluated (the address "
			"allows 50)\n", ghost, no_match);
	/*
	 * One address: its 50 failures, then one more at most from each of the
	 * 20 that had none yet, then rate-limited; one window per terminal and
	 * one for the address.
	 */
	assert_true(st.failed >= 50 && st.failed <= 70);
	assert_true(no_match <= (uint64_t)st.failed);
	assert_int_equal(st.offers, 0);
	assert_int_equal(st.exchanges, 0);
	assert_true(st.limiters <= 20);
	assert_int_equal(st.address_limiters, 1);
	check_rss(f, rss0, "after ghost claims");
}

/* ---- ceilings ---- */

/*
 * Every table has a ceiling; reaching it is answered "capacity" with a
 * message naming what is full, and logged once as a warning.
 */
static void test_ceilings(void **state)
{
	fx *f = *state;
	cl *t[12];
	char xid[CX_XID_HEX + 1], topic[128], payload[96];
	cx_reply_msg m;
	stats st;

	fx_start(f, "plugin_opt_max_offers 4\nplugin_opt_max_exchanges 1\nplugin_opt_max_limiters 4\n"
			"plugin_opt_stats_interval 1\n", NULL);
	for(size_t i = 0; i < 12; i++){
		t[i] = terminal(f, i, i >= 6 ? "127.0.0.3" : NULL);
	}
	/* Offers: four fit, the fifth does not. */
	for(size_t i = 0; i < 4; i++){
		offer(t[i], "111111", "o");
	}
	snprintf(topic, sizeof(topic), "keys/%s", t[4]->id);
	publish_str(t[4], topic, "{\"key\":\"111111\",\"ref\":\"o5\"}");
	expect_type(t[4], &m, CX_REPLY_ERROR);
	assert_int_equal(m.code, CX_CODE_CAPACITY);
	assert_string_equal(m.ref, "o5");
	assert_non_null(strstr(m.message, "pending offers"));
	cx_reply_msg_clear(&m);

	/* Exchanges: one fits; a second match is refused and the offer stays. */
	claim_match(t[0], t[5], "111111", xid);
	snprintf(topic, sizeof(topic), "claim/%s", t[1]->id);
	publish_str(t[5], topic, "{\"key\":\"111111\",\"ref\":\"c2\"}");
	expect_type(t[5], &m, CX_REPLY_ERROR);
	assert_int_equal(m.code, CX_CODE_CAPACITY);
	assert_non_null(strstr(m.message, "live exchanges"));
	cx_reply_msg_clear(&m);
	send_card(t[0], t[5], xid, card_a);
	send_card(t[5], t[0], xid, card_b);
	claim_match(t[1], t[5], "111111", xid);

	/*
	 * Failure windows: t6 and 127.0.0.3, t7, t8 fill four; t9 would need a
	 * fifth. The same ceiling bounds the terminals that can be sent errors
	 * within one clock second, and t4 and t5 had theirs: start a new second.
	 */
	pump(f, 1100);
	for(size_t i = 6; i < 9; i++){
		snprintf(payload, sizeof(payload), "{\"key\":\"999999\",\"ref\":\"f%zu\"}", i);
		publish_str(t[i], "claim/t150", payload);
		expect_error_code(t[i], CX_CODE_NO_MATCH);
	}
	snprintf(topic, sizeof(topic), "claim/%s", t[2]->id);
	publish_str(t[9], topic, "{\"key\":\"111111\",\"ref\":\"c9\"}");
	expect_type(t[9], &m, CX_REPLY_ERROR);
	assert_int_equal(m.code, CX_CODE_CAPACITY);
	assert_non_null(strstr(m.message, "failing claimers"));
	cx_reply_msg_clear(&m);
	/* Refused unevaluated: t2's offer heard nothing, though t9 had the right key. */
	pump(f, 200);
	assert_int_equal(t[2]->qlen, 0);

	fresh_stats(f, &st);
	assert_int_equal(st.offers, 2);
	assert_int_equal(st.exchanges, 1);
	assert_int_equal(st.limiters + st.address_limiters, 4);
	assert_int_equal(st.capacity, 3);
	assert_int_equal(log_count(f, "cardex: limit max_offers (4) reached: 1 offer(s)"), 1);
	assert_int_equal(log_count(f, "cardex: limit max_exchanges (1) reached: 1 match(es)"), 1);
	assert_int_equal(log_count(f, "cardex: limit max_limiters (4) reached: 1 claim(s)"), 1);
}

/*
 * A terminal with several connections subscribed to its reply topic gets
 * each error on each of them (its own choice), but still only within its
 * error budget: refused messages are never answered more than once each.
 */
static void test_error_budget_many_connections(void **state)
{
	fx *f = *state;
	cl *c[3];
	uint64_t got[3];
	stats st;

	fx_start(f, "plugin_opt_error_replies_per_sec 5\nplugin_opt_stats_interval 1\n", NULL);
	c[0] = cl_new(f, 7, "t7");
	c[1] = cl_new(f, 7, "t7:two");
	c[2] = cl_new(f, 7, "t7:three");
	cl_connect_all(f, c, 3, NULL);
	for(size_t i = 0; i < 3; i++){
		c[i]->queue = false;
	}
	/* 200 refused messages within well under a second. */
	for(int i = 0; i < 200; i++){
		publish(c[0], "reply/t8", "x", 1, 0);
		while(mosquitto_want_write(c[0]->m)){
			pump_once(f, 1);
		}
	}
	pump(f, 1500);
	for(size_t i = 0; i < 3; i++){
		got[i] = c[i]->by_code[CX_CODE_BAD_TOPIC];
		assert_int_equal(c[i]->foreign, 0);
	}
	fresh_stats(f, &st);
	fprintf(stderr, "error budget: 200 refused messages, %" PRIu64 " errors on each of 3 connections, "
			"%lld dropped\n", got[0], st.errors_dropped);
	assert_true(got[0] >= 5 && got[0] <= 10);
	assert_int_equal(got[1], got[0]);
	assert_int_equal(got[2], got[0]);
	assert_int_equal(st.errors_sent + st.errors_dropped, 200);
	assert_int_equal(st.errors_sent, (long long)got[0]);
	assert_true(log_count(f, "cardex: limit error_replies_per_sec (5) reached") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_brute_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_brute_force_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proxy_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_resent_after_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qos2_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_match_timing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_every_topic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_offer_replacement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flood_ghost_claims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ceilings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_budget_many_connections, setup, teardown),
	};
	const char *wrapper = getenv("CARDEX_BROKER_WRAPPER");
	int rc;

	if(cxb_instrumented()){
		slowdown = wrapper != NULL && *wrapper != '\0' ? 8 : 2;
	}
	/* CARDEX_TEST_FILTER=test_shared_address runs one test (a cmocka pattern, * and ? allowed). */
	if(getenv("CARDEX_TEST_FILTER") != NULL){
		cmocka_set_test_filter(getenv("CARDEX_TEST_FILTER"));
	}
	mosquitto_lib_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
