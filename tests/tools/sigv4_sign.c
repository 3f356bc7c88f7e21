/*
 * sigv4_sign.c — a tiny driver around section 5 for tests/test_sigv4_botocore.py:
 * reads request descriptions on stdin, signs each with sig_sign() and prints
 * the Authorization value and our canonical request.
 *
 * Build (from the repository root; the test does this):
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -Ivendor/bearssl/inc -Ivendor/jsmn \
 *      -o sigv4_sign tests/tools/sigv4_sign.c vendor/build/host/libbearssl.a
 *
 * Input: fields "<key> <len>\n<len bytes>\n", so any byte can travel. Keys:
 * method, path, query, name (starts a header), value (its value), body, region,
 * service, akid, secret, token, time (decimal unix seconds; the signing time is
 * sig_amzdate() of it). "sign 0\n\n" signs what came since the last sign.
 * Output per request:
 *   "OK <n>\n<authorization value>\nCREQ <n>\n<canonical request>\n"  or
 *   "ERR <code> <n>\n<message>\n"
 */
#define ECSDEPLOY_TEST 1
#include "../../ecsdeploy.c"

#define TOOL_MAX_FIELD (64 * 1024)
#define TOOL_MAX_HDR ED_MAX_SIG_HEADERS

struct tool_req {
	char mem[16 * TOOL_MAX_FIELD];
	size_t used;
	struct sig_header hdr[TOOL_MAX_HDR];
	size_t nhdr;
	struct sig_req r;
	struct sig_creds c;
	int64_t t;
};

static struct tool_req tq;

static int
read_field(char *key, size_t keycap, struct sv *val)
{
	size_t n;
	int k;

	if (scanf("%31s %zu", key, &n) != 2 || keycap < 32)
		return -1;
	if (getchar() != '\n')
		return -1;
	if (n > sizeof(tq.mem) - tq.used)
		return -1;
	if (n > 0 && fread(tq.mem + tq.used, 1, n, stdin) != n)
		return -1;
	*val = sv_make(tq.mem + tq.used, n);
	tq.used += n;
	k = getchar();
	return k == '\n' ? 0 : -1;
}

static void
tool_reset(void)
{
	tq.used = 0;
	tq.nhdr = 0;
	memset(&tq.r, 0, sizeof(tq.r));
	memset(&tq.c, 0, sizeof(tq.c));
	tq.t = 0;
}

static void
tool_sign(void)
{
	static char cmem[ED_MAX_CANONICAL], smem[ED_MAX_CANONICAL], amem[4096];
	struct buf a, cb, sb;
	struct sv sh;
	struct err e;
	char date[17];
	int rc;

	tq.r.hdr = tq.hdr;
	tq.r.nhdr = tq.nhdr;
	sig_amzdate(tq.t, date);
	err_clear(&e);
	buf_init(&a, amem, sizeof(amem));
	rc = sig_sign(&tq.r, &tq.c, date, &a, &e);
	if (rc != 0) {
		printf("ERR %d %zu\n%s\n", rc, strlen(e.msg), e.msg);
		return;
	}
	buf_init(&cb, cmem, sizeof(cmem));
	buf_init(&sb, smem, sizeof(smem));
	rc = sig_canonical_request(&tq.r, &cb, &sb, &sh, &e);
	printf("OK %zu\n%s\nCREQ %zu\n", a.len, amem, cb.len);
	fwrite(cb.p, 1, cb.len, stdout);
	printf("\n");
}

int
main(void)
{
	char key[32];
	struct sv v;

	tool_reset();
	while (read_field(key, sizeof(key), &v) == 0) {
		if (strcmp(key, "method") == 0)
			tq.r.method = v;
		else if (strcmp(key, "path") == 0)
			tq.r.path = v;
		else if (strcmp(key, "query") == 0)
			tq.r.query = v;
		else if (strcmp(key, "body") == 0)
			tq.r.body = v;
		else if (strcmp(key, "region") == 0)
			tq.r.region = v;
		else if (strcmp(key, "service") == 0)
			tq.r.service = v;
		else if (strcmp(key, "akid") == 0)
			tq.c.akid = v;
		else if (strcmp(key, "secret") == 0)
			tq.c.secret = v;
		else if (strcmp(key, "token") == 0)
			tq.c.token = v;
		else if (strcmp(key, "time") == 0) {
			long long t = 0;
			size_t i;

			for (i = 0; i < v.n && v.p[i] >= '0' && v.p[i] <= '9'; i++)
				t = t * 10 + (v.p[i] - '0');
			tq.t = (int64_t)t;
		} else if (strcmp(key, "name") == 0) {
			if (tq.nhdr == TOOL_MAX_HDR) {
				fprintf(stderr, "sigv4_sign: too many headers\n");
				return 2;
			}
			tq.hdr[tq.nhdr].name = v;
			tq.hdr[tq.nhdr].value = sv_make("", 0);
			tq.nhdr++;
		} else if (strcmp(key, "value") == 0 && tq.nhdr > 0)
			tq.hdr[tq.nhdr - 1].value = v;
		else if (strcmp(key, "sign") == 0) {
			tool_sign();
			fflush(stdout);
			tool_reset();
		} else {
			fprintf(stderr, "sigv4_sign: unknown field '%s'\n", key);
			return 2;
		}
	}
	return feof(stdin) ? 0 : 2;
}
