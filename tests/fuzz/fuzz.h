/*
 * Shared helpers of the libFuzzer targets in tests/fuzz/. Each target is one
 * fuzz_<name>.c defining LLVMFuzzerTestOneInput; a broken invariant is a
 * crash (FUZZ_CHECK prints the condition and aborts), so libFuzzer saves the
 * input that broke it. Release builds define NDEBUG, hence no assert().
 */
#ifndef CX_FUZZ_H
#define CX_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken invariant and aborts, so that libFuzzer records the input. */
static inline void fuzz_fail(const char *file, int line, const char *cond)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, cond);
	fflush(stderr);
	abort();
}

#define FUZZ_CHECK(cond)                                      \
	do {                                                      \
		if(!(cond)) {                                         \
			fuzz_fail(__FILE__, __LINE__, #cond);             \
		}                                                     \
	} while(0)

/* True when the cap bytes at p are all zero (a wiped or cleared field). */
static inline bool fuzz_all_zero(const void *p, size_t cap)
{
	const unsigned char *b = p;

	for(size_t i = 0; i < cap; i++) {
		if(b[i] != 0) {
			return false;
		}
	}
	return true;
}

/* Length of the NUL-terminated string in buf[cap]; cap when it is not terminated. */
static inline size_t fuzz_strlen(const char *buf, size_t cap)
{
	const char *nul = memchr(buf, '\0', cap);

	return nul != NULL ? (size_t)(nul - buf) : cap;
}

/* True when buf[cap] holds "" or a valid request reference. */
static inline bool fuzz_ref_ok(const char *buf, size_t cap)
{
	size_t n = fuzz_strlen(buf, cap);

	return n < cap && (n == 0 || cx_ref_valid(buf, n));
}

/* True when buf[cap] holds "" or a valid terminal ID. */
static inline bool fuzz_id_ok(const char *buf, size_t cap)
{
	size_t n = fuzz_strlen(buf, cap);

	return n < cap && (n == 0 || cx_id_valid(buf, n));
}

/* True when buf[cap] holds "" or a valid exchange ID. */
static inline bool fuzz_xid_ok(const char *buf, size_t cap)
{
	size_t n = fuzz_strlen(buf, cap);

	return n < cap && (n == 0 || cx_xid_valid(buf, n));
}

#endif
