/*
 * cardex-bench: options, signals and dispatch (bench.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "affinity.h"
#include "bench.h"

#define PAIRS_MAX 2000
#define DURATION_MAX 3600
#define ROUNDS_MAX 100
#define COUNT_MAX 10000000
#define TIMEOUT_MAX 600
#define OFFERS_MIN 100
#define OFFERS_MAX 5000000
#define BUDGET_MAX 1000000

volatile sig_atomic_t bench__stop;

static void on_signal(int sig)
{
	(void)sig;
	bench__stop = 1;
}

/* No SA_RESTART: a blocking epoll_wait or sleep returns so the loops see the flag. */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A broker that drops a connection must not kill the bench through a write. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static void usage(FILE *f)
{
	fputs("Usage: cardex-bench [OPTIONS]           broker benchmark: plugin against plain Mosquitto\n"
			"       cardex-bench --engine [OPTIONS]  the exchange engine in-process\n"
			"       cardex-bench --seal [--count N]  a terminal's sealing cost per exchange (2000)\n"
			"       cardex-bench --redis [OPTIONS]   store redis (one broker, two brokers) against\n"
			"                                        store memory, same traffic (--pairs, --duration,\n"
			"                                        --rounds, --count; --redis-server PATH)\n"
			"\n"
			"Common:\n"
			"  --json                 print one JSON object instead of a table\n"
			"  --help                 show this help\n"
			"\n"
			"Engine (--engine):\n"
			"  --offers N             largest number of pending offers (1000000); also\n"
			"                         measures 10000, 100000 and 1000000 below N\n"
			"  --budget N             timers expired per cx_engine_tick call (1000)\n"
			"\n"
			"Broker (default):\n"
			"  --pairs N              terminal pairs exchanging at once (50)\n"
			"  --duration S           measured seconds per broker (10)\n"
			"  --count N              exchanges per pair and broker, instead of --duration\n"
			"  --rounds N             alternating rounds per broker (5)\n"
			"  --timeout S            an exchange taking longer fails (10)\n"
			"  --only plugin|baseline measure one broker only\n"
			"  --mosquitto PATH       broker executable (env MOSQUITTO, else the one found at build)\n"
			"  --mosquitto-passwd PATH  (env MOSQUITTO_PASSWD, else the one found at build)\n"
			"  --plugin PATH          mosquitto_cardex.so (env CARDEX_PLUGIN, else the build's\n"
			"                         or the installed one)\n"
			"  --host H --port P      use a running broker with the plugin instead of starting\n"
			"                         one; its terminals bench-a-<i> and bench-b-<i> have the\n"
			"                         password in env CARDEX_BENCH_PASSWORD\n"
			"  --baseline-port P      with --host: a running broker without the plugin, same terminals\n"
			"  --prefix P             with --host: the plugin's topic_prefix\n"
			"  --load poll|sleep      the load generator polls its sockets without blocking\n"
			"                         (default with 2 processors or more; refused with one),\n"
			"                         or sleeps until the broker writes (default with one)\n"
			"  --pin, --no-pin        pin the bench to the first processor allowed and the\n"
			"                         brokers it starts to the second (default with 2 or more;\n"
			"                         with --host only the bench is pinned)\n"
			"  (--redis runs its load generator asleep and unpinned: --load sleep --no-pin)\n"
			"\n"
			"Exit status: 0 all exchanges passed and every figure was measured, 1 a failure,\n"
			"2 usage error, 3 interrupted. See docs/benchmarks.md.\n", f);
}

