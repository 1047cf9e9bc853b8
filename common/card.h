/*
 * The card model: a business card as an ordered list of vCard 4.0
 * properties (RFC 6350), with conversions to and from jCard (RFC 7095, the
 * wire format). vcard.h reads and writes the vCard text form.
 *
 * A card holds every property except VERSION, which is always 4.0: readers
 * check it and drop it, writers put it first. Each property has
 *   - a group ("" when none; "item1" for "item1.TEL"),
 *   - a lowercase name ("tel", "x-socialprofile"),
 *   - a lowercase value type ("text", "uri", "date-and-or-time", ...; the
 *     VALUE parameter of vCard text, the third element of a jCard property;
 *     "unknown" for a property of unknown type, whose value is then kept
 *     exactly as written, escapes included, per RFC 7095 section 5),
 *   - parameters in order, each a lowercase name and one or more values,
 *   - one or more values (CATEGORIES:a,b has two), each a list of one or more
 *     components (N:Lovelace;Ada;;; has five), each a list of one or more
 *     strings (ADR street "Main St,Suite 1" has two).
 * A plain value is one component holding one string. Strings are UTF-8
 * without escapes, except in "unknown" values, and hold no carriage return
 * (a jCard's CRLF or CR is read as a newline, the only line break vCard text
 * has). Date and time values are held in the vCard basic form ("19850412",
 * "T1022", "-0500"); the jCard conversion turns them into the extended form
 * ("1985-04-12") and back.
 *
 * What a property may hold follows from its name and value type, so that
 * its vCard text (vcard.h) reads back as the same property and its jCard
 * passes cx_jcard_check:
 *   - text values (RFC 6350 section 6): FN, NOTE, TEL and the other
 *     single-valued properties hold one plain value; NICKNAME and CATEGORIES
 *     one or more plain values (written "a,b"); ORG, GENDER and CLIENTPIDMAP
 *     one value of components of one string each ("a;b"); N and ADR one
 *     value of components of one or more strings each ("a;b,c"). A property
 *     of no known name (X-FOO;VALUE=text) holds either plain values ("a,b")
 *     or one value of two or more components ("a;b,c"), which vCard text
 *     tells apart by an unescaped ';'. Text is escaped, so any string fits.
 *   - values of other types are written as they stand, without escapes, so
 *     each is one string. A property of a known name holds one. A property of
 *     no known name holds one, or for the list types integer, float, date,
 *     time, date-time, date-and-or-time and timestamp (RFC 6350 section 4)
 *     one or more, separated by ',' in vCard text: their strings hold no ','.
 *   - FN is of type text (RFC 6350 section 6.2.1; the plugin wants a string);
 *     "unknown" is the type of properties of no known name only (RFC 7095
 *     section 5), as vCard text cannot say it for a known one.
 *   - TYPE and SORT-AS parameter values hold no ',': vCard text writes
 *     these parameters as ','-separated lists, quoted or not (RFC 6350
 *     writes TYPE="voice,home"), so a ',' would split the value.
 *   - BEGIN and END are no property names (they delimit the vCard).
 * The readers refuse what breaks these rules, naming the property
 * (CX_CARD_E_PROPERTY; BEGIN or END in vCard text: CX_CARD_E_BEGIN_END), and
 * cx_card_set refuses it (CX_CARD_E_INVALID).
 *
 * Properties reached through cx_card_prop_at/cx_card_find are read-only and
 * stay valid until the card is changed or freed. Card contents are personal
 * data: free wipes them, and error messages never quote them.
 */
#ifndef CX_CARD_H
#define CX_CARD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * Most properties in one card, VERSION included: the bound of
 * cx_jcard_check, so that every card's jCard passes it. A card holds at most
 * CX_CARD_MAX_PROPS - 1 properties besides VERSION.
 */
#define CX_CARD_MAX_PROPS 512

