/*
 * fuzz_json.c — libFuzzer harness for section 8.
 *   clang -fsanitize=fuzzer,address,undefined -Ivendor/bearssl/inc -Ivendor/jsmn \
 *     tests/fuzz/fuzz_json.c vendor/build/host/libbearssl.a
 * For any input: no crash (the sanitizers watch), and parsing it whole, as a
 * stream split at two offsets taken from the input, and as a stream byte by byte
 * (short inputs) gives the same answer: the same error message or the same
 * tokens; and jsmn never rejects what the validator accepted. On success every token is walked (json_next, json_child, json_str) and
 * every string goes through the writer and back through the reader unchanged.
 */
#define ECSDEPLOY_TEST 1
#define ED_MAX_JSON_BYTES 65536
#define ED_MAX_JSON_TOKENS 4096
#define ED_JSON_TOKENIZE_STEP 1   /* resume jsmn on every byte */
#define ED_MAX_JSON_DEPTH 24
#include "../../ecsdeploy.c"

#define NTOK 4096
static jsmntok_t tw[NTOK], ts[NTOK];
static char sbuf[ED_MAX_JSON_BYTES + 16];

static int
stream(const char *p, size_t n, size_t c1, size_t c2, int bytewise, struct json_doc *d, struct err *e)
{
	struct json_stream s;
	int rc = 0;
	size_t i;

	err_clear(e);
	json_stream_init(&s, sbuf, sizeof(sbuf), ts, NTOK);
	s.code = ED_EXIT_USAGE;   /* same code as json_parse, so messages and codes compare */
	if (bytewise) {
		for (i = 0; i < n && rc == 0; i++)
			rc = json_stream_feed(&s, p + i, 1, e);
	} else {
		rc = json_stream_feed(&s, p, c1, e);
		if (rc == 0)
			rc = json_stream_feed(&s, p + c1, c2 - c1, e);
		if (rc == 0)
			rc = json_stream_feed(&s, p + c2, n - c2, e);
	}
	if (rc == 0)
		rc = json_stream_finish(&s, d, e);
	return rc;
}

static void
compare(const char *data, size_t n, int rw, const struct err *ew, const struct json_doc *dw,
    size_t c1, size_t c2, int bytewise)
{
	struct json_doc ds;
	struct err es;
	int rs = stream(data, n, c1, c2, bytewise, &ds, &es), i;

	if (rs != rw || strcmp(es.msg, ew->msg) != 0)
		__builtin_trap();
	if (rw != 0)
		return;
	if (ds.ntok != dw->ntok || ds.len != dw->len)
		__builtin_trap();
	for (i = 0; i < ds.ntok; i++) {
		if (ds.tok[i].type != dw->tok[i].type || ds.tok[i].start != dw->tok[i].start ||
		    ds.tok[i].end != dw->tok[i].end || ds.tok[i].size != dw->tok[i].size ||
		    ds.tok[i].parent != dw->tok[i].parent)
			__builtin_trap();
	}
}

static void
walk(const struct json_doc *d)
{
	static char s1[ED_MAX_JSON_BYTES * 2], w1[ED_MAX_JSON_BYTES * 8], s2[ED_MAX_JSON_BYTES * 2];
	static jsmntok_t t2[8];
	int i;

	if (json_next(d, 0) != d->ntok)
		__builtin_trap();
	for (i = 0; i < d->ntok; i++) {
		struct buf b1, bw, b2;
		struct jw w;
		struct json_doc d2;
		struct err e;
		long v;
		double x;

		if (json_next(d, i) <= i || json_next(d, i) > d->ntok)
			__builtin_trap();
		if (d->tok[i].type == JSMN_ARRAY || d->tok[i].type == JSMN_OBJECT) {
			int k = i + 1, m, obj = d->tok[i].type == JSMN_OBJECT;

			/* sizes and parent links describe the tree the bytes do */
			for (m = 0; m < d->tok[i].size; m++) {
				if (k >= d->ntok || k != json_child(d, i, m) || d->tok[k].parent != i)
					__builtin_trap();
				if (obj && (d->tok[k].type != JSMN_STRING || d->tok[k].size != 1 ||
				    k + 1 >= d->ntok || d->tok[k + 1].parent != k))
					__builtin_trap();
				k = json_next(d, obj ? k + 1 : k);
			}
			if (k != json_next(d, i) || json_child(d, i, d->tok[i].size) != -1)
				__builtin_trap();
		}
		(void)json_long(d, i, &v);
		(void)json_double(d, i, &x);
		if (d->tok[i].type != JSMN_STRING)
			continue;
		buf_init(&b1, s1, sizeof(s1));
		if (json_str(d, i, &b1) != 0)
			__builtin_trap();
		if (!json_eq_sv(d, i, sv_make(s1, b1.len)))
			__builtin_trap();
		/* the unescaped value is valid UTF-8, so the writer keeps it exactly */
		buf_init(&bw, w1, sizeof(w1));
		jw_init(&w, &bw);
		jw_str(&w, sv_make(s1, b1.len));
		err_clear(&e);
		if (bw.overflow || json_parse(&d2, w1, bw.len, t2, 8, &e) != 0)
			__builtin_trap();
		buf_init(&b2, s2, sizeof(s2));
		if (json_str(&d2, 0, &b2) != 0 || b2.len != b1.len || memcmp(s1, s2, b1.len) != 0)
			__builtin_trap();
	}
	(void)json_get(d, 0, "a.0.b");
	(void)json_get(d, 0, "0.1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct json_doc dw;
	struct err ew;
	int rw;
	size_t c1, c2;

	if (n > ED_MAX_JSON_BYTES + 8)
		return 0;
	err_clear(&ew);
	rw = json_parse(&dw, (const char *)data, n, tw, NTOK, &ew);
	if ((rw == 0 && ew.msg[0] != '\0') || rw == ED_EXIT_INTERNAL)
		__builtin_trap();   /* jsmn must take whatever the validator passed */
	c1 = n ? (size_t)data[0] * 7919 % (n + 1) : 0;
	c2 = n ? (size_t)data[n - 1] * 104729 % (n + 1) : 0;
	if (c1 > c2) {
		size_t t = c1;

		c1 = c2;
		c2 = t;
	}
	compare((const char *)data, n, rw, &ew, &dw, c1, c2, 0);
	if (n <= 256)
		compare((const char *)data, n, rw, &ew, &dw, 0, 0, 1);
	if (rw == 0)
		walk(&dw);
	return 0;
}
