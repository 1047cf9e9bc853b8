/*
 * The two exchange commands of the cardex CLI. Both run the same session
 * once the request is out: wait for the match, send our card, wait for the
 * peer's card and for the server's "sent", then exit 0. Any refusal,
 * revocation or expiry ends the session with CLI_EXIT_FAILED; the whole run
 * is bounded by --timeout. The received card goes into the contacts store
 * and what we sent into the sent log; when either cannot be written, the
 * exchange still completes and the exit code is CLI_EXIT_LOCAL.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "crypto.h"
#include "ids.h"
#include "proto.h"

/* Connecting never waits longer than this, even with a long --timeout. */
#define CONNECT_TIMEOUT_MS 10000
/* While the card cannot be sent (reconnecting), retry this often. */
#define SEND_RETRY_MS 200
#define PASSWORD_MAX 1024

typedef struct {
	const cli_config *cfg;
	cli_out out;
	cardex *cx;
	long long deadline;            /* monotonic ms */
	cli_own_card own;              /* the card we send; wiped */
	char key[CX_KEY_DIGITS_MAX + 1]; /* offer: shown once the server holds it; wiped */
	bool offer_shown;
	bool matched;
	char xid[CX_XID_HEX + 1];
	char peer[CX_ID_MAX + 1];
	bool card_requested;
	bool safety_shown;
	bool got_card;
	bool got_sent;
	bool store_failed;             /* the contacts store or sent log could not be written */
	long long offer_at;            /* monotonic ms when the offer was shown */
	unsigned offer_ttl;            /* its lifetime in seconds */
} session;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long left_ms(const session *s)
{
	long long left = s->deadline - now_ms();

	return left > 0 ? left : 0;
}

/* Wire-style code of a library error, for the JSON error event. */
static const char *err_code(int err)
{
	switch(err) {
	case CARDEX_EAUTH:
		return "auth";
	case CARDEX_ETLS:
		return "tls";
	case CARDEX_ETIMEOUT:
		return "timeout";
	case CARDEX_EDISCONNECTED:
		return "disconnected";
	case CARDEX_ECARD:
		return "card";
	case CARDEX_EINVAL:
		return "invalid";
	case CARDEX_EPLAIN:
		return "not-sealed";
	case CARDEX_EABORTED:
		return "aborted";
	case CARDEX_ENOMEM:
	case CARDEX_ERANDOM:
	case CARDEX_EIO:
		return "local";
	default:
		return "connect";
	}
}

/* The exit code a library failure stands for. */
static int exit_code(const session *s, int err)
{
	switch(err) {
	case CARDEX_ETIMEOUT:
		return left_ms(s) == 0 ? CLI_EXIT_TIMEOUT : CLI_EXIT_CONNECT;
	case CARDEX_EINVAL:
		return CLI_EXIT_USAGE;
	case CARDEX_EPLAIN:
	case CARDEX_EABORTED:
		return CLI_EXIT_FAILED;
	case CARDEX_ENOMEM:
	case CARDEX_ERANDOM:
	case CARDEX_ECARD:
	case CARDEX_EIO:
		return CLI_EXIT_LOCAL;
	default:
		return CLI_EXIT_CONNECT;
	}
}

/* Reports a library failure and returns the exit code it stands for. */
static int fail_lib(session *s, int err, const char *what)
{
	int code = exit_code(s, err);

	cli_out_fail(&s->out, code == CLI_EXIT_TIMEOUT ? "timeout" : err_code(err), "%s: %s", what,
			cardex_strerror(err));
	return code;
}

/*
 * Reports a failed connect with the library's detail and returns the exit
 * code. A TLS failure says what to check: the CA file for an unverifiable
 * certificate, the host name for a certificate that names another host.
 */
