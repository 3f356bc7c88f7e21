/*
 * t_engine.c — the deploy engine (§3–§6, §9) against a scripted ECS: each test
 * lists the calls the engine must make, in order, with the answer ECS gives to
 * each (answers are written with ' for " to stay readable). The fake checks the
 * operation names, keeps every request body for assertions, and the fake world's
 * clock moves only when the engine sleeps, so deadlines and backoff are exact.
 */
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"
#include "fake_ecs.h"

/* ---- canned answers ------------------------------------------------------------- */

#define ARN "arn:aws:ecs:us-east-1:123456789012"
#define TD5 ARN ":task-definition/app:5"
#define TD6 ARN ":task-definition/app:6"

#define SVC_HEAD "{'services':[{'serviceName':'web','status':'ACTIVE','taskDefinition':'" TD5 "'," \
	"'deploymentConfiguration':{'maximumPercent':200,'minimumHealthyPercent':100," \
	"'deploymentCircuitBreaker':{'enable':false,'rollback':false}}," \
	"'deploymentController':{'type':'ECS'},"

#define DESC_SVC_START SVC_HEAD "'desiredCount':2,'events':[{'id':'e1','message':'old news'}]," \
	"'deployments':[{'id':'ecs-svc/1','status':'PRIMARY','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}],'failures':[]}"

#define DESC_TD5 "{'taskDefinition':{'taskDefinitionArn':'" TD5 "','family':'app','revision':5,'status':'ACTIVE'," \
	"'requiresAttributes':[{'name':'x'}],'compatibilities':['EC2'],'registeredAt':1.5,'registeredBy':'me'," \
	"'cpu':'256','memory':'512','pidMode':'task','ipcMode':'host'," \
	"'containerDefinitions':[{'name':'web','image':'registry.example.com/team/web:1','essential':true}," \
	"{'name':'log','image':'fluent/fluent-bit:2','essential':false}]},'tags':[{'key':'team','value':'a'}]}"

#define REG_TD6 "{'taskDefinition':{'taskDefinitionArn':'" TD6 "','family':'app','revision':6}}"

#define UPD_TD6 "{'service':{'serviceName':'web','desiredCount':2,'taskDefinition':'" TD6 "'," \
	"'currentServiceDeployment':'" ARN ":service-deployment/c/web/SD1'," \
	"'deployments':[{'id':'ecs-svc/2','status':'PRIMARY','taskDefinition':'" TD6 "','desiredCount':2,'runningCount':0,'pendingCount':0,'failedTasks':0,'rolloutState':'IN_PROGRESS'}," \
	"{'id':'ecs-svc/1','status':'ACTIVE','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}}"

/* DescribeServices while ours (ecs-svc/2) is at run/desired with a given rollout state */
#define POLL(run, pend, failed, state, events) SVC_HEAD "'desiredCount':2,'events':[" events "]," \
	"'deployments':[{'id':'ecs-svc/2','status':'PRIMARY','taskDefinition':'" TD6 "','desiredCount':2,'runningCount':" #run ",'pendingCount':" #pend ",'failedTasks':" #failed ",'rolloutState':'" state "','rolloutStateReason':'r-" state "'}" \
	",{'id':'ecs-svc/1','status':'ACTIVE','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}],'failures':[]}"

#define POLL_DONE SVC_HEAD "'desiredCount':2,'events':[]," \
	"'deployments':[{'id':'ecs-svc/2','status':'PRIMARY','taskDefinition':'" TD6 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}],'failures':[]}"

#define LIST2 "{'taskArns':['" ARN ":task/c/t1','" ARN ":task/c/t2']}"
#define DESC2 "{'tasks':[{'taskArn':'" ARN ":task/c/t1','taskDefinitionArn':'" TD6 "','lastStatus':'RUNNING'}," \
	"{'taskArn':'" ARN ":task/c/t2','taskDefinitionArn':'" TD6 "','lastStatus':'RUNNING'}],'failures':[]}"

