/*
 * t_td.c — section 13: the lossless task-definition clone (§3) and the image
 * edits (§4.2–§4.4), plus img_same_repo() of section 12.
 * The rich fixture carries every field the shell tool lost, a member unknown
 * today, escapes, unicode and numbers as written; the clone must hold each of
 * its members byte for byte, in order, and none of the output-only ones. The
 * produced bodies are also checked by Python's json module (tests/td/check_clone.py).
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"

#define NTOK 8192
#define SHA "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ECR "123456789012.dkr.ecr.us-east-1.amazonaws.com"

static jsmntok_t tok_base[NTOK], tok_out[NTOK];
static char text_base[65536];
static char out_mem[65536];
static struct td_changes ch;

static const char *const output_only[] = {
	"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
	"registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt",
};

static int
load_json(const char *path, char *text, size_t cap, struct json_doc *d)
{
	FILE *f = fopen(path, "rb");
	size_t n;
	struct err e;

	if (f == NULL)
		return -1;
	n = fread(text, 1, cap, f);
	fclose(f);
	err_clear(&e);
	return json_parse(d, text, n, tok_base, NTOK, &e) == 0 ? 0 : -1;
}

/* Clones doc with edit; on success out_doc describes the body in out_mem. */
static int
clone(const struct json_doc *doc, const struct td_edit *edit, int copy_tags, struct json_doc *out_doc,
    struct err *e)
{
	struct buf b;
	struct jw w;
	int td, tags, rc;

	err_clear(e);
	if (td_locate(doc, &td, &tags) != 0)
		return -1;
	buf_init(&b, out_mem, sizeof(out_mem));
	jw_init(&w, &b);
	rc = td_clone(doc, td, edit, copy_tags, tags, &w, &ch, e);
	if (rc != 0)
		return rc;
	return json_parse(out_doc, out_mem, b.len, tok_out, NTOK, e);
}

static struct td_container *
find_c(const char *name)
{
	int i;

	for (i = 0; i < ch.n; i++) {
		if (sv_eqz(ch.c[i].name, name))
			return &ch.c[i];
	}
	return NULL;
}

static int
is_output_only(const struct json_doc *d, int key)
{
	size_t i;

	for (i = 0; i < sizeof(output_only) / sizeof(output_only[0]); i++) {
		if (json_eq(d, key, output_only[i]))
			return 1;
	}
	return 0;
}

/*
 * Every kept member of td (in base) is in out, in the same order, with the same
 * bytes (containerDefinitions: every container member but "image" byte for byte).
 * Returns NULL or what differs.
 */
static const char *
same_members(const struct json_doc *base, int td, const struct json_doc *out, int want_tags)
{
	static char why[300];
	int i, k, ok = 0, pos = 0;

	k = td + 1;
	for (i = 0; i < base->tok[td].size; i++, k = json_next(base, k + 1)) {
		struct sv key = json_raw(base, k);
		int ko, v, vo;

		if (is_output_only(base, k) || json_eq(base, k, "tags")) {
			if (json_member(out, 0, key) >= 0 && !(want_tags && json_eq(base, k, "tags"))) {
				snprintf(why, sizeof(why), "output-only member %.*s kept", (int)key.n, key.p);
				return why;
			}
			continue;
		}
		ko = json_child(out, 0, pos++);
		if (ko < 0 || !sv_eq(json_raw(out, ko), key)) {
			snprintf(why, sizeof(why), "member %.*s missing or out of order", (int)key.n, key.p);
			return why;
		}
		v = k + 1;
		vo = ko + 1;
		if (json_eq(base, k, "containerDefinitions")) {
			int c;

			if (out->tok[vo].size != base->tok[v].size)
				return "container count differs";
			for (c = 0; c < base->tok[v].size; c++) {
				int bc = json_child(base, v, c), oc = json_child(out, vo, c), m;

				for (m = 0; m < base->tok[bc].size; m++) {
					int bk = json_child(base, bc, m), ok2 = json_child(out, oc, m);

					if (!sv_eq(json_raw(base, bk), json_raw(out, ok2)))
						return "container member order differs";
					if (!json_eq(base, bk, "image") &&
					    !sv_eq(json_span(base, bk + 1), json_span(out, ok2 + 1)))
						return "container member bytes differ";
				}
			}
		} else if (!sv_eq(json_span(base, v), json_span(out, vo))) {
			snprintf(why, sizeof(why), "member %.*s bytes differ", (int)key.n, key.p);
			return why;
		}
		ok++;
	}
	if (want_tags) {
		int ko = json_child(out, 0, pos++);

		if (ko < 0 || !json_eq(out, ko, "tags"))
			return "tags missing";
	}
	if (pos != out->tok[0].size)
		return "extra members in the output";
	return ok > 0 ? NULL : "no members";
}

