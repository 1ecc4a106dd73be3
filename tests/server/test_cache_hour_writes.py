"""A cached Anthropic answer that wrote the prompt cache for five minutes and for an hour keeps the split
in its entry (``cache.entry``: the usage's sixth count), so that a hit read from Redis reports the usage
the live answer did (``cache_creation``), and the cost it saved is the answer's. A real sidecar, a raw
Anthropic upstream, a real redis-server, the official Anthropic SDK."""

from __future__ import annotations

from typing import Any

from ..conftest import SidecarFactory
from ..redis_server import RedisServer
from ..sdk_clients import anthropic_client
from ..upstream.raw import UpstreamFactory
from .anthropic_usage import HOUR_USAGE, IN, OUT, WRITE, anthropic_upstream
from .cache_helpers import metrics_text, redis_store, stored

PRICE = f"{{input_per_mtok: {IN}, output_per_mtok: {OUT}, cache_write_per_mtok: {WRITE}}}"
COST = (100 * IN + 400 * WRITE + 600 * 2 * IN + 50 * OUT) / 1e6  # 1-hour writes at twice the input price


def cached_policy(base: str, store: str) -> str:
    return (
        "version: 1\nproviders:\n"
        f"  p: {{dialect: anthropic, base_url: '{base}', api_key: {{env: P_KEY}}}}\n"
        f"models:\n  m: {{provider: p, model: m-1, price: {PRICE}}}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m], cache: {enabled: true, cacheable: always}}\n"
        f"cache: {store}\n"
    )


async def test_a_hit_from_redis_reports_the_one_hour_split_of_its_cache_writes(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, redis_server: RedisServer
) -> None:
    """The first request's answer (1,000 cache writes: 400 for five minutes, 600 for an hour) is stored in
    Redis; the same request streamed is a hit, rendered from the entry read back: its usage has the
    same split, and the saved cost is the answer's, 1-hour writes priced apart. Before, the entry kept
    no split: the hit reported its writes as five-minute ones."""
    upstream = await raw_upstream(anthropic_upstream(HOUR_USAGE))
    running = await sidecar(cached_policy(upstream.base, redis_store(redis_server.url)), env={"P_KEY": "sk-x"})
    ask: dict[str, Any] = {
        "model": "m",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with anthropic_client(running) as client:
        live = await client.messages.create(**ask)
        await stored(redis_server.url)
        async with client.messages.stream(**ask) as events:
            hit = await events.get_final_message()
    assert len(upstream.requests) == 1  # the second answer came from the cache
    assert live.usage.cache_creation is not None and hit.usage.cache_creation is not None
    assert hit.usage.cache_creation_input_tokens == 1000
    assert hit.usage.cache_creation.ephemeral_1h_input_tokens == 600
    assert hit.usage.cache_creation.ephemeral_5m_input_tokens == 400
    metrics = (await metrics_text(running)).splitlines()
    saved = [row for row in metrics if row.startswith("llm_sidecar_cache_saved_cost")]
    assert saved and abs(float(saved[0].rsplit(" ", 1)[1]) - COST) < 1e-9
