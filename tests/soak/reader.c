/*
 * Reading a closed terminal's persistent session. When a terminal's
 * application quit mid-exchange (its handle closed), a later libcardex
 * handle of the same terminal ignores, by design, the replies its session
 * kept for the earlier run. To check that the session did keep them, the
 * terminal first comes back as a raw MQTT client with the same client ID
 * and clean session off, takes what the broker queued (its subscription to
 * reply/<id> lives in the session), and checks each card it finds (a sealed
 * one by its exchange and sender: the keys that could open it died with the
 * handle). Then a new handle takes over.
 *
 * With several brokers (store redis), what was made for the terminal while
 * it was connected nowhere waits in its inbox in Redis, not in the session:
 * the reader subscribes to its reply topic, as every terminal does on
 * connecting, and the broker hands the inbox over into the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "soak.h"

/* Done when nothing arrived for this long and every expected card is in... */
#define QUIET_MS 300
/* ...or, at the latest, after this long (then the missing cards count as lost). */
#define READ_MAX_MS 5000

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	soak_term *t = ud;
	char topic[32];

	t->reader_connack = rc;
	if(rc == 0 && t->S->nb > 1) {
		snprintf(topic, sizeof(topic), "reply/%s", t->id);
		mosquitto_subscribe(m, NULL, topic, 1);
	}
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg)
{
	soak_term *t = ud;
	cJSON *j, *type, *from, *xid, *card;
	char *text;

	(void)m;
	t->reader_last_msg = soak_now_ms();
	j = cJSON_ParseWithLength(msg->payload, (size_t)(msg->payloadlen > 0 ? msg->payloadlen : 0));
	type = cJSON_GetObjectItemCaseSensitive(j, "type");
	if(!cJSON_IsString(type) || strcmp(type->valuestring, "card") != 0) {
		cJSON_Delete(j);
		return;
	}
	from = cJSON_GetObjectItemCaseSensitive(j, "from");
	xid = cJSON_GetObjectItemCaseSensitive(j, "exchange");
	card = cJSON_GetObjectItemCaseSensitive(j, "card");
	if(!card && cJSON_GetObjectItemCaseSensitive(j, "ct") && cJSON_IsString(from) && cJSON_IsString(xid)) {
		soak_sealed_card_received(t->S, t->index, from->valuestring, xid->valuestring);
		cJSON_Delete(j);
		return;
	}
	text = card ? cJSON_PrintUnformatted(card) : NULL;
	soak_card_received(t->S, t->index, text, cJSON_IsString(from) ? from->valuestring : "",
			cJSON_IsString(xid) ? xid->valuestring : "", true);
	free(text);
	cJSON_Delete(j);
}

int soak_reader_start(soak *S, size_t i)
{
	soak_term *t = &S->t[i];
	struct mosquitto *m = mosquitto_new(t->id, false, t);

	if(!m) {
		return -1;
	}
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_message_callback_set(m, on_message);
	if(mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311) != MOSQ_ERR_SUCCESS
			|| mosquitto_username_pw_set(m, t->id, t->password) != MOSQ_ERR_SUCCESS
			|| mosquitto_connect(m, "127.0.0.1", soak_port_of(S, i), 30) != MOSQ_ERR_SUCCESS) {
		mosquitto_destroy(m);
		return -1;
	}
	t->reader = m;
	t->reader_connack = -1;
	t->reader_start = S->now;
	t->reader_last_msg = S->now;
	t->st = T_READING;
	S->st.session_reads++;
	return 0;
}

/* True when the card the peer sent in the abandoned exchange is in, or was never acknowledged. */
static bool expected_in(const soak *S, const soak_term *t)
{
	const soak_exch *x;
	int p;

	if(t->abandoned < 0) {
		return true;
	}
	x = &S->x[t->abandoned];
	p = x->s[0].term == (int)t->index ? 1 : 0;
	return !x->card[p].acked || x->card[p].delivered > 0;
}

bool soak_reader_step(soak *S, size_t i)
{
	soak_term *t = &S->t[i];
	long long age = S->now - t->reader_start;
	bool done;

	if(!t->reader) {
		return true;
	}
	mosquitto_loop(t->reader, 0, 1);
	if(t->reader_connack > 0) {
		S->st.reader_failures++;
		fprintf(stderr, "cardex-soak: %s: session reader refused (CONNACK %d)\n", t->id,
				t->reader_connack);
		soak_reader_free(t);
		return true;
	}
	done = t->reader_connack == 0 && S->now - t->reader_last_msg >= QUIET_MS && expected_in(S, t);
	if(!done && age < READ_MAX_MS) {
		return false;
	}
	if(!done && t->reader_connack != 0) {
		S->st.reader_failures++;
		fprintf(stderr, "cardex-soak: %s: session reader got no CONNACK\n", t->id);
	}
	/* Everything read was acknowledged as it came; nothing stays in flight. */
	mosquitto_disconnect(t->reader);
	mosquitto_loop(t->reader, 0, 1);
	soak_reader_free(t);
	return true;
}

int soak_reader_socket(const soak_term *t)
{
	return t->reader ? mosquitto_socket(t->reader) : -1;
}

void soak_reader_free(soak_term *t)
{
	if(t->reader) {
		mosquitto_destroy(t->reader);
		t->reader = NULL;
	}
}
