/*
 * Unit tests of the CLI's config file (config.c), how cli_parse merges it
 * with options and the environment (args.c), and the password file check
 * (input.c).
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

typedef struct {
	cxt_home home;
	char why[CLI_WHY_MAX];
	char conf_path[800];
	cli_config cfg;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char dir[700];

	if(!f || cxt_home_setup(&f->home) != 0) {
		free(f);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/cardex", f->home.config);
	mkdir(f->home.config, 0700);
	mkdir(dir, 0700);
	snprintf(f->conf_path, sizeof(f->conf_path), "%s/config", dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	cli_config_free(&f->cfg);
	cxt_home_teardown(&f->home);
	free(f);
	return 0;
}

static void parse_ok(fx *f, const char *text, cli_file_config *c)
{
	if(cli_conf_parse(text, strlen(text), "/etc/cardex", c, f->why) != 0) {
		fail_msg("config rejected: %s", f->why);
	}
}

/* Expects text refused at line with a reason containing needle. */
static void parse_err(fx *f, const char *text, unsigned line, const char *needle)
{
	char at[32];
	cli_file_config c;

	assert_int_equal(cli_conf_parse(text, strlen(text), "/etc/cardex", &c, f->why), -1);
	snprintf(at, sizeof(at), "line %u:", line);
	if(strncmp(f->why, at, strlen(at)) != 0 || !strstr(f->why, needle)) {
		fail_msg("expected \"%s ... %s\", got \"%s\"", at, needle, f->why);
	}
	assert_null(c.host);
	assert_null(c.id);
}

static void test_parse(void **state)
{
	fx *f = *state;
	char expect[700];
	cli_file_config c;

	parse_ok(f, "# cardex configuration\n"
	            "\n"
	            "host = broker.example\r\n"
	            "  port=8883  \n"
	            "id\t=\tada\n"
	            "   # an indented comment\n"
	            "password-file = secrets/pw\n"
	            "cafile = ~/ca.crt\n"
	            "topic-prefix = cardex/\n"
	            "profile = work", &c);
	assert_string_equal(c.host, "broker.example");
	assert_int_equal(c.port, 8883);
	assert_string_equal(c.id, "ada");
	/* Relative paths are relative to the config file's directory, ~/ to the home. */
	assert_string_equal(c.password_file, "/etc/cardex/secrets/pw");
	snprintf(expect, sizeof(expect), "%s/ca.crt", f->home.dir);
	assert_string_equal(c.cafile, expect);
	assert_string_equal(c.topic_prefix, "cardex/");
	assert_string_equal(c.profile, "work");
	cli_conf_free(&c);
	assert_null(c.host);

	parse_ok(f, "", &c);
	assert_null(c.host);
	assert_int_equal(c.port, 0);
	parse_ok(f, "host = a # not a comment\n", &c);
	assert_string_equal(c.host, "a # not a comment");
	cli_conf_free(&c);
}

static void test_parse_errors(void **state)
{
	fx *f = *state;

	parse_err(f, "host = a\nport = b\n", 2, "port must be a number");
	parse_err(f, "host = a\nport = 70000\n", 2, "port");
	parse_err(f, "\n\nhostname = a\n", 3, "unknown key");
	parse_err(f, "host a\n", 1, "expected \"key = value\"");
	parse_err(f, "host =\n", 1, "empty value");
	parse_err(f, "host = a\nhost = b\n", 2, "twice");
	parse_err(f, "id = not valid\n", 1, "terminal ID");
	parse_err(f, "profile = ../x\n", 1, "profile name");
	parse_err(f, "host = a\x01z\n", 1, "control character");
	/* A password in the file is refused, and never repeated in the message. */
	parse_err(f, "host = a\npassword = hunter22\n", 2, "password-file");
	assert_null(strstr(f->why, "hunter22"));
}

static void test_load(void **state)
{
	fx *f = *state;
	cli_file_config c;

	/* A missing default file is no error; a missing --config file is. */
	assert_int_equal(cli_conf_load(f->conf_path, false, &c, f->why), 0);
	assert_null(c.host);
	assert_int_equal(cli_conf_load(f->conf_path, true, &c, f->why), -1);
	assert_non_null(strstr(f->why, "cannot open"));

	cxt_write_file(f->conf_path, "host = h\nport = x\n", 0600);
	assert_int_equal(cli_conf_load(f->conf_path, false, &c, f->why), -1);
	assert_non_null(strstr(f->why, f->conf_path));
	assert_non_null(strstr(f->why, "line 2"));

	/* The file says where the password goes: others must not be able to change it. */
	cxt_write_file(f->conf_path, "host = h\n", 0666);
	assert_int_equal(cli_conf_load(f->conf_path, false, &c, f->why), -1);
	assert_non_null(strstr(f->why, "chmod go-w"));
	assert_int_equal(chmod(f->conf_path, 0644), 0);
	assert_int_equal(cli_conf_load(f->conf_path, false, &c, f->why), 0);
	assert_string_equal(c.host, "h");
	cli_conf_free(&c);
}

/* cli_parse of a NULL-terminated argument list. */
static int parse_args(fx *f, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"cardex";
	while(*args && argc < 31) {
		argv[argc++] = (char *)*args++;
	}
	argv[argc] = NULL;
	cli_config_free(&f->cfg);
	return cli_parse(argc, argv, &f->cfg);
}

