/*
 * Fuzz target: the internals of common/json.c that every decoder and encoder
 * goes through.
 *
 * Each input is used four ways:
 *   - as a payload for cx_json_parse_object: when accepted, the tree is at
 *     most CX_JSON_MAX_DEPTH deep, holds no string with a hidden NUL, the
 *     typed getters agree with the member types (duplicates are refused),
 *     and cx_json_print output parses again and prints identically;
 *   - as a string for cx_jw_strn: the quoted output is JSON that parses back
 *     into exactly the input bytes (inputs without NUL bytes);
 *   - as text for the bounded writer: any capacity gets a NUL-terminated
 *     prefix of the full output and the full length;
 *   - as bytes for cx_utf8_cut (the cut never splits a UTF-8 sequence) and
 *     for cx_utf8_next and cx_utf8_valid, which must agree with a plain
 *     reading of RFC 3629 at every offset.
 */
#include "fuzz.h"

#include <inttypes.h>
#include <math.h>

#include "json.h"

/* Deepest nesting in the tree, counting item itself as 1. */
static unsigned tree_depth(const cJSON *item)
{
	unsigned deepest = 0;

	for(const cJSON *c = item->child; c != NULL; c = c->next) {
		unsigned d = tree_depth(c);
		if(d > deepest) {
			deepest = d;
		}
	}
	return (cJSON_IsArray(item) || cJSON_IsObject(item)) ? deepest + 1 : deepest;
}

/* How many members of obj are called name. */
static unsigned count_named(const cJSON *obj, const char *name)
{
	unsigned n = 0;

	for(const cJSON *c = obj->child; c != NULL; c = c->next) {
		n += c->string != NULL && strcmp(c->string, name) == 0;
	}
	return n;
}

static void check_getters(const cJSON *root, const cJSON *item)
{
	const cJSON *found = NULL;
	const char *s = NULL;
	size_t len = 0;
	uint32_t u = 0;
	bool b = false;
	unsigned count = count_named(root, item->string);

	cx_json_res res = cx_json_member(root, item->string, &found);
	FUZZ_CHECK(count >= 1);
	FUZZ_CHECK(count == 1 ? (res == CX_JSON_OK && found == item)
			: (res == CX_JSON_BAD && found == NULL));
	if(count != 1) {
		return;
	}
	res = cx_json_get_string(root, item->string, &s, &len);
	FUZZ_CHECK((res == CX_JSON_OK) == (cJSON_IsString(item) != 0));
	FUZZ_CHECK(res != CX_JSON_OK || (s == item->valuestring && len == strlen(s)));

	res = cx_json_get_uint32(root, item->string, 0, UINT32_MAX, &u);
	if(res == CX_JSON_OK) {
		FUZZ_CHECK(cJSON_IsNumber(item) && (double)u == item->valuedouble);
	} else {
		FUZZ_CHECK(res == CX_JSON_BAD);
		FUZZ_CHECK(!cJSON_IsNumber(item) || !isfinite(item->valuedouble)
				|| item->valuedouble < 0 || item->valuedouble > (double)UINT32_MAX
				|| item->valuedouble != floor(item->valuedouble));
	}
	res = cx_json_get_bool(root, item->string, &b);
	FUZZ_CHECK((res == CX_JSON_OK) == (cJSON_IsBool(item) != 0));
	FUZZ_CHECK(res != CX_JSON_OK || b == (cJSON_IsTrue(item) != 0));
}

static void check_object(const char *payload, size_t len)
{
	const char *why = NULL;
	cJSON *root = cx_json_parse_object(payload, len, &why);

	if(root == NULL) {
		FUZZ_CHECK(why != NULL && why[0] != '\0');
		return;
	}
	FUZZ_CHECK(cJSON_IsObject(root));
	FUZZ_CHECK(tree_depth(root) <= CX_JSON_MAX_DEPTH);
	FUZZ_CHECK(memchr(payload, '\0', len) == NULL);
	FUZZ_CHECK(cx_utf8_valid(payload, len));
	for(const cJSON *c = root->child; c != NULL; c = c->next) {
		FUZZ_CHECK(c->string != NULL);
		check_getters(root, c);
	}

	size_t plen = 0;
	char *printed = cx_json_print(root, len, &plen);
	FUZZ_CHECK(printed != NULL && strlen(printed) == plen);
	cJSON *again = cx_json_parse_object(printed, plen, &why);
	if(again == NULL) {
		fprintf(stderr, "printed tree refused: %s\n", why);
		FUZZ_CHECK(!"cx_json_print output parses again");
	}
	size_t plen2 = 0;
	char *printed2 = cx_json_print(again, plen, &plen2);
	FUZZ_CHECK(printed2 != NULL && plen2 == plen && memcmp(printed, printed2, plen) == 0);
	free(printed2);
	free(printed);
	cx_json_delete(again);
	cx_json_delete(root);
}

