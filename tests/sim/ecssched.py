"""Services, deployments and the ECS service scheduler of the simulator.

Rolling (strategy ROLLING, the ECS deployment controller):
  each step, with D the desired count, start tasks of the PRIMARY deployment while the number of
  live tasks stays <= floor(D * maximumPercent / 100), and stop tasks of older deployments while
  the number of healthy tasks stays >= ceil(D * minimumHealthyPercent / 100) (tasks that are not
  healthy can always be stopped). A task is healthy when RUNNING and, if an essential container
  has a health check, HEALTHY. Placement failures become "unable to place a task" events.
  The PRIMARY deployment is COMPLETED once it is the only deployment, runs D healthy tasks, and
  that has held for `steady_after` seconds.

Deployment circuit breaker: a PRIMARY deployment whose failed tasks reach the threshold
  (min(max(3, ceil(D/2)), 200) unless the scenario sets one) is FAILED; with rollback a new
  PRIMARY deployment of the last COMPLETED revision is started.

BLUE_GREEN / LINEAR / CANARY: the service deployment walks RECONCILE_SERVICE, PRE_SCALE_UP,
  SCALE_UP (the full green set is started next to blue), POST_SCALE_UP, TEST_TRAFFIC_SHIFT,
  POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (LINEAR: stepPercent steps of
  stepBakeTimeInMinutes; CANARY: canaryPercent for canaryBakeTimeInMinutes, then 100%),
  POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (bakeTimeInMinutes) and CLEAN_UP (blue is stopped),
  then SUCCESSFUL. StopServiceDeployment(ROLLBACK) or a tripped breaker/alarm before the end
  shifts traffic back, stops green and ends ROLLBACK_SUCCESSFUL.
"""

import copy
import hashlib
import math
import uuid

from ecsmodel import LIVE, STAGES_BG, ceil_pct, floor_pct, digits, capacity_launch_type


def default_dc(dc):
    dc = copy.deepcopy(dc or {})
    dc.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    dc.setdefault("maximumPercent", 200)
    dc.setdefault("minimumHealthyPercent", 100)
    dc.setdefault("strategy", "ROLLING")
    if dc["strategy"] != "ROLLING":
        dc.setdefault("bakeTimeInMinutes", 0)
    return dc


class Deployment:
    def __init__(self, svc, td_arn, now, sd=None):
        self.svc = svc
        self.id = "ecs-svc/" + digits(19)
        self.status = "PRIMARY"
        self.td_arn = td_arn
        self.created_at = now
        self.updated_at = now
        self.rollout_state = "IN_PROGRESS"
        self.rollout_reason = "ECS deployment %s in progress." % self.id
        self.failed_tasks = 0
        self.launch_type = svc.launch_type
        self.network = copy.deepcopy(svc.network)
        self.platform_version = svc.platform_version
        self.sd = sd                  # the ServiceDeployment this deployment is the target of
        self.rollback_of = None       # ServiceDeployment whose rollback this deployment is
        self.frozen = False           # FAILED without rollback / aborted: no more launches
        self.steady_since = None
        self.desired_override = None  # desiredCount shown for old deployments

    def tasks(self, live_only=True):
        return [t for t in self.svc.sim.tasks.values()
                if t.deployment is self and (not live_only or t.desired == "RUNNING")]

    def counts(self):
        run = pend = 0
        for t in self.tasks():
            if t.last == "RUNNING":
                run += 1
            elif t.last in LIVE:
                pend += 1
        return run, pend

    def out(self):
        run, pend = self.counts()
        desired = self.svc.desired if self.status == "PRIMARY" else len(self.tasks())
        d = {"id": self.id, "status": self.status, "taskDefinition": self.td_arn, "desiredCount": desired,
             "pendingCount": pend, "runningCount": run, "failedTasks": self.failed_tasks,
             "createdAt": self.created_at, "updatedAt": self.updated_at,
             "rolloutState": self.rollout_state, "rolloutStateReason": self.rollout_reason}
        if self.launch_type:
            d["launchType"] = self.launch_type
        if self.launch_type == "FARGATE":
            d["platformVersion"] = self.platform_version or "1.4.0"
            d["platformFamily"] = "Linux"
        if self.network:
            d["networkConfiguration"] = self.network
        return d


