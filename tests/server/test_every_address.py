"""A listener's host ``::`` is every address, IPv6 and IPv4, on one socket (``server.every_address``):
the health port's default, so that the kubelet's probes connect whatever the family of the pod's first
address. Before 2026-12-08 the default was ``0.0.0.0``, which no IPv6 peer reaches."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from sidecar.server.every_address import listening_socket
from tests.listening import ipv6_loopback, port_zero, wait_ports

POLICY = Path(__file__).parent.parent.parent / "policies" / "minimal.yaml"


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")


@needs_ipv6
def test_the_socket_takes_ipv4_and_ipv6_peers() -> None:
    """``listening_socket`` gives one socket that a peer reaches on 127.0.0.1 and on ::1."""
    sock = listening_socket(0)
    assert sock is not None
    with sock:
        sock.listen()
        port = sock.getsockname()[1]
        for address in ("127.0.0.1", "::1"):
            with socket.create_connection((address, port), timeout=5):
                peer, _ = sock.accept()
                peer.close()


@needs_ipv6
def test_a_port_already_taken_is_an_error_not_a_fallback() -> None:
    """A port another socket holds is ``OSError`` (the start fails, naming it), not a quiet fall back to
    IPv4 that would hide the clash."""
    with socket.socket(socket.AF_INET) as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            listening_socket(taken.getsockname()[1])


@needs_ipv6
@pytest.mark.timeout(120)
def test_the_default_health_port_answers_probes_on_ipv4_and_ipv6(tmp_path: Path) -> None:
    """A sidecar started with a health port and no ``SIDECAR_HEALTH_HOST`` answers ``/healthz`` on
    127.0.0.1 and on ::1 (a kubelet probing an IPv4 or an IPv6 pod address)."""
    env = {key: value for key, value in os.environ.items() if key != "SIDECAR_HEALTH_HOST"}
    ports_file = tmp_path / "ports.json"
    args = [sys.executable, "-m", "sidecar", "run", "--policy", str(POLICY), "--health-port", "0"]
    args += port_zero(ports_file)
    with (tmp_path / "sidecar.log").open("wb") as log:
        sidecar = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        port = wait_ports(ports_file, sidecar, tmp_path / "sidecar.log")["health_port"]
        for host in ("127.0.0.1", "[::1]"):
            with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=10) as answer:
                assert answer.status == 200
    finally:
        sidecar.send_signal(signal.SIGTERM)
        sidecar.wait(timeout=30)
