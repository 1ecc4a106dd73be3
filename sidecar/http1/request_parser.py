"""A sans-I/O HTTP/1.1 request parser for the sidecar's own listener: bytes in, requests out.

``RequestParser.feed(data)`` takes bytes as they arrive; then

- ``next_head()`` gives a ``RequestHead`` once a request's header block is complete (method, target split
  into path and query, version, headers with lower-case names, keep-alive, ``expects_continue``, the
  announced length), else ``None``;
- then ``next_body()`` gives its body: ``None`` while it is still arriving, else the ``bytes``.

One request at a time: the caller takes a head, then its body, before the parser looks at the next
request's bytes (pipelined requests wait in the buffer). Framing follows RFC 9112 section 6:
``Transfer-Encoding: chunked`` or ``Content-Length`` (both at once, several differing lengths, or any
other transfer coding is refused: request smuggling shapes); no framing means no body. Everything is
bounded: the header block (``MAX_HEAD_BYTES`` -> 431), a chunk-size line, trailers, and the body
(``max_body``: ``next_body`` raises ``BodyTooLarge`` as soon as the length is known to exceed it). A malformed
request raises ``BadRequest`` with the status to answer (400, 431, 501, 505); the connection is not
reused after either.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADERS = 200
MAX_LINE = 8 * 1024  # a chunk-size line or a trailer
_HEX = frozenset(b"0123456789abcdefABCDEF")
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

# Body states.
_LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _DONE, _TOO_LARGE = range(7)


class BadRequest(Exception):
    """The bytes are not an HTTP/1.1 request this server accepts; ``status`` is the answer to send."""

    def __init__(self, status: int, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.path = path  # the request's path when the request line was readable (to pick a dialect)


class BodyTooLarge(Exception):
    """The request's body is longer than the listener's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


@dataclass(slots=True)
class RequestHead:
    method: str
    path: str  # percent-decoded
    query_string: str
    http10: bool
    headers: dict[str, str]  # lower-case names; repeated fields joined with ", " (RFC 9110 5.3)
    keep_alive: bool
    expects_continue: bool
    length: int | None  # Content-Length, or None for a chunked body


class RequestParser:
    """Parses the requests of one connection, in order."""

    __slots__ = ("_body", "_buf", "_remaining", "_state", "max_body")

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._state = _DONE
        self._remaining = 0
        self._body = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received and not yet consumed (pipelined requests, a body still arriving)."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_head(self) -> RequestHead | None:
        """The next request's head if its header block is complete, else None (raises ``BadRequest``)."""
        buf = self._buf
        while buf[:2] == b"\r\n":  # RFC 9112 2.2: ignore empty lines before a request line
            del buf[:2]
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise BadRequest(431, "request header block too large")
            return None
        if end > MAX_HEAD_BYTES:
            raise BadRequest(431, "request header block too large")
        head = _parse_head(bytes(buf[:end]))
        del buf[: end + 4]
        if head.length is None:
            self._state = _CHUNK_SIZE
        elif head.length > self.max_body:
            self._state = _TOO_LARGE  # ``next_body`` raises; the body is never read
        else:
            self._remaining = head.length
            self._state = _LENGTH if head.length else _DONE
        return head

    def next_body(self) -> bytes | None:
        """The current request's whole body once it has arrived, else None."""
        buf = self._buf
        if self._state == _TOO_LARGE:
            raise BodyTooLarge(self.max_body)
        if self._state == _LENGTH:
            if len(buf) < self._remaining:
                return None
            body = bytes(buf[: self._remaining])
            del buf[: self._remaining]
            self._state = _DONE
            return body
        while self._state != _DONE:
            if not self._step_chunked(buf):
                return None
        body = bytes(self._body)
        self._body.clear()
        return body

    def _step_chunked(self, buf: bytearray) -> bool:
        state = self._state
        if state == _CHUNK_DATA:
            take = min(self._remaining, len(buf))
            if not take:
                return False
            self._body += buf[:take]
            del buf[:take]
            self._remaining -= take
            if not self._remaining:
                self._state = _CHUNK_END
            return True
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > MAX_LINE:
                raise BadRequest(400, "chunk-size line or trailer too long")
            return False
        line = bytes(buf[:end])
        del buf[: end + 2]
        if state == _CHUNK_SIZE:
            size = chunk_size(line)
            if size is None:
                raise BadRequest(400, f"invalid chunk size {line[:40]!r}")
            if len(self._body) + size > self.max_body:
                raise BodyTooLarge(self.max_body)
            self._remaining = size
            self._state = _CHUNK_DATA if size else _TRAILERS
        elif state == _CHUNK_END:
            if line:
                raise BadRequest(400, "chunk data longer than its size")
            self._state = _CHUNK_SIZE
        elif not line:  # _TRAILERS: an empty line ends them (their fields are ignored)
            self._state = _DONE
        return True


