/*
 * Fuzz target: cx_claim_decode, the decoder of claim/<id> payloads.
 *
 * Invariants: a refused payload leaves no key (wiped) and no "from" behind,
 * and at most a valid ref; an accepted one holds a 6..16 digit key, an empty
 * or valid terminal ID in "from", an empty or valid ref and an empty or
 * canonical 43-character base64url "commit" (sealed exchanges), and survives
 * cx_claim_encode and a second decode unchanged.
 */
#include "fuzz.h"

#include "crypto.h"
#include "proto.h"
#include "seal.h"

static void check_refused(cx_code code, const cx_claim_req *req, const char *why)
{
	FUZZ_CHECK(code == CX_CODE_BAD_REQUEST);
	FUZZ_CHECK(why != NULL && why[0] != '\0');
	FUZZ_CHECK(fuzz_all_zero(req->key, sizeof(req->key)));
	FUZZ_CHECK(fuzz_all_zero(req->from, sizeof(req->from)));
	FUZZ_CHECK(fuzz_all_zero(req->commit, sizeof(req->commit)));
	FUZZ_CHECK(fuzz_ref_ok(req->ref, sizeof(req->ref)));
}

static void check_accepted(const cx_claim_req *req)
{
	char buf[256];
	size_t clen = fuzz_strlen(req->commit, sizeof(req->commit));
	cx_claim_req again;
	const char *why = NULL;

	FUZZ_CHECK(cx_key_valid(req->key, fuzz_strlen(req->key, sizeof(req->key)), CX_KEY_DIGITS_MIN));
	FUZZ_CHECK(fuzz_id_ok(req->from, sizeof(req->from)));
	FUZZ_CHECK(fuzz_ref_ok(req->ref, sizeof(req->ref)));
	FUZZ_CHECK(clen == 0 || (clen == CX_SEAL_B64_32 && cx_b64u_valid(req->commit, clen)));

	size_t n = cx_claim_encode(req, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && n < sizeof(buf) && strlen(buf) == n);
	FUZZ_CHECK(cx_claim_decode(buf, n, &again, &why) == CX_CODE_NONE);
	FUZZ_CHECK(strcmp(again.key, req->key) == 0);
	FUZZ_CHECK(strcmp(again.from, req->from) == 0);
	FUZZ_CHECK(strcmp(again.ref, req->ref) == 0);
	FUZZ_CHECK(strcmp(again.commit, req->commit) == 0);
	cx_claim_req_clear(&again);
	FUZZ_CHECK(fuzz_all_zero(&again, sizeof(again)));
	cx_wipe(buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_claim_req req;
	const char *why = NULL;
	cx_code code;

	code = cx_claim_decode((const char *)data, size, &req, &why);
	if(code != CX_CODE_NONE) {
		check_refused(code, &req, why);
	} else {
		check_accepted(&req);
	}
	cx_claim_req_clear(&req);
	FUZZ_CHECK(fuzz_all_zero(&req, sizeof(req)));
	return 0;
}
