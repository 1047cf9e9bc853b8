/*
 * Direct replies: the registry of sessions that read a terminal's replies
 * (direct.h). A keyed hash table of terminal IDs, each entry holding at
 * most CX_DIRECT_SESSIONS sessions or the mark "routed".
 */
#define _DEFAULT_SOURCE /* getrandom */

#include "direct.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "engine_internal.h"
#include "engine_table.h"

struct entry {
	cx_hnode hn;
	bool routed;            /* replies to this terminal are routed, whatever it holds */
	size_t n;               /* sessions held in s */
	cx_direct_session s[CX_DIRECT_SESSIONS];
	char id[];
};

struct cx_direct {
	cx_htab tab;
	unsigned char hkey[CX_SIPHASH_KEY_LEN];
	size_t count;
	size_t max_ids;
	bool all_routed; /* a terminal that had to be routed could not be recorded: route all */
};

static uint64_t hash_id(const cx_direct *d, const char *id)
{
	return cx_siphash13(d->hkey, id, strlen(id));
}

static uint64_t node_hash(const cx_hnode *n, const void *ctx)
{
	return hash_id(ctx, CONTAINER(n, struct entry, hn)->id);
}

static bool node_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, struct entry, hn)->id, key) == 0;
}

static struct entry *find(const cx_direct *d, const char *id, uint64_t hash)
{
	cx_hnode *n = cx_htab_find(&d->tab, hash, node_eq, id);

	return n != NULL ? CONTAINER(n, struct entry, hn) : NULL;
}

/* The entry of id, added when absent; NULL when the registry is full or memory runs out. */
static struct entry *find_or_add(cx_direct *d, const char *id)
{
	uint64_t hash = hash_id(d, id);
	struct entry *e = find(d, id, hash);
	size_t len;

	if(e != NULL){
		return e;
	}
	if(d->count >= d->max_ids){
		return NULL;
	}
	len = strlen(id);
	e = calloc(1, sizeof(*e) + len + 1);
	if(e == NULL){
		return NULL;
	}
	memcpy(e->id, id, len + 1);
	cx_htab_insert(&d->tab, &e->hn, hash);
	d->count++;
	return e;
}

static void drop_session(struct entry *e, size_t i)
{
	free(e->s[i].client_id);
	e->s[i] = e->s[e->n - 1];
	memset(&e->s[e->n - 1], 0, sizeof(e->s[0]));
	e->n--;
}

static void free_entry(struct entry *e)
{
	while(e->n > 0){
		drop_session(e, e->n - 1);
	}
	free(e);
}

static void free_node(cx_hnode *n, void *arg)
{
	(void)arg;
	free_entry(CONTAINER(n, struct entry, hn));
}

/* Removes e when it holds nothing worth keeping: no session and no "routed" mark. */
static void drop_if_empty(cx_direct *d, struct entry *e)
{
	if(e->n == 0 && !e->routed){
		cx_htab_remove(&d->tab, &e->hn, hash_id(d, e->id));
		d->count--;
		free(e);
	}
}

/* Marks e routed for good; its sessions are of no more use. */
static void mark_routed(struct entry *e)
{
	e->routed = true;
	while(e->n > 0){
		drop_session(e, e->n - 1);
	}
}

cx_direct *cx_direct_new(size_t max_ids)
{
	cx_direct *d = calloc(1, sizeof(*d));

	if(d == NULL){
		return NULL;
	}
	if(getrandom(d->hkey, sizeof(d->hkey), 0) != (ssize_t)sizeof(d->hkey)
			|| cx_htab_init(&d->tab, node_hash, d) != 0){
		free(d);
		return NULL;
	}
	d->max_ids = max_ids > 0 ? max_ids : 1;
	return d;
}

void cx_direct_free(cx_direct *d)
{
	if(d == NULL){
		return;
	}
	cx_htab_free(&d->tab, free_node, NULL);
	free(d);
}

/*
 * The entry of id, added when absent; NULL when every terminal is routed,
 * which becomes so when id cannot be recorded: whatever d forgot about id
 * (a subscription, or that it must be routed) could send its replies past
 * a reader.
 */
static struct entry *entry_for(cx_direct *d, const char *id)
{
	struct entry *e;

	if(d->all_routed){
		return NULL;
	}
	e = find_or_add(d, id);
	if(e == NULL){
		d->all_routed = true;
	}
	return e;
}

void cx_direct_route(cx_direct *d, const char *id)
{
	struct entry *e = entry_for(d, id);

	if(e != NULL){
		mark_routed(e);
	}
}

