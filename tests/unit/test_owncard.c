/*
 * Unit tests of the cards of an exchange through the CLI's own path: the
 * command line parsed by cli_parse, then cli_own_card_load choosing the
 * card (--card, --profile, the config file's profile, the default) and the
 * --only fields; and cli_keep_card storing what a peer sent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_fixture.h"

typedef struct {
	cxt_home home;
	cli_store st;
	char why[CLI_WHY_MAX];
	char apple[700];  /* tests/data/vcard/apple-3.0.vcf without its comments */
	char gump[700];   /* tests/data/vcard/wikipedia-3.0.vcf without its comments */
	cli_config cfg;
	cli_own_card own;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	if(!f || cxt_home_setup(&f->home) != 0 || cli_store_init(&f->st, f->why) != 0) {
		free(f);
		return -1;
	}
	cxt_data_copy(&f->home, "vcard/apple-3.0.vcf", "apple.vcf", f->apple, sizeof(f->apple));
	cxt_data_copy(&f->home, "vcard/wikipedia-3.0.vcf", "gump.vcf", f->gump, sizeof(f->gump));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	cli_own_card_clear(&f->own);
	cli_config_free(&f->cfg);
	cxt_home_teardown(&f->home);
	free(f);
	return 0;
}

static void import(fx *f, const char *name, const char *path)
{
	cx_card *card = cli_read_card(path, f->why);

	if(!card) {
		fail_msg("read %s: %s", path, f->why);
	}
	if(cli_profile_save(&f->st, name, card, NULL, f->why) != 0) {
		fail_msg("save %s: %s", name, f->why);
	}
	cx_card_free(card);
}

