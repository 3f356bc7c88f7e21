/*
 * t_tls.c — section 6: the built-in anchors, PEM bundles, and real handshakes
 * against a local TLS server (tests/lib/faultsrv.py) with the test PKI of
 * tests/lib/mkpki.sh: a good certificate works; wrong host, expired,
 * self-signed and unknown-CA certificates fail with exit 22 and a message
 * naming the reason; the validation time comes from the world's clock.
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"
#include "netutil.h"

static struct nu_srv srv;   /* ports: server, wronghost, expired, selfsigned, unknownca */
static struct tls_anchors anchors;
static struct http_client hc;
static struct th_world tw;
static struct world w;

static char *
slurp(const char *path, size_t *n)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "rb");

	*n = 0;
	if (f == NULL)
		return buf;
	*n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[*n] = '\0';
	return buf;
}

static void
builtin_anchors_cover_aws(void)
{
	struct tls_anchors a;
	size_t i;
	int rsa = 0, ec = 0;

	tls_anchors_init(&a);
	CHECK(a.n == 7);
	for (i = 0; i < a.n; i++) {
		CHECK(a.ta[i].flags == BR_X509_TA_CA);
		CHECK(a.ta[i].dn.len > 20);
		if (a.ta[i].pkey.key_type == BR_KEYTYPE_RSA) {
			rsa++;
			CHECK(a.ta[i].pkey.key.rsa.nlen >= 256);
			CHECK(a.ta[i].pkey.key.rsa.n[0] != 0);
		} else {
			ec++;
			CHECK(a.ta[i].pkey.key.ec.q[0] == 0x04);
		}
	}
	CHECK(rsa == 5 && ec == 2);
	/* Amazon Root CA 1 is first; its DN ends in the CN's value */
	CHECK(memcmp(a.ta[0].dn.data + a.ta[0].dn.len - 16, "Amazon Root CA 1", 16) == 0);
}

static void
pem_bundle_adds_ca(void)
{
	struct tls_anchors a;
	struct err e;
	char path[512];

	err_clear(&e);
	tls_anchors_init(&a);
	snprintf(path, sizeof(path), "%s/ca.pem", srv.pki);
	CHECK(tls_anchors_add_file(&a, path, &e) == 0);
	CHECK(a.n == 8);
	CHECK(a.ta[7].flags == BR_X509_TA_CA);
	CHECK(a.ta[7].pkey.key_type == BR_KEYTYPE_EC);
}

static void
pem_bundle_many_and_leaf(void)
{
	struct tls_anchors a;
	struct err e;
	char path[512], both[16384];
	size_t n1, n2;
	char *t;

	err_clear(&e);
	tls_anchors_init(&a);
	snprintf(path, sizeof(path), "%s/ca.pem", srv.pki);
	t = slurp(path, &n1);
	memcpy(both, "junk before\n", 12);
	memcpy(both + 12, t, n1);
	snprintf(path, sizeof(path), "%s/selfsigned.pem", srv.pki);
	t = slurp(path, &n2);
	memcpy(both + 12 + n1, t, n2);
	CHECK(tls_anchors_add_pem(&a, both, 12 + n1 + n2, "both", &e) == 0);
	CHECK(a.n == 9);
	CHECK(a.ta[8].flags == 0);   /* a leaf: trusted directly, not as a CA */
}

static void
pem_bundle_errors(void)
{
	struct tls_anchors a;
	struct err e;
	const char *bad = "-----BEGIN CERTIFICATE-----\nMIIB!!!notbase64\n-----END CERTIFICATE-----\n";
	const char *notcert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

	tls_anchors_init(&a);
	err_clear(&e);
	CHECK(tls_anchors_add_pem(&a, "hello\n", 6, "x.pem", &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "no CERTIFICATE") != NULL);
	err_clear(&e);
	CHECK(tls_anchors_add_pem(&a, bad, strlen(bad), "bad.pem", &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "malformed PEM") != NULL);
	err_clear(&e);
	CHECK(tls_anchors_add_pem(&a, notcert, strlen(notcert), "n.pem", &e) == ED_EXIT_USAGE);
	CHECKF(strstr(e.msg, "not a valid X.509 certificate") != NULL, "%.400s", e.msg);
	err_clear(&e);
	CHECK(tls_anchors_add_file(&a, "/nonexistent/ca.pem", &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "cannot read CA bundle /nonexistent/ca.pem") != NULL);
	CHECK(a.n == a.nbuiltin);
}

