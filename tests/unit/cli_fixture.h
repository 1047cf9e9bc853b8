/*
 * Shared fixture of the CLI unit tests: a private temporary directory that
 * stands in for the user's home, with XDG_DATA_HOME and XDG_CONFIG_HOME
 * pointing into it, so that no test ever touches the real data directory.
 */
#ifndef CX_TEST_CLI_FIXTURE_H
#define CX_TEST_CLI_FIXTURE_H

#include <stddef.h>

#include "card.h"

typedef struct {
	char dir[512];     /* the temporary home */
	char data[600];    /* $XDG_DATA_HOME */
	char config[600];  /* $XDG_CONFIG_HOME */
} cxt_home;

/* Creates the home and points HOME, XDG_DATA_HOME and XDG_CONFIG_HOME at it. 0 or -1. */
int cxt_home_setup(cxt_home *h);
/* Removes the home and everything in it; unsets the variables. */
void cxt_home_teardown(cxt_home *h);

/* Removes path and everything below it. */
void cxt_remove_tree(const char *path);

/* Writes text to path with mode (fails the test on error). */
void cxt_write_file(const char *path, const char *text, int mode);

/* The whole file (malloc'ed, NUL-terminated; *len when not NULL), or NULL. */
char *cxt_read_file(const char *path, size_t *len);

/* Path of tests/data/<rel> into buf[cap]. */
void cxt_data_path(const char *rel, char *buf, size_t cap);

/*
 * Copies tests/data/<rel> without its leading '#' comment lines to
 * <home>/<name> and writes that path into out[cap].
 */
void cxt_data_copy(const cxt_home *h, const char *rel, const char *name, char *out, size_t cap);

/* A card parsed from vCard text (fails the test when invalid). */
cx_card *cxt_card(const char *vcard);

/* Mode bits (07777) of path, or -1. */
int cxt_mode(const char *path);

/* Number of entries in directory path (without . and ..), or -1. */
int cxt_count_entries(const char *path);

#endif
