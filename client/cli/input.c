/*
 * Local input of the cardex CLI: the card file, the password file and the
 * instant key of a claim. Secrets are read with read(2) rather than stdio,
 * so that no copy stays behind in a stdio buffer, and are wiped by their
 * owners after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "proto.h"
#include "vcard.h"

/* A card file larger than this is refused before parsing (a whole address book with photos fits). */
#define CARD_FILE_MAX (16 * 1024 * 1024)
/* Longest key line accepted, spaces included. */
#define KEY_LINE_MAX 64

char *cli_read_fd(int fd, size_t max, size_t *len, bool *toolarge)
{
	size_t cap = 4096;
	size_t n = 0;
	char *buf = malloc(cap + 1);

	*toolarge = false;
	while(buf) {
		ssize_t r;

		if(n == cap) {
			char *nb;
			if(cap >= max) {
				*toolarge = true;
				break;
			}
			cap = cap * 2 > max ? max : cap * 2;
			nb = malloc(cap + 1);
			if(nb) {
				memcpy(nb, buf, n);
			}
			cx_wipe(buf, n);
			free(buf);
			buf = nb;
			continue;
		}
		r = read(fd, buf + n, cap - n);
		if(r < 0 && errno == EINTR) {
			continue;
		}
		if(r < 0) {
			break;
		}
		if(r == 0) {
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)r;
	}
	if(buf) {
		cx_wipe(buf, n);
	}
	free(buf);
	return NULL;
}

/* True when text[0..len) starts, after blanks and a byte order mark, with '[': jCard. */
static bool looks_like_json(const char *text, size_t len)
{
	size_t i = 0;

	if(len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		i = 3;
	}
	while(i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
		i++;
	}
	return i < len && text[i] == '[';
}

void cli_file_cards_free(cli_file_card *cards, size_t n)
{
	size_t i;

	if(!cards) {
		return;
	}
	for(i = 0; i < n; i++) {
		cx_card_free(cards[i].card);
	}
	free(cards);
}

/* Appends an entry to *cards; returns it, or NULL when memory runs out. */
static cli_file_card *add_entry(cli_file_card **cards, size_t *n)
{
	cli_file_card *m = realloc(*cards, (*n + 1) * sizeof(*m));

	if(!m) {
		return NULL;
	}
	*cards = m;
	memset(&m[*n], 0, sizeof(*m));
	return &m[(*n)++];
}

/* The cards of text[0..len): a jCard, or every card of a vCard stream. Returns 0, or -1 (no memory). */
static int parse_cards(const char *text, size_t len, cli_file_card **cards, size_t *n)
{
	cx_vcard_cursor cur = {0};
	cli_file_card *e;

	if(looks_like_json(text, len)) {
		cx_card_err err = {0};
		if(!(e = add_entry(cards, n))) {
			return -1;
		}
		if(cx_card_from_jcard_text(text, len, &e->card, &err) != 0
				|| cx_card_check(e->card, CX_VCARD_PHOTO_MAX_DEFAULT, &err) != 0) {
			cx_card_free(e->card);
			e->card = NULL;
			cx_card_err_format(&err, e->reason, sizeof(e->reason));
		}
		e->jcard = true;
		return 0;
	}
	for(;;) {
		cx_card_err err = {0};
		cx_card *card = NULL;
		int r = cx_vcard_parse_next(text, len, &cur, &card, CX_VCARD_PHOTO_MAX_DEFAULT, &err);

		if(r == 1) {
			break;
		}
		if(r < 0 && err.code == CX_CARD_E_NOMEM) {
			return -1;
		}
		if(!(e = add_entry(cards, n))) {
			cx_card_free(card);
			return -1;
		}
		e->card = card;
		if(r < 0) {
			cx_card_err_format(&err, e->reason, sizeof(e->reason));
		}
	}
	if(*n == 0) {
		/* Blank: say so as the reader does. */
		cx_card_err err = {0};
		cx_card *card = NULL;
		if(!(e = add_entry(cards, n))) {
			return -1;
		}
		cx_vcard_parse(text, len, &card, 0, &err);
		cx_card_free(card);
		cx_card_err_format(&err, e->reason, sizeof(e->reason));
	}
	return 0;
}

