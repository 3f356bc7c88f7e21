/*
 * fuzz_http.c — libFuzzer harness for the HTTP response parser (section 7).
 *
 *   clang -fsanitize=fuzzer,address,undefined -std=c99 -D_POSIX_C_SOURCE=200809L \
 *     -Ivendor/bearssl/inc -Ivendor/jsmn tests/fuzz/fuzz_http.c vendor/build/host/libbearssl.a
 *
 * The first input byte picks how the rest is split (1..256-byte pieces, or all
 * at once), the second whether it answers a CONNECT; the rest is fed to
 * http_parser_feed, then EOF. Invariants checked besides memory safety: the
 * parser never consumes more than it was given, the body sink never sees more
 * than ED_MAX_HTTP_BODY bytes in total, a finished parse has a status 100..999,
 * and errors are always ED_EXIT_NETWORK with a message.
 */
#define ECSDEPLOY_TEST 1
#define ED_MAX_HTTP_BODY 4096
#define ED_MAX_HTTP_HEAD 2048
#define ED_MAX_HTTP_LINE 512
#include "../../ecsdeploy.c"

static size_t fz_body;

static int
fz_sink(void *ctx, const char *p, size_t n, struct err *e)
{
	(void)ctx;
	(void)e;
	if (n > 0 && p == NULL)
		abort();
	fz_body += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_parser hp;
	struct err e;
	size_t piece, off = 0;
	int rc = 0;

	if (size < 2)
		return 0;
	piece = data[0] ? data[0] : size;
	err_clear(&e);
	fz_body = 0;
	http_parser_init(&hp, data[1] & 1, fz_sink, NULL);
	data += 2;
	size -= 2;
	while (off < size && rc == 0 && !http_parser_done(&hp)) {
		size_t n = piece < size - off ? piece : size - off, used = 0;

		rc = http_parser_feed(&hp, (const char *)data + off, n, &used, &e);
		if (used > n)
			abort();
		off += used;
		if (rc == 0 && used < n && !http_parser_done(&hp))
			abort();   /* only a finished response leaves bytes over */
	}
	if (rc == 0 && !http_parser_done(&hp))
		rc = http_parser_eof(&hp, &e);
	if (fz_body > ED_MAX_HTTP_BODY)
		abort();
	if (rc != 0 && (rc != ED_EXIT_NETWORK || e.msg[0] == '\0'))
		abort();
	if (rc == 0 && (!http_parser_done(&hp) || hp.r.status < 100 || hp.r.status > 999))
		abort();
	return 0;
}
