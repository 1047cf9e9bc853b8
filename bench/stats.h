/*
 * Clocks, latency samples and process figures for cardex-bench.
 */
#ifndef CX_BENCH_STATS_H
#define CX_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench__now_ns(void);

/*
 * CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID):
 * what it ran, without the time other processes had the processor. A
 * system call, about 0.4 us on the development machine.
 */
int64_t bench__thread_cpu_ns(void);

/* A growable array of latencies in nanoseconds. Zero-initialise before use. */
typedef struct {
	uint64_t *v;
	size_t len;
	size_t cap;
} bench__samples;

/* Appends one latency. Returns 0, or -1 when memory runs out (the sample is lost). */
int bench__samples_add(bench__samples *s, uint64_t ns);

/* Makes room for n more samples. Returns 0, or -1 when memory runs out. */
int bench__samples_reserve(bench__samples *s, size_t n);

/* Frees the array; s is empty afterwards. Accepts an empty one. */
void bench__samples_free(bench__samples *s);

/* Percentiles of a sample set, in microseconds; NaN when there are no samples. */
typedef struct {
	size_t n;
	double p50_us;
	double p90_us;
	double p99_us;
	double max_us;
	double mean_us;
} bench__pct;

/*
 * Sorts s in place and fills out with nearest-rank percentiles (p99 of 1000
 * samples is the 990th smallest). Cannot fail.
 */
void bench__samples_summarize(bench__samples *s, bench__pct *out);

/* Resident set size of this process in bytes (from /proc/self/statm), or -1. */
long long bench__rss_bytes(void);

/* CPU seconds (user + system) used so far by process pid (from /proc), or -1. */
double bench__proc_cpu_s(pid_t pid);

/* CPU seconds used so far by this process (all threads). */
double bench__self_cpu_s(void);

/*
 * CPU seconds all processors have spent busy since boot (from /proc/stat:
 * everything but idle and iowait), or -1. With the processor count it
 * tells how much of the machine other processes took during a round.
 */
double bench__machine_busy_s(void);

/* Online processors (at least 1). */
int bench__ncpus(void);

/* a / b, or NaN when either is NaN or b is not positive. */
double bench__ratio(double a, double b);

#endif
