/*
 * What an operator does to a running broker, against the real Mosquitto
 * with the built plugin:
 *
 * - terminals provisioned with `mosquitto_ctrl dynsec createClient` exchange
 *   at once; `disableClient` (and `deleteClient`) withdraws the terminal's
 *   pending offer, and the terminal is told once it may connect again;
 * - a terminal added to the password_file is accepted after SIGHUP;
 * - the counters and gauges are published retained under $SYS/broker/cardex/
 *   every stats_interval, readable where the broker's ACL grants it;
 * - the plugin tells when set_tcp_nodelay is off.
 *
 * Each test starts its own broker and stops it (and every process it ran)
 * in its teardown; every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "broker.h"
#include "cli_run.h"

#define WAIT_MS 5000
#define SILENCE_MS 400
#define MAX_MSGS 128
#define MAX_CLIENTS 8

#define CONNACK_ACCEPTED 0
#define CONNACK_NOT_AUTHORISED 5

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
	{"mon", "pw-mon-secret"},
};

static const char card_a[] = "{\"exchange\":\"%s\",\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
	"[\"fn\",{},\"text\",\"Ada Lovelace\"]]]}";

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* mosquitto_ctrl: $MOSQUITTO_CTRL, or Debian's. */
static const char *ctrl_exe(void)
{
	const char *env = getenv("MOSQUITTO_CTRL");

	return env != NULL && *env != '\0' ? env : "/usr/bin/mosquitto_ctrl";
}

/* ---- a small MQTT 3.1.1 client, driven synchronously ---- */

struct msg {
	char *topic;
	char *payload;
	bool retained;
};

struct cl {
	struct mosquitto *m;
	int connack;      /* -1 until a CONNACK */
	bool connected;
	bool subscribed;
	struct msg msgs[MAX_MSGS];
	size_t nmsgs;
	size_t next;      /* first message not consumed by cl_expect */
};

struct fx {
	cxb_broker b;
	bool started;
	char dir[64];     /* this test's files, removed at teardown */
	struct cl *cls[MAX_CLIENTS];
	size_t ncls;
	cxr_proc *procs[6];
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct cl *c = obj;

	(void)m;
	c->connack = rc;
	c->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	(void)rc;
	((struct cl *)obj)->connected = false;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	(void)m;
	(void)mid;
	(void)n;
	(void)granted;
	((struct cl *)obj)->subscribed = true;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct cl *c = obj;
	struct msg *s;

	(void)m;
	if(c->nmsgs == MAX_MSGS){
		return;
	}
	s = &c->msgs[c->nmsgs++];
	s->topic = strdup(msg->topic);
	s->payload = calloc(1, (size_t)msg->payloadlen + 1);
	if(s->payload != NULL){
		memcpy(s->payload, msg->payload, (size_t)msg->payloadlen);
	}
	s->retained = msg->retain;
}

static void cl_free(struct cl *c)
{
	if(c == NULL){
		return;
	}
	mosquitto_disconnect(c->m);
	mosquitto_destroy(c->m);
	for(size_t i = 0; i < c->nmsgs; i++){
		free(c->msgs[i].topic);
		free(c->msgs[i].payload);
	}
	free(c);
}

/* Runs the client's network loop for about ms. */
static void cl_run(struct cl *c, int ms)
{
	long long end = cxb_now_ms() + ms;

	while(cxb_now_ms() < end){
		mosquitto_loop(c->m, 20, 1);
	}
}

/* Runs the loop until *flag is true or WAIT_MS passed; returns *flag. */
static bool cl_until(struct cl *c, const bool *flag)
{
	long long end = cxb_now_ms() + WAIT_MS;

	while(!*flag && cxb_now_ms() < end){
		if(mosquitto_loop(c->m, 20, 1) != MOSQ_ERR_SUCCESS){
			cl_run(c, 20);
		}
	}
	return *flag;
}

