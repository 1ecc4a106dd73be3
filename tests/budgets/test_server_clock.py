"""Pods whose clocks disagree share a budget's windows: on a real redis-server, each ledger measures its
pod's clock against Redis's ``TIME`` (``Ledger.sync_clock``, what the keeper runs at start and every
5 s) and names windows by Redis's clock, so a pod ten minutes behind counts in the same minute as the
others (it counted in a window of its own: a per-minute limit let each pod spend it in full)."""

from __future__ import annotations

import asyncio
import time

from sidecar.budgets import BudgetRequest, Decision, Ledger, open_ledger
from sidecar.budgets.keeper import LedgerKeeper
from sidecar.telemetry import Telemetry

from ..waiting import until
from .conftest import RedisServer, budgets_of
from .redis_ledgers import GENEROUS

ONE_A_MINUTE = {"name": "one-a-minute", "measure": "requests", "amount": 1, "window": "minute"}
REQUEST = BudgetRequest(input_tokens=10, max_output_tokens=10)


def pod(url: str, behind_s: float) -> Ledger:
    """A pod's ledger on the shared store at ``url``, its wall clock ``behind_s`` seconds behind."""
    block = {"store": {"url": url, **GENEROUS}, "limits": [ONE_A_MINUTE], "reservation_ttl_s": 30}
    return open_ledger(budgets_of(block), clock=lambda: time.time() - behind_s)


async def clear_of_a_minute_boundary() -> None:
    """Wait until the next minute starts if this one has under 2 s left (both admissions in one minute)."""
    left = 60 - time.time() % 60
    if left < 2:
        await asyncio.sleep(left + 0.1)


async def two_pods_admit(url: str) -> tuple[Decision, Decision]:
    """Pods A (clock right) and B (600 s behind) on the store at ``url``, both clocks measured against
    Redis's, each admit one request in the same minute: their decisions (nothing left held)."""
    a, b = pod(url, 0.0), pod(url, 600.0)
    await a.sync_clock()
    await b.sync_clock()
    await clear_of_a_minute_boundary()
    admissions = [await a.admit(REQUEST, [a.budgets.target("big")]), await b.admit(REQUEST, [b.budgets.target("big")])]
    for admission in admissions:
        await admission.release()
    await a.close()
    await b.close()
    return admissions[0].decision, admissions[1].decision


async def test_a_pod_ten_minutes_behind_counts_in_the_same_minute(redis_url: str) -> None:
    """Pods A (clock right) and B (600 s behind), a limit of one request a minute shared in Redis: A's
    request is allowed, B's in the same minute denied (store answered: not a fallback)."""
    first, second = await two_pods_admit(redis_url)
    assert (first.verdict, second.verdict, second.store) == ("allow", "deny", "ok")


async def test_a_pod_behind_says_when_the_window_resets_by_redis_clock(redis_url: str) -> None:
    """The 429's reset (``Retry-After``) of a pod 600 s behind is the seconds to the end of Redis's
    minute, at most 60, not the 660 its own clock would give."""
    _, second = await two_pods_admit(redis_url)
    assert second.verdict == "deny" and 0 < second.retry_after_s <= 60


async def test_the_keeper_measures_the_store_clock_at_start(redis_url: str, redis_server: RedisServer) -> None:
    """A keeper on a shared store, started: it asks Redis for its TIME at once (not per request), so the
    windows follow Redis's clock from the first seconds."""

    def time_calls() -> int:
        with redis_server.client() as client:
            return int(client.info("commandstats").get("cmdstat_time", {}).get("calls", 0))

    before = time_calls()
    keeper = LedgerKeeper(budgets_of({"store": {"url": redis_url, **GENEROUS}, "limits": [ONE_A_MINUTE]}), {})
    try:
        keeper.start(Telemetry.from_env({}, service_version="1.0").instruments)
        assert await until(time_calls, lambda calls: calls > before) == before + 1
    finally:
        await keeper.close()
