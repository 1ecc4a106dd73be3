"""Fixtures for the budgets tests: a fake wall clock, a compiled policy, and real redis-server processes.

``redis_server`` is one redis-server per test session on a free loopback port (each test gets it
flushed); ``redis_factory`` starts a private one that a test may kill and restart (``RedisProcess``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from sidecar.budgets import Budgets, compile_budgets
from sidecar.policy.spec import ModelSpec, PriceSpec
from tests.resilience.fakes import FakeClock

T0 = 1_717_200_000.0  # 2024-06-01T00:00:00Z, a Saturday; the start of a month, day, hour and minute


MODELS = {
    "big": ModelSpec(provider="acme", model="big-1", price=PriceSpec(input_per_mtok=10, output_per_mtok=30)),
    "small": ModelSpec(provider="acme", model="small-1", price=PriceSpec(input_per_mtok=1, output_per_mtok=2)),
    "other-big": ModelSpec(provider="zeta", model="big-2", price=PriceSpec(input_per_mtok=10, output_per_mtok=30)),
    "free": ModelSpec(provider="zeta", model="free-1"),
}
PROVIDERS = ("acme", "zeta")
ROUTES = ("chat", "batch")


def budgets_of(block: dict[str, Any]) -> Budgets:
    """Compile a ``budgets`` block against ``MODELS``, ``PROVIDERS`` and ``ROUTES``."""
    return compile_budgets(block, models=MODELS, providers=PROVIDERS, routes=ROUTES)


@pytest.fixture
def clock() -> FakeClock:
    """Wall-clock seconds, 30 s into 2024-06-01 UTC, moving only on ``advance``."""
    return FakeClock(T0 + 30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisProcess:
    """A redis-server on a loopback port in a temp dir; ``kill`` and ``start`` keep the port."""

    def __init__(self, workdir: Path, extra: tuple[str, ...] = ()) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        self.binary = binary
        self.workdir = workdir
        self.extra = extra
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.workdir), *self.extra]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith((b"+PONG", b"-NOAUTH")):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def client(self, **options: Any) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **options)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    """The session's Redis, emptied for this test."""
    with redis_server.client() as client:
        client.flushall()
        client.script_flush()
        client.config_resetstat()
    return redis_server.url


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Any]:
    """Start private redis-servers (``redis_factory(*extra_args)``); all are killed after the test."""
    started: list[RedisProcess] = []

    def start(*extra: str) -> RedisProcess:
        server = RedisProcess(tmp_path, extra)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
