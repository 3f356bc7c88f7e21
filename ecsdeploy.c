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
#define ED_UNUSED __attribute__((unused))

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
 * AWS Signature Version 4 (AWS "Signature Version 4 signing process", the
 * rules for services other than S3), over BearSSL's SHA-256 and HMAC. The
 * stages are separate functions so tests can check each one against the
 * official test suite: sig_canonical_request() -> sig_string_to_sign() ->
 * sig_derive_key() + sig_signature() -> the Authorization value in sig_sign().
 *
 * Canonicalisation:
 *  - path: as sent on the request line (already percent-encoded once). Dot
 *    segments are removed and empty segments dropped ("//" collapses), a
 *    trailing '/' is kept when a segment remains; then every byte except the
 *    RFC 3986 unreserved set and '/' is percent-encoded (so "%20" becomes
 *    "%2520": the "encode twice" rule). The path must start with '/'.
 *  - query: as sent, without '?'. Split on '&' (empty pieces are no
 *    parameter), name/value split at the first '='. Each side is decoded
 *    ("%XX", and '+' as a space, as AWS servers read it) and re-encoded with
 *    only the unreserved set left bare (space is "%20"); pairs are sorted by
 *    encoded name, then encoded value.
 *  - headers: exactly the ones the caller lists (it also sends them). Names
 *    must be RFC 9110 tokens and are lowercased; values may hold any byte but
 *    CR, LF, NUL and other controls except HTAB; they are trimmed and inner
 *    runs of SP/HTAB become one space; repeated names are joined with ','
 *    in the caller's order; names are sorted. A Host header is required.
 *  - payload: hex SHA-256 of the body bytes.
 *
 * Not done here: reading a clock (the caller passes "YYYYMMDDTHHMMSSZ"),
 * adding headers (the caller lists x-amz-date and x-amz-security-token
 * itself), presigned URLs, S3's single-encoding and unsigned payloads.
 *
 * Errors (via err_set): ED_EXIT_INTERNAL for malformed requests built by our
 * own code and for "too big: ED_MAX_SIG_HEADERS / ED_MAX_SIG_QUERY /
 * ED_MAX_CANONICAL / authorization buffer"; ED_EXIT_AUTH for an unusable
 * access key id or secret; ED_EXIT_USAGE for a malformed region. Messages
 * never contain credential values or header values (§8).
 *
 * Memory: sig_sign() keeps two ED_MAX_CANONICAL buffers on the stack and no
 * other state; key material on the stack is wiped before returning.
 */

#ifndef ED_MAX_SIG_HEADERS
#define ED_MAX_SIG_HEADERS 32      /* header lines one request may sign */
#endif
#ifndef ED_MAX_SIG_QUERY
#define ED_MAX_SIG_QUERY 64        /* query parameters of one request */
#endif
#ifndef ED_MAX_CANONICAL
#define ED_MAX_CANONICAL 16384     /* bytes of a canonical request (and of its encoded query) */
#endif
#define SIG_MAX_SCOPE_PART 64      /* bytes of a region or service name */
#define SIG_MAX_AKID 128           /* bytes of an access key id */
#define SIG_ALGO "AWS4-HMAC-SHA256"

struct sig_header {
	struct sv name, value;
};

struct sig_creds {
	struct sv akid, secret, token;  /* token may be empty */
};

