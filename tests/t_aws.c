/*
 * t_aws.c — section 10: aws_call() against tests/lib/faultsrv.py over TLS on
 * loopback: endpoint resolution, signing headers, error mapping (JSON __type,
 * XML Code, exit codes 20/21/22), standard retries with backoff through the
 * world's sleep (a fake: no real waiting), throttling bursts, 5xx, resets,
 * truncated bodies, stalls, clock-skew correction, non-idempotent calls never
 * repeated once sent, -v lines without secrets, one handshake per run.
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"
#include "netutil.h"

#define DESCRIBE "AmazonEC2ContainerServiceV20141113.DescribeServices"
#define REGISTER "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition"
#define RUNTASK "AmazonEC2ContainerServiceV20141113.RunTask"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLETOKENxyzzy0123456789"

static struct nu_srv srv;
static struct aws A;
static struct th_world tw;
static struct world w;
static char env_ep[128], env_ca[300];

/* A fresh context pointed at the fault server; extra env entries may follow. */
static int
setup(const char *extra1, const char *extra2)
{
	struct err e;
	int rc;

	if (A.w)
		aws_close(&A);
	th_world_bind(&w, &tw);
	tw.wall = (int64_t)time(NULL);
	snprintf(env_ep, sizeof(env_ep), "AWS_ENDPOINT_URL=https://localhost:%d", srv.port[0]);
	snprintf(env_ca, sizeof(env_ca), "AWS_CA_BUNDLE=%s/ca.pem", srv.pki);
	tw.env[0] = env_ep;
	tw.env[1] = env_ca;
	tw.env[2] = "AWS_REGION=us-east-1";
	tw.env[3] = extra1;
	tw.env[4] = extra1 ? extra2 : NULL;
	err_clear(&e);
	rc = aws_init(&A, &w, NULL, NULL, NULL, 1, &e);
	snprintf(A.creds.akid, sizeof(A.creds.akid), "AKIDEXAMPLE");
	snprintf(A.creds.secret, sizeof(A.creds.secret), SECRET);
	snprintf(A.creds.token, sizeof(A.creds.token), TOKEN);
	A.http.read_timeout_ms = 3000;
	nu_ctl(&srv, "/__reset", "{}");
	return rc;
}

static int
call(const char *target, struct json_doc *d, struct err *e)
{
	err_clear(e);
	return aws_call(&A, "ecs", target, sv_z("{\"cluster\":\"c\"}"), d, e);
}

static int
no_secrets(void)
{
	return strstr(tw.err, SECRET) == NULL && strstr(tw.err, TOKEN) == NULL
	    && strstr(tw.err, "Authorization") == NULL && strstr(tw.out, SECRET) == NULL
	    && strstr(tw.err, "{\"cluster\"") == NULL;
}

static void
endpoints(void)
{
	struct err e;
	char url[ED_MAX_URL];

	setup(NULL, NULL);
	tw.env[0] = NULL;            /* no AWS_ENDPOINT_URL */
	err_clear(&e);
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == 0);
	CHECK(strcmp(url, "https://ecs.us-east-1.amazonaws.com") == 0);
	CHECK(aws_endpoint(&A, "sts", url, sizeof(url), &e) == 0);
	CHECK(strcmp(url, "https://sts.us-east-1.amazonaws.com") == 0);
	snprintf(A.region, sizeof(A.region), "cn-northwest-1");
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == 0);
	CHECK(strcmp(url, "https://ecs.cn-northwest-1.amazonaws.com.cn") == 0);
	snprintf(A.region, sizeof(A.region), "us-gov-west-1");
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == 0);
	CHECK(strcmp(url, "https://ecs.us-gov-west-1.amazonaws.com") == 0);
	tw.env[0] = "AWS_ENDPOINT_URL=https://all.example";
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == 0 && strcmp(url, "https://all.example") == 0);
	tw.env[3] = "AWS_ENDPOINT_URL_ECS=https://ecs.example";
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == 0 && strcmp(url, "https://ecs.example") == 0);
	CHECK(aws_endpoint(&A, "sts", url, sizeof(url), &e) == 0 && strcmp(url, "https://all.example") == 0);
	snprintf(A.endpoint_url, sizeof(A.endpoint_url), "https://flag.example");
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == 0 && strcmp(url, "https://flag.example") == 0);
	tw.env[0] = tw.env[3] = NULL;
	A.endpoint_url[0] = '\0';
	A.region[0] = '\0';
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "no AWS region") != NULL);
	err_clear(&e);
	snprintf(A.region, sizeof(A.region), "us-east-1/../x");
	CHECK(aws_endpoint(&A, "ecs", url, sizeof(url), &e) == ED_EXIT_USAGE);
}

