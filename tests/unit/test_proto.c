/*
 * Unit tests of common/proto.c with the JSON helpers (json.c) and the error
 * table (errors.c) it is built on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "json.h"
#include "proto.h"

#define XID "0123456789abcdef0123456789abcdef"
#define CARD "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ada Lovelace\"]]]"

/*
 * Decoders get an exact-size heap copy without a NUL, so that AddressSanitizer
 * catches any read past len.
 */
static char *dup_exact(const char *s, size_t *len)
{
	*len = strlen(s);
	char *p = malloc(*len > 0 ? *len : 1);
	assert_non_null(p);
	memcpy(p, s, *len);
	return p;
}

static cx_code offer(const char *s, cx_offer_req *out)
{
	size_t n;
	const char *why = NULL;
	char *p = dup_exact(s, &n);
	cx_code rc = cx_offer_decode(p, n, out, &why);
	if(rc != CX_CODE_NONE) {
		assert_non_null(why);
		/* The reason never quotes the payload, which may hold a key. */
		assert_null(strstr(why, "483920"));
	}
	free(p);
	return rc;
}

static cx_code claim(const char *s, cx_claim_req *out)
{
	size_t n;
	const char *why = NULL;
	char *p = dup_exact(s, &n);
	cx_code rc = cx_claim_decode(p, n, out, &why);
	if(rc != CX_CODE_NONE) {
		assert_non_null(why);
	}
	free(p);
	return rc;
}

static cx_code card(const char *s, cx_card_req *out)
{
	size_t n;
	const char *why = NULL;
	char *p = dup_exact(s, &n);
	cx_code rc = cx_card_decode(p, n, out, &why);
	if(rc != CX_CODE_NONE) {
		assert_non_null(why);
		assert_null(out->card);
	}
	free(p);
	return rc;
}

static cx_code reply(const char *s, cx_reply_msg *out)
{
	size_t n;
	const char *why = NULL;
	char *p = dup_exact(s, &n);
	cx_code rc = cx_reply_decode(p, n, out, &why);
	if(rc != CX_CODE_NONE) {
		assert_non_null(why);
		assert_null(out->card);
	}
	free(p);
	return rc;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;
	for(size_t i = 0; i < n; i++) {
		if(b[i] != 0) {
			return false;
		}
	}
	return true;
}

/* ---- errors.c ---- */

static void test_error_table(void **state)
{
	(void)state;
	const char *expected[] = {"bad-request", "bad-topic", "bad-card", "too-large", "no-match",
		"rate-limited", "self-claim", "unknown-exchange", "not-peer", "already-sent",
		"capacity", "internal"};

	assert_int_equal(CX_CODE__COUNT - 1, sizeof(expected) / sizeof(expected[0]));
	for(int c = CX_CODE_NONE + 1; c < CX_CODE__COUNT; c++) {
		const char *name = cx_code_name((cx_code)c);
		assert_non_null(name);
		assert_string_equal(name, expected[c - 1]);
		assert_int_equal(cx_code_from_name(name, strlen(name)), c);
		assert_true(strlen(cx_code_message((cx_code)c)) > 0);
	}
	assert_int_equal(cx_code_from_name("no-match", 8), CX_CODE_NO_MATCH);
	assert_null(cx_code_name(CX_CODE_NONE));
	assert_null(cx_code_name(CX_CODE__COUNT));
	assert_null(cx_code_name((cx_code)-1));
	assert_string_equal(cx_code_message(CX_CODE_NONE), "");
	assert_string_equal(cx_code_message(CX_CODE__COUNT), "");
	assert_int_equal(cx_code_from_name("no-matchx", 9), CX_CODE_NONE);
	assert_int_equal(cx_code_from_name("no-match", 2), CX_CODE_NONE);
	assert_int_equal(cx_code_from_name("No-Match", 8), CX_CODE_NONE);
	assert_int_equal(cx_code_from_name("", 0), CX_CODE_NONE);
	assert_int_equal(cx_code_from_name(NULL, 0), CX_CODE_NONE);
}

/* ---- json.c ---- */

static void test_json_writer(void **state)
{
	(void)state;
	char buf[128];
	cx_jw w;

	cx_jw_init(&w, buf, sizeof(buf));
	cx_jw_strn(&w, "a\"b\\c\n\r\t\b\f\x01\x1f\x7f/\xc3\xa9", 16);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\xc3\xa9\"");
	assert_int_equal(cx_jw_finish(&w), strlen(buf));

	/* Embedded NUL is escaped, not a terminator, when the length is given. */
	cx_jw_init(&w, buf, sizeof(buf));
	cx_jw_strn(&w, "a\0b", 3);
	assert_string_equal(buf, "\"a\\u0000b\"");

	cx_jw_init(&w, buf, sizeof(buf));
	cx_jw_uint(&w, 0);
	cx_jw_lit(&w, ",");
	cx_jw_uint(&w, UINT64_MAX);
	cx_jw_lit(&w, ",");
	cx_jw_str(&w, NULL);
	assert_string_equal(buf, "0,18446744073709551615,\"\"");

	/* Truncation: the full length is counted, the buffer holds a NUL-terminated prefix. */
	cx_jw_init(&w, buf, 5);
	cx_jw_str(&w, "abcdefgh");
	assert_int_equal(cx_jw_finish(&w), 10);
	assert_string_equal(buf, "\"abc");
	cx_jw_init(&w, NULL, 0);
	cx_jw_str(&w, "a\"b");
	cx_jw_uint(&w, 12345);
	assert_int_equal(cx_jw_finish(&w), 6 + 5);
	cx_jw_init(&w, buf, 1);
	cx_jw_lit(&w, "xyz");
	assert_int_equal(cx_jw_finish(&w), 3);
	assert_string_equal(buf, "");
}

