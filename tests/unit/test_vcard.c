/*
 * Unit tests of common/vcard*.c: reading vCard 4.0, 3.0 and 2.1 text,
 * writing 4.0 and 3.0 text (folding, escaping), the conversions to and from jCard through the
 * card model, and the errors, which name the line and the property.
 *
 * The sample files in tests/data/vcard/ are hand-written imitations of what
 * common programs export; each explains itself in '#' lines at its top,
 * which load() strips (vCard has no comment syntax).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "card.h"
#include "jcard.h"
#include "json.h"
#include "vcard.h"
#include "rfc7095.h"

/* ---- helpers ---- */

/* Contents of tests/data/vcard/<name> without its leading '#' lines; the caller frees it. */
static char *load(const char *name, size_t *len)
{
	char path[1024];
	const char *dir = getenv("CARDEX_TEST_DATA");

	if(dir != NULL) {
		snprintf(path, sizeof(path), "%s/vcard/%s", dir, name);
	} else {
		/* Run by hand: find the data next to this source file. */
		const char *slash = strrchr(__FILE__, '/');
		int dlen = slash != NULL ? (int)(slash - __FILE__) : 1;
		snprintf(path, sizeof(path), "%.*s/../data/vcard/%s", dlen, slash != NULL ? __FILE__ : ".", name);
	}
	FILE *f = fopen(path, "rb");
	if(f == NULL) {
		fail_msg("cannot open %s", path);
	}
	char *buf = malloc(65536);
	assert_non_null(buf);
	size_t n = fread(buf, 1, 65535, f);
	fclose(f);
	buf[n] = '\0';
	char *start = buf;
	while(*start == '#') {
		char *nl = strchr(start, '\n');
		assert_non_null(nl);
		start = nl + 1;
	}
	*len = n - (size_t)(start - buf);
	memmove(buf, start, *len + 1);
	return buf;
}

static cx_card *parse_ok(const char *text)
{
	cx_card *card = NULL;
	cx_card_err err = {0};
	if(cx_vcard_parse(text, strlen(text), &card, 0, &err) != 0) {
		char buf[200];
		cx_card_err_format(&err, buf, sizeof(buf));
		fail_msg("vCard rejected: %s", buf);
	}
	assert_non_null(card);
	return card;
}

/* Expects text to be refused with code at line, naming prop ("" for none). */
static void parse_err(const char *text, size_t max_photo, cx_card_code code, unsigned line,
		const char *prop)
{
	cx_card *card = (cx_card *)1;
	cx_card_err err = {0};
	int rc = cx_vcard_parse(text, strlen(text), &card, max_photo, &err);
	if(rc != -1 || err.code != code || err.line != line || strcmp(err.prop, prop) != 0) {
		fail_msg("want %s at line %u (%s), got rc %d %s at line %u (%s): %s", cx_card_err_name(code),
				line, prop, rc, cx_card_err_name(err.code), err.line, err.prop,
				err.msg != NULL ? err.msg : "");
	}
	assert_null(card);
	assert_non_null(err.msg);
	assert_true(strlen(err.msg) > 0);
}

static char *write_ok(const cx_card *card, size_t *len)
{
	/*
	 * Static, not automatic: once this is inlined, gcc 12 at -O3 cannot rule
	 * out that cx_vcard_write stored &out in out itself, and warns that the
	 * text returned may point into this frame (-Wdangling-pointer).
	 */
	static char *out;
	size_t n = 0;
	out = NULL;
	assert_int_equal(cx_vcard_write(card, &out, &n), 0);
	assert_non_null(out);
	assert_int_equal(n, strlen(out));
	if(len != NULL) {
		*len = n;
	}
	return out;
}

/* The lines of vCard text: each ends in CRLF, holds at most 75 octets and valid UTF-8 by itself. */
static void assert_conformant(const char *text)
{
	const char *s = text;
	assert_true(strncmp(text, "BEGIN:VCARD\r\nVERSION:4.0\r\n", 26) == 0);
	while(*s != '\0') {
		const char *crlf = strstr(s, "\r\n");
		assert_non_null(crlf);
		size_t n = (size_t)(crlf - s);
		assert_true(n <= 75);
		assert_null(memchr(s, '\n', n));
		assert_int_equal(cx_card__utf8_bad(s, n), n);
		s = crlf + 2;
	}
	assert_true(strlen(text) >= 11 && strcmp(text + strlen(text) - 11, "END:VCARD\r\n") == 0);
}

