"""A ``select: cheapest`` route whose candidates' tiered prices (a service tier, a long-context tier) order
them differently from their standard prices, end to end: the official SDKs -> the sidecar -> fake
providers; the served model and ``x-sidecar-estimated-cost`` are what ``explain`` says of the same body."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..sdk_clients import sdk_client
from .routing_cheapest_route import served_as_explained, start

CAPABILITIES = "[chat, streaming]"
SERVICE_TIERED = {
    # the cheaper at the standard tier; at flex the dearer
    "steady": "{input_per_mtok: 1, output_per_mtok: 4, service_tiers: {flex: {input_per_mtok: 0.8,"
    " output_per_mtok: 3.2}}}",
    "flexible": "{input_per_mtok: 2, output_per_mtok: 8, service_tiers: {flex: {input_per_mtok: 0.25,"
    " output_per_mtok: 1}}}",
}
LONG_CONTEXT = {
    # the cheaper for a short prompt; above 1,000 prompt tokens at four times its prices, the dearer
    "doubling": "{input_per_mtok: 1, output_per_mtok: 4, long_context: {above_input_tokens: 1000, input_per_mtok: 4,"
    " output_per_mtok: 16}}",
    "flat": "{input_per_mtok: 2, output_per_mtok: 8}",
}


@pytest.mark.parametrize(("tier", "served"), [("flex", "flexible"), (None, "steady"), ("auto", "steady")])
async def test_an_openai_chat_asking_a_service_tier_goes_to_the_model_cheapest_at_that_tier(
    fake: FakeFactory, sidecar: SidecarFactory, tier: str | None, served: str
) -> None:
    """openai-python's ``service_tier="flex"`` is served by the model cheapest at flex, a chat asking none (or
    ``auto``) by the one cheapest at the standard tier; ``x-sidecar-estimated-cost`` is the served model's
    cost at that tier, as ``explain`` says."""
    running = await start(fake, sidecar, "openai", SERVICE_TIERED, CAPABILITIES)
    body: dict[str, Any] = {"model": "auto", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi."}]}
    if tier is not None:
        body["service_tier"] = tier
    async with sdk_client(openai.AsyncOpenAI, base_url=f"{running.url}/v1", api_key="k") as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(**body)
    served_as_explained(running, "/v1/chat/completions", body, raw.headers, served)


@pytest.mark.parametrize(("words", "served"), [(2000, "flat"), (20, "doubling")])
async def test_an_anthropic_prompt_above_a_long_context_threshold_goes_to_the_model_cheaper_there(
    fake: FakeFactory, sidecar: SidecarFactory, words: int, served: str
) -> None:
    """Through the Anthropic SDK, a prompt estimated above a model's ``long_context.above_input_tokens`` is
    priced at that tier, which makes the other model the cheaper: it serves it; a short prompt goes to the
    model cheaper at its standard prices; the header is the served model's cost, as ``explain`` says."""
    running = await start(fake, sidecar, "anthropic", LONG_CONTEXT, CAPABILITIES)
    body = {"model": "auto", "max_tokens": 100, "messages": [{"role": "user", "content": "word " * words}]}
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="k") as sdk:
        raw = await sdk.messages.with_raw_response.create(**body)
    served_as_explained(running, "/v1/messages", body, raw.headers, served)
