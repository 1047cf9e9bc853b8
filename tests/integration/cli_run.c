/*
 * Runs the cardex CLI from integration tests (see cli_run.h). Shared by
 * test_cli, test_tls and test_cards, so that every test drives the CLI the
 * same way: no shell, no password in argv, bounded waits, kill by PID.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker.h"
#include "cli_run.h"

#define ARGV_MAX 40

const char *cxr_cli(void)
{
	const char *p = getenv("CARDEX_CLI");

	return p && p[0] ? p : "cardex";
}

/* In the child: never the user's CARDEX_* settings, only what o says. */
static void child_env(const cxr_opts *o)
{
	size_t i;

	unsetenv("CARDEX_HOST");
	unsetenv("CARDEX_PORT");
	unsetenv("CARDEX_ID");
	unsetenv("CARDEX_PASSWORD");
	if(o->password) {
		setenv("CARDEX_PASSWORD", o->password, 1);
	}
	for(i = 0; i < CXR_ENV_MAX && o->env[i]; i++) {
		const char *eq = strchr(o->env[i], '=');
		char name[64];

		if(!eq) {
			unsetenv(o->env[i]);
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(eq - o->env[i]), o->env[i]);
		setenv(name, eq + 1, 1);
	}
}

/* In the child: execs exe (NULL: the CLI) with args; never returns. */
static void exec_args(const char *exe, const char *const *args)
{
	char *argv[ARGV_MAX];
	size_t n = 0, i;

	argv[n++] = (char *)(exe ? exe : cxr_cli());
	for(i = 0; args[i] && n < ARGV_MAX - 1; i++) {
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	execv(argv[0], argv);
	_exit(127);
}

/* In the child: stdout and stderr (and stdin without data) on the pty slave, which becomes the controlling terminal. */
static void child_pty(const char *slave, int master, int stdin_fd)
{
	int fd;

	setsid();
	/* The first terminal a session leader opens becomes its controlling terminal. */
	fd = open(slave, O_RDWR);
	if(fd < 0) {
		_exit(126);
	}
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	/* Without data for it, stdin is the terminal too (card edit asks there). */
	dup2(stdin_fd >= 0 ? stdin_fd : fd, STDIN_FILENO);
	close(fd);
	close(master);
}

cxr_proc *cxr_spawn(const cxr_opts *o, const char *const *args)
{
	cxr_proc *p = calloc(1, sizeof(*p));
	int pin[2], pout[2], perr[2];
	int master = -1;
	char slave[128];

	assert_non_null(p);
	p->status = -1;
	p->err = -1;
	if(o->pty) {
		master = posix_openpt(O_RDWR | O_NOCTTY);
		assert_true(master >= 0);
		assert_int_equal(grantpt(master), 0);
		assert_int_equal(unlockpt(master), 0);
		snprintf(slave, sizeof(slave), "%s", ptsname(master));
	} else {
		assert_int_equal(pipe(pout), 0);
		assert_int_equal(pipe(perr), 0);
	}
	assert_int_equal(pipe(pin), 0);
	/*
	 * stdin is filled before the fork: a CLI that exits without reading it
	 * (a usage error) cannot make this write fail with EPIPE. Up to PIPE_BUF
	 * bytes always fit in an empty pipe.
	 */
	if(o->stdin_data) {
		size_t len = strlen(o->stdin_data);

		assert_true(len <= PIPE_BUF);
		assert_int_equal(write(pin[1], o->stdin_data, len), (ssize_t)len);
	}
	p->pid = fork();
	assert_true(p->pid >= 0);
	if(p->pid == 0) {
		child_env(o);
		if(o->pty) {
			child_pty(slave, master, o->stdin_data ? pin[0] : -1);
		} else {
			dup2(pin[0], STDIN_FILENO);
			dup2(pout[1], STDOUT_FILENO);
			dup2(perr[1], STDERR_FILENO);
			close(pout[0]);
			close(pout[1]);
			close(perr[0]);
			close(perr[1]);
		}
		close(pin[0]);
		close(pin[1]);
		exec_args(o->exe, args);
	}
	close(pin[0]);
	if(o->pty) {
		p->out = master;
	} else {
		close(pout[1]);
		close(perr[1]);
		p->out = pout[0];
		p->err = perr[0];
	}
	close(pin[1]);
	return p;
}

bool cxr_pump(cxr_proc *p, int ms)
{
	struct pollfd fds[2] = {{p->out, POLLIN, 0}, {p->err, POLLIN, 0}};
	int i;

	if(p->out < 0 && p->err < 0) {
		return false;
	}
	if(poll(fds, 2, ms) <= 0) {
		return true;
	}
	for(i = 0; i < 2; i++) {
		int *fd = i == 0 ? &p->out : &p->err;
		char *buf = i == 0 ? p->obuf : p->ebuf;
		size_t *len = i == 0 ? &p->olen : &p->elen;
		ssize_t r;

		if(*fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) {
			continue;
		}
		r = read(*fd, buf + *len, CXR_OUT_MAX - 1 - *len);
		if(r <= 0) {
			/* A pty master reads EIO once the last slave is closed: EOF. */
			close(*fd);
			*fd = -1;
			continue;
		}
		*len += (size_t)r;
		buf[*len] = '\0';
	}
	return true;
}

void cxr_next_line(cxr_proc *p, char *line, size_t cap)
{
	long long deadline = cxb_now_ms() + CXR_RUN_MS;
	char *nl;

	for(;;) {
		nl = memchr(p->obuf + p->oline, '\n', p->olen - p->oline);
		if(nl) {
			break;
		}
		if(cxb_now_ms() > deadline || !cxr_pump(p, 100)) {
			fail_msg("no output line; stdout: %s; stderr: %s", p->obuf, p->ebuf);
		}
	}
	snprintf(line, cap, "%.*s", (int)(nl - (p->obuf + p->oline)), p->obuf + p->oline);
	p->oline = (size_t)(nl - p->obuf) + 1;
}

void cxr_offer_key(cxr_proc *p, char *key_line, size_t cap)
{
	char line[1024];
	cJSON *j;

	cxr_next_line(p, line, sizeof(line));
	j = cJSON_Parse(line);
	if(j == NULL) {
		fail_msg("not JSON: %s", line);
	}
	assert_string_equal(cxr_jstr(j, "event"), "offer");
	snprintf(key_line, cap, "%s\n", cxr_jstr(j, "key"));
	cJSON_Delete(j);
}

void cxr_wait_for(cxr_proc *p, const char *needle)
{
	long long deadline = cxb_now_ms() + CXR_RUN_MS;

	while(!strstr(p->obuf, needle)) {
		if(cxb_now_ms() > deadline || !cxr_pump(p, 100)) {
			fail_msg("no \"%s\" in the output; stdout: %s; stderr: %s", needle, p->obuf, p->ebuf);
		}
	}
}

int cxr_finish(cxr_proc *p)
{
	long long deadline = cxb_now_ms() + CXR_RUN_MS;
	int st;

	while(p->status < 0) {
		pid_t r;

		cxr_pump(p, 50);
		r = waitpid(p->pid, &st, WNOHANG);
		if(r == p->pid) {
			p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		} else if(cxb_now_ms() > deadline) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, &st, 0);
			p->status = 999;
		}
	}
	/* Grandchildren may hold the pipes open: read what is left, but not forever. */
	while(cxr_pump(p, 100) && cxb_now_ms() < deadline + 2000) {
	}
	return p->status;
}

