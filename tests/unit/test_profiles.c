/*
 * Unit tests of the CLI's data directory (store.c) and card profiles
 * (profiles.c): where they live, the default profile, the modes of what is
 * stored (0700 / 0600, repaired or refused), atomic replacement.
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
#include <unistd.h>

#include "cli.h"
#include "cli_fixture.h"

static const char ada_vcf[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\n"
                              "ORG:Analytical Engines Ltd\r\nEMAIL;TYPE=work:ada@example.org\r\n"
                              "END:VCARD\r\n";
static const char ada_home_vcf[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada\r\n"
                                   "EMAIL;TYPE=home:ada@home.example\r\nEND:VCARD\r\n";

typedef struct {
	cxt_home home;
	cli_store st;
	char why[CLI_WHY_MAX];
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	if(!f || cxt_home_setup(&f->home) != 0 || cli_store_init(&f->st, f->why) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	cxt_home_teardown(&f->home);
	free(f);
	return 0;
}

static void save(fx *f, const char *name, const char *vcf, bool *made_default)
{
	cx_card *card = cxt_card(vcf);

	if(cli_profile_save(&f->st, name, card, made_default, f->why) != 0) {
		fail_msg("save %s: %s", name, f->why);
	}
	cx_card_free(card);
}

static void test_paths(void **state)
{
	fx *f = *state;
	char expect[700];
	cli_store st;

	snprintf(expect, sizeof(expect), "%s/cardex", f->home.data);
	assert_string_equal(f->st.base, expect);
	/* A relative XDG_DATA_HOME is invalid (XDG spec): ~/.local/share is used. */
	setenv("XDG_DATA_HOME", "relative/dir", 1);
	assert_int_equal(cli_store_init(&st, f->why), 0);
	snprintf(expect, sizeof(expect), "%s/.local/share/cardex", f->home.dir);
	assert_string_equal(st.base, expect);
	unsetenv("XDG_DATA_HOME");
	assert_int_equal(cli_store_init(&st, f->why), 0);
	assert_string_equal(st.base, expect);
	setenv("XDG_DATA_HOME", f->home.data, 1);
}

static void test_names(void **state)
{
	char long_name[80];

	(void)state;
	assert_true(cli_profile_name_valid("work"));
	assert_true(cli_profile_name_valid("home-2.b_c"));
	assert_false(cli_profile_name_valid(""));
	assert_false(cli_profile_name_valid(".hidden"));
	assert_false(cli_profile_name_valid("../etc"));
	assert_false(cli_profile_name_valid("a/b"));
	assert_false(cli_profile_name_valid("a b"));
	memset(long_name, 'x', 65);
	long_name[65] = '\0';
	assert_false(cli_profile_name_valid(long_name));
	long_name[64] = '\0';
	assert_true(cli_profile_name_valid(long_name));
}

