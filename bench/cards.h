/*
 * The business cards cardex-bench exchanges: realistic jCards (RFC 7095) of
 * a fixed size, so that every run and both brokers move the same bytes.
 */
#ifndef CX_BENCH_CARDS_H
#define CX_BENCH_CARDS_H

#include <stddef.h>

/* Size of every card, in bytes of compact JSON. */
#define BENCH_CARD_BYTES 1024

/*
 * Writes the card of side (0: the offering terminal, 1: the claiming one)
 * into buf[cap], exactly BENCH_CARD_BYTES bytes and a NUL, and checks it
 * with cx_jcard_check. Returns BENCH_CARD_BYTES, or 0 when cap is too small
 * or the card does not pass the check (a bug in this file).
 */
size_t bench__card_build(int side, char *buf, size_t cap);

#endif
