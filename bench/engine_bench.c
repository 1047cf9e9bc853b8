/*
 * cardex-bench --engine: the exchange engine in-process, without a broker.
 *
 * For each size N (10k, 100k and 1M pending offers by default, capped by
 * --offers) a fresh engine is loaded with N offers from distinct terminals,
 * and the process's resident size is read before and after (bytes per
 * pending offer). At that size it then times K = N/10 more offers, K
 * matching claims spread over all pending offers, the 2K cards that close
 * those exchanges, and finally the expiry of all N offers: the clock jumps
 * past their lifetime and cx_engine_tick runs in budgets (as the plugin's
 * TICK does) until nothing is due. The emit callback only counts replies,
 * so the figures are the engine's own cost, without JSON encoding or
 * publishing.
 *
 * Every operation and tick is timed twice: by the wall clock (what a client
 * waits, preemption by other processes included) and by the thread's CPU
 * time (the engine's own work, page faults included, preemption excluded),
 * so that on a shared machine a pause of the engine's own can be told from
 * a slice taken by another process.
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cards.h"
#include "crypto.h"
#include "engine.h"
#include "json.h"
#include "stats.h"

#define ID_DIGITS 7             /* "terminal-0000123": up to 9,999,999 terminals */
#define OFFERS_MAX 5000000      /* largest --offers accepted by main.c */
#define EXTRA_MAX 100000        /* K, the operations timed at each size, at most */
#define START_MS 1000           /* the engine's clock when loading starts */
#define NSIZES_MAX 4

/* Replies counted by type, and what the benchmark needs back from them. */
struct tally {
	uint64_t n[CX_REPLY__LAST + 1];
	char xid[CX_XID_HEX + 1]; /* exchange ID of the last match */
	cx_code last_error;
};

/* Cost of one kind of operation at one size. */
struct op_cost {
	double mean_ns;            /* total time / operations: includes rare pauses */
	double p50_ns;             /* typical operation: what "flat" is judged on */
	double p99_ns;
	double max_us;             /* the longest single operation: a pause the broker would feel */
	double max_cpu_us;         /* the same in the thread's CPU time: the engine's own part of it */
};

struct size_result {
	size_t pending;
	size_t extra;              /* K */
	double load_offers_per_s;  /* N offers into an empty engine */
	double load_max_us;        /* slowest single offer while loading */
	double load_max_cpu_us;    /* the same in CPU time */
	double bytes_per_offer;    /* resident size growth / N */
	struct op_cost offer;      /* K more offers at size N */
	struct op_cost claim;      /* K matching claims at size N */
	struct op_cost card;       /* 2K cards at size N */
	double expire_total_ms;    /* expiring all N, ticks back to back */
	double expire_max_tick_ms; /* longest single tick */
	double expire_max_tick_cpu_ms; /* the same in CPU time */
	double expire_ns;          /* per expired offer, total time / N */
	double expire_p50_ns;      /* per expired offer in the median full tick: what "flat" is judged on */
	size_t expire_ticks;
};

/* The engine's emit callback: counts replies and keeps the last match's exchange ID. */
static void count_emit(void *ctx, const char *to, const cx_reply *r)
{
	struct tally *t = ctx;

	(void)to;
	if (r->type >= CX_REPLY_OFFER && r->type <= CX_REPLY__LAST)
		t->n[r->type]++;
	if (r->type == CX_REPLY_MATCH && r->xid != NULL) {
		size_t len = strnlen(r->xid, CX_XID_HEX);

		memcpy(t->xid, r->xid, len);
		t->xid[len] = '\0';
	}
	if (r->type == CX_REPLY_ERROR)
		t->last_error = r->code;
}

