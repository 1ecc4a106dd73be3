"""A route's cache plan, compiled once per policy load: the per-request path only reads it.

``route_cache(name, chain, unsupported_params, settings, route_spec)`` (what ``policy.compile`` calls while
it builds a route; ``compile_route_cache(route, settings)`` for a built one) gives a ``RouteCache`` (or None when
the route does not cache): the merged ``RouteCacheSpec`` and its slotted copy the request path reads
(``rules.CacheRules``), the route's identity bytes (name, chain, translation mode: see ``key``) and a BLAKE2b
that has read them (copied per key), and whether any target passes the caller's own API key through (then
the key's hash scopes entries).

``RouteCache.key(...)`` decides per request: a ``KeyDecision`` with the store key, or with the reason
the request is not cacheable (for the span and the access line). Only chat operations cache.
``target_of(chain, entry)``: the chain's target that made a stored answer (a hit names it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from ..dialects import Dialect, Operation
from .key import cache_key, caller_scope, canonical_body, header_part, route_identity, started_key, uncacheable
from .rules import CacheRules
from .spec import RouteCacheSpec

if TYPE_CHECKING:
    from ..policy.compiled import Route, Target
    from ..policy.spec import RouteSpec
    from .entry import Entry

_CHAT = frozenset((Operation.CHAT, Operation.GENERATE_CONTENT))
_NO_HEADERS: Mapping[str, str] = {}


class KeyDecision(NamedTuple):
    """A request's store key, or why it has none (a named tuple: built once per request, cheaply)."""

    key: str | None  # None: not cacheable
    reason: str | None = None  # why not


@dataclass(frozen=True, slots=True)
class RouteCache:
    settings: RouteCacheSpec
    identity: bytes
    passthrough: bool  # a target forwards the caller's API key: scope entries by it
    chosen_chain: bool = False  # a split or a selection: the chain each request walks is in its key
    # ``settings`` in slots (``rules``): what the request path reads; ``settings`` stays for diff and explain
    rules: CacheRules = field(init=False, repr=False, compare=False)
    # the key's BLAKE2b with the identity read (``key.started_key``), copied per request
    started: hashlib.blake2b = field(init=False, repr=False, compare=False)
    # the scopes of the apps seen, without a passthrough key (``key.caller_scope``), at most ``SCOPES_KEPT``
    scopes: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", CacheRules.of(self.settings))
        object.__setattr__(self, "started", started_key(self.identity))
        object.__setattr__(self, "scopes", {})

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
        headers: Mapping[str, str] = _NO_HEADERS,
        chain: Sequence[Target] = (),
    ) -> KeyDecision:
        """The store key of this request, or why it has none.

        ``model`` is the model the caller asked for; ``raw`` the body's bytes as received;
        ``deployment_app`` the sidecar's ``SIDECAR_APP``, ``app`` the one routing saw (``x-sidecar-app``
        or the same); ``caller_key`` the API key the app sent (used only on passthrough routes);
        ``headers`` the request's (those that change the answer are in the key: ``key.header_part``);
        ``chain`` the targets the request walks where the route chooses them per request
        (``chosen_chain``: a split's arm, a selection's order), so that one arm's answer is never
        another's.
        """
        if operation not in _CHAT:
            return _NOT_CHAT
        reason = uncacheable(dialect, body, raw, self.rules.cacheable)
        if reason is not None:
            return KeyDecision(None, reason)
        if self.passthrough:
            if not caller_key:
                return KeyDecision(None, "no_caller_key")
            scope = caller_scope(
                deployment_app=deployment_app,
                app=app,
                caller_key=caller_key,
                share_across_apps=self.rules.share_across_apps,
            )
        else:
            scope = self._scope(deployment_app, app)
        canonical = canonical_body(dialect, body)
        extra = header_part(dialect, headers)
        if chain:
            extra += b"\0chain=" + ",".join(t.key for t in chain).encode()
        key = cache_key(self.identity, dialect, model, scope, canonical, extra, started=self.started)
        return KeyDecision(key)

    def _scope(self, deployment_app: str, app: str) -> str:
        """``caller_scope`` of the two apps (no passthrough key), made once per pair: the apps a caller names
        are its own (``x-sidecar-app``), so only the first ``SCOPES_KEPT`` pairs are kept."""
        scopes = self.scopes
        scope = scopes.get((deployment_app, app))
        if scope is None:
            share = self.rules.share_across_apps
            scope = caller_scope(deployment_app=deployment_app, app=app, caller_key=None, share_across_apps=share)
            if len(scopes) < SCOPES_KEPT:
                scopes[deployment_app, app] = scope
        return scope


