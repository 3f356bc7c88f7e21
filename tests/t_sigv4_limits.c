/*
 * t_sigv4_limits.c — the overflow paths of SigV4 signing (section 5). The limits
 * are shrunk before ecsdeploy.c is included, then every limit is approached one
 * step at a time: below it signing succeeds, past it sig_sign() returns
 * ED_EXIT_INTERNAL with "too big: <limit>", leaves the Authorization buffer
 * empty and never writes out of bounds (ASan and UBSan watch the build).
 */
#define ECSDEPLOY_TEST 1
#define ED_MAX_SIG_HEADERS 4
#define ED_MAX_SIG_QUERY 3
#define ED_MAX_CANONICAL 400
#include "../ecsdeploy.c"
#include "harness.h"

#define DATE "20150830T123600Z"

struct lim {
	struct sig_header h[ED_MAX_SIG_HEADERS + 8];
	struct sig_req r;
	struct sig_creds c;
	char amem[512];
	struct buf a;
	struct err e;
};

static void
lim_init(struct lim *l)
{
	memset(l, 0, sizeof(*l));
	l->h[0].name = sv_z("host");
	l->h[0].value = sv_z("h");
	l->h[1].name = sv_z("x-amz-date");
	l->h[1].value = sv_z(DATE);
	l->r.method = sv_z("POST");
	l->r.path = sv_z("/");
	l->r.query = sv_z("");
	l->r.hdr = l->h;
	l->r.nhdr = 2;
	l->r.body = sv_z("{}");
	l->r.region = sv_z("us-east-1");
	l->r.service = sv_z("ecs");
	l->c.akid = sv_z("AKIDEXAMPLE");
	l->c.secret = sv_z("secret");
	buf_init(&l->a, l->amem, sizeof(l->amem));
	err_clear(&l->e);
}

/* 0 when signed well, 1 when refused as too big for `limit`, -1 on anything else. */
static int
lim_run(struct lim *l, const char *limit)
{
	int rc = sig_sign(&l->r, &l->c, DATE, &l->a, &l->e);

	if (rc == 0)
		return l->e.code == 0 && strncmp(l->amem, "AWS4-HMAC-SHA256 Credential=", 28) == 0 ? 0 : -1;
	if (rc == ED_EXIT_INTERNAL && l->e.code == rc && strstr(l->e.msg, "too big: ") &&
	    strstr(l->e.msg, limit) && l->amem[0] == '\0' && l->a.len == 0)
		return 1;
	return -1;
}

static void
test_headers_limit(void)
{
	static const char *names[] = { "a", "b", "c", "d", "e", "f" };
	size_t n;

	for (n = 2; n <= ED_MAX_SIG_HEADERS + 2; n++) {
		struct lim l;
		size_t i;
		int got;

		lim_init(&l);
		for (i = 2; i < n; i++) {
			l.h[i].name = sv_z(names[i - 2]);
			l.h[i].value = sv_z("v");
		}
		l.r.nhdr = n;
		got = lim_run(&l, "ED_MAX_SIG_HEADERS");
		CHECKF(got == (n <= ED_MAX_SIG_HEADERS ? 0 : 1), "%zu headers: got %d (%.200s)", n, got, l.e.msg);
	}
}

static void
test_query_limit(void)
{
	static const char *queries[] = { "a=1", "a=1&b=2", "a=1&b=2&c=3", "a=1&b=2&c=3&d=4", "&&a&b&c&d&&" };
	static const int want[] = { 0, 0, 0, 1, 1 };
	size_t i;

	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		struct lim l;
		int got;

		lim_init(&l);
		l.r.query = sv_z(queries[i]);
		got = lim_run(&l, "ED_MAX_SIG_QUERY");
		CHECKF(got == want[i], "query '%s': got %d (%.200s)", queries[i], got, l.e.msg);
	}
}

/*
 * Grows one input byte by byte until the canonical request no longer fits:
 * every length up to some n must sign, every longer one must be refused with
 * the ED_MAX_CANONICAL message, and the switch must happen near the limit.
 */
