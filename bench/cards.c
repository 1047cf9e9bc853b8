/*
 * Business cards of a fixed size (cards.h). The fields are what a real card
 * carries (name, organisation, phones, e-mail, address, URL); a note pads
 * the card to exactly BENCH_CARD_BYTES so that sizes never drift.
 */
#include "cards.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jcard.h"

struct person {
	const char *fn;
	const char *family;
	const char *given;
	const char *org;
	const char *title;
	const char *work_tel;
	const char *cell_tel;
	const char *email;
	const char *street;
	const char *city;
	const char *postcode;
	const char *country;
	const char *url;
};

static const struct person people[2] = {
	{"Ada Lovelace", "Lovelace", "Ada", "Analytical Engine Works", "Chief Programmer",
		"tel:+44-20-7946-0958", "tel:+44-7700-900123", "ada.lovelace@analytical.example",
		"12 St James's Square", "London", "SW1Y 4JH", "United Kingdom",
		"https://analytical.example/people/ada"},
	{"Grace Hopper", "Hopper", "Grace", "Compiler Systems Laboratory", "Rear Admiral, Research",
		"tel:+1-202-555-0147", "tel:+1-202-555-0199", "grace.hopper@compilers.example",
		"1 Navy Yard Drive", "Arlington", "22202", "United States",
		"https://compilers.example/people/grace"},
};

static const char filler[] = "Met at the cardex demo stand; follow up about the pilot. ";

/* True when text[len] parses and passes the structural jCard check. */
static int card_valid(const char *text, size_t len)
{
	cJSON *root = cJSON_ParseWithLength(text, len);
	int ok = root != NULL && cx_jcard_check(root, NULL) == 0;

	cJSON_Delete(root);
	return ok;
}

size_t bench__card_build(int side, char *buf, size_t cap)
{
	const struct person *p = &people[side != 0];
	const char *tail = "\"]]]";
	size_t head, pad, taillen = strlen(tail);
	int n;

	if (cap <= BENCH_CARD_BYTES)
		return 0;
	n = snprintf(buf, cap,
			"[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],"
			"[\"fn\",{},\"text\",\"%s\"],"
			"[\"n\",{},\"text\",[\"%s\",\"%s\",\"\",\"\",\"\"]],"
			"[\"org\",{},\"text\",\"%s\"],"
			"[\"title\",{},\"text\",\"%s\"],"
			"[\"tel\",{\"type\":[\"work\",\"voice\"]},\"uri\",\"%s\"],"
			"[\"tel\",{\"type\":\"cell\"},\"uri\",\"%s\"],"
			"[\"email\",{\"type\":\"work\"},\"text\",\"%s\"],"
			"[\"adr\",{\"type\":\"work\"},\"text\",[\"\",\"\",\"%s\",\"%s\",\"\",\"%s\",\"%s\"]],"
			"[\"url\",{\"type\":\"work\"},\"uri\",\"%s\"],"
			"[\"lang\",{\"pref\":\"1\"},\"language-tag\",\"en\"],"
			"[\"rev\",{},\"timestamp\",\"2024-05-01T12:00:00Z\"],"
			"[\"note\",{},\"text\",\"",
			p->fn, p->family, p->given, p->org, p->title, p->work_tel, p->cell_tel, p->email,
			p->street, p->city, p->postcode, p->country, p->url);
	if (n < 0 || (size_t)n + taillen >= BENCH_CARD_BYTES)
		return 0;
	head = (size_t)n;
	pad = BENCH_CARD_BYTES - head - taillen;
	for (size_t i = 0; i < pad; i++)
		buf[head + i] = filler[i % (sizeof(filler) - 1)];
	memcpy(buf + head + pad, tail, taillen + 1);
	if (!card_valid(buf, BENCH_CARD_BYTES))
		return 0;
	return BENCH_CARD_BYTES;
}
