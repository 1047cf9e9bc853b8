/*
 * cardex-bench --redis: store redis against store memory, same traffic, in
 * one run (docs/benchmarks.md, "Several brokers").
 *
 * A private redis-server (no persistence) and four brokers run side by
 * side: M with store memory; R1 with store redis, where both terminals of
 * each pair connect ("redis, one broker"); R2 and R3 with store redis under
 * another key prefix, A terminals on R2 and B terminals on R3, so that every
 * match, card and "sent" crosses brokers through Redis ("redis, two
 * brokers"). Measured rounds rotate between the three fleets (M, R1,
 * R2+R3, then backwards), so that a slow spell of a shared machine falls on
 * all alike. For each: exchanges/s, claim-to-match latency, the CPU of its
 * brokers and of Redis per exchange, and the scripts Redis ran per exchange
 * (INFO commandstats: EVALSHA and EVAL calls, every one a round trip of a
 * broker's worker).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <mosquitto.h>

#include "bench.h"
#include "cards.h"
#include "crypto.h"
#include "json.h"
#include "launch.h"
#include "load.h"
#include "stats.h"

#define WARMUP_S 0.5
#define REDIS_START_MS 10000

enum {
	F_MEMORY = 0,
	F_ONE,
	F_TWO,
	NF
};

static const char *const labels[NF] = {"memory", "redis, 1 broker", "redis, 2 brokers"};
static const char *const json_names[NF] = {"memory", "redis1", "redis2"};

/* The brokers: M, R1, R2, R3. */
enum {
	B_M = 0,
	B_R1,
	B_R2,
	B_R3,
	NB
};

struct result {
	uint64_t exchanges, completed, failures;
	double active_s, wall_s;
	double broker_cpu_s, redis_cpu_s;
	uint64_t scripts;       /* EVALSHA + EVAL calls during its rounds */
	double exchanges_per_s;
	bench__pct match_both, match_a, match_b;
};

struct run {
	const struct bench__opts *o;
	pid_t redis_pid;
	int redis_port;
	char redis_dir[256];
	char opts[NB][512];
	bench__broker b[NB];
	bench__fleet_cfg cfgs[NF];
	bench__tally tally[NF];
	struct result res[NF];
	bench__load *load;
	char password[2 * BENCH__PASSWORD_BYTES + 1];
	char *pwfile_text;
	unsigned rounds;
};

/* ---- redis-server ---- */

static redisContext *redis_ctx(int port)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (c == NULL || c->err) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* Starts redis-server on a free port in a temporary directory. 0, or -1 after printing why. */
static int redis_start(struct run *r)
{
	const char *tmp = getenv("TMPDIR");
	char port[16];
	int64_t deadline;

	snprintf(r->redis_dir, sizeof(r->redis_dir), "%s/cardex-bench-redis-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(r->redis_dir) == NULL) {
		r->redis_dir[0] = '\0';
		fprintf(stderr, "cardex-bench: cannot make a directory for redis-server: %s\n", strerror(errno));
		return -1;
	}
	r->redis_port = bench__free_port();
	snprintf(port, sizeof(port), "%d", r->redis_port);
	r->redis_pid = fork();
	if (r->redis_pid == 0) {
		char log[320];
		snprintf(log, sizeof(log), "%s/redis.log", r->redis_dir);
		execlp(r->o->redis_server, r->o->redis_server, "--port", port, "--bind", "127.0.0.1", "--save", "",
				"--appendonly", "no", "--dir", r->redis_dir, "--logfile", log, (char *)NULL);
		_exit(127);
	}
	if (r->redis_pid < 0) {
		r->redis_pid = 0;
		fprintf(stderr, "cardex-bench: cannot start redis-server: %s\n", strerror(errno));
		return -1;
	}
	deadline = bench__now_ns() + (int64_t)REDIS_START_MS * 1000000;
	while (bench__now_ns() < deadline) {
		redisContext *c = redis_ctx(r->redis_port);
		if (c != NULL) {
			redisReply *rep = redisCommand(c, "PING");
			bool up = rep != NULL && rep->type == REDIS_REPLY_STATUS;
			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(c);
			if (up)
				return 0;
		}
		if (waitpid(r->redis_pid, NULL, WNOHANG) == r->redis_pid) {
			r->redis_pid = 0;
			break;
		}
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "cardex-bench: redis-server (%s) did not start on port %d\n", r->o->redis_server, r->redis_port);
	return -1;
}

