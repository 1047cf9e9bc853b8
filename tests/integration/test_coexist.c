/*
 * The plugin inside a broker that serves other clients too: everything
 * outside the namespace behaves as it does without the plugin, while
 * terminals keep their protections. libmosquitto clients on 127.0.0.1
 * against the real Mosquitto, one broker with the plugin and one without
 * running the same scenario; every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "cli_run.h"
#include "mqttc.h"

#define WAIT_MS 5000
#define SILENCE_MS 300
#define MAX_LINES 64     /* messages a client's description shows */
#define LINE_MAX_LEN 160 /* "topic|payload|qos|retain" */
#define CONNACK_ACCEPTED 0
#define CONNACK_NOT_AUTHORISED 5
#define SUBACK_FAILURE 0x80

static const cxb_account accounts[] = {
	{"alice", "pw-alice-x"},
	{"bob", "pw-bob-x"},
	{"carol", "pw-carol-x"},
	{"tina", "pw-tina-x"},
	{"una", "pw-una-x"},
	{"mal", "pw-mal-x"},
};

static const char *password_of(const char *user)
{
	for(size_t i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++){
		if(user != NULL && strcmp(accounts[i].id, user) == 0){
			return accounts[i].password;
		}
	}
	return NULL;
}

/* ---- clients (mqttc.h; the set owns them) ---- */

struct fx {
	cxb_broker b;
	bool started;
	char tmpdir[64]; /* state files, dynsec configuration; removed by the teardown */
	mc_set mc;
	cxr_proc *procs[2];
};

/* A new client of f's broker (user NULL: anonymous), not connected yet; v5 for MQTT 5. */
static mc_client *cl_new(struct fx *f, const char *id, const char *user, bool clean, bool v5)
{
	mc_client *c = mc_new(&f->mc, id, user, password_of(user), clean, v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);

	assert_non_null(c);
	return c;
}

/* A client connected with the expected CONNACK. */
static mc_client *connected(struct fx *f, const char *id, const char *user, bool clean, int expect)
{
	mc_client *c = cl_new(f, id, user, clean, false);
	int rc = mc_connect(&f->mc, c, NULL);

	if(rc != expect){
		fprintf(stderr, "client id \"%s\" user \"%s\": CONNACK %d, expected %d\n", id, user ? user : "(none)",
				rc, expect);
		fail();
	}
	return c;
}

/* Publishes and waits for the end of the flow (the PUBACK, PUBCOMP, or the packet written for QoS 0). */
static void cl_publish(struct fx *f, mc_client *c, const char *topic, const char *payload, int qos, bool retain)
{
	assert_true(mc_publish(&f->mc, c, topic, payload, (int)strlen(payload), qos, retain, NULL) >= 0);
}

/* Message i of c as "topic|payload|qos|retain", the payload cut at 40 bytes. */
static const char *line_of(const mc_client *c, size_t i, char *buf, size_t cap)
{
	const mc_msg *m = &c->msgs[i];

	snprintf(buf, cap, "%s|%.*s|%d|%d", m->topic, m->len > 40 ? 40 : m->len, m->payload, m->qos,
			m->retain ? 1 : 0);
	return buf;
}

static bool has_msg(const mc_client *c, const char *line)
{
	char buf[LINE_MAX_LEN];

	for(size_t i = 0; i < c->nmsgs; i++){
		if(strcmp(line_of(c, i, buf, sizeof(buf)), line) == 0){
			return true;
		}
	}
	return false;
}