static void test_store_and_default(void **state)
{
	fx *f = *state;
	char name[CLI_PROFILE_MAX + 1];
	char **names = NULL;
	size_t n = 0;
	bool made = false;
	cx_card *card = NULL, *expect;

	/* Nothing yet: no profiles, no default, and nothing created by looking. */
	assert_int_equal(cli_profile_list(&f->st, &names, &n, f->why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cli_profile_default(&f->st, name, f->why), 1);
	assert_int_equal(cxt_mode(f->st.base), -1);

	save(f, "work", ada_vcf, &made);
	assert_true(made);
	save(f, "home", ada_home_vcf, &made);
	assert_false(made);
	assert_int_equal(cli_profile_default(&f->st, name, f->why), 0);
	assert_string_equal(name, "work");

	assert_int_equal(cli_profile_list(&f->st, &names, &n, f->why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "home");
	assert_string_equal(names[1], "work");
	cli_names_free(names, n);

	assert_int_equal(cli_profile_load(&f->st, "work", &card, f->why), 0);
	expect = cxt_card(ada_vcf);
	assert_true(cx_card_equal(card, expect));
	cx_card_free(card);
	cx_card_free(expect);
	assert_int_equal(cli_profile_load(&f->st, "nosuch", &card, f->why), 1);
	assert_null(card);

	assert_int_equal(cli_profile_set_default(&f->st, "home", f->why), 0);
	assert_int_equal(cli_profile_default(&f->st, name, f->why), 0);
	assert_string_equal(name, "home");
	assert_int_equal(cli_profile_set_default(&f->st, "nosuch", f->why), 1);
	assert_string_equal(name, "home");
}

static void test_remove_default(void **state)
{
	fx *f = *state;
	char name[CLI_PROFILE_MAX + 1];
	bool was = false;

	save(f, "work", ada_vcf, NULL);
	save(f, "home", ada_home_vcf, NULL);
	assert_int_equal(cli_profile_remove(&f->st, "home", &was, f->why), 0);
	assert_false(was);
	assert_int_equal(cli_profile_remove(&f->st, "home", &was, f->why), 1);
	assert_int_equal(cli_profile_remove(&f->st, "work", &was, f->why), 0);
	assert_true(was);
	assert_int_equal(cli_profile_default(&f->st, name, f->why), 1);
	/* The next profile saved becomes the default again. */
	save(f, "home", ada_home_vcf, &was);
	assert_true(was);
}

static void test_modes(void **state)
{
	fx *f = *state;
	char path[CLI_PATH_MAX + 64];
	char profiles[CLI_PATH_MAX + 16];
	cx_card *card = NULL;

	save(f, "work", ada_vcf, NULL);
	snprintf(profiles, sizeof(profiles), "%s/profiles", f->st.base);
	snprintf(path, sizeof(path), "%s/work.vcf", profiles);
	assert_int_equal(cxt_mode(f->st.base), 0700);
	assert_int_equal(cxt_mode(profiles), 0700);
	assert_int_equal(cxt_mode(path), 0600);
	snprintf(path, sizeof(path), "%s/default-profile", f->st.base);
	assert_int_equal(cxt_mode(path), 0600);

	/* Modes opened to others are taken back on the next use. */
	snprintf(path, sizeof(path), "%s/work.vcf", profiles);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(chmod(profiles, 0755), 0);
	assert_int_equal(chmod(f->st.base, 0775), 0);
	assert_int_equal(cli_profile_load(&f->st, "work", &card, f->why), 0);
	cx_card_free(card);
	assert_int_equal(cxt_mode(path), 0600);
	assert_int_equal(cxt_mode(profiles), 0700);
	assert_int_equal(cxt_mode(f->st.base), 0700);

	/* A profile that is a symbolic link is refused, not followed. */
	snprintf(path, sizeof(path), "%s/link.vcf", profiles);
	assert_int_equal(symlink("work.vcf", path), 0);
	assert_int_equal(cli_profile_load(&f->st, "link", &card, f->why), -1);
	assert_null(card);
	assert_non_null(strstr(f->why, "symbolic link"));
}

static void test_foreign_owner(void **state)
{
	fx *f = *state;
	char path[CLI_PATH_MAX + 64];
	cx_card *card = NULL;

	if(geteuid() != 0) {
		skip();
	}
	/* Only root can hand a file to another user; the store then refuses it. */
	save(f, "work", ada_vcf, NULL);
	snprintf(path, sizeof(path), "%s/profiles/work.vcf", f->st.base);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(cli_profile_load(&f->st, "work", &card, f->why), -1);
	assert_non_null(strstr(f->why, "another user"));
}

static void test_atomic_replace(void **state)
{
	fx *f = *state;
	char path[CLI_PATH_MAX + 64];
	char profiles[CLI_PATH_MAX + 16];
	struct stat before, after;
	cx_card *card = NULL, *expect;

	save(f, "work", ada_vcf, NULL);
	snprintf(profiles, sizeof(profiles), "%s/profiles", f->st.base);
	snprintf(path, sizeof(path), "%s/work.vcf", profiles);
	assert_int_equal(stat(path, &before), 0);
	save(f, "work", ada_home_vcf, NULL);
	assert_int_equal(stat(path, &after), 0);
	/* Replaced by rename: a new inode, never the old file rewritten in place. */
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(cxt_count_entries(profiles), 1);
	assert_int_equal(cli_profile_load(&f->st, "work", &card, f->why), 0);
	expect = cxt_card(ada_home_vcf);
	assert_true(cx_card_equal(card, expect));
	cx_card_free(card);
	cx_card_free(expect);

	/* A write that cannot complete (rename over a directory) leaves no temporary file. */
	snprintf(path, sizeof(path), "%s/dir.vcf", profiles);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(cli_store_write(path, "x", 1, f->why), -1);
	assert_int_equal(cxt_count_entries(profiles), 2);
	assert_int_equal(cxt_mode(path) & 0777, 0700);
}

static void test_invalid_stored(void **state)
{
	fx *f = *state;
	char path[CLI_PATH_MAX + 64];
	cx_card *card = NULL;
	cx_card *nofn;

	save(f, "work", ada_vcf, NULL);
	snprintf(path, sizeof(path), "%s/profiles/bad.vcf", f->st.base);
	cxt_write_file(path, "BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:no name\r\nEND:VCARD\r\n", 0600);
	assert_int_equal(cli_profile_load(&f->st, "bad", &card, f->why), -1);
	assert_null(card);
	assert_non_null(strstr(f->why, "FN"));

	/* A card without FN is not stored at all. */
	nofn = cx_card_new();
	assert_int_equal(cx_card_set(nofn, "note", "x"), CX_CARD_OK);
	assert_int_equal(cli_profile_save(&f->st, "nofn", nofn, NULL, f->why), -1);
	assert_int_equal(cx_card_set(nofn, "fn", "Named"), CX_CARD_OK);
	assert_int_equal(cli_profile_save(&f->st, "../x", nofn, NULL, f->why), -1);
	assert_non_null(strstr(f->why, "invalid profile name"));
	cx_card_free(nofn);
}

static void test_resolve(void **state)
{
	fx *f = *state;
	char name[CLI_PROFILE_MAX + 1];
	cli_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(cli_profile_resolve(&cfg, &f->st, name, f->why), 1);
	save(f, "work", ada_vcf, NULL);
	save(f, "home", ada_home_vcf, NULL);
	assert_int_equal(cli_profile_resolve(&cfg, &f->st, name, f->why), 0);
	assert_string_equal(name, "work");
	cfg.profile = "home";
	assert_int_equal(cli_profile_resolve(&cfg, &f->st, name, f->why), 0);
	assert_string_equal(name, "home");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_and_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_stored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
