"""A real ``redis-server`` per test, on a free loopback port in a temp dir, stopped after the test.

``redis_server`` is a started server (no password, no persistence); ``start_redis(*args, tls=...)``
starts another with extra ``redis-server`` arguments (``--requirepass``, ``--maxmemory``...), or serving
TLS only with the given ``ca``/``cert``/``key`` files. A ``RedisServer`` can be killed and started again
on the same port, to play Redis going away mid-test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int, tls: bool) -> bool:
    try:
        if tls:  # a TLS port: accepting the connection is enough
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


@dataclass
class RedisServer:
    directory: Path
    args: tuple[str, ...] = ()
    tls: Mapping[str, Path] | None = None
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        listen = ["--port", str(self.port)]
        if self.tls:
            listen = [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls["cert"]),
                "--tls-key-file", str(self.tls["key"]),
                "--tls-ca-cert-file", str(self.tls["ca"]),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        command = [
            REDIS_SERVER,
            *listen,
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            *self.args,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _answers_ping(self.port, self.tls is not None):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode} on port {self.port}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not answer within 10 s")
            time.sleep(0.01)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None


@pytest.fixture
def start_redis(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    if REDIS_SERVER is None:
        pytest.fail("redis-server is not installed (.ci/run installs it)")
    servers: list[RedisServer] = []

    def start(*args: str, tls: Mapping[str, Path] | None = None) -> RedisServer:
        directory = tmp_path / f"redis{len(servers)}"
        directory.mkdir()
        server = RedisServer(directory, args, tls)
        servers.append(server)
        for _ in range(3):  # another process may take the free port between the probe and the bind
            try:
                server.start()
                return server
            except RuntimeError:
                server.kill()
                server.port = _free_port()
        server.start()
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def redis_server(start_redis: Callable[..., RedisServer]) -> RedisServer:
    return start_redis()
