"""CPU instructions per request of the response cache on the request path, counted by valgrind.

On the shared 2-core machine a miss's few microseconds drown in the latency noise (bench/cache_path.py);
instructions do not. Each case runs a fresh sidecar (or the featureless proxy) under
``valgrind --tool=cachegrind --cache-sim=no`` twice, serving ``--few`` and then ``--many`` sequential
requests on one kept-alive connection (nginx as the fixed upstream); the difference of the two totals
divided by the difference of the counts is one request's cost (the method of bench/instructions.py).

    python bench/cache_instructions.py [--few 200] [--many 1200] [--baseline REF]
        [--cases proxy,floor,plain,miss,hit,hit-sample-0,redis-hit,redis-miss]

Cases: the featureless proxy; the floor of a hit (``bench/minimal_answer.py``: aiohttp.web answering
stored bytes, nothing else; ``floor-server`` the same on aiohttp's low-level ``web.Server``, the kind of
server the sidecar's listener is); the sidecar's route without cache and a miss on its caching route, both
sent bodies made unique by a counter (each miss is looked up, called upstream, stored); a memory hit
(the same request every time; the first one fills the entry); ``hit-sample-0``: that hit with the policy's
``access_log: {sample: 0}`` (its access line left out, docs/logs.md); ``redis-hit`` and ``redis-miss``: a
hit and a miss with the Redis store (a ``redis-server`` this script starts on a free port, emptied before
each run, not counted). ``--baseline REF``: the sidecar cases again with the ``sidecar`` package of git
revision REF, in the same run. ``--cases``: which sidecar cases (and ``proxy``, the featureless proxy, the
ratios' denominator, and ``floor``). Needs valgrind and nginx (and redis-server for the Redis cases).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cache_path import CACHED_REQUEST, policy, unique
from instructions import count
from listening import start_redis, stop_all
from measuring import REQUEST, tools_present
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import ROOT, checkout, sidecar_command


def flush(port: int) -> None:
    """Empty the Redis server on ``port`` (``FLUSHALL``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"FLUSHALL\r\n")
        if not sock.recv(16).startswith(b"+OK"):
            raise RuntimeError("FLUSHALL failed")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=200)
    parser.add_argument("--many", type=int, default=1200)
    parser.add_argument("--baseline", help="also run the sidecar cases with this git revision's package")
    parser.add_argument(
        "--cases", default="proxy,plain,miss,hit", help="proxy (featureless), plain, miss, hit, hit-sample-0"
    )
    args = parser.parse_args()
    if not tools_present("nginx", "valgrind"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="cache-instructions-"))
    nginx, upstream = nginx_on_free_port(workdir)
    counter = iter(range(10**9)).__next__
    path = policy(workdir, "memory", upstream, "{memory: {max_entries: 100000}}")
    sampled = path.with_name("memory-sample-0.yaml")  # the same, every plain success's access line left out
    sampled.write_text(path.read_text() + "access_log: {sample: 0}\n")
    redis = start_redis(workdir) if any(case.startswith("redis") for case in args.cases.split(",")) else None
    in_redis = path
    if redis is not None:  # the Redis store as cache_path.py configures it
        in_redis = policy(
            workdir, "redis", upstream, f"{{redis: {{url: 'redis://127.0.0.1:{redis[1]}/0', timeout_s: 1}}}}"
        )
    results: list[tuple[str, float]] = []
    try:
        port = workdir / "minimal.ports"
        minimal = [sys.executable, str(ROOT / "bench/minimal_proxy.py"), "0", f"http://127.0.0.1:{upstream}", str(port)]
        cases: list[tuple[str, list[str], Path, str, dict[str, str], Callable[[], str], Path | None]] = []
        if "proxy" in args.cases.split(","):
            cases.append(("featureless proxy", minimal, port, "/healthz", dict(os.environ), lambda: REQUEST, None))
        for floor_case, flag, server in (("floor", [], "aiohttp.web"), ("floor-server", ["--server"], "web.Server")):
            if floor_case in args.cases.split(","):
                port = workdir / f"{floor_case}.ports"
                answer = [sys.executable, str(ROOT / "bench/minimal_answer.py"), str(port), *flag]
                cases.append(
                    (
                        f"{floor_case}: {server} answering stored bytes",
                        answer,
                        port,
                        "/healthz",
                        dict(os.environ),
                        lambda: CACHED_REQUEST,
                        None,
                    )
                )
        known = {
            "plain": ("route without cache (unique bodies)", unique(REQUEST, counter)),
            "miss": ("memory miss (unique bodies)", unique(CACHED_REQUEST, counter)),
            "hit": ("memory hit", lambda: CACHED_REQUEST),
            "hit-sample-0": ("memory hit, access_log: {sample: 0} (no line)", lambda: CACHED_REQUEST),
            "redis-hit": ("Redis hit", lambda: CACHED_REQUEST),
            "redis-miss": ("Redis miss (unique bodies)", unique(CACHED_REQUEST, counter)),
        }
        codes: list[tuple[str, Path | None]] = [("sidecar", None)]
        if args.baseline:
            codes.append((f"sidecar {args.baseline}", checkout(args.baseline, workdir)))
        for case in args.cases.split(","):
            for label, code in codes if case not in ("proxy", "floor", "floor-server") else ():
                name, body = known[case]
                port = workdir / f"{case}-{label.replace(' ', '-')}.ports"
                chosen = sampled if case.endswith("sample-0") else in_redis if case.startswith("redis") else path
                command, env = sidecar_command(chosen, port, {})
                if code is not None:
                    env["PYTHONPATH"] = str(code)  # and run from there: -m puts the directory first
                cases.append((f"{label}, {name}", command, port, "/readyz", env, body, code))
        for name, command, port, ready, env, body, cwd in cases:
            # Slow to start under valgrind on a busy machine; the last request's deferred store falls
            # inside both runs of a pair (the sidecar finishes it before it exits).
            counts = []
            for requests in (args.few, args.many):
                if redis is not None:  # each run's first request a miss, as in memory
                    flush(redis[1])
                counts.append(count(command, port, ready, requests, env, workdir, body, ready_timeout_s=900, cwd=cwd))
            few, many = counts
            results.append((name, (many - few) / (args.many - args.few)))
            print(f"{name}: {results[-1][1]:,.0f}", file=sys.stderr, flush=True)
    finally:
        stop_all([nginx, *(redis or ())[:1]], timeout=10)
    floor = results[0][1] if "proxy" in args.cases.split(",") else float("nan")
    lines = [
        f"Command: `python bench/cache_instructions.py --few {args.few} --many {args.many}"
        + (f" --baseline {args.baseline}" if args.baseline else "")
        + f" --cases {args.cases}` "
        f"({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "| case | instructions per request | vs featureless proxy |",
        "|---|---|---|",
        *(f"| {name} | {per:,.0f} | {per / floor:.2f} |" for name, per in results),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
