/*
 * Clocks, latency samples and process figures (stats.h).
 */
#include "stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int64_t bench__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bench__thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench__samples_add(bench__samples *s, uint64_t ns)
{
	if (s->len == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->len++] = ns;
	return 0;
}

int bench__samples_reserve(bench__samples *s, size_t n)
{
	uint64_t *v;

	if (s->cap - s->len >= n)
		return 0;
	v = realloc(s->v, (s->len + n) * sizeof(*v));
	if (v == NULL)
		return -1;
	s->v = v;
	s->cap = s->len + n;
	return 0;
}

void bench__samples_free(bench__samples *s)
{
	free(s->v);
	s->v = NULL;
	s->len = 0;
	s->cap = 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The nearest-rank percentile p (0 < p <= 100) of sorted v[n], n > 0. */
static uint64_t rank(const uint64_t *v, size_t n, unsigned p)
{
	/* ceil(p * n / 100) in integers, as a 1-based rank. */
	size_t r = (size_t)(((unsigned long long)p * n + 99) / 100);

	if (r < 1)
		r = 1;
	return v[r - 1];
}

void bench__samples_summarize(bench__samples *s, bench__pct *out)
{
	long double sum = 0;

	out->n = s->len;
	if (s->len == 0) {
		out->p50_us = out->p90_us = out->p99_us = out->max_us = out->mean_us = NAN;
		return;
	}
	qsort(s->v, s->len, sizeof(*s->v), cmp_u64);
	for (size_t i = 0; i < s->len; i++)
		sum += s->v[i];
	out->p50_us = (double)rank(s->v, s->len, 50) / 1000.0;
	out->p90_us = (double)rank(s->v, s->len, 90) / 1000.0;
	out->p99_us = (double)rank(s->v, s->len, 99) / 1000.0;
	out->max_us = (double)s->v[s->len - 1] / 1000.0;
	out->mean_us = (double)(sum / s->len) / 1000.0;
}

long long bench__rss_bytes(void)
{
	long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "%lld %lld", &size, &resident);
	fclose(f);
	if (n != 2 || page <= 0)
		return -1;
	return resident * page;
}

double bench__proc_cpu_s(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	long hz = sysconf(_SC_CLK_TCK);
	const char *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields resume after the last ')'. */
	p = NULL;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == ')')
			p = buf + i + 1;
	}
	/* After ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
	if (p == NULL || hz <= 0 ||
			sscanf(p, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)hz;
}

double bench__self_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench__machine_busy_s(void)
{
	unsigned long long v[10] = {0}, busy = 0;
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (f == NULL)
		return -1;
	/* cpu user nice system idle iowait irq softirq steal guest guest_nice */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			&v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
	fclose(f);
	if (n < 8 || hz <= 0)
		return -1;
	/* guest time is already counted in user; steal is time taken by the hypervisor. */
	for (int i = 0; i < 8; i++) {
		if (i != 3 && i != 4)
			busy += v[i];
	}
	return (double)busy / (double)hz;
}

int bench__ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

double bench__ratio(double a, double b)
{
	if (isnan(a) || isnan(b) || !(b > 0))
		return NAN;
	return a / b;
}
