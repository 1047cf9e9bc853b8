/* Unit tests of common/jcard.c: structural jCard checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcard.h"

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
	cJSON_AddItemToArray(props, cJSON_Parse("[\"note\",{},\"text\",\"n\"]"));
	assert_int_equal(cx_jcard_check(card, &why), -1);
	assert_non_null(why);
	cJSON_Delete(card);
	assert_int_equal(cx_jcard_check(NULL, NULL), -1);
}

/* The reason never quotes card data. */
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
		cmocka_unit_test(test_why_is_static),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
