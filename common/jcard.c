/*
 * Structural check of jCard values (RFC 7095). The plugin passes cards on
 * without interpreting them, so this only makes sure that what it relays is
 * shaped like a vCard 4.0 with a formatted name, and is bounded in size.
 */
#include "jcard.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static int fail(const char **why, const char *reason)
{
	if(why != NULL) {
		*why = reason;
	}
	return -1;
}

static bool nonempty_string(const cJSON *item)
{
	return cJSON_IsString(item) && item->valuestring != NULL && item->valuestring[0] != '\0';
}

/* A parameter value: a string, or an array of strings (e.g. "type":["work","voice"]). */
static bool param_value_ok(const cJSON *v)
{
	if(cJSON_IsString(v)) {
		return v->valuestring != NULL;
	}
	if(!cJSON_IsArray(v)) {
		return false;
	}
	for(const cJSON *e = v->child; e != NULL; e = e->next) {
		if(!cJSON_IsString(e) || e->valuestring == NULL) {
			return false;
		}
	}
	return true;
}

static bool params_ok(const cJSON *params)
{
	if(!cJSON_IsObject(params)) {
		return false;
	}
	for(const cJSON *p = params->child; p != NULL; p = p->next) {
		if(p->string == NULL || p->string[0] == '\0' || !param_value_ok(p)) {
			return false;
		}
	}
	return true;
}

/* A property value: scalar, or an array of values nested at most depth more levels. */
static bool value_ok(const cJSON *v, unsigned depth)
{
	if(cJSON_IsString(v)) {
		return v->valuestring != NULL;
	}
	if(cJSON_IsNumber(v)) {
		return isfinite(v->valuedouble);
	}
	if(cJSON_IsBool(v) || cJSON_IsNull(v)) {
		return true;
	}
	if(!cJSON_IsArray(v) || depth == 0) {
		return false;
	}
	for(const cJSON *e = v->child; e != NULL; e = e->next) {
		if(!value_ok(e, depth - 1)) {
			return false;
		}
	}
	return true;
}

int cx_jcard_check(const cJSON *card, const char **why)
{
	bool have_version = false;
	bool have_fn = false;
	size_t nprops = 0;

	if(!cJSON_IsArray(card) || cJSON_GetArraySize(card) != 2) {
		return fail(why, "card is not a two-element jCard array");
	}
	const cJSON *tag = card->child;
	const cJSON *props = tag->next;
	if(!cJSON_IsString(tag) || tag->valuestring == NULL || strcmp(tag->valuestring, "vcard") != 0) {
		return fail(why, "card does not start with \"vcard\"");
	}
	if(!cJSON_IsArray(props)) {
		return fail(why, "card properties are not an array");
	}
	for(const cJSON *prop = props->child; prop != NULL; prop = prop->next) {
		if(++nprops > CX_JCARD_MAX_PROPS) {
			return fail(why, "card has too many properties");
		}
		if(!cJSON_IsArray(prop)) {
			return fail(why, "card property is not an array");
		}
		const cJSON *name = prop->child;
		const cJSON *params = name != NULL ? name->next : NULL;
		const cJSON *type = params != NULL ? params->next : NULL;
		const cJSON *first = type != NULL ? type->next : NULL;
		if(first == NULL) {
			return fail(why, "card property has fewer than 4 elements");
		}
		if(!nonempty_string(name)) {
			return fail(why, "card property name is not a non-empty string");
		}
		if(!params_ok(params)) {
			return fail(why, "card property parameters are not an object of strings");
		}
		if(!nonempty_string(type)) {
			return fail(why, "card property type is not a non-empty string");
		}
		for(const cJSON *v = first; v != NULL; v = v->next) {
			if(!value_ok(v, CX_JCARD_MAX_DEPTH)) {
				return fail(why, "card property value has a bad type or is nested too deeply");
			}
		}
		/* vCard property names are case-insensitive (RFC 6350 section 3.3). */
		if(strcasecmp(name->valuestring, "version") == 0) {
			if(!cJSON_IsString(first) || strcmp(first->valuestring, "4.0") != 0) {
				return fail(why, "card version is not \"4.0\"");
			}
			have_version = true;
		} else if(strcasecmp(name->valuestring, "fn") == 0) {
			if(!nonempty_string(first)) {
				return fail(why, "card fn is not a non-empty string");
			}
			have_fn = true;
		}
	}
	if(!have_version) {
		return fail(why, "card has no version property");
	}
	if(!have_fn) {
		return fail(why, "card has no fn property");
	}
	return 0;
}