static const char *
image_of(const struct json_doc *out, const char *name)
{
	static char img[1024];
	int defs = json_get(out, 0, "containerDefinitions"), i;
	struct buf b;

	for (i = 0; i < out->tok[defs].size; i++) {
		int c = json_child(out, defs, i);

		if (json_eq(out, json_get(out, c, "name"), name)) {
			buf_init(&b, img, sizeof(img));
			if (json_str(out, json_get(out, c, "image"), &b) == 0)
				return img;
		}
	}
	return "(none)";
}

static int
py_check(const char *base_path, int copy_tags)
{
	char cmd[512], path[] = "/tmp/ed_t_td.XXXXXX";
	int fd = mkstemp(path), rc;
	size_t n = strlen(out_mem);

	if (fd < 0)
		return -1;
	rc = write(fd, out_mem, n) == (ssize_t)n ? 0 : -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 tests/td/check_clone.py %s %s %d >/dev/null",
	    base_path, path, copy_tags);
	if (rc == 0)
		rc = system(cmd);
	unlink(path);
	return rc;
}

static const char *const shapes[] = {
	"tests/td/rich_describe.json", "tests/td/rich_plain.json", "tests/td/rich_register_input.json",
};

/* §3.1 and §3.3: every shape, with and without tags, -i matching the ECR repo. */
static void
test_rich_clone_every_shape(void)
{
	size_t s;
	int copy;

	for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		for (copy = 0; copy <= 1; copy++) {
			struct json_doc base, out;
			struct td_edit ed;
			struct err e;
			char name[200], why[600] = "";
			const char *diff;
			int td, tags, ok = 1, rc, has_tags;

			memset(&ed, 0, sizeof(ed));
			ed.image = ECR "/acct/repo:2.0";
			snprintf(name, sizeof(name), "td/clone keeps every member byte for byte: %s%s",
			    shapes[s], copy ? " (copy tags)" : "");
			if (load_json(shapes[s], text_base, sizeof(text_base), &base) != 0 ||
			    td_locate(&base, &td, &tags) != 0) {
				th_case(name, 0, "fixture does not load");
				continue;
			}
			has_tags = copy && s != 1;   /* the plain shape has no tags */
			rc = clone(&base, &ed, copy, &out, &e);
			if (rc != 0) {
				snprintf(why, sizeof(why), "rc=%d %.200s", rc, e.msg);
				ok = 0;
			} else if ((diff = same_members(&base, td, &out, has_tags)) != NULL) {
				snprintf(why, sizeof(why), "%s", diff);
				ok = 0;
			} else if (strstr(out_mem, "null") != NULL) {
				snprintf(why, sizeof(why), "a null was written");
				ok = 0;
			} else if (has_tags && !sv_eq(json_span(&out, json_get(&out, 0, "tags")),
			    json_span(&base, tags))) {
				snprintf(why, sizeof(why), "tags not byte for byte");
				ok = 0;
			} else if (!has_tags && json_get(&out, 0, "tags") >= 0) {
				snprintf(why, sizeof(why), "tags written without being asked");
				ok = 0;
			} else if (ch.n != 6 || ch.matched != 2 ||
			    strcmp(image_of(&out, "web"), ECR "/acct/repo:2.0") != 0 ||
			    strcmp(image_of(&out, "pinned"), ECR "/acct/repo:2.0") != 0 ||
			    strcmp(image_of(&out, "sidecar"), ECR "/acct/repo-two:1.0") != 0 ||
			    strcmp(image_of(&out, "proxy"), "nginx") != 0) {
				snprintf(why, sizeof(why), "images: n=%d matched=%d web=%s", ch.n, ch.matched,
				    image_of(&out, "web"));
				ok = 0;
			} else if (py_check(shapes[s], copy) != 0) {
				snprintf(why, sizeof(why), "python json check failed on: %.400s", out_mem);
				ok = 0;
			}
			th_case(name, ok, why);
		}
	}
}

