/*
 * Sealed cards on mbedTLS 2.28 (seal.h). X25519 goes through the generic
 * ECP module: a Montgomery point is its 32-byte little-endian X coordinate,
 * and mbedTLS accepts only clamped private scalars, so keys are clamped
 * before they are read, as X25519 itself would.
 */
#include "seal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/gcm.h>
#include <mbedtls/hkdf.h>
#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "ids.h"

#define COMMIT_LABEL "cardex-commit-v1"
#define E2E_LABEL "cardex-e2e-v1"
#define SAS_INFO E2E_LABEL " sas"
#define AB_INFO E2E_LABEL " A->B"
#define BA_INFO E2E_LABEL " B->A"

/* ---- base64url ---- */

static const char b64u_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64u_value(unsigned char c)
{
	if(c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if(c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if(c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if(c == '-') {
		return 62;
	}
	if(c == '_') {
		return 63;
	}
	return -1;
}

size_t cx_b64u_len(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

size_t cx_b64u_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t need = cx_b64u_len(len);
	size_t o = 0;
	size_t i;

	if(out == NULL || cap <= need || (in == NULL && len > 0)) {
		if(out != NULL && cap > 0) {
			out[0] = '\0';
		}
		return 0;
	}
	for(i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64u_alphabet[v >> 18 & 63];
		out[o++] = b64u_alphabet[v >> 12 & 63];
		out[o++] = b64u_alphabet[v >> 6 & 63];
		out[o++] = b64u_alphabet[v & 63];
	}
	if(len - i == 1) {
		out[o++] = b64u_alphabet[in[i] >> 2];
		out[o++] = b64u_alphabet[(in[i] & 3) << 4];
	} else if(len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
		out[o++] = b64u_alphabet[v >> 10 & 63];
		out[o++] = b64u_alphabet[v >> 4 & 63];
		out[o++] = b64u_alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
	return o;
}

bool cx_b64u_valid(const char *s, size_t len)
{
	int last;

	if(s == NULL || len % 4 == 1) {
		return false;
	}
	for(size_t i = 0; i < len; i++) {
		if(b64u_value((unsigned char)s[i]) < 0) {
			return false;
		}
	}
	if(len % 4 == 0) {
		return true;
	}
	/* The bits of the last character beyond the final byte must be zero. */
	last = b64u_value((unsigned char)s[len - 1]);
	return len % 4 == 2 ? (last & 15) == 0 : (last & 3) == 0;
}

long cx_b64u_decode(const char *s, size_t len, unsigned char *out, size_t cap)
{
	size_t n = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if(!cx_b64u_valid(s, len) || out == NULL || n > cap || n > (size_t)LONG_MAX) {
		if(out != NULL) {
			cx_wipe(out, cap);
		}
		return -1;
	}
	for(size_t i = 0; i < len; i++) {
		acc = (acc << 6 | (uint32_t)b64u_value((unsigned char)s[i])) & 0xffffff;
		bits += 6;
		if(bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	acc = 0;
	return (long)o;
}

/* ---- hashes ---- */

/* Feeds lp(s) = BE16(strlen(s)) || s; false when s is NULL or longer than 65535. */
static bool hash_lp(mbedtls_sha256_context *h, const char *s)
{
	unsigned char lp[2];
	size_t n;

	if(s == NULL) {
		return false;
	}
	n = strlen(s);
	if(n > 0xffff) {
		return false;
	}
	lp[0] = (unsigned char)(n >> 8);
	lp[1] = (unsigned char)n;
	return mbedtls_sha256_update_ret(h, lp, 2) == 0
		&& mbedtls_sha256_update_ret(h, (const unsigned char *)s, n) == 0;
}

static bool hash_raw(mbedtls_sha256_context *h, const void *p, size_t n)
{
	return mbedtls_sha256_update_ret(h, p, n) == 0;
}

int cx_seal_commitment(const char *a, const char *b, const unsigned char pk_b[CX_SEAL_KEY_LEN],
		unsigned char out[CX_SEAL_KEY_LEN])
{
	mbedtls_sha256_context h;
	int rc = -1;

	if(pk_b == NULL || out == NULL) {
		return -1;
	}
	mbedtls_sha256_init(&h);
	if(mbedtls_sha256_starts_ret(&h, 0) == 0 && hash_raw(&h, COMMIT_LABEL, strlen(COMMIT_LABEL))
			&& hash_lp(&h, a) && hash_lp(&h, b) && hash_raw(&h, pk_b, CX_SEAL_KEY_LEN)
			&& mbedtls_sha256_finish_ret(&h, out) == 0) {
		rc = 0;
	}
	mbedtls_sha256_free(&h);
	return rc;
}

int cx_seal_transcript(const char *xid, const char *a, const char *b,
		const unsigned char pk_a[CX_SEAL_KEY_LEN], const unsigned char pk_b[CX_SEAL_KEY_LEN],
		unsigned char th[CX_SEAL_KEY_LEN])
{
	mbedtls_sha256_context h;
	int rc = -1;

	if(pk_a == NULL || pk_b == NULL || th == NULL) {
		return -1;
	}
	mbedtls_sha256_init(&h);
	if(mbedtls_sha256_starts_ret(&h, 0) == 0 && hash_raw(&h, E2E_LABEL, strlen(E2E_LABEL))
			&& hash_lp(&h, xid) && hash_lp(&h, a) && hash_lp(&h, b)
			&& hash_raw(&h, pk_a, CX_SEAL_KEY_LEN) && hash_raw(&h, pk_b, CX_SEAL_KEY_LEN)
			&& mbedtls_sha256_finish_ret(&h, th) == 0) {
		rc = 0;
	}
	mbedtls_sha256_free(&h);
	return rc;
}

/* ---- key schedule ---- */

static bool all_zero(const unsigned char *p, size_t n)
{
	unsigned char acc = 0;

	for(size_t i = 0; i < n; i++) {
		acc |= p[i];
	}
	return acc == 0;
}

static bool expand(const unsigned char *prk, const char *info, unsigned char *out, size_t n)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

	return mbedtls_hkdf_expand(md, prk, CX_SEAL_KEY_LEN, (const unsigned char *)info, strlen(info),
			out, n) == 0;
}

int cx_seal_derive(const unsigned char shared[CX_SEAL_KEY_LEN], const unsigned char th[CX_SEAL_KEY_LEN],
		cx_seal_keys *out)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	unsigned char prk[CX_SEAL_KEY_LEN];
	unsigned char sas[4];
	int rc = -1;

	if(shared == NULL || th == NULL || out == NULL) {
		return -1;
	}
	memset(out, 0, sizeof(*out));
	if(md == NULL || all_zero(shared, CX_SEAL_KEY_LEN)) {
		goto cleanup;
	}
	if(mbedtls_hkdf_extract(md, th, CX_SEAL_KEY_LEN, shared, CX_SEAL_KEY_LEN, prk) != 0
			|| !expand(prk, SAS_INFO, sas, sizeof(sas))
			|| !expand(prk, AB_INFO, out->k_ab, sizeof(out->k_ab))
			|| !expand(prk, BA_INFO, out->k_ba, sizeof(out->k_ba))) {
		goto cleanup;
	}
	out->code = ((uint32_t)sas[0] << 24 | (uint32_t)sas[1] << 16 | (uint32_t)sas[2] << 8 | sas[3])
		% CX_SAFETY_CODE_MOD;
	rc = 0;
cleanup:
	cx_wipe(prk, sizeof(prk));
	cx_wipe(sas, sizeof(sas));
	if(rc != 0) {
		cx_wipe(out, sizeof(*out));
	}
	return rc;
}

/* ---- X25519 ---- */

static int rng_cb(void *p, unsigned char *out, size_t len)
{
	return cx_rng_bytes(p, out, len) == 0 ? 0 : -1;
}

/* Loads the clamped scalar of sk into d. */
static bool load_scalar(const unsigned char sk[CX_SEAL_KEY_LEN], mbedtls_mpi *d)
{
	unsigned char k[CX_SEAL_KEY_LEN];
	bool ok;

	memcpy(k, sk, sizeof(k));
	k[0] &= 248;
	k[31] &= 127;
	k[31] |= 64;
	ok = mbedtls_mpi_read_binary_le(d, k, sizeof(k)) == 0;
	cx_wipe(k, sizeof(k));
	return ok;
}

/* out = X of d * P, 32 bytes little-endian. */
static int x25519(cx_rng *rng, const unsigned char sk[CX_SEAL_KEY_LEN], const unsigned char *peer,
		unsigned char out[CX_SEAL_KEY_LEN])
{
	mbedtls_ecp_group grp;
	mbedtls_ecp_point P;
	mbedtls_ecp_point R;
	mbedtls_mpi d;
	int rc = -1;

	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&P);
	mbedtls_ecp_point_init(&R);
	mbedtls_mpi_init(&d);
	if(rng == NULL || mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519) != 0
			|| !load_scalar(sk, &d)) {
		goto cleanup;
	}
	if(peer == NULL) {
		if(mbedtls_ecp_copy(&P, &grp.G) != 0) {
			goto cleanup;
		}
	} else if(mbedtls_ecp_point_read_binary(&grp, &P, peer, CX_SEAL_KEY_LEN) != 0
			|| mbedtls_ecp_check_pubkey(&grp, &P) != 0) {
		/* Low-order points are refused here (MBEDTLS_ERR_ECP_INVALID_KEY). */
		goto cleanup;
	}
	if(mbedtls_ecp_mul(&grp, &R, &d, &P, rng_cb, rng) != 0
			|| mbedtls_mpi_write_binary_le(&R.X, out, CX_SEAL_KEY_LEN) != 0) {
		goto cleanup;
	}
	rc = all_zero(out, CX_SEAL_KEY_LEN) ? -1 : 0;
cleanup:
	if(rc != 0) {
		cx_wipe(out, CX_SEAL_KEY_LEN);
	}
	/* mbedtls_mpi_free and mbedtls_ecp_point_free zeroize what they held. */
	mbedtls_mpi_free(&d);
	mbedtls_ecp_point_free(&R);
	mbedtls_ecp_point_free(&P);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int cx_x25519_public(cx_rng *rng, const unsigned char sk[CX_SEAL_KEY_LEN],
		unsigned char pk[CX_SEAL_KEY_LEN])
{
	if(sk == NULL || pk == NULL) {
		return -1;
	}
	return x25519(rng, sk, NULL, pk);
}

int cx_x25519_shared(cx_rng *rng, const unsigned char sk[CX_SEAL_KEY_LEN],
		const unsigned char peer[CX_SEAL_KEY_LEN], unsigned char out[CX_SEAL_KEY_LEN])
{
	if(sk == NULL || peer == NULL || out == NULL) {
		return -1;
	}
	return x25519(rng, sk, peer, out);
}

/* ---- AES-256-GCM ---- */

int cx_seal_encrypt(const unsigned char key[CX_SEAL_KEY_LEN], const unsigned char nonce[CX_SEAL_NONCE_LEN],
		const unsigned char th[CX_SEAL_KEY_LEN], const unsigned char *pt, size_t len, unsigned char *out)
{
	mbedtls_gcm_context g;
	int rc = -1;

	if(key == NULL || nonce == NULL || th == NULL || out == NULL || (pt == NULL && len > 0)) {
		return -1;
	}
	mbedtls_gcm_init(&g);
	if(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256) == 0
			&& mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, len, nonce, CX_SEAL_NONCE_LEN, th,
				CX_SEAL_KEY_LEN, pt, out, CX_SEAL_TAG_LEN, out + len) == 0) {
		rc = 0;
	}
	mbedtls_gcm_free(&g);
	return rc;
}

int cx_seal_decrypt(const unsigned char key[CX_SEAL_KEY_LEN], const unsigned char nonce[CX_SEAL_NONCE_LEN],
		const unsigned char th[CX_SEAL_KEY_LEN], const unsigned char *ct, size_t ct_len, unsigned char *out)
{
	mbedtls_gcm_context g;
	size_t len;
	int rc = -1;

	if(key == NULL || nonce == NULL || th == NULL || ct == NULL || ct_len < CX_SEAL_TAG_LEN
			|| (out == NULL && ct_len > CX_SEAL_TAG_LEN)) {
		return -1;
	}
	len = ct_len - CX_SEAL_TAG_LEN;
	mbedtls_gcm_init(&g);
	/* mbedtls_gcm_auth_decrypt wipes out itself when the tag does not match. */
	if(mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, 256) == 0
			&& mbedtls_gcm_auth_decrypt(&g, len, nonce, CX_SEAL_NONCE_LEN, th, CX_SEAL_KEY_LEN,
				ct + len, CX_SEAL_TAG_LEN, ct, out) == 0) {
		rc = 0;
	}
	mbedtls_gcm_free(&g);
	if(rc != 0 && out != NULL) {
		cx_wipe(out, len);
	}
	return rc;
}

