/*
 * Black-box tests of mosquitto_cardex.so inside the real Mosquitto: raw
 * libmosquitto clients (MQTT 3.1.1) on 127.0.0.1, exact JSON replies.
 *
 * Every test starts its own broker in its fixture, so a failing test leaves
 * no state behind, and the teardown stops the broker and frees the clients
 * even after a failed assertion. Every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "proto.h"

#define WAIT_MS 5000      /* longest wait for something that should happen */
#define SILENCE_MS 400    /* how long "nothing arrives" is watched */
#define MAX_CLIENTS 16
#define MAX_MSGS 256

#define CONNACK_ACCEPTED 0
#define CONNACK_NOT_AUTHORISED 5
#define SUBACK_FAILURE 0x80

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
	{"C", "pw-c-secret"},
};

static const char card_a[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ada Lovelace\"],"
	"[\"email\",{},\"text\",\"ada@example.org\"]]]";
static const char card_b[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Bob Babbage\"]]]";

/* ---- clients ---- */

struct tmsg {
	char *topic;
	char *payload;
	int len;
};

/* One raw MQTT client and everything its callbacks recorded. */
struct tc {
	struct mosquitto *m;
	char reply_topic[256]; /* where this terminal's replies arrive */
	int connack;           /* -1 until a CONNACK arrived */
	bool connected;
	int sub_mid;
	int sub_granted; /* -1 until the SUBACK for sub_mid arrived */
	int acked_mid;   /* last PUBACK */
	int pub_reason;  /* reason code of the last PUBACK (MQTT 5 clients), -1 before */
	struct tmsg msgs[MAX_MSGS];
	size_t nmsgs;
	size_t next; /* first message not yet consumed by the test */
};

struct fx {
	cxb_broker b;
	bool started;
	char prefix[64];
	char aclfile[64];
	char dynsec_conf[64];
	uint32_t exchange_ttl; /* expected "expires_in" of matches */
	struct tc *clients[MAX_CLIENTS];
	size_t nclients;
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct tc *t = obj;

	(void)m;
	t->connack = rc;
	t->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct tc *t = obj;

	(void)m;
	(void)rc;
	t->connected = false;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted)
{
	struct tc *t = obj;

	(void)m;
	if(mid == t->sub_mid && count > 0){
		t->sub_granted = granted[0];
	}
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct tc *t = obj;

	(void)m;
	t->acked_mid = mid;
}

static void on_publish_v5(struct mosquitto *m, void *obj, int mid, int reason_code,
		const mosquitto_property *props)
{
	struct tc *t = obj;

	(void)m;
	(void)mid;
	(void)props;
	t->pub_reason = reason_code;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct tc *t = obj;
	struct tmsg *slot;

	(void)m;
	if(t->nmsgs == MAX_MSGS){
		return;
	}
	slot = &t->msgs[t->nmsgs];
	slot->topic = strdup(msg->topic);
	slot->payload = malloc((size_t)msg->payloadlen + 1);
	if(slot->topic == NULL || slot->payload == NULL){
		free(slot->topic);
		free(slot->payload);
		return;
	}
	memcpy(slot->payload, msg->payload, (size_t)msg->payloadlen);
	slot->payload[msg->payloadlen] = '\0';
	slot->len = msg->payloadlen;
	t->nmsgs++;
}

static void tc_free(struct tc *t)
{
	if(t == NULL){
		return;
	}
	if(t->m != NULL){
		mosquitto_disconnect(t->m);
		mosquitto_destroy(t->m);
	}
	for(size_t i = 0; i < t->nmsgs; i++){
		free(t->msgs[i].topic);
		free(t->msgs[i].payload);
	}
	free(t);
}

/*
 * A new client owned by the fixture. id is the MQTT client ID, user the
 * username (NULL: anonymous), reply_id the terminal whose reply topic the
 * test expects its replies on (NULL: none).
 */
static struct tc *tc_new(struct fx *f, const char *id, const char *user, const char *password,
		bool clean, const char *reply_id)
{
	struct tc *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	assert_true(f->nclients < MAX_CLIENTS);
	f->clients[f->nclients++] = t;
	t->connack = -1;
	t->sub_granted = -1;
	t->pub_reason = -1;
	t->m = mosquitto_new(id, clean, t);
	assert_non_null(t->m);
	if(user != NULL){
		assert_int_equal(mosquitto_username_pw_set(t->m, user, password), MOSQ_ERR_SUCCESS);
	}
	mosquitto_connect_callback_set(t->m, on_connect);
	mosquitto_disconnect_callback_set(t->m, on_disconnect);
	mosquitto_subscribe_callback_set(t->m, on_subscribe);
	mosquitto_publish_callback_set(t->m, on_publish);
	mosquitto_message_callback_set(t->m, on_message);
	if(reply_id != NULL){
		snprintf(t->reply_topic, sizeof(t->reply_topic), "%sreply/%s", f->prefix, reply_id);
	}
	return t;
}

/* tc_new for an MQTT 5 client, which learns the reason code of each PUBACK. */
static struct tc *tc_new_v5(struct fx *f, const char *id, const char *user, const char *password)
{
	struct tc *t = tc_new(f, id, user, password, true, user);

	assert_int_equal(mosquitto_int_option(t->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5), MOSQ_ERR_SUCCESS);
	mosquitto_publish_v5_callback_set(t->m, on_publish_v5);
	return t;
}

/* Runs every client's network loop for about ms milliseconds. */
static void pump(struct fx *f, int ms)
{
	long long deadline = cxb_now_ms() + ms;

	do {
		for(size_t i = 0; i < f->nclients; i++){
			struct tc *t = f->clients[i];

			if(t->m != NULL && mosquitto_loop(t->m, 5, 1) != MOSQ_ERR_SUCCESS){
				t->connected = false;
			}
		}
	} while(cxb_now_ms() < deadline);
}

/* Pumps until *flag differs from unset or WAIT_MS passed; returns whether it changed. */
static bool wait_int(struct fx *f, const int *flag, int unset)
{
	long long deadline = cxb_now_ms() + WAIT_MS;

	while(*flag == unset && cxb_now_ms() < deadline){
		pump(f, 5);
	}
	return *flag != unset;
}

/* Connects and waits for the CONNACK; returns its code, or -1 when none came. */
static int tc_connect(struct fx *f, struct tc *t)
{
	t->connack = -1;
	if(mosquitto_connect(t->m, "127.0.0.1", f->b.port, 30) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	wait_int(f, &t->connack, -1);
	return t->connack;
}

/* Subscribes and waits for the SUBACK; returns the granted QoS (0x80: refused), or -1. */
static int tc_subscribe(struct fx *f, struct tc *t, const char *filter, int qos)
{
	t->sub_granted = -1;
	if(mosquitto_subscribe(t->m, &t->sub_mid, filter, qos) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	wait_int(f, &t->sub_granted, -1);
	return t->sub_granted;
}

/* Publishes QoS 1 and waits for the PUBACK. */
static void tc_publish(struct fx *f, struct tc *t, const char *topic, const void *payload, int len,
		bool retain)
{
	int mid = 0;
	long long deadline = cxb_now_ms() + WAIT_MS;

	assert_int_equal(mosquitto_publish(t->m, &mid, topic, len, payload, 1, retain), MOSQ_ERR_SUCCESS);
	while(t->acked_mid != mid && cxb_now_ms() < deadline){
		pump(f, 5);
	}
	assert_int_equal(t->acked_mid, mid);
}

static void tc_publish_str(struct fx *f, struct tc *t, const char *topic, const char *payload)
{
	tc_publish(f, t, topic, payload, (int)strlen(payload), false);
}

/* A connected terminal (client ID = its ID) subscribed QoS 1 to its reply topic. */
static struct tc *terminal(struct fx *f, const char *id, const char *password, bool clean)
{
	struct tc *t = tc_new(f, id, id, password, clean, id);

	assert_int_equal(tc_connect(f, t), CONNACK_ACCEPTED);
	assert_int_equal(tc_subscribe(f, t, t->reply_topic, 1), 1);
	return t;
}

static const char *password_of(const char *id)
{
	for(size_t i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++){
		if(strcmp(accounts[i].id, id) == 0){
			return accounts[i].password;
		}
	}
	return "none";
}

/* Topic <prefix><kind>/<id> in buf. */
static const char *topic(const struct fx *f, char *buf, size_t cap, const char *kind, const char *id)
{
	snprintf(buf, cap, "%s%s/%s", f->prefix, kind, id);
	return buf;
}

/* ---- replies ---- */

/*
 * Asserts that payload is a JSON object whose field names are exactly the
 * comma-separated list keys (in any order).
 */
static void assert_fields(const char *payload, const char *keys)
{
	cJSON *root = cJSON_Parse(payload);
	char list[256];
	size_t nkeys = 0;
	int nfields = 0;
	const cJSON *item;

	assert_non_null(root);
	assert_true(cJSON_IsObject(root));
	snprintf(list, sizeof(list), "%s", keys);
	for(char *save = NULL, *k = strtok_r(list, ",", &save); k != NULL; k = strtok_r(NULL, ",", &save)){
		if(cJSON_GetObjectItemCaseSensitive(root, k) == NULL){
			fprintf(stderr, "reply %s lacks field %s\n", payload, k);
			fail();
		}
		nkeys++;
	}
	cJSON_ArrayForEach(item, root){
		nfields++;
	}
	if((size_t)nfields != nkeys){
		fprintf(stderr, "reply %s has fields other than %s\n", payload, keys);
		fail();
	}
	cJSON_Delete(root);
}

/*
 * Waits at most timeout_ms for t's next message, asserts it arrived on t's
 * reply topic with exactly the fields keys, and decodes it into out (release
 * with cx_reply_msg_clear).
 */
static void next_reply_within(struct fx *f, struct tc *t, cx_reply_msg *out, const char *keys,
		int timeout_ms)
{
	long long deadline = cxb_now_ms() + timeout_ms;
	const struct tmsg *msg;
	const char *why = NULL;

	while(t->next == t->nmsgs && cxb_now_ms() < deadline){
		pump(f, 5);
	}
	if(t->next == t->nmsgs){
		fprintf(stderr, "no reply on %s within %d ms (expected fields %s)\n", t->reply_topic, timeout_ms,
				keys);
		fail();
	}
	msg = &t->msgs[t->next++];
	assert_string_equal(msg->topic, t->reply_topic);
	assert_fields(msg->payload, keys);
	memset(out, 0, sizeof(*out));
	assert_int_equal(cx_reply_decode(msg->payload, (size_t)msg->len, out, &why), CX_CODE_NONE);
}

static void next_reply(struct fx *f, struct tc *t, cx_reply_msg *out, const char *keys)
{
	next_reply_within(f, t, out, keys, WAIT_MS);
}

/* Waits for an error reply with code and topic; returns it decoded (caller clears). */
static void next_error(struct fx *f, struct tc *t, cx_reply_msg *out, const char *keys, cx_code code,
		const char *on_topic)
{
	next_reply(f, t, out, keys);
	assert_int_equal(out->type, CX_REPLY_ERROR);
	assert_string_equal(out->code_name, cx_code_name(code));
	assert_int_equal(out->code, code);
	assert_string_equal(out->topic, on_topic);
	assert_true(out->message[0] != '\0');
}

static void expect_error(struct fx *f, struct tc *t, cx_code code, const char *on_topic)
{
	cx_reply_msg m;

	next_error(f, t, &m, "type,code,topic,message", code, on_topic);
	cx_reply_msg_clear(&m);
}

/* Asserts that none of the given clients receives anything for SILENCE_MS. */
static void expect_silence(struct fx *f, struct tc *const *ts, size_t n)
{
	pump(f, SILENCE_MS);
	for(size_t i = 0; i < n; i++){
		if(ts[i]->next != ts[i]->nmsgs){
			fprintf(stderr, "unexpected message on %s: %s\n", ts[i]->msgs[ts[i]->next].topic,
					ts[i]->msgs[ts[i]->next].payload);
			fail();
		}
	}
}

/* ---- exchange steps ---- */

static void offer(struct fx *f, struct tc *a, const char *id, const char *key, int ttl, const char *ref)
{
	char t[128], payload[128];
	cx_reply_msg m;

	if(ttl > 0){
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":%d,\"ref\":\"%s\"}", key, ttl, ref);
	}else{
		snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ref\":\"%s\"}", key, ref);
	}
	tc_publish_str(f, a, topic(f, t, sizeof(t), "keys", id), payload);
	next_reply(f, a, &m, "type,expires_in,ref");
	assert_int_equal(m.type, CX_REPLY_OFFER);
	assert_int_equal(m.expires_in, ttl > 0 ? (uint32_t)ttl : 120);
	assert_string_equal(m.ref, ref);
	cx_reply_msg_clear(&m);
}

/* b (terminal b_id) claims a_id's offer with key; both get "match"; xid receives the exchange. */
static void claim_match(struct fx *f, struct tc *a, const char *a_id, struct tc *b, const char *b_id,
		const char *key, const char *a_ref, const char *b_ref, char xid[CX_XID_HEX + 1])
{
	char t[128], payload[128];
	cx_reply_msg ma, mb;

	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"from\":\"%s\",\"ref\":\"%s\"}", key, b_id, b_ref);
	tc_publish_str(f, b, topic(f, t, sizeof(t), "claim", a_id), payload);
	next_reply(f, a, &ma, "type,exchange,peer,expires_in,ref");
	next_reply(f, b, &mb, "type,exchange,peer,expires_in,ref");
	assert_int_equal(ma.type, CX_REPLY_MATCH);
	assert_int_equal(mb.type, CX_REPLY_MATCH);
	assert_string_equal(ma.peer, b_id);
	assert_string_equal(mb.peer, a_id);
	assert_string_equal(ma.ref, a_ref);
	assert_string_equal(mb.ref, b_ref);
	assert_int_equal(ma.expires_in, f->exchange_ttl);
	assert_int_equal(mb.expires_in, f->exchange_ttl);
	assert_true(cx_xid_valid(ma.xid, strlen(ma.xid)));
	assert_string_equal(ma.xid, mb.xid);
	memcpy(xid, ma.xid, CX_XID_HEX + 1);
	cx_reply_msg_clear(&ma);
	cx_reply_msg_clear(&mb);
}

/* from sends card to peer in xid: peer gets "card", from gets "sent". */
static void send_card(struct fx *f, struct tc *from, const char *from_id, struct tc *to, const char *to_id,
		const char *xid, const char *card)
{
	char t[128], payload[1024];
	cx_reply_msg mc, ms;

	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card);
	tc_publish_str(f, from, topic(f, t, sizeof(t), "card", to_id), payload);
	next_reply(f, to, &mc, "type,exchange,from,card");
	assert_int_equal(mc.type, CX_REPLY_CARD);
	assert_string_equal(mc.xid, xid);
	assert_string_equal(mc.peer, from_id);
	assert_non_null(mc.card);
	assert_string_equal(mc.card, card);
	next_reply(f, from, &ms, "type,exchange,to");
	assert_int_equal(ms.type, CX_REPLY_SENT);
	assert_string_equal(ms.xid, xid);
	assert_string_equal(ms.peer, to_id);
	cx_reply_msg_clear(&mc);
	cx_reply_msg_clear(&ms);
}

