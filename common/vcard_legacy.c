/*
 * vCard 2.1 and 3.0 properties converted to 4.0 (vcard_int.h), as RFC 6350
 * Appendix A lists the changes: TYPE=pref is PREF=1; CHARSET, ENCODING and
 * CONTEXT are gone; ADR lost the intl, dom, postal and parcel types; inline
 * binaries are data: URIs with a media type; GEO is a geo: URI; LABEL is a
 * parameter of ADR; SORT-STRING is the SORT-AS parameter of N.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "vcard_int.h"

void cx_vcard__lower(char *s)
{
	for(; *s != '\0'; s++) {
		if(*s >= 'A' && *s <= 'Z') {
			*s = (char)(*s - 'A' + 'a');
		}
	}
}

/* Removes value j of parameter i (and the parameter when it was the last). */
static void drop_param_value(cx_card_prop *p, size_t i, size_t j)
{
	cx_card_param *q = &p->params[i];
	cx_card__strfree(q->values[j]);
	memmove(&q->values[j], &q->values[j + 1], (q->nvalues - j - 1) * sizeof(*q->values));
	if(--q->nvalues == 0) {
		cx_card__drop_param(p, i);
	}
}

/* Replaces the only string of p by s (taken over). */
static void replace_value(cx_card_prop *p, char *s)
{
	cx_card__strfree(p->values[0].comps[0].subs[0]);
	p->values[0].comps[0].subs[0] = s;
}

