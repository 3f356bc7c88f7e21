#!/usr/bin/env python3
"""Fidelity and dynamics tests of the ECS simulator.

    python3 tests/sim/test_sim.py [-k SUBSTRING]

One line per test, `PASS: name` or `FAIL: name: why`; exit status 1 if any failed. Every test
starts its own simulator process(es) on ephemeral loopback ports and stops them; every wait is
bounded. The AWS CLI (`aws`) is the independent client for the fidelity tests; botocore drives
the dynamics tests, with the simulated clock paused and advanced through the control endpoint.
"""

import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

import botocore
import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "ecssim.py")
SCEN = os.path.join(HERE, "scenarios")
AKID = "AKIDSIMULATOR0000001"
SECRET = "simulator/secret/key/0000000000000000001"
TARGET = "AmazonEC2ContainerServiceV20141113."

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


def eq(got, want, what):
    if got != want:
        raise Fail("%s: got %r, want %r" % (what, got, want))


# --------------------------------------------------------------------------------------------
# a simulator process


class Simulator:
    def __init__(self, scenario="demo.json", extra=(), tmp=None):
        self.tmpfile = None
        if isinstance(scenario, dict):
            fd, self.tmpfile = tempfile.mkstemp(suffix=".json", prefix="ecssim-scn-")
            with os.fdopen(fd, "w") as f:
                json.dump(scenario, f)
            path = self.tmpfile
        else:
            path = os.path.join(SCEN, scenario)
        self.proc = subprocess.Popen([sys.executable, SIM, "--scenario", path] + list(extra),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not r:
            self.stop()
            raise Fail("simulator did not print its URLs within 30 s")
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode()[-2000:]
            self.stop()
            raise Fail("simulator exited: %s" % err)
        self.urls = json.loads(line)
        self.ctl("/clock", {"pause": True})

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for s in (self.proc.stdout, self.proc.stderr):
            if s:
                s.close()
        if self.tmpfile:
            os.unlink(self.tmpfile)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()

    def ctl(self, path, body=None, method=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.urls["control"] + path, data=data,
                                     method=method or ("POST" if data is not None else "GET"))
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def advance(self, seconds):
        return self.ctl("/clock", {"advance": seconds})

    def client(self, tls=False, secret=SECRET, akid=AKID, retries=0):
        sess = botocore.session.get_session()
        url = self.urls["ecs"] if tls else self.urls["http"]
        return sess.create_client("ecs", region_name="us-east-1", endpoint_url=url,
                                  aws_access_key_id=akid, aws_secret_access_key=secret,
                                  verify=self.urls.get("ca") if tls else None,
                                  config=Config(retries={"max_attempts": retries + 1, "mode": "standard"},
                                                connect_timeout=10, read_timeout=30))

    def until(self, fn, limit=900, step=5, what="condition"):
        """Advance the clock in `step` seconds until fn() is truthy (at most `limit` sim seconds)."""
        waited = 0
        while True:
            v = fn()
            if v:
                return v
            if waited >= limit:
                raise Fail("%s not reached within %d simulated seconds" % (what, limit))
            self.advance(step)
            waited += step


def service(c, cluster, name):
    return c.describe_services(cluster=cluster, services=[name])["services"][0]


def new_revision(c, family, image=None, mutate=None):
    td = c.describe_task_definition(taskDefinition=family)["taskDefinition"]
    inp = {k: v for k, v in td.items() if k not in (
        "taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
        "registeredAt", "registeredBy", "deregisteredAt")}
    if image:
        inp["containerDefinitions"][0]["image"] = image
    if mutate:
        mutate(inp)
    return c.register_task_definition(**inp)["taskDefinition"]["taskDefinitionArn"]


def all_tasks(c, cluster, **kw):
    arns, tok = [], None
    while True:
        args = dict(cluster=cluster, **kw)
        if tok:
            args["nextToken"] = tok
        r = c.list_tasks(**args)
        arns += r["taskArns"]
        tok = r.get("nextToken")
        if not tok:
            break
    tasks = []
    for i in range(0, len(arns), 100):
        tasks += c.describe_tasks(cluster=cluster, tasks=arns[i:i + 100])["tasks"]
    return tasks


def err_code(e):
    return e.response["Error"]["Code"]


def expect_error(fn, code, what):
    try:
        fn()
    except ClientError as e:
        eq(err_code(e), code, what)
        return e
    raise Fail("%s: no error, want %s" % (what, code))


# --------------------------------------------------------------------------------------------
# raw requests (signed with botocore's signer, sent with http.client)


def signed_request(url, op, body, akid=AKID, secret=SECRET, when=None, token=None, headers=None):
    """Returns (method, path, headers, body bytes) signed for `op` at time `when` (epoch)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = AWSRequest(method="POST", url=url + "/", data=data,
                     headers={"X-Amz-Target": TARGET + op, "Content-Type": "application/x-amz-json-1.1"})
    if token:
        req.headers["X-Amz-Security-Token"] = token
    for k, v in (headers or {}).items():
        req.headers[k] = v
    signer = SigV4Auth(Credentials(akid, secret, token), "ecs", "us-east-1")
    if when is None:
        signer.add_auth(req)
    else:
        ts = datetime.datetime.fromtimestamp(when, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        req.context["timestamp"] = ts
        req.headers["X-Amz-Date"] = ts
        canonical = signer.canonical_request(req)
        sig = signer.signature(signer.string_to_sign(req, canonical), req)
        signer._inject_signature_to_request(req, sig)
    return dict(req.headers.items()), data


def raw_call(sim, op, body, conn=None, tls=False, **kw):
    url = sim.urls["ecs"] if tls else sim.urls["http"]
    hdrs, data = signed_request(url, op, body, **kw)
    own = conn is None
    if own:
        conn = make_conn(sim, tls)
    conn.request("POST", "/", body=data, headers=hdrs)
    r = conn.getresponse()
    payload = r.read()
    out = (r.status, dict((k.lower(), v) for k, v in r.getheaders()), payload)
    if own:
        conn.close()
    return out


def host_port(url):
    u = url.split("//", 1)[1]
    host, port = u.rsplit(":", 1)
    return host.strip("[]"), int(port)


def make_conn(sim, tls=False, timeout=15):
    if tls:
        host, port = host_port(sim.urls["ecs"])
        ctx = ssl.create_default_context(cafile=sim.urls["ca"])
        return http.client.HTTPSConnection(host, port, context=ctx, timeout=timeout)
    host, port = host_port(sim.urls["http"])
    return http.client.HTTPConnection(host, port, timeout=timeout)


# --------------------------------------------------------------------------------------------
# the AWS CLI


def aws(sim, *args, secret=SECRET, akid=AKID, tls=True, expect_ok=True):
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    env.update({"AWS_ACCESS_KEY_ID": akid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_MAX_ATTEMPTS": "1",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_PAGER": ""})
    cmd = ["aws", "--endpoint-url", sim.urls["ecs"] if tls else sim.urls["http"], "--region", "us-east-1",
           "--output", "json"]
    if tls:
        cmd += ["--ca-bundle", sim.urls["ca"]]
    cmd += ["ecs"] + list(args)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    if expect_ok:
        if p.returncode != 0:
            raise Fail("aws ecs %s: exit %d: %s" % (args[0], p.returncode, p.stderr.strip()[-500:]))
        return json.loads(p.stdout) if p.stdout.strip() else {}
    return p


def cli_knows(command):
    p = subprocess.run(["aws", "ecs", command, "--generate-cli-skeleton"], capture_output=True, timeout=60,
                       env=dict(os.environ, AWS_PAGER=""))
    return p.returncode == 0


def boto_as_cli(sim):
    """aws(sim, "cmd-name", "--some-arg", v, ...) done with botocore (list values stay lists)."""
    c = sim.client(tls=True)

    def call(_sim, command, *args):
        op = "".join(w.capitalize() for w in command.split("-"))
        model = c.meta.service_model.operation_model(op).input_shape
        params, key = {}, None
        for a in args:
            if a.startswith("--"):
                key = "".join(w.capitalize() if i else w for i, w in enumerate(a[2:].split("-")))
                continue
            if model.members[key].type_name == "list":
                params.setdefault(key, []).append(a)
            else:
                params[key] = a
        name = botocore.xform_name(op)
        out = getattr(c, name)(**params)
        out.pop("ResponseMetadata", None)
        return json.loads(json.dumps(out, default=lambda d: d.timestamp()))
    return call


# --------------------------------------------------------------------------------------------
# fidelity: the AWS CLI against every operation the tool uses


def par(*thunks):
    """Run independent CLI calls side by side (each aws process spends most of its time starting)."""
    with concurrent.futures.ThreadPoolExecutor(len(thunks)) as ex:
        return [f.result() for f in [ex.submit(t) for t in thunks]]


@test
def cli_every_operation():
    """Each operation through the AWS CLI over HTTPS; the simulator records no shape problem."""
    if not shutil.which("aws"):
        raise Fail("the AWS CLI (aws) is not installed")
    with Simulator("demo.json") as s:
        knows_sd, clusters, cis, svcs, tdd, fams, _ = par(
            lambda: cli_knows("list-service-deployments"),
            lambda: aws(s, "describe-clusters", "--clusters", "demo", "nope"),
            lambda: aws(s, "list-container-instances", "--cluster", "demo")["containerInstanceArns"],
            lambda: aws(s, "describe-services", "--cluster", "demo", "--services", "web", "--include", "TAGS"),
            lambda: aws(s, "describe-task-definition", "--task-definition", "web", "--include", "TAGS"),
            lambda: aws(s, "list-task-definition-families", "--family-prefix", "w"),
            lambda: eq(aws(s, "create-cluster", "--cluster-name", "extra")["cluster"]["clusterName"], "extra",
                       "create-cluster"))
        eq(clusters["clusters"][0]["registeredContainerInstancesCount"], 3, "describe-clusters instances")
        eq(clusters["failures"][0]["reason"], "MISSING", "describe-clusters failure")
        eq(len(cis), 3, "list-container-instances")
        eq(svcs["services"][0]["deployments"][0]["rolloutState"], "COMPLETED", "describe-services rolloutState")
        eq(tdd["tags"], [{"key": "team", "value": "acme"}], "describe-task-definition tags")
        eq(fams["families"], ["web"], "list-task-definition-families")
        td = tdd["taskDefinition"]
        inp = {k: v for k, v in td.items() if k not in ("taskDefinitionArn", "revision", "status",
               "requiresAttributes", "compatibilities", "registeredAt", "registeredBy")}
        inp["containerDefinitions"][0]["image"] = "registry.example.com/acme/web:1.1"
        inp["tags"] = tdd["tags"]
        dci, reg, rci, run = par(
            lambda: aws(s, "describe-container-instances", "--cluster", "demo", "--container-instances", *cis),
            lambda: aws(s, "register-task-definition", "--cli-input-json", json.dumps(inp)),
            lambda: aws(s, "register-container-instance", "--cluster", "extra", "--total-resources",
                        "name=CPU,type=INTEGER,integerValue=1024", "name=MEMORY,type=INTEGER,integerValue=2048"),
            lambda: aws(s, "run-task", "--cluster", "demo", "--task-definition", "web:1", "--started-by",
                        "ecs-deploy", "--launch-type", "EC2"))
        eq(len(dci["containerInstances"]), 3, "describe-container-instances")
        eq(reg["taskDefinition"]["revision"], 2, "register-task-definition revision")
        eq(reg["taskDefinition"]["containerDefinitions"], inp["containerDefinitions"], "echoed container definitions")
        for k in ("registeredAt", "registeredBy", "compatibilities", "requiresAttributes", "status"):
            check(k in reg["taskDefinition"], "register-task-definition lacks %s" % k)
        eq(rci["containerInstance"]["registeredResources"][0]["integerValue"], 1024, "register-container-instance")
        eq(len(run["tasks"]), 1, "run-task tasks")
        eq(run["tasks"][0]["startedBy"], "ecs-deploy", "run-task startedBy")
        ltd, upd, crs, stop = par(
            lambda: aws(s, "list-task-definitions", "--family-prefix", "we", "--sort", "DESC"),
            lambda: aws(s, "update-service", "--cluster", "demo", "--service", "web", "--task-definition", "web:2",
                        "--deployment-configuration", "maximumPercent=200,minimumHealthyPercent=50"),
            lambda: aws(s, "create-service", "--cluster", "extra", "--service-name", "one", "--task-definition",
                        "web:1", "--desired-count", "1", "--launch-type", "EC2"),
            lambda: aws(s, "stop-task", "--cluster", "demo", "--task", run["tasks"][0]["taskArn"], "--reason", "test"))
        eq([a.rsplit("/", 1)[1] for a in ltd["taskDefinitionArns"]], ["web:2", "web:1"], "list-task-definitions")
        dep = upd["service"]["deployments"][0]
        check(dep["id"].startswith("ecs-svc/") and dep["status"] == "PRIMARY", "update-service new PRIMARY %r" % dep)
        eq(upd["service"]["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"], True,
           "update-service keeps the circuit breaker")
        eq(crs["service"]["deployments"][0]["rolloutState"], "IN_PROGRESS", "create-service")
        eq(stop["task"]["desiredStatus"], "STOPPED", "stop-task")
        arn = crs["service"]["serviceArn"]
        if knows_sd:
            sdcall = aws
        else:  # an AWS CLI older than the service deployments API (late 2024): botocore instead
            sys.stderr.write("  note: this aws CLI lacks the service deployment commands; botocore checks them\n")
            sdcall = boto_as_cli(s)
        lsd, lt, _, ls = par(
            lambda: sdcall(s, "list-service-deployments", "--cluster", "demo", "--service", "web"),
            lambda: aws(s, "list-tasks", "--cluster", "demo", "--service-name", "web"),
            lambda: aws(s, "tag-resource", "--resource-arn", arn, "--tags", "key=owner,value=ops"),
            lambda: aws(s, "list-services", "--cluster", "extra"))
        sds = lsd["serviceDeployments"]
        eq(len(sds), 2, "list-service-deployments count")
        check(len(lt["taskArns"]) >= 2, "list-tasks")
        eq(len(ls["serviceArns"]), 1, "list-services")
        dsd, dt, tags = par(
            lambda: sdcall(s, "describe-service-deployments", "--service-deployment-arns", sds[0]["serviceDeploymentArn"]),
            lambda: aws(s, "describe-tasks", "--cluster", "demo", "--tasks", *lt["taskArns"], "--include", "TAGS"),
            lambda: aws(s, "list-tags-for-resource", "--resource-arn", arn))
        sd = dsd["serviceDeployments"][0]
        check(sd["targetServiceRevision"]["arn"] and sd["sourceServiceRevisions"], "service deployment revisions")
        check(all(t["group"] == "service:web" for t in dt["tasks"]), "describe-tasks group")
        eq(tags["tags"], [{"key": "owner", "value": "ops"}], "list-tags-for-resource")
        dsr, _, dereg, lc = par(
            lambda: sdcall(s, "describe-service-revisions", "--service-revision-arns", sd["targetServiceRevision"]["arn"]),
            lambda: aws(s, "untag-resource", "--resource-arn", arn, "--tag-keys", "owner"),
            lambda: aws(s, "deregister-task-definition", "--task-definition", "web:2"),
            lambda: aws(s, "list-clusters"))
        eq(dsr["serviceRevisions"][0]["taskDefinition"].rsplit("/", 1)[1], "web:2", "describe-service-revisions")
        eq(dereg["taskDefinition"]["status"], "INACTIVE", "deregister-task-definition")
        eq(len(lc["clusterArns"]), 2, "list-clusters")
        ssd, tags, plain = par(
            lambda: sdcall(s, "stop-service-deployment", "--service-deployment-arn", sd["serviceDeploymentArn"],
                           "--stop-type", "ROLLBACK"),
            lambda: aws(s, "list-tags-for-resource", "--resource-arn", arn),
            lambda: aws(s, "describe-services", "--cluster", "demo", "--services", "web", tls=False))
        eq(ssd["serviceDeploymentArn"], sd["serviceDeploymentArn"], "stop-service-deployment")
        eq(tags["tags"], [], "untag-resource")
        eq(plain["services"][0]["serviceName"], "web", "plain HTTP describe-services")
        st = s.ctl("/state")
        eq(st["problems"], [], "simulator shape problems")
        check(st["transport"]["https"]["handshakes"] >= 20, "handshakes counted: %r" % st["transport"])


@test
def cli_unimplemented_operation_is_an_error():
    with Simulator("demo.json") as s:
        p = aws(s, "list-account-settings", expect_ok=False)
        check(p.returncode != 0 and "UnknownOperationException" in p.stderr, "answer: %r" % p.stderr[-300:])
        check(any("ListAccountSettings" in x for x in s.ctl("/state")["problems"]), "not logged as a problem")


@test
def cli_wrong_secret_is_invalid_signature():
    with Simulator("demo.json") as s:
        p = aws(s, "describe-services", "--cluster", "demo", "--services", "web",
                secret="wrong" + SECRET, expect_ok=False)
        check(p.returncode != 0 and "InvalidSignatureException" in p.stderr, "answer: %r" % p.stderr[-300:])
        p = aws(s, "describe-services", "--cluster", "demo", "--services", "web",
                akid="AKIDUNKNOWN000000000", expect_ok=False)
        check(p.returncode != 0 and "UnrecognizedClientException" in p.stderr, "answer: %r" % p.stderr[-300:])


@test
def raw_request_validation_errors():
    with Simulator("demo.json") as s:
        st, h, b = raw_call(s, "DescribeServices", {"cluster": "demo", "services": ["web"], "bogus": 1})
        eq((st, json.loads(b)["__type"]), (400, "InvalidParameterException"), "unknown member")
        check("x-amzn-requestid" in h, "no x-amzn-RequestId on an error")
        st, h, b = raw_call(s, "DescribeServices", {"cluster": "demo"})
        eq((st, json.loads(b)["__type"]), (400, "InvalidParameterException"), "missing required member")
        check("services" in json.loads(b)["message"], "message names the member")
        st, h, b = raw_call(s, "UpdateService", {"cluster": "demo", "service": "web", "desiredCount": "2"})
        eq((st, json.loads(b)["__type"]), (400, "SerializationException"), "wrong type")
        st, h, b = raw_call(s, "ListTasks", {"cluster": "demo", "desiredStatus": "SLEEPING"})
        eq((st, json.loads(b)["__type"]), (400, "InvalidParameterException"), "bad enum")
        st, h, b = raw_call(s, "NoSuchOperation", {})
        eq((st, json.loads(b)["__type"]), (400, "UnknownOperationException"), "unknown operation")
        st, h, b = raw_call(s, "DescribeServices", {"cluster": "nope", "services": ["web"]})
        eq(json.loads(b)["__type"], "ClusterNotFoundException", "unknown cluster")
        st, h, b = raw_call(s, "UpdateService", {"cluster": "demo", "service": "nope"})
        eq(json.loads(b)["__type"], "ServiceNotFoundException", "unknown service")
        st, h, b = raw_call(s, "DescribeTaskDefinition", {"taskDefinition": "nope:7"})
        eq(json.loads(b), {"__type": "ClientException", "message": "Unable to describe task definition."},
           "unknown task definition")
        st, h, b = raw_call(s, "DescribeServices", {"cluster": "demo", "services": ["web"]})
        eq(st, 200, "a valid raw call")
        check(h.get("x-amzn-requestid"), "no x-amzn-RequestId on success")


@test
def sigv4_errors():
    with Simulator("demo.json") as s:
        body = {"cluster": "demo", "services": ["web"]}
        now = time.time()
        st, h, b = raw_call(s, "DescribeServices", body, when=now - 600)
        e = json.loads(b)
        eq(e["__type"], "InvalidSignatureException", "skewed request")
        check(e["message"].startswith("Signature expired: ") and "is now earlier than" in e["message"]
              and e["message"].endswith(" - 5 min.)"), "skew message %r" % e["message"])
        server = email_date(h["date"])
        check(abs(server - time.time()) < 5, "Date header %r is not the server's clock" % h["date"])
        st, h, b = raw_call(s, "DescribeServices", body, when=now + 600)
        check(json.loads(b)["message"].startswith("Signature not yet current: "), "future skew")
        st, h, b = raw_call(s, "DescribeServices", body, when=now - 200)
        eq(st, 200, "200 s of skew is accepted")
        st, h, b = raw_call(s, "DescribeServices", body, secret="x" + SECRET)
        eq((st, json.loads(b)["__type"]), (400, "InvalidSignatureException"), "wrong secret")
        conn = make_conn(s)
        conn.request("POST", "/", body=json.dumps(body), headers={
            "X-Amz-Target": TARGET + "DescribeServices", "Content-Type": "application/x-amz-json-1.1"})
        r = conn.getresponse()
        eq(json.loads(r.read())["__type"], "MissingAuthenticationTokenException", "unsigned request")
        conn.close()
        # a body changed after signing
        hdrs, data = signed_request(s.urls["http"], "DescribeServices", body)
        conn = make_conn(s)
        conn.request("POST", "/", body=data.replace(b"web", b"wex"), headers=hdrs)
        eq(json.loads(conn.getresponse().read())["__type"], "InvalidSignatureException", "tampered body")
        conn.close()
        # temporary credentials: valid, wrong token, expired
        s.ctl("/credentials", {"access_key_id": "ASIASIMULATORTEMP001", "secret_access_key": "tmpsecret",
                               "session_token": "tok-1", "expires_in": 900})
        s.ctl("/credentials", {"access_key_id": "ASIASIMULATOREXPIRED", "secret_access_key": "oldsecret",
                               "session_token": "tok-2", "expires_in": -10})
        st, h, b = raw_call(s, "DescribeServices", body, akid="ASIASIMULATORTEMP001", secret="tmpsecret", token="tok-1")
        eq(st, 200, "session credentials")
        st, h, b = raw_call(s, "DescribeServices", body, akid="ASIASIMULATORTEMP001", secret="tmpsecret", token="tok-x")
        eq(json.loads(b)["__type"], "UnrecognizedClientException", "wrong session token")
        st, h, b = raw_call(s, "DescribeServices", body, akid="ASIASIMULATOREXPIRED", secret="oldsecret", token="tok-2")
        eq(json.loads(b)["__type"], "ExpiredTokenException", "expired session token")
        # the server's clock can be set off, and its Date header follows it
        s.ctl("/auth", {"server_clock_offset": 1200})
        st, h, b = raw_call(s, "DescribeServices", body)
        eq(json.loads(b)["__type"], "InvalidSignatureException", "client clock behind the server's")
        st, h, b = raw_call(s, "DescribeServices", body, when=email_date(h["date"]))
        eq(st, 200, "signing with the server's Date header")


def email_date(v):
    import email.utils
    return email.utils.parsedate_to_datetime(v).timestamp()


@test
def no_auth_flag():
    with Simulator("demo.json", ["--no-auth"]) as s:
        conn = make_conn(s)
        conn.request("POST", "/", body=json.dumps({"cluster": "demo", "services": ["web"]}), headers={
            "X-Amz-Target": TARGET + "DescribeServices", "Content-Type": "application/x-amz-json-1.1"})
        r = conn.getresponse()
        eq(r.status, 200, "unsigned request with --no-auth")
        eq(json.loads(r.read())["services"][0]["serviceName"], "web", "answer")


@test
def errors_agree_with_moto():
    """The same bad requests against moto (an independent emulator) and the simulator get the
    same error type, and the same message where both know ECS's wording."""
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer
    ms = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    ms.start()
    try:
        host, port = ms.get_host_and_port()
        moto = botocore.session.get_session().create_client(
            "ecs", region_name="us-east-1", endpoint_url="http://%s:%d" % (host, port),
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 1}))
        with Simulator({"clusters": [{"name": "demo", "instances": [{"count": 1}]}]}) as s:
            sim = s.client()
            for c in (moto, sim):
                c.create_cluster(clusterName="demo")
                c.register_task_definition(family="web", containerDefinitions=[
                    {"name": "web", "image": "r/web:1", "memory": 128}])
                c.create_service(cluster="demo", serviceName="web", taskDefinition="web:1", desiredCount=0)
            same_msg, same_code = True, False
            cases = [
                ("describe_task_definition", dict(taskDefinition="nope:1"), same_msg),
                ("update_service", dict(cluster="demo", service="nope"), same_msg),
                ("update_service", dict(cluster="nope", service="web"), same_msg),
                ("update_service", dict(cluster="demo", service="web", taskDefinition="nope:3"), same_code),
                ("describe_services", dict(cluster="nope", services=["web"]), same_msg),
                ("deregister_task_definition", dict(taskDefinition="web"), same_msg),
                ("deregister_task_definition", dict(taskDefinition="web:x"), same_msg),
                ("deregister_task_definition", dict(taskDefinition="nope:1"), same_msg),
                ("register_task_definition", dict(family="x", containerDefinitions=[{"name": "a", "image": "i"}]), same_msg),
                ("register_task_definition", dict(family="x", containerDefinitions=[{"name": "a", "memory": 128}]), same_msg),
                ("register_task_definition", dict(family="x", containerDefinitions=[{"image": "i", "memory": 128}]), same_msg),
                ("describe_tasks", dict(cluster="demo", tasks=[]), same_msg),
                ("list_tasks", dict(cluster="nope"), same_msg),
                ("delete_service", dict(cluster="demo", service="nope"), same_msg),
                ("list_services", dict(cluster="nope"), same_msg),
                ("create_service", dict(cluster="demo", serviceName="x", taskDefinition="nope:1"), same_code),
            ]
            for op, kw, msg_too in cases:
                got = []
                for c in (moto, sim):
                    try:
                        getattr(c, op)(**kw)
                        got.append(("OK", ""))
                    except ClientError as e:
                        got.append((err_code(e), e.response["Error"].get("Message")))
                check(got[0][0] != "OK", "%s %r: moto accepted it" % (op, kw))
                if msg_too:
                    eq(got[1], got[0], "%s %r (simulator vs moto)" % (op, kw))
                else:
                    eq(got[1][0], got[0][0], "%s %r error type (simulator vs moto)" % (op, kw))
            for c in (moto, sim):
                eq(c.describe_clusters(clusters=["nope"])["failures"],
                   [{"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/nope", "reason": "MISSING"}], "missing cluster")
    finally:
        ms.stop()


