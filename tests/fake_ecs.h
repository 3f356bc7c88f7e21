/*
 * fake_ecs.h — a scripted ECS behind the ecs_ seam for the engine's unit tests:
 * each test lists the calls the engine must make, in order, with the answer ECS
 * gives to each (answers are written with ' for " to stay readable). The fake
 * checks the operation names and keeps every request body for assertions; the
 * harness's fake world moves its clock only when the engine sleeps. Include
 * after ../ecsdeploy.c and harness.h.
 */
#ifndef ED_FAKE_ECS_H
#define ED_FAKE_ECS_H

/* Failure messages quote whole outputs; truncating them is what CHECKF is for. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

struct step {
	const char *op;
	const char *answer;      /* ' stands for " ; NULL with code: an error */
	int code;                /* 0, or the ED_EXIT_* the transport reports */
};

#define FK_MAX 200
struct fake {
	const struct step *s;
	int n, i;
	char why[512];
	char ops[FK_MAX][48];
	char *bodies[FK_MAX];
	int ncalls;
	char answer[256 * 1024];
	jsmntok_t tok[16384];
};

static struct fake fk;

static int
fake_call(void *ctx, const char *op, struct sv body, struct json_doc *out, struct err *e)
{
	struct fake *f = ctx;
	const struct step *st;
	size_t i, n;

	if (f->ncalls < FK_MAX) {
		snprintf(f->ops[f->ncalls], sizeof(f->ops[0]), "%s", op);
		f->bodies[f->ncalls] = strndup(body.p, body.n);
		f->ncalls++;
	}
	if (f->i >= f->n) {
		if (!f->why[0])
			snprintf(f->why, sizeof(f->why), "unexpected call %d: %s (script has %d)", f->ncalls, op, f->n);
		return err_set(e, ED_EXIT_INTERNAL, "fake: script exhausted at %s", op);
	}
	st = &f->s[f->i++];
	if (strcmp(st->op, op) != 0 && !f->why[0])
		snprintf(f->why, sizeof(f->why), "call %d is %s, script wants %s", f->ncalls, op, st->op);
	if (st->code)
		return err_set(e, st->code, "%s", st->answer ? st->answer : "fake error");
	n = strlen(st->answer);
	for (i = 0; i < n && i < sizeof(f->answer) - 1; i++)
		f->answer[i] = st->answer[i] == '\'' ? '"' : st->answer[i];
	f->answer[i] = '\0';
	if (json_parse(out, f->answer, i, f->tok, 16384, e) != 0) {
		snprintf(f->why, sizeof(f->why), "answer %d (%s) is not JSON", f->i, op);
		return e->code;
	}
	return 0;
}

static void
fake_reset(const struct step *s, int n)
{
	int i;

	for (i = 0; i < fk.ncalls && i < FK_MAX; i++)
		free(fk.bodies[i]);
	memset(&fk, 0, sizeof(fk));
	fk.s = s;
	fk.n = n;
}

static struct th_world tw;
static struct ecs tecs;

/* Runs ecs-deploy's CLI in process with args against the script; returns the exit code. */
static int
run(const struct step *s, int n, const char *const *args)
{
	struct world w;
	char *argv[64];
	int argc = 0;

	fake_reset(s, n);
	th_world_bind(&w, &tw);
	argv[argc++] = (char *)"ecs-deploy";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	ecs_init(&tecs, fake_call, &fk);
	return cli_run(&w, argc, argv, &tecs);
}

#define RUN_SCRIPT(script, ...) run(script, (int)(sizeof(script) / sizeof(script[0])), (const char *const[]){ __VA_ARGS__, NULL })

/* The script was followed to the end without a wrong operation. */
#define CHECK_SCRIPT() do { CHECKF(!fk.why[0], "%s", fk.why); CHECKF(fk.i == fk.n, "script used %d of %d steps; out: %.1500s err: %.500s", fk.i, fk.n, tw.out, tw.err); } while (0)

/* stdout contains the lines in this order */
static int
in_order(const char *hay, const char *const *lines)
{
	const char *p = hay;

	for (; *lines; lines++) {
		const char *q = strstr(p, *lines);

		if (q == NULL)
			return 0;
		p = q + strlen(*lines);
	}
	return 1;
}

#endif
