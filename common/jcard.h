/*
 * Structural checks of jCard (RFC 7095) values: the plugin checks structure
 * and size, not meaning.
 */
#ifndef CX_JCARD_H
#define CX_JCARD_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* Limits on what cx_jcard_check accepts. */
#define CX_JCARD_MAX_PROPS 512
#define CX_JCARD_MAX_DEPTH 8 /* nesting below a property's value (structured values) */

/*
 * Checks that card is ["vcard", [prop, ...]] where every prop is an array of
 * at least 4 elements: a lowercase-or-any-case non-empty name string, a
 * parameters object, a non-empty type string, then one or more values
 * (string, number, boolean, null or arrays thereof, nested at most
 * CX_JCARD_MAX_DEPTH), and that it has a "version" property with value
 * "4.0" and an "fn" property with a non-empty text value. At most
 * CX_JCARD_MAX_PROPS properties. Returns 0 when valid, -1 otherwise with
 * *why (when not NULL) set to a static reason that never quotes card data.
 */
int cx_jcard_check(const cJSON *card, const char **why);

#endif
