"""The modules of the layers that import each other (dialects, translate, policy, the request's facts,
credentials, upstream) can each be the first one imported: no import cycle depends on the order. Test
modules import helpers from helper modules, never from another test module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import importlib, pkgutil, sys
import sidecar
LAYERS = ("sidecar.dialects", "sidecar.translate", "sidecar.policy", "sidecar.upstream", "sidecar.request_facts",
          "sidecar.credentials")
names = [m.name for m in pkgutil.walk_packages(sidecar.__path__, "sidecar.") if m.name.startswith(LAYERS)]
failed = []
for name in names:
    for loaded in [k for k in sys.modules if k == "sidecar" or k.startswith("sidecar.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed.append(f"{name}: {exc!r}")
print(len(names))
print("\\n".join(failed))
"""


@pytest.mark.timeout(150)  # its subprocess's own limit (120 s) decides; ~60 modules, each from a cold start
def test_each_module_imports_first_in_a_fresh_interpreter() -> None:
    """Importing any of them before every other module (as a test, a bench or a tool may) works."""
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count, *failures = result.stdout.strip().split("\n")
    assert int(count) > 30
    assert [f for f in failures if f] == []


def test_no_test_module_imports_another() -> None:
    """A helper two test modules share lives in a helper module (tests/sdk_clients.py, tests/routing/rules.py):
    importing a test module would collect its tests' names into the other and tie the two together."""
    tests = Path(__file__).resolve().parent
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and not node.module:
                names = [alias.name for alias in node.names]
            found += [f"{path.relative_to(tests)}: {name}" for name in names if name.split(".")[-1].startswith("test_")]
    assert found == []
