"""The request a handler gets and the answers it returns, on the sidecar's own HTTP/1.1 listener.

- ``Request``: method, path, query, headers (a plain dict with lower-case names), ``match_info`` (the
  path parameters the router found), ``await read()`` (the whole body, already received).
- ``Response``: status, headers and a body, sent in one write with its ``content-length``.
- ``StreamResponse``: ``await prepare(request)`` sends the head (chunked framing, or until close for an
  HTTP/1.0 caller), ``await write(data)`` sends bytes at once and waits while the socket's buffer is
  full, ``await write_eof()`` ends it. A write to a caller that has gone raises ``ConnectionResetError``.

Only the listener (``server``) builds a ``Request`` and sends these; handlers never see sockets.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import formatdate
from http import HTTPStatus
from time import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from .request_parser import BodyTooLarge, RequestHead

if TYPE_CHECKING:
    from .server import ServerConnection

_REASONS = {status.value: status.phrase for status in HTTPStatus}
# Framing is the listener's business: a handler's (or an upstream's relayed) copies are dropped.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"})


class Request:
    """One request, head and body; the body was received whole before the handler ran."""

    __slots__ = ("_body", "_query", "conn", "head", "headers", "match_info", "method", "path")

    def __init__(self, head: RequestHead, body: bytes | None, conn: ServerConnection) -> None:
        self.head = head
        self.method = head.method
        self.path = head.path
        self.headers = head.headers
        self.match_info: dict[str, str] = {}
        self.conn = conn
        self._body = body  # None: over the size limit (``read`` raises)
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> Mapping[str, str]:
        """The query string's fields (the first value of a repeated one), decoded."""
        if self._query is None:
            query: dict[str, str] = {}
            for name, value in parse_qsl(self.head.query_string, keep_blank_values=True):
                query.setdefault(name, value)
            self._query = query
        return self._query

    async def read(self) -> bytes:
        """The body; raises ``BodyTooLarge`` if it was longer than the listener accepts."""
        if self._body is None:
            raise BodyTooLarge(self.conn.server.max_body)
        return self._body


class Response:
    """A whole answer: status, headers, body."""

    __slots__ = ("body", "headers", "status")

    def __init__(
        self,
        *,
        status: int = 200,
        body: bytes = b"",
        text: str | None = None,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ) -> None:
        self.status = status
        self.headers: dict[str, str] = dict(headers) if headers else {}
        if text is not None:
            body = text.encode()
            self.headers.setdefault("content-type", content_type or "text/plain; charset=utf-8")
        elif content_type is not None:
            self.headers["content-type"] = content_type
        self.body = body


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status=status, body=orjson.dumps(data), headers=headers, content_type="application/json")


class StreamResponse:
    """An answer sent as it is produced (server-sent events)."""

    __slots__ = ("_chunked", "_conn", "_ended", "headers", "prepared", "status")

    def __init__(self, *, status: int = 200, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.prepared = False
        self._conn: ServerConnection | None = None
        self._chunked = True
        self._ended = False

    async def prepare(self, request: Request) -> None:
        conn = request.conn
        self._conn = conn
        self._chunked = not request.head.http10
        framing = "transfer-encoding: chunked\r\n" if self._chunked else ""
        conn.keep_alive = conn.keep_alive and self._chunked
        conn.stream = self
        self.prepared = True
        conn.write(response_head(self.status, self.headers, framing, conn.keep_alive, conn.server.clock.date()))

    async def write(self, data: bytes) -> None:
        conn = self._conn
        if conn is None or self._ended:
            raise RuntimeError("write before prepare or after write_eof")
        if not data:
            return
        if not conn.write(b"%x\r\n%b\r\n" % (len(data), data) if self._chunked else data):
            raise ConnectionResetError("the caller closed the connection")
        if conn.write_paused:
            await conn.drained()

    async def write_eof(self) -> None:
        conn = self._conn
        if conn is None or self._ended:
            return
        self._ended = True
        if self._chunked:
            conn.write(b"0\r\n\r\n")

    @property
    def ended(self) -> bool:
        return self._ended


Answer = Response | StreamResponse  # what a handler returns


class Clock:
    """The ``date`` header's text, formatted once a second (one per listener)."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = 0
        self.text = ""

    def date(self) -> str:
        now = int(time())
        if now != self.second:
            self.second = now
            self.text = formatdate(now, usegmt=True)
        return self.text


def response_head(status: int, headers: Mapping[str, str], framing: str, keep_alive: bool, date: str) -> bytes:
    """The status line and header block; ``framing`` is the length or transfer-coding line.

    Raises ``ValueError`` if a header name or value holds a line break (it would split the head).
    """
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n", framing]
    for name, value in headers.items():
        if name.lower() not in _FRAMING:
            lines.append(f"{name}: {value}\r\n")
    lines.append(f"date: {date}\r\nserver: llm-sidecar\r\n")
    if not keep_alive:
        lines.append("connection: close\r\n")
    lines.append("\r\n")
    head = "".join(lines)
    if head.count("\n") != len(lines) + (0 if framing else -1) + 1 or head.count("\r") != head.count("\n"):
        raise ValueError("a response header name or value contains a line break")
    return head.encode("utf-8", "surrogateescape")  # as the parsers decode
