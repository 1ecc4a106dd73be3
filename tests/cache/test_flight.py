"""Single flight: 50 identical concurrent requests make one call to a real (fake) provider and all get
its answer; a failed leader releases its followers at once; a follower's wait is bounded and its
giving up harms no one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import ClientSession

from sidecar.cache import CacheStoreSpec, Entry, Follower, Leader, ResponseCache, RouteCacheSpec, entry_from_response
from sidecar.cache.entry import TextPiece
from sidecar.dialects import Dialect
from sidecar.translate import parse_chat_response
from sidecar.translate.common import FinishReason

from ..conftest import FakeFactory

SETTINGS = RouteCacheSpec(enabled=True, single_flight_wait_s=10)
KEY = "v1:same-request"
# A woken follower returns at once; one never woken would return None only at the end of its own wait, so
# the test's bound sits between the two: generous for a loaded machine, well short of the wait.
WOKEN_WITHIN_S = 30
FOLLOWER_WAIT_S = 2 * WOKEN_WITHIN_S


def _entry(text: str) -> Entry:
    return Entry((TextPiece(text),), FinishReason.STOP, None, None, "m", "t", "p", 0.0, None)


async def _request(cache: ResponseCache, session: ClientSession, url: str, calls: list[int]) -> Entry:
    """What the cache stage will do for one request: lookup, single flight, else one upstream call."""
    lookup = await cache.lookup(KEY, SETTINGS)
    if lookup.entry is not None:
        return lookup.entry
    flight = cache.flights.join(KEY)
    if isinstance(flight, Follower):
        entry = await flight.wait(SETTINGS.single_flight_wait_s)
        if entry is not None:
            return entry
        flight = cache.flights.join(KEY)  # the leader failed: go our own way
    assert isinstance(flight, Leader)
    with flight:
        calls.append(1)
        body = {"model": "m", "messages": [{"role": "user", "content": "same question"}], "temperature": 0}
        async with session.post(f"{url}/v1/chat/completions", json=body) as response:
            answer: dict[str, Any] = await response.json()
        entry = entry_from_response(
            parse_chat_response(answer, Dialect.OPENAI), model="m", target="t", provider="p", stored_at=0, cost_usd=0.01
        )
        assert entry is not None
        await cache.store(KEY, entry, SETTINGS)
        flight.publish(entry)
        return entry


async def test_fifty_identical_requests_make_one_upstream_call(fake: FakeFactory) -> None:
    """50 concurrent identical requests: the provider sees one call, and all 50 get its answer."""
    url = await fake(latency_ms=200)
    cache = ResponseCache.from_spec(CacheStoreSpec())
    calls: list[int] = []
    async with ClientSession() as session:
        entries = await asyncio.gather(*(_request(cache, session, url, calls) for _ in range(50)))
        async with session.get(f"{url}/_fake/stats") as response:
            stats = await response.json()
    assert stats["requests"] == 1
    assert len(calls) == 1
    assert {e.pieces for e in entries} == {(TextPiece("same question"),)}
    assert cache.stats.coalesced == 49
    assert len(cache.flights) == 0


async def test_failed_leader_releases_followers_at_once() -> None:
    """A leader that fails (leaves its block unpublished) wakes its followers with None, promptly."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    leader = cache.flights.join(KEY)
    assert isinstance(leader, Leader)
    followers = [cache.flights.join(KEY) for _ in range(5)]
    assert all(isinstance(f, Follower) for f in followers)
    waits = [asyncio.create_task(f.wait(FOLLOWER_WAIT_S)) for f in followers if isinstance(f, Follower)]
    await asyncio.sleep(0)

    async def fail() -> None:
        with leader:
            raise ConnectionError("upstream down")

    with pytest.raises(ConnectionError):
        await fail()
    results = await asyncio.wait_for(asyncio.gather(*waits), timeout=WOKEN_WITHIN_S)
    assert results == [None] * 5
    assert cache.stats.coalesced == 0
    assert isinstance(cache.flights.join(KEY), Leader)  # the next request leads a new flight


async def test_follower_wait_is_bounded() -> None:
    """A follower whose leader takes too long gets None after its wait, and it is counted."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    leader = cache.flights.join(KEY)
    follower = cache.flights.join(KEY)
    assert isinstance(leader, Leader) and isinstance(follower, Follower)
    assert await follower.wait(0.05) is None
    assert cache.stats.flight_timeouts == 1
    leader.publish(_entry("late"))


async def test_a_follower_giving_up_does_not_cancel_the_others() -> None:
    """Cancelling one follower (its client left) leaves the flight and the other followers intact."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    leader = cache.flights.join(KEY)
    first, second = cache.flights.join(KEY), cache.flights.join(KEY)
    assert isinstance(leader, Leader) and isinstance(first, Follower) and isinstance(second, Follower)
    gone = asyncio.create_task(first.wait(FOLLOWER_WAIT_S))
    staying = asyncio.create_task(second.wait(FOLLOWER_WAIT_S))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    leader.publish(_entry("answer"))
    entry = await asyncio.wait_for(staying, timeout=WOKEN_WITHIN_S)
    assert entry is not None and entry.pieces == (TextPiece("answer"),)
    assert gone.cancelled()


async def test_publishing_twice_keeps_the_first_answer() -> None:
    """Only the first publish counts; leaving the block afterwards changes nothing."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    leader = cache.flights.join(KEY)
    follower = cache.flights.join(KEY)
    assert isinstance(leader, Leader) and isinstance(follower, Follower)
    with leader:
        leader.publish(_entry("first"))
        leader.publish(_entry("second"))
    entry = await follower.wait(1)
    assert entry is not None and entry.pieces == (TextPiece("first"),)


async def test_an_abandoned_flight_tells_its_followers_to_join_again() -> None:
    """A leader whose caller left abandons the flight: its followers wake with None and ``abandoned``
    set, and the first to join again leads a new flight."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    leader = cache.flights.join(KEY)
    follower = cache.flights.join(KEY)
    assert isinstance(leader, Leader) and isinstance(follower, Follower)
    waiting = asyncio.create_task(follower.wait(FOLLOWER_WAIT_S))
    await asyncio.sleep(0)
    leader.abandon()
    assert await asyncio.wait_for(waiting, timeout=WOKEN_WITHIN_S) is None
    assert follower.abandoned
    assert isinstance(cache.flights.join(KEY), Leader)  # the first to join again leads


async def test_a_refresh_follows_a_call_under_way_but_not_an_answer_held_for_its_write() -> None:
    """``join(key, made=False)`` (a refresh): a Follower while the leader's call is under way (a storm of
    identical refreshes still makes one call), None (its own call) once the answer is made and the flight
    is only held until its write to Redis lands."""
    cache = ResponseCache.from_spec(CacheStoreSpec())
    leader = cache.flights.join(KEY)
    assert isinstance(leader, Leader)
    assert isinstance(cache.flights.join(KEY, made=False), Follower)
    write = asyncio.get_running_loop().create_future()
    leader.publish(_entry("answer"), held_until=write)
    assert isinstance(cache.flights.join(KEY), Follower)  # a lookup Redis cannot answer yet follows
    assert cache.flights.join(KEY, made=False) is None
    write.set_result(True)
    await asyncio.sleep(0)
    assert isinstance(cache.flights.join(KEY, made=False), Leader)
