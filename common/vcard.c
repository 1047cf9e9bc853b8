/*
 * vCard text reader (vcard.h): content lines (vcard_lines.c unfolds them),
 * escapes, parameters, values, the decoding of 2.1 values
 * (quoted-printable, CHARSET), cards and streams; vcard_legacy.c converts
 * what 2.1 and 3.0 say otherwise.
 */
#include "vcard.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "crypto.h"
#include "json.h"
#include "vcard_int.h"

/* ---- content line header: [group "."] name ---- */

static size_t token_len(const char *s, size_t n)
{
	size_t i = 0;
	while(i < n && cx_card__is_token(s + i, 1)) {
		i++;
	}
	return i;
}

typedef struct {
	const char *group;
	size_t glen;
	const char *name;
	size_t nlen;
	size_t after; /* offset of the ';' or ':' that follows the name */
	char pname[32]; /* the name, for error reports */
} header;

typedef struct {
	cx_card_err *err;
	size_t max_photo;
	int version; /* 2 (2.1), 3 or 4 */
	int depth;   /* AGENT cards read inside this one */
} pctx;

static int fail_at(pctx *c, cx_card_code code, unsigned line, const char *prop, const char *msg)
{
	return cx_card__fail(c->err, code, line, prop, msg);
}

/* Parses the header of l. Returns 0, or -1 with the error set. */
static int parse_header(pctx *c, const cx_vline *l, header *h)
{
	const char *s = l->text.p;
	size_t n = l->text.n;
	bool colon = memchr(s, ':', n) != NULL;
	size_t t = token_len(s, n);

	memset(h, 0, sizeof(*h));
	h->group = s;
	h->name = s;
	if(t < n && s[t] == '.' && t > 0) {
		h->glen = t;
		h->name = s + t + 1;
		t = t + 1 + token_len(s + t + 1, n - t - 1);
	}
	h->nlen = (size_t)(s + t - h->name);
	size_t pn = h->nlen < sizeof(h->pname) - 1 ? h->nlen : sizeof(h->pname) - 1;
	memcpy(h->pname, h->name, pn);
	h->pname[pn] = '\0';
	h->after = t;
	if(!colon) {
		return fail_at(c, CX_CARD_E_NO_COLON, l->line, h->pname, NULL);
	}
	if(h->nlen == 0) {
		return fail_at(c, CX_CARD_E_SYNTAX, l->line, NULL, "content line has no property name");
	}
	if(t >= n || (s[t] != ';' && s[t] != ':')) {
		return fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, t), h->pname,
				"invalid character in a property or group name");
	}
	return 0;
}

/* True when l is "name:value" for this name and value (case-insensitive, value trimmed). */
static bool is_line(const cx_vline *l, const char *name, const char *value)
{
	size_t nl = strlen(name);
	size_t vl = strlen(value);
	const char *s = l->text.p;
	size_t n = l->text.n;

	if(n < nl + 1 || strncasecmp(s, name, nl) != 0 || s[nl] != ':') {
		return false;
	}
	const char *v = s + nl + 1;
	size_t k = n - nl - 1;
	while(k > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		k--;
	}
	while(k > 0 && (v[k - 1] == ' ' || v[k - 1] == '\t')) {
		k--;
	}
	return k == vl && strncasecmp(v, value, vl) == 0;
}

static bool is_name(const cx_vline *l, const char *name)
{
	size_t nl = strlen(name);
	return l->text.n > nl && strncasecmp(l->text.p, name, nl) == 0 && l->text.p[nl] == ':';
}

/* The leading name token of l (its group, if it has one), for error reports. */
static void token_name(const cx_vline *l, char out[32])
{
	size_t t = token_len(l->text.p, l->text.n);
	size_t pn = t < 31 ? t : 31;

	memcpy(out, l->text.p, pn);
	out[pn] = '\0';
}

/*
 * Control characters (only tab is allowed inside a line) and, with utf8,
 * UTF-8 in l->text[0..n).
 */
static int check_bytes(pctx *c, const cx_vline *l, size_t n, bool utf8)
{
	const char *s = l->text.p;
	char pname[32];

	token_name(l, pname);
	size_t bad = utf8 ? cx_card__utf8_bad(s, n) : n;
	if(bad != n) {
		return fail_at(c, CX_CARD_E_UTF8, cx_vline_at(l, bad), pname, NULL);
	}
	for(size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			return fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, i), pname, "control character in a line");
		}
	}
	return 0;
}

/* ---- parameters ---- */

/* RFC 6868: ^^ -> ^, ^' -> ", ^n -> newline; any other ^ stands for itself. */
static int caret_decode(cx_sb *out, const char *s, size_t n)
{
	out->n = 0;
	if(cx_sb_put(out, "", 0) != 0) {
		return -1;
	}
	for(size_t i = 0; i < n; i++) {
		char ch = s[i];
		if(ch == '^' && i + 1 < n) {
			char e = s[i + 1];
			if(e == '^' || e == '\'' || e == 'n' || e == 'N') {
				ch = e == '^' ? '^' : e == '\'' ? '"' : '\n';
				i++;
			}
		}
		if(cx_sb_chr(out, ch) != 0) {
			return -1;
		}
	}
	return 0;
}

