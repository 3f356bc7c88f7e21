/*
 * t_img.c — the image-reference grammar of §4.1: every example the spec says must
 * parse, every one it says must be rejected, and the parts each one splits into.
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"

#define SHA "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct img_case {
	const char *ref;
	int ok;
	const char *registry, *path, *tag, *digest;
};

static const struct img_case cases[] = {
	{ "mariadb", 1, "", "mariadb", "", "" },
	{ "mariadb:1.2.3", 1, "", "mariadb", "1.2.3", "" },
	{ "repo/image@" SHA, 1, "", "repo/image", "", SHA },
	{ "localhost:5000/img:tag", 1, "localhost:5000", "img", "tag", "" },
	{ "localhost/img", 1, "localhost", "img", "", "" },
	{ "ghcr.io/org/img:v1", 1, "ghcr.io", "org/img", "v1", "" },
	{ "public.ecr.aws/nginx/nginx:1.25", 1, "public.ecr.aws", "nginx/nginx", "1.25", "" },
	{ "121212345678.dkr.ecr.us-east-1.amazonaws.com/acct/repo", 1, "121212345678.dkr.ecr.us-east-1.amazonaws.com", "acct/repo", "", "" },
	{ "my_image:1", 1, "", "my_image", "1", "" },
	{ "a.b.c", 1, "", "a.b.c", "", "" },
	{ "img:tag@" SHA, 1, "", "img", "tag", SHA },
	{ "a__b/c---d:_x.Y-z", 1, "", "a__b/c---d", "_x.Y-z", "" },
	{ "registry:5000/a/b/c", 1, "registry:5000", "a/b/c", "", "" },
	{ "", 0, 0, 0, 0, 0 },
	{ "/something", 0, 0, 0, 0, 0 },
	{ "x:y/z", 0, 0, 0, 0, 0 },
	{ "repo/image:tag1:tag2", 0, 0, 0, 0, 0 },
	{ "domain.com:abc/repo/image", 0, 0, 0, 0, 0 },
	{ "Upper/case", 0, 0, 0, 0, 0 },
	{ "img:", 0, 0, 0, 0, 0 },
	{ "img@sha256:abc", 0, 0, 0, 0, 0 },
	{ "img@", 0, 0, 0, 0, 0 },
	{ "a//b", 0, 0, 0, 0, 0 },
	{ "a/", 0, 0, 0, 0, 0 },
	{ "a_-b", 0, 0, 0, 0, 0 },
	{ "a___b", 0, 0, 0, 0, 0 },
	{ "-a", 0, 0, 0, 0, 0 },
	{ "img:-tag", 0, 0, 0, 0, 0 },
	{ "host:99999/img", 0, 0, 0, 0, 0 },
	{ "with space", 0, 0, 0, 0, 0 },
};

static int
eq(struct sv s, const char *z)
{
	return sv_eqz(s, z);
}

static void
test_grammar(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct img_case *c = &cases[i];
		struct img im;
		int rc = img_parse(sv_z(c->ref), &im);
		char name[400], why[400] = "";
		int ok;

		snprintf(name, sizeof(name), "img/%s '%s'", c->ok ? "parses" : "rejects", c->ref);
		if (!c->ok) {
			ok = rc != 0;
			if (!ok)
				snprintf(why, sizeof(why), "accepted");
		} else {
			ok = rc == 0 && eq(im.registry, c->registry) && eq(im.path, c->path) &&
			    eq(im.tag, c->tag) && eq(im.digest, c->digest);
			if (!ok)
				snprintf(why, sizeof(why), "rc=%d registry='%.*s' path='%.*s' tag='%.*s' digest='%.*s'",
				    rc, (int)im.registry.n, im.registry.p, (int)im.path.n, im.path.p,
				    (int)im.tag.n, im.tag.p, (int)im.digest.n, im.digest.p);
		}
		th_case(name, ok, why);
	}
}

/* A 128-character tag is the longest allowed. */
static void
test_tag_length_limit(void)
{
	char t[200];

	memset(t, 'a', 128);
	t[128] = '\0';
	CHECK(img_tag_ok(sv_z(t)));
	t[128] = 'a';
	t[129] = '\0';
	CHECK(!img_tag_ok(sv_z(t)));
}

/* The parser must survive every byte at every position of a reference. */
static void
test_any_byte(void)
{
	char ref[] = "reg.io:5000/a/b:tag";
	size_t pos;
	int c;

	for (pos = 0; pos < sizeof(ref) - 1; pos++) {
		char save = ref[pos];

		for (c = 1; c < 256; c++) {
			struct img im;

			ref[pos] = (char)c;
			if (img_parse(sv_z(ref), &im) == 0)
				CHECK(im.path.n > 0 && im.path.p >= ref && im.path.p + im.path.n <= ref + sizeof(ref));
		}
		ref[pos] = save;
	}
}

int
main(void)
{
	test_grammar();
	RUN(test_tag_length_limit);
	RUN(test_any_byte);
	return th_exit();
}