static void test_json_scan(void **state)
{
	(void)state;
	const char *why;
	char deep[256];
	size_t n = 0;

	assert_true(cx_json_scan("{\"a\":[[[\"]]]]]]]]]\"]]]}", strlen("{\"a\":[[[\"]]]]]]]]]\"]]]}"), 32, &why));
	assert_true(cx_json_scan("{\"a\":\"\\\"[[[[\"}", strlen("{\"a\":\"\\\"[[[[\"}"), 2, &why));
	assert_false(cx_json_scan("{\"a\":[[[]]]}", strlen("{\"a\":[[[]]]}"), 3, &why));
	assert_true(cx_json_scan("{\"a\":[[]]}", strlen("{\"a\":[[]]}"), 3, &why));
	assert_false(cx_json_scan("{\"a\":\"x\0\"}", 10, 32, &why));
	assert_false(cx_json_scan("{\"a\":1}\0", 8, 32, &why));
	assert_false(cx_json_scan("{\"a\":\"x\ny\"}", strlen("{\"a\":\"x\ny\"}"), 32, &why));
	assert_false(cx_json_scan("{\"a\":\"\\u0000\"}", strlen("{\"a\":\"\\u0000\"}"), 32, &why));
	/* An escaped backslash before "u0000" is plain text. */
	assert_true(cx_json_scan("{\"a\":\"\\\\u0000\"}", strlen("{\"a\":\"\\\\u0000\"}"), 32, &why));
	assert_true(cx_json_scan("{\"a\":\"\\u0001\"}", strlen("{\"a\":\"\\u0001\"}"), 32, &why));

	for(int i = 0; i < 33; i++) {
		deep[n++] = '[';
	}
	assert_false(cx_json_scan(deep, n, CX_JSON_MAX_DEPTH, &why));
	assert_true(cx_json_scan(deep, n - 1, CX_JSON_MAX_DEPTH, &why));
}

static void test_json_getters(void **state)
{
	(void)state;
	const char *why = NULL;
	const char *text = "{\"s\":\"x\",\"n\":7,\"f\":7.5,\"neg\":-1,\"big\":4294967296,\"b\":true,"
		"\"d\":1,\"d\":2,\"z\":null}";
	cJSON *root = cx_json_parse_object(text, strlen(text), &why);
	const char *s;
	size_t n;
	uint32_t u = 99;
	bool b = false;

	assert_non_null(root);
	assert_int_equal(cx_json_get_string(root, "s", &s, &n), CX_JSON_OK);
	assert_string_equal(s, "x");
	assert_int_equal(n, 1);
	assert_int_equal(cx_json_get_string(root, "S", &s, &n), CX_JSON_ABSENT);
	assert_int_equal(cx_json_get_string(root, "n", &s, &n), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "n", 0, UINT32_MAX, &u), CX_JSON_OK);
	assert_int_equal(u, 7);
	assert_int_equal(cx_json_get_uint32(root, "n", 8, 10, &u), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "f", 0, 10, &u), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "neg", 0, 10, &u), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "big", 0, UINT32_MAX, &u), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "s", 0, 10, &u), CX_JSON_BAD);
	assert_int_equal(cx_json_get_bool(root, "b", &b), CX_JSON_OK);
	assert_true(b);
	assert_int_equal(cx_json_get_bool(root, "n", &b), CX_JSON_BAD);
	assert_int_equal(cx_json_get_bool(root, "z", &b), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "d", 0, 10, &u), CX_JSON_BAD);
	assert_int_equal(cx_json_get_uint32(root, "missing", 0, 10, &u), CX_JSON_ABSENT);
	cx_json_delete(root);

	assert_null(cx_json_parse_object("[1]", 3, &why));
	assert_null(cx_json_parse_object("{} {}", 5, &why));
	assert_null(cx_json_parse_object("{", 1, &why));
	assert_null(cx_json_parse_object("", 0, &why));
	root = cx_json_parse_object(" {} \r\n\t", 7, &why);
	assert_non_null(root);
	cx_json_delete(root);
	cx_json_delete(NULL);
}

static void test_utf8_cut(void **state)
{
	(void)state;
	const char *s = "ab\xc3\xa9\xe2\x82\xac";  /* a b é € : 1+1+2+3 bytes */

	assert_int_equal(cx_utf8_cut(s, 7, 10), 7);
	assert_int_equal(cx_utf8_cut(s, 7, 7), 7);
	assert_int_equal(cx_utf8_cut(s, 7, 6), 4);
	assert_int_equal(cx_utf8_cut(s, 7, 5), 4);
	assert_int_equal(cx_utf8_cut(s, 7, 4), 4);
	assert_int_equal(cx_utf8_cut(s, 7, 3), 2);
	assert_int_equal(cx_utf8_cut(s, 7, 0), 0);
}

/* ---- offer ---- */