SCOPES_KEPT = 256
"""The app pairs whose scope a route's plan keeps (``RouteCache._scope``); others are made per request."""
_NOT_CHAT = KeyDecision(None, "operation")


def route_cache(
    name: str,
    chain: Sequence[Target],
    unsupported: str,
    settings: RouteCacheSpec,
    route: RouteSpec | None = None,
) -> RouteCache | None:
    """The plan of the route ``name`` over ``chain`` (``route``: its block in the policy, when it has
    one), or None when it does not cache (disabled, no chain)."""
    if not settings.enabled or not chain:
        return None
    identity = route_identity(
        name, [(t.key, t.max_output_tokens) for t in chain], unsupported, answer_shaping(chain, route)
    )
    passthrough = any(t.provider.api_key is not None and t.provider.api_key.passthrough for t in chain)
    chosen = route is not None and (route.split is not None or not isinstance(route.target, str | list | None))
    return RouteCache(settings, identity, passthrough, chosen)


def answer_shaping(chain: Sequence[Target], route: RouteSpec | None) -> dict[str, Any]:
    """What in the policy, besides the chain's models, shapes the answers of a route over ``chain``: what
    each provider is sent besides the request (its ``headers``, such as an ``anthropic-beta``, and its
    ``api_version``), and the route's blocks that decide which answer is given (``gates``: a new gate
    must not be passed by old answers; ``caps``; an ``ensemble``, ``split`` or ``select`` target). Only
    what is set: a plain chain's is empty (and its keys as they were)."""
    shaping: dict[str, Any] = {}
    for target in chain:
        provider = target.provider
        if provider.headers or provider.api_version:
            shaping[f"provider:{provider.name}"] = [sorted(provider.headers), provider.api_version]
    if route is not None:
        for name in _SHAPING_BLOCKS:
            block = getattr(route, name)
            if block is not None:
                shaping[name] = block.model_dump(mode="json", exclude_defaults=True)
        if route.target is not None and not isinstance(route.target, str | list):
            shaping["select"] = route.target.model_dump(mode="json", exclude_defaults=True)
    return shaping


_SHAPING_BLOCKS = ("gates", "caps", "ensemble", "split")


def compile_route_cache(route: Route, settings: RouteCacheSpec) -> RouteCache | None:
    """A built route's plan, or None when it does not cache (disabled, or a route that denies)."""
    if route.deny is not None:
        return None
    return route_cache(route.name, route.chain, route.settings.unsupported_params, settings)


def target_of(chain: Sequence[Target], entry: Entry) -> Target | None:
    """The target of a route's ``chain`` that made ``entry`` (a hit's ``x-sidecar-model``, the access line's
    ``served_model``): the one asked for the upstream model the entry keeps
    (``Entry.asked``) at its provider, of its name when two are (a reload may have renamed it: its provider
    and upstream model are in the key, so the chain still holds it). An entry without it (stored before it
    was kept, or read from Redis whose answer named the model asked for): the one of its name; else the
    only one of its provider, or of its provider and model: the entry's model is the one the answer named,
    the target's or the provider's dated name for it (``gpt-4o-mini-2024-07-18`` for ``gpt-4o-mini``), so
    the target whose model it is, or the longest it begins with before a ``-``. None when none is told
    apart."""
    asked = entry.asked
    if asked is not None:
        made = None
        for target in chain:
            if target.upstream_model == asked and target.provider.name == entry.provider:
                if target.name == entry.target:
                    return target
                made = made or target
        if made is not None:
            return made
    for target in chain:
        if target.name == entry.target:
            return target
    same = [target for target in chain if target.provider.name == entry.provider]
    if len(same) == 1:
        return same[0]
    model = entry.model
    named = [t for t in same if model == t.upstream_model or model.startswith(t.upstream_model + "-")]
    return max(named, key=lambda target: len(target.upstream_model), default=None)