static const struct step happy[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", "{'id':'e2','message':'(service web) has started 2 tasks'},{'id':'e1','message':'old news'}"), 0 },
	{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", "{'id':'e2','message':'(service web) has started 2 tasks'}"), 0 },
	{ "ListTasks", LIST2, 0 },
	{ "DescribeTasks", DESC2, 0 },
	{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL_DONE, 0 },
};

static void
service_deploy_happy_path(void)
{
	static const char *const lines[] = {
		"Using image name: registry.example.com/team/web:2\n",
		"Current task definition: " TD5 "\n",
		"Container web: registry.example.com/team/web:1 -> registry.example.com/team/web:2\n",
		"New task definition: " TD6 "\n",
		"Service updated successfully, new task definition running.\n",
		"Waiting for service deployment to complete...\n",
		"Service deployment successful.\n", NULL };
	int rc = RUN_SCRIPT(happy, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2");
	const char *reg = fk.bodies[2], *upd = fk.bodies[3];

	CHECKF(rc == 0, "exit %d, err %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECKF(in_order(tw.out, lines), "log lines: %s", tw.out);
	CHECK(strstr(reg, "\"image\":\"registry.example.com/team/web:2\"") != NULL);
	CHECK(strstr(reg, "\"image\":\"fluent/fluent-bit:2\"") != NULL);
	CHECK(strstr(reg, "taskDefinitionArn") == NULL && strstr(reg, "requiresAttributes") == NULL);
	CHECK(strstr(reg, "\"revision\"") == NULL && strstr(reg, "registeredBy") == NULL);
	CHECK(strstr(reg, "\"pidMode\":\"task\"") != NULL && strstr(reg, "\"cpu\":\"256\"") != NULL);
	CHECKF(strstr(reg, "tags") == NULL, "no tags without --copy-task-definition-tags: %s", reg);
	CHECKF(strcmp(upd, "{\"cluster\":\"c\",\"service\":\"web\",\"taskDefinition\":\"" TD6 "\"}") == 0, "update body %s", upd);
	CHECKF(strstr(fk.bodies[1], "include") == NULL, "describe td: %s", fk.bodies[1]);
	CHECKF(strstr(tw.out, "old news") == NULL, "old events are not news: %s", tw.out);
	CHECKF(strstr(tw.out, "event: (service web) has started 2 tasks") != NULL &&
	    strstr(strstr(tw.out, "has started 2 tasks") + 5, "has started 2 tasks") == NULL, "event once: %s", tw.out);
	CHECKF(strstr(tw.out, "[1s] 2/2 running") != NULL, "progress with elapsed seconds: %s", tw.out);
}

static void
copy_tags_and_min_max(void)
{
	int rc = RUN_SCRIPT(happy, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2",
	    "--copy-task-definition-tags", "-m", "50", "-M", "150", "-D", "2");

	CHECKF(rc == 0, "exit %d, err %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECKF(strstr(fk.bodies[1], "\"include\":[\"TAGS\"]") != NULL, "describe td: %s", fk.bodies[1]);
	CHECKF(strstr(fk.bodies[2], "\"tags\":[{\"key\":\"team\",\"value\":\"a\"}]") != NULL, "register: %s", fk.bodies[2]);
	CHECKF(strstr(fk.bodies[3], "\"desiredCount\":2") != NULL, "update: %s", fk.bodies[3]);
	CHECKF(strstr(fk.bodies[3], "\"deploymentConfiguration\":{\"deploymentCircuitBreaker\":{\"enable\":false,\"rollback\":false},\"maximumPercent\":150,\"minimumHealthyPercent\":50}") != NULL,
	    "merged dc keeps the breaker: %s", fk.bodies[3]);
}

static const struct step nomatch[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
};

static void
no_matching_container_is_exit_14(void)
{
	int rc = RUN_SCRIPT(nomatch, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web-two:2");

	CHECKF(rc == 14, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.out, "container web: registry.example.com/team/web:1") != NULL, "lists containers: %s", tw.out);
	CHECKF(strstr(tw.out, "container log: fluent/fluent-bit:2") != NULL, "lists containers: %s", tw.out);
	CHECK(strstr(tw.out, "--container-image") != NULL);
}

static void
cross_registry_needs_container_image(void)
{
	int rc = RUN_SCRIPT(nomatch, "-c", "c", "-n", "web", "-i", "ghcr.io/team/web:2");

	CHECKF(rc == 14, "exit %d", rc);
}

static void
allow_no_match_registers(void)
{
	static const struct step s[] = {
		{ "DescribeServices", DESC_SVC_START, 0 },
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "UpdateService", UPD_TD6, 0 },
		{ "DescribeServices", POLL_DONE, 0 },
		{ "ListTasks", LIST2, 0 },
		{ "DescribeTasks", DESC2, 0 },
		{ "DescribeServices", POLL_DONE, 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "other/thing:2", "--allow-no-match");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
}

static void
container_image_by_name(void)
{
	int rc = RUN_SCRIPT(happy, "-c", "c", "-n", "web", "--container-image", "log=ghcr.io/x/log:9");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECKF(strstr(fk.bodies[2], "\"image\":\"ghcr.io/x/log:9\"") != NULL, "%s", fk.bodies[2]);
	CHECKF(strstr(tw.out, "Container log: fluent/fluent-bit:2 -> ghcr.io/x/log:9") != NULL, "%s", tw.out);
}

static void
container_image_unknown_name_is_14(void)
{
	int rc = RUN_SCRIPT(nomatch, "-c", "c", "-n", "web", "--container-image", "nope=ghcr.io/x/log:9");

	CHECKF(rc == 14, "exit %d", rc);
}

static void
tag_only_retags_everything(void)
{
	int rc = RUN_SCRIPT(happy, "-c", "c", "-n", "web", "-i", "ignore", "-to", "v7");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECKF(strstr(fk.bodies[2], "registry.example.com/team/web:v7") != NULL &&
	    strstr(fk.bodies[2], "fluent/fluent-bit:v7") != NULL, "%s", fk.bodies[2]);
}

static const struct step breaker[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", SVC_HEAD "'desiredCount':2,'events':[],'deployments':["
	    "{'id':'ecs-svc/3','status':'PRIMARY','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'IN_PROGRESS','rolloutStateReason':'ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1'},"
	    "{'id':'ecs-svc/2','status':'ACTIVE','taskDefinition':'" TD6 "','desiredCount':0,'runningCount':0,'pendingCount':0,'failedTasks':3,'rolloutState':'FAILED','rolloutStateReason':'ECS deployment circuit breaker: tasks failed to start.'}]}],'failures':[]}", 0 },
	{ "ListTasks", "{'taskArns':['" ARN ":task/c/s1']}", 0 },
	{ "DescribeTasks", "{'tasks':[{'taskArn':'" ARN ":task/c/s1','taskDefinitionArn':'" TD6 "','lastStatus':'STOPPED','stoppedReason':'Essential container in task exited',"
	    "'containers':[{'name':'web','exitCode':1},{'name':'log','exitCode':0}]}]}", 0 },
};

static void
circuit_breaker_rollback_is_failure_15(void)
{
	int rc = RUN_SCRIPT(breaker, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--enable-rollback");

	CHECKF(rc == 15, "exit %d, out %s err %s", rc, tw.out, tw.err);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.err, "ECS rolled the service back to " TD5) != NULL, "err: %s", tw.err);
	CHECK(strstr(tw.out, "Service deployment successful") == NULL);
	CHECK(strstr(tw.out, "Rolling back to") == NULL);
	CHECKF(strstr(tw.out, "stopped task s1: Essential container in task exited") != NULL, "%s", tw.out);
	CHECKF(strstr(tw.out, "container web: exit code 1") != NULL && strstr(tw.out, "container log: exit code 0") != NULL, "%s", tw.out);
}

static const struct step stuck[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
};

static void
timeout_is_exit_1_with_backoff_within_deadline(void)
{
	/* -t 10: polls at 0, 1, 2.5, 4.75, 8.125 and at the deadline 10 s; never sleeps past it */
	int rc = RUN_SCRIPT(stuck, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "-t", "10");

	CHECKF(rc == 1, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.out, "ERROR: New task definition not running within 10 seconds\n") != NULL, "%s", tw.out);
	CHECKF(tw.slept_ms == 10000, "slept %lld ms", (long long)tw.slept_ms);
	CHECKF(strstr(tw.err, "not running within") == NULL, "reported once: %s", tw.err);
}

