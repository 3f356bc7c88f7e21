"""test_creds.py — the credential chain, region and roles (§7.1, §7.2, §8) through the real
binary's `--check`, against moto's STS and IAM (in-process moto server on an ephemeral loopback
port) and tests/sim/authsvc.py (container credentials, IMDSv2, a recording STS front).

Every source gets its own IAM user, so the caller identity that `--check` prints (from STS
GetCallerIdentity) proves which source won. HOME points at a temp dir; every file and environment
is made here. Known secret strings are planted in every source and every run's stdout+stderr
(with -v, on success and on every failure path) is checked for all of them.

Output protocol: PASS: name / FAIL: name: why; exit status 1 when any failed.
"""

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "sim"))
import authsvc  # noqa: E402

BIN = os.environ.get("ECSDEPLOY_BIN") or os.path.join(HERE, "..", "ecs-deploy")
FAILS = 0
SECRETS = set()          # every planted or issued secret
LEAKS = []               # runs whose output contained one


def report(name, ok, why=""):
    global FAILS
    if ok:
        print("PASS: %s" % name, flush=True)
    else:
        FAILS += 1
        print("FAIL: %s: %s" % (name, why), flush=True)


def plant(s):
    SECRETS.add(s)
    return s


# ---- servers ------------------------------------------------------------------------------

def start_moto():
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    return srv, "http://%s:%d" % (host, port)


def iam_client(moto_url):
    import boto3
    return boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1",
                        aws_access_key_id="AKIDADMIN", aws_secret_access_key="admin-secret")


def make_user(iam, name):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    plant(k["SecretAccessKey"])
    return {"AccessKeyId": k["AccessKeyId"], "SecretAccessKey": k["SecretAccessKey"]}


def make_role(iam, name):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
         "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/"
                                          "token.actions.githubusercontent.com"},
         "Action": "sts:AssumeRoleWithWebIdentity"}]}
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="ecs", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]}))
    return r["Arn"]


def ctl(urls, what, body=None):
    url = urls["auth_control"] + what
    data = None if body is None else json.dumps(body).encode()
    rq = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    with urllib.request.urlopen(rq, timeout=10) as r:
        return json.loads(r.read() or b"null")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# ---- running the binary --------------------------------------------------------------------

class Ctx:
    pass


def run(c, env=None, args=(), name=""):
    e = {"HOME": c.home, "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true",
         "AWS_ENDPOINT_URL_STS": c.urls["sts"]}
    e.update(env or {})
    e = {k: v for k, v in e.items() if v is not None}
    p = subprocess.run([BIN, "--check", "-v"] + list(args), env=e, capture_output=True,
                       timeout=60, text=True)
    both = p.stdout + p.stderr
    for s in list(SECRETS) + issued_secrets(c):
        if s and s in both:
            LEAKS.append("%s: leaked %s...: %s" % (name, s[:6], both[:300]))
    return p.returncode, p.stdout, p.stderr


def issued_secrets(c):
    out = []
    for entry in ctl(c.urls, "log"):
        out.extend(entry.get("answer_secrets", []))
    return out


def caller(out):
    m = re.search(r"^caller:\s+(\S+)$", out, re.M)
    return m.group(1) if m else None


def write(path, text, mode=0o600):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def reset_home(c):
    shutil.rmtree(c.home, ignore_errors=True)
    os.makedirs(c.home)
    ctl(c.urls, "reset", {})


def expect(name, got, ok, why_extra=""):
    rc, out, err = got
    report(name, ok, "rc %d%s | stdout: %.400s | stderr: %.400s" % (rc, why_extra, out, err))


def user_arn(name):
    return "arn:aws:iam::123456789012:user/%s" % name


def sts_entries(c):
    return [e for e in ctl(c.urls, "log") if e.get("kind") == "sts"]


# ---- the cases ---------------------------------------------------------------------------------

