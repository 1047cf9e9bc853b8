/*
 * Unit tests of common/seal.c: base64url, X25519 (RFC 7748 §6.1), the
 * known-answer vectors of docs/protocol.md §8.6, the exchange context, and
 * refusals (a wrong commitment, a low-order key, tampered and misdirected
 * cards). The vectors were checked against an independent implementation
 * (Python's hashlib, hmac and cryptography packages).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "seal.h"

#define XID "9f86d081884c7d659a2feaa0c55ad015"
#define ID_A "ada"
#define ID_B "grace"
#define CARD_A "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ada Lovelace\"]]]"
#define CARD_B "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Grace Hopper\"]]]"

/* RFC 7748 §6.1 */
static const char SK_A[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char PK_A[] = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char SK_B[] = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char PK_B[] = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char SHARED[] = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
/* docs/protocol.md §8.6 */
static const char COMMIT_B64[] = "fcaQqoDMsHFdA2PFbC2yCdfLyL-GsE_fz8yEO61H1_Q";
static const char PK_A_B64[] = "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo";
static const char PK_B_B64[] = "3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08";
static const char TH[] = "850516139e2b72c0d6c11b4f110430b4dc0acb20b01413d99717bc085ef9ea1c";
static const char K_AB[] = "cbdfa657c7ccef46d7cbcbf5da2890a1c031663af0048a6d1b23fad0ee36fbe7";
static const char K_BA[] = "50979d180b30cc33c271b198234c44be8e2364ed16f779f33e2d722ae7932fc6";
static const uint32_t CODE = 869368;
static const char NONCE_A[] = "000102030405060708090a0b";
static const char NONCE_B[] = "0c0d0e0f1011121314151617";
static const char CT_A_B64[] = "tYym2wfw9z1TEbpdRh4MNlDeXJk16xmXfVh2q-4bFLQxSwNh-gOLZFyeoI8lUlhSLMD7"
	"F5Itu_tsG4xEh5v1mDll4uiBseLTjAK3Js37OoNRt6gmz0ec";
static const char CT_B_B64[] = "HaB3yKtefMrKYJa9PEw8IsvD4lbygnzkfQokn5eHaS0wevtRTFY7WpH87sy2VLooPVxf"
	"DkAiL-FlSRONRxsjizpoWEszauwrHCBiKcOvnhsgWUFFJIPP";

static void unhex(const char *h, unsigned char *out)
{
	size_t n = strlen(h) / 2;

	for(size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

static void assert_hex(const unsigned char *p, const char *hex)
{
	unsigned char want[64];

	unhex(hex, want);
	assert_memory_equal(p, want, strlen(hex) / 2);
}

static void assert_b64(const unsigned char *p, size_t len, const char *b64)
{
	char buf[256];

	assert_int_equal(cx_b64u_encode(p, len, buf, sizeof(buf)), strlen(b64));
	assert_string_equal(buf, b64);
}

static int rng_setup(void **state)
{
	*state = cx_rng_new("cardex-test-seal");
	return *state != NULL ? 0 : -1;
}

static int rng_teardown(void **state)
{
	cx_rng_free(*state);
	return 0;
}

static void test_b64u(void **state)
{
	const unsigned char in[] = {0xfb, 0xff, 0xbf, 0x00, 0x10};
	unsigned char out[8];
	char buf[16];

	(void)state;
	assert_int_equal(cx_b64u_len(0), 0);
	assert_int_equal(cx_b64u_len(1), 2);
	assert_int_equal(cx_b64u_len(32), 43);
	assert_int_equal(cx_b64u_len(12), 16);
	assert_int_equal(cx_b64u_encode(in, 5, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "-_-_ABA");
	assert_int_equal(cx_b64u_encode(in, 5, buf, 7), 0); /* no room for the NUL */
	assert_string_equal(buf, "");
	assert_int_equal(cx_b64u_decode("-_-_ABA", 7, out, sizeof(out)), 5);
	assert_memory_equal(out, in, 5);
	assert_int_equal(cx_b64u_decode("", 0, out, sizeof(out)), 0);
	/* Not canonical: unused bits set, padding, standard alphabet, impossible length. */
	assert_false(cx_b64u_valid("-_-_ABB", 7));
	assert_false(cx_b64u_valid("QQ==", 4));
	assert_false(cx_b64u_valid("+/+/", 4));
	assert_false(cx_b64u_valid("QUJDR", 5));
	assert_false(cx_b64u_valid("QR", 2));
	assert_true(cx_b64u_valid("QQ", 2));
	assert_int_equal(cx_b64u_decode("QR", 2, out, sizeof(out)), -1);
	/* Too small a buffer. */
	assert_int_equal(cx_b64u_decode("-_-_ABA", 7, out, 4), -1);
	assert_int_equal(cx_b64u_decode(NULL, 0, out, 4), -1);
}

static void test_x25519_rfc7748(void **state)
{
	unsigned char ska[32], skb[32], pk[32], shared[32], shared2[32];

	unhex(SK_A, ska);
	unhex(SK_B, skb);
	assert_int_equal(cx_x25519_public(*state, ska, pk), 0);
	assert_hex(pk, PK_A);
	assert_int_equal(cx_x25519_public(*state, skb, pk), 0);
	assert_hex(pk, PK_B);
	assert_int_equal(cx_x25519_shared(*state, ska, pk, shared), 0);
	assert_hex(shared, SHARED);
	unhex(PK_A, pk);
	assert_int_equal(cx_x25519_shared(*state, skb, pk, shared2), 0);
	assert_memory_equal(shared, shared2, 32);
}

static void test_low_order_refused(void **state)
{
	unsigned char sk[32], peer[32], out[32];

	unhex(SK_A, sk);
	/* 0 and 1 are of low order; every result with them is all zero. */
	memset(peer, 0, sizeof(peer));
	assert_int_equal(cx_x25519_shared(*state, sk, peer, out), -1);
	peer[0] = 1;
	assert_int_equal(cx_x25519_shared(*state, sk, peer, out), -1);
	/* A point of order 8 (RFC 7748 test lists, libsodium's blocklist). */
	unhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", peer);
	assert_int_equal(cx_x25519_shared(*state, sk, peer, out), -1);
	/* An all-zero secret is refused by the key schedule too. */
	cx_seal_keys k;
	unsigned char zero[32] = {0}, th[32] = {1};
	assert_int_equal(cx_seal_derive(zero, th, &k), -1);
}

static void test_known_answers(void **state)
{
	unsigned char pka[32], pkb[32], shared[32], out[32], th[32], nonce[12];
	unsigned char ct[128], pt[128];
	cx_seal_keys k;

	(void)state;
	unhex(PK_A, pka);
	unhex(PK_B, pkb);
	unhex(SHARED, shared);
	assert_int_equal(cx_seal_commitment(ID_A, ID_B, pkb, out), 0);
	assert_b64(out, 32, COMMIT_B64);
	assert_b64(pka, 32, PK_A_B64);
	assert_b64(pkb, 32, PK_B_B64);
	assert_int_equal(cx_seal_transcript(XID, ID_A, ID_B, pka, pkb, th), 0);
	assert_hex(th, TH);
	assert_int_equal(cx_seal_derive(shared, th, &k), 0);
	assert_hex(k.k_ab, K_AB);
	assert_hex(k.k_ba, K_BA);
	assert_int_equal(k.code, CODE);

	unhex(NONCE_A, nonce);
	assert_int_equal(cx_seal_encrypt(k.k_ab, nonce, th, (const unsigned char *)CARD_A,
			strlen(CARD_A), ct), 0);
	assert_b64(ct, strlen(CARD_A) + 16, CT_A_B64);
	unhex(NONCE_B, nonce);
	assert_int_equal(cx_seal_encrypt(k.k_ba, nonce, th, (const unsigned char *)CARD_B,
			strlen(CARD_B), ct), 0);
	assert_b64(ct, strlen(CARD_B) + 16, CT_B_B64);
	assert_int_equal(cx_seal_decrypt(k.k_ba, nonce, th, ct, strlen(CARD_B) + 16, pt), 0);
	assert_memory_equal(pt, CARD_B, strlen(CARD_B));
}

/* Both sides with the vector keys, as a terminal runs them. */
static void make_pair(cx_rng *rng, cx_seal **a, cx_seal **b)
{
	unsigned char ska[32], skb[32];

	unhex(SK_A, ska);
	unhex(SK_B, skb);
	*a = cx_seal_new_with_key(rng, CX_SEAL_OFFERER, ID_A, ID_B, ska);
	*b = cx_seal_new_with_key(rng, CX_SEAL_CLAIMER, ID_A, ID_B, skb);
	assert_non_null(*a);
	assert_non_null(*b);
}

static void test_context_exchange(void **state)
{
	unsigned char commit[32], pka[32], pkb[32], nonce[12], ct[128], pt[128], ct_want[128];
	char code[8];
	cx_seal *a, *b;

	make_pair(*state, &a, &b);
	cx_seal_commit(b, commit);
	assert_b64(commit, 32, COMMIT_B64);
	cx_seal_public(a, pka);
	cx_seal_public(b, pkb);
	assert_false(cx_seal_ready(a));
	assert_int_equal(cx_seal_code(a), 0);
	assert_int_equal(cx_seal_agree(b, XID, pka, NULL), CX_SEAL_OK);
	assert_int_equal(cx_seal_agree(a, XID, pkb, commit), CX_SEAL_OK);
	assert_int_equal(cx_seal_code(a), CODE);
	assert_int_equal(cx_seal_code(b), CODE);
	cx_seal_code_format(cx_seal_code(a), code);
	assert_string_equal(code, "869 368");
	cx_seal_code_format(7, code);
	assert_string_equal(code, "000 007");
	/* Agreeing twice is refused. */
	assert_int_equal(cx_seal_agree(a, XID, pkb, commit), CX_SEAL_ERR);

	/* A's card opens on B and matches the vector but for the fresh nonce. */
	assert_int_equal(cx_seal_card(a, (const unsigned char *)CARD_A, strlen(CARD_A), nonce, ct), CX_SEAL_OK);
	assert_int_equal(cx_seal_open(b, nonce, ct, strlen(CARD_A) + 16, pt), CX_SEAL_OK);
	assert_memory_equal(pt, CARD_A, strlen(CARD_A));
	/* The vector's ciphertext opens on B. */
	unhex(NONCE_A, nonce);
	assert_int_equal(cx_b64u_decode(CT_A_B64, strlen(CT_A_B64), ct_want, sizeof(ct_want)),
			(long)(strlen(CARD_A) + 16));
	assert_int_equal(cx_seal_open(b, nonce, ct_want, strlen(CARD_A) + 16, pt), CX_SEAL_OK);
	/* A cannot open its own direction: a card reflected back is refused. */
	assert_int_equal(cx_seal_open(a, nonce, ct_want, strlen(CARD_A) + 16, pt), CX_SEAL_BADCARD);
	cx_seal_free(a);
	cx_seal_free(b);
	cx_seal_free(NULL);
}

static void test_tamper(void **state)
{
	unsigned char commit[32], pka[32], pkb[32], nonce[12], ct[128], pt[128];
	size_t len = strlen(CARD_B) + 16;
	cx_seal *a, *b;

	make_pair(*state, &a, &b);
	cx_seal_commit(b, commit);
	cx_seal_public(a, pka);
	cx_seal_public(b, pkb);
	assert_int_equal(cx_seal_agree(b, XID, pka, NULL), CX_SEAL_OK);
	assert_int_equal(cx_seal_agree(a, XID, pkb, commit), CX_SEAL_OK);
	assert_int_equal(cx_seal_card(b, (const unsigned char *)CARD_B, strlen(CARD_B), nonce, ct), CX_SEAL_OK);
	for(size_t bit = 0; bit < len * 8; bit += 37) {
		ct[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		assert_int_equal(cx_seal_open(a, nonce, ct, len, pt), CX_SEAL_BADCARD);
		ct[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	nonce[5] ^= 0x10;
	assert_int_equal(cx_seal_open(a, nonce, ct, len, pt), CX_SEAL_BADCARD);
	nonce[5] ^= 0x10;
	assert_int_equal(cx_seal_open(a, nonce, ct, 15, pt), CX_SEAL_BADCARD);
	assert_int_equal(cx_seal_open(a, nonce, ct, len - 1, pt), CX_SEAL_BADCARD);
	assert_int_equal(cx_seal_open(a, nonce, ct, len, pt), CX_SEAL_OK);
	cx_seal_free(a);
	cx_seal_free(b);
}

/* A card sealed in another exchange (other xid, same keys) does not open: TH binds it. */
static void test_replay_other_exchange(void **state)
{
	unsigned char commit[32], pka[32], pkb[32], nonce[12], ct[128], pt[128];
	cx_seal *a, *b, *a2, *b2;

	make_pair(*state, &a, &b);
	make_pair(*state, &a2, &b2);
	cx_seal_commit(b, commit);
	cx_seal_public(a, pka);
	cx_seal_public(b, pkb);
	assert_int_equal(cx_seal_agree(b, XID, pka, NULL), CX_SEAL_OK);
	assert_int_equal(cx_seal_agree(a, XID, pkb, commit), CX_SEAL_OK);
	assert_int_equal(cx_seal_agree(b2, "00000000000000000000000000000001", pka, NULL), CX_SEAL_OK);
	assert_int_equal(cx_seal_card(b2, (const unsigned char *)CARD_B, strlen(CARD_B), nonce, ct), CX_SEAL_OK);
	assert_int_equal(cx_seal_open(a, nonce, ct, strlen(CARD_B) + 16, pt), CX_SEAL_BADCARD);
	cx_seal_free(a);
	cx_seal_free(b);
	cx_seal_free(a2);
	cx_seal_free(b2);
}

/* The server swaps B's key for its own: A's commitment check fails. */
static void test_commitment_mismatch(void **state)
{
	unsigned char commit[32], pkm[32];
	cx_seal *a, *b, *m;

	make_pair(*state, &a, &b);
	m = cx_seal_new(*state, CX_SEAL_CLAIMER, ID_A, ID_B);
	assert_non_null(m);
	cx_seal_commit(b, commit);
	cx_seal_public(m, pkm);
	assert_int_equal(cx_seal_agree(a, XID, pkm, commit), CX_SEAL_ALTERED);
	assert_false(cx_seal_ready(a));
	/* A commitment for other IDs does not fit either. */
	cx_seal_free(a);
	cx_seal_free(b);
	make_pair(*state, &a, &b);
	assert_int_equal(cx_seal_commitment("ada", "eve", pkm, commit), 0);
	assert_int_equal(cx_seal_agree(a, XID, pkm, commit), CX_SEAL_ALTERED);
	/* The offerer needs a commitment at all. */
	cx_seal_free(a);
	cx_seal_free(b);
	make_pair(*state, &a, &b);
	assert_int_equal(cx_seal_agree(a, XID, pkm, NULL), CX_SEAL_ERR);
	assert_int_equal(cx_seal_agree(a, "not-an-xid", pkm, commit), CX_SEAL_ERR);
	cx_seal_free(a);
	cx_seal_free(b);
	cx_seal_free(m);
}

static void test_fresh_keys(void **state)
{
	unsigned char p1[32], p2[32];
	cx_seal *s1 = cx_seal_new(*state, CX_SEAL_CLAIMER, ID_A, ID_B);
	cx_seal *s2 = cx_seal_new(*state, CX_SEAL_CLAIMER, ID_A, ID_B);

	assert_non_null(s1);
	assert_non_null(s2);
	cx_seal_public(s1, p1);
	cx_seal_public(s2, p2);
	assert_memory_not_equal(p1, p2, 32);
	assert_null(cx_seal_new(*state, CX_SEAL_CLAIMER, "bad id", ID_B));
	assert_null(cx_seal_new(*state, (cx_seal_role)7, ID_A, ID_B));
	assert_null(cx_seal_new(NULL, CX_SEAL_CLAIMER, ID_A, ID_B));
	cx_seal_free(s1);
	cx_seal_free(s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64u),
		cmocka_unit_test_setup_teardown(test_x25519_rfc7748, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_low_order_refused, rng_setup, rng_teardown),
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test_setup_teardown(test_context_exchange, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_tamper, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_replay_other_exchange, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_commitment_mismatch, rng_setup, rng_teardown),
		cmocka_unit_test_setup_teardown(test_fresh_keys, rng_setup, rng_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
