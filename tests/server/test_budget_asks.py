"""Every reservation of a request prices what its first one does (``budgets.estimate.priced_asks``): its
1-hour cache writes and the web searches it lets its provider run, on a retry after a billed call
(``server.budget._again``) and on each call of an ensemble (``Ledger.call_units``), against a ``usd`` limit
that only those push over. A real sidecar, real fake providers, the official Anthropic SDK; the pod's own
counters and a real redis-server's."""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
import pytest

from sidecar.explain import explain_report
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from .budget_walks import access_line, store

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

# $0.001 a token, $1 a web search, a 1-hour cache write twenty times the input price: what the request asks
# beyond its tokens weighs more than any call's tokens.
PRICE = "{input_per_mtok: 1000, output_per_mtok: 1000, cache_write_1h_per_mtok: 20000, web_search_per_1k_calls: 1000}"
ONE = "{name: chat, target: [big], resilience: {backoff: {base_s: 0.01, cap_s: 0.02}}}"
ENSEMBLE = "{name: chat, ensemble: {members: [big, alt], early_quorum: false}}"
SEARCHES: dict[str, Any] = {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]}
HOUR_WRITES: dict[str, Any] = {
    "system": [{"type": "text", "text": "You label tickets.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
}
ASKS = {"searches": SEARCHES, "hour_writes": HOUR_WRITES}


def asks_policy(first: str, second: str, route: str, amount: float, store: str = "") -> str:
    """``big`` (provider one) and ``alt`` (provider two), both at ``PRICE``; one ``route``; a ``usd`` limit."""
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", first)
        + provider_block("two", second)
        + "models:\n"
        + f"  big: {{provider: one, model: big-1, price: {PRICE}}}\n"
        + f"  alt: {{provider: two, model: alt-1, price: {PRICE}}}\n"
        + f"routes:\n  - {route}\n"
        + f"budgets:\n{store}  limits:\n"
        + f"    - {{name: usd-month, measure: usd, amount: {amount!r}, window: month}}\n"
    )


def message(**asks: Any) -> dict[str, Any]:
    return {"model": "chat", "max_tokens": 20, "messages": [{"role": "user", "content": "Label: it crashes"}], **asks}


def explained(route: str, body: dict[str, Any]) -> float:
    """What ``llm-sidecar explain`` says the Anthropic ``body`` reserves on ``route``, in dollars."""
    text = asks_policy("http://127.0.0.1:1", "http://127.0.0.1:2", route, 1000.0)
    request = describe_request("/v1/messages", {}, {}, orjson.loads(orjson.dumps(body)), app="")
    (row,) = explain_report(load_policy_bytes(text.encode(), "p.yaml"), request)["budgets"]
    return float(row["reserves"])


@pytest.mark.parametrize("asked", sorted(ASKS))
async def test_a_retry_after_a_billed_call_is_reserved_with_what_the_request_asks(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, asked: str
) -> None:
    """A one-target route, a ``usd`` limit of exactly what the request's first reservation holds (its
    searches, or its prompt at the 1-hour write price): the first call is billed (a malformed 200), so the
    retry's reservation, priced as the first, does not fit beside it and the retry is not made (at a4bda39
    too: a request that asks for either takes the full admission, whose request object the retry reuses;
    ``_again`` builds its own for a plain admission alone, which asks for neither)."""
    body = message(**ASKS[asked])
    amount = explained(ONE, body)
    broken = await fake("one", fault="malformed;times=1", fault_rate=1)
    running = await sidecar(asks_policy(broken, await fake("two"), ONE, amount, store))
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as claude:
        with pytest.raises(anthropic.APIStatusError):
            await claude.messages.create(**body)
    assert access_line(running)["attempt_log"] == ["big:malformed_response", "big:budget"]
    assert len(await running.fake_requests(broken)) == 1


async def test_an_ensemble_reserves_each_members_web_searches(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Two members, a request whose ``web_search`` tool allows 3 searches each, and a ``usd`` limit with room
    for both members' tokens and 3 searches more: the reservation, 6 searches beyond the tokens, is refused
    before any call (a 429). Before, the members were reserved at their tokens alone and both called."""
    amount = explained(ENSEMBLE, message()) + 3.0
    first, second = await fake("one"), await fake("two")
    running = await sidecar(asks_policy(first, second, ENSEMBLE, amount, store))
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as claude:
        with pytest.raises(anthropic.RateLimitError):
            await claude.messages.create(**message(**SEARCHES))
    assert await running.fake_requests(first) == await running.fake_requests(second) == []
