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
#include "jcard.h"
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

/*
 * Decodes s from an exact-size heap copy, handed back in *payload: an
 * accepted card borrows its text from it, so the caller frees it after the
 * last look at out->card.
 */
static cx_code card_in(const char *s, cx_card_req *out, char **payload)
{
	size_t n;
	const char *why = NULL;
	char *p = dup_exact(s, &n);
	cx_code rc = cx_card_decode(p, n, out, &why);
	if(rc != CX_CODE_NONE) {
		assert_non_null(why);
		assert_null(out->card);
		assert_int_equal(out->card_len, 0);
	} else if(out->kind == CX_CARD_PLAIN) {
		/* Borrowed: a span of the payload, nothing of its own. */
		assert_false(out->card_owned);
		assert_true(out->card >= p && out->card_len > 0 && out->card + out->card_len <= p + n);
	} else {
		assert_null(out->card);
	}
	*payload = p;
	return rc;
}

/* card_in for tests that only look at the code and the exchange ID. */
static cx_code card(const char *s, cx_card_req *out)
{
	char *p;
	cx_code rc = card_in(s, out, &p);

	free(p);
	return rc;
}

/* The card text of r is exactly text. */
static void assert_card_text(const cx_card_req *r, const char *text)
{
	assert_non_null(r->card);
	assert_int_equal(r->card_len, strlen(text));
	assert_memory_equal(r->card, text, r->card_len);
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
		"capacity", "internal", "bad-order", "sealed-required", "unavailable"};

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

	/* What cJSON alone would accept but RFC 8259 does not. */
	static const char *const refused[] = {
		"{\"a\":01}", "{\"a\":-01}", "{\"a\":1.}", "{\"a\":-.5}", "{\"a\":1.e3}", "{\"a\":1e}",
		"{\"a\":1e+}", "{\"a\":-}", "{\"a\":1-2}", "{\"a\":[1,2.5.1]}",
		"{\"a\":\"\\u00zz\"}", "{\"a\":\"\\uZZZZ\"}", "{\"a\":\"\\u123\"}", "{\"a\":\"\\u12\"}",
		"{\x0b\"a\":1}", "{\"a\":1}\x0c", "{\x01}", "\xef\xbb\xbf{\"a\":1}", "{\"a\":1}\x80",
	};
	static const char *const accepted[] = {
		"{\"a\":0}", "{\"a\":-0}", "{\"a\":10}", "{\"a\":-0.5}", "{\"a\":1.25e-3}", "{\"a\":1E+30}",
		"{\"a\":[0,1,-2,3.0,4e4]}", "{\"a\":\"\\u00e9\\uD83D\\uDE00\\u001f\"}", "{\"a\":\"01 1. -.5\"}",
		" \t\r\n{\"a\":true} \n", "{\"\xc3\xa9\":\"\x7f\"}",
	};
	for(size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		why = NULL;
		if(cx_json_scan(refused[i], strlen(refused[i]), CX_JSON_MAX_DEPTH, &why)) {
			fail_msg("scan accepted: %s", refused[i]);
		}
		assert_non_null(why);
		assert_null(cx_json_parse_object(refused[i], strlen(refused[i]), &why));
	}
	/* Not JSON at all: the scan lets them by, cJSON refuses them. */
	static const char *const not_json[] = {
		"{\"a\":0x10}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":tru}", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\" 1}",
		"{\"a\":1\x7f}",
	};
	for(size_t i = 0; i < sizeof(not_json) / sizeof(not_json[0]); i++) {
		assert_null(cx_json_parse_object(not_json[i], strlen(not_json[i]), &why));
	}
	for(size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		if(!cx_json_scan(accepted[i], strlen(accepted[i]), CX_JSON_MAX_DEPTH, &why)) {
			fail_msg("scan refused: %s (%s)", accepted[i], why);
		}
		cJSON *root = cx_json_parse_object(accepted[i], strlen(accepted[i]), &why);
		assert_non_null(root);
		cx_json_delete(root);
	}
}

static void test_utf8_valid(void **state)
{
	(void)state;
	static const char *const good[] = {
		"", "abc", "\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
		"\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	};
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xc2\x7f", "\xc2\xc0", "\xe0\x9f\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xe1\x80", "\xe1\x80\x7f", "\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xff", "\xfe",
		"\xf0\x90\x80", "a\xc3", "\xc3\xa9\xa9",
	};

	for(size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_true(cx_utf8_valid(good[i], strlen(good[i])));
	}
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if(cx_utf8_valid(bad[i], strlen(bad[i]))) {
			fail_msg("accepted bad UTF-8 #%zu", i);
		}
	}
	assert_int_equal(cx_utf8_next("\xe2\x82\xac", 3), 3);
	assert_int_equal(cx_utf8_next("\xe2\x82\xac", 2), 0);
	assert_int_equal(cx_utf8_next("a", 1), 1);
	assert_int_equal(cx_utf8_next("a", 0), 0);

	/* Strings must be UTF-8: the decoders refuse anything else. */
	const char *why = NULL;
	assert_null(cx_json_parse_object("{\"a\":\"\xff\"}", 8, &why));
	assert_non_null(why);
	assert_null(cx_json_parse_object("{\"\xed\xa0\x80\":1}", 9, &why));
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
		"{\"key\":\"123456\",\"ttl\":0120}", "{\"key\":\"123456\",\"ttl\":120.}",
		"\xef\xbb\xbf{\"key\":\"123456\"}", "{\"key\":\"123456\",\"x\":\"\xff\"}",
		"{\x0b\"key\":\"123456\"}", "{\"key\":\"123456\",\"x\":\"\\u00zz\"}",
		"{\"key\":\"123456\",\"x\":\"\\ud800\"}",
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

/*
 * Offers and claims are read in one pass without a tree: names and values
 * are compared after unescaping, a member twice is refused whatever its
 * value, and a value that does not fit its field leaves nothing behind.
 */
