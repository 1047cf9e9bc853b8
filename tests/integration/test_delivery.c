/*
 * Direct replies (broker-plugin/delivery.c): where the plugin hands a reply
 * to the sessions that read it by client ID, every session gets exactly
 * what routing through the subscription tree would give it: the reply once,
 * at the QoS its subscription grants, in order, nothing after it
 * unsubscribed, also to persistent sessions while they are away. Where it
 * cannot follow a terminal's subscriptions (a wildcard, a shared group, an
 * MQTT 5 session) the terminal is routed,
 * and what each session gets shows it. The configurations that keep every
 * reply routed say so in the log.
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

#include "broker.h"
#include "cli_run.h"
#include "mqttc.h"

#define SILENCE_MS 300
#define DIRECT_LOG "cardex: replies go straight to the sessions subscribed"
/* Every start below logs a stats line each second, with the replies sent each way. */
#define STATS_OPTS "plugin_opt_stats_interval 1\n"

static const cxb_account accounts[] = {
	{"ada", "pw-ada-x"},
	{"bob", "pw-bob-x"},
};

struct fx {
	cxb_broker b;
	bool started;
	mc_set mc;
	char dir[64]; /* a persistence_location, when a test makes one; removed by the teardown */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = 0;

	mc_set_free(&f->mc);
	if(f->started){
		rc = cxb_stop_check(&f->b);
	}
	if(f->dir[0] != '\0'){
		cxr_remove_tree(f->dir);
	}
	free(f);
	return rc;
}

static void fill_config(cxb_config *cfg, const char *plugin_opts, const char *extra)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->plugin = true;
	cfg->plugin_opts = plugin_opts;
	cfg->extra_conf = extra;
	cfg->accounts = accounts;
	cfg->naccounts = sizeof(accounts) / sizeof(accounts[0]);
}

static void start(struct fx *f, const char *plugin_opts, const char *extra)
{
	cxb_config cfg;

	fill_config(&cfg, plugin_opts, extra);
	assert_int_equal(cxb_start(&f->b, &cfg), 0);
	f->started = true;
	mc_set_init(&f->mc, f->b.port);
}

/* Stops the broker cleanly (SIGTERM), asserting that nothing was reported. */
static void stop(struct fx *f)
{
	mc_set_free(&f->mc);
	assert_int_equal(cxb_stop_check(&f->b), 0);
	f->started = false;
}

static const char *password_of(const char *user)
{
	return strcmp(user, "ada") == 0 ? "pw-ada-x" : "pw-bob-x";
}

/* A session of terminal user with client ID id, connected. */
static mc_client *session(struct fx *f, const char *id, const char *user, bool clean)
{
	mc_client *c = mc_new(&f->mc, id, user, password_of(user), clean, MQTT_PROTOCOL_V311);

	assert_non_null(c);
	assert_int_equal(mc_connect(&f->mc, c, NULL), 0);
	return c;
}

/* A session of terminal user with client ID id, connected and subscribed to user's reply topic at QoS 1. */
static mc_client *reader(struct fx *f, const char *id, const char *user, bool clean)
{
	mc_client *c = session(f, id, user, clean);
	char topic[64];

	snprintf(topic, sizeof(topic), "reply/%s", user);
	assert_int_equal(mc_subscribe(&f->mc, c, topic, 1, 0, NULL), 1);
	return c;
}

/* An offer from c on keys/<user> with ref r<n>: its reply goes to every session reading <user>'s replies. */
static void offer(struct fx *f, mc_client *c, const char *user, int n)
{
	char topic[64], req[96];

	snprintf(topic, sizeof(topic), "keys/%s", user);
	snprintf(req, sizeof(req), "{\"key\":\"%06d\",\"ref\":\"r%d\"}", 100000 + n, n);
	assert_int_equal(mc_publish(&f->mc, c, topic, req, (int)strlen(req), 1, false, NULL), 0);
}

