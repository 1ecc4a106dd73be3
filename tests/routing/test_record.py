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
