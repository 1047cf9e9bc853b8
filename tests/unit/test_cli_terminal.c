/*
 * Unit tests of what an offer shows on a terminal: the cardex: URI and its
 * strict parser (uri.c), the key grouped for reading aloud, the QR code
 * drawn with half blocks and the big digits (qr.c). The QR checks decode
 * nothing: they check the symbol's size for its version, the quiet zone,
 * and a finder pattern in the corner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define FULL "\xe2\x96\x88"
#define UPPER "\xe2\x96\x80"
#define LOWER "\xe2\x96\x84"

static void test_uri_format(void **state)
{
	char buf[CLI_URI_MAX + 1];
	char id[CX_ID_MAX + 1], key[CX_KEY_DIGITS_MAX + 1], why[CLI_WHY_MAX];
	char long_id[CX_ID_MAX + 1];

	(void)state;
	assert_int_equal(cli_uri_format("ada", "483920", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cardex:ada/483920");
	assert_int_equal(cli_uri_parse(buf, id, key, why), 0);
	assert_string_equal(id, "ada");
	assert_string_equal(key, "483920");
	/* The longest URI fits CLI_URI_MAX. */
	memset(long_id, 'x', CX_ID_MAX);
	long_id[CX_ID_MAX] = '\0';
	assert_int_equal(cli_uri_format(long_id, "1234567890123456", buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), CLI_URI_MAX);
	assert_int_equal(cli_uri_parse(buf, id, key, why), 0);
	assert_string_equal(id, long_id);
	assert_int_equal(cli_uri_format("ada", "483920", buf, 10), -1);
	assert_string_equal(buf, "");
	assert_int_equal(cli_uri_format("a/b", "483920", buf, sizeof(buf)), -1);
	assert_int_equal(cli_uri_format("ada", "48392", buf, sizeof(buf)), -1);
}

static void test_uri_parse_strict(void **state)
{
	static const char *const bad[] = {
		"",
		"cardex:",
		"cardex:ada",
		"cardex:ada/",
		"cardex:/483920",
		"cardex:ada/48392",              /* 5 digits */
		"cardex:ada/12345678901234567",  /* 17 digits */
		"cardex:ada/48392a",
		"cardex:ada/483 920",
		"cardex:ada/483920 ",
		"cardex:ada/483920\n",
		"cardex:ada/483920/",
		"cardex:ada/483920?x=1",
		"cardex://ada/483920",
		"cardex:a da/483920",
		"cardex:ad@a/483920",
		" cardex:ada/483920",
		"http:ada/483920",
		"cardexx:ada/483920",
		"cardex:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/483920", /* 65 */
	};
	char id[CX_ID_MAX + 1], key[CX_KEY_DIGITS_MAX + 1], why[CLI_WHY_MAX];
	size_t i;

	(void)state;
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(cli_uri_parse(bad[i], id, key, why) != -1) {
			fail_msg("accepted \"%s\"", bad[i]);
		}
		assert_string_equal(id, "");
		assert_string_equal(key, "");
		/* The reason never repeats the key. */
		assert_null(strstr(why, "4839"));
	}
	/* The scheme is case-insensitive (RFC 3986); the ID keeps its case. */
	assert_int_equal(cli_uri_parse("CARDEX:Ada-1.x_y/1234567890123456", id, key, why), 0);
	assert_string_equal(id, "Ada-1.x_y");
	assert_string_equal(key, "1234567890123456");
}

static void test_key_group(void **state)
{
	static const char *const cases[][2] = {
		{"483920", "483 920"},
		{"1234567", "123 4567"},
		{"12345678", "123 456 78"},
		{"123456789", "123 456 789"},
		{"1234567890", "123 456 7890"},
		{"1234567890123456", "123 456 789 012 3456"},
	};
	char out[64];
	size_t i;

	(void)state;
	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cli_key_group(cases[i][0], out, sizeof(out)), 0);
		assert_string_equal(out, cases[i][1]);
	}
	assert_int_equal(cli_key_group("483920", out, 7), -1);
	assert_string_equal(out, "");
	assert_int_equal(cli_key_group("483920", out, 8), 0);
}

/* Splits text into lines (in place); returns their count. */
static int split_lines(char *text, char **lines, int max)
{
	int n = 0;

	while(*text && n < max) {
		char *nl = strchr(text, '\n');
		assert_non_null(nl);
		*nl = '\0';
		lines[n++] = text;
		text = nl + 1;
	}
	return n;
}

/* The cells of a line: one per UTF-8 character, after an optional colour prefix. */
static int cells(const char *s)
{
	int n = 0;

	for(; *s; s++) {
		n += ((unsigned char)*s & 0xc0) != 0x80;
	}
	return n;
}

/* True when s consists of count copies of unit. */
static bool all_of(const char *s, size_t len, const char *unit, int count)
{
	size_t u = strlen(unit);
	int i;

	if(len != u * (size_t)count) {
		return false;
	}
	for(i = 0; i < count; i++) {
		if(memcmp(s + (size_t)i * u, unit, u) != 0) {
			return false;
		}
	}
	return true;
}

