/*
 * Test harness: a private Mosquitto on a free 127.0.0.1 port, with a generated
 * config and password file in a temporary directory, optionally loading the
 * built cardex plugin. Paths come from the environment that ctest sets:
 * MOSQUITTO, MOSQUITTO_PASSWD, CARDEX_PLUGIN.
 */
#ifndef CX_TEST_BROKER_H
#define CX_TEST_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
	const char *id;       /* MQTT username (terminal ID) */
	const char *password;
} cxb_account;

typedef struct {
	bool plugin;              /* load mosquitto_cardex.so */
	const char *plugin_opts;  /* extra lines, e.g. "plugin_opt_attempts 2\n"; may be NULL */
	const char *extra_conf;   /* extra lines for the listener/global section; may be NULL */
	const cxb_account *accounts;
	size_t naccounts;
	bool tls;                 /* reserved for TLS listeners: needs certfile/keyfile in extra_conf */
} cxb_config;

typedef struct {
	pid_t pid;
	int port;
	char dir[256];      /* temporary directory holding config, passwords, log */
	char conf[320];
	char log[320];
	char pwfile[320];
	int exit_status;    /* wait status once the broker was reaped, -1 before */
	bool killed;        /* ended by cxb_kill: its exit-time checks did not run */
} cxb_broker;

/*
 * Instrumented brokers. Two environment variables, read at every start,
 * change how the broker runs (scripts/test-sanitized-plugin sets them):
 *
 * CARDEX_BROKER_PRELOAD  space-separated libraries put in the broker's
 *     LD_PRELOAD (the ASan and UBSan runtimes, for a plugin built with
 *     them). ASAN_OPTIONS and UBSAN_OPTIONS are passed on with log_path set
 *     to <dir>/asan and <dir>/ubsan, so that reports land in files.
 * CARDEX_BROKER_WRAPPER  a command the broker runs under, split at spaces,
 *     "@DIR@" replaced by the broker's directory (for example
 *     "valgrind --leak-check=full --log-file=@DIR@/valgrind.%p.log ...").
 *
 * In either mode the waits to start and stop are longer, and cxb_stop
 * looks for reports: any asan.* or ubsan.* file, a valgrind.* file whose
 * "ERROR SUMMARY" is not 0, and an exit other than status 0 after SIGTERM.
 * A report is printed to stderr with "broker harness: REPORT"; see
 * cxb_stop_check.
 */

/* True when CARDEX_BROKER_PRELOAD or CARDEX_BROKER_WRAPPER is set. */
bool cxb_instrumented(void);

/*
 * Starts the broker and waits (at most 10 s, 60 s instrumented) until it
 * accepts TCP connections on its port (instrumented, also until it logged
 * that it runs: every listener open, signal handlers set). Returns 0, or -1
 * with the broker's log printed to stderr and everything cleaned up.
 */
int cxb_start(cxb_broker *b, const cxb_config *cfg);

/*
 * Sends SIGTERM (again every second, as Mosquitto 2.0.11 may lose one that
 * comes right after its start), waits up to 5 s (60 s instrumented: leak
 * checks run at exit), then SIGKILL; removes the directory. Accepts a
 * stopped broker.
 * Instrumented, a report found (see above) is printed, and the test
 * process will exit with status 1 even if every test passed.
 */
void cxb_stop(cxb_broker *b);

/*
 * Kills the broker with SIGKILL, as a crash would, and reaps it: nothing it
 * does at exit runs, and its end is not a report; under valgrind, a log cut
 * short is one only when it shows an error. The directory, configuration
 * and port stay for cxb_restart and cxb_stop, which the caller still calls.
 * Accepts a stopped broker.
 */
void cxb_kill(cxb_broker *b);

/*
 * cxb_stop that also tells the caller: returns 0, or -1 when a report was
 * found (printed to stderr, and counted as cxb_stop does).
 */
int cxb_stop_check(cxb_broker *b);

/*
 * Resident memory of the broker process in KiB (VmRSS in /proc/<pid>/status),
 * or -1 when it cannot be read. Instrumented, this includes the sanitizer's
 * or valgrind's own memory.
 */
long cxb_rss_kb(const cxb_broker *b);

/*
 * Starts a broker stopped by cxb_kill again, with the same configuration
 * and port. Returns 0, or -1 (its log printed to stderr).
 */
int cxb_restart(cxb_broker *b);

/* True while the broker process is alive. */
bool cxb_alive(cxb_broker *b);

/* True when the broker's log file contains needle. */
bool cxb_log_contains(const cxb_broker *b, const char *needle);

/*
 * Reads the whole file at path into a malloc'ed buffer with a NUL after its
 * end (the file may hold NUL bytes too); *len (when len is not NULL) gets
 * its size. NULL when it cannot be read.
 */
char *cxb_read_file(const char *path, size_t *len);

/*
 * Starts a broker that must refuse to start (a bad option, a bad file) and
 * returns its log as a malloc'ed string, its directory removed (unless
 * CARDEX_KEEP_BROKER_DIR is set). Returns NULL when the log cannot be read,
 * or when the broker started after all (it is stopped, and "broker started"
 * is printed to stderr).
 */
char *cxb_start_refused(const cxb_config *cfg);

/*
 * cxb_start_refused, and whether the broker refused with needle in its log.
 * When not, says why on stderr (with the log). For assert_true.
 */
bool cxb_refused_with(const cxb_config *cfg, const char *needle);

/* Reads the whole log into a malloc'ed NUL-terminated string (NULL on error). */
char *cxb_log_read(const cxb_broker *b);

/* A port on 127.0.0.1 that was free a moment ago, or -1. */
int cxb_free_port(void);

/*
 * Mosquitto's dynamic-security plugin: $MOSQUITTO_DYNSEC_PLUGIN when set
 * (NULL when it cannot be read), else the first readable usual place, else
 * NULL (tests that need it skip).
 */
const char *cxb_dynsec_plugin(void);

/* Milliseconds of a monotonic clock, for bounded waits in tests. */
long long cxb_now_ms(void);

#endif