/*
 * The value of key (e.g. "replies_direct=") in the first "cardex: stats"
 * line logged after this call, or -1 when none came within 5 s.
 */
static long long next_stats(struct fx *f, const char *key)
{
	char *log = cxb_log_read(&f->b);
	size_t seen = 0;
	long long value = -1;

	for(const char *p = log; p != NULL && (p = strstr(p, "cardex: stats |")) != NULL; p++){
		seen++;
	}
	free(log);
	for(int i = 0; i < 60 && value < 0; i++){
		const char *p, *last = NULL;
		size_t n = 0;

		mc_pump(&f->mc, 100);
		log = cxb_log_read(&f->b);
		for(p = log; p != NULL && (p = strstr(p, "cardex: stats |")) != NULL; p++){
			n++;
			last = p;
		}
		if(n > seen && (p = strstr(last, key)) != NULL){
			value = strtoll(p + strlen(key), NULL, 10);
		}
		free(log);
	}
	return value;
}

static bool is_offer_reply(const mc_msg *m)
{
	return strstr(m->payload, "\"type\":\"offer\"") != NULL;
}

/*
 * Offer replies of c on topic for ref r<n>. (Each new offer also revokes
 * the one before, with a notice of its own.)
 */
static size_t with_ref(const mc_client *c, const char *topic, int n)
{
	char needle[32];
	size_t count = 0;

	snprintf(needle, sizeof(needle), "\"ref\":\"r%d\"", n);
	for(size_t i = 0; i < c->nmsgs; i++){
		if(strcmp(c->msgs[i].topic, topic) == 0 && is_offer_reply(&c->msgs[i])
				&& strstr(c->msgs[i].payload, needle) != NULL){
			count++;
		}
	}
	return count;
}

/*
 * Asserts that c's offer replies are those of refs r0 .. r<n-1>, once each,
 * in that order, at QoS qos, not retained.
 */
static void assert_offers_in_order(const mc_client *c, int n, int qos)
{
	char needle[32];
	int seen = 0;

	for(size_t i = 0; i < c->nmsgs; i++){
		const mc_msg *m = &c->msgs[i];

		assert_string_equal(m->topic, "reply/ada");
		assert_int_equal(m->qos, qos);
		assert_false(m->retain);
		if(!is_offer_reply(m)){
			continue;
		}
		assert_true(seen < n);
		snprintf(needle, sizeof(needle), "\"ref\":\"r%d\"", seen);
		assert_non_null(strstr(m->payload, needle));
		seen++;
	}
	assert_int_equal(seen, n);
}

/*
 * The default configuration hands replies over directly: each exact
 * subscriber gets each reply once, in order, at its subscription's QoS; a
 * session that unsubscribed gets nothing more; another terminal's sessions
 * get nothing.
 */
static void test_direct_replies(void **state)
{
	struct fx *f = *state;
	mc_client *ada, *q0, *gone, *bob;
	const int n = 20;

	start(f, STATS_OPTS, NULL);
	assert_true(cxb_log_contains(&f->b, DIRECT_LOG));
	ada = session(f, "ada", "ada", true);
	q0 = session(f, "ada:q0", "ada", true);
	gone = session(f, "ada:gone", "ada", true);
	bob = session(f, "bob", "bob", true);
	assert_int_equal(mc_subscribe(&f->mc, ada, "reply/ada", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, q0, "reply/ada", 0, 0, NULL), 0);
	assert_int_equal(mc_subscribe(&f->mc, gone, "reply/ada", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, bob, "#", 1, 0, NULL), 1);

	offer(f, ada, "ada", 0);
	assert_true(mc_wait_msgs(&f->mc, gone, 1));
	assert_true(mc_unsubscribe(&f->mc, gone, "reply/ada"));
	for(int i = 1; i < n; i++){
		offer(f, ada, "ada", i);
	}
	/* n offer replies and n - 1 notices that the offer before was replaced. */
	assert_true(mc_wait_msgs(&f->mc, ada, 2 * (size_t)n - 1));
	assert_true(mc_wait_msgs(&f->mc, q0, 2 * (size_t)n - 1));
	mc_pump(&f->mc, SILENCE_MS);

	assert_int_equal(ada->nmsgs, 2 * n - 1);
	assert_int_equal(q0->nmsgs, 2 * n - 1);
	/* In order, once each, at min(1, granted QoS). */
	assert_offers_in_order(ada, n, 1);
	assert_offers_in_order(q0, n, 0);
	assert_int_equal(gone->nmsgs, 1);
	assert_int_equal(bob->nmsgs, 0);
	/* A session that ended is no reader: its place is not kept. */
	mc_close(&f->mc, q0);
	offer(f, ada, "ada", n);
	assert_true(mc_wait_msgs(&f->mc, ada, 2 * (size_t)n + 1));
	assert_int_equal(with_ref(ada, "reply/ada", n), 1);
	/* Every one of those replies went straight to its readers. */
	assert_int_equal(next_stats(f, "replies_routed="), 0);
	assert_int_equal(next_stats(f, "replies_direct="), 2 * n + 1);
}

