/*
 * t_json.c — section 8: the JSON reader and writer.
 * Fixtures in tests/json/ are parsed whole, byte by byte and split at every
 * offset and must give the same tokens; what JSON forbids is rejected with the
 * byte offset of the first wrong byte (under every split too); paths, children,
 * unescaping (surrogate pairs, lone surrogates -> U+FFFD); the writer's escaping
 * round-trips through the reader; the limits (shrunk here) give "too big".
 */
#define ECSDEPLOY_TEST 1
#define ED_MAX_JSON_BYTES 16384
#define ED_MAX_JSON_TOKENS 2048
#define ED_JSON_TOKENIZE_STEP 1   /* resume jsmn on every byte */
#define ED_MAX_JSON_DEPTH 32
#include "../ecsdeploy.c"
#include "harness.h"

#define NTOK 4096
static jsmntok_t tok_a[NTOK], tok_b[NTOK];
static char buf_a[ED_MAX_JSON_BYTES + 64];

static const char *fixtures[] = {
	"tests/json/describe_services.json", "tests/json/misc.json", "tests/json/root_string.json",
	"tests/json/root_number.json", "tests/json/root_true.json", "tests/json/empty_array.json",
	"tests/td/rich_describe.json",
};

static size_t
read_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return (size_t)-1;
	n = fread(out, 1, cap, f);
	fclose(f);
	return n;
}

/* Parses t as a stream cut at the offsets in cuts[] (ascending). Returns rc. */
static int
stream_parse(const char *t, size_t n, const size_t *cuts, int ncuts, struct json_doc *d,
    jsmntok_t *tok, struct err *e)
{
	struct json_stream s;
	size_t at = 0;
	int i, rc = 0;

	err_clear(e);
	json_stream_init(&s, buf_a, sizeof(buf_a), tok, NTOK);
	for (i = 0; i <= ncuts && rc == 0; i++) {
		size_t to = i < ncuts ? cuts[i] : n;

		rc = json_stream_feed(&s, t + at, to - at, e);
		at = to;
	}
	if (rc == 0)
		rc = json_stream_finish(&s, d, e);
	return rc;
}

static int
same_tokens(const struct json_doc *a, const struct json_doc *b)
{
	int i;

	if (a->ntok != b->ntok)
		return 0;
	for (i = 0; i < a->ntok; i++) {
		const jsmntok_t *x = &a->tok[i], *y = &b->tok[i];

		if (x->type != y->type || x->start != y->start || x->end != y->end ||
		    x->size != y->size || x->parent != y->parent)
			return 0;
	}
	return 1;
}

static void
test_fixtures_every_split(void)
{
	static char text[ED_MAX_JSON_BYTES];
	size_t f;

	for (f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
		size_t n = read_file(fixtures[f], text, sizeof(text)), i;
		struct json_doc whole, d;
		struct err e;
		char name[200];
		int ok = 1;
		char why[300] = "";

		snprintf(name, sizeof(name), "json/same tokens whole, byte by byte, every split: %s", fixtures[f]);
		if (n == (size_t)-1) {
			th_case(name, 0, "cannot read fixture");
			continue;
		}
		err_clear(&e);
		if (json_parse(&whole, text, n, tok_b, NTOK, &e) != 0 || whole.ntok < 1) {
			snprintf(why, sizeof(why), "json_parse: %.200s", e.msg);
			th_case(name, 0, why);
			continue;
		}
		/* whole, as a stream */
		if (stream_parse(text, n, NULL, 0, &d, tok_a, &e) != 0 || !same_tokens(&whole, &d)) {
			ok = 0;
			snprintf(why, sizeof(why), "whole stream differs: %.200s", e.msg);
		}
		/* every split into two */
		for (i = 0; ok && i <= n; i++) {
			if (stream_parse(text, n, &i, 1, &d, tok_a, &e) != 0 || !same_tokens(&whole, &d)) {
				ok = 0;
				snprintf(why, sizeof(why), "split at %zu differs: %.200s", i, e.msg);
			}
		}
		/* byte by byte */
		if (ok) {
			static size_t cuts[ED_MAX_JSON_BYTES];

			for (i = 0; i < n; i++)
				cuts[i] = i;
			if (stream_parse(text, n, cuts, (int)n, &d, tok_a, &e) != 0 || !same_tokens(&whole, &d)) {
				ok = 0;
				snprintf(why, sizeof(why), "byte by byte differs: %.200s", e.msg);
			}
		}
		th_case(name, ok, why);
	}
}

