/*
 * Test clients for integration tests that exercise MQTT itself: see mqttc.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mqtt_protocol.h>

#include "broker.h"
#include "mqttc.h"

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags, const mosquitto_property *props)
{
	mc_client *c = obj;

	(void)m;
	(void)flags;
	(void)props;
	c->connack = rc;
	c->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc, const mosquitto_property *props)
{
	mc_client *c = obj;

	(void)m;
	(void)rc;
	(void)props;
	c->connected = false;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted,
		const mosquitto_property *props)
{
	mc_client *c = obj;

	(void)m;
	(void)props;
	if(mid == c->sub_mid && count > 0){
		c->sub_granted = granted[0];
	}
}

static void on_unsubscribe(struct mosquitto *m, void *obj, int mid, const mosquitto_property *props)
{
	mc_client *c = obj;

	(void)m;
	(void)props;
	if(mid == c->unsub_mid){
		c->unsubacked = true;
	}
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int reason, const mosquitto_property *props)
{
	mc_client *c = obj;

	(void)m;
	(void)props;
	if(mid == c->pub_mid){
		c->pub_done = reason;
	}
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg,
		const mosquitto_property *props)
{
	mc_client *c = obj;
	mc_msg *slot;

	(void)m;
	(void)props;
	if(c->nmsgs == MC_MAX_MSGS){
		c->dropped++;
		return;
	}
	slot = &c->msgs[c->nmsgs];
	slot->topic = strdup(msg->topic);
	slot->payload = malloc((size_t)msg->payloadlen + 1);
	if(slot->topic == NULL || slot->payload == NULL){
		free(slot->topic);
		free(slot->payload);
		c->dropped++;
		return;
	}
	memcpy(slot->payload, msg->payload, (size_t)msg->payloadlen);
	slot->payload[msg->payloadlen] = '\0';
	slot->len = msg->payloadlen;
	slot->qos = msg->qos;
	slot->retain = msg->retain;
	c->nmsgs++;
}

void mc_set_init(mc_set *s, int port)
{
	memset(s, 0, sizeof(*s));
	s->port = port;
}

void mc_clear(mc_client *c)
{
	for(size_t i = 0; i < c->nmsgs; i++){
		free(c->msgs[i].topic);
		free(c->msgs[i].payload);
	}
	c->nmsgs = 0;
	c->dropped = 0;
}

/* Disconnects and frees c. */
static void client_free(mc_client *c)
{
	if(c->m != NULL){
		if(c->connected){
			mosquitto_disconnect(c->m);
			mosquitto_loop(c->m, 0, 1);
		}
		mosquitto_destroy(c->m);
	}
	mc_clear(c);
	free(c);
}

void mc_set_free(mc_set *s)
{
	for(size_t i = 0; i < s->n; i++){
		client_free(s->c[i]);
	}
	s->n = 0;
}

void mc_close(mc_set *s, mc_client *c)
{
	for(size_t i = 0; i < s->n; i++){
		if(s->c[i] == c){
			s->c[i] = s->c[--s->n];
			client_free(c);
			return;
		}
	}
}

mc_client *mc_new(mc_set *s, const char *id, const char *user, const char *password, bool clean,
		int protocol)
{
	mc_client *c;

	if(s->n == MC_MAX_CLIENTS || (c = calloc(1, sizeof(*c))) == NULL){
		return NULL;
	}
	c->connack = -1;
	c->sub_granted = -1;
	c->pub_done = -1;
	c->protocol = protocol;
	c->m = mosquitto_new(id, clean, c);
	if(c->m == NULL){
		free(c);
		return NULL;
	}
	s->c[s->n++] = c;
	mosquitto_int_option(c->m, MOSQ_OPT_PROTOCOL_VERSION, protocol);
	if(user != NULL){
		mosquitto_username_pw_set(c->m, user, password);
	}
	mosquitto_connect_v5_callback_set(c->m, on_connect);
	mosquitto_disconnect_v5_callback_set(c->m, on_disconnect);
	mosquitto_subscribe_v5_callback_set(c->m, on_subscribe);
	mosquitto_unsubscribe_v5_callback_set(c->m, on_unsubscribe);
	mosquitto_publish_v5_callback_set(c->m, on_publish);
	mosquitto_message_v5_callback_set(c->m, on_message);
	return c;
}

void mc_pump(mc_set *s, int ms)
{
	long long deadline = cxb_now_ms() + ms;

	do {
		struct pollfd fds[MC_MAX_CLIENTS];
		nfds_t n = 0;

		for(size_t i = 0; i < s->n; i++){
			mc_client *c = s->c[i];

			if(c->m == NULL){
				continue;
			}
			if(mosquitto_loop(c->m, 0, 1) != MOSQ_ERR_SUCCESS){
				c->connected = false;
			}
			if(mosquitto_socket(c->m) >= 0){
				fds[n].fd = mosquitto_socket(c->m);
				fds[n].events = POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0);
				n++;
			}
		}
		/* Sleep until some client has something to do, 1 ms at most. */
		poll(fds, n, 1);
	} while(cxb_now_ms() < deadline);
}

