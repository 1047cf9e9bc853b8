/*
 * The namespace matrix: every way an MQTT 3.1.1 or MQTT 5 client can put a
 * message on a topic or read one, tried by a hostile terminal (M) against
 * every kind of namespace topic, with the topic prefix unset and set, in the
 * real Mosquitto with the plugin. Each row of `rows` below states the
 * expected outcome; `test_matrix --table` prints the rows as the Markdown
 * table that docs/protocol.md publishes (a ctest check keeps the two equal).
 *
 * Throughout the run, terminals A and B exchange cards; B (two sessions),
 * A and an operator account that may read "#" (acl_file) watch. Every
 * hostile payload carries the marker FORGED: at the end none of them may
 * have reached anyone, and the broker's persistence file, written when it
 * stops, must hold none of them (nothing retained, nothing queued).
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

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "mqttc.h"

#define V3 MQTT_PROTOCOL_V311
#define V5 MQTT_PROTOCOL_V5
#define RC_NOT_AUTHORIZED 0x87
#define SUBACK_V3_FAILURE 0x80
#define MARK "FORGED"
/* A reply as the plugin would write it, "from" A: what a forger would put on reply/B. */
#define FORGED_CARD "{\"type\":\"card\",\"exchange\":\"00112233445566778899aabbccddeeff\",\"from\":\"A\"," \
	"\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"" MARK "\"]]]}"

static const cxb_account accounts[] = {
	{"A", "pw-a"},
	{"B", "pw-b"},
	{"M", "pw-m"},
	{"ops", "pw-ops"},
	{"a b", "pw-odd"},
	{"REPLY", "pw-odd"},
};

/* One broker and the clients that watch it. */
struct mx {
	cxb_broker b;
	bool started;
	const char *prefix;
	char aclfile[300];
	mc_set s;
	mc_client *a;    /* terminal A, the honest peer */
	mc_client *b1;   /* terminal B, client ID "B" */
	mc_client *b2;   /* terminal B, client ID "B:x" */
	mc_client *mobs; /* M's own replies, client ID "M:obs" */
	mc_client *ops;  /* an operator allowed to read "#" by the acl_file */
	char store[300];   /* the broker's persistence_location, kept after it stops */
	int seq;         /* numbers the hostile client IDs and A's keys */
	char key[16];    /* A's current instant key */
};

/* ---- topics and small helpers ---- */

static const char *t(const struct mx *x, char *buf, size_t cap, const char *rest)
{
	snprintf(buf, cap, "%s%s", x->prefix, rest);
	return buf;
}

static mc_client *connected(struct mx *x, const char *id, const char *user, bool clean, int proto)
{
	const char *pw = "none";
	mc_client *c;

	for(size_t i = 0; user != NULL && i < sizeof(accounts) / sizeof(accounts[0]); i++){
		if(strcmp(accounts[i].id, user) == 0){
			pw = accounts[i].password;
		}
	}
	c = mc_new(&x->s, id, user, pw, clean, proto);
	assert_non_null(c);
	assert_int_equal(mc_connect(&x->s, c, NULL), 0);
	return c;
}

/* A fresh hostile client ID of M: "M:<tag><n>". */
static const char *m_id(struct mx *x, char *buf, size_t cap, const char *tag)
{
	snprintf(buf, cap, "M:%s%d", tag, x->seq++);
	return buf;
}

/* Error replies M's observer has received so far. */
static size_t m_errors(const struct mx *x)
{
	return mc_count(x->mobs, "\"type\":\"error\"");
}

/* Waits until M's observer has received want error replies in all; asserts it. */
static void expect_m_errors(struct mx *x, size_t want)
{
	assert_true(mc_wait_count(&x->s, x->mobs, "\"type\":\"error\"", want));
	mc_pump(&x->s, 20);
	assert_int_equal(m_errors(x), want);
}

/*
 * Whether the broker's persistence file (written when it stopped) holds the
 * bytes of needle: 1 or 0, or -1 when it cannot be read.
 */
static int store_has(const struct mx *x, const char *needle)
{
	char path[400];
	char *buf;
	long size;
	int found = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/mosquitto.db", x->store);
	fp = fopen(path, "rb");
	if(fp == NULL){
		return -1;
	}
	fseek(fp, 0, SEEK_END);
	size = ftell(fp);
	rewind(fp);
	buf = size > 0 ? malloc((size_t)size) : NULL;
	if(buf != NULL && fread(buf, 1, (size_t)size, fp) == (size_t)size){
		found = 0;
		for(long i = 0; found == 0 && i + (long)strlen(needle) <= size; i++){
			found = memcmp(buf + i, needle, strlen(needle)) == 0;
		}
	}
	free(buf);
	fclose(fp);
	return found;
}