/* Error codes of card conversions: short name and default message. */
#define CX_CARD_ERR_MAP(X)                                                          \
	X(NOMEM, "nomem", "out of memory")                                              \
	X(INVALID, "invalid", "invalid argument")                                       \
	X(SYNTAX, "syntax", "malformed content line")                                   \
	X(NO_COLON, "no-colon", "content line has no ':' after the property name")      \
	X(ESCAPE, "escape", "invalid backslash escape in a text value")                 \
	X(UTF8, "utf8", "invalid UTF-8")                                                \
	X(TRUNCATED, "truncated", "card ends without END:VCARD")                        \
	X(BEGIN_END, "begin-end", "BEGIN:VCARD and END:VCARD do not match")             \
	X(VERSION, "version", "missing or unsupported VERSION (2.1, 3.0, 4.0 are read)")  \
	X(NO_FN, "no-fn", "card has no FN property")                                    \
	X(PHOTO_SIZE, "photo-size", "PHOTO is larger than the size limit")              \
	X(LIMIT, "limit", "card has too many properties")                               \
	X(JCARD, "jcard", "not a valid jCard")                                          \
	X(EXTRA, "extra", "text after END:VCARD")                                       \
	X(EMPTY, "empty", "the input holds no card")                                    \
	X(PROPERTY, "property", "property value or parameter does not fit the property")  \
	X(CHARSET, "charset", "value is not text of the character set its CHARSET names")

typedef enum {
	CX_CARD_OK = 0,
#define CX_CARD_ERR_ENUM(name, short_name, msg) CX_CARD_E_##name,
	CX_CARD_ERR_MAP(CX_CARD_ERR_ENUM)
#undef CX_CARD_ERR_ENUM
	CX_CARD_E__COUNT
} cx_card_code;

/*
 * Where and why a conversion failed. line is the 1-based line of the vCard
 * text (the physical line holding the offending byte, or the line where the
 * offending property starts), 0 when there is no text (jCard, the model).
 * prop is the upper-case property name concerned ("FN", "PHOTO"), "" when
 * none. msg is a static string that never quotes card data.
 */
typedef struct {
	cx_card_code code;
	unsigned line;
	char prop[32];
	const char *msg;
} cx_card_err;

/* Short name ("no-fn") of a code; NULL for CX_CARD_OK or out of range. */
const char *cx_card_err_name(cx_card_code code);
/* Default message of a code; never NULL ("" for CX_CARD_OK or out of range). */
const char *cx_card_err_message(cx_card_code code);
/*
 * Writes "line 12: PHOTO: PHOTO is larger than the size limit" (the line and
 * property parts only when set) into buf[cap], snprintf style: returns the
 * length the whole text needs.
 */
int cx_card_err_format(const cx_card_err *err, char *buf, size_t cap);

typedef struct {
	char *name;    /* lowercase */
	char **values; /* nvalues >= 1 strings */
	size_t nvalues;
} cx_card_param;

typedef struct {
	char **subs; /* nsubs >= 1 strings */
	size_t nsubs;
} cx_card_comp;

typedef struct {
	cx_card_comp *comps; /* ncomps >= 1 */
	size_t ncomps;
} cx_card_value;

typedef struct {
	char *group; /* "" when none */
	char *name;  /* lowercase */
	char *type;  /* lowercase value type */
	cx_card_param *params;
	size_t nparams;
	cx_card_value *values; /* nvalues >= 1 */
	size_t nvalues;
} cx_card_prop;

typedef struct cx_card cx_card;

/* New empty card, or NULL when memory runs out. Free with cx_card_free. */
cx_card *cx_card_new(void);
/* Wipes every string of the card and frees it; accepts NULL. */
void cx_card_free(cx_card *card);
/* Deep copy, or NULL when memory runs out. */
cx_card *cx_card_dup(const cx_card *card);

/* Number of properties. */
size_t cx_card_count(const cx_card *card);
/* Property i (in card order), or NULL when i is out of range. */
const cx_card_prop *cx_card_prop_at(const cx_card *card, size_t i);
/* The index-th property called name (case-insensitive), or NULL. */
const cx_card_prop *cx_card_find(const cx_card *card, const char *name, size_t index);

/*
 * Text of the index-th property called name (case-insensitive): its first
 * string (for a structured value such as N, the first component; use
 * cx_card_find and cx_card_prop_str for the others). NULL when absent.
 */
