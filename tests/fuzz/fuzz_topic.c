/*
 * Fuzz target: cx_topic_parse, which decides for every publish whether the
 * plugin owns it, and cx_topic_build, which makes reply topics.
 *
 * Input: one byte giving the prefix length (mod 17), the prefix, then the
 * topic (up to its first NUL, as MQTT topics hold none).
 * Invariants: the kind agrees with a plain reading of topic.h; for the four
 * valid kinds the ID lies inside the topic, ends it, is a valid terminal ID,
 * and cx_topic_build rebuilds exactly the topic parsed.
 */
#include "fuzz.h"

#include "topic.h"

static const struct {
	const char *name;
	cx_topic_kind kind;
} names[] = {
	{"keys", CX_TOPIC_KEYS},
	{"claim", CX_TOPIC_CLAIM},
	{"card", CX_TOPIC_CARD},
	{"reply", CX_TOPIC_REPLY},
};

static bool starts_with(const char *s, size_t slen, const char *p, size_t plen)
{
	return slen >= plen && memcmp(s, p, plen) == 0;
}

/* The classification topic.h describes, written out plainly. */
static cx_topic_kind ref_parse(const char *prefix, size_t plen, const char *topic, size_t tlen)
{
	if(!starts_with(topic, tlen, prefix, plen)) {
		return CX_TOPIC_OUTSIDE;
	}
	const char *rest = topic + plen;
	size_t rlen = tlen - plen;
	for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);
		if(rlen == n && memcmp(rest, names[i].name, n) == 0) {
			return CX_TOPIC_INVALID;
		}
		if(rlen > n && memcmp(rest, names[i].name, n) == 0 && rest[n] == '/') {
			return cx_id_valid(rest + n + 1, rlen - n - 1) ? names[i].kind : CX_TOPIC_INVALID;
		}
	}
	return CX_TOPIC_OUTSIDE;
}

static void check_owned(const char *prefix, size_t plen, const char *topic, size_t tlen,
		cx_topic_kind kind, const char *id, size_t idlen)
{
	FUZZ_CHECK(id != NULL && id > topic && id + idlen == topic + tlen);
	FUZZ_CHECK(cx_id_valid(id, idlen));
	/* A prefix holding a NUL cannot be given to the builder, which takes C strings. */
	if(memchr(prefix, '\0', plen) != NULL) {
		return;
	}
	char *cprefix = malloc(plen + 1);
	char *idcopy = malloc(idlen + 1);
	char *buf = malloc(tlen + 1);
	FUZZ_CHECK(cprefix != NULL && idcopy != NULL && buf != NULL);
	memcpy(cprefix, prefix, plen);
	cprefix[plen] = '\0';
	memcpy(idcopy, id, idlen);
	idcopy[idlen] = '\0';
	FUZZ_CHECK(cx_topic_build(buf, tlen + 1, cprefix, kind, idcopy) == tlen);
	FUZZ_CHECK(memcmp(buf, topic, tlen + 1) == 0);
	/* One byte short does not fit: the builder refuses rather than cutting. */
	FUZZ_CHECK(cx_topic_build(buf, tlen, cprefix, kind, idcopy) == 0);
	FUZZ_CHECK(tlen == 0 || buf[0] == '\0');
	free(buf);
	free(idcopy);
	free(cprefix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(size == 0) {
		return 0;
	}
	size_t plen = data[0] % 17;
	if(plen > size - 1) {
		plen = size - 1;
	}
	const char *prefix = (const char *)data + 1;
	size_t rest = size - 1 - plen;
	size_t tlen = fuzz_strlen((const char *)data + 1 + plen, rest);
	char *topic = malloc(tlen + 1);
	FUZZ_CHECK(topic != NULL);
	memcpy(topic, data + 1 + plen, tlen);
	topic[tlen] = '\0';

	const char *id = NULL;
	size_t idlen = 0;
	cx_topic_kind kind = cx_topic_parse(prefix, plen, topic, &id, &idlen);
	FUZZ_CHECK(kind == ref_parse(prefix, plen, topic, tlen));
	FUZZ_CHECK(cx_topic_parse(prefix, plen, topic, NULL, NULL) == kind);
	if(kind == CX_TOPIC_KEYS || kind == CX_TOPIC_CLAIM || kind == CX_TOPIC_CARD
			|| kind == CX_TOPIC_REPLY) {
		check_owned(prefix, plen, topic, tlen, kind, id, idlen);
	} else {
		FUZZ_CHECK(kind == CX_TOPIC_OUTSIDE || kind == CX_TOPIC_INVALID);
		FUZZ_CHECK(id == NULL && idlen == 0);
	}
	free(topic);
	return 0;
}