/* True when c received anything on a topic starting with prefix. */
static bool got_prefix(const mc_client *c, const char *prefix)
{
	char buf[LINE_MAX_LEN];

	for(size_t i = 0; i < c->nmsgs; i++){
		if(strncmp(line_of(c, i, buf, sizeof(buf)), prefix, strlen(prefix)) == 0){
			return true;
		}
	}
	return false;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* c's messages (the first MAX_LINES), sorted, appended to out as "name: a; b; ...\n". */
static void describe(char *out, size_t cap, const char *name, const mc_client *c)
{
	static char lines[MAX_LINES][LINE_MAX_LEN];
	size_t n = c->nmsgs < MAX_LINES ? c->nmsgs : MAX_LINES;
	size_t len = strlen(out);

	for(size_t i = 0; i < n; i++){
		line_of(c, i, lines[i], sizeof(lines[i]));
	}
	qsort(lines, n, sizeof(lines[0]), line_cmp);
	len += (size_t)snprintf(out + len, cap - len, "%s:", name);
	for(size_t i = 0; i < n && len < cap; i++){
		len += (size_t)snprintf(out + len, cap - len, " %s;", lines[i]);
	}
	if(len < cap){
		snprintf(out + len, cap - len, "\n");
	}
}

/*
 * CONNECT with an empty client ID (MQTT 3.1.1, clean session), over a raw
 * socket since libmosquitto always sends one. Returns the CONNACK return
 * code, or -1.
 */
static int connect_empty_id(int port)
{
	static const unsigned char pkt[] = {0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 0};
	unsigned char ack[4];
	struct sockaddr_in sa;
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rc = -1;

	if(fd < 0){
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, pkt, sizeof(pkt)) == (ssize_t)sizeof(pkt) &&
			recv(fd, ack, sizeof(ack), MSG_WAITALL) == (ssize_t)sizeof(ack) && ack[0] == 0x20){
		rc = ack[3];
	}
	close(fd);
	return rc;
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if(f == NULL){
		return -1;
	}
	snprintf(f->tmpdir, sizeof(f->tmpdir), "/tmp/cardex-coexist-XXXXXX");
	if(mkdtemp(f->tmpdir) == NULL || chmod(f->tmpdir, 0777) != 0){
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int stop(struct fx *f)
{
	int rc = 0;

	mc_set_free(&f->mc);
	if(f->started){
		rc = cxb_stop_check(&f->b);
		f->started = false;
	}
	return rc;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = stop(f);

	cxr_free_all(f->procs, sizeof(f->procs) / sizeof(f->procs[0]));
	cxr_remove_tree(f->tmpdir);
	free(f);
	return rc;
}

/* Starts a broker: the plugin (with plugin_opts) or none, anonymous clients allowed, $SYS every second. */
static void start(struct fx *f, bool plugin, const char *plugin_opts, const char *extra)
{
	char conf[2048];
	cxb_config cfg;

	snprintf(conf, sizeof(conf), "allow_anonymous true\nsys_interval 1\n%s", extra != NULL ? extra : "");
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = plugin;
	cfg.plugin_opts = plugin_opts;
	cfg.extra_conf = conf;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	assert_int_equal(cxb_start(&f->b, &cfg), 0);
	f->started = true;
	mc_set_init(&f->mc, f->b.port);
}

/* ---- outside the namespace ---- */

/*
 * Everyday MQTT outside the namespace, written down as text so that two
 * brokers can be compared: CONNACKs of usual client IDs (authenticated and
 * anonymous, one empty), QoS 0/1/2 through overlapping and wildcard
 * subscriptions, a retained message, a will, a persistent session's queue,
 * an unsubscribe and $SYS. Also asserts the expected outcome itself, so
 * that two equally broken brokers do not pass.
 */
static void outside_scenario(struct fx *f, char *out, size_t cap)
{
	mc_client *alice, *bob, *laptop, *anon, *will, *sys, *late;
	int empty;

	out[0] = '\0';
	alice = connected(f, "alice", "alice", true, CONNACK_ACCEPTED);
	laptop = connected(f, "carol-laptop", "carol", false, CONNACK_ACCEPTED);
	connected(f, "sensor-7", "carol", true, CONNACK_ACCEPTED);
	anon = connected(f, "myclientid", NULL, true, CONNACK_ACCEPTED);
	connected(f, "myclientid2", NULL, true, CONNACK_ACCEPTED);
	empty = connect_empty_id(f->b.port);
	assert_int_equal(empty, 0);
	bob = connected(f, "bob-desk", "bob", true, CONNACK_ACCEPTED);
	/* A wrong password is refused as before. */
	{
		mc_client *bad = cl_new(f, "bob-x", "bob", true, false);

		assert_int_equal(mosquitto_username_pw_set(bad->m, "bob", "wrong"), 0);
		assert_int_equal(mc_connect(&f->mc, bad, NULL), CONNACK_NOT_AUTHORISED);
	}

	assert_int_equal(mc_subscribe(&f->mc, bob, "sensors/#", 2, 0, NULL), 2);
	assert_int_equal(mc_subscribe(&f->mc, bob, "sensors/+/temp", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, bob, "plain/bob", 0, 0, NULL), 0);
	assert_int_equal(mc_subscribe(&f->mc, bob, "wills/#", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, anon, "sensors/k/temp", 2, 0, NULL), 2);
	assert_int_equal(mc_subscribe(&f->mc, laptop, "queue/carol", 1, 0, NULL), 1);

	/* alice's publishes: QoS 0, 1, 2, overlapping filters. */
	{
		cl_publish(f, alice, "sensors/k/temp", "t0", 0, false);
		cl_publish(f, alice, "sensors/k/temp", "t1", 1, false);
		cl_publish(f, alice, "sensors/k/temp", "t2", 2, false);
		cl_publish(f, alice, "sensors/k/hum", "h1", 1, false);
		cl_publish(f, alice, "plain/bob", "p", 1, false);
		cl_publish(f, alice, "status/alice", "on", 1, true);
		/* Mosquitto sends one copy per client for overlapping filters. */
		mc_wait_msgs(&f->mc, bob, 5);
		mc_wait_msgs(&f->mc, anon, 3);
		assert_true(got_prefix(bob, "sensors/k/temp|t2|"));
		assert_true(has_msg(bob, "sensors/k/hum|h1|1|0"));
		assert_true(has_msg(bob, "plain/bob|p|0|0"));
		assert_true(has_msg(anon, "sensors/k/temp|t2|2|0"));

		/* A persistent session queues while its client is away. */
		mc_close(&f->mc, laptop);
		cl_publish(f, alice, "queue/carol", "q1", 1, false);
		cl_publish(f, alice, "queue/carol", "q2", 1, false);
		laptop = connected(f, "carol-laptop", "carol", false, CONNACK_ACCEPTED);
		mc_wait_msgs(&f->mc, laptop, 2);
		assert_true(has_msg(laptop, "queue/carol|q2|1|0"));

		/* Unsubscribing works: nothing more on plain/bob. */
		assert_true(mc_unsubscribe(&f->mc, bob, "plain/bob"));
		cl_publish(f, alice, "plain/bob", "p2", 1, false);
	}

	/* A retained message reaches a later subscriber, flagged retained. */
	late = connected(f, "late-viewer", NULL, true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, late, "status/#", 1, 0, NULL), 1);
	mc_wait_msgs(&f->mc, late, 1);
	assert_true(has_msg(late, "status/alice|on|1|1"));

	/* A will, fired by an MQTT 5 DISCONNECT with reason 0x04. */
	will = cl_new(f, "will-client", NULL, true, true);
	assert_int_equal(mosquitto_will_set(will->m, "wills/w1", 4, "gone", 1, false), 0);
	assert_int_equal(mc_connect(&f->mc, will, NULL), CONNACK_ACCEPTED);
	mosquitto_disconnect_v5(will->m, MQTT_RC_DISCONNECT_WITH_WILL_MSG, NULL);
	mc_pump(&f->mc, 50);
	mc_wait_msgs(&f->mc, bob, 6);
	assert_true(has_msg(bob, "wills/w1|gone|1|0"));

	/* $SYS, published every second. */
	sys = connected(f, "sys-watch", "alice", true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, sys, "$SYS/broker/version", 0, 0, NULL), 0);
	mc_wait_msgs(&f->mc, sys, 1);
	assert_true(got_prefix(sys, "$SYS/broker/version|mosquitto version"));

	mc_pump(&f->mc, SILENCE_MS);
	describe(out, cap, "bob", bob);
	describe(out, cap, "anon", anon);
	describe(out, cap, "laptop", laptop);
	describe(out, cap, "late", late);
	describe(out, cap, "sys", sys);
}

