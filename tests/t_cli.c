/*
 * t_cli.c — the whole command-line surface (§2, §9): usage, help, version, each
 * validation code with the shell tool's exact message, --flag=value, empty
 * arguments, last-one-wins, value validation. Every case runs twice: in process
 * through cli_main() with a fake world, and against the real static binary named
 * by $ECSDEPLOY_BIN (when set) with the same environment.
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"

struct cli_case {
	const char *name;
	const char *argv[24];   /* after the program name; NULL-terminated */
	const char *env[4];     /* NAME=value; NULL-terminated */
	int rc;
	const char *out_has;    /* stdout contains this (NULL: no check) */
	const char *err_has;    /* stderr contains this */
	const char *out_is;     /* stdout is exactly this */
};

#define MSG7 "CLUSTER is required. You can pass the value using -c or --cluster\n"

static const struct cli_case cases[] = {
	{ "no arguments prints usage, exit 3", { NULL }, { NULL }, 3, "##### ecs-deploy #####", NULL, NULL },
	{ "unknown flag prints usage, exit 3", { "--bogus", NULL }, { NULL }, 3, "Exit codes:", "unknown option: --bogus", NULL },
	{ "unknown bare word, exit 3", { "-c", "x", "stray", NULL }, { NULL }, 3, "##### ecs-deploy #####", "unknown option: stray", NULL },
	{ "--help exits 0 with usage", { "--help", NULL }, { NULL }, 0, "--container-image NAME=IMAGE", NULL, NULL },
	{ "-h exits 0", { "-h", NULL }, { NULL }, 0, "Exit codes:", NULL, NULL },
	{ "help lists every exit code", { "--help", NULL }, { NULL }, 0, "22 network or TLS failure", NULL, NULL },
	{ "--version names musl or libc, BearSSL and jsmn", { "--version", NULL }, { NULL }, 0, "ecs-deploy " ED_VERSION " (built with ", NULL, NULL },
	{ "--version mentions BearSSL", { "--version", NULL }, { NULL }, 0, ", BearSSL 0.6, jsmn 1.1.0)", NULL, NULL },
	{ "exit 5: neither -n nor -d", { "-c", "c", "-i", "nginx", NULL }, { NULL }, 5, NULL, NULL,
	  "One of SERVICE or TASK DEFINITION is required. You can pass the value using -n / --service-name for a service, or -d / --task-definition for a task\n" },
	{ "exit 6: both -n and -d", { "-c", "c", "-n", "s", "-d", "t", "-i", "nginx", NULL }, { NULL }, 6, NULL, NULL,
	  "Only one of SERVICE or TASK DEFINITION may be specified, but you supplied both\n" },
	{ "exit 7: service without cluster", { "-n", "svc", "-i", "x", NULL }, { NULL }, 7, NULL, NULL, MSG7 },
	{ "exit 7: run-task without cluster", { "-d", "fam", "-i", "x", "--run-task", NULL }, { NULL }, 7, NULL, NULL, MSG7 },
	{ "exit 8: no image", { "-c", "c", "-n", "s", NULL }, { NULL }, 8, NULL, NULL,
	  "IMAGE is required. You can pass the value using -i or --image\n" },
	{ "exit 9: max-definitions not numeric", { "-c", "c", "-n", "s", "-i", "x", "--max-definitions", "abc", NULL }, { NULL }, 9, NULL, NULL,
	  "MAX_DEFINITIONS must be numeric, or not defined.\n" },
	{ "exit 9: max-definitions negative", { "-c", "c", "-n", "s", "-i", "x", "--max-definitions", "-2", NULL }, { NULL }, 9, NULL, NULL,
	  "MAX_DEFINITIONS must be numeric, or not defined.\n" },
	{ "exit 10: launch type without run-task", { "-c", "c", "-n", "s", "-i", "x", "--launch-type", "FARGATE", NULL }, { NULL }, 10, NULL, NULL,
	  "LAUNCH TYPE requires setting RUN TASK argument. You can set it using --run-task flag.\n" },
	{ "exit 11: network configuration without run-task", { "-c", "c", "-n", "s", "-i", "x", "--network-configuration", "{}", NULL }, { NULL }, 11, NULL, NULL,
	  "NETWORK CONFIGURATION requires setting RUN TASK argument. You can set it using --run-task flag.\n" },
	{ "exit 11: wait-for-success without run-task", { "-c", "c", "-n", "s", "-i", "x", "--wait-for-success", NULL }, { NULL }, 11, NULL, NULL,
	  "WAIT FOR SUCCESS requires setting RUN TASK argument. You can set it using --run-task flag.\n" },
	{ "exit 12: platform version without run-task", { "-c", "c", "-n", "s", "-i", "x", "--platform-version", "1.4.0", NULL }, { NULL }, 12, NULL, NULL,
	  "PLATFORM VERSION requires setting RUN TASK argument. You can set it using --run-task flag.\n" },
	{ "exit 13: unparseable image", { "-c", "c", "-n", "s", "-i", "repo/image:tag1:tag2", NULL }, { NULL }, 13, NULL, NULL,
	  "Unable to parse image name: repo/image:tag1:tag2, check the format and try again\n" },
	{ "exit 13: empty image value", { "-c", "c", "-n", "s", "-i", "", NULL }, { NULL }, 13, NULL, NULL,
	  "Unable to parse image name: , check the format and try again\n" },
	{ "exit 13: bad --container-image image", { "-c", "c", "-n", "s", "--container-image", "web=/x", NULL }, { NULL }, 13,
	  "Unable to parse image name: /x", NULL, NULL },
	{ "exit 13: bad -to tag", { "-c", "c", "-n", "s", "-i", "ignore", "-to", "-bad", NULL }, { NULL }, 13, "Unable to parse tag: -bad", NULL, NULL },
	{ "validation order: 5 before 8", { "-c", "c", NULL }, { NULL }, 5, "One of SERVICE", NULL, NULL },
	{ "validation order: 7 before 8", { "-n", "s", NULL }, { NULL }, 7, NULL, NULL, MSG7 },
	{ "--flag=value form", { "--cluster=c", "--service-name=s", "--max-definitions=x", "--image=nginx", NULL }, { NULL }, 9, "MAX_DEFINITIONS", NULL, NULL },
	{ "--flag=value for image", { "--cluster=c", "--service-name=s", "--image=a:b:c", NULL }, { NULL }, 13, "Unable to parse image name: a:b:c,", NULL, NULL },
	{ "empty arguments are skipped", { "", "-c", "c", "", "-n", "s", "", NULL }, { NULL }, 8, "IMAGE is required", NULL, NULL },
	{ "an empty value is the flag's value", { "-c", "c", "-n", "", "s", NULL }, { NULL }, 3, NULL, "unknown option: s", NULL },
	{ "last occurrence wins", { "-c", "c", "-n", "s", "-i", "a:b:c", "-i", "nginx:1", "--max-definitions", "1", "--max-definitions", "zz", NULL }, { NULL }, 9, NULL, NULL, NULL },
	{ "last occurrence wins (image)", { "-c", "c", "-n", "s", "-i", "nginx:1", "-i", "a:b:c", NULL }, { NULL }, 13, "a:b:c", NULL, NULL },
	{ "boolean =false turns a flag off", { "-c", "c", "-n", "s", "-i", "x", "--run-task=false", "--launch-type", "EC2", NULL }, { NULL }, 10, NULL, NULL, NULL },
	{ "boolean =true turns a flag on", { "-c", "c", "-d", "t", "-i", "x", "--run-task=true", "--launch-type", "EC2", "-t", "0", NULL }, { NULL }, 3, NULL, "TIMEOUT (-t) must be a whole number", NULL },
	{ "boolean with bad value", { "--enable-rollback=maybe", NULL }, { NULL }, 3, NULL, "--enable-rollback expects true or false", NULL },
	{ "flag missing its value", { "-c", NULL }, { NULL }, 3, NULL, "-c needs a value", NULL },
	{ "timeout must be a number", { "-c", "c", "-n", "s", "-i", "x", "-t", "ten", NULL }, { NULL }, 3, NULL, "TIMEOUT (-t) must be a whole number from 1", NULL },
	{ "timeout must be > 0", { "-c", "c", "-n", "s", "-i", "x", "-t", "0", NULL }, { NULL }, 3, NULL, "TIMEOUT (-t)", NULL },
	{ "min percent range", { "-c", "c", "-n", "s", "-i", "x", "-m", "101", NULL }, { NULL }, 3, NULL, "minimumHealthyPercent (-m) must be a whole number from 0 to 100", NULL },
	{ "max percent range", { "-c", "c", "-n", "s", "-i", "x", "-M", "50", NULL }, { NULL }, 3, NULL, "maximumPercent (-M)", NULL },
	{ "desired count numeric", { "-c", "c", "-n", "s", "-i", "x", "-D", "two", NULL }, { NULL }, 3, NULL, "desired count (-D)", NULL },
	{ "poll interval positive", { "-c", "c", "-n", "s", "-i", "x", "--poll-interval", "0", NULL }, { NULL }, 3, NULL, "--poll-interval must be a positive number", NULL },
	{ "output text|json", { "-c", "c", "-n", "s", "-i", "x", "--output", "yaml", NULL }, { NULL }, 3, NULL, "--output must be text or json", NULL },
	{ "container-image needs NAME=", { "-c", "c", "-n", "s", "--container-image", "nginx", NULL }, { NULL }, 3, NULL, "--container-image expects NAME=IMAGE", NULL },
	{ "render and dry-run exclusive", { "-d", "t", "-i", "x", "--render", "--dry-run", NULL }, { NULL }, 3, NULL, "--render and --dry-run cannot be combined", NULL },
	{ "force-new-deployment needs no image", { "-c", "c", "-n", "s", "--force-new-deployment", NULL }, { "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1", NULL }, 20, NULL, "ERROR: ", NULL },
	{ "valid deploy without credentials: exit 20", { "-c", "c", "-n", "s", "-i", "nginx:1.25", NULL }, { "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1", NULL }, 20, NULL, "credentials", NULL },
	{ "-e VAR unset warns", { "-c", "c", "-n", "s", "-i", "nginx", "-e", "ED_TEST_TAG", NULL }, { "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1", NULL }, 20, NULL, "WARNING: environment variable ED_TEST_TAG is unset or empty", NULL },
	{ "-e VAR with a bad tag is exit 13", { "-c", "c", "-n", "s", "-i", "nginx", "-e", "ED_TEST_TAG", NULL }, { "ED_TEST_TAG=bad tag", NULL }, 13, "(tag from ED_TEST_TAG)", NULL, NULL },
	{ "--tag_only_container_names accepted", { "-c", "c", "-n", "s", "-i", "ignore", "-to", "v2", "-toc", "web,worker", NULL }, { "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1", NULL }, 20, NULL, NULL, NULL },
};

