/*
 * Fuzz target: cx_reply_decode, the decoder libcardex runs on everything
 * arriving on reply/<id> (a broker that is misconfigured or a bridge may
 * deliver anything there).
 *
 * Invariants: a refused payload leaves the message all zero; an accepted one
 * has NUL-terminated text fields, identifiers that are empty or valid, the
 * fields its type requires, a card that is a valid jCard for card replies
 * (or, sealed, a nonce and ciphertext of canonical base64url) and none
 * otherwise, keys and commitments of 43 canonical base64url characters; encoding it with cx_reply_encode and decoding again yields
 * the same message (except what the encoder defines: an unknown error code
 * is written as "internal", an empty message as the default one).
 */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "jcard.h"
#include "proto.h"
#include "seal.h"

static void check_card_text(const char *card, size_t len)
{
	const char *end = NULL;
	cJSON *tree = cJSON_ParseWithLengthOpts(card, len, &end, 0);

	FUZZ_CHECK(tree != NULL);
	FUZZ_CHECK(end == card + len);
	FUZZ_CHECK(cx_jcard_check(tree, NULL) == 0);
	cJSON_Delete(tree);
}

/* Field shapes every accepted reply has, whatever its type. */
static void check_fields(const cx_reply_msg *m)
{
	FUZZ_CHECK(cx_reply_type_name(m->type) != NULL);
	FUZZ_CHECK(fuzz_ref_ok(m->ref, sizeof(m->ref)));
	FUZZ_CHECK(fuzz_xid_ok(m->xid, sizeof(m->xid)));
	FUZZ_CHECK(fuzz_id_ok(m->peer, sizeof(m->peer)));
	FUZZ_CHECK(fuzz_strlen(m->reason, sizeof(m->reason)) < sizeof(m->reason));
	FUZZ_CHECK(fuzz_strlen(m->code_name, sizeof(m->code_name)) < sizeof(m->code_name));
	FUZZ_CHECK(fuzz_strlen(m->topic, sizeof(m->topic)) < sizeof(m->topic));
	FUZZ_CHECK(fuzz_strlen(m->message, sizeof(m->message)) < sizeof(m->message));
	if(m->type == CX_REPLY_CARD && m->ct != NULL) {
		FUZZ_CHECK(m->card == NULL && strlen(m->ct) == m->ct_len);
		FUZZ_CHECK(m->ct_len >= CX_SEAL_CT_B64_MIN && cx_b64u_valid(m->ct, m->ct_len));
		FUZZ_CHECK(strlen(m->n) == CX_SEAL_B64_NONCE && cx_b64u_valid(m->n, CX_SEAL_B64_NONCE));
	} else if(m->type == CX_REPLY_CARD) {
		FUZZ_CHECK(m->card != NULL && strlen(m->card) == m->card_len);
		check_card_text(m->card, m->card_len);
	} else {
		FUZZ_CHECK(m->card == NULL && m->card_len == 0 && m->ct == NULL);
	}
	FUZZ_CHECK(m->commit[0] == '\0' || (m->type == CX_REPLY_MATCH && strlen(m->commit) == CX_SEAL_B64_32
			&& cx_b64u_valid(m->commit, CX_SEAL_B64_32)));
	FUZZ_CHECK(m->type == CX_REPLY_PK ? strlen(m->pk) == CX_SEAL_B64_32 && cx_b64u_valid(m->pk, CX_SEAL_B64_32)
			: m->pk[0] == '\0');
	switch(m->type) {
	case CX_REPLY_MATCH:
	case CX_REPLY_CARD:
	case CX_REPLY_SENT:
	case CX_REPLY_PK:
		FUZZ_CHECK(m->xid[0] != '\0' && m->peer[0] != '\0');
		break;
	case CX_REPLY_EXPIRED:
		FUZZ_CHECK(m->offer ? m->xid[0] == '\0' : m->xid[0] != '\0');
		break;
	case CX_REPLY_ERROR:
		FUZZ_CHECK(m->code == cx_code_from_name(m->code_name, strlen(m->code_name)));
		break;
	default:
		break;
	}
	if(m->type != CX_REPLY_ERROR) {
		FUZZ_CHECK(m->code == CX_CODE_NONE && m->code_name[0] == '\0');
	}
}

