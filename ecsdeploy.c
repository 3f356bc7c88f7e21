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

/* credential_process: fork, exec, wait with a timeout */
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>

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
 * The parts of the AWS credential chain (§7.1) and of the region lookup
 * (§7.2) that need no signed AWS call: the command line, the environment, the
 * shared config and credentials files, credential_process, ECS container
 * credentials and EC2 instance metadata (IMDSv2). The STS sources (web
 * identity, role_arn profiles, -a) and the resolver that walks the whole chain
 * sit at the end of section 10, because they send through aws_*.
 *
 * Each source is one small function, cred_from_<source>(), returning 0 with
 * *out filled, CRED_NONE when the source is not configured (the chain moves
 * on; a short note of why goes to the "looked at" list for the final error),
 * or an ED_EXIT_* code via err_set when it is configured but broken: partial
 * keys, an unreadable file, a failed process, a refused metadata request. A
 * configured source that fails stops the chain, as the AWS SDKs do.
 *
 * The outside world beyond struct world (file contents, running a process,
 * one plain HTTP request) goes through struct cred_io so tests can fake it.
 *
 * Also here: the shared-file INI reader, the shell-like word splitter for
 * credential_process (there is no shell in a FROM-scratch image), a bounded
 * XML field reader for STS answers, and an ISO 8601 timestamp reader.
 *
 * Secrets (§8): no message written here contains a key, token or process
 * output; messages name the source, the variable, the file and the profile.
 *
 * Limits: ED_MAX_CRED_FILE, ED_MAX_CRED_TOKEN, ED_MAX_WEB_TOKEN,
 * ED_MAX_PROC_OUTPUT, ED_MAX_PROC_ARGS, ED_MAX_META_BODY, ED_MAX_ROLE_CHAIN.
 */

#ifndef ED_MAX_CRED_FILE
#define ED_MAX_CRED_FILE 65536       /* bytes of a shared config or credentials file */
#endif
#ifndef ED_MAX_CRED_TOKEN
#define ED_MAX_CRED_TOKEN 4096       /* bytes of a session token */
#endif
#ifndef ED_MAX_WEB_TOKEN
#define ED_MAX_WEB_TOKEN 16384       /* bytes of a web identity or container token file */
#endif
#ifndef ED_MAX_PROC_OUTPUT
#define ED_MAX_PROC_OUTPUT 16384     /* bytes credential_process may print */
#endif
#ifndef ED_MAX_PROC_ARGS
#define ED_MAX_PROC_ARGS 32          /* words of a credential_process command line */
#endif
#ifndef ED_MAX_META_BODY
#define ED_MAX_META_BODY 16384       /* bytes of a container or IMDS answer */
#endif
#ifndef ED_MAX_ROLE_CHAIN
#define ED_MAX_ROLE_CHAIN 5          /* profiles in one role_arn/source_profile chain */
#endif
#ifndef ED_CRED_PROC_TIMEOUT_MS
#define ED_CRED_PROC_TIMEOUT_MS 60000
#endif
#ifndef ED_CRED_META_TIMEOUT_MS
#define ED_CRED_META_TIMEOUT_MS 2000 /* per container/IMDS request */
#endif
#define CRED_REFRESH_AHEAD_S 300     /* re-resolve temporary credentials this early */
#define CRED_NONE (-1)               /* a source that is not configured */

struct cred {
	char akid[128];
	char secret[128];
	char token[ED_MAX_CRED_TOKEN]; /* "" for long-term keys */
	int64_t expires;               /* epoch seconds; 0: does not expire */
	char source[256];              /* where they came from; never a secret */
};

/* One plain HTTP request for the metadata sources. */
struct cred_http {
	const char *method;            /* "GET" or "PUT" */
	const char *url;               /* absolute http:// or https:// URL */
	const char *hname[2];
	const char *hval[2];
	int nhdr;
	int timeout_ms;
};

/*
 * The seams of this layer. read_file: the whole file into out (bounded by
 * out's capacity; overflow flagged there); 0, or -1 with *errnum (ENOENT when
 * it does not exist). run: argv[0] found on PATH and executed without a shell,
 * stdin /dev/null, stderr inherited, stdout into out; 0 with *status (exit
 * code, 128+signal when killed), -1 could not start (*errnum), -2 timed out,
 * -3 printed more than out holds (the child is killed in both cases). http:
 * 0 with *status and the body in out, or ED_EXIT_NETWORK via e (never mention
 * header values in e).
 */
struct cred_io {
	void *ctx;
	int (*read_file)(void *ctx, const char *path, struct buf *out, int *errnum);
	int (*run)(void *ctx, char *const argv[], struct buf *out, int timeout_ms,
	    int *status, int *errnum);
	int (*http)(void *ctx, const struct cred_http *rq, struct buf *out, int *status,
	    struct err *e);
};

/* What the command line says about credentials and region. */
struct cred_opts {
	const char *access_key, *secret_key;  /* -k, -s */
	const char *profile;                  /* -p */
	const char *region;                   /* -r */
	const char *assume_role;              /* -a */
	int instance_only;                    /* --aws-instance-profile */
};

/*
 * The resolver's state for one run. The caller owns it (it is large: keep it
 * static or on the heap); cred_init() cannot fail. Views into cfg/crd stay
 * valid for the run.
 */
struct cred_ctx {
	struct world *w;
	struct cred_io *io;
	struct cred_opts opt;
	char cfg_mem[ED_MAX_CRED_FILE], crd_mem[ED_MAX_CRED_FILE];
	struct sv cfg, crd;                   /* file contents ("" when absent) */
	char cfg_path[1024], crd_path[1024];
	int files_loaded;
	char profile[128];                    /* effective profile name */
	int profile_explicit;                 /* named by -p or AWS_PROFILE */
	char region[64];
	char region_source[96];
	char looked[1024];                    /* "looked at" notes for the final error */
	struct buf lookedb;
	struct cred cur;                      /* the credentials in use */
	int have;
	/* Set by the resolver (section 10) so cred_fresh() can re-resolve. */
	int (*refresh)(struct cred_ctx *c, struct err *e);
};

static struct sv
cred_trim(struct sv s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t' || s.p[0] == '\r' || s.p[0] == '\n'))
		s = sv_sub(s, 1, s.n);
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t' || s.p[s.n - 1] == '\r' ||
	    s.p[s.n - 1] == '\n'))
		s.n--;
	return s;
}

