/* Unit tests of common/ids.c: terminal IDs, refs, exchange IDs, client IDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ids.h"

#define S(lit) (lit), (sizeof(lit) - 1)

static void test_id_valid(void **state)
{
	(void)state;
	char buf[CX_ID_MAX + 2];

	assert_true(cx_id_valid(S("A")));
	assert_true(cx_id_valid(S("terminal-01.home_2")));
	assert_true(cx_id_valid(S("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._")));
	assert_false(cx_id_valid(S("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")));
	memset(buf, 'x', sizeof(buf));
	assert_true(cx_id_valid(buf, CX_ID_MAX));
	assert_false(cx_id_valid(buf, CX_ID_MAX + 1));
	assert_false(cx_id_valid(S("")));
	assert_false(cx_id_valid(NULL, 3));
	assert_false(cx_id_valid(S("a/b")));
	assert_false(cx_id_valid(S("a b")));
	assert_false(cx_id_valid(S("a+")));
	assert_false(cx_id_valid(S("#")));
	assert_false(cx_id_valid(S("a:b")));
	assert_false(cx_id_valid(S("caf\xc3\xa9")));
	/* The length is honoured: an embedded NUL is not silently accepted. */
	assert_false(cx_id_valid("ab\0cd", 5));
	assert_true(cx_id_valid("ab\0cd", 2));
}

static void test_ref_valid(void **state)
{
	(void)state;
	assert_true(cx_ref_valid(S("r")));
	assert_true(cx_ref_valid(S("0123456789abcdef")));
	assert_false(cx_ref_valid(S("0123456789abcdefg")));
	assert_false(cx_ref_valid(S("")));
	assert_false(cx_ref_valid(S("a b")));
	assert_false(cx_ref_valid(NULL, 0));
}

static void test_xid_valid(void **state)
{
	(void)state;
	assert_true(cx_xid_valid(S("0123456789abcdef0123456789abcdef")));
	assert_false(cx_xid_valid(S("0123456789ABCDEF0123456789abcdef")));
	assert_false(cx_xid_valid(S("0123456789abcdef0123456789abcde")));
	assert_false(cx_xid_valid(S("0123456789abcdef0123456789abcdef0")));
	assert_false(cx_xid_valid(S("0123456789abcdef0123456789abcdeg")));
	assert_false(cx_xid_valid(NULL, 32));
	/* Every byte value at every place, against the definition. */
	for(int b = 0; b < 256; b++) {
		for(int at = 0; at < CX_XID_HEX; at++) {
			char x[CX_XID_HEX + 1] = "0123456789abcdef0123456789abcdef";
			x[at] = (char)b;
			bool hex = (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f');
			if(cx_xid_valid(x, CX_XID_HEX) != hex) {
				fail_msg("byte 0x%02x at %d", b, at);
			}
		}
	}
}

static void test_xid_format(void **state)
{
	(void)state;
	const unsigned char raw[16] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xab, 0xcd, 0xef,
		0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe};
	char out[CX_XID_HEX + 1];

	memset(out, 'Z', sizeof(out));
	cx_xid_format(raw, out);
	assert_string_equal(out, "00017f80ffabcdef1032547698badcfe");
	assert_true(cx_xid_valid(out, strlen(out)));
}

static void test_client_id(void **state)
{
	(void)state;
	assert_true(cx_client_id_allowed("A", "A"));
	assert_true(cx_client_id_allowed("A", "A:pub"));
	assert_true(cx_client_id_allowed("A", "A:x:y/z"));
	assert_false(cx_client_id_allowed("A", "A:"));
	assert_false(cx_client_id_allowed("A", "AB"));
	assert_false(cx_client_id_allowed("A", "B"));
	assert_false(cx_client_id_allowed("A", "B:A"));
	assert_false(cx_client_id_allowed("AB", "A"));
	assert_false(cx_client_id_allowed("AB", "A:B"));
	assert_false(cx_client_id_allowed("A", ""));
	assert_false(cx_client_id_allowed("A", "a"));
	assert_false(cx_client_id_allowed("", ""));
	assert_false(cx_client_id_allowed("", ":x"));
	assert_false(cx_client_id_allowed("a/b", "a/b"));
	assert_false(cx_client_id_allowed(NULL, "A"));
	assert_false(cx_client_id_allowed("A", NULL));
	/* The terminal ID is checked whole, also past the client ID's match. */
	char id64[66];
	char cid[80];
	memset(id64, 'a', 64);
	id64[64] = '\0';
	snprintf(cid, sizeof(cid), "%s:x", id64);
	assert_true(cx_client_id_allowed(id64, id64));
	assert_true(cx_client_id_allowed(id64, cid));
	id64[64] = 'a';
	id64[65] = '\0';
	assert_false(cx_client_id_allowed(id64, id64));
	assert_false(cx_client_id_allowed("a b", "a b"));
	assert_false(cx_client_id_allowed("ab\xc3\xa9", "ab\xc3\xa9:x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_ref_valid),
		cmocka_unit_test(test_xid_valid),
		cmocka_unit_test(test_xid_format),
		cmocka_unit_test(test_client_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
