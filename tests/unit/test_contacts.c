/*
 * Unit tests of the contacts store (contacts.c) and the sent log
 * (sentlog.c): provenance, updating the same person instead of adding a
 * duplicate (same UID; without UID, same peer and FN), finding contacts,
 * the export stream, and a sent log that names fields but holds no values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "cli_fixture.h"
#include "vcard.h"

#define XID1 "0123456789abcdef0123456789abcdef"
#define XID2 "fedcba9876543210fedcba9876543210"

static const char grace_uid[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grace Hopper\r\n"
                                "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n"
                                "ORG:US Navy\r\nEMAIL:grace@example.net\r\nEND:VCARD\r\n";
static const char grace_uid_v2[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Grace B. Hopper\r\n"
                                   "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\r\n"
                                   "TITLE:Rear Admiral\r\nEND:VCARD\r\n";
static const char ada_nouid[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\n"
                                "EMAIL:ada@example.org\r\nEND:VCARD\r\n";
static const char ada_with_uid[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada Lovelace\r\n"
                                   "UID:urn:uuid:11111111-2222-3333-4444-555555555555\r\n"
                                   "EMAIL:ada@example.org\r\nEND:VCARD\r\n";
/* A peer trying to forge where its card came from. */
static const char forged[] = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Mallory\r\n"
                             "X-CARDEX-PEER:trusted-terminal\r\nX-CARDEX-RECEIVED:19700101T000000Z\r\n"
                             "END:VCARD\r\n";

typedef struct {
	cxt_home home;
	cli_store st;
	char why[CLI_WHY_MAX];
	cli_contact *c;
	size_t n;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));

	if(!f || cxt_home_setup(&f->home) != 0 || cli_store_init(&f->st, f->why) != 0) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;

	cli_contacts_free(f->c, f->n);
	cxt_home_teardown(&f->home);
	free(f);
	return 0;
}

/* Saves vcf as received from peer; returns whether it updated an entry. */
static bool receive(fx *f, const char *vcf, const char *peer, const char *xid, char *id)
{
	cx_card *card = cxt_card(vcf);
	bool updated = false;

	if(cli_contacts_save(&f->st, card, peer, xid, 1709285400, false, id, &updated, f->why) != 0) {
		fail_msg("save: %s", f->why);
	}
	cx_card_free(card);
	return updated;
}

static void reload(fx *f)
{
	cli_contacts_free(f->c, f->n);
	f->c = NULL;
	f->n = 0;
	if(cli_contacts_load(&f->st, &f->c, &f->n, f->why) != 0) {
		fail_msg("load: %s", f->why);
	}
}

static void test_provenance(void **state)
{
	fx *f = *state;
	char id[CLI_CONTACT_ID_LEN + 1];
	char path[CLI_PATH_MAX + 64];
	char *text;

	reload(f);
	assert_int_equal(f->n, 0);
	assert_false(receive(f, grace_uid, "B", XID1, id));
	assert_int_equal(strlen(id), CLI_CONTACT_ID_LEN);
	snprintf(path, sizeof(path), "%s/contacts/%s.vcf", f->st.base, id);
	assert_int_equal(cxt_mode(path), 0600);
	text = cxt_read_file(path, NULL);
	assert_non_null(text);
	/* Stored as vCard 4.0 with where it came from. */
	assert_non_null(strstr(text, "VERSION:4.0\r\n"));
	assert_non_null(strstr(text, "X-CARDEX-PEER:B\r\n"));
	assert_non_null(strstr(text, "X-CARDEX-EXCHANGE:" XID1 "\r\n"));
	assert_non_null(strstr(text, "X-CARDEX-RECEIVED:20240301T093000Z\r\n"));
	assert_non_null(strstr(text, "X-CARDEX-VERIFIED:false\r\n"));
	free(text);

	reload(f);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->c[0].id, id);
	assert_string_equal(f->c[0].fn, "Grace Hopper");
	assert_string_equal(f->c[0].peer, "B");
	assert_string_equal(f->c[0].exchange, XID1);
	assert_string_equal(f->c[0].received, "20240301T093000Z");
}

static void test_forged_provenance(void **state)
{
	fx *f = *state;
	char id[CLI_CONTACT_ID_LEN + 1];

	receive(f, forged, "M", XID1, id);
	reload(f);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->c[0].peer, "M");
	assert_string_equal(f->c[0].received, "20240301T093000Z");
	assert_null(cx_card_get(f->c[0].card, "x-cardex-peer", 1));
}

