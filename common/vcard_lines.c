/*
 * The lines of vCard text (vcard_int.h): physical lines and their ends,
 * and logical lines, unfolded: folding, quoted-printable soft line breaks,
 * unindented base64 continuation lines.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "charset.h"
#include "vcard.h"
#include "vcard_int.h"

void cx_vline_free(cx_vline *l)
{
	cx_sb_free(&l->text);
	cx_sb_free(&l->agent);
	free(l->folds);
	l->folds = NULL;
	l->nfolds = 0;
}

/* The physical line of byte off of l. */
unsigned cx_vline_at(const cx_vline *l, size_t off)
{
	unsigned line = l->line;
	for(size_t i = 0; i < l->nfolds; i++) {
		if(l->folds[i] <= off) {
			line++;
		}
	}
	return line;
}

/*
 * One physical line at cur: its bytes up to the line end, which is LF, CR
 * LF, a run of CRs before an LF (a file whose CRLF went through one more
 * conversion: CR CR LF), or CRs alone (classic Mac OS).
 */
void cx_vline_physical(const char *text, size_t len, cx_vcard_cursor *cur, const char **s, size_t *n)
{
	size_t i = cur->pos;

	while(i < len && text[i] != '\n' && text[i] != '\r') {
		i++;
	}
	*s = text + cur->pos;
	*n = i - cur->pos;
	while(i < len && text[i] == '\r') {
		i++;
	}
	if(i < len && text[i] == '\n') {
		i++;
	}
	cur->pos = i;
	cur->line++;
}

/* The bytes of the next physical line at cur, without moving it. */
void cx_vline_peek(const char *text, size_t len, const cx_vcard_cursor *cur, const char **s, size_t *n)
{
	cx_vcard_cursor c = *cur;
	cx_vline_physical(text, len, &c, s, n);
}

/* True when s[0..n) is word, any case. */
bool cx_vline_word_is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/*
 * The ENCODING a content line's parameters name (ENCODING=x, or x alone as
 * 2.1 allows): quoted-printable, b or base64; *charset (when not NULL) says
 * whether it has a CHARSET. Only the first 1024 bytes are looked at, so
 * that asking again as a line grows stays cheap.
 */
int cx_vline_encoding(const char *s, size_t n, bool *charset)
{
	size_t end = n < 1024 ? n : 1024;
	size_t i = 0;
	bool quoted = false;

	while(i < end && s[i] != ';' && s[i] != ':') {
		i++;
	}
	if(charset != NULL) {
		*charset = false;
	}
	while(i < end && s[i] == ';') {
		size_t start = ++i;
		while(i < end && (quoted || (s[i] != ';' && s[i] != ':'))) {
			quoted = s[i] == '"' ? !quoted : quoted;
			i++;
		}
		const char *v = s + start;
		size_t vn = i - start;
		const char *eq = memchr(v, '=', vn);
		if(eq != NULL) {
			if(charset != NULL && cx_vline_word_is(v, (size_t)(eq - v), "charset")) {
				*charset = true;
			}
			if(!cx_vline_word_is(v, (size_t)(eq - v), "encoding")) {
				continue;
			}
			vn -= (size_t)(eq - v) + 1;
			v = eq + 1;
		}
		if(cx_vline_word_is(v, vn, "quoted-printable")) {
			return CX_VLINE_ENC_QP;
		}
		if(cx_vline_word_is(v, vn, "b") || cx_vline_word_is(v, vn, "base64")) {
			return CX_VLINE_ENC_B64;
		}
	}
	return CX_VLINE_ENC_NONE;
}

/* True when s[0..n) is "END:VCARD" (any case, blanks after it allowed). */
bool cx_vline_is_end(const char *s, size_t n)
{
	while(n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
		n--;
	}
	return cx_vline_word_is(s, n, "end:vcard");
}

/*
 * True when the physical line at cur continues a base64 value: base64 text
 * alone, and no ':' in the lines folded onto it either (a long property
 * name folded at 75 octets is base64 text by itself, up to its ':').
 */
static bool continues_base64(const char *text, size_t len, const cx_vcard_cursor *cur)
{
	cx_vcard_cursor c = *cur;
	const char *s;
	size_t n;

	cx_vline_physical(text, len, &c, &s, &n);
	if(n == 0 || !cx_is_base64_text(s, n)) {
		return false;
	}
	while(c.pos < len && (text[c.pos] == ' ' || text[c.pos] == '\t')) {
		cx_vline_physical(text, len, &c, &s, &n);
		if(memchr(s, ':', n) != NULL) {
			return false;
		}
	}
	return true;
}

/* Appends the continuation line s[0..n) to l, remembering where it starts. */
static int add_fold(cx_vline *l, const char *s, size_t n)
{
	size_t *f = realloc(l->folds, (l->nfolds + 1) * sizeof(*f));
	if(f == NULL) {
		return -1;
	}
	l->folds = f;
	l->folds[l->nfolds++] = l->text.n;
	return cx_sb_put(&l->text, s, n);
}

/*
 * Reads the next logical line into l (emptied first). A physical line
 * continues the one before when it starts with a blank (folding; the blank
 * goes), when the line before is quoted-printable and ends in '=' (a soft
 * line break; the '=' goes), and, after a base64 line, when it holds only
 * base64 text (2.1 writers do not always indent it; a blank line ends it).
 * Returns 1 at the end of text, -1 out of memory.
 */
int cx_vline_next(const char *text, size_t len, cx_vcard_cursor *cur, cx_vline *l)
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
	cx_vline_physical(text, len, cur, &s, &n);
	l->line = cur->line;
	if(cx_sb_put(&l->text, s, n) != 0) {
		return -1;
	}
	while(cur->pos < len) {
		cx_vline_peek(text, len, cur, &s, &n);
		if(text[cur->pos] == ' ' || text[cur->pos] == '\t') {
			cx_vline_physical(text, len, cur, &s, &n);
			if(add_fold(l, s + 1, n - 1) != 0) {
				return -1;
			}
			continue;
		}
		int enc = l->text.n > 0 ? cx_vline_encoding(l->text.p, l->text.n, NULL) : CX_VLINE_ENC_NONE;
		if(enc == CX_VLINE_ENC_QP) {
			/* RFC 2045 6.7: trailing blanks of a quoted-printable line are no part of it. */
			while(l->text.n > 0 && (l->text.p[l->text.n - 1] == ' ' || l->text.p[l->text.n - 1] == '\t')) {
				l->text.p[--l->text.n] = '\0';
			}
		}
		if(enc == CX_VLINE_ENC_QP && l->text.n > 0 && l->text.p[l->text.n - 1] == '=' && !cx_vline_is_end(s, n)) {
			l->text.n--;
			l->text.p[l->text.n] = '\0';
			cx_vline_physical(text, len, cur, &s, &n);
			if(add_fold(l, s, n) != 0) {
				return -1;
			}
			continue;
		}
		if(enc == CX_VLINE_ENC_B64 && memchr(l->text.p, ':', l->text.n) != NULL
				&& continues_base64(text, len, cur)) {
			cx_vline_physical(text, len, cur, &s, &n);
			if(add_fold(l, s, n) != 0) {
				return -1;
			}
			continue;
		}
		break;
	}
	return 0;
}

bool cx_vline_blank(const cx_vline *l)
{
	for(size_t i = 0; i < l->text.n; i++) {
		if(l->text.p[i] != ' ' && l->text.p[i] != '\t') {
			return false;
		}
	}
	return true;
}