int cli_read_cards(const char *path, cli_file_card **cards, size_t *n, char *why)
{
	const char *name = strcmp(path, "-") == 0 ? "(standard input)" : path;
	bool toolarge = false;
	char *text = NULL;
	size_t len = 0;
	int fd, rc;

	*cards = NULL;
	*n = 0;
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0) {
		snprintf(why, CLI_WHY_MAX, "cannot open card file %s: %s", path, strerror(errno));
		return -1;
	}
	text = cli_read_fd(fd, CARD_FILE_MAX, &len, &toolarge);
	if(fd != STDIN_FILENO) {
		close(fd);
	}
	if(!text) {
		if(toolarge) {
			snprintf(why, CLI_WHY_MAX, "card file %s is larger than %d MiB", name, CARD_FILE_MAX >> 20);
		} else {
			snprintf(why, CLI_WHY_MAX, "cannot read card file %s", name);
		}
		return -1;
	}
	rc = parse_cards(text, len, cards, n);
	cx_wipe(text, len);
	free(text);
	if(rc != 0) {
		cli_file_cards_free(*cards, *n);
		*cards = NULL;
		*n = 0;
		snprintf(why, CLI_WHY_MAX, "out of memory reading card file %s", name);
		return -1;
	}
	return 0;
}

cx_card *cli_read_card(const char *path, char *why)
{
	const char *name = strcmp(path, "-") == 0 ? "(standard input)" : path;
	cli_file_card *cards = NULL;
	cx_card *card = NULL;
	size_t n = 0;

	if(cli_read_cards(path, &cards, &n, why) != 0) {
		return NULL;
	}
	if(n > 1) {
		snprintf(why, CLI_WHY_MAX, "card file %s holds %zu cards; give a file with one "
				"('cardex card import FILE NUMBER' stores one of them as a profile)", name, n);
	} else if(!cards[0].card) {
		snprintf(why, CLI_WHY_MAX, "card file %s is not a valid %s: %s", name,
				cards[0].jcard ? "jCard" : "vCard", cards[0].reason);
	} else {
		card = cards[0].card;
		cards[0].card = NULL;
	}
	cli_file_cards_free(cards, n);
	return card;
}

long cli_read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	bool any = false;

	for(;;) {
		char c;
		ssize_t r = read(fd, &c, 1);

		if(r < 0 && errno == EINTR) {
			continue;
		}
		if(r < 0) {
			return -1;
		}
		if(r == 0) {
			break;
		}
		any = true;
		if(c == '\n') {
			break;
		}
		if(n + 1 >= cap) {
			return -2;
		}
		buf[n++] = c;
	}
	if(!any) {
		return -1;
	}
	if(n > 0 && buf[n - 1] == '\r') {
		n--;
	}
	buf[n] = '\0';
	return (long)n;
}

