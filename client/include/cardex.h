/*
 * libcardex: the terminal side of cardex, the instant-key business card
 * exchange over MQTT (docs/protocol.md).
 *
 * One handle is one terminal connection. The library runs no threads of its
 * own: events are produced while the application drives the network, either
 * with cardex_wait() (blocking, with a timeout) or with cardex_loop() and an
 * event callback (for applications with their own loop, which can also poll
 * cardex_socket()). A handle is not thread-safe; use it from one thread.
 *
 * Events are filtered: the handle only reports replies that belong to an
 * offer or claim it made, or to an exchange that came from one of those, and
 * it reports each event once, even when the broker redelivers it or an old
 * persistent session still holds replies from an earlier run. Each request
 * gets one outcome: when a request is resent after a reconnect (QoS 1) and
 * the server refuses the copy of a request that had passed ("already-sent",
 * "no-match" after the match, ...), that refusal is not reported.
 */
#ifndef CARDEX_H
#define CARDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CARDEX_BUILDING) && defined(__GNUC__)
#define CARDEX_EXTERN __attribute__((visibility("default")))
#else
#define CARDEX_EXTERN
#endif

#define CARDEX_VERSION_MAJOR 0
#define CARDEX_VERSION_MINOR 1
#define CARDEX_VERSION_PATCH 0

#define CARDEX_ID_MAX 64
#define CARDEX_XID_LEN 32
#define CARDEX_REF_MAX 16
#define CARDEX_KEY_MAX 16

/* Error codes: 0 is success, every error is negative. */
#define CARDEX_ERRNO_MAP(X)                                                           \
	X(INVAL, -1, "invalid argument")                                                 \
	X(NOMEM, -2, "out of memory")                                                    \
	X(CONNECT, -3, "cannot connect to the broker")                                   \
	X(AUTH, -4, "the broker refused the terminal ID or password")                    \
	X(TLS, -5, "TLS setup or certificate verification failed")                      \
	X(TIMEOUT, -6, "timed out")                                                      \
	X(DISCONNECTED, -7, "not connected to the broker")                               \
	X(PROTOCOL, -8, "unexpected data from the broker")                               \
	X(CARD, -9, "the card is not a valid jCard")                                     \
	X(RANDOM, -10, "the random generator failed")                                    \
	X(TOOBIG, -11, "message too large")                                              \
	X(STATE, -12, "operation not valid in the current state")                        \
	X(IO, -13, "input/output error")                                                 \
	X(PLAIN, -14, "the peer does not seal this exchange; its card would cross the server in plaintext") \
	X(ABORTED, -15, "the exchange was aborted or altered")

typedef enum {
	CARDEX_OK = 0,
#define CARDEX_ERRNO_ENUM(name, val, msg) CARDEX_E##name = (val),
	CARDEX_ERRNO_MAP(CARDEX_ERRNO_ENUM)
#undef CARDEX_ERRNO_ENUM
} cardex_err;

/* Human-readable text for an error code; never NULL. */
CARDEX_EXTERN const char *cardex_strerror(int err);
/* Name of an error code ("CARDEX_ETIMEOUT"); never NULL. */
CARDEX_EXTERN const char *cardex_err_name(int err);

typedef enum {
	CARDEX_EV_OFFER = 1, /* the server holds our offer: expires_in */
	CARDEX_EV_MATCH,     /* matched: exchange, peer, expires_in */
	CARDEX_EV_ATTEMPT,   /* someone tried a wrong key on our offer: attempts_left */
	CARDEX_EV_REVOKED,   /* our offer is gone: reason "attempts", "replaced" or "withdrawn" */
	CARDEX_EV_CARD,      /* a card arrived: exchange, peer (sender), card */
	CARDEX_EV_SENT,      /* our card reached the server for peer: exchange, peer */
	CARDEX_EV_EXPIRED,   /* our offer (offer true) or an exchange (exchange) expired */
	CARDEX_EV_ERROR,     /* a request was refused: code, message, topic, retry_after; or the
	                        exchange was altered ("altered") or not sealed ("not-sealed"): exchange */
	CARDEX_EV_SAFETY     /* keys agreed in a sealed exchange: exchange, peer, safety_code */
} cardex_event_type;

/* Wire name of an event type ("match", "safety"); never NULL. */
CARDEX_EXTERN const char *cardex_event_type_name(cardex_event_type t);

