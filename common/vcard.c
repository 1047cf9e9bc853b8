/*
 * vCard text reader and writer (vcard.h): content lines, unfolding and
 * folding, escapes, parameters, and the 3.0 to 4.0 conversion.
 */
#include "vcard.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "json.h"

/* ---- a growing buffer that wipes what it gives up ---- */

typedef struct {
	char *p;
	size_t n;
	size_t cap;
} sb;

static int sb_put(sb *b, const char *s, size_t n)
{
	if(b->n + n + 1 > b->cap) {
		size_t cap = b->cap < 64 ? 64 : b->cap;
		while(cap < b->n + n + 1) {
			cap *= 2;
		}
		/* No realloc: the old block may hold card data and must be wiped. */
		char *p = malloc(cap);
		if(p == NULL) {
			return -1;
		}
		if(b->n > 0) {
			memcpy(p, b->p, b->n);
		}
		cx_wipe(b->p, b->cap);
		free(b->p);
		b->p = p;
		b->cap = cap;
	}
	if(n > 0) {
		memcpy(b->p + b->n, s, n);
	}
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

static int sb_str(sb *b, const char *s)
{
	return sb_put(b, s, strlen(s));
}

static int sb_chr(sb *b, char c)
{
	return sb_put(b, &c, 1);
}

static void sb_free(sb *b)
{
	cx_wipe(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}

/* ---- logical lines ---- */

typedef struct {
	sb text;       /* unfolded, without the line end */
	unsigned line; /* physical line it starts on */
	size_t *folds; /* offsets in text where a continuation line's bytes begin */
	size_t nfolds;
} lline;

static void lline_free(lline *l)
{
	sb_free(&l->text);
	free(l->folds);
	l->folds = NULL;
	l->nfolds = 0;
}

/* The physical line of byte off of l. */
static unsigned line_at(const lline *l, size_t off)
{
	unsigned line = l->line;
	for(size_t i = 0; i < l->nfolds; i++) {
		if(l->folds[i] <= off) {
			line++;
		}
	}
	return line;
}

/* One physical line at cur: its bytes without CR LF (or LF). */
static void physical(const char *text, size_t len, cx_vcard_cursor *cur, const char **s, size_t *n)
{
	const char *start = text + cur->pos;
	const char *nl = memchr(start, '\n', len - cur->pos);
	size_t end = nl != NULL ? (size_t)(nl - text) : len;

	*s = start;
	*n = end - cur->pos;
	if(*n > 0 && start[*n - 1] == '\r') {
		(*n)--;
	}
	cur->pos = nl != NULL ? end + 1 : len;
	cur->line++;
}

/* Reads the next logical line into l (emptied first). Returns 1 at the end of text, -1 out of memory. */
static int next_line(const char *text, size_t len, cx_vcard_cursor *cur, lline *l)
{
	const char *s;
	size_t n;

	l->text.n = 0;
	l->nfolds = 0;
	if(cur->pos == 0 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		cur->pos = 3; /* a UTF-8 byte order mark */
	}
	if(cur->pos >= len) {
		return 1;
	}
	physical(text, len, cur, &s, &n);
	l->line = cur->line;
	if(sb_put(&l->text, s, n) != 0) {
		return -1;
	}
	while(cur->pos < len && (text[cur->pos] == ' ' || text[cur->pos] == '\t')) {
		physical(text, len, cur, &s, &n);
		size_t *f = realloc(l->folds, (l->nfolds + 1) * sizeof(*f));
		if(f == NULL) {
			return -1;
		}
		l->folds = f;
		l->folds[l->nfolds++] = l->text.n;
		if(sb_put(&l->text, s + 1, n - 1) != 0) {
			return -1;
		}
	}
	return 0;
}

static bool blank(const lline *l)
{
	for(size_t i = 0; i < l->text.n; i++) {
		if(l->text.p[i] != ' ' && l->text.p[i] != '\t') {
			return false;
		}
	}
	return true;
}

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
	int version; /* 3 or 4 */
} pctx;

static int fail_at(pctx *c, cx_card_code code, unsigned line, const char *prop, const char *msg)
{
	return cx_card__fail(c->err, code, line, prop, msg);
}

/* Parses the header of l. Returns 0, or -1 with the error set. */
static int parse_header(pctx *c, const lline *l, header *h)
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
		return fail_at(c, CX_CARD_E_SYNTAX, line_at(l, t), h->pname,
				"invalid character in a property or group name");
	}
	return 0;
}

