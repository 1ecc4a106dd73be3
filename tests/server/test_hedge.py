"""Hedged requests: a slow first target races the next one; the first answer wins, the other is cancelled."""

from __future__ import annotations

import time

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from .chain import calls, chat

# The slow first target's delay: far past what the hedge and the second target take on a loaded machine (a
# suite at load 13 served the hedge in 2.7 s), so the bound below tells "hedged" from "waited".
SLOW_MS = 20_000


def hedged_policy(urls: list[str], after_s: float = 0.2) -> str:
    text = "version: 1\nproviders:\n" + "".join(provider_block(f"p{i}", u, "openai") for i, u in enumerate(urls))
    text += "models:\n" + "".join(f"  m{i}: {{provider: p{i}, model: up{i}}}\n" for i in range(len(urls)))
    text += "routes:\n  - name: chain\n    match: {model: chain}\n    target: [m0, m1]\n"
    text += f"    resilience: {{hedge: {{after_s: {after_s}}}}}\n"
    return text


async def test_slow_first_target_is_hedged(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """With no first byte after hedge.after_s, the next target answers and the slow call is cancelled."""
    urls = [await fake("f0", latency_ms=SLOW_MS), await fake("f1")]
    running = await sidecar(hedged_policy(urls))
    started = time.monotonic()
    status, headers, _ = await chat(running)
    assert status == 200
    assert time.monotonic() - started < SLOW_MS / 2000  # did not wait for the slow target
    assert headers["x-sidecar-model"] == "m1"
    assert headers["x-sidecar-fallback-reason"] == "hedged"
    access = [line for line in running.log_lines() if line.get("event") == "access"][-1]
    assert "m0:cancelled" in access["attempt_log"]


async def test_fast_first_target_is_not_hedged(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A first target that answers before after_s is the only call made."""
    urls = [await fake("f0"), await fake("f1")]
    running = await sidecar(hedged_policy(urls, after_s=30))  # far past the answer, however slow the machine
    status, headers, _ = await chat(running)
    assert status == 200 and headers["x-sidecar-model"] == "m0"
    assert await calls(urls[1]) == 0


async def test_hedged_stream_is_served_whole_by_the_winner(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream whose first target is slow to start is served, complete, by the hedge."""
    urls = [await fake("f0", latency_ms=SLOW_MS), await fake("f1", tokens_per_s=200)]
    running = await sidecar(hedged_policy(urls))
    client = openai_client(running)
    started = time.monotonic()
    stream = await client.chat.completions.create(
        model="chain", messages=[{"role": "user", "content": "hedge me please"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert "hedge me please" in text
    assert time.monotonic() - started < SLOW_MS / 2000  # did not wait for the slow target
    await client.close()
