/*
 * Command line of the cardex CLI: one table of options, each naming the
 * commands that accept it, parsed into one cli_config. Options given on the
 * command line win over the CARDEX_* environment. There is deliberately no
 * option for the password: it would show in the process list.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ids.h"
#include "proto.h"

#define FOR_OFFER (1u << CLI_CMD_OFFER)
#define FOR_CLAIM (1u << CLI_CMD_CLAIM)
#define FOR_ALL (FOR_OFFER | FOR_CLAIM)

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
	OPT_DIGITS,
	OPT_TTL,
	OPT_KEY_STDIN,
	OPT_HELP
} opt_id;

typedef struct {
	const char *name;
	bool has_arg;
	unsigned cmds;
	opt_id id;
} opt_def;

static const opt_def options[] = {
	{"--host", true, FOR_ALL, OPT_HOST},
	{"--port", true, FOR_ALL, OPT_PORT},
	{"--id", true, FOR_ALL, OPT_ID},
	{"--cafile", true, FOR_ALL, OPT_CAFILE},
	{"--topic-prefix", true, FOR_ALL, OPT_PREFIX},
	{"--timeout", true, FOR_ALL, OPT_TIMEOUT},
	{"--json", false, FOR_ALL, OPT_JSON},
	{"--password-file", true, FOR_ALL, OPT_PWFILE},
	{"--card", true, FOR_ALL, OPT_CARD},
	{"--digits", true, FOR_OFFER, OPT_DIGITS},
	{"--ttl", true, FOR_OFFER, OPT_TTL},
	{"--key-stdin", false, FOR_CLAIM, OPT_KEY_STDIN},
	{"--help", false, FOR_ALL, OPT_HELP},
	{"-h", false, FOR_ALL, OPT_HELP},
};

typedef struct {
	const char *name;
	cli_cmd cmd;
	cli_run_fn run;
} cmd_def;

/* The commands: a name, the options it takes (see options[]), what runs it. */
static const cmd_def commands[] = {
	{"offer", CLI_CMD_OFFER, cli_cmd_offer},
	{"claim", CLI_CMD_CLAIM, cli_cmd_claim},
};

void cli_usage(FILE *f)
{
	fputs("Usage:\n"
	      "  cardex offer --card FILE [--digits N] [--ttl S] [OPTIONS]\n"
	      "  cardex claim PEER-ID [KEY] --card FILE [--key-stdin] [OPTIONS]\n"
	      "  cardex --help | --version\n"
	      "\n"
	      "Exchange business cards (jCard files) with another terminal by instant key,\n"
	      "through a Mosquitto broker running the cardex plugin.\n"
	      "\n"
	      "  offer   show this terminal's ID and a new instant key, wait until the peer\n"
	      "          enters them, send our card, print the peer's card\n"
	      "  claim   enter the peer's terminal ID and instant key, send our card, print\n"
	      "          the peer's card. Without KEY, the key is read from the first line\n"
	      "          of standard input, or asked for on the terminal (not echoed)\n"
	      "\n"
	      "Options:\n"
	      "  --card FILE           our card, jCard JSON (required)\n"
	      "  --digits N            offer: key length, 6 to 16 digits (default 6)\n"
	      "  --ttl S               offer: key lifetime, 5 to 600 s (default: the server's, 120)\n"
	      "  --key-stdin           claim: read the key from the first line of standard input\n"
	      "  --host HOST           broker host (default $CARDEX_HOST or localhost)\n"
	      "  --port PORT           broker port (default $CARDEX_PORT, 1883, or 8883 with TLS)\n"
	      "  --id ID               our terminal ID (default $CARDEX_ID)\n"
	      "  --password-file FILE  read the password from the first line of FILE\n"
	      "                        (default $CARDEX_PASSWORD)\n"
	      "  --cafile FILE         use TLS, trusting this CA certificate\n"
	      "  --topic-prefix P      topic prefix of the server (plugin_opt_topic_prefix)\n"
	      "  --timeout S           give up after S seconds in all (default 300)\n"
	      "  --json                print one JSON object per line (events offer, match,\n"
	      "                        attempt, sent, card, revoked, expired, error)\n"
	      "  -h, --help            show this help\n"
	      "\n"
	      "Environment: CARDEX_HOST, CARDEX_PORT, CARDEX_ID, CARDEX_PASSWORD.\n"
	      "\n"
	      "Exit status:\n"
	      "  0  the exchange completed: both cards passed\n"
	      "  1  the exchange failed: refused (for example no-match), revoked or expired\n"
	      "  2  usage error\n"
	      "  3  connection or authentication failure\n"
	      "  4  timeout (--timeout)\n"
	      "  5  local error: card file, password file or key input\n",
	      f);
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

static const opt_def *find_option(const char *name, size_t len)
{
	size_t i;

	for(i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if(strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0) {
			return &options[i];
		}
	}
	return NULL;
}

/* Stores one option's value; returns CLI_EXIT_OK or a usage error. */
static int apply(cli_config *cfg, const opt_def *o, const char *val)
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
	case OPT_KEY_STDIN:
		cfg->key_stdin = true;
		break;
	case OPT_HELP:
		cli_usage(stdout);
		return -1;
	}
	return CLI_EXIT_OK;
}