/* text with every fold (CRLF and one blank) removed; the caller frees it. */
static char *unfold(const char *text)
{
	char *out = malloc(strlen(text) + 1);
	char *o = out;
	assert_non_null(out);
	for(const char *s = text; *s != '\0'; s++) {
		if(s[0] == '\r' && s[1] == '\n' && (s[2] == ' ' || s[2] == '\t')) {
			s += 2;
			continue;
		}
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* True when the unfolded text has this exact content line. */
static bool has_line(const char *text, const char *line)
{
	char *u = unfold(text);
	size_t n = strlen(line);
	bool found = false;
	for(const char *s = u; !found && s != NULL && *s != '\0';) {
		const char *e = strstr(s, "\r\n");
		found = e != NULL && (size_t)(e - s) == n && strncmp(s, line, n) == 0;
		s = e != NULL ? e + 2 : NULL;
	}
	if(!found) {
		fprintf(stderr, "missing line: %s\nin:\n%s", line, u);
	}
	free(u);
	return found;
}

/* card -> vCard -> card -> jCard -> card: each step gives the same card. */
static void assert_round_trips(const cx_card *card)
{
	char *text = write_ok(card, NULL);
	assert_conformant(text);
	cx_card *again = parse_ok(text);
	assert_true(cx_card_equal(card, again));
	char *text2 = write_ok(again, NULL);
	assert_string_equal(text, text2);
	cJSON *j = cx_card_to_jcard(again);
	assert_non_null(j);
	assert_int_equal(cx_jcard_check(j, NULL), 0);
	cx_card *back = NULL;
	assert_int_equal(cx_card_from_jcard(j, &back, NULL), 0);
	assert_true(cx_card_equal(card, back));
	cx_card_free(back);
	cx_json_delete(j);
	cx_card_free(again);
	free(text);
	free(text2);
}

#define BEGIN "BEGIN:VCARD\r\nVERSION:4.0\r\n"
#define END "END:VCARD\r\n"
#define CARD(body) BEGIN "FN:Ada Lovelace\r\n" body END

/* ---- folding ---- */

static void test_fold_multibyte(void **state)
{
	(void)state;
	/* 3-byte CJK and 4-byte emoji; the ASCII prefix moves them over every fold offset. */
	for(int shift = 0; shift < 8; shift++) {
		char note[2048];
		size_t at = 0;
		for(int i = 0; i < shift; i++) {
			note[at++] = 'a';
		}
		for(int i = 0; i < 40; i++) {
			const char *piece = i % 3 == 2 ? "\xf0\x9f\x98\x80" : "\xe6\x97\xa5\xe6\x9c\xac";
			memcpy(note + at, piece, strlen(piece));
			at += strlen(piece);
		}
		note[at] = '\0';
		cx_card *card = cx_card_new();
		assert_int_equal(cx_card_set(card, "fn", "\xe7\x94\xb0\xe4\xb8\xad"), CX_CARD_OK);
		assert_int_equal(cx_card_set(card, "note", note), CX_CARD_OK);
		char *text = write_ok(card, NULL);
		assert_conformant(text);
		/* Continuation lines start with the fold blank, then a character's first byte. */
		for(const char *s = strstr(text, "\r\n "); s != NULL; s = strstr(s + 1, "\r\n ")) {
			assert_true(((unsigned char)s[3] & 0xc0) != 0x80);
		}
		char *u = unfold(text);
		char want[2200];
		snprintf(want, sizeof(want), BEGIN "FN:\xe7\x94\xb0\xe4\xb8\xad\r\nNOTE:%s\r\n" END, note);
		assert_string_equal(u, want);
		cx_card *back = parse_ok(text);
		assert_string_equal(cx_card_get(back, "note", 0), note);
		assert_true(cx_card_equal(card, back));
		assert_round_trips(card);
		cx_card_free(back);
		free(u);
		free(text);
		cx_card_free(card);
	}
}

static void test_fold_ascii_limits(void **state)
{
	(void)state;
	static const struct {
		size_t value_len; /* after "NOTE:", 5 octets */
		int lines;
	} cases[] = {{70, 1}, {71, 2}, {70 + 74, 2}, {70 + 75, 3}, {70 + 74 * 2, 3}, {70 + 74 * 2 + 1, 4}};

	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char note[512];
		memset(note, 'x', cases[i].value_len);
		note[cases[i].value_len] = '\0';
		cx_card *card = cx_card_new();
		assert_int_equal(cx_card_set(card, "fn", "A"), CX_CARD_OK);
		assert_int_equal(cx_card_set(card, "note", note), CX_CARD_OK);
		char *text = write_ok(card, NULL);
		assert_conformant(text);
		const char *line = strstr(text, "NOTE:");
		int lines = 1;
		for(const char *s = strstr(line, "\r\n"); s[2] == ' '; s = strstr(s + 2, "\r\n")) {
			lines++;
		}
		assert_int_equal(lines, cases[i].lines);
		/* Full lines are used: the first 75 octets, the others a blank and 74. */
		if(cases[i].lines > 1) {
			assert_int_equal(strstr(line, "\r\n") - line, 75);
		}
		cx_card *back = parse_ok(text);
		assert_true(cx_card_equal(card, back));
		cx_card_free(back);
		free(text);
		cx_card_free(card);
	}
}

/* ---- escaping ---- */

static void test_escape_round_trip(void **state)
{
	(void)state;
	cx_card *card = NULL;
	const char *j = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"Doe, Jane; \\\\o/\"],"
			"[\"n\",{},\"text\",[\"Doe;Smith\",\"Jane,Mary\",[\"A\",\"B, Jr\"],\"\",\"\\\\\"]],"
			"[\"note\",{},\"text\",\"a,b;c\\\\d\\ne\\n\\nf\"],"
			"[\"org\",{},\"text\",[\"ABC, Inc.\",\"North; South\"]],"
			"[\"categories\",{},\"text\",\"a,b\",\"c\"],"
			"[\"adr\",{},\"text\",[\"\",\"\",\"Line 1\\nLine 2\",\"Town\",\"\",\"\",\"\"]],"
			"[\"x-list\",{},\"text\",\"p,q\",\"r;s\"],"
			"[\"x-struct\",{},\"text\",[\"p;q\",[\"r\",\"s,t\"]]],"
			"[\"x-param\",{\"x-q\":\"say \\\"hi\\\"^\\nbye\",\"x-c\":[\"a,b\",\"c;d\",\"e:f\"]},\"text\",\"v\"]]]";
	cx_card_err err = {0};
	assert_int_equal(cx_card_from_jcard_text(j, strlen(j), &card, &err), 0);
	char *text = write_ok(card, NULL);
	assert_true(has_line(text, "FN:Doe\\, Jane; \\\\o/"));
	assert_true(has_line(text, "N:Doe\\;Smith;Jane\\,Mary;A,B\\, Jr;;\\\\"));
	assert_true(has_line(text, "NOTE:a\\,b;c\\\\d\\ne\\n\\nf"));
	assert_true(has_line(text, "ORG:ABC\\, Inc.;North\\; South"));
	assert_true(has_line(text, "CATEGORIES:a\\,b,c"));
	assert_true(has_line(text, "ADR:;;Line 1\\nLine 2;Town;;;"));
	assert_true(has_line(text, "X-LIST;VALUE=text:p\\,q,r\\;s"));
	assert_true(has_line(text, "X-STRUCT;VALUE=text:p\\;q;r,s\\,t"));
	/* RFC 6868 in parameters: ^' for a quote, ^n for a newline, ^^ for a caret. */
	assert_true(has_line(text, "X-PARAM;VALUE=text;X-Q=say ^'hi^'^^^nbye;X-C=\"a,b\",\"c;d\",\"e:f\":v"));
	assert_round_trips(card);
	free(text);
	cx_card_free(card);

	/* 4.0 input: \N is a newline too, and \; may appear in any text. */
	card = parse_ok(CARD("NOTE:x\\Ny\\;z\\,w\\\\\r\n"));
	assert_string_equal(cx_card_get(card, "note", 0), "x\ny;z,w\\");
	cx_card_free(card);
}

/* ---- vCard 3.0 ---- */

static void test_apple_30(void **state)
{
	(void)state;
	size_t len;
	char *text = load("apple-3.0.vcf", &len);
	cx_card *card = NULL;
	cx_card_err err = {0};

	assert_int_equal(cx_vcard_parse(text, len, &card, CX_VCARD_PHOTO_MAX_DEFAULT, &err), 0);
	assert_string_equal(cx_card_fn(card), "Dr. Johnny Q. Appleseed Jr.");
	const cx_card_prop *n = cx_card_find(card, "n", 0);
	assert_int_equal(n->values[0].ncomps, 5);
	assert_string_equal(cx_card_prop_str(n, 0, 4, 0), "Jr.");
	assert_int_equal(cx_card_find(card, "nickname", 0)->nvalues, 2);
	assert_string_equal(cx_card_prop_str(cx_card_find(card, "org", 0), 0, 1, 0), "Orchard Engineering");

	/* type=INTERNET dropped, type=pref -> PREF=1, type values lowercased. */
	const cx_card_prop *email = cx_card_find(card, "email", 0);
	assert_int_equal(email->nparams, 2);
	assert_string_equal(email->params[0].name, "type");
	assert_int_equal(email->params[0].nvalues, 1);
	assert_string_equal(email->params[0].values[0], "work");
	assert_string_equal(email->params[1].name, "pref");
	assert_string_equal(email->params[1].values[0], "1");
	email = cx_card_find(card, "email", 1);
	assert_int_equal(email->nparams, 1);
	assert_string_equal(email->params[0].values[0], "home");
	const cx_card_prop *tel = cx_card_find(card, "tel", 0);
	assert_int_equal(tel->params[0].nvalues, 2);
	assert_string_equal(tel->params[0].values[1], "voice");
	assert_string_equal(tel->type, "text");

	/* Groups stay; Apple's labels are kept as written. */
	tel = cx_card_find(card, "tel", 2);
	assert_string_equal(tel->group, "item1");
	const cx_card_prop *label = cx_card_find(card, "x-ablabel", 0);
	assert_string_equal(label->group, "item1");
	assert_string_equal(label->type, "unknown");
	assert_string_equal(cx_card_prop_str(label, 0, 0, 0), "_$!<Other>!$_");
	const cx_card_prop *adr = cx_card_find(card, "adr", 0);
	assert_string_equal(adr->group, "item2");
	assert_string_equal(cx_card_prop_str(adr, 0, 2, 0), "1 Orchard Way\nBuilding 4");
	assert_string_equal(cx_card_prop_str(adr, 0, 6, 0), "United States");
	const cx_card_prop *url = cx_card_find(card, "url", 0);
	assert_string_equal(url->type, "uri");
	assert_int_equal(url->nparams, 1); /* type=pref alone became PREF=1 */
	assert_string_equal(url->params[0].name, "pref");

	const cx_card_prop *social = cx_card_find(card, "x-socialprofile", 0);
	assert_int_equal(social->nparams, 2);
	assert_string_equal(social->params[1].name, "x-user");
	assert_string_equal(social->params[1].values[0], "jappleseed");
	assert_string_equal(cx_card_get(card, "note", 0), "Met at the developer conference, booth 3.\nLikes: coffee; tea.");
	/* X-APPLE-OMIT-YEAR=1604: a birthday without a year. */
	const cx_card_prop *bday = cx_card_find(card, "bday", 0);
	assert_string_equal(cx_card_prop_str(bday, 0, 0, 0), "--0229");
	assert_int_equal(bday->nparams, 0);
	/* ENCODING=b;TYPE=JPEG -> a data: URI, the fold blanks gone. */
	const cx_card_prop *photo = cx_card_find(card, "photo", 0);
	assert_string_equal(photo->type, "uri");
	assert_int_equal(photo->nparams, 0);
	const char *uri = cx_card_prop_str(photo, 0, 0, 0);
	assert_true(strncmp(uri, "data:image/jpeg;base64,/9j/4AAQSkZJRg", 37) == 0);
	assert_null(strchr(uri, ' '));
	assert_int_equal(strlen(uri), 23 + 292); /* 219 bytes of JPEG-like data in base64 */
	assert_string_equal(cx_card_get(card, "x-abuid", 0), "5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE:ABPerson");

	char *out = write_ok(card, NULL);
	assert_conformant(out);
	assert_true(has_line(out, "PRODID:-//Apple Inc.//macOS 14.5//EN"));
	assert_true(has_line(out, "EMAIL;TYPE=work;PREF=1:johnny@example.com"));
	assert_true(has_line(out, "TEL;TYPE=cell,voice;PREF=1:+1 (408) 555-0100"));
	assert_true(has_line(out, "item1.TEL:+1 408 555 0102"));
	assert_true(has_line(out, "item1.X-ABLABEL:_$!<Other>!$_"));
	assert_true(has_line(out, "item2.ADR;TYPE=work;PREF=1:;;1 Orchard Way\\nBuilding 4;Cupertino;CA;95014;United States"));
	assert_true(has_line(out, "X-SOCIALPROFILE;TYPE=twitter;X-USER=jappleseed:https://twitter.com/jappleseed"));
	assert_true(has_line(out, "NOTE:Met at the developer conference\\, booth 3.\\nLikes: coffee; tea."));
	assert_true(has_line(out, "BDAY:--0229"));
	assert_null(strstr(out, "VERSION:3.0"));
	assert_null(strstr(out, "INTERNET"));
	assert_null(strstr(out, "ENCODING"));
	assert_round_trips(card);

	/* The photo limit applies to the converted data: URI. */
	cx_card *tmp = (cx_card *)1;
	assert_int_equal(cx_vcard_parse(text, len, &tmp, 100, &err), -1);
	assert_null(tmp);
	assert_int_equal(err.code, CX_CARD_E_PHOTO_SIZE);
	assert_string_equal(err.prop, "PHOTO");
	assert_int_equal(err.line, 22); /* 7 comment lines stripped from the file */

	free(out);
	free(text);
	cx_card_free(card);
}

static void test_google_30(void **state)
{
	(void)state;
	size_t len, n;
	char *text = load("google-3.0.vcf", &len);
	cx_card **cards = NULL;
	cx_card_err err = {0};

	assert_int_equal(cx_vcard_parse_all(text, len, 0, &cards, &n, &err), 0);
	assert_int_equal(n, 2);
	cx_card *a = cards[0];
	assert_string_equal(cx_card_fn(a), "Mar\xc3\xad""a Jos\xc3\xa9 Garc\xc3\xad""a");
	const cx_card_prop *email = cx_card_find(a, "email", 1);
	assert_int_equal(email->nparams, 1);
	assert_int_equal(email->params[0].nvalues, 1);
	assert_string_equal(email->params[0].values[0], "work");
	assert_string_equal(cx_card_prop_str(cx_card_find(a, "adr", 0), 0, 2, 0), "Calle Mayor 1, 3\xc2\xba B");
	assert_string_equal(cx_card_get(a, "bday", 0), "19900715");
	/* Google escapes the colon of URLs; a URI has no backslash, so the escape goes. */
	assert_string_equal(cx_card_get(a, "url", 0), "http://www.example.es");
	assert_string_equal(cx_card_find(a, "x-ablabel", 0)->group, "item1");
	assert_string_equal(cx_card_get(a, "x-ablabel", 0), "");
	assert_int_equal(cx_card_find(a, "categories", 0)->nvalues, 2);
	assert_string_equal(cx_card_prop_str(cx_card_find(a, "categories", 0), 1, 0, 0), "Starred in Android");
	assert_string_equal(cx_card_get(a, "photo", 0), "https://lh3.googleusercontent.com/contacts/AAAAexample");
	assert_round_trips(a);

	cx_card *b = cards[1];
	assert_string_equal(cx_card_fn(b), "\xe7\x94\xb0\xe4\xb8\xad \xe5\xae\x8f");
	assert_int_equal(cx_card_find(b, "fn", 0)->nparams, 0); /* CHARSET dropped */
	assert_int_equal(cx_card_find(b, "n", 0)->nparams, 0);
	const cx_card_prop *tel = cx_card_find(b, "tel", 0);
	assert_int_equal(tel->nparams, 1); /* TEL;CELL is TYPE=cell */
	assert_string_equal(tel->params[0].name, "type");
	assert_string_equal(tel->params[0].values[0], "cell");
	assert_int_equal(cx_card_find(b, "email", 0)->nparams, 0); /* TYPE=INTERNET alone: no TYPE left */
	assert_string_equal(cx_card_get(b, "geo", 0), "geo:35.681236,139.767125");
	assert_string_equal(cx_card_find(b, "tz", 0)->type, "utc-offset");
	assert_string_equal(cx_card_get(b, "tz", 0), "+0900");
	assert_string_equal(cx_card_get(b, "rev", 0), "20240301T093000Z");
	char *out = write_ok(b, NULL);
	assert_true(has_line(out, "TZ;VALUE=utc-offset:+0900"));
	assert_true(has_line(out, "GEO:geo:35.681236,139.767125"));
	assert_true(has_line(out, "REV:20240301T093000Z"));
	free(out);
	assert_round_trips(b);

	cx_card_list_free(cards, n);
	free(text);
}

static void test_30_details(void **state)
{
	(void)state;
	cx_card *card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\n"
			"NOTE:C:\\Users\\ada\\, done\\x\r\n"
			"X-RAW:a\\qb\r\n"
			"EMAIL;TYPE=PREF;PREF=2:a@example.org\r\n"
			"LOGO;ENCODING=b:AAAA\r\n"
			"SOUND;ENCODING=BASE64;TYPE=audio/ogg:BBBB\r\n"
			"PHOTO;VALUE=URI:http\\://example.org/a.png\r\n"
			"KEY;ENCODING=b;TYPE=PGP:CCCC\r\n"
			"BDAY;VALUE=date:1985-04-12\r\n"
			"TZ;VALUE=text:Europe/Paris\r\n"
			"END:VCARD\r\n");
	/* Unknown 3.0 escapes stay as written. */
	assert_string_equal(cx_card_get(card, "note", 0), "C:\\Users\\ada, done\\x");
	assert_string_equal(cx_card_get(card, "x-raw", 0), "a\\qb");
	/* An explicit PREF wins over TYPE=PREF. */
	const cx_card_prop *email = cx_card_find(card, "email", 0);
	assert_int_equal(email->nparams, 1);
	assert_string_equal(email->params[0].name, "pref");
	assert_string_equal(email->params[0].values[0], "2");
	assert_string_equal(cx_card_get(card, "logo", 0), "data:application/octet-stream;base64,AAAA");
	assert_string_equal(cx_card_get(card, "sound", 0), "data:audio/ogg;base64,BBBB");
	assert_string_equal(cx_card_get(card, "key", 0), "data:application/pgp-keys;base64,CCCC");
	assert_string_equal(cx_card_get(card, "photo", 0), "http://example.org/a.png");
	assert_string_equal(cx_card_find(card, "photo", 0)->type, "uri");
	assert_string_equal(cx_card_find(card, "bday", 0)->type, "date");
	assert_string_equal(cx_card_get(card, "bday", 0), "19850412");
	assert_string_equal(cx_card_find(card, "tz", 0)->type, "text");
	assert_round_trips(card);
	cx_card_free(card);

	/* The same unknown escape is an error in 4.0. */
	parse_err(CARD("NOTE:C:\\Users\r\n"), 0, CX_CARD_E_ESCAPE, 4, "NOTE");
}

