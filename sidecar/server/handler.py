"""The handlers ``app`` puts in the path table: ``proxy``, one proxied request at an endpoint (bound to
the endpoint and the app's parts by ``proxy_handler``), ``unknown_path``, the 404 of a path the table does
not know (answered, recorded, by ``refusals.Refusals.not_found``), and ``not_on_health_port``, the health
port's 404.

``proxy`` opens the request's record (``exchange.Exchange``: a request id, the trace, the request's
facts), runs it through the pipeline of the policy that serves when it arrives (kept to its end), puts
the sidecar's headers (``answer_headers``, a request id in the caller's dialect among them) on
whatever answers, and on a whole answer its bill (``bill.add_cost_header``: ``x-sidecar-cost``; the
answer's usage, when no stage read it before, is read for it just before the head:
``Exchange.read_usage_later``), turns a failure into an error in the caller's dialect (a
``RequestFailed`` as it is; anything else a 500 with the request id, its traceback logged), answers 503
for a request the drain timeout cut (one the app hung up on stays cancelled: 499). Then the answer is
handed to the socket (``routes.begin`` and its end written; a whole answer over
``held_bytes.WRITTEN_FROM`` bytes counted in the process's account until the app has read it), and only
then, in the same task, comes the bookkeeping: the access line (the bill the head said, reused), the
request's metrics and the end of its span (``access``), and the telemetry its answered calls kept
(``AttemptTrace.release``), and, first, what the answering call left for after the answer
(``Exchange.record_answered_call``: its breaker's success, its ``attempts`` record). An app that went
away while its answer was being written is logged with the answer's status, save one refused before any
call (a body that is not JSON, a route's deny, a budget's 429), whose app had left before anything was
written (aiohttp writes nothing to a closing transport: the write raised): 499 ``client_closed``, as a
request whose app left before its answer was ready and the table's refusals (``refusals``). The drain waits for the
handler, so for this bookkeeping too; a failure in it is logged (``bookkeeping_error``) and reaches
neither the app nor its connection.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from random import getrandbits

from aiohttp import web

from ..dialects.base import Endpoint
from ..held_bytes import WRITTEN, WRITTEN_FROM
from ..request_facts import UNSERVED_HINT, RequestFacts, app_of
from ..resilience.classify import describe_exception
from ..telemetry import Telemetry
from ..telemetry.logging import get_logger
from .access import AccessLog
from .answer_headers import add_sidecar_headers
from .assembly import Pipelines
from .bill import add_cost_header
from .drain import DRAIN_STATUS, cut_by_drain, drain_answer
from .errors import RequestFailed, error_response
from .exchange import Exchange
from .routes import begin, unrecorded
from .state import SidecarState

log = get_logger("sidecar.server")
NOT_A_PROXY = (
    "llm-sidecar is not an HTTP proxy: CONNECT is not served. Point the SDK's base URL at the sidecar"
    " (OPENAI_BASE_URL, ANTHROPIC_BASE_URL...) instead of naming it in HTTPS_PROXY"
)


def unknown_path(request: web.BaseRequest) -> RequestFailed:
    """The refusal of a path the table does not know (nor the policy's ``passthrough``): 404
    ``unknown_path``; for ``CONNECT`` (an app whose ``HTTPS_PROXY`` names the sidecar), a 405 that says so,
    whose connection closes (aiohttp would keep it open, ``Connection: close`` or not). The proxy port's
    ``refusals.Refusals.not_found`` answers it, recorded."""
    if request.method == "CONNECT":
        return RequestFailed(405, NOT_A_PROXY, code="not_a_proxy", headers={"Allow": "GET, HEAD, POST"})
    return RequestFailed(404, f"unknown path {request.method} {request.path}{UNSERVED_HINT}", code="unknown_path")


async def not_on_health_port(request: web.BaseRequest) -> web.StreamResponse:
    """The health port's 404 (``lifecycle.health_listener``): it serves the probes only, so the message says what
    it serves and that the API is on the proxy port, not the proxy port's ``passthrough`` hint."""
    if request.method == "CONNECT":
        return await unrecorded(request, unknown_path(request), close=True)
    message = (
        f"unknown path {request.method} {request.path}: this is the health port, which serves GET /healthz and"
        " /readyz (and /metrics with SIDECAR_HEALTH_METRICS); the API is served on the proxy port (SIDECAR_PORT)"
    )
    return await unrecorded(request, RequestFailed(404, message, code="unknown_path"))


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
    in the caller's dialect for a failure; the answer handed to the socket, then its bookkeeping."""
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
    exchange.answer_first = True  # its successful calls' telemetry too: ``_book``, after the answer
    exchange.usage_after_answer = pipelines.usage_after_answer(policy)  # and their usage, when no stage reads it
    response: web.StreamResponse | None = None
    status = 500  # an exception no handler below takes (none should)
    writing = 0  # what the answer being written holds in the process's account (``held_bytes.WRITTEN``)
    begun = False  # the answer's head written (``prepared``, aiohttp's property: read once an answer)
    refused = False  # refused before any call: an app that left before its answer is a 499 (``_book``)
    left = False  # and it did
    try:
        try:
            with trace:  # log lines written during the request carry its trace ids
                response = await pipeline(exchange)
            begun = response.prepared
            if not begun:  # a stream got its headers when it was committed
                exchange.read_usage_later()  # the bill is on the head (``x-sidecar-cost``)
                # aiohttp's ``headers`` and ``body`` are properties (generic reads in 3.11): each read once
                answer_headers = response.headers
                add_sidecar_headers(answer_headers, exchange)
                add_cost_header(answer_headers, exchange, response.status)
                if isinstance(response, web.Response):
                    body = response.body
                    if isinstance(body, bytes):
                        exchange.bytes_out = size = len(body)
                        if size > WRITTEN_FROM:  # counted until the app has read it (a slow reader's)
                            writing = size * WRITTEN
                            state.held.hold(writing)
        except RequestFailed as failure:
            exchange.record_answered_call()  # a call left for after the answer (``Calls.call``): before its reads
            if not exchange.attempts:
                trace.rejected(status=failure.status, reason=failure.code)
                refused = True
            response = _error(exchange, failure)
            begun = False
        except asyncio.CancelledError:
            if not cut_by_drain(request):
                status = 499  # the client went away; the upstream call was cancelled with this task
                raise
            exchange.record_answered_call()
            response = await drain_answer(exchange)  # the drain timeout cut it: the sidecar's error, said so
            begun = response.prepared  # a stream's error event ends what was begun
        except Exception as exc:
            exchange.record_answered_call()
            response = _internal_error(exchange, exc)
            begun = False
        # Handed to the socket, then the bookkeeping. The app going away (or the drain's cut) while its
        # answer is being written: it was answered and its calls made, so it is logged with the answer's
        # status; aiohttp closes the connection. A refusal before any call whose app had left (aiohttp
        # wrote nothing to the closing transport) is the app's 499, as the table's refusals are.
        if not begun:  # a stream was begun when it was committed
            response = await begin(request, response)  # a header the head cannot carry: a 500 instead
        await response.write_eof()
    except ConnectionError:  # only the write's: the pipeline's are answered above
        # aiohttp's own write of the end meets the closed connection too, and says nothing
        if refused:
            status, left, exchange.bytes_out = 499, True, 0
    finally:
        if writing:
            state.held.give(writing)
        _book(access, exchange, status if response is None or left else _status(exchange, response), state.telemetry)
        exchange.upstream_answer = None  # read: a shadow call, which keeps the exchange, keeps not this answer
    assert response is not None  # None only when raised
    return response


def _internal_error(exchange: Exchange, exc: Exception) -> web.Response:
    """A bug in the pipeline: logged with its traceback; the app gets a 500 with the request id."""
    log.error(
        "internal_error",
        request_id=exchange.request_id,
        error=describe_exception(exc),
        traceback=traceback.format_exc(),
    )
    internal = RequestFailed(
        500, f"internal error in llm-sidecar (request id {exchange.request_id})", code="internal_error"
    )
    return _error(exchange, internal)


def _status(exchange: Exchange, response: web.StreamResponse) -> int:
    """The request's status for its access line and telemetry: the answer's, or the drain's 503 for a request
    the drain timeout cut (a stream already begun says 200 in its head)."""
    return DRAIN_STATUS if exchange.drain_cut else response.status


def _error(exchange: Exchange, failure: RequestFailed) -> web.Response:
    """``failure`` in the caller's dialect, with the sidecar's headers."""
    response = error_response(exchange.facts.dialect, failure)
    add_sidecar_headers(response.headers, exchange)
    add_cost_header(response.headers, exchange, response.status)
    exchange.bytes_out = response.content_length or 0
    return response


def _book(access: AccessLog, exchange: Exchange, status: int, telemetry: Telemetry) -> None:
    """The request's bookkeeping once its answer is out (or the app gone): its telemetry and access line
    (``access``). A failure there is logged once and goes no further: the answer stands, the connection
    stays open."""
    try:
        exchange.record_answered_call()  # its breaker's success and its record (``Calls.call`` left them)
        exchange.read_usage_later()  # an answer's usage no stage needed before (an error's head: read here)
        access.record(exchange, status, telemetry)
    except Exception as exc:
        log.error(
            "bookkeeping_error",
            request_id=exchange.request_id,
            error=describe_exception(exc),
            traceback=traceback.format_exc(),
        )
