"""CPU instructions per proxied request, counted by valgrind: a measure the shared machine cannot blur.

req/s on this machine moves by +-15% from one minute to the next (other tenants). Instructions executed
do not: each target runs under ``valgrind --tool=cachegrind --cache-sim=no`` (every thread counted) and
serves ``--few`` and then, in a second run, ``--many`` sequential requests on one kept-alive connection
(the same 330-byte chat request as proxy_bench.py, nginx as the fixed upstream). The difference of the
two totals divided by the difference of the counts is the cost of one request, start-up and shutdown
cancelled out (periodic metric pushes are kept out: see ``count``). Repeated runs agree within about 1%
(traced: about 2%, the export thread's batches falling differently into the two runs).

    python bench/instructions.py [--few 200] [--many 1200] [--variants sidecar,sidecar-single-target]
        [--ready-timeout 180]

Needs `apt-get install valgrind nginx-light`. Instructions are not time (a cache miss costs more than an
add), so this complements proxy_bench.py's req/s and latency; it does not replace them.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from listening import wait_port
from measuring import REQUEST, tools_present, wait_http
from nginx_upstream import nginx_running
from sidecar_under_test import ROOT, sidecar_command, sidecar_policy, variant_env


def count(
    command: list[str],
    port: int | Path,
    ready: str,
    requests: int,
    env: dict[str, str],
    workdir: Path,
    body: Callable[[], str] = lambda: REQUEST,
    ready_timeout_s: float = 180,
    cwd: Path | None = None,
) -> int:
    """Total instructions of ``command`` (all threads) from start to exit, having served ``requests``
    (each with the chat request ``body()`` gives); ``port``: where it listens, or the ports file it
    writes (started on port 0: ``listening.port_zero``); ``cwd``: the directory to run it in."""
    log = workdir / f"valgrind-{port.stem if isinstance(port, Path) else port}-{requests}.txt"
    if isinstance(port, Path):
        port.unlink(missing_ok=True)  # the one this run writes, not the last run's
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", *command],
            # No periodic metrics push inside the count (a traced variant exports metrics too): under
            # valgrind a run lasts about a minute, so a push every 60 s would fall in one run of a pair
            # and not the other. The push at shutdown is in both runs and cancels out. Nor the policy
            # file's poll and its tick (the store, bulkhead and key-file checks) every 0.5 s: their count
            # follows the run's wall time, which the machine's load sets (``SIDECAR_RELOAD_INTERVAL_S``).
            env={**env, "OTEL_METRIC_EXPORT_INTERVAL": "3600000", "SIDECAR_RELOAD_INTERVAL_S": "3600"},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=cwd,
        )
    serve(proc, port, ready, requests, body, ready_timeout_s)
    return instruction_total(log.read_text(), str(log))


def sender(
    port: int, body: Callable[[], str], named: str = ""
) -> tuple[http.client.HTTPConnection, Callable[[int], None]]:
    """A kept-alive connection to ``port`` and ``send(n)``: n sequential chat requests, each ``body()`` (an
    answer other than 200 raises, its message starting with ``named``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(requests: int) -> None:
        for _ in range(requests):
            connection.request("POST", "/v1/chat/completions", body(), {"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{named}HTTP {answer.status}")

    return connection, send


def serve(
    proc: subprocess.Popen[bytes],
    port: int | Path,
    ready: str,
    requests: int,
    body: Callable[[], str] = lambda: REQUEST,
    ready_timeout_s: float = 180,
) -> None:
    """Once ``proc`` (on ``port``, or the port its ports file names) answers ``ready``, send it ``requests``
    chat requests on one kept-alive connection, then stop it (SIGTERM) and wait for its exit."""
    try:
        if isinstance(port, Path):
            port = wait_port(port, proc, timeout=ready_timeout_s)
        wait_http(f"http://127.0.0.1:{port}{ready}", timeout=ready_timeout_s)
        connection, send = sender(port, body, f"{proc.args}: ")
        send(requests)
        connection.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def instruction_total(valgrind_output: str, where: str) -> int:
    """The ``I refs`` total cachegrind printed in ``valgrind_output`` (``where``: named in the error)."""
    match = re.search(r"I\s+refs:\s+([\d,]+)", valgrind_output)
    if match is None:
        raise RuntimeError(f"no instruction count in {where}")
    return int(match.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=200)
    parser.add_argument("--many", type=int, default=1200)
    parser.add_argument("--variants", default="sidecar,sidecar-single-target")
    parser.add_argument(
        "--ready-timeout", type=float, default=180, help="seconds each start under valgrind may take (a loaded machine)"
    )
    args = parser.parse_args()
    if not tools_present("nginx", "valgrind"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-instructions-"))
    results: list[tuple[str, float]] = []
    with nginx_running(workdir) as upstream:
        ports = workdir / "minimal.ports"
        minimal = [sys.executable, str(ROOT / "bench/minimal_proxy.py"), "0", f"http://127.0.0.1:{upstream}"]
        targets: list[tuple[str, list[str], Path, str, dict[str, str]]] = [
            (
                "minimal aiohttp proxy",
                [*minimal, str(ports)],
                ports,
                "/healthz",
                dict(os.environ),
            )
        ]
        for name in args.variants.split(","):
            policy_variant, env_extra = variant_env(name, upstream)
            ports = workdir / f"{name}.ports"
            command, env = sidecar_command(sidecar_policy(workdir, upstream, policy_variant), ports, env_extra)
            targets.append((name, command, ports, "/readyz", env))
        for name, command, port, ready, env in targets:
            few = count(command, port, ready, args.few, env, workdir, ready_timeout_s=args.ready_timeout)
            many = count(command, port, ready, args.many, env, workdir, ready_timeout_s=args.ready_timeout)
            results.append((name, (many - few) / (args.many - args.few)))
    floor = results[0][1]
    lines = [
        f"Command: `python bench/instructions.py --few {args.few} --many {args.many} --variants {args.variants}` "
        f"({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "| target | instructions per request | vs minimal proxy |",
        "|---|---|---|",
        *(f"| {name} | {per:,.0f} | {per / floor:.2f} |" for name, per in results),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
