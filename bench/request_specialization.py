"""Which sites of a request's Python frames stay unspecialized under Python 3.11's adaptive interpreter?

Python 3.11 rewrites a frame's instructions as it runs them (PEP 659): ``LOAD_ATTR`` becomes
``LOAD_ATTR_SLOT`` or ``LOAD_ATTR_INSTANCE_VALUE`` for the one class it meets, ``CALL`` a
``CALL_PY_EXACT_ARGS``... A site that meets several classes, or a shape the specializer does not handle
(a class attribute read through an instance, a property, a ``__getattr__``), stays ``*_ADAPTIVE``: the
generic path, several times the instructions of a specialized one, and a counter it keeps backing off.

This serves the bench's chat request in one process (nginx behind; ``--target sidecar``: a whole sidecar
built from the bench policy as ``llm-sidecar run`` builds it, heap frozen; ``--target minimal``:
bench/minimal_proxy.py's handler, ``minimal_proxy.proxy_app``), sends ``--warm`` requests through it,
then ``--profiled`` more with a profile hook that counts the Python frames each request calls, then
reads every called frame's instructions as they are now (``dis.get_instructions(adaptive=True)``). It
prints, per request: frames called, instructions of theirs quickened, specialized and left generic
(``*_ADAPTIVE`` with a counter backing off: run, and the specializer failed; one whose counter is 0 never
ran), each weighted by its frame's calls a request (a frame's sites counted once a call, whatever its loops
or branches run; a coroutine's every resume is a call to the profile hook, so its sites count once a
resume); the generic attribute reads by name and module; and the frames with the most generic sites a
request, with each site's opcode, line and name. The process runs as this command was started (the
image's ``-OO``, which drops the asserts' sites, only when given to it).

    python bench/request_specialization.py [--target sidecar|minimal] [--warm 500] [--profiled 200] [--top 25]

Needs `apt-get install nginx-light`. Instructions' shapes, not time: steady whatever the load.
"""

from __future__ import annotations

import argparse
import asyncio
import dis
import gc
import os
import sys
import tempfile
import types
from collections import Counter
from pathlib import Path

from measuring import REQUEST, tools_present
from minimal_proxy import proxy_app
from nginx_upstream import nginx_running
from sidecar_under_test import sidecar_policy

SPECIALIZED = frozenset(dis._specialized_instructions)  # type: ignore[attr-defined]  # 3.11: the quickened names


