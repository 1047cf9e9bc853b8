/*
 * Requests: every message a client puts into the namespace ends here. It is
 * classified by topic, size-checked, decoded, handed to the engine and then
 * refused (MOSQ_ERR_ACL_DENIED), so that nothing on keys/, claim/, card/ or
 * reply/ is ever routed to a subscriber or bridge, retained or stored.
 *
 * Two doors lead here. The ACL WRITE check (acl.c) is the one Mosquitto
 * passes for every client message: a PUBLISH, and also a will, which 2.0.11
 * publishes after the WRITE check alone, without a MESSAGE event. The
 * MESSAGE event is the second door, for a publish that another plugin's ACL
 * check allowed before this plugin's was asked. A message goes through
 * exactly one of them: a refused WRITE check ends the publish.
 *
 * Replies, from the engine or from here, go out through plugin__emit on the
 * terminal's own reply topic.
 */
#include <limits.h>
#include <string.h>

#include "crypto.h"
#include "plugin.h"
#include "store_redis.h"
#include "topic.h"

/* ref when the decoder filled in a valid one before failing, else NULL. */
static const char *valid_ref(const char ref[CX_REF_MAX + 1])
{
	size_t len = strnlen(ref, CX_REF_MAX + 1);

	return len <= CX_REF_MAX && cx_ref_valid(ref, len) ? ref : NULL;
}

/* xid when the decoder filled in a valid one before failing, else NULL. */
static const char *valid_xid(const char xid[CX_XID_HEX + 1])
{
	size_t len = strnlen(xid, CX_XID_HEX + 1);

	return len == CX_XID_HEX && cx_xid_valid(xid, len) ? xid : NULL;
}

/*
 * Sends {"type":"error",...} to terminal to, through the engine so that the
 * terminal's error budget (error_replies_per_sec) applies to these errors
 * too. why NULL means the code's default message; ref and xid may be NULL.
 * Failures are logged by plugin__emit; a reply over budget is dropped.
 */
static void send_error(struct plugin__data *data, const char *to, cx_code code, const char *topic,
		const char *why, const char *ref, const char *xid)
{
	cx_engine_error(data->engine, plugin__now_ms(), to, code, topic, why, ref, xid);
}

/*
 * keys/<sender>: decodes the offer and hands it to the engine, or answers
 * the decode error. Cannot fail; the key is wiped before returning.
 */
static void handle_offer(struct plugin__data *data, const char *sender,
		const struct plugin__request *ed)
{
	cx_offer_req req;
	const char *why = NULL;
	cx_code code;

	memset(&req, 0, sizeof(req));
	code = cx_offer_decode(ed->payload, ed->payloadlen, &req, &why);
	if(code == CX_CODE_NONE){
		if(data->redis != NULL){
			plugin__redis_offer(data, sender, &req, ed->topic);
		}else{
			cx_engine_offer(data->engine, plugin__now_ms(), sender, &req, ed->topic);
		}
	}else{
		send_error(data, sender, code, ed->topic, why, valid_ref(req.ref), NULL);
	}
	/* Wipes the key, also one left half-decoded by a failure. */
	cx_offer_req_clear(&req);
}

/*
 * claim/<owner>: decodes the claim and hands it to the engine with the
 * sender's address (for the per-address limit), or answers the decode error.
 * Cannot fail; the key is wiped before returning.
 */
static void handle_claim(struct plugin__data *data, const char *sender, const char *owner,
		const struct plugin__request *ed)
{
	cx_claim_req req;
	const char *why = NULL;
	cx_code code;

	memset(&req, 0, sizeof(req));
	code = cx_claim_decode(ed->payload, ed->payloadlen, &req, &why);
	if(code == CX_CODE_NONE){
		/* The peer address as the broker saw it (none behind a proxy): failures also count per source address. */
		if(data->redis != NULL){
			plugin__redis_claim(data, sender, plugin__limit_address(data, ed->client), owner, &req, ed->topic);
		}else{
			cx_engine_claim_from(data->engine, plugin__now_ms(), sender, plugin__limit_address(data, ed->client),
					owner, &req, ed->topic);
		}
	}else{
		send_error(data, sender, code, ed->topic, why, valid_ref(req.ref), NULL);
	}
	cx_claim_req_clear(&req);
}

/*
 * card/<peer>: decodes and checks the card and hands it to the engine, or
 * answers the decode error. The card reaches the reply payload with one
 * copy, made by the reply encoder (plugin__emit). Cannot fail; what the
 * request owns is wiped and freed before returning.
 */
