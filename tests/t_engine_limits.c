/*
 * t_engine_limits.c — the deploy engine's named limits, shrunk so each overflow
 * path is reached with small scripts: a listing that never ends (ED_MAX_PAGES),
 * a family with more revisions than ED_MAX_REVISIONS, a request body larger than
 * ED_MAX_REQUEST, more events than ED_MAX_SEEN remembers. Each must end in a
 * clear "too big: ED_MAX_..." error (or, for the seen set, forget the oldest),
 * never in a crash or a silent success.
 */
#define ED_MAX_PAGES 2
#define ED_MAX_REVISIONS 3
#define ED_MAX_REQUEST 600
#define ED_MAX_SEEN 2
#define ECSDEPLOY_TEST 1
#include "../ecsdeploy.c"
#include "harness.h"
#include "fake_ecs.h"

#define ARN "arn:aws:ecs:us-east-1:123456789012"
#define TD5 ARN ":task-definition/app:5"
#define TD6 ARN ":task-definition/app:6"

static const char *const DEPLOY[] = { "-c", "c", "-d", "app", "-i", "r.example.com/app:2", "--max-definitions", "1", NULL };

#define DESC_TD5 "{'taskDefinition':{'taskDefinitionArn':'" TD5 "','family':'app','containerDefinitions':[{'name':'web','image':'r.example.com/app:1'}]}}"
#define REG_TD6 "{'taskDefinition':{'taskDefinitionArn':'" TD6 "'}}"

static void
endless_listing_stops_at_ed_max_pages(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "ListTaskDefinitions", "{'taskDefinitionArns':[],'nextToken':'again'}", 0 },
		{ "ListTaskDefinitions", "{'taskDefinitionArns':[],'nextToken':'again'}", 0 },
	};
	int rc = run(s, 4, DEPLOY);

	CHECKF(rc == ED_EXIT_INTERNAL, "exit %d", rc);
	CHECK_SCRIPT();
	CHECKF(strstr(tw.err, "too big: ED_MAX_PAGES (ListTaskDefinitions)") != NULL, "%s", tw.err);
}

static void
too_many_revisions_is_reported(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
		{ "ListTaskDefinitions", "{'taskDefinitionArns':['" ARN ":task-definition/app:1','" ARN ":task-definition/app:2','"
		    ARN ":task-definition/app:3','" ARN ":task-definition/app:4']}", 0 },
	};
	int rc = run(s, 3, DEPLOY);

	CHECKF(rc == ED_EXIT_INTERNAL, "exit %d", rc);
	CHECKF(strstr(tw.err, "too big: ED_MAX_REVISIONS (family app)") != NULL, "%s", tw.err);
	CHECK(strstr(tw.out, "Deregistering") == NULL);
}

static void
request_too_big_is_reported_not_sent(void)
{
	static const struct step s[] = {
		{ "DescribeTaskDefinition", DESC_TD5, 0 },
		{ "RegisterTaskDefinition", REG_TD6, 0 },
	};
	char net[700];
	int rc;

	memset(net, 'a', sizeof(net) - 1);
	net[sizeof(net) - 1] = '\0';
	memcpy(net, "{\"x\":\"", 6);
	net[sizeof(net) - 3] = '"';
	net[sizeof(net) - 2] = '}';
	rc = run(s, 2, (const char *const[]){ "-c", "c", "-d", "app", "-i", "r.example.com/app:2", "--run-task",
	    "--network-configuration", net, NULL });
	CHECKF(rc == ED_EXIT_INTERNAL || rc == ED_EXIT_USAGE, "exit %d", rc);
	CHECKF(strstr(tw.err, "too big") != NULL || strstr(tw.err, "--network-configuration") != NULL, "%s", tw.err);
	CHECKF(fk.ncalls == 2, "RunTask not sent: %d calls", fk.ncalls);
}

static void
seen_set_forgets_the_oldest(void)
{
	struct dep_seen s;

	memset(&s, 0, sizeof(s));
	CHECK(dep_seen_add(&s, sv_z("a")) == 1);
	CHECK(dep_seen_add(&s, sv_z("b")) == 1);
	CHECK(dep_seen_add(&s, sv_z("a")) == 0);
	CHECK(dep_seen_add(&s, sv_z("c")) == 1);  /* forgets a */
	CHECK(dep_seen_add(&s, sv_z("b")) == 0);
	CHECK(dep_seen_add(&s, sv_z("a")) == 1);
}

int
main(void)
{
	RUN(endless_listing_stops_at_ed_max_pages);
	RUN(too_many_revisions_is_reported);
	RUN(request_too_big_is_reported_not_sent);
	RUN(seen_set_forgets_the_oldest);
	fake_reset(NULL, 0);
	return th_exit();
}
