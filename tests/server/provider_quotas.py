"""What the provider quota tests (tests/server/test_budget_ensemble_quotas.py, test_budget_hedge_quotas.py,
test_budget_chain_quotas.py) share: their chat, a requests quota per provider, one over every provider,
each provider's use of a limit polled until it is what is expected, a chat that fails, a chat whose
caller leaves (``left``: its access line once every settlement landed), and an upstream whose answers
report no usage."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import openai
import pytest
from aiohttp import web

from ..conftest import RunningSidecar
from ..redis_server import RedisServer
from ..waiting import until
from .budget_walks import access_line, client
from .callers import leave_once

CHAT: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5}

ONE_REQUEST = "{name: all-requests, measure: requests, amount: 100, window: month}"


def per_provider_requests(amount: int, only: str = "") -> str:
    """A monthly requests quota per provider (``only``: that provider's, the others exempt)."""
    scope = f"{{by: provider, values: [{only}], others: exempt}}" if only else "{by: provider}"
    return f"{{name: requests, measure: requests, amount: {amount}, window: month, scope: {scope}}}"


COUNTING = f"{per_provider_requests(100)}\n    - {ONE_REQUEST}"
"""A requests quota per provider and one over every provider, neither ever full: they count."""
ONCE = {"*": 1.0}


async def failed_chat(running: RunningSidecar) -> dict[str, Any]:
    """The chat, which fails (the SDK raises the sidecar's error status); its access line."""
    async with client(running) as sdk:
        with pytest.raises(openai.APIStatusError):
            await sdk.chat.completions.create(**CHAT)
    return access_line(running)


async def left(
    running: RunningSidecar,
    request: pytest.FixtureRequest,
    store: str,
    ready: Callable[[], object],
    *,
    compact: bool = False,
) -> dict[str, Any]:
    """The chat, whose caller leaves once ``ready()`` holds (``callers.leave_once``; ``compact``: its body
    as compact JSON, the bytes an ensemble's members send); its access line, once every settlement landed
    (``settled``)."""
    await leave_once(running, CHAT, ready, compact=compact)
    [line] = await until(running.access_lines, lambda lines: len(lines) == 1)
    await settled(request, store)
    return line


async def holding(running: RunningSidecar, calls: dict[str, int]) -> bool:
    """Whether each fake at a key of ``calls`` has received (at least) that many calls."""
    return all([len(await running.fake_requests(url)) >= count for url, count in calls.items()])


async def settled(request: pytest.FixtureRequest, store: str) -> None:
    """With Redis, wait until no counter holds a reservation: the settlements of the request that left are
    carried to the store a little later, and a use read meanwhile counts the holds (the pod's own counters
    settle at once)."""
    if store:
        redis: RedisServer = request.getfixturevalue("redis_server")  # the store fixture's server
        await until(lambda: held(redis), lambda holds: holds == 0)


def held(redis: RedisServer) -> int:
    """What the budget counters in ``redis`` hold, summed."""
    with redis.client() as client:
        keys = [key for key in client.keys("llm-sidecar:{budgets}:c:*") if not key.endswith(b":r")]
        return sum(int(client.hget(key, "h") or 0) for key in keys)


async def request_counts(running: RunningSidecar, expected: dict[str, float]) -> tuple[dict[str, float], ...]:
    """``COUNTING``'s uses: by provider (polled until ``expected``), and over every provider."""
    return await used_by_provider(running, expected, "requests"), await used_by_provider(running, ONCE, "all-requests")


async def used_by_provider(
    running: RunningSidecar, expected: dict[str, float], limit: str = "per-provider"
) -> dict[str, float]:
    """Each provider's use of the quota ``limit``, polled until it is ``expected`` for up to 2 s (with
    Redis a settlement is carried by the next admission, or sent alone 20 ms later)."""
    assert running.state.budgets.ledger is not None
    seen: dict[str, float] = {}
    for _ in range(100):
        rows = await running.state.budgets.ledger.status()
        seen = {str(row["value"]): float(row["used"]) for row in rows if row["limit"] == limit}  # type: ignore[arg-type]
        if seen == expected:
            break
        await asyncio.sleep(0.02)
    return seen


async def usage_less(aiohttp_server: Any) -> str:
    """An OpenAI-dialect upstream on loopback whose chat answers report no usage."""

    async def answer(request: web.Request) -> web.Response:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "small-1",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"}, "finish_reason": "stop"}],
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    server = await aiohttp_server(app)
    return str(server.make_url("")).rstrip("/")