static const struct step stuck_fixed[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
};

static void
poll_interval_overrides_backoff(void)
{
	int rc = RUN_SCRIPT(stuck_fixed, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "-t", "5", "--poll-interval", "2.5");

	CHECKF(rc == 1, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(tw.slept_ms == 5000, "slept %lld", (long long)tw.slept_ms);
}

static const struct step rollback_sd[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(0, 0, 1, "FAILED", ""), 0 },
	{ "ListTasks", "{'taskArns':[]}", 0 },
	{ "StopServiceDeployment", "{'serviceDeploymentArn':'" ARN ":service-deployment/c/web/SD1'}", 0 },
	{ "DescribeServices", POLL_DONE, 0 },   /* describes the service after the rollback request */
	{ "DescribeServices", SVC_HEAD "'desiredCount':2,'events':[],'deployments':[{'id':'ecs-svc/9','status':'PRIMARY','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'IN_PROGRESS'}]}],'failures':[]}", 0 },
	{ "ListTasks", LIST2, 0 },
	{ "DescribeTasks", "{'tasks':[{'taskArn':'t1','taskDefinitionArn':'" TD5 "','lastStatus':'RUNNING'},{'taskArn':'t2','taskDefinitionArn':'" TD5 "','lastStatus':'RUNNING'}]}", 0 },
	{ "DescribeServices", SVC_HEAD "'desiredCount':2,'events':[],'deployments':[{'id':'ecs-svc/9','status':'PRIMARY','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}],'failures':[]}", 0 },
};

static void
failed_then_our_rollback_is_18(void)
{
	int rc = RUN_SCRIPT(rollback_sd, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--enable-rollback");

	CHECKF(rc == 18, "exit %d out %s err %s", rc, tw.out, tw.err);
	CHECK_SCRIPT();
	CHECKF(strstr(fk.bodies[6], "\"stopType\":\"ROLLBACK\"") != NULL && strstr(fk.bodies[6], "SD1") != NULL, "%s", fk.bodies[6]);
	CHECKF(strstr(tw.out, "Rolling back to " TD5 "\n") != NULL, "%s", tw.out);
	CHECKF(strstr(tw.err, "rolled back to " TD5) != NULL, "%s", tw.err);
}

static const struct step rollback_fallback[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "StopServiceDeployment", "UnknownOperationException: not supported", ED_EXIT_AWS },
	{ "UpdateService", "{'service':{}}", 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(0, 2, 0, "IN_PROGRESS", ""), 0 },
};

