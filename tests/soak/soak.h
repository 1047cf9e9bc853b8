/*
 * cardex-soak: a bounded soak test of thousands of exchanges among hundreds
 * of libcardex terminals against a private Mosquitto with the cardex plugin,
 * with random disconnects, checking that every card reaches exactly its
 * intended peer (see soak.c for the accounting rules).
 *
 * Files: soak.c (options, main loop, report), broker.c (the private broker),
 * term.c (terminals, exchanges, events, disconnects), reader.c (reading a
 * closed terminal's persistent session with a raw MQTT client).
 */
#ifndef CX_SOAK_H
#define CX_SOAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cardex.h"
#include "redis_server.h"

#define SOAK_BROKERS_MAX 4

struct mosquitto;

typedef struct {
	unsigned duration_s;        /* how long new exchanges start */
	unsigned terminals;
	double disconnects_per_s;   /* injected disconnects, all terminals together */
	double close_ratio;         /* share of disconnects that close the handle */
	unsigned think_ms;          /* a terminal rests 0..think_ms between exchanges */
	unsigned offer_ttl;         /* s, asked in each offer */
	unsigned exchange_ttl;      /* s, plugin_opt_exchange_ttl */
	unsigned long long seed;
	unsigned brokers;           /* 1: store memory; more: store redis, sharing a private redis-server */
	bool restart;               /* brokers > 1: restart one broker halfway through */
	bool keep_dir;
	bool verbose;
	const char *mosquitto;
	const char *passwd;
	const char *plugin;
} soak_opts;

/* ---- broker.c ---- */

typedef struct {
	pid_t pid;
	int port;
	char dir[256];
	char conf[320];
	char log[320];
	char pwfile[320];
	char extra[512];  /* more configuration lines (store redis); "" for none */
} soak_broker;

/*
 * Writes a config and a password file (ids[i]:pws[i], hashed in place by
 * mosquitto_passwd -U) into a fresh temporary directory and starts Mosquitto
 * with the plugin on a free 127.0.0.1 port, waiting (at most 10 s) until it
 * accepts connections. The child gets SIGKILL when the driver dies. Returns
 * 0, or -1 with the reason on stderr and nothing left running.
 */
int soak_broker_start(soak_broker *b, const soak_opts *o, char *const *ids, char *const *pws,
		size_t n);

/*
 * Stops the broker as soak_broker_stop does (SIGTERM: a clean stop, which
 * saves its persistent sessions when b->extra turned persistence on) and
 * starts it again with the same configuration and port. 0, or -1.
 */
int soak_broker_restart(soak_broker *b, const soak_opts *o);

/* SIGTERM, at most 5 s, then SIGKILL, by PID; removes the directory unless keep. Idempotent. */
void soak_broker_stop(soak_broker *b, bool keep);

/* True while the broker runs. */
bool soak_broker_alive(soak_broker *b);

/* Prints the last max bytes of the broker's log to stderr. */
void soak_broker_tail(const soak_broker *b, size_t max);

/* The broker's PID for the fatal-signal handler; 0 when none runs. */
extern volatile pid_t soak_broker_pid;

/* ---- the run's state ---- */

typedef struct soak soak;

typedef enum {
	T_ON,       /* connected handle, driven */
	T_DROPPED,  /* handle kept, its connection cut and the handle left alone until back_at */
	T_CLOSED,   /* handle closed: the application quit mid-exchange */
	T_READING   /* a raw client reads the closed terminal's persistent session */
} soak_tstate;

/* How one side of an exchange ended. */
typedef enum {
	END_NONE = 0,
	END_COMPLETED,        /* got the peer's card and the "sent" for its own */
	END_OFFER_EXPIRED,    /* the offer expired unclaimed */
	END_EXCHANGE_EXPIRED, /* matched, but the cards did not both pass in time */
	END_REFUSED,          /* the claim was answered no-match / rate-limited */
	END_REVOKED,          /* the offer was revoked */
	END_ABANDONED,        /* this side closed its handle mid-exchange */
	END_PEER_LEFT,        /* the offerer quit before showing the key: nothing to claim */
	END_ERROR             /* another refusal (code in err) */
} soak_end;

#define SOAK_RECENT 64

typedef struct {
	soak *S;                /* the run it belongs to (for the reader's callbacks) */
	size_t index;
	char id[16];
	char password[40];
	cardex *cx;
	soak_tstate st;
	long long back_at;      /* DROPPED/CLOSED: when it returns */
	long long ready_at;     /* when idle: may start another exchange from then on */
	long long last_drive;
	int cur;                /* the exchange its side is active in, or -1 */
	int last_offer;         /* exchange of its newest offer, or -1 */
	int last_claim;         /* exchange of its newest claim, or -1 */
	int abandoned;          /* exchange it quit by closing, until its session is read; -1 */
	bool cut;               /* its connection was cut and the handle has not noticed yet */
	unsigned gen;           /* counts its MQTT connections as far as the driver can tell */
	int recent[SOAK_RECENT]; /* exchanges it matched, a ring */
	unsigned nrecent;
	/* session reader (reader.c) */
	struct mosquitto *reader;
	int reader_connack;
	long long reader_start;
	long long reader_last_msg;
} soak_term;