typedef struct {
	cardex_event_type type;
	char ref[CARDEX_REF_MAX + 1];        /* the request it answers, when any */
	char exchange[CARDEX_XID_LEN + 1];   /* "" when none */
	char peer[CARDEX_ID_MAX + 1];        /* match: peer; card: sender; sent: recipient */
	uint32_t expires_in;
	uint32_t attempts_left;
	char reason[32];
	bool offer;                          /* expired: the offer rather than an exchange */
	char code[32];                       /* error: wire code, such as "no-match" */
	char message[256];
	char topic[256];
	uint32_t retry_after;
	char *card;                          /* card: jCard JSON text, owned; see cardex_event_clear */
	size_t card_len;
	char safety_code[8];                 /* safety: 6 digits, "957630"; show it as "957 630" */
	bool sealed;                         /* match: the exchange is sealed; card: it arrived sealed */
	bool verified;                       /* card: cardex_confirm accepted the safety code before it */
} cardex_event;

/* Frees and wipes what an event owns (its card) and zeroes it; accepts NULL. */
CARDEX_EXTERN void cardex_event_clear(cardex_event *ev);

typedef struct cardex cardex;

typedef struct {
	const char *host;        /* default "localhost" */
	int port;                /* default 1883, or 8883 when cafile is set */
	const char *id;          /* terminal ID: MQTT username and client ID (required) */
	const char *password;    /* copied and wiped by the library; may be NULL */
	const char *client_suffix; /* optional: client ID becomes "<id>:<suffix>" */
	const char *cafile;      /* optional: enables TLS, verifying the broker against this CA */
	const char *topic_prefix; /* optional: must match the plugin's topic_prefix option */
	int keepalive;           /* seconds, default 30 */
	int connect_timeout_ms;  /* default 10000 */
	/*
	 * Optional: when cardex_connect fails, errbuf[errbuf_size] receives a
	 * one-line detail from the TLS or network layer ("certificate verify
	 * failed", "host name verification failed", "Connection refused"), or
	 * "" when there is none. Never holds a password or key.
	 */
	char *errbuf;
	size_t errbuf_size;
	/*
	 * Exchange cards in plaintext with a peer that does not seal (false:
	 * refuse, so that a server cannot force plaintext by removing fields).
	 */
	bool allow_plain;
	/*
	 * Hold the card to send and the card received in a sealed exchange
	 * until cardex_confirm() accepts the safety code (false: send and
	 * deliver as soon as the keys are agreed).
	 */
	bool confirm;
} cardex_options;

/* Sets every field of opts to its default (NULL / 0). Cannot fail. */
CARDEX_EXTERN void cardex_options_init(cardex_options *opts);

/*
 * Creates a handle and connects: MQTT 3.1.1 with a persistent session
 * (clean session off) and a QoS 1 subscription to the terminal's reply
 * topic, so that replies published while it was offline arrive now. Waits
 * for the CONNACK and SUBACK up to connect_timeout_ms. On success *out is a
 * connected handle; on failure *out is NULL and the return value says why
 * (CARDEX_EAUTH for a refused ID or password, CARDEX_ETLS for a CA file that
 * cannot be loaded or a broker certificate that fails verification against
 * it or does not name host, CARDEX_ECONNECT, CARDEX_ETIMEOUT, CARDEX_EINVAL
 * for an invalid terminal ID), with details in opts->errbuf when set.
 */
CARDEX_EXTERN int cardex_connect(const cardex_options *opts, cardex **out);

/*
 * Disconnects cleanly (the session stays on the broker) and frees; accepts
 * NULL. Writes what is still queued and the DISCONNECT, and lets the broker
 * close its side first, so that it gets the last acknowledgements; replies
 * arriving meanwhile are not acknowledged and stay in the session. Takes at
 * most about half a second. Events still queued in the handle are dropped.
 */
CARDEX_EXTERN void cardex_close(cardex *cx);

/* The terminal ID of a handle. */
CARDEX_EXTERN const char *cardex_id(const cardex *cx);

/*
 * Generates an instant key of digits (6..16) uniform decimal digits with
 * mbedTLS CTR_DRBG into key[keycap] (keycap >= digits + 1). Needs no handle.
 */
CARDEX_EXTERN int cardex_generate_key(unsigned digits, char *key, size_t keycap);