static void
rollback_falls_back_to_update_and_times_out_is_2(void)
{
	int rc = RUN_SCRIPT(rollback_fallback, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2",
	    "--enable-rollback", "-t", "1", "-D", "3");

	CHECKF(rc == 2, "exit %d out %s err %s", rc, tw.out, tw.err);
	CHECK_SCRIPT();
	CHECKF(strcmp(fk.bodies[7], "{\"cluster\":\"c\",\"service\":\"web\",\"taskDefinition\":\"" TD5 "\",\"desiredCount\":2}") == 0,
	    "fallback update restores desiredCount: %s", fk.bodies[7]);
	CHECKF(strstr(tw.out, "ERROR: New task definition not running within 1 seconds") != NULL, "%s", tw.out);
	CHECKF(strstr(tw.err, "did not complete") != NULL, "%s", tw.err);
}

static const struct step superseded[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", SVC_HEAD "'desiredCount':2,'events':[],'deployments':["
	    "{'id':'ecs-svc/7','status':'PRIMARY','taskDefinition':'" ARN ":task-definition/app:7','desiredCount':2,'runningCount':0,'pendingCount':0,'failedTasks':0,'rolloutState':'IN_PROGRESS'},"
	    "{'id':'ecs-svc/2','status':'ACTIVE','taskDefinition':'" TD6 "','desiredCount':2,'runningCount':1,'pendingCount':0,'failedTasks':0,'rolloutState':'IN_PROGRESS'}]}],'failures':[]}", 0 },
	{ "DescribeServiceDeployments", "{'serviceDeployments':[{'serviceDeploymentArn':'SD1','status':'STOPPED'}]}", 0 },
};

static void
superseded_is_16_without_rollback(void)
{
	int rc = RUN_SCRIPT(superseded, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--enable-rollback");

	CHECKF(rc == 16, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.err, "superseded: deployment ecs-svc/7") != NULL, "%s", tw.err);
}

static void
skip_deployments_check(void)
{
	static const struct step s[] = {
		{ "DescribeServices", DESC_SVC_START, 0 },
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "UpdateService", UPD_TD6, 0 },
		{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", ""), 0 },
		{ "ListTasks", LIST2, 0 },
		{ "DescribeTasks", DESC2, 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--skip-deployments-check");

	CHECKF(rc == 0, "exit %d", rc);
	CHECK_SCRIPT();
	CHECK(strstr(tw.out, "Waiting for service deployment") == NULL);
}

static void
desired_zero_skips_phase_1(void)
{
	static const struct step s[] = {
		{ "DescribeServices", DESC_SVC_START, 0 },
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "UpdateService", "{'service':{'desiredCount':0,'deployments':[{'id':'ecs-svc/2','status':'PRIMARY','taskDefinition':'" TD6 "'}]}}", 0 },
		{ "DescribeServices", SVC_HEAD "'desiredCount':0,'events':[],'deployments':[{'id':'ecs-svc/2','status':'PRIMARY','taskDefinition':'" TD6 "','desiredCount':0,'runningCount':0,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}],'failures':[]}", 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "-D", "0");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.out, "Skipping check for running task definition, as desired-count <= 0\n") != NULL, "%s", tw.out);
	CHECK(strstr(tw.out, "Service deployment successful.") != NULL);
}

/* 150 tasks: two ListTasks pages, DescribeTasks of 100 then 50 */
static char page1[20000], page2[20000], desc1[40000], desc2[40000];
static struct step many[10];

static void
build_many(void)
{
	int i;
	char *p;

	p = page1 + sprintf(page1, "{'nextToken':'tok2','taskArns':[");
	for (i = 0; i < 100; i++)
		p += sprintf(p, "%s'" ARN ":task/c/t%d'", i ? "," : "", i);
	sprintf(p, "]}");
	p = page2 + sprintf(page2, "{'taskArns':[");
	for (i = 100; i < 150; i++)
		p += sprintf(p, "%s'" ARN ":task/c/t%d'", i > 100 ? "," : "", i);
	sprintf(p, "]}");
	p = desc1 + sprintf(desc1, "{'tasks':[");
	for (i = 0; i < 100; i++)
		p += sprintf(p, "%s{'taskArn':'t%d','taskDefinitionArn':'" TD6 "','lastStatus':'RUNNING','healthStatus':'HEALTHY'}", i ? "," : "", i);
	sprintf(p, "]}");
	p = desc2 + sprintf(desc2, "{'tasks':[");
	for (i = 100; i < 150; i++)
		p += sprintf(p, "%s{'taskArn':'t%d','taskDefinitionArn':'" TD6 "','lastStatus':'RUNNING','healthStatus':'HEALTHY'}", i > 100 ? "," : "", i);
	sprintf(p, "]}");
}

