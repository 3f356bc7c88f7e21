/*
 * fuzz_cred.c — libFuzzer harness for the parsers of the credential layer that
 * read outside input: the XML field reader (STS answers), the INI reader
 * (shared files), the shell-like splitter (credential_process) and ISO 8601.
 * Checks: no crash, no read outside the input (ASan), outputs within their
 * bounds, a found XML field never longer than the document, the splitter's
 * words NUL-terminated inside its buffer.
 */
#define ECSDEPLOY_TEST 1
#include "../../ecsdeploy.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = {
		"AssumeRoleResult/Credentials/AccessKeyId", "Error/Code", "a", "a/b/c",
		"GetCallerIdentityResult/Arn",
	};
	char *copy = malloc(size ? size : 1);
	struct sv in;
	char out[64], words[128], *argv[9];
	struct buf b;
	struct sv v;
	int64_t t;
	size_t i;
	int n;

	if (copy == NULL)
		return 0;
	if (size)
		memcpy(copy, data, size);
	in = sv_make(copy, size);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		buf_init(&b, out, sizeof(out));
		if (cred_xml_get(in, paths[i], &b) == 0 && (b.len >= sizeof(out) || b.overflow))
			__builtin_trap();
	}
	if (cred_ini_get(in, 1, sv_z("default"), "region", &v) &&
	    (v.p < copy || v.p + v.n > copy + size))
		__builtin_trap();
	cred_ini_get(in, 0, sv_z("x"), "aws_access_key_id", &v);
	n = cred_split(in, words, sizeof(words), argv, 9);
	for (i = 0; n > 0 && i < (size_t)n; i++) {
		if (argv[i] < words || argv[i] + strlen(argv[i]) >= words + sizeof(words))
			__builtin_trap();
	}
	cred_iso8601(in, &t);
	free(copy);
	return 0;
}