/* An MQTT 5 CONNECT with an authentication method; returns the CONNACK reason code. */
static int connect_ext_auth(struct fx *f, const char *id, const char *user)
{
	mc_client *c = cl_new(f, id, user, true, true);
	mosquitto_property *props = NULL;
	int rc;

	assert_int_equal(mosquitto_property_add_string(&props, MQTT_PROP_AUTHENTICATION_METHOD, "SCRAM-SHA-1"), 0);
	rc = mc_connect(&f->mc, c, props);
	mosquitto_property_free_all(&props);
	return rc;
}

/*
 * Terminals keep their protections on the same broker: takeover attempts
 * on a known terminal's client IDs are refused, and its replies reach it
 * and nobody else, whatever others subscribe to.
 */
static void terminal_protections(struct fx *f)
{
	mc_client *tina, *spy, *anon_spy, *pre, *una, *t, *watcher;

	spy = connected(f, "carol-spy", "carol", true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, spy, "#", 1, 0, NULL), 1);
	/* Has a terminal's identity, but only watches "#": replies passing by do not make bob a terminal. */
	watcher = connected(f, "bob", "bob", true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, watcher, "#", 1, 0, NULL), 1);
	anon_spy = connected(f, "anon-spy", NULL, true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, anon_spy, "+/tina", 1, 0, NULL), 1);

	/* A session pre-created under a terminal's ID before the terminal ever came. */
	pre = connected(f, "una", "carol", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, pre, "#", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, pre, "reply/una", 1, 0, NULL), SUBACK_FAILURE);
	mc_close(&f->mc, pre);

	tina = connected(f, "tina", "tina", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, tina, "reply/tina", 1, 0, NULL), 1);
	una = connected(f, "una", "una", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, una, "reply/una", 1, 0, NULL), 1);

	/* Known now: nobody else may use their client IDs. */
	connected(f, "tina", "carol", true, CONNACK_NOT_AUTHORISED);
	connected(f, "tina:phone", "alice", true, CONNACK_NOT_AUTHORISED);
	connected(f, "tina", NULL, true, CONNACK_NOT_AUTHORISED);
	connected(f, "tina:x", NULL, false, CONNACK_NOT_AUTHORISED);
	connected(f, "una", "carol", false, CONNACK_NOT_AUTHORISED);
	/* A wrong password on the right ID is still the password file's refusal. */
	t = cl_new(f, "tina", "tina", true, false);
	assert_int_equal(mosquitto_username_pw_set(t->m, "tina", "wrong"), 0);
	assert_int_equal(mc_connect(&f->mc, t, NULL), CONNACK_NOT_AUTHORISED);
	mc_pump(&f->mc, 100);
	assert_true(tina->connected);
	assert_true(una->connected);

	/* The namespace stays closed: a forged reply and a subscription to another's replies. */
	assert_int_equal(mc_subscribe(&f->mc, spy, "reply/tina", 1, 0, NULL), SUBACK_FAILURE);
	cl_publish(f, spy, "reply/tina", "forged", 1, false);
	/* Requests get the plugin's answer, on the requester's reply topic only. */
	cl_publish(f, tina, "keys/tina", "not json", 1, false);
	cl_publish(f, una, "keys/una", "not json", 1, false);
	mc_wait_msgs(&f->mc, tina, 1);
	mc_wait_msgs(&f->mc, una, 1);
	mc_pump(&f->mc, SILENCE_MS);
	assert_true(got_prefix(tina, "reply/tina|{"));
	assert_false(has_msg(tina, "reply/tina|forged|1|0"));
	assert_true(got_prefix(una, "reply/una|{"));
	assert_false(got_prefix(spy, "reply/"));
	assert_false(got_prefix(spy, "keys/"));
	assert_false(got_prefix(anon_spy, "reply/"));
	assert_false(got_prefix(watcher, "reply/"));
	mc_close(&f->mc, watcher);
	mc_close(&f->mc, connected(f, "bob", "carol", true, CONNACK_ACCEPTED));
	assert_true(cxb_log_contains(&f->b, "client ID belongs to terminal tina"));

	/*
	 * MQTT 5 extended authentication skips BASIC_AUTH: the same refusal
	 * ("not authorized") comes first, where Mosquitto alone answers "bad
	 * authentication method" since nothing here supports one.
	 */
	assert_int_equal(connect_ext_auth(f, "tina", "carol"), MQTT_RC_NOT_AUTHORIZED);
	assert_int_equal(connect_ext_auth(f, "carol-v5", "carol"), MQTT_RC_BAD_AUTHENTICATION_METHOD);
}

