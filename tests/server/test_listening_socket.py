"""A listening socket that stops accepting under a running sidecar (``sidecar/server/listening_socket.py``):
on a real ``llm-sidecar run`` process whose app or health port is shut down from outside, through a
descriptor of the same socket taken with pidfd_getfd(2). uvloop closes a listening socket without a word
when libuv reports an error on it; either way the port refuses every connection while the process runs on.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ..conftest import provider_block
from ..listening import port_zero, wait_ports

PIDFD_GETFD = 438  # the system call's number on every Linux architecture (5.6 and later)


def shut_down_listening_socket(pid: int, port: int) -> None:
    """Shut down (``SHUT_RD``) the socket of process ``pid`` that listens on ``port``: it stops accepting."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            fd = libc.syscall(PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                if ctypes.get_errno() in (errno.EPERM, errno.ENOSYS):
                    pytest.skip("pidfd_getfd(2) is not allowed here")
                continue
            try:
                sock = socket.socket(fileno=fd)
            except OSError:  # not a socket
                os.close(fd)
                continue
            with sock:
                address = sock.getsockname()
                listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                if isinstance(address, tuple) and address[1] == port and listening:
                    sock.shutdown(socket.SHUT_RD)
                    return
    finally:
        os.close(pidfd)
    raise AssertionError(f"no socket of process {pid} listens on port {port}")


@pytest.mark.parametrize("port_name", ["port", "health_port"])
def test_a_port_that_stops_accepting_makes_the_sidecar_drain_and_exit_1(tmp_path: Path, port_name: str) -> None:
    """The app port's (or the health port's) socket stops accepting: the sidecar logs ``listener_stopped``
    (error) naming the listener and its port, drains, and exits 1, so that Kubernetes restarts it. Before
    2026-12-06 it ran on saying nothing, every call refused, ``/readyz`` answering 200 on the other port."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nproviders:\n"
        + provider_block("up", "http://127.0.0.1:9")
        + "models:\n  m: {provider: up, model: m}\n"
    )
    ports_file = tmp_path / "sidecar.ports"
    env = {**os.environ, "SIDECAR_HEALTH_HOST": "127.0.0.1", "SIDECAR_LOG_LEVEL": "info"}
    command = [sys.executable, "-m", "sidecar", "run", "--policy", str(policy), *port_zero(ports_file)]
    proc = subprocess.Popen([*command, "--health-port", "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = wait_ports(ports_file, proc)[port_name]
        shut_down_listening_socket(proc.pid, port)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    lines = [orjson.loads(line) for line in stdout.splitlines() if line.startswith(b"{")]
    (stopped,) = [line for line in lines if line["event"] == "listener_stopped"]
    assert stopped["level"] == "error" and stopped["ports"] == [port]
    assert stopped["listener"] == ("app" if port_name == "port" else "health")
    assert b"stopped accepting" in stderr and b"Traceback" not in stderr
