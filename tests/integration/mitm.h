/*
 * A test-only MQTT 3.1.1 proxy between terminals and the real broker that
 * plays the server a sealed exchange must withstand: it relays every byte,
 * and in the broker-to-terminal direction it may rewrite the replies of
 * sealed exchanges (docs/protocol.md §8) on their way: swap the keys for
 * its own (with or without a matching commitment), strip the commitment,
 * flip a bit of a sealed card, replay a sealed card from an earlier
 * exchange. It also counts what terminals publish on card/ topics, so that
 * a test can tell whether a card left a terminal, sealed or not.
 *
 * It runs in its own thread with poll(), bounded by a stop flag; every
 * socket it opened is closed by mitm_stop.
 */
#ifndef CX_TEST_MITM_H
#define CX_TEST_MITM_H

#include <stdbool.h>

typedef enum {
	MITM_RELAY = 0,    /* pass everything (still counts card publishes) */
	MITM_SWAP_KEYS,    /* its own key to each side and a commitment to the one A gets: codes differ */
	MITM_SWAP_PK,      /* its own key to A, commitment left alone: A's check fails */
	MITM_STRIP_COMMIT, /* no "peer_commit" in A's match: a downgrade attempt */
	MITM_ZERO_PK,      /* B gets an all-zero key (of low order) instead of A's */
	MITM_FLIP_CT,      /* one bit of the first sealed card's "ct" flipped */
	MITM_FLIP_N,       /* one bit of the first sealed card's "n" flipped */
	MITM_REPLAY        /* the first sealed card of each later exchange replaced by the first one seen */
} mitm_mode;

typedef struct mitm mitm;

/*
 * Listens on a free 127.0.0.1 port and relays to 127.0.0.1:upstream; a is
 * the offerer's terminal ID (the side that checks the commitment). NULL
 * when it cannot start.
 */
mitm *mitm_start(int upstream, const char *a, mitm_mode mode);

/* The port terminals connect to. */
int mitm_port(const mitm *m);

/* Changes the mode for what comes next. */
void mitm_set_mode(mitm *m, mitm_mode mode);

/* Card requests terminals published: with "ct" (sealed), with "card" (plaintext), with "pk". */
int mitm_sealed_sent(mitm *m);
int mitm_plain_sent(mitm *m);
int mitm_pk_sent(mitm *m);
/* Replies rewritten so far. */
int mitm_rewrites(mitm *m);

/* Stops the thread and closes every socket; accepts NULL. */
void mitm_stop(mitm *m);

#endif
