"""Single flight through the real sidecar, where it can go wrong for the requests that wait: the leader's
client goes away, the leader's answer is an error, and leader and followers differ in streaming. The
upstream holds each answer until the test releases it (a streamed one after its first event)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import orjson

from ..conftest import RunningSidecar, SidecarFactory
from ..translate import streams
from ..translate.responses import openai_body
from ..upstream.raw import ServerConn, UpstreamFactory, response
from .cache_helpers import PROMPT, cache_policy

WAITING = "{enabled: true, single_flight_wait_s: 10}"
ERROR = b'{"error": {"message": "bad request", "type": "invalid_request_error"}}'


def held(release: asyncio.Event, *, first_fails: bool = False) -> Callable[[ServerConn], Awaitable[None]]:
    """An OpenAI upstream that answers once ``release`` is set: a stream's first event at once, the rest
    then; a whole answer then (the very first request's a 400 with ``first_fails``)."""
    seen: list[int] = []

    async def handler(conn: ServerConn) -> None:
        while (request := await conn.read_request()) is not None:
            seen.append(1)
            first = len(seen) == 1
            if b'"stream":true' not in request.body:
                await release.wait()
                if first_fails and first:
                    await conn.send(response(ERROR, "400 Bad Request", "content-type: application/json\r\n"))
                else:
                    await conn.send(
                        response(orjson.dumps(openai_body("text")), headers="content-type: application/json\r\n")
                    )
                continue
            head, _, rest = streams.OPENAI_TEXT.encode().partition(b"\n\n")
            await conn.send(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n"
                + _chunk(head + b"\n\n")
            )
            await release.wait()
            try:
                await conn.send(_chunk(rest) + b"0\r\n\r\n")
            except ConnectionError:
                return

    return handler


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def call(session: aiohttp.ClientSession, running: RunningSidecar, stream: bool) -> tuple[int, str, str]:
    """One chat request: its status, x-sidecar-cache and the answer's text (whole or streamed)."""
    body = {"model": "cached", "messages": PROMPT, "temperature": 0, "stream": stream}
    async with session.post(f"{running.url}/v1/chat/completions", json=body) as answer:
        data = await answer.read()
        state = answer.headers["x-sidecar-cache"]
        if answer.status != 200:
            return answer.status, state, ""
    if not stream:
        return 200, state, orjson.loads(data)["choices"][0]["message"]["content"]
    events = [line[6:] for line in data.decode().splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
    text = "".join(c["delta"].get("content") or "" for e in events for c in orjson.loads(e)["choices"])
    return 200, state, text


async def in_flight(running: RunningSidecar, count: int, *, below: bool = False) -> None:
    """Wait (at most 10 s) until ``count`` requests (or, ``below``, fewer) are in the sidecar."""
    for _ in range(1000):
        async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as answer:
            text = await answer.text()
        line = next(line for line in text.splitlines() if line.startswith("llm_sidecar_requests_in_flight "))
        if (float(line.split()[1]) < count) if below else (float(line.split()[1]) >= count):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"in flight never {'below' if below else 'reached'} {count} within 10 s")


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