/* A whole exchange between a and b: offer, claim, two matches, two cards, two sent. */
static void full_exchange(struct fx *f, struct tc *a, const char *a_id, struct tc *b, const char *b_id,
		const char *key)
{
	char xid[CX_XID_HEX + 1];

	offer(f, a, a_id, key, 60, "offer1");
	claim_match(f, a, a_id, b, b_id, key, "offer1", "claim1", xid);
	send_card(f, a, a_id, b, b_id, xid, card_a);
	send_card(f, b, b_id, a, a_id, xid, card_b);
}

/* ---- fixture ---- */

enum {
	FX_ACL_ALL = 1,   /* an acl_file granting everything, consulted after the plugin */
	FX_ANONYMOUS = 2, /* allow_anonymous true */
	FX_SYS = 4,       /* $SYS topics published every second */
	FX_DYNSEC = 8,    /* Mosquitto's dynamic-security plugin loaded too (fx.dynsec_conf) */
	FX_STRICT = 16,   /* plugin_opt_terminals strict: every client follows the identity rules */
	FX_DEFER = 32,    /* plugin_opt_outside_acl defer: outside the namespace, other mechanisms decide */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if(f == NULL){
		return -1;
	}
	f->exchange_ttl = 300;
	*state = f;
	return 0;
}

