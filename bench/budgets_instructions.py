"""CPU instructions per request that budget limits add, counted by valgrind (the shared machine's load
cannot blur them), through the real sidecar; and what that is in time on this machine.

    python bench/budgets_instructions.py [--few 100] [--many 400] [--variants none,one,five]
                                         [--baseline REF] [--ready-timeout 600]

Variants (``bench/instructions.py``'s method: each target serves ``--few`` and then ``--many``
sequential requests under ``valgrind --tool=cachegrind``; the difference of the totals over the
difference of the counts is one request): the bench policy without budgets (``none``), with one limit
(``one``: requests per minute, global), and with the five limits of ``budgets_proxy_bench.py``
(``five``, local store). The request is ``instructions.py``'s (no caller key, no ``x-team``: those two
limits count it under ``-``). ``--baseline REF`` runs the same variants on the ``sidecar`` package of
git revision ``REF`` too (extracted to a temporary directory), in the same run. Every sidecar listens on
port 0 and says where in a ports file (bench/listening.py), so ``REF`` must have ``--ports-file``
(92b4fef, 2026-12-04, or later).

Instructions per second: the ``none`` sidecar also serves ``--calibrate`` requests natively (no
valgrind) while its CPU time is read from /proc; its instructions per request over its CPU seconds per
request is this machine's rate for this very code, which converts the added instructions to
microseconds of CPU (on a loaded machine the rate is lower: cache and core sharing).

Needs valgrind and nginx.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from budgets_proxy_bench import LIMITS
from instructions import count
from listening import start_with_ports_file
from measuring import REQUEST, cpu_s, tools_present, wait_http
from nginx_upstream import nginx_running
from sidecar_under_test import checkout, sidecar_command, sidecar_policy

ONE = "\nbudgets:\n  limits:\n    - {name: rpm, measure: requests, amount: 1000000000, window: minute}\n"
VARIANTS = {"none": "", "one": ONE, "five": LIMITS.replace("STORE", "store: local")}
NAMES = {"none": "no budgets", "one": "one limit (requests per minute, global)", "five": "five limits (local store)"}


def code_command(command: list[str], code: Path | None) -> list[str]:
    """``command`` (``python -m sidecar ...``) running the ``sidecar`` package found in ``code`` first."""
    if code is None:
        return command
    boot = f"import runpy, sys; sys.path.insert(0, {str(code)!r}); runpy.run_module('sidecar', run_name='__main__')"
    at = command.index("-m")  # the interpreter's own options (-OO, -P) kept before it
    return [command[0], *command[1:at], "-c", boot, *command[at + 2 :]]


def calibrate(command: list[str], env: dict[str, str], ports_file: Path, requests: int) -> float:
    """CPU seconds per request of ``command`` (listening on port 0, writing ``ports_file``) serving
    ``requests`` sequential requests (after 200)."""
    proc, port = start_with_ports_file(
        command, ports_file, 120, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def serve(n: int) -> None:
            for _ in range(n):
                connection.request("POST", "/v1/chat/completions", REQUEST, {"Content-Type": "application/json"})
                connection.getresponse().read()

        serve(200)
        before = cpu_s(proc.pid)
        serve(requests)
        return (cpu_s(proc.pid) - before) / requests
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--many", type=int, default=400)
    parser.add_argument("--variants", default="none,one,five")
    parser.add_argument("--baseline", default=None, help="also run the variants on this git revision")
    parser.add_argument("--calibrate", type=int, default=3000, help="native requests for the instruction rate")
    parser.add_argument("--ready-timeout", type=float, default=600, help="seconds for a sidecar under valgrind")
    args = parser.parse_args()
    if not tools_present("nginx", "valgrind"):
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        codes: dict[str, Path | None] = {"this tree": None}
        if args.baseline:
            codes[args.baseline] = checkout(args.baseline, workdir)
        results: dict[tuple[str, str], float] = {}
        rate = 0.0
        with nginx_running(workdir) as upstream:
            base = sidecar_policy(workdir, upstream, "single").read_text()
            for variant in args.variants.split(","):
                policy = workdir / f"policy-{variant}.yaml"
                policy.write_text(base + VARIANTS[variant])
                for label, code in codes.items():
                    port = workdir / f"{variant}-{label.replace(' ', '-')}.ports"
                    command, env = sidecar_command(policy, port, {"SIDECAR_LOG_LEVEL": "info"})
                    command = code_command(command, code)
                    few = count(command, port, "/readyz", args.few, env, workdir, ready_timeout_s=args.ready_timeout)
                    many = count(command, port, "/readyz", args.many, env, workdir, ready_timeout_s=args.ready_timeout)
                    results[(variant, label)] = (many - few) / (args.many - args.few)
                    if variant == "none" and code is None and args.calibrate:
                        port = workdir / "calibrate.ports"
                        command, env = sidecar_command(policy, port, {"SIDECAR_LOG_LEVEL": "info"})
                        rate = results[(variant, label)] / calibrate(command, env, port, args.calibrate)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    extra = f" --baseline {args.baseline}" if args.baseline else ""
    print(
        f"Command: `python bench/budgets_instructions.py --few {args.few} --many {args.many} "
        f"--variants {args.variants}{extra}` ({stamp}, load average {os.getloadavg()[0]:.1f})"
    )
    if rate:
        print(f"\nInstruction rate of the no-budgets sidecar, natively: {rate / 1e9:.2f} G instructions per CPU second")
    print("\n| code | sidecar | instructions per request | added | ratio | added CPU at that rate |")
    print("|---|---|---|---|---|---|")
    for label in codes:
        floor = results.get(("none", label))
        for variant in args.variants.split(","):
            per = results[(variant, label)]
            added = per - floor if floor else 0.0
            ratio = f"{per / floor:.3f}" if floor else ""
            us = f"{added / rate * 1e6:.1f} us" if rate and floor else ""
            print(f"| {label} | {NAMES[variant]} | {per:,.0f} | {added:+,.0f} | {ratio} | {us} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
