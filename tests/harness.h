/*
 * harness.h — the unit-test harness. A test file defines ECSDEPLOY_TEST, includes
 * ../ecsdeploy.c (so every static is reachable) and then this header, writes
 * test functions and lists them in main() with RUN(fn).
 *
 * Output protocol (counted by build.sh): one line per test, "PASS: name" or
 * "FAIL: name: file:line: what"; the exit status is non-zero when any failed.
 *
 * Also here: a fake struct world (captured stdout/stderr, a fixed environment,
 * a settable clock) for in-process runs of cli_main(), and th_exec() that runs
 * the real binary with a given environment and captures its output.
 */
#ifndef ED_HARNESS_H
#define ED_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/types.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>

static const char *th_name;
static char th_why[1024];
static int th_fails_total;

#define CHECK(cond) th_check(!!(cond), __FILE__, __LINE__, #cond)
#define CHECKF(cond, ...) do { if (!(cond)) { char m_[512]; snprintf(m_, sizeof(m_), __VA_ARGS__); th_check(0, __FILE__, __LINE__, m_); } } while (0)
#define RUN(fn) th_run(#fn, fn)

static void
th_check(int ok, const char *file, int line, const char *what)
{
	if (ok || th_why[0])
		return; /* keep the first failure of a test */
	snprintf(th_why, sizeof(th_why), "%s:%d: %s", file, line, what);
}

static void
th_run(const char *name, void (*fn)(void))
{
	th_name = name;
	th_why[0] = '\0';
	fn();
	if (th_why[0]) {
		printf("FAIL: %s: %s\n", name, th_why);
		th_fails_total++;
	} else {
		printf("PASS: %s\n", name);
	}
	fflush(stdout);
}

/* Runs a named sub-case inside a table-driven test: one PASS/FAIL line each. */
static void
th_case(const char *name, int ok, const char *why)
{
	if (ok) {
		printf("PASS: %s\n", name);
	} else {
		printf("FAIL: %s: %s\n", name, why);
		th_fails_total++;
	}
	fflush(stdout);
}

static int
th_exit(void)
{
	return th_fails_total ? 1 : 0;
}

/* ---- the fake world ---------------------------------------------------------------- */

#define TH_OUT_MAX (256 * 1024)
struct th_world {
	char out[TH_OUT_MAX];
	size_t out_len;
	char err[TH_OUT_MAX];
	size_t err_len;
	const char *env[64];   /* "NAME=value" strings */
	int64_t wall;           /* seconds since the epoch */
	int64_t mono;           /* milliseconds */
	int64_t slept_ms;
};

static void
th_w_write(void *ctx, int fd, const char *s, size_t n)
{
	struct th_world *t = ctx;
	char *dst = fd == 1 ? t->out : t->err;
	size_t *len = fd == 1 ? &t->out_len : &t->err_len;

	if (n > TH_OUT_MAX - 1 - *len)
		n = TH_OUT_MAX - 1 - *len;
	memcpy(dst + *len, s, n);
	*len += n;
	dst[*len] = '\0';
}

static const char *
th_w_getenv(void *ctx, const char *name)
{
	struct th_world *t = ctx;
	size_t n = strlen(name);
	int i;

	for (i = 0; i < 64 && t->env[i]; i++) {
		if (strncmp(t->env[i], name, n) == 0 && t->env[i][n] == '=')
			return t->env[i] + n + 1;
	}
	return NULL;
}

static int64_t th_w_wall(void *ctx) { return ((struct th_world *)ctx)->wall; }
static int64_t th_w_mono(void *ctx) { return ((struct th_world *)ctx)->mono; }

static void
th_w_sleep(void *ctx, int64_t ms)
{
	struct th_world *t = ctx;

	t->mono += ms;
	t->slept_ms += ms;
}

static int
th_w_random(void *ctx, void *dst, size_t n)
{
	(void)ctx;
	memset(dst, 0x5a, n);
	return 0;
}

static void
th_world_bind(struct world *w, struct th_world *t)
{
	memset(t, 0, sizeof(*t));
	t->wall = 1700000000;
	t->mono = 1000;
	w->ctx = t;
	w->wall_now = th_w_wall;
	w->mono_ms = th_w_mono;
	w->sleep_ms = th_w_sleep;
	w->getenv = th_w_getenv;
	w->write = th_w_write;
	w->random = th_w_random;
}

/* ---- running the real binary ------------------------------------------------------ */

/*
 * Runs path with argv and envp (NULL-terminated), captures stdout and stderr
 * (each truncated to cap-1 bytes, NUL-terminated) and returns the exit status,
 * 128+signal when killed, or -1 when it could not run or took over timeout_s.
 */
static int
th_exec(const char *path, char *const argv[], char *const envp[], char *out, size_t cap_out,
    char *err, size_t cap_err, int timeout_s)
{
	int po[2], pe[2], status = 0, open_fds = 2;
	size_t lo = 0, le = 0;
	pid_t pid;
	int waited_ms = 0;

	if (pipe(po) != 0 || pipe(pe) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]); close(pe[0]); close(po[1]); close(pe[1]);
		execve(path, argv, envp);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	out[0] = err[0] = '\0';
	while (open_fds > 0 && waited_ms < timeout_s * 1000) {
		struct pollfd p[2];
		int k;

		p[0].fd = po[0]; p[0].events = POLLIN; p[0].revents = 0;
		p[1].fd = pe[0]; p[1].events = POLLIN; p[1].revents = 0;
		k = poll(p, 2, 100);
		if (k == 0) {
			waited_ms += 100;
			continue;
		}
		for (k = 0; k < 2; k++) {
			char tmp[4096];
			ssize_t r;

			if (p[k].fd < 0 || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(p[k].fd, tmp, sizeof(tmp));
			if (r <= 0) {
				close(p[k].fd);
				if (k == 0) po[0] = -1; else pe[0] = -1;
				open_fds--;
				continue;
			}
			if (k == 0) {
				size_t n = (size_t)r < cap_out - 1 - lo ? (size_t)r : cap_out - 1 - lo;
				memcpy(out + lo, tmp, n); lo += n; out[lo] = '\0';
			} else {
				size_t n = (size_t)r < cap_err - 1 - le ? (size_t)r : cap_err - 1 - le;
				memcpy(err + le, tmp, n); le += n; err[le] = '\0';
			}
		}
	}
	if (po[0] >= 0) close(po[0]);
	if (pe[0] >= 0) close(pe[0]);
	if (open_fds > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return -1;
	}
	waitpid(pid, &status, 0);
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

#endif
