"""motoserver.py — start moto_server over TLS on loopback for a test, with SigV4 enforced.

    from motoserver import start_moto_tls
    proc, url = start_moto_tls(pki_dir, log_path)   # url is https://localhost:PORT

moto enforces signatures after the first 3 calls (TEST_SERVER_MODE=true,
INITIAL_NO_AUTH_ACTION_COUNT=3), which the tests spend on creating an IAM user and its key.
The certificate is tests/lib/mkpki.sh's server.pem (names localhost). The caller kills proc.
"""

import os
import socket
import subprocess
import time


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_moto_tls(pki, log_path=None, no_auth_calls=3, timeout=30):
    port = free_port()
    env = dict(os.environ, TEST_SERVER_MODE="true", INITIAL_NO_AUTH_ACTION_COUNT=str(no_auth_calls))
    out = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port),
                             "-c", os.path.join(pki, "server.pem"), "-k", os.path.join(pki, "server.key")],
                            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return proc, "https://localhost:%d" % port
