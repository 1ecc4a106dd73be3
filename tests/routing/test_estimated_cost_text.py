"""``x-sidecar-estimated-cost`` against the formula docs/routing.md gives for it, end to end: the official SDKs
-> a sidecar with a ``routing`` block -> fake providers. The text is the estimate with six decimals,
``(prompt_tokens x input price + expected output x output price) / 1e6`` at the prices of the tier the request
falls in (a service tier it asks for, the long-context tier above its threshold), plus a search fee per 1,000
searches times the searches it is expected to run; the same request asked twice (the policy's text of that
figure, kept since the first) and another request (another figure) each read as the formula says."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..sdk_clients import sdk_client
from .policies import ROUTING

PRICES = {
    # name: (the policy's price, in flow style; (input, output) by the tier a request falls in; search fee)
    "plain": ("{input_per_mtok: 0.15, output_per_mtok: 0.6}", {"": (0.15, 0.6)}, 0.0),
    "tiered": (
        "{input_per_mtok: 1.1, output_per_mtok: 4.4, service_tiers: {flex: {input_per_mtok: 0.55,"
        " output_per_mtok: 2.2}}}",
        {"": (1.1, 4.4), "flex": (0.55, 2.2)},
        0.0,
    ),
    "long": (
        "{input_per_mtok: 1.25, output_per_mtok: 10, long_context: {above_input_tokens: 1000, input_per_mtok: 2.5,"
        " output_per_mtok: 15}}",
        {"": (1.25, 10.0), "long": (2.5, 15.0)},
        0.0,
    ),
    "searching": ("{input_per_mtok: 0.3, output_per_mtok: 2.5, web_search_per_1k_calls: 35}", {"": (0.3, 2.5)}, 35.0),
}
PRICES["searching-anthropic"] = PRICES["searching"]  # on a fake speaking Anthropic: its search tool goes as it came
MAX_TOKENS = 100  # under the policy's expected output (512): the expected output is the request's maximum


async def start(fake: FakeFactory, sidecar: SidecarFactory) -> RunningSidecar:
    """One route per model (``match: {model: <name>}``), each model on its own fake provider speaking OpenAI
    (``searching-anthropic``: Anthropic)."""
    text = "version: 1\nproviders:\n"
    for name in PRICES:
        text += provider_block(f"p-{name}", await fake(name), name.partition("-")[2] or "openai")
    text += "models:\n"
    for name, (price, _, _) in PRICES.items():
        text += f"  {name}: {{provider: p-{name}, model: up-{name}, capabilities: [chat, tools], price: {price}}}\n"
    text += ROUTING + "routes:\n"
    text += "".join(f"  - {{name: r-{name}, match: {{model: {name}}}, target: {name}}}\n" for name in PRICES)
    return await sidecar(text)


def documented(running: RunningSidecar, model: str, tier: str = "", searches: int = 0) -> str:
    """The header the formula gives for the last request, on ``model`` at ``tier``'s prices (the long-context
    tier's when its estimated prompt, the access line's ``features.prompt_tokens``, is above 1,000)."""
    line = running.access_lines()[-1]
    assert line["served_model"] == model
    prompt_tokens = line["features"]["prompt_tokens"]
    _, prices, fee = PRICES[model]
    if "long" in prices and prompt_tokens > 1000:
        tier = "long"
    input_price, output_price = prices[tier]
    total = prompt_tokens * input_price + MAX_TOKENS * output_price
    if searches:
        total += searches * fee * 1000  # the fee per 1,000 searches, in the millionths ``total`` is in
    return f"{total / 1e6:.6f}"


async def openai_chat(running: RunningSidecar, model: str, text: str, **extra: Any) -> str:
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="k") as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(
            model=model, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": text}], **extra
        )
    return str(raw.headers["x-sidecar-estimated-cost"])


async def anthropic_message(running: RunningSidecar, model: str, text: str, **extra: Any) -> str:
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="k") as sdk:
        raw = await sdk.messages.with_raw_response.create(
            model=model, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": text}], **extra
        )
    return str(raw.headers["x-sidecar-estimated-cost"])


OPENAI_CASES = [
    ("plain", {}, "", 0),
    ("tiered", {}, "", 0),
    ("tiered", {"service_tier": "flex"}, "flex", 0),
    ("searching", {}, "", 0),
    ("searching", {"web_search_options": {}}, "", 1),
]


@pytest.mark.parametrize(("model", "extra", "tier", "searches"), OPENAI_CASES)
async def test_openai_chats_header_is_the_documented_formula(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, extra: dict[str, Any], tier: str, searches: int
) -> None:
    """Through openai-python, a chat's ``x-sidecar-estimated-cost`` is the documented formula with six
    decimals at its model's prices (flex's for ``service_tier="flex"``, one search's fee with
    ``web_search_options``): for a prompt, the same prompt again and another prompt."""
    running = await start(fake, sidecar)
    for text in ("Extract the city: I live in Paris.", "Extract the city: I live in Paris.", "Extract: Oslo, " * 9):
        header = await openai_chat(running, model, text, **extra)
        assert header == documented(running, model, tier, searches)


ANTHROPIC_CASES = [
    ("plain", "Extract the date: 3 May.", {}, 0),
    ("long", "Extract every word. " + "word " * 30, {}, 0),
    ("long", "Extract every word. " + "word " * 2000, {}, 0),
    ("searching-anthropic", "Any news today?", {"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, 1),
]


@pytest.mark.parametrize(("model", "text", "extra", "searches"), ANTHROPIC_CASES)
async def test_anthropic_messages_header_is_the_documented_formula(
    fake: FakeFactory, sidecar: SidecarFactory, model: str, text: str, extra: dict[str, Any], searches: int
) -> None:
    """Through the Anthropic SDK, a message's ``x-sidecar-estimated-cost`` is the documented formula with
    six decimals at its model's prices (the long-context tier's above 1,000 estimated prompt tokens, one
    search's fee with a ``web_search`` tool): for a prompt, the same prompt again and a longer one."""
    running = await start(fake, sidecar)
    for asked in (text, text, text + " And the rest."):
        header = await anthropic_message(running, model, asked, **extra)
        assert header == documented(running, model, "", searches)
