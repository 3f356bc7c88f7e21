#!/usr/bin/env python3
"""test_sim_transport.py — aws_call() (tests/tools/awscall.c) against the ECS simulator
(tests/sim/ecssim.py) over TLS with its SigV4 checks: a describe works, a wrong secret
and an unknown key exit 20, a server clock an hour ahead is corrected from the Date
header (one re-signed request, noted on the -v line), and a certificate for the wrong
host exits 22, and [::1] works. Prints PASS/FAIL lines; every simulator is stopped at the end.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(ROOT)
FAILS = 0
AKID = "AKIDSIMULATOR0000001"
SECRET = "simulator/secret/key/0000000000000000001"
DESCRIBE = "AmazonEC2ContainerServiceV20141113.DescribeServices"


def check(name, ok, why=""):
    global FAILS
    if ok:
        print("PASS: " + name)
    else:
        FAILS += 1
        print("FAIL: %s: %s" % (name, why))
    sys.stdout.flush()


def start(tmp, scenario, extra=()):
    p = subprocess.Popen([sys.executable, "tests/sim/ecssim.py", "--scenario", scenario,
                          "--pki", os.path.join(tmp, "pki")] + list(extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    return p, json.loads(line)


def main():
    tmp = tempfile.mkdtemp(prefix="ed-simtr-")
    sims = []
    try:
        tool = os.path.join(tmp, "awscall")
        subprocess.run(["cc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror",
                        "-Wno-unused-function", "-Ivendor/bearssl/inc", "-Ivendor/jsmn", "-O1", "-o", tool,
                        "tests/tools/awscall.c", "vendor/build/host/libbearssl.a"], check=True, timeout=120)

        def ours(info, secret=SECRET, akid=AKID):
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_ACCESS_KEY_ID=akid, AWS_SECRET_ACCESS_KEY=secret)
            r = subprocess.run([tool, "-v", "-n", "3", "--endpoint-url", info["ecs"], "--ca-bundle", info["ca"],
                                "-r", info["region"], DESCRIBE, '{"cluster":"demo","services":["web"]}'],
                               env=env, capture_output=True, text=True, timeout=60)
            return r.returncode, r.stdout, r.stderr

        p, info = start(tmp, "tests/sim/scenarios/demo.json")
        sims.append(p)
        rc, out, err = ours(info)
        svc = (json.loads(out).get("services") or [{}])[0] if rc == 0 else {}
        check("sim: DescribeServices over TLS, signed", rc == 0 and svc.get("serviceName") == "web",
              "rc %d %s" % (rc, err[-300:]))
        check("sim: three calls, one handshake", "calls 3 attempts 3 retries 0 handshakes 1 " in err, err[-200:])
        rc, out, err = ours(info, secret="simulator/secret/key/WRONG")
        check("sim: wrong secret exits 20", rc == 20 and "InvalidSignatureException" in err, "rc %d %s" % (rc, err[-300:]))
        check("sim: the wrong secret is not printed", "WRONG" not in out + err, err[-300:])
        rc, out, err = ours(info, akid="AKIDUNKNOWN000000000")
        check("sim: unknown key exits 20", rc == 20 and "UnrecognizedClientException" in err, "rc %d %s" % (rc, err[-300:]))

        scen = json.load(open("tests/sim/scenarios/demo.json"))
        scen["auth"]["server_clock_offset"] = 3600
        skewed = os.path.join(tmp, "skewed.json")
        json.dump(scen, open(skewed, "w"))
        p, info2 = start(tmp, skewed)
        sims.append(p)
        rc, out, err = ours(info2)
        check("sim: a server clock an hour ahead is corrected once",
              rc == 0 and err.count("clock skew corrected") == 1 and "attempts 4 retries 0" in err,
              "rc %d %s" % (rc, err[-400:]))

        p, info3 = start(tmp, "tests/sim/scenarios/demo.json", ["--tls-cert", "wronghost"])
        sims.append(p)
        rc, out, err = ours(info3)
        check("sim: a certificate for another host exits 22",
              rc == 22 and "certificate is not valid for IP address 127.0.0.1" in err, "rc %d %s" % (rc, err[-300:]))
        p, info6 = start(tmp, "tests/sim/scenarios/demo.json", ["--host", "::1"])
        sims.append(p)
        rc, out, err = ours(info6)
        check("sim: IPv6 loopback [::1] verified against the certificate's IP names",
              info6["ecs"].startswith("https://[::1]:") and rc == 0, "%s rc %d %s" % (info6["ecs"], rc, err[-300:]))
    finally:
        for p in sims:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
