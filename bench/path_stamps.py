"""Where a request's time goes inside the sidecar, stretch by stretch, at one connection: stamped copies.

``critical_path.py`` splits a proxy's added latency into (a) before the upstream call and (b) after its
answer; this says which work fills them. The ``sidecar`` package of this tree (and of ``--baseline REF``)
is copied and a stamp (``time.perf_counter_ns`` appended to a list, about 0.45 us on this machine, counted
in the stretch it ends) is put at each of ``POINTS``: a line of the request path named by a piece of its
text, the stamp put before or after it. A point whose text is not found once in a tree is left out there
(a tree from before or after a change), and said. Each copy runs as the image runs the sidecar (``-OO``)
on the bench's chain policy (``--cache-hit``: its bench route cached in memory, every request a hit),
nginx upstream; one client sends the bench's chat request to each in turn (shuffled each round) on a
kept-alive connection, noting when it sent (t0) and when the whole answer came (t3: one clock for every
process, ``CLOCK_MONOTONIC``). At exit each sidecar writes its stamps; the table gives each stretch's
median per tree, the first 200 requests left out.

    python bench/path_stamps.py [--requests 3000] [--baseline REF] [--cache-hit]

Stretches are timings, on a shared machine: read the same run's columns against each other.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

from listening import port_zero, wait_port
from measuring import REQUEST, wait_http
from nginx_upstream import nginx_running
from sidecar_under_test import OPTIMISED, ROOT, compile_bytecode, sidecar_policy

CACHED_ROUTE = "  - name: bench\n    cache: {enabled: true, cacheable: always, ttl_s: 3600}\n"

# (module under sidecar/, a piece of the line's text, the stamp's name, "before" or "after" that line)
POINTS = [
    ("server/routes.py", 'expects = "Expect" in request.headers', "A0 routes.__call__", "before"),
    ("server/handler.py", "policy = state.holder.policy", "A1 proxy start", "before"),
    ("server/handler.py", "exchange.answer_first = True", "A2 exchange built", "after"),
    (
        "server/pipeline.py",
        '    if not raw:\n        raise RequestFailed(400, "the request body is empty',
        "A3 body read",
        "before",
    ),
    ("server/pipeline.py", "    exchange.trace.request_parsed(\n", "A4 facts read", "after"),
    ("server/pipeline.py", "    choose_route(exchange)\n", "A5 route chosen", "after"),
    ("server/fallback.py", "run = ChainRun(exchange, settings", "A6 walk start", "after"),
    ("server/target_tries.py", "hedged = False\n", "A7 candidate ready", "before"),
    (
        "server/calls.py",
        "started = time.monotonic()\n        exchange.calls += 1",
        "A8 call: permit slot attempt-trace",
        "before",
    ),
    ("server/attempt.py", "loop = self.client.loop", "A9 upstream headers", "before"),
    ("server/attempt.py", "response = await self.client.post(", "A10 deadline made", "before"),
    ("upstream/client.py", "bound_lookup_by(timeouts.connect_s)", "A11 client.post route", "after"),
    (
        "deadline.py",
        "        self._handle = loop.call_at(tick / TICKS_PER_S, self._tick)",
        "X deadline timer set",
        "before",
    ),
    (
        "upstream/client.py",
        "        if timeout.sock_read is not None:\n            connection = response.connection",
        "B0 head received",
        "before",
    ),
    ("server/attempt.py", '            phase = "total"', "B1 post returned", "before"),
    ("server/attempt.py", "body = await response.read()", "B2 body read", "after"),
    (
        "server/attempt.py",
        "        result.response = Response(status=status, body=body, headers=relayed)",
        "B3 judged",
        "after",
    ),
    (
        "server/calls.py",
        "        elapsed = time.monotonic() - started",
        "B4 attempt.run returned (response closed)",
        "before",
    ),
    ("server/calls.py", "        return result\n\n    def _report", "B5 call reported+recorded", "before"),
    (
        "server/target_tries.py",
        "return Step(await deliver(exchange, used, result), hedged=hedged)",
        "B6 delivered",
        "before",
    ),
    ("server/handler.py", "            begun = response.prepared\n", "B7 pipeline returned", "before"),
    ("server/handler.py", "        if not begun:  # a stream was begun", "B8 sidecar headers", "before"),
    ("server/handler.py", "        await response.write_eof()", "B9 begun (head written)", "before"),
    ("server/handler.py", "        await response.write_eof()", "B10 eof written", "after"),
    ("server/handler.py", "    assert response is not None  # None only", "C0 booked", "before"),
    (
        "server/cache_stage.py",
        "        caller_key = app_key(facts.headers, exchange.request.query) if plan.passthrough",
        "H-a directive",
        "before",
    ),
    ("server/cache_stage.py", "        key = decision.key\n", "H-b key", "before"),
    ("server/cache_stage.py", "            entry = lookup.entry\n", "H-c lookup", "before"),
    (
        "server/cache_stage.py",
        '    return web.Response(body=store.answer(key, entry, exchange.facts.dialect, "body", body), content_type',
        "H-d served_from_cache",
        "before",
    ),
    ("server/handler.py", "            with trace:  # log lines written", "D1 before with", "before"),
    ("server/handler.py", "                response = await pipeline(exchange)", "D2 in with", "before"),
    (
        "server/pipeline.py",
        "        request = exchange.request\n        length = request.content_length",
        "D3 read stage entered",
        "before",
    ),
    (
        "server/pipeline.py",
        "        if length is not None and length > max_body:\n            raise too_large()  # not read",
        "D4 content length",
        "before",
    ),
    ("server/attempt.py", "        relay = self._relayed  # an instance", "J1b judge entered", "before"),
    ("server/attempt.py", "        relayed = headers_without_key(", "J1 relayed headers", "after"),
    ("server/attempt.py", "            parsed = orjson.loads(body)", "J2 loaded", "after"),
    (
        "server/attempt.py",
        "        upstream = registry.wire(wire)\n        keys = upstream.answer_keys or _ANY_ANSWER",
        "J3 too_deep checked",
        "before",
    ),
    (
        "server/attempt.py",
        '        relayed["content-type"] = response.headers.get(',
        "J6 answered: usage model id",
        "before",
    ),
    (
        "server/attempt.py",
        "        result.response = Response(status=status, body=body, headers=relayed)",
        "J7 before Response",
        "before",
    ),
    ("server/calls.py", "        self._report(state, permit, result, elapsed)", "R1 reported", "after"),
    (
        "server/calls.py",
        "        exchange.record(\n            AttemptRecord(\n                target.name,\n"
        '                target.provider.name,\n                "ok"',
        "R2 trace finished",
        "before",
    ),
    (
        "server/handler.py",
        "                add_sidecar_headers(answer_headers, exchange)",
        "H1 headers added",
        "after",
    ),
    ("server/routes.py", "        await response.prepare(request)  # here, not after", "P1 prepared", "after"),
    ("server/routes.py", "    if response.prepared:\n        return response\n    try:", "P0 begin entered", "before"),
    (
        "server/target_tries.py",
        "        candidate = self._calls.candidate(exchange, target, run.settings, not rest, run.untranslatable)",
        "C1 candidate",
        "after",
    ),
    (
        "server/calls.py",
        "            prepared = prepare(exchange, target, exchange.route.settings.unsupported_params)",
        "C2 prepared",
        "after",
    ),
    ("server/calls.py", "        recorded = exchange.trace.span is not None  # the span", "K1 permit+slot", "before"),
    (
        "server/attempt.py",
        "headers = sent(request.headers, provider,",  # a function before wave 24, then a method, now ``sent``
        "U1 upstream_headers",
        "after",
    ),
    (
        "server/handler.py",
        "    facts = RequestFacts(endpoint.dialect, endpoint.operation,",
        "E1 request started",
        "before",
    ),
    ("server/handler.py", "    exchange = Exchange(request, endpoint, policy, getrandbits", "E2 facts", "before"),
    ("server/pipeline.py", "    exchange.raw = raw\n", "Q2 json loaded+checked", "before"),
    ("server/pipeline.py", "    exchange.facts = facts\n", "Q3 request facts read", "before"),
]

STAMPS_MODULE = """import atexit, json, os, time
STAMPS = []
def S(name, _add=STAMPS.append, _now=time.perf_counter_ns):
    _add((name, _now()))
