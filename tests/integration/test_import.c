/*
 * Integration tests of `cardex card import` and `card export` with the
 * cards people have: the corpus of tests/data/vcard (vCard 2.1 from
 * Android, Outlook, BlackBerry and a Japanese phone in Shift_JIS; 3.0 from
 * Lotus Notes, Apple, Google and Gmail; 4.0 from Thunderbird; files with
 * CR CR LF line ends or a byte order mark; a file of several cards). Each is imported, exported as vCard 4.0 and as 3.0, and each
 * export is read by two independent parsers, Debian's python3-vobject (run
 * with /usr/bin/python3, validating) and ical.js (npm, locked in tests/js,
 * run with node), which must find the same name, e-mails and phone
 * numbers. No broker: these commands never connect.
 *
 * Processes are started with fork/exec (no shell), in a private home, with
 * bounded waits; a process that overstays is killed by its PID.
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
#include <unistd.h>

#include "cli_run.h"

#define PYTHON "/usr/bin/python3"

struct fx {
	char dir[256];
	char data[300];
	char config[300];
	cxr_proc *procs[24];
};

/* What an independent parser must find in the export of a corpus card. */
typedef struct {
	const char *file;
	const char *fn;
	const char *emails; /* ','-separated, in order */
	const char *tels;   /* ','-separated, as the 3.0 export writes them */
} expect;

static const expect corpus[] = {
	{"android-2.1.vcf", "J\xc3\xbcrgen M\xc3\xbcller", "juergen@example.de,j.mueller@example.com",
		"+49 170 1234567,+49 30 1234567,+49 30 7654321"},
	{"outlook2003-2.1.vcf", "H\xc3\xa9l\xc3\xa8ne Lef\xc3\xa8vre", "helene.lefevre@example.fr",
		"+33 1 42 14 20 00,+33 6 12 34 56 78,+33 1 42 14 20 01"},
	{"outlook2007-2.1.vcf", "Dr. Bj\xc3\xb6rn Gr\xc3\xb6\xc3\x9f" "er", "bjoern@example.ch",
		"+41 44 123 45 67,+41 44 765 43 21"},
	{"docomo-2.1.vcf", "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e", "taro.yamada@docomo.example.jp",
		"090-1234-5678,03-1234-5678"},
	{"blackberry-2.1.vcf", "Siobhan O'Brien", "siobhan.obrien@example.ie",
		"+353 1 555 0100,+353 87 555 0101,+353 1 555 0102"},
	{"lotus-notes-3.0.vcf", "Kenji Sato", "kenji.sato@example.com,G=Kenji;S=Sato;O=Example;P=Example;A=;C=jp",
		"+81 3 5555 0100,+81 90 5555 0101"},
	{"apple-3.0.vcf", "Dr. Johnny Q. Appleseed Jr.", "johnny@example.com,johnny.a@example.net",
		"+1 (408) 555-0100,+1 (408) 555-0101,+1 408 555 0102"},
	{"gmail-3.0.vcf", "Priya Raman", "priya@example.in,priya.raman@gmail.example", "+91 98765 43210"},
	{"thunderbird-4.0.vcf", "Lars Eriksson", "lars@example.se,lars.eriksson@example.org",
		"+46 70 555 01 02,+46 8 555 01 03"},
	{"wikipedia-3.0.vcf", "Forrest Gump", "forrestgump@example.com", "(111) 555-1212,(404) 555-1212"},
	{"crcrlf-3.0.vcf", "Chidi Okafor", "chidi@example.ng", "+234 803 555 0100"},
	{"bom-lf-4.0.vcf", "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m", "zoe@example.se", "+46-70-555-0100"},
	{"rfc7095-b.vcf", "Simon Perreault", "simon.perreault@viagenie.ca", "+1-418-656-9254;ext=102,+1-418-262-6501"},
};

/* ---- processes and files ---- */

static cxr_proc *spawn(struct fx *fx, const char *stdin_data, bool pty, const char *const *args)
{
	char data[320], config[320];
	cxr_opts o = {.stdin_data = stdin_data, .pty = pty, .env = {data, config, "NO_COLOR", "TERM=xterm"}};
	cxr_proc *p;

	snprintf(data, sizeof(data), "XDG_DATA_HOME=%s", fx->data);
	snprintf(config, sizeof(config), "XDG_CONFIG_HOME=%s", fx->config);
	p = cxr_spawn(&o, args);
	cxr_track(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]), p);
	return p;
}