/* Parses a decimal integer in [min, max]; false on anything else. */
static bool parse_num(const char *s, unsigned long long min, unsigned long long max,
		unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* The build's plugin when this binary runs from the build tree, else the installed one. */
static const char *default_plugin(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t dlen = strlen(CARDEX_BENCH_BUILD_DIR);

	if (n > 0) {
		self[n] = '\0';
		if ((size_t)n > dlen && strncmp(self, CARDEX_BENCH_BUILD_DIR, dlen) == 0 &&
				self[dlen] == '/' && access(CARDEX_BENCH_BUILD_PLUGIN, R_OK) == 0)
			return CARDEX_BENCH_BUILD_PLUGIN;
	}
	return CARDEX_BENCH_INSTALL_PLUGIN;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : fallback;
}

enum {
	OPT_ENGINE = 256, OPT_SEAL, OPT_JSON, OPT_HELP, OPT_OFFERS, OPT_BUDGET, OPT_PAIRS, OPT_DURATION,
	OPT_COUNT, OPT_ROUNDS, OPT_TIMEOUT, OPT_ONLY, OPT_MOSQUITTO, OPT_PASSWD, OPT_PLUGIN,
	OPT_HOST, OPT_PORT, OPT_BASELINE_PORT, OPT_PREFIX, OPT_REDIS, OPT_REDIS_SERVER, OPT_LOAD,
	OPT_PIN, OPT_NO_PIN
};

static const struct option longopts[] = {
	{"engine", no_argument, NULL, OPT_ENGINE},
	{"seal", no_argument, NULL, OPT_SEAL},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{"offers", required_argument, NULL, OPT_OFFERS},
	{"budget", required_argument, NULL, OPT_BUDGET},
	{"pairs", required_argument, NULL, OPT_PAIRS},
	{"duration", required_argument, NULL, OPT_DURATION},
	{"count", required_argument, NULL, OPT_COUNT},
	{"rounds", required_argument, NULL, OPT_ROUNDS},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"only", required_argument, NULL, OPT_ONLY},
	{"mosquitto", required_argument, NULL, OPT_MOSQUITTO},
	{"mosquitto-passwd", required_argument, NULL, OPT_PASSWD},
	{"plugin", required_argument, NULL, OPT_PLUGIN},
	{"host", required_argument, NULL, OPT_HOST},
	{"port", required_argument, NULL, OPT_PORT},
	{"baseline-port", required_argument, NULL, OPT_BASELINE_PORT},
	{"prefix", required_argument, NULL, OPT_PREFIX},
	{"redis", no_argument, NULL, OPT_REDIS},
	{"redis-server", required_argument, NULL, OPT_REDIS_SERVER},
	{"load", required_argument, NULL, OPT_LOAD},
	{"pin", no_argument, NULL, OPT_PIN},
	{"no-pin", no_argument, NULL, OPT_NO_PIN},
	{NULL, 0, NULL, 0},
};

/* A numeric option: true and *out set, or false after printing the usage error. */
static bool num_opt(const char *name, unsigned long long min, unsigned long long max,
		unsigned long long *out)
{
	if (parse_num(optarg, min, max, out))
		return true;
	fprintf(stderr, "cardex-bench: --%s must be a number from %llu to %llu\n", name, min, max);
	return false;
}

