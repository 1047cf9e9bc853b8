/*
 * Command line of the cardex CLI: one table of commands and one table of
 * options, each option naming the commands that accept it, parsed into one
 * cli_config; the help texts are printed from the same tables. Options on
 * the command line win over the CARDEX_* environment, which wins over the
 * config file. There is deliberately no option for the password: it would
 * show in the process list.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "crypto.h"

#define C(cmd) (1u << (cmd))
#define NET (C(CLI_CMD_OFFER) | C(CLI_CMD_CLAIM))
#define ANY 0xffffffffu
/* Commands that pick a profile with --profile (card import has its own wording). */
#define PROFILE_CMDS (C(CLI_CMD_CARD_EXPORT) | C(CLI_CMD_CARD_SHOW) | C(CLI_CMD_CARD_EDIT) \
		| C(CLI_CMD_CARD_SET))

typedef enum {
	OPT_HOST,
	OPT_PORT,
	OPT_ID,
	OPT_CAFILE,
	OPT_PREFIX,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_PWFILE,
	OPT_CARD,
	OPT_PROFILE,
	OPT_ONLY,
	OPT_NO_SAVE,
	OPT_CONFIRM,
	OPT_ALLOW_PLAIN,
	OPT_DIGITS,
	OPT_TTL,
	OPT_NO_QR,
	OPT_KEY_STDIN,
	OPT_URI,
	OPT_ADD,
	OPT_JCARD,
	OPT_VCARD,
	OPT_PROVENANCE,
	OPT_CONFIG,
	OPT_HELP
} opt_id;

typedef struct {
	const char *name;
	const char *arg;  /* metavariable, NULL for a flag */
	unsigned cmds;
	opt_id id;
	const char *help; /* lines after the first are indented by the printer; NULL: not listed */
} opt_def;

/*
 * The options. A name may appear more than once, for different commands,
 * when its meaning differs; the main help shows the first entry of a name.
 */