/* Adds one raw parameter value, decoded, split on ',' when list is set. */
static int add_param_value(cx_card_prop *p, const char *name, size_t nlen, const char *s, size_t n,
		bool list, cx_sb *tmp)
{
	size_t start = 0;
	for(size_t i = 0; i <= n; i++) {
		if(i < n && !(list && s[i] == ',')) {
			continue;
		}
		if(caret_decode(tmp, s + start, i - start) != 0
				|| cx_card__push_param(p, name, nlen, tmp->p, tmp->n) == NULL) {
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

/*
 * Parses the parameters of l from h->after into p, leaves *value at the
 * offset after the ':'. Returns 0, or -1 with the error set.
 */
static int parse_params(pctx *c, const cx_vline *l, const header *h, cx_card_prop *p, size_t *value)
{
	const char *s = l->text.p;
	size_t n = l->text.n;
	size_t i = h->after;
	cx_sb tmp = {0};
	int rc = -1;

	while(i < n && s[i] == ';') {
		i++;
		const char *pname = s + i;
		size_t plen = token_len(s + i, n - i);
		i += plen;
		if(plen == 0 || plen >= 64) {
			fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, i), h->pname,
					plen == 0 ? "empty or invalid parameter name" : "parameter name too long");
			goto cleanup;
		}
		if(i >= n) {
			fail_at(c, CX_CARD_E_NO_COLON, l->line, h->pname, NULL);
			goto cleanup;
		}
		if(s[i] == ';' || s[i] == ':') {
			/*
			 * A bare value (vCard 2.1 style, which 3.0 writers still use):
			 * an encoding, a value location, or else a TYPE value.
			 */
			if(c->version == 4) {
				fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, i), h->pname, "parameter without '=' and value");
				goto cleanup;
			}
			const char *as = "type";
			if(cx_vline_word_is(pname, plen, "quoted-printable") || cx_vline_word_is(pname, plen, "base64")
					|| cx_vline_word_is(pname, plen, "8bit") || cx_vline_word_is(pname, plen, "7bit")) {
				as = "encoding";
			} else if(cx_vline_word_is(pname, plen, "inline") || cx_vline_word_is(pname, plen, "url")
					|| cx_vline_word_is(pname, plen, "content-id") || cx_vline_word_is(pname, plen, "cid")) {
				as = "value";
			}
			if(add_param_value(p, as, strlen(as), pname, plen, false, &tmp) != 0) {
				goto nomem;
			}
			continue;
		}
		if(s[i] != '=') {
			fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, i), h->pname, "invalid character in a parameter name");
			goto cleanup;
		}
		bool list = (plen == 4 && strncasecmp(pname, "type", 4) == 0)
				|| (plen == 7 && strncasecmp(pname, "sort-as", 7) == 0);
		for(;;) {
			i++; /* past '=' or ',' */
			size_t start = i;
			size_t end;
			if(i < n && s[i] == '"') {
				const char *q = memchr(s + i + 1, '"', n - i - 1);
				if(q == NULL) {
					fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, i), h->pname,
							"unterminated quoted parameter value");
					goto cleanup;
				}
				start = i + 1;
				end = (size_t)(q - s);
				i = end + 1;
				if(i < n && s[i] != ',' && s[i] != ';' && s[i] != ':') {
					fail_at(c, CX_CARD_E_SYNTAX, cx_vline_at(l, i), h->pname,
							"text after a quoted parameter value");
					goto cleanup;
				}
			} else {
				list = false;
				while(i < n && s[i] != ',' && s[i] != ';' && s[i] != ':') {
					i++;
				}
				end = i;
			}
			if(i >= n) {
				fail_at(c, CX_CARD_E_NO_COLON, l->line, h->pname, NULL);
				goto cleanup;
			}
			if(add_param_value(p, pname, plen, s + start, end - start, list, &tmp) != 0) {
				goto nomem;
			}
			list = (plen == 4 && strncasecmp(pname, "type", 4) == 0)
					|| (plen == 7 && strncasecmp(pname, "sort-as", 7) == 0);
			if(s[i] != ',') {
				break;
			}
		}
	}
	if(i >= n || s[i] != ':') {
		fail_at(c, CX_CARD_E_NO_COLON, l->line, h->pname, NULL);
		goto cleanup;
	}
	*value = i + 1;
	rc = 0;
	goto cleanup;
nomem:
	fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
cleanup:
	cx_sb_free(&tmp);
	return rc;
}

/* ---- values ---- */

/* True when the text value s[0..n) has an unescaped ';'. */
static bool has_unescaped(const char *s, size_t n, char sep)
{
	for(size_t i = 0; i < n; i++) {
		if(s[i] == '\\') {
			i++;
		} else if(s[i] == sep) {
			return true;
		}
	}
	return false;
}

/* A value: the bytes after the ':' of a line, or what they decoded to. */
typedef struct {
	const char *s;
	size_t n;
	const cx_vline *l;
	size_t off; /* where s starts in l->text; SIZE_MAX when s was decoded */
} vsrc;

/* The physical line of byte i of v (the line's first when v was decoded). */
static unsigned vline(const vsrc *v, size_t i)
{
	return v->off == SIZE_MAX ? v->l->line : cx_vline_at(v->l, v->off + i);
}

