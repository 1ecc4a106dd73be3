"""A route's cache plan: compiled only for routes that cache; per request, which requests get a key at all
(chat only; passthrough routes only with the caller's key, which then scopes the entry)."""

from __future__ import annotations

from sidecar.cache import RouteCacheSpec, compile_route_cache
from sidecar.cache.plan import SCOPES_KEPT
from sidecar.dialects import Operation
from sidecar.policy import load_policy_bytes

from .keys import BODY, POLICY, cache_key, key_decision, route_plan


def test_passthrough_route_without_a_caller_key_is_not_cached() -> None:
    """A passthrough route without a caller key has nothing to scope by: no key."""
    decision = key_decision(BODY, plan=route_plan("keyed"), model="keyed")
    assert (decision.key, decision.reason) == (None, "no_caller_key")


def test_caller_key_is_ignored_where_the_sidecar_injects_its_own() -> None:
    """On a route whose provider key the sidecar injects, the caller's key does not split entries."""
    own = route_plan("own-key")
    assert cache_key(BODY, plan=own, model="own", caller_key="a") == cache_key(
        BODY, plan=own, model="own", caller_key="b"
    )


def test_only_chat_operations_have_keys() -> None:
    """Embeddings and token counts are not cached (the entry holds chat answers)."""
    decision = key_decision({"input": "x"}, operation=Operation.EMBEDDINGS)
    assert (decision.key, decision.reason) == (None, "operation")


def test_disabled_or_denying_routes_have_no_plan() -> None:
    """A route with caching off, or one that denies, has no plan at all (no per-request work)."""
    chat = next(r for r in POLICY.routes if r.name == "chat")
    retired = next(r for r in POLICY.routes if r.name == "retired")
    assert compile_route_cache(chat, RouteCacheSpec()) is None
    assert compile_route_cache(retired, RouteCacheSpec(enabled=True)) is None


def test_routes_that_choose_a_chain_per_request_key_it() -> None:
    """A split or a selection chooses each request's chain (an arm, a cost order): their plans say so,
    and the chain a request walks is part of its key; a plain chain's plan does not."""
    policy = load_policy_bytes(
        b"""
defaults: {cache: {enabled: true}}
providers: {p: {dialect: openai, base_url: "https://api.openai.com/v1", api_key: {env: K}}}
models:
  a: {provider: p, model: a, price: {input_per_mtok: 1, output_per_mtok: 1}}
  b: {provider: p, model: b, price: {input_per_mtok: 2, output_per_mtok: 2}}
routes:
  - {name: plain, match: {model: plain}, target: [a, b]}
  - {name: split, match: {model: split}, split: {arms: [{target: a, weight: 1}, {target: b, weight: 1}]}}
  - {name: select, match: {model: select}, target: {select: cheapest, from: [a, b]}}
""",
        "chosen.yaml",
    )
    plans = {route.name: route.settings.cache for route in policy.routes}
    assert {name: plan is not None and plan.chosen_chain for name, plan in plans.items()} == {
        "plain": False,
        "split": True,
        "select": True,
    }
    split = plans["split"]
    assert split is not None
    a, b = (t for t in policy.routes[0].chain)
    assert key_decision(BODY, plan=split, chain=(a,)).key != key_decision(BODY, plan=split, chain=(b,)).key


def test_the_apps_scopes_kept_by_a_plan_are_bounded_and_keys_stay_apart_past_the_bound() -> None:
    """A plan keeps the scope of each app pair it sees, at most ``SCOPES_KEPT`` of them (the app a caller
    names is the caller's to choose); apps past the bound still get keys of their own, the same each time."""
    plan = route_plan()
    keys = {cache_key(BODY, plan=plan, app=f"app-{i}") for i in range(SCOPES_KEPT + 10)}
    assert len(plan.scopes) == SCOPES_KEPT and len(keys) == SCOPES_KEPT + 10
    assert cache_key(BODY, plan=plan, app=f"app-{SCOPES_KEPT + 5}") in keys