static const opt_def options[] = {
	{"--card", "FILE", NET, OPT_CARD,
		"send this card file instead of a profile: vCard\n"
		"2.1, 3.0 or 4.0, or jCard JSON ('-': standard input)"},
	{"--profile", "NAME", NET, OPT_PROFILE,
		"send this profile's card (default: the config\n"
		"file's profile, else the default profile)"},
	{"--profile", "NAME", C(CLI_CMD_CARD_IMPORT), OPT_PROFILE,
		"the profile to create or replace (default: the\n"
		"config file's profile, else the default profile,\n"
		"else \"default\")"},
	{"--profile", "NAME", PROFILE_CMDS, OPT_PROFILE,
		"the profile (default: the config file's profile,\n"
		"else the default profile)"},
	{"--profile", "NAME", C(CLI_CMD_CARD_RM), OPT_PROFILE, "the profile to remove (required)"},
	{"--only", "LIST", NET, OPT_ONLY,
		"send only these properties, comma-separated\n"
		"(fn,org,email,tel); FN and UID are always sent"},
	{"--no-save", NULL, NET, OPT_NO_SAVE, "do not store the received card in the contacts"},
	{"--confirm", NULL, NET, OPT_CONFIRM,
		"ask for the safety code shown on the other screen\n"
		"(or y) before the card is sent and before the\n"
		"received card is saved"},
	{"--allow-plain", NULL, NET, OPT_ALLOW_PLAIN,
		"exchange in plaintext with a peer that does not\n"
		"seal (refused by default)"},
	{"--digits", "N", C(CLI_CMD_OFFER), OPT_DIGITS, "key length, 6 to 16 digits (default 6)"},
	{"--ttl", "S", C(CLI_CMD_OFFER), OPT_TTL,
		"key lifetime, 5 to 600 s (default: the server's,\n"
		"normally 120)"},
	{"--no-qr", NULL, C(CLI_CMD_OFFER), OPT_NO_QR, "do not draw the QR code on a terminal"},
	{"--key-stdin", NULL, C(CLI_CMD_CLAIM), OPT_KEY_STDIN,
		"read the key from the first line of standard input"},
	{"--uri", "URI", C(CLI_CMD_CLAIM), OPT_URI,
		"claim what a QR reader gave: cardex:<id>/<key>\n"
		"('-': read it from the first line of standard input)"},
	{"--host", "HOST", NET, OPT_HOST,
		"broker host (default $CARDEX_HOST, config host,\n"
		"localhost)"},
	{"--port", "PORT", NET, OPT_PORT,
		"broker port (default $CARDEX_PORT, config port,\n"
		"1883, or 8883 with TLS)"},
	{"--id", "ID", NET, OPT_ID, "our terminal ID (default $CARDEX_ID, config id)"},
	{"--password-file", "FILE", NET, OPT_PWFILE,
		"read the password from the first line of FILE,\n"
		"which only its owner may read (default\n"
		"$CARDEX_PASSWORD, config password-file)"},
	{"--cafile", "FILE", NET, OPT_CAFILE,
		"use TLS, trusting this CA certificate (default:\n"
		"config cafile)"},
	{"--topic-prefix", "P", NET, OPT_PREFIX,
		"topic prefix of the server (its\n"
		"plugin_opt_topic_prefix; default: config)"},
	{"--timeout", "S", NET, OPT_TIMEOUT, "give up after S seconds in all (default 300)"},
	{"--json", NULL, NET, OPT_JSON,
		"print one JSON object per line (events offer,\n"
		"match, safety, attempt, sent, card, revoked,\n"
		"expired, error)"},
	{"--json", NULL, C(CLI_CMD_CONTACTS_LIST) | C(CLI_CMD_CONTACTS_SENT), OPT_JSON,
		"print one JSON object per line"},
	{"--add", NULL, C(CLI_CMD_CARD_SET), OPT_ADD,
		"add another property (a second EMAIL) instead of\n"
		"replacing the first"},
	{"--jcard", NULL, C(CLI_CMD_CARD_EXPORT), OPT_JCARD, "print jCard JSON (RFC 7095) instead of vCard 4.0"},
	{"--vcard", "VERSION", C(CLI_CMD_CARD_EXPORT) | C(CLI_CMD_CONTACTS_EXPORT), OPT_VCARD,
		"vCard version to write: 4.0 (the default) or 3.0,\n"
		"which phones' address books read best"},
	{"--with-provenance", NULL, C(CLI_CMD_CONTACTS_EXPORT), OPT_PROVENANCE,
		"keep X-CARDEX-PEER, X-CARDEX-EXCHANGE,\n"
		"X-CARDEX-RECEIVED and X-CARDEX-VERIFIED (left out\n"
		"by default)"},
	{"--config", "FILE", ANY, OPT_CONFIG,
		"read this config file instead of\n"
		"$XDG_CONFIG_HOME/cardex/config"},
	{"--help", NULL, ANY, OPT_HELP, "show this help (also -h)"},
	{"-h", NULL, ANY, OPT_HELP, NULL},
};

typedef struct {
	const char *group; /* "card", "contacts", or NULL for a command of its own */
	const char *name;
	cli_cmd cmd;
	cli_run_fn run;
	unsigned min_args, max_args;
	const char *synopsis;
	const char *summary;
	const char *description;
} cmd_def;