/* The fields the shell tool lost are all there, with their exact bytes. */
static void
test_lost_fields_present(void)
{
	static const char *const must[] = {
		"\"cpu\":\"1024\"", "\"memory\":\"2048\"", "\"requiresCompatibilities\":[\"EC2\", \"EXTERNAL\"]",
		"\"pidMode\":\"task\"", "\"ipcMode\":\"host\"", "\"inferenceAccelerators\":[{\"deviceName\"",
		"\"enableFaultInjection\":true", "\"runtimePlatform\":{\"cpuArchitecture\": \"ARM64\"",
		"\"ephemeralStorage\":{\"sizeInGiB\": 21}", "\"proxyConfiguration\":{\"type\": \"APPMESH\"",
		"\"host\": {\"sourcePath\": \"/srv/data\"}", "\"dockerVolumeConfiguration\": {\"scope\": \"shared\"",
		"\"authorizationConfig\": {\"accessPointId\": \"fsap-1234\", \"iam\": \"ENABLED\"}",
		"\"fsxWindowsFileServerVolumeConfiguration\"", "\"configuredAtLaunch\": true",
		"\"futureMember\":{\"x\":[1,2.50,\"\\u00e9\"], \"big\": 1.0e3, \"neg\": -0.0}",
		"\"value\": \"h\\u00e9llo \\\"w\\u00f6rld\\\"\\n\\ttab \\ud83d\\ude00 \\u2028\"",
		"\"placementConstraints\"", "\"taskRoleArn\"", "\"executionRoleArn\"", "\"networkMode\":\"bridge\"",
		"\"family\":\"rich\"",
	};
	static const char *const gone[] = {
		"taskDefinitionArn", "\"revision\"", "\"status\"", "requiresAttributes", "\"compatibilities\"",
		"registeredAt", "registeredBy", "deregisteredAt", "deleteRequestedAt", "\"tags\"",
	};
	struct json_doc base, out;
	struct td_edit ed;
	struct err e;
	size_t i;

	memset(&ed, 0, sizeof(ed));
	ed.image = "nginx:1.27";
	CHECK(load_json(shapes[0], text_base, sizeof(text_base), &base) == 0);
	CHECK(clone(&base, &ed, 0, &out, &e) == 0);
	for (i = 0; i < sizeof(must) / sizeof(must[0]); i++)
		CHECKF(strstr(out_mem, must[i]) != NULL, "missing %s", must[i]);
	for (i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		CHECKF(strstr(out_mem, gone[i]) == NULL, "kept %s", gone[i]);
	CHECK(ch.matched == 1 && strcmp(image_of(&out, "proxy"), "nginx:1.27") == 0);
	CHECK(strcmp(image_of(&out, "bitnami"), "bitnami/nginx:1.25") == 0);
}

/* §4.2 matching, table driven over a small task definition. */
struct match_case {
	const char *current;
	const char *ref;
	int match;
};

static const struct match_case matches[] = {
	{ "nginx", "nginx:1.26", 1 },
	{ "nginx:1.25", "nginx:1.26", 1 },
	{ "nginx@" SHA, "nginx:1.26", 1 },
	{ "nginx:1.25@" SHA, "nginx:1.26", 1 },
	{ "library/nginx", "nginx:1.26", 1 },
	{ "docker.io/library/nginx:latest", "nginx:1.26", 1 },
	{ "docker.io/nginx", "nginx:1.26", 1 },
	{ "index.docker.io/library/nginx", "nginx:1.26", 1 },
	{ "registry-1.docker.io/library/nginx", "nginx:1.26", 1 },
	{ "DOCKER.IO/library/nginx", "nginx:1.26", 1 },
	{ "nginx", "docker.io/library/nginx:2", 1 },
	{ "bitnami/nginx:1", "nginx:1.26", 0 },
	{ "nginx", "bitnami/nginx:1", 0 },
	{ "nginx-two", "nginx:1.26", 0 },
	{ "nginx", "nginx-two:1", 0 },
	{ "ngin", "nginx:1", 0 },
	{ "ghcr.io/nginx", "nginx:1", 0 },
	{ "ghcr.io/org/img:v1", "ghcr.io/org/img:v2", 1 },
	{ "GHCR.IO/org/img", "ghcr.io/org/img:v2", 1 },
	{ "ghcr.io/org/img", "ghcr.io/org/img2:v2", 0 },
	{ "ghcr.io/org/img/sub", "ghcr.io/org/img:v2", 0 },
	{ ECR "/acct/repo:1", ECR "/acct/repo:2", 1 },
	{ ECR "/acct/repo-two:1", ECR "/acct/repo:2", 0 },
	{ ECR "/acct/repo:1", "acct/repo:2", 0 },                 /* cross-registry */
	{ ECR "/acct/repo:1", "123456789012.dkr.ecr.us-west-2.amazonaws.com/acct/repo:2", 0 },
	{ "registry:5000/img", "registry:5000/img:2", 1 },
	{ "registry:5001/img", "registry:5000/img:2", 0 },
	{ "registry/img", "registry:5000/img:2", 0 },
	{ "localhost:5000/img:1", "localhost:5000/img:2", 1 },
	{ "localhost/img:1", "localhost:5000/img:2", 0 },
	{ "not a valid image", "nginx:1", 0 },
	{ "", "nginx:1", 0 },
};

static void
test_matching(void)
{
	size_t i;

	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++) {
		const struct match_case *m = &matches[i];
		char js[2048], name[400];
		struct json_doc base, out;
		struct td_edit ed;
		struct err e;
		int ok;

		snprintf(js, sizeof(js), "{\"family\":\"f\",\"containerDefinitions\":[{\"name\":\"c\","
		    "\"image\":\"%s\",\"cpu\":1}]}", m->current);
		err_clear(&e);
		memset(&ed, 0, sizeof(ed));
		ed.image = m->ref;
		ok = json_parse(&base, js, strlen(js), tok_base, NTOK, &e) == 0 &&
		    clone(&base, &ed, 0, &out, &e) == 0 && ch.matched == m->match &&
		    strcmp(image_of(&out, "c"), m->match ? m->ref : m->current) == 0 &&
		    img_same_repo(sv_z(m->current), sv_z(m->ref)) == m->match &&
		    img_same_repo(sv_z(m->ref), sv_z(m->current)) == m->match;
		snprintf(name, sizeof(name), "td/-i %s %s %s", m->ref, m->match ? "matches" : "does not match",
		    m->current);
		th_case(name, ok, "wrong");
	}
}

