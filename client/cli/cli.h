/*
 * Private header of the cardex CLI: its configuration, exit codes, and the
 * functions of each of its files:
 *   args.c      command line, help texts, environment and config file merge
 *   config.c    the config file ($XDG_CONFIG_HOME/cardex/config)
 *   input.c     card files, password files, the instant key of a claim
 *   output.c    human and JSON output, the TTY view of an offer
 *   qr.c        QR codes drawn with Unicode half blocks, big digits
 *   uri.c       cardex:<terminal-id>/<key> URIs and key grouping
 *   store.c     the data directory: paths, modes, atomic writes
 *   profiles.c  our named card profiles
 *   contacts.c  the cards we received
 *   sentlog.c   the record of what we sent to whom
 *   owncard.c   the card an offer or claim sends
 *   commands.c  offer and claim
 *   card_cmd.c  cardex card ...
 *   contacts_cmd.c  cardex contacts ...
 */
#ifndef CARDEX_CLI_H
#define CARDEX_CLI_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "card.h"
#include "cardex.h"
#include "ids.h"
#include "proto.h"

/* Exit codes, documented in `cardex --help` and docs/cli.md. */
typedef enum {
	CLI_EXIT_OK = 0,      /* the exchange completed: both cards passed */
	CLI_EXIT_FAILED = 1,  /* the exchange failed; card/contacts: no such profile or contact */
	CLI_EXIT_USAGE = 2,   /* bad command line, environment or config file */
	CLI_EXIT_CONNECT = 3, /* cannot connect, authenticate, or stay connected */
	CLI_EXIT_TIMEOUT = 4, /* --timeout ran out */
	CLI_EXIT_LOCAL = 5    /* local file or card error (card, profile, contacts, password file, key) */
} cli_exit;

typedef enum {
	CLI_CMD_OFFER = 1,
	CLI_CMD_CLAIM,
	CLI_CMD_CARD_IMPORT,
	CLI_CMD_CARD_EXPORT,
	CLI_CMD_CARD_SHOW,
	CLI_CMD_CARD_LIST,
	CLI_CMD_CARD_EDIT,
	CLI_CMD_CARD_SET,
	CLI_CMD_CARD_RM,
	CLI_CMD_CARD_DEFAULT,
	CLI_CMD_CONTACTS_LIST,
	CLI_CMD_CONTACTS_SHOW,
	CLI_CMD_CONTACTS_EXPORT,
	CLI_CMD_CONTACTS_RM,
	CLI_CMD_CONTACTS_SENT
} cli_cmd;

#define CLI_DEFAULT_TIMEOUT 300
#define CLI_DEFAULT_DIGITS 6
/* Most positional arguments a command takes (contacts export NAME...). */
#define CLI_ARGS_MAX 64
/* Room for a path in the data or config directory. */
#define CLI_PATH_MAX 4096
/* Room for the reason of a failure. */
#define CLI_WHY_MAX 512
/* A profile name: 1..64 of A-Z a-z 0-9 . _ -, not starting with '.'. */
#define CLI_PROFILE_MAX 64
/* A contact ID: 12 lowercase hex digits. */
#define CLI_CONTACT_ID_LEN 12

/*
 * What the config file set; NULL / 0 for what it left out. Paths are
 * absolute or made absolute (relative to the file's directory, "~/"
 * expanded). Owns its strings: free with cli_conf_free.
 */
typedef struct {
	char *host;
	int port;
	char *id;
	char *password_file;
	char *cafile;
	char *topic_prefix;
	char *profile;
} cli_file_config;

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
	const char *profile;   /* --profile, or the config file's profile (resolved later) */
	bool profile_given;    /* --profile was on the command line */
	const char *only;      /* --only: comma-separated property names */
	bool no_save;          /* do not store the received card */
	bool confirm;          /* --confirm: the user types the peer's safety code before cards move */
	bool allow_plain;      /* --allow-plain: exchange with a peer that does not seal */
	bool no_qr;            /* offer: no QR code on a terminal */
	unsigned digits;       /* offer */
	unsigned ttl;          /* offer; 0: the server's default */
	const char *peer;      /* claim */
	const char *key_arg;   /* claim: KEY from the command line or --uri, or NULL */
	bool key_stdin;        /* claim */
	const char *uri;       /* claim: --uri as given */
	bool add;              /* card set --add */
	bool jcard;            /* card export --jcard */
	int vcard_version;     /* card and contacts export --vcard: 3 or 4 (0: 4) */
	bool provenance;       /* contacts export --with-provenance */
	const char *config_file; /* --config */
	const char *args[CLI_ARGS_MAX]; /* positional arguments of the card and contacts commands */
	size_t nargs;
	char uri_peer[CX_ID_MAX + 1];         /* claim --uri: the peer */
	char uri_key[CX_KEY_DIGITS_MAX + 1];  /* claim --uri: the key; wiped by cli_config_free */
	cli_file_config file;  /* what the config file said; owns its strings */
};