static void test_offer_decode_valid(void **state)
{
	(void)state;
	cx_offer_req r;

	assert_int_equal(offer("{\"key\":\"483920\",\"ttl\":120}", &r), CX_CODE_NONE);
	assert_string_equal(r.key, "483920");
	assert_int_equal(r.ttl, 120);
	assert_string_equal(r.ref, "");
	cx_offer_req_clear(&r);
	assert_true(all_zero(&r, sizeof(r)));

	assert_int_equal(offer("{\"key\":\"0000000000000000\"}", &r), CX_CODE_NONE);
	assert_string_equal(r.key, "0000000000000000");
	assert_int_equal(r.ttl, 0);
	assert_int_equal(offer(" {\"ttl\":5,\"key\":\"123456\",\"ref\":\"r-1.x_Y\",\"extra\":[1,{\"a\":2}]} ",
			&r), CX_CODE_NONE);
	assert_int_equal(r.ttl, 5);
	assert_string_equal(r.ref, "r-1.x_Y");
	assert_int_equal(offer("{\"key\":\"123456\",\"ttl\":600}", &r), CX_CODE_NONE);
	assert_int_equal(r.ttl, 600);
	assert_int_equal(offer("{\"key\":\"123456\",\"ttl\":120.0}", &r), CX_CODE_NONE);
	assert_int_equal(r.ttl, 120);
	assert_int_equal(offer("{\"key\":\"123456\",\"ttl\":1.2e2}", &r), CX_CODE_NONE);
	assert_int_equal(r.ttl, 120);
	/* Brackets inside strings do not count towards the nesting limit. */
	char buf[512];
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "{\"key\":\"123456\",\"x\":\"");
	memset(buf + strlen(buf), '[', 100);
	strcat(buf, "\"}");
	assert_int_equal(offer(buf, &r), CX_CODE_NONE);
	cx_offer_req_clear(&r);
}

static void test_offer_decode_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", " ", "[]", "\"x\"", "123", "null", "true", "{", "{\"key\":\"123456\"",
		"{\"key\":\"123456\"}x", "{\"key\":\"123456\"}{}", "{\"key\":\"123456\",}", "{key:\"123456\"}",
		"{}", "{\"Key\":\"123456\"}", "{\"KEY\":\"123456\"}", "{\"key\":123456}", "{\"key\":null}",
		"{\"key\":[\"123456\"]}", "{\"key\":\"12345\"}", "{\"key\":\"12345678901234567\"}",
		"{\"key\":\"12a456\"}", "{\"key\":\" 123456\"}", "{\"key\":\"123456 \"}", "{\"key\":\"\"}",
		"{\"key\":\"\\u0031\\u0032\\u0033\\u0034\\u0035x\"}", "{\"key\":\"123456\\u0000\"}",
		"{\"key\":\"123456\",\"key\":\"654321\"}",
		"{\"key\":\"123456\",\"ttl\":4}", "{\"key\":\"123456\",\"ttl\":601}",
		"{\"key\":\"123456\",\"ttl\":120.5}", "{\"key\":\"123456\",\"ttl\":1e308}",
		"{\"key\":\"123456\",\"ttl\":-120}", "{\"key\":\"123456\",\"ttl\":\"120\"}",
		"{\"key\":\"123456\",\"ttl\":true}", "{\"key\":\"123456\",\"ttl\":null}",
		"{\"key\":\"123456\",\"ttl\":0}", "{\"key\":\"123456\",\"ttl\":4294967416}",
		"{\"key\":\"123456\",\"ref\":\"\"}", "{\"key\":\"123456\",\"ref\":\"0123456789abcdefX\"}",
		"{\"key\":\"123456\",\"ref\":\"a/b\"}", "{\"key\":\"123456\",\"ref\":7}",
		"{\"key\":\"12\n3456\"}",
	};
	cx_offer_req r;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&r, 0x55, sizeof(r));
		if(offer(bad[i], &r) != CX_CODE_BAD_REQUEST) {
			fail_msg("accepted: %s", bad[i]);
		}
		assert_true(all_zero(r.key, sizeof(r.key)));
	}
	/* An embedded NUL byte inside the given length. */
	assert_int_equal(cx_offer_decode("{\"key\":\"123456\"}\0", 17, &r, NULL), CX_CODE_BAD_REQUEST);
	assert_int_equal(cx_offer_decode("{\"key\":\"123\0" "456\"}", 17, &r, NULL), CX_CODE_BAD_REQUEST);
	assert_int_equal(cx_offer_decode(NULL, 0, &r, NULL), CX_CODE_BAD_REQUEST);
	assert_int_equal(cx_offer_decode("{}", 2, NULL, NULL), CX_CODE_BAD_REQUEST);
	/* Only len bytes count. */
	assert_int_equal(cx_offer_decode("{\"key\":\"123456\"}garbage", 16, &r, NULL), CX_CODE_NONE);
	assert_string_equal(r.key, "123456");
	cx_offer_req_clear(&r);
}

static void test_offer_decode_keeps_ref(void **state)
{
	(void)state;
	cx_offer_req r;

	/* A valid key is wiped when another field fails, the ref stays for the error reply. */
	assert_int_equal(offer("{\"key\":\"483920\",\"ttl\":601,\"ref\":\"abc\"}", &r),
			CX_CODE_BAD_REQUEST);
	assert_string_equal(r.ref, "abc");
	assert_true(all_zero(r.key, sizeof(r.key)));
	assert_int_equal(r.ttl, 0);
	assert_int_equal(offer("{\"key\":\"48x920\",\"ref\":\"abc\"}", &r), CX_CODE_BAD_REQUEST);
	assert_string_equal(r.ref, "abc");
}

