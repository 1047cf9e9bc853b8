/*
 * Runs the cardex CLI (the binary named by CARDEX_CLI) from integration
 * tests: fork/exec with no shell, a controlled environment, optional stdin
 * text, stdout and stderr read through pipes (or one pseudo-terminal) with
 * bounded waits, and a process that overstays killed by its PID.
 *
 * These are cmocka helpers: a failure of the harness itself (no pipe, no
 * fork, no output within CXR_RUN_MS) fails the running test through
 * cmocka's fail_msg/assert_* and does not return.
 */
#ifndef CX_TEST_CLI_RUN_H
#define CX_TEST_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define CXR_RUN_MS 30000   /* longest a CLI run may take */
#define CXR_OUT_MAX 131072 /* output kept per stream; more is dropped */
#define CXR_ENV_MAX 16

typedef struct {
	pid_t pid;
	int out;      /* stdout (or the pty master: stdout and stderr together), -1 at EOF */
	int err;      /* stderr, -1 at EOF or on a pty */
	char obuf[CXR_OUT_MAX];
	size_t olen;
	char ebuf[CXR_OUT_MAX];
	size_t elen;
	size_t oline; /* start of the first stdout line cxr_next_line has not returned */
	int status;   /* exit code, 128+signal, 999 when killed for overstaying; -1 while running */
} cxr_proc;

typedef struct {
	const char *exe;            /* the program to run; NULL: the CLI (cxr_cli) */
	const char *stdin_data;     /* on stdin, then EOF (at most PIPE_BUF bytes); NULL: empty stdin */
	const char *password;       /* CARDEX_PASSWORD; NULL: unset */
	bool pty;                   /* stdout, stderr (and stdin without stdin_data) on a new pseudo-terminal */
	const char *env[CXR_ENV_MAX]; /* applied in order: "NAME=value" sets, "NAME" unsets */
} cxr_opts;

/* The CLI's path: $CARDEX_CLI, or "cardex" from PATH. */
const char *cxr_cli(void);

/*
 * Starts the CLI (or o->exe) with args (NULL-terminated, without argv[0]). The child
 * starts without CARDEX_HOST, CARDEX_PORT, CARDEX_ID and CARDEX_PASSWORD,
 * then gets o->password and o->env. Returns the running process, which the
 * caller frees with cxr_free (cxr_track does that in a fixture).
 */
cxr_proc *cxr_spawn(const cxr_opts *o, const char *const *args);

/* Reads what stdout and stderr have within ms; false when both are at EOF. */
bool cxr_pump(cxr_proc *p, int ms);

/* Copies the next whole stdout line (without '\n') into line[cap]; fails the test after CXR_RUN_MS. */
void cxr_next_line(cxr_proc *p, char *line, size_t cap);

/*
 * Reads an offering CLI's next stdout line, which must be its JSON "offer"
 * event, and copies the key from it into key_line[cap] as "KEY\n" (what
 * the claiming CLI reads on stdin). Fails the test otherwise.
 */
void cxr_offer_key(cxr_proc *p, char *key_line, size_t cap);

/* Waits until stdout contains needle; fails the test after CXR_RUN_MS or at EOF. */
void cxr_wait_for(cxr_proc *p, const char *needle);

/* Waits (bounded by CXR_RUN_MS, then SIGKILL) for p to end while reading its output; returns p->status. */
int cxr_finish(cxr_proc *p);

/* Kills p by PID if it still runs, reaps it, closes its pipes and frees it. NULL is ignored. */
void cxr_free(cxr_proc *p);

/* Stores p in the first free one of slots[n] (freed later by cxr_free_all); fails the test when all are taken. */
void cxr_track(cxr_proc **slots, size_t n, cxr_proc *p);

/* cxr_free on each of slots[n], which are set to NULL. */
void cxr_free_all(cxr_proc **slots, size_t n);

/*
 * Parses every stdout line (split at '\r' and '\n') as JSON, failing the
 * test on one that is not, and returns the first whose "event" is event
 * (caller deletes), or NULL. When count is not NULL it gets how many there are.
 */
cJSON *cxr_json_event(const cxr_proc *p, const char *event, int *count);

/* Every stdout line parsed as JSON, in an array (caller deletes); fails the test on a line that is not JSON. */
cJSON *cxr_json_lines(const cxr_proc *p);

/* The string member name of o; fails the test when there is none. Owned by o. */
const char *cxr_jstr(const cJSON *o, const char *name);

/*
 * Copies $CARDEX_TEST_DATA/rel (tests/data/rel by default) to the new file
 * to (mode 0600) without its leading '#' comment lines, which the test data
 * carries and vCard has not. Fails the test when either file fails.
 */
void cxr_copy_data(const char *rel, const char *to);

/* Writes p's stdout to path; fails the test when it cannot. */
void cxr_save_output(const cxr_proc *p, const char *path);

/* Removes path and everything below it; a missing path is not an error. */
void cxr_remove_tree(const char *path);

#endif