const char *cx_card_get(const cx_card *card, const char *name, size_t index);
/* The first FN, or NULL (a card read by this module always has one). */
const char *cx_card_fn(const cx_card *card);
/* The first UID, or NULL. */
const char *cx_card_uid(const cx_card *card);
/* String sub of component comp of value value of p, or NULL when out of range. */
const char *cx_card_prop_str(const cx_card_prop *p, size_t value, size_t comp, size_t sub);
/*
 * All non-empty strings of p joined with sep, in order (an ADR becomes
 * "123 Main St, Any Town, CA"). Returns a malloc'ed string the caller frees,
 * or NULL when memory runs out.
 */
char *cx_card_prop_join(const cx_card_prop *p, const char *sep);

/*
 * Replaces the values of the first property called name (keeping its group,
 * parameters and type), or appends a new property of the name's default type
 * (RFC 6350; "unknown" for an unknown name) when there is none. The value is
 * literal text, not escaped vCard: in text values of the structured
 * properties N, ADR, ORG, GENDER and CLIENTPIDMAP a ';' separates components,
 * in text values of NICKNAME and CATEGORIES, and in values of the list types
 * (integer, float, date and time types) of a property of no known name, a ','
 * separates values; no other character is special. Date and time values are
 * stored in the basic form ("1985-04-12" becomes "19850412").
 * Returns 0, CX_CARD_E_INVALID when the name is not a valid property name or
 * is VERSION, BEGIN or END, the value is not UTF-8 or holds a control
 * character other than tab (and newline in text), or the result would break
 * the rules above (an FN of another type than text, say), CX_CARD_E_LIMIT
 * when a property would be added to a full card, or CX_CARD_E_NOMEM; the card
 * is unchanged on failure.
 */
cx_card_code cx_card_set(cx_card *card, const char *name, const char *value);
/* Same, but always appends a new property (a second EMAIL, say). */
cx_card_code cx_card_add(cx_card *card, const char *name, const char *value);

/*
 * Copy of card keeping only the properties named in fields, a comma-separated
 * case-insensitive list ("fn,org,email"; blanks around names are ignored).
 * FN is always kept (and VERSION is always written). A property in the same
 * non-empty group as a kept one is kept too, so that Apple's
 * "item1.X-ABLabel" stays with "item1.TEL". Returns NULL when memory runs out.
 */
cx_card *cx_card_select(const cx_card *card, const char *fields);

/* True when both cards have the same properties, in the same order. */
bool cx_card_equal(const cx_card *a, const cx_card *b);

/*
 * Checks what every card must satisfy: a non-empty FN, and no PHOTO value
 * longer than max_photo bytes (0: no limit). Returns 0, or -1 with *err
 * (when not NULL) set: CX_CARD_E_NO_FN or CX_CARD_E_PHOTO_SIZE.
 */
int cx_card_check(const cx_card *card, size_t max_photo, cx_card_err *err);

/*
 * Card from a jCard value ["vcard", [[name, {params}, type, value...], ...]].
 * Requires a "version" property "4.0" and a non-empty "fn"; the "group"
 * parameter becomes the property group, a "value" parameter is dropped (the
 * type element says it). Numbers and booleans become text ("42", "TRUE"),
 * null an empty string; date and time values are turned into the basic form;
 * CRLF and CR become a newline. Rejects names that are not vCard tokens,
 * strings that are not UTF-8, control characters, line breaks outside text
 * values and parameters, nesting deeper than components
 * (CX_CARD_E_JCARD), and properties that break the rules at the top of this
 * file (CX_CARD_E_PROPERTY: an FN with two values or a structured one, a
 * structured URI, a TYPE value holding ','), so that the jCard of every card
 * read passes cx_jcard_check and its vCard text reads back as the same card.
 * No photo limit applies here: call cx_card_check.
 * Returns 0 with *out set (free with cx_card_free), or -1 with *out NULL
 * and *err (when not NULL) set.
 */
int cx_card_from_jcard(const cJSON *jcard, cx_card **out, cx_card_err *err);
/* Same, from untrusted JSON text text[0..len) (strictly parsed, see json.h). */
int cx_card_from_jcard_text(const char *text, size_t len, cx_card **out, cx_card_err *err);

/*
 * jCard tree of card, VERSION first, or NULL when memory runs out. A
 * structured value with one component, and a component with one string, are
 * written as plain strings (RFC 7095 section 3.3.1.3). Integer, float and
 * boolean values become JSON numbers and booleans, and date and time values
 * take the extended form, when cx_card_from_jcard reads them back as the
 * same text ("42", "TRUE"; "042" and "true" stay strings). The caller frees
 * it with cx_json_delete (which wipes).
 */