/* ---- the honest exchange that runs beside the attacks ---- */

/*
 * Publishes a request at QoS 1 and waits for its PUBACK: 0 in MQTT 3.1.1,
 * 0x87 in MQTT 5, since the plugin consumes every request it answers.
 */
static void request(struct mx *x, mc_client *c, const char *rest, const char *payload)
{
	char topic[128];

	assert_int_equal(mc_publish(&x->s, c, t(x, topic, sizeof(topic), rest), payload, (int)strlen(payload),
			1, false, NULL), c->protocol == V5 ? RC_NOT_AUTHORIZED : 0);
}

/*
 * A offers a fresh key (ttl 600), as a terminal does each time, and waits
 * for its "offer" reply. The key stays in x->key for B to claim with.
 */
static void a_offers(struct mx *x)
{
	char payload[128];
	size_t before = mc_count(x->a, "\"type\":\"offer\"");

	snprintf(x->key, sizeof(x->key), "%06d", 482915 + x->seq++);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ttl\":600}", x->key);
	request(x, x->a, "keys/A", payload);
	assert_true(mc_wait_count(&x->s, x->a, "\"type\":\"offer\"", before + 1));
}

/* Copies the exchange ID of the newest "match" c received into xid[33]. */
static void last_xid(const mc_client *c, char xid[33])
{
	for(size_t i = c->nmsgs; i-- > 0;){
		const char *p = strstr(c->msgs[i].payload, "\"exchange\":\"");

		if(strstr(c->msgs[i].payload, "\"type\":\"match\"") != NULL && p != NULL){
			memcpy(xid, p + 12, 32);
			xid[32] = '\0';
			return;
		}
	}
	fail_msg("no match received");
}

/*
 * A offers, the session b of terminal B claims, and A sends B a card named
 * name. Returns with the card's payload in payload[cap] (B sends the same one
 * back, if it will) once b has the match.
 */
static void a_matches_b(struct mx *x, mc_client *b, const char *name, char *payload, size_t cap)
{
	char xid[33];
	size_t matches = mc_count(b, "\"type\":\"match\"");

	a_offers(x);
	snprintf(payload, cap, "{\"key\":\"%s\"}", x->key);
	request(x, b, "claim/A", payload);
	assert_true(mc_wait_count(&x->s, b, "\"type\":\"match\"", matches + 1));
	last_xid(b, xid);
	snprintf(payload, cap, "{\"exchange\":\"%s\",\"card\":[\"vcard\",[[\"version\",{},"
			"\"text\",\"4.0\"],[\"fn\",{},\"text\",\"%s\"]]]}", xid, name);
	request(x, x->a, "card/B", payload);
}

/*
 * B claims A's live offer, then both send cards. Returns once both cards
 * arrived; card texts carry name, so that a test can look for them.
 */
static void honest_exchange(struct mx *x, const char *name)
{
	char payload[512];
	size_t cards_b = mc_count(x->b1, name);
	size_t cards_a = mc_count(x->a, name);

	a_matches_b(x, x->b1, name, payload, sizeof(payload));
	request(x, x->b1, "card/A", payload);
	assert_true(mc_wait_count(&x->s, x->b1, name, cards_b + 1));
	assert_true(mc_wait_count(&x->s, x->a, name, cards_a + 1));
}

/* ---- the rows ---- */

/* Namespace topics M may try to put a message on (after the prefix). */
static const char *const write_topics[] = {
	"keys/M", "keys/B", "claim/B", "card/B", "reply/M", "reply/B",
	"reply/B/x", "claim/", "card/B/x", "reply/B\xe2\x80\x8b", "reply/\xef\xbc\xa2",
};
#define NWRITE (sizeof(write_topics) / sizeof(write_topics[0]))

/* PUBLISH, every QoS, retained or not, both protocol versions. */
static void run_publish(struct mx *x)
{
	static const int protos[] = {V3, V5};
	char id[64];
	char topic[128];
	size_t errors = m_errors(x);

	for(size_t p = 0; p < 2; p++){
		mc_client *m = connected(x, m_id(x, id, sizeof(id), "p"), "M", true, protos[p]);

		for(int qos = 0; qos <= 2; qos++){
			for(int retain = 0; retain <= 1; retain++){
				for(size_t i = 0; i < NWRITE; i++){
					int rc = mc_publish(&x->s, m, t(x, topic, sizeof(topic), write_topics[i]),
							FORGED_CARD, (int)strlen(FORGED_CARD), qos, retain, NULL);

					assert_int_equal(rc, protos[p] == V5 && qos > 0 ? RC_NOT_AUTHORIZED : 0);
					expect_m_errors(x, ++errors);
				}
			}
		}
		assert_true(m->connected);
	}
}

