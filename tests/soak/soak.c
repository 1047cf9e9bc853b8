/*
 * cardex-soak: thousands of exchanges among hundreds of libcardex terminals
 * against a private Mosquitto with the cardex plugin, with random
 * disconnects, for a bounded time. Single-threaded: one poll() over every
 * handle's socket drives them all.
 *
 * Each exchange pairs two idle terminals: A offers a fresh key, B claims it
 * once A's offer is acknowledged (the user reads the key off A's screen),
 * and each side sends its card when it sees the match. Disconnects are of
 * two kinds:
 *   drop   the TCP connection is cut under a live handle, which is left
 *          alone for a while (sometimes longer than an exchange lives) and
 *          then reconnects by itself: its persistent session must deliver
 *          what was queued meanwhile, through the handle;
 *   close  the application quits: its handle is closed mid-exchange and
 *          comes back later with the same ID. The session is first read
 *          by a raw MQTT client with the same client ID (reader.c), which
 *          must find the card the peer sent for the abandoned exchange;
 *          then a new handle takes over.
 *
 * Accounting, per card (each carries a unique token, see term.c):
 *   acknowledged  its sender saw CARDEX_EV_SENT: the server passed it on;
 *   delivered     its recipient got it: CARDEX_EV_CARD from its handle, or
 *                 found by the session reader after a close;
 *   lost          acknowledged but never delivered by the end of the run,
 *                 after every terminal has come back and drained;
 *   duplicate     delivered a second time (handle or session); except that
 *                 a copy the session reader finds of a card the handle got
 *                 on the connection just before (its PUBACK lost as that
 *                 connection was cut or reset) is QoS 1 at work, counted as
 *                 "redelivered to a session" (a new handle ignores it);
 *   misdelivered  reached a terminal other than its recipient, or with the
 *                 wrong sender, exchange or contents.
 * Exchanges that fail for a legitimate reason (the offer expired while the
 * claimer was away, the exchange expired while a side was offline, a side
 * quit) are counted by reason and are not losses: no card of theirs was
 * acknowledged without being delivered, or the run reports it as lost.
 * After a reconnect, libmosquitto resends requests whose PUBACK it did not
 * get, and the plugin refuses the copy of one that had passed (a card sent
 * twice, a claim after its match) or lets a copy of an offer replace it.
 * libcardex drops those answers (counted as "dropped by libcardex"); one
 * that reaches the application would turn a good exchange into a failure.
 * The run fails (exit 1) on any lost, duplicate or misdelivered card, on
 * an exchange side that never ended, on a resent request's refusal reported
 * to the application, and on library or reader failures.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "soak.h"

#define DRIVE_EVERY_MS 100   /* a handle with nothing to read is still driven this often */
#define POLL_MS 5
#define QUIET_END_MS 2000    /* after settling, keep driving this long to catch late duplicates */
#define DRAIN_EXTRA_S 30     /* the drain may take the longest lifetime plus this */
#define PROGRESS_MS 10000

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_SETUP = 3 };

static volatile sig_atomic_t stop_requested;

