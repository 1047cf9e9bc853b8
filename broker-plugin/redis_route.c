/*
 * store redis: which terminals are connected to this broker
 * (store_redis.h, docs/protocol.md §11.4).
 *
 * Mosquitto 2.0 has no CONNECT event, so a client counts as connected here
 * from its first act in the namespace (a subscription to its reply topic,
 * a request) to its DISCONNECT. Clients are kept by the broker's pointer,
 * which is theirs until DISCONNECT; a terminal's record in Redis is made
 * when its first client here acts, renewed every PLUGIN_REDIS_REFRESH_MS
 * and removed when its last client here leaves.
 */
#include <stdlib.h>
#include <string.h>

#include "store_redis.h"

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define REFRESH_CHUNK 500 /* terminal IDs per refresh script call */

static uint64_t client_hash_of(const struct cx_store_redis *s, const struct mosquitto *client)
{
	return cx_siphash13(s->hkey, &client, sizeof(client));
}

static uint64_t client_hash(const cx_hnode *n, const void *ctx)
{
	return client_hash_of(ctx, CONTAINER(n, struct cx_rclient, hn)->client);
}

static bool client_eq(const cx_hnode *n, const void *key)
{
	return CONTAINER(n, struct cx_rclient, hn)->client == key;
}

static uint64_t term_hash_of(const struct cx_store_redis *s, const char *id)
{
	return cx_siphash13(s->hkey, id, strlen(id));
}

static uint64_t term_hash(const cx_hnode *n, const void *ctx)
{
	return term_hash_of(ctx, CONTAINER(n, struct cx_rterm, hn)->id);
}

static bool term_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, struct cx_rterm, hn)->id, key) == 0;
}

/* Queues a here or gone job for id; a job that cannot be queued is made up for by the refresh. */
static void submit_simple(struct cx_store_redis *s, cx_rscript script, const char *id)
{
	cx_rjob *j = cx_rjob_new(script);

	if(j == NULL || cx_rjob_argstr(j, id) != 0
			|| (script == CX_RS_HERE && cx_rjob_argu(j, PLUGIN_REDIS_HERE_TTL_MS) != 0)
			|| cx_rworker_submit(s->w, j) != 0){
		cx_rjob_free(j);
	}
}

void plugin__redis_present(struct plugin__data *data, const struct mosquitto *client, const char *id)
{
	struct cx_store_redis *s = data->redis;
	struct cx_rclient *c;
	struct cx_rterm *t;
	cx_hnode *n;

	if(s == NULL || cx_htab_find(&s->clients, client_hash_of(s, client), client_eq, client) != NULL){
		return;
	}
	n = cx_htab_find(&s->terms, term_hash_of(s, id), term_eq, id);
	t = n != NULL ? CONTAINER(n, struct cx_rterm, hn) : NULL;
	if(t == NULL){
		if(s->nterms == s->terms_cap){
			size_t cap = s->terms_cap ? 2 * s->terms_cap : 64;
			struct cx_rterm **v = realloc(s->terms_v, cap * sizeof(*v));
			if(v == NULL){
				return;
			}
			s->terms_v = v;
			s->terms_cap = cap;
		}
		t = calloc(1, sizeof(*t));
		if(t == NULL){
			return;
		}
		memcpy(t->id, id, strnlen(id, CX_ID_MAX));
		t->idx = s->nterms;
		s->terms_v[s->nterms++] = t;
		cx_htab_insert(&s->terms, &t->hn, term_hash_of(s, t->id));
	}
	c = calloc(1, sizeof(*c));
	if(c == NULL){
		return;
	}
	c->client = client;
	c->term = t;
	cx_htab_insert(&s->clients, &c->hn, client_hash_of(s, client));
	if(t->clients++ == 0){
		submit_simple(s, CX_RS_HERE, t->id);
	}
}

static void term_drop(struct cx_store_redis *s, struct cx_rterm *t)
{
	cx_htab_remove(&s->terms, &t->hn, term_hash_of(s, t->id));
	s->terms_v[t->idx] = s->terms_v[s->nterms - 1];
	s->terms_v[t->idx]->idx = t->idx;
	s->nterms--;
	free(t);
}

void plugin__redis_disconnect(struct plugin__data *data, const struct mosquitto *client)
{
	struct cx_store_redis *s = data->redis;
	struct cx_rclient *c;
	struct cx_rterm *t;
	cx_hnode *n;

	if(s == NULL){
		return;
	}
	n = cx_htab_find(&s->clients, client_hash_of(s, client), client_eq, client);
	if(n == NULL){
		return;
	}
	c = CONTAINER(n, struct cx_rclient, hn);
	t = c->term;
	cx_htab_remove(&s->clients, &c->hn, client_hash_of(s, client));
	free(c);
	if(--t->clients == 0){
		submit_simple(s, CX_RS_GONE, t->id);
		term_drop(s, t);
	}
}

void plugin__redis_refresh(struct plugin__data *data)
{
	struct cx_store_redis *s = data->redis;

	for(size_t from = 0; from < s->nterms; from += REFRESH_CHUNK){
		size_t n = s->nterms - from < REFRESH_CHUNK ? s->nterms - from : REFRESH_CHUNK;
		cx_rjob *j = cx_rjob_new(CX_RS_REFRESH);
		if(j == NULL || cx_rjob_argu(j, PLUGIN_REDIS_HERE_TTL_MS) != 0){
			cx_rjob_free(j);
			return;
		}
		j->extra = calloc(n, sizeof(*j->extra));
		if(j->extra == NULL){
			cx_rjob_free(j);
			return;
		}
		for(size_t i = 0; i < n; i++){
			j->extra[i] = strdup(s->terms_v[from + i]->id);
			if(j->extra[i] == NULL){
				break;
			}
			j->nextra++;
		}
		if(cx_rworker_submit(s->w, j) != 0){
			cx_rjob_free(j);
			return;
		}
	}
}

int plugin__redis_route_init(struct cx_store_redis *s)
{
	if(cx_htab_init(&s->clients, client_hash, s) != 0){
		return -1;
	}
	return cx_htab_init(&s->terms, term_hash, s);
}

static void free_client(cx_hnode *n, void *arg)
{
	(void)arg;
	free(CONTAINER(n, struct cx_rclient, hn));
}

static void free_term(cx_hnode *n, void *arg)
{
	(void)arg;
	free(CONTAINER(n, struct cx_rterm, hn));
}

void plugin__redis_route_free(struct cx_store_redis *s)
{
	cx_htab_free(&s->clients, free_client, NULL);
	cx_htab_free(&s->terms, free_term, NULL);
	free(s->terms_v);
	s->terms_v = NULL;
	s->nterms = s->terms_cap = 0;
}