/* How a will is made to fire. */
enum trigger { T_DROP, T_DISCONNECT_04, T_TAKEOVER, T_DELAYED };

/* Wills: every namespace topic, QoS, retain flag and way of firing. */
static void run_wills(struct mx *x)
{
	static const struct {
		int proto;
		enum trigger how;
	} ways[] = {
		{V3, T_DROP}, {V3, T_TAKEOVER},
		{V5, T_DROP}, {V5, T_DISCONNECT_04}, {V5, T_TAKEOVER}, {V5, T_DELAYED},
	};
	char id[64];
	char topic[128];
	char reply_b[128];
	size_t errors = m_errors(x);
	size_t delayed = 0;

	for(size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++){
		for(int qos = 0; qos <= 2; qos++){
			for(int retain = 0; retain <= 1; retain++){
				for(size_t i = 0; i < NWRITE; i++){
					mosquitto_property *will_props = NULL;
					mosquitto_property *conn_props = NULL;
					mc_client *m;

					m = mc_new(&x->s, m_id(x, id, sizeof(id), "w"), "M", "pw-m", true, ways[w].proto);
					assert_non_null(m);
					if(ways[w].proto == V5){
						/* Properties that point elsewhere: they must not carry the will anywhere. */
						t(x, reply_b, sizeof(reply_b), "reply/B");
						mosquitto_property_add_string(&will_props, MQTT_PROP_RESPONSE_TOPIC, reply_b);
						mosquitto_property_add_binary(&will_props, MQTT_PROP_CORRELATION_DATA, MARK, 6);
						mosquitto_property_add_string_pair(&will_props, MQTT_PROP_USER_PROPERTY, "from", "A");
						mosquitto_property_add_int32(&will_props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 60);
						if(ways[w].how == T_DELAYED){
							mosquitto_property_add_int32(&will_props, MQTT_PROP_WILL_DELAY_INTERVAL, 1);
							mosquitto_property_add_int32(&conn_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 30);
						}
					}
					assert_int_equal(mosquitto_will_set_v5(m->m, t(x, topic, sizeof(topic), write_topics[i]),
							(int)strlen(FORGED_CARD), FORGED_CARD, qos, retain, will_props), MOSQ_ERR_SUCCESS);
					assert_int_equal(mc_connect(&x->s, m, conn_props), 0);
					mosquitto_property_free_all(&conn_props);
					switch(ways[w].how){
					case T_DROP:
						mc_drop(&x->s, m);
						break;
					case T_DISCONNECT_04:
						mosquitto_disconnect_v5(m->m, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL);
						mosquitto_loop(m->m, 0, 1);
						m->connected = false;
						break;
					case T_TAKEOVER: {
						mc_client *again = mc_new(&x->s, id, "M", "pw-m", true, ways[w].proto);

						assert_non_null(again);
						assert_int_equal(mc_connect(&x->s, again, NULL), 0);
						mc_close(&x->s, again);
						break;
					}
					case T_DELAYED:
						mc_drop(&x->s, m);
						break;
					}
					mc_close(&x->s, m);
					if(ways[w].how == T_DELAYED){
						delayed++;
						continue;
					}
					/* Each will is handled as M's own request: one error reply to M. */
					expect_m_errors(x, ++errors);
				}
			}
		}
	}
	/* The delayed wills land together about a second later, each answered to M. */
	errors += delayed;
	assert_true(mc_wait_count(&x->s, x->mobs, "\"type\":\"error\"", errors));
	mc_pump(&x->s, 300);
	assert_int_equal(m_errors(x), errors);
}

/* MQTT 5 topic aliases, both ways. */
static void run_aliases(struct mx *x)
{
	char id[64];
	char topic[128];
	mosquitto_property *alias1 = NULL;
	mosquitto_property *alias2 = NULL;
	mc_client *m = connected(x, m_id(x, id, sizeof(id), "a"), "M", true, V5);
	size_t errors = m_errors(x);
	size_t seen = mc_count_topic(x->ops, "plain/alias");

	mosquitto_property_add_int16(&alias1, MQTT_PROP_TOPIC_ALIAS, 1);
	mosquitto_property_add_int16(&alias2, MQTT_PROP_TOPIC_ALIAS, 2);
	/* Alias 1 set on an outside topic: routed as usual. */
	assert_int_equal(mc_publish(&x->s, m, "plain/alias", "hello", 5, 1, false, alias1), 0);
	/* Alias 1 moved to reply/B, then used alone: refused both times. */
	assert_int_equal(mc_publish(&x->s, m, t(x, topic, sizeof(topic), "reply/B"), FORGED_CARD,
			(int)strlen(FORGED_CARD), 1, false, alias1), RC_NOT_AUTHORIZED);
	expect_m_errors(x, ++errors);
	assert_int_equal(mc_publish(&x->s, m, NULL, FORGED_CARD, (int)strlen(FORGED_CARD), 1, false, alias1),
			RC_NOT_AUTHORIZED);
	expect_m_errors(x, ++errors);
	/* The reverse: alias 2 first set on claim/B, then moved to an outside topic, which works. */
	assert_int_equal(mc_publish(&x->s, m, t(x, topic, sizeof(topic), "claim/B"), FORGED_CARD,
			(int)strlen(FORGED_CARD), 1, false, alias2), RC_NOT_AUTHORIZED);
	expect_m_errors(x, ++errors);
	assert_int_equal(mc_publish(&x->s, m, "plain/alias", "again", 5, 1, false, alias2), 0);
	assert_int_equal(mc_publish(&x->s, m, NULL, "third", 5, 1, false, alias2), 0);
	mc_pump(&x->s, 100);
	assert_int_equal(mc_count_topic(x->ops, "plain/alias"), seen + 3);
	mosquitto_property_free_all(&alias1);
	mosquitto_property_free_all(&alias2);
}