static void test_same_uid_updates(void **state)
{
	fx *f = *state;
	char id1[CLI_CONTACT_ID_LEN + 1], id2[CLI_CONTACT_ID_LEN + 1];

	assert_false(receive(f, grace_uid, "B", XID1, id1));
	/* The same UID, even from another terminal and with another name: the same person. */
	assert_true(receive(f, grace_uid_v2, "C", XID2, id2));
	assert_string_equal(id1, id2);
	reload(f);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->c[0].fn, "Grace B. Hopper");
	assert_string_equal(f->c[0].peer, "C");
	assert_string_equal(f->c[0].exchange, XID2);
	assert_non_null(cx_card_find(f->c[0].card, "title", 0));
	/* Replaced, not merged: the old entry's ORG is gone. */
	assert_null(cx_card_find(f->c[0].card, "org", 0));
}

static void test_no_uid_peer_and_fn(void **state)
{
	fx *f = *state;
	char id1[CLI_CONTACT_ID_LEN + 1], id2[CLI_CONTACT_ID_LEN + 1], id3[CLI_CONTACT_ID_LEN + 1];

	assert_false(receive(f, ada_nouid, "A", XID1, id1));
	assert_true(receive(f, ada_nouid, "A", XID2, id2));
	assert_string_equal(id1, id2);
	/* Without a UID, another terminal's "Ada Lovelace" may be someone else. */
	assert_false(receive(f, ada_nouid, "Z", XID2, id3));
	assert_string_not_equal(id1, id3);
	reload(f);
	assert_int_equal(f->n, 2);

	/* When A's card later carries a UID, it replaces the entry it had without one. */
	assert_true(receive(f, ada_with_uid, "A", XID1, id2));
	assert_string_not_equal(id1, id2);
	reload(f);
	assert_int_equal(f->n, 2);
	assert_true(strcmp(f->c[0].id, id2) == 0 || strcmp(f->c[1].id, id2) == 0);
	assert_true(strcmp(f->c[0].id, id1) != 0 && strcmp(f->c[1].id, id1) != 0);
}

static void test_find(void **state)
{
	fx *f = *state;
	char id_grace[CLI_CONTACT_ID_LEN + 1], id_ada[CLI_CONTACT_ID_LEN + 1];
	char id_other[CLI_CONTACT_ID_LEN + 1];
	char prefix[8];
	size_t idx = 99;

	receive(f, grace_uid, "B", XID1, id_grace);
	receive(f, ada_nouid, "A", XID1, id_ada);
	receive(f, ada_nouid, "Z", XID2, id_other); /* a second "Ada Lovelace" */
	reload(f);
	assert_int_equal(f->n, 3);
	/* Sorted by name. */
	assert_string_equal(f->c[0].fn, "Ada Lovelace");
	assert_string_equal(f->c[2].fn, "Grace Hopper");

	assert_int_equal(cli_contacts_find(f->c, f->n, id_grace, &idx, f->why), 0);
	assert_string_equal(f->c[idx].id, id_grace);
	snprintf(prefix, sizeof(prefix), "%.5s", id_grace);
	assert_int_equal(cli_contacts_find(f->c, f->n, prefix, &idx, f->why), 0);
	assert_string_equal(f->c[idx].id, id_grace);
	assert_int_equal(cli_contacts_find(f->c, f->n, "grace hopper", &idx, f->why), 0);
	assert_string_equal(f->c[idx].id, id_grace);
	assert_int_equal(cli_contacts_find(f->c, f->n, "HOPP", &idx, f->why), 0);
	assert_string_equal(f->c[idx].id, id_grace);
	assert_int_equal(cli_contacts_find(f->c, f->n, "nobody", &idx, f->why), 1);
	/* Two people called Ada: ambiguous, and the message lists their IDs. */
	assert_int_equal(cli_contacts_find(f->c, f->n, "ada lovelace", &idx, f->why), 2);
	assert_non_null(strstr(f->why, id_ada));
	assert_int_equal(cli_contacts_find(f->c, f->n, id_ada, &idx, f->why), 0);
	assert_string_equal(f->c[idx].id, id_ada);
}

/* Exports into a string through a temporary file. */
static char *export_text(fx *f, const size_t *idx, size_t nidx, bool provenance, size_t *len)
{
	char path[700];
	FILE *out;
	char *text;

	snprintf(path, sizeof(path), "%s/export.vcf", f->home.dir);
	out = fopen(path, "wb");
	assert_non_null(out);
	assert_int_equal(cli_contacts_export(f->c, f->n, idx, nidx, provenance, 4, out), 0);
	fclose(out);
	text = cxt_read_file(path, len);
	assert_non_null(text);
	return text;
}