struct sig_req {
	struct sv method;               /* "POST" */
	struct sv path;                 /* as sent on the request line, e.g. "/" */
	struct sv query;                /* as sent, without '?', may be empty */
	const struct sig_header *hdr;   /* ALL headers to sign, any order and case */
	size_t nhdr;
	struct sv body;                 /* payload bytes */
	struct sv region, service;      /* "us-east-1", "ecs" */
};

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
static void
sig_hex(const unsigned char *d, size_t n, char *out)
{
	static const char dig[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = dig[d[i] >> 4];
		out[2 * i + 1] = dig[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Overwrites secrets on the stack; volatile so the stores are not elided. */
static void
sig_wipe(void *p, size_t n)
{
	volatile unsigned char *q = p;

	while (n-- > 0)
		*q++ = 0;
}

/* Lowercase hex SHA-256 of data, for the payload hash and x-amz-content-sha256. */
static ED_UNUSED void
sig_sha256_hex(const void *data, size_t n, char out[65])
{
	br_sha256_context h;
	unsigned char d[32];

	br_sha256_init(&h);
	br_sha256_update(&h, data, n);
	br_sha256_out(&h, d);
	sig_hex(d, 32, out);
}

/* HMAC-SHA256(key, msg) into out; any key length (BearSSL hashes long keys). */
static void
sig_hmac(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char out[32])
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, klen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, msg, mlen);
	br_hmac_out(&hc, out);
	sig_wipe(&kc, sizeof(kc));
	sig_wipe(&hc, sizeof(hc));
}

/*
 * The signing key: HMAC chain over "AWS4"+secret, date (YYYYMMDD), region,
 * service, "aws4_request". A secret of any length works: when "AWS4"+secret
 * is longer than SHA-256's 64-byte block, HMAC itself replaces the key by its
 * hash, so we hash it here incrementally instead of copying it anywhere.
 */
static void
sig_derive_key(struct sv secret, struct sv date8, struct sv region, struct sv service,
    unsigned char out[32])
{
	unsigned char k0[64], k[32];
	size_t k0len;

	if (4 + secret.n <= sizeof(k0)) {
		memcpy(k0, "AWS4", 4);
		if (secret.n)
			memcpy(k0 + 4, secret.p, secret.n);
		k0len = 4 + secret.n;
	} else {
		br_sha256_context h;

		br_sha256_init(&h);
		br_sha256_update(&h, "AWS4", 4);
		br_sha256_update(&h, secret.p, secret.n);
		br_sha256_out(&h, k0);
		sig_wipe(&h, sizeof(h));
		k0len = 32;
	}
	sig_hmac(k0, k0len, date8.p, date8.n, k);
	sig_hmac(k, 32, region.p, region.n, k);
	sig_hmac(k, 32, service.p, service.n, k);
	sig_hmac(k, 32, "aws4_request", 12, out);
	sig_wipe(k0, sizeof(k0));
	sig_wipe(k, sizeof(k));
}

/* Final stage: lowercase hex HMAC(signing key, string to sign). */
static void
sig_signature(const unsigned char key[32], struct sv sts, char out[65])
{
	unsigned char d[32];

	sig_hmac(key, 32, sts.p, sts.n, d);
	sig_hex(d, 32, out);
}

/* n decimal digits of v (0 <= v < 10^n), zero-padded, no NUL. */
static void
sig_digits(char *out, int64_t v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * "YYYYMMDDTHHMMSSZ" (UTC) for unix_time; times before 1970 or after
 * 9999-12-31T23:59:59Z are clamped to those ends. Civil date from day count
 * by the era arithmetic of the proleptic Gregorian calendar (no gmtime, so
 * no libc time zone state is touched).
 */
static ED_UNUSED void
sig_amzdate(int64_t unix_time, char out[17])
{
	int64_t t = unix_time, days, z, era, doe, yoe, y, doy, mp, d, m, sod;

	if (t < 0)
		t = 0;
	if (t > INT64_C(253402300799))
		t = INT64_C(253402300799);
	days = t / 86400;
	sod = t % 86400;
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	sig_digits(out, y, 4);
	sig_digits(out + 4, m, 2);
	sig_digits(out + 6, d, 2);
	out[8] = 'T';
	sig_digits(out + 9, sod / 3600, 2);
	sig_digits(out + 11, sod / 60 % 60, 2);
	sig_digits(out + 13, sod % 60, 2);
	out[15] = 'Z';
	out[16] = '\0';
}

/* RFC 3986 unreserved: ALPHA DIGIT - . _ ~ */
static int
sig_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 9110 tchar, the bytes of a method or header name. */
static int
sig_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
sig_is_token(struct sv s)
{
	size_t i;

	if (s.n == 0)
		return 0;
	for (i = 0; i < s.n; i++) {
		if (!sig_tchar((unsigned char)s.p[i]))
			return 0;
	}
	return 1;
}

/* A header value may hold any byte but controls other than HTAB (RFC 9110 5.5). */
static int
sig_value_ok(struct sv s)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Appends byte c, percent-encoded unless unreserved (or '/' when keep_slash). */
static void
sig_put_enc(struct buf *b, unsigned char c, int keep_slash)
{
	static const char dig[] = "0123456789ABCDEF";
	char pct[3];

	if (sig_unreserved(c) || (keep_slash && c == '/')) {
		buf_putc(b, (char)c);
		return;
	}
	pct[0] = '%';
	pct[1] = dig[c >> 4];
	pct[2] = dig[c & 15];
	buf_put(b, pct, 3);
}

static int
sig_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Appends the canonical form of one query name or value as sent: "%XX"
 * decoded (a '%' not followed by two hex digits is a literal '%'), '+'
 * decoded to a space, then everything but the unreserved set encoded.
 */
static void
sig_put_query_part(struct buf *b, struct sv s)
{
	size_t i;

	for (i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '%' && i + 2 < s.n && sig_hexval(s.p[i + 1]) >= 0 && sig_hexval(s.p[i + 2]) >= 0) {
			c = (unsigned char)(sig_hexval(s.p[i + 1]) * 16 + sig_hexval(s.p[i + 2]));
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		sig_put_enc(b, c, 0);
	}
}

/* Byte-wise order of two views, a prefix first. */
static int
sig_cmp(struct sv a, struct sv b)
{
	size_t n = a.n < b.n ? a.n : b.n;
	int c = n ? memcmp(a.p, b.p, n) : 0;

	if (c != 0)
		return c;
	return a.n < b.n ? -1 : a.n > b.n;
}

/* ASCII lowercase, independent of the C locale. */
static int
sig_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive (ASCII) order of two header names. */
static int
sig_cmp_name(struct sv a, struct sv b)
{
	size_t i, n = a.n < b.n ? a.n : b.n;

	for (i = 0; i < n; i++) {
		int x = sig_lower((unsigned char)a.p[i]), y = sig_lower((unsigned char)b.p[i]);

		if (x != y)
			return x - y;
	}
	return a.n < b.n ? -1 : a.n > b.n;
}

static int
sig_name_is(struct sv name, const char *lower)
{
	return sig_cmp_name(name, sv_z(lower)) == 0;
}

/*
 * Appends the canonical URI of path (see the section comment). Returns 0, or
 * -1 when path does not start with '/'. Overflow is left in b->overflow.
 */
static int
sig_canonical_path(struct sv path, struct buf *b)
{
	size_t start = b->len, i = 0;

	if (path.n == 0) {
		buf_putc(b, '/');
		return 0;
	}
	if (path.p[0] != '/')
		return -1;
	/* b holds "/seg1/seg2..." past start; ".." drops back to the last '/'. */
	while (i < path.n && !b->overflow) {
		size_t j = i;
		struct sv seg;

		while (j < path.n && path.p[j] != '/')
			j++;
		seg = sv_sub(path, i, j);
		i = j + 1;
		if (seg.n == 0 || sv_eqz(seg, "."))
			continue;
		if (sv_eqz(seg, "..")) {
			/* Above the root ".." stays at the root, as RFC 3986 5.2.4 says. */
			if (b->len == start)
				continue;
			while (b->len > start && b->p[b->len - 1] != '/')
				b->len--;
			b->len--;
			b->p[b->len] = '\0';
			continue;
		}
		buf_putc(b, '/');
		for (j = 0; j < seg.n; j++)
			sig_put_enc(b, (unsigned char)seg.p[j], 0);
	}
	if (b->overflow)
		return 0;
	if (b->len == start)
		buf_putc(b, '/');
	else if (path.p[path.n - 1] == '/')
		buf_putc(b, '/');
	return 0;
}

/*
 * Appends the canonical query string of query (as sent). Encoded names and
 * values are built in scratch (caller memory, ED_MAX_CANONICAL is plenty).
 * Returns 0 or an ED_EXIT_* code set in e.
 */
static int
sig_canonical_query(struct sv query, struct buf *b, struct buf *scratch, struct err *e)
{
	struct sv name[ED_MAX_SIG_QUERY], value[ED_MAX_SIG_QUERY];
	size_t np = 0, i = 0, k;

	while (i < query.n) {
		size_t j = i, from;
		struct sv part;
		long eq;

		while (j < query.n && query.p[j] != '&')
			j++;
		part = sv_sub(query, i, j);
		i = j + 1;
		if (part.n == 0)
			continue;
		if (np == ED_MAX_SIG_QUERY)
			return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_SIG_QUERY (%d query parameters)",
			    ED_MAX_SIG_QUERY);
		eq = sv_chr(part, '=');
		from = scratch->len;
		sig_put_query_part(scratch, eq < 0 ? part : sv_sub(part, 0, (size_t)eq));
		name[np] = sv_make(scratch->p + from, scratch->len - from);
		from = scratch->len;
		if (eq >= 0)
			sig_put_query_part(scratch, sv_sub(part, (size_t)eq + 1, part.n));
		value[np] = sv_make(scratch->p + from, scratch->len - from);
		if (scratch->overflow)
			return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_CANONICAL (encoded query)");
		np++;
	}
	/* Insertion sort: np is small and bounded, and equal pairs keep their order. */
	for (i = 1; i < np; i++) {
		struct sv n0 = name[i], v0 = value[i];

		for (k = i; k > 0; k--) {
			int c = sig_cmp(name[k - 1], n0);

			if (c < 0 || (c == 0 && sig_cmp(value[k - 1], v0) <= 0))
				break;
			name[k] = name[k - 1];
			value[k] = value[k - 1];
		}
		name[k] = n0;
		value[k] = v0;
	}
	for (i = 0; i < np; i++) {
		if (i > 0)
			buf_putc(b, '&');
		buf_putsv(b, name[i]);
		buf_putc(b, '=');
		buf_putsv(b, value[i]);
	}
	return 0;
}

/* Appends value with leading/trailing SP/HTAB removed and inner runs made one space. */
static void
sig_put_trimmed(struct buf *b, struct sv v)
{
	size_t i = 0, end = v.n;
	int gap = 0;

	while (i < end && (v.p[i] == ' ' || v.p[i] == '\t'))
		i++;
	while (end > i && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t'))
		end--;
	for (; i < end; i++) {
		if (v.p[i] == ' ' || v.p[i] == '\t') {
			gap = 1;
			continue;
		}
		if (gap)
			buf_putc(b, ' ');
		gap = 0;
		buf_putc(b, v.p[i]);
	}
}

static void
sig_put_lower(struct buf *b, struct sv s)
{
	size_t i;

	for (i = 0; i < s.n; i++)
		buf_putc(b, (char)sig_lower((unsigned char)s.p[i]));
}

/*
 * Writes the whole canonical request of r into creq:
 *   METHOD \n path \n query \n (name:values \n)* \n signed;headers \n payload-hash
 * scratch is working memory for the encoded query. On success *signed_headers
 * views the "a;b;c" line inside creq (valid while creq's memory is). Returns 0
 * or an ED_EXIT_* code set in e.
 */
static int
sig_canonical_request(const struct sig_req *r, struct buf *creq, struct buf *scratch,
    struct sv *signed_headers, struct err *e)
{
	size_t idx[ED_MAX_SIG_HEADERS];
	size_t i, k, sh_from;
	int have_host = 0, rc;
	char hash[65];

	if (!sig_is_token(r->method))
		return err_set(e, ED_EXIT_INTERNAL, "signing: malformed HTTP method");
	if (r->nhdr > ED_MAX_SIG_HEADERS)
		return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_SIG_HEADERS (%d headers to sign)",
		    ED_MAX_SIG_HEADERS);
	for (i = 0; i < r->nhdr; i++) {
		if (!sig_is_token(r->hdr[i].name))
			return err_set(e, ED_EXIT_INTERNAL, "signing: malformed header name (header %zu)", i);
		if (!sig_value_ok(r->hdr[i].value))
			return err_set(e, ED_EXIT_INTERNAL, "signing: control byte in the value of header %zu", i);
		if (sig_name_is(r->hdr[i].name, "host"))
			have_host = 1;
	}
	if (!have_host)
		return err_set(e, ED_EXIT_INTERNAL, "signing: no Host header among the signed headers");

	buf_putsv(creq, r->method);
	buf_putc(creq, '\n');
	if (sig_canonical_path(r->path, creq) != 0)
		return err_set(e, ED_EXIT_INTERNAL, "signing: request path does not start with '/'");
	buf_putc(creq, '\n');
	rc = sig_canonical_query(r->query, creq, scratch, e);
	if (rc != 0)
		return rc;
	buf_putc(creq, '\n');

	/* Stable insertion sort of header indexes by lowercase name. */
	for (i = 0; i < r->nhdr; i++) {
		for (k = i; k > 0 && sig_cmp_name(r->hdr[idx[k - 1]].name, r->hdr[i].name) > 0; k--)
			idx[k] = idx[k - 1];
		idx[k] = i;
	}
	for (i = 0; i < r->nhdr; i = k) {
		sig_put_lower(creq, r->hdr[idx[i]].name);
		buf_putc(creq, ':');
		for (k = i; k < r->nhdr && sig_cmp_name(r->hdr[idx[k]].name, r->hdr[idx[i]].name) == 0; k++) {
			if (k > i)
				buf_putc(creq, ',');
			sig_put_trimmed(creq, r->hdr[idx[k]].value);
		}
		buf_putc(creq, '\n');
	}
	buf_putc(creq, '\n');
	sh_from = creq->len;
	for (i = 0; i < r->nhdr; i = k) {
		if (i > 0)
			buf_putc(creq, ';');
		sig_put_lower(creq, r->hdr[idx[i]].name);
		for (k = i; k < r->nhdr && sig_cmp_name(r->hdr[idx[k]].name, r->hdr[idx[i]].name) == 0; k++)
			;
	}
	if (creq->overflow)
		return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_CANONICAL (canonical request)");
	*signed_headers = sv_make(creq->p + sh_from, creq->len - sh_from);
	buf_putc(creq, '\n');
	sig_sha256_hex(r->body.p, r->body.n, hash);
	buf_putz(creq, hash);
	if (creq->overflow)
		return err_set(e, ED_EXIT_INTERNAL, "too big: ED_MAX_CANONICAL (canonical request)");
	return 0;
}

/*
 * Writes the string to sign:
 *   AWS4-HMAC-SHA256 \n amzdate \n date/region/service/aws4_request \n hex(sha256(creq))
 * Inputs are already validated by sig_sign(); overflow is left in out.
 */
static void
sig_string_to_sign(struct sv amzdate, struct sv region, struct sv service, struct sv creq,
    struct buf *out)
{
	char hash[65];

	buf_putz(out, SIG_ALGO "\n");
	buf_putsv(out, amzdate);
	buf_putc(out, '\n');
	buf_putsv(out, sv_sub(amzdate, 0, 8));
	buf_putc(out, '/');
	buf_putsv(out, region);
	buf_putc(out, '/');
	buf_putsv(out, service);
	buf_putz(out, "/aws4_request\n");
	sig_sha256_hex(creq.p, creq.n, hash);
	buf_putz(out, hash);
}

/* "YYYYMMDDTHHMMSSZ" by shape (digits in place; the calendar is the caller's). */
static int
sig_amzdate_ok(const char *z)
{
	int i;

	if (z == NULL)
		return 0;
	for (i = 0; i < 16; i++) {
		char c = z[i];

		if (i == 8 ? c != 'T' : i == 15 ? c != 'Z' : (c < '0' || c > '9'))
			return 0;
	}
	return z[16] == '\0';
}

/* A region or service name: 1..SIG_MAX_SCOPE_PART of [a-z0-9-]. */
static int
sig_scope_part_ok(struct sv s)
{
	size_t i;

	if (s.n == 0 || s.n > SIG_MAX_SCOPE_PART)
		return 0;
	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Signs r with c at amzdate ("YYYYMMDDTHHMMSSZ", see sig_amzdate()) and
 * writes the Authorization header VALUE into authz:
 *   AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
 *   SignedHeaders=a;b;c, Signature=<64 hex>
 * Every header in r->hdr is signed, so the caller must send exactly those.
 * With a session token, r->hdr must contain x-amz-security-token carrying
 * exactly c->token (one signs what one sends); an x-amz-date header, when
 * listed, must equal amzdate. Returns 0 or an ED_EXIT_* code via err_set;
 * authz is left empty on error.
 */
static ED_UNUSED int
sig_sign(const struct sig_req *r, const struct sig_creds *c, const char *amzdate,
    struct buf *authz, struct err *e)
{
	char creq_mem[ED_MAX_CANONICAL], scratch_mem[ED_MAX_CANONICAL];
	char sts_mem[64 + 2 * SIG_MAX_SCOPE_PART + 96], sig[65];
	struct buf creq, scratch, sts;
	struct sv signed_headers, date;
	unsigned char key[32];
	size_t i, ntok = 0;
	int rc;

	if (authz->cap > 0) {
		authz->len = 0;
		authz->p[0] = '\0';
	}
	if (!sig_amzdate_ok(amzdate))
		return err_set(e, ED_EXIT_INTERNAL, "signing: timestamp is not YYYYMMDDTHHMMSSZ");
	date = sv_make(amzdate, 16);
	if (!sig_scope_part_ok(r->region))
		return err_set(e, ED_EXIT_USAGE, "invalid region name (expected lowercase letters, digits and '-')");
	if (!sig_scope_part_ok(r->service))
		return err_set(e, ED_EXIT_INTERNAL, "signing: invalid service name");
	if (c->akid.n == 0 || c->akid.n > SIG_MAX_AKID)
		return err_set(e, ED_EXIT_AUTH, "malformed AWS access key id (empty or too long)");
	for (i = 0; i < c->akid.n; i++) {
		if (!sig_unreserved((unsigned char)c->akid.p[i]) || strchr("-._~", c->akid.p[i]) != NULL)
			return err_set(e, ED_EXIT_AUTH, "malformed AWS access key id (not letters and digits)");
	}
	if (c->secret.n == 0)
		return err_set(e, ED_EXIT_AUTH, "empty AWS secret access key");
	for (i = 0; i < r->nhdr; i++) {
		if (sig_name_is(r->hdr[i].name, "x-amz-security-token")) {
			ntok++;
			if (c->token.n > 0 && !sv_eq(r->hdr[i].value, c->token))
				return err_set(e, ED_EXIT_INTERNAL,
				    "signing: x-amz-security-token header differs from the session token");
		}
		if (sig_name_is(r->hdr[i].name, "x-amz-date") && !sv_eq(r->hdr[i].value, date))
			return err_set(e, ED_EXIT_INTERNAL, "signing: x-amz-date header differs from the signing time");
	}
	if (c->token.n > 0 && ntok != 1)
		return err_set(e, ED_EXIT_INTERNAL,
		    "signing: a session token needs exactly one x-amz-security-token header");

	buf_init(&creq, creq_mem, sizeof(creq_mem));
	buf_init(&scratch, scratch_mem, sizeof(scratch_mem));
	rc = sig_canonical_request(r, &creq, &scratch, &signed_headers, e);
	if (rc != 0)
		return rc;
	buf_init(&sts, sts_mem, sizeof(sts_mem));
	sig_string_to_sign(date, r->region, r->service, sv_make(creq.p, creq.len), &sts);
	if (sts.overflow)
		return err_set(e, ED_EXIT_INTERNAL, "too big: string to sign");
	sig_derive_key(c->secret, sv_sub(date, 0, 8), r->region, r->service, key);
	sig_signature(key, sv_make(sts.p, sts.len), sig);
	sig_wipe(key, sizeof(key));

	buf_putz(authz, SIG_ALGO " Credential=");
	buf_putsv(authz, c->akid);
	buf_putc(authz, '/');
	buf_putsv(authz, sv_sub(date, 0, 8));
	buf_putc(authz, '/');
	buf_putsv(authz, r->region);
	buf_putc(authz, '/');
	buf_putsv(authz, r->service);
	buf_putz(authz, "/aws4_request, SignedHeaders=");
	buf_putsv(authz, signed_headers);
	buf_putz(authz, ", Signature=");
	buf_putz(authz, sig);
	if (authz->overflow) {
		authz->overflow = 0;
		authz->len = 0;
		if (authz->cap > 0)
			authz->p[0] = '\0';
		return err_set(e, ED_EXIT_INTERNAL, "too big: authorization buffer");
	}
	return 0;
}

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
 * Reader: jsmn (1.1.0, strict, parent links) cuts the text into tokens held in
 * caller memory; struct json_doc is the text plus its tokens, and the json_
 * functions walk it (path lookup, children, unescaped strings, numbers). The
 * text must be real JSON (RFC 8259): jsmn alone accepts things JSON does not
 * (`[1 2]`, `{"a"}`, `tru`, `01`, `1.`, raw control characters in strings,
 * several root values, anything after a NUL byte), so every byte first goes
 * through json_check_byte(), a push-style validator that also checks the UTF-8
 * inside strings and bounds the nesting depth. What passes it, jsmn tokenizes
 * the standard way; the two disagreeing is reported as an internal error.
 *
 * Incremental: json_stream_feed() takes the body as it arrives, in any split;
 * it validates the new bytes, appends them to the caller's buffer and resumes
 * jsmn over the grown buffer (jsmn restarts an unfinished string or primitive
 * from its first byte, and JSMN_ERROR_PART just means "more to come"). Feeding
 * the same text whole, byte by byte or split anywhere gives the same tokens.
 * jsmn is resumed once ED_JSON_TOKENIZE_STEP new bytes have arrived (and at
 * the end), not on every tiny feed: each resume that ends inside an open
 * object walks back over the tokens so far, so many small feeds would cost
 * O(bytes x tokens). Tests set the step to 1 to resume on every byte.
 * json_stream_finish() checks that the text ended where a value may end. A root
 * that is a bare number or literal is given its token there (jsmn strict needs
 * a delimiter after a primitive, which the end of the text is not).
 *
 * Errors (sticky, via err_set), with the stream's exit code (ED_EXIT_AWS for a
 * stream: its text is an AWS answer; ED_EXIT_USAGE for json_parse(): its text is
 * a file or a flag value; callers may set s->code after json_stream_init()):
 *   "malformed JSON at byte N: why"        N is the 0-based offset in the text
 *   "too big: ED_MAX_JSON_BYTES"           more text than the limit or buffer
 *   "too big: ED_MAX_JSON_TOKENS"          more tokens than the limit or array
 *   "too big: ED_MAX_JSON_DEPTH"           deeper nesting than the limit
 *
 * Strings: json_str() unescapes \" \\ \/ \b \f \n \r \t and \uXXXX, joins a
 * surrogate pair into one code point and writes UTF-8. A lone or misordered
 * surrogate (\uD800 alone, \uDC00 first) becomes U+FFFD: AWS text is echoed back
 * to people, and one odd character must not fail a deployment.
 *
 * Writer: struct jw appends JSON to a struct buf and puts the commas and colons
 * itself. Strings are escaped: '"' and '\' with a backslash, every byte below
 * 0x20 as \u00XX; valid UTF-8 is copied as is; each byte that does not start a
 * valid UTF-8 sequence (stray continuation, overlong form, surrogate, above
 * U+10FFFF, cut short) becomes U+FFFD, one per byte, so output is always valid
 * JSON and the same input always gives the same output. jw_raw() copies text
 * that is already JSON (a subtree from json_span()) byte for byte. Overflow of
 * the buf, nesting deeper than the writer's stack or a jw_end() too many set the
 * buf's overflow flag; the caller checks it once at the end.
 */

#ifndef ED_MAX_JSON_BYTES
#define ED_MAX_JSON_BYTES (4 * 1024 * 1024)  /* bytes of one JSON text (answer, file) */
#endif
#ifndef ED_MAX_JSON_TOKENS
#define ED_MAX_JSON_TOKENS 131072            /* jsmn tokens of one JSON text */
#endif
#ifndef ED_MAX_JSON_DEPTH
#define ED_MAX_JSON_DEPTH 64                 /* nesting of arrays and objects */
#endif
#ifndef ED_JSON_TOKENIZE_STEP
#define ED_JSON_TOKENIZE_STEP 4096           /* resume jsmn once this many bytes are new */
#endif

struct json_doc {
	const char *js;     /* the text; owned by the caller */
	size_t len;
	jsmntok_t *tok;     /* tok[0] is the root; preorder; owned by the caller */
	int ntok;
};

/* Validator states (json_check_byte). */
enum {
	JV_VALUE,        /* a value must come (root, after ':' or after ',' in an array) */
	JV_VALUE_OR_END, /* just after '[' */
	JV_KEY_OR_END,   /* just after '{' */
	JV_KEY,          /* after ',' in an object */
	JV_COLON,        /* after a key */
	JV_AFTER,        /* after a value */
	JV_STR,          /* inside a string */
	JV_ESC,          /* after a backslash */
	JV_HEX,          /* inside \uXXXX; aux = digits seen */
	JV_UTF8,         /* inside a multi-byte character; aux = bytes still due */
	JV_MINUS,        /* number: after '-' */
	JV_ZERO,         /* number: a leading 0 */
	JV_INT,          /* number: integer digits */
	JV_DOT,          /* number: after '.' */
	JV_FRAC,         /* number: fraction digits */
	JV_E,            /* number: after 'e' */
	JV_ESIGN,        /* number: after the exponent's sign */
	JV_EXP,          /* number: exponent digits */
	JV_LIT           /* true/false/null; lit, aux = bytes matched */
};

struct json_stream {
	const char *js;          /* the text so far */
	char *wbuf;              /* where fed bytes are appended (NULL for json_parse) */
	size_t cap;              /* usable bytes of wbuf */
	size_t len;              /* bytes of text so far */
	jsmntok_t *tok;
	unsigned cap_tok;
	jsmn_parser p;
	int code;                /* exit code of failures; ED_EXIT_AWS after init */
	int rc;                  /* sticky: 0 or the code of the first failure */
	/* validator */
	int st, in_key, roots;
	unsigned aux, depth;
	unsigned char lo, hi;    /* range of the next UTF-8 continuation byte */
	const char *lit;
	unsigned char stack[(ED_MAX_JSON_DEPTH + 7) / 8];  /* 1 bit per level: object */
};

static void
json_stream_init(struct json_stream *s, char *buf, size_t cap, jsmntok_t *tok, unsigned cap_tok)
{
	memset(s, 0, sizeof(*s));
	s->js = buf;
	s->wbuf = buf;
	s->cap = cap;
	s->tok = tok;
	s->cap_tok = cap_tok;
	s->code = ED_EXIT_AWS;
	s->st = JV_VALUE;
	jsmn_init(&s->p);
}

static int
json_fail(struct json_stream *s, struct err *e, size_t at, const char *why)
{
	s->rc = s->code;
	return err_set(e, s->code, "malformed JSON at byte %zu: %s", at, why);
}

static int
json_toobig(struct json_stream *s, struct err *e, const char *limit)
{
	s->rc = s->code;
	return err_set(e, s->code, "too big: %s", limit);
}

static int
json_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
json_is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
json_top_is_obj(const struct json_stream *s)
{
	unsigned d = s->depth - 1;

	return (s->stack[d / 8] >> (d % 8)) & 1;
}

/*
 * Pushes one byte through the validator. Returns NULL, or why the byte cannot
 * be here (or "too big: ..." when the depth limit is hit; the caller tells the
 * two apart by the prefix).
 */
static const char *
json_check_byte(struct json_stream *s, unsigned char c)
{
again:
	switch (s->st) {
	case JV_VALUE:
	case JV_VALUE_OR_END:
		if (json_is_ws(c))
			return NULL;
		if (s->st == JV_VALUE_OR_END && c == ']') {
			s->depth--;
			s->st = JV_AFTER;
			return NULL;
		}
		if (s->depth == 0)
			s->roots++;
		if (c == '{' || c == '[') {
			unsigned d = s->depth;

			if (d >= ED_MAX_JSON_DEPTH)
				return "too big: ED_MAX_JSON_DEPTH";
			if (c == '{')
				s->stack[d / 8] |= (unsigned char)(1u << (d % 8));
			else
				s->stack[d / 8] &= (unsigned char)~(1u << (d % 8));
			s->depth++;
			s->st = c == '{' ? JV_KEY_OR_END : JV_VALUE_OR_END;
		} else if (c == '"') {
			s->in_key = 0;
			s->st = JV_STR;
		} else if (c == '-') {
			s->st = JV_MINUS;
		} else if (c == '0') {
			s->st = JV_ZERO;
		} else if (c >= '1' && c <= '9') {
			s->st = JV_INT;
		} else if (c == 't' || c == 'f' || c == 'n') {
			s->lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
			s->aux = 1;
			s->st = JV_LIT;
		} else {
			return "expected a value";
		}
		return NULL;
	case JV_KEY_OR_END:
	case JV_KEY:
		if (json_is_ws(c))
			return NULL;
		if (s->st == JV_KEY_OR_END && c == '}') {
			s->depth--;
			s->st = JV_AFTER;
			return NULL;
		}
		if (c != '"')
			return "expected a member name in double quotes";
		s->in_key = 1;
		s->st = JV_STR;
		return NULL;
	case JV_COLON:
		if (json_is_ws(c))
			return NULL;
		if (c != ':')
			return "expected ':' after a member name";
		s->st = JV_VALUE;
		return NULL;
	case JV_AFTER:
		if (json_is_ws(c))
			return NULL;
		if (s->depth == 0)
			return "unexpected data after the JSON value";
		if (c == ',') {
			s->st = json_top_is_obj(s) ? JV_KEY : JV_VALUE;
			return NULL;
		}
		if (c == (json_top_is_obj(s) ? '}' : ']')) {
			s->depth--;
			return NULL;
		}
		return json_top_is_obj(s) ? "expected ',' or '}'" : "expected ',' or ']'";
	case JV_STR:
		if (c == '"') {
			s->st = s->in_key ? JV_COLON : JV_AFTER;
		} else if (c == '\\') {
			s->st = JV_ESC;
		} else if (c < 0x20) {
			return "control character in a string (must be escaped)";
		} else if (c >= 0x80) {
			s->lo = 0x80;
			s->hi = 0xBF;
			if (c >= 0xC2 && c <= 0xDF) {
				s->aux = 1;
			} else if (c >= 0xE0 && c <= 0xEF) {
				s->aux = 2;
				if (c == 0xE0)
					s->lo = 0xA0;      /* no overlong forms */
				if (c == 0xED)
					s->hi = 0x9F;      /* no surrogates */
			} else if (c >= 0xF0 && c <= 0xF4) {
				s->aux = 3;
				if (c == 0xF0)
					s->lo = 0x90;
				if (c == 0xF4)
					s->hi = 0x8F;      /* nothing above U+10FFFF */
			} else {
				return "invalid UTF-8 in a string";
			}
			s->st = JV_UTF8;
		}
		return NULL;
	case JV_UTF8:
		if (c < s->lo || c > s->hi)
			return "invalid UTF-8 in a string";
		s->lo = 0x80;
		s->hi = 0xBF;
		if (--s->aux == 0)
			s->st = JV_STR;
		return NULL;
	case JV_ESC:
		if (c == 'u') {
			s->aux = 0;
			s->st = JV_HEX;
		} else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
		    c == 'n' || c == 'r' || c == 't') {
			s->st = JV_STR;
		} else {
			return "invalid escape in a string";
		}
		return NULL;
	case JV_HEX:
		if (!json_is_hex(c))
			return "\\u needs four hex digits";
		if (++s->aux == 4)
			s->st = JV_STR;
		return NULL;
	case JV_MINUS:
		if (c == '0')
			s->st = JV_ZERO;
		else if (c >= '1' && c <= '9')
			s->st = JV_INT;
		else
			return "expected a digit after '-'";
		return NULL;
	case JV_ZERO:
	case JV_INT:
		if (c >= '0' && c <= '9') {
			if (s->st == JV_ZERO)
				return "leading zero in a number";
			return NULL;
		}
		if (c == '.') {
			s->st = JV_DOT;
			return NULL;
		}
		if (c == 'e' || c == 'E') {
			s->st = JV_E;
			return NULL;
		}
		s->st = JV_AFTER;
		goto again;
	case JV_DOT:
		if (c < '0' || c > '9')
			return "expected a digit after '.'";
		s->st = JV_FRAC;
		return NULL;
	case JV_FRAC:
		if (c >= '0' && c <= '9')
			return NULL;
		if (c == 'e' || c == 'E') {
			s->st = JV_E;
			return NULL;
		}
		s->st = JV_AFTER;
		goto again;
	case JV_E:
		if (c == '+' || c == '-') {
			s->st = JV_ESIGN;
			return NULL;
		}
		/* fall through */
	case JV_ESIGN:
		if (c < '0' || c > '9')
			return "expected a digit in the exponent";
		s->st = JV_EXP;
		return NULL;
	case JV_EXP:
		if (c >= '0' && c <= '9')
			return NULL;
		s->st = JV_AFTER;
		goto again;
	case JV_LIT:
		if (c != (unsigned char)s->lit[s->aux])
			return "invalid literal (true, false or null expected)";
		if (s->lit[++s->aux] == '\0')
			s->st = JV_AFTER;
		return NULL;
	}
	return "internal validator state";
}

