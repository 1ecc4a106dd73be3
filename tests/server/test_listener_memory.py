"""Memory bounds of the listener, on a real sidecar process (its resident memory read from /proc).

The two denial-of-service findings of the security review (issue 16), with the same shapes: a client that
pipelines ``GET /healthz`` and never reads the answers (it took the process from 44 to 343 MB), and
3,000 connections each holding an unfinished 60 KB head (52 to 220 MB, never given back). Both against
the health port, which listens on the pod IP, and the app port.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import provider_block
from ..listening import port_zero, wait_ports
from ..sdk_clients import SIDECAR_TIMEOUT_S

GROWTH_LIMIT_MB = 25  # the process starts at about 50 MB; the findings grew it by 170 to 300 MB


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=SIDECAR_TIMEOUT_S) as response:
        return int(response.status)


@pytest.fixture(scope="module")
def sidecar_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, dict[str, int]]]:
    """``llm-sidecar run`` with a health port: its pid and ports. Shared by the tests of this module."""
    policy = tmp_path_factory.mktemp("memory") / "policy.yaml"
    models = "models:\n  m: {provider: up, model: m}\n"
    policy.write_text("version: 1\nproviders:\n" + provider_block("up", "http://127.0.0.1:9") + models)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 8192:  # 3,000 client sockets here, and as many accepted by the sidecar (which inherits it)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
    env = {**os.environ, "SIDECAR_LOG_LEVEL": "warning", "SIDECAR_HEALTH_HOST": "127.0.0.1"}
    ports_file = policy.with_name("sidecar.ports")
    command = [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports_file)]
    proc = subprocess.Popen(
        [*command, "--health-port", "0"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    bound = wait_ports(ports_file, proc)
    ports = {"app": bound["port"], "health": bound["health_port"]}
    yield proc.pid, ports
    proc.terminate()
    _, stderr = proc.communicate(timeout=30)
    assert b"Traceback" not in stderr  # nothing the clients sent made it raise


def pipeline_without_reading(port: int, seconds: float) -> int:
    """Pipeline ``GET /healthz`` on one connection for ``seconds``, never reading; the bytes it took."""
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 256
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setblocking(False)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                sent += sock.send(request)
            except BlockingIOError:
                time.sleep(0.01)  # the sidecar stopped reading: its buffers and ours are full
    return sent


@pytest.mark.parametrize("port_name", ["health", "app"])
def test_a_client_that_pipelines_and_never_reads_cannot_grow_memory(
    sidecar_process: tuple[int, dict[str, int]], port_name: str
) -> None:
    """Two seconds of pipelined ``GET /healthz`` whose answers are never read: the sidecar stops reading
    (the socket buffers fill) and its memory stays within GROWTH_LIMIT_MB; it still answers others."""
    pid, ports = sidecar_process
    before = rss_mb(pid)
    sent = pipeline_without_reading(ports[port_name], 2.0)
    grown = rss_mb(pid) - before
    assert sent < 64 * 1024 * 1024, f"the sidecar kept reading: {sent} bytes taken"
    assert grown < GROWTH_LIMIT_MB, f"resident memory grew {grown:.0f} MB ({before:.0f} MB before)"
    assert healthz(ports["health"]) == 200


@pytest.mark.parametrize("port_name", ["health", "app"])
@pytest.mark.parametrize("shape", ["one-field", "many-fields", "under-the-head-cap"])
def test_many_connections_with_unfinished_heads_cannot_grow_memory(
    sidecar_process: tuple[int, dict[str, int]], port_name: str, shape: str
) -> None:
    """3,000 connections each sending a head that never ends: 60 KB in one long field or in fields under
    the line limit, or 30 KB (under the head cap: bounded by the listener's budget for unfinished heads).
    Memory stays within GROWTH_LIMIT_MB while they are held and after; the sidecar still serves."""
    pid, ports = sidecar_process
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    if shape == "one-field":
        head = start + b"X-Pad: " + b"a" * 60_000
    else:
        fields = 8 if shape == "many-fields" else 4
        head = start + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 7400) for i in range(fields))
    before = rss_mb(pid)
    socks: list[socket.socket] = []
    try:
        for _ in range(3000):
            sock = socket.create_connection(("127.0.0.1", ports[port_name]))
            sock.settimeout(2)
            socks.append(sock)
            with contextlib.suppress(OSError):
                sock.sendall(head)
        time.sleep(0.5)
        held = rss_mb(pid) - before
    finally:
        for sock in socks:
            sock.close()
    time.sleep(0.5)
    after = rss_mb(pid) - before
    assert held < GROWTH_LIMIT_MB, f"resident memory grew {held:.0f} MB while the heads were held"
    assert after < GROWTH_LIMIT_MB, f"resident memory stayed {after:.0f} MB above the start after they closed"
    assert healthz(ports["health"]) == 200
