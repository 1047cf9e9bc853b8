/*
 * cardex-bench (default mode): the plugin inside a real Mosquitto against
 * the same Mosquitto without it, in one run.
 *
 * Two brokers run side by side from the same settings, one loading
 * mosquitto_cardex.so. Both fleets of terminals connect at the start and
 * stay connected; then measured rounds alternate between the brokers in an
 * ABBA order (baseline, plugin, plugin, baseline, ...), so that a slow
 * spell of a shared machine falls on both alike. In each round only one
 * fleet works; the other broker idles.
 *
 * With --host/--port the bench uses a running broker with the plugin
 * (and --baseline-port one without it) whose password file already holds
 * bench-a-<i> and bench-b-<i> with the password in CARDEX_BENCH_PASSWORD.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <mosquitto.h>

#include "affinity.h"
#include "bench.h"
#include "cards.h"
#include "crypto.h"
#include "json.h"
#include "launch.h"
#include "load.h"
#include "stats.h"

#define MSGS_PER_EXCHANGE 11 /* 4 in (offer, claim, two cards), 7 out */
#define WARMUP_S 0.5         /* unmeasured exchanges per broker before the rounds */

enum {
	FLEET_PLUGIN = 0,
	FLEET_BASELINE,
	NFLEETS
};

/* One broker's figures. */
struct result {
	bool ran;
	uint64_t exchanges;
	uint64_t failures;
	double active_s;        /* measured windows */
	double wall_s;          /* rounds including their drain, for CPU shares */
	double exchanges_per_s;
	double msgs_per_s;
	bench__pct match[2];
	bench__pct match_both;
	bench__pct exchange;
	double broker_cpu_s;    /* NaN when the broker is not ours */
	double bench_cpu_s;
	double machine_busy_s;  /* all processors, all processes, during the rounds */
	uint64_t completed;     /* exchanges completed in the rounds, drains included */
};

struct run {
	const struct bench__opts *o;
	bench__broker brokers[NFLEETS];
	bench__fleet_cfg cfgs[NFLEETS];
	size_t fleet_of[NFLEETS]; /* index in the load of each fleet that runs */
	bool runs[NFLEETS];
	bench__tally tally[NFLEETS];
	struct result res[NFLEETS];
	bench__load *load;
	char password[2 * BENCH__PASSWORD_BYTES + 1];
	char *pwfile_text;
	unsigned rounds;
};

/* Lets a run with many terminals open as many sockets as the hard limit allows (brokers inherit it). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Starts our own brokers, or points the fleets at the given ones. Returns 0 or -1. */
static int setup_brokers(struct run *r)
{
	const struct bench__opts *o = r->o;

	r->cfgs[FLEET_PLUGIN] = (bench__fleet_cfg){BENCH_MODE_PLUGIN, "plugin", "127.0.0.1", 0,
		r->password, o->prefix ? o->prefix : "", 0};
	r->cfgs[FLEET_BASELINE] = (bench__fleet_cfg){BENCH_MODE_BASELINE, "baseline", "127.0.0.1", 0,
		r->password, "", 0};
	if (o->host != NULL) {
		const char *pw = getenv("CARDEX_BENCH_PASSWORD");

		if (pw == NULL || *pw == '\0' || strlen(pw) >= sizeof(r->password)) {
			fprintf(stderr, "cardex-bench: with --host, set CARDEX_BENCH_PASSWORD to the bench "
					"terminals' password (at most %d characters)\n", 2 * BENCH__PASSWORD_BYTES);
			return -1;
		}
		memcpy(r->password, pw, strlen(pw) + 1);
		r->cfgs[FLEET_PLUGIN].host = r->cfgs[FLEET_BASELINE].host = o->host;
		r->cfgs[FLEET_PLUGIN].port = o->port;
		r->cfgs[FLEET_BASELINE].port = o->baseline_port;
		return 0;
	}
	if (bench__make_password(r->password) != 0) {
		fprintf(stderr, "cardex-bench: cannot draw a password (entropy)\n");
		return -1;
	}
	r->pwfile_text = bench__pairs_password_file(o->mosquitto_passwd, o->pairs, r->password);
	if (r->pwfile_text == NULL)
		return -1;
	for (int fi = 0; fi < NFLEETS; fi++) {
		bench__broker_cfg bc = {o->mosquitto, fi == FLEET_PLUGIN ? o->plugin : NULL,
			r->pwfile_text, NULL, o->pin == BENCH_PIN_ON, o->broker_cpu};

		if (!r->runs[fi])
			continue;
		if (bench__broker_start(&r->brokers[fi], &bc) != 0)
			return -1;
		r->cfgs[fi].port = r->brokers[fi].port;
	}
	return 0;
}

