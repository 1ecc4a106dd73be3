"""sidecar.extensions: the compiled twins are built, used, and turned off by SIDECAR_NO_EXTENSIONS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sidecar import extensions

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
from sidecar import extensions
from sidecar.telemetry.otlp_encode import SpanEncoder
from sidecar.translate import usage
built = [extensions.built(name) is not None for name in extensions.MODULES]
print(SpanEncoder().compiled, usage._compiled is not None, built)
"""


def probe(env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def test_every_extension_is_built() -> None:
    """`make test`'s install built both C modules (a C compiler and Python's headers are needed)."""
    missing = [name for name in extensions.MODULES if extensions.built(name) is None]
    assert not missing, f"not built: {missing}; install gcc, then `make clean test`"


def test_setup_py_builds_every_extension() -> None:
    """setup.py declares each module of extensions.MODULES (and its source file exists)."""
    setup = (ROOT / "setup.py").read_text()
    for name in extensions.MODULES:
        assert f'"{name}"' in setup
        assert (ROOT / f"{name.replace('.', '/')}.c").is_file()


def test_a_sidecar_uses_its_extensions_by_default() -> None:
    """With SIDECAR_NO_EXTENSIONS unset the span encoder and the parameter reader are the compiled ones."""
    assert probe({}) == "True True [True, True]"


@pytest.mark.parametrize("value", ["1", "true", " YES ", "on"])
def test_sidecar_no_extensions_turns_them_off(value: str) -> None:
    """SIDECAR_NO_EXTENSIONS set to a true value: the pure-Python twins are used, though the modules are
    built."""
    assert probe({"SIDECAR_NO_EXTENSIONS": value}) == "False False [True, True]"


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_other_values_leave_them_on(value: str) -> None:
    """An empty or false value keeps the compiled twins."""
    assert probe({"SIDECAR_NO_EXTENSIONS": value}) == "True True [True, True]"
