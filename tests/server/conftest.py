"""Fixtures of the server's tests: a real ``redis-server`` for the response cache (tests/cache/conftest.py);
a listener with a small test application and a running sidecar's ports (tests/server/served_listener.py);
a fake provider over TLS with a test CA (tests/server/tls_provider.py)."""

from ..cache.conftest import redis_server, start_redis
from .served_listener import ports, served
from .tls_provider import ca, tls_fake

__all__ = ["ca", "ports", "redis_server", "served", "start_redis", "tls_fake"]
