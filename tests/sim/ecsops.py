"""The ECS API operations of the simulator (mixed into ecsmodel.Sim as op_<OperationName>).

Each takes the decoded, already model-validated request and returns the response dict (ecssim.py
filters it through the output shape). Errors are raised as ApiError with the __type and message
ECS uses for the same condition, where we know them.
"""

import copy
import re

from ecsmodel import ApiError, client_error, invalid, page, parse_resource, capacity_launch_type
from ecssched import Service, default_dc

FAMILY_RE = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")
NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,255}$")


class Ops:
    # ---- task definitions ----------------------------------------------------------------

    def op_RegisterTaskDefinition(self, p):
        fam = p["family"]
        if not FAMILY_RE.match(fam):
            raise client_error("Family contains invalid characters or is too long. Up to 255 letters "
                               "(uppercase and lowercase), numbers, hyphens, and underscores are allowed.")
        cds = p["containerDefinitions"]
        if not cds:
            raise client_error("Container list cannot be empty.")
        names = set()
        compat = p.get("requiresCompatibilities") or []
        mode = p.get("networkMode")
        for c in cds:
            if not c.get("name"):
                raise client_error("Container.name should not be null or empty.")
            if not NAME_RE.match(c["name"]):
                raise client_error("Container.name contains invalid characters.")
            if c["name"] in names:
                raise client_error("Duplicate container names are not allowed: %s." % c["name"])
            names.add(c["name"])
            if not c.get("image"):
                raise client_error("Container.image should not be null or empty.")
            if p.get("memory") is None and "FARGATE" not in compat and \
                    c.get("memory") is None and c.get("memoryReservation") is None:
                raise client_error("Invalid setting for container '%s'. At least one of 'memory' or "
                                   "'memoryReservation' must be specified." % c["name"])
        if "FARGATE" in compat:
            if mode != "awsvpc":
                raise client_error("Fargate only supports network mode \u2018awsvpc\u2019.")
            if p.get("cpu") is None:
                raise client_error("Fargate requires that 'cpu' be defined at the task level.")
            if p.get("memory") is None:
                raise client_error("Fargate requires that 'memory' be defined at the task level.")
        parse_resource(p.get("cpu"), False)
        parse_resource(p.get("memory"), True)
        tags = p.get("tags") or []
        if len(tags) > 50:
            raise invalid("Too many tags: at most 50 are allowed.")
        inp = {k: v for k, v in p.items() if k != "tags"}
        recs = self.families.setdefault(fam, [])
        rev = len(recs) + 1
        arn = self.arn("task-definition", "%s:%d" % (fam, rev))
        req = [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}]
        if any(c.get("healthCheck") for c in cds):
            req.append({"name": "ecs.capability.container-health-check"})
        if mode == "awsvpc":
            req.append({"name": "ecs.capability.task-eni"})
        if p.get("taskRoleArn"):
            req.append({"name": "com.amazonaws.ecs.capability.task-iam-role"})
        if p.get("executionRoleArn"):
            req.append({"name": "ecs.capability.execution-role-ecr-pull"})
        if mode == "awsvpc":
            comp = ["EC2", "FARGATE"] if p.get("cpu") and p.get("memory") else ["EC2"]
        else:
            comp = ["EXTERNAL", "EC2"]
        rec = {"family": fam, "revision": rev, "arn": arn, "input": inp, "status": "ACTIVE",
               "registeredAt": self.t, "requiresAttributes": req, "compatibilities": comp}
        recs.append(rec)
        self.tags[arn] = list(tags)
        out = {"taskDefinition": self.td_out(rec)}
        if tags:
            out["tags"] = list(tags)
        return out

    def op_DescribeTaskDefinition(self, p):
        rec = self.td_find(p["taskDefinition"])
        if rec is None:
            raise client_error("Unable to describe task definition.")
        out = {"taskDefinition": self.td_out(rec)}
        if "TAGS" in (p.get("include") or []):
            out["tags"] = list(self.tags.get(rec["arn"], []))
        return out

    def op_DeregisterTaskDefinition(self, p):
        ref = p["taskDefinition"]
        name = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
        if ":" not in name:
            raise client_error("Revision is missing.")
        rev = name.rsplit(":", 1)[1]
        if not rev.isdigit():
            raise invalid("Invalid revision number. Number: %s" % rev)
        rec = self.td_find(ref)
        if rec is None:
            raise client_error("Unable to describe task definition.")
        if rec["status"] == "ACTIVE":
            rec["status"] = "INACTIVE"
            rec["deregisteredAt"] = self.t
        return {"taskDefinition": self.td_out(rec)}

    def op_ListTaskDefinitions(self, p):
        status = p.get("status", "ACTIVE")
        prefix = p.get("familyPrefix")
        recs = []
        for fam in sorted(self.families):
            if prefix is not None and not fam.startswith(prefix):
                continue
            recs.extend(r for r in self.families[fam] if r["status"] == status)
        recs.sort(key=lambda r: (r["family"], r["revision"]))
        if p.get("sort", "ASC") == "DESC":
            recs.reverse()
        arns = [r["arn"] for r in recs]
        chunk, nxt = page(arns, p, ["ltd", prefix, status, p.get("sort", "ASC")], 100)
        out = {"taskDefinitionArns": chunk}
        if nxt:
            out["nextToken"] = nxt
        return out

    def op_ListTaskDefinitionFamilies(self, p):
        status = p.get("status", "ACTIVE")
        prefix = p.get("familyPrefix")
        fams = []
        for fam in sorted(self.families):
            if prefix is not None and not fam.startswith(prefix):
                continue
            active = any(r["status"] == "ACTIVE" for r in self.families[fam])
            if status == "ALL" or (status == "ACTIVE" and active) or (status == "INACTIVE" and not active):
                fams.append(fam)
        chunk, nxt = page(fams, p, ["ltdf", prefix, status], 100)
        out = {"families": chunk}
        if nxt:
            out["nextToken"] = nxt
        return out

    # ---- clusters and container instances ----------------------------------------------------

    def cluster_out(self, cl, include=()):
        tasks = [t for t in self.tasks.values() if t.cluster is cl]
        d = {"clusterArn": cl["arn"], "clusterName": cl["name"], "status": cl["status"],
             "registeredContainerInstancesCount": sum(1 for c in cl["instances"].values() if c["status"] == "ACTIVE"),
             "runningTasksCount": sum(1 for t in tasks if t.last == "RUNNING"),
             "pendingTasksCount": sum(1 for t in tasks if t.last in ("PROVISIONING", "PENDING")),
             "activeServicesCount": sum(1 for s in self.services.values() if s.cluster is cl and s.status == "ACTIVE"),
             "statistics": [], "tags": [], "capacityProviders": [], "defaultCapacityProviderStrategy": []}
        if "SETTINGS" in include:
            d["settings"] = cl["settings"]
        if "TAGS" in include:
            d["tags"] = list(self.tags.get(cl["arn"], []))
        return d

    def op_CreateCluster(self, p):
        name = p.get("clusterName", "default")
        if not NAME_RE.match(name):
            raise invalid("Cluster name contains invalid characters.")
        cl = self.create_cluster(name, p.get("tags"))
        if cl["status"] != "ACTIVE":
            cl["status"] = "ACTIVE"
        return {"cluster": self.cluster_out(cl, ("TAGS", "SETTINGS"))}

    def op_DescribeClusters(self, p):
        refs = p.get("clusters") or ["default"]
        if len(refs) > 100:
            raise invalid("Clusters cannot have more than 100 elements.")
        out, fails = [], []
        for r in refs:
            cl = self.cluster(r, required=False)
            if cl is None:
                fails.append({"arn": r if r.startswith("arn:") else self.arn("cluster", r), "reason": "MISSING"})
            else:
                out.append(self.cluster_out(cl, p.get("include") or ()))
        return {"clusters": out, "failures": fails}

    def op_ListClusters(self, p):
        arns = [c["arn"] for c in self.clusters.values() if c["status"] == "ACTIVE"]
        chunk, nxt = page(arns, p, ["lc"], 100)
        out = {"clusterArns": chunk}
        if nxt:
            out["nextToken"] = nxt
        return out

    def ci_out(self, ci, include_tags=False):
        cpu, mem, ports = self.instance_usage(ci)
        tcp = sorted(str(pt) for proto, pt in ports if proto == "tcp")
        udp = sorted(str(pt) for proto, pt in ports if proto == "udp")
        cl_tasks = [t for t in self.tasks.values() if t.ci is ci]

        def res(c, m, tp, up):
            return [{"name": "CPU", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": c},
                    {"name": "MEMORY", "type": "INTEGER", "doubleValue": 0.0, "longValue": 0, "integerValue": m},
                    {"name": "PORTS", "type": "STRINGSET", "doubleValue": 0.0, "longValue": 0, "integerValue": 0,
                     "stringSetValue": tp},
                    {"name": "PORTS_UDP", "type": "STRINGSET", "doubleValue": 0.0, "longValue": 0, "integerValue": 0,
                     "stringSetValue": up}]
        d = {"containerInstanceArn": ci["arn"], "ec2InstanceId": ci["ec2"], "version": 1,
             "versionInfo": {"agentVersion": "1.89.0", "agentHash": "0123abcd",
                             "dockerVersion": "DockerVersion: 25.0.6"},
             "remainingResources": res(ci["cpu"] - cpu, ci["memory"] - mem, tcp, udp),
             "registeredResources": res(ci["cpu"], ci["memory"],
                                        [str(x) for x in ci["reserved_ports"]], []),
             "status": ci["status"], "agentConnected": True,
             "runningTasksCount": sum(1 for t in cl_tasks if t.last == "RUNNING"),
             "pendingTasksCount": sum(1 for t in cl_tasks if t.last in ("PROVISIONING", "PENDING")),
             "attributes": [{"name": "ecs.os-type", "value": "linux"},
                            {"name": "ecs.cpu-architecture", "value": "x86_64"}] + list(ci["attributes"]),
             "registeredAt": ci["registeredAt"], "attachments": []}
        if include_tags:
            d["tags"] = list(self.tags.get(ci["arn"], []))
        return d

    def ci_find(self, cl, ref):
        if ref.startswith("arn:"):
            ref = ref.rsplit("/", 1)[-1]
        for ci in cl["instances"].values():
            if ci["id"] == ref:
                return ci
        return None

    def op_RegisterContainerInstance(self, p):
        cl = self.cluster(p.get("cluster"))
        cpu, mem = 2048, 3900
        for r in p.get("totalResources") or []:
            if r.get("name") == "CPU":
                cpu = r.get("integerValue", cpu)
            elif r.get("name") == "MEMORY":
                mem = r.get("integerValue", mem)
        ci = self.add_instance(cl, cpu, mem, p.get("attributes"))
        if p.get("tags"):
            self.tags[ci["arn"]] = list(p["tags"])
        return {"containerInstance": self.ci_out(ci, True)}

    def op_DeregisterContainerInstance(self, p):
        cl = self.cluster(p.get("cluster"))
        ci = self.ci_find(cl, p["containerInstance"])
        if ci is None:
            raise invalid("The referenced container instance was not found.")
        if any(t.ci is ci and t.last != "STOPPED" for t in self.tasks.values()) and not p.get("force"):
            raise invalid("Found running tasks on the instance.")
        ci["status"] = "INACTIVE"
        return {"containerInstance": self.ci_out(ci)}

    def op_ListContainerInstances(self, p):
        cl = self.cluster(p.get("cluster"))
        st = p.get("status")
        arns = [ci["arn"] for ci in cl["instances"].values()
                if (st is None and ci["status"] != "INACTIVE") or ci["status"] == st]
        chunk, nxt = page(arns, p, ["lci", cl["name"], st], 100)
        out = {"containerInstanceArns": chunk}
        if nxt:
            out["nextToken"] = nxt
        return out

    def op_DescribeContainerInstances(self, p):
        cl = self.cluster(p.get("cluster"))
        refs = p["containerInstances"]
        if len(refs) > 100:
            raise invalid("ContainerInstances cannot have more than 100 elements.")
        out, fails = [], []
        for r in refs:
            ci = self.ci_find(cl, r)
            if ci is None:
                fails.append({"arn": r, "reason": "MISSING"})
            else:
                out.append(self.ci_out(ci, "TAGS" in (p.get("include") or [])))
        return {"containerInstances": out, "failures": fails}

    # ---- services ------------------------------------------------------------------------

    def op_CreateService(self, p, steady=False):
        cl = self.cluster(p.get("cluster"))
        name = p["serviceName"]
        if not NAME_RE.match(name):
            raise invalid("Service name contains invalid characters.")
        arn = self.arn("service", "%s/%s" % (cl["name"], name))
        if arn in self.services and self.services[arn].status != "INACTIVE":
            raise invalid("Creation of service was not idempotent.")
        ctype = (p.get("deploymentController") or {}).get("type", "ECS")
        if not p.get("taskDefinition"):
            if ctype != "EXTERNAL":
                raise invalid("TaskDefinition must be provided.")
        rec = self.td_find(p.get("taskDefinition"))
        if rec is None:
            raise client_error("TaskDefinition not found.")
        if rec["status"] != "ACTIVE":
            raise client_error("TaskDefinition is inactive")
        if p.get("desiredCount", 0) < 0:
            raise invalid("desiredCount can't be negative")
        self.check_launch(rec, p.get("launchType") or (capacity_launch_type(p.get("capacityProviderStrategy"))
                                                       if p.get("capacityProviderStrategy") else None),
                          p.get("networkConfiguration"))
        svc = Service(self, cl, name, rec, p, self.t)
        self.services[arn] = svc
        if p.get("tags"):
            self.tags[arn] = list(p["tags"])
        dep = svc.start_deployment(rec["arn"], self.t)
        if steady:
            dep.sd.set_status("IN_PROGRESS", self.t)
            dep.sd.started_at = self.t
            for _ in range(svc.desired):
                t, why = self.start_task(cl, rec, dep.launch_type or capacity_launch_type(svc.capacity_providers),
                                         "service:" + name, dep.id, service=svc, deployment=dep,
                                         network=dep.network, platform_version=dep.platform_version)
                if t is None:
                    raise ValueError("scenario service %s cannot be placed: %s" % (name, why[0]))
                t.force_running(self.t)
            svc.complete(dep, self.t)
        return {"service": svc.out()}

    def check_launch(self, rec, launch_type, network):
        mode = rec["input"].get("networkMode")
        if launch_type == "FARGATE" and mode != "awsvpc":
            raise client_error("Task definition does not support launch_type FARGATE.")
        if mode == "awsvpc" and not network:
            raise invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")

    def op_UpdateService(self, p):
        svc = self.service(p.get("cluster"), p["service"], active_only=True)
        ctype = svc.controller.get("type", "ECS")
        new_td = None
        if p.get("taskDefinition") is not None:
            rec = self.td_find(p["taskDefinition"])
            if rec is None:
                raise client_error("TaskDefinition not found.")
            if rec["status"] != "ACTIVE":
                raise client_error("TaskDefinition is inactive")
            if ctype == "CODE_DEPLOY":
                raise invalid("Unable to update task definition on services with a CODE_DEPLOY deployment "
                              "controller. Use AWS CodeDeploy to trigger a new deployment.")
            if ctype == "EXTERNAL":
                raise invalid("Unable to update task definition on services with an EXTERNAL deployment "
                              "controller. Use TaskSets to trigger a new deployment.")
            new_td = rec
        if p.get("desiredCount") is not None:
            if p["desiredCount"] < 0:
                raise invalid("desiredCount can't be negative")
        if p.get("deploymentConfiguration") is not None:
            # members not sent are kept (set update_replaces_deployment_configuration to make
            # them fall back to their defaults instead)
            dc = {} if self.sc.get("update_replaces_deployment_configuration") else copy.deepcopy(svc.dc)
            dc.update(copy.deepcopy(p["deploymentConfiguration"]))
            dc = default_dc(dc)
            if dc["maximumPercent"] < dc["minimumHealthyPercent"] or dc["maximumPercent"] <= 0 and svc.desired:
                raise invalid("The maximumPercent must be greater than or equal to the minimumHealthyPercent.")
            svc.dc = dc
        rec = new_td or self.td_find(svc.td_arn)
        network = p.get("networkConfiguration", svc.network)
        if new_td is not None:
            self.check_launch(new_td, svc.launch_type, network)
        changed = False
        for k, attr in (("networkConfiguration", "network"), ("platformVersion", "platform_version")):
            if k in p and p[k] != getattr(svc, attr):
                setattr(svc, attr, copy.deepcopy(p[k]))
                changed = True
        if "capacityProviderStrategy" in p:
            svc.capacity_providers = p["capacityProviderStrategy"]
            changed = True
        for k in ("healthCheckGracePeriodSeconds", "placementConstraints", "placementStrategy",
                  "enableExecuteCommand", "enableECSManagedTags", "propagateTags", "loadBalancers",
                  "serviceRegistries", "availabilityZoneRebalancing"):
            if k in p:
                svc.params[k] = p[k]
        if p.get("desiredCount") is not None:
            if p["desiredCount"] != svc.desired:
                svc.steady_announced = False
            svc.desired = p["desiredCount"]
        if (new_td is not None and new_td["arn"] != svc.td_arn) or p.get("forceNewDeployment") or changed:
            svc.start_deployment(rec["arn"], self.t)
        return {"service": svc.out()}

    def op_DeleteService(self, p):
        svc = self.service(p.get("cluster"), p["service"])
        if svc.status != "ACTIVE":
            raise ApiError("ServiceNotActiveException", "Service was not ACTIVE.")
        if svc.desired > 0 and not p.get("force"):
            raise invalid("The service cannot be stopped while it is scaled above 0.")
        svc.status = "DRAINING"
        return {"service": svc.out()}

    def op_DescribeServices(self, p):
        cl = self.cluster(p.get("cluster"))
        refs = p["services"]
        if len(refs) > 10:
            raise invalid("services cannot contain more than 10 elements.")
        if not refs:
            raise invalid("Services cannot be empty.")
        out, fails = [], []
        for r in refs:
            try:
                svc = self.service(cl["name"], r)
            except ApiError:
                svc = None
            if svc is None:
                fails.append({"arn": r if r.startswith("arn:") else self.arn("service", "%s/%s" % (cl["name"], r)),
                              "reason": "MISSING"})
            else:
                out.append(svc.out("TAGS" in (p.get("include") or [])))
        return {"services": out, "failures": fails}

    def op_ListServices(self, p):
        cl = self.cluster(p.get("cluster"))
        arns = [s.arn for s in self.services.values() if s.cluster is cl and s.status != "INACTIVE"
                and (not p.get("launchType") or s.launch_type == p["launchType"])]
        chunk, nxt = page(arns, p, ["ls", cl["name"], p.get("launchType")], 10)
        out = {"serviceArns": chunk}
        if nxt:
            out["nextToken"] = nxt
        return out

    # ---- service deployments -----------------------------------------------------------------

    def op_ListServiceDeployments(self, p):
        svc = self.service(p.get("cluster"), p["service"])
        sds = list(svc.sds)
        if p.get("status"):
            sds = [s for s in sds if s.status in p["status"]]
        ca = p.get("createdAt") or {}
        if ca.get("after") is not None:
            sds = [s for s in sds if s.created_at >= ca["after"]]
        if ca.get("before") is not None:
            sds = [s for s in sds if s.created_at <= ca["before"]]
        chunk, nxt = page(sds, p, ["lsd", svc.arn, p.get("status"), ca.get("after"), ca.get("before")], 20)
        out = {"serviceDeployments": [s.brief() for s in chunk]}
        if nxt:
            out["nextToken"] = nxt
        return out

    def op_DescribeServiceDeployments(self, p):
        arns = p["serviceDeploymentArns"]
        if len(arns) > 20:
            raise invalid("serviceDeploymentArns cannot contain more than 20 elements.")
        out, fails = [], []
        for a in arns:
            sd = self.sds.get(a)
            if sd is None:
                fails.append({"arn": a, "reason": "MISSING"})
            else:
                out.append(sd.out())
        return {"serviceDeployments": out, "failures": fails}

    def op_StopServiceDeployment(self, p):
        sd = self.sds.get(p["serviceDeploymentArn"])
        if sd is None:
            raise ApiError("ServiceDeploymentNotFoundException", "The service deployment does not exist.")
        if not sd.in_progress():
            raise ApiError("ConflictException", "The service deployment is not in progress: its status is %s." % sd.status)
        svc = sd.svc
        stop_type = p.get("stopType", "ROLLBACK")
        dep = sd.target
        now = self.t
        if stop_type == "ABORT":
            dep.frozen = True
            dep.rollout_state = "FAILED"
            dep.rollout_reason = "Service deployment stopped by the user (ABORT)."
            sd.set_status("STOP_REQUESTED", now)
            sd.status_reason = "Service deployment stopped by the user."
            sd._stop_due = now
        else:
            if not svc.rollback(dep, sd, now, "Service deployment rolled back by the user (StopServiceDeployment)."):
                raise ApiError("ConflictException", "There is no previous service revision to roll back to.")
            sd.set_status("ROLLBACK_REQUESTED", now)
            sd._stop_due = now
        return {"serviceDeploymentArn": sd.arn}

    def op_ContinueServiceDeployment(self, p):
        sd = self.sds.get(p["serviceDeploymentArn"])
        if sd is None:
            raise ApiError("ServiceDeploymentNotFoundException", "The service deployment does not exist.")
        det = [h for h in sd.hooks if h["hookId"] == p["hookId"]]
        if not det:
            raise invalid("The lifecycle hook %s was not found in the service deployment." % p["hookId"])
        det = det[0]
        if det["status"] != "AWAITING_ACTION" or sd.status != "IN_PROGRESS":
            raise client_error("The lifecycle hook %s is not awaiting action (status %s)." % (p["hookId"], det["status"]))
        if p.get("action", "CONTINUE") == "ROLLBACK":
            det["status"] = "SUCCEEDED"
            sd.svc.rollback(sd.target, sd, self.t, "Service deployment rolled back by ContinueServiceDeployment.")
        else:
            det["status"] = "SUCCEEDED"
        sd.updated_at = self.t
        return {"serviceDeploymentArn": sd.arn}

    def op_DescribeServiceRevisions(self, p):
        arns = p["serviceRevisionArns"]
        if len(arns) > 20:
            raise invalid("serviceRevisionArns cannot contain more than 20 elements.")
        out, fails = [], []
        for a in arns:
            r = self.revisions.get(a)
            if r is None:
                fails.append({"arn": a, "reason": "MISSING"})
            else:
                out.append(r)
        return {"serviceRevisions": out, "failures": fails}

    # ---- tasks ---------------------------------------------------------------------------

    def op_ListTasks(self, p):
        cl = self.cluster(p.get("cluster"))
        svc = None
        if p.get("serviceName"):
            svc = self.service(cl["name"], p["serviceName"])
        ds = p.get("desiredStatus", "RUNNING")
        ci = None
        if p.get("containerInstance"):
            ci = self.ci_find(cl, p["containerInstance"])
            if ci is None:
                raise invalid("The referenced container instance was not found.")
        out = []
        for t in self.tasks.values():
            if t.cluster is not cl:
                continue
            if svc is not None and t.service is not svc:
                continue
            if p.get("family") and t.rec["family"] != p["family"]:
                continue
            if p.get("startedBy") and t.started_by != p["startedBy"]:
                continue
            if p.get("launchType") and t.launch_type != p["launchType"]:
                continue
            if ci is not None and t.ci is not ci:
                continue
            if ds == "PENDING" or t.desired != ds:
                continue
            out.append(t.arn)
        q = ["lt", cl["name"], p.get("serviceName"), p.get("family"), p.get("startedBy"), ds,
             p.get("launchType"), p.get("containerInstance")]
        chunk, nxt = page(out, p, q, 100)
        res = {"taskArns": chunk}
        if nxt:
            res["nextToken"] = nxt
        return res

    def op_DescribeTasks(self, p):
        cl = self.cluster(p.get("cluster"))
        refs = p["tasks"]
        if not refs:
            raise invalid("Tasks cannot be empty.")
        if len(refs) > 100:
            raise invalid("Tasks cannot have more than 100 elements.")
        out, fails = [], []
        for r in refs:
            t = self.task_lookup(cl, r)
            if t is None:
                fails.append({"arn": r, "reason": "MISSING"})
            else:
                out.append(t.out("TAGS" in (p.get("include") or [])))
        return {"tasks": out, "failures": fails}

    def op_RunTask(self, p):
        cl = self.cluster(p.get("cluster"))
        rec = self.td_find(p["taskDefinition"])
        if rec is None:
            raise client_error("TaskDefinition not found.")
        if rec["status"] != "ACTIVE":
            raise client_error("TaskDefinition is inactive")
        count = p.get("count", 1)
        if count < 1 or count > 10:
            raise invalid("Count must be between 1 and 10.")
        if p.get("launchType") and p.get("capacityProviderStrategy"):
            raise invalid("Specifying both a launch type and capacity provider strategy is not supported.")
        lt = p.get("launchType") or capacity_launch_type(p.get("capacityProviderStrategy"))
        self.check_launch(rec, lt, p.get("networkConfiguration"))
        if p.get("startedBy") and len(p["startedBy"]) > 128:
            raise invalid("startedBy must be at most 128 characters.")
        if lt == "EC2" and not any(ci["status"] == "ACTIVE" for ci in cl["instances"].values()):
            raise invalid("No Container Instances were found in your cluster.")
        names = [c["name"] for c in rec["input"]["containerDefinitions"]]
        for o in (p.get("overrides") or {}).get("containerOverrides") or []:
            if o.get("name") not in names:
                raise invalid("Override for container named %s is not a container in the TaskDefinition." % o.get("name"))
        tasks, fails = [], []
        forced = None
        for f in self.run_task_failures:
            if f.get("family") in (None, rec["family"]) and f.get("count", 1) != 0:
                forced = f
                break
        if forced is not None:
            if "count" in forced:
                forced["count"] = forced["count"] - 1
            ci_arns = [ci["arn"] for ci in cl["instances"].values()] or [cl["arn"]]
            for i in range(count):
                fl = {"arn": ci_arns[i % len(ci_arns)], "reason": forced.get("reason", "RESOURCE:MEMORY")}
                if forced.get("detail"):
                    fl["detail"] = forced["detail"]
                fails.append(fl)
            return {"tasks": [], "failures": fails}
        group = p.get("group") or "family:" + rec["family"]
        for _ in range(count):
            t, why = self.start_task(cl, rec, lt, group, p.get("startedBy"), overrides=p.get("overrides"),
                                     network=p.get("networkConfiguration"), tags=p.get("tags"),
                                     platform_version=p.get("platformVersion"))
            if t is None:
                reason, ci = why
                if reason == "CAPACITY":
                    fails.append({"arn": cl["arn"], "reason": "Capacity is unavailable at this time. Please try "
                                  "again later or in a different availability zone"})
                else:
                    fails.append({"arn": ci["arn"] if ci else cl["arn"], "reason": reason})
                continue
            if p.get("tags"):
                self.tags[t.arn] = list(p["tags"])
            tasks.append(t.out())
        return {"tasks": tasks, "failures": fails}

    def op_StopTask(self, p):
        cl = self.cluster(p.get("cluster"))
        t = self.task_lookup(cl, p["task"])
        if t is None:
            raise invalid("The referenced task was not found.")
        reason = p.get("reason") or "Task stopped by user"
        if t.desired == "RUNNING":
            t.stop(self.t, "UserInitiated", reason)
        return {"task": t.out()}

    # ---- tags ----------------------------------------------------------------------------

    def resource_exists(self, arn):
        m = re.match(r"^arn:aws[a-z-]*:ecs:[^:]+:[0-9]+:([a-z-]+)/(.+)$", arn)
        if not m:
            raise invalid("The ARN provided is invalid.")
        kind = m.group(1)
        if kind == "task-definition":
            return self.td_find(arn) is not None and ":" in m.group(2)
        if kind == "cluster":
            return m.group(2) in self.clusters
        if kind == "service":
            return arn in self.services
        if kind == "task":
            return arn in self.tasks
        if kind == "container-instance":
            return any(arn in c["instances"] for c in self.clusters.values())
        return False

    def op_TagResource(self, p):
        arn = p["resourceArn"]
        if not self.resource_exists(arn):
            raise ApiError("ResourceNotFoundException", "The specified resource could not be found.")
        cur = self.tags.setdefault(arn, [])
        for tag in p["tags"]:
            cur[:] = [x for x in cur if x.get("key") != tag.get("key")]
            cur.append(tag)
        if len(cur) > 50:
            raise invalid("Too many tags: at most 50 are allowed.")
        t = self.tasks.get(arn)
        if t is not None:
            t.tags = list(cur)
        return {}

    def op_UntagResource(self, p):
        arn = p["resourceArn"]
        if not self.resource_exists(arn):
            raise ApiError("ResourceNotFoundException", "The specified resource could not be found.")
        cur = self.tags.setdefault(arn, [])
        cur[:] = [x for x in cur if x.get("key") not in p["tagKeys"]]
        return {}

    def op_ListTagsForResource(self, p):
        arn = p["resourceArn"]
        if not self.resource_exists(arn):
            raise ApiError("ResourceNotFoundException", "The specified resource could not be found.")
        return {"tags": list(self.tags.get(arn, []))}