/* Writes prefix and i as ID_DIGITS decimal digits; out must hold 32 bytes. */
static void format_id(char *out, const char *prefix, size_t i)
{
	size_t len = strlen(prefix);

	memcpy(out, prefix, len);
	for (int d = ID_DIGITS - 1; d >= 0; d--) {
		out[len + (size_t)d] = (char)('0' + i % 10);
		i /= 10;
	}
	out[len + ID_DIGITS] = '\0';
}

/* A fast, well-mixed hash of x (SplitMix64's finaliser). */
static uint64_t splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/*
 * The 6-digit key of offer i: derived, not stored, so that holding a
 * million keys does not inflate the resident size being measured.
 */
static void key_for(char out[CX_KEY_DIGITS_MAX + 1], uint64_t seed, size_t i)
{
	uint32_t v = (uint32_t)(splitmix64(seed ^ i) % 1000000u);

	for (int d = 5; d >= 0; d--) {
		out[d] = (char)('0' + v % 10);
		v /= 10;
	}
	out[6] = '\0';
}

/*
 * The lifetime of offer i, spread uniformly over the protocol's 5..600 s as
 * offers made over time would be: with one lifetime for all, every timer
 * would be due at the same time and the heap would never need to order
 * them.
 */
static uint32_t ttl_for(uint64_t seed, size_t i)
{
	return CX_TTL_MIN + (uint32_t)(splitmix64(~seed ^ i) % (CX_TTL_MAX - CX_TTL_MIN + 1));
}

/* Offer i: terminal-<i> offers its derived key; req is scratch space the caller wipes. */
static void offer_at(cx_engine *e, int64_t now_ms, uint64_t seed, size_t i, cx_offer_req *req)
{
	char owner[32];

	format_id(owner, "terminal-", i);
	key_for(req->key, seed, i);
	format_id(req->ref, "o", i);
	req->ttl = ttl_for(seed, i);
	/* The topic is only echoed in error replies, which a correct run never gets. */
	cx_engine_offer(e, now_ms, owner, req, "keys");
}

/*
 * Runs stmt and adds its wall time to *wall_sum and its CPU time to the
 * maximum *cpu_max; leaves its wall time in wall_ns. The wall clock (about
 * 20 ns per call) is read inside the CPU clock (a system call), so that the
 * wall times do not include the latter.
 */
#define CLOCKED(wall_ns, cpu_max, stmt)                                 \
	do {                                                            \
		int64_t c_ = bench__thread_cpu_ns();                    \
		int64_t t_ = bench__now_ns();                           \
		stmt;                                                   \
		(wall_ns) = bench__now_ns() - t_;                       \
		c_ = bench__thread_cpu_ns() - c_;                       \
		if (c_ > *(cpu_max))                                    \
			*(cpu_max) = c_;                                \
	} while (0)

/* Times one operation into samples s, its CPU time into the maximum *cpu_max. */
#define TIMED(s, cpu_max, stmt)                                         \
	do {                                                            \
		int64_t w_;                                             \
		CLOCKED(w_, cpu_max, stmt);                             \
		bench__samples_add((s), (uint64_t)w_);                  \
	} while (0)

/* Loads n offers; fills the load figures. offers/s counts the offers' own wall time. */
static void load(cx_engine *e, uint64_t seed, size_t n, struct size_result *out)
{
	cx_offer_req req;
	int64_t wall, sum = 0, worst = 0, worst_cpu = 0;

	memset(&req, 0, sizeof(req));
	for (size_t i = 0; i < n; i++) {
		CLOCKED(wall, &worst_cpu, offer_at(e, START_MS, seed, i, &req));
		sum += wall;
		if (wall > worst)
			worst = wall;
	}
	out->load_offers_per_s = (double)n / ((double)sum / 1e9);
	out->load_max_us = (double)worst / 1e3;
	out->load_max_cpu_us = (double)worst_cpu / 1e3;
	cx_offer_req_clear(&req);
}