static int
cred_ieq(struct sv a, const char *z)
{
	size_t i, n = strlen(z);

	if (a.n != n)
		return 0;
	for (i = 0; i < n; i++) {
		if (tolower((unsigned char)a.p[i]) != tolower((unsigned char)z[i]))
			return 0;
	}
	return 1;
}

/* Copies s into a fixed array of cap bytes; -1 when it does not fit. */
static int
cred_copy(char *dst, size_t cap, struct sv s)
{
	if (s.n >= cap)
		return -1;
	if (s.n)
		memcpy(dst, s.p, s.n);
	dst[s.n] = '\0';
	return 0;
}

static void
cred_note(struct cred_ctx *c, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->lookedb.len)
		buf_putz(&c->lookedb, "; ");
	buf_putz(&c->lookedb, line);
}

static const char *
cred_env(struct cred_ctx *c, const char *name)
{
	const char *v = w_getenv(c->w, name);

	return v && v[0] ? v : NULL;
}

/* Forgets secret bytes; the compiler may not drop the stores. */
static void
cred_wipe(struct cred *k)
{
	volatile unsigned char *p = (volatile unsigned char *)k;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		p[i] = 0;
}

/*
 * Fills *out from views. Fails (exit 20) when a part is empty or does not fit;
 * the message names `source`, never the values.
 */
static int
cred_set(struct cred *out, struct sv akid, struct sv secret, struct sv token,
    int64_t expires, const char *source, struct err *e)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->source, sizeof(out->source), "%s", source);
	if (akid.n == 0 || secret.n == 0)
		return err_set(e, ED_EXIT_AUTH, "%s: access key id or secret access key is empty",
		    source);
	if (cred_copy(out->akid, sizeof(out->akid), akid) != 0 ||
	    cred_copy(out->secret, sizeof(out->secret), secret) != 0)
		return err_set(e, ED_EXIT_AUTH, "%s: access key too long", source);
	if (cred_copy(out->token, sizeof(out->token), token) != 0)
		return err_set(e, ED_EXIT_AUTH, "%s: session token too big: ED_MAX_CRED_TOKEN", source);
	out->expires = expires;
	return 0;
}

/* "AKIA****WXYZ": enough to tell keys apart, never the whole id. */
static void
cred_mask(const char *akid, char out[16])
{
	size_t n = strlen(akid);

	if (n < 12) {
		snprintf(out, 16, "****");
		return;
	}
	snprintf(out, 16, "%.4s****%s", akid, akid + n - 4);
}

/* ---- ISO 8601 timestamps --------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
cred_days(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
cred_digits(struct sv s, size_t at, size_t n, int *out)
{
	size_t i;
	int v = 0;

	if (at + n > s.n)
		return -1;
	for (i = at; i < at + n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (s.p[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Reads "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM|+HHMM)" into epoch seconds
 * (fractions dropped). Returns 0 or -1.
 */