/* Runs the CLI to its end and expects exit code want. */
static cxr_proc *run_expect(struct fx *fx, const char *const *args, int want)
{
	cxr_proc *p = spawn(fx, NULL, false, args);
	int rc = cxr_finish(p);

	if(rc != want) {
		fail_msg("cardex %s %s: exit %d, expected %d; stdout: %s; stderr: %s", args[0], args[1], rc, want,
				p->obuf, p->ebuf);
	}
	return p;
}

/* Copies tests/data/vcard/<name> to dir/<name> without its leading '#' lines; path gets the copy's path. */
static void copy_data(struct fx *fx, const char *name, char *path, size_t cap)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "vcard/%s", name);
	snprintf(path, cap, "%s/%s", fx->dir, name);
	cxr_copy_data(rel, path);
}

/*
 * Reads path with vobject (validating); one stdout line per card:
 * "VERSION|FN|emails|tels". *rc is its exit code (77: no vobject).
 */
static cxr_proc *vobject_read(struct fx *fx, const char *path, int *rc)
{
	static const char script[] =
		"import sys\n"
		"try:\n"
		"    import vobject\n"
		"except ImportError:\n"
		"    sys.exit(77)\n"
		"with open(sys.argv[1], newline='', encoding='utf-8') as f:\n"
		"    for c in vobject.readComponents(f, validate=True):\n"
		"        emails = ','.join(e.value for e in c.contents.get('email', []))\n"
		"        tels = ','.join(t.value for t in c.contents.get('tel', []))\n"
		"        print('%s|%s|%s|%s' % (c.version.value, c.fn.value, emails, tels))\n";
	const char *args[] = {"-c", script, path, NULL};
	cxr_opts o = {.exe = PYTHON};
	cxr_proc *p = cxr_spawn(&o, args);

	cxr_track(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]), p);
	*rc = cxr_finish(p);
	return p;
}

/*
 * Reads path with tests/js/read-vcard.mjs (ical.js); the same lines as
 * vobject_read. Returns NULL (after saying why) when node or ical.js is
 * missing: scripts/deps installs both.
 */
static cxr_proc *icaljs_read(struct fx *fx, const char *path, int *rc)
{
	static char script[1024], node[1024];
	const char *dir = getenv("CARDEX_TEST_DATA");
	const char *args[] = {script, path, NULL};
	cxr_opts o = {.exe = node};
	char lib[1100];
	cxr_proc *p;

	/* node from PATH (the harness runs programs by path). */
	node[0] = '\0';
	for(const char *s = getenv("PATH"); s && *s && !node[0];) {
		size_t n = strcspn(s, ":");
		snprintf(node, sizeof(node), "%.*s/node", (int)n, s);
		if(access(node, X_OK) != 0) {
			node[0] = '\0';
		}
		s += n + (s[n] == ':');
	}
	if(!node[0]) {
		print_message("SKIPPED (ical.js part): node is not on PATH; scripts/deps installs it\n");
		return NULL;
	}
	snprintf(script, sizeof(script), "%s/../js/read-vcard.mjs", dir ? dir : "tests/data");
	snprintf(lib, sizeof(lib), "%s/../js/node_modules/ical.js/package.json", dir ? dir : "tests/data");
	if(access(lib, R_OK) != 0) {
		print_message("SKIPPED (ical.js part): %s is missing; scripts/deps installs it\n", lib);
		return NULL;
	}
	p = cxr_spawn(&o, args);
	cxr_track(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]), p);
	*rc = cxr_finish(p);
	return p;
}

/*
 * ical.js leaves RFC 2426's "\;" escape in a 3.0 text value of one
 * component (EMAIL): its line with those escapes undone, in place.
 */
