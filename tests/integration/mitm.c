/*
 * The test-only man in the middle (mitm.h). MQTT framing is parsed only as
 * far as PUBLISH needs: fixed header, remaining length, topic, packet ID
 * (QoS > 0), payload; MQTT 3.1.1 has no properties. A rewritten PUBLISH is
 * framed anew with its new remaining length.
 */
#include "mitm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ids.h"
#include "seal.h"

#define MAX_PAIRS 8
#define BUF_MAX (2 * 1024 * 1024)

typedef struct {
	int fd[2];                /* 0: terminal, 1: broker */
	unsigned char *buf[2];    /* bytes read from fd[i], not yet forwarded */
	size_t len[2];
} pair;

struct mitm {
	pthread_t thread;
	atomic_bool stop;
	atomic_int mode;
	int listen_fd;
	int port;
	int upstream;
	char a[CX_ID_MAX + 1];
	pair pairs[MAX_PAIRS];
	size_t npairs;
	cx_rng *rng;
	unsigned char pk_to_a[CX_SEAL_KEY_LEN]; /* its key posing as B */
	unsigned char pk_to_b[CX_SEAL_KEY_LEN]; /* its key posing as A */
	char first_n[64];
	char *first_ct;           /* the first sealed card seen (MITM_REPLAY) */
	char first_xid[CX_XID_HEX + 1];
	bool flipped;
	atomic_int sealed_sent, plain_sent, pk_sent, rewrites;
};

