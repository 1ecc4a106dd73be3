"""The sans-I/O response parser: framing, interim heads, keep-alive, limits, and split-point invariance."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.http1.errors import UpstreamProtocolError
from sidecar.http1.parser import MAX_HEAD_BYTES, MAX_LINE, ResponseParser


@dataclass(frozen=True)
class Parsed:
    status: int | None
    reason: str | None
    headers: list[tuple[str, str]]
    body: bytes
    done: bool
    keep_alive: bool


def parse(pieces: list[bytes], *, eof: bool = False, no_body: bool = False) -> Parsed:
    parser = ResponseParser(no_body=no_body)
    for piece in pieces:
        parser.feed(piece)
    if eof:
        parser.feed_eof()
    head = parser.head
    return Parsed(
        head.status if head else None,
        head.reason if head else None,
        list(head.headers.items()) if head else [],
        b"".join(parser.body),
        parser.done,
        parser.keep_alive,
    )


def whole(data: bytes, **kwargs: bool) -> Parsed:
    return parse([data], **kwargs)


def split(data: bytes, points: list[int]) -> list[bytes]:
    cuts = [0, *sorted(set(points)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


# -- the property: any split of a valid response parses like the whole -----------------------------------

_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=12)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30)
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class Message:
    data: bytes
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    framing: str
    keep_alive: bool


@st.composite
def messages(draw: st.DrawFn) -> Message:
    status = draw(st.integers(200, 599).filter(lambda s: s not in (204, 304)))
    reason = draw(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghij", max_size=20))
    headers = draw(st.lists(st.tuples(_TOKEN.filter(lambda n: n.lower() not in _FRAMING_HEADERS), _VALUE), max_size=6))
    body = draw(st.binary(max_size=3000))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    connection = draw(st.sampled_from([None, "close", "keep-alive"]))
    interim = draw(
        st.lists(st.sampled_from([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 103 Early\r\nlink: x\r\n\r\n"]))
    )

    lines = [f"HTTP/1.1 {status} {reason}" if reason else f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if connection is not None:
        lines.append(f"connection: {connection}")
    if framing == "length":
        lines.append(f"content-length: {len(body)}")
        payload = body
    elif framing == "chunked":
        lines.append("transfer-encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 700), max_size=8))
        payload = b""
        rest = body
        for size in [*sizes, len(rest)]:
            piece, rest = rest[:size], rest[size:]
            if piece:
                extension = draw(st.sampled_from(["", ";ext", ';name="value"']))
                payload += f"{len(piece):X}{extension}\r\n".encode() + piece + b"\r\n"
        trailers = draw(st.lists(st.tuples(_TOKEN, _VALUE), max_size=2))
        payload += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
    else:
        payload = body
    data = b"".join(interim) + ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
    all_headers = [(name, value) for name, value in headers]
    if connection is not None:
        all_headers.append(("connection", connection))
    keep_alive = framing != "close" and connection != "close"
    return Message(data, status, reason, all_headers, body, framing, keep_alive)


@settings(max_examples=300, deadline=None)
@given(message=messages(), data=st.data())
def test_split_feeding_matches_whole_feeding(message: Message, data: st.DataObject) -> None:
    """A valid response fed in pieces split anywhere parses to the same head, body, done and keep-alive."""
    points = data.draw(st.lists(st.integers(0, len(message.data)), max_size=12))
    eof = message.framing == "close"
    expected = whole(message.data, eof=eof)
    assert parse(split(message.data, points), eof=eof) == expected
    assert expected.status == message.status
    assert expected.reason == message.reason
    assert expected.headers[: len(message.headers)] == message.headers
    assert expected.body == message.body
    assert expected.done
    assert expected.keep_alive == message.keep_alive


@settings(max_examples=50, deadline=None)
@given(message=messages())
def test_byte_at_a_time_matches_whole_feeding(message: Message) -> None:
    """The same response fed one byte at a time parses like the whole."""
    eof = message.framing == "close"
    pieces = [message.data[i : i + 1] for i in range(len(message.data))]
    assert parse(pieces, eof=eof) == whole(message.data, eof=eof)


# -- invalid input ------------------------------------------------------------------------------------------

_OK = b"HTTP/1.1 200 OK\r\n"
_CHUNKED = _OK + b"transfer-encoding: chunked\r\n\r\n"

INVALID = {
    "status line of another version": b"HTTP/2 200 OK\r\ncontent-length: 0\r\n\r\n",
    "status line of another protocol": b"ICY 200 OK\r\ncontent-length: 0\r\n\r\n",
    "status line without the space": b"HTTP/1.1\t200 OK\r\n\r\n",
    "status code of two digits": b"HTTP/1.1 20 OK\r\n\r\n",
    "status code of four digits": b"HTTP/1.1 2000 OK\r\n\r\n",
    "status code not digits": b"HTTP/1.1 2x0 OK\r\n\r\n",
    "status code in non-ASCII digits": "HTTP/1.1 \u0662\u0660\u0660 OK\r\n\r\n".encode(),
    "status line truncated": b"HTTP/1.1 2\r\n\r\n",
    "header line without a colon": _OK + b"no-colon\r\n\r\n",
    "header with an empty name": _OK + b": value\r\n\r\n",
    "header with a space before the colon": _OK + b"name : value\r\n\r\n",
    "obsolete line folding": _OK + b"name: a\r\n folded\r\n\r\n",
    "conflicting Content-Length headers": _OK + b"content-length: 1\r\ncontent-length: 2\r\n\r\nab",
    "conflicting Content-Length list": _OK + b"content-length: 1, 2\r\n\r\nab",
    "negative Content-Length": _OK + b"content-length: -1\r\n\r\n",
    "signed Content-Length": _OK + b"content-length: +1\r\n\r\nx",
    "non-numeric Content-Length": _OK + b"content-length: ten\r\n\r\n",
    "empty Content-Length": _OK + b"content-length: \r\n\r\n",
    "Content-Length in non-ASCII digits": _OK + "content-length: \u0661\r\n\r\nx".encode(),
    "chunk size not hex": _CHUNKED + b"zz\r\n",
    "chunk size empty": _CHUNKED + b"\r\n",
    "chunk size negative": _CHUNKED + b"-1\r\n",
    "chunk size of 17 hex digits": _CHUNKED + b"1" * 17 + b"\r\n",
    "chunk data longer than its size": _CHUNKED + b"3\r\nabcde\r\n0\r\n\r\n",
    "chunk data ended by a bare LF": _CHUNKED + b"3\r\nabc\n0\r\n\r\n",
    "unterminated head too large": _OK + b"x: " + b"a" * MAX_HEAD_BYTES,
    "complete head too large": _OK + b"x: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n",
    "unterminated chunk-size line too long": _CHUNKED + b"5;" + b"e" * MAX_LINE,
    "complete chunk-size line too long": _CHUNKED + b"5;" + b"e" * MAX_LINE + b"\r\nhello\r\n0\r\n\r\n",
    "unterminated trailer line too long": _CHUNKED + b"0\r\nx: " + b"t" * MAX_LINE,
    "complete trailer line too long": _CHUNKED + b"0\r\nx: " + b"t" * MAX_LINE + b"\r\n\r\n",
}


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_invalid_response_is_rejected(data: bytes) -> None:
    """Each malformed response raises UpstreamProtocolError when fed."""
    with pytest.raises(UpstreamProtocolError):
        ResponseParser().feed(data)


@pytest.mark.parametrize("data", INVALID.values(), ids=INVALID.keys())
def test_invalid_response_is_rejected_when_split(data: bytes) -> None:
    """Each malformed response also raises when its bytes arrive in 1000-byte pieces."""
    parser = ResponseParser()
    with pytest.raises(UpstreamProtocolError):
        for i in range(0, len(data), 1000):
            parser.feed(data[i : i + 1000])


CUT_SHORT = {
    "no byte at all": b"",
    "part of the head": b"HTTP/1.1 200 OK\r\ncontent-len",
    "part of a Content-Length body": _OK + b"content-length: 10\r\n\r\nabc",
    "part of a chunk": _CHUNKED + b"5\r\nab",
    "a chunk-size line": _CHUNKED + b"5",
    "before the last chunk": _CHUNKED + b"5\r\nhello\r\n",
    "in the trailers": _CHUNKED + b"0\r\nx: y\r\n",
}


@pytest.mark.parametrize("data", CUT_SHORT.values(), ids=CUT_SHORT.keys())
def test_eof_before_the_end_is_an_error(data: bytes) -> None:
    """A connection closing before the message ended makes feed_eof raise UpstreamProtocolError."""
    parser = ResponseParser()
    parser.feed(data)
    with pytest.raises(UpstreamProtocolError):
        parser.feed_eof()


# -- framing and keep-alive ---------------------------------------------------------------------------------


def test_eof_ends_a_body_delimited_by_the_close() -> None:
    """Without Content-Length or Transfer-Encoding the body runs until feed_eof and is not kept alive."""
    parser = ResponseParser()
    parser.feed(_OK + b"\r\nsome body")
    assert not parser.done
    parser.feed(b" more")
    parser.feed_eof()
    assert parser.done
    assert b"".join(parser.body) == b"some body more"
    assert not parser.keep_alive


def test_eof_after_the_end_is_ignored() -> None:
    """feed_eof after a complete message changes nothing."""
    parser = ResponseParser()
    parser.feed(_OK + b"content-length: 2\r\n\r\nhi")
    parser.feed_eof()
    assert parser.done
    assert parser.keep_alive


def test_interim_heads_are_skipped() -> None:
    """100 Continue and 103 Early Hints before the final head are dropped, headers and all."""
    data = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nhi"
    )
    result = whole(data)
    assert (result.status, result.reason, result.body, result.done) == (201, "Created", b"hi", True)
    assert result.headers == [("content-length", "2")]


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_end_at_the_head(status: int) -> None:
    """204 and 304 end with the head (a Content-Length is the size of what was not sent) and stay kept alive."""
    result = whole(f"HTTP/1.1 {status} X\r\ncontent-length: 120\r\n\r\n".encode())
    assert (result.body, result.done, result.keep_alive) == (b"", True, True)


def test_response_to_head_has_no_body() -> None:
    """With no_body (a HEAD request) the message ends at the head whatever its Content-Length."""
    result = whole(_OK + b"content-length: 100\r\n\r\n", no_body=True)
    assert (result.body, result.done, result.keep_alive) == (b"", True, True)


def test_zero_content_length_ends_at_the_head() -> None:
    """Content-Length: 0 completes the message with the head."""
    result = whole(_OK + b"content-length: 0\r\n\r\n")
    assert (result.body, result.done, result.keep_alive) == (b"", True, True)


def test_transfer_encoding_wins_over_content_length_and_forbids_reuse() -> None:
    """With both framings the body is chunked and the connection is not reused."""
    result = whole(_OK + b"content-length: 3\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert (result.body, result.done, result.keep_alive) == (b"hello", True, False)


def test_chunked_must_be_the_last_coding_to_frame() -> None:
    """Transfer-Encoding ending in another coding than chunked is delimited by the close, not reused."""
    parser = ResponseParser()
    parser.feed(_OK + b"transfer-encoding: chunked, gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert not parser.done
    parser.feed_eof()
    assert b"".join(parser.body) == b"5\r\nhello\r\n0\r\n\r\n"
    assert not parser.keep_alive


def test_transfer_codings_across_header_lines() -> None:
    """Transfer-Encoding split over two header lines ending in chunked frames the body as chunked."""
    result = whole(_OK + b"transfer-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n")
    assert (result.body, result.done, result.keep_alive) == (b"hi", True, True)


def test_repeated_equal_content_lengths_are_accepted() -> None:
    """The same Content-Length given twice (or as a list) is one length."""
    result = whole(_OK + b"content-length: 2, 2\r\ncontent-length: 2\r\n\r\nhi")
    assert (result.body, result.done, result.keep_alive) == (b"hi", True, True)


def test_chunk_extensions_and_trailers_are_consumed() -> None:
    """Chunk extensions are ignored and trailers are read past without joining the head's headers."""
    data = _CHUNKED + b"5;name=value\r\nhello\r\n1 ; ext\r\n!\r\n0\r\nx-trailer: t\r\nx-other: o\r\n\r\n"
    result = whole(data)
    assert (result.body, result.done, result.keep_alive) == (b"hello!", True, True)
    assert result.headers == [("transfer-encoding", "chunked")]


