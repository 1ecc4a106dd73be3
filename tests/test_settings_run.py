"""``llm-sidecar run`` with a time setting that is infinite: refused at start, as docs/configuration.md says
of a value that cannot work (exit 2, one line naming the variable).

Before 2026-12-08 ``inf`` was taken: ``SIDECAR_RELOAD_INTERVAL_S=inf`` started a sidecar that never looked
at its policy file again (hot reload off, in silence), ``SIDECAR_DRAIN_TIMEOUT_S=inf`` one whose drain only
the kubelet's SIGKILL ended (its ``draining`` line said ``"timeout_s": null``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.settings import Settings, env_name

GOOD = Path(__file__).parent.parent / "policies" / "minimal.yaml"
TIMES = [env_name(name) for name, kind in Settings.__annotations__.items() if kind == "float"]


def test_the_time_settings_are_the_four_of_the_configuration_page() -> None:
    """The parameters below are every float setting (a new one is covered without editing the test)."""
    assert sorted(TIMES) == sorted(
        ["SIDECAR_DRAIN_TIMEOUT_S", "SIDECAR_RELOAD_INTERVAL_S", "SIDECAR_KEEPALIVE_S", "SIDECAR_RECEIVE_TIMEOUT_S"]
    )


@pytest.mark.parametrize("variable", TIMES)
def test_an_infinite_time_stops_the_start_naming_the_variable(variable: str) -> None:
    """``llm-sidecar run`` with the setting ``inf`` exits 2 with one line, before it listens."""
    value = "inf"
    env = {**os.environ, variable: value}
    args = [sys.executable, "-m", "sidecar", "run", "--policy", str(GOOD), "--port", "0"]
    try:
        # 30 s: a refusal comes once the process has imported the sidecar, which took over 10 s at a load of 20
        result = subprocess.run(args, capture_output=True, text=True, timeout=30, env=env)
    except subprocess.TimeoutExpired as served:  # it started: what it wrote meanwhile is the point
        output = (served.stdout or b"").decode() + (served.stderr or b"").decode()
        raise AssertionError(f"started with {variable}={value}; it wrote:\n{output}") from None
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"llm-sidecar: {variable}={value!r} is not a finite number"]
    assert '"listening"' not in result.stdout