static void redis_stop(struct run *r)
{
	char cmd[320];

	if (r->redis_pid > 0) {
		int64_t deadline = bench__now_ns() + 5 * INT64_C(1000000000);
		kill(r->redis_pid, SIGTERM);
		while (waitpid(r->redis_pid, NULL, WNOHANG) != r->redis_pid) {
			if (bench__now_ns() > deadline) {
				kill(r->redis_pid, SIGKILL);
				waitpid(r->redis_pid, NULL, 0);
				break;
			}
			struct timespec ts = {0, 10 * 1000000L};
			nanosleep(&ts, NULL);
		}
		r->redis_pid = 0;
	}
	if (r->redis_dir[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->redis_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cardex-bench: cannot remove %s\n", r->redis_dir);
		r->redis_dir[0] = '\0';
	}
}

/* Scripts Redis ran so far (EVALSHA and EVAL calls), or -1. */
static long long redis_scripts(const struct run *r)
{
	redisContext *c = redis_ctx(r->redis_port);
	redisReply *rep;
	long long n = -1;

	if (c == NULL)
		return -1;
	rep = redisCommand(c, "INFO commandstats");
	if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
		const char *names[2] = {"cmdstat_evalsha:calls=", "cmdstat_eval:calls="};
		n = 0;
		for (int i = 0; i < 2; i++) {
			const char *p = strstr(rep->str, names[i]);
			if (p != NULL)
				n += strtoll(p + strlen(names[i]), NULL, 10);
		}
	}
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(c);
	return n;
}

/* ---- brokers and fleets ---- */

/* Starts the four brokers: M in memory mode, R1 (prefix one:), R2 and R3 (prefix two:). */
static int start_brokers(struct run *r)
{
	static const char *const ids[NB] = {NULL, "r1", "r2", "r3"};
	static const char *const prefixes[NB] = {NULL, "one:", "two:", "two:"};

	if (bench__make_password(r->password) != 0) {
		fprintf(stderr, "cardex-bench: cannot draw a password (entropy)\n");
		return -1;
	}
	r->pwfile_text = bench__pairs_password_file(r->o->mosquitto_passwd, r->o->pairs, r->password);
	if (r->pwfile_text == NULL)
		return -1;
	for (int i = 0; i < NB; i++) {
		bench__broker_cfg bc = {r->o->mosquitto, r->o->plugin, r->pwfile_text, NULL, false, 0};

		if (ids[i] != NULL) {
			/* Every claim comes from 127.0.0.1: the shared limits must not interfere either. */
			snprintf(r->opts[i], sizeof(r->opts[i]),
					"plugin_opt_store redis\nplugin_opt_redis_port %d\nplugin_opt_broker_id %s\n"
					"plugin_opt_redis_prefix %s\nplugin_opt_claim_failures_per_min_per_address 1000000\n"
					"plugin_opt_claim_failures_per_min_total 100000000\n",
					r->redis_port, ids[i], prefixes[i]);
			bc.plugin_opts = r->opts[i];
		}
		if (bench__broker_start(&r->b[i], &bc) != 0)
			return -1;
	}
	for (int f = 0; f < NF; f++) {
		r->cfgs[f] = (bench__fleet_cfg){BENCH_MODE_PLUGIN, labels[f], "127.0.0.1", 0, r->password, "", 0};
	}
	r->cfgs[F_MEMORY].port = r->b[B_M].port;
	r->cfgs[F_ONE].port = r->b[B_R1].port;
	r->cfgs[F_TWO].port = r->b[B_R2].port;
	r->cfgs[F_TWO].port_b = r->b[B_R3].port;
	return 0;
}

/* CPU seconds of fleet f's brokers so far. */
static double fleet_cpu(const struct run *r, int f)
{
	switch (f) {
	case F_MEMORY:
		return bench__proc_cpu_s(r->b[B_M].pid);
	case F_ONE:
		return bench__proc_cpu_s(r->b[B_R1].pid);
	default:
		return bench__proc_cpu_s(r->b[B_R2].pid) + bench__proc_cpu_s(r->b[B_R3].pid);
	}
}

