/*
 * Our card profiles: named cards ("work", "personal") kept as vCard 4.0
 * files in <data>/profiles/<name>.vcf, and the name of the default one in
 * <data>/default-profile. Only this terminal ever reads them; what leaves it
 * is chosen per offer or claim (owncard.c).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crypto.h"
#include "vcard.h"

/* A profile file larger than this is refused before parsing. */
#define PROFILE_FILE_MAX (1024 * 1024)
#define DEFAULT_FILE "default-profile"

bool cli_profile_name_valid(const char *name)
{
	size_t n = strlen(name);

	/* A terminal-ID-like name that cannot be a dot file or hold a path. */
	return n > 0 && n <= CLI_PROFILE_MAX && name[0] != '.' && cx_id_valid(name, n);
}

/* Path of profile name's file in path[CLI_PATH_MAX]; creates the directory when asked. */
static int profile_path(const cli_store *st, const char *name, bool create, char *path, char *why)
{
	char dir[CLI_PATH_MAX];
	int rc = cli_store_dir(st, "profiles", create, dir, sizeof(dir), why);
	int n;

	if(rc != 0) {
		return rc;
	}
	n = snprintf(path, CLI_PATH_MAX, "%s/%s.vcf", dir, name);
	if(n < 0 || n >= CLI_PATH_MAX) {
		snprintf(why, CLI_WHY_MAX, "the profile's path is too long");
		return -1;
	}
	return 0;
}

/* qsort order of profile names. */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void cli_names_free(char **names, size_t n)
{
	size_t i;

	for(i = 0; names && i < n; i++) {
		free(names[i]);
	}
	free(names);
}

