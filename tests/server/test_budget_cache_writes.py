"""Prompt-cache writes and the budgets: a request asking for 1-hour cache writes (Anthropic's
``cache_control: {type: ephemeral, ttl: "1h"}``) is reserved at the 1-hour write price
(``budgets.estimate.asks_hour_writes``). A real sidecar, real fake providers, the official Anthropic SDK."""

from __future__ import annotations

import re
from typing import Any

import anthropic
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .budget_policies import policy, two_fakes

BIG = 0.001  # $ per token of ``big``: 1000 $/Mtok in and out, no cache prices (1-hour writes: twice the input)
MAX_TOKENS = 20
DENY_ALL = "    - {name: usd-month, measure: usd, amount: 0.000001, window: month}\n"


def cached_system(ttl: str) -> list[Any]:
    return [{"type": "text", "text": "You label tickets.", "cache_control": {"type": "ephemeral", "ttl": ttl}}]


async def needs(claude: anthropic.AsyncAnthropic, ttl: str) -> float:
    """What a request whose system prompt is cached for ``ttl`` needs, as the 429 of a full budget says."""
    with pytest.raises(anthropic.RateLimitError) as raised:
        await claude.messages.create(
            model="chat",
            max_tokens=MAX_TOKENS,
            system=cached_system(ttl),
            messages=[{"role": "user", "content": "Label: the app crashes"}],
        )
    found = re.search(r"needs up to \$([0-9.]+)", raised.value.message)
    assert found is not None, raised.value.message
    return float(found.group(1))


async def test_a_request_asking_for_one_hour_cache_writes_is_reserved_at_that_price(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The same request with a 5-minute and a 1-hour cache breakpoint (bodies of the same length): the
    first reserves its prompt at the input price, the second at the 1-hour write price (twice the input
    price), the most its prompt may cost. Before, both were reserved at the 5-minute price, and a request
    writing an hour's cache could settle above its reservation, past a ``deny`` limit."""
    running = await sidecar(policy(*await two_fakes(fake), DENY_ALL))
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as claude:
        five_minutes = await needs(claude, "5m")
        one_hour = await needs(claude, "1h")
    prompt = round(five_minutes / BIG) - MAX_TOKENS
    assert prompt > 10
    assert one_hour == pytest.approx((2 * prompt + MAX_TOKENS) * BIG)