static int fail_connect(session *s, int err, const char *detail)
{
	const cli_config *cfg = s->cfg;
	int code = exit_code(s, err);

	if(err == CARDEX_ETLS && strcmp(detail, "host name verification failed") == 0) {
		cli_out_fail(&s->out, "tls", "cannot connect: TLS: host name verification failed: "
				"the broker's certificate does not name \"%s\"", cfg->host);
	} else if(err == CARDEX_ETLS && strcmp(detail, "certificate verify failed") == 0) {
		cli_out_fail(&s->out, "tls", "cannot connect: TLS: certificate verify failed: "
				"the broker's certificate is not signed by the CA in %s, or has expired",
				cfg->cafile);
	} else if(err == CARDEX_ETLS) {
		cli_out_fail(&s->out, "tls", "cannot connect: TLS: %s", detail[0] ? detail
				: cardex_strerror(err));
	} else if(detail[0] && code == CLI_EXIT_CONNECT) {
		/* A broker that hangs up before CONNACK is often a TLS port reached without TLS. */
		cli_out_fail(&s->out, err_code(err), "cannot connect: %s (%s)%s", cardex_strerror(err),
				detail, !cfg->cafile && strstr(detail, "closed") ? "; a TLS port needs --cafile" : "");
	} else {
		return fail_lib(s, err, "cannot connect");
	}
	return code;
}

static int fail_timeout(session *s)
{
	cli_out_fail(&s->out, "timeout", "timed out after %u s", s->cfg->timeout_s);
	return CLI_EXIT_TIMEOUT;
}

/* Connects with the password from --password-file or CARDEX_PASSWORD. */
static int open_session(session *s)
{
	char password[PASSWORD_MAX];
	char why[CLI_WHY_MAX];
	char detail[CLI_WHY_MAX];
	cardex_options o;
	long long left;
	int rc;

	cardex_options_init(&o);
	o.host = s->cfg->host;
	o.port = s->cfg->port;
	o.id = s->cfg->id;
	o.cafile = s->cfg->cafile;
	o.topic_prefix = s->cfg->topic_prefix;
	o.allow_plain = s->cfg->allow_plain;
	o.confirm = s->cfg->confirm;
	o.errbuf = detail;
	o.errbuf_size = sizeof(detail);
	if(s->cfg->password_file) {
		if(cli_read_password_file(s->cfg->password_file, password, sizeof(password), why) != 0) {
			cli_out_fail(&s->out, "password-file", "%s", why);
			return CLI_EXIT_LOCAL;
		}
		o.password = password;
	} else {
		o.password = getenv("CARDEX_PASSWORD");
	}
	left = left_ms(s);
	o.connect_timeout_ms = left < CONNECT_TIMEOUT_MS ? (int)(left > 0 ? left : 1) : CONNECT_TIMEOUT_MS;
	rc = cardex_connect(&o, &s->cx);
	cx_wipe(password, sizeof(password));
	if(rc != CARDEX_OK) {
		return fail_connect(s, rc, detail);
	}
	return CLI_EXIT_OK;
}

/* Shows a received card and stores it in the contacts (unless --no-save). */
static void keep_card(session *s, const cardex_event *ev)
{
	char id[CLI_CONTACT_ID_LEN + 1];
	char why[CLI_WHY_MAX];
	bool updated = false;

	if(s->cfg->no_save) {
		cli_out_received(&s->out, ev, NULL, false);
		return;
	}
	if(cli_keep_card(ev, id, &updated, why) != 0) {
		cli_out_received(&s->out, ev, NULL, false);
		cli_out_warn(&s->out, "the card was not saved in the contacts: %s", why);
		s->store_failed = true;
		return;
	}
	cli_out_received(&s->out, ev, id, updated);
}

/* Records in the sent log which fields went to whom (never their values). */
static void note_sent(session *s, const cardex_event *ev)
{
	char why[CLI_WHY_MAX];
	cli_store st;
	cli_sent e;

	memset(&e, 0, sizeof(e));
	e.time = time(NULL);
	e.id = s->cfg->id;
	e.peer = ev->peer;
	e.exchange = ev->exchange;
	e.profile = s->own.profile[0] ? s->own.profile : NULL;
	e.card_file = s->cfg->card_file;
	e.fields = s->own.fields;
	if(cli_store_init(&st, why) != 0 || cli_sentlog_append(&st, &e, why) != 0) {
		cli_out_warn(&s->out, "the sent log was not written: %s", why);
		s->store_failed = true;
	}
}