static void test_flat_requests(void **state)
{
	(void)state;
	cx_offer_req r;
	cx_claim_req c;

	assert_int_equal(offer("{\"k\\u0065y\":\"\\u0034\\u00383920\",\"t\\/tl\":1,\"\\u0072ef\":\"a\\/b\"}", &r),
			CX_CODE_BAD_REQUEST);
	assert_string_equal(r.ref, "");
	assert_int_equal(offer("{\"k\\u0065y\":\"\\u0034\\u00383920\",\"\\u0072ef\":\"a\\u002eb\"}", &r),
			CX_CODE_NONE);
	assert_string_equal(r.key, "483920");
	assert_string_equal(r.ref, "a.b");
	assert_int_equal(offer("{\"key\":\"483920\",\"ttl\":60,\"ttl\":60}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(offer("{\"key\":\"483920\",\"ref\":\"a\",\"ref\":\"a\"}", &r), CX_CODE_BAD_REQUEST);
	assert_string_equal(r.ref, "");
	assert_int_equal(offer("{\"key\":\"483920\",\"ttl\":-0}", &r), CX_CODE_BAD_REQUEST);
	assert_int_equal(offer("{\"key\":\"483920\",\"ttl\":6e1}", &r), CX_CODE_NONE);
	assert_int_equal(r.ttl, 60);
	assert_int_equal(offer("{\"key\":\"483920\",\"ttl\":{\"a\":[1,2]},\"x\":{}}", &r),
			CX_CODE_BAD_REQUEST);
	/* An escaped value longer than its field once decoded. */
	assert_int_equal(offer("{\"key\":\"483920\",\"ref\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}", &r),
			CX_CODE_BAD_REQUEST);
	assert_string_equal(r.ref, "");
	assert_true(all_zero(r.key, sizeof(r.key)));
	assert_int_equal(offer("{\"key\":\"\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036\\u0037\\u0038\\u0039"
			"\\u0030\\u0031\\u0032\\u0033\\u0034\\u0035\\u0036\\u0037\"}", &r), CX_CODE_BAD_REQUEST);
	assert_true(all_zero(r.key, sizeof(r.key)));
	cx_offer_req_clear(&r);

	assert_int_equal(claim("{\"key\":\"483920\",\"fr\\u006fm\":\"B\\u003aphone\"}", &c), CX_CODE_BAD_REQUEST);
	assert_string_equal(c.from, "");
	assert_int_equal(claim("{\"key\":\"483920\",\"fr\\u006fm\":\"B\\u002dphone\"}", &c), CX_CODE_NONE);
	assert_string_equal(c.from, "B-phone");
	assert_int_equal(claim("{\"key\":\"483920\",\"from\":\"B\",\"from\":\"B\"}", &c), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"commit\":null}", &c), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"483920\",\"commit\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", &c),
			CX_CODE_NONE);
	assert_string_equal(c.commit, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(claim("{\"key\":\"483920\",\"commit\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", &c),
			CX_CODE_BAD_REQUEST);
	assert_string_equal(c.commit, "");
	cx_claim_req_clear(&c);
}

/* Every byte value, at every place of an 8-byte word, escaped as byte-by-byte writing would. */
static void test_json_writer_every_byte(void **state)
{
	(void)state;
	char in[24];
	char out[64];
	char want[64];
	cx_jw w;

	for(int b = 1; b < 256; b++) {
		for(size_t at = 0; at < 17; at++) {
			memset(in, 'a', sizeof(in));
			in[at] = (char)b;
			size_t k = 0;
			want[k++] = '"';
			for(size_t i = 0; i < sizeof(in); i++) {
				unsigned char c = (unsigned char)in[i];
				const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b"
					: c == '\f' ? "\\f" : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
				if(esc != NULL) {
					k += (size_t)sprintf(want + k, "%s", esc);
				} else if(c < 0x20 || c == 0x7f) {
					k += (size_t)sprintf(want + k, "\\u%04x", c);
				} else {
					want[k++] = (char)c;
				}
			}
			want[k++] = '"';
			want[k] = '\0';
			cx_jw_init(&w, out, sizeof(out));
			cx_jw_strn(&w, in, sizeof(in));
			if(strcmp(out, want) != 0 || cx_jw_finish(&w) != k) {
				fail_msg("byte 0x%02x at %zu: %s", b, at, out);
			}
		}
	}
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
	char *p;
	const char *pretty_card = "[\"vcard\", [\n"
		"    [\"version\", {}, \"text\", \"4.0\"],\n    [\"fn\", {}, \"text\", \"Ada Lovelace\"]\n  ]]";
	char pretty[512];

	assert_int_equal(card_in("{\"exchange\":\"" XID "\",\"card\":" CARD "}", &r, &p), CX_CODE_NONE);
	assert_string_equal(r.xid, XID);
	assert_card_text(&r, CARD);
	/* The text is the payload's own bytes, not a copy. */
	assert_ptr_equal(r.card, p + strlen("{\"exchange\":\"" XID "\",\"card\":"));
	cx_card_req_clear(&r);
	assert_null(r.card);
	assert_true(all_zero(&r, sizeof(r)));
	free(p);

	/* Pretty input is passed on as written, whitespace and all, and means the same card. */
	snprintf(pretty, sizeof(pretty), "{\n  \"exchange\": \"" XID "\",\n  \"card\": %s\n}", pretty_card);
	assert_int_equal(card_in(pretty, &r, &p), CX_CODE_NONE);
	assert_card_text(&r, pretty_card);
	cJSON *a = cJSON_ParseWithLength(r.card, r.card_len);
	cJSON *b = cJSON_Parse(CARD);
	assert_true(cJSON_Compare(a, b, true));
	cJSON_Delete(a);
	cJSON_Delete(b);
	cx_card_req_clear(&r);
	free(p);

	/* Escapes stay as written and mean what they say. */
	const char *esc = "{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
		"[\"fn\",{},\"text\",\"A \\\"B\\\" \\\\ C\\n\\u00e9\\ud83d\\ude00\"]]]}";
	assert_int_equal(card_in(esc, &r, &p), CX_CODE_NONE);
	cJSON *parsed = cJSON_ParseWithLength(r.card, r.card_len);
	assert_non_null(parsed);
	cJSON *fn = cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetArrayItem(parsed, 1), 1), 3);
	assert_string_equal(fn->valuestring, "A \"B\" \\ C\n\xc3\xa9\xf0\x9f\x98\x80");
	cJSON_Delete(parsed);
	cx_card_req_clear(&r);
	free(p);

	/* Numbers are passed on as written. */
	char big[2048];
	size_t n = (size_t)snprintf(big, sizeof(big),
			"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
			"[\"fn\",{},\"text\",\"A\"],[\"x-n\",{},\"float\"");
	for(int i = 0; i < 100; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, ",1e5");
	}
	snprintf(big + n, sizeof(big) - n, "]]]}");
	assert_int_equal(card_in(big, &r, &p), CX_CODE_NONE);
	assert_int_equal(r.card_len, strlen(big) - strlen("{\"exchange\":\"" XID "\",\"card\":}"));
	assert_memory_equal(r.card + r.card_len - 10, "1e5,1e5]]]", 10);
	cx_card_req_clear(&r);
	free(p);

	/* Members in any order, unknown ones skipped; names may be escaped. */
	assert_int_equal(card_in("{\"x\":{\"card\":1},\"c\\u0061rd\":" CARD ",\"ref\":[1,2],"
			"\"\\u0065xchange\":\"" XID "\"}", &r, &p), CX_CODE_NONE);
	assert_string_equal(r.xid, XID);
	assert_card_text(&r, CARD);
	cx_card_req_clear(&r);
	free(p);
	/* The exchange ID is read unescaped. */
	assert_int_equal(card("{\"exchange\":\"\\u0030123456789abcdef0123456789abcde\\u0066\",\"card\":" CARD "}",
			&r), CX_CODE_NONE);
	assert_string_equal(r.xid, XID);

	/* A request that owns its text gets it wiped and freed by clear (ASan checks the free). */
	char *own = malloc(strlen(CARD));
	assert_non_null(own);
	memcpy(own, CARD, strlen(CARD));
	r.card = own;
	r.card_len = strlen(CARD);
	r.card_owned = true;
	cx_card_req_clear(&r);
	assert_true(all_zero(&r, sizeof(r)));
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

	char *p;

	size_t n = cx_card_encode(XID, CARD, strlen(CARD), buf, sizeof(buf));
	assert_string_equal(buf, "{\"exchange\":\"" XID "\",\"card\":" CARD "}");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(card_in(buf, &r, &p), CX_CODE_NONE);
	assert_string_equal(r.xid, XID);
	assert_card_text(&r, CARD);
	cx_card_req_clear(&r);
	free(p);

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

