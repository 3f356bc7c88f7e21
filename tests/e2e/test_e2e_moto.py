#!/usr/bin/env python3
"""test_e2e_moto.py — the real ecs-deploy binary against moto over TLS with SigV4 enforced:
register (-d), a service update, dry-run, and the error paths (wrong secret 20, missing
service/cluster 21, unknown task definition 21). moto is a second, independent model of the
ECS API: what our requests look like is checked by something we did not write.

moto_server serves HTTPS with the test PKI (tests/lib/mkpki.sh) on an ephemeral loopback port,
TEST_SERVER_MODE=true and INITIAL_NO_AUTH_ACTION_COUNT=3: the AWS CLI bootstraps an IAM user
and its key unauthenticated; afterwards every request must be signed with that key (the same
bootstrap as tests/test_moto.py). PASS/FAIL lines.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from motoserver import start_moto_tls  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("ECSDEPLOY_BIN") or os.path.join(TOP, "ecs-deploy")
FAILS = 0


def check(name, ok, why=""):
    global FAILS
    if ok:
        print("PASS: e2e-moto/" + name)
    else:
        FAILS += 1
        print("FAIL: e2e-moto/%s: %s" % (name, why))
    sys.stdout.flush()



def main():
    tmp = tempfile.mkdtemp(prefix="ed-e2e-moto-")
    moto = None
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run(["sh", os.path.join(TOP, "tests/lib/mkpki.sh"), pki], check=True, timeout=60,
                       stdout=subprocess.DEVNULL)
        ca = os.path.join(pki, "ca.pem")
        moto, url = start_moto_tls(pki, os.path.join(tmp, "moto.log"))
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "AKIABOOTSTRAPEXAMPLE", "AWS_SECRET_ACCESS_KEY": "bootstrap",
                "AWS_EC2_METADATA_DISABLED": "true", "HOME": tmp}

        def cli(args, env):
            r = subprocess.run(["aws", "--endpoint-url", url, "--ca-bundle", ca, "--output", "json"] + args,
                               env=env, capture_output=True, text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        def ours(args, env):
            r = subprocess.run([BIN, "--endpoint-url", url, "--ca-bundle", ca, "-r", "us-east-1"] + args,
                               env=env, capture_output=True, text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        cli(["iam", "create-user", "--user-name", "deployer"], base)
        policy = json.dumps({"Version": "2012-10-17",
                             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        cli(["iam", "put-user-policy", "--user-name", "deployer", "--policy-name", "all",
             "--policy-document", policy], base)
        rc, out, err = cli(["iam", "create-access-key", "--user-name", "deployer"], base)
        key = json.loads(out)["AccessKey"] if rc == 0 else {}
        good = dict(base, AWS_ACCESS_KEY_ID=key.get("AccessKeyId", ""),
                    AWS_SECRET_ACCESS_KEY=key.get("SecretAccessKey", ""))
        cli(["ecs", "create-cluster", "--cluster-name", "prod"], good)
        cdefs = json.dumps([{"name": "web", "image": "registry.example.com/acme/web:1", "memory": 128,
                             "essential": True},
                            {"name": "log", "image": "fluent/fluent-bit:2", "memory": 64, "essential": False}])
        cli(["ecs", "register-task-definition", "--family", "web", "--container-definitions", cdefs,
             "--pid-mode", "task", "--tags", "key=team,value=acme"], good)
        rc, _, err = cli(["ecs", "create-service", "--cluster", "prod", "--service-name", "web",
                          "--task-definition", "web", "--desired-count", "0"], good)
        check("setup: the AWS CLI created cluster, task definition and service", rc == 0, err[-300:])

        rc, out, err = ours(["-d", "web", "-i", "registry.example.com/acme/web:2", "--copy-task-definition-tags"], good)
        check("-d registers the new revision (signed, exit 0)", rc == 0 and
              "New task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:2" in out,
              "rc %d %s %s" % (rc, out[-500:], err[-500:]))
        rc2, out2, _ = cli(["ecs", "describe-task-definition", "--task-definition", "web:2", "--include", "TAGS"], good)
        td = json.loads(out2) if rc2 == 0 else {}
        cds = {c["name"]: c["image"] for c in td.get("taskDefinition", {}).get("containerDefinitions", [])}
        check("moto holds the revision we registered, sidecar untouched, pidMode and tags kept",
              cds == {"web": "registry.example.com/acme/web:2", "log": "fluent/fluent-bit:2"}
              and td["taskDefinition"].get("pidMode") == "task"
              and td.get("tags") == [{"key": "team", "value": "acme"}], out2[:600])

        rc, out, err = ours(["-c", "prod", "-n", "web", "-i", "registry.example.com/acme/web:3", "-t", "5",
                             "--poll-interval", "0.5"], good)
        rc2, out2, _ = cli(["ecs", "describe-services", "--cluster", "prod", "--services", "web"], good)
        svc = json.loads(out2)["services"][0] if rc2 == 0 else {}
        check("service update: UpdateService accepted, service on web:3",
              "New task definition: arn:aws:ecs:us-east-1:123456789012:task-definition/web:3" in out
              and svc.get("taskDefinition", "").endswith("web:3"), "rc %d %s %s %s" % (rc, out[-600:], err[-400:], out2[:300]))
        check("service update with desiredCount 0 skips phase 1 and ends (0 or timeout 1)",
              rc in (0, 1) and "Skipping check for running task definition, as desired-count <= 0" in out,
              "rc %d %s" % (rc, out[-400:]))

        rc, out, err = ours(["-c", "prod", "-n", "web", "-i", "registry.example.com/acme/web:4", "--dry-run"], good)
        rc2, out2, _ = cli(["ecs", "list-task-definitions", "--family-prefix", "web"], good)
        n = len(json.loads(out2)["taskDefinitionArns"]) if rc2 == 0 else -1
        check("--dry-run registers nothing", rc == 0 and n == 3 and "Dry run: would register" in out,
              "rc %d revisions %d %s" % (rc, n, err[-300:]))

        bad = dict(good, AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY0")
        rc, out, err = ours(["-c", "prod", "-n", "web", "-i", "registry.example.com/acme/web:5"], bad)
        check("wrong secret: exit 20, secret not printed", rc == 20 and "WRONGKEY0" not in out + err,
              "rc %d %s" % (rc, err[-300:]))
        rc, out, err = ours(["-c", "prod", "-n", "nope", "-i", "registry.example.com/acme/web:5"], good)
        check("missing service: exit 21 naming it", rc == 21 and "nope" in err, "rc %d %s" % (rc, err[-300:]))
        rc, out, err = ours(["-c", "nocluster", "-n", "web", "-i", "registry.example.com/acme/web:5"], good)
        check("missing cluster: exit 21", rc == 21, "rc %d %s" % (rc, err[-300:]))
        rc, out, err = ours(["-d", "nope:7", "-i", "registry.example.com/acme/web:5"], good)
        check("unknown task definition: exit 21", rc == 21, "rc %d %s" % (rc, err[-300:]))
        rc, out, err = ours(["-d", "web", "-i", "ghcr.io/acme/web:5"], good)
        check("cross-registry image: exit 14 before any write", rc == 14 and "container web: registry.example.com/acme/web:3" in out,
              "rc %d %s" % (rc, out[-300:]))
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
