/*
 * Offers, exchanges and limits across a restart of the real Mosquitto with
 * persistence true: stopped cleanly (SIGTERM) and started again, the broker
 * answers as if it had run on, the time it was down counted; killed
 * (SIGKILL) after that, it starts with nothing rather than with what was
 * used since. Also the choice of the file (the broker's settings, the
 * plugin option) and the refusal of a damaged one.
 *
 * libmosquitto clients (mqttc.h) on 127.0.0.1; every wait is bounded.
 */
#define _GNU_SOURCE /* memmem */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "broker.h"
#include "cli_run.h"
#include "mqttc.h"

#define CARD "{\"exchange\":\"%s\",\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"%s\"]]]}"
#define XID_HEX 32

static const cxb_account accounts[] = {
	{"alice", "pw-alice-x"},
	{"bob", "pw-bob-x"},
	{"carol", "pw-carol-x"},
	{"dave", "pw-dave-x"},
	{"erin", "pw-erin-x"},
	{"frank", "pw-frank-x"},
	{"mallory", "pw-mallory-x"},
};

static const char *password_of(const char *user)
{
	for(size_t i = 0; i < sizeof(accounts) / sizeof(accounts[0]); i++){
		if(strcmp(accounts[i].id, user) == 0){
			return accounts[i].password;
		}
	}
	return NULL;
}

