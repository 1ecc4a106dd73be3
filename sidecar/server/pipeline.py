"""The request pipeline: small stages with one signature, folded once at startup.

A stage is ``async (exchange, call_next) -> response``; it may answer early (raise ``RequestFailed``
or return a response) or call the next stage. ``build_pipeline`` folds the list into one callable, so
the per-request cost of the pipeline is a few awaits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

import orjson
from aiohttp import web

from ..dialects import registry
from ..dialects.base import RequestProblem
from ..policy.conditions import RouteRequest
from .errors import RequestFailed
from .exchange import Exchange

Handler = Callable[[Exchange], Awaitable[web.StreamResponse]]
Stage = Callable[[Exchange, Handler], Awaitable[web.StreamResponse]]


def build_pipeline(stages: Sequence[Stage], terminal: Handler) -> Handler:
    handler = terminal
    for stage in reversed(stages):
        handler = partial(stage, call_next=handler)  # type: ignore[call-arg]
    return handler


def read_stage(max_body: int) -> Stage:
    """Parse the body in the caller's dialect; 413 over ``max_body`` (not read when its announced length
    is over), 400 for what we cannot read."""

    def too_large() -> RequestFailed:
        message = f"request body exceeds the sidecar's limit of {max_body} bytes"
        return RequestFailed(413, message, code="body_too_large")

    async def read_request(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
        request = exchange.request
        length = request.content_length
        if length is not None and length > max_body:
            raise too_large()  # not read: the listener reads the rest away for a moment, then closes
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise too_large() from None
        return await parse_body(exchange, raw, call_next)

    return read_request


async def parse_body(exchange: Exchange, raw: bytes, call_next: Handler) -> web.StreamResponse:
    """The body as JSON in the caller's dialect: the requested model and whether it streams."""
    request = exchange.request
    if not raw:
        raise RequestFailed(400, "the request body is empty; a JSON object is required", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestFailed(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise RequestFailed(400, "the request body must be a JSON object", code="invalid_json")
    exchange.raw = raw
    exchange.body = body
    endpoint = exchange.endpoint
    param = next(iter(request.match_info.values()), "")
    try:
        shape = registry.wire(endpoint.dialect).read_request(endpoint, request.path, param, body, request.query)
    except RequestProblem as problem:
        raise RequestFailed(problem.status, problem.message, code=problem.code, param=problem.param) from None
    exchange.requested_model = shape.model
    exchange.gemini_method = shape.method
    exchange.stream = shape.stream
    if shape.operation is not endpoint.operation:
        exchange.endpoint = dataclasses.replace(endpoint, operation=shape.operation)
    exchange.trace.request_parsed(requested_model=exchange.requested_model, stream=exchange.stream)
    return await call_next(exchange)


def route_stage(app_name: str) -> Stage:
    """The policy picks a route: 404 when none does, the route's status when it denies."""

    async def route_request(exchange: Exchange, call_next: Handler) -> web.StreamResponse:
        headers = exchange.request.headers
        request = RouteRequest(
            dialect=exchange.endpoint.dialect,
            operation=exchange.endpoint.operation,
            model=exchange.requested_model,
            headers=headers,
            app=headers.get("x-sidecar-app") or app_name,
        )
        route = exchange.policy.route(request)
        if route is None:
            raise RequestFailed(
                404,
                f"no route for model {exchange.requested_model!r}; models served: "
                + (", ".join(exchange.policy.exposed_models) or "none"),
                code="model_not_found",
                param="model",
            )
        exchange.route = route
        exchange.trace.route_decided(route=route.name, targets=route.target_keys)
        if route.deny is not None:
            raise RequestFailed(route.deny.status, route.deny.message, code="denied_by_policy")
        return await call_next(exchange)

    return route_request
