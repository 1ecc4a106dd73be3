"""The response cache and a budget's downgrade (``server.cache_stage``, ``server.budget``): the answer of a
request a limit downgraded to its cheaper list is not stored under the route's key, so the route's other
requests (outside the limit's scope, or after its window) never get the cheaper model's answer as a hit.
A real sidecar, real fake providers, the official OpenAI SDK; the local budget store and the memory cache."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from .budget_policies import CHEAP, PRICES, two_fakes

# x-team: search is past its limit at once (any request needs more than $0.000001); other teams are exempt.
DOWNGRADE = (
    "    - {name: team-day, measure: usd, amount: 0.000001, window: day, action: downgrade, downgrade_to: [small],"
    " scope: {by: header, header: x-team, values: [search], others: exempt}}\n"
)


def cached_policy(primary: str, secondary: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", primary)
        + provider_block("two", secondary)
        + "models:\n"
        + f"  big: {{provider: one, model: big-1, price: {PRICES}}}\n"
        + f"  small: {{provider: two, model: small-1, price: {CHEAP}}}\n"
        + "routes:\n  - {name: chat, target: big, cache: {enabled: true, cacheable: always}}\n"
        + "budgets:\n  limits:\n"
        + DOWNGRADE
    )


async def ask(client: openai.AsyncOpenAI, team: str, stream: bool) -> tuple[str, Any]:
    """The answer's text and headers for a request of ``team``, streamed or whole."""
    body: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20}
    headers = {"x-team": team}
    if not stream:
        raw = await client.chat.completions.with_raw_response.create(**body, extra_headers=headers)
        return raw.parse().choices[0].message.content or "", raw.headers
    raw = await client.chat.completions.with_raw_response.create(**body, stream=True, extra_headers=headers)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in raw.parse() if chunk.choices])
    return text, raw.headers


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_downgraded_answer_is_not_served_to_a_request_the_limit_does_not_downgrade(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Team search's request is downgraded to ``small`` (a miss); team ads' identical request then is a miss
    served by ``big``, the route's own model, and the next one a hit of big's answer. Before, the downgraded
    answer was stored under the route's key: team ads got small's answer as a hit, without x-sidecar-model."""
    running = await sidecar(cached_policy(*await two_fakes(fake)))
    async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key") as client:
        _, downgraded = await ask(client, "search", stream)
        assert downgraded["x-sidecar-budget-action"] == "downgrade:team-day"
        assert downgraded["x-sidecar-model"] == "small" and downgraded["x-sidecar-cache"] == "miss"
        _, own = await ask(client, "ads", stream)
        assert own["x-sidecar-cache"] == "miss" and own["x-sidecar-model"] == "big"
        for _ in range(50):  # the miss's entry is written after its answer went out
            _, again = await ask(client, "ads", stream)
            if again["x-sidecar-cache"] == "hit":
                break
        assert again["x-sidecar-cache"] == "hit" and again["x-sidecar-model"] == "big"