/* The reply to encode that carries everything m holds. */
static void to_reply(const cx_reply_msg *m, cx_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->type = m->type;
	r->ref = m->ref;
	r->xid = m->xid;
	r->peer = m->peer;
	r->expires_in = m->expires_in;
	r->attempts_left = m->attempts_left;
	r->reason = m->reason;
	r->offer = m->offer;
	r->card = m->card;
	r->card_len = m->card_len;
	r->commit = m->commit;
	r->pk = m->pk;
	r->n = m->n;
	r->ct = m->ct;
	r->ct_len = m->ct_len;
	r->code = m->code;
	r->topic = m->topic;
	r->message = m->message[0] != '\0' ? m->message : NULL;
	r->retry_after = m->retry_after;
}

static void compare_error(const cx_reply_msg *m, const cx_reply_msg *b)
{
	FUZZ_CHECK(strcmp(b->topic, m->topic) == 0);
	if(m->code != CX_CODE_NONE) {
		FUZZ_CHECK(b->code == m->code);
		FUZZ_CHECK(strcmp(b->code_name, m->code_name) == 0);
	} else {
		FUZZ_CHECK(b->code == CX_CODE_INTERNAL);
	}
	if(m->message[0] != '\0') {
		FUZZ_CHECK(strcmp(b->message, m->message) == 0);
	} else {
		FUZZ_CHECK(strcmp(b->message, cx_code_message(m->code)) == 0);
	}
	if(b->code == CX_CODE_RATE_LIMITED || b->code == CX_CODE_UNAVAILABLE) {
		/* Both tell when to send again (protocol.md §3.3), at least 1 s. */
		FUZZ_CHECK(b->retry_after == (m->retry_after > 0 ? m->retry_after : 1));
	} else {
		FUZZ_CHECK(b->retry_after == 0);
	}
}

/* Encodes m and decodes the result; the fields the type carries must come back. */
static void check_round_trip(const cx_reply_msg *m)
{
	cx_reply r;
	cx_reply_msg b;
	const char *why = NULL;

	to_reply(m, &r);
	size_t need = cx_reply_encode(&r, NULL, 0);
	FUZZ_CHECK(need > 0);
	char *buf = malloc(need + 1);
	FUZZ_CHECK(buf != NULL);
	FUZZ_CHECK(cx_reply_encode(&r, buf, need + 1) == need && strlen(buf) == need);
	if(cx_reply_decode(buf, need, &b, &why) != CX_CODE_NONE) {
		fprintf(stderr, "re-encoded reply refused: %s\n", why);
		FUZZ_CHECK(!"re-encoded reply decodes");
	}
	FUZZ_CHECK(b.type == m->type);
	FUZZ_CHECK(strcmp(b.ref, m->ref) == 0);
	FUZZ_CHECK(strcmp(b.xid, m->xid) == 0);
	FUZZ_CHECK(strcmp(b.peer, m->peer) == 0);
	FUZZ_CHECK(b.expires_in == m->expires_in);
	FUZZ_CHECK(b.attempts_left == m->attempts_left);
	FUZZ_CHECK(strcmp(b.reason, m->reason) == 0);
	FUZZ_CHECK(b.offer == m->offer);
	FUZZ_CHECK(b.card_len == m->card_len);
	FUZZ_CHECK(m->card == NULL || memcmp(b.card, m->card, m->card_len) == 0);
	FUZZ_CHECK(strcmp(b.commit, m->commit) == 0 && strcmp(b.pk, m->pk) == 0 && strcmp(b.n, m->n) == 0);
	FUZZ_CHECK(b.ct_len == m->ct_len && (m->ct == NULL || memcmp(b.ct, m->ct, m->ct_len) == 0));
	if(m->type == CX_REPLY_ERROR) {
		compare_error(m, &b);
	}
	cx_reply_msg_clear(&b);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cx_reply_msg m;
	const char *why = NULL;
	cx_code code;

	code = cx_reply_decode((const char *)data, size, &m, &why);
	if(code != CX_CODE_NONE) {
		FUZZ_CHECK(code == CX_CODE_BAD_REQUEST || code == CX_CODE_BAD_CARD
				|| code == CX_CODE_INTERNAL);
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		FUZZ_CHECK(fuzz_all_zero(&m, sizeof(m)));
		return 0;
	}
	check_fields(&m);
	check_round_trip(&m);
	cx_reply_msg_clear(&m);
	FUZZ_CHECK(fuzz_all_zero(&m, sizeof(m)));
	return 0;
}
