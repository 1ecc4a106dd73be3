"""A stream cut after its provider ran web searches, before the event that reports them (Anthropic's final
``message_delta``, OpenAI Responses' ``response.completed``, a search model's usage chunk; a Gemini
grounding in a fragment before the last): the searches its events showed are charged at the model's
``web_search_per_1k_calls`` with the tokens counted so far (``stream_read.EventReader.with_searches``), in
the access line (``web_search_calls``, ``cost_usd``), the budgets (the pod's counters and a real
redis-server's) and ``llm_sidecar_cost_usd_total`` alike. A real sidecar, raw upstreams on loopback
streaming each provider's events (tests/server/budget45_search_streams.py), the official SDKs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from ..conftest import RunningSidecar, SidecarFactory
from ..sdk_clients import anthropic_client, openai_client
from ..upstream.raw import UpstreamFactory
from .budget45_search_streams import anthropic_searched, chat_cited, cut_stream, gemini_grounded, responses_searched
from .budget_walks import access_line, store, use

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

TOKEN, SEARCH = 0.001, 1.0  # dollars: a search weighs a thousand tokens
PRICE = "{input_per_mtok: 1000, output_per_mtok: 1000, web_search_per_1k_calls: 1000}"
ASK = [{"role": "user", "content": "Weather in Paris?"}]


def searching_policy(dialect: str, base: str, store: str) -> str:
    """Model ``m`` (``dialect``, at ``base``) priced per token and per search (a Gemini model's per query);
    one ``usd`` limit in ``store``."""
    price = PRICE[:-1] + ", web_search_billed_per: search}" if dialect == "gemini" else PRICE
    provider = f"  p: {{dialect: {dialect}, base_url: '{base}', api_key: {{env: P_KEY}}}}\n"
    return (
        f"version: 1\nproviders:\n{provider}"
        f"models:\n  m: {{provider: p, model: m-1, price: {price}}}\n"
        "routes:\n  - {name: r, match: {model: m}, target: [m]}\n"
        f"budgets:\n{store}  limits:\n"
        "    - {name: usd-month, measure: usd, amount: 1000, window: month, scope: {by: global}}\n"
    )


async def anthropic_streamed(running: RunningSidecar, gemini_client: Any) -> None:
    async with anthropic_client(running) as client:
        with pytest.raises(anthropic.APIError):
            async for _ in await client.messages.create(model="m", max_tokens=64, messages=ASK, stream=True):
                pass


async def chat_streamed(running: RunningSidecar, gemini_client: Any) -> None:
    async with openai_client(running) as client:
        with pytest.raises(openai.APIError):
            async for _ in await client.chat.completions.create(model="m", messages=ASK, stream=True):
                pass


async def responses_streamed(running: RunningSidecar, gemini_client: Any) -> None:
    async with openai_client(running) as client:
        with pytest.raises(openai.APIError):
            async for _ in await client.responses.create(model="m", input="Weather in Paris?", stream=True):
                pass


async def gemini_streamed(running: RunningSidecar, gemini_client: Any) -> None:
    from google.genai import errors

    with pytest.raises(errors.APIError):
        async for _ in await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi"):
            pass


Ask = Callable[[RunningSidecar, Any], Any]
CASES: dict[str, tuple[str, Callable[[], list[bytes]], Ask, int]] = {
    "anthropic": ("anthropic", anthropic_searched, anthropic_streamed, 2),
    "anthropic-to-openai": ("anthropic", anthropic_searched, chat_streamed, 2),
    "responses": ("openai", responses_searched, responses_streamed, 2),
    "search-model-chat": ("openai", chat_cited, chat_streamed, 1),
    "gemini": ("gemini", gemini_grounded, gemini_streamed, 2),
}


async def cost_metric(running: RunningSidecar) -> float:
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as answer:
        metrics = await answer.text()
    (row,) = [row for row in metrics.splitlines() if row.startswith("llm_sidecar_cost_usd_total{")]
    return float(row.rsplit(" ", 1)[1])


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_stream_cut_after_its_searches_is_charged_them(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any, store: str, case: str
) -> None:
    """A stream that ran web searches and broke off before the event that reports them (Anthropic's two
    ``web_search`` blocks with results, a third failed; two Responses ``web_search_call`` items; a search
    model's ``url_citation``; a Gemini fragment grounded with two queries before the last fragment;
    relayed, or translated to an OpenAI caller) is charged those searches beside its tokens so far: the
    access line's ``web_search_calls`` and ``cost_usd``, the budget and the cost metric agree (before: the
    tokens alone, the searches the provider bills left out)."""
    dialect, events, ask, searches = CASES[case]
    upstream = await raw_upstream(cut_stream(events()))
    base = upstream.base + ("/v1" if dialect == "openai" else "")
    running = await sidecar(searching_policy(dialect, base, store), env={"P_KEY": "sk-x"})
    await ask(running, gemini_client)
    line = access_line(running)
    assert line.get("web_search_calls") == searches
    cost = (line["input_tokens"] + line["output_tokens"]) * TOKEN + searches * SEARCH
    assert line["cost_usd"] == pytest.approx(cost)
    assert await use(running, cost) == pytest.approx(cost)
    assert await cost_metric(running) == pytest.approx(cost)


async def test_a_gemini_stream_grounded_before_its_last_fragment_is_charged_its_queries(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini stream relayed to google-genai to its end, whose second of three fragments was grounded with
    two queries (the relay reads the usage of the last fragment alone, which names none) is charged the two
    searches (before: none, the grounding of a fragment before the last left out)."""
    upstream = await raw_upstream(cut_stream(gemini_grounded(finished=True), cut=False))
    running = await sidecar(searching_policy("gemini", upstream.base, ""), env={"P_KEY": "sk-x"})
    async for _ in await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi"):
        pass
    line = access_line(running)
    assert line.get("web_search_calls") == 2
    assert line["cost_usd"] == pytest.approx((line["input_tokens"] + line["output_tokens"]) * TOKEN + 2 * SEARCH)