static void test_outside_same_as_without_plugin(void **state)
{
	struct fx *f = *state;
	static char without[8192], with[8192];

	start(f, false, NULL, NULL);
	outside_scenario(f, without, sizeof(without));
	assert_int_equal(stop(f), 0);

	start(f, true, NULL, NULL);
	outside_scenario(f, with, sizeof(with));
	assert_string_equal(with, without);
	terminal_protections(f);
	assert_true(cxb_log_contains(&f->b, "outside the namespace every ACL check is allowed, as without cardex"));
	assert_true(cxb_log_contains(&f->b, "no plugin_opt_state_file: known terminals are kept in memory only"));
}

/* outside_acl defer: Mosquitto 2.0.11 denies what every callback deferred (why auto exists). */
static void test_outside_defer_denies_without_acl_file(void **state)
{
	struct fx *f = *state;
	mc_client *bob;

	start(f, true, "plugin_opt_outside_acl defer\n", NULL);
	bob = connected(f, "bob-desk", "bob", true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, bob, "sensors/#", 1, 0, NULL), SUBACK_FAILURE);
	assert_true(cxb_log_contains(&f->b, "(outside_acl defer)"));
}

/* With an acl_file, auto defers to it: what it refuses stays refused, what it grants works. */
static void test_outside_acl_file_decides(void **state)
{
	struct fx *f = *state;
	char extra[256], path[160];
	mc_client *bob, *alice, *anon;
	FILE *acl;

	snprintf(path, sizeof(path), "%s/acl", f->tmpdir);
	acl = fopen(path, "w");
	assert_non_null(acl);
	fputs("user alice\ntopic write sensors/#\nuser bob\ntopic read sensors/#\n", acl);
	fclose(acl);
	chmod(path, 0644);
	snprintf(extra, sizeof(extra), "acl_file %s\n", path);
	start(f, true, NULL, extra);
	alice = connected(f, "alice", "alice", true, CONNACK_ACCEPTED);
	bob = connected(f, "bob-desk", "bob", true, CONNACK_ACCEPTED);
	anon = connected(f, "myclientid", NULL, true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, bob, "sensors/#", 1, 0, NULL), 1);
	assert_int_equal(mc_subscribe(&f->mc, anon, "sensors/#", 1, 0, NULL), 1);
	cl_publish(f, alice, "sensors/a", "granted", 1, false);
	cl_publish(f, alice, "other/a", "refused", 1, false);
	mc_wait_msgs(&f->mc, bob, 1);
	mc_pump(&f->mc, SILENCE_MS);
	assert_true(has_msg(bob, "sensors/a|granted|1|0"));
	assert_int_equal(bob->nmsgs, 1);
	/* The acl_file gives anonymous clients nothing: cardex did not open it. */
	assert_int_equal(anon->nmsgs, 0);
	assert_true(cxb_log_contains(&f->b, "1 acl_file line(s) and 0 other plugin line(s)"));
}