#define COMMIT "fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q"
#define PK "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"
#define NONCE "AAECAwQFBgcICQoL"
#define CT "tYym2wfw9z1TEbpdRh4MNlDeXJk16xmXfVh2q-4bFLQ"

/* The messages of sealed exchanges: commit in claims, pk and n/ct on card/. */
static void test_sealed_requests(void **state)
{
	(void)state;
	cx_claim_req c;
	cx_card_req r;
	char buf[512];
	char *p;

	assert_int_equal(claim("{\"key\":\"123456\",\"commit\":\"" COMMIT "\"}", &c), CX_CODE_NONE);
	assert_string_equal(c.commit, COMMIT);
	assert_int_equal(cx_claim_encode(&c, buf, sizeof(buf)), strlen("{\"key\":\"123456\",\"commit\":\"" COMMIT "\"}"));
	assert_string_equal(buf, "{\"key\":\"123456\",\"commit\":\"" COMMIT "\"}");
	assert_int_equal(claim("{\"key\":\"123456\"}", &c), CX_CODE_NONE);
	assert_string_equal(c.commit, "");
	/* Wrong length, not canonical, not a string, standard alphabet. */
	assert_int_equal(claim("{\"key\":\"123456\",\"commit\":\"QQ\"}", &c), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"123456\",\"commit\":\"fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_R\"}", &c),
			CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"123456\",\"commit\":32}", &c), CX_CODE_BAD_REQUEST);
	assert_int_equal(claim("{\"key\":\"123456\",\"commit\":\"fcaQqoDMsHFdA2PFbC2yCdfLyL+GsE/fz8yEO61H1_Q\"}", &c),
			CX_CODE_BAD_REQUEST);
	assert_string_equal(c.commit, "");

	assert_int_equal(card("{\"exchange\":\"" XID "\",\"pk\":\"" PK "\"}", &r), CX_CODE_NONE);
	assert_int_equal(r.kind, CX_CARD_PK);
	assert_string_equal(r.pk, PK);
#define SEALED_REQ "{\"exchange\":\"" XID "\",\"n\":\"" NONCE "\",\"ct\":\"" CT "\"}"
	assert_int_equal(card_in(SEALED_REQ, &r, &p), CX_CODE_NONE);
	assert_int_equal(r.kind, CX_CARD_SEALED);
	assert_string_equal(r.n, NONCE);
	assert_int_equal(r.ct_len, strlen(CT));
	assert_memory_equal(r.ct, CT, r.ct_len);
	/* Borrowed from the payload (an exact-size copy, not NUL-terminated). */
	assert_true(r.ct > p && r.ct + r.ct_len <= p + strlen(SEALED_REQ));
	free(p);
	/* Encoders give what the decoder reads. */
	size_t len = cx_pk_encode(XID, PK, buf, sizeof(buf));
	assert_int_equal(len, strlen(buf));
	assert_string_equal(buf, "{\"exchange\":\"" XID "\",\"pk\":\"" PK "\"}");
	len = cx_sealed_encode(XID, NONCE, CT, strlen(CT), buf, sizeof(buf));
	assert_int_equal(len, strlen(buf));
	assert_string_equal(buf, "{\"exchange\":\"" XID "\",\"n\":\"" NONCE "\",\"ct\":\"" CT "\"}");

	/* Mixed, incomplete, twice, escaped, short, not base64url: bad-request, exchange kept. */
	const char *bad[] = {
		"{\"exchange\":\"" XID "\",\"pk\":\"" PK "\",\"card\":" CARD "}",
		"{\"exchange\":\"" XID "\",\"pk\":\"" PK "\",\"n\":\"" NONCE "\",\"ct\":\"" CT "\"}",
		"{\"exchange\":\"" XID "\",\"n\":\"" NONCE "\"}",
		"{\"exchange\":\"" XID "\",\"ct\":\"" CT "\"}",
		"{\"exchange\":\"" XID "\",\"pk\":\"" PK "\",\"pk\":\"" PK "\"}",
		"{\"exchange\":\"" XID "\",\"pk\":\"\\u0068SDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo\"}",
		"{\"exchange\":\"" XID "\",\"pk\":\"hSDw\"}",
		"{\"exchange\":\"" XID "\",\"pk\":null}",
		"{\"exchange\":\"" XID "\",\"n\":\"" NONCE "\",\"ct\":\"QUJD\"}",
		"{\"exchange\":\"" XID "\",\"n\":\"AAECAwQFBgcICQo\",\"ct\":\"" CT "\"}",
		"{\"exchange\":\"" XID "\",\"n\":\"" NONCE "\",\"ct\":\"" CT "=\"}",
		"{\"exchange\":\"" XID "\",\"n\":\"" NONCE "\",\"ct\":\"" CT "\",\"ct\":\"" CT "\"}",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(card(bad[i], &r), CX_CODE_BAD_REQUEST);
		assert_string_equal(r.xid, XID);
		assert_int_equal(r.kind, CX_CARD_PLAIN);
		assert_null(r.ct);
	}
}

