/*
 * The known-terminal registry (terminals.h): a keyed hash table of terminals,
 * each with a small array of session digests, and its state file.
 *
 * State file, text, one record a line:
 *   cardex-terminals 1
 *   T <terminal id> <last seen, Unix seconds>
 *   S <32 hex digits: SHA-256 prefix of a client ID> <last seen>
 * S lines belong to the T line above them.
 */
#define _DEFAULT_SOURCE /* getrandom */

#include "terminals.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "engine_table.h"
#include "ids.h"
#include "statefile.h"

#define DIGEST_LEN 16
#define STATE_HEADER "cardex-terminals 1"
/*
 * Last-seen times move in steps of this many seconds: a terminal active
 * every second would otherwise make the registry dirty (and the state file
 * rewritten) all the time. Expiry is a matter of days.
 */
#define SEEN_GRAIN 60
/*
 * A session whose client has not acted (connected, subscribed, published or
 * disconnected) for this long gives its place to a new client ID of the same
 * terminal that needs one. Seconds.
 */
#define IDLE_S 600
#define LINE_MAX_LEN 128 /* "T " + 64-char ID + " " + 20 digits, with room */
#define STATE_LINE_BYTES 64 /* bytes a state line takes on average, for the size bound */

/*
 * Session digests of recent client IDs, so that the SHA-256 (some 4,000
 * instructions) is not computed again on every ACL check of a connected
 * client (11 per exchange): a two-way set-associative cache indexed by a
 * keyed hash, the most recently used way first, each slot holding the client
 * ID itself, compared in full before its digest is used. Client IDs longer
 * than DIGEST_CACHE_ID_MAX are not cached.
 */
#define DIGEST_CACHE_SETS 512
#define DIGEST_CACHE_ID_MAX 95

struct digest_slot {
	unsigned char digest[DIGEST_LEN];
	unsigned char len;                    /* 0: empty */
	char id[DIGEST_CACHE_ID_MAX];
};

#define CONTAINER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

struct session {
	unsigned char digest[DIGEST_LEN];
	int64_t seen;
};

struct terminal {
	cx_hnode hn;
	struct terminal *prev, *next; /* every terminal, for sweeps and saves */
	int64_t seen;                 /* latest of its sessions' and its own */
	uint32_t nsess;
	struct session *sess;         /* max_sessions slots, nsess used */
	char id[];
};

struct cx_terminals {
	cx_htab tab;
	unsigned char hkey[CX_SIPHASH_KEY_LEN];
	struct terminal *all;
	size_t count;
	size_t sessions;
	uint32_t max_terminals;
	uint32_t max_sessions;
	uint32_t expiry_s;
	bool dirty; /* terminals or sessions added or removed since the last save */
	bool stale; /* only last-seen times moved since the last save */
	struct digest_slot *cache; /* DIGEST_CACHE_SETS pairs of slots; NULL when it could not be allocated */
};

static uint64_t hash_id(const cx_terminals *t, const char *id)
{
	return cx_siphash13(t->hkey, id, strlen(id));
}

static uint64_t node_hash(const cx_hnode *n, const void *ctx)
{
	return hash_id(ctx, CONTAINER(n, struct terminal, hn)->id);
}

static bool node_eq(const cx_hnode *n, const void *key)
{
	return strcmp(CONTAINER(n, struct terminal, hn)->id, key) == 0;
}

static bool slot_holds(const struct digest_slot *slot, const char *client_id, size_t len)
{
	return slot->len == len && memcmp(slot->id, client_id, len) == 0;
}

/*
 * The first DIGEST_LEN bytes of the SHA-256 of client_id, from the cache when
 * it holds them. hash, when not NULL, is hash_id(t, client_id), known already.
 */
static void digest_hashed(cx_terminals *t, const char *client_id, const uint64_t *hash,
		unsigned char out[DIGEST_LEN])
{
	unsigned char full[32];
	size_t len = strlen(client_id);
	struct digest_slot *set = NULL;

	if(t->cache != NULL && len > 0 && len <= DIGEST_CACHE_ID_MAX){
		uint64_t h = hash != NULL ? *hash : cx_siphash13(t->hkey, client_id, len);
		set = &t->cache[2 * (h % DIGEST_CACHE_SETS)];
		if(slot_holds(&set[0], client_id, len)){
			memcpy(out, set[0].digest, DIGEST_LEN);
			return;
		}
		if(slot_holds(&set[1], client_id, len)){
			struct digest_slot hit = set[1];
			set[1] = set[0];
			set[0] = hit;
			memcpy(out, hit.digest, DIGEST_LEN);
			return;
		}
	}
	mbedtls_sha256_ret((const unsigned char *)client_id, len, full, 0);
	memcpy(out, full, DIGEST_LEN);
	if(set != NULL){
		/* The least recently used way gives its place. */
		set[1] = set[0];
		memcpy(set[0].digest, full, DIGEST_LEN);
		memcpy(set[0].id, client_id, len);
		set[0].len = (unsigned char)len;
	}
}