static int one_round(struct run *r, int f, unsigned round)
{
	const struct bench__opts *o = r->o;
	double seconds = (double)o->duration_s / r->rounds;
	uint64_t count = 0;
	double b0 = fleet_cpu(r, f), r0 = bench__proc_cpu_s(r->redis_pid);
	long long s0 = redis_scripts(r);
	int64_t t0 = bench__now_ns();
	int rc;

	if (o->count != 0)
		count = o->count / r->rounds + (round < o->count % r->rounds ? 1 : 0);
	rc = bench__load_round(r->load, (size_t)f, seconds, count, &r->tally[f]);
	r->res[f].wall_s += (double)(bench__now_ns() - t0) / 1e9;
	r->res[f].broker_cpu_s += fleet_cpu(r, f) - b0;
	r->res[f].redis_cpu_s += bench__proc_cpu_s(r->redis_pid) - r0;
	long long s1 = redis_scripts(r);
	if (s0 >= 0 && s1 >= s0)
		r->res[f].scripts += (uint64_t)(s1 - s0);
	for (int i = 0; rc == 0 && i < NB; i++) {
		if (!bench__broker_alive(&r->b[i])) {
			fprintf(stderr, "cardex-bench: a broker died\n");
			bench__broker_dump_log(&r->b[i]);
			rc = -1;
		}
	}
	return rc;
}

