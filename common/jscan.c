/*
 * Single-pass strict scanner for card requests (jscan.h).
 *
 * A recursive-descent walk: every array and object goes through scan_array
 * or scan_object, which call back per element or member with the cursor on
 * its first byte. The callbacks carry the jCard rules of the position they
 * stand for (the card, its property list, a property, its parameters, its
 * values); everything else goes through scan_any, which only validates.
 * A JSON fault stops the walk at once; a jCard fault is only recorded,
 * because a later JSON fault must still turn the verdict into bad-request.
 * Recursion is bounded by CX_JSON_MAX_DEPTH.
 */
#include "jscan.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "jcard.h"
#include "json.h"

typedef struct {
	const unsigned char *p;   /* next byte to read */
	const unsigned char *end; /* one past the last byte of the payload */
	unsigned depth;           /* arrays and objects open around p */
	const char *err;          /* the JSON fault that stopped the scan */
} scanner;

/* A scanned string: its raw contents between the quotes. */
typedef struct {
	const unsigned char *raw;
	size_t len;
	bool escaped;
} jstr;

static bool fail(scanner *s, const char *reason)
{
	if(s->err == NULL) {
		s->err = reason;
	}
	return false;
}

/* The byte at p cannot appear there; a NUL gets its own reason, as in cx_json_scan. */
static bool unexpected(scanner *s)
{
	if(s->p < s->end && *s->p == '\0') {
		return fail(s, "payload contains a NUL byte");
	}
	return fail(s, "payload is not valid JSON");
}

