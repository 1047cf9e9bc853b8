/*
 * Error codes carried in {"type":"error","code":...} replies. One table, as
 * an X-macro, gives each code its wire name and default message; docs/protocol.md
 * documents the same list.
 */
#ifndef CX_ERRORS_H
#define CX_ERRORS_H

#define CX_CODE_MAP(X)                                                              \
	X(BAD_REQUEST, "bad-request", "payload is not a valid request for this topic")  \
	X(BAD_TOPIC, "bad-topic", "topic is not one this terminal may publish to")      \
	X(BAD_CARD, "bad-card", "card is not a valid jCard")                           \
	X(TOO_LARGE, "too-large", "payload exceeds the size limit")                    \
	X(NO_MATCH, "no-match", "no live offer matches this terminal ID and key")      \
	X(RATE_LIMITED, "rate-limited", "too many failed claims; retry later")         \
	X(SELF_CLAIM, "self-claim", "a terminal cannot claim its own offer")           \
	X(UNKNOWN_EXCHANGE, "unknown-exchange", "no live exchange has this ID")        \
	X(NOT_PEER, "not-peer", "sender and recipient are not the two parties of this exchange") \
	X(ALREADY_SENT, "already-sent", "this terminal already sent its card in this exchange") \
	X(CAPACITY, "capacity", "the server holds too many pending offers or exchanges") \
	X(INTERNAL, "internal", "the server could not process the request")            \
	X(BAD_ORDER, "bad-order", "this message is not expected at this point of the exchange") \
	X(SEALED_REQUIRED, "sealed-required", "this server accepts only sealed exchanges") \
	X(UNAVAILABLE, "unavailable", "the server's shared store is unavailable; retry later")

typedef enum {
	CX_CODE_NONE = 0,
#define CX_CODE_ENUM(name, wire, msg) CX_CODE_##name,
	CX_CODE_MAP(CX_CODE_ENUM)
#undef CX_CODE_ENUM
	CX_CODE__COUNT
} cx_code;

/* Wire name ("no-match"), or NULL for CX_CODE_NONE or an out-of-range value. */
const char *cx_code_name(cx_code code);

/* Default human-readable message; never NULL ("" for out-of-range). */
const char *cx_code_message(cx_code code);

/* Code for a wire name of length len; CX_CODE_NONE when unknown. */
cx_code cx_code_from_name(const char *name, size_t len);

#endif