/*
 * --confirm: the user compares the codes before any card moves. A wrong
 * code or a "no" aborts the exchange here: our card is never sent, the
 * peer's is never saved.
 */
static int confirm(session *s, const cardex_event *ev)
{
	int rc;

	if(cli_confirm_code(s->peer, ev->safety_code) != 1) {
		cardex_confirm(s->cx, s->xid, false);
		cli_out_fail(&s->out, "unconfirmed", "the safety codes were not confirmed: the exchange was "
				"aborted; no card was sent and none was saved");
		return CLI_EXIT_FAILED;
	}
	rc = cardex_confirm(s->cx, s->xid, true);
	if(rc != CARDEX_OK && rc != CARDEX_EDISCONNECTED) {
		return fail_lib(s, rc, "cannot confirm the exchange");
	}
	return -1;
}

/* Handles one event; returns -1 to go on, or the exit code that ends the session. */
static int on_event(session *s, const cardex_event *ev)
{
	switch(ev->type) {
	case CARDEX_EV_OFFER:
		if(s->cfg->cmd == CLI_CMD_OFFER && !s->offer_shown) {
			s->offer_at = now_ms();
			s->offer_ttl = ev->expires_in;
			cli_out_offer(&s->out, s->cfg->id, s->key, ev->expires_in);
			cx_wipe(s->key, sizeof(s->key));
			s->offer_shown = true;
		}
		return -1;
	case CARDEX_EV_ATTEMPT:
		cli_out_event(&s->out, ev);
		return -1;
	case CARDEX_EV_MATCH:
		if(!s->matched) {
			s->matched = true;
			memcpy(s->xid, ev->exchange, sizeof(s->xid));
			memcpy(s->peer, ev->peer, sizeof(s->peer));
			cli_out_event(&s->out, ev);
		}
		return -1;
	case CARDEX_EV_SAFETY:
		if(s->matched && !s->safety_shown && strcmp(ev->exchange, s->xid) == 0) {
			s->safety_shown = true;
			cli_out_safety(&s->out, ev);
			return s->cfg->confirm ? confirm(s, ev) : -1;
		}
		return -1;
	case CARDEX_EV_CARD:
		if(s->matched && !s->got_card && strcmp(ev->exchange, s->xid) == 0) {
			s->got_card = true;
			keep_card(s, ev);
		}
		return -1;
	case CARDEX_EV_SENT:
		if(s->matched && !s->got_sent && strcmp(ev->exchange, s->xid) == 0) {
			s->got_sent = true;
			cli_out_event(&s->out, ev);
			note_sent(s, ev);
		}
		return -1;
	case CARDEX_EV_EXPIRED:
		if(!ev->offer && s->matched && strcmp(ev->exchange, s->xid) != 0) {
			return -1;
		}
		cli_out_event(&s->out, ev);
		return CLI_EXIT_FAILED;
	case CARDEX_EV_REVOKED:
	case CARDEX_EV_ERROR:
		cli_out_event(&s->out, ev);
		return CLI_EXIT_FAILED;
	}
	return -1;
}

/* Sends our card once matched; a dropped connection only postpones it. */
static int send_card(session *s)
{
	int rc;

	if(!s->matched || s->card_requested) {
		return -1;
	}
	rc = cardex_send_card(s->cx, s->xid, s->own.jcard, s->own.jcard_len);
	if(rc == CARDEX_OK) {
		s->card_requested = true;
		return -1;
	}
	if(rc == CARDEX_EDISCONNECTED) {
		return -1;
	}
	return fail_lib(s, rc, "cannot send the card");
}

/*
 * On a terminal, while the offer waits for its peer: shows the seconds its
 * key has left, and returns how long to wait (at most until the next second).
 */
