/*
 * Output of the cardex CLI. Human mode writes readable lines to stdout and
 * failures to stderr; --json writes one compact JSON object per line to
 * stdout. Every line is flushed at once: scripts read the offer's key from
 * the first line while the command is still waiting for its peer.
 *
 * Card text comes from the peer: control characters are replaced before
 * they reach a terminal.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "crypto.h"
#include "json.h"

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

/* Writes s to stdout with control characters replaced by '?'. */
static void put_clean(const char *s)
{
	for(; *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, stdout);
	}
}

/* Groups the key in threes ("483 920"), a last group of four rather than one. */
static void put_key_grouped(const char *key)
{
	size_t n = strlen(key);
	size_t i;

	for(i = 0; i < n; i++) {
		if(i > 0 && i % 3 == 0 && n - i != 1) {
			fputc(' ', stdout);
		}
		fputc(key[i], stdout);
	}
}

void cli_out_offer(const cli_out *o, const char *id, const char *key, unsigned expires_in)
{
	cJSON *obj;

	if(!o->json) {
		printf("Terminal ID: %s\nInstant key: ", id);
		put_key_grouped(key);
		printf("\nExpires in: %u s\n", expires_in);
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

/* ---- human rendering of a jCard ---- */

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
	{"note", "Note"},
};

/* Prints one value: strings as they are (minus a mailto:/tel: scheme), arrays joined. */
static void put_value(const cJSON *v)
{
	const cJSON *c;
	bool first = true;

	if(cJSON_IsString(v)) {
		const char *s = v->valuestring;
		if(strncasecmp(s, "mailto:", 7) == 0) {
			s += 7;
		} else if(strncasecmp(s, "tel:", 4) == 0) {
			s += 4;
		}
		put_clean(s);
	} else if(cJSON_IsNumber(v)) {
		printf("%g", v->valuedouble);
	} else if(cJSON_IsArray(v)) {
		cJSON_ArrayForEach(c, v) {
			if(cJSON_IsString(c) && !c->valuestring[0]) {
				continue;
			}
			if(!first) {
				fputs(", ", stdout);
			}
			put_value(c);
			first = false;
		}
	}
}

static void put_card_human(const char *card, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(card, len);
	const cJSON *props = cJSON_GetArrayItem(root, 1);
	size_t f;

	for(f = 0; f < sizeof(card_fields) / sizeof(card_fields[0]); f++) {
		const cJSON *p;
		cJSON_ArrayForEach(p, props) {
			const cJSON *name = cJSON_GetArrayItem(p, 0);
			int i;
			if(!cJSON_IsString(name) || strcasecmp(name->valuestring, card_fields[f].prop) != 0) {
				continue;
			}
			printf("  %-13s ", card_fields[f].label);
			for(i = 3; i < cJSON_GetArraySize(p); i++) {
				if(i > 3) {
					fputs("; ", stdout);
				}
				put_value(cJSON_GetArrayItem(p, i));
			}
			fputc('\n', stdout);
		}
	}
	cx_json_delete(root);
}

/* ---- events ---- */

static void out_event_human(const cardex_event *ev)
{
	switch(ev->type) {
	case CARDEX_EV_MATCH:
		printf("Matched with terminal %s\n", ev->peer);
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
		fprintf(stderr, "cardex: the offer was revoked (%s)\n", ev->reason);
		break;
	case CARDEX_EV_EXPIRED:
		fprintf(stderr, "cardex: the %s expired\n", ev->offer ? "offer" : "exchange");
		break;
	case CARDEX_EV_ERROR:
		fprintf(stderr, "cardex: refused by the server: %s (%s)", ev->message, ev->code);
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
				&& cJSON_AddNumberToObject(obj, "expires_in", ev->expires_in);
	case CARDEX_EV_ATTEMPT:
		return cJSON_AddNumberToObject(obj, "attempts_left", ev->attempts_left);
	case CARDEX_EV_SENT:
		return cJSON_AddStringToObject(obj, "exchange", ev->exchange)
				&& cJSON_AddStringToObject(obj, "to", ev->peer);
	case CARDEX_EV_CARD:
		card = cJSON_ParseWithLength(ev->card, ev->card_len);
		if(!cJSON_AddStringToObject(obj, "from", ev->peer)
				|| !cJSON_AddStringToObject(obj, "exchange", ev->exchange) || !card) {
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

void cli_out_event(const cli_out *o, const cardex_event *ev)
{
	cJSON *obj;

	if(!o->json) {
		out_event_human(ev);
		return;
	}
	obj = cJSON_CreateObject();
	if(obj && cJSON_AddStringToObject(obj, "event", cardex_event_type_name(ev->type))
			&& add_event_fields(obj, ev)) {
		print_json(obj);
		return;
	}
	cx_json_delete(obj);
}

void cli_out_fail(const cli_out *o, const char *code, const char *fmt, ...)
{
	char msg[CLI_WHY_MAX + 64];
	cJSON *obj;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if(!o->json) {
		fprintf(stderr, "cardex: %s\n", msg);
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
