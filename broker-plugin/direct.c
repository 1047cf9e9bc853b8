/*
 * Direct replies: the registry of sessions that read a terminal's replies
 * (direct.h). A keyed hash table of terminal IDs, each entry holding at
 * most CX_DIRECT_SESSIONS sessions or the mark "routed".
 */
#define _DEFAULT_SOURCE /* getrandom */

#include "direct.h"

#include <stdint.h>
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

void cx_direct_route(cx_direct *d, const char *id)
{
	struct entry *e;

	if(d->all_routed){
		return;
	}
	e = find_or_add(d, id);
	if(e == NULL){
		/* Forgetting that id must be routed could send its replies past a subscription: route all. */
		d->all_routed = true;
		return;
	}
	mark_routed(e);
}

void cx_direct_subscribed(cx_direct *d, const char *id, const char *client_id, int qos, bool persistent)
{
	struct entry *e;
	char *copy;

	if(d->all_routed){
		return;
	}
	e = find_or_add(d, id);
	if(e == NULL){
		/* Not recorded, so routed: right as long as nothing else about id is recorded either. */
		d->all_routed = true;
		return;
	}
	if(e->routed){
		return;
	}
	qos = qos > 1 ? 1 : (qos < 0 ? 0 : qos);
	for(size_t i = 0; i < e->n; i++){
		if(strcmp(e->s[i].client_id, client_id) == 0){
			e->s[i].qos = qos;
			e->s[i].persistent = persistent;
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

const cx_direct_session *cx_direct_find(const cx_direct *d, const char *id, const char *client_id)
{
	const struct entry *e = find(d, id, hash_id(d, id));
	size_t i;

	if(e == NULL){
		return NULL;
	}
	i = session_at(e, client_id);
	return i < e->n ? &e->s[i] : NULL;
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

size_t cx_direct_count(const cx_direct *d)
{
	return d->count;
}
