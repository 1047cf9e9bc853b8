/*
 * Internal JSON helpers shared by the codecs in common/: a strict front end
 * for parsing untrusted payloads with cJSON, typed field getters, a wiping
 * delete for trees that held secrets, and a bounded writer for encoders.
 * Not part of any public API.
 */
#ifndef CX_JSON_H
#define CX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Deepest nesting of arrays/objects accepted in an untrusted payload. */
#define CX_JSON_MAX_DEPTH 32

/*
 * Longest number accepted, in characters. cJSON 1.7.15 refuses longer ones
 * and builds with the CVE-2023-26819 fix accept them; the scan refuses them
 * so that the verdict does not depend on the cJSON build. No protocol field
 * or sensible card value comes near it.
 */
#define CX_JSON_NUMBER_MAX 63

/*
 * Quick pre-parse scan of s[0..len). Refuses (returns false, *why set) NUL
 * bytes anywhere, raw control characters or "\u0000" inside strings (so that
 * every parsed string is exactly its strlen), and nesting deeper than
 * max_depth, so cJSON's recursive parser never recurses deeply. Brackets
 * inside strings do not count. It also refuses what cJSON would let through
 * although RFC 8259 does not: control characters other than tab, CR and LF
 * outside strings (cJSON skips them as whitespace), any byte >= 0x80 outside
 * strings (cJSON skips a leading byte order mark), "\u" not followed by four
 * hex digits (cJSON reads it as U+0000, a hidden NUL), and numbers outside
 * the RFC grammar ("01", "1.", "-.5", "1.e3") or longer than
 * CX_JSON_NUMBER_MAX. It does not otherwise validate the JSON, nor the UTF-8
 * of strings (see cx_utf8_valid).
 */
bool cx_json_scan(const char *s, size_t len, unsigned max_depth, const char **why);

/*
 * Parses untrusted payload[0..len) that must be one JSON object, with only
 * whitespace after it, in valid UTF-8 (cx_utf8_valid). Returns the tree (free
 * with cx_json_delete), or NULL with *why (when not NULL) set to a static
 * reason. With cx_json_scan in front of cJSON it accepts exactly RFC 8259
 * JSON without "\u0000", nested at most CX_JSON_MAX_DEPTH, with numbers of
 * at most CX_JSON_NUMBER_MAX characters.
 */
cJSON *cx_json_parse_object(const char *payload, size_t len, const char **why);

/* Overwrites every string, name and number in the tree (bounded by its depth). */
void cx_json_wipe(cJSON *item);

/* cx_json_wipe then cJSON_Delete; accepts NULL. */
void cx_json_delete(cJSON *item);

/* Result of a typed getter. */
typedef enum {
	CX_JSON_OK = 0,
	CX_JSON_ABSENT, /* no member of that name (case-sensitive) */
	CX_JSON_BAD     /* wrong type, out of range, or the name appears twice */
} cx_json_res;

/*
 * Finds the member called name (case-sensitive) in object obj. A name that
 * occurs more than once is CX_JSON_BAD, so that no two parsers can read
 * different values from one payload.
 */
cx_json_res cx_json_member(const cJSON *obj, const char *name, const cJSON **out);

/* String member: *out points into the tree, *len is its strlen (len may be NULL). */
cx_json_res cx_json_get_string(const cJSON *obj, const char *name, const char **out, size_t *len);

/* Integer member in [min, max], checked through valuedouble (finite, integral). */
cx_json_res cx_json_get_uint32(const cJSON *obj, const char *name, uint32_t min, uint32_t max,
		uint32_t *out);

/* Whether v is an integer within min..max (then in *out), judged as cx_json_get_uint32 does. */
bool cx_json_uint32_of(double v, uint32_t min, uint32_t max, uint32_t *out);

/* Boolean member (true or false only). */
cx_json_res cx_json_get_bool(const cJSON *obj, const char *name, bool *out);

/*
 * Compact JSON text of item in a malloc'ed buffer that is wiped if it has to
 * be given up (cJSON's own printer reallocates without wiping). *len gets
 * the strlen. Returns NULL when memory runs out or printing fails; the
 * caller frees the result (wiping it when it is a secret).
 */
char *cx_json_print(const cJSON *item, size_t hint, size_t *len);

/*
 * Bounded writer: writes what fits into buf[cap] (always NUL-terminated when
 * cap > 0) and counts the full length, snprintf style.
 */
typedef struct {
	char *buf;
	size_t cap;
	size_t len; /* bytes the full output needs, excluding the NUL */
} cx_jw;

void cx_jw_init(cx_jw *w, char *buf, size_t cap);
/* Append n raw bytes. */
void cx_jw_raw(cx_jw *w, const char *s, size_t n);
/* Append a NUL-terminated literal. */
void cx_jw_lit(cx_jw *w, const char *s);
/* Append s[0..n) as a quoted JSON string: '"', '\\' and control characters escaped. */
void cx_jw_strn(cx_jw *w, const char *s, size_t n);
/* Same, for a NUL-terminated string (NULL writes ""). */
void cx_jw_str(cx_jw *w, const char *s);
/* Append v in decimal. */
void cx_jw_uint(cx_jw *w, uint64_t v);
/* Append ,"name": (or "name": for the first member: when first, no comma). */
void cx_jw_key(cx_jw *w, const char *name, bool first);
/* The full length; the buffer holds it completely when the result is below cap. */
size_t cx_jw_finish(const cx_jw *w);

/* Largest n <= max such that s[0..n) ends on a UTF-8 character boundary of s[0..len). */
size_t cx_utf8_cut(const char *s, size_t len, size_t max);

/*
 * Length (1 to 4) of the well-formed UTF-8 character (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF) that starts s[0..avail), or 0
 * when there is none (avail 0 included).
 */
size_t cx_utf8_next(const char *s, size_t avail);

/* Whether s[0..len) is well-formed UTF-8 throughout. */
bool cx_utf8_valid(const char *s, size_t len);

#endif
