"""The response cache and a budget's downgrade (``server.cache_stage``, ``server.budget``): the answer of a
request a limit downgraded to its cheaper list is not stored under the route's key, so the route's other
requests (outside the limit's scope, or after its window) never get the cheaper model's answer as a hit.
A real sidecar, real fake providers, the official OpenAI SDK; the local budget store and the memory cache."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .budget_policies import policy, two_fakes

# x-team: search is past its limit at once (any request needs more than $0.000001); other teams are exempt.
DOWNGRADE = (
    "    - {name: team-day, measure: usd, amount: 0.000001, window: day, action: downgrade, downgrade_to: [small],"
    " scope: {by: header, header: x-team, values: [search], others: exempt}}\n"
)


async def ask(client: openai.AsyncOpenAI, team: str, stream: bool) -> Any:
    """The answer's headers for a request of ``team``, streamed (read to its end) or whole."""
    body: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20}
    raw: Any = await client.chat.completions.with_raw_response.create(
        **body, stream=stream, extra_headers={"x-team": team}
    )
    if stream:
        assert [chunk async for chunk in raw.parse()]
    else:
        assert raw.parse().choices[0].message.content
    return raw.headers


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_downgraded_answer_is_not_served_to_a_request_the_limit_does_not_downgrade(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """Team search's request is downgraded to ``small`` (a miss); team ads' identical request then is a miss
    served by ``big``, the route's own model, and the next one a hit of big's answer. Before, the downgraded
    answer was stored under the route's key: team ads got small's answer as a hit, without x-sidecar-model."""
    running = await sidecar(
        policy(*await two_fakes(fake), DOWNGRADE, route="big", cache="{enabled: true, cacheable: always}")
    )
    async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key") as client:
        downgraded = await ask(client, "search", stream)
        assert downgraded["x-sidecar-budget-action"] == "downgrade:team-day"
        assert downgraded["x-sidecar-model"] == "small" and downgraded["x-sidecar-cache"] == "miss"
        own = await ask(client, "ads", stream)
        assert own["x-sidecar-cache"] == "miss" and own["x-sidecar-model"] == "big"
        for _ in range(50):  # the miss's entry is written after its answer went out
            again = await ask(client, "ads", stream)
            if again["x-sidecar-cache"] == "hit":
                break
        assert again["x-sidecar-cache"] == "hit" and again["x-sidecar-model"] == "big"
