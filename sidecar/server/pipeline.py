"""The request pipeline: small stages with one signature, folded once at startup.

A stage is ``async (exchange, call_next) -> response``; it may answer early (raise ``RequestFailed``
or return a response), call the next stage, and look at what it returns; to see a stream as it passes
or to have a say in the fallback loop, it registers a ``hooks.StreamTap`` or ``hooks.ChainHook`` on the
exchange. ``build_pipeline`` folds the list into one callable, so the per-request cost of the pipeline
is a few awaits.

The stages every request passes, in order: ``read_stage`` (the body, and the request's facts),
``route_request`` (the route, ``choose_route``; for a policy that routes by task and cost,
``routing.stage.routing_stage`` in its place: the route and routing's decisions in one stage), then the
terminal one, ``fallback.Executor`` (the route's plan); the feature stages between them are folded in
per policy, only when it uses them (``assembly``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType

import orjson
from aiohttp import web

from ..held_bytes import PARSED, HeldBytes, HeldBytesFull
from ..request_facts import MODEL_SHOWN_CHARS, RequestProblem, read_request, shown_model
from .errors import RequestFailed, retry_headers
from .exchange import Exchange
from .request_kinds import read_arriving

Handler = Callable[[Exchange], Awaitable[web.StreamResponse]]
NO_QUERY: Mapping[str, str] = MappingProxyType({})  # a target without a query string: nothing to read
Stage = Callable[[Exchange, Handler], Awaitable[web.StreamResponse]]


def build_pipeline(stages: Sequence[Stage], terminal: Handler) -> Handler:
    handler = terminal
    for stage in reversed(stages):
        handler = _bound(stage, handler)
    return handler


def _bound(stage: Stage, call_next: Handler) -> Handler:
    """``stage`` with its next handler: a closure passing it by position (a ``partial`` with the keyword
    ``call_next`` copies it into a dict on every call, about 1,000 instructions a stage more)."""

    def handler(exchange: Exchange) -> Awaitable[web.StreamResponse]:
        return stage(exchange, call_next)

    return handler


def read_stage(max_body: int, held: HeldBytes) -> Stage:
    """Parse the body in the caller's dialect; 413 over ``max_body`` (not read when its announced length is
    over), 400 for what we cannot read. A body already all received is taken from its buffer at once
    (``read_nowait``: ``request.read`` would await two reads and copy it twice, about 5 us); one still arriving
    is awaited (``request_kinds.read_arriving``). The body is held in the process's account (``held``,
    ``PARSED`` times its length: the body and its parse) until the request ends: one that would pass its ceiling
    is a 503 with ``Retry-After`` (unread, when its length was announced): the sidecar is short of memory for a
    moment, the request itself is fine, and the app's SDK retries a 503 after the wait (a 413 would tell it
    never to send the body again)."""

    def too_large() -> RequestFailed:
        message = f"request body exceeds the sidecar's limit of {max_body} bytes"
        return RequestFailed(413, message, code="body_too_large")

    def held_full() -> RequestFailed:
        message = (
            f"llm-sidecar holds the {held.ceiling} bytes of request and answer bodies it may hold at once "
            "(SIDECAR_MAX_HELD_BYTES); retry shortly"
        )
        return RequestFailed(503, message, code="held_bytes_full", headers=retry_headers(HELD_FULL_RETRY_S))

    async def read_request(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
        request = exchange.request
        length = request.content_length
        if length is not None and length > max_body:
            raise too_large()  # not read: the listener reads the rest away for a moment, then closes
        payload = request.content
        if payload.is_eof():  # the whole body came with the head (the usual case): taken without a coroutine
            raw = payload.read_nowait()  # a chunked body announced no length: it is checked here
            if len(raw) > max_body:
                raise too_large()
            if not held.take(len(raw) * PARSED):
                raise held_full()
        else:
            try:
                raw = await read_arriving(request, max_body, held)
            except web.HTTPRequestEntityTooLarge:
                raise too_large() from None
            except HeldBytesFull:
                raise held_full() from None
        try:
            return await parse_body(exchange, raw, call_next)
        finally:
            held.give(len(raw) * PARSED)

    return read_request


HELD_FULL_RETRY_S = 1
"""The ``Retry-After`` of a request body refused by the process's ceiling: bodies held are let go as
requests end, within a second or so under load."""


MAX_BODY_DEPTH = 250
"""The deepest request body served (arrays and objects, the body itself included). orjson reads up to
1024 levels but writes only up to 254, and every feature writes the body again (the upstream body, the
cache key, an ensemble's or a shadow's calls; a translation may nest a part a level or two deeper): a
deeper body is refused at once rather than failing inside them."""

_MARGIN = 254 - MAX_BODY_DEPTH  # levels added around the body when it is checked
_SHALLOWEST_TOO_DEEP = 2 * (MAX_BODY_DEPTH + 1)  # bytes: each level is at least an opening and a closing one


def too_deep(raw: bytes, body: dict[str, object]) -> bool:
    """True when ``body`` (read from ``raw``) is nested more than ``MAX_BODY_DEPTH`` levels: a request's,
    or an upstream's answer, which a translation or a feature writes again as well."""
    return len(raw) > _SHALLOWEST_TOO_DEEP and not writable(body)