# --------------------------------------------------------------------------------------------
# dynamics


@test
def rolling_deployment_completes_and_drains():
    with Simulator("demo.json") as s:
        c = s.client()
        old = service(c, "demo", "web")
        old_tasks = {t["taskArn"] for t in all_tasks(c, "demo", serviceName="web")}
        eq(len(old_tasks), 2, "tasks before")
        arn = new_revision(c, "web", "registry.example.com/acme/web:2.0")
        svc = c.update_service(cluster="demo", service="web", taskDefinition=arn)["service"]
        ours = svc["deployments"][0]
        s.advance(1)
        fresh = [t for t in all_tasks(c, "demo", serviceName="web") if t["taskDefinitionArn"] == arn]
        eq([(t["lastStatus"], t["desiredStatus"], t["startedBy"]) for t in fresh],
           [("PROVISIONING", "RUNNING", ours["id"])] * 2, "new tasks")
        eq((ours["status"], ours["taskDefinition"], ours["rolloutState"]), ("PRIMARY", arn, "IN_PROGRESS"), "new deployment")
        eq(len(svc["deployments"]), 2, "old deployment still listed")
        seen = set()

        def done():
            sv = service(c, "demo", "web")
            for t in all_tasks(c, "demo", serviceName="web"):
                seen.add(t["lastStatus"])
            d = [x for x in sv["deployments"] if x["id"] == ours["id"]][0]
            return d["rolloutState"] == "COMPLETED" and sv
        sv = s.until(done, 900, 3, "rollout COMPLETED")
        eq(len(sv["deployments"]), 1, "deployments after the rollout")
        eq(sv["runningCount"], 2, "runningCount")
        tasks = all_tasks(c, "demo", serviceName="web")
        eq(sorted(t["taskDefinitionArn"] for t in tasks), [arn, arn], "only new tasks run")
        check(all(t["healthStatus"] == "HEALTHY" for t in tasks), "new tasks healthy")
        check(not (old_tasks & {t["taskArn"] for t in tasks}), "old tasks drained")
        check({"PENDING", "RUNNING"} <= seen, "lifecycle states seen: %r" % seen)
        stopped = all_tasks(c, "demo", serviceName="web", desiredStatus="STOPPED")
        eq({t["taskArn"] for t in stopped}, old_tasks, "stopped tasks are the old ones")
        check(all(t["stopCode"] == "ServiceSchedulerInitiated" and t["lastStatus"] == "STOPPED" for t in stopped),
              "old tasks stopped by the scheduler")
        msgs = [e["message"] for e in sv["events"]]
        check(msgs[0] == "(service web) has reached a steady state.", "newest event: %r" % msgs[0])
        check(any("has started 2 tasks" in m for m in msgs) and any("has stopped 2 running tasks" in m for m in msgs),
              "start/stop events: %r" % msgs[:6])
        times = [e["createdAt"] for e in sv["events"]]
        check(times == sorted(times, reverse=True), "events newest first")
        sd = c.describe_service_deployments(serviceDeploymentArns=[sv["currentServiceDeployment"]])["serviceDeployments"][0]
        eq(sd["status"], "SUCCESSFUL", "service deployment status")
        eq(sd["sourceServiceRevisions"][0]["arn"] != sd["targetServiceRevision"]["arn"], True, "revisions differ")
        check(old["deployments"][0]["id"] != ours["id"], "deployment ids differ")