/*
 * MQTT 5 request properties: a wrong claim on A's live offer with a response
 * topic and correlation data pointing at reply/B, user properties, message
 * expiry, and a payload format indicator with invalid UTF-8.
 */
static void run_properties(struct mx *x)
{
	char id[64];
	char topic[128];
	char reply_b[128];
	mosquitto_property *props = NULL;
	mosquitto_property *utf8 = NULL;
	mc_client *m = connected(x, m_id(x, id, sizeof(id), "r"), "M", true, V5);
	size_t errors = m_errors(x);
	size_t attempts = mc_count(x->a, "\"type\":\"attempt\"");
	size_t no_match = mc_count(x->mobs, "no-match");
	static const char bad_claim[] = "{\"key\":\"000000\",\"ref\":\"" MARK "\"}";
	static const char bad_utf8[] = "{\"key\":\"\xff\xfe\"}";

	a_offers(x);
	t(x, reply_b, sizeof(reply_b), "reply/B");
	mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, reply_b);
	mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, MARK, 6);
	mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, "reply-to", "B");
	mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
	assert_int_equal(mc_publish(&x->s, m, t(x, topic, sizeof(topic), "claim/A"), bad_claim,
			(int)strlen(bad_claim), 1, false, props), RC_NOT_AUTHORIZED);
	/* no-match goes to M alone; A learns of the attempt; B gets nothing (checked at the end). */
	expect_m_errors(x, ++errors);
	assert_int_equal(mc_count(x->mobs, "no-match"), no_match + 1);
	assert_true(mc_wait_count(&x->s, x->a, "\"type\":\"attempt\"", attempts + 1));

	mosquitto_property_add_byte(&utf8, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 1);
	assert_int_equal(mc_publish(&x->s, m, t(x, topic, sizeof(topic), "claim/A"), bad_utf8,
			(int)strlen(bad_utf8), 1, false, utf8), RC_NOT_AUTHORIZED);
	expect_m_errors(x, ++errors);
	assert_true(m->connected);
	mosquitto_property_free_all(&props);
	mosquitto_property_free_all(&utf8);
}

/*
 * QoS 2 by hand: a PUBREL for a packet ID never published, and a wrong
 * claim resent with DUP and the same packet ID before PUBREL, which must be
 * evaluated once: A is told of one attempt; the copy is answered as the
 * first was (no-match again), so that a client that resends gets its answer.
 */
static void run_qos2(struct mx *x)
{
	char topic[128];
	char id[64];
	static const char claim[] = "{\"key\":\"000001\"}";
	size_t attempts;
	size_t errors = m_errors(x);
	size_t no_match = mc_count(x->mobs, "no-match");
	int fd = mc_raw_connect(x->b.port, m_id(x, id, sizeof(id), "q"), "M", "pw-m");

	assert_true(fd >= 0);
	assert_int_equal(mc_raw_pubrel(fd, 777), 0);
	assert_int_equal(mc_raw_expect(fd, 7, MC_WAIT_MS), 777);

	a_offers(x);
	attempts = mc_count(x->a, "\"type\":\"attempt\"");
	t(x, topic, sizeof(topic), "claim/A");
	assert_int_equal(mc_raw_publish_qos2(fd, 42, false, topic, claim, strlen(claim)), 0);
	assert_int_equal(mc_raw_expect(fd, 5, MC_WAIT_MS), 42);
	assert_int_equal(mc_raw_publish_qos2(fd, 42, true, topic, claim, strlen(claim)), 0);
	assert_int_equal(mc_raw_expect(fd, 5, MC_WAIT_MS), 42);
	assert_int_equal(mc_raw_pubrel(fd, 42), 0);
	assert_int_equal(mc_raw_expect(fd, 7, MC_WAIT_MS), 42);
	expect_m_errors(x, errors + 2);
	assert_int_equal(mc_count(x->mobs, "no-match"), no_match + 2);
	assert_true(mc_wait_count(&x->s, x->a, "\"type\":\"attempt\"", attempts + 1));
	mc_pump(&x->s, 300);
	assert_int_equal(mc_count(x->a, "\"type\":\"attempt\""), attempts + 1);
	assert_int_equal(m_errors(x), errors + 2);
	mc_raw_close(fd);
}