/* ---- 4.0 ---- */

/*
 * RFC 7095 Appendix B: the vCard becomes the jCard. Two deliberate
 * differences from the RFC's text: the vCard says VALUE=utc-offset for TZ
 * (RFC 6350 makes TZ text by default), and ANNIVERSARY 20090808T1430-0500
 * becomes "2009-08-08T14:30-05:00" where the RFC shows "14:30:00", seconds
 * the vCard does not have.
 */
static void test_rfc7095_appendix_b(void **state)
{
	(void)state;
	size_t len;
	char *text = load("rfc7095-b.vcf", &len);
	cx_card *card = NULL;
	cx_card_err err = {0};

	assert_int_equal(cx_vcard_parse(text, len, &card, 0, &err), 0);
	cJSON *got = cx_card_to_jcard(card);
	cJSON *want = cJSON_Parse(rfc7095_jcard);
	assert_non_null(want);
	if(!cJSON_Compare(want, got, true)) {
		char *g = cJSON_PrintUnformatted(got);
		fprintf(stderr, "got %s\n", g);
		free(g);
		fail();
	}
	char *out = write_ok(card, NULL);
	assert_true(has_line(out, "TEL;VALUE=uri;TYPE=work,voice;PREF=1:tel:+1-418-656-9254;ext=102"));
	assert_true(has_line(out, "N:Perreault;Simon;;;ing. jr,M.Sc."));
	assert_true(has_line(out, "ADR;TYPE=work:;Suite D2-630;2875 Laurier;Quebec;QC;G1V 2M2;Canada"));
	assert_true(has_line(out, "ANNIVERSARY:20090808T1430-0500"));
	assert_round_trips(card);
	free(out);
	cJSON_Delete(want);
	cx_json_delete(got);
	cx_card_free(card);
	free(text);
}

static void test_round_trip_40(void **state)
{
	(void)state;
	cx_card *card = parse_ok(
			"BEGIN:VCARD\r\n"
			"VERSION:4.0\r\n"
			"KIND:individual\r\n"
			"FN:Ada Lovelace\r\n"
			"N;SORT-AS=\"Lovelace,Ada\":Lovelace;Ada;Augusta;Countess;\r\n"
			"NICKNAME:Ada,The Enchantress of Numbers\r\n"
			"GENDER:F;she/her\r\n"
			"ORG;SORT-AS=Analytical:Analytical Engines Ltd;R&D\r\n"
			"TITLE:Mathematician\r\n"
			"ROLE:Programmer\r\n"
			"work.TEL;VALUE=uri;TYPE=work,voice;PREF=1:tel:+44-20-7946-0001\r\n"
			"work.X-ABLABEL:office\r\n"
			"TEL;TYPE=cell:+44 7700 900123\r\n"
			"EMAIL;TYPE=work:ada@example.org\r\n"
			"URL:https://example.org/ada\r\n"
			"ADR;TYPE=home;LABEL=\"12 St James's Square\\nLondon\":;;12 St James's Square;London;;SW1Y 4JH;UK\r\n"
			"NOTE;LANGUAGE=en:First programmer.\\nWrote notes on the engine\\, in 1843.\r\n"
			"PHOTO;MEDIATYPE=image/png:data:image/png;base64,iVBORw0KGgo=\r\n"
			"UID:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\r\n"
			"REV:20240301T093000Z\r\n"
			"BDAY;VALUE=text:circa 1815\r\n"
			"X-SOCIALPROFILE;TYPE=mastodon;X-USER=ada:https://example.social/@ada\r\n"
			"X-ODD;X-P=\"a;b\":kept\\as\\is;even,this\r\n"
			"CATEGORIES:math,computing\r\n"
			"END:VCARD\r\n");
	assert_int_equal(cx_card_count(card), 22);
	assert_string_equal(cx_card_find(card, "n", 0)->params[0].values[1], "Ada");
	assert_string_equal(cx_card_get(card, "x-odd", 0), "kept\\as\\is;even,this");
	assert_string_equal(cx_card_find(card, "adr", 0)->params[1].values[0], "12 St James's Square\\nLondon");
	assert_round_trips(card);
	char *out = write_ok(card, NULL);
	assert_true(has_line(out, "X-ODD;X-P=\"a;b\":kept\\as\\is;even,this"));
	assert_true(has_line(out, "X-SOCIALPROFILE;TYPE=mastodon;X-USER=ada:https://example.social/@ada"));
	assert_true(has_line(out, "BDAY;VALUE=text:circa 1815"));
	assert_true(has_line(out, "work.TEL;VALUE=uri;TYPE=work,voice;PREF=1:tel:+44-20-7946-0001"));
	assert_true(has_line(out, "N;SORT-AS=Lovelace,Ada:Lovelace;Ada;Augusta;Countess;"));
	/* VERSION comes right after BEGIN even if the card had it elsewhere. */
	cx_card *late = parse_ok("BEGIN:VCARD\r\nFN:A\r\nVERSION:4.0\r\nEND:VCARD\r\n");
	char *late_out = write_ok(late, NULL);
	assert_string_equal(late_out, "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nEND:VCARD\r\n");
	free(late_out);
	cx_card_free(late);
	free(out);
	cx_card_free(card);
}

static void test_unknown_properties(void **state)
{
	(void)state;
	const char *lines[] = {
		"X-SOCIALPROFILE;TYPE=twitter;X-USER=jdoe:https://twitter.com/jdoe",
		"X-SOCIALPROFILE;TYPE=linkedin;X-N=\"Doe, J.\":https://linkedin.com/in/jdoe",
		"X-FOO:raw\\qtext\\, with;semicolons,and commas",
		"item9.X-ABLABEL:_$!<Anniversary>!$_",
		"X-EMPTY:",
	};
	char text[2048];
	size_t at = (size_t)snprintf(text, sizeof(text), BEGIN "FN:J\r\n");
	for(size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%s\r\n", lines[i]);
	}
	snprintf(text + at, sizeof(text) - at, END);
	cx_card *card = parse_ok(text);
	const cx_card_prop *p = cx_card_find(card, "x-socialprofile", 1);
	assert_string_equal(p->type, "unknown");
	assert_string_equal(p->params[1].name, "x-n");
	assert_string_equal(p->params[1].values[0], "Doe, J.");
	char *out = write_ok(card, NULL);
	/* Written back unchanged, and the whole card is exactly what came in. */
	assert_string_equal(out, text);
	assert_round_trips(card);
	/* In jCard they are "unknown" strings, kept as written (RFC 7095 section 5). */
	cJSON *j = cx_card_to_jcard(card);
	char *jt = cJSON_PrintUnformatted(j);
	assert_non_null(strstr(jt, "[\"x-foo\",{},\"unknown\",\"raw\\\\qtext\\\\, with;semicolons,and commas\"]"));
	assert_non_null(strstr(jt, "[\"x-socialprofile\",{\"type\":\"twitter\",\"x-user\":\"jdoe\"},\"unknown\",\"https://twitter.com/jdoe\"]"));
	free(jt);
	cx_json_delete(j);
	free(out);
	cx_card_free(card);
}

static void test_lenient_input(void **state)
{
	(void)state;
	/* Bare LF, a byte order mark, blank lines, lower case, tab folds, groups of any case. */
	cx_card *card = parse_ok("\xef\xbb\xbf\n\nbegin:vcard\nversion:4.0\n\nfn:Ada\n\tLovelace\nItem1.note;language=en:x\n"
			" y\nEnd:Vcard \n\n");
	assert_string_equal(cx_card_fn(card), "AdaLovelace");
	const cx_card_prop *note = cx_card_find(card, "NOTE", 0);
	assert_string_equal(note->group, "Item1");
	assert_string_equal(note->params[0].name, "language");
	assert_string_equal(cx_card_get(card, "note", 0), "xy");
	cx_card_free(card);

	/* A fold may even split a character (unfolded first, then checked). */
	card = parse_ok(CARD("NOTE:\xe6\x97\r\n \xa5\r\n"));
	assert_string_equal(cx_card_get(card, "note", 0), "\xe6\x97\xa5");
	cx_card_free(card);
}

/* ---- what a property may hold (card.h), found by fuzzing ---- */

/*
 * Fuzzer findings fuzz_vcard-empty-value-type.vcf and
 * fuzz_vcard-value-type-not-token.vcf: VALUE must be one value type name,
 * else the jCard carries a type cx_jcard_check (empty) or the receiving
 * cx_card_from_jcard (not a name) refuses.
 */
