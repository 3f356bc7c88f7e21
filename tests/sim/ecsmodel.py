"""ECS control-plane model for the simulator: state, the ECS operations, and dynamics over a
simulated clock.

Everything here runs under one lock held by the caller (ecssim.py): `Sim.call(op, params)` for an
API operation, `Sim.advance_to(t)` to move the world forward. Time is a float of simulated epoch
seconds; the world is stepped in increments of at most one simulated second, so a clock jump of
an hour still walks every task through its lifecycle in order.

What is simulated (see README.md for the scenario keys):
- task definitions (revisions, ACTIVE/INACTIVE, tags), clusters, EC2 container instances with
  CPU/memory/host-port accounting, Fargate capacity;
- tasks: PROVISIONING -> PENDING -> RUNNING -> (DEACTIVATING ->) STOPPING -> STOPPED, container
  health checks, exit codes, stop codes, per-image and per-container behaviours;
- services with the ECS rolling scheduler (minimumHealthyPercent / maximumPercent, placement,
  draining), deployment circuit breaker with rollback, CloudWatch alarm rollback, and the native
  BLUE_GREEN / LINEAR / CANARY strategies with lifecycle stages and bake time;
- the service deployments API (service deployments and service revisions).
"""

import base64
import hashlib
import json
import math
import random
import re
import uuid

# --------------------------------------------------------------------------------------------
# errors and small helpers


class ApiError(Exception):
    """An AWS error answer: __type, message, HTTP status."""

    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def client_error(msg):
    return ApiError("ClientException", msg)


def invalid(msg):
    return ApiError("InvalidParameterException", msg)


LIVE = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")
STAGES_BG = ["RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
             "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
             "BAKE_TIME", "CLEAN_UP"]

DEFAULT_TIMINGS = {
    "provision_ec2": 2,        # PROVISIONING on EC2 (bridge/host)
    "provision_awsvpc": 15,     # PROVISIONING with an ENI to attach (awsvpc, Fargate)
    "pull": 10,                 # PENDING: image pull
    "stop": 10,                 # STOPPING -> STOPPED
    "deactivate": 5,           # DEACTIVATING (awsvpc) before STOPPING
    "exit_after": 10,          # default run time before an `exit:N` container exits
    "health_default_interval": 30,
    "stage": 3,                # BLUE_GREEN stages without their own duration
    "traffic_shift": 6,        # TEST / PRODUCTION traffic shift (BLUE_GREEN)
    "steady_after": 10,         # a deployment is COMPLETED this long after it became steady
    "retain_stopped": 3600,    # STOPPED tasks stay visible this long
    "event_repeat": 60,        # the same placement event again after this long
    "hook": 3,                 # an AWS_LAMBDA lifecycle hook answers after this long
}


def hex32():
    return uuid.uuid4().hex


def digits(n):
    return str(random.randint(10 ** (n - 1), 10 ** n - 1))


def short_id(arn):
    return arn.rsplit("/", 1)[-1]


def parse_resource(v, memory):
    """Task-level cpu/memory strings: "1024", "1 vCPU", "0.5 vcpu", "2 GB", "512 MiB"."""
    if v is None:
        return None
    if isinstance(v, int):
        return v
    s = str(v).strip().lower()
    m = re.match(r"^([0-9.]+)\s*([a-z]*)$", s)
    if not m:
        raise client_error("Invalid %s value: %s" % ("memory" if memory else "cpu", v))
    num, unit = float(m.group(1)), m.group(2)
    if unit in ("vcpu",):
        return int(num * 1024)
    if unit in ("gb", "gib"):
        return int(num * 1024)
    return int(num)


def ceil_pct(n, pct):
    return int(math.ceil(n * pct / 100.0 - 1e-9))


def floor_pct(n, pct):
    return int(math.floor(n * pct / 100.0 + 1e-9))


def image_repo(image):
    """registry/path without tag or digest (for the concurrent-deployment action)."""
    i = image.split("@", 1)[0]
    slash = i.rfind("/")
    colon = i.rfind(":")
    if colon > slash:
        i = i[:colon]
    return i