/*
 * Publishes an offer of key (QoS 1) that lives ttl seconds (0: the server's
 * default). A new offer replaces the terminal's pending one. Events of older
 * offers of this handle are no longer reported. The caller should wipe key.
 * CARDEX_EINVAL for a key that is not 6..16 digits or ttl outside 5..600,
 * CARDEX_EDISCONNECTED while the connection is down (cardex_wait restores it).
 */
CARDEX_EXTERN int cardex_offer(cardex *cx, const char *key, unsigned ttl);

/*
 * Claims the offer of terminal peer_id with key (QoS 1); the answer is a
 * CARDEX_EV_MATCH or a CARDEX_EV_ERROR ("no-match", "rate-limited", ...).
 * CARDEX_EINVAL for an invalid peer_id or key, CARDEX_EDISCONNECTED as above.
 */
CARDEX_EXTERN int cardex_claim(cardex *cx, const char *peer_id, const char *key);

/*
 * Sends a card (jCard JSON text, checked locally first: CARDEX_ECARD) to the
 * peer of a matched exchange this handle knows (CARDEX_ESTATE otherwise).
 * The card goes out compact (re-printed from its parsed form). The answer is
 * a CARDEX_EV_SENT or a CARDEX_EV_ERROR carrying the exchange.
 * CARDEX_EDISCONNECTED while the connection is down.
 *
 * In a sealed exchange the card is kept (a copy, wiped after use) and goes
 * out sealed once the keys are agreed and, with cardex_options.confirm,
 * once cardex_confirm accepted the code; CARDEX_OK then means "queued".
 * CARDEX_EPLAIN when the peer does not seal and allow_plain is off,
 * CARDEX_EABORTED when the exchange was aborted or altered, CARDEX_ESTATE
 * once our card went out and the peer's was opened (the exchange's keys are
 * wiped then).
 */
CARDEX_EXTERN int cardex_send_card(cardex *cx, const char *exchange, const char *card_json,
		size_t card_len);

/*
 * The answer of the user who compared the safety codes of a sealed
 * exchange (after its CARDEX_EV_SAFETY). accept true: the codes match; a
 * card waiting to be sent goes out and a card received is delivered, with
 * verified set. accept false: the exchange is aborted on this side; a card
 * waiting to be sent is wiped and never sent, a card received is wiped and
 * never delivered, and what arrives later in it is dropped (the server
 * lets the exchange expire). CARDEX_ESTATE for an exchange this handle does
 * not know, or, with accept true, that has no agreed keys; CARDEX_EABORTED
 * once aborted; CARDEX_EDISCONNECTED when a waiting card cannot be sent
 * now (it stays queued and goes out with the next call that sends).
 */
CARDEX_EXTERN int cardex_confirm(cardex *cx, const char *exchange, bool accept);

/*
 * Waits up to timeout_ms (-1: forever) for the next event. Returns CARDEX_OK
 * with *ev filled (release with cardex_event_clear), CARDEX_ETIMEOUT, or an
 * error such as CARDEX_EDISCONNECTED when the connection is lost and cannot
 * be restored. Reconnects on its own after a dropped connection (with
 * backoff); a wait that ends while the connection has been down for at
 * least connect_timeout_ms returns CARDEX_EDISCONNECTED rather than
 * CARDEX_ETIMEOUT (later waits keep trying), and a reconnect refused for the
 * ID or password returns CARDEX_EAUTH from then on.
 */
CARDEX_EXTERN int cardex_wait(cardex *cx, int timeout_ms, cardex_event *ev);

/*
 * Callback mode: ev is valid during the call only. The callback runs from
 * cardex_loop, outside libmosquitto, and may call cardex_offer, cardex_claim
 * and cardex_send_card, but not cardex_close.
 */
typedef void (*cardex_event_cb)(cardex *cx, const cardex_event *ev, void *userdata);
CARDEX_EXTERN void cardex_set_event_cb(cardex *cx, cardex_event_cb cb, void *userdata);

/*
 * Drives the network for up to timeout_ms and delivers queued events to the
 * callback (when set; otherwise they stay queued for cardex_wait). Returns
 * as soon as it delivered events, else when the time is up: CARDEX_OK in
 * both cases, or a lasting error such as CARDEX_EAUTH.
 */
CARDEX_EXTERN int cardex_loop(cardex *cx, int timeout_ms);

/* The socket to poll for reading, or -1. */
CARDEX_EXTERN int cardex_socket(const cardex *cx);

#ifdef __cplusplus
}
#endif

#endif
