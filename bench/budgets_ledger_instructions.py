"""CPU instructions of one admission + settlement on the real ``Ledger`` (local store), counted by
valgrind, and what that is in microseconds on this machine.

    python bench/budgets_ledger_instructions.py [--few 2000] [--many 12000] [--variants none,five]
                                                [--calibrate 50000]

Each variant runs ``--few`` and then ``--many`` admissions + settlements (``budgets_bench.py``'s request,
chain and usage) in a Python process under ``valgrind --tool=cachegrind``; the difference of the two
totals over the difference of the counts is one admission + settlement (start-up cancels out).
Variants: ``none`` (a ledger with no limits: what the calls themselves cost), ``five`` (the five
limits of ``budgets_bench.py``: USD per day by ``x-team``, tokens per minute by app, requests per
minute global, USD per month per key, a provider's tokens-per-minute quota) and ``plain`` (the same
five limits on the request path's own form: ``Ledger.admit_plain`` + ``PlainAdmission.charge_plain``,
no coroutine; the estimate is given, not computed).

The rate: the same loop with five limits runs ``--calibrate`` times natively and its CPU time
(``time.process_time``) gives this code's instructions per CPU second on this machine now; the added
instructions are converted to microseconds at that rate. Not a timed test: the count is the measure.

Needs valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from budgets_bench import FIVE_LIMITS, REQUEST, USAGE, ledger_for
from instructions import instruction_total

from sidecar.budgets import Ledger
from sidecar.budgets.lane import Lane

HERE = Path(__file__).resolve()


async def run(variant: str, n: int) -> float:
    """CPU seconds of ``n`` admissions + settlements (after 200 to warm the counters)."""
    ledger = ledger_for([] if variant == "none" else FIVE_LIMITS)
    chain = [ledger.budgets.target("gpt")]
    if variant == "plain":
        return plain(ledger, ledger.lane(chain), n)
    for _ in range(200):
        admission = await ledger.admit(REQUEST, chain)
        await admission.settle(USAGE)
    started = time.process_time()
    for _ in range(n):
        admission = await ledger.admit(REQUEST, chain)
        await admission.settle(USAGE)
    return time.process_time() - started


def plain(ledger: Ledger, lane: Lane, n: int) -> float:
    """``run`` on the request path's form: ``admit_plain`` + ``charge_plain`` (no coroutine)."""
    request = REQUEST
    fields = (request.app, request.route, request.key_hash, request.headers)

    def once() -> None:
        admission = ledger.admit_plain(lane, request.input_tokens, request.max_output_tokens, *fields)
        assert admission is not None
        admission.charge_plain(USAGE, lane)

    for _ in range(200):
        once()
    started = time.process_time()
    for _ in range(n):
        once()
    return time.process_time() - started


def instructions(variant: str, n: int, workdir: Path) -> int:
    """Total instructions of a child process running ``n`` admissions + settlements."""
    out = workdir / f"cachegrind-{variant}-{n}.txt"
    command = [sys.executable, str(HERE), "--child", variant, str(n)]
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    with out.open("w") as stderr:
        subprocess.run([*valgrind, *command], stderr=stderr, stdout=subprocess.DEVNULL, check=True)
    return instruction_total(out.read_text(), str(out))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=2000)
    parser.add_argument("--many", type=int, default=12000)
    parser.add_argument("--variants", default="none,five")
    parser.add_argument("--calibrate", type=int, default=50_000)
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(run(args.child[0], int(args.child[1])))
        return 0
    per: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants.split(","):
            few = instructions(variant, args.few, Path(tmp))
            many = instructions(variant, args.many, Path(tmp))
            per[variant] = (many - few) / (args.many - args.few)
    rate = 0.0
    if "five" in per and args.calibrate:
        rate = per["five"] / (asyncio.run(run("five", args.calibrate)) / args.calibrate)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    print(
        f"Command: `python bench/budgets_ledger_instructions.py --few {args.few} --many {args.many} "
        f"--variants {args.variants}` ({stamp}, load average {os.getloadavg()[0]:.1f})"
    )
    if rate:
        print(f"\nRate of the five-limit loop, natively: {rate / 1e9:.2f} G instructions per CPU second")
    print("\n| ledger | instructions per admission + settlement | added | added CPU at that rate |")
    print("|---|---|---|---|")
    floor = per.get("none")
    for variant, count in per.items():
        added = count - floor if floor is not None else 0.0
        us = f"{added / rate * 1e6:.1f} us" if rate and floor is not None else ""
        print(f"| {variant} | {count:,.0f} | {added:+,.0f} | {us} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
