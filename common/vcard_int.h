/*
 * Private header of the vCard text code, shared by its files:
 *   vcard.c         reading: content lines, parameters, values, cards
 *   vcard_lines.c   physical and logical lines: line ends, unfolding
 *   vcard_legacy.c  what vCard 2.1 and 3.0 wrote that 4.0 says otherwise
 *                   (RFC 6350 Appendix A), converted to 4.0
 *   vcard_write.c   writing 4.0 and 3.0 text
 *   vcard_buf.c     the growing buffer they build text in
 *   charset.c       quoted-printable and CHARSET conversions
 */
#ifndef CX_VCARD_INT_H
#define CX_VCARD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "card.h"
#include "vcard.h"

/* A growing NUL-terminated buffer that wipes every block it gives up. */
typedef struct {
	char *p;
	size_t n;
	size_t cap;
} cx_sb;

/* Appends; each returns 0, or -1 when memory runs out (the buffer is unchanged). */
int cx_sb_put(cx_sb *b, const char *s, size_t n);
int cx_sb_str(cx_sb *b, const char *s);
int cx_sb_chr(cx_sb *b, char c);
/* Wipes and frees the buffer; it is empty and usable again afterwards. */
void cx_sb_free(cx_sb *b);

/* ---- vcard_lines.c ---- */

/* A logical line: physical lines unfolded. */
typedef struct {
	cx_sb text;    /* unfolded, without the line end */
	unsigned line; /* physical line it starts on */
	size_t *folds; /* offsets in text where a continuation line's bytes begin */
	size_t nfolds;
	cx_sb agent;   /* a 2.1 AGENT: the lines of the vCard that followed it */
} cx_vline;

/* What a content line's parameters say of its value's encoding. */
enum { CX_VLINE_ENC_NONE, CX_VLINE_ENC_QP, CX_VLINE_ENC_B64 };

/* Wipes and frees what l holds; l is empty and usable again. */
void cx_vline_free(cx_vline *l);
/* The physical line of byte off of l. */
unsigned cx_vline_at(const cx_vline *l, size_t off);
/*
 * One physical line at cur into s[0..n) (pointing into text), cur moved
 * past its end: LF, CR LF, CRs before an LF (CR CR LF) or CRs alone.
 */
void cx_vline_physical(const char *text, size_t len, cx_vcard_cursor *cur, const char **s, size_t *n);
/* The same without moving cur. */
void cx_vline_peek(const char *text, size_t len, const cx_vcard_cursor *cur, const char **s, size_t *n);
/*
 * The next logical line at cur into l (emptied first; see vcard.h for the
 * unfolding rules; a UTF-8 byte order mark at the start is skipped).
 * Returns 0, 1 at the end of text, -1 when memory runs out.
 */
int cx_vline_next(const char *text, size_t len, cx_vcard_cursor *cur, cx_vline *l);
/* True when l holds only blanks. */
bool cx_vline_blank(const cx_vline *l);
/*
 * The encoding the parameters of content line s[0..n) name
 * (CX_VLINE_ENC_*); *charset (when not NULL) says whether it has a
 * CHARSET. Looks at the first 1024 bytes only.
 */
int cx_vline_encoding(const char *s, size_t n, bool *charset);
/* True when s[0..n) is word, any case. */
bool cx_vline_word_is(const char *s, size_t n, const char *word);
/* True when s[0..n) is "END:VCARD" (any case, blanks after it allowed). */
bool cx_vline_is_end(const char *s, size_t n);

/* ---- vcard_legacy.c ---- */

/* Lowercases ASCII letters of s in place. */
void cx_vcard__lower(char *s);

/*
 * Converts property p, read from a card of version 2.1 or 3.0, to
 * 4.0 where the change concerns the property alone: TYPE values (pref,
 * internet, the removed ADR and EMAIL types), inline binaries to data:
 * URIs, media types of PHOTO, LOGO, SOUND and KEY, GEO, TZ, Apple's
 * year-less birthday, leftover CHARSET, ENCODING and CONTEXT parameters.
 * Returns 0, or -1 when memory runs out.
 */
int cx_vcard__upgrade_prop(cx_card_prop *p);

/*
 * What the old versions say across properties, once the whole card is read:
 * LABEL becomes the LABEL parameter of the ADR of the same types (or of a
 * new, empty ADR), SORT-STRING the SORT-AS parameter of N (else ORG), and a
 * card without FN gets one made from N (else ORG). Returns 0, -1 when memory
 * runs out, or 1 when no FN could be made.
 */
int cx_vcard__upgrade_card(cx_card *card);

/* The properties of 2.1 and 3.0 that 4.0 has no more and that are dropped: PROFILE, NAME, MAILER, CLASS. */
bool cx_vcard__dropped_name(const char *name);

#endif