/* CPU seconds of fleet fi's broker so far, NaN when it is not ours. */
static double broker_cpu(struct run *r, int fi)
{
	double s = r->brokers[fi].pid > 0 ? bench__proc_cpu_s(r->brokers[fi].pid) : -1;

	return s < 0 ? NAN : s;
}

/* One round on one broker; adds its CPU and wall time. Returns 0, 1 (interrupted) or -1. */
static int one_round(struct run *r, int fi, unsigned round)
{
	const struct bench__opts *o = r->o;
	double seconds = (double)o->duration_s / r->rounds;
	uint64_t count = 0;
	double b0, s0, m0;
	int64_t t0;
	int rc;

	if (o->count != 0)
		count = o->count / r->rounds + (round < o->count % r->rounds ? 1 : 0);
	b0 = broker_cpu(r, fi);
	s0 = bench__self_cpu_s();
	m0 = bench__machine_busy_s();
	t0 = bench__now_ns();
	rc = bench__load_round(r->load, r->fleet_of[fi], seconds, count, &r->tally[fi]);
	r->res[fi].wall_s += (double)(bench__now_ns() - t0) / 1e9;
	r->res[fi].bench_cpu_s += bench__self_cpu_s() - s0;
	r->res[fi].broker_cpu_s += broker_cpu(r, fi) - b0;
	r->res[fi].machine_busy_s += m0 < 0 ? NAN : bench__machine_busy_s() - m0;
	if (rc == 0 && r->o->host == NULL && !bench__broker_alive(&r->brokers[fi])) {
		fprintf(stderr, "cardex-bench: the %s broker died\n", r->cfgs[fi].label);
		bench__broker_dump_log(&r->brokers[fi]);
		rc = -1;
	}
	return rc;
}

/*
 * A short unmeasured round per broker first, so that neither is measured
 * while its memory pools, caches and the clients' sessions settle.
 * Failures still count. Returns 0, 1 or -1.
 */