class ServiceDeployment:
    def __init__(self, svc, target_dep, sources, now):
        sim = svc.sim
        self.svc = svc
        self.id = uuid.uuid4().hex[:8].upper() + "-" + uuid.uuid4().hex[:12]
        self.arn = sim.arn("service-deployment", "%s/%s/%s" % (svc.cluster["name"], svc.name, self.id))
        self.created_at = now
        self.started_at = None
        self.finished_at = None
        self.stopped_at = None
        self.updated_at = now
        self.target = target_dep
        self.sources = list(sources)
        self.target_rev = svc.new_revision(target_dep)
        self.source_revs = [s.revision_arn for s in self.sources if getattr(s, "revision_arn", None)]
        target_dep.revision_arn = self.target_rev
        self.status = "PENDING"
        self.status_reason = None
        self.dc = copy.deepcopy(svc.dc)
        self.strategy = self.dc.get("strategy", "ROLLING")
        self.stage = None
        self.stage_at = now
        self.rollback = None
        self.prod_weight = 0.0        # green's share of production traffic (blue/green)
        self.test_weight = 0.0
        self.cb_status = "MONITORING" if self.dc["deploymentCircuitBreaker"].get("enable") else "DISABLED"
        alarms = self.dc.get("alarms") or {}
        self.alarm_names = list(alarms.get("alarmNames", [])) if alarms.get("enable") else []
        self.alarm_status = "MONITORING" if self.alarm_names else "DISABLED"
        self.triggered = []
        self.rollback_dep = None
        self.hooks = []               # lifecycleHookDetails, oldest first
        self.hook_state = {}

    def set_status(self, status, now, reason=None):
        self.status = status
        self.updated_at = now
        if reason:
            self.status_reason = reason
        if status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"):
            self.finished_at = now
            if self.cb_status == "MONITORING":
                self.cb_status = "MONITORING_COMPLETE"
            if self.alarm_status == "MONITORING":
                self.alarm_status = "MONITORING_COMPLETE"
        if status == "STOPPED":
            self.stopped_at = now

    def set_stage(self, stage, now):
        self.stage = stage
        self.stage_at = now
        self.updated_at = now

    def in_progress(self):
        return self.status in ("PENDING", "IN_PROGRESS")

    def summary(self, rev_arn, dep, target):
        run = pend = 0
        if dep is not None:
            run, pend = dep.counts()
        d = {"arn": rev_arn, "requestedTaskCount": self.svc.desired if target else len(dep.tasks()) if dep else 0,
             "runningTaskCount": run, "pendingTaskCount": pend}
        if self.strategy != "ROLLING":
            w = self.prod_weight if target else 100.0 - self.prod_weight
            d["requestedProductionTrafficWeight"] = w
            d["requestedTestTrafficWeight"] = (self.test_weight if target else 100.0 - self.test_weight)
        return d

    def out(self):
        svc = self.svc
        d = {"serviceDeploymentArn": self.arn, "serviceArn": svc.arn, "clusterArn": svc.cluster["arn"],
             "createdAt": self.created_at, "updatedAt": self.updated_at, "status": self.status,
             "targetServiceRevision": self.summary(self.target_rev, self.target, True),
             "sourceServiceRevisions": [self.summary(r, s, False) for r, s in zip(self.source_revs, self.sources)],
             "deploymentConfiguration": self.dc,
             "deploymentCircuitBreaker": {"status": self.cb_status, "failureCount": self.target.failed_tasks,
                                          "threshold": svc.cb_threshold()},
             "alarms": {"status": self.alarm_status, "alarmNames": self.alarm_names,
                        "triggeredAlarmNames": self.triggered}}
        for k, v in (("startedAt", self.started_at), ("finishedAt", self.finished_at),
                     ("stoppedAt", self.stopped_at)):
            if v is not None:
                d[k] = v
        if self.status_reason:
            d["statusReason"] = self.status_reason
        if self.stage:
            d["lifecycleStage"] = self.stage
        if self.rollback:
            d["rollback"] = self.rollback
        if self.hooks:
            d["lifecycleHookDetails"] = [{k: v for k, v in h.items() if not k.startswith("_")} for h in self.hooks]
        return d

    def brief(self):
        d = {"serviceDeploymentArn": self.arn, "serviceArn": self.svc.arn,
             "clusterArn": self.svc.cluster["arn"], "createdAt": self.created_at,
             "targetServiceRevisionArn": self.target_rev, "status": self.status}
        if self.started_at is not None:
            d["startedAt"] = self.started_at
        if self.finished_at is not None:
            d["finishedAt"] = self.finished_at
        if self.status_reason:
            d["statusReason"] = self.status_reason
        return d


