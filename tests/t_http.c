/*
 * t_http.c — section 7: the response parser on every fixture fed whole, byte
 * by byte and split at every offset; limits; URLs, proxy settings and NO_PROXY;
 * the request bytes; kept-alive connections, stale-connection handling and
 * timeouts through the connect seam (a forked fake server on a socketpair) and
 * against tests/lib/faultsrv.py; HTTPS_PROXY through a real tinyproxy on
 * loopback (CONNECT with Basic auth).
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"
#include "netutil.h"
#include <sys/stat.h>

/* ---- parser fixtures ---- */

struct fx {
	const char *name;
	const char *raw;
	int status;            /* expected status, or 0 when an error is expected */
	const char *body;      /* expected body */
	int close;             /* expected r.close */
	int needs_eof;         /* complete only at EOF (body until close) */
	const char *err;       /* expected error words when status == 0 */
	const char *rid;       /* expected request id, or NULL */
};

static const struct fx fixtures[] = {
	{ "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-amzn-RequestId: abc-1\r\n"
	  "Date: Fri, 27 Nov 2026 08:00:00 GMT\r\n\r\nhello", 200, "hello", 0, 0, NULL, "abc-1" },
	{ "chunked with extensions and trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "5;ext=1;q=\"x\"\r\nhello\r\n6 \r\n world\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n",
	  200, "hello world", 0, 0, NULL, NULL },
	{ "chunked upper-case hex", "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n"
	  "A\r\n0123456789\r\n0\r\n\r\n", 200, "0123456789", 0, 0, NULL, NULL },
	{ "body until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nbody until close",
	  200, "body until close", 1, 1, NULL, NULL },
	{ "connection close", "HTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive, Close\r\n"
	  "Content-Length: 2\r\n\r\nno", 503, "no", 1, 0, NULL, NULL },
	{ "100 continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx",
	  201, "x", 0, 0, NULL, NULL },
	{ "204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 204, "", 0, 0, NULL, NULL },
	{ "HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, "ok", 1, 0, NULL, NULL },
	{ "bare LF lines", "HTTP/1.1 400 Bad\nx-amz-request-id: r2\nContent-Length: 3\n\nbad", 400, "bad", 0, 0, NULL, "r2" },
	{ "status without reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 200, "", 0, 0, NULL, NULL },
	{ "empty chunked body", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200, "", 0, 0, NULL, NULL },
	{ "both framings: chunked wins, then close", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, "ok", 1, 0, NULL, NULL },
	{ "bad status line", "HTTP/2 200 OK\r\n\r\n", 0, NULL, 0, 0, "bad status line", NULL },
	{ "bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 0, NULL, 0, 0, "invalid Content-Length", NULL },
	{ "conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	  0, NULL, 0, 0, "conflicting Content-Length", NULL },
	{ "obsolete folding", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\n\r\n", 0, NULL, 0, 0, "folding", NULL },
	{ "header without colon", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0, NULL, 0, 0, "without a name", NULL },
	{ "space in header name", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", 0, NULL, 0, 0, "header name", NULL },
	{ "bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, NULL, 0, 0, "bad chunk size", NULL },
	{ "chunk data without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
	  0, NULL, 0, 0, "not followed by CRLF", NULL },
	{ "truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, NULL, 0, 1, "mid-response", NULL },
	{ "truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 0, NULL, 0, 1, "mid-response", NULL },
	{ "truncated head", "HTTP/1.1 200 OK\r\nContent-Le", 0, NULL, 0, 1, "mid-response", NULL },
	{ "nothing at all", "", 0, NULL, 0, 1, "before any response", NULL },
	{ "body too big", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", 0, NULL, 0, 0, "too big: ED_MAX_HTTP_BODY", NULL },
	{ "chunk too big", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFF\r\n", 0, NULL, 0, 0,
	  "too big: ED_MAX_HTTP_BODY", NULL },
	{ "stray CR", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", 0, NULL, 0, 0, "stray CR", NULL },
};

struct cap {
	char b[4096];
	size_t n;
};

static int
cap_sink(void *ctx, const char *p, size_t n, struct err *e)
{
	struct cap *c = ctx;

	if (n > sizeof(c->b) - 1 - c->n)
		return err_set(e, ED_EXIT_INTERNAL, "cap overflow");
	memcpy(c->b + c->n, p, n);
	c->n += n;
	c->b[c->n] = '\0';
	return 0;
}

static struct http_parser php;

/* Feeds raw in pieces of the given sizes (cycling), then EOF if not done. 0 or the code. */
static int
feed_split(const char *raw, size_t n, const size_t *cuts, size_t ncuts, struct cap *c, struct err *e)
{
	size_t off = 0, i = 0;
	int rc;

	c->n = 0;
	c->b[0] = '\0';
	err_clear(e);
	http_parser_init(&php, 0, cap_sink, c);
	while (off < n) {
		size_t piece = ncuts ? cuts[i % ncuts] : n;
		size_t used;

		if (piece > n - off)
			piece = n - off;
		rc = http_parser_feed(&php, raw + off, piece, &used, e);
		if (rc != 0)
			return rc;
		off += used;
		i++;
		if (used < piece || http_parser_done(&php))
			break;
	}
	if (!http_parser_done(&php))
		return http_parser_eof(&php, e);
	return 0;
}

static int
check_result(const struct fx *f, int rc, const struct cap *c, const struct err *e, char *why, size_t wn)
{
	if (f->status == 0) {
		if (rc != ED_EXIT_NETWORK || strstr(e->msg, f->err) == NULL) {
			snprintf(why, wn, "expected error '%s', got rc %d '%.200s'", f->err, rc, e->msg);
			return 0;
		}
		return 1;
	}
	if (rc != 0) {
		snprintf(why, wn, "rc %d: %.200s", rc, e->msg);
		return 0;
	}
	if (php.r.status != f->status || strcmp(c->b, f->body) != 0 || php.r.close != f->close) {
		snprintf(why, wn, "status %d body '%.100s' close %d", php.r.status, c->b, php.r.close);
		return 0;
	}
	if (f->rid && strcmp(php.r.request_id, f->rid) != 0) {
		snprintf(why, wn, "request id '%s'", php.r.request_id);
		return 0;
	}
	return 1;
}

static void
parser_fixtures(void)
{
	size_t i;

	for (i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		const struct fx *f = &fixtures[i];
		size_t n = strlen(f->raw), k, one = 1;
		struct cap c;
		struct err e;
		char name[160], why[400];
		int ok = 1, rc;

		why[0] = '\0';
		rc = feed_split(f->raw, n, NULL, 0, &c, &e);
		ok = check_result(f, rc, &c, &e, why, sizeof(why));
		if (ok) {
			rc = feed_split(f->raw, n, &one, 1, &c, &e);
			ok = check_result(f, rc, &c, &e, why, sizeof(why));
			if (!ok)
				strcat(why, " (byte by byte)");
		}
		for (k = 1; ok && k < n; k++) {
			size_t cuts[2] = { k, n };

			rc = feed_split(f->raw, n, cuts, 2, &c, &e);
			ok = check_result(f, rc, &c, &e, why, sizeof(why));
			if (!ok)
				snprintf(why + strlen(why), sizeof(why) - strlen(why), " (split at %zu)", k);
		}
		snprintf(name, sizeof(name), "parser: %s (whole, bytewise, every split)", f->name);
		th_case(name, ok, why);
	}
}

static void
parser_stops_at_end_of_response(void)
{
	const char *raw = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
	struct cap c;
	struct err e;
	size_t used;

	err_clear(&e);
	c.n = 0;
	http_parser_init(&php, 0, cap_sink, &c);
	CHECK(http_parser_feed(&php, raw, strlen(raw), &used, &e) == 0);
	CHECK(http_parser_done(&php));
	CHECK(used == strlen(raw) - 5);
	CHECK(strcmp(c.b, "ok") == 0);
}

static void
parser_connect_response_has_no_body(void)
{
	const char *raw = "HTTP/1.1 200 Connection established\r\nContent-Length: 5\r\n\r\n";
	struct err e;
	size_t used;

	err_clear(&e);
	http_parser_init(&php, 1, NULL, NULL);
	CHECK(http_parser_feed(&php, raw, strlen(raw), &used, &e) == 0);
	CHECK(http_parser_done(&php) && php.r.status == 200 && used == strlen(raw));
}

static void
parser_header_limits(void)
{
	static char raw[ED_MAX_HTTP_HEAD + 4096];
	struct cap c;
	struct err e;
	size_t n;
	int i;

	/* one line longer than ED_MAX_HTTP_LINE */
	n = (size_t)snprintf(raw, sizeof(raw), "HTTP/1.1 200 OK\r\nX-Long: ");
	memset(raw + n, 'a', ED_MAX_HTTP_LINE);
	n += ED_MAX_HTTP_LINE;
	memcpy(raw + n, "\r\n\r\n", 4);
	n += 4;
	CHECK(feed_split(raw, n, NULL, 0, &c, &e) == ED_EXIT_NETWORK);
	CHECK(strstr(e.msg, "too big: ED_MAX_HTTP_LINE") != NULL);
	/* many short lines adding up to more than ED_MAX_HTTP_HEAD */
	n = (size_t)snprintf(raw, sizeof(raw), "HTTP/1.1 200 OK\r\n");
	for (i = 0; n < ED_MAX_HTTP_HEAD + 100; i++)
		n += (size_t)snprintf(raw + n, sizeof(raw) - n, "X-H%d: %040d\r\n", i, i);
	memcpy(raw + n, "\r\n", 2);
	n += 2;
	CHECK(feed_split(raw, n, NULL, 0, &c, &e) == ED_EXIT_NETWORK);
	CHECK(strstr(e.msg, "too big: ED_MAX_HTTP_HEAD") != NULL);
}

static void
parser_sink_error_stops(void)
{
	/* a body bigger than the capture buffer: the sink's error comes back */
	static char raw[8192];
	struct cap c;
	struct err e;
	size_t n = (size_t)snprintf(raw, sizeof(raw), "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n");

	memset(raw + n, 'x', 5000);
	n += 5000;
	CHECK(feed_split(raw, n, NULL, 0, &c, &e) == ED_EXIT_INTERNAL);
	CHECK(strstr(e.msg, "cap overflow") != NULL);
}

/* ---- URLs and proxies ---- */

static void
urls(void)
{
	struct http_url u;
	struct err e;
	char hb[300];
	struct buf b;

	err_clear(&e);
	CHECK(http_url_parse(&u, "https://ecs.us-east-1.amazonaws.com", "x", &e) == 0);
	CHECK(u.tls && u.port == 443 && strcmp(u.host, "ecs.us-east-1.amazonaws.com") == 0 && strcmp(u.path, "/") == 0);
	buf_init(&b, hb, sizeof(hb));
	http_host_value(&u, &b);
	CHECK(strcmp(hb, "ecs.us-east-1.amazonaws.com") == 0);
	CHECK(http_url_parse(&u, "https://localhost:8443/base", "x", &e) == 0);
	CHECK(u.port == 8443 && strcmp(u.path, "/base") == 0);
	buf_init(&b, hb, sizeof(hb));
	http_host_value(&u, &b);
	CHECK(strcmp(hb, "localhost:8443") == 0);
	CHECK(http_url_parse(&u, "http://[::1]:5000", "x", &e) == 0);
	CHECK(!u.tls && u.port == 5000 && strcmp(u.host, "::1") == 0);
	buf_init(&b, hb, sizeof(hb));
	http_host_value(&u, &b);
	CHECK(strcmp(hb, "[::1]:5000") == 0);
	CHECK(http_url_parse(&u, "http://127.0.0.5:80", "x", &e) == 0);
	CHECK(http_url_parse(&u, "http://ecs.us-east-1.amazonaws.com", "--endpoint-url", &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "plain http:// is allowed only for loopback") != NULL);
	err_clear(&e);
	CHECK(http_url_parse(&u, "http://127.evil.com", "x", &e) == ED_EXIT_USAGE);
	err_clear(&e);
	CHECK(http_url_parse(&u, "ftp://x", "x", &e) == ED_EXIT_USAGE);
	err_clear(&e);
	CHECK(http_url_parse(&u, "https://h:0", "x", &e) == ED_EXIT_USAGE);
	err_clear(&e);
	CHECK(http_url_parse(&u, "https://h:99999", "x", &e) == ED_EXIT_USAGE);
	err_clear(&e);
	CHECK(http_url_parse(&u, "https://user@h", "x", &e) == ED_EXIT_USAGE);
	err_clear(&e);
	CHECK(http_url_parse(&u, "https://", "x", &e) == ED_EXIT_USAGE);
}

static void
proxy_settings(void)
{
	struct th_world tw;
	struct world w;
	struct http_proxy px;
	struct err e;

	th_world_bind(&w, &tw);
	err_clear(&e);
	CHECK(http_proxy_from_env(&px, &w, &e) == 0 && !px.on);
	tw.env[0] = "https_proxy=http://u%40x:p%3Ass@proxy.corp:3128/";
	tw.env[1] = "no_proxy=.internal, example.com:443,localhost";
	CHECK(http_proxy_from_env(&px, &w, &e) == 0 && px.on);
	CHECK(strcmp(px.host, "proxy.corp") == 0 && px.port == 3128);
	/* base64("u@x:p:ss") */
	CHECKF(strcmp(px.auth, "Basic dUB4OnA6c3M=") == 0, "%s", px.auth);
	CHECK(http_no_proxy(&px, "a.internal") && http_no_proxy(&px, "internal"));
	CHECK(http_no_proxy(&px, "example.com") && http_no_proxy(&px, "ecs.EXAMPLE.com"));
	CHECK(!http_no_proxy(&px, "badexample.com") && !http_no_proxy(&px, "ecs.us-east-1.amazonaws.com"));
	CHECK(http_no_proxy(&px, "localhost"));
	tw.env[0] = "HTTPS_PROXY=10.0.0.1";
	tw.env[1] = "NO_PROXY=*";
	CHECK(http_proxy_from_env(&px, &w, &e) == 0 && px.port == 80 && px.auth[0] == '\0');
	CHECK(http_no_proxy(&px, "anything"));
	tw.env[0] = "HTTPS_PROXY=https://p:1";
	tw.env[1] = NULL;
	CHECK(http_proxy_from_env(&px, &w, &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "only http:// proxies") != NULL);
	err_clear(&e);
	tw.env[0] = "HTTPS_PROXY=http://user:secretpw@h:notaport";
	CHECK(http_proxy_from_env(&px, &w, &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "secretpw") == NULL);
}

/* ---- connections through the connect seam: a forked fake server ---- */

/*
 * Modes, one per request the fake server reads on a connection:
 *   'o' answer 200 with body "ok"      'c' answer with Connection: close
 *   'x' read the request, close silently   's' read the request, stall 3 s
 *   'b' answer with a Content-Length over ED_MAX_HTTP_BODY
 * The script for the n-th connection is scripts[n]; every request the
 * fake server reads is appended to a log file (one line per request).
 */
static const char *scripts[4];
static int fake_conns;
static char fake_log[256];

static int
fake_read_request(int fd, char *req, size_t cap)
{
	size_t n = 0;
	char *end, *cl;
	long body = 0;

	for (;;) {
		ssize_t k = read(fd, req + n, cap - 1 - n);

		if (k <= 0)
			return -1;
		n += (size_t)k;
		req[n] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(req, "Content-Length: ");
		body = cl ? atol(cl + 16) : 0;
		if (n >= (size_t)(end + 4 - req) + (size_t)body)
			return 0;
	}
}

static void
fake_serve(int fd, const char *script)
{
	char req[65536];
	const char *m;

	for (m = script; *m; m++) {
		FILE *f;

		if (fake_read_request(fd, req, sizeof(req)) != 0)
			break;
		f = fopen(fake_log, "a");
		if (f) {
			fprintf(f, "%c %.*s\n", *m, (int)strcspn(req, "\r"), req);
			fclose(f);
		}
		if (*m == 'o' || *m == 'c') {
			const char *r = *m == 'o' ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			    : "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";

			if (write(fd, r, strlen(r)) < 0)
				break;
			if (*m == 'c')
				break;
		} else if (*m == 'b') {
			const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n";

			if (write(fd, r, strlen(r)) < 0)
				break;
			sleep(1);
			break;
		} else if (*m == 'x') {
			break;
		} else if (*m == 's') {
			sleep(3);
			break;
		}
	}
	close(fd);
	_exit(0);
}

static int
fake_connect(void *ctx, const char *host, int port, int timeout_ms, struct err *e)
{
	int sv[2];
	pid_t pid;
	const char *script;

	(void)ctx; (void)host; (void)port; (void)timeout_ms;
	script = fake_conns < 4 ? scripts[fake_conns] : NULL;
	fake_conns++;
	if (script == NULL)
		return err_set(e, ED_EXIT_NETWORK, "cannot connect to %s port %d: Connection refused (fake)", host, port), -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return err_set(e, ED_EXIT_NETWORK, "socketpair"), -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		fake_serve(sv[1], script);
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	return sv[0];
}

static struct http_client fc;
static struct th_world ftw;
static struct world fw;
static struct tls_anchors fanch;

static void
fake_setup(const char *s0, const char *s1, const char *s2)
{
	if (fc.w)
		http_client_close(&fc);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	scripts[0] = s0;
	scripts[1] = s1;
	scripts[2] = s2;
	scripts[3] = NULL;
	fake_conns = 0;
	snprintf(fake_log, sizeof(fake_log), "%s/fake-%d.log", nu_pki(), (int)getpid());
	unlink(fake_log);
	th_world_bind(&fw, &ftw);
	tls_anchors_init(&fanch);
	http_client_init(&fc, &fw, &fanch);
	fc.net.connect = fake_connect;
	fc.read_timeout_ms = 500;
}

static int
fake_call(const char *target, int idempotent, struct err *e, struct cap *c)
{
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	struct http_hdr h[2];

	err_clear(e);
	http_url_parse(&u, "http://localhost:8080", "t", e);
	h[0].name = sv_z("X-Amz-Target");
	h[0].value = sv_z(target);
	h[1].name = sv_z("Content-Type");
	h[1].value = sv_z("application/x-amz-json-1.1");
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z("POST");
	rq.path = sv_z("/");
	rq.hdr = h;
	rq.nhdr = 2;
	rq.body = sv_z("{\"a\":1}");
	rq.idempotent = idempotent;
	c->n = 0;
	c->b[0] = '\0';
	http_parser_init(&hp, 0, cap_sink, c);
	return http_do(&fc, &u, &rq, &hp, e);
}

static int
log_lines(void)
{
	FILE *f = fopen(fake_log, "r");
	int n = 0, ch;

	if (f == NULL)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void
request_bytes(void)
{
	int sv[2];
	char got[1024];
	ssize_t k;
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	struct http_hdr h[1];
	struct err e;
	struct cap c;
	const char *want = "POST /base HTTP/1.1\r\nHost: localhost:8080\r\nX-Amz-Target: T.Op\r\n"
	    "Content-Length: 2\r\n\r\n{}";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], resp, strlen(resp)) == (ssize_t)strlen(resp));
	fake_setup(NULL, NULL, NULL);
	err_clear(&e);
	http_url_parse(&u, "http://localhost:8080/base", "t", &e);
	fc.conns[0].fd = sv[0];     /* a kept connection that already exists */
	fc.conns[0].tls = 0;
	fc.conns[0].port = 8080;
	strcpy(fc.conns[0].host, "localhost");
	h[0].name = sv_z("X-Amz-Target");
	h[0].value = sv_z("T.Op");
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z("POST");
	rq.path = sv_z(u.path);
	rq.hdr = h;
	rq.nhdr = 1;
	rq.body = sv_z("{}");
	c.n = 0;
	http_parser_init(&hp, 0, cap_sink, &c);
	/* the response is already waiting, so the connection looks "stale": fresh one fails */
	CHECK(http_do(&fc, &u, &rq, &hp, &e) == ED_EXIT_NETWORK);
	CHECK(fake_conns == 1 && fc.last_sent == 0);
	/* now with nothing waiting: the request goes out on the kept connection */
	err_clear(&e);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fc.conns[0].fd = sv[0];
	http_parser_init(&hp, 0, cap_sink, &c);
	if (fork() == 0) {
		close(sv[0]);
		sys_sleep_ms(NULL, 100);
		if (write(sv[1], resp, strlen(resp)) < 0)
			_exit(1);
		sys_sleep_ms(NULL, 300);
		_exit(0);
	}
	CHECKF(http_do(&fc, &u, &rq, &hp, &e) == 0, "%.400s", e.msg);
	k = read(sv[1], got, sizeof(got) - 1);
	got[k > 0 ? k : 0] = '\0';
	CHECKF(strcmp(got, want) == 0, "sent: %.400s", got);
	close(sv[1]);
}

static void
keeps_connection_alive(void)
{
	struct err e;
	struct cap c;
	int i;

	fake_setup("ooooo", NULL, NULL);
	for (i = 0; i < 5; i++)
		CHECKF(fake_call("T.Describe", 1, &e, &c) == 0 && strcmp(c.b, "ok") == 0, "%.400s", e.msg);
	CHECK(fake_conns == 1);
	CHECK(fc.conns[0].requests == 5);
}

static void
connection_close_reconnects(void)
{
	struct err e;
	struct cap c;

	fake_setup("c", "o", NULL);
	CHECK(fake_call("T.Register", 0, &e, &c) == 0);
	CHECK(fc.conns[0].fd < 0);           /* dropped at once after Connection: close */
	CHECKF(fake_call("T.Register", 0, &e, &c) == 0, "%.400s", e.msg);
	CHECK(fake_conns == 2);
}

static void
idle_closed_connection_is_replaced_before_sending(void)
{
	struct err e;
	struct cap c;

	fake_setup("ox", "o", NULL);
	CHECK(fake_call("T.Describe", 0, &e, &c) == 0);
	/* the server reads the next request and hangs up: from our side it died
	 * after the bytes went out, so a non-idempotent call must not be resent */
	CHECK(fake_call("T.Register", 0, &e, &c) == ED_EXIT_NETWORK);
	CHECK(fc.last_sent == 1 && fc.last_retryable == 1);
	CHECK(fake_conns == 1);
	CHECKF(strstr(e.msg, "before any response") != NULL, "%.400s", e.msg);
	CHECK(log_lines() == 2);
}

static void
idempotent_request_is_resent_once(void)
{
	struct err e;
	struct cap c;

	fake_setup("ox", "o", NULL);
	CHECK(fake_call("T.Describe", 1, &e, &c) == 0);
	CHECKF(fake_call("T.Describe", 1, &e, &c) == 0 && strcmp(c.b, "ok") == 0, "%.400s", e.msg);
	CHECK(fake_conns == 2);
	CHECK(log_lines() == 3);
}

static void
fresh_connection_failure_is_not_resent(void)
{
	struct err e;
	struct cap c;

	fake_setup("x", "o", NULL);
	CHECK(fake_call("T.Describe", 1, &e, &c) == ED_EXIT_NETWORK);
	CHECK(fake_conns == 1 && fc.last_retryable == 1 && fc.last_sent == 1);
}

static void
kept_connection_timeout_is_not_doubled(void)
{
	struct err e;
	struct cap c;
	int64_t t0, dt;

	fake_setup("os", "o", NULL);
	fc.read_timeout_ms = 300;
	CHECK(fake_call("T.Describe", 1, &e, &c) == 0);
	t0 = sys_mono_ms(NULL);
	CHECK(fake_call("T.Describe", 1, &e, &c) == ED_EXIT_NETWORK);
	dt = sys_mono_ms(NULL) - t0;
	CHECKF(strstr(e.msg, "timed out") != NULL, "%.400s", e.msg);
	CHECKF(dt < 550, "waited %lld ms: the timeout was waited twice", (long long)dt);
	CHECK(fake_conns == 1 && fc.last_retryable == 1);
}

static void
too_big_is_not_retryable(void)
{
	struct err e;
	struct cap c;

	fake_setup("b", "o", NULL);
	CHECK(fake_call("T.Describe", 1, &e, &c) == ED_EXIT_NETWORK);
	CHECK(strstr(e.msg, "too big: ED_MAX_HTTP_BODY") != NULL);
	CHECK(fc.last_retryable == 0);
}

static void
connect_failure(void)
{
	struct err e;
	struct cap c;

	fake_setup(NULL, NULL, NULL);
	CHECK(fake_call("T.Describe", 1, &e, &c) == ED_EXIT_NETWORK);
	CHECK(fc.last_sent == 0 && fc.last_retryable == 1);
	CHECK(strstr(e.msg, "Connection refused") != NULL);
}

static void
read_timeout(void)
{
	struct err e;
	struct cap c;
	int64_t t0 = sys_mono_ms(NULL), dt;

	fake_setup("s", NULL, NULL);
	fc.read_timeout_ms = 300;
	CHECK(fake_call("T.Describe", 1, &e, &c) == ED_EXIT_NETWORK);
	dt = sys_mono_ms(NULL) - t0;
	CHECKF(strstr(e.msg, "timed out") != NULL, "%.400s", e.msg);
	CHECKF(dt >= 250 && dt < 2500, "took %lld ms", (long long)dt);
	CHECK(fc.last_retryable == 1);
}

/* A listener whose accept queue is full drops new SYNs: connect() hangs, the poll times out. */
static void
connect_timeout(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[8], i, fd, port;
	struct err e;
	int64_t t0, dt;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(lfd, 0) == 0);
	getsockname(lfd, (struct sockaddr *)&a, &l);
	port = ntohs(a.sin_port);
	for (i = 0; i < 8; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM, 0);
		fcntl(fill[i], F_SETFL, O_NONBLOCK);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	sys_sleep_ms(NULL, 100);
	err_clear(&e);
	t0 = sys_mono_ms(NULL);
	fd = http_sys_connect(NULL, "127.0.0.1", port, 300, &e);
	dt = sys_mono_ms(NULL) - t0;
	CHECKF(fd < 0 && e.code == ED_EXIT_NETWORK, "fd %d: %.300s", fd, e.msg);
	CHECKF(strstr(e.msg, "timed out") != NULL, "%.400s", e.msg);
	CHECKF(dt >= 250 && dt < 2000, "took %lld ms", (long long)dt);
	if (fd >= 0)
		close(fd);
	for (i = 0; i < 8; i++)
		close(fill[i]);
	close(lfd);
}

static void
connect_refused_real(void)
{
	struct err e;
	int fd;

	err_clear(&e);
	fd = http_sys_connect(NULL, "localhost", 1, 1000, &e);
	CHECK(fd < 0);
	CHECKF(strstr(e.msg, "cannot connect to localhost port 1: Connection refused") != NULL, "%.400s", e.msg);
}

static void
request_too_big(void)
{
	static char big[ED_MAX_HTTP_REQUEST + 10];
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	struct err e;

	fake_setup("o", NULL, NULL);
	err_clear(&e);
	http_url_parse(&u, "http://localhost:1", "t", &e);
	memset(big, 'a', sizeof(big));
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z("POST");
	rq.path = sv_z("/");
	rq.body = sv_make(big, sizeof(big));
	http_parser_init(&hp, 0, NULL, NULL);
	CHECK(http_do(&fc, &u, &rq, &hp, &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "too big: ED_MAX_HTTP_REQUEST") != NULL);
	CHECK(fake_conns == 0);
}

/* ---- against faultsrv.py: a real TLS server, and a real proxy ---- */

static struct nu_srv srv;
static struct http_client rc_;
static struct th_world rtw;
static struct world rw;
static struct tls_anchors ranch;

static void
real_setup(const char **env)
{
	struct err e;
	char path[512];
	int i;

	if (rc_.w)
		http_client_close(&rc_);
	th_world_bind(&rw, &rtw);
	rtw.wall = (int64_t)time(NULL);
	for (i = 0; env && env[i]; i++)
		rtw.env[i] = env[i];
	tls_anchors_init(&ranch);
	err_clear(&e);
	snprintf(path, sizeof(path), "%s/ca.pem", srv.pki);
	tls_anchors_add_file(&ranch, path, &e);
	http_client_init(&rc_, &rw, &ranch);
	rc_.read_timeout_ms = 5000;
	http_proxy_from_env(&rc_.proxy, &rw, &e);
}

static int
real_call(int port, struct err *e, struct cap *c)
{
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	struct http_hdr h[1];
	char url[64];

	snprintf(url, sizeof(url), "https://localhost:%d", port);
	err_clear(e);
	http_url_parse(&u, url, "t", e);
	h[0].name = sv_z("X-Amz-Target");
	h[0].value = sv_z("AmazonEC2ContainerServiceV20141113.ListClusters");
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z("POST");
	rq.path = sv_z("/");
	rq.hdr = h;
	rq.nhdr = 1;
	rq.body = sv_z("{}");
	rq.idempotent = 1;
	c->n = 0;
	c->b[0] = '\0';
	http_parser_init(&hp, 0, cap_sink, c);
	return http_do(&rc_, &u, &rq, &hp, e);
}

static void
tls_keepalive_one_handshake(void)
{
	struct err e;
	struct cap c;
	int i;

	nu_ctl(&srv, "/__reset", "{}");
	real_setup(NULL);
	for (i = 0; i < 20; i++)
		CHECKF(real_call(srv.port[0], &e, &c) == 0, "%.400s", e.msg);
	CHECK(strstr(c.b, "\"n\": 20") != NULL);
	CHECK(rc_.handshakes == 1);
	CHECK(nu_stat(&srv, "handshakes") == 1);
}

static void
tls_server_close_after_reconnects(void)
{
	struct err e;
	struct cap c;

	nu_ctl(&srv, "/__reset", "{}");
	nu_ctl(&srv, "/__script", "[{\"close_after\": true}]");
	real_setup(NULL);
	CHECKF(real_call(srv.port[0], &e, &c) == 0, "%.400s", e.msg);
	sys_sleep_ms(NULL, 100);
	CHECKF(real_call(srv.port[0], &e, &c) == 0, "%.400s", e.msg);
	CHECK(rc_.handshakes == 2);
	CHECK(nu_stat(&srv, "requests") == 2);
}

static int proxy_port;
static pid_t proxy_pid;
static char proxy_log[300];

static int
free_port(void)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &l);
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

static int
start_tinyproxy(void)
{
	char conf[300];
	FILE *f;
	int i;

	proxy_port = free_port();
	snprintf(conf, sizeof(conf), "%s/tinyproxy.conf", srv.pki);
	snprintf(proxy_log, sizeof(proxy_log), "%s/tinyproxy.log", srv.pki);
	unlink(proxy_log);
	f = fopen(conf, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "Port %d\nListen 127.0.0.1\nTimeout 20\nMaxClients 8\nAllow 127.0.0.1\n"
	    "BasicAuth tester s3cret\nLogFile \"%s\"\nLogLevel Connect\n", proxy_port, proxy_log);
	fclose(f);
	proxy_pid = fork();
	if (proxy_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execlp("tinyproxy", "tinyproxy", "-d", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 50; i++) {    /* wait until it listens (at most 5 s) */
		struct sockaddr_in a;
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((unsigned short)proxy_port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			close(fd);
			return 0;
		}
		close(fd);
		sys_sleep_ms(NULL, 100);
	}
	return -1;
}

static int
proxy_log_has(const char *s)
{
	static char buf[65536];
	FILE *f = fopen(proxy_log, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, s) != NULL;
}

static void
proxy_connect_with_basic_auth(void)
{
	char env0[128];
	const char *env[2];
	char want[64];
	struct err e;
	struct cap c;

	snprintf(env0, sizeof(env0), "HTTPS_PROXY=http://tester:s3cr%%65t@127.0.0.1:%d", proxy_port);
	env[0] = env0;
	env[1] = NULL;
	nu_ctl(&srv, "/__reset", "{}");
	real_setup(env);
	CHECK(rc_.proxy.on);
	CHECKF(real_call(srv.port[0], &e, &c) == 0, "%.400s", e.msg);
	CHECKF(real_call(srv.port[0], &e, &c) == 0, "%.400s", e.msg);
	CHECK(rc_.handshakes == 1 && rc_.connects == 1);
	snprintf(want, sizeof(want), "CONNECT localhost:%d", srv.port[0]);
	CHECKF(proxy_log_has(want), "tinyproxy log lacks '%s'", want);
}

static void
proxy_wrong_password(void)
{
	char env0[128];
	const char *env[2];
	struct err e;
	struct cap c;

	snprintf(env0, sizeof(env0), "https_proxy=http://tester:nope@127.0.0.1:%d", proxy_port);
	env[0] = env0;
	env[1] = NULL;
	real_setup(env);
	CHECK(real_call(srv.port[0], &e, &c) == ED_EXIT_NETWORK);
	CHECKF(strstr(e.msg, "proxy authentication required (40") != NULL, "%.400s", e.msg);
	CHECK(strstr(e.msg, "nope") == NULL);
	CHECK(rc_.last_retryable == 0);
}

static void
no_proxy_goes_direct(void)
{
	const char *env[] = { "HTTPS_PROXY=http://127.0.0.1:1", "NO_PROXY=example.com,localhost", NULL };
	struct err e;
	struct cap c;

	real_setup(env);
	CHECKF(real_call(srv.port[0], &e, &c) == 0, "%.400s", e.msg);
}

static void
dead_proxy_fails(void)
{
	const char *env[] = { "HTTPS_PROXY=http://127.0.0.1:1", NULL };
	struct err e;
	struct cap c;

	real_setup(env);
	CHECK(real_call(srv.port[0], &e, &c) == ED_EXIT_NETWORK);
	CHECKF(strstr(e.msg, "cannot connect to 127.0.0.1 port 1") != NULL, "%.400s", e.msg);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	parser_fixtures();
	RUN(parser_stops_at_end_of_response);
	RUN(parser_connect_response_has_no_body);
	RUN(parser_header_limits);
	RUN(parser_sink_error_stops);
	RUN(urls);
	RUN(proxy_settings);
	RUN(request_bytes);
	RUN(keeps_connection_alive);
	RUN(connection_close_reconnects);
	RUN(idle_closed_connection_is_replaced_before_sending);
	RUN(idempotent_request_is_resent_once);
	RUN(fresh_connection_failure_is_not_resent);
	RUN(kept_connection_timeout_is_not_doubled);
	RUN(too_big_is_not_retryable);
	RUN(connect_failure);
	RUN(read_timeout);
	RUN(connect_timeout);
	RUN(connect_refused_real);
	RUN(request_too_big);
	if (fc.w)
		http_client_close(&fc);
	if (nu_start(&srv, "server") != 0 || srv.port[0] == 0) {
		printf("FAIL: start faultsrv.py\n");
		return 1;
	}
	RUN(tls_keepalive_one_handshake);
	RUN(tls_server_close_after_reconnects);
	if (start_tinyproxy() != 0) {
		printf("FAIL: start tinyproxy (is the tinyproxy package installed?)\n");
	} else {
		RUN(proxy_connect_with_basic_auth);
		RUN(proxy_wrong_password);
		RUN(no_proxy_goes_direct);
		RUN(dead_proxy_fails);
		kill(proxy_pid, SIGTERM);
		waitpid(proxy_pid, NULL, 0);
	}
	RUN(dead_proxy_fails);
	if (rc_.w)
		http_client_close(&rc_);
	nu_stop(&srv);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return th_exit();
}
