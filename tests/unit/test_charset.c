/*
 * Unit tests of common/charset.c: the names of the character sets a
 * CHARSET parameter may give, their conversion to UTF-8 (the bytes a set
 * leaves undefined are refused with their offset; the multi-byte sets go
 * through the C library's iconv), and quoted-printable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "charset.h"

/* Converts s from the set called name; expects want (NULL: a refusal at bad_at). */
static void conv(const char *name, const char *s, const char *want, size_t bad_at)
{
	int cs = cx_charset_find(name, strlen(name));
	char *out = (char *)1;
	size_t len = 99, bad = 99;

	assert_true(cs >= 0);
	int r = cx_charset_to_utf8(cs, s, strlen(s), &out, &len, &bad);
	if(want == NULL) {
		assert_int_equal(r, 1);
		assert_null(out);
		assert_int_equal(bad, bad_at);
		return;
	}
	assert_int_equal(r, 0);
	assert_string_equal(out, want);
	assert_int_equal(len, strlen(want));
	free(out);
}

static void test_names(void **state)
{
	(void)state;
	int utf8 = cx_charset_find("UTF-8", 5);
	int w1252 = cx_charset_find("Windows-1252", 12);

	assert_int_equal(utf8, CX_CHARSET_UTF8);
	assert_int_equal(cx_charset_find("utf8", 4), utf8);
	assert_int_equal(cx_charset_find("ISO-8859-1", 10), CX_CHARSET_LATIN1);
	assert_int_equal(cx_charset_find("iso_8859-1", 10), CX_CHARSET_LATIN1);
	assert_int_equal(cx_charset_find("Latin1", 6), CX_CHARSET_LATIN1);
	assert_int_equal(cx_charset_find("US-ASCII", 8), CX_CHARSET_ASCII);
	assert_true(w1252 >= CX_CHARSET__TABLES);
	assert_int_equal(cx_charset_find("cp1252", 6), w1252);
	assert_int_equal(cx_charset_find("WINDOWS-1252", 12), w1252);
	assert_true(cx_charset_find("KOI8-R", 6) >= 0);
	assert_true(cx_charset_find("x-mac-roman", 11) >= 0);
	assert_int_equal(cx_charset_find("Shift_JIS", 9), cx_charset_find("SJIS", 4));
	assert_true(cx_charset_find("GB2312", 6) >= 0);
	/* Not read: UTF-16 and UTF-7 (no card is written in them), names that are no set, empty or absurdly long names. */
	assert_int_equal(cx_charset_find("UTF-16", 6), -1);
	assert_int_equal(cx_charset_find("UTF-7", 5), -1);
	assert_int_equal(cx_charset_find("", 0), -1);
	assert_int_equal(cx_charset_find("--", 2), -1);
	assert_int_equal(cx_charset_find("windows-1252-windows-1252-windows-1252", 38), -1);
	/* The length counts, not a NUL. */
	assert_int_equal(cx_charset_find("utf-8 trailing", 5), utf8);
}

static void test_single_byte(void **state)
{
	(void)state;
	conv("ISO-8859-1", "Ren\xe9\xa0\xff", "Ren\xc3\xa9\xc2\xa0\xc3\xbf", 0);
	/* Windows-1252: the euro sign, curly quote and en dash Latin-1 lacks. */
	conv("Windows-1252", "\x80 \x92 \x96", "\xe2\x82\xac \xe2\x80\x99 \xe2\x80\x93", 0);
	/* Its five undefined bytes read as the C1 controls, as browsers read them. */
	conv("Windows-1252", "\x81", "\xc2\x81", 0);
	conv("ISO-8859-15", "\xa4", "\xe2\x82\xac", 0);
	conv("ISO-8859-2", "\xa3\xf3" "d\xbc", "\xc5\x81\xc3\xb3" "d\xc5\xba", 0);
	conv("Windows-1251", "\xcf\xf0\xe8", "\xd0\x9f\xd1\x80\xd0\xb8", 0);
	conv("KOI8-R", "\xf0\xd2\xc9", "\xd0\x9f\xd1\x80\xd0\xb8", 0);
	conv("Windows-1253", "\xc1", "\xce\x91", 0);
	conv("macintosh", "\x8e", "\xc3\xa9", 0);
	conv("IBM850", "\x82", "\xc3\xa9", 0);
	/* A byte the set leaves undefined is refused at its offset. */
	conv("Windows-1253", "ab\xaa", NULL, 2);
	conv("ISO-8859-7", "x\xae", NULL, 1);
	/* US-ASCII has no 8-bit byte; UTF-8 must be UTF-8. */
	conv("US-ASCII", "plain", "plain", 0);
	conv("US-ASCII", "caf\xc3\xa9", NULL, 3);
	conv("UTF-8", "caf\xc3\xa9", "caf\xc3\xa9", 0);
	conv("UTF-8", "caf\xe9!", NULL, 3);
	conv("UTF-8", "", "", 0);
}

