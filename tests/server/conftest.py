"""Fixtures of the server's tests: a real ``redis-server`` for the response cache (tests/cache/conftest.py)."""

from ..cache.conftest import redis_server, start_redis

__all__ = ["redis_server", "start_redis"]