static void unescape_semicolons(char *s)
{
	char *o = s;
	for(; *s; s++) {
		if(s[0] == '\\' && s[1] == ';') {
			continue;
		}
		*o++ = *s;
	}
	*o = '\0';
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if(!fx) {
		return -1;
	}
	snprintf(fx->dir, sizeof(fx->dir), "%s/cardex-import-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if(!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->data, sizeof(fx->data), "%s/data", fx->dir);
	snprintf(fx->config, sizeof(fx->config), "%s/config", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(fx) {
		cxr_free_all(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]));
		cxr_remove_tree(fx->dir);
		free(fx);
	}
	return 0;
}

/* ---- tests ---- */

static void test_corpus_exports_read_elsewhere(void **state)
{
	struct fx *fx = *state;
	char in[600], out[600], want[1024];
	const char *versions[] = {"4.0", "3.0"};

	if(access(PYTHON, X_OK) != 0) {
		print_message("SKIPPED: %s is missing (scripts/deps installs python3-vobject)\n", PYTHON);
		skip();
	}
	for(size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		const expect *e = &corpus[i];
		const char *import[] = {"card", "import", "--profile", "p", in, NULL};
		cxr_proc *p;

		cxr_free_all(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0])); /* those of the card before */
		copy_data(fx, e->file, in, sizeof(in));
		p = run_expect(fx, import, 0);
		assert_non_null(strstr(p->obuf, e->fn));
		for(size_t v = 0; v < 2; v++) {
			const char *export[] = {"card", "export", "--profile", "p", "--vcard", versions[v], NULL};
			int rc;

			p = run_expect(fx, export, 0);
			snprintf(want, sizeof(want), "BEGIN:VCARD\r\nVERSION:%s\r\n", versions[v]);
			assert_int_equal(strncmp(p->obuf, want, strlen(want)), 0);
			snprintf(out, sizeof(out), "%s/out.vcf", fx->dir);
			cxr_save_output(p, out);
			p = vobject_read(fx, out, &rc);
			if(rc == 77) {
				print_message("SKIPPED: python3-vobject is not installed (scripts/deps installs it)\n");
				skip();
			}
			if(rc != 0) {
				fail_msg("vobject refused the %s export of %s: %s", versions[v], e->file, p->ebuf);
			}
			/* 4.0 keeps a TEL given as a tel: URI; 3.0 writes the number. */
			snprintf(want, sizeof(want), "%s|%s|%s|", versions[v], e->fn, e->emails);
			if(strncmp(p->obuf, want, strlen(want)) != 0) {
				fail_msg("%s %s: vobject read %s", e->file, versions[v], p->obuf);
			}
			if(v == 1 || strstr(p->obuf, "tel:") == NULL) {
				snprintf(want, sizeof(want), "%s|%s|%s|%s\n", versions[v], e->fn, e->emails, e->tels);
				assert_string_equal(p->obuf, want);
			}
			/* The second parser sees the same. */
			static char vobject_line[CXR_OUT_MAX];
			size_t vl = p->olen < sizeof(vobject_line) - 1 ? p->olen : sizeof(vobject_line) - 1;
			memcpy(vobject_line, p->obuf, vl);
			vobject_line[vl] = '\0';
			p = icaljs_read(fx, out, &rc);
			if(p == NULL) {
				continue;
			}
			if(rc != 0) {
				fail_msg("ical.js refused the %s export of %s: %s", versions[v], e->file, p->ebuf);
			}
			if(v == 1) {
				unescape_semicolons(p->obuf);
			}
			if(strcmp(p->obuf, vobject_line) != 0) {
				fail_msg("%s %s: ical.js read %s, vobject %s", e->file, versions[v], p->obuf, vobject_line);
			}
		}
	}
}