static void test_value_type_names(void **state)
{
	(void)state;
	parse_err("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nNOTE;VALUE=:z\r\nEND:VCARD\r\n", 0, CX_CARD_E_SYNTAX, 4,
			"NOTE");
	parse_err("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nNOTE;VALUE=x_y:z\r\nEND:VCARD\r\n", 0, CX_CARD_E_SYNTAX,
			4, "NOTE");
	parse_err(CARD("NOTE;VALUE=\"x y\":z\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");
	parse_err(CARD("NOTE;VALUE=x\":z\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");
	parse_err(CARD("NOTE;VALUE=text,uri:z\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");
	parse_err(CARD("NOTE;VALUE=text;VALUE=uri:z\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");

	/* Any name is a type (iana-token, x-name), quoted or not, and travels as one. */
	cx_card *card = parse_ok(CARD("NOTE;VALUE=\"TEXT\":z\r\nX-FOO;VALUE=X-Mine:a,b;c\r\n"));
	assert_string_equal(cx_card_find(card, "note", 0)->type, "text");
	assert_string_equal(cx_card_find(card, "x-foo", 0)->type, "x-mine");
	assert_string_equal(cx_card_get(card, "x-foo", 0), "a,b;c");
	char *out = write_ok(card, NULL);
	assert_true(has_line(out, "NOTE:z"));
	assert_true(has_line(out, "X-FOO;VALUE=x-mine:a,b;c"));
	assert_round_trips(card);
	free(out);
	cx_card_free(card);
}

/*
 * Fuzzer finding fuzz_vcard-v30-tz-newline.vcf: only a UTC offset
 * (+hh, +hhmm, +hh:mm) of a 3.0 TZ becomes a utc-offset value; other text,
 * which may hold an escaped newline, stays text and reads back the same.
 */
static void test_30_tz(void **state)
{
	(void)state;
	cx_card *card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nTZ:-05\\n00\r\nEND:VCARD\r\n");
	const cx_card_prop *tz = cx_card_find(card, "tz", 0);
	assert_string_equal(tz->type, "text");
	assert_string_equal(cx_card_get(card, "tz", 0), "-05\n00");
	char *out = write_ok(card, NULL);
	assert_true(has_line(out, "TZ:-05\\n00"));
	assert_round_trips(card);
	free(out);
	cx_card_free(card);

	static const struct {
		const char *in, *type, *value;
	} cases[] = {
		{"-05", "utc-offset", "-05"},
		{"+0530", "utc-offset", "+0530"},
		{"-05:00", "utc-offset", "-0500"},
		{"+14:00", "utc-offset", "+1400"},
		{"-05:0", "text", "-05:0"},
		{"-0500x", "text", "-0500x"},
		{"+05:00:00", "text", "+05:00:00"},
		{"-05\\,00", "text", "-05,00"},
		{"-5", "text", "-5"},
		{"America/New_York", "text", "America/New_York"},
	};
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nTZ:%s\r\nEND:VCARD\r\n", cases[i].in);
		card = parse_ok(text);
		assert_string_equal(cx_card_find(card, "tz", 0)->type, cases[i].type);
		assert_string_equal(cx_card_get(card, "tz", 0), cases[i].value);
		assert_round_trips(card);
		cx_card_free(card);
	}
}

/*
 * Fuzzer finding fuzz_card_jcard-fn-two-values.json (test_card.c refuses the
 * jCard): how values, components and lists of each type are written, and
 * that each shape the card model accepts reads back the same (card.h).
 */
static void test_value_shapes(void **state)
{
	(void)state;
	const char *j = "[\"vcard\",[[\"version\",{},\"text\",\"4.0\"],[\"fn\",{},\"text\",\"A,x\"],"
			"[\"nickname\",{},\"text\",\"a,b\",\"c;d\",\"\"],"
			"[\"org\",{},\"text\",[\"a,b\",\"c;d\"]],"
			"[\"x-t\",{},\"text\",\"a\",\"b\"],"
			"[\"x-s\",{},\"text\",[\"a\",[\"b\",\"c\"]]],"
			"[\"x-s\",{},\"text\",[\"\",\"\"]],"
			"[\"x-n\",{},\"integer\",1,-2,\"\"],"
			"[\"x-d\",{},\"date\",\"1985-04-12\",\"--02-03\"],"
			"[\"x-u\",{},\"uri\",\"http://a/?x=1,2;y\"],"
			"[\"x-r\",{},\"unknown\",\"a,b;c\\\\,d\"],"
			"[\"url\",{},\"uri\",\"http://a/?x=1,2;y\"],"
			"[\"bday\",{},\"date-and-or-time\",\"circa 1800, London\"],"
			"[\"tel\",{},\"integer\",\"1,2\"]]]";
	cx_card *card = NULL;
	cx_card_err err = {0};
	assert_int_equal(cx_card_from_jcard_text(j, strlen(j), &card, &err), 0);
	char *out = write_ok(card, NULL);
	/* Text: ',' between values and list strings, ';' between components, both escaped in strings. */
	assert_true(has_line(out, "FN:A\\,x"));
	assert_true(has_line(out, "NICKNAME:a\\,b,c;d,"));
	assert_true(has_line(out, "ORG:a\\,b;c\\;d"));
	assert_true(has_line(out, "X-T;VALUE=text:a,b"));
	assert_true(has_line(out, "X-S;VALUE=text:a;b,c"));
	assert_true(has_line(out, "X-S;VALUE=text:;"));
	/* Other types as they stand; ',' separates the values of the list types of an unknown name. */
	assert_true(has_line(out, "X-N;VALUE=integer:1,-2,"));
	assert_true(has_line(out, "X-D;VALUE=date:19850412,--0203"));
	assert_true(has_line(out, "X-U;VALUE=uri:http://a/?x=1,2;y"));
	assert_true(has_line(out, "X-R:a,b;c\\,d"));
	assert_true(has_line(out, "URL:http://a/?x=1,2;y"));
	assert_true(has_line(out, "BDAY:circa 1800, London"));
	assert_true(has_line(out, "TEL;VALUE=integer:1,2"));
	assert_round_trips(card);
	free(out);
	cx_card_free(card);

	/* Read from vCard: the same splits; an unescaped ',' in FN is kept in its one value. */
	card = parse_ok(BEGIN "FN:A,x\r\nX-N;VALUE=integer:1,2\r\nX-U;VALUE=uri:a,b\r\nTEL;VALUE=integer:1,2\r\n"
			"X-T;VALUE=text:a,b\r\nX-S;VALUE=text:a,b;c\r\n" END);
	assert_string_equal(cx_card_fn(card), "A,x");
	assert_int_equal(cx_card_find(card, "x-n", 0)->nvalues, 2);
	assert_int_equal(cx_card_find(card, "x-u", 0)->nvalues, 1);
	assert_int_equal(cx_card_find(card, "tel", 0)->nvalues, 1);
	assert_int_equal(cx_card_find(card, "x-t", 0)->nvalues, 2);
	const cx_card_prop *xs = cx_card_find(card, "x-s", 0);
	assert_int_equal(xs->nvalues, 1);
	assert_int_equal(xs->values[0].ncomps, 2);
	assert_int_equal(xs->values[0].comps[0].nsubs, 2);
	out = write_ok(card, NULL);
	assert_true(has_line(out, "FN:A\\,x"));
	assert_round_trips(card);
	free(out);
	cx_card_free(card);
}

/*
 * Fuzzer finding fuzz_card_jcard-type-param-comma.json (test_card.c refuses
 * the jCard): a quoted TYPE or SORT-AS value is a list, as RFC 6350 writes
 * TYPE="voice,home", so a TYPE value "wo,rk" could not be written; other
 * quoted values are one value.
 */
static void test_quoted_params(void **state)
{
	(void)state;
	cx_card *card = parse_ok(CARD("TEL;TYPE=\"wo,rk\";X-P=\"wo,rk\":tel:1\r\n"));
	const cx_card_prop *tel = cx_card_find(card, "tel", 0);
	assert_int_equal(tel->params[0].nvalues, 2);
	assert_string_equal(tel->params[0].values[1], "rk");
	assert_int_equal(tel->params[1].nvalues, 1);
	assert_string_equal(tel->params[1].values[0], "wo,rk");
	char *out = write_ok(card, NULL);
	assert_true(has_line(out, "TEL;TYPE=wo,rk;X-P=\"wo,rk\":tel:1"));
	assert_round_trips(card);
	free(out);
	cx_card_free(card);
}

/* Lines that would not survive a jCard round trip, or would end the card when written. */
static void test_reserved(void **state)
{
	(void)state;
	/* jCard writes the property group as a "group" parameter. */
	parse_err(CARD("NOTE;GROUP=x:z\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");
	/* FN is text; "unknown" is no type for a known property. */
	parse_err(BEGIN "FN;VALUE=integer:5\r\n" END, 0, CX_CARD_E_PROPERTY, 3, "FN");
	parse_err(BEGIN "FN;VALUE=uri:urn:x\r\n" END, 0, CX_CARD_E_PROPERTY, 3, "FN");
	parse_err(CARD("NOTE;VALUE=unknown:z\r\n"), 0, CX_CARD_E_PROPERTY, 4, "NOTE");
	/* BEGIN and END delimit cards, with or without a group or parameters. */
	parse_err(CARD("END;X=1:VCARD\r\n"), 0, CX_CARD_E_BEGIN_END, 4, "END");
	parse_err(CARD("item1.END:VCARD\r\n"), 0, CX_CARD_E_BEGIN_END, 4, "END");
	parse_err(CARD("BEGIN;X=1:VCARD\r\n"), 0, CX_CARD_E_BEGIN_END, 4, "BEGIN");

	cx_card *card = parse_ok(CARD("X-FOO;VALUE=unknown:a\\q\r\n"));
	assert_string_equal(cx_card_find(card, "x-foo", 0)->type, "unknown");
	assert_round_trips(card);
	cx_card_free(card);

	/* 3.0: a text value is no base64 binary (it may hold a newline, which no URI has). */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nPHOTO;ENCODING=b;VALUE=text:AA\\nBB\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_find(card, "photo", 0)->type, "text");
	assert_string_equal(cx_card_get(card, "photo", 0), "AA\nBB");
	assert_round_trips(card);
	cx_card_free(card);

	/* 3.0: a TYPE that is no media type (here "\nJPEG", by RFC 6868's ^n) must not
	 * reach the data: URI; the data stays, as application/octet-stream. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nPHOTO;ENCODING=b;TYPE=^nJPEG:/9j/4AAQ\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_find(card, "photo", 0)->type, "uri");
	assert_string_equal(cx_card_get(card, "photo", 0), "data:application/octet-stream;base64,/9j/4AAQ");
	assert_round_trips(card);
	cx_card_free(card);

	/* 3.0: binary data with characters outside base64 is no data: URI either. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j:4AAQ\r\nEND:VCARD\r\n");
	assert_true(strncmp(cx_card_get(card, "photo", 0), "data:", 5) != 0);
	assert_round_trips(card);
	cx_card_free(card);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
	(void)state;
	/* FN: missing (reported at BEGIN) or empty. */
	parse_err(BEGIN "N:Lovelace;Ada;;;\r\n" END, 0, CX_CARD_E_NO_FN, 1, "FN");
	parse_err(BEGIN "FN:\r\n" END, 0, CX_CARD_E_NO_FN, 3, "FN");
	/* Broken escaping, on the line holding the backslash, folded or not. */
	parse_err(CARD("NOTE:a\\tb\r\n"), 0, CX_CARD_E_ESCAPE, 4, "NOTE");
	parse_err(CARD("NOTE:ab\\\r\n"), 0, CX_CARD_E_ESCAPE, 4, "NOTE");
	parse_err(CARD("NOTE:abc\r\n def\r\n gh\\:\r\n"), 0, CX_CARD_E_ESCAPE, 6, "NOTE");
	parse_err(CARD("N:a\\x;b;;;\r\n"), 0, CX_CARD_E_ESCAPE, 4, "N");
	/* Truncated: no END:VCARD (the last line is reported). */
	parse_err(BEGIN "FN:Ada\r\nNOTE:x\r\n", 0, CX_CARD_E_TRUNCATED, 4, "");
	parse_err(BEGIN "FN:Ada", 0, CX_CARD_E_TRUNCATED, 3, "");
	/* Invalid UTF-8, on its physical line. */
	parse_err(CARD("NOTE:caf\xc3(\r\n"), 0, CX_CARD_E_UTF8, 4, "NOTE");
	parse_err(CARD("NOTE:abc\r\n d\xff\r\n"), 0, CX_CARD_E_UTF8, 5, "NOTE");
	parse_err(CARD("NOTE:\xc0\xaf\r\n"), 0, CX_CARD_E_UTF8, 4, "NOTE");
	parse_err(CARD("NOTE:\xed\xa0\x80\r\n"), 0, CX_CARD_E_UTF8, 4, "NOTE");
	parse_err(BEGIN "FN:\xf4\x90\x80\x80\r\n" END, 0, CX_CARD_E_UTF8, 3, "FN");
	/* A PHOTO over the limit. */
	parse_err(CARD("NOTE:x\r\nPHOTO:data:image/png;base64,AAAAAAAA\r\n"), 29, CX_CARD_E_PHOTO_SIZE, 5, "PHOTO");
	/* A line without ':'. */
	parse_err(CARD("NOTE:ok\r\nthis line has no colon\r\n"), 0, CX_CARD_E_NO_COLON, 5, "THIS");
	parse_err(CARD("NOTE\r\n"), 0, CX_CARD_E_NO_COLON, 4, "NOTE");
	parse_err(CARD("TEL;TYPE=\"a:b\"\r\n"), 0, CX_CARD_E_NO_COLON, 4, "TEL");
	/* BEGIN/END. */
	parse_err(BEGIN "FN:A\r\nEND:VCALENDAR\r\n", 0, CX_CARD_E_BEGIN_END, 4, "END");
	parse_err("BEGIN:VCALENDAR\r\n" END, 0, CX_CARD_E_BEGIN_END, 1, "");
	parse_err("FN:A\r\n", 0, CX_CARD_E_BEGIN_END, 1, "");
	parse_err(BEGIN "FN:A\r\n" BEGIN "FN:B\r\n" END END, 0, CX_CARD_E_BEGIN_END, 4, "BEGIN");
	/* VERSION. */
	parse_err("BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\n", 0, CX_CARD_E_VERSION, 1, "VERSION");
	parse_err("BEGIN:VCARD\r\nVERSION:2.0\r\nFN:A\r\nEND:VCARD\r\n", 0, CX_CARD_E_VERSION, 2, "VERSION");
	parse_err(BEGIN "FN:A\r\nVERSION:3.0\r\n" END, 0, CX_CARD_E_VERSION, 4, "VERSION");
	/* Other syntax. */
	parse_err(CARD("TEL;TYPE=\"work:+1\r\n"), 0, CX_CARD_E_SYNTAX, 4, "TEL");
	parse_err(CARD("TEL;TYPE=\"work\"x:+1\r\n"), 0, CX_CARD_E_SYNTAX, 4, "TEL");
	parse_err(CARD("TEL;WORK:+1\r\n"), 0, CX_CARD_E_SYNTAX, 4, "TEL");
	parse_err(CARD("TEL;=x:+1\r\n"), 0, CX_CARD_E_SYNTAX, 4, "TEL");
	parse_err(CARD("NO TE:x\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NO");
	parse_err(CARD(":x\r\n"), 0, CX_CARD_E_SYNTAX, 4, "");
	parse_err(CARD("NOTE:a\x01z\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");
	/* A lone CR ends a line (classic Mac OS files): "z" is then a line of its own. */
	parse_err(CARD("NOTE:a\rz\r\n"), 0, CX_CARD_E_NO_COLON, 5, "Z");
	parse_err(CARD("NOTE:a\0z\r\n"), 0, CX_CARD_E_TRUNCATED, 4, "");
	/* One card only, and at least one. */
	parse_err(CARD("") "\r\nFN:x\r\n", 0, CX_CARD_E_EXTRA, 6, "");
	parse_err("\r\n \r\n", 0, CX_CARD_E_EMPTY, 2, "");
	parse_err("", 0, CX_CARD_E_EMPTY, 0, "");

	/* A NUL byte inside a line: given by length, refused as a control character. */
	static const char nul[] = BEGIN "FN:A\0B\r\n" END;
	cx_card *card = NULL;
	cx_card_err err = {0};
	assert_int_equal(cx_vcard_parse(nul, sizeof(nul) - 1, &card, 0, &err), -1);
	assert_int_equal(err.code, CX_CARD_E_SYNTAX);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.prop, "FN");

	/* At most CX_CARD_MAX_PROPS properties with VERSION, so that the jCard passes cx_jcard_check. */
	size_t cap = 64 + (CX_CARD_MAX_PROPS + 2) * 12;
	char *big = malloc(cap);
	assert_non_null(big);
	for(int extra = 0; extra < 2; extra++) {
		size_t at = (size_t)snprintf(big, cap, BEGIN "FN:A\r\n");
		for(int i = 0; i < CX_CARD_MAX_PROPS - 2 + extra; i++) {
			at += (size_t)snprintf(big + at, cap - at, "NOTE:%d\r\n", i % 10);
		}
		snprintf(big + at, cap - at, END);
		if(extra == 0) {
			card = parse_ok(big);
			assert_int_equal(cx_card_count(card), CX_CARD_MAX_PROPS - 1);
			cJSON *j = cx_card_to_jcard(card);
			assert_int_equal(cx_jcard_check(j, NULL), 0);
			assert_int_equal(cx_card_add(card, "note", "one too many"), CX_CARD_E_LIMIT);
			cx_json_delete(j);
			cx_card_free(card);
			card = NULL;
		} else {
			parse_err(big, 0, CX_CARD_E_LIMIT, 2 + CX_CARD_MAX_PROPS, "NOTE");
		}
	}
	free(big);

	/* The error text names line and property, never the value. */
	assert_int_equal(cx_vcard_parse(CARD("NOTE:secret\\q\r\n"), strlen(CARD("NOTE:secret\\q\r\n")), &card, 0, &err), -1);
	char buf[200];
	cx_card_err_format(&err, buf, sizeof(buf));
	assert_true(strncmp(buf, "line 4: NOTE: ", 14) == 0);
	assert_null(strstr(buf, "secret"));
}

static void test_stream(void **state)
{
	(void)state;
	const char *text = CARD("") "\r\n" BEGIN "FN:Bob\r\n" END BEGIN "FN:Eve\r\nNOTE:\\x\r\n" END;
	size_t len = strlen(text);
	cx_vcard_cursor cur = {0};
	cx_card *card = NULL;
	cx_card_err err = {0};

	assert_int_equal(cx_vcard_parse_next(text, len, &cur, &card, 0, &err), 0);
	assert_string_equal(cx_card_fn(card), "Ada Lovelace");
	assert_int_equal(cur.line, 4);
	cx_card_free(card);
	assert_int_equal(cx_vcard_parse_next(text, len, &cur, &card, 0, &err), 0);
	assert_string_equal(cx_card_fn(card), "Bob");
	cx_card_free(card);
	/* Lines are counted from the start of the stream. */
	assert_int_equal(cx_vcard_parse_next(text, len, &cur, &card, 0, &err), -1);
	assert_null(card);
	assert_int_equal(err.code, CX_CARD_E_ESCAPE);
	assert_int_equal(err.line, 13);
	assert_string_equal(err.prop, "NOTE");

	cx_card **cards = (cx_card **)1;
	size_t n = 9;
	assert_int_equal(cx_vcard_parse_all(text, len, 0, &cards, &n, &err), -1);
	assert_null(cards);
	assert_int_equal(n, 0);
	assert_int_equal(err.line, 13);

	/* Without the bad card: three, then the end. */
	const char *ok = CARD("") BEGIN "FN:Bob\r\n" END "\r\n";
	assert_int_equal(cx_vcard_parse_all(ok, strlen(ok), 0, &cards, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(cx_card_fn(cards[1]), "Bob");
	cx_card_list_free(cards, n);
	cur = (cx_vcard_cursor){0};
	assert_int_equal(cx_vcard_parse_next(ok, strlen(ok), &cur, &card, 0, &err), 0);
	cx_card_free(card);
	assert_int_equal(cx_vcard_parse_next(ok, strlen(ok), &cur, &card, 0, &err), 0);
	cx_card_free(card);
	assert_int_equal(cx_vcard_parse_next(ok, strlen(ok), &cur, &card, 0, &err), 1);
	assert_null(card);
	assert_int_equal(cx_vcard_parse_all("\r\n", 2, 0, &cards, &n, &err), -1);
	assert_int_equal(err.code, CX_CARD_E_EMPTY);
	cx_card_list_free(NULL, 0);
}

static void test_select_written(void **state)
{
	(void)state;
	size_t len;
	char *text = load("apple-3.0.vcf", &len);
	cx_card *card = NULL;
	assert_int_equal(cx_vcard_parse(text, len, &card, 0, NULL), 0);
	cx_card *sel = cx_card_select(card, "fn,org,email,url");
	char *out = write_ok(sel, NULL);
	assert_string_equal(out, "BEGIN:VCARD\r\nVERSION:4.0\r\n"
			"FN:Dr. Johnny Q. Appleseed Jr.\r\n"
			"ORG:Example Fruit Co.;Orchard Engineering\r\n"
			"EMAIL;TYPE=work;PREF=1:johnny@example.com\r\n"
			"EMAIL;TYPE=home:johnny.a@example.net\r\n"
			"item3.URL;PREF=1:https://www.example.com/johnny\r\n"
			"item3.X-ABLABEL:_$!<HomePage>!$_\r\n"
			"END:VCARD\r\n");
	free(out);
	cx_card_free(sel);
	cx_card_free(card);
	free(text);
}

/* ---- vCard 2.1 and the 3.0 to 4.0 conversion ---- */

/* The only value string of the index-th property called name. */
static const char *str_of(const cx_card *card, const char *name, size_t index)
{
	const cx_card_prop *p = cx_card_find(card, name, index);
	if(p == NULL) {
		fail_msg("no %s #%zu", name, index);
	}
	return cx_card_prop_str(p, 0, 0, 0);
}

/* The values of parameter name of p joined with ',' into buf ("" when absent). */
static const char *param_of(const cx_card_prop *p, const char *name, char *buf, size_t cap)
{
	long i = cx_card__param_index(p, name);
	buf[0] = '\0';
	for(size_t j = 0; i >= 0 && j < p->params[i].nvalues; j++) {
		size_t k = strlen(buf);
		snprintf(buf + k, cap - k, "%s%s", j > 0 ? "," : "", p->params[i].values[j]);
	}
	return buf;
}

static cx_card *load_ok(const char *name)
{
	size_t len;
	char *text = load(name, &len);
	cx_card *card = NULL;
	cx_card_err err = {0};
	if(cx_vcard_parse(text, len, &card, 0, &err) != 0) {
		char buf[200];
		cx_card_err_format(&err, buf, sizeof(buf));
		fail_msg("%s rejected: %s", name, buf);
	}
	free(text);
	return card;
}

/*
 * Every card read writes as 4.0 and as 3.0 text that reads back: the 4.0
 * text as the same card, the 3.0 text with the same FN, N, e-mails and
 * phone numbers (tel: URIs become numbers).
 */
static void assert_both_versions(const cx_card *card)
{
	cx_card *back;

	assert_round_trips(card);

	char *t3 = NULL;
	size_t n3 = 0;
	assert_int_equal(cx_vcard_write_version(card, 3, &t3, &n3), 0);
	assert_int_equal(strncmp(t3, "BEGIN:VCARD\r\nVERSION:3.0\r\n", 26), 0);
	for(const char *s = t3; *s != '\0';) {
		const char *crlf = strstr(s, "\r\n");
		assert_non_null(crlf);
		assert_true(crlf - s <= 75);
		s = crlf + 2;
	}
	back = parse_ok(t3);
	assert_string_equal(cx_card_fn(back), cx_card_fn(card));
	assert_non_null(cx_card_find(back, "n", 0));
	for(size_t i = 0; cx_card_find(card, "email", i) != NULL; i++) {
		assert_string_equal(str_of(back, "email", i), str_of(card, "email", i));
	}
	for(size_t i = 0; cx_card_find(card, "tel", i) != NULL; i++) {
		const char *tel = str_of(card, "tel", i);
		assert_string_equal(str_of(back, "tel", i), strncmp(tel, "tel:", 4) == 0 ? tel + 4 : tel);
	}
	assert_null(cx_card_find(back, "tel", cx_card_count(card)));
	cx_card_free(back);
	free(t3);
}

static void test_21_android(void **state)
{
	(void)state;
	char buf[256];
	cx_card *card = load_ok("android-2.1.vcf");

	/* Quoted-printable UTF-8; soft line breaks join inside a word ("1=" "35", "T=" "unnel"). */
	assert_string_equal(cx_card_fn(card), "J\xc3\xbcrgen M\xc3\xbcller");
	const cx_card_prop *n = cx_card_find(card, "n", 0);
	assert_int_equal(n->values[0].ncomps, 5);
	assert_string_equal(cx_card_prop_str(n, 0, 0, 0), "M\xc3\xbcller");
	assert_string_equal(cx_card_prop_str(n, 0, 1, 0), "J\xc3\xbcrgen");
	assert_int_equal(n->nparams, 0); /* CHARSET and ENCODING are gone */
	const cx_card_prop *adr = cx_card_find(card, "adr", 0);
	assert_string_equal(cx_card_prop_str(adr, 0, 2, 0), "Stra\xc3\x9f" "e des 17. Juni 135");
	assert_string_equal(cx_card_prop_str(adr, 0, 3, 0), "Berlin");
	assert_string_equal(param_of(adr, "type", buf, sizeof(buf)), "home");
	assert_string_equal(str_of(card, "note", 0),
			"Erste Zeile\n\xc3\x9c" "ber Br\xc3\xbc" "cken und Tunnel, zweite Zeile.");
	/* Bare types: TEL;CELL;PREF is TYPE=cell;PREF=1. */
	const cx_card_prop *tel = cx_card_find(card, "tel", 0);
	assert_string_equal(param_of(tel, "type", buf, sizeof(buf)), "cell");
	assert_string_equal(param_of(tel, "pref", buf, sizeof(buf)), "1");
	assert_string_equal(param_of(cx_card_find(card, "tel", 2), "type", buf, sizeof(buf)), "x-assistant");
	/* The base64 photo, its blank line after it, the bare JPEG type. */
	const char *photo = str_of(card, "photo", 0);
	assert_int_equal(strncmp(photo, "data:image/jpeg;base64,AAECAwQF", 31), 0);
	assert_null(strchr(photo, ' '));
	assert_int_equal(strlen(photo), strlen("data:image/jpeg;base64,") + 684);
	/* Android's nickname row is the NICKNAME it stands for. */
	assert_string_equal(str_of(card, "nickname", 0), "Jogi");
	assert_null(cx_card_find(card, "x-android-custom", 0));
	assert_string_equal(str_of(card, "bday", 0), "19750321");
	assert_both_versions(card);
	cx_card_free(card);
}

static void test_21_outlook(void **state)
{
	(void)state;
	char buf[256];
	cx_card *card = load_ok("outlook2003-2.1.vcf");

	/* Windows-1252 as raw 8-bit bytes and in quoted-printable. */
	assert_string_equal(cx_card_fn(card), "H\xc3\xa9l\xc3\xa8ne Lef\xc3\xa8vre");
	assert_string_equal(str_of(card, "title", 0), "Charg\xc3\xa9" "e d\xe2\x80\x99" "affaires");
	assert_string_equal(str_of(card, "note", 0), "Rencontr\xc3\xa9" "e au salon \xe2\x82\xacuro 2003 "
			"\xe2\x80\x93 stand 12.\nPr\xc3\xa9" "f\xc3\xa8re le th\xc3\xa9.");
	assert_string_equal(param_of(cx_card_find(card, "n", 0), "language", buf, sizeof(buf)), "fr-fr");
	/* The LABEL is the LABEL parameter of the ADR of its type. */
	assert_null(cx_card_find(card, "label", 0));
	const cx_card_prop *adr = cx_card_find(card, "adr", 0);
	assert_string_equal(param_of(adr, "label", buf, sizeof(buf)),
			"29 boulevard Haussmann\nB\xc3\xa2timent A\nParis 75009\nFrance");
	assert_string_equal(cx_card_prop_str(adr, 0, 2, 0), "29 boulevard Haussmann\nB\xc3\xa2timent A");
	assert_null(cx_card_find(card, "adr", 1));
	/* EMAIL;PREF;INTERNET: PREF=1 and no TYPE. */
	const cx_card_prop *email = cx_card_find(card, "email", 0);
	assert_int_equal(email->nparams, 1);
	assert_string_equal(param_of(email, "pref", buf, sizeof(buf)), "1");
	assert_both_versions(card);
	cx_card_free(card);

	card = load_ok("outlook2007-2.1.vcf");
	assert_string_equal(cx_card_fn(card), "Dr. Bj\xc3\xb6rn Gr\xc3\xb6\xc3\x9f" "er");
	adr = cx_card_find(card, "adr", 0);
	assert_string_equal(param_of(adr, "label", buf, sizeof(buf)),
			"Bahnhofstra\xc3\x9f" "e 1\nZ\xc3\xbcrich 8001\nSchweiz");
	assert_string_equal(param_of(adr, "pref", buf, sizeof(buf)), "1");
	assert_string_equal(param_of(adr, "type", buf, sizeof(buf)), "work");
	assert_int_equal(strncmp(str_of(card, "photo", 0), "data:image/jpeg;base64,/9j/4AAQ", 31), 0);
	/* The property after the photo's blank line is its own. */
	assert_int_equal(strncmp(str_of(card, "x-ms-ol-design", 0), "<card xmlns=", 12), 0);
	assert_int_equal(cx_card_find(card, "x-ms-ol-design", 0)->nparams, 0);
	assert_both_versions(card);
	cx_card_free(card);
}

static void test_21_blackberry_agent(void **state)
{
	(void)state;
	char buf[64];
	cx_card *card = load_ok("blackberry-2.1.vcf");

	/* No FN in 2.1: made from N, before it. */
	assert_string_equal(cx_card_fn(card), "Siobhan O'Brien");
	assert_string_equal(cx_card_prop_at(card, 0)->name, "fn");
	assert_int_equal(cx_card_find(card, "n", 0)->values[0].ncomps, 5);
	/* The nested AGENT card: RELATED;VALUE=text;TYPE=agent with its name. */
	const cx_card_prop *rel = cx_card_find(card, "related", 0);
	assert_string_equal(rel->type, "text");
	assert_string_equal(cx_card_prop_str(rel, 0, 0, 0), "Aoife Walsh");
	assert_string_equal(param_of(rel, "type", buf, sizeof(buf)), "agent");
	assert_null(cx_card_find(card, "agent", 0));
	/* Its lines are not the card's: one TEL;WORK of ours, and CATEGORIES after it. */
	assert_string_equal(str_of(card, "tel", 0), "+353 1 555 0100");
	assert_null(cx_card_find(card, "tel", 3));
	assert_string_equal(str_of(card, "categories", 0), "Business");
	assert_both_versions(card);
	cx_card_free(card);

	/* 3.0 inline AGENT: escaped vCard text. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Boss\r\n"
			"AGENT:BEGIN:VCARD\\nVERSION:3.0\\nFN:Susan Thomas\\nTEL:+1-919-555-1234\\nEND:VCARD\\n\r\n"
			"AGENT;VALUE=uri:CID:JQPUBLIC.part3.960129T083020.xyzMail@host3.com\r\nAGENT:\r\nEND:VCARD\r\n");
	rel = cx_card_find(card, "related", 0);
	assert_string_equal(cx_card_prop_str(rel, 0, 0, 0), "Susan Thomas");
	rel = cx_card_find(card, "related", 1);
	assert_string_equal(rel->type, "uri");
	assert_string_equal(cx_card_prop_str(rel, 0, 0, 0), "CID:JQPUBLIC.part3.960129T083020.xyzMail@host3.com");
	assert_null(cx_card_find(card, "related", 2)); /* the empty one is gone */
	cx_card_free(card);
	/* An AGENT that is no vCard but a name. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Boss\r\nAGENT:Susan Thomas\\, assistant\r\nEND:VCARD\r\n");
	rel = cx_card_find(card, "related", 0);
	assert_string_equal(rel->type, "text");
	assert_string_equal(cx_card_prop_str(rel, 0, 0, 0), "Susan Thomas, assistant");
	cx_card_free(card);
}

static void test_21_docomo(void **state)
{
	(void)state;
	char buf[128];
	cx_card *card = load_ok("docomo-2.1.vcf");

	/* Shift_JIS, raw and quoted-printable; FN made from N, family name first. */
	assert_string_equal(cx_card_fn(card), "\xe5\xb1\xb1\xe7\x94\xb0 \xe5\xa4\xaa\xe9\x83\x8e");
	const cx_card_prop *n = cx_card_find(card, "n", 0);
	/* The reading (SOUND;X-IRMC-N, half-width katakana) is what the name sorts by. */
	assert_string_equal(param_of(n, "sort-as", buf, sizeof(buf)),
			"\xef\xbe\x94\xef\xbe\x8f\xef\xbe\x80\xef\xbe\x9e,\xef\xbe\x80\xef\xbe\x9b\xef\xbd\xb3");
	assert_null(cx_card_find(card, "sound", 0));
	assert_string_equal(cx_card_prop_str(cx_card_find(card, "adr", 0), 0, 4, 0), "\xe6\x9d\xb1\xe4\xba\xac\xe9\x83\xbd");
	assert_string_equal(str_of(card, "note", 0),
			"\xe4\xbc\x9a\xe8\xad\xb0\xe3\x81\xa7\xe4\xbc\x9a\xe3\x81\xa3\xe3\x81\x9f");
	assert_both_versions(card);
	cx_card_free(card);
}

static void test_30_lotus_notes(void **state)
{
	(void)state;
	char buf[128];
	cx_card *card = load_ok("lotus-notes-3.0.vcf");

	/* RFC 6350 Appendix A: gone, or carried by parameters of other properties. */
	static const char *const gone[] = {"profile", "name", "mailer", "class", "sort-string", "label", "agent"};
	for(size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		assert_null(cx_card_find(card, gone[i], 0));
	}
	assert_string_equal(param_of(cx_card_find(card, "n", 0), "sort-as", buf, sizeof(buf)), "Sato");
	assert_string_equal(str_of(card, "source", 0), "ldap://ldap.example.com/cn=Kenji%20Sato,o=Example");
	/* TYPE=X400 and INTERNET go; the removed ADR types postal and parcel too. */
	assert_int_equal(cx_card_find(card, "email", 1)->nparams, 0);
	assert_string_equal(str_of(card, "email", 1), "G=Kenji;S=Sato;O=Example;P=Example;A=;C=jp");
	const cx_card_prop *adr = cx_card_find(card, "adr", 0);
	assert_string_equal(param_of(adr, "type", buf, sizeof(buf)), "work");
	assert_string_equal(param_of(adr, "label", buf, sizeof(buf)),
			"1-1 Marunouchi\nChiyoda-ku, Tokyo 100-0005\nJapan");
	/* The home LABEL has no ADR: it becomes one, with empty components. */
	adr = cx_card_find(card, "adr", 1);
	assert_string_equal(param_of(adr, "type", buf, sizeof(buf)), "home");
	assert_string_equal(param_of(adr, "label", buf, sizeof(buf)), "Dormitory 3\nTsukuba");
	assert_int_equal(adr->values[0].ncomps, 7);
	char *joined = cx_card_prop_join(adr, "");
	assert_string_equal(joined, "");
	free(joined);
	const cx_card_prop *rel = cx_card_find(card, "related", 0);
	assert_string_equal(rel->type, "uri");
	assert_string_equal(cx_card_prop_str(rel, 0, 0, 0), "mailto:assistant@example.com");
	assert_string_equal(cx_card_find(card, "tz", 0)->type, "utc-offset");
	assert_both_versions(card);
	cx_card_free(card);

	/* A SORT-STRING with no N nor ORG is kept as X-SORT-STRING; one with commas is a list. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nSORT-STRING:Ex\r\nEND:VCARD\r\n");
	assert_string_equal(str_of(card, "x-sort-string", 0), "Ex");
	cx_card_free(card);
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:X\r\nORG:Y\r\nSORT-STRING:Lovelace\\, Ada\r\nEND:VCARD\r\n");
	assert_string_equal(param_of(cx_card_find(card, "org", 0), "sort-as", buf, sizeof(buf)), "Lovelace,Ada");
	cx_card_free(card);
}

static void test_line_ends(void **state)
{
	(void)state;
	cx_card *card = load_ok("crcrlf-3.0.vcf");
	assert_string_equal(cx_card_fn(card), "Chidi Okafor");
	assert_string_equal(str_of(card, "note", 0), "Exported on Windows, converted once more on the way.");
	assert_both_versions(card);
	cx_card_free(card);

	card = load_ok("bom-lf-4.0.vcf");
	assert_string_equal(cx_card_fn(card), "Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m");
	assert_both_versions(card);
	cx_card_free(card);

	/* CR CR LF lines are counted once each: the error names line 4. */
	parse_err("BEGIN:VCARD\r\r\nVERSION:4.0\r\r\nFN:A\r\r\nNOTE:\\q\r\r\nEND:VCARD\r\r\n", 0,
			CX_CARD_E_ESCAPE, 4, "NOTE");
	/* Classic Mac OS: CR alone. */
	card = parse_ok("BEGIN:VCARD\rVERSION:3.0\rFN:Mac\rNOTE:a\r b\rEND:VCARD\r");
	assert_string_equal(str_of(card, "note", 0), "ab");
	cx_card_free(card);
}

static void test_21_details(void **state)
{
	(void)state;
	char buf[64];
	cx_card *card;

	/* Blanks after a soft break's '=' (some writers leave them) do not hide it. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\nNOTE;ENCODING=QUOTED-PRINTABLE:one=20=  \r\ntwo \t\r\nEND:VCARD\r\n");
	assert_string_equal(str_of(card, "note", 0), "one two");
	cx_card_free(card);
	/* A soft break right before END:VCARD ends the value. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nFN;ENCODING=QUOTED-PRINTABLE:Ada=\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_fn(card), "Ada");
	cx_card_free(card);
	/* Bare QUOTED-PRINTABLE and a charset name in any spelling. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nFN;QUOTED-PRINTABLE;CHARSET=iso-8859-1:Ren=E9\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_fn(card), "Ren\xc3\xa9");
	assert_int_equal(cx_card_find(card, "fn", 0)->nparams, 0);
	cx_card_free(card);
	/* 2.1 without CHARSET: UTF-8 when it is, else Windows-1252. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Ren\xc3\xa9\r\nNOTE:\x80 5\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_fn(card), "Ren\xc3\xa9");
	assert_string_equal(str_of(card, "note", 0), "\xe2\x82\xac 5");
	cx_card_free(card);
	/* 2.1 has no lists: ',' stays in N and ADR, and separates only NICKNAME and CATEGORIES. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nN:Smith, Jr.;John\r\nCATEGORIES:a,b\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_fn(card), "John Smith, Jr.");
	assert_int_equal(cx_card_find(card, "n", 0)->values[0].comps[0].nsubs, 1);
	assert_int_equal(cx_card_find(card, "categories", 0)->nvalues, 2);
	cx_card_free(card);
	/* Base64 lines that are not indented; VALUE=URL; a CONTENT-ID part; ENCODING=8BIT. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:B\r\nPHOTO;ENCODING=BASE64;TYPE=GIF:R0lG\r\nODlh\r\nAQAB\r\n\r\n"
			"LOGO;VALUE=URL;TYPE=PNG:http://example.com/l.png\r\nSOUND;VALUE=CONTENT-ID:<part1@example>\r\n"
			"NOTE;ENCODING=8BIT:x\r\nEND:VCARD\r\n");
	assert_string_equal(str_of(card, "photo", 0), "data:image/gif;base64,R0lGODlhAQAB");
	const cx_card_prop *logo = cx_card_find(card, "logo", 0);
	assert_string_equal(logo->type, "uri");
	assert_string_equal(param_of(logo, "mediatype", buf, sizeof(buf)), "image/png");
	assert_int_equal(logo->nparams, 1);
	assert_string_equal(str_of(card, "sound", 0), "cid:part1@example");
	assert_int_equal(cx_card_find(card, "note", 0)->nparams, 0);
	assert_both_versions(card);
	cx_card_free(card);
	/* Quoted-printable line breaks: newlines in text, \n kept in values kept as written. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nFN:C\r\nX-A;ENCODING=QUOTED-PRINTABLE:a=0D=0Ab\r\nEND:VCARD\r\n");
	assert_string_equal(str_of(card, "x-a", 0), "a\\nb");
	assert_both_versions(card);
	cx_card_free(card);
	/* Android rows other than the nickname stay as written; an escaped ';' in a nickname is one. */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\n"
			"X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;Bee\\;Jay;1;;;;;;;;;;;;;\r\n"
			"X-ANDROID-CUSTOM:vnd.android.cursor.item/relation;Carol;14;;;;;;;;;;;;;\r\nEND:VCARD\r\n");
	assert_string_equal(str_of(card, "nickname", 0), "Bee;Jay");
	assert_string_equal(str_of(card, "x-android-custom", 0), "vnd.android.cursor.item/relation;Carol;14;;;;;;;;;;;;;");
	assert_both_versions(card);
	cx_card_free(card);
	/* Quoted-printable in a 3.0 card (some writers do it). */
	card = parse_ok("BEGIN:VCARD\r\nVERSION:3.0\r\nFN;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:=C3=89mile\r\nEND:VCARD\r\n");
	assert_string_equal(cx_card_fn(card), "\xc3\x89mile");
	cx_card_free(card);
}

/* Fuzz findings of the 2.1 reading, minimised. */
static void test_21_fuzz_findings(void **state)
{
	(void)state;
	char name[120];
	char text[600];
	cx_card *card;

	/*
	 * A base64 value that is no base64 (kept as written), then a property
	 * whose name is longer than a line: written, the name is folded, and
	 * its first piece alone looks like base64; it is not the photo's.
	 */
	memset(name, 'V', 100);
	name[100] = '\0';
	snprintf(text, sizeof(text), "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nPHOTO;ENCODING=b;TYPE=JPEG:AA:BB\r\n"
			"%s;TYPE=x:1\r\nEND:VCARD\r\n", name);
	card = parse_ok(text);
	assert_string_equal(str_of(card, "photo", 0), "AA:BB");
	assert_round_trips(card);
	cx_card_free(card);
	/* A value decoded from quoted-printable and a CHARSET is plain UTF-8 text afterwards, in 4.0 too. */
	card = parse_ok(BEGIN "FN;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:caf=E9=3D\r\n" END);
	assert_string_equal(cx_card_fn(card), "caf\xc3\xa9=");
	assert_int_equal(cx_card_find(card, "fn", 0)->nparams, 0);
	assert_round_trips(card);
	cx_card_free(card);
}

static void test_21_errors(void **state)
{
	(void)state;
#define V21(body) "BEGIN:VCARD\r\nVERSION:2.1\r\nN:A;B\r\n" body "END:VCARD\r\n"
	/* The line and the property, never the value. */
	parse_err(V21("NOTE;CHARSET=UTF-7:x\r\n"), 0, CX_CARD_E_CHARSET, 4, "NOTE");
	parse_err(V21("NOTE;CHARSET=Windows-1253:ok\xaa\r\n"), 0, CX_CARD_E_CHARSET, 4, "NOTE");
	parse_err(V21("TEL:1\r\nNOTE;CHARSET=UTF-8:\xe9t\xe9\r\n"), 0, CX_CARD_E_UTF8, 5, "NOTE");
	parse_err(V21("NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:a=\r\n=E9=\r\nb\r\n"), 0, CX_CARD_E_UTF8, 4, "NOTE");
	parse_err(V21("NOTE;ENCODING=QUOTED-PRINTABLE:a=00b\r\n"), 0, CX_CARD_E_SYNTAX, 4, "NOTE");
	parse_err(V21("URL;ENCODING=QUOTED-PRINTABLE:http://a=0D=0Ab\r\n"), 0, CX_CARD_E_SYNTAX, 4, "URL");
	parse_err(V21("AGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nTEL:1\r\nEND:VCARD\r\n"), 0, CX_CARD_E_PROPERTY, 4, "AGENT");
	/* The END:VCARD closes the AGENT's card: the outer one has none. */
	parse_err(V21("AGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:x\r\n"), 0, CX_CARD_E_TRUNCATED, 8, "");
	parse_err("BEGIN:VCARD\r\nVERSION:2.1\r\nN:A\r\nAGENT:\r\nBEGIN:VCARD\r\nN:x\r\n", 0,
			CX_CARD_E_TRUNCATED, 6, "AGENT");
	parse_err("BEGIN:VCARD\r\nVERSION:2.1\r\nTEL:1\r\nEND:VCARD\r\n", 0, CX_CARD_E_NO_FN, 1, "FN");
	/* Nested agents end somewhere. */
	parse_err(V21("AGENT:BEGIN:VCARD\\nVERSION:3.0\\nFN:x\\nAGENT:BEGIN:VCARD\\\\nVERSION:3.0\\\\nFN:y\\\\n"
			"AGENT:BEGIN:VCARD\\\\\\\\nVERSION:3.0\\\\\\\\nFN:z\\\\\\\\nEND:VCARD\\\\nEND:VCARD\\nEND:VCARD\r\n"),
			0, CX_CARD_E_PROPERTY, 4, "AGENT");
	/* 4.0 keeps its rules: no bare parameters. */
	parse_err(CARD("TEL;CELL:1\r\n"), 0, CX_CARD_E_SYNTAX, 4, "TEL");
#undef V21
}

static void test_stream_recovery(void **state)
{
	(void)state;
	size_t len;
	char *text = load("multi.vcf", &len);
	cx_vcard_cursor cur = {0};
	cx_card *card = NULL;
	cx_card_err err = {0};
	const char *want[] = {"Ada Lovelace", "Grace Brewster Hopper", "Ada Byron", NULL, "Alan Turing"};

	for(size_t i = 0; i < 5; i++) {
		int r = cx_vcard_parse_next(text, len, &cur, &card, 0, &err);
		if(want[i] == NULL) {
			assert_int_equal(r, -1);
			assert_int_equal(err.code, CX_CARD_E_NO_FN);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(cx_card_fn(card), want[i]);
		cx_card_free(card);
	}
	assert_int_equal(cx_vcard_parse_next(text, len, &cur, &card, 0, &err), 1);
	free(text);

	/* A card without END: the next BEGIN starts the next card. */
	const char *t = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nFN:B\r\nEND:VCARD\r\n"
			"junk\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nFN:C\r\nEND:VCARD\r\n";
	cur = (cx_vcard_cursor){0};
	assert_int_equal(cx_vcard_parse_next(t, strlen(t), &cur, &card, 0, &err), -1);
	assert_int_equal(err.code, CX_CARD_E_BEGIN_END);
	assert_int_equal(err.line, 4);
	assert_int_equal(cx_vcard_parse_next(t, strlen(t), &cur, &card, 0, &err), 0);
	assert_string_equal(cx_card_fn(card), "B");
	cx_card_free(card);
	/* Junk between cards: refused, and the card after it still read. */
	assert_int_equal(cx_vcard_parse_next(t, strlen(t), &cur, &card, 0, &err), -1);
	assert_int_equal(err.line, 8);
	assert_int_equal(cx_vcard_parse_next(t, strlen(t), &cur, &card, 0, &err), 0);
	assert_string_equal(cx_card_fn(card), "C");
	cx_card_free(card);
	assert_int_equal(cx_vcard_parse_next(t, strlen(t), &cur, &card, 0, &err), 1);
}

static void test_write_30(void **state)
{
	(void)state;
	cx_card *card = parse_ok(BEGIN "FN:Ada Lovelace\r\nN;SORT-AS=Lovelace:Lovelace;Ada;;;\r\n"
			"EMAIL;PREF=1;PID=1.1:ada@example.org\r\n"
			"TEL;VALUE=uri;TYPE=cell:tel:+44-20-7946-0001\r\n"
			"PHOTO;MEDIATYPE=image/png:data:image/png;base64,iVBORw0KGgo=\r\n"
			"LOGO;MEDIATYPE=image/gif:http://example.com/l.gif\r\n"
			"GEO:geo:51.5,-0.12\r\nBDAY:--1210\r\nANNIVERSARY:18350708\r\nREV:20240301T093000Z\r\n"
			"TZ;VALUE=utc-offset:+0100\r\nKIND:individual\r\nCLIENTPIDMAP:1;urn:uuid:x\r\n"
			"ADR;TYPE=home;LABEL=\"12 St James's Square^nLondon\":;;12 St James's Square;London;;;\r\n"
			"NOTE;LANGUAGE=en:said \"hello\"\\; left\r\nUID:urn:uuid:0f1e\r\n" END);
	char *t3 = NULL;
	size_t n3 = 0;
	assert_int_equal(cx_vcard_write_version(card, 3, &t3, &n3), 0);
	char *u = unfold(t3);
	static const char *const lines[] = {
		"\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nSORT-STRING:Lovelace\r\n",
		"\r\nEMAIL;TYPE=pref:ada@example.org\r\n",
		"\r\nTEL;TYPE=cell:+44-20-7946-0001\r\n",
		"\r\nPHOTO;ENCODING=b;TYPE=PNG:iVBORw0KGgo=\r\n",
		"\r\nLOGO;VALUE=uri;TYPE=GIF:http://example.com/l.gif\r\n",
		"\r\nGEO:51.5;-0.12\r\n",
		"\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-12-10\r\n",
		"\r\nX-ANNIVERSARY;VALUE=date:1835-07-08\r\n",
		"\r\nREV:2024-03-01T09:30:00Z\r\n",
		"\r\nTZ:+01:00\r\n",
		"\r\nX-KIND:individual\r\n",
		"\r\nADR;TYPE=home:;;12 St James's Square;London;;;\r\nLABEL;TYPE=home:12 St James's Square\\nLondon\r\n",
		"\r\nNOTE;LANGUAGE=en:said \"hello\"\\; left\r\n",
		"\r\nUID:urn:uuid:0f1e\r\n",
	};
	for(size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if(strstr(u, lines[i]) == NULL) {
			fail_msg("3.0 text lacks %s:\n%s", lines[i], u);
		}
	}
	assert_null(strstr(u, "CLIENTPIDMAP"));
	assert_null(strstr(u, "PID"));
	assert_null(strstr(u, "MEDIATYPE"));
	/* Read back: what 3.0 can say comes back the same. */
	cx_card *back = parse_ok(t3);
	static const char *const same[] = {"fn", "n", "email", "photo", "geo", "bday", "rev", "tz", "adr", "note"};
	for(size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		const cx_card_prop *a = cx_card_find(card, same[i], 0);
		const cx_card_prop *b = cx_card_find(back, same[i], 0);
		assert_non_null(b);
		char *ja = cx_card_prop_join(a, "|"), *jb = cx_card_prop_join(b, "|");
		if(strcmp(ja, jb) != 0) {
			fail_msg("%s: %s != %s", same[i], ja, jb);
		}
		free(ja);
		free(jb);
	}
	cx_card_free(back);
	free(u);
	free(t3);
	cx_card_free(card);

	/* An AGENT of a 4.0 card is no 3.0 AGENT (whose value is a vCard): written as X-AGENT (fuzz finding). */
	card = parse_ok(BEGIN "FN:Boss\r\nAGENT:BEGIN:VCARD\\nVERSION:3.0\\nFN:Sun\r\n" END);
	assert_int_equal(cx_vcard_write_version(card, 3, &t3, &n3), 0);
	assert_non_null(strstr(t3, "\r\nX-AGENT:BEGIN:VCARD\\nVERSION:3.0\\nFN:Sun\r\n"));
	back = parse_ok(t3);
	assert_string_equal(cx_card_fn(back), "Boss");
	cx_card_free(back);
	free(t3);
	cx_card_free(card);

	/* No N: 3.0 needs one; the name goes whole into the given name. */
	card = parse_ok(BEGIN "FN:Ada Lovelace\r\nPHOTO:http://example.com/a.jpg\r\n" END);
	assert_int_equal(cx_vcard_write_version(card, 3, &t3, &n3), 0);
	assert_non_null(strstr(t3, "\r\nFN:Ada Lovelace\r\nN:;Ada Lovelace;;;\r\n"));
	assert_non_null(strstr(t3, "\r\nPHOTO;VALUE=uri:http://example.com/a.jpg\r\n"));
	free(t3);
	assert_int_equal(cx_vcard_write_version(card, 2, &t3, &n3), -1);
	assert_null(t3);
	cx_card_free(card);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold_multibyte),
		cmocka_unit_test(test_fold_ascii_limits),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_apple_30),
		cmocka_unit_test(test_google_30),
		cmocka_unit_test(test_30_details),
		cmocka_unit_test(test_rfc7095_appendix_b),
		cmocka_unit_test(test_round_trip_40),
		cmocka_unit_test(test_unknown_properties),
		cmocka_unit_test(test_lenient_input),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_select_written),
		cmocka_unit_test(test_value_type_names),
		cmocka_unit_test(test_30_tz),
		cmocka_unit_test(test_value_shapes),
		cmocka_unit_test(test_quoted_params),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_21_android),
		cmocka_unit_test(test_21_outlook),
		cmocka_unit_test(test_21_blackberry_agent),
		cmocka_unit_test(test_21_docomo),
		cmocka_unit_test(test_30_lotus_notes),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_21_details),
		cmocka_unit_test(test_21_fuzz_findings),
		cmocka_unit_test(test_21_errors),
		cmocka_unit_test(test_stream_recovery),
		cmocka_unit_test(test_write_30),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
