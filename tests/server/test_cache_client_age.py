"""The app's ``Cache-Control: max-age=N`` and ``min-fresh=N`` through the real sidecar and the official
OpenAI SDK (RFC 9111 5.2.1.1, 5.2.1.3): an entry older than the app takes is a miss whose new answer
replaces it; a younger one is a hit with its ``Age``; odd values are ignored, never a 500."""

from __future__ import annotations

import asyncio
import time

import pytest

from ..conftest import FakeFactory, SidecarFactory
from .cache_helpers import age_within, ask, cache_policy, upstream_calls


async def test_an_entry_older_than_the_apps_max_age_is_asked_again(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """max-age=1 after the entry is over a second old: a miss (an upstream call) whose answer is stored,
    so the next request is a hit whose ``Age`` counts from that answer."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    await ask(running)
    await asyncio.sleep(1.2)
    asked = time.monotonic()
    _, raw = await ask(running, headers={"cache-control": "max-age=1"})
    assert raw.headers["x-sidecar-cache"] == "miss" and "age" not in raw.headers
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-cache"] == "hit" and age_within(raw, 0, asked)
    assert await upstream_calls(running, url) == 2


async def test_an_entry_within_the_apps_max_age_is_a_hit_with_its_age(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """max-age=60 on an entry a second old: a hit, ``Age`` at least 1, no upstream call."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url]))
    asked = time.monotonic()
    await ask(running)
    await asyncio.sleep(1.05)
    _, raw = await ask(running, headers={"cache-control": "max-age=60"})
    assert raw.headers["x-sidecar-cache"] == "hit" and age_within(raw, 1, asked)
    assert await upstream_calls(running, url) == 1


async def test_min_fresh_past_the_routes_ttl_is_a_miss(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """min-fresh=60 on a route whose entries are fresh 30 s: no entry will stay fresh that long, a miss;
    min-fresh=10 on the entry just stored: a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, ttl_s: 30}"))
    await ask(running)
    _, raw = await ask(running, headers={"cache-control": "min-fresh=60"})
    assert raw.headers["x-sidecar-cache"] == "miss"
    _, raw = await ask(running, headers={"cache-control": "min-fresh=10"})
    assert raw.headers["x-sidecar-cache"] == "hit"
    assert await upstream_calls(running, url) == 2


async def test_max_age_is_ignored_when_the_route_forbids_client_control(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With ``client_control: false`` an entry older than the app's max-age is still a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: true, client_control: false}"))
    await ask(running)
    await asyncio.sleep(1.2)
    _, raw = await ask(running, headers={"cache-control": "max-age=1"})
    assert raw.headers["x-sidecar-cache"] == "hit"


@pytest.mark.parametrize(
    "value",
    [
        'max-age="5"',
        "MAX-AGE=5",
        "max-age=5, max-age=600",
        "max-age=abc",
        "max-age=-1",
        "max-age",
        "max-stale=9",
        "max-age=" + "7" * 400,
        "=,,;",
    ],
)
async def test_odd_max_age_values_are_read_or_ignored(fake: FakeFactory, sidecar: SidecarFactory, value: str) -> None:
    """Quoted, upper-case, repeated, garbage, negative, bare, max-stale, huge: an entry just stored is a hit
    under each (never a 500)."""
    running = await sidecar(cache_policy([await fake("f0")]))
    await ask(running)
    _, raw = await ask(running, headers={"cache-control": value})
    assert raw.status_code == 200 and raw.headers["x-sidecar-cache"] == "hit"