def test_uppercase_hex_chunk_sizes() -> None:
    """Chunk sizes are hexadecimal in either case."""
    body = b"x" * 0xAB + b"y" * 0x1F
    data = _CHUNKED + b"AB\r\n" + body[:0xAB] + b"\r\n1f\r\n" + body[0xAB:] + b"\r\n0\r\n\r\n"
    assert whole(data).body == body


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\n", True),
        (b"HTTP/1.1 200 OK\r\nconnection: close\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n", False),
        (b"HTTP/1.0 200 OK\r\n", False),
        (b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\n", True),
    ],
    ids=["1.1 default", "1.1 close", "1.1 close in a list", "1.0 default", "1.0 keep-alive"],
)
def test_keep_alive_follows_version_and_connection_header(head: bytes, keep_alive: bool) -> None:
    """HTTP/1.1 is kept alive unless Connection: close; HTTP/1.0 only with Connection: keep-alive."""
    result = whole(head + b"content-length: 2\r\n\r\nhi")
    assert result.done
    assert result.keep_alive is keep_alive


def test_bytes_after_the_message_forbid_reuse() -> None:
    """Bytes past the end of the message (in the same or a later feed) mark the connection not reusable."""
    parser = ResponseParser()
    parser.feed(_OK + b"content-length: 2\r\n\r\nhiEXTRA")
    assert (b"".join(parser.body), parser.done, parser.keep_alive) == (b"hi", True, False)
    later = ResponseParser()
    later.feed(_OK + b"content-length: 2\r\n\r\nhi")
    assert later.keep_alive
    later.feed(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    assert not later.keep_alive


def test_header_values_are_trimmed_and_repeats_kept() -> None:
    """Header values lose surrounding blanks, repeated headers keep their order, names match in any case."""
    parser = ResponseParser()
    parser.feed(_OK + b"X-A:  one \t\r\nx-a:two\r\ncontent-length: 0\r\n\r\n")
    assert parser.head is not None
    assert parser.head.headers.getall("x-a") == ["one", "two"]
    assert parser.head.headers["X-A"] == "one"


def test_status_line_without_reason() -> None:
    """A status line with no reason phrase gives an empty reason."""
    result = whole(b"HTTP/1.1 503\r\ncontent-length: 0\r\n\r\n")
    assert (result.status, result.reason, result.done) == (503, "", True)


def test_body_parts_are_appended_for_the_caller_to_drain() -> None:
    """Each feed appends only the new body bytes to ``body``, which the caller clears as it consumes."""
    parser = ResponseParser()
    parser.feed(_OK + b"content-length: 6\r\n\r\nab")
    assert parser.body == [b"ab"]
    parser.body.clear()
    parser.feed(b"cd")
    parser.feed(b"ef")
    assert parser.body == [b"cd", b"ef"]
    assert parser.done


def test_head_not_set_until_complete() -> None:
    """The head appears only once the whole header block arrived."""
    parser = ResponseParser()
    parser.feed(_OK + b"content-length: 0\r\n")
    assert parser.head is None
    parser.feed(b"\r\n")
    assert parser.head is not None
    assert parser.done


# -- limits: the same verdict however the bytes are split ---------------------------------------------------


def _head_of(size: int) -> bytes:
    prefix = _OK + b"content-length: 0\r\nx: "
    return prefix + b"a" * (size - len(prefix)) + b"\r\n\r\n"


def _chunk_line_of(size: int) -> bytes:
    line = b"2;" + b"e" * (size - 2)
    return _CHUNKED + line + b"\r\nhi\r\n0\r\n\r\n"


def _trailer_of(size: int) -> bytes:
    return _CHUNKED + b"0\r\nx: " + b"t" * (size - 3) + b"\r\n\r\n"


def _verdict(pieces: list[bytes]) -> str:
    try:
        parsed = parse(pieces)
    except UpstreamProtocolError:
        return "rejected"
    return "accepted" if parsed.done else "incomplete"


@pytest.mark.parametrize(
    ("make", "limit"),
    [(_head_of, MAX_HEAD_BYTES), (_chunk_line_of, MAX_LINE), (_trailer_of, MAX_LINE)],
    ids=["header block", "chunk-size line", "trailer line"],
)
def test_limits_hold_whatever_the_split(make: Callable[[int], bytes], limit: int) -> None:
    """At its limit a head or line is accepted and one byte over rejected, whole or split near its end."""
    for size, verdict in ((limit, "accepted"), (limit + 1, "rejected")):
        data = make(size)
        assert _verdict([data]) == verdict, (size, "whole")
        for back in range(1, 20):
            cut = len(data) - back
            assert _verdict([data[:cut], data[cut:]]) == verdict, (size, back)