/* ---- args.c ---- */

/* Prints the full help text to f. */
void cli_usage(FILE *f);

/*
 * Parses argv[1..] (a command, then its options and arguments), the
 * CARDEX_* environment and the config file into cfg. Returns -1 when --help
 * was asked (help already printed), CLI_EXIT_OK, CLI_EXIT_USAGE after
 * printing the reason to stderr, or CLI_EXIT_LOCAL when --uri - could not
 * be read. Call cli_config_free(cfg) afterwards in every case.
 */
int cli_parse(int argc, char **argv, cli_config *cfg);

/* Frees what cli_parse allocated in cfg and wipes the key it may hold. */
void cli_config_free(cli_config *cfg);

/* Prints "cardex: <msg>" and a hint to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- config.c ---- */

/*
 * Parses config file text[0..len) ("key = value" lines, '#' comment lines,
 * blank lines). base_dir resolves relative paths. Returns 0 with *out
 * filled, or -1 with why[CLI_WHY_MAX] = "line N: ..." (never quoting a
 * value) and *out empty.
 */
int cli_conf_parse(const char *text, size_t len, const char *base_dir, cli_file_config *out,
		char *why);

/*
 * Reads the config file at path. A missing file is no error when
 * !must_exist (*out stays empty). Refuses a file owned by another user or
 * writable by group or others. Returns 0, or -1 with why set to
 * "<path>: ...".
 */
int cli_conf_load(const char *path, bool must_exist, cli_file_config *out, char *why);

/* Frees the strings of c and zeroes it; accepts an empty one. */
void cli_conf_free(cli_file_config *c);

/*
 * $XDG_CONFIG_HOME/cardex/config (XDG_CONFIG_HOME when set to an absolute
 * path, else ~/.config) into buf[cap]. Returns 0, or -1 with why set.
 */
int cli_conf_default_path(char *buf, size_t cap, char *why);

/* ---- input.c ---- */

/*
 * Reads all of fd into a malloc'ed NUL-terminated buffer of at most max
 * bytes. Returns it (the caller wipes and frees it) with *len, or NULL
 * (*toolarge tells a size overrun from a read error or lack of memory).
 */
char *cli_read_fd(int fd, size_t max, size_t *len, bool *toolarge);

/*
 * Reads and checks a card file ("-": standard input) of one card: vCard
 * 2.1, 3.0 or 4.0 text, or jCard JSON (when it starts with '['). Returns
 * the card (free with cx_card_free), or NULL with the reason in
 * why[CLI_WHY_MAX] (the line and property at fault, never the file's
 * content; a file of several cards is refused).
 */
cx_card *cli_read_card(const char *path, char *why);

/* One card of a card file: the card, or why it is not valid. */
typedef struct {
	cx_card *card;     /* NULL when not valid */
	char reason[200];  /* "line 12: FN: card has no FN property" when card is NULL */
	bool jcard;        /* the file is a jCard */
} cli_file_card;

/*
 * Reads every card of a card file (see cli_read_card), at most 16 MiB: an
 * invalid card does not stop the reading of those after it. Returns 0 with
 * *cards (free with cli_file_cards_free) and *n >= 1, or -1 with why set
 * (the file cannot be read).
 */
int cli_read_cards(const char *path, cli_file_card **cards, size_t *n, char *why);
void cli_file_cards_free(cli_file_card *cards, size_t n);

/*
 * Reads the first line of path into buf[cap] (no line end). Refuses a file
 * that group or others may read. Returns 0, or -1 with the reason in
 * why[CLI_WHY_MAX]. The caller wipes buf.
 */
int cli_read_password_file(const char *path, char *buf, size_t cap, char *why);