static void test_sealed_replies(void **state)
{
	(void)state;
	char buf[512];
	cx_reply_msg m;

	cx_reply mr = {.type = CX_REPLY_MATCH, .xid = XID, .peer = "B", .expires_in = 300, .ref = "r1",
		.commit = COMMIT};
	enc(&mr, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"match\",\"exchange\":\"" XID "\",\"peer\":\"B\","
			"\"expires_in\":300,\"ref\":\"r1\",\"peer_commit\":\"" COMMIT "\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_string_equal(m.commit, COMMIT);
	cx_reply_msg_clear(&m);

	cx_reply pr = {.type = CX_REPLY_PK, .xid = XID, .peer = "A", .pk = PK};
	enc(&pr, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"pk\",\"exchange\":\"" XID "\",\"from\":\"A\",\"pk\":\"" PK "\"}");
	assert_string_equal(cx_reply_type_name(CX_REPLY_PK), "pk");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_int_equal(m.type, CX_REPLY_PK);
	assert_string_equal(m.pk, PK);
	assert_string_equal(m.peer, "A");
	cx_reply_msg_clear(&m);

	cx_reply sr = {.type = CX_REPLY_CARD, .xid = XID, .peer = "A", .n = NONCE, .ct = CT,
		.ct_len = strlen(CT)};
	enc(&sr, buf, sizeof(buf));
	assert_string_equal(buf, "{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\",\"n\":\"" NONCE
			"\",\"ct\":\"" CT "\"}");
	assert_int_equal(reply(buf, &m), CX_CODE_NONE);
	assert_null(m.card);
	assert_string_equal(m.n, NONCE);
	assert_string_equal(m.ct, CT);
	assert_int_equal(m.ct_len, strlen(CT));
	cx_reply_msg_clear(&m);
	assert_true(all_zero(&m, sizeof(m)));

	const char *bad[] = {
		"{\"type\":\"pk\",\"exchange\":\"" XID "\",\"from\":\"A\"}",
		"{\"type\":\"pk\",\"exchange\":\"" XID "\",\"from\":\"A\",\"pk\":\"QQ\"}",
		"{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\",\"ct\":\"" CT "\"}",
		"{\"type\":\"card\",\"exchange\":\"" XID "\",\"from\":\"A\",\"n\":\"" NONCE "\",\"ct\":\"QQ\"}",
		"{\"type\":\"match\",\"exchange\":\"" XID "\",\"peer\":\"B\",\"expires_in\":3,\"peer_commit\":\"x\"}",
	};
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(reply(bad[i], &m), CX_CODE_BAD_REQUEST);
		assert_null(m.ct);
	}
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
		assert_int_equal(m.retry_after, c == CX_CODE_RATE_LIMITED || c == CX_CODE_UNAVAILABLE ? 5 : 0);
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
				assert_true(c.card >= p && c.card + c.card_len <= p + len);
				assert_null(memchr(c.card, '\0', c.card_len));
				cx_card_req_clear(&c);
			}
			if(cx_reply_decode(p, len, &m, NULL) == CX_CODE_NONE) {
				assert_true(m.type >= CX_REPLY_OFFER && m.type <= CX_REPLY__LAST);
				cx_reply_msg_clear(&m);
			}
			free(p);
		}
	}
}

/* ---- the single-pass card decoder against the tree-based reference ---- */

/*
 * The reference: cx_card_decode as it was before the single-pass scanner, a
 * strict cJSON parse (cx_json_parse_object), the field readers and
 * cx_jcard_check. On success *card is a copy of the card's tree (the caller
 * deletes it); xid gets a valid "exchange" of a payload that parsed.
 */
static cx_code ref_card_decode(const char *p, size_t n, char xid[CX_XID_HEX + 1], cJSON **card,
		const char **why)
{
	cx_code rc = CX_CODE_BAD_REQUEST;
	const cJSON *item;
	const char *s;
	size_t len;
	cJSON *root;

	xid[0] = '\0';
	*card = NULL;
	*why = NULL;
	root = cx_json_parse_object(p, n, why);
	if(root == NULL) {
		return rc;
	}
	if(cx_json_get_string(root, "exchange", &s, &len) != CX_JSON_OK || !cx_xid_valid(s, len)) {
		goto cleanup;
	}
	memcpy(xid, s, len + 1);
	if(cx_json_member(root, "card", &item) != CX_JSON_OK) {
		goto cleanup;
	}
	if(cx_jcard_check(item, why) != 0) {
		rc = CX_CODE_BAD_CARD;
		goto cleanup;
	}
	*card = cJSON_Duplicate(item, true);
	assert_non_null(*card);
	rc = CX_CODE_NONE;
cleanup:
	cx_json_delete(root);
	return rc;
}

/* How often each verdict came up. */
typedef struct {
	unsigned none;
	unsigned bad_request;
	unsigned bad_card;
} diff_tally;

/* Prints p[0..n) to stderr with C escapes, for a failure message. */
static void dump(const char *p, size_t n)
{
	fprintf(stderr, "payload (%zu bytes): \"", n);
	for(size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if(c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			fputc(c, stderr);
		} else {
			fprintf(stderr, "\\x%02x", c);
		}
	}
	fprintf(stderr, "\"\n");
}

/*
 * Same trees: cJSON_Compare, or the same compact text when it cannot tell
 * (it pairs members by name, so an object with a repeated name never
 * equals even itself).
 */
