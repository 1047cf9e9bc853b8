/*
 * Test harness: a private Mosquitto on a free 127.0.0.1 port, with a generated
 * config and password file in a temporary directory, optionally loading the
 * built cardex plugin. Paths come from the environment that ctest sets:
 * MOSQUITTO, MOSQUITTO_PASSWD, CARDEX_PLUGIN.
 */
#ifndef CX_TEST_BROKER_H
#define CX_TEST_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
	const char *id;       /* MQTT username (terminal ID) */
	const char *password;
} cxb_account;

typedef struct {
	bool plugin;              /* load mosquitto_cardex.so */
	const char *plugin_opts;  /* extra lines, e.g. "plugin_opt_attempts 2\n"; may be NULL */
	const char *extra_conf;   /* extra lines for the listener/global section; may be NULL */
	const cxb_account *accounts;
	size_t naccounts;
	bool tls;                 /* reserved for TLS listeners: needs certfile/keyfile in extra_conf */
} cxb_config;

typedef struct {
	pid_t pid;
	int port;
	char dir[256];      /* temporary directory holding config, passwords, log */
	char conf[320];
	char log[320];
	char pwfile[320];
} cxb_broker;

/*
 * Starts the broker and waits (at most 10 s) until it accepts TCP
 * connections on its port. Returns 0, or -1 with the broker's log printed to
 * stderr and everything cleaned up.
 */
int cxb_start(cxb_broker *b, const cxb_config *cfg);

/* Sends SIGTERM, waits up to 5 s, then SIGKILL; removes the directory. Accepts a stopped broker. */
void cxb_stop(cxb_broker *b);

/* True while the broker process is alive. */
bool cxb_alive(cxb_broker *b);

/* True when the broker's log file contains needle. */
bool cxb_log_contains(const cxb_broker *b, const char *needle);

/* Reads the whole log into a malloc'ed NUL-terminated string (NULL on error). */
char *cxb_log_read(const cxb_broker *b);

/* A port on 127.0.0.1 that was free a moment ago, or -1. */
int cxb_free_port(void);

/* Milliseconds of a monotonic clock, for bounded waits in tests. */
long long cxb_now_ms(void);

#endif
