"""How long a hot reload of a large policy holds up the requests served meanwhile.

A real ``llm-sidecar run`` (started as ``python -m sidecar``, so ``PYTHONPATH`` picks the tree) and a
fake provider. The policy has ``--routes`` routes matching on a header (no ``model`` condition: the
never-matching check's slowest case before wave 26); each round writes it again with the default
route's target switched and sends SIGHUP, while one client sends chat requests one after another on a
kept-alive connection, each followed by a ``GET /status``, until it serves the new version (both
are timed). Printed: per round the reload's time
and the slowest request during it; then the slowest over all rounds and the median request before the
reloads (the same client, idle policy).

    PYTHONPATH=/tmp/x python bench/reload_stall.py [--routes 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from listening import port_zero, start_with_ports_file

BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()


def policy_text(fake: int, routes: int, target: str) -> str:
    rules = "".join(f"  - {{match: {{headers: {{x-tenant: t{i}}}}}, target: a}}\n" for i in range(routes))
    return f"""version: 1
providers:
  fake: {{kind: openai, base_url: "http://127.0.0.1:{fake}/v1", api_key: {{env: FAKE_KEY}}}}
models:
  a: {{provider: fake, model: fake-mini}}
  b: {{provider: fake, model: fake-big}}
routes:
{rules}default: {{target: {target}}}
"""


def timed_chat(connection: http.client.HTTPConnection) -> float:
    started = time.monotonic()
    connection.request("POST", "/v1/chat/completions", BODY, {"content-type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
    return time.monotonic() - started


def version(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/status")
    text = connection.getresponse().read()
    connection.close()
    return str(json.loads(text)["policy"]["version"])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--routes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    python = [sys.executable, "-m", "sidecar"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fake_proc, fake = start_with_ports_file(
            [*python, "fake-provider", *port_zero(work / "fake.json")], work / "fake.json", stdout=subprocess.DEVNULL
        )
        path = work / "policy.yaml"
        path.write_text(policy_text(fake, args.routes, "a"))
        env = {**os.environ, "FAKE_KEY": "k", "SIDECAR_RELOAD_INTERVAL_S": "3600"}  # SIGHUP alone reloads
        command = [*python, "run", "--policy", str(path), *port_zero(work / "sidecar.json")]
        sidecar, port = start_with_ports_file(command, work / "sidecar.json", env=env, stdout=subprocess.DEVNULL)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            idle = [timed_chat(connection) for _ in range(200)]
            worst = []
            for n in range(1, args.rounds + 1):
                serving = version(port)
                path.write_text(policy_text(fake, args.routes, "ab"[n % 2]))
                started = time.monotonic()
                sidecar.send_signal(signal.SIGHUP)
                slowest = 0.0
                while True:  # a chat request, then GET /status: both are requests the reload may hold up
                    slowest = max(slowest, timed_chat(connection))
                    asked = time.monotonic()
                    served = version(port)
                    slowest = max(slowest, time.monotonic() - asked)
                    if served != serving:
                        break
                took = time.monotonic() - started
                worst.append(slowest)
                print(f"round {n}: reload {took:.2f} s, slowest request during it {slowest * 1000:.1f} ms", flush=True)
            print(
                f"{args.routes} routes: slowest request during a reload {max(worst) * 1000:.1f} ms; "
                f"median request before {statistics.median(idle) * 1000:.1f} ms"
            )
        finally:
            for proc in (sidecar, fake_proc):
                proc.send_signal(signal.SIGTERM)
                proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