static int warm_up(struct run *r)
{
	for (int fi = 0; fi < NFLEETS; fi++) {
		bench__tally scratch;
		int rc;

		if (!r->runs[fi])
			continue;
		memset(&scratch, 0, sizeof(scratch));
		rc = bench__load_round(r->load, r->fleet_of[fi], WARMUP_S, 0, &scratch);
		bench__tally_free(&scratch);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The rounds, alternating ABBA between the brokers that run. Returns 0, 1 or -1. */
static int run_rounds(struct run *r)
{
	int rc = warm_up(r);

	if (rc != 0)
		return rc;
	for (unsigned round = 0; round < r->rounds; round++) {
		int order[NFLEETS] = {FLEET_BASELINE, FLEET_PLUGIN};

		if (round % 2 == 1) {
			order[0] = FLEET_PLUGIN;
			order[1] = FLEET_BASELINE;
		}
		for (int k = 0; k < NFLEETS; k++) {
			int fi = order[k];

			if (!r->runs[fi])
				continue;
			if (!r->o->json)
				fprintf(stderr, "cardex-bench: round %u/%u, %s\n", round + 1, r->rounds,
						r->cfgs[fi].label);
			rc = one_round(r, fi, round);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* Turns the tallies into the figures of each broker. Cannot fail. */
static void summarize(struct run *r)
{
	for (int fi = 0; fi < NFLEETS; fi++) {
		struct result *res = &r->res[fi];
		bench__tally *t = &r->tally[fi];

		res->ran = r->runs[fi];
		/* Empty sample sets of a broker that did not run summarize to NaN: "-" and null. */
		bench__samples_summarize(&t->match[0], &res->match[0]);
		bench__samples_summarize(&t->match[1], &res->match[1]);
		bench__samples_summarize(&t->match_both, &res->match_both);
		bench__samples_summarize(&t->exchange, &res->exchange);
		if (!res->ran) {
			res->broker_cpu_s = res->bench_cpu_s = res->machine_busy_s = NAN;
			continue;
		}
		res->exchanges = t->exchanges;
		res->completed = t->completed;
		res->failures = bench__load_failures(r->load, r->fleet_of[fi]);
		res->active_s = t->active_s;
		res->exchanges_per_s = t->active_s > 0 ? (double)t->exchanges / t->active_s : NAN;
		res->msgs_per_s = res->exchanges_per_s * MSGS_PER_EXCHANGE;
	}
}

static double pct_of(double cpu_s, double wall_s)
{
	return bench__ratio(cpu_s * 100.0, wall_s);
}

/* Microseconds of CPU per completed exchange. */
static double us_per_exchange(double cpu_s, uint64_t completed)
{
	return bench__ratio(cpu_s * 1e6, (double)completed);
}

/*
 * What other processes took of the whole machine during res's rounds, in
 * percent of all processors: a busy machine makes every figure noisier.
 */
static double others_pct(const struct result *res)
{
	double ours = res->bench_cpu_s + (isnan(res->broker_cpu_s) ? 0 : res->broker_cpu_s);
	double v = pct_of(res->machine_busy_s - ours, res->wall_s * bench__ncpus());

	return v < 0 ? 0 : v;
}

/*
 * Baseline broker CPU per exchange over the plugin broker's: the
 * throughput ratio a broker bound by its own core alone would show, which
 * the measured ratio only approaches when the bench has CPU to spare.
 */
static double capacity_ratio(const struct result *p, const struct result *b)
{
	return bench__ratio(us_per_exchange(b->broker_cpu_s, b->completed),
			us_per_exchange(p->broker_cpu_s, p->completed));
}

/*
 * How the load was generated: "load", "pinned", and the processors of the
 * bench and of the brokers it started (null when not pinned). Figures of
 * one mode are not comparable with another's (docs/benchmarks.md).
 */
static void json_setup(bench__json *j, const struct bench__opts *o)
{
	bool pinned = o->pin == BENCH_PIN_ON;

	bench__json_str(j, "load", o->load == BENCH_LOAD_POLL ? "poll" : "sleep");
	bench__json_bool(j, "pinned", pinned);
	bench__json_num(j, "bench_on_cpu", pinned ? o->bench_cpu : NAN, 0);
	bench__json_num(j, "brokers_on_cpu", pinned && o->host == NULL ? o->broker_cpu : NAN, 0);
}

/* The same as one line of the table's heading. */
static void print_setup(const struct bench__opts *o)
{
	printf("load generator: %s", o->load == BENCH_LOAD_POLL ? "polling (never blocks)" :
			"sleeping until the broker writes");
	if (o->pin != BENCH_PIN_ON)
		printf(", not pinned\n");
	else if (o->host != NULL)
		printf(", bench pinned to CPU %d; brokers not its own, not pinned\n", o->bench_cpu);
	else
		printf(", bench pinned to CPU %d, brokers to CPU %d\n", o->bench_cpu, o->broker_cpu);
}

/* prefix_p50_us, _p90_us, _p99_us and _max_us. */
static void json_pct(bench__json *j, const char *prefix, const bench__pct *p)
{
	char name[64];

	snprintf(name, sizeof(name), "%s_p50_us", prefix);
	bench__json_num(j, name, p->p50_us, 1);
	snprintf(name, sizeof(name), "%s_p90_us", prefix);
	bench__json_num(j, name, p->p90_us, 1);
	snprintf(name, sizeof(name), "%s_p99_us", prefix);
	bench__json_num(j, name, p->p99_us, 1);
	snprintf(name, sizeof(name), "%s_max_us", prefix);
	bench__json_num(j, name, p->max_us, 1);
}

/* The --json report: one object, null for what was not measured. */
static void print_json(const struct run *r, bool ok)
{
	const struct result *p = &r->res[FLEET_PLUGIN], *b = &r->res[FLEET_BASELINE];
	const struct bench__opts *o = r->o;
	bench__json j;

	bench__json_begin(&j, stdout);
	bench__json_str(&j, "mode", "broker");
	bench__json_bool(&j, "ok", ok);
	bench__json_uint(&j, "pairs", o->pairs);
	bench__json_uint(&j, "rounds", r->rounds);
	bench__json_num(&j, "duration_s", o->count ? NAN : (double)o->duration_s, 0);
	bench__json_num(&j, "count_per_pair", o->count ? (double)o->count : NAN, 0);
	bench__json_uint(&j, "card_bytes", BENCH_CARD_BYTES);
	bench__json_uint(&j, "msgs_per_exchange", MSGS_PER_EXCHANGE);
	bench__json_num(&j, "warmup_s", WARMUP_S, 1);
	bench__json_bool(&j, "own_brokers", o->host == NULL);
	json_setup(&j, o);

	bench__json_uint(&j, "exchanges", p->exchanges);
	bench__json_uint(&j, "failures", p->failures);
	bench__json_num(&j, "exchanges_per_s", p->ran ? p->exchanges_per_s : NAN, 1);
	bench__json_num(&j, "plugin_msgs_per_s", p->ran ? p->msgs_per_s : NAN, 1);
	json_pct(&j, "match", &p->match_both);
	json_pct(&j, "match_a", &p->match[0]);
	json_pct(&j, "match_b", &p->match[1]);
	json_pct(&j, "exchange", &p->exchange);
	bench__json_num(&j, "broker_cpu_pct", pct_of(p->broker_cpu_s, p->wall_s), 1);
	bench__json_num(&j, "bench_cpu_pct", pct_of(p->bench_cpu_s, p->wall_s), 1);
	bench__json_num(&j, "others_cpu_pct", p->ran ? others_pct(p) : NAN, 1);
	bench__json_num(&j, "broker_us_per_exchange", us_per_exchange(p->broker_cpu_s, p->completed), 1);
	bench__json_num(&j, "bench_us_per_exchange", us_per_exchange(p->bench_cpu_s, p->completed), 1);

	bench__json_uint(&j, "baseline_exchanges", b->exchanges);
	bench__json_uint(&j, "baseline_failures", b->failures);
	bench__json_num(&j, "baseline_exchanges_per_s", b->ran ? b->exchanges_per_s : NAN, 1);
	bench__json_num(&j, "baseline_msgs_per_s", b->ran ? b->msgs_per_s : NAN, 1);
	json_pct(&j, "baseline_rtt", &b->match_both);
	json_pct(&j, "baseline_rtt_a", &b->match[0]);
	json_pct(&j, "baseline_rtt_b", &b->match[1]);
	json_pct(&j, "baseline_exchange", &b->exchange);
	bench__json_num(&j, "baseline_broker_cpu_pct", pct_of(b->broker_cpu_s, b->wall_s), 1);
	bench__json_num(&j, "baseline_bench_cpu_pct", pct_of(b->bench_cpu_s, b->wall_s), 1);
	bench__json_num(&j, "baseline_others_cpu_pct", b->ran ? others_pct(b) : NAN, 1);
	bench__json_num(&j, "baseline_broker_us_per_exchange",
			us_per_exchange(b->broker_cpu_s, b->completed), 1);
	bench__json_num(&j, "baseline_bench_us_per_exchange",
			us_per_exchange(b->bench_cpu_s, b->completed), 1);

	bench__json_num(&j, "throughput_ratio", bench__ratio(p->msgs_per_s, b->msgs_per_s), 3);
	bench__json_num(&j, "capacity_ratio", capacity_ratio(p, b), 3);
	bench__json_num(&j, "match_p50_ratio",
			bench__ratio(p->match_both.p50_us, b->match_both.p50_us), 3);
	bench__json_num(&j, "match_p99_ratio",
			bench__ratio(p->match_both.p99_us, b->match_both.p99_us), 3);
	bench__json_num(&j, "exchange_p50_ratio",
			bench__ratio(p->exchange.p50_us, b->exchange.p50_us), 3);
	bench__json_num(&j, "exchange_p99_ratio",
			bench__ratio(p->exchange.p99_us, b->exchange.p99_us), 3);
	bench__json_end(&j);
}

/* Writes v with the given decimals into buf, or "-" when it was not measured. */
static const char *cell(char *buf, size_t cap, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.*f", decimals, v);
	return buf;
}

/* One table row: plugin, baseline, plugin/baseline. */
static void row(const char *label, double pv, double bv, int decimals)
{
	char a[32], b[32], c[32];

	printf("%-34s%12s%12s%10s\n", label, cell(a, sizeof(a), pv, decimals),
			cell(b, sizeof(b), bv, decimals), cell(c, sizeof(c), bench__ratio(pv, bv), 2));
}

/* Four table rows: p50, p90, p99 and max of one latency. */
static void pct_rows(const char *what, const bench__pct *p, const bench__pct *b)
{
	char label[64];

	snprintf(label, sizeof(label), "%s p50", what);
	row(label, p->p50_us, b->p50_us, 0);
	snprintf(label, sizeof(label), "%s p90", what);
	row(label, p->p90_us, b->p90_us, 0);
	snprintf(label, sizeof(label), "%s p99", what);
	row(label, p->p99_us, b->p99_us, 0);
	snprintf(label, sizeof(label), "%s max", what);
	row(label, p->max_us, b->max_us, 0);
}

/* The human-readable report. */
static void print_table(const struct run *r)
{
	const struct result *p = &r->res[FLEET_PLUGIN], *b = &r->res[FLEET_BASELINE];
	const struct bench__opts *o = r->o;

	if (o->count)
		printf("cardex-bench: %zu pairs, %llu exchanges per pair and broker in %u rounds",
				o->pairs, (unsigned long long)o->count, r->rounds);
	else
		printf("cardex-bench: %zu pairs, %u rounds of %.1f s per broker", o->pairs, r->rounds,
				(double)o->duration_s / r->rounds);
	printf(", card %d bytes, QoS 1\n", BENCH_CARD_BYTES);
	print_setup(o);
	printf("\n");
	printf("%-34s%12s%12s%10s\n", "", "plugin", "baseline", "ratio");
	row("exchanges/s", p->ran ? p->exchanges_per_s : NAN, b->ran ? b->exchanges_per_s : NAN, 1);
	row("messages/s (11 per exchange)", p->ran ? p->msgs_per_s : NAN,
			b->ran ? b->msgs_per_s : NAN, 0);
	pct_rows("claim -> both matched (us)", &p->match_both, &b->match_both);
	pct_rows("claim -> match at A (us)", &p->match[0], &b->match[0]);
	pct_rows("claim -> match at B (us)", &p->match[1], &b->match[1]);
	pct_rows("offer -> both cards (us)", &p->exchange, &b->exchange);
	row("broker CPU %", pct_of(p->broker_cpu_s, p->wall_s), pct_of(b->broker_cpu_s, b->wall_s), 0);
	row("bench CPU %", pct_of(p->bench_cpu_s, p->wall_s), pct_of(b->bench_cpu_s, b->wall_s), 0);
	row("other processes, % of machine", p->ran ? others_pct(p) : NAN,
			b->ran ? others_pct(b) : NAN, 0);
	row("broker CPU us per exchange", us_per_exchange(p->broker_cpu_s, p->completed),
			us_per_exchange(b->broker_cpu_s, b->completed), 1);
	row("bench CPU us per exchange", us_per_exchange(p->bench_cpu_s, p->completed),
			us_per_exchange(b->bench_cpu_s, b->completed), 1);
	row("exchanges measured", p->ran ? (double)p->exchanges : NAN,
			b->ran ? (double)b->exchanges : NAN, 0);
	row("exchanges failed", p->ran ? (double)p->failures : NAN,
			b->ran ? (double)b->failures : NAN, 0);
	printf("\nthroughput ratio (messages/s, plugin over baseline)   %s\n"
			"capacity ratio (baseline over plugin broker CPU per exchange)   %s\n",
			cell((char[32]){0}, 32, bench__ratio(p->msgs_per_s, b->msgs_per_s), 3),
			cell((char[32]){0}, 32, capacity_ratio(p, b), 3));
	printf("\nBaseline: the same clients and payloads through Mosquitto without the plugin;\n"
			"its \"match\" is B's claim delivered to both A and B. A ratio column below 1\n"
			"for latencies means the plugin is faster.\n");
}

/* True when every figure of every broker that ran was measured and nothing failed. */
static bool all_good(const struct run *r)
{
	bool ok = true;

	for (int fi = 0; fi < NFLEETS; fi++) {
		const struct result *res = &r->res[fi];

		if (!res->ran)
			continue;
		if (res->failures != 0 || res->exchanges == 0 || isnan(res->exchanges_per_s) ||
				isnan(res->match_both.p50_us) || isnan(res->match_both.p99_us) ||
				isnan(res->exchange.p50_us) || isnan(res->exchange.p99_us))
			ok = false;
	}
	return ok;
}

/* Disconnects, stops our brokers, frees and wipes everything; safe after any failure. */
static void cleanup_run(struct run *r)
{
	bench__load_free(r->load);
	for (int fi = 0; fi < NFLEETS; fi++) {
		bench__broker_stop(&r->brokers[fi]);
		bench__tally_free(&r->tally[fi]);
	}
	if (r->pwfile_text != NULL) {
		cx_wipe_str(r->pwfile_text);
		free(r->pwfile_text);
	}
	cx_wipe(r->password, sizeof(r->password));
}

int bench__broker_main(const struct bench__opts *o)
{
	bench__fleet_cfg cfgs[NFLEETS];
	struct run r;
	size_t nfleets = 0;
	int rc = BENCH_EXIT_FAILED, lrc;
	bool ok;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.runs[FLEET_PLUGIN] = o->runs != BENCH_RUN_BASELINE;
	r.runs[FLEET_BASELINE] = o->runs != BENCH_RUN_PLUGIN;
	if (o->host != NULL && o->baseline_port == 0 && r.runs[FLEET_BASELINE]) {
		if (o->runs == BENCH_RUN_BASELINE) {
			fprintf(stderr, "cardex-bench: --only baseline with --host needs --baseline-port\n");
			return BENCH_EXIT_USAGE;
		}
		fprintf(stderr, "cardex-bench: no --baseline-port: measuring the plugin only\n");
		r.runs[FLEET_BASELINE] = false;
	}
	r.rounds = o->rounds;
	if (o->count != 0 && r.rounds > o->count)
		r.rounds = (unsigned)o->count;
	if (o->count == 0 && r.rounds > o->duration_s)
		r.rounds = o->duration_s;

	raise_fd_limit();
	/* Our brokers pin themselves as they start (launch.c); the bench pins itself here. */
	if (o->pin == BENCH_PIN_ON && bench__pin(0, o->bench_cpu) != 0) {
		fprintf(stderr, "cardex-bench: cannot pin the bench to processor %d: %s\n", o->bench_cpu,
				strerror(errno));
		return BENCH_EXIT_FAILED;
	}
	mosquitto_lib_init();
	if (setup_brokers(&r) != 0)
		goto cleanup;
	for (int fi = 0; fi < NFLEETS; fi++) {
		if (r.runs[fi]) {
			r.fleet_of[fi] = nfleets;
			cfgs[nfleets++] = r.cfgs[fi];
		}
	}
	if (!o->json)
		fprintf(stderr, "cardex-bench: connecting %zu terminals...\n", 2 * o->pairs * nfleets);
	r.load = bench__load_new(cfgs, nfleets, o->pairs, o->timeout_s, o->load == BENCH_LOAD_POLL);
	if (r.load == NULL)
		goto cleanup;
	lrc = run_rounds(&r);
	if (lrc == 1 || bench__stop) {
		rc = BENCH_EXIT_INTERRUPTED;
		goto cleanup;
	}
	if (lrc < 0)
		goto cleanup;
	summarize(&r);
	ok = all_good(&r);
	if (o->json)
		print_json(&r, ok);
	else
		print_table(&r);
	if (!ok)
		fprintf(stderr, "cardex-bench: some exchanges failed or some figures are missing\n");
	rc = ok ? BENCH_EXIT_OK : BENCH_EXIT_FAILED;

cleanup:
	if (bench__stop)
		rc = BENCH_EXIT_INTERRUPTED;
	cleanup_run(&r);
	mosquitto_lib_cleanup();
	return rc;
}
