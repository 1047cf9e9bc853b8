/*
 * The MQTT connection of a libcardex handle, on libmosquitto without
 * threads: connecting (CONNACK, then SUBACK of the reply topic), driving the
 * socket with mosquitto_loop, reconnecting with backoff after a dropped
 * connection, and turning incoming replies into filtered events.
 *
 * The libmosquitto callbacks only record state and queue events; the
 * application's callback runs later, outside libmosquitto, so that it may
 * call cardex_send_card and friends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "cardex_int.h"

/* Reconnect backoff: first retry soon, then doubling up to a ceiling. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
/* Longest single mosquitto_loop, so that deadlines and retries stay responsive. */
#define LOOP_SLICE_MS 1000

long long cardex__now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
	struct timespec ts;

	if(ms <= 0) {
		return;
	}
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while(nanosleep(&ts, &ts) == -1 && errno == EINTR) {
	}
}

/* MQTT 3.1.1 CONNACK refusals: 2 identifier rejected, 4 bad user/password, 5 not authorised. */
static int connack_error(int rc)
{
	if(rc == 2 || rc == 4 || rc == 5) {
		return CARDEX_EAUTH;
	}
	return CARDEX_ECONNECT;
}

static int mosq_error(int rc)
{
	switch(rc) {
	case MOSQ_ERR_SUCCESS:
		return CARDEX_OK;
	case MOSQ_ERR_NOMEM:
		return CARDEX_ENOMEM;
	case MOSQ_ERR_INVAL:
		return CARDEX_EINVAL;
	case MOSQ_ERR_TLS:
	case MOSQ_ERR_TLS_HANDSHAKE:
		return CARDEX_ETLS;
	case MOSQ_ERR_AUTH:
		return CARDEX_EAUTH;
	case MOSQ_ERR_NO_CONN:
	case MOSQ_ERR_CONN_LOST:
		return CARDEX_EDISCONNECTED;
	case MOSQ_ERR_PAYLOAD_SIZE:
	case MOSQ_ERR_OVERSIZE_PACKET:
		return CARDEX_ETOOBIG;
	case MOSQ_ERR_PROTOCOL:
	case MOSQ_ERR_MALFORMED_PACKET:
		return CARDEX_EPROTOCOL;
	default:
		return CARDEX_ECONNECT;
	}
}

