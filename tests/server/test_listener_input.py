"""Strict input on the listener: the security review's request findings (issue 16) as regression tests with
the same bytes, on the app port and the health port, and a differential test against llhttp.

Each finding is answered 400 (JSON, in the dialect the path suggests when the path is known) or the
connection is closed; never a 500, never an error-level log line. The differential test sends every
request of ``data/request_corpus.txt`` to a listener and feeds it to llhttp (httptools): the listener must
refuse it, or read exactly the messages llhttp reads (method, target, body), in order.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httptools
import orjson
import pytest
from aiohttp import web

from sidecar.server.listener import Listener
from sidecar.server.routes import Routes

from ..conftest import RunningSidecar
from .raw import read_response
from .served_listener import exchange

CORPUS = Path(__file__).parent / "data" / "request_corpus.txt"
Message = tuple[str, str, str]  # method, target, body (hex)


def corpus() -> list[tuple[str, bytes]]:
    cases = []
    for line in CORPUS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, literal = line.partition(": ")
            cases.append((name, ast.literal_eval(literal)))
    return cases


FINDINGS = {
    # a request target with a non-UTF-8 byte, percent-encoded or raw (was: 500 and a traceback)
    "percent-ff-target": b"GET /healthz%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    "percent-ff-query": b"GET /healthz?x=%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    "raw-ff-target": b"GET /healthz\xff HTTP/1.1\r\nHost: x\r\n\r\n",
    "percent-crlf-target": b"GET /healthz%0d%0aX-Injected:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    "raw-control-in-target": b"GET /healthz\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    # CR, LF, NUL and other control bytes in a header value (RFC 9110 5.5: MUST NOT be accepted)
    "cr-in-header-value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "bare-lf-in-header-line": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\nX-B: b\r\n\r\n",
    "nul-in-header-value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "control-in-header-value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x1bb\r\n\r\n",
    # an empty Transfer-Encoding beside a Content-Length: the body was read by the length (a second review,
    # 2026-12-06: llhttp as httptools and h11 have it refuse the request; RFC 9112 6.3 says 400)
    "empty-transfer-encoding": (
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\nContent-Length: 3\r\n\r\nabc"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
    # a bare LF inside a chunk extension (read differently than llhttp reads it: a desync)
    "bare-lf-in-chunk-extension": (
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2;a=b\nX\r\nhi\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    ),
}


@pytest.mark.parametrize("port_name", ["app", "health"])
@pytest.mark.parametrize("name", list(FINDINGS))
async def test_a_finding_of_the_review_is_refused_with_a_400_or_a_close(
    ports: tuple[RunningSidecar, dict[str, int]], port_name: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request of the review's findings gets a JSON 400 or a closed connection, and leaves no
    error-level line in the sidecar's log or in Python's logging."""
    running, port = ports[0], ports[1][port_name]
    with caplog.at_level(logging.WARNING):
        status, body = await exchange(port, FINDINGS[name])
    assert status in (400, None)
    if status is not None:
        assert "error" in orjson.loads(body)
    assert [line for line in running.log_lines() if line["level"] in ("error", "critical")] == []
    assert caplog.records == []


def llhttp_messages(data: bytes) -> tuple[list[Message], bool, bool]:
    """What llhttp reads from ``data``: the complete messages, whether it refused the bytes, and
    whether they end inside a message."""
    messages: list[Message] = []

    class Callbacks:
        url, body, open = b"", b"", False

        def on_message_begin(self) -> None:
            self.url, self.body, self.open = b"", b"", True

        def on_url(self, url: bytes) -> None:
            self.url += url

        def on_body(self, body: bytes) -> None:
            self.body += body

        def on_message_complete(self) -> None:
            target = self.url.decode("utf-8", "surrogateescape")
            messages.append((parser.get_method().decode(), target, self.body.hex()))
            self.open = False

    callbacks = Callbacks()
    parser = httptools.HttpRequestParser(callbacks)
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        return messages, True, False
    except httptools.HttpParserError:
        return messages, True, False
    return messages, False, callbacks.open


async def echo(request: web.BaseRequest) -> web.StreamResponse:
    body = await request.read()
    return web.json_response({"method": request.method, "target": request.raw_path, "body": body.hex()})


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    listener = Listener(Routes([], fallback=echo, max_body=1 << 20), max_connections=64, receive_timeout_s=5)
    await listener.start("127.0.0.1", 0)
    yield listener.port
    await listener.shutdown(0)


async def listener_messages(port: int, data: bytes, expected: int, wait_for_more: bool) -> tuple[list[Message], bool]:
    """What the listener reads from ``data`` (the echoed messages, in order) and whether it then refused
    (an answer other than an echo, or a close). Stops after ``expected`` echoes unless ``wait_for_more``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    messages: list[Message] = []
    try:
        writer.write(data)
        while True:
            timeout = 0.1 if len(messages) >= expected and not wait_for_more else 5.0
            try:
                status, _, body = await read_response(reader, timeout=timeout)
            except (asyncio.IncompleteReadError, ConnectionError):
                return messages, True
            except TimeoutError:
                return messages, False
            if status != 200:
                return messages, True
            echoed = orjson.loads(body)
            messages.append((echoed["method"], echoed["target"], echoed["body"]))
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.mark.parametrize(("name", "data"), corpus(), ids=[name for name, _ in corpus()])
async def test_the_listener_reads_no_message_llhttp_does_not(echo_port: int, name: str, data: bytes) -> None:
    """The listener reads the same messages as llhttp, in order, or fewer and then refuses the rest:
    never a message llhttp did not read (a request smuggled past a front proxy that reads like llhttp)."""
    expected, refused, open_message = llhttp_messages(data)
    read, listener_refused = await listener_messages(echo_port, data, len(expected), refused or open_message)
    assert read == expected[: len(read)], f"{name}: the listener read {read}, llhttp {expected}"
    if len(read) < len(expected):
        assert listener_refused, f"{name}: the listener stopped after {len(read)} of {len(expected)} without refusing"


@pytest.mark.parametrize("port_name", ["app", "health"])
async def test_a_target_aiohttp_cannot_read_as_a_url_is_not_quoted_back(
    ports: tuple[RunningSidecar, dict[str, int]], port_name: str
) -> None:
    """``CONNECT sk-...:443?key=...``: aiohttp's reason for a target it cannot read as a URL is the target
    itself, and the sidecar's 400 (and its ``bad_request`` line, which logs the same reason) quoted it up
    to its first ':' (``malformed HTTP request: sk-PLANTED-target``). Now: ``invalid request target``."""
    running, port = ports[0], ports[1][port_name]
    status, body = await exchange(port, b"CONNECT sk-PLANTED-target:443?key=x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400
    assert orjson.loads(body)["error"]["message"] == "malformed HTTP request: invalid request target"
    assert b"PLANTED" not in running.logs.getvalue()
