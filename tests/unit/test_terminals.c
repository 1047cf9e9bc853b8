/*
 * Unit tests of the known-terminal registry (broker-plugin/terminals.c):
 * reservation and session counting, expiry, the ceiling, the state file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "terminals.h"

#define T0 1700000000
#define DAY 86400

struct fx {
	char dir[64];
	char path[96];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if(f == NULL){
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "/tmp/cardex-terminals-XXXXXX");
	if(mkdtemp(f->dir) == NULL){
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/state", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char tmp[128];

	snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
	unlink(f->path);
	unlink(tmp);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *o = fopen(path, "w");

	assert_non_null(o);
	fputs(text, o);
	fclose(o);
}

static void test_sessions_counted(void **state)
{
	cx_terminals *t = cx_terminals_new(10, 2, 0);

	(void)state;
	assert_non_null(t);
	assert_false(cx_terminals_known(t, "bob", T0));
	/* Unknown: anything may connect, nothing is registered. */
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:1", T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_count(t), 0);

	assert_int_equal(cx_terminals_touch(t, "bob", "bob", true, T0), CX_TERM_OK);
	assert_true(cx_terminals_known(t, "bob", T0));
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:phone", true, T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob", true, T0 + 5), CX_TERM_OK);
	assert_int_equal(cx_terminals_sessions(t), 2);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:phone", T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:third", T0), CX_TERM_FULL);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:third", true, T0), CX_TERM_FULL);
	/* Client IDs that share a long prefix are different sessions. */
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:phonf", T0), CX_TERM_FULL);
	/* Another terminal has its own count. */
	assert_int_equal(cx_terminals_touch(t, "alice", "alice:third", true, T0), CX_TERM_OK);

	/* A session that ended with its connection frees its place; the terminal stays known. */
	cx_terminals_disconnect(t, "bob", "bob:phone", true, T0 + 10);
	assert_int_equal(cx_terminals_sessions(t), 2);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:third", T0), CX_TERM_OK);
	cx_terminals_disconnect(t, "bob", "bob", true, T0 + 10);
	assert_true(cx_terminals_known(t, "bob", T0 + 10));
	/* Unknown sessions and terminals are ignored. */
	cx_terminals_disconnect(t, "bob", "bob:never", true, T0 + 10);
	cx_terminals_disconnect(t, "zed", "zed", false, T0 + 10);
	assert_int_equal(cx_terminals_count(t), 2);
	cx_terminals_free(t);
	cx_terminals_free(NULL);
}

/*
 * Sessions are recognised by their client ID whatever the registry's digest
 * cache holds: far more client IDs than it has slots, touched in two
 * different orders, long client IDs that it does not keep, and a terminal
 * whose main client ID is not its ID.
 */
