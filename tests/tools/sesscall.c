/*
 * sesscall.c — a test tool: ECS calls the way the deploy path makes them, through
 * aws_session_open() (region and the whole credential chain, -a) and
 * aws_session_ecs_call() (credentials refreshed before they expire).
 *
 *   sesscall [-v] [-n COUNT] [--sleep-ms MS] [-a ROLE] [-p PROFILE] [-r REGION]
 *            [--aws-instance-profile] [--endpoint-url URL] [--ca-bundle FILE] OP BODY
 *
 * Makes COUNT calls of operation OP ("ListClusters") with JSON BODY, sleeping MS
 * between them; prints the last answer on stdout, the error on stderr, and exits
 * with the code. Built by tests/test_creds.py.
 */
#define ECSDEPLOY_TEST 1
#include "../../ecsdeploy.c"

static struct aws_session S;

int
main(int argc, char **argv)
{
	struct world w;
	struct err e;
	struct json_doc d;
	struct cred_opts co;
	const char *endpoint = NULL, *ca = NULL;
	int verbose = 0, i = 1, rc;
	long count = 1, sleep_ms = 0, k;

	world_init_system(&w);
	memset(&co, 0, sizeof(co));
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = 1;
		else if (strcmp(argv[i], "--aws-instance-profile") == 0)
			co.instance_only = 1;
		else if (i + 1 >= argc)
			break;
		else if (strcmp(argv[i], "-n") == 0)
			count = atol(argv[++i]);
		else if (strcmp(argv[i], "--sleep-ms") == 0)
			sleep_ms = atol(argv[++i]);
		else if (strcmp(argv[i], "-a") == 0)
			co.assume_role = argv[++i];
		else if (strcmp(argv[i], "-p") == 0)
			co.profile = argv[++i];
		else if (strcmp(argv[i], "-r") == 0)
			co.region = argv[++i];
		else if (strcmp(argv[i], "--endpoint-url") == 0)
			endpoint = argv[++i];
		else if (strcmp(argv[i], "--ca-bundle") == 0)
			ca = argv[++i];
		else
			break;
	}
	if (argc - i != 2) {
		fprintf(stderr, "usage: sesscall [options] OP BODY\n");
		return 3;
	}
	err_clear(&e);
	rc = aws_session_open(&S, &w, &co, endpoint, ca, verbose, &e);
	for (k = 0; k < count && rc == 0; k++) {
		if (k > 0)
			w.sleep_ms(w.ctx, sleep_ms);
		err_clear(&e);
		rc = aws_session_ecs_call(&S, argv[i], sv_z(argv[i + 1]), &d, &e);
	}
	if (rc != 0) {
		fprintf(stderr, "ecs-deploy: %s\n", e.msg);
	} else {
		fwrite(d.js, 1, d.len, stdout);
		fputc('\n', stdout);
	}
	fprintf(stderr, "credentials: %s\n", S.cred.cur.source);
	aws_session_close(&S);
	return rc;
}
