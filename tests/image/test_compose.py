#!/usr/bin/env python3
"""test_compose.py — docker-compose.yml and local.env.dist.

Run from the repository root (./build.sh test does; $ECSDEPLOY_BIN names the binary).
  - local.env.dist names only variables the tool reads (behaviour specification §7, plus
    the GitHub Actions ones), with no values; the three it sets are named in the tool
    itself (its help text);
  - local.env is git-ignored and kept out of image builds by .dockerignore;
  - docker-compose.yml has one service that builds Dockerfile.scratch, takes its
    environment from local.env only, and does not override the image's entrypoint or user.
(tests/image/test_image.sh runs the image with --env-file local.env.dist and the compose
service's runtime settings, so a real container engine parses both.)
Prints PASS:/FAIL: lines.
"""

import fnmatch
import os
import re
import subprocess
import sys

BIN = os.environ.get("ECSDEPLOY_BIN", os.path.abspath("ecs-deploy"))
failures = 0

# What the tool reads from the environment (§7.1 credentials, §7.2 region and endpoints,
# §7.3 transport; GitHub Actions outputs).
TOOL_ENV = {
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_DISABLED",
    "AWS_REGION", "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS", "AWS_ENDPOINT_URL_STS",
    "AWS_CA_BUNDLE", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "AWS_MAX_ATTEMPTS",
    "GITHUB_ACTIONS", "GITHUB_OUTPUT",
}


def check(name, cond, why=""):
    global failures
    if cond:
        print("PASS: %s" % name)
    else:
        failures += 1
        print("FAIL: %s%s" % (name, ": " + why if why else ""))


def env_dist():
    """(name, value, commented) for each NAME=value line, commented out or not."""
    entries, bad = [], []
    for n, line in enumerate(open("local.env.dist"), 1):
        line = line.rstrip("\n")
        m = re.match(r"^(# ?)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if m:
            entries.append((m.group(2), m.group(3), bool(m.group(1))))
        elif line.strip() and not line.startswith("#"):
            bad.append("%d: %s" % (n, line))
    return entries, bad


def dockerignore_excludes(path):
    """Docker's rule: the last matching pattern wins; '!' re-includes."""
    excluded = False
    for pat in open(".dockerignore"):
        pat = pat.strip()
        if not pat or pat.startswith("#"):
            continue
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        if fnmatch.fnmatch(path, pat.strip("/")) or path.startswith(pat.strip("/") + "/"):
            excluded = not neg
    return excluded


def main():
    entries, bad = env_dist()
    names = [e[0] for e in entries]
    check("local.env.dist has only comments, blank lines and NAME= lines", not bad, "; ".join(bad))
    check("local.env.dist names %d variables" % len(names), len(names) >= 3)
    for name, value, commented in entries:
        check("local.env.dist: %s is a variable the tool reads (§7)" % name, name in TOOL_ENV)
        check("local.env.dist: %s has no value in the template" % name, value == "")
    active = [e[0] for e in entries if not e[2]]
    for need in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        check("local.env.dist sets %s" % need, need in active)
    binary = open(BIN, "rb").read()
    for name in active:
        check("the tool itself names %s (help text or code)" % name, name.encode() in binary)
    check("no variable is named twice", len(names) == len(set(names)))

    git = subprocess.run(["git", "check-ignore", "-q", "local.env"], capture_output=True)
    if git.returncode in (0, 1):
        check("local.env is git-ignored", git.returncode == 0)
    else:
        print("SKIP: local.env is git-ignored: not a git checkout")
    check("local.env stays out of image build contexts (.dockerignore)", dockerignore_excludes("local.env"))
    check(".dockerignore lets vendor/dl/ in and keeps vendor/build/ out",
          not dockerignore_excludes("vendor/dl/x.tar.xz") and dockerignore_excludes("vendor/build/musl/libbearssl.a")
          and dockerignore_excludes("vendor/bearssl/src/x.c"))

    try:
        import yaml
    except ImportError:
        check("docker-compose.yml: PyYAML is importable", False, sys.executable)
        return 1
    compose = yaml.safe_load(open("docker-compose.yml"))
    services = compose.get("services") or {}
    check("docker-compose.yml has one service (found %s)" % sorted(services), len(services) == 1)
    svc = next(iter(services.values()), {}) or {}
    build = svc.get("build") or {}
    check("the service builds Dockerfile.scratch from the repository root",
          isinstance(build, dict) and build.get("dockerfile") == "Dockerfile.scratch"
          and build.get("context") in (".", "./"), repr(build))
    env_file = svc.get("env_file")
    env_file = [env_file] if isinstance(env_file, str) else (env_file or [])
    check("the service reads its environment from local.env", "local.env" in env_file, repr(env_file))
    check("no credentials written into docker-compose.yml (no environment: block)", "environment" not in svc)
    check("the image's entrypoint is kept (no entrypoint: override)", "entrypoint" not in svc)
    user = str(svc.get("user", ""))
    check("the image's non-root user is kept (no user: override, or a numeric non-root one)",
          user == "" or (re.match(r"^[0-9]+(:[0-9]+)?$", user) and not user.startswith("0")), user)
    check("the container's root file system is read-only", svc.get("read_only") is True)
    check("compose mentions no secret-looking value", not re.search(r"(?i)(AKIA|ASIA)[A-Z0-9]{12,}",
                                                                    open("docker-compose.yml").read()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