static bool same_tree(const cJSON *a, const cJSON *b)
{
	if(cJSON_Compare(a, b, true)) {
		return true;
	}
	char *pa = cJSON_PrintUnformatted(a);
	char *pb = cJSON_PrintUnformatted(b);
	bool same = pa != NULL && pb != NULL && strcmp(pa, pb) == 0;
	free(pa);
	free(pb);
	return same;
}

/*
 * Decodes p[0..n) (an exact-size heap buffer, so that ASan sees any read past
 * it) both ways: the verdicts, the exchange IDs kept and the jCard reasons
 * must agree, and an accepted card's span must hold exactly the reference's
 * card.
 */
static void diff_one(const char *p, size_t n, diff_tally *t)
{
	char xid[CX_XID_HEX + 1];
	cJSON *want_card;
	const char *want_why;
	const char *why = NULL;
	const char *end = NULL;
	cx_card_req r;
	cx_code want = ref_card_decode(p, n, xid, &want_card, &want_why);
	cx_code got = cx_card_decode(p, n, &r, &why);

	if(got != want || strcmp(r.xid, xid) != 0
			|| (got == CX_CODE_BAD_CARD && strcmp(why, want_why) != 0)) {
		dump(p, n);
		fail_msg("code %d (%s), reference %d (%s); exchange \"%s\", reference \"%s\"", (int)got,
				why != NULL ? why : "", (int)want, want_why != NULL ? want_why : "", r.xid, xid);
	}
	if(got != CX_CODE_NONE) {
		assert_non_null(why);
		assert_null(r.card);
		assert_int_equal(r.card_len, 0);
		if(got == CX_CODE_BAD_CARD) {
			t->bad_card++;
		} else {
			t->bad_request++;
		}
		cx_card_req_clear(&r);
		return;
	}
	t->none++;
	assert_false(r.card_owned);
	assert_true(r.card >= p && r.card_len > 0 && r.card + r.card_len <= p + n);
	cJSON *tree = cJSON_ParseWithLengthOpts(r.card, r.card_len, &end, 0);
	if(tree == NULL || end != r.card + r.card_len || !same_tree(tree, want_card)) {
		dump(p, n);
		fail_msg("the card span [%zu, %zu) is not the reference's card", (size_t)(r.card - p),
				(size_t)(r.card - p) + r.card_len);
	}
	cJSON_Delete(tree);
	cJSON_Delete(want_card);
	cx_card_req_clear(&r);
}

static void diff_text(const char *text, size_t n, diff_tally *t)
{
	char *p = malloc(n > 0 ? n : 1);

	assert_non_null(p);
	memcpy(p, text, n);
	diff_one(p, n, t);
	free(p);
}

#define REQ(card) "{\"exchange\":\"" XID "\",\"card\":" card "}"
#define VER "[\"version\",{},\"text\",\"4.0\"]"
#define FN "[\"fn\",{},\"text\",\"Ada Lovelace\"]"

/* Valid card requests that the mutations start from. */
static const char *const diff_seeds[] = {
	REQ(CARD),
	"{\n  \"exchange\": \"" XID "\",\n  \"card\": [\"vcard\", [\n    [\"version\", {}, \"text\", \"4.0\"],\n"
		"    [\"fn\", {}, \"text\", \"Ada Lovelace\"]\n  ]]\n}\n",
	"{\"ref\":\"r-1\",\"exchange\":\"" XID "\",\"x\":{\"card\":[1,{\"exchange\":null}],\"deep\":[[[[[[[[[[true]]]]]]]]]]},"
		"\"card\":[\"vcard\",[" VER "," FN ","
		"[\"n\",{},\"text\",[\"Lovelace\",\"Ada\",\"\",\"\",\"\"]],"
		"[\"org\",{},\"text\",\"Analytical Engine Works\"],"
		"[\"tel\",{\"type\":[\"work\",\"voice\"],\"pref\":\"1\"},\"uri\",\"tel:+44-20-7946-0958\"],"
		"[\"email\",{\"type\":\"work\"},\"text\",\"ada@analytical.example\"],"
		"[\"adr\",{\"label\":\"12 St James\\u0027s Square\\nLondon\"},\"text\",[\"\",\"\",[\"12 St James's Square\",\"Suite 1\"],\"London\",\"\",\"SW1Y 4JH\",\"United Kingdom\"]],"
		"[\"x-num\",{},\"float\",1.5,-0,0.25e-3,1E+300,12345678901234567890,true,false,null],"
		"[\"x-deep\",{},\"text\",[[[[[[[[\"eight\"]]]]]]]]],"
		"[\"note\",{},\"text\",\"caf\xc3\xa9 \\u00e9 \xf0\x9f\x98\x80 \\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \x7f\"],"
		"[\"categories\",{},\"text\",\"a\",\"b\",\"c\"]]],\"tail\":[1,2,{\"a\":\"b\"}]}",
	"{\"c\\u0061rd\":[\"vc\\u0061rd\",[[\"VERSION\",{},\"text\",\"4.\\u0030\"],[\"F\\u004e\",{\"x\":\"\"},\"text\",\"\\u0041\"],"
		"[\"versio\\u006e\",{},\"text\",\"4.0\"]]],\"\\u0065xchange\":\"" XID "\"}",
	"\t{ \"exchange\" : \"" XID "\" , \"card\" : [ \"vcard\" , [ [ \"fn\" , { \"a\" : [ \"b\" , \"c\" ] } , \"text\" , \"F\" ] ,"
		" [ \"version\" , { } , \"text\" , \"4.0\" ] , [ \"tz\" , { } , \"utc-offset\" , \"-05:00\" ] ] ] }\r\n",
};

