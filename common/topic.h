/*
 * The cardex topic namespace: [prefix]keys/<id>, [prefix]claim/<id>,
 * [prefix]card/<id> and [prefix]reply/<id>. The prefix is an operator option
 * (may be empty; when not empty it normally ends in '/').
 */
#ifndef CX_TOPIC_H
#define CX_TOPIC_H

#include <stddef.h>

typedef enum {
	CX_TOPIC_OUTSIDE = 0, /* not in the namespace: the plugin defers */
	CX_TOPIC_KEYS,
	CX_TOPIC_CLAIM,
	CX_TOPIC_CARD,
	CX_TOPIC_REPLY,
	CX_TOPIC_INVALID /* in the namespace but malformed: bad ID, extra or missing levels */
} cx_topic_kind;

/* Longest topic cx_topic_build writes for a prefix of length 0 (excluding NUL). */
#define CX_TOPIC_BASE_MAX (sizeof("claim/") - 1 + 64)

/*
 * Classifies topic under prefix. The namespace is every topic that starts
 * with prefix followed by "keys/", "claim/", "card/" or "reply/", or equals
 * prefix followed by "keys", "claim", "card" or "reply" (those are INVALID).
 * For KEYS, CLAIM, CARD and REPLY, *id and *idlen (when not NULL) point at the
 * terminal ID inside topic, which is then a valid ID with no further level.
 */
cx_topic_kind cx_topic_parse(const char *prefix, size_t prefixlen, const char *topic,
		const char **id, size_t *idlen);

/*
 * Writes prefix + "<kind>/" + id and a NUL into buf[cap]. Returns the length
 * written (excluding NUL), or 0 when kind is not KEYS/CLAIM/CARD/REPLY, id is
 * not a valid terminal ID, or the result does not fit.
 */
size_t cx_topic_build(char *buf, size_t cap, const char *prefix, cx_topic_kind kind,
		const char *id);

#endif
