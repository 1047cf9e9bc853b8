/*
 * cardex card ...: our card profiles (profiles.c) from the command line:
 * import, export, show, list, edit, set, rm, default. None of them
 * connects to a broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"
#include "vcard.h"

/* A value read from standard input (card set PROPERTY -) is at most this long. */
#define VALUE_MAX (64 * 1024)
/* The profile card import and card set create when none applies. */
#define FIRST_PROFILE "default"

/* Opens the data directory's handle; prints the failure. */
static int open_store(cli_store *st)
{
	char why[CLI_WHY_MAX];

	if(cli_store_init(st, why) != 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

/*
 * The profile the command means into name; prints why there is none.
 * Returns CLI_EXIT_OK, CLI_EXIT_FAILED (none) or CLI_EXIT_LOCAL.
 */
static int which_profile(const cli_config *cfg, const cli_store *st, char *name)
{
	char why[CLI_WHY_MAX];
	int rc = cli_profile_resolve(cfg, st, name, why);

	if(rc == 1) {
		fprintf(stderr, "cardex: no default profile: give --profile NAME, or import a card with "
				"'cardex card import FILE.vcf'\n");
		return CLI_EXIT_FAILED;
	}
	if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

/* Loads the profile the command means; prints the failure. */
static int load_profile(const cli_config *cfg, const cli_store *st, char *name, cx_card **card)
{
	char why[CLI_WHY_MAX];
	int rc = which_profile(cfg, st, name);

	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	rc = cli_profile_load(st, name, card, why);
	if(rc == 1) {
		fprintf(stderr, "cardex: no profile named %s (see 'cardex card list')\n", name);
		return CLI_EXIT_FAILED;
	}
	if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

/* True when the profile name exists. */
static bool profile_exists(const cli_store *st, const char *name)
{
	char why[CLI_WHY_MAX];
	char **names = NULL;
	size_t n = 0, i;
	bool found = false;

	if(cli_profile_list(st, &names, &n, why) != 0) {
		return false;
	}
	for(i = 0; i < n && !found; i++) {
		found = strcmp(names[i], name) == 0;
	}
	cli_names_free(names, n);
	return found;
}

/* Saves card as profile name and says so. */
static int save_profile(const cli_store *st, const char *name, const cx_card *card, const char *verb)
{
	char why[CLI_WHY_MAX];
	bool made_default = false;

	if(cli_profile_save(st, name, card, &made_default, why) != 0) {
		fprintf(stderr, "cardex: cannot save profile %s: %s\n", name, why);
		return CLI_EXIT_LOCAL;
	}
	printf("%s profile %s (", verb, name);
	cli_put_clean(stdout, cx_card_fn(card));
	printf(")%s\n", made_default ? ", now the default profile" : "");
	return CLI_EXIT_OK;
}

/* Sets REV to now when the card has one: it says when the card last changed. */
static void touch_rev(cx_card *card)
{
	char stamp[21];
	char basic[17];

	if(!cx_card_find(card, "rev", 0)) {
		return;
	}
	cli_time_iso(time(NULL), stamp);
	snprintf(basic, sizeof(basic), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", stamp, stamp + 5, stamp + 8,
			stamp + 11, stamp + 14, stamp + 17);
	cx_card_set(card, "rev", basic);
}

/* ---- card import ---- */

/* True when s contains q, ignoring ASCII case. */
static bool contains_nocase(const char *s, const char *q)
{
	size_t n = strlen(q);

	for(; *s; s++) {
		if(strncasecmp(s, q, n) == 0) {
			return true;
		}
	}
	return n == 0;
}

/*
 * The cards of a file that which names: its number ("2"), else the cards
 * whose name is which (any case), else those whose name contains it. Sets
 * hits[] (indexes) and returns how many.
 */
static size_t match_cards(const cli_file_card *cards, size_t n, const char *which, size_t *hits)
{
	char *end = NULL;
	unsigned long k;
	size_t count = 0, i;
	int level;

	if(which[0] >= '0' && which[0] <= '9') {
		k = strtoul(which, &end, 10);
		if(*end == '\0') {
			if(k >= 1 && k <= n) {
				hits[0] = k - 1;
				return 1;
			}
			return 0;
		}
	}
	for(level = 0; level < 2 && count == 0; level++) {
		for(i = 0; i < n; i++) {
			const char *fn = cards[i].card ? cx_card_fn(cards[i].card) : NULL;
			if(fn && (level == 0 ? strcasecmp(fn, which) == 0 : contains_nocase(fn, which))) {
				hits[count++] = i;
			}
		}
	}
	return count;
}

/* Columns s takes on a terminal, roughly: one per UTF-8 character. */
static int text_cols(const char *s)
{
	int n = 0;

	for(; *s; s++) {
		n += ((unsigned char)*s & 0xc0) != 0x80;
	}
	return n;
}

/* Lists cards hits[0..count) (all when hits is NULL) of a file on f: number, name, first e-mail and phone. */
static void list_cards(FILE *f, const cli_file_card *cards, size_t n, const size_t *hits, size_t count)
{
	int width = 0;
	size_t k;

	for(k = 0; k < (hits ? count : n); k++) {
		const cx_card *c = cards[hits ? hits[k] : k].card;
		int w = c ? text_cols(cx_card_fn(c)) : 0;
		width = w > width ? (w < 32 ? w : 32) : width;
	}
	for(k = 0; k < (hits ? count : n); k++) {
		size_t i = hits ? hits[k] : k;
		const cx_card *c = cards[i].card;
		int w;
		fprintf(f, "  %3zu  ", i + 1);
		if(!c) {
			fprintf(f, "(not valid: %s)\n", cards[i].reason);
			continue;
		}
		cli_put_clean(f, cx_card_fn(c));
		w = text_cols(cx_card_fn(c));
		if(cx_card_get(c, "email", 0) || cx_card_get(c, "tel", 0)) {
			fprintf(f, "%*s", w < width ? width - w : 0, "");
		}
		if(cx_card_get(c, "email", 0)) {
			fputs("  <", f);
			cli_put_clean(f, cx_card_get(c, "email", 0));
			fputc('>', f);
		}
		if(cx_card_get(c, "tel", 0)) {
			const char *tel = cx_card_get(c, "tel", 0);
			fputs("  ", f);
			cli_put_clean(f, strncasecmp(tel, "tel:", 4) == 0 ? tel + 4 : tel);
		}
		fputc('\n', f);
	}
}

/*
 * Asks on the terminal which card to import. Returns the index, or -1 when
 * the user gives none (an empty line, end of input) after saying why.
 */
static long ask_card(const cli_file_card *cards, size_t n, size_t *hits)
{
	char line[256];

	for(;;) {
		long len;
		size_t count;

		fprintf(stderr, "Import which card? [1-%zu or a name; Enter to cancel] ", n);
		fflush(stderr);
		len = cli_read_line(STDIN_FILENO, line, sizeof(line));
		if(len <= 0) {
			fputs(len == -1 ? "\n" : "", stderr);
			return -1;
		}
		count = match_cards(cards, n, line, hits);
		if(count == 1 && cards[hits[0]].card) {
			return (long)hits[0];
		}
		if(count == 1) {
			fprintf(stderr, "Card %zu is not valid: %s\n", hits[0] + 1, cards[hits[0]].reason);
		} else if(count == 0) {
			fprintf(stderr, "No card is numbered or named so.\n");
		} else {
			fprintf(stderr, "%zu cards match:\n", count);
			list_cards(stderr, cards, n, hits, count);
		}
	}
}

/*
 * The card of the file the user means: the only one, the one which names,
 * or the one picked on the terminal. Returns CLI_EXIT_OK with *idx, or an
 * exit code after printing why.
 */
static int pick_card(const cli_config *cfg, const cli_file_card *cards, size_t n, size_t *idx)
{
	const char *path = cfg->args[0];
	const char *name = strcmp(path, "-") == 0 ? "(standard input)" : path;
	const char *which = cfg->nargs > 1 ? cfg->args[1] : NULL;
	size_t *hits = calloc(n, sizeof(*hits));
	size_t count;
	long asked;
	int rc = CLI_EXIT_FAILED;

	if(!hits) {
		fprintf(stderr, "cardex: out of memory\n");
		return CLI_EXIT_LOCAL;
	}
	if(n == 1 && (!which || match_cards(cards, n, which, hits) == 1)) {
		*idx = 0;
		rc = cards[0].card ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
		if(!cards[0].card) {
			fprintf(stderr, "cardex: card file %s is not a valid %s: %s\n", name,
					cards[0].jcard ? "jCard" : "vCard", cards[0].reason);
		}
		goto done;
	}
	if(which) {
		count = match_cards(cards, n, which, hits);
		if(count == 1 && cards[hits[0]].card) {
			*idx = hits[0];
			rc = CLI_EXIT_OK;
		} else if(count == 1) {
			fprintf(stderr, "cardex: card %zu of %s is not valid: %s\n", hits[0] + 1, name,
					cards[hits[0]].reason);
			rc = CLI_EXIT_LOCAL;
		} else if(count == 0) {
			fprintf(stderr, "cardex: no card of %s is numbered or named so; it holds:\n", name);
			list_cards(stderr, cards, n, NULL, 0);
		} else {
			fprintf(stderr, "cardex: %zu cards of %s match; give the number of one:\n", count, name);
			list_cards(stderr, cards, n, hits, count);
		}
		goto done;
	}
	fprintf(stderr, "%s holds %zu cards:\n", name, n);
	list_cards(stderr, cards, n, NULL, 0);
	if(strcmp(path, "-") != 0 && isatty(STDIN_FILENO) && isatty(STDERR_FILENO)) {
		asked = ask_card(cards, n, hits);
		if(asked >= 0) {
			*idx = (size_t)asked;
			rc = CLI_EXIT_OK;
		} else {
			fprintf(stderr, "cardex: nothing imported\n");
		}
		goto done;
	}
	fprintf(stderr, "cardex: pick one by number or name: cardex card import %s NUMBER-OR-NAME\n", path);
done:
	free(hits);
	return rc;
}

int cli_cmd_card_import(const cli_config *cfg)
{
	char name[CLI_PROFILE_MAX + 1];
	char why[CLI_WHY_MAX];
	cli_file_card *cards = NULL;
	cli_store st;
	size_t n = 0, idx = 0;
	int rc;

	if(cli_read_cards(cfg->args[0], &cards, &n, why) != 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	rc = pick_card(cfg, cards, n, &idx);
	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	rc = open_store(&st);
	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	rc = cli_profile_resolve(cfg, &st, name, why);
	if(rc == 1) {
		snprintf(name, sizeof(name), "%s", FIRST_PROFILE);
	} else if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		rc = CLI_EXIT_LOCAL;
		goto cleanup;
	}
	rc = save_profile(&st, name, cards[idx].card, profile_exists(&st, name) ? "Replaced" : "Imported into");
cleanup:
	cli_file_cards_free(cards, n);
	return rc;
}

int cli_cmd_card_export(const cli_config *cfg)
{
	char name[CLI_PROFILE_MAX + 1];
	cli_store st;
	cx_card *card = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = open_store(&st);
	if(rc == CLI_EXIT_OK) {
		rc = load_profile(cfg, &st, name, &card);
	}
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	rc = CLI_EXIT_LOCAL;
	if(cfg->jcard) {
		text = cx_card_to_jcard_text(card, &len);
	} else if(cx_vcard_write_version(card, cfg->vcard_version ? cfg->vcard_version : 4, &text, &len) != 0) {
		text = NULL;
	}
	if(!text) {
		fprintf(stderr, "cardex: out of memory\n");
		goto cleanup;
	}
	if(fwrite(text, 1, len, stdout) != len || (cfg->jcard && fputc('\n', stdout) == EOF)
			|| fflush(stdout) != 0) {
		fprintf(stderr, "cardex: cannot write to standard output\n");
		goto cleanup;
	}
	rc = CLI_EXIT_OK;
cleanup:
	if(text) {
		cx_wipe(text, len);
		free(text);
	}
	cx_card_free(card);
	return rc;
}

int cli_cmd_card_show(const cli_config *cfg)
{
	char name[CLI_PROFILE_MAX + 1];
	char def[CLI_PROFILE_MAX + 1];
	char why[CLI_WHY_MAX];
	cli_store st;
	cx_card *card = NULL;
	size_t hidden;
	int rc;

	rc = open_store(&st);
	if(rc == CLI_EXIT_OK) {
		rc = load_profile(cfg, &st, name, &card);
	}
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	printf("Profile %s%s\n", name,
			cli_profile_default(&st, def, why) == 0 && strcmp(def, name) == 0 ? " (default)" : "");
	hidden = cli_out_card(card);
	if(hidden > 0) {
		printf("  (%zu more propert%s: 'cardex card export' shows all)\n", hidden,
				hidden == 1 ? "y" : "ies");
	}
	cx_card_free(card);
	return CLI_EXIT_OK;
}

int cli_cmd_card_list(const cli_config *cfg)
{
	char def[CLI_PROFILE_MAX + 1] = "";
	char why[CLI_WHY_MAX];
	char **names = NULL;
	size_t n = 0, i;
	cli_store st;
	int rc;

	(void)cfg;
	rc = open_store(&st);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	if(cli_profile_list(&st, &names, &n, why) != 0 || cli_profile_default(&st, def, why) < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		cli_names_free(names, n);
		return CLI_EXIT_LOCAL;
	}
	if(n == 0) {
		puts("No profiles yet: import a card with 'cardex card import FILE.vcf'.");
	}
	for(i = 0; i < n; i++) {
		cx_card *card = NULL;

		printf("%c %-16s ", strcmp(names[i], def) == 0 ? '*' : ' ', names[i]);
		if(cli_profile_load(&st, names[i], &card, why) == 0) {
			cli_put_clean(stdout, cx_card_fn(card));
			fputc('\n', stdout);
		} else {
			puts("(unreadable: see 'cardex card show --profile NAME')");
		}
		cx_card_free(card);
	}
	cli_names_free(names, n);
	return CLI_EXIT_OK;
}

/* ---- card edit ---- */

/* Set by SIGHUP/SIGTERM while the editor runs: stop it, clean up, then die of it. */
static volatile sig_atomic_t edit_signal;

static void on_edit_signal(int sig)
{
	edit_signal = sig;
}

/* The editor command: $EDITOR, else $VISUAL, else vi. */
static const char *editor(void)
{
	const char *e = getenv("EDITOR");

	if(e && e[0]) {
		return e;
	}
	e = getenv("VISUAL");
	return e && e[0] ? e : "vi";
}

/*
 * Runs the editor on path through /bin/sh as git does, so that EDITOR may
 * carry arguments ("code --wait"); the path goes as "$1", never into the
 * command text. Returns its exit status, or -1 when it could not run or a
 * signal ended it (then edit_signal may say which).
 */
static int run_editor(const char *path)
{
	struct sigaction ign, term, old_int, old_quit, old_hup, old_term;
	const char *ed = editor();
	size_t cmdlen = strlen(ed) + sizeof(" \"$@\"");
	char *cmd = malloc(cmdlen);
	int status = -1;
	pid_t pid, r;

	if(!cmd) {
		return -1;
	}
	snprintf(cmd, cmdlen, "%s \"$@\"", ed);

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	memset(&term, 0, sizeof(term));
	term.sa_handler = on_edit_signal;
	sigemptyset(&term.sa_mask);
	/* Like system(3): Ctrl-C is the editor's business while it runs. */
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGHUP, &term, &old_hup);
	sigaction(SIGTERM, &term, &old_term);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if(pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		sigaction(SIGHUP, &old_hup, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		execl("/bin/sh", "sh", "-c", cmd, ed, path, (char *)NULL);
		_exit(127);
	}
	free(cmd);
	while(pid > 0) {
		r = waitpid(pid, &status, 0);
		if(r == pid) {
			break;
		}
		if(r < 0 && errno != EINTR) {
			status = -1;
			break;
		}
		if(edit_signal) {
			kill(pid, SIGTERM);
		}
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if(pid < 0 || status == -1 || !WIFEXITED(status)) {
		return -1;
	}
	return WEXITSTATUS(status);
}

/* Writes text to a new file path (mode 0600, which must not exist). */
static int write_new(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t off = 0;

	if(fd < 0) {
		return -1;
	}
	while(off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if(w < 0 && errno == EINTR) {
			continue;
		}
		if(w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* Asks on the terminal whether to edit again; false when stdin is no terminal or the answer is no. */
static bool ask_again(void)
{
	char line[16];
	long n;

	if(!isatty(STDIN_FILENO)) {
		return false;
	}
	fputs("Edit again? [Y/n] ", stderr);
	fflush(stderr);
	n = cli_read_line(STDIN_FILENO, line, sizeof(line));
	return n == 0 || (n > 0 && (line[0] == 'y' || line[0] == 'Y'));
}

/* Overwrites the copy before unlinking it (a best effort on a journaling file system). */
static void remove_copy(const char *path, size_t len)
{
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if(fd >= 0) {
		static const char zeros[4096];
		size_t off = 0;
		while(off < len) {
			size_t k = len - off < sizeof(zeros) ? len - off : sizeof(zeros);
			if(write(fd, zeros, k) <= 0) {
				break;
			}
			off += k;
		}
		close(fd);
	}
	unlink(path);
}

/*
 * The edit loop on the copy at path: run the editor, read the copy back,
 * check it; again on an invalid card when the user wants. Returns
 * CLI_EXIT_OK with *out (unchanged cards too), or an exit code after
 * printing why.
 */
static int edit_loop(const char *path, const char *text, size_t len, cx_card **out)
{
	char reason[200];
	char why[CLI_WHY_MAX];
	size_t max_len = len;
	int status;

	*out = NULL;
	if(write_new(path, text, len) != 0) {
		fprintf(stderr, "cardex: cannot write %s: %s\n", path, strerror(errno));
		return CLI_EXIT_LOCAL;
	}
	for(;;) {
		cx_card_err err = {0};
		char *edited = NULL;
		size_t elen = 0;

		status = run_editor(path);
		if(edit_signal) {
			remove_copy(path, max_len);
			return CLI_EXIT_LOCAL;
		}
		if(status != 0) {
			fprintf(stderr, status < 0 ? "cardex: the editor (%s) did not run or was killed; "
					"nothing changed\n" : "cardex: the editor (%s) failed; nothing changed\n", editor());
			remove_copy(path, max_len);
			return CLI_EXIT_LOCAL;
		}
		if(cli_store_read(path, 1024 * 1024, &edited, &elen, why) != 0) {
			fprintf(stderr, "cardex: cannot read the edited card: %s; nothing changed\n", why);
			remove_copy(path, max_len);
			return CLI_EXIT_LOCAL;
		}
		max_len = elen > max_len ? elen : max_len;
		if(cx_vcard_parse(edited, elen, out, CX_VCARD_PHOTO_MAX_DEFAULT, &err) == 0
				&& cx_card_check(*out, CX_VCARD_PHOTO_MAX_DEFAULT, &err) == 0) {
			cx_wipe(edited, elen);
			free(edited);
			remove_copy(path, max_len);
			return CLI_EXIT_OK;
		}
		cx_wipe(edited, elen);
		free(edited);
		cx_card_free(*out);
		*out = NULL;
		cx_card_err_format(&err, reason, sizeof(reason));
		fprintf(stderr, "cardex: the edited card is not valid: %s\n", reason);
		if(!ask_again()) {
			fprintf(stderr, "cardex: nothing changed\n");
			remove_copy(path, max_len);
			return CLI_EXIT_LOCAL;
		}
	}
}

/* A private directory for the copy: $XDG_RUNTIME_DIR, else $TMPDIR, else /tmp. */
static int make_edit_dir(char *dir, size_t cap)
{
	const char *base = getenv("XDG_RUNTIME_DIR");

	if(!base || base[0] != '/') {
		base = getenv("TMPDIR");
	}
	if(!base || base[0] != '/') {
		base = "/tmp";
	}
	if(snprintf(dir, cap, "%s/cardex-edit-XXXXXX", base) >= (int)cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* mkdtemp makes it 0700: no one else can see the copy. */
	return mkdtemp(dir) ? 0 : -1;
}

int cli_cmd_card_edit(const cli_config *cfg)
{
	static const char blank[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:\r\nEND:VCARD\r\n";
	char name[CLI_PROFILE_MAX + 1];
	char dir[CLI_PATH_MAX], path[CLI_PATH_MAX + CLI_PROFILE_MAX + 8];
	char why[CLI_WHY_MAX];
	cli_store st;
	cx_card *card = NULL, *edited = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc, sig;

	rc = open_store(&st);
	if(rc == CLI_EXIT_OK) {
		rc = which_profile(cfg, &st, name);
	}
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	rc = cli_profile_load(&st, name, &card, why);
	if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	if(rc == 1 && !cfg->profile_given) {
		fprintf(stderr, "cardex: no profile named %s (see 'cardex card list')\n", name);
		return CLI_EXIT_FAILED;
	}
	/* A new profile named with --profile starts from a blank card. */
	if(card && cx_vcard_write(card, &text, &len) != 0) {
		fprintf(stderr, "cardex: out of memory\n");
		cx_card_free(card);
		return CLI_EXIT_LOCAL;
	}
	if(make_edit_dir(dir, sizeof(dir)) != 0) {
		fprintf(stderr, "cardex: cannot create a private temporary directory: %s\n", strerror(errno));
		rc = CLI_EXIT_LOCAL;
		goto cleanup;
	}
	snprintf(path, sizeof(path), "%s/%s.vcf", dir, name);
	edit_signal = 0;
	rc = edit_loop(path, text ? text : blank, text ? len : sizeof(blank) - 1, &edited);
	rmdir(dir);
	sig = edit_signal;
	if(sig) {
		/* The copy is gone: now end the way the signal meant. */
		cx_card_free(card);
		cx_card_free(edited);
		signal(sig, SIG_DFL);
		raise(sig);
		return CLI_EXIT_LOCAL;
	}
	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	if(card && cx_card_equal(card, edited)) {
		printf("No changes to profile %s\n", name);
		goto cleanup;
	}
	touch_rev(edited);
	rc = save_profile(&st, name, edited, card ? "Updated" : "Created");
cleanup:
	if(text) {
		cx_wipe(text, len);
		free(text);
	}
	cx_card_free(card);
	cx_card_free(edited);
	return rc;
}

/* ---- card set, rm, default ---- */

/* The value of card set: the argument, or standard input for "-" (one trailing line end dropped). */
static char *set_value(const char *arg, size_t *len)
{
	bool toolarge = false;
	char *v;

	if(strcmp(arg, "-") != 0) {
		*len = strlen(arg);
		return strdup(arg);
	}
	v = cli_read_fd(STDIN_FILENO, VALUE_MAX, len, &toolarge);
	if(v && *len > 0 && v[*len - 1] == '\n') {
		v[--*len] = '\0';
		if(*len > 0 && v[*len - 1] == '\r') {
			v[--*len] = '\0';
		}
	}
	return v;
}

int cli_cmd_card_set(const cli_config *cfg)
{
	char name[CLI_PROFILE_MAX + 1];
	char why[CLI_WHY_MAX];
	const char *prop = cfg->args[0];
	cli_store st;
	cx_card *card = NULL;
	cx_card_code code;
	char *value = NULL;
	size_t vlen = 0;
	bool creating = false;
	int rc;

	rc = open_store(&st);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	rc = cli_profile_resolve(cfg, &st, name, why);
	if(rc == 1) {
		snprintf(name, sizeof(name), "%s", FIRST_PROFILE);
	} else if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	rc = cli_profile_load(&st, name, &card, why);
	if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	if(rc == 1) {
		if(strcasecmp(prop, "fn") != 0) {
			fprintf(stderr, "cardex: no profile named %s: create it with 'cardex card set --profile %s "
					"FN \"Your Name\"' or 'cardex card import'\n", name, name);
			return CLI_EXIT_FAILED;
		}
		creating = true;
		card = cx_card_new();
	}
	value = set_value(cfg->args[1], &vlen);
	if(!card || !value) {
		fprintf(stderr, "cardex: %s\n", !card ? "out of memory"
				: "cannot read the value from standard input");
		rc = CLI_EXIT_LOCAL;
		goto cleanup;
	}
	code = cfg->add ? cx_card_add(card, prop, value) : cx_card_set(card, prop, value);
	if(code == CX_CARD_E_INVALID) {
		/* The value is not quoted: it may be private. */
		rc = cli_usage_error("cannot set %.40s: not a property name, VERSION, or the value holds "
				"control characters or invalid UTF-8", prop);
		goto cleanup;
	}
	if(code != CX_CARD_OK) {
		fprintf(stderr, "cardex: cannot set %.40s: %s\n", prop, cx_card_err_message(code));
		rc = CLI_EXIT_LOCAL;
		goto cleanup;
	}
	if(strcasecmp(prop, "rev") != 0) {
		touch_rev(card);
	}
	rc = save_profile(&st, name, card, creating ? "Created" : "Updated");
cleanup:
	if(value) {
		cx_wipe(value, vlen);
		free(value);
	}
	cx_card_free(card);
	return rc;
}

int cli_cmd_card_rm(const cli_config *cfg)
{
	char why[CLI_WHY_MAX];
	bool was_default = false;
	cli_store st;
	int rc;

	rc = open_store(&st);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	rc = cli_profile_remove(&st, cfg->profile, &was_default, why);
	if(rc == 1) {
		fprintf(stderr, "cardex: no profile named %s\n", cfg->profile);
		return CLI_EXIT_FAILED;
	}
	if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	printf("Removed profile %s\n", cfg->profile);
	if(was_default) {
		printf("It was the default profile: choose another with 'cardex card default NAME'\n");
	}
	return CLI_EXIT_OK;
}

int cli_cmd_card_default(const cli_config *cfg)
{
	char name[CLI_PROFILE_MAX + 1];
	char why[CLI_WHY_MAX];
	cli_store st;
	int rc;

	rc = open_store(&st);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	if(cfg->nargs == 0) {
		rc = cli_profile_default(&st, name, why);
		if(rc == 0) {
			printf("%s\n", name);
			return CLI_EXIT_OK;
		}
		fprintf(stderr, "cardex: %s\n", rc == 1 ? "no default profile" : why);
		return rc == 1 ? CLI_EXIT_FAILED : CLI_EXIT_LOCAL;
	}
	if(!cli_profile_name_valid(cfg->args[0])) {
		return cli_usage_error("invalid profile name (1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.')");
	}
	rc = cli_profile_set_default(&st, cfg->args[0], why);
	if(rc == 1) {
		fprintf(stderr, "cardex: no profile named %s (see 'cardex card list')\n", cfg->args[0]);
		return CLI_EXIT_FAILED;
	}
	if(rc < 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	printf("The default profile is now %s\n", cfg->args[0]);
	return CLI_EXIT_OK;
}