#define SVC150(run, state) SVC_HEAD "'desiredCount':150,'events':[],'deployments':[{'id':'ecs-svc/2','status':'PRIMARY','taskDefinition':'" TD6 "','desiredCount':150,'runningCount':" #run ",'pendingCount':0,'failedTasks':0,'rolloutState':'" state "'}]}],'failures':[]}"

static void
more_than_100_tasks(void)
{
	int rc;

	build_many();
	many[0] = (struct step){ "DescribeServices", DESC_SVC_START, 0 };
	many[1] = (struct step){ "DescribeTaskDefinition", DESC_TD5, 0 };
	many[2] = (struct step){ "RegisterTaskDefinition", REG_TD6, 0 };
	many[3] = (struct step){ "UpdateService", UPD_TD6, 0 };
	many[4] = (struct step){ "DescribeServices", SVC150(150, "IN_PROGRESS"), 0 };
	many[5] = (struct step){ "ListTasks", page1, 0 };
	many[6] = (struct step){ "DescribeTasks", desc1, 0 };
	many[7] = (struct step){ "ListTasks", page2, 0 };
	many[8] = (struct step){ "DescribeTasks", desc2, 0 };
	many[9] = (struct step){ "DescribeServices", SVC150(150, "COMPLETED"), 0 };
	rc = run(many, 10, (const char *const[]){ "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", NULL });
	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECKF(strstr(fk.bodies[7], "\"nextToken\":\"tok2\"") != NULL, "%s", fk.bodies[7]);
	{
		int n = 0;
		const char *p = fk.bodies[6];

		while ((p = strstr(p, ":task/c/t")) != NULL) {
			n++;
			p++;
		}
		CHECKF(n == 100, "first DescribeTasks has %d ARNs", n);
	}
}

static void
max_definitions_exact_family_all_pages(void)
{
	static const struct step s[] = {
		{ "DescribeServices", DESC_SVC_START, 0 },
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "UpdateService", UPD_TD6, 0 },
		{ "DescribeServices", POLL_DONE, 0 },
		{ "ListTasks", LIST2, 0 },
		{ "DescribeTasks", DESC2, 0 },
		{ "DescribeServices", POLL_DONE, 0 },
		{ "ListTaskDefinitions", "{'taskDefinitionArns':['" ARN ":task-definition/app:1','" ARN ":task-definition/app-worker:1','" ARN ":task-definition/app:2'],'nextToken':'n2'}", 0 },
		{ "ListTaskDefinitions", "{'taskDefinitionArns':['" ARN ":task-definition/app:3','" ARN ":task-definition/app-worker:2','" ARN ":task-definition/app:5','" ARN ":task-definition/app:6']}", 0 },
		{ "DeregisterTaskDefinition", "{'taskDefinition':{}}", 0 },
		{ "DeregisterTaskDefinition", "{'taskDefinition':{}}", 0 },
		{ "DeregisterTaskDefinition", "{'taskDefinition':{}}", 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--max-definitions", "2");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECKF(strstr(fk.bodies[8], "\"familyPrefix\":\"app\",\"status\":\"ACTIVE\",\"sort\":\"ASC\"") != NULL, "%s", fk.bodies[8]);
	CHECKF(strstr(fk.bodies[10], "app:1\"") && strstr(fk.bodies[11], "app:2\"") && strstr(fk.bodies[12], "app:3\""), "%s %s %s", fk.bodies[10], fk.bodies[11], fk.bodies[12]);
	CHECK(strstr(tw.out, "Deregistering outdated task revision: " ARN ":task-definition/app:3\n") != NULL);
	CHECK(strstr(tw.out, "app-worker") == NULL);
}

#define TASK(st, codes) "{'tasks':[{'taskArn':'" ARN ":task/c/run1','taskDefinitionArn':'" TD6 "','lastStatus':'" st "','stoppedReason':'Essential container in task exited','containers':[" codes "]}]}"

