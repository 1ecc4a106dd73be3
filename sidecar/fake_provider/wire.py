"""The wire writer: turns a ``Reply`` (or a fault) into bytes on the socket, with timing.

One request goes through ``serve``::

    stall (fault)  ->  latency_ms  ->  outcome fault? reset | error answer
                   ->  build the reply (RequestError -> 4xx in the dialect's shape)
                   ->  JSON:   wait ttft + tokens / tokens_per_s, send (or malformed / empty / reset-body)
                   ->  stream: headers, then frame by frame with real flushes; ttft before the first
                               token-carrying frame, tokens / tokens_per_s before each later one;
                               cut / error-event / malformed / stall-mid at their event index

Connections are dropped two ways: ``reset`` aborts with a TCP RST (SO_LINGER 0) before any response;
``cut`` and ``reset-body`` close after flushing what was sent, so the client gets a truncated body.
A client that goes away ends the work quietly, also during a stall or a pause (sleeps poll the
connection every 50 ms). Stream faults on a non-stream request, and
``stall-mid`` past the end of a stream, do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from sidecar.dialects import Dialect
from sidecar.fake_provider.config import FakeConfig
from sidecar.fake_provider.errors import ErrorAnswer, fault_error, request_error
from sidecar.fake_provider.faults import ERROR_KINDS, Fault, FaultKind, FaultPlan
from sidecar.fake_provider.replies import Frame, JsonReply, Reply, RequestError, StreamFormat, StreamReply
from sidecar.fake_provider.state import RECORD
from sidecar.sse import encode_event

_DISCONNECT_POLL_S = 0.05  # how often a long sleep checks whether the client is still there


@dataclass(frozen=True)
class Exchange:
    """One request's fixed facts: who asked, in which dialect, under which config and faults."""

    request: web.Request
    dialect: Dialect
    config: FakeConfig
    plan: FaultPlan
    headers: Mapping[str, str]  # sent on every answer (request id, x-fake-server)
    request_id: str
    input_tokens: int  # a rough count for the context-overflow message


async def serve(ex: Exchange, build: Callable[[], Reply]) -> web.StreamResponse:
    """Answer one provider request according to its plan."""
    try:
        return await _serve(ex, build)
    except ConnectionError:  # the client went away while we waited or wrote
        _client_gone(ex.request)
        return web.Response()


def _client_gone(request: web.Request) -> None:
    """Note in the request's record (``/_fake/requests``) that its client went away before its answer."""
    record = request.get(RECORD)
    if record is not None:
        record["client_gone"] = True


async def _serve(ex: Exchange, build: Callable[[], Reply]) -> web.StreamResponse:
    plan = ex.plan
    await _sleep(ex.request, plan.stall_s)
    await _sleep(ex.request, ex.config.latency_ms / 1000)
    outcome = plan.outcome
    if outcome is not None and outcome.kind is FaultKind.RESET:
        drop(ex.request, rst=True)
        return web.Response()
    if outcome is not None and outcome.kind in ERROR_KINDS:
        now = time.time()
        return send_error(
            ex,
            fault_error(ex.dialect, outcome, now=now, input_tokens=ex.input_tokens, request_id=ex.request_id),
        )
    try:
        reply = build()
    except RequestError as exc:
        return send_error(ex, request_error(ex.dialect, exc.status, exc.message, ex.request_id, exc.param))
    ttft_s = (plan.ttft_ms if plan.ttft_ms is not None else ex.config.ttft_ms) / 1000
    if isinstance(reply, JsonReply):
        return await _send_json(ex, reply, outcome, ttft_s)
    return await _send_stream(ex, reply, outcome, ttft_s)


def send_error(ex: Exchange, error: ErrorAnswer) -> web.Response:
    headers = {**ex.headers, **error.headers}
    return web.Response(
        status=error.status, body=orjson.dumps(error.body), content_type="application/json", headers=headers
    )


