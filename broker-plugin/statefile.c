/*
 * Files replaced atomically (statefile.h).
 */
#define _DEFAULT_SOURCE /* fsync */

#include "statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"

/* fsync of the directory holding path, so that a rename or removal is durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[CX_STATEFILE_PATH_MAX];
	int fd, rc;

	if(slash == NULL){
		snprintf(dir, sizeof(dir), ".");
	}else if(slash == path){
		snprintf(dir, sizeof(dir), "/");
	}else{
		/* path fits in CX_STATEFILE_PATH_MAX, so its directory does too. */
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(fd < 0){
		return -1;
	}
	rc = fsync(fd);
	close(fd);
	return rc;
}

int cx_statefile_begin(cx_statefile *f, const char *path, char *err, size_t errcap)
{
	f->fd = -1;
	f->err = 0;
	f->tmp[0] = '\0';
	if((size_t)snprintf(f->path, sizeof(f->path), "%s", path) >= sizeof(f->path)
			|| (size_t)snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", path) >= sizeof(f->tmp)){
		f->tmp[0] = '\0';
		snprintf(err, errcap, "path too long");
		return -1;
	}
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(f->fd < 0){
		snprintf(err, errcap, "cannot create %s: %s", f->tmp, strerror(errno));
		f->tmp[0] = '\0';
		return -1;
	}
	return 0;
}

int cx_statefile_write(void *ctx, const void *buf, size_t len)
{
	cx_statefile *f = ctx;
	const char *p = buf;

	if(f->fd < 0 || f->err != 0){
		return -1;
	}
	while(len > 0){
		ssize_t n = write(f->fd, p, len);

		if(n < 0){
			if(errno == EINTR){
				continue;
			}
			f->err = errno;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cx_statefile_commit(cx_statefile *f, char *err, size_t errcap)
{
	int fd = f->fd;

	if(fd < 0){
		snprintf(err, errcap, "no file open");
		return -1;
	}
	f->fd = -1;
	if(f->err == 0 && fsync(fd) != 0){
		f->err = errno;
	}
	if(close(fd) != 0 && f->err == 0){
		f->err = errno;
	}
	if(f->err != 0){
		snprintf(err, errcap, "cannot write %s: %s", f->tmp, strerror(f->err));
		cx_statefile_abort(f);
		return -1;
	}
	if(rename(f->tmp, f->path) != 0){
		snprintf(err, errcap, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
		cx_statefile_abort(f);
		return -1;
	}
	f->tmp[0] = '\0';
	/* The file is in place; a failed directory sync only weakens durability. */
	(void)sync_dir(f->path);
	return 0;
}

void cx_statefile_abort(cx_statefile *f)
{
	if(f->fd >= 0){
		close(f->fd);
		f->fd = -1;
	}
	if(f->tmp[0] != '\0'){
		unlink(f->tmp);
		f->tmp[0] = '\0';
	}
}

int cx_statefile_read(const char *path, size_t max, unsigned char **buf, size_t *len, char *err,
		size_t errcap)
{
	unsigned char *b = NULL;
	struct stat st;
	size_t size, got = 0;
	int fd, rc = -1;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		if(errno == ENOENT){
			return 1;
		}
		snprintf(err, errcap, "cannot open: %s", strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)){
		snprintf(err, errcap, "not a regular file");
		goto cleanup;
	}
	if((unsigned long long)st.st_size > max){
		snprintf(err, errcap, "too large (%lld bytes, at most %zu expected)", (long long)st.st_size, max);
		goto cleanup;
	}
	size = (size_t)st.st_size;
	b = malloc(size > 0 ? size : 1);
	if(b == NULL){
		snprintf(err, errcap, "out of memory");
		goto cleanup;
	}
	while(got < size){
		ssize_t n = read(fd, b + got, size - got);

		if(n < 0 && errno == EINTR){
			continue;
		}
		if(n < 0){
			snprintf(err, errcap, "read error: %s", strerror(errno));
			goto cleanup;
		}
		if(n == 0){
			break; /* shrunk meanwhile: what was read is checked by its reader */
		}
		got += (size_t)n;
	}
	*buf = b;
	*len = got;
	b = NULL;
	rc = 0;

cleanup:
	if(b != NULL){
		cx_wipe(b, got);
		free(b);
	}
	close(fd);
	return rc;
}

int cx_statefile_remove(const char *path, char *err, size_t errcap)
{
	if(unlink(path) != 0){
		if(errno == ENOENT){
			return 0;
		}
		snprintf(err, errcap, "cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	(void)sync_dir(path);
	return 0;
}