static void
taskdef_mode_run_task_wait_success(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "RunTask", TASK("PROVISIONING", ""), 0 },
		{ "DescribeTasks", TASK("RUNNING", ""), 0 },
		{ "DescribeTasks", TASK("STOPPED", "{'name':'web','exitCode':0},{'name':'log','exitCode':0}"), 0 },
	};
	static const char *const lines[] = { "Current task definition: " TD5 "\n", "New task definition: " TD6 "\n",
		"Run task: " TD6 "\n", "Executed task: " ARN ":task/c/run1\n",
		"Task " ARN ":task/c/run1 executed successfully!\n", "Task definition updated successfully\n", NULL };
	int rc = RUN_SCRIPT(s, "-c", "c", "-d", "app", "-i", "registry.example.com/team/web:2", "--run-task", "--wait-for-success",
	    "--launch-type", "FARGATE", "--network-configuration", "awsvpcConfiguration={subnets=[s-1,s-2],assignPublicIp=DISABLED}");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECKF(in_order(tw.out, lines), "%s", tw.out);
	CHECKF(strstr(fk.bodies[2], "\"networkConfiguration\":{\"awsvpcConfiguration\":{\"subnets\":[\"s-1\",\"s-2\"],\"assignPublicIp\":\"DISABLED\"}}") != NULL, "%s", fk.bodies[2]);
	CHECKF(strstr(fk.bodies[2], "\"launchType\":\"FARGATE\"") && strstr(fk.bodies[2], "\"startedBy\":\"ecs-deploy\""), "%s", fk.bodies[2]);
}

static void
run_task_sidecar_exit_code_fails_19(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "RunTask", TASK("PENDING", ""), 0 },
		{ "DescribeTasks", TASK("STOPPED", "{'name':'web','exitCode':0},{'name':'log','exitCode':3,'reason':'boom'}"), 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-d", "app", "-i", "registry.example.com/team/web:2", "--run-task", "--wait-for-success");

	CHECKF(rc == 19, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.out, "container log: exit code 3, boom") != NULL, "%s", tw.out);
	CHECKF(strstr(tw.err, "container log exited with code 3") != NULL, "%s", tw.err);
}

static void
run_task_failures_is_19(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "RunTask", "{'tasks':[],'failures':[{'arn':'x','reason':'RESOURCE:MEMORY'}]}", 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-d", "app", "-i", "registry.example.com/team/web:2", "--run-task");

	CHECKF(rc == 19, "exit %d", rc);
	CHECKF(strstr(tw.err, "RESOURCE:MEMORY") != NULL, "%s", tw.err);
}

static void
run_task_timeout_is_1(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "RunTask", TASK("PENDING", ""), 0 },
		{ "DescribeTasks", TASK("RUNNING", ""), 0 },
		{ "DescribeTasks", TASK("RUNNING", ""), 0 },
		{ "DescribeTasks", TASK("RUNNING", ""), 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-d", "app", "-i", "registry.example.com/team/web:2", "--run-task", "--wait-for-success", "-t", "2");

	CHECKF(rc == 1, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.out, "ERROR: New task run took longer than 2 seconds\n") != NULL, "%s", tw.out);
}

static void
render_with_file_makes_no_call(void)
{
	static const struct step none[1] = { { "none", "{}", 0 } };
	char path[] = "/tmp/ed-td-XXXXXX";
	int fd = mkstemp(path), rc;
	const char *js = "{\"taskDefinition\":{\"taskDefinitionArn\":\"x\",\"family\":\"app\",\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"nginx\"}],\"revision\":3}}";

	CHECK(write(fd, js, strlen(js)) == (ssize_t)strlen(js));
	close(fd);
	rc = run(none, 0, (const char *const[]){ "-d", "app", "-i", "docker.io/library/nginx:1.27", "--task-definition-file", path, "--render", NULL });
	unlink(path);
	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK(fk.ncalls == 0);
	CHECKF(strcmp(tw.out, "{\"family\":\"app\",\"containerDefinitions\":[{\"name\":\"web\",\"image\":\"docker.io/library/nginx:1.27\"}]}\n") == 0, "stdout %s", tw.out);
}

static void
render_malformed_file_is_3(void)
{
	static const struct step none[1] = { { "none", "{}", 0 } };
	char path[] = "/tmp/ed-td-XXXXXX";
	int fd = mkstemp(path), rc;

	CHECK(write(fd, "{\"family\": [", 12) == 12);
	close(fd);
	rc = run(none, 0, (const char *const[]){ "-d", "app", "-i", "nginx", "--task-definition-file", path, "--render", NULL });
	unlink(path);
	CHECKF(rc == 3, "exit %d", rc);
	CHECKF(strstr(tw.err, path) != NULL, "names the file: %s", tw.err);
}

