/*
 * Fuzz target: the loader of a saved engine (cx_engine_load,
 * broker-plugin/engine_persist.c), past its checksum.
 *
 * Input: the bytes of a saved engine without its last 32 (the SHA-256),
 * which the target computes and appends, so that the fuzzer reaches the
 * records rather than only the checksum (the checksum itself is a single
 * comparison). The engine has small ceilings (4 offers, 2 exchanges, 4
 * windows), so that the dropping of entries over the limits is reached.
 *
 * Invariants, besides ASan/UBSan/LeakSanitizer:
 *   - a refused input leaves the engine empty and a reason naming a byte
 *     offset or the header;
 *   - loading emits nothing;
 *   - an accepted input saves again, and that output loads into a third
 *     engine with the same counts (nothing lost or added by a round trip);
 *   - every loaded entry expires by the end of its longest lifetime, each
 *     offer and exchange with its notices.
 */
#include <mbedtls/sha256.h>

#include "engine.h"
#include "fuzz.h"

#define NOW INT64_C(1000000)
#define WALL INT64_C(1800000000000)
#define DIGEST 32

static size_t emitted;

static void count_emit(void *ctx, const char *to, const cx_reply *r)
{
	(void)ctx;
	(void)r;
	FUZZ_CHECK(to != NULL && cx_id_valid(to, strlen(to)));
	emitted++;
}

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static int buf_write(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;

	if(b->len + len > b->cap){
		size_t cap = (b->len + len) * 2;
		unsigned char *p = realloc(b->p, cap);
		if(p == NULL){
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static bool empty(const cx_engine *e)
{
	cx_engine_stats st;

	cx_engine_get_stats(e, &st);
	return st.offers == 0 && st.exchanges == 0 && st.limiters == 0 && st.address_limiters == 0
			&& st.recent_claims == 0 && st.timers == 0 && st.total_failures == 0;
}

static cx_engine *engine(void)
{
	cx_limits lim;

	cx_limits_default(&lim);
	lim.max_offers = 4;
	lim.max_exchanges = 2;
	lim.max_limiters = 4;
	return cx_engine_new(&lim, count_emit, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *file = malloc(size + DIGEST);
	cx_engine_loaded st, st2;
	cx_engine *e, *e2;
	struct buf out = {0};
	char err[256];

	FUZZ_CHECK(file != NULL);
	memcpy(file, data, size);
	FUZZ_CHECK(mbedtls_sha256_ret(file, size, file + size, 0) == 0);
	e = engine();
	FUZZ_CHECK(e != NULL);
	emitted = 0;
	err[0] = '\0';
	if(cx_engine_load(e, NOW, WALL, file, size + DIGEST, &st, err, sizeof(err)) != 0){
		FUZZ_CHECK(err[0] != '\0');
		FUZZ_CHECK(empty(e));
		FUZZ_CHECK(emitted == 0);
		goto done;
	}
	FUZZ_CHECK(emitted == 0);
	FUZZ_CHECK(st.offers <= 4 && st.exchanges <= 2 && st.limiters <= 4 && st.recent_claims <= 4);
	FUZZ_CHECK(st.expired <= st.offers + st.exchanges);

	/* A round trip keeps every entry. */
	FUZZ_CHECK(cx_engine_save(e, NOW, WALL, buf_write, &out) == 0);
	e2 = engine();
	FUZZ_CHECK(e2 != NULL);
	FUZZ_CHECK(cx_engine_load(e2, NOW, WALL, out.p, out.len, &st2, err, sizeof(err)) == 0);
	FUZZ_CHECK(st2.offers == st.offers && st2.exchanges == st.exchanges && st2.limiters == st.limiters
			&& st2.recent_claims == st.recent_claims && st2.notices == st.notices
			&& st2.expired == st.expired && st2.dropped == 0);
	cx_engine_free(e2);

	/* Everything ends within the longest lifetime (an offer's 600 s here), with its notices. */
	cx_engine_tick(e, NOW + 601000, 1000);
	cx_engine_tick(e, NOW + 601000, 1000);
	FUZZ_CHECK(emitted >= st.offers + 2 * st.exchanges);
	cx_engine_stats es;
	cx_engine_get_stats(e, &es);
	FUZZ_CHECK(es.offers == 0 && es.exchanges == 0 && es.limiters == 0 && es.address_limiters == 0
			&& es.recent_claims == 0 && es.timers == 0);

done:
	cx_engine_free(e);
	free(out.p);
	free(file);
	return 0;
}