int cli_profile_list(const cli_store *st, char ***names, size_t *n, char *why)
{
	char dir[CLI_PATH_MAX];
	struct dirent *de;
	char **list = NULL;
	size_t cnt = 0, cap = 0;
	DIR *d;
	int rc;

	*names = NULL;
	*n = 0;
	rc = cli_store_opendir(st, "profiles", dir, sizeof(dir), &d, why);
	if(rc != 0) {
		return rc == 1 ? 0 : -1;
	}
	while((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *name;

		/* Temporary files of an interrupted write start with '.': never a profile. */
		if(len <= 4 || strcmp(de->d_name + len - 4, ".vcf") != 0) {
			continue;
		}
		name = strndup(de->d_name, len - 4);
		if(!name || !cli_profile_name_valid(name)) {
			free(name);
			if(!name) {
				goto nomem;
			}
			continue;
		}
		if(cnt == cap) {
			char **nl = realloc(list, (cap ? cap * 2 : 8) * sizeof(*nl));
			if(!nl) {
				free(name);
				goto nomem;
			}
			list = nl;
			cap = cap ? cap * 2 : 8;
		}
		list[cnt++] = name;
	}
	closedir(d);
	if(cnt > 1) {
		qsort(list, cnt, sizeof(*list), cmp_names);
	}
	*names = list;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	cli_names_free(list, cnt);
	snprintf(why, CLI_WHY_MAX, "out of memory");
	return -1;
}

int cli_profile_load(const cli_store *st, const char *name, cx_card **out, char *why)
{
	char path[CLI_PATH_MAX];
	char reason[200];
	cx_card_err err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if(!cli_profile_name_valid(name)) {
		return 1;
	}
	rc = profile_path(st, name, false, path, why);
	if(rc != 0) {
		return rc;
	}
	rc = cli_store_read(path, PROFILE_FILE_MAX, &text, &len, why);
	if(rc != 0) {
		return rc;
	}
	if(cx_vcard_parse(text, len, out, CX_VCARD_PHOTO_MAX_DEFAULT, &err) != 0
			|| cx_card_check(*out, CX_VCARD_PHOTO_MAX_DEFAULT, &err) != 0) {
		cx_card_free(*out);
		*out = NULL;
		cx_card_err_format(&err, reason, sizeof(reason));
		snprintf(why, CLI_WHY_MAX, "profile %s (%.200s) is not a valid card: %s", name, path, reason);
		rc = -1;
	}
	cx_wipe(text, len);
	free(text);
	return rc;
}

/* Reads the default-profile file: 0 with name, 1 when none, -1. */
static int read_default(const cli_store *st, char *name, char *why)
{
	char path[CLI_PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = cli_store_dir(st, "", false, path, sizeof(path), why);
	if(rc != 0) {
		return rc;
	}
	if(strlen(path) + sizeof(DEFAULT_FILE) + 1 > sizeof(path)) {
		snprintf(why, CLI_WHY_MAX, "the data directory's path is too long");
		return -1;
	}
	strcat(path, "/" DEFAULT_FILE);
	rc = cli_store_read(path, 256, &text, &len, why);
	if(rc != 0) {
		return rc;
	}
	while(len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ')) {
		text[--len] = '\0';
	}
	if(len == 0) {
		rc = 1;
	} else if(!cli_profile_name_valid(text)) {
		/* The path could fill why on its own; the file's name says enough. */
		snprintf(why, CLI_WHY_MAX, "the data directory's " DEFAULT_FILE " file does not hold a "
				"profile name; set one with 'cardex card default NAME'");
		rc = -1;
	} else {
		memcpy(name, text, len + 1);
	}
	free(text);
	return rc;
}

/* Writes (name) or removes (NULL) the default-profile file. */
static int write_default(const cli_store *st, const char *name, char *why)
{
	char path[CLI_PATH_MAX];
	char line[CLI_PROFILE_MAX + 2];
	int n;

	if(cli_store_dir(st, "", true, path, sizeof(path), why) != 0) {
		return -1;
	}
	if(strlen(path) + sizeof(DEFAULT_FILE) + 1 > sizeof(path)) {
		snprintf(why, CLI_WHY_MAX, "the data directory's path is too long");
		return -1;
	}
	strcat(path, "/" DEFAULT_FILE);
	if(!name) {
		return cli_store_remove(path, why) < 0 ? -1 : 0;
	}
	n = snprintf(line, sizeof(line), "%s\n", name);
	return cli_store_write(path, line, (size_t)n, why);
}

/* True when profile name has a file. */
static bool profile_exists(const cli_store *st, const char *name)
{
	char path[CLI_PATH_MAX];
	char why[CLI_WHY_MAX];
	FILE *f;

	if(profile_path(st, name, false, path, why) != 0) {
		return false;
	}
	f = fopen(path, "r");
	if(!f) {
		return false;
	}
	fclose(f);
	return true;
}

int cli_profile_default(const cli_store *st, char *name, char *why)
{
	int rc = read_default(st, name, why);

	if(rc == 0 && !profile_exists(st, name)) {
		name[0] = '\0';
		return 1;
	}
	return rc;
}

int cli_profile_set_default(const cli_store *st, const char *name, char *why)
{
	if(!cli_profile_name_valid(name) || !profile_exists(st, name)) {
		return 1;
	}
	return write_default(st, name, why);
}

int cli_profile_save(const cli_store *st, const char *name, const cx_card *card,
		bool *made_default, char *why)
{
	char path[CLI_PATH_MAX];
	char current[CLI_PROFILE_MAX + 1];
	char reason[200];
	cx_card_err err = {0};
	char *text = NULL;
	size_t len = 0;
	int rc;

	if(made_default) {
		*made_default = false;
	}
	if(!cli_profile_name_valid(name)) {
		snprintf(why, CLI_WHY_MAX, "invalid profile name "
				"(1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.')");
		return -1;
	}
	if(cx_card_check(card, CX_VCARD_PHOTO_MAX_DEFAULT, &err) != 0) {
		cx_card_err_format(&err, reason, sizeof(reason));
		snprintf(why, CLI_WHY_MAX, "not a valid card: %s", reason);
		return -1;
	}
	if(profile_path(st, name, true, path, why) != 0) {
		return -1;
	}
	if(cx_vcard_write(card, &text, &len) != 0) {
		snprintf(why, CLI_WHY_MAX, "out of memory");
		return -1;
	}
	rc = cli_store_write(path, text, len, why);
	cx_wipe(text, len);
	free(text);
	if(rc != 0) {
		return -1;
	}
	rc = cli_profile_default(st, current, why);
	if(rc < 0) {
		return -1;
	}
	if(rc == 1) {
		if(write_default(st, name, why) != 0) {
			return -1;
		}
		if(made_default) {
			*made_default = true;
		}
	}
	return 0;
}

int cli_profile_remove(const cli_store *st, const char *name, bool *was_default, char *why)
{
	char path[CLI_PATH_MAX];
	char current[CLI_PROFILE_MAX + 1];
	int rc;

	*was_default = false;
	if(!cli_profile_name_valid(name)) {
		return 1;
	}
	rc = read_default(st, current, why);
	if(rc < 0) {
		return -1;
	}
	*was_default = rc == 0 && strcmp(current, name) == 0;
	rc = profile_path(st, name, false, path, why);
	if(rc != 0) {
		return rc;
	}
	rc = cli_store_remove(path, why);
	if(rc != 0) {
		*was_default = false;
		return rc;
	}
	if(*was_default && write_default(st, NULL, why) != 0) {
		return -1;
	}
	return 0;
}

int cli_profile_resolve(const cli_config *cfg, const cli_store *st, char *name, char *why)
{
	if(cfg->profile) {
		snprintf(name, CLI_PROFILE_MAX + 1, "%s", cfg->profile);
		return 0;
	}
	return cli_profile_default(st, name, why);
}
