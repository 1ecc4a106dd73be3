"""What a memory miss adds to a request, by C function: one live sidecar under callgrind.

``cache_instructions.py`` says how much more a miss costs than the same route without a cache (about
140,000-157,000 of a ~1,000,000-instruction request, whole processes counted twice); the
``cache_*_parts.py`` scripts count the cache's pieces in one process. This counts the miss where it
happens: one sidecar (``cache_path.py``'s policy: a route ``plain`` without a cache and a route
``cached`` with a memory cache, ``cacheable: always``, over the same nginx upstream), started as the image
starts it, runs under ``valgrind --tool=callgrind``, serves ``--warm`` requests of both kinds, then
``--rounds`` times: ``--requests`` requests to the route without a cache (bodies made unique by a counter),
a dump of its counters (which resets them), ``--requests`` misses on the caching route (unique bodies of the
same length), a dump. Every dump is of the same process, so the periodic work (the access log's flush, the
ticks) and the heap's state are alike in both kinds; the two kinds' dumps are summed over the rounds.

The tables (``routing_callgrind.report``'s reader and groups): per request, the miss's total less the
route's, the self costs in groups, and the C functions whose self and inclusive costs differ most.
Inclusive costs of recursive functions (the eval loop, calls into Python from C) count nested calls more
than once: read those rows as "under", not as shares that add up. A Python function of the miss that runs
as its own C call (a loop callback: ``_keep``, run by uvloop's ``Handle._run``; a coroutine awaited:
``gen_send_ex2``; a property: ``property_descr_get``; ``__init__``: ``slot_tp_init``) shows in the
inclusive column of that C entry point.

    python bench/cache_callgrind.py [--warm 200] [--requests 300] [--rounds 2] [--top 40] [--code DIR]
        [--plain-dumps PLAIN... --miss-dumps MISS...]

``--code DIR``: the ``sidecar`` package from DIR (a ``git archive`` snapshot) first on ``PYTHONPATH`` (the base
in the same session). Needs valgrind (callgrind_control) and nginx.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cache_path import CACHED_REQUEST, policy, unique  # noqa: E402
from listening import wait_port  # noqa: E402
from measuring import REQUEST, tools_present, wait_http  # noqa: E402
from nginx_upstream import nginx_running  # noqa: E402
from routing_callgrind import GROUPS, by_function, dumped, grouped, total  # noqa: E402
from sidecar_under_test import sidecar_command  # noqa: E402


def send(port: int, bodies: Callable[[], str], requests: int, cache: str) -> None:
    """``requests`` sequential chat requests on one kept-alive connection; each answer must be 200 with
    ``x-sidecar-cache`` ``cache`` ("" for none)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(requests):
        connection.request("POST", "/v1/chat/completions", bodies(), {"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        if answer.status != 200 or (answer.getheader("x-sidecar-cache") or "") != cache:
            raise RuntimeError(f"HTTP {answer.status}, x-sidecar-cache {answer.getheader('x-sidecar-cache')}")
    connection.close()


def measure(workdir: Path, upstream: int, args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """The dumps of the route without a cache and of the misses, ``--rounds`` of each."""
    counter = iter(range(10**9)).__next__
    plain_bodies, miss_bodies = unique(REQUEST, counter), unique(CACHED_REQUEST, counter)
    path = policy(workdir, "memory", upstream, "{memory: {max_entries: 100000}}")
    ports = workdir / "sidecar.ports"
    command, env = sidecar_command(path, ports, {})
    if args.code is not None:
        env["PYTHONPATH"] = f"{args.code}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env |= {"OTEL_METRIC_EXPORT_INTERVAL": "3600000", "SIDECAR_RELOAD_INTERVAL_S": "3600"}
    out = workdir / "callgrind-cache"
    plain: list[Path] = []
    missed: list[Path] = []
    numbers = itertools.count(1)
    valgrind = ["valgrind", "--tool=callgrind", "--dump-instr=no", f"--callgrind-out-file={out}"]
    with (workdir / "callgrind-cache.txt").open("w") as log:
        proc = subprocess.Popen(valgrind + command, env=env, stdout=subprocess.DEVNULL, stderr=log, cwd=args.code)
        try:
            port = wait_port(ports, proc, timeout=args.ready_timeout)
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=args.ready_timeout)
            for _ in range(2):
                send(port, plain_bodies, args.warm // 2, "")
                send(port, miss_bodies, args.warm // 2, "miss")
            dumped(proc.pid, out, next(numbers))
            for _ in range(args.rounds):
                send(port, plain_bodies, args.requests, "")
                time.sleep(0.2)  # the last request's loop callbacks (a miss's ``_keep``) inside its dump
                plain.append(dumped(proc.pid, out, next(numbers)))
                send(port, miss_bodies, args.requests, "miss")
                time.sleep(0.2)
                missed.append(dumped(proc.pid, out, next(numbers)))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=300)
    return plain, missed


def summed(dumps: list[Path]) -> tuple[int, dict[str, int], dict[str, int]]:
    """The dumps' total, self and inclusive costs by function, summed."""
    whole, self_cost, inclusive = 0, {}, {}  # type: ignore[var-annotated]
    for dump in dumps:
        whole += total(dump)
        mine, under = by_function(dump)
        for into, costs in ((self_cost, mine), (inclusive, under)):
            for name, cost in costs.items():
                into[name] = into.get(name, 0) + cost
    return whole, self_cost, inclusive


def report(plain: list[Path], missed: list[Path], args: argparse.Namespace, when: str) -> None:
    n = args.requests * len(plain)
    print(
        f"Command: `python bench/cache_callgrind.py --warm {args.warm} --requests {args.requests}"
        f" --rounds {args.rounds}" + (f" --code {args.code}" if args.code else "") + f"`{when}\n"
    )
    (p_total, p_self, p_incl), (m_total, m_self, m_incl) = summed(plain), summed(missed)
    print(f"per request: route without cache {p_total / n:,.0f}, memory miss {m_total / n:,.0f}, ")
    print(f"a miss adds {(m_total - p_total) / n:+,.0f}\n")
    base_groups, more_groups = grouped(p_self), grouped(m_self)
    print("| group (self costs) | no cache | miss | miss - no cache |\n|---|---|---|---|")
    for group, _ in GROUPS:
        b, m = base_groups.get(group, 0) / n, more_groups.get(group, 0) / n
        print(f"| {group} | {b:,.0f} | {m:,.0f} | {m - b:+,.0f} |")
    print()
    for kind, base, more in (("self", p_self, m_self), ("inclusive", p_incl, m_incl)):
        diff = {k: (more.get(k, 0) - base.get(k, 0)) / n for k in base.keys() | more.keys()}
        print(f"| C function ({kind}) | no cache | miss | miss - no cache |\n|---|---|---|---|")
        for name, delta in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[: args.top]:
            print(f"| `{name}` | {base.get(name, 0) / n:,.0f} | {more.get(name, 0) / n:,.0f} | {delta:+,.0f} |")
        print(f"\n(rows: {len(diff)}; the column's differences add up to {sum(diff.values()):+,.0f})\n")
    print("dumps:", *plain, "and", *missed, "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--ready-timeout", type=float, default=900)
    parser.add_argument("--plain-dumps", nargs="+", type=Path, help="an earlier run's dumps: only read")
    parser.add_argument("--miss-dumps", nargs="+", type=Path, help="(with --plain-dumps)")
    args = parser.parse_args()
    if args.plain_dumps:
        report(args.plain_dumps, args.miss_dumps, args, "")
        return 0
    if not tools_present("nginx", "valgrind", "callgrind_control"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="cache-callgrind-"))
    started = time.strftime("%Y-%m-%d %H:%M")
    with nginx_running(workdir) as upstream:
        plain, missed = measure(workdir, upstream, args)
    report(plain, missed, args, f" ({started} to {time.strftime('%H:%M')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