void cx_direct_subscribed(cx_direct *d, const char *id, const char *client_id, int qos, bool persistent)
{
	struct entry *e = entry_for(d, id);
	char *copy;

	if(e == NULL || e->routed){
		return;
	}
	qos = qos > 1 ? 1 : (qos < 0 ? 0 : qos);
	for(size_t i = 0; i < e->n; i++){
		if(strcmp(e->s[i].client_id, client_id) == 0){
			e->s[i].qos = qos;
			e->s[i].persistent = persistent;
			e->s[i].away_since = 0;
			return;
		}
	}
	copy = e->n < CX_DIRECT_SESSIONS ? strdup(client_id) : NULL;
	if(copy == NULL){
		mark_routed(e);
		return;
	}
	e->s[e->n].client_id = copy;
	e->s[e->n].qos = qos;
	e->s[e->n].persistent = persistent;
	e->s[e->n].away_since = 0;
	e->n++;
}

/* Index of client_id's session in e, or e->n. */
static size_t session_at(const struct entry *e, const char *client_id)
{
	size_t i = 0;

	while(i < e->n && strcmp(e->s[i].client_id, client_id) != 0){
		i++;
	}
	return i;
}

void cx_direct_forget(cx_direct *d, const char *id, const char *client_id)
{
	struct entry *e = find(d, id, hash_id(d, id));
	size_t i;

	if(e == NULL){
		return;
	}
	i = session_at(e, client_id);
	if(i < e->n){
		drop_session(e, i);
	}
	drop_if_empty(d, e);
}

/* The session client_id of id as held, or NULL. */
static cx_direct_session *session_of(const cx_direct *d, const char *id, const char *client_id)
{
	struct entry *e = find(d, id, hash_id(d, id));
	size_t i;

	if(e == NULL){
		return NULL;
	}
	i = session_at(e, client_id);
	return i < e->n ? &e->s[i] : NULL;
}

const cx_direct_session *cx_direct_find(const cx_direct *d, const char *id, const char *client_id)
{
	return session_of(d, id, client_id);
}

size_t cx_direct_sessions(const cx_direct *d, const char *id, const cx_direct_session **out)
{
	const struct entry *e;

	if(d->all_routed){
		return 0;
	}
	e = find(d, id, hash_id(d, id));
	if(e == NULL || e->routed){
		return 0;
	}
	*out = e->s;
	return e->n;
}

size_t cx_direct_readers(cx_direct *d, const char *id, int64_t now, uint32_t expiry_s,
		const cx_direct_session **out)
{
	size_t n = cx_direct_sessions(d, id, out);

	if(expiry_s == 0){
		return n;
	}
	for(size_t i = 0; i < n; i++){
		const cx_direct_session *s = &(*out)[i];

		if(s->away_since > 0 && now - s->away_since + CX_DIRECT_EXPIRY_MARGIN_S >= (int64_t)expiry_s){
			cx_direct_route(d, id);
			return 0;
		}
	}
	return n;
}

size_t cx_direct_count(const cx_direct *d)
{
	return d->count;
}

void cx_direct_away(cx_direct *d, const char *id, const char *client_id, int64_t since)
{
	cx_direct_session *s = session_of(d, id, client_id);

	if(s != NULL){
		s->away_since = since;
	}
}

bool cx_direct_all_routed(const cx_direct *d)
{
	return d->all_routed;
}

void cx_direct_route_all(cx_direct *d)
{
	d->all_routed = true;
}

/* ---- saving and loading ---- */

#define SAVE_MAGIC "cardex-replies 1\n"
/* Longest line written: "S ", an ID, the client ID in hex, a QoS, a time. */
#define LINE_MAX_LEN (2 + 64 + 1 + 2 * 65535 + 1 + 1 + 1 + 20 + 2)

struct save_ctx {
	int64_t now;
	cx_write_fn w;
	void *ctx;
	int rc;
	char *line;
};

static void put(struct save_ctx *sc, const char *buf, size_t len)
{
	if(sc->rc == 0 && sc->w(sc->ctx, buf, len) != 0){
		sc->rc = -1;
	}
}