/*
 * An acl_file added later and loaded with SIGHUP is obeyed: auto decides
 * again at the reload instead of keeping the "allow" it chose at start.
 */
static void test_outside_reload_adds_acl_file(void **state)
{
	struct fx *f = *state;
	char path[160];
	mc_client *bob, *alice;
	FILE *o;

	start(f, true, NULL, NULL);
	assert_true(cxb_log_contains(&f->b, "as without cardex (outside_acl auto)"));
	snprintf(path, sizeof(path), "%s/acl", f->tmpdir);
	o = fopen(path, "w");
	assert_non_null(o);
	fputs("user alice\ntopic write sensors/#\nuser bob\ntopic read sensors/#\n", o);
	fclose(o);
	chmod(path, 0644);
	o = fopen(f->b.conf, "a");
	assert_non_null(o);
	fprintf(o, "acl_file %s\n", path);
	fclose(o);
	assert_int_equal(kill(f->b.pid, SIGHUP), 0);
	{
		long long deadline = cxb_now_ms() + WAIT_MS;

		while(!cxb_log_contains(&f->b, "1 acl_file line(s)") && cxb_now_ms() < deadline){
			mc_pump(&f->mc, 20);
		}
	}
	assert_true(cxb_log_contains(&f->b, "1 acl_file line(s) and 0 other plugin line(s)"));
	alice = connected(f, "alice", "alice", true, CONNACK_ACCEPTED);
	bob = connected(f, "bob-desk", "bob", true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, bob, "#", 1, 0, NULL), 1);
	cl_publish(f, alice, "sensors/a", "granted", 1, false);
	cl_publish(f, alice, "other/a", "refused", 1, false);
	mc_wait_msgs(&f->mc, bob, 1);
	mc_pump(&f->mc, SILENCE_MS);
	assert_true(has_msg(bob, "sensors/a|granted|1|0"));
	assert_int_equal(bob->nmsgs, 1);
}

