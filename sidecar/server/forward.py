"""A request the path table does not serve, forwarded as sent to the provider the policy's ``passthrough``
names for its dialect and path (``passthrough.table``); docs/api.md, "Passthrough".

``Passthrough`` is ``routes.Routes``' ``passthrough`` hook: for a request no route serves, it looks the
dialect the path and headers suggest (``dialect_of_path``) and the path up in the serving policy's table
(one lookup; a policy without the block: none) and answers, or returns None (the 404 or 405 follows).

What it does, in order:

- a body announced over the entry's ``max_body_bytes`` is a 413 before a byte is read (``Expect:
  100-continue`` answered by the sidecar only when the body fits); one that grows past it unannounced
  (chunked) ends the call, 413 too; the app's connection then closes;
- the key: the provider's own, or the app's for ``api_key: {passthrough: true}`` (none sent: 401, 403 for
  Gemini apps, ``missing_api_key``); a key the sidecar cannot read: 503 ``no_target_available``;
- the call (``UpstreamClient.forward``): method, path and query as sent (Gemini's ``?key=`` left out: the
  key goes in the provider's header), the headers of ``passthrough.headers`` with the call's own
  ``traceparent`` in place of the app's (``RequestTrace.forwarding``), the body streamed
  (``passthrough.body``). A connection that could not be made, before a byte of the body was read, is
  tried once more on the same provider; nothing else is retried (an upload, a POST, may have been acted
  on). No fallback, no translation, no cache, no budget, no cost;
- the answer: status, headers (``passthrough.headers``) and body as the provider sent them, errors
  included, the body streamed as it arrives, undecoded; a redirect too (not followed: the app's client
  decides); with the sidecar's ``x-sidecar-request-id``, ``-policy-version``, ``-provider`` and
  ``-attempts``. A provider that breaks off mid-answer: the app's connection is cut (its client sees a
  truncated body, never a clean end);
- the sidecar's own failures (no connection, a timeout, a body too large) in the app's dialect, as the
  Errors table of docs/api.md says: 502 with the error type as ``code``, 504 for a timeout;
- then the access line (``operation: passthrough``, the path without its query, ``bytes_in``,
  ``bytes_out``, the provider), the request's metrics (no route, no served model), its SERVER span
  (route: the prefix) and, when a call was made, the call's CLIENT span (``RequestTrace.forwarded``).
  An app that leaves cancels the call (aiohttp cancels this handler, and the provider's connection is
  closed with it).

Timeouts are the provider's: ``connect_s`` to make a connection; ``idle_s`` for each gap in the body's
bytes (from the app, or taken by the provider) and in the answer's; ``first_byte_s`` for the head once
the body is sent. ``total_s`` does not apply: an upload or a download of hundreds of MB lasts longer
than any chat, and a transfer that stops is ended by ``idle_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from random import getrandbits

import aiohttp
from aiohttp import web

from ..credentials import CredentialError, app_key
from ..dialects import Dialect
from ..dialects.registry import dialect_of_path
from ..passthrough.body import StreamedBody
from ..passthrough.headers import AnswerHeaders, ForwardHeaders, with_trace_context
from ..passthrough.table import PassRoute
from ..policy.compiled import Policy
from ..policy.resilience_plan import AttemptTimeouts
from ..request_facts import app_of
from ..resilience.classify import TimeoutPhase, classify_exception
from ..telemetry.request import RequestTrace
from ..upstream import TLSConfigError, UpstreamClient, request_sent
from .access import unrouted_weight
from .errors import RequestFailed, error_response
from .forward_call import OPERATION, Call
from .last_resort import no_key
from .request_kinds import CONTINUE, awaits_continue
from .state import SidecarState

CHUNK_BYTES = 256 * 1024
"""The most bytes of the answer read and written at once."""


class Passthrough:
    """The hook of ``routes.Routes`` (see the module docstring), the app's parts bound."""

    __slots__ = ("_answer", "_client", "_forward", "_state")

    def __init__(self, client: UpstreamClient, state: SidecarState) -> None:
        self._client = client
        self._state = state
        self._forward = ForwardHeaders()
        self._answer = AnswerHeaders()

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse | None:
        """The answer to ``request`` forwarded, or None when the serving policy forwards nothing for it."""
        policy = self._state.holder.policy
        table = policy.passthrough
        if table is None:
            return None
        route = table.find(dialect_of_path(request.path, request.headers), request.path)
        if route is None:
            return None
        return await self._serve(request, route, policy)

    async def _serve(self, request: web.BaseRequest, route: PassRoute, policy: Policy) -> web.StreamResponse:
        state = self._state
        call = Call(request, route, policy, getrandbits(64).to_bytes(8).hex())
        trace = state.telemetry.start_request(
            method=request.method,
            path=request.path,
            headers=request.headers,
            dialect=route.dialect,
            operation=OPERATION,
            requested_model=None,
            stream=False,
            http_route=route.prefix,
        )
        response: web.StreamResponse | None = None
        try:
            with trace:
                response = await self._answered(call, trace)
            return response
        except asyncio.CancelledError:
            call.status, call.outcome = 499, "client_closed"
            raise
        finally:
            if call.calls:
                name = f"{request.method} {route.prefix}"
                trace.forwarded(name, call.span_attributes(), call.start_ns, call.span_error(), call.span_id)
            trace.finish(
                status=call.status,
                outcome=call.outcome,
                route=None,
                served_model=None,
                provider=route.provider.name,
                attempts=call.calls,
                fallback_reason=None,
                usage=None,
                cost_usd=None,
                error_type=call.error_type,
                streamed=False,
            )
            self._log(call, trace)

    def _log(self, call: Call, trace: RequestTrace) -> None:
        """The access line, unless the policy's ``access_log`` samples it out (docs/logs.md: the rule of
        every line, at the top-level rate: a passthrough has no route); then it is counted as sampled out."""
        state = self._state
        latency_ms = (time.perf_counter() - call.started) * 1000
        weight = unrouted_weight(
            call.policy.access_sampling,
            state.telemetry,
            status=call.status,
            stream_error=call.outcome == "stream_error",
            latency_ms=latency_ms,
            headers=call.request.headers,
            ids=(trace.trace_id, call.request_id),
        )
        if weight is None:
            return
        fields = call.access_fields(trace, app_of(call.request.headers, state.settings.app_name), latency_ms)
        if weight < 1.0:  # drawn at this rate: the line stands for 1 / sample_rate requests
            fields["sample_rate"] = weight
        state.access.write(fields)

    async def _answered(self, call: Call, trace: RequestTrace) -> web.StreamResponse:
        """The provider's answer relayed, or the sidecar's error in the app's dialect."""
        request, route = call.request, call.route
        try:
            upstream = await self._call(call, trace)
        except RequestFailed as failure:
            call.status, call.error_type = failure.status, failure.code
            if not call.calls:
                call.outcome = "rejected"
                trace.rejected(status=failure.status, reason=failure.code)
            answer = error_response(route.dialect, failure)
            call.add_headers(answer.headers)
            if not request.content.is_eof():
                answer.force_close()  # the rest of the body is not read
            call.bytes_out = answer.content_length or 0
            return answer
        try:
            return await self._relay(call, upstream)
        finally:
            upstream.release()

    async def _call(self, call: Call, trace: RequestTrace) -> aiohttp.ClientResponse:
        """The provider's response at its head; raises ``RequestFailed`` for the sidecar's own failures."""
        request, route = call.request, call.route
        provider = route.provider
        length = request.content_length
        if length is not None and length > route.max_body_bytes:
            raise too_large(route)
        key = call.key = self._key(call)
        headers = self._forward(request.headers, provider, route.dialect, key)
        call.span_id, trace_context = trace.forwarding()
        if trace_context is not None:
            with_trace_context(headers, trace_context)
        url = route.url(request.rel_url.raw_path, _query(request, route.dialect))  # the path as sent, not decoded
        timeouts = provider.attempt_timeouts
        has_body = request.body_exists
        if has_body and awaits_continue(request):
            await request.writer.write(CONTINUE)
            request.writer.output_size = 0  # the answer has not begun (as ``request_kinds.Request.read``)
        loop = asyncio.get_running_loop()
        for tries_left in (1, 0):
            body: StreamedBody | None = None
            try:
                async with asyncio.timeout(loop.time() + timeouts.connect_s + timeouts.first_byte_s) as deadline:
                    if has_body:
                        body = StreamedBody(request.content, route.max_body_bytes, _mover(deadline, timeouts))
                    call.calls += 1
                    call.start_ns = call.start_ns or time.time_ns()
                    payload = body.chunks() if body is not None else None
                    return await self._client.forward(provider, request.method, url, headers, payload, timeouts)
            except (aiohttp.ClientError, TimeoutError, TLSConfigError) as exc:
                call.bytes_in = body.read if body is not None else 0
                if body is not None and body.too_large:
                    raise too_large(route) from None
                unsent = not request_sent() and (body is None or not body.started)
                connect = isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
                if tries_left and unsent and connect:
                    continue  # never reached the provider: once more, on the same one
                raise _failed(call, exc, "first_byte" if body is None or body.done else "idle") from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _key(self, call: Call) -> str | None:
        """The key sent to the route's provider; raises ``RequestFailed`` when none can be had."""
        spec = call.route.provider.api_key
        if spec is None:
            return None
        request = call.request
        sent = app_key(request.headers, request.query) if spec.passthrough else None
        try:
            return self._state.credentials.key_for(spec, sent)
        except CredentialError as exc:
            if spec.passthrough:
                raise no_key(
                    call.route.dialect,
                    f"provider {call.route.provider.name!r} passes the app's API key through, and this request sent"
                    f" none that can be passed on ({exc})",
                ) from None
            raise RequestFailed(
                503, f"provider {call.route.provider.name!r} cannot be called: {exc}", code="no_target_available"
            ) from None

    async def _relay(self, call: Call, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
        """The provider's answer to the app as it arrives; a break mid-answer cuts the app's connection."""
        request, route = call.request, call.route
        call.status = call.upstream_status = upstream.status
        call.outcome = "ok" if upstream.status < 400 else "failed"
        call.bytes_in = request.content.total_bytes if request.body_exists else 0
        headers = self._answer(upstream.headers.items(), call.key)
        if route.dialect is Dialect.GEMINI:
            _upload_here(headers, route, request)
        answer = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
        call.add_headers(answer.headers)
        await answer.prepare(request)
        idle_s = route.provider.attempt_timeouts.idle_s
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(loop.time() + idle_s) as idle:
                async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
                    await answer.write(chunk)
                    call.bytes_out += len(chunk)
                    idle.reschedule(loop.time() + idle_s)
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = classify_exception(exc, timeout_phase="idle")
            call.outcome, call.error_type = "stream_error", outcome.error_type
            transport = request.transport
            if transport is not None:
                transport.abort()  # the app's client sees the answer cut, not a clean end
            return answer
        await answer.write_eof()
        return answer


def _mover(deadline: asyncio.Timeout, timeouts: AttemptTimeouts) -> Callable[[bool], None]:
    """What moves ``deadline`` as the body goes: ``idle_s`` from each chunk, ``first_byte_s`` from its end."""
    loop = asyncio.get_running_loop()

    def moved(done: bool) -> None:
        deadline.reschedule(loop.time() + (timeouts.first_byte_s if done else timeouts.idle_s))

    return moved


def _upload_here(headers: dict[str, str], route: PassRoute, request: web.BaseRequest) -> None:
    """A Gemini resumable upload's ``x-goog-upload-url`` on the provider, made the sidecar's: the app's
    client sends the file's bytes there, and the sidecar forwards them (with the provider's key) when its
    passthrough lists the path (``/upload/``)."""
    for name, value in headers.items():
        if name.lower() == "x-goog-upload-url" and value.startswith(route.base + "/"):
            headers[name] = f"{request.scheme}://{request.host}{value[len(route.base) :]}"


def _query(request: web.BaseRequest, dialect: Dialect) -> str:
    """The request's raw query string as sent; for a Gemini app, without ``key=`` (the app's key, which
    goes in the provider's header: never in a URL)."""
    query = request.rel_url.raw_query_string
    if dialect is Dialect.GEMINI and "key=" in query:
        query = "&".join(part for part in query.split("&") if not part.startswith("key="))
    return query


def too_large(route: PassRoute) -> RequestFailed:
    """The 413 of a body over the route's ``max_body_bytes``."""
    return RequestFailed(
        413,
        f"request body exceeds the passthrough's max_body_bytes ({route.max_body_bytes} bytes) for {route.prefix}",
        code="body_too_large",
    )


def _failed(call: Call, exc: BaseException, phase: TimeoutPhase) -> RequestFailed:
    """The sidecar's own error for a call that got no answer: 504 for a timeout, else 502."""
    outcome = classify_exception(exc, timeout_phase=phase)
    return RequestFailed(
        outcome.gateway_status,
        f"passthrough to provider {call.route.provider.name} failed: {outcome.described}",
        code=outcome.error_type,
    )
