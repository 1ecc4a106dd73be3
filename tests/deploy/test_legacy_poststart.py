"""The legacy overlay's postStart hook, run as the kubelet runs it (its own command, in the sidecar's
environment) against a real sidecar: it returns as soon as ``/readyz`` answers, whichever address the
health port listens on.

``SIDECAR_HEALTH_HOST`` may name IPv4 addresses only (``0.0.0.0``), IPv6 ones only (an IPv6 address such as
``::1``), or both (``::``, the default since 2026-12-08); before 2026-12-08 the hook asked ``127.0.0.1``
only, never reached a health port on IPv6 alone and held the app back its whole 30 s, then let it start
without knowing the sidecar was ready.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.listening import ipv6_loopback, port_zero, wait_ports

ROOT = Path(__file__).parent.parent.parent
PATCH = ROOT / "deploy" / "k8s" / "overlays" / "legacy-sidecar" / "sidecar-as-container.yaml"
POLICY = ROOT / "policies" / "minimal.yaml"


def post_start_command() -> list[str]:
    """The hook's command, as the overlay's patch adds it."""
    [lifecycle] = [op["value"] for op in yaml.safe_load(PATCH.read_text()) if op["path"].endswith("/lifecycle")]
    command: Any = lifecycle["postStart"]["exec"]["command"]
    return [str(part) for part in command]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("health_host", ["0.0.0.0", "::", "::1"])
def test_the_post_start_hook_returns_once_the_sidecar_is_ready(tmp_path: Path, health_host: str) -> None:
    """With the health port on IPv4 only, on both families (``::``) or on IPv6 only (``::1``), the hook's
    command returns within a few seconds of the sidecar's ``/readyz`` answering 200, not after its 30 s
    limit."""
    if ":" in health_host and not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    ports_file = tmp_path / "ports.json"
    env = {**os.environ, "SIDECAR_HEALTH_HOST": health_host}
    args = [sys.executable, "-m", "sidecar", "run", "--policy", str(POLICY), "--health-port", "0"]
    args += port_zero(ports_file)
    with (tmp_path / "sidecar.log").open("wb") as log:
        sidecar = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        ports = wait_ports(ports_file, sidecar, tmp_path / "sidecar.log")
        # python on the PATH, as in the image; the sidecar container's environment, as the kubelet runs it
        hook = [sys.executable, *post_start_command()[1:]]
        started = time.monotonic()
        subprocess.run(hook, env={**env, "SIDECAR_HEALTH_PORT": str(ports["health_port"])}, check=True, timeout=60)
        assert time.monotonic() - started < 15, "the hook waited out its limit: /readyz never answered it"
    finally:
        sidecar.send_signal(signal.SIGTERM)
        sidecar.wait(timeout=30)
