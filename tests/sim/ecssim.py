#!/usr/bin/env python3
"""ECS control-plane simulator for the ecs-deploy tests.

    python3 tests/sim/ecssim.py --scenario tests/sim/scenarios/demo.json [--speed 60] [--port 0]
                                [--http-port 0] [--control-port 0] [--no-auth] [--no-tls] [--pki DIR]
                                [--tls-cert server|wronghost|expired|selfsigned|unknownca]

Prints one JSON line with its URLs, then serves until killed:
    {"ecs": "https://127.0.0.1:P", "http": "http://127.0.0.1:P", "control": "http://127.0.0.1:P",
     "ca": ".../ca.pem", "region": "us-east-1"}

Layers (this file): the botocore ECS model (request validation, response shaping), SigV4
verification with botocore's signer, the HTTP/1.1 servers (HTTPS with handshake counting, plain
HTTP), fault injection, and the control endpoint. The world itself is in ecsmodel.py (state,
tasks), ecssched.py (services, deployments, scheduler) and ecsops.py (the ECS operations).
See README.md for the control API and the scenario format.
"""

import argparse
import datetime
import email.utils
import fcntl
import hashlib
import hmac
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import botocore.session  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.compat import HTTPHeaders  # noqa: E402

import ecsmodel  # noqa: E402
from ecsmodel import ApiError  # noqa: E402

TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113."
SKEW_LIMIT = 300.0

# --------------------------------------------------------------------------------------------
# the botocore model: request validation and response shaping

MODEL = botocore.session.get_session().get_service_model("ecs")


def _where(path):
    return path or "request"


def validate(shape, value, path=""):
    """Reject what ECS would reject: unknown members, missing required members (both
    InvalidParameterException), wrong JSON types (SerializationException), bad enum values
    (InvalidParameterException)."""
    t = shape.type_name
    if t == "structure":
        if not isinstance(value, dict):
            raise ApiError("SerializationException",
                           "Start of %s found where a structure was expected at '%s'." % (
                               type(value).__name__, _where(path)))
        for k in value:
            if k not in shape.members:
                raise ApiError("InvalidParameterException",
                               "Unrecognized field \"%s\" at '%s': not a member of %s." % (
                                   k, _where(path), shape.name))
        for k in shape.required_members:
            if k not in value or value[k] is None:
                raise ApiError("InvalidParameterException",
                               "1 validation error detected: Value null at '%s' failed to satisfy "
                               "constraint: Member must not be null" % ((path + "." if path else "") + k))
        for k, v in value.items():
            if v is None:
                continue
            validate(shape.members[k], v, (path + "." if path else "") + k)
    elif t == "list":
        if not isinstance(value, list):
            raise ApiError("SerializationException",
                           "Expected a list at '%s', found %s." % (_where(path), type(value).__name__))
        for i, v in enumerate(value):
            validate(shape.member, v, "%s[%d]" % (path, i))
    elif t == "map":
        if not isinstance(value, dict):
            raise ApiError("SerializationException", "Expected a map at '%s'." % _where(path))
        for k, v in value.items():
            validate(shape.value, v, "%s.%s" % (path, k))
    elif t in ("string", "blob"):
        if not isinstance(value, str):
            raise ApiError("SerializationException",
                           "%s can not be converted to a String at '%s'." % (
                               type(value).__name__.upper(), _where(path)))
        if shape.enum and value not in shape.enum:
            raise ApiError("InvalidParameterException",
                           "Invalid value '%s' at '%s': must be one of %s." % (
                               value, _where(path), ", ".join(shape.enum)))
    elif t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError("SerializationException",
                           "%s can not be converted to an Integer at '%s'." % (
                               type(value).__name__.upper(), _where(path)))
    elif t in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ApiError("SerializationException",
                           "%s can not be converted to a Double at '%s'." % (
                               type(value).__name__.upper(), _where(path)))
    elif t == "boolean":
        if not isinstance(value, bool):
            raise ApiError("SerializationException",
                           "%s can not be converted to a Boolean at '%s'." % (
                               type(value).__name__.upper(), _where(path)))
    elif t == "timestamp":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ApiError("SerializationException", "Expected a timestamp (epoch seconds) at '%s'." % _where(path))