async def start(target: str, upstream: int, workdir: Path) -> int:
    """Start ``target`` listening on a free port in this loop; its port."""
    if target == "sidecar":
        from sidecar import __version__
        from sidecar.policy.load import load_policy
        from sidecar.server.app import build_state, start_app
        from sidecar.server.lifecycle import settle_heap
        from sidecar.settings import Settings
        from sidecar.telemetry import Telemetry
        from sidecar.telemetry.logging import configure_logging

        policy = str(sidecar_policy(workdir, upstream, "chain"))
        settings = Settings.from_env({**os.environ, "SIDECAR_LOG_LEVEL": "info"}, policy_path=policy)
        from sidecar.telemetry.log_pipe import LogPipe

        # the access lines through a ``LogPipe`` as stdout's are, to /dev/null (this process prints the table)
        log_output = configure_logging(settings.log_level, stream=LogPipe(os.open(os.devnull, os.O_WRONLY)))
        telemetry = Telemetry.from_env(os.environ, service_version=__version__)
        state = build_state(settings, load_policy(policy), telemetry, os.environ, log_output)
        _, server = await start_app(state, "127.0.0.1", 0, connect_stores=False)
        state.listening = True
        settle_heap()
        return server.port
    from aiohttp import web

    runner = web.AppRunner(proxy_app(f"http://127.0.0.1:{upstream}"), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return int(runner.addresses[0][1])


async def requests(port: int, count: int) -> None:
    """``count`` chat requests, one at a time on one kept-alive connection (raw HTTP/1.1: no client library
    frames of this process's own beside the server's, but for asyncio's streams)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer sk-bench\r\nContent-Length: {len(REQUEST)}\r\n\r\n"
    ).encode()
    for _ in range(count):
        writer.write(head + REQUEST.encode())
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
    writer.close()


def adaptive_sites(code: types.CodeType) -> tuple[int, int, list[tuple[str, str]]]:
    """``code``'s instructions now: how many are quickened names, how many specialized, and its sites left
    generic (opcode, line and name read): ``*_ADAPTIVE`` with a counter that is not 0 (run, the specializer
    failed, it backs off). An ``*_ADAPTIVE`` site whose counter is 0 was never run (a branch not taken): not
    counted as generic."""
    specialized = 0
    left = []
    quickened = 0
    raw = code._co_code_adaptive  # type: ignore[attr-defined]  # 3.11: the instructions as quickened
    for instruction in dis.get_instructions(code, adaptive=True):
        name = instruction.opname
        if name in SPECIALIZED:
            quickened += 1
            if not name.endswith("_ADAPTIVE"):
                specialized += 1
            elif int.from_bytes(raw[instruction.offset + 2 : instruction.offset + 4], "little"):  # the counter
                line = instruction.positions.lineno if instruction.positions else None
                left.append(
                    (name, f"{line}" + (f".{instruction.argval}" if isinstance(instruction.argval, str) else ""))
                )
    return quickened, specialized, left


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="sidecar-specialization-"))
    with nginx_running(workdir) as upstream:
        port = await start(args.target, upstream, workdir)
        await requests(port, args.warm)
        calls: Counter[types.CodeType] = Counter()

        def profile(frame: types.FrameType, event: str, _arg: object) -> None:
            if event == "call":
                calls[frame.f_code] += 1

        gc.collect()
        sys.setprofile(profile)
        await requests(port, args.profiled)  # the loop's thread only: the hook is per thread
        sys.setprofile(None)
        mine = {requests.__code__, profile.__code__, run.__code__}
        totals = Counter[str]()
        rows = []
        for code, called in calls.items():
            if code in mine or "/asyncio/streams.py" in code.co_filename:  # the load's own frames
                continue
            per_request = called / args.profiled
            quickened, specialized, left = adaptive_sites(code)
            totals["frames"] += 1
            totals["calls"] += called
            totals["quickened"] += quickened * called
            totals["specialized"] += specialized * called
            totals["adaptive"] += len(left) * called
            if left:
                where = f"{Path(code.co_filename).parent.name}/{Path(code.co_filename).name}:{code.co_firstlineno}"
                rows.append((len(left) * per_request, per_request, code.co_qualname, where, left))
        n = args.profiled
        print(f"target {args.target}: {args.warm} requests to warm, {n} profiled (Python {sys.version.split()[0]})")
        print(
            f"frames called: {totals['frames']}, calls a request {totals['calls'] / n:.1f}; per request, each frame's "
            f"sites once a call: quickened {totals['quickened'] / n:,.0f}, specialized {totals['specialized'] / n:,.0f}"
            f", left generic (run, not specialized) {totals['adaptive'] / n:,.0f}\n"
        )
        names: Counter[str] = Counter()
        for _, per_request, _, where, left in rows:
            for op, site in left:
                if "." in site and op.startswith(("LOAD_ATTR", "LOAD_METHOD", "STORE_ATTR")):
                    names[f"{op.removesuffix('_ADAPTIVE')} .{site.split('.', 1)[1]} ({where.split(':')[0]})"] += (
                        per_request
                    )
        print("Generic attribute sites by name and module, a request:", end=" ")
        print("; ".join(f"{name} {count:.0f}" for name, count in names.most_common(args.top)) + "\n")
        print("| adaptive sites a request | calls a request | frame | where | sites (opcode@line.name) |")
        print("|---|---|---|---|---|")
        for weight, per_request, name, where, left in sorted(rows, key=lambda row: -row[0])[: args.top]:
            sites = ", ".join(f"{op.removesuffix('_ADAPTIVE')}@{line}" for op, line in left)
            print(f"| {weight:.1f} | {per_request:.2f} | {name} | {where} | {sites} |")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", choices=("sidecar", "minimal"), default="sidecar")
    parser.add_argument("--warm", type=int, default=500)
    parser.add_argument("--profiled", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if not tools_present("nginx"):
        return 2
    import uvloop

    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
