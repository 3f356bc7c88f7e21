/*
 * netutil.h — helpers for the transport tests (after harness.h): make the test
 * PKI with tests/lib/mkpki.sh, start tests/lib/faultsrv.py on loopback and
 * learn its ports, and talk to its control paths with our own plain-HTTP
 * client. The server dies when our end of its stdin pipe closes (test exit).
 */
#ifndef ED_NETUTIL_H
#define ED_NETUTIL_H

struct nu_srv {
	pid_t pid;
	int stdin_fd;
	int plain;
	int port[8];             /* TLS ports, in the order of the names given */
	char pki[256];
};

static char nu_dir[256];
static pid_t nu_owner;

static void
nu_cleanup(void)
{
	char cmd[512];

	if (nu_dir[0] && getpid() == nu_owner) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", nu_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", nu_dir);
	}
}

/* Makes a PKI directory (once per process; removed at exit) and returns its path. */
static const char *
nu_pki(void)
{
	char cmd[512];

	if (nu_dir[0])
		return nu_dir;
	snprintf(nu_dir, sizeof(nu_dir), "%s/ed-pki-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	nu_owner = getpid();
	atexit(nu_cleanup);
	snprintf(cmd, sizeof(cmd), "sh tests/lib/mkpki.sh %s", nu_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "mkpki.sh failed\n");
	return nu_dir;
}

/* Starts faultsrv.py with TLS listeners for the comma-separated cert names. 0 or -1. */
static int
nu_start(struct nu_srv *s, const char *certs)
{
	int in[2], out[2], i;
	char line[1024];
	size_t n = 0;
	const char *p;

	memset(s, 0, sizeof(*s));
	snprintf(s->pki, sizeof(s->pki), "%s", nu_pki());
	if (pipe(in) != 0 || pipe(out) != 0)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", "tests/lib/faultsrv.py", "--pki", s->pki, "--certs", certs,
		    "--lifetime", "240", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	s->stdin_fd = in[1];
	while (n < sizeof(line) - 1) {
		ssize_t k = read(out[0], line + n, 1);

		if (k <= 0)
			break;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	close(out[0]);
	p = strstr(line, "\"plain\": ");
	if (p == NULL)
		return -1;
	s->plain = atoi(p + 9);
	p = strstr(line, "\"tls\": {");
	if (p != NULL)
		p += 8;
	for (i = 0; p != NULL && i < 8; i++) {
		p = strstr(p, "\": ");
		if (p == NULL)
			break;
		p += 3;
		s->port[i] = atoi(p);
	}
	return 0;
}

static void
nu_stop(struct nu_srv *s)
{
	int st;

	if (s->pid <= 0)
		return;
	close(s->stdin_fd);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, &st, 0);
	s->pid = 0;
}

/* The control client: a plain-HTTP request to the server's plain port. */
static struct tls_anchors nu_anchors;
static struct http_client nu_cc;
static struct th_world nu_tw;
static struct world nu_w;

struct nu_body { char b[65536]; size_t n; };

static int
nu_sink(void *ctx, const char *p, size_t n, struct err *e)
{
	struct nu_body *b = ctx;

	(void)e;
	if (n > sizeof(b->b) - 1 - b->n)
		n = sizeof(b->b) - 1 - b->n;
	memcpy(b->b + b->n, p, n);
	b->n += n;
	b->b[b->n] = '\0';
	return 0;
}

/* POST (or GET when body is NULL) a control path; returns the body (static) or "". */
static const char *
nu_ctl(struct nu_srv *s, const char *path, const char *body)
{
	static struct nu_body out;
	static struct http_parser hp;
	struct http_url u;
	struct http_req rq;
	struct err e;
	char url[128];

	if (nu_w.write == NULL) {
		th_world_bind(&nu_w, &nu_tw);
		tls_anchors_init(&nu_anchors);
		http_client_init(&nu_cc, &nu_w, &nu_anchors);
	}
	err_clear(&e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", s->plain);
	http_url_parse(&u, url, "control", &e);
	memset(&rq, 0, sizeof(rq));
	rq.method = sv_z(body ? "POST" : "GET");
	rq.path = sv_z(path);
	rq.body = sv_z(body);
	out.n = 0;
	out.b[0] = '\0';
	http_parser_init(&hp, 0, nu_sink, &out);
	if (http_do(&nu_cc, &u, &rq, &hp, &e) != 0)
		fprintf(stderr, "control %s failed: %s\n", path, e.msg);
	return out.b;
}

/* The integer after "key": in the server's stats. */
static long
nu_stat(struct nu_srv *s, const char *key)
{
	const char *j = nu_ctl(s, "/__stats", NULL);
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(j, pat);
	return p ? atol(p + strlen(pat)) : -1;
}

#endif
