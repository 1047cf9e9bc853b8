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
#include <stdlib.h>
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


/* A growing buffer for cx_direct_save. */
struct buf {
	char data[4096];
	size_t len;
	int fail_after; /* writes that succeed before one fails; -1: none fails */
};

static int buf_write(void *ctx, const void *p, size_t len)
{
	struct buf *b = ctx;

	if(b->fail_after == 0 || b->len + len > sizeof(b->data)){
		return -1;
	}
	if(b->fail_after > 0){
		b->fail_after--;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	return 0;
}

/* Persistent sessions and routed terminals outlive a restart; clean sessions do not. */
static void test_save_and_load(void **state)
{
	cx_direct *d = cx_direct_new(16);
	cx_direct *e = cx_direct_new(16);
	const cx_direct_session *s = NULL;
	struct buf b = {.len = 0, .fail_after = -1};

	(void)state;
	assert_non_null(d);
	assert_non_null(e);
	cx_direct_subscribed(d, "ada", "ada", 1, true);
	cx_direct_subscribed(d, "ada", "ada:a b\xc3\xa9", 0, true);
	cx_direct_subscribed(d, "ada", "ada:clean", 1, false);
	cx_direct_away(d, "ada", "ada:a b\xc3\xa9", 1000);
	cx_direct_subscribed(d, "bob", "bob", 1, false);
	cx_direct_route(d, "mal");
	assert_int_equal(cx_direct_save(d, 5000, buf_write, &b), 0);
	assert_int_equal(cx_direct_load(e, b.data, b.len), 0);

	assert_int_equal(cx_direct_sessions(e, "ada", &s), 2);
	assert_non_null(cx_direct_find(e, "ada", "ada"));
	assert_true(cx_direct_find(e, "ada", "ada")->persistent);
	/* Connected at the stop: away since the stop. */
	assert_int_equal(cx_direct_find(e, "ada", "ada")->away_since, 5000);
	assert_int_equal(cx_direct_find(e, "ada", "ada")->qos, 1);
	assert_non_null(cx_direct_find(e, "ada", "ada:a b\xc3\xa9"));
	assert_int_equal(cx_direct_find(e, "ada", "ada:a b\xc3\xa9")->away_since, 1000);
	assert_int_equal(cx_direct_find(e, "ada", "ada:a b\xc3\xa9")->qos, 0);
	assert_null(cx_direct_find(e, "ada", "ada:clean"));
	assert_int_equal(cx_direct_sessions(e, "bob", &s), 0);
	/* Routed stays routed: a new subscriber does not bring it back. */
	cx_direct_subscribed(e, "mal", "mal", 1, false);
	assert_int_equal(cx_direct_sessions(e, "mal", &s), 0);
	cx_direct_free(e);

	/* "Route all" outlives a restart too. */
	cx_direct_route_all(d);
	b.len = 0;
	assert_int_equal(cx_direct_save(d, 5000, buf_write, &b), 0);
	e = cx_direct_new(16);
	assert_non_null(e);
	assert_int_equal(cx_direct_load(e, b.data, b.len), 0);
	assert_true(cx_direct_all_routed(e));
	cx_direct_free(e);

	/* A failed write is reported. */
	b.len = 0;
	b.fail_after = 0;
	assert_int_equal(cx_direct_save(d, 5000, buf_write, &b), -1);
	cx_direct_free(d);
}

/* Anything but what cx_direct_save writes is refused. */
static void test_load_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"cardex-replies 2\n",
		"cardex-replies 1",
		"cardex-replies 1\nX\n",
		"cardex-replies 1\nR \n",
		"cardex-replies 1\nR a b\n",
		"cardex-replies 1\nS ada 616461 1\n",
		"cardex-replies 1\nS ada 61646 1 0\n",
		"cardex-replies 1\nS ada 61zz61 1 0\n",
		"cardex-replies 1\nS ada 610061 1 0\n",
		"cardex-replies 1\nS ada 616461 2 0\n",
		"cardex-replies 1\nS ada 616461 1 -5\n",
		"cardex-replies 1\nS ada 616461 1 7x\n",
		"cardex-replies 1\nS  616461 1 0\n",
		"cardex-replies 1\nS ada  1 0\n",
		"cardex-replies 1\nA",
	};

	(void)state;
	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		cx_direct *d = cx_direct_new(16);

		assert_non_null(d);
		if(cx_direct_load(d, bad[i], strlen(bad[i])) != -1){
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
			fail();
		}
		cx_direct_free(d);
	}
	/* A NUL inside a line. */
	{
		static const char nul[] = "cardex-replies 1\nR a\0b\n";
		cx_direct *d = cx_direct_new(16);

		assert_non_null(d);
		assert_int_equal(cx_direct_load(d, nul, sizeof(nul) - 1), -1);
		cx_direct_free(d);
	}
}

/* A persistent session away nearly as long as sessions live routes its terminal. */
static void test_expiry_routes(void **state)
{
	cx_direct *d = cx_direct_new(16);
	const cx_direct_session *s = NULL;
	const uint32_t expiry = 3600;

	(void)state;
	assert_non_null(d);
	cx_direct_subscribed(d, "ada", "ada", 1, true);
	cx_direct_subscribed(d, "ada", "ada:2", 1, false);
	/* Connected: no expiry. */
	assert_int_equal(cx_direct_readers(d, "ada", 1000000, expiry, &s), 2);
	cx_direct_away(d, "ada", "ada", 10000);
	assert_int_equal(cx_direct_readers(d, "ada", 10000 + expiry - CX_DIRECT_EXPIRY_MARGIN_S - 1, expiry, &s), 2);
	/* Sessions that never expire never route. */
	assert_int_equal(cx_direct_readers(d, "ada", 10000 + 10 * expiry, 0, &s), 2);
	/* Back in time: the same. */
	cx_direct_away(d, "ada", "ada", 0);
	assert_int_equal(cx_direct_readers(d, "ada", 10000 + 10 * expiry, expiry, &s), 2);
	cx_direct_away(d, "ada", "ada", 10000);
	assert_int_equal(cx_direct_readers(d, "ada", 10000 + expiry - CX_DIRECT_EXPIRY_MARGIN_S, expiry, &s), 0);
	/* For good. */
	cx_direct_away(d, "ada", "ada", 0);
	assert_int_equal(cx_direct_readers(d, "ada", 10000, expiry, &s), 0);
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
		cmocka_unit_test(test_save_and_load),
		cmocka_unit_test(test_load_refuses),
		cmocka_unit_test(test_expiry_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
