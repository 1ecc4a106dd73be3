"""The requests the listener makes (``listener.Listener``'s request factory): ``Request``, as every
handler gets it, and the two kinds ``routes.Routes`` refuses, ``UnservedVersionRequest`` (505) and
``UnframedRequest`` (400); ``awaits_continue``: whether a request's client waits for ``100 Continue``;
``read_arriving``: a body still arriving, read within the process's account.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion, HttpVersion11

from ..held_bytes import PARSED, HeldBytes


class Request(web.BaseRequest):
    """A request as the sidecar's handlers get it: aiohttp's low-level request, whose every answer (a
    handler's, a stream's, a refusal's) says ``Server: llm-sidecar``, not aiohttp's, which names the
    Python and aiohttp versions. aiohttp calls ``_prepare_hook`` as each answer's head is written (its own
    ``web.Request`` runs an application's ``on_response_prepare`` signal there). ``read`` sends ``100
    Continue`` first to a client waiting for it (``awaits_continue``): only a handler that reads the body
    asks for it, so a request refused before its body (a path not served, a method refused) is answered
    its final status without the ``100`` (RFC 9110 10.1.1), and the client never sends the body."""

    __slots__ = ()

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        response.headers["Server"] = "llm-sidecar"

    async def read(self) -> bytes:
        await send_continue(self)
        return await super().read()


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def awaits_continue(request: web.BaseRequest) -> bool:
    """Whether ``request`` said ``Expect: 100-continue`` (HTTP/1.1; other expectations are ignored) and
    its body has not all come: its client may be waiting for ``100 Continue`` before sending it."""
    return (
        not request.content.is_eof()
        and request.version == HttpVersion11
        and request.headers.get("expect", "").lower() == "100-continue"
        and not isinstance(request, UnservedVersionRequest)  # refused 505 (its version reads 1.1)
    )


async def send_continue(request: web.BaseRequest) -> None:
    """``100 Continue`` to a client waiting for it before it sends the body (``awaits_continue``)."""
    if awaits_continue(request):
        await request.writer.write(CONTINUE)
        request.writer.output_size = 0  # the answer itself has not begun (as aiohttp's own expect handler does)


async def read_arriving(request: web.BaseRequest, max_body: int, held: HeldBytes) -> bytes:
    """The body of ``request``, still arriving, held in the process's account ``PARSED`` times its length
    (the caller gives back as much once done with it). An announced length is taken before a byte is read
    (past the ceiling: ``HeldBytesFull``, the body unread), and the body read by aiohttp (``read``, which
    stops at the app's ``client_max_size``, ``max_body``: ``HTTPRequestEntityTooLarge``); one without a
    length is read as it comes (``read_unannounced``)."""
    length = request.content_length
    if length is None:
        return await read_unannounced(request, max_body, held)
    if not held.take(length * PARSED):
        raise held.full("the request body")
    try:
        return await request.read()
    except BaseException:
        held.give(length * PARSED)
        raise


async def read_unannounced(request: web.BaseRequest, max_body: int, held: HeldBytes) -> bytes:
    """The body of ``request``, sent without a length (chunked) and still arriving, each read taken from
    ``held`` as it comes, ``PARSED`` times (the caller gives back as much once done with it). Past ``max_body``
    bytes it raises aiohttp's ``HTTPRequestEntityTooLarge`` (as ``read`` does), past the ceiling
    ``HeldBytesFull``: read no further either way, what it held given back."""
    await send_continue(request)
    parts: list[bytes] = []
    taken = 0
    try:
        while chunk := await request.content.readany():
            size = taken + len(chunk)
            if size > max_body:
                raise web.HTTPRequestEntityTooLarge(max_size=max_body, actual_size=size)
            if not held.take(len(chunk) * PARSED):
                raise held.full("the request body")
            taken = size
            parts.append(chunk)
    except BaseException:
        held.give(taken * PARSED)
        raise
    return b"".join(parts)


class UnservedVersionRequest(Request):
    """A request whose line gave an HTTP version other than 1.1 and 1.0 (``HTTP/2.0``, or none: 0.9),
    which ``Routes`` answers 505. Its message says HTTP/1.1, as its answer's status line must (RFC 9112
    2.3: aiohttp writes the request's version there); ``asked`` is the version the line gave."""

    __slots__ = ("asked",)

    def __init__(self, asked: HttpVersion, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked = asked


class UnframedRequest(Request):
    """A request with a ``Transfer-Encoding`` llhttp let through without chunked framing (an empty value:
    its body read by ``Content-Length``): ``Routes`` answers it 400, the connection closes (RFC 9112 6.3)."""

    __slots__ = ()