static void test_deep_nesting(void **state)
{
	(void)state;
	char buf[4096];
	cx_offer_req r;
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "{\"key\":\"123456\",\"x\":");
	for(int i = 0; i < 2000; i++) {
		buf[n++] = '[';
	}
	for(int i = 0; i < 2000; i++) {
		buf[n++] = ']';
	}
	buf[n++] = '}';
	buf[n] = '\0';
	assert_int_equal(offer(buf, &r), CX_CODE_BAD_REQUEST);

	/* 31 levels inside the object: 32 in all, accepted. */
	n = (size_t)snprintf(buf, sizeof(buf), "{\"key\":\"123456\",\"x\":");
	for(int i = 0; i < 31; i++) {
		buf[n++] = '[';
	}
	for(int i = 0; i < 31; i++) {
		buf[n++] = ']';
	}
	buf[n++] = '}';
	buf[n] = '\0';
	assert_int_equal(offer(buf, &r), CX_CODE_NONE);
	cx_offer_req_clear(&r);
}

static void test_offer_encode(void **state)
{
	(void)state;
	cx_offer_req r = {.key = "483920", .ttl = 120, .ref = "r1"};
	cx_offer_req back;
	char buf[128];

	size_t n = cx_offer_encode(&r, buf, sizeof(buf));
	assert_string_equal(buf, "{\"key\":\"483920\",\"ttl\":120,\"ref\":\"r1\"}");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(offer(buf, &back), CX_CODE_NONE);
	assert_string_equal(back.key, "483920");
	assert_int_equal(back.ttl, 120);
	assert_string_equal(back.ref, "r1");

	cx_offer_req r2 = {.key = "123456"};
	cx_offer_encode(&r2, buf, sizeof(buf));
	assert_string_equal(buf, "{\"key\":\"123456\"}");

	/* Truncated: full length returned, prefix written. */
	assert_int_equal(cx_offer_encode(&r, buf, 10), n);
	assert_string_equal(buf, "{\"key\":\"4");
	assert_int_equal(cx_offer_encode(&r, NULL, 0), n);
	assert_int_equal(cx_offer_encode(&r, buf, n), n);
	assert_int_equal(strlen(buf), n - 1);
	assert_int_equal(cx_offer_encode(&r, buf, n + 1), n);
	assert_int_equal(strlen(buf), n);
}

/* ---- claim ---- */

static void test_claim(void **state)
{
	(void)state;
	cx_claim_req r;
	char buf[256];
	char from64[80];

	assert_int_equal(claim("{\"key\":\"483920\",\"from\":\"B\"}", &r), CX_CODE_NONE);
	assert_string_equal(r.key, "483920");
	assert_string_equal(r.from, "B");
	assert_string_equal(r.ref, "");
	cx_claim_req_clear(&r);
	assert_true(all_zero(&r, sizeof(r)));

	assert_int_equal(claim("{\"key\":\"483920\"}", &r), CX_CODE_NONE);
	assert_string_equal(r.from, "");
	memset(from64, 'f', 64);
	from64[64] = '\0';
	snprintf(buf, sizeof(buf), "{\"key\":\"483920\",\"from\":\"%s\"}", from64);
	assert_int_equal(claim(buf, &r), CX_CODE_NONE);
	assert_string_equal(r.from, from64);
	snprintf(buf, sizeof(buf), "{\"key\":\"483920\",\"from\":\"%sf\"}", from64);
	assert_int_equal(claim(buf, &r), CX_CODE_BAD_REQUEST);
	assert_string_equal(r.from, "");

	assert_int_equal(claim("{\"key\":\"483920\",\"from\":\"a b\"}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"from\":\"\"}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"from\":7}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"from\":null}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"From\":\"B\"}", &r), CX_CODE_NONE);
	assert_string_equal(r.from, "");
	assert_int_equal(claim("{\"Key\":\"483920\"}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"48392\"}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":483920}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("[\"483920\"]", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"from\":\"B\",\"ref\":\"r!\"}", &r),
			CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"4839x0\",\"from\":\"B\",\"ref\":\"r9\"}", &r),
			CX_CODE_BAD_REQUEST);
	assert_string_equal(r.ref, "r9");
	assert_true(all_zero(r.key, sizeof(r.key)));

	cx_claim_req e = {.key = "483920", .from = "B", .ref = "x"};
	size_t n = cx_claim_encode(&e, buf, sizeof(buf));
	assert_string_equal(buf, "{\"key\":\"483920\",\"from\":\"B\",\"ref\":\"x\"}");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(claim(buf, &r), CX_CODE_NONE);
	assert_string_equal(r.key, "483920");
	assert_string_equal(r.from, "B");
	assert_string_equal(r.ref, "x");
	cx_claim_req e2 = {.key = "483920"};
	cx_claim_encode(&e2, buf, sizeof(buf));
	assert_string_equal(buf, "{\"key\":\"483920\"}");
	assert_int_equal(cx_claim_encode(&e, buf, 3), n);
	assert_string_equal(buf, "{\"");
}

/* ---- card ---- */

