/*
 * Processors for cardex-bench: which ones this process may run on, and
 * pinning a process to one of them (docs/benchmarks.md, "The load
 * generator").
 */
#ifndef CX_BENCH_AFFINITY_H
#define CX_BENCH_AFFINITY_H

#include <sys/types.h>

typedef struct {
	int count;  /* processors allowed, at least 1 */
	int first;  /* the lowest one allowed, -1 when unknown */
	int second; /* the next one, -1 when only one is allowed */
} bench__cpus;

/*
 * Reads the processors this process may run on (sched_getaffinity) into
 * out. Returns 0, or -1 with errno set and out = {1, -1, -1}, which every
 * caller treats as a machine of one processor.
 */
int bench__cpus_allowed(bench__cpus *out);

/*
 * Pins process pid (0: the caller) to processor cpu. Allocates nothing for
 * cpu below CPU_SETSIZE, so that a forked child may call it before exec.
 * Returns 0, or -1 with errno set.
 */
int bench__pin(pid_t pid, int cpu);

#endif
