"""Routing's expected cost of a request on a model (``routing.record.expected_cost``: the
``x-sidecar-estimated-cost`` header, the access line's ``estimated_cost_usd``, ``explain``'s costs) and the
service tier the request asks for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidecar.policy import load_policy
from sidecar.request_facts import describe_request
from sidecar.routing.record import expected_cost, routed

POLICY = """version: 1
providers:
  openai: {dialect: openai, base_url: 'http://127.0.0.1:9/v1'}
  anthropic: {dialect: anthropic, base_url: 'http://127.0.0.1:9'}
models:
  mini:
    provider: openai
    model: gpt-4o-mini
    price: {input_per_mtok: 2, output_per_mtok: 8, service_tiers: {flex: {input_per_mtok: 1, output_per_mtok: 4},
      priority: {input_per_mtok: 4, output_per_mtok: 16}}}
  claude: {provider: anthropic, model: claude-x, price: {input_per_mtok: 2, output_per_mtok: 8,
    service_tiers: {priority: {input_per_mtok: 4, output_per_mtok: 16}}}}
routes:
  - {name: mini, target: [mini]}
"""


def estimate(tmp_path: Path, model: str, path: str, extra: dict[str, Any]) -> tuple[float | None, float]:
    """The expected cost of a short request on ``model`` with ``extra`` in its body, and its standard cost
    (its prompt and output at the standard prices)."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    policy = load_policy(tmp_path / "policy.yaml")
    body: dict[str, Any] = {"model": model, **extra}
    if path == "/v1/responses":
        body |= {"input": "hi", "max_output_tokens": 100}
    else:
        body |= {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    request = describe_request(path, {}, {}, body, app="")
    standard = (request.features.prompt_tokens * 2 + 100 * 8) / 1e6
    return expected_cost(request, routed(request), policy.models[model]), standard


@pytest.mark.parametrize(
    ("asked", "factor"),
    [("flex", 0.5), ("priority", 2), ("fast", 2), ("auto", 1), ("default", 1), ("scale", 1), (None, 1)],
)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/responses"])
def test_an_openai_request_asking_a_tier_its_model_prices_is_estimated_at_that_tier(
    tmp_path: Path, asked: str | None, factor: float, path: str
) -> None:
    """A chat or Responses request asking ``service_tier: flex`` is estimated at the model's flex prices
    (half), ``priority`` (and ``fast``, which OpenAI answers as priority) at its priority prices; ``auto``,
    ``default``, a tier the price does not name (``scale``) and none at the standard prices (before: the
    standard prices whatever the request asked)."""
    cost, standard = estimate(tmp_path, "mini", path, {} if asked is None else {"service_tier": asked})
    assert cost == pytest.approx(standard * factor)


def test_an_anthropic_request_asking_auto_is_estimated_at_the_standard_prices(tmp_path: Path) -> None:
    """Anthropic's request ``service_tier: auto`` lets the provider use priority capacity, but does not say
    it will: the estimate stays at the standard prices, as for ``standard_only``."""
    for asked in ("auto", "standard_only"):
        cost, standard = estimate(tmp_path, "claude", "/v1/messages", {"service_tier": asked})
        assert cost == pytest.approx(standard)


SEARCHING = """version: 1
providers:
  openai: {dialect: openai, base_url: 'http://127.0.0.1:9/v1'}
  anthropic: {dialect: anthropic, base_url: 'http://127.0.0.1:9'}
  gemini: {dialect: gemini, base_url: 'http://127.0.0.1:9'}
models:
  gpt: {provider: openai, model: gpt-x, price: {input_per_mtok: 2, output_per_mtok: 8, web_search_per_1k_calls: 10}}
  claude: {provider: anthropic, model: claude-x, price: {input_per_mtok: 2, output_per_mtok: 8,
    web_search_per_1k_calls: 10}}
  gemini: {provider: gemini, model: gemini-x, price: {input_per_mtok: 2, output_per_mtok: 8,
    web_search_per_1k_calls: 14, web_search_billed_per: search}}
  grounded: {provider: gemini, model: gemini-old, price: {input_per_mtok: 2, output_per_mtok: 8,
    web_search_per_1k_calls: 35, web_search_billed_per: prompt}}
  searcher: {provider: openai, model: gpt-search, price: {input_per_mtok: 2, output_per_mtok: 8,
    web_search_per_1k_calls: 25, web_search_billed_per: call}}
routes:
  - {name: gpt, target: [gpt]}
"""
GEMINI_PATH = "/v1beta/models/gemini-x:generateContent"
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def search_estimate(tmp_path: Path, model: str, path: str, body: dict[str, Any]) -> tuple[float | None, float]:
    """The expected cost of ``body`` on ``model`` of the policy above, and its tokens' part (prompt and
    output at the model's token prices)."""
    (tmp_path / "policy.yaml").write_text(SEARCHING)
    policy = load_policy(tmp_path / "policy.yaml")
    request = describe_request(path, {}, {}, body, app="")
    output = request.features.max_output_tokens or 512
    tokens = (request.features.prompt_tokens * 2 + min(output, 512) * 8) / 1e6
    return expected_cost(request, routed(request), policy.models[model]), tokens


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt", "messages": [{"role": "user", "content": "news?"}], "max_tokens": 100, **extra}


def messages(*tools: dict[str, Any]) -> dict[str, Any]:
    body = {"model": "claude", "messages": [{"role": "user", "content": "news?"}], "max_tokens": 100}
    return body | ({"tools": list(tools)} if tools else {})


def gemini(*tools: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "news?"}]}]}
    return body | ({"tools": list(tools)} if tools else {})