/* Filters M subscribes to: the SUBACK it must get, then A and B exchange and M must see nothing. */
static void run_subscriptions(struct mx *x)
{
	static const struct {
		const char *filter;
		bool refused;   /* can only match namespace topics M may not read */
		bool prefixed;  /* the filter starts with the prefix */
	} filters[] = {
		{"#", false, false}, {"+/B", false, false}, {"+/+", false, false}, {"$share/g/#", false, false},
		{"reply/+", false, true}, {"reply/#", false, true}, {"reply/B", true, true},
		{"$share/g/reply/B", true, true}, {"keys/#", true, true}, {"claim/B", true, true},
		{"card/+", true, true}, {"reply/M", false, true},
	};
	static const int protos[] = {V3, V5};
	char id[64];
	char filter[160];
	mc_client *ms[2];
	char name[32];

	for(size_t p = 0; p < 2; p++){
		ms[p] = connected(x, m_id(x, id, sizeof(id), "s"), "M", true, protos[p]);
		for(size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++){
			mosquitto_property *props = NULL;
			int options = 0;
			int rc;
			const char *f = filters[i].filter;

			if(filters[i].prefixed){
				if(strncmp(f, "$share/g/", 9) == 0){
					snprintf(filter, sizeof(filter), "$share/g/%s%s", x->prefix, f + 9);
				}else{
					snprintf(filter, sizeof(filter), "%s%s", x->prefix, f);
				}
				f = filter;
			}
			if(protos[p] == V5){
				options = MQTT_SUB_OPT_NO_LOCAL | MQTT_SUB_OPT_RETAIN_AS_PUBLISHED
						| (i % 2 ? MQTT_SUB_OPT_SEND_RETAIN_ALWAYS : MQTT_SUB_OPT_SEND_RETAIN_NEW);
				mosquitto_property_add_varint(&props, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, (uint32_t)i + 1);
			}
			rc = mc_subscribe(&x->s, ms[p], f, 1, options, props);
			mosquitto_property_free_all(&props);
			if(filters[i].refused != (rc >= SUBACK_V3_FAILURE) || rc < 0){
				fail_msg("SUBSCRIBE %s (MQTT %d): SUBACK %d", f, protos[p], rc);
			}
		}
	}
	snprintf(name, sizeof(name), "Sub Card %d", x->seq);
	honest_exchange(x, name);
	mc_pump(&x->s, 200);
	for(size_t p = 0; p < 2; p++){
		assert_int_equal(mc_count(ms[p], name), 0);
		assert_int_equal(mc_count(ms[p], "\"type\":\"match\""), 0);
	}
}

/*
 * Identities: connections that would take over, or wipe, a terminal's
 * session are refused; identities that are not a terminal's get nothing in
 * the namespace; B's two sessions both get B's replies and nobody else does.
 */
static void run_identities(struct mx *x)
{
	static const struct {
		const char *id;
		const char *user; /* NULL: anonymous */
	} takeovers[] = {
		{"B", NULL}, {"B:x", NULL}, {"B", "M"}, {"B:evil", "M"}, {"A", "ops"},
	};
	static const char *const odd_users[] = {"A:x", "a b", "REPLY"};
	char topic[128];
	char name[32];

	for(size_t i = 0; i < sizeof(takeovers) / sizeof(takeovers[0]); i++){
		for(int proto = 0; proto < 2; proto++){
			mc_client *c = mc_new(&x->s, takeovers[i].id, takeovers[i].user,
					takeovers[i].user != NULL ? (strcmp(takeovers[i].user, "M") == 0 ? "pw-m" : "pw-ops") : NULL,
					true, proto ? V5 : V3);

			assert_non_null(c);
			assert_true(mc_connect(&x->s, c, NULL) != 0);
			mc_close(&x->s, c);
		}
	}
	/* B's sessions were not disturbed by any of that. */
	mc_pump(&x->s, 100);
	assert_true(x->b1->connected && x->b2->connected);

	/* Odd usernames: refused, or connected with nothing in the namespace. */
	for(size_t i = 0; i < sizeof(odd_users) / sizeof(odd_users[0]); i++){
		mc_client *c = mc_new(&x->s, odd_users[i], odd_users[i], "pw-odd", true, V5);

		assert_non_null(c);
		if(mc_connect(&x->s, c, NULL) == 0){
			assert_true(mc_subscribe(&x->s, c, t(x, topic, sizeof(topic), "reply/A"), 1, 0, NULL) >= 0x80);
			assert_int_equal(mc_publish(&x->s, c, t(x, topic, sizeof(topic), "claim/A"), FORGED_CARD,
					(int)strlen(FORGED_CARD), 1, false, NULL), RC_NOT_AUTHORIZED);
		}
	}

	/* A card in flight while B takes its own session over: it reaches B, and only B. */
	snprintf(name, sizeof(name), "Takeover Card %d", x->seq++);
	{
		mc_client *again;
		size_t before = mc_count(x->b1, name);

		honest_exchange(x, name);
		again = connected(x, "B", "B", false, V5);
		mc_pump(&x->s, 200);
		assert_true(mc_count(x->b1, name) + mc_count(again, name) >= before + 1);
		x->b1 = again;
	}
	/* Both of B's sessions got every card sent to B. */
	assert_int_equal(mc_count(x->b2, name), 1);
}

