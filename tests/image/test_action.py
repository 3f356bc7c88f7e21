#!/usr/bin/env python3
"""test_action.py — action.yml against the real tool.

Run from the repository root (./build.sh test does; $ECSDEPLOY_BIN names the binary).
  - action.yml is a Docker action built from a file GitHub accepts (name ends in
    "Dockerfile") whose build stage is Dockerfile.scratch's, line for line;
  - every input is a real flag of the tool (flags read from `ecs-deploy --help`), every
    flag has an input, except --help/--version and the secret flags -k/-s, which must not;
  - each value input becomes one "--flag=value" argument or an empty one, each boolean
    one "--flag=true|false";
  - then GitHub's expression evaluation is simulated (the forms action.yml uses:
    inputs.NAME, '...' strings, &&, ||, !, format(), parentheses) for several input sets,
    and the real binary runs with the resulting arguments, in a network namespace of its
    own when unshare(1) allows it (so nothing it does can leave this machine);
  - with GITHUB_ACTIONS=true, deployments against the ECS simulator (loopback) through the
    arguments action.yml gives: $GITHUB_OUTPUT gets task-definition-arn, deployment-id and
    status, $GITHUB_STEP_SUMMARY a summary, stdout ::error:: lines on failure.
Prints PASS:/FAIL: lines.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("ECSDEPLOY_BIN", os.path.abspath("ecs-deploy"))
failures = 0


def check(name, cond, why=""):
    global failures
    if cond:
        print("PASS: %s" % name)
    else:
        failures += 1
        print("FAIL: %s%s" % (name, ": " + why if why else ""))


try:
    import yaml
except ImportError:  # the machines' Python has PyYAML; say so plainly if one does not
    print("FAIL: action.yml: PyYAML is not importable by %s" % sys.executable)
    sys.exit(1)

# ---- the tool's flags, from its own help text -------------------------------------------
HELP_RE = re.compile(r"^ {4}(?:(-\w+) \| )?(--[A-Za-z_-]+)(?: (\S+))?(?: {2,}|$)")


def tool_flags():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10).stdout
    flags = {}
    for line in out.splitlines():
        m = HELP_RE.match(line)
        if m:
            short, long_, metavar = m.groups()
            flags[long_] = {"short": short, "value": metavar is not None}
    return flags


# ---- a small evaluator for GitHub's expression language -------------------------------
TOKEN_RE = re.compile(r"\s*(?:(\|\||&&|==|!=|[!(),])|'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_.-]*))")


class Expr:
    """Recursive descent over: or := and ('||' and)*; and := not ('&&' not)*;
    not := '!' not | primary; primary := string | ident | call | '(' or ')'."""

    def __init__(self, text, inputs):
        self.toks, self.i, self.inputs = [], 0, inputs
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = TOKEN_RE.match(text, pos)
            if not m or m.end() == pos:
                raise ValueError("cannot read expression at %r" % text[pos:])
            op, s, ident = m.groups()
            if op:
                self.toks.append(("op", op))
            elif s is not None:
                self.toks.append(("str", s.replace("''", "'")))
            else:
                self.toks.append(("id", ident))
            pos = m.end()
            while pos < len(text) and text[pos].isspace():
                pos += 1

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, kind=None, val=None):
        t = self.peek()
        if (kind and t[0] != kind) or (val and t[1] != val):
            raise ValueError("expected %s %s, got %r" % (kind, val, t))
        self.i += 1
        return t

    def run(self):
        v = self.or_()
        if self.i != len(self.toks):
            raise ValueError("trailing tokens: %r" % self.toks[self.i:])
        return v

    def or_(self):
        v = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            r = self.and_()
            v = v if truthy(v) else r
        return v

    def and_(self):
        v = self.not_()
        while self.peek() == ("op", "&&"):
            self.take()
            r = self.not_()
            v = r if truthy(v) else v
        return v

    def not_(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.not_())
        return self.primary()

    def primary(self):
        kind, val = self.peek()
        if kind == "str":
            self.take()
            return val
        if kind == "op" and val == "(":
            self.take()
            v = self.or_()
            self.take("op", ")")
            return v
        if kind == "id":
            self.take()
            if self.peek() == ("op", "("):
                return self.call(val)
            if val in ("true", "false"):
                return val == "true"
            if val == "null":
                return None
            ctx, _, name = val.partition(".")
            if ctx != "inputs" or not name:
                raise ValueError("unsupported context %r" % val)
            return self.inputs.get(name, "")
        raise ValueError("unexpected %r" % ((kind, val),))

    def call(self, fn):
        self.take("op", "(")
        args = [self.or_()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.or_())
        self.take("op", ")")
        if fn.lower() != "format":
            raise ValueError("unsupported function %s" % fn)
        fmt, rest = args[0], [to_str(a) for a in args[1:]]
        # {N} is replaced, {{ and }} are literal braces
        return re.sub(r"\{\{|\}\}|\{(\d+)\}",
                      lambda m: m.group(0)[0] if m.group(1) is None else rest[int(m.group(1))], fmt)


def truthy(v):
    return not (v is None or v is False or v == "" or (isinstance(v, (int, float)) and v == 0))


def to_str(v):
    if v is None:
        return ""
    if v is True or v is False:
        return "true" if v else "false"
    return str(v)


def render(template, inputs):
    """A runs.args entry: text with ${{ expr }} parts, as the runner evaluates it
    (a '}}' inside a quoted string does not end the expression)."""
    out, i = [], 0
    while True:
        j = template.find("${{", i)
        if j < 0:
            return "".join(out) + template[i:]
        out.append(template[i:j])
        k, quoted = j + 3, False
        while k < len(template) and (quoted or not template.startswith("}}", k)):
            if template[k] == "'":
                quoted = not quoted  # '' inside a string toggles twice: still inside
            k += 1
        if k >= len(template):
            raise ValueError("unterminated ${{ in %r" % template)
        out.append(to_str(Expr(template[j + 3:k], inputs).run()))
        i = k + 2


def action_args(action, given):
    inputs = {k: (v.get("default", "") if isinstance(v, dict) else "") for k, v in action["inputs"].items()}
    inputs = {k: to_str(v) for k, v in inputs.items()}
    inputs.update(given)
    return [render(str(a), inputs) for a in action["runs"]["args"]]


# ---- running the binary, isolated ------------------------------------------------------
def can_unshare():
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


UNSHARE = can_unshare()
TMP = tempfile.mkdtemp(prefix="ecs-deploy-action-")


def run_tool(args):
    """The binary with the action's argument list and an environment like a runner's
    (no credentials, instance metadata off, GITHUB_OUTPUT to a scratch file)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": TMP, "GITHUB_ACTIONS": "true",
           "GITHUB_OUTPUT": os.path.join(TMP, "github_output"), "AWS_EC2_METADATA_DISABLED": "true"}
    cmd = (["unshare", "--net"] if UNSHARE else []) + [BIN] + args
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


