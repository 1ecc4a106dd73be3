"""The pipeline folded per policy: only the feature stages a policy uses (a deferred one built when a policy
first uses it), and a hot reload that adds one."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from aiohttp import web

from sidecar.policy import Policy, load_policy_bytes
from sidecar.server.assembly import USES, Deferred, FeatureStage, Pipelines
from sidecar.server.exchange import Exchange
from sidecar.server.pipeline import Handler, Stage

from ..conftest import FakeFactory, SidecarFactory, provider_block
from .cache_helpers import ask, cache_policy, metrics_text

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


async def test_a_deferred_stage_is_built_once_when_a_policy_first_uses_it() -> None:
    """A ``Deferred`` stage is not built for a policy that does not use it; the first policy that does
    builds it, and later policies that use it get the same stage."""
    built: list[int] = []
    ran: list[str] = []

    async def terminal(exchange: Exchange) -> web.StreamResponse:
        return web.Response()

    async def stage(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
        ran.append("stage")
        return await call_next(exchange)

    def make() -> Stage:
        built.append(1)
        return stage

    pipelines = Pipelines([], [FeatureStage("cache", Deferred(make), lambda p: p.cache is not None)], terminal)
    pipelines.for_policy(compiled(PLAIN_ROUTE))
    assert built == []
    first = pipelines.for_policy(compiled(FEATURES["cache"]))
    second = pipelines.for_policy(compiled(FEATURES["cache"]))
    assert built == [1]
    assert first is not second
    exchange = cast(Exchange, None)  # neither the stage nor the terminal reads it
    await first(exchange)
    await second(exchange)
    assert ran == ["stage", "stage"]  # both pipelines run the one stage built


ROUTING_MODELS = (
    "models:\n"
    "  m0: {provider: p0, model: up0, price: {input_per_mtok: 5, output_per_mtok: 5}, quality: {tier: premium}}\n"
    "  m1: {provider: p1, model: up1, price: {input_per_mtok: 1, output_per_mtok: 1}, quality: {tier: premium}}\n"
)


async def test_hot_reload_to_a_routing_policy_routes_and_a_broken_one_keeps_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A sidecar started on a plain chain (no routing stage) serves a reloaded cheapest
    selection (the cheaper model answers); a broken policy written next is rejected and the routing
    policy keeps serving."""
    urls = [await fake("f0"), await fake("f1")]
    providers = "version: 1\nproviders:\n" + "".join(provider_block(f"p{i}", u, "openai") for i, u in enumerate(urls))
    running = await sidecar(
        providers + ROUTING_MODELS + "routes:\n  - {name: cached, match: {model: cached}, target: [m0, m1]}\n"
    )
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-model"] == "m0"
    old = running.state.holder.policy
    select = "{select: cheapest, from: [m0, m1]}"
    running.policy_path.write_text(
        providers + ROUTING_MODELS + f"routes:\n  - {{name: cached, match: {{model: cached}}, target: {select}}}\n"
    )
    for _ in range(100):
        if running.state.holder.policy is not old:
            break
        await asyncio.sleep(0.05)
    _, raw = await ask(running)
    assert raw.headers["x-sidecar-model"] == "m1"
    routing = running.state.holder.policy
    running.policy_path.write_text(providers + "models: [not, a, mapping\n")
    for _ in range(100):
        if 'outcome="error"} 1.0' in await metrics_text(running):
            break
        await asyncio.sleep(0.05)
    _, raw = await ask(running)
    assert running.state.holder.policy is routing
    assert raw.headers["x-sidecar-model"] == "m1"


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