static void skip_ws(scanner *s)
{
	/* Compact JSON has no whitespace: one comparison rules out every token byte. */
	while(s->p < s->end && *s->p <= ' '
			&& (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t')) {
		s->p++;
	}
}

static int hex_value(unsigned char c)
{
	if(c >= '0' && c <= '9') {
		return c - '0';
	}
	c |= 0x20;
	if(c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* The four hex digits at q (q + 4 <= end checked by the caller) into *v. */
static bool hex4(const unsigned char *q, unsigned *v)
{
	unsigned r = 0;

	for(int i = 0; i < 4; i++) {
		int h = hex_value(q[i]);
		if(h < 0) {
			return false;
		}
		r = r << 4 | (unsigned)h;
	}
	*v = r;
	return true;
}

/*
 * The escape at p (a backslash inside a string). Returns the byte after it,
 * or NULL on a fault. \u0000 is refused so that no decoded string hides a
 * NUL; a surrogate must come as a high-low pair, as cJSON demands.
 */
static const unsigned char *scan_escape(scanner *s, const unsigned char *p)
{
	unsigned cp;
	unsigned lo;

	if(s->end - p < 2) {
		fail(s, "unterminated string");
		return NULL;
	}
	switch(p[1]) {
	case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
		return p + 2;
	case 'u':
		break;
	default:
		fail(s, "invalid escape in a string");
		return NULL;
	}
	if(s->end - p < 6 || !hex4(p + 2, &cp)) {
		fail(s, "invalid \\u escape in a string");
		return NULL;
	}
	if(cp == 0) {
		fail(s, "string contains \\u0000");
		return NULL;
	}
	if(cp < 0xd800 || cp > 0xdfff) {
		return p + 6;
	}
	if(cp >= 0xdc00 || s->end - p < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo)
			|| lo < 0xdc00 || lo > 0xdfff) {
		fail(s, "unpaired UTF-16 surrogate in a string");
		return NULL;
	}
	return p + 12;
}

/* Bytes a string holds as they are: printable ASCII (DEL included) but '"' and '\\'. */
static const bool plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * Whether any of the 8 bytes at p is not plain. Per byte, the high bit of
 * t is set exactly for bytes below 0x20 (x - 0x20 wraps), '"' and '\\'
 * (their XOR is 0, minus 1 wraps) and bytes >= 0x80; a borrow into the next
 * byte only comes out of a byte that wrapped, which is not plain itself, so
 * the answer for the word as a whole is exact.
 */
static uint64_t special_bits(const unsigned char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	uint64_t t = (x - ONES * 0x20) | ((x ^ (ONES * '"')) - ONES) | ((x ^ (ONES * '\\')) - ONES) | x;
	return t & HIGHS;
}

static bool any_special(const unsigned char *p)
{
	return special_bits(p) != 0;
}

/*
 * The first byte at or after p (before end) that is not plain, or end. On
 * little-endian machines 8 bytes at a time: in special_bits' word, bytes
 * before the first special one are plain and neither set their high bit nor
 * borrow, and the special one sets its own, so the lowest high bit set
 * marks exactly the first special byte.
 */
static inline const unsigned char *plain_run(const unsigned char *p, const unsigned char *end)
{
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	while(end - p >= 8) {
		uint64_t t = special_bits(p);
		if(t != 0) {
			return p + (__builtin_ctzll(t) >> 3);
		}
		p += 8;
	}
#endif
	while(p < end && plain[*p]) {
		p++;
	}
	return p;
}

/* The string at s->p (its opening quote), its contents read up to p already: all plain. */
static bool scan_string_from(scanner *s, jstr *out, const unsigned char *p)
{
	const unsigned char *start = s->p + 1;
	bool escaped = false;

	for(;;) {
		/* Plain text 8 bytes at a time, then byte by byte up to the next special byte. */
		while(s->end - p >= 8 && !any_special(p)) {
			p += 8;
		}
		while(p < s->end && plain[*p]) {
			p++;
		}
		if(p >= s->end) {
			return fail(s, "unterminated string");
		}
		unsigned char c = *p;
		if(c == '"') {
			break;
		}
		if(c == '\\') {
			escaped = true;
			p = scan_escape(s, p);
			if(p == NULL) {
				return false;
			}
		} else if(c >= 0x80) {
			size_t n = cx_utf8_next((const char *)p, (size_t)(s->end - p));
			if(n == 0) {
				return fail(s, "string is not valid UTF-8");
			}
			p += n;
		} else if(c == '\0') {
			return fail(s, "payload contains a NUL byte");
		} else {
			return fail(s, "unescaped control character in a string");
		}
	}
	out->raw = start;
	out->len = (size_t)(p - start);
	out->escaped = escaped;
	s->p = p + 1;
	return true;
}

/* The string at s->p (its opening quote): a string of plain bytes inline, the rest by scan_string_from. */
static inline bool scan_string(scanner *s, jstr *out)
{
	const unsigned char *start = s->p + 1;
	const unsigned char *p = plain_run(start, s->end);

	if(p < s->end && *p == '"') {
		out->raw = start;
		out->len = (size_t)(p - start);
		out->escaped = false;
		s->p = p + 1;
		return true;
	}
	return scan_string_from(s, out, p);
}

static bool is_digit(const scanner *s, const unsigned char *p)
{
	return p < s->end && *p >= '0' && *p <= '9';
}

/*
 * The value of number text t[0..n) (RFC 8259 syntax, at most
 * CX_JSON_NUMBER_MAX characters) as a double, read the way cJSON reads it:
 * strtod with '.' replaced by the locale's decimal point.
 */
static double number_value(const unsigned char *t, size_t n)
{
	char buf[CX_JSON_NUMBER_MAX + 1];
	char point = localeconv()->decimal_point[0];

	for(size_t i = 0; i < n; i++) {
		buf[i] = t[i] == '.' ? point : (char)t[i];
	}
	buf[n] = '\0';
	return strtod(buf, NULL);
}

static bool number_finite(const unsigned char *t, size_t n)
{
	return isfinite(number_value(t, n));
}

/*
 * The number at s->p. *finite (when not NULL) tells whether it reads as a
 * finite double; only an exponent can overflow one, as a number of at most
 * CX_JSON_NUMBER_MAX (63) digits stays below 1e63.
 */
static bool scan_number(scanner *s, bool *finite)
{
	const unsigned char *start = s->p;
	const unsigned char *p = start;
	bool exponent = false;

	if(p < s->end && *p == '-') {
		p++;
	}
	if(p < s->end && *p == '0') {
		p++;
	} else if(is_digit(s, p)) {
		while(is_digit(s, p)) {
			p++;
		}
	} else {
		s->p = start;
		return unexpected(s);
	}
	if(p < s->end && *p == '.') {
		p++;
		if(!is_digit(s, p)) {
			return fail(s, "invalid number");
		}
		while(is_digit(s, p)) {
			p++;
		}
	}
	if(p < s->end && (*p == 'e' || *p == 'E')) {
		exponent = true;
		p++;
		if(p < s->end && (*p == '+' || *p == '-')) {
			p++;
		}
		if(!is_digit(s, p)) {
			return fail(s, "invalid number");
		}
		while(is_digit(s, p)) {
			p++;
		}
	}
	if(p - start > CX_JSON_NUMBER_MAX) {
		return fail(s, "number too long");
	}
	if(finite != NULL) {
		*finite = !exponent || number_finite(start, (size_t)(p - start));
	}
	s->p = p;
	return true;
}

static bool scan_literal(scanner *s, const char *word, size_t n)
{
	if((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) {
		return unexpected(s);
	}
	s->p += n;
	return true;
}

/* Called with s->p on the first byte of element i (p < end). */
typedef bool (*elem_fn)(scanner *s, void *ctx, size_t i);
/* Called with s->p on the first byte of the value of member name (p < end). */
typedef bool (*member_fn)(scanner *s, void *ctx, const jstr *name);

static bool enter(scanner *s)
{
	if(++s->depth > CX_JSON_MAX_DEPTH) {
		return fail(s, "JSON nested too deeply");
	}
	s->p++;
	skip_ws(s);
	return true;
}

/* The array at s->p (its '['), element by element through fn. */
static bool scan_array(scanner *s, elem_fn fn, void *ctx)
{
	if(!enter(s)) {
		return false;
	}
	if(s->p < s->end && *s->p == ']') {
		s->p++;
		s->depth--;
		return true;
	}
	for(size_t i = 0;; i++) {
		if(s->p >= s->end) {
			return fail(s, "unterminated array");
		}
		if(!fn(s, ctx, i)) {
			return false;
		}
		skip_ws(s);
		if(s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if(s->p < s->end && *s->p == ']') {
			s->p++;
			s->depth--;
			return true;
		}
		return s->p < s->end ? unexpected(s) : fail(s, "unterminated array");
	}
}

/* The object at s->p (its '{'), member by member through fn. */
static bool scan_object(scanner *s, member_fn fn, void *ctx)
{
	jstr name;

	if(!enter(s)) {
		return false;
	}
	if(s->p < s->end && *s->p == '}') {
		s->p++;
		s->depth--;
		return true;
	}
	for(;;) {
		if(s->p >= s->end) {
			return fail(s, "unterminated object");
		}
		if(*s->p != '"') {
			return unexpected(s);
		}
		if(!scan_string(s, &name)) {
			return false;
		}
		skip_ws(s);
		if(s->p >= s->end || *s->p != ':') {
			return s->p < s->end ? unexpected(s) : fail(s, "unterminated object");
		}
		s->p++;
		skip_ws(s);
		if(s->p >= s->end) {
			return fail(s, "unterminated object");
		}
		if(!fn(s, ctx, &name)) {
			return false;
		}
		skip_ws(s);
		if(s->p < s->end && *s->p == ',') {
			s->p++;
			skip_ws(s);
			continue;
		}
		if(s->p < s->end && *s->p == '}') {
			s->p++;
			s->depth--;
			return true;
		}
		return s->p < s->end ? unexpected(s) : fail(s, "unterminated object");
	}
}

static bool scan_any(scanner *s);

static bool any_elem(scanner *s, void *ctx, size_t i)
{
	(void)ctx;
	(void)i;
	return scan_any(s);
}

static bool any_member(scanner *s, void *ctx, const jstr *name)
{
	(void)ctx;
	(void)name;
	return scan_any(s);
}

/* Any JSON value at s->p, validated only. */
static bool scan_any(scanner *s)
{
	jstr str;

	if(s->p >= s->end) {
		return fail(s, "payload is not valid JSON");
	}
	switch(*s->p) {
	case '"':
		return scan_string(s, &str);
	case '[':
		return scan_array(s, any_elem, NULL);
	case '{':
		return scan_object(s, any_member, NULL);
	case 't':
		return scan_literal(s, "true", 4);
	case 'f':
		return scan_literal(s, "false", 5);
	case 'n':
		return scan_literal(s, "null", 4);
	default:
		return scan_number(s, NULL);
	}
}

bool cx_jscan_unescape(const char *raw, size_t n, char *out, size_t cap, size_t *len)
{
	size_t o = 0;

	for(size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];
		unsigned char enc[4];
		size_t k = 1;
		enc[0] = c;
		if(c == '\\') {
			i++;
			switch(raw[i]) {
			case 'b': enc[0] = '\b'; break;
			case 'f': enc[0] = '\f'; break;
			case 'n': enc[0] = '\n'; break;
			case 'r': enc[0] = '\r'; break;
			case 't': enc[0] = '\t'; break;
			case 'u': {
				unsigned cp = 0;
				unsigned lo = 0;
				hex4((const unsigned char *)raw + i + 1, &cp);
				i += 4;
				if(cp >= 0xd800 && cp <= 0xdbff) {
					/* The scanner let only complete pairs through. */
					hex4((const unsigned char *)raw + i + 3, &lo);
					i += 6;
					cp = 0x10000 + ((cp & 0x3ff) << 10 | (lo & 0x3ff));
				}
				if(cp < 0x80) {
					enc[0] = (unsigned char)cp;
				} else if(cp < 0x800) {
					enc[0] = (unsigned char)(0xc0 | cp >> 6);
					enc[1] = (unsigned char)(0x80 | (cp & 0x3f));
					k = 2;
				} else if(cp < 0x10000) {
					enc[0] = (unsigned char)(0xe0 | cp >> 12);
					enc[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
					enc[2] = (unsigned char)(0x80 | (cp & 0x3f));
					k = 3;
				} else {
					enc[0] = (unsigned char)(0xf0 | cp >> 18);
					enc[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
					enc[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
					enc[3] = (unsigned char)(0x80 | (cp & 0x3f));
					k = 4;
				}
				break;
			}
			default: /* '"', '\\' and '/' stand for themselves */
				enc[0] = (unsigned char)raw[i];
				break;
			}
		}
		if(cap == 0 || k > cap - 1 - o) {
			return false;
		}
		memcpy(out + o, enc, k);
		o += k;
	}
	if(cap == 0) {
		return false;
	}
	out[o] = '\0';
	*len = o;
	return true;
}

/* A string literal and its length, for str_is. */
#define LIT(s) (s), (sizeof(s) - 1)

/*
 * Whether the decoded string equals lit[0..n) (ASCII letters folded when
 * fold). Escaped strings are decoded into a small buffer, wiped after: it
 * holds card text. Literals are at most 15 bytes.
 */
static bool str_is_slow(const jstr *str, const char *lit, size_t n, bool fold)
{
	char buf[16];
	const char *text = (const char *)str->raw;
	size_t len = str->len;
	bool same = true;

	if(str->escaped) {
		if(!cx_jscan_unescape(text, len, buf, sizeof(buf), &len)) {
			cx_wipe(buf, sizeof(buf));
			return false;
		}
		text = buf;
	}
	if(len != n) {
		same = false;
	}
	for(size_t i = 0; same && i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if(fold && c >= 'A' && c <= 'Z') {
			c = (unsigned char)(c + ('a' - 'A'));
		}
		same = c == (unsigned char)lit[i];
	}
	if(str->escaped) {
		cx_wipe(buf, sizeof(buf));
	}
	return same;
}

/* Most names differ from lit in length: they are told apart here, without a call. */
static inline bool str_is(const jstr *str, const char *lit, size_t n, bool fold)
{
	/* Unescaped text is never shorter than what it means. */
	if(str->len < n || (!str->escaped && str->len != n)) {
		return false;
	}
	return str_is_slow(str, lit, n, fold);
}

/* ---- the jCard, position by position (the rules of jcard.c) ---- */

/* Property values: scalars, or arrays of them nested at most depth more levels. */
typedef struct {
	unsigned depth; /* further array levels allowed below this array */
	bool *ok;
} value_ctx;

static bool scan_value(scanner *s, unsigned depth, bool *ok);

static bool value_elem(scanner *s, void *ctx, size_t i)
{
	value_ctx *v = ctx;

	(void)i;
	return scan_value(s, v->depth, v->ok);
}

static bool scan_value(scanner *s, unsigned depth, bool *ok)
{
	bool finite = true;

	switch(*s->p) {
	case '[': {
		if(depth == 0) {
			*ok = false;
			return scan_any(s);
		}
		value_ctx v = {.depth = depth - 1, .ok = ok};
		return scan_array(s, value_elem, &v);
	}
	case '{':
		*ok = false;
		return scan_any(s);
	case '"': case 't': case 'f': case 'n':
		return scan_any(s);
	default:
		if(!scan_number(s, &finite)) {
			return false;
		}
		if(!finite) {
			*ok = false;
		}
		return true;
	}
}

/* Parameter values: a string, or an array of strings. */
static bool param_elem(scanner *s, void *ctx, size_t i)
{
	bool *ok = ctx;

	(void)i;
	if(*s->p != '"') {
		*ok = false;
	}
	return scan_any(s);
}

static bool param_member(scanner *s, void *ctx, const jstr *name)
{
	bool *ok = ctx;

	if(name->len == 0) {
		*ok = false;
	}
	if(*s->p == '[') {
		return scan_array(s, param_elem, ok);
	}
	if(*s->p != '"') {
		*ok = false;
	}
	return scan_any(s);
}

enum { PROP_OTHER, PROP_VERSION, PROP_FN };

/* One property: [name, params, type, value, ...]. */
typedef struct {
	size_t n;       /* elements seen */
	bool name_ok;   /* a non-empty string */
	bool params_ok; /* an object of strings and arrays of strings */
	bool type_ok;   /* a non-empty string */
	bool values_ok; /* every value a scalar or array of them, not too deep */
	int kind;       /* PROP_VERSION or PROP_FN by name, case-insensitively */
	bool first_str; /* the first value is a string... */
	jstr first;     /* ...with these contents */
} prop_state;

static bool prop_elem(scanner *s, void *ctx, size_t i)
{
	prop_state *ps = ctx;
	jstr str;

	ps->n = i + 1;
	if(i == 1) {
		if(*s->p != '{') {
			return scan_any(s);
		}
		ps->params_ok = true;
		return scan_object(s, param_member, &ps->params_ok);
	}
	if(i >= 3 && *s->p != '"') {
		return scan_value(s, CX_JCARD_MAX_DEPTH, &ps->values_ok);
	}
	if(*s->p != '"') {
		return scan_any(s);
	}
	if(!scan_string(s, &str)) {
		return false;
	}
	if(i == 0) {
		ps->name_ok = str.len > 0;
		ps->kind = str_is(&str, LIT("version"), true) ? PROP_VERSION
			: str_is(&str, LIT("fn"), true) ? PROP_FN : PROP_OTHER;
	} else if(i == 2) {
		ps->type_ok = str.len > 0;
	} else if(i == 3) {
		ps->first_str = true;
		ps->first = str;
	}
	return true;
}

/* The property list: counts, and keeps the first fault in list order. */
typedef struct {
	size_t n;
	bool have_version;
	bool have_fn;
	const char *why;
} props_state;

/* The fault of a complete property, in the order cx_jcard_check tests them. */
static const char *prop_fault(const prop_state *p, props_state *ps)
{
	if(p->n < 4) {
		return "card property has fewer than 4 elements";
	}
	if(!p->name_ok) {
		return "card property name is not a non-empty string";
	}
	if(!p->params_ok) {
		return "card property parameters are not an object of strings";
	}
	if(!p->type_ok) {
		return "card property type is not a non-empty string";
	}
	if(!p->values_ok) {
		return "card property value has a bad type or is nested too deeply";
	}
	if(p->kind == PROP_VERSION) {
		if(!p->first_str || !str_is(&p->first, LIT("4.0"), false)) {
			return "card version is not \"4.0\"";
		}
		ps->have_version = true;
	} else if(p->kind == PROP_FN) {
		if(!p->first_str || p->first.len == 0) {
			return "card fn is not a non-empty string";
		}
		ps->have_fn = true;
	}
	return NULL;
}

static bool props_elem(scanner *s, void *ctx, size_t i)
{
	props_state *ps = ctx;

	ps->n = i + 1;
	/* After the first fault only the JSON still matters. */
	if(ps->why != NULL) {
		return scan_any(s);
	}
	if(ps->n > CX_JCARD_MAX_PROPS) {
		ps->why = "card has too many properties";
		return scan_any(s);
	}
	if(*s->p != '[') {
		ps->why = "card property is not an array";
		return scan_any(s);
	}
	prop_state p = {.values_ok = true};
	if(!scan_array(s, prop_elem, &p)) {
		return false;
	}
	ps->why = prop_fault(&p, ps);
	return true;
}

/* The card: ["vcard", [props]]. */
typedef struct {
	size_t n;
	bool tag_ok;
	bool props_array;
	const char *props_why;
} card_state;

static bool card_elem(scanner *s, void *ctx, size_t i)
{
	card_state *cs = ctx;
	jstr tag;

	cs->n = i + 1;
	if(i == 0 && *s->p == '"') {
		if(!scan_string(s, &tag)) {
			return false;
		}
		cs->tag_ok = str_is(&tag, LIT("vcard"), false);
		return true;
	}
	if(i == 1 && *s->p == '[') {
		props_state ps = {0};
		cs->props_array = true;
		if(!scan_array(s, props_elem, &ps)) {
			return false;
		}
		cs->props_why = ps.why != NULL ? ps.why
			: !ps.have_version ? "card has no version property"
			: !ps.have_fn ? "card has no fn property" : NULL;
		return true;
	}
	return scan_any(s);
}

/* The card value at s->p; *why gets its jCard fault, NULL when there is none. */
static bool scan_card(scanner *s, const char **why)
{
	card_state cs = {0};

	if(*s->p != '[') {
		*why = "card is not a two-element jCard array";
		return scan_any(s);
	}
	if(!scan_array(s, card_elem, &cs)) {
		return false;
	}
	*why = cs.n != 2 ? "card is not a two-element jCard array"
		: !cs.tag_ok ? "card does not start with \"vcard\""
		: !cs.props_array ? "card properties are not an array" : cs.props_why;
	return true;
}

/* ---- the request ---- */

/* A member whose string value is recorded (any other value only counts). */
static bool record_str(scanner *s, cx_jscan_str *rec)
{
	jstr str;

	rec->count++;
	rec->raw = NULL;
	if(*s->p != '"') {
		return scan_any(s);
	}
	if(!scan_string(s, &str)) {
		return false;
	}
	rec->raw = (const char *)str.raw;
	rec->len = str.len;
	rec->escaped = str.escaped;
	return true;
}

static bool top_member(scanner *s, void *ctx, const jstr *name)
{
	cx_jscan_card *out = ctx;
	jstr str;

	if(str_is(name, LIT("exchange"), false)) {
		out->xid_count++;
		out->xid = NULL;
		if(*s->p != '"') {
			return scan_any(s);
		}
		if(!scan_string(s, &str)) {
			return false;
		}
		out->xid = (const char *)str.raw;
		out->xid_len = str.len;
		out->xid_escaped = str.escaped;
		return true;
	}
	if(str_is(name, LIT("card"), false)) {
		const unsigned char *start = s->p;
		out->card_count++;
		if(!scan_card(s, &out->card_why)) {
			return false;
		}
		out->card = (const char *)start;
		out->card_len = (size_t)(s->p - start);
		return true;
	}
	if(str_is(name, LIT("pk"), false)) {
		return record_str(s, &out->pk);
	}
	if(str_is(name, LIT("n"), false)) {
		return record_str(s, &out->n);
	}
	if(str_is(name, LIT("ct"), false)) {
		return record_str(s, &out->ct);
	}
	return scan_any(s);
}

/*
 * The payload as one object, member by member through fn, with the verdicts
 * described in jscan.h: NULL, or the reason it is refused.
 */
static const char *scan_top(const char *payload, size_t len, member_fn fn, void *ctx)
{
	scanner s = {.p = (const unsigned char *)payload, .end = (const unsigned char *)payload + len};

	if(payload == NULL || len == 0) {
		return "empty payload";
	}
	skip_ws(&s);
	if(s.p >= s.end || *s.p != '{') {
		/* Tell a JSON value of another kind from bytes that are no JSON at all. */
		if(s.p < s.end && *s.p != '\0' && strchr("[\"-0123456789tfn", *s.p) != NULL) {
			return "payload is not a JSON object";
		}
		unexpected(&s);
		return s.err;
	}
	if(!scan_object(&s, fn, ctx)) {
		return s.err;
	}
	skip_ws(&s);
	if(s.p != s.end) {
		return *s.p == '\0' ? "payload contains a NUL byte" : "trailing data after the JSON value";
	}
	return NULL;
}

/* ---- the fast path: compact card requests of the common shape ---- */

/*
 * Card requests as terminals write them are compact JSON of one shape:
 * {"exchange":"<xid>","card":["vcard",[[name,{params},type,value,...],...]]}
 * with strings without escapes, parameter values strings or arrays of
 * strings, property values strings or arrays of strings, and no faults.
 * fast_request reads exactly that in a straight walk, without the
 * callbacks, and says "not this shape" (false) at the first byte that
 * leaves it: whitespace, an escape, a number or literal, a deeper array,
 * another member, a repeated one, any JSON or jCard fault. The full scan
 * then reads the payload from its start and gives the verdict, so that
 * the fast path only ever accepts what the full scan accepts, with the
 * same result.
 */
typedef struct {
	const unsigned char *p;
	const unsigned char *end;
} fast;

static bool fast_byte(fast *f, unsigned char c)
{
	if(f->p < f->end && *f->p == c) {
		f->p++;
		return true;
	}
	return false;
}

/* The string at f->p (its opening quote), its contents read up to p already: all plain. */
static bool fast_str_from(fast *f, jstr *str, const unsigned char *p)
{
	const unsigned char *start = f->p + 1;

	for(;;) {
		while(f->end - p >= 8 && !any_special(p)) {
			p += 8;
		}
		while(p < f->end && plain[*p]) {
			p++;
		}
		if(p >= f->end) {
			return false;
		}
		if(*p == '"') {
			break;
		}
		if(*p < 0x80) {
			return false; /* an escape or a control character */
		}
		size_t n = cx_utf8_next((const char *)p, (size_t)(f->end - p));
		if(n == 0) {
			return false;
		}
		p += n;
	}
	str->raw = start;
	str->len = (size_t)(p - start);
	str->escaped = false;
	f->p = p + 1;
	return true;
}

/* A string at f->p, of plain bytes and valid UTF-8 only; its contents in *str. Plain ones inline. */
static inline bool fast_str(fast *f, jstr *str)
{
	const unsigned char *start;
	const unsigned char *p;

	if(f->p >= f->end || *f->p != '"') {
		return false;
	}
	start = f->p + 1;
	p = plain_run(start, f->end);
	if(p < f->end && *p == '"') {
		str->raw = start;
		str->len = (size_t)(p - start);
		str->escaped = false;
		f->p = p + 1;
		return true;
	}
	return fast_str_from(f, str, p);
}

/* A string, or an array of strings (perhaps empty); *first is set when it is a string. */
static bool fast_str_or_strings(fast *f, jstr *str, bool *first)
{
	*first = false;
	if(f->p < f->end && *f->p == '"') {
		*first = true;
		return fast_str(f, str);
	}
	if(!fast_byte(f, '[')) {
		return false;
	}
	if(fast_byte(f, ']')) {
		return true;
	}
	do {
		if(!fast_str(f, str)) {
			return false;
		}
	} while(fast_byte(f, ','));
	return fast_byte(f, ']');
}

/* Whether str is lit (lowercase ASCII) with ASCII letters folded. */
static bool fast_is_folded(const jstr *str, const char *lit, size_t n)
{
	if(str->len != n) {
		return false;
	}
	for(size_t i = 0; i < n; i++) {
		unsigned char c = str->raw[i];
		if(c >= 'A' && c <= 'Z') {
			c = (unsigned char)(c + ('a' - 'A'));
		}
		if(c != (unsigned char)lit[i]) {
			return false;
		}
	}
	return true;
}

/* One property without a fault; *kind set to PROP_VERSION, PROP_FN or PROP_OTHER. */
static bool fast_prop(fast *f, int *kind)
{
	jstr name;
	jstr str;
	jstr first;
	bool first_str = false;
	bool is_str;

	if(!fast_byte(f, '[') || !fast_str(f, &name) || name.len == 0 || !fast_byte(f, ',')
			|| !fast_byte(f, '{')) {
		return false;
	}
	if(!fast_byte(f, '}')) {
		do {
			if(!fast_str(f, &str) || str.len == 0 || !fast_byte(f, ':')
					|| !fast_str_or_strings(f, &str, &is_str)) {
				return false;
			}
		} while(fast_byte(f, ','));
		if(!fast_byte(f, '}')) {
			return false;
		}
	}
	if(!fast_byte(f, ',') || !fast_str(f, &str) || str.len == 0 || !fast_byte(f, ',')) {
		return false;
	}
	/* The values: at least one. */
	if(!fast_str_or_strings(f, &first, &first_str)) {
		return false;
	}
	while(fast_byte(f, ',')) {
		if(!fast_str_or_strings(f, &str, &is_str)) {
			return false;
		}
	}
	if(!fast_byte(f, ']')) {
		return false;
	}
	*kind = fast_is_folded(&name, LIT("version")) ? PROP_VERSION
		: fast_is_folded(&name, LIT("fn")) ? PROP_FN : PROP_OTHER;
	if(*kind == PROP_VERSION) {
		return first_str && first.len == 3 && memcmp(first.raw, "4.0", 3) == 0;
	}
	if(*kind == PROP_FN) {
		return first_str && first.len > 0;
	}
	return true;
}

/* ["vcard",[props]] without a fault. */
static bool fast_card(fast *f)
{
	jstr tag;
	bool have_version = false;
	bool have_fn = false;
	size_t n = 0;
	int kind;

	if(!fast_byte(f, '[') || !fast_str(f, &tag) || tag.len != 5 || memcmp(tag.raw, "vcard", 5) != 0
			|| !fast_byte(f, ',') || !fast_byte(f, '[')) {
		return false;
	}
	do {
		if(++n > CX_JCARD_MAX_PROPS || !fast_prop(f, &kind)) {
			return false;
		}
		have_version |= kind == PROP_VERSION;
		have_fn |= kind == PROP_FN;
	} while(fast_byte(f, ','));
	return fast_byte(f, ']') && fast_byte(f, ']') && have_version && have_fn;
}

/* The whole request of the common shape into *out, else false (nothing to be read from *out). */
static bool fast_request(const char *payload, size_t len, cx_jscan_card *out)
{
	fast f = {.p = (const unsigned char *)payload, .end = (const unsigned char *)payload + len};
	jstr name;
	jstr xid;

	if(payload == NULL || !fast_byte(&f, '{')) {
		return false;
	}
	do {
		if(!fast_str(&f, &name) || !fast_byte(&f, ':')) {
			return false;
		}
		if(name.len == 8 && memcmp(name.raw, "exchange", 8) == 0 && out->xid_count == 0) {
			if(!fast_str(&f, &xid)) {
				return false;
			}
			out->xid_count = 1;
			out->xid = (const char *)xid.raw;
			out->xid_len = xid.len;
		} else if(name.len == 4 && memcmp(name.raw, "card", 4) == 0 && out->card_count == 0) {
			const unsigned char *start = f.p;
			if(!fast_card(&f)) {
				return false;
			}
			out->card_count = 1;
			out->card = (const char *)start;
			out->card_len = (size_t)(f.p - start);
		} else {
			return false;
		}
	} while(fast_byte(&f, ','));
	return fast_byte(&f, '}') && f.p == f.end && out->xid_count == 1 && out->card_count == 1;
}

const char *cx_jscan_card_request(const char *payload, size_t len, cx_jscan_card *out)
{
	memset(out, 0, sizeof(*out));
	if(fast_request(payload, len, out)) {
		return NULL;
	}
	memset(out, 0, sizeof(*out));
	return scan_top(payload, len, top_member, out);
}

/* The members a flat request asks for. */
typedef struct {
	cx_jscan_member *m;
	size_t n;
} flat_ctx;

static bool flat_member(scanner *s, void *ctx, const jstr *name)
{
	flat_ctx *f = ctx;
	cx_jscan_member *m = NULL;
	const unsigned char *start = s->p;
	jstr str;

	for(size_t i = 0; i < f->n; i++) {
		if(str_is(name, f->m[i].name, strlen(f->m[i].name), false)) {
			m = &f->m[i];
			break;
		}
	}
	if(m == NULL) {
		return scan_any(s);
	}
	m->count++;
	m->kind = CX_JSCAN_OTHER;
	m->raw = NULL;
	m->len = 0;
	m->escaped = false;
	if(*s->p == '"') {
		if(!scan_string(s, &str)) {
			return false;
		}
		m->kind = CX_JSCAN_STRING;
		m->raw = (const char *)str.raw;
		m->len = str.len;
		m->escaped = str.escaped;
		return true;
	}
	if(*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
		if(!scan_number(s, NULL)) {
			return false;
		}
		m->kind = CX_JSCAN_NUMBER;
		m->number = number_value(start, (size_t)(s->p - start));
		return true;
	}
	return scan_any(s);
}

static void members_reset(cx_jscan_member *members, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		members[i].count = 0;
		members[i].kind = CX_JSCAN_OTHER;
		members[i].raw = NULL;
		members[i].len = 0;
		members[i].escaped = false;
		members[i].number = 0;
	}
}

/*
 * The fast path for flat requests as terminals write them: compact, names
 * and strings without escapes, numbers of 1 to 15 digits without sign,
 * fraction or exponent (exact as doubles, so their value is what strtod
 * reads). Anything else, and any fault, is "not this shape" (false): the
 * full scan then reads the payload from its start.
 */
static bool fast_flat(const char *payload, size_t len, cx_jscan_member *members, size_t n)
{
	fast f = {.p = (const unsigned char *)payload, .end = (const unsigned char *)payload + len};
	jstr name;

	if(payload == NULL || !fast_byte(&f, '{')) {
		return false;
	}
	if(fast_byte(&f, '}')) {
		return f.p == f.end;
	}
	do {
		cx_jscan_member *m = NULL;
		if(!fast_str(&f, &name) || !fast_byte(&f, ':') || f.p >= f.end) {
			return false;
		}
		for(size_t i = 0; i < n; i++) {
			size_t k = strlen(members[i].name);
			if(name.len == k && memcmp(name.raw, members[i].name, k) == 0) {
				m = &members[i];
				break;
			}
		}
		if(*f.p == '"') {
			jstr str;
			if(!fast_str(&f, &str)) {
				return false;
			}
			if(m != NULL) {
				m->count++;
				m->kind = CX_JSCAN_STRING;
				m->raw = (const char *)str.raw;
				m->len = str.len;
				m->escaped = false;
				m->number = 0;
			}
		} else if(*f.p >= '0' && *f.p <= '9') {
			const unsigned char *start = f.p;
			uint64_t v = 0;
			while(f.p < f.end && *f.p >= '0' && *f.p <= '9' && f.p - start < 16) {
				v = v * 10 + (uint64_t)(*f.p - '0');
				f.p++;
			}
			/* A leading zero, 16 digits or more, or a fraction or exponent next: not this shape. */
			if((*start == '0' && f.p - start > 1) || f.p - start > 15 || f.p >= f.end
					|| (*f.p != ',' && *f.p != '}')) {
				return false;
			}
			if(m != NULL) {
				m->count++;
				m->kind = CX_JSCAN_NUMBER;
				m->raw = NULL;
				m->len = 0;
				m->escaped = false;
				m->number = (double)v;
			}
		} else {
			return false;
		}
	} while(fast_byte(&f, ','));
	return fast_byte(&f, '}') && f.p == f.end;
}

const char *cx_jscan_object(const char *payload, size_t len, cx_jscan_member *members, size_t n)
{
	flat_ctx f = {.m = members, .n = n};

	members_reset(members, n);
	if(fast_flat(payload, len, members, n)) {
		return NULL;
	}
	members_reset(members, n);
	return scan_top(payload, len, flat_member, &f);
}