void cxr_free(cxr_proc *p)
{
	int st;

	if(!p) {
		return;
	}
	if(p->status < 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, &st, 0);
	}
	if(p->out >= 0) {
		close(p->out);
	}
	if(p->err >= 0) {
		close(p->err);
	}
	free(p);
}

void cxr_track(cxr_proc **slots, size_t n, cxr_proc *p)
{
	size_t i;

	for(i = 0; i < n; i++) {
		if(!slots[i]) {
			slots[i] = p;
			return;
		}
	}
	fail_msg("too many processes in one test");
}

void cxr_free_all(cxr_proc **slots, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++) {
		cxr_free(slots[i]);
		slots[i] = NULL;
	}
}

cJSON *cxr_json_event(const cxr_proc *p, const char *event, int *count)
{
	char *copy = strdup(p->obuf);
	char *save = NULL, *line;
	cJSON *found = NULL;
	int n = 0;

	assert_non_null(copy);
	for(line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		cJSON *j = cJSON_Parse(line);
		const cJSON *ev;

		if(!j) {
			fail_msg("stdout line is not JSON: %s", line);
		}
		ev = cJSON_GetObjectItemCaseSensitive(j, "event");
		if(cJSON_IsString(ev) && strcmp(ev->valuestring, event) == 0) {
			n++;
			if(!found) {
				found = j;
				continue;
			}
		}
		cJSON_Delete(j);
	}
	free(copy);
	if(count) {
		*count = n;
	}
	return found;
}

cJSON *cxr_json_lines(const cxr_proc *p)
{
	cJSON *arr = cJSON_CreateArray();
	char *copy = strdup(p->obuf);
	char *save = NULL, *line;

	assert_non_null(arr);
	assert_non_null(copy);
	for(line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
		cJSON *j = cJSON_Parse(line);

		if(!j) {
			fail_msg("stdout line is not JSON: %s", line);
		}
		cJSON_AddItemToArray(arr, j);
	}
	free(copy);
	return arr;
}

const char *cxr_jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if(!cJSON_IsString(v)) {
		fail_msg("no string member %s", name);
	}
	return v->valuestring;
}

void cxr_copy_data(const char *rel, const char *to)
{
	const char *dir = getenv("CARDEX_TEST_DATA");
	char src[1024];
	char *buf, *start;
	long n;
	FILE *f;

	snprintf(src, sizeof(src), "%s/%s", dir ? dir : "tests/data", rel);
	f = fopen(src, "rb");
	if(!f) {
		fail_msg("cannot open %s", src);
	}
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = '\0';
	start = buf;
	while(*start == '#') {
		start = strchr(start, '\n');
		assert_non_null(start);
		start++;
	}
	f = fopen(to, "wb");
	if(!f) {
		fail_msg("cannot create %s", to);
	}
	assert_int_equal(fwrite(start, 1, (size_t)n - (size_t)(start - buf), f), (size_t)n - (size_t)(start - buf));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(to, 0600), 0);
	free(buf);
}

void cxr_save_output(const cxr_proc *p, const char *path)
{
	FILE *f = fopen(path, "wb");

	if(!f) {
		fail_msg("cannot create %s", path);
	}
	assert_int_equal(fwrite(p->obuf, 1, p->olen, f), p->olen);
	assert_int_equal(fclose(f), 0);
}

void cxr_remove_tree(const char *path)
{
	struct stat st;
	struct dirent *de;
	DIR *d;

	if(lstat(path, &st) != 0) {
		return;
	}
	if(S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while((de = readdir(d)) != NULL) {
			char sub[1024];

			if(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
				continue;
			}
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			cxr_remove_tree(sub);
		}
		closedir(d);
		rmdir(path);
		return;
	}
	unlink(path);
}
