"""The response cache's ages across the whole sidecar, with its clock stepped: ``llm-sidecar run`` as a real
process under libfaketime (the Debian package ``faketime``; ``.ci/run`` installs it), whose offset the
test moves forward by rewriting the file libfaketime reads at every clock read. Both clocks move: the
wall clock and the monotonic one the memory store ages its entries by (docs/caching.md, Clocks), so the
process sees time pass that the test does not wait for. The cache's own tests step its clock seam
(tests/cache/test_response_cache.py); these step the process's.

One scenario, in order (the route: ``ttl_s`` 60, ``stale_s`` 600, last resort ``kind: cache``): a miss
stores the answer; 30 s later a hit says ``Age`` 30 or more; 90 s after the store, the targets failing,
the last resort serves it ``stale`` with its ``Age``; the targets answering, it is a miss (and is stored
again); past ``ttl_s + stale_s`` of that entry, the targets failing, nothing is served.

The Redis store's entries are aged by the process's wall clock (their ``stored_at``), and the
redis-server is not under libfaketime: its TTLs (``ttl_s + stale_s``) run on the machine's clock. Stepped
forward, the same scenario, the entry still in Redis when the sidecar no longer serves it; the wall clock
alone stepped back (``DONT_FAKE_MONOTONIC``), an entry past ``ttl_s`` is a hit with ``Age`` 0 until Redis
drops it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory
from ..redis_server import RedisServer
from ..sdk_clients import sdk_client
from ..waiting import until
from .cache_helpers import PROMPT, cache_policy
from .sidecar_process import run_sidecar, stop

# the Debian package's library, under the machine's multiarch directory (x86_64-linux-gnu, aarch64-linux-gnu)
LIBFAKETIME = next(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"), None)
LAST_RESORT = "{backoff: {base_s: 0.01, cap_s: 0.02}, max_attempts_per_target: 1, last_resort: {kind: cache}}"
ALL_FAIL = {"x-fake-fault": "status=503"}


class SteppedSidecar:
    """A sidecar process whose clocks run ``offset_s`` ahead of the machine's (libfaketime)."""

    def __init__(self, url: str, clock_file: Path) -> None:
        self.url = url
        self._clock_file = clock_file

    def step_to(self, offset_s: int) -> None:
        """From now on the process's clocks read ``offset_s`` seconds ahead, behind when negative (read at
        every clock read)."""
        self._clock_file.write_text(f"{offset_s:+d}\n")

    async def ask(self, headers: dict[str, str] | None = None) -> Any:
        """The cached route's chat through openai-python: its raw response (the SDK raises on an error)."""
        client = sdk_client(openai.AsyncOpenAI, base_url=f"{self.url}/v1", api_key="x")
        async with client:
            params: dict[str, Any] = {"model": "cached", "messages": PROMPT, "temperature": 0}
            return await client.chat.completions.with_raw_response.create(**params, extra_headers=headers or {})

    async def stores(self) -> float:
        """``llm_sidecar_cache_stores_total``: the entries the cache has written."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}/metrics") as response:
            text = await response.text()
        families = text_string_to_metric_families(text)
        return sum(s.value for f in families for s in f.samples if s.name == "llm_sidecar_cache_stores_total")


@pytest.fixture
def faketime_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment that runs a process under libfaketime, and the file of its offset (0 to start)."""
    if LIBFAKETIME is None:
        pytest.fail("libfaketime is missing: apt-get install faketime (.ci/run does)")
    clock_file = tmp_path / "clock"
    clock_file.write_text("+0\n")
    env = {
        **os.environ,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(clock_file),
        "FAKETIME_NO_CACHE": "1",  # the file is read at every clock read: a step is seen at once
        "SIDECAR_LOG_LEVEL": "warning",
    }
    return env, clock_file


