"""A ``select: cheapest`` route over priced models on fake providers, and ``explain``'s view of a request to it:
shared by the end-to-end tests of what orders such a route (``test_stage_searches``, ``test_stage_tiers``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sidecar.explain import explain_report
from sidecar.policy import load_policy
from sidecar.request_facts import describe_request

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block


async def start(
    fake: FakeFactory, sidecar: SidecarFactory, speaks: str, prices: Mapping[str, str], capabilities: str
) -> RunningSidecar:
    """The models of ``prices`` (name -> a policy ``price`` in YAML flow style) with ``capabilities`` on fake
    providers speaking ``speaks``, and one route ``auto`` selecting the cheapest of them."""
    text = "version: 1\nproviders:\n"
    for name in prices:
        text += provider_block(f"p-{name}", await fake(name), speaks)
    text += "models:\n"
    for name, price in prices.items():
        text += f"  {name}: {{provider: p-{name}, model: up-{name}, capabilities: {capabilities}, price: {price}}}\n"
    return await sidecar(text + "routes:\n  - {name: auto, target: {select: cheapest}}\n")


def explained(running: RunningSidecar, path: str, body: dict[str, Any]) -> tuple[str, float]:
    """``explain``'s first model for ``body`` sent to ``path`` and its expected cost."""
    request = describe_request(path, {}, {}, body, app="")
    first = explain_report(load_policy(running.policy_path), request)["routing"]["selection"]["chain"][0]
    return first["model"], first["expected_cost_usd"]


def served_as_explained(
    running: RunningSidecar, path: str, body: dict[str, Any], headers: Mapping[str, str], served: str
) -> float:
    """Check that the answer's ``headers`` name ``served`` as the model, that ``explain`` puts it first for
    ``body`` and that ``x-sidecar-estimated-cost`` is the expected cost ``explain`` gives it; that cost."""
    assert headers["x-sidecar-model"] == served
    model, cost = explained(running, path, body)
    assert model == served
    estimated = float(headers["x-sidecar-estimated-cost"])
    assert estimated == pytest.approx(cost, abs=1e-6)
    return estimated
