/*
 * cardex-bench --seal: what sealing costs a terminal per exchange
 * (docs/protocol.md §8), in-process, with the bench's 1 KiB card: a fresh
 * X25519 key pair, the commitment (claimer), the agreement (X25519, the
 * transcript hash, HKDF: code and two keys; the offerer also checks the
 * commitment), sealing our card and opening the peer's (AES-256-GCM and
 * base64url both ways). Both sides of each exchange run here one after the
 * other, on one core, timed step by step on the wall clock.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "cards.h"
#include "json.h"
#include "seal.h"
#include "stats.h"

enum {
	STEP_KEYGEN,   /* cx_seal_new: random scalar and public key */
	STEP_COMMIT,   /* claimer: SHA-256 commitment, base64url */
	STEP_AGREE,    /* cx_seal_agree: commitment check, X25519, TH, HKDF */
	STEP_SEAL,     /* AES-256-GCM of our card, base64url of nonce and ciphertext */
	STEP_OPEN,     /* base64url decode and AES-256-GCM open of the peer's card */
	STEP_TOTAL,    /* one terminal's whole share of one exchange */
	NSTEPS
};

static const char *const step_names[NSTEPS] = {"keygen", "commit", "agree", "seal", "open", "total"};

#define XID "9f86d081884c7d659a2feaa0c55ad015"
#define CT_MAX (BENCH_CARD_BYTES + CX_SEAL_TAG_LEN)
#define B64_MAX (CT_MAX / 3 * 4 + 4)

/* One side's sealed card on the wire, as the peer gets it. */
struct wire {
	char n[CX_SEAL_B64_NONCE + 1];
	char ct[B64_MAX + 1];
};

static int seal_card(cx_seal *s, const char *card, struct wire *w)
{
	unsigned char nonce[CX_SEAL_NONCE_LEN];
	unsigned char ct[CT_MAX];

	if(cx_seal_card(s, (const unsigned char *)card, BENCH_CARD_BYTES, nonce, ct) != CX_SEAL_OK) {
		return -1;
	}
	cx_b64u_encode(nonce, sizeof(nonce), w->n, sizeof(w->n));
	return cx_b64u_encode(ct, CT_MAX, w->ct, sizeof(w->ct)) > 0 ? 0 : -1;
}

static int open_card(cx_seal *s, const struct wire *w, const char *want)
{
	unsigned char nonce[CX_SEAL_NONCE_LEN];
	unsigned char ct[CT_MAX + 3];
	unsigned char pt[CT_MAX];
	long n = cx_b64u_decode(w->ct, strlen(w->ct), ct, sizeof(ct));

	if(n != CT_MAX || cx_b64u_decode(w->n, strlen(w->n), nonce, sizeof(nonce)) != CX_SEAL_NONCE_LEN
			|| cx_seal_open(s, nonce, ct, (size_t)n, pt) != CX_SEAL_OK) {
		return -1;
	}
	return memcmp(pt, want, BENCH_CARD_BYTES) == 0 ? 0 : -1;
}

/* Times f's step into samples[step] and the side's running total. */
#define TIMED(step, total, expr)                                           \
	do {                                                                   \
		int64_t t0_ = bench__now_ns();                                     \
		if(!(expr)) {                                                      \
			goto fail;                                                     \
		}                                                                  \
		int64_t dt_ = bench__now_ns() - t0_;                               \
		bench__samples_add(&samples[side][step], (uint64_t)dt_);           \
		total += dt_;                                                      \
	} while(0)

