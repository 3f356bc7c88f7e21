"""Auth services for the simulator: ECS container credentials, EC2 IMDSv2 and a recording
STS front for moto.

Runs on its own (`python3 tests/sim/authsvc.py --port 0 [--moto URL]`: the first stdout line is
a JSON object of URLs), inside a test (`serve(moto_url=...)` returns (urls, server, state)), or
inside ecssim.py, which calls `start(ctx, host)` and merges the URLs it returns. Loopback only.

STS: with a moto URL, calls are recorded and forwarded to moto (its IAM users and roles); without
one, a small built-in STS answers AssumeRole / AssumeRoleWithWebIdentity / GetCallerIdentity and,
inside the simulator, registers every key it issues with the simulator so ECS calls signed with
them verify. Inside the simulator, container credentials ("/creds/default") and an IMDS role
("sim-instance") are preconfigured with such keys.

Endpoints (all under one server):
  GET  /creds/<name>                      container credentials (AWS_CONTAINER_CREDENTIALS_FULL_URI)
                                          checks Authorization against the configured token
  PUT  /imds/latest/api/token             IMDSv2 session token (needs the TTL header)
  GET  /imds/latest/meta-data/iam/security-credentials/[<role>]
  GET  /imds/latest/meta-data/placement/region
  POST /sts                               STS query API: recorded, faults applied, then
                                          forwarded to moto_server (when --moto is given)
Control (JSON):
  POST /_ctl/config   {"containers": {name: {"token": str|null, "creds": {...}, "status": int,
                        "expires_in": seconds, "issue": arn (new keys for each request)}},
                       "imds": {"role": str|null, "creds": {...}, "region": str, "status": int,
                                "expires_in": seconds},
                       "sts": {"deny_roles": [arn, ...], "deny_message": str,
                               "faults": [{"status": int, "code": str, "message": str}, ...]}}
                       (faults: answered to the next STS calls, one each, before anything else)
                       (creds: {"AccessKeyId", "SecretAccessKey", "Token"}; merged into the state)
  GET  /_ctl/log      every request seen: method, path, form (STS), has_authorization,
                      authorization_token_ok (container), imds_token_ok, and for STS the
                      answer's status and answer_secrets (SecretAccessKey, SessionToken)
  POST /_ctl/reset    forget the configuration and the log
"""

import argparse
import datetime
import json
import re
import secrets
import socket
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _iso(seconds_from_now):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    def __init__(self, moto_url=None, sim_ctx=None):
        self.lock = threading.Lock()
        self.moto_url = moto_url
        self.sim_ctx = sim_ctx
        self.issued = {}        # akid -> arn, for the built-in STS
        self.reset()

    def issue(self, arn, expires_in=3600):
        """New temporary keys for arn; registered with the simulator when there is one."""
        akid = "ASIA" + secrets.token_hex(8).upper()
        creds = {"AccessKeyId": akid, "SecretAccessKey": secrets.token_urlsafe(30),
                 "Token": "FwoG" + secrets.token_urlsafe(60)}
        self.issued[akid] = arn
        if self.sim_ctx is not None:
            self.sim_ctx.add_credential({"access_key_id": akid,
                                         "secret_access_key": creds["SecretAccessKey"],
                                         "session_token": creds["Token"],
                                         "expires_in": expires_in})
        return creds

    def reset(self):
        self.containers = {}
        self.imds = {"role": None, "creds": None, "region": "us-east-1", "status": 200,
                     "expires_in": 3600}
        self.sts = {"deny_roles": [], "deny_message": "not authorized to perform sts:AssumeRole"}
        self.imds_tokens = set()
        self.log = []


