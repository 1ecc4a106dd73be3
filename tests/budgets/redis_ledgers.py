"""Ledgers on a real redis-server for the Redis store and guard tests: ``book`` opens one with the given
limits (``DOLLAR``: a dollar a day) on a clock from ``today_clock``, with ``GENEROUS`` timeouts unless
told otherwise; ``script_calls`` counts the scripts a server has run (one round trip each)."""

from __future__ import annotations

import time
from typing import Any

from sidecar.budgets import Ledger, open_ledger
from tests.redis_server import RedisServer
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of


def today_clock() -> FakeClock:
    """A wall clock one minute into the current UTC day: windows (and key expiries) lie in Redis's future."""
    now = time.time()
    return FakeClock(now - now % 86_400 + 60)


GENEROUS = {"timeout_ms": 10_000, "connect_timeout_ms": 10_000}
"""The store's timeouts unless a test gives its own: the longest allowed, so that a loaded machine's slow
round trip to a live Redis is still a round trip, never a fallback to local counting (a test of a dead
or slow store gives short ones)."""


def book(url: str, clock: FakeClock, *limits: dict[str, Any], **store: Any) -> Ledger:
    block = {"store": {"url": url, **GENEROUS, **store}, "limits": list(limits), "reservation_ttl_s": 30}
    return open_ledger(budgets_of(block), clock=clock)


DOLLAR = {"name": "dollar", "measure": "usd", "amount": 1.0, "window": "day"}


def script_calls(server: RedisServer) -> int:
    with server.client() as client:
        stats = client.info("commandstats")
    return sum(int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval"))
