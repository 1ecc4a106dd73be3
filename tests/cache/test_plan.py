"""A route's cache plan: compiled only for routes that cache; per request, which requests get a key at all
(chat only; passthrough routes only with the caller's key, which then scopes the entry)."""

from __future__ import annotations

from sidecar.cache import RouteCacheSpec, compile_route_cache
from sidecar.dialects import Operation

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
