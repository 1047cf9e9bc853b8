/*
 * Message codecs of the cardex protocol. The requests, the plugin's hot
 * path (offers, claims, cards), go through the single-pass scanner in
 * jscan.c and build no tree at all; replies go through the strict front end
 * in json.c and wipe every parsed tree, as a tree may hold a key or a card.
 * Encoders write through the bounded writer, snprintf style.
 */
#include "proto.h"

#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jcard.h"
#include "jscan.h"
#include "json.h"
#include "seal.h"

static void set_why(const char **why, const char *reason)
{
	if(why != NULL) {
		*why = reason;
	}
}

/* ---- field readers: each returns false with *reason set ---- */

/* Optional "ref": copied into out (CX_REF_MAX + 1 bytes) when valid, "" when absent. */
static bool read_ref(const cJSON *root, char *out, const char **reason)
{
	const char *s;
	size_t n;
	cx_json_res res = cx_json_get_string(root, "ref", &s, &n);

	if(res == CX_JSON_ABSENT) {
		return true;
	}
	if(res != CX_JSON_OK || !cx_ref_valid(s, n)) {
		*reason = "\"ref\" is not 1..16 characters of [A-Za-z0-9._-]";
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}

/* Terminal ID field into out (CX_ID_MAX + 1 bytes); "" when absent and optional. */
static bool read_id(const cJSON *root, const char *name, bool required, char *out,
		const char **reason, const char *bad)
{
	const char *s;
	size_t n;
	cx_json_res res = cx_json_get_string(root, name, &s, &n);

	if(res == CX_JSON_ABSENT && !required) {
		return true;
	}
	if(res != CX_JSON_OK || !cx_id_valid(s, n)) {
		*reason = bad;
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}

/* "exchange" field into out (CX_XID_HEX + 1 bytes); "" when absent and optional. */
static bool read_xid(const cJSON *root, bool required, char *out, const char **reason)
{
	const char *s;
	size_t n;
	cx_json_res res = cx_json_get_string(root, "exchange", &s, &n);

	if(res == CX_JSON_ABSENT && !required) {
		return true;
	}
	if(res != CX_JSON_OK || !cx_xid_valid(s, n)) {
		*reason = "\"exchange\" is not 32 lowercase hex digits";
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}

/*
 * Base64url field of a sealed exchange into out (len + 1 bytes): canonical
 * base64url of exactly len characters; "" when absent and optional.
 */
static bool read_b64(const cJSON *root, const char *name, bool required, size_t len, char *out,
		const char **reason, const char *bad)
{
	const char *s;
	size_t n;
	cx_json_res res = cx_json_get_string(root, name, &s, &n);

	if(res == CX_JSON_ABSENT && !required) {
		return true;
	}
	if(res != CX_JSON_OK || n != len || !cx_b64u_valid(s, n)) {
		*reason = bad;
		return false;
	}
	memcpy(out, s, n + 1);
	return true;
}

#define BAD_COMMIT "\"commit\" is not the base64url of 32 bytes"
#define BAD_PK "\"pk\" is not the base64url of 32 bytes"
#define BAD_NONCE "\"n\" is not the base64url of 12 bytes"
#define BAD_CT "\"ct\" is not base64url of 16 bytes or more within the size limit"

/*
 * Free-text field copied into out[cap], cut at a UTF-8 boundary when longer:
 * replies come from a trusted server, and losing a message tail is better
 * than losing the whole reply.
 */
static bool read_text(const cJSON *root, const char *name, bool required, char *out, size_t cap,
		const char **reason, const char *bad)
{
	const char *s;
	size_t n;
	cx_json_res res = cx_json_get_string(root, name, &s, &n);

	if(res == CX_JSON_ABSENT && !required) {
		return true;
	}
	if(res != CX_JSON_OK) {
		*reason = bad;
		return false;
	}
	n = cx_utf8_cut(s, n, cap - 1);
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static bool read_uint(const cJSON *root, const char *name, bool required, uint32_t min,
		uint32_t max, uint32_t *out, const char **reason, const char *bad)
{
	cx_json_res res = cx_json_get_uint32(root, name, min, max, out);

	if(res == CX_JSON_OK || (res == CX_JSON_ABSENT && !required)) {
		return true;
	}
	*reason = bad;
	return false;
}

/*
 * Required "card" of a reply: checked with cx_jcard_check and printed
 * compact into a new buffer. Returns CX_CODE_NONE, BAD_REQUEST (missing),
 * BAD_CARD or INTERNAL (out of memory).
 */
static cx_code read_card(const cJSON *root, size_t hint, char **card, size_t *card_len,
		const char **reason)
{
	const cJSON *item;
	cx_json_res res = cx_json_member(root, "card", &item);

	if(res != CX_JSON_OK) {
		*reason = res == CX_JSON_ABSENT ? "\"card\" is missing" : "\"card\" appears twice";
		return CX_CODE_BAD_REQUEST;
	}
	if(cx_jcard_check(item, reason) != 0) {
		return CX_CODE_BAD_CARD;
	}
	*card = cx_json_print(item, hint, card_len);
	if(*card == NULL) {
		*reason = "out of memory";
		return CX_CODE_INTERNAL;
	}
	return CX_CODE_NONE;
}

/* ---- request decoders ---- */

/*
 * Offers and claims are read in one pass over the payload (common/jscan.c),
 * without a tree: the members below, with the verdicts the tree readers
 * above give (a member twice, or of the wrong type, is refused like an
 * invalid value). Strings are unescaped into out[cap] first; one that does
 * not fit is longer than any valid value of its field.
 */
static cx_json_res flat_string(const cx_jscan_member *m, char *out, size_t cap, size_t *len)
{
	if(m->count == 0) {
		return CX_JSON_ABSENT;
	}
	if(m->count > 1 || m->kind != CX_JSCAN_STRING) {
		return CX_JSON_BAD;
	}
	if(m->escaped) {
		return cx_jscan_unescape(m->raw, m->len, out, cap, len) ? CX_JSON_OK : CX_JSON_BAD;
	}
	if(m->len >= cap) {
		return CX_JSON_BAD;
	}
	memcpy(out, m->raw, m->len);
	out[m->len] = '\0';
	*len = m->len;
	return CX_JSON_OK;
}

/* Optional "ref" into out (CX_REF_MAX + 1 bytes): valid or "", as read_ref gives it. */
static bool flat_ref(const cx_jscan_member *m, char *out, const char **reason)
{
	size_t n = 0;
	cx_json_res res = flat_string(m, out, CX_REF_MAX + 1, &n);

	if(res == CX_JSON_ABSENT) {
		return true;
	}
	if(res != CX_JSON_OK || !cx_ref_valid(out, n)) {
		memset(out, 0, CX_REF_MAX + 1);
		*reason = "\"ref\" is not 1..16 characters of [A-Za-z0-9._-]";
		return false;
	}
	return true;
}

/* Required "key": 6..16 decimal digits into out (CX_KEY_DIGITS_MAX + 1 bytes); wiped by the caller on failure. */
static bool flat_key(const cx_jscan_member *m, char *out, const char **reason)
{
	size_t n = 0;
	cx_json_res res = flat_string(m, out, CX_KEY_DIGITS_MAX + 1, &n);

	if(res == CX_JSON_ABSENT) {
		*reason = "\"key\" is missing";
		return false;
	}
	if(res != CX_JSON_OK || !cx_key_valid(out, n, CX_KEY_DIGITS_MIN)) {
		*reason = "\"key\" is not a string of 6 to 16 decimal digits";
		return false;
	}
	return true;
}

cx_code cx_offer_decode(const char *payload, size_t len, cx_offer_req *out, const char **why)
{
	cx_code rc = CX_CODE_BAD_REQUEST;
	const char *reason = "bad arguments";
	cx_jscan_member m[] = {{.name = "ref"}, {.name = "key"}, {.name = "ttl"}};

	if(out == NULL) {
		goto cleanup;
	}
	memset(out, 0, sizeof(*out));
	reason = cx_jscan_object(payload, len, m, sizeof(m) / sizeof(m[0]));
	if(reason != NULL || !flat_ref(&m[0], out->ref, &reason) || !flat_key(&m[1], out->key, &reason)) {
		goto cleanup;
	}
	if(m[2].count > 0 && (m[2].count > 1 || m[2].kind != CX_JSCAN_NUMBER
			|| !cx_json_uint32_of(m[2].number, CX_TTL_MIN, CX_TTL_MAX, &out->ttl))) {
		reason = "\"ttl\" is not an integer from 5 to 600";
		goto cleanup;
	}
	rc = CX_CODE_NONE;
cleanup:
	if(rc != CX_CODE_NONE) {
		if(out != NULL) {
			cx_wipe(out->key, sizeof(out->key));
			out->ttl = 0;
		}
		set_why(why, reason);
	}
	return rc;
}

cx_code cx_claim_decode(const char *payload, size_t len, cx_claim_req *out, const char **why)
{
	cx_code rc = CX_CODE_BAD_REQUEST;
	const char *reason = "bad arguments";
	cx_jscan_member m[] = {{.name = "ref"}, {.name = "key"}, {.name = "from"}, {.name = "commit"}};
	size_t n = 0;
	cx_json_res res;

	if(out == NULL) {
		goto cleanup;
	}
	memset(out, 0, sizeof(*out));
	reason = cx_jscan_object(payload, len, m, sizeof(m) / sizeof(m[0]));
	if(reason != NULL || !flat_ref(&m[0], out->ref, &reason) || !flat_key(&m[1], out->key, &reason)) {
		goto cleanup;
	}
	res = flat_string(&m[2], out->from, sizeof(out->from), &n);
	if(res == CX_JSON_BAD || (res == CX_JSON_OK && !cx_id_valid(out->from, n))) {
		reason = "\"from\" is not a valid terminal ID";
		goto cleanup;
	}
	res = flat_string(&m[3], out->commit, sizeof(out->commit), &n);
	if(res == CX_JSON_BAD || (res == CX_JSON_OK && (n != CX_SEAL_B64_32 || !cx_b64u_valid(out->commit, n)))) {
		reason = BAD_COMMIT;
		goto cleanup;
	}
	rc = CX_CODE_NONE;
cleanup:
	if(rc != CX_CODE_NONE) {
		if(out != NULL) {
			cx_wipe(out->key, sizeof(out->key));
			memset(out->from, 0, sizeof(out->from));
			memset(out->commit, 0, sizeof(out->commit));
		}
		set_why(why, reason);
	}
	return rc;
}

/*
 * The "exchange" the scan found into out (CX_XID_HEX + 1 bytes): exactly one
 * member of that name, a string of 32 lowercase hex digits once unescaped.
 */
static bool take_xid(const cx_jscan_card *scan, char *out)
{
	char buf[CX_XID_HEX + 1];
	const char *s = scan->xid;
	size_t n = scan->xid_len;

	if(scan->xid_count != 1 || s == NULL) {
		return false;
	}
	if(scan->xid_escaped) {
		if(!cx_jscan_unescape(s, n, buf, sizeof(buf), &n)) {
			return false;
		}
		s = buf;
	}
	if(!cx_xid_valid(s, n)) {
		return false;
	}
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

/*
 * A recorded base64url member into out (len + 1 bytes): one member, a
 * string without escapes, exactly len canonical characters.
 */
static bool take_b64(const cx_jscan_str *rec, size_t len, char *out)
{
	if(rec->count != 1 || rec->raw == NULL || rec->escaped || rec->len != len
			|| !cx_b64u_valid(rec->raw, rec->len)) {
		return false;
	}
	memcpy(out, rec->raw, len);
	out[len] = '\0';
	return true;
}

/* The sealed-exchange members of a scanned card request into out; NULL or the reason. */
static const char *take_sealed(const cx_jscan_card *scan, cx_card_req *out)
{
	const cx_jscan_str *ct = &scan->ct;

	if(scan->pk.count > 0) {
		if(scan->n.count > 0 || ct->count > 0) {
			return "a card request holds exactly one of \"card\", \"pk\" or \"n\" with \"ct\"";
		}
		if(!take_b64(&scan->pk, CX_SEAL_B64_32, out->pk)) {
			return BAD_PK;
		}
		out->kind = CX_CARD_PK;
		return NULL;
	}
	if(scan->n.count == 0 || ct->count == 0) {
		return scan->n.count == 0 ? "\"n\" is missing" : "\"ct\" is missing";
	}
	if(!take_b64(&scan->n, CX_SEAL_B64_NONCE, out->n)) {
		return BAD_NONCE;
	}
	if(ct->count != 1 || ct->raw == NULL || ct->escaped || ct->len < CX_SEAL_CT_B64_MIN
			|| ct->len > CX_SEAL_CT_B64_MAX || !cx_b64u_valid(ct->raw, ct->len)) {
		return BAD_CT;
	}
	out->kind = CX_CARD_SEALED;
	out->ct = ct->raw;
	out->ct_len = ct->len;
	return NULL;
}

cx_code cx_card_decode(const char *payload, size_t len, cx_card_req *out, const char **why)
{
	cx_code rc = CX_CODE_BAD_REQUEST;
	const char *reason = "bad arguments";
	cx_jscan_card scan;

	if(out == NULL) {
		goto cleanup;
	}
	memset(out, 0, sizeof(*out));
	/* The same verdicts, in the same order, as parse + read_xid + read_card would give. */
	reason = cx_jscan_card_request(payload, len, &scan);
	if(reason != NULL) {
		goto cleanup;
	}
	if(!take_xid(&scan, out->xid)) {
		reason = "\"exchange\" is not 32 lowercase hex digits";
		goto cleanup;
	}
	if(scan.card_count == 0 && (scan.pk.count > 0 || scan.n.count > 0 || scan.ct.count > 0)) {
		reason = take_sealed(&scan, out);
		if(reason == NULL) {
			rc = CX_CODE_NONE;
		}
		goto cleanup;
	}
	if(scan.card_count != 1) {
		reason = scan.card_count == 0 ? "\"card\" is missing" : "\"card\" appears twice";
		goto cleanup;
	}
	if(scan.pk.count > 0 || scan.n.count > 0 || scan.ct.count > 0) {
		reason = "a card request holds exactly one of \"card\", \"pk\" or \"n\" with \"ct\"";
		goto cleanup;
	}
	if(scan.card_why != NULL) {
		rc = CX_CODE_BAD_CARD;
		reason = scan.card_why;
		goto cleanup;
	}
	/* Borrowed: the payload outlives the request, and the reply copies the text once. */
	out->card = scan.card;
	out->card_len = scan.card_len;
	out->card_owned = false;
	rc = CX_CODE_NONE;
cleanup:
	/* out->xid stays set when it was valid: error replies echo it. */
	if(rc != CX_CODE_NONE) {
		if(out != NULL) {
			out->kind = CX_CARD_PLAIN;
			out->ct = NULL;
			out->ct_len = 0;
		}
		set_why(why, reason);
	}
	return rc;
}

void cx_offer_req_clear(cx_offer_req *r)
{
	if(r != NULL) {
		cx_wipe(r, sizeof(*r));
	}
}

void cx_claim_req_clear(cx_claim_req *r)
{
	if(r != NULL) {
		cx_wipe(r, sizeof(*r));
	}
}

void cx_card_req_clear(cx_card_req *r)
{
	if(r == NULL) {
		return;
	}
	if(r->card_owned && r->card != NULL) {
		/* Owned text was malloc'ed as char *; only its borrowers see it const. */
		char *text = (char *)r->card;
		cx_wipe(text, r->card_len);
		free(text);
	}
	cx_wipe(r, sizeof(*r));
}

/* ---- encoders ---- */

/* A JSON object being written: tracks whether a comma is due. */
typedef struct {
	cx_jw w;
	bool first;
} objw;

static void ow_begin(objw *o, char *buf, size_t cap)
{
	cx_jw_init(&o->w, buf, cap);
	cx_jw_raw(&o->w, "{", 1);
	o->first = true;
}

/*
 * Member names are literals that need no escape, written with their comma,
 * quotes and colon in one piece: ,"name": (the comma left out for the first
 * member). The macros pass the literal's length along.
 */
#define KEY_LIT(name) ",\"" name "\":", sizeof(",\"" name "\":") - 1

static void ow_key_lit(objw *o, const char *lit, size_t n)
{
	if(o->first) {
		lit++;
		n--;
	}
	cx_jw_raw(&o->w, lit, n);
	o->first = false;
}

/* Always written; NULL is written as "". */
static void ow_str_lit(objw *o, const char *lit, size_t n, const char *v)
{
	ow_key_lit(o, lit, n);
	cx_jw_str(&o->w, v);
}

/* Left out when NULL or "". */
static void ow_opt_str_lit(objw *o, const char *lit, size_t n, const char *v)
{
	if(v != NULL && v[0] != '\0') {
		ow_str_lit(o, lit, n, v);
	}
}

static void ow_uint_lit(objw *o, const char *lit, size_t n, uint64_t v)
{
	ow_key_lit(o, lit, n);
	cx_jw_uint(&o->w, v);
}

#define ow_key(o, name) ow_key_lit((o), KEY_LIT(name))
#define ow_str(o, name, v) ow_str_lit((o), KEY_LIT(name), (v))
#define ow_opt_str(o, name, v) ow_opt_str_lit((o), KEY_LIT(name), (v))
#define ow_uint(o, name, v) ow_uint_lit((o), KEY_LIT(name), (v))

static size_t ow_end(objw *o)
{
	cx_jw_raw(&o->w, "}", 1);
	return cx_jw_finish(&o->w);
}

size_t cx_offer_encode(const cx_offer_req *r, char *buf, size_t cap)
{
	objw o;

	ow_begin(&o, buf, cap);
	ow_opt_str(&o, "key", r->key);
	if(r->ttl != 0) {
		ow_uint(&o, "ttl", r->ttl);
	}
	ow_opt_str(&o, "ref", r->ref);
	return ow_end(&o);
}

size_t cx_claim_encode(const cx_claim_req *r, char *buf, size_t cap)
{
	objw o;

	ow_begin(&o, buf, cap);
	ow_opt_str(&o, "key", r->key);
	ow_opt_str(&o, "from", r->from);
	ow_opt_str(&o, "ref", r->ref);
	ow_opt_str(&o, "commit", r->commit);
	return ow_end(&o);
}

size_t cx_card_encode(const char *xid, const char *card, size_t card_len, char *buf, size_t cap)
{
	objw o;

	ow_begin(&o, buf, cap);
	ow_str(&o, "exchange", xid);
	ow_key(&o, "card");
	if(card != NULL) {
		cx_jw_raw(&o.w, card, card_len);
	} else {
		cx_jw_lit(&o.w, "null");
	}
	return ow_end(&o);
}

size_t cx_pk_encode(const char *xid, const char *pk, char *buf, size_t cap)
{
	objw o;

	ow_begin(&o, buf, cap);
	ow_str(&o, "exchange", xid);
	ow_str(&o, "pk", pk);
	return ow_end(&o);
}

size_t cx_sealed_encode(const char *xid, const char *n, const char *ct, size_t ct_len, char *buf,
		size_t cap)
{
	objw o;

	ow_begin(&o, buf, cap);
	ow_str(&o, "exchange", xid);
	ow_str(&o, "n", n);
	ow_key(&o, "ct");
	/* Base64url needs no escapes. */
	cx_jw_raw(&o.w, "\"", 1);
	if(ct != NULL) {
		cx_jw_raw(&o.w, ct, ct_len);
	}
	cx_jw_raw(&o.w, "\"", 1);
	return ow_end(&o);
}

/* Every reply type with its wire name. */
#define REPLY_TYPES(X) \
	X(CX_REPLY_OFFER, "offer") \
	X(CX_REPLY_MATCH, "match") \
	X(CX_REPLY_ATTEMPT, "attempt") \
	X(CX_REPLY_REVOKED, "revoked") \
	X(CX_REPLY_CARD, "card") \
	X(CX_REPLY_SENT, "sent") \
	X(CX_REPLY_EXPIRED, "expired") \
	X(CX_REPLY_ERROR, "error") \
	X(CX_REPLY_PK, "pk")

#define REPLY_NAME(t, name) [t] = name,
static const char *const reply_names[] = {
	REPLY_TYPES(REPLY_NAME)
};
#undef REPLY_NAME

/* The opening of each reply, {"type":"<name>", written in one piece. */
typedef struct {
	const char *text;
	size_t len;
} reply_frame;

#define FRAME_TEXT(name) "{\"type\":\"" name "\""
#define REPLY_FRAME(t, name) [t] = {FRAME_TEXT(name), sizeof(FRAME_TEXT(name)) - 1},
static const reply_frame reply_frames[] = {
	REPLY_TYPES(REPLY_FRAME)
};
#undef REPLY_FRAME
#undef FRAME_TEXT

const char *cx_reply_type_name(cx_reply_type t)
{
	if((int)t < (int)CX_REPLY_OFFER || (int)t > (int)CX_REPLY__LAST) {
		return NULL;
	}
	return reply_names[t];
}

static void encode_error(objw *o, const cx_reply *r)
{
	const char *name = cx_code_name(r->code);
	const char *topic = r->topic != NULL ? r->topic : "";
	const char *message = r->message != NULL ? r->message : cx_code_message(r->code);

	/* A code outside the table is a server bug; the client still sees an error. */
	ow_str(o, "code", name != NULL ? name : "internal");
	ow_key(o, "topic");
	cx_jw_strn(&o->w, topic, cx_utf8_cut(topic, strlen(topic), CX_ERROR_TOPIC_MAX));
	ow_str(o, "message", message);
	if(r->code == CX_CODE_RATE_LIMITED || r->code == CX_CODE_UNAVAILABLE) {
		/* 0 would invite an immediate retry; the protocol promises at least 1. */
		ow_uint(o, "retry_after", r->retry_after > 0 ? r->retry_after : 1);
	}
	ow_opt_str(o, "ref", r->ref);
	ow_opt_str(o, "exchange", r->xid);
}

size_t cx_reply_encode(const cx_reply *r, char *buf, size_t cap)
{
	objw o;
	const char *type = r != NULL ? cx_reply_type_name(r->type) : NULL;

	if(type == NULL) {
		if(buf != NULL && cap > 0) {
			buf[0] = '\0';
		}
		return 0;
	}
	cx_jw_init(&o.w, buf, cap);
	cx_jw_raw(&o.w, reply_frames[r->type].text, reply_frames[r->type].len);
	o.first = false;
	switch(r->type) {
	case CX_REPLY_OFFER:
		ow_uint(&o, "expires_in", r->expires_in);
		ow_opt_str(&o, "ref", r->ref);
		break;
	case CX_REPLY_MATCH:
		ow_str(&o, "exchange", r->xid);
		ow_str(&o, "peer", r->peer);
		ow_uint(&o, "expires_in", r->expires_in);
		ow_opt_str(&o, "ref", r->ref);
		ow_opt_str(&o, "peer_commit", r->commit);
		break;
	case CX_REPLY_ATTEMPT:
		ow_uint(&o, "attempts_left", r->attempts_left);
		ow_opt_str(&o, "ref", r->ref);
		break;
	case CX_REPLY_REVOKED:
		ow_str(&o, "reason", r->reason);
		ow_opt_str(&o, "ref", r->ref);
		break;
	case CX_REPLY_CARD:
		ow_str(&o, "exchange", r->xid);
		ow_str(&o, "from", r->peer);
		if(r->ct != NULL) {
			ow_str(&o, "n", r->n);
			ow_key(&o, "ct");
			cx_jw_raw(&o.w, "\"", 1);
			cx_jw_raw(&o.w, r->ct, r->ct_len);
			cx_jw_raw(&o.w, "\"", 1);
			break;
		}
		ow_key(&o, "card");
		if(r->card != NULL) {
			cx_jw_raw(&o.w, r->card, r->card_len);
		} else {
			cx_jw_lit(&o.w, "null");
		}
		break;
	case CX_REPLY_SENT:
		ow_str(&o, "exchange", r->xid);
		ow_str(&o, "to", r->peer);
		break;
	case CX_REPLY_EXPIRED:
		if(r->offer) {
			ow_key(&o, "offer");
			cx_jw_lit(&o.w, "true");
			ow_opt_str(&o, "ref", r->ref);
		} else {
			ow_str(&o, "exchange", r->xid);
		}
		break;
	case CX_REPLY_ERROR:
		encode_error(&o, r);
		break;
	case CX_REPLY_PK:
		ow_str(&o, "exchange", r->xid);
		ow_str(&o, "from", r->peer);
		ow_str(&o, "pk", r->pk);
		break;
	}
	return ow_end(&o);
}

/* ---- reply decoder ---- */

#define BAD_PEER "peer ID is missing or not a valid terminal ID"
#define BAD_NUM "a number field is missing or not an integer in range"

static cx_code decode_expired(const cJSON *root, cx_reply_msg *out, const char **reason)
{
	cx_json_res res = cx_json_get_bool(root, "offer", &out->offer);

	if(res == CX_JSON_BAD) {
		*reason = "\"offer\" is not a boolean";
		return CX_CODE_BAD_REQUEST;
	}
	if(res == CX_JSON_OK && out->offer) {
		return read_ref(root, out->ref, reason) ? CX_CODE_NONE : CX_CODE_BAD_REQUEST;
	}
	out->offer = false;
	return read_xid(root, true, out->xid, reason) ? CX_CODE_NONE : CX_CODE_BAD_REQUEST;
}

/* The "n" and "ct" of a sealed card reply; ct is copied into a new buffer. */
static cx_code read_sealed(const cJSON *root, cx_reply_msg *out, const char **reason)
{
	const char *s;
	size_t n;

	if(!read_b64(root, "n", true, CX_SEAL_B64_NONCE, out->n, reason, BAD_NONCE)) {
		return CX_CODE_BAD_REQUEST;
	}
	if(cx_json_get_string(root, "ct", &s, &n) != CX_JSON_OK || n < CX_SEAL_CT_B64_MIN
			|| n > CX_SEAL_CT_B64_MAX || !cx_b64u_valid(s, n)) {
		*reason = BAD_CT;
		return CX_CODE_BAD_REQUEST;
	}
	out->ct = malloc(n + 1);
	if(out->ct == NULL) {
		*reason = "out of memory";
		return CX_CODE_INTERNAL;
	}
	memcpy(out->ct, s, n + 1);
	out->ct_len = n;
	return CX_CODE_NONE;
}

static cx_code decode_error(const cJSON *root, cx_reply_msg *out, const char **reason)
{
	if(!read_text(root, "code", true, out->code_name, sizeof(out->code_name), reason,
			"\"code\" is missing or not a string")
			|| !read_text(root, "topic", false, out->topic, sizeof(out->topic), reason,
				"\"topic\" is not a string")
			|| !read_text(root, "message", false, out->message, sizeof(out->message), reason,
				"\"message\" is not a string")
			|| !read_uint(root, "retry_after", false, 0, UINT32_MAX, &out->retry_after, reason,
				"\"retry_after\" is not an integer in range")
			|| !read_ref(root, out->ref, reason) || !read_xid(root, false, out->xid, reason)) {
		return CX_CODE_BAD_REQUEST;
	}
	out->code = cx_code_from_name(out->code_name, strlen(out->code_name));
	return CX_CODE_NONE;
}

static cx_code decode_reply_body(const cJSON *root, size_t len, cx_reply_msg *out,
		const char **reason)
{
	const cJSON *item;
	bool ok = true;

	switch(out->type) {
	case CX_REPLY_OFFER:
		ok = read_uint(root, "expires_in", true, 0, UINT32_MAX, &out->expires_in, reason, BAD_NUM)
			&& read_ref(root, out->ref, reason);
		break;
	case CX_REPLY_MATCH:
		ok = read_xid(root, true, out->xid, reason)
			&& read_id(root, "peer", true, out->peer, reason, BAD_PEER)
			&& read_uint(root, "expires_in", true, 0, UINT32_MAX, &out->expires_in, reason, BAD_NUM)
			&& read_ref(root, out->ref, reason)
			&& read_b64(root, "peer_commit", false, CX_SEAL_B64_32, out->commit, reason, BAD_COMMIT);
		break;
	case CX_REPLY_ATTEMPT:
		ok = read_uint(root, "attempts_left", true, 0, UINT32_MAX, &out->attempts_left, reason,
				BAD_NUM)
			&& read_ref(root, out->ref, reason);
		break;
	case CX_REPLY_REVOKED:
		ok = read_text(root, "reason", true, out->reason, sizeof(out->reason), reason,
				"\"reason\" is missing or not a string")
			&& read_ref(root, out->ref, reason);
		break;
	case CX_REPLY_CARD:
		if(!read_xid(root, true, out->xid, reason)
				|| !read_id(root, "from", true, out->peer, reason, BAD_PEER)) {
			return CX_CODE_BAD_REQUEST;
		}
		if(cx_json_member(root, "card", &item) == CX_JSON_ABSENT
				&& cx_json_member(root, "ct", &item) != CX_JSON_ABSENT) {
			return read_sealed(root, out, reason);
		}
		return read_card(root, len, &out->card, &out->card_len, reason);
	case CX_REPLY_SENT:
		ok = read_xid(root, true, out->xid, reason)
			&& read_id(root, "to", true, out->peer, reason, BAD_PEER);
		break;
	case CX_REPLY_EXPIRED:
		return decode_expired(root, out, reason);
	case CX_REPLY_ERROR:
		return decode_error(root, out, reason);
	case CX_REPLY_PK:
		ok = read_xid(root, true, out->xid, reason)
			&& read_id(root, "from", true, out->peer, reason, BAD_PEER)
			&& read_b64(root, "pk", true, CX_SEAL_B64_32, out->pk, reason, BAD_PK);
		break;
	}
	return ok ? CX_CODE_NONE : CX_CODE_BAD_REQUEST;
}

static bool reply_type_from_name(const char *s, cx_reply_type *t)
{
	for(int i = CX_REPLY_OFFER; i <= CX_REPLY__LAST; i++) {
		if(strcmp(reply_names[i], s) == 0) {
			*t = (cx_reply_type)i;
			return true;
		}
	}
	return false;
}

cx_code cx_reply_decode(const char *payload, size_t len, cx_reply_msg *out, const char **why)
{
	cx_code rc = CX_CODE_BAD_REQUEST;
	const char *reason = "bad arguments";
	const char *type;
	cJSON *root = NULL;

	if(out == NULL) {
		goto cleanup;
	}
	memset(out, 0, sizeof(*out));
	root = cx_json_parse_object(payload, len, &reason);
	if(root == NULL) {
		goto cleanup;
	}
	if(cx_json_get_string(root, "type", &type, NULL) != CX_JSON_OK) {
		reason = "\"type\" is missing or not a string";
		goto cleanup;
	}
	if(!reply_type_from_name(type, &out->type)) {
		reason = "unknown reply type";
		goto cleanup;
	}
	rc = decode_reply_body(root, len, out, &reason);
cleanup:
	cx_json_delete(root);
	if(rc != CX_CODE_NONE) {
		cx_reply_msg_clear(out);
		set_why(why, reason);
	}
	return rc;
}

void cx_reply_msg_clear(cx_reply_msg *m)
{
	if(m == NULL) {
		return;
	}
	if(m->card != NULL) {
		cx_wipe(m->card, m->card_len);
		free(m->card);
	}
	if(m->ct != NULL) {
		cx_wipe(m->ct, m->ct_len);
		free(m->ct);
	}
	cx_wipe(m, sizeof(*m));
}