int cli_read_password_file(const char *path, char *buf, size_t cap, char *why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	long n;

	if(fd < 0) {
		snprintf(why, CLI_WHY_MAX, "cannot open password file %s: %s", path, strerror(errno));
		return -1;
	}
	/* Like ssh with its keys: a secret that others can read is no longer one. */
	if(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH))) {
		snprintf(why, CLI_WHY_MAX, "password file %s can be read by other users (mode %04o): "
				"run chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	n = cli_read_line(fd, buf, cap);
	close(fd);
	if(n < 0) {
		snprintf(why, CLI_WHY_MAX, n == -2 ? "password file %s: first line too long"
				: "password file %s is empty or unreadable", path);
		cx_wipe(buf, cap);
		return -1;
	}
	return 0;
}

/* The terminal settings to put back if a signal ends the process at the prompt. */
static struct termios prompt_saved;

/* Restores echo (tcsetattr is async-signal-safe), then dies of the same signal. */
static void prompt_signal(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &prompt_saved);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * Reads a line from the terminal on stdin with echo off, prompting on
 * stderr. Echo comes back on every way out, Ctrl-C and SIGTERM included.
 */
static long prompt_line(const char *peer, char *buf, size_t cap)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa, old_sa[sizeof(sigs) / sizeof(sigs[0])];
	struct termios quiet;
	bool restore = false, handled = false;
	size_t i;
	long n;

	fprintf(stderr, "Instant key of %s: ", peer);
	fflush(stderr);
	if(tcgetattr(STDIN_FILENO, &prompt_saved) == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = prompt_signal;
		sigemptyset(&sa.sa_mask);
		for(i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
			sigaction(sigs[i], &sa, &old_sa[i]);
		}
		handled = true;
		quiet = prompt_saved;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		quiet.c_lflag |= ECHONL;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	n = cli_read_line(STDIN_FILENO, buf, cap);
	if(restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &prompt_saved);
	} else {
		fputc('\n', stderr);
	}
	for(i = 0; handled && i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &old_sa[i], NULL);
	}
	return n;
}

int cli_confirm_code(const char *peer, const char *code)
{
	char line[64];
	char digits[16];
	size_t n = 0;
	long len;
	int ok = 0;

	if(isatty(STDIN_FILENO)) {
		/* Two lines, so that a long peer ID does not push the answer onto a wrapped line. */
		fprintf(stderr, "Type the safety code shown on %s's screen\n"
				"(or y if it is the same, n to abort): ", peer);
		fflush(stderr);
	}
	len = cli_read_line(STDIN_FILENO, line, sizeof(line));
	if(len < 0) {
		return 0;
	}
	if(strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0) {
		return 1;
	}
	for(const char *p = line; *p; p++) {
		if(*p == ' ' || *p == '\t') {
			continue;
		}
		if(n + 1 >= sizeof(digits)) {
			return 0;
		}
		digits[n++] = *p;
	}
	digits[n] = '\0';
	/* Codes are not secrets, but equal length and a constant-time compare cost nothing. */
	ok = n == strlen(code) && cx_ct_equal(digits, code, n);
	return ok;
}

/* Copies the digits of src into key[cap], dropping spaces; false when not a key. */
static bool normalise_key(const char *src, char *key, size_t cap)
{
	size_t n = 0;

	for(; *src; src++) {
		if(*src == ' ' || *src == '\t') {
			continue;
		}
		if(n + 1 >= cap) {
			key[0] = '\0';
			return false;
		}
		key[n++] = *src;
	}
	key[n] = '\0';
	return cx_key_valid(key, n, CX_KEY_DIGITS_MIN);
}

int cli_get_key(const cli_config *cfg, char *key, size_t cap, char *why)
{
	char line[KEY_LINE_MAX + 1];
	long n;
	int rc = CLI_EXIT_USAGE;

	if(cfg->key_arg) {
		if(strlen(cfg->key_arg) > KEY_LINE_MAX || !normalise_key(cfg->key_arg, key, cap)) {
			snprintf(why, CLI_WHY_MAX, "the key must be 6 to 16 digits");
			return CLI_EXIT_USAGE;
		}
		return CLI_EXIT_OK;
	}
	if(cfg->key_stdin || !isatty(STDIN_FILENO)) {
		n = cli_read_line(STDIN_FILENO, line, sizeof(line));
	} else {
		n = prompt_line(cfg->peer, line, sizeof(line));
	}
	if(n == -1) {
		snprintf(why, CLI_WHY_MAX, "no key on standard input");
		rc = CLI_EXIT_LOCAL;
	} else if(n == -2 || !normalise_key(line, key, cap)) {
		snprintf(why, CLI_WHY_MAX, "the key must be 6 to 16 digits");
	} else {
		rc = CLI_EXIT_OK;
	}
	cx_wipe(line, sizeof(line));
	return rc;
}