def make_handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def _send(self, status, body, ctype="application/json"):
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def _record(self, **kw):
            entry = {"method": self.command, "path": self.path,
                     "has_authorization": "Authorization" in self.headers}
            entry.update(kw)
            state.log.append(entry)
            return entry

        def _creds_json(self, creds, expires_in, code=False):
            out = {"AccessKeyId": creds["AccessKeyId"], "SecretAccessKey": creds["SecretAccessKey"],
                   "Token": creds.get("Token", ""), "Expiration": _iso(expires_in)}
            if code:
                out = dict({"Code": "Success", "LastUpdated": _iso(0), "Type": "AWS-HMAC"}, **out)
            return out

        # ---- control ----
        def _ctl(self):
            with state.lock:
                if self.path == "/_ctl/log" and self.command == "GET":
                    return self._send(200, state.log)
                if self.path == "/_ctl/reset" and self.command == "POST":
                    state.reset()
                    return self._send(200, {})
                if self.path == "/_ctl/config" and self.command == "POST":
                    cfg = json.loads(self._body() or b"{}")
                    state.containers.update(cfg.get("containers", {}))
                    state.imds.update(cfg.get("imds", {}))
                    state.sts.update(cfg.get("sts", {}))
                    return self._send(200, {})
            return self._send(404, {"message": "no such control"})

        # ---- container credentials ----
        def _container(self):
            name = self.path[len("/creds/"):]
            with state.lock:
                c = state.containers.get(name)
                want = c.get("token") if c else None
                ok = want is None or self.headers.get("Authorization") == want
                self._record(kind="container", name=name, authorization_token_ok=ok)
                if c is None:
                    return self._send(404, {"message": "no such credentials"})
                if not ok:
                    return self._send(401, {"message": "bad authorization token"})
                if c.get("status", 200) != 200:
                    return self._send(c["status"], {"message": "configured failure"})
                if c.get("issue"):       # fresh keys on every request (refresh tests)
                    creds = state.issue(c["issue"], c.get("expires_in", 3600))
                    self._record(kind="container-issued", akid=creds["AccessKeyId"])
                    return self._send(200, self._creds_json(creds, c.get("expires_in", 3600)))
                return self._send(200, self._creds_json(c["creds"], c.get("expires_in", 3600)))

        # ---- IMDSv2 ----
        def _imds(self):
            path = self.path[len("/imds"):]
            with state.lock:
                im = state.imds
                if self.command == "PUT" and path == "/latest/api/token":
                    ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
                    self._record(kind="imds", ttl=ttl)
                    if not ttl:
                        return self._send(400, "missing TTL", "text/plain")
                    if im.get("status", 200) != 200:
                        return self._send(im["status"], "configured failure", "text/plain")
                    tok = "imds-" + secrets.token_hex(8)
                    state.imds_tokens.add(tok)
                    return self._send(200, tok, "text/plain")
                tok_ok = self.headers.get("X-aws-ec2-metadata-token") in state.imds_tokens
                self._record(kind="imds", imds_token_ok=tok_ok)
                if self.command != "GET":
                    return self._send(405, "", "text/plain")
                if not tok_ok:
                    return self._send(401, "", "text/plain")
                base = "/latest/meta-data/iam/security-credentials/"
                if path == "/latest/meta-data/placement/region":
                    return self._send(200, im.get("region") or "", "text/plain")
                if path == base:
                    if not im.get("role"):
                        return self._send(404, "", "text/plain")
                    return self._send(200, im["role"], "text/plain")
                if path.startswith(base) and im.get("role") and path[len(base):] == im["role"]:
                    return self._send(200, self._creds_json(im["creds"], im.get("expires_in", 3600),
                                                            code=True))
                return self._send(404, "", "text/plain")

        # ---- STS ----
        def _sts(self):
            body = self._body()
            form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
            with state.lock:
                entry = self._record(kind="sts", form=form,
                             authorization=self.headers.get("Authorization", ""),
                             host=self.headers.get("Host", ""),
                             content_type=self.headers.get("Content-Type", ""))
                deny = form.get("RoleArn") in state.sts["deny_roles"]
                msg = state.sts["deny_message"]
                faults = state.sts.setdefault("faults", [])
                fault = faults.pop(0) if faults else None
            if fault:
                entry["status"] = fault["status"]
                xml = ("<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s"
                       "</Message></Error><RequestId>0c1b2a3d-0000-4000-8000-000000000002"
                       "</RequestId></ErrorResponse>" % (fault["code"], fault.get("message", "injected")))
                return self._send(fault["status"], xml, "text/xml")
            if deny:
                xml = ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                       "<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>%s</Message>"
                       "</Error><RequestId>0c1b2a3d-0000-4000-8000-000000000001</RequestId>"
                       "</ErrorResponse>" % msg.replace("&", "&amp;").replace("<", "&lt;"))
                return self._send(403, xml, "text/xml")
            if not state.moto_url:
                return self._builtin_sts(form, entry)
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "content-length", "connection")}
            rq = urllib.request.Request(state.moto_url.rstrip("/") + "/", data=body, method="POST",
                                        headers=headers)
            try:
                with urllib.request.urlopen(rq, timeout=20) as r:
                    status, data, ctype = r.status, r.read(), r.headers.get("Content-Type", "text/xml")
            except urllib.error.HTTPError as err:
                status, data, ctype = err.code, err.read(), err.headers.get("Content-Type", "text/xml")
            # Remember the secrets STS handed out, so tests can prove they never appear in output.
            with state.lock:
                entry["status"] = status
                entry["answer_secrets"] = re.findall(
                    r"<(?:SecretAccessKey|SessionToken)>([^<]+)</", data.decode("utf-8", "replace"))
            return self._send(status, data, ctype or "text/xml")

        def _builtin_sts(self, form, entry):
            action = form.get("Action")
            ns = "https://sts.amazonaws.com/doc/2011-06-15/"
            with state.lock:
                if action in ("AssumeRole", "AssumeRoleWithWebIdentity"):
                    arn = form.get("RoleArn", "")
                    m = re.match(r"arn:([^:]+):iam::(\d{12}):role/(?:.*/)?([^/]+)$", arn)
                    if not m or not form.get("RoleSessionName"):
                        status, xml = 400, ("<ErrorResponse><Error><Type>Sender</Type><Code>"
                                            "ValidationError</Code><Message>bad RoleArn or "
                                            "RoleSessionName</Message></Error></ErrorResponse>")
                    else:
                        dur = int(form.get("DurationSeconds") or 3600)
                        who = "arn:%s:sts::%s:assumed-role/%s/%s" % (
                            m.group(1), m.group(2), m.group(3), form["RoleSessionName"])
                        c = state.issue(who, dur)
                        status, xml = 200, (
                            "<%sResponse xmlns=\"%s\"><%sResult><Credentials><AccessKeyId>%s"
                            "</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s"
                            "</SessionToken><Expiration>%s</Expiration></Credentials>"
                            "<AssumedRoleUser><Arn>%s</Arn><AssumedRoleId>AROASIM:%s</AssumedRoleId>"
                            "</AssumedRoleUser></%sResult></%sResponse>" % (
                                action, ns, action, c["AccessKeyId"], c["SecretAccessKey"],
                                c["Token"], _iso(dur), who, form["RoleSessionName"], action, action))
                elif action == "GetCallerIdentity":
                    m = re.search(r"Credential=([A-Z0-9]+)/", self.headers.get("Authorization", ""))
                    akid = m.group(1) if m else ""
                    arn = state.issued.get(akid, "arn:aws:iam::123456789012:user/simulator")
                    status, xml = 200, (
                        "<GetCallerIdentityResponse xmlns=\"%s\"><GetCallerIdentityResult><Arn>%s"
                        "</Arn><UserId>%s</UserId><Account>123456789012</Account>"
                        "</GetCallerIdentityResult></GetCallerIdentityResponse>" % (ns, arn, akid))
                else:
                    status, xml = 400, ("<ErrorResponse><Error><Type>Sender</Type><Code>"
                                        "InvalidAction</Code><Message>not simulated</Message>"
                                        "</Error></ErrorResponse>")
                entry["status"] = status
                entry["answer_secrets"] = re.findall(r"<(?:SecretAccessKey|SessionToken)>([^<]+)</", xml)
            return self._send(status, xml, "text/xml")

        def _route(self):
            try:
                if self.path.startswith("/_ctl/"):
                    return self._ctl()
                if self.path.startswith("/creds/") and self.command == "GET":
                    return self._container()
                if self.path.startswith("/imds/"):
                    return self._imds()
                if self.path in ("/sts", "/sts/") and self.command == "POST":
                    return self._sts()
                return self._send(404, {"message": "not found"})
            except BrokenPipeError:
                pass

        do_GET = do_PUT = do_POST = _route

    return H


