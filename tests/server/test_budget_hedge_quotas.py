"""A ``requests`` quota by model or provider on a chain's hedged race (docs/budgets.md, "one request"):
the request counts once on each provider one of its calls billed on, the race's loser cut after its
prompt was sent included. On the pod's own counters and on a real redis-server's, through the official
OpenAI SDK."""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import FakeFactory, SidecarFactory
from .budget_walks import access_line, client, store, two_provider_policy
from .provider_quotas import CHAT, ONE_REQUEST, per_provider_requests, usage_less, used_by_provider

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

HEDGED_CHAIN = "{name: chat, target: [small, alt], resilience: {hedge: {after_s: 0.2}}}"


@pytest.mark.parametrize("first_wins", [True, False], ids=["first-wins", "hedge-wins"])
async def test_a_hedged_races_cut_loser_counts_the_request_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, first_wins: bool
) -> None:
    """The chain's call to ``small`` (provider one) has no first byte after 0.2 s: the hedge calls ``alt``
    (provider two); the slower call is cut after its prompt was sent (billed: ``hedge_cut``). The request
    counts once on each provider (the loser's as the winner's) and once in a limit over every provider.
    Before wave 29 the loser's provider counted no request."""
    slow, fast = (600, 3000) if first_wins else (3000, 0)
    first = await fake("one", reply="billing", latency_ms=slow)
    second = await fake("two", reply="billing", latency_ms=fast)
    limits = f"{per_provider_requests(100)}\n    - {ONE_REQUEST}"
    running = await sidecar(two_provider_policy(first, second, HEDGED_CHAIN, limits, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    assert access_line(running)["hedge_cut"] == ("alt" if first_wins else "small")
    both = {"one": 1.0, "two": 1.0}
    assert await used_by_provider(running, both, "requests") == both
    assert await used_by_provider(running, {"*": 1.0}, "all-requests") == {"*": 1.0}


async def test_a_hedge_that_wins_without_usage_still_counts_the_request_on_the_losers_provider(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The hedge on ``alt`` (provider two) wins with an answer that reports no usage, so it is charged its
    estimate; the call to ``small`` (provider one) is cut after its prompt was sent. The request counts
    once on each provider and each model, as a race whose winner reported usage (docs/budgets.md, "one
    request"), and each provider's tokens counter is charged its own call: the cut prompt on one, the
    hedge's estimate (its prompt and max_tokens) on two. Checked for a leftover of stop 44, which
    thought such a request counted on the winner's model and provider alone: it does not."""
    first = await fake("one", reply="billing", latency_ms=3000)
    second = await usage_less(aiohttp_server)
    by_model = "{name: by-model, measure: requests, amount: 100, window: month, scope: {by: model}}"
    by_provider_tokens = "{name: tokens, measure: tokens, amount: 100000, window: month, scope: {by: provider}}"
    limits = f"{per_provider_requests(100)}\n    - {by_model}\n    - {by_provider_tokens}"
    running = await sidecar(two_provider_policy(first, second, HEDGED_CHAIN, limits, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    line = access_line(running)
    assert (line["served_model"], line["hedge_cut"]) == ("alt", "small")
    both = {"one": 1.0, "two": 1.0}
    assert await used_by_provider(running, both, "requests") == both
    assert await used_by_provider(running, {"small": 1.0, "alt": 1.0}, "by-model") == {"small": 1.0, "alt": 1.0}
    prompt = line["input_tokens"]  # the line counts the cut call's prompt estimate alone (the answer reported none)
    charged = {"one": float(prompt), "two": float(prompt + CHAT["max_tokens"])}
    assert await used_by_provider(running, charged, "tokens") == charged


async def test_a_providers_full_requests_quota_keeps_a_hedge_from_being_made_there(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Provider two's quota is one request a month: the first request's hedge there takes it (cut, its
    prompt billed); the second request's hedge is refused (``alt:budget``, no call to provider two) and
    its first call answers alone. Before wave 29 the hedge held no request on provider two's counter: the
    second request called provider two past its quota."""
    first = await fake("one", reply="billing", latency_ms=600)
    second = await fake("two", reply="billing", latency_ms=3000)
    running = await sidecar(two_provider_policy(first, second, HEDGED_CHAIN, per_provider_requests(1, "two"), store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
        await sdk.chat.completions.create(**CHAT)
    assert "alt:budget" in access_line(running)["attempt_log"]
    assert len(await running.fake_requests(second)) == 1
