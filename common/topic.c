/*
 * The topic namespace. Parsing decides between "outside" (the plugin defers
 * to the broker) and "inside" (the plugin owns the topic); anything inside
 * that is not exactly <kind>/<valid id> is INVALID, so a malformed publish
 * into the namespace is answered rather than routed.
 */
#include "topic.h"

#include <string.h>

#include "ids.h"

static const struct {
	const char *name;
	size_t len;
	cx_topic_kind kind;
} kinds[] = {
	{"keys", 4, CX_TOPIC_KEYS},
	{"claim", 5, CX_TOPIC_CLAIM},
	{"card", 4, CX_TOPIC_CARD},
	{"reply", 5, CX_TOPIC_REPLY},
};

cx_topic_kind cx_topic_parse(const char *prefix, size_t prefixlen, const char *topic,
		const char **id, size_t *idlen)
{
	if(topic == NULL) {
		return CX_TOPIC_OUTSIDE;
	}
	size_t tlen = strlen(topic);
	if(prefixlen > 0 && (prefix == NULL || tlen < prefixlen || memcmp(topic, prefix, prefixlen) != 0)) {
		return CX_TOPIC_OUTSIDE;
	}
	const char *rest = topic + prefixlen;
	size_t restlen = tlen - prefixlen;

	for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = kinds[i].len;
		if(restlen < n || memcmp(rest, kinds[i].name, n) != 0) {
			continue;
		}
		if(restlen == n) {
			return CX_TOPIC_INVALID; /* "keys" with the ID level missing */
		}
		if(rest[n] != '/') {
			continue; /* "keysX/..." is some other application's topic */
		}
		const char *p = rest + n + 1;
		size_t plen = restlen - n - 1;
		/* An extra level or an empty ID fails here, as '/' is not an ID character. */
		if(!cx_id_valid(p, plen)) {
			return CX_TOPIC_INVALID;
		}
		if(id != NULL) {
			*id = p;
		}
		if(idlen != NULL) {
			*idlen = plen;
		}
		return kinds[i].kind;
	}
	return CX_TOPIC_OUTSIDE;
}

size_t cx_topic_build(char *buf, size_t cap, const char *prefix, cx_topic_kind kind,
		const char *id)
{
	const char *name = NULL;
	size_t nlen = 0;
	size_t ilen = id != NULL ? strlen(id) : 0;
	for(size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if(kinds[i].kind == kind) {
			name = kinds[i].name;
			nlen = kinds[i].len;
		}
	}
	if(buf == NULL || name == NULL || id == NULL || !cx_id_valid(id, ilen)) {
		if(buf != NULL && cap > 0) {
			buf[0] = '\0';
		}
		return 0;
	}
	size_t plen = prefix != NULL ? strlen(prefix) : 0;
	size_t total = plen + nlen + 1 + ilen;
	if(total >= cap) {
		if(cap > 0) {
			buf[0] = '\0';
		}
		return 0;
	}
	if(plen > 0) {
		memcpy(buf, prefix, plen);
	}
	memcpy(buf + plen, name, nlen);
	buf[plen + nlen] = '/';
	memcpy(buf + plen + nlen + 1, id, ilen);
	buf[total] = '\0';
	return total;
}