static void test_multi_card_file(void **state)
{
	struct fx *fx = *state;
	char in[600];
	const char *none[] = {"card", "import", in, NULL};
	const char *ambiguous[] = {"card", "import", in, "ada", NULL};
	const char *by_number[] = {"card", "import", "--profile", "grace", in, "2", NULL};
	const char *by_name[] = {"card", "import", "--profile", "byron", in, "ADA BYRON", NULL};
	const char *by_part[] = {"card", "import", "--profile", "alan", in, "turi", NULL};
	const char *broken[] = {"card", "import", in, "4", NULL};
	const char *missing[] = {"card", "import", in, "9", NULL};
	const char *show[] = {"card", "show", "--profile", "grace", NULL};
	const char *list[] = {"card", "list", NULL};
	const char *offer_card[] = {"offer", "--card", in, "--id", "A", "--timeout", "1", NULL};
	cxr_proc *p;

	copy_data(fx, "multi.vcf", in, sizeof(in));
	/* No choice and no terminal: the cards are listed, nothing is imported. */
	p = run_expect(fx, none, 1);
	assert_non_null(strstr(p->ebuf, "holds 5 cards"));
	/* Names in a column as wide as the widest. */
	assert_non_null(strstr(p->ebuf, "    1  Ada Lovelace           <ada@example.org>  +44 20 7946 0001\n"));
	assert_non_null(strstr(p->ebuf, "    2  Grace Brewster Hopper  <grace@example.com>"));
	assert_non_null(strstr(p->ebuf, "    4  (not valid: line 19: FN: card has no FN property)\n"));
	assert_non_null(strstr(p->ebuf, "    5  Alan Turing            +44-161-555-0199\n"));
	assert_non_null(strstr(p->ebuf, "NUMBER-OR-NAME"));
	assert_int_equal(p->olen, 0);
	/* Two names hold "ada": both listed, nothing imported. */
	p = run_expect(fx, ambiguous, 1);
	assert_non_null(strstr(p->ebuf, "2 cards"));
	assert_non_null(strstr(p->ebuf, "    1  Ada Lovelace  <ada@example.org>"));
	assert_non_null(strstr(p->ebuf, "    3  Ada Byron     <ada.byron@example.net>"));
	assert_null(strstr(p->ebuf, "Grace"));
	p = run_expect(fx, list, 0);
	assert_non_null(strstr(p->obuf, "No profiles yet"));

	p = run_expect(fx, by_number, 0);
	assert_non_null(strstr(p->obuf, "Imported into profile grace (Grace Brewster Hopper)"));
	p = run_expect(fx, show, 0);
	assert_non_null(strstr(p->obuf, "grace@example.com"));
	p = run_expect(fx, by_name, 0);
	assert_non_null(strstr(p->obuf, "(Ada Byron)"));
	p = run_expect(fx, by_part, 0);
	assert_non_null(strstr(p->obuf, "(Alan Turing)"));
	/* The broken card: its line and property, exit 5; a number past the end: the list, exit 1. */
	p = run_expect(fx, broken, 5);
	assert_non_null(strstr(p->ebuf, "card 4 of"));
	assert_non_null(strstr(p->ebuf, "line 19: FN"));
	p = run_expect(fx, missing, 1);
	assert_non_null(strstr(p->ebuf, "numbered or named so"));
	assert_non_null(strstr(p->ebuf, "    5  Alan Turing"));
	/* From standard input (no terminal to ask on): the list, and a choice by number works too. */
	{
		static char text[4096];
		const char *stdin_none[] = {"card", "import", "-", NULL};
		const char *stdin_pick[] = {"card", "import", "--profile", "turing", "-", "5", NULL};
		FILE *f = fopen(in, "rb");
		size_t n;
		assert_non_null(f);
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
		text[n] = '\0';
		p = spawn(fx, text, false, stdin_none);
		assert_int_equal(cxr_finish(p), 1);
		assert_non_null(strstr(p->ebuf, "(standard input) holds 5 cards"));
		assert_null(strstr(p->ebuf, "Import which card?"));
		p = spawn(fx, text, false, stdin_pick);
		assert_int_equal(cxr_finish(p), 0);
		assert_non_null(strstr(p->obuf, "(Alan Turing)"));
	}
	/* A card to send is one card: the file is refused before any connection. */
	p = run_expect(fx, offer_card, 5);
	assert_non_null(strstr(p->ebuf, "holds 5 cards"));
}