/* The multi-byte sets of East Asian phones, through the C library. */
static void test_multi_byte(void **state)
{
	(void)state;
	const char *nihon = "\xe6\x97\xa5\xe6\x9c\xac"; /* the two characters of "Japan" */
	const char *zhongwen = "\xe4\xb8\xad\xe6\x96\x87";

	conv("Shift_JIS", "\x93\xfa\x96\x7b", nihon, 0);
	conv("SHIFT_JIS", "A\xb1", "A\xef\xbd\xb1", 0); /* half-width katakana */
	conv("EUC-JP", "\xc6\xfc\xcb\xdc", nihon, 0);
	conv("ISO-2022-JP", "\x1b$BF|K\\\x1b(B", nihon, 0);
	conv("GB2312", "\xd6\xd0\xce\xc4", zhongwen, 0);
	conv("Big5", "\xa4\xa4\xa4\xe5", zhongwen, 0);
	conv("EUC-KR", "\xc7\xd1\xb1\xdb", "\xed\x95\x9c\xea\xb8\x80", 0);
	/* A lead byte without its trail byte, a trail byte that is none: refused where it starts. */
	conv("Shift_JIS", "ab\x93", NULL, 2);
	conv("Shift_JIS", "\x93\xfa\x81\x20", NULL, 2);
	conv("Big5", "x\xff\xff", NULL, 1);
}

static void test_unknown_set(void **state)
{
	(void)state;
	char *out = (char *)1;
	size_t len = 1, bad = 1;
	assert_int_equal(cx_charset_to_utf8(-1, "x", 1, &out, &len, &bad), 1);
	assert_null(out);
	assert_int_equal(cx_charset_to_utf8(1000, "x", 1, &out, &len, &bad), 1);
	assert_null(out);
}

/* Decodes s; expects want of want_len bytes. */
static void qp(const char *s, const char *want, size_t want_len)
{
	char out[128];
	size_t n = cx_qp_decode(s, strlen(s), out);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, want_len);
}

static void test_quoted_printable(void **state)
{
	(void)state;
	qp("J=C3=BCrgen", "J\xc3\xbcrgen", 7);
	qp("=c3=bc", "\xc3\xbc", 2);
	qp("line=0D=0Anext", "line\r\nnext", 10);
	qp("=00", "\0", 1);
	/* Lenient: an '=' that starts no pair stays; one at the very end is a soft break left over. */
	qp("a=G1b", "a=G1b", 5);
	qp("a=4", "a=4", 3);
	qp("100=", "100", 3);
	qp("=", "", 0);
	qp("", "", 0);
	/* In place. */
	char buf[] = "Br=C3=BCcke";
	size_t n = cx_qp_decode(buf, strlen(buf), buf);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, "Br\xc3\xbc" "cke", 7);
}

static void test_base64_text(void **state)
{
	(void)state;
	assert_true(cx_is_base64_text("/9j/4AAQ+Skz==", 14));
	assert_true(cx_is_base64_text("  AAAA\tBBBB", 11));
	assert_true(cx_is_base64_text("", 0));
	assert_false(cx_is_base64_text("TEL:123", 7));
	assert_false(cx_is_base64_text("AA-A", 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_single_byte),
		cmocka_unit_test(test_multi_byte),
		cmocka_unit_test(test_unknown_set),
		cmocka_unit_test(test_quoted_printable),
		cmocka_unit_test(test_base64_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
