/*
 * The contacts store: every card this terminal received, one vCard 4.0 file
 * per person in <data>/contacts/<ID>.vcf, with where it came from in three
 * extension properties appended to the card:
 *
 *   X-CARDEX-PEER:B                               the sender's terminal ID
 *   X-CARDEX-EXCHANGE:3f1c...                     the exchange ID
 *   X-CARDEX-RECEIVED:20240301T093000Z            when it arrived (UTC)
 *   X-CARDEX-VERIFIED:true                        the safety code was confirmed
 *
 * The ID is derived from the card (see cli_contact_id), so receiving the
 * same person again rewrites the same file instead of adding one. A peer
 * cannot forge provenance: X-CARDEX-* properties of a received card are
 * dropped before ours are added.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <mbedtls/sha256.h>

#include "cli.h"
#include "crypto.h"
#include "json.h"
#include "vcard.h"

/* A contact file larger than this is skipped. */
#define CONTACT_FILE_MAX (1024 * 1024)
/* Shortest ID prefix that names a contact. */
#define ID_PREFIX_MIN 4

cx_card *cli_card_strip_provenance(const cx_card *card)
{
	cJSON *root = cx_card_to_jcard(card);
	cJSON *props = cJSON_GetArrayItem(root, 1);
	cJSON *p, *next;
	cx_card *out = NULL;

	if(!root || !props) {
		cx_json_delete(root);
		return NULL;
	}
	for(p = props->child; p; p = next) {
		const cJSON *name = cJSON_GetArrayItem(p, 0);
		next = p->next;
		if(cJSON_IsString(name) && strncasecmp(name->valuestring, "x-cardex-", 9) == 0) {
			cx_json_delete(cJSON_DetachItemViaPointer(props, p));
		}
	}
	/* Only runs out of memory: the tree came from a valid card. */
	cx_card_from_jcard(root, &out, NULL);
	cx_json_delete(root);
	return out;
}

int cli_contact_id(const cx_card *card, const char *peer, bool use_uid, char *id)
{
	static const char hex[] = "0123456789abcdef";
	mbedtls_sha256_context ctx;
	unsigned char digest[32];
	const char *uid = cx_card_uid(card);
	const char *fn = cx_card_fn(card);
	int rc = -1, i;

	mbedtls_sha256_init(&ctx);
	if(mbedtls_sha256_starts_ret(&ctx, 0) != 0) {
		goto cleanup;
	}
	if(use_uid && uid && uid[0]) {
		if(mbedtls_sha256_update_ret(&ctx, (const unsigned char *)"uid\n", 4) != 0
				|| mbedtls_sha256_update_ret(&ctx, (const unsigned char *)uid, strlen(uid)) != 0) {
			goto cleanup;
		}
	} else {
		fn = fn ? fn : "";
		if(mbedtls_sha256_update_ret(&ctx, (const unsigned char *)"peer\n", 5) != 0
				|| mbedtls_sha256_update_ret(&ctx, (const unsigned char *)peer, strlen(peer)) != 0
				|| mbedtls_sha256_update_ret(&ctx, (const unsigned char *)"\n", 1) != 0
				|| mbedtls_sha256_update_ret(&ctx, (const unsigned char *)fn, strlen(fn)) != 0) {
			goto cleanup;
		}
	}
	if(mbedtls_sha256_finish_ret(&ctx, digest) != 0) {
		goto cleanup;
	}
	for(i = 0; i < CLI_CONTACT_ID_LEN / 2; i++) {
		id[2 * i] = hex[digest[i] >> 4];
		id[2 * i + 1] = hex[digest[i] & 15];
	}
	id[CLI_CONTACT_ID_LEN] = '\0';
	rc = 0;
cleanup:
	mbedtls_sha256_free(&ctx);
	cx_wipe(digest, sizeof(digest));
	return rc;
}

