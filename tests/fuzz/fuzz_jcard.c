/*
 * Fuzz target: cx_jcard_check on any JSON value cJSON can parse.
 *
 * Oracle: a second, deliberately plain reading of the rules in jcard.h
 * (ref_check below); both must agree on every tree. An accepted card must
 * also stay accepted after printing and parsing it again, which is what the
 * plugin does before relaying it.
 */
#include "fuzz.h"

#include <math.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "jcard.h"

static bool is_str(const cJSON *v)
{
	return v != NULL && cJSON_IsString(v) && v->valuestring != NULL;
}

static bool is_nonempty_str(const cJSON *v)
{
	return is_str(v) && v->valuestring[0] != '\0';
}

/* Parameter value: a string or an array of strings. */
static bool ref_param(const cJSON *v)
{
	if(is_str(v)) {
		return true;
	}
	if(!cJSON_IsArray(v)) {
		return false;
	}
	for(int i = 0; i < cJSON_GetArraySize(v); i++) {
		if(!is_str(cJSON_GetArrayItem(v, i))) {
			return false;
		}
	}
	return true;
}

/* A value at nesting level level (0 for the property's own values). */
static bool ref_value(const cJSON *v, int level)
{
	if(is_str(v) || cJSON_IsBool(v) || cJSON_IsNull(v)) {
		return true;
	}
	if(cJSON_IsNumber(v)) {
		return isfinite(v->valuedouble);
	}
	if(!cJSON_IsArray(v) || level >= CX_JCARD_MAX_DEPTH) {
		return false;
	}
	for(int i = 0; i < cJSON_GetArraySize(v); i++) {
		if(!ref_value(cJSON_GetArrayItem(v, i), level + 1)) {
			return false;
		}
	}
	return true;
}

/* One property; sets the flags when it is a good version or fn. Returns false when bad. */
static bool ref_prop(const cJSON *p, bool *version, bool *fn)
{
	if(!cJSON_IsArray(p) || cJSON_GetArraySize(p) < 4) {
		return false;
	}
	const cJSON *name = cJSON_GetArrayItem(p, 0);
	const cJSON *params = cJSON_GetArrayItem(p, 1);
	const cJSON *type = cJSON_GetArrayItem(p, 2);
	if(!is_nonempty_str(name) || !cJSON_IsObject(params) || !is_nonempty_str(type)) {
		return false;
	}
	for(const cJSON *q = params->child; q != NULL; q = q->next) {
		if(q->string == NULL || q->string[0] == '\0' || !ref_param(q)) {
			return false;
		}
	}
	for(int i = 3; i < cJSON_GetArraySize(p); i++) {
		if(!ref_value(cJSON_GetArrayItem(p, i), 0)) {
			return false;
		}
	}
	const cJSON *first = cJSON_GetArrayItem(p, 3);
	if(strcasecmp(name->valuestring, "version") == 0) {
		if(!is_str(first) || strcmp(first->valuestring, "4.0") != 0) {
			return false;
		}
		*version = true;
	} else if(strcasecmp(name->valuestring, "fn") == 0) {
		if(!is_nonempty_str(first)) {
			return false;
		}
		*fn = true;
	}
	return true;
}

static bool ref_check(const cJSON *card)
{
	bool version = false;
	bool fn = false;

	if(!cJSON_IsArray(card) || cJSON_GetArraySize(card) != 2) {
		return false;
	}
	const cJSON *tag = cJSON_GetArrayItem(card, 0);
	const cJSON *props = cJSON_GetArrayItem(card, 1);
	if(!is_str(tag) || strcmp(tag->valuestring, "vcard") != 0 || !cJSON_IsArray(props)) {
		return false;
	}
	if(cJSON_GetArraySize(props) > CX_JCARD_MAX_PROPS) {
		return false;
	}
	for(int i = 0; i < cJSON_GetArraySize(props); i++) {
		if(!ref_prop(cJSON_GetArrayItem(props, i), &version, &fn)) {
			return false;
		}
	}
	return version && fn;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	cJSON *tree = cJSON_ParseWithLength((const char *)data, size);

	if(tree == NULL) {
		return 0;
	}
	int rc = cx_jcard_check(tree, &why);
	FUZZ_CHECK(rc == 0 || rc == -1);
	FUZZ_CHECK(rc == 0 || (why != NULL && why[0] != '\0'));
	if((rc == 0) != ref_check(tree)) {
		fprintf(stderr, "cx_jcard_check says %s, the reference says %s\n",
				rc == 0 ? "valid" : why, rc == 0 ? "invalid" : "valid");
		FUZZ_CHECK(!"cx_jcard_check agrees with the reference reading of jcard.h");
	}
	if(rc == 0) {
		char *text = cJSON_PrintUnformatted(tree);
		FUZZ_CHECK(text != NULL);
		cJSON *again = cJSON_Parse(text);
		FUZZ_CHECK(again != NULL);
		FUZZ_CHECK(cx_jcard_check(again, NULL) == 0);
		cJSON_Delete(again);
		cJSON_free(text);
	}
	cJSON_Delete(tree);
	return 0;
}
