#!/usr/bin/env python3
"""test_sigv4_botocore.py — our SigV4 signer (section 5) against botocore's on random requests.

Builds tests/tools/sigv4_sign.c (it includes ecsdeploy.c) with cc, generates seeded random
requests (methods, paths with odd bytes and dot segments, query strings with duplicates, empty
values, reserved and non-ASCII characters in several legal encodings, mixed-case and duplicate
headers with messy spaces, binary bodies, with and without a session token, random regions,
services, keys and times), signs each with botocore.auth.SigV4Auth over an AWSRequest (the clock
mocked to the same instant) and with ours, and compares the Authorization values.

Output: "PASS: ..." / "FAIL: ..." per batch of requests; a failure shows the first differing
request and both canonical requests. The seed is printed; SIGV4_SEED=<n> reruns one,
SIGV4_COUNT=<n> changes how many requests. Run from the repository root. No network.
"""
import datetime
import os
import random
import shutil
import subprocess
import sys
import tempfile
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SEED = int(os.environ.get("SIGV4_SEED", "20150830"))
COUNT = int(os.environ.get("SIGV4_COUNT", "400"))
BATCH = 25

# Headers botocore never signs, and headers the signer itself sets (date, token) or treats
# specially (x-amz-content-sha256 replaces the payload hash): our caller decides what it
# signs, so the generator simply does not produce these as random extra headers.
AVOID = {
    "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id", "host", "date",
    "x-amz-date", "authorization", "x-amz-security-token", "x-amz-content-sha256",
}
TCHARS = "!#$%&'*+-.^_`|~" + "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
ODD = " !\"$'()*+,;:@[]{}<>|\\^`%=&/?é€ሴ\u00a0"


def say(line):
    print(line, flush=True)


def build_signer(tmp):
    exe = os.path.join(tmp, "sigv4_sign")
    cmd = ["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
           "-Wno-unused-function", "-Ivendor/bearssl/inc", "-Ivendor/jsmn", "-O1",
           "-o", exe, "tests/tools/sigv4_sign.c", "vendor/build/host/libbearssl.a"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        say("FAIL: build tests/tools/sigv4_sign.c: " + (p.stderr.strip().splitlines() or ["?"])[-1])
        return None
    say("PASS: build tests/tools/sigv4_sign.c")
    return exe


def pct(b, rnd):
    return ("%%%02X" if rnd.random() < 0.8 else "%%%02x") % b


def encode_query_part(s, rnd, is_name):
    """Encodes one decoded name/value the way some client might send it: unreserved bytes
    raw, other safe bytes raw or percent-encoded, spaces as '+' or %20, non-ASCII raw or
    encoded, and '&', '+', '%', '#' (and '=' in names) always encoded."""
    out = []
    for ch in s:
        raw = ch.encode("utf-8")
        if ch == " ":
            out.append("+" if rnd.random() < 0.5 else pct(0x20, rnd))
        elif ch in UNRESERVED and rnd.random() < 0.9:
            out.append(ch)
        elif ch in "&+%#" or (is_name and ch == "=") or len(raw) > 1 and rnd.random() < 0.5:
            out.append("".join(pct(b, rnd) for b in raw))
        elif rnd.random() < 0.5:
            out.append(ch)
        else:
            out.append("".join(pct(b, rnd) for b in raw))
    return "".join(out)


def rnd_text(rnd, alphabet, lo, hi):
    return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(lo, hi)))


def rnd_segment(rnd):
    kind = rnd.random()
    if kind < 0.10:
        return "."
    if kind < 0.20:
        return ".."
    if kind < 0.27:
        return ""
    parts = []
    for _ in range(rnd.randint(1, 8)):
        k = rnd.random()
        if k < 0.55:
            parts.append(rnd.choice(UNRESERVED))
        elif k < 0.80:
            parts.append(rnd.choice(ODD.replace("?", "").replace("%", "").replace("/", "")))
        else:
            parts.append("%" + rnd.choice(["20", "2F", "2f", "25", "E1%88%B4", "3D", "2E", "7E", "00"]))
    return "".join(parts)