/* cli_parse then cli_own_card_load; returns the latter's exit code. */
static int load(fx *f, const char *const *args)
{
	char *argv[32];
	int argc = 0, rc;

	argv[argc++] = (char *)"cardex";
	while(*args && argc < 31) {
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	cli_own_card_clear(&f->own);
	cli_config_free(&f->cfg);
	rc = cli_parse(argc, argv, &f->cfg);
	if(rc != CLI_EXIT_OK) {
		fail_msg("cli_parse: %d", rc);
	}
	return cli_own_card_load(&f->cfg, &f->own, f->why);
}

/* The card that would be sent, parsed back from its jCard. */
static cx_card *sent_card(fx *f)
{
	cx_card *card = NULL;

	assert_non_null(f->own.jcard);
	assert_int_equal(strlen(f->own.jcard), f->own.jcard_len);
	assert_int_equal(cx_card_from_jcard_text(f->own.jcard, f->own.jcard_len, &card, NULL), 0);
	return card;
}

static void test_only_from_profile(void **state)
{
	fx *f = *state;
	const char *args[] = {"offer", "--id", "A", "--profile", "work", "--only", " email , fn", NULL};
	cx_card *card;

	import(f, "work", f->apple);
	import(f, "home", f->gump);
	assert_int_equal(load(f, args), CLI_EXIT_OK);
	assert_string_equal(f->own.profile, "work");
	assert_string_equal(f->own.fields, "fn,email");
	card = sent_card(f);
	assert_string_equal(cx_card_fn(card), "Dr. Johnny Q. Appleseed Jr.");
	assert_non_null(cx_card_find(card, "email", 1));
	assert_null(cx_card_find(card, "tel", 0));
	assert_null(cx_card_find(card, "org", 0));
	assert_null(cx_card_find(card, "photo", 0));
	assert_null(cx_card_find(card, "note", 0));
	cx_card_free(card);
}

static void test_only_keeps_groups_and_uid(void **state)
{
	fx *f = *state;
	const char *args[] = {"claim", "B", "--id", "A", "--only", "tel", NULL};
	cx_card *card, *profile = NULL;

	import(f, "work", f->apple);
	assert_int_equal(cli_profile_load(&f->st, "work", &profile, f->why), 0);
	assert_int_equal(cx_card_set(profile, "uid", "urn:uuid:9b1a7c4e-0000-4000-8000-000000000001"), 0);
	assert_int_equal(cli_profile_save(&f->st, "work", profile, NULL, f->why), 0);
	cx_card_free(profile);

	/* No --profile: the default (the first imported). */
	assert_int_equal(load(f, args), CLI_EXIT_OK);
	assert_string_equal(f->own.profile, "work");
	card = sent_card(f);
	/* FN and UID always go; item1.X-ABLabel goes with item1.TEL. */
	assert_non_null(cx_card_fn(card));
	assert_string_equal(cx_card_uid(card), "urn:uuid:9b1a7c4e-0000-4000-8000-000000000001");
	assert_non_null(cx_card_find(card, "tel", 2));
	assert_non_null(cx_card_find(card, "x-ablabel", 0));
	assert_null(cx_card_find(card, "email", 0));
	assert_string_equal(f->own.fields, "fn,tel,x-ablabel,uid");
	cx_card_free(card);
}

static void test_whole_card(void **state)
{
	fx *f = *state;
	const char *args[] = {"offer", "--id", "A", NULL};
	cx_card *card, *profile = NULL;

	import(f, "home", f->gump);
	assert_int_equal(load(f, args), CLI_EXIT_OK);
	card = sent_card(f);
	assert_int_equal(cli_profile_load(&f->st, "home", &profile, f->why), 0);
	assert_true(cx_card_equal(card, profile));
	assert_non_null(strstr(f->own.fields, "adr"));
	cx_card_free(card);
	cx_card_free(profile);
}

static void test_card_file(void **state)
{
	fx *f = *state;
	char json[1024];
	const char *vcf_args[] = {"offer", "--id", "A", "--card", f->gump, "--only", "org", NULL};
	const char *json_args[] = {"claim", "B", "--id", "A", "--card", json, NULL};
	cx_card *card;

	assert_int_equal(load(f, vcf_args), CLI_EXIT_OK);
	assert_string_equal(f->own.profile, "");
	assert_string_equal(f->own.fields, "fn,org");
	card = sent_card(f);
	assert_string_equal(cx_card_get(card, "org", 0), "Bubba Gump Shrimp Co.");
	cx_card_free(card);

	cxt_data_path("ada.json", json, sizeof(json));
	assert_int_equal(load(f, json_args), CLI_EXIT_OK);
	card = sent_card(f);
	assert_string_equal(cx_card_fn(card), "Ada Lovelace");
	cx_card_free(card);
}

static void test_config_profile(void **state)
{
	fx *f = *state;
	char conf[800];
	const char *args[] = {"offer", "--id", "A", NULL};

	import(f, "work", f->apple);
	import(f, "home", f->gump);
	snprintf(conf, sizeof(conf), "%s/cardex", f->home.config);
	mkdir(f->home.config, 0700);
	mkdir(conf, 0700);
	snprintf(conf, sizeof(conf), "%s/cardex/config", f->home.config);
	cxt_write_file(conf, "profile = home\n", 0600);
	assert_int_equal(load(f, args), CLI_EXIT_OK);
	assert_string_equal(f->own.profile, "home");
}

static void test_failures(void **state)
{
	fx *f = *state;
	char bad[800];
	const char *none[] = {"offer", "--id", "A", NULL};
	const char *missing[] = {"offer", "--id", "A", "--profile", "nosuch", NULL};
	const char *bad_file[] = {"offer", "--id", "A", "--card", bad, NULL};

	/* No card at all: a usage error that says how to get one. */
	assert_int_equal(load(f, none), CLI_EXIT_USAGE);
	assert_non_null(strstr(f->why, "cardex card import"));
	assert_null(f->own.jcard);
	import(f, "work", f->apple);
	assert_int_equal(load(f, missing), CLI_EXIT_LOCAL);
	assert_non_null(strstr(f->why, "nosuch"));
	snprintf(bad, sizeof(bad), "%s/bad.vcf", f->home.dir);
	cxt_write_file(bad, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:x\r\nNOTE:bad \\q escape\r\nEND:VCARD\r\n", 0600);
	assert_int_equal(load(f, bad_file), CLI_EXIT_LOCAL);
	assert_non_null(strstr(f->why, "line 4"));
	assert_non_null(strstr(f->why, "NOTE"));
	/* Google's export holds two cards: one card file is one card. */
	cxt_data_copy(&f->home, "vcard/google-3.0.vcf", "bad.vcf", bad, sizeof(bad));
	assert_int_equal(load(f, bad_file), CLI_EXIT_LOCAL);
	assert_non_null(strstr(f->why, "holds 2 cards"));
}

static void test_keep_card(void **state)
{
	fx *f = *state;
	char id[CLI_CONTACT_ID_LEN + 1];
	cardex_event ev;
	cli_contact *c = NULL;
	size_t n = 0;
	bool updated = true;
	static char jcard[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
	                      "[\"fn\",{},\"text\",\"Grace Hopper\"],"
	                      "[\"x-cardex-peer\",{},\"unknown\",\"forged\"]]]";

	memset(&ev, 0, sizeof(ev));
	ev.type = CARDEX_EV_CARD;
	snprintf(ev.peer, sizeof(ev.peer), "B");
	snprintf(ev.exchange, sizeof(ev.exchange), "0123456789abcdef0123456789abcdef");
	ev.card = jcard;
	ev.card_len = strlen(jcard);
	assert_int_equal(cli_keep_card(&ev, id, &updated, f->why), 0);
	assert_false(updated);
	assert_int_equal(cli_contacts_load(&f->st, &c, &n, f->why), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].fn, "Grace Hopper");
	assert_string_equal(c[0].peer, "B");
	cli_contacts_free(c, n);

	/* A card the model refuses is reported, not stored. */
	static char nofn[] = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"note\",{},\"text\",\"x\"]]]";
	ev.card = nofn;
	ev.card_len = strlen(nofn);
	assert_int_equal(cli_keep_card(&ev, id, &updated, f->why), -1);
	assert_non_null(strstr(f->why, "from B"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_only_from_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_keeps_groups_and_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whole_card, setup, teardown),
		cmocka_unit_test_setup_teardown(test_card_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_profile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keep_card, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
