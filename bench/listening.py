"""Where a bench's servers listen, known for sure (the bench side of tests/listening.py).

Picking a free port (bind port 0, read it, close) and passing it to a process that binds it later
loses when another process takes the port in between (five engineers' benches and tests on one
machine): the server exits "address already in use", or the bench measures someone else's server. So:

- the sidecar, the fake provider and bench/minimal_proxy.py listen on port 0 and write where to a
  ports file: start them with ``port_zero(path)`` among their arguments, then ``wait_port(path, proc)``
  gives the port they bound;
- a bench's own aiohttp server (an upstream, a sink, a relay run with ``--serve``) does the same:
  ``await serve_on_port_zero(runner, path)`` listens on port 0 and writes the ports file
  (``await serve_until_stopped(runner, path)``: sets the runner up, serves, and waits to be stopped);
  ``start_with_ports_file(command, path)`` starts such a process and gives its port;
- nginx and redis-server cannot say which port they got: ``start_on_free_port(start)`` starts one on
  a free pick and, when it exits at once (the port was taken meanwhile), again on a new pick
  (``start_redis`` for redis-server);
- a port where nothing listens (connection refused, on purpose): ``refused_port()`` holds one bound
  without listening, so no other process can take it while the bench uses it;
- ``stop_all(procs)`` stops the servers a bench started, the last started first (a sidecar before the
  nginx it flushes its last export to), each waited for.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web


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


def free_pick() -> int:
    """A port free now (only for servers that cannot take port 0: another process may take it first)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_on_free_port(
    start: Callable[[int], subprocess.Popen[bytes]], *, settle_s: float = 0.3, attempts: int = 5
) -> tuple[subprocess.Popen[bytes], int]:
    """A server that cannot listen on port 0 (nginx), started on a free pick; picked again when it exits
    within ``settle_s`` (the port was taken between the pick and its bind)."""
    for _ in range(attempts):
        port = free_pick()
        proc = start(port)
        try:
            proc.wait(timeout=settle_s)
        except subprocess.TimeoutExpired:
            return proc, port
    raise RuntimeError(f"{attempts} picks of a free port were all taken")


def stop_all(procs: Sequence[subprocess.Popen[bytes]], *, timeout: float = 30) -> None:
    """SIGTERM each of ``procs`` (one that has exited already is left alone), the last started first, and
    wait up to ``timeout`` seconds for each."""
    for proc in reversed(procs):
        proc.terminate()
        proc.wait(timeout=timeout)


def write_ports_file(path: Path, port: int) -> None:
    """For a bench server of our own (minimal_proxy.py): ``{"port": N}``, renamed into place whole."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"port": port}))
    partial.replace(path)


def start_with_ports_file(
    command: Sequence[str], ports_file: Path, timeout: float = 180.0, **popen: Any
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` (which listens on port 0 and writes ``ports_file``); the process and its port."""
    ports_file.unlink(missing_ok=True)  # the one this start writes, not an earlier one
    proc = subprocess.Popen(list(command), **popen)
    try:
        return proc, wait_port(ports_file, proc, timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise


async def serve_on_port_zero(runner: web.AppRunner, ports_file: Path | None) -> int:
    """Serve ``runner`` (set up) on 127.0.0.1, on any free port, and write the port it got to
    ``ports_file``; the port."""
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    bound = int(runner.addresses[0][1])
    if ports_file is not None:
        write_ports_file(ports_file, bound)
    return bound


async def serve_until_stopped(runner: web.AppRunner, ports_file: Path) -> None:
    """Set ``runner`` up and ``serve_on_port_zero`` (its port in ``ports_file``) until the process is stopped."""
    await runner.setup()
    await serve_on_port_zero(runner, ports_file)
    await asyncio.Event().wait()


def start_redis(workdir: Path, *args: str, timeout: float = 30.0) -> tuple[subprocess.Popen[bytes], int]:
    """A redis-server without persistence on a free loopback port (``args`` added to its command
    line), answering PING; the process and its port."""

    def on(port: int) -> subprocess.Popen[bytes]:
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        return subprocess.Popen(
            [*command, "--dir", str(workdir), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    proc, port = start_on_free_port(on)
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith((b"+PONG", b"-NOAUTH")):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server on port {port} did not answer (exit {proc.poll()})")


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening while the block runs: connecting to it is refused, and no
    other process can listen there meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
