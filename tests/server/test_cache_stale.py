"""The last resort ``kind: cache`` (stale-if-error): an expired entry within the stale window answers
when every target of the chain failed, marked stale; without one the route answers as ``error`` does."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import openai_client
from .cache_helpers import age_within, ask, cache_policy, written

LAST_RESORT = "{backoff: {base_s: 0.01, cap_s: 0.02}, max_attempts_per_target: 1, last_resort: {kind: cache}}"
ALL_FAIL = {"x-fake-fault": "status=503"}


async def test_an_expired_entry_answers_when_every_target_failed(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Past ttl_s, inside stale_s, a chain whose two targets both fail serves the entry marked stale."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(
        cache_policy(urls, cache="{enabled: true, ttl_s: 0.05, stale_s: 60}", resilience=LAST_RESORT)
    )
    asked = time.monotonic()
    live, _ = await ask(running)
    await written(running)
    await asyncio.sleep(0.1)  # past ttl_s
    stale, raw = await ask(running, headers=ALL_FAIL)
    assert raw.headers["x-sidecar-cache"] == "stale"
    assert raw.headers["x-sidecar-degraded"] == "cache"
    assert age_within(raw, 0, asked)
    assert raw.headers["x-sidecar-attempts"] == "2"
    assert stale.choices[0].message.content == live.choices[0].message.content
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert (access["cache"], access["outcome"]) == ("stale", "degraded")


async def test_an_expired_entry_is_not_a_hit(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Past ttl_s an entry is a miss while the targets answer: the upstream is called again."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, ttl_s: 0.05, stale_s: 60}"))
    await ask(running)
    await written(running)
    await asyncio.sleep(0.1)  # past ttl_s
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "miss"


async def test_without_an_entry_the_last_resort_is_the_error(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """Every target failed and nothing is stored: 503 marked x-sidecar-degraded: cache-unavailable."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(cache_policy(urls, cache="{enabled: true, stale_s: 60}", resilience=LAST_RESORT))
    with pytest.raises(openai.InternalServerError) as failure:
        await ask(running, headers=ALL_FAIL)
    assert failure.value.status_code == 503
    assert failure.value.response.headers["x-sidecar-degraded"] == "cache-unavailable"


async def test_an_entry_past_the_stale_window_is_not_served(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """An entry older than ttl_s + stale_s is not served by the last resort."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(
        cache_policy(urls, cache="{enabled: true, ttl_s: 0.05, stale_s: 0.05}", resilience=LAST_RESORT)
    )
    await ask(running)
    await written(running)
    await asyncio.sleep(0.15)  # past ttl_s + stale_s
    with pytest.raises(openai.InternalServerError):
        await ask(running, headers=ALL_FAIL)


async def test_a_streaming_caller_gets_the_stale_answer_as_a_stream(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """The stale answer reaches a streaming caller as a stream that ends cleanly."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(
        cache_policy(urls, cache="{enabled: true, ttl_s: 0.05, stale_s: 60}", resilience=LAST_RESORT)
    )
    live, _ = await ask(running)
    await written(running)
    await asyncio.sleep(0.1)  # past ttl_s
    async with openai_client(running) as client:
        stream = await client.chat.completions.create(
            model="cached",
            temperature=0,
            stream=True,
            messages=[{"role": "user", "content": "classify this ticket please"}],
            extra_headers=ALL_FAIL,
        )
        text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert text == live.choices[0].message.content


async def test_the_last_resort_finds_the_entries_a_reload_keeps_the_key_of(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """An answer stored before a reload that adds ``last_resort: {kind: cache}`` (the route's key unchanged)
    is its stale answer once every target fails; after a reload that changes the chain (a new key space:
    docs/caching.md, "The key") no entry of the old chain is, and the route answers 503."""
    urls = [await fake("f0"), await fake("f1"), await fake("f2")]
    cache = "{enabled: true, ttl_s: 0.05, stale_s: 60}"
    running = await sidecar(cache_policy(urls[:2], cache=cache))
    live, _ = await ask(running)
    await written(running)
    await asyncio.sleep(0.1)  # past ttl_s
    await running.reload(cache_policy(urls[:2], cache=cache, resilience=LAST_RESORT))
    stale, raw = await ask(running, headers=ALL_FAIL)
    assert (raw.headers["x-sidecar-cache"], raw.headers["x-sidecar-degraded"]) == ("stale", "cache")
    assert stale.choices[0].message.content == live.choices[0].message.content
    await running.reload(cache_policy(urls, cache=cache, resilience=LAST_RESORT))
    with pytest.raises(openai.InternalServerError) as failure:
        await ask(running, headers=ALL_FAIL)
    assert failure.value.response.headers["x-sidecar-degraded"] == "cache-unavailable"
