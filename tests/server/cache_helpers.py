"""Policies and calls shared by the response cache's tests through the real sidecar."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import redis.asyncio as redis_client

from ..conftest import RunningSidecar, provider_block
from ..sdk_clients import openai_client
from ..waiting import until
from .chain import CONNECT
from .metric_samples import metric_samples

PROMPT = [{"role": "user", "content": "classify this ticket please"}]


def cache_policy(
    urls: list[str],
    *,
    speaks: str = "openai",
    cache: str = "{enabled: true}",
    store: str = "",
    resilience: str = "{backoff: {base_s: 0.01, cap_s: 0.02}, " + CONNECT + "}",
    price: str = "{input_per_mtok: 1.0, output_per_mtok: 2.0}",
) -> str:
    """A route ``cached`` (model ``cached``) over a chain of fake providers speaking ``speaks``, caching
    with ``cache``; ``store`` is the top-level ``cache:`` block's YAML flow text, if any."""
    text = f"version: 1\ndefaults:\n  resilience: {resilience}\nproviders:\n"
    text += "".join(provider_block(f"p{i}", url, speaks) for i, url in enumerate(urls))
    text += "models:\n" + "".join(
        f"  m{i}: {{provider: p{i}, model: up{i}, max_output_tokens: 1024, price: {price}}}\n" for i in range(len(urls))
    )
    chain = ", ".join(f"m{i}" for i in range(len(urls)))
    text += f"routes:\n  - {{name: cached, match: {{model: cached}}, target: [{chain}], cache: {cache}}}\n"
    if store:
        text += f"cache: {store}\n"
    return text


async def ask(running: RunningSidecar, *, headers: dict[str, str] | None = None, **body: Any) -> tuple[Any, Any]:
    """An OpenAI chat completion (temperature 0 unless given): the parsed answer and the HTTP response."""
    params = {"model": "cached", "messages": PROMPT, "temperature": 0, **body}
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(**params, extra_headers=headers or {})
    return raw.parse(), raw


def age_within(raw: Any, least: int, since: float) -> bool:
    """Whether the answer's ``Age`` is at least ``least`` seconds (the time the test let pass since the entry
    was stored) and at most the seconds since ``since`` (``time.monotonic()`` taken before the request that
    stored it was sent): on a loaded machine the next request may come a second or more later than planned."""
    age = int(raw.headers["age"])
    return least <= age <= time.monotonic() - since


def without(value: Any, names: frozenset[str]) -> Any:
    """``value`` (parsed JSON, or an SDK's ``model_dump``) without the keys ``names`` at any depth."""
    if isinstance(value, dict):
        return {k: without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [without(v, names) for v in value]
    return value


async def upstream_calls(running: RunningSidecar, url: str) -> int:
    return len(await running.fake_requests(url))


async def metrics_text(running: RunningSidecar) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/metrics") as response:
        return await response.text()


# The sidecar runs on the test's event loop, and the first request through an SDK in a process holds that
# loop for seconds on a loaded machine (anthropic's: 3.5-5.6 s at a load of 18): a Redis operation under
# way meanwhile times out once the loop runs again (its connect too), and two failures open
# ``redis_store``'s breaker for 30 s (a 1 s timeout_s saw no entry written, 10 times in 10 at load 16-22).
# So the longest waits the schema allows; a wrong password still fails at once.
REDIS_WAITS = "timeout_s: 10, connect_timeout_s: 10"


def redis_store(url: str, extra: str = "") -> str:
    return f"{{redis: {{url: '{url}', {REDIS_WAITS}{extra}}}, breaker: {{minimum_calls: 2, open_s: 30}}}}"


async def written(running: RunningSidecar, count: int = 1) -> None:
    """Wait (at most 10 s) until the sidecar's cache has written ``count`` entries (its memory store or
    Redis): a miss writes its entry after its answer has gone out, later still on a loaded machine."""
    writes = "llm_sidecar_cache_stores_total"
    await until(lambda: metric_samples(running), lambda samples: samples.get(writes, 0) >= count)


async def stored(url: str, *, password: str | None = None) -> None:
    """Wait (at most 10 s) until the Redis at ``url`` holds an entry: a miss writes it after its answer
    has gone out, so the next request can only hit once the write has landed."""
    async with redis_client.from_url(url, password=password) as client:
        for _ in range(200):
            if await client.dbsize() > 0:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("no entry was written to Redis within 10 s")
