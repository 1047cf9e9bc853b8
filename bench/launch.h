/*
 * Private Mosquitto brokers for cardex-bench: each runs from a generated
 * config in its own temporary directory, listens on a free 127.0.0.1 port,
 * and is stopped by PID. Passwords are written in clear to a file and
 * hashed in place with `mosquitto_passwd -U`, so they never appear on argv.
 */
#ifndef CX_BENCH_LAUNCH_H
#define CX_BENCH_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
	pid_t pid;          /* 0 when not running */
	int port;
	char dir[256];      /* temporary directory: config, passwords, log */
	char conf[320];
	char log[320];
	char pwfile[320];
} bench__broker;

typedef struct {
	const char *mosquitto;   /* executable */
	const char *plugin;      /* mosquitto_cardex.so, or NULL for a broker without it */
	const char *pwfile_text; /* hashed password file contents (bench__password_file) */
	const char *plugin_opts; /* more plugin_opt_* lines (each ending in a newline), or NULL */
	bool pin;                /* run the broker on processor cpu only */
	int cpu;
} bench__broker_cfg;

/*
 * Makes the hashed password file for ids[n], all with password: writes
 * "id:password" lines to a private temporary file, runs mosquitto_passwd
 * -U on it, and reads it back. Returns a malloc'ed string the caller frees,
 * or NULL after printing why. The clear text is wiped and removed.
 */
char *bench__password_file(const char *mosquitto_passwd, const char *const *ids, size_t n,
		const char *password);

/* Bytes of randomness in a bench terminals' password (hex: twice as many characters). */
#define BENCH__PASSWORD_BYTES 16

/* A fresh random password for our own brokers' terminals. Returns 0 or -1. */
int bench__make_password(char out[2 * BENCH__PASSWORD_BYTES + 1]);

/*
 * The hashed password file of the terminals of pairs pairs, bench-a-<i> and
 * bench-b-<i>, all with password (bench__password_file). Returns a
 * malloc'ed string, or NULL after printing why.
 */
char *bench__pairs_password_file(const char *mosquitto_passwd, size_t pairs, const char *password);

/*
 * Starts a broker and waits (at most 10 s) until it accepts connections.
 * With cfg->pin, the broker is pinned to cfg->cpu in the child before it
 * execs, so that it never runs elsewhere; a broker that cannot be pinned
 * does not start. Returns 0, or -1 with its log printed to stderr and
 * everything removed. The broker gets SIGTERM if this process dies first.
 */
int bench__broker_start(bench__broker *b, const bench__broker_cfg *cfg);

/* A port on 127.0.0.1 that was free a moment ago, or -1. */
int bench__free_port(void);

/* SIGTERM, up to 5 s, then SIGKILL; removes the directory. Accepts a stopped broker. */
void bench__broker_stop(bench__broker *b);

/* True while the broker process runs. */
bool bench__broker_alive(bench__broker *b);

/* Prints the broker's log to stderr (for failures). */
void bench__broker_dump_log(const bench__broker *b);

#endif