/*
 * B's offline session keeps its card: a clean start of another session of B
 * does not wipe it, and a flood of wills aimed at reply/B (more than the
 * broker queues for one client, max_queued_messages 100 here) does not push
 * it out.
 */
static void run_queued(struct mx *x)
{
	char topic[128];
	char payload[512];
	char name[32];
	mc_client *b;
	mc_client *y;

	snprintf(name, sizeof(name), "Queued Card %d", x->seq++);
	/* B's persistent MQTT 3.1.1 session, subscribed, then offline. */
	b = connected(x, "B", "B", false, V3);
	assert_int_equal(mc_subscribe(&x->s, b, t(x, topic, sizeof(topic), "reply/B"), 1, 0, NULL), 1);
	mc_close(&x->s, b);
	x->b1 = NULL;
	/* B:y comes and goes with a clean start. */
	y = connected(x, "B:y", "B", true, V3);
	assert_int_equal(mc_subscribe(&x->s, y, t(x, topic, sizeof(topic), "reply/B"), 1, 0, NULL), 1);
	mc_close(&x->s, y);
	for(int i = 0; i < 150; i++){
		char id[64];
		mc_client *m = mc_new(&x->s, m_id(x, id, sizeof(id), "f"), "M", "pw-m", true, V3);

		assert_non_null(m);
		assert_int_equal(mosquitto_will_set(m->m, t(x, topic, sizeof(topic), "reply/B"),
				(int)strlen(FORGED_CARD), FORGED_CARD, 1, false), MOSQ_ERR_SUCCESS);
		assert_int_equal(mc_connect(&x->s, m, NULL), 0);
		mc_drop(&x->s, m);
		mc_close(&x->s, m);
	}
	mc_pump(&x->s, 50);
	/* B:x exchanges with A: the card goes to B:x now and waits in B's session. */
	a_matches_b(x, x->b2, name, payload, sizeof(payload));
	assert_true(mc_wait_count(&x->s, x->b2, name, 1));
	b = connected(x, "B", "B", false, V3);
	assert_true(mc_wait_count(&x->s, b, name, 1));
	x->b1 = b;
}

/*
 * Outside the prefix (when one is set), "reply/B" is an ordinary topic that
 * the broker's own rules govern; nothing published there reaches B's reply
 * topic.
 */
static void run_outside(struct mx *x)
{
	char id[64];
	mc_client *m = connected(x, m_id(x, id, sizeof(id), "o"), "M", true, V5);
	size_t errors = m_errors(x);

	/* "REPLY/B" is outside the namespace whatever the prefix (topics are case-sensitive). */
	assert_int_equal(mc_publish(&x->s, m, "REPLY/B", FORGED_CARD, (int)strlen(FORGED_CARD), 1, false, NULL),
			RC_NOT_AUTHORIZED);
	if(x->prefix[0] != '\0'){
		assert_int_equal(mc_publish(&x->s, m, "reply/B", FORGED_CARD, (int)strlen(FORGED_CARD), 1, false,
				NULL), RC_NOT_AUTHORIZED);
	}
	mc_pump(&x->s, 100);
	/* The acl_file refused these, as it would without the plugin: no cardex error reply. */
	assert_int_equal(m_errors(x), errors);
}

struct row {
	const char *how;
	const char *variants;
	const char *topics;
	const char *expect;
	void (*run)(struct mx *x);
};