def make_token(offset, query):
    raw = json.dumps({"o": offset, "q": query}, sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode()


def read_token(token, query):
    try:
        d = json.loads(base64.urlsafe_b64decode(token.encode()))
        if d["q"] != query or not isinstance(d["o"], int) or d["o"] < 0:
            raise ValueError
        return d["o"]
    except Exception:
        raise invalid("Invalid nextToken.")


def page(items, params, query, default_max, limit=100, name="maxResults"):
    mx = params.get("maxResults")
    if mx is not None and (mx < 1 or mx > limit):
        raise invalid("%s must be between 1 and %d." % (name, limit))
    mx = mx or default_max
    off = 0
    if params.get("nextToken"):
        off = read_token(params["nextToken"], query)
    chunk = items[off:off + mx]
    nxt = make_token(off + mx, query) if off + mx < len(items) else None
    return chunk, nxt


# --------------------------------------------------------------------------------------------
# behaviours: what a container does when started (chosen per image / container by the scenario)


class Behaviour:
    """ok | ok:N (exits N when stopped) | pull_fail[:msg] | exit:N[@S] | unhealthy | oom[@S]"""

    def __init__(self, spec, timings):
        self.spec = spec or "ok"
        self.kind = "ok"
        self.code = None
        self.after = None
        self.stop_exit = 0
        self.msg = None
        s = self.spec
        if s.startswith("pull_fail"):
            self.kind = "pull_fail"
            if ":" in s:
                self.msg = s.split(":", 1)[1]
        elif s.startswith("exit:") or s.startswith("oom"):
            self.kind = "exit"
            body = s[5:] if s.startswith("exit:") else "137" + s[3:]
            if s.startswith("oom"):
                self.kind = "oom"
            if "@" in body:
                body, at = body.split("@", 1)
                self.after = float(at)
            self.code = int(body)
            if self.after is None:
                self.after = float(timings["exit_after"])
        elif s == "unhealthy":
            self.kind = "unhealthy"
        elif s.startswith("ok"):
            if ":" in s:
                self.stop_exit = int(s.split(":", 1)[1])
        else:
            raise ValueError("unknown behaviour %r" % s)


# --------------------------------------------------------------------------------------------
# the world


class Sim:
    def __init__(self, scenario, now):
        self.load(scenario, now)

    # ---- scenario ------------------------------------------------------------------------

    def load(self, sc, now):
        self.sc = sc
        self.t = now
        self.started_at = now
        self.region = sc.get("region", "us-east-1")
        self.account = str(sc.get("account", "123456789012"))
        self.timings = dict(DEFAULT_TIMINGS)
        self.timings.update(sc.get("timings", {}))
        self.images = dict(sc.get("images", {}))
        self.container_behaviour = dict(sc.get("containers", {}))
        self.default_behaviour = sc.get("default_behaviour", "ok")
        self.run_task_failures = list(sc.get("run_task_failures", []))
        self.cb_threshold = sc.get("circuit_breaker_threshold")
        self.alarm_states = dict(sc.get("alarms", {}))
        self.hooks = dict(sc.get("lifecycle_hooks", {}))   # stage -> "wait"
        self.lambda_hooks = dict(sc.get("lambda_hooks", {}))  # hook target ARN -> SUCCEEDED|FAILED|IN_PROGRESS
        self.registered_by = sc.get("registered_by", "arn:aws:iam::%s:user/ecs-deploy-test" % self.account)
        self.fargate_capacity = sc.get("fargate_capacity")  # max live Fargate tasks, None = unlimited
        self.clusters = {}
        self.families = {}      # family -> [td record]
        self.tasks = {}         # task arn -> Task (insertion order = creation order)
        self.services = {}      # service arn -> Service
        self.sds = {}           # service deployment arn -> ServiceDeployment
        self.revisions = {}     # service revision arn -> dict
        self.tags = {}          # arn -> [tags]
        self.actions = []       # pending scenario actions
        self.call_counts = {}
        for a in sc.get("actions", []):
            a = dict(a)
            if "at" in a:
                a["_due"] = now + float(a["at"])
            self.actions.append(a)
        for c in sc.get("clusters", [{"name": "default"}]):
            cl = self.create_cluster(c["name"], c.get("tags"))
            for grp in c.get("instances", []):
                for _ in range(int(grp.get("count", 1))):
                    self.add_instance(cl, grp.get("cpu", 2048), grp.get("memory", 3900),
                                      grp.get("attributes"))
        for td in sc.get("task_definitions", []):
            self.op_RegisterTaskDefinition(json.loads(json.dumps(td)))
        for s in sc.get("services", []):
            s = dict(s)
            steady = s.pop("steady", True)
            self.op_CreateService(s, steady=steady)

    # ---- arns ----------------------------------------------------------------------------

    def arn(self, kind, rest):
        return "arn:aws:ecs:%s:%s:%s/%s" % (self.region, self.account, kind, rest)

    # ---- clusters and instances ----------------------------------------------------------

    def create_cluster(self, name, tags=None):
        if name in self.clusters:
            return self.clusters[name]
        cl = {"name": name, "arn": self.arn("cluster", name), "status": "ACTIVE", "instances": {},
              "settings": [{"name": "containerInsights", "value": "disabled"}]}
        self.clusters[name] = cl
        if tags:
            self.tags[cl["arn"]] = list(tags)
        return cl

    def add_instance(self, cl, cpu, memory, attributes=None):
        iid = hex32()
        ci = {"arn": self.arn("container-instance", "%s/%s" % (cl["name"], iid)), "id": iid,
              "ec2": "i-0" + hex32()[:16], "cpu": int(cpu), "memory": int(memory),
              "status": "ACTIVE", "registeredAt": self.t, "attributes": attributes or [],
              "reserved_ports": [22, 2375, 2376, 51678, 51679]}
        cl["instances"][ci["arn"]] = ci
        return ci

    def cluster(self, ref, required=True):
        ref = ref or "default"
        name = ref.split("/", 1)[1] if ref.startswith("arn:") and "/" in ref else ref
        cl = self.clusters.get(name)
        if (not cl or cl["status"] != "ACTIVE") and required:
            raise ApiError("ClusterNotFoundException", "Cluster not found.")
        return cl

    def instance_usage(self, ci):
        cpu = mem = 0
        ports = set(("tcp", p) for p in ci["reserved_ports"])
        for t in self.tasks.values():
            if t.ci is ci and t.last != "STOPPED":
                cpu += t.cpu
                mem += t.memory
                ports.update(t.host_ports)
        return cpu, mem, ports

    def place(self, cl, td, group):
        """Choose a container instance for a task of td (EC2). Returns (ci, None) or
        (None, (failure reason code, closest container instance or None))."""
        need_cpu, need_mem, need_ports = td_resources(td)
        insts = [ci for ci in cl["instances"].values() if ci["status"] == "ACTIVE"]
        if not insts:
            return None, ("NO_INSTANCES", None)
        fits, misses = [], []
        for ci in insts:
            cpu, mem, ports = self.instance_usage(ci)
            why = []
            if ci["memory"] - mem < need_mem:
                why.append("RESOURCE:MEMORY")
            if ci["cpu"] - cpu < need_cpu:
                why.append("RESOURCE:CPU")
            if any(p in ports for p in need_ports):
                why.append("RESOURCE:PORTS")
            if why:
                misses.append((len(why), ci["id"], ci, why[0]))
            else:
                same = sum(1 for t in self.tasks.values()
                           if t.ci is ci and t.last != "STOPPED" and t.group == group)
                fits.append((same, ci["id"], ci))
        if fits:
            fits.sort(key=lambda x: (x[0], x[1]))
            return fits[0][2], None
        misses.sort(key=lambda x: (x[0], x[1]))
        return None, (misses[0][3], misses[0][2])

    def fargate_full(self):
        if self.fargate_capacity is None:
            return False
        live = sum(1 for t in self.tasks.values() if t.launch_type == "FARGATE" and t.last != "STOPPED")
        return live >= int(self.fargate_capacity)

    # ---- task definitions ----------------------------------------------------------------

    def td_find(self, ref, allow_inactive=True):
        """family | family:rev | ARN -> record, or None."""
        if not ref:
            return None
        if ref.startswith("arn:"):
            m = re.match(r"^arn:aws[a-z-]*:ecs:[^:]*:[0-9]*:task-definition/(.+)$", ref)
            if not m:
                return None
            ref = m.group(1)
        fam, _, rev = ref.partition(":")
        recs = self.families.get(fam)
        if not recs:
            return None
        if rev:
            if not rev.isdigit() or not (1 <= int(rev) <= len(recs)):
                return None
            rec = recs[int(rev) - 1]
            if rec["status"] == "DELETE_IN_PROGRESS":
                return None
            return rec
        act = [r for r in recs if r["status"] == "ACTIVE"]
        return act[-1] if act else None

    def td_out(self, rec):
        out = dict(rec["input"])
        out["taskDefinitionArn"] = rec["arn"]
        out["revision"] = rec["revision"]
        out["status"] = rec["status"]
        out["requiresAttributes"] = rec["requiresAttributes"]
        out["compatibilities"] = rec["compatibilities"]
        out["registeredAt"] = rec["registeredAt"]
        out["registeredBy"] = self.registered_by
        if rec.get("deregisteredAt") is not None:
            out["deregisteredAt"] = rec["deregisteredAt"]
        return out

    # ---- behaviours ----------------------------------------------------------------------

    def behaviour_for(self, cdef):
        spec = self.container_behaviour.get(cdef.get("name"))
        if spec is None:
            spec = self.images.get(cdef.get("image", ""))
        if spec is None:
            spec = self.default_behaviour
        return Behaviour(spec, self.timings)

    # ---- time ----------------------------------------------------------------------------

    def advance_to(self, target):
        while self.t < target - 1e-9:
            self.t = min(target, self.t + 1.0)
            self.step()

    def step(self):
        now = self.t
        for a in list(self.actions):
            if a.get("_due") is not None and a["_due"] <= now:
                self.actions.remove(a)
                self.run_action(a)
        for t in list(self.tasks.values()):
            if t.last != "STOPPED":
                t.tick(now)
        for svc in list(self.services.values()):
            if svc.status != "INACTIVE":
                svc.schedule(now)
        keep = self.timings["retain_stopped"]
        for arn, t in list(self.tasks.items()):
            if t.last == "STOPPED" and now - (t.stopped_at or now) > keep:
                del self.tasks[arn]

    def after_call(self, op):
        """Scenario actions triggered by the Nth call of an operation."""
        n = self.call_counts.get(op, 0) + 1
        self.call_counts[op] = n
        for a in self.actions:
            trig = a.get("after_call")
            if trig and a.get("_due") is None and trig.get("op") == op and n >= int(trig.get("count", 1)):
                a["_due"] = self.t + float(a.get("delay", 0))

    def run_action(self, a):
        """A change made by someone else (a concurrent deployment, a scale, an alarm)."""
        kind = a.get("do", "update_service")
        if kind == "alarm":
            self.alarm_states[a["name"]] = a.get("state", "ALARM")
            return
        if kind == "stop_task":
            for t in self.tasks.values():
                if t.service and t.service.name == a.get("service") and t.desired == "RUNNING":
                    t.stop(self.t, "UserInitiated", a.get("reason", "Task stopped by someone else"))
                    return
            return
        svc = self.service(a.get("cluster"), a["service"])
        params = {"cluster": svc.cluster["name"], "service": svc.name}
        if "image" in a:
            rec = self.td_find(svc.td_arn)
            inp = json.loads(json.dumps(rec["input"]))
            for c in inp["containerDefinitions"]:
                if a.get("container") in (None, c["name"]) and \
                        (a.get("container") or image_repo(c["image"]) == image_repo(a["image"])):
                    c["image"] = a["image"]
            params["taskDefinition"] = self.op_RegisterTaskDefinition(inp)["taskDefinition"]["taskDefinitionArn"]
        for k in ("taskDefinition", "desiredCount", "forceNewDeployment", "deploymentConfiguration"):
            if k in a:
                params[k] = a[k]
        self.op_UpdateService(params)

    # ---- lookups -------------------------------------------------------------------------

    def service(self, cluster_ref, ref, active_only=False):
        cl = self.cluster(cluster_ref)
        name = ref
        if ref.startswith("arn:"):
            name = ref.rsplit("/", 1)[-1]
        svc = self.services.get(self.arn("service", "%s/%s" % (cl["name"], name)))
        if svc is None:
            raise ApiError("ServiceNotFoundException", "Service not found.")
        if active_only and svc.status != "ACTIVE":
            raise ApiError("ServiceNotActiveException", "Service was not ACTIVE.")
        return svc

    def task_lookup(self, cl, ref):
        if ref.startswith("arn:"):
            t = self.tasks.get(ref)
            if t is None:
                # old-format task arn (no cluster) also accepted
                tid = ref.rsplit("/", 1)[-1]
                t = self.tasks.get(self.arn("task", "%s/%s" % (cl["name"], tid)))
        else:
            t = self.tasks.get(self.arn("task", "%s/%s" % (cl["name"], ref)))
        if t is not None and t.cluster is not cl:
            return None
        return t

    # ---- tasks ---------------------------------------------------------------------------

    def start_task(self, cl, rec, launch_type, group, started_by, service=None, deployment=None,
                   overrides=None, network=None, tags=None, platform_version=None):
        """Create and place one task. Returns (task, None) or (None, (reason, ci))."""
        ci = None
        if launch_type == "EC2":
            ci, why = self.place(cl, rec, group)
            if ci is None:
                return None, why
        elif launch_type == "FARGATE" and self.fargate_full():
            return None, ("CAPACITY", None)
        t = Task(self, cl, rec, launch_type, ci, group, started_by, service, deployment,
                 overrides, network, tags, platform_version)
        self.tasks[t.arn] = t
        return t, None

    # ---- the operations are in ecsops.py (mixed in below) --------------------------------


def capacity_launch_type(strategy):
    """The launch type a capacity provider strategy amounts to (FARGATE / FARGATE_SPOT providers
    run Fargate tasks; any other provider is an Auto Scaling group of EC2 instances)."""
    names = [s.get("capacityProvider", "") for s in strategy or []]
    return "FARGATE" if names and all(n.startswith("FARGATE") for n in names) else "EC2"


def td_resources(rec):
    inp = rec["input"]
    cpu = parse_resource(inp.get("cpu"), False)
    mem = parse_resource(inp.get("memory"), True)
    if cpu is None:
        cpu = sum(int(c.get("cpu", 0) or 0) for c in inp["containerDefinitions"])
    if mem is None:
        mem = sum(int(c.get("memory") or c.get("memoryReservation") or 0) for c in inp["containerDefinitions"])
    ports = []
    mode = inp.get("networkMode", "bridge")
    if mode in ("bridge", "host"):
        for c in inp["containerDefinitions"]:
            for pm in c.get("portMappings", []) or []:
                hp = pm.get("hostPort")
                if mode == "host" and not hp:
                    hp = pm.get("containerPort")
                if hp:
                    ports.append((pm.get("protocol", "tcp"), int(hp)))
    return cpu, mem, ports


# --------------------------------------------------------------------------------------------
# tasks


class Container:
    def __init__(self, task, cdef, beh):
        self.task = task
        self.cdef = cdef
        self.name = cdef["name"]
        self.image = cdef.get("image", "")
        self.essential = cdef.get("essential", True)
        self.beh = beh
        self.hc = cdef.get("healthCheck")
        self.arn = task.sim.arn("container", "%s/%s/%s" % (task.cluster["name"], task.id, hex32()))
        self.last = "PENDING"
        self.exit_code = None
        self.reason = None
        self.health = "UNKNOWN"
        self.runtime_id = None
        self.exit_at = None
        self.health_at = None

    def out(self, t):
        d = {"containerArn": self.arn, "taskArn": t.arn, "name": self.name, "image": self.image,
             "lastStatus": self.last, "networkInterfaces": [], "healthStatus": self.health,
             "cpu": str(self.cdef.get("cpu", 0))}
        if self.cdef.get("memory") is not None:
            d["memory"] = str(self.cdef["memory"])
        if self.cdef.get("memoryReservation") is not None:
            d["memoryReservation"] = str(self.cdef["memoryReservation"])
        if self.runtime_id:
            d["runtimeId"] = self.runtime_id
            d["imageDigest"] = "sha256:" + hashlib.sha256(self.image.encode()).hexdigest()
        if self.exit_code is not None:
            d["exitCode"] = self.exit_code
        if self.reason:
            d["reason"] = self.reason
        if self.last == "RUNNING" and t.network_mode in ("bridge", "host"):
            nb = []
            for pm in self.cdef.get("portMappings", []) or []:
                hp = pm.get("hostPort") or (pm.get("containerPort") if t.network_mode == "host" else 32768 + len(nb))
                nb.append({"bindIP": "0.0.0.0", "containerPort": pm.get("containerPort"), "hostPort": hp,
                           "protocol": pm.get("protocol", "tcp")})
            d["networkBindings"] = nb
        return d


class Task:
    def __init__(self, sim, cl, rec, launch_type, ci, group, started_by, service, deployment,
                 overrides, network, tags, platform_version):
        self.sim = sim
        self.cluster = cl
        self.rec = rec
        self.id = hex32()
        self.arn = sim.arn("task", "%s/%s" % (cl["name"], self.id))
        self.launch_type = launch_type
        self.ci = ci
        self.group = group
        self.started_by = started_by
        self.service = service
        self.deployment = deployment
        self.overrides = overrides or {}
        self.network = network
        self.tags = tags or []
        self.platform_version = platform_version
        inp = rec["input"]
        self.network_mode = inp.get("networkMode", "awsvpc" if launch_type == "FARGATE" else "bridge")
        self.cpu, self.memory, self.host_ports = td_resources(rec)
        self.created_at = sim.t
        self.last = "PROVISIONING"
        self.desired = "RUNNING"
        self.version = 1
        self.stop_code = None
        self.stopped_reason = None
        self.pull_started_at = self.pull_stopped_at = None
        self.started_at = self.stopping_at = self.stopped_at = self.execution_stopped_at = None
        self.health = "UNKNOWN"
        self.failed = False         # counts against the circuit breaker
        tm = sim.timings
        awsvpc = self.network_mode == "awsvpc"
        self.next_at = sim.t + (tm["provision_awsvpc"] if awsvpc else tm["provision_ec2"])
        self.containers = [Container(self, c, sim.behaviour_for(c)) for c in inp["containerDefinitions"]]
        ov = {c.get("name"): c for c in (self.overrides.get("containerOverrides") or [])}
        for c in self.containers:
            spec = ov.get(c.name, {}).get("behaviour")
            if spec:
                c.beh = Behaviour(spec, tm)

    # lifecycle ---------------------------------------------------------------------------

    def touch(self):
        self.version += 1

    def tick(self, now):
        tm = self.sim.timings
        if self.last == "PROVISIONING" and now >= self.next_at:
            if self.desired == "STOPPED":
                return self.finish(now)
            self.last = "PENDING"
            self.pull_started_at = now
            self.next_at = now + tm["pull"]
            self.touch()
        elif self.last == "PENDING" and now >= self.next_at:
            if self.desired == "STOPPED":
                return self.begin_stopping(now)
            bad = [c for c in self.containers if c.beh.kind == "pull_fail"]
            if bad:
                c = bad[0]
                ref = c.image if (":" in c.image.rsplit("/", 1)[-1] or "@" in c.image) else c.image + ":latest"
                msg = c.beh.msg or ("CannotPullContainerError: pull image manifest has been retried 7 time(s): "
                                    "failed to resolve ref %s: %s: not found" % (ref, ref))
                for x in self.containers:
                    x.last = "STOPPED"
                    if x is c:
                        x.reason = msg
                self.pull_stopped_at = now
                self.failed = True
                self.stop(now, "TaskFailedToStart", msg)
                return
            self.to_running(now)
        elif self.last == "RUNNING":
            if self.desired == "STOPPED":
                return self.begin_stopping(now)
            changed = False
            for c in sorted(self.containers, key=lambda x: x.essential):
                if c.last == "RUNNING" and c.exit_at is not None and now >= c.exit_at:
                    c.last = "STOPPED"
                    c.exit_code = c.beh.code
                    if c.beh.kind == "oom":
                        c.reason = "OutOfMemoryError: Container killed due to memory usage"
                    changed = True
                    if c.essential:
                        if c.beh.code != 0 or self.service is not None:
                            self.failed = True
                        self.stop(now, "EssentialContainerExited", "Essential container in task exited")
                        return
                if c.last == "RUNNING" and c.health_at is not None and now >= c.health_at:
                    c.health = "UNHEALTHY" if c.beh.kind == "unhealthy" else "HEALTHY"
                    c.health_at = None
                    changed = True
            if changed:
                self.update_health()
                self.touch()
        elif self.last in ("DEACTIVATING",) and now >= self.next_at:
            self.last = "STOPPING"
            self.next_at = now + tm["stop"]
            self.touch()
        elif self.last == "STOPPING" and now >= self.next_at:
            self.finish(now)

    def to_running(self, now, instant_health=False):
        tm = self.sim.timings
        self.pull_stopped_at = now
        self.last = "RUNNING"
        self.started_at = now
        for c in self.containers:
            c.last = "RUNNING"
            c.runtime_id = hex32() + "-" + digits(10)
            if c.beh.kind in ("exit", "oom"):
                c.exit_at = now + c.beh.after
            if c.hc:
                interval = c.hc.get("interval", tm["health_default_interval"])
                retries = c.hc.get("retries", 3)
                start = c.hc.get("startPeriod", 0)
                if c.beh.kind == "unhealthy":
                    c.health_at = now + start + interval * retries
                elif instant_health:
                    c.health = "HEALTHY"
                else:
                    c.health_at = now + interval   # the first check passes
        self.update_health()
        self.touch()

    def force_running(self, now):
        """Scenario start: the task has been running for a while already."""
        self.pull_started_at = now
        self.to_running(now, instant_health=True)

    def update_health(self):
        ess = [c for c in self.containers if c.essential and c.hc]
        if not ess:
            self.health = "UNKNOWN"
        elif any(c.health == "UNHEALTHY" for c in ess):
            self.health = "UNHEALTHY"
        elif all(c.health == "HEALTHY" for c in ess):
            self.health = "HEALTHY"
        else:
            self.health = "UNKNOWN"

    def has_health_check(self):
        return any(c.essential and c.hc for c in self.containers)

    def healthy(self):
        """Counts as healthy for the service scheduler."""
        if self.last != "RUNNING" or self.desired != "RUNNING":
            return False
        if self.has_health_check():
            return self.health == "HEALTHY"
        return True

    def stop(self, now, code, reason):
        """Set desiredStatus STOPPED (by the scheduler, the user, or because it failed)."""
        if self.desired == "STOPPED":
            return
        self.desired = "STOPPED"
        self.stop_code = code
        self.stopped_reason = reason
        self.touch()
        if self.last in ("RUNNING", "PENDING") and code in ("TaskFailedToStart", "EssentialContainerExited"):
            self.begin_stopping(now)
        if self.service is not None:
            self.service.task_stopping(self, now)

    def begin_stopping(self, now):
        tm = self.sim.timings
        self.stopping_at = now
        if self.network_mode == "awsvpc":
            self.last = "DEACTIVATING"
            self.next_at = now + tm["deactivate"]
        else:
            self.last = "STOPPING"
            self.next_at = now + tm["stop"]
        self.touch()

    def finish(self, now):
        self.last = "STOPPED"
        self.stopped_at = now
        self.execution_stopped_at = now
        if self.stopping_at is None:
            self.stopping_at = now
        for c in self.containers:
            if c.last == "RUNNING":
                c.last = "STOPPED"
                c.exit_code = c.beh.stop_exit if c.beh.kind == "ok" else (c.beh.code if c.beh.code is not None else 143)
            elif c.last == "PENDING":
                c.last = "STOPPED"
        self.touch()

    # output ------------------------------------------------------------------------------

    def out(self, include_tags=False):
        sim = self.sim
        d = {"taskArn": self.arn, "clusterArn": self.cluster["arn"], "taskDefinitionArn": self.rec["arn"],
             "overrides": {"containerOverrides": [{"name": c.name} for c in self.containers],
                           "inferenceAcceleratorOverrides": []},
             "lastStatus": self.last, "desiredStatus": self.desired,
             "cpu": str(self.cpu), "memory": str(self.memory),
             "containers": [c.out(self) for c in self.containers],
             "version": self.version, "connectivity": "CONNECTED", "connectivityAt": self.created_at + 0.5,
             "createdAt": self.created_at, "group": self.group, "launchType": self.launch_type,
             "healthStatus": self.health, "availabilityZone": sim.region + "a",
             "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}],
             "enableExecuteCommand": False, "attachments": [], "tags": []}
        if self.overrides.get("containerOverrides"):
            co = []
            for o in self.overrides["containerOverrides"]:
                o = {k: v for k, v in o.items() if k != "behaviour"}
                co.append(o)
            d["overrides"]["containerOverrides"] = co
        if self.ci is not None:
            d["containerInstanceArn"] = self.ci["arn"]
        if self.started_by:
            d["startedBy"] = self.started_by
        if self.launch_type == "FARGATE":
            d["platformVersion"] = self.platform_version or "1.4.0"
            d["platformFamily"] = "Linux"
            d["ephemeralStorage"] = {"sizeInGiB": 20}
        if self.network_mode == "awsvpc":
            status = {"PROVISIONING": "PRECREATED", "PENDING": "ATTACHED", "RUNNING": "ATTACHED",
                      "DEACTIVATING": "DETACHING", "STOPPING": "DETACHED", "STOPPED": "DELETED"}[self.last]
            d["attachments"] = [{"id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.arn)), "type": "ElasticNetworkInterface",
                                 "status": status,
                                 "details": [{"name": "subnetId", "value": "subnet-0123456789abcdef0"},
                                             {"name": "privateIPv4Address", "value": "10.0.%d.%d" % (
                                                 int(self.id[:2], 16), int(self.id[2:4], 16))}]}]
        for k, v in (("pullStartedAt", self.pull_started_at), ("pullStoppedAt", self.pull_stopped_at),
                     ("startedAt", self.started_at), ("stoppingAt", self.stopping_at),
                     ("stoppedAt", self.stopped_at), ("executionStoppedAt", self.execution_stopped_at)):
            if v is not None:
                d[k] = v
        if self.stop_code:
            d["stopCode"] = self.stop_code
        if self.stopped_reason:
            d["stoppedReason"] = self.stopped_reason
        if include_tags:
            d["tags"] = list(self.tags)
        return d


# the operations live in ecsops.py (which uses the scheduler in ecssched.py); bind them onto Sim.
from ecsops import Ops  # noqa: E402

for _name, _fn in list(Ops.__dict__.items()):
    if callable(_fn) and not _name.startswith("__"):
        setattr(Sim, _name, _fn)
