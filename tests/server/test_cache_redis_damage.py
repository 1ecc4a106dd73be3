"""Values damaged by hand in the response cache's Redis (``SET`` under a cache key): each is a miss,
answered from the upstream, counted ``damaged``; never served as it is, never a 500."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import redis.asyncio as redis_client

from ..conftest import FakeFactory, SidecarFactory
from ..redis_server import RedisServer
from ..sdk_clients import openai_client
from .cache_helpers import PROMPT, ask, cache_policy, metrics_text, redis_store, stored, upstream_calls


def _damaged(name: str, head: bytes, body: bytes) -> bytes:
    """The stored value ``head`` (the entry) and ``body`` (the template its hits are written from),
    damaged the way ``name`` says."""
    entry: dict[str, Any] = orjson.loads(head)
    if name == "garbage":
        return b"garbage"
    if name == "body_not_json":
        return head + b"\nnot json at all"
    if name == "body_cut":
        return head + b"\n" + body[: len(body) // 2]
    if name == "usage_strings":
        return orjson.dumps({**entry, "u": ["7", "7", 0, 0, 0]}) + b"\n" + body
    if name == "body_empty_object":  # valid JSON, valid in form: an answer with nothing in it
        return head + b"\n{}"
    if name == "body_without_choices":
        return head + b"\n" + orjson.dumps({**orjson.loads(body), "choices": []})
    if name == "body_of_another_dialect":
        return head + b'\n{"type":"message","role":"assistant","content":[{"type":"text","text":"x"}]}'
    if name == "no_pieces":
        return orjson.dumps({**entry, "p": []}) + b"\n" + body
    if name == "unfinished":
        return orjson.dumps({**entry, "f": None})
    if name == "stored_at_infinite":
        return orjson.dumps({**entry, "at": "inf"})
    assert name == "stop_not_text"
    return orjson.dumps({**entry, "s": [1, 2]})


DAMAGE = [
    "garbage",
    "body_not_json",
    "body_cut",
    "body_empty_object",
    "body_without_choices",
    "body_of_another_dialect",
    "no_pieces",
    "unfinished",
    "usage_strings",
    "stored_at_infinite",
    "stop_not_text",
]


@pytest.mark.parametrize("damage", DAMAGE)
async def test_a_value_damaged_in_redis_is_a_miss(
    fake: FakeFactory, sidecar: SidecarFactory, redis_server: RedisServer, damage: str
) -> None:
    """An entry's value overwritten in Redis (``damage``): the next whole request and the next stream are
    answered by the upstream (a miss, a good answer), not from the damaged bytes and not with a 500."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], store=redis_store(redis_server.url)))
    await ask(running)
    await stored(redis_server.url)
    async with redis_client.from_url(redis_server.url) as client:
        (key,) = await client.keys("*")
        head, _, body = (await client.get(key)).partition(b"\n")
        await client.set(key, _damaged(damage, head, body))
    answer, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "miss"
    assert answer.choices[0].message.content == "classify this ticket please"
    await stored(redis_server.url)
    async with redis_client.from_url(redis_server.url) as client:
        await client.set(key, _damaged(damage, head, body))
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(model="cached", messages=PROMPT, temperature=0, stream=True)
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == "classify this ticket please"
    assert await upstream_calls(running, url) == 3
    assert 'llm_sidecar_cache_store_errors_total{kind="damaged"} 2.0' in await metrics_text(running)
