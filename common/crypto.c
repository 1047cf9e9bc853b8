/*
 * Randomness, instant keys and secret handling on mbedTLS 2.28.
 */
#include "crypto.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/constant_time.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

/* Not thread-safe: each thread (or each owner under a lock) uses its own generator. */
struct cx_rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

/* 4 * 10^9 is the largest multiple of 10^9 not above 2^32: draws below it give 9 uniform digits. */
#define DRAW_LIMIT 4000000000u
#define DIGITS_PER_DRAW 9
/* Each draw is rejected with probability < 7%; this many rejections in a row means a broken DRBG. */
#define MAX_DRAWS 256

cx_rng *cx_rng_new(const char *personalization)
{
	cx_rng *rng = calloc(1, sizeof(*rng));
	if(rng == NULL) {
		return NULL;
	}
	mbedtls_entropy_init(&rng->entropy);
	mbedtls_ctr_drbg_init(&rng->drbg);
	const unsigned char *pers = (const unsigned char *)personalization;
	size_t perslen = personalization != NULL ? strlen(personalization) : 0;
	if(mbedtls_ctr_drbg_seed(&rng->drbg, mbedtls_entropy_func, &rng->entropy, pers, perslen) != 0) {
		cx_rng_free(rng);
		return NULL;
	}
	return rng;
}

void cx_rng_free(cx_rng *rng)
{
	if(rng == NULL) {
		return;
	}
	/* Both free functions zeroize their contexts. */
	mbedtls_ctr_drbg_free(&rng->drbg);
	mbedtls_entropy_free(&rng->entropy);
	cx_wipe(rng, sizeof(*rng));
	free(rng);
}

