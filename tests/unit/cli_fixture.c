/*
 * Shared fixture of the CLI unit tests (see cli_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_fixture.h"
#include "vcard.h"

int cxt_home_setup(cxt_home *h)
{
	const char *tmp = getenv("TMPDIR");

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "%s/cardex-unit-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
	if(!mkdtemp(h->dir)) {
		return -1;
	}
	snprintf(h->data, sizeof(h->data), "%s/data", h->dir);
	snprintf(h->config, sizeof(h->config), "%s/config", h->dir);
	setenv("HOME", h->dir, 1);
	setenv("XDG_DATA_HOME", h->data, 1);
	setenv("XDG_CONFIG_HOME", h->config, 1);
	unsetenv("CARDEX_HOST");
	unsetenv("CARDEX_PORT");
	unsetenv("CARDEX_ID");
	unsetenv("CARDEX_PASSWORD");
	return 0;
}

void cxt_home_teardown(cxt_home *h)
{
	if(h->dir[0]) {
		cxt_remove_tree(h->dir);
	}
	unsetenv("XDG_DATA_HOME");
	unsetenv("XDG_CONFIG_HOME");
}

void cxt_remove_tree(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if(lstat(path, &st) != 0) {
		return;
	}
	if(S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		d = opendir(path);
		while(d && (de = readdir(d)) != NULL) {
			char sub[1024];
			if(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
				continue;
			}
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			cxt_remove_tree(sub);
		}
		if(d) {
			closedir(d);
		}
		rmdir(path);
		return;
	}
	unlink(path);
}

void cxt_write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "wb");

	if(!f) {
		fail_msg("cannot create %s", path);
	}
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, (mode_t)mode), 0);
}

char *cxt_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if(!f) {
		return NULL;
	}
	buf = malloc(1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if(len) {
		*len = n;
	}
	return buf;
}

void cxt_data_path(const char *rel, char *buf, size_t cap)
{
	const char *dir = getenv("CARDEX_TEST_DATA");

	if(dir) {
		snprintf(buf, cap, "%s/%s", dir, rel);
	} else {
		/* Run by hand: the data sits next to this source file. */
		const char *slash = strrchr(__FILE__, '/');
		snprintf(buf, cap, "%.*s/../data/%s", slash ? (int)(slash - __FILE__) : 1,
				slash ? __FILE__ : ".", rel);
	}
}

void cxt_data_copy(const cxt_home *h, const char *rel, const char *name, char *out, size_t cap)
{
	char src[1024];
	char *text, *start;

	cxt_data_path(rel, src, sizeof(src));
	text = cxt_read_file(src, NULL);
	if(!text) {
		fail_msg("cannot read %s", src);
	}
	start = text;
	while(*start == '#') {
		char *nl = strchr(start, '\n');
		assert_non_null(nl);
		start = nl + 1;
	}
	snprintf(out, cap, "%s/%s", h->dir, name);
	cxt_write_file(out, start, 0600);
	free(text);
}

cx_card *cxt_card(const char *vcard)
{
	cx_card_err err = {0};
	cx_card *card = NULL;

	if(cx_vcard_parse(vcard, strlen(vcard), &card, 0, &err) != 0) {
		char buf[200];
		cx_card_err_format(&err, buf, sizeof(buf));
		fail_msg("test card rejected: %s", buf);
	}
	return card;
}

int cxt_mode(const char *path)
{
	struct stat st;

	if(lstat(path, &st) != 0) {
		return -1;
	}
	return (int)(st.st_mode & 07777);
}

int cxt_count_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if(!d) {
		return -1;
	}
	while((de = readdir(d)) != NULL) {
		if(strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			n++;
		}
	}
	closedir(d);
	return n;
}