/* Fragments the mutations insert: tokens that keep the JSON valid, or nearly. */
static const char *const diff_tokens[] = {
	"\"version\"", "\"VERSION\"", "\"fn\"", "\"FN\"", "\"vcard\"", "\"4.0\"", "\"\"", "\"x\"", "{}", "[]", "{\"a\":\"b\"}",
	"{\"a\":[\"b\",1]}", "{\"\":\"b\"}", "[[[[[[[[[1]]]]]]]]]", "[[[[[[[[1]]]]]]]]", "null", "true", "false", "0",
	"-1", "1e999", "-1e400", "1e-999", "2.5", "1.7976931348623158e308", "1.7976931348623159e308", "01", "1.", "-.5",
	"1e", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\u0000\"", "\"\\u00zz\"", "\"\\/\"",
	"\"\\x\"", "\"exchange\"", "\"card\"", "\"c\\u0061rd\"", "\"" XID "\"", "\"0123456789ABCDEF0123456789abcdef\"",
	",", ":", "[", "]", "{", "}", "\"", "\\", " ", "\n", "\xef\xbb\xbf", "\xc3\xa9", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	"\xc0\xaf", "\x7f", "\x0b", "\x01", "[\"x\",{},\"text\",\"v\"]", "[\"fn\",{},\"text\",\"\"]",
	"[\"version\",{},\"text\",\"3.0\"]", "[\"x\",{},\"text\"]", "[\"x\",[],\"text\",\"v\"]", "[\"x\",{},\"\",\"v\"]",
	"[\"\",{},\"text\",\"v\"]", "[\"x\",{},\"text\",{}]",
	"123456789012345678901234567890123456789012345678901234567890123",
	"1234567890123456789012345678901234567890123456789012345678901234",
};

/* Bytes that matter to a JSON scanner, for single-byte mutations. */
static const unsigned char diff_bytes[] = {
	'"', '\\', '[', ']', '{', '}', ',', ':', '0', '1', '-', '+', '.', 'e', 'E', 'u', 'n', 't', 'f', ' ', '\t',
	'\n', 0x00, 0x01, 0x1f, 0x7f, 0x80, 0xbf, 0xc3, 0xed, 0xf0, 0xf4, 0xff, 'a', 'V', 'F', 'N',
};

static uint32_t diff_rand(uint64_t *state)
{
	/* xorshift64*: fixed seed, so that a failure reproduces. */
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return (uint32_t)((*state * UINT64_C(2685821657736338717)) >> 32);
}

/* Inserts src[0..k) at buf[at] (buf holds *n bytes, room for cap). */
static void diff_insert(char *buf, size_t *n, size_t cap, size_t at, const char *src, size_t k)
{
	if(*n + k > cap) {
		return;
	}
	memmove(buf + at + k, buf + at, *n - at);
	memcpy(buf + at, src, k);
	*n += k;
}

/* Values that keep JSON valid where a value stood, but may break the jCard. */
static const char *const diff_values[] = {
	"\"version\"", "\"VERSION\"", "\"fn\"", "\"vcard\"", "\"4.0\"", "\"\"", "\"x\"", "\"text\"", "{}", "[]",
	"{\"a\":\"b\"}", "{\"a\":[\"b\"]}", "{\"a\":[1]}", "{\"\":\"b\"}", "[\"x\"]", "[[[[[[[[1]]]]]]]]",
	"[[[[[[[[[1]]]]]]]]]", "null", "true", "0", "-1.5e3", "1e999", "\"\\u00e9\"", "\"\\u0076ersion\"",
	"[\"x\",{},\"text\",\"v\"]", "[\"fn\",{},\"text\",\"F\"]", "[\"version\",{},\"text\",\"4.0\"]",
};

/* Start and length of the JSON token around or after buf[at], roughly (buf may be broken). */
static bool diff_token(const char *buf, size_t n, size_t at, size_t *start, size_t *len)
{
	size_t i = at;

	while(i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r')) {
		i++;
	}
	if(i >= n) {
		return false;
	}
	size_t j = i + 1;
	if(buf[i] == '"') {
		while(j < n && buf[j] != '"') {
			j += buf[j] == '\\' ? 2 : 1;
		}
		j = j < n ? j + 1 : n;
	} else if(strchr("-0123456789", buf[i]) != NULL) {
		while(j < n && strchr("+-.eE0123456789", buf[j]) != NULL) {
			j++;
		}
	} else if(buf[i] >= 'a' && buf[i] <= 'z') {
		while(j < n && buf[j] >= 'a' && buf[j] <= 'z') {
			j++;
		}
	}
	*start = i;
	*len = j - i;
	return true;
}

/* Replaces buf[at..at+k) with src (room for cap). */
static void diff_replace(char *buf, size_t *n, size_t cap, size_t at, size_t k, const char *src)
{
	size_t m = strlen(src);

	if(*n - k + m > cap) {
		return;
	}
	memmove(buf + at + m, buf + at + k, *n - at - k);
	memcpy(buf + at, src, m);
	*n = *n - k + m;
}

/*
 * One random edit of buf[0..*n): byte flips, insertions, deletions, splices,
 * and edits that keep the JSON valid but not always the jCard (a token
 * replaced by another value, a letter changed, an element dropped).
 */
