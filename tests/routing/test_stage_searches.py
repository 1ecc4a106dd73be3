"""A ``select: cheapest`` route between a model with a web-search fee and one without, end to end: the
official SDKs -> the sidecar -> fake providers; ``explain`` of the same request agrees."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .routing_cheapest_route import served_as_explained, start

CAPABILITIES = "[chat, streaming, tools, json]"
PRICES = {
    # the cheaper by its tokens, with a fee of 2.5 cents a search
    "searcher": "{input_per_mtok: 0.5, output_per_mtok: 2, web_search_per_1k_calls: 25}",
    "plain": "{input_per_mtok: 2, output_per_mtok: 8}",
}
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


@pytest.mark.parametrize(("search", "served"), [(True, "plain"), (False, "searcher")])
async def test_an_openai_chat_offering_a_search_goes_to_the_model_cheaper_with_its_search_fee(
    fake: FakeFactory, sidecar: SidecarFactory, search: bool, served: str
) -> None:
    """A chat with ``web_search_options`` is served by the model without a search fee (the other's fee
    makes it the dearer), and ``x-sidecar-estimated-cost`` is that model's cost, as ``explain`` says; a
    chat without it by the model cheaper by its tokens. At c06764c both went to the one with the fee, the
    header its tokens' cost alone."""
    running = await start(fake, sidecar, "openai", PRICES, CAPABILITIES)
    body: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": "Any news today?"}]}
    if search:
        body["web_search_options"] = {}
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="k") as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(**body)
    served_as_explained(running, "/v1/chat/completions", body, raw.headers, served)


@pytest.mark.parametrize(
    ("tool", "served"),
    [(WEB_SEARCH, "plain"), (WEB_SEARCH | {"max_uses": 3}, "plain"), (WEB_SEARCH | {"max_uses": 0}, "searcher")],
)
async def test_an_anthropic_request_with_a_web_search_tool_is_priced_with_its_expected_search(
    fake: FakeFactory, sidecar: SidecarFactory, tool: dict[str, Any], served: str
) -> None:
    """Anthropic's ``web_search`` tool, with or without ``max_uses``, is expected to run one search: the
    model with the fee is the dearer, the header is the other's cost, as ``explain`` says; ``max_uses: 0``
    lets it run none: the model cheaper by its tokens serves it. At c06764c every one went to the model
    with the fee."""
    running = await start(fake, sidecar, "anthropic", PRICES, CAPABILITIES)
    body = {"model": "auto", "max_tokens": 200, "messages": [{"role": "user", "content": "News?"}], "tools": [tool]}
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="k") as sdk:
        raw = await sdk.messages.with_raw_response.create(**body)
    served_as_explained(running, "/v1/messages", body, raw.headers, served)


@pytest.mark.parametrize("billed", ["search", "prompt"])
@pytest.mark.parametrize(
    ("search", "plain_output", "served"), [(True, 8, "plain"), (False, 8, "searcher"), (True, 100, "searcher")]
)
async def test_a_gemini_request_with_a_google_search_tool_is_priced_with_its_expected_search(
    fake: FakeFactory,
    sidecar: SidecarFactory,
    gemini_client: Any,
    billed: str,
    search: bool,
    plain_output: float,
    served: str,
) -> None:
    """google-genai's ``google_search`` tool (sent as ``googleSearch``) is expected to run one search, billed
    per search (Gemini 3) or per grounded prompt (Gemini 2.5): the model with the fee is the dearer, so the
    other serves it; without the tool the model cheaper by its tokens serves it; when the other is dearer
    still (its output at $100 a million), the model with the fee serves it and ``x-sidecar-estimated-cost``
    includes its 2.5 cents. The header is always the served model's cost as ``explain`` says of the body."""
    from google.genai import types

    prices = {
        "searcher": PRICES["searcher"].replace("}", f", web_search_billed_per: {billed}}}"),
        "plain": f"{{input_per_mtok: 2, output_per_mtok: {plain_output}}}",
    }
    running = await start(fake, sidecar, "gemini", prices, CAPABILITIES)
    tools = [types.Tool(google_search=types.GoogleSearch())] if search else None
    response = await gemini_client(running.url).aio.models.generate_content(
        model="auto", contents="Any news today?", config=types.GenerateContentConfig(tools=tools)
    )
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "Any news today?"}]}]}
    if search:
        body["tools"] = [{"googleSearch": {}}]
    path = "/v1beta/models/auto:generateContent"
    estimated = served_as_explained(running, path, body, response.sdk_http_response.headers, served)
    assert (estimated > 0.025) is (search and served == "searcher")