int cx_rng_bytes(cx_rng *rng, void *out, size_t len)
{
	unsigned char *p = out;

	if(rng == NULL || (out == NULL && len > 0)) {
		return -1;
	}
	/* CTR_DRBG serves at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call. */
	while(len > 0) {
		size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
		if(mbedtls_ctr_drbg_random(&rng->drbg, p, n) != 0) {
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int cx_key_generate(cx_rng *rng, unsigned digits, char *out, size_t outcap)
{
	int rc = -1;
	unsigned char raw[4];
	uint32_t v = 0;
	size_t have = 0;

	if(out == NULL || outcap == 0) {
		return -1;
	}
	out[0] = '\0';
	if(rng == NULL || digits < 6 || digits > 16 || outcap < (size_t)digits + 1) {
		return -1;
	}
	for(int draws = 0; have < digits; draws++) {
		if(draws >= MAX_DRAWS || cx_rng_bytes(rng, raw, sizeof(raw)) != 0) {
			goto cleanup;
		}
		v = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3];
		if(v >= DRAW_LIMIT) {
			continue; /* taking v % 10^9 here would favour low values */
		}
		for(int k = 0; k < DIGITS_PER_DRAW && have < digits; k++) {
			out[have++] = (char)('0' + v % 10);
			v /= 10;
		}
	}
	out[digits] = '\0';
	rc = 0;
cleanup:
	if(rc != 0) {
		cx_wipe(out, outcap < (size_t)digits + 1 ? outcap : (size_t)digits + 1);
		out[0] = '\0';
	}
	cx_wipe(raw, sizeof(raw));
	cx_wipe(&v, sizeof(v));
	return rc;
}

bool cx_key_valid(const char *s, size_t len, unsigned min_digits)
{
	if(s == NULL || len < min_digits || len > 16 || len == 0) {
		return false;
	}
	for(size_t i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

int cx_key_mac(const unsigned char *secret, size_t secret_len, const char *owner,
		const char *key, unsigned char out[CX_MAC_LEN])
{
	cx_mac *m;
	int rc;

	if(secret == NULL || owner == NULL || key == NULL) {
		return -1;
	}
	/* One computation: keying is half its cost, which a cx_mac pays once for many. */
	m = cx_mac_new(secret, secret_len);
	if(m == NULL) {
		return -1;
	}
	rc = cx_mac_compute(m, owner, key, out);
	cx_mac_free(m);
	return rc;
}

/*
 * HMAC-SHA256 (RFC 2104) with the hash states after the key's two pads kept
 * from keying, as RFC 2104 section 4 suggests and OpenSSL's HMAC_CTX does:
 * a MAC of a short message then costs two SHA-256 blocks instead of four.
 * (mbedtls_md_hmac_reset restarts from the pads themselves, so it re-hashes
 * the inner pad on every MAC and saves only the keying: some 5 %.)
 */
#define HMAC_BLOCK 64 /* SHA-256's block size */

struct cx_mac {
	mbedtls_sha256_context inner; /* after (K' ^ ipad): never changed once keyed */
	mbedtls_sha256_context outer; /* after (K' ^ opad): never changed once keyed */
	mbedtls_sha256_context work;  /* a copy of either, per MAC */
};

cx_mac *cx_mac_new(const unsigned char *secret, size_t secret_len)
{
	unsigned char k[HMAC_BLOCK];
	unsigned char pad[HMAC_BLOCK];
	cx_mac *m = NULL;
	int ok = 0;

	if(secret == NULL) {
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if(m == NULL) {
		return NULL;
	}
	mbedtls_sha256_init(&m->inner);
	mbedtls_sha256_init(&m->outer);
	mbedtls_sha256_init(&m->work);
	/* K' is the secret padded with zeros, or its hash when longer than a block. */
	memset(k, 0, sizeof(k));
	if(secret_len > HMAC_BLOCK) {
		if(mbedtls_sha256_ret(secret, secret_len, k, 0) != 0) {
			goto cleanup;
		}
	} else if(secret_len > 0) {
		memcpy(k, secret, secret_len);
	}
	for(size_t i = 0; i < HMAC_BLOCK; i++) {
		pad[i] = (unsigned char)(k[i] ^ 0x36);
	}
	if(mbedtls_sha256_starts_ret(&m->inner, 0) != 0
			|| mbedtls_sha256_update_ret(&m->inner, pad, sizeof(pad)) != 0) {
		goto cleanup;
	}
	for(size_t i = 0; i < HMAC_BLOCK; i++) {
		pad[i] = (unsigned char)(k[i] ^ 0x5c);
	}
	if(mbedtls_sha256_starts_ret(&m->outer, 0) != 0
			|| mbedtls_sha256_update_ret(&m->outer, pad, sizeof(pad)) != 0) {
		goto cleanup;
	}
	ok = 1;
cleanup:
	cx_wipe(k, sizeof(k));
	cx_wipe(pad, sizeof(pad));
	if(!ok) {
		cx_mac_free(m);
		return NULL;
	}
	return m;
}

int cx_mac_compute(cx_mac *m, const char *owner, const char *key, unsigned char out[CX_MAC_LEN])
{
	int rc = -1;
	unsigned char ih[32];
	unsigned char full[32];
	const unsigned char sep = 0;

	if(m == NULL || owner == NULL || key == NULL || out == NULL) {
		goto cleanup;
	}
	/* Inner hash over owner || 0x00 || key, fed in pieces so the key is never copied. */
	mbedtls_sha256_clone(&m->work, &m->inner);
	if(mbedtls_sha256_update_ret(&m->work, (const unsigned char *)owner, strlen(owner)) != 0
			|| mbedtls_sha256_update_ret(&m->work, &sep, 1) != 0
			|| mbedtls_sha256_update_ret(&m->work, (const unsigned char *)key, strlen(key)) != 0
			|| mbedtls_sha256_finish_ret(&m->work, ih) != 0) {
		goto cleanup;
	}
	mbedtls_sha256_clone(&m->work, &m->outer);
	if(mbedtls_sha256_update_ret(&m->work, ih, sizeof(ih)) != 0
			|| mbedtls_sha256_finish_ret(&m->work, full) != 0) {
		goto cleanup;
	}
	memcpy(out, full, CX_MAC_LEN);
	rc = 0;
cleanup:
	if(rc != 0 && out != NULL) {
		cx_wipe(out, CX_MAC_LEN);
	}
	if(m != NULL) {
		/* The copy held the key's bytes in its buffer (the key is a secret). */
		cx_wipe(&m->work, sizeof(m->work));
	}
	cx_wipe(ih, sizeof(ih));
	cx_wipe(full, sizeof(full));
	return rc;
}

void cx_mac_free(cx_mac *m)
{
	if(m == NULL) {
		return;
	}
	/* Each free zeroizes its context: the pad states are as good as the key. */
	mbedtls_sha256_free(&m->inner);
	mbedtls_sha256_free(&m->outer);
	mbedtls_sha256_free(&m->work);
	cx_wipe(m, sizeof(*m));
	free(m);
}

bool cx_ct_equal(const void *a, const void *b, size_t len)
{
	if(len == 0) {
		return true;
	}
	return mbedtls_ct_memcmp(a, b, len) == 0;
}

void cx_wipe(void *p, size_t len)
{
	if(p != NULL && len > 0) {
		mbedtls_platform_zeroize(p, len);
	}
}

void cx_wipe_str(char *s)
{
	if(s != NULL) {
		cx_wipe(s, strlen(s));
	}
}