def drop(request: web.Request, *, rst: bool) -> None:
    """Close the client connection: with a TCP RST (``rst``) or after flushing what was written."""
    transport = request.transport
    if transport is None:
        return
    if not rst:
        transport.close()
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _send_json(ex: Exchange, reply: JsonReply, outcome: Fault | None, ttft_s: float) -> web.StreamResponse:
    tokens_per_s = ex.config.tokens_per_s
    await _sleep(ex.request, ttft_s + (reply.output_tokens / tokens_per_s if tokens_per_s else 0.0))
    kind = outcome.kind if outcome is not None else None
    payload = orjson.dumps(_emptied(reply.body) if kind is FaultKind.EMPTY else reply.body)
    headers = {**ex.headers, **reply.headers}
    if kind is FaultKind.MALFORMED:
        payload = payload[: len(payload) // 2]
    if kind is FaultKind.RESET_BODY:
        response = web.StreamResponse(headers=headers)
        response.content_type = "application/json"
        response.content_length = len(payload)
        await response.prepare(ex.request)
        await response.write(payload[: len(payload) // 2])
        drop(ex.request, rst=False)
        return response
    return web.Response(body=payload, content_type="application/json", headers=headers)


async def _send_stream(ex: Exchange, reply: StreamReply, outcome: Fault | None, ttft_s: float) -> web.StreamResponse:
    frames = reply.frames
    last = len(frames) - 1
    kind = outcome.kind if outcome is not None else None
    at = min(outcome.count, last) if outcome is not None else -1  # never past the terminator
    sse = reply.format is StreamFormat.SSE
    response = web.StreamResponse(headers={**ex.headers, **reply.headers, "cache-control": "no-cache"})
    response.content_type = "text/event-stream" if sse else "application/json"
    tokens_per_s = ex.config.tokens_per_s
    stall_mid = ex.plan.stall_mid
    waiting_first_token = True
    try:
        await response.prepare(ex.request)
        if kind is FaultKind.RESET_BODY:
            encoded = _encode(frames[0], 0, sse)
            await response.write(encoded[: len(encoded) // 2])
            drop(ex.request, rst=False)
            return response
        for index, item in enumerate(frames):
            if kind is FaultKind.CUT and index == at:
                drop(ex.request, rst=False)
                return response
            if kind is FaultKind.ERROR_EVENT and index == at:
                await response.write(_encode(reply.error_event(index), index, sse))
                break
            if stall_mid is not None and index == stall_mid.count:
                await _sleep(ex.request, stall_mid.for_s)
            if item.tokens:
                await _sleep(
                    ex.request,
                    ttft_s if waiting_first_token else item.tokens / tokens_per_s if tokens_per_s else 0,
                )
                waiting_first_token = False
            if kind is FaultKind.MALFORMED and index == at:
                item = Frame(b'{"malformed": ' + item.data[: len(item.data) // 2], item.event, item.tokens)
            await response.write(_encode(item, index, sse))
        if not sse:
            await response.write(b"]")
        await response.write_eof()
    except ConnectionError:  # the client went away; nothing left to do
        _client_gone(ex.request)
    return response


_ANSWER_LISTS = ("choices", "content", "candidates")  # OpenAI chat and completions; Anthropic; Gemini


def _emptied(body: Any) -> Any:
    """The answer with its answer list emptied (``empty``); other bodies (embeddings...) as they are."""
    if not isinstance(body, dict):
        return body
    return {**body, **{key: [] for key in _ANSWER_LISTS if key in body}}


def _encode(item: Frame, index: int, sse: bool) -> bytes:
    if sse:
        return encode_event(item.data, item.event)
    return (b"[" if index == 0 else b",\r\n") + item.data


async def _sleep(request: web.Request, seconds: float) -> None:
    """Sleep, but raise ``ConnectionResetError`` as soon as the client has gone away."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (remaining := deadline - loop.time()) > 0:
        if request.transport is None or request.transport.is_closing():
            raise ConnectionResetError("client disconnected")
        await asyncio.sleep(min(remaining, _DISCONNECT_POLL_S))
