"""The pipeline folded per policy: only the feature stages a policy uses, and a hot reload that adds one."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from sidecar.policy import Policy, load_policy_bytes
from sidecar.server.assembly import USES, FeatureStage, Pipelines
from sidecar.server.exchange import Exchange
from sidecar.server.pipeline import Handler

from ..conftest import FakeFactory, SidecarFactory, provider_block
from .cache_helpers import ask, cache_policy

BASE = (
    "version: 1\nproviders:\n"
    + provider_block("p", "http://127.0.0.1:9")
    + (
        "models:\n  a: {provider: p, model: up-a, price: {input_per_mtok: 1, output_per_mtok: 2}}\n"
        "  b: {provider: p, model: up-b, price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
    )
)
PLAIN_ROUTE = "routes:\n  - {name: r, match: {model: m}, target: [a, b]}\n"

FEATURES = {
    "routing": "routes:\n  - {name: r, match: {model: m}, target: a, caps: {max_output_tokens: 100}}\n",
    "cache": "routes:\n  - {name: r, match: {model: m}, target: [a, b], cache: {enabled: true}}\n",
    "budgets": PLAIN_ROUTE + "budgets:\n  limits:\n    - {name: day, measure: usd, amount: 1, window: day}\n",
    "shadow": "routes:\n  - {name: r, match: {model: m}, target: a, shadow: {candidates: [b], sample: 0.5}}\n",
    "gates": "routes:\n  - {name: r, match: {model: m}, target: [a, b], gates: {}}\n",
}


def compiled(routes: str) -> Policy:
    return load_policy_bytes((BASE + routes).encode(), "test.yaml")


def feature_names(policy: Policy) -> list[str]:
    """The feature stages the sidecar folds in for ``policy`` (``server.app`` builds them from ``USES``)."""
    return [name for name, used in USES.items() if used(policy)]


def test_a_policy_without_features_folds_no_feature_stage() -> None:
    """A plain chain route with no routing, cache, budgets, shadow or gates gets only read, route, executor."""
    assert feature_names(compiled(PLAIN_ROUTE)) == []


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_a_feature_block_folds_in_its_stage_alone(feature: str) -> None:
    """A policy using one feature gets that feature's stage and no other."""
    assert feature_names(compiled(FEATURES[feature])) == [feature]


async def test_the_pipeline_is_folded_again_only_when_the_policy_changes() -> None:
    """for_policy returns the same folded pipeline for the same policy object and a new one for another."""

    async def terminal(exchange: Exchange) -> web.StreamResponse:
        return web.Response()

    async def stage(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
        return await call_next(exchange)

    pipelines = Pipelines([], [FeatureStage("cache", stage, lambda p: p.cache is not None)], terminal)
    plain, cached = compiled(PLAIN_ROUTE), compiled(FEATURES["cache"])
    first = pipelines.for_policy(plain)
    assert first is terminal and pipelines.for_policy(plain) is first
    assert pipelines.for_policy(cached) is not terminal


async def test_hot_reload_to_a_caching_policy_gets_a_working_cache(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A sidecar started without a cache serves a reloaded policy's cache: the repeated request is a hit."""
    url = await fake("f0")
    running = await sidecar(cache_policy([url], cache="{enabled: false}"))
    _, raw = await ask(running)
    assert "x-sidecar-cache" not in raw.headers
    old = running.state.holder.policy
    running.policy_path.write_text(cache_policy([url]))
    for _ in range(100):
        if running.state.holder.policy is not old:
            break
        await asyncio.sleep(0.05)
    _, first = await ask(running)
    _, second = await ask(running)
    assert first.headers["x-sidecar-cache"] == "miss"
    assert second.headers["x-sidecar-cache"] == "hit"
