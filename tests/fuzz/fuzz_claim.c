/*
 * Fuzz target: cx_claim_decode, the decoder of claim/<id> payloads.
 *
 * Invariants: a refused payload leaves no key (wiped) and no "from" behind,
 * and at most a valid ref; an accepted one holds a 6..16 digit key, an empty
 * or valid terminal ID in "from", an empty or valid ref and an empty or
 * canonical 43-character base64url "commit" (sealed exchanges), and survives
 * cx_claim_encode and a second decode unchanged.
 *
 * Oracle: the decoder reads the payload in one pass, without a tree; the
 * verdict, the fields and (once the JSON is valid) the reason must be those
 * of the tree reading: cx_json_parse_object, then "ref", "key", "from" and
 * "commit" through the typed getters, in that order.
 */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "crypto.h"
#include "ids.h"
#include "json.h"
#include "proto.h"
#include "seal.h"

/* An optional string member: absent, or a string that passes ok; its text in *s. */
static bool optional_ok(const cJSON *root, const char *name, const char **s, bool (*ok)(const char *, size_t))
{
	size_t n = 0;
	cx_json_res res = cx_json_get_string(root, name, s, &n);

	if(res == CX_JSON_ABSENT) {
		*s = "";
		return true;
	}
	return res == CX_JSON_OK && ok(*s, n);
}

static bool commit_ok(const char *s, size_t n)
{
	return n == CX_SEAL_B64_32 && cx_b64u_valid(s, n);
}

static void oracle(const uint8_t *data, size_t size, cx_code code, const cx_claim_req *req,
		const char *why)
{
	const char *reason = NULL;
	cJSON *root = cx_json_parse_object((const char *)data, size, &reason);
	const char *ref = NULL;
	const char *key = NULL;
	const char *from = NULL;
	const char *commit = NULL;
	size_t n = 0;
	cx_json_res res;

	if(root == NULL) {
		FUZZ_CHECK(code == CX_CODE_BAD_REQUEST);
		return;
	}
	if(!optional_ok(root, "ref", &ref, cx_ref_valid)) {
		reason = "\"ref\" is not 1..16 characters of [A-Za-z0-9._-]";
		goto refused;
	}
	FUZZ_CHECK(strcmp(req->ref, ref) == 0);
	res = cx_json_get_string(root, "key", &key, &n);
	if(res != CX_JSON_OK || !cx_key_valid(key, n, CX_KEY_DIGITS_MIN)) {
		reason = res == CX_JSON_ABSENT ? "\"key\" is missing"
			: "\"key\" is not a string of 6 to 16 decimal digits";
		goto refused;
	}
	if(!optional_ok(root, "from", &from, cx_id_valid)) {
		reason = "\"from\" is not a valid terminal ID";
		goto refused;
	}
	if(!optional_ok(root, "commit", &commit, commit_ok)) {
		reason = "\"commit\" is not the base64url of 32 bytes";
		goto refused;
	}
	FUZZ_CHECK(code == CX_CODE_NONE);
	FUZZ_CHECK(strcmp(req->key, key) == 0);
	FUZZ_CHECK(strcmp(req->from, from) == 0);
	FUZZ_CHECK(strcmp(req->commit, commit) == 0);
	cx_json_delete(root);
	return;
refused:
	FUZZ_CHECK(code == CX_CODE_BAD_REQUEST);
	FUZZ_CHECK(why != NULL && strcmp(why, reason) == 0);
	cx_json_delete(root);
}

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
	oracle(data, size, code, &req, why);
	if(code != CX_CODE_NONE) {
		check_refused(code, &req, why);
	} else {
		check_accepted(&req);
	}
	cx_claim_req_clear(&req);
	FUZZ_CHECK(fuzz_all_zero(&req, sizeof(req)));
	return 0;
}
