/*
 * The CLI's data directory, $XDG_DATA_HOME/cardex: where profiles, contacts
 * and the sent log live. Everything in it is personal data of the user, so
 * directories are 0700 and files 0600, owned by the user: a directory or
 * file of ours that group or others may access is repaired (with a
 * warning), one owned by someone else is refused. Files are replaced
 * atomically, so that a crash or a full disk never leaves half a card.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* The home directory: $HOME, else the password database's. NULL when neither. */
static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if(home && home[0] == '/') {
		return home;
	}
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

int cli_store_init(cli_store *st, char *why)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home;
	int n;

	/* The XDG spec says a relative XDG_DATA_HOME is invalid and to be ignored. */
	if(xdg && xdg[0] == '/') {
		n = snprintf(st->base, sizeof(st->base), "%s/cardex", xdg);
	} else {
		home = home_dir();
		if(!home) {
			snprintf(why, CLI_WHY_MAX, "cannot find the data directory: set HOME or XDG_DATA_HOME");
			return -1;
		}
		n = snprintf(st->base, sizeof(st->base), "%s/.local/share/cardex", home);
	}
	if(n < 0 || (size_t)n >= sizeof(st->base)) {
		snprintf(why, CLI_WHY_MAX, "the data directory's path is too long");
		return -1;
	}
	return 0;
}

/*
 * Checks what fd (opened at path) is: owned by us, and without group or
 * other permissions (taken away, with a warning, when it has them).
 */
static int check_mode(int fd, const char *path, mode_t want, char *why)
{
	struct stat st;

	if(fstat(fd, &st) != 0) {
		snprintf(why, CLI_WHY_MAX, "cannot stat %s: %s", path, strerror(errno));
		return -1;
	}
	if(st.st_uid != geteuid()) {
		snprintf(why, CLI_WHY_MAX, "%s belongs to another user (uid %lu): refusing to use it", path,
				(unsigned long)st.st_uid);
		return -1;
	}
	if((st.st_mode & 077) == 0) {
		return 0;
	}
	if(fchmod(fd, want) != 0) {
		snprintf(why, CLI_WHY_MAX, "%s has mode %04o, open to other users, and cannot be fixed: %s",
				path, (unsigned)(st.st_mode & 07777), strerror(errno));
		return -1;
	}
	fprintf(stderr, "cardex: warning: %s had mode %04o, open to other users; changed to %04o\n", path,
			(unsigned)(st.st_mode & 07777), (unsigned)want);
	return 0;
}

