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
 * (Built by the deploy-engine issue.)
 */

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

/* ===== 14. Deploy engine ================================================== */
/*
 * (Built by the deploy-engine issue.) Register, update, wait, roll back and run
 * one-off tasks (§5, §6).
 */

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

static int
cli_main(struct world *w, int argc, char **argv)
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
	if (o.image && !o.tag_only) {
		buf_init(&ib, image, sizeof(image));
		rc = cli_image(w, &o, &ib, &e);
		if (rc != 0) {
			w_printf(w, 1, "%s\n", e.msg);
			return rc;
		}
	}
	err_set(&e, ED_EXIT_INTERNAL, "not implemented yet: this build has no AWS transport, "
	    "so it cannot talk to ECS");
	cli_print_error(w, &e);
	return e.code;
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