/* True when s[0..n) is a contact ID: 12 lowercase hex digits. */
static bool is_contact_id(const char *s, size_t n)
{
	size_t i;

	if(n != CLI_CONTACT_ID_LEN) {
		return false;
	}
	for(i = 0; i < n; i++) {
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

/*
 * Path of contact id in path[CLI_PATH_MAX]; creates the directory when
 * asked. Returns 0, 1 when the directory is missing (!create), or -1 with why.
 */
static int contact_path(const cli_store *st, const char *id, bool create, char *path, char *why)
{
	char dir[CLI_PATH_MAX];
	int rc = cli_store_dir(st, "contacts", create, dir, sizeof(dir), why);
	int n;

	if(rc != 0) {
		return rc;
	}
	n = snprintf(path, CLI_PATH_MAX, "%s/%s.vcf", dir, id);
	if(n < 0 || n >= CLI_PATH_MAX) {
		snprintf(why, CLI_WHY_MAX, "the contact's path is too long");
		return -1;
	}
	return 0;
}

/* Reads and parses one stored contact. 0, 1 when absent, -1 with why. */
static int load_one(const char *path, cx_card **out, char *why)
{
	char reason[200];
	cx_card_err err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc = cli_store_read(path, CONTACT_FILE_MAX, &text, &len, why);

	*out = NULL;
	if(rc != 0) {
		return rc;
	}
	if(cx_vcard_parse(text, len, out, CX_VCARD_PHOTO_MAX_DEFAULT, &err) != 0) {
		cx_card_err_format(&err, reason, sizeof(reason));
		snprintf(why, CLI_WHY_MAX, "%s is not a valid card: %s", path, reason);
		rc = -1;
	}
	cx_wipe(text, len);
	free(text);
	return rc;
}

/* The card with our provenance: received minus X-CARDEX-*, plus ours. */
static cx_card *with_provenance(const cx_card *received, const char *peer, const char *xid,
		time_t when, bool verified)
{
	char stamp[21];
	char basic[17];
	cx_card *card = cli_card_strip_provenance(received);

	if(!card) {
		return NULL;
	}
	/* The basic form of a vCard timestamp: 20240301T093000Z. */
	cli_time_iso(when, stamp);
	snprintf(basic, sizeof(basic), "%.4s%.2s%.2sT%.2s%.2s%.2sZ", stamp, stamp + 5, stamp + 8,
			stamp + 11, stamp + 14, stamp + 17);
	if(cx_card_add(card, CLI_X_PEER, peer) != CX_CARD_OK
			|| cx_card_add(card, CLI_X_EXCHANGE, xid) != CX_CARD_OK
			|| cx_card_add(card, CLI_X_RECEIVED, basic) != CX_CARD_OK
			|| cx_card_add(card, CLI_X_VERIFIED, verified ? "true" : "false") != CX_CARD_OK) {
		cx_card_free(card);
		return NULL;
	}
	return card;
}

/*
 * A card that now has a UID replaces the entry its sender and name had
 * while it had none, so that adding a UID does not split a person in two.
 */
static int drop_uidless(const cli_store *st, const cx_card *card, const char *peer, const char *id,
		bool *updated, char *why)
{
	char old_id[CLI_CONTACT_ID_LEN + 1];
	char path[CLI_PATH_MAX];
	cx_card *old = NULL;
	int rc;

	if(!cx_card_uid(card) || cli_contact_id(card, peer, false, old_id) != 0 || strcmp(old_id, id) == 0) {
		return 0;
	}
	if(contact_path(st, old_id, false, path, why) != 0) {
		return 0;
	}
	rc = load_one(path, &old, why);
	if(rc != 0) {
		/* Absent, or unreadable: then it is not ours to remove. */
		return 0;
	}
	if(!cx_card_uid(old)) {
		rc = cli_store_remove(path, why);
		if(rc < 0) {
			cx_card_free(old);
			return -1;
		}
		*updated = true;
	}
	cx_card_free(old);
	return 0;
}

int cli_contacts_save(const cli_store *st, const cx_card *card, const char *peer, const char *xid,
		time_t when, bool verified, char *id, bool *updated, char *why)
{
	char path[CLI_PATH_MAX];
	cx_card *stored = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -1;

	*updated = false;
	if(cli_contact_id(card, peer, true, id) != 0) {
		snprintf(why, CLI_WHY_MAX, "cannot derive the contact ID");
		return -1;
	}
	if(contact_path(st, id, true, path, why) != 0) {
		return -1;
	}
	stored = with_provenance(card, peer, xid, when, verified);
	if(!stored || cx_vcard_write(stored, &text, &len) != 0) {
		snprintf(why, CLI_WHY_MAX, "out of memory");
		goto cleanup;
	}
	f = fopen(path, "r");
	if(f) {
		*updated = true;
		fclose(f);
	}
	if(cli_store_write(path, text, len, why) != 0) {
		goto cleanup;
	}
	rc = drop_uidless(st, card, peer, id, updated, why);
cleanup:
	if(text) {
		cx_wipe(text, len);
		free(text);
	}
	cx_card_free(stored);
	return rc;
}

void cli_contacts_free(cli_contact *c, size_t n)
{
	size_t i;

	for(i = 0; c && i < n; i++) {
		cx_card_free(c[i].card);
	}
	free(c);
}

/* The first text of property name, or "" (never NULL). */
static const char *prop_or_empty(const cx_card *card, const char *name)
{
	const char *v = cx_card_get(card, name, 0);

	return v ? v : "";
}

/* qsort order of contacts: name, ignoring ASCII case, then ID. */
static int cmp_contacts(const void *a, const void *b)
{
	const cli_contact *x = a, *y = b;
	int c = strcasecmp(x->fn, y->fn);

	return c ? c : strcmp(x->id, y->id);
}

int cli_contacts_load(const cli_store *st, cli_contact **out, size_t *n, char *why)
{
	char dir[CLI_PATH_MAX];
	char path[CLI_PATH_MAX + 258];
	char reason[CLI_WHY_MAX];
	cli_contact *list = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int rc;

	*out = NULL;
	*n = 0;
	rc = cli_store_opendir(st, "contacts", dir, sizeof(dir), &d, why);
	if(rc != 0) {
		return rc == 1 ? 0 : -1;
	}
	while((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		cx_card *card = NULL;

		if(len != CLI_CONTACT_ID_LEN + 4 || strcmp(de->d_name + CLI_CONTACT_ID_LEN, ".vcf") != 0
				|| !is_contact_id(de->d_name, CLI_CONTACT_ID_LEN)) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if(load_one(path, &card, reason) != 0) {
			fprintf(stderr, "cardex: warning: skipping a contact: %s\n", reason);
			continue;
		}
		if(cnt == cap) {
			cli_contact *nl = realloc(list, (cap ? cap * 2 : 16) * sizeof(*nl));
			if(!nl) {
				cx_card_free(card);
				closedir(d);
				cli_contacts_free(list, cnt);
				snprintf(why, CLI_WHY_MAX, "out of memory");
				return -1;
			}
			list = nl;
			cap = cap ? cap * 2 : 16;
		}
		memcpy(list[cnt].id, de->d_name, CLI_CONTACT_ID_LEN);
		list[cnt].id[CLI_CONTACT_ID_LEN] = '\0';
		list[cnt].card = card;
		list[cnt].fn = prop_or_empty(card, "fn");
		list[cnt].peer = prop_or_empty(card, CLI_X_PEER);
		list[cnt].exchange = prop_or_empty(card, CLI_X_EXCHANGE);
		list[cnt].received = prop_or_empty(card, CLI_X_RECEIVED);
		cnt++;
	}
	closedir(d);
	if(cnt > 1) {
		qsort(list, cnt, sizeof(*list), cmp_contacts);
	}
	*out = list;
	*n = cnt;
	return 0;
}

/* True when hay contains needle, ignoring ASCII case. */
static bool contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for(; *hay; hay++) {
		if(strncasecmp(hay, needle, n) == 0) {
			return true;
		}
	}
	return n == 0;
}

/* Matching levels of cli_contacts_find, best first. */
enum { BY_ID, BY_PREFIX, BY_NAME, BY_PART, LEVELS };

/* True when contact c matches query q at matching level level. */
static bool matches(const cli_contact *c, const char *q, int level)
{
	size_t qlen = strlen(q);

	switch(level) {
	case BY_ID:
		return strcmp(c->id, q) == 0;
	case BY_PREFIX:
		return qlen >= ID_PREFIX_MIN && strncmp(c->id, q, qlen) == 0;
	case BY_NAME:
		return strcasecmp(c->fn, q) == 0;
	default:
		return contains_nocase(c->fn, q);
	}
}

int cli_contacts_find(const cli_contact *c, size_t n, const char *query, size_t *idx, char *why)
{
	size_t i, hits;
	int level;

	if(!query[0]) {
		return 1;
	}
	for(level = 0; level < LEVELS; level++) {
		size_t first = 0;
		hits = 0;
		for(i = 0; i < n; i++) {
			if(matches(&c[i], query, level)) {
				first = hits == 0 ? i : first;
				hits++;
			}
		}
		if(hits == 1) {
			*idx = first;
			return 0;
		}
		if(hits > 1) {
			size_t len = (size_t)snprintf(why, CLI_WHY_MAX, "%zu contacts match; name one by its ID:",
					hits);
			for(i = 0; i < n && len < CLI_WHY_MAX; i++) {
				if(matches(&c[i], query, level)) {
					len += (size_t)snprintf(why + len, CLI_WHY_MAX - len, " %s (%.40s)", c[i].id, c[i].fn);
				}
			}
			return 2;
		}
	}
	return 1;
}

int cli_contacts_export(const cli_contact *c, size_t n, const size_t *idx, size_t nidx,
		bool provenance, int version, FILE *f)
{
	size_t k, count = idx ? nidx : n;
	int rc = 0;

	for(k = 0; k < count && rc == 0; k++) {
		const cx_card *card = c[idx ? idx[k] : k].card;
		cx_card *plain = provenance ? NULL : cli_card_strip_provenance(card);
		char *text = NULL;
		size_t len = 0;

		if((!provenance && !plain) || cx_vcard_write_version(plain ? plain : card, version, &text, &len) != 0) {
			rc = -1;
		} else if(fwrite(text, 1, len, f) != len) {
			rc = -1;
		}
		if(text) {
			cx_wipe(text, len);
			free(text);
		}
		cx_card_free(plain);
	}
	if(fflush(f) != 0) {
		rc = -1;
	}
	return rc;
}

int cli_contacts_remove(const cli_store *st, const char *id, char *why)
{
	char path[CLI_PATH_MAX];
	int rc;

	if(!is_contact_id(id, strlen(id))) {
		return 1;
	}
	rc = contact_path(st, id, false, path, why);
	if(rc != 0) {
		return rc;
	}
	return cli_store_remove(path, why);
}
