/*
 * Private header of the vCard text code, shared by its files:
 *   vcard.c         reading: lines, unfolding, parameters, values, cards
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

/* Lowercases ASCII letters of s in place. */
void cx_vcard__lower(char *s);

/*
 * Converts property p, read from a card of version 2 (2.1) or 3 (3.0), to
 * 4.0 where the change concerns the property alone: TYPE values (pref,
 * internet, the removed ADR and EMAIL types), inline binaries to data:
 * URIs, media types of PHOTO, LOGO, SOUND and KEY, GEO, TZ, Apple's
 * year-less birthday, leftover CHARSET, ENCODING and CONTEXT parameters.
 * Returns 0, or -1 when memory runs out.
 */
int cx_vcard__upgrade_prop(cx_card_prop *p, int version);

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
