/*
 * Files the plugin keeps across restarts (the known-terminal registry, the
 * engine's state), written so that a crash or a full disk never leaves a
 * half-written one in place: a temporary file beside the target (path +
 * ".tmp", mode 0600), fsync, rename over the target, fsync of the
 * directory. No Mosquitto calls: driven directly by the unit tests.
 */
#ifndef CX_STATEFILE_H
#define CX_STATEFILE_H

#include <stddef.h>

#define CX_STATEFILE_PATH_MAX 4096

typedef struct {
	int fd;                            /* the temporary file; -1 when none is open */
	int err;                           /* errno of the first failed write, 0 when none */
	char path[CX_STATEFILE_PATH_MAX];
	char tmp[CX_STATEFILE_PATH_MAX];
} cx_statefile;

/*
 * Creates (or truncates) path + ".tmp", mode 0600, for writing. Returns 0,
 * or -1 with a reason in err (errcap bytes) and nothing left open or
 * created. Finish with cx_statefile_commit or cx_statefile_abort.
 */
int cx_statefile_begin(cx_statefile *f, const char *path, char *err, size_t errcap);

/*
 * Appends len bytes (ctx is the cx_statefile, so that this serves as a
 * cx_write_fn). Returns 0, or -1 after a failed write (remembered, and
 * reported by cx_statefile_commit).
 */
int cx_statefile_write(void *ctx, const void *buf, size_t len);

/*
 * Syncs and closes the temporary file and renames it over the target (a
 * failed sync of the directory after that is ignored: the file is in
 * place). Returns 0, or -1 with a reason in err, the target untouched and
 * the temporary file removed.
 */
int cx_statefile_commit(cx_statefile *f, char *err, size_t errcap);

/* Closes and removes the temporary file. Accepts a finished or failed cx_statefile. */
void cx_statefile_abort(cx_statefile *f);

/*
 * Reads the regular file at path, at most max bytes, into a malloc'ed
 * buffer (*buf, *len). Returns 0; 1 when it does not exist (*buf NULL); or
 * -1 with a reason in err (cannot open or read, not a regular file, larger
 * than max).
 */
int cx_statefile_read(const char *path, size_t max, unsigned char **buf, size_t *len, char *err,
		size_t errcap);

/*
 * Removes path and syncs its directory, so that the removal survives a
 * crash. Returns 0 (also when it did not exist), or -1 with a reason in err.
 */
int cx_statefile_remove(const char *path, char *err, size_t errcap);

#endif
