/* Unit tests of common/crypto.c: DRBG, key generation and checks, MAC, secrets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <mbedtls/md.h>

#include "crypto.h"

static int rng_setup(void **state)
{
	cx_rng *rng = cx_rng_new("cardex-test");
	if(rng == NULL) {
		return -1;
	}
	*state = rng;
	return 0;
}

static int rng_teardown(void **state)
{
	cx_rng_free(*state);
	return 0;
}

static void test_rng_bytes(void **state)
{
	cx_rng *rng = *state;
	static unsigned char a[5000], b[5000];
	const unsigned char zero[64] = {0};

	/* More than one CTR_DRBG request's worth, so the chunking is exercised. */
	assert_int_equal(cx_rng_bytes(rng, a, sizeof(a)), 0);
	assert_int_equal(cx_rng_bytes(rng, b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a + sizeof(a) - 64, zero, 64);
	assert_int_equal(cx_rng_bytes(rng, a, 0), 0);
	assert_int_equal(cx_rng_bytes(NULL, a, 4), -1);
	cx_rng_free(NULL);

	cx_rng *other = cx_rng_new(NULL);
	assert_non_null(other);
	assert_int_equal(cx_rng_bytes(other, b, 64), 0);
	assert_memory_not_equal(a, b, 64);
	cx_rng_free(other);
}

static void test_key_generate(void **state)
{
	cx_rng *rng = *state;
	char key[32];
	char prev[32] = "";

	for(unsigned d = 6; d <= 16; d++) {
		for(int i = 0; i < 50; i++) {
			memset(key, 'X', sizeof(key));
			assert_int_equal(cx_key_generate(rng, d, key, sizeof(key)), 0);
			assert_int_equal(strlen(key), d);
			assert_true(cx_key_valid(key, d, 6));
			for(unsigned k = 0; k < d; k++) {
				assert_true(key[k] >= '0' && key[k] <= '9');
			}
		}
	}
	/* Two 16-digit keys are equal with probability 1e-16. */
	assert_int_equal(cx_key_generate(rng, 16, prev, sizeof(prev)), 0);
	assert_int_equal(cx_key_generate(rng, 16, key, sizeof(key)), 0);
	assert_string_not_equal(prev, key);

	memset(key, 'X', sizeof(key));
	assert_int_equal(cx_key_generate(rng, 5, key, sizeof(key)), -1);
	assert_string_equal(key, "");
	memset(key, 'X', sizeof(key));
	assert_int_equal(cx_key_generate(rng, 17, key, sizeof(key)), -1);
	assert_string_equal(key, "");
	memset(key, 'X', sizeof(key));
	assert_int_equal(cx_key_generate(rng, 6, key, 6), -1);
	assert_string_equal(key, "");
	assert_int_equal(cx_key_generate(rng, 6, key, 7), 0);
	assert_int_equal(strlen(key), 6);
	memset(key, 'X', sizeof(key));
	assert_int_equal(cx_key_generate(NULL, 6, key, sizeof(key)), -1);
	assert_string_equal(key, "");
	assert_int_equal(cx_key_generate(rng, 6, NULL, 0), -1);
}

/*
 * Chi-square over 400000 digits, overall and per position. With 9 degrees
 * of freedom the 1e-6 tail starts near 41, so a bound of 60 practically
 * never fails by chance, while the bias of a naive byte % 10 (digits 0..5
 * 26/256 likely, 6..9 25/256) gives about 155 in expectation.
 */
