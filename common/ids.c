/*
 * Validation and formatting of the protocol's identifiers. Every check reads
 * exactly len bytes, so embedded NULs and over-long inputs are refused rather
 * than silently cut.
 */
#include "ids.h"

#include <string.h>

/*
 * The character set shared by terminal IDs and request references, as a
 * table: IDs are checked dozens of times per exchange on the broker's hot
 * path (identity, topics, requests, replies).
 */
#define R10(c) [c] = true, [c + 1] = true, [c + 2] = true, [c + 3] = true, [c + 4] = true, \
		[c + 5] = true, [c + 6] = true, [c + 7] = true, [c + 8] = true, [c + 9] = true
static const bool id_chars[256] = {
	R10('0'), R10('A'), R10('A' + 10), ['U'] = true, ['V'] = true, ['W'] = true, ['X'] = true,
	['Y'] = true, ['Z'] = true, R10('a'), R10('a' + 10), ['u'] = true, ['v'] = true, ['w'] = true,
	['x'] = true, ['y'] = true, ['z'] = true, ['.'] = true, ['_'] = true, ['-'] = true,
};
#undef R10

static bool id_char(unsigned char c)
{
	return id_chars[c];
}

static bool charset_valid(const char *s, size_t len, size_t max)
{
	if(s == NULL || len == 0 || len > max) {
		return false;
	}
	for(size_t i = 0; i < len; i++) {
		if(!id_char((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

bool cx_id_valid(const char *s, size_t len)
{
	return charset_valid(s, len, CX_ID_MAX);
}

bool cx_ref_valid(const char *s, size_t len)
{
	return charset_valid(s, len, CX_REF_MAX);
}

/* Lowercase hex digits, the characters of exchange IDs. */
static const bool xid_chars[256] = {
	['0'] = true, ['1'] = true, ['2'] = true, ['3'] = true, ['4'] = true, ['5'] = true, ['6'] = true,
	['7'] = true, ['8'] = true, ['9'] = true, ['a'] = true, ['b'] = true, ['c'] = true, ['d'] = true,
	['e'] = true, ['f'] = true,
};

bool cx_xid_valid(const char *s, size_t len)
{
	bool ok = true;

	if(s == NULL || len != CX_XID_HEX) {
		return false;
	}
	/* Exactly 32 characters: no early exit needed, and none taken. */
	for(size_t i = 0; i < CX_XID_HEX; i++) {
		ok &= xid_chars[(unsigned char)s[i]];
	}
	return ok;
}

void cx_xid_format(const unsigned char raw[16], char out[CX_XID_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";

	for(size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	out[CX_XID_HEX] = '\0';
}

bool cx_client_id_allowed(const char *terminal_id, const char *client_id)
{
	if(terminal_id == NULL || client_id == NULL) {
		return false;
	}
	size_t idlen = strlen(terminal_id);
	if(!cx_id_valid(terminal_id, idlen)) {
		return false;
	}
	if(strncmp(client_id, terminal_id, idlen) != 0) {
		return false;
	}
	if(client_id[idlen] == '\0') {
		return true;
	}
	/* "<id>:" alone is refused: a suffix exists to tell connections apart. */
	return client_id[idlen] == ':' && client_id[idlen + 1] != '\0';
}