static bool all_digits(const char *s, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		if(s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	return true;
}

/* True for a UTC offset of RFC 2426 and RFC 6350: +hh, +hhmm or +hh:mm (or '-'). */
static bool is_utc_offset(const char *v, size_t n)
{
	if(n < 3 || (v[0] != '+' && v[0] != '-') || !all_digits(v + 1, 2)) {
		return false;
	}
	return n == 3 || (n == 5 && all_digits(v + 3, 2)) || (n == 6 && v[3] == ':' && all_digits(v + 4, 2));
}

/* True for a media type name or type/subtype of RFC 6838's restricted-name characters. */
static bool is_media_type(const char *s)
{
	size_t slashes = 0;

	if(*s == '\0' || *s == '/') {
		return false;
	}
	for(; *s != '\0'; s++) {
		if(*s == '/') {
			slashes++;
			if(s[1] == '\0') {
				return false;
			}
		} else if(!isalnum((unsigned char)*s) && strchr("!#$&^_.+-", *s) == NULL) {
			return false;
		}
	}
	return slashes <= 1;
}

/*
 * The media type of a 2.1 or 3.0 TYPE of a KEY (PGP, X509) or of an image
 * type whose name differs from its media subtype; NULL for the others.
 */
static const char *known_media_type(const char *prop, const char *type)
{
	static const char *const map[][3] = {
		{"key", "pgp", "application/pgp-keys"},
		{"key", "x509", "application/pkix-cert"},
		{"photo", "jpg", "image/jpeg"},
		{"logo", "jpg", "image/jpeg"},
		{"photo", "tiff", "image/tiff"},
		{"photo", "pict", "image/x-pict"},
		{"sound", "wave", "audio/wav"},
		{"sound", "pcm", "audio/L16"},
		{"sound", "aiff", "audio/aiff"},
	};
	for(size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if(strcmp(map[i][0], prop) == 0 && strcasecmp(map[i][1], type) == 0) {
			return map[i][2];
		}
	}
	return NULL;
}

/*
 * An ENCODING=b binary of PHOTO, LOGO, SOUND or KEY becomes a data: URI. A
 * TYPE that is no media type name (it may hold anything, even a newline
 * through RFC 6868's ^n) gives application/octet-stream; data that is not
 * base64 text is left as it is, like a text value.
 */
static int inline_binary(cx_card_prop *p)
{
	long enc = cx_card__param_index(p, "encoding");
	const char *prefix = strcmp(p->name, "photo") == 0 || strcmp(p->name, "logo") == 0 ? "image/"
			: strcmp(p->name, "sound") == 0 ? "audio/"
			: strcmp(p->name, "key") == 0 ? "application/" : NULL;

	/* A text value is no base64 data (and may hold a newline, which no URI has). */
	if(enc < 0 || prefix == NULL || strcmp(p->type, "text") == 0 || p->params[enc].nvalues != 1
			|| (strcasecmp(p->params[enc].values[0], "b") != 0
					&& strcasecmp(p->params[enc].values[0], "base64") != 0)
			|| !cx_is_base64_text(p->values[0].comps[0].subs[0], strlen(p->values[0].comps[0].subs[0]))) {
		return 0;
	}
	cx_sb uri = {0};
	long t = cx_card__param_index(p, "type");
	if(cx_sb_str(&uri, "data:") != 0) {
		goto nomem;
	}
	const char *known = t >= 0 ? known_media_type(p->name, p->params[t].values[0]) : NULL;
	if(known != NULL) {
		if(cx_sb_str(&uri, known) != 0) {
			goto nomem;
		}
	} else if(t >= 0 && is_media_type(p->params[t].values[0])) {
		const char *mt = p->params[t].values[0];
		if(strchr(mt, '/') == NULL && cx_sb_str(&uri, prefix) != 0) {
			goto nomem;
		}
		if(cx_sb_str(&uri, mt) != 0) {
			goto nomem;
		}
	} else if(cx_sb_str(&uri, "application/octet-stream") != 0) {
		goto nomem;
	}
	if(cx_sb_str(&uri, ";base64,") != 0) {
		goto nomem;
	}
	/* Writers indent the folded base64 text; the blanks are no part of it. */
	for(const char *s = p->values[0].comps[0].subs[0]; *s != '\0'; s++) {
		if(*s != ' ' && *s != '\t' && cx_sb_chr(&uri, *s) != 0) {
			goto nomem;
		}
	}
	char *d = cx_card__strndup(uri.p, uri.n);
	cx_sb_free(&uri);
	if(d == NULL || cx_card__set_type(p, "uri", 3) != 0) {
		cx_card__strfree(d);
		return -1;
	}
	replace_value(p, d);
	cx_card__drop_param(p, (size_t)enc);
	t = cx_card__param_index(p, "type");
	if(t >= 0) {
		cx_card__drop_param(p, (size_t)t);
	}
	return 0;
nomem:
	cx_sb_free(&uri);
	return -1;
}

/* True for the TYPE values 4.0 removed from property name (RFC 6350 Appendix A), or that only said "Internet mail". */
static bool removed_type(const char *name, const char *type)
{
	static const char *const adr[] = {"intl", "dom", "postal", "parcel", NULL};
	/* 3.0's x400 and 2.1's mail systems name the kind of address, which 4.0 leaves to the value. */
	static const char *const email[] = {"internet", "x400", "aol", "applelink", "attmail", "cis",
		"eworld", "ibmmail", "mcimail", "powershare", "prodigy", "tlx", NULL};
	const char *const *list = strcmp(name, "adr") == 0 || strcmp(name, "label") == 0 ? adr
			: strcmp(name, "email") == 0 ? email : NULL;

	if(strcmp(type, "internet") == 0) {
		return true; /* wherever a writer put it */
	}
	for(; list != NULL && *list != NULL; list++) {
		if(strcmp(*list, type) == 0) {
			return true;
		}
	}
	return false;
}

/* Drops parameter name of p when present. */
static void drop_named(cx_card_prop *p, const char *name)
{
	long i = cx_card__param_index(p, name);
	if(i >= 0) {
		cx_card__drop_param(p, (size_t)i);
	}
}

/* True when p has the TYPE value type (lowercase). */
static bool has_type(const cx_card_prop *p, const char *type)
{
	long t = cx_card__param_index(p, "type");
	for(size_t j = 0; t >= 0 && j < p->params[t].nvalues; j++) {
		if(strcasecmp(p->params[t].values[j], type) == 0) {
			return true;
		}
	}
	return false;
}

/* True for SOUND;X-IRMC-N, the reading of the name on Japanese phones (see fold_irmc_reading). */
static bool is_irmc_reading(const cx_card_prop *p)
{
	return strcmp(p->name, "sound") == 0 && (has_type(p, "x-irmc-n") || cx_card__param_index(p, "x-irmc-n") >= 0);
}

/* True for PHOTO, LOGO, SOUND and KEY, whose 2.1 and 3.0 TYPE says the media type. */
static bool is_media_prop(const char *name)
{
	return strcmp(name, "photo") == 0 || strcmp(name, "logo") == 0 || strcmp(name, "sound") == 0
			|| strcmp(name, "key") == 0;
}

/*
 * A media property given by URI ("PHOTO;VALUE=uri;TYPE=GIF:http://...")
 * says its media type with MEDIATYPE in 4.0; TYPE keeps only work and home.
 */
static int media_type_param(cx_card_prop *p)
{
	long t = cx_card__param_index(p, "type");
	char mt[96];

	if(t < 0 || !is_media_prop(p->name) || strcmp(p->type, "uri") != 0 || is_irmc_reading(p)) {
		return 0;
	}
	mt[0] = '\0';
	for(size_t j = 0; j < p->params[t].nvalues;) {
		const char *v = p->params[t].values[j];
		if(strcmp(v, "work") == 0 || strcmp(v, "home") == 0) {
			j++;
			continue;
		}
		const char *known = known_media_type(p->name, v);
		const char *prefix = strcmp(p->name, "sound") == 0 ? "audio/"
				: strcmp(p->name, "key") == 0 ? "application/" : "image/";
		if(mt[0] == '\0' && strncmp(p->values[0].comps[0].subs[0], "data:", 5) != 0
				&& (known != NULL || (is_media_type(v) && strlen(v) < 64))) {
			if(known != NULL) {
				snprintf(mt, sizeof(mt), "%s", known);
			} else {
				snprintf(mt, sizeof(mt), "%s%s", strchr(v, '/') != NULL ? "" : prefix, v);
			}
		}
		size_t left = p->params[t].nvalues;
		drop_param_value(p, (size_t)t, j);
		if(left == 1) {
			break;
		}
	}
	if(mt[0] != '\0' && cx_card__param_index(p, "mediatype") < 0
			&& cx_card__push_param(p, "mediatype", 9, mt, strlen(mt)) == NULL) {
		return -1;
	}
	return 0;
}

int cx_vcard__upgrade_prop(cx_card_prop *p)
{
	drop_named(p, "charset");
	drop_named(p, "context");
	long i = cx_card__param_index(p, "encoding");
	if(i >= 0 && p->params[i].nvalues == 1 && strcasecmp(p->params[i].values[0], "b") != 0
			&& strcasecmp(p->params[i].values[0], "base64") != 0) {
		/* quoted-printable was decoded; 8bit and 7bit say nothing 4.0 needs */
		cx_card__drop_param(p, (size_t)i);
	}
	i = cx_card__param_index(p, "type");
	bool pref = false;
	if(i >= 0) {
		cx_card_param *q = &p->params[i];
		for(size_t j = 0; j < q->nvalues;) {
			cx_vcard__lower(q->values[j]);
			bool is_pref = strcmp(q->values[j], "pref") == 0;
			pref = pref || is_pref;
			if(is_pref || removed_type(p->name, q->values[j])) {
				size_t left = q->nvalues;
				drop_param_value(p, (size_t)i, j);
				if(left == 1) {
					break; /* the parameter is gone */
				}
				continue;
			}
			j++;
		}
	}
	if(pref && cx_card__param_index(p, "pref") < 0 && cx_card__push_param(p, "pref", 4, "1", 1) == NULL) {
		return -1;
	}
	if(inline_binary(p) != 0) {
		return -1;
	}
	if(strcmp(p->type, "binary") == 0 && cx_card__set_type(p, "uri", 3) != 0) {
		return -1;
	}
	if(media_type_param(p) != 0) {
		return -1;
	}
	/* 2.1 writers stop N and ADR after the last component they fill; 4.0 has all 5 and 7. */
	size_t want = strcmp(p->name, "n") == 0 ? 5 : strcmp(p->name, "adr") == 0 ? 7 : 0;
	if(want > 0 && strcmp(p->type, "text") == 0 && p->nvalues == 1) {
		while(p->values[0].ncomps < want) {
			cx_card_comp *c = cx_card__push_comp(&p->values[0]);
			if(c == NULL || cx_card__push_sub(c, "", 0) == NULL) {
				return -1;
			}
		}
	}
	if(p->nvalues != 1 || p->values[0].ncomps != 1 || p->values[0].comps[0].nsubs != 1) {
		return 0;
	}
	const char *v = p->values[0].comps[0].subs[0];
	size_t n = strlen(v);
	if(strcmp(p->name, "geo") == 0 && strncasecmp(v, "geo:", 4) != 0 && strchr(v, ';') != NULL) {
		/* 3.0 GEO:lat;lon is 4.0 GEO:geo:lat,lon */
		char *d = malloc(n + 5);
		if(d == NULL) {
			return -1;
		}
		memcpy(d, "geo:", 4);
		memcpy(d + 4, v, n + 1);
		*strchr(d, ';') = ',';
		replace_value(p, d);
	} else if(strcmp(p->name, "tz") == 0 && strcmp(p->type, "text") == 0 && is_utc_offset(v, n)) {
		/*
		 * 3.0 TZ defaults to a UTC offset ("-05:00"); 4.0 says so with
		 * VALUE=utc-offset. Only an offset: other text (unescaped, so it may
		 * hold a newline) would not read back as the same utc-offset value.
		 */
		char *d = cx_card__date_to_basic("utc-offset", v, n);
		if(d == NULL || cx_card__set_type(p, "utc-offset", 10) != 0) {
			cx_card__strfree(d);
			return -1;
		}
		replace_value(p, d);
	} else if(strcmp(p->name, "bday") == 0) {
		/* Apple writes a birthday without a year as the year X-APPLE-OMIT-YEAR names. */
		long k = cx_card__param_index(p, "x-apple-omit-year");
		if(k >= 0 && n == 8 && all_digits(v, 8) && strlen(p->params[k].values[0]) == 4
				&& strncmp(p->params[k].values[0], v, 4) == 0) {
			char *d = malloc(7);
			if(d == NULL) {
				return -1;
			}
			memcpy(d, "--", 2);
			memcpy(d + 2, v + 4, 5);
			replace_value(p, d);
			cx_card__drop_param(p, (size_t)k);
		}
	}
	return 0;
}

bool cx_vcard__dropped_name(const char *name)
{
	/*
	 * PROFILE:VCard and NAME (the directory's title) described the MIME
	 * directory the card came in, MAILER the sender's mail program, CLASS
	 * an access class no 4.0 property carries: RFC 6350 Appendix A.2.
	 */
	return strcmp(name, "profile") == 0 || strcmp(name, "name") == 0 || strcmp(name, "mailer") == 0
			|| strcmp(name, "class") == 0;
}

/* True when p and q have the same TYPE values, in any order. */
static bool same_types(const cx_card_prop *p, const cx_card_prop *q)
{
	long a = cx_card__param_index(p, "type");
	long b = cx_card__param_index(q, "type");
	size_t na = a >= 0 ? p->params[a].nvalues : 0;
	size_t nb = b >= 0 ? q->params[b].nvalues : 0;

	if(na != nb) {
		return false;
	}
	for(size_t i = 0; i < na; i++) {
		bool found = false;
		for(size_t j = 0; j < nb && !found; j++) {
			found = strcmp(p->params[a].values[i], q->params[b].values[j]) == 0;
		}
		if(!found) {
			return false;
		}
	}
	return true;
}

/* The first property called name (index into card), or -1. */
static long find_index(const cx_card *card, const char *name)
{
	for(size_t i = 0; i < cx_card_count(card); i++) {
		if(strcmp(cx_card_prop_at(card, i)->name, name) == 0) {
			return (long)i;
		}
	}
	return -1;
}

/*
 * LABEL i becomes the LABEL parameter of the first ADR of the same types
 * that has none, or, when there is no such ADR, an ADR of empty components
 * itself, so that the label is kept. *removed says whether i is gone.
 */
static int fold_label(cx_card *card, size_t i, bool *removed)
{
	cx_card_prop *label = cx_card__prop_mut(card, i);
	const char *text = label->values[0].comps[0].subs[0];

	*removed = false;
	for(size_t j = 0; j < cx_card_count(card); j++) {
		cx_card_prop *adr = cx_card__prop_mut(card, j);
		if(strcmp(adr->name, "adr") != 0 || strcmp(adr->type, "text") != 0
				|| cx_card__param_index(adr, "label") >= 0 || !same_types(adr, label)) {
			continue;
		}
		if(cx_card__push_param(adr, "label", 5, text, strlen(text)) == NULL) {
			return -1;
		}
		cx_card__remove(card, i);
		*removed = true;
		return 0;
	}
	/* No ADR to carry it: the label becomes one, with empty components. */
	char *name = cx_card__strndup("adr", 3);
	if(name == NULL || cx_card__push_param(label, "label", 5, text, strlen(text)) == NULL) {
		cx_card__strfree(name);
		return -1;
	}
	cx_card__strfree(label->name);
	label->name = name;
	cx_card_comp *c = &label->values[0].comps[0];
	cx_card__strfree(c->subs[0]);
	c->subs[0] = NULL;
	char *empty = cx_card__strndup("", 0);
	if(empty == NULL) {
		return -1;
	}
	c->subs[0] = empty;
	for(int k = 1; k < 7; k++) {
		cx_card_comp *more = cx_card__push_comp(&label->values[0]);
		if(more == NULL || cx_card__push_sub(more, "", 0) == NULL) {
			return -1;
		}
	}
	return 0;
}

/* SORT-STRING i becomes the SORT-AS of N (else ORG); without either it stays as X-SORT-STRING. */
static int fold_sort_string(cx_card *card, size_t i, bool *removed)
{
	cx_card_prop *sort = cx_card__prop_mut(card, i);
	const char *text = sort->values[0].comps[0].subs[0];
	long t = find_index(card, "n");

	*removed = false;
	if(t < 0) {
		t = find_index(card, "org");
	}
	if(t < 0 || cx_card__param_index(cx_card_prop_at(card, (size_t)t), "sort-as") >= 0 || text[0] == '\0') {
		char *name = cx_card__strndup("x-sort-string", 13);
		if(name == NULL) {
			return -1;
		}
		cx_card__strfree(sort->name);
		sort->name = name;
		return 0;
	}
	cx_card_prop *target = cx_card__prop_mut(card, (size_t)t);
	/* SORT-AS is a ','-separated list: "Lovelace, Ada" sorts by "Lovelace", then "Ada". */
	for(const char *s = text;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma != NULL ? (size_t)(comma - s) : strlen(s);
		while(n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while(n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
			n--;
		}
		if(cx_card__push_param(target, "sort-as", 7, s, n) == NULL) {
			return -1;
		}
		if(comma == NULL) {
			break;
		}
		s = comma + 1;
	}
	cx_card__remove(card, i);
	*removed = true;
	return 0;
}

/*
 * Japanese phones (docomo, au) write the reading of the name, by which
 * their address books sort, as SOUND;X-IRMC-N:family;given;;; . It becomes
 * the SORT-AS of N, which says just that; without N it stays as it is.
 */
static int fold_irmc_reading(cx_card *card, size_t i, bool *removed)
{
	const cx_card_prop *sound = cx_card_prop_at(card, i);
	long t = find_index(card, "n");

	*removed = false;
	if(t < 0 || cx_card__param_index(cx_card_prop_at(card, (size_t)t), "sort-as") >= 0
			|| sound->nvalues != 1 || sound->values[0].ncomps != 1 || sound->values[0].comps[0].nsubs != 1) {
		return 0;
	}
	cx_card_prop *n = cx_card__prop_mut(card, (size_t)t);
	const char *v = sound->values[0].comps[0].subs[0];
	for(int k = 0; k < 2 && *v != '\0'; k++) {
		size_t len = strcspn(v, ";,");
		if(len > 0 && cx_card__push_param(n, "sort-as", 7, v, len) == NULL) {
			return -1;
		}
		v += len;
		v += *v == ';' || *v == ',';
	}
	cx_card__remove(card, i);
	*removed = true;
	return 0;
}

/*
 * Android's Contacts app writes a nickname, which 2.1 has no property for,
 * as X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;NAME;TYPE;... It
 * becomes the NICKNAME it is (other X-ANDROID-CUSTOM rows stay as written).
 * Returns 0, or -1 when memory runs out.
 */
static int android_nickname(cx_card_prop *p)
{
	static const char prefix[] = "vnd.android.cursor.item/nickname;";
	const char *v = p->values[0].comps[0].subs[0];
	cx_sb b = {0};

	if(strncmp(v, prefix, sizeof(prefix) - 1) != 0) {
		return 0;
	}
	for(v += sizeof(prefix) - 1; *v != '\0' && *v != ';'; v++) {
		if(*v == '\\' && v[1] != '\0') {
			v++; /* \; \, \\ stand for the character */
		}
		if(cx_sb_chr(&b, *v) != 0) {
			cx_sb_free(&b);
			return -1;
		}
	}
	if(b.n == 0) {
		cx_sb_free(&b);
		return 0;
	}
	char *name = cx_card__strndup("nickname", 8);
	char *nick = cx_card__strndup(b.p, b.n);
	cx_sb_free(&b);
	if(name == NULL || nick == NULL || cx_card__set_type(p, "text", 4) != 0) {
		cx_card__strfree(name);
		cx_card__strfree(nick);
		return -1;
	}
	cx_card__strfree(p->name);
	p->name = name;
	cx_card__strfree(p->values[0].comps[0].subs[0]);
	p->values[0].comps[0].subs[0] = nick;
	return 0;
}

/* Appends the non-empty strings of components order[] of p to b, blank-separated. */
static int join_parts(cx_sb *b, const cx_card_prop *p, const int *order, size_t norder)
{
	for(size_t k = 0; k < norder; k++) {
		if((size_t)order[k] >= p->values[0].ncomps) {
			continue;
		}
		const cx_card_comp *c = &p->values[0].comps[order[k]];
		for(size_t s = 0; s < c->nsubs; s++) {
			if(c->subs[s][0] == '\0') {
				continue;
			}
			if((b->n > 0 && cx_sb_chr(b, ' ') != 0) || cx_sb_str(b, c->subs[s]) != 0) {
				return -1;
			}
		}
	}
	return 0;
}

/*
 * True when s starts with a character from U+3000 on of the Basic
 * Multilingual Plane (CJK, kana, Hangul, half-width kana): East Asian
 * names are written family name first.
 */
static bool east_asian(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	return u[0] >= 0xe3 && u[0] <= 0xef;
}

/*
 * A card of 2.1 (where FN is optional) or 3.0 without FN gets one made
 * from N (prefix given additional family suffix, or family first in East
 * Asian scripts), else ORG.
 */
static int make_fn(cx_card *card)
{
	static const int n_order[] = {3, 1, 2, 0, 4}; /* prefix given additional family suffix */
	static const int n_order_east[] = {3, 0, 1, 2, 4}; /* prefix family given additional suffix */
	static const int org_order[] = {0};
	cx_sb b = {0};
	long at = find_index(card, "n");
	int rc = -1;

	if(at >= 0 && strcmp(cx_card_prop_at(card, (size_t)at)->type, "text") == 0) {
		const cx_card_prop *n = cx_card_prop_at(card, (size_t)at);
		bool east = east_asian(cx_card_prop_str(n, 0, 0, 0));
		if(join_parts(&b, n, east ? n_order_east : n_order, 5) != 0) {
			goto cleanup;
		}
	}
	if(b.n == 0) {
		at = find_index(card, "org");
		if(at >= 0 && strcmp(cx_card_prop_at(card, (size_t)at)->type, "text") == 0
				&& join_parts(&b, cx_card_prop_at(card, (size_t)at), org_order, 1) != 0) {
			goto cleanup;
		}
	}
	if(b.n == 0) {
		rc = 1;
		goto cleanup;
	}
	/* The count was checked while reading; one more fits since VERSION is not held. */
	cx_card_prop *p = cx_card__push(card);
	cx_card_value *v = p != NULL ? cx_card__push_value(p) : NULL;
	cx_card_comp *c = v != NULL ? cx_card__push_comp(v) : NULL;
	if(c == NULL || cx_card__push_sub(c, b.p, b.n) == NULL || (p->name = cx_card__strndup("fn", 2)) == NULL
			|| cx_card__set_type(p, "text", 4) != 0) {
		if(p != NULL) {
			cx_card__pop(card);
		}
		goto cleanup;
	}
	cx_card__move_last(card, at >= 0 ? (size_t)at : 0);
	rc = 0;
cleanup:
	cx_sb_free(&b);
	return rc;
}

int cx_vcard__upgrade_card(cx_card *card)
{
	for(size_t i = 0; i < cx_card_count(card);) {
		const cx_card_prop *p = cx_card_prop_at(card, i);
		bool removed = false;
		int r = 0;
		bool single = strcmp(p->type, "text") == 0 && p->nvalues == 1 && p->values[0].ncomps == 1
				&& p->values[0].comps[0].nsubs == 1;
		if(single && strcmp(p->name, "label") == 0) {
			r = fold_label(card, i, &removed);
		} else if(single && strcmp(p->name, "sort-string") == 0) {
			r = fold_sort_string(card, i, &removed);
		} else if(is_irmc_reading(p)) {
			r = fold_irmc_reading(card, i, &removed);
		} else if(strcmp(p->name, "x-android-custom") == 0 && strcmp(p->type, "unknown") == 0
				&& p->nvalues == 1 && p->values[0].ncomps == 1 && p->values[0].comps[0].nsubs == 1) {
			r = android_nickname(cx_card__prop_mut(card, i));
		}
		if(r != 0) {
			return -1;
		}
		i += removed ? 0 : 1;
	}
	if(cx_card_find(card, "fn", 0) == NULL) {
		return make_fn(card);
	}
	return 0;
}
