"""The SSE parser: every event of any chunking, as the WHATWG algorithm reads it, and its bytes kept."""

from __future__ import annotations

import pytest

from sidecar.held_bytes import HeldBytes, HeldBytesFull
from sidecar.sse import SSEEvent, SSEParser, encode_event

STREAM = (
    b'data: {"a":1}\n\n'
    b'event: message_start\ndata: {"type":"message_start"}\n\n'
    b": a comment\ndata: line one\ndata: line two\n\n"
    b"id: 7\nretry: 100\nevent: ping\n\n"
    b"data:no-space\n\n"
    b"data:  two spaces\n\n"
    b"event:named\ndata: x\n\n"
    b"data: \n\n"
)
EXPECTED = [
    (b'{"a":1}', None),
    (b'{"type":"message_start"}', "message_start"),
    (b"line one\nline two", None),
    (b"", "ping"),
    (b"no-space", None),
    (b" two spaces", None),
    (b"x", "named"),
    (b"", None),
]


def parse(chunks: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [event for chunk in chunks for event in parser.feed(chunk)]
    return events + parser.close()


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 16, 1000])
def test_any_chunking_gives_the_same_events(size: int, line_end: bytes) -> None:
    """Cut anywhere, the stream gives each event's data and name, in order; with CRLF line ends too, a
    CR and its LF in two chunks included (before 2026-12-06 that CR ended its line and the LF then made
    a blank line: an event cut in two, ``line one`` and ``line two`` sent as two events)."""
    stream = STREAM.replace(b"\n", line_end)
    chunks = [stream[i : i + size] for i in range(0, len(stream), size)]
    assert [(e.data, e.event) for e in parse(chunks)] == EXPECTED


def test_an_event_keeps_its_bytes_as_received() -> None:
    """``raw`` is the event's own bytes, blank line included: what a same-dialect relay forwards."""
    events = parse([STREAM])
    assert b"".join(e.raw for e in events) == STREAM
    assert events[1].raw == b'event: message_start\ndata: {"type":"message_start"}\n\n'


ALONE = [
    *(STREAM.split(b"\n\n")[i] + b"\n\n" for i in range(8)),
    b"data: one\rtwo\n\n",
    b"event: e\rdata: x\n\n",
    b"event: e\ndata: x\r\n\r\n",
    b"event: e\ndata: x\n\ndata: y\n\n",
    b"data: x\n\n: comment\n",
    b"event: \ndata: \n\n",
    b"event: caf\xc3\xa9\ndata: \xff\n\n",
]


@pytest.mark.parametrize("chunk", ALONE)
def test_a_chunk_read_alone_gives_what_the_byte_by_byte_reading_gives(chunk: bytes) -> None:
    """A chunk arriving by itself (the usual case: one whole event, read without a line-by-line scan)
    gives the events, names, data and bytes that reading it one byte at a time gives, odd line ends and
    several events included."""
    alone = parse([chunk])
    bytewise = parse([chunk[i : i + 1] for i in range(len(chunk))])
    assert [(e.data, e.event) for e in alone] == [(e.data, e.event) for e in bytewise]
    assert b"".join(e.raw for e in alone) == b"".join(e.raw for e in bytewise)


def test_crlf_and_cr_line_ends_are_read_as_newlines() -> None:
    """``\\r\\n`` and ``\\r`` end lines as ``\\n`` does."""
    events = parse([b"event: e\r\ndata: one\r\n\r\n", b"data: two\r\r"])
    assert [(e.data, e.event) for e in events] == [(b"one", "e"), (b"two", None)]


def test_a_last_event_without_its_blank_line_is_still_an_event_at_close() -> None:
    """close() gives the event a stream ended without terminating."""
    parser = SSEParser()
    assert parser.feed(b"data: partial") == []
    assert parser.pending == b"data: partial"
    assert [e.data for e in parser.close()] == [b"partial"]


@pytest.mark.parametrize("cut", [b"x" * 20, b"x" * 4, b"x\n" * 2], ids=["one chunk", "in chunks", "in lines"])
def test_an_event_larger_than_the_cap_is_refused(cut: bytes) -> None:
    """A partial event past max_event_bytes raises ValueError (the relay treats it as a broken answer),
    whether its bytes came in one chunk or in several, of a line each or of none."""
    parser = SSEParser(max_event_bytes=10)
    with pytest.raises(ValueError, match="larger than 10 bytes"):
        for _ in range(10):
            parser.feed(b"data: " + cut)


