/*
 * Message codecs of the cardex protocol (docs/protocol.md). One encoder and
 * one decoder per message, used by the plugin and by libcardex alike.
 *
 * Decoders read untrusted bytes: they never read past len, accept only a JSON
 * object with the documented fields and types (unknown fields are ignored),
 * look fields up case-sensitively, and check numbers through their double
 * value. On failure they return a code other than CX_CODE_NONE and set *why
 * (when not NULL) to a static, human-readable reason that never quotes the
 * payload (it may hold a key or a card).
 *
 * Encoders write compact JSON into a caller buffer, snprintf style: they
 * return the length the whole message needs (excluding the NUL); the output
 * is complete and NUL-terminated only when that length is below cap.
 */
#ifndef CX_PROTO_H
#define CX_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "ids.h"
#include "seal.h"

#define CX_KEY_DIGITS_MIN 6
#define CX_KEY_DIGITS_MAX 16
#define CX_TTL_MIN 5
#define CX_TTL_MAX 600
#define CX_TTL_DEFAULT 120
/*
 * The message of the already-sent error that refuses a second public key
 * in a sealed exchange (§8). A terminal sends its key once, so this error
 * only ever answers a QoS 1 resend of it: terminals recognise it by this
 * exact text and do not take it for the refusal of a card.
 */
#define CX_MSG_KEY_ALREADY_SENT "this terminal already sent its key in this exchange"

/* Longest topic echoed back in an error reply; longer ones are cut at a UTF-8 boundary. */
#define CX_ERROR_TOPIC_MAX 200

/* ---- requests (terminal -> plugin) ---- */

/* keys/<own id>: {"key":"483920","ttl":120,"ref":"..."}; ttl and ref optional. */
typedef struct {
	char key[CX_KEY_DIGITS_MAX + 1]; /* 6..16 decimal digits; a secret: wipe after use */
	uint32_t ttl;                    /* seconds; 0 when absent (engine applies its default) */
	char ref[CX_REF_MAX + 1];        /* "" when absent */
} cx_offer_req;

/*
 * claim/<owner id>: {"key":"483920","from":"B","ref":"...","commit":"..."};
 * from, ref and commit optional. commit (sealed exchanges, §8) is the
 * base64url of 32 bytes, 43 characters; the plugin relays it unread.
 */
typedef struct {
	char key[CX_KEY_DIGITS_MAX + 1]; /* secret */
	char from[CX_ID_MAX + 1];        /* "" when absent */
	char ref[CX_REF_MAX + 1];        /* "" when absent */
	char commit[CX_SEAL_B64_32 + 1]; /* "" when absent */
} cx_claim_req;

/* What a request on card/<peer id> carries. */
typedef enum {
	CX_CARD_PLAIN = 0, /* {"exchange":X,"card":<jCard>} */
	CX_CARD_PK,        /* {"exchange":X,"pk":"<43 base64url>"}: a public key (§8) */
	CX_CARD_SEALED     /* {"exchange":X,"n":"<16 base64url>","ct":"<base64url>"}: a sealed card (§8) */
} cx_card_kind;

/*
 * card/<peer id>: {"exchange":"<xid>","card":<jCard>}, or one of the two
 * messages of sealed exchanges (cx_card_kind).
 *
 * The card text is the jCard exactly as the payload spells it, insignificant
 * whitespace included (still one valid JSON value), and it is not
 * NUL-terminated: use card_len. cx_card_decode borrows it from the payload,
 * so it lives as long as the payload does and is never freed or wiped here;
 * a caller that builds a request around its own malloc'ed text sets
 * card_owned, and cx_card_req_clear then wipes and frees it.
 */
typedef struct {
	char xid[CX_XID_HEX + 1];
	cx_card_kind kind;
	const char *card; /* JSON text of the validated jCard; a secret */
	size_t card_len;  /* its length in bytes */
	bool card_owned;  /* card is malloc'ed and belongs to this request */
	char pk[CX_SEAL_B64_32 + 1];      /* CX_CARD_PK */
	char n[CX_SEAL_B64_NONCE + 1];    /* CX_CARD_SEALED */
	const char *ct;   /* CX_CARD_SEALED: base64url text borrowed from the payload, not NUL-terminated */
	size_t ct_len;
} cx_card_req;

