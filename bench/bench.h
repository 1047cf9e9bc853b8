/*
 * cardex-bench: measures the exchange engine in-process (--engine) and the
 * plugin inside a real Mosquitto against a Mosquitto without the plugin
 * (the default). docs/benchmarks.md explains every figure and the method.
 *
 * Module map: main.c (options, dispatch), engine_bench.c (--engine),
 * broker_bench.c (brokers, rounds, report), launch.c (private Mosquitto
 * processes), load.c (MQTT terminal pairs on one epoll loop), cards.c (the
 * jCards sent), seal_bench.c (--seal), stats.c (clocks, samples, percentiles, memory, CPU),
 * json.c (output), affinity.c (processors allowed, pinning). Cross-file
 * functions carry the bench__ prefix.
 */
#ifndef CX_BENCH_H
#define CX_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, documented in docs/benchmarks.md. */
enum {
	BENCH_EXIT_OK = 0,      /* every exchange passed and every figure was measured */
	BENCH_EXIT_FAILED = 1,  /* an exchange failed, a figure is missing, or a broker failed */
	BENCH_EXIT_USAGE = 2,   /* bad options */
	BENCH_EXIT_INTERRUPTED = 3 /* SIGINT or SIGTERM */
};

/* How the load generator waits for the broker (--load). */
typedef enum {
	BENCH_LOAD_AUTO = 0, /* not given: poll on 2 processors or more, else sleep */
	BENCH_LOAD_POLL,     /* never blocks: epoll_wait with timeout 0 */
	BENCH_LOAD_SLEEP     /* blocks in epoll_wait until a socket is ready */
} bench__load_wait;

/* Pinning to processors (--pin, --no-pin). */
typedef enum {
	BENCH_PIN_AUTO = 0,  /* not given: on when 2 processors or more are allowed */
	BENCH_PIN_ON,
	BENCH_PIN_OFF
} bench__pin_mode;

/* Which brokers the default mode measures. */
typedef enum {
	BENCH_RUN_BOTH = 0,
	BENCH_RUN_PLUGIN,
	BENCH_RUN_BASELINE
} bench__runs;

struct bench__opts {
	bool engine;              /* --engine */
	bool seal;                /* --seal: a terminal's sealing cost per exchange */
	bool json;                /* --json */
	bool redis;               /* --redis: store redis against store memory */
	const char *redis_server; /* --redis: redis-server executable */
	/* --engine */
	size_t offers;            /* largest number of pending offers (1000000) */
	size_t tick_budget;       /* timers per cx_engine_tick call (1000, as the plugin) */
	/* broker mode */
	size_t pairs;             /* terminal pairs (50) */
	unsigned duration_s;      /* measured seconds per broker (10) */
	uint64_t count;           /* exchanges per pair per broker; 0 = use duration */
	unsigned rounds;          /* alternating rounds per broker (5) */
	unsigned timeout_s;       /* longest an exchange may take before it counts as failed (10) */
	bench__runs runs;         /* --only plugin|baseline */
	const char *host;         /* --host: use running brokers instead of starting them */
	int port;                 /* --port: the broker with the plugin */
	int baseline_port;        /* --baseline-port: the broker without it (0: none) */
	const char *prefix;       /* --prefix: the plugin's topic_prefix on an external broker */
	const char *mosquitto;    /* broker executable */
	const char *mosquitto_passwd;
	const char *plugin;       /* mosquitto_cardex.so */
	/* broker and --redis modes; main resolves AUTO before dispatching */
	bench__load_wait load;    /* --load poll|sleep */
	bench__pin_mode pin;      /* --pin / --no-pin */
	int bench_cpu;            /* with BENCH_PIN_ON: the processor of the bench */
	int broker_cpu;           /* with BENCH_PIN_ON: the processor of the brokers it starts */
};

/* Set by the SIGINT/SIGTERM handler; every loop checks it. */
extern volatile sig_atomic_t bench__stop;

/* The engine benchmark. Returns a BENCH_EXIT_* code; prints its own errors. */
int bench__engine_main(const struct bench__opts *o);

/* The sealing benchmark (--seal, --count exchanges). Returns a BENCH_EXIT_* code. */
int bench__seal_main(const struct bench__opts *o);

/* store redis against store memory (--redis). Returns a BENCH_EXIT_* code. */
int bench__redis_main(const struct bench__opts *o);

/* The broker benchmark. Returns a BENCH_EXIT_* code; prints its own errors. */
int bench__broker_main(const struct bench__opts *o);

#endif