/* Mean, p50, p99 and max of the per-operation times in s (sorted in place). */
static void op_cost_of(bench__samples *s, int64_t cpu_max, struct op_cost *out)
{
	long double sum = 0;
	bench__pct p;

	for (size_t i = 0; i < s->len; i++)
		sum += s->v[i];
	bench__samples_summarize(s, &p);
	out->mean_ns = s->len ? (double)(sum / s->len) : NAN;
	out->p50_ns = p.p50_us * 1000.0;
	out->p99_ns = p.p99_us * 1000.0;
	out->max_us = p.max_us;
	out->max_cpu_us = (double)cpu_max / 1e3;
}

/*
 * At size n: K more offers, K matching claims spread over the n + K
 * pending ones (back to n), then the 2K cards that close those exchanges.
 * Returns 0, or -1 when memory runs out.
 */
static int ops_at_size(cx_engine *e, struct tally *t, uint64_t seed, size_t n, size_t k,
		const char *card, size_t card_len, struct size_result *out)
{
	char (*xids)[CX_XID_HEX + 1] = calloc(k, sizeof(*xids));
	bench__samples so = {0}, sc = {0}, sd = {0};
	int64_t co = 0, cc = 0, cd = 0;
	char owner[32], claimer[32];
	size_t stride = (n + k) / k;
	cx_offer_req oreq;
	cx_claim_req creq;
	cx_card_req dreq;
	int rc = -1;

	/* Room for every sample up front, so that no realloc lands inside a timed operation. */
	if (xids == NULL || bench__samples_reserve(&so, k) != 0 ||
			bench__samples_reserve(&sc, k) != 0 || bench__samples_reserve(&sd, 2 * k) != 0)
		goto cleanup;
	memset(&oreq, 0, sizeof(oreq));
	memset(&creq, 0, sizeof(creq));
	memset(&dreq, 0, sizeof(dreq));

	for (size_t i = n; i < n + k; i++)
		TIMED(&so, &co, offer_at(e, START_MS, seed, i, &oreq));

	for (size_t j = 0; j < k; j++) {
		size_t victim = j * stride;

		format_id(owner, "terminal-", victim);
		format_id(claimer, "claimer-", j);
		key_for(creq.key, seed, victim);
		memcpy(creq.from, claimer, strlen(claimer) + 1);
		format_id(creq.ref, "c", j);
		TIMED(&sc, &cc, cx_engine_claim(e, START_MS, claimer, owner, &creq, "claim"));
		memcpy(xids[j], t->xid, sizeof(xids[j]));
	}

	/* The engine passes card text through; the plugin has validated it by then. */
	dreq.card = (char *)card;
	dreq.card_len = card_len;
	for (size_t j = 0; j < k; j++) {
		format_id(owner, "terminal-", j * stride);
		format_id(claimer, "claimer-", j);
		memcpy(dreq.xid, xids[j], sizeof(dreq.xid));
		TIMED(&sd, &cd, cx_engine_card(e, START_MS, owner, claimer, &dreq, "card"));
		TIMED(&sd, &cd, cx_engine_card(e, START_MS, claimer, owner, &dreq, "card"));
	}
	op_cost_of(&so, co, &out->offer);
	op_cost_of(&sc, cc, &out->claim);
	op_cost_of(&sd, cd, &out->card);
	rc = 0;

cleanup:
	cx_offer_req_clear(&oreq);
	cx_claim_req_clear(&creq);
	bench__samples_free(&so);
	bench__samples_free(&sc);
	bench__samples_free(&sd);
	free(xids);
	return rc;
}

/*
 * Jumps past the offers' lifetime and ticks in budgets until nothing is
 * due. Returns how many timers expired, or 0 when memory runs out.
 */
