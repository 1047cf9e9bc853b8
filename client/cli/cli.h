/*
 * Private header of the cardex CLI: its configuration, exit codes, and the
 * functions of each of its files (args.c, input.c, output.c, commands.c).
 */
#ifndef CARDEX_CLI_H
#define CARDEX_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cardex.h"

/* Exit codes, documented in `cardex --help` and docs/cli.md. */
typedef enum {
	CLI_EXIT_OK = 0,      /* the exchange completed: both cards passed */
	CLI_EXIT_FAILED = 1,  /* the exchange failed: error reply, offer revoked or expired */
	CLI_EXIT_USAGE = 2,   /* bad command line or environment */
	CLI_EXIT_CONNECT = 3, /* cannot connect, authenticate, or stay connected */
	CLI_EXIT_TIMEOUT = 4, /* --timeout ran out */
	CLI_EXIT_LOCAL = 5    /* local file or card error (card file, password file, key input) */
} cli_exit;

typedef enum {
	CLI_CMD_OFFER = 1,
	CLI_CMD_CLAIM = 2
} cli_cmd;

#define CLI_DEFAULT_TIMEOUT 300
#define CLI_DEFAULT_DIGITS 6

typedef struct cli_config cli_config;

/* Runs a command; returns its exit code. */
typedef int (*cli_run_fn)(const cli_config *cfg);

struct cli_config {
	cli_cmd cmd;
	cli_run_fn run;
	const char *host;
	int port;
	const char *id;
	const char *cafile;
	const char *topic_prefix;
	unsigned timeout_s;
	bool json;
	const char *password_file;
	const char *card_file;
	unsigned digits;       /* offer */
	unsigned ttl;          /* offer; 0: the server's default */
	const char *peer;      /* claim */
	const char *key_arg;   /* claim: KEY from the command line, or NULL */
	bool key_stdin;        /* claim */
};

/* ---- args.c ---- */

/* Prints the full help text to f. */
void cli_usage(FILE *f);

/*
 * Parses argv[1..] (a command, then its options and arguments) and the
 * CARDEX_* environment into cfg. Returns -1 when --help was asked (help
 * already printed), CLI_EXIT_OK, or CLI_EXIT_USAGE after printing the
 * reason to stderr.
 */
int cli_parse(int argc, char **argv, cli_config *cfg);

/* Prints "cardex: <msg>" and a hint to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- input.c ---- */

/* Room for the reason of an input failure. */
#define CLI_WHY_MAX 512

/*
 * Reads and checks a jCard file. Returns a malloc'ed NUL-terminated text
 * (the caller wipes and frees it) and its length, or NULL with the reason
 * in why[CLI_WHY_MAX] (never quoting the file's content).
 */
char *cli_read_card(const char *path, size_t *len, char *why);

/*
 * Reads the first line of path into buf[cap] (no line end). Returns 0, or -1
 * with the reason in why[CLI_WHY_MAX]. The caller wipes buf.
 */
int cli_read_password_file(const char *path, char *buf, size_t cap, char *why);

/*
 * Gets the instant key of a claim: from cfg->key_arg, else the first line of
 * stdin (--key-stdin, or stdin not a terminal), else a prompt on the
 * terminal with echo off. Spaces are dropped, so "483 920" works. Writes
 * the digits into key[cap]. Returns CLI_EXIT_OK, CLI_EXIT_USAGE (not 6..16
 * digits) or CLI_EXIT_LOCAL (cannot read), with the reason in
 * why[CLI_WHY_MAX]. Never puts the key in why.
 */
int cli_get_key(const cli_config *cfg, char *key, size_t cap, char *why);

/* ---- output.c ---- */

typedef struct {
	bool json;
} cli_out;

/* The offer event: terminal ID, key (shown grouped in human mode), expiry. */
void cli_out_offer(const cli_out *o, const char *id, const char *key, unsigned expires_in);
/* match, attempt, revoked, expired, sent, card and error events of the library. */
void cli_out_event(const cli_out *o, const cardex_event *ev);
/* A local failure: JSON error event on stdout, or "cardex: message" on stderr. */
void cli_out_fail(const cli_out *o, const char *code, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));

/* ---- commands.c ---- */

int cli_cmd_offer(const cli_config *cfg);
int cli_cmd_claim(const cli_config *cfg);

#endif
