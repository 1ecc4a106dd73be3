"""The store contract, run against both stores: the local one and a real Redis behave the same."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from sidecar.budgets.redis_store import RedisStore
from sidecar.budgets.spec import StoreSpec
from sidecar.budgets.store import NO_CAP, CounterRef, LocalStore, Store

from .conftest import T0
from .redis_ledgers import GENEROUS

NOW = T0 + 10
HOLD = NOW + 100
KEEP = int(time.time()) + 3600  # a real Redis expires keys by its own clock
A = CounterRef("test:{budgets}:c:a", KEEP, 100)
B = CounterRef("test:{budgets}:c:b", KEEP, NO_CAP)
C = CounterRef("test:{budgets}:c:c", KEEP, NO_CAP)


@pytest.fixture(params=["local", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    """Each contract test runs on the local store and on a RedisStore over the session's redis-server."""
    if request.param == "local":
        yield LocalStore()
        return
    url = request.getfixturevalue("redis_url")
    shared = RedisStore(StoreSpec(url=url, key_prefix="test", **GENEROUS))
    yield shared
    await shared.close()


async def test_a_reservation_holds_on_every_counter(store: Store) -> None:
    """An accepted reservation adds its amount to each counter's use."""
    result = await store.reserve("r1", [A, B], [30, 7], NOW, HOLD)
    assert (result.refused, result.uses) == (-1, (30, 7))
    assert await store.read([A, B], NOW) == (30, 7)


async def test_a_refusal_changes_nothing(store: Store) -> None:
    """When one capped counter would pass its cap, no counter is held (all or nothing)."""
    await store.reserve("r1", [A], [90], NOW, HOLD)
    result = await store.reserve("r2", [B, A], [5, 11], NOW, HOLD)
    assert (result.refused, result.uses) == (1, (0, 90))
    assert await store.read([A, B], NOW) == (90, 0)


async def test_the_cap_itself_is_allowed(store: Store) -> None:
    """A reservation that brings use exactly to the cap is accepted; the next unit is refused."""
    assert (await store.reserve("r1", [A], [100], NOW, HOLD)).refused == -1
    assert (await store.reserve("r2", [A], [1], NOW, HOLD)).refused == 0


async def test_an_uncapped_counter_never_refuses(store: Store) -> None:
    """A counter without cap (warn and downgrade limits) accepts any amount."""
    assert (await store.reserve("r1", [B], [10**12], NOW, HOLD)).refused == -1


async def test_settlement_replaces_the_hold_by_the_actual_use(store: Store) -> None:
    """Settling drops the reservation's hold and adds what the call really used."""
    await store.reserve("r1", [A, B], [50, 50], NOW, HOLD)
    await store.reserve("r2", [A], [10], NOW, HOLD)
    await store.settle("r1", [A, B], [50, 50], [20, 0], HOLD)
    assert await store.read([A, B], NOW) == (30, 0)


async def test_a_release_frees_the_whole_hold(store: Store) -> None:
    """A release (a settlement of zeros) leaves the counters as they were before the reservation."""
    await store.reserve("r1", [A], [60], NOW, HOLD)
    await store.settle("r1", [A], [60], [0], HOLD)
    assert await store.read([A], NOW) == (0,)


async def test_a_hold_expires_by_itself(store: Store) -> None:
    """A reservation never settled (a killed pod) stops counting ``hold_until - now`` seconds after it
    was made, by the store's clock (a real Redis counts by its own: real time here)."""
    now = time.time()
    await store.reserve("r1", [A], [60], now, now + 1)
    assert await store.read([A], time.time()) == (60,)
    await asyncio.sleep(1.1)
    now = time.time()
    assert await store.read([A], now) == (0,)
    assert (await store.reserve("r2", [A], [100], now, now + 100)).refused == -1


async def test_a_hold_on_several_counters_expires_from_all_of_them(store: Store) -> None:
    """An unsettled reservation on two counters stops counting on both when its lifetime has passed."""
    now = time.time()
    await store.reserve("r1", [A, B], [60, 7], now, now + 1)
    await asyncio.sleep(1.1)
    now = time.time()
    assert await store.read([A, B], now) == (0, 0)
    assert (await store.reserve("r2", [B, A], [1, 100], now, now + 100)).uses == (1, 100)


async def test_a_settlement_after_expiry_still_counts_the_use(store: Store) -> None:
    """A call that outlived its hold still charges its actual use, and the expired hold is not freed twice."""
    await store.reserve("r1", [A], [60], NOW, HOLD)
    await store.reserve("r2", [A], [5], HOLD, HOLD + 100)
    await store.settle("r1", [A], [60], [25], HOLD + 1)
    assert await store.read([A], HOLD + 1) == (30,)


async def test_a_charge_without_reservation_adds_to_used(store: Store) -> None:
    """A settlement whose reservation the store never saw (local fallback) still counts its use."""
    await store.settle("fallback-1", [A], [0], [42], HOLD)
    assert await store.read([A], NOW) == (42,)


def test_hold_changes_nothing_when_a_counter_would_pass_its_stop() -> None:
    """The fast path's hold: one counter past its stop level refuses, and the counters before it are
    left as they were."""
    local = LocalStore()
    cells = local.cells([A, B])
    assert local.hold(1, cells, (0, 1), (30, 7), [100, 100], NOW, HOLD)
    assert not local.hold(2, cells, (0, 1), (30, 94), [100, 100], NOW, HOLD)
    assert local.read_now([A, B], NOW) == (30, 7)


def test_a_hold_is_settled_and_expires_like_a_reservation() -> None:
    """A hold made over resolved counters is replaced by its actual use when settled, and a second
    hold that is never settled stops counting at its expiry."""
    local = LocalStore()
    cells = local.cells([A, B])
    local.hold(1, cells, (0, 1), (30, 7), [100, 100], NOW, HOLD)
    local.settle_now(1, [A, B], [12, 3])
    local.hold(2, cells, (0, 1), (5, 5), [100, 100], NOW, HOLD)
    assert (local.read_now([A, B], NOW), local.read_now([A, B], HOLD)) == ((17, 8), (12, 3))


def test_a_hold_takes_each_counters_amount_from_its_measure() -> None:
    """Counters sharing a measure take the same unit of a (usd, tokens, requests) hold, and its settlement
    in the same form replaces each one's amount by the actual unit of its measure, once."""
    local = LocalStore()
    cells = local.cells([A, B, C])
    assert local.hold(1, cells, (1, 2, 1), (900, 40, 1), [100, 100, 100], NOW, HOLD)
    assert local.read_now([A, B, C], NOW) == (40, 1, 40)
    assert local.settle_held(1, (700, 25, 1))
    assert not local.settle_held(1, (700, 25, 1))
    assert local.read_now([A, B, C], NOW) == (25, 1, 25)
