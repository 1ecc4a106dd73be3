"""``Refusals``: the proxy port's own refusals of a request it read, each seen as a proxied request's
error is. ``routes.Routes`` hands them here (its ``refuse``, and ``not_found`` its ``fallback``): the 404
of a path the sidecar does not serve (``handler.unknown_path``; ``CONNECT``'s 405 ``not_a_proxy``), the
405 of a method the path is not served for, the 413 of a body announced over ``SIDECAR_MAX_BODY_BYTES``
with ``Expect: 100-continue`` (answered before the handler runs).

Each is answered in the dialect the path suggests with ``x-sidecar-request-id`` and
``x-sidecar-policy-version`` (and the dialect's request id header, ``llm-sidecar-`` and the id, as every
error of the sidecar's), its head and body written to the socket, and only then booked, as
``handler.proxy`` books: the request's metrics and SERVER span as a request refused before routing is
(a body that is not JSON: ``rejected()`` with the error's code, then ``outcome`` ``rejected``, no route,
no served model), then one access line (docs/logs.md) unless the policy's ``access_log`` samples it out,
by the rule of a line without a route (``AccessSampling.passthrough_weight``, as a passthrough's). An app
that left before its answer (it closed the connection, and aiohttp, seeing the transport closing, wrote
nothing: the write raised) is booked as a proxied request's app that left is, 499 ``client_closed``,
``bytes_out`` 0, its ``error_type`` still the refusal's code.

Built once at startup with the app's state (``app.SidecarApp``); the health port's refusals are not
recorded (``routes.unrecorded``). The listener's refusals of bytes it cannot parse, and the checks'
400/505 (``routes``), stay as they are: their framing may be lost.
"""

from __future__ import annotations

import time
from random import getrandbits
from typing import Any

from aiohttp import web

from ..dialects import Dialect
from ..dialects.registry import dialect_of_path, find_endpoint, wire
from ..policy.compiled import Policy
from ..request_facts import app_of
from ..telemetry.request import RequestTrace
from .access import unrouted_weight
from .answer_headers import OWN_REQUEST_ID_PREFIX
from .errors import RequestFailed, error_response
from .handler import unknown_path
from .request_kinds import awaits_continue
from .routes import begin
from .state import SidecarState


class Refusals:
    """The proxy port's ``routes.Refuse`` (see the module docstring), the app's state bound."""

    __slots__ = ("_state",)

    def __init__(self, state: SidecarState) -> None:
        self._state = state

    async def not_found(self, request: web.BaseRequest) -> web.StreamResponse:
        """The table's ``fallback``: a path it does not serve (``handler.unknown_path``), recorded."""
        return await self(request, unknown_path(request), close=request.method == "CONNECT")

    async def unserved(self, request: web.BaseRequest) -> web.StreamResponse:
        """A path a served template matches but its handler does not serve, not forwarded (``Routes``'s
        ``unserved``): the dialect's reason (``WireDialect.path_problem``: Gemini's unknown method), else
        ``not_found``'s 404, answered before the body is read (an empty or broken body is no 400 first)."""
        served = find_endpoint(request.path)
        problem = None if served is None else wire(served[0].dialect).path_problem(request.path, served[1])
        if problem is None:
            return await self.not_found(request)
        return await self(request, RequestFailed(problem.status, problem.message, code=problem.code))

    async def __call__(
        self, request: web.BaseRequest, failure: RequestFailed, *, close: bool = False
    ) -> web.StreamResponse:
        """``failure`` answered and recorded; ``close``: its connection closes (as it does for an answer
        sent before a ``100 Continue`` its client awaits: it may never send the body)."""
        started = time.perf_counter()
        state = self._state
        policy = state.holder.policy
        headers = request.headers
        dialect = dialect_of_path(request.path, headers)
        request_id = getrandbits(64).to_bytes(8).hex()
        served = find_endpoint(request.path)  # its template names the span; a path none serves: the method
        trace = state.telemetry.start_request(
            method=request.method,
            path=request.path,
            http_route=served[0].path if served is not None else "",
            headers=headers,
            dialect=dialect,
            operation="",
            requested_model=None,
            stream=False,
        )
        trace.rejected(status=failure.status, reason=failure.code)
        response: web.StreamResponse = error_response(dialect, failure)
        _add_headers(response.headers, request_id, policy, dialect)
        line = state.access.new_line()  # every line's fields in their order (docs/logs.md), null where none applies
        line["request_id"] = request_id
        line["method"] = request.method
        line["path"] = request.path
        line["dialect"] = dialect
        line["app"] = app_of(headers, state.settings.app_name)
        line["status"] = failure.status
        line["outcome"] = "rejected"
        line["stream"] = False
        line["bytes_in"] = 0  # the body is not read
        line["bytes_out"] = response.content_length or 0
        line["attempts"] = 0
        line["policy_version"] = policy.version
        line["error_type"] = failure.code
        if close or awaits_continue(request):
            response.force_close()
        status, outcome = failure.status, "rejected"
        try:
            response = await begin(request, response)  # a draining listener's ``Connection: close``
            await response.write_eof()
        except ConnectionError:  # the app left first: aiohttp writes nothing to a closing transport
            status, outcome = 499, "client_closed"  # as a proxied request's app that left
            line["status"], line["outcome"], line["bytes_out"] = status, outcome, 0
        finally:
            trace.finish(
                status=status,
                outcome=outcome,
                route=None,
                served_model=None,
                provider=None,
                attempts=0,
                fallback_reason=None,
                usage=None,
                cost_usd=None,
                error_type=str(status),  # as ``access`` gives a proxied request's error
                streamed=False,
            )
            self._log(request, trace, line, policy=policy, started=started)
        return response

    def _log(
        self, request: web.BaseRequest, trace: RequestTrace, line: dict[str, Any], *, policy: Policy, started: float
    ) -> None:
        """The access ``line`` with its time and its latency since ``started``, unless ``policy``'s
        ``access_log`` samples it out (then counted so)."""
        state = self._state
        latency_ms = (time.perf_counter() - started) * 1000
        ids = (trace.trace_id, line["request_id"])
        weight = unrouted_weight(
            policy.access_sampling,
            state.telemetry,
            status=line["status"],
            stream_error=False,
            latency_ms=latency_ms,
            headers=request.headers,
            ids=ids,
        )
        if weight is None:
            return
        if weight < 1.0:  # drawn at this rate: the line stands for 1 / sample_rate requests
            line["sample_rate"] = weight
        line["ts"] = time.time_ns() // 1000 / 1e6
        line["latency_ms"] = round(latency_ms, 3)
        if trace.trace_id:
            line["trace_id"] = trace.trace_id
            line["span_id"] = trace.span_id
        state.access.write(line)


def _add_headers(headers: Any, request_id: str, policy: Policy, dialect: Dialect) -> None:
    """The sidecar's headers on a refusal (docs/headers.md): its request id, the policy's version, and the
    request id in the caller's dialect (``answer_headers.add_sidecar_headers``, without an exchange)."""
    headers["x-sidecar-request-id"] = request_id
    headers["x-sidecar-policy-version"] = policy.version
    name = wire(dialect).request_id_header
    if name is not None:
        headers[name] = OWN_REQUEST_ID_PREFIX + request_id
