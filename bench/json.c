/*
 * Minimal JSON writer (json.h). Names are fixed ASCII chosen by the bench;
 * string values are escaped all the same.
 */
#include "json.h"

#include <math.h>

/* Writes the separator before a member or element of the current container. */
static void sep(bench__json *j)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
}

/* Opens an object or array one level down. */
static void enter(bench__json *j, char c)
{
	fputc(c, j->f);
	if (j->depth + 1 < BENCH_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

/* Closes the current object or array. */
static void leave(bench__json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

/* s as a JSON string, control characters escaped. */
static void write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* A member's name and colon, after a comma when needed. */
static void name(bench__json *j, const char *n)
{
	sep(j);
	write_string(j->f, n);
	fputc(':', j->f);
}

void bench__json_begin(bench__json *j, FILE *f)
{
	j->f = f;
	j->depth = -1;
	enter(j, '{');
}

void bench__json_end(bench__json *j)
{
	leave(j, '}');
	fputc('\n', j->f);
	fflush(j->f);
}

void bench__json_num(bench__json *j, const char *n, double v, int decimals)
{
	name(j, n);
	if (isnan(v) || isinf(v))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.*f", decimals, v);
}

void bench__json_uint(bench__json *j, const char *n, unsigned long long v)
{
	name(j, n);
	fprintf(j->f, "%llu", v);
}

void bench__json_str(bench__json *j, const char *n, const char *s)
{
	name(j, n);
	write_string(j->f, s);
}

void bench__json_bool(bench__json *j, const char *n, bool v)
{
	name(j, n);
	fputs(v ? "true" : "false", j->f);
}

void bench__json_array_begin(bench__json *j, const char *n)
{
	name(j, n);
	enter(j, '[');
}

void bench__json_array_end(bench__json *j)
{
	leave(j, ']');
}

void bench__json_object_begin(bench__json *j)
{
	sep(j);
	enter(j, '{');
}

void bench__json_object_end(bench__json *j)
{
	leave(j, '}');
}