/*
 * Decode a request. The key must be 6..16 decimal digits here; a higher
 * operator minimum is the engine's business. ttl outside 5..600 and an
 * invalid from/ref are CX_CODE_BAD_REQUEST.
 * On failure the key is wiped, but out->ref keeps a valid "ref" of the
 * refused payload (else ""), so that the error reply can echo it. Payloads
 * that are not strict JSON (RFC 8259 in UTF-8, see cx_json_parse_object),
 * that hold NUL bytes, "\u0000" in strings, trailing data or nesting deeper
 * than 32, or in which a field the decoder reads appears twice, are refused
 * (CX_CODE_BAD_REQUEST).
 */
cx_code cx_offer_decode(const char *payload, size_t len, cx_offer_req *out, const char **why);
cx_code cx_claim_decode(const char *payload, size_t len, cx_claim_req *out, const char **why);

/*
 * Decode a card request in one pass over the payload (common/jscan.c),
 * without building a tree or allocating. "card" must pass the checks of
 * cx_jcard_check (CX_CODE_BAD_CARD otherwise, with its reason); malformed
 * JSON (the same refusals as cx_offer_decode), a missing or repeated "card"
 * and a missing, repeated or invalid "exchange" are CX_CODE_BAD_REQUEST.
 * On success out->card points at the card value inside payload (borrowed,
 * card_owned false) and out->card_len is its length: nothing needs freeing,
 * but cx_card_req_clear may be called.
 *
 * A payload with "pk" or "n"/"ct" instead of "card" is a message of a
 * sealed exchange: "pk" must be canonical base64url of 32 bytes, "n" of 12
 * bytes, "ct" of at least 16 bytes (CX_SEAL_CT_B64_MIN..CX_SEAL_CT_B64_MAX
 * characters), all written without escapes; out->kind says which, ct is
 * borrowed like card. A payload with more than one of card, pk and n/ct,
 * or with only one of n and ct, is CX_CODE_BAD_REQUEST.
 *
 * On failure out->card is NULL, and
 * out->xid keeps a valid "exchange" of a payload that was valid JSON (else
 * ""), so that the error reply can carry it.
 */
cx_code cx_card_decode(const char *payload, size_t len, cx_card_req *out, const char **why);

/*
 * Wipe the key (offer, claim) or the request (card) and free what is owned:
 * a card's text only when card_owned (borrowed text belongs to its payload).
 */
void cx_offer_req_clear(cx_offer_req *r);
void cx_claim_req_clear(cx_claim_req *r);
void cx_card_req_clear(cx_card_req *r);

/* Encoders for requests. Fields that are "" or 0 are left out. */
size_t cx_offer_encode(const cx_offer_req *r, char *buf, size_t cap);
size_t cx_claim_encode(const cx_claim_req *r, char *buf, size_t cap);
/* card is compact or pretty JSON text of a jCard; it is copied verbatim. */
size_t cx_card_encode(const char *xid, const char *card, size_t card_len, char *buf, size_t cap);
/* {"exchange":X,"pk":pk}: pk is base64url text. */
size_t cx_pk_encode(const char *xid, const char *pk, char *buf, size_t cap);
/* {"exchange":X,"n":n,"ct":ct}: n and ct are base64url text (ct not NUL-terminated). */
size_t cx_sealed_encode(const char *xid, const char *n, const char *ct, size_t ct_len, char *buf,
		size_t cap);

/* ---- replies (plugin -> terminal, on reply/<id>) ---- */

typedef enum {
	CX_REPLY_OFFER = 1, /* {"type":"offer","expires_in":N[,"ref"]} */
	CX_REPLY_MATCH,     /* {"type":"match","exchange":X,"peer":P,"expires_in":N[,"ref"][,"peer_commit"]} */
	CX_REPLY_ATTEMPT,   /* {"type":"attempt","attempts_left":N[,"ref"]} */
	CX_REPLY_REVOKED,   /* {"type":"revoked","reason":"attempts"|"replaced"[,"ref"]} */
	CX_REPLY_CARD,      /* {"type":"card","exchange":X,"from":P,"card":<jCard>} or with "n","ct" instead of "card" */
	CX_REPLY_SENT,      /* {"type":"sent","exchange":X,"to":P} */
	CX_REPLY_EXPIRED,   /* {"type":"expired","offer":true[,"ref"]} or {"type":"expired","exchange":X} */
	CX_REPLY_ERROR,     /* {"type":"error","code":C,"topic":T,"message":M[,"retry_after":S][,"ref"][,"exchange"]} */
	CX_REPLY_PK         /* {"type":"pk","exchange":X,"from":P,"pk":K} */
} cx_reply_type;
#define CX_REPLY__LAST CX_REPLY_PK