VALIDATION_CODES = {3, 5, 6, 7, 8, 9, 10, 11, 12, 13}
MSG7 = "CLUSTER is required. You can pass the value using -c or --cluster"


def stage(path, name):
    lines, keep = [], False
    for line in open(path):
        if line.startswith("FROM "):
            keep = line.split()[-1] == name and " AS " in line
        if keep:
            lines.append(line.rstrip("\n"))
    return lines


# ---- the action's outputs, from deployments against the ECS simulator -------------------------
AKID, SECRET = "AKIDSIMULATOR0000001", "simulator/secret/key/0000000000000000001"
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:"


def start_sim():
    """tests/sim/ecssim.py on loopback (scenario demo.json: cluster demo, service web on
    registry.example.com/acme/web:1.0); returns (process, urls)."""
    import json
    p = subprocess.Popen([sys.executable, os.path.join("tests", "sim", "ecssim.py"), "--scenario",
                          os.path.join("tests", "sim", "scenarios", "demo.json"), "--speed", "300"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line:
        p.kill()
        return None, None
    return p, json.loads(line)


def read_outputs(path):
    """$GITHUB_OUTPUT as the runner reads it: NAME=VALUE lines (and NAME<<EOF blocks)."""
    out, lines, i = {}, open(path).read().splitlines(), 0
    while i < len(lines):
        l = lines[i]
        if "<<" in l and ("=" not in l or l.index("<<") < l.index("=")):
            name, delim = l.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1:j])
            i = j + 1
            continue
        name, _, val = l.partition("=")
        out[name] = val
        i += 1
    return out


