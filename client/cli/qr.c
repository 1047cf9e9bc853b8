/*
 * Terminal graphics of an offer: the QR code of its cardex: URI (encoded by
 * libqrencode) and the key in big digits. Both are drawn with Unicode block
 * elements, so any UTF-8 terminal shows them without images.
 *
 * A QR code carries the instant key: its buffers are wiped before they are
 * freed.
 */
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "cli.h"
#include "crypto.h"

#define UPPER "\xe2\x96\x80" /* U+2580 upper half block */
#define LOWER "\xe2\x96\x84" /* U+2584 lower half block */
#define FULL "\xe2\x96\x88"  /* U+2588 full block */
#define COLOR_ON "\033[30;107m"
#define COLOR_OFF "\033[0m"

/* Appends n bytes of s to buf at *len (room checked by the caller's sizing). */
static void put(char *buf, size_t *len, const char *s, size_t n)
{
	memcpy(buf + *len, s, n);
	*len += n;
}

/* Dark module at (x, y) of the symbol with its quiet zone around it. */
static bool dark(const QRcode *code, int x, int y)
{
	x -= CLI_QR_QUIET;
	y -= CLI_QR_QUIET;
	if(x < 0 || y < 0 || x >= code->width || y >= code->width) {
		return false;
	}
	return code->data[y * code->width + x] & 1;
}

/*
 * The cell for a pair of modules, top and bottom. With colour the
 * foreground (black) draws dark modules; without, it draws light ones, for
 * a light-on-dark terminal (as `qrencode -t UTF8` does).
 */
static const char *cell(bool top, bool bottom, bool color)
{
	if(!color) {
		top = !top;
		bottom = !bottom;
	}
	if(top && bottom) {
		return FULL;
	}
	if(top) {
		return UPPER;
	}
	return bottom ? LOWER : " ";
}

int cli_qr_render(const char *text, bool color, cli_qr *qr)
{
	QRcode *code;
	size_t cap, len = 0;
	int side, x, y;

	memset(qr, 0, sizeof(*qr));
	code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if(!code) {
		return -1;
	}
	side = code->width + 2 * CLI_QR_QUIET;
	qr->version = code->version;
	qr->modules = code->width;
	qr->cols = side;
	qr->rows = (side + 1) / 2;
	/* Up to 3 bytes per cell, the escapes and a line end per row. */
	cap = (size_t)qr->rows * ((size_t)side * 3 + sizeof(COLOR_ON) + sizeof(COLOR_OFF) + 1) + 1;
	qr->text = malloc(cap);
	if(!qr->text) {
		cx_wipe(code->data, (size_t)code->width * (size_t)code->width);
		QRcode_free(code);
		return -1;
	}
	for(y = 0; y < side; y += 2) {
		if(color) {
			put(qr->text, &len, COLOR_ON, sizeof(COLOR_ON) - 1);
		}
		for(x = 0; x < side; x++) {
			const char *c = cell(dark(code, x, y), y + 1 < side && dark(code, x, y + 1), color);
			put(qr->text, &len, c, strlen(c));
		}
		if(color) {
			put(qr->text, &len, COLOR_OFF, sizeof(COLOR_OFF) - 1);
		}
		put(qr->text, &len, "\n", 1);
	}
	qr->text[len] = '\0';
	qr->len = len;
	cx_wipe(code->data, (size_t)code->width * (size_t)code->width);
	QRcode_free(code);
	return 0;
}

void cli_qr_clear(cli_qr *qr)
{
	if(qr->text) {
		cx_wipe(qr->text, qr->len);
		free(qr->text);
	}
	memset(qr, 0, sizeof(*qr));
}

/* A 3x5 font of the digits: five rows of three bits, the high bit on the left. */
static const unsigned char font[10][5] = {
	{7, 5, 5, 5, 7}, /* 0 */
	{2, 6, 2, 2, 7}, /* 1 */
	{7, 1, 7, 4, 7}, /* 2 */
	{7, 1, 7, 1, 7}, /* 3 */
	{5, 5, 7, 1, 1}, /* 4 */
	{7, 4, 7, 1, 7}, /* 5 */
	{7, 4, 7, 5, 7}, /* 6 */
	{7, 1, 2, 2, 2}, /* 7 */
	{7, 5, 7, 5, 7}, /* 8 */
	{7, 5, 7, 1, 7}, /* 9 */
};

char *cli_big_digits(const char *s, const char *indent, int *cols)
{
	size_t n = strlen(s), ilen = strlen(indent);
	size_t cap, len = 0, i;
	int row, width = 0;
	char *out;

	for(i = 0; i < n; i++) {
		if(s[i] != ' ' && (s[i] < '0' || s[i] > '9')) {
			return NULL;
		}
	}
	/* Per character: 3 pixels of 2 cells of up to 3 bytes, and a gap. */
	cap = 5 * (ilen + n * (3 * 2 * 3 + 2) + 1) + 1;
	out = malloc(cap);
	if(!out) {
		return NULL;
	}
	for(row = 0; row < 5; row++) {
		int w = 0;

		put(out, &len, indent, ilen);
		for(i = 0; i < n; i++) {
			int bit;

			if(i > 0) {
				put(out, &len, "  ", 2);
				w += 2;
			}
			if(s[i] == ' ') {
				continue;
			}
			for(bit = 2; bit >= 0; bit--) {
				if(font[s[i] - '0'][row] & (1 << bit)) {
					put(out, &len, FULL FULL, 2 * (sizeof(FULL) - 1));
				} else {
					put(out, &len, "  ", 2);
				}
				w += 2;
			}
		}
		/* Trailing blanks would only wrap a narrow terminal. */
		while(len > 0 && out[len - 1] == ' ') {
			len--;
		}
		put(out, &len, "\n", 1);
		if(w > width) {
			width = w;
		}
	}
	out[len] = '\0';
	*cols = width + (int)ilen;
	return out;
}
