/*
 * Output of the cardex CLI. Human mode writes readable lines to stdout and
 * failures to stderr; --json writes one compact JSON object per line to
 * stdout. Every line is flushed at once: scripts read the offer's key from
 * the first line while the command is still waiting for its peer.
 *
 * On a terminal (stdout a TTY, no --json) an offer also shows its key in
 * big digits, a QR code of its cardex: URI and a countdown line rewritten in
 * place; colours are used unless NO_COLOR is set or TERM is "dumb". Neither
 * reaches a pipe or a file: what scripts read stays plain.
 *
 * Card text comes from the peer: control characters are replaced before
 * they reach a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "crypto.h"
#include "json.h"

#define BOLD "\033[1m"
#define GREEN "\033[32m"
#define RED "\033[31m"
#define RESET "\033[0m"
/* Return to the start of the line and clear it. */
#define CLEAR_LINE "\r\033[K"

/* Colours are for people: a terminal that is not "dumb", and no NO_COLOR (no-color.org). */
static bool colors_wanted(int fd)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	return isatty(fd) && !(no_color && no_color[0]) && !(term && strcmp(term, "dumb") == 0);
}

void cli_out_init(cli_out *o, const cli_config *cfg)
{
	memset(o, 0, sizeof(*o));
	o->json = cfg->json;
	o->tty = !cfg->json && isatty(STDOUT_FILENO);
	o->color = o->tty && colors_wanted(STDOUT_FILENO);
	o->color_err = colors_wanted(STDERR_FILENO);
	o->qr = o->tty && !cfg->no_qr;
	o->last_left = -1;
}

/* Columns of the terminal on stdout; 80 when it does not say. */
static int term_cols(void)
{
	struct winsize ws;

	if(ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
		return ws.ws_col;
	}
	return 80;
}

/* Takes the countdown line off the screen before other output. */
static void clear_status(cli_out *o)
{
	if(o->status_shown) {
		fputs(CLEAR_LINE, stdout);
		fflush(stdout);
		o->status_shown = false;
		o->last_left = -1;
	}
}

