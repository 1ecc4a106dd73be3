"""The guarded store: a killed Redis, with limits failing open or closed; the retry queue; the breaker;
settlements that a caller's cancellation cannot cut; settlements carried by the next admission."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable

import orjson
import pytest

from sidecar.budgets import BudgetRequest
from sidecar.telemetry.logging import configure_logging
from sidecar.translate import Usage
from tests.resilience.fakes import FakeClock

from .conftest import RedisServer
from .redis_ledgers import DOLLAR, book, script_calls, today_clock


async def test_a_dead_store_fails_open_into_local_counting(redis_factory: Callable[..., RedisServer]) -> None:
    """With on_store_error: open, a killed Redis leaves requests flowing, counted in this pod alone."""
    server = redis_factory()
    ledger = book(server.url, today_clock(), {**DOLLAR, "amount": 0.1})
    target = [ledger.budgets.target("big")]
    assert (await ledger.admit(BudgetRequest(1000, 1000), target)).decision.store == "ok"
    server.kill()
    decisions = [(await ledger.admit(BudgetRequest(1000, 1000), target)).decision for _ in range(4)]
    expected = [("allow", "fallback"), ("allow", "fallback"), ("deny", "fallback"), ("deny", "fallback")]
    assert [(d.verdict, d.store) for d in decisions] == expected
    assert ledger.stats.fallback_reservations == 4
    await ledger.close(drain_s=0)  # the store stays dead


async def test_a_dead_store_fails_closed_with_a_clear_denial(redis_factory: Callable[..., RedisServer]) -> None:
    """With on_store_error: closed, a killed Redis denies with 429 saying the limit cannot be checked."""
    server = redis_factory()
    ledger = book(server.url, today_clock(), {**DOLLAR, "on_store_error": "closed"})
    server.kill()
    decision = (await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])).decision
    assert (decision.verdict, decision.status, decision.store) == ("deny", 429, "unavailable")
    assert decision.message.startswith("budget limit 'dollar' cannot be checked: the budget store is unavailable")
    await ledger.close(drain_s=0)  # the store stays dead


async def test_spend_during_an_outage_reaches_the_store_when_it_returns(
    redis_factory: Callable[..., RedisServer],
) -> None:
    """Settlements made while Redis was down are queued and charged to it once it answers again: the
    failed reservation's release and the local use both (the clock is the real one: with the start of
    the day, the done marks lay in Redis's past and vanished, which hid the use being dropped)."""
    server = redis_factory()
    clock = FakeClock(time.time())
    ledger = book(server.url, clock, DOLLAR, breaker={"open_s": 0.05, "open_max_s": 0.1})
    target = [ledger.budgets.target("big")]
    inflight = await ledger.admit(BudgetRequest(1000, 1000), target)  # held in Redis
    server.kill()
    await (await ledger.admit(BudgetRequest(1000, 1000), target)).settle(Usage(1000, 1000))  # local: $0.04
    await inflight.settle(Usage(1000, 0))  # Redis is down: queued ($0.01)
    server.start()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if ledger.stats.pending == 0:
            break
    rows = await ledger.status()
    assert (rows[0]["source"], rows[0]["used"]) == ("shared", pytest.approx(0.05))
    await ledger.close()


async def test_the_breaker_stops_calling_a_dead_store(redis_factory: Callable[..., RedisServer]) -> None:
    """After a few failures the ledger stops trying Redis for a while: later admissions cost no timeout."""
    server = redis_factory()
    breaker = {"failures": 2, "open_s": 60, "open_max_s": 60}
    ledger = book(server.url, today_clock(), DOLLAR, breaker=breaker)
    server.kill()
    for _ in range(10):
        await ledger.admit(BudgetRequest(1, 1), [ledger.budgets.target("big")])
    assert (ledger.stats.store_errors, ledger.stats.fallback_reservations) == (2, 10)
    await ledger.close(drain_s=0)  # the store stays dead


async def test_a_settlement_survives_the_callers_cancellation(redis_url: str) -> None:
    """A request task cancelled while its settlement is on the wire still has its use counted."""
    ledger = book(redis_url, today_clock(), DOLLAR)
    admission = await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])
    task = asyncio.create_task(admission.settle(Usage(1000, 1000)))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await ledger.close()
    assert await used_in_store(redis_url) == pytest.approx(0.04)


async def test_close_drains_the_queue_once_the_store_is_back(redis_factory: Callable[..., RedisServer]) -> None:
    """Shutdown waits (up to drain_s) for the breaker to let calls through and sends what was queued."""
    server = redis_factory()
    breaker = {"failures": 1, "open_s": 0.3, "open_max_s": 0.3}
    ledger = book(server.url, today_clock(), DOLLAR, breaker=breaker)
    admission = await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])
    server.kill()
    await admission.settle(Usage(1000, 1000))  # fails, opens the breaker, queued
    server.start()
    await ledger.close(drain_s=5)
    assert await used_in_store(server.url) == pytest.approx(0.04)