/*
 * Splits and unescapes the text value v into p (see vcard.h). 2.1 has no
 * lists: a ',' is a separator only in NICKNAME and CATEGORIES.
 */
static int text_value(pctx *c, const vsrc *src, const header *h, cx_card_prop *p, int kind)
{
	const char *s = src->s;
	size_t n = src->n;
	size_t off = 0;
	cx_sb cur = {0};
	int rc = -1;

	if(kind == CX_CARD__GENERIC) {
		kind = has_unescaped(s, n, ';') ? CX_CARD__STRUCT_LIST
				: c->version == 2 ? CX_CARD__SINGLE : CX_CARD__MULTI;
	}
	char vsep = kind == CX_CARD__MULTI ? ',' : '\0';
	char csep = (kind == CX_CARD__STRUCT || kind == CX_CARD__STRUCT_LIST) ? ';' : '\0';
	char ssep = kind == CX_CARD__STRUCT_LIST && c->version != 2 ? ',' : '\0';
	cx_card_value *v = cx_card__push_value(p);
	cx_card_comp *comp = v != NULL ? cx_card__push_comp(v) : NULL;
	if(comp == NULL || cx_sb_put(&cur, "", 0) != 0) {
		goto nomem;
	}
	for(size_t i = off; i <= n; i++) {
		char ch = i < n ? s[i] : '\0';
		if(i == n || ch == vsep || ch == csep || ch == ssep) {
			if(cx_card__push_sub(comp, cur.p, cur.n) == NULL) {
				goto nomem;
			}
			cur.n = 0;
			if(i == n) {
				break;
			}
			if(ch == vsep) {
				v = cx_card__push_value(p);
				comp = v != NULL ? cx_card__push_comp(v) : NULL;
			} else if(ch == csep) {
				comp = cx_card__push_comp(&p->values[p->nvalues - 1]);
			}
			if(comp == NULL) {
				goto nomem;
			}
			continue;
		}
		if(ch == '\\') {
			char e = i + 1 < n ? s[i + 1] : '\0';
			if(e == '\\' || e == ',' || e == ';') {
				ch = e;
				i++;
			} else if(e == 'n' || e == 'N') {
				ch = '\n';
				i++;
			} else if(c->version == 4) {
				fail_at(c, CX_CARD_E_ESCAPE, vline(src, i), h->pname,
						i + 1 < n ? "invalid backslash escape (only \\\\ \\, \\; \\n are allowed)"
								: "backslash at the end of a value");
				goto cleanup;
			}
			/* 3.0 and 2.1: a backslash that starts no escape is a SAFE-CHAR (RFC 2426) and stays. */
		}
		if(cx_sb_chr(&cur, ch) != 0) {
			goto nomem;
		}
	}
	rc = 0;
	goto cleanup;
nomem:
	fail_at(c, CX_CARD_E_NOMEM, src->l->line, h->pname, NULL);
cleanup:
	cx_sb_free(&cur);
	return rc;
}

/*
 * A value of a type other than text, as written (dates in the basic form):
 * one string, or for the list types of a property of no known name, the
 * strings between ',' (card.h).
 */
static int raw_value(pctx *c, const vsrc *src, const header *h, cx_card_prop *p)
{
	const char *s = src->s;
	size_t n = src->n;
	bool list = cx_card__kind(p->name) == CX_CARD__GENERIC && cx_card__is_list_type(p->type);
	cx_sb tmp = {0};
	char *d = NULL;
	int rc = -1;

	if(c->version != 4 && strcmp(p->type, "uri") == 0) {
		/* Some 3.0 writers escape URIs ("http\://"); a URI has no backslash of its own. */
		for(size_t i = 0; i < n; i++) {
			if(s[i] == '\\' && i + 1 < n && strchr(":,;\\", s[i + 1]) != NULL) {
				i++;
			}
			if(cx_sb_chr(&tmp, s[i]) != 0) {
				goto nomem;
			}
		}
		if(cx_sb_put(&tmp, "", 0) != 0) {
			goto nomem;
		}
		s = tmp.p;
		n = tmp.n;
	}
	for(size_t start = 0, i = 0; i <= n; i++) {
		if(i < n && !(list && s[i] == ',')) {
			continue;
		}
		const char *piece = s + start;
		size_t plen = i - start;
		start = i + 1;
		if(cx_card__is_date_type(p->type)) {
			cx_card__strfree(d);
			d = cx_card__date_to_basic(p->type, piece, plen);
			if(d == NULL) {
				goto nomem;
			}
			piece = d;
			plen = strlen(d);
		}
		cx_card_value *v = cx_card__push_value(p);
		cx_card_comp *comp = v != NULL ? cx_card__push_comp(v) : NULL;
		if(comp == NULL || cx_card__push_sub(comp, piece, plen) == NULL) {
			goto nomem;
		}
	}
	rc = 0;
	goto cleanup;
nomem:
	fail_at(c, CX_CARD_E_NOMEM, src->l->line, h->pname, NULL);
cleanup:
	cx_card__strfree(d);
	cx_sb_free(&tmp);
	return rc;
}

/* ---- decoding 2.1 values ---- */