@pytest.mark.parametrize(
    "chunk", [b"\n" * 7, b"\r\n\r\n\r\n", b": keep-alive\n\n", b"\n\n:\n\n"], ids=["LF", "CRLF", "comment", "mixed"]
)
def test_a_stream_of_blank_lines_and_comments_only_is_refused_past_its_bound(chunk: bytes) -> None:
    """Blank lines and comment-only blocks count against max_eventless_bytes over the whole stream: up to it
    the events between them are read, past it ValueError (the relay treats it as a broken answer)."""
    parser = SSEParser(max_eventless_bytes=40)
    events = [*parser.feed(chunk), *parser.feed(b"data: one\n\n"), *parser.feed(chunk)]
    assert [e.data for e in events] == [b"one"]
    with pytest.raises(ValueError, match="more than 40 bytes of blank lines and comments"):
        for _ in range(40):
            parser.feed(chunk)


def test_encoding_splits_multi_line_data_and_names_the_event() -> None:
    """encode_event writes one data line per line of data, after the event line."""
    assert encode_event(b"a\nb", "e") == b"event: e\ndata: a\ndata: b\n\n"
    assert SSEEvent(b"x").encode() == b"data: x\n\n"


BOM_READS = {
    **{f"{size} bytes a read": size for size in (1, 2, 3, 4, 1000)},
    "the BOM a byte a read, then the rest": 0,
}


@pytest.mark.parametrize("size", BOM_READS.values(), ids=BOM_READS.keys())
def test_a_byte_order_mark_that_begins_the_stream_is_ignored(size: int) -> None:
    """A UTF-8 BOM before the first field, cut anywhere, is not part of its name: every event is read,
    the first one's bytes without it."""
    stream = b"\xef\xbb\xbf" + STREAM
    chunks = (
        [stream[i : i + size] for i in range(0, len(stream), size)] if size else [b"\xef", b"\xbb", b"\xbf", STREAM]
    )
    events = parse(chunks)
    assert [(e.data, e.event) for e in events] == EXPECTED
    assert events[0].raw == b'data: {"a":1}\n\n'


def test_a_block_of_comments_only_is_kept_aside_when_asked() -> None:
    """With ``keep_comments``, a comment block (``: keep-alive``) is kept as it came (LF line ends), in any
    chunking, and no event is made of it; a comment inside an event stays in that event's bytes; without
    it, comments are dropped."""
    stream = b': keep-alive\r\n\r\ndata: {"a":1}\n\n:\n\n: x\ndata: 2\n\n'
    for size in (1, 3, len(stream)):
        parser = SSEParser(keep_comments=True)
        events = [e for start in range(0, len(stream), size) for e in parser.feed(stream[start : start + size])]
        assert [e.data for e in events] == [b'{"a":1}', b"2"]
        assert parser.comments == [b": keep-alive\n\n", b":\n\n"]
    plain = SSEParser()
    assert len(plain.feed(stream)) == 2 and plain.comments is None


def test_an_unfinished_event_is_held_in_the_account_until_it_ends() -> None:
    """Given the process's account, the chunks of an unfinished event are taken from it as they are kept
    and given back once the event is read; an event whole in one chunk takes nothing."""
    held = HeldBytes(1 << 20)
    parser = SSEParser(held=held)
    assert parser.feed(b"data: whole\n\n")[0].data == b"whole" and held.peak == 0
    parser.feed(b"data: ab")
    parser.feed(b"cd")
    assert held.held == len(b"data: abcd")
    assert parser.feed(b"\n\n")[0].data == b"abcd"
    assert held.held == 0


def test_an_unfinished_event_past_the_ceiling_raises_and_let_go_gives_all_back() -> None:
    """A chunk that would take the account past its ceiling raises ``HeldBytesFull`` (not kept); ``let_go``
    (the stream ended any other way) gives back what the event held."""
    held = HeldBytes(1000)
    parser = SSEParser(held=held)
    parser.feed(b"data: " + b"x" * 600)
    with pytest.raises(HeldBytesFull):
        parser.feed(b"x" * 600)
    assert (held.held, held.refusals) == (606, 1)
    parser.let_go()
    assert held.held == 0 and parser.pending == b""
