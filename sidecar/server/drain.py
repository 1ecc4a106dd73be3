"""What a request still running at the end of the drain gets: an error it can act on, not a cut line.

At the drain timeout (``SIDECAR_DRAIN_TIMEOUT_S`` after SIGTERM) ``Listener.shutdown`` sets
``Listener.cut`` and cancels the handlers still running (``Connection.handler``); their upstream calls
are cancelled with them. ``cut_by_drain`` tells such a cancel from the app hanging up (which stays a
499, ``client_closed``), and ``drain_answer`` ends the request in the app's dialect:

- nothing sent yet: a 503 (code ``draining``) with ``Retry-After: 1`` and ``x-should-retry: false``: the
  listener stopped accepting at SIGTERM and the app reaches this sidecar on loopback, so an SDK's retry
  could only meet a closed port and end in a connection error instead of this one;
- a stream already committed: the dialect's error event (status 503; code ``draining`` where the
  dialect's error has a place for one), which the app's SDK raises on, and the stream's end.

A stream whose app stopped reading (its write waiting for the app's full socket when the drain cut it)
cannot get that event: its connection is closed. Either way the access line says ``status: 503``,
``outcome: drain_cut``: a request the sidecar cut, in
the error rates and alerts, not one the app abandoned. Connections whose handler does not end within
``listener.CANCEL_WAIT_S`` of that are closed.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..translate import stream_error_event
from .answer_headers import add_sidecar_headers
from .errors import RequestFailed, error_response, retry_headers
from .exchange import Exchange
from .listener import Connection

DRAIN_STATUS = 503
DRAIN_MESSAGE = "llm-sidecar is shutting down and the request did not finish within its drain timeout; retry it"


def cut_by_drain(request: web.BaseRequest) -> bool:
    """Whether the request's handler was cancelled by the drain timeout (not by the app hanging up)."""
    conn = request.protocol
    return isinstance(conn, Connection) and conn.listener.cut


async def drain_answer(exchange: Exchange) -> web.StreamResponse:
    """End a request the drain cut (module docstring); the cancel is withdrawn so that it can be sent."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()
    exchange.drain_cut = True
    stream = exchange.stream
    if stream is None or not stream.prepared:
        failure = RequestFailed(DRAIN_STATUS, DRAIN_MESSAGE, code="draining", headers=retry_headers(1, again=False))
        response = error_response(exchange.facts.dialect, failure)
        add_sidecar_headers(response.headers, exchange)
        return response
    exchange.stream_error = "drain_cut"
    data = stream_error_event(exchange.facts.dialect, DRAIN_STATUS, DRAIN_MESSAGE, code="draining")
    try:
        await stream.write(data)
        await stream.write_eof()
        exchange.bytes_out += len(data)
    except ConnectionError:  # the app went away meanwhile
        pass
    except asyncio.CancelledError:
        if task is None or task.cancelling():
            raise  # cancelled again
        # The app stopped reading and its socket is full: aiohttp's wait for it to drain, cancelled with the
        # handler, stays cancelled, and every later write raises so at once. The error event cannot reach
        # the app before the process ends: the connection is closed now (the handler's end of the stream
        # meets a closed connection), and the access line still says 503, ``drain_cut``.
        if exchange.request.transport is not None:
            exchange.request.transport.abort()
    return stream