@test
def fixed_host_port_without_spare_instance_cannot_roll():
    with Simulator("hostport.json") as s:
        c = s.client()
        arn = new_revision(c, "api", "registry.example.com/acme/api:2.0")
        ours = c.update_service(cluster="prod", service="api", taskDefinition=arn)["service"]["deployments"][0]
        s.advance(300)
        sv = service(c, "prod", "api")
        d = [x for x in sv["deployments"] if x["id"] == ours["id"]][0]
        eq((d["runningCount"], d["pendingCount"], d["rolloutState"]), (0, 0, "IN_PROGRESS"), "stuck deployment")
        eq(sv["runningCount"], 2, "old tasks keep running")
        msgs = [e["message"] for e in sv["events"]]
        hit = [m for m in msgs if "unable to place a task" in m]
        check(hit, "no placement event: %r" % msgs[:5])
        check("(service api) was unable to place a task because no container instance met all of its requirements."
              in hit[0] and "is already using a port required by your task" in hit[0], "event text %r" % hit[0])
        check(len(hit) <= 6, "placement event repeated too often: %d in 300 s" % len(hit))
        # the article's fix: one more instance than tasks
        c.register_container_instance(cluster="prod", totalResources=[
            {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": 3900}])
        s.until(lambda: [x for x in service(c, "prod", "api")["deployments"] if x["id"] == ours["id"]][0]["rolloutState"]
                == "COMPLETED", 900, 5, "rollout with a spare instance")
        tasks = all_tasks(c, "prod", serviceName="api")
        eq([t["taskDefinitionArn"] for t in tasks], [arn, arn], "new tasks after the spare instance")
        eq(len({t["containerInstanceArn"] for t in tasks}), 2, "one task per instance")


@test
def bad_image_trips_circuit_breaker_and_rolls_back():
    with Simulator("demo.json") as s:
        c = s.client()
        before = service(c, "demo", "web")["taskDefinition"]
        arn = new_revision(c, "web", "registry.example.com/acme/web:bad")
        ours = c.update_service(cluster="demo", service="web", taskDefinition=arn)["service"]["deployments"][0]

        def failed():
            sv = service(c, "demo", "web")
            d = [x for x in sv["deployments"] if x["id"] == ours["id"]]
            return d and d[0]["rolloutState"] == "FAILED" and (sv, d[0])
        sv, d = s.until(failed, 600, 3, "circuit breaker")
        check(d["failedTasks"] >= 3, "failedTasks %r" % d["failedTasks"])
        check("circuit breaker" in d["rolloutStateReason"], "reason %r" % d["rolloutStateReason"])
        eq(d["status"], "ACTIVE", "failed deployment no longer PRIMARY")
        prim = sv["deployments"][0]
        eq((prim["status"], prim["taskDefinition"]), ("PRIMARY", before), "rollback deployment")
        eq(sv["taskDefinition"], before, "service taskDefinition after rollback")
        msgs = [e["message"] for e in sv["events"]]
        check(any("(deployment %s) deployment failed: tasks failed to start." % ours["id"] in m for m in msgs),
              "failure event %r" % msgs[:4])
        check(any(m.startswith("(service web) rolling back to deployment ecs-svc/") for m in msgs), "rollback event")
        stopped = [t for t in all_tasks(c, "demo", serviceName="web", desiredStatus="STOPPED")
                   if t["taskDefinitionArn"] == arn and t["stopCode"] == "TaskFailedToStart"]
        check(len(stopped) >= 3 and all(t["stopCode"] == "TaskFailedToStart" and
                              t["stoppedReason"].startswith("CannotPullContainerError:") for t in stopped),
              "stopped tasks %r" % [(t.get("stopCode"), t.get("stoppedReason")) for t in stopped[:2]])
        check("registry.example.com/acme/web:bad" in stopped[0]["containers"][0]["reason"], "container reason")
        sv = s.until(lambda: (lambda v: v["deployments"][0]["rolloutState"] == "COMPLETED" and len(v["deployments"]) == 1 and v)(
            service(c, "demo", "web")), 900, 5, "rollback completes")
        tasks = all_tasks(c, "demo", serviceName="web")
        eq([t["taskDefinitionArn"] for t in tasks], [before, before], "previous revision runs")
        sds = c.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
        eq(sds[0]["status"], "ROLLBACK_SUCCESSFUL", "service deployment after rollback")
        full = c.describe_service_deployments(serviceDeploymentArns=[sds[0]["serviceDeploymentArn"]])["serviceDeployments"][0]
        eq(full["deploymentCircuitBreaker"]["status"], "TRIPPED", "breaker status")
        check(full["rollback"]["serviceRevisionArn"] == full["sourceServiceRevisions"][0]["arn"], "rollback target revision")


@test
def crashing_and_unhealthy_tasks_without_rollback():
    sc = json.load(open(os.path.join(SCEN, "demo.json")))
    sc["services"][0]["deploymentConfiguration"]["deploymentCircuitBreaker"] = {"enable": True, "rollback": False}
    sc["images"]["registry.example.com/acme/web:sick"] = "unhealthy"
    with Simulator(sc) as s:
        c = s.client()
        arn = new_revision(c, "web", "registry.example.com/acme/web:crash")
        ours = c.update_service(cluster="demo", service="web", taskDefinition=arn)["service"]["deployments"][0]
        sv = s.until(lambda: (lambda v: v["deployments"][0]["rolloutState"] == "FAILED" and v)(service(c, "demo", "web")),
                     600, 3, "FAILED")
        eq(sv["deployments"][0]["id"], ours["id"], "failed deployment stays PRIMARY without rollback")
        crashed = [t for t in all_tasks(c, "demo", serviceName="web", desiredStatus="STOPPED") if t["taskDefinitionArn"] == arn]
        check(crashed, "no stopped task")
        t = crashed[0]
        eq((t["stopCode"], t["stoppedReason"], t["containers"][0]["exitCode"]),
           ("EssentialContainerExited", "Essential container in task exited", 1), "crashed task")
        sds = c.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
        eq(sds[0]["status"], "STOPPED", "service deployment of a failed rollout without rollback")
        n = len(all_tasks(c, "demo", family="web")) + len(all_tasks(c, "demo", family="web", desiredStatus="STOPPED"))
        s.advance(120)
        eq(len(all_tasks(c, "demo", family="web")) + len(all_tasks(c, "demo", family="web", desiredStatus="STOPPED")), n,
           "no launches after FAILED")
        # health checks that never pass
        arn2 = new_revision(c, "web", "registry.example.com/acme/web:sick")
        ours2 = c.update_service(cluster="demo", service="web", taskDefinition=arn2)["service"]["deployments"][0]
        s.until(lambda: [x for x in service(c, "demo", "web")["deployments"] if x["id"] == ours2["id"]][0]["rolloutState"] == "FAILED",
                900, 5, "unhealthy FAILED")
        sick = [t for t in all_tasks(c, "demo", serviceName="web", desiredStatus="STOPPED") if t["taskDefinitionArn"] == arn2]
        check(sick and sick[0]["stoppedReason"] == "Task failed container health checks"
              and sick[0]["healthStatus"] == "UNHEALTHY", "unhealthy task %r" % [(x.get("stoppedReason"), x["healthStatus"]) for x in sick[:1]])
        msgs = [e["message"] for e in service(c, "demo", "web")["events"]]
        check(any("failed container health checks" in m for m in msgs), "health event")


@test
def events_newest_first_capped_at_100():
    sc = json.load(open(os.path.join(SCEN, "demo.json")))
    sc["services"][0]["deploymentConfiguration"]["deploymentCircuitBreaker"] = {"enable": False, "rollback": False}
    with Simulator(sc) as s:
        c = s.client()
        arn = new_revision(c, "web", "registry.example.com/acme/web:bad")
        c.update_service(cluster="demo", service="web", taskDefinition=arn)
        s.advance(3600)
        sv = service(c, "demo", "web")
        eq(len(sv["events"]), 100, "events kept")
        times = [e["createdAt"] for e in sv["events"]]
        check(times == sorted(times, reverse=True), "events newest first")
        check((times[0] - times[-1]).total_seconds() < 3500, "the oldest events were dropped")
        eq(sv["deployments"][0]["rolloutState"], "IN_PROGRESS", "without a breaker the deployment keeps trying")
        check(sv["deployments"][0]["failedTasks"] > 100, "failedTasks %r" % sv["deployments"][0]["failedTasks"])
        eq(sv["runningCount"], 2, "the old tasks keep serving")
        check(any("is unable to consistently start tasks successfully" in e["message"] for e in sv["events"]),
              "no 'unable to consistently start tasks' event")


@test
def desired_count_zero():
    with Simulator("demo.json") as s:
        c = s.client()
        arn = new_revision(c, "web", "registry.example.com/acme/web:2.0")
        ours = c.update_service(cluster="demo", service="web", taskDefinition=arn, desiredCount=0)["service"]
        eq(ours["desiredCount"], 0, "desiredCount")
        dep = ours["deployments"][0]
        sv = s.until(lambda: (lambda v: v["deployments"][0]["rolloutState"] == "COMPLETED" and v)(service(c, "demo", "web")),
                     600, 5, "COMPLETED at 0")
        eq((sv["runningCount"], sv["pendingCount"], len(sv["deployments"]), sv["deployments"][0]["id"]),
           (0, 0, 1, dep["id"]), "service at 0")
        eq(all_tasks(c, "demo", serviceName="web"), [], "no task runs")
        c.update_service(cluster="demo", service="web", desiredCount=3)
        s.until(lambda: service(c, "demo", "web")["runningCount"] == 3, 600, 5, "scale back to 3")
        sv = s.until(lambda: (lambda v: v["events"][0]["message"] == "(service web) has reached a steady state." and v)(
            service(c, "demo", "web")), 300, 5, "steady after scaling")
        eq(sv["deployments"][0]["id"], dep["id"], "scaling makes no new deployment")
        # deploymentConfiguration: members not sent are kept, unless the scenario says otherwise
        dc = c.update_service(cluster="demo", service="web",
                              deploymentConfiguration={"minimumHealthyPercent": 50})["service"]["deploymentConfiguration"]
        eq((dc["minimumHealthyPercent"], dc["deploymentCircuitBreaker"]), (50, {"enable": True, "rollback": True}), "merged")
        s.ctl("/scenario", {"scenario": dict(json.load(open(os.path.join(SCEN, "demo.json"))),
                                             update_replaces_deployment_configuration=True)})
        dc = c.update_service(cluster="demo", service="web",
                              deploymentConfiguration={"minimumHealthyPercent": 50})["service"]["deploymentConfiguration"]
        eq((dc["minimumHealthyPercent"], dc["deploymentCircuitBreaker"]), (50, {"enable": False, "rollback": False}), "replaced")


@test
def many_tasks_paginate():
    sc = json.load(open(os.path.join(SCEN, "demo.json")))
    sc["clusters"].append({"name": "big"})
    with Simulator(sc) as s:
        c = s.client()
        fam = {"family": "worker", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
               "memory": "512", "containerDefinitions": [{"name": "w", "image": "registry.example.com/acme/worker:1"}]}
        c.register_task_definition(**fam)
        net = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}
        c.create_service(cluster="big", serviceName="worker", taskDefinition="worker", desiredCount=250,
                         launchType="FARGATE", networkConfiguration=net)
        s.until(lambda: service(c, "big", "worker")["runningCount"] == 250, 900, 10, "250 running")
        pages, tok, arns = [], None, []
        while True:
            kw = {"cluster": "big", "serviceName": "worker", "maxResults": 100}
            if tok:
                kw["nextToken"] = tok
            r = c.list_tasks(**kw)
            pages.append(len(r["taskArns"]))
            arns += r["taskArns"]
            tok = r.get("nextToken")
            if not tok:
                break
            check(len(pages) < 10, "pagination does not end")
        eq(pages, [100, 100, 50], "ListTasks pages")
        eq(len(set(arns)), 250, "distinct task arns")
        eq(len(c.list_tasks(cluster="big", serviceName="worker")["taskArns"]), 100, "default page size")
        expect_error(lambda: c.describe_tasks(cluster="big", tasks=arns[:101]), "InvalidParameterException",
                     "DescribeTasks with 101 tasks")
        eq(len(c.describe_tasks(cluster="big", tasks=arns[:100])["tasks"]), 100, "DescribeTasks with 100 tasks")
        expect_error(lambda: c.list_tasks(cluster="big", maxResults=101), "InvalidParameterException", "maxResults 101")
        expect_error(lambda: c.list_tasks(cluster="big", nextToken="garbage"), "InvalidParameterException", "bad nextToken")
        # ListTaskDefinitions: prefix match, pages, sort
        for i in range(4):
            c.register_task_definition(**dict(fam, family="worker-two"))
        r = c.list_task_definitions(familyPrefix="worker", maxResults=2)
        eq(len(r["taskDefinitionArns"]), 2, "page 1")
        r2 = c.list_task_definitions(familyPrefix="worker", maxResults=2, nextToken=r["nextToken"])
        r3 = c.list_task_definitions(familyPrefix="worker", maxResults=2, nextToken=r2["nextToken"])
        eq([a.rsplit("/", 1)[1] for a in r["taskDefinitionArns"] + r2["taskDefinitionArns"] + r3["taskDefinitionArns"]],
           ["worker:1", "worker-two:1", "worker-two:2", "worker-two:3", "worker-two:4"], "prefix match across families")
        eq(r3.get("nextToken"), None, "last page")


@test
def blue_green_lifecycle_bake_time_and_rollback():
    with Simulator("bluegreen.json") as s:
        c = s.client()
        arn = new_revision(c, "shop", "registry.example.com/acme/shop:2.0")
        sv = c.update_service(cluster="shop", service="shop", taskDefinition=arn)["service"]
        sd_arn = sv["currentServiceDeployment"]
        stages, t, bake = [], 0, {}
        while True:
            sd = c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]
            st = sd.get("lifecycleStage")
            if st and (not stages or stages[-1] != st):
                stages.append(st)
                bake.setdefault(st, t)
            if sd["status"] in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "STOPPED", "ROLLBACK_FAILED"):
                break
            check(t < 1200, "blue/green did not finish: %s %r" % (sd["status"], stages))
            s.advance(5)
            t += 5
        eq(sd["status"], "SUCCESSFUL", "blue/green status")
        want = ["SCALE_UP", "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"]
        check([x for x in stages if x in want] == want, "stages %r" % stages)
        check(bake["CLEAN_UP"] - bake["BAKE_TIME"] >= 115, "bake time %r s" % (bake["CLEAN_UP"] - bake["BAKE_TIME"]))
        tasks = all_tasks(c, "shop", serviceName="shop")
        eq([x["taskDefinitionArn"] for x in tasks], [arn, arn], "green runs")
        eq(len(service(c, "shop", "shop")["deployments"]), 1, "blue gone")
        # a second one, rolled back by the user during bake time
        arn3 = new_revision(c, "shop", "registry.example.com/acme/shop:3.0")
        sd_arn = c.update_service(cluster="shop", service="shop", taskDefinition=arn3)["service"]["currentServiceDeployment"]
        s.until(lambda: c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0].get(
            "lifecycleStage") == "BAKE_TIME", 900, 5, "BAKE_TIME")
        sd = c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]
        eq(sd["targetServiceRevision"]["requestedProductionTrafficWeight"], 100.0, "green takes production traffic")
        c.stop_service_deployment(serviceDeploymentArn=sd_arn, stopType="ROLLBACK")
        seen = set()

        def rolled():
            x = c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]
            seen.add(x["status"])
            return x["status"] == "ROLLBACK_SUCCESSFUL" and x
        sd = s.until(rolled, 600, 2, "ROLLBACK_SUCCESSFUL")
        check({"ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"} & seen, "rollback states seen %r" % seen)
        eq(service(c, "shop", "shop")["taskDefinition"], arn, "service back on the previous revision")
        eq([x["taskDefinitionArn"] for x in all_tasks(c, "shop", serviceName="shop")], [arn, arn], "blue runs again")
        expect_error(lambda: c.stop_service_deployment(serviceDeploymentArn=sd_arn, stopType="ROLLBACK"),
                     "ConflictException", "stopping a finished deployment")