def rnd_request(rnd):
    method = rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "X-CUSTOM"])
    if rnd.random() < 0.1:
        path = "/"
    else:
        path = "/" + "/".join(rnd_segment(rnd) for _ in range(rnd.randint(1, 6)))
        if rnd.random() < 0.3:
            path += "/"
    # query: decoded pairs, some names repeated, some values empty
    pairs = []
    names = []
    for _ in range(rnd.choice([0, 0, 1, 2, 3, 5, 8])):
        if names and rnd.random() < 0.3:
            name = rnd.choice(names)
        else:
            name = rnd_text(rnd, UNRESERVED + ODD, 0 if rnd.random() < 0.05 else 1, 8)
            names.append(name)
        value = "" if rnd.random() < 0.2 else rnd_text(rnd, UNRESERVED + ODD, 1, 12)
        pairs.append((name, value))
    pieces = []
    for name, value in pairs:
        n = encode_query_part(name, rnd, True)
        v = encode_query_part(value, rnd, False)
        if value == "" and name != "" and rnd.random() < 0.5:
            pieces.append(n)            # "name" without '=' means an empty value
        else:
            pieces.append(n + "=" + v)
        if rnd.random() < 0.1:
            pieces.append("")           # "&&": no parameter there
    query = "&".join(pieces)
    if pieces and rnd.random() < 0.1:
        query = "&" + query
    # headers: names with mixed case, duplicates in either case, values with messy spaces
    host = rnd.choice(["example.amazonaws.com", "ecs.eu-west-3.amazonaws.com", "127.0.0.1:8443", "h"])
    headers = [(rnd.choice(["Host", "host", "HOST"]), host)]
    hnames = []
    for _ in range(rnd.randint(0, 7)):
        if hnames and rnd.random() < 0.3:
            hn = rnd.choice(hnames)
            hn = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in hn)
        else:
            hn = rnd_text(rnd, TCHARS, 1, 12)
            if hn.lower() in AVOID:
                continue
            hnames.append(hn)
        hv = rnd_text(rnd, " \t" + TCHARS + " \"(),/:;<=>?@[\\]{}", 0, 30)
        headers.append((hn, hv))
    rnd.shuffle(headers)
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 0, 1, 15, 64, 300])))
    token = None
    if rnd.random() < 0.5:
        token = rnd_text(rnd, UNRESERVED + "+/=", 16, 400)
    region = rnd_text(rnd, "abcdefghijklmnopqrstuvwxyz0123456789-", 1, 20)
    service = rnd_text(rnd, "abcdefghijklmnopqrstuvwxyz0123456789-", 1, 20)
    akid = rnd_text(rnd, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16, 24)
    secret = rnd_text(rnd, UNRESERVED + "+/=é€", 1, rnd.choice([40, 40, 80, 200]))
    t = rnd.randint(0, 4102444800)
    return dict(host=host, method=method, path=path, query=query, pairs=pairs, headers=headers, body=body,
                token=token, region=region, service=service, akid=akid, secret=secret, t=t)


