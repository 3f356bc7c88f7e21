"""test_creds_tls.py — the STS calls of the credential chain against moto over HTTPS with
signatures enforced: moto_server serves TLS with the test PKI (tests/lib/mkpki.sh) on an ephemeral
loopback port, with INITIAL_NO_AUTH_ACTION_COUNT so that after bootstrapping an IAM user, its
policy and key, every request must carry a valid SigV4 signature made with that key.

Proves: GetCallerIdentity and AssumeRole are signed correctly for "sts" (moto verifies them),
session tokens of assumed roles sign the next call (-a then GetCallerIdentity), AWS_CA_BUNDLE is
honoured for STS, a wrong secret is exit 20 naming SignatureDoesNotMatch, and no secret is
printed. Output protocol: PASS:/FAIL: lines.
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
BIN = os.environ.get("ECSDEPLOY_BIN") or os.path.join(ROOT, "ecs-deploy")
FAILS = 0


def check(name, ok, why=""):
    global FAILS
    if ok:
        print("PASS: " + name, flush=True)
    else:
        FAILS += 1
        print("FAIL: %s: %s" % (name, why), flush=True)



def main():
    tmp = tempfile.mkdtemp(prefix="ed-creds-tls-")
    moto = None
    try:
        pki = os.path.join(tmp, "pki")
        subprocess.run(["sh", os.path.join(ROOT, "tests", "lib", "mkpki.sh"), pki], check=True,
                       timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ca = os.path.join(pki, "ca.pem")
        moto, url = start_moto_tls(pki, None)

        import boto3
        iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", verify=ca,
                           aws_access_key_id="AKIABOOTSTRAPEXAMPLE", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="deployer")
        iam.put_user_policy(UserName="deployer", PolicyName="sts", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": ["sts:*", "ecs:*"], "Resource": "*"}]}))
        key = iam.create_access_key(UserName="deployer")["AccessKey"]

        base = {"PATH": "/usr/bin:/bin", "HOME": tmp, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_STS": url, "AWS_CA_BUNDLE": ca}
        good = dict(base, AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                    AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
        secrets = [key["SecretAccessKey"], "bootstrap-wrong-secret-PLANTED"]

        def ours(env, args=()):
            r = subprocess.run([BIN, "--check", "-v"] + list(args), env=env, capture_output=True,
                               text=True, timeout=120)
            return r.returncode, r.stdout, r.stderr

        rc, out, err = ours(good)
        check("GetCallerIdentity over TLS, signature verified by moto",
              rc == 0 and "caller:       arn:aws:iam::123456789012:user/deployer" in out,
              "rc %d %s %s" % (rc, out[-300:], err[-300:]))
        check("-v shows the STS call without secrets", "aws: GetCallerIdentity status 200" in err,
              err[-300:])
        rc, out, err = ours(good, ["-a", "arn:aws:iam::123456789012:role/deploy-role"])
        check("-a: AssumeRole signed with the user's key, GetCallerIdentity with the session token",
              rc == 0 and "caller:       arn:aws:sts::123456789012:assumed-role/deploy-role/ecs-deploy-"
              in out, "rc %d %s %s" % (rc, out[-300:], err[-300:]))
        bad = dict(good, AWS_SECRET_ACCESS_KEY=secrets[1])
        rc, out, err = ours(bad)
        check("a wrong secret: exit 20 with STS's SignatureDoesNotMatch",
              rc == 20 and "GetCallerIdentity: SignatureDoesNotMatch" in err,
              "rc %d %s" % (rc, err[-300:]))
        rc, out, err = ours(bad, ["-a", "arn:aws:iam::123456789012:role/deploy-role"])
        check("a wrong secret under -a: exit 20 naming the role and the source",
              rc == 20 and "(-a) assumed with environment (AWS_ACCESS_KEY_ID): SignatureDoesNotMatch"
              in err, "rc %d %s" % (rc, err[-300:]))
        nobundle = {k: v for k, v in good.items() if k != "AWS_CA_BUNDLE"}
        rc, out, err = ours(nobundle)
        check("without the test CA the certificate is refused: exit 22",
              rc == 22 and "certificate" in err.lower(), "rc %d %s" % (rc, err[-300:]))
        leaked = []
        for r in (ours(good), ours(bad), ours(good, ["-a", "arn:aws:iam::123456789012:role/x"])):
            for s in secrets:
                if s in r[1] + r[2]:
                    leaked.append(s[:6])
        check("no secret in any output", not leaked, ",".join(leaked))
    except Exception as ex:  # report instead of dying silently
        check("test_creds_tls ran", False, repr(ex))
    finally:
        if moto:
            moto.kill()
            moto.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
