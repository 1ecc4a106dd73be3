"""``llm-sidecar run`` with a time setting that is infinite: refused at start, as docs/configuration.md says
of a value that cannot work (exit 2, one line naming the variable).

Before 2026-12-08 ``inf`` was taken: ``SIDECAR_RELOAD_INTERVAL_S=inf`` started a sidecar that never looked
at its policy file again (hot reload off, in silence), ``SIDECAR_DRAIN_TIMEOUT_S=inf`` one whose drain only
the kubelet's SIGKILL ended (its ``draining`` line said ``"timeout_s": null``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sidecar.settings import Settings, env_name
from tests.start_refusal import refused_start

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
    result = refused_start({**os.environ, variable: value}, GOOD, f"{variable}={value}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [f"llm-sidecar: {variable}={value!r} is not a finite number"]
    assert '"listening"' not in result.stdout