static void handle_card(struct plugin__data *data, const char *sender, const char *peer,
		const struct plugin__request *ed)
{
	cx_card_req req;
	const char *why = NULL;
	cx_code code;

	memset(&req, 0, sizeof(req));
	code = cx_card_decode(ed->payload, ed->payloadlen, &req, &why);
	if(code == CX_CODE_NONE){
		if(data->redis != NULL){
			plugin__redis_card(data, sender, peer, &req, ed->topic);
		}else{
			cx_engine_card(data->engine, plugin__now_ms(), sender, peer, &req, ed->topic);
		}
	}else{
		/* A valid exchange ID survives a failed decode, so the error can name it. */
		send_error(data, sender, code, ed->topic, why, NULL, valid_xid(req.xid));
	}
	/* Wipes the request and frees the card text if the decoder made a copy of its own. */
	cx_card_req_clear(&req);
}

int plugin__request_handle(struct plugin__data *data, const struct plugin__request *ed)
{
	const char *sender;
	const char *id = NULL;
	size_t idlen = 0;
	char target[CX_ID_MAX + 1];
	cx_topic_kind kind;

	if(ed->topic == NULL){
		return MOSQ_ERR_SUCCESS;
	}
	kind = cx_topic_parse(data->cfg.prefix, data->cfg.prefixlen, ed->topic, &id, &idlen);
	if(kind == CX_TOPIC_OUTSIDE){
		return MOSQ_ERR_SUCCESS;
	}
	sender = ed->identity;
	if(sender == NULL){
		/* Not a terminal: nothing to answer, and nothing it sends into the namespace is routed. */
		return MOSQ_ERR_ACL_DENIED;
	}

	target[0] = '\0';
	if(kind != CX_TOPIC_INVALID && id != NULL && idlen <= CX_ID_MAX){
		memcpy(target, id, idlen);
		target[idlen] = '\0';
	}
	if(target[0] == '\0' || kind == CX_TOPIC_REPLY || kind == CX_TOPIC_INVALID
			|| (kind == CX_TOPIC_KEYS && strcmp(target, sender) != 0)){
		send_error(data, sender, CX_CODE_BAD_TOPIC, ed->topic, NULL, NULL, NULL);
		return MOSQ_ERR_ACL_DENIED;
	}
	if(ed->payloadlen > data->cfg.max_payload){
		send_error(data, sender, CX_CODE_TOO_LARGE, ed->topic, NULL, NULL, NULL);
		return MOSQ_ERR_ACL_DENIED;
	}

	/* Whether the broker disables Nagle is best seen while this client is connected: nodelay.c. */
	plugin__nodelay_soon(data);
	/* The first request changes what a crash must not bring back: persist.c. */
	if(data->persist_loaded){
		plugin__persist_started(data);
	}
	switch(kind){
	case CX_TOPIC_KEYS:
		handle_offer(data, sender, ed);
		break;
	case CX_TOPIC_CLAIM:
		handle_claim(data, sender, target, ed);
		break;
	case CX_TOPIC_CARD:
		handle_card(data, sender, target, ed);
		break;
	default:
		break;
	}
	return MOSQ_ERR_ACL_DENIED;
}

/*
 * MESSAGE: a publish reaches this event only when the WRITE check allowed it,
 * which for a namespace topic means another plugin decided that check before
 * this one was asked. Handled like any request; topics outside the namespace
 * pass untouched.
 */
int plugin__message(int event, void *event_data, void *userdata)
{
	const struct mosquitto_evt_message *ed = event_data;
	struct plugin__data *data = userdata;
	struct plugin__request req;

	(void)event;
	/* Every publish on the broker comes here: leave the others' at once. */
	if(ed->topic == NULL
			|| cx_topic_parse(data->cfg.prefix, data->cfg.prefixlen, ed->topic, NULL, NULL) == CX_TOPIC_OUTSIDE){
		return MOSQ_ERR_SUCCESS;
	}
	req = (struct plugin__request){
		.client = ed->client,
		.identity = plugin__identity(ed->client),
		.topic = ed->topic,
		.payload = ed->payload,
		.payloadlen = ed->payloadlen,
	};
	return plugin__request_handle(data, &req);
}

/* One debug line per state change worth auditing: terminal IDs only, never keys or cards. */
static void log_reply(const char *to, const cx_reply *r)
{
	switch(r->type){
	case CX_REPLY_OFFER:
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: offer | terminal=%s", to);
		break;
	case CX_REPLY_MATCH:
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: match | terminal=%s peer=%s", to,
				r->peer != NULL ? r->peer : "");
		break;
	case CX_REPLY_REVOKED:
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: offer revoked | terminal=%s reason=%s", to,
				r->reason != NULL ? r->reason : "");
		break;
	case CX_REPLY_SENT:
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: card passed | from=%s to=%s", to,
				r->peer != NULL ? r->peer : "");
		break;
	case CX_REPLY_PK:
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: key passed | from=%s to=%s",
				r->peer != NULL ? r->peer : "", to);
		break;
	case CX_REPLY_EXPIRED:
		mosquitto_log_printf(MOSQ_LOG_DEBUG, "cardex: %s expired | terminal=%s",
				r->offer ? "offer" : "exchange", to);
		break;
	default:
		break;
	}
}

