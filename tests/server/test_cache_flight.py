"""Single flight through the real sidecar, where it can go wrong for the requests that wait: the leader's
client goes away, the leader's answer is an error, and leader and followers differ in streaming. The
upstream holds each answer until the test releases it (a streamed one after its first event)."""

from __future__ import annotations

import asyncio

import aiohttp

from ..conftest import SidecarFactory
from ..translate import streams
from ..upstream.raw import UpstreamFactory
from .cache_helpers import cache_policy
from .held_answers import WAITING, call, held, in_flight


async def test_followers_get_an_answer_when_the_leaders_client_goes_away(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The leader's client (streaming, or not) disconnects while four requests (two streaming) wait on
    its call: the followers do not hang; one of them leads a new call, the others are served from it."""
    for leader_streams in (False, True):
        release = asyncio.Event()
        upstream = await raw_upstream(held(release))
        running = await sidecar(cache_policy([upstream.base], cache=WAITING))
        async with aiohttp.ClientSession() as leaving, aiohttp.ClientSession() as staying:
            leader = asyncio.create_task(call(leaving, running, leader_streams))
            await in_flight(running, 1)
            followers = asyncio.gather(*(call(staying, running, i % 2 == 0) for i in range(4)))
            await in_flight(running, 5)
            leader.cancel()
            await leaving.close()
            await in_flight(running, 5, below=True)
            release.set()
            answers = await asyncio.wait_for(followers, 10)
        assert sorted(state for _, state, _ in answers) == ["hit", "hit", "hit", "miss"]
        assert {(status, text) for status, _, text in answers} == {(200, streams.TEXT)}
        assert len(upstream.requests) == 2


async def test_followers_of_a_leader_that_failed_make_their_own_calls(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """The leader's call ends in the upstream's 400: the leader's app gets that error, and each of the
    four waiting requests (two streaming) goes its own way at once (its own call, a good answer), not
    served the error and not left waiting out ``single_flight_wait_s``."""
    release = asyncio.Event()
    upstream = await raw_upstream(held(release, first_fails=True))
    running = await sidecar(cache_policy([upstream.base], cache=WAITING))
    async with aiohttp.ClientSession() as session:
        leader = asyncio.create_task(call(session, running, False))
        await in_flight(running, 1)
        followers = asyncio.gather(*(call(session, running, i % 2 == 0) for i in range(4)))
        await in_flight(running, 5)
        release.set()
        assert await asyncio.wait_for(leader, 10) == (400, "miss", "")
        answers = await asyncio.wait_for(followers, 5)
    assert answers == [(200, "miss", streams.TEXT)] * 4
    assert len(upstream.requests) == 5


async def test_a_streamed_leader_serves_whole_followers_and_a_whole_one_streamed_ones(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """A streaming leader's answer, assembled as it passes, serves four whole requests waiting on it; a
    whole leader's answer serves four streaming ones: one upstream call each time."""
    for leader_streams in (True, False):
        release = asyncio.Event()
        upstream = await raw_upstream(held(release))
        running = await sidecar(cache_policy([upstream.base], cache=WAITING))
        async with aiohttp.ClientSession() as session:
            leader = asyncio.create_task(call(session, running, leader_streams))
            await in_flight(running, 1)
            followers = asyncio.gather(*(call(session, running, not leader_streams) for _ in range(4)))
            await in_flight(running, 5)
            release.set()
            assert await asyncio.wait_for(leader, 10) == (200, "miss", streams.TEXT)
            assert await asyncio.wait_for(followers, 10) == [(200, "hit", streams.TEXT)] * 4
        assert len(upstream.requests) == 1