struct body { char b[8192]; size_t n; };

static int
sink(void *ctx, const char *p, size_t n, struct err *e)
{
	struct body *b = ctx;

	(void)e;
	if (n > sizeof(b->b) - 1 - b->n)
		n = sizeof(b->b) - 1 - b->n;
	memcpy(b->b + b->n, p, n);
	b->n += n;
	b->b[b->n] = '\0';
	return 0;
}

/* One POST to https://localhost:port/; returns the http_do code, message in e. */
static int
call(int port, struct err *e, struct body *out)
{
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	struct http_hdr h[1];
	char url[64];

	snprintf(url, sizeof(url), "https://localhost:%d", port);
	err_clear(e);
	if (http_url_parse(&u, url, "test", e) != 0)
		return e->code;
	h[0].name = sv_z("X-Amz-Target");
	h[0].value = sv_z("AmazonEC2ContainerServiceV20141113.DescribeServices");
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z("POST");
	rq.path = sv_z("/");
	rq.hdr = h;
	rq.nhdr = 1;
	rq.body = sv_z("{}");
	rq.idempotent = 1;
	out->n = 0;
	out->b[0] = '\0';
	http_parser_init(&hp, 0, sink, out);
	return http_do(&hc, &u, &rq, &hp, e);
}

static void
setup_client(int with_ca)
{
	struct err e;
	char path[512];

	if (hc.w)
		http_client_close(&hc);
	th_world_bind(&w, &tw);
	tw.wall = (int64_t)time(NULL);
	tls_anchors_init(&anchors);
	if (with_ca) {
		err_clear(&e);
		snprintf(path, sizeof(path), "%s/ca.pem", srv.pki);
		tls_anchors_add_file(&anchors, path, &e);
	}
	http_client_init(&hc, &w, &anchors);
	hc.read_timeout_ms = 5000;
}

static void
good_certificate_works(void)
{
	struct err e;
	struct body b;

	setup_client(1);
	CHECKF(call(srv.port[0], &e, &b) == 0, "%.400s", e.msg);
	CHECK(strstr(b.b, "\"target\": \"AmazonEC2ContainerServiceV20141113.DescribeServices\"") != NULL);
	CHECK(hc.handshakes == 1);
	CHECKF(call(srv.port[0], &e, &b) == 0, "%.400s", e.msg);
	CHECK(hc.handshakes == 1);   /* the kept-alive connection carried the second call */
}

static void
expect_fail(int idx, int with_ca, const char *words)
{
	struct err e;
	struct body b;
	int rc;

	setup_client(with_ca);
	rc = call(srv.port[idx], &e, &b);
	CHECKF(rc == ED_EXIT_NETWORK, "rc %d: %.400s", rc, e.msg);
	CHECKF(strstr(e.msg, words) != NULL, "message was: %.400s", e.msg);
	CHECK(hc.handshakes == 0);
	CHECK(hc.last_retryable == 0);   /* a certificate does not get better by asking again */
}

static void wrong_host_fails(void) { expect_fail(1, 1, "certificate is not valid for host name localhost"); }
static void expired_fails(void) { expect_fail(2, 1, "certificate expired"); }
static void self_signed_fails(void) { expect_fail(3, 1, "self-signed certificate"); }
static void unknown_ca_fails(void) { expect_fail(4, 1, "issued by an unknown CA"); }
static void test_ca_needs_bundle(void) { expect_fail(0, 0, "issued by an unknown CA"); }