static size_t expire_all(cx_engine *e, size_t n, size_t budget, struct size_result *out)
{
	int64_t late = START_MS + (int64_t)CX_TTL_MAX * 1000;
	bench__samples ticks = {0};
	size_t total = 0, done;
	int64_t wall, sum = 0, worst_cpu = 0;
	bench__pct p;

	if (bench__samples_reserve(&ticks, n / budget + 3) != 0)
		return 0;
	/* Bounded: each full tick removes budget timers, and only n were due. */
	do {
		CLOCKED(wall, &worst_cpu, done = cx_engine_tick(e, late, budget));
		/* Only full ticks tell the cost per timer; the last one is usually partial. */
		if (done == budget)
			bench__samples_add(&ticks, (uint64_t)wall);
		sum += wall;
		total += done;
	} while (done == budget && ticks.len <= n / budget + 1);
	out->expire_total_ms = (double)sum / 1e6;
	out->expire_ns = total ? (double)sum / (double)total : NAN;
	out->expire_ticks = ticks.len + (done < budget ? 1 : 0);
	bench__samples_summarize(&ticks, &p);
	out->expire_max_tick_ms = p.max_us / 1e3;
	out->expire_max_tick_cpu_ms = (double)worst_cpu / 1e6;
	out->expire_p50_ns = p.p50_us * 1e3 / (double)budget;
	if (isnan(out->expire_max_tick_ms))
		out->expire_max_tick_ms = out->expire_total_ms;
	bench__samples_free(&ticks);
	return total;
}

/* Checks the replies against what the run must have caused; prints what differs. */
static int verify(const struct tally *t, const cx_engine_stats *st, size_t n, size_t k,
		size_t expired)
{
	if (t->n[CX_REPLY_OFFER] == n + k && t->n[CX_REPLY_MATCH] == 2 * k &&
			t->n[CX_REPLY_CARD] == 2 * k && t->n[CX_REPLY_SENT] == 2 * k &&
			/* The timers: the n offers and the last claims of the k claimers, silently. */
			t->n[CX_REPLY_EXPIRED] == n && expired == n + k && t->n[CX_REPLY_ERROR] == 0 &&
			st->offers == 0 && st->exchanges == 0 && st->timers == 0)
		return 0;
	fprintf(stderr,
			"cardex-bench: engine replies differ from the expected ones at %zu offers: "
			"offer %" PRIu64 ", match %" PRIu64 ", card %" PRIu64 ", sent %" PRIu64
			", expired %" PRIu64 " (ticked %zu), error %" PRIu64 " (last %s); left: %zu offers, "
			"%zu exchanges, %zu timers\n",
			n, t->n[CX_REPLY_OFFER], t->n[CX_REPLY_MATCH], t->n[CX_REPLY_CARD],
			t->n[CX_REPLY_SENT], t->n[CX_REPLY_EXPIRED], expired, t->n[CX_REPLY_ERROR],
			t->last_error ? cx_code_name(t->last_error) : "none", st->offers, st->exchanges,
			st->timers);
	return -1;
}

/* One size from a fresh engine. Returns 0, or -1 after printing why. */
static int run_size(size_t n, size_t budget, const char *card, size_t card_len,
		struct size_result *out)
{
	struct tally t;
	cx_engine_stats st;
	cx_limits lim;
	cx_engine *e = NULL;
	long long rss0, rss1;
	uint64_t seed;
	size_t k, expired;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	memset(out, 0, sizeof(*out));
	out->pending = n;
	k = n / 10 > EXTRA_MAX ? EXTRA_MAX : (n / 10 ? n / 10 : 1);
	out->extra = k;
	cx_limits_default(&lim);
	lim.max_offers = (uint32_t)(n + k + 16);
	lim.max_exchanges = (uint32_t)(k + 16);

