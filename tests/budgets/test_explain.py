"""applicable_limits: what explain says about the budget limits a request counts in."""

from __future__ import annotations

import pytest

from sidecar.budgets.explain import applicable_limits
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

POLICY = b"""
providers:
  acme: {kind: fake, base_url: "http://127.0.0.1:1"}
  zeta: {kind: fake, base_url: "http://127.0.0.1:2"}
models:
  big: {provider: acme, model: big-1, price: {input_per_mtok: 1000, output_per_mtok: 1000}}
  alt: {provider: zeta, model: alt-1, price: {input_per_mtok: 1000, output_per_mtok: 1000}}
routes:
  - {name: chat, target: [big, alt]}
budgets:
  limits:
    - {name: team-day, measure: usd, amount: 10, window: day, scope: {by: header, header: x-team, values: [search]}}
    - {name: acme-tpm, measure: tokens, amount: 1000, window: minute,
       scope: {by: provider, values: [acme], others: exempt}}
"""


def test_limits_are_listed_with_their_scope_value_and_reservation() -> None:
    """A header limit once with its value (others shared: 'other'); a provider quota only on the targets
    of the providers it names; each with the estimate admission would reserve."""
    policy = load_policy_bytes(POLICY, "p.yaml")
    body = {"model": "chat", "max_tokens": 100, "messages": [{"role": "user", "content": "hello"}]}
    request = describe_request("/v1/chat/completions", {"x-team": "ads"}, {}, body, app="")
    route = policy.route(request)
    assert policy.budgets is not None and route is not None
    rows = applicable_limits(policy.budgets, request, route, None)
    assert [(row["limit"], row["value"], row["target"]) for row in rows] == [
        ("team-day", "other", None),
        ("acme-tpm", "acme", "big"),
    ]
    tokens = rows[1]["reserves"]
    assert tokens > 100 and rows[0]["reserves"] == pytest.approx(tokens * 0.001)