/* True when l is "name:value" for this name and value (case-insensitive, value trimmed). */
static bool is_line(const lline *l, const char *name, const char *value)
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

static bool is_name(const lline *l, const char *name)
{
	size_t nl = strlen(name);
	return l->text.n > nl && strncasecmp(l->text.p, name, nl) == 0 && l->text.p[nl] == ':';
}

/* The leading name token of l (its group, if it has one), for error reports. */
static void token_name(const lline *l, char out[32])
{
	size_t t = token_len(l->text.p, l->text.n);
	size_t pn = t < 31 ? t : 31;

	memcpy(out, l->text.p, pn);
	out[pn] = '\0';
}

/* UTF-8 and control characters (only tab is allowed inside a line). */
static int check_bytes(pctx *c, const lline *l)
{
	const char *s = l->text.p;
	size_t n = l->text.n;
	char pname[32];

	token_name(l, pname);
	size_t bad = cx_card__utf8_bad(s, n);
	if(bad != n) {
		return fail_at(c, CX_CARD_E_UTF8, line_at(l, bad), pname, NULL);
	}
	for(size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			return fail_at(c, CX_CARD_E_SYNTAX, line_at(l, i), pname, "control character in a line");
		}
	}
	return 0;
}

/* ---- parameters ---- */

/* RFC 6868: ^^ -> ^, ^' -> ", ^n -> newline; any other ^ stands for itself. */
static int caret_decode(sb *out, const char *s, size_t n)
{
	out->n = 0;
	if(sb_put(out, "", 0) != 0) {
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
		if(sb_chr(out, ch) != 0) {
			return -1;
		}
	}
	return 0;
}