def t_sources(c):
    U = c.users
    base = {"AWS_REGION": "us-east-1"}

    # environment
    reset_home(c)
    got = run(c, dict(base, AWS_ACCESS_KEY_ID=U["env"]["AccessKeyId"],
                      AWS_SECRET_ACCESS_KEY=U["env"]["SecretAccessKey"]), name="env")
    expect("environment credentials: caller is env-user", got,
           got[0] == 0 and caller(got[1]) == user_arn("env-user")
           and "credentials:  environment (AWS_ACCESS_KEY_ID)" in got[1])
    akid = U["env"]["AccessKeyId"]
    expect("--check masks the access key id", got,
           (akid[:4] + "****" + akid[-4:]) in got[1] and akid not in got[1])
    expect("--check prints region, ECS and STS endpoints", got,
           "region:       us-east-1 (from AWS_REGION)" in got[1]
           and "ECS endpoint: https://ecs.us-east-1.amazonaws.com" in got[1]
           and ("STS endpoint: %s" % c.urls["sts"]) in got[1])
    ent = sts_entries(c)
    expect("GetCallerIdentity is signed with SigV4 for sts", got,
           len(ent) == 1 and ent[0]["form"].get("Action") == "GetCallerIdentity"
           and ent[0]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=%s/" % akid)
           and "/us-east-1/sts/aws4_request" in ent[0]["authorization"])

    # -k/-s beat the environment
    got = run(c, dict(base, AWS_ACCESS_KEY_ID=U["env"]["AccessKeyId"],
                      AWS_SECRET_ACCESS_KEY=U["env"]["SecretAccessKey"]),
              ["-k", U["arg"]["AccessKeyId"], "-s", U["arg"]["SecretAccessKey"]], name="args")
    expect("-k/-s beat the environment", got,
           got[0] == 0 and caller(got[1]) == user_arn("arg-user") and "command line (-k/-s)" in got[1])

    # shared credentials file, default profile, via HOME
    reset_home(c)
    write(os.path.join(c.home, ".aws", "credentials"),
          "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n" %
          (U["file"]["AccessKeyId"], U["file"]["SecretAccessKey"]))
    got = run(c, base, name="file default")
    expect("~/.aws/credentials [default]: caller is file-user", got,
           got[0] == 0 and caller(got[1]) == user_arn("file-user")
           and "profile default (credentials file)" in got[1])
    got = run(c, dict(base, AWS_ACCESS_KEY_ID=U["env"]["AccessKeyId"],
                      AWS_SECRET_ACCESS_KEY=U["env"]["SecretAccessKey"]), name="env over file")
    expect("environment beats the shared files", got, got[0] == 0 and caller(got[1]) == user_arn("env-user"))

    # AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE; AWS_CONFIG_FILE with [profile x] and -p
    alt = write(os.path.join(c.home, "elsewhere", "creds"),
                "[ci]\naws_access_key_id=%s\naws_secret_access_key=%s\n" %
                (U["proc"]["AccessKeyId"], U["proc"]["SecretAccessKey"]))
    got = run(c, dict(base, AWS_SHARED_CREDENTIALS_FILE=alt, AWS_PROFILE="ci"), name="alt file")
    expect("AWS_SHARED_CREDENTIALS_FILE + AWS_PROFILE", got,
           got[0] == 0 and caller(got[1]) == user_arn("proc-user"))
    cfg = write(os.path.join(c.home, "cfg", "config"),
                "[profile cfgkeys]\nregion = eu-central-1\naws_access_key_id=%s\n"
                "aws_secret_access_key=%s\n" % (U["arg"]["AccessKeyId"], U["arg"]["SecretAccessKey"]))
    got = run(c, {"AWS_CONFIG_FILE": cfg, "AWS_ACCESS_KEY_ID": U["env"]["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": U["env"]["SecretAccessKey"]}, ["-p", "cfgkeys"], name="-p")
    expect("-p: [profile x] of AWS_CONFIG_FILE, region from the profile, environment skipped", got,
           got[0] == 0 and caller(got[1]) == user_arn("arg-user")
           and "region:       eu-central-1 (from profile cfgkeys)" in got[1])
    got = run(c, {"AWS_CONFIG_FILE": cfg}, ["-p", "nosuch"], name="-p missing")
    expect("-p naming a missing profile: exit 20", got,
           got[0] == 20 and "profile nosuch not found" in got[2])


def t_process(c):
    U = c.users
    reset_home(c)
    d = os.path.join(c.home, "helper dir")
    secret_tok = plant("PLANTED-PROCESS-TOKEN-1f2e")
    helper = write(os.path.join(d, "cred helper"),
                   "#!/bin/sh\n"
                   "[ \"$1\" = \"--name\" ] && [ \"$2\" = \"a b\" ] && [ \"$3\" = 'q\"x' ] || exit 9\n"
                   "printf '{\"Version\": 1, \"AccessKeyId\": \"%s\", \"SecretAccessKey\": \"%s\", "
                   "\"SessionToken\": \"%s\"}'\n" %
                   (U["proc"]["AccessKeyId"], U["proc"]["SecretAccessKey"], secret_tok), 0o755)
    write(os.path.join(c.home, ".aws", "config"),
          "[default]\ncredential_process = \"%s\" --name 'a b' \"q\\\"x\"\n" % helper)
    got = run(c, {"AWS_REGION": "us-east-1"}, name="process")
    expect("credential_process: quoted path and arguments, no shell; caller is proc-user", got,
           got[0] == 0 and caller(got[1]) == user_arn("proc-user")
           and "credential_process (profile default)" in got[1])
    write(os.path.join(c.home, ".aws", "config"),
          "[default]\ncredential_process = \"%s\" wrong\n" % helper)
    got = run(c, {"AWS_REGION": "us-east-1"}, name="process fails")
    expect("credential_process exiting non-zero: exit 20 naming the status", got,
           got[0] == 20 and "exited with status 9" in got[2])
    bad = write(os.path.join(d, "bad"), "#!/bin/sh\necho 'not json %s'\n" % secret_tok, 0o755)
    write(os.path.join(c.home, ".aws", "config"), "[default]\ncredential_process = '%s'\n" % bad)
    got = run(c, {"AWS_REGION": "us-east-1"}, name="process garbage")
    expect("credential_process printing garbage: exit 20, output not echoed", got,
           got[0] == 20 and "not a JSON object" in got[2])
    write(os.path.join(c.home, ".aws", "config"), "[default]\ncredential_process = no-such-helper-x\n")
    got = run(c, {"AWS_REGION": "us-east-1"}, name="process missing")
    expect("credential_process not found: exit 20", got,
           got[0] == 20 and "cannot run no-such-helper-x" in got[2])


def t_web_identity(c):
    reset_home(c)
    token = plant("eyJPLANTED.web-identity-token.c2lnbmF0dXJl")
    tf = write(os.path.join(c.home, "oidc", "token"), token + "\n")
    env = {"AWS_REGION": "us-east-1", "AWS_WEB_IDENTITY_TOKEN_FILE": tf,
           "AWS_ROLE_ARN": c.roles["gh"], "AWS_ROLE_SESSION_NAME": "gha-run-7"}
    got = run(c, env, name="web identity")
    expect("web identity: caller is the assumed role with the session name", got,
           got[0] == 0 and caller(got[1]) == "arn:aws:sts::123456789012:assumed-role/gh-deploy/gha-run-7"
           and "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)" in got[1])
    ent = [e for e in sts_entries(c) if e["form"].get("Action") == "AssumeRoleWithWebIdentity"]
    expect("AssumeRoleWithWebIdentity is unsigned and carries the token", got,
           len(ent) == 1 and not ent[0]["has_authorization"]
           and ent[0]["form"].get("WebIdentityToken") == token
           and ent[0]["form"].get("RoleArn") == c.roles["gh"]
           and ent[0]["form"].get("Version") == "2011-06-15")
    ctl(c.urls, "config", {"sts": {"deny_roles": [c.roles["gh"]],
                                   "deny_message": "Not authorized: token %s rejected" % token}})
    got = run(c, env, name="web identity denied")
    expect("web identity refused: exit 20, names the source and STS's code, token cut out", got,
           got[0] == 20 and "ERROR: web identity (AWS_WEB_IDENTITY_TOKEN_FILE): AccessDenied: "
           "Not authorized: token [redacted] rejected" in got[2])
    got = run(c, dict(env, AWS_WEB_IDENTITY_TOKEN_FILE=os.path.join(c.home, "nope")), name="web no file")
    expect("web identity token file missing: exit 20 naming the file", got,
           got[0] == 20 and "cannot read" in got[2] and "nope" in got[2])


def t_roles(c):
    U = c.users
    reset_home(c)
    ext = plant("PLANTED-external-id-77")
    tf = write(os.path.join(c.home, "tok"), plant("PLANTED-profile-web-token") + "\n")
    write(os.path.join(c.home, ".aws", "credentials"),
          "[base]\naws_access_key_id = %s\naws_secret_access_key = %s\n" %
          (U["file"]["AccessKeyId"], U["file"]["SecretAccessKey"]))
    write(os.path.join(c.home, ".aws", "config"),
          "[profile a]\nrole_arn = %s\nsource_profile = base\nexternal_id = %s\n"
          "role_session_name = sess-a\nduration_seconds = 1800\n"
          "[profile b]\nrole_arn = %s\nsource_profile = a\nrole_session_name = sess-b\n"
          "[profile loop1]\nrole_arn = %s\nsource_profile = loop2\n"
          "[profile loop2]\nrole_arn = %s\nsource_profile = loop1\n"
          "[profile web]\nrole_arn = %s\nweb_identity_token_file = %s\nrole_session_name = w\n"
          "[profile fromenv]\nrole_arn = %s\ncredential_source = Environment\n"
          "[profile fromecs]\nrole_arn = %s\ncredential_source = EcsContainer\n"
          % (c.roles["a"], ext, c.roles["b"], c.roles["a"], c.roles["b"], c.roles["gh"], tf,
             c.roles["deployer"], c.roles["deployer"]))
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_PROFILE": "b"}, name="chain")
    ent = sts_entries(c)
    ar = [e for e in ent if e["form"].get("Action") == "AssumeRole"]
    expect("role chain b -> a -> base: caller is role b", got,
           got[0] == 0 and caller(got[1]) == "arn:aws:sts::123456789012:assumed-role/chain-b/sess-b")
    expect("role chain: a assumed with base's key, b with a's, external id and duration sent", got,
           len(ar) == 2 and ar[0]["form"]["RoleArn"] == c.roles["a"]
           and ar[0]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=%s/" % U["file"]["AccessKeyId"])
           and ar[0]["form"].get("ExternalId") == ext and ar[0]["form"].get("DurationSeconds") == "1800"
           and ar[1]["form"]["RoleArn"] == c.roles["b"]
           and ar[1]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=ASIA"))
    got = run(c, {"AWS_REGION": "us-east-1"}, ["-p", "loop1"], name="loop")
    expect("source_profile cycle: exit 20", got, got[0] == 20 and "loops back" in got[2])
    got = run(c, {"AWS_REGION": "us-east-1"}, ["-p", "web"], name="profile web")
    expect("profile web_identity_token_file", got,
           got[0] == 0 and caller(got[1]) == "arn:aws:sts::123456789012:assumed-role/gh-deploy/w")
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": U["env"]["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": U["env"]["SecretAccessKey"]}, ["-p", "fromenv"], name="cs env")
    ent = [e for e in sts_entries(c) if e["form"].get("Action") == "AssumeRole"]
    expect("credential_source = Environment", got,
           got[0] == 0 and "assumed-role/deployer/" in (caller(got[1]) or "")
           and ent and ent[-1]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=%s/" %
                                                           U["env"]["AccessKeyId"]))
    ctl(c.urls, "config", {"containers": {"task": {"token": None, "creds": U["container"]}}})
    got = run(c, {"AWS_REGION": "us-east-1",
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI": c.urls["ecs_creds"] + "task"},
              ["-p", "fromecs"], name="cs ecs")
    ent = [e for e in sts_entries(c) if e["form"].get("Action") == "AssumeRole"]
    expect("credential_source = EcsContainer", got,
           got[0] == 0 and "assumed-role/deployer/" in (caller(got[1]) or "")
           and ent and ent[-1]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=%s/" %
                                                           U["container"]["AccessKeyId"]))


def t_assume_flag(c):
    U = c.users
    reset_home(c)
    env = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": U["env"]["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": U["env"]["SecretAccessKey"]}
    before = int(time.time())
    got = run(c, env, ["-a", c.roles["deployer"]], name="-a")
    m = re.search(r"assumed-role/deployer/ecs-deploy-(\d+)$", caller(got[1]) or "")
    expect("-a: caller is the role, session ecs-deploy-<epoch>", got,
           got[0] == 0 and m is not None and before - 5 <= int(m.group(1)) <= time.time() + 5)
    ar = [e for e in sts_entries(c) if e["form"].get("Action") == "AssumeRole"]
    expect("-a: AssumeRole signed with the chain's credentials, 3600 s", got,
           len(ar) == 1 and ar[0]["authorization"].startswith(
               "AWS4-HMAC-SHA256 Credential=%s/" % U["env"]["AccessKeyId"])
           and ar[0]["form"].get("DurationSeconds") == "3600"
           and "role %s (-a) assumed with environment" % c.roles["deployer"] in got[1])
    ctl(c.urls, "config", {"sts": {"deny_roles": [c.roles["deployer"]],
                                   "deny_message": "User is not authorized to perform: sts:AssumeRole"}})
    got = run(c, env, ["-a", c.roles["deployer"]], name="-a denied")
    expect("-a refused: exit 20 with STS's code and message", got,
           got[0] == 20 and "(-a) assumed with environment (AWS_ACCESS_KEY_ID): AccessDenied: User is "
           "not authorized to perform: sts:AssumeRole" in got[2])
    ctl(c.urls, "reset", {})
    ctl(c.urls, "config", {"sts": {"faults": [{"status": 400, "code": "Throttling"},
                                              {"status": 400, "code": "Throttling"}]}})
    got = run(c, env, ["-a", c.roles["deployer"]], name="-a throttled")
    ar = [e for e in sts_entries(c) if e["form"].get("Action") == "AssumeRole"]
    expect("STS throttling is retried (AWS standard mode)", got,
           got[0] == 0 and len(ar) == 3 and "assumed-role/deployer/" in (caller(got[1]) or "")
           and "aws: AssumeRole status 200" in got[2])
    ctl(c.urls, "reset", {})
    ctl(c.urls, "config", {"sts": {"faults": [{"status": 503, "code": "ServiceUnavailable"}]}})
    got = run(c, env, name="gci 503")
    gci = [e for e in sts_entries(c) if e["form"].get("Action") == "GetCallerIdentity"]
    expect("a 503 on GetCallerIdentity (a read) is retried", got, got[0] == 0 and len(gci) == 2)
    ctl(c.urls, "reset", {})
    ctl(c.urls, "config", {"sts": {"faults": [{"status": 400, "code": "RequestExpired",
                                               "message": "Request has expired"}]}})
    got = run(c, dict(env, AWS_MAX_ATTEMPTS="1"), ["-a", c.roles["deployer"]], name="-a skew")
    ar = [e for e in sts_entries(c) if e["form"].get("Action") == "AssumeRole"]
    expect("STS saying the clock is off: re-signed with the server's Date and sent once more", got,
           got[0] == 0 and len(ar) == 2 and "clock skew corrected" in got[2])
    ctl(c.urls, "config", {"sts": {"faults": [{"status": 400, "code": "Throttling"}] * 3}})
    got = run(c, dict(env, AWS_MAX_ATTEMPTS="3"), ["-a", c.roles["deployer"]], name="-a throttled out")
    expect("STS throttling on every attempt: exit 20 naming the role and STS's code", got,
           got[0] == 20 and "(-a) assumed with environment (AWS_ACCESS_KEY_ID): Throttling" in got[2])
    got = run(c, env, ["-a", "deployer"], name="-a bad arn")
    expect("-a with a malformed ARN: exit 3", got, got[0] == 3 and "is not an IAM role ARN" in got[2])


def t_container(c):
    U = c.users
    reset_home(c)
    tok = plant("PLANTED-container-auth-token-9a")
    ctl(c.urls, "config", {"containers": {"task": {"token": tok, "creds": U["container"]}}})
    url = c.urls["ecs_creds"] + "task"
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                  "AWS_CONTAINER_AUTHORIZATION_TOKEN": tok}, name="container")
    log = [e for e in ctl(c.urls, "log") if e.get("kind") == "container"]
    expect("container credentials with AWS_CONTAINER_AUTHORIZATION_TOKEN", got,
           got[0] == 0 and caller(got[1]) == user_arn("container-user")
           and log and log[0]["authorization_token_ok"] and "temporary" in got[1])
    tf = write(os.path.join(c.home, "ecs-token"), tok + "\n")
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                  "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
                  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tf}, name="container file")
    expect("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins over the variable", got,
           got[0] == 0 and caller(got[1]) == user_arn("container-user"))
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                  "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"}, name="container bad token")
    expect("container endpoint refusing the token: exit 20 with the status", got,
           got[0] == 20 and "HTTP 401" in got[2])
    ctl(c.urls, "reset", {})
    got = run(c, {"AWS_REGION": "us-east-1",
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://0.0.0.0:9/creds"}, name="container url")  # not loopback by name; stays local if ever sent
    expect("FULL_URI over plain http to a non-loopback host is refused before any request", got,
           got[0] == 20 and "must be an https URL" in got[2]
           and not [e for e in ctl(c.urls, "log") if e.get("kind") == "container"])
    # refresh: credentials expiring within 5 minutes are fetched again before signing, but not
    # right after they were fetched unless they are about to lapse (30 s)
    for expires_in, want in ((120, 1), (20, 3)):
        ctl(c.urls, "reset", {})
        ctl(c.urls, "config", {"containers": {"task": {"token": None, "creds": U["container"],
                                                       "expires_in": expires_in}}})
        got = run(c, {"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": url},
                  name="refresh")
        hits = [e for e in ctl(c.urls, "log") if e.get("kind") == "container"]
        expect("credentials lapsing in %d s: fetched %d time(s) for one --check" % (expires_in, want),
               got, got[0] == 0 and len(hits) == want, " hits %d" % len(hits))
    # --aws-instance-profile: the environment is ignored
    ctl(c.urls, "config", {"containers": {"task": {"token": None, "creds": U["container"]}}})
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": url,
                  "AWS_ACCESS_KEY_ID": U["env"]["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": U["env"]["SecretAccessKey"]},
              ["--aws-instance-profile"], name="instance profile")
    expect("--aws-instance-profile skips the environment", got,
           got[0] == 0 and caller(got[1]) == user_arn("container-user"))
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": U["env"]["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": U["env"]["SecretAccessKey"]},
              ["--aws-instance-profile"], name="instance profile none")
    expect("--aws-instance-profile with neither: exit 20", got,
           got[0] == 20 and "--aws-instance-profile: no container or instance credentials" in got[2])


