/*
 * t_transport_limits.c — sections 6, 7 and 10 with their limits shrunk, so every
 * "too big: ED_MAX_..." path is reached: anchors, anchor bytes, bundle size,
 * certificate size, response body, and the request.
 */
#define ECSDEPLOY_TEST 1
#define ED_MAX_ANCHORS 8          /* 7 built-in + 1 */
#define ED_MAX_ANCHOR_BYTES 200
#define ED_MAX_CA_BUNDLE 1500
#define ED_MAX_CERT 300
#define ED_MAX_HTTP_BODY 10
#include "../ecsdeploy.c"
#include "harness.h"
#include "netutil.h"

static char *
slurp(const char *path, size_t *n)
{
	static char buf[1 << 16];
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
anchor_limits(void)
{
	static struct tls_anchors a;
	struct err e;
	char path[512], two[8192];
	size_t n;
	const char *pem;

	snprintf(path, sizeof(path), "%s/ca.pem", nu_pki());
	pem = slurp(path, &n);
	CHECK(n > 300 && n < 1500);
	memcpy(two, pem, n);
	memcpy(two + n, pem, n);
	tls_anchors_init(&a);
	err_clear(&e);
	CHECKF(tls_anchors_add_pem(&a, two, 2 * n, "two", &e) == ED_EXIT_USAGE, "%.400s", e.msg);
	/* the CA's DER is over 300 bytes: ED_MAX_CERT first */
	CHECKF(strstr(e.msg, "too big: ED_MAX_CERT") != NULL, "%.400s", e.msg);
}

static void
bundle_file_limit(void)
{
	static struct tls_anchors a;
	struct err e;
	char path[512];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/big.pem", nu_pki());
	f = fopen(path, "w");
	for (i = 0; i < 200; i++)
		fputs("# padding line\n", f);
	fclose(f);
	tls_anchors_init(&a);
	err_clear(&e);
	CHECK(tls_anchors_add_file(&a, path, &e) == ED_EXIT_USAGE);
	CHECKF(strstr(e.msg, "too big: ED_MAX_CA_BUNDLE") != NULL, "%.400s", e.msg);
}

static void
anchor_count_and_bytes(void)
{
	static struct tls_anchors a;
	struct err e;
	unsigned char der[ED_MAX_CERT];

	/* a tiny DER that is not a certificate still fails as such */
	tls_anchors_init(&a);
	memset(der, 0, sizeof(der));
	err_clear(&e);
	CHECK(tls_anchors_add_der(&a, der, 10, "x", &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "not a valid X.509 certificate") != NULL);
	/* the count: 7 built-in + 1 fits; a second would not */
	a.n = ED_MAX_ANCHORS;
	err_clear(&e);
	CHECK(tls_anchors_add_der(&a, der, 10, "y", &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "too big: ED_MAX_ANCHORS") != NULL);
	/* the bytes */
	a.used = sizeof(a.mem) - 5;
	CHECK(tls_anchors_keep(&a, der, 6) == NULL);
	CHECK(tls_anchors_keep(&a, der, 5) != NULL);
}

static void
body_limit(void)
{
	static struct http_parser hp;
	const char *r1 = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n";
	const char *r2 = "HTTP/1.1 200 OK\r\n\r\n0123456789A";
	struct err e;
	size_t used;

	err_clear(&e);
	http_parser_init(&hp, 0, NULL, NULL);
	CHECK(http_parser_feed(&hp, r1, strlen(r1), &used, &e) == ED_EXIT_NETWORK);
	CHECK(strstr(e.msg, "too big: ED_MAX_HTTP_BODY") != NULL);
	err_clear(&e);
	http_parser_init(&hp, 0, NULL, NULL);
	CHECK(http_parser_feed(&hp, r2, strlen(r2), &used, &e) == ED_EXIT_NETWORK);
	CHECK(strstr(e.msg, "too big: ED_MAX_HTTP_BODY") != NULL);
}

int
main(void)
{
	RUN(anchor_limits);
	RUN(bundle_file_limit);
	RUN(anchor_count_and_bytes);
	RUN(body_limit);
	return th_exit();
}
