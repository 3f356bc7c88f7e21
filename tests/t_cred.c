/*
 * t_cred.c — the credential layer (§7.1, §7.2, §8) without a network: the
 * shared-file INI reader, the shlex-style splitter for credential_process,
 * the XML field reader (whole, truncated at every offset, garbage, bounds),
 * ISO 8601, every source against fake files / processes / HTTP, the chain's
 * precedence rules and the region lookup. The real process runner is tested
 * against /bin/sh scripts. STS pieces are tested by tests/test_creds.py.
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"

/* ---- fakes ------------------------------------------------------------------ */

struct fake_file { const char *path, *text; int err; };
struct fake_http { const char *method, *url; int status; const char *body; int neterr; };

static struct fake {
	struct fake_file files[16];
	struct fake_http http[16];
	int nhttp_calls;
	char http_log[4096];
	const char *proc_out;
	int proc_rc, proc_status;
	char proc_argv[1024];
} F;

static int
fake_read_file(void *ctx, const char *path, struct buf *out, int *errnum)
{
	int i;

	(void)ctx;
	for (i = 0; i < 16 && F.files[i].path; i++) {
		if (strcmp(F.files[i].path, path) == 0) {
			if (F.files[i].err) {
				*errnum = F.files[i].err;
				return -1;
			}
			buf_putz(out, F.files[i].text);
			return 0;
		}
	}
	*errnum = ENOENT;
	return -1;
}

static int
fake_run(void *ctx, char *const argv[], struct buf *out, int timeout_ms, int *status, int *errnum)
{
	int i;

	(void)ctx;
	(void)timeout_ms;
	F.proc_argv[0] = '\0';
	for (i = 0; argv[i]; i++) {
		strcat(F.proc_argv, "[");
		strcat(F.proc_argv, argv[i]);
		strcat(F.proc_argv, "]");
	}
	if (F.proc_rc == -1)
		*errnum = ENOENT;
	if (F.proc_out)
		buf_putz(out, F.proc_out);
	*status = F.proc_status;
	return F.proc_rc;
}

static int
fake_http(void *ctx, const struct cred_http *rq, struct buf *out, int *status, struct err *e)
{
	int i;

	(void)ctx;
	F.nhttp_calls++;
	snprintf(F.http_log + strlen(F.http_log), sizeof(F.http_log) - strlen(F.http_log),
	    "%s %s%s%s%s%s|", rq->method, rq->url, rq->nhdr ? " " : "", rq->nhdr ? rq->hname[0] : "",
	    rq->nhdr ? "=" : "", rq->nhdr ? rq->hval[0] : "");
	for (i = 0; i < 16 && F.http[i].url; i++) {
		if (strcmp(F.http[i].method, rq->method) == 0 && strcmp(F.http[i].url, rq->url) == 0) {
			if (F.http[i].neterr)
				return err_set(e, ED_EXIT_NETWORK, "connect %s: timed out", rq->url);
			*status = F.http[i].status;
			buf_putz(out, F.http[i].body);
			return 0;
		}
	}
	return err_set(e, ED_EXIT_NETWORK, "connect %s: refused", rq->url);
}

/*
 * Fake STS: answers AssumeRole / AssumeRoleWithWebIdentity with keys named
 * after the role ("AKID-<role name>"), GetCallerIdentity with the signer's
 * key id; RoleArns containing "denied" get an AccessDenied error body whose
 * message echoes the web token (to prove it is cut out). Every call is
 * logged as "<Action> <RoleArn> signer=<akid|->|".
 */
static char sts_log[8192];
static char sts_forms[8192];
static int sts_calls;
static int64_t sts_expiry = 1893456000;   /* 2030-01-01 */

static struct sv
form_get(struct sv form, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key), i = 0, o = 0;

	while (i < form.n) {
		size_t st = i;

		while (i < form.n && form.p[i] != '&')
			i++;
		if (i - st > kl && memcmp(form.p + st, key, kl) == 0 && form.p[st + kl] == '=') {
			size_t j;

			for (j = st + kl + 1; j < i && o + 1 < cap; j++) {
				if (form.p[j] == '%' && j + 2 < i) {
					char h[3] = { form.p[j + 1], form.p[j + 2], 0 };

					out[o++] = (char)strtol(h, NULL, 16);
					j += 2;
				} else {
					out[o++] = form.p[j];
				}
			}
			out[o] = '\0';
			return sv_make(out, o);
		}
		i++;
	}
	out[0] = '\0';
	return sv_make(out, 0);
}

static int
fake_sts(void *ctx, const char *endpoint, const char *region, const struct cred *signer,
    struct sv form, struct buf *out, int *status, struct err *e)
{
	char action[64], arn[256], tok[256], iso[32];
	const char *role;
	struct tm tm;
	time_t t = (time_t)sts_expiry;

	(void)ctx;
	(void)e;
	sts_calls++;
	form_get(form, "Action", action, sizeof(action));
	form_get(form, "RoleArn", arn, sizeof(arn));
	form_get(form, "WebIdentityToken", tok, sizeof(tok));
	snprintf(sts_log + strlen(sts_log), sizeof(sts_log) - strlen(sts_log), "%s %s signer=%s|",
	    action, arn, signer ? signer->akid : "-");
	snprintf(sts_forms + strlen(sts_forms), sizeof(sts_forms) - strlen(sts_forms),
	    "%s @%s %s|", endpoint, region, form.p);
	if (strstr(arn, "denied")) {
		*status = 403;
		buf_putz(out, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
		    "<Message>Not authorized for token ");
		buf_putz(out, tok);
		buf_putz(out, "</Message></Error><RequestId>req-1</RequestId></ErrorResponse>");
		return 0;
	}
	*status = 200;
	if (strcmp(action, "GetCallerIdentity") == 0) {
		buf_putz(out, "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::1:x/");
		buf_putz(out, signer ? signer->akid : "-");
		buf_putz(out, "</Arn><UserId>U</UserId><Account>111122223333</Account>"
		    "</GetCallerIdentityResult></GetCallerIdentityResponse>");
		return 0;
	}
	role = strrchr(arn, '/') ? strrchr(arn, '/') + 1 : arn;
	gmtime_r(&t, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_putz(out, "<R><");
	buf_putz(out, action);
	buf_putz(out, "Result><Credentials><AccessKeyId>AKID-");
	buf_putz(out, role);
	buf_putz(out, "</AccessKeyId><SecretAccessKey>SEC-");
	buf_putz(out, role);
	buf_putz(out, "</SecretAccessKey><SessionToken>TOK-");
	buf_putz(out, role);
	buf_putz(out, "</SessionToken><Expiration>");
	buf_putz(out, iso);
	buf_putz(out, "</Expiration></Credentials></");
	buf_putz(out, action);
	buf_putz(out, "Result></R>");
	return 0;
}

static struct th_world TW;
static struct world W;
static struct cred_io IO;
static struct cred_ctx C;
static struct err E;

static void
setup(const char *const *env, const struct cred_opts *o)
{
	struct cred_opts none;
	int i;

	memset(&F, 0, sizeof(F));
	memset(&none, 0, sizeof(none));
	th_world_bind(&W, &TW);
	for (i = 0; env && env[i]; i++)
		TW.env[i] = env[i];
	IO.ctx = NULL;
	IO.read_file = fake_read_file;
	IO.run = fake_run;
	IO.http = fake_http;
	IO.sts = fake_sts;
	IO.sts_ctx = NULL;
	sts_log[0] = sts_forms[0] = '\0';
	sts_calls = 0;
	sts_expiry = 1893456000;
	cred_init(&C, &W, &IO, o ? o : &none);
	err_clear(&E);
}

/* ---- INI ------------------------------------------------------------------- */

static const char ini_cfg[] =
	"# a comment\n"
	"[default]\n"
	"region = eu-west-1\n"
	"output=json\n"
	"\n"
	"[profile dev]\r\n"
	"region: us-east-2\r\n"
	"s3 =\n"
	"    region = nested-not-this\n"
	"role_arn = arn:aws:iam::123456789012:role/dev\n"
	"; another comment\n"
	"[profile   spaced]\n"
	"REGION = ap-south-1\n"
	"[profile \"quoted\"]\n"
	"region = sa-east-1\n"
	"[dev]\n"
	"region = wrong-section\n"
	"[profile dev]\n"
	"external_id = later-wins\n"
	"external_id = last\n"
	"[profiledev]\n"
	"region = not-a-profile\n";

static void
t_ini_config_sections(void)
{
	struct sv t = sv_z(ini_cfg), v;

	CHECK(cred_ini_get(t, 1, sv_z("default"), "region", &v) && sv_eqz(v, "eu-west-1"));
	CHECK(cred_ini_get(t, 1, sv_z("default"), "output", &v) && sv_eqz(v, "json"));
	CHECK(cred_ini_get(t, 1, sv_z("dev"), "region", &v) && sv_eqz(v, "us-east-2"));
	CHECK(cred_ini_get(t, 1, sv_z("dev"), "role_arn", &v) &&
	    sv_eqz(v, "arn:aws:iam::123456789012:role/dev"));
	CHECK(cred_ini_get(t, 1, sv_z("dev"), "external_id", &v) && sv_eqz(v, "last"));
	CHECK(cred_ini_get(t, 1, sv_z("spaced"), "region", &v) && sv_eqz(v, "ap-south-1"));
	CHECK(cred_ini_get(t, 1, sv_z("quoted"), "region", &v) && sv_eqz(v, "sa-east-1"));
	CHECK(!cred_ini_get(t, 1, sv_z("profiledev"), "region", &v));
	CHECK(!cred_ini_get(t, 1, sv_z("nope"), "region", &v));
	CHECK(cred_ini_has(t, 1, sv_z("dev")));
	CHECK(!cred_ini_has(t, 1, sv_z("missing")));
}

static void
t_ini_credentials_sections(void)
{
	struct sv t = sv_z("[default]\naws_access_key_id=AKIDDEFAULT\n[dev]\n"
	    "  aws_access_key_id = AKIDDEV  \n[profile dev]\naws_access_key_id=WRONG\n"), v;

	CHECK(cred_ini_get(t, 0, sv_z("default"), "aws_access_key_id", &v) && sv_eqz(v, "AKIDDEFAULT"));
	CHECK(cred_ini_get(t, 0, sv_z("dev"), "aws_access_key_id", &v) && sv_eqz(v, "AKIDDEV"));
	CHECK(cred_ini_has(t, 0, sv_z("dev")));
	CHECK(cred_ini_has(t, 1, sv_z("dev")) && !cred_ini_has(t, 0, sv_z("other")));
}

static void
t_ini_garbage(void)
{
	static const char *bad[] = { "", "[", "]", "[]", "=", "[default", "[default]\n=x\n",
		"[default]\n  \n\t\n", "\n\n\n", "[default]\nregion", "key=value\n[default]" };
	struct sv v;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!cred_ini_get(sv_z(bad[i]), 1, sv_z("default"), "region", &v), "case %zu", i);
	/* Every prefix of a real file is safe to read. */
	for (i = 0; i <= strlen(ini_cfg); i++)
		cred_ini_get(sv_make(ini_cfg, i), 1, sv_z("dev"), "external_id", &v);
	CHECK(1);
}