struct bad_case {
	const char *text;
	size_t len;        /* 0: strlen */
	size_t at;         /* byte offset named in the error */
};

static const struct bad_case bad[] = {
	{ "", 0, 0 },
	{ "   ", 0, 3 },
	{ "[1 2]", 0, 3 },
	{ "{\"a\"}", 0, 4 },
	{ "{\"a\":}", 0, 5 },
	{ "{\"a\" 1}", 0, 5 },
	{ "{1:2}", 0, 1 },
	{ "[\"a\":1]", 0, 4 },
	{ "tru", 0, 3 },
	{ "truex", 0, 4 },
	{ "nul", 0, 3 },
	{ "[nulL]", 0, 4 },
	{ "01", 0, 1 },
	{ "[01]", 0, 2 },
	{ "-", 0, 1 },
	{ "-a", 0, 1 },
	{ "1.", 0, 2 },
	{ "1.e5", 0, 2 },
	{ "1e", 0, 2 },
	{ "1e+", 0, 3 },
	{ "+1", 0, 0 },
	{ ".5", 0, 0 },
	{ "[1,]", 0, 3 },
	{ "[,1]", 0, 1 },
	{ "[1,,2]", 0, 3 },
	{ "{\"a\":1,}", 0, 7 },
	{ "{\"a\":1 \"b\":2}", 0, 7 },
	{ "{} x", 0, 3 },
	{ "{}{}", 0, 2 },
	{ "1 2", 0, 2 },
	{ "\"a\" \"b\"", 0, 4 },
	{ "[", 0, 1 },
	{ "{\"a\":[1,2}", 0, 9 },
	{ "]", 0, 0 },
	{ "\"abc", 0, 4 },
	{ "\"a\x01\"", 0, 2 },
	{ "\"a\tb\"", 0, 2 },
	{ "\"a\nb\"", 0, 2 },
	{ "\"\\x\"", 0, 2 },
	{ "\"\\u12g4\"", 0, 5 },
	{ "\"\\u12\"", 0, 5 },
	{ "[1]\0", 4, 3 },
	{ "[1,\0 2]", 7, 3 },
	{ "\"\xc3\x28\"", 0, 2 },
	{ "\"\xc0\xaf\"", 0, 1 },
	{ "\"\xed\xa0\x80\"", 0, 2 },
	{ "\"\xf4\x90\x80\x80\"", 0, 2 },
	{ "\"\xe2\x82\"", 0, 3 },
	{ "\"\xff\"", 0, 1 },
	{ "\xef\xbb\xbf{}", 0, 0 },
	{ "[TRUE]", 0, 1 },
	{ "NaN", 0, 0 },
	{ "{'a':1}", 0, 1 },
};

static void
test_rejects_what_json_forbids(void)
{
	size_t k;

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		const struct bad_case *c = &bad[k];
		size_t n = c->len ? c->len : strlen(c->text), i;
		struct json_doc d;
		struct err e;
		char want[120], name[200], why[400] = "";
		int ok = 1;

		snprintf(want, sizeof(want), "malformed JSON at byte %zu:", c->at);
		snprintf(name, sizeof(name), "json/rejects case %zu (error at byte %zu)", k, c->at);
		err_clear(&e);
		if (json_parse(&d, c->text, n, tok_a, NTOK, &e) != ED_EXIT_USAGE ||
		    strncmp(e.msg, want, strlen(want)) != 0) {
			ok = 0;
			snprintf(why, sizeof(why), "json_parse said '%.200s'", e.msg);
		}
		for (i = 0; ok && i <= n; i++) {
			int rc = stream_parse(c->text, n, &i, 1, &d, tok_a, &e);

			if (rc != ED_EXIT_AWS || strncmp(e.msg, want, strlen(want)) != 0) {
				ok = 0;
				snprintf(why, sizeof(why), "split at %zu: rc=%d '%.200s'", i, rc, e.msg);
			}
		}
		th_case(name, ok, why);
	}
}

