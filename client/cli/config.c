/*
 * The config file, $XDG_CONFIG_HOME/cardex/config: "key = value" lines
 * that give the defaults of the connection options, so that a terminal does
 * not repeat them on every command line:
 *
 *   # cardex configuration
 *   host = broker.example
 *   port = 8883
 *   id = ada
 *   password-file = ~/.config/cardex/password
 *   cafile = /etc/ssl/certs/broker-ca.crt
 *   topic-prefix = cardex/
 *   profile = work
 *
 * A '#' starts a comment only at the start of a line (after blanks).
 * Options and the CARDEX_* environment win over it. A password never goes
 * in this file: there is no key for it (password-file names a file that
 * only its owner can read). Since the file decides where the password is
 * sent, it is refused when group or others may write it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define CONFIG_FILE_MAX (64 * 1024)
#define CONFIG_LINE_MAX 4096

typedef enum {
	KEY_HOST,
	KEY_PORT,
	KEY_ID,
	KEY_PASSWORD_FILE,
	KEY_CAFILE,
	KEY_TOPIC_PREFIX,
	KEY_PROFILE
} conf_key;

static const struct {
	const char *name;
	conf_key key;
} keys[] = {
	{"host", KEY_HOST},
	{"port", KEY_PORT},
	{"id", KEY_ID},
	{"password-file", KEY_PASSWORD_FILE},
	{"cafile", KEY_CAFILE},
	{"topic-prefix", KEY_TOPIC_PREFIX},
	{"profile", KEY_PROFILE},
};

void cli_conf_free(cli_file_config *c)
{
	free(c->host);
	free(c->id);
	free(c->password_file);
	free(c->cafile);
	free(c->topic_prefix);
	free(c->profile);
	memset(c, 0, sizeof(*c));
}

/* The home directory: $HOME, else the password database's; NULL when neither. */
static const char *home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if(h && h[0] == '/') {
		return h;
	}
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

int cli_conf_default_path(char *buf, size_t cap, char *why)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *h;
	int n;

	if(xdg && xdg[0] == '/') {
		n = snprintf(buf, cap, "%s/cardex/config", xdg);
	} else {
		h = home();
		if(!h) {
			snprintf(why, CLI_WHY_MAX, "cannot find the config directory: set HOME or XDG_CONFIG_HOME");
			return -1;
		}
		n = snprintf(buf, cap, "%s/.config/cardex/config", h);
	}
	if(n < 0 || (size_t)n >= cap) {
		snprintf(why, CLI_WHY_MAX, "the config file's path is too long");
		return -1;
	}
	return 0;
}

/* A path value made absolute: "~/x" from the home directory, "x" from base_dir. */
static char *make_path(const char *v, const char *base_dir)
{
	const char *prefix = NULL;
	char *out;
	size_t n;

	if(v[0] == '~' && v[1] == '/') {
		prefix = home();
		if(!prefix) {
			return NULL;
		}
		v += 2;
	} else if(v[0] != '/') {
		prefix = base_dir;
	}
	if(!prefix) {
		return strdup(v);
	}
	n = strlen(prefix) + 1 + strlen(v) + 1;
	out = malloc(n);
	if(out) {
		snprintf(out, n, "%s/%s", prefix, v);
	}
	return out;
}

/* Stores value v of key k; returns NULL or a static reason. */
static const char *set_key(cli_file_config *c, conf_key k, const char *v, const char *base_dir)
{
	char **slot = NULL;
	char *end = NULL;
	long port;

	switch(k) {
	case KEY_PORT:
		errno = 0;
		port = v[0] >= '0' && v[0] <= '9' ? strtol(v, &end, 10) : 0;
		if(errno || !end || *end || port < 1 || port > 65535) {
			return "port must be a number from 1 to 65535";
		}
		c->port = (int)port;
		return NULL;
	case KEY_ID:
		if(!cx_id_valid(v, strlen(v))) {
			return "id must be a terminal ID (1 to 64 of A-Z a-z 0-9 . _ -)";
		}
		slot = &c->id;
		break;
	case KEY_PROFILE:
		if(!cli_profile_name_valid(v)) {
			return "profile must be a profile name (1 to 64 of A-Z a-z 0-9 . _ -)";
		}
		slot = &c->profile;
		break;
	case KEY_HOST:
		slot = &c->host;
		break;
	case KEY_TOPIC_PREFIX:
		slot = &c->topic_prefix;
		break;
	case KEY_PASSWORD_FILE:
		c->password_file = make_path(v, base_dir);
		return c->password_file ? NULL : "cannot resolve the path (no home directory, or out of memory)";
	case KEY_CAFILE:
		c->cafile = make_path(v, base_dir);
		return c->cafile ? NULL : "cannot resolve the path (no home directory, or out of memory)";
	}
	*slot = strdup(v);
	return *slot ? NULL : "out of memory";
}

