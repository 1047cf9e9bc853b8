/*
 * Strict parsing front end and bounded writer for the protocol's JSON.
 */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the run of characters cJSON's number reader takes in: [0-9+-.eE]. */
static size_t number_run(const char *s, size_t len)
{
	size_t n = 0;

	while(n < len && ((s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '-' || s[n] == '.'
			|| s[n] == 'e' || s[n] == 'E')) {
		n++;
	}
	return n;
}

static size_t digits(const char *s, size_t i, size_t n)
{
	while(i < n && s[i] >= '0' && s[i] <= '9') {
		i++;
	}
	return i;
}

/* Whether s[0..n) is a number in the RFC 8259 grammar. */
static bool number_ok(const char *s, size_t n)
{
	size_t i = 0;
	size_t d;

	if(i < n && s[i] == '-') {
		i++;
	}
	if(i < n && s[i] == '0') {
		i++;
	} else {
		d = digits(s, i, n);
		if(d == i) {
			return false;
		}
		i = d;
	}
	if(i < n && s[i] == '.') {
		d = digits(s, i + 1, n);
		if(d == i + 1) {
			return false;
		}
		i = d;
	}
	if(i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if(i < n && (s[i] == '+' || s[i] == '-')) {
			i++;
		}
		d = digits(s, i, n);
		if(d == i) {
			return false;
		}
		i = d;
	}
	return i == n;
}

/* Checks outside strings; returns the bytes consumed (>= 1), or 0 with *why set. */
static size_t scan_outside(const char *s, size_t len, size_t i, unsigned *depth,
		unsigned max_depth, const char **why)
{
	unsigned char c = (unsigned char)s[i];

	if(c == '[' || c == '{') {
		if(++*depth > max_depth) {
			*why = "JSON nested too deeply";
			return 0;
		}
	} else if((c == ']' || c == '}') && *depth > 0) {
		(*depth)--;
	} else if(c == '-' || (c >= '0' && c <= '9')) {
		/* cJSON hands the whole run to strtod, which takes more than RFC 8259 does. */
		size_t n = number_run(s + i, len - i);
		if(!number_ok(s + i, n)) {
			*why = "number is not in JSON syntax";
			return 0;
		}
		if(n > CX_JSON_NUMBER_MAX) {
			*why = "number too long";
			return 0;
		}
		return n;
	} else if(c >= 0x80) {
		*why = "non-ASCII byte outside a string";
		return 0;
	} else if(c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
		*why = "control character outside a string";
		return 0;
	}
	return 1;
}

bool cx_json_scan(const char *s, size_t len, unsigned max_depth, const char **why)
{
	unsigned depth = 0;
	bool in_string = false;

	for(size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if(c == '\0') {
			*why = "payload contains a NUL byte";
			return false;
		}
		if(in_string) {
			if(c < 0x20) {
				*why = "unescaped control character in a string";
				return false;
			}
			if(c == '"') {
				in_string = false;
			} else if(c == '\\') {
				/* \u0000 would end the C string early and hide what follows. */
				if(len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0) {
					*why = "string contains \\u0000";
					return false;
				}
				/* cJSON reads a \u without four hex digits as U+0000 too. */
				if(i + 1 < len && s[i + 1] == 'u' && (len - i < 6 || !is_hex((unsigned char)s[i + 2])
						|| !is_hex((unsigned char)s[i + 3]) || !is_hex((unsigned char)s[i + 4])
						|| !is_hex((unsigned char)s[i + 5]))) {
					*why = "invalid \\u escape in a string";
					return false;
				}
				if(i + 1 < len && (unsigned char)s[i + 1] < 0x20) {
					*why = "unescaped control character in a string";
					return false;
				}
				i++; /* the escaped character cannot end the string */
			}
			continue;
		}
		if(c == '"') {
			in_string = true;
			continue;
		}
		size_t n = scan_outside(s, len, i, &depth, max_depth, why);
		if(n == 0) {
			return false;
		}
		i += n - 1;
	}
	return true;
}

static void set_why(const char **why, const char *reason)
{
	if(why != NULL) {
		*why = reason;
	}
}

cJSON *cx_json_parse_object(const char *payload, size_t len, const char **why)
{
	const char *reason = NULL;
	const char *end = NULL;

	if(payload == NULL || len == 0) {
		set_why(why, "empty payload");
		return NULL;
	}
	if(!cx_json_scan(payload, len, CX_JSON_MAX_DEPTH, &reason)) {
		set_why(why, reason);
		return NULL;
	}
	/* Outside strings the scan allowed ASCII only, so this checks the strings. */
	if(!cx_utf8_valid(payload, len)) {
		set_why(why, "string is not valid UTF-8");
		return NULL;
	}
	cJSON *root = cJSON_ParseWithLengthOpts(payload, len, &end, 0);
	if(root == NULL) {
		set_why(why, "payload is not valid JSON");
		return NULL;
	}
	/* cJSON stops after the first value; anything but whitespace after it is an error. */
	for(const char *p = end; p != NULL && p < payload + len; p++) {
		if(*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			cx_json_delete(root);
			set_why(why, "trailing data after the JSON value");
			return NULL;
		}
	}
	if(!cJSON_IsObject(root)) {
		cx_json_delete(root);
		set_why(why, "payload is not a JSON object");
		return NULL;
	}
	return root;
}

void cx_json_wipe(cJSON *item)
{
	for(; item != NULL; item = item->next) {
		cx_wipe_str(item->valuestring);
		cx_wipe_str(item->string);
		cx_wipe(&item->valuedouble, sizeof(item->valuedouble));
		cx_wipe(&item->valueint, sizeof(item->valueint));
		cx_json_wipe(item->child);
	}
}

void cx_json_delete(cJSON *item)
{
	if(item == NULL) {
		return;
	}
	/* Only this item and its children: a detached item has no siblings we own. */
	cJSON *next = item->next;
	item->next = NULL;
	cx_json_wipe(item);
	item->next = next;
	cJSON_Delete(item);
}

cx_json_res cx_json_member(const cJSON *obj, const char *name, const cJSON **out)
{
	const cJSON *found = NULL;

	*out = NULL;
	if(!cJSON_IsObject(obj)) {
		return CX_JSON_BAD;
	}
	for(const cJSON *c = obj->child; c != NULL; c = c->next) {
		if(c->string != NULL && strcmp(c->string, name) == 0) {
			if(found != NULL) {
				return CX_JSON_BAD;
			}
			found = c;
		}
	}
	if(found == NULL) {
		return CX_JSON_ABSENT;
	}
	*out = found;
	return CX_JSON_OK;
}

cx_json_res cx_json_get_string(const cJSON *obj, const char *name, const char **out, size_t *len)
{
	const cJSON *item;
	cx_json_res res = cx_json_member(obj, name, &item);

	if(res != CX_JSON_OK) {
		return res;
	}
	if(!cJSON_IsString(item) || item->valuestring == NULL) {
		return CX_JSON_BAD;
	}
	*out = item->valuestring;
	if(len != NULL) {
		*len = strlen(item->valuestring);
	}
	return CX_JSON_OK;
}

cx_json_res cx_json_get_uint32(const cJSON *obj, const char *name, uint32_t min, uint32_t max,
		uint32_t *out)
{
	const cJSON *item;
	cx_json_res res = cx_json_member(obj, name, &item);

	if(res != CX_JSON_OK) {
		return res;
	}
	if(!cJSON_IsNumber(item)) {
		return CX_JSON_BAD;
	}
	/* valueint saturates, so range and integrality are judged on the double. */
	return cx_json_uint32_of(item->valuedouble, min, max, out) ? CX_JSON_OK : CX_JSON_BAD;
}

bool cx_json_uint32_of(double v, uint32_t min, uint32_t max, uint32_t *out)
{
	if(!isfinite(v) || v < (double)min || v > (double)max) {
		return false;
	}
	/* In range, so the conversion is defined; a fraction does not survive it (no libm needed). */
	uint32_t u = (uint32_t)v;
	if((double)u != v) {
		return false;
	}
	*out = u;
	return true;
}

cx_json_res cx_json_get_bool(const cJSON *obj, const char *name, bool *out)
{
	const cJSON *item;
	cx_json_res res = cx_json_member(obj, name, &item);

	if(res != CX_JSON_OK) {
		return res;
	}
	if(!cJSON_IsBool(item)) {
		return CX_JSON_BAD;
	}
	*out = cJSON_IsTrue(item);
	return CX_JSON_OK;
}

char *cx_json_print(const cJSON *item, size_t hint, size_t *len)
{
	/* cJSON asks for a few spare bytes beyond its estimate; numbers may also grow.
	 * The buffer doubles until the text fits: a tree prints to a finite size,
	 * however far it is from the hint (a card with a photo, say). */
	size_t cap = hint + 64;

	while(cap <= (size_t)INT32_MAX) {
		char *buf = malloc(cap);
		if(buf == NULL) {
			return NULL;
		}
		if(cJSON_PrintPreallocated((cJSON *)item, buf, (int)cap, 0)) {
			*len = strlen(buf);
			return buf;
		}
		cx_wipe(buf, cap);
		free(buf);
		if(cap > (size_t)INT32_MAX / 2) {
			return NULL;
		}
		cap *= 2;
	}
	return NULL;
}

void cx_jw_init(cx_jw *w, char *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf != NULL ? cap : 0;
	w->len = 0;
	if(w->cap > 0) {
		w->buf[0] = '\0';
	}
}

void cx_jw_raw(cx_jw *w, const char *s, size_t n)
{
	if(w->cap > 0 && w->len < w->cap - 1) {
		size_t room = w->cap - 1 - w->len;
		size_t k = n < room ? n : room;
		memcpy(w->buf + w->len, s, k);
		w->buf[w->len + k] = '\0';
	}
	w->len += n;
}

void cx_jw_lit(cx_jw *w, const char *s)
{
	cx_jw_raw(w, s, strlen(s));
}

/* Bytes a JSON string cannot hold as they are: controls, DEL, quote, backslash. */
#define E4(c) [c] = true, [c + 1] = true, [c + 2] = true, [c + 3] = true
static const bool needs_escape[256] = {
	E4(0), E4(4), E4(8), E4(12), E4(16), E4(20), E4(24), E4(28),
	['"'] = true, ['\\'] = true, [0x7f] = true,
};
#undef E4

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
/* Whether any byte of v is 0; exact for the word as a whole, not per byte. */
#define HAS_ZERO(v) ((((v) - ONES) & ~(v) & HIGHS) != 0)

/*
 * Whether any of the 8 bytes at p needs an escape (needs_escape): a byte
 * below 0x20 (the high bit of x - 0x20 set where x had it clear), '"', '\\'
 * or DEL. Each test is exact for the word as a whole.
 */
static bool any_escape8(const char *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
	return ((x - ONES * 0x20) & ~x & HIGHS) != 0 || HAS_ZERO(x ^ (ONES * '"'))
		|| HAS_ZERO(x ^ (ONES * '\\')) || HAS_ZERO(x ^ (ONES * 0x7f));
}

void cx_jw_strn(cx_jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the pending run of bytes that need no escape */
	size_t i = 0;

	while(n - i >= 8 && !any_escape8(s + i)) {
		i += 8;
	}
	while(i < n && !needs_escape[(unsigned char)s[i]]) {
		i++;
	}
	/* Most strings need no escape and fit: quotes and text in one go. */
	if(i == n && w->cap > 0 && w->len < w->cap && n + 2 < w->cap - w->len) {
		char *o = w->buf + w->len;
		o[0] = '"';
		memcpy(o + 1, s, n);
		o[n + 1] = '"';
		o[n + 2] = '\0';
		w->len += n + 2;
		return;
	}
	cx_jw_raw(w, "\"", 1);
	for(;;) {
		/* Runs without escapes, 8 bytes at a time, then byte by byte. */
		while(n - i >= 8 && !any_escape8(s + i)) {
			i += 8;
		}
		while(i < n && !needs_escape[(unsigned char)s[i]]) {
			i++;
		}
		if(i >= n) {
			break;
		}
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t elen = 2;
		esc[0] = '\\';
		switch(c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0x0f];
			elen = 6;
			break;
		}
		cx_jw_raw(w, s + run, i - run);
		cx_jw_raw(w, esc, elen);
		i++;
		run = i;
	}
	cx_jw_raw(w, s + run, n - run);
	cx_jw_raw(w, "\"", 1);
}

