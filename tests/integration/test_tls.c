/*
 * TLS tests: libcardex and the cardex CLI against the real Mosquitto with the
 * plugin on a TLS listener.
 *
 * The group setup makes, with the `openssl` command (fork/exec, no shell), a
 * throwaway CA, a server certificate it signs for "localhost" and 127.0.0.1,
 * a second server certificate it signs for "cardex.invalid" only, and a
 * second, unrelated CA, all in a fresh temporary directory. Each test starts
 * its own broker with one of the server certificates (certfile/keyfile in
 * the listener section, TLS 1.2), then checks that full exchanges pass with
 * the right CA and that a wrong CA, a host name the certificate does not
 * carry, and plain MQTT on the TLS port fail quickly with a clear error.
 *
 * Every wait is bounded; every process is ended by its PID.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "cli_run.h"
#include "cardex.h"

#define OPENSSL_MS 30000 /* longest one openssl command may take */
#define WAIT_MS 15000    /* longest a full exchange may take */
#define FAIL_MS 4000     /* a refused TLS connection is reported within this, well before a timeout */
#define SLICE_MS 20      /* one turn of a handle when two are driven alternately */

static const cxb_account accounts[] = {
	{"A", "pw-a-secret"},
	{"B", "pw-b-secret"},
};

/* The certificates of the whole group, made once. */
static struct {
	char dir[256];
	char ca[320];            /* the CA that signed both server certificates */
	char other_ca[320];      /* an unrelated CA */
	char good_crt[320];      /* CN localhost, SAN DNS:localhost, IP:127.0.0.1 */
	char good_key[320];
	char invalid_crt[320];   /* CN and SAN DNS:cardex.invalid only */
	char invalid_key[320];
	char not_pem[320];       /* a file that is not a certificate */
} pki;

struct fx {
	cxb_broker b;
	bool started;
	char port[16];
	char card_ada[1024];
	char card_grace[1024];
	cardex *a;
	cardex *bb;
	cxr_proc *procs[2];
};

/* ---- certificates ---- */

/* The extensions of each certificate, so that nothing depends on the system's openssl.cnf. */
static const char openssl_cnf[] =
	"[req]\n"
	"distinguished_name = dn\n"
	"prompt = no\n"
	"[dn]\n"
	"CN = unused\n"
	"[v3_ca]\n"
	"basicConstraints = critical,CA:TRUE\n"
	"keyUsage = critical,keyCertSign,cRLSign\n"
	"subjectKeyIdentifier = hash\n"
	"[v3_localhost]\n"
	"basicConstraints = critical,CA:FALSE\n"
	"keyUsage = critical,digitalSignature,keyEncipherment\n"
	"extendedKeyUsage = serverAuth\n"
	"subjectAltName = DNS:localhost,IP:127.0.0.1\n"
	"[v3_invalid]\n"
	"basicConstraints = critical,CA:FALSE\n"
	"keyUsage = critical,digitalSignature,keyEncipherment\n"
	"extendedKeyUsage = serverAuth\n"
	"subjectAltName = DNS:cardex.invalid\n";

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while(nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc;

	if(!f) {
		return -1;
	}
	rc = fputs(text, f) >= 0 ? 0 : -1;
	if(fclose(f) != 0) {
		rc = -1;
	}
	return rc;
}

