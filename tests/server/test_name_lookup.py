"""A provider whose name does not resolve, or resolves slowly, through the whole sidecar (a resolver the
test controls, ``ScriptedResolver``, as its ``resolver_class``): the attempt fails within its
``connect_s`` as ``timeout_connect`` and the fallback target answers; a failed lookup is remembered, so
the next requests fall back at once without asking the resolver again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..upstream.lookups import ScriptedResolver
from .chain import calls, chain_policy, chat

ONE_TRY = "    resilience: {max_attempts_per_target: 1, timeouts: {connect_s: 0.3}}\n"


def access_lines(running: RunningSidecar) -> list[dict[str, Any]]:
    return [line for line in running.log_lines() if line.get("event") == "access"]


async def test_a_slow_lookup_times_out_within_connect_s_and_the_fallback_answers(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """m0's provider name takes 30 s to resolve: the request is answered by m1 after about connect_s
    (0.3 s), and the access line says m0 failed as timeout_connect."""
    first, second = await fake("f0"), await fake("f1")
    resolver = ScriptedResolver(slow={"slow.test"})
    policy = chain_policy([first.replace("127.0.0.1", "slow.test"), second], route_extra=ONE_TRY)
    running = await sidecar(policy, resolver_class=lambda: resolver)
    started = time.monotonic()
    async with asyncio.timeout(5):
        status, _, _ = await chat(running)
    assert (status, await calls(second), await calls(first)) == (200, 1, 0)
    assert time.monotonic() - started < 2.0
    (line,) = access_lines(running)
    assert line["attempt_errors"][0].startswith("m0:timeout_connect"), line["attempt_errors"]


async def test_a_failed_lookup_makes_the_next_requests_fall_back_without_a_lookup(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """m0's provider name does not resolve: three requests in a row are answered by m1, and the resolver
    was asked once (the failure is remembered), not once per request."""
    first, second = await fake("f0"), await fake("f1")
    resolver = ScriptedResolver(failing={"down.test"})
    policy = chain_policy([first.replace("127.0.0.1", "down.test"), second], route_extra=ONE_TRY)
    running = await sidecar(policy, resolver_class=lambda: resolver)
    statuses = [(await chat(running))[0] for _ in range(3)]
    assert (statuses, await calls(second), resolver.lookups["down.test"]) == ([200] * 3, 3, 1)
    errors = [line["attempt_errors"] for line in access_lines(running)]
    assert all(error[0].startswith("m0:connect_error") for error in errors), errors
