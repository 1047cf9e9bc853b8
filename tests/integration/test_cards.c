/*
 * Integration tests of the cardex CLI's cards: profiles, chosen fields
 * (--only), the contacts store, the sent log, the config file, card edit,
 * and the terminal output of an offer, against the real Mosquitto with the
 * plugin. Each terminal (A, B) has a home of its own (XDG_DATA_HOME,
 * XDG_CONFIG_HOME, TMPDIR in a temporary directory). What cardex exports is
 * read back by an independent vCard parser: Debian's python3-vobject, run
 * with /usr/bin/python3.
 *
 * Processes are started with fork/exec (no shell), passwords go through the
 * environment or password files, output is read with bounded waits, and a
 * process that overstays is killed by its PID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "cli_run.h"

#define PYTHON "/usr/bin/python3"

/* Half blocks: only a QR code draws them. */
#define UPPER_HALF "\xe2\x96\x80"
#define LOWER_HALF "\xe2\x96\x84"

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
};

/* One terminal's private home. */
typedef struct {
	const char *id;
	const char *password;
	char dir[256];
	char data[300];
	char config[300];
	char tmp[300];
} term;

typedef struct {
	const char *stdin_data;  /* written to stdin, then closed; NULL: empty stdin */
	bool password;           /* CARDEX_PASSWORD from the terminal */
	bool pty;                /* stdout, stderr (and stdin without stdin_data) on a new pseudo-terminal */
	const char *env[4];      /* extra "NAME=value" entries */
} run_opts;

struct fx {
	cxb_broker b;
	char port[16];
	term a, b_term;
	char apple[400]; /* the test data, comment lines stripped */
	char gump[400];
	char ada_json[1024];
	cxr_proc *procs[64];
};

/* ---- processes ---- */

/* Starts the CLI with args as terminal t would: only the terminal's home, never the user's. */
static cxr_proc *spawn(struct fx *fx, const term *t, const run_opts *o, const char *const *args)
{
	char home[300], data[320], config[320], tmp[320];
	cxr_opts co = {.stdin_data = o->stdin_data, .password = o->password ? t->password : NULL,
		.pty = o->pty, .env = {"NO_COLOR", "XDG_RUNTIME_DIR", "EDITOR", "VISUAL", home, data, config,
		tmp, "TERM=xterm"}};
	size_t n = 9, i;
	cxr_proc *p;

	snprintf(home, sizeof(home), "HOME=%s", t->dir);
	snprintf(data, sizeof(data), "XDG_DATA_HOME=%s", t->data);
	snprintf(config, sizeof(config), "XDG_CONFIG_HOME=%s", t->config);
	snprintf(tmp, sizeof(tmp), "TMPDIR=%s", t->tmp);
	for(i = 0; i < 4 && o->env[i]; i++) {
		co.env[n++] = o->env[i];
	}
	p = cxr_spawn(&co, args);
	cxr_track(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]), p);
	return p;
}

/* Runs the CLI to its end and expects exit code want; returns the process. */
static cxr_proc *run_expect(struct fx *fx, const term *t, const run_opts *o, const char *const *args,
		int want)
{
	cxr_proc *p = spawn(fx, t, o, args);
	int rc = cxr_finish(p);

	if(rc != want) {
		fail_msg("cardex %s %s: exit %d, expected %d; stdout: %s; stderr: %s", args[0],
				args[1] ? args[1] : "", rc, want, p->obuf, p->ebuf);
	}
	return p;
}

/* Runs a local command (no broker) that must succeed. */
static cxr_proc *run_ok(struct fx *fx, const term *t, const char *const *args)
{
	run_opts o = {0};

	return run_expect(fx, t, &o, args, 0);
}

/* ---- files ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "wb");

	if(!f) {
		fail_msg("cannot create %s", path);
	}
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int count_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if(!d) {
		return -1;
	}
	while((de = readdir(d)) != NULL) {
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	}
	closedir(d);
	return n;
}

/* ---- fixtures ---- */