/* Strict mode keeps the rules for a broker that serves terminals only. */
static void test_strict_mode(void **state)
{
	struct fx *f = *state;
	mc_client *t;

	start(f, true, "plugin_opt_terminals strict\n", NULL);
	connected(f, "carol-laptop", "carol", true, CONNACK_NOT_AUTHORISED);
	connected(f, "myclientid", NULL, true, CONNACK_NOT_AUTHORISED);
	connected(f, "@anon", NULL, true, CONNACK_ACCEPTED);
	t = connected(f, "tina:cli", "tina", true, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, t, "reply/tina", 1, 0, NULL), 1);
	assert_true(cxb_log_contains(&f->b, "mode=strict"));
}

/* ---- the registry across restarts ---- */

static void test_known_terminals_survive_restart(void **state)
{
	struct fx *f = *state;
	char opts[256], path[160];
	mc_client *tina;
	struct stat st;

	snprintf(path, sizeof(path), "%s/terminals", f->tmpdir);
	snprintf(opts, sizeof(opts), "plugin_opt_state_file %s\n", path);
	start(f, true, opts, NULL);
	/* Not yet known: carol may still use the ID (and loses it to tina later). */
	mc_close(&f->mc, connected(f, "tina", "carol", true, CONNACK_ACCEPTED));
	tina = connected(f, "tina", "tina", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, tina, "reply/tina", 1, 0, NULL), 1);
	assert_int_equal(stop(f), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* After the restart tina is known before she comes back. */
	start(f, true, opts, NULL);
	assert_true(cxb_log_contains(&f->b, "1 terminal(s), 1 session(s)"));
	connected(f, "tina", "carol", false, CONNACK_NOT_AUTHORISED);
	connected(f, "tina", NULL, false, CONNACK_NOT_AUTHORISED);
	connected(f, "tina", "tina", false, CONNACK_ACCEPTED);
}

/* A state file that is not one stops the broker with a line saying so. */
static void test_corrupt_state_file(void **state)
{
	struct fx *f = *state;
	char opts[256], path[160];
	cxb_config cfg;
	FILE *sf;

	snprintf(path, sizeof(path), "%s/terminals", f->tmpdir);
	sf = fopen(path, "w");
	assert_non_null(sf);
	fputs("cardex-terminals 1\nT tina 1700000000\nS nothex 1\n", sf);
	fclose(sf);
	snprintf(opts, sizeof(opts), "plugin_opt_state_file %s\n", path);
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = opts;
	cfg.accounts = accounts;
	cfg.naccounts = 1;
	assert_true(cxb_refused_with(&cfg, "line 3: invalid session record"));
}

/* ---- sessions per terminal ---- */

/*
 * A terminal holds at most max_sessions_per_terminal sessions: the next
 * client ID is refused at CONNECT, the ones it has keep working, and a
 * session that got in before the bound was counted (a race) gets nothing in
 * the namespace. For measuring the broker's memory, CARDEX_COEXIST_SESSIONS
 * sets how many sessions are tried (default 40) and CARDEX_COEXIST_OPTS the
 * plugin options (default: none, so the default bound); the test then only
 * prints what it measured.
 */
