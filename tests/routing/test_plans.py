"""Route plans (``routing.plans``): a cheapest selection's chain, taken from the one made at load for the
usual request, is the chain, the expected output and the costs the request's full selection gives; a
selection over prices with service tiers orders by the tier the request asks for (``TieredSelectPlan``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sidecar.policy import load_policy
from sidecar.policy.compiled import Policy
from sidecar.request_facts import RequestFacts, describe_request
from sidecar.routing.plans import SelectPlan, request_chain
from sidecar.routing.record import expected_cost, routed

from .decision_corpus import record_all

RECORDED = Path(__file__).parent / "data" / "decisions.json"


def test_decisions_and_reports_are_those_recorded_before_the_chains_made_at_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over the example routing policy and its variants (tiered prices, a small window, a shortlist of one
    priced model) and a corpus of tasks, complexities, needs, prompt sizes, max tokens, task headers and
    split keys, every route, decision (labels, sources, rules, tier, its headers and access-line fields),
    chain, arm, cap, expected output, expected cost, access-line features and answer header is the one
    recorded from ``7fd35dd``, before the chain was looked up by the decision's labels
    (``tests/routing/decision_corpus.py`` recorded them)."""
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"):
        monkeypatch.setenv(name, "test-key")
    recorded = json.loads(RECORDED.read_text())
    outcomes = json.loads(json.dumps(record_all()))  # tuples and floats as the file holds them
    assert len(outcomes) == len(recorded) == 291
    for now, then in zip(outcomes, recorded, strict=True):
        assert now == then, (now["policy"], now["request"])


TIERED_POLICY = """version: 1
providers:
  openai: {dialect: openai, base_url: 'http://127.0.0.1:9/v1'}
models:
  steady:
    provider: openai
    model: steady-1
    price: {input_per_mtok: 1, output_per_mtok: 4, service_tiers: {flex: {input_per_mtok: 0.8, output_per_mtok: 3.2}}}
  flexible:
    provider: openai
    model: flexible-1
    price: {input_per_mtok: 2, output_per_mtok: 8, service_tiers: {flex: {input_per_mtok: 0.25, output_per_mtok: 1}}}
routes:
  - {name: chat, target: {select: cheapest, from: [steady, flexible]}}
"""


def tiered_request(tmp_path: Path, tier: str | None) -> tuple[Policy, RequestFacts]:
    """The policy above and a chat asking for the service tier ``tier`` (None: asking none)."""
    (tmp_path / "policy.yaml").write_text(TIERED_POLICY)
    body: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    if tier is not None:
        body["service_tier"] = tier
    return load_policy(tmp_path / "policy.yaml"), describe_request("/v1/chat/completions", {}, {}, body, app="")


@pytest.mark.parametrize(("tier", "first"), [("flex", "flexible"), (None, "steady"), ("auto", "steady")])
def test_a_cheapest_selection_orders_by_the_service_tier_the_request_asks_for(
    tmp_path: Path, tier: str | None, first: str
) -> None:
    """Two models whose standard and flex prices order them oppositely: a request asking ``service_tier:
    flex`` goes first to the one cheaper at flex, a request asking none (or ``auto``) to the one cheaper
    at the standard tier. At a4bda39 every request was ordered at the standard prices."""
    policy, request = tiered_request(tmp_path, tier)
    chain = request_chain(policy.routes[0], request)
    assert [target.name for target in chain] == [first, *({"steady", "flexible"} - {first})]


@pytest.mark.parametrize("tier", ["flex", None])
def test_a_cheapest_selections_costs_are_the_expected_costs_of_the_request(tmp_path: Path, tier: str | None) -> None:
    """What the selection (``explain``'s chain) says each candidate costs is what ``record.expected_cost``
    (``x-sidecar-estimated-cost``, the access line) says the request costs on it, at the tier it asks for."""
    policy, request = tiered_request(tmp_path, tier)
    plan = policy.routes[0].plan
    assert isinstance(plan, SelectPlan)
    selection = plan.selection(request)
    for choice in selection.chain:
        target = policy.models[choice.candidate.name]
        assert choice.expected_cost == pytest.approx(expected_cost(request, routed(request), target))


SEARCHING_POLICY = """version: 1
providers:
  openai: {dialect: openai, base_url: 'http://127.0.0.1:9/v1'}
models:
  searcher: {provider: openai, model: s, price: {input_per_mtok: 0.5, output_per_mtok: 2, web_search_per_1k_calls: 25}}
  plain: {provider: openai, model: p-1, price: {input_per_mtok: 2, output_per_mtok: 8}}
  always: {provider: openai, model: a-1, price: {input_per_mtok: 0.1, output_per_mtok: 0.4,
    web_search_per_1k_calls: 25, web_search_billed_per: call}}
routes:
  - {name: chat, target: {select: cheapest, from: [searcher, plain]}}
  - {name: always, target: {select: cheapest, from: [always, plain]}}
"""


def searching_request(tmp_path: Path, search: bool) -> tuple[Policy, RequestFacts]:
    """The policy above and a chat offering a web search (``web_search_options``) or not."""
    (tmp_path / "policy.yaml").write_text(SEARCHING_POLICY)
    body: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}
    if search:
        body["web_search_options"] = {}
    return load_policy(tmp_path / "policy.yaml"), describe_request("/v1/chat/completions", {}, {}, body, app="")


@pytest.mark.parametrize(
    ("search", "route", "first"), [(True, 0, "plain"), (False, 0, "searcher"), (False, 1, "plain")]
)
def test_a_cheapest_selection_orders_by_the_search_fees_the_request_is_expected_to_pay(
    tmp_path: Path, search: bool, route: int, first: str
) -> None:
    """A model cheaper by its tokens but with a search fee comes after one without it for a request that
    offers a search, and before it for one that does not; a model billed its fee on every call comes
    after it whatever the request asks. At c06764c the order was by the tokens alone."""
    policy, request = searching_request(tmp_path, search)
    chain = request_chain(policy.routes[route], request)
    assert chain[0].name == first


@pytest.mark.parametrize(("search", "route"), [(True, 0), (False, 0), (False, 1)])
def test_a_cheapest_selections_search_fees_are_the_expected_costs_of_the_request(
    tmp_path: Path, search: bool, route: int
) -> None:
    """What the selection (``explain``'s chain) says each candidate costs, its search fee included, is what
    ``record.expected_cost`` (``x-sidecar-estimated-cost``) says the request costs on it."""
    policy, request = searching_request(tmp_path, search)
    plan = policy.routes[route].plan
    assert isinstance(plan, SelectPlan)
    for choice in plan.selection(request).chain:
        target = policy.models[choice.candidate.name]
        assert choice.expected_cost == pytest.approx(expected_cost(request, routed(request), target))