static const char *const good[] = {
	"0", "-0", " 1 ", "-0.0e+5", "1E9", "\"\"", "\"x\"", "true", "false", "null",
	"[]", "{}", " [ [ [ ] ] ] ", "{\"a\":{\"b\":[1,{\"c\":null}]}}",
	"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80 \xc3\xa9 \xe2\x98\x83 \xf4\x8f\xbf\xbf\"",
	"\"\\u0000\"", "[1,-2.5e-3,0.5,10]", "\t\r\n{\"a\" : 1 , \"b\":[ true ,false]}\n",
};

static void
test_accepts_json(void)
{
	size_t k;

	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		struct json_doc d;
		struct err e;
		char name[200];

		err_clear(&e);
		snprintf(name, sizeof(name), "json/accepts case %zu", k);
		th_case(name, json_parse(&d, good[k], strlen(good[k]), tok_a, NTOK, &e) == 0 &&
		    d.ntok >= 1 && d.tok[0].parent == -1, e.msg);
	}
}

static void
test_root_primitive_token(void)
{
	struct json_doc d;
	struct err e;
	long v;

	err_clear(&e);
	CHECK(json_parse(&d, " 42 ", 4, tok_a, NTOK, &e) == 0);
	CHECK(d.ntok == 1 && d.tok[0].type == JSMN_PRIMITIVE);
	CHECK(json_long(&d, 0, &v) == 0 && v == 42);
	CHECK(stream_parse("-7", 2, NULL, 0, &d, tok_a, &e) == 0);
	CHECK(json_long(&d, 0, &v) == 0 && v == -7);
}

static struct json_doc ds;
static char ds_text[ED_MAX_JSON_BYTES];

static void
load_services(void)
{
	struct err e;
	size_t n = read_file("tests/json/describe_services.json", ds_text, sizeof(ds_text));

	err_clear(&e);
	if (n == (size_t)-1 || json_parse(&ds, ds_text, n, tok_b, NTOK, &e) != 0)
		memset(&ds, 0, sizeof(ds));
}

static void
test_paths(void)
{
	long v;
	int t, i, n;
	double x;

	load_services();
	CHECK(ds.ntok > 0);
	CHECK(json_eq(&ds, json_get(&ds, 0, "services.0.serviceName"), "web"));
	CHECK(json_eq(&ds, json_get(&ds, 0, "services.1.serviceName"), "worker"));
	CHECK(json_eq(&ds, json_get(&ds, 0, "services.0.deployments.0.rolloutState"), "COMPLETED"));
	CHECK(json_long(&ds, json_get(&ds, 0, "services.0.desiredCount"), &v) == 0 && v == 3);
	CHECK(json_long(&ds, json_get(&ds, 0, "services.0.deploymentConfiguration.maximumPercent"), &v) == 0 && v == 200);
	CHECK(json_double(&ds, json_get(&ds, 0, "services.0.deployments.0.createdAt"), &x) == 0 &&
	    x > 1700000123.4 && x < 1700000123.5);
	CHECK(json_long(&ds, json_get(&ds, 0, "services.0.deployments.0.createdAt"), &v) == -1);
	CHECK(json_get(&ds, 0, "services.2") == -1);
	CHECK(json_get(&ds, 0, "services.x") == -1);
	CHECK(json_get(&ds, 0, "nope") == -1);
	CHECK(json_get(&ds, 0, "services.0.serviceName.x") == -1);
	CHECK(json_get(&ds, 0, "") == 0);
	t = json_get(&ds, 0, "services.0");
	CHECK(json_eq(&ds, json_get(&ds, t, "status"), "ACTIVE"));
	CHECK(ds.tok[json_get(&ds, 0, "failures")].type == JSMN_ARRAY &&
	    ds.tok[json_get(&ds, 0, "failures")].size == 0);
	/* iterate: event ids in order, with json_child and with json_next */
	t = json_get(&ds, 0, "services.0.events");
	n = ds.tok[t].size;
	CHECK(n == 2);
	CHECK(json_eq(&ds, json_get(&ds, json_child(&ds, t, 0), "id"), "e1"));
	CHECK(json_eq(&ds, json_get(&ds, json_child(&ds, t, 1), "id"), "e2"));
	CHECK(json_child(&ds, t, 2) == -1);
	CHECK(json_next(&ds, json_child(&ds, t, 0)) == json_child(&ds, t, 1));
	/* object keys in order */
	t = json_get(&ds, 0, "services.0.deploymentConfiguration");
	CHECK(json_eq(&ds, json_child(&ds, t, 0), "deploymentCircuitBreaker"));
	CHECK(json_eq(&ds, json_child(&ds, t, 1), "maximumPercent"));
	CHECK(json_eq(&ds, json_child(&ds, t, 2), "minimumHealthyPercent"));
	/* the whole document's last token is reached by json_next of the root */
	CHECK(json_next(&ds, 0) == ds.ntok);
	for (i = 0; i < ds.ntok; i++)
		CHECK(json_next(&ds, i) > i && json_next(&ds, i) <= ds.ntok);
	/* raw and span */
	t = json_get(&ds, 0, "services.1.serviceName");
	CHECK(sv_eqz(json_raw(&ds, t), "worker") && sv_eqz(json_span(&ds, t), "\"worker\""));
	t = json_get(&ds, 0, "services.0.deploymentConfiguration.deploymentCircuitBreaker");
	CHECK(sv_eqz(json_span(&ds, t), "{\"enable\":true,\"rollback\":true}"));
}

