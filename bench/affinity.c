/*
 * Processors for cardex-bench (affinity.h).
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ALLOC */
#include "affinity.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

/* Beyond this many processors the kernel's mask is not read: no machine has that many. */
#define CPUS_MAX 65536

int bench__cpus_allowed(bench__cpus *out)
{
	int ncpus = CPU_SETSIZE;

	*out = (bench__cpus){1, -1, -1};
	/* The kernel refuses a mask smaller than its own with EINVAL: grow until it fits. */
	while (ncpus <= CPUS_MAX) {
		size_t size = CPU_ALLOC_SIZE(ncpus);
		cpu_set_t *set = CPU_ALLOC(ncpus);
		int n = 0;

		if (set == NULL)
			return -1;
		CPU_ZERO_S(size, set);
		if (sched_getaffinity(0, size, set) != 0) {
			int err = errno;

			CPU_FREE(set);
			if (err != EINVAL)
				return -1;
			ncpus *= 2;
			continue;
		}
		for (int cpu = 0; cpu < ncpus; cpu++) {
			if (!CPU_ISSET_S(cpu, size, set))
				continue;
			if (n == 0)
				out->first = cpu;
			else if (n == 1)
				out->second = cpu;
			n++;
		}
		CPU_FREE(set);
		out->count = n > 0 ? n : 1;
		return 0;
	}
	errno = EINVAL;
	return -1;
}

int bench__pin(pid_t pid, int cpu)
{
	cpu_set_t *set;
	size_t size;
	int rc;

	if (cpu < 0) {
		errno = EINVAL;
		return -1;
	}
	if (cpu < CPU_SETSIZE) {
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		return sched_setaffinity(pid, sizeof(one), &one);
	}
	set = CPU_ALLOC(cpu + 1);
	if (set == NULL)
		return -1;
	size = CPU_ALLOC_SIZE(cpu + 1);
	CPU_ZERO_S(size, set);
	CPU_SET_S(cpu, size, set);
	rc = sched_setaffinity(pid, size, set);
	CPU_FREE(set);
	return rc;
}