static int term_setup(term *t, const char *id, const char *password)
{
	const char *tmp = getenv("TMPDIR");

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->password = password;
	snprintf(t->dir, sizeof(t->dir), "%s/cardex-cards-%s-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp", id);
	if(!mkdtemp(t->dir)) {
		return -1;
	}
	snprintf(t->data, sizeof(t->data), "%s/data", t->dir);
	snprintf(t->config, sizeof(t->config), "%s/config", t->dir);
	snprintf(t->tmp, sizeof(t->tmp), "%s/tmp", t->dir);
	return mkdir(t->tmp, 0700);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *dir = getenv("CARDEX_TEST_DATA");
	cxb_config cfg;

	if(!fx) {
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	if(term_setup(&fx->a, "A", "pw-a-secret") != 0 || term_setup(&fx->b_term, "B", "pw-b-secret") != 0
			|| cxb_start(&fx->b, &cfg) != 0) {
		cxr_remove_tree(fx->a.dir);
		cxr_remove_tree(fx->b_term.dir);
		free(fx);
		return -1;
	}
	snprintf(fx->port, sizeof(fx->port), "%d", fx->b.port);
	snprintf(fx->apple, sizeof(fx->apple), "%s/apple.vcf", fx->a.dir);
	snprintf(fx->gump, sizeof(fx->gump), "%s/gump.vcf", fx->b_term.dir);
	snprintf(fx->ada_json, sizeof(fx->ada_json), "%s/ada.json", dir ? dir : "tests/data");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(!fx) {
		return 0;
	}
	cxr_free_all(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]));
	cxb_stop(&fx->b);
	cxr_remove_tree(fx->a.dir);
	cxr_remove_tree(fx->b_term.dir);
	free(fx);
	return 0;
}

/* A: profile "work" (Apple's Johnny Appleseed, with a UID added) and "personal" (Ada). */
static void profiles_a(struct fx *fx)
{
	const char *imp_work[] = {"card", "import", "--profile", "work", fx->apple, NULL};
	const char *set_uid[] = {"card", "set", "--profile", "work", "UID",
		"urn:uuid:5ad380fd-b2de-4261-ba99-de1d1db52fbe", NULL};
	const char *imp_personal[] = {"card", "import", "--profile", "personal", fx->ada_json, NULL};

	cxr_copy_data("vcard/apple-3.0.vcf", fx->apple);
	run_ok(fx, &fx->a, imp_work);
	run_ok(fx, &fx->a, set_uid);
	run_ok(fx, &fx->a, imp_personal);
}

/*
 * B: profile "main" (Wikipedia's Forrest Gump) and a config file that holds
 * everything a command needs but the key: host, port, id, password file.
 */
static void profiles_b(struct fx *fx)
{
	char path[400], text[1200];
	const char *imp_main[] = {"card", "import", "--profile", "main", fx->gump, NULL};

	cxr_copy_data("vcard/wikipedia-3.0.vcf", fx->gump);
	run_ok(fx, &fx->b_term, imp_main);
	snprintf(path, sizeof(path), "%s/pw", fx->b_term.dir);
	write_file(path, "pw-b-secret\n", 0600);
	assert_int_equal(mkdir(fx->b_term.config, 0700), 0);
	snprintf(path, sizeof(path), "%s/cardex", fx->b_term.config);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cardex/config", fx->b_term.config);
	snprintf(text, sizeof(text), "# terminal B\nhost = 127.0.0.1\nport = %s\nid = B\n"
			"password-file = ~/pw\nprofile = main\n", fx->port);
	write_file(path, text, 0600);
}

/* The JSON lines of `contacts list --json` of t. */
static cJSON *contacts_of(struct fx *fx, const term *t)
{
	const char *args[] = {"contacts", "list", "--json", NULL};

	return cxr_json_lines(run_ok(fx, t, args));
}

