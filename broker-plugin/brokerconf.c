/*
 * Reads the broker's own configuration (brokerconf.h), the way Mosquitto
 * 2.0.11's conf.c does: a line whose first character is '#' is a comment,
 * words are separated by spaces, include_dir is honoured in the main file
 * only and reads its *.conf files in case-insensitive name order.
 */
#define _DEFAULT_SOURCE /* realpath, strcasecmp, scandir */

#include "brokerconf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CMDLINE_MAX 65536
#define CONF_LINE_MAX 4096
#define INCLUDE_FILES_MAX 1000

__attribute__((format(printf, 2, 3)))
static void fail(struct brokerconf *bc, const char *fmt, ...)
{
	va_list ap;

	bc->read = false;
	va_start(ap, fmt);
	vsnprintf(bc->why, sizeof(bc->why), fmt, ap);
	va_end(ap);
}

/* The -c / --config-file argument of this process into out; false when none. */
static bool config_path(struct brokerconf *bc, char *out, size_t cap)
{
	char *buf = malloc(CMDLINE_MAX);
	ssize_t n = -1;
	bool found = false;
	int fd;

	if(buf == NULL){
		fail(bc, "out of memory");
		return false;
	}
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if(fd >= 0){
		n = read(fd, buf, CMDLINE_MAX - 1);
		close(fd);
	}
	if(n <= 0){
		fail(bc, "cannot read /proc/self/cmdline");
		free(buf);
		return false;
	}
	buf[n] = '\0';
	for(ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1){
		const char *arg = buf + i;
		ssize_t next = i + (ssize_t)strlen(arg) + 1;

		if((strcmp(arg, "-c") == 0 || strcmp(arg, "--config-file") == 0) && next < n){
			snprintf(out, cap, "%s", buf + next);
			found = true; /* Mosquitto takes the last one too */
		}
	}
	free(buf);
	if(!found){
		fail(bc, "the broker was started without -c (no configuration file)");
	}
	return found;
}

/* True when path names the same file as self_path, or its basename is the plugin's. */
static bool is_self(const char *path, const char *self_real)
{
	char real[PATH_MAX];
	const char *base = strrchr(path, '/');

	base = base != NULL ? base + 1 : path;
	if(strcmp(base, "mosquitto_cardex.so") == 0){
		return true;
	}
	return self_real[0] != '\0' && realpath(path, real) != NULL && strcmp(real, self_real) == 0;
}

static int scan_file(struct brokerconf *bc, const char *path, int level, const char *self_real);

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcasecmp((*a)->d_name, (*b)->d_name);
}

static int conf_only(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 5 && strcmp(d->d_name + len - 5, ".conf") == 0;
}

static int scan_dir(struct brokerconf *bc, const char *dir, const char *self_real)
{
	struct dirent **list = NULL;
	int n = scandir(dir, &list, conf_only, name_cmp);
	int rc = 0;

	if(n < 0){
		fail(bc, "cannot read include_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if(n > INCLUDE_FILES_MAX){
		fail(bc, "include_dir %s holds too many files", dir);
		rc = -1;
	}
	for(int i = 0; i < n; i++){
		char path[PATH_MAX];

		if(rc == 0){
			if((size_t)snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name) >= sizeof(path)){
				fail(bc, "path too long in include_dir %s", dir);
				rc = -1;
			}else{
				rc = scan_file(bc, path, 1, self_real);
			}
		}
		free(list[i]);
	}
	free(list);
	return rc;
}

/* The value of a "key value..." line: the rest after the key, trailing blanks removed. */
static char *rest_of(char *p)
{
	size_t len;

	p += strspn(p, " ");
	len = strlen(p);
	while(len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')){
		p[--len] = '\0';
	}
	return p;
}

static void note_plugin(struct brokerconf *bc, const char *value, const char *self_real)
{
	if(is_self(value, self_real)){
		bc->self_found = true;
		return;
	}
	bc->other_plugins++;
	if(!bc->self_found){
		if(bc->plugins_before == 0){
			snprintf(bc->first_before, sizeof(bc->first_before), "%s", value);
		}
		bc->plugins_before++;
	}
}