/* Frees the clients and stops the broker; a sanitizer or valgrind report on the broker fails the test. */
static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = 0;

	for(size_t i = 0; i < f->nclients; i++){
		tc_free(f->clients[i]);
	}
	if(f->started && cxb_stop_check(&f->b) != 0){
		rc = -1;
	}
	if(f->aclfile[0] != '\0'){
		unlink(f->aclfile);
	}
	if(f->dynsec_conf[0] != '\0'){
		unlink(f->dynsec_conf);
	}
	free(f);
	return rc;
}

/* Writes text to a fresh /tmp file named from pattern into path; the fixture removes it. */
static void write_temp(char *path, size_t cap, const char *pattern, const char *text)
{
	int fd;

	snprintf(path, cap, "%s", pattern);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	/* Readable by the broker whichever user it runs as. */
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
}

/*
 * Starts a broker with the plugin, the accounts A, B, C and plugin_opts.
 * FX_ACL_ALL adds an acl_file that grants every topic to everyone, so that a
 * subscription to "#" is accepted and only the plugin's READ check can keep
 * namespace messages from it; with FX_SYS, C may also read $SYS/#, so that
 * a test can see that $SYS is being published.
 */
static void fx_start(struct fx *f, const char *prefix, const char *plugin_opts, int flags)
{
	cxb_config cfg;
	char extra[1024] = "";
	char opts[1024];

	snprintf(f->prefix, sizeof(f->prefix), "%s", prefix);
	snprintf(opts, sizeof(opts), "%s%s%s", plugin_opts != NULL ? plugin_opts : "",
			(flags & FX_STRICT) ? "plugin_opt_terminals strict\n" : "",
			(flags & FX_DEFER) ? "plugin_opt_outside_acl defer\n" : "");
	if(flags & FX_ACL_ALL){
		/* "topic" lines serve anonymous clients, "pattern" lines every client. */
		write_temp(f->aclfile, sizeof(f->aclfile), "/tmp/cardex-acl-XXXXXX", (flags & FX_SYS)
				? "topic readwrite #\npattern readwrite #\nuser C\ntopic read $SYS/#\n"
				: "topic readwrite #\npattern readwrite #\n");
		snprintf(extra, sizeof(extra), "acl_file %s\n", f->aclfile);
	}
	if(flags & FX_ANONYMOUS){
		strncat(extra, "allow_anonymous true\n", sizeof(extra) - strlen(extra) - 1);
	}
	if(flags & FX_SYS){
		strncat(extra, "sys_interval 1\n", sizeof(extra) - strlen(extra) - 1);
	}
	if(flags & FX_DYNSEC){
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "plugin %s\nplugin_opt_config_file %s\n",
				cxb_dynsec_plugin(), f->dynsec_conf);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = opts;
	cfg.extra_conf = extra;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	assert_int_equal(cxb_start(&f->b, &cfg), 0);
	f->started = true;
}

/*
 * Asserts that the broker still runs and serves a full exchange between two
 * new connections of C and B (terminals the calling tests leave without a
 * pending offer, so no stray "revoked" comes first).
 */
static void assert_still_serving(struct fx *f, const char *key)
{
	struct tc *c, *b;

	assert_true(cxb_alive(&f->b));
	c = tc_new(f, "C:check", "C", password_of("C"), true, "C");
	assert_int_equal(tc_connect(f, c), CONNACK_ACCEPTED);
	assert_int_equal(tc_subscribe(f, c, c->reply_topic, 1), 1);
	b = tc_new(f, "B:check", "B", password_of("B"), true, "B");
	assert_int_equal(tc_connect(f, b), CONNACK_ACCEPTED);
	assert_int_equal(tc_subscribe(f, b, b->reply_topic, 1), 1);
	full_exchange(f, c, "C", b, "B", key);
}

/* ---- tests ---- */

static void test_full_exchange(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b;

	fx_start(f, "", NULL, 0);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	full_exchange(f, a, "A", b, "B", "483920");
	/* After both cards the exchange is closed: a third card finds nothing. */
	{
		char t[128], payload[256], xid[CX_XID_HEX + 1];
		cx_reply_msg m;

		offer(f, a, "A", "11223344", 30, "o2");
		claim_match(f, a, "A", b, "B", "11223344", "o2", "c2", xid);
		send_card(f, a, "A", b, "B", xid, card_a);
		send_card(f, b, "B", a, "A", xid, card_b);
		snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card_a);
		tc_publish_str(f, a, topic(f, t, sizeof(t), "card", "B"), payload);
		next_error(f, a, &m, "type,code,topic,message,exchange", CX_CODE_UNKNOWN_EXCHANGE, "card/B");
		assert_string_equal(m.xid, xid);
		cx_reply_msg_clear(&m);
	}
}

/*
 * A third terminal subscribed to "#", "reply/+" and more sees nothing of an
 * exchange: READ is denied per message, and the filters that can only match
 * unreadable namespace topics are refused at SUBSCRIBE.
 */