/*
 * Reads one line of fd (no line end) into buf[cap], byte by byte so that
 * nothing after it is consumed. Returns its length, -1 on a read error or
 * at EOF before any byte, -2 when the line does not fit.
 */
long cli_read_line(int fd, char *buf, size_t cap);

/*
 * Gets the instant key of a claim: from cfg->key_arg, else the first line of
 * stdin (--key-stdin, or stdin not a terminal), else a prompt on the
 * terminal with echo off. Spaces are dropped, so "483 920" works. Writes
 * the digits into key[cap]. Returns CLI_EXIT_OK, CLI_EXIT_USAGE (not 6..16
 * digits) or CLI_EXIT_LOCAL (cannot read), with the reason in
 * why[CLI_WHY_MAX]. Never puts the key in why.
 */
int cli_get_key(const cli_config *cfg, char *key, size_t cap, char *why);

/* ---- uri.c ---- */

/* Longest cardex: URI: "cardex:" ID "/" KEY. */
#define CLI_URI_MAX (7 + CX_ID_MAX + 1 + CX_KEY_DIGITS_MAX)

/*
 * Writes "cardex:<id>/<key>" into buf[cap]. Returns 0, or -1 when id or
 * key is invalid or it does not fit (buf is then "").
 */
int cli_uri_format(const char *id, const char *key, char *buf, size_t cap);

/*
 * Parses a cardex: URI strictly: the scheme (any case), a valid terminal
 * ID, '/', 6 to 16 digits, nothing else. Returns 0 with id[CX_ID_MAX + 1]
 * and key[CX_KEY_DIGITS_MAX + 1] filled, or -1 with a reason in
 * why[CLI_WHY_MAX] that never quotes the key (id and key are then "").
 */
int cli_uri_parse(const char *uri, char *id, char *key, char *why);

/*
 * Writes key grouped for reading aloud into out[cap]: threes separated by
 * a space ("483 920"), a last group of four rather than one ("123 4567").
 * Returns 0, or -1 when it does not fit (out is then "").
 */
int cli_key_group(const char *key, char *out, size_t cap);

/* ---- qr.c ---- */

/* Modules of quiet zone drawn around a QR code (ISO/IEC 18004 asks for 4). */
#define CLI_QR_QUIET 4

typedef struct {
	char *text;   /* malloc'ed, NUL-terminated lines; wiped and freed by cli_qr_clear */
	size_t len;
	int version;  /* QR version, 1..40 */
	int modules;  /* modules per side, 17 + 4 * version */
	int cols;     /* characters per line: modules + 2 * CLI_QR_QUIET */
	int rows;     /* lines: (modules + 2 * CLI_QR_QUIET + 1) / 2 */
} cli_qr;

/*
 * Encodes text (error correction level M) and draws it with Unicode half
 * blocks, two module rows per line, with a quiet zone of CLI_QR_QUIET light
 * modules. With color, dark modules are drawn black on a bright white
 * background set by ANSI escapes (lines start with "\033[30;107m" and end
 * with "\033[0m"); without, light modules are drawn as blocks for a dark
 * terminal background and no escape code is written. Returns 0, or -1 when
 * libqrencode fails (too long) or memory runs out.
 */
int cli_qr_render(const char *text, bool color, cli_qr *qr);

/* Wipes and frees what cli_qr_render produced; accepts a zeroed qr. */
void cli_qr_clear(cli_qr *qr);

/*
 * Draws a string of digits and spaces in a 3x5 block font (each pixel two
 * columns wide, 5 lines), each line starting with indent. Returns the
 * malloc'ed text (the caller wipes and frees it), or NULL when memory runs
 * out or s holds another character. *cols gets the widest line's width.
 */
char *cli_big_digits(const char *s, const char *indent, int *cols);

/* ---- output.c ---- */

typedef struct {
	bool json;
	bool tty;          /* human mode on a terminal: QR, big key, countdown */
	bool color;        /* ANSI colours on stdout (tty, NO_COLOR unset, TERM not dumb) */
	bool color_err;    /* the same for stderr */
	bool qr;           /* draw the QR code */
	bool status_shown; /* the countdown line is on screen */
	int last_left;     /* the countdown value shown, -1 when none */
} cli_out;

/* Sets up o for cfg's output mode and the terminals on stdout and stderr. */
void cli_out_init(cli_out *o, const cli_config *cfg);

