/*
 * cardex contacts ...: the cards we received (contacts.c) and what we sent
 * (sentlog.c) from the command line: list, show, export, rm, sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "crypto.h"
#include "json.h"

/* Loads every contact; prints the failure. */
static int load_all(cli_store *st, cli_contact **c, size_t *n)
{
	char why[CLI_WHY_MAX];

	if(cli_store_init(st, why) != 0 || cli_contacts_load(st, c, n, why) != 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

/* The one contact query names; prints why not. */
static int find_one(const cli_contact *c, size_t n, const char *query, size_t *idx)
{
	char why[CLI_WHY_MAX];
	int rc = cli_contacts_find(c, n, query, idx, why);

	if(rc == 1) {
		fprintf(stderr, "cardex: no contact matches (see 'cardex contacts list')\n");
		return CLI_EXIT_FAILED;
	}
	if(rc == 2) {
		fprintf(stderr, "cardex: ");
		cli_put_clean(stderr, why);
		fputc('\n', stderr);
		return CLI_EXIT_FAILED;
	}
	return CLI_EXIT_OK;
}

/*
 * "20240301T093000Z" (what X-CARDEX-RECEIVED holds) as "2024-03-01T09:30:00Z"
 * into buf[32]; "?" when it is not that form.
 */
static void format_received(const char *basic, char *buf)
{
	if(strlen(basic) == 16 && basic[8] == 'T' && basic[15] == 'Z'
			&& strspn(basic, "0123456789") == 8 && strspn(basic + 9, "0123456789") == 6) {
		snprintf(buf, 32, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ", basic, basic + 4, basic + 6, basic + 9,
				basic + 11, basic + 13);
	} else {
		snprintf(buf, 32, "?");
	}
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

/* Writes s cleaned, padded with blanks to width columns. */
static void put_padded(const char *s, int width)
{
	int cols = text_cols(s);

	cli_put_clean(stdout, s);
	printf("%*s", cols < width ? width - cols : 0, "");
}

/* contacts list --json: one object per contact. Returns an exit code. */
static int list_json(const cli_contact *c, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++) {
		char received[32];
		cJSON *obj = cJSON_CreateObject();
		char *text;

		format_received(c[i].received, received);
		if(!obj || !cJSON_AddStringToObject(obj, "id", c[i].id)
				|| !cJSON_AddStringToObject(obj, "fn", c[i].fn)
				|| !cJSON_AddStringToObject(obj, "peer", c[i].peer)
				|| !cJSON_AddStringToObject(obj, "exchange", c[i].exchange)
				|| !cJSON_AddStringToObject(obj, "received", received)
				|| !(text = cJSON_PrintUnformatted(obj))) {
			cx_json_delete(obj);
			fprintf(stderr, "cardex: out of memory\n");
			return CLI_EXIT_LOCAL;
		}
		puts(text);
		cx_wipe_str(text);
		cJSON_free(text);
		cx_json_delete(obj);
	}
	return CLI_EXIT_OK;
}

int cli_cmd_contacts_list(const cli_config *cfg)
{
	cli_contact *c = NULL;
	cli_store st;
	size_t n = 0, i;
	int rc;

	rc = load_all(&st, &c, &n);
	if(rc != CLI_EXIT_OK) {
		return rc;
	}
	if(cfg->json) {
		rc = list_json(c, n);
	} else if(n == 0) {
		puts("No contacts yet.");
	} else {
		printf("%-12s  %-28s  %-16s  %s\n", "ID", "NAME", "FROM", "RECEIVED");
		for(i = 0; i < n; i++) {
			char received[32];

			format_received(c[i].received, received);
			printf("%-12s  ", c[i].id);
			put_padded(c[i].fn, 28);
			fputs("  ", stdout);
			put_padded(c[i].peer[0] ? c[i].peer : "?", 16);
			printf("  %s\n", received);
		}
	}
	fflush(stdout);
	cli_contacts_free(c, n);
	return rc;
}

int cli_cmd_contacts_show(const cli_config *cfg)
{
	char received[32];
	cli_contact *c = NULL;
	cli_store st;
	size_t n = 0, idx = 0, hidden;
	int rc;

	rc = load_all(&st, &c, &n);
	if(rc == CLI_EXIT_OK) {
		rc = find_one(c, n, cfg->args[0], &idx);
	}
	if(rc != CLI_EXIT_OK) {
		cli_contacts_free(c, n);
		return rc;
	}
	format_received(c[idx].received, received);
	printf("Contact %s\n", c[idx].id);
	hidden = cli_out_card(c[idx].card);
	printf("  %-13s %s from terminal ", "Received", received);
	cli_put_clean(stdout, c[idx].peer[0] ? c[idx].peer : "?");
	if(c[idx].exchange[0]) {
		fputs(" (exchange ", stdout);
		cli_put_clean(stdout, c[idx].exchange);
		fputc(')', stdout);
	}
	fputc('\n', stdout);
	if(hidden > 0) {
		printf("  (%zu more propert%s: 'cardex contacts export %s' shows all)\n", hidden,
				hidden == 1 ? "y" : "ies", c[idx].id);
	}
	fflush(stdout);
	cli_contacts_free(c, n);
	return CLI_EXIT_OK;
}

int cli_cmd_contacts_export(const cli_config *cfg)
{
	size_t idx[CLI_ARGS_MAX];
	cli_contact *c = NULL;
	cli_store st;
	size_t n = 0, i;
	int rc;

	rc = load_all(&st, &c, &n);
	for(i = 0; rc == CLI_EXIT_OK && i < cfg->nargs; i++) {
		rc = find_one(c, n, cfg->args[i], &idx[i]);
	}
	if(rc == CLI_EXIT_OK && cli_contacts_export(c, n, cfg->nargs ? idx : NULL, cfg->nargs,
			cfg->provenance, cfg->vcard_version ? cfg->vcard_version : 4, stdout) != 0) {
		fprintf(stderr, "cardex: cannot write the contacts to standard output\n");
		rc = CLI_EXIT_LOCAL;
	}
	cli_contacts_free(c, n);
	return rc;
}

int cli_cmd_contacts_rm(const cli_config *cfg)
{
	char why[CLI_WHY_MAX];
	cli_contact *c = NULL;
	cli_store st;
	size_t n = 0, idx = 0;
	int rc;

	rc = load_all(&st, &c, &n);
	if(rc == CLI_EXIT_OK) {
		rc = find_one(c, n, cfg->args[0], &idx);
	}
	if(rc == CLI_EXIT_OK) {
		rc = cli_contacts_remove(&st, c[idx].id, why);
		if(rc == 0) {
			printf("Removed contact %s (", c[idx].id);
			cli_put_clean(stdout, c[idx].fn);
			puts(")");
		} else if(rc == 1) {
			fprintf(stderr, "cardex: contact %s is already gone\n", c[idx].id);
			rc = CLI_EXIT_FAILED;
		} else {
			fprintf(stderr, "cardex: %s\n", why);
			rc = CLI_EXIT_LOCAL;
		}
	}
	cli_contacts_free(c, n);
	return rc;
}

int cli_cmd_contacts_sent(const cli_config *cfg)
{
	char why[CLI_WHY_MAX];
	cli_store st;

	if(cli_store_init(&st, why) != 0 || cli_sentlog_print(&st, cfg->json, why) != 0) {
		fprintf(stderr, "cardex: %s\n", why);
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}