def simulator_cases(action):
    """GITHUB_ACTIONS=true: the real binary, with the arguments action.yml gives for the inputs,
    writes task-definition-arn, deployment-id and status to $GITHUB_OUTPUT, a summary to
    $GITHUB_STEP_SUMMARY, and ::error:: lines on failure — one successful deployment and two
    failing ones (no container matches; the rollout fails and ECS rolls back)."""
    if not os.path.isfile(os.path.join("tests", "sim", "ecssim.py")):
        print("SKIP: action outputs against the simulator: tests/sim is not in this tree")
        return
    sim, urls = start_sim()
    check("action outputs: the ECS simulator starts", sim is not None)
    if sim is None:
        return
    import json
    import urllib.request

    def sim_get(path):
        with urllib.request.urlopen(urls["control"] + path, timeout=30) as f:
            return json.loads(f.read())
    try:
        base = {"cluster": "demo", "service-name": "web", "region": "us-east-1", "timeout": "60",
                "poll-interval": "0.25", "endpoint-url": urls["ecs"].replace("127.0.0.1", "localhost"),
                "ca-bundle": urls["ca"]}
        go, gs = os.path.join(TMP, "github_output"), os.path.join(TMP, "step_summary")

        def deploy(image, **more):
            for f in (go, gs):   # the runner gives each step fresh, empty files
                open(f, "w").close()
            argv = action_args(action, dict(base, image=image, **more))
            env = {"PATH": "/usr/bin:/bin", "HOME": TMP, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": go,
                   "GITHUB_STEP_SUMMARY": gs, "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET,
                   "AWS_EC2_METADATA_DISABLED": "true"}
            p = subprocess.run([BIN] + argv, capture_output=True, text=True, env=env, timeout=120)
            return p.returncode, p.stdout, p.stderr, read_outputs(go), open(gs).read()

        rc, out, err, o, summ = deploy("registry.example.com/acme/web:2.0")
        why = "exit %d outputs %r\nstdout %s\nstderr %s" % (rc, o, out[-1500:], err[-500:])
        svc = [s for s in sim_get("/state")["services"] if s["serviceName"] == "web"][0]
        primary = [d["id"] for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"]
        check("action outputs: a successful deployment exits 0 with 'Service deployment successful.'",
              rc == 0 and "Service deployment successful." in out, why)
        check("action outputs: task-definition-arn is the new revision (%s)" % o.get("task-definition-arn"),
              o.get("task-definition-arn") == TD + "2", why)
        check("action outputs: deployment-id is the service's PRIMARY deployment in ECS (%s)" % o.get("deployment-id"),
              bool(primary) and o.get("deployment-id") == primary[0], "ECS has %r; %s" % (primary, why))
        check("action outputs: status=deployed", o.get("status") == "deployed", why)
        check("action outputs: exactly the three outputs are written", sorted(o) == ["deployment-id", "status",
                                                                                 "task-definition-arn"], why)
        check("action outputs: the step summary names the status, the new revision and the deployment",
              "deployed" in summ and TD + "2" in summ and o.get("deployment-id", "-") in summ, summ)
        check("action outputs: no ::error:: line on success", "::error::" not in out + err, out)

        rc, out, err, o, summ = deploy("ghcr.io/x/y:1")
        why = "exit %d outputs %r\nstdout %s\nstderr %s" % (rc, o, out[-1500:], err[-500:])
        errs = [l for l in out.splitlines() if l.startswith("::error::")]
        check("action outputs: an image matching no container exits 14 with one ::error:: line on stdout",
              rc == 14 and len(errs) == 1 and "matched no container" in errs[0], why)
        check("action outputs: ... status=no-match and no revision nor deployment",
              o.get("status") == "no-match" and not o.get("task-definition-arn") and not o.get("deployment-id"), why)
        check("action outputs: ... the summary says no-match and the reason",
              "no-match" in summ and "matched no container" in summ, summ)
        check("action outputs: ... the summary leaves out what the run did not get to (no empty code spans)",
              "``" not in summ and "| task definition |" not in summ, summ)

        rc, out, err, o, summ = deploy("registry.example.com/acme/web:bad")   # its pull fails
        why = "exit %d outputs %r\nstdout %s\nstderr %s" % (rc, o, out[-1500:], err[-500:])
        errs = [l for l in out.splitlines() if l.startswith("::error::")]
        check("action outputs: a rollout ECS fails and rolls back exits 15 with an ::error:: line naming the rollback",
              rc == 15 and len(errs) == 1 and "rolled the service back" in errs[0], why)
        check("action outputs: ... status=failed, task-definition-arn is the failed revision, deployment-id is set",
              o.get("status") == "failed" and o.get("task-definition-arn") == TD + "3"
              and o.get("deployment-id", "").startswith("ecs-svc/"), why)
        check("action outputs: ... the summary says failed", "failed" in summ and TD + "3" in summ, summ)
    finally:
        sim.kill()
        sim.wait()


def main():
    action = yaml.safe_load(open("action.yml"))
    flags = tool_flags()
    check("the tool's --help lists its flags (found %d)" % len(flags), len(flags) >= 40, str(sorted(flags)))

    # ---- shape ----
    runs = action.get("runs", {})
    check("runs.using is docker", runs.get("using") == "docker", str(runs.get("using")))
    img = str(runs.get("image", ""))
    check("runs.image '%s' is a file GitHub builds (name ends in Dockerfile) and exists" % img,
          img.endswith("Dockerfile") and os.path.isfile(img))
    if os.path.isfile(img):
        a, b = stage(img, "build"), stage("Dockerfile.scratch", "build")
        check("%s's build stage is Dockerfile.scratch's, line for line (%d lines)" % (img, len(b)),
              a == b and len(b) > 3 and any("./build.sh" in x for x in b),
              "\n".join(x for x in a if x not in b) or "missing lines")
        final = open(img).read().split("FROM scratch", 1)[-1]
        check("%s's final stage runs as root (no USER), as GitHub requires" % img,
              not re.search(r"^USER\b", final, re.M))
        check("%s's entrypoint is the binary" % img, 'ENTRYPOINT ["/ecs-deploy"]' in final)
    for o in ("task-definition-arn", "deployment-id", "status"):
        check("output %s is declared" % o, o in (action.get("outputs") or {}))
    check("name and description are set", bool(action.get("name")) and bool(action.get("description")))

    # ---- inputs <-> flags ----
    not_inputs = {"--help", "--version", "--aws-access-key", "--aws-secret-key"}
    inputs = action.get("inputs") or {}
    args = [str(a) for a in runs.get("args", [])]
    value_re = re.compile(r"^\$\{\{ inputs\.([A-Za-z0-9_-]+) && format\('(--[A-Za-z_-]+)=\{0\}', inputs\.\1\) \|\| '' \}\}$")
    bool_re = re.compile(r"^(--[A-Za-z_-]+)=\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\}$")
    mapped = {}  # input -> flag
    for a in args:
        m, n = value_re.match(a), bool_re.match(a)
        if m:
            inp, flag, kind = m.group(1), m.group(2), "value"
        elif n:
            inp, flag, kind = n.group(2), n.group(1), "bool"
        else:
            check("runs.args entry has one of the two forms", False, a)
            continue
        check("input %s -> %s is a flag of the tool" % (inp, flag), flag in flags)
        if flag in flags:
            check("input %s is passed as a %s, as %s takes %s" % (inp, kind, flag,
                  "a value" if flags[flag]["value"] else "no value"),
                  (kind == "value") == flags[flag]["value"])
        check("input %s is named after %s" % (inp, flag), inp == flag[2:].replace("_", "-"))
        check("input %s exists and is used once" % inp, inp in inputs and inp not in mapped)
        if kind == "bool":
            check("boolean input %s defaults to 'false'" % inp, str(inputs.get(inp, {}).get("default")) == "false")
        mapped[inp] = flag
    for flag in sorted(flags):
        if flag in not_inputs:
            check("%s is not an input (credentials come from the environment)" % flag
                  if "aws" in flag else "%s is not an input" % flag, flag not in mapped.values())
        else:
            check("flag %s has an input" % flag, flag in mapped.values())
    for inp in inputs:
        check("input %s is passed to the tool" % inp, inp in mapped)
    check("no input is required (the tool validates, with its own messages and codes)",
          all(not v.get("required") for v in inputs.values()))

    # ---- the evaluator itself ----
    e = {"x": "v", "empty": "", "zero": "0"}
    check("evaluator: && / || / format behave as GitHub's",
          render("${{ inputs.x && format('--f={0}', inputs.x) || '' }}", e) == "--f=v"
          and render("${{ inputs.empty && format('--f={0}', inputs.empty) || '' }}", e) == ""
          and render("${{ inputs.zero && format('--f={0}', inputs.zero) || '' }}", e) == "--f=0"
          and render("--b=${{ inputs.empty }}", e) == "--b="
          and render("${{ !inputs.empty }}", e) == "true"
          and render("${{ format('{{{0}}}', 'a''b') }}", e) == "{a'b}")

    # ---- input sets through the real binary ----
    def case(name, given, want_rc=None, out_has=None, err_has=None, not_rc=None, argv_has=(), argv_lacks=()):
        argv = action_args(action, given)
        rc, out, err = run_tool(argv)
        why = "exit %d; stdout %r; stderr %r; args %r" % (rc, out[-300:], err[-300:], [a for a in argv if a])
        good = True
        if want_rc is not None:
            good &= rc == want_rc
        if not_rc is not None:
            good &= rc not in not_rc
        if out_has:
            good &= out_has in out
        if err_has:
            good &= err_has in err
        good &= all(a in argv for a in argv_has)
        good &= all(not any(x.startswith(p) for x in argv) for p in argv_lacks)
        check("action run: " + name, good, why)

    print("note: the binary runs %s" % ("in its own network namespace" if UNSHARE else "WITHOUT a network namespace (unshare unavailable)"))
    case("all inputs empty: every boolean=false is accepted, exit 5 (neither service nor task definition)",
         {}, 5, out_has="One of SERVICE or TASK DEFINITION is required",
         argv_has=["--enable-rollback=false", "--run-task=false"], argv_lacks=["--cluster", "--image"])
    case("service-name and image without cluster: no --cluster argument, exit 7 with the CLUSTER message",
         {"service-name": "svc", "image": "nginx"}, 7, out_has=MSG7,
         argv_has=["--service-name=svc", "--image=nginx"], argv_lacks=["--cluster"])
    case("cluster given as '' is dropped, not passed as --cluster= (exit 7)",
         {"service-name": "svc", "image": "nginx", "cluster": ""}, 7, out_has=MSG7, argv_lacks=["--cluster"])
    case("empty image is dropped (exit 8, IMAGE is required; --image= would be exit 13)",
         {"cluster": "c", "service-name": "svc", "image": ""}, 8, out_has="IMAGE is required")
    case("a full service deploy passes validation; desired-count '0' is kept; enable-rollback=true accepted",
         {"cluster": "prod", "service-name": "api", "image": "ghcr.io/org/api:v2", "enable-rollback": "true",
          "timeout": "300", "desired-count": "0", "min": "50", "max": "200", "region": "us-east-1",
          "endpoint-url": "http://127.0.0.1:9", "verbose": "true", "skip-deployments-check": "false"},
         not_rc=VALIDATION_CODES,
         argv_has=["--desired-count=0", "--enable-rollback=true", "--timeout=300", "--cluster=prod",
                   "--endpoint-url=http://127.0.0.1:9", "--min=50", "--max=200"])
    case("enable-rollback 'maybe' is a usage error naming the flag (exit 3)",
         {"cluster": "c", "service-name": "s", "image": "nginx", "enable-rollback": "maybe"}, 3,
         err_has="--enable-rollback expects true or false")
    case("launch-type without run-task: exit 10 (run-task=false is false)",
         {"task-definition": "fam", "image": "nginx", "launch-type": "FARGATE"}, 10, out_has="LAUNCH TYPE requires")
    case("wait-for-success without run-task: exit 11",
         {"task-definition": "fam", "image": "nginx", "wait-for-success": "true"}, 11, out_has="WAIT FOR SUCCESS")
    case("platform-version without run-task: exit 12",
         {"task-definition": "fam", "image": "nginx", "platform-version": "1.4.0"}, 12, out_has="PLATFORM VERSION")
    case("run-task true without cluster: exit 7",
         {"task-definition": "fam", "image": "nginx", "run-task": "true"}, 7, out_has=MSG7)
    netconf = '{"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}'
    case("a JSON network configuration with spaces and quotes is one argument; run-task passes validation",
         {"cluster": "c", "task-definition": "migrate", "image": "app:1", "run-task": "true",
          "wait-for-success": "true", "launch-type": "FARGATE", "network-configuration": netconf,
          "region": "us-east-1", "endpoint-url": "http://127.0.0.1:9"},
         not_rc=VALIDATION_CODES, argv_has=["--network-configuration=" + netconf, "--launch-type=FARGATE"])
    case("bad timeout is a usage error (exit 3)",
         {"cluster": "c", "service-name": "s", "image": "nginx", "timeout": "soon"}, 3, err_has="TIMEOUT")
    case("max-definitions 'x': exit 9",
         {"cluster": "c", "service-name": "s", "image": "nginx", "max-definitions": "x"}, 9,
         out_has="MAX_DEFINITIONS must be numeric")
    case("unparseable image: exit 13",
         {"cluster": "c", "service-name": "s", "image": "x:y/z"}, 13, out_has="Unable to parse image name: x:y/z")
    case("container-image alone satisfies the image requirement",
         {"cluster": "c", "service-name": "s", "container-image": "web=nginx:1.25", "region": "us-east-1",
          "endpoint-url": "http://127.0.0.1:9"}, not_rc=VALIDATION_CODES,
         argv_has=["--container-image=web=nginx:1.25"])
    case("tag-only with image 'ignore' and container names pass validation",
         {"cluster": "c", "service-name": "s", "image": "ignore", "tag-only": "0.1.899",
          "tag-only-container-names": "web,worker", "region": "us-east-1", "endpoint-url": "http://127.0.0.1:9"},
         not_rc=VALIDATION_CODES, argv_has=["--tag-only=0.1.899", "--tag_only_container_names=web,worker"])
    case("a bad tag-only tag: exit 13",
         {"cluster": "c", "service-name": "s", "image": "ignore", "tag-only": "bad tag"}, 13)
    case("render and dry-run both true: usage error (exit 3)",
         {"task-definition": "fam", "image": "nginx", "render": "true", "dry-run": "true"}, 3,
         err_has="--render and --dry-run cannot be combined")
    case("output 'yaml' is rejected (exit 3)",
         {"cluster": "c", "service-name": "s", "image": "nginx", "output": "yaml"}, 3, err_has="--output must be")
    simulator_cases(action)

    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