def serve(moto_url=None, sim_ctx=None, host="127.0.0.1", port=0):
    """Starts the server on a daemon thread; returns (urls, server, state)."""
    state = State(moto_url, sim_ctx)
    v6 = ":" in host
    cls = ThreadingHTTPServer
    if v6:
        cls = type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    srv = cls((host, port), make_handler(state))
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://%s:%d" % ("[%s]" % host if v6 else host, srv.server_address[1])
    urls = {"sts": base + "/sts", "imds": base + "/imds", "ecs_creds": base + "/creds/",
            "auth_control": base + "/_ctl/"}
    return urls, srv, state


def start(ctx, host="127.0.0.1"):
    """The simulator's hook: serve next to it, with keys it accepts; returns the URLs."""
    urls, _, state = serve(sim_ctx=ctx, host=host if host in ("127.0.0.1", "::1") else "127.0.0.1")
    with state.lock:
        state.containers["default"] = {
            "token": None, "creds": state.issue("arn:aws:sts::123456789012:assumed-role/task/sim")}
        state.imds.update({"role": "sim-instance", "region": getattr(ctx, "region", "us-east-1"),
                           "creds": state.issue(
                               "arn:aws:sts::123456789012:assumed-role/sim-instance/i-0sim")})
    urls["ecs_creds_default"] = urls["ecs_creds"] + "default"
    return urls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--moto", help="moto_server URL to forward STS calls to")
    a = ap.parse_args()
    urls, srv, _ = serve(moto_url=a.moto, port=a.port)
    print(json.dumps(urls), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    srv.shutdown()


if __name__ == "__main__":
    sys.exit(main())