def t_imds(c):
    U = c.users
    reset_home(c)
    ctl(c.urls, "config", {"imds": {"role": "web-instance", "creds": U["imds"], "region": "us-west-1"}})
    env = {"AWS_EC2_METADATA_DISABLED": None, "AWS_EC2_METADATA_SERVICE_ENDPOINT": c.urls["imds"]}
    got = run(c, env, name="imds")
    log = [e for e in ctl(c.urls, "log") if e.get("kind") == "imds"]
    expect("IMDSv2: region and role credentials from instance metadata", got,
           got[0] == 0 and caller(got[1]) == user_arn("imds-user")
           and "region:       us-west-1 (from EC2 instance metadata)" in got[1]
           and "EC2 instance metadata (IMDSv2, role web-instance)" in got[1])
    expect("IMDSv2: a token PUT with a TTL first, every GET carries the token", got,
           log and log[0]["method"] == "PUT" and log[0].get("ttl") == "21600"
           and all(e.get("imds_token_ok") for e in log if e["method"] == "GET"))
    got = run(c, dict(env, AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1"), name="imds off")
    expect("AWS_EC2_METADATA_DISABLED=true: IMDS is not asked", got,
           got[0] == 20 and "AWS_EC2_METADATA_DISABLED" in got[2])
    ctl(c.urls, "config", {"imds": {"role": None}})
    got = run(c, dict(env, AWS_REGION="us-east-1"), name="imds no role")
    expect("IMDS without an instance role: exit 20, says so", got,
           got[0] == 20 and "no instance role" in got[2])


def t_region(c):
    U = c.users
    reset_home(c)
    write(os.path.join(c.home, ".aws", "config"), "[default]\nregion = ap-south-1\n")
    keys = {"AWS_ACCESS_KEY_ID": U["env"]["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": U["env"]["SecretAccessKey"]}
    cases = [
        ("-r beats AWS_REGION", dict(keys, AWS_REGION="eu-west-1"), ["-r", "eu-west-2"],
         "eu-west-2 (from -r/--region)"),
        ("AWS_REGION beats AWS_DEFAULT_REGION", dict(keys, AWS_REGION="eu-west-1",
                                                     AWS_DEFAULT_REGION="eu-west-3"), [],
         "eu-west-1 (from AWS_REGION)"),
        ("AWS_DEFAULT_REGION beats the profile", dict(keys, AWS_DEFAULT_REGION="eu-west-3"), [],
         "eu-west-3 (from AWS_DEFAULT_REGION)"),
        ("the profile's region", dict(keys), [], "ap-south-1 (from profile default)"),
    ]
    for name, env, args, want in cases:
        got = run(c, env, args, name=name)
        expect("region: " + name, got, got[0] == 0 and ("region:       " + want) in got[1])
    os.remove(os.path.join(c.home, ".aws", "config"))
    got = run(c, keys, name="no region")
    expect("no region anywhere: exit 3 naming where it looked", got,
           got[0] == 3 and "no AWS region" in got[2] and "AWS_DEFAULT_REGION" in got[2]
           and ".aws/config" in got[2])
    got = run(c, dict(keys, AWS_REGION="cn-north-1", AWS_ENDPOINT_URL_STS=None,
                      AWS_ENDPOINT_URL="http://127.0.0.1:%d" % free_port()), name="cn")
    expect("unreachable STS: exit 22", got, got[0] == 22)


def t_cli_surface(c):
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=20)
    report("--help lists --check", p.returncode == 0 and "--check " in p.stdout, p.stdout[-300:])
    reset_home(c)
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": c.users["env"]["AccessKeyId"],
                  "AWS_SECRET_ACCESS_KEY": c.users["env"]["SecretAccessKey"]},
              ["-c", "x", "--run-task", "--launch-type", "FARGATE"], name="check first")
    expect("--check runs before the -n/-d validation (no exit 5)", got,
           got[0] == 0 and caller(got[1]) == user_arn("env-user"))