static void
plain_http_only_loopback(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	snprintf(A.endpoint_url, sizeof(A.endpoint_url), "http://ecs.example.com");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "only for loopback") != NULL);
	snprintf(A.endpoint_url, sizeof(A.endpoint_url), "http://127.0.0.1:%d", srv.plain);
	CHECKF(call(DESCRIBE, &d, &e) == 0, "%.400s", e.msg);
	CHECK(A.http.handshakes == 0);
}

static void
describe_works_and_keeps_one_connection(void)
{
	struct json_doc d;
	struct err e;
	int i, t;

	CHECK(setup(NULL, NULL) == 0);
	for (i = 0; i < 10; i++)
		CHECKF(call(DESCRIBE, &d, &e) == 0, "%.400s", e.msg);
	t = json_get(&d, 0, "services.0.serviceName");
	CHECK(t > 0 && json_eq(&d, t, "web"));
	t = json_get(&d, 0, "target");
	CHECK(t > 0 && json_eq(&d, t, DESCRIBE));
	CHECK(A.http.handshakes == 1);
	CHECK(nu_stat(&srv, "handshakes") == 1);
	CHECK(nu_stat(&srv, "authorized") == 10);
	CHECK(strstr(nu_ctl(&srv, "/__stats", NULL), "\"agents\": [\"ecs-deploy/" ED_VERSION "\"") != NULL);
	CHECK(A.retries == 0 && A.attempts == 10);
	CHECK(strstr(tw.err, "aws: DescribeServices status 200, ") != NULL);
	CHECK(strstr(tw.err, "request id req-10, 0 retries") != NULL);
	CHECK(no_secrets());
}

/* Bodies larger than a TLS record both ways; a chunked answer with extensions and trailers. */
static void
large_bodies_over_tls(void)
{
	static char big[300001];
	struct json_doc d;
	struct err e;
	long v = 0;
	int t;

	setup(NULL, NULL);
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	nu_ctl(&srv, "/__script", "[{\"pad\": 1000000}, {\"pad\": 50000, \"chunked\": true}]");
	err_clear(&e);
	CHECKF(aws_call(&A, "ecs", REGISTER, sv_make(big, sizeof(big) - 1), &d, &e) == 0, "%.400s", e.msg);
	t = json_get(&d, 0, "bytes");
	CHECK(t > 0 && json_long(&d, t, &v) == 0 && v == 300000);
	t = json_get(&d, 0, "pad");
	CHECK(t > 0 && json_raw(&d, t).n == 1000000);
	CHECKF(call(DESCRIBE, &d, &e) == 0, "%.400s", e.msg);
	t = json_get(&d, 0, "pad");
	CHECK(t > 0 && json_raw(&d, t).n == 50000);
	t = json_get(&d, 0, "services.0.serviceName");
	CHECK(t > 0 && json_eq(&d, t, "web"));
	CHECK(A.http.handshakes == 1);
}

static void
throttling_burst_is_retried(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"throttle\": true}, {\"throttle\": true}]");
	CHECKF(call(REGISTER, &d, &e) == 0, "%.400s", e.msg);   /* even non-idempotent: rejected, not done */
	CHECK(nu_stat(&srv, "requests") == 3);
	CHECK(A.retries == 2);
	/* full jitter: 0..200 ms, then 0..400 ms, through the world's sleep */
	CHECKF(tw.slept_ms <= 600, "slept %lld", (long long)tw.slept_ms);
	CHECK(strstr(tw.err, "aws: RegisterTaskDefinition status 200, ") != NULL);
	CHECK(strstr(tw.err, "2 retries") != NULL);
}

static void
throttling_exhausts_attempts(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"throttle\": true}, {\"throttle\": true}, {\"throttle\": true}, {}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AWS);
	CHECK(nu_stat(&srv, "requests") == 3);
	CHECK(strcmp(e.aws_type, "ThrottlingException") == 0 && e.http_status == 400);
	CHECKF(strstr(e.msg, "AWS rejected DescribeServices: ThrottlingException: Rate exceeded (HTTP 400, after retries)") != NULL,
	    "%.400s", e.msg);
	CHECK(A.err.code == ED_EXIT_AWS);
}

