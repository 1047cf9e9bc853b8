/*
 * vCard text (RFC 6350) to and from the card model (card.h).
 *
 * Reading accepts vCard 4.0, 3.0 (RFC 2426, what many phones export) and
 * 2.1 (what Android, Outlook and BlackBerry export) and yields a 4.0 card:
 *   - lines end in CRLF, a bare LF, CR CR LF (a CRLF file converted once
 *     more) or a bare CR; a UTF-8 byte order mark is skipped; folded lines
 *     (a line starting with a space or tab continues the one before, the
 *     blank dropped) are unfolded, and so are a quoted-printable line
 *     ending in '=' (a soft line break: the next line continues it;
 *     blanks at the end of such a line are dropped, RFC 2045) and,
 *     after a base64 line, lines of base64 text alone (2.1 writers do not
 *     always indent them); blank lines are ignored;
 *   - names are case-insensitive and kept lowercase; groups ("item1.TEL")
 *     are kept as written; parameter values may be quoted and use the
 *     RFC 6868 ^-escapes; repeated parameters are merged (TYPE=a;TYPE=b is
 *     TYPE=a,b); a quoted TYPE or SORT-AS value is a ','-separated list
 *     (as RFC 6350 writes TYPE="voice,home"), any other quoted value is
 *     one value;
 *   - VALUE gives the value type, one name; text values are unescaped
 *     (\\ \, \; \n \N) and split into values (',': NICKNAME, CATEGORIES),
 *     components (';': N, ADR, ORG, GENDER, CLIENTPIDMAP) and lists (','
 *     inside N and ADR components); an unknown property with VALUE=text is
 *     split the same way (components when it has an unescaped ';', values
 *     otherwise); an unknown property without VALUE is kept exactly as
 *     written (type "unknown"); values of other types are kept as written,
 *     one string, except that an unknown property's integer, float, date and
 *     time values are split on ',' (RFC 6350 lists: X-N;VALUE=integer:1,2);
 *     date and time values are held in the basic form ("1985-04-12" is read
 *     as "19850412"). The card model's rules (card.h) hold for every card
 *     read, so its jCard passes cx_jcard_check.
 *   - In 4.0 a backslash followed by anything but \ , ; n N in a text value
 *     is an error (RFC 6350 TEXT-CHAR admits a backslash only in those
 *     escapes). RFC 2426 has the same escapes, but its text-value grammar
 *     (*(SAFE-CHAR / ":" / DQUOTE / ESCAPED-CHAR), SAFE-CHAR including
 *     %x5C) lets a backslash that starts no escape stand for itself, so in
 *     3.0 it is kept with the character after it ("C:\Users" stays). In
 *     3.0 URI values, which have no escapes, \: \, \; \\ lose the backslash
 *     (Google Contacts writes "http\://"; a URI has no backslash of its own).
 *   - 3.0 is converted: TYPE values are lowercased, TYPE=pref becomes
 *     PREF=1, TYPE=internet and CHARSET are dropped, a parameter without
 *     '=' is a TYPE value, ENCODING=b (or BASE64) binaries of PHOTO, LOGO,
 *     SOUND and KEY become data: URIs ("PHOTO;ENCODING=b;TYPE=JPEG:..." ->
 *     "data:image/jpeg;base64,..."), GEO:lat;lon becomes geo:lat,lon, a TZ
 *     offset (+hh, +hhmm, +hh:mm) becomes a utc-offset value (other TZ
 *     text stays text), Apple's X-APPLE-OMIT-YEAR birthday
 *     becomes --MMDD.
 *   - 2.1 and 3.0 are converted as RFC 6350 Appendix A says
 *     (vcard_legacy.c): PROFILE, NAME, MAILER and CLASS are dropped; LABEL
 *     becomes the LABEL parameter of the ADR of the same types (or of a new
 *     ADR of empty components); SORT-STRING becomes SORT-AS of N (else
 *     ORG; without either it stays as X-SORT-STRING); AGENT becomes
 *     RELATED;TYPE=agent, by URI or, for an inline vCard (2.1: the lines
 *     that follow it; 3.0: escaped text), as the agent's FN with
 *     VALUE=text (an AGENT of plain text, a name, stays that text); the ADR types intl, dom, postal and parcel and the EMAIL
 *     types internet, x400 and 2.1's mail systems are dropped; a media TYPE
 *     of a PHOTO, LOGO, SOUND or KEY given by URI becomes MEDIATYPE; N and
 *     ADR get their 5 and 7 components; CONTEXT goes; Android's nickname
 *     row (X-ANDROID-CUSTOM:vnd.android.cursor.item/nickname;NAME;...)
 *     becomes NICKNAME; the reading of a
 *     Japanese name (SOUND;X-IRMC-N:family;given) becomes SORT-AS of N; an
 *     empty FN is dropped, and a card without FN gets one made from N
 *     (prefix, given, additional, family, suffix; family first in East
 *     Asian scripts), else ORG.
 *   - 2.1 values (and 3.0 or 4.0 values with ENCODING=QUOTED-PRINTABLE or
 *     CHARSET, which some writers use): quoted-printable is decoded, then
 *     CHARSET text converted to UTF-8 (charset.h lists the sets read);
 *     2.1 text without CHARSET is UTF-8 when it is valid UTF-8, else
 *     Windows-1252. A decoded line break is a newline in text and "\n" in
 *     a value kept as written. A bare parameter is an ENCODING
 *     (QUOTED-PRINTABLE, BASE64, 8BIT, 7BIT), a VALUE (URL is uri,
 *     CONTENT-ID a cid: URI, INLINE the default) or else a TYPE. 2.1 has no
 *     lists: ',' separates values only in NICKNAME and CATEGORIES.
 * Failures name the line and, when there is one, the property (card.h):
 * missing or empty FN, bad escapes, no END:VCARD, invalid UTF-8 or a control
 * character, a PHOTO value longer than max_photo bytes, a line without ':',
 * BEGIN/END mismatches (and BEGIN or END with a group or parameters), a
 * missing or unsupported VERSION, more than CX_CARD_MAX_PROPS properties, a
 * CHARSET not read or text not valid in its CHARSET (CX_CARD_E_CHARSET), a
 * line break or control character in a decoded value that cannot hold it,
 * an AGENT whose vCard is not valid or nests more than two deep, a
 * VALUE that is not one name, a GROUP parameter (jCard reserves it for the
 * property group), a property that breaks the rules of card.h (FN;VALUE=uri,
 * NOTE;VALUE=unknown: CX_CARD_E_PROPERTY).
 *
 * Writing produces vCard 4.0: BEGIN, VERSION:4.0, the properties in card
 * order, END; CRLF line ends; names upper case; a VALUE parameter when the
 * type is not the property's default (nor "unknown"); text escaped, with
 * ',' between values and list strings and ';' between components; values
 * of other types as they stand, ',' between them; lines folded at 75
 * octets, never inside a UTF-8 sequence. A card that keeps the rules of
 * card.h (every card the readers and builders make) reads back the same.
 */