def _dump():
    with open(os.environ["SIDECAR_BENCH_STAMPS"], "w") as out:
        json.dump(STAMPS, out)
atexit.register(_dump)
"""


def stamped_copy(package: Path, dest: Path) -> list[str]:
    """``package`` (a ``sidecar`` directory) copied under ``dest`` with the stamps put in; the points left out."""
    shutil.copytree(package, dest / "sidecar", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "sidecar/_stamps.py").write_text(STAMPS_MODULE)
    missing = []
    for module, text, name, where in POINTS:
        path = dest / "sidecar" / module
        source = path.read_text() if path.is_file() else ""  # a module moved since: its points left out
        if source.count(text) != 1:
            missing.append(name)
            continue
        start = source.rfind("\n", 0, source.index(text)) + 1
        indent = re.match(r"\s*", source[start:])[0]  # type: ignore[index]
        stamp = f"{indent}__import__('sidecar._stamps')._stamps.S({name!r})\n"
        if where == "after":  # after the statement the text begins: its brackets closed
            end = source.index("\n", source.index(text) + len(text.rstrip("\n"))) + 1
            while source[start:end].count("(") > source[start:end].count(")"):
                end = source.index("\n", end) + 1
            start = end
        path.write_text(source[:start] + stamp + source[start:])
    return missing


def baseline_package(ref: str, workdir: Path) -> Path:
    target = workdir / f"src-{ref}"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "sidecar"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "sidecar"


def post(sock: socket.socket, request: bytes) -> tuple[int, int]:
    """One request on ``sock``: (t0, t3)."""
    sent = time.perf_counter_ns()
    sock.sendall(request)
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0:
        data += sock.recv(65536)
    length = int(data[:end].lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(data) < end + 4 + length:
        data += sock.recv(65536)
    return sent, time.perf_counter_ns()


def stretches(stamps: list[list[object]], ends: list[tuple[int, int]]) -> dict[str, list[float]]:
    """Each stretch's durations (us) over the proxied requests (the readiness probe's stamps left out)."""
    requests: list[list[tuple[str, int]]] = []
    for name, at in stamps:
        assert isinstance(name, str) and isinstance(at, int)
        if name.startswith("A0"):
            requests.append([])
        if requests:
            requests[-1].append((name, at))
    requests = [r for r in requests if any(name.startswith("A1") for name, _ in r)]
    assert len(requests) == len(ends), (len(requests), len(ends))
    found: dict[str, list[float]] = {}
    for (t0, t3), points in list(zip(ends, requests, strict=True))[200:]:
        marks = [("client sent", t0), *points, ("client got all", t3)]
        for (one, at), (two, then) in pairwise(marks):
            found.setdefault(f"{one} -> {two}", []).append((then - at) / 1000)
        named = dict(points)
        if "A11 client.post route" in named and "B0 head received" in named:
            before = named["A11 client.post route"] - named["A0 routes.__call__"]
            found.setdefault("(a) A0 -> A11: before the upstream client", []).append(before / 1000)
            after = named["B10 eof written"] - named["B0 head received"]
            found.setdefault("(b) B0 -> B10: head received -> end written", []).append(after / 1000)
        found.setdefault("A0 -> B10: request taken -> end written", []).append(
            (named["B10 eof written"] - named["A0 routes.__call__"]) / 1000
        )
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--baseline", help="also the sidecar at this git revision, stamped the same way")
    parser.add_argument("--cache-hit", action="store_true", help="the bench route cached in memory: every answer a hit")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="path-stamps-"))
    trees = {"this tree": ROOT / "sidecar"}
    if args.baseline:
        trees[args.baseline] = baseline_package(args.baseline, workdir)
    with nginx_running(workdir) as upstream:
        policy = sidecar_policy(workdir, upstream, "chain")
        if args.cache_hit:
            policy.write_text(policy.read_text().replace("  - name: bench\n", CACHED_ROUTE, 1))
        request = (
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {len(REQUEST)}\r\n\r\n{REQUEST}"
        ).encode()
        procs, socks, files = {}, {}, {}
        try:
            for index, (name, package) in enumerate(trees.items()):
                code = workdir / f"stamped-{index}"
                missing = stamped_copy(package, code)
                if missing:
                    print(f"{name}: points not found, left out: {', '.join(missing)}")
                compile_bytecode(code)
                files[name] = workdir / f"stamps-{index}.json"
                ports = workdir / f"{index}.ports"
                env = {**os.environ, "SIDECAR_LOG_LEVEL": "info", "PYTHONPATH": str(code)}
                env |= {"SIDECAR_BENCH_STAMPS": str(files[name]), "PYTHONHASHSEED": "0"}
                command = [sys.executable, *OPTIMISED, "--policy", str(policy), *port_zero(ports)]
                procs[name] = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, cwd=code)
                port = wait_port(ports, procs[name])
                wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120)
                socks[name] = socket.create_connection(("127.0.0.1", port))
                socks[name].setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ends: dict[str, list[tuple[int, int]]] = {name: [] for name in trees}
            order, shuffle = list(trees), random.Random(0).shuffle
            for _ in range(args.requests):
                shuffle(order)
                for name in order:
                    ends[name].append(post(socks[name], request))
        finally:
            for name, proc in procs.items():
                socks[name].close()
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
    found = {name: stretches(json.loads(files[name].read_text()), ends[name]) for name in trees}
    options = f"{f' --baseline {args.baseline}' if args.baseline else ''}{' --cache-hit' if args.cache_hit else ''}"
    print(
        f"Command: `python bench/path_stamps.py --requests {args.requests}{options}` "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load {os.getloadavg()[0]:.1f})\n"
    )
    print("| stretch | " + " | ".join(f"{name} p50 (us)" for name in trees) + " |")
    print("|---|" + "---|" * len(trees))
    names = list(dict.fromkeys(key for each in found.values() for key in each))
    for key in names:
        cells = [f"{statistics.median(found[name][key]):.2f}" if key in found[name] else "" for name in trees]
        print(f"| {key} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
