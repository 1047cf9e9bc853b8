/*
 * Fuzz target: the vCard reader (common/vcard.h, cx_vcard_parse and
 * cx_vcard_parse_all), which reads whatever file a user hands to the CLI:
 * vCard 4.0, 3.0 and 2.1 (quoted-printable, CHARSET, AGENT), and the 3.0
 * writer.
 *
 * Invariants of an accepted card:
 *   - it passes cx_card_check (a non-empty FN, PHOTO within the limit) and
 *     has at most CX_CARD_MAX_PROPS properties;
 *   - written back with cx_vcard_write and read again, it is the same card;
 *   - its jCard passes cx_jcard_check (the plugin's check of what libcardex
 *     sends), fits a card request that cx_card_decode accepts, and converts
 *     back (cx_card_from_jcard_text) into the same card;
 *   - a PHOTO limit only ever adds a photo-size refusal;
 *   - cx_vcard_parse_all reads the same single card;
 *   - its vCard 3.0 text (cx_vcard_write_version) reads back as a card with
 *     the same FN, or is refused only because the properties 3.0 adds
 *     (LABEL, SORT-STRING, N) pass the property limit.
 * A refused input reports a code in range, a message and no card. A
 * stream reader goes on after a refused card and always ends.
 */
#include "fuzz.h"

#include "card.h"
#include "crypto.h"
#include "jcard.h"
#include "json.h"
#include "proto.h"
#include "vcard.h"

#define PHOTO_LIMIT 64

static void check_refused(const cx_card *card, const cx_card_err *err)
{
	FUZZ_CHECK(card == NULL);
	FUZZ_CHECK(err->code > CX_CARD_OK && err->code < CX_CARD_E__COUNT);
	FUZZ_CHECK(err->msg != NULL && err->msg[0] != '\0');
	FUZZ_CHECK(fuzz_strlen(err->prop, sizeof(err->prop)) < sizeof(err->prop));
}

/* Write, read back, compare. */
static void check_vcard_round_trip(const cx_card *card)
{
	char *text = NULL;
	size_t len = 0;
	cx_card *again = NULL;
	cx_card_err err;

	FUZZ_CHECK(cx_vcard_write(card, &text, &len) == 0);
	FUZZ_CHECK(text != NULL && strlen(text) == len);
	if(cx_vcard_parse(text, len, &again, 0, &err) != 0) {
		fprintf(stderr, "written card refused: line %u %s: %s\n", err.line, err.prop, err.msg);
		FUZZ_CHECK(!"cx_vcard_write output reads back");
	}
	FUZZ_CHECK(cx_card_equal(card, again));
	cx_card_free(again);
	cx_wipe(text, len);
	free(text);
}

/* The jCard passes the plugin's check, travels in a card request, and converts back. */
static void check_jcard(const cx_card *card)
{
	const char *why = NULL;
	cx_card_err err;
	cx_card *back = NULL;
	cx_card_req req;

	cJSON *tree = cx_card_to_jcard(card);
	FUZZ_CHECK(tree != NULL);
	if(cx_jcard_check(tree, &why) != 0) {
		fprintf(stderr, "jCard of a card read from vCard refused: %s\n", why);
		FUZZ_CHECK(!"the jCard of a valid card passes cx_jcard_check");
	}
	cx_json_delete(tree);

	size_t len = 0;
	char *text = cx_card_to_jcard_text(card, &len);
	FUZZ_CHECK(text != NULL && strlen(text) == len);
	if(cx_card_from_jcard_text(text, len, &back, &err) != 0) {
		fprintf(stderr, "jCard text refused: %s: %s\n", err.prop, err.msg);
		FUZZ_CHECK(!"cx_card_to_jcard_text output converts back");
	}
	FUZZ_CHECK(cx_card_equal(card, back));
	cx_card_free(back);

	static const char xid[] = "0123456789abcdef0123456789abcdef";
	size_t need = cx_card_encode(xid, text, len, NULL, 0);
	char *payload = malloc(need + 1);
	FUZZ_CHECK(payload != NULL);
	FUZZ_CHECK(cx_card_encode(xid, text, len, payload, need + 1) == need);
	if(cx_card_decode(payload, need, &req, &why) != CX_CODE_NONE) {
		fprintf(stderr, "card request refused: %s\n", why);
		FUZZ_CHECK(!"a card request carrying a valid card decodes");
	}
	cx_card_req_clear(&req);
	cx_wipe(payload, need + 1);
	free(payload);
	cx_wipe(text, len);
	free(text);
}