/* ---- tests ---- */

static void test_profiles_exchange(void **state)
{
	struct fx *fx = *state;
	const char *offer[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--only", "fn,email", "--timeout", "30", NULL};
	const char *claim[] = {"claim", "A", "--json", "--key-stdin", "--timeout", "30", NULL};
	const char *show_b[] = {"contacts", "show", "appleseed", NULL};
	const char *sent_a[] = {"contacts", "sent", "--json", NULL};
	const char *sent_a_table[] = {"contacts", "sent", NULL};
	run_opts oa = {.password = true};
	run_opts ob = {0};
	cxr_proc *a, *b, *p;
	char key[64];
	cJSON *list, *ev, *fields;

	profiles_a(fx);
	profiles_b(fx);
	a = spawn(fx, &fx->a, &oa, offer);
	cxr_offer_key(a, key, sizeof(key));
	ob.stdin_data = key;
	b = spawn(fx, &fx->b_term, &ob, claim);
	if(cxr_finish(b) != 0 || cxr_finish(a) != 0) {
		fail_msg("exchange failed: A %d (%s%s), B %d (%s%s)", a->status, a->obuf, a->ebuf, b->status,
				b->obuf, b->ebuf);
	}

	/* B received only FN, EMAIL (and the UID) of A's default profile, and stored it. */
	ev = cxr_json_event(b, "card", NULL);
	assert_non_null(ev);
	assert_int_equal(strlen(cxr_jstr(ev, "contact")), 12);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ev, "updated")));
	cJSON_Delete(ev);
	list = contacts_of(fx, &fx->b_term);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(list, 0), "fn"), "Dr. Johnny Q. Appleseed Jr.");
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(list, 0), "peer"), "A");
	cJSON_Delete(list);
	p = run_ok(fx, &fx->b_term, show_b);
	assert_non_null(strstr(p->obuf, "johnny@example.com"));
	assert_non_null(strstr(p->obuf, "from terminal A"));
	assert_null(strstr(p->obuf, "Senior Engineer"));
	assert_null(strstr(p->obuf, "Phone"));

	/* A received B's whole "main" profile (B's config file named it). */
	list = contacts_of(fx, &fx->a);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(list, 0), "fn"), "Forrest Gump");
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(list, 0), "peer"), "B");
	assert_int_equal(strlen(cxr_jstr(cJSON_GetArrayItem(list, 0), "exchange")), 32);
	cJSON_Delete(list);

	/* A's sent log names the fields and the profile, never their values. */
	p = run_ok(fx, &fx->a, sent_a);
	list = cxr_json_lines(p);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	ev = cJSON_GetArrayItem(list, 0);
	assert_string_equal(cxr_jstr(ev, "peer"), "B");
	assert_string_equal(cxr_jstr(ev, "profile"), "work");
	fields = cJSON_GetObjectItemCaseSensitive(ev, "fields");
	assert_int_equal(cJSON_GetArraySize(fields), 3);
	assert_string_equal(cJSON_GetArrayItem(fields, 0)->valuestring, "fn");
	assert_string_equal(cJSON_GetArrayItem(fields, 1)->valuestring, "email");
	assert_string_equal(cJSON_GetArrayItem(fields, 2)->valuestring, "uid");
	assert_null(strstr(p->obuf, "johnny@example.com"));
	cJSON_Delete(list);
	p = run_ok(fx, &fx->a, sent_a_table);
	assert_non_null(strstr(p->obuf, "fn,email,uid"));
}