/* Validates n new bytes p, which start at text offset base. */
static int
json_check(struct json_stream *s, const char *p, size_t n, size_t base, struct err *e)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *why = json_check_byte(s, (unsigned char)p[i]);

		if (why == NULL && s->roots > 1)
			why = "unexpected data after the JSON value";
		if (why != NULL) {
			if (strncmp(why, "too big: ", 9) == 0)
				return json_toobig(s, e, why + 9);
			return json_fail(s, e, base + i, why);
		}
	}
	return 0;
}

/* Resumes jsmn over the text so far. PART is not an error: more may come. */
static int
json_tokenize(struct json_stream *s, struct err *e)
{
	unsigned cap = s->cap_tok < ED_MAX_JSON_TOKENS ? s->cap_tok : ED_MAX_JSON_TOKENS;
	int r = jsmn_parse(&s->p, s->js, s->len, s->tok, cap);

	if (r == JSMN_ERROR_NOMEM)
		return json_toobig(s, e, "ED_MAX_JSON_TOKENS");
	if (r == JSMN_ERROR_INVAL) {
		s->rc = ED_EXIT_INTERNAL;
		return err_set(e, ED_EXIT_INTERNAL, "JSON tokenizer rejected validated text at byte %u",
		    s->p.pos);
	}
	return 0;
}

