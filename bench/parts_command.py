"""The command line the bench/*_parts.py scripts share, and how they count a run's instructions.

    python bench/<name>_parts.py [--few N] [--many N] [--baseline REF]

Each script runs itself under ``valgrind --tool=cachegrind`` (``valgrind_script``) with the hidden
``--run`` (its work, in process) for ``--few`` and then ``--many`` operations: the difference of the
totals over the difference of the counts is one operation's share. ``--baseline REF``: the same again
with the ``sidecar`` package of git revision REF (extracted to a temporary directory). ``parts_main`` is
the whole ``main`` of a script whose ``--run N`` does N operations (bench/cache_hit_parts.py,
bench/request_telemetry_parts.py); a script with its own table (bench/cache_miss_parts.py) uses
``parts_arguments`` and ``measured_code``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from instructions import instruction_total
from sidecar_under_test import checkout


def valgrind_script(script: str, arguments: list[str], code: Path | None) -> int:
    """Instructions of ``python script *arguments`` under cachegrind (``code``: a checkout whose
    ``sidecar`` package it imports; None: this one)."""
    env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
    out = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
         sys.executable, script, *arguments],
        capture_output=True, text=True, check=True, env=env,
    )  # fmt: skip
    return instruction_total(out.stderr, f"valgrind's output: {out.stderr[-2000:]}")


def parts_arguments(few: int, many: int, run_values: int = 1) -> argparse.Namespace:
    """The command line: ``--few``, ``--many`` (with these defaults), ``--baseline``, and the hidden
    ``--run`` (``run_values`` values: an int when one, else strings)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--few", type=int, default=few)
    parser.add_argument("--many", type=int, default=many)
    parser.add_argument("--baseline", help="also measure this git revision's package")
    if run_values == 1:
        parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    else:
        parser.add_argument("--run", nargs=run_values, help=argparse.SUPPRESS)
    return parser.parse_args()


def measured_code(script: str, args: argparse.Namespace) -> list[tuple[str, Path | None]]:
    """The packages to measure, each with its label (this checkout's; ``--baseline``'s, extracted), once
    the command has been printed (with the time, for docs/benchmarks.md)."""
    name = Path(script).name
    codes: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline:
        workdir = Path(tempfile.mkdtemp(prefix=f"{Path(script).stem}-"))
        codes.append((args.baseline, checkout(args.baseline, workdir)))
    command = f"python bench/{name} --few {args.few} --many {args.many}"
    print(f"Command: `{command}{f' --baseline {args.baseline}' if args.baseline else ''}` ({time.strftime('%H:%M')})")
    return codes


def parts_main(script: str, run: Callable[[int], None], measured: str, few: int = 1000, many: int = 11000) -> int:
    """``main`` of a script whose ``--run N`` does ``run(N)``: one table row per package measured, the
    instructions of one operation (``measured``: what they are)."""
    args = parts_arguments(few, many)
    if args.run is not None:
        run(args.run)
        return 0
    for label, code in measured_code(script, args):
        few_total = valgrind_script(script, ["--run", str(args.few)], code)
        many_total = valgrind_script(script, ["--run", str(args.many)], code)
        print(f"| {label} | {measured} | {(many_total - few_total) / (args.many - args.few):,.0f} |")
    return 0