def shape_out(shape, value, path, problems):
    """Copy `value` keeping only what the output shape allows; anything dropped or mistyped is
    recorded in `problems` (the tests assert there is none)."""
    t = shape.type_name
    if value is None:
        return None
    if t == "structure":
        if not isinstance(value, dict):
            problems.append("%s: expected structure" % path)
            return None
        out = {}
        for k, v in value.items():
            if k not in shape.members:
                problems.append("%s.%s: not in %s" % (path, k, shape.name))
                continue
            sv = shape_out(shape.members[k], v, path + "." + k, problems)
            if sv is not None:
                out[k] = sv
        return out
    if t == "list":
        if not isinstance(value, list):
            problems.append("%s: expected list" % path)
            return None
        return [x for x in (shape_out(shape.member, v, "%s[%d]" % (path, i), problems)
                            for i, v in enumerate(value)) if x is not None]
    if t == "map":
        return {k: shape_out(shape.value, v, path + "." + k, problems) for k, v in value.items()}
    if t in ("string", "blob"):
        if not isinstance(value, str):
            problems.append("%s: expected string, got %r" % (path, value))
            return str(value)
        return value
    if t in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append("%s: expected integer, got %r" % (path, value))
        return value
    if t in ("double", "float"):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if t == "boolean":
        if not isinstance(value, bool):
            problems.append("%s: expected boolean, got %r" % (path, value))
        return value
    if t == "timestamp":
        return round(float(value), 3)
    return value


# --------------------------------------------------------------------------------------------
# clock


class Clock:
    """Simulated epoch seconds = start + real elapsed * speed + advances (paused: frozen)."""

    def __init__(self, speed):
        self._lock = threading.Lock()
        self.speed = float(speed)
        self.paused = False
        self._real0 = time.monotonic()
        self._sim0 = time.time()

    def _now(self):
        if self.paused:
            return self._sim0
        return self._sim0 + (time.monotonic() - self._real0) * self.speed

    def now(self):
        with self._lock:
            return self._now()

    def _rebase(self):
        self._sim0 = self._now()
        self._real0 = time.monotonic()

    def set_speed(self, x):
        with self._lock:
            self._rebase()
            self.speed = float(x)

    def pause(self, flag):
        with self._lock:
            self._rebase()
            self.paused = bool(flag)

    def advance(self, seconds):
        with self._lock:
            self._rebase()
            self._sim0 += float(seconds)

    def state(self):
        with self._lock:
            return {"now": self._now(), "speed": self.speed, "paused": self.paused}


# --------------------------------------------------------------------------------------------
# SigV4 verification