def amzdate(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def botocore_sign(q):
    """(authorization, canonical request) from botocore for request q."""
    req = AWSRequest(method=q["method"], url="https://" + q["host"] + q["path"],
                     data=q["body"], params=list(q["pairs"]))
    for name, value in q["headers"]:
        req.headers[name] = value      # HTTPHeaders keeps duplicates in order
    auth = SigV4Auth(Credentials(q["akid"], q["secret"], q["token"]), q["service"], q["region"])
    now = datetime.datetime.fromtimestamp(q["t"], datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        auth.add_auth(req)
    authz = req.headers["Authorization"]
    del req.headers["Authorization"]
    return authz, auth.canonical_request(req)


def field(key, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return key.encode() + b" " + str(len(data)).encode() + b"\n" + data + b"\n"


def describe(q):
    """The request as our signer sees it, one field per line."""
    our_headers = list(q["headers"]) + [("X-Amz-Date", amzdate(q["t"]))]
    if q["token"]:
        our_headers.append(("X-Amz-Security-Token", q["token"]))
    enc = b""
    for key in ("method", "path", "query"):
        enc += field(key, q[key])
    for name, value in our_headers:
        enc += field("name", name) + field("value", value)
    for key in ("body", "region", "service", "akid", "secret"):
        enc += field(key, q[key])
    if q["token"]:
        enc += field("token", q["token"])
    enc += field("time", str(q["t"])) + field("sign", b"")
    return enc


def read_results(out, n):
    """Parses n results of the signer: (authz or None, creq or error message)."""
    res = []
    pos = 0
    for _ in range(n):
        nl = out.index(b"\n", pos)
        head = out[pos:nl].split()
        pos = nl + 1
        if head[0] == b"OK":
            ln = int(head[1])
            authz = out[pos:pos + ln].decode("utf-8", "replace")
            pos += ln + 1
            nl = out.index(b"\n", pos)
            ln = int(out[pos:nl].split()[1])
            pos = nl + 1
            creq = out[pos:pos + ln].decode("utf-8", "replace")
            pos += ln + 1
            res.append((authz, creq))
        else:
            ln = int(head[2])
            msg = out[pos:pos + ln].decode("utf-8", "replace")
            pos += ln + 1
            res.append((None, "error %s: %s" % (head[1].decode(), msg)))
    return res


def show(q):
    return ("method=%r path=%r query=%r headers=%r body=%d bytes token=%s region=%r service=%r time=%d"
            % (q["method"], q["path"], q["query"], q["headers"], len(q["body"]),
               "yes" if q["token"] else "no", q["region"], q["service"], q["t"]))


def main():
    say("seed %d, %d requests (SIGV4_SEED / SIGV4_COUNT to change)" % (SEED, COUNT))
    if not os.path.exists("vendor/build/host/libbearssl.a"):
        say("FAIL: vendor/build/host/libbearssl.a missing (run ./build.sh first, from the repo root)")
        return 1
    tmp = tempfile.mkdtemp(prefix="sigv4-boto-")
    try:
        exe = build_signer(tmp)
        if exe is None:
            return 1
        rnd = random.Random(SEED)
        reqs = [rnd_request(rnd) for _ in range(COUNT)]
        stdin = b"".join(describe(q) for q in reqs)
        p = subprocess.run([exe], input=stdin, capture_output=True, timeout=120)
        if p.returncode != 0:
            say("FAIL: signer exited %d: %s" % (p.returncode, p.stderr.decode(errors="replace")[:300]))
            return 1
        ours = read_results(p.stdout, COUNT)
        failed = 0
        stats = dict(token=0, dup_query=0, dup_header=0, dots=0, body=0)
        for b in range(0, COUNT, BATCH):
            first_bad = None
            for i in range(b, min(b + BATCH, COUNT)):
                q = reqs[i]
                want, want_creq = botocore_sign(q)
                got, got_creq = ours[i]
                stats["token"] += bool(q["token"])
                stats["dup_query"] += len({k for k, _ in q["pairs"]}) < len(q["pairs"])
                stats["dup_header"] += len({k.lower() for k, _ in q["headers"]}) < len(q["headers"])
                stats["dots"] += "/." in q["path"] or "//" in q["path"]
                stats["body"] += len(q["body"]) > 0
                if got != want and first_bad is None:
                    first_bad = (i, q, want, got, want_creq, got_creq)
            name = "botocore agrees on requests %d..%d (seed %d)" % (b, min(b + BATCH, COUNT) - 1, SEED)
            if first_bad is None:
                say("PASS: " + name)
            else:
                failed += 1
                i, q, want, got, want_creq, got_creq = first_bad
                say("FAIL: %s: request %d differs: %s\n  botocore: %s\n  ours:     %s\n"
                    "  botocore canonical request:\n%s\n  our canonical request:\n%s"
                    % (name, i, show(q), want, got, want_creq, got_creq))
        # The generator must really have produced the hard cases.
        ok = all(v >= COUNT // 20 for v in stats.values())
        say(("PASS" if ok else "FAIL") + ": random requests cover tokens, duplicate query names, "
            "duplicate headers, dot segments, bodies: %r" % stats)
        return 1 if failed or not ok else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
