"""Where a whole sidecar's per-request Python work goes, by function and by area: calls (cProfile) and
bytecodes (``sys.settrace``).

Instruction counts (bench/instructions.py) say how much a request costs, not where. This runs a real
sidecar (``python -OO -m sidecar run`` as the image starts it, the same policy and nginx upstream as
instructions.py, its policy poll kept out: ``SIDECAR_RELOAD_INTERVAL_S=3600``) inside its own child process:

- by default under ``cProfile`` from its first line to its exit, twice: once serving ``--few`` and once
  ``--many`` sequential requests on one kept-alive connection. The difference of the two profiles over the
  difference of the counts is one request's share, start-up and shutdown cancelled out: **calls per
  request** by function, C functions and coroutine resumptions included (deterministic: the same code and
  request give the same counts; the event loop's housekeeping shows as fractions), and the profiler's own
  time, a ranking for a quiet machine only (its per-call cost and the socket writes dominate it);
- with ``--bytecodes``, with a tracer counting each Python function's **bytecodes** and calls, switched
  on (SIGUSR1) after ``--few`` warm-up requests and off after ``--many - --few`` more. Records made by
  generated code (dataclasses' ``__init__``, named tuples' ``__new__``) are named by their class.

Each function is put in an area by its module (``AREAS``); a C function (``{method ...}``, builtins) is
put in the area of the Python function that called it, its calls and time split by caller. Only the
event loop's thread is seen (the untraced sidecar does all its request work there).

    python bench/request_profile.py [--case plain|hit|redis-hit|miss|minimal] [--few 100] [--many 400] [--bytecodes]
        [--top 40] [--details] [--code DIR]

``--case hit``: a memory cache hit (bench/cache_path.py's cached route; the same request every time, the
first fills the entry); ``--case redis-hit``: the same with the Redis store (a ``redis-server`` this script
starts on a free port, as cache_path.py does); ``--case miss``: a memory miss (bodies made unique by a
counter, as cache_path.py's); ``--case minimal``: bench/minimal_proxy.py, the featureless
aiohttp proxy. ``--details``: every area's functions. ``--code DIR``: the ``sidecar`` package from DIR (a
``git archive`` snapshot), put first on ``PYTHONPATH``. Needs nginx (and redis-server). Results:
docs/benchmarks.md, wave 27 ``plain27``, wave 33 ``redis33``.
"""

from __future__ import annotations

import argparse
import atexit
import cProfile
import json
import os
import pstats
import runpy
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from instructions import sender
from listening import start_redis, stop_all, wait_port
from measuring import REQUEST, tools_present, wait_http
from nginx_upstream import nginx_on_free_port
from sidecar_under_test import OPTIMISED, ROOT, sidecar_command, sidecar_policy

# (area, substrings of a module's path), first match wins; the order puts the specific before the general.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("access line", ("sidecar/server/access.py", "sidecar/telemetry/logging.py", "sidecar/telemetry/log_pipe")),
    (
        "metrics",
        (
            "sidecar/telemetry/metrics.py",
            "sidecar/telemetry/instruments.py",
            "sidecar/telemetry/label",
            "sidecar/telemetry/held_series.py",
        ),
    ),
    (
        "trace context and telemetry records",
        ("sidecar/telemetry/", "opentelemetry/"),
    ),
    ("answer headers", ("sidecar/server/answer_headers.py", "sidecar/header_text.py", "sidecar/upstream/headers.py")),
    ("cache", ("sidecar/cache/", "sidecar/server/cache_stage.py", "sidecar/server/response_caches.py")),
    ("routing", ("sidecar/routing/", "sidecar/request_facts.py")),
    (
        "attempt, fallback, breakers",
        (
            "sidecar/server/attempt.py",
            "sidecar/server/calls.py",
            "sidecar/server/fallback.py",
            "sidecar/server/target_tries.py",
            "sidecar/server/targets.py",
            "sidecar/server/deadline.py",
            "sidecar/server/one_answer.py",
            "sidecar/resilience/",
            "sidecar/credentials.py",
        ),
    ),
    ("upstream client (sidecar)", ("sidecar/upstream/",)),
    ("answer judging, usage, cost", ("sidecar/answers.py", "sidecar/cost.py", "sidecar/server/billed.py")),
    ("request parsing, dialects", ("sidecar/translate/", "sidecar/dialects/")),
    (
        "handler and pipeline",
        (
            "sidecar/server/handler.py",
            "sidecar/server/pipeline.py",
            "sidecar/server/app.py",
            "sidecar/server/exchange.py",
            "sidecar/server/state.py",
            "sidecar/server/hooks.py",
            "sidecar/server/gating.py",
            "sidecar/server/budget",
        ),
    ),
    ("listener (sidecar)", ("sidecar/server/listener.py", "sidecar/server/routes.py")),
    ("other sidecar", ("sidecar/",)),
    ("Redis client (redis-py, aiocache)", ("/redis/", "/aiocache/")),
    (
        "aiohttp client",
        ("aiohttp/client", "aiohttp/connector.py", "multidict/", "yarl/", "aiohttp/tracing.py", "aiohttp/cookiejar.py"),
    ),
    ("aiohttp server", ("aiohttp/web", "aiohttp/http_parser.py", "aiohttp/base_protocol.py")),
    # what aiohttp's server and client both use: which side called is not told apart
    ("aiohttp writer, streams, payloads (both sides)", ("aiohttp/http_writer.py", "aiohttp/streams.py", "aiohttp/")),
    ("event loop, asyncio", ("asyncio/", "uvloop/", "_weakrefset.py", "contextvars")),
    # generated code: dataclasses' __init__, named tuples' __new__ (named by class with --bytecodes)
    ("records made (dataclasses, named tuples)", ("<string>",)),
)


