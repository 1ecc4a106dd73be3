"""The HTTP/1.1 listener over real sockets: keep-alive, pipelining, framing, refusals, disconnects, drain."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest

from sidecar.http1.messages import Request, Response, StreamResponse
from sidecar.http1.request_parser import BadRequest
from sidecar.http1.server import HTTPServer


@dataclass
class Probe:
    """What the test handler saw and lets the test control."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    stream_progress: int = 0
    stream_error: BaseException | None = None


def make_handler(probe: Probe):  # type: ignore[no-untyped-def]
    async def handler(request: Request) -> Response | StreamResponse:
        path = request.path
        if path == "/slow":
            probe.started.set()
            try:
                await probe.release.wait()
            except asyncio.CancelledError:
                probe.cancelled.set()
                raise
        if path == "/boom":
            raise RuntimeError("secret internals")
        if path == "/badheader":
            return Response(text="x", headers={"x-evil": "a\r\nset-cookie: injected"})
        if path == "/stream":
            stream = StreamResponse(headers={"content-type": "text/event-stream"})
            await stream.prepare(request)
            for part in (b"data: 1\n\n", b"data: 2\n\n"):
                await stream.write(part)
            await stream.write_eof()
            return stream
        if path == "/stream-then-fail":
            stream = StreamResponse()
            await stream.prepare(request)
            await stream.write(b"data: 1\n\n")
            raise RuntimeError("failed mid-stream")
        if path == "/flood":
            stream = StreamResponse()
            await stream.prepare(request)
            probe.started.set()
            try:
                for _ in range(4000):
                    await stream.write(b"x" * 16384)
                    probe.stream_progress += 1
            except BaseException as exc:
                probe.stream_error = exc
                raise
            return stream
        try:
            body = await request.read()
        except Exception as exc:
            return Response(status=413, text=type(exc).__name__)
        data = {"method": request.method, "path": path, "query": dict(request.query), "body": body.decode()}
        return Response(body=orjson.dumps(data), content_type="application/json")

    return handler


def refuse(error: BadRequest) -> Response:
    return Response(status=error.status, text=f"refused: {error.message}")


class Served:
    """A listener with the test handler, and raw client connections to it closed when the test ends."""

    def __init__(self, server: HTTPServer, probe: Probe) -> None:
        self.server = server
        self.probe = probe
        self.writers: list[asyncio.StreamWriter] = []

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        self.writers.append(writer)
        return reader, writer


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    probe = Probe()
    server = HTTPServer(
        make_handler(probe), on_bad_request=refuse, max_body=1000, keepalive_s=0.3, receive_timeout_s=0.3
    )
    await server.start("127.0.0.1", 0)
    running = Served(server, probe)
    yield running
    probe.release.set()
    await server.shutdown(1)
    for writer in running.writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names), body (Content-Length or chunked, decoded)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if not size:
                break
            body += chunk[:-2]
        return status, headers, body
    return status, headers, await reader.readexactly(int(headers["content-length"]))


def post(path: str, body: bytes, extra: str = "") -> bytes:
    return f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def test_requests_on_one_kept_alive_connection_are_answered_in_turn(served: Served) -> None:
    """Two requests one after the other on one connection both get answers; the connection stays open."""
    reader, writer = await served.connect()
    for n in range(2):
        writer.write(post("/echo", b"%d" % n))
        status, headers, body = await read_response(reader)
        assert (status, orjson.loads(body)["body"]) == (200, str(n))
        assert "connection" not in headers and headers["date"] and headers["server"] == "llm-sidecar"


async def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    """Three requests sent in one write get three answers in the order sent."""
    reader, writer = await served.connect()
    writer.write(post("/a", b"1") + post("/b", b"22") + b"GET /c?x=1 HTTP/1.1\r\nhost: x\r\n\r\n")
    answers = [orjson.loads((await read_response(reader))[2]) for _ in range(3)]
    assert [(a["method"], a["path"], a["body"]) for a in answers] == [
        ("POST", "/a", "1"),
        ("POST", "/b", "22"),
        ("GET", "/c", ""),
    ]
    assert answers[2]["query"] == {"x": "1"}


