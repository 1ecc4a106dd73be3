"""The budget tests' policy and helpers (tests/server/test_budget.py, test_billed.py,
test_billed_unanswered.py): two fake providers, ``big`` and ``alt`` at 1000 $/Mtok, ``small`` at 1 $/Mtok,
one route ``chat``, the budget ``limits`` given; a chat body; the budget rows of ``/status``; a stream the
app leaves early; the cost and tokens metrics' sums; the last access line; a chat through the OpenAI SDK,
streamed or whole."""

from __future__ import annotations

from typing import Any

import aiohttp
import openai
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import FakeFactory, RunningSidecar, provider_block
from ..sdk_clients import sdk_client

# 1000 $/Mtok in and out: a token costs $0.001, so a few dozen tokens are cents.
PRICES = "{input_per_mtok: 1000, output_per_mtok: 1000}"
CHEAP = "{input_per_mtok: 1, output_per_mtok: 1}"
BIG, SMALL = 0.001, 0.000001  # $ per token: big 1000 $/Mtok, small 1 $/Mtok
# A tokens and a dollars limit, each per month, too large to refuse anything.
LIMITS = (
    "    - {name: tokens-month, measure: tokens, amount: 100000, window: month}\n"
    "    - {name: usd-month, measure: usd, amount: 1000, window: month}\n"
)


def policy(
    primary: str, secondary: str, limits: str, *, headers: bool = False, route: str = "[big, alt]", cache: str = ""
) -> str:
    """The policy above; ``cache``: the route's ``cache:`` block (flow YAML), if any."""
    cached = f", cache: {cache}" if cache else ""
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", primary)
        + provider_block("two", secondary)
        + "models:\n"
        + f"  big: {{provider: one, model: big-1, price: {PRICES}}}\n"
        + f"  alt: {{provider: two, model: alt-1, price: {PRICES}}}\n"
        + f"  small: {{provider: two, model: small-1, price: {CHEAP}}}\n"
        + f"routes:\n  - {{name: chat, target: {route}{cached}}}\n"
        + f"budgets:\n  headers: {'true' if headers else 'false'}\n  limits:\n"
        + limits
    )


async def two_fakes(fake: FakeFactory) -> tuple[str, str]:
    return await fake("one"), await fake("two")


def chat(max_tokens: int = 20, text: str = "hello there") -> dict[str, Any]:
    return {"model": "chat", "messages": [{"role": "user", "content": text}], "max_tokens": max_tokens}


async def get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


async def budget_rows(running: RunningSidecar) -> dict[str, dict[str, Any]]:
    status = await get_json(running.url + "/status")
    return {f"{row['limit']}/{row['value']}": row for row in status["budgets"]}


async def close_after_a_few_words(client: openai.AsyncOpenAI, max_tokens: int = 1000) -> str:
    """Stream a chat of ``max_tokens`` and close it after 8 words; the text received."""
    stream = await client.chat.completions.create(**chat(max_tokens=max_tokens), stream=True)
    received = ""
    async for chunk in stream:
        received += chunk.choices[0].delta.content or "" if chunk.choices else ""
        if received.count("word") >= 8:
            break
    await stream.close()
    return received


async def metrics(running: RunningSidecar) -> dict[str, float]:
    """``cost``: the sum of ``llm_sidecar_cost_usd_total``; ``input``, ``output``: ``llm_sidecar_tokens_total``."""
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        text = await response.text()
    sums = {"cost": 0.0, "input": 0.0, "output": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "llm_sidecar_cost_usd_total":
                sums["cost"] += sample.value
            elif sample.name == "llm_sidecar_tokens_total" and sample.labels["type"] in ("input", "output"):
                sums[sample.labels["type"]] += sample.value
    return sums


def access_line(running: RunningSidecar) -> dict[str, Any]:
    return [line for line in running.log_lines() if line.get("event") == "access"][-1]


async def openai_sdk(running: RunningSidecar) -> openai.AsyncOpenAI:
    return sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key")


async def streamed_usage(running: RunningSidecar) -> Any:
    """A streamed chat through the OpenAI SDK, to its end: the usage its last chunk reports."""
    client = await openai_sdk(running)
    stream = await client.chat.completions.create(**chat(), stream=True, stream_options={"include_usage": True})
    usage = [chunk.usage async for chunk in stream if chunk.usage is not None][-1]
    await client.close()
    return usage


async def answered_whole(running: RunningSidecar) -> tuple[int, dict[str, dict[str, Any]]]:
    """An unstreamed chat through the OpenAI SDK: its answer's tokens, and the budget rows after it."""
    client = await openai_sdk(running)
    answer = await client.chat.completions.create(**chat())
    await client.close()
    assert answer.usage is not None
    return answer.usage.prompt_tokens + answer.usage.completion_tokens, await budget_rows(running)