static void test_namespace_guard(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *c, *anon;
	const struct {
		const char *filter;
		int granted;
	} subs[] = {
		{"#", 0}, {"keys/#", SUBACK_FAILURE}, {"claim/#", SUBACK_FAILURE}, {"card/#", SUBACK_FAILURE},
		{"reply/+", 0}, {"reply/A", SUBACK_FAILURE}, {"+/A", 0}, {"$share/g/reply/B", SUBACK_FAILURE},
	};

	fx_start(f, "", NULL, FX_ACL_ALL | FX_ANONYMOUS);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	c = tc_new(f, "C", "C", password_of("C"), true, "C");
	assert_int_equal(tc_connect(f, c), CONNACK_ACCEPTED);
	anon = tc_new(f, "@anon-1", NULL, NULL, true, NULL);
	assert_int_equal(tc_connect(f, anon), CONNACK_ACCEPTED);
	for(size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++){
		assert_int_equal(tc_subscribe(f, c, subs[i].filter, 0), subs[i].granted);
	}
	/* An anonymous client may not use a client ID that could be a terminal's: it would take its session. */
	{
		struct tc *thief = tc_new(f, "A:anon", NULL, NULL, true, NULL);

		assert_int_equal(tc_connect(f, thief), CONNACK_NOT_AUTHORISED);
		assert_true(cxb_log_contains(&f->b, "cardex: refused anonymous connection from 127.0.0.1"));
	}
	/* Without an identity, not even a terminal's own-looking reply topic is readable. */
	assert_int_equal(tc_subscribe(f, anon, "reply/A", 0), SUBACK_FAILURE);
	assert_int_equal(tc_subscribe(f, anon, "#", 0), 0);

	full_exchange(f, a, "A", b, "B", "483920");
	expect_silence(f, (struct tc *const[]){c, anon}, 2);

	/* The "#" subscriptions are live: an ordinary topic reaches both. */
	tc_publish_str(f, a, "news/today", "hello");
	pump(f, 200);
	assert_int_equal(c->nmsgs, 1);
	assert_string_equal(c->msgs[0].topic, "news/today");
	assert_int_equal(anon->nmsgs, 1);
	c->next = c->nmsgs;
	anon->next = anon->nmsgs;

	/* An anonymous publish into the namespace is refused by the ACL: no effect, no reply. */
	tc_publish_str(f, anon, "keys/A", "{\"key\":\"555555\"}");
	tc_publish_str(f, anon, "claim/A", "{\"key\":\"555555\"}");
	expect_silence(f, (struct tc *const[]){a, b, c}, 3);
}

/* Publishing to another terminal's keys/ or to any reply/ is bad-topic and has no effect. */
static void test_bad_topics(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *c;
	cx_reply_msg m;
	static const char *const bad[] = {
		"reply/B", "reply/A", "keys/A/extra", "claim/bad id", "claim/", "card", "keys/",
		"claim/A/x", "reply/", "card/B/",
	};

	fx_start(f, "", NULL, 0);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	c = terminal(f, "C", password_of("C"), true);

	tc_publish_str(f, a, "keys/B", "{\"key\":\"654321\",\"ref\":\"evil\"}");
	expect_error(f, a, CX_CODE_BAD_TOPIC, "keys/B");
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		tc_publish_str(f, a, bad[i], "{\"type\":\"card\",\"exchange\":\"00\"}");
		expect_error(f, a, CX_CODE_BAD_TOPIC, bad[i]);
	}
	/* B saw nothing: not the forged reply, not a forged offer. */
	expect_silence(f, (struct tc *const[]){b}, 1);
	/* B has no offer with the key A tried to plant. */
	tc_publish_str(f, c, "claim/B", "{\"key\":\"654321\",\"ref\":\"probe\"}");
	next_error(f, c, &m, "type,code,topic,message,ref", CX_CODE_NO_MATCH, "claim/B");
	assert_string_equal(m.ref, "probe");
	cx_reply_msg_clear(&m);
	expect_silence(f, (struct tc *const[]){a, b}, 2);
}

/* A claim whose "from" is not the claimer is bad-request and costs the offer nothing. */
static void test_spoofed_from(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b;
	cx_reply_msg m;
	char xid[CX_XID_HEX + 1];

	fx_start(f, "", NULL, 0);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	offer(f, a, "A", "483920", 60, "o1");

	tc_publish_str(f, b, "claim/A", "{\"key\":\"483920\",\"from\":\"C\",\"ref\":\"spoof\"}");
	next_error(f, b, &m, "type,code,topic,message,ref", CX_CODE_BAD_REQUEST, "claim/A");
	assert_string_equal(m.ref, "spoof");
	cx_reply_msg_clear(&m);
	expect_silence(f, (struct tc *const[]){a}, 1);

	/* A wrong key costs one attempt and tells the owner. */
	tc_publish_str(f, b, "claim/A", "{\"key\":\"000000\",\"ref\":\"wrong\"}");
	next_error(f, b, &m, "type,code,topic,message,ref", CX_CODE_NO_MATCH, "claim/A");
	assert_string_equal(m.ref, "wrong");
	cx_reply_msg_clear(&m);
	next_reply(f, a, &m, "type,attempts_left,ref");
	assert_int_equal(m.type, CX_REPLY_ATTEMPT);
	assert_int_equal(m.attempts_left, 2);
	assert_string_equal(m.ref, "o1");
	cx_reply_msg_clear(&m);

	claim_match(f, a, "A", b, "B", "483920", "o1", "c1", xid);
}

/* A third terminal's card on an exchange is not-peer; the exchange goes on. */
static void test_third_party_card(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *c;
	cx_reply_msg m;
	char xid[CX_XID_HEX + 1], payload[512];

	fx_start(f, "", NULL, 0);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	c = terminal(f, "C", password_of("C"), true);
	offer(f, a, "A", "483920", 60, "o1");
	claim_match(f, a, "A", b, "B", "483920", "o1", "c1", xid);

	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card_b);
	tc_publish_str(f, c, "card/A", payload);
	next_error(f, c, &m, "type,code,topic,message,exchange", CX_CODE_NOT_PEER, "card/A");
	assert_string_equal(m.xid, xid);
	cx_reply_msg_clear(&m);
	expect_silence(f, (struct tc *const[]){a, b}, 2);

	send_card(f, a, "A", b, "B", xid, card_a);
	/* A second card from the same side is already-sent. */
	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card_a);
	tc_publish_str(f, a, "card/B", payload);
	next_error(f, a, &m, "type,code,topic,message,exchange", CX_CODE_ALREADY_SENT, "card/B");
	cx_reply_msg_clear(&m);
	send_card(f, b, "B", a, "A", xid, card_b);
}

/*
 * Strict mode: client IDs that do not belong to the username, and invalid
 * usernames, are refused at CONNECT.
 */
static void test_identity_binding(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *t;
	static const struct {
		const char *client_id;
		const char *user;
		int connack;
	} cases[] = {
		{"B", "A", CONNACK_NOT_AUTHORISED},
		{"Ax", "A", CONNACK_NOT_AUTHORISED},
		{"A:", "B", CONNACK_NOT_AUTHORISED},
		{"xA", "A", CONNACK_NOT_AUTHORISED},
		{"bad id", "bad id", CONNACK_NOT_AUTHORISED},
		{"x/y", "x/y", CONNACK_NOT_AUTHORISED},
		{"A:", "A", CONNACK_NOT_AUTHORISED}, /* common/ids.c: an empty suffix tells nothing apart */
		{"A:pub", "A", CONNACK_ACCEPTED},
		{"A:pub:2", "A", CONNACK_ACCEPTED},
	};

	fx_start(f, "", NULL, FX_STRICT);
	a = terminal(f, "A", password_of("A"), false);
	b = terminal(f, "B", password_of("B"), false);

	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		t = tc_new(f, cases[i].client_id, cases[i].user, password_of(cases[i].user), true, NULL);
		if(tc_connect(f, t) != cases[i].connack){
			fprintf(stderr, "client id \"%s\" user \"%s\": CONNACK %d, expected %d\n", cases[i].client_id,
					cases[i].user, t->connack, cases[i].connack);
			fail();
		}
	}
	/* A username longer than 64 characters is not a terminal ID. */
	{
		char longid[80];

		memset(longid, 'x', 65);
		longid[65] = '\0';
		t = tc_new(f, longid, longid, "pw", true, NULL);
		assert_int_equal(tc_connect(f, t), CONNACK_NOT_AUTHORISED);
	}
	/* The refused takeovers did not disturb the real sessions. */
	pump(f, 100);
	assert_true(a->connected);
	assert_true(b->connected);

	/* "A:pub" acts for A: its offer is answered on A's reply topic. */
	t = tc_new(f, "A:pub2", "A", password_of("A"), true, NULL);
	assert_int_equal(tc_connect(f, t), CONNACK_ACCEPTED);
	tc_publish_str(f, t, "keys/A", "{\"key\":\"778899\",\"ref\":\"frompub\"}");
	{
		cx_reply_msg m;

		next_reply(f, a, &m, "type,expires_in,ref");
		assert_int_equal(m.type, CX_REPLY_OFFER);
		assert_string_equal(m.ref, "frompub");
		cx_reply_msg_clear(&m);
	}
	/* A may not subscribe to B's reply topic. */
	assert_int_equal(tc_subscribe(f, a, "reply/B", 1), SUBACK_FAILURE);
}