/*
 * Adds n bytes of text. p may point at the stream's buffer end (a reader that
 * received straight into it). Returns 0, or the stream's code with the error
 * recorded in e; after a failure every call returns the same code.
 */
ED_UNUSED static int
json_stream_feed(struct json_stream *s, const char *p, size_t n, struct err *e)
{
	size_t room = s->cap < ED_MAX_JSON_BYTES ? s->cap : ED_MAX_JSON_BYTES;

	if (s->rc != 0)
		return s->rc;
	if (n > room - s->len)
		return json_toobig(s, e, "ED_MAX_JSON_BYTES");
	if (json_check(s, p, n, s->len, e) != 0)
		return s->rc;
	if (n > 0)
		memmove(s->wbuf + s->len, p, n);
	s->len += n;
	if (s->len - s->p.pos < ED_JSON_TOKENIZE_STEP)
		return 0;
	return json_tokenize(s, e);
}

/*
 * Ends the text: it must hold exactly one complete value. On success *doc
 * describes it (views of the stream's buffer and tokens, valid while they are).
 */
static int
json_stream_finish(struct json_stream *s, struct json_doc *doc, struct err *e)
{
	memset(doc, 0, sizeof(*doc));
	if (s->rc != 0)
		return s->rc;
	if (json_tokenize(s, e) != 0)
		return s->rc;
	/* A number at the very end is complete when its digits are. */
	if (s->depth == 0 && (s->st == JV_ZERO || s->st == JV_INT || s->st == JV_FRAC ||
	    s->st == JV_EXP))
		s->st = JV_AFTER;
	if (s->st != JV_AFTER || s->depth != 0 || s->roots != 1)
		return json_fail(s, e, s->len, "unexpected end of the text");
	if (s->p.toknext == 0) {
		/* A bare root primitive: jsmn strict waits for a delimiter that never comes. */
		size_t a = 0, b = s->len;

		while (a < b && json_is_ws((unsigned char)s->js[a]))
			a++;
		while (b > a && json_is_ws((unsigned char)s->js[b - 1]))
			b--;
		if (s->cap_tok == 0)
			return json_toobig(s, e, "ED_MAX_JSON_TOKENS");
		s->tok[0].type = JSMN_PRIMITIVE;
		s->tok[0].start = (int)a;
		s->tok[0].end = (int)b;
		s->tok[0].size = 0;
		s->tok[0].parent = -1;
		s->p.toknext = 1;
	}
	doc->js = s->js;
	doc->len = s->len;
	doc->tok = s->tok;
	doc->ntok = (int)s->p.toknext;
	return 0;
}