static void diff_mutate(char *buf, size_t *n, size_t cap, uint64_t *rng)
{
	size_t at = *n > 0 ? diff_rand(rng) % *n : 0;
	uint32_t op = diff_rand(rng) % 16;
	size_t start;
	size_t len;

	if(op >= 8 && op < 12) { /* a whole token for a value */
		if(diff_token(buf, *n, at, &start, &len)) {
			diff_replace(buf, n, cap, start, len,
					diff_values[diff_rand(rng) % (sizeof(diff_values) / sizeof(diff_values[0]))]);
		}
		return;
	}
	if(op >= 12 && op < 14) { /* a letter for another, or its other case */
		while(at < *n && !((buf[at] >= 'a' && buf[at] <= 'z') || (buf[at] >= 'A' && buf[at] <= 'Z'))) {
			at++;
		}
		if(at < *n) {
			buf[at] = diff_rand(rng) % 2 ? (char)(buf[at] ^ 0x20) : (char)('a' + diff_rand(rng) % 26);
		}
		return;
	}
	if(op >= 14) { /* drop ",token" after a comma: an array element, or part of one */
		const char *comma = memchr(buf + at, ',', *n - at);
		if(comma != NULL && diff_token(buf, *n, (size_t)(comma - buf) + 1, &start, &len)) {
			size_t from = (size_t)(comma - buf);
			diff_replace(buf, n, cap, from, start + len - from, "");
		}
		return;
	}
	const char *tok = diff_tokens[diff_rand(rng) % (sizeof(diff_tokens) / sizeof(diff_tokens[0]))];
	char b = (char)diff_bytes[diff_rand(rng) % sizeof(diff_bytes)];

	switch(op) {
	case 0: /* overwrite a byte with one that matters */
		if(*n > 0) {
			buf[at] = b;
		}
		break;
	case 1: /* any byte, or a bit flip */
		if(*n > 0) {
			buf[at] = diff_rand(rng) % 2 ? (char)diff_rand(rng) : (char)(buf[at] ^ (1 << diff_rand(rng) % 8));
		}
		break;
	case 2:
		diff_insert(buf, n, cap, at, &b, 1);
		break;
	case 3: { /* delete a few bytes */
		size_t k = 1 + diff_rand(rng) % 6;
		if(k > *n - at) {
			k = *n - at;
		}
		memmove(buf + at, buf + at + k, *n - at - k);
		*n -= k;
		break;
	}
	case 4:
		diff_insert(buf, n, cap, at, tok, strlen(tok));
		break;
	case 5: { /* replace a few bytes with a token */
		size_t k = 1 + diff_rand(rng) % 8;
		if(k > *n - at) {
			k = *n - at;
		}
		memmove(buf + at, buf + at + k, *n - at - k);
		*n -= k;
		diff_insert(buf, n, cap, at, tok, strlen(tok));
		break;
	}
	default: { /* splice in a fragment of a seed, this one or another */
		const char *src = diff_seeds[diff_rand(rng) % (sizeof(diff_seeds) / sizeof(diff_seeds[0]))];
		size_t srclen = strlen(src);
		size_t from = diff_rand(rng) % srclen;
		size_t k = 1 + diff_rand(rng) % 40;
		if(k > srclen - from) {
			k = srclen - from;
		}
		if(op == 7 && k <= *n - at) {
			memcpy(buf + at, src + from, k);
		} else {
			diff_insert(buf, n, cap, at, src + from, k);
		}
		break;
	}
	}
}

/* Wraps a jCard into a card request and runs both decoders on it. */
static void diff_card(const char *jcard, diff_tally *t)
{
	size_t n = strlen(jcard) + 64;
	char *buf = malloc(n);

	assert_non_null(buf);
	n = (size_t)snprintf(buf, n, REQ("%s"), jcard);
	diff_text(buf, n, t);
	free(buf);
}

