/*
 * The growing buffer of the vCard code (vcard_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "vcard_int.h"

int cx_sb_put(cx_sb *b, const char *s, size_t n)
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

int cx_sb_str(cx_sb *b, const char *s)
{
	return cx_sb_put(b, s, strlen(s));
}

int cx_sb_chr(cx_sb *b, char c)
{
	return cx_sb_put(b, &c, 1);
}

void cx_sb_free(cx_sb *b)
{
	cx_wipe(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}