/* The password file is enforced: wrong or missing passwords and unknown terminals are refused. */
static void test_password_enforced(void **state)
{
	struct fx *f = *state;
	struct tc *t;

	fx_start(f, "", NULL, 0);
	t = tc_new(f, "A", "A", "wrong-password", true, NULL);
	assert_int_equal(tc_connect(f, t), CONNACK_NOT_AUTHORISED);
	t = tc_new(f, "A", "A", NULL, true, NULL);
	assert_int_equal(tc_connect(f, t), CONNACK_NOT_AUTHORISED);
	t = tc_new(f, "D", "D", "whatever", true, NULL);
	assert_int_equal(tc_connect(f, t), CONNACK_NOT_AUTHORISED);
	/* Anonymous clients are refused when allow_anonymous is false (the harness default). */
	t = tc_new(f, "anon-2", NULL, NULL, true, NULL);
	assert_int_equal(tc_connect(f, t), CONNACK_NOT_AUTHORISED);
	t = tc_new(f, "A", "A", password_of("A"), true, NULL);
	assert_int_equal(tc_connect(f, t), CONNACK_ACCEPTED);
}

/* Malformed payloads get an error each; the broker keeps serving. */
static void test_malformed_payloads(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b;
	static const struct {
		const char *topic;
		const char *payload;
		cx_code code;
	} cases[] = {
		{"keys/A", "not json", CX_CODE_BAD_REQUEST},
		{"keys/A", "", CX_CODE_BAD_REQUEST},
		{"keys/A", "[]", CX_CODE_BAD_REQUEST},
		{"keys/A", "{\"key\":483920}", CX_CODE_BAD_REQUEST},
		{"keys/A", "{\"key\":\"48392\"}", CX_CODE_BAD_REQUEST},
		{"keys/A", "{\"key\":\"483920\",\"ttl\":\"60\"}", CX_CODE_BAD_REQUEST},
		{"keys/A", "{\"key\":\"483920\",\"ttl\":4}", CX_CODE_BAD_REQUEST},
		{"keys/A", "{\"key\":\"483920\",\"ttl\":60.5}", CX_CODE_BAD_REQUEST},
		{"keys/A", "{\"key\":\"483920\"", CX_CODE_BAD_REQUEST},
		{"claim/B", "{\"key\":null}", CX_CODE_BAD_REQUEST},
		{"claim/B", "{\"key\":\"483920\",\"from\":7}", CX_CODE_BAD_REQUEST},
		{"card/B", "{\"exchange\":12,\"card\":[]}", CX_CODE_BAD_REQUEST},
		{"card/B", "{\"exchange\":\"0123456789abcdef0123456789abcdef\",\"card\":[\"vcard\",[]]}",
				CX_CODE_BAD_CARD},
		{"card/B", "{\"exchange\":\"0123456789abcdef0123456789abcdef\",\"card\":\"text\"}",
				CX_CODE_BAD_CARD},
	};
	char *deep;
	size_t depth = 20000;

	fx_start(f, "", NULL, 0);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);

	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		cx_reply_msg m;

		tc_publish_str(f, a, cases[i].topic, cases[i].payload);
		/* Card errors may carry the exchange when it was valid; check the rest exactly. */
		next_reply(f, a, &m, cases[i].code == CX_CODE_BAD_CARD ? "type,code,topic,message,exchange"
				: "type,code,topic,message");
		assert_int_equal(m.type, CX_REPLY_ERROR);
		if(m.code != cases[i].code){
			fprintf(stderr, "payload %s on %s: code %s, expected %s\n", cases[i].payload, cases[i].topic,
					m.code_name, cx_code_name(cases[i].code));
			fail();
		}
		assert_string_equal(m.topic, cases[i].topic);
		cx_reply_msg_clear(&m);
	}

	/* Invalid UTF-8 and binary garbage. */
	tc_publish(f, a, "keys/A", "{\"key\":\"\xff\xfe\"}", 12, false);
	expect_error(f, a, CX_CODE_BAD_REQUEST, "keys/A");
	tc_publish(f, a, "keys/A", "\0\1\2\3", 4, false);
	expect_error(f, a, CX_CODE_BAD_REQUEST, "keys/A");

	/* Deeply nested JSON within the size limit. */
	deep = malloc(2 * depth + 16);
	assert_non_null(deep);
	memcpy(deep, "{\"key\":", 7);
	memset(deep + 7, '[', depth);
	memset(deep + 7 + depth, ']', depth);
	memcpy(deep + 7 + 2 * depth, "}", 2);
	tc_publish_str(f, a, "keys/A", deep);
	expect_error(f, a, CX_CODE_BAD_REQUEST, "keys/A");
	tc_publish_str(f, a, "claim/B", deep);
	expect_error(f, a, CX_CODE_BAD_REQUEST, "claim/B");
	free(deep);

	expect_silence(f, (struct tc *const[]){a, b}, 2);
	assert_still_serving(f, "246810");
}

/* A payload above plugin_opt_max_payload is too-large, unparsed; one at the limit is read. */
static void test_too_large(void **state)
{
	struct fx *f = *state;
	struct tc *a;
	char payload[1100];
	cx_reply_msg m;

	fx_start(f, "", "plugin_opt_max_payload 1024\n", 0);
	a = terminal(f, "A", password_of("A"), true);

	/* Exactly 1024 bytes: a valid offer padded with blanks. */
	memset(payload, ' ', sizeof(payload));
	memcpy(payload, "{\"key\":\"483920\",\"ref\":\"edge\"}", 29);
	tc_publish(f, a, "keys/A", payload, 1024, false);
	next_reply(f, a, &m, "type,expires_in,ref");
	assert_int_equal(m.type, CX_REPLY_OFFER);
	assert_string_equal(m.ref, "edge");
	cx_reply_msg_clear(&m);

	tc_publish(f, a, "keys/A", payload, 1025, false);
	expect_error(f, a, CX_CODE_TOO_LARGE, "keys/A");
	tc_publish(f, a, "card/B", payload, sizeof(payload), false);
	expect_error(f, a, CX_CODE_TOO_LARGE, "card/B");

	assert_still_serving(f, "135791");
}