async def test_concurrent_flushes_send_each_queued_settlement_once(
    redis_factory: Callable[..., RedisServer],
) -> None:
    """Two flushes running at once (the background one and shutdown's) charge every queued settlement once:
    none is sent twice and popped twice while the next one is dropped."""
    server = redis_factory()
    breaker = {"failures": 100, "open_s": 0.05, "open_max_s": 0.1}  # stays closed: both flushes get permits
    ledger = book(server.url, today_clock(), DOLLAR, breaker=breaker)
    target = [ledger.budgets.target("big")]
    admissions = [await ledger.admit(BudgetRequest(1000, 1000), target) for _ in range(4)]
    server.kill()
    for n, admission in enumerate(admissions, start=1):
        await admission.settle(Usage(1000 * n, 0))  # $0.01, $0.02, $0.03, $0.04: each fails and is queued
    server.start()
    await asyncio.gather(ledger.flush(), ledger.flush(), ledger.flush())
    assert ledger.stats.pending == 0
    await ledger.close()
    assert await used_in_store(server.url) == pytest.approx(0.10)


async def used_in_store(url: str) -> float:
    """The dollars counted in Redis, as a fresh ledger reads them (from Redis, not its local zero)."""
    reader = book(url, today_clock(), DOLLAR)
    rows = await reader.status()
    await reader.close()
    assert rows[0]["source"] == "shared", rows
    return float(rows[0]["used"])  # type: ignore[arg-type]


async def test_a_charged_settlement_rides_on_the_next_admission(redis_url: str, redis_server: RedisServer) -> None:
    """charge() sends nothing by itself; the next admission carries it: one script call for both,
    and the store has the use once that admission returns."""
    ledger = book(redis_url, today_clock(), DOLLAR)
    target = [ledger.budgets.target("big")]
    await (await ledger.admit(BudgetRequest(10, 10), target)).settle(None)  # loads the script
    admission = await ledger.admit(BudgetRequest(1000, 1000), target)
    before = script_calls(redis_server)
    admission.charge(Usage(1000, 1000))  # $0.04
    carrier = await ledger.admit(BudgetRequest(1000, 1000), target)
    assert script_calls(redis_server) - before == 1
    assert await used_in_store(redis_url) == pytest.approx(0.04 + 0.04 + 0.0004)  # held + charged + first
    carrier.drop()  # read first: the drop's release is sent alone CARRY_S later, maybe during the read
    await ledger.close()


async def test_a_settlement_no_admission_carries_is_sent_after_the_carry_delay(redis_url: str) -> None:
    """With no admission after it, a charged settlement reaches the store alone within a moment
    (CARRY_S), without close()."""
    ledger = book(redis_url, today_clock(), DOLLAR)
    admission = await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])
    admission.charge(Usage(1000, 0))  # $0.01 instead of the $0.04 held
    for _ in range(250):  # polled for up to ~5 s: the timer fires after CARRY_S (20 ms)
        if await used_in_store(redis_url) == pytest.approx(0.01):
            break
        await asyncio.sleep(0.02)
    assert await used_in_store(redis_url) == pytest.approx(0.01)
    await ledger.close()


async def test_close_sends_the_settlements_waiting_to_be_carried(redis_url: str) -> None:
    """Shutdown right after a charge sends it: the store counts it, nothing stays held."""
    ledger = book(redis_url, today_clock(), DOLLAR)
    admission = await ledger.admit(BudgetRequest(1000, 1000), [ledger.budgets.target("big")])
    admission.charge(Usage(1000, 0))
    await ledger.close()
    assert await used_in_store(redis_url) == pytest.approx(0.01)


async def test_settlements_carried_by_a_failed_admission_are_queued_for_retry(
    redis_factory: Callable[..., RedisServer],
) -> None:
    """An admission that fails (Redis down) puts the settlements it carried in the retry queue, and
    they count once the store is back."""
    server = redis_factory()
    ledger = book(server.url, today_clock(), DOLLAR)
    target = [ledger.budgets.target("big")]
    admission = await ledger.admit(BudgetRequest(1000, 1000), target)
    admission.charge(Usage(1000, 0))  # $0.01, waiting to be carried
    server.kill()
    assert (await ledger.admit(BudgetRequest(1, 1), target)).decision.store == "fallback"
    assert ledger.stats.pending >= 2  # the carried settlement and the lost reservation's release
    server.start()
    await ledger.close(drain_s=5)
    assert await used_in_store(server.url) == pytest.approx(0.01)


async def test_a_dead_store_is_one_log_line_per_interval(redis_factory: Callable[..., RedisServer]) -> None:
    """Calls failing against a killed Redis write one ``budget_store_failing`` warning per
    ``log_interval_s``, naming the Redis client's error, not one line per request."""
    logs = io.BytesIO()
    configure_logging("info", stream=logs, cache=False)
    server = redis_factory()
    ledger = book(server.url, today_clock(), DOLLAR, breaker={"failures": 100})
    target = [ledger.budgets.target("big")]
    server.kill()
    for _ in range(5):
        await ledger.admit(BudgetRequest(1000, 1000), target)
    await ledger.close(drain_s=0)
    lines = [orjson.loads(line) for line in logs.getvalue().splitlines()]
    failing = [line for line in lines if line["event"] == "budget_store_failing"]
    assert len(failing) == 1
    assert (failing[0]["operation"], failing[0]["store"], failing[0]["failures"]) == ("reserve", server.url, 1)
    assert failing[0]["error"] == "ConnectionError"
    assert ledger.stats.store_errors >= 5
