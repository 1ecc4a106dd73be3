"""The aiohttp application: the route table, the one provider handler, and two middlewares.

Request path::

    middleware ``_record``   log the request (not /_fake/) and count it in flight until its handler is
                             done, answer unknown paths and methods with a 404/405 in the dialect
                             guessed from the path and headers
    ``_provider(resolve)``   pick the dialect and builder, choose the faults (``FakeState.plan``),
                             build a ``Call`` and hand over to ``wire.serve``

The dialect is known from the path. ``GET /v1/models`` is shared by OpenAI, Anthropic and Gemini (its v1
API), told apart by the ``anthropic-version`` header, then ``x-goog-api-key`` or ``x-goog-api-client``
(google-genai sends both); Gemini paths are ``/v1beta/models/{model}:{method}`` (``/v1/`` too).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from sidecar.dialects import Dialect
from sidecar.dialects.registry import TRANSLATIONS, error_body
from sidecar.fake_provider import (
    anthropic,
    catalog,
    control,
    embeddings,
    gemini,
    openai_chat,
    openai_responses,
)
from sidecar.fake_provider.config import FakeConfig
from sidecar.fake_provider.errors import request_error
from sidecar.fake_provider.faults import NO_FAULTS
from sidecar.fake_provider.replies import TRUTH_HEADER, Call, Reply, RequestError
from sidecar.fake_provider.state import DEFAULT_MAX_RECORDS, RECORD, STATE, FakeState
from sidecar.fake_provider.wire import Exchange, send_error, serve
from sidecar.translate.shapes import mismatch

FAULT_HEADER = "x-fake-fault"
SERVER_HEADER = "x-fake-server"
MAX_BODY_BYTES = 64 * 1024 * 1024

Builder = Callable[[Call], Reply]
Resolver = Callable[[web.Request], tuple[Dialect, Builder]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

GEMINI_METHODS: Mapping[str, Builder] = {
    "generateContent": gemini.generate,
    "streamGenerateContent": gemini.stream_generate,
    "countTokens": gemini.count_tokens,
    "embedContent": embeddings.gemini_embed,
    "batchEmbedContents": embeddings.gemini_batch_embed,
}


def build_app(config: FakeConfig | None = None, *, max_records: int = DEFAULT_MAX_RECORDS) -> web.Application:
    """A fake provider server; state lives on the app, so several can run in one process."""
    app = web.Application(middlewares=[_record], client_max_size=MAX_BODY_BYTES)
    app[STATE] = FakeState(config or FakeConfig(), max_records)
    for method, path, resolve in _routes():
        app.router.add_route(method, path, _provider(resolve))
    control.add_routes(app.router)
    return app


def _routes() -> list[tuple[str, str, Resolver]]:
    def fixed(dialect: Dialect, builder: Builder) -> Resolver:
        return lambda _request: (dialect, builder)

    def by_header(openai: Builder, anthropic_builder: Builder, gemini_builder: Builder) -> Resolver:
        def resolve(request: web.Request) -> tuple[Dialect, Builder]:
            if "anthropic-version" in request.headers:
                return Dialect.ANTHROPIC, anthropic_builder
            if "x-goog-api-key" in request.headers or "x-goog-api-client" in request.headers:
                return Dialect.GEMINI, gemini_builder  # Gemini's v1 API: google-genai lists models there
            return Dialect.OPENAI, openai

        return resolve

    openai, claude, google = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
    azure = "/openai/deployments/{deployment}"
    return [
        ("POST", "/v1/chat/completions", fixed(openai, openai_chat.chat)),
        ("POST", "/v1/completions", fixed(openai, openai_chat.completion)),
        ("POST", "/v1/embeddings", fixed(openai, embeddings.openai_embeddings)),
        ("POST", "/v1/responses", fixed(openai, openai_responses.responses)),
        ("GET", "/v1/models", by_header(catalog.openai_models, catalog.anthropic_models, catalog.gemini_models)),
        ("GET", "/v1/models/{target}", by_header(catalog.openai_model, catalog.anthropic_model, catalog.gemini_model)),
        ("POST", azure + "/chat/completions", fixed(openai, _azure(openai_chat.chat))),
        ("POST", azure + "/completions", fixed(openai, _azure(openai_chat.completion))),
        ("POST", azure + "/embeddings", fixed(openai, _azure(embeddings.openai_embeddings))),
        ("POST", "/openai/v1/responses", fixed(openai, openai_responses.responses)),  # Azure's v1 surface
        ("POST", "/v1/messages", fixed(claude, anthropic.messages)),
        ("POST", "/v1/messages/count_tokens", fixed(claude, anthropic.count_tokens)),
        ("POST", "/v1beta/models/{target}", fixed(google, _gemini_method)),
        ("POST", "/v1/models/{target}", fixed(google, _gemini_method)),
        ("GET", "/v1beta/models", fixed(google, catalog.gemini_models)),
        ("GET", "/v1beta/models/{target}", fixed(google, catalog.gemini_model)),
    ]


def _azure(builder: Builder) -> Builder:
    """Azure OpenAI: ``api-version`` is required; the deployment stands in for a missing ``model``."""

    def build(call: Call) -> Reply:
        if "api-version" not in call.query:
            raise RequestError("Missing required query parameter: api-version", param="api-version")
        if "model" not in call.body:
            call = dataclasses.replace(call, body={**call.body, "model": call.path_params["deployment"]})
        return builder(call)

    return build


def _gemini_method(call: Call) -> Reply:
    method = call.path_params.get("method", "")
    builder = GEMINI_METHODS.get(method)
    if builder is None or not call.path_params.get("model"):
        target = call.path_params.get("target", "")
        raise RequestError(f"Method not found: models/{target}", status=404)
    return builder(call)


def _provider(resolve: Resolver) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        dialect, builder = resolve(request)
        state = request.app[STATE]
        config = state.config
        raw = await request.read()
        request_id = _request_id(dialect, state)
        headers = {SERVER_HEADER: config.name}
        if dialect is Dialect.OPENAI:
            headers["x-request-id"] = request_id
        elif dialect is Dialect.ANTHROPIC:
            headers["request-id"] = request_id
        try:
            plan = state.plan(request.headers.get(FAULT_HEADER), raw.decode("utf-8", "replace"))
            bad_spec = None
        except ValueError as exc:
            plan, bad_spec = NO_FAULTS, f"{FAULT_HEADER}: {exc}"
        ex = Exchange(request, dialect, config, plan, headers, request_id, len(raw) // 4)
        if bad_spec is not None:
            return send_error(ex, request_error(dialect, 400, bad_spec, request_id))
        body = _json(raw) if raw else {}
        seed = config.seed or 0
        params = dict(request.match_info)
        if ":" in params.get("target", ""):
            params["model"], _, params["method"] = params["target"].partition(":")

        def build() -> Reply:
            if not isinstance(body, dict):
                raise RequestError("We could not parse the JSON body of your request: expected a JSON object.")
            truth = request.headers.get(TRUTH_HEADER)
            call = Call(body, params, request.query, config.reply, state, time.time(), truth, config.quality, seed)
            try:
                return builder(call)
            except (TypeError, AttributeError, KeyError, IndexError, ValueError):  # a field of the wrong type
                raise RequestError(_invalid(dialect, body)) from None

        return await serve(ex, build)

    return handle


def _invalid(dialect: Dialect, body: dict[str, Any]) -> str:
    """A provider's 400 for a body it cannot read (as a real one answers: never a 500): the field of the
    wrong JSON type when the dialect's chat shape names it (``translate.shapes``)."""
    wrong = mismatch(body, TRANSLATIONS[dialect].chat_request_shape)
    return f"Invalid request body: {wrong or 'a field has a type or value not allowed'}"


