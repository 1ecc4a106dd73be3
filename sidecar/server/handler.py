"""The handlers ``app`` puts in the path table: ``proxy``, one proxied request at an endpoint (bound to
the endpoint and the app's parts by ``proxy_handler``), and ``not_found``, the 404 in the caller's
dialect for a path the table does not know.

``proxy`` opens the request's record (``exchange.Exchange``: a request id, the trace, the request's
facts), runs it through the pipeline of the policy that serves when it arrives (kept to its end), puts
the sidecar's headers (``answer_headers``, a request id in the caller's dialect among them) on
whatever answers, turns a failure into an error in the caller's dialect (a ``RequestFailed`` as it is;
anything else a 500 with the request id, its traceback logged), answers 503 for a request the drain
timeout cut (one the app hung up on stays cancelled: 499), and writes the access line (``access``).
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from random import getrandbits

from aiohttp import web

from ..dialects.base import Endpoint
from ..dialects.registry import dialect_of_path
from ..request_facts import RequestFacts, app_of
from ..resilience.classify import describe_exception
from ..telemetry.logging import get_logger
from .access import AccessLog
from .answer_headers import add_sidecar_headers
from .assembly import Pipelines
from .drain import cut_by_drain, drain_answer
from .errors import RequestFailed, error_response
from .exchange import Exchange
from .state import SidecarState

log = get_logger("sidecar.server")


async def not_found(request: web.BaseRequest) -> web.Response:
    dialect = dialect_of_path(request.path, request.headers)
    return error_response(
        dialect, RequestFailed(404, f"unknown path {request.method} {request.path}", code="unknown_path")
    )


def proxy_handler(
    endpoint: Endpoint, pipelines: Pipelines, state: SidecarState, access: AccessLog
) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
    """``proxy`` for the requests to ``endpoint``, the app's parts bound: a closure passing them by
    position (a ``partial`` with keywords copies them into a dict on every call, about 1,600
    instructions a request more: docs/benchmarks.md, wave 21)."""

    def handler(request: web.BaseRequest) -> Awaitable[web.StreamResponse]:
        return proxy(request, endpoint, pipelines, state, access)

    return handler


async def proxy(
    request: web.BaseRequest, endpoint: Endpoint, pipelines: Pipelines, state: SidecarState, access: AccessLog
) -> web.StreamResponse:
    """One proxied request: its record, the pipeline, the sidecar's headers on whatever answers, an error
    in the caller's dialect for a failure, and the access line."""
    policy = state.holder.policy  # this request keeps this policy (and its pipeline) to its end
    pipeline = pipelines.for_policy(policy)
    headers = request.headers
    trace = state.telemetry.start_request(
        method=request.method,
        path=request.path,
        headers=headers,
        dialect=endpoint.dialect,
        operation=endpoint.operation,
        requested_model=None,
        stream=False,
        http_route=endpoint.path,
    )
    facts = RequestFacts(endpoint.dialect, endpoint.operation, "", headers, app_of(headers, state.settings.app_name))
    # A request id is a log key, not a secret: the process's PRNG, not a getrandom() syscall per request;
    # 16 hex digits written by ``bytes.hex`` (an f-string's ``016x`` parses its format: 1,300 instructions more)
    exchange = Exchange(request, endpoint, policy, getrandbits(64).to_bytes(8).hex(), trace, facts)
    response: web.StreamResponse | None = None
    status = 500
    try:
        with trace:  # log lines written during the request carry its trace ids
            response = await pipeline(exchange)
        status = response.status
        if not response.prepared:  # a stream got its headers when it was committed
            add_sidecar_headers(response.headers, exchange)
            if isinstance(response, web.Response) and isinstance(response.body, bytes):
                exchange.bytes_out = len(response.body)
        return response
    except RequestFailed as failure:
        status = failure.status
        if not exchange.attempts:
            trace.rejected(status=failure.status, reason=failure.code)
        response = error_response(exchange.facts.dialect, failure)
        add_sidecar_headers(response.headers, exchange)
        exchange.bytes_out = response.content_length or 0
        return response
    except asyncio.CancelledError:
        if not cut_by_drain(request):
            status = 499  # the client went away; the upstream call was cancelled with this task
            raise
        status = 503  # the drain timeout cut it: the sidecar's error, said so to the app
        return await drain_answer(exchange)
    except Exception as exc:
        log.error(
            "internal_error",
            request_id=exchange.request_id,
            error=describe_exception(exc),
            traceback=traceback.format_exc(),
        )
        internal = RequestFailed(
            500, f"internal error in llm-sidecar (request id {exchange.request_id})", code="internal_error"
        )
        response = error_response(exchange.facts.dialect, internal)
        add_sidecar_headers(response.headers, exchange)
        exchange.bytes_out = response.content_length or 0
        return response
    finally:
        access.record(exchange, status, state.telemetry)