/* Makes path and its missing parents (mode 0700). */
static int make_dirs(const char *path, char *why)
{
	char buf[CLI_PATH_MAX];
	size_t i;

	snprintf(buf, sizeof(buf), "%s", path);
	for(i = 1; buf[i]; i++) {
		if(buf[i] != '/') {
			continue;
		}
		buf[i] = '\0';
		if(mkdir(buf, 0700) != 0 && errno != EEXIST) {
			snprintf(why, CLI_WHY_MAX, "cannot create %.300s: %s", buf, strerror(errno));
			return -1;
		}
		buf[i] = '/';
	}
	if(mkdir(buf, 0700) != 0 && errno != EEXIST) {
		snprintf(why, CLI_WHY_MAX, "cannot create %.300s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Opens directory path and checks it. The base directory may be a symbolic
 * link (to an encrypted volume, say) to a directory of ours; those inside
 * it may not. Returns 0, 1 when missing, -1.
 */
static int check_dir(const char *path, bool follow, char *why)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	int rc;

	if(fd < 0 && errno == ENOENT) {
		return 1;
	}
	if(fd < 0) {
		if(errno == ENOTDIR || errno == ELOOP) {
			/* Paths are cut so that the reason always fits in why. */
			snprintf(why, CLI_WHY_MAX, "%.300s is not a directory (a symbolic link is refused here)", path);
		} else {
			snprintf(why, CLI_WHY_MAX, "cannot open %.300s: %s", path, strerror(errno));
		}
		return -1;
	}
	rc = check_mode(fd, path, 0700, why);
	close(fd);
	return rc;
}

int cli_store_dir(const cli_store *st, const char *sub, bool create, char *path, size_t cap,
		char *why)
{
	int n, rc;

	n = snprintf(path, cap, "%s%s%s", st->base, sub[0] ? "/" : "", sub);
	if(n < 0 || (size_t)n >= cap) {
		snprintf(why, CLI_WHY_MAX, "the data directory's path is too long");
		return -1;
	}
	if(create && make_dirs(path, why) != 0) {
		return -1;
	}
	rc = check_dir(st->base, true, why);
	if(rc != 0 || !sub[0]) {
		return rc;
	}
	return check_dir(path, false, why);
}

int cli_store_opendir(const cli_store *st, const char *sub, char *path, size_t cap, DIR **dir,
		char *why)
{
	int rc = cli_store_dir(st, sub, false, path, cap, why);

	*dir = NULL;
	if(rc != 0) {
		return rc;
	}
	*dir = opendir(path);
	if(!*dir) {
		snprintf(why, CLI_WHY_MAX, "cannot read %.300s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int cli_store_read(const char *path, size_t max, char **out, size_t *len, char *why)
{
	struct stat sb;
	bool toolarge = false;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if(fd < 0 && errno == ENOENT) {
		return 1;
	}
	if(fd < 0) {
		if(errno == ELOOP) {
			snprintf(why, CLI_WHY_MAX, "%s is a symbolic link: refusing to follow it", path);
		} else {
			snprintf(why, CLI_WHY_MAX, "cannot open %.300s: %s", path, strerror(errno));
		}
		return -1;
	}
	if(fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(why, CLI_WHY_MAX, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if(check_mode(fd, path, 0600, why) != 0) {
		close(fd);
		return -1;
	}
	*out = cli_read_fd(fd, max, len, &toolarge);
	close(fd);
	if(!*out) {
		if(toolarge) {
			snprintf(why, CLI_WHY_MAX, "%s is larger than %zu bytes", path, max);
		} else {
			snprintf(why, CLI_WHY_MAX, "cannot read %s", path);
		}
		return -1;
	}
	return 0;
}

/* Writes all of data[0..len) to fd. */
static int write_all(int fd, const char *data, size_t len)
{
	while(len > 0) {
		ssize_t w = write(fd, data, len);

		if(w < 0 && errno == EINTR) {
			continue;
		}
		if(w <= 0) {
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsyncs the directory holding path, so that a rename in it is durable. */
static int sync_parent(const char *path)
{
	char dir[CLI_PATH_MAX];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if(!slash) {
		return 0;
	}
	*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(fd < 0) {
		return -1;
	}
	rc = fsync(fd);
	close(fd);
	return rc;
}

int cli_store_write(const char *path, const void *data, size_t len, char *why)
{
	char tmp[CLI_PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, n, err;

	/* A dot file next to the target, so that rename(2) stays in one file system. */
	n = slash ? snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX", (int)(slash - path), path, slash + 1)
			: snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", path);
	if(n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(why, CLI_WHY_MAX, "path too long: %s", path);
		return -1;
	}
	fd = mkstemp(tmp);
	if(fd < 0) {
		snprintf(why, CLI_WHY_MAX, "cannot create a file next to %s: %s", path, strerror(errno));
		return -1;
	}
	if(fchmod(fd, 0600) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		err = errno;
		close(fd);
		goto fail;
	}
	if(close(fd) != 0 || rename(tmp, path) != 0) {
		err = errno;
		goto fail;
	}
	if(sync_parent(path) != 0) {
		snprintf(why, CLI_WHY_MAX, "cannot sync the directory of %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
fail:
	unlink(tmp);
	snprintf(why, CLI_WHY_MAX, "cannot write %s: %s", path, strerror(err));
	return -1;
}

int cli_store_remove(const char *path, char *why)
{
	if(unlink(path) == 0) {
		sync_parent(path);
		return 0;
	}
	if(errno == ENOENT) {
		return 1;
	}
	snprintf(why, CLI_WHY_MAX, "cannot remove %s: %s", path, strerror(errno));
	return -1;
}

void cli_time_iso(time_t t, char buf[21])
{
	struct tm tm;

	if(!gmtime_r(&t, &tm) || strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		snprintf(buf, 21, "1970-01-01T00:00:00Z");
	}
}
