"""How other gateways' caches failed their users (reference/intelligence.md, with their issue numbers),
played against this one where no other test already does (the others are listed in docs/caching.md,
"What other gateways got wrong")."""

from __future__ import annotations

import asyncio

import aiohttp
import redis.asyncio as redis_client

from ..conftest import FakeFactory, SidecarFactory
from ..redis_server import RedisServer
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory
from .cache_helpers import PROMPT, cache_policy, redis_store, stored, upstream_calls
from .held_answers import WAITING, call, held, in_flight


async def test_a_streamed_answer_stored_in_redis_is_hit_by_the_next_stream(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """vllm semantic-router #2030 (streamed entries in Redis never hit: stored under another key than the
    one looked up): a streamed request's answer, stored in Redis, answers the next streamed request (a
    hit, the same text), in a second sidecar too."""
    url = await fake("f0")
    policy = cache_policy([url], store=redis_store(redis_server.url))
    first, second = await sidecar(policy), await sidecar(policy)
    texts, states = [], []
    for running in (first, first, second):
        async with openai_client(running) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="cached", messages=PROMPT, temperature=0, stream=True
            )
            states.append(raw.headers["x-sidecar-cache"])
            texts.append("".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices]))
        await stored(redis_server.url)
    assert states == ["miss", "hit", "hit"] and len(set(texts)) == 1 and texts[0]
    assert await upstream_calls(first, url) == 1


async def test_a_streamed_hit_is_logged_and_traced_as_a_hit(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """LiteLLM #5401 (``cache_hit`` logged as None for streams): a streamed hit's access line says
    ``cache: hit`` and its span has the ``sidecar.cache`` event, as a whole hit's do."""
    running = await sidecar(cache_policy([await fake("f0")]))
    for _ in range(2):
        async with openai_client(running) as client:
            stream = await client.chat.completions.create(model="cached", messages=PROMPT, temperature=0, stream=True)
            [chunk async for chunk in stream]
    lines = [line for line in running.log_lines() if line.get("event") == "access"]
    assert [(line["cache"], line["stream"]) for line in lines] == [("miss", True), ("hit", True)]
    server = [s for s in running.spans.get_finished_spans() if s.kind.name == "SERVER"]
    events = [e for e in server[-1].events if e.name == "sidecar.cache"]
    assert events and events[0].attributes is not None and events[0].attributes["sidecar.cache.result"] == "hit"


async def test_no_answer_names_the_key_its_entry_is_stored_under(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """LiteLLM #29955 / #8570 (an ``x-litellm-cache-key`` header on hits lets one tenant probe what
    another asked): no header of a miss, a hit or a bypass carries the entry's key or its hash."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    answers = []
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {}, {"x-sidecar-cache": "bypass"}):
            body = {"model": "cached", "messages": PROMPT, "temperature": 0}
            async with session.post(f"{running.url}/v1/chat/completions", json=body, headers=headers) as answer:
                answers.append((answer.headers.copy(), await answer.read()))
            await stored(redis_server.url)
    async with redis_client.from_url(redis_server.url) as client:
        (key,) = await client.keys("*")
    digest = key.decode().rsplit(":", 1)[1]
    assert [h["x-sidecar-cache"] for h, _ in answers] == ["miss", "hit", "bypass"]
    for headers, body in answers:
        assert not any(digest[:16] in value for value in headers.values())
        assert digest[:16].encode() not in body


async def test_requests_served_by_one_call_keep_their_own_traces(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory
) -> None:
    """LiteLLM #40124 (a cached object leaked one request's OTel parent span into concurrent requests of
    the same key): four requests served by one leader's call each have their own trace, none a child of
    another request's span."""
    release = asyncio.Event()
    upstream = await raw_upstream(held(release))
    running = await sidecar(cache_policy([upstream.base], cache=WAITING))
    async with aiohttp.ClientSession() as session:
        asking = asyncio.gather(*(call(session, running, False) for _ in range(4)))
        await in_flight(running, 4)
        release.set()
        assert sorted(state for _, state, _ in await asking) == ["hit", "hit", "hit", "miss"]
    server = [s for s in running.spans.get_finished_spans() if s.kind.name == "SERVER"]
    assert len(server) == 4
    assert len({s.context.trace_id for s in server if s.context is not None}) == 4
    assert all(s.parent is None for s in server)