static void test_card_decode_differential(void **state)
{
	(void)state;
	/* Every card request and jCard the other tests use, and then some. */
	static const char *const payloads[] = {
		"", " ", "{}", "[]", "null", "{\"exchange\":\"" XID "\"}", "{\"card\":" CARD "}",
		"{\"exchange\":\"0123456789ABCDEF0123456789abcdef\",\"card\":" CARD "}",
		"{\"exchange\":\"0123\",\"card\":" CARD "}", "{\"exchange\":7,\"card\":" CARD "}",
		"{\"Exchange\":\"" XID "\",\"card\":" CARD "}", "{\"exchange\":\"" XID "\",\"Card\":" CARD "}",
		REQ(CARD ",\"card\":" CARD), "{\"exchange\":\"" XID "\",\"exchange\":\"" XID "\",\"card\":" CARD "}",
		"{\"exchange\":\"" XID "\",\"exchange\":1,\"card\":[]}", "{\"exchange\":\"" XID "\",\"card\":[],\"card\":[]}",
		REQ("\"vcard\""), REQ("null"), REQ("[\"vcard\",[[\"fn\",{},\"text\",\"A\"]]]"),
		"{\"exchange\":\"" XID "\",\"card\":" CARD, "[\"" XID "\"," CARD "]", REQ(CARD) " ", REQ(CARD) "x",
		REQ(CARD) "{}", REQ(CARD) "\n\t\r ", " \n" REQ(CARD), "\xef\xbb\xbf" REQ(CARD), REQ(CARD) "\x0b",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN "]],\"x\":\"\xff\"}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",\"\\ud800\"]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",\"\\u00zz\"]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",01]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",1e400]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",-1e400]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",1.7976931348623159e308]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",1.7976931348623157e308]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN "]],\"x\":1e400}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN
			",[\"x\",{},\"float\",123456789012345678901234567890123456789012345678901234567890123]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN
			",[\"x\",{},\"float\",1234567890123456789012345678901234567890123456789012345678901234]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN "]],\"x\":"
			"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN "]],\"x\":"
			"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN "]],\"x\":\"\\u0000\"}",
		"{\"exchange\":\"" XID "\",\"card\":[\"vcard\",[" VER "," FN "]],\"x\":\"a\nb\"}",
		"{\"exchange\":\"\\u0030123456789abcdef0123456789abcdef\",\"card\":" CARD "}",
		"{\"exchange\":\"0123456789abcdef0123456789abcdef\\u0030\",\"card\":" CARD "}",
		"{\"exchange\":\"0123456789abcdef0123456789abcde\\u00e9\",\"card\":" CARD "}",
		"{\"exchange\":\"0123456789abcdef0123456789abcde\\/\",\"card\":" CARD "}",
	};
	/* The jCards of test_jcard.c, and more. */
	static const char *const jcards[] = {
		"[\"vcard\",[" VER "," FN "]]", "[\"vcard\",[" FN "," VER "]]",
		"[\"vcard\",[[\"VERSION\",{},\"text\",\"4.0\"],[\"FN\",{},\"text\",\"A\"]]]",
		"[\"vcard\",[[\"Version\",{},\"text\",\"4.0\"],[\"fN\",{},\"text\",\"A\"],[\"fn\",{},\"text\",\"\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"n\",{},\"text\",[\"Lovelace\",\"Ada\",\"\",\"\",\"\"]],"
			"[\"tel\",{\"type\":[\"work\",\"voice\"],\"pref\":\"1\"},\"uri\",\"tel:+1-555-555-5555\"],"
			"[\"x-n\",{},\"integer\",42,1.5,true,null]]]",
		"{\"vcard\":[]}", "\"vcard\"", "[]", "[\"vcard\"]", "[\"vcard\",[" VER "," FN "],[]]",
		"[\"VCARD\",[" VER "," FN "]]", "[\"vcalendar\",[" VER "," FN "]]", "[1,[" VER "," FN "]]",
		"[\"vcard\",{}]", "[\"vcard\",[]]", "[\"vcard\",[" VER "," FN ",\"x\"]]", "[\"vcard\",[" VER "," FN ",{}]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\"]]]", "[\"vcard\",[" VER "," FN ",[]]]",
		"[\"vcard\",[" VER "," FN ",[\"\",{},\"text\",\"x\"]]]", "[\"vcard\",[" VER "," FN ",[1,{},\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[null,{},\"text\",\"x\"]]]", "[\"vcard\",[" VER "," FN ",[\"note\",[],\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",null,\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":1},\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":[\"b\",2]},\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":{}},\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":[[\"b\"]]},\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{\"\":\"b\"},\"text\",\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{},\"\",\"x\"]]]", "[\"vcard\",[" VER "," FN ",[\"note\",{},1,\"x\"]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",{}]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",\"x\",{\"a\":1}]]]",
		"[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",[\"x\",[{}]]]]]",
		"[\"vcard\",[" FN "]]", "[\"vcard\",[" VER "]]", "[\"vcard\",[[\"version\",{},\"text\",\"3.0\"]," FN "]]",
		"[\"vcard\",[[\"version\",{},\"text\",4.0]," FN "]]", "[\"vcard\",[[\"version\",{},\"text\",[\"4.0\"]]," FN "]]",
		"[\"vcard\",[" VER ",[\"fn\",{},\"text\",\"\"]]]", "[\"vcard\",[" VER ",[\"fn\",{},\"text\",1]]]",
		"[\"vcard\",[" VER ",[\"fn\",{},\"text\",[\"Ada\"]]]]", "[\"vcard\",[" VER ",[\"fn\",{},\"text\"]]]",
		"[\"vcard\",[[\"version\",{},\"text\",\"SECRET-3.0\"]," FN "]]",
		"[\"vcard\",[[\"version\",{},\"\",\"3.0\"],[\"fn\",1,\"text\",\"\"]]]",
		"[\"vcard\",[[\"fn\",{},\"text\",\"\"],[\"version\",{},\"\",\"3.0\"]]]",
		"[\"vcard\",[" VER ",[\"fn\",{},\"text\",\"\\u0041\"],[\"versio\\u006e\",{},\"text\",\"4\\u002e0\"]]]",
		"[\"vcard\",[" VER ",[\"f\\u006e\",{},\"text\",\"A\"]]]", "[\"vc\\u0061rd\",[" VER "," FN "]]",
		"[\"vcard\",[[\"version\\u0000\",{},\"text\",\"4.0\"]," FN "]]",
		"[\"vcard\",[[\"versi\xc3\xb3n\",{},\"text\",\"4.0\"]," FN "]]",
		"[\"vcard\",[[\"v\",{},\"text\",\"4.0\"]," FN ",[\"version\",{},\"text\",\"4.0\",1,[2]]]]",
		"[\"vcard\",[" VER "," FN ",[\"x\",{},\"text\",[[[[[[[[1]]]]]]]]]]]",
		"[\"vcard\",[" VER "," FN ",[\"x\",{},\"text\",[[[[[[[[[1]]]]]]]]]]]]",
		"[\"vcard\",[" VER "," FN ",[\"x\",{},\"text\",[[[[[[[[[]]]]]]]]]]]]",
		"[\"vcard\",[" VER "," FN ",[\"x\",{},\"text\",[[[[[[[[[{}]]]]]]]]]]]]",
		"[\"vcard\",[" VER "," FN ",[\"x\",{\"a\":\"b\",\"a\":[\"c\"]},\"text\",1]]]",
		"[\"vcard\",[" VER "," FN ",[\"x\",{},\"text\",\"a\"],\"tail\"],\"x\"]",
		"[\"vcard\",[" VER "," FN "],1,2]", "[[\"vcard\"],[" VER "," FN "]]",
	};
	diff_tally t = {0};
	uint64_t rng = UINT64_C(0x9e3779b97f4a7c15);
	char big[64 * 1024];
	size_t n;

	for(size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		diff_text(payloads[i], strlen(payloads[i]), &t);
	}
	for(size_t i = 0; i < sizeof(jcards) / sizeof(jcards[0]); i++) {
		diff_card(jcards[i], &t);
	}
	for(size_t i = 0; i < sizeof(diff_seeds) / sizeof(diff_seeds[0]); i++) {
		diff_text(diff_seeds[i], strlen(diff_seeds[i]), &t);
	}

	/* Property counts around the limit: 512 pass, 513 do not, and the count comes first. */
	for(int props = 511; props <= 514; props++) {
		for(int bad_last = 0; bad_last <= 1; bad_last++) {
			n = (size_t)snprintf(big, sizeof(big), "[\"vcard\",[" VER "," FN);
			for(int i = 2; i < props; i++) {
				n += (size_t)snprintf(big + n, sizeof(big) - n, ",%s",
						bad_last && i == props - 1 ? "[]" : "[\"note\",{},\"text\",\"n\"]");
			}
			snprintf(big + n, sizeof(big) - n, "]]");
			diff_card(big, &t);
		}
	}

	/* Random edits of the valid requests. */
	for(int k = 0; k < 50000; k++) {
		const char *seed = diff_seeds[(size_t)k % (sizeof(diff_seeds) / sizeof(diff_seeds[0]))];
		n = strlen(seed);
		memcpy(big, seed, n);
		for(uint32_t e = 1 + diff_rand(&rng) % 3; e > 0; e--) {
			diff_mutate(big, &n, 4096, &rng);
		}
		diff_text(big, n, &t);
	}
	print_message("differential: %u accepted, %u bad-request, %u bad-card\n", t.none, t.bad_request,
			t.bad_card);
	/* Every verdict is well represented, or the comparison proves little. */
	assert_true(t.none > 2000);
	assert_true(t.bad_request > 2000);
	assert_true(t.bad_card > 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_json_scan),
		cmocka_unit_test(test_json_getters),
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_utf8_valid),
		cmocka_unit_test(test_offer_decode_valid),
		cmocka_unit_test(test_offer_decode_invalid),
		cmocka_unit_test(test_offer_decode_keeps_ref),
		cmocka_unit_test(test_flat_requests),
		cmocka_unit_test(test_json_writer_every_byte),
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
		cmocka_unit_test(test_card_decode_differential),
		cmocka_unit_test(test_sealed_requests),
		cmocka_unit_test(test_sealed_replies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