static void test_many_client_ids(void **state)
{
	enum { N = 1500 };
	cx_terminals *t = cx_terminals_new(N + 1, 2, 0);
	char id[32];
	char cid[160];

	(void)state;
	assert_non_null(t);
	for(int round = 0; round < 2; round++){
		for(int k = 0; k < N; k++){
			int i = round == 0 ? k : (k * 7) % N;
			snprintf(id, sizeof(id), "t%04d", i);
			assert_int_equal(cx_terminals_touch(t, id, id, true, T0), CX_TERM_OK);
			snprintf(cid, sizeof(cid), "%s:phone-%0120d", id, i);
			assert_int_equal(cx_terminals_touch(t, id, cid, round == 0, T0), CX_TERM_OK);
		}
		assert_int_equal(cx_terminals_count(t), N);
		assert_int_equal(cx_terminals_sessions(t), 2 * N);
	}
	for(int i = 0; i < N; i += 97){
		snprintf(id, sizeof(id), "t%04d", i);
		snprintf(cid, sizeof(cid), "%s:tablet", id);
		assert_int_equal(cx_terminals_touch(t, id, cid, true, T0), CX_TERM_FULL);
		assert_int_equal(cx_terminals_admit(t, id, id, T0), CX_TERM_OK);
	}
	/* A client ID equal to another terminal's ID is a session of its own terminal only. */
	assert_int_equal(cx_terminals_touch(t, "zz", "t0001", true, T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_sessions(t), 2 * N + 1);
	assert_int_equal(cx_terminals_touch(t, "t0001", "t0001", true, T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_sessions(t), 2 * N + 1);
	cx_terminals_free(t);
}

/*
 * A session idle for 10 minutes (its client has not acted) gives its place
 * to a new client ID of the same terminal; deliveries to a session are not
 * acting, and a delivery never takes another session's place.
 */
static void test_idle_place_taken(void **state)
{
	cx_terminals *t = cx_terminals_new(10, 2, 0);

	(void)state;
	assert_non_null(t);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob", true, T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:a", true, T0 + 100), CX_TERM_OK);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:c", T0 + 599), CX_TERM_FULL);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:c", true, T0 + 599), CX_TERM_FULL);
	/* Not acting: a delivery to an unregistered session finds no place, idle or not. */
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:c", false, T0 + 600), CX_TERM_FULL);
	/* "bob" has been idle 10 minutes: bob:c takes its place, bob:a keeps its own. */
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:c", T0 + 600), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:c", true, T0 + 600), CX_TERM_OK);
	assert_int_equal(cx_terminals_sessions(t), 2);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob", T0 + 650), CX_TERM_FULL);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:a", T0 + 650), CX_TERM_OK);
	/* Deliveries to bob:a do not make it seen: it is still the idle one. */
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:a", false, T0 + 5000), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:c", true, T0 + 5000), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob", true, T0 + 5000), CX_TERM_OK);
	assert_int_equal(cx_terminals_admit(t, "bob", "bob:a", T0 + 5000), CX_TERM_FULL);
	/* A delivery to an unknown terminal with room makes it known, as subscribing would. */
	assert_int_equal(cx_terminals_touch(t, "carol", "carol", false, T0), CX_TERM_OK);
	assert_true(cx_terminals_known(t, "carol", T0));
	cx_terminals_free(t);
}

static void test_expiry_and_ceiling(void **state)
{
	cx_terminals *t = cx_terminals_new(2, 2, DAY);

	(void)state;
	assert_non_null(t);
	assert_int_equal(cx_terminals_touch(t, "a", "a", true, T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "b", "b", true, T0 + DAY / 2), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "c", "c", true, T0 + DAY / 2), CX_TERM_CAPACITY);
	assert_false(cx_terminals_known(t, "c", T0 + DAY / 2));
	/* Past a's expiry its place is reused. */
	assert_int_equal(cx_terminals_touch(t, "c", "c", true, T0 + DAY + 1), CX_TERM_OK);
	assert_false(cx_terminals_known(t, "a", T0 + DAY + 1));
	assert_true(cx_terminals_known(t, "b", T0 + DAY + 1));
	/* A session seen again stays; a session not seen expires and frees its place. */
	assert_int_equal(cx_terminals_touch(t, "b", "b:2", true, T0 + DAY), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "b", "b", true, T0 + DAY), CX_TERM_OK);
	assert_int_equal(cx_terminals_admit(t, "b", "b:3", T0 + DAY), CX_TERM_FULL);
	assert_int_equal(cx_terminals_touch(t, "b", "b:2", true, T0 + DAY + DAY / 2), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "b", "b:3", true, T0 + 2 * DAY + 1), CX_TERM_OK);
	/* b:2 and b:3 (b expired), and c's. */
	assert_int_equal(cx_terminals_sessions(t), 3);
	/* A sweep drops every expired terminal. */
	assert_int_equal(cx_terminals_sweep(t, T0 + 10 * DAY), 2);
	assert_int_equal(cx_terminals_count(t), 0);
	assert_int_equal(cx_terminals_sessions(t), 0);
	cx_terminals_free(t);
}