static void save_entry(cx_hnode *n, void *arg)
{
	struct save_ctx *sc = arg;
	const struct entry *e = CONTAINER(n, struct entry, hn);
	static const char hex[] = "0123456789abcdef";

	if(e->routed){
		put(sc, "R ", 2);
		put(sc, e->id, strlen(e->id));
		put(sc, "\n", 1);
		return;
	}
	for(size_t i = 0; i < e->n; i++){
		const cx_direct_session *s = &e->s[i];
		size_t len = strlen(s->client_id);
		size_t pos = 0;

		if(!s->persistent){
			continue;
		}
		if(len > 65535){
			/* Longer than MQTT allows: cannot be, but would not be read back. */
			sc->rc = -1;
			return;
		}
		pos += (size_t)snprintf(sc->line, LINE_MAX_LEN, "S %s ", e->id);
		for(size_t j = 0; j < len; j++){
			sc->line[pos++] = hex[(unsigned char)s->client_id[j] >> 4];
			sc->line[pos++] = hex[(unsigned char)s->client_id[j] & 15];
		}
		pos += (size_t)snprintf(sc->line + pos, LINE_MAX_LEN - pos, " %d %" PRId64 "\n", s->qos,
				s->away_since > 0 ? s->away_since : sc->now);
		put(sc, sc->line, pos);
	}
}

/* Calls each(n, arg) for every node of d without changing d. */
static void for_each(const cx_direct *d, void (*each)(cx_hnode *n, void *arg), void *arg)
{
	const cx_htab *t = &d->tab;
	cx_hnode **arrays[2] = {t->b, t->old};
	size_t masks[2] = {t->mask, t->old_mask};

	for(int a = 0; a < 2; a++){
		if(arrays[a] == NULL){
			continue;
		}
		for(size_t i = 0; i <= masks[a]; i++){
			for(cx_hnode *n = arrays[a][i]; n != NULL; n = n->next){
				each(n, arg);
			}
		}
	}
}

int cx_direct_save(const cx_direct *d, int64_t now, cx_write_fn w, void *ctx)
{
	struct save_ctx sc = {now, w, ctx, 0, malloc(LINE_MAX_LEN)};

	if(sc.line == NULL){
		return -1;
	}
	put(&sc, SAVE_MAGIC, strlen(SAVE_MAGIC));
	if(d->all_routed){
		put(&sc, "A\n", 2);
	}else{
		for_each(d, save_entry, &sc);
	}
	free(sc.line);
	return sc.rc;
}

static int hexval(char c)
{
	if(c >= '0' && c <= '9'){
		return c - '0';
	}
	if(c >= 'a' && c <= 'f'){
		return c - 'a' + 10;
	}
	return -1;
}

/* One "S <id> <hex> <qos> <since>" line (NUL-terminated, without "S "). Returns 0 or -1. */
static int load_session(cx_direct *d, char *rest)
{
	char *id = rest;
	char *hexid = strchr(id, ' ');
	char *qos, *since, *end;
	size_t hlen;
	long long when;
	int q;

	if(hexid == NULL){
		return -1;
	}
	*hexid++ = '\0';
	qos = strchr(hexid, ' ');
	if(qos == NULL){
		return -1;
	}
	*qos++ = '\0';
	hlen = strlen(hexid);
	if(id[0] == '\0' || hlen == 0 || hlen % 2 != 0 || (qos[0] != '0' && qos[0] != '1') || qos[1] != ' '){
		return -1;
	}
	q = qos[0] - '0';
	since = qos + 2;
	when = strtoll(since, &end, 10);
	if(end == since || *end != '\0' || when < 0){
		return -1;
	}
	for(size_t i = 0; i < hlen / 2; i++){
		int hi = hexval(hexid[2 * i]), lo = hexval(hexid[2 * i + 1]);

		if(hi < 0 || lo < 0 || (hi == 0 && lo == 0)){
			return -1;
		}
		hexid[i] = (char)(hi << 4 | lo);
	}
	hexid[hlen / 2] = '\0';
	cx_direct_subscribed(d, id, hexid, q, true);
	cx_direct_away(d, id, hexid, when);
	return 0;
}

int cx_direct_load(cx_direct *d, const char *buf, size_t len)
{
	size_t magic = strlen(SAVE_MAGIC);
	size_t pos = magic;
	char *line;
	int rc = 0;

	if(len < magic || memcmp(buf, SAVE_MAGIC, magic) != 0 || buf[len - 1] != '\n'){
		return -1;
	}
	line = malloc(LINE_MAX_LEN + 1);
	if(line == NULL){
		return -1;
	}
	while(rc == 0 && pos < len){
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = (size_t)(nl - (buf + pos));

		if(n > LINE_MAX_LEN || memchr(buf + pos, '\0', n) != NULL){
			rc = -1;
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if(strcmp(line, "A") == 0){
			d->all_routed = true;
		}else if(strncmp(line, "R ", 2) == 0 && line[2] != '\0' && strchr(line + 2, ' ') == NULL){
			cx_direct_route(d, line + 2);
		}else if(strncmp(line, "S ", 2) == 0){
			rc = load_session(d, line + 2);
		}else{
			rc = -1;
		}
	}
	free(line);
	return rc;
}
