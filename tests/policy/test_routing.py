"""Route matching: order, globs, headers, app identity, implicit model routes, default, explain."""

from __future__ import annotations

from sidecar.dialects import Dialect, Operation
from sidecar.policy import load_policy_bytes

from .policies import BASE, request

POLICY = load_policy_bytes(
    (
        BASE
        + """
routes:
  - name: retired
    match: {model: "gpt-3.5*"}
    deny: {message: retired, status: 410}
  - name: checkout
    match: {app: checkout, model: ["gpt-4*", "smart"]}
    target: [claude, gpt-4o]
  - name: long
    match: {headers: {X-Task: "long-*"}}
    target: claude
  - name: embeddings
    match: {operation: [embeddings], dialect: [openai]}
    target: gpt-4o-mini
default:
  target: gpt-4o-mini
"""
    ).encode(),
    "routing.yaml",
)


def test_first_matching_route_wins() -> None:
    """Routes are tried in file order; the first whose conditions all hold is taken."""
    route = POLICY.route(request("gpt-4o", app="checkout", headers={"x-task": "long-doc"}))
    assert route is not None and route.name == "checkout"


def test_glob_matches_model_family() -> None:
    """A shell glob in match.model covers a family of names."""
    route = POLICY.route(request("gpt-3.5-turbo"))
    assert route is not None and route.deny is not None and route.deny.status == 410


def test_all_conditions_must_hold() -> None:
    """A route with app and model conditions does not match when only the model does."""
    route = POLICY.route(request("gpt-4o", app="search"))
    assert route is not None and route.name == "model:gpt-4o"


def test_header_condition_is_case_insensitive_on_the_name() -> None:
    """match.headers names are matched regardless of case, values by glob."""
    route = POLICY.route(request("x", headers={"x-task": "long-contract"}))
    assert route is not None and route.name == "long"


def test_requested_policy_model_routes_to_itself() -> None:
    """Asking for a model the policy defines, with no rule matching, serves that model."""
    route = POLICY.route(request("claude"))
    assert route is not None and [t.name for t in route.chain] == ["claude"]


def test_unmatched_request_takes_the_default() -> None:
    """A request no rule and no model name covers goes to the default route."""
    route = POLICY.route(request("unknown-model"))
    assert route is POLICY.default


def test_operation_and_dialect_conditions() -> None:
    """Embeddings from an OpenAI caller match the embeddings route; chat does not."""
    route = POLICY.route(request("whatever", operation=Operation.EMBEDDINGS))
    assert route is not None and route.name == "embeddings"
    gemini = POLICY.route(request("whatever", operation=Operation.EMBEDDINGS, dialect=Dialect.GEMINI))
    assert gemini is POLICY.default


def test_exposed_models_lists_policy_models_and_exact_route_names() -> None:
    """GET /v1/models shows policy model names plus exact (non-glob) names routes accept."""
    assert "smart" in POLICY.exposed_models and "gpt-4o" in POLICY.exposed_models
    assert not any("*" in name for name in POLICY.exposed_models)


def test_explain_says_why_each_rule_did_not_match() -> None:
    """explain gives every rule's verdict with the failing condition."""
    verdicts, chosen = POLICY.explain(request("gpt-4o", app="search"))
    by_name = {v.route.name: v for v in verdicts}
    assert by_name["checkout"].reasons == ("app 'search' is not checkout",)
    assert by_name["long"].reasons == ("header x-task is absent",)
    assert chosen is not None and chosen.name == "model:gpt-4o"