def writable(body: dict[str, object]) -> bool:
    """True when ``body`` is at most ``MAX_BODY_DEPTH`` levels deep: orjson writes it inside ``_MARGIN``
    more (one C call over the body, ~0.6 us per KB; only bodies long enough to be too deep pay it)."""
    wrapped: object = body
    for _ in range(_MARGIN):
        wrapped = (wrapped,)
    try:
        orjson.dumps(wrapped)
    except TypeError:
        return False
    return True


async def parse_body(exchange: Exchange, raw: bytes, call_next: Handler) -> web.StreamResponse:
    """The body as JSON in the caller's dialect, and the request's facts (``request_facts.read_request``)."""
    if not raw:
        raise RequestFailed(400, "the request body is empty; a JSON object is required", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise unreadable(exchange.request, raw, exc) from None
    if not isinstance(body, dict):
        raise RequestFailed(400, "the request body must be a JSON object", code="invalid_json")
    if too_deep(raw, body):
        message = f"the request body is nested more than {MAX_BODY_DEPTH} levels deep"
        raise RequestFailed(400, message, code="invalid_json")
    exchange.raw = raw
    request = exchange.request
    known = exchange.facts
    path = request.path  # aiohttp's property: read once
    param = exchange.endpoint.match(path) or ""  # the model (or Gemini's model:method) in the path
    # aiohttp's ``query`` parses the target (about 1.3 us): only when it has a query string to read
    query = request.query if "?" in request.raw_path else NO_QUERY
    try:
        facts = read_request(exchange.endpoint, path, param, known.headers, query, body, app=known.app)
    except RequestProblem as problem:
        raise RequestFailed(problem.status, problem.message, code=problem.code, param=problem.param) from None
    exchange.facts = facts
    model = facts.model  # cut only when long: no call for the usual name
    exchange.trace.request_parsed(
        requested_model=model if len(model) <= MODEL_SHOWN_CHARS else shown_model(model), stream=facts.stream
    )
    return await call_next(exchange)


def unreadable(request: web.BaseRequest, raw: bytes, exc: orjson.JSONDecodeError) -> RequestFailed:
    """Why a body that orjson refused cannot be read, in the app's terms (looked at only once it failed,
    so that a readable body pays nothing): a compressed body, which the sidecar does not decode, is a 415
    naming its ``Content-Encoding``; bytes that are not UTF-8 are said to be so (orjson's words speak of
    a ``str`` and surrogates); anything else is orjson's reason."""
    coding = request.headers.get("Content-Encoding", "").strip()
    if coding and coding.lower() != "identity":
        named = (
            f"Content-Encoding: {coding[:40]}" if coding.isascii() and coding.isprintable() else "a Content-Encoding"
        )
        message = (
            f"the request body is sent with {named}; llm-sidecar reads uncompressed JSON only: send it without one"
        )
        return RequestFailed(415, message, code="unsupported_content_encoding", headers={"Accept-Encoding": "identity"})
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as undecodable:
        message = f"the request body is not UTF-8 (byte {undecodable.start}); JSON must be sent as UTF-8"
        return RequestFailed(400, message, code="invalid_json")
    return RequestFailed(400, f"the request body is not valid JSON: {exc}", code="invalid_json")


def choose_route(exchange: Exchange) -> None:
    """The policy picks the route (``exchange.route``): 404 when none does, the route's status when it
    denies. Synchronous: ``route_request`` awaits the next stage after it, and a policy that routes by
    task and cost does its routing right after it in the same stage (``routing.stage``)."""
    route = exchange.policy.route(exchange.facts)
    if route is None:
        raise RequestFailed(
            404,
            f"no route for model {shown_model(exchange.facts.model)!r}; models served: "
            + (", ".join(exchange.policy.exposed_models) or "none"),
            code="model_not_found",
            param="model",
        )
    exchange.route = route
    exchange.trace.route_decided(route=route.name, targets=route.target_keys)
    if route.deny is not None:
        raise RequestFailed(route.deny.status, route.deny.message, code="denied_by_policy")


async def route_request(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
    """The policy picks a route (``choose_route``), for a policy that does not route by task and cost
    (one that does has ``routing.stage.routing_stage`` in its place: the route and routing in one stage)."""
    choose_route(exchange)
    return await call_next(exchange)