/*
 * Parses a whole text that stays in the caller's memory (not copied). Failures
 * carry ED_EXIT_USAGE: this is the road for files and flag values.
 */
ED_UNUSED static int
json_parse(struct json_doc *d, const char *js, size_t len, jsmntok_t *tok, unsigned cap_tok,
    struct err *e)
{
	struct json_stream s;

	json_stream_init(&s, NULL, 0, tok, cap_tok);
	s.code = ED_EXIT_USAGE;
	s.js = js;
	memset(d, 0, sizeof(*d));
	if (len > ED_MAX_JSON_BYTES)
		return json_toobig(&s, e, "ED_MAX_JSON_BYTES");
	if (json_check(&s, js, len, 0, e) != 0)
		return s.rc;
	s.len = len;
	return json_stream_finish(&s, d, e);
}

/* Index just after tok's whole subtree (a key's subtree is the key alone). */
static int
json_next(const struct json_doc *d, int tok)
{
	int i, end;

	if (tok < 0 || tok >= d->ntok)
		return -1;
	end = d->tok[tok].end;
	for (i = tok + 1; i < d->ntok && d->tok[i].start < end; i++)
		;
	return i;
}

/*
 * The i-th element of an array, or the i-th KEY of an object (its value is the
 * next token), or -1.
 */
static int
json_child(const struct json_doc *d, int tok, int i)
{
	int c, k;

	if (tok < 0 || tok >= d->ntok || i < 0 || i >= d->tok[tok].size)
		return -1;
	if (d->tok[tok].type != JSMN_ARRAY && d->tok[tok].type != JSMN_OBJECT)
		return -1;
	c = tok + 1;
	for (k = 0; k < i; k++) {
		c = json_next(d, c);
		if (d->tok[tok].type == JSMN_OBJECT)
			c = json_next(d, c);
	}
	return c;
}

/* Exact bytes of tok; a string without its quotes (still escaped). */
static struct sv
json_raw(const struct json_doc *d, int tok)
{
	if (tok < 0 || tok >= d->ntok)
		return sv_make(NULL, 0);
	return sv_make(d->js + d->tok[tok].start, (size_t)(d->tok[tok].end - d->tok[tok].start));
}

/* Exact bytes of tok's whole JSON value, a string with its quotes: for jw_raw(). */
static struct sv
json_span(const struct json_doc *d, int tok)
{
	struct sv r = json_raw(d, tok);

	if (r.p != NULL && d->tok[tok].type == JSMN_STRING)
		r = sv_make(r.p - 1, r.n + 2);
	return r;
}