/* Connects client id as user (clean session or not); returns the CONNACK code (-1: none). */
static int cl_connect_as(struct fx *f, struct cl **out, const char *id, const char *user, const char *pw,
		bool clean)
{
	struct cl *c = calloc(1, sizeof(*c));
	long long end;

	assert_non_null(c);
	assert_true(f->ncls < MAX_CLIENTS);
	f->cls[f->ncls++] = c;
	c->connack = -1;
	c->m = mosquitto_new(id, clean, c);
	assert_non_null(c->m);
	assert_int_equal(mosquitto_username_pw_set(c->m, user, pw), MOSQ_ERR_SUCCESS);
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_disconnect_callback_set(c->m, on_disconnect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_message_callback_set(c->m, on_message);
	assert_int_equal(mosquitto_connect(c->m, "127.0.0.1", f->b.port, 30), MOSQ_ERR_SUCCESS);
	end = cxb_now_ms() + WAIT_MS;
	while(c->connack < 0 && cxb_now_ms() < end){
		if(mosquitto_loop(c->m, 20, 1) != MOSQ_ERR_SUCCESS){
			break;
		}
	}
	*out = c;
	return c->connack;
}

static void cl_subscribe(struct cl *c, const char *filter)
{
	c->subscribed = false;
	assert_int_equal(mosquitto_subscribe(c->m, NULL, filter, 1), MOSQ_ERR_SUCCESS);
	assert_true(cl_until(c, &c->subscribed));
}

static void cl_publish(struct cl *c, const char *topic, const char *payload)
{
	assert_int_equal(mosquitto_publish(c->m, NULL, topic, (int)strlen(payload), payload, 1, false),
			MOSQ_ERR_SUCCESS);
	cl_run(c, 50);
}

/* Waits for the next message on topic containing needle; returns it (owned by c). */
static const struct msg *cl_expect(struct cl *c, const char *topic, const char *needle)
{
	long long end = cxb_now_ms() + WAIT_MS;

	for(;;){
		while(c->next < c->nmsgs){
			const struct msg *m = &c->msgs[c->next++];
			if(strcmp(m->topic, topic) == 0 && m->payload != NULL && strstr(m->payload, needle) != NULL){
				return m;
			}
		}
		if(cxb_now_ms() >= end){
			fail_msg("no message on %s containing %s", topic, needle);
		}
		mosquitto_loop(c->m, 20, 1);
	}
}

/* The latest payload received on topic (NULL: none yet), running the loop for ms first. */
static const char *cl_latest(struct cl *c, const char *topic, int ms)
{
	cl_run(c, ms);
	for(size_t i = c->nmsgs; i-- > 0;){
		if(strcmp(c->msgs[i].topic, topic) == 0){
			return c->msgs[i].payload;
		}
	}
	return NULL;
}

/* Waits until the latest value published on topic is want. */
static void cl_expect_value(struct cl *c, const char *topic, const char *want)
{
	long long end = cxb_now_ms() + WAIT_MS;
	const char *v;

	while((v = cl_latest(c, topic, 50)) == NULL || strcmp(v, want) != 0){
		if(cxb_now_ms() >= end){
			fail_msg("%s is %s, expected %s", topic, v != NULL ? v : "(nothing)", want);
		}
	}
}

/* Copies the value of "exchange" in payload into xid[33]. */
static void xid_of(const char *payload, char xid[33])
{
	const char *p = strstr(payload, "\"exchange\":\"");

	assert_non_null(p);
	memcpy(xid, p + 12, 32);
	xid[32] = '\0';
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if(f == NULL){
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/cardex-ops-XXXXXX");
	if(mkdtemp(f->dir) == NULL || chmod(f->dir, 0755) != 0){
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	int rc = 0;

	cxr_free_all(f->procs, sizeof(f->procs) / sizeof(f->procs[0]));
	for(size_t i = 0; i < f->ncls; i++){
		cl_free(f->cls[i]);
	}
	if(f->started && cxb_stop_check(&f->b) != 0){
		rc = -1;
	}
	cxr_remove_tree(f->dir);
	free(f);
	return rc;
}

static void fx_start(struct fx *f, const char *plugin_opts, const char *extra)
{
	cxb_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = plugin_opts;
	cfg.extra_conf = extra;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	assert_int_equal(cxb_start(&f->b, &cfg), 0);
	f->started = true;
}

/* Waits until the broker's log contains needle. */
static void expect_log(struct fx *f, const char *needle)
{
	long long end = cxb_now_ms() + WAIT_MS;

	while(!cxb_log_contains(&f->b, needle)){
		if(cxb_now_ms() >= end){
			fail_msg("the broker never logged \"%s\"", needle);
		}
		sleep_ms(20);
	}
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* Runs exe with args, stdin_data and env ("NAME=value" or NULL); fails the test unless it exits 0. */
static void run_ok(struct fx *f, const char *exe, const char *stdin_data, const char *env,
		const char *const *args)
{
	cxr_opts o = {.exe = exe, .stdin_data = stdin_data};
	size_t n = sizeof(f->procs) / sizeof(f->procs[0]);
	cxr_proc *p;

	if(env != NULL){
		o.env[0] = env;
	}
	p = cxr_spawn(&o, args);
	/* Tracked while it runs, so that a failure leaves it to the teardown. */
	cxr_track(f->procs, n, p);
	if(cxr_finish(p) != 0){
		fail_msg("%s %s exited %d: %s%s", exe, args[0], p->status, p->obuf, p->ebuf);
	}
	for(size_t i = 0; i < n; i++){
		if(f->procs[i] == p){
			f->procs[i] = NULL;
		}
	}
	cxr_free(p);
}

/* ---- exchanges by raw clients ---- */

/* owner (connected, subscribed to its replies) offers key. */
static void offer(struct cl *owner, const char *id, const char *key)
{
	char topic[80], payload[80];

	snprintf(topic, sizeof(topic), "keys/%s", id);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\",\"ref\":\"o-%s\"}", key, id);
	cl_publish(owner, topic, payload);
	snprintf(topic, sizeof(topic), "reply/%s", id);
	cl_expect(owner, topic, "\"type\":\"offer\"");
}

/* claimer claims owner's offer with key; returns the reply it gets (owned by claimer). */
static const char *claim(struct cl *claimer, const char *claimer_id, const char *owner_id, const char *key,
		const char *needle)
{
	char topic[80], payload[80];

	snprintf(topic, sizeof(topic), "claim/%s", owner_id);
	snprintf(payload, sizeof(payload), "{\"key\":\"%s\"}", key);
	cl_publish(claimer, topic, payload);
	snprintf(topic, sizeof(topic), "reply/%s", claimer_id);
	return cl_expect(claimer, topic, needle)->payload;
}

/* A full exchange: a offers, b claims, both send a card. Returns nothing; asserts each reply. */
static void exchange(struct cl *a, const char *a_id, struct cl *b, const char *b_id, const char *key)
{
	char topic[80], card[512], xid[33], reply_a[80], reply_b[80];

	snprintf(reply_a, sizeof(reply_a), "reply/%s", a_id);
	snprintf(reply_b, sizeof(reply_b), "reply/%s", b_id);
	offer(a, a_id, key);
	xid_of(claim(b, b_id, a_id, key, "\"type\":\"match\""), xid);
	cl_expect(a, reply_a, "\"type\":\"match\"");
	snprintf(card, sizeof(card), card_a, xid);
	snprintf(topic, sizeof(topic), "card/%s", b_id);
	cl_publish(a, topic, card);
	cl_expect(b, reply_b, "\"type\":\"card\"");
	snprintf(topic, sizeof(topic), "card/%s", a_id);
	cl_publish(b, topic, card);
	cl_expect(a, reply_a, "\"type\":\"card\"");
}

/* ---- dynamic security ---- */

struct dynsec {
	char file[128];
	char ctrl_conf_home[300]; /* XDG_CONFIG_HOME=... for mosquitto_ctrl */
	char port[16];
};

/*
 * Creates a dynamic-security configuration with an admin (mosquitto_ctrl
 * dynsec init) and mosquitto_ctrl's options file holding the admin's
 * credentials, so that no password is on a command line. "admin" has the
 * form of a terminal ID, so the plugin's identity rules apply to it: its
 * client ID must be "admin" or "admin:<suffix>" (mosquitto_ctrl's default
 * is random).
 */
static void dynsec_prepare(struct fx *f, struct dynsec *d)
{
	const char *init[] = {"dynsec", "init", d->file, "admin", NULL};
	char path[256], text[256];

	snprintf(d->file, sizeof(d->file), "%s/dynamic-security.json", f->dir);
	run_ok(f, ctrl_exe(), "pw-admin\npw-admin\n", NULL, init);
	assert_int_equal(chmod(d->file, 0644), 0);
	snprintf(path, sizeof(path), "%s/xdg", f->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(d->ctrl_conf_home, sizeof(d->ctrl_conf_home), "XDG_CONFIG_HOME=%s", path);
	snprintf(path, sizeof(path), "%s/xdg/mosquitto_ctrl", f->dir);
	snprintf(text, sizeof(text), "-u admin\n-P pw-admin\n-i admin:ctrl\n");
	write_text(path, text, 0600);
}

/* mosquitto_ctrl -h 127.0.0.1 -p PORT dynsec <words...> [stdin: pw twice, when not NULL]. */
static void dynsec_run(struct fx *f, struct dynsec *d, const char *pw, const char *const *words)
{
	const char *args[16] = {"-h", "127.0.0.1", "-p", d->port, "dynsec"};
	size_t n = 5;
	char input[128];

	for(size_t i = 0; words[i] != NULL; i++){
		assert_true(n < sizeof(args) / sizeof(args[0]) - 1);
		args[n++] = words[i];
	}
	args[n] = NULL;
	snprintf(input, sizeof(input), "%s\n%s\n", pw != NULL ? pw : "", pw != NULL ? pw : "");
	run_ok(f, ctrl_exe(), pw != NULL ? input : NULL, d->ctrl_conf_home, args);
}

/* mosquitto_ctrl ... dynsec <cmd> <user>, with the new password on stdin for createClient. */
static void dynsec_ctrl(struct fx *f, struct dynsec *d, const char *cmd, const char *user, const char *pw)
{
	const char *words[] = {cmd, user, NULL};

	dynsec_run(f, d, pw, words);
}

static void dynsec_start(struct fx *f, struct dynsec *d)
{
	char opts[256], extra[512];

	snprintf(opts, sizeof(opts), "plugin_opt_dynsec_config_file %s\nplugin_opt_stats_interval 1\n", d->file);
	snprintf(extra, sizeof(extra), "plugin %s\nplugin_opt_config_file %s\n", cxb_dynsec_plugin(), d->file);
	fx_start(f, opts, extra);
	snprintf(d->port, sizeof(d->port), "%d", f->b.port);
	expect_log(f, "cardex: watching ");
}

/*
 * Terminals created with `mosquitto_ctrl dynsec createClient` while the
 * broker runs exchange at once, with each other and with a password_file
 * terminal, through the cardex CLI; a client given a role that may read
 * $SYS sees the plugin's counters.
 */
static void test_dynsec_provision(void **state)
{
	struct fx *f = *state;
	struct dynsec d;
	char port[16], key_line[64];
	cxr_proc *a, *b;

	if(cxb_dynsec_plugin() == NULL){
		skip();
	}
	dynsec_prepare(f, &d);
	dynsec_start(f, &d);
	dynsec_ctrl(f, &d, "createClient", "dora", "pw-dora-secret");
	dynsec_ctrl(f, &d, "createClient", "emil", "pw-emil-secret");
	snprintf(port, sizeof(port), "%d", f->b.port);

	{
		const char *offer_args[] = {"offer", "--json", "--host", "127.0.0.1", "--port", port, "--id", "dora",
			"--card", NULL, "--timeout", "20", NULL};
		const char *claim_args[] = {"claim", "dora", "--json", "--host", "127.0.0.1", "--port", port, "--id",
			"emil", "--card", NULL, "--timeout", "20", NULL};
		char card1[256], card2[256];
		cxr_opts oa = {.password = "pw-dora-secret"};
		cxr_opts ob = {.password = "pw-emil-secret"};

		snprintf(card1, sizeof(card1), "%s/ada.json", getenv("CARDEX_TEST_DATA"));
		snprintf(card2, sizeof(card2), "%s/grace.json", getenv("CARDEX_TEST_DATA"));
		offer_args[9] = card1;
		claim_args[10] = card2;
		a = cxr_spawn(&oa, offer_args);
		cxr_track(f->procs, sizeof(f->procs) / sizeof(f->procs[0]), a);
		cxr_offer_key(a, key_line, sizeof(key_line));
		ob.stdin_data = key_line;
		b = cxr_spawn(&ob, claim_args);
		cxr_track(f->procs, sizeof(f->procs) / sizeof(f->procs[0]), b);
		if(cxr_finish(b) != 0 || cxr_finish(a) != 0){
			fail_msg("exchange failed: claim %d %s %s; offer %d %s %s", b->status, b->obuf, b->ebuf, a->status,
					a->obuf, a->ebuf);
		}
		assert_non_null(strstr(a->obuf, "Grace Hopper"));
		assert_non_null(strstr(b->obuf, "Ada Lovelace"));
	}

	/* A dynamic-security terminal and a password_file terminal, side by side. */
	{
		struct cl *dora, *pa;

		assert_int_equal(cl_connect_as(f, &dora, "dora", "dora", "pw-dora-secret", true), CONNACK_ACCEPTED);
		cl_subscribe(dora, "reply/dora");
		assert_int_equal(cl_connect_as(f, &pa, "A", "A", "pw-a-secret", true), CONNACK_ACCEPTED);
		cl_subscribe(pa, "reply/A");
		exchange(dora, "dora", pa, "A", "604213");
	}

	/* Monitoring through a dynamic-security role that may read $SYS. */
	{
		const char *role[] = {"createRole", "monitoring", NULL};
		const char *sub[] = {"addRoleACL", "monitoring", "subscribePattern", "$SYS/#", "allow", NULL};
		const char *rcv[] = {"addRoleACL", "monitoring", "publishClientReceive", "$SYS/#", "allow", NULL};
		const char *grant[] = {"addClientRole", "grafana", "monitoring", NULL};
		struct cl *mon;

		dynsec_ctrl(f, &d, "createClient", "grafana", "pw-grafana-secret");
		dynsec_run(f, &d, NULL, role);
		dynsec_run(f, &d, NULL, sub);
		dynsec_run(f, &d, NULL, rcv);
		dynsec_run(f, &d, NULL, grant);
		assert_int_equal(cl_connect_as(f, &mon, "grafana", "grafana", "pw-grafana-secret", true), CONNACK_ACCEPTED);
		cl_subscribe(mon, "$SYS/broker/cardex/#");
		cl_expect_value(mon, "$SYS/broker/cardex/matches", "2");
		cl_expect_value(mon, "$SYS/broker/cardex/exchanges/completed", "2");
	}
}

/*
 * disableClient: the terminal is kicked and refused, its pending offer is
 * withdrawn at once (the right key no longer matches), and once enabled
 * again its persistent session delivers "revoked" with reason "withdrawn".
 * deleteClient withdraws the same way.
 */
static void test_dynsec_disable(void **state)
{
	struct fx *f = *state;
	struct dynsec d;
	struct cl *dora, *emil, *fred, *again;
	const char *reply;

	if(cxb_dynsec_plugin() == NULL){
		skip();
	}
	dynsec_prepare(f, &d);
	dynsec_start(f, &d);
	dynsec_ctrl(f, &d, "createClient", "dora", "pw-dora-secret");
	dynsec_ctrl(f, &d, "createClient", "emil", "pw-emil-secret");
	dynsec_ctrl(f, &d, "createClient", "fred", "pw-fred-secret");

	assert_int_equal(cl_connect_as(f, &dora, "dora", "dora", "pw-dora-secret", false), CONNACK_ACCEPTED);
	cl_subscribe(dora, "reply/dora");
	assert_int_equal(cl_connect_as(f, &emil, "emil", "emil", "pw-emil-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(emil, "reply/emil");
	offer(dora, "dora", "731905");

	dynsec_ctrl(f, &d, "disableClient", "dora", NULL);
	expect_log(f, "cardex: offer withdrawn | terminal=dora reason=disabled");
	cl_run(dora, 200);
	assert_false(dora->connected);
	reply = claim(emil, "emil", "dora", "731905", "\"type\":\"error\"");
	assert_non_null(strstr(reply, "\"code\":\"no-match\""));
	assert_int_equal(cl_connect_as(f, &again, "dora", "dora", "pw-dora-secret", false), CONNACK_NOT_AUTHORISED);

	dynsec_ctrl(f, &d, "enableClient", "dora", NULL);
	assert_int_equal(cl_connect_as(f, &again, "dora", "dora", "pw-dora-secret", false), CONNACK_ACCEPTED);
	reply = cl_expect(again, "reply/dora", "\"type\":\"revoked\"")->payload;
	assert_non_null(strstr(reply, "\"reason\":\"withdrawn\""));
	assert_non_null(strstr(reply, "\"ref\":\"o-dora\""));

	/* Deleted: the same, and an offer made after a change that left it alone stays. */
	assert_int_equal(cl_connect_as(f, &fred, "fred", "fred", "pw-fred-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(fred, "reply/fred");
	offer(fred, "fred", "558120");
	offer(again, "dora", "664401");
	dynsec_ctrl(f, &d, "deleteClient", "fred", NULL);
	expect_log(f, "cardex: offer withdrawn | terminal=fred reason=deleted");
	reply = claim(emil, "emil", "fred", "558120", "\"type\":\"error\"");
	assert_non_null(strstr(reply, "\"code\":\"no-match\""));
	reply = claim(emil, "emil", "dora", "664401", "\"type\":\"match\"");
	assert_non_null(strstr(reply, "\"peer\":\"dora\""));
	assert_false(cxb_log_contains(&f->b, "terminal=dora reason=deleted"));
}

/*
 * The watch alone, without the dynamic-security plugin (terminals from the
 * password_file): a file missing at start, then not a configuration, then
 * one that disables A. Each bad state is logged and changes nothing; the
 * disabling withdraws A's offer (B's right key no longer matches) and
 * leaves B's.
 */
static void test_dynsec_file_watch(void **state)
{
	struct fx *f = *state;
	char path[128], tmp[160], opts[256];
	struct cl *a, *b;
	const char *reply;

	snprintf(path, sizeof(path), "%s/dynsec.json", f->dir);
	snprintf(tmp, sizeof(tmp), "%s/dynsec.json.new", f->dir);
	snprintf(opts, sizeof(opts), "plugin_opt_dynsec_config_file %s\n", path);
	fx_start(f, opts, NULL);
	expect_log(f, "does not exist (yet); watching for it");

	assert_int_equal(cl_connect_as(f, &a, "A", "A", "pw-a-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(a, "reply/A");
	assert_int_equal(cl_connect_as(f, &b, "B", "B", "pw-b-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(b, "reply/B");
	offer(a, "A", "402913");
	offer(b, "B", "118734");

	/* Written aside and renamed in, as dynamic security does. */
	write_text(tmp, "{\"clients\": [{\"username\": \"A\", \"disabled\": tru", 0644);
	assert_int_equal(rename(tmp, path), 0);
	expect_log(f, "cannot read the clients of plugin_opt_dynsec_config_file");
	write_text(tmp, "{\"clients\": {\"username\": \"A\"}}", 0644);
	assert_int_equal(rename(tmp, path), 0);
	expect_log(f, "\"clients\" is not an array");
	assert_false(cxb_log_contains(&f->b, "offer withdrawn"));

	write_text(tmp, "{\"clients\": [{\"username\": \"A\", \"disabled\": true}, {\"username\": \"B\"},"
			" {\"username\": \"not a terminal\", \"disabled\": true}, {\"disabled\": true}, 42]}", 0644);
	assert_int_equal(rename(tmp, path), 0);
	expect_log(f, "cardex: offer withdrawn | terminal=A reason=disabled");
	reply = cl_expect(a, "reply/A", "\"type\":\"revoked\"")->payload;
	assert_non_null(strstr(reply, "\"reason\":\"withdrawn\""));
	reply = claim(b, "B", "A", "402913", "\"type\":\"error\"");
	assert_non_null(strstr(reply, "\"code\":\"no-match\""));
	reply = claim(a, "A", "B", "118734", "\"type\":\"match\"");
	assert_non_null(strstr(reply, "\"peer\":\"B\""));

	/* B gone from the file: deleted, but it has no offer left (it matched). */
	write_text(tmp, "{\"clients\": [{\"username\": \"A\", \"disabled\": true}]}", 0644);
	assert_int_equal(rename(tmp, path), 0);
	cl_run(a, 400);
	assert_false(cxb_log_contains(&f->b, "terminal=B reason=deleted"));
	assert_true(cxb_alive(&f->b));
}

/* A relative plugin_opt_dynsec_config_file stops the broker at start, with a "cardex:" line saying why. */
static void test_dynsec_file_relative(void **state)
{
	struct fx *f = *state;
	cxb_config cfg;
	char dir[320], *log, *slash;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.plugin_opts = "plugin_opt_dynsec_config_file dynamic-security.json\n";
	cfg.accounts = accounts;
	cfg.naccounts = 1;
	/* The harness keeps the directory of a failed start, so that the log can be read. */
	setenv("CARDEX_KEEP_BROKER_DIR", "1", 1);
	rc = cxb_start(&f->b, &cfg);
	unsetenv("CARDEX_KEEP_BROKER_DIR");
	if(rc == 0){
		f->started = true;
		fail_msg("the broker started with a relative dynsec_config_file");
	}
	log = cxb_log_read(&f->b);
	snprintf(dir, sizeof(dir), "%s", f->b.log);
	slash = strrchr(dir, '/');
	if(slash != NULL && strstr(dir, "/cardex-test-") != NULL){
		*slash = '\0';
		cxr_remove_tree(dir);
	}
	assert_non_null(log);
	if(strstr(log, "cardex: invalid value for plugin_opt_dynsec_config_file: \"dynamic-security.json\" "
			"(must be an absolute path)") == NULL){
		fprintf(stderr, "%s\n", log);
		free(log);
		fail();
	}
	free(log);
}

/* ---- password_file reload ---- */

/* A terminal added to the password_file connects after SIGHUP, not before, and exchanges. */
static void test_password_file_reload(void **state)
{
	struct fx *f = *state;
	const char *hash_args[] = {"-U", NULL, NULL};
	char path[128], line[512];
	struct cl *g, *a;
	FILE *src, *dst;

	fx_start(f, NULL, NULL);
	assert_int_equal(cl_connect_as(f, &g, "G", "G", "pw-g-secret", true), CONNACK_NOT_AUTHORISED);

	/* mosquitto_passwd -U hashes a file of its own; its line goes into the broker's file. */
	snprintf(path, sizeof(path), "%s/new.passwd", f->dir);
	write_text(path, "G:pw-g-secret\n", 0600);
	hash_args[1] = path;
	run_ok(f, getenv("MOSQUITTO_PASSWD") != NULL ? getenv("MOSQUITTO_PASSWD") : "/usr/bin/mosquitto_passwd", NULL, NULL,
			hash_args);
	src = fopen(path, "r");
	assert_non_null(src);
	assert_non_null(fgets(line, sizeof(line), src));
	fclose(src);
	assert_null(strstr(line, "pw-g-secret"));
	dst = fopen(f->b.pwfile, "a");
	assert_non_null(dst);
	assert_true(fputs(line, dst) >= 0);
	assert_int_equal(fclose(dst), 0);

	assert_int_equal(kill(f->b.pid, SIGHUP), 0);
	expect_log(f, "Reloading config.");
	{
		long long end = cxb_now_ms() + WAIT_MS;
		int rc;

		/* The reload happens in the broker's next loop iteration after the log line. */
		while((rc = cl_connect_as(f, &g, "G", "G", "pw-g-secret", true)) != CONNACK_ACCEPTED
				&& cxb_now_ms() < end){
			sleep_ms(100);
			f->ncls--;
			cl_free(g);
		}
		assert_int_equal(rc, CONNACK_ACCEPTED);
	}
	cl_subscribe(g, "reply/G");
	assert_int_equal(cl_connect_as(f, &a, "A", "A", "pw-a-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(a, "reply/A");
	exchange(g, "G", a, "A", "280417");
}

/* ---- $SYS ---- */

/*
 * With stats_interval 1, the values are published retained under
 * $SYS/broker/cardex/ to a client the acl_file lets read $SYS, track an
 * exchange within the interval, and reach a late subscriber as retained
 * messages; a terminal without that grant receives none of them.
 */
static void test_sys_tree(void **state)
{
	struct fx *f = *state;
	char acl[128], extra[256], bytes[24];
	struct cl *mon, *late, *a, *b;
	const struct msg *m;

	snprintf(acl, sizeof(acl), "%s/acl", f->dir);
	write_text(acl, "user mon\ntopic read $SYS/#\n", 0644);
	snprintf(extra, sizeof(extra), "acl_file %s\n", acl);
	fx_start(f, "plugin_opt_stats_interval 1\n", extra);

	assert_int_equal(cl_connect_as(f, &mon, "mon", "mon", "pw-mon-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(mon, "$SYS/broker/cardex/#");
	m = cl_expect(mon, "$SYS/broker/cardex/version", "cardex ");
	assert_true(m->retained);
	cl_expect_value(mon, "$SYS/broker/cardex/offers/pending", "0");
	cl_expect_value(mon, "$SYS/broker/cardex/matches", "0");

	assert_int_equal(cl_connect_as(f, &a, "A", "A", "pw-a-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(a, "reply/A");
	cl_subscribe(a, "$SYS/#");
	assert_int_equal(cl_connect_as(f, &b, "B", "B", "pw-b-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(b, "reply/B");
	offer(a, "A", "190283");
	cl_expect_value(mon, "$SYS/broker/cardex/offers/pending", "1");
	cl_expect_value(mon, "$SYS/broker/cardex/offers/accepted", "1");
	claim(b, "B", "A", "000000", "\"code\":\"no-match\"");
	claim(b, "B", "A", "000001", "\"code\":\"no-match\"");
	a->next = a->nmsgs;
	exchange(a, "A", b, "B", "190283");

	cl_expect_value(mon, "$SYS/broker/cardex/matches", "1");
	cl_expect_value(mon, "$SYS/broker/cardex/offers/pending", "0");
	cl_expect_value(mon, "$SYS/broker/cardex/offers/accepted", "2");
	cl_expect_value(mon, "$SYS/broker/cardex/exchanges/completed", "1");
	cl_expect_value(mon, "$SYS/broker/cardex/exchanges/active", "0");
	cl_expect_value(mon, "$SYS/broker/cardex/claims/evaluated", "3");
	cl_expect_value(mon, "$SYS/broker/cardex/claims/failed", "2");
	cl_expect_value(mon, "$SYS/broker/cardex/errors/sent", "2");
	cl_expect_value(mon, "$SYS/broker/cardex/cards/relayed", "2");
	/* Both sides sent the same card text. */
	{
		const char *card = strstr(card_a, "[\"vcard\"");
		snprintf(bytes, sizeof(bytes), "%zu", 2 * (strlen(card) - 1));
	}
	cl_expect_value(mon, "$SYS/broker/cardex/cards/bytes_relayed", bytes);

	/* A late subscriber gets every value at once, retained. */
	assert_int_equal(cl_connect_as(f, &late, "mon:late", "mon", "pw-mon-secret", true), CONNACK_ACCEPTED);
	cl_subscribe(late, "$SYS/broker/cardex/#");
	m = cl_expect(late, "$SYS/broker/cardex/matches", "1");
	assert_true(m->retained);
	cl_run(late, 200);
	assert_true(late->nmsgs >= 23);

	/* The terminal subscribed to $SYS/# got nothing: the acl_file grants it to mon only. */
	cl_run(a, SILENCE_MS);
	for(size_t i = 0; i < a->nmsgs; i++){
		assert_true(strncmp(a->msgs[i].topic, "$SYS", 4) != 0);
	}
}

/* ---- set_tcp_nodelay ---- */

/*
 * With set_tcp_nodelay false the plugin says so once a client is connected;
 * with true it does not. (The harness's own readiness probe is a connection
 * too, so the notice may come before the test's client connects.)
 */
static void test_nodelay_notice(void **state)
{
	struct fx *f = *state;
	struct cl *a;

	fx_start(f, NULL, "set_tcp_nodelay false\n");
	assert_int_equal(cl_connect_as(f, &a, "A", "A", "pw-a-secret", true), CONNACK_ACCEPTED);
	expect_log(f, "cardex: set_tcp_nodelay is off");
}

static void test_nodelay_quiet(void **state)
{
	struct fx *f = *state;
	struct cl *a;

	fx_start(f, NULL, NULL);
	assert_int_equal(cl_connect_as(f, &a, "A", "A", "pw-a-secret", true), CONNACK_ACCEPTED);
	expect_log(f, "cardex: set_tcp_nodelay is on");
	assert_false(cxb_log_contains(&f->b, "set_tcp_nodelay is off"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dynsec_provision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynsec_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynsec_file_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynsec_file_relative, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_file_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sys_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodelay_notice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodelay_quiet, setup, teardown),
	};

	mosquitto_lib_init();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	mosquitto_lib_cleanup();
	return rc;
}
