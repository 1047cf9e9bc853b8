/*
 * Unit tests of common/jcard.c: structural jCard checks. Every case also goes
 * through the single-pass card decoder (common/jscan.c via cx_card_decode),
 * which must reach the same verdict with the same reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcard.h"
#include "json.h"
#include "proto.h"

#define XID "0123456789abcdef0123456789abcdef"

/* Deepest nesting of arrays and objects in JSON text p[0..n) (brackets in strings do not count). */
static unsigned depth_of(const char *p, size_t n)
{
	unsigned depth = 0;
	unsigned deepest = 0;
	bool in_string = false;

	for(size_t i = 0; i < n; i++) {
		if(in_string) {
			if(p[i] == '\\') {
				i++;
			} else if(p[i] == '"') {
				in_string = false;
			}
		} else if(p[i] == '"') {
			in_string = true;
		} else if(p[i] == '[' || p[i] == '{') {
			depth++;
			deepest = depth > deepest ? depth : deepest;
		} else if(p[i] == ']' || p[i] == '}') {
			depth--;
		}
	}
	return deepest;
}

/*
 * Decodes text as the card of a card request, from an exact-size heap
 * buffer, and asserts that the decoder agrees with cx_jcard_check (rc, why);
 * a request nested deeper than CX_JSON_MAX_DEPTH is refused as bad JSON
 * before any jCard rule.
 */
static void check_decoder(const char *text, int rc, const char *why)
{
	size_t n = strlen(text) + 64;
	char *p = malloc(n);
	const char *got_why = NULL;
	cx_card_req req;

	assert_non_null(p);
	n = (size_t)snprintf(p, n, "{\"exchange\":\"" XID "\",\"card\":%s}", text);
	cx_code code = cx_card_decode(p, n, &req, &got_why);
	if(depth_of(p, n) > CX_JSON_MAX_DEPTH) {
		assert_int_equal(code, CX_CODE_BAD_REQUEST);
	} else if(rc == 0) {
		assert_int_equal(code, CX_CODE_NONE);
		assert_int_equal(req.card_len, strlen(text));
		assert_memory_equal(req.card, text, req.card_len);
	} else {
		assert_int_equal(code, CX_CODE_BAD_CARD);
		assert_string_equal(got_why, why);
	}
	cx_card_req_clear(&req);
	free(p);
}

/* Parses text and runs the check; asserts the text is valid JSON. */
static int check(const char *text)
{
	const char *why = NULL;
	cJSON *card = cJSON_Parse(text);

	assert_non_null(card);
	int rc = cx_jcard_check(card, &why);
	if(rc != 0) {
		assert_non_null(why);
		assert_true(strlen(why) > 0);
	}
	cJSON_Delete(card);
	check_decoder(text, rc, why);
	return rc;
}

/* check() on a tree built in memory, through its compact text. */
static int check_tree(const cJSON *card)
{
	char *text = cJSON_PrintUnformatted(card);
	const char *why = NULL;
	int rc = cx_jcard_check(card, &why);

	assert_non_null(text);
	check_decoder(text, rc, why);
	free(text);
	return rc;
}

#define VER "[\"version\",{},\"text\",\"4.0\"]"
#define FN "[\"fn\",{},\"text\",\"Ada Lovelace\"]"

static void test_valid(void **state)
{
	(void)state;
	assert_int_equal(check("[\"vcard\",[" VER "," FN "]]"), 0);
	assert_int_equal(check("[\"vcard\",[" FN "," VER "]]"), 0);
	assert_int_equal(check("[\"vcard\",[[\"VERSION\",{},\"text\",\"4.0\"],[\"FN\",{},\"text\",\"A\"]]]"), 0);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ","
			"[\"n\",{},\"text\",[\"Lovelace\",\"Ada\",\"\",\"\",\"\"]],"
			"[\"tel\",{\"type\":[\"work\",\"voice\"],\"pref\":\"1\"},\"uri\",\"tel:+1-555-555-5555\"],"
			"[\"adr\",{\"label\":\"x\"},\"text\",[\"\",\"\",[\"123 Main St\",\"Suite 1\"],\"Any\",\"\",\"1\",\"U\"]],"
			"[\"x-n\",{},\"integer\",42,1.5,true,null],"
			"[\"categories\",{},\"text\",\"a\",\"b\",\"c\"],"
			"[\"email\",{},\"text\",\"ada@example.org\"]]]"), 0);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",\"caf\xc3\xa9 \\\"q\\\"\"]]]"), 0);
}

static void test_invalid_shape(void **state)
{
	(void)state;
	assert_int_equal(check("{\"vcard\":[]}"), -1);
	assert_int_equal(check("\"vcard\""), -1);
	assert_int_equal(check("[]"), -1);
	assert_int_equal(check("[\"vcard\"]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN "],[]]"), -1);
	assert_int_equal(check("[\"VCARD\",[" VER "," FN "]]"), -1);
	assert_int_equal(check("[\"vcalendar\",[" VER "," FN "]]"), -1);
	assert_int_equal(check("[1,[" VER "," FN "]]"), -1);
	assert_int_equal(check("[\"vcard\",{}]"), -1);
	assert_int_equal(check("[\"vcard\",[]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",\"x\"]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",{}]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[]]]"), -1);
}

