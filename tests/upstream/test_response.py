"""UpstreamResponse against hostile and broken raw upstreams: the head checked, the body bounded in size,
decompression and event-loop time, and a broken body never left waiting."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from collections.abc import Callable

import aiohttp
import pytest

from sidecar.policy.resilience_spec import TimeoutsSpec
from sidecar.upstream import MalformedResponse, UpstreamClient, UpstreamResponse

from ..upstream.raw import RawUpstream, ServerConn, UpstreamFactory, answering, response
from .conftest import TIMEOUTS, ClientFactory, provider, read, timeouts

BODY = b'{"model": "m"}'
MiB = 1024 * 1024


async def post(client: UpstreamClient, up: RawUpstream, timeouts: TimeoutsSpec | None = None) -> UpstreamResponse:
    return await client.post(provider(up.base), up.url, {}, BODY, timeouts or TIMEOUTS)


def head(lines: bytes) -> bytes:
    """A 200 with the header lines ``lines`` (CRLF-ended) and a two-byte body."""
    return b"HTTP/1.1 200 OK\r\n" + lines + b"content-length: 2\r\n\r\nok"


def gzipped(body: bytes) -> bytes:
    return response(gzip.compress(body), headers="content-encoding: gzip\r\n")


# -- the head -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [b"099", b"600", b"999"])
async def test_status_outside_100_to_599_is_malformed(
    raw_upstream: UpstreamFactory, client: UpstreamClient, status: bytes
) -> None:
    """A status line aiohttp parses but HTTP does not allow (099, 600) raises MalformedResponse."""
    up = await raw_upstream(answering(b"HTTP/1.1 " + status + b" Odd\r\ncontent-length: 2\r\n\r\nok"))
    with pytest.raises(MalformedResponse, match="outside 100-599"):
        await post(client, up)


@pytest.mark.parametrize("value", [b"a\x01b", b"a\x7fb", b"a\x1bb", b"a\x0bb"], ids=["SOH", "DEL", "ESC", "VT"])
async def test_control_character_in_a_header_value_is_malformed(
    raw_upstream: UpstreamFactory, client: UpstreamClient, value: bytes
) -> None:
    """A control character in a header value (RFC 9110 5.5), which aiohttp's lenient parser lets through,
    raises MalformedResponse naming the header."""
    up = await raw_upstream(answering(head(b"x-bad: " + value + b"\r\n")))
    with pytest.raises(MalformedResponse, match="'x-bad' holds a control character"):
        await post(client, up)


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nx-a: one\rtwo\r\n",
        b"HTTP/1.1 200 OK\r\nx-a: one\x00two\r\n",
        b"HTTP/1.1 200 OK\r\nx a: v\r\n",
        b"HTTP/1.1 200 OK\r\nx-a : v\r\n",
        b"HTTP/1.1 200 OK\r\nx\x00a: v\r\n",
    ],
    ids=["CR in a value", "NUL in a value", "space in a name", "space before the colon", "NUL in a name"],
)
async def test_invalid_header_bytes_are_refused_by_the_parser(
    raw_upstream: UpstreamFactory, client: UpstreamClient, head: bytes
) -> None:
    """CR or NUL in a value and spaces or NUL in a name are refused by aiohttp's parser (ClientResponseError)."""
    up = await raw_upstream(answering(head + b"content-length: 2\r\n\r\nok"))
    with pytest.raises(aiohttp.ClientResponseError):
        await post(client, up)