static void test_multi_card_prompt(void **state)
{
	struct fx *fx = *state;
	char in[600];
	const char *import[] = {"card", "import", in, NULL};
	cxr_proc *p;

	copy_data(fx, "multi.vcf", in, sizeof(in));
	/* On a terminal the user is asked; a wrong answer asks again, the list stays helpful. */
	p = spawn(fx, NULL, true, import);
	cxr_wait_for(p, "Import which card? [1-5 or a name; Enter to cancel]");
	assert_int_equal(write(p->out, "ada\n", 4), 4);
	cxr_wait_for(p, "2 cards match");
	assert_int_equal(write(p->out, "4\n", 2), 2);
	cxr_wait_for(p, "Card 4 is not valid");
	assert_int_equal(write(p->out, "3\n", 2), 2);
	assert_int_equal(cxr_finish(p), 0);
	assert_non_null(strstr(p->obuf, "Imported into profile default (Ada Byron), now the default profile"));
	/* Enter cancels. */
	p = spawn(fx, NULL, true, import);
	cxr_wait_for(p, "Import which card?");
	assert_int_equal(write(p->out, "\n", 1), 1);
	assert_int_equal(cxr_finish(p), 1);
	assert_non_null(strstr(p->obuf, "nothing imported"));
}

static void test_show_converted(void **state)
{
	struct fx *fx = *state;
	char in[600];
	const char *import[] = {"card", "import", in, NULL};
	const char *show[] = {"card", "show", NULL};
	cxr_proc *p;

	/* A 3.0 LABEL with no ADR of its type: shown as the address it is. */
	copy_data(fx, "lotus-notes-3.0.vcf", in, sizeof(in));
	run_expect(fx, import, 0);
	p = run_expect(fx, show, 0);
	assert_non_null(strstr(p->obuf, "  Address       Dormitory 3\n                Tsukuba (home)\n"));
	assert_non_null(strstr(p->obuf, "  Address       1-1 Marunouchi, Chiyoda-ku, Tokyo, 100-0005, Japan (work)\n"));
	/* Windows-1252 text of Outlook, shown as UTF-8, the note's line break kept. */
	copy_data(fx, "outlook2003-2.1.vcf", in, sizeof(in));
	run_expect(fx, import, 0);
	p = run_expect(fx, show, 0);
	assert_non_null(strstr(p->obuf, "  Name          H\xc3\xa9l\xc3\xa8ne Lef\xc3\xa8vre\n"));
	assert_non_null(strstr(p->obuf, "\xe2\x82\xacuro 2003 \xe2\x80\x93 stand 12.\n                Pr\xc3\xa9"));
}

static void test_import_errors(void **state)
{
	struct fx *fx = *state;
	char path[600];
	const char *import[] = {"card", "import", path, NULL};
	const char *export_both[] = {"card", "export", "--jcard", "--vcard", "3.0", NULL};
	const char *export_bad[] = {"card", "export", "--vcard", "2.1", NULL};
	static const struct {
		const char *text;
		const char *reason;
	} bad[] = {
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\nNOTE;CHARSET=UTF-7:x\r\nEND:VCARD\r\n",
			"line 4: NOTE: CHARSET names a character set that is not read"},
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\nTEL:1\r\nNOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E9t=E9\r\nEND:VCARD\r\n",
			"line 5: NOTE: invalid UTF-8"},
		{"BEGIN:VCARD\r\nVERSION:2.1\r\nTEL:1\r\nEND:VCARD\r\n", "line 1: FN: card has no FN, and no N or ORG"},
		{"BEGIN:VCARD\r\nVERSION:2.0\r\nFN:A\r\nEND:VCARD\r\n", "line 2: VERSION: unsupported VERSION (2.1, 3.0 and 4.0"},
	};
	cxr_proc *p;
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.vcf", fx->dir);
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = fopen(path, "wb");
		assert_non_null(f);
		fputs(bad[i].text, f);
		fclose(f);
		p = run_expect(fx, import, 5);
		if(!strstr(p->ebuf, bad[i].reason)) {
			fail_msg("want \"%s\" in: %s", bad[i].reason, p->ebuf);
		}
	}
	p = run_expect(fx, export_both, 2);
	assert_non_null(strstr(p->ebuf, "exclude each other"));
	p = run_expect(fx, export_bad, 2);
	assert_non_null(strstr(p->ebuf, "--vcard must be 4.0 or 3.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_corpus_exports_read_elsewhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_card_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multi_card_prompt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_show_converted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_errors, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