/*
 * True when the value of l is decoded before it is read (quoted-printable,
 * a CHARSET, or any 2.1 value, which may be in Windows-1252): its UTF-8 is
 * checked after the decoding, not as written.
 */
static bool decoded_line(const cx_vline *l, int version)
{
	bool charset = false;
	int enc = cx_vline_encoding(l->text.p, l->text.n, &charset);
	return version == 2 || enc == CX_VLINE_ENC_QP || charset;
}

/* True when an ENCODING value of p is QUOTED-PRINTABLE (as cx_vline_encoding finds it). */
static bool is_qp(const cx_card_prop *p)
{
	long e = cx_card__param_index(p, "encoding");
	for(size_t j = 0; e >= 0 && j < p->params[e].nvalues; j++) {
		if(strcasecmp(p->params[e].values[j], "quoted-printable") == 0) {
			return true;
		}
	}
	return false;
}

/* The one value of parameter name of p, or NULL. */
static const char *param1(const cx_card_prop *p, const char *name)
{
	long i = cx_card__param_index(p, name);
	return i >= 0 && p->params[i].nvalues == 1 ? p->params[i].values[0] : NULL;
}

/*
 * The value of l from off, decoded: quoted-printable undone, converted from
 * its CHARSET (2.1 without one: UTF-8 when it is, else Windows-1252, the
 * 8-bit text of Windows programs) to UTF-8, line breaks as newlines in text
 * and as "\n" in values kept as written. *src points into l or into buf.
 * Returns 0, or -1 with the error set.
 */
static int decode_value(pctx *c, const cx_vline *l, const header *h, const cx_card_prop *p, size_t off,
		cx_sb *buf, vsrc *src)
{
	const char *v = l->text.p + off;
	size_t n = l->text.n - off;
	const char *cs_name = param1(p, "charset");
	bool qp = is_qp(p);
	bool text = strcmp(p->type, "text") == 0;
	char *conv = NULL;
	size_t clen = 0, bad = 0;
	int cs = CX_CHARSET_UTF8;
	int rc = -1;

	*src = (vsrc){v, n, l, off};
	if(!decoded_line(l, c->version)) {
		return 0;
	}
	if(cx_card__param_index(p, "charset") >= 0) {
		cs = cs_name != NULL ? cx_charset_find(cs_name, strlen(cs_name)) : -1;
		if(cs < 0) {
			return fail_at(c, CX_CARD_E_CHARSET, l->line, h->pname,
					"CHARSET names a character set that is not read "
					"(UTF-8, ISO-8859-x, Windows-125x, KOI8, Macintosh are)");
		}
	}
	if(qp) {
		if(cx_sb_put(buf, v, n) != 0) {
			goto nomem;
		}
		buf->n = cx_qp_decode(buf->p, buf->n, buf->p);
		buf->p[buf->n] = '\0';
		v = buf->p;
		n = buf->n;
	}
	if(cs_name == NULL && c->version == 2 && cx_card__utf8_bad(v, n) != n) {
		cs = cx_charset_find("windows-1252", 12);
	}
	int r = cx_charset_to_utf8(cs, v, n, &conv, &clen, &bad);
	if(r < 0) {
		goto nomem;
	}
	if(r > 0) {
		unsigned line = qp ? l->line : cx_vline_at(l, off + bad);
		if(cs == CX_CHARSET_UTF8) {
			return fail_at(c, CX_CARD_E_UTF8, line, h->pname, NULL);
		}
		return fail_at(c, CX_CARD_E_CHARSET, line, h->pname, NULL);
	}
	buf->n = 0;
	for(size_t i = 0; i < clen; i++) {
		unsigned char ch = (unsigned char)conv[i];
		int w = 0;
		if(ch == '\r' || ch == '\n') {
			if(ch == '\r' && i + 1 < clen && conv[i + 1] == '\n') {
				i++;
			}
			if(!text && strcmp(p->type, "unknown") != 0) {
				fail_at(c, CX_CARD_E_SYNTAX, l->line, h->pname, "line break in a value that is not text");
				goto cleanup;
			}
			/* Text holds newlines; a value kept as written holds its escape. */
			w = text ? cx_sb_chr(buf, '\n') : cx_sb_str(buf, "\\n");
		} else if((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			fail_at(c, CX_CARD_E_SYNTAX, l->line, h->pname, "control character in a value");
			goto cleanup;
		} else {
			w = cx_sb_chr(buf, (char)ch);
		}
		if(w != 0) {
			goto nomem;
		}
	}
	if(cx_sb_put(buf, "", 0) != 0) {
		goto nomem;
	}
	*src = (vsrc){buf->p, buf->n, l, SIZE_MAX};
	rc = 0;
	goto cleanup;
nomem:
	fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
cleanup:
	if(conv != NULL) {
		cx_wipe(conv, clen);
		free(conv);
	}
	return rc;
}

/* ---- one property ---- */

static int parse_card(const char *text, size_t len, int depth, cx_card **out, cx_card_err *err);

/*
 * A 2.1 or 3.0 AGENT: by URI it is RELATED;TYPE=agent; an inline vCard
 * (2.1: the lines after it; 3.0: its escaped text), which 4.0 cannot hold,
 * becomes RELATED;VALUE=text;TYPE=agent with the agent's name. p is the
 * last property of card. Returns 0, or -1 with the error set.
 */
static int convert_agent(pctx *c, cx_card *card, cx_card_prop *p, const cx_vline *l, const header *h)
{
	char *name = cx_card__strndup("related", 7);
	if(name == NULL) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
	}
	cx_card__strfree(p->name);
	p->name = name;
	if(cx_card__push_param(p, "type", 4, "agent", 5) == NULL) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
	}
	if(strcmp(p->type, "text") != 0) {
		return 0;
	}
	const char *inline_text = l->agent.n > 0 ? l->agent.p : p->values[0].comps[0].subs[0];
	size_t ilen = l->agent.n > 0 ? l->agent.n : strlen(inline_text);
	if(ilen == 0) {
		cx_card__pop(card); /* an AGENT with nothing in it */
		return 0;
	}
	size_t lead = strspn(inline_text, " \t\r\n");
	if(ilen - lead < 11 || strncasecmp(inline_text + lead, "begin:vcard", 11) != 0) {
		return 0; /* not a vCard but the agent's name, as some writers put it: kept as text */
	}
	if(c->depth >= 2) {
		return fail_at(c, CX_CARD_E_SYNTAX, l->line, "AGENT", "AGENT cards nested too deep");
	}
	cx_card *agent = NULL;
	cx_card_err aerr = {0};
	if(parse_card(inline_text, ilen, c->depth + 1, &agent, &aerr) != 0) {
		return fail_at(c, aerr.code == CX_CARD_E_NOMEM ? CX_CARD_E_NOMEM : CX_CARD_E_PROPERTY, l->line,
				"AGENT", "the AGENT's vCard is not valid");
	}
	char *fn = cx_card__strndup(cx_card_fn(agent), strlen(cx_card_fn(agent)));
	cx_card_free(agent);
	if(fn == NULL) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
	}
	cx_card__strfree(p->values[0].comps[0].subs[0]);
	p->values[0].comps[0].subs[0] = fn;
	return 0;
}