static void test_second_exchange_updates(void **state)
{
	struct fx *fx = *state;
	const char *offer_a[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--only", "fn,email", "--timeout", "30", NULL};
	const char *claim_b[] = {"claim", "A", "--json", "--key-stdin", "--timeout", "30", NULL};
	const char *retitle[] = {"card", "set", "--profile", "work", "TITLE", "Chief Orchardist", NULL};
	/* Second time, the other way round: B offers, A claims with other fields. */
	const char *offer_b[] = {"offer", "--json", "--timeout", "30", NULL};
	const char *claim_a[] = {"claim", "B", "--json", "--key-stdin", "--host", "127.0.0.1", "--port",
		fx->port, "--id", "A", "--only", "fn,title", "--timeout", "30", NULL};
	const char *show_b[] = {"contacts", "show", "Johnny", NULL};
	run_opts oa = {.password = true};
	run_opts ob = {0};
	cxr_proc *a, *b, *p;
	char key[64];
	cJSON *list, *ev;
	char first_id[16];

	profiles_a(fx);
	profiles_b(fx);
	a = spawn(fx, &fx->a, &oa, offer_a);
	cxr_offer_key(a, key, sizeof(key));
	ob.stdin_data = key;
	b = spawn(fx, &fx->b_term, &ob, claim_b);
	assert_int_equal(cxr_finish(b), 0);
	assert_int_equal(cxr_finish(a), 0);
	list = contacts_of(fx, &fx->b_term);
	snprintf(first_id, sizeof(first_id), "%s", cxr_jstr(cJSON_GetArrayItem(list, 0), "id"));
	cJSON_Delete(list);

	run_ok(fx, &fx->a, retitle);
	b = spawn(fx, &fx->b_term, &ob, offer_b);
	cxr_offer_key(b, key, sizeof(key));
	oa.stdin_data = key;
	a = spawn(fx, &fx->a, &oa, claim_a);
	if(cxr_finish(a) != 0 || cxr_finish(b) != 0) {
		fail_msg("second exchange failed: A %d (%s%s), B %d (%s%s)", a->status, a->obuf, a->ebuf,
				b->status, b->obuf, b->ebuf);
	}
	/* The same UID: B's entry for A is updated in place, not duplicated. */
	ev = cxr_json_event(b, "card", NULL);
	assert_non_null(ev);
	assert_string_equal(cxr_jstr(ev, "contact"), first_id);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "updated")));
	cJSON_Delete(ev);
	list = contacts_of(fx, &fx->b_term);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(list, 0), "id"), first_id);
	cJSON_Delete(list);
	p = run_ok(fx, &fx->b_term, show_b);
	assert_non_null(strstr(p->obuf, "Chief Orchardist"));
	/* Replaced by what A chose to send this time: no e-mail any more. */
	assert_null(strstr(p->obuf, "johnny@example.com"));

	/* B's card has no UID: the same peer and name update A's entry too. */
	ev = cxr_json_event(a, "card", NULL);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "updated")));
	cJSON_Delete(ev);
	list = contacts_of(fx, &fx->a);
	assert_int_equal(cJSON_GetArraySize(list), 1);
	cJSON_Delete(list);
}

/*
 * Runs /usr/bin/python3 with vobject on path; returns it, with one stdout
 * line "VERSION|FN|number of properties|emails" per card. Exit code 77: no vobject.
 */
static cxr_proc *vobject_read(const char *path, int *rc)
{
	static const char script[] =
		"import sys\n"
		"try:\n"
		"    import vobject\n"
		"except ImportError:\n"
		"    sys.exit(77)\n"
		"with open(sys.argv[1], newline='') as f:\n"
		"    for c in vobject.readComponents(f, validate=True):\n"
		"        emails = ','.join(e.value for e in c.contents.get('email', []))\n"
		"        print('%s|%s|%d|%s' % (c.version.value, c.fn.value, len(list(c.getChildren())), emails))\n";
	const char *args[] = {"-c", script, path, NULL};
	cxr_opts o = {.exe = PYTHON};
	cxr_proc *p = cxr_spawn(&o, args);

	*rc = cxr_finish(p);
	return p;
}