/* Wire name of a reply type ("match"), NULL when out of range. */
const char *cx_reply_type_name(cx_reply_type t);

/*
 * A reply to encode. Pointers are borrowed. Which fields are read depends on
 * type, as listed above; optional string fields are skipped when NULL or "".
 */
typedef struct {
	cx_reply_type type;
	const char *ref;      /* echoed request reference: offer, match, attempt, revoked, expired(offer), error */
	const char *xid;      /* match, card, sent, expired(exchange), error (optional) */
	const char *peer;     /* match: peer; card: from; sent: to */
	uint32_t expires_in;  /* offer, match */
	uint32_t attempts_left;
	const char *reason;   /* revoked */
	bool offer;           /* expired: true for an offer, false for an exchange (then xid) */
	const char *card;     /* card: jCard JSON text as the sender wrote it, copied verbatim */
	size_t card_len;
	const char *commit;   /* match: the claimer's commitment, sent to the offerer as "peer_commit" */
	const char *pk;       /* pk */
	const char *n;        /* card: sealed when ct is not NULL, then n and ct instead of card */
	const char *ct;
	size_t ct_len;
	cx_code code;         /* error */
	const char *topic;    /* error: the topic of the refused message (escaped, cut to CX_ERROR_TOPIC_MAX bytes) */
	const char *message;  /* error: NULL means cx_code_message(code) */
	uint32_t retry_after; /* error: only for rate-limited, seconds (>= 1) */
} cx_reply;

/*
 * Returns 0 (and writes "" when cap > 0) when r is NULL or r->type is out of
 * range. An error code outside the table is written as "internal"; a
 * rate-limited error with retry_after 0 is written with retry_after 1.
 */
size_t cx_reply_encode(const cx_reply *r, char *buf, size_t cap);

/* A decoded reply, owning its data. */
typedef struct {
	cx_reply_type type;
	char ref[CX_REF_MAX + 1];
	char xid[CX_XID_HEX + 1];
	char peer[CX_ID_MAX + 1];
	uint32_t expires_in;
	uint32_t attempts_left;
	char reason[32];
	bool offer;
	char *card; /* malloc'ed compact jCard JSON (card replies), wiped by cx_reply_msg_clear */
	size_t card_len;
	char commit[CX_SEAL_B64_32 + 1]; /* match: "peer_commit", "" when absent */
	char pk[CX_SEAL_B64_32 + 1];     /* pk */
	char n[CX_SEAL_B64_NONCE + 1];   /* sealed card */
	char *ct;   /* sealed card: malloc'ed base64url text, NUL-terminated; card is then NULL */
	size_t ct_len;
	cx_code code;      /* CX_CODE_NONE also when the wire name is unknown to this version */
	char code_name[32];
	char topic[CX_ERROR_TOPIC_MAX + 1];
	char message[256];
	uint32_t retry_after;
} cx_reply_msg;

/*
 * Decode a reply. Unknown types are CX_CODE_BAD_REQUEST. A card reply's card
 * must pass cx_jcard_check; a sealed one has "n" and "ct" (canonical
 * base64url of 12 and 16.. bytes) and no "card". "peer_commit" and "pk"
 * must be canonical base64url of 32 bytes. Release with cx_reply_msg_clear. Free text
 * (reason, code_name, topic, message) longer than its field is cut at a
 * UTF-8 boundary; in errors only "code" is required. On failure out is
 * cleared (all zero, nothing allocated).
 */
cx_code cx_reply_decode(const char *payload, size_t len, cx_reply_msg *out, const char **why);
void cx_reply_msg_clear(cx_reply_msg *m);

#endif