long long soak_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* A crash must not leave the broker behind: kill it by PID, then die as asked. */
static void on_fatal(int sig)
{
	pid_t pid = soak_broker_pid;

	if(pid > 0) {
		kill(pid, SIGKILL);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_signals(void)
{
	struct sigaction sa;
	const int stops[] = {SIGINT, SIGTERM, SIGHUP};
	const int fatals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	for(i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		sigaction(stops[i], &sa, NULL);
	}
	sa.sa_handler = on_fatal;
	for(i = 0; i < sizeof(fatals) / sizeof(fatals[0]); i++) {
		sigaction(fatals[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *f)
{
	fprintf(f,
			"Usage: cardex-soak [OPTIONS]\n"
			"Runs exchanges among many libcardex terminals against a private Mosquitto with\n"
			"the cardex plugin, with random disconnects, and checks that every card reaches\n"
			"exactly its intended peer.\n"
			"\n"
			"  --duration S         seconds during which new exchanges start (default 120)\n"
			"  --terminals N        terminals, 2..2000 (default 200)\n"
			"  --disconnects R      injected disconnects per second (default 4)\n"
			"  --close-ratio F      share of disconnects that close the handle (default 0.33)\n"
			"  --think-ms MS        a terminal rests 0..MS between exchanges (default 1000)\n"
			"  --offer-ttl S        offer lifetime, 5..600 (default 15)\n"
			"  --exchange-ttl S     plugin_opt_exchange_ttl, 10..3600 (default 20)\n"
			"  --seed N             random seed (default: from the clock)\n"
			"  --brokers N          1..4 brokers (default 1: store memory); with more, the\n"
			"                       brokers share a private redis-server (store redis),\n"
			"                       terminal i connects to broker i mod N, and one broker\n"
			"                       is restarted halfway through (--no-restart: none)\n"
			"  --redis-server PATH  (default $REDIS_SERVER, else redis-server)\n"
			"  --mosquitto PATH     broker (default $MOSQUITTO, else /usr/sbin/mosquitto)\n"
			"  --passwd PATH        mosquitto_passwd (default $MOSQUITTO_PASSWD, else /usr/bin/...)\n"
			"  --plugin PATH        mosquitto_cardex.so (default $CARDEX_PLUGIN)\n"
			"  --keep               keep the broker's directory (config, log)\n"
			"  --verbose            describe every failed exchange side\n"
			"  -h, --help           this help\n"
			"\n"
			"Exit status: 0 all cards accounted for, 1 a card lost, duplicated or misdelivered\n"
			"(or a side stuck, a resent request's refusal reported, or a library failure),\n"
			"2 usage, 3 setup (broker did not start).\n");
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	if(!s) {
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if(errno || end == s || *end || v < lo || v > hi) {
		return -1;
	}
	*out = v;
	return 0;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v && v[0] ? v : fallback;
}

/* Returns -1 after --help, 0 when parsed, EXIT_USAGE on a bad option (reason printed). */
static int parse_args(int argc, char **argv, soak_opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->duration_s = 120;
	o->terminals = 200;
	o->disconnects_per_s = 4;
	o->close_ratio = 0.33;
	o->think_ms = 1000;
	o->offer_ttl = 15;
	o->exchange_ttl = 20;
	o->brokers = 1;
	o->restart = true;
	o->seed = (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
	o->mosquitto = env_or("MOSQUITTO", "/usr/sbin/mosquitto");
	o->passwd = env_or("MOSQUITTO_PASSWD", "/usr/bin/mosquitto_passwd");
	o->plugin = env_or("CARDEX_PLUGIN", NULL);
	for(i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;

		if(strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return -1;
		}
		if(strcmp(a, "--keep") == 0) {
			o->keep_dir = true;
			continue;
		}
		if(strcmp(a, "--verbose") == 0) {
			o->verbose = true;
			continue;
		}
		if(strcmp(a, "--no-restart") == 0) {
			o->restart = false;
			continue;
		}
		i++;
		if(strcmp(a, "--duration") == 0 && parse_num(v, 1, 3600, &d) == 0) {
			o->duration_s = (unsigned)d;
		} else if(strcmp(a, "--terminals") == 0 && parse_num(v, 2, 2000, &d) == 0) {
			o->terminals = (unsigned)d;
		} else if(strcmp(a, "--disconnects") == 0 && parse_num(v, 0, 1000, &d) == 0) {
			o->disconnects_per_s = d;
		} else if(strcmp(a, "--close-ratio") == 0 && parse_num(v, 0, 1, &d) == 0) {
			o->close_ratio = d;
		} else if(strcmp(a, "--think-ms") == 0 && parse_num(v, 0, 60000, &d) == 0) {
			o->think_ms = (unsigned)d;
		} else if(strcmp(a, "--offer-ttl") == 0 && parse_num(v, 5, 600, &d) == 0) {
			o->offer_ttl = (unsigned)d;
		} else if(strcmp(a, "--exchange-ttl") == 0 && parse_num(v, 10, 3600, &d) == 0) {
			o->exchange_ttl = (unsigned)d;
		} else if(strcmp(a, "--brokers") == 0 && parse_num(v, 1, SOAK_BROKERS_MAX, &d) == 0) {
			o->brokers = (unsigned)d;
		} else if(strcmp(a, "--redis-server") == 0 && v) {
			setenv("REDIS_SERVER", v, 1);
		} else if(strcmp(a, "--seed") == 0 && parse_num(v, 0, 1e15, &d) == 0) {
			o->seed = (unsigned long long)d;
		} else if(strcmp(a, "--mosquitto") == 0 && v) {
			o->mosquitto = v;
		} else if(strcmp(a, "--passwd") == 0 && v) {
			o->passwd = v;
		} else if(strcmp(a, "--plugin") == 0 && v) {
			o->plugin = v;
		} else {
			fprintf(stderr, "cardex-soak: bad option or value: %s %s\n", a, v ? v : "");
			fprintf(stderr, "Try 'cardex-soak --help'.\n");
			return EXIT_USAGE;
		}
	}
	if(!o->plugin) {
		fprintf(stderr, "cardex-soak: no plugin: set CARDEX_PLUGIN or give --plugin\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Room for the sockets of every handle and reader, and the broker's side on the same host. */
static void raise_fd_limit(size_t terminals)
{
	struct rlimit rl;

	if(getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= terminals * 2 + 64) {
		return;
	}
	rl.rlim_cur = rl.rlim_max < terminals * 2 + 64 ? rl.rlim_max : terminals * 2 + 64;
	setrlimit(RLIMIT_NOFILE, &rl);
}

/* Random passwords: 32 hex digits from the run's generator mixed with the clock. */
static int make_terminals(soak *S)
{
	size_t i;

	S->t = calloc(S->nt, sizeof(*S->t));
	if(!S->t) {
		return -1;
	}
	for(i = 0; i < S->nt; i++) {
		soak_term *t = &S->t[i];

		t->S = S;
		t->index = i;
		t->cur = -1;
		t->last_offer = -1;
		t->last_claim = -1;
		t->abandoned = -1;
		snprintf(t->id, sizeof(t->id), "soak%04u", (unsigned)(i % 10000));
		snprintf(t->password, sizeof(t->password), "%016llx%016llx",
				(unsigned long long)soak_rand(S, UINT64_MAX),
				(unsigned long long)(soak_rand(S, UINT64_MAX) ^ (uint64_t)soak_now_ms()));
	}
	return 0;
}

int soak_port_of(const soak *S, size_t i)
{
	return S->broker[i % S->nb].port;
}

/* The brokers (and, with several, the redis-server they share). */
static int start_broker(soak *S)
{
	char **ids = calloc(S->nt, sizeof(*ids));
	char **pws = calloc(S->nt, sizeof(*pws));
	size_t i;
	int rc = -1;

	S->nb = S->o->brokers;
	if(S->nb > 1) {
		if(rsv_start(&S->redis, false) != 0) {
			fprintf(stderr, "cardex-soak: redis-server did not start\n");
			goto cleanup;
		}
		S->redis_up = true;
	}
	if(ids && pws) {
		for(i = 0; i < S->nt; i++) {
			ids[i] = S->t[i].id;
			pws[i] = S->t[i].password;
		}
		rc = 0;
		for(i = 0; i < S->nb && rc == 0; i++) {
			if(S->nb > 1) {
				snprintf(S->broker[i].extra, sizeof(S->broker[i].extra),
						"plugin_opt_store redis\nplugin_opt_redis_port %d\nplugin_opt_broker_id s%zu\n",
						S->redis.port, i + 1);
			}
			rc = soak_broker_start(&S->broker[i], S->o, ids, pws, S->nt);
		}
	}
cleanup:
	free(ids);
	free(pws);
	return rc;
}

static int connect_all(soak *S)
{
	size_t i;

	for(i = 0; i < S->nt; i++) {
		int rc = soak_term_open(S, i);

		if(rc != CARDEX_OK) {
			fprintf(stderr, "cardex-soak: %s cannot connect: %s\n", S->t[i].id, cardex_strerror(rc));
			return -1;
		}
		S->t[i].st = T_ON;
		S->t[i].ready_at = soak_now_ms() + (long long)soak_rand(S, (uint64_t)S->o->think_ms + 1);
	}
	return 0;
}

static void progress(const soak *S, long long t0)
{
	size_t i, on = 0, dropped = 0, closed = 0;

	for(i = 0; i < S->nt; i++) {
		on += S->t[i].st == T_ON;
		dropped += S->t[i].st == T_DROPPED;
		closed += S->t[i].st == T_CLOSED || S->t[i].st == T_READING;
	}
	fprintf(stderr, "cardex-soak: %3llds %s: %lu exchanges started, %lu completed, %lu cards "
			"delivered; terminals on %zu, dropped %zu, closed %zu; %lu disconnects\n",
			(S->now - t0) / 1000, S->draining ? "drain" : "run", S->st.started, S->st.completed,
			S->st.cards_delivered, on, dropped, closed, S->st.drops + S->st.closes);
}

/* One poll over every driven socket, then drives what is readable or due. */
static void turn(soak *S, struct pollfd *fds, size_t *who)
{
	size_t i, n = 0;

	for(i = 0; i < S->nt; i++) {
		soak_term *t = &S->t[i];
		int fd = t->st == T_ON ? cardex_socket(t->cx) : t->st == T_READING ? soak_reader_socket(t) : -1;

		if(fd >= 0) {
			fds[n].fd = fd;
			fds[n].events = POLLIN;
			fds[n].revents = 0;
			who[n++] = i;
		}
	}
	poll(fds, (nfds_t)n, POLL_MS);
	S->now = soak_now_ms();
	for(i = 0; i < n; i++) {
		soak_term *t = &S->t[who[i]];

		if(t->st == T_ON && (fds[i].revents || S->now - t->last_drive >= DRIVE_EVERY_MS)) {
			soak_term_drive(S, who[i]);
		}
	}
	/* Handles without a socket are reconnecting: the library retries when driven. */
	for(i = 0; i < S->nt; i++) {
		soak_term *t = &S->t[i];

		if(t->st == T_ON && cardex_socket(t->cx) < 0 && S->now - t->last_drive >= 20) {
			soak_term_drive(S, i);
		}
	}
}

/* Exponential gaps between injected disconnects. */
static long long next_gap_ms(soak *S)
{
	double u = ((double)soak_rand(S, 1000000) + 1.0) / 1000001.0;
	double mean = 1000.0 / S->o->disconnects_per_s;

	return (long long)(-mean * log(u));
}

static void report(const soak *S, long long t0, long long t_drain)
{
	const soak_stats *s = &S->st;

	printf("cardex-soak: %zu terminals, %u s of new exchanges, drained in %.1f s, seed %llu\n",
			S->nt, S->o->duration_s, (double)(S->now - t_drain) / 1000.0, S->o->seed);
	printf("exchanges attempted:        %lu\n", s->started);
	printf("  completed:                %lu\n", s->completed);
	printf("  failed, offer expired:    %lu\n", s->offer_expired);
	printf("  failed, exchange expired: %lu\n", s->exchange_expired);
	printf("  failed, claim refused:    %lu\n", s->refused);
	printf("  failed, offer revoked:    %lu\n", s->revoked);
	printf("  abandoned (a side quit):  %lu\n", s->abandoned);
	printf("  failed, other:            %lu\n", s->other_failed);
	printf("  offers not sent:          %lu\n", s->offer_failures);
	printf("cards sent:                 %lu\n", s->cards_requested);
	printf("  acknowledged (sent):      %lu\n", s->cards_acked);
	printf("  delivered:                %lu (%lu of them read from a closed terminal's session)\n",
			s->cards_delivered, s->cards_via_session);
	printf("  delivered, not acked:     %lu\n", s->delivered_unacked);
	printf("  not relayed:              %lu\n", s->not_relayed);
	printf("  duplicates:               %lu\n", s->duplicates);
	printf("  redelivered to a session: %lu (QoS 1 copies: PUBACK lost as the connection ended)\n",
			s->session_redeliveries);
	printf("  misdelivered:             %lu\n", s->misdelivered);
	printf("  lost:                     %lu\n", s->lost);
	printf("disconnects:                %lu (%lu dropped connections, %lu closed handles)\n",
			s->drops + s->closes, s->drops, s->closes);
	printf("  session reads:            %lu (failures %lu)\n", s->session_reads, s->reader_failures);
	printf("resent requests refused:    %lu reported to the application, %lu dropped by libcardex\n",
			s->dup_request_errors, s->resends_dropped);
	printf("late notices:               %lu\n", s->late_notices);
	printf("stray events:               %lu\n", s->stray_events);
	printf("stuck exchange sides:       %lu\n", s->stuck);
	printf("library errors:             %lu\n", s->lib_errors);
	printf("reconnects retried:         %lu\n", s->reopen_retries);
	printf("wall time:                  %.1f s\n", (double)(S->now - t0) / 1000.0);
	fflush(stdout);
}

static int run(soak *S)
{
	long long t0 = soak_now_ms(), t_drain = 0, quiet_until = 0, next_disc, next_progress;
	long long drain_limit = ((long long)(S->o->offer_ttl > S->o->exchange_ttl ? S->o->offer_ttl
			: S->o->exchange_ttl) + DRAIN_EXTRA_S) * 1000;
	struct pollfd *fds = calloc(S->nt, sizeof(*fds));
	size_t *who = calloc(S->nt, sizeof(*who));
	long long last_alive = 0;

	if(!fds || !who) {
		free(fds);
		free(who);
		return EXIT_SETUP;
	}
	S->now = t0;
	next_disc = S->o->disconnects_per_s > 0 ? t0 + next_gap_ms(S) : -1;
	next_progress = t0 + PROGRESS_MS;
	while(!stop_requested) {
		if(!S->draining && S->now - t0 >= (long long)S->o->duration_s * 1000) {
			S->draining = true;
			t_drain = S->now;
		}
		if(!S->draining) {
			while(next_disc >= 0 && S->now >= next_disc) {
				soak_disconnect_one(S);
				next_disc += next_gap_ms(S);
			}
			soak_start_exchanges(S);
		}
		soak_wake(S);
		turn(S, fds, who);
		if(S->nb > 1 && S->o->restart && S->restarts == 0
				&& S->now - t0 >= (long long)S->o->duration_s * 500) {
			/* Its terminals lose their connections and come back to it; the others go on. */
			fprintf(stderr, "cardex-soak: restarting broker 2 of %zu\n", S->nb);
			S->restarts++;
			if(soak_broker_restart(&S->broker[1], S->o) != 0) {
				fprintf(stderr, "cardex-soak: broker 2 did not come back\n");
				soak_broker_tail(&S->broker[1], 8192);
				break;
			}
		}
		if(S->now - last_alive >= 1000) {
			size_t dead = S->nb;
			last_alive = S->now;
			for(size_t b = 0; b < S->nb && dead == S->nb; b++) {
				if(!soak_broker_alive(&S->broker[b])) {
					dead = b;
				}
			}
			if(dead < S->nb) {
				fprintf(stderr, "cardex-soak: broker %zu died\n", dead + 1);
				soak_broker_tail(&S->broker[dead], 8192);
				break;
			}
		}
		if(S->now >= next_progress) {
			progress(S, t0);
			next_progress += PROGRESS_MS;
		}
		if(S->draining && !quiet_until && soak_settled(S)) {
			quiet_until = S->now + QUIET_END_MS;
		}
		if(quiet_until && S->now >= quiet_until) {
			break;
		}
		if(S->draining && S->now - t_drain > drain_limit) {
			fprintf(stderr, "cardex-soak: not settled %lld s after the end\n", drain_limit / 1000);
			break;
		}
	}
	free(fds);
	free(who);
	soak_account(S);
	report(S, t0, t_drain ? t_drain : S->now);
	if(stop_requested) {
		fprintf(stderr, "cardex-soak: interrupted\n");
		return EXIT_FAILED;
	}
	for(size_t b = 0; b < S->nb; b++) {
		if(!soak_broker_alive(&S->broker[b])) {
			return EXIT_FAILED;
		}
	}
	if(S->st.lost || S->st.duplicates || S->st.misdelivered || S->st.stuck || S->st.lib_errors
			|| S->st.reader_failures || S->st.dup_request_errors) {
		printf("cardex-soak: FAILED\n");
		return EXIT_FAILED;
	}
	printf("cardex-soak: OK: every acknowledged card reached exactly its intended peer, once\n");
	return EXIT_OK;
}

static void cleanup(soak *S)
{
	size_t i;

	for(i = 0; S->t && i < S->nt; i++) {
		soak_reader_free(&S->t[i]);
		cardex_close(S->t[i].cx);
		S->t[i].cx = NULL;
	}
	for(i = 0; i < SOAK_BROKERS_MAX; i++) {
		soak_broker_stop(&S->broker[i], S->o->keep_dir);
	}
	if(S->redis_up) {
		rsv_stop(&S->redis);
	}
	free(S->t);
	free(S->x);
}

int main(int argc, char **argv)
{
	soak_opts o;
	soak S;
	int rc = parse_args(argc, argv, &o);

	if(rc != 0) {
		return rc < 0 ? EXIT_OK : rc;
	}
	memset(&S, 0, sizeof(S));
	S.o = &o;
	S.nt = o.terminals;
	S.rng = o.seed * 0x9E3779B97F4A7C15ULL + 1;
	install_signals();
	raise_fd_limit(S.nt);
	mosquitto_lib_init();
	rc = EXIT_SETUP;
	if(make_terminals(&S) != 0 || start_broker(&S) != 0) {
		goto cleanup;
	}
	fprintf(stderr, "cardex-soak: broker pid %d on 127.0.0.1:%d; %zu broker(s)%s; %zu terminals, %u s, seed %llu\n",
			(int)S.broker[0].pid, S.broker[0].port, S.nb, S.nb > 1 ? " sharing a redis-server (store redis)" : "",
			S.nt, o.duration_s, o.seed);
	if(connect_all(&S) != 0) {
		soak_broker_tail(&S.broker[0], 4096);
		goto cleanup;
	}
	rc = run(&S);
cleanup:
	cleanup(&S);
	mosquitto_lib_cleanup();
	return rc;
}