static void digest_of(cx_terminals *t, const char *client_id, unsigned char out[DIGEST_LEN])
{
	digest_hashed(t, client_id, NULL, out);
}

static bool expired(const cx_terminals *t, int64_t seen, int64_t now)
{
	return t->expiry_s > 0 && now - seen > (int64_t)t->expiry_s;
}

cx_terminals *cx_terminals_new(uint32_t max_terminals, uint32_t max_sessions, uint32_t expiry_s)
{
	cx_terminals *t = calloc(1, sizeof(*t));

	if(t == NULL){
		return NULL;
	}
	if(getrandom(t->hkey, sizeof(t->hkey), 0) != (ssize_t)sizeof(t->hkey) ||
			cx_htab_init(&t->tab, node_hash, t) != 0){
		free(t);
		return NULL;
	}
	t->max_terminals = max_terminals > 0 ? max_terminals : 1;
	t->max_sessions = max_sessions > 0 ? max_sessions : 1;
	t->expiry_s = expiry_s;
	/* Only a speed-up: without it every digest is computed afresh. */
	t->cache = calloc(2 * DIGEST_CACHE_SETS, sizeof(*t->cache));
	return t;
}

static void term_free(struct terminal *x)
{
	free(x->sess);
	free(x);
}

/* Unlinks and frees x. */
static void term_drop(cx_terminals *t, struct terminal *x)
{
	cx_htab_remove(&t->tab, &x->hn, hash_id(t, x->id));
	if(x->prev != NULL){
		x->prev->next = x->next;
	}else{
		t->all = x->next;
	}
	if(x->next != NULL){
		x->next->prev = x->prev;
	}
	t->count--;
	t->sessions -= x->nsess;
	t->dirty = true;
	term_free(x);
}

static void drop_all(cx_terminals *t)
{
	while(t->all != NULL){
		term_drop(t, t->all);
	}
}

void cx_terminals_free(cx_terminals *t)
{
	if(t == NULL){
		return;
	}
	drop_all(t);
	cx_htab_free(&t->tab, NULL, NULL);
	free(t->cache);
	free(t);
}

/* Removes x's session i. */
static void sess_remove(cx_terminals *t, struct terminal *x, uint32_t i)
{
	x->sess[i] = x->sess[x->nsess - 1];
	x->nsess--;
	t->sessions--;
	t->dirty = true;
}

/*
 * Drops x's expired sessions, and x itself when it has none left and was
 * not seen within expiry. Returns false when x was dropped.
 */
static bool term_expire(cx_terminals *t, struct terminal *x, int64_t now)
{
	for(uint32_t i = 0; i < x->nsess;){
		if(expired(t, x->sess[i].seen, now)){
			sess_remove(t, x, i);
		}else{
			i++;
		}
	}
	if(x->nsess == 0 && expired(t, x->seen, now)){
		term_drop(t, x);
		return false;
	}
	return true;
}

/* The live entry of id, whose hash_id is hash, or NULL. */
static struct terminal *find_hashed(cx_terminals *t, const char *id, uint64_t hash, int64_t now)
{
	cx_hnode *n = cx_htab_find(&t->tab, hash, node_eq, id);
	struct terminal *x;

	if(n == NULL){
		return NULL;
	}
	x = CONTAINER(n, struct terminal, hn);
	return term_expire(t, x, now) ? x : NULL;
}

/* The live entry of id, or NULL. */
static struct terminal *find(cx_terminals *t, const char *id, int64_t now)
{
	return find_hashed(t, id, hash_id(t, id), now);
}

static int sess_index(const struct terminal *x, const unsigned char d[DIGEST_LEN])
{
	for(uint32_t i = 0; i < x->nsess; i++){
		if(memcmp(x->sess[i].digest, d, DIGEST_LEN) == 0){
			return (int)i;
		}
	}
	return -1;
}

