"""A provider that lies about its usage (negative or absurdly large token counts, in an answer read whole
or in a stream's usage chunk) cannot credit a budget, overflow one, or make a request's cost negative:
the counts read as not reported (``translate.common.MAX_REPORTED_TOKENS``); more cached tokens than
prompt tokens are priced as the prompt tokens at most. A raw upstream writes the
lies; a real sidecar counts them."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..upstream.raw import Request, UpstreamFactory, whole_or_streamed

LIES = {
    "negative": {"prompt_tokens": -1_000_000, "completion_tokens": -5_000_000, "total_tokens": -6_000_000},
    "past 64 bits when summed": {"prompt_tokens": 2**64 - 1, "completion_tokens": 2**64 - 1},
    "cached past the prompt": {
        "prompt_tokens": 5,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 900_000_000},
    },
}


def asks_a_stream(request: Request) -> bool:
    return bool(orjson.loads(request.body).get("stream"))


def liar(usage: dict[str, Any]) -> Any:
    """An OpenAI server answering "hi" with ``usage``, whole or as a stream with a usage chunk."""
    message = {"role": "assistant", "content": "hi"}
    whole = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "usage": usage}
    whole["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": message, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**chunk, "choices": [], "usage": usage},
    ]
    sse = [b"data: " + orjson.dumps(e) + b"\n\n" for e in events] + [b"data: [DONE]\n\n"]
    return whole_or_streamed(orjson.dumps(whole), sse, asks_a_stream)


def budget_policy(url: str) -> str:
    return (
        "version: 1\nproviders:\n"
        f"  liar: {{dialect: openai, base_url: '{url}/v1', api_key: {{env: LIAR_KEY}}}}\n"
        "models:\n  m: {provider: liar, model: m, price: {input_per_mtok: 1, output_per_mtok: 10}}\n"
        "routes:\n  - {name: chat, match: {model: m}, target: [m]}\n"
        "budgets:\n  limits:\n"
        "    - {name: usd-month, measure: usd, amount: 100, window: month, scope: {by: global}}\n"
        "    - {name: tokens-month, measure: tokens, amount: 100000, window: month, scope: {by: global}}\n"
    )


async def ask(running: RunningSidecar, stream: bool) -> int:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{running.url}/v1/chat/completions", json=body) as answer,
    ):
        await answer.read()
        return answer.status


@pytest.mark.parametrize("lie", LIES)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_lying_usage_neither_credits_nor_exhausts_the_budget(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, lie: str, stream: bool
) -> None:
    """Three answers with impossible usage: every one is served, each budget's spend stays between 0 and
    its amount, and no access line has a negative or absurd cost or token count."""
    upstream = await raw_upstream(liar(LIES[lie]))
    running = await sidecar(budget_policy(upstream.base), env={"LIAR_KEY": "sk-x"})
    assert [await ask(running, stream) for _ in range(3)] == [200, 200, 200]
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
        rows = (await answer.json())["budgets"]
    assert {row["limit"]: 0 <= row["used"] < row["amount"] for row in rows} == {"usd-month": True, "tokens-month": True}
    for line in running.log_lines()[-3:]:
        assert 0 <= line.get("cost_usd", 0) < 1
        assert 0 <= line.get("input_tokens", 0) <= 1_000_000_000
        assert 0 <= line.get("output_tokens", 0) <= 1_000_000_000