/* Prints a file to stderr, for diagnosing a failed command. */
static void dump(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if(!f) {
		return;
	}
	while((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		fwrite(buf, 1, n, stderr);
	}
	fclose(f);
}

/*
 * Runs `openssl args...` in pki.dir with its output in openssl.log; kills it
 * (by PID) when it overstays. Returns 0 when it exited 0, -1 otherwise (the
 * log is printed).
 */
static int openssl_run(const char *const *args)
{
	const char *exe = getenv("OPENSSL");
	long long deadline = cxb_now_ms() + OPENSSL_MS;
	char log[320];
	char *argv[32];
	size_t n = 0;
	int status = -1;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/openssl.log", pki.dir);
	argv[n++] = (char *)(exe && exe[0] ? exe : "openssl");
	while(args[n - 1] && n < 31) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;
	pid = fork();
	if(pid < 0) {
		return -1;
	}
	if(pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if(null >= 0) {
			dup2(null, STDIN_FILENO);
		}
		if(out >= 0) {
			dup2(out, STDOUT_FILENO);
			dup2(out, STDERR_FILENO);
		}
		if(chdir(pki.dir) != 0) {
			_exit(126);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	for(;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if(r == pid) {
			break;
		}
		if(cxb_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			status = -1;
			break;
		}
		sleep_ms(10);
	}
	if(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		return 0;
	}
	fprintf(stderr, "test_tls: openssl %s failed:\n", args[0]);
	dump(log);
	return -1;
}

/* A P-256 key and a certificate for cn, signed by ca (NULL: self-signed) with extension section ext. */
static int make_cert(const char *name, const char *cn, const char *ca, const char *ext)
{
	char key[64], crt[64], csr[64], subj[128], ca_crt[64], ca_key[64];
	static int serial = 1;
	char serial_s[16];

	snprintf(key, sizeof(key), "%s.key", name);
	snprintf(crt, sizeof(crt), "%s.crt", name);
	snprintf(csr, sizeof(csr), "%s.csr", name);
	snprintf(subj, sizeof(subj), "/CN=%s", cn);
	if(!ca) {
		const char *args[] = {"req", "-x509", "-config", "openssl.cnf", "-newkey", "ec",
			"-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
			"-days", "2", "-subj", subj, "-extensions", ext, NULL};

		return openssl_run(args);
	}
	snprintf(ca_crt, sizeof(ca_crt), "%s.crt", ca);
	snprintf(ca_key, sizeof(ca_key), "%s.key", ca);
	snprintf(serial_s, sizeof(serial_s), "%d", ++serial);
	{
		const char *req[] = {"req", "-new", "-config", "openssl.cnf", "-newkey", "ec",
			"-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", csr,
			"-subj", subj, NULL};
		const char *sign[] = {"x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
			"-set_serial", serial_s, "-days", "2", "-out", crt, "-extfile", "openssl.cnf",
			"-extensions", ext, NULL};

		if(openssl_run(req) != 0) {
			return -1;
		}
		return openssl_run(sign);
	}
}

static int group_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char cnf[320];

	(void)state;
	snprintf(pki.dir, sizeof(pki.dir), "%s/cardex-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if(!mkdtemp(pki.dir)) {
		pki.dir[0] = '\0';
		return -1;
	}
	snprintf(cnf, sizeof(cnf), "%s/openssl.cnf", pki.dir);
	snprintf(pki.ca, sizeof(pki.ca), "%s/ca.crt", pki.dir);
	snprintf(pki.other_ca, sizeof(pki.other_ca), "%s/other-ca.crt", pki.dir);
	snprintf(pki.good_crt, sizeof(pki.good_crt), "%s/localhost.crt", pki.dir);
	snprintf(pki.good_key, sizeof(pki.good_key), "%s/localhost.key", pki.dir);
	snprintf(pki.invalid_crt, sizeof(pki.invalid_crt), "%s/invalid.crt", pki.dir);
	snprintf(pki.invalid_key, sizeof(pki.invalid_key), "%s/invalid.key", pki.dir);
	snprintf(pki.not_pem, sizeof(pki.not_pem), "%s/openssl.cnf", pki.dir);
	if(write_text(cnf, openssl_cnf) != 0
			|| make_cert("ca", "cardex test CA", NULL, "v3_ca") != 0
			|| make_cert("other-ca", "cardex unrelated CA", NULL, "v3_ca") != 0
			|| make_cert("localhost", "localhost", "ca", "v3_localhost") != 0
			|| make_cert("invalid", "cardex.invalid", "ca", "v3_invalid") != 0) {
		cxr_remove_tree(pki.dir);
		pki.dir[0] = '\0';
		return -1;
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if(!getenv("CARDEX_KEEP_BROKER_DIR")) {
		cxr_remove_tree(pki.dir);
	}
	return 0;
}

/* ---- CLI processes ---- */

/* Starts the CLI with args, the password in CARDEX_PASSWORD and stdin_data (or nothing) on stdin. */
static cxr_proc *spawn(struct fx *fx, const char *password, const char *stdin_data,
		const char *const *args)
{
	cxr_opts o = {.stdin_data = stdin_data, .password = password};
	cxr_proc *p = cxr_spawn(&o, args);

	cxr_track(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]), p);
	return p;
}

/* ---- fixtures ---- */

/* Starts a broker whose only listener serves crt/key over TLS 1.2 (both NULL: plain MQTT). */
static int start(void **state, const char *crt, const char *key)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *dir = getenv("CARDEX_TEST_DATA");
	char extra[1024];
	cxb_config cfg;

	if(!fx) {
		return -1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.plugin = true;
	cfg.accounts = accounts;
	cfg.naccounts = sizeof(accounts) / sizeof(accounts[0]);
	if(crt) {
		/* Appended after the harness's listener line: it configures that listener. */
		snprintf(extra, sizeof(extra), "certfile %s\nkeyfile %s\ntls_version tlsv1.2\n", crt, key);
		cfg.extra_conf = extra;
		cfg.tls = true;
	}
	if(cxb_start(&fx->b, &cfg) != 0) {
		free(fx);
		return -1;
	}
	fx->started = true;
	snprintf(fx->port, sizeof(fx->port), "%d", fx->b.port);
	snprintf(fx->card_ada, sizeof(fx->card_ada), "%s/ada.json", dir ? dir : "tests/data");
	snprintf(fx->card_grace, sizeof(fx->card_grace), "%s/grace.json", dir ? dir : "tests/data");
	*state = fx;
	return 0;
}

static int setup_tls(void **state)
{
	return start(state, pki.good_crt, pki.good_key);
}

static int setup_tls_invalid_name(void **state)
{
	return start(state, pki.invalid_crt, pki.invalid_key);
}

static int setup_plain(void **state)
{
	return start(state, NULL, NULL);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if(!fx) {
		return 0;
	}
	cardex_close(fx->a);
	cardex_close(fx->bb);
	cxr_free_all(fx->procs, sizeof(fx->procs) / sizeof(fx->procs[0]));
	if(fx->started) {
		cxb_stop(&fx->b);
	}
	free(fx);
	return 0;
}

/* ---- library helpers ---- */

/* Connects id through TLS (cafile NULL: plain) to host; the detail of a failure goes to why. */
static int tls_connect(const struct fx *fx, const char *host, const char *cafile, const char *id,
		const char *password, cardex **out, char *why, size_t whycap)
{
	cardex_options o;

	cardex_options_init(&o);
	o.host = host;
	o.port = fx->b.port;
	o.id = id;
	o.password = password;
	o.cafile = cafile;
	o.connect_timeout_ms = 10000;
	o.errbuf = why;
	o.errbuf_size = whycap;
	return cardex_connect(&o, out);
}

static char *load(const char *path, size_t *len)
{
	char *buf = cxb_read_file(path, len);

	assert_non_null(buf);
	assert_true(*len > 0);
	return buf;
}

/* One side of a library exchange. */
struct side {
	cardex *cx;
	const char *card;
	size_t card_len;
	char xid[CARDEX_XID_LEN + 1];
	bool sent_card;
	bool got_sent;
	char from[CARDEX_ID_MAX + 1];
	char *got_card;
	int cards;
};

/* One turn of a side: handles at most one event; the offering side claims nothing. */
static void side_turn(struct side *s, struct side *claimer, const char *key)
{
	cardex_event ev;
	int rc = cardex_wait(s->cx, SLICE_MS, &ev);

	if(rc == CARDEX_ETIMEOUT) {
		return;
	}
	assert_int_equal(rc, CARDEX_OK);
	switch(ev.type) {
	case CARDEX_EV_OFFER:
		assert_int_equal(cardex_claim(claimer->cx, cardex_id(s->cx), key), CARDEX_OK);
		break;
	case CARDEX_EV_MATCH:
		snprintf(s->xid, sizeof(s->xid), "%s", ev.exchange);
		assert_int_equal(cardex_send_card(s->cx, s->xid, s->card, s->card_len), CARDEX_OK);
		s->sent_card = true;
		break;
	case CARDEX_EV_CARD:
		assert_string_equal(ev.exchange, s->xid);
		s->cards++;
		snprintf(s->from, sizeof(s->from), "%s", ev.peer);
		free(s->got_card);
		s->got_card = strndup(ev.card, ev.card_len);
		assert_non_null(s->got_card);
		break;
	case CARDEX_EV_SENT:
		assert_string_equal(ev.exchange, s->xid);
		s->got_sent = true;
		break;
	case CARDEX_EV_SAFETY:
		/* Sealed over TLS too: the keys are agreed before the cards move. */
		assert_string_equal(ev.exchange, s->xid);
		assert_int_equal(strlen(ev.safety_code), 6);
		break;
	default:
		fail_msg("unexpected %s event (%s %s)", cardex_event_type_name(ev.type), ev.code, ev.message);
	}
	cardex_event_clear(&ev);
}

/* ---- library tests ---- */

/*
 * A full exchange through TLS: A reaches the broker as "localhost", B as
 * 127.0.0.1; the certificate carries both names.
 */
static void test_lib_exchange(void **state)
{
	struct fx *fx = *state;
	char why[256];
	char key[CARDEX_KEY_MAX + 1];
	struct side a, b;
	long long deadline;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(tls_connect(fx, "localhost", pki.ca, "A", "pw-a-secret", &fx->a, why,
			sizeof(why)), CARDEX_OK);
	assert_int_equal(tls_connect(fx, "127.0.0.1", pki.ca, "B", "pw-b-secret", &fx->bb, why,
			sizeof(why)), CARDEX_OK);
	assert_int_equal(cardex_socket(fx->a) >= 0, true);
	a.cx = fx->a;
	b.cx = fx->bb;
	a.card = load(fx->card_ada, &a.card_len);
	b.card = load(fx->card_grace, &b.card_len);
	assert_int_equal(cardex_generate_key(6, key, sizeof(key)), CARDEX_OK);
	assert_int_equal(cardex_offer(a.cx, key, 0), CARDEX_OK);
	deadline = cxb_now_ms() + WAIT_MS;
	while(!(a.got_card && a.got_sent && b.got_card && b.got_sent)) {
		if(cxb_now_ms() > deadline) {
			fail_msg("exchange incomplete after %d ms", WAIT_MS);
		}
		side_turn(&a, &b, key);
		side_turn(&b, &a, key);
	}
	assert_string_equal(a.xid, b.xid);
	assert_string_equal(a.from, "B");
	assert_string_equal(b.from, "A");
	assert_int_equal(a.cards, 1);
	assert_int_equal(b.cards, 1);
	assert_non_null(strstr(a.got_card, "Grace Hopper"));
	assert_non_null(strstr(b.got_card, "Ada Lovelace"));
	free(a.got_card);
	free(b.got_card);
	free((char *)a.card);
	free((char *)b.card);
}

/* Connects with cafile to host and expects want within FAIL_MS, with detail in the reason. */
static void expect_refused(struct fx *fx, const char *host, const char *cafile, int want,
		const char *detail)
{
	long long t0 = cxb_now_ms();
	cardex *cx = NULL;
	char why[256];
	int rc;

	memset(why, 'x', sizeof(why));
	rc = tls_connect(fx, host, cafile, "A", "pw-a-secret", &cx, why, sizeof(why));
	if(rc != want) {
		fail_msg("%s with %s: got %s (%s), want %s", host, cafile ? cafile : "no TLS",
				cardex_err_name(rc), why, cardex_err_name(want));
	}
	assert_null(cx);
	assert_true(cxb_now_ms() - t0 < FAIL_MS);
	if(!strstr(why, detail)) {
		fail_msg("reason \"%s\" does not contain \"%s\"", why, detail);
	}
	/* The password never shows up in a reason. */
	assert_null(strstr(why, "pw-a-secret"));
}

/* A CA that did not sign the broker's certificate: CARDEX_ETLS, quickly. */
static void test_lib_wrong_ca(void **state)
{
	struct fx *fx = *state;

	expect_refused(fx, "localhost", pki.other_ca, CARDEX_ETLS, "certificate verify failed");
	expect_refused(fx, "127.0.0.1", pki.other_ca, CARDEX_ETLS, "certificate verify failed");
	/* The broker saw the handshake fail and nothing else: no client got in. */
	assert_false(cxb_log_contains(&fx->b, "New client connected"));
	assert_true(cxb_alive(&fx->b));
}

/*
 * A certificate signed by the right CA but for "cardex.invalid": neither
 * 127.0.0.1 nor localhost match it.
 */
static void test_lib_host_mismatch(void **state)
{
	struct fx *fx = *state;

	expect_refused(fx, "127.0.0.1", pki.ca, CARDEX_ETLS, "host name verification failed");
	expect_refused(fx, "localhost", pki.ca, CARDEX_ETLS, "host name verification failed");
	assert_false(cxb_log_contains(&fx->b, "New client connected"));
}

/* A CA file that does not exist or holds no certificate: CARDEX_ETLS before any traffic. */
static void test_lib_bad_cafile(void **state)
{
	struct fx *fx = *state;
	char missing[400];

	snprintf(missing, sizeof(missing), "%s/no-such-ca.crt", pki.dir);
	expect_refused(fx, "localhost", missing, CARDEX_ETLS, "CA file");
	expect_refused(fx, "localhost", pki.not_pem, CARDEX_ETLS, "CA certificates");
}

/* Plain MQTT on the TLS port: refused quickly, as a connection failure, not a hang. */
static void test_lib_plain_on_tls_port(void **state)
{
	struct fx *fx = *state;

	expect_refused(fx, "127.0.0.1", NULL, CARDEX_ECONNECT, "closed the connection");
	assert_true(cxb_alive(&fx->b));
}

/* TLS to a plain MQTT port: the handshake fails quickly with CARDEX_ETLS. */
static void test_lib_tls_on_plain_port(void **state)
{
	struct fx *fx = *state;

	expect_refused(fx, "localhost", pki.ca, CARDEX_ETLS, "");
	assert_true(cxb_alive(&fx->b));
}

/*
 * A server that accepts TCP (the kernel does, from the listen backlog) but
 * never answers the TLS handshake: the connect gives up at its timeout
 * rather than hanging.
 */
static void test_lib_tls_silent_server(void **state)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	cardex_options o;
	cardex *cx = NULL;
	char why[256];
	long long t0, took;
	int lfd, rc;

	(void)state;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	cardex_options_init(&o);
	o.host = "localhost";
	o.port = ntohs(sa.sin_port);
	o.id = "A";
	o.password = "pw-a-secret";
	o.cafile = pki.ca;
	o.connect_timeout_ms = 1000;
	o.errbuf = why;
	o.errbuf_size = sizeof(why);
	t0 = cxb_now_ms();
	rc = cardex_connect(&o, &cx);
	took = cxb_now_ms() - t0;
	close(lfd);
	assert_int_equal(rc, CARDEX_ETIMEOUT);
	assert_null(cx);
	assert_true(took >= 900);
	assert_true(took < FAIL_MS);
}