static void test_precedence(void **state)
{
	fx *f = *state;
	char pw[700];
	const char *plain[] = {"offer", "--card", "x.vcf", NULL};
	const char *opts[] = {"offer", "--card", "x.vcf", "--host", "opt.example", "--port", "1999",
		"--id", "optid", NULL};
	const char *profile_opt[] = {"card", "show", "--profile", "home", NULL};
	const char *profile_none[] = {"card", "show", NULL};

	snprintf(pw, sizeof(pw), "%s/pw", f->home.dir);
	cxt_write_file(f->conf_path, "host = conf.example\nport = 1883\nid = confid\n"
	                             "password-file = ../../pw\ncafile = /ca.crt\nprofile = work\n", 0600);
	/* Config file alone. */
	assert_int_equal(parse_args(f, plain), CLI_EXIT_OK);
	assert_string_equal(f->cfg.host, "conf.example");
	assert_int_equal(f->cfg.port, 1883);
	assert_string_equal(f->cfg.id, "confid");
	assert_string_equal(f->cfg.cafile, "/ca.crt");
	assert_non_null(strstr(f->cfg.password_file, "/config/cardex/../../pw"));
	assert_string_equal(f->cfg.profile, "work");
	assert_false(f->cfg.profile_given);

	/* The environment wins over it; CARDEX_PASSWORD over its password-file. */
	setenv("CARDEX_HOST", "env.example", 1);
	setenv("CARDEX_PORT", "2883", 1);
	setenv("CARDEX_ID", "envid", 1);
	setenv("CARDEX_PASSWORD", "from-env", 1);
	assert_int_equal(parse_args(f, plain), CLI_EXIT_OK);
	assert_string_equal(f->cfg.host, "env.example");
	assert_int_equal(f->cfg.port, 2883);
	assert_string_equal(f->cfg.id, "envid");
	assert_null(f->cfg.password_file);

	/* Options win over both. */
	assert_int_equal(parse_args(f, opts), CLI_EXIT_OK);
	assert_string_equal(f->cfg.host, "opt.example");
	assert_int_equal(f->cfg.port, 1999);
	assert_string_equal(f->cfg.id, "optid");
	unsetenv("CARDEX_HOST");
	unsetenv("CARDEX_PORT");
	unsetenv("CARDEX_ID");
	unsetenv("CARDEX_PASSWORD");

	assert_int_equal(parse_args(f, profile_opt), CLI_EXIT_OK);
	assert_string_equal(f->cfg.profile, "home");
	assert_true(f->cfg.profile_given);
	assert_int_equal(parse_args(f, profile_none), CLI_EXIT_OK);
	assert_string_equal(f->cfg.profile, "work");
}

static void test_parse_refuses(void **state)
{
	fx *f = *state;
	char other[700];
	const char *plain[] = {"card", "list", NULL};
	const char *with_config[] = {"card", "list", "--config", other, NULL};
	const char *missing_config[] = {"card", "list", "--config", "/nonexistent/cardex.conf", NULL};
	const char *both[] = {"offer", "--id", "a", "--card", "x", "--profile", "p", NULL};
	const char *bad_only[] = {"offer", "--id", "a", "--only", "fn,,org", NULL};
	const char *bad_only2[] = {"offer", "--id", "a", "--only", "fn;org", NULL};
	const char *rm_no_profile[] = {"card", "rm", NULL};
	const char *no_sub[] = {"card", NULL};
	const char *bad_sub[] = {"contacts", "frobnicate", NULL};
	const char *set_one[] = {"card", "set", "FN", NULL};
	const char *uri_and_peer[] = {"claim", "A", "--uri", "cardex:A/123456", "--id", "b", NULL};
	const char *bad_uri[] = {"claim", "--uri", "cardex:A/12345", "--id", "b", NULL};
	char uri_arg[] = "CARDEX:A.b/123456"; /* writable, as argv is: cli_parse wipes the key in it */
	const char *uri[] = {"claim", "--uri", uri_arg, "--id", "b", NULL};

	cxt_write_file(f->conf_path, "host = h\nbogus line\n", 0600);
	assert_int_equal(parse_args(f, plain), CLI_EXIT_USAGE);
	snprintf(other, sizeof(other), "%s/other.conf", f->home.dir);
	cxt_write_file(other, "profile = x\n", 0600);
	assert_int_equal(parse_args(f, with_config), CLI_EXIT_OK);
	assert_string_equal(f->cfg.profile, "x");
	assert_int_equal(parse_args(f, missing_config), CLI_EXIT_USAGE);
	unlink(f->conf_path);

	assert_int_equal(parse_args(f, both), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, bad_only), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, bad_only2), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, rm_no_profile), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, no_sub), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, bad_sub), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, set_one), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, uri_and_peer), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, bad_uri), CLI_EXIT_USAGE);
	assert_int_equal(parse_args(f, uri), CLI_EXIT_OK);
	assert_string_equal(f->cfg.peer, "A.b");
	assert_string_equal(f->cfg.key_arg, "123456");
	assert_int_equal(f->cfg.cmd, CLI_CMD_CLAIM);
	/* The key no longer shows in the process's command line. */
	assert_string_equal(uri_arg, "CARDEX:A.b/");
}

static void test_password_file_mode(void **state)
{
	fx *f = *state;
	char path[700];
	char buf[64];

	snprintf(path, sizeof(path), "%s/pw", f->home.dir);
	cxt_write_file(path, "s3cret\nignored\n", 0644);
	assert_int_equal(cli_read_password_file(path, buf, sizeof(buf), f->why), -1);
	assert_non_null(strstr(f->why, "chmod 600"));
	assert_null(strstr(f->why, "s3cret"));
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(cli_read_password_file(path, buf, sizeof(buf), f->why), -1);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(cli_read_password_file(path, buf, sizeof(buf), f->why), 0);
	assert_string_equal(buf, "s3cret");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_precedence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_password_file_mode, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