def t_nothing(c):
    reset_home(c)
    got = run(c, {"AWS_REGION": "us-east-1"}, name="nothing")
    expect("no credentials anywhere: exit 20 listing every source", got,
           got[0] == 20 and "no AWS credentials found; looked at: environment" in got[2]
           and "web identity" in got[2] and "shared files" in got[2] and "container" in got[2]
           and "EC2 instance metadata" in got[2])
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDONLY"}, name="partial")
    expect("AWS_ACCESS_KEY_ID without the secret: exit 20", got,
           got[0] == 20 and "AWS_SECRET_ACCESS_KEY is not" in got[2])
    got = run(c, {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000",
                  "AWS_SECRET_ACCESS_KEY": plant("PLANTED-unknown-secret")}, name="unknown key")
    report("--check with keys moto does not know still prints its default identity",
           got[0] == 0, "rc %d" % got[0])


def build_sesscall(c):
    exe = os.path.join(c.tmp, "sesscall")
    root = os.path.dirname(HERE)
    r = subprocess.run(["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
                        "-Wno-unused-function", "-I" + os.path.join(root, "vendor/bearssl/inc"),
                        "-I" + os.path.join(root, "vendor/jsmn"), "-O1", "-o", exe,
                        os.path.join(root, "tests/tools/sesscall.c"),
                        os.path.join(root, "vendor/build/host/libbearssl.a")],
                       capture_output=True, text=True, timeout=180)
    return exe if r.returncode == 0 else None, r.stderr[-500:]