static int listen_any(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if(fd < 0) {
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0
			|| getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int connect_up(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if(fd < 0) {
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool write_all(int fd, const unsigned char *p, size_t n)
{
	while(n > 0) {
		ssize_t w = write(fd, p, n);
		if(w < 0 && errno == EINTR) {
			continue;
		}
		if(w <= 0) {
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void b64_of(const unsigned char *raw, size_t n, char *out, size_t cap)
{
	cx_b64u_encode(raw, n, out, cap);
}

/* Sets member name of obj to the string v. */
static void set_str(cJSON *obj, const char *name, const char *v)
{
	cJSON_ReplaceItemInObjectCaseSensitive(obj, name, cJSON_CreateString(v));
}

/*
 * Changes the fifth character of a base64url string ('A' <-> 'Q' flips one
 * bit of the decoded bytes; any other becomes 'B', or 'R' for a 'B'), in a
 * full group, so the text stays canonical base64url of the same length.
 */
static void flip_b64(char *s)
{
	s[4] = s[4] == 'A' ? 'Q' : s[4] == 'Q' ? 'A' : (char)(s[4] == 'B' ? 'R' : 'B');
}

/*
 * The rewritten payload of a reply to terminal `to`, or NULL to keep it.
 * The caller frees the result.
 */
static char *rewrite(mitm *m, const char *to, const unsigned char *payload, size_t len)
{
	mitm_mode mode = (mitm_mode)atomic_load(&m->mode);
	cJSON *root;
	const cJSON *type;
	char *out = NULL;
	bool changed = false;
	char b64[64];

	if(mode == MITM_RELAY) {
		return NULL;
	}
	root = cJSON_ParseWithLength((const char *)payload, len);
	type = cJSON_GetObjectItemCaseSensitive(root, "type");
	if(!cJSON_IsString(type)) {
		cJSON_Delete(root);
		return NULL;
	}
	if(strcmp(type->valuestring, "match") == 0 && strcmp(to, m->a) == 0
			&& cJSON_GetObjectItemCaseSensitive(root, "peer_commit")) {
		const cJSON *peer = cJSON_GetObjectItemCaseSensitive(root, "peer");
		if(mode == MITM_STRIP_COMMIT) {
			cJSON_DeleteItemFromObjectCaseSensitive(root, "peer_commit");
			changed = true;
		} else if(mode == MITM_SWAP_KEYS && cJSON_IsString(peer)) {
			unsigned char c[CX_SEAL_KEY_LEN];
			cx_seal_commitment(m->a, peer->valuestring, m->pk_to_a, c);
			b64_of(c, sizeof(c), b64, sizeof(b64));
			set_str(root, "peer_commit", b64);
			changed = true;
		}
	} else if(strcmp(type->valuestring, "pk") == 0 && mode == MITM_ZERO_PK && strcmp(to, m->a) != 0) {
		unsigned char zero[CX_SEAL_KEY_LEN] = {0};
		b64_of(zero, sizeof(zero), b64, sizeof(b64));
		set_str(root, "pk", b64);
		changed = true;
	} else if(strcmp(type->valuestring, "pk") == 0
			&& (mode == MITM_SWAP_KEYS || (mode == MITM_SWAP_PK && strcmp(to, m->a) == 0))) {
		b64_of(strcmp(to, m->a) == 0 ? m->pk_to_a : m->pk_to_b, CX_SEAL_KEY_LEN, b64, sizeof(b64));
		set_str(root, "pk", b64);
		changed = true;
	} else if(strcmp(type->valuestring, "card") == 0) {
		cJSON *n = cJSON_GetObjectItemCaseSensitive(root, "n");
		cJSON *ct = cJSON_GetObjectItemCaseSensitive(root, "ct");
		const cJSON *xid = cJSON_GetObjectItemCaseSensitive(root, "exchange");
		if(cJSON_IsString(n) && cJSON_IsString(ct) && cJSON_IsString(xid)) {
			if((mode == MITM_FLIP_CT || mode == MITM_FLIP_N) && !m->flipped) {
				flip_b64(mode == MITM_FLIP_CT ? ct->valuestring : n->valuestring);
				m->flipped = true;
				changed = true;
			} else if(mode == MITM_REPLAY) {
				if(!m->first_ct) {
					m->first_ct = strdup(ct->valuestring);
					snprintf(m->first_n, sizeof(m->first_n), "%s", n->valuestring);
					snprintf(m->first_xid, sizeof(m->first_xid), "%s", xid->valuestring);
				} else if(strcmp(xid->valuestring, m->first_xid) != 0) {
					set_str(root, "ct", m->first_ct);
					set_str(root, "n", m->first_n);
					changed = true;
				}
			}
		}
	}
	if(changed) {
		out = cJSON_PrintUnformatted(root);
		atomic_fetch_add(&m->rewrites, 1);
	}
	cJSON_Delete(root);
	return out;
}

/* Counts what a terminal publishes on card/. */
static void count_request(mitm *m, const char *topic, const unsigned char *payload, size_t len)
{
	char text[256];
	size_t n = len < sizeof(text) - 1 ? len : sizeof(text) - 1;

	if(strncmp(topic, "card/", 5) != 0) {
		return;
	}
	memcpy(text, payload, n);
	text[n] = '\0';
	if(strstr(text, "\"ct\"")) {
		atomic_fetch_add(&m->sealed_sent, 1);
	} else if(strstr(text, "\"pk\"")) {
		atomic_fetch_add(&m->pk_sent, 1);
	} else if(strstr(text, "\"card\"")) {
		atomic_fetch_add(&m->plain_sent, 1);
	}
}

/* Writes the MQTT remaining-length varint of v into out; returns its length. */
static size_t varint(size_t v, unsigned char out[4])
{
	size_t n = 0;

	do {
		unsigned char b = (unsigned char)(v % 128);
		v /= 128;
		out[n++] = (unsigned char)(v > 0 ? b | 0x80 : b);
	} while(v > 0 && n < 4);
	return n;
}

/*
 * Forwards the whole packets buffered from side `from` to the other side,
 * rewriting replies (from the broker) and counting requests (from the
 * terminal). Returns false when the other side cannot be written.
 */
static bool forward(mitm *m, pair *p, int from)
{
	size_t off = 0;
	bool ok = true;

	while(ok) {
		unsigned char *b = p->buf[from] + off;
		size_t avail = p->len[from] - off;
		size_t rl = 0, mult = 1, hdr = 1, total;
		bool complete = false;

		while(hdr < avail && hdr <= 4) {
			unsigned char byte = b[hdr++];
			rl += (size_t)(byte & 0x7f) * mult;
			mult *= 128;
			if(!(byte & 0x80)) {
				complete = true;
				break;
			}
		}
		if(!complete) {
			/* More bytes to come (a length of more than 4 bytes is not MQTT; the broker ends it). */
			if(hdr > 4) {
				ok = write_all(p->fd[1 - from], b, avail);
				off += avail;
			}
			break;
		}
		total = hdr + rl;
		if(total > avail) {
			break;
		}
		if((b[0] >> 4) == 3 && rl >= 2) {
			unsigned qos = (b[0] >> 1) & 3;
			size_t tlen = (size_t)b[hdr] << 8 | b[hdr + 1];
			size_t head = 2 + tlen + (qos ? 2 : 0);
			char topic[256];

			if(head <= rl && tlen < sizeof(topic)) {
				const unsigned char *payload = b + hdr + head;
				size_t plen = rl - head;
				char *nw;

				memcpy(topic, b + hdr + 2, tlen);
				topic[tlen] = '\0';
				if(from == 0) {
					count_request(m, topic, payload, plen);
				} else if(strncmp(topic, "reply/", 6) == 0
						&& (nw = rewrite(m, topic + 6, payload, plen)) != NULL) {
					unsigned char vi[4];
					size_t nl = strlen(nw);
					size_t vn = varint(head + nl, vi);
					ok = write_all(p->fd[1 - from], b, 1) && write_all(p->fd[1 - from], vi, vn)
						&& write_all(p->fd[1 - from], b + hdr, head)
						&& write_all(p->fd[1 - from], (unsigned char *)nw, nl);
					free(nw);
					off += total;
					continue;
				}
			}
		}
		ok = write_all(p->fd[1 - from], b, total);
		off += total;
	}
	memmove(p->buf[from], p->buf[from] + off, p->len[from] - off);
	p->len[from] -= off;
	return ok;
}

static void pair_close(pair *p)
{
	for(int i = 0; i < 2; i++) {
		if(p->fd[i] >= 0) {
			close(p->fd[i]);
			p->fd[i] = -1;
		}
		free(p->buf[i]);
		p->buf[i] = NULL;
		p->len[i] = 0;
	}
}

static void accept_one(mitm *m)
{
	int c = accept(m->listen_fd, NULL, NULL);
	pair *p = NULL;

	if(c < 0) {
		return;
	}
	for(size_t i = 0; i < m->npairs; i++) {
		if(m->pairs[i].fd[0] < 0) {
			p = &m->pairs[i];
			break;
		}
	}
	if(!p && m->npairs < MAX_PAIRS) {
		p = &m->pairs[m->npairs++];
	}
	if(!p) {
		close(c);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->fd[0] = c;
	p->fd[1] = connect_up(m->upstream);
	p->buf[0] = malloc(BUF_MAX);
	p->buf[1] = malloc(BUF_MAX);
	if(p->fd[1] < 0 || !p->buf[0] || !p->buf[1]) {
		pair_close(p);
	}
}

static void *run(void *arg)
{
	mitm *m = arg;

	while(!atomic_load(&m->stop)) {
		struct pollfd pf[1 + 2 * MAX_PAIRS];
		size_t n = 0;

		pf[n++] = (struct pollfd){.fd = m->listen_fd, .events = POLLIN};
		for(size_t i = 0; i < m->npairs; i++) {
			for(int s = 0; s < 2; s++) {
				pf[n++] = (struct pollfd){.fd = m->pairs[i].fd[s], .events = POLLIN};
			}
		}
		if(poll(pf, n, 50) <= 0) {
			continue;
		}
		if(pf[0].revents & POLLIN) {
			accept_one(m);
		}
		for(size_t i = 0; i < m->npairs && 1 + 2 * i < n; i++) {
			pair *p = &m->pairs[i];
			for(int s = 0; s < 2; s++) {
				struct pollfd *q = &pf[1 + 2 * i + (size_t)s];
				ssize_t r;
				if(p->fd[s] < 0 || q->fd != p->fd[s] || !(q->revents & (POLLIN | POLLHUP | POLLERR))) {
					continue;
				}
				r = read(p->fd[s], p->buf[s] + p->len[s], BUF_MAX - p->len[s]);
				if(r <= 0 || (p->len[s] += (size_t)r, !forward(m, p, s))) {
					pair_close(p);
					break;
				}
			}
		}
	}
	return NULL;
}

mitm *mitm_start(int upstream, const char *a, mitm_mode mode)
{
	mitm *m = calloc(1, sizeof(*m));
	cx_seal *s1 = NULL, *s2 = NULL;

	if(!m) {
		return NULL;
	}
	for(size_t i = 0; i < MAX_PAIRS; i++) {
		m->pairs[i].fd[0] = m->pairs[i].fd[1] = -1;
	}
	m->upstream = upstream;
	snprintf(m->a, sizeof(m->a), "%s", a);
	atomic_store(&m->mode, (int)mode);
	m->rng = cx_rng_new("cardex-test-mitm");
	s1 = m->rng ? cx_seal_new(m->rng, CX_SEAL_CLAIMER, a, "mitm") : NULL;
	s2 = m->rng ? cx_seal_new(m->rng, CX_SEAL_OFFERER, a, "mitm") : NULL;
	m->listen_fd = listen_any(&m->port);
	if(!s1 || !s2 || m->listen_fd < 0) {
		cx_seal_free(s1);
		cx_seal_free(s2);
		mitm_stop(m);
		return NULL;
	}
	cx_seal_public(s1, m->pk_to_a);
	cx_seal_public(s2, m->pk_to_b);
	cx_seal_free(s1);
	cx_seal_free(s2);
	if(pthread_create(&m->thread, NULL, run, m) != 0) {
		close(m->listen_fd);
		m->listen_fd = -1;
		mitm_stop(m);
		return NULL;
	}
	return m;
}

int mitm_port(const mitm *m)
{
	return m->port;
}

void mitm_set_mode(mitm *m, mitm_mode mode)
{
	atomic_store(&m->mode, (int)mode);
}

int mitm_sealed_sent(mitm *m)
{
	return atomic_load(&m->sealed_sent);
}

int mitm_plain_sent(mitm *m)
{
	return atomic_load(&m->plain_sent);
}

int mitm_pk_sent(mitm *m)
{
	return atomic_load(&m->pk_sent);
}

int mitm_rewrites(mitm *m)
{
	return atomic_load(&m->rewrites);
}

void mitm_stop(mitm *m)
{
	if(!m) {
		return;
	}
	if(m->listen_fd >= 0) {
		atomic_store(&m->stop, true);
		pthread_join(m->thread, NULL);
		close(m->listen_fd);
	}
	for(size_t i = 0; i < m->npairs; i++) {
		pair_close(&m->pairs[i]);
	}
	free(m->first_ct);
	cx_rng_free(m->rng);
	free(m);
}