def _parse_head(block: bytes) -> RequestHead:
    text = block.decode("utf-8", "surrogateescape")  # bytes that are not UTF-8 go back out unchanged
    lines = text.split("\r\n")
    request_line = lines[0]
    parts = request_line.split(" ")
    if len(parts) != 3:
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    if not method or not _TOKEN.issuperset(method):
        raise BadRequest(400, "malformed request method")
    if target.startswith(("http://", "https://")):  # absolute-form (RFC 9112 3.2.2): the path is what counts
        authority_and_path = target.partition("://")[2]
        cut = min((i for i in (authority_and_path.find("/"), authority_and_path.find("?")) if i >= 0), default=-1)
        target = "/" if cut < 0 else authority_and_path[cut:]
        if not target.startswith("/"):
            target = "/" + target
    if not target.startswith("/"):
        raise BadRequest(400, "request target must be an absolute path")
    raw_path, _, query_string = target.partition("?")
    path = unquote(raw_path, errors="surrogateescape") if "%" in raw_path else raw_path
    if version == "HTTP/1.1":
        http10 = False
    elif version == "HTTP/1.0":
        http10 = True
    elif version.startswith("HTTP/") and len(version) == 8:
        raise BadRequest(505, f"HTTP version {version[5:]} not supported", path)
    else:
        raise BadRequest(400, "malformed HTTP version", path)
    if len(lines) > MAX_HEADERS + 1:
        raise BadRequest(431, "too many request header fields", path)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or not _TOKEN.issuperset(name):
            raise BadRequest(400, f"malformed header line {line[:60]!r}", path)
        name = name.lower()
        value = value.strip(" \t")
        if name in headers:
            if name == "content-length" and headers[name] != value:
                raise BadRequest(400, "conflicting Content-Length headers", path)
            if name != "content-length":
                headers[name] = f"{headers[name]}, {value}"
        else:
            headers[name] = value
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if http10 else "close" not in connection
    length: int | None = 0
    transfer = headers.get("transfer-encoding")
    if transfer is not None:
        if "content-length" in headers:
            raise BadRequest(400, "both Transfer-Encoding and Content-Length", path)
        if transfer.lower() != "chunked" or http10:
            raise BadRequest(501, f"transfer coding {transfer[:40]!r} not supported", path)
        length = None
    elif "content-length" in headers:
        value = headers["content-length"]
        if not value.isdigit() or not value.isascii() or len(value) > 18:
            raise BadRequest(400, f"invalid Content-Length {value[:40]!r}", path)
        length = int(value)
    expects = headers.get("expect", "").lower() == "100-continue" and not http10
    return RequestHead(method, path, query_string, http10, headers, keep_alive, expects, length)


def chunk_size(line: bytes) -> int | None:
    """The size a chunk-size line announces (extensions ignored), or None if it is not one."""
    size = line.split(b";", 1)[0].strip(b" \t")
    if not size or len(size) > 16 or not _HEX.issuperset(size):
        return None
    return int(size, 16)