static void
dry_run_makes_no_mutation(void)
{
	static const struct step s[] = {
		{ "DescribeServices", DESC_SVC_START, 0 },
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--dry-run");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECK(strstr(tw.out, "Dry run: would register") != NULL);
	CHECK(strstr(tw.out, "Dry run: would update service web") != NULL);
}

static void
force_new_deployment_without_image(void)
{
	static const struct step s[] = {
		{ "DescribeServices", DESC_SVC_START, 0 },
		{ "UpdateService", "{'service':{'desiredCount':2,'deployments':[{'id':'ecs-svc/8','status':'PRIMARY','taskDefinition':'" TD5 "'},{'id':'ecs-svc/1','status':'ACTIVE','taskDefinition':'" TD5 "'}]}}", 0 },
		{ "DescribeServices", SVC_HEAD "'desiredCount':2,'events':[],'deployments':[{'id':'ecs-svc/8','status':'PRIMARY','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'IN_PROGRESS'}]}],'failures':[]}", 0 },
		{ "ListTasks", LIST2, 0 },
		{ "DescribeTasks", "{'tasks':[{'taskArn':'t1','taskDefinitionArn':'" TD5 "','lastStatus':'RUNNING'},{'taskArn':'t2','taskDefinitionArn':'" TD5 "','lastStatus':'RUNNING'}]}", 0 },
		{ "DescribeServices", SVC_HEAD "'desiredCount':2,'events':[],'deployments':[{'id':'ecs-svc/8','status':'PRIMARY','taskDefinition':'" TD5 "','desiredCount':2,'runningCount':2,'pendingCount':0,'failedTasks':0,'rolloutState':'COMPLETED'}]}],'failures':[]}", 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "--force-new-deployment");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECK_SCRIPT();
	CHECK(strstr(tw.out, "Force a new deployment of the service\n") != NULL);
	CHECKF(strcmp(fk.bodies[1], "{\"cluster\":\"c\",\"service\":\"web\",\"forceNewDeployment\":true}") == 0, "%s", fk.bodies[1]);
}

static void
force_new_deployment_with_image(void)
{
	int rc = RUN_SCRIPT(happy, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--force-new-deployment");

	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECKF(strstr(fk.bodies[3], "\"taskDefinition\":\"" TD6 "\",\"forceNewDeployment\":true") != NULL, "%s", fk.bodies[3]);
}

static void
missing_service_is_21(void)
{
	static const struct step s[] = {
		{ "DescribeServices", "{'services':[],'failures':[{'arn':'x','reason':'MISSING'}]}", 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "nginx");

	CHECKF(rc == 21, "exit %d", rc);
	CHECKF(strstr(tw.err, "service web not found in cluster c (MISSING)") != NULL, "%s", tw.err);
}

static void
code_deploy_controller_is_21(void)
{
	static const struct step s[] = {
		{ "DescribeServices", "{'services':[{'serviceName':'web','status':'ACTIVE','taskDefinition':'" TD5 "','deploymentController':{'type':'CODE_DEPLOY'}}]}", 0 },
	};
	int rc = RUN_SCRIPT(s, "-c", "c", "-n", "web", "-i", "nginx");

	CHECKF(rc == 21, "exit %d", rc);
	CHECKF(strstr(tw.err, "CODE_DEPLOY deployment controller") != NULL, "%s", tw.err);
}

static void
json_output_and_github(void)
{
	char outp[] = "/tmp/ed-gho-XXXXXX", sump[] = "/tmp/ed-ghs-XXXXXX";
	char buf[4096], e1[300], e2[300];
	int fd, rc;
	ssize_t n;

	close(mkstemp(outp));
	close(mkstemp(sump));
	snprintf(e1, sizeof(e1), "GITHUB_OUTPUT=%s", outp);
	snprintf(e2, sizeof(e2), "GITHUB_STEP_SUMMARY=%s", sump);
	fake_reset(happy, (int)(sizeof(happy) / sizeof(happy[0])));
	{
		struct world w;
		char *argv[] = { "ecs-deploy", "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "--output", "json", NULL };

		th_world_bind(&w, &tw);
		tw.env[0] = "GITHUB_ACTIONS=true";
		tw.env[1] = e1;
		tw.env[2] = e2;
		ecs_init(&tecs, fake_call, &fk);
		rc = cli_run(&w, 9, argv, &tecs);
	}
	CHECKF(rc == 0, "exit %d %s", rc, tw.err);
	CHECKF(strncmp(tw.out, "{\"status\":\"deployed\",\"exitCode\":0,", 34) == 0, "stdout is only the summary: %s", tw.out);
	CHECKF(strstr(tw.out, "\"taskDefinitionArn\":\"" TD6 "\"") && strstr(tw.out, "\"deploymentId\":\"ecs-svc/2\""), "%s", tw.out);
	CHECK(strstr(tw.err, "New task definition: " TD6) != NULL);
	fd = open(outp, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECKF(strcmp(buf, "task-definition-arn=" TD6 "\ndeployment-id=ecs-svc/2\nstatus=deployed\n") == 0, "GITHUB_OUTPUT: %s", buf);
	fd = open(sump, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	CHECKF(strstr(buf, "ecs-deploy: deployed") != NULL, "summary: %s", buf);
	unlink(outp);
	unlink(sump);
}

static void
netconf_shorthand(void)
{
	char mem[512];
	struct buf b;

	buf_init(&b, mem, sizeof(mem));
	CHECK(dep_netconf("awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1,sg-2],assignPublicIp=ENABLED}", &b) == 0);
	CHECKF(strcmp(mem, "{\"awsvpcConfiguration\":{\"subnets\":[\"subnet-1\"],\"securityGroups\":[\"sg-1\",\"sg-2\"],\"assignPublicIp\":\"ENABLED\"}}") == 0, "%s", mem);
	buf_init(&b, mem, sizeof(mem));
	CHECK(dep_netconf(" {\"awsvpcConfiguration\":{}}", &b) == 0 && strcmp(mem, "{\"awsvpcConfiguration\":{}}") == 0);
	buf_init(&b, mem, sizeof(mem));
	CHECK(dep_netconf("awsvpcConfiguration={subnets=[a", &b) != 0);
}

static const struct step drain_stuck[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", ""), 0 },
	{ "ListTasks", LIST2, 0 },
	{ "DescribeTasks", DESC2, 0 },
	{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", ""), 0 },
	{ "DescribeServices", POLL(2, 0, 0, "IN_PROGRESS", ""), 0 },
};

static void
phase_2_timeout_has_its_own_error_line(void)
{
	int rc = RUN_SCRIPT(drain_stuck, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "-t", "2");

	CHECKF(rc == 1, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.out, "Service updated successfully, new task definition running.\n") != NULL, "%s", tw.out);
	CHECKF(strstr(tw.out, "ERROR: Service deployment did not complete within 2 seconds (rollout IN_PROGRESS, 2 deployments)\n") != NULL, "%s", tw.out);
	CHECK(strstr(tw.out, "Service deployment successful") == NULL);
}

static const struct step storm[] = {
	{ "DescribeServices", DESC_SVC_START, 0 },
	{ "DescribeTaskDefinition", DESC_TD5, 0 },
	{ "RegisterTaskDefinition", REG_TD6, 0 },
	{ "UpdateService", UPD_TD6, 0 },
	{ "DescribeServices", POLL(0, 2, 7, "IN_PROGRESS", ""), 0 },
	{ "ListTasks", "{'taskArns':['" ARN ":task/c/x1']}", 0 },
	{ "DescribeTasks", "{'tasks':[{'taskArn':'" ARN ":task/c/x1','taskDefinitionArn':'" TD6 "','lastStatus':'STOPPED','stoppedReason':'CannotPullContainerError: not found','containers':[{'name':'web','reason':'CannotPullContainerError'}]}]}", 0 },
};

static void
stopped_task_storm_fails_fast_15(void)
{
	int rc = RUN_SCRIPT(storm, "-c", "c", "-n", "web", "-i", "registry.example.com/team/web:2", "-t", "600");

	CHECKF(rc == 15, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.err, "new tasks keep stopping (7 failed, none running)") != NULL, "%s", tw.err);
	CHECKF(strstr(tw.out, "stopped task x1: CannotPullContainerError: not found") != NULL, "%s", tw.out);
	CHECKF(strstr(tw.out, "container web: no exit code, CannotPullContainerError") != NULL, "%s", tw.out);
	CHECK(tw.slept_ms == 0);
}

int
main(void)
{
	RUN(phase_2_timeout_has_its_own_error_line);
	RUN(stopped_task_storm_fails_fast_15);
	RUN(service_deploy_happy_path);
	RUN(copy_tags_and_min_max);
	RUN(no_matching_container_is_exit_14);
	RUN(cross_registry_needs_container_image);
	RUN(allow_no_match_registers);
	RUN(container_image_by_name);
	RUN(container_image_unknown_name_is_14);
	RUN(tag_only_retags_everything);
	RUN(circuit_breaker_rollback_is_failure_15);
	RUN(timeout_is_exit_1_with_backoff_within_deadline);
	RUN(poll_interval_overrides_backoff);
	RUN(failed_then_our_rollback_is_18);
	RUN(rollback_falls_back_to_update_and_times_out_is_2);
	RUN(superseded_is_16_without_rollback);
	RUN(skip_deployments_check);
	RUN(desired_zero_skips_phase_1);
	RUN(more_than_100_tasks);
	RUN(max_definitions_exact_family_all_pages);
	RUN(taskdef_mode_run_task_wait_success);
	RUN(run_task_sidecar_exit_code_fails_19);
	RUN(run_task_failures_is_19);
	RUN(run_task_timeout_is_1);
	RUN(render_with_file_makes_no_call);
	RUN(render_malformed_file_is_3);
	RUN(dry_run_makes_no_mutation);
	RUN(force_new_deployment_without_image);
	RUN(force_new_deployment_with_image);
	RUN(missing_service_is_21);
	RUN(code_deploy_controller_is_21);
	RUN(json_output_and_github);
	RUN(netconf_shorthand);
	fake_reset(NULL, 0);
	return th_exit();
}