/* Zero matches: rc 0 (the caller exits 14) and every container with its image. */
static void
test_zero_matches_listed(void)
{
	struct json_doc base, out;
	struct td_edit ed;
	struct err e;
	int i;

	memset(&ed, 0, sizeof(ed));
	ed.image = "other/thing:1";
	CHECK(load_json(shapes[0], text_base, sizeof(text_base), &base) == 0);
	CHECK(clone(&base, &ed, 0, &out, &e) == 0);
	CHECK(ch.matched == 0 && ch.n == 6);
	for (i = 0; i < ch.n; i++)
		CHECK(!ch.c[i].changed && ch.c[i].how == TD_SAME && ch.c[i].old_image.n > 0);
	CHECK(sv_eqz(ch.c[2].name, "proxy") && sv_eqz(ch.c[2].old_image, "nginx"));
	CHECK(sv_eqz(ch.c[5].name, "local") && sv_eqz(ch.c[5].old_image, "registry:5000/img"));
	err_clear(&e);
	CHECK(td_no_match(&ch, "other/thing:1", &e) == ED_EXIT_NO_MATCH);
	CHECKF(strstr(e.msg, "other/thing:1") && strstr(e.msg, "web (" ECR "/acct/repo:1.0)") &&
	    strstr(e.msg, "proxy (nginx)") && strstr(e.msg, "local (registry:5000/img)") &&
	    strstr(e.msg, "--container-image"), "%.300s", e.msg);
	/* the unchanged body still has every image as it was */
	CHECK(strcmp(image_of(&out, "web"), ECR "/acct/repo:1.0") == 0);
}