async def test_http10_and_connection_close_end_the_connection(served: Served) -> None:
    """An HTTP/1.0 request, or Connection: close, is answered with Connection: close and then EOF."""
    for request in (b"GET /x HTTP/1.0\r\n\r\n", b"GET /x HTTP/1.1\r\nconnection: close\r\n\r\n"):
        reader, writer = await served.connect()
        writer.write(request)
        status, headers, _ = await read_response(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_expect_100_continue_is_answered_before_the_body(served: Served) -> None:
    """A client that waits for 100 Continue gets it, sends the body, and gets the answer."""
    reader, writer = await served.connect()
    writer.write(b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nexpect: 100-continue\r\n\r\n")
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"ok")
    assert orjson.loads((await read_response(reader))[2])["body"] == "ok"


async def test_a_chunked_request_body_reaches_the_handler_whole(served: Served) -> None:
    """A chunked upload sent in pieces is given to the handler reassembled."""
    reader, writer = await served.connect()
    writer.write(b"POST /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
    await asyncio.sleep(0.02)
    writer.write(b"2\r\nde\r\n0\r\n\r\n")
    assert orjson.loads((await read_response(reader))[2])["body"] == "abcde"


async def test_a_malformed_request_gets_the_hooks_answer_and_the_connection_closes(
    served: Served,
) -> None:
    """Garbage gets on_bad_request's answer with its status, Connection: close, then EOF."""
    reader, writer = await served.connect()
    writer.write(b"POST /x HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert (status, headers["connection"]) == (400, "close")
    assert body.startswith(b"refused: both Transfer-Encoding and Content-Length")
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_a_body_over_the_limit_is_answered_while_the_client_still_sends(
    served: Served,
) -> None:
    """The handler answers an over-limit body at once; the client reads it even while sending the rest."""
    reader, writer = await served.connect()
    writer.write(b"POST /big HTTP/1.1\r\nhost: x\r\ncontent-length: 200000\r\n\r\n" + b"a" * 50000)
    status, headers, body = await read_response(reader)
    assert (status, body, headers["connection"]) == (413, b"BodyTooLarge", "close")
    writer.write(b"a" * 150000)  # the rest is read away, not answered with a reset
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_a_client_that_disconnects_cancels_its_handler(served: Served) -> None:
    """Closing the connection mid-request cancels the handler's task (and so its upstream call)."""
    probe = served.probe
    _reader, writer = await served.connect()
    writer.write(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 5)
    writer.close()
    await asyncio.wait_for(probe.cancelled.wait(), 5)


async def test_a_handler_exception_is_a_plain_500_without_details(served: Served) -> None:
    """An exception escaping the handler becomes a 500 that names nothing of it; the connection survives."""
    reader, writer = await served.connect()
    writer.write(b"GET /boom HTTP/1.1\r\nhost: x\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 500 and b"secret" not in body and b"Traceback" not in body
    writer.write(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")
    assert (await read_response(reader))[0] == 200


async def test_a_header_value_with_a_line_break_never_splits_the_head(served: Served) -> None:
    """A response header holding CR LF is not sent: the caller gets a bare 500 and no injected field."""
    reader, writer = await served.connect()
    writer.write(b"GET /badheader HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers, _ = await read_response(reader)
    assert status == 500 and "set-cookie" not in headers


async def test_a_stream_is_sent_chunked_and_ended(served: Served) -> None:
    """A StreamResponse goes out with chunked framing, each write a chunk, ended by the last chunk."""
    reader, writer = await served.connect()
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", b"data: 1\n\ndata: 2\n\n")
    writer.write(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")  # and the connection is reusable after it
    assert (await read_response(reader))[0] == 200


async def test_a_handler_failing_after_its_stream_began_cuts_the_stream(served: Served) -> None:
    """When the handler fails after its stream's head went out, the connection closes before the last
    chunk: the caller sees a broken stream, not a 500 written into the middle of it."""
    reader, writer = await served.connect()
    writer.write(b"GET /stream-then-fail HTTP/1.1\r\nhost: x\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.startswith(b"HTTP/1.1 200 OK") and data.endswith(b"\r\n\r\n9\r\ndata: 1\n\n\r\n")
    assert b"500" not in data


async def test_a_stream_to_an_http10_client_is_delimited_by_the_close(served: Served) -> None:
    """HTTP/1.0 has no chunked framing: the stream's bytes come raw and the connection closes after."""
    reader, writer = await served.connect()
    writer.write(b"GET /stream HTTP/1.0\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    assert data.endswith(b"\r\n\r\ndata: 1\n\ndata: 2\n\n") and b"connection: close" in data


async def test_a_stream_writer_waits_for_a_slow_reader(served: Served) -> None:
    """Writes to a client that does not read wait once the socket's buffers are full (no unbounded queue)."""
    probe = served.probe
    _reader, writer = await served.connect()
    writer.write(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 5)
    await asyncio.sleep(0.3)
    assert 0 < probe.stream_progress < 4000  # 64 MB were asked for; it stopped at what the buffers hold
    writer.close()
    for _ in range(100):
        if probe.stream_error is not None:
            break
        await asyncio.sleep(0.02)
    assert isinstance(probe.stream_error, ConnectionError | asyncio.CancelledError)


async def test_head_is_answered_without_a_body(served: Served) -> None:
    """A HEAD request gets the GET answer's status and length, and no body bytes."""
    reader, writer = await served.connect()
    writer.write(b"HEAD /x HTTP/1.1\r\nhost: x\r\n\r\nGET /y HTTP/1.1\r\nhost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200 OK") and b"content-length: " in head
    _, _, body = await read_response(reader)  # the next bytes are the second answer, not a body
    assert orjson.loads(body)["path"] == "/y"


async def test_idle_and_slowly_arriving_requests_are_closed(served: Served) -> None:
    """A kept-alive connection idle past keepalive_s, and ones sending a head or a body too slowly,
    are closed."""
    idle_reader, idle_writer = await served.connect()
    idle_writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n")
    await read_response(idle_reader)
    slow_head_reader, slow_head_writer = await served.connect()
    slow_head_writer.write(b"GET /x HTTP/1.1\r\nhost:")
    slow_body_reader, slow_body_writer = await served.connect()
    slow_body_writer.write(b"POST /x HTTP/1.1\r\ncontent-length: 10\r\n\r\n12345")
    for reader in (idle_reader, slow_head_reader, slow_body_reader):
        assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_shutdown_finishes_requests_in_flight_and_closes_idle_connections(
    served: Served,
) -> None:
    """On shutdown idle connections close at once, new ones are refused, and a request in flight is
    answered (with Connection: close) before the listener returns."""
    probe = served.probe
    server, port = served.server, served.server.port
    idle_reader, _ = await served.connect()
    busy_reader, busy_writer = await served.connect()
    busy_writer.write(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 5)
    stopping = asyncio.create_task(server.shutdown(5))
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    probe.release.set()
    status, headers, _ = await read_response(busy_reader)
    assert (status, headers["connection"]) == (200, "close")
    await asyncio.wait_for(stopping, 5)


async def test_shutdown_cuts_what_outlives_the_drain_time(served: Served) -> None:
    """A request still running when the drain time is up is cancelled and its connection aborted."""
    probe = served.probe
    reader, writer = await served.connect()
    writer.write(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 5)
    await asyncio.wait_for(served.server.shutdown(0.1), 5)
    await asyncio.wait_for(probe.cancelled.wait(), 5)
    with contextlib.suppress(ConnectionError):
        assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_garbage_on_many_connections_leaves_the_listener_serving(served: Served) -> None:
    """Noise, cut requests and protocol mix-ups (TLS, HTTP/2) on many connections get refusals or
    closes; the listener then answers a normal request."""
    rng = random.Random(7)
    noises = [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nab",  # a body cut short
        b"\r\n" * 100,
        *(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))) for _ in range(20)),
    ]
    for noise in noises:
        reader, writer = await served.connect()
        writer.write(noise)
        writer.write_eof()
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(reader.read(), 5)
    reader, writer = await served.connect()
    writer.write(b"GET /after HTTP/1.1\r\nhost: x\r\n\r\n")
    assert orjson.loads((await read_response(reader))[2])["path"] == "/after"
