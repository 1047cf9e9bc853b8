/*
 * Unit tests of the proxies' network list (broker-plugin/netlist.c): what
 * plugin_opt_proxy_addresses accepts and refuses, and which of the
 * addresses Mosquitto reports are in it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "netlist.h"

static void parses(cx_netlist *l, const char *value, size_t n)
{
	char entry[64];
	const char *why = cx_netlist_parse(l, value, entry, sizeof(entry));

	if(why != NULL){
		fail_msg("\"%s\" refused: \"%s\" %s", value, entry, why);
	}
	assert_int_equal(l->n, n);
}

static void refuses(const char *value, const char *want_entry, const char *want_why)
{
	cx_netlist l;
	char entry[64];
	const char *why;

	memset(&l, 0xa5, sizeof(l));
	why = cx_netlist_parse(&l, value, entry, sizeof(entry));
	if(why == NULL){
		fail_msg("\"%s\" accepted", value);
	}
	assert_string_equal(entry, want_entry);
	assert_string_equal(why, want_why);
	/* A refused value leaves no network behind. */
	assert_int_equal(l.n, 0);
	assert_false(cx_netlist_contains(&l, "127.0.0.1"));
}

static void test_loopback(void **state)
{
	cx_netlist l;

	(void)state;
	parses(&l, "127.0.0.1 ::1", 2);
	assert_true(cx_netlist_contains(&l, "127.0.0.1"));
	/* How Mosquitto reports an IPv4 client on a dual-stack socket. */
	assert_true(cx_netlist_contains(&l, "::ffff:127.0.0.1"));
	assert_true(cx_netlist_contains(&l, "0:0:0:0:0:0:0:1"));
	assert_false(cx_netlist_contains(&l, "127.0.0.2"));
	assert_false(cx_netlist_contains(&l, "::2"));
	assert_false(cx_netlist_contains(&l, "::ffff:127.0.0.2"));
	/* ::1 is not 0.0.0.1, nor ::127.0.0.1 (IPv4-compatible) 127.0.0.1. */
	assert_false(cx_netlist_contains(&l, "0.0.0.1"));
	assert_false(cx_netlist_contains(&l, "::127.0.0.1"));
	assert_false(cx_netlist_contains(&l, NULL));
	assert_false(cx_netlist_contains(&l, ""));
	assert_false(cx_netlist_contains(&l, "localhost"));
	assert_false(cx_netlist_contains(&l, "127.0.0.1:1883"));
}

static void test_networks(void **state)
{
	cx_netlist l;

	(void)state;
	parses(&l, "10.0.0.0/8,192.168.1.128/25\t2001:db8:aa::/48, fe80::/10", 4);
	assert_true(cx_netlist_contains(&l, "10.255.1.2"));
	assert_true(cx_netlist_contains(&l, "::ffff:10.0.0.1"));
	assert_false(cx_netlist_contains(&l, "11.0.0.1"));
	assert_true(cx_netlist_contains(&l, "192.168.1.128"));
	assert_true(cx_netlist_contains(&l, "192.168.1.255"));
	assert_false(cx_netlist_contains(&l, "192.168.1.127"));
	assert_true(cx_netlist_contains(&l, "2001:db8:aa:ffff::1"));
	assert_false(cx_netlist_contains(&l, "2001:db8:ab::1"));
	/* /10: the first two bits of the second byte count, the rest not. */
	assert_true(cx_netlist_contains(&l, "febf::1"));
	assert_false(cx_netlist_contains(&l, "fec0::1"));
	/* An IPv4 network never holds IPv6 addresses that merely share bytes. */
	assert_false(cx_netlist_contains(&l, "a00::1"));

	parses(&l, "0.0.0.0/0", 1);
	assert_true(cx_netlist_contains(&l, "203.0.113.9"));
	assert_false(cx_netlist_contains(&l, "2001:db8::1"));
	parses(&l, "::/0", 1);
	assert_true(cx_netlist_contains(&l, "2001:db8::1"));
	assert_true(cx_netlist_contains(&l, "203.0.113.9"));
	parses(&l, "203.0.113.9/32 2001:db8::7/128", 2);
	assert_true(cx_netlist_contains(&l, "203.0.113.9"));
	assert_false(cx_netlist_contains(&l, "203.0.113.8"));
	assert_true(cx_netlist_contains(&l, "2001:db8::7"));
	assert_false(cx_netlist_contains(&l, "2001:db8::6"));
}

static void test_replaces(void **state)
{
	cx_netlist l;

	(void)state;
	parses(&l, "127.0.0.1", 1);
	parses(&l, "10.0.0.1", 1);
	assert_false(cx_netlist_contains(&l, "127.0.0.1"));
	assert_true(cx_netlist_contains(&l, "10.0.0.1"));
}

static void test_refused(void **state)
{
	char many[33 * 16 + 1] = "";

	(void)state;
	refuses("127.0.0.1 proxy.example", "proxy.example", "is not an IP address");
	refuses("10.0.0.0/33", "10.0.0.0/33", "has a bad prefix length");
	refuses("::/129", "::/129", "has a bad prefix length");
	refuses("10.0.0.0/", "10.0.0.0/", "has a bad prefix length");
	refuses("10.0.0.0/-1", "10.0.0.0/-1", "has a bad prefix length");
	refuses("10.0.0.0/8x", "10.0.0.0/8x", "has a bad prefix length");
	refuses("10.0.0.0/8/8", "10.0.0.0/8/8", "has a bad prefix length");
	refuses("/8", "/8", "is not an IP address");
	refuses("10.1", "10.1", "is not an IP address");
	refuses("1.2.3.4.5", "1.2.3.4.5", "is not an IP address");
	refuses("::1%lo", "::1%lo", "is not an IP address");
	refuses("[::1]", "[::1]", "is not an IP address");
	refuses("1111:2222:3333:4444:5555:6666:7777:8888:9999/64", "1111:2222:3333:4444:5555:6666:7777:8888:9999/64",
			"is not an IP address");
	refuses("", "", "holds no IP address");
	refuses(" ,\t, ", "", "holds no IP address");
	for(int i = 0; i < 33; i++){
		char one[16];

		snprintf(one, sizeof(one), "10.0.0.%d ", i);
		strcat(many, one);
	}
	refuses(many, "10.0.0.32", "is one address too many (at most 32)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_replaces),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