/*
 * The offer event: terminal ID, key (grouped), expiry. On a terminal also
 * the key in big digits and a QR code of the cardex: URI.
 */
void cli_out_offer(cli_out *o, const char *id, const char *key, unsigned expires_in);
/* Shows the seconds left on one line, rewritten in place (terminal mode only). */
void cli_out_countdown(cli_out *o, int seconds_left);
/* match, attempt, revoked, expired, sent, card and error events of the library. */
void cli_out_event(cli_out *o, const cardex_event *ev);
/*
 * The safety code of a sealed exchange: "Safety code: 957 630 (compare it
 * with the other screen)", or a JSON "safety" event with "safety_code".
 */
void cli_out_safety(cli_out *o, const cardex_event *ev);
/*
 * Asks for the safety code shown on peer's screen (or y/n), on the terminal
 * when stdin is one (prompt on stderr), else from the next line of standard
 * input. Returns 1 when the answer is our code (digits, spaces ignored) or
 * "y"/"yes", 0 for anything else (a wrong code, "n", no answer).
 */
int cli_confirm_code(const char *peer, const char *code);
/*
 * A card event, with the contact it was saved as (contact NULL: not
 * saved): JSON gets "contact" and "updated" members, human mode a line.
 */
void cli_out_received(cli_out *o, const cardex_event *ev, const char *contact, bool updated);
/* A local failure: JSON error event on stdout, or "cardex: message" on stderr. */
void cli_out_fail(cli_out *o, const char *code, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
/* A warning on stderr ("cardex: warning: ..."), in both modes. */
void cli_out_warn(cli_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Prints card readably to stdout: one "  Label  value (types)" line per
 * common property (name, title, role, organization, email, phone, web,
 * address, birthday, note, photo), control characters replaced.
 * Returns the number of properties not shown.
 */
size_t cli_out_card(const cx_card *card);

/* Writes s to f with control characters replaced by '?'. */
void cli_put_clean(FILE *f, const char *s);

/* ---- store.c ---- */

/* The data directory: $XDG_DATA_HOME/cardex (XDG_DATA_HOME absolute), else ~/.local/share/cardex. */
typedef struct {
	char base[CLI_PATH_MAX];
} cli_store;

/* Resolves the data directory's path (creates nothing). Returns 0, or -1 with why set. */
int cli_store_init(cli_store *st, char *why);

/*
 * Path of sub ("profiles", "contacts", or "" for the base) in path[cap].
 * With create, makes the directories missing on the way with mode 0700.
 * Checks that the base and sub are directories owned by us, and takes
 * group and other permissions away from them (with a warning on stderr).
 * Returns 0, 1 when it does not exist and !create, or -1 with why set.
 */
int cli_store_dir(const cli_store *st, const char *sub, bool create, char *path, size_t cap,
		char *why);

/*
 * Opens the checked subdirectory sub for listing (path[cap] receives its
 * path). Returns 0 with *dir open (close it with closedir), 1 when the
 * directory does not exist yet (*dir NULL: an empty list), -1 with why.
 */
int cli_store_opendir(const cli_store *st, const char *sub, char *path, size_t cap, DIR **dir,
		char *why);

/*
 * Reads the regular file path (not through a symbolic link) of at most max
 * bytes. Refuses a file owned by another user; a file that group or others
 * may access gets mode 0600 back (with a warning). Returns 0 with *out (the
 * caller wipes and frees it) and *len, 1 when it does not exist, or -1 with
 * why set.
 */
int cli_store_read(const char *path, size_t max, char **out, size_t *len, char *why);

/*
 * Replaces path atomically with data[0..len), mode 0600: writes a temporary
 * file in the same directory, fsyncs it, renames it over path and fsyncs
 * the directory. On failure path is unchanged and no temporary file stays.
 * Returns 0, or -1 with why set.
 */
int cli_store_write(const char *path, const void *data, size_t len, char *why);

/* Removes path. Returns 0, 1 when it did not exist, or -1 with why set. */
int cli_store_remove(const char *path, char *why);

/* "YYYY-MM-DDThh:mm:ssZ" of t (UTC) into buf[21]. */
void cli_time_iso(time_t t, char buf[21]);

/* ---- profiles.c ---- */

/* True when name is a valid profile name. */
bool cli_profile_name_valid(const char *name);

/*
 * Names of our profiles, sorted. Returns 0 with *names (free with
 * cli_names_free; NULL when none) and *n, or -1 with why set.
 */
int cli_profile_list(const cli_store *st, char ***names, size_t *n, char *why);
void cli_names_free(char **names, size_t n);

/*
 * Loads profile name. Returns 0 with *out (free with cx_card_free), 1 when
 * there is no such profile, or -1 with why set (an unreadable or invalid
 * file: the line and property at fault).
 */
int cli_profile_load(const cli_store *st, const char *name, cx_card **out, char *why);

/*
 * Checks card (cx_card_check) and stores it as profile name, replacing the
 * profile atomically. The first profile becomes the default (*made_default,
 * when not NULL, says so). Returns 0, or -1 with why set.
 */
int cli_profile_save(const cli_store *st, const char *name, const cx_card *card,
		bool *made_default, char *why);

/*
 * Removes profile name; when it was the default, no profile is the default
 * any more (*was_default says so). Returns 0, 1 when there is no such
 * profile, or -1 with why set.
 */
int cli_profile_remove(const cli_store *st, const char *name, bool *was_default, char *why);

/*
 * The default profile's name into name[CLI_PROFILE_MAX + 1]. Returns 0, 1
 * when none is set (or it names a profile that no longer exists), or -1
 * with why set.
 */
int cli_profile_default(const cli_store *st, char *name, char *why);

/* Makes name the default. Returns 0, 1 when there is no such profile, or -1 with why set. */
int cli_profile_set_default(const cli_store *st, const char *name, char *why);

/*
 * The profile a command means: --profile or the config file's, else the
 * default. Returns 0 with name[CLI_PROFILE_MAX + 1], 1 when there is none,
 * or -1 with why set.
 */
int cli_profile_resolve(const cli_config *cfg, const cli_store *st, char *name, char *why);

/* ---- contacts.c ---- */

/* Provenance properties of a stored contact (vCard extension properties). */
#define CLI_X_PEER "x-cardex-peer"
#define CLI_X_EXCHANGE "x-cardex-exchange"
#define CLI_X_RECEIVED "x-cardex-received"
#define CLI_X_VERIFIED "x-cardex-verified"

typedef struct {
	char id[CLI_CONTACT_ID_LEN + 1];
	cx_card *card;          /* as stored, provenance included */
	const char *fn;         /* into card */
	const char *peer;       /* into card, "" when unknown */
	const char *exchange;   /* into card, "" when unknown */
	const char *received;   /* into card (basic-form UTC timestamp), "" when unknown */
} cli_contact;

/*
 * Copy of card without any X-CARDEX-* property, or NULL when memory runs
 * out. Free with cx_card_free.
 */
cx_card *cli_card_strip_provenance(const cx_card *card);

/*
 * The contact ID of card received from peer: the first 12 hex digits of
 * SHA-256 over "uid\n" UID when the card has a UID, else over
 * "peer\n" peer "\n" FN. Writes it into id[CLI_CONTACT_ID_LEN + 1].
 * Returns 0, or -1 when hashing fails.
 */
int cli_contact_id(const cx_card *card, const char *peer, bool use_uid, char *id);

/*
 * Stores card, received from terminal peer in exchange xid at time when,
 * as contacts/<ID>.vcf with X-CARDEX-PEER, X-CARDEX-EXCHANGE,
 * X-CARDEX-RECEIVED and X-CARDEX-VERIFIED ("true" when the user confirmed
 * the safety code of a sealed exchange before the card was saved, else
 * "false") (any such properties in card are dropped first). An
 * entry with the same ID is replaced (*updated true); a card with a UID
 * also replaces an earlier entry from the same peer with the same FN that
 * had no UID. Returns 0 with id[CLI_CONTACT_ID_LEN + 1], or -1 with why.
 */
int cli_contacts_save(const cli_store *st, const cx_card *card, const char *peer, const char *xid,
		time_t when, bool verified, char *id, bool *updated, char *why);

/*
 * Loads every contact, sorted by name then ID. Unreadable entries are
 * skipped with a warning on stderr. Returns 0 with *out (free with
 * cli_contacts_free; NULL when none) and *n, or -1 with why set.
 */
int cli_contacts_load(const cli_store *st, cli_contact **out, size_t *n, char *why);
void cli_contacts_free(cli_contact *c, size_t n);

/*
 * Finds the one contact query means: its ID, else a unique ID prefix of at
 * least 4 digits, else a name equal to query (any case), else a name
 * containing it (any case). Returns 0 with *idx, 1 when none matches, 2
 * when several match at the best level (why lists them).
 */
int cli_contacts_find(const cli_contact *c, size_t n, const char *query, size_t *idx, char *why);

/*
 * Writes the contacts of idx[0..nidx) (all when idx is NULL) to f as one
 * vCard stream of version 3 (3.0) or 4 (4.0); without provenance,
 * X-CARDEX-* properties are left out.
 * Returns 0, or -1 when memory runs out or writing fails.
 */
int cli_contacts_export(const cli_contact *c, size_t n, const size_t *idx, size_t nidx,
		bool provenance, int version, FILE *f);

/* Removes contact id. Returns 0, 1 when absent, or -1 with why set. */
int cli_contacts_remove(const cli_store *st, const char *id, char *why);

/* ---- sentlog.c ---- */

typedef struct {
	time_t time;
	const char *id;        /* our terminal ID */
	const char *peer;
	const char *exchange;
	const char *profile;   /* NULL when the card came from a file */
	const char *card_file; /* NULL when it came from a profile */
	const char *fields;    /* comma-separated property names sent */
} cli_sent;

/*
 * Appends one JSON line for e to sent.log in the data directory (created
 * with mode 0600). Returns 0, or -1 with why set.
 */
int cli_sentlog_append(const cli_store *st, const cli_sent *e, char *why);

/*
 * Prints sent.log to stdout: its JSON lines as they are with json, else a
 * table. Returns 0 (also when there is no log yet), or -1 with why set.
 */
int cli_sentlog_print(const cli_store *st, bool json, char *why);

/* ---- owncard.c ---- */

/* The card an offer or claim sends. */
typedef struct {
	char *jcard;       /* compact jCard text; wiped and freed by cli_own_card_clear */
	size_t jcard_len;
	char profile[CLI_PROFILE_MAX + 1]; /* "" when it came from --card */
	char *fields;      /* distinct property names sent, comma-separated, lowercase */
} cli_own_card;

/*
 * Checks an --only list: comma-separated vCard property names (blanks
 * around them allowed), at least one. Returns true when valid.
 */
bool cli_only_valid(const char *only);

/*
 * Loads the card to send: from --card, else the profile cli_profile_resolve
 * gives, reduced to the --only fields (FN and UID always kept). Returns
 * CLI_EXIT_OK, CLI_EXIT_USAGE (no card at all: why says how to get one) or
 * CLI_EXIT_LOCAL (unreadable or invalid card, no such profile), with why.
 */
int cli_own_card_load(const cli_config *cfg, cli_own_card *own, char *why);

/* Wipes and frees what own holds; accepts a zeroed one. */
void cli_own_card_clear(cli_own_card *own);

/*
 * Stores the card of a CARDEX_EV_CARD event in the contacts. Returns 0
 * with id[CLI_CONTACT_ID_LEN + 1] and *updated, or -1 with why set (an
 * invalid card, or a store failure).
 */
int cli_keep_card(const cardex_event *ev, char *id, bool *updated, char *why);

/* ---- commands.c ---- */

int cli_cmd_offer(const cli_config *cfg);
int cli_cmd_claim(const cli_config *cfg);

/* ---- card_cmd.c ---- */

int cli_cmd_card_import(const cli_config *cfg);
int cli_cmd_card_export(const cli_config *cfg);
int cli_cmd_card_show(const cli_config *cfg);
int cli_cmd_card_list(const cli_config *cfg);
int cli_cmd_card_edit(const cli_config *cfg);
int cli_cmd_card_set(const cli_config *cfg);
int cli_cmd_card_rm(const cli_config *cfg);
int cli_cmd_card_default(const cli_config *cfg);

/* ---- contacts_cmd.c ---- */

int cli_cmd_contacts_list(const cli_config *cfg);
int cli_cmd_contacts_show(const cli_config *cfg);
int cli_cmd_contacts_export(const cli_config *cfg);
int cli_cmd_contacts_rm(const cli_config *cfg);
int cli_cmd_contacts_sent(const cli_config *cfg);

#endif