static int
check_result(const struct cli_case *c, int rc, const char *out, const char *err, char *why, size_t cap)
{
	if (rc != c->rc) {
		snprintf(why, cap, "exit %d, want %d (stdout: %.200s | stderr: %.200s)", rc, c->rc, out, err);
		return 0;
	}
	if (c->out_has && !strstr(out, c->out_has)) {
		snprintf(why, cap, "stdout lacks '%s': %.300s", c->out_has, out);
		return 0;
	}
	if (c->err_has && !strstr(err, c->err_has)) {
		snprintf(why, cap, "stderr lacks '%s': %.300s", c->err_has, err);
		return 0;
	}
	if (c->out_is && strcmp(out, c->out_is) != 0) {
		snprintf(why, cap, "stdout is '%.300s', want '%s'", out, c->out_is);
		return 0;
	}
	return 1;
}

static void
run_in_process(const struct cli_case *c)
{
	static struct th_world t;
	struct world w;
	char *argv[26];
	char name[256], why[1024];
	int argc = 0, i, rc;

	th_world_bind(&w, &t);
	for (i = 0; c->env[i]; i++)
		t.env[i] = c->env[i];
	argv[argc++] = (char *)"ecs-deploy";
	for (i = 0; c->argv[i]; i++)
		argv[argc++] = (char *)c->argv[i];
	argv[argc] = NULL;
	rc = cli_main(&w, argc, argv);
	snprintf(name, sizeof(name), "cli/in-process: %s", c->name);
	th_case(name, check_result(c, rc, t.out, t.err, why, sizeof(why)), why);
}

static void
run_binary(const char *bin, const struct cli_case *c)
{
	static char out[64 * 1024], err[64 * 1024];
	char *argv[26], *envp[6];
	char name[256], why[1024];
	int argc = 0, i, rc;

	argv[argc++] = (char *)"ecs-deploy";
	for (i = 0; c->argv[i]; i++)
		argv[argc++] = (char *)c->argv[i];
	argv[argc] = NULL;
	for (i = 0; c->env[i]; i++)
		envp[i] = (char *)c->env[i];
	envp[i] = NULL;
	rc = th_exec(bin, argv, envp, out, sizeof(out), err, sizeof(err), 20);
	snprintf(name, sizeof(name), "cli/binary: %s", c->name);
	th_case(name, check_result(c, rc, out, err, why, sizeof(why)), why);
}

int
main(void)
{
	const char *bin = getenv("ECSDEPLOY_BIN");
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_in_process(&cases[i]);
	if (bin && access(bin, X_OK) == 0) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			run_binary(bin, &cases[i]);
	} else {
		th_case("cli/binary: $ECSDEPLOY_BIN is an executable", 0, "ECSDEPLOY_BIN not set or not executable");
	}
	return th_exit();
}
