/*
 * Fuzz target: cx_offer_decode, the decoder of keys/<id> payloads.
 *
 * Invariants: a refused payload leaves no key behind (wiped), no ttl, and at
 * most a valid ref; an accepted one holds a 6..16 digit key, a ttl of 0 or
 * 5..600 and a valid or empty ref, and survives cx_offer_encode and a second
 * decode unchanged.
 *
 * Oracle: the decoder reads the payload in one pass, without a tree; the
 * verdict, the fields and (once the JSON is valid) the reason must be those
 * of the tree reading: cx_json_parse_object, then "ref", "key" and "ttl"
 * through the typed getters, in that order.
 */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "crypto.h"
#include "ids.h"
#include "json.h"
#include "proto.h"

/* What the tree reading expects: the code, the reason when the JSON is valid, the fields. */
static void oracle(const uint8_t *data, size_t size, cx_code code, const cx_offer_req *req,
		const char *why)
{
	const char *reason = NULL;
	cJSON *root = cx_json_parse_object((const char *)data, size, &reason);
	const char *s = NULL;
	size_t n = 0;
	uint32_t ttl = 0;
	cx_json_res res;

	if(root == NULL) {
		FUZZ_CHECK(code == CX_CODE_BAD_REQUEST);
		return;
	}
	res = cx_json_get_string(root, "ref", &s, &n);
	if(res != CX_JSON_ABSENT && (res != CX_JSON_OK || !cx_ref_valid(s, n))) {
		reason = "\"ref\" is not 1..16 characters of [A-Za-z0-9._-]";
		goto refused;
	}
	FUZZ_CHECK(strcmp(req->ref, res == CX_JSON_OK ? s : "") == 0);
	res = cx_json_get_string(root, "key", &s, &n);
	if(res != CX_JSON_OK || !cx_key_valid(s, n, CX_KEY_DIGITS_MIN)) {
		reason = res == CX_JSON_ABSENT ? "\"key\" is missing"
			: "\"key\" is not a string of 6 to 16 decimal digits";
		goto refused;
	}
	res = cx_json_get_uint32(root, "ttl", CX_TTL_MIN, CX_TTL_MAX, &ttl);
	if(res == CX_JSON_BAD) {
		reason = "\"ttl\" is not an integer from 5 to 600";
		goto refused;
	}
	FUZZ_CHECK(code == CX_CODE_NONE);
	FUZZ_CHECK(strcmp(req->key, s) == 0);
	FUZZ_CHECK(req->ttl == (res == CX_JSON_OK ? ttl : 0));
	cx_json_delete(root);
	return;
refused:
	FUZZ_CHECK(code == CX_CODE_BAD_REQUEST);
	FUZZ_CHECK(why != NULL && strcmp(why, reason) == 0);
	cx_json_delete(root);
}

static void check_refused(cx_code code, const cx_offer_req *req, const char *why)
{
	FUZZ_CHECK(code == CX_CODE_BAD_REQUEST);
	FUZZ_CHECK(why != NULL && why[0] != '\0');
	FUZZ_CHECK(fuzz_all_zero(req->key, sizeof(req->key)));
	FUZZ_CHECK(req->ttl == 0);
	FUZZ_CHECK(fuzz_ref_ok(req->ref, sizeof(req->ref)));
}

static void check_accepted(const cx_offer_req *req)
{
	char buf[128];
	cx_offer_req again;
	const char *why = NULL;

	FUZZ_CHECK(cx_key_valid(req->key, fuzz_strlen(req->key, sizeof(req->key)), CX_KEY_DIGITS_MIN));
	FUZZ_CHECK(req->ttl == 0 || (req->ttl >= CX_TTL_MIN && req->ttl <= CX_TTL_MAX));
	FUZZ_CHECK(fuzz_ref_ok(req->ref, sizeof(req->ref)));

	size_t n = cx_offer_encode(req, buf, sizeof(buf));
	FUZZ_CHECK(n > 0 && n < sizeof(buf) && strlen(buf) == n);
	FUZZ_CHECK(cx_offer_decode(buf, n, &again, &why) == CX_CODE_NONE);
	FUZZ_CHECK(strcmp(again.key, req->key) == 0);
	FUZZ_CHECK(again.ttl == req->ttl);
	FUZZ_CHECK(strcmp(again.ref, req->ref) == 0);
	cx_offer_req_clear(&again);
	FUZZ_CHECK(fuzz_all_zero(&again, sizeof(again)));
	cx_wipe(buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_offer_req req;
	const char *why = NULL;
	cx_code code;

	code = cx_offer_decode((const char *)data, size, &req, &why);
	oracle(data, size, code, &req, why);
	if(code != CX_CODE_NONE) {
		check_refused(code, &req, why);
	} else {
		check_accepted(&req);
	}
	cx_offer_req_clear(&req);
	FUZZ_CHECK(fuzz_all_zero(&req, sizeof(req)));
	return 0;
}
