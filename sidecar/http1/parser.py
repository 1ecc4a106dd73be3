"""A sans-I/O HTTP/1.1 response parser: bytes in, head and body out; no sockets, no event loop.

``ResponseParser.feed(data)`` takes bytes as they arrive and fills:

- ``head``: status, reason and headers, once the header block is complete (1xx interim heads skipped);
- ``body``: the body's bytes with the transfer framing removed (Content-Length, chunked, or until close),
  appended to a list the caller drains;
- ``done``: the message ended; ``keep_alive``: the connection may carry another request.

``feed_eof()`` is called when the connection closes: it ends a body delimited by the close and raises
``UpstreamProtocolError`` for a message cut short. Framing follows RFC 9112 section 6: Transfer-Encoding
wins over Content-Length (and the connection is then not reused), differing Content-Length values are an
error, 204/304 have no body. Everything is bounded: the header block, a chunk-size line and trailers.
Content codings (gzip) are not this module's business: see ``client``.
"""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDict

from .errors import UpstreamProtocolError

MAX_HEAD_BYTES = 64 * 1024
MAX_LINE = 8 * 1024  # a chunk-size line or a trailer (the request parser too)
_HEX = frozenset(b"0123456789abcdefABCDEF")

# Body framing / parser states.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: CIMultiDict[str]
    http10: bool


class ResponseParser:
    """Parses one response (and the 1xx heads before it) from the bytes of one connection."""

    __slots__ = ("_buf", "_remaining", "_state", "body", "done", "head", "keep_alive", "no_body")

    def __init__(self, *, no_body: bool = False) -> None:
        self.no_body = no_body  # a response to HEAD
        self._buf = b""
        self._state = _HEAD
        self._remaining = 0
        self.head: ResponseHead | None = None
        self.body: list[bytes] = []
        self.done = False
        self.keep_alive = False

    def feed(self, data: bytes) -> None:
        """Consume ``data``; raises ``UpstreamProtocolError`` on bytes that break HTTP/1.1."""
        if self._state == _DONE:
            if data:
                self.keep_alive = False  # bytes after the message: the connection is not clean
            return
        buf = self._buf + data if self._buf else data
        self._buf = b""
        while buf:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD_BYTES + 3:  # + the part of the CRLFCRLF that may be here already
                        raise UpstreamProtocolError("the upstream's response header block is too large")
                    self._buf = buf
                    return
                if end > MAX_HEAD_BYTES:
                    raise UpstreamProtocolError("the upstream's response header block is too large")
                head = _parse_head(buf[:end])
                buf = buf[end + 4 :]
                if 100 <= head.status < 200:
                    continue  # 100 Continue, 103 Early Hints: the real head follows
                self._start_body(head)
            elif state == _LENGTH:
                take = self._remaining
                if len(buf) < take:
                    self.body.append(buf)
                    self._remaining = take - len(buf)
                    return
                self.body.append(buf[:take] if len(buf) > take else buf)
                buf = buf[take:]
                self._finish()
            elif state == _UNTIL_CLOSE:
                self.body.append(buf)
                return
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end > MAX_LINE or (end < 0 and len(buf) > MAX_LINE + 1):
                    raise UpstreamProtocolError("the upstream sent a chunk-size line that is too long")
                if end < 0:
                    self._buf = buf
                    return
                self._remaining = _chunk_size(buf[:end])
                buf = buf[end + 2 :]
                self._state = _CHUNK_DATA if self._remaining else _TRAILERS
            elif state == _CHUNK_DATA:
                take = self._remaining
                if len(buf) <= take:
                    self.body.append(buf)
                    self._remaining = take - len(buf)
                    if not self._remaining:
                        self._state = _CHUNK_END
                    return
                self.body.append(buf[:take])
                buf = buf[take:]
                self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) < 2:
                    if buf != b"\r":
                        raise UpstreamProtocolError("the upstream sent a chunk without its CRLF")
                    self._buf = buf
                    return
                if buf[:2] != b"\r\n":
                    raise UpstreamProtocolError("the upstream sent a chunk without its CRLF")
                buf = buf[2:]
                self._state = _CHUNK_SIZE
            elif state == _TRAILERS:
                end = buf.find(b"\r\n")
                if end > MAX_LINE or (end < 0 and len(buf) > MAX_LINE + 1):
                    raise UpstreamProtocolError("the upstream sent a trailer line that is too long")
                if end < 0:
                    self._buf = buf
                    return
                buf = buf[end + 2 :]
                if end == 0:
                    self._finish()
            else:  # _DONE with bytes left over
                self.keep_alive = False
                return

    def feed_eof(self) -> None:
        """The connection closed: end an until-close body, or raise for a message cut short."""
        if self._state == _DONE:
            return
        if self._state == _UNTIL_CLOSE:
            self._finish()
            return
        if self._state == _HEAD:
            raise UpstreamProtocolError(
                "the upstream closed the connection before sending a response"
                if not self._buf
                else "the upstream closed the connection in the middle of the response headers"
            )
        raise UpstreamProtocolError("the upstream closed the connection before the response body ended")

    def _start_body(self, head: ResponseHead) -> None:
        self.head = head
        headers = head.headers
        connection = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in connection if head.http10 else "close" not in connection
        self.keep_alive = keep_alive
        if self.no_body or head.status in (204, 304):
            self._finish()
            return
        transfer = headers.getall("transfer-encoding", None)
        if transfer is not None:
            codings = [c.strip().lower() for value in transfer for c in value.split(",") if c.strip()]
            if "content-length" in headers:
                self.keep_alive = False  # both framings: a smuggling shape, never reuse the connection
            if codings and codings[-1] == "chunked":
                self._state = _CHUNK_SIZE
            else:
                self.keep_alive = False
                self._state = _UNTIL_CLOSE
            return
        lengths = headers.getall("content-length", None)
        if lengths is None:
            self.keep_alive = False
            self._state = _UNTIL_CLOSE
            return
        values = {v.strip() for value in lengths for v in value.split(",")}
        if len(values) != 1:
            raise UpstreamProtocolError("the upstream sent conflicting Content-Length values")
        (value,) = values
        if not value.isdigit() or not value.isascii():
            raise UpstreamProtocolError(f"the upstream sent an invalid Content-Length {value[:40]!r}")
        self._remaining = int(value)
        if self._remaining == 0:
            self._finish()
        else:
            self._state = _LENGTH

    def _finish(self) -> None:
        self._state = _DONE
        self.done = True