class Service:
    def __init__(self, sim, cl, name, rec, params, now):
        self.sim = sim
        self.cluster = cl
        self.name = name
        self.arn = sim.arn("service", "%s/%s" % (cl["name"], name))
        self.status = "ACTIVE"
        self.desired = params.get("desiredCount", 0 if params.get("schedulingStrategy") == "DAEMON" else 1)
        self.td_arn = rec["arn"]
        self.launch_type = params.get("launchType")
        if not self.launch_type and not params.get("capacityProviderStrategy"):
            self.launch_type = "EC2"
        self.capacity_providers = params.get("capacityProviderStrategy")
        self.network = params.get("networkConfiguration")
        self.platform_version = params.get("platformVersion") \
            if (self.launch_type or capacity_launch_type(self.capacity_providers)) == "FARGATE" else None
        self.dc = default_dc(params.get("deploymentConfiguration"))
        self.controller = params.get("deploymentController", {"type": "ECS"})
        self.params = params
        self.created_at = now
        self.deployments = []
        self.events = []
        self.sds = []
        self.last_completed = None   # the last COMPLETED deployment (rollback target)
        self.event_seen = {}
        self.started_batch = []
        self.stopped_batch = []
        self.steady_announced = False

    # helpers -------------------------------------------------------------------------------

    @property
    def primary(self):
        for d in self.deployments:
            if d.status == "PRIMARY":
                return d
        return None

    def event(self, msg, now, dedupe=False):
        if dedupe:
            last = self.event_seen.get(msg)
            if last is not None and now - last < self.sim.timings["event_repeat"]:
                return
            self.event_seen[msg] = now
        self.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": now, "message": msg})
        del self.events[100:]

    def cb_threshold(self):
        if self.sim.cb_threshold is not None:
            return int(self.sim.cb_threshold)
        return min(max(3, int(math.ceil(self.desired * 0.5))), 200)

    def new_revision(self, dep):
        sim = self.sim
        arn = sim.arn("service-revision", "%s/%s/%s" % (self.cluster["name"], self.name, digits(19)))
        rec = sim.td_find(dep.td_arn)
        images = []
        for c in rec["input"]["containerDefinitions"]:
            images.append({"containerName": c["name"], "image": c.get("image", ""),
                           "imageDigest": "sha256:" + hashlib.sha256(c.get("image", "").encode()).hexdigest()})
        r = {"serviceRevisionArn": arn, "serviceArn": self.arn, "clusterArn": self.cluster["arn"],
             "taskDefinition": dep.td_arn, "containerImages": images, "createdAt": sim.t,
             "loadBalancers": self.params.get("loadBalancers", []),
             "serviceRegistries": self.params.get("serviceRegistries", []), "guardDutyEnabled": False}
        if self.launch_type:
            r["launchType"] = self.launch_type
        if self.capacity_providers:
            r["capacityProviderStrategy"] = self.capacity_providers
        if self.network:
            r["networkConfiguration"] = self.network
        if self.launch_type == "FARGATE":
            r["platformVersion"] = self.platform_version or "1.4.0"
            r["platformFamily"] = "Linux"
        sim.revisions[arn] = r
        return arn

    def start_deployment(self, td_arn, now, rollback_of=None):
        """New PRIMARY deployment (and, unless it is a rollback, a new service deployment)."""
        old = [d for d in self.deployments]
        dep = Deployment(self, td_arn, now)
        for d in old:
            if d.status == "PRIMARY":
                d.status = "ACTIVE"
                d.updated_at = now
        for sd in self.sds:
            if sd.in_progress() and rollback_of is None:
                sd.set_status("STOPPED", now, "Service deployment was superseded by a newer deployment.")
        self.deployments.insert(0, dep)
        self.td_arn = td_arn
        self.steady_announced = False
        if rollback_of is None:
            sd = ServiceDeployment(self, dep, [d for d in old if d.tasks()] or old[:1], now)
            dep.sd = sd
            self.sds.insert(0, sd)
            self.sim.sds[sd.arn] = sd
        else:
            dep.rollback_of = rollback_of
            dep.revision_arn = rollback_of.source_revs[0] if rollback_of.source_revs else None
        return dep

    def current_sd(self):
        for sd in self.sds:
            if sd.in_progress() or sd.status.startswith("ROLLBACK_") and sd.status != "ROLLBACK_SUCCESSFUL":
                return sd
        return self.sds[0] if self.sds else None

    # task notifications --------------------------------------------------------------------

    def task_stopping(self, t, now):
        dep = t.deployment
        if dep is not None and t.failed:
            dep.failed_tasks += 1
            dep.updated_at = now
            if dep.failed_tasks >= 10 and dep.failed_tasks % 10 == 0:
                self.event("(service %s) is unable to consistently start tasks successfully. For more "
                           "information, see the Troubleshooting section of the Amazon ECS Developer Guide."
                           % self.name, now, dedupe=True)
        if t.stop_code == "ServiceSchedulerInitiated" and t.last == "RUNNING":
            self.stopped_batch.append(t)

    # the scheduler ---------------------------------------------------------------------------

    def launch(self, dep, n, now):
        sim = self.sim
        started = 0
        rec = sim.td_find(dep.td_arn)
        for _ in range(n):
            lt = dep.launch_type or capacity_launch_type(self.capacity_providers)
            t, why = sim.start_task(self.cluster, rec, lt, "service:" + self.name,
                                    dep.id, service=self, deployment=dep, network=dep.network,
                                    platform_version=dep.platform_version)
            if t is None:
                self.placement_event(why, now)
                break
            self.started_batch.append(t)
            started += 1
        return started

    def placement_event(self, why, now):
        reason, ci = why
        base = "(service %s) was unable to place a task because no container instance met all of its requirements." % self.name
        if reason == "NO_INSTANCES":
            msg = base + " Reason: No Container Instances were found in your cluster. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        elif reason == "CAPACITY":
            msg = "(service %s) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide." % self.name
        else:
            what = {"RESOURCE:PORTS": "is already using a port required by your task",
                    "RESOURCE:MEMORY": "has insufficient memory available",
                    "RESOURCE:CPU": "has insufficient CPU units available"}[reason]
            msg = base + " The closest matching (container-instance %s) %s. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide." % (ci["id"], what)
        self.event(msg, now, dedupe=True)

    def flush_events(self, now):
        if self.started_batch:
            ts = self.started_batch
            self.started_batch = []
            self.event("(service %s) has started %d tasks: %s." % (
                self.name, len(ts), " ".join("(task %s)" % t.id for t in ts)), now)
        if self.stopped_batch:
            ts = self.stopped_batch
            self.stopped_batch = []
            self.event("(service %s) has stopped %d running tasks: %s." % (
                self.name, len(ts), " ".join("(task %s)" % t.id for t in ts)), now)

    def schedule(self, now):
        if self.status == "DRAINING":
            for t in self.sim.tasks.values():
                if t.service is self and t.desired == "RUNNING":
                    t.stop(now, "ServiceSchedulerInitiated", "Service is being deleted")
            self.flush_events(now)
            if not any(t.service is self and t.last != "STOPPED" for t in self.sim.tasks.values()):
                self.status = "INACTIVE"
            return
        for sd in self.sds:
            if sd.status == "ROLLBACK_REQUESTED" and now > getattr(sd, "_stop_due", now):
                sd.set_status("ROLLBACK_IN_PROGRESS", now)
            elif sd.status == "STOP_REQUESTED" and now > getattr(sd, "_stop_due", now):
                sd.set_status("STOPPED", now)
        p = self.primary
        if p is None:
            return
        # health-check failures: the scheduler replaces unhealthy tasks
        for t in self.sim.tasks.values():
            if t.service is self and t.desired == "RUNNING" and t.last == "RUNNING" and t.health == "UNHEALTHY":
                t.failed = True
                self.event("(service %s) (task %s) failed container health checks." % (self.name, t.id), now)
                t.stop(now, "ServiceSchedulerInitiated", "Task failed container health checks")
        if p.sd is not None and p.sd.status == "PENDING":
            p.sd.set_status("IN_PROGRESS", now)
            p.sd.started_at = now
            if p.sd.strategy != "ROLLING":
                # RECONCILE_SERVICE happens only with more than one ACTIVE revision (ECS docs)
                p.sd.set_stage("RECONCILE_SERVICE" if len(p.sd.sources) > 1 else "PRE_SCALE_UP", now)
        if p.sd is not None and p.sd.strategy != "ROLLING" and p.sd.in_progress():
            self.schedule_bluegreen(p, p.sd, now)
        else:
            self.schedule_rolling(p, now)
        self.check_breaker(p, now)
        self.check_alarms(p, now)
        self.retire(now)
        self.flush_events(now)
        self.check_steady(now)

    def schedule_rolling(self, p, now):
        D = self.desired
        dc = self.dc
        max_total = floor_pct(D, dc.get("maximumPercent", 200))
        min_healthy = ceil_pct(D, dc.get("minimumHealthyPercent", 100))
        live = [t for t in self.sim.tasks.values() if t.service is self and t.desired == "RUNNING"]
        mine = [t for t in live if t.deployment is p]
        frozen = p.frozen or p.rollout_state == "FAILED"
        if not frozen:
            n = min(D - len(mine), max_total - len(live))
            if n > 0:
                self.launch(p, n, now)
            elif D - len(mine) > 0 and max_total - len(live) <= 0 and len(live) > 0:
                pass  # waiting for old tasks to drain
        if frozen and p.rollback_of is None and p.sd is not None and p.sd.status == "STOPPED":
            return
        # drain older deployments
        live = [t for t in self.sim.tasks.values() if t.service is self and t.desired == "RUNNING"]
        healthy = sum(1 for t in live if t.healthy())
        old = [t for t in live if t.deployment is not p]
        old.sort(key=lambda t: (t.healthy(), -t.created_at))
        for t in old:
            if frozen and p.rollback_of is None:
                break
            if not t.healthy():
                t.stop(now, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment %s)" % p.id)
            elif healthy - 1 >= min_healthy:
                healthy -= 1
                t.stop(now, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment %s)" % p.id)
        # scale the primary down to D
        mine = [t for t in self.sim.tasks.values() if t.deployment is p and t.desired == "RUNNING"]
        extra = len(mine) - D
        if extra > 0:
            mine.sort(key=lambda t: (t.healthy(), t.created_at))
            for t in mine[:extra]:
                t.stop(now, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment %s)" % p.id)

    def schedule_bluegreen(self, p, sd, now):
        tm = self.sim.timings
        D = self.desired
        dc = sd.dc
        blue = [d for d in self.deployments if d is not p]
        if sd.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            return  # handled in rollback_bluegreen via the blue deployment being PRIMARY
        if sd.status != "IN_PROGRESS":
            return
        waited = now - sd.stage_at
        stage = sd.stage
        clear = self.hooks_clear(p, sd, now)
        if sd.status != "IN_PROGRESS":
            return   # a hook rolled the deployment back

        def go(nxt):
            if clear:
                sd.set_stage(nxt, now)
        if stage in ("RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT",
                     "POST_PRODUCTION_TRAFFIC_SHIFT"):
            if waited >= tm["stage"]:
                go(STAGES_BG[STAGES_BG.index(stage) + 1])
            return
        if stage == "SCALE_UP":
            mine = [t for t in self.sim.tasks.values() if t.deployment is p and t.desired == "RUNNING"]
            if p.rollout_state != "FAILED" and len(mine) < D:
                self.launch(p, D - len(mine), now)
            mine = [t for t in self.sim.tasks.values() if t.deployment is p and t.desired == "RUNNING"]
            if len(mine) >= D and all(t.healthy() for t in mine):
                go("POST_SCALE_UP")
            return
        if stage == "TEST_TRAFFIC_SHIFT":
            sd.test_weight = 100.0
            if waited >= tm["traffic_shift"]:
                go("POST_TEST_TRAFFIC_SHIFT")
            return
        if stage == "PRODUCTION_TRAFFIC_SHIFT":
            strat = sd.strategy
            if strat == "LINEAR":
                lc = dc.get("linearConfiguration") or {}
                step = float(lc.get("stepPercent", 10.0))
                bake = float(lc.get("stepBakeTimeInMinutes", 6)) * 60
                steps = int(math.ceil(100.0 / step))
                k = min(steps, int(waited // bake) + 1) if bake > 0 else steps
                sd.prod_weight = min(100.0, k * step)
                done = waited >= bake * steps
            elif strat == "CANARY":
                cc = dc.get("canaryConfiguration") or {}
                pct = float(cc.get("canaryPercent", 5.0))
                bake = float(cc.get("canaryBakeTimeInMinutes", 10)) * 60
                sd.prod_weight = pct if waited < bake else 100.0
                done = waited >= bake + tm["traffic_shift"]
            else:
                sd.prod_weight = 100.0
                done = waited >= tm["traffic_shift"]
            if done:
                sd.prod_weight = 100.0
                go("POST_PRODUCTION_TRAFFIC_SHIFT")
            return
        if stage == "BAKE_TIME":
            if waited >= float(dc.get("bakeTimeInMinutes", 0)) * 60:
                go("CLEAN_UP")
            return
        if stage == "CLEAN_UP":
            for d in blue:
                for t in d.tasks():
                    t.stop(now, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment %s)" % p.id)
            if clear and not any(t.deployment is not p and t.service is self and t.last != "STOPPED"
                                 for t in self.sim.tasks.values()):
                self.complete(p, now)
            return

    def hooks_clear(self, p, sd, now):
        """Run the lifecycle hooks of the current stage; True when all of them let it move on.
        PAUSE hooks wait for ContinueServiceDeployment; AWS_LAMBDA hooks answer what the scenario's
        `lambda_hooks` says for their ARN (default SUCCEEDED) after `hook` seconds."""
        stage = sd.stage
        if self.sim.hooks.get(stage) == "wait":
            return False
        clear = True
        for n, h in enumerate(sd.dc.get("lifecycleHooks") or []):
            if stage not in (h.get("lifecycleStages") or []):
                continue
            key = (stage, n)
            det = sd.hook_state.get(key)
            if det is None:
                det = {"hookId": "%s-%s-%d" % (sd.id[:8].lower(), stage.lower().replace("_", "-"), n),
                       "targetType": h.get("targetType", "AWS_LAMBDA"), "status": "IN_PROGRESS",
                       "_at": now}
                if h.get("hookTargetArn"):
                    det["targetArn"] = h["hookTargetArn"]
                if det["targetType"] == "PAUSE":
                    det["status"] = "AWAITING_ACTION"
                to = h.get("timeoutConfiguration") or {}
                if to.get("timeoutInMinutes") is not None:
                    det["expiresAt"] = now + float(to["timeoutInMinutes"]) * 60
                    det["timeoutAction"] = to.get("action", "ROLLBACK")
                sd.hook_state[key] = det
                sd.hooks.append(det)
                sd.updated_at = now
            if det["status"] in ("SUCCEEDED",) or det.get("_continue"):
                continue
            if det["status"] == "IN_PROGRESS" and det["targetType"] == "AWS_LAMBDA" and \
                    now - det["_at"] >= self.sim.timings["hook"]:
                det["status"] = self.sim.lambda_hooks.get(det.get("targetArn"), "SUCCEEDED")
                if det["status"] == "FAILED":
                    self.rollback(p, sd, now, "Lifecycle hook %s failed in stage %s." % (det["hookId"], stage))
                    return False
                if det["status"] == "SUCCEEDED":
                    continue
            if det["status"] in ("AWAITING_ACTION", "IN_PROGRESS") and det.get("expiresAt") is not None \
                    and now >= det["expiresAt"]:
                det["status"] = "TIMED_OUT"
                if det.get("timeoutAction") == "CONTINUE":
                    det["_continue"] = True
                    continue
                self.rollback(p, sd, now, "Lifecycle hook %s timed out in stage %s." % (det["hookId"], stage))
                return False
            clear = False
        return clear

    # failure detection and rollback ----------------------------------------------------------

    def check_breaker(self, p, now):
        cb = self.dc.get("deploymentCircuitBreaker") or {}
        if not cb.get("enable") or p.rollout_state != "IN_PROGRESS":
            return
        if p.failed_tasks < self.cb_threshold():
            return
        sd = p.sd or p.rollback_of
        if sd is not None and sd.cb_status == "MONITORING":
            sd.cb_status = "TRIPPED"
        self.fail(p, now, "tasks failed to start", "ECS deployment circuit breaker: tasks failed to start.",
                  cb.get("rollback"))

    def check_alarms(self, p, now):
        sd = p.sd
        if sd is None or not sd.in_progress() or not sd.alarm_names or p.rollout_state != "IN_PROGRESS":
            return
        bad = [a for a in sd.alarm_names if self.sim.alarm_states.get(a) == "ALARM"]
        if not bad:
            return
        sd.triggered = bad
        sd.alarm_status = "TRIGGERED"
        alarms = self.dc.get("alarms") or {}
        self.fail(p, now, "alarm detected", "Failed due to alarm(s) %s in ALARM state." % ", ".join(bad),
                  alarms.get("rollback"))

    def fail(self, p, now, short, reason, rollback):
        p.rollout_state = "FAILED"
        p.rollout_reason = reason
        p.updated_at = now
        self.event("(service %s) (deployment %s) deployment failed: %s." % (self.name, p.id, short), now)
        sd = p.sd
        if rollback and p.rollback_of is None and sd is not None:
            self.rollback(p, sd, now, "Rolled back due to %s." % short.replace("tasks failed to start",
                                                                              "the deployment circuit breaker"))
        else:
            p.frozen = True
            if sd is not None and sd.in_progress():
                sd.set_status("STOPPED", now, reason)
            elif p.rollback_of is not None:
                p.rollback_of.set_status("ROLLBACK_FAILED", now, reason)

    def rollback(self, p, sd, now, reason):
        """Roll the service back to the revision before `p` (the target of `sd`)."""
        target = None
        for d in sd.sources:
            if d is not None:
                target = d
                break
        if target is None:
            target = self.last_completed
        if target is None:
            p.frozen = True
            sd.set_status("ROLLBACK_FAILED", now, "No previous deployment to roll back to.")
            return False
        sd.rollback = {"reason": reason, "startedAt": now,
                       "serviceRevisionArn": sd.source_revs[0] if sd.source_revs else sd.target_rev}
        sd.set_status("ROLLBACK_IN_PROGRESS", now, reason)
        if p.rollout_state == "IN_PROGRESS":
            p.rollout_state = "FAILED"
            p.rollout_reason = reason
        p.frozen = True
        if sd.strategy != "ROLLING" and target in self.deployments:
            # blue/green: blue still runs; make it PRIMARY again, drain green
            p.status = "ACTIVE"
            target.status = "PRIMARY"
            target.rollback_of = sd
            target.rollout_state = "IN_PROGRESS"
            target.rollout_reason = "ECS deployment circuit breaker: rolling back to deploymentId %s." % target.id
            self.deployments.remove(target)
            self.deployments.insert(0, target)
            self.td_arn = target.td_arn
            sd.prod_weight = 0.0
            sd.test_weight = 0.0
            self.steady_announced = False
            for t in p.tasks():
                t.stop(now, "ServiceSchedulerInitiated", "Scaling activity initiated by (deployment %s)" % target.id)
            sd.rollback_dep = target
            self.event("(service %s) rolling back to deployment %s." % (self.name, target.id), now)
            return True
        rb = self.start_deployment(target.td_arn, now, rollback_of=sd)
        rb.rollout_reason = "ECS deployment circuit breaker: rolling back to deploymentId %s." % target.id
        sd.rollback_dep = rb
        self.event("(service %s) rolling back to deployment %s." % (self.name, target.id), now)
        return True

    # completion --------------------------------------------------------------------------------

    def retire(self, now):
        """Old deployments without tasks leave deployments[]."""
        keep = []
        for d in self.deployments:
            if d.status != "PRIMARY" and not any(t.deployment is d and t.last != "STOPPED"
                                                 for t in self.sim.tasks.values()):
                d.status = "INACTIVE"
                continue
            keep.append(d)
        self.deployments = keep

    def check_steady(self, now):
        p = self.primary
        if p is None or p.rollout_state == "FAILED" or (p.rollout_state == "COMPLETED" and self.steady_announced):
            return
        sd = p.sd
        if sd is not None and sd.strategy != "ROLLING" and sd.in_progress():
            return   # blue/green completes in CLEAN_UP
        mine = [t for t in self.sim.tasks.values() if t.deployment is p and t.desired == "RUNNING"]
        others = [t for t in self.sim.tasks.values() if t.service is self and t.deployment is not p
                  and t.last != "STOPPED"]
        steady = (len(self.deployments) == 1 and not others and len(mine) == self.desired
                  and all(t.healthy() for t in mine)
                  and not any(t.deployment is p and t.desired == "STOPPED" and t.last != "STOPPED"
                              for t in self.sim.tasks.values()))
        if not steady:
            p.steady_since = None
            return
        if p.steady_since is None:
            p.steady_since = now
        if now - p.steady_since >= self.sim.timings["steady_after"]:
            if p.rollout_state == "COMPLETED":
                self.event("(service %s) has reached a steady state." % self.name, now)
                self.steady_announced = True
            else:
                self.complete(p, now)

    def complete(self, p, now):
        p.rollout_state = "COMPLETED"
        p.rollout_reason = "ECS deployment %s completed." % p.id
        p.updated_at = now
        self.last_completed = p
        if p.sd is not None and p.sd.in_progress():
            p.sd.set_status("SUCCESSFUL", now)
            p.sd.stage = None if p.sd.strategy == "ROLLING" else "CLEAN_UP"
        if p.rollback_of is not None:
            p.rollback_of.set_status("ROLLBACK_SUCCESSFUL", now)
        self.retire(now)
        self.event("(service %s) (deployment %s) deployment completed." % (self.name, p.id), now)
        self.event("(service %s) has reached a steady state." % self.name, now)
        self.steady_announced = True

    # output ------------------------------------------------------------------------------------

    def out(self, include_tags=False):
        run = pend = 0
        for d in self.deployments:
            r, pe = d.counts()
            run += r
            pend += pe
        d = {"serviceArn": self.arn, "serviceName": self.name, "clusterArn": self.cluster["arn"],
             "loadBalancers": self.params.get("loadBalancers", []),
             "serviceRegistries": self.params.get("serviceRegistries", []),
             "status": self.status, "desiredCount": self.desired, "runningCount": run, "pendingCount": pend,
             "taskDefinition": self.td_arn, "deploymentConfiguration": self.dc,
             "deployments": [x.out() for x in self.deployments], "events": list(self.events),
             "createdAt": self.created_at, "placementConstraints": self.params.get("placementConstraints", []),
             "placementStrategy": self.params.get("placementStrategy", []),
             "schedulingStrategy": self.params.get("schedulingStrategy", "REPLICA"),
             "deploymentController": self.controller,
             "createdBy": self.sim.registered_by, "enableECSManagedTags": self.params.get("enableECSManagedTags", False),
             "propagateTags": self.params.get("propagateTags", "NONE"),
             "enableExecuteCommand": self.params.get("enableExecuteCommand", False),
             "availabilityZoneRebalancing": self.params.get("availabilityZoneRebalancing", "DISABLED")}
        if self.launch_type:
            d["launchType"] = self.launch_type
        if self.capacity_providers:
            d["capacityProviderStrategy"] = self.capacity_providers
        if self.launch_type == "FARGATE":
            d["platformVersion"] = self.platform_version or "LATEST"
            d["platformFamily"] = "Linux"
        if self.network:
            d["networkConfiguration"] = self.network
        if self.params.get("healthCheckGracePeriodSeconds") is not None:
            d["healthCheckGracePeriodSeconds"] = self.params["healthCheckGracePeriodSeconds"]
        if self.params.get("role"):
            d["roleArn"] = self.params["role"]
        sd = self.current_sd()
        if sd is not None:
            d["currentServiceDeployment"] = sd.arn
            revs = []
            for dep in self.deployments:
                if getattr(dep, "revision_arn", None):
                    r, pe = dep.counts()
                    revs.append({"arn": dep.revision_arn, "requestedTaskCount": self.desired if dep.status == "PRIMARY" else len(dep.tasks()),
                                 "runningTaskCount": r, "pendingTaskCount": pe})
            d["currentServiceRevisions"] = revs
        if include_tags:
            d["tags"] = list(self.sim.tags.get(self.arn, []))
        return d