@test
def stop_service_deployment_abort_and_rolling_rollback():
    with Simulator("hostport.json") as s:
        c = s.client()
        arn = new_revision(c, "api", "registry.example.com/acme/api:2.0")
        sv = c.update_service(cluster="prod", service="api", taskDefinition=arn)["service"]
        sd_arn, ours = sv["currentServiceDeployment"], sv["deployments"][0]
        s.advance(60)
        eq(c.stop_service_deployment(serviceDeploymentArn=sd_arn, stopType="ABORT")["serviceDeploymentArn"], sd_arn, "ABORT")
        s.advance(5)
        sd = c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]
        eq(sd["status"], "STOPPED", "aborted service deployment")
        d = [x for x in service(c, "prod", "api")["deployments"] if x["id"] == ours["id"]][0]
        eq(d["rolloutState"], "FAILED", "aborted deployment")
        expect_error(lambda: c.stop_service_deployment(serviceDeploymentArn=sd_arn + "x"),
                     "ServiceDeploymentNotFoundException", "unknown service deployment")
        # a rolling deployment rolled back by the user (min 50%: it can roll on 2 instances)
        c.update_service(cluster="prod", service="api", deploymentConfiguration={"minimumHealthyPercent": 50})
        arn3 = new_revision(c, "api", "registry.example.com/acme/api:3.0")
        sd_arn = c.update_service(cluster="prod", service="api", taskDefinition=arn3)["service"]["currentServiceDeployment"]
        s.advance(3)
        c.stop_service_deployment(serviceDeploymentArn=sd_arn, stopType="ROLLBACK")
        sd = s.until(lambda: (lambda x: x["status"] == "ROLLBACK_SUCCESSFUL" and x)(
            c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]), 900, 5, "rolled back")
        sv = service(c, "prod", "api")
        eq(sv["taskDefinition"].rsplit("/", 1)[1], "api:1", "service back on api:1")
        eq(sorted(t["taskDefinitionArn"].rsplit("/", 1)[1] for t in all_tasks(c, "prod", serviceName="api")),
           ["api:1", "api:1"], "tasks after the rollback")


