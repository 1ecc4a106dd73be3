"""Opening a ledger on the store the policy names: the pod's own counters, or Redis shared by every pod
(a Redis client is created only for a ``redis://`` store, whose clock the ledger then follows)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from .compiled import Budgets
from .ledger import Ledger
from .store import Store


def open_ledger(budgets: Budgets, *, env: Mapping[str, str] | None = None, **options: object) -> Ledger:
    """A ledger on the store the policy names (a Redis client is created only for a redis:// store)."""
    shared: Store | None = None
    if budgets.store.is_redis:
        from .redis_store import RedisStore

        redis = RedisStore(budgets.store, env=env, clock=options.get("clock", time.time))  # type: ignore[arg-type]
        options = {**options, "clock": redis.clock.now}  # Redis's clock, as this pod measured it
        shared = redis
    return Ledger(budgets, shared=shared, **options)  # type: ignore[arg-type]