/* True when key k already has a value. */
static bool key_set(const cli_file_config *c, conf_key k)
{
	switch(k) {
	case KEY_HOST:
		return c->host;
	case KEY_PORT:
		return c->port;
	case KEY_ID:
		return c->id;
	case KEY_PASSWORD_FILE:
		return c->password_file;
	case KEY_CAFILE:
		return c->cafile;
	case KEY_TOPIC_PREFIX:
		return c->topic_prefix;
	case KEY_PROFILE:
		return c->profile;
	}
	return false;
}

/* A blank of the config syntax: space or tab. */
static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Handles one line (without its end, NUL-terminated, writable); NULL or a reason. */
static const char *parse_line(char *line, const char *base_dir, cli_file_config *out,
		char *name, size_t name_cap)
{
	char *eq, *k, *v, *e;
	size_t i, klen;

	name[0] = '\0';
	for(k = line; blank(*k); k++) {
	}
	if(*k == '\0' || *k == '#') {
		return NULL;
	}
	for(e = k; *e; e++) {
		if((unsigned char)*e < 0x20 && *e != '\t') {
			return "control character in the line";
		}
	}
	eq = strchr(k, '=');
	if(!eq) {
		return "expected \"key = value\"";
	}
	for(e = eq; e > k && blank(e[-1]); e--) {
	}
	klen = (size_t)(e - k);
	for(v = eq + 1; blank(*v); v++) {
	}
	for(e = v + strlen(v); e > v && blank(e[-1]); e--) {
	}
	*e = '\0';
	snprintf(name, name_cap, "%.*s", (int)(klen < 40 ? klen : 40), k);
	if(klen == 8 && strncmp(k, "password", 8) == 0) {
		return "a password never goes in the config file: put it in a file only you can read "
			   "(chmod 600) and name that file with password-file";
	}
	for(i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if(strlen(keys[i].name) == klen && strncmp(keys[i].name, k, klen) == 0) {
			break;
		}
	}
	if(i == sizeof(keys) / sizeof(keys[0])) {
		return "unknown key (known: host, port, id, password-file, cafile, topic-prefix, profile)";
	}
	if(*v == '\0') {
		return "empty value";
	}
	if(key_set(out, keys[i].key)) {
		return "key given twice";
	}
	return set_key(out, keys[i].key, v, base_dir);
}

int cli_conf_parse(const char *text, size_t len, const char *base_dir, cli_file_config *out,
		char *why)
{
	char line[CONFIG_LINE_MAX + 1];
	char name[48];
	unsigned lineno = 0;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if(memchr(text, '\0', len)) {
		snprintf(why, CLI_WHY_MAX, "the file holds a NUL byte: not a text file");
		return -1;
	}
	while(pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t raw = nl ? (size_t)(nl - (text + pos)) : len - pos;
		size_t n = raw;
		const char *reason;

		lineno++;
		if(n > CONFIG_LINE_MAX) {
			snprintf(why, CLI_WHY_MAX, "line %u: line too long", lineno);
			goto fail;
		}
		memcpy(line, text + pos, n);
		if(n > 0 && line[n - 1] == '\r') {
			n--;
		}
		line[n] = '\0';
		pos += raw + (nl ? 1 : 0);
		reason = parse_line(line, base_dir, out, name, sizeof(name));
		if(reason) {
			/* The key is named, never the value: a misplaced password stays out of the message. */
			if(name[0]) {
				snprintf(why, CLI_WHY_MAX, "line %u: %s: %s", lineno, name, reason);
			} else {
				snprintf(why, CLI_WHY_MAX, "line %u: %s", lineno, reason);
			}
			goto fail;
		}
	}
	return 0;
fail:
	cli_conf_free(out);
	return -1;
}

int cli_conf_load(const char *path, bool must_exist, cli_file_config *out, char *why)
{
	char reason[CLI_WHY_MAX];
	char base[CLI_PATH_MAX];
	const char *slash;
	struct stat st;
	bool toolarge = false;
	char *text;
	size_t len = 0;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if(fd < 0 && errno == ENOENT && !must_exist) {
		return 0;
	}
	if(fd < 0) {
		snprintf(why, CLI_WHY_MAX, "cannot open config file %s: %s", path, strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, CLI_WHY_MAX, "config file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if(st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(why, CLI_WHY_MAX, "config file %s belongs to another user: refusing to use it", path);
		close(fd);
		return -1;
	}
	if(st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, CLI_WHY_MAX, "config file %s can be changed by other users (mode %04o): "
				"run chmod go-w %s", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	text = cli_read_fd(fd, CONFIG_FILE_MAX, &len, &toolarge);
	close(fd);
	if(!text) {
		if(toolarge) {
			snprintf(why, CLI_WHY_MAX, "config file %s is larger than 64 KiB", path);
		} else {
			snprintf(why, CLI_WHY_MAX, "cannot read config file %s", path);
		}
		return -1;
	}
	slash = strrchr(path, '/');
	if(slash) {
		snprintf(base, sizeof(base), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	} else if(!getcwd(base, sizeof(base))) {
		snprintf(base, sizeof(base), ".");
	}
	rc = cli_conf_parse(text, len, base, out, reason);
	free(text);
	if(rc != 0) {
		snprintf(why, CLI_WHY_MAX, "config file %s: %.400s", path, reason);
	}
	return rc;
}