static int run_rounds(struct run *r)
{
	for (int f = 0; f < NF; f++) {
		bench__tally scratch;
		int rc;

		memset(&scratch, 0, sizeof(scratch));
		rc = bench__load_round(r->load, (size_t)f, WARMUP_S, 0, &scratch);
		bench__tally_free(&scratch);
		if (rc != 0)
			return rc;
	}
	for (unsigned round = 0; round < r->rounds; round++) {
		for (int k = 0; k < NF; k++) {
			int f = round % 2 == 0 ? k : NF - 1 - k;
			int rc;

			if (!r->o->json)
				fprintf(stderr, "cardex-bench: round %u/%u, %s\n", round + 1, r->rounds, labels[f]);
			rc = one_round(r, f, round);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static void summarize(struct run *r)
{
	for (int f = 0; f < NF; f++) {
		struct result *res = &r->res[f];
		bench__tally *t = &r->tally[f];

		bench__samples_summarize(&t->match_both, &res->match_both);
		bench__samples_summarize(&t->match[0], &res->match_a);
		bench__samples_summarize(&t->match[1], &res->match_b);
		res->exchanges = t->exchanges;
		res->completed = t->completed;
		res->failures = bench__load_failures(r->load, (size_t)f);
		res->active_s = t->active_s;
		res->exchanges_per_s = t->active_s > 0 ? (double)t->exchanges / t->active_s : NAN;
	}
}

static double per_exchange_us(double cpu_s, uint64_t n)
{
	return bench__ratio(cpu_s * 1e6, (double)n);
}

static const char *cell(char *buf, size_t cap, double v, int decimals)
{
	if (isnan(v) || isinf(v))
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%.*f", decimals, v);
	return buf;
}

static void row(const char *label, const double v[NF], int decimals)
{
	char c[NF][32];

	printf("%-36s%12s%18s%18s\n", label, cell(c[0], 32, v[0], decimals), cell(c[1], 32, v[1], decimals),
			cell(c[2], 32, v[2], decimals));
}

#define ROW(label, expr, dec) do { \
		double v_[NF]; \
		for (int f = 0; f < NF; f++) { \
			const struct result *x = &r->res[f]; \
			v_[f] = (expr); \
		} \
		row(label, v_, dec); \
	} while (0)

static void print_table(const struct run *r)
{
	printf("cardex-bench --redis: %zu pairs, %u rounds of %.1f s per fleet, QoS 1\n", r->o->pairs, r->rounds,
			(double)r->o->duration_s / r->rounds);
	printf("load generator: sleeping until the brokers write, not pinned\n\n");
	printf("%-36s%12s%18s%18s\n", "", labels[0], labels[1], labels[2]);
	ROW("exchanges/s", x->exchanges_per_s, 1);
	ROW("claim -> both matched p50 (us)", x->match_both.p50_us, 0);
	ROW("claim -> both matched p99 (us)", x->match_both.p99_us, 0);
	ROW("claim -> match at offerer p50 (us)", x->match_a.p50_us, 0);
	ROW("claim -> match at offerer p99 (us)", x->match_a.p99_us, 0);
	ROW("broker CPU us per exchange", per_exchange_us(x->broker_cpu_s, x->completed), 1);
	ROW("  over memory mode", bench__ratio(per_exchange_us(x->broker_cpu_s, x->completed),
			per_exchange_us(r->res[F_MEMORY].broker_cpu_s, r->res[F_MEMORY].completed)), 2);
	ROW("Redis CPU us per exchange", f == F_MEMORY ? NAN : per_exchange_us(x->redis_cpu_s, x->completed), 1);
	ROW("Redis scripts (round trips)/exchange", f == F_MEMORY ? NAN : bench__ratio((double)x->scripts,
			(double)x->completed), 2);
	ROW("exchanges measured", (double)x->exchanges, 0);
	ROW("exchanges failed", (double)x->failures, 0);
}

static void print_json(const struct run *r, bool ok)
{
	bench__json j;
	char name[64];

	bench__json_begin(&j, stdout);
	bench__json_str(&j, "mode", "redis");
	bench__json_bool(&j, "ok", ok);
	bench__json_uint(&j, "pairs", r->o->pairs);
	bench__json_uint(&j, "rounds", r->rounds);
	bench__json_str(&j, "load", "sleep");
	bench__json_bool(&j, "pinned", false);
	for (int f = 0; f < NF; f++) {
		const struct result *x = &r->res[f];
#define NAME(s) (snprintf(name, sizeof(name), "%s_%s", json_names[f], s), name)
		bench__json_uint(&j, NAME("exchanges"), x->exchanges);
		bench__json_uint(&j, NAME("failures"), x->failures);
		bench__json_num(&j, NAME("exchanges_per_s"), x->exchanges_per_s, 1);
		bench__json_num(&j, NAME("match_p50_us"), x->match_both.p50_us, 1);
		bench__json_num(&j, NAME("match_p99_us"), x->match_both.p99_us, 1);
		bench__json_num(&j, NAME("match_a_p99_us"), x->match_a.p99_us, 1);
		bench__json_num(&j, NAME("broker_us_per_exchange"), per_exchange_us(x->broker_cpu_s, x->completed), 1);
		bench__json_num(&j, NAME("redis_us_per_exchange"),
				f == F_MEMORY ? NAN : per_exchange_us(x->redis_cpu_s, x->completed), 1);
		bench__json_num(&j, NAME("scripts_per_exchange"),
				f == F_MEMORY ? NAN : bench__ratio((double)x->scripts, (double)x->completed), 2);
#undef NAME
	}
	bench__json_end(&j);
}

static bool all_good(const struct run *r)
{
	for (int f = 0; f < NF; f++) {
		const struct result *x = &r->res[f];
		if (x->failures != 0 || x->exchanges == 0 || isnan(x->match_both.p99_us))
			return false;
	}
	return true;
}

int bench__redis_main(const struct bench__opts *o)
{
	struct run r;
	int rc = BENCH_EXIT_FAILED, lrc;
	bool ok;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.rounds = o->rounds;
	if (o->count != 0 && r.rounds > o->count)
		r.rounds = (unsigned)o->count;
	if (o->count == 0 && r.rounds > o->duration_s)
		r.rounds = o->duration_s;
	if (o->host != NULL) {
		fprintf(stderr, "cardex-bench: --redis starts its own brokers and Redis; --host does not apply\n");
		return BENCH_EXIT_USAGE;
	}
	mosquitto_lib_init();
	if (redis_start(&r) != 0 || start_brokers(&r) != 0)
		goto cleanup;
	if (!o->json)
		fprintf(stderr, "cardex-bench: connecting %zu terminals...\n", 2 * o->pairs * NF);
	/* Asleep and unpinned: four brokers and Redis share the processors (main.c refuses more). */
	r.load = bench__load_new(r.cfgs, NF, o->pairs, o->timeout_s, false);
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
	bench__load_free(r.load);
	for (int i = 0; i < NB; i++)
		bench__broker_stop(&r.b[i]);
	for (int f = 0; f < NF; f++)
		bench__tally_free(&r.tally[f]);
	redis_stop(&r);
	if (r.pwfile_text != NULL) {
		cx_wipe_str(r.pwfile_text);
		free(r.pwfile_text);
	}
	cx_wipe(r.password, sizeof(r.password));
	mosquitto_lib_cleanup();
	return rc;
}