def amz_date(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def parse_amz_date(s):
    return datetime.datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


class _Verifier(SigV4Auth):
    """botocore's signer, restricted to the headers the client said it signed."""

    def __init__(self, creds, service, region, signed):
        super().__init__(creds, service, region)
        self._signed = signed

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name in self._signed:
            for v in request.headers.get_all(name) if hasattr(request.headers, "get_all") else [request.headers.get(name)]:
                if v is not None:
                    hm[name] = v
        return hm


def auth_error(code, msg):
    # ECS (a JSON 1.1 service) answers its authentication errors with HTTP 400, as SDK logs of
    # real InvalidSignatureException / UnrecognizedClientException answers show.
    return ApiError(code, msg, 400)


def verify_sigv4(ctx, method, raw_path, headers, body, scheme):
    """Raise ApiError unless the request carries a valid SigV4 signature of a known credential."""
    cfg = ctx.auth
    auth = headers.get("Authorization")
    if not auth:
        raise auth_error("MissingAuthenticationTokenException", "Missing Authentication Token")
    algo, _, rest = auth.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise auth_error("IncompleteSignatureException", "Unsupported AWS 'algorithm': '%s'" % algo)
    parts = {}
    for item in rest.split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    for need in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(need):
            raise auth_error("IncompleteSignatureException",
                             "Authorization header requires '%s' parameter. Authorization=%s" % (
                                 need, auth.split("Signature=")[0] + "Signature=..."))
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise auth_error("IncompleteSignatureException",
                         "Credential should be scoped to a valid region, service and 'aws4_request'.")
    akid, sdate, region, service, _ = scope
    xdate = headers.get("X-Amz-Date")
    if not xdate:
        raise auth_error("IncompleteSignatureException",
                         "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    try:
        ts = parse_amz_date(xdate)
    except ValueError:
        raise auth_error("IncompleteSignatureException", "Date must be in ISO-8601 'basic format'. Got '%s'." % xdate)
    cred = ctx.credentials.get(akid)
    if cred is None:
        raise auth_error("UnrecognizedClientException", "The security token included in the request is invalid.")
    server_now = time.time() + ctx.auth.get("server_clock_offset", 0)
    if ts < server_now - SKEW_LIMIT:
        raise auth_error("InvalidSignatureException",
                         "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
                             xdate, amz_date(server_now - SKEW_LIMIT), amz_date(server_now)))
    if ts > server_now + SKEW_LIMIT:
        raise auth_error("InvalidSignatureException",
                         "Signature not yet current: %s is still later than %s (%s + 5 min.)" % (
                             xdate, amz_date(server_now + SKEW_LIMIT), amz_date(server_now)))
    if sdate != xdate[:8]:
        raise auth_error("InvalidSignatureException",
                         "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                         "from HTTP: '%s' != '%s', from '%s'." % (sdate, xdate[:8], xdate))
    if region != ctx.region:
        raise auth_error("InvalidSignatureException",
                         "Credential should be scoped to a valid region, not '%s'. " % region)
    if service != "ecs":
        raise auth_error("InvalidSignatureException", "Credential should be scoped to correct service: 'ecs'. ")
    signed = [h.strip().lower() for h in parts["SignedHeaders"].split(";")]
    if "host" not in signed:
        raise auth_error("InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    token = headers.get("X-Amz-Security-Token")
    if cred.get("session_token"):
        if token != cred["session_token"]:
            raise auth_error("UnrecognizedClientException", "The security token included in the request is invalid.")
        exp = cred.get("expiration")
        if exp is not None and server_now >= exp:
            raise auth_error("ExpiredTokenException", "The security token included in the request is expired")
    elif token:
        raise auth_error("UnrecognizedClientException", "The security token included in the request is invalid.")
    declared = headers.get("X-Amz-Content-SHA256")
    if declared is not None and declared != "UNSIGNED-PAYLOAD" and declared != hashlib.sha256(body).hexdigest():
        raise auth_error("InvalidSignatureException",
                         "The provided 'x-amz-content-sha256' header does not match what was computed.")
    host = headers.get("Host", "")
    req = AWSRequest(method=method, url="%s://%s%s" % (scheme, host, raw_path), data=body)
    for k, v in headers.items():
        req.headers[k] = v
    req.context["timestamp"] = xdate
    v = _Verifier(Credentials(akid, cred["secret_access_key"], cred.get("session_token")), service, region, signed)
    canonical = v.canonical_request(req)
    sts = v.string_to_sign(req, canonical)
    want = v.signature(sts, req)
    if not hmac.compare_digest(want, parts["Signature"]):
        raise auth_error("InvalidSignatureException",
                         "The request signature we calculated does not match the signature you provided. "
                         "Check your AWS Secret Access Key and signing method. Consult the service "
                         "documentation for details.")


# --------------------------------------------------------------------------------------------
# the shared context (one per simulator process)


class Context:
    def __init__(self, scenario, speed=None, no_auth=False):
        self.lock = threading.RLock()
        self.calls = []
        self.faults = []
        self.problems = []
        self.transport = {}
        self.no_auth = no_auth
        self.speed_override = speed
        self.scenario = scenario
        self.clock = Clock(speed if speed is not None else scenario.get("speed", 60))
        self._load(scenario)

    def _load(self, sc):
        self.scenario = sc
        self.transport = {"https": {"connections": 0, "handshakes": 0, "handshake_failures": 0,
                                    "resumed": 0, "failure_reasons": []},
                          "http": {"connections": 0}}
        self.region = sc.get("region", "us-east-1")
        self.auth = dict(sc.get("auth", {}))
        if self.no_auth:
            self.auth["enabled"] = False
        self.credentials = {}
        for c in self.auth.get("credentials", [{"access_key_id": "AKIDSIMULATOR0000001",
                                                 "secret_access_key": "simulator/secret/key/0000000000000000001"}]):
            self.add_credential(c)
        self.faults = [dict(f) for f in sc.get("faults", [])]
        self.sim = ecsmodel.Sim(sc, self.clock.now())

    def add_credential(self, c):
        c = dict(c)
        exp = c.get("expiration")
        if isinstance(exp, str):
            c["expiration"] = datetime.datetime.fromisoformat(exp.replace("Z", "+00:00")).timestamp()
        if c.get("expires_in") is not None:
            c["expiration"] = time.time() + float(c["expires_in"])
        self.credentials[c["access_key_id"]] = c

    def reload(self, sc):
        with self.lock:
            self.calls = []
            self.problems = []
            if self.speed_override is None and "speed" in sc:
                self.clock.set_speed(sc["speed"])
            self._load(sc)

    def tick(self):
        with self.lock:
            self.sim.advance_to(self.clock.now())

    def take_fault(self, op):
        """The first armed fault rule that matches op (consumes one use)."""
        with self.lock:
            for f in self.faults:
                if f.get("op") not in (None, op):
                    continue
                if f.get("count", 1) == 0:
                    continue
                if f.get("skip", 0) > 0:
                    f["skip"] -= 1
                    continue
                if f.get("count", 1) > 0:
                    f["count"] = f.get("count", 1) - 1
                f["used"] = f.get("used", 0) + 1
                return dict(f)
        return None

    # one ECS call, from raw bytes to (status, body dict)
    def handle_ecs(self, method, raw_path, headers, body, scheme, conn_id):
        target = headers.get("X-Amz-Target", "")
        op = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else None
        rec = {"seq": 0, "op": op or target, "body": body.decode("utf-8", "replace"),
               "headers": [[k, v] for k, v in headers.items()], "status": None,
               "time": None, "real_time": time.time(), "conn": conn_id, "scheme": scheme}
        try:
            status, out = self._dispatch(method, raw_path, headers, body, scheme, op)
        except ApiError as e:
            status, out = e.status, {"__type": e.code, "message": e.message}
        except Exception as e:  # a simulator bug: visible, never a silent 200
            traceback.print_exc()
            status, out = 500, {"__type": "ServerException", "message": "simulator bug: %s" % e}
            with self.lock:
                self.problems.append("%s: internal error %s" % (op, e))
        with self.lock:
            rec["seq"] = len(self.calls) + 1
            rec["status"] = status
            rec["time"] = self.sim.t
            if status >= 400:
                rec["error"] = out.get("__type")
            self.calls.append(rec)
        return op, status, out, rec

    def _dispatch(self, method, raw_path, headers, body, scheme, op):
        if method != "POST":
            raise ApiError("UnknownOperationException", "Only POST is supported by this endpoint.")
        if self.auth.get("enabled", True):
            verify_sigv4(self, method, raw_path, headers, body, scheme)
        if op is None:
            raise ApiError("UnknownOperationException", "Missing or unknown X-Amz-Target: %r" % headers.get("X-Amz-Target"))
        try:
            opm = MODEL.operation_model(op)
        except Exception:
            raise ApiError("UnknownOperationException", "Unknown operation %s." % op)
        ct = headers.get("Content-Type", "")
        if not ct.startswith("application/x-amz-json-1.1"):
            raise ApiError("UnknownOperationException" if not ct else "SerializationException",
                           "Content-Type must be application/x-amz-json-1.1, got %r." % ct)
        fn = getattr(self.sim, "op_" + op, None)
        if fn is None:
            with self.lock:
                self.problems.append("unimplemented operation %s" % op)
            sys.stderr.write("ecssim: unimplemented operation %s\n" % op)
            raise ApiError("UnknownOperationException", "Operation %s is not implemented by the ECS simulator." % op)
        try:
            params = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError("SerializationException", "Could not parse the request body as JSON: %s" % e)
        validate(opm.input_shape, params)
        with self.lock:
            self.sim.advance_to(self.clock.now())
            out = fn(params)
            self.sim.after_call(op)
            problems = []
            shaped = shape_out(opm.output_shape, out, op, problems) if opm.output_shape is not None else {}
            if problems:
                self.problems.extend(problems)
                sys.stderr.write("ecssim: output shape problems: %s\n" % problems)
        return 200, shaped or {}


# --------------------------------------------------------------------------------------------
# HTTP


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, handler, ctx, tls=None, kind="http"):
        self.ctx = ctx
        self.tls = tls
        self.kind = kind
        self.conn_seq = 0
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # runs in the connection's own thread: TLS handshake here, counted
        ctx = self.ctx
        with ctx.lock:
            self.conn_seq += 1
            conn_id = "%s-%d" % (self.kind, self.conn_seq)
            if self.kind in ctx.transport:
                ctx.transport[self.kind]["connections"] += 1
        if self.tls is not None:
            request.settimeout(10)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                with ctx.lock:
                    ctx.transport["https"]["handshake_failures"] += 1
                    del ctx.transport["https"]["failure_reasons"][:-49]
                    ctx.transport["https"]["failure_reasons"].append(str(e)[:200])
                return
            with ctx.lock:
                ctx.transport["https"]["handshakes"] += 1
                if request.session_reused:
                    ctx.transport["https"]["resumed"] += 1
            request.settimeout(None)
            try:
                self.RequestHandlerClass(request, client_address, self, conn_id=conn_id)
            finally:
                try:
                    request.close()   # the wrapped socket is ours to close
                except OSError:
                    pass
            return
        self.RequestHandlerClass(request, client_address, self, conn_id=conn_id)


def _server_date(ctx):
    return email.utils.formatdate(time.time() + ctx.auth.get("server_clock_offset", 0), usegmt=True)


class EcsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Server"
    sys_version = ""
    timeout = 120

    def __init__(self, *a, conn_id="", **kw):
        self.conn_id = conn_id
        super().__init__(*a, **kw)

    def log_message(self, fmt, *args):
        pass

    def date_time_string(self, timestamp=None):
        return _server_date(self.server.ctx)

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline(8)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        self._ecs("GET")

    def do_POST(self):
        self._ecs("POST")

    def do_PUT(self):
        self._ecs("PUT")

    def _ecs(self, method):
        ctx = self.server.ctx
        body = self._read_body()
        op = (self.headers.get("X-Amz-Target") or "")[len(TARGET_PREFIX):]
        fault = ctx.take_fault(op)
        rid = str(uuid.uuid4())
        if fault is not None and fault["kind"] in ("throttle", "error", "reset_before"):
            with ctx.lock:
                ctx.calls.append({"seq": len(ctx.calls) + 1, "op": op, "body": body.decode("utf-8", "replace"),
                                  "headers": [[k, v] for k, v in self.headers.items()],
                                  "status": {"throttle": 400, "error": fault.get("status", 500)}.get(fault["kind"], 0),
                                  "time": ctx.sim.t, "real_time": time.time(), "conn": self.conn_id,
                                  "fault": fault["kind"], "scheme": self.server.kind})
            if fault["kind"] == "throttle":
                return self._send(400, json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode(), rid)
            if fault["kind"] == "error":
                st = int(fault.get("status", 500))
                raw = fault.get("body")
                if raw is None:
                    typ = {500: "ServerException", 503: "ServiceUnavailableException"}.get(st, "ServerException")
                    raw = json.dumps({"__type": typ, "message": fault.get("message", "Service Unavailable" if st == 503 else "Internal Server Error")})
                return self._send(st, raw.encode(), rid, ctype=fault.get("content_type"))
            return self._reset()
        scheme = "https" if self.server.tls is not None else "http"
        op, status, out, rec = ctx.handle_ecs(method, self.path, self.headers, body, scheme, self.conn_id)
        if fault is not None:
            rec["fault"] = fault["kind"]
        payload = json.dumps(out).encode()
        self._send(status, payload, rid, fault=fault)

    def _reset(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def _send(self, status, payload, rid, fault=None, ctype=None):
        kind = fault["kind"] if fault else None
        if kind == "slow" and fault.get("where", "headers") == "headers":
            time.sleep(float(fault.get("seconds", 5)))
        self.send_response(status)
        self.send_header("x-amzn-RequestId", rid)
        self.send_header("Content-Type", ctype or "application/x-amz-json-1.1")
        if kind == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        elif kind == "truncate":
            self.send_header("Content-Length", str(len(payload) + int(fault.get("missing", 100))))
        else:
            self.send_header("Content-Length", str(len(payload)))
        if kind in ("close", "truncate"):
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            if kind == "chunked":
                size = max(1, int(fault.get("chunk_size", 17)))
                for i in range(0, len(payload), size):
                    part = payload[i:i + size]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            elif kind == "reset":
                self.wfile.write(payload[:max(1, len(payload) // 2)])
                self.wfile.flush()
                time.sleep(0.05)
                return self._reset()
            elif kind == "slow" and fault.get("where") == "body":
                half = max(1, len(payload) // 2)
                self.wfile.write(payload[:half])
                self.wfile.flush()
                time.sleep(float(fault.get("seconds", 5)))
                self.wfile.write(payload[half:])
            else:
                self.wfile.write(payload)
            self.wfile.flush()
            if kind == "truncate":
                try:
                    self.connection.shutdown(socket.SHUT_RDWR) if not isinstance(self.connection, ssl.SSLSocket) else self.connection.unwrap()
                except (OSError, ValueError, ssl.SSLError):
                    pass
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True


# --------------------------------------------------------------------------------------------
# control endpoint


def state_json(ctx):
    sim = ctx.sim
    tds = []
    for fam in sorted(sim.families):
        for r in sim.families[fam]:
            d = sim.td_out(r)
            d["tags"] = sim.tags.get(r["arn"], [])
            tds.append(d)
    services = []
    for s in sim.services.values():
        d = s.out(True)
        d["serviceDeployments"] = [sd.out() for sd in s.sds]
        services.append(d)
    return {"clock": ctx.clock.state(), "sim_time": sim.t, "region": sim.region, "account": sim.account,
            "clusters": [sim.cluster_out(c, ("TAGS",)) for c in sim.clusters.values()],
            "containerInstances": [sim.ci_out(ci) for c in sim.clusters.values() for ci in c["instances"].values()],
            "taskDefinitions": tds, "services": services,
            "tasks": [t.out(True) for t in sim.tasks.values()],
            "transport": ctx.transport, "handshakes": ctx.transport["https"]["handshakes"],
            "faults": ctx.faults, "problems": ctx.problems, "calls": len(ctx.calls)}


class ControlHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *a, conn_id="", **kw):
        super().__init__(*a, **kw)

    def log_message(self, fmt, *args):
        pass

    def _json(self, status, obj):
        data = json.dumps(obj, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        return json.loads(raw) if raw.strip() else {}

    def do_GET(self):
        ctx = self.server.ctx
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        if u.path == "/calls":
            since = int(q.get("since", ["0"])[0])
            with ctx.lock:
                calls = [c for c in ctx.calls if c["seq"] > since]
                if "op" in q:
                    calls = [c for c in calls if c["op"] in q["op"]]
            return self._json(200, calls)
        if u.path == "/state":
            ctx.tick()
            with ctx.lock:
                return self._json(200, state_json(ctx))
        if u.path == "/clock":
            return self._json(200, ctx.clock.state())
        if u.path == "/health":
            return self._json(200, {"ok": True})
        return self._json(404, {"error": "no such route"})

    def do_DELETE(self):
        ctx = self.server.ctx
        if self.path == "/calls":
            with ctx.lock:
                ctx.calls = []
            return self._json(200, {"ok": True})
        return self._json(404, {"error": "no such route"})

    def do_POST(self):
        ctx = self.server.ctx
        try:
            body = self._body()
        except ValueError as e:
            return self._json(400, {"error": "bad JSON: %s" % e})
        try:
            return self._post(ctx, self.path, body)
        except ApiError as e:
            return self._json(400, {"error": e.message, "type": e.code})
        except Exception as e:
            traceback.print_exc()
            return self._json(500, {"error": str(e)})

    def _post(self, ctx, path, body):
        if path == "/clock":
            with ctx.lock:
                if "speed" in body:
                    ctx.clock.set_speed(body["speed"])
                if "pause" in body:
                    ctx.clock.pause(body["pause"])
                if "advance" in body:
                    ctx.clock.advance(body["advance"])
                ctx.sim.advance_to(ctx.clock.now())
                return self._json(200, ctx.clock.state())
        if path == "/fault":
            with ctx.lock:
                if body.get("clear"):
                    ctx.faults = []
                rules = body.get("faults") or ([body] if "kind" in body else [])
                for r in rules:
                    if r["kind"] not in ("throttle", "error", "reset", "reset_before", "truncate", "slow",
                                         "chunked", "close"):
                        return self._json(400, {"error": "unknown fault kind %r" % r["kind"]})
                    ctx.faults.append(dict(r))
                return self._json(200, ctx.faults)
        if path == "/scenario":
            sc = body.get("scenario")
            if sc is None and body.get("path"):
                with open(body["path"]) as f:
                    sc = json.load(f)
            if sc is None:
                sc = ctx.scenario
            ctx.reload(sc)
            return self._json(200, {"ok": True})
        if path == "/action":
            with ctx.lock:
                ctx.sim.advance_to(ctx.clock.now())
                ctx.sim.run_action(body)
            return self._json(200, {"ok": True})
        if path == "/credentials":
            with ctx.lock:
                ctx.add_credential(body)
            return self._json(200, {"ok": True})
        if path == "/auth":
            with ctx.lock:
                if "server_clock_offset" in body:
                    ctx.auth["server_clock_offset"] = float(body["server_clock_offset"])
                if "enabled" in body:
                    ctx.auth["enabled"] = bool(body["enabled"])
            return self._json(200, {"ok": True})
        if path == "/alarm":
            with ctx.lock:
                ctx.sim.alarm_states[body["name"]] = body.get("state", "ALARM")
            return self._json(200, {"ok": True})
        if path == "/images":
            with ctx.lock:
                ctx.sim.images.update(body)
            return self._json(200, {"ok": True})
        if path == "/containers":
            with ctx.lock:
                ctx.sim.container_behaviour.update(body)
            return self._json(200, {"ok": True})
        return self._json(404, {"error": "no such route"})


# --------------------------------------------------------------------------------------------
# start-up


def ensure_pki(pki_dir):
    """mkpki.sh into pki_dir, under a lock: simulators started side by side share the directory
    and must not mix a CA from one run with a server certificate from another."""
    script = os.path.join(HERE, "..", "lib", "mkpki.sh")
    os.makedirs(pki_dir, exist_ok=True)
    with open(os.path.join(pki_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(["sh", script, pki_dir], check=True)
    return pki_dir


def _url(scheme, host, port):
    return "%s://%s:%d" % (scheme, "[%s]" % host if ":" in host else host, port)


def start(scenario, host="127.0.0.1", port=0, http_port=0, control_port=0, speed=None, no_auth=False,
          tls=True, pki=None, tls_cert="server"):
    """Start the servers in background threads. Returns (ctx, urls, servers)."""
    ctx = Context(scenario, speed=speed, no_auth=no_auth)
    servers = []
    urls = {}
    if tls:
        pki = pki or os.path.join(tempfile.gettempdir(), "ecssim-pki-%d" % os.getuid())
        ensure_pki(pki)
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.minimum_version = ssl.TLSVersion.TLSv1_2
        sctx.load_cert_chain(os.path.join(pki, tls_cert + ".pem"), os.path.join(pki, tls_cert + ".key"))
        s = Server((host, port), EcsHandler, ctx, tls=sctx, kind="https")
        servers.append(s)
        urls["ecs"] = _url("https", host, s.server_address[1])
        urls["ca"] = os.path.abspath(os.path.join(pki, "ca.pem"))
    h = Server((host, http_port), EcsHandler, ctx, kind="http")
    servers.append(h)
    urls["http"] = _url("http", host, h.server_address[1])
    if "ecs" not in urls:
        urls["ecs"] = urls["http"]
    c = Server((host, control_port), ControlHandler, ctx, kind="control")
    c.ctx = ctx
    servers.append(c)
    urls["control"] = _url("http", host, c.server_address[1])
    urls["region"] = ctx.region
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    def ticker():
        while True:
            time.sleep(0.05)
            try:
                ctx.tick()
            except Exception:
                traceback.print_exc()
                time.sleep(1)
    threading.Thread(target=ticker, daemon=True).start()
    try:  # STS / container credentials / IMDS live in authsvc.py when it exists
        import authsvc
        urls.update(authsvc.start(ctx, host))
    except ImportError:
        pass
    return ctx, urls, servers


def main(argv=None):
    ap = argparse.ArgumentParser(description="ECS control-plane simulator")
    ap.add_argument("--scenario", default=os.path.join(HERE, "scenarios", "demo.json"))
    ap.add_argument("--speed", type=float)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="HTTPS ECS port (0: any free port)")
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--no-auth", action="store_true")
    ap.add_argument("--no-tls", action="store_true")
    ap.add_argument("--pki", help="directory for mkpki.sh output (default: a per-user temp dir)")
    ap.add_argument("--tls-cert", default="server",
                    choices=["server", "wronghost", "expired", "selfsigned", "unknownca"],
                    help="which mkpki.sh certificate the HTTPS endpoint presents (default: server)")
    a = ap.parse_args(argv)
    if a.host not in ("127.0.0.1", "::1", "localhost") and not a.host.startswith("127."):
        ap.error("the simulator only listens on loopback")
    with open(a.scenario) as f:
        sc = json.load(f)
    ctx, urls, servers = start(sc, a.host, a.port, a.http_port, a.control_port, a.speed, a.no_auth,
                               not a.no_tls, a.pki, a.tls_cert)
    sys.stdout.write(json.dumps(urls) + "\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
