/*
 * Fuzz target: cx_card_from_jcard_text (common/card.h), which turns a jCard
 * received from a peer (untrusted JSON text) into the card model.
 *
 * Invariants of an accepted card: a non-empty FN, at most CX_CARD_MAX_PROPS
 * properties; its jCard passes cx_jcard_check and converts back into the same
 * card; its vCard text reads back and is written again identically. A
 * refused input reports a code in range, a message and no card.
 */
#include "fuzz.h"

#include "card.h"
#include "crypto.h"
#include "jcard.h"
#include "json.h"
#include "vcard.h"

static void check_round_trips(const cx_card *card)
{
	cx_card_err err;
	cx_card *back = NULL;
	const char *why = NULL;

	size_t len = 0;
	char *text = cx_card_to_jcard_text(card, &len);
	FUZZ_CHECK(text != NULL && strlen(text) == len);
	if(cx_card_from_jcard_text(text, len, &back, &err) != 0) {
		fprintf(stderr, "jCard text refused: %s: %s\n", err.prop, err.msg);
		FUZZ_CHECK(!"cx_card_to_jcard_text output converts back");
	}
	FUZZ_CHECK(cx_card_equal(card, back));
	cx_card_free(back);
	cx_wipe(text, len);
	free(text);

	cJSON *tree = cx_card_to_jcard(card);
	FUZZ_CHECK(tree != NULL);
	if(cx_jcard_check(tree, &why) != 0) {
		fprintf(stderr, "jCard of a card refused: %s\n", why);
		FUZZ_CHECK(!"the jCard of a valid card passes cx_jcard_check");
	}
	cx_json_delete(tree);

	/*
	 * vCard text is compared as text: an "unknown" value is written as it
	 * stands, so a structured one written and read back is one raw string.
	 */
	char *vcf = NULL;
	size_t vlen = 0;
	FUZZ_CHECK(cx_vcard_write(card, &vcf, &vlen) == 0);
	back = NULL;
	if(cx_vcard_parse(vcf, vlen, &back, 0, &err) != 0) {
		fprintf(stderr, "written card refused: line %u %s: %s\n", err.line, err.prop, err.msg);
		FUZZ_CHECK(!"cx_vcard_write output reads back");
	}
	char *vcf2 = NULL;
	size_t vlen2 = 0;
	FUZZ_CHECK(cx_vcard_write(back, &vcf2, &vlen2) == 0);
	FUZZ_CHECK(vlen2 == vlen && memcmp(vcf, vcf2, vlen) == 0);
	cx_card_free(back);
	cx_wipe(vcf2, vlen2);
	free(vcf2);
	cx_wipe(vcf, vlen);
	free(vcf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	cx_card *card = NULL;
	cx_card_err err;

	memset(&err, 0, sizeof(err));
	if(cx_card_from_jcard_text(text, size, &card, &err) != 0) {
		FUZZ_CHECK(card == NULL);
		FUZZ_CHECK(err.code > CX_CARD_OK && err.code < CX_CARD_E__COUNT);
		FUZZ_CHECK(err.msg != NULL && err.msg[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(card != NULL);
	FUZZ_CHECK(cx_card_count(card) <= CX_CARD_MAX_PROPS);
	FUZZ_CHECK(cx_card_fn(card) != NULL && cx_card_fn(card)[0] != '\0');

	check_round_trips(card);
	cx_card_free(card);
	return 0;
}
