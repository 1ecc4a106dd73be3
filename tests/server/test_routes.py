"""The path table (``Routes``) on a real listener: ``Expect: 100-continue``, HEAD on a GET route, an answer
begun for its handler, the checks of a parsed request (its target, its HTTP version), and which handler a
method and path go to.

The application is tests/server/served_listener.py's (``served``, raw bytes on 127.0.0.1) or a running
sidecar's ports (``ports``); the table's lookups are plain calls.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp import web

from sidecar.server.routes import Routes

from ..conftest import RunningSidecar
from .raw import close, read_response
from .served_listener import Served, exchange


async def test_expect_100_continue_is_answered_before_the_body(served: Served) -> None:
    """A client that waits for 100 Continue gets it, sends the body, and gets the answer."""
    reader, writer = await served.connect()
    writer.write(b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n")
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"ok")
    assert orjson.loads((await read_response(reader))[2])["body"] == "ok"


async def test_expect_100_continue_over_the_body_limit_is_413_without_the_100(served: Served) -> None:
    """An announced body over the limit gets 413 at once, never 100 Continue, and the connection closes."""
    reader, writer = await served.connect()
    writer.write(b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\nexpect: 100-continue\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert (status, headers["connection"]) == (413, "close") and b"body_too_large" in body


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"POST /v1/nothing-here HTTP/1.1", 404),  # a path not served
        (b"PUT /v1/chat/completions HTTP/1.1", 405),  # a method the path refuses
        (b"GET /healthz HTTP/1.1", 200),  # a handler that reads no body
    ],
)
async def test_expect_100_continue_refused_before_the_body_gets_the_final_status_without_the_100(
    ports: tuple[RunningSidecar, dict[str, int]], head: bytes, status: int
) -> None:
    """A request answered without reading its body gets its final status, never ``100 Continue`` (RFC 9110
    10.1.1: its client does not send the body), and the connection closes: the body may never come."""
    reader, writer = await asyncio.open_connection("127.0.0.1", ports[1]["app"])
    try:
        writer.write(head + b"\r\nHost: x\r\ncontent-length: 20\r\nexpect: 100-continue\r\n\r\n")
        answered, headers, _ = await read_response(reader)
        assert (answered, headers.get("connection")) == (status, "close")
    finally:
        await close(writer)


async def test_a_header_value_with_a_line_break_never_splits_the_head(served: Served) -> None:
    """A response header holding CR LF is not sent: the caller gets a 500 and no injected field."""
    reader, writer = await served.connect()
    writer.write(b"GET /badheader HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers, _ = await read_response(reader)
    assert status == 500 and "set-cookie" not in headers


async def test_head_is_answered_without_a_body(served: Served) -> None:
    """A HEAD request gets the GET answer's status and length, and no body bytes."""
    reader, writer = await served.connect()
    writer.write(b"HEAD /x HTTP/1.1\r\nhost: x\r\n\r\nGET /y HTTP/1.1\r\nhost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: " in head
    _, _, body = await read_response(reader)  # the next bytes are the second answer, not a body
    assert orjson.loads(body)["path"] == "/y"


@pytest.mark.parametrize(
    ("target", "shape"),
    [(b"/v1/messages%ff", "anthropic"), (b"/v1beta/models/g%ff:generateContent", "gemini"), (b"/v1/x%ff", "openai")],
)
async def test_an_undecodable_target_is_400_in_the_dialect_of_its_path(
    ports: tuple[RunningSidecar, dict[str, int]], target: bytes, shape: str
) -> None:
    """A target that does not percent-decode to UTF-8 is refused in the error shape its path suggests."""
    status, body = await exchange(ports[1]["app"], b"POST " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    error = orjson.loads(body)
    assert status == 400
    assert {"anthropic": error.get("type") == "error", "gemini": error["error"].get("status") == "INVALID_ARGUMENT",
            "openai": error["error"].get("code") == "invalid_request"}[shape]  # fmt: skip


async def test_an_http_version_other_than_1_0_and_1_1_is_505(ports: tuple[RunningSidecar, dict[str, int]]) -> None:
    """llhttp reads ``HTTP/2.0`` in a request line; the listener answers 505 and closes."""
    status, _ = await exchange(ports[1]["app"], b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
    assert status == 505


@pytest.mark.parametrize("line", [b"GET /v1/models HTTP/2.0\r\nHost: x\r\n\r\n", b"GET /v1/models\r\n\r\n"])
async def test_the_505_answer_says_http_1_1_in_its_status_line(
    ports: tuple[RunningSidecar, dict[str, int]], line: bytes
) -> None:
    """The 505 to an ``HTTP/2.0`` request line, or to one with no version (HTTP/0.9), is written in the
    version the sidecar serves (RFC 9112 2.3), not in the one it refuses."""
    reader, writer = await asyncio.open_connection("127.0.0.1", ports[1]["app"])
    try:
        writer.write(line)
        status_line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 505 ")


async def _first(request: web.BaseRequest) -> web.StreamResponse:
    return web.Response(text="first")


async def _second(request: web.BaseRequest) -> web.StreamResponse:
    return web.Response(text="second")


async def _fallback(request: web.BaseRequest) -> web.StreamResponse:
    return web.Response(status=404)


def test_a_templated_part_matches_exactly_one_path_segment() -> None:
    """``{model}`` stands for one segment: a path with a slash in its place goes to the fallback."""
    routes = Routes([("POST", "/v1beta/models/{model}:generateContent", _first)], fallback=_fallback, max_body=1)
    assert routes.handler("POST", "/v1beta/models/gemini-2.5:generateContent") is _first
    assert routes.handler("POST", "/v1beta/models/a/b:generateContent") is _fallback


def test_another_method_on_a_routed_path_goes_to_the_405_and_an_unrouted_path_to_the_fallback() -> None:
    """A path routed for other methods only goes to ``method_not_allowed`` (its ``allowed`` methods, a GET
    route's HEAD included, in the table's order); a path no route matches goes to the fallback."""
    routes = Routes(
        [("GET", "/x", _first), ("POST", "/x", _second), ("POST", "/t/{a}", _first)], fallback=_fallback, max_body=1
    )
    assert routes.handler("DELETE", "/x") == routes.method_not_allowed
    assert routes.allowed("/x") == ["GET", "HEAD", "POST"]
    assert routes.handler("GET", "/t/1") == routes.method_not_allowed and routes.allowed("/t/1") == ["POST"]
    assert routes.handler("GET", "/t/1/2") is _fallback and routes.allowed("/t/1/2") == []


def test_the_first_route_of_a_method_and_path_wins() -> None:
    """Two routes on one method and path, exact or templated: the one listed first handles it."""
    routes = Routes(
        [("GET", "/x", _first), ("GET", "/x", _second), ("GET", "/t/{a}", _first), ("GET", "/t/{b}", _second)],
        fallback=_fallback,
        max_body=1,
    )
    assert (routes.handler("GET", "/x"), routes.handler("GET", "/t/1")) == (_first, _first)