/* Retained publishes into the namespace are consumed, never stored; replies are not retained. */
static void test_not_retained(void **state)
{
	struct fx *f = *state;
	struct tc *a, *late, *watcher;
	cx_reply_msg m;

	fx_start(f, "", NULL, FX_ACL_ALL);
	a = terminal(f, "A", password_of("A"), true);
	tc_publish(f, a, "keys/A", "{\"key\":\"483920\",\"ref\":\"ret\"}", 28, true);
	next_reply(f, a, &m, "type,expires_in,ref");
	assert_int_equal(m.type, CX_REPLY_OFFER);
	cx_reply_msg_clear(&m);
	/* reply/A is readable by A: had this been retained, A's next subscription would get it. */
	tc_publish(f, a, "reply/A", "{\"type\":\"match\"}", 16, true);
	expect_error(f, a, CX_CODE_BAD_TOPIC, "reply/A");
	/* A control: an ordinary retained message does reach a late subscriber. */
	tc_publish(f, a, "news/retained", "kept", 4, true);

	late = tc_new(f, "A:late", "A", password_of("A"), true, "A");
	assert_int_equal(tc_connect(f, late), CONNACK_ACCEPTED);
	assert_int_equal(tc_subscribe(f, late, "reply/A", 1), 1);
	watcher = tc_new(f, "C", "C", password_of("C"), true, "C");
	assert_int_equal(tc_connect(f, watcher), CONNACK_ACCEPTED);
	assert_int_equal(tc_subscribe(f, watcher, "#", 0), 0);
	assert_int_equal(tc_subscribe(f, watcher, "keys/#", 0), SUBACK_FAILURE);
	pump(f, SILENCE_MS);
	assert_int_equal(late->nmsgs, 0);
	assert_int_equal(watcher->nmsgs, 1);
	assert_string_equal(watcher->msgs[0].topic, "news/retained");
}

/* B's persistent session gets the card that was sent while B was offline. */
static void test_offline_peer(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *b2;
	cx_reply_msg m;
	char xid[CX_XID_HEX + 1], payload[512];

	fx_start(f, "", NULL, 0);
	a = terminal(f, "A", password_of("A"), false);
	b = terminal(f, "B", password_of("B"), false);
	offer(f, a, "A", "483920", 60, "o1");
	claim_match(f, a, "A", b, "B", "483920", "o1", "c1", xid);

	mosquitto_disconnect(b->m);
	pump(f, 100);
	assert_false(b->connected);

	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card_a);
	tc_publish_str(f, a, "card/B", payload);
	next_reply(f, a, &m, "type,exchange,to");
	assert_int_equal(m.type, CX_REPLY_SENT);
	assert_string_equal(m.peer, "B");
	cx_reply_msg_clear(&m);

	/* Same client ID, clean_session false, no new subscription: the queued card arrives. */
	b2 = tc_new(f, "B", "B", password_of("B"), false, "B");
	assert_int_equal(tc_connect(f, b2), CONNACK_ACCEPTED);
	next_reply(f, b2, &m, "type,exchange,from,card");
	assert_int_equal(m.type, CX_REPLY_CARD);
	assert_string_equal(m.xid, xid);
	assert_string_equal(m.peer, "A");
	assert_string_equal(m.card, card_a);
	cx_reply_msg_clear(&m);

	send_card(f, b2, "B", a, "A", xid, card_b);
}

/* Runs the broker with one bad option; it must refuse to start and log a "cardex:" line. */
static void expect_bad_option(const char *opts, const char *needle)
{
	cxb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = opts;
	cfg.accounts = accounts;
	cfg.naccounts = 1;
	assert_true(cxb_refused_with(&cfg, needle));
}

static void test_bad_options(void **state)
{
	struct fx *f = *state;

	expect_bad_option("plugin_opt_attempts 0\n", "cardex: invalid value for plugin_opt_attempts");
	expect_bad_option("plugin_opt_bogus 1\n", "cardex: unknown option plugin_opt_bogus");
	expect_bad_option("plugin_opt_key_ttl_max 601\n", "cardex: invalid value for plugin_opt_key_ttl_max");
	expect_bad_option("plugin_opt_key_digits_min 5\n", "cardex: invalid value for plugin_opt_key_digits_min");
	expect_bad_option("plugin_opt_exchange_ttl 9\n", "cardex: invalid value for plugin_opt_exchange_ttl");
	expect_bad_option("plugin_opt_require_sealed maybe\n", "cardex: invalid value for plugin_opt_require_sealed");
	expect_bad_option("plugin_opt_max_payload 1k\n", "cardex: invalid value for plugin_opt_max_payload");
	expect_bad_option("plugin_opt_claim_failures_per_min -1\n",
			"cardex: invalid value for plugin_opt_claim_failures_per_min");
	expect_bad_option("plugin_opt_max_offers 99999999999\n", "cardex: invalid value for plugin_opt_max_offers");
	expect_bad_option("plugin_opt_topic_prefix cx\n", "cardex: invalid value for plugin_opt_topic_prefix");
	expect_bad_option("plugin_opt_topic_prefix cx/+/\n", "cardex: invalid value for plugin_opt_topic_prefix");
	expect_bad_option("plugin_opt_key_ttl_max 60\nplugin_opt_key_ttl_default 120\n",
			"cardex: invalid value for plugin_opt_key_ttl_default");
	expect_bad_option("plugin_opt_claim_failures_per_min_per_address 0\n",
			"cardex: invalid value for plugin_opt_claim_failures_per_min_per_address");
	expect_bad_option("plugin_opt_claim_failures_per_min_total 100000001\n",
			"cardex: invalid value for plugin_opt_claim_failures_per_min_total");
	expect_bad_option("plugin_opt_max_limiters 1\n", "cardex: invalid value for plugin_opt_max_limiters");
	expect_bad_option("plugin_opt_error_replies_per_sec 0\n",
			"cardex: invalid value for plugin_opt_error_replies_per_sec");
	expect_bad_option("plugin_opt_stats_interval 86401\n", "cardex: invalid value for plugin_opt_stats_interval");
	expect_bad_option("plugin_opt_proxy_addresses 127.0.0.1 proxy.example\n",
			"cardex: invalid value for plugin_opt_proxy_addresses: \"proxy.example\" is not an IP address");
	expect_bad_option("plugin_opt_proxy_addresses 10.0.0.0/33\n",
			"cardex: invalid value for plugin_opt_proxy_addresses: \"10.0.0.0/33\" has a bad prefix length");
	expect_bad_option("plugin_opt_proxy_addresses ,\n",
			"cardex: invalid value for plugin_opt_proxy_addresses: \",\" holds no IP address");
	expect_bad_option("plugin_opt_terminals open\n", "cardex: invalid value for plugin_opt_terminals");
	expect_bad_option("plugin_opt_outside_acl yes\n", "cardex: invalid value for plugin_opt_outside_acl");
	expect_bad_option("plugin_opt_state_file cardex.state\n", "cardex: invalid value for plugin_opt_state_file");
	expect_bad_option("plugin_opt_max_sessions_per_terminal 0\n",
			"cardex: invalid value for plugin_opt_max_sessions_per_terminal");
	expect_bad_option("plugin_opt_max_terminals 0\n", "cardex: invalid value for plugin_opt_max_terminals");
	expect_bad_option("plugin_opt_session_expiry 2x\n", "cardex: invalid value for plugin_opt_session_expiry");
	expect_bad_option("plugin_opt_session_expiry 200y\n", "cardex: invalid value for plugin_opt_session_expiry");

	/* Every option at a valid value starts. */
	fx_start(f, "cx/",
			"plugin_opt_topic_prefix cx/\nplugin_opt_key_ttl_default 60\nplugin_opt_key_ttl_max 600\n"
			"plugin_opt_key_digits_min 8\nplugin_opt_attempts 5\nplugin_opt_exchange_ttl 3600\n"
			"plugin_opt_max_payload 1048576\nplugin_opt_claim_failures_per_min 10000\n"
			"plugin_opt_max_offers 1000\nplugin_opt_max_exchanges 1000\n"
			"plugin_opt_claim_failures_per_min_per_address 1000000\nplugin_opt_claim_failures_per_min_total 1\n"
			"plugin_opt_max_limiters 2\nplugin_opt_error_replies_per_sec 100000\nplugin_opt_stats_interval 0\n"
			"plugin_opt_terminals strict\nplugin_opt_outside_acl allow\nplugin_opt_max_sessions_per_terminal 1000\n"
			"plugin_opt_max_terminals 100000000\nplugin_opt_session_expiry 2w\n",
			0);
	assert_true(cxb_alive(&f->b));
}