static void test_state_file_round_trip(void **state)
{
	struct fx *f = *state;
	cx_terminals *t = cx_terminals_new(10, 3, 0);
	cx_terminals *u = cx_terminals_new(10, 2, 0);
	char err[256];
	struct stat st;

	assert_non_null(t);
	assert_non_null(u);
	assert_int_equal(cx_terminals_load(u, f->path, T0, err, sizeof(err)), 1);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob", true, T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:old", true, T0 - 1000), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "bob", "bob:new", true, T0 + 1000), CX_TERM_OK);
	assert_int_equal(cx_terminals_touch(t, "alice", "alice:x", true, T0), CX_TERM_OK);
	assert_true(cx_terminals_dirty(t));
	assert_int_equal(cx_terminals_save(t, f->path, T0, err, sizeof(err)), 0);
	assert_false(cx_terminals_dirty(t));
	assert_false(cx_terminals_stale(t));
	/* Seen again within a minute: nothing to save; later: only times moved. */
	assert_int_equal(cx_terminals_touch(t, "alice", "alice:x", true, T0 + 30), CX_TERM_OK);
	assert_false(cx_terminals_stale(t));
	assert_int_equal(cx_terminals_touch(t, "alice", "alice:x", true, T0 + 60), CX_TERM_OK);
	assert_true(cx_terminals_stale(t));
	assert_false(cx_terminals_dirty(t));
	assert_int_equal(cx_terminals_save(t, f->path, T0, err, sizeof(err)), 0);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Loaded with a lower bound: bob keeps his two most recent sessions. */
	assert_int_equal(cx_terminals_load(u, f->path, T0, err, sizeof(err)), 0);
	assert_int_equal(cx_terminals_count(u), 2);
	assert_int_equal(cx_terminals_sessions(u), 3);
	assert_true(cx_terminals_known(u, "bob", T0));
	assert_int_equal(cx_terminals_admit(u, "bob", "bob:new", T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_admit(u, "bob", "bob", T0), CX_TERM_OK);
	assert_int_equal(cx_terminals_admit(u, "bob", "bob:old", T0), CX_TERM_FULL);
	assert_false(cx_terminals_dirty(u));
	cx_terminals_free(t);
	cx_terminals_free(u);
}

static void test_state_file_rejected(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{"", "empty file"},
		{"cardex-terminals 2\n", "line 1: not a cardex terminals file"},
		{"cardex-terminals 1\nT bob\n", "line 2: unknown record"},
		{"cardex-terminals 1\nT b/ob 1\n", "line 2: invalid terminal record"},
		{"cardex-terminals 1\nT bob -1\n", "line 2: invalid terminal record"},
		{"cardex-terminals 1\nS 00112233445566778899aabbccddeeff 1\n", "line 2: invalid session record"},
		{"cardex-terminals 1\nT bob 1\nS 00112233445566778899AABBCCDDEEFF 1\n", "line 3: invalid session record"},
		{"cardex-terminals 1\nT bob 1\nT bob 2\n", "line 3: terminal listed twice"},
		{"cardex-terminals 1\nT a 1\nT b 1\nT c 1\n", "line 4: more terminals than max_terminals"},
		{"cardex-terminals 1\nT bob 1", "line 2: too long or not ended"},
		{"cardex-terminals 1\nX\n", "line 2: unknown record"},
	};
	cx_terminals *t = cx_terminals_new(2, 2, 0);
	char err[256];

	assert_non_null(t);
	for(size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++){
		write_file(f->path, cases[i].text);
		err[0] = '\0';
		assert_int_equal(cx_terminals_load(t, f->path, T0, err, sizeof(err)), -1);
		if(strstr(err, cases[i].why) == NULL){
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].why);
		}
		assert_int_equal(cx_terminals_count(t), 0);
	}
	/* A line far too long, and a file too large for the limits. */
	{
		char big[4096];

		snprintf(big, sizeof(big), "cardex-terminals 1\nT %0300d 1\n", 0);
		write_file(f->path, big);
		assert_int_equal(cx_terminals_load(t, f->path, T0, err, sizeof(err)), -1);
		memset(big, '#', sizeof(big) - 2);
		big[sizeof(big) - 2] = '\n';
		big[sizeof(big) - 1] = '\0';
		write_file(f->path, big);
		assert_int_equal(cx_terminals_load(t, f->path, T0, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "too large"));
	}
	/* A directory is not a state file; a path that cannot be written fails to save. */
	assert_int_equal(cx_terminals_load(t, f->dir, T0, err, sizeof(err)), -1);
	assert_int_equal(cx_terminals_save(t, "/nonexistent-dir/state", T0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cannot create"));
	cx_terminals_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sessions_counted),
		cmocka_unit_test(test_many_client_ids),
		cmocka_unit_test(test_idle_place_taken),
		cmocka_unit_test(test_expiry_and_ceiling),
		cmocka_unit_test_setup_teardown(test_state_file_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_file_rejected, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
