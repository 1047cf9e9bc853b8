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
#include "seal.h"
#include "topic.h"

struct mosquitto;

/*
 * Internal event type: the peer's public key arrived (the filter stored it
 * in the exchange). Consumed by the sealing layer (e2e.c), never reported.
 */
#define CARDEX__EV_PK 100

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

typedef struct {
	bool used;
	char xid[CX_XID_HEX + 1];
	char peer[CX_ID_MAX + 1];
	uint64_t seq;       /* registration order, for eviction */
	bool card_seen;
	bool sent_seen;
	bool expired_seen;
	/*
	 * Cards we sent in it that have had no answer ("sent" or an error) yet.
	 * The plugin answers each card request once, so an answer beyond these
	 * is the refusal of a QoS 1 resend (or a redelivery of an answer).
	 */
	unsigned sends_pending;

	/* Sealing (e2e.c); the filter fills in what arrives, e2e.c does the rest. */
	bool offerer;         /* we made the offer (A) */
	bool sealed;          /* cards go sealed: A got a peer_commit, or B committed in its claim */
	bool has_commit;      /* A: peer_commit arrived in the match */
	unsigned char peer_commit[CX_SEAL_KEY_LEN];
	bool pk_seen;         /* the peer's key arrived (once) */
	unsigned char peer_pk[CX_SEAL_KEY_LEN];
	char in_n[CX_SEAL_B64_NONCE + 1]; /* nonce of the sealed card received */
	cx_seal *seal;        /* our side; NULL when not sealed */
	bool pk_sent;         /* our key was published */
	bool agreed;          /* keys agreed, safety code known */
	bool confirmed;       /* cardex_confirm accepted the code */
	bool aborted;         /* aborted or altered: nothing more goes out or in */
	bool card_out_sent;   /* our sealed card was published */
	bool card_opened;     /* the peer's sealed card was opened */
	char *out_card;       /* compact jCard waiting to go out; wiped and freed */
	size_t out_len;
	char *in_card;        /* opened jCard waiting for the confirmation; wiped and freed */
	size_t in_len;
} cardex__exchange;

/* Wipes and frees what an exchange holds for sealing (seal, cards). */
void cardex__exchange_release(cardex__exchange *x);

/* A claim this handle made: its ref and what answered it so far. */
typedef struct {
	char ref[CX_REF_MAX + 1];
	bool matched;       /* its match was reported */
	bool refused;       /* its error was reported */
	cx_seal *seal;      /* the key pair it committed to, moved to the exchange at the match */
} cardex__claim;

typedef struct {
	bool used;
	uint64_t seq;
	cx_reply_msg msg;
} cardex__held;

typedef struct {
	const char *prefix;      /* topic prefix, borrowed from the handle */

	/* The newest offer; its ref is "" before the first offer. */
	char offer_ref[CX_REF_MAX + 1];
	bool offer_acked;
	bool offer_refused;      /* an error answered it */
	bool offer_matched;      /* consumed: later notices of its ref concern a resent copy */
	bool offer_revoked;
	bool offer_expired;
	/*
	 * A "replaced" revocation of the live offer ref waits for the next
	 * reply, which the plugin always sends right after it: the "offer"
	 * reply of the replacing offer. With our own ref, the replacing offer
	 * was a QoS 1 resend of ours (the offer lives on, unchanged); with
	 * another ref, another connection of this terminal replaced it.
	 */
	bool offer_replace_held;
	uint32_t offer_attempts; /* lowest attempts_left reported; UINT32_MAX before any */

	cardex__claim claims[CARDEX__CLAIM_REFS];
	unsigned claim_next;

	cardex__exchange xs[CARDEX__EXCHANGES];
	uint64_t xseq;

	cardex__held held[CARDEX__PENDING];
	uint64_t hseq;

	/*
	 * Replies dropped because only a resent copy of one of our requests
	 * (or a redelivery of an answer already reported) can cause them; a
	 * statistic, read by the soak driver.
	 */
	unsigned long resend_drops;
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
/*
 * Adds ref to the live claim refs (the oldest one drops out when full),
 * taking seal (the key pair committed to in the claim; may be NULL).
 */
void cardex__filter_new_claim(cardex__filter *f, const char *ref, cx_seal *seal);
/* The known exchange xid, or NULL. */
cardex__exchange *cardex__filter_exchange(cardex__filter *f, const char *xid);

/*
 * Runs one decoded reply through the filter and pushes the events it yields
 * onto q. Takes ownership of msg's card in every case (it is moved into an
 * event, held, or wiped). Returns CARDEX_OK or CARDEX_ENOMEM.
 */
int cardex__filter_reply(cardex__filter *f, cardex__queue *q, cx_reply_msg *msg);

/* ---- the handle (cardex.c, conn.c) ---- */

/* Longest gentle close: flushing writes, DISCONNECT, reading until the broker closes. */
#define CARDEX__CLOSE_MS 500

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

	bool allow_plain;      /* cardex_options.allow_plain */
	bool confirm;          /* cardex_options.confirm */

	cardex__filter filter;
	cardex__queue queue;   /* events from the filter, before sealing */
	cardex__queue ready;   /* events for the application (e2e.c) */
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

/*
 * Disconnects gently and destroys the client: writes what is queued and
 * the DISCONNECT, then reads and discards whatever the broker still sends
 * until it closes its side, so that it gets our last acknowledgements and
 * the DISCONNECT instead of a reset. Nothing read then is acknowledged, so
 * it stays in the session for the next run. Takes at most CARDEX__CLOSE_MS
 * (then it closes regardless). Cannot fail.
 */
void cardex__conn_close(cardex *cx);

/*
 * Drives the network for at most timeout_ms: reads and writes when
 * connected, reconnects (with backoff) when not. Returns CARDEX_OK (also
 * when nothing happened) or a sticky error such as CARDEX_EAUTH.
 */
int cardex__conn_drive(cardex *cx, int timeout_ms);

/* ---- sealing (e2e.c) ---- */

/*
 * Moves every event of cx->queue through the sealing layer into cx->ready:
 * sends our key when due, agrees keys, opens sealed cards, sends a waiting
 * card, refuses plaintext where it is not allowed; consumes internal
 * events. Returns CARDEX_OK or CARDEX_ENOMEM (an event was lost).
 */
int cardex__e2e_pump(cardex *cx);

/* cardex_send_card for an exchange: sealed, plain or refused. card is compact jCard text. */
int cardex__e2e_send(cardex *cx, cardex__exchange *x, const char *card, size_t len);

/*
 * Checks card_json as a jCard and returns its compact text (malloc'ed, the
 * caller wipes and frees it), or NULL with *rc set to CARDEX_ECARD or
 * CARDEX_ENOMEM (cardex.c).
 */
char *cardex__compact_card(const char *card_json, size_t card_len, int *rc);

/* Publishes a small request to <prefix><kind>/<id> (cardex.c). */
int cardex__publish_to(cardex *cx, cx_topic_kind kind, const char *id, const char *payload, size_t len);

/*
 * Publishes payload at QoS 1 on topic. CARDEX_EDISCONNECTED when the handle
 * is not connected right now, CARDEX_ETOOBIG, CARDEX_ENOMEM, CARDEX_EPROTOCOL.
 */
int cardex__conn_publish(cardex *cx, const char *topic, const void *payload, size_t len);

#endif