def area_of(path: str) -> str:
    """The area of a module path (``AREAS``), "other" when none matches."""
    for area, parts in AREAS:
        if any(part in path for part in parts):
            return area
    return "other"


def child(stats_path: str, arguments: list[str]) -> None:
    """Run ``-m MODULE ARGUMENTS`` or ``SCRIPT ARGUMENTS`` in this process under cProfile, the stats written
    at exit (or at SIGTERM for a program that does not handle it: the minimal proxy)."""
    profile = cProfile.Profile()

    def write() -> None:
        profile.disable()
        profile.dump_stats(stats_path)

    def terminated(signum: int, frame: object) -> None:
        write()
        os._exit(0)

    atexit.register(write)
    signal.signal(signal.SIGTERM, terminated)  # the sidecar's own handler replaces this one
    profile.enable()
    run_program(arguments)


def child_bytecodes(out_path: str, arguments: list[str]) -> None:
    """Run ``-m MODULE ARGUMENTS`` or ``SCRIPT ARGUMENTS`` with a tracer counting every Python function's
    bytecodes and calls between two SIGUSR1s (written to ``out_path`` as JSON at the second)."""
    opcodes: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)

    def tracer(frame: FrameType, event: str, _: object) -> object:
        code = frame.f_code
        name = code.co_name
        if code.co_filename == "<string>":  # a dataclass's __init__, a named tuple's __new__: named by class
            made = frame.f_locals.get("self", frame.f_locals.get("_cls"))
            made = made if isinstance(made, type) else type(made)
            name = f"{made.__module__}.{made.__qualname__}.{name}"
        key = f"{code.co_filename}\0{code.co_firstlineno}\0{name}"
        calls[key] += 1
        frame.f_trace_opcodes = True

        def count(frame: FrameType, event: str, _: object) -> object:
            if event == "opcode":
                opcodes[key] += 1
            return count

        return count

    tracing = [False]

    def toggle(signum: int, frame: object) -> None:
        tracing[0] = not tracing[0]
        sys.settrace(tracer if tracing[0] else None)
        if not tracing[0]:
            Path(out_path).write_text(json.dumps({"opcodes": opcodes, "calls": calls}))

    signal.signal(signal.SIGUSR1, toggle)
    run_program(arguments)


