/*
 * awscall.c — a test tool: one or more aws_call()s from the command line.
 *
 *   awscall [-v] [-n COUNT] [-r REGION] [--endpoint-url URL] [--ca-bundle FILE] TARGET BODY
 *
 * Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
 * (the credential chain is not part of the transport). Prints the last answer's
 * JSON text on stdout, or the error on stderr, and exits with aws_call's code.
 * With -n it makes COUNT calls in one run (the benchmark), on one connection.
 * Built by the tests and the benchmark: cc -Ivendor/bearssl/inc -Ivendor/jsmn
 * tests/tools/awscall.c vendor/build/<flavour>/libbearssl.a
 */
#define ECSDEPLOY_TEST 1
#include "../../ecsdeploy.c"

static struct aws A;

int
main(int argc, char **argv)
{
	struct world w;
	struct err e;
	struct json_doc d;
	const char *region = NULL, *endpoint = NULL, *ca = NULL, *v;
	int verbose = 0, i = 1, rc = 0;
	long count = 1, k;

	world_init_system(&w);
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			count = atol(argv[++i]);
		else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			region = argv[++i];
		else if (strcmp(argv[i], "--endpoint-url") == 0 && i + 1 < argc)
			endpoint = argv[++i];
		else if (strcmp(argv[i], "--ca-bundle") == 0 && i + 1 < argc)
			ca = argv[++i];
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: awscall [-v] [-n COUNT] [-r REGION] [--endpoint-url URL] [--ca-bundle FILE] TARGET BODY\n");
		return 3;
	}
	err_clear(&e);
	rc = aws_init(&A, &w, region, endpoint, ca, verbose, &e);
	if (rc == 0) {
		v = getenv("AWS_ACCESS_KEY_ID");
		snprintf(A.creds.akid, sizeof(A.creds.akid), "%s", v ? v : "");
		v = getenv("AWS_SECRET_ACCESS_KEY");
		snprintf(A.creds.secret, sizeof(A.creds.secret), "%s", v ? v : "");
		v = getenv("AWS_SESSION_TOKEN");
		snprintf(A.creds.token, sizeof(A.creds.token), "%s", v ? v : "");
		for (k = 0; k < count && rc == 0; k++) {
			err_clear(&e);
			rc = aws_call(&A, "ecs", argv[i], sv_z(argv[i + 1]), &d, &e);
		}
	}
	if (rc != 0) {
		fprintf(stderr, "ecs-deploy: %s\n", e.msg);
		if (e.aws_type[0])
			fprintf(stderr, "aws error type: %s, http status %d, request id %s\n", e.aws_type,
			    e.http_status, e.request_id[0] ? e.request_id : "-");
	} else {
		fwrite(d.js, 1, d.len, stdout);
		fputc('\n', stdout);
	}
	fprintf(stderr, "calls %lu attempts %lu retries %lu handshakes %lu connects %lu\n", A.calls,
	    A.attempts, A.retries, A.http.handshakes, A.http.connects);
	aws_close(&A);
	return rc;
}