/* Adds one raw parameter value, decoded, split on ',' when list is set. */
static int add_param_value(cx_card_prop *p, const char *name, size_t nlen, const char *s, size_t n,
		bool list, sb *tmp)
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
static int parse_params(pctx *c, const lline *l, const header *h, cx_card_prop *p, size_t *value)
{
	const char *s = l->text.p;
	size_t n = l->text.n;
	size_t i = h->after;
	sb tmp = {0};
	int rc = -1;

	while(i < n && s[i] == ';') {
		i++;
		const char *pname = s + i;
		size_t plen = token_len(s + i, n - i);
		i += plen;
		if(plen == 0 || plen >= 64) {
			fail_at(c, CX_CARD_E_SYNTAX, line_at(l, i), h->pname,
					plen == 0 ? "empty or invalid parameter name" : "parameter name too long");
			goto cleanup;
		}
		if(i >= n) {
			fail_at(c, CX_CARD_E_NO_COLON, l->line, h->pname, NULL);
			goto cleanup;
		}
		if(s[i] == ';' || s[i] == ':') {
			/* A bare "TYPE value" (vCard 2.1 style) that 3.0 writers still use. */
			if(c->version != 3) {
				fail_at(c, CX_CARD_E_SYNTAX, line_at(l, i), h->pname, "parameter without '=' and value");
				goto cleanup;
			}
			if(add_param_value(p, "type", 4, pname, plen, false, &tmp) != 0) {
				goto nomem;
			}
			continue;
		}
		if(s[i] != '=') {
			fail_at(c, CX_CARD_E_SYNTAX, line_at(l, i), h->pname, "invalid character in a parameter name");
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
					fail_at(c, CX_CARD_E_SYNTAX, line_at(l, i), h->pname,
							"unterminated quoted parameter value");
					goto cleanup;
				}
				start = i + 1;
				end = (size_t)(q - s);
				i = end + 1;
				if(i < n && s[i] != ',' && s[i] != ';' && s[i] != ':') {
					fail_at(c, CX_CARD_E_SYNTAX, line_at(l, i), h->pname,
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
	sb_free(&tmp);
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

/* Splits and unescapes the text value at s[off..n) of l into p (see vcard.h). */
static int text_value(pctx *c, const lline *l, const header *h, cx_card_prop *p, size_t off, int kind)
{
	const char *s = l->text.p;
	size_t n = l->text.n;
	sb cur = {0};
	int rc = -1;

	if(kind == CX_CARD__GENERIC) {
		kind = has_unescaped(s + off, n - off, ';') ? CX_CARD__STRUCT_LIST : CX_CARD__MULTI;
	}
	char vsep = kind == CX_CARD__MULTI ? ',' : '\0';
	char csep = (kind == CX_CARD__STRUCT || kind == CX_CARD__STRUCT_LIST) ? ';' : '\0';
	char ssep = kind == CX_CARD__STRUCT_LIST ? ',' : '\0';
	cx_card_value *v = cx_card__push_value(p);
	cx_card_comp *comp = v != NULL ? cx_card__push_comp(v) : NULL;
	if(comp == NULL || sb_put(&cur, "", 0) != 0) {
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
			} else if(c->version != 3) {
				fail_at(c, CX_CARD_E_ESCAPE, line_at(l, i), h->pname,
						i + 1 < n ? "invalid backslash escape (only \\\\ \\, \\; \\n are allowed)"
								: "backslash at the end of a value");
				goto cleanup;
			}
			/* 3.0: a backslash that starts no escape is a SAFE-CHAR (RFC 2426) and stays. */
		}
		if(sb_chr(&cur, ch) != 0) {
			goto nomem;
		}
	}
	rc = 0;
	goto cleanup;
nomem:
	fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
cleanup:
	sb_free(&cur);
	return rc;
}

/*
 * A value of a type other than text, as written (dates in the basic form):
 * one string, or for the list types of a property of no known name, the
 * strings between ',' (card.h).
 */
static int raw_value(pctx *c, const lline *l, const header *h, cx_card_prop *p, size_t off)
{
	const char *s = l->text.p + off;
	size_t n = l->text.n - off;
	bool list = cx_card__kind(p->name) == CX_CARD__GENERIC && cx_card__is_list_type(p->type);
	sb tmp = {0};
	char *d = NULL;
	int rc = -1;

	if(c->version == 3 && strcmp(p->type, "uri") == 0) {
		/* Some 3.0 writers escape URIs ("http\://"); a URI has no backslash of its own. */
		for(size_t i = 0; i < n; i++) {
			if(s[i] == '\\' && i + 1 < n && strchr(":,;\\", s[i + 1]) != NULL) {
				i++;
			}
			if(sb_chr(&tmp, s[i]) != 0) {
				goto nomem;
			}
		}
		if(sb_put(&tmp, "", 0) != 0) {
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
	fail_at(c, CX_CARD_E_NOMEM, l->line, h->pname, NULL);
cleanup:
	cx_card__strfree(d);
	sb_free(&tmp);
	return rc;
}

/* ---- 3.0 to 4.0 ---- */

static void lower_str(char *s)
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

/* True when s is base64 text, blanks (of folded lines) allowed. */
static bool is_base64_text(const char *s)
{
	for(; *s != '\0'; s++) {
		if(!isalnum((unsigned char)*s) && strchr("+/= \t", *s) == NULL) {
			return false;
		}
	}
	return true;
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
			|| !is_base64_text(p->values[0].comps[0].subs[0])) {
		return 0;
	}
	sb uri = {0};
	long t = cx_card__param_index(p, "type");
	if(sb_str(&uri, "data:") != 0) {
		goto nomem;
	}
	if(t >= 0 && is_media_type(p->params[t].values[0])) {
		const char *mt = p->params[t].values[0];
		if(strchr(mt, '/') == NULL && sb_str(&uri, prefix) != 0) {
			goto nomem;
		}
		if(sb_str(&uri, mt) != 0) {
			goto nomem;
		}
	} else if(sb_str(&uri, "application/octet-stream") != 0) {
		goto nomem;
	}
	if(sb_str(&uri, ";base64,") != 0) {
		goto nomem;
	}
	/* Writers indent the folded base64 text; the blanks are no part of it. */
	for(const char *s = p->values[0].comps[0].subs[0]; *s != '\0'; s++) {
		if(*s != ' ' && *s != '\t' && sb_chr(&uri, *s) != 0) {
			goto nomem;
		}
	}
	char *d = cx_card__strndup(uri.p, uri.n);
	sb_free(&uri);
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
	sb_free(&uri);
	return -1;
}

/* Converts property p read from a 3.0 card to 4.0. Returns -1 when memory runs out. */
static int upgrade30(cx_card_prop *p)
{
	long i = cx_card__param_index(p, "charset");
	if(i >= 0) {
		cx_card__drop_param(p, (size_t)i);
	}
	i = cx_card__param_index(p, "type");
	bool pref = false;
	if(i >= 0) {
		cx_card_param *q = &p->params[i];
		for(size_t j = 0; j < q->nvalues;) {
			lower_str(q->values[j]);
			bool is_pref = strcmp(q->values[j], "pref") == 0;
			pref = pref || is_pref;
			if(is_pref || strcmp(q->values[j], "internet") == 0) {
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

/* ---- one property ---- */

static int parse_prop(pctx *c, cx_card *card, const lline *l)
{
	header h;
	size_t off;

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
	lower_str(p->name);
	if(parse_params(c, l, &h, p, &off) != 0) {
		return -1;
	}
	if(cx_card__param_index(p, "group") >= 0) {
		/* jCard writes the property group as a "group" parameter (RFC 7095 section 3.3.1.2). */
		return fail_at(c, CX_CARD_E_SYNTAX, l->line, h.pname,
				"GROUP parameter (jCard reserves it for the property group)");
	}
	long vi = cx_card__param_index(p, "value");
	if(vi >= 0 && (p->params[vi].nvalues != 1
			|| !cx_card__is_token(p->params[vi].values[0], strlen(p->params[vi].values[0])))) {
		/* RFC 6350 value-param: "VALUE=" one value type name (iana-token or x-name). */
		return fail_at(c, CX_CARD_E_SYNTAX, l->line, h.pname, "VALUE parameter is not one value type name");
	}
	const char *type = vi >= 0 ? p->params[vi].values[0] : cx_card__default_type(p->name);
	if(cx_card__set_type(p, type, strlen(type)) != 0) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
	}
	if(vi >= 0) {
		cx_card__drop_param(p, (size_t)vi);
	}
	int rc = strcmp(p->type, "text") == 0 ? text_value(c, l, &h, p, off, cx_card__kind(p->name))
			: raw_value(c, l, &h, p, off);
	if(rc != 0) {
		return -1;
	}
	if(c->version == 3 && upgrade30(p) != 0) {
		return fail_at(c, CX_CARD_E_NOMEM, l->line, h.pname, NULL);
	}
	const char *why = cx_card__prop_problem(p);
	if(why != NULL) {
		return fail_at(c, CX_CARD_E_PROPERTY, l->line, h.pname, why);
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
			return fail_at(c, CX_CARD_E_PHOTO_SIZE, l->line, "PHOTO", NULL);
		}
	}
	if(strcmp(p->name, "fn") == 0 && (p->values[0].comps[0].subs[0][0] == '\0')) {
		return fail_at(c, CX_CARD_E_NO_FN, l->line, "FN", "FN is empty");
	}
	return 0;
}

/* ---- cards ---- */

/* The VERSION of the collected lines: 3 or 4, or -1 with the error set. */
static int find_version(pctx *c, const lline *lines, size_t n, unsigned begin_line)
{
	int version = 0;

	for(size_t i = 0; i < n; i++) {
		if(!is_name(&lines[i], "version")) {
			continue;
		}
		int v = is_line(&lines[i], "version", "4.0") ? 4 : is_line(&lines[i], "version", "3.0") ? 3 : -1;
		if(v < 0) {
			return fail_at(c, CX_CARD_E_VERSION, lines[i].line, "VERSION",
					"unsupported VERSION (3.0 and 4.0 are read)");
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

int cx_vcard_parse_next(const char *text, size_t len, cx_vcard_cursor *cur, cx_card **out,
		size_t max_photo, cx_card_err *err)
{
	pctx c = {.err = err, .max_photo = max_photo, .version = 4};
	lline l = {0};
	lline *lines = NULL;
	size_t n = 0;
	cx_card *card = NULL;
	unsigned begin_line;
	int rc = -1;
	int r;

	*out = NULL;
	if(text == NULL) {
		len = 0;
	}
	/* Up to BEGIN:VCARD. */
	do {
		r = next_line(text, len, cur, &l);
		if(r == 1) {
			rc = 1;
			goto cleanup;
		}
		if(r < 0) {
			goto nomem;
		}
	} while(blank(&l));
	if(check_bytes(&c, &l) != 0) {
		goto cleanup;
	}
	if(!is_line(&l, "begin", "vcard")) {
		fail_at(&c, CX_CARD_E_BEGIN_END, l.line, NULL, "expected BEGIN:VCARD");
		goto cleanup;
	}
	begin_line = l.line;
	/* Collect the lines up to END:VCARD; the VERSION decides how to read them. */
	for(;;) {
		r = next_line(text, len, cur, &l);
		if(r == 1) {
			fail_at(&c, CX_CARD_E_TRUNCATED, cur->line, NULL, NULL);
			goto cleanup;
		}
		if(r < 0) {
			goto nomem;
		}
		if(blank(&l)) {
			continue;
		}
		if(check_bytes(&c, &l) != 0) {
			goto cleanup;
		}
		if(is_name(&l, "begin")) {
			fail_at(&c, CX_CARD_E_BEGIN_END, l.line, "BEGIN", "BEGIN inside a card (nested cards are not read)");
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
		lline *m = realloc(lines, (n + 1) * sizeof(*m));
		if(m == NULL) {
			goto nomem;
		}
		lines = m;
		lines[n++] = l;
		memset(&l, 0, sizeof(l));
	}
	c.version = find_version(&c, lines, n, begin_line);
	if(c.version < 0) {
		goto cleanup;
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
	if(cx_card_find(card, "fn", 0) == NULL) {
		fail_at(&c, CX_CARD_E_NO_FN, begin_line, "FN", NULL);
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
	lline_free(&l);
	for(size_t i = 0; i < n; i++) {
		lline_free(&lines[i]);
	}
	free(lines);
	return rc;
}

int cx_vcard_parse(const char *text, size_t len, cx_card **out, size_t max_photo,
		cx_card_err *err)
{
	cx_vcard_cursor cur = {0};
	lline l = {0};

	int r = cx_vcard_parse_next(text, len, &cur, out, max_photo, err);
	if(r == 1) {
		return cx_card__fail(err, CX_CARD_E_EMPTY, cur.line, NULL, NULL);
	}
	if(r != 0) {
		return -1;
	}
	for(;;) {
		r = next_line(text, len, &cur, &l);
		if(r != 0 || !blank(&l)) {
			break;
		}
	}
	lline_free(&l);
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

/* ---- writing ---- */

static int put_upper(sb *b, const char *s)
{
	for(; *s != '\0'; s++) {
		char ch = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
		if(sb_chr(b, ch) != 0) {
			return -1;
		}
	}
	return 0;
}

/* A text string, escaped; ';' only where it would separate components. */
static int put_text(sb *b, const char *s, bool semicolon)
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
		if((e != NULL ? sb_str(b, e) : sb_chr(b, *s)) != 0) {
			return -1;
		}
	}
	return 0;
}

/* A value of another type, as it is; a line break (which no such value has) becomes \n. */
static int put_raw(sb *b, const char *s)
{
	for(; *s != '\0'; s++) {
		int r;
		if(*s == '\r' && s[1] == '\n') {
			continue;
		}
		if(*s == '\r' || *s == '\n') {
			r = sb_str(b, "\\n");
		} else {
			r = sb_chr(b, *s);
		}
		if(r != 0) {
			return -1;
		}
	}
	return 0;
}

/* A parameter value: RFC 6868 ^-escapes, quoted when it holds , ; or :. */
static int put_param_value(sb *b, const char *s)
{
	bool quote = strpbrk(s, ",;:") != NULL;
	if(quote && sb_chr(b, '"') != 0) {
		return -1;
	}
	for(; *s != '\0'; s++) {
		int r;
		if(*s == '^') {
			r = sb_str(b, "^^");
		} else if(*s == '"') {
			r = sb_str(b, "^'");
		} else if(*s == '\r' && s[1] == '\n') {
			continue;
		} else if(*s == '\n' || *s == '\r') {
			r = sb_str(b, "^n");
		} else {
			r = sb_chr(b, *s);
		}
		if(r != 0) {
			return -1;
		}
	}
	return quote ? sb_chr(b, '"') : 0;
}

/* Appends line to out, folded: at most 75 octets a line, never inside a UTF-8 sequence. */
static int put_folded(sb *out, const char *s, size_t n)
{
	size_t limit = 75;

	while(n > limit) {
		size_t cut = cx_utf8_cut(s, n, limit);
		if(cut == 0) {
			cut = limit; /* not UTF-8 after all: cut anywhere rather than loop */
		}
		if(sb_put(out, s, cut) != 0 || sb_put(out, "\r\n ", 3) != 0) {
			return -1;
		}
		s += cut;
		n -= cut;
		limit = 74; /* the leading space counts */
	}
	if(sb_put(out, s, n) != 0 || sb_put(out, "\r\n", 2) != 0) {
		return -1;
	}
	return 0;
}

static int put_prop(sb *line, const cx_card_prop *p)
{
	bool text = strcmp(p->type, "text") == 0;
	int kind = cx_card__kind(p->name);
	bool semicolon = kind != CX_CARD__SINGLE && kind != CX_CARD__MULTI;

	line->n = 0;
	if(p->group[0] != '\0' && (sb_str(line, p->group) != 0 || sb_chr(line, '.') != 0)) {
		return -1;
	}
	if(put_upper(line, p->name) != 0) {
		return -1;
	}
	if(strcmp(p->type, cx_card__default_type(p->name)) != 0 && strcmp(p->type, "unknown") != 0) {
		if(sb_str(line, ";VALUE=") != 0 || sb_str(line, p->type) != 0) {
			return -1;
		}
	}
	for(size_t i = 0; i < p->nparams; i++) {
		const cx_card_param *q = &p->params[i];
		if(sb_chr(line, ';') != 0 || put_upper(line, q->name) != 0 || sb_chr(line, '=') != 0) {
			return -1;
		}
		for(size_t j = 0; j < q->nvalues; j++) {
			if((j > 0 && sb_chr(line, ',') != 0) || put_param_value(line, q->values[j]) != 0) {
				return -1;
			}
		}
	}
	if(sb_chr(line, ':') != 0) {
		return -1;
	}
	for(size_t i = 0; i < p->nvalues; i++) {
		if(i > 0 && sb_chr(line, ',') != 0) {
			return -1;
		}
		for(size_t j = 0; j < p->values[i].ncomps; j++) {
			const cx_card_comp *comp = &p->values[i].comps[j];
			if(j > 0 && sb_chr(line, ';') != 0) {
				return -1;
			}
			for(size_t k = 0; k < comp->nsubs; k++) {
				if(k > 0 && sb_chr(line, ',') != 0) {
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

int cx_vcard_write(const cx_card *card, char **out, size_t *len)
{
	sb doc = {0};
	sb line = {0};
	int rc = -1;

	*out = NULL;
	*len = 0;
	if(sb_str(&doc, "BEGIN:VCARD\r\nVERSION:4.0\r\n") != 0) {
		goto cleanup;
	}
	for(size_t i = 0; i < cx_card_count(card); i++) {
		if(put_prop(&line, cx_card_prop_at(card, i)) != 0 || put_folded(&doc, line.p, line.n) != 0) {
			goto cleanup;
		}
	}
	if(sb_str(&doc, "END:VCARD\r\n") != 0) {
		goto cleanup;
	}
	*out = doc.p;
	*len = doc.n;
	doc.p = NULL;
	rc = 0;
cleanup:
	sb_free(&doc);
	sb_free(&line);
	return rc;
}