/* A new terminal entry linked into t, or NULL when out of memory. */
static struct terminal *term_add(cx_terminals *t, const char *id, int64_t seen)
{
	size_t len = strlen(id);
	struct terminal *x = calloc(1, sizeof(*x) + len + 1);

	if(x == NULL){
		return NULL;
	}
	x->sess = calloc(t->max_sessions, sizeof(*x->sess));
	if(x->sess == NULL){
		free(x);
		return NULL;
	}
	memcpy(x->id, id, len + 1);
	x->seen = seen;
	x->next = t->all;
	if(t->all != NULL){
		t->all->prev = x;
	}
	t->all = x;
	cx_htab_insert(&t->tab, &x->hn, hash_id(t, id));
	t->count++;
	t->dirty = true;
	return x;
}

static void mark_seen(cx_terminals *t, int64_t *seen, int64_t now)
{
	if(now - *seen >= SEEN_GRAIN || now < *seen){
		*seen = now;
		t->stale = true;
	}
}

bool cx_terminals_known(cx_terminals *t, const char *id, int64_t now)
{
	return find(t, id, now) != NULL;
}

/*
 * The index of x's session that has been idle longest, when it has been idle
 * for IDLE_S or more (its place may be taken), else -1.
 */
static int idle_session(const struct terminal *x, int64_t now)
{
	int oldest = -1;

	for(uint32_t i = 0; i < x->nsess; i++){
		if(oldest < 0 || x->sess[i].seen < x->sess[oldest].seen){
			oldest = (int)i;
		}
	}
	return oldest >= 0 && now - x->sess[oldest].seen >= IDLE_S ? oldest : -1;
}

cx_term_result cx_terminals_admit(cx_terminals *t, const char *id, const char *client_id, int64_t now)
{
	struct terminal *x = find(t, id, now);
	unsigned char d[DIGEST_LEN];

	if(x == NULL || x->nsess < t->max_sessions || idle_session(x, now) >= 0){
		return CX_TERM_OK;
	}
	digest_of(t, client_id, d);
	return sess_index(x, d) >= 0 ? CX_TERM_OK : CX_TERM_FULL;
}

cx_term_result cx_terminals_touch(cx_terminals *t, const char *id, const char *client_id, bool acting,
		int64_t now)
{
	uint64_t hash = hash_id(t, id);
	struct terminal *x = find_hashed(t, id, hash, now);
	unsigned char d[DIGEST_LEN];
	int i;

	/* A terminal's main client ID is its ID: hashed once for both tables. */
	digest_hashed(t, client_id, strcmp(client_id, id) == 0 ? &hash : NULL, d);
	if(x == NULL){
		if(t->count >= t->max_terminals && (cx_terminals_sweep(t, now) == 0 ||
				t->count >= t->max_terminals)){
			return CX_TERM_CAPACITY;
		}
		x = term_add(t, id, now);
		if(x == NULL){
			return CX_TERM_NOMEM;
		}
	}
	i = sess_index(x, d);
	if(i < 0){
		int idle;

		if(x->nsess >= t->max_sessions){
			idle = acting ? idle_session(x, now) : -1;
			if(idle < 0){
				return CX_TERM_FULL;
			}
			sess_remove(t, x, (uint32_t)idle);
		}
		i = (int)x->nsess++;
		memcpy(x->sess[i].digest, d, DIGEST_LEN);
		x->sess[i].seen = now;
		t->sessions++;
		t->dirty = true;
	}
	if(acting){
		mark_seen(t, &x->sess[i].seen, now);
		mark_seen(t, &x->seen, now);
	}
	return CX_TERM_OK;
}

void cx_terminals_disconnect(cx_terminals *t, const char *id, const char *client_id, bool forget,
		int64_t now)
{
	struct terminal *x = find(t, id, now);
	unsigned char d[DIGEST_LEN];
	int i;

	if(x == NULL){
		return;
	}
	digest_of(t, client_id, d);
	i = sess_index(x, d);
	if(i < 0){
		return;
	}
	/* The terminal stays known, so that its client IDs stay reserved. */
	mark_seen(t, &x->seen, now);
	if(forget){
		sess_remove(t, x, (uint32_t)i);
	}else{
		mark_seen(t, &x->sess[i].seen, now);
	}
}

size_t cx_terminals_sweep(cx_terminals *t, int64_t now)
{
	struct terminal *x = t->all;
	size_t dropped = 0;

	if(t->expiry_s == 0){
		return 0;
	}
	while(x != NULL){
		struct terminal *next = x->next;

		if(!term_expire(t, x, now)){
			dropped++;
		}
		x = next;
	}
	return dropped;
}