static void test_key_uniform(void **state)
{
	cx_rng *rng = *state;
	enum { KEYS = 25000, DIGITS = 16 };
	unsigned long count[10] = {0};
	unsigned long pos[DIGITS][10] = {{0}};
	char key[DIGITS + 1];

	for(int i = 0; i < KEYS; i++) {
		assert_int_equal(cx_key_generate(rng, DIGITS, key, sizeof(key)), 0);
		for(int k = 0; k < DIGITS; k++) {
			count[key[k] - '0']++;
			pos[k][key[k] - '0']++;
		}
	}
	double expected = (double)KEYS * DIGITS / 10.0;
	double chi = 0;
	for(int d = 0; d < 10; d++) {
		double diff = (double)count[d] - expected;
		chi += diff * diff / expected;
	}
	print_message("chi-square over %d digits: %.2f\n", KEYS * DIGITS, chi);
	assert_true(chi < 60.0);

	/* Each position on its own (25000 samples each): a looser bound, 16 tests. */
	for(int k = 0; k < DIGITS; k++) {
		double e = (double)KEYS / 10.0;
		double c = 0;
		for(int d = 0; d < 10; d++) {
			double diff = (double)pos[k][d] - e;
			c += diff * diff / e;
		}
		assert_true(c < 70.0);
	}
}

static void test_key_valid(void **state)
{
	(void)state;
	assert_true(cx_key_valid("123456", 6, 6));
	assert_true(cx_key_valid("0000000000000000", 16, 6));
	assert_false(cx_key_valid("12345", 5, 6));
	assert_false(cx_key_valid("12345678901234567", 17, 6));
	assert_false(cx_key_valid("12a456", 6, 6));
	assert_false(cx_key_valid(" 23456", 6, 6));
	assert_false(cx_key_valid("-23456", 6, 6));
	assert_false(cx_key_valid("12345\0", 6, 6));
	assert_false(cx_key_valid("1234567", 7, 8));
	assert_true(cx_key_valid("12345678", 8, 8));
	assert_false(cx_key_valid("", 0, 0));
	assert_false(cx_key_valid(NULL, 6, 6));
	assert_false(cx_key_valid("1234567890123456", 16, 17));
}

static void reference_mac(const unsigned char *secret, size_t slen, const char *owner,
		const char *key, unsigned char out[32])
{
	unsigned char msg[256];
	size_t olen = strlen(owner), klen = strlen(key);

	memcpy(msg, owner, olen);
	msg[olen] = 0;
	memcpy(msg + olen + 1, key, klen);
	assert_int_equal(mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), secret, slen,
			msg, olen + 1 + klen, out), 0);
}

static void test_key_mac(void **state)
{
	(void)state;
	const unsigned char secret[32] = "0123456789abcdef0123456789abcde";
	const unsigned char secret2[32] = "0123456789abcdef0123456789abcdX";
	unsigned char m1[CX_MAC_LEN], m2[CX_MAC_LEN], full[32];

	assert_int_equal(cx_key_mac(secret, sizeof(secret), "A", "123456", m1), 0);
	reference_mac(secret, sizeof(secret), "A", "123456", full);
	assert_memory_equal(m1, full, CX_MAC_LEN);

	assert_int_equal(cx_key_mac(secret, sizeof(secret), "A", "123456", m2), 0);
	assert_memory_equal(m1, m2, CX_MAC_LEN);
	/* Per owner, per key, per secret. */
	assert_int_equal(cx_key_mac(secret, sizeof(secret), "B", "123456", m2), 0);
	assert_memory_not_equal(m1, m2, CX_MAC_LEN);
	assert_int_equal(cx_key_mac(secret, sizeof(secret), "A", "123457", m2), 0);
	assert_memory_not_equal(m1, m2, CX_MAC_LEN);
	assert_int_equal(cx_key_mac(secret2, sizeof(secret2), "A", "123456", m2), 0);
	assert_memory_not_equal(m1, m2, CX_MAC_LEN);
	/* The separator keeps ("A1", "23456") apart from ("A", "123456"). */
	assert_int_equal(cx_key_mac(secret, sizeof(secret), "A1", "23456", m2), 0);
	assert_memory_not_equal(m1, m2, CX_MAC_LEN);

	assert_int_equal(cx_key_mac(NULL, 0, "A", "123456", m2), -1);
	assert_int_equal(cx_key_mac(secret, sizeof(secret), NULL, "123456", m2), -1);
	assert_int_equal(cx_key_mac(secret, sizeof(secret), "A", NULL, m2), -1);
}

