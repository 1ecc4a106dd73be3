"""The modules of the layers that import each other (dialects, translate, policy, the request's facts,
credentials, upstream) can each be the first one imported: no import cycle depends on the order."""

from __future__ import annotations

import subprocess
import sys

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
