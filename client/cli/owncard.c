/*
 * The cards of an exchange, as the CLI handles them around libcardex: the
 * one we send (from --card or a profile, cut down to the --only fields)
 * and the one we receive (kept in the contacts store).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "vcard.h"

/* A vCard property name: letters, digits and '-'. */
static bool is_name(const char *s, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++) {
		char c = s[i];
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return false;
		}
	}
	return n > 0;
}

bool cli_only_valid(const char *only)
{
	const char *p = only;
	bool any = false;

	for(;;) {
		const char *start, *end;

		while(*p == ' ' || *p == '\t') {
			p++;
		}
		start = p;
		while(*p && *p != ',' && *p != ' ' && *p != '\t') {
			p++;
		}
		end = p;
		while(*p == ' ' || *p == '\t') {
			p++;
		}
		if(!is_name(start, (size_t)(end - start))) {
			return false;
		}
		any = true;
		if(*p == '\0') {
			return any;
		}
		if(*p != ',') {
			return false;
		}
		p++;
	}
}

/* The distinct property names of card in order, comma-separated; malloc'ed or NULL. */
static char *field_names(const cx_card *card)
{
	size_t i, cap = 1, len = 0;
	char *out;

	for(i = 0; i < cx_card_count(card); i++) {
		cap += strlen(cx_card_prop_at(card, i)->name) + 1;
	}
	out = malloc(cap);
	if(!out) {
		return NULL;
	}
	out[0] = '\0';
	for(i = 0; i < cx_card_count(card); i++) {
		const char *name = cx_card_prop_at(card, i)->name;
		size_t j;
		bool seen = false;

		for(j = 0; j < i && !seen; j++) {
			seen = strcmp(cx_card_prop_at(card, j)->name, name) == 0;
		}
		if(!seen) {
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? "," : "", name);
		}
	}
	return out;
}

/*
 * The card cut down to the --only fields. FN (by cx_card_select) and UID
 * always go: the UID is what lets the peer update our entry in its
 * contacts rather than add a second one. NULL when memory runs out.
 */
static cx_card *select_fields(const cx_card *card, const char *only)
{
	size_t n = strlen(only) + sizeof(",uid");
	char *fields = malloc(n);
	cx_card *out;

	if(!fields) {
		return NULL;
	}
	snprintf(fields, n, "%s,uid", only);
	out = cx_card_select(card, fields);
	free(fields);
	return out;
}

/* Loads the card itself: from --card, or from the profile that applies. */
static int load_source(const cli_config *cfg, cli_own_card *own, cx_card **card, char *why)
{
	char reason[CLI_WHY_MAX];
	cli_store st;
	int rc;

	if(cfg->card_file) {
		*card = cli_read_card(cfg->card_file, why);
		return *card ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
	}
	if(cli_store_init(&st, why) != 0) {
		return CLI_EXIT_LOCAL;
	}
	rc = cli_profile_resolve(cfg, &st, own->profile, reason);
	if(rc == 1) {
		snprintf(why, CLI_WHY_MAX, "no card to send: give --card FILE or --profile NAME, or import "
				"one with 'cardex card import FILE.vcf'");
		return CLI_EXIT_USAGE;
	}
	if(rc < 0) {
		snprintf(why, CLI_WHY_MAX, "%s", reason);
		return CLI_EXIT_LOCAL;
	}
	rc = cli_profile_load(&st, own->profile, card, reason);
	if(rc == 1) {
		snprintf(why, CLI_WHY_MAX, "no profile named %s (see 'cardex card list')", own->profile);
		return CLI_EXIT_LOCAL;
	}
	if(rc < 0) {
		snprintf(why, CLI_WHY_MAX, "%s", reason);
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

int cli_own_card_load(const cli_config *cfg, cli_own_card *own, char *why)
{
	cx_card *card = NULL, *sent = NULL;
	int rc;

	memset(own, 0, sizeof(*own));
	rc = load_source(cfg, own, &card, why);
	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	rc = CLI_EXIT_LOCAL;
	sent = cfg->only ? select_fields(card, cfg->only) : cx_card_dup(card);
	if(!sent) {
		snprintf(why, CLI_WHY_MAX, "out of memory");
		goto cleanup;
	}
	own->jcard = cx_card_to_jcard_text(sent, &own->jcard_len);
	own->fields = field_names(sent);
	if(!own->jcard || !own->fields) {
		snprintf(why, CLI_WHY_MAX, "out of memory");
		goto cleanup;
	}
	rc = CLI_EXIT_OK;
cleanup:
	cx_card_free(card);
	cx_card_free(sent);
	if(rc != CLI_EXIT_OK) {
		cli_own_card_clear(own);
	}
	return rc;
}

void cli_own_card_clear(cli_own_card *own)
{
	if(own->jcard) {
		cx_wipe(own->jcard, own->jcard_len);
		free(own->jcard);
	}
	free(own->fields);
	memset(own, 0, sizeof(*own));
}

int cli_keep_card(const cardex_event *ev, char *id, bool *updated, char *why)
{
	char reason[200];
	cx_card_err err = {0};
	cx_card *card = NULL;
	cli_store st;
	int rc = -1;

	if(cx_card_from_jcard_text(ev->card, ev->card_len, &card, &err) != 0
			|| cx_card_check(card, CX_VCARD_PHOTO_MAX_DEFAULT, &err) != 0) {
		cx_card_err_format(&err, reason, sizeof(reason));
		snprintf(why, CLI_WHY_MAX, "the card from %s is not a card cardex can store: %s", ev->peer,
				reason);
		goto cleanup;
	}
	if(cli_store_init(&st, why) != 0) {
		goto cleanup;
	}
	rc = cli_contacts_save(&st, card, ev->peer, ev->exchange, time(NULL), ev->verified, id, updated, why);
cleanup:
	cx_card_free(card);
	return rc;
}
