"""Where a bench's servers listen, known for sure (the bench side of tests/listening.py).

Picking a free port (bind port 0, read it, close) and passing it to a process that binds it later
loses when another process takes the port in between (five engineers' benches and tests on one
machine): the server exits "address already in use", or the bench measures someone else's server. So:

- the sidecar, the fake provider and bench/minimal_proxy.py listen on port 0 and write where to a
  ports file: start them with ``port_zero(path)`` among their arguments, then ``wait_port(path, proc)``
  gives the port they bound;
- nginx cannot say which port it got: ``start_on_free_port(start)`` starts it on a free pick and, when
  it exits at once (the port was taken meanwhile), again on a new pick.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def port_zero(ports_file: Path) -> list[str]:
    """The arguments that make ``sidecar run``, ``fake-provider`` or minimal_proxy.py listen on any free
    port and write the port they got to ``ports_file``."""
    return ["--port", "0", "--ports-file", str(ports_file)]


def wait_port(ports_file: Path, proc: subprocess.Popen[bytes], timeout: float = 180.0) -> int:
    """The port a process started with ``port_zero(ports_file)`` listens on, once it has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ports_file.exists():  # written whole, then renamed into place
            return read_port(ports_file)
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode} before listening")
        time.sleep(0.02)
    raise TimeoutError(f"no {ports_file} after {timeout} s")


def read_port(ports_file: Path) -> int:
    """The port in a ports file already written (after ``wait_port``)."""
    return int(json.loads(ports_file.read_bytes())["port"])


def _free_pick() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_on_free_port(
    start: Callable[[int], subprocess.Popen[bytes]], *, settle_s: float = 0.3, attempts: int = 5
) -> tuple[subprocess.Popen[bytes], int]:
    """A server that cannot listen on port 0 (nginx), started on a free pick; picked again when it exits
    within ``settle_s`` (the port was taken between the pick and its bind)."""
    for _ in range(attempts):
        port = _free_pick()
        proc = start(port)
        try:
            proc.wait(timeout=settle_s)
        except subprocess.TimeoutExpired:
            return proc, port
    raise RuntimeError(f"{attempts} picks of a free port were all taken")


def write_ports_file(path: Path, port: int) -> None:
    """For a bench server of our own (minimal_proxy.py): ``{"port": N}``, renamed into place whole."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"port": port}))
    partial.replace(path)