static void test_card_decode(void **state)
{
	(void)state;
	cx_card_req r;
	const char *pretty = "{\n  \"exchange\": \"" XID "\",\n  \"card\": [\"vcard\", [\n"
		"    [\"version\", {}, \"text\", \"4.0\"],\n    [\"fn\", {}, \"text\", \"Ada Lovelace\"]\n  ]]\n}";

	assert_int_equal(card("{\"exchange\":\"" XID "\",\"card\":" CARD "}", &r), CX_CODE_NONE);
	assert_string_equal(r.xid, XID);
	assert_non_null(r.card);
	assert_string_equal(r.card, CARD);
	assert_int_equal(r.card_len, strlen(CARD));
	cx_card_req_clear(&r);
	assert_null(r.card);
	assert_true(all_zero(&r, sizeof(r)));

	/* Pretty input comes out compact. */
	assert_int_equal(card(pretty, &r), CX_CODE_NONE);
	assert_string_equal(r.card, CARD);
	cx_card_req_clear(&r);

	/* Escapes survive the reprint. */
	const char *esc = "{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
		"[\"fn\",{},\"text\",\"A \\\"B\\\" \\\\ C\\n\\u00e9\"]]]}";
	assert_int_equal(card(esc, &r), CX_CODE_NONE);
	cJSON *parsed = cJSON_Parse(r.card);
	assert_non_null(parsed);
	cJSON *fn = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetArrayItem(parsed, 1), 1), 3);
	assert_string_equal(fn->valuestring, "A \"B\" \\ C\n\xc3\xa9");
	cJSON_Delete(parsed);
	cx_card_req_clear(&r);

	/* Numbers that print longer than they were written still fit. */
	char big[2048];
	size_t n = (size_t)snprintf(big, sizeof(big),
			"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
			"[\"fn\",{},\"text\",\"A\"],[\"x-n\",{},\"float\"");
	for(int i = 0; i < 100; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, ",1e5");
	}
	snprintf(big + n, sizeof(big) - n, "]]]}");
	assert_int_equal(card(big, &r), CX_CODE_NONE);
	assert_true(r.card_len > 100 * 7);
	cx_card_req_clear(&r);
	cx_card_req_clear(NULL);
}

