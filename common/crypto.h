/*
 * Randomness, instant keys and secret handling, on mbedTLS (libmbedcrypto).
 */
#ifndef CX_CRYPTO_H
#define CX_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A CTR_DRBG seeded from the system entropy source. Opaque. */
typedef struct cx_rng cx_rng;

/* New seeded generator, or NULL when allocation or seeding fails. personalization may be NULL. */
cx_rng *cx_rng_new(const char *personalization);
/* Frees and wipes the state; accepts NULL. */
void cx_rng_free(cx_rng *rng);
/* Fill out[len] with random bytes. Returns 0, or -1 when the DRBG fails. */
int cx_rng_bytes(cx_rng *rng, void *out, size_t len);

/*
 * Writes digits uniformly random decimal digits (6..16) and a NUL into out,
 * with no modulo bias (rejection sampling). Returns 0, or -1 on bad digits
 * or DRBG failure (out is then "").
 */
int cx_key_generate(cx_rng *rng, unsigned digits, char *out, size_t outcap);

/* True when s[0..len) is min_digits..16 decimal digits. */
bool cx_key_valid(const char *s, size_t len, unsigned min_digits);

#define CX_MAC_LEN 16 /* truncated HMAC-SHA256 */

/*
 * out = first 16 bytes of HMAC-SHA256(secret, owner || 0x00 || key). Binds a
 * key to its owner so that stored hashes reveal nothing and cannot be moved
 * between offers. Returns 0, or -1 when an argument is NULL or mbedTLS
 * fails. Keys HMAC anew on every call: for many MACs under one secret use
 * cx_mac_new and cx_mac_compute.
 */
int cx_key_mac(const unsigned char *secret, size_t secret_len, const char *owner,
		const char *key, unsigned char out[CX_MAC_LEN]);

/*
 * A MAC key set up once for many cx_key_mac computations. Half the work of
 * an HMAC of a short message is hashing the key's two pads, and keying also
 * allocates: a context does both once. Opaque; one user at a time (not
 * thread-safe).
 */
typedef struct cx_mac cx_mac;

/*
 * Keys a new context with secret[0..secret_len) (it keeps the hash states
 * of the key's pads, not the secret). Returns NULL when secret is NULL,
 * memory runs out or mbedTLS fails. The caller frees it with cx_mac_free.
 */
cx_mac *cx_mac_new(const unsigned char *secret, size_t secret_len);

/*
 * The same as cx_key_mac under the context's key: out = first 16 bytes of
 * HMAC-SHA256(secret, owner || 0x00 || key). Returns 0, or -1 when an
 * argument is NULL or mbedTLS fails (out is then zeroed, and the context
 * stays usable).
 */
int cx_mac_compute(cx_mac *m, const char *owner, const char *key, unsigned char out[CX_MAC_LEN]);

/* Frees the context and wipes its key material; accepts NULL. */
void cx_mac_free(cx_mac *m);

/* Constant-time equality of two len-byte buffers. */
bool cx_ct_equal(const void *a, const void *b, size_t len);

/* Wipe len bytes in a way the compiler cannot elide; accepts NULL/0. */
void cx_wipe(void *p, size_t len);

/* Wipe a NUL-terminated string in place (its strlen bytes); accepts NULL. */
void cx_wipe_str(char *s);

#endif