/* ---- splitter ------------------------------------------------------------------ */

struct split_case { const char *in; int argc; const char *words[6]; };

static const struct split_case split_cases[] = {
	{ "helper", 1, { "helper" } },
	{ "  /usr/bin/helper   --profile  x ", 3, { "/usr/bin/helper", "--profile", "x" } },
	{ "a 'b c' \"d e\"", 3, { "a", "b c", "d e" } },
	{ "a\\ b c", 2, { "a b", "c" } },
	{ "\"x\\\"y\" 'q\\n'", 2, { "x\"y", "q\\n" } },
	{ "\"a\\$b\"", 1, { "a\\$b" } },
	{ "pre'mid'post", 1, { "premidpost" } },
	{ "'' x", 2, { "", "x" } },
	{ "a\tb\nc", 3, { "a", "b", "c" } },
	{ "", 0, { NULL } },
	{ "   ", 0, { NULL } },
	{ "'open", -1, { NULL } },
	{ "\"open", -1, { NULL } },
	{ "trailing\\", -1, { NULL } },
};

static void
t_split(void)
{
	size_t i;

	for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		const struct split_case *k = &split_cases[i];
		char mem[256], *argv[8];
		int n = cred_split(sv_z(k->in), mem, sizeof(mem), argv, 8), j;

		CHECKF(n == k->argc, "'%s': %d words, want %d", k->in, n, k->argc);
		for (j = 0; n > 0 && j < n; j++)
			CHECKF(strcmp(argv[j], k->words[j]) == 0, "'%s' word %d '%s'", k->in, j, argv[j]);
		if (n >= 0)
			CHECKF(argv[n] == NULL, "'%s': argv not NULL-terminated", k->in);
	}
}

static void
t_split_bounds(void)
{
	char mem[8], *argv[3];

	CHECK(cred_split(sv_z("abcdefgh"), mem, sizeof(mem), argv, 3) == -2);
	CHECK(cred_split(sv_z("abcdef"), mem, sizeof(mem), argv, 3) == 1);
	CHECK(cred_split(sv_z("a b c"), mem, sizeof(mem), argv, 3) == -2);
	CHECK(cred_split(sv_z("a b"), mem, sizeof(mem), argv, 3) == 2);
}

/* ---- XML --------------------------------------------------------------------- */

static const char sts_ok[] =
	"<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
	"  <AssumeRoleResult>\n"
	"    <SourceIdentity/>\n"
	"    <AssumedRoleUser>\n"
	"      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:s3-access-example</AssumedRoleId>\n"
	"      <Arn>arn:aws:sts::123456789012:assumed-role/xaccounts3access/s3-access-example</Arn>\n"
	"    </AssumedRoleUser>\n"
	"    <Credentials>\n"
	"      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
	"      <SecretAccessKey>wJalr&amp;XUtnFEMI&lt;K7MDENG&#47;bPxRfi&#x43;YzEXAMPLEKEY</SecretAccessKey>\n"
	"      <SessionToken><![CDATA[tok<en>]]>&quot;x&apos;</SessionToken>\n"
	"      <Expiration>2019-11-09T13:34:41Z</Expiration>\n"
	"    </Credentials >\n"
	"    <PackedPolicySize>6</PackedPolicySize>\n"
	"  </AssumeRoleResult>\n"
	"  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\n"
	"</AssumeRoleResponse>\n";

static int
xml_is(const char *doc, size_t n, const char *path, const char *want)
{
	char mem[256];
	struct buf b;

	buf_init(&b, mem, sizeof(mem));
	if (cred_xml_get(sv_make(doc, n), path, &b) != 0)
		return 0;
	return strcmp(mem, want) == 0;
}

static void
t_xml_fields(void)
{
	size_t n = strlen(sts_ok);
	char mem[256];
	struct buf b;

	CHECK(xml_is(sts_ok, n, "AssumeRoleResult/Credentials/AccessKeyId", "ASIAIOSFODNN7EXAMPLE"));
	CHECK(xml_is(sts_ok, n, "AssumeRoleResult/Credentials/SecretAccessKey",
	    "wJalr&XUtnFEMI<K7MDENG/bPxRfiCYzEXAMPLEKEY"));
	CHECK(xml_is(sts_ok, n, "Credentials/SessionToken", "tok<en>\"x'"));
	CHECK(xml_is(sts_ok, n, "AssumeRoleResponse/AssumeRoleResult/AssumedRoleUser/Arn",
	    "arn:aws:sts::123456789012:assumed-role/xaccounts3access/s3-access-example"));
	CHECK(xml_is(sts_ok, n, "AssumeRoleResult/SourceIdentity", ""));
	CHECK(xml_is(sts_ok, n, "ResponseMetadata/RequestId", "c6104cbe-af31-11e0-8154-cbc7ccf896c7"));
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_xml_get(sv_make(sts_ok, n), "AssumeRoleResult/Nope", &b) == -1);
	CHECK(cred_xml_get(sv_make(sts_ok, n), "Credential", &b) == -1);
	/* An element with children is not a field. */
	CHECK(cred_xml_get(sv_make(sts_ok, n), "AssumeRoleResult/Credentials", &b) == -2);
}

