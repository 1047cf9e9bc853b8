/*
 * Strict parsing front end and bounded writer for the protocol's JSON.
 */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

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
		} else if(c == '[' || c == '{') {
			if(++depth > max_depth) {
				*why = "JSON nested too deeply";
				return false;
			}
		} else if((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
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
	double v = item->valuedouble;
	if(!isfinite(v) || v < (double)min || v > (double)max) {
		return CX_JSON_BAD;
	}
	/* In range, so the conversion is defined; a fraction does not survive it (no libm needed). */
	uint32_t u = (uint32_t)v;
	if((double)u != v) {
		return CX_JSON_BAD;
	}
	*out = u;
	return CX_JSON_OK;
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
	/* cJSON asks for a few spare bytes beyond its estimate; numbers may also grow. */
	size_t cap = hint + 64;
	size_t limit = hint * 32 + 4096;

	while(cap <= limit && cap <= (size_t)INT32_MAX) {
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

void cx_jw_strn(cx_jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* start of the pending run of bytes that need no escape */

	cx_jw_raw(w, "\"", 1);
	for(size_t i = 0; i < n; i++) {
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
			if(c >= 0x20 && c != 0x7f) {
				continue;
			}
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
		run = i + 1;
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