	/* Hand back what earlier sizes freed, so that this size's growth is its own. */
	malloc_trim(0);
	e = cx_engine_new(&lim, count_emit, &t);
	if (e == NULL) {
		fprintf(stderr, "cardex-bench: cannot create the engine (memory or entropy)\n");
		goto cleanup;
	}
	seed = (uint64_t)bench__now_ns();
	rss0 = bench__rss_bytes();
	load(e, seed, n, out);
	rss1 = bench__rss_bytes();
	out->bytes_per_offer = rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) / (double)n : NAN;

	if (ops_at_size(e, &t, seed, n, k, card, card_len, out) != 0) {
		fprintf(stderr, "cardex-bench: out of memory\n");
		goto cleanup;
	}
	expired = expire_all(e, n, budget, out);
	if (expired == 0) {
		fprintf(stderr, "cardex-bench: out of memory\n");
		goto cleanup;
	}
	cx_engine_get_stats(e, &st);
	rc = verify(&t, &st, n, k, expired);

cleanup:
	cx_engine_free(e);
	return rc;
}

/* The sizes to measure: 10k, 100k, 1M below max, then max itself. */
static size_t plan_sizes(size_t max, size_t sizes[NSIZES_MAX])
{
	static const size_t steps[] = {10000, 100000, 1000000};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (steps[i] < max)
			sizes[n++] = steps[i];
	}
	sizes[n++] = max;
	return n;
}

/* name_ns (mean), name_p50_ns, name_p99_ns and name_max_us. */
static void json_op(bench__json *j, const char *name, const struct op_cost *c)
{
	char key[48];

	snprintf(key, sizeof(key), "%s_ns", name);
	bench__json_num(j, key, c->mean_ns, 0);
	snprintf(key, sizeof(key), "%s_p50_ns", name);
	bench__json_num(j, key, c->p50_ns, 0);
	snprintf(key, sizeof(key), "%s_p99_ns", name);
	bench__json_num(j, key, c->p99_ns, 0);
	snprintf(key, sizeof(key), "%s_max_us", name);
	bench__json_num(j, key, c->max_us, 1);
	snprintf(key, sizeof(key), "%s_max_cpu_us", name);
	bench__json_num(j, key, c->max_cpu_us, 1);
}

/* The --json report; the headline figures are those of the largest size. */
static void print_json(const struct size_result *r, size_t nsizes, size_t budget)
{
	const struct size_result *big = &r[nsizes - 1], *small = &r[0];
	bench__json j;

	bench__json_begin(&j, stdout);
	bench__json_str(&j, "mode", "engine");
	bench__json_uint(&j, "offers", big->pending);
	bench__json_uint(&j, "tick_budget", budget);
	bench__json_num(&j, "bytes_per_offer", big->bytes_per_offer, 1);
	bench__json_num(&j, "offers_per_s", big->load_offers_per_s, 0);
	bench__json_num(&j, "claims_per_s", 1e9 / big->claim.mean_ns, 0);
	bench__json_num(&j, "cards_per_s", 1e9 / big->card.mean_ns, 0);
	/* The longest single operations anywhere at the largest size: pauses the broker would feel. */
	bench__json_num(&j, "offer_max_us",
			big->load_max_us > big->offer.max_us ? big->load_max_us : big->offer.max_us, 1);
	bench__json_num(&j, "claim_max_us", big->claim.max_us, 1);
	/* The same in CPU time: the engine's own work, without preemption by other processes. */
	bench__json_num(&j, "offer_max_cpu_us",
			big->load_max_cpu_us > big->offer.max_cpu_us ? big->load_max_cpu_us : big->offer.max_cpu_us,
			1);
	bench__json_num(&j, "claim_max_cpu_us", big->claim.max_cpu_us, 1);
	bench__json_num(&j, "expire_total_ms", big->expire_total_ms, 2);
	bench__json_num(&j, "expire_max_tick_ms", big->expire_max_tick_ms, 3);
	bench__json_num(&j, "expire_max_tick_cpu_ms", big->expire_max_tick_cpu_ms, 3);
	/* Typical cost at the largest size over that at the smallest: 1.0 is perfectly flat. */
	bench__json_num(&j, "offer_cost_ratio", bench__ratio(big->offer.p50_ns, small->offer.p50_ns), 2);
	bench__json_num(&j, "claim_cost_ratio", bench__ratio(big->claim.p50_ns, small->claim.p50_ns), 2);
	bench__json_num(&j, "card_cost_ratio", bench__ratio(big->card.p50_ns, small->card.p50_ns), 2);
	bench__json_num(&j, "expire_cost_ratio", bench__ratio(big->expire_p50_ns, small->expire_p50_ns), 2);
	bench__json_array_begin(&j, "sizes");
	for (size_t i = 0; i < nsizes; i++) {
		bench__json_object_begin(&j);
		bench__json_uint(&j, "pending", r[i].pending);
		bench__json_uint(&j, "ops", r[i].extra);
		bench__json_num(&j, "bytes_per_offer", r[i].bytes_per_offer, 1);
		bench__json_num(&j, "load_offers_per_s", r[i].load_offers_per_s, 0);
		bench__json_num(&j, "load_max_offer_us", r[i].load_max_us, 1);
		bench__json_num(&j, "load_max_offer_cpu_us", r[i].load_max_cpu_us, 1);
		json_op(&j, "offer", &r[i].offer);
		json_op(&j, "claim", &r[i].claim);
		json_op(&j, "card", &r[i].card);
		bench__json_num(&j, "expire_ns", r[i].expire_ns, 0);
		bench__json_num(&j, "expire_p50_ns", r[i].expire_p50_ns, 0);
		bench__json_num(&j, "expire_total_ms", r[i].expire_total_ms, 2);
		bench__json_num(&j, "expire_max_tick_ms", r[i].expire_max_tick_ms, 3);
		bench__json_num(&j, "expire_max_tick_cpu_ms", r[i].expire_max_tick_cpu_ms, 3);
		bench__json_uint(&j, "expire_ticks", r[i].expire_ticks);
		bench__json_object_end(&j);
	}
	bench__json_array_end(&j);
	bench__json_end(&j);
}