/* One line, already stripped of its line end. Returns 0 or -1 (bc->why set). */
static int scan_line(struct brokerconf *bc, char *line, int level, const char *self_real)
{
	char *key;
	char *value;
	size_t klen;

	if(line[0] == '#' || line[0] == '\0'){
		return 0;
	}
	key = line + strspn(line, " ");
	klen = strcspn(key, " ");
	if(klen == 0){
		return 0;
	}
	value = key[klen] != '\0' ? rest_of(key + klen + 1) : key + klen;
	key[klen] = '\0';
	if(strcmp(key, "acl_file") == 0){
		bc->acl_files++;
	}else if(strcmp(key, "password_file") == 0){
		bc->password_files++;
	}else if(strcmp(key, "plugin") == 0 || strcmp(key, "auth_plugin") == 0){
		note_plugin(bc, value, self_real);
	}else if(strcmp(key, "per_listener_settings") == 0){
		bc->per_listener_settings = strcmp(value, "true") == 0;
	}else if(strcmp(key, "allow_anonymous") == 0){
		bc->allow_anonymous = strcmp(value, "true") == 0;
	}else if(strcmp(key, "connection") == 0){
		bc->bridges++;
	}else if(strcmp(key, "persistent_client_expiration") == 0){
		/* Too long to be a duration: kept cut, so that it does not parse as one. */
		snprintf(bc->session_expiry, sizeof(bc->session_expiry), "%s", value);
	}else if(strcmp(key, "upgrade_outgoing_qos") == 0){
		bc->upgrade_outgoing_qos = strcmp(value, "true") == 0;
	}else if(strcmp(key, "persistence") == 0 || strcmp(key, "retained_persistence") == 0){
		bc->persistence = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
	}else if(strcmp(key, "persistence_file") == 0 || strcmp(key, "persistence_location") == 0){
		/* Mosquitto refuses a second line of either, so there is one value. */
		char *out = strcmp(key, "persistence_file") == 0 ? bc->persistence_file : bc->persistence_location;

		if((size_t)snprintf(out, BROKERCONF_PATH_MAX, "%s", value) >= BROKERCONF_PATH_MAX){
			fail(bc, "%s is too long in %s", key, bc->file);
			return -1;
		}
	}else if(strcmp(key, "include_dir") == 0 && level == 0 && value[0] != '\0'){
		return scan_dir(bc, value, self_real);
	}
	return 0;
}

static int scan_file(struct brokerconf *bc, const char *path, int level, const char *self_real)
{
	char *line = malloc(CONF_LINE_MAX);
	FILE *f;
	int rc = 0;

	if(line == NULL){
		fail(bc, "out of memory");
		return -1;
	}
	f = fopen(path, "re");
	if(f == NULL){
		fail(bc, "cannot read %s: %s", path, strerror(errno));
		free(line);
		return -1;
	}
	while(rc == 0 && fgets(line, CONF_LINE_MAX, f) != NULL){
		size_t len = strlen(line);

		if(len > 0 && line[len - 1] != '\n' && !feof(f)){
			fail(bc, "a line of %s is too long to read", path);
			rc = -1;
			break;
		}
		while(len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')){
			line[--len] = '\0';
		}
		rc = scan_line(bc, line, level, self_real);
	}
	if(rc == 0 && ferror(f)){
		fail(bc, "cannot read %s: %s", path, strerror(errno));
		rc = -1;
	}
	fclose(f);
	free(line);
	return rc;
}

void brokerconf_scan(struct brokerconf *bc, const char *self_path)
{
	char self_real[PATH_MAX] = "";

	memset(bc, 0, sizeof(*bc));
	if(self_path != NULL && realpath(self_path, self_real) == NULL){
		self_real[0] = '\0';
	}
	if(!config_path(bc, bc->file, sizeof(bc->file))){
		return;
	}
	bc->read = true;
	if(scan_file(bc, bc->file, 0, self_real) != 0){
		return;
	}
	if(!bc->self_found){
		fail(bc, "%s has no plugin line for this plugin", bc->file);
	}
}
