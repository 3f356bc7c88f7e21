#!/usr/bin/env python3
"""End-to-end tests of the deploy engine: the real static binary ($ECSDEPLOY_BIN, default
./ecs-deploy) against the ECS simulator (tests/sim) over TLS with the test CA.

    python3 tests/e2e/test_e2e.py [-k SUBSTRING]

One simulator process serves the whole run; each test loads its own scenario through the
control endpoint (the world, calls and counters start afresh) and then runs ecs-deploy as a
CI job would: credentials in the environment, --endpoint-url and --ca-bundle. Assertions look at
the exit code, the log lines and the simulator's state and call log (what was really
registered, which calls were made). One line per test: `PASS: name` / `FAIL: name: why`.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SIM = os.path.join(TOP, "tests", "sim", "ecssim.py")
SCEN = os.path.join(TOP, "tests", "sim", "scenarios")
BIN = os.environ.get("ECSDEPLOY_BIN") or os.path.join(TOP, "ecs-deploy")
AKID = "AKIDSIMULATOR0000001"
SECRET = "simulator/secret/key/0000000000000000001"
ARN = "arn:aws:ecs:us-east-1:123456789012"
SHA = "sha256:" + "ab" * 32

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Fail(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Fail(why)


class Sim:
    """The simulator process and its control endpoint."""

    def __init__(self):
        self.p = subprocess.Popen([sys.executable, SIM, "--scenario", os.path.join(SCEN, "demo.json")],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("the simulator did not start")
        info = json.loads(line)
        # The certificate names localhost; our client checks DNS names.
        self.ecs = info["ecs"].replace("127.0.0.1", "localhost")
        self.ca = info["ca"]
        self.control = info["control"]

    def req(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        r = urllib.request.Request(self.control + path, data=data, method=method,
                                   headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(r, timeout=30) as f:
            return json.loads(f.read() or b"null")

    def load(self, scenario, speed=60):
        if isinstance(scenario, str):
            scenario = json.load(open(os.path.join(SCEN, scenario)))
        self.req("POST", "/scenario", {"scenario": scenario})
        self.req("POST", "/clock", {"speed": speed, "pause": False})

    def state(self):
        return self.req("GET", "/state")

    def calls(self, op=None):
        return self.req("GET", "/calls" + ("?op=" + op if op else ""))

    def stop(self):
        self.p.kill()
        self.p.wait()


SIMU = None


def run(args, env=None, timeout=120, endpoint=True):
    """Runs ecs-deploy with args; returns (exit code, stdout, stderr)."""
    e = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
         "AWS_REGION": "us-east-1"}
    if env:
        e.update(env)
    e = {k: v for k, v in e.items() if v is not None}
    cmd = [BIN] + list(args)
    if endpoint:
        cmd += ["--endpoint-url", SIMU.ecs, "--ca-bundle", SIMU.ca]
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def expect(rc, want, out, err):
    check(rc == want, "exit %d, want %d\nstdout:\n%s\nstderr:\n%s" % (rc, want, out[-3000:], err[-2000:]))


def in_order(out, lines):
    at = 0
    for l in lines:
        i = out.find(l, at)
        if i < 0:
            return False
        at = i + len(l)
    return True


def demo():
    return json.load(open(os.path.join(SCEN, "demo.json")))


def td_of(state, arn):
    for t in state["taskDefinitions"]:
        if t.get("taskDefinitionArn") == arn:
            return t
    raise Fail("no task definition %s in the simulator" % arn)


def service(state, name):
    for s in state["services"]:
        if s["serviceName"] == name:
            return s
    raise Fail("no service %s" % name)


FAST = ["--poll-interval", "0.25"]

# ---- service deployment ----------------------------------------------------------------------


@test
def rolling_deploy_succeeds_with_the_shell_tools_log_lines():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "60"])
    expect(rc, 0, out, err)
    check(in_order(out, ["Using image name: registry.example.com/acme/web:2.0\n",
                         "Current task definition: %s:task-definition/web:1\n" % ARN,
                         "Container web: registry.example.com/acme/web:1.0 -> registry.example.com/acme/web:2.0\n",
                         "New task definition: %s:task-definition/web:2\n" % ARN,
                         "Service updated successfully, new task definition running.\n",
                         "Waiting for service deployment to complete...\n",
                         "Service deployment successful.\n"]), out)
    st = SIMU.state()
    svc = service(st, "web")
    check(svc["taskDefinition"].endswith("web:2"), svc["taskDefinition"])
    deps = svc["deployments"]
    check(len(deps) == 1 and deps[0]["rolloutState"] == "COMPLETED", deps)
    running = [t for t in st["tasks"] if t["lastStatus"] == "RUNNING"]
    check(len(running) == 2 and all(t["taskDefinitionArn"].endswith("web:2") for t in running), running)
    ops = [c["op"] for c in SIMU.calls()]
    check(ops[:4] == ["DescribeServices", "DescribeTaskDefinition", "RegisterTaskDefinition", "UpdateService"], ops)
    check(ops.count("RegisterTaskDefinition") == 1 and ops.count("UpdateService") == 1, ops)


@test
def registered_definition_keeps_every_field_the_shell_tool_dropped():
    sc = demo()
    base = sc["task_definitions"][0]
    base.update({
        "cpu": "512", "memory": "1024", "requiresCompatibilities": ["EC2"], "pidMode": "task",
        "ipcMode": "task", "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "proxyConfiguration": {"type": "APPMESH", "containerName": "web",
                               "properties": [{"name": "IgnoredUID", "value": "1337"}]},
        "volumes": [{"name": "data", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": True,
                                                                   "driver": "local"}},
                    {"name": "scratch", "host": {"sourcePath": "/tmp"}}],
        "placementConstraints": [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}],
        "enableFaultInjection": True,
    })
    base["containerDefinitions"][0]["environment"] = [{"name": "GREETING", "value": "h\u00e9llo \"q\" \\ \n"}]
    base["containerDefinitions"][0]["dockerLabels"] = {"a.b": "1"}
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    st = SIMU.state()
    old, new = td_of(st, ARN + ":task-definition/web:1"), td_of(st, ARN + ":task-definition/web:2")
    drop = {"taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities",
            "registeredAt", "registeredBy", "tags"}
    a = {k: v for k, v in old.items() if k not in drop}
    b = {k: v for k, v in new.items() if k not in drop}
    a = copy.deepcopy(a)
    a["containerDefinitions"][0]["image"] = "registry.example.com/acme/web:2.0"
    check(a == b, "registered %s\nbase      %s" % (json.dumps(b, sort_keys=True), json.dumps(a, sort_keys=True)))
    body = json.loads(SIMU.calls("RegisterTaskDefinition")[0]["body"])
    check("tags" not in body, "no tags without --copy-task-definition-tags")


@test
def copy_task_definition_tags():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0",
                        "--copy-task-definition-tags", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    d = json.loads(SIMU.calls("DescribeTaskDefinition")[0]["body"])
    check(d.get("include") == ["TAGS"], d)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:2")
    check(new.get("tags") == [{"key": "team", "value": "acme"}], new.get("tags"))


@test
def similar_image_names_never_match_by_prefix():
    sc = demo()
    td = sc["task_definitions"][0]
    td["containerDefinitions"].append({"name": "web-two", "image": "registry.example.com/acme/web-two:1.0",
                                       "essential": False, "memory": 64})
    td["containerDefinitions"].append({"name": "other", "image": "registry.example.com/acme/web/extra:1.0",
                                       "essential": False, "memory": 64})
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:2")
    imgs = {c["name"]: c["image"] for c in new["containerDefinitions"]}
    check(imgs == {"web": "registry.example.com/acme/web:2.0", "web-two": "registry.example.com/acme/web-two:1.0",
                   "other": "registry.example.com/acme/web/extra:1.0"}, imgs)


@test
def untagged_and_digest_pinned_current_images_match():
    sc = demo()
    td = sc["task_definitions"][0]
    td["containerDefinitions"][0]["image"] = "registry.example.com/acme/web"
    td["containerDefinitions"].append({"name": "pinned", "image": "registry.example.com/acme/web@" + SHA,
                                       "essential": False, "memory": 64})
    td["containerDefinitions"].append({"name": "hub", "image": "nginx", "essential": False, "memory": 64})
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:3", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:2")
    imgs = {c["name"]: c["image"] for c in new["containerDefinitions"]}
    check(imgs == {"web": "registry.example.com/acme/web:3", "pinned": "registry.example.com/acme/web:3",
                   "hub": "nginx"}, imgs)
    check("Container pinned: registry.example.com/acme/web@%s -> registry.example.com/acme/web:3\n" % SHA in out, out)
    # Docker Hub normalisation: docker.io/library/nginx is nginx
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "docker.io/library/nginx:1.27", "--skip-deployments-check",
                        "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:2")
    check({c["name"]: c["image"] for c in new["containerDefinitions"]}["hub"] == "docker.io/library/nginx:1.27", new)


@test
def cross_registry_without_container_image_is_exit_14():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "ghcr.io/acme/web:2.0", "-t", "60"] + FAST)
    expect(rc, 14, out, err)
    check("container web: registry.example.com/acme/web:1.0" in out, out)
    check("--container-image" in out, out)
    ops = [c["op"] for c in SIMU.calls()]
    check("RegisterTaskDefinition" not in ops and "UpdateService" not in ops, ops)
    # ... and --container-image deploys it
    rc, out, err = run(["-c", "demo", "-n", "web", "--container-image", "web=ghcr.io/acme/web:2.0", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:2")
    check(new["containerDefinitions"][0]["image"] == "ghcr.io/acme/web:2.0", new)


@test
def allow_no_match_registers_anyway():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "ghcr.io/acme/web:2.0", "--allow-no-match", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check(len(SIMU.calls("RegisterTaskDefinition")) == 1, "registered")


@test
def tag_env_var_and_tag_only():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web", "-e", "BUILD_TAG",
                        "-t", "60"] + FAST, env={"BUILD_TAG": "b42"})
    expect(rc, 0, out, err)
    check("Using image name: registry.example.com/acme/web:b42\n" in out, out)
    sc = demo()
    sc["task_definitions"][0]["containerDefinitions"][0]["image"] = "localhost:5000/acme/web:1.0"
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "ignore", "-to", "v9", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:2")
    check(new["containerDefinitions"][0]["image"] == "localhost:5000/acme/web:v9", new)


@test
def circuit_breaker_rollback_is_reported_as_failure_15():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:bad", "-t", "60",
                        "--enable-rollback"] + FAST)
    expect(rc, 15, out, err)
    check("Service deployment successful" not in out, out)
    check("ECS rolled the service back to %s:task-definition/web:1" % ARN in err, err)
    check("Rolling back to" not in out, "no second rollback: " + out)
    check("CannotPullContainerError" in out, "stopped tasks' reasons printed: " + out)
    check(len(SIMU.calls("StopServiceDeployment")) == 0, "no StopServiceDeployment")


@test
def crashing_tasks_print_exit_codes():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:crash", "-t", "60"] + FAST)
    expect(rc, 15, out, err)
    check("container web: exit code 1" in out, out)


@test
def timeout_without_rollback_is_exit_1():
    SIMU.load("hostport.json")
    t0 = time.monotonic()
    rc, out, err = run(["-c", "prod", "-n", "api", "-i", "registry.example.com/acme/api:2.0", "-t", "3"])
    took = time.monotonic() - t0
    expect(rc, 1, out, err)
    check("ERROR: New task definition not running within 3 seconds\n" in out, out)
    check("unable to place a task" in out and "hint:" in out, "placement event and advice: " + out)
    check(took < 6, "wall-clock deadline: took %.1f s" % took)


def sick_demo():
    """demo.json where :sick tasks run but never pass their health check (no circuit breaker)."""
    sc = demo()
    sc["images"]["registry.example.com/acme/web:sick"] = "unhealthy"
    sc["services"][0]["deploymentConfiguration"]["deploymentCircuitBreaker"] = {"enable": False, "rollback": False}
    return sc


@test
def timeout_with_rollback_waits_for_the_rollback_exit_18():
    SIMU.load(sick_demo())
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:sick", "-t", "3",
                        "--enable-rollback"] + FAST)
    expect(rc, 18, out, err)
    check(in_order(out, ["ERROR: New task definition not running within 3 seconds\n",
                         "Rolling back to %s:task-definition/web:1\n" % ARN,
                         "Rollback to %s:task-definition/web:1 completed.\n" % ARN]), out)
    sd = SIMU.calls("StopServiceDeployment")
    check(len(sd) == 1 and json.loads(sd[0]["body"])["stopType"] == "ROLLBACK", sd)
    st = SIMU.state()
    svc = service(st, "web")
    check(svc["taskDefinition"].endswith("web:1"), svc["taskDefinition"])
    live = [t for t in st["tasks"] if t["lastStatus"] != "STOPPED"]
    check(all(t["taskDefinitionArn"].endswith("web:1") for t in live) and len(live) == 2, live)


@test
def rollback_falls_back_to_update_service():
    SIMU.load(sick_demo())
    SIMU.req("POST", "/fault", {"kind": "error", "op": "StopServiceDeployment", "status": 400, "count": -1,
                                "body": "{\"__type\":\"UnknownOperationException\",\"message\":\"unknown\"}",
                                "content_type": "application/x-amz-json-1.1"})
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:sick", "-t", "3",
                        "--enable-rollback"] + FAST)
    expect(rc, 18, out, err)
    ups = SIMU.calls("UpdateService")
    check(len(ups) == 2 and json.loads(ups[1]["body"])["taskDefinition"].endswith("web:1"), ups)


@test
def rollback_that_cannot_complete_is_exit_2():
    # the host-port trap: the previous revision cannot be placed again either
    SIMU.load("hostport.json")
    rc, out, err = run(["-c", "prod", "-n", "api", "-i", "registry.example.com/acme/api:2.0", "-t", "2",
                        "--enable-rollback"] + FAST)
    expect(rc, 2, out, err)
    check("Rolling back to %s:task-definition/api:1\n" % ARN in out, out)
    check("did not complete" in err, err)


@test
def superseded_by_another_deployment_is_16():
    sc = demo()
    sc["actions"] = [{"do": "update_service", "cluster": "demo", "service": "web",
                      "image": "registry.example.com/acme/web:3.0", "after_call": {"op": "UpdateService", "count": 1},
                      "delay": 3}]
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "60",
                        "--enable-rollback"] + FAST)
    expect(rc, 16, out, err)
    check("superseded" in err, err)
    check("Rolling back" not in out, out)


@test
def more_than_100_tasks():
    sc = demo()
    sc["clusters"][0]["instances"] = [{"count": 40, "cpu": 4096, "memory": 16000}]
    sc["task_definitions"][0]["containerDefinitions"][0]["memory"] = 64
    sc["task_definitions"][0]["containerDefinitions"][0]["cpu"] = 16
    sc["services"][0]["desiredCount"] = 150
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "90"] + FAST)
    expect(rc, 0, out, err)
    lists = [json.loads(c["body"]) for c in SIMU.calls("ListTasks")]
    check(any(l.get("nextToken") for l in lists), "ListTasks pages: %s" % lists[:3])
    descs = [len(json.loads(c["body"])["tasks"]) for c in SIMU.calls("DescribeTasks")]
    check(max(descs) == 100 and all(n <= 100 for n in descs), descs)


@test
def desired_count_zero_skips_phase_1():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-D", "0",
                        "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check("Skipping check for running task definition, as desired-count <= 0\n" in out, out)
    check(service(SIMU.state(), "web")["desiredCount"] == 0, "scaled to 0")


@test
def min_max_merge_keeps_the_circuit_breaker():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-m", "50", "-M", "150",
                        "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    body = json.loads(SIMU.calls("UpdateService")[0]["body"])
    dc = body["deploymentConfiguration"]
    check(dc["minimumHealthyPercent"] == 50 and dc["maximumPercent"] == 150, dc)
    check(dc["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}, dc)


@test
def skip_deployments_check():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0",
                        "--skip-deployments-check", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check("Service updated successfully, new task definition running." in out, out)
    check("Waiting for service deployment" not in out, out)


@test
def force_new_deployment_with_and_without_image():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "--force-new-deployment", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check("Force a new deployment of the service\n" in out, out)
    body = json.loads(SIMU.calls("UpdateService")[0]["body"])
    check(body.get("forceNewDeployment") is True and "taskDefinition" not in body, body)
    check(len(SIMU.calls("RegisterTaskDefinition")) == 0, "nothing registered")
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0",
                        "--force-new-deployment", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    body = json.loads(SIMU.calls("UpdateService")[0]["body"])
    check(body.get("forceNewDeployment") is True and body["taskDefinition"].endswith("web:2"), body)


@test
def use_latest_task_def():
    sc = demo()
    newer = copy.deepcopy(sc["task_definitions"][0])
    newer["containerDefinitions"][0]["environment"] = [{"name": "FROM", "value": "latest"}]
    sc["task_definitions"].append(newer)
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "--use-latest-task-def",
                        "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check("Current task definition: %s:task-definition/web:2\n" % ARN in out, out)
    new = td_of(SIMU.state(), ARN + ":task-definition/web:3")
    check(new["containerDefinitions"][0].get("environment") == [{"name": "FROM", "value": "latest"}], new)


@test
def max_definitions_touches_only_this_family():
    sc = demo()
    base = sc["task_definitions"][0]
    for fam in ("web", "web", "web-worker", "web-worker", "web"):
        t = copy.deepcopy(base)
        t["family"] = fam
        sc["task_definitions"].append(t)
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "--max-definitions", "2",
                        "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    st = SIMU.state()
    active = sorted(t["taskDefinitionArn"].split("/")[-1] for t in st["taskDefinitions"] if t["status"] == "ACTIVE")
    # web:1 is in use as the rollback target? no: web:1 was the previous revision -> kept; web:5 is the new one
    check("web-worker:1" in active and "web-worker:2" in active, active)
    check([a for a in active if a.startswith("web:")] == ["web:1", "web:5"], active)
    check(out.count("Deregistering outdated task revision: ") == 3, out)
    lst = json.loads(SIMU.calls("ListTaskDefinitions")[0]["body"])
    check(lst == {"familyPrefix": "web", "status": "ACTIVE", "sort": "ASC"}, lst)


@test
def max_definitions_reads_every_page():
    sc = demo()
    base = sc["task_definitions"][0]
    for _ in range(120):
        sc["task_definitions"].append(copy.deepcopy(base))
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "--max-definitions", "3",
                        "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check(len(SIMU.calls("ListTaskDefinitions")) >= 2, "paged")
    active = [t for t in SIMU.state()["taskDefinitions"] if t["status"] == "ACTIVE"]
    check(len(active) == 3, [t["taskDefinitionArn"] for t in active])


@test
def deploy_survives_a_flaky_network():
    # throttled DescribeServices, UpdateService answer reset after the work was done, a truncated
    # ListTasks answer, chunked DescribeTasks answers
    SIMU.load("faults.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check(len(SIMU.calls("RegisterTaskDefinition")) == 1, "registered once")
    svc = service(SIMU.state(), "web")
    check(svc["taskDefinition"].endswith("web:2") and len(svc["deployments"]) == 1, svc["deployments"])


@test
def code_deploy_controller_is_exit_21():
    sc = demo()
    sc["services"][0]["deploymentController"] = {"type": "CODE_DEPLOY"}
    SIMU.load(sc)
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0"] + FAST)
    expect(rc, 21, out, err)
    check("CODE_DEPLOY" in err and "not support" in err, err)


@test
def missing_service_is_exit_21():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "nope", "-i", "registry.example.com/acme/web:2.0"] + FAST)
    expect(rc, 21, out, err)
    check("service nope not found in cluster demo" in err, err)


@test
def blue_green_follows_lifecycle_stages():
    SIMU.load("bluegreen.json", speed=60)
    rc, out, err = run(["-c", "shop", "-n", "shop", "-i", "registry.example.com/acme/shop:2.0", "-t", "60"] + FAST)
    expect(rc, 0, out, err)
    check(service(SIMU.state(), "shop")["taskDefinition"].endswith("shop:2"), "deployed")
    check(in_order(out, ["lifecycle stage ", "lifecycle stage BAKE_TIME (2 minutes)\n",
                         "lifecycle stage CLEAN_UP\n", "Service deployment successful.\n"]), out)
    check(len(SIMU.calls("DescribeServiceDeployments")) > 0, "followed the service deployment")


def bluegreen():
    return json.load(open(os.path.join(SCEN, "bluegreen.json")))


@test
def blue_green_alarm_rollback_is_15():
    SIMU.load("bluegreen.json", speed=240)
    sc = bluegreen()
    sc["actions"] = [{"do": "alarm", "name": "shop-5xx", "state": "ALARM",
                      "after_call": {"op": "UpdateService", "count": 1}, "delay": 60}]
    SIMU.load(sc, speed=240)
    rc, out, err = run(["-c", "shop", "-n", "shop", "-i", "registry.example.com/acme/shop:2.0", "-t", "60",
                        "--enable-rollback"] + FAST)
    expect(rc, 15, out, err)
    check("rolled back by ECS" in err or "ECS rolled the service back to %s:task-definition/shop:1" % ARN in err, err)
    check("Rolling back to" not in out, out)


@test
def canary_and_linear_deploy():
    for strategy, extra in (("CANARY", {"canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1}}),
                            ("LINEAR", {"linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 1}})):
        sc = bluegreen()
        dc = sc["services"][0]["deploymentConfiguration"]
        dc.update(extra, strategy=strategy, bakeTimeInMinutes=0)
        SIMU.load(sc, speed=120)
        rc, out, err = run(["-c", "shop", "-n", "shop", "-i", "registry.example.com/acme/shop:2.0", "-t", "60"] + FAST)
        expect(rc, 0, out, err)
        check("lifecycle stage PRODUCTION_TRAFFIC_SHIFT\n" in out, (strategy, out))
        check(service(SIMU.state(), "shop")["taskDefinition"].endswith("shop:2"), strategy)


@test
def blue_green_pause_hook_is_17():
    sc = bluegreen()
    dc = sc["services"][0]["deploymentConfiguration"]
    dc["bakeTimeInMinutes"] = 0
    dc["lifecycleHooks"] = [{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]
    SIMU.load(sc, speed=240)
    rc, out, err = run(["-c", "shop", "-n", "shop", "-i", "registry.example.com/acme/shop:2.0", "-t", "60"] + FAST)
    expect(rc, 17, out, err)
    check("paused in lifecycle stage POST_TEST_TRAFFIC_SHIFT" in err, err)

# ---- task-definition mode, run-task, render, dry-run ---------------------------------------------


@test
def taskdef_mode_registers_only():
    SIMU.load("demo.json")
    rc, out, err = run(["-d", "web", "-i", "registry.example.com/acme/web:2.0"])
    expect(rc, 0, out, err)
    check(in_order(out, ["Current task definition: %s:task-definition/web:1\n" % ARN,
                         "New task definition: %s:task-definition/web:2\n" % ARN,
                         "Task definition updated successfully\n"]), out)
    ops = [c["op"] for c in SIMU.calls()]
    check(ops == ["DescribeTaskDefinition", "RegisterTaskDefinition"], ops)


@test
def run_task_wait_for_success():
    SIMU.load("runtask.json")
    rc, out, err = run(["-c", "jobs", "-d", "migrate", "-i", "registry.example.com/acme/migrate:ok", "--run-task",
                        "--wait-for-success", "-t", "30"] + FAST)
    # the sidecar log-router exits 2 (its image is fluentbit:broken): a sidecar's failure is a failure
    expect(rc, 19, out, err)
    check("container log-router: exit code 2" in out, out)
    check("Run task: %s:task-definition/migrate:2\n" % ARN in out and "Executed task: " in out, out)


@test
def run_task_success_when_every_container_exits_0():
    SIMU.load("runtask.json")
    rc, out, err = run(["-c", "jobs", "-d", "migrate", "-i", "registry.example.com/acme/migrate:ok",
                        "--container-image", "log-router=registry.example.com/acme/fluentbit:ok",
                        "--run-task", "--wait-for-success", "-t", "30"] + FAST)
    expect(rc, 0, out, err)
    check(" executed successfully!\n" in out and "Task definition updated successfully\n" in out, out)
    body = json.loads(SIMU.calls("RunTask")[0]["body"])
    check(body["startedBy"] == "ecs-deploy" and body["taskDefinition"].endswith("migrate:2"), body)


@test
def run_task_failing_container_is_19():
    SIMU.load("runtask.json")
    rc, out, err = run(["-c", "jobs", "-d", "migrate", "-i", "registry.example.com/acme/migrate:fail",
                        "--container-image", "log-router=registry.example.com/acme/fluentbit:ok",
                        "--run-task", "--wait-for-success", "-t", "30"] + FAST)
    expect(rc, 19, out, err)
    check("container migrate: exit code 3" in out, out)


@test
def run_task_failures_are_19():
    SIMU.load("runtask.json")
    rc, out, err = run(["-c", "jobs", "-d", "big", "-i", "registry.example.com/acme/big:2", "--run-task"] + FAST)
    expect(rc, 19, out, err)
    check("RESOURCE:MEMORY" in err, err)


@test
def run_task_timeout_is_1():
    SIMU.load("runtask.json", speed=1)
    rc, out, err = run(["-c", "jobs", "-d", "migrate", "-i", "registry.example.com/acme/migrate:ok", "--run-task",
                        "--wait-for-success", "-t", "2"] + FAST)
    expect(rc, 1, out, err)
    check("ERROR: New task run took longer than 2 seconds\n" in out, out)


@test
def render_with_file_needs_no_network_and_no_credentials():
    d = tempfile.mkdtemp()
    shapes = {
        "describe.json": {"taskDefinition": {"taskDefinitionArn": "x", "revision": 3, "family": "app",
                                             "containerDefinitions": [{"name": "a", "image": "nginx:1"}]},
                          "tags": [{"key": "k", "value": "v"}]},
        "plain.json": {"family": "app", "status": "ACTIVE", "containerDefinitions": [{"name": "a", "image": "nginx:1"}]},
        "register.json": {"containerDefinitions": [{"image": "nginx:1", "name": "a"}], "family": "app"},
    }
    for name, js in shapes.items():
        path = os.path.join(d, name)
        with open(path, "w") as f:
            json.dump(js, f, indent=2)
        rc, out, err = run(["-d", "app", "-i", "nginx:1.27", "--task-definition-file", path, "--render"],
                           env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_REGION": None},
                           endpoint=False)
        expect(rc, 0, out, err)
        body = json.loads(out)
        check(body["containerDefinitions"][0]["image"] == "nginx:1.27" and body["family"] == "app"
              and "revision" not in body and "status" not in body and "tags" not in body, (name, body))
    bad = os.path.join(d, "bad.json")
    with open(bad, "w") as f:
        f.write('{"family": "app",\n "containerDefinitions": [}')
    rc, out, err = run(["-d", "app", "-i", "nginx", "--task-definition-file", bad, "--render"], endpoint=False)
    expect(rc, 3, out, err)
    check(bad in err and "byte" in err, err)


@test
def dry_run_makes_only_read_calls():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "--dry-run"])
    expect(rc, 0, out, err)
    ops = [c["op"] for c in SIMU.calls()]
    check(all(o.startswith("Describe") or o.startswith("List") for o in ops), ops)
    check("Dry run: would register" in out and "registry.example.com/acme/web:2.0" in out, out)


@test
def render_in_service_mode_prints_only_the_body():
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "--render"])
    expect(rc, 0, out, err)
    body = json.loads(out)
    check(body["containerDefinitions"][0]["image"] == "registry.example.com/acme/web:2.0", body)
    check([c["op"] for c in SIMU.calls()] == ["DescribeServices", "DescribeTaskDefinition"], "read-only")

# ---- outputs -----------------------------------------------------------------------------------


@test
def json_output_and_github_actions_outputs():
    SIMU.load("demo.json")
    d = tempfile.mkdtemp()
    go, gs = os.path.join(d, "out"), os.path.join(d, "summary")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "--output", "json",
                        "-t", "60"] + FAST, env={"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": go, "GITHUB_STEP_SUMMARY": gs})
    expect(rc, 0, out, err)
    summary = json.loads(out)
    check(summary["status"] == "deployed" and summary["taskDefinitionArn"].endswith("web:2")
          and summary["deploymentId"].startswith("ecs-svc/"), summary)
    lines = open(go).read().splitlines()
    check(lines[0] == "task-definition-arn=%s:task-definition/web:2" % ARN and lines[1].startswith("deployment-id=ecs-svc/")
          and lines[2] == "status=deployed", lines)
    check("ecs-deploy: deployed" in open(gs).read(), "summary")
    SIMU.load("demo.json")
    rc, out, err = run(["-c", "demo", "-n", "web", "-i", "ghcr.io/x/y:1"], env={"GITHUB_ACTIONS": "true",
                                                                                "GITHUB_OUTPUT": go})
    expect(rc, 14, out, err)
    check("::error::" in out, out)


@test
def secrets_never_printed():
    SIMU.load("demo.json")
    sc = demo()
    sc["task_definitions"][0]["containerDefinitions"][0]["environment"] = [{"name": "DB_PASSWORD", "value": "hunter2-SECRET-VALUE"}]
    SIMU.load(sc)
    for extra in ([], ["-v"], ["--dry-run"], ["--output", "json"]):
        rc, out, err = run(["-c", "demo", "-n", "web", "-i", "registry.example.com/acme/web:2.0", "-t", "60"] + FAST + extra)
        for s in (SECRET, "hunter2-SECRET-VALUE"):
            check(s not in out and s not in err, "secret %s printed with %s" % (s[:6], extra))


def main():
    global SIMU
    only = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else None
    if not os.access(BIN, os.X_OK):
        print("FAIL: e2e: %s is not an executable" % BIN)
        return 1
    SIMU = Sim()
    fails = 0
    try:
        for fn in TESTS:
            if only and only not in fn.__name__:
                continue
            t0 = time.monotonic()
            try:
                fn()
                print("PASS: e2e/%s" % fn.__name__, flush=True)
            except Fail as e:
                fails += 1
                print("FAIL: e2e/%s: %s" % (fn.__name__, str(e).replace("\n", "\n    ")), flush=True)
            except Exception:
                fails += 1
                print("FAIL: e2e/%s: %s" % (fn.__name__, traceback.format_exc().replace("\n", "\n    ")), flush=True)
            print("  %s: %.1fs" % (fn.__name__, time.monotonic() - t0), file=sys.stderr, flush=True)
    finally:
        SIMU.stop()
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
