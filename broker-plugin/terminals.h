/*
 * The known-terminal registry: which usernames have acted as cardex terminals
 * on this broker, and which session client IDs each of them holds.
 *
 * A terminal becomes known the first time a client whose identity is valid
 * (username a terminal ID, client ID "<id>" or "<id>:<suffix>") does
 * anything in the namespace. From then on its client IDs are reserved for it
 * (auth.c) and the number of its sessions is bounded. Entries expire
 * expiry_s seconds after they were last seen (0: never), like Mosquitto's
 * persistent_client_expiration, and the registry holds at most max_terminals
 * terminals. Times are wall-clock seconds (the registry outlives restarts in
 * a state file), passed in by the caller. No Mosquitto calls: driven
 * directly by the unit tests.
 *
 * Session client IDs are kept as 128-bit SHA-256 prefixes, so that a suffix
 * of any length costs the same few bytes and no two client IDs that differ
 * can be taken for one.
 */
#ifndef CX_TERMINALS_H
#define CX_TERMINALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cx_terminals cx_terminals;

/* What cx_terminals_admit and cx_terminals_touch decide. */
typedef enum {
	CX_TERM_OK = 0,    /* the session is (or may become) one of the terminal's */
	CX_TERM_FULL,      /* the terminal already holds max_sessions other sessions */
	CX_TERM_CAPACITY,  /* the registry holds max_terminals terminals: a new one cannot be added */
	CX_TERM_NOMEM,     /* out of memory */
} cx_term_result;

/*
 * A new, empty registry. max_terminals and max_sessions are at least 1.
 * Returns NULL when out of memory or without entropy for the hash key.
 * Free with cx_terminals_free.
 */
cx_terminals *cx_terminals_new(uint32_t max_terminals, uint32_t max_sessions, uint32_t expiry_s);

/* Frees t and every entry; accepts NULL. */
void cx_terminals_free(cx_terminals *t);

/* True when id is a known terminal (an expired entry is dropped first). */
bool cx_terminals_known(cx_terminals *t, const char *id, int64_t now);

/*
 * At connect: may client_id open a session of terminal id? CX_TERM_OK when
 * id is unknown, when client_id is one of its sessions, when it holds fewer
 * than max_sessions, or when one of them has been idle (its client has not
 * acted) for 10 minutes, so that its place may be taken; CX_TERM_FULL
 * otherwise. Registers nothing (the client is not authenticated yet).
 */
cx_term_result cx_terminals_admit(cx_terminals *t, const char *id, const char *client_id, int64_t now);

/*
 * At namespace activity of an authenticated client: makes id known and
 * client_id one of its sessions. acting: the client itself acted
 * (subscribed, published, its will was sent): the session is seen at now,
 * and when id holds max_sessions others it takes the place of the one idle
 * longest, if that one has been idle for 10 minutes. Not acting (a message
 * is being delivered to it, perhaps queued while it is offline): the session
 * is not counted as seen and takes no one's place. CX_TERM_FULL when
 * client_id cannot become one of id's sessions, CX_TERM_CAPACITY when id is
 * new and the registry is full (after dropping expired entries),
 * CX_TERM_NOMEM; nothing changes then.
 */
cx_term_result cx_terminals_touch(cx_terminals *t, const char *id, const char *client_id, bool acting,
		int64_t now);

/*
 * At disconnect: when client_id is one of id's sessions, marks it seen at
 * now, or forgets it when the session ended with the connection (forget).
 * Does nothing for an unknown terminal or session.
 */
void cx_terminals_disconnect(cx_terminals *t, const char *id, const char *client_id, bool forget,
		int64_t now);

/* Drops every expired entry. Returns how many terminals were dropped. */
size_t cx_terminals_sweep(cx_terminals *t, int64_t now);

/* Calls fn(id, arg) for every known terminal (expired ones included until swept). */
void cx_terminals_each(const cx_terminals *t, void (*fn)(const char *id, void *arg), void *arg);
/* Number of known terminals, and of sessions over all of them. */
size_t cx_terminals_count(const cx_terminals *t);
size_t cx_terminals_sessions(const cx_terminals *t);

/* True when a terminal or session was added or removed since the last successful save or load. */
bool cx_terminals_dirty(const cx_terminals *t);
/* True when only last-seen times moved (by a minute or more) since then. */
bool cx_terminals_stale(const cx_terminals *t);

/*
 * Writes the registry to path atomically: a temporary file beside it
 * (path + ".tmp", mode 0600), fsync, rename over path, fsync of the
 * directory. Expired entries are left out. Returns 0, or -1 with a reason
 * in err (errcap bytes) and path untouched.
 */
int cx_terminals_save(cx_terminals *t, const char *path, int64_t now, char *err, size_t errcap);

/*
 * Replaces the registry's entries with those of the file at path, dropping
 * expired ones. Returns 1 when the file does not exist (the registry is left
 * empty), 0 when loaded, -1 when it cannot be read or is not a valid state
 * file (wrong header, bad line, too many terminals or too large), with a
 * reason in err that names the line; the registry is then left empty.
 */
int cx_terminals_load(cx_terminals *t, const char *path, int64_t now, char *err, size_t errcap);

#endif
