"""Web searches and the budgets: a request that lets its provider search the web is reserved the searches
it may run at the model's ``web_search_per_1k_calls`` (``budgets.estimate.searches_asked``): Anthropic's
``web_search`` tool's ``max_uses``, OpenAI Responses' ``max_tool_calls``, else ``budgets.default_web_searches``.
A real sidecar, real fake providers, the official SDKs; the 429 of a full budget says what a request needs."""

from __future__ import annotations

import re
from typing import Any

import anthropic
import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..sdk_clients import sdk_client

SEARCH = 0.1  # $ per search (100 $ per 1,000): a search weighs more than a tool's bytes (a token: $0.001)
MAX_TOKENS = 20
SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search"}


def searching_policy(url: str, settings: str = "", billed_per: str = "search") -> str:
    """Model ``big`` priced per token and per search (``web_search_billed_per``), a budget too small for any
    request."""
    fees = f"web_search_per_1k_calls: 100, web_search_billed_per: {billed_per}"
    price = f"{{input_per_mtok: 1000, output_per_mtok: 1000, {fees}}}"
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", url)
        + f"models:\n  big: {{provider: one, model: big-1, price: {price}}}\n"
        + "routes:\n  - {name: chat, target: [big]}\n"
        + f"budgets:\n{settings}  limits:\n"
        + "    - {name: usd-month, measure: usd, amount: 0.000001, window: month}\n"
    )


def needed(message: str) -> float:
    found = re.search(r"needs up to \$([0-9.]+)", message)
    assert found is not None, message
    return float(found.group(1))


async def anthropic_needs(claude: anthropic.AsyncAnthropic, tools: list[dict[str, Any]]) -> float:
    """What a chat whose body has ``tools`` (none: no ``tools``) needs, as the 429 says."""
    tools_field: dict[str, Any] = {"tools": tools} if tools else {}
    with pytest.raises(anthropic.RateLimitError) as raised:
        await claude.messages.create(
            model="chat",
            max_tokens=MAX_TOKENS,
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            **tools_field,
        )
    return needed(raised.value.message)


def searches_in(needs: float, plain: float) -> int:
    """The searches a request reserves beyond ``plain``'s (the same request without the search): the tool's
    few bytes weigh a few tokens, far less than half a search."""
    return round((needs - plain) / SEARCH)


async def test_an_anthropic_web_search_tool_reserves_its_max_uses_or_the_default(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Through the Anthropic SDK, a request with the ``web_search`` tool and ``max_uses: 3`` reserves 3
    searches more than the same request without it, one without ``max_uses`` the 5 of
    ``default_web_searches``, and 2 when the policy says 2 (before: the tokens alone, so a ``usd`` limit's
    last request could pass it by every search's fee)."""
    running = await sidecar(searching_policy(await fake("one")))
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as claude:
        plain = await anthropic_needs(claude, [])
        assert searches_in(await anthropic_needs(claude, [{**SEARCH_TOOL, "max_uses": 3}]), plain) == 3
        assert searches_in(await anthropic_needs(claude, [SEARCH_TOOL]), plain) == 5
    running = await sidecar(searching_policy(await fake("two"), "  default_web_searches: 2\n"))
    async with sdk_client(anthropic.AsyncAnthropic, base_url=running.url, api_key="app-key") as claude:
        assert searches_in(await anthropic_needs(claude, [SEARCH_TOOL]), plain) == 2


async def test_an_openai_responses_web_search_reserves_max_tool_calls(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Through openai-python's ``responses.create``, a request with the ``web_search`` tool and
    ``max_tool_calls: 4`` reserves 4 searches beyond the same request's tokens."""
    running = await sidecar(searching_policy(await fake("one")))
    async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key") as client:
        asks: list[float] = []
        for extra in ({}, {"tools": [{"type": "web_search"}], "max_tool_calls": 4}):
            with pytest.raises(openai.RateLimitError) as raised:
                await client.responses.create(model="chat", input="Weather in Paris?", max_output_tokens=20, **extra)
            asks.append(needed(raised.value.message))
    assert searches_in(asks[1], asks[0]) == 4


async def test_a_model_that_searches_on_every_call_reserves_one_search_without_web_search_options(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Through openai-python, a chat without ``web_search_options`` to a model whose price says it searches
    on every call (``web_search_billed_per: call``: OpenAI's search models) reserves one search beyond the
    same chat to a model billed per search, and one too with ``web_search_options`` (before: none without
    them, so the call settled above its reservation by a search's fee, past a ``deny`` limit)."""
    asks: list[float] = []
    for billed_per, extra in (("search", {}), ("call", {}), ("call", {"web_search_options": {}})):
        running = await sidecar(searching_policy(await fake(billed_per), billed_per=billed_per))
        async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key") as client:
            with pytest.raises(openai.RateLimitError) as raised:
                await client.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "Weather in Paris?"}], max_tokens=20, **extra
                )
        asks.append(needed(raised.value.message))
    assert [searches_in(ask, asks[0]) for ask in asks[1:]] == [1, 1]


def judged_policy(urls: list[str], judge_billed_per: str) -> str:
    """A judged ensemble of ``big`` and ``alt`` (priced per search) whose judge is ``judge``, its search fee
    billed per ``judge_billed_per``; a budget too small for any request."""
    fees = "web_search_per_1k_calls: 100, web_search_billed_per"
    models = "".join(
        f"  {name}: {{provider: {name}, model: {name}-1, price: {{input_per_mtok: 1000, output_per_mtok: 1000, "
        f"{fees}: {billed_per}}}}}\n"
        for name, billed_per in (("big", "search"), ("alt", "search"), ("judge", judge_billed_per))
    )
    return (
        "version: 1\nproviders:\n"
        + "".join(provider_block(name, url) for name, url in zip(("big", "alt", "judge"), urls, strict=True))
        + f"models:\n{models}"
        + "routes:\n  - {name: chat, ensemble: {members: [big, alt], strategy: judge, judge: {target: judge}}}\n"
        + "budgets:\n  limits:\n    - {name: usd-month, measure: usd, amount: 0.000001, window: month}\n"
    )


async def test_an_ensemble_judge_that_searches_on_every_call_reserves_its_search(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Through openai-python, an ensemble whose judge's model searches on every call (``web_search_billed_per:
    call``) reserves one search more than the same ensemble whose judge is billed per search: the judge's
    body (the sidecar's prompt, no tools, no ``cache_control``) lets no other model search or write to the
    cache for an hour, but this one searches all the same."""
    asks: list[float] = []
    for billed_per in ("search", "call"):
        urls = [await fake(f"{name}-{billed_per}") for name in ("big", "alt", "judge")]
        running = await sidecar(judged_policy(urls, billed_per))
        async with sdk_client(openai.AsyncOpenAI, base_url=running.url + "/v1", api_key="app-key") as client:
            with pytest.raises(openai.RateLimitError) as raised:
                await client.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "Weather in Paris?"}], max_tokens=20
                )
        asks.append(needed(raised.value.message))
    assert searches_in(asks[1], asks[0]) == 1
