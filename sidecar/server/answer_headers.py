"""The sidecar's own response headers (``x-sidecar-*``, docs/headers.md), built in one place from the
``Exchange`` and put on every answer: a proxied response, a stream (at its commit point), the last
resort's answer, and every error, the sidecar's or the upstream's.

Each header is one field of the exchange; a feature that adds one (the cache's ``x-sidecar-cache``,
routing's task, an ensemble's summary, budget headers) adds a field to ``Exchange`` and a line here.

``add_sidecar_headers`` puts them on an answer's headers, and the request id in the caller's dialect
(``WireDialect.request_id_header``: ``x-request-id`` for OpenAI, ``request-id`` for Anthropic, what
their SDKs report as ``_request_id``) when the answer does not carry the provider's own: a cache hit, a
last resort, an ensemble's vote, the sidecar's own error, an answer translated from another dialect.
That id is ``llm-sidecar-`` and ``x-sidecar-request-id``: the prefix says it is the sidecar's, not one
for the provider's support.

Names (of the route, model, provider, a dropped parameter, a rejected answer's model) go through
``header_text``: visible ASCII as it is, anything else percent-encoded, so every client reads the same
name and nothing a caller sent can split the head. ``x-sidecar-dropped-params`` holds at most
``DROPPED_HEADER_CHARS`` characters (then ``...``; the access line lists every name): the names are
the caller's own fields, and an app's HTTP client refuses a header past 8 KiB (aiohttp, Node), so a
request with thousands of unknown fields would get an answer its own client cannot read.

The bill (``x-sidecar-cost``) is put on a whole answer's head by the handler (``bill.add_cost_header``),
from the same figure as the access line's ``cost_usd``; a stream's head goes out before its usage.

``x-sidecar-attempts`` counts the upstream calls made when the answer's head is sent (a target skipped
without a call is not one): for a stream, the call that is streaming included.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING

from ..dialects.registry import wire
from ..header_text import header_item
from ..routing.report import add_answer_headers as add_routing_headers

if TYPE_CHECKING:
    from .exchange import Exchange


OWN_REQUEST_ID_PREFIX = "llm-sidecar-"
DROPPED_HEADER_CHARS = 2048


def add_sidecar_headers(headers: MutableMapping[str, str], exchange: Exchange) -> None:
    """Put the sidecar's headers on ``headers`` (an answer's), and the caller's dialect's request-id header
    when the provider's own is not among them (see the module docstring)."""
    headers.update(sidecar_headers(exchange))
    name = wire(exchange.facts.dialect).request_id_header
    if name is None or name in headers:  # an answer's CIMultiDict matches any case; a stream's dict, lower
        return
    if type(headers) is dict and any(key.lower() == name for key in headers):
        return  # a stream's relayed headers hold names as the provider sent them
    headers[name] = OWN_REQUEST_ID_PREFIX + exchange.request_id


def sidecar_headers(exchange: Exchange) -> dict[str, str]:
    """The ``x-sidecar-*`` headers of ``exchange``'s answer, as things stand now."""
    headers = {
        "x-sidecar-request-id": exchange.request_id,
        "x-sidecar-policy-version": exchange.policy.version,
    }
    route = exchange.route
    if route is not None:
        headers["x-sidecar-route"] = route.header_name
        headers["x-sidecar-attempts"] = str(exchange.calls)
    target = exchange.answered_by
    # the model that answered, its name upstream, its provider (names encoded at load); none before one did
    headers.update(target.answer_headers if target is not None else ())
    if exchange.fallback_reason:
        headers["x-sidecar-fallback-reason"] = exchange.fallback_reason
    if exchange.dropped:
        headers["x-sidecar-dropped-params"] = _dropped(exchange.dropped)
    if exchange.degraded:
        headers["x-sidecar-degraded"] = exchange.degraded
    if exchange.ensemble:
        headers["x-sidecar-ensemble"] = exchange.ensemble
    if exchange.upstream_request_ids:
        headers["x-sidecar-upstream-request-ids"] = exchange.upstream_request_ids
    if exchange.gated:
        headers["x-sidecar-gates"] = _gates(exchange)
    if exchange.shadow:
        headers["x-sidecar-shadow"] = exchange.shadow
    if exchange.budget_headers:
        headers.update(exchange.budget_headers)
    routing = exchange.facts.routing
    if routing is not None:
        add_routing_headers(headers, exchange.facts, routing, target)
    if exchange.cache is not None:
        _add_cache_headers(headers, exchange.cache, exchange.cache_age_s)
    return headers


def _dropped(names: Sequence[str]) -> str:
    """The dropped parameters' names as a header value of at most ``DROPPED_HEADER_CHARS`` characters."""
    value = ",".join(map(header_item, names))
    if len(value) <= DROPPED_HEADER_CHARS:
        return value
    return value[: value.rfind(",", 0, DROPPED_HEADER_CHARS - 4) + 1] + "..."


def _gates(exchange: Exchange) -> str:
    """``x-sidecar-gates``: whether the answer passed its quality gates, and the models they rejected."""
    gates = exchange.gate_verdict()
    if exchange.gate_rejections:
        gates += "; rejected=" + ",".join(map(_rejection, exchange.gate_rejections))
    return gates


def _add_cache_headers(headers: dict[str, str], cache: str, age_s: float | None) -> None:
    """``x-sidecar-cache`` (hit, miss...), and ``age`` for an answer from the cache."""
    headers["x-sidecar-cache"] = cache
    if age_s is not None:
        headers["age"] = str(int(age_s))


def _rejection(rejection: str) -> str:
    """A gate's rejection, ``model:gate``, with the model's name encoded (a gate's name is a plain word)."""
    model, _, gate = rejection.rpartition(":")
    return f"{header_item(model)}:{gate}"
