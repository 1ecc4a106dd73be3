"""Python bytecodes per request, per function of the ``sidecar`` package, routed against a plain route.

A real sidecar process (``proxy_bench.py``'s policy of the variant, nginx upstream) serves ``--warm``
requests, then traces ``--requests`` more (``sys.settrace`` with opcode events, switched on and off by
SIGUSR1 between requests, counting only frames whose code is in the ``sidecar`` package); the two
variants' counts per request are diffed per function. Bytecodes are not instructions (a C call such as
``bytes.count`` or a regex search is one bytecode), but they say where the Python work is and they do
not depend on the machine's load.

    python bench/routing_opcodes.py [--warm 100] [--requests 10] [--variants chain,routing] [--top 40] [--everywhere]

``--everywhere`` counts every Python frame, not only the package's: another package's (aiohttp, structlog,
the standard library's ``abc``) named ``~<its path>``, so that what a routed request makes them do shows.
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
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from listening import start_with_ports_file  # noqa: E402
from measuring import REQUEST, wait_http  # noqa: E402
from nginx_upstream import nginx_running  # noqa: E402
from sidecar_under_test import ROOT, sidecar_command, sidecar_policy  # noqa: E402


def traced_main(out: str, argv: list[str]) -> int:
    """Run the sidecar (``argv``), counting bytecodes of the package between two SIGUSR1s into ``out``."""
    counts: collections.Counter[str] = collections.Counter()
    calls: collections.Counter[str] = collections.Counter()
    package = os.sep + "sidecar" + os.sep

    everywhere = os.environ.get("ROUTING_OPCODES_EVERYWHERE") == "1"  # ``--everywhere``

    def tracer(frame: FrameType, event: str, _: Any) -> Any:
        code = frame.f_code
        filename = code.co_filename
        if package in filename:
            where = filename.split(package, 1)[1]
        elif everywhere:  # another package's (aiohttp, the standard library...): named from its package
            where = "~" + filename.rsplit("site-packages" + os.sep, 1)[-1].rsplit("python3.11" + os.sep, 1)[-1]
        else:
            return None
        frame.f_trace_opcodes = True
        key = f"{where}:{code.co_firstlineno} {code.co_name}"
        if event == "call":
            calls[key] += 1
        elif event == "opcode":
            counts[key] += 1
        return tracer

    tracing = [False]

    def toggle(_signum: int, _frame: object) -> None:
        if not tracing[0]:
            tracing[0] = True
            sys.settrace(tracer)
        else:
            sys.settrace(None)
            Path(out).write_text(json.dumps({"opcodes": counts, "calls": calls}))

    signal.signal(signal.SIGUSR1, toggle)
    from sidecar.cli import main

    return main(argv)


def count(variant: str, warm: int, requests: int, work: Path, everywhere: bool = False) -> dict[str, dict[str, int]]:
    out = work / f"opcodes-{variant}.json"
    with nginx_running(work) as upstream:
        ports = work / f"{variant}.ports"
        command, env = sidecar_command(sidecar_policy(work, upstream, variant), ports, {})
        if everywhere:
            env["ROUTING_OPCODES_EVERYWHERE"] = "1"
        # the CLI's arguments (``run --policy ...``): what follows ``-m sidecar``
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--serve",
            str(out),
            *command[command.index("sidecar") + 1 :],
        ]
        proc, port = start_with_ports_file(command, ports, 120, env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
        try:
            wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120)
            client = http.client.HTTPConnection("127.0.0.1", port)

            def send(n: int) -> None:
                for _ in range(n):
                    headers = {"content-type": "application/json", "authorization": "Bearer x"}
                    client.request("POST", "/v1/chat/completions", REQUEST, headers)
                    response = client.getresponse()
                    response.read()
                    assert response.status == 200, response.status

            send(warm)
            for n in (0, requests):  # tracing on, the traced requests, tracing off (the counts written)
                send(n)
                time.sleep(0.3)
                proc.send_signal(signal.SIGUSR1)
            for _ in range(100):
                if out.exists():
                    break
                time.sleep(0.1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    result: dict[str, dict[str, int]] = json.loads(out.read_text())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=100)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--variants", default="chain,routing", help="proxy_bench policy variants: plain,routed")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--everywhere", action="store_true", help="every Python frame (aiohttp's, the standard library's: named ~...)"
    )
    parser.add_argument("--serve", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return traced_main(args.serve[0], args.serve[1:])
    plain_name, routed_name = args.variants.split(",")
    plain, routed = (
        count(v, args.warm, args.requests, Path(tempfile.mkdtemp()), args.everywhere) for v in (plain_name, routed_name)
    )
    n = args.requests
    rows = []
    for key in set(plain["opcodes"]) | set(routed["opcodes"]) | set(plain["calls"]) | set(routed["calls"]):
        opcodes = (routed["opcodes"].get(key, 0) - plain["opcodes"].get(key, 0)) / n
        calls = (routed["calls"].get(key, 0) - plain["calls"].get(key, 0)) / n
        if opcodes or calls:
            rows.append((opcodes, calls, key))
    rows.sort(key=lambda row: -abs(row[0]))
    flag = " --everywhere" if args.everywhere else ""
    print(
        f"Command: `python bench/routing_opcodes.py --warm {args.warm} --requests {n} "
        f"--variants {args.variants}{flag}`\n"
    )
    total_plain = sum(plain["opcodes"].values()) / n
    total = sum(r[0] for r in rows)
    print(f"{plain_name}: {total_plain:,.0f} bytecodes a request in the sidecar package", end="")
    print(f"; {routed_name}: {total:+,.0f}\n")
    print(f"| bytecodes | calls | share | function ({routed_name} - {plain_name}, per request) |\n|---|---|---|---|")
    for opcodes, calls, key in rows[: args.top]:
        print(f"| {opcodes:+,.0f} | {calls:+.0f} | {opcodes / total:.0%} | `{key}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