/* A wildcard subscription of the terminal's own session may take its replies: it gets them. */
static void test_wildcard_routes(void **state)
{
	struct fx *f = *state;
	mc_client *ada, *all;

	start(f, STATS_OPTS, NULL);
	ada = session(f, "ada", "ada", true);
	all = session(f, "ada:all", "ada", true);
	assert_int_equal(mc_subscribe(&f->mc, ada, "reply/ada", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, all, "#", 1, 0, NULL), 1);
	offer(f, ada, "ada", 1);
	assert_true(mc_wait_msgs(&f->mc, ada, 1));
	assert_true(mc_wait_msgs(&f->mc, all, 1));
	mc_pump(&f->mc, SILENCE_MS);
	assert_int_equal(with_ref(ada, "reply/ada", 1), 1);
	assert_int_equal(with_ref(all, "reply/ada", 1), 1);
	assert_int_equal(next_stats(f, "replies_direct="), 0);
	assert_int_equal(next_stats(f, "replies_routed="), 1);
}

/* Members of a shared subscription share the replies: each goes to one of them. */
static void test_shared_routes(void **state)
{
	struct fx *f = *state;
	mc_client *ada, *s1, *s2;
	const int n = 6;

	start(f, NULL, NULL);
	ada = session(f, "ada", "ada", true);
	s1 = session(f, "ada:s1", "ada", true);
	s2 = session(f, "ada:s2", "ada", true);
	assert_int_equal(mc_subscribe(&f->mc, s1, "$share/g/reply/ada", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, s2, "$share/g/reply/ada", 1, 0, NULL), 1);
	for(int i = 0; i < n; i++){
		offer(f, ada, "ada", i);
	}
	for(int i = 0; i < 50 && s1->nmsgs + s2->nmsgs < 2 * (size_t)n - 1; i++){
		mc_pump(&f->mc, 100);
	}
	mc_pump(&f->mc, SILENCE_MS);
	for(int i = 0; i < n; i++){
		assert_int_equal(with_ref(s1, "reply/ada", i) + with_ref(s2, "reply/ada", i), 1);
	}
}

/*
 * Persistent sessions (as libcardex and the phone page keep them): replies
 * wait for one while it is away, reach it when it comes back without
 * subscribing again, follow it when a new connection takes it over, and
 * stop when a clean connection takes its client ID; all of it directly.
 */
