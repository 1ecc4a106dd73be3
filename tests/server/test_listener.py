"""The listener over real sockets: keep-alive, pipelining, framing, refusals, disconnects, caps, timeouts, drain.

A ``Listener`` serving a small test application (``served``, tests/server/served_listener.py) on 127.0.0.1;
every test talks to it with raw bytes. The sidecar's own settings reaching it are checked at the end, on
a running sidecar.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import orjson
import pytest

from sidecar.server.listener import MAX_FIELDS, MAX_HEAD_BYTES

from ..conftest import FakeFactory, SidecarFactory, provider_block
from ..waiting import until
from .raw import close, read_response
from .served_listener import Served, post


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
    """An HTTP/1.0 request, or Connection: close, gets its answer and then EOF."""
    for request in (b"GET /x HTTP/1.0\r\n\r\n", b"GET /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"):
        reader, _ = await served.connect()
        served.writers[-1].write(request)
        assert (await read_response(reader))[0] == 200
        assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_a_chunked_request_body_reaches_the_handler_whole(served: Served) -> None:
    """A chunked upload sent in pieces is given to the handler reassembled."""
    reader, writer = await served.connect()
    writer.write(b"POST /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n")
    await asyncio.sleep(0.02)
    writer.write(b"2\r\nde\r\n0\r\n\r\n")
    assert orjson.loads((await read_response(reader))[2])["body"] == "abcde"


async def test_a_request_the_parser_refuses_is_a_json_400_and_the_connection_closes(served: Served) -> None:
    """Both Content-Length and Transfer-Encoding: a JSON 400 naming llhttp's reason, then EOF."""
    reader, writer = await served.connect()
    writer.write(b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 400
    assert orjson.loads(body)["error"]["message"] == (
        "malformed HTTP request: Transfer-Encoding can't be present with Content-Length"
    )
    assert await asyncio.wait_for(reader.read(), 5) == b""


@pytest.mark.parametrize("served", [30.0], indirect=True, ids=["receive-timeout-30s"])
@pytest.mark.parametrize("pause", [True, False], ids=["later-packet", "same-packet"])
async def test_a_body_whose_framing_breaks_midway_closes_the_connection(served: Served, pause: bool) -> None:
    """A chunked body followed by an invalid chunk size: the connection closes at once, after a 400 when
    the parser refused the request before its handler started (aiohttp alone leaves a started handler
    waiting for the rest of the body until the client goes away)."""
    reader, writer = await served.connect()
    writer.write(b"POST /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n1\r\n{\r\n")
    if pause:
        await asyncio.sleep(0.05)
    writer.write(b"zz\r\nabc\r\n")
    data = await asyncio.wait_for(reader.read(), 10)  # closed at once, not by the receive timeout (30 s)
    assert data == b"" or data.startswith(b"HTTP/1.0 400 ")


async def test_an_http11_request_without_host_is_refused(served: Served) -> None:
    """RFC 9112 3.2: an HTTP/1.1 request without a Host field is answered 400."""
    reader, writer = await served.connect()
    writer.write(b"GET /x HTTP/1.1\r\n\r\n")
    assert (await read_response(reader))[0] == 400


async def test_a_body_over_the_limit_is_answered_while_the_client_still_sends(served: Served) -> None:
    """The handler answers an over-limit body; the client reads it even while sending the rest."""
    reader, writer = await served.connect()
    writer.write(b"POST /big HTTP/1.1\r\nhost: x\r\ncontent-length: 200000\r\n\r\n" + b"a" * 50000)
    status, _, body = await read_response(reader)
    assert (status, body) == (413, b"too large")
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


async def test_a_handler_exception_is_a_json_500_without_details(served: Served) -> None:
    """An exception escaping a handler becomes a 500 that names nothing of it, then the connection closes."""
    reader, writer = await served.connect()
    writer.write(b"GET /boom HTTP/1.1\r\nhost: x\r\n\r\n")
    status, _, body = await read_response(reader)
    assert status == 500 and b"secret" not in body and b"Traceback" not in body
    assert orjson.loads(body)["error"]["code"] == "internal_error"


async def test_a_stream_is_sent_chunked_and_ended(served: Served) -> None:
    """A StreamResponse goes out with chunked framing, ended by the last chunk; the connection is reusable."""
    reader, writer = await served.connect()
    writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers, body = await read_response(reader)
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", b"data: 1\n\ndata: 2\n\n")
    writer.write(b"GET /ok HTTP/1.1\r\nhost: x\r\n\r\n")
    assert (await read_response(reader))[0] == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n",
        b"GET /boom HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n",
        b"GET /%ff HTTP/1.1\r\nhost: x\r\n\r\n",
    ],
    ids=["handler-stream", "handler-error", "parser-refusal", "target-refusal"],
)
async def test_every_answer_names_the_sidecar_as_server(served: Served, request_bytes: bytes) -> None:
    """A stream its handler began, a handler's failure and the listener's refusals all say
    ``Server: llm-sidecar`` (never aiohttp's, which names its version)."""
    reader, writer = await served.connect()
    writer.write(request_bytes)
    assert (await read_response(reader))[1]["server"] == "llm-sidecar"


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
    assert data.endswith(b"\r\n\r\ndata: 1\n\ndata: 2\n\n") and b"Transfer-Encoding" not in data