struct fx {
	cxb_broker b;
	bool started;
	mc_set mc;
	char dir[64];    /* the broker's persistence_location; removed by the teardown */
	char db[128];    /* the plugin's file in it */
	char extra[512]; /* persistence lines of the broker's configuration */
	char opts[256];  /* plugin options */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if(f == NULL){
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/cardex-persist-XXXXXX");
	if(mkdtemp(f->dir) == NULL){
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/mosquitto.db.cardex", f->dir);
	snprintf(f->extra, sizeof(f->extra), "persistence true\npersistence_location %s/\n", f->dir);
	snprintf(f->opts, sizeof(f->opts), "plugin_opt_state_file %s/terminals\n", f->dir);
	*state = f;
	return 0;
}

static void stop(struct fx *f)
{
	mc_set_free(&f->mc);
	if(f->started){
		assert_int_equal(cxb_stop_check(&f->b), 0);
		f->started = false;
	}
}

static int teardown(void **state)
{
	struct fx *f = *state;

	mc_set_free(&f->mc);
	if(f->started){
		cxb_stop(&f->b);
	}
	cxr_remove_tree(f->dir);
	free(f);
	return 0;
}

static void start(struct fx *f, const char *opts, const char *extra)
{
	cxb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = opts;
	cfg.extra_conf = extra;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	assert_int_equal(cxb_start(&f->b, &cfg), 0);
	f->started = true;
	mc_set_init(&f->mc, f->b.port);
}

/* Terminal id connected (persistent session unless clean) and subscribed to its reply topic. */
static mc_client *term(struct fx *f, const char *id, bool clean)
{
	mc_client *c = mc_new(&f->mc, id, id, password_of(id), clean, MQTT_PROTOCOL_V311);
	char topic[64];

	assert_non_null(c);
	assert_int_equal(mc_connect(&f->mc, c, NULL), 0);
	snprintf(topic, sizeof(topic), "reply/%s", id);
	assert_int_equal(mc_subscribe(&f->mc, c, topic, 1, 0, NULL), 1);
	return c;
}

/* Publishes payload on topic (QoS 1) and waits for the flow to complete. */
static void send(struct fx *f, mc_client *c, const char *topic, const char *payload)
{
	assert_int_equal(mc_publish(&f->mc, c, topic, payload, (int)strlen(payload), 1, false, NULL), 0);
}

/* Waits until c received n messages containing needle; prints what it has when not. */
static void expect(struct fx *f, const mc_client *c, const char *needle, size_t n)
{
	if(!mc_wait_count(&f->mc, c, needle, n)){
		fprintf(stderr, "expected %zu message(s) with %s; got:\n", n, needle);
		for(size_t i = 0; i < c->nmsgs; i++){
			fprintf(stderr, "  %s %s\n", c->msgs[i].topic, c->msgs[i].payload);
		}
		fail();
	}
}

/* The exchange ID of the last match c received. */
static void match_xid(const mc_client *c, char xid[XID_HEX + 1])
{
	for(size_t i = c->nmsgs; i > 0; i--){
		const char *p = strstr(c->msgs[i - 1].payload, "\"exchange\":\"");
		if(p != NULL && strstr(c->msgs[i - 1].payload, "\"type\":\"match\"") != NULL){
			memcpy(xid, p + 12, XID_HEX);
			xid[XID_HEX] = '\0';
			return;
		}
	}
	fail_msg("no match received");
}

static void sleep_ms(long ms)
{
	if(ms <= 0){
		return;
	}
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while(nanosleep(&ts, &ts) != 0 && errno == EINTR){
	}
}

static void expect_log(const struct fx *f, const char *needle)
{
	if(!cxb_log_contains(&f->b, needle)){
		char *log = cxb_log_read(&f->b);
		fprintf(stderr, "log lacks \"%s\":\n%s\n", needle, log ? log : "(unreadable)");
		free(log);
		fail();
	}
}

/*
 * A clean stop and start: an offer keeps its key (by MAC) and its attempts
 * left, an exchange where one card passed completes, a claimer at its limit
 * stays rate-limited, an offer whose time ran out while the broker was down
 * is expired and its owner told; the file is gone once the broker serves,
 * so a crash afterwards brings nothing back.
 */
static void test_clean_restart(void **state)
{
	struct fx *f = *state;
	mc_client *alice, *bob, *carol, *dave, *erin, *frank, *mallory;
	char xid[XID_HEX + 1], msg[512], *file;
	long long erin_offered;
	struct stat st;
	size_t len;

	start(f, f->opts, f->extra);
	expect_log(f, "cardex: persistence | no saved offers and exchanges in ");
	alice = term(f, "alice", false);
	bob = term(f, "bob", true);
	carol = term(f, "carol", true);
	dave = term(f, "dave", true);
	erin = term(f, "erin", false);
	mallory = term(f, "mallory", true);

	send(f, alice, "keys/alice", "{\"key\":\"483920\",\"ttl\":120,\"ref\":\"a1\"}");
	expect(f, alice, "\"type\":\"offer\"", 1);
	send(f, bob, "claim/alice", "{\"key\":\"111111\",\"ref\":\"b1\"}");
	expect(f, bob, "\"code\":\"no-match\"", 1);
	expect(f, alice, "\"attempts_left\":2", 1);

	send(f, carol, "keys/carol", "{\"key\":\"555555\",\"ref\":\"c1\"}");
	expect(f, carol, "\"type\":\"offer\"", 1);
	send(f, dave, "claim/carol", "{\"key\":\"555555\",\"ref\":\"d1\"}");
	expect(f, dave, "\"type\":\"match\"", 1);
	match_xid(dave, xid);
	snprintf(msg, sizeof(msg), CARD, xid, "Carol");
	send(f, carol, "card/dave", msg);
	expect(f, dave, "\"type\":\"card\"", 1);
	expect(f, carol, "\"type\":\"sent\"", 1);

	send(f, erin, "keys/erin", "{\"key\":\"777777\",\"ttl\":5,\"ref\":\"e1\"}");
	expect(f, erin, "\"type\":\"offer\"", 1);
	erin_offered = cxb_now_ms();

	for(int i = 0; i < 10; i++){
		snprintf(msg, sizeof(msg), "{\"key\":\"%06d\",\"ref\":\"m%d\"}", i, i);
		send(f, mallory, "claim/nobody", msg);
	}
	expect(f, mallory, "\"code\":\"no-match\"", 10);
	send(f, mallory, "claim/nobody", "{\"key\":\"000042\",\"ref\":\"m10\"}");
	expect(f, mallory, "\"code\":\"rate-limited\"", 1);

	stop(f);
	assert_int_equal(stat(f->db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	file = cxb_read_file(f->db, &len);
	assert_non_null(file);
	assert_null(memmem(file, len, "483920", 6)); /* the key is not in it, only its MAC */
	free(file);

	/* Down until erin's offer (5 s) has run out. */
	sleep_ms((long)(erin_offered + 5500 - cxb_now_ms()));
	start(f, f->opts, f->extra);
	expect_log(f, "2 offer(s), 1 exchange(s), 3 failure window(s)");
	expect_log(f, "1 offer(s) and exchange(s) expired meanwhile");

	/* Erin's persistent session gets the notice the broker owed her. */
	erin = term(f, "erin", false);
	expect(f, erin, "\"type\":\"expired\",\"offer\":true,\"ref\":\"e1\"", 1);
	alice = term(f, "alice", false);
	bob = term(f, "bob", true);
	carol = term(f, "carol", true);
	dave = term(f, "dave", true);
	frank = term(f, "frank", true);
	mallory = term(f, "mallory", true);

	/* One attempt was used before the stop: the next wrong key leaves one. */
	send(f, bob, "claim/alice", "{\"key\":\"222222\",\"ref\":\"b2\"}");
	expect(f, bob, "\"code\":\"no-match\"", 1);
	expect(f, alice, "\"attempts_left\":1", 1);
	assert_int_equal(access(f->db, F_OK), -1); /* serving: the file is gone */
	send(f, bob, "claim/alice", "{\"key\":\"483920\",\"ref\":\"b3\"}");
	expect(f, bob, "\"type\":\"match\"", 1);
	expect(f, alice, "\"type\":\"match\"", 1);

	/* The exchange goes on: dave's card completes it. */
	snprintf(msg, sizeof(msg), CARD, xid, "Dave");
	send(f, dave, "card/carol", msg);
	expect(f, carol, "\"type\":\"card\"", 1);
	expect(f, dave, "\"type\":\"sent\"", 1);
	send(f, carol, "card/dave", msg);
	expect(f, carol, "\"code\":\"unknown-exchange\"", 1);

	send(f, mallory, "claim/nobody", "{\"key\":\"000043\",\"ref\":\"m11\"}");
	expect(f, mallory, "\"code\":\"rate-limited\"", 1);
	send(f, frank, "claim/erin", "{\"key\":\"777777\",\"ref\":\"f1\"}");
	expect(f, frank, "\"code\":\"no-match\"", 1);

	/* A crash now: the next start has nothing, not alice's used offer again. */
	cxb_kill(&f->b);
	stop(f);
	start(f, f->opts, f->extra);
	expect_log(f, "cardex: persistence | no saved offers and exchanges in ");
	bob = term(f, "bob", true);
	send(f, bob, "claim/alice", "{\"key\":\"483920\",\"ref\":\"b4\"}");
	expect(f, bob, "\"code\":\"no-match\"", 1);
	stop(f);
}

/* A damaged file, or one of another format version, stops the broker with the reason. */
static void test_damaged_file_refused(void **state)
{
	struct fx *f = *state;
	cxb_config cfg;
	char *log;
	FILE *w;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = f->opts;
	cfg.extra_conf = f->extra;
	cfg.accounts = accounts;
	cfg.naccounts = 1;

	w = fopen(f->db, "wb");
	assert_non_null(w);
	fwrite("cxengine\1\0\0\0", 1, 12, w);
	for(int i = 0; i < 200; i++){
		fputc(i, w);
	}
	fclose(w);
	log = cxb_start_refused(&cfg);
	assert_non_null(log);
	assert_non_null(strstr(log, "cardex: cannot load saved offers and exchanges from"));
	assert_non_null(strstr(log, "checksum mismatch"));
	free(log);

	w = fopen(f->db, "wb");
	assert_non_null(w);
	fwrite("cxengine\7\0\0\0", 1, 12, w);
	fclose(w);
	assert_true(cxb_refused_with(&cfg, "format version 7, this plugin reads version 1"));
}

/*
 * Without broker persistence nothing is kept (and the log says so);
 * plugin_opt_persist_file keeps it anyway, or (none) turns it off; a
 * place where the file cannot be written stops the broker at start.
 */
static void test_where(void **state)
{
	struct fx *f = *state;
	char opts[512], extra[512], path[128];
	cxb_config cfg;
	mc_client *alice;

	start(f, NULL, NULL);
	expect_log(f, "cardex: persistence | off (the broker's persistence is off)");
	stop(f);

	/* persistence_file names the file, persistence_location (here without a final '/') its directory. */
	snprintf(extra, sizeof(extra), "persistence true\npersistence_file other.db\npersistence_location %s\n",
			f->dir);
	snprintf(path, sizeof(path), "%s/other.db.cardex", f->dir);
	start(f, NULL, extra);
	snprintf(opts, sizeof(opts), "pending offers and open exchanges are saved to %s when", path);
	expect_log(f, opts);
	stop(f);
	assert_int_equal(access(path, F_OK), 0);

	start(f, "plugin_opt_persist_file none\n", f->extra);
	expect_log(f, "cardex: persistence | off (plugin_opt_persist_file none)");
	stop(f);
	assert_int_equal(access(f->db, F_OK), -1);

	snprintf(path, sizeof(path), "%s/engine", f->dir);
	snprintf(opts, sizeof(opts), "plugin_opt_persist_file %s\n", path);
	start(f, opts, NULL);
	alice = term(f, "alice", true);
	send(f, alice, "keys/alice", "{\"key\":\"483920\",\"ref\":\"a1\"}");
	expect(f, alice, "\"type\":\"offer\"", 1);
	stop(f);
	assert_int_equal(access(path, F_OK), 0);
	start(f, opts, NULL);
	expect_log(f, "1 offer(s), 0 exchange(s)");
	stop(f);

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.accounts = accounts;
	cfg.naccounts = 1;
	cfg.plugin_opts = "plugin_opt_persist_file /nonexistent-cardex-dir/engine\n";
	assert_true(cxb_refused_with(&cfg, "cardex: cannot write offers and exchanges beside"));
	cfg.plugin_opts = "plugin_opt_persist_file engine\n";
	assert_true(cxb_refused_with(&cfg, "plugin_opt_persist_file: \"engine\" (must be an absolute path)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_where, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