/* ---- one side of an exchange ---- */

struct cx_seal {
	cx_rng *rng;
	cx_seal_role role;
	bool has_sk;
	bool ready;
	bool agreed;                          /* cx_seal_agree was called */
	char a[CX_ID_MAX + 1];
	char b[CX_ID_MAX + 1];
	unsigned char sk[CX_SEAL_KEY_LEN];    /* wiped at agreement */
	unsigned char pk[CX_SEAL_KEY_LEN];
	unsigned char th[CX_SEAL_KEY_LEN];
	cx_seal_keys keys;
};

static bool id_ok(const char *s)
{
	return s != NULL && cx_id_valid(s, strnlen(s, CX_ID_MAX + 1));
}

cx_seal *cx_seal_new_with_key(cx_rng *rng, cx_seal_role role, const char *a, const char *b,
		const unsigned char sk[CX_SEAL_KEY_LEN])
{
	cx_seal *s;

	if(rng == NULL || sk == NULL || !id_ok(a) || !id_ok(b)
			|| (role != CX_SEAL_OFFERER && role != CX_SEAL_CLAIMER)) {
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if(s == NULL) {
		return NULL;
	}
	s->rng = rng;
	s->role = role;
	memcpy(s->a, a, strlen(a) + 1);
	memcpy(s->b, b, strlen(b) + 1);
	memcpy(s->sk, sk, CX_SEAL_KEY_LEN);
	s->sk[0] &= 248;
	s->sk[31] &= 127;
	s->sk[31] |= 64;
	s->has_sk = true;
	if(cx_x25519_public(rng, s->sk, s->pk) != 0) {
		cx_seal_free(s);
		return NULL;
	}
	return s;
}

cx_seal *cx_seal_new(cx_rng *rng, cx_seal_role role, const char *a, const char *b)
{
	unsigned char sk[CX_SEAL_KEY_LEN];
	cx_seal *s;

	if(cx_rng_bytes(rng, sk, sizeof(sk)) != 0) {
		return NULL;
	}
	s = cx_seal_new_with_key(rng, role, a, b, sk);
	cx_wipe(sk, sizeof(sk));
	return s;
}

void cx_seal_public(const cx_seal *s, unsigned char pk[CX_SEAL_KEY_LEN])
{
	memcpy(pk, s->pk, CX_SEAL_KEY_LEN);
}

void cx_seal_commit(const cx_seal *s, unsigned char out[CX_SEAL_KEY_LEN])
{
	/* Cannot fail: the IDs were checked when s was made. */
	(void)cx_seal_commitment(s->a, s->b, s->pk, out);
}

cx_seal_res cx_seal_agree(cx_seal *s, const char *xid, const unsigned char peer_pk[CX_SEAL_KEY_LEN],
		const unsigned char *peer_commit)
{
	unsigned char shared[CX_SEAL_KEY_LEN];
	unsigned char want[CX_SEAL_KEY_LEN];
	const unsigned char *pk_a;
	const unsigned char *pk_b;
	cx_seal_res rc = CX_SEAL_ERR;

	if(s == NULL || s->agreed || peer_pk == NULL || xid == NULL
			|| !cx_xid_valid(xid, strnlen(xid, CX_XID_HEX + 1))
			|| (s->role == CX_SEAL_OFFERER && peer_commit == NULL)) {
		return CX_SEAL_ERR;
	}
	s->agreed = true;
	if(s->role == CX_SEAL_OFFERER) {
		/* The claimer fixed its key before it saw ours: it must be the one it committed to. */
		if(cx_seal_commitment(s->a, s->b, peer_pk, want) != 0) {
			goto cleanup;
		}
		if(!cx_ct_equal(want, peer_commit, CX_SEAL_KEY_LEN)) {
			rc = CX_SEAL_ALTERED;
			goto cleanup;
		}
		pk_a = s->pk;
		pk_b = peer_pk;
	} else {
		pk_a = peer_pk;
		pk_b = s->pk;
	}
	if(cx_x25519_shared(s->rng, s->sk, peer_pk, shared) != 0) {
		rc = CX_SEAL_ALTERED;
		goto cleanup;
	}
	if(cx_seal_transcript(xid, s->a, s->b, pk_a, pk_b, s->th) != 0
			|| cx_seal_derive(shared, s->th, &s->keys) != 0) {
		goto cleanup;
	}
	s->ready = true;
	rc = CX_SEAL_OK;
cleanup:
	cx_wipe(s->sk, sizeof(s->sk));
	s->has_sk = false;
	cx_wipe(shared, sizeof(shared));
	cx_wipe(want, sizeof(want));
	return rc;
}

bool cx_seal_ready(const cx_seal *s)
{
	return s != NULL && s->ready;
}

uint32_t cx_seal_code(const cx_seal *s)
{
	return cx_seal_ready(s) ? s->keys.code : 0;
}

void cx_seal_code_format(uint32_t code, char out[8])
{
	code %= CX_SAFETY_CODE_MOD;
	for(int i = 6; i >= 0; i--) {
		if(i == 3) {
			out[i] = ' ';
			continue;
		}
		out[i] = (char)('0' + code % 10);
		code /= 10;
	}
	out[7] = '\0';
}

/* The key of the direction this side sends in, or receives in. */
static const unsigned char *dir_key(const cx_seal *s, bool sending)
{
	bool ab = (s->role == CX_SEAL_OFFERER) == sending;

	return ab ? s->keys.k_ab : s->keys.k_ba;
}

cx_seal_res cx_seal_card(cx_seal *s, const unsigned char *pt, size_t len,
		unsigned char nonce[CX_SEAL_NONCE_LEN], unsigned char *ct)
{
	if(!cx_seal_ready(s) || nonce == NULL || ct == NULL) {
		return CX_SEAL_ERR;
	}
	if(cx_rng_bytes(s->rng, nonce, CX_SEAL_NONCE_LEN) != 0) {
		return CX_SEAL_ERR;
	}
	return cx_seal_encrypt(dir_key(s, true), nonce, s->th, pt, len, ct) == 0 ? CX_SEAL_OK : CX_SEAL_ERR;
}

cx_seal_res cx_seal_open(cx_seal *s, const unsigned char nonce[CX_SEAL_NONCE_LEN],
		const unsigned char *ct, size_t ct_len, unsigned char *pt)
{
	if(!cx_seal_ready(s) || nonce == NULL || ct == NULL) {
		return CX_SEAL_ERR;
	}
	if(cx_seal_decrypt(dir_key(s, false), nonce, s->th, ct, ct_len, pt) != 0) {
		return CX_SEAL_BADCARD;
	}
	return CX_SEAL_OK;
}

void cx_seal_free(cx_seal *s)
{
	if(s == NULL) {
		return;
	}
	cx_wipe(s, sizeof(*s));
	free(s);
}