async def test_a_stream_writer_waits_for_a_slow_reader(served: Served) -> None:
    """Writes to a client that does not read wait once the socket's buffers are full (no unbounded queue)."""
    probe = served.probe
    _reader, writer = await served.connect()
    writer.write(b"GET /flood HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 30)
    [connection] = served.listener.connections
    await until(lambda: connection.writing_paused)  # the buffers are full: the handler's write waits
    assert 0 < probe.stream_progress < 4000  # 64 MB were asked for; it stopped at what the buffers hold
    writer.close()
    for _ in range(100):
        if probe.stream_error is not None:
            break
        await asyncio.sleep(0.02)
    assert isinstance(probe.stream_error, ConnectionError | asyncio.CancelledError)


async def test_an_idle_connection_is_closed_after_keepalive_s(served: Served) -> None:
    """A kept-alive connection with nothing to do is closed once keepalive_s (2 s) has passed."""
    reader, writer = await served.connect()
    writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n")
    await read_response(reader)
    assert await asyncio.wait_for(reader.read(), 5) == b""


@pytest.mark.parametrize(
    "partial",
    [b"GET /x HTTP/1.1\r\nhost:", b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n12345"],
    ids=["head", "body"],
)
async def test_a_request_arriving_too_slowly_is_closed(served: Served, partial: bytes) -> None:
    """A head or a body still incomplete receive_timeout_s (0.3 s) after its first byte: connection closed."""
    reader, writer = await served.connect()
    writer.write(partial)
    assert await asyncio.wait_for(reader.read(), 5) == b""


@pytest.mark.parametrize("served", [30.0], indirect=True, ids=["receive-timeout-30s"])
async def test_a_head_over_the_limit_closes_the_connection(served: Served) -> None:
    """A head still arriving past MAX_HEAD_BYTES (fields each under aiohttp's line limit) is not held."""
    reader, writer = await served.connect()
    fields = b"".join(b"x-pad-%d: %s\r\n" % (i, b"a" * 4000) for i in range(MAX_HEAD_BYTES // 4000 + 1))
    writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\n" + fields)
    assert await asyncio.wait_for(reader.read(), 10) == b""  # at once, not by the receive timeout (30 s)


async def test_a_header_field_over_the_line_limit_is_431(served: Served) -> None:
    """One header field over 8190 bytes: 431, then the connection closes."""
    reader, writer = await served.connect()
    writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 9000 + b"\r\n\r\n")
    assert (await read_response(reader))[0] == 431
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_more_header_fields_than_the_limit_is_400(served: Served) -> None:
    """A head with more than MAX_FIELDS (100) fields, each small: 400, then the connection closes."""
    reader, writer = await served.connect()
    fields = b"".join(b"x-%d: v\r\n" % i for i in range(MAX_FIELDS + 1))
    writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\n" + fields + b"\r\n")
    assert (await read_response(reader))[0] == 400
    assert await asyncio.wait_for(reader.read(), 5) == b""


async def test_connections_past_the_cap_are_closed_and_the_listener_recovers(served: Served) -> None:
    """With max_connections 8, a ninth connection is closed at once; once one closes, a new one is served."""
    held = [await served.connect() for _ in range(8)]
    await until(lambda: len(served.listener.connections) == 8)  # each accepted and counted
    reader, writer = await served.connect()
    writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n")
    with contextlib.suppress(ConnectionError):
        assert await asyncio.wait_for(reader.read(), 5) == b""
    await close(held[0][1])
    await until(lambda: len(served.listener.connections) == 7)  # the listener saw it close
    reader, writer = await served.connect()
    writer.write(b"GET /after HTTP/1.1\r\nhost: x\r\n\r\n")
    assert orjson.loads((await read_response(reader))[2])["path"] == "/after"


async def test_a_burst_of_connections_never_takes_the_listener_past_its_cap(served: Served) -> None:
    """Fifty connections opened at once (accepted in one go by the event loop): at most max_connections
    (8) of them are held."""
    opened = await asyncio.gather(*(served.connect() for _ in range(50)), return_exceptions=True)
    readers = [item[0] for item in opened if not isinstance(item, BaseException)]
    assert len(readers) == 50
    # All 50 were accepted once the listener closed the 42 past its cap (each of those readers saw EOF).
    await until(lambda: sum(reader.at_eof() for reader in readers), lambda closed: closed == 42)
    assert len(served.listener.connections) == 8


async def test_shutdown_finishes_requests_in_flight_and_closes_idle_connections(served: Served) -> None:
    """On shutdown idle connections close at once, new ones are refused, and a request in flight is
    answered (with Connection: close) before the listener returns."""
    probe = served.probe
    listener, port = served.listener, served.listener.port
    idle_reader, _ = await served.connect()
    busy_reader, busy_writer = await served.connect()
    busy_writer.write(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 5)
    stopping = asyncio.create_task(listener.shutdown(5))
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    probe.release.set()
    status, headers, _ = await read_response(busy_reader)
    assert (status, headers["connection"]) == (200, "close")
    await asyncio.wait_for(stopping, 5)


async def test_shutdown_cuts_what_outlives_the_drain_time(served: Served) -> None:
    """A request still running when the drain time is up is cancelled and its connection closed."""
    probe = served.probe
    reader, writer = await served.connect()
    writer.write(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.wait_for(probe.started.wait(), 5)
    await asyncio.wait_for(served.listener.shutdown(0.1), 5)
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
        writer.close()
    reader, writer = await served.connect()
    writer.write(b"GET /after HTTP/1.1\r\nhost: x\r\n\r\n")
    assert orjson.loads((await read_response(reader))[2])["path"] == "/after"


def sidecar_policy(url: str) -> str:
    return "version: 1\nproviders:\n" + provider_block("up", url) + "models:\n  m: {provider: up, model: m}\n"


async def test_the_sidecar_closes_idle_app_connections_after_its_keepalive_setting(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """SIDECAR_KEEPALIVE_S reaches the app port: with keepalive_s 0.2 an idle connection is closed."""
    running = await sidecar(sidecar_policy(await fake()), keepalive_s=0.2)
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    assert (await read_response(reader))[2] == b"ok\n"
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_the_sidecar_closes_a_stalled_request_after_its_receive_timeout(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """SIDECAR_RECEIVE_TIMEOUT_S reaches the app port: a body that stops arriving has its connection closed."""
    running = await sidecar(sidecar_policy(await fake()), receive_timeout_s=0.2)
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