int bench__seal_main(const struct bench__opts *o)
{
	static bench__samples samples[2][NSTEPS];
	char cards[2][BENCH_CARD_BYTES + 1];
	size_t rounds = o->count ? (size_t)o->count : 2000;
	cx_rng *rng = cx_rng_new("cardex-bench-seal");
	int rc = BENCH_EXIT_FAILED;

	if(!rng || bench__card_build(0, cards[0], sizeof(cards[0])) == 0
			|| bench__card_build(1, cards[1], sizeof(cards[1])) == 0) {
		fprintf(stderr, "cardex-bench: cannot set up the sealing benchmark\n");
		goto cleanup;
	}
	for(size_t i = 0; i < rounds && !bench__stop; i++) {
		unsigned char commit[CX_SEAL_KEY_LEN], pk[2][CX_SEAL_KEY_LEN];
		char commit64[CX_SEAL_B64_32 + 1];
		struct wire w[2];
		int64_t total[2] = {0, 0};
		cx_seal *s[2] = {NULL, NULL};
		int side;

		side = 1; /* B claims: a key pair and its commitment */
		TIMED(STEP_KEYGEN, total[1], (s[1] = cx_seal_new(rng, CX_SEAL_CLAIMER, "bench-a-0", "bench-b-0")) != NULL);
		TIMED(STEP_COMMIT, total[1], (cx_seal_commit(s[1], commit),
				cx_b64u_encode(commit, sizeof(commit), commit64, sizeof(commit64)) == CX_SEAL_B64_32));
		side = 0; /* A matched: its key pair */
		TIMED(STEP_KEYGEN, total[0], (s[0] = cx_seal_new(rng, CX_SEAL_OFFERER, "bench-a-0", "bench-b-0")) != NULL);
		cx_seal_public(s[0], pk[0]);
		cx_seal_public(s[1], pk[1]);
		side = 1;
		TIMED(STEP_AGREE, total[1], cx_seal_agree(s[1], XID, pk[0], NULL) == CX_SEAL_OK);
		side = 0;
		TIMED(STEP_AGREE, total[0], cx_seal_agree(s[0], XID, pk[1], commit) == CX_SEAL_OK);
		if(cx_seal_code(s[0]) != cx_seal_code(s[1])) {
			goto fail;
		}
		for(side = 0; side < 2; side++) {
			TIMED(STEP_SEAL, total[side], seal_card(s[side], cards[side], &w[side]) == 0);
		}
		for(side = 0; side < 2; side++) {
			TIMED(STEP_OPEN, total[side], open_card(s[side], &w[1 - side], cards[1 - side]) == 0);
		}
		for(side = 0; side < 2; side++) {
			bench__samples_add(&samples[side][STEP_TOTAL], (uint64_t)total[side]);
		}
		cx_seal_free(s[0]);
		cx_seal_free(s[1]);
		continue;
fail:
		cx_seal_free(s[0]);
		cx_seal_free(s[1]);
		fprintf(stderr, "cardex-bench: a sealed exchange failed in round %zu\n", i);
		goto cleanup;
	}
	if(bench__stop) {
		rc = BENCH_EXIT_INTERRUPTED;
		goto cleanup;
	}
	if(o->json) {
		bench__json j;
		bench__json_begin(&j, stdout);
		bench__json_str(&j, "mode", "seal");
		bench__json_uint(&j, "exchanges", rounds);
		bench__json_uint(&j, "card_bytes", BENCH_CARD_BYTES);
		for(int sd = 0; sd < 2; sd++) {
			bench__json_array_begin(&j, sd == 0 ? "offerer" : "claimer");
			for(int k = 0; k < NSTEPS; k++) {
				bench__pct p;
				if(samples[sd][k].len == 0) {
					continue;
				}
				bench__samples_summarize(&samples[sd][k], &p);
				bench__json_object_begin(&j);
				bench__json_str(&j, "step", step_names[k]);
				bench__json_num(&j, "p50_us", p.p50_us, 1);
				bench__json_num(&j, "p99_us", p.p99_us, 1);
				bench__json_num(&j, "mean_us", p.mean_us, 1);
				bench__json_object_end(&j);
			}
			bench__json_array_end(&j);
		}
		bench__json_end(&j);
	} else {
		printf("cardex-bench --seal: %zu sealed exchanges, %d-byte cards, one core\n\n", rounds,
				BENCH_CARD_BYTES);
		printf("%-8s %12s %12s %12s   %12s %12s %12s\n", "step", "A p50 us", "A p99 us", "A mean us",
				"B p50 us", "B p99 us", "B mean us");
		for(int k = 0; k < NSTEPS; k++) {
			bench__pct p[2];
			for(int sd = 0; sd < 2; sd++) {
				memset(&p[sd], 0, sizeof(p[sd]));
				if(samples[sd][k].len > 0) {
					bench__samples_summarize(&samples[sd][k], &p[sd]);
				}
			}
			printf("%-8s", step_names[k]);
			for(int sd = 0; sd < 2; sd++) {
				if(p[sd].n == 0) {
					printf(" %12s %12s %12s%s", "-", "-", "-", sd == 0 ? "  " : "");
				} else {
					printf(" %12.1f %12.1f %12.1f%s", p[sd].p50_us, p[sd].p99_us, p[sd].mean_us,
							sd == 0 ? "  " : "");
				}
			}
			printf("\n");
		}
	}
	rc = BENCH_EXIT_OK;
cleanup:
	for(int sd = 0; sd < 2; sd++) {
		for(int k = 0; k < NSTEPS; k++) {
			bench__samples_free(&samples[sd][k]);
		}
	}
	cx_rng_free(rng);
	return rc;
}
