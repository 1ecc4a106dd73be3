"""A call waiting for a free upstream connection (the pool at ``SIDECAR_UPSTREAM_CONNECTIONS_PER_HOST``)
is the sidecar's own queue, not the provider's failure (docs/resilience.md, "Timeouts"): the wait is
not charged to ``connect_s``, and one that outlasts the call's first-byte deadline is the attempt error
``upstream_pool_full``, which moves on to the next target without a breaker failure. Before wave 28 the
wait counted toward ``connect_s``: a busy pool turned into ``timeout_connect`` failures that opened the
breaker of a healthy provider. A real sidecar, fake providers on loopback, one connection per host."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..waiting import until
from .chain import calls, chain_policy, fakes

# One try per target, connect_s far below the first call's stall, a breaker that one failure opens.
RESILIENCE = (
    "  resilience: {max_attempts_per_target: 1, backoff: {base_s: 0.01, cap_s: 0.05}, deadline_s: 10,"
    " timeouts: {connect_s: 0.2, first_byte_s: FIRST_BYTE}}\n"
)
BREAKER = "  breaker: {window_size: 10, minimum_calls: 1, failure_rate: 0.5, open_s: 20, half_open_probes: 1}\n"


# The route ``hold`` (m0 alone, first_byte_s 60) holds m0's connection while ``chain`` is asked.
HOLD = "  - {name: hold, match: {model: hold}, target: [m0], resilience: {timeouts: {first_byte_s: 60}}}\n"


def policy(urls: list[str], first_byte_s: float) -> str:
    resilience = RESILIENCE.replace("FIRST_BYTE", str(first_byte_s))
    return chain_policy(urls, extra_defaults=BREAKER, route_extra=HOLD, resilience=resilience)


async def ask(running: RunningSidecar, text: str, model: str = "chain") -> tuple[int, dict[str, str]]:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as response,
    ):
        await response.read()
        return response.status, dict(response.headers)


def breaker_of(running: RunningSidecar, target: str) -> str:
    return str(running.state.targets.snapshot()[target]["breaker"]["state"])


def access(running: RunningSidecar, request_id: str) -> dict[str, Any]:
    [line] = [line for line in running.log_lines() if line.get("request_id") == request_id]
    return line


async def asked_while_held(
    fake: FakeFactory, sidecar: SidecarFactory, first_byte_s: float, stall_s: float
) -> tuple[RunningSidecar, list[str], asyncio.Future[tuple[int, dict[str, str]]], int, dict[str, str]]:
    """A sidecar with one upstream connection per host; ``hold`` takes m0's, its provider stalling
    ``stall_s``; then ``chain`` is asked (first_byte_s: ``first_byte_s``): the sidecar, the fakes' URLs,
    the held request, and the second one's status and headers."""
    urls = await fakes(fake, 2)
    running = await sidecar(policy(urls, first_byte_s), upstream_connections_per_host=1)
    held = asyncio.ensure_future(ask(running, f"[fault:stall={stall_s}] first", "hold"))
    await until(lambda: calls(urls[0]), lambda seen: seen >= 1)  # m0's connection held
    status, headers = await ask(running, "second")
    return running, urls, held, status, headers


async def test_a_call_waiting_for_a_free_connection_past_connect_s_is_served_by_its_target(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """m0's only connection is held by a call its provider stalls for 1 s; a second request waits for
    it longer than connect_s (0.2 s) and is then served by m0 itself: no fallback, m0's breaker closed."""
    running, urls, held, status, headers = await asked_while_held(fake, sidecar, 60, 1)
    assert status == 200 and headers["x-sidecar-model"] == "m0", headers
    assert "x-sidecar-fallback-reason" not in headers
    assert (await held)[0] == 200
    assert breaker_of(running, "p0/up0") == "closed"
    assert await calls(urls[1]) == 0


async def test_a_pool_wait_past_the_first_byte_deadline_moves_on_without_a_breaker_failure(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """m0's only connection is held for 2 s; a second request's call waits past its first-byte deadline
    (0.5 s): the attempt is ``upstream_pool_full`` (not the provider's ``timeout_connect`` or
    ``timeout_first_byte``), m1 serves, and m0's breaker stays closed."""
    running, _, held, status, headers = await asked_while_held(fake, sidecar, 0.5, 2)
    assert status == 200 and headers["x-sidecar-model"] == "m1", headers
    line = access(running, headers["x-sidecar-request-id"])
    assert line["attempt_log"] == ["m0:upstream_pool_full", "m1:ok"]
    assert breaker_of(running, "p0/up0") == "closed"
    await held
