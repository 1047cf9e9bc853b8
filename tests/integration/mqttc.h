/*
 * Test clients for integration tests that exercise MQTT itself: libmosquitto
 * clients speaking MQTT 3.1.1 or 5 that record every message, SUBACK,
 * PUBACK reason and disconnect, and a raw socket client for the packet
 * flows libmosquitto will not produce (a QoS 2 PUBLISH resent with DUP
 * before PUBREL, a PUBREL for an unknown packet ID).
 *
 * Every wait is bounded (MC_WAIT_MS). The set owns its clients: mc_set_free
 * disconnects and frees them all, also after a failed assertion.
 */
#ifndef CX_TEST_MQTTC_H
#define CX_TEST_MQTTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>

#define MC_WAIT_MS 5000  /* longest wait for something that should happen */
#define MC_MAX_CLIENTS 48
#define MC_MAX_MSGS 4096

typedef struct {
	char *topic;
	char *payload; /* NUL-terminated copy */
	int len;
	int qos;
	bool retain;
} mc_msg;

typedef struct {
	struct mosquitto *m;
	int protocol;     /* MQTT_PROTOCOL_V311 or MQTT_PROTOCOL_V5 */
	int connack;      /* -1 until a CONNACK arrived */
	bool connected;
	int sub_mid;
	int sub_granted;  /* -1 until the SUBACK for sub_mid arrived */
	int unsub_mid;
	bool unsubacked;  /* the UNSUBACK for unsub_mid arrived */
	int pub_mid;      /* the publish being waited for */
	int pub_done;     /* -1 until it completed; then its reason code (0 in MQTT 3.1.1) */
	mc_msg msgs[MC_MAX_MSGS];
	size_t nmsgs;
	size_t dropped;   /* messages that did not fit in msgs */
} mc_client;

typedef struct {
	int port;
	mc_client *c[MC_MAX_CLIENTS];
	size_t n;
} mc_set;

/* Starts an empty set for the broker on 127.0.0.1:port. */
void mc_set_init(mc_set *s, int port);

/* Disconnects and frees every client. Accepts an empty set. */
void mc_set_free(mc_set *s);

/*
 * A new client owned by s: client ID id, username user (NULL: anonymous),
 * clean session / clean start as clean, protocol MQTT_PROTOCOL_V311 or
 * MQTT_PROTOCOL_V5. Not connected yet. NULL when the set is full.
 */
mc_client *mc_new(mc_set *s, const char *id, const char *user, const char *password, bool clean,
		int protocol);

/*
 * Connects with CONNECT properties props (MQTT 5 only; may be NULL) and
 * waits for the CONNACK. Returns its code (0: accepted), or -1 when none
 * came.
 */
int mc_connect(mc_set *s, mc_client *c, const mosquitto_property *props);

/* Disconnects c (when connected), frees it and removes it from s. */
void mc_close(mc_set *s, mc_client *c);

/* Runs every client's network loop for about ms milliseconds. */
void mc_pump(mc_set *s, int ms);

/*
 * Subscribes with MQTT 5 subscription options (0 for none) and properties
 * (may be NULL) and waits for the SUBACK. Returns the granted QoS or the
 * failure code (0x80 in MQTT 3.1.1, a reason code >= 0x80 in MQTT 5), or
 * -1 when none came.
 */
int mc_subscribe(mc_set *s, mc_client *c, const char *filter, int qos, int options,
		const mosquitto_property *props);

/* Unsubscribes and waits for the UNSUBACK. Returns whether it came. */
bool mc_unsubscribe(mc_set *s, mc_client *c, const char *filter);

/*
 * Publishes and waits until the flow completes: PUBACK for QoS 1, PUBCOMP
 * (or a failed PUBREC) for QoS 2, the packet written for QoS 0. topic NULL
 * publishes through a topic alias given in props. Returns the reason code
 * (0 when accepted; always 0 in MQTT 3.1.1 and for QoS 0), or -1 when the
 * flow did not complete.
 */
int mc_publish(mc_set *s, mc_client *c, const char *topic, const void *payload, int len, int qos,
		bool retain, const mosquitto_property *props);

/* Closes c's socket without a DISCONNECT packet (the broker sees a dropped connection). */
void mc_drop(mc_set *s, mc_client *c);

/* Number of messages c received whose payload contains needle. */
size_t mc_count(const mc_client *c, const char *needle);

/* Number of messages c received on topic. */
size_t mc_count_topic(const mc_client *c, const char *topic);

/*
 * Pumps until c received at least n messages whose payload contains needle,
 * or MC_WAIT_MS passed. Returns whether it did.
 */
bool mc_wait_count(mc_set *s, const mc_client *c, const char *needle, size_t n);

/* Pumps until c received at least n messages, or MC_WAIT_MS passed. Returns whether it did. */
bool mc_wait_msgs(mc_set *s, const mc_client *c, size_t n);

/* Forgets what c received so far. */
void mc_clear(mc_client *c);

/* ---- raw MQTT 3.1.1 over a socket ---- */

/*
 * Connects to 127.0.0.1:port as client ID id with username and password
 * (clean session) and waits for the CONNACK. Returns the socket, or -1
 * when the connection failed or was refused.
 */
int mc_raw_connect(int port, const char *id, const char *user, const char *password);

/*
 * Sends a PUBLISH of QoS 2 with packet ID mid, and the DUP flag when dup.
 * Returns 0, or -1 when the write failed.
 */
int mc_raw_publish_qos2(int fd, uint16_t mid, bool dup, const char *topic, const void *payload,
		size_t len);

/* Sends a PUBREL for mid. Returns 0 or -1. */
int mc_raw_pubrel(int fd, uint16_t mid);

/*
 * Reads packets for up to ms milliseconds until one of type (the high
 * nibble of the first byte, e.g. 5 for PUBREC, 7 for PUBCOMP) arrives.
 * Returns its packet ID, or -1 when none came or the connection closed.
 */
int mc_raw_expect(int fd, int type, int ms);

/* Sends a DISCONNECT and closes the socket. Accepts -1. */
void mc_raw_close(int fd);

#endif
