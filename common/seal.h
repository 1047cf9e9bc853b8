/*
 * Sealed cards (docs/protocol.md §8): base64url, X25519, the hash
 * commitment, the transcript hash, HKDF-SHA256 key schedule with the 6-digit
 * safety code, and AES-256-GCM, on mbedTLS 2.28. Byte orders and encodings
 * are those WebCrypto produces: X25519 keys and secrets are 32 bytes
 * little-endian (RFC 7748), AES-GCM output is the ciphertext followed by the
 * 16-byte tag, base64url has no padding.
 *
 * Two layers: pure functions with every input explicit (the known-answer
 * tests drive these), and cx_seal, one terminal's state in one exchange,
 * which holds its private key only until the shared secret is derived and
 * wipes every secret it held when freed.
 */
#ifndef CX_SEAL_H
#define CX_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define CX_SEAL_KEY_LEN 32   /* X25519 keys, hashes, AES-256 keys */
#define CX_SEAL_NONCE_LEN 12 /* AES-GCM nonce */
#define CX_SEAL_TAG_LEN 16   /* AES-GCM tag, appended to the ciphertext */
#define CX_SEAL_B64_32 43    /* base64url characters of 32 bytes (commit, pk) */
#define CX_SEAL_B64_NONCE 16 /* base64url characters of the 12-byte nonce */
/* Largest ciphertext accepted in base64url characters: a 1 MiB payload can hold no more. */
#define CX_SEAL_CT_B64_MAX (1024u * 1024u)
/* Smallest: the tag of an empty plaintext (22 characters). */
#define CX_SEAL_CT_B64_MIN 22
#define CX_SAFETY_CODE_MOD 1000000u

/* Characters base64url needs for len bytes, without padding. */
size_t cx_b64u_len(size_t len);

/*
 * Writes in[0..len) as base64url without padding and a NUL into out[cap].
 * Returns the length written (cx_b64u_len(len)), or 0 (and "" when cap > 0)
 * when cap is too small.
 */
size_t cx_b64u_encode(const unsigned char *in, size_t len, char *out, size_t cap);

/*
 * True when s[0..len) is canonical base64url without padding: only
 * A-Z a-z 0-9 - _, a length that is not 1 modulo 4, and zero unused bits in
 * the last character (so that each byte string has exactly one encoding).
 */
bool cx_b64u_valid(const char *s, size_t len);

/*
 * Decodes canonical base64url s[0..len) into out[cap]. Returns the number of
 * bytes, or -1 when s is not canonical base64url or does not fit (out is
 * then wiped up to cap).
 */
long cx_b64u_decode(const char *s, size_t len, unsigned char *out, size_t cap);

/*
 * commit = SHA-256("cardex-commit-v1" || lp(a) || lp(b) || pk_b), lp being
 * a 2-byte big-endian length prefix. a and b are terminal IDs. Returns 0, or
 * -1 on a NULL or over-long argument.
 */
int cx_seal_commitment(const char *a, const char *b, const unsigned char pk_b[CX_SEAL_KEY_LEN],
		unsigned char out[CX_SEAL_KEY_LEN]);

/* th = SHA-256("cardex-e2e-v1" || lp(xid) || lp(a) || lp(b) || pk_a || pk_b). Returns 0 or -1. */
int cx_seal_transcript(const char *xid, const char *a, const char *b,
		const unsigned char pk_a[CX_SEAL_KEY_LEN], const unsigned char pk_b[CX_SEAL_KEY_LEN],
		unsigned char th[CX_SEAL_KEY_LEN]);

/* What both sides derive from the shared secret and the transcript hash. Secret: wipe it. */
typedef struct {
	unsigned char k_ab[CX_SEAL_KEY_LEN]; /* A -> B */
	unsigned char k_ba[CX_SEAL_KEY_LEN]; /* B -> A */
	uint32_t code;                       /* safety code, 0..999999 */
} cx_seal_keys;

/*
 * PRK = HKDF-Extract(salt th, shared); code = BE32(HKDF-Expand(PRK,
 * "cardex-e2e-v1 sas", 4)) mod 10^6; k_ab and k_ba = HKDF-Expand(PRK,
 * "cardex-e2e-v1 A->B" / "cardex-e2e-v1 B->A", 32). The PRK is wiped.
 * Returns 0, or -1 when shared is all zero (a low-order peer key) or
 * mbedTLS fails (out is then wiped).
 */
int cx_seal_derive(const unsigned char shared[CX_SEAL_KEY_LEN], const unsigned char th[CX_SEAL_KEY_LEN],
		cx_seal_keys *out);

/* pk = X25519(sk, 9): the public key of a private key (clamped here). Returns 0 or -1. */
int cx_x25519_public(cx_rng *rng, const unsigned char sk[CX_SEAL_KEY_LEN],
		unsigned char pk[CX_SEAL_KEY_LEN]);