static int parse_prop(pctx *c, cx_card *card, const cx_vline *l)
{
	header h;
	size_t off;
	cx_sb buf = {0};
	vsrc src;
	int rc = -1;

	if(parse_header(c, l, &h) != 0) {
		return -1;
	}
	if(h.nlen == 7 && strncasecmp(h.name, "version", 7) == 0) {
		return 0; /* checked before, written by the writer */
	}
	if(cx_card__is_delimiter(h.name, h.nlen)) {
		/* BEGIN:VCARD and END:VCARD were seen before; these have a group or parameters. */
		return fail_at(c, CX_CARD_E_BEGIN_END, l->line, h.pname,
				"BEGIN or END with a group or parameters inside a card");
	}
	if(cx_card_count(card) >= CX_CARD_MAX_PROPS - 1) { /* VERSION takes the last place */
		return fail_at(c, CX_CARD_E_LIMIT, l->line, h.pname, NULL);
	}
	cx_card_prop *p = cx_card__push(card);
	if(p == NULL) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
	}
	cx_card__strfree(p->group);
	p->group = cx_card__strndup(h.group, h.glen);
	p->name = cx_card__strndup(h.name, h.nlen);
	if(p->group == NULL || p->name == NULL) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
	}
	cx_vcard__lower(p->name);
	if(parse_params(c, l, &h, p, &off) != 0) {
		return -1;
	}
	if(decoded_line(l, c->version) && check_bytes(c, l, off, true) != 0) {
		return -1; /* the value's UTF-8 is checked once decoded */
	}
	if(cx_card__param_index(p, "group") >= 0) {
		/* jCard writes the property group as a "group" parameter (RFC 7095 section 3.3.1.2). */
		return fail_at(c, CX_CARD_E_SYNTAX, l->line, h.pname,
				"GROUP parameter (jCard reserves it for the property group)");
	}
	if(c->version != 4 && cx_vcard__dropped_name(p->name)) {
		cx_card__pop(card);
		return 0;
	}
	long vi = cx_card__param_index(p, "value");
	if(vi >= 0 && (p->params[vi].nvalues != 1
			|| !cx_card__is_token(p->params[vi].values[0], strlen(p->params[vi].values[0])))) {
		/* RFC 6350 value-param: "VALUE=" one value type name (iana-token or x-name). */
		return fail_at(c, CX_CARD_E_SYNTAX, l->line, h.pname, "VALUE parameter is not one value type name");
	}
	const char *type = vi >= 0 ? p->params[vi].values[0] : cx_card__default_type(p->name);
	int kind = cx_card__kind(p->name);
	bool cid = false;
	if(c->version != 4) {
		/* 2.1 value locations: URL is a URI, CONTENT-ID a cid: URI, INLINE the default. */
		if(vi >= 0 && strcasecmp(type, "url") == 0) {
			type = "uri";
		} else if(vi >= 0 && (strcasecmp(type, "content-id") == 0 || strcasecmp(type, "cid") == 0)) {
			type = "uri";
			cid = true;
		} else if(vi >= 0 && strcasecmp(type, "inline") == 0) {
			type = cx_card__default_type(p->name);
		}
		/* What 4.0 has no more, read as text to be converted (vcard_legacy.c). */
		if(vi < 0 && (strcmp(p->name, "label") == 0 || strcmp(p->name, "sort-string") == 0
				|| strcmp(p->name, "agent") == 0)) {
			type = "text";
			kind = CX_CARD__SINGLE;
		}
	}
	if(cx_card__set_type(p, type, strlen(type)) != 0) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
	}
	if(vi >= 0) {
		cx_card__drop_param(p, (size_t)vi);
	}
	if(decode_value(c, l, &h, p, off, &buf, &src) != 0) {
		goto cleanup;
	}
	if(src.off == SIZE_MAX) {
		/* Decoded: the value is UTF-8 text now, in any version. */
		long e = cx_card__param_index(p, "encoding");
		if(e >= 0 && is_qp(p)) {
			cx_card__drop_param(p, (size_t)e);
		}
		e = cx_card__param_index(p, "charset");
		if(e >= 0) {
			cx_card__drop_param(p, (size_t)e);
		}
	}
	if(cid) {
		/* RFC 2392: the message part "<id>" is the URI cid:id */
		size_t k = src.n;
		const char *v = src.s;
		if(k >= 2 && v[0] == '<' && v[k - 1] == '>') {
			v++;
			k -= 2;
		}
		cx_sb u = {0};
		if(cx_sb_str(&u, "cid:") != 0 || cx_sb_put(&u, v, k) != 0) {
			cx_sb_free(&u);
			fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
			goto cleanup;
		}
		cx_sb_free(&buf);
		buf = u;
		src = (vsrc){buf.p, buf.n, l, SIZE_MAX};
	}
	int r = strcmp(p->type, "text") == 0 ? text_value(c, &src, &h, p, kind) : raw_value(c, &src, &h, p);
	if(r != 0) {
		goto cleanup;
	}
	if(c->version != 4) {
		if(strcmp(p->name, "agent") == 0) {
			size_t before = cx_card_count(card);
			if(convert_agent(c, card, p, l, &h) != 0) {
				goto cleanup;
			}
			if(cx_card_count(card) < before) {
				rc = 0; /* an empty AGENT was dropped */
				goto cleanup;
			}
		}
		if(cx_vcard__upgrade_prop(p) != 0) {
			fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
			goto cleanup;
		}
	}
	const char *why = cx_card__prop_problem(p);
	if(why != NULL) {
		fail_at(c, CX_CARD_E_PROPERTY, l->line, h.pname, why);
		goto cleanup;
	}
	if(strcmp(p->name, "photo") == 0 && c->max_photo > 0) {
		size_t total = 0;
		for(size_t i = 0; i < p->nvalues; i++) {
			for(size_t j = 0; j < p->values[i].ncomps; j++) {
				for(size_t k = 0; k < p->values[i].comps[j].nsubs; k++) {
					total += strlen(p->values[i].comps[j].subs[k]);
				}
			}
		}
		if(total > c->max_photo) {
			fail_at(c, CX_CARD_E_PHOTO_SIZE, l->line, "PHOTO", NULL);
			goto cleanup;
		}
	}
	if(strcmp(p->name, "fn") == 0 && (p->values[0].comps[0].subs[0][0] == '\0')) {
		if(c->version != 4) {
			cx_card__pop(card); /* 2.1 and 3.0 writers leave it empty: one is made from N */
			rc = 0;
			goto cleanup;
		}
		fail_at(c, CX_CARD_E_NO_FN, l->line, "FN", "FN is empty");
		goto cleanup;
	}
	rc = 0;
