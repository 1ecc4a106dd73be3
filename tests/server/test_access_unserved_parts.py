"""The access line's token parts sum like its totals (docs/logs.md): the cached input and cache writes
of a call whose answer the app did not get (here an answer a quality gate rejected) are in
``cached_input_tokens`` and ``cache_write_tokens``, as its input tokens are in ``input_tokens`` (before
2026-12-05 they were left out: the line said more input tokens than its cached part could explain)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import openai_client
from ..upstream.raw import UpstreamFactory
from .anthropic_usage import ANTHROPIC_USAGE, CACHED, IN, OUT, WRITE, anthropic_upstream
from .budget_walks import access_line

PRICE = (
    f"{{input_per_mtok: {IN}, output_per_mtok: {OUT}, cached_input_per_mtok: {CACHED}, cache_write_per_mtok: {WRITE}}}"
)


async def charged(running: RunningSidecar) -> dict[str, float]:
    """What each budget counted: {limit: used}."""
    async with aiohttp.ClientSession() as session, session.get(f"{running.url}/status") as answer:
        return {row["limit"]: row["used"] for row in (await answer.json())["budgets"]}


def policy(anthropic_base: str, openai_base: str) -> str:
    """Model ``cached`` (an Anthropic upstream whose answer "hi" read and wrote its prompt cache) first,
    ``plain`` (the fake OpenAI provider, echoing) next; a gate that rejects the answer "hi"."""
    return (
        "version: 1\nproviders:\n"
        f"  pa: {{dialect: anthropic, base_url: '{anthropic_base}', api_key: {{env: P_KEY}}}}\n"
        + provider_block("po", openai_base, "openai")
        + f"models:\n  cached: {{provider: pa, model: m-1, price: {PRICE}}}\n"
        f"  plain: {{provider: po, model: m-2, price: {{input_per_mtok: {IN}, output_per_mtok: {OUT}}}}}\n"
        "routes:\n  - name: r\n    match: {model: m}\n    target: [cached, plain]\n"
        "    gates: {regex: {pattern: '^(?!hi$)'}, on_fail: next_target}\n"
        "budgets:\n  limits:\n"
        "    - {name: usd-month, measure: usd, amount: 1000, window: month, scope: {by: global}}\n"
        "    - {name: tokens-month, measure: tokens, amount: 10000000, window: month, scope: {by: global}}\n"
    )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_rejected_answers_cache_reads_and_writes_are_in_the_lines_parts(
    raw_upstream: UpstreamFactory, fake: FakeFactory, sidecar: SidecarFactory, stream: bool
) -> None:
    """The first model's answer (3,100 input tokens: 2,000 read from the prompt cache, 1,000 written to
    it) is rejected by the gate and the next model's served: the line's ``cached_input_tokens`` is 2,000
    and its ``cache_write_tokens`` 1,000 (the served answer has none), its ``input_tokens`` both calls';
    the budgets count the line's tokens and cost."""
    upstream = await raw_upstream(anthropic_upstream())
    running = await sidecar(policy(upstream.base, await fake("fake-openai")), env={"P_KEY": "sk-x"})
    ask: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}
    async with openai_client(running) as client:
        if stream:
            chunks = await client.chat.completions.create(**ask, stream=True, stream_options={"include_usage": True})
            usage = [chunk.usage async for chunk in chunks if chunk.usage is not None][-1]
        else:
            usage = (await client.chat.completions.create(**ask)).usage
    assert usage is not None
    line = access_line(running)
    assert line["served_model"] == "plain" and line["gate_rejections"] == ["cached:regex"]
    rejected_input = sum(ANTHROPIC_USAGE[name] for name in ANTHROPIC_USAGE if name != "output_tokens")
    assert line["input_tokens"] == rejected_input + usage.prompt_tokens
    assert (line["cached_input_tokens"], line["cache_write_tokens"]) == (2000, 1000)
    assert line["output_tokens"] == ANTHROPIC_USAGE["output_tokens"] + usage.completion_tokens
    assert await charged(running) == {
        "usd-month": pytest.approx(line["cost_usd"]),
        "tokens-month": line["input_tokens"] + line["output_tokens"],
    }