def _request_id(dialect: Dialect, state: FakeState) -> str:
    if dialect is Dialect.ANTHROPIC:
        return state.make_id("req_011C", 22)
    return state.make_id("req_", 32, "0123456789abcdef")


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


@web.middleware
async def _record(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(control.PREFIX):
        return await handler(request)
    raw = await request.read()
    state = request.app[STATE]
    state.in_flight += 1  # until the handler is done (a stream: its last event)
    record = request[RECORD] = state.record(request, _json(raw) if raw else None)
    try:
        return await handler(request)
    except asyncio.CancelledError:  # aiohttp cancels the handler of a client that closed its connection
        record["client_gone"] = True
        raise
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as exc:
        dialect = guess_dialect(request)
        message = f"Unknown request URL: {request.method} {request.path}."
        if isinstance(exc, web.HTTPMethodNotAllowed):
            message = f"Method {request.method} is not allowed for {request.path}."
        return web.Response(
            status=exc.status,
            body=orjson.dumps(error_body(dialect, exc.status, message)),
            content_type="application/json",
            headers={SERVER_HEADER: request.app[STATE].config.name},
        )
    finally:
        state.in_flight -= 1
        record["ended"] = time.time()


def guess_dialect(request: web.Request) -> Dialect:
    """The dialect of a request to an unknown path: from the path first, then the auth headers."""
    path, headers = request.path, request.headers
    if path.startswith("/v1beta/") or ":" in path.rsplit("/", 1)[-1]:
        return Dialect.GEMINI
    if path.startswith("/v1/messages") or "anthropic-version" in headers or "x-api-key" in headers:
        return Dialect.ANTHROPIC
    if "x-goog-api-key" in headers or "key" in request.query:
        return Dialect.GEMINI
    return Dialect.OPENAI