/* Cross-registry moves need --container-image; unknown names are an error. */
static void
test_container_image_flag(void)
{
	static const char *const cis[] = { "sidecar=ghcr.io/org/side:9", "web=acct/repo:3" };
	static const char *const bad[] = { "nosuch=nginx:1" };
	struct json_doc base, out;
	struct td_edit ed;
	struct err e;
	struct td_container *c;

	CHECK(load_json(shapes[0], text_base, sizeof(text_base), &base) == 0);
	memset(&ed, 0, sizeof(ed));
	ed.image = "acct/repo:3";   /* Docker Hub: does not match the ECR repo */
	CHECK(clone(&base, &ed, 0, &out, &e) == 0 && ch.matched == 0);
	ed.container_images = cis;
	ed.n_container_images = 2;
	CHECK(clone(&base, &ed, 0, &out, &e) == 0 && ch.matched == 0);
	CHECK(strcmp(image_of(&out, "sidecar"), "ghcr.io/org/side:9") == 0);
	CHECK(strcmp(image_of(&out, "web"), "acct/repo:3") == 0);
	CHECK(strcmp(image_of(&out, "pinned"), ECR "/acct/repo@" SHA) == 0);
	c = find_c("sidecar");
	CHECK(c && c->how == TD_BY_NAME && c->changed && sv_eqz(c->old_image, ECR "/acct/repo-two:1.0") &&
	    sv_eqz(c->new_image, "ghcr.io/org/side:9"));
	ed.container_images = bad;
	ed.n_container_images = 1;
	CHECK(clone(&base, &ed, 0, &out, &e) == ED_EXIT_NO_MATCH && strstr(e.msg, "nosuch") != NULL);
}

/* §4.4: -to keeps registry:port/path, leaves digests, honours -toc. */
static void
test_tag_only(void)
{
	struct json_doc base, out;
	struct td_edit ed;
	struct err e;

	CHECK(load_json(shapes[0], text_base, sizeof(text_base), &base) == 0);
	memset(&ed, 0, sizeof(ed));
	ed.image = "ignore";
	ed.tag_only = "v9";
	CHECK(clone(&base, &ed, 0, &out, &e) == 0);
	CHECK(strcmp(image_of(&out, "local"), "registry:5000/img:v9") == 0);
	CHECK(strcmp(image_of(&out, "web"), ECR "/acct/repo:v9") == 0);
	CHECK(strcmp(image_of(&out, "proxy"), "nginx:v9") == 0);
	CHECK(strcmp(image_of(&out, "bitnami"), "bitnami/nginx:v9") == 0);
	CHECK(strcmp(image_of(&out, "pinned"), ECR "/acct/repo@" SHA) == 0);
	CHECK(find_c("pinned") && find_c("pinned")->how == TD_PINNED && !find_c("pinned")->changed);
	CHECK(find_c("local") && find_c("local")->how == TD_BY_TAG && find_c("local")->changed);
	CHECK(ch.matched == 0);
	ed.tag_only_names = "local,proxy";
	CHECK(clone(&base, &ed, 0, &out, &e) == 0);
	CHECK(strcmp(image_of(&out, "local"), "registry:5000/img:v9") == 0);
	CHECK(strcmp(image_of(&out, "proxy"), "nginx:v9") == 0);
	CHECK(strcmp(image_of(&out, "web"), ECR "/acct/repo:1.0") == 0);
	CHECK(strcmp(image_of(&out, "bitnami"), "bitnami/nginx:1.25") == 0);
}

/* Escaped image strings are unescaped to match and written escaped; others stay byte for byte. */
static void
test_escaped_images(void)
{
	const char *js = "{\"containerDefinitions\":[{\"name\":\"a\",\"image\":\"ngin\\u0078:1\"},"
	    "{\"name\":\"b\",\"image\":\"other\\/x:1\"},{\"n\\u0061me\":\"c\",\"\\u0069mage\":\"nginx\"}],"
	    "\"family\":\"f\\u00e9\"}";
	struct json_doc base, out;
	struct td_edit ed;
	struct err e;

	err_clear(&e);
	CHECK(json_parse(&base, js, strlen(js), tok_base, NTOK, &e) == 0);
	memset(&ed, 0, sizeof(ed));
	ed.image = "nginx:2";
	CHECK(clone(&base, &ed, 0, &out, &e) == 0);
	CHECK(ch.matched == 2 && sv_eqz(ch.c[0].old_image, "nginx:1") && sv_eqz(ch.c[2].name, "c"));
	CHECKF(strstr(out_mem, "{\"name\":\"a\",\"image\":\"nginx:2\"}") != NULL, "%.300s", out_mem);
	CHECKF(strstr(out_mem, "{\"name\":\"b\",\"image\":\"other\\/x:1\"}") != NULL, "%.300s", out_mem);
	CHECKF(strstr(out_mem, "{\"n\\u0061me\":\"c\",\"\\u0069mage\":\"nginx:2\"}") != NULL, "%.300s", out_mem);
	CHECK(strstr(out_mem, "\"family\":\"f\\u00e9\"") != NULL);
}

