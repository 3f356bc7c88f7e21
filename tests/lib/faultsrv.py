#!/usr/bin/env python3
"""faultsrv.py — a small HTTP/1.1 server on loopback for the transport tests.

    python3 tests/lib/faultsrv.py [--pki DIR] [--certs server,wronghost,...] [--lifetime S]

Listens on 127.0.0.1 only, ephemeral ports: one plain HTTP listener, and one TLS
listener per certificate name (DIR/NAME.pem + DIR/NAME.key, as made by
tests/lib/mkpki.sh). Prints one JSON line {"plain": port, "tls": {name: port}}
and then serves until stdin closes or --lifetime seconds pass (bounded).

Every listener answers like a tiny ECS (JSON 1.1): a POST with X-Amz-Target gets
200 {"target": ..., "n": N, "services": [...]} unless a scripted action says
otherwise. Control paths (any listener):
  POST /__script  body: JSON list of actions, consumed one per ECS request
  POST /__config  body: {"clock_offset": S, "check_date": bool}
  GET  /__stats   {"connections", "handshakes", "requests", "targets": [...],
                   "amzdates": [...], "authorized": n}
  POST /__reset   clear script, config and counters
Actions: {"status": 503, "body": {...} or "text", "headers": {...}}
         {"throttle": true}            400 ThrottlingException
         {"reset_mid_body": true}      half a body, then a TCP reset
         {"truncate": true}            half a body, then a clean close
         {"stall": seconds}            say nothing for that long, then close
         {"close_after": true}         answer, then close without saying so
         {"raw": "text"}               send these bytes, then close
         {"pad": N, "chunked": bool}   a normal answer with an N-byte "pad" member,
                                       optionally in 1000-byte chunks with trailers
With check_date, a request whose X-Amz-Date is more than 300 s from the
server's clock (real time + clock_offset) gets 403 InvalidSignatureException
"Signature expired" and a Date header with the server's clock.
"""
import argparse
import email.utils
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
import calendar

LOCK = threading.Lock()
STATE = {}


def reset():
    with LOCK:
        STATE.clear()
        STATE.update(script=[], clock_offset=0, check_date=False, connections=0,
                     handshakes=0, requests=0, targets=[], amzdates=[], agents=[], authorized=0)


def read_request(f):
    """Returns (method, path, headers, body) or None at EOF."""
    line = f.readline(65537)
    while line in (b"\r\n", b"\n"):
        line = f.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) < 3:
        return None
    method, path = parts[0], parts[1]
    headers = {}
    while True:
        h = f.readline(65537)
        if not h:
            return None
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return method, path, headers, body


def send(sock, status, body, headers=None, close=False):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    reason = {200: "OK", 400: "Bad Request", 403: "Forbidden", 500: "Internal Server Error",
              503: "Service Unavailable"}.get(status, "Status")
    hs = {"Content-Type": "application/x-amz-json-1.1", "Content-Length": str(len(body)),
          "x-amzn-RequestId": "req-%d" % STATE["requests"],
          "Date": email.utils.formatdate(time.time() + STATE["clock_offset"], usegmt=True)}
    if close:
        hs["Connection"] = "close"
    hs.update(headers or {})
    head = "HTTP/1.1 %d %s\r\n" % (status, reason) + "".join(
        "%s: %s\r\n" % kv for kv in hs.items()) + "\r\n"
    sock.sendall(head.encode() + body)