static void
test_escaped_keys_and_dups(void)
{
	static char text[4096];
	size_t n = read_file("tests/json/misc.json", text, sizeof(text));
	struct json_doc d;
	struct err e;
	long v;

	err_clear(&e);
	CHECK(n != (size_t)-1 && json_parse(&d, text, n, tok_a, NTOK, &e) == 0);
	CHECK(json_eq(&d, json_get(&d, 0, "name"), "escaped key"));
	CHECK(json_long(&d, json_get(&d, 0, "dup"), &v) == 0 && v == 1);   /* first one */
	CHECK(sv_eqz(json_raw(&d, json_get(&d, 0, "numbers.2")), "1.0e3"));
	CHECK(sv_eqz(json_raw(&d, json_get(&d, 0, "numbers.6")), "123456789012345678901234567890"));
	CHECK(json_long(&d, json_get(&d, 0, "numbers.6"), &v) == -1);      /* does not fit */
	CHECK(json_eq(&d, json_get(&d, 0, "nested.0.0.0.0.deep.1.1.0"), "") == 0);
	CHECK(sv_eqz(json_raw(&d, json_get(&d, 0, "nested.0.0.0.0.deep.1.1.0")), "3"));
	CHECK(json_eq(&d, json_get(&d, 0, "empty.s"), ""));
	CHECK(json_get(&d, 0, "empty.o") > 0 && d.tok[json_get(&d, 0, "empty.o")].size == 0);
}

struct unesc_case {
	const char *json;   /* a JSON string, with quotes */
	const char *want;
	size_t want_len;    /* 0: strlen */
};