/* cx_jw_strn output, inside an array, parses back into the same bytes. */
static void check_string_escape(const char *s, size_t n)
{
	cx_jw w;
	const char *why = NULL;

	cx_jw_init(&w, NULL, 0);
	cx_jw_strn(&w, s, n);
	size_t need = cx_jw_finish(&w) + 2;
	char *buf = malloc(need + 1);
	FUZZ_CHECK(buf != NULL);
	cx_jw_init(&w, buf, need + 1);
	cx_jw_raw(&w, "[", 1);
	cx_jw_strn(&w, s, n);
	cx_jw_raw(&w, "]", 1);
	FUZZ_CHECK(cx_jw_finish(&w) == need && strlen(buf) == need);
	/* The strict scan accepts what the writer produces (a NUL is written as \u0000). */
	if(memchr(s, '\0', n) == NULL) {
		FUZZ_CHECK(cx_json_scan(buf, need, CX_JSON_MAX_DEPTH, &why));
	}
	cJSON *tree = cJSON_ParseWithLength(buf, need);
	FUZZ_CHECK(tree != NULL);
	const cJSON *str = cJSON_GetArrayItem(tree, 0);
	FUZZ_CHECK(cJSON_IsString(str));
	if(memchr(s, '\0', n) == NULL) {
		FUZZ_CHECK(strlen(str->valuestring) == n && memcmp(str->valuestring, s, n) == 0);
	}
	cJSON_Delete(tree);
	free(buf);
}

/* The same writes into a small buffer give a prefix of the full output and its full length. */
static void check_bounded(const char *s, size_t n, size_t cap, uint64_t v)
{
	char full[512];
	char small[64];
	cx_jw w;

	size_t k = n < 60 ? n : 60; /* 60 bytes escape to at most 360 */
	cx_jw_init(&w, full, sizeof(full));
	cx_jw_key(&w, "k", false);
	cx_jw_strn(&w, s, k);
	cx_jw_uint(&w, v);
	cx_jw_lit(&w, "}");
	size_t total = cx_jw_finish(&w);
	FUZZ_CHECK(total < sizeof(full) && strlen(full) == total);

	cx_jw_init(&w, small, cap);
	cx_jw_key(&w, "k", false);
	cx_jw_strn(&w, s, k);
	cx_jw_uint(&w, v);
	cx_jw_lit(&w, "}");
	FUZZ_CHECK(cx_jw_finish(&w) == total);
	if(cap > 0) {
		size_t kept = total < cap - 1 ? total : cap - 1;
		FUZZ_CHECK(strlen(small) == kept && memcmp(small, full, kept) == 0);
	}

	char digits[24];
	snprintf(digits, sizeof(digits), "%" PRIu64 "}", v);
	FUZZ_CHECK(total >= strlen(digits));
	FUZZ_CHECK(memcmp(full + total - strlen(digits), digits, strlen(digits)) == 0);
}

static void check_cut(const char *s, size_t n, size_t max)
{
	size_t cut = cx_utf8_cut(s, n, max);

	if(n <= max) {
		FUZZ_CHECK(cut == n);
		return;
	}
	FUZZ_CHECK(cut <= max);
	/* s[cut] starts the part left out: never the middle of a sequence... */
	FUZZ_CHECK(((unsigned char)s[cut] & 0xc0) != 0x80 || cut == 0);
	/* ...and nothing was given up needlessly: the bytes between are continuations. */
	for(size_t i = cut + 1; i <= max; i++) {
		FUZZ_CHECK(((unsigned char)s[i] & 0xc0) == 0x80);
	}
}

/* Length of the well-formed UTF-8 character at s[0..avail), as RFC 3629 defines it, or 0. */
static size_t ref_utf8_next(const unsigned char *s, size_t avail)
{
	size_t n;
	uint32_t cp;
	uint32_t min;

	if(avail == 0) {
		return 0;
	}
	if(s[0] < 0x80) {
		return 1;
	}
	if(s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
		min = 0x80;
	} else if(s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
		min = 0x800;
	} else if(s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
		min = 0x10000;
	} else {
		return 0;
	}
	if(avail < n) {
		return 0;
	}
	for(size_t i = 1; i < n; i++) {
		if((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if(cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return n;
}

static void check_utf8(const char *s, size_t n)
{
	bool valid = true;

	for(size_t i = 0; i < n; i++) {
		size_t want = ref_utf8_next((const unsigned char *)s + i, n - i);
		FUZZ_CHECK(cx_utf8_next(s + i, n - i) == want);
	}
	for(size_t i = 0; i < n && valid;) {
		size_t k = ref_utf8_next((const unsigned char *)s + i, n - i);
		valid = k > 0;
		i += k;
	}
	FUZZ_CHECK(cx_utf8_valid(s, n) == valid);
	FUZZ_CHECK(cx_utf8_next(s, 0) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	uint64_t v = 0;

	check_object(s, size);
	check_string_escape(s, size);
	for(size_t i = 0; i < size && i < 8; i++) {
		v = v << 8 | data[i];
	}
	check_bounded(s, size, size > 0 ? data[0] % 64 : 0, v);
	check_cut(s, size, size > 0 ? data[size - 1] % (size + 1) : 0);
	check_utf8(s, size);
	return 0;
}