/* The expired certificate was valid in January 2020: with the world's clock there, it passes. */
static void
validation_time_comes_from_world(void)
{
	struct err e;
	struct body b;

	setup_client(1);
	tw.wall = 1579046400;   /* 2020-01-15 */
	CHECKF(call(srv.port[2], &e, &b) == 0, "%.400s", e.msg);
	setup_client(1);
	tw.wall = 1579046400;
	CHECK(call(srv.port[0], &e, &b) == ED_EXIT_NETWORK);   /* not yet valid then */
	CHECKF(strstr(e.msg, "expired or not yet valid") != NULL, "%.400s", e.msg);
}

static void
self_signed_trusted_by_bundle(void)
{
	struct err e;
	struct body b;
	char path[512];

	setup_client(0);
	snprintf(path, sizeof(path), "%s/selfsigned.pem", srv.pki);
	err_clear(&e);
	CHECK(tls_anchors_add_file(&anchors, path, &e) == 0);
	CHECKF(call(srv.port[3], &e, &b) == 0, "%.400s", e.msg);
}

/* One POST to https://HOST:port/. */
static int
call_host(const char *host, int port, struct err *e, struct body *out)
{
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	char url[96];

	snprintf(url, sizeof(url), "https://%s:%d", host, port);
	err_clear(e);
	if (http_url_parse(&u, url, "t", e) != 0)
		return e->code;
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z("POST");
	rq.path = sv_z("/");
	out->n = 0;
	out->b[0] = '\0';
	http_parser_init(&hp, 0, sink, out);
	return http_do(&hc, &u, &rq, &hp, e);
}

/* BearSSL matches DNS names only; IP literals are checked against iPAddress names. */
static void
ip_literal_matches_ip_names(void)
{
	struct err e;
	struct body b;

	setup_client(1);
	CHECKF(call_host("127.0.0.1", srv.port[0], &e, &b) == 0, "%.400s", e.msg);
	CHECK(strstr(b.b, "\"n\": ") != NULL);
	CHECK(hc.handshakes == 1);
	setup_client(1);
	CHECK(call_host("127.0.0.1", srv.port[1], &e, &b) == ED_EXIT_NETWORK);   /* wronghost: no IP names */
	CHECKF(strstr(e.msg, "certificate is not valid for IP address 127.0.0.1") != NULL, "%.400s", e.msg);
	CHECK(hc.last_retryable == 0 && hc.handshakes == 0);
	setup_client(1);
	CHECK(call_host("127.0.0.1", srv.port[2], &e, &b) == ED_EXIT_NETWORK);   /* expired: still refused */
	CHECKF(strstr(e.msg, "certificate expired") != NULL, "%.400s", e.msg);
	setup_client(1);
	CHECK(call_host("127.0.0.1", srv.port[4], &e, &b) == ED_EXIT_NETWORK);   /* unknown CA: still refused */
	CHECKF(strstr(e.msg, "unknown CA") != NULL, "%.400s", e.msg);
}

static void
anchors_match_generator(void)
{
	CHECK(system("python3 tests/tools/mkanchors.py --check ecsdeploy.c") == 0);
}

int
main(void)
{
	if (nu_start(&srv, "server,wronghost,expired,selfsigned,unknownca") != 0 || srv.port[4] == 0) {
		printf("FAIL: start faultsrv.py: no ports\n");
		return 1;
	}
	RUN(builtin_anchors_cover_aws);
	RUN(anchors_match_generator);
	RUN(pem_bundle_adds_ca);
	RUN(pem_bundle_many_and_leaf);
	RUN(pem_bundle_errors);
	RUN(good_certificate_works);
	RUN(wrong_host_fails);
	RUN(expired_fails);
	RUN(self_signed_fails);
	RUN(unknown_ca_fails);
	RUN(test_ca_needs_bundle);
	RUN(validation_time_comes_from_world);
	RUN(self_signed_trusted_by_bundle);
	RUN(ip_literal_matches_ip_names);
	if (hc.w)
		http_client_close(&hc);
	nu_stop(&srv);
	return th_exit();
}