static void
grow(const char *what, void (*set)(struct lim *, struct sv), char first, char fill)
{
	static char big[ED_MAX_CANONICAL * 3];
	size_t n, first_refused = 0;

	memset(big, fill, sizeof(big));
	big[0] = first;
	for (n = 1; n < sizeof(big); n++) {
		struct lim l;
		int got;

		lim_init(&l);
		set(&l, sv_make(big, n));
		got = lim_run(&l, "ED_MAX_CANONICAL");
		if (got < 0) {
			CHECKF(0, "%s of %zu bytes: neither signed nor refused cleanly: rc=%d msg='%.200s'", what, n,
			    l.e.code, l.e.msg);
			return;
		}
		if (got == 1 && first_refused == 0)
			first_refused = n;
		if (got == 0 && first_refused != 0) {
			CHECKF(0, "%s: %zu bytes signed after %zu were refused", what, n, first_refused);
			return;
		}
	}
	CHECKF(first_refused > 0 && first_refused <= ED_MAX_CANONICAL, "%s: first refused at %zu", what,
	    first_refused);
}

static void set_path(struct lim *l, struct sv s) { l->r.path = s; }
static void set_query(struct lim *l, struct sv s) { l->r.query = s; }
static void set_value(struct lim *l, struct sv s) { l->h[1].name = sv_z("x-long"); l->h[1].value = s; }
static void set_name(struct lim *l, struct sv s) { l->h[1].name = s; l->h[1].value = sv_z("v"); }
static void set_method(struct lim *l, struct sv s) { l->r.method = s; }

static void test_grow_path(void) { grow("path", set_path, '/', 'p'); }
static void test_grow_path_encoded(void) { grow("path of bytes that encode to 3", set_path, '/', '!'); }
static void test_grow_query(void) { grow("query", set_query, 'q', 'q'); }
static void test_grow_query_encoded(void) { grow("query of bytes that encode to 3", set_query, '*', '*'); }
static void test_grow_header_value(void) { grow("header value", set_value, 'v', 'v'); }
static void test_grow_header_name(void) { grow("header name", set_name, 'n', 'n'); }
static void test_grow_method(void) { grow("method", set_method, 'M', 'M'); }

/* A body of any size is only hashed: it never meets a limit. */
static void
test_big_body(void)
{
	static char body[1 << 20];
	struct lim l;

	memset(body, 'b', sizeof(body));
	lim_init(&l);
	l.r.body = sv_make(body, sizeof(body));
	CHECK(lim_run(&l, "-") == 0);
}

/* The caller's Authorization buffer: one byte short is refused, exact fits. */
static void
test_authz_buffer(void)
{
	struct lim l;
	size_t need, cap;

	lim_init(&l);
	CHECK(lim_run(&l, "-") == 0);
	need = l.a.len + 1;
	for (cap = 0; cap <= need; cap++) {
		int got;

		lim_init(&l);
		buf_init(&l.a, cap ? l.amem : NULL, cap);
		got = sig_sign(&l.r, &l.c, DATE, &l.a, &l.e);
		if (cap < need)
			CHECKF(got == ED_EXIT_INTERNAL && strstr(l.e.msg, "too big: authorization buffer") &&
			    l.a.len == 0 && (cap == 0 || l.amem[0] == '\0'), "cap %zu: rc=%d msg=%.200s", cap, got, l.e.msg);
		else
			CHECKF(got == 0 && l.a.len == need - 1, "cap %zu: rc=%d msg=%.200s", cap, got, l.e.msg);
	}
}

int
main(void)
{
	RUN(test_headers_limit);
	RUN(test_query_limit);
	RUN(test_grow_path);
	RUN(test_grow_path_encoded);
	RUN(test_grow_query);
	RUN(test_grow_query_encoded);
	RUN(test_grow_header_value);
	RUN(test_grow_header_name);
	RUN(test_grow_method);
	RUN(test_big_body);
	RUN(test_authz_buffer);
	return th_exit();
}