async def _stepped(
    tmp_path: Path,
    fake: FakeFactory,
    faketime_env: tuple[dict[str, str], Path],
    store: str = "",
    cache: str = "{enabled: true, ttl_s: 60, stale_s: 600}",
    wall_only: bool = False,
) -> AsyncIterator[SteppedSidecar]:
    """The sidecar process under libfaketime, over one fake provider on loopback, caching in ``store``;
    ``wall_only``: its monotonic clock left as it is (only a wall clock is ever stepped back)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(cache_policy([await fake("f0")], cache=cache, store=store, resilience=LAST_RESORT))
    env, clock_file = faketime_env
    if wall_only:
        env = {**env, "DONT_FAKE_MONOTONIC": "1"}
    process, url = await run_sidecar(policy, env)
    try:
        yield SteppedSidecar(url, clock_file)
    finally:
        await stop(process)


@pytest.fixture
async def stepped(
    tmp_path: Path, fake: FakeFactory, faketime_env: tuple[dict[str, str], Path]
) -> AsyncIterator[SteppedSidecar]:
    """The sidecar process under libfaketime, caching in memory."""
    async for running in _stepped(tmp_path, fake, faketime_env):
        yield running


@pytest.fixture
async def stepped_redis(
    tmp_path: Path, fake: FakeFactory, faketime_env: tuple[dict[str, str], Path], redis_server: RedisServer
) -> AsyncIterator[SteppedSidecar]:
    """The sidecar process under libfaketime, caching in a real Redis that is not (its TTLs run on the
    machine's clock)."""
    async for running in _stepped(tmp_path, fake, faketime_env, f"{{redis: {{url: '{redis_server.url}'}}}}"):
        yield running


@pytest.fixture
async def stepped_redis_short(
    tmp_path: Path, fake: FakeFactory, faketime_env: tuple[dict[str, str], Path], redis_server: RedisServer
) -> AsyncIterator[SteppedSidecar]:
    """``stepped_redis`` with ``ttl_s`` 1 and ``stale_s`` 2 (Redis drops an entry 3 s after it was stored),
    only its wall clock stepped."""
    store = f"{{redis: {{url: '{redis_server.url}'}}}}"
    cache = "{enabled: true, ttl_s: 1, stale_s: 2}"
    async for running in _stepped(tmp_path, fake, faketime_env, store, cache, wall_only=True):
        yield running


async def test_ages_follow_the_processs_stepped_clock(stepped: SteppedSidecar) -> None:
    """A hit's ``Age`` grows with the stepped clock; past ``ttl_s`` the entry is served ``stale`` (with
    its ``Age``) only as the last resort, and is a miss while the targets answer; past ``ttl_s +
    stale_s`` it is not served at all."""
    first = await stepped.ask()
    assert first.headers["x-sidecar-cache"] == "miss"
    await until(stepped.stores, lambda stored: stored >= 1)
    stepped.step_to(30)
    hit = await stepped.ask()
    assert hit.headers["x-sidecar-cache"] == "hit"
    assert int(hit.headers["age"]) >= 30
    stepped.step_to(90)
    stale = await stepped.ask(ALL_FAIL)
    assert (stale.headers["x-sidecar-cache"], stale.headers["x-sidecar-degraded"]) == ("stale", "cache")
    assert int(stale.headers["age"]) >= 90
    assert stale.parse().choices[0].message.content == first.parse().choices[0].message.content
    again = await stepped.ask()
    assert again.headers["x-sidecar-cache"] == "miss"
    await until(stepped.stores, lambda stored: stored >= 2)
    stepped.step_to(90 + 661)
    with pytest.raises(openai.InternalServerError) as failure:
        await stepped.ask(ALL_FAIL)
    assert failure.value.response.headers["x-sidecar-degraded"] == "cache-unavailable"


async def test_redis_entries_age_by_the_processs_stepped_wall_clock(
    stepped_redis: SteppedSidecar, redis_server: RedisServer
) -> None:
    """A Redis entry's age is the sidecar's wall clock minus its ``stored_at``, not Redis's TTL: a hit's
    ``Age`` grows with the stepped clock, past ``ttl_s`` the entry is served ``stale`` only as the last
    resort, and past ``ttl_s + stale_s`` it is not served while Redis (on the machine's clock) still
    holds it."""
    first = await stepped_redis.ask()
    assert first.headers["x-sidecar-cache"] == "miss"
    await until(stepped_redis.stores, lambda stored: stored >= 1)
    stepped_redis.step_to(30)
    hit = await stepped_redis.ask()
    assert (hit.headers["x-sidecar-cache"], int(hit.headers["age"]) >= 30) == ("hit", True)
    stepped_redis.step_to(90)
    stale = await stepped_redis.ask(ALL_FAIL)
    assert (stale.headers["x-sidecar-cache"], stale.headers["x-sidecar-degraded"]) == ("stale", "cache")
    assert int(stale.headers["age"]) >= 90
    stepped_redis.step_to(661)
    with pytest.raises(openai.InternalServerError) as failure:
        await stepped_redis.ask(ALL_FAIL)
    assert failure.value.response.headers["x-sidecar-degraded"] == "cache-unavailable"
    with redis_server.client() as client:
        assert [client.ttl(key) > 0 for key in client.keys("*")] == [True]  # kept, by Redis's own clock


async def test_a_redis_entry_on_a_clock_stepped_back_is_served_until_redis_expires_it(
    stepped_redis_short: SteppedSidecar, redis_server: RedisServer
) -> None:
    """With the sidecar's wall clock stepped back, a Redis entry past ``ttl_s`` (by the machine's clock) is
    still a hit with ``Age`` 0 (an age is never negative), and a miss once Redis's own TTL, ``ttl_s +
    stale_s`` on its clock, has dropped it: never served longer than that."""
    sidecar = stepped_redis_short
    assert (await sidecar.ask()).headers["x-sidecar-cache"] == "miss"
    await until(sidecar.stores, lambda stored: stored >= 1)
    sidecar.step_to(-3600)
    with redis_server.client() as client:
        (key,) = client.keys("*")
        await until(lambda: client.pttl(key), lambda left: 0 < left < 2000)  # past ttl_s by Redis's clock
    hit = await sidecar.ask()
    assert (hit.headers["x-sidecar-cache"], hit.headers["age"]) == ("hit", "0")
    later = await until(sidecar.ask, lambda answer: answer.headers["x-sidecar-cache"] != "hit", timeout_s=30)
    assert later.headers["x-sidecar-cache"] == "miss"