static void test_card_decode_invalid(void **state)
{
	(void)state;
	cx_card_req r;

	assert_int_equal(card("{\"card\":" CARD "}", &r), CX_CODE_BAD_REQUEST);
	assert_string_equal(r.xid, "");
	assert_int_equal(card("{\"exchange\":\"0123456789ABCDEF0123456789abcdef\",\"card\":" CARD "}", &r),
			CX_CODE_BAD_REQUEST);
	assert_int_equal(card("{\"exchange\":\"0123\",\"card\":" CARD "}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(card("{\"exchange\":7,\"card\":" CARD "}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(card("{\"Exchange\":\"" XID "\",\"card\":" CARD "}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(card("{\"exchange\":\"" XID "\"}", &r), CX_CODE_BAD_REQUEST);
	assert_string_equal(r.xid, XID);
	assert_int_equal(card("{\"exchange\":\"" XID "\",\"Card\":" CARD "}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(card("{\"exchange\":\"" XID "\",\"card\":" CARD ",\"card\":" CARD "}", &r),
			CX_CODE_BAD_REQUEST);
	assert_int_equal(card("{\"exchange\":\"" XID "\",\"card\":\"" "vcard" "\"}", &r), CX_CODE_BAD_CARD);
	assert_string_equal(r.xid, XID);
	assert_int_equal(card("{\"exchange\":\"" XID "\",\"card\":null}", &r), CX_CODE_BAD_CARD);
	assert_int_equal(card("{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[[\"fn\",{},\"text\",\"A\"]]]}",
			&r), CX_CODE_BAD_CARD);
	assert_int_equal(card("{\"exchange\":\"" XID "\",\"card\":" CARD, &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(card("[\"" XID "\"," CARD "]", &r), CX_CODE_BAD_REQUEST);
}

static void test_card_encode(void **state)
{
	(void)state;
	char buf[512];
	const char *pretty = "[ \"vcard\" , [ [\"version\",{},\"text\",\"4.0\"], [\"fn\",{},\"text\",\"A\"] ] ]";
	cx_card_req r;

	size_t n = cx_card_encode(XID, CARD, strlen(CARD), buf, sizeof(buf));
	assert_string_equal(buf, "{\"exchange\":\"" XID "\",\"card\":" CARD "}");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(card(buf, &r), CX_CODE_NONE);
	assert_string_equal(r.xid, XID);
	assert_string_equal(r.card, CARD);
	cx_card_req_clear(&r);

	/* Copied verbatim, not reparsed. */
	cx_card_encode(XID, pretty, strlen(pretty), buf, sizeof(buf));
	assert_non_null(strstr(buf, pretty));
	/* card_len bounds the copy. */
	cx_card_encode(XID, CARD "GARBAGE", strlen(CARD), buf, sizeof(buf));
	assert_null(strstr(buf, "GARBAGE"));
	assert_int_equal(cx_card_encode(XID, CARD, strlen(CARD), buf, 20), n);
	assert_int_equal(strlen(buf), 19);
}

/* ---- replies ---- */

static size_t enc(const cx_reply *r, char *buf, size_t cap)
{
	size_t n = cx_reply_encode(r, buf, cap);
	assert_true(n < cap);
	assert_int_equal(n, strlen(buf));
	/* The same length is counted with no buffer at all. */
	assert_int_equal(cx_reply_encode(r, NULL, 0), n);
	return n;
}

static void test_reply_offer_match_attempt(void **state)
{
	(void)state;
	char buf[512];
	cx_reply_msg m;

	cx_reply r = {.type = CX_REPLY_OFFER, .expires_in = 120};
	enc(&r, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"offer\",\"expires_in\":120}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_OFFER);
	assert_int_equal(m.expires_in, 120);
	assert_string_equal(m.ref, "");
	cx_reply_msg_clear(&m);
	r.ref = "r1";
	enc(&r, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"offer\",\"expires_in\":120,\"ref\":\"r1\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_string_equal(m.ref, "r1");
	cx_reply_msg_clear(&m);

	cx_reply mr = {.type = CX_REPLY_MATCH, .xid = XID, .peer = "B", .expires_in = 300, .ref = "q"};
	enc(&mr, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"match\",\"exchange\":\"" XID
			"\",\"peer\":\"B\",\"expires_in\":300,\"ref\":\"q\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_MATCH);
	assert_string_equal(m.xid, XID);
	assert_string_equal(m.peer, "B");
	assert_int_equal(m.expires_in, 300);
	assert_string_equal(m.ref, "q");
	cx_reply_msg_clear(&m);

	cx_reply ar = {.type = CX_REPLY_ATTEMPT, .attempts_left = 2};
	enc(&ar, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"attempt\",\"attempts_left\":2}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_ATTEMPT);
	assert_int_equal(m.attempts_left, 2);
	cx_reply_msg_clear(&m);
	ar.attempts_left = 0;
	ar.ref = "z";
	enc(&ar, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"attempt\",\"attempts_left\":0,\"ref\":\"z\"}");
}

static void test_reply_revoked_sent_expired(void **state)
{
	(void)state;
	char buf[512];
	cx_reply_msg m;

	cx_reply rv = {.type = CX_REPLY_REVOKED, .reason = "replaced", .ref = "old"};
	enc(&rv, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"revoked\",\"reason\":\"replaced\",\"ref\":\"old\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_REVOKED);
	assert_string_equal(m.reason, "replaced");
	assert_string_equal(m.ref, "old");
	cx_reply_msg_clear(&m);

	cx_reply st = {.type = CX_REPLY_SENT, .xid = XID, .peer = "B"};
	enc(&st, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"sent\",\"exchange\":\"" XID "\",\"to\":\"B\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_SENT);
	assert_string_equal(m.xid, XID);
	assert_string_equal(m.peer, "B");
	cx_reply_msg_clear(&m);

	cx_reply eo = {.type = CX_REPLY_EXPIRED, .offer = true, .ref = "r2", .xid = XID};
	enc(&eo, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"expired\",\"offer\":true,\"ref\":\"r2\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_EXPIRED);
	assert_true(m.offer);
	assert_string_equal(m.ref, "r2");
	assert_string_equal(m.xid, "");
	cx_reply_msg_clear(&m);

	cx_reply ex = {.type = CX_REPLY_EXPIRED, .offer = false, .xid = XID, .ref = "ignored"};
	enc(&ex, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"expired\",\"exchange\":\"" XID "\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_false(m.offer);
	assert_string_equal(m.xid, XID);
	cx_reply_msg_clear(&m);

	assert_int_equal(reply("{\"type\":\"expired\",\"offer\":false,\"exchange\":\"" XID "\"}", &m),
			CX_CODE_NONE);
	assert_false(m.offer);
	assert_int_equal(reply("{\"type\":\"expired\"}", &m), CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"expired\",\"offer\":\"true\"}", &m), CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"expired\",\"offer\":false}", &m), CX_CODE_BAD_REQUEST);
}

static void test_reply_card(void **state)
{
	(void)state;
	char buf[512];
	cx_reply_msg m;

	cx_reply cr = {.type = CX_REPLY_CARD, .xid = XID, .peer = "A", .card = CARD,
		.card_len = strlen(CARD)};
	enc(&cr, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\",\"card\":" CARD "}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_CARD);
	assert_string_equal(m.xid, XID);
	assert_string_equal(m.peer, "A");
	assert_non_null(m.card);
	assert_string_equal(m.card, CARD);
	assert_int_equal(m.card_len, strlen(CARD));
	cx_reply_msg_clear(&m);
	assert_null(m.card);
	assert_true(all_zero(&m, sizeof(m)));

	assert_int_equal(reply("{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\",\"card\":[\"vcard\",[]]}",
			&m), CX_CODE_BAD_CARD);
	assert_int_equal(reply("{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\"}", &m),
			CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A/B\",\"card\":" CARD "}",
			&m), CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"card\",\"from\":\"A\",\"card\":" CARD "}", &m), CX_CODE_BAD_REQUEST);
}

static void test_reply_error(void **state)
{
	(void)state;
	char buf[1024];
	char topic[400];
	cx_reply_msg m;

	cx_reply er = {.type = CX_REPLY_ERROR, .code = CX_CODE_NO_MATCH, .topic = "claim/A", .ref = "r"};
	enc(&er, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"error\",\"code\":\"no-match\",\"topic\":\"claim/A\",\"message\":\""
			"no live offer matches this terminal ID and key\",\"ref\":\"r\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_ERROR);
	assert_int_equal(m.code, CX_CODE_NO_MATCH);
	assert_string_equal(m.code_name, "no-match");
	assert_string_equal(m.topic, "claim/A");
	assert_string_equal(m.message, cx_code_message(CX_CODE_NO_MATCH));
	assert_string_equal(m.ref, "r");
	assert_int_equal(m.retry_after, 0);
	cx_reply_msg_clear(&m);

	/* retry_after only with rate-limited. */
	er.retry_after = 30;
	enc(&er, buf, sizeof(buf));
	assert_null(strstr(buf, "retry_after"));
	cx_reply rl = {.type = CX_REPLY_ERROR, .code = CX_CODE_RATE_LIMITED, .topic = "claim/A",
		.message = "slow down", .retry_after = 42};
	enc(&rl, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"error\",\"code\":\"rate-limited\",\"topic\":\"claim/A\","
			"\"message\":\"slow down\",\"retry_after\":42}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.code, CX_CODE_RATE_LIMITED);
	assert_int_equal(m.retry_after, 42);
	assert_string_equal(m.message, "slow down");
	rl.retry_after = 0;
	enc(&rl, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"retry_after\":1}"));

	/* Card errors carry the exchange. */
	cx_reply ce = {.type = CX_REPLY_ERROR, .code = CX_CODE_NOT_PEER, .topic = "card/C", .xid = XID};
	enc(&ce, buf, sizeof(buf));
	assert_non_null(strstr(buf, ",\"exchange\":\"" XID "\"}"));
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.code, CX_CODE_NOT_PEER);
	assert_string_equal(m.xid, XID);

	/* The topic is escaped and comes back intact. */
	cx_reply te = {.type = CX_REPLY_ERROR, .code = CX_CODE_BAD_TOPIC, .topic = "a\"b\\c\x01/\xc3\xa9"};
	enc(&te, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"topic\":\"a\\\"b\\\\c\\u0001/\xc3\xa9\""));
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_string_equal(m.topic, "a\"b\\c\x01/\xc3\xa9");

	/* Long topics are cut to CX_ERROR_TOPIC_MAX bytes, at a UTF-8 boundary. */
	memset(topic, 'a', 300);
	topic[300] = '\0';
	te.topic = topic;
	enc(&te, buf, sizeof(buf));
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(strlen(m.topic), CX_ERROR_TOPIC_MAX);
	memset(topic, 'a', CX_ERROR_TOPIC_MAX - 1);
	strcpy(topic + CX_ERROR_TOPIC_MAX - 1, "\xc3\xa9zzz");
	enc(&te, buf, sizeof(buf));
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(strlen(m.topic), CX_ERROR_TOPIC_MAX - 1);
	memset(topic, 'a', CX_ERROR_TOPIC_MAX - 2);
	strcpy(topic + CX_ERROR_TOPIC_MAX - 2, "\xc3\xa9zzz");
	enc(&te, buf, sizeof(buf));
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(strlen(m.topic), CX_ERROR_TOPIC_MAX);
	assert_string_equal(m.topic + CX_ERROR_TOPIC_MAX - 2, "\xc3\xa9");

	/* Every code round-trips. */
	for(int c = CX_CODE_NONE + 1; c < CX_CODE__COUNT; c++) {
		cx_reply e = {.type = CX_REPLY_ERROR, .code = (cx_code)c, .topic = "keys/A", .retry_after = 5};
		enc(&e, buf, sizeof(buf));
		assert_int_equal(reply(buf, &m), CX_CODE_NONE);
		assert_int_equal(m.code, c);
		assert_string_equal(m.message, cx_code_message((cx_code)c));
		assert_int_equal(m.retry_after, c == CX_CODE_RATE_LIMITED ? 5 : 0);
	}
	/* Out-of-table codes are sent as "internal". */
	cx_reply bad = {.type = CX_REPLY_ERROR, .code = CX_CODE__COUNT, .topic = "keys/A"};
	enc(&bad, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"code\":\"internal\""));

	/* Unknown code names: code NONE, name kept. */
	assert_int_equal(reply("{\"type\":\"error\",\"code\":\"brand-new\",\"topic\":\"t\",\"message\":\"m\"}", &m),
			CX_CODE_NONE);
	assert_int_equal(m.code, CX_CODE_NONE);
	assert_string_equal(m.code_name, "brand-new");
	assert_int_equal(reply("{\"type\":\"error\",\"code\":\"no-match\"}", &m), CX_CODE_NONE);
	assert_string_equal(m.topic, "");
	assert_int_equal(reply("{\"type\":\"error\"}", &m), CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"error\",\"code\":7}", &m), CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"error\",\"code\":\"x\",\"topic\":1}", &m), CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"error\",\"code\":\"x\",\"retry_after\":-1}", &m),
			CX_CODE_BAD_REQUEST);
	assert_int_equal(reply("{\"type\":\"error\",\"code\":\"x\",\"exchange\":\"nope\"}", &m),
			CX_CODE_BAD_REQUEST);
	cx_reply_msg_clear(&m);
}

static void test_reply_invalid(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "[]", "{}", "{\"type\":1}", "{\"type\":\"bogus\"}", "{\"Type\":\"offer\",\"expires_in\":1}",
		"{\"type\":\"Offer\",\"expires_in\":1}", "{\"type\":\"offer\"}", "{\"type\":\"offer\",\"expires_in\":1.5}",
		"{\"type\":\"offer\",\"expires_in\":-1}", "{\"type\":\"offer\",\"expires_in\":\"1\"}",
		"{\"type\":\"offer\",\"expires_in\":1e308}", "{\"type\":\"offer\",\"expires_in\":1,\"ref\":\"\"}",
		"{\"type\":\"match\",\"exchange\":\"" XID "\",\"expires_in\":1}",
		"{\"type\":\"match\",\"exchange\":\"x\",\"peer\":\"B\",\"expires_in\":1}",
		"{\"type\":\"match\",\"exchange\":\"" XID "\",\"peer\":\"\",\"expires_in\":1}",
		"{\"type\":\"match\",\"exchange\":\"" XID "\",\"peer\":\"B\"}",
		"{\"type\":\"attempt\"}", "{\"type\":\"attempt\",\"attempts_left\":true}",
		"{\"type\":\"revoked\"}", "{\"type\":\"revoked\",\"reason\":1}",
		"{\"type\":\"sent\",\"exchange\":\"" XID "\"}", "{\"type\":\"sent\",\"to\":\"B\"}",
		"{\"type\":\"offer\",\"expires_in\":1", "{\"type\":\"offer\",\"type\":\"offer\",\"expires_in\":1}",
	};
	cx_reply_msg m;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(reply(bad[i], &m) != CX_CODE_BAD_REQUEST) {
			fail_msg("accepted: %s", bad[i]);
		}
		assert_true(all_zero(&m, sizeof(m)));
	}
	/* Long free text is cut, not refused. */
	char buf[600];
	char reason[100];
	memset(reason, 'r', 99);
	reason[99] = '\0';
	snprintf(buf, sizeof(buf), "{\"type\":\"revoked\",\"reason\":\"%s\"}", reason);
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(strlen(m.reason), sizeof(m.reason) - 1);
	cx_reply_msg_clear(&m);
	cx_reply_msg_clear(NULL);
}

static void test_reply_encode_misc(void **state)
{
	(void)state;
	char buf[64];
	cx_reply r = {.type = CX_REPLY_MATCH, .xid = XID, .peer = "B", .expires_in = 300};

	assert_string_equal(cx_reply_type_name(CX_REPLY_OFFER), "offer");
	assert_string_equal(cx_reply_type_name(CX_REPLY_ERROR), "error");
	assert_null(cx_reply_type_name((cx_reply_type)0));
	assert_null(cx_reply_type_name((cx_reply_type)99));

	memset(buf, 'Q', sizeof(buf));
	cx_reply bad = {.type = (cx_reply_type)99};
	assert_int_equal(cx_reply_encode(&bad, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cx_reply_encode(NULL, buf, sizeof(buf)), 0);

	/* Truncation: full length back, a NUL-terminated prefix in the buffer. */
	char full[256];
	size_t n = cx_reply_encode(&r, full, sizeof(full));
	assert_true(n > sizeof(buf));
	memset(buf, 'Q', sizeof(buf));
	assert_int_equal(cx_reply_encode(&r, buf, sizeof(buf)), n);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, full, sizeof(buf) - 1);
	assert_int_equal(cx_reply_encode(&r, buf, 1), n);
	assert_string_equal(buf, "");
}

/*
 * Every proper prefix of a valid payload, and random single-byte mutations,
 * decoded from exact-size buffers: nothing may read past len (ASan build),
 * prefixes must fail, and whatever is accepted must be well-formed.
 */
static void test_prefixes_and_mutations(void **state)
{
	(void)state;
	const char *samples[] = {
		"{\"exchange\":\"" XID "\",\"card\":" CARD "}",
		"{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\",\"card\":" CARD "}",
		"{\"key\":\"483920\",\"ttl\":120,\"ref\":\"r1\"}",
		"{\"type\":\"error\",\"code\":\"no-match\",\"topic\":\"claim/A\",\"message\":\"m\",\"ref\":\"r\"}",
	};
	uint32_t seed = 12345;

	for(size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		size_t len = strlen(samples[i]);
		for(size_t n = 0; n <= len; n++) {
			char *p = malloc(n > 0 ? n : 1);
			assert_non_null(p);
			memcpy(p, samples[i], n);
			cx_card_req c;
			cx_offer_req o;
			cx_reply_msg m;
			cx_code rc1 = cx_card_decode(p, n, &c, NULL);
			cx_code rc2 = cx_offer_decode(p, n, &o, NULL);
			cx_code rc3 = cx_reply_decode(p, n, &m, NULL);
			if(n < len) {
				assert_int_not_equal(rc1, CX_CODE_NONE);
				assert_int_not_equal(rc2, CX_CODE_NONE);
				assert_int_not_equal(rc3, CX_CODE_NONE);
			}
			cx_card_req_clear(&c);
			cx_offer_req_clear(&o);
			cx_reply_msg_clear(&m);
			free(p);
		}
		for(int k = 0; k < 3000; k++) {
			char *p = malloc(len);
			assert_non_null(p);
			memcpy(p, samples[i], len);
			for(int flips = 0; flips < 1 + k % 3; flips++) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % len;
				seed = seed * 1103515245u + 12345u;
				p[at] = (char)(seed >> 16);
			}
			cx_card_req c;
			cx_reply_msg m;
			if(cx_card_decode(p, len, &c, NULL) == CX_CODE_NONE) {
				assert_true(cx_xid_valid(c.xid, strlen(c.xid)));
				assert_int_equal(strlen(c.card), c.card_len);
				cx_card_req_clear(&c);
			}
			if(cx_reply_decode(p, len, &m, NULL) == CX_CODE_NONE) {
				assert_true(m.type >= CX_REPLY_OFFER && m.type <= CX_REPLY_ERROR);
				cx_reply_msg_clear(&m);
			}
			free(p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_json_scan),
		cmocka_unit_test(test_json_getters),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_offer_decode_valid),
		cmocka_unit_test(test_offer_decode_invalid),
		cmocka_unit_test(test_offer_decode_keeps_ref),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_offer_encode),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_card_decode),
		cmocka_unit_test(test_card_decode_invalid),
		cmocka_unit_test(test_card_encode),
		cmocka_unit_test(test_reply_offer_match_attempt),
		cmocka_unit_test(test_reply_revoked_sent_expired),
		cmocka_unit_test(test_reply_card),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_reply_invalid),
		cmocka_unit_test(test_reply_encode_misc),
		cmocka_unit_test(test_prefixes_and_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