static void test_export_independent_parser(void **state)
{
	struct fx *fx = *state;
	const char *offer[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--timeout", "30", NULL};
	const char *claim[] = {"claim", "A", "--json", "--key-stdin", "--timeout", "30", NULL};
	const char *card_export[] = {"card", "export", "--profile", "work", NULL};
	const char *contacts_export[] = {"contacts", "export", NULL};
	const char *contacts_export_prov[] = {"contacts", "export", "--with-provenance", NULL};
	const char *contacts_export_30[] = {"contacts", "export", "--vcard", "3.0", "appleseed", NULL};
	run_opts oa = {.password = true};
	run_opts ob = {0};
	cxr_proc *a, *b, *p, *py;
	char key[64], path[400];
	int rc;

	if(access(PYTHON, X_OK) != 0) {
		print_message("SKIPPED: %s is missing (scripts/deps installs python3-vobject)\n", PYTHON);
		skip();
	}
	profiles_a(fx);
	profiles_b(fx);
	a = spawn(fx, &fx->a, &oa, offer);
	cxr_offer_key(a, key, sizeof(key));
	ob.stdin_data = key;
	b = spawn(fx, &fx->b_term, &ob, claim);
	assert_int_equal(cxr_finish(b), 0);
	assert_int_equal(cxr_finish(a), 0);

	/* Our own card, converted from Apple's 3.0 export with its photo and groups. */
	p = run_ok(fx, &fx->a, card_export);
	assert_non_null(strstr(p->obuf, "BEGIN:VCARD\r\nVERSION:4.0\r\n"));
	snprintf(path, sizeof(path), "%s/work.vcf", fx->a.dir);
	cxr_save_output(p, path);
	py = vobject_read(path, &rc);
	if(rc == 77) {
		cxr_free(py);
		print_message("SKIPPED: python3-vobject is not installed for %s (scripts/deps installs it)\n",
				PYTHON);
		skip();
	}
	if(rc != 0) {
		fail_msg("vobject refused cardex's vCard: %s", py->ebuf);
	}
	assert_non_null(strstr(py->obuf, "4.0|Dr. Johnny Q. Appleseed Jr.|"));
	assert_non_null(strstr(py->obuf, "|johnny@example.com,johnny.a@example.net\n"));
	cxr_free(py);

	/* The contacts as one stream, with and without provenance. */
	p = run_ok(fx, &fx->b_term, contacts_export);
	assert_null(strstr(p->obuf, "X-CARDEX"));
	snprintf(path, sizeof(path), "%s/contacts.vcf", fx->b_term.dir);
	cxr_save_output(p, path);
	py = vobject_read(path, &rc);
	if(rc != 0) {
		fail_msg("vobject refused the contacts export: %s", py->ebuf);
	}
	assert_int_equal(strncmp(py->obuf, "4.0|Dr. Johnny Q. Appleseed Jr.|", 32), 0);
	assert_int_equal(strchr(py->obuf, '\n') - py->obuf + 1, (long)strlen(py->obuf));
	cxr_free(py);
	/* One contact as vCard 3.0, for phones' address books. */
	p = run_ok(fx, &fx->b_term, contacts_export_30);
	assert_int_equal(strncmp(p->obuf, "BEGIN:VCARD\r\nVERSION:3.0\r\n", 26), 0);
	assert_null(strstr(p->obuf, "X-CARDEX"));
	cxr_save_output(p, path);
	py = vobject_read(path, &rc);
	if(rc != 0) {
		fail_msg("vobject refused the 3.0 contacts export: %s", py->ebuf);
	}
	assert_non_null(strstr(py->obuf, "3.0|Dr. Johnny Q. Appleseed Jr.|"));
	assert_int_equal(strchr(py->obuf, '\n') - py->obuf + 1, (long)strlen(py->obuf));
	cxr_free(py);
	p = run_ok(fx, &fx->a, contacts_export_prov);
	assert_non_null(strstr(p->obuf, "X-CARDEX-PEER:B\r\n"));
	snprintf(path, sizeof(path), "%s/contacts.vcf", fx->a.dir);
	cxr_save_output(p, path);
	py = vobject_read(path, &rc);
	if(rc != 0) {
		fail_msg("vobject refused the contacts export: %s", py->ebuf);
	}
	assert_non_null(strstr(py->obuf, "4.0|Forrest Gump|"));
	cxr_free(py);
}

static void test_terminal_output(void **state)
{
	struct fx *fx = *state;
	const char *offer[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--timeout", "3", NULL};
	const char *offer_noqr[] = {"offer", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--timeout", "2", "--no-qr", NULL};
	const char *offer_json[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--timeout", "2", NULL};
	run_opts tty = {.password = true, .pty = true};
	run_opts tty_plain = {.password = true, .pty = true, .env = {"NO_COLOR=1"}};
	run_opts pipe_opts = {.password = true};
	cxr_proc *p;
	cJSON *lines;

	profiles_a(fx);

	/* On a terminal: big key, QR code in colour, a countdown rewritten in place. */
	p = run_expect(fx, &fx->a, &tty, offer, 4);
	assert_non_null(strstr(p->obuf, "Terminal ID: \033[1mA\033[0m"));
	assert_non_null(strstr(p->obuf, "\033[30;107m"));
	assert_true(strstr(p->obuf, UPPER_HALF) || strstr(p->obuf, LOWER_HALF));
	assert_non_null(strstr(p->obuf, "\r\033[KExpires in: 120 s"));
	assert_non_null(strstr(p->obuf, "\r\033[KExpires in: 119 s"));

	/* NO_COLOR: the same without colour escapes. */
	p = run_expect(fx, &fx->a, &tty_plain, offer, 4);
	assert_true(strstr(p->obuf, UPPER_HALF) || strstr(p->obuf, LOWER_HALF));
	assert_non_null(strstr(p->obuf, "Terminal ID: A\r\n"));
	assert_null(strstr(p->obuf, "\033[1m"));
	assert_null(strstr(p->obuf, "\033[0m"));
	assert_null(strstr(p->obuf, "\033[3"));

	/* --no-qr: the key still shows, no QR code. */
	p = run_expect(fx, &fx->a, &tty, offer_noqr, 4);
	assert_null(strstr(p->obuf, UPPER_HALF));
	assert_null(strstr(p->obuf, LOWER_HALF));
	assert_null(strstr(p->obuf, "\033[30;107m"));

	/* On a pipe: plain lines only, no escape, no block, no countdown. */
	p = run_expect(fx, &fx->a, &pipe_opts, offer, 4);
	assert_null(strchr(p->obuf, '\033'));
	assert_null(strchr(p->ebuf, '\033'));
	assert_null(strstr(p->obuf, "\xe2\x96"));
	assert_int_equal(strncmp(p->obuf, "Terminal ID: A\nInstant key: ", 28), 0);
	assert_non_null(strstr(p->obuf, "\nExpires in: 120 s\n"));
	assert_null(strstr(p->obuf, "119 s"));

	/* --json on a terminal: nothing but JSON lines. */
	p = run_expect(fx, &fx->a, &tty, offer_json, 4);
	assert_null(strchr(p->obuf, '\033'));
	lines = cxr_json_lines(p);
	assert_int_equal(cJSON_GetArraySize(lines), 2);
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(lines, 0), "event"), "offer");
	assert_string_equal(cxr_jstr(cJSON_GetArrayItem(lines, 1), "code"), "timeout");
	cJSON_Delete(lines);
}

static void test_claim_uri(void **state)
{
	struct fx *fx = *state;
	const char *offer[] = {"offer", "--json", "--host", "127.0.0.1", "--port", fx->port, "--id", "A",
		"--timeout", "30", NULL};
	const char *claim[] = {"claim", "--uri", "-", "--json", "--no-save", "--timeout", "30", NULL};
	const char *bad[] = {"claim", "--uri", "cardex:A/98765", "--timeout", "5", NULL};
	const char *bad2[] = {"claim", "--uri", "cardex://A/987654", "--timeout", "5", NULL};
	const char *both[] = {"claim", "A", "--uri", "cardex:A/987654", "--timeout", "5", NULL};
	run_opts oa = {.password = true};
	run_opts ob = {0};
	cxr_proc *a, *b, *p;
	char key[64], uri[128];
	cJSON *list;

	profiles_a(fx);
	profiles_b(fx);
	a = spawn(fx, &fx->a, &oa, offer);
	cxr_offer_key(a, key, sizeof(key));
	/* What a QR reader hands over, on standard input rather than the command line. */
	snprintf(uri, sizeof(uri), "cardex:A/%s", key);
	ob.stdin_data = uri;
	b = spawn(fx, &fx->b_term, &ob, claim);
	assert_int_equal(cxr_finish(b), 0);
	assert_int_equal(cxr_finish(a), 0);
	/* --no-save: B kept nothing. */
	list = contacts_of(fx, &fx->b_term);
	assert_int_equal(cJSON_GetArraySize(list), 0);
	cJSON_Delete(list);

	p = run_expect(fx, &fx->b_term, &ob, bad, 2);
	assert_null(strstr(p->ebuf, "98765"));
	assert_non_null(strstr(p->ebuf, "6 to 16 digits"));
	run_expect(fx, &fx->b_term, &ob, bad2, 2);
	run_expect(fx, &fx->b_term, &ob, both, 2);
}

static void test_config_errors(void **state)
{
	struct fx *fx = *state;
	char path[400], pw[400], text[600];
	const char *offer[] = {"offer", "--timeout", "5", NULL};
	run_opts o = {0};
	cxr_proc *p;

	profiles_b(fx);
	snprintf(path, sizeof(path), "%s/cardex/config", fx->b_term.config);
	/* A password in the config file: refused with its line, never echoed. */
	write_file(path, "host = 127.0.0.1\nid = B\npassword = hunter22\n", 0600);
	p = run_expect(fx, &fx->b_term, &o, offer, 2);
	assert_non_null(strstr(p->ebuf, "line 3"));
	assert_null(strstr(p->ebuf, "hunter22"));
	assert_null(strstr(p->obuf, "hunter22"));

	write_file(path, "host = 127.0.0.1\nport = eighty\n", 0600);
	p = run_expect(fx, &fx->b_term, &o, offer, 2);
	assert_non_null(strstr(p->ebuf, "line 2: port"));

	/* A password file others may read is refused before connecting. */
	snprintf(pw, sizeof(pw), "%s/pw", fx->b_term.dir);
	assert_int_equal(chmod(pw, 0644), 0);
	snprintf(text, sizeof(text), "host = 127.0.0.1\nport = %s\nid = B\npassword-file = %s\n", fx->port, pw);
	write_file(path, text, 0600);
	p = run_expect(fx, &fx->b_term, &o, offer, 5);
	assert_non_null(strstr(p->ebuf, "chmod 600"));
}

static void test_card_commands(void **state)
{
	struct fx *fx = *state;
	char tmp_count_dir[400];
	const char *list[] = {"card", "list", NULL};
	const char *show_work[] = {"card", "show", "--profile", "work", NULL};
	const char *export_json[] = {"card", "export", "--profile", "personal", "--jcard", NULL};
	const char *edit[] = {"card", "edit", "--profile", "work", NULL};
	const char *rm[] = {"card", "rm", "--profile", "personal", NULL};
	const char *rm_again[] = {"card", "rm", "--profile", "personal", NULL};
	const char *set_default[] = {"card", "default", "personal", NULL};
	const char *help_group[] = {"card", "--help", NULL};
	const char *help_cmd[] = {"contacts", "export", "--help", NULL};
	run_opts good = {.env = {"EDITOR=sed -i -e 's/^TITLE:.*/TITLE:Edited Title/'"}};
	run_opts breaks = {.env = {"EDITOR=sed -i -e 's/^FN:.*/NOTE:no name/'"}};
	run_opts fails = {.env = {"EDITOR=false"}};
	run_opts plain = {0};
	run_opts again = {.pty = true};
	char script[400], editor[450], text[400];
	cxr_proc *p;

	profiles_a(fx);
	p = run_ok(fx, &fx->a, list);
	assert_non_null(strstr(p->obuf, "* work"));
	assert_non_null(strstr(p->obuf, "Dr. Johnny Q. Appleseed Jr."));
	assert_non_null(strstr(p->obuf, "  personal"));
	p = run_ok(fx, &fx->a, export_json);
	assert_int_equal(strncmp(p->obuf, "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"]", 35), 0);

	/* card edit: the editor's change is checked and stored; the copy never stays. */
	snprintf(tmp_count_dir, sizeof(tmp_count_dir), "%s", fx->a.tmp);
	run_expect(fx, &fx->a, &good, edit, 0);
	p = run_ok(fx, &fx->a, show_work);
	assert_non_null(strstr(p->obuf, "Edited Title"));
	assert_int_equal(count_entries(tmp_count_dir), 0);
	p = run_expect(fx, &fx->a, &breaks, edit, 5);
	assert_non_null(strstr(p->ebuf, "not valid"));
	assert_non_null(strstr(p->ebuf, "FN"));
	assert_non_null(strstr(p->ebuf, "nothing changed"));
	assert_int_equal(count_entries(tmp_count_dir), 0);
	run_expect(fx, &fx->a, &fails, edit, 5);
	assert_int_equal(count_entries(tmp_count_dir), 0);
	p = run_ok(fx, &fx->a, show_work);
	assert_non_null(strstr(p->obuf, "Edited Title"));

	/* On a terminal, an invalid card can be edited again: the second round fixes it. */
	snprintf(script, sizeof(script), "%s/ed.sh", fx->a.dir);
	snprintf(editor, sizeof(editor), "EDITOR=sh %s", script);
	snprintf(text, sizeof(text),
			"if [ -e \"$0.once\" ]; then sed -i -e 's/^NOTE:no name.*/FN:Johnny Again/' \"$1\"\n"
			"else touch \"$0.once\"; sed -i -e 's/^FN:.*/NOTE:no name/' \"$1\"; fi\n");
	write_file(script, text, 0700);
	again.env[0] = editor;
	p = spawn(fx, &fx->a, &again, edit);
	cxr_wait_for(p, "Edit again? [Y/n]");
	assert_int_equal(write(p->out, "y\n", 2), 2);
	assert_int_equal(cxr_finish(p), 0);
	assert_non_null(strstr(p->obuf, "the edited card is not valid"));
	p = run_ok(fx, &fx->a, show_work);
	assert_non_null(strstr(p->obuf, "Johnny Again"));
	assert_int_equal(count_entries(tmp_count_dir), 0);

	run_ok(fx, &fx->a, set_default);
	p = run_ok(fx, &fx->a, rm);
	assert_non_null(strstr(p->obuf, "was the default"));
	run_expect(fx, &fx->a, &plain, rm_again, 1);
	p = run_ok(fx, &fx->a, help_group);
	assert_non_null(strstr(p->obuf, "import"));
	assert_non_null(strstr(p->obuf, "edit"));
	p = run_ok(fx, &fx->a, help_cmd);
	assert_non_null(strstr(p->obuf, "Usage: cardex contacts export"));
	assert_non_null(strstr(p->obuf, "--with-provenance"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_profiles_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_exchange_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_independent_parser, setup, teardown),
		cmocka_unit_test_setup_teardown(test_terminal_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_uri, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_commands, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