static void
t_xml_entities(void)
{
	static const struct { const char *doc, *want; int rc; } k[] = {
		{ "<a>&#233;&#x20AC;&#x1F600;</a>", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 0 },
		{ "<a>&#0;</a>", NULL, -2 },
		{ "<a>&#xD800;</a>", NULL, -2 },
		{ "<a>&#x110000;</a>", NULL, -2 },
		{ "<a>&bogus;</a>", NULL, -2 },
		{ "<a>&amp</a>", NULL, -2 },
		{ "<a>&#;</a>", NULL, -2 },
		{ "<a>&#x;</a>", NULL, -2 },
		{ "<a>&#12a;</a>", NULL, -2 },
		{ "<a attr=\"1\">v</a>", "v", 0 },
		{ "<ab>no</ab><a>yes</a>", "yes", 0 },
		{ "<a>x</a >", "x", 0 },
		{ "<a>unterminated", NULL, -1 },
		{ "<a", NULL, -1 },
		{ "<a><![CDATA[open</a>", NULL, -2 },
	};
	size_t i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		char mem[64];
		struct buf b;
		int rc;

		buf_init(&b, mem, sizeof(mem));
		rc = cred_xml_get(sv_z(k[i].doc), "a", &b);
		CHECKF(rc == k[i].rc, "%s: rc %d want %d", k[i].doc, rc, k[i].rc);
		if (k[i].want && rc == 0)
			CHECKF(strcmp(mem, k[i].want) == 0, "%s: got '%s'", k[i].doc, mem);
	}
}

/* Truncated at every offset and with garbage: never a crash, never a wrong value. */
static void
t_xml_split_and_garbage(void)
{
	size_t n = strlen(sts_ok), i;
	char junk[512];
	unsigned seed = 12345;

	for (i = 0; i <= n; i++) {
		char mem[64];
		struct buf b;
		int rc;

		buf_init(&b, mem, sizeof(mem));
		rc = cred_xml_get(sv_make(sts_ok, i), "AssumeRoleResult/Credentials/AccessKeyId", &b);
		if (rc == 0)
			CHECKF(strcmp(mem, "ASIAIOSFODNN7EXAMPLE") == 0, "prefix %zu gave '%s'", i, mem);
	}
	for (i = 0; i < 2000; i++) {
		size_t j, len = (seed = seed * 1103515245 + 12345) % sizeof(junk);
		char mem[32];
		struct buf b;

		for (j = 0; j < len; j++) {
			seed = seed * 1103515245 + 12345;
			junk[j] = "<>/&;#xa CDATA[]"[(seed >> 16) % 16];
		}
		buf_init(&b, mem, sizeof(mem));
		cred_xml_get(sv_make(junk, len), "a/x", &b);
	}
	CHECK(1);
}

static void
t_xml_bounds(void)
{
	char mem[8];
	struct buf b;

	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_xml_get(sv_z("<a>1234567</a>"), "a", &b) == 0 && strcmp(mem, "1234567") == 0);
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_xml_get(sv_z("<a>12345678</a>"), "a", &b) == -2);
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_xml_get(sv_z("<a>&#x1F600;&#x1F600;</a>"), "a", &b) == -2);
}

/* ---- ISO 8601 ------------------------------------------------------------------- */

static void
t_iso8601(void)
{
	int64_t t = 0;

	CHECK(cred_iso8601(sv_z("1970-01-01T00:00:00Z"), &t) == 0 && t == 0);
	CHECK(cred_iso8601(sv_z("2019-11-09T13:34:41Z"), &t) == 0 && t == 1573306481);
	CHECK(cred_iso8601(sv_z("2019-11-09T13:34:41.123Z"), &t) == 0 && t == 1573306481);
	CHECK(cred_iso8601(sv_z("2019-11-09T15:34:41+02:00"), &t) == 0 && t == 1573306481);
	CHECK(cred_iso8601(sv_z("2019-11-09T08:34:41-0500"), &t) == 0 && t == 1573306481);
	CHECK(cred_iso8601(sv_z("2000-02-29T00:00:00Z"), &t) == 0 && t == 951782400);
	CHECK(cred_iso8601(sv_z("2019-11-09T13:34:41"), &t) == -1);
	CHECK(cred_iso8601(sv_z("2019-13-09T13:34:41Z"), &t) == -1);
	CHECK(cred_iso8601(sv_z("2019-11-09T13:34:41Zx"), &t) == -1);
	CHECK(cred_iso8601(sv_z("yesterday"), &t) == -1);
	CHECK(cred_iso8601(sv_z(""), &t) == -1);
}

static void
t_mask(void)
{
	char m[16];

	cred_mask("AKIAIOSFODNN7EXAMPLE", m);
	CHECK(strcmp(m, "AKIA****MPLE") == 0);
	cred_mask("short", m);
	CHECK(strcmp(m, "****") == 0);
}

/* ---- sources ----------------------------------------------------------------------- */

static void
t_args_and_env(void)
{
	static const char *env[] = { "AWS_ACCESS_KEY_ID=AKIDENV", "AWS_SECRET_ACCESS_KEY=SECENV",
		"AWS_SESSION_TOKEN=TOKENV", NULL };
	struct cred_opts o;
	struct cred k;

	memset(&o, 0, sizeof(o));
	o.access_key = "AKIDARG";
	o.secret_key = "SECARG";
	setup(env, &o);
	CHECK(cred_from_args(&C, &k, &E) == 0 && strcmp(k.akid, "AKIDARG") == 0 &&
	    strcmp(k.token, "TOKENV") == 0 && strstr(k.source, "-k/-s"));
	CHECK(cred_from_env(&C, &k, &E) == 0 && strcmp(k.akid, "AKIDENV") == 0 &&
	    strcmp(k.secret, "SECENV") == 0 && strcmp(k.token, "TOKENV") == 0 && k.expires == 0);
	o.secret_key = NULL;
	setup(env, &o);
	CHECK(cred_from_args(&C, &k, &E) == ED_EXIT_USAGE && strstr(E.msg, "give both or neither"));
	setup(NULL, NULL);
	CHECK(cred_from_args(&C, &k, &E) == CRED_NONE);
	CHECK(cred_from_env(&C, &k, &E) == CRED_NONE && strstr(C.looked, "AWS_ACCESS_KEY_ID unset"));
}

