"""The budget stage on routes whose routing picks the target: the reservation is priced on the model the
request will call first (the cheapest capable candidate of a ``select: cheapest`` route, the first
target of a split's arm), not on the route's first listed target."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request
from sidecar.routing.plans import SplitPlan

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import sdk_client

PREMIUM = "{input_per_mtok: 1000, output_per_mtok: 1000}"  # a token: $0.001
CHEAP = "{input_per_mtok: 1, output_per_mtok: 1}"  # a token: $0.000001
# What is left of the day: more than any request's reservation on `small` (a few hundredths of a cent),
# less than one on `big` (a few cents).
BETWEEN = "    - {name: team-month, measure: usd, amount: 0.01, window: month}\n"

CHEAPEST = "{name: chat, target: {select: cheapest, from: [big, small]}}"  # the premium model listed first
SPLIT = (
    "{name: chat, split: {sticky_by: 'header:x-user',"
    " arms: [{target: ARM1, weight: 50, name: first}, {target: ARM2, weight: 50, name: second}]}}"
)


def policy(url: str, route: str, limits: str = BETWEEN) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", url)
        + "models:\n"
        + f"  big: {{provider: one, model: big-1, price: {PREMIUM}}}\n"
        + f"  small: {{provider: one, model: small-1, price: {CHEAP}}}\n"
        + f"routes:\n  - {route}\n"
        + "budgets:\n  limits:\n"
        + limits
    )


def split(first: str, second: str) -> str:
    return SPLIT.replace("ARM1", first).replace("ARM2", second)


def user_on_arm(route: str, arm: str) -> str:
    """A value of ``x-user`` that the split of ``route`` sends to ``arm`` (the plan the server runs)."""
    loaded = load_policy_bytes(policy("http://127.0.0.1:1", route).encode(), "p.yaml")
    chat = loaded.routes[0]
    assert isinstance(chat.plan, SplitPlan)
    for number in range(1000):
        user = f"user-{number}"
        request = describe_request("/v1/chat/completions", {"x-user": user}, {}, CHAT, app="")
        if chat.plan.arm(request).name == arm:
            return user
    raise AssertionError(f"no user on arm {arm}")


CHAT: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20}


def client(running: RunningSidecar) -> openai.AsyncOpenAI:
    return sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key")


async def test_a_cheapest_route_reserves_on_the_cheapest_candidate(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A cheapest route listing the premium model first serves a request near the end of a budget from
    the cheap model it selects: reserved at the cheap price, it fits (before, reserved at the premium
    model's price, it was refused with a 429)."""
    running = await sidecar(policy(await fake("one"), CHEAPEST))
    async with client(running) as openai_client:
        raw = await openai_client.chat.completions.with_raw_response.create(**CHAT)
    assert raw.headers["x-sidecar-model"] == "small"


async def test_a_split_arm_of_the_cheap_model_reserves_at_its_price(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A request on the cheap arm of a split whose first arm is the premium model is reserved at the
    cheap model's price and served near the end of a budget."""
    route = split("big", "small")
    running = await sidecar(policy(await fake("one"), route))
    async with client(running) as openai_client:
        raw = await openai_client.chat.completions.with_raw_response.create(
            **CHAT, extra_headers={"x-user": user_on_arm(route, "second")}
        )
    assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-split-arm"]) == ("small", "second")


async def test_a_split_arm_of_the_premium_model_is_denied_by_the_budget(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A request on the premium arm of a split whose first arm is the cheap model is refused as a budget
    denial (a 429 naming the limit and what the premium model needs), with no upstream call."""
    url = await fake("one")
    route = split("small", "big")
    running = await sidecar(policy(url, route))
    async with client(running) as openai_client:
        with pytest.raises(openai.RateLimitError) as raised:
            await openai_client.chat.completions.create(**CHAT, extra_headers={"x-user": user_on_arm(route, "second")})
    assert "budget limit 'team-month' reached" in raised.value.message
    assert await running.fake_requests(url) == []