static const struct row rows[] = {
	{"PUBLISH", "QoS 0, 1, 2 × retain 0, 1 × MQTT 3.1.1, 5",
		"keys/M, keys/B, claim/B, card/B, reply/M, reply/B, reply/B/x, claim/, card/B/x, "
		"reply/B+U+200B, reply/Ｂ",
		"consumed: one error reply to M (MQTT 5: PUBACK/PUBREC 0x87); never delivered, never retained",
		run_publish},
	{"Will", "dropped socket, takeover (3.1.1, 5); DISCONNECT 0x04, will delay 1 s (5) × QoS 0, 1, 2 × "
		"retain 0, 1; MQTT 5 will properties: response topic reply/B, correlation data, user property, "
		"message expiry",
		"the same eleven topics",
		"handled as M's own request when the broker sends it: one error reply to M; never delivered, "
		"never retained", run_wills},
	{"MQTT 5 topic alias", "alias set on plain/alias then moved to reply/B and used alone; alias set on "
		"claim/B then moved to plain/alias",
		"reply/B, claim/B, plain/alias",
		"namespace uses consumed with an error reply to M; the outside topic routed as usual", run_aliases},
	{"MQTT 5 request properties", "response topic reply/B, correlation data, user property, message "
		"expiry on a wrong claim; payload format indicator 1 with invalid UTF-8",
		"claim/A",
		"no-match to M alone, attempt notice to A, nothing to B; invalid UTF-8 refused with an error reply",
		run_properties},
	{"SUBSCRIBE", "MQTT 3.1.1, 5 (no-local, retain-as-published, retain handling 0 and 1, subscription "
		"identifier), overlapping filters",
		"#, +/B, +/+, $share/g/#, reply/+, reply/#, reply/B, $share/g/reply/B, keys/#, claim/B, card/+, "
		"reply/M",
		"filters that can only match others' namespace topics refused at SUBACK; the others granted "
		"(reply/+ and reply/# can match reply/M); M receives nothing of an A–B exchange",
		run_subscriptions},
	{"Identity", "anonymous client IDs B, B:x; M as B and B:evil; ops as A (3.1.1, 5); usernames "
		"A:x, \"a b\", REPLY (a terminal of its own); B taking its own session over with a card in flight",
		"—",
		"takeovers refused at CONNECT and B's sessions undisturbed; odd usernames get nothing in the "
		"namespace; the card reaches B's sessions only",
		run_identities},
	{"Queued replies", "B offline with a persistent session; B:y connects with a clean start; "
		"150 wills from M on reply/B with max_queued_messages 100",
		"reply/B",
		"B's queued card survives and is delivered when B comes back", run_queued},
	{"Outside the namespace", "REPLY/B; reply/B when a prefix is set",
		"REPLY/B, reply/B",
		"the broker's own rules apply (here the acl_file refuses); no cardex reply, nothing reaches B",
		run_outside},
	{"QoS 2 by hand (3.1.1)", "PUBREL for an unknown packet ID; a wrong claim resent with DUP and the "
		"same packet ID before PUBREL",
		"claim/A",
		"PUBCOMP, nothing evaluated; the claim evaluated once (one attempt notice to A), its copy answered "
		"as the first was (no-match again to M)",
		run_qos2},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* ---- fixture ---- */

static int start(struct mx *x, const char *prefix)
{
	char opts[512];
	char extra[1024];
	FILE *fp;
	cxb_config cfg = {0};

	x->prefix = prefix;
	/* An operator who may read everything, and terminals' ordinary topics. */
	snprintf(x->aclfile, sizeof(x->aclfile), "/tmp/cardex-matrix-acl.%d", (int)getpid());
	fp = fopen(x->aclfile, "w");
	if(fp == NULL){
		return -1;
	}
	fprintf(fp, "user ops\ntopic read #\n\npattern readwrite plain/#\n");
	fclose(fp);
	snprintf(opts, sizeof(opts),
			"plugin_opt_error_replies_per_sec 100000\n"
			"plugin_opt_attempts 100\n"
			"plugin_opt_claim_failures_per_min 10000\n"
			"plugin_opt_claim_failures_per_min_per_address 1000000\n"
			"plugin_opt_claim_failures_per_min_total 1000000\n"
			/* M uses hundreds of client IDs; the session bound has tests of its own. */
			"plugin_opt_max_sessions_per_terminal 1000\n"
			"%s%s%s",
			prefix[0] ? "plugin_opt_topic_prefix " : "", prefix, prefix[0] ? "\n" : "");
	snprintf(x->store, sizeof(x->store), "/tmp/cardex-matrix-store.%d.%s", (int)getpid(),
			prefix[0] ? "p" : "n");
	if(mkdir(x->store, 0777) != 0 || chmod(x->store, 0777) != 0){
		unlink(x->aclfile);
		return -1;
	}
	snprintf(extra, sizeof(extra), "acl_file %s\nallow_anonymous true\nmax_queued_messages 100\n"
			"persistence true\npersistence_location %s/\nautosave_interval 0\n", x->aclfile, x->store);
	cfg.plugin = true;
	cfg.plugin_opts = opts;
	cfg.extra_conf = extra;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	if(cxb_start(&x->b, &cfg) != 0){
		unlink(x->aclfile);
		rmdir(x->store);
		return -1;
	}
	x->started = true;
	mc_set_init(&x->s, x->b.port);
	return 0;
}

static void watchers(struct mx *x)
{
	char topic[128];

	x->a = connected(x, "A", "A", false, V5);
	x->b1 = connected(x, "B", "B", false, V3);
	x->b2 = connected(x, "B:x", "B", false, V5);
	x->mobs = connected(x, "M:obs", "M", true, V5);
	x->ops = connected(x, "ops", "ops", true, V5);
	assert_int_equal(mc_subscribe(&x->s, x->a, t(x, topic, sizeof(topic), "reply/A"), 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&x->s, x->b1, t(x, topic, sizeof(topic), "reply/B"), 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&x->s, x->b2, t(x, topic, sizeof(topic), "reply/B"), 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&x->s, x->mobs, t(x, topic, sizeof(topic), "reply/M"), 1, 0, NULL), 1);
	assert_true(mc_subscribe(&x->s, x->ops, "#", 1, 0, NULL) <= 1);
}

static void stop(struct mx *x)
{
	mc_set_free(&x->s);
	if(x->started){
		cxb_stop(&x->b);
		x->started = false;
	}
	unlink(x->aclfile);
	if(x->store[0] != '\0'){
		char path[400];

		snprintf(path, sizeof(path), "%s/mosquitto.db", x->store);
		unlink(path);
		rmdir(x->store);
	}
}

static int teardown(void **state)
{
	struct mx *x = *state;

	stop(x);
	free(x);
	return 0;
}

static int setup(void **state)
{
	struct mx *x = calloc(1, sizeof(*x));

	*state = x;
	return x != NULL ? 0 : -1;
}

/* Runs every row, then checks that no forged payload reached anyone and nothing was retained. */
static void run_matrix(struct mx *x, const char *prefix)
{
	char topic[128];
	mc_client *late;

	assert_int_equal(start(x, prefix), 0);
	watchers(x);
	for(size_t i = 0; i < NROWS; i++){
		fprintf(stderr, "matrix [%s]: %s\n", prefix[0] ? prefix : "no prefix", rows[i].how);
		rows[i].run(x);
	}
	mc_pump(&x->s, 300);
	for(size_t i = 0; i < x->s.n; i++){
		mc_client *c = x->s.c[i];

		if(c != x->mobs){
			/* M's own observer gets error replies naming topics; the forged text is nowhere. */
			assert_int_equal(mc_count(c, MARK), 0);
		}
		for(size_t k = 0; k < c->nmsgs; k++){
			assert_false(c->msgs[k].retain);
		}
	}
	assert_int_equal(mc_count(x->mobs, "\"type\":\"card\""), 0);
	late = connected(x, "B:late", "B", true, V5);
	assert_int_equal(mc_subscribe(&x->s, late, t(x, topic, sizeof(topic), "reply/B"), 1, 0, NULL), 1);
	mc_pump(&x->s, 300);
	assert_int_equal(late->nmsgs, 0);
	assert_true(cxb_alive(&x->b));
	/*
	 * Nothing forged was stored: retained, or queued in any session. A
	 * retained message outside the namespace shows the file would hold one.
	 */
	assert_int_equal(mc_publish(&x->s, x->ops, "plain/kept", "KEPT-RETAINED", 13, 1, true, NULL), 0);
	mc_set_free(&x->s);
	assert_int_equal(cxb_stop_check(&x->b), 0);
	x->started = false;
	assert_int_equal(store_has(x, "KEPT-RETAINED"), 1);
	assert_int_equal(store_has(x, MARK), 0);
}

static void test_matrix_no_prefix(void **state)
{
	run_matrix(*state, "");
}

static void test_matrix_prefix(void **state)
{
	run_matrix(*state, "cx/v1/");
}

/* Prints the rows as the Markdown table of docs/protocol.md. */
static void print_table(void)
{
	printf("| how | variants | topics (after the prefix) | outcome |\n|---|---|---|---|\n");
	for(size_t i = 0; i < NROWS; i++){
		printf("| %s | %s | %s | %s |\n", rows[i].how, rows[i].variants, rows[i].topics, rows[i].expect);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_matrix_no_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_matrix_prefix, setup, teardown),
	};

	if(argc > 1 && strcmp(argv[1], "--table") == 0){
		print_table();
		return 0;
	}
	mosquitto_lib_init();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