static const struct unesc_case unesc[] = {
	{ "\"plain\"", "plain", 0 },
	{ "\"caf\\u00e9\"", "caf\xc3\xa9", 0 },
	{ "\"\\u00E9\\u2603\"", "\xc3\xa9\xe2\x98\x83", 0 },
	{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 0 },
	{ "\"\\uD83D\\uDE00!\"", "\xf0\x9f\x98\x80!", 0 },
	{ "\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 0 },
	{ "\"\\ud83d\"", "\xef\xbf\xbd", 0 },
	{ "\"\\ud83dx\"", "\xef\xbf\xbdx", 0 },
	{ "\"\\ud83d\\u0041\"", "\xef\xbf\xbd" "A", 0 },
	{ "\"\\ud83d\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80", 0 },
	{ "\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd", 0 },
	{ "\"\\ude00\"", "\xef\xbf\xbd", 0 },
	{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 0 },
	{ "\"a\\u0000b\"", "a\0b", 3 },
	{ "\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 0 },
	{ "\"\xe2\x98\x83 raw\"", "\xe2\x98\x83 raw", 0 },
};

static void
test_unescape(void)
{
	size_t k;

	for (k = 0; k < sizeof(unesc) / sizeof(unesc[0]); k++) {
		const struct unesc_case *c = &unesc[k];
		size_t wl = c->want_len ? c->want_len : strlen(c->want);
		struct json_doc d;
		struct err e;
		char out[64], name[120];
		struct buf b;
		int ok;

		err_clear(&e);
		buf_init(&b, out, sizeof(out));
		ok = json_parse(&d, c->json, strlen(c->json), tok_a, NTOK, &e) == 0 &&
		    json_str(&d, 0, &b) == 0 && b.len == wl && memcmp(out, c->want, wl) == 0 &&
		    (memchr(c->want, 0, wl) != NULL || json_eq(&d, 0, c->want));
		snprintf(name, sizeof(name), "json/unescape case %zu %s", k, c->json);
		th_case(name, ok, "wrong bytes");
	}
}

static void
test_str_overflow_and_types(void)
{
	struct json_doc d;
	struct err e;
	char out[4];
	struct buf b;

	err_clear(&e);
	CHECK(json_parse(&d, "[\"abcdef\",1]", 12, tok_a, NTOK, &e) == 0);
	buf_init(&b, out, sizeof(out));
	CHECK(json_str(&d, 1, &b) == -1 && b.overflow);
	buf_init(&b, out, sizeof(out));
	CHECK(json_str(&d, 2, &b) == -1);      /* a number is not a string */
	CHECK(json_str(&d, 0, &b) == -1);      /* nor an array */
	CHECK(!json_eq(&d, 2, "1"));
	CHECK(json_str(&d, 99, &b) == -1 && json_next(&d, 99) == -1 && json_child(&d, 99, 0) == -1);
}

/* ---- writer ---- */

static void
test_writer_shapes(void)
{
	char mem[512];
	struct buf b;
	struct jw w;

	buf_init(&b, mem, sizeof(mem));
	jw_init(&w, &b);
	jw_obj(&w);
	jw_key(&w, "a");
	jw_long(&w, -5);
	jw_key(&w, "b");
	jw_arr(&w);
	jw_bool(&w, 1);
	jw_bool(&w, 0);
	jw_obj(&w);
	jw_end(&w);
	jw_arr(&w);
	jw_end(&w);
	jw_strz(&w, "x");
	jw_raw(&w, sv_z("{\"r\":[1.50]}"));
	jw_end(&w);
	jw_key(&w, "q\"k");
	jw_str(&w, sv_make("", 0));
	jw_key_raw(&w, sv_z("n\\u0061me"));
	jw_long(&w, 0);
	jw_end(&w);
	CHECKF(strcmp(mem, "{\"a\":-5,\"b\":[true,false,{},[],\"x\",{\"r\":[1.50]}],\"q\\\"k\":\"\",\"n\\u0061me\":0}") == 0,
	    "got %.200s", mem);
	CHECK(!b.overflow && w.depth == 0);
	jw_end(&w);                 /* one too many */
	CHECK(b.overflow);
}

static void
test_writer_escapes(void)
{
	char mem[256];
	struct buf b;
	struct jw w;

	buf_init(&b, mem, sizeof(mem));
	jw_init(&w, &b);
	jw_str(&w, sv_make("a\"b\\c/\n\t\x01\x1f\x7f\0z", 13));
	CHECKF(strcmp(mem, "\"a\\\"b\\\\c/\\u000a\\u0009\\u0001\\u001f\x7f\\u0000z\"") == 0, "got %.200s", mem);
	buf_init(&b, mem, sizeof(mem));
	jw_init(&w, &b);
	/* valid UTF-8 kept; invalid bytes each become U+FFFD */
	jw_strz(&w, "\xc3\xa9\xf0\x9f\x98\x80|\xff|\xc3|\xc0\xaf|\xed\xa0\x80|\xe2\x82|\xf4\x90\x80\x80");
	CHECKF(strcmp(mem, "\"\xc3\xa9\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"") == 0, "got %.200s", mem);
	/* overflow is flagged, not written past */
	buf_init(&b, mem, 8);
	jw_init(&w, &b);
	jw_strz(&w, "0123456789");
	CHECK(b.overflow && strlen(mem) < 8);
}

/* Deterministic pseudo-random bytes (xorshift). */
static uint32_t rnd_state = 2463534242u;

static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* The expected reading of jw_str's output: invalid bytes replaced by U+FFFD. */
static size_t
expect_sanitised(const unsigned char *p, size_t n, char *out)
{
	size_t i = 0, o = 0;

	while (i < n) {
		size_t k = utf8_valid_len(p + i, n - i);

		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, p + i, k);
			o += k;
			i += k;
		}
	}
	return o;
}

static void
test_writer_round_trip(void)
{
	int round;

	for (round = 0; round < 20000; round++) {
		unsigned char in[40];
		char mem[512], back[512], want[160];
		struct buf b, bb;
		struct jw w;
		struct json_doc d;
		struct err e;
		size_t n = rnd() % sizeof(in), i, wl;

		for (i = 0; i < n; i++) {
			uint32_t r = rnd();

			/* mostly interesting bytes: controls, quotes, UTF-8 pieces */
			in[i] = (unsigned char)(r % 4 == 0 ? (uint32_t)(unsigned char)"\"\\\n\x01\x1f/\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\xed\xff"[(r >> 8) % 18]
			    : r >> 8);
		}
		buf_init(&b, mem, sizeof(mem));
		jw_init(&w, &b);
		jw_arr(&w);
		jw_str(&w, sv_make((const char *)in, n));
		jw_end(&w);
		err_clear(&e);
		buf_init(&bb, back, sizeof(back));
		wl = expect_sanitised(in, n, want);
		if (b.overflow || json_parse(&d, mem, b.len, tok_a, NTOK, &e) != 0 ||
		    json_str(&d, 1, &bb) != 0 || bb.len != wl || memcmp(back, want, wl) != 0) {
			CHECKF(0, "round %d: %.200s", round, e.msg);
			return;
		}
		/* and a valid string comes back exactly */
		if (expect_sanitised(in, n, want) == n && memcmp(want, in, n) == 0)
			CHECK(bb.len == n && memcmp(back, in, n) == 0);
	}
}

/* ---- limits ---- */

static void
test_limit_bytes(void)
{
	static char big[ED_MAX_JSON_BYTES + 10];
	struct json_doc d;
	struct err e;
	struct json_stream s;
	size_t n = ED_MAX_JSON_BYTES + 1;
	int rc, i;

	big[0] = '"';
	memset(big + 1, 'a', n - 2);
	big[n - 1] = '"';
	err_clear(&e);
	CHECK(json_parse(&d, big, n, tok_a, NTOK, &e) == ED_EXIT_USAGE);
	CHECK(strcmp(e.msg, "too big: ED_MAX_JSON_BYTES") == 0);
	/* exactly at the limit is fine */
	big[n - 2] = '"';
	err_clear(&e);
	CHECK(json_parse(&d, big, n - 1, tok_a, NTOK, &e) == 0);
	big[n - 2] = 'a';
	/* streamed in chunks: the chunk that crosses the limit fails, and stays failed */
	err_clear(&e);
	json_stream_init(&s, buf_a, sizeof(buf_a), tok_a, NTOK);
	rc = 0;
	for (i = 0; rc == 0 && (size_t)i * 1000 < n; i++)
		rc = json_stream_feed(&s, big + i * 1000, (size_t)i * 1000 + 1000 <= n ? 1000 : n - (size_t)i * 1000, &e);
	CHECK(rc == ED_EXIT_AWS && strcmp(e.msg, "too big: ED_MAX_JSON_BYTES") == 0);
	CHECK(json_stream_feed(&s, "x", 1, &e) == ED_EXIT_AWS);
	CHECK(json_stream_finish(&s, &d, &e) == ED_EXIT_AWS && d.ntok == 0);
	/* a caller buffer smaller than the limit is the limit */
	err_clear(&e);
	json_stream_init(&s, buf_a, 10, tok_a, NTOK);
	CHECK(json_stream_feed(&s, "[1,2,3,4,5]", 11, &e) == ED_EXIT_AWS &&
	    strcmp(e.msg, "too big: ED_MAX_JSON_BYTES") == 0);
}

static void
test_limit_tokens(void)
{
	static char text[ED_MAX_JSON_BYTES];
	struct json_doc d;
	struct err e;
	size_t n = 0;
	int i;

	text[n++] = '[';
	for (i = 0; i < ED_MAX_JSON_TOKENS; i++) {
		text[n++] = '1';
		text[n++] = ',';
	}
	text[n - 1] = ']';   /* ED_MAX_JSON_TOKENS elements + the array */
	err_clear(&e);
	CHECK(json_parse(&d, text, n, tok_a, NTOK, &e) == ED_EXIT_USAGE);
	CHECK(strcmp(e.msg, "too big: ED_MAX_JSON_TOKENS") == 0);
	err_clear(&e);
	CHECK(stream_parse(text, n, NULL, 0, &d, tok_a, &e) == ED_EXIT_AWS &&
	    strcmp(e.msg, "too big: ED_MAX_JSON_TOKENS") == 0);
	/* one element fewer fits exactly */
	memmove(text + 1, text + 3, n - 3);
	n -= 2;
	err_clear(&e);
	CHECK(json_parse(&d, text, n, tok_a, NTOK, &e) == 0 && d.ntok == ED_MAX_JSON_TOKENS);
	/* a caller token array smaller than the limit */
	err_clear(&e);
	CHECK(json_parse(&d, "[1,2,3]", 7, tok_a, 3, &e) == ED_EXIT_USAGE &&
	    strcmp(e.msg, "too big: ED_MAX_JSON_TOKENS") == 0);
	err_clear(&e);
	CHECK(json_parse(&d, "7", 1, tok_a, 0, &e) == ED_EXIT_USAGE &&
	    strcmp(e.msg, "too big: ED_MAX_JSON_TOKENS") == 0);
}

static void
test_limit_depth(void)
{
	struct json_doc d;
	struct err e;
	int i, n;

	for (n = ED_MAX_JSON_DEPTH; n <= ED_MAX_JSON_DEPTH + 1; n++) {
		/* objects need keys: {"k":[{"k":[ ... ]}]} */
		{
			char t2[400];
			size_t m = 0;

			for (i = 0; i < n; i++) {
				if (i % 2 == 0) {
					memcpy(t2 + m, "{\"k\":", 5);
					m += 5;
				} else {
					t2[m++] = '[';
				}
			}
			for (i = n - 1; i >= 0; i--)
				t2[m++] = i % 2 ? ']' : '}';
			err_clear(&e);
			if (n == ED_MAX_JSON_DEPTH) {
				CHECKF(json_parse(&d, t2, m, tok_a, NTOK, &e) == 0, "depth %d: %.200s", n, e.msg);
			} else {
				CHECK(json_parse(&d, t2, m, tok_a, NTOK, &e) == ED_EXIT_USAGE);
				CHECKF(strcmp(e.msg, "too big: ED_MAX_JSON_DEPTH") == 0, "got %.200s", e.msg);
			}
		}
	}
}

/* The stream copies into its buffer; the caller may also receive straight into it. */
static void
test_zero_copy_feed(void)
{
	struct json_stream s;
	struct json_doc d;
	struct err e;
	const char *t = "{\"a\":[1,2]}";
	size_t i;

	err_clear(&e);
	json_stream_init(&s, buf_a, sizeof(buf_a), tok_a, NTOK);
	for (i = 0; i < strlen(t); i++) {
		buf_a[i] = t[i];
		CHECK(json_stream_feed(&s, buf_a + i, 1, &e) == 0);
	}
	CHECK(json_stream_finish(&s, &d, &e) == 0 && d.ntok == 5 && d.js == buf_a);
	CHECK(json_eq(&d, 1, "a") && sv_eqz(json_raw(&d, json_get(&d, 0, "a.1")), "2"));
}

int
main(void)
{
	test_fixtures_every_split();
	test_rejects_what_json_forbids();
	test_accepts_json();
	RUN(test_root_primitive_token);
	RUN(test_paths);
	RUN(test_escaped_keys_and_dups);
	test_unescape();
	RUN(test_str_overflow_and_types);
	RUN(test_writer_shapes);
	RUN(test_writer_escapes);
	RUN(test_writer_round_trip);
	RUN(test_limit_bytes);
	RUN(test_limit_tokens);
	RUN(test_limit_depth);
	RUN(test_zero_copy_feed);
	return th_exit();
}
