"""A real ``redis-server`` per test (tests/redis_server.py), on a free loopback port in a temp dir,
stopped after the test.

``redis_server`` is a started server (no password, no persistence); ``start_redis(*args, tls=...)``
starts another with extra ``redis-server`` arguments (``--requirepass``, ``--maxmemory``...), or serving
TLS only with the given ``ca``/``cert``/``key`` files. A ``RedisServer`` can be killed and started again
on the same port, to play Redis going away mid-test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.redis_server import REDIS_SERVER, RedisServer


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
        return server.launch()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def redis_server(start_redis: Callable[..., RedisServer]) -> RedisServer:
    return start_redis()