/*
 * A keyed context gives the MACs of cx_key_mac and of mbedTLS's own HMAC,
 * call after call from the same kept pad states, also after a failed call,
 * for secrets of every length around SHA-256's block size.
 */
static void test_mac_context(void **state)
{
	(void)state;
	unsigned char secret[100];
	static const char *const owners[] = {"A", "B", "terminal-0000123", "A1", ""};
	static const char *const keys[] = {"123456", "123457", "23456", "0000000000000000"};
	unsigned char m1[CX_MAC_LEN], m2[CX_MAC_LEN], full[32];
	static const unsigned char zero[CX_MAC_LEN];

	for(size_t i = 0; i < sizeof(secret); i++) {
		secret[i] = (unsigned char)(i * 7 + 1);
	}
	/* Around SHA-256's block of 64 bytes: padded with zeros up to it, hashed above it. */
	static const size_t lens[] = {0, 1, 32, 63, 64, 65, 100};
	for(size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		size_t slen = lens[l];
		cx_mac *m = cx_mac_new(secret, slen);
		assert_non_null(m);
		for(int round = 0; round < 3; round++) {
			for(size_t o = 0; o < sizeof(owners) / sizeof(owners[0]); o++) {
				for(size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
					assert_int_equal(cx_mac_compute(m, owners[o], keys[k], m1), 0);
					reference_mac(secret, slen, owners[o], keys[k], full);
					assert_memory_equal(m1, full, CX_MAC_LEN);
					assert_int_equal(cx_key_mac(secret, slen, owners[o], keys[k], m2), 0);
					assert_memory_equal(m1, m2, CX_MAC_LEN);
				}
			}
			/* A refused call zeroes out and leaves the context usable. */
			memset(m1, 0xa5, sizeof(m1));
			assert_int_equal(cx_mac_compute(m, NULL, "123456", m1), -1);
			assert_memory_equal(m1, zero, CX_MAC_LEN);
			memset(m1, 0xa5, sizeof(m1));
			assert_int_equal(cx_mac_compute(m, "A", NULL, m1), -1);
			assert_memory_equal(m1, zero, CX_MAC_LEN);
		}
		assert_int_equal(cx_mac_compute(m, "A", "123456", NULL), -1);
		cx_mac_free(m);
	}
	assert_null(cx_mac_new(NULL, 32));
	assert_int_equal(cx_mac_compute(NULL, "A", "123456", m1), -1);
	cx_mac_free(NULL);
}

static void test_ct_equal(void **state)
{
	(void)state;
	const unsigned char a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	unsigned char b[16];

	memcpy(b, a, sizeof(b));
	assert_true(cx_ct_equal(a, b, sizeof(a)));
	b[15] ^= 1;
	assert_false(cx_ct_equal(a, b, sizeof(a)));
	b[15] ^= 1;
	b[0] ^= 0x80;
	assert_false(cx_ct_equal(a, b, sizeof(a)));
	assert_true(cx_ct_equal(a, b, 0));
	assert_true(cx_ct_equal(a + 1, b + 1, 15));
}

static void test_wipe(void **state)
{
	(void)state;
	char s[] = "483920";
	unsigned char buf[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	const unsigned char zero[8] = {0};

	cx_wipe(buf, 4);
	assert_memory_equal(buf, zero, 4);
	assert_int_equal(buf[4], 5);
	cx_wipe(buf, sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
	cx_wipe_str(s);
	assert_memory_equal(s, "\0\0\0\0\0\0\0", sizeof(s));
	cx_wipe(NULL, 4);
	cx_wipe(buf, 0);
	cx_wipe_str(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rng_bytes, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_key_generate, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_key_uniform, rng_setup, rng_teardown),
		cmocka_unit_test(test_key_valid),
		cmocka_unit_test(test_key_mac),
		cmocka_unit_test(test_mac_context),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_wipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