/* The human-readable report. */
static void print_table(const struct size_result *r, size_t nsizes, size_t budget)
{
	const struct size_result *big = &r[nsizes - 1];

	printf("cardex-bench --engine: up to %zu pending offers, tick budget %zu, one core\n\n",
			big->pending, budget);
	printf("Loading (N offers into an empty engine) and memory:\n");
	printf("%10s %12s %14s %16s\n", "pending", "offers/s", "slowest offer", "bytes per offer");
	for (size_t i = 0; i < nsizes; i++)
		printf("%10zu %12.0f %11.1f us %16.1f\n", r[i].pending, r[i].load_offers_per_s,
				r[i].load_max_us, r[i].bytes_per_offer);
	printf("\nOperations at size N (K = N/10, at most %d, of each; ns: p50 / p99 / mean, "
			"max in us):\n", EXTRA_MAX);
	printf("%10s %7s  %-27s %-27s %-24s\n", "pending", "K", "offer", "claim (matching)", "card");
	for (size_t i = 0; i < nsizes; i++) {
		const struct op_cost *c[3] = {&r[i].offer, &r[i].claim, &r[i].card};

		printf("%10zu %7zu ", r[i].pending, r[i].extra);
		for (int k = 0; k < 3; k++)
			printf(" %5.0f/%5.0f/%5.0f %7.1f", c[k]->p50_ns, c[k]->p99_ns, c[k]->mean_ns,
					c[k]->max_us);
		printf("\n");
	}
	printf("\nExpiry of all N (clock past their lifetime, ticks of %zu back to back):\n", budget);
	printf("%10s %14s %14s %12s %14s %7s\n", "pending", "ns/offer p50", "ns/offer mean",
			"total ms", "max tick ms", "ticks");
	for (size_t i = 0; i < nsizes; i++)
		printf("%10zu %14.0f %14.0f %12.2f %14.3f %7zu\n", r[i].pending, r[i].expire_p50_ns,
				r[i].expire_ns, r[i].expire_total_ms, r[i].expire_max_tick_ms, r[i].expire_ticks);
	printf("\nSlowest single operation in the thread's CPU time (the engine's own pauses, "
			"without preemption):\n");
	printf("%10s %14s %12s %12s %12s %14s\n", "pending", "load offer us", "offer us", "claim us",
			"card us", "expiry tick ms");
	for (size_t i = 0; i < nsizes; i++)
		printf("%10zu %14.1f %12.1f %12.1f %12.1f %14.3f\n", r[i].pending, r[i].load_max_cpu_us,
				r[i].offer.max_cpu_us, r[i].claim.max_cpu_us, r[i].card.max_cpu_us,
				r[i].expire_max_tick_cpu_ms);
	printf("\noffers/s %.0f, claims/s %.0f, cards/s %.0f, %.1f bytes per pending offer "
			"(at %zu)\n", big->load_offers_per_s, 1e9 / big->claim.mean_ns,
			1e9 / big->card.mean_ns, big->bytes_per_offer, big->pending);
	if (nsizes > 1)
		printf("p50 cost at %zu over p50 cost at %zu: offer %.2f, claim %.2f, card %.2f; "
				"expiry per offer %.2f\n", big->pending, r[0].pending,
				bench__ratio(big->offer.p50_ns, r[0].offer.p50_ns),
				bench__ratio(big->claim.p50_ns, r[0].claim.p50_ns),
				bench__ratio(big->card.p50_ns, r[0].card.p50_ns),
				bench__ratio(big->expire_p50_ns, r[0].expire_p50_ns));
}

