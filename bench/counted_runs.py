"""Instructions a bench counts in its own process, under valgrind, and the table pairing trees.

A bench that counts one piece of the sidecar in process (translate_event_instructions.py,
translate_instructions.py) runs itself again with ``--run ...`` under ``valgrind --tool=cachegrind``
(``count``), once for ``--few`` and once for ``--many`` units; the difference of the two totals divided
by the difference of the counts is one unit's cost, start-up cancelled out (``rows``). ``trees``: this
tree, and with a baseline the ``sidecar`` package at that revision (``sidecar_under_test.checkout``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from instructions import instruction_total
from sidecar_under_test import checkout

BENCH = Path(__file__).resolve().parent
VALGRIND = ("valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null")


def count(script: str, code: Path, *run: str) -> int:
    """Instructions of ``python script --run *run`` with the package in ``code`` (bench/ on the path too)."""
    result = subprocess.run(
        [*VALGRIND, sys.executable, script, "--run", *run],
        env={**os.environ, "PYTHONPATH": os.pathsep.join((str(code), str(BENCH))), "PYTHONHASHSEED": "0"},
        cwd=code,
        capture_output=True,
        text=True,
        check=True,
    )
    return instruction_total(result.stderr, f"valgrind's output: {result.stderr[-2000:]}")


def trees(baseline: str) -> list[tuple[str, Path]]:
    """This tree, and the ``sidecar`` package at revision ``baseline`` when one is given."""
    found = [("this tree", BENCH.parent)]
    if baseline:
        found.append((baseline, checkout(baseline, Path(tempfile.mkdtemp(prefix="sidecar-counted-")))))
    return found


def rows(
    pairs: list[str],
    baseline: str,
    few: int,
    many: int,
    counted: Callable[[Path, str, int], int],
) -> list[str]:
    """One table row per pair and tree (``trees``): the instructions per unit (``counted(code, pair,
    units)``), and the change against the baseline."""
    found = trees(baseline)
    lines = []
    for pair in pairs:
        per = {name: (counted(code, pair, many) - counted(code, pair, few)) / (many - few) for name, code in found}
        for name, value in per.items():
            ratio = f"{value / per[baseline] - 1:+.1%}" if baseline and name != baseline else ""
            lines.append(f"| {pair} | {name} | {value:,.0f} | {ratio} |")
    return lines


def report(script: str, first_column: str, unit: str, names: list[str], baseline: str, few: int, many: int) -> str:
    """What a counting bench prints: its command line and time, then ``rows`` of ``names`` (each counted
    by ``python script --run NAME N``) under the columns ``first_column``, tree, instructions per ``unit``."""
    lines = [
        f"Command: `python bench/{Path(script).name} {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        f"| {first_column} | sidecar | instructions per {unit} | vs baseline |",
        "|---|---|---|---|",
        *rows(names, baseline, few, many, lambda code, name, n: count(script, code, name, str(n))),
    ]
    return "\n".join(lines)