void cx_jw_str(cx_jw *w, const char *s)
{
	if(s == NULL) {
		s = "";
	}
	cx_jw_strn(w, s, strlen(s));
}

void cx_jw_uint(cx_jw *w, uint64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while(v != 0);
	cx_jw_raw(w, tmp + i, sizeof(tmp) - i);
}

void cx_jw_key(cx_jw *w, const char *name, bool first)
{
	if(!first) {
		cx_jw_raw(w, ",", 1);
	}
	cx_jw_str(w, name);
	cx_jw_raw(w, ":", 1);
}

size_t cx_jw_finish(const cx_jw *w)
{
	return w->len;
}

size_t cx_utf8_cut(const char *s, size_t len, size_t max)
{
	if(len <= max) {
		return len;
	}
	size_t n = max;
	/* s[n] is the first byte left out; a continuation byte there means a split character. */
	while(n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) {
		n--;
	}
	return n;
}

size_t cx_utf8_next(const char *s, size_t avail)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;
	size_t n;

	if(avail == 0) {
		return 0;
	}
	if(p[0] < 0x80) {
		return 1;
	}
	if(p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if(p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		/* E0 would be overlong below A0; ED A0..BF would be a surrogate. */
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if(p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		/* F0 would be overlong below 90; F4 90 and up is beyond U+10FFFF. */
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if(avail < n || p[1] < lo || p[1] > hi) {
		return 0;
	}
	for(size_t i = 2; i < n; i++) {
		if((p[i] & 0xc0) != 0x80) {
			return 0;
		}
	}
	return n;
}

bool cx_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;

	while(i < len) {
		/* ASCII runs are the common case: one comparison per byte. */
		if((unsigned char)s[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = cx_utf8_next(s + i, len - i);
		if(n == 0) {
			return false;
		}
		i += n;
	}
	return true;
}