static int positional(cli_config *cfg, const char *arg, unsigned *npos)
{
	if(cfg->cmd == CLI_CMD_CLAIM && *npos == 0) {
		cfg->peer = arg;
	} else if(cfg->cmd == CLI_CMD_CLAIM && *npos == 1) {
		/* Never echo it: it may be a key typed in the wrong place. */
		cfg->key_arg = arg;
	} else {
		return cli_usage_error("too many arguments");
	}
	(*npos)++;
	return CLI_EXIT_OK;
}

/* Parses the options and arguments after the command word. */
static int parse_rest(int argc, char **argv, cli_config *cfg)
{
	unsigned npos = 0;
	bool only_args = false;
	int i;

	for(i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *eq;
		const char *val = NULL;
		const opt_def *o;
		int rc;

		if(only_args || a[0] != '-' || a[1] == '\0') {
			rc = positional(cfg, a, &npos);
		} else if(strcmp(a, "--") == 0) {
			only_args = true;
			continue;
		} else {
			eq = strchr(a, '=');
			o = find_option(a, eq ? (size_t)(eq - a) : strlen(a));
			if(!o || !(o->cmds & (1u << cfg->cmd))) {
				/* Print the name only: the rest could be a secret. */
				return cli_usage_error("unknown option %.*s", (int)(eq ? eq - a : (long)strlen(a)), a);
			}
			if(o->has_arg) {
				val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if(!val) {
					return cli_usage_error("%s needs a value", o->name);
				}
			} else if(eq) {
				return cli_usage_error("%s takes no value", o->name);
			}
			rc = apply(cfg, o, val);
		}
		if(rc != CLI_EXIT_OK) {
			return rc;
		}
	}
	if(cfg->cmd == CLI_CMD_CLAIM && !cfg->peer) {
		return cli_usage_error("claim needs the PEER-ID of the offering terminal");
	}
	return CLI_EXIT_OK;
}

/* Fills what the command line left open from the environment, then checks the whole. */
static int finish(cli_config *cfg)
{
	const char *env;
	unsigned long v;

	if(!cfg->host) {
		env = getenv("CARDEX_HOST");
		cfg->host = env && env[0] ? env : "localhost";
	}
	if(!cfg->port && (env = getenv("CARDEX_PORT")) && env[0]) {
		if(!parse_uint(env, 1, 65535, &v)) {
			return cli_usage_error("CARDEX_PORT must be a number from 1 to 65535");
		}
		cfg->port = (int)v;
	}
	if(!cfg->id) {
		env = getenv("CARDEX_ID");
		cfg->id = env && env[0] ? env : NULL;
	}
	if(!cfg->id) {
		return cli_usage_error("no terminal ID: use --id or set CARDEX_ID");
	}
	if(!cx_id_valid(cfg->id, strlen(cfg->id))) {
		return cli_usage_error("invalid terminal ID (1 to 64 of A-Z a-z 0-9 . _ -)");
	}
	if(cfg->peer && !cx_id_valid(cfg->peer, strlen(cfg->peer))) {
		return cli_usage_error("invalid PEER-ID (1 to 64 of A-Z a-z 0-9 . _ -)");
	}
	if(!cfg->card_file) {
		return cli_usage_error("--card FILE is required");
	}
	if(cfg->key_arg && cfg->key_stdin) {
		return cli_usage_error("give the key either as KEY or with --key-stdin, not both");
	}
	return CLI_EXIT_OK;
}

int cli_parse(int argc, char **argv, cli_config *cfg)
{
	size_t i;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->timeout_s = CLI_DEFAULT_TIMEOUT;
	cfg->digits = CLI_DEFAULT_DIGITS;
	if(argc < 2) {
		return cli_usage_error("missing command (offer or claim)");
	}
	if(strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		cli_usage(stdout);
		return -1;
	}
	for(i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if(strcmp(argv[1], commands[i].name) == 0) {
			cfg->cmd = commands[i].cmd;
			cfg->run = commands[i].run;
		}
	}
	if(!cfg->cmd) {
		/* Not echoed: a mistyped command line may start with a key. */
		return cli_usage_error("unknown command (expected offer or claim)");
	}
	rc = parse_rest(argc, argv, cfg);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	return finish(cfg);
}
