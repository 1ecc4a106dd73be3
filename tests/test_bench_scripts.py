"""bench/: every script still imports against the package as it is (a bench is run by hand, so a name
it imports that a refactor moved breaks nobody's test run, only the next measurement)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

SCRIPT = """
import importlib, sys
sys.argv = ["bench"]  # a script that reads its arguments at import reads none
failed = []
for name in sys.stdin.read().split():
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"bench/{name}.py: {exc!r}")
print("\\n".join(failed))
"""


@pytest.mark.timeout(150)  # its subprocess's own limit (120 s) decides
def test_every_bench_script_imports() -> None:
    """Each bench/*.py imports (as ``python bench/NAME.py`` runs it: bench/ first on the path) without error;
    bench/budgets_stream_tap.py once imported a decoder from where it no longer was."""
    names = sorted(path.stem for path in BENCH.glob("*.py"))
    assert len(names) > 40
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=" ".join(names),
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.timeout(60)
def test_a_baseline_revisions_sidecar_starts_as_the_benches_start_this_trees(tmp_path: Path) -> None:
    """budgets_instructions' ``--baseline``: the command running another revision's package keeps the
    interpreter's options and the sidecar's arguments (it once passed ``-m sidecar`` twice: exit 2)."""
    code = f"""
import json, sys; sys.path.insert(0, {str(BENCH)!r})
from pathlib import Path
from budgets_instructions import code_command
from sidecar_under_test import sidecar_command
command, _ = sidecar_command(Path("policy.yaml"), 8080, {{}})
print(json.dumps(code_command(command, Path({str(tmp_path)!r}))))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50, cwd=BENCH)
    assert result.returncode == 0, result.stderr
    command = json.loads(result.stdout)
    assert command[1:3] == ["-OO", "-P"] and command[3] == "-c"
    assert command[5:] == ["run", "--policy", "policy.yaml", "--port", "8080"]


@pytest.mark.timeout(90)
def test_routing_instructions_runs_every_piece_once() -> None:
    """routing_instructions' ``--pieces``: every piece it counts under valgrind runs on the routing-20
    policy (what its ``--run piece:NAME`` loop calls), so a measurement does not fail after minutes."""
    code = f"""
import sys; sys.path.insert(0, {str(BENCH)!r})
from routing_instructions import PIECES, pieces
made = pieces()
assert tuple(made) == PIECES, (tuple(made), PIECES)
for name in PIECES:
    made[name]()
print(" ".join(PIECES))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=80, cwd=BENCH)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:3] == ["empty", "walk", "estimate"]


@pytest.mark.timeout(90)
def test_routing_instructions_inputs_scale_the_prompt_and_the_classes() -> None:
    """routing_instructions' ``--prompt-scale 3 --classes 40``: the pieces run on a policy of 40 classes
    (routing-20's and ``MORE_CLASSES``) and a request whose messages hold their text three times over."""
    code = f"""
import sys; sys.path.insert(0, {str(BENCH)!r})
import orjson, yaml
from routing_instructions import bench_inputs, pieces
path, sent = bench_inputs(3, 40)
classes = yaml.safe_load(path.read_text())["routing"]["classes"]
user = orjson.loads(sent)["messages"][1]["content"]
made = pieces(3, 40)
made["classify"]()
made["walk"]()
print(len(classes), len(user.split(". ")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=80, cwd=BENCH)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["40", "3"]


@pytest.mark.timeout(90)
def test_tracing_cost_counts_cpu_ticks_not_context_switches() -> None:
    """tracing_cost's CPU per request is a thread's user and system ticks between two ``thread_cpu`` readings,
    whose tuples go on with the thread's context switches: 12 ticks (at 100 a second) over 1,000 requests are
    120 us a request whatever the switches (summed in, its 540 switches made it 5,520 us)."""
    code = f"""
import sys; sys.path.insert(0, {str(BENCH)!r})
from tracing_cost import TICKS_PER_S, cpu_us
before, after = {{7: (100, 10, 0, 0)}}, {{7: (110, 12, 500, 40)}}
print(TICKS_PER_S, round(cpu_us(before, after, 7, 1000.0), 3), round(cpu_us({{}}, after, 7, 1000.0), 3))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=80, cwd=BENCH)
    assert result.returncode == 0, result.stderr
    ticks, per_request, from_start = result.stdout.split()
    assert ticks == "100"  # the test's arithmetic assumes the usual clock tick
    assert (per_request, from_start) == ("120.0", "1220.0")
