"""Real servers in tests without port races: where each one listens, known for sure.

Choosing a free port (bind port 0, read it, close) and passing it to a process that binds it later
loses when another process (another test run on the machine) takes the port in between: the server
exits "address already in use", or worse, the test talks to someone else's server. So:

- the sidecar and the fake provider listen on port 0 and say where (``sidecar.ports_file``): start
  them with ``port_zero(path)`` among their arguments, then ``wait_ports(path, process)`` gives the
  ports they bound (in an async test: ``await asyncio.to_thread(wait_ports, path, process)``);
- servers that cannot say which port they got (redis-server, prometheus) get ``start_on_free_port``:
  a free pick, started again on a new pick when the server reports the port taken (``PortTaken``);
- ``closed_port()`` is an address where nothing listens (a connection is refused) and nothing can
  start listening while the test runs: a socket bound to it, held, never listening;
- ``ipv6_loopback()``: whether this machine has ``::1`` (tests of IPv6 listening skip without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

T = TypeVar("T")
IN_USE = ("address already in use", "address in use")  # Go and redis's wording, Python's


def ipv6_loopback() -> bool:
    """Whether a socket can bind ``::1`` here."""
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port() -> int:
    """A port free at the time of the call, which another process may take at any moment after (only
    for ``start_on_free_port``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs (bound here, held,
    never listening: no other process can take it meanwhile)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def port_zero(ports_file: Path) -> list[str]:
    """The arguments that make ``llm-sidecar run`` or ``fake-provider`` listen on any free port and
    write the port it got to ``ports_file``."""
    return ["--port", "0", "--ports-file", str(ports_file)]


def _exit_code(process: subprocess.Popen[bytes] | asyncio.subprocess.Process) -> int | None:
    return process.poll() if isinstance(process, subprocess.Popen) else process.returncode


def wait_ports(
    ports_file: Path,
    process: subprocess.Popen[bytes] | asyncio.subprocess.Process,
    log: Path | None = None,
    timeout: float = 60.0,
) -> dict[str, int]:
    """The ports a process started with ``port_zero(ports_file)`` listens on (``port``, and
    ``health_port`` when it has one), once it has written them; the test fails with the tail of
    ``log`` when the process exits first or time runs out (a minute: on a loaded machine a Python
    process took more than 20 s to import the sidecar and listen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ports_file.exists():  # written whole, then renamed into place
            return {name: port for name, port in orjson.loads(ports_file.read_bytes()).items() if port is not None}
        code = _exit_code(process)
        if code is not None:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            pytest.fail(f"the server exited {code} before listening:\n{tail}")
        time.sleep(0.02)
    tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
    pytest.fail(f"no {ports_file} after {timeout} s:\n{tail}")


class PortTaken(Exception):
    """The server could not bind the port it was given: another process has it."""


def in_use(text: str) -> bool:
    """Whether a server's error output says its port was taken."""
    return any(words in text.lower() for words in IN_USE)


def start_on_free_port(start: Callable[[int], T], attempts: int = 5) -> T:
    """``start(port)`` on a free port; again on a new one while it raises ``PortTaken`` (a server that
    cannot listen on port 0 and say where: redis-server, prometheus)."""
    for _ in range(attempts - 1):
        try:
            return start(free_port())
        except PortTaken:
            continue
    return start(free_port())