static void test_persistent_sessions(void **state)
{
	struct fx *f = *state;
	mc_client *ada, *away, *again, *clean;

	start(f, STATS_OPTS, NULL);
	away = reader(f, "ada:away", "ada", false);
	mc_close(&f->mc, away);
	ada = reader(f, "ada", "ada", true);
	offer(f, ada, "ada", 0);
	assert_true(mc_wait_msgs(&f->mc, ada, 1));

	/* Back: the reply waited; the next one comes at once. */
	away = session(f, "ada:away", "ada", false);
	assert_true(mc_wait_msgs(&f->mc, away, 1));
	assert_int_equal(with_ref(away, "reply/ada", 0), 1);
	offer(f, ada, "ada", 1);
	assert_true(mc_wait_count(&f->mc, away, "\"ref\":\"r1\"", 1));

	/* Taken over by another connection of the same session, which never subscribed itself. */
	again = session(f, "ada:away", "ada", false);
	mc_pump(&f->mc, 100);
	offer(f, ada, "ada", 2);
	assert_true(mc_wait_count(&f->mc, again, "\"ref\":\"r2\"", 1));
	assert_int_equal(with_ref(again, "reply/ada", 2), 1);
	assert_int_equal(with_ref(away, "reply/ada", 2), 0);

	/* A clean connection takes the client ID: the session and its subscription end. */
	clean = session(f, "ada:away", "ada", true);
	mc_pump(&f->mc, 100);
	offer(f, ada, "ada", 3);
	assert_true(mc_wait_count(&f->mc, ada, "\"ref\":\"r3\"", 1));
	mc_pump(&f->mc, SILENCE_MS);
	assert_int_equal(clean->nmsgs, 0);
	assert_int_equal(with_ref(again, "reply/ada", 3), 0);
	assert_int_equal(with_ref(ada, "reply/ada", 3), 1);
	assert_int_equal(next_stats(f, "replies_routed="), 0);
	assert_true(next_stats(f, "replies_direct=") >= 4);
}

/* An MQTT 5 session reading the replies routes its terminal: it gets them as routing gives them. */
static void test_mqtt5_routes(void **state)
{
	struct fx *f = *state;
	mc_client *ada, *v5;

	start(f, STATS_OPTS, NULL);
	ada = reader(f, "ada", "ada", true);
	v5 = mc_new(&f->mc, "ada:v5", "ada", password_of("ada"), true, MQTT_PROTOCOL_V5);
	assert_non_null(v5);
	assert_int_equal(mc_connect(&f->mc, v5, NULL), 0);
	assert_int_equal(mc_subscribe(&f->mc, v5, "reply/ada", 1, 0, NULL), 1);
	offer(f, ada, "ada", 1);
	assert_true(mc_wait_msgs(&f->mc, ada, 1));
	assert_true(mc_wait_msgs(&f->mc, v5, 1));
	assert_int_equal(with_ref(v5, "reply/ada", 1), 1);
	assert_int_equal(next_stats(f, "replies_direct="), 0);
}

/*
 * persistence true: the sessions Mosquitto restores at start are known
 * from what a clean stop saved, so a restored persistent session away gets
 * its replies directly; after a crash nothing was saved, and the terminals
 * known before are routed for good, reaching them all the same.
 */