async def test_tab_and_non_ascii_in_values_are_accepted(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """HTAB and obs-text (bytes 0x80-0xFF) are allowed in a field value."""
    up = await raw_upstream(answering(head(b"x-a: a\tb\r\nx-b: caf\xc3\xa9\r\n")))
    resp = await post(client, up)
    assert resp.headers["x-a"] == "a\tb"
    resp.close()


# -- the body's size --------------------------------------------------------------------------------------


async def test_a_body_at_the_cap_is_read(raw_upstream: UpstreamFactory, make_client: ClientFactory) -> None:
    """A body of exactly upstream_max_body_bytes is read whole."""
    client = make_client(upstream_max_body_bytes=64 * 1024)
    up = await raw_upstream(answering(response(b"x" * 64 * 1024)))
    assert len(await read(client, up)) == 64 * 1024


async def test_a_body_over_the_cap_is_malformed(raw_upstream: UpstreamFactory, make_client: ClientFactory) -> None:
    """A body one byte over upstream_max_body_bytes raises MalformedResponse naming the setting."""
    client = make_client(upstream_max_body_bytes=64 * 1024)
    up = await raw_upstream(answering(response(b"x" * (64 * 1024 + 1))))
    with pytest.raises(MalformedResponse, match="SIDECAR_UPSTREAM_MAX_BODY_BYTES"):
        await read(client, up)


async def test_a_body_over_the_cap_that_came_with_the_head_is_malformed(
    raw_upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """A short body over upstream_max_body_bytes, arrived whole with the head (read at once from aiohttp's
    buffer), raises MalformedResponse too, and nothing of it is kept in ``received``."""
    client = make_client(upstream_max_body_bytes=1024)
    up = await raw_upstream(answering(response(b"x" * 1025)))
    resp = await post(client, up)
    with pytest.raises(MalformedResponse, match="over 1024 bytes"):
        await resp.read()
    assert resp.received == []
    resp.close()


async def test_a_decompression_bomb_stops_at_the_cap(raw_upstream: UpstreamFactory, make_client: ClientFactory) -> None:
    """64 MiB of zeros in a 64 KiB gzip body: read() stops at the cap (1 MiB) without inflating the rest."""
    client = make_client(upstream_max_body_bytes=MiB)
    up = await raw_upstream(answering(gzipped(bytes(64 * MiB))))
    with pytest.raises(MalformedResponse, match="over 1048576 bytes"):
        await read(client, up)


async def test_too_many_gzip_members_in_one_read_are_refused(
    raw_upstream: UpstreamFactory, client: UpstreamClient
) -> None:
    """100,000 empty gzip members (2 MB) fail as a corrupt coding instead of being walked one by one."""
    up = await raw_upstream(answering(response(gzip.compress(b"") * 100_000, headers="content-encoding: gzip\r\n")))
    with pytest.raises(aiohttp.ClientPayloadError) as caught:
        await read(client, up)
    assert isinstance(caught.value.__cause__, aiohttp.http_exceptions.ContentEncodingError)


async def test_a_large_body_hands_the_event_loop_back(
    raw_upstream: UpstreamFactory, make_client: ClientFactory
) -> None:
    """Inflating 16 MiB that arrived at once, read() lets other tasks run between its reads."""
    client = make_client(upstream_max_body_bytes=32 * MiB)
    up = await raw_upstream(answering(gzipped(bytes(16 * MiB))))
    resp = await post(client, up)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        assert len(await resp.read()) == 16 * MiB
    finally:
        task.cancel()
        resp.close()
    assert ticks >= 16  # at least once per MiB (aiohttp hands over up to 768 KiB per read here)


# -- content codings ----------------------------------------------------------------------------------------

TEXT = b"the quick brown fox jumps over the lazy dog " * 200


@pytest.mark.parametrize(("coding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)])
async def test_read_decodes_the_content_coding(
    raw_upstream: UpstreamFactory, client: UpstreamClient, coding: str, compress: Callable[[bytes], bytes]
) -> None:
    """read() returns the body with its gzip/deflate content coding removed."""
    up = await raw_upstream(answering(response(compress(TEXT), headers=f"content-encoding: {coding}\r\n")))
    assert await read(client, up) == TEXT


async def test_concatenated_gzip_members_are_all_decoded(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A gzip body of several members (RFC 1952) decodes to all of them, not only the first."""
    up = await raw_upstream(answering(response(gzip.compress(b"first,") + gzip.compress(b"second"),
                                               headers="content-encoding: gzip\r\n")))  # fmt: skip
    assert await read(client, up) == b"first,second"


async def test_corrupt_gzip_body_raises_payload_error(raw_upstream: UpstreamFactory, client: UpstreamClient) -> None:
    """A body that is not valid gzip raises ClientPayloadError caused by a ContentEncodingError."""
    up = await raw_upstream(answering(response(b"definitely not gzip", headers="content-encoding: gzip\r\n")))
    with pytest.raises(aiohttp.ClientPayloadError) as caught:
        await read(client, up)
    assert isinstance(caught.value.__cause__, aiohttp.http_exceptions.ContentEncodingError)


# -- a broken body never waits ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "later",
    [b"zz\r\n", b"2\r\nabcd\r\n", b"2;a\x00b\r\nab\r\n0\r\n\r\n"],
    ids=["bad chunk size", "chunk longer than announced", "NUL in a chunk extension"],
)
async def test_bad_framing_after_the_head_ends_the_body_at_once(
    raw_upstream: UpstreamFactory, client: UpstreamClient, later: bytes
) -> None:
    """Framing that breaks after the head (aiohttp's C parser closes the connection without ending the
    body's reader) raises MalformedResponse at once, not at the idle or total timeout."""

    async def handler(conn: ServerConn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        await asyncio.sleep(0.02)
        await conn.send(later)
        await conn.wait_closed_by_client()

    up = await raw_upstream(handler)
    resp = await post(client, up, timeouts(idle_s=30, total_s=30))
    started = time.monotonic()
    try:
        with pytest.raises(MalformedResponse, match=r"broke HTTP/1\.1"):
            async with asyncio.timeout(5):
                await resp.read()
    finally:
        resp.close()
    assert time.monotonic() - started < 1