/* With a topic prefix the namespace moves under it; the bare topics are outside. */
static void test_topic_prefix(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b;
	cx_reply_msg m;

	fx_start(f, "cx/v1/", "plugin_opt_topic_prefix cx/v1/\n", FX_ACL_ALL);
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	assert_string_equal(a->reply_topic, "cx/v1/reply/A");
	full_exchange(f, a, "A", b, "B", "483920");

	tc_publish_str(f, a, "cx/v1/keys/B", "{\"key\":\"483920\"}");
	next_error(f, a, &m, "type,code,topic,message", CX_CODE_BAD_TOPIC, "cx/v1/keys/B");
	cx_reply_msg_clear(&m);
	/* "keys/A" is outside this namespace: the plugin leaves it to the acl_file, no reply. */
	assert_int_equal(tc_subscribe(f, b, "keys/A", 0), 0);
	tc_publish_str(f, a, "keys/A", "{\"key\":\"483920\"}");
	pump(f, SILENCE_MS);
	assert_int_equal(a->next, a->nmsgs);
	assert_int_equal(b->nmsgs - b->next, 1);
	assert_string_equal(b->msgs[b->next].topic, "keys/A");
	assert_int_equal(tc_subscribe(f, b, "cx/v1/keys/#", 0), SUBACK_FAILURE);
}

/* Expiry notices: an unclaimed offer and an unfinished exchange. */
static void test_expiry(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *c;
	cx_reply_msg m;
	char xid[CX_XID_HEX + 1], payload[512];
	long long start;

	fx_start(f, "", "plugin_opt_key_ttl_default 5\nplugin_opt_exchange_ttl 10\n", 0);
	f->exchange_ttl = 10;
	a = terminal(f, "A", password_of("A"), true);
	b = terminal(f, "B", password_of("B"), true);
	c = terminal(f, "C", password_of("C"), true);

	offer(f, a, "A", "483920", 60, "o1");
	claim_match(f, a, "A", b, "B", "483920", "o1", "c1", xid);
	start = cxb_now_ms();
	/* An offer without "ttl" gets the operator's default of 5 s. */
	{
		char t[128];

		tc_publish_str(f, c, topic(f, t, sizeof(t), "keys", "C"), "{\"key\":\"97531000\",\"ref\":\"short\"}");
		next_reply(f, c, &m, "type,expires_in,ref");
		assert_int_equal(m.expires_in, 5);
		cx_reply_msg_clear(&m);
	}

	/* The offer expires after 5 s; ticks come at least every 100 ms. */
	next_reply_within(f, c, &m, "type,offer,ref", 8000);
	assert_int_equal(m.type, CX_REPLY_EXPIRED);
	assert_true(m.offer);
	assert_string_equal(m.ref, "short");
	cx_reply_msg_clear(&m);
	assert_true(cxb_now_ms() - start >= 4500);

	/* The exchange's 10 s lifetime ends; both parties are told. */
	next_reply_within(f, a, &m, "type,exchange", 8000);
	assert_int_equal(m.type, CX_REPLY_EXPIRED);
	assert_false(m.offer);
	assert_string_equal(m.xid, xid);
	cx_reply_msg_clear(&m);
	assert_true(cxb_now_ms() - start >= 9500);
	next_reply(f, b, &m, "type,exchange");
	assert_int_equal(m.type, CX_REPLY_EXPIRED);
	assert_string_equal(m.xid, xid);
	cx_reply_msg_clear(&m);

	/* The expired exchange is gone. */
	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card_a);
	tc_publish_str(f, a, "card/B", payload);
	next_error(f, a, &m, "type,code,topic,message,exchange", CX_CODE_UNKNOWN_EXCHANGE, "card/B");
	cx_reply_msg_clear(&m);
}


/* ---- probes of the broker's own topics and of identities ---- */

/* A dynamic-security configuration with no client, role or group, and every default denied. */
static const char dynsec_empty[] =
	"{\"defaultACLAccess\":{\"publishClientSend\":false,\"publishClientReceive\":false,"
	"\"subscribe\":false,\"unsubscribe\":false},\"clients\":[],\"groups\":[],\"roles\":[]}\n";

/* Reads a whole small file into a malloc'ed string. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(fp);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

/*
 * $CONTROL/dynamic-security/v1, with Mosquitto's dynamic-security plugin
 * loaded next to cardex (when it is installed): a terminal's command to
 * create a client and open the default ACL is refused (MQTT 5 PUBACK 0x87),
 * so is an anonymous client's, neither may subscribe to the responses, and
 * nothing changed: the client does not exist and the configuration file is
 * as it was.
 */
static void test_control_probe(void **state)
{
	struct fx *f = *state;
	static const char cmd[] =
		"{\"commands\":[{\"command\":\"createClient\",\"username\":\"evil\",\"password\":\"evil-pw\"},"
		"{\"command\":\"setDefaultACLAccess\",\"acls\":[{\"acltype\":\"publishClientSend\",\"allow\":true}]}]}";
	struct tc *a, *anon, *evil;
	struct tc *probes[2];
	int flags = FX_ANONYMOUS;
	char *after;

	if(cxb_dynsec_plugin() != NULL){
		write_temp(f->dynsec_conf, sizeof(f->dynsec_conf), "/tmp/cardex-dynsec-XXXXXX", dynsec_empty);
		flags |= FX_DYNSEC;
	}else{
		fprintf(stderr, "dynamic-security plugin not installed: probing $CONTROL without it\n");
	}
	fx_start(f, "", NULL, flags);
	a = tc_new_v5(f, "A", "A", password_of("A"));
	assert_int_equal(tc_connect(f, a), CONNACK_ACCEPTED);
	anon = tc_new_v5(f, "@anon-1", NULL, NULL);
	assert_int_equal(tc_connect(f, anon), CONNACK_ACCEPTED);
	probes[0] = a;
	probes[1] = anon;
	for(size_t i = 0; i < 2; i++){
		assert_true(tc_subscribe(f, probes[i], "$CONTROL/dynamic-security/v1/response", 1) >= SUBACK_FAILURE);
		assert_true(tc_subscribe(f, probes[i], "$CONTROL/#", 1) >= SUBACK_FAILURE);
		probes[i]->pub_reason = -1;
		tc_publish(f, probes[i], "$CONTROL/dynamic-security/v1", cmd, (int)strlen(cmd), false);
		assert_int_equal(probes[i]->pub_reason, MQTT_RC_NOT_AUTHORIZED);
	}
	expect_silence(f, probes, 2);

	evil = tc_new(f, "evil", "evil", "evil-pw", true, NULL);
	assert_int_equal(tc_connect(f, evil), CONNACK_NOT_AUTHORISED);
	if(flags & FX_DYNSEC){
		after = slurp(f->dynsec_conf);
		assert_string_equal(after, dynsec_empty);
		free(after);
		assert_true(cxb_log_contains(&f->b, "Loading plugin: "));
	}
	assert_still_serving(f, "424242");
}