static void test_persistence(void **state)
{
	struct fx *f = *state;
	char extra[160], opts[160], saved[128];
	struct stat st;
	mc_client *ada, *away, *bob;

	snprintf(f->dir, sizeof(f->dir), "/tmp/cardex-delivery-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(extra, sizeof(extra), "persistence true\npersistence_location %s/\n", f->dir);
	snprintf(opts, sizeof(opts), STATS_OPTS "plugin_opt_state_file %s/terminals\n", f->dir);
	snprintf(saved, sizeof(saved), "%s/mosquitto.db.cardex-replies", f->dir);
	start(f, opts, extra);
	assert_true(cxb_log_contains(&f->b, DIRECT_LOG));
	away = reader(f, "ada:away", "ada", false);
	mc_close(&f->mc, away);

	/* A clean stop saves the session; the start reads the file and removes it. */
	stop(f);
	assert_int_equal(stat(saved, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	start(f, opts, extra);
	assert_true(cxb_log_contains(&f->b, DIRECT_LOG));
	assert_int_not_equal(stat(saved, &st), 0);
	ada = reader(f, "ada", "ada", true);
	offer(f, ada, "ada", 1);
	assert_true(mc_wait_msgs(&f->mc, ada, 1));
	away = session(f, "ada:away", "ada", false);
	assert_true(mc_wait_count(&f->mc, away, "\"ref\":\"r1\"", 1));
	assert_int_equal(next_stats(f, "replies_routed="), 0);
	mc_close(&f->mc, away);

	/*
	 * A crash saves nothing: the terminals known before are routed for good
	 * (their restored sessions are not known), and still reached; a terminal
	 * new since gets its replies directly.
	 */
	mc_set_free(&f->mc);
	cxb_kill(&f->b);
	assert_int_equal(cxb_restart(&f->b), 0);
	mc_set_init(&f->mc, f->b.port);
	assert_true(cxb_log_contains(&f->b, "cardex: the 1 terminal(s) known before are routed through the "
			"subscription tree from now on: sessions restored from"));
	ada = reader(f, "ada", "ada", true);
	offer(f, ada, "ada", 2);
	assert_true(mc_wait_count(&f->mc, ada, "\"ref\":\"r2\"", 1));
	away = session(f, "ada:away", "ada", false);
	assert_true(mc_wait_count(&f->mc, away, "\"ref\":\"r2\"", 1));
	assert_int_equal(next_stats(f, "replies_direct="), 0);
	bob = reader(f, "bob", "bob", false);
	offer(f, bob, "bob", 3);
	assert_true(mc_wait_count(&f->mc, bob, "\"ref\":\"r3\"", 1));
	assert_int_equal(next_stats(f, "replies_direct="), 1);

	/* Which is kept across the next clean restart: ada routed, bob direct. */
	stop(f);
	start(f, opts, extra);
	ada = reader(f, "ada", "ada", true);
	offer(f, ada, "ada", 4);
	assert_true(mc_wait_count(&f->mc, ada, "\"ref\":\"r4\"", 1));
	bob = reader(f, "bob:2", "bob", true);
	offer(f, bob, "bob", 5);
	assert_true(mc_wait_count(&f->mc, bob, "\"ref\":\"r5\"", 1));
	/* bob's persistent session, away, got r5 too: directly, queued. */
	away = session(f, "bob", "bob", false);
	assert_true(mc_wait_count(&f->mc, away, "\"ref\":\"r5\"", 1));
	/* Each offer replaced the one kept across the restart: a notice and the reply, each way. */
	assert_int_equal(next_stats(f, "replies_routed="), 2);
	assert_int_equal(next_stats(f, "replies_direct="), 2);

	/* A run that routes every reply follows no session: what a stop before it saved goes. */
	stop(f);
	assert_int_equal(stat(saved, &st), 0);
	start(f, "plugin_opt_replies routed\n", extra);
	assert_int_not_equal(stat(saved, &st), 0);
}

/* What keeps every reply routed is said at start; a bad value stops the broker. */
static void test_routed_configurations(void **state)
{
	struct fx *f = *state;
	cxb_config cfg;
	mc_client *ada;

	start(f, "plugin_opt_replies routed\n", NULL);
	assert_true(cxb_log_contains(&f->b, "cardex: replies are routed through the subscription tree "
			"(plugin_opt_replies routed)"));
	assert_false(cxb_log_contains(&f->b, DIRECT_LOG));
	ada = reader(f, "ada", "ada", true);
	offer(f, ada, "ada", 1);
	assert_true(mc_wait_msgs(&f->mc, ada, 1));
	assert_int_equal(with_ref(ada, "reply/ada", 1), 1);
	stop(f);

	start(f, "plugin_opt_replies auto\n", "upgrade_outgoing_qos true\n");
	assert_true(cxb_log_contains(&f->b, "(upgrade_outgoing_qos true)"));
	stop(f);

	fill_config(&cfg, "plugin_opt_replies sideways\n", NULL);
	assert_true(cxb_refused_with(&cfg, "invalid value for plugin_opt_replies: \"sideways\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_direct_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wildcard_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistent_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mqtt5_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_persistence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routed_configurations, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
