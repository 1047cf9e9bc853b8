/*
 * vCard text writer (vcard.h): vCard 4.0, and 3.0 (RFC 2426) for the
 * address books that read it best, with folding and escapes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "json.h"
#include "vcard.h"
#include "vcard_int.h"

static int put_upper(cx_sb *b, const char *s)
{
	for(; *s != '\0'; s++) {
		char ch = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
		if(cx_sb_chr(b, ch) != 0) {
			return -1;
		}
	}
	return 0;
}

/* A text string, escaped; ';' only where it would separate components. */
static int put_text(cx_sb *b, const char *s, bool semicolon)
{
	for(; *s != '\0'; s++) {
		const char *e = NULL;
		switch(*s) {
		case '\\': e = "\\\\"; break;
		case ',': e = "\\,"; break;
		case ';': e = semicolon ? "\\;" : NULL; break;
		case '\n': e = "\\n"; break;
		case '\r': e = s[1] == '\n' ? "" : "\\n"; break; /* CRLF is one newline */
		default: break;
		}
		if((e != NULL ? cx_sb_str(b, e) : cx_sb_chr(b, *s)) != 0) {
			return -1;
		}
	}
	return 0;
}

/* A value of another type, as it is; a line break (which no such value has) becomes \n. */
static int put_raw(cx_sb *b, const char *s)
{
	for(; *s != '\0'; s++) {
		int r;
		if(*s == '\r' && s[1] == '\n') {
			continue;
		}
		if(*s == '\r' || *s == '\n') {
			r = cx_sb_str(b, "\\n");
		} else {
			r = cx_sb_chr(b, *s);
		}
		if(r != 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * A parameter value, quoted when it holds , ; or :. 4.0 has RFC 6868's
 * ^-escapes; 3.0 has none, so there a '"' becomes "'" and a line break a
 * blank (a parameter value cannot hold them).
 */
static int put_param_value(cx_sb *b, const char *s, int version)
{
	bool quote = strpbrk(s, ",;:") != NULL;
	if(quote && cx_sb_chr(b, '"') != 0) {
		return -1;
	}
	for(; *s != '\0'; s++) {
		int r;
		if(version == 3) {
			if(*s == '\r' && s[1] == '\n') {
				continue;
			}
			r = cx_sb_chr(b, *s == '"' ? '\'' : (*s == '\n' || *s == '\r') ? ' ' : *s);
		} else if(*s == '^') {
			r = cx_sb_str(b, "^^");
		} else if(*s == '"') {
			r = cx_sb_str(b, "^'");
		} else if(*s == '\r' && s[1] == '\n') {
			continue;
		} else if(*s == '\n' || *s == '\r') {
			r = cx_sb_str(b, "^n");
		} else {
			r = cx_sb_chr(b, *s);
		}
		if(r != 0) {
			return -1;
		}
	}
	return quote ? cx_sb_chr(b, '"') : 0;
}

/* Appends line to out, folded: at most 75 octets a line, never inside a UTF-8 sequence. */
static int put_folded(cx_sb *out, const char *s, size_t n)
{
	size_t limit = 75;

	while(n > limit) {
		size_t cut = cx_utf8_cut(s, n, limit);
		if(cut == 0) {
			cut = limit; /* not UTF-8 after all: cut anywhere rather than loop */
		}
		if(cx_sb_put(out, s, cut) != 0 || cx_sb_put(out, "\r\n ", 3) != 0) {
			return -1;
		}
		s += cut;
		n -= cut;
		limit = 74; /* the leading space counts */
	}
	if(cx_sb_put(out, s, n) != 0 || cx_sb_put(out, "\r\n", 2) != 0) {
		return -1;
	}
	return 0;
}

/* The value type 3.0 (RFC 2426) gives property name when VALUE does not say one. */
static const char *default_type30(const char *name)
{
	static const char *const map[][2] = {
		{"photo", "binary"}, {"logo", "binary"}, {"sound", "binary"}, {"key", "binary"},
		{"bday", "date"}, {"rev", "date-time"}, {"tz", "utc-offset"}, {"geo", "float"},
		{"url", "uri"}, {"source", "uri"}, {"impp", "uri"}, {"fburl", "uri"}, {"caluri", "uri"},
		{"caladruri", "uri"}, {"agent", "vcard"},
	};
	for(size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if(strcmp(map[i][0], name) == 0) {
			return map[i][1];
		}
	}
	return "text";
}

/* True when VALUE=type must be written for p in the given version. */
static bool needs_value_param(const cx_card_prop *p, int version)
{
	if(strcmp(p->type, "unknown") == 0) {
		return false;
	}
	if(version == 4) {
		return strcmp(p->type, cx_card__default_type(p->name)) != 0;
	}
	return strcmp(p->type, default_type30(p->name)) != 0;
}

static int put_prop(cx_sb *line, const cx_card_prop *p, int version)
{
	bool text = strcmp(p->type, "text") == 0;
	int kind = cx_card__kind(p->name);
	/* 3.0 escapes ';' in every text value (RFC 2426 section 4). */
	bool semicolon = version == 3 || (kind != CX_CARD__SINGLE && kind != CX_CARD__MULTI);

	line->n = 0;
	if(p->group[0] != '\0' && (cx_sb_str(line, p->group) != 0 || cx_sb_chr(line, '.') != 0)) {
		return -1;
	}
	if(put_upper(line, p->name) != 0) {
		return -1;
	}
	if(needs_value_param(p, version)) {
		if(cx_sb_str(line, ";VALUE=") != 0 || cx_sb_str(line, p->type) != 0) {
			return -1;
		}
	}
	for(size_t i = 0; i < p->nparams; i++) {
		const cx_card_param *q = &p->params[i];
		if(cx_sb_chr(line, ';') != 0 || put_upper(line, q->name) != 0 || cx_sb_chr(line, '=') != 0) {
			return -1;
		}
		for(size_t j = 0; j < q->nvalues; j++) {
			if((j > 0 && cx_sb_chr(line, ',') != 0) || put_param_value(line, q->values[j], version) != 0) {
				return -1;
			}
		}
	}
	if(cx_sb_chr(line, ':') != 0) {
		return -1;
	}
	for(size_t i = 0; i < p->nvalues; i++) {
		if(i > 0 && cx_sb_chr(line, ',') != 0) {
			return -1;
		}
		for(size_t j = 0; j < p->values[i].ncomps; j++) {
			const cx_card_comp *comp = &p->values[i].comps[j];
			if(j > 0 && cx_sb_chr(line, ';') != 0) {
				return -1;
			}
			for(size_t k = 0; k < comp->nsubs; k++) {
				if(k > 0 && cx_sb_chr(line, ',') != 0) {
					return -1;
				}
				int r = text ? put_text(line, comp->subs[k], semicolon) : put_raw(line, comp->subs[k]);
				if(r != 0) {
					return -1;
				}
			}
		}
	}
	return 0;
}

/* ---- 4.0 to 3.0 ---- */

/* Appends a deep copy of p (the name as given) to out; NULL when memory runs out. */
static cx_card_prop *copy_prop(cx_card *out, const cx_card_prop *p, const char *name)
{
	cx_card_prop *q = cx_card__push(out);
	if(q == NULL) {
		return NULL;
	}
	cx_card__strfree(q->group);
	q->group = cx_card__strndup(p->group, strlen(p->group));
	q->name = cx_card__strndup(name, strlen(name));
	if(q->group == NULL || q->name == NULL || cx_card__set_type(q, p->type, strlen(p->type)) != 0) {
		return NULL;
	}
	for(size_t i = 0; i < p->nparams; i++) {
		for(size_t j = 0; j < p->params[i].nvalues; j++) {
			const char *v = p->params[i].values[j];
			if(cx_card__push_param(q, p->params[i].name, strlen(p->params[i].name), v, strlen(v)) == NULL) {
				return NULL;
			}
		}
	}
	for(size_t i = 0; i < p->nvalues; i++) {
		cx_card_value *v = cx_card__push_value(q);
		if(v == NULL) {
			return NULL;
		}
		for(size_t j = 0; j < p->values[i].ncomps; j++) {
			cx_card_comp *c = cx_card__push_comp(v);
			if(c == NULL) {
				return NULL;
			}
			for(size_t k = 0; k < p->values[i].comps[j].nsubs; k++) {
				const char *str = p->values[i].comps[j].subs[k];
				if(cx_card__push_sub(c, str, strlen(str)) == NULL) {
					return NULL;
				}
			}
		}
	}
	return q;
}

/* Appends a property of one text value to out; NULL when memory runs out. */
static cx_card_prop *add_text(cx_card *out, const char *group, const char *name, const char *value)
{
	cx_card_prop *q = cx_card__push(out);
	cx_card_value *v = q != NULL ? cx_card__push_value(q) : NULL;
	cx_card_comp *c = v != NULL ? cx_card__push_comp(v) : NULL;
	if(c == NULL || cx_card__push_sub(c, value, strlen(value)) == NULL) {
		return NULL;
	}
	cx_card__strfree(q->group);
	q->group = cx_card__strndup(group, strlen(group));
	q->name = cx_card__strndup(name, strlen(name));
	if(q->group == NULL || q->name == NULL || cx_card__set_type(q, "text", 4) != 0) {
		return NULL;
	}
	return q;
}

/* Replaces the only string of q by s[0..n); -1 when memory runs out. */
static int set_value(cx_card_prop *q, const char *s, size_t n)
{
	char *d = cx_card__strndup(s, n);
	if(d == NULL) {
		return -1;
	}
	cx_card__strfree(q->values[0].comps[0].subs[0]);
	q->values[0].comps[0].subs[0] = d;
	return 0;
}

/* Removes parameter name of q when present. */
static void drop(cx_card_prop *q, const char *name)
{
	long i = cx_card__param_index(q, name);
	if(i >= 0) {
		cx_card__drop_param(q, (size_t)i);
	}
}

/* The 3.0 TYPE of a media type ("image/jpeg" -> "JPEG", "application/pgp-keys" -> "PGP") into out[32]. */
static void media_type30(const char *mt, size_t n, char out[32])
{
	if(n == 20 && strncasecmp(mt, "application/pgp-keys", n) == 0) {
		snprintf(out, 32, "PGP");
		return;
	}
	if(n == 21 && strncasecmp(mt, "application/pkix-cert", n) == 0) {
		snprintf(out, 32, "X509");
		return;
	}
	const char *slash = memchr(mt, '/', n);
	const char *sub = slash != NULL ? slash + 1 : mt;
	size_t k = n - (size_t)(sub - mt);
	size_t i = 0;
	for(; i < k && i < 31; i++) {
		char ch = sub[i];
		out[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
	}
	out[i] = '\0';
}

/* True for the 4.0 value types a 3.0 VALUE parameter can name. */
static bool is_type30(const char *t)
{
	static const char *const types[] = {"binary", "boolean", "date", "date-time", "float", "integer",
		"text", "time", "uri", "utc-offset", "vcard", "phone-number", "unknown"};
	for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if(strcmp(types[i], t) == 0) {
			return true;
		}
	}
	return false;
}

/*
 * A date or time value of q in 3.0's form: the extended form ("1985-04-12",
 * "1953-10-15T23:10:00Z"), a birthday without year as Apple writes it
 * (1604-MM-DD with X-APPLE-OMIT-YEAR=1604), the type date, date-time or
 * time after what the value holds; a value 3.0 has no form for stays text.
 */
static int date30(cx_card_prop *q)
{
	const char *v = q->values[0].comps[0].subs[0];
	size_t n = strlen(v);
	const char *type = strcmp(q->type, "utc-offset") == 0 ? "utc-offset"
			: v[0] == 'T' ? "time" : strchr(v, 'T') != NULL ? "date-time" : "date";

	if(strcmp(type, "date") == 0 && n == 6 && v[0] == '-' && v[1] == '-' && strspn(v + 2, "0123456789") == 4) {
		char d[11];
		snprintf(d, sizeof(d), "1604-%.2s-%.2s", v + 2, v + 4);
		if(set_value(q, d, 10) != 0 || cx_card__push_param(q, "x-apple-omit-year", 17, "1604", 4) == NULL) {
			return -1;
		}
		return cx_card__set_type(q, "date", 4);
	}
	if(v[0] == '-' && strcmp(type, "utc-offset") != 0) {
		return cx_card__set_type(q, "text", 4); /* ---DD, --MM: no 3.0 form */
	}
	char *ext = cx_card__date_to_ext(type, v, n);
	if(ext == NULL) {
		return -1;
	}
	int r = set_value(q, ext, strlen(ext));
	cx_card__strfree(ext);
	return r != 0 ? -1 : cx_card__set_type(q, type, strlen(type));
}

/*
 * The properties 4.0 added, which 3.0 readers know only as extensions
 * (X-...), and AGENT, whose 3.0 value is a vCard: a 4.0 card holds it only
 * as a property of no known name, whatever its value.
 */
static bool new_in_40(const char *name)
{
	static const char *const names[] = {"kind", "gender", "anniversary", "lang", "xml", "related",
		"member", "agent"};
	for(size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if(strcmp(names[i], name) == 0) {
			return true;
		}
	}
	return false;
}

/* Converts the value and parameters of q (a copy of a 4.0 property) to 3.0. */
static int prop30(cx_card_prop *q)
{
	bool media = strcmp(q->name, "photo") == 0 || strcmp(q->name, "logo") == 0
			|| strcmp(q->name, "sound") == 0 || strcmp(q->name, "key") == 0;
	bool one = q->nvalues == 1 && q->values[0].ncomps == 1 && q->values[0].comps[0].nsubs == 1;
	const char *v = one ? q->values[0].comps[0].subs[0] : "";
	char t30[32];

	/* PREF=n is TYPE=pref; PID, ALTID, CALSCALE and the others 3.0 lacks go. */
	long pref = cx_card__param_index(q, "pref");
	if(pref >= 0) {
		cx_card__drop_param(q, (size_t)pref);
		if(cx_card__push_param(q, "type", 4, "pref", 4) == NULL) {
			return -1;
		}
	}
	static const char *const gone[] = {"pid", "altid", "calscale", "geo", "tz", "index", "level", "cc"};
	for(size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		drop(q, gone[i]);
	}
	long mt = cx_card__param_index(q, "mediatype");
	if(media && one && strcmp(q->type, "uri") == 0 && strncasecmp(v, "data:", 5) == 0) {
		/* data:<media type>;base64,<data> is ENCODING=b;TYPE=<subtype> */
		const char *comma = strchr(v, ',');
		const char *semi = comma != NULL ? memchr(v, ';', (size_t)(comma - v)) : NULL;
		if(semi != NULL && (size_t)(comma - semi) == 7 && strncasecmp(semi, ";base64", 7) == 0) {
			media_type30(v + 5, (size_t)(semi - v - 5), t30);
			if(mt >= 0) {
				cx_card__drop_param(q, (size_t)mt);
			}
			if(cx_card__push_param(q, "encoding", 8, "b", 1) == NULL
					|| (t30[0] != '\0' && cx_card__push_param(q, "type", 4, t30, strlen(t30)) == NULL)
					|| set_value(q, comma + 1, strlen(comma + 1)) != 0 || cx_card__set_type(q, "binary", 6) != 0) {
				return -1;
			}
			return 0;
		}
	}
	if(mt >= 0) {
		const char *m = q->params[mt].values[0];
		media_type30(m, strlen(m), t30);
		cx_card__drop_param(q, (size_t)mt);
		if(media && t30[0] != '\0' && cx_card__push_param(q, "type", 4, t30, strlen(t30)) == NULL) {
			return -1;
		}
	}
	if(!one) {
		return is_type30(q->type) ? 0 : cx_card__set_type(q, "text", 4);
	}
	if(strcmp(q->name, "tel") == 0 && strcmp(q->type, "uri") == 0) {
		/* 3.0 TEL is a phone number: tel:+1-555-0100 is +1-555-0100 */
		size_t skip = strncasecmp(v, "tel:", 4) == 0 ? 4 : 0;
		if(set_value(q, v + skip, strlen(v + skip)) != 0) {
			return -1;
		}
		return cx_card__set_type(q, "text", 4);
	}
	if(strcmp(q->name, "geo") == 0 && strcmp(q->type, "uri") == 0 && strncasecmp(v, "geo:", 4) == 0) {
		/* geo:lat,lon is lat;lon (any ;crs= or ;u= after it goes) */
		const char *comma = strchr(v + 4, ',');
		if(comma != NULL) {
			size_t lon = strcspn(comma + 1, ",;");
			char d[128];
			if((size_t)(comma - v - 4) + lon + 1 < sizeof(d)) {
				snprintf(d, sizeof(d), "%.*s;%.*s", (int)(comma - v - 4), v + 4, (int)lon, comma + 1);
				if(set_value(q, d, strlen(d)) != 0) {
					return -1;
				}
				return cx_card__set_type(q, "float", 5);
			}
		}
	}
	if(strcmp(q->name, "uid") == 0 && strcmp(q->type, "uri") == 0) {
		return cx_card__set_type(q, "text", 4);
	}
	if(cx_card__is_date_type(q->type)) {
		return date30(q);
	}
	if(strcmp(q->type, "timestamp") == 0) {
		return date30(q);
	}
	return is_type30(q->type) ? 0 : cx_card__set_type(q, "text", 4);
}

/* The 3.0 form of card: a new card (NULL when memory runs out) for the writer. */
static cx_card *to30(const cx_card *card)
{
	cx_card *out = cx_card_new();
	char name[80];

	for(size_t i = 0; out != NULL && i < cx_card_count(card); i++) {
		const cx_card_prop *p = cx_card_prop_at(card, i);
		if(strcmp(p->name, "clientpidmap") == 0) {
			continue; /* PID parameters go too */
		}
		snprintf(name, sizeof(name), "%s%s", new_in_40(p->name) ? "x-" : "", p->name);
		cx_card_prop *q = copy_prop(out, p, name);
		if(q == NULL || prop30(q) != 0) {
			goto nomem;
		}
		/* ADR;LABEL= is a LABEL of the same types after it; SORT-AS of N is SORT-STRING. */
		long label = cx_card__param_index(q, "label");
		long sort = cx_card__param_index(q, "sort-as");
		if(strcmp(p->name, "adr") == 0 && label >= 0) {
			char *text = cx_card__strndup(q->params[label].values[0], strlen(q->params[label].values[0]));
			cx_card__drop_param(q, (size_t)label);
			long t = cx_card__param_index(q, "type");
			cx_card_prop *l = text != NULL ? add_text(out, q->group, "label", text) : NULL;
			cx_card__strfree(text);
			q = cx_card__prop_mut(out, cx_card_count(out) - 2); /* the push may have moved it */
			if(l == NULL) {
				goto nomem;
			}
			for(size_t j = 0; t >= 0 && j < q->params[t].nvalues; j++) {
				const char *tv = q->params[t].values[j];
				if(cx_card__push_param(l, "type", 4, tv, strlen(tv)) == NULL) {
					goto nomem;
				}
			}
		} else if(strcmp(p->name, "n") == 0 && sort >= 0) {
			cx_sb b = {0};
			for(size_t j = 0; j < q->params[sort].nvalues; j++) {
				if((j > 0 && cx_sb_chr(&b, ' ') != 0) || cx_sb_str(&b, q->params[sort].values[j]) != 0) {
					cx_sb_free(&b);
					goto nomem;
				}
			}
			cx_card__drop_param(q, (size_t)sort);
			cx_card_prop *ss = add_text(out, "", "sort-string", b.p != NULL ? b.p : "");
			cx_sb_free(&b);
			if(ss == NULL) {
				goto nomem;
			}
		} else if(sort >= 0) {
			cx_card__drop_param(q, (size_t)sort);
		}
	}
	if(out != NULL && cx_card_find(out, "n", 0) == NULL && cx_card_fn(card) != NULL) {
		/* 3.0 requires N: the name as the given name, as phones show it whole. */
		cx_card_prop *n = add_text(out, "", "n", "");
		if(n == NULL) {
			goto nomem;
		}
		for(int k = 1; k < 5; k++) {
			cx_card_comp *c = cx_card__push_comp(&n->values[0]);
			const char *str = k == 1 ? cx_card_fn(card) : "";
			if(c == NULL || cx_card__push_sub(c, str, strlen(str)) == NULL) {
				goto nomem;
			}
		}
		cx_card__move_last(out, 1);
	}
	return out;
nomem:
	cx_card_free(out);
	return NULL;
}

int cx_vcard_write_version(const cx_card *card, int version, char **out, size_t *len)
{
	cx_card *conv = NULL;
	cx_sb doc = {0};
	cx_sb line = {0};
	int rc = -1;

	*out = NULL;
	*len = 0;
	if(version != 3 && version != 4) {
		return -1;
	}
	if(version == 3) {
		conv = to30(card);
		if(conv == NULL) {
			return -1;
		}
		card = conv;
	}
	if(cx_sb_str(&doc, version == 3 ? "BEGIN:VCARD\r\nVERSION:3.0\r\n" : "BEGIN:VCARD\r\nVERSION:4.0\r\n") != 0) {
		goto cleanup;
	}
	for(size_t i = 0; i < cx_card_count(card); i++) {
		if(put_prop(&line, cx_card_prop_at(card, i), version) != 0 || put_folded(&doc, line.p, line.n) != 0) {
			goto cleanup;
		}
	}
	if(cx_sb_str(&doc, "END:VCARD\r\n") != 0) {
		goto cleanup;
	}
	*out = doc.p;
	*len = doc.n;
	doc.p = NULL;
	rc = 0;
cleanup:
	cx_card_free(conv);
	cx_sb_free(&doc);
	cx_sb_free(&line);
	return rc;
}

int cx_vcard_write(const cx_card *card, char **out, size_t *len)
{
	return cx_vcard_write_version(card, 4, out, len);
}