/* Not a task definition, bad shapes, too small an output buffer, too many containers. */
static void
test_errors(void)
{
	struct json_doc base;
	struct td_edit ed;
	struct err e;
	struct buf b;
	struct jw w;
	char small[64];
	int td, tags;

	memset(&ed, 0, sizeof(ed));
	ed.image = "nginx";
	err_clear(&e);
	CHECK(json_parse(&base, "[1]", 3, tok_base, NTOK, &e) == 0 && td_locate(&base, &td, &tags) == -1);
	CHECK(json_parse(&base, "{\"taskDefinition\":[]}", 21, tok_base, NTOK, &e) == 0 &&
	    td_locate(&base, &td, &tags) == -1);
	CHECK(json_parse(&base, "{\"family\":\"x\"}", 14, tok_base, NTOK, &e) == 0 &&
	    td_locate(&base, &td, &tags) == 0 && td == 0 && tags == -1);
	buf_init(&b, out_mem, sizeof(out_mem));
	jw_init(&w, &b);
	CHECK(td_clone(&base, td, &ed, 0, tags, &w, &ch, &e) == ED_EXIT_USAGE &&
	    strstr(e.msg, "containerDefinitions") != NULL);
	CHECK(load_json(shapes[0], text_base, sizeof(text_base), &base) == 0 &&
	    td_locate(&base, &td, &tags) == 0);
	buf_init(&b, small, sizeof(small));
	jw_init(&w, &b);
	err_clear(&e);
	CHECK(td_clone(&base, td, &ed, 0, tags, &w, &ch, &e) == ED_EXIT_USAGE &&
	    strncmp(e.msg, "too big: ED_MAX_JSON_BYTES", 26) == 0);
	{
		static char many[16384];
		size_t n = 0;
		int i;

		n += (size_t)sprintf(many + n, "{\"containerDefinitions\":[");
		for (i = 0; i <= ED_MAX_TD_CONTAINERS; i++)
			n += (size_t)sprintf(many + n, "%s{\"name\":\"c%d\",\"image\":\"nginx\"}", i ? "," : "", i);
		n += (size_t)sprintf(many + n, "]}");
		err_clear(&e);
		CHECK(json_parse(&base, many, n, tok_base, NTOK, &e) == 0);
		buf_init(&b, out_mem, sizeof(out_mem));
		jw_init(&w, &b);
		CHECK(td_clone(&base, 0, &ed, 0, -1, &w, &ch, &e) == ED_EXIT_USAGE &&
		    strcmp(e.msg, "too big: ED_MAX_TD_CONTAINERS") == 0);
	}
}

/* With the product's ED_JSON_TOKENIZE_STEP a stream in chunks gives json_parse's tokens. */
static void
test_stream_default_step(void)
{
	static char sbuf[65536];
	static jsmntok_t ts[NTOK];
	struct json_doc whole, d;
	struct json_stream s;
	struct err e;
	size_t n, at;
	int i, rc = 0;
	FILE *f = fopen(shapes[0], "rb");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	n = fread(text_base, 1, sizeof(text_base), f);
	fclose(f);
	err_clear(&e);
	CHECK(json_parse(&whole, text_base, n, tok_base, NTOK, &e) == 0);
	json_stream_init(&s, sbuf, sizeof(sbuf), ts, NTOK);
	for (at = 0; at < n && rc == 0; at += 100)
		rc = json_stream_feed(&s, text_base + at, n - at < 100 ? n - at : 100, &e);
	CHECK(rc == 0 && s.p.toknext > 0);   /* tokens came before the end */
	CHECK(json_stream_finish(&s, &d, &e) == 0 && d.ntok == whole.ntok);
	for (i = 0; i < d.ntok && i < whole.ntok; i++)
		CHECK(d.tok[i].start == whole.tok[i].start && d.tok[i].end == whole.tok[i].end &&
		    d.tok[i].type == whole.tok[i].type && d.tok[i].size == whole.tok[i].size &&
		    d.tok[i].parent == whole.tok[i].parent);
}

int
main(void)
{
	test_rich_clone_every_shape();
	RUN(test_lost_fields_present);
	test_matching();
	RUN(test_zero_matches_listed);
	RUN(test_container_image_flag);
	RUN(test_tag_only);
	RUN(test_escaped_images);
	RUN(test_errors);
	RUN(test_stream_default_step);
	return th_exit();
}