static void test_qr_plain(void **state)
{
	char *lines[64];
	cli_qr qr;
	int n, i;

	(void)state;
	assert_int_equal(cli_qr_render("cardex:ada/483920", false, &qr), 0);
	assert_true(qr.version >= 1 && qr.version <= 3);
	assert_int_equal(qr.modules, 17 + 4 * qr.version);
	assert_int_equal(qr.cols, qr.modules + 2 * CLI_QR_QUIET);
	assert_int_equal(qr.rows, (qr.cols + 1) / 2);
	assert_null(strchr(qr.text, '\033'));
	n = split_lines(qr.text, lines, 64);
	assert_int_equal(n, qr.rows);
	for(i = 0; i < n; i++) {
		assert_int_equal(cells(lines[i]), qr.cols);
		/* Quiet zone left and right: light modules, drawn as full blocks without colour. */
		assert_true(all_of(lines[i], 3 * CLI_QR_QUIET, FULL, CLI_QR_QUIET));
		assert_true(all_of(lines[i] + strlen(lines[i]) - 3 * CLI_QR_QUIET, 3 * CLI_QR_QUIET, FULL,
				CLI_QR_QUIET));
	}
	/* Quiet zone above: 4 module rows are the first two lines. */
	assert_true(all_of(lines[0], strlen(lines[0]), FULL, qr.cols));
	assert_true(all_of(lines[1], strlen(lines[1]), FULL, qr.cols));
	/* Below: the last 4 module rows, and the half line that pads an odd count. */
	assert_true(all_of(lines[n - 1], strlen(lines[n - 1]), FULL, qr.cols));
	assert_true(all_of(lines[n - 2], strlen(lines[n - 2]), FULL, qr.cols));
	/*
	 * Line 2 holds module rows 0 and 1 of the symbol: the top-left finder
	 * pattern's dark top edge over its light inner ring (inverted here: a
	 * light module is a drawn half).
	 */
	assert_memory_equal(lines[2] + 3 * CLI_QR_QUIET, " " LOWER LOWER LOWER LOWER LOWER " ",
			strlen(" " LOWER LOWER LOWER LOWER LOWER " "));
	cli_qr_clear(&qr);
	assert_null(qr.text);
}

static void test_qr_color(void **state)
{
	static const char on[] = "\033[30;107m";
	static const char off[] = "\033[0m";
	char *lines[64];
	cli_qr qr;
	int n, i;

	(void)state;
	assert_int_equal(cli_qr_render("cardex:ada/483920", true, &qr), 0);
	n = split_lines(qr.text, lines, 64);
	assert_int_equal(n, qr.rows);
	for(i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);
		assert_memory_equal(lines[i], on, sizeof(on) - 1);
		assert_memory_equal(lines[i] + len - (sizeof(off) - 1), off, sizeof(off) - 1);
		/* Light quiet zone: the white background, no drawn cell. */
		assert_memory_equal(lines[i] + sizeof(on) - 1, "    ", CLI_QR_QUIET);
	}
	/* The dark finder edge is drawn: full blocks at its corners, upper halves between. */
	assert_memory_equal(lines[2] + sizeof(on) - 1 + CLI_QR_QUIET,
			FULL UPPER UPPER UPPER UPPER UPPER FULL, strlen(FULL UPPER UPPER UPPER UPPER UPPER FULL));
	cli_qr_clear(&qr);
}

static void test_qr_versions(void **state)
{
	char uri[CLI_URI_MAX + 1];
	char long_id[CX_ID_MAX + 1];
	char *huge;
	cli_qr qr;

	(void)state;
	memset(long_id, 'Q', CX_ID_MAX);
	long_id[CX_ID_MAX] = '\0';
	assert_int_equal(cli_uri_format(long_id, "1234567890123456", uri, sizeof(uri)), 0);
	assert_int_equal(cli_qr_render(uri, false, &qr), 0);
	/* The longest URI still makes a symbol small enough for an 80-column terminal. */
	assert_true(qr.version > 2 && qr.version <= 6);
	assert_int_equal(qr.modules, 17 + 4 * qr.version);
	assert_true(qr.cols + 2 <= 80);
	cli_qr_clear(&qr);

	huge = malloc(5000);
	assert_non_null(huge);
	memset(huge, 'x', 4999);
	huge[4999] = '\0';
	assert_int_equal(cli_qr_render(huge, false, &qr), -1);
	assert_null(qr.text);
	free(huge);
}

static void test_big_digits(void **state)
{
	char *lines[8];
	char *text;
	int cols = 0, n;

	(void)state;
	text = cli_big_digits("483 920", "  ", &cols);
	assert_non_null(text);
	n = split_lines(text, lines, 8);
	assert_int_equal(n, 5);
	/* Six digits of 6 columns, 2 between digits, 4 between the groups, the indent. */
	assert_int_equal(cols, 2 + 6 * 6 + 4 * 2 + 4);
	/* "4" starts with a pixel, a gap and a pixel on its first row. */
	assert_memory_equal(lines[0], "  " FULL FULL "  " FULL FULL, 2 + 6 + 2 + 6);
	free(text);
	assert_null(cli_big_digits("48a", "", &cols));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_format),
		cmocka_unit_test(test_uri_parse_strict),
		cmocka_unit_test(test_key_group),
		cmocka_unit_test(test_qr_plain),
		cmocka_unit_test(test_qr_color),
		cmocka_unit_test(test_qr_versions),
		cmocka_unit_test(test_big_digits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
