"""A route's cache plan, compiled once per policy load: the per-request path only reads it.

``compile_route_cache(route, settings)`` gives a ``RouteCache`` (or None when the route does not cache):
the merged ``RouteCacheSpec``, the route's identity bytes (name, chain, translation mode: see ``key``)
and whether any target passes the caller's own API key through (then the key's hash scopes entries).

``RouteCache.key(...)`` decides per request: a ``KeyDecision`` with the store key, or with the reason
the request is not cacheable (for the span and the access line). Only chat operations cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..dialects import Dialect, Operation
from ..policy.compiled import Route
from .key import cache_key, caller_scope, canonical_body, route_identity, uncacheable
from .spec import RouteCacheSpec

_CHAT = frozenset((Operation.CHAT, Operation.GENERATE_CONTENT))


@dataclass(frozen=True, slots=True)
class KeyDecision:
    key: str | None  # None: not cacheable
    reason: str | None = None  # why not


@dataclass(frozen=True, slots=True)
class RouteCache:
    settings: RouteCacheSpec
    identity: bytes
    passthrough: bool  # a target forwards the caller's API key: scope entries by it

    def key(
        self,
        *,
        dialect: Dialect,
        operation: Operation,
        model: str,
        body: dict[str, Any],
        raw: bytes,
        deployment_app: str,
        app: str,
        caller_key: str | None,
    ) -> KeyDecision:
        """The store key of this request, or why it has none.

        ``model`` is the model the caller asked for; ``raw`` the body's bytes as received;
        ``deployment_app`` the sidecar's ``SIDECAR_APP``, ``app`` the one routing saw (``x-sidecar-app``
        or the same); ``caller_key`` the API key the app sent (used only on passthrough routes).
        """
        if operation not in _CHAT:
            return KeyDecision(None, "operation")
        reason = uncacheable(dialect, body, raw, self.settings.cacheable)
        if reason is not None:
            return KeyDecision(None, reason)
        if self.passthrough and not caller_key:
            return KeyDecision(None, "no_caller_key")
        scope = caller_scope(
            deployment_app=deployment_app,
            app=app,
            caller_key=caller_key if self.passthrough else None,
            share_across_apps=self.settings.share_across_apps,
        )
        return KeyDecision(cache_key(self.identity, dialect, model, scope, canonical_body(dialect, body)))


def compile_route_cache(route: Route, settings: RouteCacheSpec) -> RouteCache | None:
    """The route's plan, or None when it does not cache (disabled, or a route that denies)."""
    if not settings.enabled or route.deny is not None or not route.chain:
        return None
    targets = [(t.key, t.max_output_tokens) for t in route.chain]
    identity = route_identity(route.name, targets, route.settings.unsupported_params)
    passthrough = any(t.provider.api_key is not None and t.provider.api_key.passthrough for t in route.chain)
    return RouteCache(settings, identity, passthrough)
