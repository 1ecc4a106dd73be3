"""Fixtures of the server's tests: a real ``redis-server`` for the response cache (tests/cache/conftest.py);
a listener with a small test application and a running sidecar's ports (tests/server/served_listener.py);
a fake provider over TLS with a test CA (tests/server/tls_provider.py); a recording provider and a sidecar
forwarding to it (``stack``, tests/server/forward_upstream.py). The checks of
tests/server/one_story.py are asserts pytest rewrites, so that a failure shows the values."""

import pytest

pytest.register_assert_rewrite("tests.server.one_story")

from ..cache.conftest import redis_server, start_redis  # noqa: E402
from .forward_upstream import stack_fixture  # noqa: E402
from .served_listener import ports, served  # noqa: E402
from .tls_provider import ca, tls_fake  # noqa: E402

stack = pytest.fixture(stack_fixture, name="stack")

__all__ = ["ca", "ports", "redis_server", "served", "stack", "start_redis", "tls_fake"]