static void
max_attempts_from_env(void)
{
	struct json_doc d;
	struct err e;

	setup("AWS_MAX_ATTEMPTS=5", NULL);
	CHECK(A.max_attempts == 5);
	nu_ctl(&srv, "/__script", "[{\"throttle\": true}, {\"throttle\": true}, {\"throttle\": true}, {\"throttle\": true}]");
	CHECKF(call(DESCRIBE, &d, &e) == 0, "%.400s", e.msg);
	CHECK(nu_stat(&srv, "requests") == 5);
	setup("AWS_MAX_ATTEMPTS=zero", NULL);
	CHECK(A.max_attempts == 3);
}

static void
server_errors_retried_when_idempotent(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"status\": 500, \"body\": {\"__type\": \"ServerException\", \"message\": \"boom\"}},"
	    " {\"status\": 503, \"body\": \"<html>unavailable</html>\"}]");
	CHECKF(call(DESCRIBE, &d, &e) == 0, "%.400s", e.msg);
	CHECK(nu_stat(&srv, "requests") == 3);
}

static void
server_error_not_repeated_for_register(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"status\": 503, \"body\": {\"__type\": \"ServiceUnavailableException\"}}]");
	CHECK(call(REGISTER, &d, &e) == ED_EXIT_AWS);
	CHECK(nu_stat(&srv, "requests") == 1);
	CHECK(strcmp(e.aws_type, "ServiceUnavailableException") == 0 && e.http_status == 503);
}

static void
reset_mid_body(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"reset_mid_body\": true}]");
	CHECKF(call(DESCRIBE, &d, &e) == 0, "%.400s", e.msg);
	CHECK(nu_stat(&srv, "requests") == 2 && A.retries == 1);
	CHECK(A.http.handshakes == 2);
	nu_ctl(&srv, "/__reset", "{}");
	nu_ctl(&srv, "/__script", "[{\"reset_mid_body\": true}]");
	CHECK(call(RUNTASK, &d, &e) == ED_EXIT_NETWORK);
	CHECK(nu_stat(&srv, "requests") == 1);
	CHECKF(strstr(e.msg, "not retried: the request may have been acted on") != NULL, "%.400s", e.msg);
}

static void
truncated_body(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"truncate\": true}, {\"truncate\": true}, {\"truncate\": true}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_NETWORK);
	CHECK(nu_stat(&srv, "requests") == 3);
	CHECKF(strstr(e.msg, "DescribeServices: connection closed by the server mid-response") != NULL, "%.400s", e.msg);
	CHECK(strstr(e.msg, "(after 3 attempts)") != NULL);
	CHECK(strstr(tw.err, "aws: DescribeServices status -, ") != NULL);
}