cleanup:
	cx_sb_free(&buf);
	return rc;
}

/* ---- cards ---- */

/* The VERSION of the collected lines: 2 (2.1), 3 or 4, or -1 with the error set. */
static int find_version(pctx *c, const cx_vline *lines, size_t n, unsigned begin_line)
{
	int version = 0;

	for(size_t i = 0; i < n; i++) {
		if(!is_name(&lines[i], "version")) {
			continue;
		}
		int v = is_line(&lines[i], "version", "4.0") ? 4 : is_line(&lines[i], "version", "3.0") ? 3
				: is_line(&lines[i], "version", "2.1") ? 2 : -1;
		if(v < 0) {
			return fail_at(c, CX_CARD_E_VERSION, lines[i].line, "VERSION",
					"unsupported VERSION (2.1, 3.0 and 4.0 are read)");
		}
		if(version != 0 && v != version) {
			return fail_at(c, CX_CARD_E_VERSION, lines[i].line, "VERSION", "conflicting VERSION lines");
		}
		version = v;
	}
	if(version == 0) {
		return fail_at(c, CX_CARD_E_VERSION, begin_line, "VERSION", "card has no VERSION property");
	}
	return version;
}

/* True when l is an AGENT property (any group or parameters) with nothing after its ':'. */
static bool is_empty_agent(const cx_vline *l)
{
	size_t t = token_len(l->text.p, l->text.n);
	const char *name = l->text.p;
	size_t nlen = t;
	if(t < l->text.n && l->text.p[t] == '.') {
		name = l->text.p + t + 1;
		nlen = token_len(name, l->text.n - t - 1);
	}
	if(!cx_vline_word_is(name, nlen, "agent")) {
		return false;
	}
	const char *colon = memchr(l->text.p, ':', l->text.n);
	if(colon == NULL) {
		return false;
	}
	for(const char *s = colon + 1; s < l->text.p + l->text.n; s++) {
		if(*s != ' ' && *s != '\t') {
			return false;
		}
	}
	return true;
}

