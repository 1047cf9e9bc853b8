/*
 * The error code table, expanded from CX_CODE_MAP so names, messages and the
 * enum can never drift apart.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "errors.h"

static const char *const code_names[CX_CODE__COUNT] = {
	[CX_CODE_NONE] = NULL,
#define CX_CODE_NAME(name, wire, msg) [CX_CODE_##name] = wire,
	CX_CODE_MAP(CX_CODE_NAME)
#undef CX_CODE_NAME
};

static const char *const code_messages[CX_CODE__COUNT] = {
	[CX_CODE_NONE] = "",
#define CX_CODE_MSG(name, wire, msg) [CX_CODE_##name] = msg,
	CX_CODE_MAP(CX_CODE_MSG)
#undef CX_CODE_MSG
};

static bool code_in_range(cx_code code)
{
	return (int)code > (int)CX_CODE_NONE && (int)code < (int)CX_CODE__COUNT;
}

const char *cx_code_name(cx_code code)
{
	return code_in_range(code) ? code_names[code] : NULL;
}

const char *cx_code_message(cx_code code)
{
	return code_in_range(code) ? code_messages[code] : "";
}

cx_code cx_code_from_name(const char *name, size_t len)
{
	if(name == NULL) {
		return CX_CODE_NONE;
	}
	for(int c = CX_CODE_NONE + 1; c < CX_CODE__COUNT; c++) {
		const char *wire = code_names[c];
		if(strlen(wire) == len && memcmp(wire, name, len) == 0) {
			return (cx_code)c;
		}
	}
	return CX_CODE_NONE;
}