#ifndef CX_VCARD_H
#define CX_VCARD_H

#include <stddef.h>

#include "card.h"

/* A PHOTO limit callers may use: 256 KiB of data: URI. */
#define CX_VCARD_PHOTO_MAX_DEFAULT (256u * 1024u)

/* Position in a stream of cards. Start from {0} (the first byte, line 0 read). */
typedef struct {
	size_t pos;    /* next byte to read */
	unsigned line; /* lines read so far */
} cx_vcard_cursor;

/*
 * Reads the one card in text[0..len) (blank lines may surround it).
 * max_photo bounds the length of a PHOTO value (0: no limit). Returns 0 with
 * *out set (free with cx_card_free), or -1 with *out NULL and *err (when not
 * NULL) set; CX_CARD_E_EMPTY when there is no card, CX_CARD_E_EXTRA when
 * something follows END:VCARD (use cx_vcard_parse_next for streams).
 */
int cx_vcard_parse(const char *text, size_t len, cx_card **out, size_t max_photo,
		cx_card_err *err);

/*
 * Reads the next card of a .vcf stream from cur, and moves cur past its
 * END:VCARD line. Returns 0 with *out set, 1 when only blank lines remain
 * (*out NULL), or -1 with *out NULL and *err set; cur is then past the
 * failed card (after its END:VCARD, or before the BEGIN:VCARD of the next
 * card when it had no END), so that a caller may go on with the next one.
 */
int cx_vcard_parse_next(const char *text, size_t len, cx_vcard_cursor *cur, cx_card **out,
		size_t max_photo, cx_card_err *err);

/*
 * Reads every card of text[0..len). Returns 0 with *cards a malloc'ed array
 * of *n >= 1 cards (free with cx_card_list_free), or -1 with *cards NULL and
 * *err set (CX_CARD_E_EMPTY when there is none).
 */
int cx_vcard_parse_all(const char *text, size_t len, size_t max_photo, cx_card ***cards,
		size_t *n, cx_card_err *err);

/* Frees n cards and the array; accepts NULL. */
void cx_card_list_free(cx_card **cards, size_t n);

/*
 * vCard 4.0 text of card in *out (malloc'ed, NUL-terminated, *len its
 * strlen; the caller wipes and frees it). It does not check the card (see
 * cx_card_check). Returns 0, or -1 when memory runs out (*out NULL).
 */
int cx_vcard_write(const cx_card *card, char **out, size_t *len);

/*
 * The same in version 3 (vCard 3.0, RFC 2426) or 4 (cx_vcard_write). 3.0
 * is written as phones' address books read it: TYPE=pref for PREF, inline
 * data: URIs of PHOTO, LOGO, SOUND and KEY as ENCODING=b with the TYPE of
 * their media type, GEO as lat;lon, TEL as a phone number (tel: dropped),
 * dates in the extended form (a birthday without year as Apple writes it,
 * 1604-MM-DD with X-APPLE-OMIT-YEAR=1604), ADR's LABEL parameter as a LABEL
 * property, N's SORT-AS as SORT-STRING, the properties 4.0 added (KIND,
 * GENDER, ANNIVERSARY, LANG, XML, RELATED, MEMBER) as X- extensions, and
 * so an AGENT (in a 4.0 card it is no 3.0 AGENT, whose value is a vCard),
 * CLIENTPIDMAP and the parameters 3.0 lacks (PID, ALTID, CALSCALE, ...)
 * left out, parameter values without RFC 6868 escapes, ';' escaped in every
 * text value, and an N made of FN (as the given name) when the card has
 * none, as 3.0 requires one. Reading that text back gives the card again
 * where 3.0 can say the same. Returns 0, or -1 when memory runs out or
 * version is neither 3 nor 4.
 */
int cx_vcard_write_version(const cx_card *card, int version, char **out, size_t *len);

#endif
