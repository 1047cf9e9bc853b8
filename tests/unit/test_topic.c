/* Unit tests of common/topic.c: namespace classification and topic building. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "topic.h"

static cx_topic_kind parse(const char *prefix, const char *topic, char *id, size_t idcap)
{
	const char *p = NULL;
	size_t n = 0;
	cx_topic_kind k = cx_topic_parse(prefix, prefix != NULL ? strlen(prefix) : 0, topic, &p, &n);

	if(id != NULL) {
		id[0] = '\0';
		if(p != NULL) {
			assert_true(n < idcap);
			memcpy(id, p, n);
			id[n] = '\0';
		}
	}
	return k;
}

static void test_parse_no_prefix(void **state)
{
	(void)state;
	char id[80];

	assert_int_equal(parse("", "keys/A", id, sizeof(id)), CX_TOPIC_KEYS);
	assert_string_equal(id, "A");
	assert_int_equal(parse("", "claim/term-1", id, sizeof(id)), CX_TOPIC_CLAIM);
	assert_string_equal(id, "term-1");
	assert_int_equal(parse("", "card/B.2", id, sizeof(id)), CX_TOPIC_CARD);
	assert_string_equal(id, "B.2");
	assert_int_equal(parse("", "reply/A", id, sizeof(id)), CX_TOPIC_REPLY);
	assert_string_equal(id, "A");
	assert_int_equal(parse(NULL, "keys/A", id, sizeof(id)), CX_TOPIC_KEYS);

	assert_int_equal(parse("", "keys/A/x", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "keys/", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "keys", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "claim", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "card", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "reply", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "reply/", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "keys//A", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "keys/a b", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "keys/+", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "keys/#", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("", "card/A/", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("",
			"keys/01234567890123456789012345678901234567890123456789012345678901234", NULL, 0),
			CX_TOPIC_INVALID);
	assert_int_equal(parse("",
			"keys/0123456789012345678901234567890123456789012345678901234567890123", id,
			sizeof(id)), CX_TOPIC_KEYS);
	assert_int_equal(strlen(id), 64);

	assert_int_equal(parse("", "keysX/A", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "Keys/A", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "/keys/A", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "key/A", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "replyA", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "sensors/temp", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "$SYS/broker", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("", "", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(cx_topic_parse("", 0, NULL, NULL, NULL), CX_TOPIC_OUTSIDE);
}

static void test_parse_prefix(void **state)
{
	(void)state;
	char id[80];

	assert_int_equal(parse("cx/", "cx/keys/A", id, sizeof(id)), CX_TOPIC_KEYS);
	assert_string_equal(id, "A");
	assert_int_equal(parse("cx/", "cx/reply/B", id, sizeof(id)), CX_TOPIC_REPLY);
	assert_string_equal(id, "B");
	assert_int_equal(parse("a/b/", "a/b/card/C", id, sizeof(id)), CX_TOPIC_CARD);
	assert_string_equal(id, "C");
	assert_int_equal(parse("cx/", "keys/A", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("cx/", "cx/keys", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("cx/", "cx/keys/A/x", NULL, 0), CX_TOPIC_INVALID);
	assert_int_equal(parse("cx/", "cx/other/A", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("cx/", "cx/", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("cx/", "cx", NULL, 0), CX_TOPIC_OUTSIDE);
	assert_int_equal(parse("cx/", "cy/keys/A", NULL, 0), CX_TOPIC_OUTSIDE);
	/* Only the first prefixlen bytes of prefix count. */
	assert_int_equal(cx_topic_parse("cx/zzz", 3, "cx/claim/A", NULL, NULL), CX_TOPIC_CLAIM);
}

static void test_build(void **state)
{
	(void)state;
	char buf[128];
	char id64[65];

	assert_int_equal(cx_topic_build(buf, sizeof(buf), "", CX_TOPIC_KEYS, "A"), 6);
	assert_string_equal(buf, "keys/A");
	assert_int_equal(cx_topic_build(buf, sizeof(buf), NULL, CX_TOPIC_REPLY, "B"), 7);
	assert_string_equal(buf, "reply/B");
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "cx/", CX_TOPIC_KEYS, "A"), 9);
	assert_string_equal(buf, "cx/keys/A");
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "cx/", CX_TOPIC_CLAIM, "A"), 10);
	assert_string_equal(buf, "cx/claim/A");
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "cx/", CX_TOPIC_CARD, "A"), 9);
	assert_string_equal(buf, "cx/card/A");

	assert_int_equal(cx_topic_build(buf, sizeof(buf), "", CX_TOPIC_OUTSIDE, "A"), 0);
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "", CX_TOPIC_INVALID, "A"), 0);
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "", CX_TOPIC_KEYS, "a/b"), 0);
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "", CX_TOPIC_KEYS, ""), 0);
	assert_int_equal(cx_topic_build(buf, sizeof(buf), "", CX_TOPIC_KEYS, NULL), 0);
	/* "keys/A" needs 7 bytes with its NUL. */
	assert_int_equal(cx_topic_build(buf, 6, "", CX_TOPIC_KEYS, "A"), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cx_topic_build(buf, 7, "", CX_TOPIC_KEYS, "A"), 6);

	memset(id64, 'z', 64);
	id64[64] = '\0';
	assert_int_equal(cx_topic_build(buf, CX_TOPIC_BASE_MAX + 1, "", CX_TOPIC_CLAIM, id64),
			CX_TOPIC_BASE_MAX);
	assert_int_equal(cx_topic_build(buf, CX_TOPIC_BASE_MAX, "", CX_TOPIC_CLAIM, id64), 0);
}

static void test_round_trip(void **state)
{
	(void)state;
	const cx_topic_kind kinds[] = {CX_TOPIC_KEYS, CX_TOPIC_CLAIM, CX_TOPIC_CARD, CX_TOPIC_REPLY};
	const char *prefixes[] = {"", "cx/", "org/app/"};
	char buf[128];
	char id[80];

	for(size_t p = 0; p < 3; p++) {
		for(size_t k = 0; k < 4; k++) {
			assert_true(cx_topic_build(buf, sizeof(buf), prefixes[p], kinds[k], "t-9") > 0);
			assert_int_equal(parse(prefixes[p], buf, id, sizeof(id)), kinds[k]);
			assert_string_equal(id, "t-9");
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_no_prefix),
		cmocka_unit_test(test_parse_prefix),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