/* Prints obj as one line, then wipes and frees both the text and obj. */
static void print_json(cJSON *obj)
{
	char *text = obj ? cJSON_PrintUnformatted(obj) : NULL;

	if(text) {
		fputs(text, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		cx_wipe_str(text);
		cJSON_free(text);
	}
	cx_json_delete(obj);
}

void cli_put_clean(FILE *f, const char *s)
{
	for(; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

/* Shows the key in big digits and the QR code of the URI, when the terminal is wide enough. */
static void offer_graphics(const cli_out *o, const char *id, const char *key, const char *grouped)
{
	char uri[CLI_URI_MAX + 1];
	cli_qr qr;
	char *big;
	int cols = term_cols(), big_cols = 0;

	big = cli_big_digits(grouped, "  ", &big_cols);
	if(big && big_cols <= cols) {
		fputc('\n', stdout);
		fputs(big, stdout);
	}
	if(big) {
		cx_wipe_str(big);
		free(big);
	}
	if(!o->qr || cli_uri_format(id, key, uri, sizeof(uri)) != 0) {
		return;
	}
	if(cli_qr_render(uri, o->color, &qr) == 0) {
		if(qr.cols + 2 <= cols) {
			fputc('\n', stdout);
			/* Indent every line by two columns outside the quiet zone. */
			for(const char *line = qr.text; *line;) {
				const char *nl = strchr(line, '\n');
				fputs("  ", stdout);
				fwrite(line, 1, (size_t)(nl - line) + 1, stdout);
				line = nl + 1;
			}
		} else {
			fputs("(the terminal is too narrow for the QR code)\n", stdout);
		}
		cli_qr_clear(&qr);
	}
	cx_wipe(uri, sizeof(uri));
	fputc('\n', stdout);
}

void cli_out_offer(cli_out *o, const char *id, const char *key, unsigned expires_in)
{
	char grouped[2 * CX_KEY_DIGITS_MAX + 1];
	cJSON *obj;

	if(!o->json) {
		clear_status(o);
		cli_key_group(key, grouped, sizeof(grouped));
		fputs("Terminal ID: ", stdout);
		if(o->color) {
			fputs(BOLD, stdout);
		}
		cli_put_clean(stdout, id);
		fputs(o->color ? RESET "\nInstant key: " BOLD : "\nInstant key: ", stdout);
		fputs(grouped, stdout);
		fputs(o->color ? RESET "\n" : "\n", stdout);
		if(o->tty) {
			offer_graphics(o, id, key, grouped);
			cli_out_countdown(o, (int)expires_in);
		} else {
			printf("Expires in: %u s\n", expires_in);
		}
		cx_wipe(grouped, sizeof(grouped));
		fflush(stdout);
		return;
	}
	obj = cJSON_CreateObject();
	if(obj && cJSON_AddStringToObject(obj, "event", "offer") && cJSON_AddStringToObject(obj, "id", id)
			&& cJSON_AddStringToObject(obj, "key", key)
			&& cJSON_AddNumberToObject(obj, "expires_in", expires_in)) {
		print_json(obj);
		return;
	}
	cx_json_delete(obj);
}

void cli_out_countdown(cli_out *o, int seconds_left)
{
	if(!o->tty || seconds_left == o->last_left) {
		return;
	}
	if(seconds_left < 0) {
		seconds_left = 0;
	}
	fputs(CLEAR_LINE, stdout);
	if(seconds_left > 0) {
		printf("Expires in: %d s  (waiting for the peer)", seconds_left);
	} else {
		fputs("The key has expired", stdout);
	}
	fflush(stdout);
	o->status_shown = true;
	o->last_left = seconds_left;
}

/* ---- human rendering of a card ---- */

static const struct {
	const char *prop;
	const char *label;
} card_fields[] = {
	{"fn", "Name"},
	{"title", "Title"},
	{"role", "Role"},
	{"org", "Organization"},
	{"email", "Email"},
	{"tel", "Phone"},
	{"url", "Web"},
	{"adr", "Address"},
	{"bday", "Birthday"},
	{"note", "Note"},
	{"photo", "Photo"},
};

/* Properties that are bookkeeping rather than content: not counted as hidden. */
static bool is_bookkeeping(const char *name)
{
	return strcmp(name, "n") == 0 || strcmp(name, "uid") == 0 || strcmp(name, "rev") == 0
			|| strcmp(name, "prodid") == 0 || strncmp(name, "x-cardex-", 9) == 0;
}

/* Writes s, line breaks continued under the value column, other controls as '?'. */
static void put_multiline(const char *s)
{
	for(; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if(c == '\n') {
			fputs("\n                ", stdout);
		} else {
			fputc(c < 0x20 || c == 0x7f ? '?' : c, stdout);
		}
	}
}

/* A date of the basic form made readable: 19850412 -> 1985-04-12, --0229 -> --02-29. */
static void put_date(const char *s)
{
	size_t n = strlen(s);

	if(n == 8 && strspn(s, "0123456789") == 8) {
		printf("%.4s-%.2s-%.2s", s, s + 4, s + 6);
	} else if(n == 6 && s[0] == '-' && s[1] == '-' && strspn(s + 2, "0123456789") == 4) {
		printf("--%.2s-%.2s", s + 2, s + 4);
	} else {
		cli_put_clean(stdout, s);
	}
}

/* The TYPE parameter of p, or NULL. */
static const cx_card_param *type_param(const cx_card_prop *p)
{
	size_t i;

	for(i = 0; i < p->nparams; i++) {
		if(strcmp(p->params[i].name, "type") == 0) {
			return &p->params[i];
		}
	}
	return NULL;
}

/* The LABEL parameter of an ADR (its label as printed on an envelope), or NULL. */
static const char *label_param(const cx_card_prop *p)
{
	size_t i;

	for(i = 0; i < p->nparams; i++) {
		if(strcmp(p->params[i].name, "label") == 0 && p->params[i].nvalues > 0) {
			return p->params[i].values[0];
		}
	}
	return NULL;
}

/* One "  Label  value (types)" line of a card; a value that cannot be joined (no memory) shows empty. */
static void put_prop(const cx_card_prop *p, const char *label)
{
	const cx_card_param *type = type_param(p);
	char *text = cx_card_prop_join(p, ", ");
	const char *s = text ? text : "";
	size_t i;

	printf("  %-13s ", label);
	if(strcmp(p->name, "photo") == 0) {
		if(strncasecmp(s, "data:", 5) == 0) {
			printf("inline image, %zu bytes", strlen(s));
		} else {
			cli_put_clean(stdout, s);
		}
	} else if(strcmp(p->name, "bday") == 0) {
		put_date(s);
	} else if(strcmp(p->name, "adr") == 0 && s[0] == '\0' && label_param(p)) {
		/* An address known only by its label (a vCard 2.1 or 3.0 LABEL). */
		put_multiline(label_param(p));
	} else {
		if(strncasecmp(s, "mailto:", 7) == 0) {
			s += 7;
		} else if(strncasecmp(s, "tel:", 4) == 0) {
			s += 4;
		}
		put_multiline(s);
	}
	if(type && type->nvalues > 0) {
		fputs(" (", stdout);
		for(i = 0; i < type->nvalues; i++) {
			if(i > 0) {
				fputs(", ", stdout);
			}
			cli_put_clean(stdout, type->values[i]);
		}
		fputc(')', stdout);
	}
	fputc('\n', stdout);
	if(text) {
		cx_wipe_str(text);
		free(text);
	}
}

size_t cli_out_card(const cx_card *card)
{
	size_t f, i, shown = 0, hidden = 0;

	for(f = 0; f < sizeof(card_fields) / sizeof(card_fields[0]); f++) {
		const cx_card_prop *p;
		for(i = 0; (p = cx_card_find(card, card_fields[f].prop, i)) != NULL; i++) {
			put_prop(p, card_fields[f].label);
			shown++;
		}
	}
	for(i = 0; i < cx_card_count(card); i++) {
		if(!is_bookkeeping(cx_card_prop_at(card, i)->name)) {
			hidden++;
		}
	}
	fflush(stdout);
	return hidden - shown;
}

/* A received jCard, readably. */
static void put_card_human(const char *text, size_t len)
{
	char reason[200];
	cx_card_err err = {0};
	cx_card *card = NULL;

	if(cx_card_from_jcard_text(text, len, &card, &err) != 0) {
		cx_card_err_format(&err, reason, sizeof(reason));
		printf("  (the card cannot be read: %s)\n", reason);
		return;
	}
	cli_out_card(card);
	cx_card_free(card);
}

/* ---- events ---- */

/* Starts a line on stderr: the status line goes, and "cardex: " in red on a colour terminal. */
static void err_prefix(cli_out *o)
{
	clear_status(o);
	fputs(o->color_err ? RED "cardex:" RESET " " : "cardex: ", stderr);
}

static cJSON *event_json(const cardex_event *ev);

/* An error the terminal found itself (sealing), not a refusal of the server. */
static bool is_local_error(const cardex_event *ev)
{
	return ev->topic[0] == '\0' && (strcmp(ev->code, "altered") == 0
			|| strcmp(ev->code, "not-sealed") == 0 || strcmp(ev->code, "bad-card") == 0);
}

void cli_out_safety(cli_out *o, const cardex_event *ev)
{
	cJSON *obj;

	if(!o->json) {
		clear_status(o);
		printf(o->color ? "Safety code: " BOLD "%.3s %.3s" RESET " (compare it with the other screen)\n"
				: "Safety code: %.3s %.3s (compare it with the other screen)\n",
				ev->safety_code, ev->safety_code + 3);
		fflush(stdout);
		return;
	}
	obj = event_json(ev);
	print_json(obj);
}

/* An event as readable lines: progress on stdout, failures on stderr. */
static void out_event_human(cli_out *o, const cardex_event *ev)
{
	clear_status(o);
	switch(ev->type) {
	case CARDEX_EV_MATCH:
		printf(o->color ? GREEN "Matched" RESET " with terminal %s\n" : "Matched with terminal %s\n",
				ev->peer);
		break;
	case CARDEX_EV_ATTEMPT:
		printf("Someone entered a wrong key; %u attempt%s left\n", ev->attempts_left,
				ev->attempts_left == 1 ? "" : "s");
		break;
	case CARDEX_EV_SENT:
		printf("Card sent to %s\n", ev->peer);
		break;
	case CARDEX_EV_CARD:
		printf("Card received from %s:\n", ev->peer);
		put_card_human(ev->card, ev->card_len);
		break;
	case CARDEX_EV_REVOKED:
		err_prefix(o);
		fprintf(stderr, "the offer was revoked (%s)\n", ev->reason);
		break;
	case CARDEX_EV_EXPIRED:
		err_prefix(o);
		fprintf(stderr, "the %s expired\n", ev->offer ? "offer" : "exchange");
		break;
	case CARDEX_EV_SAFETY:
		break;
	case CARDEX_EV_ERROR:
		err_prefix(o);
		if(is_local_error(ev)) {
			fprintf(stderr, "%s (%s)\n", ev->message, ev->code);
			break;
		}
		fprintf(stderr, "refused by the server: %s (%s)", ev->message, ev->code);
		if(ev->retry_after) {
			fprintf(stderr, "; retry in %u s", ev->retry_after);
		}
		fputc('\n', stderr);
		break;
	case CARDEX_EV_OFFER:
		break;
	}
	fflush(stdout);
}

/* Adds the fields of ev to obj; false when cJSON runs out of memory. */
static bool add_event_fields(cJSON *obj, const cardex_event *ev)
{
	cJSON *card;

	switch(ev->type) {
	case CARDEX_EV_MATCH:
		return cJSON_AddStringToObject(obj, "exchange", ev->exchange)
				&& cJSON_AddStringToObject(obj, "peer", ev->peer)
				&& cJSON_AddNumberToObject(obj, "expires_in", ev->expires_in)
				&& cJSON_AddBoolToObject(obj, "sealed", ev->sealed);
	case CARDEX_EV_SAFETY:
		return cJSON_AddStringToObject(obj, "exchange", ev->exchange)
				&& cJSON_AddStringToObject(obj, "peer", ev->peer)
				&& cJSON_AddStringToObject(obj, "safety_code", ev->safety_code);
	case CARDEX_EV_ATTEMPT:
		return cJSON_AddNumberToObject(obj, "attempts_left", ev->attempts_left);
	case CARDEX_EV_SENT:
		return cJSON_AddStringToObject(obj, "exchange", ev->exchange)
				&& cJSON_AddStringToObject(obj, "to", ev->peer);
	case CARDEX_EV_CARD:
		card = cJSON_ParseWithLength(ev->card, ev->card_len);
		if(!cJSON_AddStringToObject(obj, "from", ev->peer)
				|| !cJSON_AddStringToObject(obj, "exchange", ev->exchange)
				|| !cJSON_AddBoolToObject(obj, "sealed", ev->sealed)
				|| !cJSON_AddBoolToObject(obj, "verified", ev->verified) || !card) {
			cx_json_delete(card);
			return false;
		}
		return cJSON_AddItemToObject(obj, "card", card);
	case CARDEX_EV_REVOKED:
		return cJSON_AddStringToObject(obj, "reason", ev->reason);
	case CARDEX_EV_EXPIRED:
		if(ev->offer) {
			return cJSON_AddTrueToObject(obj, "offer");
		}
		return cJSON_AddStringToObject(obj, "exchange", ev->exchange);
	case CARDEX_EV_ERROR:
		if(!cJSON_AddStringToObject(obj, "code", ev->code)
				|| !cJSON_AddStringToObject(obj, "message", ev->message)) {
			return false;
		}
		if(ev->exchange[0] && !cJSON_AddStringToObject(obj, "exchange", ev->exchange)) {
			return false;
		}
		return !ev->retry_after || cJSON_AddNumberToObject(obj, "retry_after", ev->retry_after);
	case CARDEX_EV_OFFER:
		return cJSON_AddNumberToObject(obj, "expires_in", ev->expires_in);
	}
	return false;
}

/* The event as a JSON object, or NULL when memory runs out. */
static cJSON *event_json(const cardex_event *ev)
{
	cJSON *obj = cJSON_CreateObject();

	if(obj && cJSON_AddStringToObject(obj, "event", cardex_event_type_name(ev->type))
			&& add_event_fields(obj, ev)) {
		return obj;
	}
	cx_json_delete(obj);
	return NULL;
}

void cli_out_event(cli_out *o, const cardex_event *ev)
{
	if(!o->json) {
		out_event_human(o, ev);
		return;
	}
	print_json(event_json(ev));
}

void cli_out_received(cli_out *o, const cardex_event *ev, const char *contact, bool updated)
{
	cJSON *obj;

	if(!o->json) {
		out_event_human(o, ev);
		if(contact) {
			printf(updated ? "Updated contact %s\n" : "Saved in contacts as %s\n", contact);
			fflush(stdout);
		}
		return;
	}
	obj = event_json(ev);
	if(obj && contact && (!cJSON_AddStringToObject(obj, "contact", contact)
			|| !cJSON_AddBoolToObject(obj, "updated", updated))) {
		cx_json_delete(obj);
		obj = NULL;
	}
	print_json(obj);
}

void cli_out_fail(cli_out *o, const char *code, const char *fmt, ...)
{
	char msg[CLI_WHY_MAX + 64];
	cJSON *obj;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if(!o->json) {
		err_prefix(o);
		fprintf(stderr, "%s\n", msg);
		return;
	}
	obj = cJSON_CreateObject();
	if(obj && cJSON_AddStringToObject(obj, "event", "error") && cJSON_AddStringToObject(obj, "code", code)
			&& cJSON_AddStringToObject(obj, "message", msg)) {
		print_json(obj);
		return;
	}
	cJSON_Delete(obj);
}

void cli_out_warn(cli_out *o, const char *fmt, ...)
{
	va_list ap;

	err_prefix(o);
	fputs("warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