static void
t_env_partial_and_expiry(void)
{
	static const char *env1[] = { "AWS_ACCESS_KEY_ID=AKID", NULL };
	static const char *env2[] = { "AWS_SECRET_ACCESS_KEY=PLANTED-SECRET", NULL };
	static const char *env3[] = { "AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=S",
		"AWS_CREDENTIAL_EXPIRATION=2030-01-01T00:00:00Z", NULL };
	struct cred k;

	setup(env1, NULL);
	CHECK(cred_from_env(&C, &k, &E) == ED_EXIT_AUTH &&
	    strstr(E.msg, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"));
	setup(env2, NULL);
	CHECK(cred_from_env(&C, &k, &E) == ED_EXIT_AUTH && !strstr(E.msg, "PLANTED"));
	setup(env3, NULL);
	CHECK(cred_from_env(&C, &k, &E) == 0 && k.expires == 1893456000);
}

static const char *home_env[] = { "HOME=/home/u", NULL };

static void
t_files_default_paths_and_profiles(void)
{
	struct cred k;
	struct sv v;

	setup(home_env, NULL);
	F.files[0].path = "/home/u/.aws/credentials";
	F.files[0].text = "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = S1\n"
	    "[other]\naws_access_key_id=AKIDOTHER\naws_secret_access_key=S2\naws_session_token=T2\n";
	F.files[1].path = "/home/u/.aws/config";
	F.files[1].text = "[default]\nregion=eu-north-1\n[profile cfgonly]\naws_access_key_id=AKIDCFG\n"
	    "aws_secret_access_key=S3\n";
	CHECK(cred_load_files(&C, &E) == 0 && strcmp(C.profile, "default") == 0);
	CHECK(cred_from_profile_keys(&C, sv_z("default"), &k, &E) == 0 &&
	    strcmp(k.akid, "AKIDFILE") == 0 && strstr(k.source, "credentials file"));
	CHECK(cred_from_profile_keys(&C, sv_z("other"), &k, &E) == 0 && strcmp(k.token, "T2") == 0);
	CHECK(cred_from_profile_keys(&C, sv_z("cfgonly"), &k, &E) == 0 &&
	    strcmp(k.akid, "AKIDCFG") == 0 && strstr(k.source, "config file"));
	CHECK(cred_from_profile_keys(&C, sv_z("none"), &k, &E) == CRED_NONE);
	CHECK(cred_prof_get(&C, sv_z("default"), "region", &v) && sv_eqz(v, "eu-north-1"));
}

static void
t_files_env_paths_and_profile_env(void)
{
	static const char *env[] = { "HOME=/home/u", "AWS_CONFIG_FILE=/etc/cfg",
		"AWS_SHARED_CREDENTIALS_FILE=/etc/crd", "AWS_PROFILE=p2", NULL };
	struct cred_opts o;
	struct cred k;

	setup(env, NULL);
	F.files[0].path = "/etc/crd";
	F.files[0].text = "[p2]\naws_access_key_id=AKIDP2\naws_secret_access_key=S\n";
	F.files[1].path = "/home/u/.aws/credentials";
	F.files[1].text = "[p2]\naws_access_key_id=WRONG\naws_secret_access_key=S\n";
	CHECK(cred_load_files(&C, &E) == 0 && strcmp(C.profile, "p2") == 0 && C.profile_explicit);
	CHECK(strcmp(C.crd_path, "/etc/crd") == 0 && strcmp(C.cfg_path, "/etc/cfg") == 0);
	CHECK(cred_from_profile_keys(&C, sv_z("p2"), &k, &E) == 0 && strcmp(k.akid, "AKIDP2") == 0);
	/* -p beats AWS_PROFILE. */
	memset(&o, 0, sizeof(o));
	o.profile = "p3";
	setup(env, &o);
	CHECK(cred_load_files(&C, &E) == 0 && strcmp(C.profile, "p3") == 0);
}

static void
t_files_errors(void)
{
	struct cred k;

	setup(home_env, NULL);
	F.files[0].path = "/home/u/.aws/config";
	F.files[0].err = EACCES;
	CHECK(cred_load_files(&C, &E) == ED_EXIT_AUTH && strstr(E.msg, "/home/u/.aws/config"));
	setup(home_env, NULL);
	F.files[0].path = "/home/u/.aws/credentials";
	F.files[0].text = "[default]\naws_access_key_id=AKID\n";
	CHECK(cred_load_files(&C, &E) == 0);
	CHECK(cred_from_profile_keys(&C, sv_z("default"), &k, &E) == ED_EXIT_AUTH &&
	    strstr(E.msg, "go together"));
	/* No HOME and no variables: no files, no failure. */
	setup(NULL, NULL);
	CHECK(cred_load_files(&C, &E) == 0 && C.cfg.n == 0 && C.crd.n == 0);
}

static void
t_process(void)
{
	struct cred k;

	setup(home_env, NULL);
	F.proc_out = "{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"SP\","
	    " \"SessionToken\": \"TP\", \"Expiration\": \"2030-01-01T00:00:00Z\"}";
	CHECK(cred_from_process(&C, sv_z("dev"), sv_z("/opt/helper 'a b' --x=\"y z\""), &k, &E) == 0);
	CHECK(strcmp(F.proc_argv, "[/opt/helper][a b][--x=y z]") == 0);
	CHECK(strcmp(k.akid, "AKIDPROC") == 0 && strcmp(k.token, "TP") == 0 && k.expires == 1893456000);
	CHECK(strstr(k.source, "credential_process (profile dev)") != NULL);
}

static void
t_process_failures(void)
{
	static const struct { const char *out; int rc, status; const char *cmd, *msg; } k[] = {
		{ "{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"PLANTED\"}", 0, 0, "h", "Version\": 1" },
		{ "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"PLANTED\"}", 0, 0, "h", "Version\": 1" },
		{ "PLANTED not json", 0, 0, "h", "not a JSON object" },
		{ "{\"Version\":1,\"SecretAccessKey\":\"PLANTED\"}", 0, 0, "h", "no AccessKeyId" },
		{ "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"PLANTED\",\"Expiration\":\"soon\"}", 0, 0, "h", "ISO 8601" },
		{ "PLANTED", 0, 3, "h", "h exited with status 3" },
		{ "", -1, 0, "nothere", "cannot run nothere" },
		{ "PLANTED", -2, 0, "slow", "slow took longer than" },
		{ "PLANTED", -3, 0, "big", "output too big: ED_MAX_PROC_OUTPUT" },
		{ "", 0, 0, "'unterminated", "unterminated quote" },
		{ "", 0, 0, "  ", "empty command line" },
	};
	size_t i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		struct cred c;
		int rc;

		setup(home_env, NULL);
		F.proc_out = k[i].out;
		F.proc_rc = k[i].rc;
		F.proc_status = k[i].status;
		rc = cred_from_process(&C, sv_z("p"), sv_z(k[i].cmd), &c, &E);
		CHECKF(rc == ED_EXIT_AUTH, "case %zu: rc %d", i, rc);
		CHECKF(strstr(E.msg, k[i].msg) != NULL, "case %zu: '%.300s'", i, E.msg);
		CHECKF(strstr(E.msg, "PLANTED") == NULL, "case %zu leaks: '%.300s'", i, E.msg);
	}
}

static const char meta_ok[] = "{\"Code\":\"Success\",\"AccessKeyId\":\"AKIDMETA\","
	"\"SecretAccessKey\":\"SM\",\"Token\":\"TM\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";

static void
t_container(void)
{
	static const char *env[] = { "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/creds",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=PLANTEDTOKEN", NULL };
	static const char *env_rel[] = { "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=/v2/credentials/x",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/creds", NULL };
	static const char *env_file[] = { "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://localhost/c",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=WRONG",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=/var/run/tok", NULL };
	struct cred k;

	setup(env, NULL);
	F.http[0].method = "GET";
	F.http[0].url = "http://127.0.0.1:9911/creds";
	F.http[0].status = 200;
	F.http[0].body = meta_ok;
	CHECK(cred_from_container(&C, &k, &E) == 0 && strcmp(k.akid, "AKIDMETA") == 0 &&
	    strcmp(k.token, "TM") == 0 && k.expires == 1893456000);
	CHECK(strstr(F.http_log, "Authorization=PLANTEDTOKEN") != NULL);
	/* RELATIVE_URI wins over FULL_URI and goes to the ECS agent address. */
	setup(env_rel, NULL);
	CHECK(cred_from_container(&C, &k, &E) == ED_EXIT_NETWORK);
	CHECK(strcmp(F.http_log, "GET http://169.254.170.2/v2/credentials/x|") == 0);
	/* The token file wins over the token variable, trimmed. */
	setup(env_file, NULL);
	F.files[0].path = "/var/run/tok";
	F.files[0].text = "FILETOKEN\n";
	F.http[0].method = "GET";
	F.http[0].url = "http://localhost/c";
	F.http[0].status = 200;
	F.http[0].body = meta_ok;
	CHECK(cred_from_container(&C, &k, &E) == 0);
	CHECK(strstr(F.http_log, "Authorization=FILETOKEN|") != NULL);
}

static void
t_container_url_rules(void)
{
	static const struct { const char *url; int ok; } k[] = {
		{ "http://127.0.0.1/x", 1 }, { "http://127.1.2.3:80/x", 1 }, { "http://localhost:8080/", 1 },
		{ "http://[::1]:80/", 1 }, { "http://169.254.170.2/v1", 1 }, { "http://169.254.170.23/v1", 1 },
		{ "http://[fd00:ec2::23]/v1", 1 }, { "https://creds.example.com/x", 1 },
		{ "http://10.0.0.1/x", 0 }, { "http://127.0.0.1.evil.com/x", 0 }, { "http://example.com/", 0 },
		{ "http://128.0.0.1/", 0 }, { "ftp://127.0.0.1/", 0 }, { "http://127.0.0/", 0 },
		{ "http://127.0.0.256/", 0 }, { "http://", 0 }, { "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		CHECKF(cred_container_url_ok(k[i].url) == k[i].ok, "%s", k[i].url);
}

static void
t_container_failures(void)
{
	static const char *env_bad[] = { "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://10.1.2.3/creds", NULL };
	static const char *env_crlf[] = { "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1/c",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=a\r\nX-Evil: 1", NULL };
	static const char *env_ok[] = { "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1/c",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=PLANTEDTOKEN", NULL };
	struct cred k;

	setup(env_bad, NULL);
	CHECK(cred_from_container(&C, &k, &E) == ED_EXIT_AUTH && F.nhttp_calls == 0);
	setup(env_crlf, NULL);
	CHECK(cred_from_container(&C, &k, &E) == ED_EXIT_AUTH && strstr(E.msg, "line break") &&
	    F.nhttp_calls == 0);
	setup(env_ok, NULL);
	F.http[0].method = "GET";
	F.http[0].url = "http://127.0.0.1/c";
	F.http[0].status = 403;
	F.http[0].body = "{\"message\":\"PLANTEDTOKEN is wrong\"}";
	CHECK(cred_from_container(&C, &k, &E) == ED_EXIT_AUTH && strstr(E.msg, "HTTP 403") &&
	    !strstr(E.msg, "PLANTED"));
	setup(NULL, NULL);
	CHECK(cred_from_container(&C, &k, &E) == CRED_NONE && F.nhttp_calls == 0);
}

#define IMDS "http://127.0.0.1:9"
static const char meta_imds[] = "{\"Code\":\"Success\",\"AccessKeyId\":\"AKIDIMDS\","
	"\"SecretAccessKey\":\"SI\",\"Token\":\"TI\",\"Expiration\":\"2030-01-01T00:00:00Z\"}";

static void
imds_fake(const char *role_body)
{
	F.http[0].method = "PUT";
	F.http[0].url = IMDS "/latest/api/token";
	F.http[0].status = 200;
	F.http[0].body = "IMDSTOKEN";
	F.http[1].method = "GET";
	F.http[1].url = IMDS "/latest/meta-data/iam/security-credentials/";
	F.http[1].status = 200;
	F.http[1].body = role_body;
	F.http[2].method = "GET";
	F.http[2].url = IMDS "/latest/meta-data/iam/security-credentials/web-role";
	F.http[2].status = 200;
	F.http[2].body = meta_imds;
	F.http[3].method = "GET";
	F.http[3].url = IMDS "/latest/meta-data/placement/region";
	F.http[3].status = 200;
	F.http[3].body = "ca-central-1";
}

static void
t_imds(void)
{
	static const char *env[] = { "AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS "/", NULL };
	static const char *off[] = { "AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS,
		"AWS_EC2_METADATA_DISABLED=true", NULL };
	struct cred k;

	setup(env, NULL);
	imds_fake("web-role\n");
	CHECK(cred_from_imds(&C, &k, &E) == 0 && strcmp(k.akid, "AKIDIMDS") == 0 &&
	    strstr(k.source, "role web-role"));
	CHECK(strstr(F.http_log, "PUT " IMDS "/latest/api/token "
	    "X-aws-ec2-metadata-token-ttl-seconds=21600|") == F.http_log);
	CHECK(strstr(F.http_log, "GET " IMDS "/latest/meta-data/iam/security-credentials/web-role "
	    "X-aws-ec2-metadata-token=IMDSTOKEN|") != NULL);
	setup(off, NULL);
	imds_fake("web-role\n");
	CHECK(cred_from_imds(&C, &k, &E) == CRED_NONE && F.nhttp_calls == 0);
	/* Not on EC2: nothing answers; the chain moves on. */
	setup(NULL, NULL);
	CHECK(cred_from_imds(&C, &k, &E) == CRED_NONE && E.code == 0 &&
	    strstr(F.http_log, "PUT http://169.254.169.254/latest/api/token") == F.http_log);
	/* No role attached. */
	setup(env, NULL);
	imds_fake("");
	CHECK(cred_from_imds(&C, &k, &E) == CRED_NONE && strstr(C.looked, "no instance role"));
	/* A refused token request is an error. */
	setup(env, NULL);
	imds_fake("web-role");
	F.http[0].status = 403;
	CHECK(cred_from_imds(&C, &k, &E) == ED_EXIT_AUTH && strstr(E.msg, "HTTP 403"));
}

static void
t_region_order(void)
{
	static const char *all[] = { "AWS_REGION=r-env", "AWS_DEFAULT_REGION=r-default", "HOME=/h",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS, NULL };
	static const char *dflt[] = { "AWS_DEFAULT_REGION=r-default", "HOME=/h", NULL };
	static const char *prof[] = { "HOME=/h", "AWS_PROFILE=x",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS, NULL };
	static const char *imds[] = { "HOME=/h", "AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS, NULL };
	static const char *none[] = { "HOME=/h", "AWS_EC2_METADATA_DISABLED=true", NULL };
	static const char *bad[] = { "AWS_REGION=us east 1", NULL };
	struct cred_opts o;

	memset(&o, 0, sizeof(o));
	o.region = "r-flag";
	setup(all, &o);
	CHECK(cred_region(&C, &E) == 0 && strcmp(C.region, "r-flag") == 0 &&
	    strcmp(C.region_source, "-r/--region") == 0);
	setup(all, NULL);
	CHECK(cred_region(&C, &E) == 0 && strcmp(C.region, "r-env") == 0);
	setup(dflt, NULL);
	CHECK(cred_region(&C, &E) == 0 && strcmp(C.region, "r-default") == 0);
	setup(prof, NULL);
	F.files[0].path = "/h/.aws/config";
	F.files[0].text = "[default]\nregion=wrong\n[profile x]\nregion = r-profile\n";
	CHECK(cred_region(&C, &E) == 0 && strcmp(C.region, "r-profile") == 0 &&
	    strcmp(C.region_source, "profile x") == 0 && F.nhttp_calls == 0);
	setup(imds, NULL);
	imds_fake("web-role");
	CHECK(cred_region(&C, &E) == 0 && strcmp(C.region, "ca-central-1") == 0 &&
	    strcmp(C.region_source, "EC2 instance metadata") == 0);
	setup(none, NULL);
	CHECK(cred_region(&C, &E) == ED_EXIT_USAGE && strstr(E.msg, "AWS_REGION") &&
	    strstr(E.msg, "/h/.aws/config") && strstr(E.msg, "disabled") && F.nhttp_calls == 0);
	setup(bad, NULL);
	CHECK(cred_region(&C, &E) == ED_EXIT_USAGE && strstr(E.msg, "not a region name"));
}

static void
t_fresh(void)
{
	setup(NULL, NULL);
	CHECK(cred_fresh(&C, &E) == ED_EXIT_AUTH);
	setup(NULL, NULL);
	C.have = 1;
	C.cur.expires = 0;
	CHECK(cred_fresh(&C, &E) == 0);
	C.cur.expires = TW.wall + CRED_REFRESH_AHEAD_S + 10;
	CHECK(cred_fresh(&C, &E) == 0);
	C.cur.expires = TW.wall + CRED_REFRESH_AHEAD_S - 10;
	CHECK(cred_fresh(&C, &E) == ED_EXIT_AUTH && strstr(E.msg, "expired"));
}

/* ---- the real process runner --------------------------------------------------- */

static void
t_sys_run(void)
{
	char mem[64];
	struct buf b;
	char *ok[] = { "/bin/sh", "-c", "printf 'hello %s' \"$0\"", "w", NULL };
	char *fail[] = { "/bin/sh", "-c", "exit 7", NULL };
	char *missing[] = { "ecs-deploy-no-such-helper", NULL };
	char *slow[] = { "/bin/sh", "-c", "sleep 5", NULL };
	char *big[] = { "/bin/sh", "-c", "yes", NULL };
	int st = -1, en = 0;

	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_sys_run(NULL, ok, &b, 5000, &st, &en) == 0 && st == 0 && strcmp(mem, "hello w") == 0);
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_sys_run(NULL, fail, &b, 5000, &st, &en) == 0 && st == 7);
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_sys_run(NULL, missing, &b, 5000, &st, &en) == -1 && en == ENOENT);
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_sys_run(NULL, slow, &b, 200, &st, &en) == -2);
	buf_init(&b, mem, sizeof(mem));
	CHECK(cred_sys_run(NULL, big, &b, 5000, &st, &en) == -3);
}


/* ---- STS sources, the chain and its precedence (fake STS) ---------------------- */

#define ROLE(n) "arn:aws:iam::123456789012:role/" n

static void
t_web_identity_env(void)
{
	static const char *env[] = { "AWS_REGION=us-west-2", "AWS_WEB_IDENTITY_TOKEN_FILE=/run/tok",
		"AWS_ROLE_ARN=" ROLE("gh"), "AWS_ROLE_SESSION_NAME=run-42",
		"AWS_EC2_METADATA_DISABLED=true", NULL };

	setup(env, NULL);
	F.files[0].path = "/run/tok";
	F.files[0].text = "eyJ.web-token.sig\n";
	CHECK(cred_start(&C, &E) == 0);
	CHECK(strcmp(C.cur.akid, "AKID-gh") == 0 && strcmp(C.cur.token, "TOK-gh") == 0);
	CHECK(C.cur.expires == 1893456000);
	CHECK(strcmp(sts_log, "AssumeRoleWithWebIdentity " ROLE("gh") " signer=-|") == 0);
	CHECKF(strstr(sts_forms, "https://sts.us-west-2.amazonaws.com @us-west-2 "
	    "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
	    "123456789012%3Arole%2Fgh&RoleSessionName=run-42&WebIdentityToken=eyJ.web-token.sig|")
	    == sts_forms, "%.400s", sts_forms);
	CHECK(strstr(C.cur.source, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)") != NULL);
}

static void
t_web_identity_denied_is_20_without_token(void)
{
	static const char *env[] = { "AWS_REGION=us-west-2", "AWS_WEB_IDENTITY_TOKEN_FILE=/run/tok",
		"AWS_ROLE_ARN=" ROLE("denied"), NULL };

	setup(env, NULL);
	F.files[0].path = "/run/tok";
	F.files[0].text = "PLANTED-WEB-TOKEN";
	CHECK(cred_start(&C, &E) == ED_EXIT_AUTH);
	CHECKF(strstr(E.msg, "web identity (AWS_WEB_IDENTITY_TOKEN_FILE): AccessDenied: Not "
	    "authorized for token [redacted]") == E.msg, "%.300s", E.msg);
	CHECK(strstr(E.msg, "PLANTED") == NULL);
	CHECK(strcmp(E.aws_type, "AccessDenied") == 0 && strcmp(E.request_id, "req-1") == 0 &&
	    E.http_status == 403);
	/* A missing token file names the file. */
	setup(env, NULL);
	CHECK(cred_start(&C, &E) == ED_EXIT_AUTH && strstr(E.msg, "cannot read /run/tok"));
}

/* Every source configured; each case removes the ones above the expected winner. */
struct prec_case {
	const char *name;
	int args, env, web, file, container, imds;
	const char *profile_flag;
	int instance_only;
	const char *want;   /* akid, or NULL for "no credentials" */
};

static const struct prec_case prec[] = {
	{ "-k/-s beat everything", 1, 1, 1, 1, 1, 1, NULL, 0, "AKIDARG" },
	{ "environment beats web identity", 0, 1, 1, 1, 1, 1, NULL, 0, "AKIDENV" },
	{ "web identity beats the shared files", 0, 0, 1, 1, 1, 1, NULL, 0, "AKID-web" },
	{ "shared files beat container", 0, 0, 0, 1, 1, 1, NULL, 0, "AKIDFILE" },
	{ "container beats IMDS", 0, 0, 0, 0, 1, 1, NULL, 0, "AKIDMETA" },
	{ "IMDS last", 0, 0, 0, 0, 0, 1, NULL, 0, "AKIDIMDS" },
	{ "nothing: exit 20", 0, 0, 0, 0, 0, 0, NULL, 0, NULL },
	{ "-p skips environment and web identity", 0, 1, 1, 1, 1, 1, "other", 0, "AKIDOTHER" },
	{ "-k/-s beat -p", 1, 1, 1, 1, 1, 1, "other", 0, "AKIDARG" },
	{ "--aws-instance-profile: container", 0, 1, 1, 1, 1, 1, NULL, 1, "AKIDMETA" },
	{ "--aws-instance-profile: IMDS", 0, 1, 1, 1, 0, 1, NULL, 1, "AKIDIMDS" },
	{ "--aws-instance-profile: none is exit 20", 0, 1, 1, 1, 0, 0, NULL, 1, NULL },
};

static void
t_precedence(void)
{
	size_t i;

	for (i = 0; i < sizeof(prec) / sizeof(prec[0]); i++) {
		const struct prec_case *k = &prec[i];
		const char *env[16];
		struct cred_opts o;
		char name[160], why[600];
		int n = 0, rc, ok;

		memset(&o, 0, sizeof(o));
		env[n++] = "AWS_REGION=eu-west-1";
		env[n++] = "HOME=/home/u";
		if (k->args) {
			o.access_key = "AKIDARG";
			o.secret_key = "SECARG";
		}
		o.profile = k->profile_flag;
		o.instance_only = k->instance_only;
		if (k->env) {
			env[n++] = "AWS_ACCESS_KEY_ID=AKIDENV";
			env[n++] = "AWS_SECRET_ACCESS_KEY=SECENV";
		}
		if (k->web) {
			env[n++] = "AWS_WEB_IDENTITY_TOKEN_FILE=/run/tok";
			env[n++] = "AWS_ROLE_ARN=" ROLE("web");
		}
		if (k->container)
			env[n++] = "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/creds";
		env[n++] = k->imds ? "AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS :
		    "AWS_EC2_METADATA_DISABLED=true";
		env[n] = NULL;
		setup(env, &o);
		F.files[0].path = "/run/tok";
		F.files[0].text = "tok";
		F.files[1].path = "/home/u/.aws/credentials";
		F.files[1].text = k->file ? "[default]\naws_access_key_id=AKIDFILE\n"
		    "aws_secret_access_key=SF\n[other]\naws_access_key_id=AKIDOTHER\n"
		    "aws_secret_access_key=SO\n" : "[other]\naws_access_key_id=AKIDOTHER\n"
		    "aws_secret_access_key=SO\n";
		imds_fake("web-role\n");
		F.http[4].method = "GET";
		F.http[4].url = "http://127.0.0.1:9911/creds";
		F.http[4].status = 200;
		F.http[4].body = meta_ok;
		rc = cred_start(&C, &E);
		if (k->want)
			ok = rc == 0 && strcmp(C.cur.akid, k->want) == 0;
		else
			ok = rc == ED_EXIT_AUTH && (strstr(E.msg, "no AWS credentials found; looked at:") ||
			    strstr(E.msg, "--aws-instance-profile: no container or instance"));
		snprintf(why, sizeof(why), "rc %d akid '%s' want '%s' (%.300s)", rc, C.cur.akid,
		    k->want ? k->want : "none", E.msg);
		snprintf(name, sizeof(name), "t_precedence: %s", k->name);
		th_case(name, ok, why);
	}
}

static void
t_profile_env_missing_is_error(void)
{
	static const char *env[] = { "AWS_REGION=eu-west-1", "HOME=/home/u", "AWS_PROFILE=ghost",
		"AWS_EC2_METADATA_DISABLED=true", NULL };

	setup(env, NULL);
	CHECK(cred_start(&C, &E) == ED_EXIT_AUTH &&
	    strstr(E.msg, "profile ghost not found in /home/u/.aws/credentials or /home/u/.aws/config"));
}

static const char roles_cfg[] =
	"[profile a]\nrole_arn = " ROLE("a") "\nsource_profile = base\nexternal_id = ext 1\n"
	"role_session_name = s-a\nduration_seconds = 1800\n"
	"[profile b]\nrole_arn = " ROLE("b") "\nsource_profile = a\n"
	"[profile self]\nrole_arn = " ROLE("self") "\nsource_profile = self\n"
	"[profile loop1]\nrole_arn = " ROLE("l1") "\nsource_profile = loop2\n"
	"[profile loop2]\nrole_arn = " ROLE("l2") "\nsource_profile = loop1\n"
	"[profile d1]\nrole_arn = " ROLE("d1") "\nsource_profile = d2\n"
	"[profile d2]\nrole_arn = " ROLE("d2") "\nsource_profile = d3\n"
	"[profile d3]\nrole_arn = " ROLE("d3") "\nsource_profile = d4\n"
	"[profile d4]\nrole_arn = " ROLE("d4") "\nsource_profile = d5\n"
	"[profile d5]\nrole_arn = " ROLE("d5") "\nsource_profile = base\n"
	"[profile envsrc]\nrole_arn = " ROLE("e") "\ncredential_source = Environment\n"
	"[profile ecs]\nrole_arn = " ROLE("c") "\ncredential_source = EcsContainer\n"
	"[profile imds]\nrole_arn = " ROLE("i") "\ncredential_source = Ec2InstanceMetadata\n"
	"[profile badsrc]\nrole_arn = " ROLE("x") "\ncredential_source = Bogus\n"
	"[profile web]\nrole_arn = " ROLE("w") "\nweb_identity_token_file = /run/tok\n"
	"[profile nosrc]\nrole_arn = " ROLE("n") "\n"
	"[profile mfa]\nrole_arn = " ROLE("m") "\nsource_profile = base\nmfa_serial = arn:x\n"
	"[profile proc]\ncredential_process = /opt/helper --json\n"
	"[profile sso]\nsso_session = corp\n"
	"[profile empty]\nregion = us-east-1\n"
	"[profile srcdenied]\nrole_arn = " ROLE("denied") "\nsource_profile = base\n"
	"[profile keysandrole]\nrole_arn = " ROLE("kr") "\nsource_profile = base\n";

static const char roles_crd[] =
	"[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = SB\n"
	"[self]\naws_access_key_id = AKIDSELF\naws_secret_access_key = SS\n"
	"[keysandrole]\naws_access_key_id = AKIDKR\naws_secret_access_key = SKR\n";

struct role_case {
	const char *profile;
	int rc;
	const char *want;      /* akid on success, message part on failure */
	const char *log;       /* sts_log prefix, or NULL */
};

static const struct role_case role_cases[] = {
	{ "a", 0, "AKID-a", "AssumeRole " ROLE("a") " signer=AKIDBASE|" },
	{ "b", 0, "AKID-b", "AssumeRole " ROLE("a") " signer=AKIDBASE|AssumeRole " ROLE("b") " signer=AKID-a|" },
	{ "self", 0, "AKID-self", "AssumeRole " ROLE("self") " signer=AKIDSELF|" },
	{ "keysandrole", 0, "AKID-kr", "AssumeRole " ROLE("kr") " signer=AKIDBASE|" },
	{ "loop1", ED_EXIT_AUTH, "profile loop1: source_profile loops back to it from profile loop2", "" },
	{ "d1", ED_EXIT_AUTH, "role chain longer than ED_MAX_ROLE_CHAIN (5 profiles)", "" },
	{ "envsrc", 0, "AKID-e", "AssumeRole " ROLE("e") " signer=AKIDENV|" },
	{ "ecs", 0, "AKID-c", "AssumeRole " ROLE("c") " signer=AKIDMETA|" },
	{ "imds", 0, "AKID-i", "AssumeRole " ROLE("i") " signer=AKIDIMDS|" },
	{ "badsrc", ED_EXIT_AUTH, "credential_source 'Bogus' is not one of", "" },
	{ "web", 0, "AKID-w", "AssumeRoleWithWebIdentity " ROLE("w") " signer=-|" },
	{ "nosrc", ED_EXIT_AUTH, "role_arn needs source_profile, credential_source or web_identity_token_file", "" },
	{ "mfa", ED_EXIT_AUTH, "mfa_serial needs a one-time code", "" },
	{ "proc", 0, "AKIDPROC", "" },
	{ "sso", ED_EXIT_AUTH, "IAM Identity Center (SSO)", "" },
	{ "empty", ED_EXIT_AUTH, "profile empty has no credentials", "" },
	{ "srcdenied", ED_EXIT_AUTH, "profile srcdenied (role_arn " ROLE("denied") "): AccessDenied: Not authorized", NULL },
	{ "nothere", ED_EXIT_AUTH, "profile nothere not found", "" },
};

static void
t_profile_roles(void)
{
	static const char *env[] = { "AWS_REGION=eu-west-1", "HOME=/home/u",
		"AWS_ACCESS_KEY_ID=AKIDENV", "AWS_SECRET_ACCESS_KEY=SECENV",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:9911/creds",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT=" IMDS, NULL };
	size_t i;

	for (i = 0; i < sizeof(role_cases) / sizeof(role_cases[0]); i++) {
		const struct role_case *k = &role_cases[i];
		struct cred_opts o;
		char name[128], why[900];
		int rc, ok;

		memset(&o, 0, sizeof(o));
		o.profile = k->profile;
		setup(env, &o);
		F.files[0].path = "/home/u/.aws/config";
		F.files[0].text = roles_cfg;
		F.files[1].path = "/home/u/.aws/credentials";
		F.files[1].text = roles_crd;
		F.files[2].path = "/run/tok";
		F.files[2].text = "tok";
		imds_fake("web-role");
		F.http[4].method = "GET";
		F.http[4].url = "http://127.0.0.1:9911/creds";
		F.http[4].status = 200;
		F.http[4].body = meta_ok;
		F.proc_out = "{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\",\"SecretAccessKey\":\"SP\"}";
		rc = cred_start(&C, &E);
		ok = rc == k->rc && (rc == 0 ? strcmp(C.cur.akid, k->want) == 0 :
		    strstr(E.msg, k->want) != NULL) && (k->log == NULL || strcmp(sts_log, k->log) == 0);
		snprintf(why, sizeof(why), "rc %d akid '%s' msg '%.300s' sts '%.300s'", rc, C.cur.akid,
		    E.msg, sts_log);
		snprintf(name, sizeof(name), "t_profile_roles: %s", k->profile);
		th_case(name, ok, why);
	}
}

static void
t_profile_role_settings(void)
{
	static const char *env[] = { "AWS_REGION=eu-west-1", "HOME=/home/u", NULL };
	struct cred_opts o;

	memset(&o, 0, sizeof(o));
	o.profile = "a";
	setup(env, &o);
	F.files[0].path = "/home/u/.aws/config";
	F.files[0].text = roles_cfg;
	F.files[1].path = "/home/u/.aws/credentials";
	F.files[1].text = roles_crd;
	CHECK(cred_start(&C, &E) == 0);
	CHECKF(strstr(sts_forms, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
	    "123456789012%3Arole%2Fa&RoleSessionName=s-a&DurationSeconds=1800&ExternalId=ext%201|"),
	    "%.400s", sts_forms);
	CHECK(strstr(C.cur.source, "profile a (role_arn " ROLE("a") ")") != NULL);
}

static void
t_assume_flag_and_endpoints(void)
{
	static const char *env[] = { "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDENV",
		"AWS_SECRET_ACCESS_KEY=SECENV", NULL };
	static const char *cn[] = { "AWS_REGION=cn-north-1", "AWS_ACCESS_KEY_ID=AKIDENV",
		"AWS_SECRET_ACCESS_KEY=SECENV", NULL };
	static const char *ovr[] = { "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDENV",
		"AWS_SECRET_ACCESS_KEY=SECENV", "AWS_ENDPOINT_URL=http://127.0.0.1:1/all",
		"AWS_ENDPOINT_URL_STS=http://127.0.0.1:2/sts", NULL };
	static const char *ovr2[] = { "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDENV",
		"AWS_SECRET_ACCESS_KEY=SECENV", "AWS_ENDPOINT_URL=http://127.0.0.1:1/all", NULL };
	struct cred_opts o;

	memset(&o, 0, sizeof(o));
	o.assume_role = ROLE("deployer");
	setup(env, &o);
	CHECK(cred_start(&C, &E) == 0 && strcmp(C.cur.akid, "AKID-deployer") == 0);
	CHECK(strcmp(sts_log, "AssumeRole " ROLE("deployer") " signer=AKIDENV|") == 0);
	CHECKF(strstr(sts_forms, "https://sts.eu-west-1.amazonaws.com @eu-west-1 Action=AssumeRole&"
	    "Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeployer&"
	    "RoleSessionName=ecs-deploy-1700000000&DurationSeconds=3600|") == sts_forms, "%.400s", sts_forms);
	CHECK(strstr(C.cur.source, "(-a) assumed with environment (AWS_ACCESS_KEY_ID)") != NULL);
	/* The partition comes from the ARN; cn-* regions get .amazonaws.com.cn. */
	o.assume_role = "arn:aws-cn:iam::123456789012:role/deployer";
	setup(cn, &o);
	CHECK(cred_start(&C, &E) == 0);
	CHECKF(strstr(sts_forms, "https://sts.cn-north-1.amazonaws.com.cn @cn-north-1 ") == sts_forms,
	    "%.400s", sts_forms);
	o.assume_role = ROLE("deployer");
	setup(ovr, &o);
	CHECK(cred_start(&C, &E) == 0 && strstr(sts_forms, "http://127.0.0.1:2/sts @eu-west-1 ") == sts_forms);
	setup(ovr2, &o);
	CHECK(cred_start(&C, &E) == 0 && strstr(sts_forms, "http://127.0.0.1:1/all @eu-west-1 ") == sts_forms);
	/* A malformed role ARN is a usage error and never reaches STS. */
	o.assume_role = "deployer";
	setup(env, &o);
	CHECK(cred_start(&C, &E) == ED_EXIT_USAGE && strstr(E.msg, "is not an IAM role ARN") &&
	    sts_calls == 0);
	/* -a failing names the role and the source of the base credentials. */
	o.assume_role = ROLE("denied");
	setup(env, &o);
	CHECK(cred_start(&C, &E) == ED_EXIT_AUTH && strstr(E.msg, "role " ROLE("denied")
	    " (-a) assumed with environment (AWS_ACCESS_KEY_ID): AccessDenied"));
}

static void
t_refresh_before_expiry(void)
{
	static const char *env[] = { "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDENV",
		"AWS_SECRET_ACCESS_KEY=SECENV", NULL };
	struct cred_opts o;

	memset(&o, 0, sizeof(o));
	o.assume_role = ROLE("deployer");
	setup(env, &o);
	sts_expiry = TW.wall + 3600;
	CHECK(cred_start(&C, &E) == 0 && sts_calls == 1 && C.cur.expires == TW.wall + 3600);
	TW.wall += 3000;            /* 10 minutes left: still fine */
	CHECK(cred_fresh(&C, &E) == 0 && sts_calls == 1);
	TW.wall += 400;             /* 200 s left: refresh */
	sts_expiry = TW.wall + 3600;
	CHECK(cred_fresh(&C, &E) == 0 && sts_calls == 2 && C.cur.expires == TW.wall + 3600);
	CHECK(strcmp(C.cur.akid, "AKID-deployer") == 0);
	/* Just resolved: not again unless they lapse within 30 s. */
	setup(env, &o);
	sts_expiry = TW.wall + 200;
	CHECK(cred_start(&C, &E) == 0 && cred_fresh(&C, &E) == 0 && sts_calls == 1);
	TW.wall += 60;
	CHECK(cred_fresh(&C, &E) == 0 && sts_calls == 2);
	setup(env, &o);
	sts_expiry = TW.wall + 20;
	CHECK(cred_start(&C, &E) == 0 && cred_fresh(&C, &E) == 0 && sts_calls == 2);
	/* Long-term keys never refresh. */
	setup(env, NULL);
	CHECK(cred_start(&C, &E) == 0 && C.cur.expires == 0);
	TW.wall += 100000;
	CHECK(cred_fresh(&C, &E) == 0 && sts_calls == 0);
}

static void
t_whoami(void)
{
	static const char *env[] = { "AWS_REGION=eu-west-1", "AWS_ACCESS_KEY_ID=AKIDENV",
		"AWS_SECRET_ACCESS_KEY=SECENV", NULL };
	struct cred_who who;

	setup(env, NULL);
	CHECK(cred_start(&C, &E) == 0);
	CHECK(cred_whoami(&C, &who, &E) == 0 && strcmp(who.arn, "arn:aws:sts::1:x/AKIDENV") == 0 &&
	    strcmp(who.account, "111122223333") == 0 && strcmp(who.user_id, "U") == 0);
	CHECK(strstr(sts_forms, "Action=GetCallerIdentity&Version=2011-06-15|") != NULL);
}

static void
t_form_and_redact(void)
{
	char mem[128], msg[64];
	struct buf b;

	buf_init(&b, mem, sizeof(mem));
	cred_form_put(&b, "A", sv_z("x y/z+~._-"));
	cred_form_put(&b, "B", sv_z("\xc3\xa9&="));
	CHECK(strcmp(mem, "A=x%20y%2Fz%2B~._-&B=%C3%A9%26%3D") == 0);
	snprintf(msg, sizeof(msg), "a SECRETX b SECRETX c");
	cred_redact(msg, sizeof(msg), sv_z("SECRETX"));
	CHECK(strcmp(msg, "a [redacted] b [redacted] c") == 0);
	snprintf(msg, sizeof(msg), "abc");
	cred_redact(msg, sizeof(msg), sv_z("ab"));  /* too short to be a secret: left alone */
	CHECK(strcmp(msg, "abc") == 0);
}

static void
t_cred_http_url(void)
{
	struct http_url u;
	char t[64];

	CHECK(cred_http_url("http://169.254.170.2/v2/credentials/abc?x=1", &u, t, sizeof(t)) == 0 &&
	    !u.tls && u.port == 80 && strcmp(u.host, "169.254.170.2") == 0 &&
	    strcmp(t, "/v2/credentials/abc?x=1") == 0);
	CHECK(cred_http_url("https://[fd00:ec2::23]:8443", &u, t, sizeof(t)) == 0 && u.tls &&
	    u.port == 8443 && strcmp(u.host, "fd00:ec2::23") == 0 && strcmp(t, "/") == 0);
	CHECK(cred_http_url("http://127.0.0.1:0/", &u, t, sizeof(t)) == -1);
	CHECK(cred_http_url("http://u@127.0.0.1/", &u, t, sizeof(t)) == -1);
	CHECK(cred_http_url("ftp://127.0.0.1/", &u, t, sizeof(t)) == -1);
	CHECK(cred_http_url("http://[::1/", &u, t, sizeof(t)) == -1);
	CHECK(cred_http_url("http://127.0.0.1:/", &u, t, sizeof(t)) == -1);
}

int
main(void)
{
	RUN(t_ini_config_sections);
	RUN(t_ini_credentials_sections);
	RUN(t_ini_garbage);
	RUN(t_split);
	RUN(t_split_bounds);
	RUN(t_xml_fields);
	RUN(t_xml_entities);
	RUN(t_xml_split_and_garbage);
	RUN(t_xml_bounds);
	RUN(t_iso8601);
	RUN(t_mask);
	RUN(t_args_and_env);
	RUN(t_env_partial_and_expiry);
	RUN(t_files_default_paths_and_profiles);
	RUN(t_files_env_paths_and_profile_env);
	RUN(t_files_errors);
	RUN(t_process);
	RUN(t_process_failures);
	RUN(t_container);
	RUN(t_container_url_rules);
	RUN(t_container_failures);
	RUN(t_imds);
	RUN(t_region_order);
	RUN(t_fresh);
	RUN(t_sys_run);
	RUN(t_web_identity_env);
	RUN(t_web_identity_denied_is_20_without_token);
	t_precedence();
	RUN(t_profile_env_missing_is_error);
	t_profile_roles();
	RUN(t_profile_role_settings);
	RUN(t_assume_flag_and_endpoints);
	RUN(t_refresh_before_expiry);
	RUN(t_whoami);
	RUN(t_form_and_redact);
	RUN(t_cred_http_url);
	return th_exit();
}
