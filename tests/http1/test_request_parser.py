"""The sans-I/O request parser: framing, pipelining, keep-alive, limits, refusals, split-point invariance."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.http1.request_parser import MAX_HEAD_BYTES, MAX_HEADERS, BadRequest, BodyTooLarge, RequestParser


@dataclass(frozen=True)
class Parsed:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    keep_alive: bool
    expects_continue: bool
    body: bytes


def parse_all(pieces: list[bytes], max_body: int = 1 << 20) -> list[Parsed]:
    """Feed the pieces one by one, taking every request they complete, as the listener does."""
    parser = RequestParser(max_body)
    out: list[Parsed] = []
    head = None
    for piece in pieces:
        parser.feed(piece)
        while True:
            if head is None:
                head = parser.next_head()
                if head is None:
                    break
            body = parser.next_body()
            if body is None:
                break
            out.append(
                Parsed(
                    head.method,
                    head.path,
                    head.query_string,
                    head.headers,
                    head.keep_alive,
                    head.expects_continue,
                    body,
                )
            )
            head = None
    return out


POST = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
CHUNKED = (
    b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
    b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n"
)


def test_content_length_body() -> None:
    """A Content-Length body is taken whole, header names lower-cased, values trimmed."""
    (request,) = parse_all([POST + b'{"model":1}'])
    assert (request.method, request.path, request.body) == ("POST", "/v1/chat/completions", b'{"model":1}')
    assert request.headers == {"host": "x", "content-type": "application/json", "content-length": "11"}
    assert request.keep_alive


def test_chunked_body_with_extensions_and_trailers() -> None:
    """A chunked body is reassembled; chunk extensions and trailer fields are ignored."""
    (request,) = parse_all([CHUNKED])
    assert request.body == b"hello world"


def test_pipelined_requests_come_out_in_order() -> None:
    """Several requests in one read are taken one after another, bodies not mixed."""
    requests = parse_all([POST + b'{"model":1}' + CHUNKED + b"GET /healthz HTTP/1.1\r\n\r\n"])
    assert [(r.path, r.body) for r in requests] == [
        ("/v1/chat/completions", b'{"model":1}'),
        ("/v1/messages", b"hello world"),
        ("/healthz", b""),
    ]


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_split_of_the_bytes_gives_the_same_requests(data: st.DataObject) -> None:
    """However the stream is cut into reads, the parsed requests are the same."""
    stream = POST + b'{"model":1}' + CHUNKED + b"\r\nGET /x?a=1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert parse_all(pieces) == parse_all([stream])
    assert len(parse_all(pieces)) == 3


def test_path_is_percent_decoded_and_query_split() -> None:
    """The path is decoded (as routes are matched) and the query string kept apart, undecoded."""
    (request,) = parse_all([b"POST /v1beta/models/gemini%2D2.0:generateContent?alt=sse&key=a%20b HTTP/1.1\r\n\r\n"])
    assert request.path == "/v1beta/models/gemini-2.0:generateContent"
    assert request.query == "alt=sse&key=a%20b"


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"http://127.0.0.1:8080/v1/messages?beta=1", "/v1/messages", "beta=1"),
        (b"https://sidecar/v1/chat/completions", "/v1/chat/completions", ""),
        (b"http://sidecar", "/", ""),
        (b"http://sidecar?x=1", "/", "x=1"),
    ],
)
def test_absolute_form_targets_are_read_by_their_path(target: bytes, path: str, query: str) -> None:
    """A request sent in absolute form (as to a proxy) is routed by its path and query."""
    (request,) = parse_all([b"GET " + target + b" HTTP/1.1\r\n\r\n"])
    assert (request.path, request.query) == (path, query)


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\n\r\n", False),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", True),
    ],
)
def test_keep_alive_follows_version_and_connection_header(head: bytes, keep_alive: bool) -> None:
    """HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 closes unless told to keep it."""
    (request,) = parse_all([head])
    assert request.keep_alive is keep_alive


def test_expect_continue_is_reported() -> None:
    """Expect: 100-continue is flagged (the listener answers it), only for HTTP/1.1."""
    (request,) = parse_all([b"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 0\r\n\r\n"])
    assert request.expects_continue
    (request,) = parse_all([b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n"])
    assert not request.expects_continue


def test_repeated_fields_are_joined_and_blank_lines_before_a_request_skipped() -> None:
    """A repeated header becomes one comma-joined value; CRLFs before a request line are ignored."""
    (request,) = parse_all([b"\r\n\r\nGET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n"])
    assert request.headers == {"x-a": "1, 2"}


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET evil/ HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTQ/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nbad name: 1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400),
    ],
)
def test_malformed_requests_are_refused_with_a_status(raw: bytes, status: int) -> None:
    """Bytes that break HTTP/1.1, or shapes used for request smuggling, raise BadRequest with its status."""
    with pytest.raises(BadRequest) as caught:
        parse_all([raw])
    assert caught.value.status == status


def test_a_refusal_after_the_request_line_names_the_path() -> None:
    """Once the request line is read, the refusal carries the path (the sidecar picks the dialect by it)."""
    with pytest.raises(BadRequest) as caught:
        parse_all([b"POST /v1/messages HTTP/1.1\r\nbad name: 1\r\n\r\n"])
    assert caught.value.path == "/v1/messages"


def test_a_header_block_over_the_limit_is_431_even_before_it_ends() -> None:
    """A head that grows past MAX_HEAD_BYTES without ending is refused without waiting for more."""
    with pytest.raises(BadRequest) as caught:
        parse_all([b"GET / HTTP/1.1\r\nx-big: " + b"a" * (MAX_HEAD_BYTES + 1)])
    assert caught.value.status == 431


def test_too_many_header_fields_is_431() -> None:
    """More than MAX_HEADERS fields is refused."""
    fields = b"".join(b"x-%d: 1\r\n" % i for i in range(MAX_HEADERS + 1))
    with pytest.raises(BadRequest) as caught:
        parse_all([b"GET / HTTP/1.1\r\n" + fields + b"\r\n"])
    assert caught.value.status == 431


def test_an_announced_length_over_the_limit_raises_before_the_body_arrives() -> None:
    """Content-Length past max_body: the head is given, then next_body raises at once (nothing buffered)."""
    parser = RequestParser(100)
    parser.feed(b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n")
    assert parser.next_head() is not None
    with pytest.raises(BodyTooLarge) as caught:
        parser.next_body()
    assert caught.value.limit == 100


def test_a_chunked_body_growing_over_the_limit_raises() -> None:
    """A chunked body is counted as it arrives and refused at the chunk that crosses the limit."""
    parser = RequestParser(10)
    parser.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n")
    assert parser.next_head() is not None
    with pytest.raises(BodyTooLarge):
        parser.next_body()


def test_a_body_still_arriving_gives_none() -> None:
    """Until the whole body is there, next_body is None and keeps what it has."""
    parser = RequestParser(100)
    parser.feed(POST + b'{"mo')
    assert parser.next_head() is not None
    assert parser.next_body() is None
    parser.feed(b'del":1}')
    assert parser.next_body() == b'{"model":1}'
    assert parser.buffered == 0


def test_header_bytes_round_trip_through_the_text() -> None:
    """UTF-8 header values decode to their text; other bytes decode so that encoding restores them."""
    (request,) = parse_all([b"GET / HTTP/1.1\r\nx-user: Jos\xc3\xa9\r\nx-raw: \xff\xfe\r\n\r\n"])
    assert request.headers["x-user"] == "José"
    assert request.headers["x-raw"].encode("utf-8", "surrogateescape") == b"\xff\xfe"


_VALID = POST + b'{"model":1}' + CHUNKED


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_bytes_give_requests_or_a_refusal_never_another_error(data: st.DataObject) -> None:
    """Valid requests mutated at random places (bytes replaced, cut, inserted), or plain noise, parse
    into requests or raise BadRequest / BodyTooLarge: nothing else escapes to the listener."""
    if data.draw(st.booleans()):
        stream = data.draw(st.binary(max_size=300))
    else:
        stream = bytearray(_VALID)
        for _ in range(data.draw(st.integers(1, 6))):
            at = data.draw(st.integers(0, len(stream)))
            piece = data.draw(
                st.sampled_from([b"\r\n", b":", b" ", b"\x00", b"\xff", b"-1", b"ffffffffffffffff", b"9"])
            )
            if data.draw(st.booleans()):
                stream[at:at] = piece
            else:
                stream[at : at + len(piece)] = piece
        stream = bytes(stream)
    with contextlib.suppress(BadRequest, BodyTooLarge):
        parse_all([stream], max_body=64)
