/*
 * Fuzz target: cx_card_decode, the decoder of card/<id> payloads, a single
 * pass over the bytes (common/jscan.c) that checks the JSON and the jCard
 * without building a tree.
 *
 * Oracle: the same payload read the slow way, as proto.h promises the
 * verdicts to be: cx_json_parse_object, then the "exchange" member (once, a
 * string of 32 lowercase hex digits), then the "card" member (once), then
 * cx_jcard_check on it. Both must agree on the code, on the reason once the
 * JSON is valid, and on the exchange ID kept for the error reply. An
 * accepted card is a span of the payload that parses into the same value as
 * the member, and the request survives cx_card_encode and a second decode.
 *
 * The messages of sealed exchanges ("pk", or "n" with "ct", instead of
 * "card") are judged the same way: one of the three kinds, base64url fields
 * of the documented lengths; accepted ones survive cx_pk_encode or
 * cx_sealed_encode and a second decode. (The decoder also refuses these
 * fields written with escapes, which a tree cannot see: a refusal of a
 * payload holding a backslash is not held against it.)
 */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "jcard.h"
#include "json.h"
#include "proto.h"
#include "seal.h"

/* What the tree-based reading of the payload expects. */
typedef struct {
	cx_code code;
	const char *why;       /* NULL: any reason (malformed JSON, sealed fields) */
	char xid[CX_XID_HEX + 1];
	const cJSON *card;     /* the "card" member when accepted */
	cx_card_kind kind;
} expectation;

static bool str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static unsigned count_named(const cJSON *obj, const char *name)
{
	unsigned n = 0;

	for(const cJSON *c = obj->child; c != NULL; c = c->next) {
		n += c->string != NULL && strcmp(c->string, name) == 0;
	}
	return n;
}

/* A member that appears once as a string of canonical base64url, min..max characters. */
static bool b64_member(const cJSON *root, const char *name, size_t min, size_t max)
{
	const cJSON *item = NULL;

	if(count_named(root, name) != 1 || cx_json_member(root, name, &item) != CX_JSON_OK
			|| !cJSON_IsString(item)) {
		return false;
	}
	size_t n = strlen(item->valuestring);
	return n >= min && n <= max && cx_b64u_valid(item->valuestring, n);
}

static void expect_sealed(const cJSON *root, expectation *x)
{
	bool pk = count_named(root, "pk") > 0;
	bool n = count_named(root, "n") > 0;
	bool ct = count_named(root, "ct") > 0;

	if(pk) {
		if(n || ct || !b64_member(root, "pk", CX_SEAL_B64_32, CX_SEAL_B64_32)) {
			return;
		}
		x->code = CX_CODE_NONE;
		x->kind = CX_CARD_PK;
		return;
	}
	if(!n || !ct || !b64_member(root, "n", CX_SEAL_B64_NONCE, CX_SEAL_B64_NONCE)
			|| !b64_member(root, "ct", CX_SEAL_CT_B64_MIN, CX_SEAL_CT_B64_MAX)) {
		return;
	}
	x->code = CX_CODE_NONE;
	x->kind = CX_CARD_SEALED;
}

static void expect(const cJSON *root, expectation *x)
{
	const cJSON *item = NULL;
	const char *reason = NULL;

	memset(x, 0, sizeof(*x));
	x->code = CX_CODE_BAD_REQUEST;
	if(root == NULL) {
		return;
	}
	if(cx_json_member(root, "exchange", &item) != CX_JSON_OK || !cJSON_IsString(item)
			|| !cx_xid_valid(item->valuestring, strlen(item->valuestring))) {
		x->why = "\"exchange\" is not 32 lowercase hex digits";
		return;
	}
	memcpy(x->xid, item->valuestring, CX_XID_HEX + 1);
	unsigned cards = count_named(root, "card");
	unsigned sealed = count_named(root, "pk") + count_named(root, "n") + count_named(root, "ct");
	if(cards == 0 && sealed > 0) {
		expect_sealed(root, x);
		return;
	}
	if(cards != 1) {
		x->why = cards == 0 ? "\"card\" is missing" : "\"card\" appears twice";
		return;
	}
	if(sealed > 0) {
		x->why = "a card request holds exactly one of \"card\", \"pk\" or \"n\" with \"ct\"";
		return;
	}
	(void)cx_json_member(root, "card", &item);
	if(cx_jcard_check(item, &reason) != 0) {
		x->code = CX_CODE_BAD_CARD;
		x->why = reason;
		return;
	}
	x->code = CX_CODE_NONE;
	x->card = item;
}

/*
 * Same JSON value, members compared in order (cJSON_Compare looks members up
 * by name, which goes wrong when a name repeats, as jCard parameters may).
 * The names of a and b themselves count only when names is set.
 */
static bool same_value(const cJSON *a, const cJSON *b, bool names)
{
	if((a->type & 0xff) != (b->type & 0xff)) {
		return false;
	}
	if(names && !str_same(a->string, b->string)) {
		return false;
	}
	if(cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0) {
		return false;
	}
	if(cJSON_IsNumber(a) && !(a->valuedouble == b->valuedouble
			|| (a->valuedouble != a->valuedouble && b->valuedouble != b->valuedouble))) {
		return false;
	}
	const cJSON *x = a->child;
	const cJSON *y = b->child;
	for(; x != NULL && y != NULL; x = x->next, y = y->next) {
		if(!same_value(x, y, true)) {
			return false;
		}
	}
	return x == NULL && y == NULL;
}