@pytest.mark.parametrize(
    ("model", "path", "body", "fee"),
    [
        ("gpt", "/v1/chat/completions", chat(web_search_options={}), 0.01),
        ("gpt", "/v1/chat/completions", chat(), 0),
        ("gpt", "/v1/responses", {"model": "gpt", "input": "news?", "tools": [{"type": "web_search"}]}, 0.01),
        ("gpt", "/v1/responses", {"model": "gpt", "input": "news?", "tools": [{"type": "web_search_preview"}]}, 0.01),
        (
            "gpt",
            "/v1/responses",
            {"model": "gpt", "input": "n?", "tools": [{"type": "web_search"}], "max_tool_calls": 0},
            0,
        ),
        ("claude", "/v1/messages", messages(WEB_SEARCH), 0.01),
        ("claude", "/v1/messages", messages(WEB_SEARCH | {"max_uses": 5}), 0.01),
        ("claude", "/v1/messages", messages(WEB_SEARCH | {"max_uses": 0}), 0),
        ("claude", "/v1/messages", messages(), 0),
        ("gemini", GEMINI_PATH, gemini({"google_search": {}}), 0.014),
        ("gemini", GEMINI_PATH, gemini({"googleSearch": {}}, {"google_search_retrieval": {}}), 0.028),
        ("grounded", GEMINI_PATH, gemini({"googleSearch": {}}, {"google_search_retrieval": {}}), 0.035),
        ("gemini", GEMINI_PATH, gemini(), 0),
        ("searcher", "/v1/chat/completions", chat(), 0.025),
        ("searcher", "/v1/chat/completions", chat(web_search_options={}), 0.025),
    ],
)
def test_a_requests_expected_cost_includes_the_searches_it_is_expected_to_run(
    tmp_path: Path, model: str, path: str, body: dict[str, Any], fee: float
) -> None:
    """A request offering a web search (OpenAI's ``web_search_options`` or Responses ``web_search`` tool,
    Anthropic's ``web_search`` tool with or without ``max_uses``, Gemini's ``google_search``) is expected to
    run one per search tool (none when its bound is 0), priced at the model's ``web_search_per_1k_calls`` as
    it bills them (once per prompt for Gemini's older grounding; once on every call for a model billed per
    call, whatever the request asks). At c06764c the estimate was its tokens alone."""
    cost, tokens = search_estimate(tmp_path, model, path, body)
    assert cost == pytest.approx(tokens + fee)
