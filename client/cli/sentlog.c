/*
 * The record of what this terminal sent to whom: <data>/sent.log, one JSON
 * object per line, appended when the server confirms that our card passed:
 *
 *   {"time":"2024-03-01T09:30:00Z","id":"A","peer":"B","exchange":"3f1c...",
 *    "profile":"work","fields":["fn","org","email"]}
 *
 * ("card_file" instead of "profile" when the card came from --card). It
 * names the fields, never their values: the cards themselves stay in the
 * profiles.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "json.h"

#define LOG_FILE "sent.log"
#define LOG_MAX (16 * 1024 * 1024)

/*
 * Path of the sent log in path[CLI_PATH_MAX]. Returns 0, 1 when the data
 * directory is missing (!create), or -1 with why set.
 */
static int log_path(const cli_store *st, bool create, char *path, char *why)
{
	int rc = cli_store_dir(st, "", create, path, CLI_PATH_MAX, why);

	if(rc != 0) {
		return rc;
	}
	if(strlen(path) + sizeof(LOG_FILE) + 1 > CLI_PATH_MAX) {
		snprintf(why, CLI_WHY_MAX, "the data directory's path is too long");
		return -1;
	}
	strcat(path, "/" LOG_FILE);
	return 0;
}

/* The "fields" array of a comma-separated list. */
static cJSON *fields_array(const char *fields)
{
	cJSON *arr = cJSON_CreateArray();
	const char *p = fields;

	while(arr && p && *p) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char name[128];
		cJSON *s;

		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) - 1 ? n : sizeof(name) - 1), p);
		s = cJSON_CreateString(name);
		if(!s || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			cJSON_Delete(arr);
			return NULL;
		}
		p = comma ? comma + 1 : NULL;
	}
	return arr;
}

/*
 * The JSON line of e: malloc'ed (the caller frees it), *len its strlen,
 * with room for one more byte. NULL when memory runs out.
 */
static char *entry_line(const cli_sent *e, size_t *len)
{
	char stamp[21];
	cJSON *obj = cJSON_CreateObject();
	cJSON *fields = fields_array(e->fields);
	char *text = NULL;
	bool ok;

	cli_time_iso(e->time, stamp);
	ok = obj && fields && cJSON_AddStringToObject(obj, "time", stamp)
			&& cJSON_AddStringToObject(obj, "id", e->id) && cJSON_AddStringToObject(obj, "peer", e->peer)
			&& cJSON_AddStringToObject(obj, "exchange", e->exchange)
			&& (e->profile ? cJSON_AddStringToObject(obj, "profile", e->profile) != NULL
					: cJSON_AddStringToObject(obj, "card_file", e->card_file ? e->card_file : "") != NULL);
	if(ok && cJSON_AddItemToObject(obj, "fields", fields)) {
		fields = NULL;
		text = cx_json_print(obj, 512 + 2 * strlen(e->fields ? e->fields : ""), len);
	}
	cJSON_Delete(fields);
	cJSON_Delete(obj);
	return text;
}

int cli_sentlog_append(const cli_store *st, const cli_sent *e, char *why)
{
	char path[CLI_PATH_MAX];
	size_t len = 0;
	char *line;
	ssize_t w;
	int fd;

	if(log_path(st, true, path, why) != 0) {
		return -1;
	}
	line = entry_line(e, &len);
	if(!line) {
		snprintf(why, CLI_WHY_MAX, "out of memory");
		return -1;
	}
	line[len] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if(fd < 0) {
		snprintf(why, CLI_WHY_MAX, "cannot open %.300s: %s", path, strerror(errno));
		free(line);
		return -1;
	}
	/* One write per line: appends of other cardex runs never interleave inside it. */
	w = write(fd, line, len + 1);
	free(line);
	if(w != (ssize_t)(len + 1) || close(fd) != 0) {
		snprintf(why, CLI_WHY_MAX, "cannot write %.300s: %s", path, w < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

/* Prints one log line as a table row; false when it is not an entry. */
static bool print_row(const char *line, size_t n)
{
	cJSON *obj = cJSON_ParseWithLength(line, n);
	const cJSON *fields, *f;
	const char *tm = NULL, *peer = NULL, *profile = NULL, *file = NULL;
	bool first = true;

	if(!cJSON_IsObject(obj) || cx_json_get_string(obj, "time", &tm, NULL) != CX_JSON_OK
			|| cx_json_get_string(obj, "peer", &peer, NULL) != CX_JSON_OK) {
		cJSON_Delete(obj);
		return false;
	}
	cx_json_get_string(obj, "profile", &profile, NULL);
	cx_json_get_string(obj, "card_file", &file, NULL);
	printf("%-20s  %-16s  ", tm, peer);
	if(profile) {
		printf("%-12s  ", profile);
	} else {
		fputs("(file)        ", stdout);
	}
	fields = cJSON_GetObjectItemCaseSensitive(obj, "fields");
	cJSON_ArrayForEach(f, fields) {
		if(cJSON_IsString(f)) {
			fputs(first ? "" : ",", stdout);
			cli_put_clean(stdout, f->valuestring);
			first = false;
		}
	}
	fputc('\n', stdout);
	cJSON_Delete(obj);
	return true;
}

int cli_sentlog_print(const cli_store *st, bool json, char *why)
{
	char path[CLI_PATH_MAX];
	char *text = NULL;
	size_t len = 0, pos = 0;
	unsigned lineno = 0;
	int rc;

	rc = log_path(st, false, path, why);
	if(rc == 0) {
		rc = cli_store_read(path, LOG_MAX, &text, &len, why);
	}
	if(rc < 0) {
		return -1;
	}
	if(rc == 1) {
		if(!json) {
			puts("Nothing sent yet.");
		}
		return 0;
	}
	if(!json) {
		printf("%-20s  %-16s  %-12s  %s\n", "TIME", "TO", "PROFILE", "FIELDS");
	}
	while(pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if(n > 0 && json) {
			fwrite(text + pos, 1, n, stdout);
			fputc('\n', stdout);
		} else if(n > 0 && !print_row(text + pos, n)) {
			fprintf(stderr, "cardex: warning: %s: line %u is not a log entry\n", path, lineno);
		}
		pos += n + 1;
	}
	free(text);
	fflush(stdout);
	return 0;
}
