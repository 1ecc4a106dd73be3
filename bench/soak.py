"""Memory under sustained load and connection churn: does the sidecar's RSS stay flat?

Each round: wrk at 32 kept-alive connections for ``--seconds``, then ``--churn-seconds`` of one request
per new connection (every fifth request cut off after its first 50 bytes and the connection closed, as
an app that crashes mid-request would), then the sidecar's resident memory. A leak in the listener
(connections never forgotten, buffers kept) or in the request path shows as RSS growing round after
round; a flat line is the pass.

    python bench/soak.py [--rounds 4] [--seconds 15] [--churn-seconds 5]

Needs `apt-get install nginx-light wrk` (nginx is the fixed upstream, as in proxy_bench.py).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

from measuring import REQUEST, chat_script, rss_mb, tools_present, wrk
from nginx_upstream import nginx_running
from sidecar_under_test import sidecar_on_port_zero, sidecar_policy, variant_env


def churn(port: int, seconds: float) -> int:
    """One request per connection for ``seconds``; every fifth is cut short. Returns the connections made."""
    body = REQUEST.encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )
    made = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            if made % 5 == 4:
                conn.sendall(request[:50])
            else:
                conn.sendall(request)
                conn.recv(65536)
        made += 1
    return made


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--churn-seconds", type=float, default=5.0)
    args = parser.parse_args()
    if not tools_present("nginx", "wrk"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-soak-"))
    with nginx_running(workdir) as upstream:
        sidecar = None
        try:
            policy_variant, env_extra = variant_env("sidecar", upstream)
            policy = sidecar_policy(workdir, upstream, policy_variant)
            sidecar, port = sidecar_on_port_zero(policy, workdir / "sidecar.ports", env_extra)
            print(f"start: RSS {int(rss_mb(sidecar.pid))} MB")
            print("| round | req/s @32 (kept alive) | connections churned | RSS after |")
            print("|---|---|---|---|")
            for number in range(1, args.rounds + 1):
                result = wrk(f"http://127.0.0.1:{port}/v1/chat/completions", 32, args.seconds, chat_script(workdir))
                made = churn(port, args.churn_seconds)
                print(f"| {number} | {result['rps']:,.0f} | {made:,} | {int(rss_mb(sidecar.pid))} MB |", flush=True)
        finally:
            if sidecar is not None:
                sidecar.send_signal(signal.SIGTERM)
                sidecar.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