static void
stall_times_out(void)
{
	struct json_doc d;
	struct err e;
	int64_t t0 = sys_mono_ms(NULL), dt;

	setup(NULL, NULL);
	A.http.read_timeout_ms = 300;
	nu_ctl(&srv, "/__script", "[{\"stall\": 2}, {\"stall\": 2}]");
	CHECK(call(DESCRIBE, &d, &e) == 0);      /* third attempt answers */
	CHECK(A.retries == 2);
	dt = sys_mono_ms(NULL) - t0;
	CHECKF(dt >= 550 && dt < 3000, "%lld ms", (long long)dt);
	setup("AWS_MAX_ATTEMPTS=2", NULL);
	A.http.read_timeout_ms = 300;
	nu_ctl(&srv, "/__script", "[{\"stall\": 2}, {\"stall\": 2}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_NETWORK);
	CHECKF(strstr(e.msg, "timed out") != NULL && strstr(e.msg, "after 2 attempts") != NULL, "%.400s", e.msg);
	setup(NULL, NULL);
	A.http.read_timeout_ms = 300;
	nu_ctl(&srv, "/__script", "[{\"stall\": 2}]");
	CHECK(call(RUNTASK, &d, &e) == ED_EXIT_NETWORK);
	CHECK(A.retries == 0);
}

static void
clock_skew_corrected(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__config", "{\"clock_offset\": 3600, \"check_date\": true}");
	CHECKF(call(REGISTER, &d, &e) == 0, "%.400s", e.msg);
	CHECK(nu_stat(&srv, "requests") == 2);
	CHECKF(A.skew >= 3595 && A.skew <= 3605, "skew %lld", (long long)A.skew);
	CHECK(A.retries == 0);
	CHECK(strstr(tw.err, "clock skew corrected") != NULL);
	CHECK(call(DESCRIBE, &d, &e) == 0);
	CHECK(nu_stat(&srv, "requests") == 3);
	/* a second skew complaint in the same run is not chased again */
	nu_ctl(&srv, "/__config", "{\"clock_offset\": -7200, \"check_date\": true}");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	CHECK(strstr(e.msg, "InvalidSignatureException: Signature expired") != NULL);
}

static void
client_errors_map_to_21(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"status\": 400, \"body\": {\"__type\": \"com.amazonaws.ecs#ClusterNotFoundException\","
	    " \"message\": \"Cluster not found.\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AWS);
	CHECK(strcmp(e.aws_type, "ClusterNotFoundException") == 0);
	CHECKF(strcmp(e.msg, "AWS rejected DescribeServices: ClusterNotFoundException: Cluster not found. (HTTP 400)") == 0, "%.400s", e.msg);
	CHECK(strcmp(e.request_id, "req-1") == 0);
	CHECK(nu_stat(&srv, "requests") == 1);
	nu_ctl(&srv, "/__script", "[{\"status\": 400, \"body\": {\"Message\": \"bad\"}, \"headers\": {\"x-amzn-ErrorType\": \"InvalidParameterException:http://internal.amazon.com/\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AWS);
	CHECKF(strcmp(e.aws_type, "InvalidParameterException") == 0, "%s", e.aws_type);
}

static void
auth_errors_map_to_20(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"status\": 400, \"body\": {\"__type\": \"UnrecognizedClientException\","
	    " \"message\": \"The security token included in the request is invalid.\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	CHECK(strstr(e.msg, "AWS rejected the credentials for DescribeServices: UnrecognizedClientException") != NULL);
	nu_ctl(&srv, "/__script", "[{\"status\": 403, \"body\": \"<?xml version=\\\"1.0\\\"?><ErrorResponse><Error><Type>Sender</Type>"
	    "<Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message>"
	    "</Error><RequestId>x</RequestId></ErrorResponse>\", \"headers\": {\"Content-Type\": \"text/xml\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	CHECK(strcmp(e.aws_type, "SignatureDoesNotMatch") == 0);
	CHECKF(strstr(e.msg, "SignatureDoesNotMatch: The request signature we calculated does not match (HTTP 403)") != NULL, "%.400s", e.msg);
	nu_ctl(&srv, "/__script", "[{\"status\": 400, \"body\": {\"__type\": \"AccessDeniedException\", \"message\": \"no\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	nu_ctl(&srv, "/__script", "[{\"status\": 400, \"body\": {\"__type\": \"ExpiredTokenException\", \"message\": \"old\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	CHECK(nu_stat(&srv, "requests") == 4);   /* none of them retried */
}

static void
quoted_credentials_withheld(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	nu_ctl(&srv, "/__script", "[{\"status\": 403, \"body\": {\"__type\": \"InvalidSignatureException\", \"message\":"
	    " \"The Canonical String for this request should have been\\nPOST\\n/\\n\\nx-amz-security-token:" TOKEN "\\n\"}}]");
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	CHECK(strstr(e.msg, TOKEN) == NULL);
	CHECK(strstr(e.msg, "message withheld") != NULL);
	CHECK(no_secrets());
}

static void
connection_refused_is_retried_even_for_runtask(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	snprintf(A.endpoint_url, sizeof(A.endpoint_url), "https://localhost:1");
	CHECK(call(RUNTASK, &d, &e) == ED_EXIT_NETWORK);   /* nothing was sent: safe to try again */
	CHECK(A.attempts == 3 && A.retries == 2);
	CHECKF(strstr(e.msg, "RunTask: cannot connect to localhost port 1") != NULL, "%.400s", e.msg);
	CHECK(strstr(e.msg, "after 3 attempts") != NULL);
	CHECK(tw.slept_ms > 0);
}

static void
certificate_failure_not_retried(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	tls_anchors_init(&A.anchors);   /* forget the test CA */
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_NETWORK);
	CHECK(A.attempts == 1);
	CHECK(strstr(e.msg, "issued by an unknown CA") != NULL);
}

static void
missing_credentials(void)
{
	struct json_doc d;
	struct err e;

	setup(NULL, NULL);
	A.creds.secret[0] = '\0';
	CHECK(call(DESCRIBE, &d, &e) == ED_EXIT_AUTH);
	CHECK(strstr(e.msg, "no AWS credentials") != NULL);
	CHECK(nu_stat(&srv, "requests") == 0);
}

static void
bad_ca_bundle(void)
{
	struct err e;

	th_world_bind(&w, &tw);
	tw.env[0] = "AWS_CA_BUNDLE=/nonexistent.pem";
	err_clear(&e);
	CHECK(aws_init(&A, &w, "us-east-1", NULL, NULL, 0, &e) == ED_EXIT_USAGE);
	CHECK(strstr(e.msg, "cannot read CA bundle /nonexistent.pem") != NULL);
}

static void
backoff_is_bounded(void)
{
	int i;

	setup(NULL, NULL);
	for (i = 1; i < 20; i++) {
		int64_t ms = aws_backoff_ms(&A, i);
		int64_t ceil = i >= 8 ? 20000 : 100LL << i;

		CHECKF(ms >= 0 && ms <= ceil, "retry %d: %lld", i, (long long)ms);
	}
}

static void
idempotency_table(void)
{
	CHECK(aws_idempotent("DescribeServices") && aws_idempotent("ListTasks") && aws_idempotent("UpdateService"));
	CHECK(!aws_idempotent("RegisterTaskDefinition") && !aws_idempotent("RunTask") && !aws_idempotent("CreateService"));
}

static void
http_dates(void)
{
	CHECK(aws_http_date("Fri, 27 Nov 2026 08:00:00 GMT") == 1795766400);
	CHECK(aws_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
	CHECK(aws_http_date("garbage") == -1);
	CHECK(aws_http_date("Fri, 27 Foo 2026 08:00:00 GMT") == -1);
}

static void
send_query_protocol_raw(void)
{
	char mem[4096], url[ED_MAX_URL];
	struct buf raw;
	struct aws_msg m;
	struct err e;

	setup(NULL, NULL);
	err_clear(&e);
	CHECK(aws_endpoint(&A, "sts", url, sizeof(url), &e) == 0);
	buf_init(&raw, mem, sizeof(mem));
	memset(&m, 0, sizeof(m));
	m.url = url;
	m.service = "sts";
	m.op = "GetCallerIdentity";
	m.content_type = "application/x-www-form-urlencoded; charset=utf-8";
	m.body = sv_z("Action=GetCallerIdentity&Version=2011-06-15");
	m.creds = &A.creds;
	m.raw = &raw;
	nu_ctl(&srv, "/__script", "[{\"throttle\": true}]");
	CHECKF(aws_send(&A, &m, &e) == 0, "%.400s", e.msg);
	CHECK(strstr(mem, "\"target\": \"\"") != NULL);    /* no X-Amz-Target was sent */
	CHECK(A.retries == 1);                                /* GetCallerIdentity: retried */
	CHECK(nu_stat(&srv, "authorized") == 2);
	/* unsigned (AssumeRoleWithWebIdentity) */
	m.op = "AssumeRoleWithWebIdentity";
	m.creds = NULL;
	CHECKF(aws_send(&A, &m, &e) == 0, "%.400s", e.msg);
	CHECK(nu_stat(&srv, "authorized") == 2 && nu_stat(&srv, "requests") == 3);
	/* an answer bigger than the caller's buffer */
	buf_init(&raw, mem, 16);
	CHECK(aws_send(&A, &m, &e) == ED_EXIT_AWS);
	CHECK(strstr(e.msg, "too big") != NULL);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (nu_start(&srv, "server") != 0 || srv.port[0] == 0) {
		printf("FAIL: start faultsrv.py\n");
		return 1;
	}
	RUN(endpoints);
	RUN(plain_http_only_loopback);
	RUN(describe_works_and_keeps_one_connection);
	RUN(large_bodies_over_tls);
	RUN(throttling_burst_is_retried);
	RUN(throttling_exhausts_attempts);
	RUN(max_attempts_from_env);
	RUN(server_errors_retried_when_idempotent);
	RUN(server_error_not_repeated_for_register);
	RUN(reset_mid_body);
	RUN(truncated_body);
	RUN(stall_times_out);
	RUN(clock_skew_corrected);
	RUN(client_errors_map_to_21);
	RUN(auth_errors_map_to_20);
	RUN(quoted_credentials_withheld);
	RUN(connection_refused_is_retried_even_for_runtask);
	RUN(certificate_failure_not_retried);
	RUN(missing_credentials);
	RUN(bad_ca_bundle);
	RUN(backoff_is_bounded);
	RUN(idempotency_table);
	RUN(http_dates);
	RUN(send_query_protocol_raw);
	aws_close(&A);
	nu_stop(&srv);
	return th_exit();
}