typedef struct {
	bool requested;      /* cardex_send_card returned CARDEX_OK */
	bool acked;          /* the sender saw CARDEX_EV_SENT */
	unsigned delivered;  /* times the recipient got it (handle or session) */
	bool via_session;    /* got by the session reader of a closed recipient */
	unsigned handle_gen; /* the recipient's connection (soak_term.gen) that delivered it */
	uint64_t nonce;
} soak_card;

typedef struct {
	int term;
	bool matched;
	bool card_requested;
	bool got_card;
	bool got_sent;
	soak_end end;
	char err[32];
} soak_side;

typedef struct {
	soak_side s[2];          /* 0: offerer, 1: claimer */
	soak_card card[2];       /* card[i]: sent by side i to side 1-i */
	char key[CARDEX_KEY_MAX + 1];
	char xid[CARDEX_XID_LEN + 1];
	bool offer_acked;
	bool claim_made;
	bool finished;           /* outcome counted */
	long long started;
} soak_exch;

typedef struct {
	unsigned long started, completed, offer_expired, exchange_expired, refused, revoked;
	unsigned long abandoned, other_failed;
	unsigned long cards_requested, cards_acked, cards_delivered, cards_via_session;
	unsigned long duplicates, misdelivered, lost, delivered_unacked, not_relayed;
	unsigned long session_redeliveries; /* QoS 1 redelivery of a card whose PUBACK did not arrive */
	unsigned long drops, closes, session_reads, reader_failures;
	unsigned long dup_request_errors; /* refusals of a QoS 1 resend of a request that had passed,
	                                     reported to the application (libcardex should drop them) */
	unsigned long resends_dropped;   /* answers to resent requests that libcardex dropped */
	unsigned long late_notices;      /* notices about an exchange or offer already over */
	unsigned long stray_events;      /* events the driver cannot place */
	unsigned long stuck;             /* sides with no outcome at the end */
	unsigned long lib_errors;
	unsigned long reopen_retries;    /* a closed terminal's new handle could not connect at once */
	unsigned long offer_failures;    /* cardex_offer refused locally */
} soak_stats;

struct soak {
	const soak_opts *o;
	soak_broker broker[SOAK_BROKERS_MAX]; /* terminal i uses broker[i % nb] */
	size_t nb;
	rsv_server redis;        /* nb > 1 */
	bool redis_up;
	unsigned restarts;
	soak_term *t;
	size_t nt;
	soak_exch *x;
	size_t nx;
	size_t capx;
	soak_stats st;
	uint64_t rng;
	bool draining;          /* no new exchanges or disconnects; everyone comes back */
	long long now;
};

/* The port of the broker terminal i connects to (sticky, as a load balancer hashing IDs). */
int soak_port_of(const soak *S, size_t i);

/* Milliseconds of CLOCK_MONOTONIC. */
long long soak_now_ms(void);

/* ---- term.c ---- */

/* A random number in [0, n) (n > 0) from the run's generator. */
uint64_t soak_rand(soak *S, uint64_t n);

/* Connects terminal i (a new handle, same ID and session). CARDEX_OK or the error. */
int soak_term_open(soak *S, size_t i);

/* Drives an ON terminal: reads its events, then retries a claim or card that is due. */
void soak_term_drive(soak *S, size_t i);

/* Starts exchanges between idle, rested, connected terminals. */
void soak_start_exchanges(soak *S);

/* Cuts the connection of (drop) or closes (close) a random terminal, preferring busy ones. */
void soak_disconnect_one(soak *S);

/* Brings back dropped terminals and closed ones whose session may be read. */
void soak_wake(soak *S);

/* True when every exchange has ended on both sides and every terminal is ON. */
bool soak_settled(const soak *S);

/* Checks a received card (text) against its token: terminal i got it, via its session or handle. */
void soak_card_received(soak *S, size_t i, const char *card, const char *from, const char *xid,
		bool via_session);
/*
 * A sealed card that the session reader found in a closed terminal's
 * session: nobody can open it any more (its keys died with the handle that
 * made them, as they must), so it is identified by its exchange and sender.
 */
void soak_sealed_card_received(soak *S, size_t i, const char *from, const char *xid);

/*
 * Final accounting: lost, unacked, stuck, and the resent requests' answers
 * the live handles dropped. Prints the first few problems when verbose or
 * failing.
 */
void soak_account(soak *S);

/* ---- reader.c ---- */

/* Starts reading the persistent session of closed terminal i. 0, or -1 (retry later). */
int soak_reader_start(soak *S, size_t i);

/* Drives the reader of terminal i; true when it is done (then the reader is gone). */
bool soak_reader_step(soak *S, size_t i);

/* The reader's socket for polling, or -1. */
int soak_reader_socket(const soak_term *t);

/* Frees a reader without waiting. */
void soak_reader_free(soak_term *t);

#endif