static int
cred_iso8601(struct sv s, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	size_t i = 19;
	int64_t t;

	s = cred_trim(s);
	if (cred_digits(s, 0, 4, &y) || s.n < 20 || s.p[4] != '-' || cred_digits(s, 5, 2, &mo) ||
	    s.p[7] != '-' || cred_digits(s, 8, 2, &d) || (s.p[10] != 'T' && s.p[10] != 't' &&
	    s.p[10] != ' ') || cred_digits(s, 11, 2, &h) || s.p[13] != ':' ||
	    cred_digits(s, 14, 2, &mi) || s.p[16] != ':' || cred_digits(s, 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	if (s.p[i] == '.') {
		i++;
		while (i < s.n && s.p[i] >= '0' && s.p[i] <= '9')
			i++;
	}
	if (i < s.n && (s.p[i] == 'Z' || s.p[i] == 'z')) {
		i++;
	} else if (i < s.n && (s.p[i] == '+' || s.p[i] == '-')) {
		int sign = s.p[i] == '-' ? -1 : 1;

		if (cred_digits(s, i + 1, 2, &oh))
			return -1;
		i += 3;
		if (i < s.n && s.p[i] == ':')
			i++;
		if (cred_digits(s, i, 2, &om) || oh > 23 || om > 59)
			return -1;
		i += 2;
		oh *= sign;
		om *= sign;
	} else {
		return -1;
	}
	if (i != s.n)
		return -1;
	t = cred_days(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + sec;
	*out = t - (int64_t)oh * 3600 - (int64_t)om * 60;
	return 0;
}

/* ---- the shared config and credentials files -------------------------------- */

/*
 * Whether an INI section header (the text between the brackets) names
 * profile `name`. In the config file that is "profile NAME" (any blanks,
 * optional double quotes) or "default" for the default profile; in the
 * credentials file it is "NAME".
 */
static int
cred_ini_section_is(struct sv hdr, int config, struct sv name)
{
	hdr = cred_trim(hdr);
	if (!config)
		return sv_eq(hdr, name);
	if (sv_eqz(name, "default") && sv_eqz(hdr, "default"))
		return 1;
	if (!sv_starts(hdr, "profile") || hdr.n < 9 || (hdr.p[7] != ' ' && hdr.p[7] != '\t'))
		return 0;
	hdr = cred_trim(sv_sub(hdr, 8, hdr.n));
	if (hdr.n >= 2 && hdr.p[0] == '"' && hdr.p[hdr.n - 1] == '"')
		hdr = sv_sub(hdr, 1, hdr.n - 1);
	return sv_eq(hdr, name);
}

/*
 * Finds `key` (case-insensitive, as Python's configparser folds it) in the
 * section for profile `name` of an INI text in the AWS shared-file dialect:
 * "key = value" or "key: value", "#" and ";" comment lines, indented lines
 * continue the previous value (nested settings like "s3 =" are skipped), the
 * last occurrence wins. Returns 1 with *val a trimmed view into text, or 0.
 */
static int
cred_ini_get(struct sv text, int config, struct sv name, const char *key, struct sv *val)
{
	struct sv rest = text;
	int in = 0, found = 0;
	long key_indent = -1;

	while (rest.n) {
		long nl = sv_chr(rest, '\n');
		struct sv line = nl < 0 ? rest : sv_sub(rest, 0, (size_t)nl);
		struct sv t;
		long indent = 0, eq, colon;

		rest = nl < 0 ? sv_make(rest.p + rest.n, 0) : sv_sub(rest, (size_t)nl + 1, rest.n);
		while ((size_t)indent < line.n && (line.p[indent] == ' ' || line.p[indent] == '\t'))
			indent++;
		t = cred_trim(line);
		if (t.n == 0 || t.p[0] == '#' || t.p[0] == ';')
			continue;
		if (key_indent >= 0 && indent > key_indent)
			continue; /* continuation of the previous value */
		if (t.p[0] == '[') {
			in = t.p[t.n - 1] == ']' && cred_ini_section_is(sv_sub(t, 1, t.n - 1), config, name);
			key_indent = -1;
			continue;
		}
		eq = sv_chr(t, '=');
		colon = sv_chr(t, ':');
		if (eq < 0 || (colon >= 0 && colon < eq))
			eq = colon;
		if (eq <= 0) {
			key_indent = -1;
			continue;
		}
		key_indent = indent;
		if (in && cred_ieq(cred_trim(sv_sub(t, 0, (size_t)eq)), key)) {
			*val = cred_trim(sv_sub(t, (size_t)eq + 1, t.n));
			found = 1;
		}
	}
	return found;
}

/* Whether the INI text has a section for profile `name`. */
static int
cred_ini_has(struct sv text, int config, struct sv name)
{
	struct sv rest = text;

	while (rest.n) {
		long nl = sv_chr(rest, '\n');
		struct sv t = cred_trim(nl < 0 ? rest : sv_sub(rest, 0, (size_t)nl));

		rest = nl < 0 ? sv_make(rest.p + rest.n, 0) : sv_sub(rest, (size_t)nl + 1, rest.n);
		if (t.n >= 2 && t.p[0] == '[' && t.p[t.n - 1] == ']' &&
		    cred_ini_section_is(sv_sub(t, 1, t.n - 1), config, name))
			return 1;
	}
	return 0;
}

/* A profile's setting: the credentials file's [name] first, then the config file's. */
static int
cred_prof_get(struct cred_ctx *c, struct sv name, const char *key, struct sv *val)
{
	if (cred_ini_get(c->crd, 0, name, key, val) && val->n)
		return 1;
	return cred_ini_get(c->cfg, 1, name, key, val) && val->n;
}

static int
cred_prof_exists(struct cred_ctx *c, struct sv name)
{
	return cred_ini_has(c->crd, 0, name) || cred_ini_has(c->cfg, 1, name);
}

/* Reads one shared file into mem; absent is fine (empty). */
static int
cred_load_one(struct cred_ctx *c, const char *path, char *mem, struct sv *out, struct err *e)
{
	struct buf b;
	int errnum = 0;

	*out = sv_make(mem, 0);
	if (path[0] == '\0')
		return 0;
	buf_init(&b, mem, ED_MAX_CRED_FILE);
	if (c->io->read_file(c->io->ctx, path, &b, &errnum) != 0) {
		if (errnum == ENOENT || errnum == ENOTDIR)
			return 0;
		return err_set(e, ED_EXIT_AUTH, "cannot read %s: %s", path, strerror(errnum));
	}
	if (b.overflow)
		return err_set(e, ED_EXIT_AUTH, "%s: too big: ED_MAX_CRED_FILE (%d bytes)", path,
		    ED_MAX_CRED_FILE);
	*out = sv_make(mem, b.len);
	return 0;
}

/*
 * Loads AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/config
 * and ~/.aws/credentials through HOME) once, and settles the profile name:
 * -p, else AWS_PROFILE, else "default".
 */
static int
cred_load_files(struct cred_ctx *c, struct err *e)
{
	const char *home = cred_env(c, "HOME");
	const char *cf = cred_env(c, "AWS_CONFIG_FILE");
	const char *kf = cred_env(c, "AWS_SHARED_CREDENTIALS_FILE");
	const char *p;
	int rc;

	if (c->files_loaded)
		return 0;
	c->files_loaded = 1;
	p = c->opt.profile && c->opt.profile[0] ? c->opt.profile : cred_env(c, "AWS_PROFILE");
	c->profile_explicit = p != NULL;
	if (cred_copy(c->profile, sizeof(c->profile), sv_z(p ? p : "default")) != 0)
		return err_set(e, ED_EXIT_USAGE, "profile name too long");
	c->cfg_path[0] = c->crd_path[0] = '\0';
	if (cf || home)
		snprintf(c->cfg_path, sizeof(c->cfg_path), "%s%s", cf ? cf : home, cf ? "" : "/.aws/config");
	if (kf || home)
		snprintf(c->crd_path, sizeof(c->crd_path), "%s%s", kf ? kf : home,
		    kf ? "" : "/.aws/credentials");
	rc = cred_load_one(c, c->cfg_path, c->cfg_mem, &c->cfg, e);
	if (rc == 0)
		rc = cred_load_one(c, c->crd_path, c->crd_mem, &c->crd, e);
	return rc;
}

/* ---- shell-like words for credential_process ----------------------------- */

/*
 * Splits a command line into words the way POSIX shlex does: blanks separate
 * words, '...' is literal, "..." is literal except \" and \\, a backslash
 * outside quotes takes the next byte literally. No expansion of any kind.
 * Words go NUL-terminated into mem (cap bytes); argv gets pointers to them
 * and a final NULL. Returns the word count, -1 for an unterminated quote or
 * a trailing backslash, -2 when the words do not fit (cap or cap_argv).
 */
static int
cred_split(struct sv line, char *mem, size_t cap, char **argv, int cap_argv)
{
	size_t i = 0, o = 0;
	int argc = 0, inword = 0;

#define CRED_PUT(ch) do { if (o + 1 >= cap) return -2; mem[o++] = (ch); } while (0)
	while (i < line.n) {
		char ch = line.p[i];

		if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
			if (inword)
				CRED_PUT('\0');
			inword = 0;
			i++;
			continue;
		}
		if (!inword) {
			if (argc + 1 >= cap_argv)
				return -2;
			argv[argc++] = mem + o;
			inword = 1;
		}
		if (ch == '\'') {
			for (i++; i < line.n && line.p[i] != '\''; i++)
				CRED_PUT(line.p[i]);
			if (i == line.n)
				return -1;
			i++;
		} else if (ch == '"') {
			for (i++; i < line.n && line.p[i] != '"'; i++) {
				if (line.p[i] == '\\' && i + 1 < line.n &&
				    (line.p[i + 1] == '"' || line.p[i + 1] == '\\'))
					i++;
				CRED_PUT(line.p[i]);
			}
			if (i == line.n)
				return -1;
			i++;
		} else if (ch == '\\') {
			if (i + 1 == line.n)
				return -1;
			CRED_PUT(line.p[i + 1]);
			i += 2;
		} else {
			CRED_PUT(ch);
			i++;
		}
	}
	if (inword)
		CRED_PUT('\0');
#undef CRED_PUT
	argv[argc] = NULL;
	return argc;
}

/* ---- a bounded XML field reader (STS answers) -------------------------------- */

/* Appends code point cp as UTF-8; -1 for a code point XML does not allow. */
static int
cred_utf8_put(struct buf *b, unsigned long cp)
{
	char u[4];

	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		buf_put(b, u, 4);
	}
	return 0;
}

/* Decodes one entity body (between '&' and ';'). */
static int
cred_xml_entity(struct sv ent, struct buf *out)
{
	unsigned long cp = 0;
	size_t i;
	int hex;

	if (sv_eqz(ent, "lt"))
		buf_putc(out, '<');
	else if (sv_eqz(ent, "gt"))
		buf_putc(out, '>');
	else if (sv_eqz(ent, "amp"))
		buf_putc(out, '&');
	else if (sv_eqz(ent, "quot"))
		buf_putc(out, '"');
	else if (sv_eqz(ent, "apos"))
		buf_putc(out, '\'');
	else if (ent.n >= 2 && ent.p[0] == '#') {
		hex = ent.p[1] == 'x' || ent.p[1] == 'X';
		if ((size_t)(1 + hex) >= ent.n || ent.n > 10)
			return -1;
		for (i = 1 + (size_t)hex; i < ent.n; i++) {
			char ch = ent.p[i];
			int d;

			if (ch >= '0' && ch <= '9')
				d = ch - '0';
			else if (hex && ch >= 'a' && ch <= 'f')
				d = ch - 'a' + 10;
			else if (hex && ch >= 'A' && ch <= 'F')
				d = ch - 'A' + 10;
			else
				return -1;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
			if (cp > 0x10FFFF)
				return -1;
		}
		return cred_utf8_put(out, cp);
	} else {
		return -1;
	}
	return 0;
}

/*
 * The content of the first element named `name` inside region: sets *inner to
 * the bytes between its start and end tags. Returns 0, or -1 when absent or
 * unterminated. Attributes are skipped; "<name/>" is empty.
 */
static int
cred_xml_elem(struct sv region, struct sv name, struct sv *inner)
{
	size_t i = 0;

	while (i < region.n) {
		const char *lt = memchr(region.p + i, '<', region.n - i);
		size_t at, j;

		if (lt == NULL)
			return -1;
		at = (size_t)(lt - region.p);
		i = at + 1;
		if (region.n - i < name.n + 1 || memcmp(region.p + i, name.p, name.n) != 0)
			continue;
		j = i + name.n;
		if (region.p[j] != '>' && region.p[j] != '/' && region.p[j] != ' ' &&
		    region.p[j] != '\t' && region.p[j] != '\r' && region.p[j] != '\n')
			continue;
		while (j < region.n && region.p[j] != '>')
			j++;
		if (j == region.n)
			return -1;
		if (region.p[j - 1] == '/') {
			*inner = sv_make(region.p + j + 1, 0);
			return 0;
		}
		j++;
		/* Find "</name" followed by optional blanks and '>'. */
		for (i = j; i + 2 + name.n <= region.n; i++) {
			size_t k;

			if (region.p[i] != '<' || region.p[i + 1] != '/' ||
			    memcmp(region.p + i + 2, name.p, name.n) != 0)
				continue;
			k = i + 2 + name.n;
			while (k < region.n && (region.p[k] == ' ' || region.p[k] == '\t' ||
			    region.p[k] == '\r' || region.p[k] == '\n'))
				k++;
			if (k < region.n && region.p[k] == '>') {
				*inner = sv_make(region.p + j, i - j);
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

/*
 * Finds the element at `path` ("A/B/C": the first C inside the first B inside
 * the first A) in doc and appends its text, with the five predefined entities,
 * numeric character references and CDATA sections decoded, to out. This is
 * not an XML parser: it reads the fields of small, well-known answers (STS)
 * and nothing else. Returns 0; -1 when the element is absent; -2 when its
 * text is malformed (a child element, a bad entity) or does not fit out.
 */
static int
cred_xml_get(struct sv doc, const char *path, struct buf *out)
{
	struct sv region = doc, name;
	const char *p = path;
	size_t i;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		name = sv_make(p, n);
		if (cred_xml_elem(region, name, &region) != 0)
			return -1;
		p += n + (slash ? 1 : 0);
	}
	for (i = 0; i < region.n; i++) {
		char ch = region.p[i];

		if (ch == '&') {
			const char *semi = memchr(region.p + i, ';', region.n - i);

			if (semi == NULL || cred_xml_entity(sv_make(region.p + i + 1,
			    (size_t)(semi - region.p) - i - 1), out) != 0)
				return -2;
			i = (size_t)(semi - region.p);
		} else if (ch == '<') {
			struct sv rest = sv_sub(region, i, region.n);
			size_t k;

			if (!sv_starts(rest, "<![CDATA["))
				return -2;
			for (k = 9; k + 3 <= rest.n && memcmp(rest.p + k, "]]>", 3) != 0; k++)
				;
			if (k + 3 > rest.n)
				return -2;
			buf_put(out, rest.p + 9, k - 9);
			i += k + 2;
		} else {
			buf_putc(out, ch);
		}
	}
	return out->overflow ? -2 : 0;
}

/* ---- credential JSON (credential_process, container, IMDS) ---------------- */

/*
 * Reads {"AccessKeyId","SecretAccessKey",<token_key>,"Expiration"} from a
 * JSON answer into *out. version1: the credential_process format, which
 * must say "Version": 1. A "Code" member other than "Success" (IMDS) is a
 * failure. Messages name `source` and never echo the body.
 */
static int
cred_parse_json(struct sv body, const char *token_key, int version1, const char *source,
    struct cred *out, struct err *e)
{
	jsmntok_t tok[64];
	struct json_doc d;
	struct err je;
	char akid[128], sec[128], exp[64];
	static char token[ED_MAX_CRED_TOKEN];
	struct buf ab, sb, tb, xb;
	int t;
	long ver;
	int64_t expires = 0;

	err_clear(&je);
	if (json_parse(&d, body.p, body.n, tok, 64, &je) != 0 || d.ntok < 1 ||
	    tok[0].type != JSMN_OBJECT)
		return err_set(e, ED_EXIT_AUTH, "%s: the answer is not a JSON object", source);
	if (version1) {
		t = json_get(&d, 0, "Version");
		if (t < 0 || json_long(&d, t, &ver) != 0 || ver != 1)
			return err_set(e, ED_EXIT_AUTH, "%s: the output lacks \"Version\": 1", source);
	}
	t = json_get(&d, 0, "Code");
	if (t >= 0 && !json_eq(&d, t, "Success"))
		return err_set(e, ED_EXIT_AUTH, "%s: the answer's Code is not Success", source);
	buf_init(&ab, akid, sizeof(akid));
	buf_init(&sb, sec, sizeof(sec));
	buf_init(&tb, token, sizeof(token));
	buf_init(&xb, exp, sizeof(exp));
	t = json_get(&d, 0, "AccessKeyId");
	if (t < 0 || json_str(&d, t, &ab) != 0 || ab.overflow)
		return err_set(e, ED_EXIT_AUTH, "%s: no AccessKeyId in the answer", source);
	t = json_get(&d, 0, "SecretAccessKey");
	if (t < 0 || json_str(&d, t, &sb) != 0 || sb.overflow)
		return err_set(e, ED_EXIT_AUTH, "%s: no SecretAccessKey in the answer", source);
	t = json_get(&d, 0, token_key);
	if (t >= 0 && (json_str(&d, t, &tb) != 0 || tb.overflow))
		return err_set(e, ED_EXIT_AUTH, "%s: bad %s: too big: ED_MAX_CRED_TOKEN", source,
		    token_key);
	t = json_get(&d, 0, "Expiration");
	if (t >= 0 && (json_str(&d, t, &xb) != 0 || cred_iso8601(sv_make(exp, xb.len), &expires)))
		return err_set(e, ED_EXIT_AUTH, "%s: Expiration is not an ISO 8601 time", source);
	t = cred_set(out, sv_make(akid, ab.len), sv_make(sec, sb.len), sv_make(token, tb.len),
	    expires, source, e);
	memset(sec, 0, sizeof(sec));
	memset(token, 0, tb.len);
	return t;
}

/* ---- the sources without STS ------------------------------------------------ */

/* -k / -s (+ AWS_SESSION_TOKEN). */
static int
cred_from_args(struct cred_ctx *c, struct cred *out, struct err *e)
{
	const char *k = c->opt.access_key, *s = c->opt.secret_key;

	if (!k && !s)
		return CRED_NONE;
	if (!k || !s || !k[0] || !s[0])
		return err_set(e, ED_EXIT_USAGE, "-k/--aws-access-key and -s/--aws-secret-key "
		    "go together: give both or neither");
	return cred_set(out, sv_z(k), sv_z(s), sv_z(cred_env(c, "AWS_SESSION_TOKEN")), 0,
	    "command line (-k/-s)", e);
}

/* AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
static int
cred_from_env(struct cred_ctx *c, struct cred *out, struct err *e)
{
	const char *k = cred_env(c, "AWS_ACCESS_KEY_ID");
	const char *s = cred_env(c, "AWS_SECRET_ACCESS_KEY");
	const char *t = cred_env(c, "AWS_SESSION_TOKEN");
	const char *x = cred_env(c, "AWS_CREDENTIAL_EXPIRATION");
	int64_t expires = 0;

	if (!t)
		t = cred_env(c, "AWS_SECURITY_TOKEN");
	if (!k && !s) {
		cred_note(c, "environment: AWS_ACCESS_KEY_ID unset");
		return CRED_NONE;
	}
	if (!k || !s)
		return err_set(e, ED_EXIT_AUTH, "environment: %s is set but %s is not",
		    k ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    k ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (x && cred_iso8601(sv_z(x), &expires) != 0)
		return err_set(e, ED_EXIT_AUTH, "environment: AWS_CREDENTIAL_EXPIRATION is not an "
		    "ISO 8601 time");
	return cred_set(out, sv_z(k), sv_z(s), sv_z(t), expires,
	    "environment (AWS_ACCESS_KEY_ID)", e);
}

/* Static keys in a profile: aws_access_key_id + aws_secret_access_key (+ aws_session_token). */
static int
cred_from_profile_keys(struct cred_ctx *c, struct sv prof, struct cred *out, struct err *e)
{
	struct sv k, s, t = sv_make("", 0);
	int hk = cred_prof_get(c, prof, "aws_access_key_id", &k);
	int hs = cred_prof_get(c, prof, "aws_secret_access_key", &s);
	char src[256];

	if (!hk && !hs)
		return CRED_NONE;
	if (!hk || !hs)
		return err_set(e, ED_EXIT_AUTH, "profile %.*s: aws_access_key_id and "
		    "aws_secret_access_key go together; one is missing", (int)prof.n, prof.p);
	if (!cred_prof_get(c, prof, "aws_session_token", &t))
		cred_prof_get(c, prof, "aws_security_token", &t);
	snprintf(src, sizeof(src), "profile %.*s (%s)", (int)prof.n, prof.p,
	    cred_ini_get(c->crd, 0, prof, "aws_access_key_id", &k) ? "credentials file" : "config file");
	cred_prof_get(c, prof, "aws_access_key_id", &k);
	return cred_set(out, k, s, t, 0, src, e);
}

/*
 * credential_process of a profile: split the command line, run it without a
 * shell, read its JSON (Version 1). Its stderr reaches our stderr as is.
 */
static int
cred_from_process(struct cred_ctx *c, struct sv prof, struct sv cmd, struct cred *out,
    struct err *e)
{
	static char words[2048], output[ED_MAX_PROC_OUTPUT];
	char *argv[ED_MAX_PROC_ARGS + 1];
	char src[256];
	struct buf ob;
	int argc, rc, status = 0, errnum = 0;

	snprintf(src, sizeof(src), "credential_process (profile %.*s)", (int)prof.n, prof.p);
	argc = cred_split(cmd, words, sizeof(words), argv, ED_MAX_PROC_ARGS + 1);
	if (argc == -1)
		return err_set(e, ED_EXIT_AUTH, "%s: unterminated quote in the command line", src);
	if (argc < 0)
		return err_set(e, ED_EXIT_AUTH, "%s: command line too long: ED_MAX_PROC_ARGS", src);
	if (argc == 0)
		return err_set(e, ED_EXIT_AUTH, "%s: empty command line", src);
	buf_init(&ob, output, sizeof(output));
	rc = c->io->run(c->io->ctx, argv, &ob, ED_CRED_PROC_TIMEOUT_MS, &status, &errnum);
	if (rc == -1)
		rc = err_set(e, ED_EXIT_AUTH, "%s: cannot run %s: %s", src, argv[0], strerror(errnum));
	else if (rc == -2)
		rc = err_set(e, ED_EXIT_AUTH, "%s: %s took longer than %d s and was stopped", src,
		    argv[0], ED_CRED_PROC_TIMEOUT_MS / 1000);
	else if (rc == -3 || ob.overflow)
		rc = err_set(e, ED_EXIT_AUTH, "%s: output too big: ED_MAX_PROC_OUTPUT (%d bytes)", src,
		    ED_MAX_PROC_OUTPUT);
	else if (status != 0)
		rc = err_set(e, ED_EXIT_AUTH, "%s: %s exited with status %d", src, argv[0], status);
	else
		rc = cred_parse_json(sv_make(output, ob.len), "SessionToken", 1, src, out, e);
	memset(output, 0, sizeof(output));
	return rc;
}

/* Reads a token file (web identity, container authorization), trimmed. */
static int
cred_token_file(struct cred_ctx *c, const char *what, const char *path, char *mem, size_t cap,
    struct sv *tok, struct err *e)
{
	struct buf b;
	int errnum = 0;

	buf_init(&b, mem, cap);
	if (c->io->read_file(c->io->ctx, path, &b, &errnum) != 0)
		return err_set(e, ED_EXIT_AUTH, "%s: cannot read %s: %s", what, path, strerror(errnum));
	if (b.overflow)
		return err_set(e, ED_EXIT_AUTH, "%s: %s too big: ED_MAX_WEB_TOKEN", what, path);
	*tok = cred_trim(sv_make(mem, b.len));
	if (tok->n == 0)
		return err_set(e, ED_EXIT_AUTH, "%s: %s is empty", what, path);
	return 0;
}

/* Host part of an absolute URL ("[::1]" keeps its brackets); scheme in *https. */
static int
cred_url_host(const char *url, struct sv *host, int *https)
{
	struct sv u = sv_z(url), rest;
	size_t i;

	if (sv_starts(u, "http://")) {
		*https = 0;
		rest = sv_sub(u, 7, u.n);
	} else if (sv_starts(u, "https://")) {
		*https = 1;
		rest = sv_sub(u, 8, u.n);
	} else {
		return -1;
	}
	if (rest.n && rest.p[0] == '[') {
		long rb = sv_chr(rest, ']');

		if (rb < 0)
			return -1;
		*host = sv_sub(rest, 0, (size_t)rb + 1);
		return 0;
	}
	for (i = 0; i < rest.n && rest.p[i] != ':' && rest.p[i] != '/' && rest.p[i] != '?'; i++)
		;
	*host = sv_sub(rest, 0, i);
	return host->n ? 0 : -1;
}

/* 127.0.0.0/8 in dotted-quad form. */
static int
cred_is_loopback4(struct sv h)
{
	int parts = 0;
	size_t i = 0;

	if (!sv_starts(h, "127."))
		return 0;
	while (i < h.n) {
		size_t st = i;
		long v;

		while (i < h.n && h.p[i] != '.')
			i++;
		if (sv_to_long(sv_sub(h, st, i), 0, 255, &v) != 0)
			return 0;
		parts++;
		if (i < h.n)
			i++;
		if (i == h.n && h.p[h.n - 1] == '.')
			return 0;
	}
	return parts == 4;
}

/*
 * AWS_CONTAINER_CREDENTIALS_FULL_URI may point at https anywhere, but plain
 * http only at loopback or the ECS / EKS Pod Identity agent addresses (as
 * the AWS SDKs allow).
 */
static int
cred_container_url_ok(const char *url)
{
	struct sv h;
	int https;

	if (cred_url_host(url, &h, &https) != 0)
		return 0;
	if (https)
		return 1;
	return cred_is_loopback4(h) || cred_ieq(h, "localhost") || sv_eqz(h, "[::1]") ||
	    sv_eqz(h, "169.254.170.2") || sv_eqz(h, "169.254.170.23") ||
	    cred_ieq(h, "[fd00:ec2::23]");
}

/* ECS container credentials (task roles, CodeBuild, EKS Pod Identity). */
static int
cred_from_container(struct cred_ctx *c, struct cred *out, struct err *e)
{
	const char *rel = cred_env(c, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = cred_env(c, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tfile = cred_env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tenv = cred_env(c, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
	static char body[ED_MAX_META_BODY], tokmem[ED_MAX_WEB_TOKEN];
	char url[1024];
	const char *src;
	struct cred_http rq;
	struct sv tok = sv_make(NULL, 0);
	struct buf bb;
	int status = 0, rc;
	size_t i;

	if (!rel && !full) {
		cred_note(c, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset");
		return CRED_NONE;
	}
	if (rel) {
		src = "container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)";
		if (rel[0] != '/' || strlen(rel) > 900)
			return err_set(e, ED_EXIT_AUTH, "%s: must be a path starting with '/'", src);
		snprintf(url, sizeof(url), "http://169.254.170.2%s", rel);
	} else {
		src = "container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)";
		if (!cred_container_url_ok(full) || strlen(full) >= sizeof(url))
			return err_set(e, ED_EXIT_AUTH, "%s: must be an https URL, or http on a loopback "
			    "address or the ECS/EKS agent address (169.254.170.2, 169.254.170.23)", src);
		snprintf(url, sizeof(url), "%s", full);
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = "GET";
	rq.url = url;
	rq.timeout_ms = ED_CRED_META_TIMEOUT_MS;
	if (tfile) {
		rc = cred_token_file(c, src, tfile, tokmem, sizeof(tokmem), &tok, e);
		if (rc != 0)
			return rc;
	} else if (tenv) {
		tok = sv_z(tenv);
	}
	if (tok.n) {
		static char tokz[ED_MAX_WEB_TOKEN];

		for (i = 0; i < tok.n; i++) {
			if (tok.p[i] == '\r' || tok.p[i] == '\n' || tok.p[i] == '\0')
				return err_set(e, ED_EXIT_AUTH, "%s: the authorization token contains a "
				    "line break", src);
		}
		cred_copy(tokz, sizeof(tokz), tok);
		rq.hname[0] = "Authorization";
		rq.hval[0] = tokz;
		rq.nhdr = 1;
	}
	buf_init(&bb, body, sizeof(body));
	rc = c->io->http(c->io->ctx, &rq, &bb, &status, e);
	if (rc != 0)
		return rc;
	if (status != 200)
		return err_set(e, ED_EXIT_AUTH, "%s: the endpoint answered HTTP %d", src, status);
	if (bb.overflow)
		return err_set(e, ED_EXIT_AUTH, "%s: answer too big: ED_MAX_META_BODY", src);
	rc = cred_parse_json(sv_make(body, bb.len), "Token", 0, src, out, e);
	memset(body, 0, sizeof(body));
	return rc;
}

/* ---- EC2 instance metadata (IMDSv2) -------------------------------------- */

static int
cred_imds_disabled(struct cred_ctx *c)
{
	const char *d = cred_env(c, "AWS_EC2_METADATA_DISABLED");

	return d && cred_ieq(sv_z(d), "true");
}

static void
cred_imds_base(struct cred_ctx *c, char *out, size_t cap)
{
	const char *ep = cred_env(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
	const char *mode = cred_env(c, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	size_t n;

	if (!ep)
		ep = mode && cred_ieq(sv_z(mode), "IPv6") ? "http://[fd00:ec2::254]" :
		    "http://169.254.169.254";
	snprintf(out, cap, "%s", ep);
	n = strlen(out);
	while (n > 0 && out[n - 1] == '/')
		out[--n] = '\0';
}

/*
 * One IMDS request: PUT the session token (token == NULL) or GET path with it.
 * Returns 0 with the body in out, CRED_NONE when IMDS does not answer (not on
 * EC2), or ED_EXIT_AUTH for a refusal.
 */
static int
cred_imds_req(struct cred_ctx *c, const char *token, const char *path, struct buf *out,
    struct err *e)
{
	char url[1200];
	struct cred_http rq;
	struct err ne;
	int status = 0;

	cred_imds_base(c, url, 1024);
	snprintf(url + strlen(url), sizeof(url) - strlen(url), "%s", path);
	memset(&rq, 0, sizeof(rq));
	rq.url = url;
	rq.timeout_ms = ED_CRED_META_TIMEOUT_MS;
	rq.nhdr = 1;
	if (token == NULL) {
		rq.method = "PUT";
		rq.hname[0] = "X-aws-ec2-metadata-token-ttl-seconds";
		rq.hval[0] = "21600";
	} else {
		rq.method = "GET";
		rq.hname[0] = "X-aws-ec2-metadata-token";
		rq.hval[0] = token;
	}
	err_clear(&ne);
	if (c->io->http(c->io->ctx, &rq, out, &status, &ne) != 0) {
		cred_note(c, "EC2 instance metadata: %s", ne.msg);
		return CRED_NONE;
	}
	if (status == 404 && token) {
		cred_note(c, "EC2 instance metadata: %s not found", path);
		return CRED_NONE;
	}
	if (status != 200)
		return err_set(e, ED_EXIT_AUTH, "EC2 instance metadata (IMDSv2): %s answered HTTP %d",
		    path, status);
	if (out->overflow)
		return err_set(e, ED_EXIT_AUTH, "EC2 instance metadata: answer too big: "
		    "ED_MAX_META_BODY");
	return 0;
}

static int
cred_imds_token(struct cred_ctx *c, char *tok, size_t cap, struct err *e)
{
	struct buf b;
	int rc;

	buf_init(&b, tok, cap);
	rc = cred_imds_req(c, NULL, "/latest/api/token", &b, e);
	if (rc == 0 && cred_trim(sv_make(tok, b.len)).n == 0)
		return err_set(e, ED_EXIT_AUTH, "EC2 instance metadata: empty session token");
	if (rc == 0)
		tok[cred_trim(sv_make(tok, b.len)).n] = '\0';
	return rc;
}

/* The instance role's credentials: token, role name, then the role's keys. */
static int
cred_from_imds(struct cred_ctx *c, struct cred *out, struct err *e)
{
	static char body[ED_MAX_META_BODY];
	char tok[256], path[512], src[320];
	struct buf b;
	struct sv role;
	int rc;

	if (cred_imds_disabled(c)) {
		cred_note(c, "EC2 instance metadata: AWS_EC2_METADATA_DISABLED");
		return CRED_NONE;
	}
	rc = cred_imds_token(c, tok, sizeof(tok), e);
	if (rc != 0)
		return rc;
	buf_init(&b, body, sizeof(body));
	rc = cred_imds_req(c, tok, "/latest/meta-data/iam/security-credentials/", &b, e);
	if (rc != 0)
		return rc;
	role = cred_trim(sv_make(body, b.len));
	if (sv_chr(role, '\n') >= 0)
		role = cred_trim(sv_sub(role, 0, (size_t)sv_chr(role, '\n')));
	if (role.n == 0 || role.n > 128 || sv_chr(role, '/') >= 0) {
		cred_note(c, "EC2 instance metadata: no instance role");
		return CRED_NONE;
	}
	snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%.*s",
	    (int)role.n, role.p);
	snprintf(src, sizeof(src), "EC2 instance metadata (IMDSv2, role %.*s)", (int)role.n,
	    role.p);
	buf_init(&b, body, sizeof(body));
	rc = cred_imds_req(c, tok, path, &b, e);
	if (rc == 0)
		rc = cred_parse_json(sv_make(body, b.len), "Token", 0, src, out, e);
	memset(body, 0, sizeof(body));
	return rc == CRED_NONE ? err_set(e, ED_EXIT_AUTH, "%s: no credentials", src) : rc;
}

/* ---- region (§7.2) ------------------------------------------------------------ */

static int
cred_region_ok(struct sv r)
{
	size_t i;

	if (r.n == 0 || r.n >= 40)
		return 0;
	for (i = 0; i < r.n; i++) {
		char ch = r.p[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
			return 0;
	}
	return 1;
}

/*
 * Settles c->region: -r, AWS_REGION, AWS_DEFAULT_REGION, the profile's
 * `region`, then IMDS placement/region (unless disabled). Missing or
 * malformed: ED_EXIT_USAGE with where it looked.
 */
static int
cred_region(struct cred_ctx *c, struct err *e)
{
	static char body[256];
	struct sv r = sv_make(NULL, 0), prof;
	const char *from = NULL;
	char tok[256];
	struct buf b;
	int rc;

	if (c->region[0])
		return 0;
	if (c->opt.region && c->opt.region[0]) {
		r = sv_z(c->opt.region);
		from = "-r/--region";
	} else if (cred_env(c, "AWS_REGION")) {
		r = sv_z(cred_env(c, "AWS_REGION"));
		from = "AWS_REGION";
	} else if (cred_env(c, "AWS_DEFAULT_REGION")) {
		r = sv_z(cred_env(c, "AWS_DEFAULT_REGION"));
		from = "AWS_DEFAULT_REGION";
	} else {
		rc = cred_load_files(c, e);
		if (rc != 0)
			return rc;
		prof = sv_z(c->profile);
		if (cred_prof_get(c, prof, "region", &r)) {
			from = "profile";
		} else if (!cred_imds_disabled(c)) {
			if (cred_imds_token(c, tok, sizeof(tok), e) == 0) {
				buf_init(&b, body, sizeof(body));
				if (cred_imds_req(c, tok, "/latest/meta-data/placement/region", &b, e) == 0) {
					r = cred_trim(sv_make(body, b.len));
					from = "EC2 instance metadata";
				}
			}
			if (e->code)
				return e->code;
		}
	}
	if (from == NULL)
		return err_set(e, ED_EXIT_USAGE, "no AWS region: give -r/--region, or set AWS_REGION "
		    "or AWS_DEFAULT_REGION, or `region` in profile %s of %s; EC2 instance metadata "
		    "%s", c->profile, c->cfg_path[0] ? c->cfg_path : "~/.aws/config",
		    cred_imds_disabled(c) ? "is disabled (AWS_EC2_METADATA_DISABLED)" :
		    "did not answer");
	if (!cred_region_ok(r))
		return err_set(e, ED_EXIT_USAGE, "region from %s is not a region name: '%.*s'", from,
		    (int)(r.n > 40 ? 40 : r.n), r.p);
	cred_copy(c->region, sizeof(c->region), r);
	if (sv_eqz(sv_z(from), "profile"))
		snprintf(c->region_source, sizeof(c->region_source), "profile %s", c->profile);
	else
		snprintf(c->region_source, sizeof(c->region_source), "%s", from);
	return 0;
}

/*
 * Called by the AWS layer before it signs: when the credentials in use
 * expire within CRED_REFRESH_AHEAD_S, resolves the chain again (through the
 * hook the resolver set). 0, or the resolver's error.
 */
static int
cred_fresh(struct cred_ctx *c, struct err *e)
{
	int64_t now = c->w->wall_now(c->w->ctx);

	if (c->have && (c->cur.expires == 0 || c->cur.expires - now > CRED_REFRESH_AHEAD_S))
		return 0;
	if (c->refresh == NULL)
		return err_set(e, ED_EXIT_AUTH, "credentials %s", c->have ? "expired" : "not resolved");
	return c->refresh(c, e);
}

/* ---- the real seams ---------------------------------------------------------- */

static int
cred_sys_read_file(void *ctx, const char *path, struct buf *out, int *errnum)
{
	char tmp[4096];
	int fd;

	(void)ctx;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		*errnum = errno;
		return -1;
	}
	for (;;) {
		ssize_t k = read(fd, tmp, sizeof(tmp));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			*errnum = errno;
			close(fd);
			return -1;
		}
		if (k == 0)
			break;
		buf_put(out, tmp, (size_t)k);
		if (out->overflow)
			break;
	}
	close(fd);
	return 0;
}

static int64_t
cred_sys_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * fork + execvp, stdout through a pipe, exec failures reported through a
 * close-on-exec pipe so "not found" is told apart from "exited 127".
 */
static int
cred_sys_run(void *ctx, char *const argv[], struct buf *out, int timeout_ms, int *status,
    int *errnum)
{
	int op[2] = { -1, -1 }, xp[2] = { -1, -1 };
	int64_t deadline = cred_sys_ms() + timeout_ms;
	int rc = 0, ws = 0, xerr = 0;
	pid_t pid;
	ssize_t k;

	(void)ctx;
	if (pipe(op) != 0 || pipe(xp) != 0) {
		*errnum = errno;
		rc = -1;
		goto out;
	}
	fcntl(xp[1], F_SETFD, FD_CLOEXEC);
	fcntl(op[0], F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid < 0) {
		*errnum = errno;
		rc = -1;
		goto out;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul >= 0)
			dup2(nul, 0);
		dup2(op[1], 1);
		close(xp[0]);
		execvp(argv[0], argv);
		xerr = errno;
		k = write(xp[1], &xerr, sizeof(xerr));
		(void)k;
		_exit(127);
	}
	close(op[1]);
	close(xp[1]);
	op[1] = xp[1] = -1;
	do {
		k = read(xp[0], &xerr, sizeof(xerr));
	} while (k < 0 && errno == EINTR);
	if (k == (ssize_t)sizeof(xerr)) {
		waitpid(pid, &ws, 0);
		*errnum = xerr;
		rc = -1;
		goto out;
	}
	for (;;) {
		struct pollfd pf;
		int64_t left = deadline - cred_sys_ms();
		char tmp[4096];
		int n;

		if (left <= 0) {
			rc = -2;
			break;
		}
		pf.fd = op[0];
		pf.events = POLLIN;
		pf.revents = 0;
		n = poll(&pf, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			rc = -2;
			break;
		}
		k = read(op[0], tmp, sizeof(tmp));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		buf_put(out, tmp, (size_t)k);
		if (out->overflow) {
			rc = -3;
			break;
		}
	}
	if (rc != 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	if (rc == 0)
		*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + (WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
out:
	if (op[0] >= 0)
		close(op[0]);
	if (op[1] >= 0)
		close(op[1]);
	if (xp[0] >= 0)
		close(xp[0]);
	if (xp[1] >= 0)
		close(xp[1]);
	return rc;
}

/* Until the HTTP client lands, the metadata sources have no road out. */
static int
cred_sys_http(void *ctx, const struct cred_http *rq, struct buf *out, int *status, struct err *e)
{
	(void)ctx;
	(void)out;
	*status = 0;
	return err_set(e, ED_EXIT_NETWORK, "%s %s: no HTTP client in this build", rq->method, rq->url);
}

static void
cred_io_system(struct cred_io *io)
{
	io->ctx = NULL;
	io->read_file = cred_sys_read_file;
	io->run = cred_sys_run;
	io->http = cred_sys_http;
}

/* Cannot fail. c is large: the caller keeps it static or on the heap. */
static void
cred_init(struct cred_ctx *c, struct world *w, struct cred_io *io, const struct cred_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->io = io;
	c->opt = *o;
	c->cfg = sv_make(c->cfg_mem, 0);
	c->crd = sv_make(c->crd_mem, 0);
	buf_init(&c->lookedb, c->looked, sizeof(c->looked));
}

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
