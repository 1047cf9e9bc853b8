/*
 * The cardex: URI that an offer's QR code carries, "cardex:<terminal-id>/<key>",
 * and the grouping of a key for reading aloud. What a QR reader hands over
 * is untrusted text: the parser accepts exactly one form and never quotes
 * the key back.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "crypto.h"

#define SCHEME "cardex:"
#define SCHEME_LEN 7

int cli_uri_format(const char *id, const char *key, char *buf, size_t cap)
{
	int n;

	if(cap > 0) {
		buf[0] = '\0';
	}
	if(!cx_id_valid(id, strlen(id)) || !cx_key_valid(key, strlen(key), CX_KEY_DIGITS_MIN)) {
		return -1;
	}
	n = snprintf(buf, cap, SCHEME "%s/%s", id, key);
	if(n < 0 || (size_t)n >= cap) {
		cx_wipe(buf, cap);
		if(cap > 0) {
			buf[0] = '\0';
		}
		return -1;
	}
	return 0;
}

int cli_uri_parse(const char *uri, char *id, char *key, char *why)
{
	const char *rest, *slash;
	size_t idlen, keylen;

	id[0] = '\0';
	key[0] = '\0';
	/* RFC 3986: schemes are case-insensitive; QR readers may upper-case them. */
	if(strncasecmp(uri, SCHEME, SCHEME_LEN) != 0) {
		snprintf(why, CLI_WHY_MAX, "not a cardex: URI (expected cardex:<terminal-id>/<key>)");
		return -1;
	}
	rest = uri + SCHEME_LEN;
	slash = strchr(rest, '/');
	if(!slash) {
		snprintf(why, CLI_WHY_MAX, "the cardex: URI has no '/' between terminal ID and key");
		return -1;
	}
	idlen = (size_t)(slash - rest);
	if(!cx_id_valid(rest, idlen)) {
		snprintf(why, CLI_WHY_MAX, "the cardex: URI does not hold a valid terminal ID "
				"(1 to 64 of A-Z a-z 0-9 . _ -)");
		return -1;
	}
	keylen = strlen(slash + 1);
	if(!cx_key_valid(slash + 1, keylen, CX_KEY_DIGITS_MIN)) {
		snprintf(why, CLI_WHY_MAX, "the key in the cardex: URI must be 6 to 16 digits, "
				"and nothing may follow it");
		return -1;
	}
	memcpy(id, rest, idlen);
	id[idlen] = '\0';
	memcpy(key, slash + 1, keylen);
	key[keylen] = '\0';
	return 0;
}

int cli_key_group(const char *key, char *out, size_t cap)
{
	size_t n = strlen(key);
	size_t i, o = 0;

	for(i = 0; i < n; i++) {
		if(i > 0 && i % 3 == 0 && n - i != 1) {
			if(o + 1 >= cap) {
				goto toolong;
			}
			out[o++] = ' ';
		}
		if(o + 1 >= cap) {
			goto toolong;
		}
		out[o++] = key[i];
	}
	if(o >= cap) {
		goto toolong;
	}
	out[o] = '\0';
	return 0;
toolong:
	cx_wipe(out, cap);
	if(cap > 0) {
		out[0] = '\0';
	}
	return -1;
}