/*
 * Bytes of the longest frame of a reply as cx_reply_encode writes it: the
 * braces, every key the type has with its quotes, colon and comma, the
 * quotes around its string values, its numbers at their widest (they are 32
 * bits wide: 10 digits) and the literals true and null. The error reply is
 * the longest, 93 bytes:
 * {"type":"","code":"","topic":"","message":"","retry_after":4294967295,"ref":"","exchange":""}
 */
#define REPLY_FRAME_MAX 128

/*
 * At least the bytes the encoder writes for a string of n bytes between its
 * quotes: a byte takes at most 6 (a unicode escape), so 6 per byte is a
 * bound that needs no scan of the string. The reply's short strings cost a
 * few hundred bytes of slack in a buffer that is allocated anyway, and the
 * card, the one long field, is copied verbatim and counted by its length.
 */
static size_t escaped_max(size_t n)
{
	return 6 * n;
}

static size_t str_max(const char *s)
{
	return s != NULL ? escaped_max(strlen(s)) : 0;
}

/*
 * An upper bound of cx_reply_encode(r)'s length, so that a reply can be
 * encoded once, straight into a payload of that size: the frame, the string
 * fields of r escaped (the short ones r carries: IDs, refs, the reason, the
 * error code's name and message and the topic, cut as the encoder cuts it)
 * and the card, which is copied verbatim. Every field r holds is counted,
 * also those its type does not write. Cannot fail.
 */
static size_t reply_size_max(const cx_reply *r)
{
	size_t size = REPLY_FRAME_MAX;

	size += str_max(cx_reply_type_name(r->type));
	size += str_max(r->ref) + str_max(r->xid) + str_max(r->peer) + str_max(r->reason);
	if(r->type == CX_REPLY_ERROR){
		const char *name = cx_code_name(r->code);
		size += str_max(name != NULL ? name : "internal");
		size += str_max(r->message != NULL ? r->message : cx_code_message(r->code));
		if(r->topic != NULL){
			size += escaped_max(strnlen(r->topic, CX_ERROR_TOPIC_MAX));
		}
	}
	if(r->card != NULL){
		size += r->card_len;
	}
	/* Sealed exchanges: base64url, copied as it is. */
	size += str_max(r->commit) + str_max(r->pk) + str_max(r->n);
	if(r->ct != NULL){
		size += r->ct_len;
	}
	return size;
}

/*
 * Encodes r into a new mosquitto_malloc'ed payload: once, into a buffer of
 * reply_size_max bytes, so that a card is copied once, from the request
 * into the reply. Should the bound ever fall short (the encoder changed),
 * the reply is encoded again into a buffer of the exact size instead.
 * Returns the payload and its length in *len (payload[*len] is a NUL), or
 * NULL when r cannot be encoded or memory runs out. The caller frees it
 * with mosquitto_free, or hands it to mosquitto_broker_publish.
 */
static char *encode_reply(const cx_reply *r, size_t *len)
{
	size_t cap = reply_size_max(r);
	size_t need;
	char *payload = mosquitto_malloc(cap);

	if(payload == NULL){
		return NULL;
	}
	need = cx_reply_encode(r, payload, cap);
	if(need >= cap && need > 0 && need < (size_t)INT_MAX){
		cx_wipe(payload, cap);
		mosquitto_free(payload);
		cap = need + 1;
		payload = mosquitto_malloc(cap);
		if(payload == NULL){
			return NULL;
		}
		need = cx_reply_encode(r, payload, cap);
	}
	if(need == 0 || need >= cap || need >= (size_t)INT_MAX){
		cx_wipe(payload, cap);
		mosquitto_free(payload);
		return NULL;
	}
	*len = need;
	return payload;
}

void plugin__emit(void *ctx, const char *to, const cx_reply *r)
{
	struct plugin__data *data = ctx;
	char *payload;
	size_t len = 0;
	int rc;

	if(cx_topic_build(data->topic_buf, data->topic_cap, data->cfg.prefix, CX_TOPIC_REPLY, to) == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot build a reply topic; reply dropped");
		return;
	}
	payload = encode_reply(r, &len);
	if(payload == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot encode a reply to %s; reply dropped", to);
		return;
	}
	/* On success the broker owns and frees payload. */
	rc = plugin__delivery_publish(data, to, data->topic_buf, payload, len);
	if(rc != MOSQ_ERR_SUCCESS){
		mosquitto_log_printf(MOSQ_LOG_ERR, "cardex: cannot publish a reply to %s (error %d)", to, rc);
		cx_wipe(payload, len);
		mosquitto_free(payload);
		return;
	}
	log_reply(to, r);
}