static void test_export_stream(void **state)
{
	fx *f = *state;
	char id[CLI_CONTACT_ID_LEN + 1];
	cx_card **cards = NULL;
	cx_card_err err;
	size_t n = 0, len = 0, i, one = 1;
	char *text;

	receive(f, grace_uid, "B", XID1, id);
	receive(f, ada_nouid, "A", XID2, id);
	reload(f);

	text = export_text(f, NULL, 0, false, &len);
	/* One .vcf stream: every card vCard 4.0, CRLF lines, no bookkeeping properties. */
	assert_null(strstr(text, "X-CARDEX"));
	for(i = 0; i < len; i++) {
		if(text[i] == '\n') {
			assert_true(i > 0 && text[i - 1] == '\r');
		}
	}
	assert_int_equal(cx_vcard_parse_all(text, len, 0, &cards, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cx_card_fn(cards[0]), "Ada Lovelace");
	assert_string_equal(cx_card_fn(cards[1]), "Grace Hopper");
	assert_non_null(cx_card_uid(cards[1]));
	cx_card_list_free(cards, n);
	free(text);

	text = export_text(f, NULL, 0, true, &len);
	assert_non_null(strstr(text, "X-CARDEX-PEER:A\r\n"));
	assert_non_null(strstr(text, "X-CARDEX-PEER:B\r\n"));
	free(text);

	text = export_text(f, &one, 1, false, &len);
	assert_int_equal(cx_vcard_parse_all(text, len, 0, &cards, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(cx_card_fn(cards[0]), "Grace Hopper");
	cx_card_list_free(cards, n);
	free(text);
}

static void test_remove(void **state)
{
	fx *f = *state;
	char id[CLI_CONTACT_ID_LEN + 1];

	receive(f, grace_uid, "B", XID1, id);
	assert_int_equal(cli_contacts_remove(&f->st, id, f->why), 0);
	assert_int_equal(cli_contacts_remove(&f->st, id, f->why), 1);
	assert_int_equal(cli_contacts_remove(&f->st, "../profiles/x", f->why), 1);
	reload(f);
	assert_int_equal(f->n, 0);
}

static void test_unreadable_skipped(void **state)
{
	fx *f = *state;
	char id[CLI_CONTACT_ID_LEN + 1];
	char path[CLI_PATH_MAX + 64];

	receive(f, grace_uid, "B", XID1, id);
	snprintf(path, sizeof(path), "%s/contacts/aaaaaaaaaaaa.vcf", f->st.base);
	cxt_write_file(path, "BEGIN:VCARD\r\nVERSION:4.0\r\n", 0600);
	/* Not a contact file at all: ignored. */
	snprintf(path, sizeof(path), "%s/contacts/notes.txt", f->st.base);
	cxt_write_file(path, "hello", 0600);
	reload(f);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->c[0].id, id);
}

static void test_sent_log(void **state)
{
	fx *f = *state;
	char path[CLI_PATH_MAX + 64];
	cli_sent e;
	cJSON *j;
	const cJSON *fields;
	char *text, *nl;

	memset(&e, 0, sizeof(e));
	e.time = 1709285400;
	e.id = "A";
	e.peer = "B";
	e.exchange = XID1;
	e.profile = "work";
	e.fields = "fn,email,uid";
	assert_int_equal(cli_sentlog_append(&f->st, &e, f->why), 0);
	e.profile = NULL;
	e.card_file = "/cards/ada.vcf";
	e.peer = "C";
	assert_int_equal(cli_sentlog_append(&f->st, &e, f->why), 0);

	snprintf(path, sizeof(path), "%s/sent.log", f->st.base);
	assert_int_equal(cxt_mode(path), 0600);
	text = cxt_read_file(path, NULL);
	assert_non_null(text);
	nl = strchr(text, '\n');
	assert_non_null(nl);
	*nl = '\0';
	j = cJSON_Parse(text);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "time")->valuestring, "2024-03-01T09:30:00Z");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "peer")->valuestring, "B");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "profile")->valuestring, "work");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "exchange")->valuestring, XID1);
	fields = cJSON_GetObjectItemCaseSensitive(j, "fields");
	assert_int_equal(cJSON_GetArraySize(fields), 3);
	assert_string_equal(cJSON_GetArrayItem(fields, 1)->valuestring, "email");
	cJSON_Delete(j);
	j = cJSON_Parse(nl + 1);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "card_file")->valuestring, "/cards/ada.vcf");
	assert_null(cJSON_GetObjectItemCaseSensitive(j, "profile"));
	cJSON_Delete(j);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_provenance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_provenance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_uid_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_uid_peer_and_fn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sent_log, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
