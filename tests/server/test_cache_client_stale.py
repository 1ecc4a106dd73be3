"""The app's ``Cache-Control: max-stale[=N]`` through the real sidecar and the official OpenAI SDK (RFC 9111
5.2.1.2): an entry past the route's ``ttl_s`` that the app takes (by at most N seconds; bare: any) is
served ``x-sidecar-cache: stale`` with its ``Age``, without an upstream call, within the route's stale
window and only where the route lets the app control the cache; in the memory store and in a real
redis-server."""

from __future__ import annotations

import asyncio
import time

import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..sdk_clients import openai_client
from .cache_helpers import PROMPT, age_within, ask, cache_policy, redis_store, upstream_calls, written

WINDOW = "{enabled: true, ttl_s: 0.05, stale_s: 60}"  # fresh 50 ms, then kept a minute for stale answers
EXPIRED_S = 0.2  # past the 50 ms ttl_s (a loaded machine's sleep only lasts longer), where no age bound is read


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> str:
    """The cache's store block: the sidecar's memory (none), or a real redis-server's."""
    if request.param == "memory":
        return ""
    return redis_store(request.getfixturevalue("redis_server").url)


async def expired_entry(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, cache: str = WINDOW, *, past_s: float = 1.1
) -> tuple[RunningSidecar, str, str]:
    """A sidecar whose cache holds an answer stored at least ``past_s`` ago (by default a little over a
    second: an ``Age`` of 1, past a ``max-stale=1`` or ``max-age=1``; ``EXPIRED_S`` where being past its
    ``ttl_s`` is enough), past its ``ttl_s``: the sidecar, the provider's URL and the answer's text."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache=cache, store=store))
    live, _ = await ask(running)
    await written(running)
    await asyncio.sleep(past_s)
    return running, url, live.choices[0].message.content


def access_line(running: RunningSidecar) -> dict[str, object]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


async def test_max_stale_takes_an_expired_entry_as_a_stale_answer(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Bare max-stale past ttl_s, inside stale_s: the stored answer, ``x-sidecar-cache: stale`` with
    its ``Age`` (at least 1), no upstream call and no attempt; not degraded (the app asked for it): the access line says
    ``cache: stale``, ``outcome: ok`` (before 2026-12-05 max-stale was ignored: a miss and a call)."""
    began = time.monotonic()
    running, url, text = await expired_entry(fake, sidecar, store)
    answer, raw = await ask(running, headers={"cache-control": "max-stale"})
    assert raw.headers["x-sidecar-cache"] == "stale" and age_within(raw, 1, began)
    assert "x-sidecar-degraded" not in raw.headers and raw.headers["x-sidecar-attempts"] == "0"
    assert answer.choices[0].message.content == text
    assert await upstream_calls(running, url) == 1
    line = access_line(running)
    assert (line["cache"], line["outcome"], line["attempts"]) == ("stale", "ok", 0)


async def test_max_stale_seconds_bound_how_stale_an_entry_the_app_takes(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """About 1.05 s past ttl_s: max-stale=5 (quoted, upper-case) takes the entry, max-stale=1 does not (a
    miss: an upstream call)."""
    running, url, _ = await expired_entry(fake, sidecar, store)
    _, raw = await ask(running, headers={"cache-control": 'MAX-STALE="5"'})
    assert raw.headers["x-sidecar-cache"] == "stale"
    _, raw = await ask(running, headers={"cache-control": "max-stale=1"})
    assert raw.headers["x-sidecar-cache"] == "miss" and "age" not in raw.headers
    assert await upstream_calls(running, url) == 2


async def test_max_stale_reaches_no_further_than_the_routes_stale_window(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A route without a stale window (``stale_s`` 0, the default) keeps no expired entry: bare max-stale
    past ttl_s is a miss."""
    running, url, _ = await expired_entry(fake, sidecar, "", "{enabled: true, ttl_s: 0.05}", past_s=EXPIRED_S)
    _, raw = await ask(running, headers={"cache-control": "max-stale"})
    assert raw.headers["x-sidecar-cache"] == "miss"
    assert await upstream_calls(running, url) == 2


async def test_max_stale_is_ignored_when_the_route_forbids_client_control(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """With ``client_control: false`` an expired entry is a miss whatever the app's max-stale."""
    cache = "{enabled: true, ttl_s: 0.05, stale_s: 60, client_control: false}"
    running, url, _ = await expired_entry(fake, sidecar, "", cache, past_s=EXPIRED_S)
    _, raw = await ask(running, headers={"cache-control": "max-stale"})
    assert raw.headers["x-sidecar-cache"] == "miss"
    assert await upstream_calls(running, url) == 2


@pytest.mark.parametrize(
    ("value", "state"),
    [
        ("max-stale=5, max-stale", "stale"),
        ("max-stale=0", "miss"),
        ("max-stale=-5", "miss"),
        ("max-stale=5s", "miss"),
        ("max-stale=" + "9" * 400, "stale"),
        ("max-stale, max-age=1", "miss"),
        ("max-stale, no-cache", "miss"),
    ],
)
async def test_odd_max_stale_values_are_read_or_ignored(
    fake: FakeFactory, sidecar: SidecarFactory, value: str, state: str
) -> None:
    """Repeated (the strictest), zero, negative, not a number, huge, with a max-age the entry is past, with
    no-cache: a stale answer or a miss as RFC 9111 reads them, never a 500."""
    running, _, _ = await expired_entry(fake, sidecar, "", past_s=1.1 if "max-age=1" in value else EXPIRED_S)
    _, raw = await ask(running, headers={"cache-control": value})
    assert raw.status_code == 200 and raw.headers["x-sidecar-cache"] == state


async def test_a_streaming_caller_gets_the_entry_max_stale_takes_as_a_stream(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A streamed request with max-stale: the expired entry replayed as a stream that ends cleanly, marked
    stale."""
    running, url, text = await expired_entry(fake, sidecar, store, past_s=EXPIRED_S)
    async with openai_client(running) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="cached", temperature=0, stream=True, messages=PROMPT, extra_headers={"cache-control": "max-stale"}
        )
        chunks = [chunk async for chunk in raw.parse()]
    assert raw.headers["x-sidecar-cache"] == "stale"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert await upstream_calls(running, url) == 1
