"""applicable_limits: what explain says about the budget limits a request counts in."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import ClientSession

from sidecar.budgets.explain import applicable_limits
from sidecar.explain import explain_report
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

from ..conftest import FakeFactory, SidecarFactory

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


SERVED = """
providers:
  fake: {{kind: fake, speaks: openai, base_url: "{url}"}}
models:
  big: {{provider: fake, model: big-1}}
  alt: {{provider: fake, model: alt-1}}
  dear: {{provider: fake, model: dear-1, max_output_tokens: 2000, price: {{input_per_mtok: 10, output_per_mtok: 10}}}}
  cheap: {{provider: fake, model: cheap-1, max_output_tokens: 100, price: {{input_per_mtok: 1, output_per_mtok: 1}}}}
routes:
  - {{name: chat, match: {{model: chat}}, target: [big]}}
  - {{name: pick, match: {{model: pick}}, target: {{select: cheapest, from: [dear, cheap]}}}}
  - name: halves
    match: {{model: halves}}
    split: {{sticky_by: "header:x-user", arms: [{{target: dear, weight: 1}}, {{target: cheap, weight: 1000000}}]}}
  - {{name: capped, match: {{model: capped}}, target: [big], caps: {{max_output_tokens: 50}}}}
  - {{name: cached, match: {{model: cached}}, target: [big], cache: {{enabled: true}}}}
  - name: vote
    match: {{model: vote}}
    ensemble: {{members: [big, alt], strategy: majority}}
  # after the routes above: the server never reads this condition for their requests (explain reads
  # every rule's, to say why each did not match)
  - {{name: long, match: {{model: long, features: {{prompt_tokens: {{gt: 1000}}}}}}, target: [alt]}}
budgets:
  default_max_output_tokens: 500
  limits:
    - {{name: route-tokens, measure: tokens, amount: {amount}, window: month, scope: {{by: route}}}}
"""

USER = [{"role": "user", "content": "hello there"}]
HEADERS = {"x-user": "someone"}  # the split's sticky key: arm cheap (its weight is a million times dear's)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "chat", "n": 3, "max_tokens": 100, "messages": USER}),
        ("/v1/chat/completions", {"model": "chat", "messages": USER}),
        ("/v1/chat/completions", {"model": "capped", "messages": USER}),
        ("/v1/embeddings", {"model": "chat", "input": "hello there"}),
        ("/v1/chat/completions", {"model": "vote", "max_tokens": 20, "messages": USER}),
        ("/v1/chat/completions", {"model": "pick", "messages": USER}),
        ("/v1/chat/completions", {"model": "halves", "messages": USER}),
        ("/v1/embeddings", {"model": "capped", "input": "hello there"}),
        ("/v1/chat/completions", {"model": "cached", "temperature": 0, "messages": USER}),
    ],
    ids=[
        "three-answers",
        "no-maximum",
        "capped",
        "embeddings",
        "ensemble",
        "cheapest",
        "split",
        "capped-embeddings",
        "cached",
    ],
)
async def test_what_explain_says_is_reserved_is_what_the_server_reserves(
    fake: FakeFactory, sidecar: SidecarFactory, path: str, body: dict[str, Any]
) -> None:
    """A tokens limit set to the reservation explain shows admits the request, one token less denies it
    (429): the server reserves exactly that, for several answers (``n``: each one's output), no output
    maximum (the default), a route's caps, embeddings (no output), an ensemble (every member's call), a
    cheapest route and a split (the target routing chose, whose maximum differs from the first listed's),
    embeddings on a route with caps (which apply to generation only), a cached route. The prompt is
    estimated as the server does: by the routing features where its path reads them (caps, a selection),
    else by the body's bytes (a split, which reads none; a rule further down on the features, which the
    server never reaches). Explain reserved one answer's output, the request's own maximum and one call
    whatever the request, and estimated from the features whenever it had read them."""
    url = await fake("fake")
    policy = load_policy_bytes(SERVED.format(url=url, amount=10**9).encode(), "p.yaml")
    request = describe_request(path, HEADERS, {}, body, app="")
    (row,) = explain_report(policy, request)["budgets"]
    shown = row["reserves"]
    for amount, status in ((shown - 1, 429), (shown, 200)):
        running = await sidecar(SERVED.format(url=url, amount=amount))
        async with (
            ClientSession() as session,
            session.post(
                running.url + path, data=orjson.dumps(body), headers={"content-type": "application/json", **HEADERS}
            ) as response,
        ):
            assert (amount, response.status) == (amount, status)


@pytest.mark.parametrize("model", ["pick", "halves"])
def test_a_routed_request_is_reserved_on_the_model_routing_chose(model: str) -> None:
    """On a cheapest route and a split whose first listed model is ``dear`` (2,000 output tokens at
    most), explain reserves on ``cheap``, the model routing sends the request to (100 at most)."""
    policy = load_policy_bytes(SERVED.format(url="http://127.0.0.1:1", amount=10**9).encode(), "p.yaml")
    body = {"model": model, "messages": USER}
    report = explain_report(policy, describe_request("/v1/chat/completions", HEADERS, {}, body, app=""))
    (row,) = report["budgets"]
    assert report["route"]["targets"][0]["model"] == "cheap"
    assert 100 < row["reserves"] < 200


def test_a_token_count_counts_in_no_budget() -> None:
    """The budget stage lets a token count pass (it is free), so explain lists no limit for one."""
    policy = load_policy_bytes(POLICY, "p.yaml")
    body = {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}
    request = describe_request("/v1/messages/count_tokens", {"x-team": "search"}, {}, body, app="")
    route = policy.route(request)
    assert policy.budgets is not None and route is not None
    assert applicable_limits(policy.budgets, request, route, None) == []