static void test_session_bound(void **state)
{
	struct fx *f = *state;
	const char *env = getenv("CARDEX_COEXIST_SESSIONS");
	int attempts = env != NULL ? atoi(env) : 40;
	long rss_before, rss_after;
	int accepted = 0, subscribed = 0;
	mc_client *c, *mal;

	start(f, true, "plugin_opt_max_sessions_per_terminal 4\n", NULL);
	if(env != NULL){
		assert_int_equal(stop(f), 0);
		start(f, true, getenv("CARDEX_COEXIST_OPTS"), NULL);
	}
	rss_before = cxb_rss_kb(&f->b);
	mal = connected(f, "mal", "mal", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, mal, "reply/mal", 1, 0, NULL), 1);
	for(int i = 0; i < attempts; i++){
		char id[32];

		snprintf(id, sizeof(id), "mal:s%d", i);
		c = cl_new(f, id, "mal", false, false);
		if(mc_connect(&f->mc, c, NULL) == CONNACK_ACCEPTED){
			accepted++;
			subscribed += mc_subscribe(&f->mc, c, "reply/mal", 1, 0, NULL) == 1;
		}
		mc_close(&f->mc, c);
	}
	/* Every offline session subscribed to reply/mal gets each reply. */
	for(int i = 0; i < (env != NULL ? 500 : 100); i++){
		char req[64];

		snprintf(req, sizeof(req), "{\"key\":\"%06d\",\"ref\":\"r%d\"}", 100000 + i, i);
		cl_publish(f, mal, "keys/mal", req, 1, false);
	}
	mc_pump(&f->mc, 300);
	rss_after = cxb_rss_kb(&f->b);
	fprintf(stderr, "session bound: %d attempted, %d accepted, %d subscribed; broker RSS %ld -> %ld KiB\n",
			attempts, accepted, subscribed, rss_before, rss_after);
	if(env != NULL){
		return;
	}
	/* "mal" itself holds one of the 4. */
	assert_int_equal(accepted, 3);
	assert_int_equal(subscribed, 3);
	assert_true(cxb_log_contains(&f->b, "cardex: refused connection of terminal mal from 127.0.0.1: it already "
			"holds 4 sessions"));
	/* A known session comes back. */
	c = connected(f, "mal:s1", "mal", false, CONNACK_ACCEPTED);
	/* A 3.1.1 clean session ends with its connection and frees its place. */
	mc_close(&f->mc, connected(f, "mal:s2", "mal", true, CONNACK_ACCEPTED));
	mc_pump(&f->mc, 100);
	c = connected(f, "mal:new", "mal", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, c, "reply/mal", 1, 0, NULL), 1);
	connected(f, "mal:newer", "mal", false, CONNACK_NOT_AUTHORISED);
}

/* ---- dynamic security beside cardex ---- */

/*
 * Runs mosquitto_ctrl with args (connection options come from an options
 * file in f->tmpdir, passwords on stdin, never on argv: a command that
 * sets a password asks for it before the admin password) and asserts it
 * succeeded.
 */
static void ctrl(struct fx *f, const char *stdin_data, const char *const *args)
{
	char xdg[96];
	cxr_opts o;
	cxr_proc *p;
	int rc;

	snprintf(xdg, sizeof(xdg), "XDG_CONFIG_HOME=%s", f->tmpdir);
	memset(&o, 0, sizeof(o));
	o.exe = getenv("MOSQUITTO_CTRL") != NULL ? getenv("MOSQUITTO_CTRL") : "/usr/bin/mosquitto_ctrl";
	o.stdin_data = stdin_data;
	o.env[0] = xdg;
	p = cxr_spawn(&o, args);
	rc = cxr_finish(p);
	if(rc != 0){
		fprintf(stderr, "mosquitto_ctrl %s %s: exit %d\n%.*s%.*s\n", args[0], args[1], rc, (int)p->olen, p->obuf,
				(int)p->elen, p->ebuf);
		cxr_free(p);
		fail();
	}
	cxr_free(p);
}

static void write_ctrl_options(struct fx *f)
{
	char path[160];
	FILE *o;

	snprintf(path, sizeof(path), "%s/mosquitto_ctrl", f->tmpdir);
	o = fopen(path, "w");
	assert_non_null(o);
	fprintf(o, "-h 127.0.0.1\n-p %d\n-u admin\n", f->b.port);
	fclose(o);
}

/*
 * Dynamic security loaded beside cardex, cardex's plugin line first: clients
 * and roles made with mosquitto_ctrl work outside the namespace, and a
 * dynsec client whose role grants "#" still gets nothing in it nor a
 * terminal's client ID. With dynsec's line first, its callbacks answer
 * before cardex's and that role opens the namespace: cardex warns at start.
 */