def amz_epoch(v):
    try:
        return calendar.timegm(time.strptime(v, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return None


def handle(sock, tls):
    f = sock.makefile("rb")
    while True:
        req = read_request(f)
        if req is None:
            return
        method, path, headers, body = req
        if path.startswith("/__"):
            if path == "/__stats":
                with LOCK:
                    out = {k: v for k, v in STATE.items() if k != "script"}
                send(sock, 200, out)
            elif path == "/__script":
                with LOCK:
                    STATE["script"] = json.loads(body or b"[]")
                send(sock, 200, {"ok": True})
            elif path == "/__config":
                with LOCK:
                    STATE.update(json.loads(body or b"{}"))
                send(sock, 200, {"ok": True})
            elif path == "/__reset":
                reset()
                send(sock, 200, {"ok": True})
            else:
                send(sock, 404, {"message": "no such control path"})
            continue
        target = headers.get("x-amz-target", "")
        with LOCK:
            STATE["requests"] += 1
            STATE["targets"].append(target)
            STATE["agents"].append(headers.get("user-agent", ""))
            STATE["amzdates"].append(headers.get("x-amz-date", ""))
            if headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
                STATE["authorized"] += 1
            action = STATE["script"].pop(0) if STATE["script"] else {}
            n = STATE["requests"]
        if STATE["check_date"]:
            now = time.time() + STATE["clock_offset"]
            sent = amz_epoch(headers.get("x-amz-date", ""))
            if sent is None or abs(sent - now) > 300:
                send(sock, 403, {"__type": "InvalidSignatureException",
                                 "message": "Signature expired: %s is now earlier than %s (%s - 5 min.)" % (
                                     headers.get("x-amz-date", ""),
                                     time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - 300)),
                                     time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)))})
                continue
        if action.get("throttle"):
            send(sock, 400, {"__type": "ThrottlingException", "message": "Rate exceeded"})
            continue
        if "status" in action:
            send(sock, action["status"], action.get("body", {}), action.get("headers"))
            continue
        if action.get("reset_mid_body") or action.get("truncate"):
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                    "Content-Length: 100\r\n\r\n{\"services\": [")
            sock.sendall(head.encode())
            time.sleep(0.05)
            if action.get("reset_mid_body"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if "stall" in action:
            time.sleep(float(action["stall"]))
            return
        if "raw" in action:
            sock.sendall(action["raw"].encode())
            return
        out = {"target": target, "n": n, "bytes": len(body),
               "services": [{"serviceName": "web", "status": "ACTIVE", "desiredCount": 2,
                             "runningCount": 2, "deployments": []}], "failures": []}
        if "pad" in action:
            out["pad"] = "x" * int(action["pad"])
        if action.get("chunked"):
            data = json.dumps(out).encode()
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
                    "x-amzn-RequestId: req-%d\r\nTransfer-Encoding: chunked\r\n\r\n" % n)
            parts = [head.encode()]
            for i in range(0, len(data), 1000):
                piece = data[i:i + 1000]
                parts.append(b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n")
            parts.append(b"0\r\nX-Trailer: done\r\n\r\n")
            sock.sendall(b"".join(parts))
        else:
            send(sock, 200, out)
        if action.get("close_after"):
            return


def serve_conn(conn, ctx):
    with LOCK:
        STATE["connections"] += 1
    try:
        conn.settimeout(30)
        if ctx is not None:
            conn = ctx.wrap_socket(conn, server_side=True)
            with LOCK:
                STATE["handshakes"] += 1
        handle(conn, ctx is not None)
    except (OSError, ssl.SSLError, ValueError):
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def listener(ctx):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(64)

    def loop():
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve_conn, args=(c, ctx), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pki")
    ap.add_argument("--certs", default="server")
    ap.add_argument("--lifetime", type=float, default=300)
    a = ap.parse_args()
    reset()
    ports = {"plain": listener(None), "tls": {}}
    if a.pki:
        for name in a.certs.split(","):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(os.path.join(a.pki, name + ".pem"), os.path.join(a.pki, name + ".key"))
            ports["tls"][name] = listener(ctx)
    print(json.dumps(ports), flush=True)

    def watch_stdin():
        try:
            sys.stdin.read()
        except OSError:
            pass
        os._exit(0)
    threading.Thread(target=watch_stdin, daemon=True).start()
    time.sleep(a.lifetime)
    os._exit(0)


if __name__ == "__main__":
    main()