/* True when every figure of r was measured. */
static bool complete(const struct size_result *r)
{
	const double v[] = {r->load_offers_per_s, r->load_max_us, r->bytes_per_offer,
		r->offer.mean_ns, r->offer.p50_ns, r->claim.mean_ns, r->claim.p50_ns, r->card.mean_ns,
		r->card.p50_ns, r->expire_total_ms, r->expire_max_tick_ms, r->expire_ns, r->expire_p50_ns,
		r->load_max_cpu_us, r->offer.max_cpu_us, r->claim.max_cpu_us, r->card.max_cpu_us,
		r->expire_max_tick_cpu_ms};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (isnan(v[i]) || isinf(v[i]))
			return false;
	}
	return true;
}

int bench__engine_main(const struct bench__opts *o)
{
	struct size_result r[NSIZES_MAX];
	size_t sizes[NSIZES_MAX], nsizes;
	char card[BENCH_CARD_BYTES + 1];

	if (o->offers > OFFERS_MAX) {
		fprintf(stderr, "cardex-bench: --offers must be at most %d\n", OFFERS_MAX);
		return BENCH_EXIT_USAGE;
	}
	if (bench__card_build(0, card, sizeof(card)) == 0) {
		fprintf(stderr, "cardex-bench: the built-in card does not pass the jCard check\n");
		return BENCH_EXIT_FAILED;
	}
	nsizes = plan_sizes(o->offers, sizes);
	for (size_t i = 0; i < nsizes; i++) {
		if (bench__stop)
			return BENCH_EXIT_INTERRUPTED;
		if (!o->json)
			fprintf(stderr, "cardex-bench: engine with %zu pending offers...\n", sizes[i]);
		if (run_size(sizes[i], o->tick_budget, card, BENCH_CARD_BYTES, &r[i]) != 0)
			return BENCH_EXIT_FAILED;
	}
	if (o->json)
		print_json(r, nsizes, o->tick_budget);
	else
		print_table(r, nsizes, o->tick_budget);
	for (size_t i = 0; i < nsizes; i++) {
		if (!complete(&r[i])) {
			fprintf(stderr, "cardex-bench: some engine figures could not be measured\n");
			return BENCH_EXIT_FAILED;
		}
	}
	return BENCH_EXIT_OK;
}
