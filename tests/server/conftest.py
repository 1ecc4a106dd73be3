"""Fixtures of the server's tests: a real ``redis-server`` for the response cache (tests/cache/conftest.py);
a listener with a small test application and a running sidecar's ports (tests/server/served_listener.py)."""

from ..cache.conftest import redis_server, start_redis
from .served_listener import ports, served

__all__ = ["ports", "redis_server", "served", "start_redis"]