@test
def ipv6_loopback_and_content_sha256():
    with Simulator("demo.json", ["--host", "::1", "--no-tls"]) as s:
        check(s.urls["http"].startswith("http://[::1]:"), "URL %r" % s.urls["http"])
        c = s.client()
        eq(service(c, "demo", "web")["serviceName"], "web", "call over ::1")
        body = json.dumps({"cluster": "demo", "services": ["web"]}).encode()
        h = hashlib.sha256(body).hexdigest()
        st, _, b = raw_call(s, "DescribeServices", body, headers={"X-Amz-Content-SHA256": h})
        eq(st, 200, "signed x-amz-content-sha256")
        st, _, b = raw_call(s, "DescribeServices", body, headers={"X-Amz-Content-SHA256": "0" * 64})
        eq(json.loads(b)["__type"], "InvalidSignatureException", "x-amz-content-sha256 not matching the body")


@test
def lifecycle_hooks_pause_and_lambda():
    sc = json.load(open(os.path.join(SCEN, "bluegreen.json")))
    dc = sc["services"][0]["deploymentConfiguration"]
    dc["bakeTimeInMinutes"] = 0
    dc["lifecycleHooks"] = [
        {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]},
        {"hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:check", "roleArn":
         "arn:aws:iam::123456789012:role/hook", "lifecycleStages": ["PRE_SCALE_UP"]}]
    sc["lambda_hooks"] = {"arn:aws:lambda:us-east-1:123456789012:function:check": "SUCCEEDED"}
    with Simulator(sc) as s:
        c = s.client()
        arn = new_revision(c, "shop", "registry.example.com/acme/shop:2.0")
        sd_arn = c.update_service(cluster="shop", service="shop", taskDefinition=arn)["service"]["currentServiceDeployment"]
        desc = lambda: c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]
        sd = s.until(lambda: (lambda x: x.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT" and x)(desc()), 600, 5, "pause stage")
        s.advance(600)
        sd = desc()
        eq((sd["status"], sd["lifecycleStage"]), ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"), "paused")
        hooks = sd["lifecycleHookDetails"]
        eq([(h["targetType"], h["status"]) for h in hooks], [("AWS_LAMBDA", "SUCCEEDED"), ("PAUSE", "AWAITING_ACTION")], "hooks")
        expect_error(lambda: c.continue_service_deployment(serviceDeploymentArn=sd_arn, hookId=hooks[0]["hookId"]),
                     "ClientException", "continuing a hook that is not waiting")
        c.continue_service_deployment(serviceDeploymentArn=sd_arn, hookId=hooks[1]["hookId"], action="CONTINUE")
        s.until(lambda: desc()["status"] == "SUCCESSFUL", 600, 5, "SUCCESSFUL after CONTINUE")
        # a failing Lambda hook rolls back
        s.ctl("/scenario", {"scenario": dict(sc, lambda_hooks={"arn:aws:lambda:us-east-1:123456789012:function:check": "FAILED"})})
        c = s.client()
        arn = new_revision(c, "shop", "registry.example.com/acme/shop:2.0")
        sd_arn = c.update_service(cluster="shop", service="shop", taskDefinition=arn)["service"]["currentServiceDeployment"]
        sd = s.until(lambda: (lambda x: x["status"].startswith("ROLLBACK_SUCCESSFUL") and x)(desc()), 600, 5, "hook rollback")
        eq(sd["lifecycleHookDetails"][0]["status"], "FAILED", "lambda hook status")
        eq(service(c, "shop", "shop")["taskDefinition"].rsplit("/", 1)[1], "shop:1", "back on blue")


@test
def linear_and_canary_shift_traffic_in_steps():
    sc = json.load(open(os.path.join(SCEN, "bluegreen.json")))
    dc = sc["services"][0]["deploymentConfiguration"]
    dc.update({"strategy": "LINEAR", "bakeTimeInMinutes": 0,
               "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}})
    with Simulator(sc) as s:
        c = s.client()
        arn = new_revision(c, "shop", "registry.example.com/acme/shop:2.0")
        sd_arn = c.update_service(cluster="shop", service="shop", taskDefinition=arn)["service"]["currentServiceDeployment"]
        weights = []

        def fin():
            x = c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]
            if x.get("lifecycleStage") == "PRODUCTION_TRAFFIC_SHIFT":
                w = x["targetServiceRevision"]["requestedProductionTrafficWeight"]
                if not weights or weights[-1] != w:
                    weights.append(w)
            return x["status"] == "SUCCESSFUL"
        s.until(fin, 1200, 10, "LINEAR SUCCESSFUL")
        eq(weights, [25.0, 50.0, 75.0, 100.0], "linear steps")


@test
def alarm_fails_deployment_and_rolls_back():
    with Simulator("bluegreen.json") as s:
        c = s.client()
        before = service(c, "shop", "shop")["taskDefinition"]
        arn = new_revision(c, "shop", "registry.example.com/acme/shop:2.0")
        sd_arn = c.update_service(cluster="shop", service="shop", taskDefinition=arn)["service"]["currentServiceDeployment"]
        s.until(lambda: c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0].get(
            "lifecycleStage") == "BAKE_TIME", 900, 5, "BAKE_TIME")
        s.ctl("/alarm", {"name": "shop-5xx", "state": "ALARM"})
        sd = s.until(lambda: (lambda x: x["status"] == "ROLLBACK_SUCCESSFUL" and x)(
            c.describe_service_deployments(serviceDeploymentArns=[sd_arn])["serviceDeployments"][0]), 600, 5, "alarm rollback")
        eq(sd["alarms"]["triggeredAlarmNames"], ["shop-5xx"], "triggered alarms")
        eq(service(c, "shop", "shop")["taskDefinition"], before, "back on blue")


@test
def concurrent_deployment_by_someone_else():
    sc = json.load(open(os.path.join(SCEN, "demo.json")))
    sc["actions"] = [{"after_call": {"op": "UpdateService", "count": 1}, "delay": 15, "do": "update_service",
                      "service": "web", "cluster": "demo", "image": "registry.example.com/acme/web:9.9"}]
    with Simulator(sc) as s:
        c = s.client()
        arn = new_revision(c, "web", "registry.example.com/acme/web:2.0")
        ours = c.update_service(cluster="demo", service="web", taskDefinition=arn)["service"]["deployments"][0]
        s.advance(20)
        sv = service(c, "demo", "web")
        prim = sv["deployments"][0]
        check(prim["id"] != ours["id"], "our deployment is still PRIMARY")
        theirs = c.describe_task_definition(taskDefinition=prim["taskDefinition"])["taskDefinition"]
        eq(theirs["containerDefinitions"][0]["image"], "registry.example.com/acme/web:9.9", "their image")
        eq([x["status"] for x in sv["deployments"] if x["id"] == ours["id"]], ["ACTIVE"], "ours is ACTIVE")
        sds = c.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
        eq([x["status"] for x in sds[:2]], ["IN_PROGRESS", "STOPPED"], "service deployments")


@test
def no_capacity_events():
    sc = {"clusters": [{"name": "fg"}, {"name": "bare"}], "fargate_capacity": 1,
          "task_definitions": [
              {"family": "f", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256",
               "memory": "512", "containerDefinitions": [{"name": "f", "image": "registry.example.com/f:1"}]},
              {"family": "e", "containerDefinitions": [{"name": "e", "image": "registry.example.com/e:1", "memory": 64}]}]}
    with Simulator(sc) as s:
        c = s.client()
        net = {"awsvpcConfiguration": {"subnets": ["subnet-0123456789abcdef0"]}}
        c.create_service(cluster="fg", serviceName="f", taskDefinition="f", desiredCount=2, launchType="FARGATE",
                         networkConfiguration=net)
        c.create_service(cluster="bare", serviceName="e", taskDefinition="e", desiredCount=1, launchType="EC2")
        s.advance(60)
        sv = service(c, "fg", "f")
        eq((sv["runningCount"], sv["deployments"][0]["rolloutState"]), (1, "IN_PROGRESS"), "one Fargate task fits")
        check(any("Capacity is unavailable at this time" in e["message"] for e in sv["events"]), "Fargate capacity event")
        r = c.run_task(cluster="fg", taskDefinition="f", launchType="FARGATE", networkConfiguration=net)
        eq((r["tasks"], r["failures"][0]["reason"].startswith("Capacity is unavailable")), ([], True), "RunTask at capacity")
        r = c.run_task(cluster="bare", taskDefinition="f", networkConfiguration=net,
                       capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT", "weight": 1}])
        check(r["failures"] and r["failures"][0]["reason"].startswith("Capacity is unavailable"),
              "a FARGATE_SPOT capacity provider runs Fargate tasks: %r" % r["failures"])
        msgs = [e["message"] for e in service(c, "bare", "e")["events"]]
        check(msgs and "No Container Instances were found in your cluster" in msgs[0], "no instances event: %r" % msgs[:1])
        expect_error(lambda: c.run_task(cluster="fg", taskDefinition="e", launchType="FARGATE"), "ClientException",
                     "FARGATE with a bridge task definition")
        expect_error(lambda: c.run_task(cluster="fg", taskDefinition="f", launchType="FARGATE"), "InvalidParameterException",
                     "awsvpc without a network configuration")


@test
def run_task_failures():
    sc = json.load(open(os.path.join(SCEN, "demo.json")))
    sc["run_task_failures"] = [{"family": "web", "reason": "RESOURCE:MEMORY", "count": 1}]
    with Simulator(sc) as s:
        c = s.client()
        r = c.run_task(cluster="demo", taskDefinition="web", startedBy="ecs-deploy")
        eq((r["tasks"], r["failures"][0]["reason"]), ([], "RESOURCE:MEMORY"), "scenario failure")
        check(r["failures"][0]["arn"].startswith("arn:aws:ecs:us-east-1:123456789012:container-instance/demo/"), "failure arn")
        r = c.run_task(cluster="demo", taskDefinition="web", startedBy="ecs-deploy")
        eq((len(r["tasks"]), r["failures"]), (1, []), "second RunTask succeeds")
        big = new_revision(c, "web", mutate=lambda i: i["containerDefinitions"][0].update(memory=100000))
        r = c.run_task(cluster="demo", taskDefinition=big)
        eq((r["tasks"], [f["reason"] for f in r["failures"]]), ([], ["RESOURCE:MEMORY"]), "too big for any instance")
        expect_error(lambda: c.run_task(cluster="demo", taskDefinition="web", count=11), "InvalidParameterException", "count 11")
        expect_error(lambda: c.run_task(cluster="demo", taskDefinition="nope"), "ClientException", "unknown task definition")
        c.create_cluster(clusterName="empty")
        expect_error(lambda: c.run_task(cluster="empty", taskDefinition="web"), "InvalidParameterException", "no instances")


@test
def one_off_task_exit_codes_including_sidecar():
    sc = json.load(open(os.path.join(SCEN, "demo.json")))
    sc["images"]["registry.example.com/acme/migrate:ok"] = "exit:0@30"
    sc["images"]["registry.example.com/acme/migrate:broken"] = "exit:2@20"
    sc["containers"] = {"log-router": "exit:3@10"}
    sc["task_definitions"].append({"family": "migrate", "containerDefinitions": [
        {"name": "migrate", "image": "registry.example.com/acme/migrate:ok", "essential": True, "memory": 128},
        {"name": "log-router", "image": "registry.example.com/acme/fluentbit:1", "essential": False, "memory": 64},
        {"name": "metrics", "image": "registry.example.com/acme/metrics:1", "essential": False, "memory": 64}]})
    with Simulator(sc) as s:
        c = s.client()
        t = c.run_task(cluster="demo", taskDefinition="migrate", startedBy="ecs-deploy")["tasks"][0]
        eq((t["lastStatus"], t["desiredStatus"]), ("PROVISIONING", "RUNNING"), "fresh task")
        arn = t["taskArn"]
        t = s.until(lambda: (lambda x: x["lastStatus"] == "STOPPED" and x)(
            c.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]), 600, 5, "task STOPPED")
        codes = {x["name"]: x.get("exitCode") for x in t["containers"]}
        eq(codes, {"migrate": 0, "log-router": 3, "metrics": 0}, "exit codes")
        eq((t["stopCode"], t["stoppedReason"]), ("EssentialContainerExited", "Essential container in task exited"), "stop")
        for k in ("startedAt", "stoppingAt", "stoppedAt", "pullStartedAt", "pullStoppedAt", "executionStoppedAt"):
            check(k in t, "task lacks %s" % k)
        check(t["startedAt"] <= t["stoppingAt"] <= t["stoppedAt"], "timestamps in order")
        eq(c.list_tasks(cluster="demo", startedBy="ecs-deploy", desiredStatus="STOPPED")["taskArns"], [arn], "ListTasks startedBy")
        arn2 = new_revision(c, "migrate", "registry.example.com/acme/migrate:broken")
        t = c.run_task(cluster="demo", taskDefinition=arn2)["tasks"][0]
        t = s.until(lambda: (lambda x: x["lastStatus"] == "STOPPED" and x)(
            c.describe_tasks(cluster="demo", tasks=[t["taskArn"]])["tasks"][0]), 600, 5, "task STOPPED")
        eq({x["name"]: x.get("exitCode") for x in t["containers"]}["migrate"], 2, "failing migration exit code")
        # user stop
        t = c.run_task(cluster="demo", taskDefinition="migrate")["tasks"][0]
        s.advance(15)
        c.stop_task(cluster="demo", task=t["taskArn"], reason="cancelled by test")
        t = s.until(lambda: (lambda x: x["lastStatus"] == "STOPPED" and x)(
            c.describe_tasks(cluster="demo", tasks=[t["taskArn"]])["tasks"][0]), 300, 5, "stopped by user")
        eq((t["stopCode"], t["stoppedReason"]), ("UserInitiated", "cancelled by test"), "user stop")


@test
def register_keeps_every_member_verbatim():
    with Simulator("demo.json") as s:
        c = s.client()
        inp = {"family": "full", "taskRoleArn": "arn:aws:iam::123456789012:role/t",
               "executionRoleArn": "arn:aws:iam::123456789012:role/e", "networkMode": "awsvpc",
               "containerDefinitions": [{"name": "app", "image": "ghcr.io/o/app:1", "essential": True,
                                         "environment": [{"name": "K", "value": "v\u00e9\"\\n"}],
                                         "linuxParameters": {"initProcessEnabled": True}}],
               "volumes": [{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "transitEncryption": "ENABLED"}}],
               "placementConstraints": [{"type": "memberOf", "expression": "attribute:x == y"}],
               "requiresCompatibilities": ["EC2", "FARGATE"], "cpu": "512", "memory": "1024", "pidMode": "task",
               "ipcMode": "none", "ephemeralStorage": {"sizeInGiB": 30},
               "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
               "proxyConfiguration": {"type": "APPMESH", "containerName": "app", "properties": [{"name": "a", "value": "b"}]},
               "inferenceAccelerators": [{"deviceName": "d", "deviceType": "eia2.medium"}],
               "enableFaultInjection": True, "tags": [{"key": "k", "value": "v"}]}
        out = c.register_task_definition(**inp)
        td = out["taskDefinition"]
        for k, v in inp.items():
            if k != "tags":
                eq(td.get(k), v, "member %s" % k)
        eq(out["tags"], inp["tags"], "tags echoed")
        d = c.describe_task_definition(taskDefinition="full:1", include=["TAGS"])
        eq(d["tags"], inp["tags"], "tags described")
        eq(d["taskDefinition"]["containerDefinitions"], inp["containerDefinitions"], "described containers")
        eq(sorted(td["compatibilities"]), ["EC2", "FARGATE"], "compatibilities")
        eq("tags" in c.describe_task_definition(taskDefinition="full:1"), False, "no tags without include")
        expect_error(lambda: c.register_task_definition(family="bad", containerDefinitions=[{"name": "a", "image": "x"}]),
                     "ClientException", "EC2 container without memory")
        c.deregister_task_definition(taskDefinition="full:1")
        eq(c.describe_task_definition(taskDefinition="full:1")["taskDefinition"]["status"], "INACTIVE", "INACTIVE")
        eq(c.list_task_definitions(familyPrefix="full")["taskDefinitionArns"], [], "ACTIVE list after deregister")
        eq(len(c.list_task_definitions(familyPrefix="full", status="INACTIVE")["taskDefinitionArns"]), 1, "INACTIVE list")
        expect_error(lambda: c.update_service(cluster="demo", service="web", taskDefinition="full:1"),
                     "ClientException", "UpdateService to an INACTIVE revision")


@test
def every_scenario_loads_and_the_runtask_one_behaves():
    sys.path.insert(0, HERE)
    import ecssim
    names = sorted(f for f in os.listdir(SCEN) if f.endswith(".json"))
    check({"demo.json", "hostport.json", "bluegreen.json", "runtask.json", "faults.json"} <= set(names), "scenarios %r" % names)
    for n in names:
        with open(os.path.join(SCEN, n)) as f:
            sc = json.load(f)
        ctx = ecssim.Context(sc)
        for svc in ctx.sim.services.values():
            eq(svc.primary.rollout_state, "COMPLETED", "%s: service %s at start" % (n, svc.name))
    with Simulator("runtask.json") as s:
        c = s.client()
        eq(c.run_task(cluster="jobs", taskDefinition="big")["failures"][0]["reason"], "RESOURCE:MEMORY", "big")
        arn = c.run_task(cluster="jobs", taskDefinition="migrate", startedBy="ecs-deploy")["tasks"][0]["taskArn"]
        t = s.until(lambda: (lambda x: x["lastStatus"] == "STOPPED" and x)(
            c.describe_tasks(cluster="jobs", tasks=[arn])["tasks"][0]), 300, 5, "migration STOPPED")
        eq({x["name"]: x.get("exitCode") for x in t["containers"]}, {"migrate": 0, "log-router": 2}, "exit codes")
        bad = new_revision(c, "migrate", "registry.example.com/acme/migrate:bad")
        arn = c.run_task(cluster="jobs", taskDefinition=bad)["tasks"][0]["taskArn"]
        t = s.until(lambda: (lambda x: x["lastStatus"] == "STOPPED" and x)(
            c.describe_tasks(cluster="jobs", tasks=[arn])["tasks"][0]), 300, 5, "bad pull STOPPED")
        eq(t["stopCode"], "TaskFailedToStart", "pull failure stop code")
        check(all("exitCode" not in x for x in t["containers"]), "no exit code when the image never ran")


# --------------------------------------------------------------------------------------------
# transport: faults, keep-alive, TLS


@test
def fault_throttling_and_server_errors():
    with Simulator("demo.json") as s:
        body = {"cluster": "demo", "services": ["web"]}
        s.ctl("/fault", {"kind": "throttle", "count": 2, "op": "DescribeServices"})
        conn = make_conn(s)
        got = [raw_call(s, "DescribeServices", body, conn=conn) for _ in range(3)]
        eq([g[0] for g in got], [400, 400, 200], "statuses")
        eq(json.loads(got[0][2]), {"__type": "ThrottlingException", "message": "Rate exceeded"}, "throttle body")
        s.ctl("/fault", {"kind": "error", "status": 500, "count": 1})
        s.ctl("/fault", {"kind": "error", "status": 503, "count": 1})
        a = raw_call(s, "DescribeServices", body, conn=conn)
        b = raw_call(s, "DescribeServices", body, conn=conn)
        eq((a[0], json.loads(a[2])["__type"]), (500, "ServerException"), "500")
        eq((b[0], json.loads(b[2])["__type"]), (503, "ServiceUnavailableException"), "503")
        eq(raw_call(s, "DescribeServices", body, conn=conn)[0], 200, "after the faults")
        eq(s.ctl("/state")["transport"]["http"]["connections"], 1, "all on one kept-alive connection")
        # botocore's standard retry rides over a throttling burst
        s.ctl("/fault", {"kind": "throttle", "count": 2})
        r = s.client(retries=3).describe_services(cluster="demo", services=["web"])
        eq(r["ResponseMetadata"]["RetryAttempts"], 2, "retries by botocore")
        calls = s.ctl("/calls?op=DescribeServices")
        eq([x.get("fault") for x in calls[-3:]], ["throttle", "throttle", None], "calls log the faults")


@test
def fault_reset_truncate_slow_chunked_close():
    with Simulator("demo.json") as s:
        body = {"cluster": "demo", "services": ["web"]}
        for tls in (False, True):
            for kind in ("reset", "truncate", "reset_before"):
                s.ctl("/fault", {"kind": kind, "count": 1})
                conn = make_conn(s, tls=tls)
                try:
                    st, h, b = raw_call(s, "DescribeServices", body, conn=conn, tls=tls)
                    raise Fail("%s (tls %s): a whole answer arrived (%d, %d bytes)" % (kind, tls, st, len(b)))
                except (ConnectionResetError, http.client.IncompleteRead, http.client.RemoteDisconnected,
                        ConnectionAbortedError, BrokenPipeError, ssl.SSLError):
                    pass
                conn.close()
        calls = s.ctl("/calls")
        eq([c.get("fault") for c in calls], ["reset", "truncate", "reset_before"] * 2, "faults logged")
        eq([c["status"] for c in calls[:2]], [200, 200], "reset/truncate happen after the work is done")
        s.ctl("/calls", method="DELETE")
        s.ctl("/fault", {"kind": "slow", "seconds": 1.0, "count": 1})
        t0 = time.monotonic()
        st, h, b = raw_call(s, "DescribeServices", body)
        check(time.monotonic() - t0 >= 0.9 and st == 200, "slow answer")
        s.ctl("/fault", {"kind": "slow", "seconds": 1.0, "count": 1, "where": "body"})
        t0 = time.monotonic()
        st, h, b = raw_call(s, "DescribeServices", body)
        check(time.monotonic() - t0 >= 0.9 and json.loads(b)["services"], "stall mid-body")
        s.ctl("/fault", {"kind": "chunked", "count": 1, "chunk_size": 10})
        conn = make_conn(s)
        st, h, b = raw_call(s, "DescribeServices", body, conn=conn)
        eq((st, h.get("transfer-encoding"), "content-length" in h), (200, "chunked", False), "chunked headers")
        eq(json.loads(b)["services"][0]["serviceName"], "web", "chunked body")
        eq(raw_call(s, "DescribeServices", body, conn=conn)[0], 200, "connection kept after chunked")
        s.ctl("/fault", {"kind": "close", "count": 1})
        before = s.ctl("/state")["transport"]["http"]["connections"]
        st, h, b = raw_call(s, "DescribeServices", body, conn=conn)
        eq((st, h.get("connection")), (200, "close"), "Connection: close")
        check(conn.sock is None, "http.client saw the close")
        raw_call(s, "DescribeServices", body, conn=conn)
        eq(s.ctl("/state")["transport"]["http"]["connections"], before + 1, "a new connection after close")
        conn.close()


@test
def tls_handshakes_counted_and_keepalive():
    with Simulator("demo.json") as s:
        body = {"cluster": "demo", "services": ["web"]}
        conn = make_conn(s, tls=True)
        for _ in range(3):
            eq(raw_call(s, "DescribeServices", body, conn=conn, tls=True)[0], 200, "HTTPS call")
        tr = s.ctl("/state")["transport"]["https"]
        eq((tr["connections"], tr["handshakes"]), (1, 1), "one handshake for three calls")
        conn.close()
        conn = make_conn(s, tls=True)
        raw_call(s, "DescribeServices", body, conn=conn, tls=True)
        conn.close()
        eq(s.ctl("/state")["transport"]["https"]["handshakes"], 2, "second connection")
        # a client that does not trust the CA fails the handshake, and it is counted
        u = s.urls["ecs"].split("//", 1)[1]
        host, port = u.rsplit(":", 1)
        bad = http.client.HTTPSConnection(host, int(port), context=ssl.create_default_context(), timeout=10)
        try:
            bad.request("GET", "/")
            raise Fail("untrusted CA accepted")
        except ssl.SSLError:
            pass
        bad.close()
        deadline = time.monotonic() + 5
        while s.ctl("/state")["transport"]["https"]["handshake_failures"] < 1:
            check(time.monotonic() < deadline, "failed handshake not counted")
            time.sleep(0.1)
        # hostname verification: the certificate is for localhost, 127.0.0.1 and ::1
        ctx = ssl.create_default_context(cafile=s.urls["ca"])
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                eq(tls.version() in ("TLSv1.2", "TLSv1.3"), True, "TLS version")


@test
def concurrent_clients_while_the_clock_runs():
    with Simulator("demo.json", ["--speed", "600"]) as s:
        s.ctl("/clock", {"pause": False})
        c = s.client(tls=True)
        arn = new_revision(c, "web", "registry.example.com/acme/web:2.0")
        c.update_service(cluster="demo", service="web", taskDefinition=arn)
        errors = []

        def worker(n):
            cl = s.client(tls=bool(n % 2))
            try:
                for _ in range(15):
                    sv = service(cl, "demo", "web")
                    arns = cl.list_tasks(cluster="demo", serviceName="web")["taskArns"]
                    if arns:
                        cl.describe_tasks(cluster="demo", tasks=arns)
                    check(sv["deployments"], "no deployments")
            except Exception as e:  # collected, reported below
                errors.append("%s: %s" % (type(e).__name__, e))
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            list(ex.map(worker, range(8)))
        eq(errors, [], "errors under concurrency")
        deadline = time.monotonic() + 30
        while service(c, "demo", "web")["deployments"][0]["rolloutState"] != "COMPLETED":
            check(time.monotonic() < deadline, "rollout did not complete in real time at 600x")
            time.sleep(0.2)
        eq(s.ctl("/state")["problems"], [], "problems")


@test
def broken_certificates_on_request():
    for name, why in (("expired", "expired"), ("wronghost", "match"), ("selfsigned", "self"), ("unknownca", "issuer")):
        with Simulator("demo.json", ["--tls-cert", name]) as s:
            host, port = host_port(s.urls["ecs"])
            ctx = ssl.create_default_context(cafile=s.urls["ca"])
            try:
                with socket.create_connection((host, port), timeout=10) as raw:
                    with ctx.wrap_socket(raw, server_hostname="localhost"):
                        pass
                raise Fail("%s: the handshake succeeded" % name)
            except ssl.SSLCertVerificationError as e:
                check(why in str(e), "%s: %s" % (name, e))
            deadline = time.monotonic() + 5
            while s.ctl("/state")["transport"]["https"]["handshake_failures"] < 1:
                check(time.monotonic() < deadline, "%s: failed handshake not counted" % name)
                time.sleep(0.1)


@test
def mkpki_certificates():
    d = tempfile.mkdtemp(prefix="mkpki-test-")
    try:
        script = os.path.join(HERE, "..", "lib", "mkpki.sh")
        subprocess.run(["sh", script, d], check=True, timeout=60)
        stamp = os.path.getmtime(os.path.join(d, "server.pem"))
        subprocess.run(["sh", script, d], check=True, timeout=60)
        eq(os.path.getmtime(os.path.join(d, "server.pem")), stamp, "second run changed nothing")

        def verify(cert, *extra):
            p = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, "ca.pem")] + list(extra) +
                               [os.path.join(d, cert)], capture_output=True, text=True, timeout=30)
            return p.returncode == 0, p.stdout + p.stderr
        eq(verify("server.pem", "-verify_hostname", "localhost")[0], True, "server.pem for localhost")
        eq(verify("server.pem", "-verify_ip", "127.0.0.1")[0], True, "server.pem for 127.0.0.1")
        eq(verify("server.pem", "-verify_ip", "::1")[0], True, "server.pem for ::1")
        ok, why = verify("wronghost.pem", "-verify_hostname", "localhost")
        check(not ok and "mismatch" in why, "wronghost: %s" % why)
        ok, why = verify("expired.pem")
        check(not ok and "expired" in why, "expired: %s" % why)
        ok, why = verify("selfsigned.pem")
        check(not ok, "selfsigned verified")
        ok, why = verify("unknownca.pem")
        check(not ok, "unknownca verified")
        p = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(d, "otherca.pem"),
                            os.path.join(d, "unknownca.pem")], capture_output=True, timeout=30)
        eq(p.returncode, 0, "unknownca is signed by otherca")
        txt = subprocess.run(["openssl", "x509", "-in", os.path.join(d, "ca.pem"), "-noout", "-text"],
                             capture_output=True, text=True, timeout=30).stdout
        check("CA:TRUE" in txt and "Certificate Sign" in txt, "CA extensions")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------


def main():
    only = None
    if len(sys.argv) > 2 and sys.argv[1] == "-k":
        only = sys.argv[2]
    failed = 0
    t_all = time.monotonic()
    for fn in TESTS:
        if only and only not in fn.__name__:
            continue
        t0 = time.monotonic()
        try:
            fn()
            print("PASS: %s" % fn.__name__, flush=True)
        except Fail as e:
            failed += 1
            print("FAIL: %s: %s" % (fn.__name__, e), flush=True)
        except Exception as e:
            failed += 1
            tb = traceback.format_exc().strip().splitlines()
            print("FAIL: %s: %s: %s [%s]" % (fn.__name__, type(e).__name__, e, tb[-3].strip() if len(tb) > 2 else ""),
                  flush=True)
        sys.stderr.write("  (%s: %.1fs)\n" % (fn.__name__, time.monotonic() - t0))
    sys.stderr.write("test_sim: %.1fs\n" % (time.monotonic() - t_all))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
