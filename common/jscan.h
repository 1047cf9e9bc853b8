/*
 * Single-pass strict scanner for card requests ({"exchange":..,"card":..}).
 * It validates the payload as JSON and the "card" value as a jCard in one
 * walk over the bytes, without building a tree or allocating, and reports
 * where the fields are in the payload, so that the card text can be passed
 * on without a copy. Internal to common/ (proto.c); not part of any public API.
 *
 * Accepted JSON is RFC 8259 with the limits of cx_json_parse_object: one
 * object and nothing but whitespace (space, tab, CR, LF) around it, strings
 * of valid UTF-8 with valid escapes (\uXXXX surrogates in pairs), no
 * "\u0000", no raw control characters, no NUL bytes, nesting at most
 * CX_JSON_MAX_DEPTH, numbers of at most CX_JSON_NUMBER_MAX characters.
 */
#ifndef CX_JSCAN_H
#define CX_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* A string member the scan looked for: how often it appeared and its last string value. */
typedef struct {
	unsigned count;   /* members of that name */
	const char *raw;  /* contents (between the quotes) of the last one if a string, else NULL */
	size_t len;
	bool escaped;     /* raw holds escapes */
} cx_jscan_str;

/*
 * What the scan of a card request found. Pointers are into the payload and
 * valid while it is. Members are named case-sensitively, after unescaping.
 */
typedef struct {
	unsigned xid_count;   /* members called "exchange" */
	const char *xid;      /* contents (between the quotes) of the last "exchange" if a string, else NULL */
	size_t xid_len;
	bool xid_escaped;     /* xid holds escapes: read it with cx_jscan_unescape */
	unsigned card_count;  /* members called "card" */
	const char *card;     /* the last "card" value, exactly its bytes; NULL when there is none */
	size_t card_len;
	const char *card_why; /* NULL when that value passes the checks of cx_jcard_check, else its reason */
	/* The members of sealed exchanges (docs/protocol.md §8): a public key, a nonce, a ciphertext. */
	cx_jscan_str pk;
	cx_jscan_str n;
	cx_jscan_str ct;
} cx_jscan_card;

/*
 * Scans payload[0..len). Returns NULL when it is one strict JSON object (see
 * above), with *out filled in; the caller then judges the fields. Otherwise
 * returns a static reason that never quotes the payload, and *out is to be
 * ignored. The "card" value is checked exactly as cx_jcard_check checks a
 * parsed jCard, with the same reasons. Never reads past len; allocates nothing.
 */
const char *cx_jscan_card_request(const char *payload, size_t len, cx_jscan_card *out);

/* The kind of value a member looked for by cx_jscan_object has. */
typedef enum {
	CX_JSCAN_OTHER = 0, /* true, false, null, an array or an object */
	CX_JSCAN_STRING,
	CX_JSCAN_NUMBER
} cx_jscan_kind;

/* A member cx_jscan_object looks for (name, set by the caller) and what it found. */
typedef struct {
	const char *name;   /* the member's name, unescaped: at most 15 bytes */
	unsigned count;     /* members of that name */
	cx_jscan_kind kind; /* of the last one */
	const char *raw;    /* STRING: its contents between the quotes, in the payload */
	size_t len;
	bool escaped;       /* raw holds escapes: read it with cx_jscan_unescape */
	double number;      /* NUMBER: its value, read as cJSON reads it (strtod) */
} cx_jscan_member;

/*
 * Scans payload[0..len) as cx_jscan_card_request does, with the same
 * verdicts on the JSON, for a request of flat members: each of members[0..n)
 * gets how often a member of its name (case-sensitive, after unescaping)
 * appears at the top level and the kind and value of the last one. Returns
 * NULL when the payload is one strict JSON object, else a static reason
 * that never quotes the payload. Never reads past len; allocates nothing.
 */
const char *cx_jscan_object(const char *payload, size_t len, cx_jscan_member *members, size_t n);

/*
 * Decodes the contents raw[0..n) of a string that cx_jscan_card_request
 * accepted into out[cap] as UTF-8 and NUL-terminates it; *len gets the
 * decoded length. Returns false, with out holding an unspecified prefix,
 * when the text needs more than cap - 1 bytes (or cap is 0).
 */
bool cx_jscan_unescape(const char *raw, size_t n, char *out, size_t cap, size_t *len);

#endif
