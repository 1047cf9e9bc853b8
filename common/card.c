/*
 * The card model (card.h): building, reading, selecting and comparing
 * cards, and the jCard (RFC 7095) conversion.
 */
#include "card.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "json.h"

struct cx_card {
	cx_card_prop *props;
	size_t n;
	size_t cap;
};

/* ---- errors ---- */

static const char *const err_names[CX_CARD_E__COUNT] = {
	[CX_CARD_OK] = NULL,
#define CX_CARD_ERR_NAME(name, short_name, msg) [CX_CARD_E_##name] = short_name,
	CX_CARD_ERR_MAP(CX_CARD_ERR_NAME)
#undef CX_CARD_ERR_NAME
};

static const char *const err_messages[CX_CARD_E__COUNT] = {
	[CX_CARD_OK] = "",
#define CX_CARD_ERR_MSG(name, short_name, msg) [CX_CARD_E_##name] = msg,
	CX_CARD_ERR_MAP(CX_CARD_ERR_MSG)
#undef CX_CARD_ERR_MSG
};

const char *cx_card_err_name(cx_card_code code)
{
	if((int)code <= (int)CX_CARD_OK || (int)code >= (int)CX_CARD_E__COUNT) {
		return NULL;
	}
	return err_names[code];
}

const char *cx_card_err_message(cx_card_code code)
{
	if((int)code < (int)CX_CARD_OK || (int)code >= (int)CX_CARD_E__COUNT) {
		return "";
	}
	return err_messages[code];
}

int cx_card_err_format(const cx_card_err *err, char *buf, size_t cap)
{
	char where[64] = "";
	const char *msg = err->msg != NULL ? err->msg : cx_card_err_message(err->code);

	if(err->line > 0 && err->prop[0] != '\0') {
		snprintf(where, sizeof(where), "line %u: %s: ", err->line, err->prop);
	} else if(err->line > 0) {
		snprintf(where, sizeof(where), "line %u: ", err->line);
	} else if(err->prop[0] != '\0') {
		snprintf(where, sizeof(where), "%s: ", err->prop);
	}
	return snprintf(buf, cap, "%s%s", where, msg);
}

int cx_card__fail(cx_card_err *err, cx_card_code code, unsigned line, const char *prop,
		const char *msg)
{
	if(err == NULL) {
		return -1;
	}
	err->code = code;
	err->line = line;
	err->msg = msg != NULL ? msg : cx_card_err_message(code);
	err->prop[0] = '\0';
	if(prop != NULL) {
		/* Names are tokens, but a bad one is reported too: cut it on a character boundary. */
		size_t n = cx_utf8_cut(prop, strlen(prop), sizeof(err->prop) - 1);
		for(size_t i = 0; i < n; i++) {
			char c = prop[i];
			err->prop[i] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
		}
		err->prop[n] = '\0';
	}
	return -1;
}

/* ---- small helpers ---- */

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool cx_card__is_token(const char *s, size_t n)
{
	if(n == 0) {
		return false;
	}
	for(size_t i = 0; i < n; i++) {
		char c = s[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-')) {
			return false;
		}
	}
	return true;
}

