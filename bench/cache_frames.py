"""What a memory miss adds to a request, by Python function: bytecodes, self and inclusive, on a live sidecar.

``cache_callgrind.py`` maps the miss by C function (instructions); Python 3.11's interpreter runs a Python
function's call inside the caller's C frame, so callgrind cannot name Python functions. This names them: one
sidecar (``cache_path.py``'s policy: a route without a cache and one with a memory cache over the same nginx
upstream) runs under ``sys.settrace`` with opcode events, switched on and off by SIGUSR1 between requests,
counting every Python frame's bytecodes: its own (self) and those of everything it called, coroutines
resumed included (inclusive: a frame's count from its call or resumption to its return or suspension); the
warm-up, then ``--requests`` requests to the route without a cache, then ``--requests`` misses (bodies made
unique by a counter), each kind counted apart. Bytecodes are not instructions (a C call such as
``orjson.dumps`` is one bytecode; the C map prices them), but they say which Python function a miss's work is
in, and they do not depend on the machine's load.

    python bench/cache_frames.py [--warm 200] [--requests 20] [--top 40] [--code DIR]

A function is named ``<file>:<first line> <name>``, the ``sidecar`` package's by its path in the package,
another package's ``~<path>``. ``--code DIR``: the ``sidecar`` package from DIR (a ``git archive`` snapshot).
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cache_path import CACHED_REQUEST, policy, unique  # noqa: E402
from listening import start_with_ports_file  # noqa: E402
from measuring import REQUEST, wait_http  # noqa: E402
from nginx_upstream import nginx_running  # noqa: E402
from sidecar_under_test import ROOT, sidecar_command  # noqa: E402


def traced_main(out: str, argv: list[str]) -> int:
    """Run the sidecar (``argv``); each SIGUSR1 ends a counted phase (its counts written to ``out.N``) and
    starts the next."""
    package = os.sep + "sidecar" + os.sep
    names: dict[Any, str] = {}
    state: dict[str, Any] = {"own": None, "under": None, "phase": 0, "opcodes": 0}
    stack: list[tuple[str, int]] = []

    def name(code: Any) -> str:
        known = names.get(code)
        if known is None:
            filename = code.co_filename
            if package in filename:
                where = filename.split(package, 1)[1]
            else:
                where = "~" + filename.rsplit("site-packages" + os.sep, 1)[-1].rsplit("python3.11" + os.sep, 1)[-1]
            known = names[code] = f"{where}:{code.co_firstlineno} {code.co_name}"
        return known

    def tracer(frame: FrameType, event: str, _: Any) -> Any:
        if event == "opcode":
            state["opcodes"] += 1
            state["own"][stack[-1][0] if stack else "?"] += 1
        elif event == "call":
            frame.f_trace_opcodes = True
            stack.append((name(frame.f_code), state["opcodes"]))
        elif event == "return" and stack:
            key, at = stack.pop()
            state["under"][key] += state["opcodes"] - at
        return tracer

    def toggle(_signum: int, _frame: object) -> None:
        sys.settrace(None)
        if state["own"] is not None:
            Path(f"{out}.{state['phase']}").write_text(json.dumps({"self": state["own"], "inclusive": state["under"]}))
            state["phase"] += 1
        state["own"], state["under"] = collections.Counter(), collections.Counter()
        stack.clear()
        sys.settrace(tracer)

    signal.signal(signal.SIGUSR1, toggle)
    from sidecar.cli import main

    return main(argv)


def counted(args: argparse.Namespace, work: Path) -> list[dict[str, dict[str, int]]]:
    """The counts of the phases: the route without a cache, then the misses."""
    out = work / "frames"
    counter = iter(range(10**9)).__next__
    with nginx_running(work) as upstream:
        ports = work / "sidecar.ports"
        cli, env = sidecar_command(policy(work, "memory", upstream, "{memory: {max_entries: 100000}}"), ports, {})
        if args.code is not None:
            env["PYTHONPATH"] = f"{args.code}{os.pathsep}{env.get('PYTHONPATH', '')}"
        # this script serves, tracing, with the CLI's arguments (what follows ``-m sidecar``)
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", str(out), *cli[cli.index("sidecar") + 1 :]]
        proc, port = start_with_ports_file(
            command, ports, 120, env=env, stdout=subprocess.DEVNULL, cwd=args.code or ROOT
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120)
            client = http.client.HTTPConnection("127.0.0.1", port)

            def send(bodies: Callable[[], str], n: int) -> None:
                for _ in range(n):
                    client.request("POST", "/v1/chat/completions", bodies(), {"content-type": "application/json"})
                    response = client.getresponse()
                    response.read()
                    assert response.status == 200, response.status

            plain, missed = unique(REQUEST, counter), unique(CACHED_REQUEST, counter)
            send(plain, args.warm // 2)
            send(missed, args.warm // 2)
            for bodies in (None, plain, missed):  # each signal ends the phase before (the first: the warm-up)
                if bodies is not None:
                    send(bodies, args.requests)
                time.sleep(0.3)  # the last request's loop callbacks inside its phase
                proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 10  # the last phase's counts written by the signal's handler
            while not Path(f"{out}.1").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            proc.terminate()  # SIGTERM: the sidecar drains and exits
            proc.wait(timeout=60)
    return [json.loads(Path(f"{out}.{phase}").read_text()) for phase in (0, 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--serve", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return traced_main(args.serve[0], args.serve[1:])
    plain, missed = counted(args, Path(tempfile.mkdtemp(prefix="cache-frames-")))
    n = args.requests
    code = f" --code {args.code}" if args.code else ""
    print(f"Command: `python bench/cache_frames.py --warm {args.warm} --requests {n}{code}`\n")
    before = sum(plain["self"].values()) / n
    whole = sum(missed["self"].values()) / n - before
    print(f"bytecodes a request: route without cache {before:,.0f}, a miss adds {whole:+,.0f}\n")
    for kind in ("inclusive", "self"):
        rows = []
        for key in set(plain[kind]) | set(missed[kind]):
            delta = (missed[kind].get(key, 0) - plain[kind].get(key, 0)) / n
            if delta:
                rows.append((delta, key))
        rows.sort(key=lambda row: -abs(row[0]))
        print(f"| bytecodes ({kind}) | function (miss - no cache, per request) |\n|---|---|")
        for delta, key in rows[: args.top]:
            print(f"| {delta:+,.0f} | `{key}` |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