/* The commands: where they sit, what runs them, their help. */
static const cmd_def commands[] = {
	{NULL, "offer", CLI_CMD_OFFER, cli_cmd_offer, 0, 0,
		"cardex offer [--profile NAME | --card FILE] [--only LIST] [OPTIONS]",
		"show a new instant key; exchange cards with who enters it",
		"Connects, shows this terminal's ID and a new instant key (on a terminal also in\n"
		"big digits, as a QR code of cardex:<terminal-id>/<key>, and with a countdown),\n"
		"waits until a peer claims it with that key, sends our card, prints the peer's\n"
		"card and stores it in the contacts."},
	{NULL, "claim", CLI_CMD_CLAIM, cli_cmd_claim, 0, 2,
		"cardex claim PEER-ID [KEY] [--profile NAME | --card FILE] [OPTIONS]\n"
		"  cardex claim --uri URI [OPTIONS]",
		"enter a peer's ID and instant key; exchange cards",
		"Claims the offer of terminal PEER-ID with its instant key, sends our card,\n"
		"prints the peer's card and stores it in the contacts. Without KEY the key is\n"
		"read from the first line of standard input (when it is not a terminal, or\n"
		"with --key-stdin), else asked for on the terminal without echo. Spaces in the\n"
		"key are ignored (\"483 920\"). A key or URI on the command line is visible to\n"
		"other local users; prefer the prompt, standard input or --uri -."},
	{"card", "import", CLI_CMD_CARD_IMPORT, cli_cmd_card_import, 1, 2,
		"cardex card import [--profile NAME] FILE [NUMBER-OR-NAME]",
		"store a card file (vCard or jCard) as a profile",
		"Reads FILE ('-': standard input), a vCard 2.1, 3.0 or 4.0 (as phones and\n"
		"address books export it) or a jCard, checks it, and stores it as a vCard 4.0\n"
		"profile. When FILE holds several cards, NUMBER-OR-NAME picks one: its number\n"
		"in the file (1 is the first), or its name or part of it (any case); without\n"
		"it, the cards are listed and, on a terminal, you are asked which. The first\n"
		"profile becomes the default."},
	{"card", "export", CLI_CMD_CARD_EXPORT, cli_cmd_card_export, 0, 0,
		"cardex card export [--profile NAME] [--jcard | --vcard VERSION]",
		"print a profile as vCard 4.0 (or 3.0, or jCard)",
		"Prints the profile's card as vCard 4.0 text (CRLF line ends), as vCard 3.0\n"
		"with --vcard 3.0, or as jCard."},
	{"card", "show", CLI_CMD_CARD_SHOW, cli_cmd_card_show, 0, 0,
		"cardex card show [--profile NAME]",
		"show a profile readably",
		"Shows the profile's name, title, organization, e-mail, phone, web, address,\n"
		"birthday, note and photo."},
	{"card", "list", CLI_CMD_CARD_LIST, cli_cmd_card_list, 0, 0,
		"cardex card list",
		"list the profiles, the default marked with '*'",
		"Lists the profiles with the name on each card; '*' marks the default."},
	{"card", "edit", CLI_CMD_CARD_EDIT, cli_cmd_card_edit, 0, 0,
		"cardex card edit [--profile NAME]",
		"edit a profile in $EDITOR",
		"Opens a copy of the profile as vCard 4.0 in $EDITOR (else $VISUAL, else vi),\n"
		"in a private temporary directory. When the editor exits, the card is checked:\n"
		"an invalid card is reported with its line, and on a terminal you may edit it\n"
		"again; otherwise nothing changes. The copy is removed in every case."},
	{"card", "set", CLI_CMD_CARD_SET, cli_cmd_card_set, 2, 2,
		"cardex card set [--profile NAME] [--add] PROPERTY VALUE",
		"set one property of a profile",
		"Replaces the first PROPERTY of the profile (or adds it) with VALUE, literal\n"
		"text: ';' separates the components of N, ADR, ORG and GENDER, ',' the values\n"
		"of NICKNAME and CATEGORIES. VALUE '-' reads it from standard input. Setting FN\n"
		"on a profile that does not exist creates it. A value on the command line is\n"
		"visible to other local users; use '-' for anything private."},
	{"card", "rm", CLI_CMD_CARD_RM, cli_cmd_card_rm, 0, 0,
		"cardex card rm --profile NAME",
		"remove a profile",
		"Removes the profile. When it was the default, no profile is the default until\n"
		"'cardex card default NAME' names one."},
	{"card", "default", CLI_CMD_CARD_DEFAULT, cli_cmd_card_default, 0, 1,
		"cardex card default [NAME]",
		"show or set the default profile",
		"Makes NAME the default profile, or prints the default's name."},
	{"contacts", "list", CLI_CMD_CONTACTS_LIST, cli_cmd_contacts_list, 0, 0,
		"cardex contacts list [--json]",
		"list the cards we received",
		"Lists the stored contacts: ID, name, the terminal they came from and when."},
	{"contacts", "show", CLI_CMD_CONTACTS_SHOW, cli_cmd_contacts_show, 1, 1,
		"cardex contacts show NAME-OR-ID",
		"show a contact and where it came from",
		"Shows one contact: NAME-OR-ID is its ID, at least 4 leading digits of it, its\n"
		"name, or part of its name (any case), as long as only one contact matches."},
	{"contacts", "export", CLI_CMD_CONTACTS_EXPORT, cli_cmd_contacts_export, 0, CLI_ARGS_MAX,
		"cardex contacts export [--with-provenance] [--vcard VERSION] [NAME-OR-ID...]",
		"print contacts as one vCard 4.0 (or 3.0) stream",
		"Prints the contacts named (all when none is) as one .vcf stream that address\n"
		"book programs import: vCard 4.0, or 3.0 with --vcard 3.0."},
	{"contacts", "rm", CLI_CMD_CONTACTS_RM, cli_cmd_contacts_rm, 1, 1,
		"cardex contacts rm NAME-OR-ID",
		"remove a contact",
		"Removes one contact (named as for 'contacts show')."},
	{"contacts", "sent", CLI_CMD_CONTACTS_SENT, cli_cmd_contacts_sent, 0, 0,
		"cardex contacts sent [--json]",
		"list what we sent to whom",
		"Lists every card we sent: when, to which terminal, from which profile, and\n"
		"which properties (their names, not their values)."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static const char env_text[] =
	"Environment:\n"
	"  CARDEX_HOST, CARDEX_PORT, CARDEX_ID, CARDEX_PASSWORD (offer, claim)\n"
	"  XDG_DATA_HOME    data directory: $XDG_DATA_HOME/cardex (~/.local/share/cardex)\n"
	"  XDG_CONFIG_HOME  config file: $XDG_CONFIG_HOME/cardex/config (~/.config/...)\n"
	"  EDITOR, VISUAL   card edit; NO_COLOR  no colours\n";

static const char files_text[] =
	"Files (in the data directory, mode 0700, files 0600):\n"
	"  profiles/NAME.vcf   our card profiles (vCard 4.0)\n"
	"  default-profile     the default profile's name\n"
	"  contacts/ID.vcf     received cards (vCard 4.0, with X-CARDEX-PEER,\n"
	"                      X-CARDEX-EXCHANGE, X-CARDEX-RECEIVED and\n"
	"                      X-CARDEX-VERIFIED)\n"
	"  sent.log            what we sent to whom (JSON lines, field names only)\n"
	"Config file: \"key = value\" lines for host, port, id, password-file, cafile,\n"
	"topic-prefix and profile; '#' starts a comment line.\n";

static const char exit_text[] =
	"Exit status:\n"
	"  0  success (offer, claim: the exchange completed, both cards passed)\n"
	"  1  the exchange failed: refused (for example no-match), revoked or expired;\n"
	"     card, contacts: no such profile or contact, or an ambiguous name;\n"
	"     card import: no card of a file of several chosen\n"
	"  2  usage error: command line, environment or config file\n"
	"  3  connection or authentication failure\n"
	"  4  timeout (--timeout)\n"
	"  5  local error: card file, profile, contacts store, password file, key input\n";

/* Prints one option line: name and metavariable in a column, then its help. */
static void put_option(FILE *f, const opt_def *o)
{
	char head[40];
	const char *h;

	if(!o->help) {
		return;
	}
	snprintf(head, sizeof(head), "%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	fprintf(f, "  %-22s ", head);
	for(h = o->help; *h; h++) {
		fputc(*h, f);
		if(*h == '\n') {
			fputs("                         ", f);
		}
	}
	fputc('\n', f);
}

void cli_usage(FILE *f)
{
	size_t i, j;

	fputs("Usage:\n", f);
	for(i = 0; i < NCOMMANDS; i++) {
		fprintf(f, "  %s\n", commands[i].synopsis);
	}
	fputs("  cardex [COMMAND] --help | --version\n"
	      "\n"
	      "Exchange business cards with another terminal by instant key, through a\n"
	      "Mosquitto broker running the cardex plugin; keep our cards as profiles and the\n"
	      "cards we receive as contacts.\n"
	      "\n"
	      "Commands:\n", f);
	for(i = 0; i < NCOMMANDS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%s%s%s", commands[i].group ? commands[i].group : "",
				commands[i].group ? " " : "", commands[i].name);
		fprintf(f, "  %-16s %s\n", name, commands[i].summary);
	}
	fputs("\nOptions (each command's --help lists those it takes):\n", f);
	for(i = 0; i < NOPTIONS; i++) {
		bool seen = false;
		for(j = 0; j < i && !seen; j++) {
			seen = strcmp(options[j].name, options[i].name) == 0;
		}
		if(!seen) {
			put_option(f, &options[i]);
		}
	}
	fputc('\n', f);
	fputs(env_text, f);
	fputc('\n', f);
	fputs(files_text, f);
	fputc('\n', f);
	fputs(exit_text, f);
}

/* The help of one command: synopsis, description, its options. */
static void command_usage(FILE *f, const cmd_def *c)
{
	size_t i;

	fprintf(f, "Usage: %s\n\n%s\n\nOptions:\n", c->synopsis, c->description);
	for(i = 0; i < NOPTIONS; i++) {
		if(options[i].cmds & C(c->cmd)) {
			put_option(f, &options[i]);
		}
	}
	fputc('\n', f);
	if(C(c->cmd) & NET) {
		fputs(env_text, f);
		fputc('\n', f);
	}
	fputs(exit_text, f);
}

/* The help of a group ("cardex card --help"): its subcommands. */
static void group_usage(FILE *f, const char *group)
{
	size_t i;

	fprintf(f, "Usage: cardex %s COMMAND [OPTIONS] [ARGS]\n\nCommands:\n", group);
	for(i = 0; i < NCOMMANDS; i++) {
		if(commands[i].group && strcmp(commands[i].group, group) == 0) {
			fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
		}
	}
	fprintf(f, "\nSee 'cardex %s COMMAND --help' for the options of each.\n\n", group);
	fputs(files_text, f);
}

int cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("cardex: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'cardex --help' for more information.\n", stderr);
	return CLI_EXIT_USAGE;
}

/* Parses a whole decimal number in [min, max]; false otherwise. */
static bool parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end = NULL;
	unsigned long v;

	if(!s || s[0] < '0' || s[0] > '9') {
		return false;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if(errno || *end || v < min || v > max) {
		return false;
	}
	*out = v;
	return true;
}

/* The entry of option name[0..len) that command cmd takes, or NULL. */
static const opt_def *find_option(const char *name, size_t len, cli_cmd cmd)
{
	size_t i;

	for(i = 0; i < NOPTIONS; i++) {
		if(strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0
				&& (options[i].cmds & C(cmd))) {
			return &options[i];
		}
	}
	return NULL;
}

/* Stores one option's value; returns CLI_EXIT_OK, -1 after --help, or a usage error. */
static int apply(cli_config *cfg, const cmd_def *c, const opt_def *o, const char *val)
{
	unsigned long v;

	switch(o->id) {
	case OPT_HOST:
		cfg->host = val;
		break;
	case OPT_PORT:
		if(!parse_uint(val, 1, 65535, &v)) {
			return cli_usage_error("--port must be a number from 1 to 65535");
		}
		cfg->port = (int)v;
		break;
	case OPT_ID:
		cfg->id = val;
		break;
	case OPT_CAFILE:
		cfg->cafile = val;
		break;
	case OPT_PREFIX:
		cfg->topic_prefix = val;
		break;
	case OPT_TIMEOUT:
		if(!parse_uint(val, 1, 86400, &v)) {
			return cli_usage_error("--timeout must be a number of seconds from 1 to 86400");
		}
		cfg->timeout_s = (unsigned)v;
		break;
	case OPT_JSON:
		cfg->json = true;
		break;
	case OPT_PWFILE:
		cfg->password_file = val;
		break;
	case OPT_CARD:
		cfg->card_file = val;
		break;
	case OPT_PROFILE:
		if(!cli_profile_name_valid(val)) {
			return cli_usage_error("--profile needs a profile name (1 to 64 of A-Z a-z 0-9 . _ -, "
					"not starting with '.')");
		}
		cfg->profile = val;
		cfg->profile_given = true;
		break;
	case OPT_ONLY:
		if(!cli_only_valid(val)) {
			return cli_usage_error("--only needs property names separated by commas, such as fn,org,email");
		}
		cfg->only = val;
		break;
	case OPT_NO_SAVE:
		cfg->no_save = true;
		break;
	case OPT_CONFIRM:
		cfg->confirm = true;
		break;
	case OPT_ALLOW_PLAIN:
		cfg->allow_plain = true;
		break;
	case OPT_DIGITS:
		if(!parse_uint(val, CX_KEY_DIGITS_MIN, CX_KEY_DIGITS_MAX, &v)) {
			return cli_usage_error("--digits must be a number from %d to %d",
					CX_KEY_DIGITS_MIN, CX_KEY_DIGITS_MAX);
		}
		cfg->digits = (unsigned)v;
		break;
	case OPT_TTL:
		if(!parse_uint(val, CX_TTL_MIN, CX_TTL_MAX, &v)) {
			return cli_usage_error("--ttl must be a number of seconds from %d to %d",
					CX_TTL_MIN, CX_TTL_MAX);
		}
		cfg->ttl = (unsigned)v;
		break;
	case OPT_NO_QR:
		cfg->no_qr = true;
		break;
	case OPT_KEY_STDIN:
		cfg->key_stdin = true;
		break;
	case OPT_URI:
		cfg->uri = val;
		break;
	case OPT_ADD:
		cfg->add = true;
		break;
	case OPT_JCARD:
		if(cfg->vcard_version) {
			return cli_usage_error("--jcard and --vcard exclude each other");
		}
		cfg->jcard = true;
		break;
	case OPT_VCARD:
		if(cfg->jcard) {
			return cli_usage_error("--jcard and --vcard exclude each other");
		}
		if(strcmp(val, "4.0") == 0 || strcmp(val, "4") == 0) {
			cfg->vcard_version = 4;
		} else if(strcmp(val, "3.0") == 0 || strcmp(val, "3") == 0) {
			cfg->vcard_version = 3;
		} else {
			return cli_usage_error("--vcard must be 4.0 or 3.0");
		}
		break;
	case OPT_PROVENANCE:
		cfg->provenance = true;
		break;
	case OPT_CONFIG:
		cfg->config_file = val;
		break;
	case OPT_HELP:
		command_usage(stdout, c);
		return -1;
	}
	return CLI_EXIT_OK;
}

/* Parses the options and arguments from argv[first] on. */
static int parse_rest(int argc, char **argv, int first, const cmd_def *c, cli_config *cfg)
{
	bool only_args = false;
	int i;

	for(i = first; i < argc; i++) {
		const char *a = argv[i];
		const char *eq;
		const char *val = NULL;
		const opt_def *o;
		int rc;

		if(only_args || a[0] != '-' || a[1] == '\0') {
			if(cfg->nargs >= c->max_args) {
				/* Never echoed: it may be a key typed in the wrong place. */
				return cli_usage_error("too many arguments");
			}
			cfg->args[cfg->nargs++] = a;
			continue;
		}
		if(strcmp(a, "--") == 0) {
			only_args = true;
			continue;
		}
		eq = strchr(a, '=');
		o = find_option(a, eq ? (size_t)(eq - a) : strlen(a), c->cmd);
		if(!o) {
			/* Print the name only: the rest could be a secret. */
			return cli_usage_error("unknown option %.*s", (int)(eq ? eq - a : (long)strlen(a)), a);
		}
		if(o->arg) {
			val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
			if(!val) {
				return cli_usage_error("%s needs a value", o->name);
			}
		} else if(eq) {
			return cli_usage_error("%s takes no value", o->name);
		}
		rc = apply(cfg, c, o, val);
		if(rc != CLI_EXIT_OK) {
			return rc;
		}
	}
	if(cfg->nargs < c->min_args) {
		return cli_usage_error("missing argument: %s", c->synopsis);
	}
	return CLI_EXIT_OK;
}

/* Reads "--uri -" from the first line of standard input into cfg. */
static int read_uri(cli_config *cfg)
{
	char line[CLI_URI_MAX + 2];
	char why[CLI_WHY_MAX];
	long n = cli_read_line(STDIN_FILENO, line, sizeof(line));
	int rc = CLI_EXIT_OK;

	if(n == -1) {
		fprintf(stderr, "cardex: --uri -: nothing on standard input\n");
		rc = CLI_EXIT_LOCAL;
	} else if(n == -2 || cli_uri_parse(line, cfg->uri_peer, cfg->uri_key, why) != 0) {
		rc = cli_usage_error("--uri: %s", n == -2 ? "the URI is too long" : why);
	}
	cx_wipe(line, sizeof(line));
	return rc;
}

/* Claim: the peer and key from the arguments or from --uri. */
static int finish_claim(cli_config *cfg)
{
	char why[CLI_WHY_MAX];
	int rc;

	if(!cfg->uri) {
		if(cfg->nargs == 0) {
			return cli_usage_error("claim needs the PEER-ID of the offering terminal, or --uri");
		}
		cfg->peer = cfg->args[0];
		cfg->key_arg = cfg->nargs > 1 ? cfg->args[1] : NULL;
		if(cfg->key_arg && cfg->key_stdin) {
			return cli_usage_error("give the key either as KEY or with --key-stdin, not both");
		}
		return CLI_EXIT_OK;
	}
	if(cfg->nargs > 0 || cfg->key_stdin) {
		return cli_usage_error("--uri gives the peer and the key: no PEER-ID, KEY or --key-stdin with it");
	}
	if(strcmp(cfg->uri, "-") == 0) {
		rc = read_uri(cfg);
		if(rc != CLI_EXIT_OK) {
			return rc;
		}
	} else if(cli_uri_parse(cfg->uri, cfg->uri_peer, cfg->uri_key, why) != 0) {
		return cli_usage_error("--uri: %s", why);
	} else {
		/*
		 * The key is copied: take it out of argv, which other local users
		 * can read in /proc for as long as the process lives.
		 */
		char *slash = strrchr((char *)cfg->uri, '/');
		cx_wipe(slash + 1, strlen(slash + 1));
	}
	cfg->peer = cfg->uri_peer;
	cfg->key_arg = cfg->uri_key;
	return CLI_EXIT_OK;
}

/* offer and claim: connection settings from options, environment, config file. */
static int finish_net(cli_config *cfg)
{
	const cli_file_config *fc = &cfg->file;
	const char *env;
	unsigned long v;
	int rc;

	if(!cfg->host) {
		env = getenv("CARDEX_HOST");
		cfg->host = env && env[0] ? env : fc->host ? fc->host : "localhost";
	}
	if(!cfg->port && (env = getenv("CARDEX_PORT")) && env[0]) {
		if(!parse_uint(env, 1, 65535, &v)) {
			return cli_usage_error("CARDEX_PORT must be a number from 1 to 65535");
		}
		cfg->port = (int)v;
	}
	if(!cfg->port) {
		cfg->port = fc->port;
	}
	if(!cfg->id) {
		env = getenv("CARDEX_ID");
		cfg->id = env && env[0] ? env : fc->id;
	}
	if(!cfg->cafile) {
		cfg->cafile = fc->cafile;
	}
	if(!cfg->topic_prefix) {
		cfg->topic_prefix = fc->topic_prefix;
	}
	/* CARDEX_PASSWORD, read later, wins over the config file's password file. */
	env = getenv("CARDEX_PASSWORD");
	if(!cfg->password_file && !env) {
		cfg->password_file = fc->password_file;
	}
	if(!cfg->id) {
		return cli_usage_error("no terminal ID: use --id, set CARDEX_ID, or put id in the config file");
	}
	if(!cx_id_valid(cfg->id, strlen(cfg->id))) {
		return cli_usage_error("invalid terminal ID (1 to 64 of A-Z a-z 0-9 . _ -)");
	}
	if(cfg->card_file && cfg->profile_given) {
		return cli_usage_error("give either --card or --profile, not both");
	}
	if(cfg->cmd == CLI_CMD_CLAIM) {
		rc = finish_claim(cfg);
		if(rc != CLI_EXIT_OK) {
			return rc;
		}
		if(!cx_id_valid(cfg->peer, strlen(cfg->peer))) {
			return cli_usage_error("invalid PEER-ID (1 to 64 of A-Z a-z 0-9 . _ -)");
		}
	}
	return CLI_EXIT_OK;
}

/* Loads the config file and fills what the command line left open; checks the whole. */
static int finish(cli_config *cfg)
{
	char path[CLI_PATH_MAX];
	char why[CLI_WHY_MAX];

	if(cfg->config_file) {
		snprintf(path, sizeof(path), "%s", cfg->config_file);
	} else if(cli_conf_default_path(path, sizeof(path), why) != 0) {
		path[0] = '\0';
	}
	if(path[0] && cli_conf_load(path, cfg->config_file != NULL, &cfg->file, why) != 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_USAGE;
	}
	if(!cfg->profile) {
		cfg->profile = cfg->file.profile;
	}
	if(cfg->cmd == CLI_CMD_CARD_RM && !cfg->profile_given) {
		return cli_usage_error("card rm needs --profile NAME");
	}
	if(C(cfg->cmd) & NET) {
		return finish_net(cfg);
	}
	return CLI_EXIT_OK;
}

/* True for the words that ask for help: --help, -h, help. */
static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0;
}

