/*
 * Validation and formatting of the protocol's identifiers. Every check reads
 * exactly len bytes, so embedded NULs and over-long inputs are refused rather
 * than silently cut.
 */
#include "ids.h"

#include <stdint.h>
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
	bool ok = true;

	if(s == NULL || len == 0 || len > max) {
		return false;
	}
	/* At most 64 bytes: reading them all costs less than a branch per byte. */
	for(size_t i = 0; i < len; i++) {
		ok &= id_char((unsigned char)s[i]);
	}
	return ok;
}

bool cx_id_valid(const char *s, size_t len)
{
	return charset_valid(s, len, CX_ID_MAX);
}

bool cx_ref_valid(const char *s, size_t len)
{
	return charset_valid(s, len, CX_REF_MAX);
}

#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

/*
 * Whether the 8 bytes at s are all lowercase hex digits. Each byte is ASCII
 * (high bit clear) first, so that adding to it cannot carry into the next:
 * b + 0x80 - lo has its high bit set exactly when b >= lo.
 */
static bool hex8(const char *s)
{
	uint64_t x;

	memcpy(&x, s, sizeof(x));
	if((x & HIGHS) != 0) {
		return false;
	}
	uint64_t digit = (x + ONES * (0x80 - '0')) & ~(x + ONES * (0x80 - '9' - 1));
	uint64_t letter = (x + ONES * (0x80 - 'a')) & ~(x + ONES * (0x80 - 'f' - 1));
	return ((digit | letter) & HIGHS) == HIGHS;
}

bool cx_xid_valid(const char *s, size_t len)
{
	if(s == NULL || len != CX_XID_HEX) {
		return false;
	}
	/* Exactly 32 characters: four words. */
	return hex8(s) && hex8(s + 8) && hex8(s + 16) && hex8(s + 24);
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
	bool ok = true;
	size_t idlen = 0;

	if(terminal_id == NULL || client_id == NULL) {
		return false;
	}
	/* One pass: the terminal ID's characters, and the client ID starting with it. */
	for(; terminal_id[idlen] != '\0'; idlen++) {
		if(idlen >= CX_ID_MAX || client_id[idlen] != terminal_id[idlen]) {
			return false;
		}
		ok &= id_char((unsigned char)terminal_id[idlen]);
	}
	if(idlen == 0 || !ok) {
		return false;
	}
	if(client_id[idlen] == '\0') {
		return true;
	}
	/* "<id>:" alone is refused: a suffix exists to tell connections apart. */
	return client_id[idlen] == ':' && client_id[idlen + 1] != '\0';
}