/* Pumps until *flag differs from unset or MC_WAIT_MS passed; returns whether it changed. */
static bool wait_int(mc_set *s, const int *flag, int unset)
{
	long long deadline = cxb_now_ms() + MC_WAIT_MS;

	while(*flag == unset && cxb_now_ms() < deadline){
		mc_pump(s, 2);
	}
	return *flag != unset;
}

int mc_connect(mc_set *s, mc_client *c, const mosquitto_property *props)
{
	c->connack = -1;
	if(mosquitto_connect_bind_v5(c->m, "127.0.0.1", s->port, 30, NULL, props) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	wait_int(s, &c->connack, -1);
	return c->connack;
}

int mc_subscribe(mc_set *s, mc_client *c, const char *filter, int qos, int options,
		const mosquitto_property *props)
{
	c->sub_granted = -1;
	if(mosquitto_subscribe_v5(c->m, &c->sub_mid, filter, qos, options, props) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	wait_int(s, &c->sub_granted, -1);
	return c->sub_granted;
}

bool mc_unsubscribe(mc_set *s, mc_client *c, const char *filter)
{
	long long deadline = cxb_now_ms() + MC_WAIT_MS;

	c->unsubacked = false;
	if(mosquitto_unsubscribe(c->m, &c->unsub_mid, filter) != MOSQ_ERR_SUCCESS){
		return false;
	}
	while(!c->unsubacked && cxb_now_ms() < deadline){
		mc_pump(s, 2);
	}
	return c->unsubacked;
}

int mc_publish(mc_set *s, mc_client *c, const char *topic, const void *payload, int len, int qos,
		bool retain, const mosquitto_property *props)
{
	c->pub_done = -1;
	c->pub_mid = -1;
	if(mosquitto_publish_v5(c->m, &c->pub_mid, topic, len, payload, qos, retain, props) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	wait_int(s, &c->pub_done, -1);
	return c->pub_done;
}

void mc_drop(mc_set *s, mc_client *c)
{
	int fd = mosquitto_socket(c->m);

	(void)s;
	if(fd >= 0){
		shutdown(fd, SHUT_RDWR);
	}
	/* mosquitto_destroy closes the socket without sending DISCONNECT. */
	mosquitto_destroy(c->m);
	c->m = NULL;
	c->connected = false;
}

size_t mc_count(const mc_client *c, const char *needle)
{
	size_t n = 0;

	for(size_t i = 0; i < c->nmsgs; i++){
		if(strstr(c->msgs[i].payload, needle) != NULL){
			n++;
		}
	}
	return n;
}

size_t mc_count_topic(const mc_client *c, const char *topic)
{
	size_t n = 0;

	for(size_t i = 0; i < c->nmsgs; i++){
		if(strcmp(c->msgs[i].topic, topic) == 0){
			n++;
		}
	}
	return n;
}

bool mc_wait_count(mc_set *s, const mc_client *c, const char *needle, size_t n)
{
	long long deadline = cxb_now_ms() + MC_WAIT_MS;

	while(mc_count(c, needle) < n && cxb_now_ms() < deadline){
		mc_pump(s, 2);
	}
	return mc_count(c, needle) >= n;
}

bool mc_wait_msgs(mc_set *s, const mc_client *c, size_t n)
{
	long long deadline = cxb_now_ms() + MC_WAIT_MS;

	while(c->nmsgs < n && cxb_now_ms() < deadline){
		mc_pump(s, 2);
	}
	return c->nmsgs >= n;
}

/* ---- raw MQTT 3.1.1 ---- */

/* Appends a 2-byte length and s to buf at *pos (cap bytes). Returns -1 when it does not fit. */
static int put_str(uint8_t *buf, size_t cap, size_t *pos, const void *s, size_t len)
{
	if(len > 0xffff || *pos + 2 + len > cap){
		return -1;
	}
	buf[(*pos)++] = (uint8_t)(len >> 8);
	buf[(*pos)++] = (uint8_t)(len & 0xff);
	memcpy(buf + *pos, s, len);
	*pos += len;
	return 0;
}

/* Writes a packet: first byte, the remaining length as a variable integer, then body. */
static int send_packet(int fd, uint8_t first, const uint8_t *body, size_t len)
{
	uint8_t head[5];
	size_t n = 0;
	size_t rest = len;

	head[n++] = first;
	do {
		uint8_t b = (uint8_t)(rest % 128);
		rest /= 128;
		head[n++] = (uint8_t)(rest > 0 ? (b | 0x80) : b);
	} while(rest > 0 && n < sizeof(head));
	if(write(fd, head, n) != (ssize_t)n || (len > 0 && write(fd, body, len) != (ssize_t)len)){
		return -1;
	}
	return 0;
}

/* Reads exactly len bytes within the deadline. Returns 0 or -1. */
static int read_full(int fd, uint8_t *buf, size_t len, long long deadline)
{
	size_t got = 0;

	while(got < len){
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long long left = deadline - cxb_now_ms();
		ssize_t r;

		if(left <= 0 || poll(&p, 1, (int)left) <= 0){
			return -1;
		}
		r = read(fd, buf + got, len - got);
		if(r <= 0){
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

/*
 * Reads one packet within the deadline: its first byte in *first and its
 * body (at most cap bytes kept) in body, its length in *len. Returns 0 or -1.
 */
static int read_packet(int fd, uint8_t *first, uint8_t *body, size_t cap, size_t *len, long long deadline)
{
	size_t rest = 0;
	unsigned shift = 0;
	uint8_t b;

	if(read_full(fd, first, 1, deadline) != 0){
		return -1;
	}
	do {
		if(shift > 21 || read_full(fd, &b, 1, deadline) != 0){
			return -1;
		}
		rest |= (size_t)(b & 0x7f) << shift;
		shift += 7;
	} while(b & 0x80);
	*len = rest;
	while(rest > 0){
		uint8_t skip[256];
		size_t chunk = rest;
		uint8_t *dst;

		if(cap > 0){
			chunk = rest < cap ? rest : cap;
			dst = body;
			body += chunk;
			cap -= chunk;
		}else{
			chunk = rest < sizeof(skip) ? rest : sizeof(skip);
			dst = skip;
		}
		if(read_full(fd, dst, chunk, deadline) != 0){
			return -1;
		}
		rest -= chunk;
	}
	return 0;
}

int mc_raw_connect(int port, const char *id, const char *user, const char *password)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	uint8_t body[512];
	size_t pos = 0;
	uint8_t first;
	uint8_t ack[4];
	size_t acklen = 0;
	int one = 1;
	int fd;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if(fd < 0){
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0){
		close(fd);
		return -1;
	}
	/* Protocol name and level 4 (3.1.1), flags: username, password, clean session; keep alive 30 s. */
	if(put_str(body, sizeof(body), &pos, "MQTT", 4) != 0){
		close(fd);
		return -1;
	}
	body[pos++] = 4;
	body[pos++] = 0xc2;
	body[pos++] = 0;
	body[pos++] = 30;
	if(put_str(body, sizeof(body), &pos, id, strlen(id)) != 0
			|| put_str(body, sizeof(body), &pos, user, strlen(user)) != 0
			|| put_str(body, sizeof(body), &pos, password, strlen(password)) != 0
			|| send_packet(fd, 0x10, body, pos) != 0
			|| read_packet(fd, &first, ack, sizeof(ack), &acklen, cxb_now_ms() + MC_WAIT_MS) != 0
			|| first != 0x20 || acklen != 2 || ack[1] != 0){
		close(fd);
		return -1;
	}
	return fd;
}

int mc_raw_publish_qos2(int fd, uint16_t mid, bool dup, const char *topic, const void *payload,
		size_t len)
{
	uint8_t body[4096];
	size_t pos = 0;

	if(put_str(body, sizeof(body), &pos, topic, strlen(topic)) != 0 || pos + 2 + len > sizeof(body)){
		return -1;
	}
	body[pos++] = (uint8_t)(mid >> 8);
	body[pos++] = (uint8_t)(mid & 0xff);
	memcpy(body + pos, payload, len);
	pos += len;
	return send_packet(fd, (uint8_t)(0x30 | (dup ? 0x08 : 0) | 0x04), body, pos);
}

int mc_raw_pubrel(int fd, uint16_t mid)
{
	uint8_t body[2] = {(uint8_t)(mid >> 8), (uint8_t)(mid & 0xff)};

	return send_packet(fd, 0x62, body, sizeof(body));
}

int mc_raw_expect(int fd, int type, int ms)
{
	long long deadline = cxb_now_ms() + ms;

	while(cxb_now_ms() < deadline){
		uint8_t first;
		uint8_t body[64];
		size_t len = 0;

		if(read_packet(fd, &first, body, sizeof(body), &len, deadline) != 0){
			return -1;
		}
		if((first >> 4) == type && len >= 2){
			return (body[0] << 8) | body[1];
		}
	}
	return -1;
}

void mc_raw_close(int fd)
{
	if(fd < 0){
		return;
	}
	send_packet(fd, 0xe0, NULL, 0);
	close(fd);
}