void cx_terminals_each(const cx_terminals *t, void (*fn)(const char *id, void *arg), void *arg)
{
	for(const struct terminal *e = t->all; e != NULL; e = e->next){
		fn(e->id, arg);
	}
}

size_t cx_terminals_count(const cx_terminals *t)
{
	return t->count;
}

size_t cx_terminals_sessions(const cx_terminals *t)
{
	return t->sessions;
}

bool cx_terminals_dirty(const cx_terminals *t)
{
	return t->dirty;
}

bool cx_terminals_stale(const cx_terminals *t)
{
	return t->stale;
}

/* The registry as state-file text, malloc'ed, its length in *len; NULL when out of memory. */
static char *serialize(cx_terminals *t, size_t *len)
{
	size_t cap = sizeof(STATE_HEADER) + 1 + (t->count + t->sessions) * LINE_MAX_LEN;
	char *buf = malloc(cap);
	size_t n;

	if(buf == NULL){
		return NULL;
	}
	n = (size_t)snprintf(buf, cap, "%s\n", STATE_HEADER);
	for(struct terminal *x = t->all; x != NULL; x = x->next){
		n += (size_t)snprintf(buf + n, cap - n, "T %s %" PRId64 "\n", x->id, x->seen);
		for(uint32_t i = 0; i < x->nsess; i++){
			char hex[2 * DIGEST_LEN + 1];

			for(size_t k = 0; k < DIGEST_LEN; k++){
				snprintf(hex + 2 * k, 3, "%02x", x->sess[i].digest[k]);
			}
			n += (size_t)snprintf(buf + n, cap - n, "S %s %" PRId64 "\n", hex, x->sess[i].seen);
		}
	}
	*len = n;
	return buf;
}