static unsigned
json_hex4(const char *p)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else
			v |= (unsigned)(c - 'A' + 10);
	}
	return v;
}

/* Writes code point cp as UTF-8 into out; returns the length. */
static size_t
json_utf8_put(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Decodes the unit of validated string bytes r at *i (one byte, or one escape
 * with a following low surrogate when it pairs) into out; advances *i and
 * returns the number of bytes written (1..4).
 */
static size_t
json_unescape_one(struct sv r, size_t *i, char out[4])
{
	unsigned cp, lo;
	char c;

	if (r.p[*i] != '\\' || *i + 1 >= r.n) {
		out[0] = r.p[(*i)++];
		return 1;
	}
	c = r.p[*i + 1];
	*i += 2;
	switch (c) {
	case 'b': out[0] = '\b'; return 1;
	case 'f': out[0] = '\f'; return 1;
	case 'n': out[0] = '\n'; return 1;
	case 'r': out[0] = '\r'; return 1;
	case 't': out[0] = '\t'; return 1;
	case 'u': break;
	default: out[0] = c; return 1;  /* " \ / */
	}
	if (*i + 4 > r.n)
		return json_utf8_put(0xFFFD, out);
	cp = json_hex4(r.p + *i);
	*i += 4;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return json_utf8_put(0xFFFD, out);      /* a low surrogate first */
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (*i + 6 > r.n || r.p[*i] != '\\' || r.p[*i + 1] != 'u')
			return json_utf8_put(0xFFFD, out);  /* high surrogate alone */
		lo = json_hex4(r.p + *i + 2);
		if (lo < 0xDC00 || lo > 0xDFFF)
			return json_utf8_put(0xFFFD, out);  /* the next \u is decoded on its own */
		*i += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return json_utf8_put(cp, out);
}

/* Appends the unescaped UTF-8 value of string token tok to out. 0, or -1 when
 * tok is not a string or out overflowed. */
static int
json_str(const struct json_doc *d, int tok, struct buf *out)
{
	struct sv r;
	size_t i = 0;

	if (tok < 0 || tok >= d->ntok || d->tok[tok].type != JSMN_STRING)
		return -1;
	r = json_raw(d, tok);
	while (i < r.n) {
		char u[4];
		size_t k = json_unescape_one(r, &i, u);

		buf_put(out, u, k);
	}
	return out->overflow ? -1 : 0;
}

/* 1 when tok is a string whose unescaped value is exactly s. */
static int
json_eq_sv(const struct json_doc *d, int tok, struct sv s)
{
	struct sv r;
	size_t i = 0, at = 0;

	if (tok < 0 || tok >= d->ntok || d->tok[tok].type != JSMN_STRING)
		return 0;
	r = json_raw(d, tok);
	if (sv_chr(r, '\\') < 0)
		return sv_eq(r, s);
	while (i < r.n) {
		char u[4];
		size_t k = json_unescape_one(r, &i, u);

		if (k > s.n - at || memcmp(u, s.p + at, k) != 0)
			return 0;
		at += k;
	}
	return at == s.n;
}

static int
json_eq(const struct json_doc *d, int tok, const char *z)
{
	return json_eq_sv(d, tok, sv_z(z));
}

/* The value of member key in object tok, or -1 (the first one if repeated). */
static int
json_member(const struct json_doc *d, int tok, struct sv key)
{
	int i, k;

	if (tok < 0 || tok >= d->ntok || d->tok[tok].type != JSMN_OBJECT)
		return -1;
	k = tok + 1;
	for (i = 0; i < d->tok[tok].size; i++) {
		if (json_eq_sv(d, k, key))
			return k + 1;
		k = json_next(d, json_next(d, k));
	}
	return -1;
}

/*
 * Follows a dotted path from token from (0 = the root): object members by name,
 * array elements by decimal index, e.g. "services.0.deployments". A member name
 * that contains '.' cannot be named this way; use json_member(). Returns the
 * token index or -1.
 */
ED_UNUSED static int
json_get(const struct json_doc *d, int from, const char *path)
{
	struct sv p = sv_z(path);
	int t = from;

	if (d->ntok == 0 || t < 0 || t >= d->ntok)
		return -1;
	while (p.n > 0) {
		long dot = sv_chr(p, '.');
		struct sv c = dot < 0 ? p : sv_sub(p, 0, (size_t)dot);
		long idx;

		if (d->tok[t].type == JSMN_OBJECT) {
			t = json_member(d, t, c);
		} else if (d->tok[t].type == JSMN_ARRAY &&
		    sv_to_long(c, 0, INT_MAX, &idx) == 0) {
			t = json_child(d, t, (int)idx);
		} else {
			return -1;
		}
		if (t < 0)
			return -1;
		p = dot < 0 ? sv_make(p.p + p.n, 0) : sv_sub(p, (size_t)dot + 1, p.n);
	}
	return t;
}

/* An integer number token (no fraction, no exponent) that fits a long. 0 or -1. */
ED_UNUSED static int
json_long(const struct json_doc *d, int tok, long *out)
{
	if (tok < 0 || tok >= d->ntok || d->tok[tok].type != JSMN_PRIMITIVE)
		return -1;
	return sv_to_long(json_raw(d, tok), LONG_MIN + 1, LONG_MAX, out);
}

/* Any number token as a double (AWS timestamps are fractional seconds). 0 or -1. */
ED_UNUSED static int
json_double(const struct json_doc *d, int tok, double *out)
{
	struct sv r = json_raw(d, tok);
	char tmp[64];
	char *end;

	if (r.p == NULL || d->tok[tok].type != JSMN_PRIMITIVE || r.n == 0 || r.n >= sizeof(tmp))
		return -1;
	if (r.p[0] != '-' && (r.p[0] < '0' || r.p[0] > '9'))
		return -1;
	memcpy(tmp, r.p, r.n);
	tmp[r.n] = '\0';
	*out = strtod(tmp, &end);
	return *end == '\0' ? 0 : -1;
}

/* ---- writer ---- */

#define JW_MAX_DEPTH 64   /* the size of struct jw's first[]; fixed by the API */
#define JW_FIRST 1        /* first[] bits: nothing written at this level yet */
#define JW_ARRAY 2        /*               this level is an array */

struct jw {
	struct buf *b;
	int depth;
	unsigned char first[JW_MAX_DEPTH];
	int key_pending;      /* a key was written; its value needs no comma */
};

ED_UNUSED static void
jw_init(struct jw *w, struct buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* The comma before a value or key, when one is due. */
static void
jw_sep(struct jw *w)
{
	if (w->key_pending) {
		w->key_pending = 0;
		return;
	}
	if (w->depth > 0) {
		if (!(w->first[w->depth] & JW_FIRST))
			buf_putc(w->b, ',');
		w->first[w->depth] &= (unsigned char)~JW_FIRST;
	}
}

static void
jw_open(struct jw *w, char c, unsigned char kind)
{
	jw_sep(w);
	if (w->depth + 1 >= JW_MAX_DEPTH) {
		w->b->overflow = 1;
		return;
	}
	buf_putc(w->b, c);
	w->depth++;
	w->first[w->depth] = (unsigned char)(JW_FIRST | kind);
}

static void
jw_obj(struct jw *w)
{
	jw_open(w, '{', 0);
}

static void
jw_arr(struct jw *w)
{
	jw_open(w, '[', JW_ARRAY);
}

static void
jw_end(struct jw *w)
{
	if (w->depth <= 0) {
		w->b->overflow = 1;
		return;
	}
	buf_putc(w->b, (w->first[w->depth] & JW_ARRAY) ? ']' : '}');
	w->depth--;
	w->key_pending = 0;
}

/*
 * Length of the valid UTF-8 sequence at p (1..4; n bytes available), or 0 when
 * p[0] does not start one (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF).
 */
static size_t
utf8_valid_len(const unsigned char *p, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;
		if (p[0] == 0xED)
			hi = 0x9F;
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		if (p[0] == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
	}
	return len;
}

/* The quoted, escaped form of s (see the section comment). */
static void
jw_quoted(struct buf *b, struct sv s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.p;
	size_t i = 0, run = 0;

	buf_putc(b, '"');
	while (i < s.n) {
		size_t k = utf8_valid_len(p + i, s.n - i);

		if (k > 0 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\') {
			i += k;
			run += k;
			continue;
		}
		buf_put(b, p + i - run, run);   /* the plain bytes before this one */
		run = 0;
		if (k == 0) {
			buf_put(b, "\xEF\xBF\xBD", 3);
		} else if (p[i] == '"' || p[i] == '\\') {
			char esc[2];

			esc[0] = '\\';
			esc[1] = (char)p[i];
			buf_put(b, esc, 2);
		} else {
			char u[6];

			memcpy(u, "\\u00", 4);
			u[4] = hex[p[i] >> 4];
			u[5] = hex[p[i] & 15];
			buf_put(b, u, 6);
		}
		i++;
	}
	buf_put(b, p + i - run, run);
	buf_putc(b, '"');
}

static void
jw_key_sv(struct jw *w, struct sv k)
{
	jw_sep(w);
	jw_quoted(w->b, k);
	buf_putc(w->b, ':');
	w->key_pending = 1;
}

static void
jw_key(struct jw *w, const char *k)
{
	jw_key_sv(w, sv_z(k));
}

/* A key whose bytes are already escaped JSON string content (json_raw of a key). */
static void
jw_key_raw(struct jw *w, struct sv raw)
{
	jw_sep(w);
	buf_putc(w->b, '"');
	buf_putsv(w->b, raw);
	buf_putz(w->b, "\":");
	w->key_pending = 1;
}

static void
jw_str(struct jw *w, struct sv s)
{
	jw_sep(w);
	jw_quoted(w->b, s);
}

ED_UNUSED static void
jw_strz(struct jw *w, const char *z)
{
	jw_str(w, sv_z(z));
}

ED_UNUSED static void
jw_long(struct jw *w, long v)
{
	char t[24];

	jw_sep(w);
	snprintf(t, sizeof(t), "%ld", v);
	buf_putz(w->b, t);
}

ED_UNUSED static void
jw_bool(struct jw *w, int v)
{
	jw_sep(w);
	buf_putz(w->b, v ? "true" : "false");
}

/* Text that is already valid JSON (e.g. json_span()), copied byte for byte. */
static void
jw_raw(struct jw *w, struct sv json)
{
	jw_sep(w);
	buf_putsv(w->b, json);
}

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

/*
 * Writes the normalised name of im (registry and repository, no tag or digest)
 * into out, for comparing (§4.2): no registry, "docker.io", "index.docker.io"
 * and "registry-1.docker.io" all become "docker.io"; a one-component path on
 * Docker Hub gets "library/"; the host is lowercased (host names are not case
 * sensitive; paths are, and are lowercase by the grammar anyway).
 */
static void
img_normal_name(const struct img *im, struct buf *out)
{
	struct sv r = im->registry;
	int hub = r.n == 0;
	size_t i;

	if (!hub) {
		char low[64];

		if (r.n < sizeof(low)) {
			for (i = 0; i < r.n; i++)
				low[i] = (char)tolower((unsigned char)r.p[i]);
			r = sv_make(low, r.n);
			hub = sv_eqz(r, "docker.io") || sv_eqz(r, "index.docker.io") ||
			    sv_eqz(r, "registry-1.docker.io");
		}
	}
	if (hub) {
		buf_putz(out, "docker.io/");
		if (sv_chr(im->path, '/') < 0)
			buf_putz(out, "library/");
	} else {
		for (i = 0; i < im->registry.n; i++)
			buf_putc(out, (char)tolower((unsigned char)im->registry.p[i]));
		buf_putc(out, '/');
	}
	buf_putsv(out, im->path);
}

/*
 * 1 when references a and b name the same repository (same normalised registry
 * and path, whatever their tags or digests), else 0; a reference that does not
 * parse matches nothing.
 */
static int
img_same_repo(struct sv a, struct sv b)
{
	struct img ia, ib;
	char ma[4200], mb[4200];
	struct buf ba, bb;

	if (img_parse(a, &ia) != 0 || img_parse(b, &ib) != 0)
		return 0;
	buf_init(&ba, ma, sizeof(ma));
	buf_init(&bb, mb, sizeof(mb));
	img_normal_name(&ia, &ba);
	img_normal_name(&ib, &bb);
	return !ba.overflow && !bb.overflow && ba.len == bb.len && memcmp(ma, mb, ba.len) == 0;
}

/* ===== 13. Task definitions =============================================== */
/*
 * Lossless clone of a task definition (§3) with the image edits of §4.2–§4.4.
 *
 * td_locate() finds the task definition in any of the three shapes of §3.3:
 * a DescribeTaskDefinition answer {"taskDefinition": {...}, "tags": [...]}, a
 * plain task-definition object, or RegisterTaskDefinition input (which may
 * carry "tags" among its members).
 *
 * td_clone() writes the RegisterTaskDefinition request body: an object with
 * every member of the base, in the base's order, each value copied byte for
 * byte (numbers as written, strings with their escapes, members AWS adds in
 * future), except the output-only members of td_output_only[] and "tags".
 * Nothing is added but the new images and, when asked (copy_tags), the base's
 * tags. Only "image" values of containers change; every other byte of a
 * container is copied. Whitespace between the members of the task definition
 * and of its containers is not kept (the body is compact there).
 *
 * Image edits, decided per container before anything is written:
 *   -to TAG (edit->tag_only): every container, or those named in the comma list
 *     edit->tag_only_names, gets [registry[:port]/]path:TAG spelled as its image
 *     was; a digest-pinned image is left as is (how = TD_PINNED, the caller
 *     warns), an image that does not parse too (TD_UNPARSED). -i is ignored.
 *   -i REF (edit->image, otherwise): every container whose current image names
 *     the same repository (img_same_repo: registry and path after normalisation,
 *     any tag or digest or none) gets REF as given; ch->matched counts them.
 *   --container-image NAME=IMAGE (applied last, the last one for a name wins):
 *     container NAME gets IMAGE as given. A NAME no container has is an error
 *     (ED_EXIT_NO_MATCH), so a typo does not deploy nothing.
 * Zero matches of -i is not an error here: the caller decides (exit 14 unless
 * --allow-no-match; td_no_match() records that error, listing ch->c[], every
 * container with its image). ch->c[] also gives the log lines: for each
 * container with `changed`, "Container NAME: OLD -> NEW"; TD_PINNED and
 * TD_UNPARSED are the -to warnings.
 *
 * Image strings are unescaped for matching and written escaped by jw_str().
 * Errors: ED_EXIT_USAGE when the base is not a task definition; "too big:
 * ED_MAX_TD_CONTAINERS" / "too big: ED_MAX_TD_TEXT"; the output buffer's
 * overflow as "too big: ED_MAX_JSON_BYTES (RegisterTaskDefinition request)".
 */

#ifndef ED_MAX_TD_CONTAINERS
#define ED_MAX_TD_CONTAINERS 64   /* containers of one task definition (ECS allows 10) */
#endif
#ifndef ED_MAX_TD_TEXT
#define ED_MAX_TD_TEXT 32768      /* bytes of container names and images kept for reports */
#endif

/* Members RegisterTaskDefinition does not take: DescribeTaskDefinition's output only. */
static const char *const td_output_only[] = {
	"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
	"registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt",
};

struct td_edit {
	const char *image;            /* -i reference to write (tag from -e / "latest" applied), or NULL */
	const char *tag_only;         /* -to TAG, or NULL */
	const char *tag_only_names;   /* -toc "a,b" (with -to only these containers), or NULL */
	const char *const *container_images;  /* --container-image values, "NAME=IMAGE" */
	int n_container_images;
};

enum td_how {
	TD_SAME = 0,     /* no edit applies to this container */
	TD_BY_IMAGE,     /* its image matched -i */
	TD_BY_NAME,      /* --container-image named it */
	TD_BY_TAG,       /* -to retagged it */
	TD_PINNED,       /* -to applies but the image is digest-pinned: left as is */
	TD_UNPARSED      /* -to applies but the image does not parse: left as is */
};

struct td_container {
	struct sv name;       /* unescaped; "" when absent */
	struct sv old_image;  /* unescaped; "" when absent */
	struct sv new_image;  /* what is written (== old_image when how is not a change) */
	enum td_how how;
	int changed;          /* new_image differs from old_image: the image member is rewritten */
};

/*
 * What td_clone() decided, for the log lines and the exit-14 listing. The views
 * point into text[] (or into edit's strings), so the struct must not be copied;
 * it lives as long as the caller keeps it.
 */
struct td_changes {
	struct td_container c[ED_MAX_TD_CONTAINERS];
	int n;                /* containers in the task definition */
	int matched;          /* of them, matched by -i */
	char text[ED_MAX_TD_TEXT];
	struct buf tb;
};

/*
 * Finds the task definition object (*td_tok) and the tags array (*tags_tok,
 * -1 when none) in d, whatever its shape (see the section comment). Returns 0,
 * or -1 when the root is not an object or "taskDefinition" is not one.
 */
ED_UNUSED static int
td_locate(const struct json_doc *d, int *td_tok, int *tags_tok)
{
	int t, tags;

	*td_tok = -1;
	*tags_tok = -1;
	if (d->ntok == 0 || d->tok[0].type != JSMN_OBJECT)
		return -1;
	t = json_member(d, 0, sv_z("taskDefinition"));
	if (t >= 0 && d->tok[t].type != JSMN_OBJECT)
		return -1;
	if (t < 0)
		t = 0;
	tags = json_member(d, 0, sv_z("tags"));
	if (tags >= 0 && d->tok[tags].type == JSMN_ARRAY)
		*tags_tok = tags;
	*td_tok = t;
	return 0;
}

/* Keeps the unescaped string tok in ch->text; "" when tok is not a string. */
static struct sv
td_keep(struct td_changes *ch, const struct json_doc *d, int tok)
{
	size_t at = ch->tb.len;

	if (tok < 0 || d->tok[tok].type != JSMN_STRING || json_str(d, tok, &ch->tb) != 0)
		return sv_make(ch->text + at, 0);
	return sv_make(ch->text + at, ch->tb.len - at);
}

/* 1 when name is one of the comma-separated names in list. */
static int
td_in_list(const char *list, struct sv name)
{
	struct sv l = sv_z(list);

	while (l.n > 0) {
		long c = sv_chr(l, ',');
		struct sv one = c < 0 ? l : sv_sub(l, 0, (size_t)c);

		if (sv_eq(one, name))
			return 1;
		if (c < 0)
			break;
		l = sv_sub(l, (size_t)c + 1, l.n);
	}
	return 0;
}

/* -to: [registry/]path:TAG spelled as the current image was. */
static void
td_retag(struct td_changes *ch, struct td_container *c, const char *tag)
{
	struct img im;
	size_t at;

	if (img_parse(c->old_image, &im) != 0) {
		c->how = TD_UNPARSED;
		return;
	}
	if (im.digest.n > 0) {
		c->how = TD_PINNED;
		return;
	}
	at = ch->tb.len;
	if (im.registry.n > 0) {
		buf_putsv(&ch->tb, im.registry);
		buf_putc(&ch->tb, '/');
	}
	buf_putsv(&ch->tb, im.path);
	buf_putc(&ch->tb, ':');
	buf_putz(&ch->tb, tag);
	c->new_image = sv_make(ch->text + at, ch->tb.len - at);
	c->how = TD_BY_TAG;
}

/* Decides every container's new image (see the section comment). */
static int
td_decide(const struct json_doc *d, int defs, const struct td_edit *edit,
    struct td_changes *ch, struct err *e)
{
	int i, k;

	if (d->tok[defs].size > ED_MAX_TD_CONTAINERS)
		return err_set(e, ED_EXIT_USAGE, "too big: ED_MAX_TD_CONTAINERS");
	for (i = 0; i < d->tok[defs].size; i++) {
		int ct = json_child(d, defs, i);
		struct td_container *c = &ch->c[ch->n++];

		c->name = td_keep(ch, d, json_member(d, ct, sv_z("name")));
		c->old_image = td_keep(ch, d, json_member(d, ct, sv_z("image")));
		c->new_image = c->old_image;
		if (edit->tag_only != NULL) {
			if (edit->tag_only_names == NULL || td_in_list(edit->tag_only_names, c->name))
				td_retag(ch, c, edit->tag_only);
		} else if (edit->image != NULL && img_same_repo(c->old_image, sv_z(edit->image))) {
			c->new_image = sv_z(edit->image);
			c->how = TD_BY_IMAGE;
			ch->matched++;
		}
	}
	for (k = 0; k < edit->n_container_images; k++) {
		const char *ci = edit->container_images[k];
		const char *eq = strchr(ci, '=');
		struct sv name;
		int found = 0;

		if (eq == NULL)
			return err_set(e, ED_EXIT_USAGE, "--container-image expects NAME=IMAGE, got '%s'", ci);
		name = sv_make(ci, (size_t)(eq - ci));
		for (i = 0; i < ch->n; i++) {
			if (sv_eq(ch->c[i].name, name)) {
				ch->c[i].new_image = sv_z(eq + 1);
				ch->c[i].how = TD_BY_NAME;
				found = 1;
			}
		}
		if (!found)
			return err_set(e, ED_EXIT_NO_MATCH, "--container-image %.*s: the task definition "
			    "has no container named %.*s", (int)name.n, name.p, (int)name.n, name.p);
	}
	for (i = 0; i < ch->n; i++)
		ch->c[i].changed = !sv_eq(ch->c[i].new_image, ch->c[i].old_image);
	if (ch->tb.overflow)
		return err_set(e, ED_EXIT_USAGE, "too big: ED_MAX_TD_TEXT");
	return 0;
}

/* Writes container object ct with its image replaced when c says so. */
static void
td_put_container(const struct json_doc *d, int ct, const struct td_container *c, struct jw *out)
{
	int i, k, had_image = 0;

	if (d->tok[ct].type != JSMN_OBJECT) {
		jw_raw(out, json_span(d, ct));
		return;
	}
	jw_obj(out);
	k = ct + 1;
	for (i = 0; i < d->tok[ct].size; i++) {
		jw_key_raw(out, json_raw(d, k));
		if (c->changed && json_eq(d, k, "image")) {
			jw_str(out, c->new_image);
			had_image = 1;
		} else {
			jw_raw(out, json_span(d, k + 1));
		}
		k = json_next(d, k + 1);
	}
	if (c->changed && !had_image) {
		jw_key(out, "image");
		jw_str(out, c->new_image);
	}
	jw_end(out);
}

static int
td_is_output_only(const struct json_doc *d, int key)
{
	size_t i;

	for (i = 0; i < sizeof(td_output_only) / sizeof(td_output_only[0]); i++) {
		if (json_eq(d, key, td_output_only[i]))
			return 1;
	}
	return 0;
}

/*
 * Writes the RegisterTaskDefinition body for the task definition td_tok of
 * base into out (a fresh writer or one positioned where a value goes), with
 * the edits of edit, and "tags" from tags_tok (an array, -1 for none) when
 * copy_tags. Fills *ch (which it initialises). Returns 0 or an ED_EXIT_* code.
 */
ED_UNUSED static int
td_clone(const struct json_doc *base, int td_tok, const struct td_edit *edit, int copy_tags,
    int tags_tok, struct jw *out, struct td_changes *ch, struct err *e)
{
	int defs, i, k, rc;

	memset(ch, 0, offsetof(struct td_changes, text));
	buf_init(&ch->tb, ch->text, sizeof(ch->text));
	if (td_tok < 0 || td_tok >= base->ntok || base->tok[td_tok].type != JSMN_OBJECT)
		return err_set(e, ED_EXIT_USAGE, "not a task definition: expected a JSON object");
	defs = json_member(base, td_tok, sv_z("containerDefinitions"));
	if (defs < 0 || base->tok[defs].type != JSMN_ARRAY)
		return err_set(e, ED_EXIT_USAGE,
		    "not a task definition: no containerDefinitions array");
	rc = td_decide(base, defs, edit, ch, e);
	if (rc != 0)
		return rc;
	jw_obj(out);
	k = td_tok + 1;
	for (i = 0; i < base->tok[td_tok].size; i++) {
		int v = k + 1;

		if (json_eq(base, k, "tags") || td_is_output_only(base, k)) {
			/* dropped */
		} else if (v == defs) {
			int j;

			jw_key_raw(out, json_raw(base, k));
			jw_arr(out);
			for (j = 0; j < base->tok[defs].size; j++)
				td_put_container(base, json_child(base, defs, j), &ch->c[j], out);
			jw_end(out);
		} else {
			jw_key_raw(out, json_raw(base, k));
			jw_raw(out, json_span(base, v));
		}
		k = json_next(base, v);
	}
	if (copy_tags && tags_tok >= 0 && tags_tok < base->ntok &&
	    base->tok[tags_tok].type == JSMN_ARRAY && base->tok[tags_tok].size > 0) {
		jw_key(out, "tags");
		jw_raw(out, json_span(base, tags_tok));
	}
	jw_end(out);
	if (out->b->overflow)
		return err_set(e, ED_EXIT_USAGE,
		    "too big: ED_MAX_JSON_BYTES (RegisterTaskDefinition request)");
	return 0;
}

/*
 * The §4.2 zero-match error: records ED_EXIT_NO_MATCH naming image and every
 * container with its current image, and suggests the ways out. Returns the code.
 */
ED_UNUSED static int
td_no_match(const struct td_changes *ch, const char *image, struct err *e)
{
	char list[ED_MAX_ERRMSG];
	struct buf b;
	int i;

	buf_init(&b, list, sizeof(list));
	for (i = 0; i < ch->n; i++) {
		buf_putz(&b, i ? ", " : "");
		buf_putsv(&b, ch->c[i].name);
		buf_putz(&b, " (");
		buf_putsv(&b, ch->c[i].old_image);
		buf_putc(&b, ')');
	}
	if (b.overflow && sizeof(list) > 4)
		memcpy(list + sizeof(list) - 4, "...", 4);
	return err_set(e, ED_EXIT_NO_MATCH, "image %s matches no container of the task definition; "
	    "containers: %s. Use --container-image NAME=IMAGE to choose one, or --allow-no-match",
	    image, ch->n ? list : "none");
}

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