/*
 * $SYS, published every second: neither a terminal nor an anonymous client
 * receives any of it, whether through "$SYS/#", one of its topics or "#",
 * nor may publish into it (not even the bridge-state topics Mosquitto lets
 * an ACL open). With outside_acl defer and no acl_file the subscriptions
 * themselves are refused (Mosquitto denies what every callback defers;
 * test_coexist shows $SYS as without the plugin in the default mode). With FX_ACL_ALL an acl_file grants
 * "#" to everyone (Mosquitto then grants the $SYS subscriptions but delivers
 * nothing of $SYS), and C may read $SYS/#: C sees $SYS being published, so
 * the silence of the others means something.
 */
static void sys_probe(struct fx *f, int fx_flags)
{
	static const char *const topics[] = {"$SYS/broker/uptime", "$SYS/broker/connection/x/state"};
	struct tc *a, *anon, *c = NULL;
	struct tc *probes[2];

	fx_start(f, "", NULL, fx_flags | FX_ANONYMOUS | FX_SYS);
	a = tc_new_v5(f, "A", "A", password_of("A"));
	assert_int_equal(tc_connect(f, a), CONNACK_ACCEPTED);
	anon = tc_new_v5(f, "@anon-1", NULL, NULL);
	assert_int_equal(tc_connect(f, anon), CONNACK_ACCEPTED);
	probes[0] = a;
	probes[1] = anon;
	for(size_t i = 0; i < 2; i++){
		int sys_all = tc_subscribe(f, probes[i], "$SYS/#", 0);
		int sys_one = tc_subscribe(f, probes[i], "$SYS/broker/uptime", 0);

		if(fx_flags & FX_DEFER){
			assert_true(sys_all >= SUBACK_FAILURE);
			assert_true(sys_one >= SUBACK_FAILURE);
		}
		assert_true(tc_subscribe(f, probes[i], "#", 0) >= 0);
		for(size_t k = 0; k < sizeof(topics) / sizeof(topics[0]); k++){
			probes[i]->pub_reason = -1;
			tc_publish(f, probes[i], topics[k], "0", 1, false);
			assert_int_equal(probes[i]->pub_reason, MQTT_RC_NOT_AUTHORIZED);
		}
	}
	if(fx_flags & FX_ACL_ALL){
		c = tc_new(f, "C", "C", password_of("C"), true, "C");
		assert_int_equal(tc_connect(f, c), CONNACK_ACCEPTED);
		assert_int_equal(tc_subscribe(f, c, "$SYS/broker/uptime", 0), 0);
	}
	/* Two $SYS rounds. */
	expect_silence(f, probes, 2);
	pump(f, 2200);
	expect_silence(f, probes, 2);
	if(c != NULL){
		assert_true(c->nmsgs >= 1);
		assert_string_equal(c->msgs[0].topic, "$SYS/broker/uptime");
	}
}

static void test_sys_probe(void **state)
{
	sys_probe(*state, FX_DEFER);
}

static void test_sys_probe_acl_all(void **state)
{
	sys_probe(*state, FX_ACL_ALL);
}

/*
 * Takeover of an offline persistent session that holds a card: another
 * terminal using B's client ID (plain or with a suffix), B's ID with a wrong
 * password, and an anonymous client with B's ID are all refused; none of
 * them receives anything, and the card waits for B and reaches it.
 */
static void test_session_takeover_probe(void **state)
{
	struct fx *f = *state;
	struct tc *a, *b, *b2, *t;
	struct tc *probes[4];
	static const struct {
		const char *client_id;
		const char *user;
		const char *password;
	} cases[] = {
		{"B", "C", "pw-c-secret"},
		{"B:steal", "C", "pw-c-secret"},
		{"B", "B", "not-b-password"},
		{"B", NULL, NULL},
	};
	char xid[CX_XID_HEX + 1], payload[512];
	cx_reply_msg m;

	fx_start(f, "", NULL, FX_ANONYMOUS);
	a = terminal(f, "A", password_of("A"), false);
	b = terminal(f, "B", password_of("B"), false);
	offer(f, a, "A", "483920", 60, "o1");
	claim_match(f, a, "A", b, "B", "483920", "o1", "c1", xid);
	mosquitto_disconnect(b->m);
	pump(f, 100);
	snprintf(payload, sizeof(payload), "{\"exchange\":\"%s\",\"card\":%s}", xid, card_a);
	tc_publish_str(f, a, "card/B", payload);
	next_reply(f, a, &m, "type,exchange,to");
	assert_int_equal(m.type, CX_REPLY_SENT);
	cx_reply_msg_clear(&m);

	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		t = tc_new(f, cases[i].client_id, cases[i].user, cases[i].password, false, NULL);
		if(tc_connect(f, t) != CONNACK_NOT_AUTHORISED){
			fprintf(stderr, "client id %s user %s: CONNACK %d\n", cases[i].client_id,
					cases[i].user ? cases[i].user : "(none)", t->connack);
			fail();
		}
		probes[i] = t;
	}
	expect_silence(f, probes, 4);

	b2 = tc_new(f, "B", "B", password_of("B"), false, "B");
	assert_int_equal(tc_connect(f, b2), CONNACK_ACCEPTED);
	next_reply(f, b2, &m, "type,exchange,from,card");
	assert_int_equal(m.type, CX_REPLY_CARD);
	assert_string_equal(m.card, card_a);
	cx_reply_msg_clear(&m);
	expect_silence(f, probes, 4);
}

/*
 * Strict mode: usernames that are not terminal IDs are refused at CONNECT even where
 * anonymous clients are allowed (so the refusal is the plugin's), whatever
 * the client ID; so is a terminal using a client ID made from another's.
 */
static void test_username_probes(void **state)
{
	struct fx *f = *state;
	struct tc *t;
	static const struct {
		const char *client_id;
		const char *user;
	} cases[] = {
		{"empty", ""},
		{"hash", "#"},
		{"plus", "+"},
		{"sys", "$SYS"},
		{"slash", "A/B"},
		{"umlaut", "\xc3\x84" "da"},
		{"space", " A"},
		{"B:A", "A"},
		{"A:B", "B"},
	};

	fx_start(f, "", NULL, FX_ANONYMOUS | FX_STRICT);
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		t = tc_new(f, cases[i].client_id, cases[i].user, password_of(cases[i].user), true, NULL);
		if(tc_connect(f, t) != CONNACK_NOT_AUTHORISED){
			fprintf(stderr, "client id \"%s\" user \"%s\": CONNACK %d\n", cases[i].client_id, cases[i].user,
					t->connack);
			fail();
		}
	}
	assert_true(cxb_log_contains(&f->b, "cardex: refused connection from 127.0.0.1: username is not a valid terminal ID"));
	assert_still_serving(f, "515151");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_namespace_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_topics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spoofed_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_third_party_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_binding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_enforced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_payloads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_retained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sys_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sys_probe_acl_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_takeover_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_username_probes, setup, teardown),
	};
	int rc;

	mosquitto_lib_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
