#!/usr/bin/env python3
"""test_moto.py — aws_call() against moto over TLS with signatures enforced.

moto_server serves HTTPS itself (--ssl-cert/--ssl-key with the test PKI of
tests/lib/mkpki.sh) on an ephemeral loopback port, with TEST_SERVER_MODE=true and
INITIAL_NO_AUTH_ACTION_COUNT=3: the AWS CLI bootstraps an IAM user, its policy
and its access key unauthenticated; from then on every request must carry a
SigV4 signature made with that key. The AWS CLI (with the new key) creates a
cluster, a task definition and a service; then tests/tools/awscall.c (aws_call()
from ecsdeploy.c) describes and registers with the good key, and fails with
exit 20 with a wrong secret or an unknown key id. Prints PASS/FAIL lines.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from motoserver import start_moto_tls  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
FAILS = 0
ECS = "AmazonEC2ContainerServiceV20141113."


def check(name, ok, why=""):
    global FAILS
    if ok:
        print("PASS: " + name)
    else:
        FAILS += 1
        print("FAIL: %s: %s" % (name, why))
    sys.stdout.flush()



def main():
    tmp = tempfile.mkdtemp(prefix="ed-moto-")
    moto = None
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run(["sh", "tests/lib/mkpki.sh", pki], check=True, timeout=60)
        tool = os.path.join(tmp, "awscall")
        subprocess.run(["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
                        "-Wno-unused-function", "-Ivendor/bearssl/inc", "-Ivendor/jsmn", "-O1", "-o", tool,
                        "tests/tools/awscall.c", "vendor/build/host/libbearssl.a"], check=True, timeout=120)
        moto, url = start_moto_tls(pki, os.path.join(tmp, "moto.log"))
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        base.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="AKIABOOTSTRAPEXAMPLE",
                    AWS_SECRET_ACCESS_KEY="bootstrap", AWS_EC2_METADATA_DISABLED="true",
                    HOME=tmp)

        def cli(args, env):
            r = subprocess.run(["aws", "--endpoint-url", url, "--ca-bundle", os.path.join(pki, "ca.pem"),
                                "--output", "json"] + args, env=env, capture_output=True, text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        rc, _, err = cli(["iam", "create-user", "--user-name", "deployer"], base)
        check("moto: bootstrap IAM user (unauthenticated)", rc == 0, err[-300:])
        policy = json.dumps({"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        cli(["iam", "put-user-policy", "--user-name", "deployer", "--policy-name", "all",
             "--policy-document", policy], base)
        rc, out, err = cli(["iam", "create-access-key", "--user-name", "deployer"], base)
        key = json.loads(out)["AccessKey"] if rc == 0 else {}
        good = dict(base, AWS_ACCESS_KEY_ID=key.get("AccessKeyId", ""),
                    AWS_SECRET_ACCESS_KEY=key.get("SecretAccessKey", ""))
        rc, _, err = cli(["ecs", "list-clusters"], base)
        check("moto: signatures are enforced (the bootstrap key is now refused)", rc != 0 and "403" in err,
              "rc %d %s" % (rc, err[-200:]))
        rc, _, err = cli(["ecs", "create-cluster", "--cluster-name", "prod"], good)
        check("moto: AWS CLI creates the cluster with the new key", rc == 0, err[-300:])
        cdefs = json.dumps([{"name": "web", "image": "nginx:1.25", "memory": 128, "essential": True}])
        cli(["ecs", "register-task-definition", "--family", "web", "--container-definitions", cdefs], good)
        rc, _, err = cli(["ecs", "create-service", "--cluster", "prod", "--service-name", "web",
                          "--task-definition", "web", "--desired-count", "1"], good)
        check("moto: AWS CLI creates the service", rc == 0, err[-300:])

        def ours(target, body, env, extra=()):
            r = subprocess.run([tool, "-v", "--ca-bundle", os.path.join(pki, "ca.pem"), "--endpoint-url", url,
                                "-r", "us-east-1"] + list(extra) + [ECS + target, body], env=env,
                               capture_output=True, text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        rc, out, err = ours("DescribeServices", '{"cluster":"prod","services":["web"]}', good)
        ok = rc == 0
        doc = json.loads(out) if ok else {}
        svc = (doc.get("services") or [{}])[0]
        check("ours: DescribeServices with the good key", ok and svc.get("serviceName") == "web"
              and svc.get("taskDefinition", "").endswith(":task-definition/web:1"), "rc %d %s %s" % (rc, out[:200], err[-300:]))
        check("ours: -v line names operation, status and request id",
              "aws: DescribeServices status 200, " in err and "request id " in err, err[-300:])
        check("ours: one handshake for the run", "handshakes 1 " in err, err[-200:])
        check("ours: no secret in any output", key.get("SecretAccessKey", "x") not in out + err, "secret printed")

        td = json.dumps({"family": "web", "containerDefinitions": [
            {"name": "web", "image": "nginx:1.27", "memory": 128, "essential": True}]})
        rc, out, err = ours("RegisterTaskDefinition", td, good)
        rev = json.loads(out)["taskDefinition"]["revision"] if rc == 0 else None
        check("ours: RegisterTaskDefinition with the good key", rc == 0 and rev == 2, "rc %d %s" % (rc, err[-300:]))
        rc2, out2, _ = cli(["ecs", "describe-task-definition", "--task-definition", "web:2"], good)
        img = json.loads(out2)["taskDefinition"]["containerDefinitions"][0]["image"] if rc2 == 0 else None
        check("moto: the AWS CLI sees the revision we registered", img == "nginx:1.27", out2[:200])

        rc, out, err = ours("DescribeTaskDefinition", '{"taskDefinition":"nope:7"}', good)
        check("ours: an AWS client error exits 21", rc == 21 and "AWS rejected DescribeTaskDefinition" in err,
              "rc %d %s" % (rc, err[-300:]))

        bad = dict(good, AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY0")
        rc, out, err = ours("DescribeServices", '{"cluster":"prod","services":["web"]}', bad)
        check("ours: a wrong secret exits 20 with a clear message",
              rc == 20 and "AWS rejected the credentials for DescribeServices: SignatureDoesNotMatch" in err,
              "rc %d %s" % (rc, err[-300:]))
        check("ours: the wrong secret is not printed", "WRONGKEY0" not in out + err, err[-300:])
        rc, out, err = ours("RegisterTaskDefinition", td, bad)
        check("ours: register with a wrong secret exits 20, tried once",
              rc == 20 and "attempts 1 " in err, "rc %d %s" % (rc, err[-300:]))
        unknown = dict(good, AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEYID0000")
        rc, out, err = ours("ListClusters", "{}", unknown)
        check("ours: an unknown access key id exits 20", rc == 20 and "InvalidClientTokenId" in err,
              "rc %d %s" % (rc, err[-300:]))
        r = subprocess.run([tool, "--endpoint-url", url, "-r", "us-east-1", ECS + "ListClusters", "{}"],
                           env=good, capture_output=True, text=True, timeout=120)
        check("ours: without the test CA the certificate is not trusted (exit 22)",
              r.returncode == 22 and "issued by an unknown CA" in r.stderr, r.stderr[-300:])
    finally:
        if moto is not None:
            moto.terminate()
            try:
                moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                moto.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
