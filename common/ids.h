/*
 * Identifiers of the cardex protocol: terminal IDs, request references and
 * exchange IDs. Pure functions, no allocation.
 */
#ifndef CX_IDS_H
#define CX_IDS_H

#include <stdbool.h>
#include <stddef.h>

#define CX_ID_MAX 64   /* terminal ID: 1..64 of [A-Za-z0-9._-] */
#define CX_REF_MAX 16  /* request reference: 1..16 of [A-Za-z0-9._-] */
#define CX_XID_HEX 32  /* exchange ID: 32 lowercase hex digits (128 bits) */

/* True when s[0..len) is a valid terminal ID. */
bool cx_id_valid(const char *s, size_t len);

/* True when s[0..len) is a valid request reference. */
bool cx_ref_valid(const char *s, size_t len);

/* True when s[0..len) is exactly 32 lowercase hex digits. */
bool cx_xid_valid(const char *s, size_t len);

/* Writes the 32 lowercase hex digits of raw[16] and a NUL into out[33]. */
void cx_xid_format(const unsigned char raw[16], char out[CX_XID_HEX + 1]);

/*
 * Checks an MQTT client ID against the terminal it authenticated as: it must
 * be the terminal ID itself or the terminal ID, ':' and any non-empty suffix
 * ("A:" is refused). False when terminal_id is not a valid terminal ID or
 * either pointer is NULL.
 */
bool cx_client_id_allowed(const char *terminal_id, const char *client_id);

#endif
