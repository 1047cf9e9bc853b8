/*
 * Private header of libcardex: the handle, the event filter and the event
 * queue. Nothing here is exported; cross-file functions use the cardex__
 * prefix.
 */
#ifndef CARDEX_INT_H
#define CARDEX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cardex.h"
#include "crypto.h"
#include "ids.h"
#include "proto.h"

struct mosquitto;

/* ---- event queue (queue.c) ---- */

typedef struct cardex__qnode cardex__qnode;

/* FIFO of events waiting for cardex_wait or the callback. */
typedef struct {
	cardex__qnode *head;
	cardex__qnode *tail;
	size_t len;
} cardex__queue;

/*
 * Appends a copy of *ev and takes over its card (ev->card is set to NULL).
 * Returns CARDEX_OK or CARDEX_ENOMEM (then the card is wiped and freed, so
 * that ownership is settled either way).
 */
int cardex__queue_push(cardex__queue *q, cardex_event *ev);
/* Moves the oldest event into *ev (the caller owns its card); false when empty. */
bool cardex__queue_pop(cardex__queue *q, cardex_event *ev);
/* Drops (and wipes) every queued event. */
void cardex__queue_clear(cardex__queue *q);

/* ---- event filter (filter.c) ---- */

/* How many claim refs stay live: claims are short-lived, a few suffice. */
#define CARDEX__CLAIM_REFS 16
/* Exchanges remembered per handle, oldest forgotten first. */
#define CARDEX__EXCHANGES 32
/* Replies held back because their exchange is not known yet. */
#define CARDEX__PENDING 8
/* Payload hashes remembered to drop redelivered error replies. */
#define CARDEX__SEEN 32

typedef struct {
	bool used;
	char xid[CX_XID_HEX + 1];
	char peer[CX_ID_MAX + 1];
	uint64_t seq;       /* registration order, for eviction */
	bool card_seen;
	bool sent_seen;
	bool expired_seen;
	bool send_pending;  /* we sent a card and have had no answer for it yet */
} cardex__exchange;

typedef struct {
	bool used;
	uint64_t seq;
	uint64_t hash;
	cx_reply_msg msg;
} cardex__held;

typedef struct {
	const char *prefix;      /* topic prefix, borrowed from the handle */

	/* The newest offer; its ref is "" before the first offer. */
	char offer_ref[CX_REF_MAX + 1];
	bool offer_acked;
	bool offer_revoked;
	bool offer_expired;
	uint32_t offer_attempts; /* lowest attempts_left reported; UINT32_MAX before any */

	char claim_refs[CARDEX__CLAIM_REFS][CX_REF_MAX + 1];
	unsigned claim_next;

	cardex__exchange xs[CARDEX__EXCHANGES];
	uint64_t xseq;

	cardex__held held[CARDEX__PENDING];
	uint64_t hseq;

	uint64_t seen[CARDEX__SEEN];
	unsigned seen_next;
	unsigned seen_len;
} cardex__filter;

/*
 * Resets a filter to "no offer, no claims, no exchanges". prefix (the topic
 * prefix, borrowed, must outlive the filter) lets it recognise the topic
 * echoed in error replies. Cannot fail.
 */
void cardex__filter_init(cardex__filter *f, const char *prefix);
/* Wipes and frees held replies. */
void cardex__filter_free(cardex__filter *f);
/* Makes ref the live offer ref; earlier offer refs stop being live. */
void cardex__filter_new_offer(cardex__filter *f, const char *ref);
/* Adds ref to the live claim refs (the oldest one drops out when full). */
void cardex__filter_new_claim(cardex__filter *f, const char *ref);
/* The known exchange xid, or NULL. */
cardex__exchange *cardex__filter_exchange(cardex__filter *f, const char *xid);

/*
 * Runs one decoded reply (payload hash hash) through the filter and pushes
 * the events it yields onto q. Takes ownership of msg's card in every case
 * (it is moved into an event, held, or wiped). Returns CARDEX_OK or
 * CARDEX_ENOMEM.
 */
int cardex__filter_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg, uint64_t hash);

/* 64-bit FNV-1a of a payload, used to recognise redelivered replies. */
uint64_t cardex__hash(const void *data, size_t len);

/* ---- the handle (cardex.c, conn.c) ---- */

/* Room for the one-line detail of a failed first connection. */
#define CARDEX__DETAIL_MAX 160

struct cardex {
	struct mosquitto *mosq;
	char id[CX_ID_MAX + 1];
	char *client_id;
	char *password;        /* wiped on free */
	char *host;
	int port;
	int keepalive;
	int connect_timeout_ms;
	char *prefix;
	char *reply_topic;
	cx_rng *rng;
	bool lib_ready;        /* mosquitto_lib_init done */

	/* connection state, updated by the libmosquitto callbacks */
	bool connected;        /* CONNACK accepted and no disconnect since */
	bool subscribed;       /* SUBACK granted on this connection */
	bool sub_refused;
	int sub_mid;
	int connack_rc;        /* -1 until a CONNACK arrives on this attempt */
	int fatal;             /* sticky error that stops reconnecting (CARDEX_EAUTH) */
	long long down_since;  /* monotonic ms when the connection dropped; 0 while up */
	long long next_retry;  /* monotonic ms of the next reconnect attempt */
	int backoff_ms;
	bool nomem;            /* an event was lost to an allocation failure */
	/* why the first connection failed (TLS reason, errno text); "" when unknown */
	char detail[CARDEX__DETAIL_MAX];

	cardex__filter filter;
	cardex__queue queue;
	cardex_event_cb cb;
	void *cb_ud;
};

/* Milliseconds of CLOCK_MONOTONIC. */
long long cardex__now_ms(void);

/*
 * Creates the libmosquitto client of cx (TLS when cafile is not NULL) and
 * connects it, waiting for the CONNACK and the SUBACK (conn.c). Returns
 * CARDEX_OK or an error, with cx->detail saying more when it can; on error
 * the caller frees cx.
 */
int cardex__conn_open(cardex *cx, const char *cafile);

/* Disconnects cleanly without reading anything more, and destroys the client. */
void cardex__conn_close(cardex *cx);

/*
 * Drives the network for at most timeout_ms: reads and writes when
 * connected, reconnects (with backoff) when not. Returns CARDEX_OK (also
 * when nothing happened) or a sticky error such as CARDEX_EAUTH.
 */
int cardex__conn_drive(cardex *cx, int timeout_ms);

/*
 * Publishes payload at QoS 1 on topic. CARDEX_EDISCONNECTED when the handle
 * is not connected right now, CARDEX_ETOOBIG, CARDEX_ENOMEM, CARDEX_EPROTOCOL.
 */
int cardex__conn_publish(cardex *cx, const char *topic, const void *payload, size_t len);

#endif