/* Fills o from argv. Returns -1 to go on, else the exit code (help, usage error). */
static int parse_args(int argc, char **argv, struct bench__opts *o)
{
	unsigned long long v;
	int c;

	opterr = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_ENGINE: o->engine = true; break;
		case OPT_SEAL: o->seal = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_HELP: usage(stdout); return BENCH_EXIT_OK;
		case OPT_OFFERS:
			if (!num_opt("offers", OFFERS_MIN, OFFERS_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->offers = (size_t)v;
			break;
		case OPT_BUDGET:
			if (!num_opt("budget", 1, BUDGET_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->tick_budget = (size_t)v;
			break;
		case OPT_PAIRS:
			if (!num_opt("pairs", 1, PAIRS_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->pairs = (size_t)v;
			break;
		case OPT_DURATION:
			if (!num_opt("duration", 1, DURATION_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->duration_s = (unsigned)v;
			break;
		case OPT_COUNT:
			if (!num_opt("count", 1, COUNT_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->count = v;
			break;
		case OPT_ROUNDS:
			if (!num_opt("rounds", 1, ROUNDS_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->rounds = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (!num_opt("timeout", 1, TIMEOUT_MAX, &v))
				return BENCH_EXIT_USAGE;
			o->timeout_s = (unsigned)v;
			break;
		case OPT_ONLY:
			if (strcmp(optarg, "plugin") == 0) {
				o->runs = BENCH_RUN_PLUGIN;
			} else if (strcmp(optarg, "baseline") == 0) {
				o->runs = BENCH_RUN_BASELINE;
			} else {
				fprintf(stderr, "cardex-bench: --only takes plugin or baseline\n");
				return BENCH_EXIT_USAGE;
			}
			break;
		case OPT_MOSQUITTO: o->mosquitto = optarg; break;
		case OPT_PASSWD: o->mosquitto_passwd = optarg; break;
		case OPT_PLUGIN: o->plugin = optarg; break;
		case OPT_HOST: o->host = optarg; break;
		case OPT_PORT:
			if (!num_opt("port", 1, 65535, &v))
				return BENCH_EXIT_USAGE;
			o->port = (int)v;
			break;
		case OPT_BASELINE_PORT:
			if (!num_opt("baseline-port", 1, 65535, &v))
				return BENCH_EXIT_USAGE;
			o->baseline_port = (int)v;
			break;
		case OPT_PREFIX: o->prefix = optarg; break;
		case OPT_REDIS: o->redis = true; break;
		case OPT_REDIS_SERVER: o->redis_server = optarg; break;
		case OPT_LOAD:
			if (strcmp(optarg, "poll") == 0) {
				o->load = BENCH_LOAD_POLL;
			} else if (strcmp(optarg, "sleep") == 0) {
				o->load = BENCH_LOAD_SLEEP;
			} else {
				fprintf(stderr, "cardex-bench: --load takes poll or sleep\n");
				return BENCH_EXIT_USAGE;
			}
			break;
		case OPT_PIN: o->pin = BENCH_PIN_ON; break;
		case OPT_NO_PIN: o->pin = BENCH_PIN_OFF; break;
		default:
			fprintf(stderr, "Try 'cardex-bench --help'.\n");
			return BENCH_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cardex-bench: unexpected argument '%s'\n", argv[optind]);
		return BENCH_EXIT_USAGE;
	}
	if ((o->host != NULL) != (o->port != 0)) {
		fprintf(stderr, "cardex-bench: --host and --port go together\n");
		return BENCH_EXIT_USAGE;
	}
	if (o->host == NULL && (o->baseline_port != 0 || o->prefix != NULL)) {
		fprintf(stderr, "cardex-bench: --baseline-port and --prefix need --host\n");
		return BENCH_EXIT_USAGE;
	}
	return -1;
}

/*
 * Settles --load and --pin from the processors this process may use: a
 * polling generator and pinning need two, one for the bench and one for
 * the brokers (docs/benchmarks.md, "The load generator"). Returns -1 to go
 * on, else BENCH_EXIT_USAGE after printing why.
 */
static int resolve_cpus(struct bench__opts *o)
{
	bench__cpus cpus;

	if (o->redis) {
		if (o->load == BENCH_LOAD_POLL || o->pin == BENCH_PIN_ON) {
			fprintf(stderr, "cardex-bench: --redis runs its load generator asleep and unpinned; "
					"--load poll and --pin do not apply\n");
			return BENCH_EXIT_USAGE;
		}
		o->load = BENCH_LOAD_SLEEP;
		o->pin = BENCH_PIN_OFF;
		return -1;
	}
	if (bench__cpus_allowed(&cpus) != 0)
		fprintf(stderr, "cardex-bench: cannot read the processors allowed (%s); assuming one\n",
				strerror(errno));
	if (cpus.count < 2 && o->load == BENCH_LOAD_POLL) {
		fprintf(stderr, "cardex-bench: --load poll needs 2 processors and this process may use "
				"only 1: the polling generator would take the broker's processor (use --load sleep)\n");
		return BENCH_EXIT_USAGE;
	}
	if (cpus.count < 2 && o->pin == BENCH_PIN_ON) {
		fprintf(stderr, "cardex-bench: --pin needs 2 processors and this process may use only 1\n");
		return BENCH_EXIT_USAGE;
	}
	if (o->load == BENCH_LOAD_AUTO)
		o->load = cpus.count >= 2 ? BENCH_LOAD_POLL : BENCH_LOAD_SLEEP;
	if (o->pin == BENCH_PIN_AUTO)
		o->pin = cpus.count >= 2 ? BENCH_PIN_ON : BENCH_PIN_OFF;
	o->bench_cpu = cpus.first;
	o->broker_cpu = cpus.second;
	return -1;
}

int main(int argc, char **argv)
{
	struct bench__opts o = {
		.offers = 1000000,
		.tick_budget = 1000,
		.pairs = 50,
		.duration_s = 10,
		.rounds = 5,
		.timeout_s = 10,
		.runs = BENCH_RUN_BOTH,
	};
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (!o.seal && (o.redis || !o.engine)) {
		rc = resolve_cpus(&o);
		if (rc >= 0)
			return rc;
	}
	if (o.mosquitto == NULL)
		o.mosquitto = env_or("MOSQUITTO", CARDEX_BENCH_MOSQUITTO);
	if (o.mosquitto_passwd == NULL)
		o.mosquitto_passwd = env_or("MOSQUITTO_PASSWD", CARDEX_BENCH_MOSQUITTO_PASSWD);
	if (o.plugin == NULL)
		o.plugin = env_or("CARDEX_PLUGIN", default_plugin());
	install_signals();
	/* Tables and progress interleave sanely with stderr when piped. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.seal)
		return bench__seal_main(&o);
	if (o.redis) {
		if (o.redis_server == NULL)
			o.redis_server = env_or("REDIS_SERVER", "redis-server");
		return bench__redis_main(&o);
	}
	return o.engine ? bench__engine_main(&o) : bench__broker_main(&o);
}