/* ---- CLI tests ---- */

/* A full exchange between two CLI processes, both with --cafile; A on localhost, B on 127.0.0.1. */
static void test_cli_exchange(void **state)
{
	struct fx *fx = *state;
	const char *offer[] = {"offer", "--json", "--host", "localhost", "--port", fx->port,
		"--cafile", pki.ca, "--id", "A", "--card", fx->card_ada, "--timeout", "30", NULL};
	const char *claim[] = {"claim", "A", "--json", "--host", "127.0.0.1", "--port", fx->port,
		"--cafile", pki.ca, "--id", "B", "--card", fx->card_grace, "--timeout", "30", NULL};
	cxr_proc *a, *b;
	char key_line[64];
	cJSON *j;

	a = spawn(fx, "pw-a-secret", NULL, offer);
	cxr_offer_key(a, key_line, sizeof(key_line));
	b = spawn(fx, "pw-b-secret", key_line, claim);
	if(cxr_finish(b) != 0) {
		fail_msg("claim exit %d; stdout: %s; stderr: %s", b->status, b->obuf, b->ebuf);
	}
	if(cxr_finish(a) != 0) {
		fail_msg("offer exit %d; stdout: %s; stderr: %s", a->status, a->obuf, a->ebuf);
	}
	j = cxr_json_event(a, "card", NULL);
	assert_non_null(j);
	assert_string_equal(cxr_jstr(j, "from"), "B");
	assert_non_null(strstr(a->obuf, "Grace Hopper"));
	cJSON_Delete(j);
	j = cxr_json_event(b, "card", NULL);
	assert_non_null(j);
	assert_string_equal(cxr_jstr(j, "from"), "A");
	assert_non_null(strstr(b->obuf, "Ada Lovelace"));
	cJSON_Delete(j);
}