size_t cx_card__utf8_bad(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while(i < n) {
		unsigned char c = u[i];
		size_t k;
		uint32_t cp;
		if(c < 0x80) {
			i++;
			continue;
		} else if(c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if(c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if(c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return i;
		}
		if(n - i <= k) {
			return i;
		}
		for(size_t j = 1; j <= k; j++) {
			if((u[i + j] & 0xc0) != 0x80) {
				return i;
			}
			cp = (cp << 6) | (u[i + j] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
		if((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) || cp > 0x10ffff
				|| (cp >= 0xd800 && cp <= 0xdfff)) {
			return i;
		}
		i += k + 1;
	}
	return n;
}

char *cx_card__strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if(p == NULL) {
		return NULL;
	}
	if(n > 0) {
		memcpy(p, s, n);
	}
	p[n] = '\0';
	return p;
}

void cx_card__strfree(char *s)
{
	if(s != NULL) {
		cx_wipe_str(s);
		free(s);
	}
}

/*
 * Makes room for one more element of size elem in *arr holding n. The
 * capacity is implied by n (4, then powers of two), so no field stores it.
 * Arrays hold pointers and counts only, so realloc leaves no card data
 * behind. Returns -1 when memory runs out (*arr unchanged).
 */
static int grow(void **arr, size_t n, size_t elem)
{
	size_t cap;

	if(n == 0) {
		cap = 4;
	} else if(n >= 4 && (n & (n - 1)) == 0) {
		cap = n * 2;
	} else {
		return 0;
	}
	void *p = realloc(*arr, cap * elem);
	if(p == NULL) {
		return -1;
	}
	*arr = p;
	return 0;
}

/* ---- property table (RFC 6350 section 6) ---- */

typedef struct {
	const char *name;
	const char *type;
	int kind;
} prop_info;

static const prop_info infos[] = {
	{"source", "uri", CX_CARD__SINGLE},
	{"kind", "text", CX_CARD__SINGLE},
	{"xml", "text", CX_CARD__SINGLE},
	{"fn", "text", CX_CARD__SINGLE},
	{"n", "text", CX_CARD__STRUCT_LIST},
	{"nickname", "text", CX_CARD__MULTI},
	{"photo", "uri", CX_CARD__SINGLE},
	{"bday", "date-and-or-time", CX_CARD__SINGLE},
	{"anniversary", "date-and-or-time", CX_CARD__SINGLE},
	{"gender", "text", CX_CARD__STRUCT},
	{"adr", "text", CX_CARD__STRUCT_LIST},
	{"tel", "text", CX_CARD__SINGLE},
	{"email", "text", CX_CARD__SINGLE},
	{"impp", "uri", CX_CARD__SINGLE},
	{"lang", "language-tag", CX_CARD__SINGLE},
	{"tz", "text", CX_CARD__SINGLE},
	{"geo", "uri", CX_CARD__SINGLE},
	{"title", "text", CX_CARD__SINGLE},
	{"role", "text", CX_CARD__SINGLE},
	{"logo", "uri", CX_CARD__SINGLE},
	{"org", "text", CX_CARD__STRUCT},
	{"member", "uri", CX_CARD__SINGLE},
	{"related", "uri", CX_CARD__SINGLE},
	{"categories", "text", CX_CARD__MULTI},
	{"note", "text", CX_CARD__SINGLE},
	{"prodid", "text", CX_CARD__SINGLE},
	{"rev", "timestamp", CX_CARD__SINGLE},
	{"sound", "uri", CX_CARD__SINGLE},
	{"uid", "uri", CX_CARD__SINGLE},
	{"clientpidmap", "text", CX_CARD__STRUCT},
	{"url", "uri", CX_CARD__SINGLE},
	{"key", "uri", CX_CARD__SINGLE},
	{"fburl", "uri", CX_CARD__SINGLE},
	{"caladruri", "uri", CX_CARD__SINGLE},
	{"caluri", "uri", CX_CARD__SINGLE},
};

static const prop_info *info_for(const char *name)
{
	for(size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
		if(strcasecmp(infos[i].name, name) == 0) {
			return &infos[i];
		}
	}
	return NULL;
}

const char *cx_card__default_type(const char *name)
{
	const prop_info *info = info_for(name);
	return info != NULL ? info->type : "unknown";
}

int cx_card__kind(const char *name)
{
	const prop_info *info = info_for(name);
	return info != NULL ? info->kind : CX_CARD__GENERIC;
}

/* ---- date and time forms (RFC 6350 section 4.3, RFC 7095 section 3.5) ---- */

bool cx_card__is_date_type(const char *type)
{
	static const char *const types[] = {"date", "time", "date-time", "date-and-or-time",
		"timestamp", "utc-offset"};
	for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if(strcmp(type, types[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool cx_card__is_list_type(const char *type)
{
	static const char *const types[] = {"integer", "float", "date", "time", "date-time",
		"date-and-or-time", "timestamp"};
	for(size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if(strcmp(type, types[i]) == 0) {
			return true;
		}
	}
	return false;
}

static bool all_digits(const char *s, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		if(!is_digit(s[i])) {
			return false;
		}
	}
	return true;
}

typedef struct {
	char buf[96];
	size_t n;
} dbuf;

static void dput(dbuf *d, const char *s, size_t n)
{
	for(size_t i = 0; i < n && d->n < sizeof(d->buf) - 1; i++) {
		d->buf[d->n++] = s[i];
	}
}

/* "19850412" -> "1985-04-12", "--0412" -> "--04-12"; other forms are the same in both. */
static void date_ext(dbuf *d, const char *s, size_t n)
{
	if(n == 8 && all_digits(s, 8)) {
		dput(d, s, 4);
		dput(d, "-", 1);
		dput(d, s + 4, 2);
		dput(d, "-", 1);
		dput(d, s + 6, 2);
	} else if(n == 6 && s[0] == '-' && s[1] == '-' && all_digits(s + 2, 4)) {
		dput(d, "--", 2);
		dput(d, s + 2, 2);
		dput(d, "-", 1);
		dput(d, s + 4, 2);
	} else {
		dput(d, s, n);
	}
}

static void date_basic(dbuf *d, const char *s, size_t n)
{
	if(n == 10 && all_digits(s, 4) && s[4] == '-' && all_digits(s + 5, 2) && s[7] == '-'
			&& all_digits(s + 8, 2)) {
		dput(d, s, 4);
		dput(d, s + 5, 2);
		dput(d, s + 8, 2);
	} else if(n == 7 && s[0] == '-' && s[1] == '-' && all_digits(s + 2, 2) && s[4] == '-'
			&& all_digits(s + 5, 2)) {
		dput(d, "--", 2);
		dput(d, s + 2, 2);
		dput(d, s + 5, 2);
	} else {
		dput(d, s, n);
	}
}

/* Digits in pairs joined by ':' ("102200" -> "10:22:00"); false when not an even digit run. */
static bool pairs_ext(dbuf *d, const char *s, size_t n)
{
	if(n == 0 || n % 2 != 0 || !all_digits(s, n)) {
		return false;
	}
	for(size_t i = 0; i < n; i += 2) {
		if(i > 0) {
			dput(d, ":", 1);
		}
		dput(d, s + i, 2);
	}
	return true;
}

/* A UTC offset "+0500" -> "+05:00" ("Z" and "+05" stay). */
static void zone_ext(dbuf *d, const char *s, size_t n)
{
	if(n == 5 && (s[0] == '+' || s[0] == '-') && all_digits(s + 1, 4)) {
		dput(d, s, 3);
		dput(d, ":", 1);
		dput(d, s + 3, 2);
	} else {
		dput(d, s, n);
	}
}

/* "102200-0800" -> "10:22:00-08:00", "-2200" -> "-22:00"; leading dashes mark truncation. */
static void time_ext(dbuf *d, const char *s, size_t n)
{
	size_t z = n;
	for(size_t i = 0; i < n; i++) {
		if(s[i] == 'Z' || s[i] == 'z' || s[i] == '+' || (s[i] == '-' && i > 0 && is_digit(s[i - 1]))) {
			z = i;
			break;
		}
	}
	size_t k = 0;
	while(k < z && k < 2 && s[k] == '-') {
		k++;
	}
	size_t start = d->n;
	dput(d, s, k);
	if(!pairs_ext(d, s + k, z - k)) {
		d->n = start;
		dput(d, s, n);
		return;
	}
	zone_ext(d, s + z, n - z);
}

static void time_basic(dbuf *d, const char *s, size_t n)
{
	for(size_t i = 0; i < n; i++) {
		if(s[i] != ':') {
			dput(d, s + i, 1);
		}
	}
}

static char *date_convert(const char *type, const char *s, size_t n, bool to_ext)
{
	dbuf d = {.n = 0};

	/* Longer values are no date we know; they stay as they are. */
	if(n > 40) {
		return cx_card__strndup(s, n);
	}
	if(strcmp(type, "date") == 0) {
		(to_ext ? date_ext : date_basic)(&d, s, n);
	} else if(strcmp(type, "time") == 0) {
		(to_ext ? time_ext : time_basic)(&d, s, n);
	} else if(strcmp(type, "utc-offset") == 0) {
		if(to_ext) {
			zone_ext(&d, s, n);
		} else {
			time_basic(&d, s, n);
		}
	} else {
		const char *t = memchr(s, 'T', n);
		if(t == NULL) {
			t = memchr(s, 't', n);
		}
		size_t dn = t != NULL ? (size_t)(t - s) : n;
		(to_ext ? date_ext : date_basic)(&d, s, dn);
		if(t != NULL) {
			dput(&d, "T", 1);
			(to_ext ? time_ext : time_basic)(&d, t + 1, n - dn - 1);
		}
	}
	d.buf[d.n] = '\0';
	char *out = cx_card__strndup(d.buf, d.n);
	cx_wipe(d.buf, sizeof(d.buf));
	return out;
}

char *cx_card__date_to_basic(const char *type, const char *s, size_t n)
{
	return date_convert(type, s, n, false);
}

char *cx_card__date_to_ext(const char *type, const char *s, size_t n)
{
	return date_convert(type, s, n, true);
}

/* ---- what a property may hold (card.h) ---- */

bool cx_card__is_delimiter(const char *s, size_t n)
{
	return (n == 5 && strncasecmp(s, "begin", 5) == 0) || (n == 3 && strncasecmp(s, "end", 3) == 0);
}

/* True when every value of p is one component of one string. */
static bool plain_values(const cx_card_prop *p)
{
	for(size_t i = 0; i < p->nvalues; i++) {
		if(p->values[i].ncomps != 1 || p->values[i].comps[0].nsubs != 1) {
			return false;
		}
	}
	return true;
}

/* True when some value string of p holds c. */
static bool values_hold(const cx_card_prop *p, char c)
{
	for(size_t i = 0; i < p->nvalues; i++) {
		for(size_t j = 0; j < p->values[i].ncomps; j++) {
			for(size_t k = 0; k < p->values[i].comps[j].nsubs; k++) {
				if(strchr(p->values[i].comps[j].subs[k], c) != NULL) {
					return true;
				}
			}
		}
	}
	return false;
}

/*
 * Values of a type other than text are written as they stand: one string
 * each, several only where vCard text has a separator for them (a ',' in the
 * list types of properties of no known name, which then cannot hold one).
 */
static const char *raw_problem(const cx_card_prop *p, int kind)
{
	if(!plain_values(p)) {
		return "a value of a type other than text is one string, not a structured value or a list";
	}
	if(kind != CX_CARD__GENERIC || !cx_card__is_list_type(p->type)) {
		return p->nvalues == 1 ? NULL : "property takes one value of this type";
	}
	if(values_hold(p, ',')) {
		return "a ',' cannot be written in an integer, float, date or time value (it separates values)";
	}
	return NULL;
}

/* Text values are escaped, so only their shape matters: the one the reader splits them into. */
static const char *text_problem(const cx_card_prop *p, int kind)
{
	switch(kind) {
	case CX_CARD__SINGLE:
		return p->nvalues == 1 && plain_values(p) ? NULL
				: "property takes one text value, not several, a structured one or a list";
	case CX_CARD__MULTI:
		return plain_values(p) ? NULL : "a value of this text-list property is one string, not structured";
	case CX_CARD__STRUCT:
		if(p->nvalues != 1) {
			return "structured property takes one value";
		}
		for(size_t j = 0; j < p->values[0].ncomps; j++) {
			if(p->values[0].comps[j].nsubs != 1) {
				return "a component of this structured property is one string, not a list";
			}
		}
		return NULL;
	case CX_CARD__STRUCT_LIST:
		return p->nvalues == 1 ? NULL : "structured property takes one value";
	default:
		/* vCard text tells the two forms apart by an unescaped ';'. */
		if(plain_values(p) || (p->nvalues == 1 && p->values[0].ncomps >= 2)) {
			return NULL;
		}
		return "text value is neither plain values nor one value of two or more components";
	}
}

const char *cx_card__prop_problem(const cx_card_prop *p)
{
	int kind = cx_card__kind(p->name);
	bool text = strcmp(p->type, "text") == 0;

	if(cx_card__is_delimiter(p->name, strlen(p->name))) {
		return "BEGIN and END are not property names";
	}
	if(strcmp(p->type, "unknown") == 0 && kind != CX_CARD__GENERIC) {
		return "value type \"unknown\" given to a property of known type";
	}
	if(strcmp(p->name, "fn") == 0 && !text) {
		return "FN is not of type text";
	}
	for(size_t i = 0; i < p->nparams; i++) {
		const cx_card_param *q = &p->params[i];
		if(strcmp(q->name, "type") != 0 && strcmp(q->name, "sort-as") != 0) {
			continue;
		}
		for(size_t j = 0; j < q->nvalues; j++) {
			if(strchr(q->values[j], ',') != NULL) {
				return "a TYPE or SORT-AS value holds a ',' (vCard text reads it as two values)";
			}
		}
	}
	return text ? text_problem(p, kind) : raw_problem(p, kind);
}

/* ---- building ---- */

cx_card *cx_card_new(void)
{
	return calloc(1, sizeof(cx_card));
}

void cx_card__prop_clear(cx_card_prop *p)
{
	cx_card__strfree(p->group);
	cx_card__strfree(p->name);
	cx_card__strfree(p->type);
	for(size_t i = 0; i < p->nparams; i++) {
		cx_card__strfree(p->params[i].name);
		for(size_t j = 0; j < p->params[i].nvalues; j++) {
			cx_card__strfree(p->params[i].values[j]);
		}
		free(p->params[i].values);
	}
	free(p->params);
	for(size_t i = 0; i < p->nvalues; i++) {
		cx_card_value *v = &p->values[i];
		for(size_t j = 0; j < v->ncomps; j++) {
			for(size_t k = 0; k < v->comps[j].nsubs; k++) {
				cx_card__strfree(v->comps[j].subs[k]);
			}
			free(v->comps[j].subs);
		}
		free(v->comps);
	}
	free(p->values);
	memset(p, 0, sizeof(*p));
}

void cx_card_free(cx_card *card)
{
	if(card == NULL) {
		return;
	}
	for(size_t i = 0; i < card->n; i++) {
		cx_card__prop_clear(&card->props[i]);
	}
	free(card->props);
	free(card);
}

cx_card_prop *cx_card__push(cx_card *card)
{
	if(card->n == card->cap) {
		size_t cap = card->cap < 8 ? 8 : card->cap * 2;
		cx_card_prop *p = realloc(card->props, cap * sizeof(*p));
		if(p == NULL) {
			return NULL;
		}
		card->props = p;
		card->cap = cap;
	}
	cx_card_prop *p = &card->props[card->n];
	memset(p, 0, sizeof(*p));
	p->group = cx_card__strndup("", 0);
	if(p->group == NULL) {
		return NULL;
	}
	card->n++;
	return p;
}

void cx_card__pop(cx_card *card)
{
	if(card->n > 0) {
		cx_card__prop_clear(&card->props[--card->n]);
	}
}

cx_card_prop *cx_card__prop_mut(cx_card *card, size_t i)
{
	return i < card->n ? &card->props[i] : NULL;
}

void cx_card__remove(cx_card *card, size_t i)
{
	if(i >= card->n) {
		return;
	}
	cx_card__prop_clear(&card->props[i]);
	memmove(&card->props[i], &card->props[i + 1], (card->n - i - 1) * sizeof(*card->props));
	card->n--;
}

void cx_card__move_last(cx_card *card, size_t i)
{
	if(card->n == 0 || i >= card->n - 1) {
		return;
	}
	cx_card_prop last = card->props[card->n - 1];
	memmove(&card->props[i + 1], &card->props[i], (card->n - 1 - i) * sizeof(*card->props));
	card->props[i] = last;
}

cx_card_value *cx_card__push_value(cx_card_prop *p)
{
	if(grow((void **)&p->values, p->nvalues, sizeof(*p->values)) != 0) {
		return NULL;
	}
	cx_card_value *v = &p->values[p->nvalues++];
	memset(v, 0, sizeof(*v));
	return v;
}

cx_card_comp *cx_card__push_comp(cx_card_value *v)
{
	if(grow((void **)&v->comps, v->ncomps, sizeof(*v->comps)) != 0) {
		return NULL;
	}
	cx_card_comp *c = &v->comps[v->ncomps++];
	memset(c, 0, sizeof(*c));
	return c;
}

char *cx_card__push_sub(cx_card_comp *c, const char *s, size_t n)
{
	if(grow((void **)&c->subs, c->nsubs, sizeof(*c->subs)) != 0) {
		return NULL;
	}
	char *d = cx_card__strndup(s, n);
	if(d == NULL) {
		return NULL;
	}
	c->subs[c->nsubs++] = d;
	return d;
}

long cx_card__param_index(const cx_card_prop *p, const char *name)
{
	for(size_t i = 0; i < p->nparams; i++) {
		if(strcmp(p->params[i].name, name) == 0) {
			return (long)i;
		}
	}
	return -1;
}

char *cx_card__push_param(cx_card_prop *p, const char *name, size_t nlen, const char *s, size_t n)
{
	char lname[64];
	cx_card_param *param = NULL;

	if(nlen >= sizeof(lname)) {
		return NULL;
	}
	for(size_t i = 0; i < nlen; i++) {
		lname[i] = lower(name[i]);
	}
	lname[nlen] = '\0';
	long at = cx_card__param_index(p, lname);
	if(at >= 0) {
		param = &p->params[at];
	} else {
		if(grow((void **)&p->params, p->nparams, sizeof(*p->params)) != 0) {
			return NULL;
		}
		param = &p->params[p->nparams];
		memset(param, 0, sizeof(*param));
		param->name = cx_card__strndup(lname, nlen);
		if(param->name == NULL) {
			return NULL;
		}
		p->nparams++;
	}
	if(grow((void **)&param->values, param->nvalues, sizeof(*param->values)) != 0) {
		return NULL;
	}
	char *d = cx_card__strndup(s, n);
	if(d == NULL) {
		return NULL;
	}
	param->values[param->nvalues++] = d;
	return d;
}

void cx_card__drop_param(cx_card_prop *p, size_t i)
{
	if(i >= p->nparams) {
		return;
	}
	cx_card__strfree(p->params[i].name);
	for(size_t j = 0; j < p->params[i].nvalues; j++) {
		cx_card__strfree(p->params[i].values[j]);
	}
	free(p->params[i].values);
	memmove(&p->params[i], &p->params[i + 1], (p->nparams - i - 1) * sizeof(*p->params));
	p->nparams--;
}

static char *lower_dup(const char *s, size_t n)
{
	char *d = cx_card__strndup(s, n);
	if(d != NULL) {
		for(size_t i = 0; i < n; i++) {
			d[i] = lower(d[i]);
		}
	}
	return d;
}

int cx_card__set_type(cx_card_prop *p, const char *s, size_t n)
{
	char *d = lower_dup(s, n);
	if(d == NULL) {
		return -1;
	}
	cx_card__strfree(p->type);
	p->type = d;
	return 0;
}

/* ---- reading ---- */

size_t cx_card_count(const cx_card *card)
{
	return card != NULL ? card->n : 0;
}

const cx_card_prop *cx_card_prop_at(const cx_card *card, size_t i)
{
	return (card != NULL && i < card->n) ? &card->props[i] : NULL;
}

const cx_card_prop *cx_card_find(const cx_card *card, const char *name, size_t index)
{
	if(card == NULL || name == NULL) {
		return NULL;
	}
	for(size_t i = 0; i < card->n; i++) {
		if(strcasecmp(card->props[i].name, name) == 0 && index-- == 0) {
			return &card->props[i];
		}
	}
	return NULL;
}

const char *cx_card_prop_str(const cx_card_prop *p, size_t value, size_t comp, size_t sub)
{
	if(p == NULL || value >= p->nvalues || comp >= p->values[value].ncomps
			|| sub >= p->values[value].comps[comp].nsubs) {
		return NULL;
	}
	return p->values[value].comps[comp].subs[sub];
}

const char *cx_card_get(const cx_card *card, const char *name, size_t index)
{
	return cx_card_prop_str(cx_card_find(card, name, index), 0, 0, 0);
}

const char *cx_card_fn(const cx_card *card)
{
	return cx_card_get(card, "fn", 0);
}

const char *cx_card_uid(const cx_card *card)
{
	return cx_card_get(card, "uid", 0);
}

char *cx_card_prop_join(const cx_card_prop *p, const char *sep)
{
	size_t seplen = strlen(sep);
	size_t total = 1;

	for(int pass = 0; pass < 2; pass++) {
		char *out = NULL;
		size_t at = 0;
		if(pass == 1) {
			out = malloc(total);
			if(out == NULL) {
				return NULL;
			}
		}
		for(size_t i = 0; i < p->nvalues; i++) {
			for(size_t j = 0; j < p->values[i].ncomps; j++) {
				const cx_card_comp *c = &p->values[i].comps[j];
				for(size_t k = 0; k < c->nsubs; k++) {
					size_t n = strlen(c->subs[k]);
					if(n == 0) {
						continue;
					}
					if(pass == 0) {
						total += n + (total > 1 ? seplen : 0);
						continue;
					}
					if(at > 0) {
						memcpy(out + at, sep, seplen);
						at += seplen;
					}
					memcpy(out + at, c->subs[k], n);
					at += n;
				}
			}
		}
		if(pass == 1) {
			out[at] = '\0';
			return out;
		}
	}
	return NULL;
}

/* ---- comparing and copying ---- */

static bool strs_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if(na != nb) {
		return false;
	}
	for(size_t i = 0; i < na; i++) {
		if(strcmp(a[i], b[i]) != 0) {
			return false;
		}
	}
	return true;
}

static bool prop_equal(const cx_card_prop *a, const cx_card_prop *b)
{
	if(strcmp(a->group, b->group) != 0 || strcmp(a->name, b->name) != 0
			|| strcmp(a->type, b->type) != 0 || a->nparams != b->nparams
			|| a->nvalues != b->nvalues) {
		return false;
	}
	for(size_t i = 0; i < a->nparams; i++) {
		if(strcmp(a->params[i].name, b->params[i].name) != 0
				|| !strs_equal(a->params[i].values, a->params[i].nvalues, b->params[i].values,
						b->params[i].nvalues)) {
			return false;
		}
	}
	for(size_t i = 0; i < a->nvalues; i++) {
		if(a->values[i].ncomps != b->values[i].ncomps) {
			return false;
		}
		for(size_t j = 0; j < a->values[i].ncomps; j++) {
			const cx_card_comp *ca = &a->values[i].comps[j];
			const cx_card_comp *cb = &b->values[i].comps[j];
			if(!strs_equal(ca->subs, ca->nsubs, cb->subs, cb->nsubs)) {
				return false;
			}
		}
	}
	return true;
}

bool cx_card_equal(const cx_card *a, const cx_card *b)
{
	if(a == NULL || b == NULL || a->n != b->n) {
		return a == b;
	}
	for(size_t i = 0; i < a->n; i++) {
		if(!prop_equal(&a->props[i], &b->props[i])) {
			return false;
		}
	}
	return true;
}

/* Appends a deep copy of p to card; -1 when memory runs out (card unchanged). */
static int push_copy(cx_card *card, const cx_card_prop *p)
{
	cx_card_prop *d = cx_card__push(card);
	if(d == NULL) {
		return -1;
	}
	cx_card__strfree(d->group);
	d->group = cx_card__strndup(p->group, strlen(p->group));
	d->name = cx_card__strndup(p->name, strlen(p->name));
	d->type = cx_card__strndup(p->type, strlen(p->type));
	if(d->group == NULL || d->name == NULL || d->type == NULL) {
		goto fail;
	}
	for(size_t i = 0; i < p->nparams; i++) {
		const cx_card_param *q = &p->params[i];
		for(size_t j = 0; j < q->nvalues; j++) {
			if(cx_card__push_param(d, q->name, strlen(q->name), q->values[j],
					strlen(q->values[j])) == NULL) {
				goto fail;
			}
		}
	}
	for(size_t i = 0; i < p->nvalues; i++) {
		cx_card_value *v = cx_card__push_value(d);
		if(v == NULL) {
			goto fail;
		}
		for(size_t j = 0; j < p->values[i].ncomps; j++) {
			const cx_card_comp *c = &p->values[i].comps[j];
			cx_card_comp *dc = cx_card__push_comp(v);
			if(dc == NULL) {
				goto fail;
			}
			for(size_t k = 0; k < c->nsubs; k++) {
				if(cx_card__push_sub(dc, c->subs[k], strlen(c->subs[k])) == NULL) {
					goto fail;
				}
			}
		}
	}
	return 0;
fail:
	cx_card__pop(card);
	return -1;
}

cx_card *cx_card_dup(const cx_card *card)
{
	cx_card *d = cx_card_new();
	if(d == NULL) {
		return NULL;
	}
	for(size_t i = 0; i < card->n; i++) {
		if(push_copy(d, &card->props[i]) != 0) {
			cx_card_free(d);
			return NULL;
		}
	}
	return d;
}

/* True when name (case-insensitive) is one of the comma-separated fields. */
static bool field_listed(const char *fields, const char *name)
{
	size_t nlen = strlen(name);
	const char *s = fields;

	while(*s != '\0') {
		const char *e = strchr(s, ',');
		if(e == NULL) {
			e = s + strlen(s);
		}
		const char *a = s;
		const char *b = e;
		while(a < b && (*a == ' ' || *a == '\t')) {
			a++;
		}
		while(b > a && (b[-1] == ' ' || b[-1] == '\t')) {
			b--;
		}
		if((size_t)(b - a) == nlen && strncasecmp(a, name, nlen) == 0) {
			return true;
		}
		s = *e == ',' ? e + 1 : e;
	}
	return false;
}

cx_card *cx_card_select(const cx_card *card, const char *fields)
{
	bool *keep = calloc(card->n + 1, sizeof(bool));
	cx_card *out = NULL;

	if(keep == NULL) {
		return NULL;
	}
	for(size_t i = 0; i < card->n; i++) {
		keep[i] = strcmp(card->props[i].name, "fn") == 0
				|| (fields != NULL && field_listed(fields, card->props[i].name));
	}
	/* A group ties a property to its companions (a label, say): keep them together. */
	for(size_t i = 0; i < card->n; i++) {
		if(keep[i] || card->props[i].group[0] == '\0') {
			continue;
		}
		for(size_t j = 0; j < card->n; j++) {
			if(keep[j] && strcasecmp(card->props[j].group, card->props[i].group) == 0
					&& field_listed(fields != NULL ? fields : "", card->props[j].name)) {
				keep[i] = true;
				break;
			}
		}
	}
	out = cx_card_new();
	if(out == NULL) {
		goto cleanup;
	}
	for(size_t i = 0; i < card->n; i++) {
		if(keep[i] && push_copy(out, &card->props[i]) != 0) {
			cx_card_free(out);
			out = NULL;
			goto cleanup;
		}
	}
cleanup:
	free(keep);
	return out;
}

/* ---- setting ---- */

/* Checks a value given to cx_card_set: UTF-8, no control character but tab (and LF in text). */
static bool set_value_ok(const char *value, bool text)
{
	size_t n = strlen(value);
	if(cx_card__utf8_bad(value, n) != n) {
		return false;
	}
	for(size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)value[i];
		if((c < 0x20 && c != '\t' && !(text && c == '\n')) || c == 0x7f) {
			return false;
		}
	}
	return true;
}

/*
 * Adds s[0..n) to comp, in the basic form when p is of a date or time type.
 * Returns -1 when memory runs out.
 */
static int push_piece(const cx_card_prop *p, cx_card_comp *comp, const char *s, size_t n)
{
	if(!cx_card__is_date_type(p->type)) {
		return cx_card__push_sub(comp, s, n) != NULL ? 0 : -1;
	}
	char *d = cx_card__date_to_basic(p->type, s, n);
	int rc = d != NULL && cx_card__push_sub(comp, d, strlen(d)) != NULL ? 0 : -1;
	cx_card__strfree(d);
	return rc;
}

/*
 * Fills the values of p (name and type set, no values yet) with value, split
 * as cx_card_set documents. Returns -1 when memory runs out.
 */
static int fill_value(cx_card_prop *p, const char *value)
{
	int kind = cx_card__kind(p->name);
	bool text = strcmp(p->type, "text") == 0;
	bool list = text ? kind == CX_CARD__MULTI
			: kind == CX_CARD__GENERIC && cx_card__is_list_type(p->type);
	char vsep = list ? ',' : '\0';
	char csep = text && (kind == CX_CARD__STRUCT || kind == CX_CARD__STRUCT_LIST) ? ';' : '\0';
	const char *s = value;

	for(;;) {
		const char *ve = vsep != '\0' ? strchr(s, vsep) : NULL;
		if(ve == NULL) {
			ve = s + strlen(s);
		}
		cx_card_value *v = cx_card__push_value(p);
		if(v == NULL) {
			return -1;
		}
		const char *c = s;
		for(;;) {
			const char *ce = csep != '\0' ? memchr(c, csep, (size_t)(ve - c)) : NULL;
			if(ce == NULL) {
				ce = ve;
			}
			cx_card_comp *comp = cx_card__push_comp(v);
			if(comp == NULL || push_piece(p, comp, c, (size_t)(ce - c)) != 0) {
				return -1;
			}
			if(ce == ve) {
				break;
			}
			c = ce + 1;
		}
		if(*ve == '\0') {
			return 0;
		}
		s = ve + 1;
	}
}

static cx_card_code set_or_add(cx_card *card, const char *name, const char *value, bool add)
{
	if(card == NULL || name == NULL || value == NULL || !cx_card__is_token(name, strlen(name))
			|| strcasecmp(name, "version") == 0 || cx_card__is_delimiter(name, strlen(name))) {
		return CX_CARD_E_INVALID;
	}
	const cx_card_prop *old = add ? NULL : cx_card_find(card, name, 0);
	const char *type = old != NULL ? old->type : cx_card__default_type(name);
	if(!set_value_ok(value, strcmp(type, "text") == 0)) {
		return CX_CARD_E_INVALID;
	}
	if(old != NULL) {
		/* Build the new values aside, so that a failure leaves the card unchanged. */
		cx_card_prop *o = &card->props[old - card->props];
		cx_card_prop fresh = {.name = o->name, .type = o->type, .params = o->params,
			.nparams = o->nparams};
		int r = fill_value(&fresh, value);
		bool fits = r == 0 && cx_card__prop_problem(&fresh) == NULL;
		fresh.name = NULL; /* borrowed */
		fresh.type = NULL;
		fresh.params = NULL;
		fresh.nparams = 0;
		if(!fits) {
			cx_card__prop_clear(&fresh);
			return r != 0 ? CX_CARD_E_NOMEM : CX_CARD_E_INVALID;
		}
		cx_card_prop stale = {.values = o->values, .nvalues = o->nvalues};
		o->values = fresh.values;
		o->nvalues = fresh.nvalues;
		cx_card__prop_clear(&stale);
		return CX_CARD_OK;
	}
	if(card->n >= CX_CARD_MAX_PROPS - 1) {
		return CX_CARD_E_LIMIT;
	}
	cx_card_prop *p = cx_card__push(card);
	if(p == NULL) {
		return CX_CARD_E_NOMEM;
	}
	p->name = lower_dup(name, strlen(name));
	p->type = cx_card__strndup(type, strlen(type));
	if(p->name == NULL || p->type == NULL || fill_value(p, value) != 0) {
		cx_card__pop(card);
		return CX_CARD_E_NOMEM;
	}
	if(cx_card__prop_problem(p) != NULL) {
		cx_card__pop(card);
		return CX_CARD_E_INVALID;
	}
	return CX_CARD_OK;
}

cx_card_code cx_card_set(cx_card *card, const char *name, const char *value)
{
	return set_or_add(card, name, value, false);
}

cx_card_code cx_card_add(cx_card *card, const char *name, const char *value)
{
	return set_or_add(card, name, value, true);
}

/* ---- checking ---- */

static size_t value_bytes(const cx_card_prop *p)
{
	size_t total = 0;
	for(size_t i = 0; i < p->nvalues; i++) {
		for(size_t j = 0; j < p->values[i].ncomps; j++) {
			for(size_t k = 0; k < p->values[i].comps[j].nsubs; k++) {
				total += strlen(p->values[i].comps[j].subs[k]);
			}
		}
	}
	return total;
}

int cx_card_check(const cx_card *card, size_t max_photo, cx_card_err *err)
{
	bool have_fn = false;

	for(size_t i = 0; i < card->n; i++) {
		const cx_card_prop *p = &card->props[i];
		if(strcmp(p->name, "fn") == 0) {
			const char *fn = cx_card_prop_str(p, 0, 0, 0);
			if(fn == NULL || fn[0] == '\0') {
				return cx_card__fail(err, CX_CARD_E_NO_FN, 0, "FN", "FN is empty");
			}
			have_fn = true;
		} else if(strcmp(p->name, "photo") == 0 && max_photo > 0 && value_bytes(p) > max_photo) {
			return cx_card__fail(err, CX_CARD_E_PHOTO_SIZE, 0, "PHOTO", NULL);
		}
	}
	if(!have_fn) {
		return cx_card__fail(err, CX_CARD_E_NO_FN, 0, "FN", NULL);
	}
	return 0;
}

/* ---- jCard ---- */

/* The text of number d (at most 39 characters): "42", "1.5", "1e+300"; the shortest that reads back. */
static void number_text(double d, char num[40])
{
	if(d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d) {
		snprintf(num, 40, "%.0f", d);
		return;
	}
	for(int prec = 15; prec <= 17; prec++) {
		snprintf(num, 40, "%.*g", prec, d);
		if(strtod(num, NULL) == d) {
			return;
		}
	}
}

/*
 * Turns each CRLF and CR of s into LF, in place, and wipes the bytes freed:
 * vCard text has one line break (\n), and the card holds what it can write.
 */
static void unify_newlines(char *s)
{
	size_t n = strlen(s);
	size_t o = 0;

	for(size_t i = 0; i < n; i++) {
		if(s[i] == '\r') {
			s[o++] = '\n';
			if(i + 1 < n && s[i + 1] == '\n') {
				i++;
			}
		} else {
			s[o++] = s[i];
		}
	}
	cx_wipe(s + o, n - o);
}

/* Text of a jCard scalar (string, number, boolean, null), malloc'ed; NULL for other types or no memory. */
static char *scalar_text(const cJSON *v, const char *type, bool *bad)
{
	char num[40];

	*bad = false;
	if(cJSON_IsString(v)) {
		const char *s = v->valuestring;
		if(cx_card__is_date_type(type)) {
			return cx_card__date_to_basic(type, s, strlen(s));
		}
		return cx_card__strndup(s, strlen(s));
	}
	if(cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		if(!isfinite(d)) {
			*bad = true;
			return NULL;
		}
		number_text(d, num);
		return cx_card__strndup(num, strlen(num));
	}
	if(cJSON_IsBool(v)) {
		return cx_card__strndup(cJSON_IsTrue(v) ? "TRUE" : "FALSE", cJSON_IsTrue(v) ? 4 : 5);
	}
	if(cJSON_IsNull(v)) {
		return cx_card__strndup("", 0);
	}
	*bad = true;
	return NULL;
}

/* Checks a string taken from a jCard: UTF-8, and which control characters it may hold. */
static const char *string_problem(const char *s, bool allow_lf)
{
	size_t n = strlen(s);
	if(cx_card__utf8_bad(s, n) != n) {
		return "";
	}
	for(size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if(c == '\n' || c == '\r') {
			if(!allow_lf) {
				return "line break in a parameter or a non-text value";
			}
		} else if((c < 0x20 && c != '\t') || c == 0x7f) {
			return "control character in a jCard string";
		}
	}
	return NULL;
}

/* Converts one jCard property into a new last property of card. */
static int jcard_prop(cx_card *card, const cJSON *jp, cx_card_err *err)
{
	const cJSON *jname = cJSON_IsArray(jp) ? jp->child : NULL;
	const cJSON *jparams = jname != NULL ? jname->next : NULL;
	const cJSON *jtype = jparams != NULL ? jparams->next : NULL;
	const cJSON *first = jtype != NULL ? jtype->next : NULL;
	const char *why;

	if(first == NULL) {
		return cx_card__fail(err, CX_CARD_E_JCARD, 0, NULL,
				"jCard property is not an array of name, parameters, type and values");
	}
	if(!cJSON_IsString(jname) || !cx_card__is_token(jname->valuestring, strlen(jname->valuestring))) {
		return cx_card__fail(err, CX_CARD_E_JCARD, 0, cJSON_IsString(jname) ? jname->valuestring : NULL,
				"jCard property name is not a vCard name");
	}
	const char *name = jname->valuestring;
	if(!cJSON_IsObject(jparams)) {
		return cx_card__fail(err, CX_CARD_E_JCARD, 0, name, "jCard parameters are not an object");
	}
	if(!cJSON_IsString(jtype) || !cx_card__is_token(jtype->valuestring, strlen(jtype->valuestring))) {
		return cx_card__fail(err, CX_CARD_E_JCARD, 0, name, "jCard value type is not a name");
	}
	if(strcasecmp(name, "version") == 0) {
		if(!cJSON_IsString(first) || strcmp(first->valuestring, "4.0") != 0 || first->next != NULL) {
			return cx_card__fail(err, CX_CARD_E_VERSION, 0, "VERSION", "jCard version is not \"4.0\"");
		}
		return 1; /* checked, not stored */
	}
	cx_card_prop *p = cx_card__push(card);
	if(p == NULL) {
		return cx_card__fail(err, CX_CARD_E_NOMEM, 0, name, NULL);
	}
	p->name = lower_dup(name, strlen(name));
	if(p->name == NULL || cx_card__set_type(p, jtype->valuestring, strlen(jtype->valuestring)) != 0) {
		goto nomem;
	}
	bool text = strcmp(p->type, "text") == 0;
	for(const cJSON *q = jparams->child; q != NULL; q = q->next) {
		const char *pn = q->string;
		if(pn == NULL || !cx_card__is_token(pn, strlen(pn)) || strlen(pn) >= 64) {
			return cx_card__fail(err, CX_CARD_E_JCARD, 0, name, "jCard parameter name is not a vCard name");
		}
		if(strcasecmp(pn, "group") == 0) {
			if(!cJSON_IsString(q) || !cx_card__is_token(q->valuestring, strlen(q->valuestring))) {
				return cx_card__fail(err, CX_CARD_E_JCARD, 0, name, "jCard group is not a vCard name");
			}
			cx_card__strfree(p->group);
			p->group = cx_card__strndup(q->valuestring, strlen(q->valuestring));
			if(p->group == NULL) {
				goto nomem;
			}
			continue;
		}
		if(strcasecmp(pn, "value") == 0) {
			continue; /* the type element carries it */
		}
		const cJSON *first_v = cJSON_IsArray(q) ? q->child : q;
		if(cJSON_IsArray(q) && q->child == NULL) {
			/* An empty list is an empty value, as vCard text cannot write "no value". */
			if(cx_card__push_param(p, pn, strlen(pn), "", 0) == NULL) {
				goto nomem;
			}
			continue;
		}
		for(const cJSON *e = first_v; e != NULL; e = cJSON_IsArray(q) ? e->next : NULL) {
			if(!cJSON_IsString(e)) {
				return cx_card__fail(err, CX_CARD_E_JCARD, 0, name,
						"jCard parameter value is not a string or a list of strings");
			}
			why = string_problem(e->valuestring, true);
			if(why != NULL) {
				return cx_card__fail(err, why[0] == '\0' ? CX_CARD_E_UTF8 : CX_CARD_E_JCARD, 0, name,
						why[0] == '\0' ? NULL : why);
			}
			char *d = cx_card__push_param(p, pn, strlen(pn), e->valuestring, strlen(e->valuestring));
			if(d == NULL) {
				goto nomem;
			}
			unify_newlines(d);
		}
	}
	for(const cJSON *jv = first; jv != NULL; jv = jv->next) {
		cx_card_value *v = cx_card__push_value(p);
		if(v == NULL) {
			goto nomem;
		}
		/* A plain value is a structured value of one component of one string. */
		const cJSON *comp0 = cJSON_IsArray(jv) ? jv->child : jv;
		if(cJSON_IsArray(jv) && jv->child == NULL) {
			comp0 = NULL;
		}
		do {
			cx_card_comp *c = cx_card__push_comp(v);
			if(c == NULL) {
				goto nomem;
			}
			const cJSON *sub0 = (comp0 != NULL && cJSON_IsArray(comp0)) ? comp0->child : comp0;
			if(cJSON_IsArray(comp0) && comp0->child == NULL) {
				sub0 = NULL;
			}
			if(sub0 == NULL && cx_card__push_sub(c, "", 0) == NULL) {
				goto nomem;
			}
			for(const cJSON *s = sub0; s != NULL; s = cJSON_IsArray(comp0) ? s->next : NULL) {
				bool bad;
				char *t = scalar_text(s, p->type, &bad);
				if(t == NULL) {
					if(bad) {
						return cx_card__fail(err, CX_CARD_E_JCARD, 0, name,
								"jCard value is nested deeper than components or is not a scalar");
					}
					goto nomem;
				}
				unify_newlines(t);
				why = string_problem(t, text);
				if(why != NULL) {
					cx_card__strfree(t);
					return cx_card__fail(err, why[0] == '\0' ? CX_CARD_E_UTF8 : CX_CARD_E_JCARD, 0,
							name, why[0] == '\0' ? NULL : why);
				}
				if(grow((void **)&c->subs, c->nsubs, sizeof(*c->subs)) != 0) {
					cx_card__strfree(t);
					goto nomem;
				}
				c->subs[c->nsubs++] = t;
			}
			comp0 = cJSON_IsArray(jv) && comp0 != NULL ? comp0->next : NULL;
		} while(comp0 != NULL);
	}
	why = cx_card__prop_problem(p);
	if(why != NULL) {
		return cx_card__fail(err, CX_CARD_E_PROPERTY, 0, name, why);
	}
	return 0;
nomem:
	return cx_card__fail(err, CX_CARD_E_NOMEM, 0, name, NULL);
}

int cx_card_from_jcard(const cJSON *jcard, cx_card **out, cx_card_err *err)
{
	bool have_version = false;
	size_t nprops = 0;
	int rc = -1;
	cx_card *card = NULL;

	*out = NULL;
	if(!cJSON_IsArray(jcard) || cJSON_GetArraySize(jcard) != 2 || !cJSON_IsString(jcard->child)
			|| strcmp(jcard->child->valuestring, "vcard") != 0 || !cJSON_IsArray(jcard->child->next)) {
		cx_card__fail(err, CX_CARD_E_JCARD, 0, NULL, "jCard is not [\"vcard\", [properties]]");
		goto cleanup;
	}
	card = cx_card_new();
	if(card == NULL) {
		cx_card__fail(err, CX_CARD_E_NOMEM, 0, NULL, NULL);
		goto cleanup;
	}
	for(const cJSON *jp = jcard->child->next->child; jp != NULL; jp = jp->next) {
		if(++nprops > CX_CARD_MAX_PROPS) {
			cx_card__fail(err, CX_CARD_E_LIMIT, 0, NULL, NULL);
			goto cleanup;
		}
		int r = jcard_prop(card, jp, err);
		if(r < 0) {
			goto cleanup;
		}
		have_version = have_version || r == 1;
	}
	if(!have_version) {
		cx_card__fail(err, CX_CARD_E_VERSION, 0, "VERSION", "jCard has no version property");
		goto cleanup;
	}
	if(cx_card_check(card, 0, err) != 0) {
		goto cleanup;
	}
	*out = card;
	card = NULL;
	rc = 0;
cleanup:
	cx_card_free(card);
	return rc;
}

int cx_card_from_jcard_text(const char *text, size_t len, cx_card **out, cx_card_err *err)
{
	const char *why = NULL;
	const char *end = NULL;

	*out = NULL;
	if(text == NULL || len == 0) {
		return cx_card__fail(err, CX_CARD_E_EMPTY, 0, NULL, NULL);
	}
	if(!cx_json_scan(text, len, CX_JSON_MAX_DEPTH, &why)) {
		return cx_card__fail(err, CX_CARD_E_JCARD, 0, NULL, why);
	}
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if(root == NULL) {
		return cx_card__fail(err, CX_CARD_E_JCARD, 0, NULL, "jCard text is not valid JSON");
	}
	for(const char *p = end; p != NULL && p < text + len; p++) {
		if(*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
			cx_json_delete(root);
			return cx_card__fail(err, CX_CARD_E_JCARD, 0, NULL, "trailing data after the jCard");
		}
	}
	int rc = cx_card_from_jcard(root, out, err);
	cx_json_delete(root);
	return rc;
}

/*
 * jCard scalar for string s of a property of type type; NULL when memory runs
 * out. A number or boolean only when reading it back gives s again ("42",
 * "TRUE"): "042", "+1", "-0" or "true" stay strings, so that the card is kept.
 */
static cJSON *jcard_scalar(const char *type, const char *s)
{
	char *end = NULL;
	char num[40];

	if(s[0] != '\0' && (strcmp(type, "integer") == 0 || strcmp(type, "float") == 0)) {
		double d = strtod(s, &end);
		/* cJSON prints -0 as 0. */
		if(*end == '\0' && isfinite(d) && !(d == 0 && signbit(d))) {
			number_text(d, num);
			if(strcmp(num, s) == 0) {
				return cJSON_CreateNumber(d);
			}
		}
	} else if(strcmp(type, "boolean") == 0 && (strcmp(s, "TRUE") == 0 || strcmp(s, "FALSE") == 0)) {
		return cJSON_CreateBool(strcmp(s, "TRUE") == 0);
	} else if(cx_card__is_date_type(type)) {
		/*
		 * The extended form, when the reader turns it back into s: a value
		 * that is no date the conversions know (or one they would take
		 * apart differently, such as one they leave alone for its length
		 * only once extended) goes as it is.
		 */
		char *ext = cx_card__date_to_ext(type, s, strlen(s));
		char *back = ext != NULL ? cx_card__date_to_basic(type, ext, strlen(ext)) : NULL;
		cJSON *j = back == NULL ? NULL : cJSON_CreateString(strcmp(back, s) == 0 ? ext : s);
		cx_card__strfree(back);
		cx_card__strfree(ext);
		return j;
	}
	return cJSON_CreateString(s);
}

/* Adds item to array; on failure deletes item and returns -1. */
static int add_to(cJSON *array, cJSON *item)
{
	if(item == NULL) {
		return -1;
	}
	if(!cJSON_AddItemToArray(array, item)) {
		cx_json_delete(item);
		return -1;
	}
	return 0;
}

static cJSON *jcard_value(const cx_card_prop *p, const cx_card_value *v)
{
	if(v->ncomps == 1 && v->comps[0].nsubs == 1) {
		return jcard_scalar(p->type, v->comps[0].subs[0]);
	}
	cJSON *arr = cJSON_CreateArray();
	if(arr == NULL) {
		return NULL;
	}
	for(size_t j = 0; j < v->ncomps; j++) {
		const cx_card_comp *c = &v->comps[j];
		cJSON *item;
		if(c->nsubs == 1) {
			item = cJSON_CreateString(c->subs[0]);
		} else {
			item = cJSON_CreateArray();
			for(size_t k = 0; item != NULL && k < c->nsubs; k++) {
				if(add_to(item, cJSON_CreateString(c->subs[k])) != 0) {
					cx_json_delete(item);
					item = NULL;
				}
			}
		}
		if(add_to(arr, item) != 0) {
			cx_json_delete(arr);
			return NULL;
		}
	}
	return arr;
}

static cJSON *jcard_params(const cx_card_prop *p)
{
	cJSON *obj = cJSON_CreateObject();
	if(obj == NULL) {
		return NULL;
	}
	if(p->group[0] != '\0' && cJSON_AddStringToObject(obj, "group", p->group) == NULL) {
		goto fail;
	}
	for(size_t i = 0; i < p->nparams; i++) {
		const cx_card_param *q = &p->params[i];
		cJSON *val;
		if(p->group[0] != '\0' && strcmp(q->name, "group") == 0) {
			continue; /* jCard has one "group" member: the property group wins */
		}
		if(q->nvalues == 1) {
			val = cJSON_CreateString(q->values[0]);
		} else {
			val = cJSON_CreateArray();
			for(size_t j = 0; val != NULL && j < q->nvalues; j++) {
				if(add_to(val, cJSON_CreateString(q->values[j])) != 0) {
					cx_json_delete(val);
					val = NULL;
				}
			}
		}
		if(val == NULL) {
			goto fail;
		}
		if(!cJSON_AddItemToObject(obj, q->name, val)) {
			cx_json_delete(val);
			goto fail;
		}
	}
	return obj;
fail:
	cx_json_delete(obj);
	return NULL;
}

/* [name, params, type] with params taken over (deleted on failure); NULL when memory runs out. */
static cJSON *jcard_prop_out(const char *name, cJSON *params, const char *type)
{
	cJSON *jp = cJSON_CreateArray();
	if(jp == NULL || params == NULL) {
		cx_json_delete(jp);
		cx_json_delete(params);
		return NULL;
	}
	if(add_to(jp, cJSON_CreateString(name)) != 0) {
		cx_json_delete(params);
		cx_json_delete(jp);
		return NULL;
	}
	if(add_to(jp, params) != 0 || add_to(jp, cJSON_CreateString(type)) != 0) {
		cx_json_delete(jp);
		return NULL;
	}
	return jp;
}

cJSON *cx_card_to_jcard(const cx_card *card)
{
	cJSON *root = cJSON_CreateArray();
	if(root == NULL) {
		return NULL;
	}
	cJSON *props = cJSON_CreateArray();
	if(props == NULL || add_to(root, cJSON_CreateString("vcard")) != 0) {
		cx_json_delete(props);
		goto fail;
	}
	if(add_to(root, props) != 0) {
		goto fail;
	}
	cJSON *ver = jcard_prop_out("version", cJSON_CreateObject(), "text");
	if(add_to(props, ver) != 0 || add_to(ver, cJSON_CreateString("4.0")) != 0) {
		goto fail;
	}
	for(size_t i = 0; i < card->n; i++) {
		const cx_card_prop *p = &card->props[i];
		cJSON *jp = jcard_prop_out(p->name, jcard_params(p), p->type);
		if(add_to(props, jp) != 0) {
			goto fail;
		}
		for(size_t j = 0; j < p->nvalues; j++) {
			if(add_to(jp, jcard_value(p, &p->values[j])) != 0) {
				goto fail;
			}
		}
	}
	return root;
fail:
	cx_json_delete(root);
	return NULL;
}

char *cx_card_to_jcard_text(const cx_card *card, size_t *len)
{
	cJSON *root = cx_card_to_jcard(card);
	if(root == NULL) {
		return NULL;
	}
	char *text = cx_json_print(root, 256, len);
	cx_json_delete(root);
	return text;
}