cJSON *cx_card_to_jcard(const cx_card *card);
/* Compact jCard text (malloc'ed, *len its strlen; the caller wipes and frees), or NULL. */
char *cx_card_to_jcard_text(const cx_card *card, size_t *len);

/* ---- internal, for vcard.c and the unit tests ---- */

enum {
	CX_CARD__SINGLE,      /* one value, one component: FN, NOTE, TEL */
	CX_CARD__MULTI,       /* ',' separates values: NICKNAME, CATEGORIES */
	CX_CARD__STRUCT,      /* ';' separates components: ORG, GENDER */
	CX_CARD__STRUCT_LIST, /* ';' components of ',' lists: N, ADR */
	CX_CARD__GENERIC      /* unknown property: structured when it has a ';' */
};

/* Default value type and value kind of a lowercase property name. */
const char *cx_card__default_type(const char *name);
int cx_card__kind(const char *name);
/* True for the date and time value types (date, time, timestamp, utc-offset, ...). */
bool cx_card__is_date_type(const char *type);
/*
 * True for the types whose values of a property of no known name are lists
 * (RFC 6350 section 4: integer, float, date, time, date-time,
 * date-and-or-time, timestamp).
 */
bool cx_card__is_list_type(const char *type);
/*
 * Why p breaks the rules at the top of this file (a static reason that
 * quotes no card data), or NULL when it keeps them. Names and types must be
 * lowercase, as the builders make them.
 */
const char *cx_card__prop_problem(const cx_card_prop *p);
/* True for the names BEGIN and END (any case), which no property may have. */
bool cx_card__is_delimiter(const char *s, size_t n);
/* The value s[0..n) of a date or time type in basic/extended form: malloc'ed, or NULL (no memory). */
char *cx_card__date_to_basic(const char *type, const char *s, size_t n);
char *cx_card__date_to_ext(const char *type, const char *s, size_t n);
/* Offset of the first byte of s[0..n) that is not valid UTF-8, or n. */
size_t cx_card__utf8_bad(const char *s, size_t n);
/* True for a vCard name token: one or more of A-Z a-z 0-9 '-'. */
bool cx_card__is_token(const char *s, size_t n);
/* Sets *err (when not NULL) and returns -1; msg NULL means the code's default message. */
int cx_card__fail(cx_card_err *err, cx_card_code code, unsigned line, const char *prop,
		const char *msg);

/* Builders: each returns NULL when memory runs out, leaving the card valid. */
char *cx_card__strndup(const char *s, size_t n);
void cx_card__strfree(char *s);
cx_card_prop *cx_card__push(cx_card *card); /* zeroed, with group "" */
cx_card_value *cx_card__push_value(cx_card_prop *p);
cx_card_comp *cx_card__push_comp(cx_card_value *v);
char *cx_card__push_sub(cx_card_comp *c, const char *s, size_t n);
/* Adds a value to parameter name (lowercased; created, or merged with an existing one). */
char *cx_card__push_param(cx_card_prop *p, const char *name, size_t nlen, const char *s, size_t n);
/* Removes parameter i of p. */
void cx_card__drop_param(cx_card_prop *p, size_t i);
/* Index of parameter name (lowercase) in p, or -1. */
long cx_card__param_index(const cx_card_prop *p, const char *name);
/* Wipes and frees everything p holds (not p itself). */
void cx_card__prop_clear(cx_card_prop *p);
/* Removes the last property (after a failed build). */
void cx_card__pop(cx_card *card);
/* Property i, to change in place, or NULL when i is out of range. */
cx_card_prop *cx_card__prop_mut(cx_card *card, size_t i);
/* Removes property i (wiped); nothing when i is out of range. */
void cx_card__remove(cx_card *card, size_t i);
/* Moves the last property to index i, the ones from i on one place later. */
void cx_card__move_last(cx_card *card, size_t i);
/* Sets the value type or name of p to s (lowercased). Returns -1 when memory runs out. */
int cx_card__set_type(cx_card_prop *p, const char *s, size_t n);

#endif
