/*
 * A minimal JSON writer for cardex-bench's --json output: one object with
 * numbers, strings, booleans and arrays of objects. Figures that could not
 * be measured (NaN) are written as null.
 */
#ifndef CX_BENCH_JSON_H
#define CX_BENCH_JSON_H

#include <stdbool.h>
#include <stdio.h>

#define BENCH_JSON_DEPTH 8

typedef struct {
	FILE *f;
	int depth;
	bool first[BENCH_JSON_DEPTH]; /* no member written yet at this depth */
} bench__json;

/* Starts the top-level object on f. */
void bench__json_begin(bench__json *j, FILE *f);
/* Ends the top-level object and the line. */
void bench__json_end(bench__json *j);

/* Members of the current object. decimals: digits after the point. */
void bench__json_num(bench__json *j, const char *name, double v, int decimals);
void bench__json_uint(bench__json *j, const char *name, unsigned long long v);
void bench__json_str(bench__json *j, const char *name, const char *s);
void bench__json_bool(bench__json *j, const char *name, bool v);

/* An array of objects: array_begin, then object_begin/object_end per element, then array_end. */
void bench__json_array_begin(bench__json *j, const char *name);
void bench__json_array_end(bench__json *j);
void bench__json_object_begin(bench__json *j);
void bench__json_object_end(bench__json *j);

#endif