/*
 * Runs `cardex offer` against the broker and expects exit 3 within FAIL_MS
 * with a message containing each of the NULL-terminated needles, on stderr
 * (human mode) or in a JSON error event with the given code.
 */
static void expect_cli_refused(struct fx *fx, const char *host, const char *cafile, bool json,
		const char *code, const char *const *needles)
{
	const char *args[20] = {"offer", "--host", host, "--port", fx->port, "--id", "A", "--card",
		fx->card_ada, "--timeout", "20"};
	size_t n = 11;
	long long t0 = cxb_now_ms();
	const char *msg;
	cxr_proc *p;
	cJSON *j = NULL;
	size_t i;

	if(cafile) {
		args[n++] = "--cafile";
		args[n++] = cafile;
	}
	if(json) {
		args[n++] = "--json";
	}
	args[n] = NULL;
	p = spawn(fx, "pw-a-secret", NULL, args);
	if(cxr_finish(p) != 3) {
		fail_msg("exit %d, want 3; stdout: %s; stderr: %s", p->status, p->obuf, p->ebuf);
	}
	assert_true(cxb_now_ms() - t0 < FAIL_MS);
	if(json) {
		j = cxr_json_event(p, "error", NULL);
		assert_non_null(j);
		assert_string_equal(cxr_jstr(j, "code"), code);
		msg = cxr_jstr(j, "message");
		assert_int_equal(p->elen, 0);
	} else {
		msg = p->ebuf;
		assert_int_equal(p->olen, 0);
		assert_int_equal(strncmp(msg, "cardex: ", 8), 0);
	}
	for(i = 0; needles[i]; i++) {
		if(!strstr(msg, needles[i])) {
			fail_msg("message \"%s\" does not contain \"%s\"", msg, needles[i]);
		}
	}
	assert_null(strstr(p->obuf, "pw-a-secret"));
	assert_null(strstr(p->ebuf, "pw-a-secret"));
	cJSON_Delete(j);
	for(i = 0; i < 2; i++) {
		if(fx->procs[i] == p) {
			fx->procs[i] = NULL;
		}
	}
	cxr_free(p);
}