def run_program(arguments: list[str]) -> None:
    """``-m MODULE ARGUMENTS`` or ``SCRIPT ARGUMENTS``, as ``python`` would run them."""
    if arguments[0] == "-m":
        sys.argv = [arguments[1], *arguments[2:]]
        runpy.run_module(arguments[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = arguments
        runpy.run_path(arguments[0], run_name="__main__")


Key = tuple[str, int, str]
Row = tuple[Key, float, float, str]  # function, calls, its measure (own us or bytecodes), area


def serve(
    command: list[str], mode: str, out: Path, target: Target, between: Callable[[Callable[[int], None], int], None]
) -> None:
    """Run ``command`` (``python [-OO] -m sidecar ...`` or ``python SCRIPT ...``) as this file's child of
    ``mode`` (``--child``, ``--child-bytecodes``) writing to ``out``; once it is ready, ``between(send, pid)``
    sends its requests (``send(n)``: n sequential requests on one connection); then SIGTERM."""
    env, ports, ready, body, timeout = target
    ports.unlink(missing_ok=True)
    python, *flags = command[: command.index("-m")] if "-m" in command else command[:1]
    arguments = command[command.index("-m") :] if "-m" in command else command[1:]
    profiled = [python, *flags[:1], __file__, mode, str(out), "--", *arguments]
    proc = subprocess.Popen(profiled, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port = wait_port(ports, proc, timeout=timeout)
        wait_http(f"http://127.0.0.1:{port}{ready}", timeout=timeout)
        connection, send = sender(port, body)
        between(send, proc.pid)
        connection.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


# what ``serve`` needs beside the command: environment, ports file, readiness path, request body, start timeout
Target = tuple[dict[str, str], Path, str, Callable[[], str], float]


def profile_run(
    command: list[str], target: Target, requests: int, workdir: Path
) -> dict[Key, tuple[int, float, dict[Key, tuple[int, float]]]]:
    """One profiled process serving ``requests`` sequential requests: per function its calls, own time and
    its callers' shares (calls, own time)."""
    stats_path = workdir / f"profile-{requests}.prof"
    serve(command, "--child", stats_path, target, lambda send, pid: send(requests))
    raw = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    return {
        key: (calls, own, {caller: (share[0], share[2]) for caller, share in callers.items()})
        for key, (_, calls, own, _, callers) in raw.items()
    }


def bytecode_run(command: list[str], target: Target, warm: int, requests: int, workdir: Path) -> list[Row]:
    """Bytecodes and calls per request by function: ``warm`` requests, then ``requests`` traced."""
    out = workdir / "bytecodes.json"

    def between(send: Callable[[int], None], pid: int) -> None:
        send(warm)
        for count in (0, requests):  # tracing on; the traced requests; tracing off, the counts written
            send(count)
            time.sleep(0.3)
            os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + 30
        while not out.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    serve(command, "--child-bytecodes", out, target, between)
    counted = json.loads(out.read_text())
    rows: list[Row] = []
    for name, opcodes in counted["opcodes"].items():
        path, line, function = name.split("\0")
        key = (path, int(line), function)
        rows.append((key, counted["calls"].get(name, 0) / requests, opcodes / requests, area_of(path)))
    return rows


def name_of(key: Key) -> str:
    """A function's readable name: ``module.py:line function`` or the C function's own."""
    path, line, function = key
    if path == "~":
        return function
    short = path.split("site-packages/")[-1].split("/sidecar/", 1)
    where = f"sidecar/{short[1]}" if len(short) == 2 else short[0].rsplit("/lib/python3.11/", 1)[-1]
    return f"{where}:{line} {function}"


def per_request(few: dict, many: dict, span: int) -> list[Row]:
    """Per function: calls and own microseconds per request, and its area (a C function's: its caller's,
    split by caller)."""
    rows: list[Row] = []
    for key, (calls, own, callers) in many.items():
        f_calls, f_own, f_callers = few.get(key, (0, 0.0, {}))
        if key[0] != "~":
            rows.append((key, (calls - f_calls) / span, (own - f_own) * 1e6 / span, area_of(key[0])))
            continue
        for caller, (c_calls, c_own) in callers.items():
            b_calls, b_own = f_callers.get(caller, (0, 0.0))
            rows.append((key, (c_calls - b_calls) / span, (c_own - b_own) * 1e6 / span, area_of(caller[0])))
    return [row for row in rows if abs(row[1]) >= 0.005]


def report(rows: list[Row], measure: str, top: int, details: bool) -> str:
    """The tables: by area, then the top functions by ``measure`` and by calls (``details``: then each
    area's functions called at least once in two requests)."""
    calls_by_area: dict[str, float] = defaultdict(float)
    measure_by_area: dict[str, float] = defaultdict(float)
    functions_by_area: dict[str, set[Key]] = defaultdict(set)
    merged: dict[Key, list[float]] = defaultdict(lambda: [0.0, 0.0])
    areas_of: dict[Key, set[str]] = defaultdict(set)
    for key, calls, measured, area in rows:
        calls_by_area[area] += calls
        measure_by_area[area] += measured
        functions_by_area[area].add(key)
        merged[key][0] += calls
        merged[key][1] += measured
        areas_of[key].add(area)
    total_calls = sum(calls_by_area.values())
    total = sum(measure_by_area.values())
    lines = [
        f"Calls per request {total_calls:,.1f}; {measure} per request {total:,.0f}",
        "",
        f"| area | calls per request | functions | {measure} | share |",
        "|---|---|---|---|---|",
    ]
    by_measure = sorted(measure_by_area, key=measure_by_area.__getitem__, reverse=True)
    for area in by_measure:
        lines.append(
            f"| {area} | {calls_by_area[area]:,.1f} | {len(functions_by_area[area])} | "
            f"{measure_by_area[area]:,.1f} | {measure_by_area[area] / total:.1%} |"
        )
    for title, column in ((measure, 1), ("calls", 0)):
        lines += ["", f"Top {top} functions by {title} per request:", ""]
        lines += [f"| function | area | calls | {measure} |", "|---|---|---|---|"]
        ranked = sorted(merged.items(), key=lambda item: item[1][column], reverse=True)[:top]
        for key, (calls, measured) in ranked:
            area = ", ".join(sorted(areas_of[key]))
            lines.append(f"| `{name_of(key)}` | {area} | {calls:,.2f} | {measured:,.1f} |")
    if details:
        for area in by_measure:
            lines += ["", f"{area}:", "", f"| function | calls | {measure} |", "|---|---|---|"]
            inside = sorted((row for row in rows if row[3] == area), key=lambda row: row[2], reverse=True)
            lines += [f"| `{name_of(k)}` | {calls:,.2f} | {m:,.1f} |" for k, calls, m, _ in inside if calls >= 0.5]
    return "\n".join(lines)


def target_of(
    case: str, workdir: Path, upstream: int, timeout: float, redis_port: int | None = None
) -> tuple[list[str], Target]:
    """The command and ``Target`` of a case: the sidecar's plain route, its memory hit, its Redis hit (the
    store on ``redis_port``), or the minimal proxy."""
    ports = workdir / "target.ports"
    if case == "minimal":
        command = [sys.executable, str(ROOT / "bench/minimal_proxy.py"), "0", f"http://127.0.0.1:{upstream}"]
        return [*command, str(ports)], (dict(os.environ), ports, "/healthz", lambda: REQUEST, timeout)
    if case in ("hit", "redis-hit", "miss"):
        from cache_path import CACHED_REQUEST, policy, unique

        store = "{memory: {max_entries: 100000}}"
        if redis_port is not None:
            store = f"{{redis: {{url: 'redis://127.0.0.1:{redis_port}/0', timeout_s: 1}}}}"
        path = policy(workdir, case, upstream, store)
        body = unique(CACHED_REQUEST, iter(range(10**9)).__next__) if case == "miss" else lambda: CACHED_REQUEST
    else:
        path, body = sidecar_policy(workdir, upstream, "chain"), lambda: REQUEST
    # the policy poll's tick every 0.5 s of wall time would count more the slower the traced requests go
    command, env = sidecar_command(path, ports, {"SIDECAR_RELOAD_INTERVAL_S": "3600"})
    assert command[1 : 1 + len(OPTIMISED)] == OPTIMISED
    return command, (env, ports, "/readyz", body, timeout)


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] in ("--child", "--child-bytecodes"):
        (child if sys.argv[1] == "--child" else child_bytecodes)(sys.argv[2], sys.argv[4:])
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=100, help="requests of the first run (--bytecodes: warm-up)")
    parser.add_argument("--many", type=int, default=400, help="requests of the second run (--bytecodes: few+traced)")
    parser.add_argument("--case", choices=("plain", "hit", "redis-hit", "miss", "minimal"), default="plain")
    parser.add_argument("--bytecodes", action="store_true", help="count bytecodes by function (sys.settrace)")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--details", action="store_true", help="each area's functions too")
    parser.add_argument("--code", help="a directory holding the sidecar package to profile (a snapshot)")
    parser.add_argument("--ready-timeout", type=float, default=300)
    args = parser.parse_args()
    if not tools_present("nginx"):
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="request-profile-"))
    nginx, upstream = nginx_on_free_port(workdir)
    redis = start_redis(workdir) if args.case == "redis-hit" else None
    try:
        command, target = target_of(args.case, workdir, upstream, args.ready_timeout, redis and redis[1])
        if args.code:
            target[0]["PYTHONPATH"] = os.pathsep.join([args.code, *filter(None, [target[0].get("PYTHONPATH")])])
        if args.bytecodes:
            rows, measure = bytecode_run(command, target, args.few, args.many - args.few, workdir), "bytecodes"
        else:
            runs = [profile_run(command, target, n, workdir) for n in (args.few, args.many)]
            rows, measure = per_request(runs[0], runs[1], args.many - args.few), "own us under cProfile"
    finally:
        stop_all([nginx, *(redis or ())[:1]], timeout=10)
    code = args.code or str(ROOT)
    print(
        f"Command: `python bench/request_profile.py --case {args.case} --few {args.few} --many {args.many}"
        f"{' --bytecodes' if args.bytecodes else ''}` (code {code}, {time.strftime('%Y-%m-%d %H:%M')} UTC)\n"
    )
    print(report(rows, measure, args.top, args.details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