static long long countdown(session *s, long long wait)
{
	long long elapsed, next;

	if(!s->out.tty || !s->offer_shown || s->matched) {
		return wait;
	}
	elapsed = now_ms() - s->offer_at;
	cli_out_countdown(&s->out, (int)(s->offer_ttl - elapsed / 1000));
	next = 1000 - elapsed % 1000;
	return next < wait ? next : wait;
}

/* Runs the session until both cards have passed, a failure, or the deadline. */
static int run(session *s)
{
	for(;;) {
		cardex_event ev;
		long long wait;
		int rc;

		rc = send_card(s);
		if(rc >= 0) {
			return rc;
		}
		if(s->got_card && s->got_sent) {
			return s->store_failed ? CLI_EXIT_LOCAL : CLI_EXIT_OK;
		}
		wait = left_ms(s);
		if(wait == 0) {
			return fail_timeout(s);
		}
		if(s->matched && !s->card_requested && wait > SEND_RETRY_MS) {
			wait = SEND_RETRY_MS;
		}
		wait = countdown(s, wait);
		rc = cardex_wait(s->cx, (int)wait, &ev);
		if(rc == CARDEX_ETIMEOUT) {
			continue;
		}
		if(rc != CARDEX_OK) {
			return fail_lib(s, rc, "connection lost");
		}
		rc = on_event(s, &ev);
		cardex_event_clear(&ev);
		if(rc >= 0) {
			return rc;
		}
	}
}

/* Loads the card we send (file or profile, --only applied); the common start of both commands. */
static int start(session *s, const cli_config *cfg)
{
	char why[CLI_WHY_MAX];
	int rc;

	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	cli_out_init(&s->out, cfg);
	rc = cli_own_card_load(cfg, &s->own, why);
	if(rc == CLI_EXIT_USAGE) {
		return cli_usage_error("%s", why);
	}
	if(rc != CLI_EXIT_OK) {
		cli_out_fail(&s->out, cfg->card_file ? "card-file" : "profile", "%s", why);
	}
	return rc;
}

static void finish(session *s)
{
	cardex_close(s->cx);
	cli_own_card_clear(&s->own);
	cx_wipe(s->key, sizeof(s->key));
}

int cli_cmd_offer(const cli_config *cfg)
{
	session s;
	int rc = start(&s, cfg);

	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	s.deadline = now_ms() + (long long)cfg->timeout_s * 1000;
	rc = open_session(&s);
	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	rc = cardex_generate_key(cfg->digits, s.key, sizeof(s.key));
	if(rc == CARDEX_OK) {
		rc = cardex_offer(s.cx, s.key, cfg->ttl);
	}
	if(rc != CARDEX_OK) {
		rc = fail_lib(&s, rc, "cannot make the offer");
		goto cleanup;
	}
	rc = run(&s);
cleanup:
	finish(&s);
	return rc;
}

int cli_cmd_claim(const cli_config *cfg)
{
	char why[CLI_WHY_MAX];
	session s;
	int rc = start(&s, cfg);

	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	rc = cli_get_key(cfg, s.key, sizeof(s.key), why);
	if(rc == CLI_EXIT_USAGE) {
		cli_usage_error("%s", why);
		goto cleanup;
	}
	if(rc != CLI_EXIT_OK) {
		cli_out_fail(&s.out, "key", "%s", why);
		goto cleanup;
	}
	/* The clock starts after the prompt: typing the key is not the network's time. */
	s.deadline = now_ms() + (long long)cfg->timeout_s * 1000;
	rc = open_session(&s);
	if(rc != CLI_EXIT_OK) {
		goto cleanup;
	}
	rc = cardex_claim(s.cx, cfg->peer, s.key);
	cx_wipe(s.key, sizeof(s.key));
	if(rc != CARDEX_OK) {
		rc = fail_lib(&s, rc, "cannot send the claim");
		goto cleanup;
	}
	rc = run(&s);
cleanup:
	finish(&s);
	return rc;
}
