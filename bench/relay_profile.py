"""Where one relayed stream event's Python work goes, by function and by area: bytecodes per event
(``sys.settrace``), for each pair of ``relay_instructions.PAIRS``.

``relay_instructions.py`` says how many instructions one more event costs, not where. This runs a real
sidecar (as ``relay_instructions.py`` starts it, its policy poll kept out) inside a child of
``request_profile.py --child-bytecodes``, whose tracer counts each Python function's bytecodes and calls
between two SIGUSR1s, and serves, per pair, ``--streams`` streams of ``--short`` content events, then as
many of ``--long`` (the paced upstream of ``relay_cost.py``): the second phase's counts less the first's,
divided by ``streams * (long - short)``, are one event's, the per-request work cancelled out. The areas
are ``request_profile.AREAS``. A bytecode is not an instruction (a C call inside one, such as
``orjson.loads``, is one bytecode here): read the instructions from ``relay_instructions.py`` and the
place they go from this.

    python bench/relay_profile.py [--pairs same,gemini-usage-openai,...] [--streams 4] [--short 5]
        [--long 45] [--gap-ms 15] [--top 12] [--code DIR]

``--code DIR``: the ``sidecar`` package from DIR (a ``git archive`` snapshot), put first on PYTHONPATH.
Results: docs/benchmarks.md, wave 33 ``relay33``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from listening import start_with_ports_file, wait_port
from measuring import wait_http
from relay_instructions import PAIRS, policy, request
from request_profile import area_of, name_of
from sidecar_under_test import ROOT, sidecar_command

Counts = dict[str, dict[str, int]]  # "opcodes" and "calls", by the tracer's function key


def traced_phases(
    command: list[str], env: dict[str, str], ports: Path, phases: list[list[tuple[str, bytes, bytes]]]
) -> list[Counts]:
    """Start ``command`` under the bytecode tracer; for each phase, tracing on, its calls sent one after the
    other, tracing off: the counts after each phase (the tracer's, which add up across phases)."""
    out = ports.with_suffix(".json")
    start = command.index("-m")  # ``-P`` left out (as ``request_profile.serve`` does): the tracer imports bench/
    child = [command[0], *command[1:start][:1], str(ROOT / "bench/request_profile.py"), "--child-bytecodes"]
    child += [str(out), "--", *command[start:]]
    proc = subprocess.Popen(child, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counted: list[Counts] = []
    try:
        port = wait_port(ports, proc, timeout=300)
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=300)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for path, body, ending in phases[0][:1]:  # one untraced stream first: imports and first-use caches
            send(connection, path, body, ending)
        for calls in phases:
            out.unlink(missing_ok=True)
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(0.3)
            for path, body, ending in calls:
                send(connection, path, body, ending)
            time.sleep(0.3)
            os.kill(proc.pid, signal.SIGUSR1)
            counted.append(written(out))
        connection.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    return counted


def written(out: Path) -> Counts:
    """The tracer's counts once it has written them whole."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            counts: Counts = json.loads(out.read_text())
            return counts
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.2)
    raise RuntimeError(f"no counts written to {out}")


def send(connection: http.client.HTTPConnection, path: str, body: bytes, ending: bytes) -> None:
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    data = answer.read()
    if answer.status != 200 or not data.endswith(ending):
        raise RuntimeError(f"HTTP {answer.status}, stream ends {data[-80:]!r}")


def per_event(short: Counts, both: Counts, events: int) -> dict[str, tuple[float, float]]:
    """(calls, bytecodes) per event by function: the long phase's (``both`` less ``short``) less the short's."""
    rows: dict[str, tuple[float, float]] = {}
    for key in both["opcodes"].keys() | both["calls"].keys():
        long_ops = both["opcodes"].get(key, 0) - 2 * short["opcodes"].get(key, 0)
        long_calls = both["calls"].get(key, 0) - 2 * short["calls"].get(key, 0)
        rows[key] = (long_calls / events, long_ops / events)
    return rows


RELAY = ("sidecar/server/stream", "sidecar/sse.py", "sidecar/server/key_redaction.py")
"""The relay's own modules, an area of their own here (``request_profile.AREAS`` has them in "other")."""


def relay_area(path: str) -> str:
    return "the relay (sidecar)" if any(part in path for part in RELAY) else area_of(path)


def table(pair: str, rows: dict[str, tuple[float, float]], top: int) -> list[str]:
    by_area: dict[str, float] = defaultdict(float)
    for key, (_, ops) in rows.items():
        by_area[relay_area(key.split("\0")[0])] += ops
    total = sum(by_area.values())
    lines = [f"### {pair}: {total:,.0f} bytecodes an event", "", "| area | bytecodes | share |", "|---|---|---|"]
    for area, ops in sorted(by_area.items(), key=lambda item: -item[1]):
        if abs(ops) >= 0.5:
            lines.append(f"| {area} | {ops:,.1f} | {ops / total:.1%} |")
    lines += ["", "| function | calls | bytecodes |", "|---|---|---|"]
    for key, (calls, ops) in sorted(rows.items(), key=lambda item: -item[1][1])[:top]:
        path, line, function = key.split("\0")
        lines.append(f"| `{name_of((path, int(line), function))}` | {calls:,.2f} | {ops:,.1f} |")
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=45)
    parser.add_argument("--gap-ms", type=float, default=15.0)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--code", help="a directory holding the sidecar package to profile (a snapshot)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="relay-profile-"))
    ports = workdir / "upstream.ports"
    serving = [str(ROOT / "bench/relay_instructions.py"), "--serve-upstream", str(ports), "--gap-ms", str(args.gap_ms)]
    upstream, upstream_port = start_with_ports_file([sys.executable, *serving], ports)
    path = policy(workdir, upstream_port, args.short, args.long)
    lines = [
        f"Command: `python bench/relay_profile.py {' '.join(sys.argv[1:])}` (code {args.code or ROOT}, "
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC)",
        "",
    ]
    try:
        for pair in args.pairs.split(","):
            source, caller = PAIRS[pair]
            sidecar_ports = workdir / f"sidecar-{pair}.ports"
            sidecar_ports.unlink(missing_ok=True)
            command, env = sidecar_command(path, sidecar_ports, {"SIDECAR_RELOAD_INTERVAL_S": "3600"})
            env["SIDECAR_LOG_LEVEL"] = "warning"
            if args.code:
                env["PYTHONPATH"] = args.code
            phases = [[request(caller, f"from-{source}-{n}")] * args.streams for n in (args.short, args.long)]
            short, both = traced_phases(command, env, sidecar_ports, phases)
            rows = per_event(short, both, args.streams * (args.long - args.short))
            lines += table(pair, rows, args.top)
    finally:
        upstream.terminate()
        upstream.wait(timeout=10)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
