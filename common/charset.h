/*
 * Decoding what vCard 2.1 (and some 3.0 writers) put in a value before it is
 * text: quoted-printable (ENCODING=QUOTED-PRINTABLE) and the character set a
 * CHARSET parameter names, converted to UTF-8.
 *
 * Character sets read: UTF-8, US-ASCII, ISO-8859-1 (Latin-1), and the
 * single-byte sets ISO-8859-2, -5, -7, -9, -13, -15, Windows-1250, -1251,
 * -1252, -1253, -1254, -1257, KOI8-R, KOI8-U, Macintosh (Mac OS Roman) and
 * IBM850, converted here; the multi-byte sets Shift_JIS (as Windows-31J),
 * EUC-JP, ISO-2022-JP, GB2312 and GBK (as GB18030), Big5 (as Big5-HKSCS)
 * and EUC-KR (as CP949), converted by the C library's iconv. Names and
 * aliases are the usual ones ("latin1", "cp1252", "ISO_8859-1",
 * "x-mac-roman", "SJIS"; case, '-', '_' and blanks do not matter).
 */
#ifndef CX_CHARSET_H
#define CX_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

/* A character set: what cx_charset_find returns. */
typedef enum {
	CX_CHARSET_UTF8 = 0,
	CX_CHARSET_ASCII,
	CX_CHARSET_LATIN1,
	CX_CHARSET__TABLES /* the single-byte sets with a table follow */
} cx_charset_base;

/* The character set called name[0..n), or -1 when it is not one of those read. */
int cx_charset_find(const char *name, size_t n);

/*
 * Converts s[0..n) from charset cs to UTF-8 into *out (malloc'ed,
 * NUL-terminated; the caller wipes and frees it) and *outlen. Returns 0;
 * 1 when a byte is not valid in cs (*bad gets its offset; for UTF-8 the
 * first byte that is no UTF-8, for US-ASCII any byte above 0x7F, for a
 * table set a byte it leaves undefined, for a multi-byte set the start of
 * the first sequence that is not valid, or 0 when the C library cannot
 * convert the set at all); -1 when memory runs out. *out is NULL unless 0
 * is returned.
 */
int cx_charset_to_utf8(int cs, const char *s, size_t n, char **out, size_t *outlen, size_t *bad);

/*
 * Decodes quoted-printable text s[0..n) into out (room for n bytes; out may
 * be s). "=XX" (hex digits in either case) is the byte XX; an '=' that
 * starts no such pair stays as it is (RFC 2045 section 6.7 asks decoders to
 * be lenient), except at the very end, where it is a soft line break left
 * over and is dropped. Returns the decoded length.
 */
size_t cx_qp_decode(const char *s, size_t n, char *out);

/* True when s[0..n) is valid base64 text, blanks allowed (the blanks of folded lines). */
bool cx_is_base64_text(const char *s, size_t n);

#endif
