/*
 * ecsdeploy.c — ecs-deploy: ship a new container image to an Amazon ECS service
 * and wait until ECS has really finished. One file, no runtime.
 *
 * Build (what ./build.sh does):
 *   musl-gcc -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Os -static -s \
 *     -Ivendor/bearssl/inc -Ivendor/jsmn -o ecs-deploy ecsdeploy.c vendor/build/musl/libbearssl.a
 *
 * What it does: registers a new task-definition revision with a new image, points
 * the service at it, waits for the rollout (new tasks running and healthy, old ones
 * gone), rolls back on failure and exits with a code that says how it ended. It is
 * a drop-in replacement for the shell tool of the same name (same flags, exit codes
 * and log lines). The contract is the project's behaviour specification; section
 * numbers like "§5.3" below refer to it.
 *
 * Layers (each section only calls the sections above it; main() is last):
 *
 *     cli_ (15)  command line, usage, validation, exit codes
 *       |
 *     dep_ (14)  deploy engine: register, update, wait, roll back, run task
 *       |
 *     td_ (13) img_ (12)  task-definition clone, image references
 *       |
 *     ecs_ (11)  the ECS operations we use
 *       |
 *     aws_ (10)  aws_call(): endpoint, sign, send, retry, map errors
 *       |                     \
 *     cred_ (9)  credentials   sig_ (5)  SigV4
 *       |
 *     json_/jw_ (8)  JSON reader (jsmn) and writer
 *     http_ (7)  HTTP/1.1 client      tls_ (6)  TLS over BearSSL, trust anchors
 *       |
 *     world (4)  seams to the outside: clocks, sleep, env, files, output, randomness
 *     err_ (3)   the sticky error record
 *     sv_ buf_ ar_ (2)  string views, bounded writers, arenas
 *
 * Contents:
 *   1. Includes, version, limits, exit codes
 *   2. Utilities: string views, bounded buffers, arenas
 *   3. Errors
 *   4. The world: seams to the outside
 *   5. SHA-256, HMAC and SigV4 signing
 *   6. TLS over BearSSL and trust anchors
 *   7. HTTP/1.1 client
 *   8. JSON reader and writer
 *   9. Credentials
 *  10. AWS call
 *  11. ECS operations
 *  12. Image references
 *  13. Task definitions
 *  14. Deploy engine
 *  15. Command line
 *  16. main
 *
 * Conventions: C99 + POSIX 2008. Everything is static except main(). A short prefix
 * per layer; types are `struct prefix_noun`. Functions return an int code (0 = ok,
 * otherwise an ED_EXIT_* code) and the first failure fills the sticky error record
 * in the context; nothing below the CLI prints or exits. Memory is bounded: every
 * limit is a named ED_MAX_* constant that tests may shrink.
 *
 * Start reading at cli_main(), then dep_run().
 */

/* ===== 1. Includes, version, limits, exit codes =========================== */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#define JSMN_STATIC
#define JSMN_PARENT_LINKS
#define JSMN_STRICT
#include <jsmn.h>

#define ED_VERSION "0.1.0"

/* What the binary was built with; build.sh passes the real versions. */
#ifndef ED_LIBC
#ifdef __GLIBC__
#define ED_LIBC "glibc"
#else
#define ED_LIBC "unknown libc"
#endif
#endif
#ifndef ED_BEARSSL
#define ED_BEARSSL "0.6"
#endif
#ifndef ED_JSMN
#define ED_JSMN "1.1.0"
#endif

/* Limits. Each is a named constant so a test can shrink it to reach the overflow path. */
#ifndef ED_MAX_ERRMSG
#define ED_MAX_ERRMSG 512          /* bytes of the sticky error message */
#endif
#ifndef ED_MAX_CONTAINER_IMAGES
#define ED_MAX_CONTAINER_IMAGES 32 /* --container-image occurrences */
#endif
#ifndef ED_MAX_IMAGE_REF
#define ED_MAX_IMAGE_REF 512       /* bytes of an image reference we build */
#endif

/*
 * Exit codes (§9). 1 and 3..13 keep the shell tool's meaning.
 */
enum {
	ED_OK = 0,
	ED_EXIT_TIMEOUT = 1,        /* timed out, no rollback asked */
	ED_EXIT_ROLLBACK_FAILED = 2,/* deployment failed and our rollback failed too */
	ED_EXIT_USAGE = 3,          /* usage error, bad value, unreadable input file */
	ED_EXIT_NO_TARGET = 5,      /* neither -n nor -d */
	ED_EXIT_BOTH_TARGETS = 6,   /* both -n and -d */
	ED_EXIT_NO_CLUSTER = 7,
	ED_EXIT_NO_IMAGE = 8,
	ED_EXIT_MAX_DEFS = 9,
	ED_EXIT_LAUNCH_TYPE = 10,
	ED_EXIT_NETWORK_CONF = 11,  /* also --wait-for-success without --run-task */
	ED_EXIT_PLATFORM = 12,
	ED_EXIT_BAD_IMAGE = 13,
	ED_EXIT_NO_MATCH = 14,      /* -i matched no container */
	ED_EXIT_FAILED = 15,        /* deployment FAILED on ECS's side */
	ED_EXIT_SUPERSEDED = 16,
	ED_EXIT_PAUSED = 17,
	ED_EXIT_ROLLED_BACK = 18,   /* failed, and our rollback completed */
	ED_EXIT_TASK_FAILED = 19,
	ED_EXIT_AUTH = 20,
	ED_EXIT_AWS = 21,
	ED_EXIT_NETWORK = 22,
	ED_EXIT_INTERNAL = 70
};

/* ===== 2. Utilities: string views, bounded buffers, arenas ================ */
/*
 * struct sv is a pointer+length view into bytes somebody else owns; it is never
 * NUL-terminated by contract. struct buf is a bounded writer over caller-owned
 * memory: appends past the capacity set `overflow` and are dropped, so callers
 * check once at the end ("too big: <limit>") instead of after every append; the
 * contents stay NUL-terminated while cap > 0.
 */

struct sv {
	const char *p;
	size_t n;
};

static struct sv
sv_make(const char *p, size_t n)
{
	struct sv s;

	s.p = p;
	s.n = n;
	return s;
}

static struct sv
sv_z(const char *z)
{
	return sv_make(z, z ? strlen(z) : 0);
}

