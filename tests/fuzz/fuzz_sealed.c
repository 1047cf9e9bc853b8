/*
 * Fuzz target: what a terminal does with the sealed-exchange fields a
 * server hands it (docs/protocol.md §8): the base64url decoder, a
 * "peer_commit" checked against a key, a "pk" agreed with, and a sealed
 * card opened, each after cx_reply_decode, on the contexts of the
 * published test vectors.
 *
 * The first byte picks the path, the rest is the payload. Invariants:
 * base64url that decodes re-encodes to the same text; a commitment other
 * than the vector's is refused as an alteration; an agreement gives a code
 * below 10^6 or fails without crashing; a sealed card opens only when it
 * is the vector's own ciphertext (the rest fails authentication), and an
 * opened card is the vector's plaintext.
 */
#include "fuzz.h"

#include "crypto.h"
#include "proto.h"
#include "seal.h"

#define XID "9f86d081884c7d659a2feaa0c55ad015"
#define CARD_A "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Ada Lovelace\"]]]"

static const unsigned char SK_A[32] = {
	0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
	0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a};
static const unsigned char SK_B[32] = {
	0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f, 0x8b, 0x83, 0x80, 0x0e, 0xe6,
	0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18, 0xb6, 0xfd, 0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb};
static const char CT_A[] = "tYym2wfw9z1TEbpdRh4MNlDeXJk16xmXfVh2q-4bFLQxSwNh-gOLZFyeoI8lUlhSLMD7"
	"F5Itu_tsG4xEh5v1mDll4uiBseLTjAK3Js37OoNRt6gmz0ec";
static const char NONCE_A[] = "AAECAwQFBgcICQoL";

static cx_rng *rng;

static void check_b64(const uint8_t *data, size_t size)
{
	unsigned char out[512];
	char again[700];
	long n = cx_b64u_decode((const char *)data, size, out, sizeof(out));

	if(n < 0) {
		FUZZ_CHECK(size > 682 || !cx_b64u_valid((const char *)data, size));
		return;
	}
	FUZZ_CHECK((size_t)n == size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0));
	FUZZ_CHECK(cx_b64u_encode(out, (size_t)n, again, sizeof(again)) == size);
	FUZZ_CHECK(memcmp(again, data, size) == 0);
}

/* A's side: the match's peer_commit checked against B's vector key. */
static void check_commit(const uint8_t *data, size_t size)
{
	unsigned char commit[32], want[32], pkb[32];
	cx_reply_msg m;
	cx_seal *a, *b;

	if(cx_reply_decode((const char *)data, size, &m, NULL) != CX_CODE_NONE) {
		return;
	}
	if(m.type == CX_REPLY_MATCH && m.commit[0] != '\0') {
		FUZZ_CHECK(cx_b64u_decode(m.commit, strlen(m.commit), commit, sizeof(commit)) == 32);
		a = cx_seal_new_with_key(rng, CX_SEAL_OFFERER, "ada", "grace", SK_A);
		b = cx_seal_new_with_key(rng, CX_SEAL_CLAIMER, "ada", "grace", SK_B);
		FUZZ_CHECK(a != NULL && b != NULL);
		cx_seal_public(b, pkb);
		cx_seal_commit(b, want);
		cx_seal_res res = cx_seal_agree(a, XID, pkb, commit);
		FUZZ_CHECK(memcmp(commit, want, 32) == 0 ? res == CX_SEAL_OK : res == CX_SEAL_ALTERED);
		FUZZ_CHECK(res != CX_SEAL_OK || cx_seal_code(a) < CX_SAFETY_CODE_MOD);
		cx_seal_free(a);
		cx_seal_free(b);
	}
	cx_reply_msg_clear(&m);
}

/* B's side: any "pk" the server relays is agreed with, or refused. */
static void check_pk(const uint8_t *data, size_t size)
{
	unsigned char pk[32];
	cx_reply_msg m;
	cx_seal *b;

	if(cx_reply_decode((const char *)data, size, &m, NULL) != CX_CODE_NONE) {
		return;
	}
	if(m.type == CX_REPLY_PK) {
		FUZZ_CHECK(cx_b64u_decode(m.pk, strlen(m.pk), pk, sizeof(pk)) == 32);
		b = cx_seal_new_with_key(rng, CX_SEAL_CLAIMER, "ada", "grace", SK_B);
		FUZZ_CHECK(b != NULL);
		cx_seal_res res = cx_seal_agree(b, m.xid, pk, NULL);
		FUZZ_CHECK(res == CX_SEAL_OK || res == CX_SEAL_ALTERED);
		FUZZ_CHECK(cx_seal_ready(b) == (res == CX_SEAL_OK));
		FUZZ_CHECK(res != CX_SEAL_OK || cx_seal_code(b) < CX_SAFETY_CODE_MOD);
		cx_seal_free(b);
	}
	cx_reply_msg_clear(&m);
}

/* B's side: a sealed card opens only when it is the vector's own. */
static void check_card(const uint8_t *data, size_t size)
{
	unsigned char pka[32], nonce[12];
	unsigned char *ct, *pt;
	cx_reply_msg m;
	cx_seal *a, *b;
	long n;

	if(cx_reply_decode((const char *)data, size, &m, NULL) != CX_CODE_NONE) {
		return;
	}
	if(m.type == CX_REPLY_CARD && m.ct != NULL) {
		a = cx_seal_new_with_key(rng, CX_SEAL_OFFERER, "ada", "grace", SK_A);
		b = cx_seal_new_with_key(rng, CX_SEAL_CLAIMER, "ada", "grace", SK_B);
		FUZZ_CHECK(a != NULL && b != NULL);
		cx_seal_public(a, pka);
		FUZZ_CHECK(cx_seal_agree(b, XID, pka, NULL) == CX_SEAL_OK);
		ct = malloc(m.ct_len);
		FUZZ_CHECK(ct != NULL);
		n = cx_b64u_decode(m.ct, m.ct_len, ct, m.ct_len);
		FUZZ_CHECK(n >= 16);
		FUZZ_CHECK(cx_b64u_decode(m.n, strlen(m.n), nonce, sizeof(nonce)) == 12);
		pt = malloc((size_t)n);
		FUZZ_CHECK(pt != NULL);
		cx_seal_res res = cx_seal_open(b, nonce, ct, (size_t)n, pt);
		bool vector = strcmp(m.ct, CT_A) == 0 && strcmp(m.n, NONCE_A) == 0;
		FUZZ_CHECK(vector ? res == CX_SEAL_OK : res == CX_SEAL_BADCARD);
		FUZZ_CHECK(!vector || memcmp(pt, CARD_A, strlen(CARD_A)) == 0);
		free(pt);
		free(ct);
		cx_seal_free(a);
		cx_seal_free(b);
	}
	cx_reply_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(rng == NULL) {
		rng = cx_rng_new("cardex-fuzz-sealed");
		FUZZ_CHECK(rng != NULL);
	}
	if(size == 0) {
		return 0;
	}
	switch(data[0] % 4) {
	case 0:
		check_b64(data + 1, size - 1);
		break;
	case 1:
		check_commit(data + 1, size - 1);
		break;
	case 2:
		check_pk(data + 1, size - 1);
		break;
	default:
		check_card(data + 1, size - 1);
		break;
	}
	return 0;
}