/* True when some command sits in group name. */
static bool is_group(const char *name)
{
	size_t i;

	for(i = 0; i < NCOMMANDS; i++) {
		if(commands[i].group && strcmp(commands[i].group, name) == 0) {
			return true;
		}
	}
	return false;
}

/* The command group/name (group NULL: a command of its own), or NULL. */
static const cmd_def *find_command(const char *group, const char *name)
{
	size_t i;

	for(i = 0; i < NCOMMANDS; i++) {
		const cmd_def *c = &commands[i];
		if(((!group && !c->group) || (group && c->group && strcmp(group, c->group) == 0))
				&& strcmp(name, c->name) == 0) {
			return c;
		}
	}
	return NULL;
}

int cli_parse(int argc, char **argv, cli_config *cfg)
{
	const cmd_def *c;
	int first = 2;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_s = CLI_DEFAULT_TIMEOUT;
	cfg->digits = CLI_DEFAULT_DIGITS;
	if(argc < 2) {
		return cli_usage_error("missing command (offer, claim, card or contacts)");
	}
	if(is_help(argv[1])) {
		cli_usage(stdout);
		return -1;
	}
	if(is_group(argv[1])) {
		if(argc < 3) {
			return cli_usage_error("'%s' needs a command; see 'cardex %s --help'", argv[1], argv[1]);
		}
		if(is_help(argv[2])) {
			group_usage(stdout, argv[1]);
			return -1;
		}
		c = find_command(argv[1], argv[2]);
		first = 3;
	} else {
		c = find_command(NULL, argv[1]);
	}
	if(!c) {
		/* Not echoed: a mistyped command line may start with a key. */
		return cli_usage_error("unknown command (expected offer, claim, card or contacts)");
	}
	cfg->cmd = c->cmd;
	cfg->run = c->run;
	rc = parse_rest(argc, argv, first, c, cfg);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	return finish(cfg);
}

void cli_config_free(cli_config *cfg)
{
	cli_conf_free(&cfg->file);
	cx_wipe(cfg->uri_key, sizeof(cfg->uri_key));
}