/* The accepted card is a span of the payload holding the same value as the member. */
static void check_card_span(const uint8_t *data, size_t size, const cx_card_req *req,
		const cJSON *member)
{
	const char *end = NULL;
	const char *p = (const char *)data;

	FUZZ_CHECK(req->card != NULL && req->card_len > 0 && !req->card_owned);
	FUZZ_CHECK(req->card >= p && req->card_len <= size && req->card - p <= (ptrdiff_t)(size - req->card_len));
	cJSON *tree = cJSON_ParseWithLengthOpts(req->card, req->card_len, &end, 0);
	FUZZ_CHECK(tree != NULL);
	for(; end < req->card + req->card_len; end++) {
		FUZZ_CHECK(*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n');
	}
	/* The member's own name is not part of the span. */
	FUZZ_CHECK(same_value(tree, member, false));
	FUZZ_CHECK(cx_jcard_check(tree, NULL) == 0);
	cJSON_Delete(tree);
}

static void check_round_trip(const cx_card_req *req)
{
	cx_card_req again;
	const char *why = NULL;

	size_t need = cx_card_encode(req->xid, req->card, req->card_len, NULL, 0);
	char *buf = malloc(need + 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(cx_card_encode(req->xid, req->card, req->card_len, buf, need + 1) == need);
	FUZZ_CHECK(strlen(buf) == need);
	if(cx_card_decode(buf, need, &again, &why) != CX_CODE_NONE) {
		fprintf(stderr, "re-encoded card request refused: %s\n", why);
		FUZZ_CHECK(!"cx_card_encode output decodes");
	}
	FUZZ_CHECK(strcmp(again.xid, req->xid) == 0);
	/* The encoder copies the card verbatim, so the span is the same text. */
	FUZZ_CHECK(again.card_len == req->card_len);
	FUZZ_CHECK(memcmp(again.card, req->card, req->card_len) == 0);
	cx_card_req_clear(&again);
	FUZZ_CHECK(fuzz_all_zero(&again, sizeof(again)));
	free(buf);
}

static void check_sealed_round_trip(const cx_card_req *req)
{
	cx_card_req again;
	const char *why = NULL;
	size_t need = req->kind == CX_CARD_PK ? cx_pk_encode(req->xid, req->pk, NULL, 0)
		: cx_sealed_encode(req->xid, req->n, req->ct, req->ct_len, NULL, 0);
	char *buf = malloc(need + 1);

	FUZZ_CHECK(buf != NULL);
	if(req->kind == CX_CARD_PK) {
		FUZZ_CHECK(cx_pk_encode(req->xid, req->pk, buf, need + 1) == need);
	} else {
		FUZZ_CHECK(cx_sealed_encode(req->xid, req->n, req->ct, req->ct_len, buf, need + 1) == need);
	}
	FUZZ_CHECK(cx_card_decode(buf, need, &again, &why) == CX_CODE_NONE);
	FUZZ_CHECK(again.kind == req->kind && strcmp(again.xid, req->xid) == 0);
	FUZZ_CHECK(strcmp(again.pk, req->pk) == 0 && strcmp(again.n, req->n) == 0);
	FUZZ_CHECK(again.ct_len == req->ct_len && (req->ct_len == 0 || memcmp(again.ct, req->ct, req->ct_len) == 0));
	cx_card_req_clear(&again);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_card_req req;
	expectation x;
	const char *why = NULL;
	cJSON *root = cx_json_parse_object((const char *)data, size, NULL);

	expect(root, &x);
	cx_code code = cx_card_decode((const char *)data, size, &req, &why);
	if(code == CX_CODE_BAD_REQUEST && x.code == CX_CODE_NONE && x.kind != CX_CARD_PLAIN
			&& memchr(data, '\\', size) != NULL) {
		/* Escaped base64url: refused on purpose, invisible in the tree. */
		x.code = CX_CODE_BAD_REQUEST;
		x.why = NULL;
	}
	if(code != x.code || (x.why != NULL && code != CX_CODE_NONE && strcmp(why, x.why) != 0)) {
		fprintf(stderr, "cx_card_decode: code %d (%s); the tree-based reading: code %d (%s)\n",
				(int)code, code != CX_CODE_NONE ? why : "-", (int)x.code,
				x.why != NULL ? x.why : "malformed JSON");
		FUZZ_CHECK(!"cx_card_decode agrees with parse + read_xid + read_card");
	}
	FUZZ_CHECK(fuzz_xid_ok(req.xid, sizeof(req.xid)));
	FUZZ_CHECK(strcmp(req.xid, x.xid) == 0);
	if(code != CX_CODE_NONE) {
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		FUZZ_CHECK(req.card == NULL && req.card_len == 0 && !req.card_owned);
	} else if(req.kind != CX_CARD_PLAIN) {
		FUZZ_CHECK(req.kind == x.kind && req.card == NULL);
		check_sealed_round_trip(&req);
	} else {
		check_card_span(data, size, &req, x.card);
		check_round_trip(&req);
	}
	cx_card_req_clear(&req);
	FUZZ_CHECK(fuzz_all_zero(&req, sizeof(req)));
	cx_json_delete(root);
	return 0;
}