/*
 * Collects the lines of the vCard a 2.1 AGENT holds (l is its BEGIN:VCARD)
 * into agent, up to the END:VCARD that matches. Returns 0, 1 when the text
 * ends first, -1 when memory runs out.
 */
static int collect_agent(const char *text, size_t len, cx_vcard_cursor *cur, cx_vline *l, cx_sb *agent)
{
	unsigned depth = 1;

	for(;;) {
		if(cx_sb_put(agent, l->text.p, l->text.n) != 0 || cx_sb_put(agent, "\r\n", 2) != 0) {
			return -1;
		}
		if(depth == 0) {
			return 0;
		}
		int r = cx_vline_next(text, len, cur, l);
		if(r != 0) {
			return r;
		}
		if(is_line(l, "begin", "vcard")) {
			depth++;
		} else if(is_line(l, "end", "vcard")) {
			depth--;
		}
	}
}

/*
 * After a failure inside a card: moves cur past the next END:VCARD line, or
 * up to the next BEGIN:VCARD line (a card of its own), or to the end.
 */
static void skip_card(const char *text, size_t len, cx_vcard_cursor *cur)
{
	while(cur->pos < len) {
		const char *s;
		size_t n;
		cx_vline_peek(text, len, cur, &s, &n);
		while(n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
			n--;
		}
		if(cx_vline_word_is(s, n, "begin:vcard")) {
			return;
		}
		cx_vline_physical(text, len, cur, &s, &n);
		if(cx_vline_is_end(s, n)) {
			return;
		}
	}
}

/*
 * The next card of text from cur (see cx_vcard_parse_next); depth counts
 * the AGENT cards this one is inside. *ended says whether cur is past the
 * card's END:VCARD line (or at the end of text) after a failure.
 */
static int parse_next(const char *text, size_t len, cx_vcard_cursor *cur, cx_card **out,
		size_t max_photo, cx_card_err *err, int depth, bool *ended)
{
	pctx c = {.err = err, .max_photo = max_photo, .version = 4, .depth = depth};
	cx_vline l = {0};
	cx_vline *lines = NULL;
	size_t n = 0;
	cx_card *card = NULL;
	unsigned begin_line;
	int rc = -1;
	int r;

	*out = NULL;
	*ended = false;
	if(text == NULL) {
		len = 0;
	}
	/* Up to BEGIN:VCARD. */
	do {
		r = cx_vline_next(text, len, cur, &l);
		if(r == 1) {
			rc = 1;
			goto cleanup;
		}
		if(r < 0) {
			goto nomem;
		}
	} while(cx_vline_blank(&l));
	if(check_bytes(&c, &l, l.text.n, true) != 0) {
		goto cleanup;
	}
	if(!is_line(&l, "begin", "vcard")) {
		fail_at(&c, CX_CARD_E_BEGIN_END, l.line, NULL, "expected BEGIN:VCARD");
		goto cleanup;
	}
	begin_line = l.line;
	/* Collect the lines up to END:VCARD; the VERSION decides how to read them. */
	for(;;) {
		cx_vcard_cursor before = *cur;
		r = cx_vline_next(text, len, cur, &l);
		if(r == 1) {
			fail_at(&c, CX_CARD_E_TRUNCATED, cur->line, NULL, NULL);
			*ended = true;
			goto cleanup;
		}
		if(r < 0) {
			goto nomem;
		}
		if(cx_vline_blank(&l)) {
			continue;
		}
		if(check_bytes(&c, &l, l.text.n, false) != 0) {
			goto cleanup;
		}
		if(is_name(&l, "begin")) {
			if(n > 0 && is_empty_agent(&lines[n - 1]) && lines[n - 1].agent.n == 0
					&& is_line(&l, "begin", "vcard")) {
				/* vCard 2.1: the AGENT's own vCard follows it. */
				r = collect_agent(text, len, cur, &l, &lines[n - 1].agent);
				if(r < 0) {
					goto nomem;
				}
				if(r == 1) {
					fail_at(&c, CX_CARD_E_TRUNCATED, cur->line, "AGENT", NULL);
					*ended = true;
					goto cleanup;
				}
				continue;
			}
			fail_at(&c, CX_CARD_E_BEGIN_END, l.line, "BEGIN", "BEGIN inside a card (nested cards are not read)");
			if(is_line(&l, "begin", "vcard")) {
				/* Most likely this card lacks its END: the next one starts here. */
				*cur = before;
				*ended = true;
			}
			goto cleanup;
		}
		if(is_name(&l, "end")) {
			if(!is_line(&l, "end", "vcard")) {
				fail_at(&c, CX_CARD_E_BEGIN_END, l.line, "END", "END does not match BEGIN:VCARD");
				goto cleanup;
			}
			break;
		}
		/* Room for VERSION too; parse_prop counts the properties exactly. */
		if(n > CX_CARD_MAX_PROPS + 1) {
			char pname[32];
			token_name(&l, pname);
			fail_at(&c, CX_CARD_E_LIMIT, l.line, pname, NULL);
			goto cleanup;
		}
		cx_vline *m = realloc(lines, (n + 1) * sizeof(*m));
		if(m == NULL) {
			goto nomem;
		}
		lines = m;
		lines[n++] = l;
		memset(&l, 0, sizeof(l));
	}
	*ended = true;
	c.version = find_version(&c, lines, n, begin_line);
	if(c.version < 0) {
		goto cleanup;
	}
	/* UTF-8 as written, except where a value is decoded first (parse_prop checks those). */
	for(size_t i = 0; i < n; i++) {
		if(!decoded_line(&lines[i], c.version) && check_bytes(&c, &lines[i], lines[i].text.n, true) != 0) {
			goto cleanup;
		}
	}
	card = cx_card_new();
	if(card == NULL) {
		goto nomem;
	}
	for(size_t i = 0; i < n; i++) {
		if(parse_prop(&c, card, &lines[i]) != 0) {
			goto cleanup;
		}
	}
	if(c.version != 4) {
		r = cx_vcard__upgrade_card(card);
		if(r < 0) {
			goto nomem;
		}
	}
	if(cx_card_find(card, "fn", 0) == NULL) {
		fail_at(&c, CX_CARD_E_NO_FN, begin_line, "FN",
				c.version == 4 ? NULL : "card has no FN, and no N or ORG to make one from");
		goto cleanup;
	}
	*out = card;
	card = NULL;
	rc = 0;
	goto cleanup;
nomem:
	fail_at(&c, CX_CARD_E_NOMEM, cur->line, NULL, NULL);
cleanup:
	cx_card_free(card);
	cx_vline_free(&l);
	for(size_t i = 0; i < n; i++) {
		cx_vline_free(&lines[i]);
	}
	free(lines);
	return rc;
}