static void dynsec_run(struct fx *f, bool cardex_first)
{
	const char *dynsec = cxb_dynsec_plugin();
	const char *cardex = getenv("CARDEX_PLUGIN");
	char conf[160], extra[1024];
	mc_client *sensor, *viewer, *tina;

	if(dynsec == NULL){
		skip();
	}
	snprintf(conf, sizeof(conf), "%s/dynsec.json", f->tmpdir);
	{
		const char *args[] = {"dynsec", "init", conf, "admin", NULL};

		ctrl(f, "admin-pw\nadmin-pw\n", args);
		chmod(conf, 0666);
	}
	if(cardex_first){
		snprintf(extra, sizeof(extra), "plugin %s\nplugin %s\nplugin_opt_config_file %s\n", cardex, dynsec, conf);
	}else{
		snprintf(extra, sizeof(extra), "plugin %s\nplugin_opt_config_file %s\nplugin %s\n", dynsec, conf, cardex);
	}
	start(f, false, NULL, extra);
	write_ctrl_options(f);
	{
		const char *create[] = {"dynsec", "createClient", "sensor1", NULL};
		const char *create2[] = {"dynsec", "createClient", "viewer", NULL};
		const char *role[] = {"dynsec", "createRole", "everything", NULL};
		const char *acl1[] = {"dynsec", "addRoleACL", "everything", "publishClientSend", "sensors/#", "allow", NULL};
		const char *acl2[] = {"dynsec", "addRoleACL", "everything", "subscribePattern", "#", "allow", NULL};
		const char *acl3[] = {"dynsec", "addRoleACL", "everything", "publishClientReceive", "#", "allow", NULL};
		const char *add1[] = {"dynsec", "addClientRole", "sensor1", "everything", NULL};
		const char *add2[] = {"dynsec", "addClientRole", "viewer", "everything", NULL};

		ctrl(f, "sensor-pw\nsensor-pw\nadmin-pw\n", create);
		ctrl(f, "viewer-pw\nviewer-pw\nadmin-pw\n", create2);
		ctrl(f, "admin-pw\n", role);
		ctrl(f, "admin-pw\n", acl1);
		ctrl(f, "admin-pw\n", acl2);
		ctrl(f, "admin-pw\n", acl3);
		ctrl(f, "admin-pw\n", add1);
		ctrl(f, "admin-pw\n", add2);
	}
	tina = connected(f, "tina", "tina", false, CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, tina, "reply/tina", 1, 0, NULL), 1);

	sensor = cl_new(f, "sensor-1", NULL, true, false);
	assert_int_equal(mosquitto_username_pw_set(sensor->m, "sensor1", "sensor-pw"), 0);
	assert_int_equal(mc_connect(&f->mc, sensor, NULL), CONNACK_ACCEPTED);
	viewer = cl_new(f, "viewer-1", NULL, true, false);
	assert_int_equal(mosquitto_username_pw_set(viewer->m, "viewer", "viewer-pw"), 0);
	assert_int_equal(mc_connect(&f->mc, viewer, NULL), CONNACK_ACCEPTED);
	assert_int_equal(mc_subscribe(&f->mc, viewer, "#", 1, 0, NULL), 1);
	cl_publish(f, sensor, "sensors/1", "21.5", 1, false);
	cl_publish(f, sensor, "other/1", "denied-by-dynsec", 1, false);
	cl_publish(f, tina, "keys/tina", "not json", 1, false);
	mc_wait_msgs(&f->mc, viewer, 1);
	mc_wait_msgs(&f->mc, tina, 1);
	mc_pump(&f->mc, SILENCE_MS);
	assert_true(has_msg(viewer, "sensors/1|21.5|1|0"));
	assert_false(got_prefix(viewer, "other/"));
	assert_true(got_prefix(tina, "reply/tina|{"));
	if(cardex_first){
		/* The namespace stays closed to the "#" role, and tina's ID stays hers. */
		assert_false(got_prefix(viewer, "reply/"));
		{
			mc_client *thief = cl_new(f, "tina", NULL, true, false);

			assert_int_equal(mosquitto_username_pw_set(thief->m, "viewer", "viewer-pw"), 0);
			assert_int_equal(mc_connect(&f->mc, thief, NULL), CONNACK_NOT_AUTHORISED);
		}
		assert_false(cxb_log_contains(&f->b, "plugin line(s) come before cardex's"));
	}else{
		/* What the warning is about: dynsec answered first and let the viewer read tina's replies. */
		assert_true(got_prefix(viewer, "reply/tina|"));
		assert_true(cxb_log_contains(&f->b, "cardex: WARNING: 1 plugin line(s) come before cardex's"));
	}
}

static void test_dynsec_cardex_first(void **state)
{
	dynsec_run(*state, true);
}

static void test_dynsec_first_opens_namespace(void **state)
{
	dynsec_run(*state, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outside_same_as_without_plugin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_defer_denies_without_acl_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_acl_file_decides, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_reload_adds_acl_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_terminals_survive_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_state_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynsec_cardex_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynsec_first_opens_namespace, setup, teardown),
	};

	mosquitto_lib_init();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