/* The 3.0 text reads back with the same name. */
static void check_30(const cx_card *card)
{
	char *text = NULL;
	size_t len = 0;
	cx_card *again = NULL;
	cx_card_err err;

	FUZZ_CHECK(cx_vcard_write_version(card, 3, &text, &len) == 0);
	FUZZ_CHECK(text != NULL && strlen(text) == len);
	if(cx_vcard_parse(text, len, &again, 0, &err) == 0) {
		FUZZ_CHECK(strcmp(cx_card_fn(card), cx_card_fn(again)) == 0);
		cx_card_free(again);
	} else if(err.code != CX_CARD_E_LIMIT) {
		fprintf(stderr, "3.0 text refused: line %u %s: %s\n", err.line, err.prop, err.msg);
		FUZZ_CHECK(!"cx_vcard_write_version 3 output reads back");
	}
	cx_wipe(text, len);
	free(text);
}

static void check_accepted(const char *text, size_t len, const cx_card *card)
{
	cx_card_err err;
	cx_card *limited = NULL;
	cx_card **all = NULL;
	size_t n = 0;

	FUZZ_CHECK(card != NULL);
	FUZZ_CHECK(cx_card_count(card) <= CX_CARD_MAX_PROPS);
	FUZZ_CHECK(cx_card_fn(card) != NULL && cx_card_fn(card)[0] != '\0');
	FUZZ_CHECK(cx_card_check(card, 0, NULL) == 0);
	check_vcard_round_trip(card);
	check_jcard(card);
	check_30(card);

	if(cx_vcard_parse(text, len, &limited, PHOTO_LIMIT, &err) == 0) {
		FUZZ_CHECK(cx_card_equal(card, limited));
		FUZZ_CHECK(cx_card_check(limited, PHOTO_LIMIT, NULL) == 0);
		cx_card_free(limited);
	} else {
		check_refused(limited, &err);
		FUZZ_CHECK(err.code == CX_CARD_E_PHOTO_SIZE);
	}

	FUZZ_CHECK(cx_vcard_parse_all(text, len, 0, &all, &n, &err) == 0);
	FUZZ_CHECK(n == 1 && cx_card_equal(card, all[0]));
	cx_card_list_free(all, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	cx_card *card = NULL;
	cx_card_err err;

	memset(&err, 0, sizeof(err));
	if(cx_vcard_parse(text, size, &card, 0, &err) == 0) {
		check_accepted(text, size, card);
		cx_card_free(card);
		return 0;
	}
	check_refused(card, &err);

	/* Card by card, going on after a refused one: every byte read once, so it ends. */
	cx_vcard_cursor cur = {0};
	for(unsigned rounds = 0;; rounds++) {
		cx_vcard_cursor before = cur;
		cx_card *one = NULL;
		int r = cx_vcard_parse_next(text, size, &cur, &one, 0, &err);
		FUZZ_CHECK(r == 1 || cur.pos > before.pos);
		FUZZ_CHECK(cur.pos <= size);
		if(r == 0) {
			FUZZ_CHECK(cx_card_check(one, 0, NULL) == 0);
			cx_card_free(one);
		} else if(r < 0) {
			check_refused(one, &err);
		} else {
			break;
		}
		FUZZ_CHECK(rounds <= size);
	}

	/* A stream reader may accept more (several cards), never crash or leak. */
	cx_card **all = NULL;
	size_t n = 0;
	if(cx_vcard_parse_all(text, size, 0, &all, &n, &err) == 0) {
		FUZZ_CHECK(n >= 1 && all != NULL);
		for(size_t i = 0; i < n; i++) {
			FUZZ_CHECK(cx_card_check(all[i], 0, NULL) == 0);
		}
		cx_card_list_free(all, n);
	} else {
		FUZZ_CHECK(all == NULL && n == 0);
		check_refused(NULL, &err);
	}
	return 0;
}