def _parse_head(block: bytes) -> ResponseHead:
    text = block.decode("utf-8", "surrogateescape")
    lines = text.split("\r\n")
    status_line = lines[0]
    if not status_line.startswith("HTTP/1.") or len(status_line) < 12 or status_line[8] != " ":
        raise UpstreamProtocolError(f"the upstream sent an invalid status line {status_line[:60]!r}")
    code = status_line[9:12]
    if not code.isdigit() or not code.isascii() or (len(status_line) > 12 and status_line[12] != " "):
        raise UpstreamProtocolError(f"the upstream sent an invalid status line {status_line[:60]!r}")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or line[0] in " \t":
            raise UpstreamProtocolError(f"the upstream sent an invalid header line {line[:60]!r}")
        headers.add(name, value.strip(" \t"))
    return ResponseHead(int(code), status_line[13:], headers, status_line[7] == "0")


def _chunk_size(line: bytes) -> int:
    size = chunk_size(line)
    if size is None:
        raise UpstreamProtocolError(f"the upstream sent an invalid chunk size {line[:40]!r}")
    return size


def chunk_size(line: bytes) -> int | None:
    """The size a chunk-size line announces (extensions ignored), or None if it is not one."""
    size = line.split(b";", 1)[0].strip(b" \t")
    if not size or len(size) > 16 or not _HEX.issuperset(size):
        return None
    return int(size, 16)
