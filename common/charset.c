/*
 * Character sets and quoted-printable (charset.h).
 */
#include "charset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "charset_tables.h"
#include "crypto.h"

typedef struct {
	const char *names; /* normalized names (lowercase, no '-', '_' or blank), NUL-separated, "" ends */
	const uint16_t *table;
} cs_def;

/* Indexed by charset id: the first three have no table. */
static const cs_def sets[] = {
	{"utf8\0", NULL},
	{"usascii\0ascii\0ansix3.41968\0us\0", NULL},
	{"iso88591\0latin1\0l1\0iso885911987\0cp819\0ibm819\0", NULL},
	{"iso88592\0latin2\0l2\0", cs_iso_8859_2},
	{"iso88595\0cyrillic\0", cs_iso_8859_5},
	{"iso88597\0greek\0", cs_iso_8859_7},
	{"iso88599\0latin5\0l5\0", cs_iso_8859_9},
	{"iso885913\0latin7\0", cs_iso_8859_13},
	{"iso885915\0latin9\0l9\0", cs_iso_8859_15},
	{"windows1250\0cp1250\0xcp1250\0", cs_windows_1250},
	{"windows1251\0cp1251\0xcp1251\0", cs_windows_1251},
	{"windows1252\0cp1252\0xcp1252\0ansi\0", cs_windows_1252},
	{"windows1253\0cp1253\0", cs_windows_1253},
	{"windows1254\0cp1254\0", cs_windows_1254},
	{"windows1257\0cp1257\0", cs_windows_1257},
	{"koi8r\0", cs_koi8_r},
	{"koi8u\0", cs_koi8_u},
	{"macintosh\0mac\0macroman\0xmacroman\0", cs_macintosh},
	{"ibm850\0cp850\0", cs_ibm850},
};

#define NSETS (sizeof(sets) / sizeof(sets[0]))

int cx_charset_find(const char *name, size_t n)
{
	char norm[32];
	size_t k = 0;

	for(size_t i = 0; i < n; i++) {
		char c = name[i];
		if(c == '-' || c == '_' || c == ' ' || c == '\t') {
			continue;
		}
		if(k + 1 >= sizeof(norm)) {
			return -1;
		}
		norm[k++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	norm[k] = '\0';
	if(k == 0) {
		return -1;
	}
	for(size_t s = 0; s < NSETS; s++) {
		for(const char *p = sets[s].names; *p != '\0'; p += strlen(p) + 1) {
			if(strcmp(p, norm) == 0) {
				return (int)s;
			}
		}
	}
	return -1;
}

/* Appends code point cp (< 0x10000) as UTF-8 at o; returns the bytes written. */
static size_t put_utf8(char *o, unsigned cp)
{
	if(cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if(cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	o[0] = (char)(0xe0 | (cp >> 12));
	o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

int cx_charset_to_utf8(int cs, const char *s, size_t n, char **out, size_t *outlen, size_t *bad)
{
	*out = NULL;
	*outlen = 0;
	if(cs < 0 || (size_t)cs >= NSETS) {
		*bad = 0;
		return 1;
	}
	if(cs == CX_CHARSET_UTF8 || cs == CX_CHARSET_ASCII) {
		size_t b = cx_card__utf8_bad(s, n);
		if(cs == CX_CHARSET_ASCII) {
			for(size_t i = 0; i < b; i++) {
				if((unsigned char)s[i] >= 0x80) {
					b = i;
					break;
				}
			}
		}
		if(b != n) {
			*bad = b;
			return 1;
		}
	}
	/* Each byte becomes at most 3 bytes of UTF-8 (every table holds code points below 0x10000). */
	if(n > (SIZE_MAX - 1) / 3) {
		return -1;
	}
	char *o = malloc(n * 3 + 1);
	if(o == NULL) {
		return -1;
	}
	size_t k = 0;
	for(size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		unsigned cp = c;
		if(c >= 0x80 && cs != CX_CHARSET_UTF8 && cs != CX_CHARSET_LATIN1) {
			cp = sets[cs].table != NULL ? sets[cs].table[c - 0x80] : 0;
			if(cp == 0) {
				cx_wipe(o, k);
				free(o);
				*bad = i;
				return 1;
			}
		}
		if(cs == CX_CHARSET_UTF8) {
			o[k++] = (char)c;
		} else {
			k += put_utf8(o + k, cp);
		}
	}
	o[k] = '\0';
	*out = o;
	*outlen = k;
	return 0;
}

static int hexval(char c)
{
	if(c >= '0' && c <= '9') {
		return c - '0';
	}
	if(c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	if(c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

size_t cx_qp_decode(const char *s, size_t n, char *out)
{
	size_t k = 0;

	for(size_t i = 0; i < n; i++) {
		if(s[i] == '=') {
			if(i + 1 == n) {
				break; /* a soft line break with nothing after it */
			}
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if(lo >= 0) {
				out[k++] = (char)(hi * 16 + lo);
				i += 2;
				continue;
			}
		}
		out[k++] = s[i];
	}
	return k;
}

bool cx_is_base64_text(const char *s, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		char c = s[i];
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+'
				|| c == '/' || c == '=' || c == ' ' || c == '\t')) {
			return false;
		}
	}
	return true;
}
