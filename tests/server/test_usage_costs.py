"""The cost the sidecar counts for one answer is the provider's bill for it, from the usage in the shape each
provider sends: the access line's ``cost_usd``, the budget's charge and the token counts agree with the
model's prices applied to that usage, each token priced once (docs/policy.md, Prices).

- The OpenAI Responses API (``input_tokens``/``output_tokens`` names, the stream's usage in its
  ``response.completed`` event) through openai-python, from the fake provider.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client

# Dollars per million tokens, large so that a few tokens make whole cents.
IN, CACHED, OUT = 1000.0, 100.0, 4000.0
PRICE = f"{{input_per_mtok: {IN}, output_per_mtok: {OUT}, cached_input_per_mtok: {CACHED}}}"
LIMITS = (
    "budgets:\n  limits:\n"
    "    - {name: usd-day, measure: usd, amount: 1000, window: day, scope: {by: global}}\n"
    "    - {name: tokens-day, measure: tokens, amount: 10000000, window: day, scope: {by: global}}\n"
)


def policy(provider: str) -> str:
    return (
        f"version: 1\nproviders:\n{provider}"
        f"models:\n  m: {{provider: p, model: m-1, price: {PRICE}}}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n" + LIMITS
    )


async def charged(running: RunningSidecar) -> dict[str, float]:
    """What each budget counted: {limit: used}."""
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
        rows = (await answer.json())["budgets"]
    return {row["limit"]: row["used"] for row in rows}


def access(running: RunningSidecar) -> dict[str, Any]:
    (line,) = [line for line in running.log_lines() if line.get("event") == "access"]
    return line


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_responses_api_answer_is_costed_and_charged(
    fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """``responses.create`` and ``responses.stream``: the access line counts the tokens the answer's usage
    reports and their cost, and the budgets charge the same dollars and tokens (they read 0 tokens and
    $0 for an answer, and nothing, so the reservation, for a stream)."""
    url = await fake("fake-openai")
    running = await sidecar(policy(provider_block("p", url, "openai")))
    async with openai_client(running) as client:
        if stream:
            async with client.responses.stream(model="m", input="hello costs") as events:
                async for _ in events:
                    pass
                usage = (await events.get_final_response()).usage
        else:
            usage = (await client.responses.create(model="m", input="hello costs")).usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    cost = (usage.input_tokens * IN + usage.output_tokens * OUT) / 1e6
    line = access(running)
    assert (line["input_tokens"], line["output_tokens"], line["cost_usd"]) == (
        usage.input_tokens,
        usage.output_tokens,
        pytest.approx(cost),
    )
    assert await charged(running) == {"usd-day": pytest.approx(cost), "tokens-day": usage.total_tokens}