static int
sv_eq(struct sv a, struct sv b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static int
sv_eqz(struct sv a, const char *z)
{
	return sv_eq(a, sv_z(z));
}

static int
sv_starts(struct sv a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

/* Index of the first c in s, or -1. */
static long
sv_chr(struct sv s, char c)
{
	const char *q = s.n ? memchr(s.p, c, s.n) : NULL;

	return q ? (long)(q - s.p) : -1;
}

/* Index of the last c in s, or -1. */
static long
sv_rchr(struct sv s, char c)
{
	size_t i;

	for (i = s.n; i > 0; i--) {
		if (s.p[i - 1] == c)
			return (long)(i - 1);
	}
	return -1;
}

static struct sv
sv_sub(struct sv s, size_t from, size_t to)
{
	if (to > s.n)
		to = s.n;
	if (from > to)
		from = to;
	return sv_make(s.p + from, to - from);
}

/*
 * Parses a whole decimal integer in [min, max]. No sign unless min < 0, no
 * spaces, no trailing bytes. Returns 0 and sets *out, or -1.
 */
static int
sv_to_long(struct sv s, long min, long max, long *out)
{
	size_t i = 0;
	int neg = 0;
	long v = 0;

	if (s.n > 0 && s.p[0] == '-' && min < 0) {
		neg = 1;
		i = 1;
	}
	if (i >= s.n)
		return -1;
	for (; i < s.n; i++) {
		int d;

		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		d = s.p[i] - '0';
		if (v > (LONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg)
		v = -v;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

struct buf {
	char *p;
	size_t cap;
	size_t len;
	int overflow;
};

/* Cannot fail; mem may be NULL only when cap is 0. */
static void
buf_init(struct buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	b->len = 0;
	b->overflow = 0;
	if (cap > 0)
		mem[0] = '\0';
}

static void
buf_put(struct buf *b, const void *data, size_t n)
{
	if (b->overflow || b->cap == 0 || n > b->cap - 1 - b->len) {
		b->overflow = 1;
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_putz(struct buf *b, const char *z)
{
	buf_put(b, z, strlen(z));
}

static void
buf_putsv(struct buf *b, struct sv s)
{
	buf_put(b, s.p, s.n);
}

static void
buf_putc(struct buf *b, char c)
{
	buf_put(b, &c, 1);
}

/* ===== 3. Errors ========================================================== */
/*
 * One sticky error record per run. The first failure fills it (exit code, HTTP
 * status, AWS error type, request id, a bounded message); later failures only
 * keep it. The CLI layer prints it. Messages never contain secrets (§8): callers
 * pass names and codes, not credential values or container environments.
 */

struct err {
	int code;                  /* ED_EXIT_*; 0 while nothing failed */
	int http_status;
	char aws_type[96];         /* e.g. "ClientException" */
	char request_id[80];
	char msg[ED_MAX_ERRMSG];
};

static void
err_clear(struct err *e)
{
	memset(e, 0, sizeof(*e));
}

/* Records the first failure; returns code so callers can `return err_set(...)`. */
static int
err_set(struct err *e, int code, const char *fmt, ...)
{
	va_list ap;

	if (e->code != 0)
		return code;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* ===== 4. The world: seams to the outside ================================= */
/*
 * Everything the program takes from outside goes through struct world: the wall
 * and monotonic clocks, sleeping, the environment, reading files, randomness and
 * the two output streams. main() fills it with the real system; tests fill it
 * with fakes (captured output, a fake clock, a fixed environment).
 */

struct world {
	void *ctx;                                          /* passed to every hook */
	int64_t (*wall_now)(void *ctx);                     /* seconds since the epoch */
	int64_t (*mono_ms)(void *ctx);                      /* monotonic milliseconds */
	void (*sleep_ms)(void *ctx, int64_t ms);
	const char *(*getenv)(void *ctx, const char *name);
	void (*write)(void *ctx, int fd, const char *s, size_t n); /* fd 1 or 2 */
	int (*random)(void *ctx, void *dst, size_t n);      /* 0 on success */
};

static void
w_puts(struct world *w, int fd, const char *s)
{
	w->write(w->ctx, fd, s, strlen(s));
}

static void
w_printf(struct world *w, int fd, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* Keep the line's end visible: a truncated log line still ends in "\n". */
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	w->write(w->ctx, fd, line, (size_t)n);
}

static const char *
w_getenv(struct world *w, const char *name)
{
	return w->getenv(w->ctx, name);
}

static int64_t
sys_wall_now(void *ctx)
{
	(void)ctx;
	return (int64_t)time(NULL);
}

static int64_t
sys_mono_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sys_sleep_ms(void *ctx, int64_t ms)
{
	struct timespec ts;

	(void)ctx;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *
sys_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static void
sys_write(void *ctx, int fd, const char *s, size_t n)
{
	(void)ctx;
	while (n > 0) {
		ssize_t k = write(fd, s, n);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += k;
		n -= (size_t)k;
	}
}

static int
sys_random(void *ctx, void *dst, size_t n)
{
	int fd;
	size_t got = 0;

	(void)ctx;
	fd = open("/dev/urandom", O_RDONLY);
	if (fd < 0)
		return -1;
	while (got < n) {
		ssize_t k = read(fd, (char *)dst + got, n - got);

		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		got += (size_t)k;
	}
	close(fd);
	return 0;
}

static void
world_init_system(struct world *w)
{
	w->ctx = NULL;
	w->wall_now = sys_wall_now;
	w->mono_ms = sys_mono_ms;
	w->sleep_ms = sys_sleep_ms;
	w->getenv = sys_getenv;
	w->write = sys_write;
	w->random = sys_random;
}

/* ===== 5. SHA-256, HMAC and SigV4 signing ================================= */
/*
 * (Built by the transport issue.) Canonical request, string to sign, derived
 * key and Authorization header per AWS Signature Version 4; the timestamp is an
 * argument, never read here.
 */

/* ===== 6. TLS over BearSSL and trust anchors ============================== */
/*
 * (Built by the transport issue.) TLS 1.2 client with SNI, chain and host-name
 * verification always on; built-in Amazon Trust Services anchors plus a PEM
 * bundle from --ca-bundle / AWS_CA_BUNDLE.
 */

/* ===== 7. HTTP/1.1 client ================================================= */
/*
 * (Built by the transport issue.) One kept-alive connection per endpoint,
 * push-style response parser, Content-Length and chunked bodies, proxies.
 */

/* ===== 8. JSON reader and writer ========================================== */
/*
 * (Built by the transport issue.) jsmn-based incremental reader and an
 * escaping writer.
 */

/* TEMPORARY (engine branch): a minimal reader/writer with the api.md names so
 * the deploy engine compiles and its tests run until the json branch lands.
 * Replaced wholesale by section 8 of the json branch at merge. */
struct json_doc { const char *js; size_t len; jsmntok_t *tok; int ntok; };

static int
json_parse(struct json_doc *d, const char *js, size_t len, jsmntok_t *tok, unsigned cap_tok,
    struct err *e)
{
	jsmn_parser p;
	int n;

	jsmn_init(&p);
	n = jsmn_parse(&p, js, len, tok, cap_tok);
	if (n == JSMN_ERROR_NOMEM)
		return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_JSON_TOKENS");
	if (n < 1)
		return err_set(e, ED_EXIT_INTERNAL, "malformed JSON at byte %u", p.pos);
	d->js = js;
	d->len = len;
	d->tok = tok;
	d->ntok = n;
	return 0;
}

static int
json_next(const struct json_doc *d, int t)
{
	int end = d->tok[t].end;

	t++;
	while (t < d->ntok && d->tok[t].start < end)
		t++;
	return t;
}

static int
json_child(const struct json_doc *d, int t, int i)
{
	int c, k;

	if (t < 0 || t >= d->ntok || i < 0 || i >= d->tok[t].size)
		return -1;
	c = t + 1;
	for (k = 0; k < i; k++) {
		c = json_next(d, c);
		if (d->tok[t].type == JSMN_OBJECT)
			c = json_next(d, c);
	}
	return c;
}

static struct sv
json_raw(const struct json_doc *d, int t)
{
	if (t < 0 || t >= d->ntok)
		return sv_make("", 0);
	return sv_make(d->js + d->tok[t].start, (size_t)(d->tok[t].end - d->tok[t].start));
}

static int
json_eq(const struct json_doc *d, int t, const char *z)
{
	return t >= 0 && t < d->ntok && d->tok[t].type == JSMN_STRING && sv_eqz(json_raw(d, t), z);
}

static int
json_get(const struct json_doc *d, int from, const char *path)
{
	int t = from;

	while (*path && t >= 0) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		struct sv key = sv_make(path, n);
		int i, found = -1;

		if (d->tok[t].type == JSMN_OBJECT) {
			for (i = 0; i < d->tok[t].size; i++) {
				int k = json_child(d, t, i);

				if (sv_eq(json_raw(d, k), key)) {
					found = k + 1;
					break;
				}
			}
		} else if (d->tok[t].type == JSMN_ARRAY) {
			long idx;

			if (sv_to_long(key, 0, INT_MAX, &idx) == 0)
				found = json_child(d, t, (int)idx);
		}
		t = found;
		path += n;
		if (*path == '.')
			path++;
	}
	return t;
}

static int
json_long(const struct json_doc *d, int t, long *out)
{
	if (t < 0 || d->tok[t].type != JSMN_PRIMITIVE)
		return -1;
	return sv_to_long(json_raw(d, t), LONG_MIN + 1, LONG_MAX, out);
}

static int
json_str(const struct json_doc *d, int t, struct buf *out)
{
	struct sv s;
	size_t i;

	if (t < 0 || d->tok[t].type != JSMN_STRING)
		return -1;
	s = json_raw(d, t);
	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c != '\\') {
			buf_putc(out, c);
			continue;
		}
		c = s.p[++i];
		switch (c) {
		case 'n': buf_putc(out, '\n'); break;
		case 't': buf_putc(out, '\t'); break;
		case 'r': buf_putc(out, '\r'); break;
		case 'b': buf_putc(out, '\b'); break;
		case 'f': buf_putc(out, '\f'); break;
		case 'u': {
			unsigned v = 0;
			int k;

			for (k = 0; k < 4; k++) {
				char h = s.p[++i];
				v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
			}
			if (v < 0x80) {
				buf_putc(out, (char)v);
			} else if (v < 0x800) {
				buf_putc(out, (char)(0xc0 | (v >> 6)));
				buf_putc(out, (char)(0x80 | (v & 0x3f)));
			} else {
				buf_putc(out, (char)(0xe0 | (v >> 12)));
				buf_putc(out, (char)(0x80 | ((v >> 6) & 0x3f)));
				buf_putc(out, (char)(0x80 | (v & 0x3f)));
			}
			break;
		}
		default: buf_putc(out, c); break;
		}
	}
	return out->overflow ? -1 : 0;
}

struct jw { struct buf *b; int depth; unsigned char first[64]; };
/* first[d]: bit0 nothing written yet at depth d, bit1 a key was just written, bit2 array */

static void
jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->first[0] = 1;
}

static void
jw_sep(struct jw *w)
{
	unsigned char *f = &w->first[w->depth];

	if (*f & 2) {
		*f &= (unsigned char)~2;
		return;
	}
	if (!(*f & 1))
		buf_putc(w->b, ',');
	*f &= (unsigned char)~1;
}

static void
jw_open(struct jw *w, char c)
{
	jw_sep(w);
	buf_putc(w->b, c);
	if (w->depth < 63)
		w->depth++;
	w->first[w->depth] = (unsigned char)(1 | (c == '[' ? 4 : 0));
}

static void jw_obj(struct jw *w) { jw_open(w, '{'); }
static void jw_arr(struct jw *w) { jw_open(w, '['); }

static void
jw_end(struct jw *w)
{
	buf_putc(w->b, (w->first[w->depth] & 4) ? ']' : '}');
	if (w->depth > 0)
		w->depth--;
}

static void
jw_esc(struct buf *b, struct sv s)
{
	size_t i;

	buf_putc(b, '"');
	for (i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '"' || c == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)c);
		} else if (c == '\n') {
			buf_putz(b, "\\n");
		} else if (c < 0x20) {
			char t[8];
			snprintf(t, sizeof(t), "\\u%04x", c);
			buf_putz(b, t);
		} else {
			buf_putc(b, (char)c);
		}
	}
	buf_putc(b, '"');
}

static void
jw_key(struct jw *w, const char *k)
{
	jw_sep(w);
	jw_esc(w->b, sv_z(k));
	buf_putc(w->b, ':');
	w->first[w->depth] |= 2;
}

static void jw_str(struct jw *w, struct sv s) { jw_sep(w); jw_esc(w->b, s); }
static void jw_strz(struct jw *w, const char *z) { jw_str(w, sv_z(z)); }
static void jw_long(struct jw *w, long v) { char t[24]; jw_sep(w); snprintf(t, sizeof(t), "%ld", v); buf_putz(w->b, t); }
static void jw_bool(struct jw *w, int v) { jw_sep(w); buf_putz(w->b, v ? "true" : "false"); }
static void jw_raw(struct jw *w, struct sv json) { jw_sep(w); buf_putsv(w->b, json); }

/* ===== 9. Credentials ===================================================== */
/*
 * (Built by the credentials issue.) The AWS credential chain of §7.1.
 */

/* ===== 10. AWS call ======================================================= */
/*
 * (Built by the transport issue.) aws_call(): the single road to AWS.
 */

/* ===== 11. ECS operations ================================================= */
/*
 * The ECS operations the deploy engine uses, one function each: it builds the
 * request body (JSON, with jw_) in the context's request buffer and sends it
 * through c->call, which in the product is aws_call() and in tests a script of
 * canned answers (the seam: struct ecs holds the function pointer, so the whole
 * engine runs against a fake without a network). The answer is left in *out and
 * stays valid until the next call on the same context, so callers copy what
 * they keep (ARNs, ids) before calling again.
 *
 * Errors: the transport's codes (20 credentials, 21 AWS rejected the request,
 * 22 network) pass through; a service or task definition that is missing or not
 * ACTIVE is ED_EXIT_AWS with a sentence naming it (§5.1), never a null. A body
 * that does not fit is "too big: ED_MAX_REQUEST" (ED_EXIT_INTERNAL).
 */

#ifndef ED_MAX_REQUEST
#define ED_MAX_REQUEST (64 * 1024) /* bytes of one request body we build (100 task ARNs ~ 10 KiB) */
#endif
#ifndef ED_MAX_ARN
#define ED_MAX_ARN 512             /* bytes of an ARN or id we keep */
#endif
#ifndef ED_MAX_LIST
#define ED_MAX_LIST 100            /* ARNs per ListTasks page / DescribeTasks call (the AWS maximum) */
#endif

#define ECS_TARGET_PREFIX "AmazonEC2ContainerServiceV20141113."

/*
 * The transport under the ECS operations: call(ctx, op, body, out, e) sends
 * operation op (bare name, "DescribeServices") with a JSON body and leaves the
 * parsed answer in *out; returns 0 or an ED_EXIT_* code recorded in e.
 */
struct ecs {
	int (*call)(void *ctx, const char *op, struct sv body, struct json_doc *out, struct err *e);
	void *ctx;                 /* struct aws * in the product */
	long ncalls;               /* calls made, for the summary and the benchmark */
	char req[ED_MAX_REQUEST];  /* the request body being built */
	struct buf b;
	struct jw w;
};

static void
ecs_init(struct ecs *c, int (*call)(void *, const char *, struct sv, struct json_doc *, struct err *),
    void *ctx)
{
	c->call = call;
	c->ctx = ctx;
	c->ncalls = 0;
}

/* Starts a request body: "{" in c->req. */
static struct jw *
ecs_begin(struct ecs *c)
{
	buf_init(&c->b, c->req, sizeof(c->req));
	jw_init(&c->w, &c->b);
	jw_obj(&c->w);
	return &c->w;
}

/* Closes the body opened by ecs_begin() and sends it. */
static int
ecs_send(struct ecs *c, const char *op, struct json_doc *out, struct err *e)
{
	jw_end(&c->w);
	if (c->b.overflow)
		return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_REQUEST (the %s request)", op);
	c->ncalls++;
	return c->call(c->ctx, op, sv_make(c->req, c->b.len), out, e);
}

/* Sends a body somebody else built (RegisterTaskDefinition). */
static int
ecs_send_raw(struct ecs *c, const char *op, struct sv body, struct json_doc *out, struct err *e)
{
	c->ncalls++;
	return c->call(c->ctx, op, body, out, e);
}

static void
jw_kv(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	jw_strz(w, v);
}

/* The JSON text of token t as it appears (strings with their quotes), for copying through. */
static struct sv
ecs_json_text(const struct json_doc *d, int t)
{
	struct sv s = json_raw(d, t);

	if (t >= 0 && t < d->ntok && d->tok[t].type == JSMN_STRING)
		s = sv_make(s.p - 1, s.n + 2);
	return s;
}

/* Copies string token t into dst (cap bytes, NUL-terminated); "" when absent. */
static void
ecs_copy(const struct json_doc *d, int t, char *dst, size_t cap)
{
	struct buf b;

	buf_init(&b, dst, cap);
	if (t < 0 || json_str(d, t, &b) != 0 || b.overflow)
		dst[0] = '\0';
}

static long
ecs_long(const struct json_doc *d, int t, long dflt)
{
	long v;

	return json_long(d, t, &v) == 0 ? v : dflt;
}

/*
 * DescribeServices for one service. *svc is the token of services[0]. A missing
 * service, or one that is not ACTIVE, is ED_EXIT_AWS with a clear message.
 */
static int
ecs_describe_service(struct ecs *c, const char *cluster, const char *service,
    struct json_doc *out, int *svc, struct err *e)
{
	struct jw *w = ecs_begin(c);
	char status[32], reason[64];
	int rc;

	jw_kv(w, "cluster", cluster);
	jw_key(w, "services");
	jw_arr(w);
	jw_strz(w, service);
	jw_end(w);
	rc = ecs_send(c, "DescribeServices", out, e);
	if (rc != 0)
		return rc;
	*svc = json_get(out, 0, "services.0");
	if (*svc < 0) {
		ecs_copy(out, json_get(out, 0, "failures.0.reason"), reason, sizeof(reason));
		return err_set(e, ED_EXIT_AWS, "service %s not found in cluster %s (%s)", service, cluster,
		    reason[0] ? reason : "no such service");
	}
	ecs_copy(out, json_get(out, *svc, "status"), status, sizeof(status));
	if (strcmp(status, "ACTIVE") != 0)
		return err_set(e, ED_EXIT_AWS, "service %s in cluster %s is %s, not ACTIVE", service,
		    cluster, status[0] ? status : "in an unknown state");
	return 0;
}

/* DescribeTaskDefinition; *td is the token of taskDefinition, tags (may be absent) at "tags". */
static int
ecs_describe_td(struct ecs *c, const char *ref, int with_tags, struct json_doc *out, int *td,
    struct err *e)
{
	struct jw *w = ecs_begin(c);
	int rc;

	jw_kv(w, "taskDefinition", ref);
	if (with_tags) {
		jw_key(w, "include");
		jw_arr(w);
		jw_strz(w, "TAGS");
		jw_end(w);
	}
	rc = ecs_send(c, "DescribeTaskDefinition", out, e);
	if (rc != 0)
		return rc;
	*td = json_get(out, 0, "taskDefinition");
	if (*td < 0)
		return err_set(e, ED_EXIT_AWS, "task definition %s: the answer has no taskDefinition", ref);
	return 0;
}

/* RegisterTaskDefinition with a finished body; the new ARN goes to arn (ED_MAX_ARN). */
static int
ecs_register_td(struct ecs *c, struct sv body, struct json_doc *out, char *arn, struct err *e)
{
	int rc = ecs_send_raw(c, "RegisterTaskDefinition", body, out, e);

	if (rc != 0)
		return rc;
	ecs_copy(out, json_get(out, 0, "taskDefinition.taskDefinitionArn"), arn, ED_MAX_ARN);
	if (arn[0] == '\0')
		return err_set(e, ED_EXIT_AWS, "RegisterTaskDefinition answered without a taskDefinitionArn");
	return 0;
}

/* What UpdateService changes; NULL / negative members are left out of the request. */
struct ecs_update {
	const char *cluster, *service;
	const char *task_def;        /* NULL: keep */
	long desired;                /* < 0: keep */
	struct sv dc;                /* deploymentConfiguration JSON object, or empty */
	int force;                   /* forceNewDeployment */
};

static int
ecs_update_service(struct ecs *c, const struct ecs_update *u, struct json_doc *out, struct err *e)
{
	struct jw *w = ecs_begin(c);

	jw_kv(w, "cluster", u->cluster);
	jw_kv(w, "service", u->service);
	if (u->task_def)
		jw_kv(w, "taskDefinition", u->task_def);
	if (u->desired >= 0) {
		jw_key(w, "desiredCount");
		jw_long(w, u->desired);
	}
	if (u->dc.n) {
		jw_key(w, "deploymentConfiguration");
		jw_raw(w, u->dc);
	}
	if (u->force) {
		jw_key(w, "forceNewDeployment");
		jw_bool(w, 1);
	}
	return ecs_send(c, "UpdateService", out, e);
}

/* ListTasks of a service (or, with service NULL, of startedBy) in desired_status; token may be "". */
static int
ecs_list_tasks(struct ecs *c, const char *cluster, const char *service, const char *desired_status,
    const char *token, struct json_doc *out, struct err *e)
{
	struct jw *w = ecs_begin(c);

	jw_kv(w, "cluster", cluster);
	if (service)
		jw_kv(w, "serviceName", service);
	jw_kv(w, "desiredStatus", desired_status);
	jw_key(w, "maxResults");
	jw_long(w, ED_MAX_LIST);
	if (token && token[0])
		jw_kv(w, "nextToken", token);
	return ecs_send(c, "ListTasks", out, e);
}

/* DescribeTasks for n (<= ED_MAX_LIST) task ARNs. */
static int
ecs_describe_tasks(struct ecs *c, const char *cluster, const struct sv *arns, int n,
    struct json_doc *out, struct err *e)
{
	struct jw *w = ecs_begin(c);
	int i;

	jw_kv(w, "cluster", cluster);
	jw_key(w, "tasks");
	jw_arr(w);
	for (i = 0; i < n; i++)
		jw_str(w, arns[i]);
	jw_end(w);
	return ecs_send(c, "DescribeTasks", out, e);
}

/* ListTaskDefinitions(familyPrefix, ACTIVE, ASC); token may be "". */
static int
ecs_list_td(struct ecs *c, const char *family, const char *token, struct json_doc *out,
    struct err *e)
{
	struct jw *w = ecs_begin(c);

	jw_kv(w, "familyPrefix", family);
	jw_kv(w, "status", "ACTIVE");
	jw_kv(w, "sort", "ASC");
	if (token && token[0])
		jw_kv(w, "nextToken", token);
	return ecs_send(c, "ListTaskDefinitions", out, e);
}

static int
ecs_deregister_td(struct ecs *c, const char *arn, struct json_doc *out, struct err *e)
{
	struct jw *w = ecs_begin(c);

	jw_kv(w, "taskDefinition", arn);
	return ecs_send(c, "DeregisterTaskDefinition", out, e);
}

/* RunTask of one copy; optional members are NULL/empty when not given. */
struct ecs_run {
	const char *cluster, *task_def, *launch_type, *platform_version;
	struct sv network;           /* networkConfiguration JSON object, or empty */
};

static int
ecs_run_task(struct ecs *c, const struct ecs_run *r, struct json_doc *out, struct err *e)
{
	struct jw *w = ecs_begin(c);

	jw_kv(w, "cluster", r->cluster);
	jw_kv(w, "taskDefinition", r->task_def);
	jw_key(w, "count");
	jw_long(w, 1);
	jw_kv(w, "startedBy", "ecs-deploy");
	if (r->launch_type)
		jw_kv(w, "launchType", r->launch_type);
	if (r->platform_version)
		jw_kv(w, "platformVersion", r->platform_version);
	if (r->network.n) {
		jw_key(w, "networkConfiguration");
		jw_raw(w, r->network);
	}
	return ecs_send(c, "RunTask", out, e);
}

/* StopServiceDeployment with stopType ROLLBACK (§5.6). */
static int
ecs_stop_sd(struct ecs *c, const char *sd_arn, struct json_doc *out, struct err *e)
{
	struct jw *w = ecs_begin(c);

	jw_kv(w, "serviceDeploymentArn", sd_arn);
	jw_kv(w, "stopType", "ROLLBACK");
	return ecs_send(c, "StopServiceDeployment", out, e);
}


/* ===== 12. Image references =============================================== */
/*
 * Parses `[registry[:port]/]path[:tag][@algo:hex]` (§4.1) into views of the
 * caller's string and decides which container images a reference replaces
 * (§4.2). Pure: no I/O, no allocation.
 *
 * Rules: the first '/'-separated component is a registry when there is more
 * than one component and it contains '.' or ':' or is "localhost"; path
 * components are lowercase alphanumerics joined by '.', '_', "__" or runs of
 * '-'; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is algo ":" hex,
 * sha256 with exactly 64 lowercase hex digits, other algorithms by shape.
 */

struct img {
	struct sv registry;  /* "" when absent (Docker Hub) */
	struct sv path;      /* repository path, never empty */
	struct sv tag;       /* "" when absent */
	struct sv digest;    /* "algo:hex" or "" */
};

static int
img_is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: alnum+ ((. | _ | __ | -+) alnum+)* */
static int
img_component_ok(struct sv c)
{
	size_t i = 0;

	if (c.n == 0 || !img_is_lower_alnum(c.p[0]))
		return 0;
	while (i < c.n) {
		size_t sep;

		while (i < c.n && img_is_lower_alnum(c.p[i]))
			i++;
		if (i == c.n)
			return 1;
		sep = i;
		if (c.p[i] == '.') {
			i++;
		} else if (c.p[i] == '_') {
			i++;
			if (i < c.n && c.p[i] == '_')
				i++;
		} else if (c.p[i] == '-') {
			while (i < c.n && c.p[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == c.n || !img_is_lower_alnum(c.p[i]) || i == sep)
			return 0;
	}
	return 1;
}

static int
img_tag_ok(struct sv t)
{
	size_t i;

	if (t.n == 0 || t.n > 128)
		return 0;
	if (!(isalnum((unsigned char)t.p[0]) || t.p[0] == '_'))
		return 0;
	for (i = 1; i < t.n; i++) {
		char c = t.p[i];

		if (!(isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

static int
img_is_hex(struct sv s, int lower_only)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (!lower_only && c >= 'A' && c <= 'F')))
			return 0;
	}
	return s.n > 0;
}

static int
img_digest_ok(struct sv d)
{
	long colon = sv_chr(d, ':');
	struct sv algo, hex;
	size_t i;

	if (colon <= 0)
		return 0;
	algo = sv_sub(d, 0, (size_t)colon);
	hex = sv_sub(d, (size_t)colon + 1, d.n);
	if (sv_eqz(algo, "sha256"))
		return hex.n == 64 && img_is_hex(hex, 1);
	if (sv_eqz(algo, "sha384"))
		return hex.n == 96 && img_is_hex(hex, 1);
	if (sv_eqz(algo, "sha512"))
		return hex.n == 128 && img_is_hex(hex, 1);
	/* Other algorithms by shape: [a-z0-9]+([+._-][a-z0-9]+)* ":" [a-zA-Z0-9=_-]{32,} */
	for (i = 0; i < algo.n; i++) {
		char c = algo.p[i];
		int sep = (c == '+' || c == '.' || c == '_' || c == '-');

		if (!img_is_lower_alnum(c) && !sep)
			return 0;
		if (sep && (i == 0 || i + 1 == algo.n))
			return 0;
	}
	if (hex.n < 32)
		return 0;
	for (i = 0; i < hex.n; i++) {
		char c = hex.p[i];

		if (!(isalnum((unsigned char)c) || c == '=' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* host[:port] with DNS-like labels (letters, digits, '-', '.') and a numeric port. */
static int
img_registry_ok(struct sv r)
{
	long colon = sv_chr(r, ':');
	struct sv host = colon < 0 ? r : sv_sub(r, 0, (size_t)colon);
	size_t i;
	long port;

	if (host.n == 0 || host.n > 253)
		return 0;
	for (i = 0; i < host.n; i++) {
		char c = host.p[i];

		if (!(isalnum((unsigned char)c) || c == '-' || c == '.'))
			return 0;
		if ((c == '-' || c == '.') && (i == 0 || i + 1 == host.n))
			return 0;
		if (c == '.' && host.p[i - 1] == '.')
			return 0;
	}
	if (colon >= 0 &&
	    sv_to_long(sv_sub(r, (size_t)colon + 1, r.n), 0, 65535, &port) != 0)
		return 0;
	return 1;
}

/*
 * Parses ref into *out (views into ref). Returns 0, or -1 when ref is not an
 * image reference.
 */
static int
img_parse(struct sv ref, struct img *out)
{
	struct sv name = ref;
	long at, slash, colon, first;

	memset(out, 0, sizeof(*out));
	if (ref.n == 0 || ref.n > 4096)
		return -1;
	at = sv_chr(ref, '@');
	if (at >= 0) {
		out->digest = sv_sub(ref, (size_t)at + 1, ref.n);
		name = sv_sub(ref, 0, (size_t)at);
		if (!img_digest_ok(out->digest))
			return -1;
	}
	slash = sv_rchr(name, '/');
	colon = sv_rchr(name, ':');
	if (colon > slash) {
		out->tag = sv_sub(name, (size_t)colon + 1, name.n);
		name = sv_sub(name, 0, (size_t)colon);
		if (!img_tag_ok(out->tag))
			return -1;
	}
	first = sv_chr(name, '/');
	if (first >= 0) {
		struct sv c0 = sv_sub(name, 0, (size_t)first);

		if (sv_chr(c0, '.') >= 0 || sv_chr(c0, ':') >= 0 || sv_eqz(c0, "localhost")) {
			out->registry = c0;
			name = sv_sub(name, (size_t)first + 1, name.n);
			if (!img_registry_ok(out->registry))
				return -1;
		}
	}
	out->path = name;
	if (name.n == 0)
		return -1;
	/* Each '/'-separated path component must be well formed. */
	for (;;) {
		long s = sv_chr(name, '/');
		struct sv c = s < 0 ? name : sv_sub(name, 0, (size_t)s);

		if (!img_component_ok(c))
			return -1;
		if (s < 0)
			break;
		name = sv_sub(name, (size_t)s + 1, name.n);
	}
	return 0;
}

/* ===== 13. Task definitions =============================================== */
/*
 * (Built by the deploy-engine issue.) Lossless clone of a task definition
 * (§3.1): drop the output-only members, copy every other member byte for byte.
 */

/* TEMPORARY (engine branch): stand-ins with the shape the engine needs until the
 * json branch's section 13 and img_same_repo land; replaced at merge. */
#ifndef ED_MAX_CONTAINERS
#define ED_MAX_CONTAINERS 64       /* containers in one task definition */
#endif

/* Registry and repository of im after normalisation: docker.io/library/x. */
static void
img_norm(const struct img *im, struct buf *b)
{
	struct sv reg = im->registry;

	if (reg.n == 0 || sv_eqz(reg, "index.docker.io") || sv_eqz(reg, "registry-1.docker.io"))
		reg = sv_z("docker.io");
	buf_putsv(b, reg);
	buf_putc(b, '/');
	if (sv_eqz(reg, "docker.io") && sv_chr(im->path, '/') < 0)
		buf_putz(b, "library/");
	buf_putsv(b, im->path);
}

static int
img_same_repo(struct sv a, struct sv b)
{
	struct img ia, ib;
	char ma[ED_MAX_IMAGE_REF + 32], mb[ED_MAX_IMAGE_REF + 32];
	struct buf ba, bb;

	if (img_parse(a, &ia) != 0 || img_parse(b, &ib) != 0)
		return 0;
	buf_init(&ba, ma, sizeof(ma));
	buf_init(&bb, mb, sizeof(mb));
	img_norm(&ia, &ba);
	img_norm(&ib, &bb);
	return !ba.overflow && !bb.overflow && strcmp(ma, mb) == 0;
}

struct td_edit {
	const char *image;                /* -i (final form): containers of the same repository */
	const char *tag_only;             /* -to: every container (or tag_only_names) */
	const char *tag_only_names;       /* "a,b" or NULL */
	const char *const *named;         /* NAME=IMAGE */
	int nnamed;
	struct sv tags;                   /* raw JSON array for "tags", or empty */
};

struct td_container {
	char name[256];
	char old_image[ED_MAX_IMAGE_REF];
	char new_image[ED_MAX_IMAGE_REF];
	int changed;
	int essential;
	int health;
};

struct td_report {
	int n;
	int nchanged;
	int skipped_digest;
	struct td_container c[ED_MAX_CONTAINERS];
};

static int
td_is_output_only(struct sv k)
{
	static const char *const drop[] = { "taskDefinitionArn", "revision", "status",
	    "requiresAttributes", "compatibilities", "registeredAt", "registeredBy",
	    "deregisteredAt", "deleteRequestedAt", "tags" };
	size_t i;

	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		if (sv_eqz(k, drop[i]))
			return 1;
	return 0;
}

static int
td_in_list(const char *list, struct sv name)
{
	struct sv l = sv_z(list);

	while (l.n) {
		long c = sv_chr(l, ',');
		struct sv item = c < 0 ? l : sv_sub(l, 0, (size_t)c);

		if (sv_eq(item, name))
			return 1;
		if (c < 0)
			break;
		l = sv_sub(l, (size_t)c + 1, l.n);
	}
	return 0;
}

static void
td_new_image(const struct td_edit *ed, struct td_container *tc, struct td_report *rep)
{
	struct sv old = sv_z(tc->old_image), name = sv_z(tc->name);
	int i;

	for (i = 0; i < ed->nnamed; i++) {
		const char *eq = strchr(ed->named[i], '=');

		if (eq && sv_eq(sv_make(ed->named[i], (size_t)(eq - ed->named[i])), name)) {
			snprintf(tc->new_image, sizeof(tc->new_image), "%s", eq + 1);
			return;
		}
	}
	if (ed->tag_only) {
		struct img im;

		if (ed->tag_only_names && !td_in_list(ed->tag_only_names, name))
			return;
		if (img_parse(old, &im) != 0)
			return;
		if (im.digest.n) {
			rep->skipped_digest++;
			return;
		}
		snprintf(tc->new_image, sizeof(tc->new_image), "%.*s:%s",
		    (int)(im.tag.n ? (size_t)(im.tag.p - old.p - 1) : old.n), old.p, ed->tag_only);
		return;
	}
	if (ed->image && img_same_repo(old, sv_z(ed->image)))
		snprintf(tc->new_image, sizeof(tc->new_image), "%s", ed->image);
}

static int
td_clone(const struct json_doc *d, int td, const struct td_edit *ed, struct buf *out,
    struct td_report *rep, struct err *e)
{
	struct jw w;
	int i, j, k;

	memset(rep, 0, sizeof(*rep));
	if (td < 0 || d->tok[td].type != JSMN_OBJECT)
		return err_set(e, ED_EXIT_USAGE, "task definition is not a JSON object");
	jw_init(&w, out);
	jw_obj(&w);
	for (i = 0; i < d->tok[td].size; i++) {
		int kt = json_child(d, td, i);
		struct sv key = json_raw(d, kt);
		char kz[128];

		if (td_is_output_only(key))
			continue;
		snprintf(kz, sizeof(kz), "%.*s", (int)key.n, key.p);
		jw_key(&w, kz);
		if (!sv_eqz(key, "containerDefinitions") || d->tok[kt + 1].type != JSMN_ARRAY) {
			jw_raw(&w, ecs_json_text(d, kt + 1));
			continue;
		}
		jw_arr(&w);
		for (j = 0; j < d->tok[kt + 1].size; j++) {
			int ct = json_child(d, kt + 1, j);
			struct td_container *tc = rep->n < ED_MAX_CONTAINERS ? &rep->c[rep->n++] : NULL;
			struct buf nb, ib;

			if (tc == NULL)
				return err_set(e, ED_EXIT_USAGE, "too big: ED_MAX_CONTAINERS");
			buf_init(&nb, tc->name, sizeof(tc->name));
			buf_init(&ib, tc->old_image, sizeof(tc->old_image));
			json_str(d, json_get(d, ct, "name"), &nb);
			json_str(d, json_get(d, ct, "image"), &ib);
			tc->essential = !(json_get(d, ct, "essential") >= 0 &&
			    sv_eqz(json_raw(d, json_get(d, ct, "essential")), "false"));
			tc->health = json_get(d, ct, "healthCheck") >= 0;
			td_new_image(ed, tc, rep);
			if (tc->new_image[0]) {
				tc->changed = 1;
				rep->nchanged++;
			}
			jw_obj(&w);
			for (k = 0; k < d->tok[ct].size; k++) {
				int ck = json_child(d, ct, k);
				struct sv ckey = json_raw(d, ck);

				snprintf(kz, sizeof(kz), "%.*s", (int)ckey.n, ckey.p);
				jw_key(&w, kz);
				if (sv_eqz(ckey, "image") && tc->changed)
					jw_strz(&w, tc->new_image);
				else
					jw_raw(&w, ecs_json_text(d, ck + 1));
			}
			jw_end(&w);
		}
		jw_end(&w);
	}
	if (ed->tags.n) {
		jw_key(&w, "tags");
		jw_raw(&w, ed->tags);
	}
	jw_end(&w);
	if (out->overflow)
		return err_set(e, ED_EXIT_USAGE, "too big: ED_MAX_TD_JSON");
	return 0;
}

/* ===== 14. Deploy engine ================================================== */
/*
 * The deploy engine (§3–§6): from a service (or a task-definition family) and
 * the image options, it registers the new revision, points the service at it,
 * follows OUR deployment until ECS has finished (or failed), rolls back when
 * asked, prunes old revisions and runs one-off tasks. It talks to ECS only
 * through the ecs_ layer and to the outside only through struct world (clock,
 * sleep, output), so the tests run it against scripted answers and a fake clock.
 *
 * Output: the shell tool's log lines (§5.2) on stdout (stderr when stdout is
 * reserved for --render's body or the --output json summary), progress lines
 * with elapsed seconds, each new service event once, each stopped task of the
 * new revision once. Errors are returned (sticky struct err) for the CLI to
 * print; the few lines the shell tool printed itself on stdout (the timeout
 * ERROR lines) are printed here and flagged in dep_result.reported.
 *
 * Waiting (§5.3, §5.4): phase 1 "new tasks up" (our deployment's runningCount
 * reaches its desiredCount and a task scan finds that many RUNNING tasks of the
 * new revision, HEALTHY where an essential container has a health check), then
 * phase 2 "rollout complete" (rolloutState COMPLETED, or the only deployment
 * left and steady when ECS reports no rolloutState). Each phase has its own
 * wall-clock budget -t measured with world->mono_ms; polls back off from 1 s to
 * 6 s (--poll-interval fixes it) and never sleep past the deadline.
 *
 * Exit codes (§9): 1 timeout, 2 our rollback failed, 14 no container matched,
 * 15 FAILED on ECS's side (or ECS's circuit breaker rolled back), 16 superseded,
 * 18 failed and rolled back, 19 one-off task failed, 21 for the CODE_DEPLOY and
 * EXTERNAL deployment controllers (not supported yet).
 *
 * Memory: one static engine state (about 0.4 MiB, mostly the task-definition
 * body and one page of task ARNs); tasks are processed one DescribeTasks page
 * at a time, never all at once. Limits: ED_MAX_TD_JSON, ED_MAX_TD_TOKENS,
 * ED_MAX_SEEN, ED_MAX_REVISIONS, ED_MAX_DC.
 */

#ifndef ED_MAX_TD_JSON
#define ED_MAX_TD_JSON (128 * 1024) /* bytes of a task definition we build or read from a file */
#endif
#ifndef ED_MAX_TD_TOKENS
#define ED_MAX_TD_TOKENS 16384      /* JSON tokens of a --task-definition-file */
#endif
#ifndef ED_MAX_SEEN
#define ED_MAX_SEEN 512             /* events and stopped tasks remembered as printed */
#endif
#ifndef ED_MAX_REVISIONS
#define ED_MAX_REVISIONS 50000      /* ACTIVE revisions of one family --max-definitions can sort */
#endif
#ifndef ED_MAX_DC
#define ED_MAX_DC 4096              /* bytes of a service's deploymentConfiguration */
#endif
#ifndef ED_MAX_TOKEN_STR
#define ED_MAX_TOKEN_STR 4096       /* bytes of a nextToken */
#endif

#define DEP_POLL_FIRST_MS 1000
#define DEP_POLL_MAX_MS 6000

/* What the engine is asked to do; filled by the CLI from validated options. */
struct dep_opts {
	const char *cluster, *service, *task_def;
	const char *image;            /* final reference (-e and the default tag applied) or NULL */
	const char *tag_only, *tag_only_names;
	const char *const *container_images;  /* NAME=IMAGE */
	int n_container_images;
	struct sv td_file;            /* contents of --task-definition-file, or empty */
	const char *td_file_name;
	long timeout_s;
	long poll_ms;                 /* 0: back off from 1 s to 6 s */
	long desired, min_pct, max_pct;  /* < 0: not given */
	long max_defs;                /* 0: off */
	int enable_rollback, use_latest, force_new, skip_check, run_task, wait_for_success;
	int copy_tags, allow_no_match, render, dry_run, quiet_stdout;
	const char *launch_type, *platform_version, *network_config;
};

/* How the run ended, for --output json and the GitHub Actions outputs. */
struct dep_result {
	const char *status;           /* "success", "timeout", "failed", ... (see dep_status) */
	char new_td[ED_MAX_ARN];
	char prev_td[ED_MAX_ARN];
	char deployment_id[ED_MAX_ARN];
	char task_arn[ED_MAX_ARN];
	int reported;                 /* the engine printed the error line itself */
	long calls;
	int64_t elapsed_ms;
};

/* A small set of ids already printed (events, stopped tasks); oldest forgotten first. */
struct dep_seen {
	char id[ED_MAX_SEEN][64];
	int n, next;
};

/* What one DescribeServices poll says about the deployment we follow. */
struct dep_state {
	int found, primary;
	long desired, running, pending, failed;
	char rollout[32];
	char reason[512];
	int ndeps;
	char primary_td[ED_MAX_ARN];
	char primary_id[128];
	char primary_reason[512];
	long svc_desired;
};

struct dep {
	struct world *w;
	struct ecs *c;
	const struct dep_opts *o;
	struct dep_result *r;
	struct err *e;
	int fd;                       /* where log lines go: 1, or 2 */
	int64_t t0;
	struct json_doc doc;          /* the latest answer (owned by the transport) */

	char svc_name[256];
	long svc_desired;             /* before our update */
	char dc[ED_MAX_DC];           /* the service's deploymentConfiguration before our update */
	char controller[32];
	char strategy[32];
	int cb_enabled;               /* deployment circuit breaker enabled */

	char target_td[ED_MAX_ARN];   /* the revision the deployment we follow runs */
	char dep_id[128];             /* that deployment's id; "" until seen */
	char sd_arn[ED_MAX_ARN];      /* its service deployment, when ECS reports one */
	int rolling_back;
	long last_failed;
	int health;                   /* an essential container of the new revision has a health check */
	int ecs_rolled_back;          /* ECS's own circuit breaker rolled back */
	char progress[1024];
	struct dep_seen events, stopped;
	struct td_report rep;
	int have_rep;
	char body[ED_MAX_TD_JSON];
	char token[ED_MAX_TOKEN_STR];
	char page[ED_MAX_LIST][ED_MAX_ARN];
	char tmp[ED_MAX_ARN + 64];
};

static void
dep_say(struct dep *d, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	d->w->write(d->w->ctx, d->fd, line, (size_t)n);
}

static long
dep_elapsed_s(struct dep *d)
{
	return (long)((d->w->mono_ms(d->w->ctx) - d->t0) / 1000);
}

/* Returns 1 and remembers id when it was not seen before, else 0. */
static int
dep_seen_add(struct dep_seen *s, struct sv id)
{
	int i;

	if (id.n == 0 || id.n >= sizeof(s->id[0]))
		return 1;
	for (i = 0; i < s->n; i++) {
		if (sv_eqz(id, s->id[i]))
			return 0;
	}
	memcpy(s->id[s->next], id.p, id.n);
	s->id[s->next][id.n] = '\0';
	s->next = (s->next + 1) % ED_MAX_SEEN;
	if (s->n < ED_MAX_SEEN)
		s->n++;
	return 1;
}

static int
dep_contains(struct sv hay, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; n <= hay.n && i + n <= hay.n; i++) {
		if (memcmp(hay.p + i, needle, n) == 0)
			return 1;
	}
	return 0;
}

/*
 * Prints the service's events that were not printed yet, oldest first (ECS
 * lists them newest first). With print 0 it only remembers them: the events
 * from before our deployment are history, not news.
 */
static void
dep_events(struct dep *d, int svc, int print)
{
	int evs = json_get(&d->doc, svc, "events");
	int i, n;

	if (evs < 0)
		return;
	n = d->doc.tok[evs].size;
	for (i = n - 1; i >= 0; i--) {
		int ev = json_child(&d->doc, evs, i);
		struct sv id = json_raw(&d->doc, json_get(&d->doc, ev, "id"));
		char msg[1024];

		if (!dep_seen_add(&d->events, id) || !print)
			continue;
		ecs_copy(&d->doc, json_get(&d->doc, ev, "message"), msg, sizeof(msg));
		dep_say(d, "[%lds] event: %s\n", dep_elapsed_s(d), msg);
		if (dep_contains(sv_z(msg), "unable to place a task"))
			dep_say(d, "  hint: no container instance can take a new task. With host-port "
			    "mappings a rolling deployment needs one more instance than tasks, or a lower "
			    "minimumHealthyPercent (-m) so old tasks stop first.\n");
	}
}

/* "arn:...:task/cluster/ID" -> "ID" */
static struct sv
dep_short_id(struct sv arn)
{
	long s = sv_rchr(arn, '/');

	return s < 0 ? arn : sv_sub(arn, (size_t)s + 1, arn.n);
}

/* Prints one stopped task: its stoppedReason and every container's exit code or reason. */
static void
dep_print_stopped(struct dep *d, int task)
{
	struct json_doc *j = &d->doc;
	int cs = json_get(j, task, "containers");
	struct sv id = dep_short_id(json_raw(j, json_get(j, task, "taskArn")));
	char reason[512];
	int i;

	ecs_copy(j, json_get(j, task, "stoppedReason"), reason, sizeof(reason));
	dep_say(d, "[%lds] stopped task %.*s: %s\n", dep_elapsed_s(d), (int)id.n, id.p,
	    reason[0] ? reason : "(no reason given)");
	for (i = 0; cs >= 0 && i < j->tok[cs].size; i++) {
		int ct = json_child(j, cs, i);
		char name[256], why[512];
		long code;

		ecs_copy(j, json_get(j, ct, "name"), name, sizeof(name));
		ecs_copy(j, json_get(j, ct, "reason"), why, sizeof(why));
		if (json_long(j, json_get(j, ct, "exitCode"), &code) == 0)
			dep_say(d, "  container %s: exit code %ld%s%s\n", name, code, why[0] ? ", " : "", why);
		else
			dep_say(d, "  container %s: no exit code%s%s\n", name, why[0] ? ", " : "", why);
	}
}

/*
 * Walks the service's tasks in desired status ds, one ListTasks page and one
 * DescribeTasks call at a time (§5.3: more than 100 tasks). With ds RUNNING it
 * counts tasks of target_td that are RUNNING (and HEALTHY when d->health); with
 * ds STOPPED it prints each stopped task of target_td not printed before.
 */
static int
dep_scan_tasks(struct dep *d, const char *ds, long *count)
{
	const struct dep_opts *o = d->o;
	struct sv arns[ED_MAX_LIST];
	int rc, i, n;

	*count = 0;
	d->token[0] = '\0';
	do {
		int list;

		rc = ecs_list_tasks(d->c, o->cluster, d->svc_name, ds, d->token, &d->doc, d->e);
		if (rc != 0)
			return rc;
		list = json_get(&d->doc, 0, "taskArns");
		n = list < 0 ? 0 : d->doc.tok[list].size;
		if (n > ED_MAX_LIST)
			n = ED_MAX_LIST;
		/* Copy the page and the token out: the next call reuses the answer buffer. */
		for (i = 0; i < n; i++) {
			ecs_copy(&d->doc, json_child(&d->doc, list, i), d->page[i], ED_MAX_ARN);
			arns[i] = sv_z(d->page[i]);
		}
		ecs_copy(&d->doc, json_get(&d->doc, 0, "nextToken"), d->token, sizeof(d->token));
		if (n == 0)
			continue;
		rc = ecs_describe_tasks(d->c, o->cluster, arns, n, &d->doc, d->e);
		if (rc != 0)
			return rc;
		list = json_get(&d->doc, 0, "tasks");
		for (i = 0; list >= 0 && i < d->doc.tok[list].size; i++) {
			int t = json_child(&d->doc, list, i);

			if (!json_eq(&d->doc, json_get(&d->doc, t, "taskDefinitionArn"), d->target_td))
				continue;
			if (strcmp(ds, "RUNNING") == 0) {
				if (json_eq(&d->doc, json_get(&d->doc, t, "lastStatus"), "RUNNING") &&
				    (!d->health ||
				    json_eq(&d->doc, json_get(&d->doc, t, "healthStatus"), "HEALTHY")))
					(*count)++;
			} else if (json_eq(&d->doc, json_get(&d->doc, t, "lastStatus"), "STOPPED") &&
			    dep_seen_add(&d->stopped, dep_short_id(json_raw(&d->doc,
			    json_get(&d->doc, t, "taskArn"))))) {
				dep_print_stopped(d, t);
				(*count)++;
			}
		}
	} while (d->token[0]);
	return 0;
}

/*
 * One DescribeServices poll: prints new events and a progress line when
 * something changed, fills *st about the deployment we follow (adopting the
 * PRIMARY deployment of target_td when its id is not known yet) and prints the
 * new revision's stopped tasks when its failedTasks grew.
 */
static int
dep_poll(struct dep *d, struct dep_state *st)
{
	struct json_doc *j = &d->doc;
	int svc, deps, i, rc;
	char line[1024];

	memset(st, 0, sizeof(*st));
	rc = ecs_describe_service(d->c, d->o->cluster, d->svc_name, j, &svc, d->e);
	if (rc != 0)
		return rc;
	dep_events(d, svc, 1);
	st->svc_desired = ecs_long(j, json_get(j, svc, "desiredCount"), 0);
	deps = json_get(j, svc, "deployments");
	st->ndeps = deps < 0 ? 0 : j->tok[deps].size;
	for (i = 0; i < st->ndeps; i++) {
		int dp = json_child(j, deps, i);
		int is_primary = json_eq(j, json_get(j, dp, "status"), "PRIMARY");
		int ours;

		if (is_primary) {
			ecs_copy(j, json_get(j, dp, "taskDefinition"), st->primary_td, sizeof(st->primary_td));
			ecs_copy(j, json_get(j, dp, "id"), st->primary_id, sizeof(st->primary_id));
			ecs_copy(j, json_get(j, dp, "rolloutStateReason"), st->primary_reason,
			    sizeof(st->primary_reason));
		}
		if (d->dep_id[0])
			ours = json_eq(j, json_get(j, dp, "id"), d->dep_id);
		else
			ours = is_primary && json_eq(j, json_get(j, dp, "taskDefinition"), d->target_td);
		if (!ours)
			continue;
		if (!d->dep_id[0])
			ecs_copy(j, json_get(j, dp, "id"), d->dep_id, sizeof(d->dep_id));
		st->found = 1;
		st->primary = is_primary;
		st->desired = ecs_long(j, json_get(j, dp, "desiredCount"), 0);
		st->running = ecs_long(j, json_get(j, dp, "runningCount"), 0);
		st->pending = ecs_long(j, json_get(j, dp, "pendingCount"), 0);
		st->failed = ecs_long(j, json_get(j, dp, "failedTasks"), 0);
		ecs_copy(j, json_get(j, dp, "rolloutState"), st->rollout, sizeof(st->rollout));
		ecs_copy(j, json_get(j, dp, "rolloutStateReason"), st->reason, sizeof(st->reason));
	}
	if (st->found && st->primary && !d->sd_arn[0] && !d->rolling_back)
		ecs_copy(j, json_get(j, svc, "currentServiceDeployment"), d->sd_arn, sizeof(d->sd_arn));
	if (st->found) {
		snprintf(line, sizeof(line), "%ld/%ld running, %ld pending, %ld failed, rollout %s, "
		    "%d deployment%s", st->running, st->desired, st->pending, st->failed,
		    st->rollout[0] ? st->rollout : "-", st->ndeps, st->ndeps == 1 ? "" : "s");
	} else {
		snprintf(line, sizeof(line), "waiting for the deployment of %s to appear, %d deployment%s",
		    d->target_td, st->ndeps, st->ndeps == 1 ? "" : "s");
	}
	if (strcmp(line, d->progress) != 0) {
		snprintf(d->progress, sizeof(d->progress), "%s", line);
		dep_say(d, "[%lds] %s\n", dep_elapsed_s(d), line);
	}
	if (st->found && st->failed > d->last_failed) {
		long n;

		d->last_failed = st->failed;
		rc = dep_scan_tasks(d, "STOPPED", &n);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/*
 * Decides whether the deployment we follow failed, from one poll. Returns 0
 * (keep going) or ED_EXIT_FAILED / ED_EXIT_SUPERSEDED with the reason in d->e.
 * ECS's own circuit-breaker rollback is FAILED with d->ecs_rolled_back set: it
 * is reported, never taken for success, and never rolled back a second time.
 */
static int
dep_judge(struct dep *d, const struct dep_state *st)
{
	const char *prev = d->r->prev_td;
	int back_to_prev = st->primary_td[0] && strcmp(st->primary_td, prev) == 0 &&
	    strcmp(prev, d->target_td) != 0;

	if (!st->found && !d->dep_id[0])
		return 0; /* not visible yet (a rollback ECS has not started) */
	if (st->found && strcmp(st->rollout, "FAILED") == 0) {
		if (!d->rolling_back && back_to_prev && !st->primary) {
			d->ecs_rolled_back = 1;
			return err_set(d->e, ED_EXIT_FAILED, "the deployment FAILED and ECS rolled the "
			    "service back to %s: %s", prev, st->reason[0] ? st->reason : "(no reason given)");
		}
		return err_set(d->e, ED_EXIT_FAILED, "the deployment FAILED: %s",
		    st->reason[0] ? st->reason : "(no reason given)");
	}
	if (!st->found || !st->primary) {
		if (!d->rolling_back && back_to_prev && (dep_contains(sv_z(st->primary_reason), "rolling back") ||
		    dep_contains(sv_z(st->primary_reason), "circuit breaker"))) {
			d->ecs_rolled_back = 1;
			return err_set(d->e, ED_EXIT_FAILED, "the deployment failed and ECS's circuit "
			    "breaker rolled the service back to %s (%s)", prev, st->primary_reason);
		}
		return err_set(d->e, ED_EXIT_SUPERSEDED, "superseded: deployment %s (task definition %s) "
		    "replaced ours (%s) while we waited", st->primary_id[0] ? st->primary_id : "?",
		    st->primary_td[0] ? st->primary_td : "?", d->dep_id);
	}
	/* A run of new tasks stopping with none running: ECS would retry forever without a breaker. */
	if (!d->cb_enabled && st->running == 0 && st->failed >= 3 + 2 * (st->desired > 0 ? st->desired : 1))
		return err_set(d->e, ED_EXIT_FAILED, "new tasks keep stopping (%ld failed, none running)",
		    st->failed);
	return 0;
}

/* Phase 1: enough RUNNING (and HEALTHY) tasks of the new revision. */
static int
dep_up(struct dep *d, const struct dep_state *st, int *up)
{
	long n = 0;
	int rc;

	*up = 0;
	if (!st->found || !st->primary || st->desired <= 0 || st->running < st->desired)
		return 0;
	rc = dep_scan_tasks(d, "RUNNING", &n);
	if (rc != 0)
		return rc;
	*up = n >= st->desired;
	return 0;
}

/* Phase 2: COMPLETED, or (without rolloutState) the only deployment left and steady. */
static int
dep_done(const struct dep_state *st)
{
	if (!st->found || !st->primary)
		return 0;
	if (st->rollout[0])
		return strcmp(st->rollout, "COMPLETED") == 0;
	return st->ndeps == 1 && st->running == st->desired && st->pending == 0;
}

/*
 * Waits for one phase (1 or 2) with its own deadline. Returns 0, a failure
 * code from dep_judge(), a transport code, or ED_EXIT_TIMEOUT (message set).
 */
static int
dep_phase(struct dep *d, int phase)
{
	struct world *w = d->w;
	int64_t deadline = w->mono_ms(w->ctx) + d->o->timeout_s * 1000;
	int64_t interval = d->o->poll_ms > 0 ? d->o->poll_ms : DEP_POLL_FIRST_MS;
	struct dep_state st;

	for (;;) {
		int64_t now, nap;
		int rc, ok = 0;

		rc = dep_poll(d, &st);
		if (rc == 0)
			rc = dep_judge(d, &st);
		if (rc == 0 && phase == 1)
			rc = dep_up(d, &st, &ok);
		if (rc != 0)
			return rc;
		if (phase == 2)
			ok = dep_done(&st);
		if (ok)
			return 0;
		now = w->mono_ms(w->ctx);
		if (now >= deadline)
			break;
		nap = deadline - now < interval ? deadline - now : interval;
		w->sleep_ms(w->ctx, nap);
		if (d->o->poll_ms <= 0) {
			interval = interval * 3 / 2;
			if (interval > DEP_POLL_MAX_MS)
				interval = DEP_POLL_MAX_MS;
		}
	}
	if (phase == 1)
		return err_set(d->e, ED_EXIT_TIMEOUT, "New task definition not running within %ld seconds",
		    d->o->timeout_s);
	return err_set(d->e, ED_EXIT_TIMEOUT, "Service deployment did not complete within %ld seconds "
	    "(rollout %s, %d deployments)", d->o->timeout_s, st.rollout[0] ? st.rollout : "-", st.ndeps);
}

/* Both phases for the deployment of target_td, with the shell tool's log lines. */
static int
dep_follow(struct dep *d, long desired)
{
	int rc = 0;

	if (desired <= 0) {
		dep_say(d, "Skipping check for running task definition, as desired-count <= 0\n");
	} else {
		rc = dep_phase(d, 1);
		if (rc == ED_EXIT_TIMEOUT && !d->rolling_back) {
			dep_say(d, "ERROR: %s\n", d->e->msg);
			d->r->reported = 1;
		}
		if (rc != 0)
			return rc;
		if (!d->rolling_back)
			dep_say(d, "Service updated successfully, new task definition running.\n");
	}
	if (d->o->skip_check && !d->rolling_back)
		return 0;
	if (!d->rolling_back)
		dep_say(d, "Waiting for service deployment to complete...\n");
	rc = dep_phase(d, 2);
	if (rc == ED_EXIT_TIMEOUT && !d->rolling_back) {
		dep_say(d, "ERROR: %s\n", d->e->msg);
		d->r->reported = 1;
	}
	if (rc == 0 && !d->rolling_back)
		dep_say(d, "Service deployment successful.\n");
	return rc;
}

/*
 * Our rollback (§5.6) after failure code why: StopServiceDeployment(ROLLBACK)
 * on our service deployment, else UpdateService back to the previous revision
 * (restoring desiredCount and deploymentConfiguration when we changed them);
 * then wait for it. Returns ED_EXIT_ROLLED_BACK or ED_EXIT_ROLLBACK_FAILED (or
 * why itself when there is nothing to roll back to), with the message in d->e.
 */
static int
dep_rollback(struct dep *d, int why)
{
	const struct dep_opts *o = d->o;
	char first[ED_MAX_ERRMSG];
	struct ecs_update u;
	int rc = -1, svc;

	snprintf(first, sizeof(first), "%s", d->e->msg);
	if (!d->r->reported)
		dep_say(d, "ERROR: %s\n", first);
	dep_say(d, "Rolling back to %s\n", d->r->prev_td);
	if (strcmp(d->r->prev_td, d->target_td) == 0) {
		dep_say(d, "Nothing to roll back: the forced deployment already used %s\n", d->r->prev_td);
		d->r->reported = 1;
		return why;
	}
	if (d->sd_arn[0]) {
		struct err e2;

		err_clear(&e2);
		rc = ecs_stop_sd(d->c, d->sd_arn, &d->doc, &e2);
		if (rc != 0)
			dep_say(d, "StopServiceDeployment did not work (%s); rolling back with UpdateService\n",
			    e2.msg);
	}
	if (rc != 0) {
		memset(&u, 0, sizeof(u));
		u.cluster = o->cluster;
		u.service = d->svc_name;
		u.task_def = d->r->prev_td;
		u.desired = o->desired >= 0 ? d->svc_desired : -1;
		if (o->min_pct >= 0 || o->max_pct >= 0)
			u.dc = sv_z(d->dc);
		err_clear(d->e);
		rc = ecs_update_service(d->c, &u, &d->doc, d->e);
		if (rc != 0) {
			snprintf(d->tmp, sizeof(d->tmp), "%s", d->e->msg);
			err_clear(d->e);
			return err_set(d->e, ED_EXIT_ROLLBACK_FAILED, "%s; the rollback to %s failed: %s",
			    first, d->r->prev_td, d->tmp);
		}
	}
	/* Follow whatever deployment now runs the previous revision. */
	snprintf(d->target_td, sizeof(d->target_td), "%s", d->r->prev_td);
	d->dep_id[0] = '\0';
	d->rolling_back = 1;
	d->last_failed = 0;
	d->health = 0;
	d->progress[0] = '\0';
	err_clear(d->e);
	rc = ecs_describe_service(d->c, o->cluster, d->svc_name, &d->doc, &svc, d->e);
	if (rc == 0)
		rc = dep_follow(d, ecs_long(&d->doc, json_get(&d->doc, svc, "desiredCount"), 0));
	d->r->reported = 0;
	if (rc == 0) {
		err_clear(d->e);
		dep_say(d, "Rollback to %s completed.\n", d->r->prev_td);
		return err_set(d->e, ED_EXIT_ROLLED_BACK, "%s; rolled back to %s", first, d->r->prev_td);
	}
	snprintf(d->tmp, sizeof(d->tmp), "%s", d->e->msg);
	err_clear(d->e);
	return err_set(d->e, ED_EXIT_ROLLBACK_FAILED, "%s; the rollback to %s did not complete: %s",
	    first, d->r->prev_td, d->tmp);
}

/* The family of a task-definition ARN (or "family:rev"), into out. */
static void
dep_family(const char *arn, char *out, size_t cap)
{
	struct sv s = sv_z(arn);
	long slash = sv_rchr(s, '/');
	long colon;

	if (slash >= 0)
		s = sv_sub(s, (size_t)slash + 1, s.n);
	colon = sv_rchr(s, ':');
	if (colon >= 0)
		s = sv_sub(s, 0, (size_t)colon);
	snprintf(out, cap, "%.*s", (int)s.n, s.p);
}

static long dep_revs[ED_MAX_REVISIONS];

static int
dep_cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

/*
 * --max-definitions N (§5.7), only after full success: every ACTIVE revision of
 * exactly this family (all ListTaskDefinitions pages; "app" never matches
 * "app-worker"), oldest first, deregistered until N are left, never the
 * revision in use nor the rollback target.
 */
static int
dep_prune(struct dep *d)
{
	struct json_doc *j = &d->doc;
	char family[300], prefix[ED_MAX_ARN];
	long n = 0, keep_new = -1, keep_prev = -1, excess, i;
	long rev;
	int rc;

	dep_family(d->r->new_td, family, sizeof(family));
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(sv_rchr(sv_z(d->r->new_td), ':') + 1),
	    d->r->new_td);
	if (sv_to_long(sv_z(d->r->new_td + strlen(prefix)), 1, LONG_MAX, &keep_new) != 0)
		keep_new = -1;
	if (strncmp(d->r->prev_td, prefix, strlen(prefix)) != 0 ||
	    sv_to_long(sv_z(d->r->prev_td + strlen(prefix)), 1, LONG_MAX, &keep_prev) != 0)
		keep_prev = -1;
	d->token[0] = '\0';
	do {
		int list;

		rc = ecs_list_td(d->c, family, d->token, j, d->e);
		if (rc != 0)
			return rc;
		list = json_get(j, 0, "taskDefinitionArns");
		for (i = 0; list >= 0 && i < j->tok[list].size; i++) {
			struct sv a = json_raw(j, json_child(j, list, (int)i));

			if (!sv_starts(a, prefix) ||
			    sv_to_long(sv_sub(a, strlen(prefix), a.n), 1, LONG_MAX, &rev) != 0)
				continue; /* another family that shares the prefix */
			if (n >= ED_MAX_REVISIONS)
				return err_set(d->e, ED_EXIT_INTERNAL, "too big: ED_MAX_REVISIONS (family %s)",
				    family);
			dep_revs[n++] = rev;
		}
		ecs_copy(j, json_get(j, 0, "nextToken"), d->token, sizeof(d->token));
	} while (d->token[0]);
	qsort(dep_revs, (size_t)n, sizeof(dep_revs[0]), dep_cmp_long);
	excess = n - d->o->max_defs;
	for (i = 0; i < n && excess > 0; i++) {
		if (dep_revs[i] == keep_new || dep_revs[i] == keep_prev)
			continue;
		snprintf(d->tmp, sizeof(d->tmp), "%s%ld", prefix, dep_revs[i]);
		dep_say(d, "Deregistering outdated task revision: %s\n", d->tmp);
		rc = ecs_deregister_td(d->c, d->tmp, j, d->e);
		if (rc != 0)
			return rc;
		excess--;
	}
	return 0;
}

/*
 * --network-configuration: JSON as given, or the AWS CLI shorthand
 * `awsvpcConfiguration={subnets=[a,b],securityGroups=[c],assignPublicIp=ENABLED}`
 * converted to JSON (values are strings, {} objects, [] lists). Returns 0 or -1.
 */
static int
dep_sh_value(struct sv s, size_t *i, struct jw *w, int depth)
{
	size_t start;

	if (depth > 8)
		return -1;
	if (*i < s.n && (s.p[*i] == '{' || s.p[*i] == '[')) {
		int obj = s.p[*i] == '{';
		char close = obj ? '}' : ']';

		(*i)++;
		if (obj)
			jw_obj(w);
		else
			jw_arr(w);
		while (*i < s.n && s.p[*i] != close) {
			if (obj) {
				char key[128];

				start = *i;
				while (*i < s.n && s.p[*i] != '=' && s.p[*i] != ',' && s.p[*i] != close)
					(*i)++;
				if (*i >= s.n || s.p[*i] != '=' || *i == start || *i - start >= sizeof(key))
					return -1;
				snprintf(key, sizeof(key), "%.*s", (int)(*i - start), s.p + start);
				(*i)++;
				jw_key(w, key);
			}
			if (dep_sh_value(s, i, w, depth + 1) != 0)
				return -1;
			if (*i < s.n && s.p[*i] == ',')
				(*i)++;
			else if (*i >= s.n || s.p[*i] != close)
				return -1;
		}
		if (*i >= s.n)
			return -1;
		(*i)++;
		jw_end(w);
		return 0;
	}
	start = *i;
	while (*i < s.n && s.p[*i] != ',' && s.p[*i] != ']' && s.p[*i] != '}')
		(*i)++;
	jw_str(w, sv_sub(s, start, *i));
	return 0;
}

static int
dep_netconf(const char *in, struct buf *out)
{
	struct sv s = sv_z(in);
	struct jw w;
	size_t i = 0;
	char wrapped[2048];

	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\n'))
		s = sv_sub(s, 1, s.n);
	if (s.n && s.p[0] == '{') {
		buf_putsv(out, s);
		return out->overflow ? -1 : 0;
	}
	/* key=value,... at the top level is an object without its braces */
	if (s.n + 3 > sizeof(wrapped))
		return -1;
	snprintf(wrapped, sizeof(wrapped), "{%.*s}", (int)s.n, s.p);
	jw_init(&w, out);
	if (dep_sh_value(sv_z(wrapped), &i, &w, 0) != 0 || i != strlen(wrapped))
		return -1;
	return out->overflow ? -1 : 0;
}

/* Is container name essential in the revision we built (unknown: yes)? */
static int
dep_essential(const struct dep *d, struct sv name)
{
	int i;

	for (i = 0; d->have_rep && i < d->rep.n; i++) {
		if (sv_eqz(name, d->rep.c[i].name))
			return d->rep.c[i].essential;
	}
	return 1;
}

/*
 * --run-task (§6): RunTask of td_arn; with --wait-for-success, poll until the
 * task STOPPED and require every exit code to be 0 and every essential
 * container to have one. Returns 0, ED_EXIT_TASK_FAILED or ED_EXIT_TIMEOUT.
 */
static int
dep_run_task(struct dep *d, const char *td_arn)
{
	const struct dep_opts *o = d->o;
	struct json_doc *j = &d->doc;
	struct ecs_run rr;
	char net[2048], last[32] = "";
	struct buf nb;
	struct sv arn;
	int64_t deadline, interval = o->poll_ms > 0 ? o->poll_ms : DEP_POLL_FIRST_MS;
	int rc, t, cs, i, ok = 1;

	memset(&rr, 0, sizeof(rr));
	rr.cluster = o->cluster;
	rr.task_def = td_arn;
	rr.launch_type = o->launch_type;
	rr.platform_version = o->platform_version;
	if (o->network_config) {
		buf_init(&nb, net, sizeof(net));
		if (dep_netconf(o->network_config, &nb) != 0)
			return err_set(d->e, ED_EXIT_USAGE, "--network-configuration is neither JSON nor the "
			    "AWS CLI shorthand: %s", o->network_config);
		rr.network = sv_make(net, nb.len);
	}
	dep_say(d, "Run task: %s\n", td_arn);
	rc = ecs_run_task(d->c, &rr, j, d->e);
	if (rc != 0)
		return rc;
	t = json_get(j, 0, "tasks.0");
	if (t < 0 || json_get(j, 0, "failures.0") >= 0) {
		char why[512], farn[ED_MAX_ARN];

		ecs_copy(j, json_get(j, 0, "failures.0.reason"), why, sizeof(why));
		ecs_copy(j, json_get(j, 0, "failures.0.arn"), farn, sizeof(farn));
		return err_set(d->e, ED_EXIT_TASK_FAILED, "RunTask started no task: %s%s%s",
		    why[0] ? why : "no reason given", farn[0] ? " " : "", farn);
	}
	ecs_copy(j, json_get(j, t, "taskArn"), d->r->task_arn, sizeof(d->r->task_arn));
	dep_say(d, "Executed task: %s\n", d->r->task_arn);
	if (!o->wait_for_success)
		return 0;
	deadline = d->w->mono_ms(d->w->ctx) + o->timeout_s * 1000;
	for (;;) {
		int64_t now, nap;
		char st[32];

		arn = sv_z(d->r->task_arn);
		rc = ecs_describe_tasks(d->c, o->cluster, &arn, 1, j, d->e);
		if (rc != 0)
			return rc;
		t = json_get(j, 0, "tasks.0");
		ecs_copy(j, json_get(j, t, "lastStatus"), st, sizeof(st));
		if (strcmp(st, last) != 0) {
			dep_say(d, "[%lds] task %s\n", dep_elapsed_s(d), st[0] ? st : "(unknown)");
			snprintf(last, sizeof(last), "%s", st);
		}
		if (strcmp(st, "STOPPED") == 0)
			break;
		now = d->w->mono_ms(d->w->ctx);
		if (now >= deadline) {
			dep_say(d, "ERROR: New task run took longer than %ld seconds\n", o->timeout_s);
			d->r->reported = 1;
			return err_set(d->e, ED_EXIT_TIMEOUT, "New task run took longer than %ld seconds",
			    o->timeout_s);
		}
		nap = deadline - now < interval ? deadline - now : interval;
		d->w->sleep_ms(d->w->ctx, nap);
		if (o->poll_ms <= 0 && interval < DEP_POLL_MAX_MS)
			interval = interval * 3 / 2 > DEP_POLL_MAX_MS ? DEP_POLL_MAX_MS : interval * 3 / 2;
	}
	dep_print_stopped(d, t);
	cs = json_get(j, t, "containers");
	for (i = 0; cs >= 0 && i < j->tok[cs].size; i++) {
		int ct = json_child(j, cs, i);
		struct sv name = json_raw(j, json_get(j, ct, "name"));
		long code;

		if (json_long(j, json_get(j, ct, "exitCode"), &code) == 0) {
			if (code != 0 && ok) {
				ok = 0;
				err_set(d->e, ED_EXIT_TASK_FAILED, "Task %s failed: container %.*s exited with "
				    "code %ld", d->r->task_arn, (int)name.n, name.p, code);
			}
		} else if (dep_essential(d, name) && ok) {
			ok = 0;
			err_set(d->e, ED_EXIT_TASK_FAILED, "Task %s failed: essential container %.*s has no "
			    "exit code", d->r->task_arn, (int)name.n, name.p);
		}
	}
	if (cs < 0 || j->tok[cs].size == 0)
		return err_set(d->e, ED_EXIT_TASK_FAILED, "Task %s stopped without containers",
		    d->r->task_arn);
	if (!ok)
		return ED_EXIT_TASK_FAILED;
	dep_say(d, "Task %s executed successfully!\n", d->r->task_arn);
	return 0;
}

/* JSON tokens of the --task-definition-file and of the service's deploymentConfiguration. */
static jsmntok_t dep_file_tok[ED_MAX_TD_TOKENS];
static jsmntok_t dep_dc_tok[256];

/*
 * Builds the RegisterTaskDefinition body from the base task definition (token
 * td of doc; tags at token tags or -1) into d->body with the image edits of
 * §4, and prints one line per changed container. Zero matches for -i (or an
 * unknown --container-image name) is ED_EXIT_NO_MATCH listing every container,
 * unless --allow-no-match.
 */
static int
dep_build(struct dep *d, const struct json_doc *doc, int td, int tags)
{
	const struct dep_opts *o = d->o;
	struct td_edit ed;
	struct buf b;
	int rc, i, by_image = 0;

	memset(&ed, 0, sizeof(ed));
	ed.image = o->tag_only ? NULL : o->image;
	ed.tag_only = o->tag_only;
	ed.tag_only_names = o->tag_only_names;
	ed.named = o->container_images;
	ed.nnamed = o->n_container_images;
	if (o->copy_tags && tags >= 0 && doc->tok[tags].type == JSMN_ARRAY && doc->tok[tags].size > 0)
		ed.tags = json_raw(doc, tags);
	buf_init(&b, d->body, sizeof(d->body));
	rc = td_clone(doc, td, &ed, &b, &d->rep, d->e);
	if (rc != 0)
		return rc;
	d->have_rep = 1;
	for (i = 0; i < d->rep.n; i++) {
		const struct td_container *tc = &d->rep.c[i];

		if (tc->changed && ed.image && strcmp(tc->new_image, ed.image) == 0)
			by_image++;
		if (tc->essential && tc->health)
			d->health = 1;
	}
	for (i = 0; i < o->n_container_images; i++) {
		const char *ci = o->container_images[i];
		struct sv name = sv_make(ci, (size_t)(strchr(ci, '=') - ci));
		int k, found = 0;

		for (k = 0; k < d->rep.n; k++)
			found |= sv_eqz(name, d->rep.c[k].name);
		if (!found && !o->allow_no_match)
			goto nomatch;
	}
	if (ed.image && by_image == 0 && !o->allow_no_match)
		goto nomatch;
	if (d->rep.skipped_digest)
		w_printf(d->w, 2, "WARNING: %d digest-pinned container image%s left unchanged by -to\n",
		    d->rep.skipped_digest, d->rep.skipped_digest == 1 ? "" : "s");
	for (i = 0; i < d->rep.n; i++) {
		const struct td_container *tc = &d->rep.c[i];

		if (tc->changed)
			dep_say(d, "Container %s: %s -> %s\n", tc->name, tc->old_image, tc->new_image);
	}
	return 0;
nomatch:
	dep_say(d, "ERROR: no container matches the requested image; the task definition has:\n");
	for (i = 0; i < d->rep.n; i++)
		dep_say(d, "  container %s: %s\n", d->rep.c[i].name, d->rep.c[i].old_image);
	dep_say(d, "Use --container-image NAME=IMAGE to set a container's image from any registry, "
	    "or --allow-no-match to register anyway.\n");
	return err_set(d->e, ED_EXIT_NO_MATCH, "image %s matched no container in the task definition",
	    o->image ? o->image : "(by name)");
}

/*
 * The base task definition: --task-definition-file (any of the three shapes of
 * §3.3), else DescribeTaskDefinition of ref (with TAGS when asked). On return
 * doc, td and tags point at it (tags -1 when absent).
 */
static int
dep_base(struct dep *d, const char *ref, const struct json_doc **doc, int *td, int *tags)
{
	const struct dep_opts *o = d->o;
	static struct json_doc file;
	int rc;

	*tags = -1;
	if (o->td_file.n) {
		struct err fe;

		err_clear(&fe);
		if (json_parse(&file, o->td_file.p, o->td_file.n, dep_file_tok, ED_MAX_TD_TOKENS, &fe) != 0)
			return err_set(d->e, ED_EXIT_USAGE, "--task-definition-file %s: %s",
			    o->td_file_name ? o->td_file_name : "", fe.msg);
		*doc = &file;
		*td = json_get(&file, 0, "taskDefinition");
		if (*td >= 0 && file.tok[*td].type == JSMN_OBJECT) {
			*tags = json_get(&file, 0, "tags");
		} else {
			*td = 0;
			*tags = json_get(&file, 0, "tags");
		}
		if (file.tok[*td].type != JSMN_OBJECT || json_get(&file, *td, "containerDefinitions") < 0)
			return err_set(d->e, ED_EXIT_USAGE, "--task-definition-file %s: not a task definition "
			    "(no containerDefinitions)", o->td_file_name ? o->td_file_name : "");
		return 0;
	}
	rc = ecs_describe_td(d->c, ref, o->copy_tags, &d->doc, td, d->e);
	if (rc != 0)
		return rc;
	*doc = &d->doc;
	*tags = json_get(&d->doc, 0, "tags");
	return 0;
}

/* Prints what --render / --dry-run show. */
static void
dep_show_body(struct dep *d)
{
	if (d->o->render) {
		w_printf(d->w, 1, "%s\n", d->body);
		return;
	}
	dep_say(d, "Dry run: would register this task definition (RegisterTaskDefinition):\n%s\n", d->body);
}

/* -d mode: register (and run) the new revision. */
static int
dep_taskdef(struct dep *d)
{
	const struct dep_opts *o = d->o;
	const struct json_doc *doc;
	int td, tags, rc;

	if (o->image && !o->tag_only)
		dep_say(d, "Using image name: %s\n", o->image);
	rc = dep_base(d, o->task_def, &doc, &td, &tags);
	if (rc != 0)
		return rc;
	if (!o->td_file.n) {
		ecs_copy(doc, json_get(doc, td, "taskDefinitionArn"), d->r->prev_td, sizeof(d->r->prev_td));
		dep_say(d, "Current task definition: %s\n", d->r->prev_td);
	} else {
		dep_say(d, "Current task definition: %s (file)\n", o->td_file_name ? o->td_file_name : "");
	}
	rc = dep_build(d, doc, td, tags);
	if (rc != 0)
		return rc;
	if (o->render || o->dry_run) {
		dep_show_body(d);
		if (o->dry_run && o->run_task)
			dep_say(d, "Dry run: would run the new revision as a task in cluster %s\n", o->cluster);
		return 0;
	}
	rc = ecs_register_td(d->c, sv_z(d->body), &d->doc, d->r->new_td, d->e);
	if (rc != 0)
		return rc;
	dep_say(d, "New task definition: %s\n", d->r->new_td);
	if (o->run_task) {
		rc = dep_run_task(d, d->r->new_td);
		if (rc != 0)
			return rc;
	}
	dep_say(d, "Task definition updated successfully\n");
	if (o->max_defs > 0)
		return dep_prune(d);
	return 0;
}

/*
 * -m/-M merged into the service's deploymentConfiguration (§5.1): every other
 * member (circuit breaker, alarms, strategy, bake time) is kept as it was.
 */
static int
dep_merge_dc(struct dep *d, struct buf *out)
{
	const struct dep_opts *o = d->o;
	struct json_doc dc;
	struct jw w;
	struct err e2;
	int i, obj;

	err_clear(&e2);
	jw_init(&w, out);
	jw_obj(&w);
	if (d->dc[0] && json_parse(&dc, d->dc, strlen(d->dc), dep_dc_tok, 256, &e2) == 0 &&
	    dc.tok[0].type == JSMN_OBJECT) {
		obj = 0;
		for (i = 0; i < dc.tok[obj].size; i++) {
			int k = json_child(&dc, obj, i);
			struct sv key = json_raw(&dc, k);
			char kz[128];

			if ((o->min_pct >= 0 && sv_eqz(key, "minimumHealthyPercent")) ||
			    (o->max_pct >= 0 && sv_eqz(key, "maximumPercent")))
				continue;
			snprintf(kz, sizeof(kz), "%.*s", (int)key.n, key.p);
			jw_key(&w, kz);
			jw_raw(&w, ecs_json_text(&dc, k + 1));
		}
	}
	if (o->max_pct >= 0) {
		jw_key(&w, "maximumPercent");
		jw_long(&w, o->max_pct);
	}
	if (o->min_pct >= 0) {
		jw_key(&w, "minimumHealthyPercent");
		jw_long(&w, o->min_pct);
	}
	jw_end(&w);
	return out->overflow ? err_set(d->e, ED_EXIT_INTERNAL, "too big: ED_MAX_DC") : 0;
}

/* Service mode (§5): describe, register, update, follow, roll back, prune, run. */
static int
dep_service(struct dep *d)
{
	const struct dep_opts *o = d->o;
	struct json_doc *j = &d->doc;
	const struct json_doc *doc;
	struct ecs_update u;
	char dcbuf[ED_MAX_DC];
	struct buf dcb;
	int svc, td, tags, rc, deps, i;
	int force_only = o->force_new && !o->image && o->n_container_images == 0;

	rc = ecs_describe_service(d->c, o->cluster, o->service, j, &svc, d->e);
	if (rc != 0)
		return rc;
	ecs_copy(j, json_get(j, svc, "serviceName"), d->svc_name, sizeof(d->svc_name));
	if (!d->svc_name[0])
		snprintf(d->svc_name, sizeof(d->svc_name), "%s", o->service);
	ecs_copy(j, json_get(j, svc, "taskDefinition"), d->r->prev_td, sizeof(d->r->prev_td));
	d->svc_desired = ecs_long(j, json_get(j, svc, "desiredCount"), 0);
	ecs_copy(j, json_get(j, svc, "deploymentController.type"), d->controller, sizeof(d->controller));
	ecs_copy(j, json_get(j, svc, "deploymentConfiguration.strategy"), d->strategy, sizeof(d->strategy));
	d->cb_enabled = sv_eqz(json_raw(j, json_get(j, svc,
	    "deploymentConfiguration.deploymentCircuitBreaker.enable")), "true");
	{
		struct sv dc = json_raw(j, json_get(j, svc, "deploymentConfiguration"));

		if (dc.n >= sizeof(d->dc))
			return err_set(d->e, ED_EXIT_INTERNAL, "too big: ED_MAX_DC");
		memcpy(d->dc, dc.p, dc.n);
		d->dc[dc.n] = '\0';
	}
	dep_events(d, svc, 0);
	if (strcmp(d->controller, "CODE_DEPLOY") == 0 || strcmp(d->controller, "EXTERNAL") == 0)
		return err_set(d->e, ED_EXIT_AWS, "service %s uses the %s deployment controller, which "
		    "ecs-deploy does not support yet (only ECS-controlled services can be updated)",
		    d->svc_name, d->controller);
	memset(&u, 0, sizeof(u));
	u.cluster = o->cluster;
	u.service = d->svc_name;
	u.desired = o->desired;
	if (o->min_pct >= 0 || o->max_pct >= 0) {
		buf_init(&dcb, dcbuf, sizeof(dcbuf));
		rc = dep_merge_dc(d, &dcb);
		if (rc != 0)
			return rc;
		u.dc = sv_make(dcbuf, dcb.len);
	}
	if (force_only) {
		if (o->render || o->dry_run) {
			dep_say(d, "Dry run: would force a new deployment of service %s (task definition %s)\n",
			    d->svc_name, d->r->prev_td);
			return 0;
		}
		dep_say(d, "Force a new deployment of the service\n");
		snprintf(d->r->new_td, sizeof(d->r->new_td), "%s", d->r->prev_td);
		u.force = 1;
	} else {
		char family[300];

		if (o->image && !o->tag_only)
			dep_say(d, "Using image name: %s\n", o->image);
		dep_family(d->r->prev_td, family, sizeof(family));
		rc = dep_base(d, o->use_latest ? family : d->r->prev_td, &doc, &td, &tags);
		if (rc != 0)
			return rc;
		if (o->td_file.n) {
			dep_say(d, "Current task definition: %s\n", d->r->prev_td);
		} else {
			char base[ED_MAX_ARN];

			ecs_copy(doc, json_get(doc, td, "taskDefinitionArn"), base, sizeof(base));
			dep_say(d, "Current task definition: %s\n", base[0] ? base : d->r->prev_td);
		}
		rc = dep_build(d, doc, td, tags);
		if (rc != 0)
			return rc;
		if (o->render || o->dry_run) {
			dep_show_body(d);
			if (o->dry_run)
				dep_say(d, "Dry run: would update service %s in cluster %s to the new revision%s\n",
				    d->svc_name, o->cluster, o->force_new ? " (forceNewDeployment)" : "");
			return 0;
		}
		rc = ecs_register_td(d->c, sv_z(d->body), j, d->r->new_td, d->e);
		if (rc != 0)
			return rc;
		dep_say(d, "New task definition: %s\n", d->r->new_td);
		u.task_def = d->r->new_td;
		u.force = o->force_new;
	}
	rc = ecs_update_service(d->c, &u, j, d->e);
	if (rc != 0)
		return rc;
	/* Our deployment: the PRIMARY one of the new revision in UpdateService's answer. */
	snprintf(d->target_td, sizeof(d->target_td), "%s", d->r->new_td);
	deps = json_get(j, 0, "service.deployments");
	for (i = 0; deps >= 0 && i < j->tok[deps].size; i++) {
		int dp = json_child(j, deps, i);

		if (json_eq(j, json_get(j, dp, "status"), "PRIMARY") &&
		    json_eq(j, json_get(j, dp, "taskDefinition"), d->target_td))
			ecs_copy(j, json_get(j, dp, "id"), d->dep_id, sizeof(d->dep_id));
	}
	ecs_copy(j, json_get(j, 0, "service.currentServiceDeployment"), d->sd_arn, sizeof(d->sd_arn));
	snprintf(d->r->deployment_id, sizeof(d->r->deployment_id), "%s", d->dep_id);
	rc = dep_follow(d, ecs_long(j, json_get(j, 0, "service.desiredCount"), 0));
	if (d->dep_id[0] && !d->r->deployment_id[0])
		snprintf(d->r->deployment_id, sizeof(d->r->deployment_id), "%s", d->dep_id);
	if (rc != 0) {
		if (o->enable_rollback && !d->ecs_rolled_back &&
		    (rc == ED_EXIT_TIMEOUT || rc == ED_EXIT_FAILED))
			return dep_rollback(d, rc);
		return rc;
	}
	if (o->run_task) {
		rc = dep_run_task(d, d->r->new_td);
		if (rc != 0)
			return rc;
	}
	if (o->max_defs > 0)
		return dep_prune(d);
	return 0;
}

/* The summary word for exit code rc (§9). */
static const char *
dep_status(int rc)
{
	switch (rc) {
	case ED_OK: return "success";
	case ED_EXIT_TIMEOUT: return "timeout";
	case ED_EXIT_ROLLBACK_FAILED: return "rollback_failed";
	case ED_EXIT_NO_MATCH: return "no_match";
	case ED_EXIT_FAILED: return "failed";
	case ED_EXIT_SUPERSEDED: return "superseded";
	case ED_EXIT_PAUSED: return "paused";
	case ED_EXIT_ROLLED_BACK: return "rolled_back";
	case ED_EXIT_TASK_FAILED: return "task_failed";
	default: return "error";
	}
}

static struct dep dep_state_mem;

/*
 * Runs one deployment as o says, against ECS through c, logging through w.
 * Returns 0 or an ED_EXIT_* code with the reason in e; *r tells the rest.
 * --render with --task-definition-file makes no ECS call at all.
 */
static int
dep_run(struct world *w, struct ecs *c, const struct dep_opts *o, struct dep_result *r,
    struct err *e)
{
	struct dep *d = &dep_state_mem;
	int rc;

	memset(d, 0, sizeof(*d));
	memset(r, 0, sizeof(*r));
	d->w = w;
	d->c = c;
	d->o = o;
	d->r = r;
	d->e = e;
	d->fd = (o->render || o->quiet_stdout) ? 2 : 1;
	d->t0 = w->mono_ms(w->ctx);
	if (o->render && o->td_file.n) {
		const struct json_doc *doc;
		int td, tags;

		rc = dep_base(d, NULL, &doc, &td, &tags);
		if (rc == 0)
			rc = dep_build(d, doc, td, tags);
		if (rc == 0)
			dep_show_body(d);
	} else if (o->service) {
		rc = dep_service(d);
	} else {
		rc = dep_taskdef(d);
	}
	r->status = dep_status(rc);
	r->calls = c->ncalls;
	r->elapsed_ms = w->mono_ms(w->ctx) - d->t0;
	return rc;
}

/* ===== 15. Command line =================================================== */
/*
 * Parses argv into struct cli_opts, validates it in the shell tool's order with
 * its exact messages and exit codes (§2, §9), and dispatches. Parsing rules kept
 * from the shell tool: an empty argument where a flag is expected is skipped;
 * an empty value after a flag that takes one is that flag's value; the last
 * occurrence of a flag wins; no arguments or an unknown token print the usage on
 * stdout and exit 3. Added: `--flag=value` for long flags (booleans accept
 * =true/=false), -h/--help (exit 0), value validation (exit 3), --version.
 *
 * Option values are views of argv strings; argv outlives the run.
 */

enum cli_kind {
	CLI_BOOL,    /* no value */
	CLI_VALUE,   /* one value */
	CLI_REPEAT   /* one value, may repeat (--container-image) */
};

struct cli_opts {
	const char *access_key, *secret_key, *region, *profile, *assume_role;
	const char *cluster, *service, *task_def, *image, *timeout, *min, *max;
	const char *desired, *tag_env_var, *tag_only, *tag_only_names, *max_defs;
	const char *td_file, *launch_type, *platform_version, *network_config;
	const char *endpoint_url, *ca_bundle, *poll_interval, *output;
	int instance_profile, enable_rollback, use_latest, force_new, skip_check;
	int run_task, wait_for_success, copy_tags, verbose, allow_no_match;
	int render, dry_run, help, version;
	const char *container_images[ED_MAX_CONTAINER_IMAGES];
	int n_container_images;

	/* Validated values, set by cli_validate(). */
	long timeout_s, min_pct, max_pct, desired_n, max_defs_n;
	int has_min, has_max, has_desired;
	long poll_ms;   /* 0: the default backoff */
	int json_output;
};

struct cli_flag {
	const char *shortname;  /* NULL when none */
	const char *longname;
	enum cli_kind kind;
	size_t off;             /* offset of the const char * or int in cli_opts */
};

#define CLI_S(f) offsetof(struct cli_opts, f)

static const struct cli_flag cli_flags[] = {
	{ "-k", "--aws-access-key", CLI_VALUE, CLI_S(access_key) },
	{ "-s", "--aws-secret-key", CLI_VALUE, CLI_S(secret_key) },
	{ "-r", "--region", CLI_VALUE, CLI_S(region) },
	{ "-p", "--profile", CLI_VALUE, CLI_S(profile) },
	{ NULL, "--aws-instance-profile", CLI_BOOL, CLI_S(instance_profile) },
	{ "-a", "--aws-assume-role", CLI_VALUE, CLI_S(assume_role) },
	{ "-c", "--cluster", CLI_VALUE, CLI_S(cluster) },
	{ "-n", "--service-name", CLI_VALUE, CLI_S(service) },
	{ "-d", "--task-definition", CLI_VALUE, CLI_S(task_def) },
	{ "-i", "--image", CLI_VALUE, CLI_S(image) },
	{ "-t", "--timeout", CLI_VALUE, CLI_S(timeout) },
	{ "-m", "--min", CLI_VALUE, CLI_S(min) },
	{ "-M", "--max", CLI_VALUE, CLI_S(max) },
	{ "-D", "--desired-count", CLI_VALUE, CLI_S(desired) },
	{ "-e", "--tag-env-var", CLI_VALUE, CLI_S(tag_env_var) },
	{ "-to", "--tag-only", CLI_VALUE, CLI_S(tag_only) },
	{ "-toc", "--tag_only_container_names", CLI_VALUE, CLI_S(tag_only_names) },
	{ NULL, "--max-definitions", CLI_VALUE, CLI_S(max_defs) },
	{ NULL, "--task-definition-file", CLI_VALUE, CLI_S(td_file) },
	{ NULL, "--enable-rollback", CLI_BOOL, CLI_S(enable_rollback) },
	{ NULL, "--use-latest-task-def", CLI_BOOL, CLI_S(use_latest) },
	{ NULL, "--force-new-deployment", CLI_BOOL, CLI_S(force_new) },
	{ NULL, "--skip-deployments-check", CLI_BOOL, CLI_S(skip_check) },
	{ NULL, "--run-task", CLI_BOOL, CLI_S(run_task) },
	{ NULL, "--wait-for-success", CLI_BOOL, CLI_S(wait_for_success) },
	{ NULL, "--launch-type", CLI_VALUE, CLI_S(launch_type) },
	{ NULL, "--platform-version", CLI_VALUE, CLI_S(platform_version) },
	{ NULL, "--network-configuration", CLI_VALUE, CLI_S(network_config) },
	{ NULL, "--copy-task-definition-tags", CLI_BOOL, CLI_S(copy_tags) },
	{ "-v", "--verbose", CLI_BOOL, CLI_S(verbose) },
	{ NULL, "--version", CLI_BOOL, CLI_S(version) },
	{ "-h", "--help", CLI_BOOL, CLI_S(help) },
	{ NULL, "--container-image", CLI_REPEAT, CLI_S(container_images) },
	{ NULL, "--allow-no-match", CLI_BOOL, CLI_S(allow_no_match) },
	{ NULL, "--render", CLI_BOOL, CLI_S(render) },
	{ NULL, "--dry-run", CLI_BOOL, CLI_S(dry_run) },
	{ NULL, "--endpoint-url", CLI_VALUE, CLI_S(endpoint_url) },
	{ NULL, "--ca-bundle", CLI_VALUE, CLI_S(ca_bundle) },
	{ NULL, "--poll-interval", CLI_VALUE, CLI_S(poll_interval) },
	{ NULL, "--output", CLI_VALUE, CLI_S(output) },
};

static const char cli_usage_text[] =
"##### ecs-deploy #####\n"
"Deploy a new image to an Amazon ECS service (or task definition) and wait until\n"
"ECS has really finished. Drop-in replacement for the shell tool of the same name.\n"
"\n"
"One of the following is required:\n"
"    -n | --service-name NAME       service to deploy (with -c)\n"
"    -d | --task-definition FAMILY  task definition to update (family[:rev] or ARN)\n"
"\n"
"Required arguments:\n"
"    -c | --cluster NAME            ECS cluster (required with -n and --run-task)\n"
"    -i | --image IMAGE             new image, [registry[:port]/]path[:tag][@digest]\n"
"                                   e.g. mariadb, mariadb:10, ghcr.io/org/app:v1,\n"
"                                   localhost:5000/img:tag (no tag -> latest)\n"
"\n"
"AWS access (default: the standard AWS credential chain and region settings):\n"
"    -k | --aws-access-key KEY      access key id (prefer AWS_ACCESS_KEY_ID)\n"
"    -s | --aws-secret-key SECRET   secret access key (prefer AWS_SECRET_ACCESS_KEY)\n"
"    -r | --region REGION           region (else AWS_REGION, AWS_DEFAULT_REGION, profile)\n"
"    -p | --profile NAME            shared config/credentials profile\n"
"    --aws-instance-profile         use only container/instance role credentials\n"
"    -a | --aws-assume-role ARN     assume this role before any ECS call\n"
"    --endpoint-url URL             ECS endpoint (else AWS_ENDPOINT_URL_ECS, AWS_ENDPOINT_URL)\n"
"    --ca-bundle FILE               extra trusted CAs, PEM (else AWS_CA_BUNDLE)\n"
"\n"
"Optional arguments:\n"
"    -t | --timeout SECONDS         wall-clock budget of each wait phase (default 90)\n"
"    -m | --min PERCENT             deploymentConfiguration.minimumHealthyPercent\n"
"    -M | --max PERCENT             deploymentConfiguration.maximumPercent\n"
"    -D | --desired-count N         service desired count\n"
"    -e | --tag-env-var VAR         take the image tag from environment variable VAR\n"
"    -to | --tag-only TAG           retag every container's image (-i is ignored)\n"
"    -toc | --tag_only_container_names A,B  with -to: only these containers\n"
"    --container-image NAME=IMAGE   set the image of container NAME (repeatable)\n"
"    --allow-no-match               register even when -i matches no container\n"
"    --max-definitions N            keep at most N active revisions of the family\n"
"    --task-definition-file FILE    base task definition from a JSON file\n"
"    --use-latest-task-def          base on the family's latest revision, not the one in use\n"
"    --copy-task-definition-tags    copy the base revision's tags to the new one\n"
"    --enable-rollback              roll back when the deployment fails\n"
"    --force-new-deployment         redeploy (with -i: deploy the new image, forced)\n"
"    --skip-deployments-check       succeed once new tasks run; don't wait for old ones\n"
"    --run-task                     run the new revision once as a task\n"
"    --wait-for-success             with --run-task: wait and check every exit code\n"
"    --launch-type TYPE             with --run-task: EC2, FARGATE, EXTERNAL\n"
"    --platform-version VERSION     with --run-task: Fargate platform version\n"
"    --network-configuration CONF   with --run-task: CLI shorthand or JSON\n"
"    --render                       print the RegisterTaskDefinition request and exit\n"
"    --dry-run                      read-only: show what would be registered and updated\n"
"    --poll-interval SECONDS        fixed polling interval (default: 1s backing off to 6s)\n"
"    --output text|json             json: one summary object on stdout at the end\n"
"    -v | --verbose                 one line per AWS call (never secrets)\n"
"    -h | --help                    this text\n"
"    --version                      version and what the binary was built with\n"
"\n"
"Exit codes:\n"
"     0 success            1 timed out             2 failed, rollback failed too\n"
"     3 usage error        5 neither -n nor -d     6 both -n and -d\n"
"     7 no cluster         8 no image              9 bad --max-definitions\n"
"    10 --launch-type without --run-task           11 --network-configuration or\n"
"    12 --platform-version without --run-task         --wait-for-success without --run-task\n"
"    13 unparseable image 14 image matched no container\n"
"    15 deployment FAILED on ECS's side            16 superseded by another deployment\n"
"    17 paused at a lifecycle hook                 18 failed, rolled back\n"
"    19 one-off task failed                        20 credentials missing or rejected\n"
"    21 AWS rejected a request                     22 network or TLS failure\n"
"    70 internal error\n"
"\n"
"Examples:\n"
"    ecs-deploy -c production1 -n doorman-service -i docker.repo.com/doorman:latest\n"
"    ecs-deploy -d open-door-task -i docker.repo.com/doorman:17\n"
"    ecs-deploy -c staging -n core-service -to 0.1.899 -i ignore\n"
"    ecs-deploy -c prod -n api -i 1234.dkr.ecr.us-east-1.amazonaws.com/api:v2 --enable-rollback -t 300\n";

static const char *
cli_bool_text(struct sv v, int *out)
{
	if (sv_eqz(v, "true") || sv_eqz(v, "1") || sv_eqz(v, "yes")) {
		*out = 1;
		return NULL;
	}
	if (sv_eqz(v, "false") || sv_eqz(v, "0") || sv_eqz(v, "no") || v.n == 0) {
		*out = 0;
		return NULL;
	}
	return "expects true or false";
}

static const struct cli_flag *
cli_find_flag(struct sv name)
{
	size_t i;

	for (i = 0; i < sizeof(cli_flags) / sizeof(cli_flags[0]); i++) {
		const struct cli_flag *f = &cli_flags[i];

		if ((f->shortname && sv_eqz(name, f->shortname)) || sv_eqz(name, f->longname))
			return f;
	}
	return NULL;
}

/*
 * Fills *o from argv. Returns 0, or ED_EXIT_USAGE with a message in e (the
 * message is empty for an unknown token: the caller prints only the usage).
 */
static int
cli_parse(int argc, char **argv, struct cli_opts *o, struct err *e)
{
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 1; i < argc; i++) {
		struct sv arg = sv_z(argv[i]);
		struct sv name = arg, inline_val = sv_make(NULL, 0);
		const struct cli_flag *f;
		int has_inline = 0;
		const char *val;

		if (arg.n == 0)
			continue; /* the shell tool skips empty arguments */
		if (sv_starts(arg, "--") && sv_chr(arg, '=') > 2) {
			long eq = sv_chr(arg, '=');

			name = sv_sub(arg, 0, (size_t)eq);
			inline_val = sv_sub(arg, (size_t)eq + 1, arg.n);
			has_inline = 1;
		}
		f = cli_find_flag(name);
		if (f == NULL) {
			err_set(e, ED_EXIT_USAGE, "unknown option: %s", argv[i]);
			return ED_EXIT_USAGE;
		}
		if (f->kind == CLI_BOOL) {
			int *slot = (int *)(void *)((char *)o + f->off);

			if (has_inline) {
				const char *why = cli_bool_text(inline_val, slot);

				if (why)
					return err_set(e, ED_EXIT_USAGE, "%.*s %s, got '%s'",
					    (int)name.n, name.p, why, inline_val.p);
			} else {
				*slot = 1;
			}
			continue;
		}
		if (has_inline) {
			val = inline_val.p;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return err_set(e, ED_EXIT_USAGE, "%s needs a value", argv[i]);
		}
		if (f->kind == CLI_REPEAT) {
			if (o->n_container_images >= ED_MAX_CONTAINER_IMAGES)
				return err_set(e, ED_EXIT_USAGE,
				    "too many --container-image flags (at most %d)",
				    ED_MAX_CONTAINER_IMAGES);
			o->container_images[o->n_container_images++] = val;
		} else {
			*(const char **)(void *)((char *)o + f->off) = val;
		}
	}
	return 0;
}

/* Parses a whole number option; on failure records a usage error naming it. */
static int
cli_number(struct err *e, const char *what, const char *flag, const char *val,
    long min, long max, long *out)
{
	if (sv_to_long(sv_z(val), min, max, out) == 0)
		return 0;
	return err_set(e, ED_EXIT_USAGE, "%s (%s) must be a whole number from %ld to %ld, got '%s'",
	    what, flag, min, max, val);
}

/* Positive seconds with up to three decimals, as milliseconds. */
static int
cli_seconds_ms(const char *val, long *ms)
{
	struct sv s = sv_z(val);
	long dot = sv_chr(s, '.');
	long whole, frac = 0;
	struct sv f;
	size_t i;

	if (sv_to_long(dot < 0 ? s : sv_sub(s, 0, (size_t)dot), 0, 86400, &whole) != 0)
		return -1;
	if (dot >= 0) {
		f = sv_sub(s, (size_t)dot + 1, s.n);
		if (f.n == 0 || f.n > 3)
			return -1;
		for (i = 0; i < 3; i++) {
			char c = i < f.n ? f.p[i] : '0';

			if (c < '0' || c > '9')
				return -1;
			frac = frac * 10 + (c - '0');
		}
	}
	*ms = whole * 1000 + frac;
	return *ms > 0 ? 0 : -1;
}

/*
 * The shell tool's checks, in its order and with its messages (§9), then the
 * checks of values it did not validate. Returns 0 or the exit code, with the
 * message in e.
 */
static int
cli_validate(struct cli_opts *o, struct err *e)
{
	const char *md = o->max_defs ? o->max_defs : "0";
	long mdv;
	int i;

	if (!o->service && !o->task_def)
		return err_set(e, ED_EXIT_NO_TARGET, "One of SERVICE or TASK DEFINITION is required. "
		    "You can pass the value using -n / --service-name for a service, or -d / "
		    "--task-definition for a task");
	if (o->service && o->task_def)
		return err_set(e, ED_EXIT_BOTH_TARGETS,
		    "Only one of SERVICE or TASK DEFINITION may be specified, but you supplied both");
	if (o->service && !o->cluster)
		return err_set(e, ED_EXIT_NO_CLUSTER,
		    "CLUSTER is required. You can pass the value using -c or --cluster");
	if (!o->image && !o->force_new && o->n_container_images == 0)
		return err_set(e, ED_EXIT_NO_IMAGE,
		    "IMAGE is required. You can pass the value using -i or --image");
	/* The shell tool accepted any integer; §5.7 makes negatives an error too. */
	if (sv_to_long(sv_z(md), 0, 1000000, &mdv) != 0)
		return err_set(e, ED_EXIT_MAX_DEFS, "MAX_DEFINITIONS must be numeric, or not defined.");
	o->max_defs_n = mdv;
	if (!o->run_task && o->launch_type)
		return err_set(e, ED_EXIT_LAUNCH_TYPE, "LAUNCH TYPE requires setting RUN TASK argument. "
		    "You can set it using --run-task flag.");
	if (!o->run_task && o->network_config)
		return err_set(e, ED_EXIT_NETWORK_CONF, "NETWORK CONFIGURATION requires setting RUN TASK "
		    "argument. You can set it using --run-task flag.");
	if (!o->run_task && o->wait_for_success)
		return err_set(e, ED_EXIT_NETWORK_CONF, "WAIT FOR SUCCESS requires setting RUN TASK "
		    "argument. You can set it using --run-task flag.");
	if (!o->run_task && o->platform_version)
		return err_set(e, ED_EXIT_PLATFORM, "PLATFORM VERSION requires setting RUN TASK argument. "
		    "You can set it using --run-task flag.");
	if (o->run_task && !o->cluster)
		return err_set(e, ED_EXIT_NO_CLUSTER,
		    "CLUSTER is required. You can pass the value using -c or --cluster");

	/* Values the shell tool passed through unchecked. */
	o->timeout_s = 90;
	if (o->timeout && cli_number(e, "TIMEOUT", "-t", o->timeout, 1, 604800, &o->timeout_s))
		return ED_EXIT_USAGE;
	if (o->min) {
		if (cli_number(e, "minimumHealthyPercent", "-m", o->min, 0, 100, &o->min_pct))
			return ED_EXIT_USAGE;
		o->has_min = 1;
	}
	if (o->max) {
		if (cli_number(e, "maximumPercent", "-M", o->max, 100, 2000, &o->max_pct))
			return ED_EXIT_USAGE;
		o->has_max = 1;
	}
	if (o->desired) {
		if (cli_number(e, "desired count", "-D", o->desired, 0, 100000, &o->desired_n))
			return ED_EXIT_USAGE;
		o->has_desired = 1;
	}
	if (o->poll_interval && cli_seconds_ms(o->poll_interval, &o->poll_ms) != 0)
		return err_set(e, ED_EXIT_USAGE, "--poll-interval must be a positive number of "
		    "seconds (up to 3 decimals), got '%s'", o->poll_interval);
	if (o->output) {
		if (strcmp(o->output, "json") == 0)
			o->json_output = 1;
		else if (strcmp(o->output, "text") != 0)
			return err_set(e, ED_EXIT_USAGE, "--output must be text or json, got '%s'", o->output);
	}
	for (i = 0; i < o->n_container_images; i++) {
		const char *ci = o->container_images[i];
		const char *eq = strchr(ci, '=');
		struct img im;

		if (eq == NULL || eq == ci)
			return err_set(e, ED_EXIT_USAGE,
			    "--container-image expects NAME=IMAGE, got '%s'", ci);
		if (img_parse(sv_z(eq + 1), &im) != 0)
			return err_set(e, ED_EXIT_BAD_IMAGE,
			    "Unable to parse image name: %s, check the format and try again", eq + 1);
	}
	if (o->tag_only && !img_tag_ok(sv_z(o->tag_only)))
		return err_set(e, ED_EXIT_BAD_IMAGE, "Unable to parse tag: %s, a tag is "
		    "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; check the format and try again", o->tag_only);
	if (o->render && o->dry_run)
		return err_set(e, ED_EXIT_USAGE, "--render and --dry-run cannot be combined");
	return 0;
}

/*
 * Builds the image reference to deploy from -i (and -e) into b (§4.1, §4.3):
 * the user's reference as given, with the tag from $VAR when -e names a set,
 * non-empty variable (replacing a tag or digest), else "latest" when it has
 * neither tag nor digest. Warnings go to stderr. Returns 0 or ED_EXIT_BAD_IMAGE.
 */
static int
cli_image(struct world *w, const struct cli_opts *o, struct buf *b, struct err *e)
{
	struct img im;
	const char *tagv = NULL;

	if (img_parse(sv_z(o->image), &im) != 0)
		return err_set(e, ED_EXIT_BAD_IMAGE,
		    "Unable to parse image name: %s, check the format and try again", o->image);
	if (o->tag_env_var) {
		tagv = w_getenv(w, o->tag_env_var);
		if (tagv == NULL || tagv[0] == '\0') {
			w_printf(w, 2, "WARNING: environment variable %s is unset or empty; "
			    "keeping the tag from the image name\n", o->tag_env_var);
			tagv = NULL;
		} else if (!img_tag_ok(sv_z(tagv))) {
			return err_set(e, ED_EXIT_BAD_IMAGE, "Unable to parse image name: %s "
			    "(tag from %s), check the format and try again", o->image, o->tag_env_var);
		}
	}
	if (im.registry.n) {
		buf_putsv(b, im.registry);
		buf_putc(b, '/');
	}
	buf_putsv(b, im.path);
	if (tagv) {
		buf_putc(b, ':');
		buf_putz(b, tagv);
	} else {
		if (im.tag.n) {
			buf_putc(b, ':');
			buf_putsv(b, im.tag);
		} else if (im.digest.n == 0) {
			buf_putz(b, ":latest");
		}
		if (im.digest.n) {
			buf_putc(b, '@');
			buf_putsv(b, im.digest);
		}
	}
	if (b->overflow)
		return err_set(e, ED_EXIT_BAD_IMAGE, "image reference too long: ED_MAX_IMAGE_REF");
	return 0;
}

static void
cli_print_error(struct world *w, const struct err *e)
{
	w_printf(w, 2, "ERROR: %s\n", e->msg);
}

/* The contents of --task-definition-file; lives for the whole run. */
static char cli_file_mem[ED_MAX_TD_JSON];

static int
cli_read_file(const char *path, struct sv *out, struct err *e)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return err_set(e, ED_EXIT_USAGE, "--task-definition-file %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t k = read(fd, cli_file_mem + len, sizeof(cli_file_mem) - len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			close(fd);
			return err_set(e, ED_EXIT_USAGE, "--task-definition-file %s: %s", path, strerror(errno));
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len == sizeof(cli_file_mem)) {
			close(fd);
			return err_set(e, ED_EXIT_USAGE, "--task-definition-file %s: too big: ED_MAX_TD_JSON",
			    path);
		}
	}
	close(fd);
	*out = sv_make(cli_file_mem, len);
	return 0;
}

/* The ECS seam when no call may be made (--render with a file). */
static int
cli_no_network(void *ctx, const char *op, struct sv body, struct json_doc *out, struct err *e)
{
	(void)ctx;
	(void)body;
	(void)out;
	return err_set(e, ED_EXIT_INTERNAL, "%s: this mode makes no AWS call", op);
}

/* --output json: one summary object on stdout (§2, §10). */
static void
cli_summary(struct world *w, const struct cli_opts *o, const struct dep_result *r, int rc,
    const struct err *e)
{
	static char mem[8192];
	struct buf b;
	struct jw j;

	buf_init(&b, mem, sizeof(mem));
	jw_init(&j, &b);
	jw_obj(&j);
	jw_key(&j, "status");
	jw_strz(&j, r->status ? r->status : "error");
	jw_key(&j, "exitCode");
	jw_long(&j, rc);
	if (o->cluster) {
		jw_key(&j, "cluster");
		jw_strz(&j, o->cluster);
	}
	if (o->service) {
		jw_key(&j, "service");
		jw_strz(&j, o->service);
	}
	jw_key(&j, "taskDefinitionArn");
	jw_strz(&j, r->new_td);
	jw_key(&j, "previousTaskDefinitionArn");
	jw_strz(&j, r->prev_td);
	jw_key(&j, "deploymentId");
	jw_strz(&j, r->deployment_id);
	if (r->task_arn[0]) {
		jw_key(&j, "taskArn");
		jw_strz(&j, r->task_arn);
	}
	jw_key(&j, "elapsedSeconds");
	jw_long(&j, (long)(r->elapsed_ms / 1000));
	jw_key(&j, "apiCalls");
	jw_long(&j, r->calls);
	if (rc != 0) {
		jw_key(&j, "message");
		jw_strz(&j, e->msg);
	}
	jw_end(&j);
	if (!b.overflow)
		w_printf(w, 1, "%s\n", mem);
}

static void
cli_append(const char *path, const char *text)
{
	int fd;

	if (path == NULL || path[0] == '\0')
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0)
		return;
	sys_write(NULL, fd, text, strlen(text));
	close(fd);
}

/*
 * GitHub Actions (GITHUB_ACTIONS=true): step outputs task-definition-arn,
 * deployment-id and status in $GITHUB_OUTPUT, a short summary in
 * $GITHUB_STEP_SUMMARY, and an ::error:: line for a failure.
 */
static void
cli_github(struct world *w, const struct cli_opts *o, const struct dep_result *r, int rc,
    const struct err *e)
{
	const char *ga = w_getenv(w, "GITHUB_ACTIONS");
	char text[4096];

	if (ga == NULL || strcmp(ga, "true") != 0)
		return;
	snprintf(text, sizeof(text), "task-definition-arn=%s\ndeployment-id=%s\nstatus=%s\n",
	    r->new_td, r->deployment_id, r->status ? r->status : "error");
	cli_append(w_getenv(w, "GITHUB_OUTPUT"), text);
	snprintf(text, sizeof(text), "### ecs-deploy: %s\n\n| | |\n|---|---|\n| target | %s%s%s |\n"
	    "| task definition | `%s` |\n| previous | `%s` |\n| deployment | `%s` |\n| exit code | %d |\n%s%s%s",
	    r->status ? r->status : "error", o->cluster ? o->cluster : "", o->service ? "/" : "",
	    o->service ? o->service : (o->task_def ? o->task_def : ""), r->new_td, r->prev_td,
	    r->deployment_id, rc, rc ? "\n" : "", rc ? e->msg : "", rc ? "\n" : "");
	cli_append(w_getenv(w, "GITHUB_STEP_SUMMARY"), text);
	if (rc != 0)
		w_printf(w, 1, "::error::ecs-deploy: %s\n", e->msg);
}

static struct ecs cli_ecs_mem;

/*
 * Everything after argument checks: fills the engine's options, sets up the
 * ECS transport (or takes the caller's: tests pass a scripted one) and runs
 * the engine; prints its error and the summaries. Returns the exit code.
 */
static int
cli_dispatch(struct world *w, struct cli_opts *o, const char *image, struct ecs *ecs)
{
	struct dep_opts d;
	struct dep_result r;
	struct err e;
	int rc;

	err_clear(&e);
	memset(&d, 0, sizeof(d));
	memset(&r, 0, sizeof(r));
	d.cluster = o->cluster;
	d.service = o->service;
	d.task_def = o->task_def;
	d.image = o->tag_only ? NULL : image;
	d.tag_only = o->tag_only;
	d.tag_only_names = o->tag_only_names;
	d.container_images = o->container_images;
	d.n_container_images = o->n_container_images;
	d.timeout_s = o->timeout_s;
	d.poll_ms = o->poll_ms;
	d.desired = o->has_desired ? o->desired_n : -1;
	d.min_pct = o->has_min ? o->min_pct : -1;
	d.max_pct = o->has_max ? o->max_pct : -1;
	d.max_defs = o->max_defs_n;
	d.enable_rollback = o->enable_rollback;
	d.use_latest = o->use_latest;
	d.force_new = o->force_new;
	d.skip_check = o->skip_check;
	d.run_task = o->run_task;
	d.wait_for_success = o->wait_for_success;
	d.copy_tags = o->copy_tags;
	d.allow_no_match = o->allow_no_match;
	d.render = o->render;
	d.dry_run = o->dry_run;
	d.quiet_stdout = o->json_output;
	d.launch_type = o->launch_type;
	d.platform_version = o->platform_version;
	d.network_config = o->network_config;
	if (o->td_file) {
		d.td_file_name = o->td_file;
		rc = cli_read_file(o->td_file, &d.td_file, &e);
		if (rc != 0) {
			cli_print_error(w, &e);
			return rc;
		}
	}
	if (o->render && o->td_file) {
		ecs = &cli_ecs_mem;
		ecs_init(ecs, cli_no_network, NULL);
	}
	if (ecs == NULL) {
		err_set(&e, ED_EXIT_INTERNAL, "not implemented yet: this build has no AWS transport, "
		    "so it cannot talk to ECS");
		cli_print_error(w, &e);
		return e.code;
	}
	rc = dep_run(w, ecs, &d, &r, &e);
	if (rc != 0 && !r.reported)
		cli_print_error(w, &e);
	if (o->json_output)
		cli_summary(w, o, &r, rc, &e);
	cli_github(w, o, &r, rc, &e);
	return rc;
}

/* cli_main() with the ECS transport given (tests); NULL: the real one. */
static int
cli_run(struct world *w, int argc, char **argv, struct ecs *ecs)
{
	struct cli_opts o;
	struct err e;
	char image[ED_MAX_IMAGE_REF];
	struct buf ib;
	int rc;

	err_clear(&e);
	if (argc < 2) {
		w_puts(w, 1, cli_usage_text);
		return ED_EXIT_USAGE;
	}
	rc = cli_parse(argc, argv, &o, &e);
	if (rc != 0) {
		/* The shell tool printed only the usage; we also say what was wrong. */
		cli_print_error(w, &e);
		w_puts(w, 1, cli_usage_text);
		return rc;
	}
	if (o.help) {
		w_puts(w, 1, cli_usage_text);
		return ED_OK;
	}
	if (o.version) {
		w_printf(w, 1, "ecs-deploy %s (built with %s, BearSSL %s, jsmn %s)\n",
		    ED_VERSION, ED_LIBC, ED_BEARSSL, ED_JSMN);
		return ED_OK;
	}
	rc = cli_validate(&o, &e);
	if (rc == ED_EXIT_USAGE) {
		cli_print_error(w, &e);
		return rc;
	}
	if (rc != 0) {
		/* The shell tool's validation messages go to stdout, where it printed them. */
		w_printf(w, 1, "%s\n", e.msg);
		return rc;
	}
	image[0] = '\0';
	if (o.image && !o.tag_only) {
		buf_init(&ib, image, sizeof(image));
		rc = cli_image(w, &o, &ib, &e);
		if (rc != 0) {
			w_printf(w, 1, "%s\n", e.msg);
			return rc;
		}
	}
	return cli_dispatch(w, &o, image[0] ? image : NULL, ecs);
}

static int
cli_main(struct world *w, int argc, char **argv)
{
	return cli_run(w, argc, argv, NULL);
}

/* ===== 16. main =========================================================== */

#ifndef ECSDEPLOY_TEST
int
main(int argc, char **argv)
{
	struct world w;

	world_init_system(&w);
	return cli_main(&w, argc, argv);
}
#endif
