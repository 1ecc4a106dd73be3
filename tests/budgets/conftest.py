"""Fixtures for the budgets tests: a fake wall clock, a compiled policy, and real redis-server processes.

``redis_server`` is one redis-server per test session on a free loopback port (each test gets it
flushed); ``redis_factory`` starts a private one that a test may kill and restart (``RedisServer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.budgets import Budgets, compile_budgets
from sidecar.policy.spec import ModelSpec, PriceSpec
from tests.redis_server import RedisServer
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


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis")).launch()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test."""
    with redis_server.client() as client:
        client.flushall()
        client.script_flush()
        client.config_resetstat()
    return redis_server.url


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Any]:
    """Start private redis-servers (``redis_factory(*extra_args)``); all are killed after the test."""
    started: list[RedisServer] = []

    def start(*extra: str) -> RedisServer:
        server = RedisServer(tmp_path, extra).launch()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