static void test_cli_wrong_ca(void **state)
{
	struct fx *fx = *state;
	const char *needles[] = {"TLS: certificate verify failed", pki.other_ca, NULL};

	expect_cli_refused(fx, "localhost", pki.other_ca, false, NULL, needles);
	expect_cli_refused(fx, "localhost", pki.other_ca, true, "tls", needles);
}

static void test_cli_host_mismatch(void **state)
{
	struct fx *fx = *state;
	const char *needles[] = {"TLS: host name verification failed", "\"127.0.0.1\"", NULL};

	expect_cli_refused(fx, "127.0.0.1", pki.ca, false, NULL, needles);
	expect_cli_refused(fx, "127.0.0.1", pki.ca, true, "tls", needles);
}

static void test_cli_plain_on_tls_port(void **state)
{
	struct fx *fx = *state;
	const char *needles[] = {"cannot connect", "closed the connection", "--cafile", NULL};

	expect_cli_refused(fx, "127.0.0.1", NULL, false, NULL, needles);
	expect_cli_refused(fx, "127.0.0.1", NULL, true, "connect", needles);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lib_exchange, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_lib_wrong_ca, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_lib_host_mismatch, setup_tls_invalid_name, teardown),
		cmocka_unit_test_setup_teardown(test_lib_bad_cafile, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_lib_plain_on_tls_port, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_lib_tls_on_plain_port, setup_plain, teardown),
		cmocka_unit_test(test_lib_tls_silent_server),
		cmocka_unit_test_setup_teardown(test_cli_exchange, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_cli_wrong_ca, setup_tls, teardown),
		cmocka_unit_test_setup_teardown(test_cli_host_mismatch, setup_tls_invalid_name, teardown),
		cmocka_unit_test_setup_teardown(test_cli_plain_on_tls_port, setup_tls, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