int cx_terminals_save(cx_terminals *t, const char *path, int64_t now, char *err, size_t errcap)
{
	cx_statefile f;
	char *buf;
	size_t len = 0;
	int rc = -1;

	cx_terminals_sweep(t, now);
	buf = serialize(t, &len);
	if(buf == NULL){
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	if(cx_statefile_begin(&f, path, err, errcap) != 0){
		goto cleanup;
	}
	(void)cx_statefile_write(&f, buf, len); /* a failure is reported by the commit */
	if(cx_statefile_commit(&f, err, errcap) != 0){
		goto cleanup;
	}
	t->dirty = false;
	t->stale = false;
	rc = 0;

cleanup:
	free(buf);
	return rc;
}

/* Parses a decimal time field (digits only, at most 18 of them). */
static bool parse_time(const char *s, size_t len, int64_t *out)
{
	int64_t v = 0;

	if(len == 0 || len > 18){
		return false;
	}
	for(size_t i = 0; i < len; i++){
		if(s[i] < '0' || s[i] > '9'){
			return false;
		}
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool parse_digest(const char *s, size_t len, unsigned char out[DIGEST_LEN])
{
	if(len != 2 * DIGEST_LEN){
		return false;
	}
	for(size_t i = 0; i < len; i++){
		const char c = s[i];
		unsigned v;

		if(c >= '0' && c <= '9'){
			v = (unsigned)(c - '0');
		}else if(c >= 'a' && c <= 'f'){
			v = (unsigned)(c - 'a' + 10);
		}else{
			return false;
		}
		if(i % 2 == 0){
			out[i / 2] = (unsigned char)(v << 4);
		}else{
			out[i / 2] |= (unsigned char)v;
		}
	}
	return true;
}

/*
 * Splits "K <a> <b>" (no trailing newline) into its two fields. Returns
 * false unless line has exactly that shape.
 */
static bool split_line(const char *line, char kind, const char **a, size_t *alen, const char **b,
		size_t *blen)
{
	const char *sp;

	if(line[0] != kind || line[1] != ' '){
		return false;
	}
	*a = line + 2;
	sp = strchr(*a, ' ');
	if(sp == NULL){
		return false;
	}
	*alen = (size_t)(sp - *a);
	*b = sp + 1;
	*blen = strlen(*b);
	return *alen > 0 && strchr(*b, ' ') == NULL;
}

/*
 * Adds session d seen at seen to x while loading. When x is full (the
 * limit was lowered since the file was written), the most recent sessions
 * are kept.
 */
static void load_session(cx_terminals *t, struct terminal *x, const unsigned char d[DIGEST_LEN],
		int64_t seen)
{
	uint32_t oldest = 0;

	if(sess_index(x, d) >= 0){
		return;
	}
	if(x->nsess < t->max_sessions){
		memcpy(x->sess[x->nsess].digest, d, DIGEST_LEN);
		x->sess[x->nsess++].seen = seen;
		t->sessions++;
		return;
	}
	for(uint32_t i = 1; i < x->nsess; i++){
		if(x->sess[i].seen < x->sess[oldest].seen){
			oldest = i;
		}
	}
	if(x->sess[oldest].seen < seen){
		memcpy(x->sess[oldest].digest, d, DIGEST_LEN);
		x->sess[oldest].seen = seen;
	}
}

int cx_terminals_load(cx_terminals *t, const char *path, int64_t now, char *err, size_t errcap)
{
	char line[LINE_MAX_LEN + 2];
	struct terminal *cur = NULL;
	unsigned long lineno = 0;
	struct stat st;
	FILE *f;
	int rc = -1;

	drop_all(t);
	f = fopen(path, "re");
	if(f == NULL){
		if(errno == ENOENT){
			t->dirty = false;
			t->stale = false;
			return 1;
		}
		snprintf(err, errcap, "cannot open: %s", strerror(errno));
		return -1;
	}
	if(fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)){
		snprintf(err, errcap, "not a regular file");
		goto cleanup;
	}
	if((uint64_t)st.st_size > ((uint64_t)t->max_terminals * (t->max_sessions + 1) + 1) * STATE_LINE_BYTES){
		snprintf(err, errcap, "too large (%lld bytes) for max_terminals %u and max_sessions_per_terminal %u",
				(long long)st.st_size, (unsigned)t->max_terminals, (unsigned)t->max_sessions);
		goto cleanup;
	}
	while(fgets(line, sizeof(line), f) != NULL){
		size_t len = strlen(line);
		const char *a, *b;
		size_t alen, blen;
		int64_t seen;

		lineno++;
		if(len == 0 || line[len - 1] != '\n'){
			snprintf(err, errcap, "line %lu: too long or not ended", lineno);
			goto cleanup;
		}
		line[--len] = '\0';
		if(lineno == 1){
			if(strcmp(line, STATE_HEADER) != 0){
				snprintf(err, errcap, "line 1: not a cardex terminals file (expected \"%s\")", STATE_HEADER);
				goto cleanup;
			}
			continue;
		}
		if(split_line(line, 'T', &a, &alen, &b, &blen)){
			char id[CX_ID_MAX + 1];

			if(!cx_id_valid(a, alen) || !parse_time(b, blen, &seen)){
				snprintf(err, errcap, "line %lu: invalid terminal record", lineno);
				goto cleanup;
			}
			memcpy(id, a, alen);
			id[alen] = '\0';
			if(cx_htab_find(&t->tab, hash_id(t, id), node_eq, id) != NULL){
				snprintf(err, errcap, "line %lu: terminal listed twice", lineno);
				goto cleanup;
			}
			if(t->count >= t->max_terminals){
				snprintf(err, errcap, "line %lu: more terminals than max_terminals (%u)", lineno,
						(unsigned)t->max_terminals);
				goto cleanup;
			}
			cur = term_add(t, id, seen);
			if(cur == NULL){
				snprintf(err, errcap, "out of memory");
				goto cleanup;
			}
		}else if(split_line(line, 'S', &a, &alen, &b, &blen)){
			unsigned char d[DIGEST_LEN];

			if(cur == NULL || !parse_digest(a, alen, d) || !parse_time(b, blen, &seen)){
				snprintf(err, errcap, "line %lu: invalid session record", lineno);
				goto cleanup;
			}
			load_session(t, cur, d, seen);
		}else{
			snprintf(err, errcap, "line %lu: unknown record", lineno);
			goto cleanup;
		}
	}
	if(ferror(f)){
		snprintf(err, errcap, "read error: %s", strerror(errno));
		goto cleanup;
	}
	if(lineno == 0){
		snprintf(err, errcap, "empty file (expected \"%s\")", STATE_HEADER);
		goto cleanup;
	}
	cx_terminals_sweep(t, now);
	t->dirty = false;
	t->stale = false;
	rc = 0;

cleanup:
	fclose(f);
	if(rc != 0){
		drop_all(t);
		t->dirty = false;
		t->stale = false;
	}
	return rc;
}