/*
 * shared = X25519(sk, peer). Returns 0, or -1 when the peer key is of low
 * order or the result is all zero (out is then wiped) or mbedTLS fails.
 */
int cx_x25519_shared(cx_rng *rng, const unsigned char sk[CX_SEAL_KEY_LEN],
		const unsigned char peer[CX_SEAL_KEY_LEN], unsigned char out[CX_SEAL_KEY_LEN]);

/*
 * AES-256-GCM with aad th: out[0..len + 16) = ciphertext || tag. Returns 0
 * or -1.
 */
int cx_seal_encrypt(const unsigned char key[CX_SEAL_KEY_LEN], const unsigned char nonce[CX_SEAL_NONCE_LEN],
		const unsigned char th[CX_SEAL_KEY_LEN], const unsigned char *pt, size_t len, unsigned char *out);

/*
 * Opens ct[0..ct_len) (ciphertext || tag) into out[0..ct_len - 16). Returns
 * 0, or -1 when ct_len < 16 or authentication fails (out is then wiped).
 */
int cx_seal_decrypt(const unsigned char key[CX_SEAL_KEY_LEN], const unsigned char nonce[CX_SEAL_NONCE_LEN],
		const unsigned char th[CX_SEAL_KEY_LEN], const unsigned char *ct, size_t ct_len, unsigned char *out);

/* ---- one terminal's side of one exchange ---- */

typedef enum {
	CX_SEAL_OFFERER = 1, /* A: made the offer, reveals its key first, checks B's commitment */
	CX_SEAL_CLAIMER      /* B: commits in its claim, reveals its key after A's */
} cx_seal_role;

typedef enum {
	CX_SEAL_OK = 0,
	CX_SEAL_ERR = -1,     /* bad argument, wrong state, mbedTLS or DRBG failure */
	CX_SEAL_ALTERED = -2, /* the commitment does not match the key revealed, or a key is of low order */
	CX_SEAL_BADCARD = -3  /* a sealed card failed authentication */
} cx_seal_res;

typedef struct cx_seal cx_seal;

/*
 * A fresh X25519 key pair for role in the exchange between a (the
 * offerer) and b (the claimer). NULL when an ID is invalid, memory runs out
 * or the DRBG fails. rng must outlive the context.
 */
cx_seal *cx_seal_new(cx_rng *rng, cx_seal_role role, const char *a, const char *b);

/* The same with a given private key (it is clamped; for known-answer tests). */
cx_seal *cx_seal_new_with_key(cx_rng *rng, cx_seal_role role, const char *a, const char *b,
		const unsigned char sk[CX_SEAL_KEY_LEN]);

/* The own public key. */
void cx_seal_public(const cx_seal *s, unsigned char pk[CX_SEAL_KEY_LEN]);

/* The claimer's commitment to its public key (cx_seal_commitment). */
void cx_seal_commit(const cx_seal *s, unsigned char out[CX_SEAL_KEY_LEN]);

/*
 * Takes the peer's public key in exchange xid and derives the keys and the
 * safety code. The offerer passes the commitment it received in its match
 * (peer_commit) and gets CX_SEAL_ALTERED when peer_pk does not match it;
 * the claimer passes NULL. A low-order peer key is CX_SEAL_ALTERED too. The
 * private key and shared secret are wiped whatever the outcome; a context
 * agrees once (CX_SEAL_ERR afterwards).
 */
cx_seal_res cx_seal_agree(cx_seal *s, const char *xid, const unsigned char peer_pk[CX_SEAL_KEY_LEN],
		const unsigned char *peer_commit);

/* True once cx_seal_agree succeeded. */
bool cx_seal_ready(const cx_seal *s);

/* The safety code (0..999999) once ready. */
uint32_t cx_seal_code(const cx_seal *s);

/* Writes the code as "957 630" (8 bytes with the NUL) into out. */
void cx_seal_code_format(uint32_t code, char out[8]);

/*
 * Seals pt[0..len) for the peer under a fresh random nonce: nonce[12] and
 * ct[0..len + 16). Returns CX_SEAL_OK or CX_SEAL_ERR (not ready, DRBG).
 */
cx_seal_res cx_seal_card(cx_seal *s, const unsigned char *pt, size_t len,
		unsigned char nonce[CX_SEAL_NONCE_LEN], unsigned char *ct);

/*
 * Opens a card the peer sealed: pt[0..ct_len - 16). CX_SEAL_BADCARD when it
 * fails authentication (a flipped bit, a card of another exchange or
 * direction), CX_SEAL_ERR when not ready.
 */
cx_seal_res cx_seal_open(cx_seal *s, const unsigned char nonce[CX_SEAL_NONCE_LEN],
		const unsigned char *ct, size_t ct_len, unsigned char *pt);

/* Wipes and frees; accepts NULL. */
void cx_seal_free(cx_seal *s);

#endif