int cx_vcard_parse_next(const char *text, size_t len, cx_vcard_cursor *cur, cx_card **out,
		size_t max_photo, cx_card_err *err)
{
	bool ended = false;
	int rc = parse_next(text, len, cur, out, max_photo, err, 0, &ended);

	if(rc < 0 && !ended && text != NULL) {
		skip_card(text, len, cur);
	}
	return rc;
}

/* One card and nothing else but blank lines in text (an AGENT's vCard). */
static int parse_card(const char *text, size_t len, int depth, cx_card **out, cx_card_err *err)
{
	cx_vcard_cursor cur = {0};
	bool ended;
	int r = parse_next(text, len, &cur, out, 0, err, depth, &ended);

	if(r != 0) {
		return -1;
	}
	while(cur.pos < len && (text[cur.pos] == '\r' || text[cur.pos] == '\n' || text[cur.pos] == ' '
			|| text[cur.pos] == '\t')) {
		cur.pos++;
	}
	if(cur.pos < len) {
		cx_card_free(*out);
		*out = NULL;
		return cx_card__fail(err, CX_CARD_E_EXTRA, 0, NULL, NULL);
	}
	return 0;
}

int cx_vcard_parse(const char *text, size_t len, cx_card **out, size_t max_photo,
		cx_card_err *err)
{
	cx_vcard_cursor cur = {0};
	cx_vline l = {0};

	int r = cx_vcard_parse_next(text, len, &cur, out, max_photo, err);
	if(r == 1) {
		return cx_card__fail(err, CX_CARD_E_EMPTY, cur.line, NULL, NULL);
	}
	if(r != 0) {
		return -1;
	}
	for(;;) {
		r = cx_vline_next(text, len, &cur, &l);
		if(r != 0 || !cx_vline_blank(&l)) {
			break;
		}
	}
	cx_vline_free(&l);
	if(r == 1) {
		return 0;
	}
	cx_card_free(*out);
	*out = NULL;
	if(r < 0) {
		return cx_card__fail(err, CX_CARD_E_NOMEM, cur.line, NULL, NULL);
	}
	return cx_card__fail(err, CX_CARD_E_EXTRA, cur.line, NULL, NULL);
}

void cx_card_list_free(cx_card **cards, size_t n)
{
	if(cards == NULL) {
		return;
	}
	for(size_t i = 0; i < n; i++) {
		cx_card_free(cards[i]);
	}
	free(cards);
}

int cx_vcard_parse_all(const char *text, size_t len, size_t max_photo, cx_card ***cards,
		size_t *n, cx_card_err *err)
{
	cx_vcard_cursor cur = {0};
	cx_card **list = NULL;
	size_t count = 0;

	*cards = NULL;
	*n = 0;
	for(;;) {
		cx_card *card;
		int r = cx_vcard_parse_next(text, len, &cur, &card, max_photo, err);
		if(r < 0) {
			cx_card_list_free(list, count);
			return -1;
		}
		if(r == 1) {
			break;
		}
		cx_card **m = realloc(list, (count + 1) * sizeof(*m));
		if(m == NULL) {
			cx_card_free(card);
			cx_card_list_free(list, count);
			return cx_card__fail(err, CX_CARD_E_NOMEM, cur.line, NULL, NULL);
		}
		list = m;
		list[count++] = card;
	}
	if(count == 0) {
		return cx_card__fail(err, CX_CARD_E_EMPTY, cur.line, NULL, NULL);
	}
	*cards = list;
	*n = count;
	return 0;
}
