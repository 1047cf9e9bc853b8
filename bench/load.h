/*
 * The load of cardex-bench: terminal pairs on raw libmosquitto clients, all
 * driven by one epoll loop in the calling thread (mosquitto_loop_read/
 * write/misc per ready socket), so that a hundred clients cost the bench
 * little more than their system calls.
 *
 * A fleet is the set of pairs connected to one broker. The same client code
 * drives both kinds of fleet; only topics and the reading of replies differ:
 *
 *   step                    plugin fleet                 baseline fleet
 *   A offers               keys/A -> reply/A "offer"      bench/<i>/a (A reads it)
 *   B claims               claim/A -> "match" to A and B  bench/<i>/x/claim (A, B read)
 *   each sends its card    card/<peer> -> "card" to the   bench/<i>/x/card-<side>
 *                          peer, "sent" to the sender     (A, B read)
 *
 * Either way the broker takes in 4 messages and delivers 7 per exchange,
 * with the same payloads (the baseline publishes the very bytes the plugin
 * fleet does). All publishes and subscriptions are QoS 1, MQTT 3.1.1,
 * clean sessions, TCP_NODELAY.
 */
#ifndef CX_BENCH_LOAD_H
#define CX_BENCH_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"

typedef enum {
	BENCH_MODE_PLUGIN = 0,
	BENCH_MODE_BASELINE
} bench__mode;

typedef struct {
	bench__mode mode;
	const char *label;    /* "plugin" or "baseline", for messages */
	const char *host;
	int port;
	const char *password; /* of every bench terminal */
	const char *prefix;   /* the plugin's topic prefix, "" for none */
	int port_b;           /* B terminals connect here (another broker); 0: port, as A */
} bench__fleet_cfg;

/* What the measured rounds of one fleet add up to. Zero-initialise. */
typedef struct {
	uint64_t exchanges;          /* completed inside the measured windows */
	uint64_t completed;          /* completed during the rounds, drains included (for CPU per exchange) */
	uint64_t failures;           /* exchanges that failed during the rounds */
	double active_s;             /* length of the measured windows */
	bench__samples match[2];     /* claim published -> match received by A [0], by B [1] */
	bench__samples match_both;   /* claim published -> both have their match */
	bench__samples exchange;     /* offer published -> both cards received */
} bench__tally;

/* Frees the samples of t. */
void bench__tally_free(bench__tally *t);

typedef struct bench__load bench__load;

/*
 * Connects and subscribes 2 * pairs terminals (bench-a-<i>, bench-b-<i>,
 * client ID equal to the username) to each of the nfleets brokers, waiting
 * at most 20 s. With poll, rounds never block in epoll_wait (timeout 0),
 * so that no broker write has a sleeping reader to wake; without it they
 * wait up to 5 ms at a time. Returns the load, or NULL after printing why
 * (refused connection, broker unreachable, out of memory). Free with
 * bench__load_free.
 */
bench__load *bench__load_new(const bench__fleet_cfg *cfgs, size_t nfleets, size_t pairs,
		unsigned timeout_s, bool poll);

/*
 * Runs one round on fleet fi: every pair does exchanges back to back, for
 * seconds (count == 0) or until it did count exchanges; the other fleets
 * stay connected and idle. Exchanges still running when the time is up are
 * completed but not counted. Adds to t. Returns 0, 1 when interrupted
 * (bench__stop), or -1 when a connection was lost.
 */
int bench__load_round(bench__load *l, size_t fi, double seconds, uint64_t count,
		bench__tally *t);

/* Failed exchanges of fleet fi since the start, inside rounds or not. */
uint64_t bench__load_failures(const bench__load *l, size_t fi);

/* Disconnects and frees everything; accepts NULL. */
void bench__load_free(bench__load *l);

#endif