/* Keeps text, trimmed and with control characters replaced, as the detail unless one is kept. */
static void set_detail(cardex *cx, const char *text)
{
	size_t i, n;

	if(cx->detail[0] || !text) {
		return;
	}
	while(*text == ' ') {
		text++;
	}
	n = strlen(text);
	while(n > 0 && (text[n - 1] == '.' || text[n - 1] == ' ' || text[n - 1] == '\n')) {
		n--;
	}
	if(n >= sizeof(cx->detail)) {
		n = sizeof(cx->detail) - 1;
	}
	for(i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		cx->detail[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	cx->detail[n] = '\0';
}

static void set_errno_detail(cardex *cx, int err)
{
	char buf[128];

	if(strerror_r(err, buf, sizeof(buf)) == 0) {
		set_detail(cx, buf);
	}
}

/*
 * libmosquitto tells why a TLS connection failed only in its log: the return
 * code is a bare MOSQ_ERR_TLS. The first error line of the attempt is kept,
 * cut down to the reason ("OpenSSL Error[0]: error:0A000086:SSL
 * routines::certificate verify failed" gives "certificate verify failed",
 * "Error: host name verification failed." gives "host name verification
 * failed"). Installed only until the first CONNACK: once a log callback is
 * set, libmosquitto formats every log line of every packet.
 */
static void on_log(struct mosquitto *mosq, void *ud, int level, const char *str)
{
	cardex *cx = ud;
	const char *reason = str;

	(void)mosq;
	if(level != MOSQ_LOG_ERR || !str) {
		return;
	}
	if(strncmp(str, "OpenSSL Error[", 14) == 0) {
		const char *colon = strrchr(str, ':');

		reason = colon ? colon + 1 : str;
	} else if(strncmp(str, "Error: ", 7) == 0) {
		reason = str + 7;
	}
	set_detail(cx, reason);
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags)
{
	cardex *cx = ud;
	char *topic = cx->reply_topic;

	(void)flags;
	cx->connack_rc = rc;
	mosquitto_log_callback_set(mosq, NULL);
	if(rc != 0) {
		return;
	}
	cx->connected = true;
	cx->down_since = 0;
	cx->backoff_ms = BACKOFF_MIN_MS;
	/*
	 * Subscribe on every connection, even when the session is present: it
	 * costs one packet and restores the subscription when the broker lost
	 * its sessions (a restart without persistence).
	 */
	cx->subscribed = false;
	cx->sub_refused = false;
	if(mosquitto_subscribe(mosq, &cx->sub_mid, topic, 1) != MOSQ_ERR_SUCCESS) {
		cx->sub_mid = -1;
	}
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int count, const int *granted)
{
	cardex *cx = ud;

	(void)mosq;
	if(mid != cx->sub_mid) {
		return;
	}
	if(count < 1 || granted[0] == 0x80) {
		cx->sub_refused = true;
		return;
	}
	cx->subscribed = true;
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc)
{
	cardex *cx = ud;

	(void)mosq;
	(void)rc;
	cx->connected = false;
	cx->subscribed = false;
	if(!cx->down_since) {
		cx->down_since = cardex__now_ms();
		cx->next_retry = cx->down_since + cx->backoff_ms;
	}
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *m)
{
	cardex *cx = ud;
	cx_reply_msg msg;

	(void)mosq;
	if(!m->topic || strcmp(m->topic, cx->reply_topic) != 0 || m->payloadlen <= 0) {
		return;
	}
	memset(&msg, 0, sizeof(msg));
	if(cx_reply_decode(m->payload, (size_t)m->payloadlen, &msg, NULL) != CX_CODE_NONE) {
		/* Not a reply this version understands: nothing to report. */
		cx_reply_msg_clear(&msg);
		return;
	}
	if(cardex__filter_reply(&cx->filter, &cx->queue, &msg) != CARDEX_OK) {
		cx->nomem = true;
	}
}

/* Waits for CONNACK and SUBACK of the first connection, up to the connect timeout. */
static int await_session(cardex *cx)
{
	long long deadline = cardex__now_ms() + cx->connect_timeout_ms;

	for(;;) {
		long long left = deadline - cardex__now_ms();
		int rc;

		if(cx->connack_rc > 0) {
			return connack_error(cx->connack_rc);
		}
		if(cx->sub_refused) {
			return CARDEX_EAUTH;
		}
		if(cx->connected && cx->subscribed) {
			return CARDEX_OK;
		}
		if(left <= 0) {
			return CARDEX_ETIMEOUT;
		}
		rc = mosquitto_loop(cx->mosq, (int)(left < LOOP_SLICE_MS ? left : LOOP_SLICE_MS), 1);
		if(rc == MOSQ_ERR_SUCCESS) {
			continue;
		}
		if(cx->connack_rc > 0) {
			return connack_error(cx->connack_rc);
		}
		if(rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_TLS_HANDSHAKE) {
			return CARDEX_ETLS;
		}
		if(rc == MOSQ_ERR_ERRNO) {
			set_errno_detail(cx, errno);
		} else if(rc == MOSQ_ERR_CONN_LOST) {
			/* What a plain client sees on a TLS port, among others. */
			set_detail(cx, "the broker closed the connection before accepting it");
		}
		return CARDEX_ECONNECT;
	}
}

static int setup_client(cardex *cx, const char *cafile)
{
	int rc;

	if(mosquitto_lib_init() != MOSQ_ERR_SUCCESS) {
		return CARDEX_ECONNECT;
	}
	cx->lib_ready = true;
	/* clean_session false: the broker keeps the subscription and queues replies while we are away. */
	cx->mosq = mosquitto_new(cx->client_id, false, cx);
	if(!cx->mosq) {
		return errno == EINVAL ? CARDEX_EINVAL : CARDEX_ENOMEM;
	}
	rc = mosquitto_int_option(cx->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	if(rc == MOSQ_ERR_SUCCESS) {
		/* Requests are small and answered at once: Nagle would hold a claim or a
		 * card back for up to a round trip (tens of ms) behind an unacked write. */
		rc = mosquitto_int_option(cx->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	}
	if(rc == MOSQ_ERR_SUCCESS) {
		rc = mosquitto_username_pw_set(cx->mosq, cx->id, cx->password);
	}
	if(rc == MOSQ_ERR_SUCCESS && cafile) {
		/* Peer and hostname verification stay on (no tls_insecure). */
		rc = mosquitto_tls_set(cx->mosq, cafile, NULL, NULL, NULL, NULL);
		if(rc != MOSQ_ERR_SUCCESS) {
			/* libmosquitto checks here only that the file can be opened. */
			set_detail(cx, "cannot open the CA file");
			return rc == MOSQ_ERR_NOMEM ? CARDEX_ENOMEM : CARDEX_ETLS;
		}
	}
	if(rc != MOSQ_ERR_SUCCESS) {
		return mosq_error(rc);
	}
	mosquitto_connect_with_flags_callback_set(cx->mosq, on_connect);
	mosquitto_subscribe_callback_set(cx->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(cx->mosq, on_disconnect);
	mosquitto_message_callback_set(cx->mosq, on_message);
	mosquitto_log_callback_set(cx->mosq, on_log);
	return CARDEX_OK;
}

int cardex__conn_open(cardex *cx, const char *cafile)
{
	int rc;

	cx->connack_rc = -1;
	cx->sub_mid = -1;
	cx->backoff_ms = BACKOFF_MIN_MS;
	rc = setup_client(cx, cafile);
	if(rc != CARDEX_OK) {
		return rc;
	}
	rc = mosquitto_connect(cx->mosq, cx->host, cx->port, cx->keepalive);
	if(rc == MOSQ_ERR_ERRNO) {
		set_errno_detail(cx, errno);
	} else if(rc == MOSQ_ERR_EAI) {
		set_detail(cx, "cannot resolve the host name");
	}
	if(rc != MOSQ_ERR_SUCCESS) {
		return rc == MOSQ_ERR_TLS ? CARDEX_ETLS : rc == MOSQ_ERR_INVAL ? CARDEX_EINVAL
				: rc == MOSQ_ERR_NOMEM ? CARDEX_ENOMEM : CARDEX_ECONNECT;
	}
	return await_session(cx);
}

/* Milliseconds left until deadline, for poll: 0 when it has passed. */
static int left_ms(long long deadline)
{
	long long left = deadline - cardex__now_ms();

	return left <= 0 ? 0 : (int)left;
}

/*
 * Writes what libmosquitto has queued (acknowledgements, requests, the
 * DISCONNECT) until it is all out, the socket is gone (libmosquitto closes
 * it right after writing DISCONNECT) or the deadline passes. Reads nothing:
 * a reply read now would be acknowledged and then lost with the handle.
 */
static void flush_writes(cardex *cx, long long deadline)
{
	while(mosquitto_want_write(cx->mosq)) {
		struct pollfd pfd = {.fd = mosquitto_socket(cx->mosq), .events = POLLOUT};
		int left = left_ms(deadline);

		if(pfd.fd < 0 || left == 0) {
			return;
		}
		if(poll(&pfd, 1, left) < 0 && errno != EINTR) {
			return;
		}
		if(mosquitto_loop_write(cx->mosq, 1) != MOSQ_ERR_SUCCESS) {
			return;
		}
	}
}

/*
 * Half-closes fd (our duplicate of the connection's socket), reads and
 * discards what the broker still sends until it closes its side or the
 * deadline passes, then closes fd. A socket closed with unread data sends
 * a reset instead of a FIN, and a broker that then writes to it gets
 * "Broken pipe" and drops the connection before reading what we sent
 * last: PUBACKs of replies already handled (redelivered at the next
 * connect) and the DISCONNECT. What is read here is never acknowledged,
 * so it stays in the session. The buffer is wiped: replies carry cards.
 */
static void drain_and_close(int fd, long long deadline)
{
	char buf[4096];

	shutdown(fd, SHUT_WR);
	for(;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int left = left_ms(deadline);
		ssize_t n;
		int r;

		if(left == 0) {
			break;
		}
		r = poll(&pfd, 1, left);
		if(r < 0 && errno == EINTR) {
			continue;
		}
		if(r <= 0) {
			break;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if(n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
			continue;
		}
		if(n <= 0) {
			break;
		}
	}
	cx_wipe(buf, sizeof(buf));
	close(fd);
}

void cardex__conn_close(cardex *cx)
{
	long long deadline = cardex__now_ms() + CARDEX__CLOSE_MS;
	int fd = -1;

	if(cx->mosq && cx->connected && mosquitto_socket(cx->mosq) >= 0) {
		/*
		 * libmosquitto closes its descriptor as soon as DISCONNECT is
		 * written; a duplicate keeps the connection open until the broker
		 * has read it and closed its side. Without one (EMFILE), the close
		 * is as abrupt as libmosquitto makes it.
		 */
		fd = fcntl(mosquitto_socket(cx->mosq), F_DUPFD_CLOEXEC, 0);
		mosquitto_disconnect(cx->mosq);
		flush_writes(cx, deadline);
	}
	if(cx->mosq) {
		mosquitto_destroy(cx->mosq);
		cx->mosq = NULL;
	}
	if(fd >= 0) {
		drain_and_close(fd, deadline);
	}
	if(cx->lib_ready) {
		mosquitto_lib_cleanup();
		cx->lib_ready = false;
	}
	cx->connected = false;
}

/* One reconnect attempt when its time has come; otherwise sleeps towards it. */
static int reconnect_step(cardex *cx, int timeout_ms)
{
	long long now = cardex__now_ms();
	int rc;

	if(now < cx->next_retry) {
		long long wait = cx->next_retry - now;
		sleep_ms(wait < timeout_ms ? wait : timeout_ms);
		return CARDEX_OK;
	}
	cx->connack_rc = -1;
	rc = mosquitto_reconnect(cx->mosq);
	if(rc != MOSQ_ERR_SUCCESS) {
		cx->backoff_ms = cx->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : cx->backoff_ms * 2;
		cx->next_retry = cardex__now_ms() + cx->backoff_ms;
	}
	return CARDEX_OK;
}

int cardex__conn_drive(cardex *cx, int timeout_ms)
{
	int rc;

	if(cx->fatal) {
		return cx->fatal;
	}
	if(timeout_ms > LOOP_SLICE_MS) {
		timeout_ms = LOOP_SLICE_MS;
	}
	if(timeout_ms < 0) {
		timeout_ms = 0;
	}
	if(mosquitto_socket(cx->mosq) < 0) {
		if(!cx->down_since) {
			cx->down_since = cardex__now_ms();
			cx->next_retry = cx->down_since;
		}
		return reconnect_step(cx, timeout_ms);
	}
	rc = mosquitto_loop(cx->mosq, timeout_ms, 1);
	if(cx->connack_rc == 4 || cx->connack_rc == 5 || cx->connack_rc == 2) {
		/* The password or the ID stopped being accepted: retrying cannot help. */
		cx->fatal = CARDEX_EAUTH;
		return cx->fatal;
	}
	if(cx->sub_refused) {
		cx->fatal = CARDEX_EAUTH;
		return cx->fatal;
	}
	if(rc == MOSQ_ERR_SUCCESS) {
		return CARDEX_OK;
	}
	if(mosquitto_socket(cx->mosq) >= 0) {
		/* A failure that left the socket open (a select error): do not spin. */
		sleep_ms(timeout_ms < 10 ? timeout_ms : 10);
	} else if(!cx->down_since) {
		cx->connected = false;
		cx->down_since = cardex__now_ms();
		cx->next_retry = cx->down_since + cx->backoff_ms;
	}
	return CARDEX_OK;
}

int cardex__conn_publish(cardex *cx, const char *topic, const void *payload, size_t len)
{
	int rc;

	if(!cx->connected) {
		return CARDEX_EDISCONNECTED;
	}
	if(len > 268435455u - 1024u) {
		return CARDEX_ETOOBIG;
	}
	rc = mosquitto_publish(cx->mosq, NULL, topic, (int)len, payload, 1, false);
	if(rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO) {
		/*
		 * QoS 1 messages stay in libmosquitto's outgoing queue and go out
		 * after the reconnect, so the request is not lost. A write into a
		 * connection that died unnoticed (EPIPE, or a TLS write error)
		 * comes back as MOSQ_ERR_ERRNO, after the message was queued.
		 */
		return CARDEX_OK;
	}
	return mosq_error(rc);
}