static void test_invalid_property(void **state)
{
	(void)state;
	/* name */
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"\",{},\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[1,{},\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[null,{},\"text\",\"x\"]]]"), -1);
	/* params */
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",[],\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",null,\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":1},\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":[\"b\",2]},\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":{}},\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{\"a\":[[\"b\"]]},\"text\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{\"\":\"b\"},\"text\",\"x\"]]]"), -1);
	/* type */
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},\"\",\"x\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},1,\"x\"]]]"), -1);
	/* values */
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",{}]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",\"x\",{\"a\":1}]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"note\",{},\"text\",[\"x\",[{}]]]]]"), -1);
}

/* A property whose value is nested depth arrays deep. */
static int check_depth(int depth)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "[\"vcard\",[" VER "," FN ",[\"x-d\",{},\"text\",");
	for(int i = 0; i < depth; i++) {
		buf[n++] = '[';
	}
	buf[n++] = '1';
	for(int i = 0; i < depth; i++) {
		buf[n++] = ']';
	}
	snprintf(buf + n, sizeof(buf) - (size_t)n, "]]]");
	return check(buf);
}

static void test_depth(void **state)
{
	(void)state;
	assert_int_equal(check_depth(0), 0);
	assert_int_equal(check_depth(CX_JCARD_MAX_DEPTH), 0);
	assert_int_equal(check_depth(CX_JCARD_MAX_DEPTH + 1), -1);
	/* The request nests 4 levels around the value: 28 more is the JSON limit, 29 is past it. */
	assert_int_equal(check_depth(CX_JSON_MAX_DEPTH - 4), -1);
	assert_int_equal(check_depth(CX_JSON_MAX_DEPTH - 3), -1);
	assert_int_equal(check_depth(40), -1);
}

static void test_version_fn(void **state)
{
	(void)state;
	assert_int_equal(check("[\"vcard\",[" FN "]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "]]"), -1);
	assert_int_equal(check("[\"vcard\",[[\"version\",{},\"text\",\"3.0\"]," FN "]]"), -1);
	assert_int_equal(check("[\"vcard\",[[\"version\",{},\"text\",4.0]," FN "]]"), -1);
	assert_int_equal(check("[\"vcard\",[[\"version\",{},\"text\",[\"4.0\"]]," FN "]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER ",[\"fn\",{},\"text\",\"\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER ",[\"fn\",{},\"text\",1]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER ",[\"fn\",{},\"text\",[\"Ada\"]]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER ",[\"fn\",{},\"text\"]]]"), -1);
}

static void test_prop_limit(void **state)
{
	(void)state;
	cJSON *card = cJSON_Parse("[\"vcard\",[" VER "," FN "]]");
	cJSON *props = cJSON_GetArrayItem(card, 1);
	const char *why = NULL;

	for(int i = 2; i < CX_JCARD_MAX_PROPS; i++) {
		cJSON_AddItemToArray(props, cJSON_Parse("[\"note\",{},\"text\",\"n\"]"));
	}
	assert_int_equal(cJSON_GetArraySize(props), CX_JCARD_MAX_PROPS);
	assert_int_equal(cx_jcard_check(card, NULL), 0);
	assert_int_equal(check_tree(card), 0);
	cJSON_AddItemToArray(props, cJSON_Parse("[\"note\",{},\"text\",\"n\"]"));
	assert_int_equal(cx_jcard_check(card, &why), -1);
	assert_non_null(why);
	assert_int_equal(check_tree(card), -1);
	/* The count comes first, before the shape of the property past the limit. */
	cJSON_AddItemToArray(props, cJSON_CreateArray());
	assert_int_equal(check_tree(card), -1);
	cJSON_Delete(card);
	assert_int_equal(cx_jcard_check(NULL, NULL), -1);
}

/* The reason never quotes card data. */
/* Names and values are compared after unescaping; property names without case. */
static void test_escapes_and_case(void **state)
{
	(void)state;
	assert_int_equal(check("[\"vc\\u0061rd\",[" VER "," FN "]]"), 0);
	assert_int_equal(check("[\"vcard\",[[\"VeRsIoN\",{},\"text\",\"4\\u002e0\"],[\"f\\u004e\",{},\"text\",\"\\u00e9\"]]]"), 0);
	assert_int_equal(check("[\"vcard\",[[\"versi\xc3\xb3n\",{},\"text\",\"3.0\"]," VER "," FN "]]"), 0);
	assert_int_equal(check("[\"vcard\",[[\"version \",{},\"text\",\"3.0\"]," FN "]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER ",[\"fn\",{},\"text\",\"\\u0041\"],[\"FN\",{},\"text\",\"\"]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",1e308,-0,0.5e-400]]]"), 0);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",1e309]]]"), -1);
	assert_int_equal(check("[\"vcard\",[" VER "," FN ",[\"x\",{},\"float\",[[-1E+999]]]]]"), -1);
	assert_int_equal(check("[ \"vcard\" ,\n[ " VER " ,\t" FN " ] ]"), 0);
}

static void test_why_is_static(void **state)
{
	(void)state;
	const char *why = NULL;
	cJSON *card = cJSON_Parse("[\"vcard\",[[\"version\",{},\"text\",\"SECRET-3.0\"]," FN "]]");

	assert_int_equal(cx_jcard_check(card, &why), -1);
	assert_null(strstr(why, "SECRET"));
	cJSON_Delete(card);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid_shape),
		cmocka_unit_test(test_invalid_property),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_version_fn),
		cmocka_unit_test(test_prop_limit),
		cmocka_unit_test(test_escapes_and_case),
		cmocka_unit_test(test_why_is_static),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