def t_simulator_mode(c):
    """ecssim.py starts authsvc itself (built-in STS, keys registered with the simulator)."""
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "sim", "ecssim.py")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        urls = json.loads(p.stdout.readline())
        reset_home(c)
        env = {"AWS_REGION": urls.get("region", "us-east-1"), "AWS_ENDPOINT_URL_STS": urls["sts"],
               "AWS_CONTAINER_CREDENTIALS_FULL_URI": urls["ecs_creds_default"]}
        got = run(c, env, ["-a", "arn:aws:iam::123456789012:role/deployer"], name="simulator")
        expect("simulator: container credentials then -a through the built-in STS", got,
               got[0] == 0 and "assumed-role/deployer/ecs-deploy-" in (caller(got[1]) or "")
               and "assumed with container credentials" in got[1])
        exe, why = build_sesscall(c)
        report("tests/tools/sesscall.c builds", exe is not None, why)
        if exe is None:
            return
        senv = {"HOME": c.home, "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
        senv.update(env)

        def sess(args, extra=None):
            e = dict(senv, **(extra or {}))
            r = subprocess.run([exe, "-v", "--endpoint-url", urls["ecs"].replace("127.0.0.1", "localhost"),
                                "--ca-bundle", urls["ca"]]
                               + args, env=e, capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout, r.stderr

        got = sess(["ListClusters", "{}"])
        expect("deploy path: the simulator's ECS accepts the container credentials (signature checked)",
               got, got[0] == 0 and "clusterArns" in got[1])
        got = sess(["-a", "arn:aws:iam::123456789012:role/deployer", "ListClusters", "{}"])
        expect("deploy path: -a keys from the built-in STS sign ECS calls the simulator accepts",
               got, got[0] == 0 and "clusterArns" in got[1] and "(-a) assumed with container" in got[2])
        ctl(urls, "config", {"containers": {"short": {
            "token": None, "issue": "arn:aws:sts::123456789012:assumed-role/task/short", "expires_in": 6}}})
        got = sess(["-n", "2", "--sleep-ms", "7000", "ListClusters", "{}"],
                   {"AWS_CONTAINER_CREDENTIALS_FULL_URI": urls["ecs_creds"] + "short"})
        issued = [e for e in ctl(urls, "log") if e.get("kind") == "container-issued"]
        expect("deploy path: keys that lapse during a wait are replaced before the next call "
               "(the old ones are refused by then)", got,
               got[0] == 0 and len(issued) >= 3 and "clusterArns" in got[1], " issued %d" % len(issued))
    finally:
        p.kill()
        p.wait()


def main():
    if not os.access(BIN, os.X_OK):
        report("ecs-deploy binary is built", False, BIN)
        return 1
    moto, moto_url = start_moto()
    urls, srv, _ = authsvc.serve(moto_url=moto_url)
    c = Ctx()
    c.urls = urls
    c.tmp = tempfile.mkdtemp(prefix="ecsdeploy-creds-")
    c.home = os.path.join(c.tmp, "home")
    iam = iam_client(moto_url)
    c.users = {k: make_user(iam, k + "-user") for k in
               ("env", "arg", "file", "proc", "container", "imds")}
    # the metadata sources also hand out a session token: plant one in each
    c.users["container"]["Token"] = plant("PLANTED-container-session-token-Zq1")
    c.users["imds"]["Token"] = plant("PLANTED-imds-session-token-Xw2")
    c.roles = {"gh": make_role(iam, "gh-deploy"), "a": make_role(iam, "chain-a"),
               "b": make_role(iam, "chain-b"), "deployer": make_role(iam, "deployer")}
    deadline = time.time() + 240
    try:
        for t in (t_sources, t_process, t_web_identity, t_roles, t_assume_flag, t_container,
                  t_imds, t_region, t_nothing, t_cli_surface, t_simulator_mode):
            if time.time() > deadline:
                report(t.__name__, False, "out of time")
                continue
            try:
                t(c)
            except Exception as ex:  # a broken case must not hide the others
                report(t.__name__, False, "raised %r" % ex)
        report("no planted or issued secret appears in any output (%d secrets, -v, every path)"
               % len(SECRETS), not LEAKS, "; ".join(LEAKS[:3]))
    finally:
        srv.shutdown()
        moto.stop()
        shutil.rmtree(c.tmp, ignore_errors=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
