/*
 * The direct-reply registry (broker-plugin/direct.c): sessions come and go,
 * a terminal marked routed stays routed, and whatever cannot be recorded
 * routes instead of being forgotten.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "direct.h"

static void test_sessions_come_and_go(void **state)
{
	cx_direct *d = cx_direct_new(16);
	const cx_direct_session *s = NULL;

	(void)state;
	assert_non_null(d);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	cx_direct_subscribed(d, "ada", "ada", 1, false);
	cx_direct_subscribed(d, "ada", "ada:phone", 0, false);
	cx_direct_subscribed(d, "bob", "bob", 2, false);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 2);
	assert_string_equal(s[0].client_id, "ada");
	assert_int_equal(s[0].qos, 1);
	assert_string_equal(s[1].client_id, "ada:phone");
	assert_int_equal(s[1].qos, 0);
	/* QoS 2 is delivered at 1, the QoS replies are published with. */
	assert_int_equal(cx_direct_sessions(d, "bob", &s), 1);
	assert_int_equal(s[0].qos, 1);
	/* Subscribing again changes the QoS, not the count. */
	cx_direct_subscribed(d, "ada", "ada:phone", 1, false);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 2);
	assert_int_equal(s[1].qos, 1);
	/* Forgetting a session of another terminal, or an unknown one, changes nothing. */
	cx_direct_forget(d, "bob", "ada");
	cx_direct_forget(d, "carol", "ada");
	cx_direct_forget(d, "ada", "ada:other");
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 2);
	assert_null(cx_direct_find(d, "ada", "ada:other"));
	assert_non_null(cx_direct_find(d, "ada", "ada"));
	assert_false(cx_direct_find(d, "ada", "ada")->persistent);
	/* A session subscribing again from a persistent connection is one now. */
	cx_direct_subscribed(d, "ada", "ada", 1, true);
	assert_true(cx_direct_find(d, "ada", "ada")->persistent);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 2);
	cx_direct_forget(d, "ada", "ada");
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 1);
	assert_string_equal(s[0].client_id, "ada:phone");
	cx_direct_forget(d, "ada", "ada:phone");
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	/* An empty terminal leaves the registry. */
	assert_int_equal(cx_direct_count(d), 1);
	cx_direct_free(d);
}

static void test_routed_stays_routed(void **state)
{
	cx_direct *d = cx_direct_new(16);
	const cx_direct_session *s = NULL;

	(void)state;
	assert_non_null(d);
	cx_direct_subscribed(d, "ada", "ada", 1, false);
	cx_direct_route(d, "ada");
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	/* Neither a new subscriber nor the end of every session brings it back. */
	cx_direct_subscribed(d, "ada", "ada:2", 1, false);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	cx_direct_forget(d, "ada", "ada");
	cx_direct_forget(d, "ada", "ada:2");
	assert_null(cx_direct_find(d, "ada", "ada:2"));
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	assert_int_equal(cx_direct_count(d), 1);
	/* Routing one terminal routes no other. */
	cx_direct_subscribed(d, "bob", "bob", 1, false);
	assert_int_equal(cx_direct_sessions(d, "bob", &s), 1);
	cx_direct_free(d);
}

static void test_too_many_sessions_route(void **state)
{
	cx_direct *d = cx_direct_new(16);
	const cx_direct_session *s = NULL;
	char id[32];

	(void)state;
	assert_non_null(d);
	for(int i = 0; i < CX_DIRECT_SESSIONS; i++){
		snprintf(id, sizeof(id), "ada:%d", i);
		cx_direct_subscribed(d, "ada", id, 1, false);
	}
	assert_int_equal(cx_direct_sessions(d, "ada", &s), CX_DIRECT_SESSIONS);
	for(int i = 0; i < CX_DIRECT_SESSIONS; i++){
		snprintf(id, sizeof(id), "ada:%d", i);
		assert_string_equal(s[i].client_id, id);
	}
	cx_direct_subscribed(d, "ada", "ada:extra", 1, false);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	cx_direct_free(d);
}

static void test_full_registry_routes_all(void **state)
{
	cx_direct *d = cx_direct_new(2);
	const cx_direct_session *s = NULL;

	(void)state;
	assert_non_null(d);
	cx_direct_subscribed(d, "ada", "ada", 1, false);
	cx_direct_subscribed(d, "bob", "bob", 1, false);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 1);
	/* A third terminal cannot be recorded, so nothing is delivered directly any more. */
	cx_direct_subscribed(d, "carol", "carol", 1, false);
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	assert_int_equal(cx_direct_sessions(d, "carol", &s), 0);
	/* Even after room is made: carol's subscription was never recorded. */
	cx_direct_forget(d, "bob", "bob");
	cx_direct_subscribed(d, "carol", "carol:2", 1, false);
	assert_int_equal(cx_direct_sessions(d, "carol", &s), 0);
	cx_direct_free(d);

	/* The same when a terminal that must be routed cannot be recorded. */
	d = cx_direct_new(1);
	assert_non_null(d);
	cx_direct_subscribed(d, "ada", "ada", 1, false);
	cx_direct_route(d, "bob");
	assert_int_equal(cx_direct_sessions(d, "ada", &s), 0);
	cx_direct_free(d);
	cx_direct_free(NULL);
}

/* Many terminals: the table grows and every one stays findable. */
static void test_many_terminals(void **state)
{
	enum { N = 5000 };
	cx_direct *d = cx_direct_new(N);
	const cx_direct_session *s = NULL;
	char id[32];

	(void)state;
	assert_non_null(d);
	for(int i = 0; i < N; i++){
		snprintf(id, sizeof(id), "t%d", i);
		cx_direct_subscribed(d, id, id, 1, false);
	}
	assert_int_equal(cx_direct_count(d), N);
	for(int i = 0; i < N; i += 7){
		snprintf(id, sizeof(id), "t%d", i);
		assert_int_equal(cx_direct_sessions(d, id, &s), 1);
		assert_string_equal(s[0].client_id, id);
		cx_direct_forget(d, id, id);
		assert_int_equal(cx_direct_sessions(d, id, &s), 0);
	}
	cx_direct_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sessions_come_and_go),
		cmocka_unit_test(test_routed_stays_routed),
		cmocka_unit_test(test_too_many_sessions_route),
		cmocka_unit_test(test_full_registry_routes_all),
		cmocka_unit_test(test_many_terminals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
