"""A replayed stream's padding (OpenAI's ``obfuscation``): marked once, its characters drawn per hit."""

from __future__ import annotations

import string
import time

import orjson
import pytest

from sidecar.cache.entry import Entry, TextPiece
from sidecar.cache.extras import extras_of
from sidecar.cache.padding import Padded, cut_stream, padded, size_of
from sidecar.cache.replay import fill_body, template
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason

URL_SAFE = frozenset(string.ascii_letters + string.digits + "-_")  # base64's URL-safe alphabet


def _stream() -> tuple[list[dict[str, object]], bytes]:
    chunks = [{"choices": [{"delta": {"content": "x" * n}}]} for n in range(20)]
    chunks.append({"a": 'say "}\n\n" at 100%s %%'})
    stream = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    return chunks, stream


def test_a_filled_padded_stream_has_each_json_event_padded_to_a_multiple_of_sixteen_bytes() -> None:
    """``padded(...).fill()`` writes the member (OpenAI's ``obfuscation``) with 1 to 16 URL-safe characters
    into each unnamed JSON event, making its JSON a multiple of 16 bytes; a text that spells ``}`` and a
    blank line, or ``%s``, within a string untouched; ``data: [DONE]`` as it was."""
    chunks, stream = _stream()
    events = padded(stream, "obfuscation").fill(b"", b"").split(b"\n\n")
    assert events[-2:] == [b"data: [DONE]", b""]
    for event, chunk in zip(events, chunks, strict=False):
        obj = orjson.loads(event[6:])
        noise = obj.pop("obfuscation")
        assert len(event[6:]) % 16 == 0 and 1 <= len(noise) <= 16 and obj == chunk
        assert set(noise) <= URL_SAFE  # a padding of only "-" or "_" is URL-safe too


def test_each_fill_draws_new_characters_of_the_same_lengths() -> None:
    """Two fills of one padded stream differ only in the padding's characters, not its lengths."""
    _, stream = _stream()
    template = padded(stream, "obfuscation")
    first, second = (template.fill(b"", b"").split(b"\n\n") for _ in range(2))
    assert first != second
    assert [len(a) for a in first] == [len(b) for b in second]


def test_a_fill_counts_the_growth_its_marks_will_have() -> None:
    """``growth``: each event's JSON is taken to grow by that many bytes when its marks are filled, so the
    padding makes the filled event a multiple of 16 bytes."""
    _, stream = _stream()
    events = padded(stream, "obfuscation", growth=3).fill(b"", b"").split(b"\n\n")[:-2]
    assert all((len(event[6:]) + 3) % 16 == 0 for event in events)


def test_a_padded_streams_size_counts_its_segments_and_layout() -> None:
    """``size_of`` a padded stream is more than its segments' bytes (its layout is counted too)."""
    _, stream = _stream()
    template = padded(stream, "obfuscation")
    assert size_of(template) > sum(map(size_of, template.segments)) > len(stream)


def test_a_stream_whose_events_hold_the_marks_once_is_cut_at_them_and_filled_in_one_join() -> None:
    """Each JSON event holding the id mark and then the time mark once: ``marked``, and ``fill`` writes the
    hit's id and time in their places (none left); an event holding a mark twice: not ``marked``."""
    chunks = [{"id": "ID", "created": 42, "choices": [{"delta": {"content": "x" * n}}]} for n in range(5)]
    stream = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    marks = (b':"ID"', b'"created":42')
    template = padded(stream, "obfuscation", marks=marks)
    assert template.marked
    events = template.fill(b':"fresh"', b'"created":7').split(b"\n\n")
    for event, chunk in zip(events, chunks, strict=False):
        obj = orjson.loads(event[6:])
        assert obj.pop("obfuscation") and obj == {**chunk, "id": "fresh", "created": 7}
    twice = stream.replace(b'"choices"', b'"again":"ID","choices"', 1)  # the id mark twice in the first event
    assert not padded(twice, "obfuscation", marks=marks).marked


def test_a_replayed_openai_streams_filled_chunks_are_padded_to_sixteen_bytes_with_no_mark_left() -> None:
    """A whole OpenAI answer's streamed template (``replay.template``) filled for a hit: every chunk's JSON a
    multiple of 16 bytes with its hit's id, time and padding in it (the marks' lengths accounted for)."""
    body = {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}
    text = "a few words of a cached answer, " * 5
    entry = Entry((TextPiece(text),), FinishReason.STOP, None, None, "gpt-4o-mini", "t", "p", time.time(), None,
                  None, (), extras_of(body, Dialect.OPENAI))  # fmt: skip
    stream = fill_body(template(entry, Dialect.OPENAI, "stream_usage"), Dialect.OPENAI)
    chunks = stream.split(b"\n\n")[:-2]
    assert len(chunks) > 10 and all(len(chunk[6:]) % 16 == 0 for chunk in chunks)
    parsed = [orjson.loads(chunk[6:]) for chunk in chunks]
    assert len({chunk["id"] for chunk in parsed}) == 1 and parsed[0]["id"].startswith("chatcmpl-")
    assert all(chunk["obfuscation"] and abs(chunk["created"] - time.time()) < 60 for chunk in parsed)


def test_a_marked_stream_whose_events_differ_around_their_marks_is_filled_as_one_whose_events_do_not() -> None:
    """Events alike but for what follows their second mark (an OpenAI stream) keep what they share once
    (``frame``); a marked stream whose events differ before or between their marks is kept whole and
    filled the same: each event with the hit's id and time, padded to a multiple of 16 bytes."""
    chunks = [{"id": "ID", "created": 42, "choices": [{"delta": {"content": "x" * n}}]} for n in range(4)]
    chunks[2] = {"id": "ID", "object": "chunk", "created": 42, "choices": []}  # another field between the marks
    chunks[3] = {"pre": 1, "id": "ID", "created": 42}  # another start
    marks = (b':"ID"', b'"created":42')
    for alike in (False, True):
        shown = chunks[:2] if alike else chunks
        stream = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in shown) + b"data: [DONE]\n\n"
        template = padded(stream, "obfuscation", growth=2, marks=marks)  # ':"fresh"', '"created":7': 2 bytes more
        assert template.marked and (template.frame is not None) is alike
        events = template.fill(b':"fresh"', b'"created":7').split(b"\n\n")
        assert events[-2:] == [b"data: [DONE]", b""]
        for event, chunk in zip(events[:-2], shown, strict=True):
            obj = orjson.loads(event[6:])
            assert len(event[6:]) % 16 == 0 and obj.pop("obfuscation")
            assert obj == {**chunk, "id": "fresh", "created": 7}


@pytest.mark.parametrize("alike", [True, False], ids=["framed", "whole"])
def test_a_stream_without_padding_is_cut_at_its_marks_and_filled_with_none(alike: bool) -> None:
    """``cut_stream``: a stream whose events hold the id and time marks once is a ``Padded`` drawing no
    characters (its events' shared bytes kept once when they are alike), its fill the hit's id and time in
    each event and nothing added (the bytes two replacements give); one whose event holds a mark twice
    stays the bytes, for ``fill_body`` to replace."""
    chunks = [{"id": "ID", "created": 42, "choices": [{"delta": {"content": "x" * n}}]} for n in range(5)]
    if not alike:
        chunks[3] = {"id": "ID", "object": "chunk", "created": 42}
    stream = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    marks = (b':"ID"', b'"created":42')
    cut = cut_stream(stream, marks)
    assert isinstance(cut, Padded) and cut.marked and cut.chars == 0 and (cut.frame is not None) is alike
    filled = stream.replace(marks[0], b':"fresh"').replace(marks[1], b'"created":7')
    assert cut.fill(b':"fresh"', b'"created":7') == filled
    twice = stream.replace(b'"choices"', b'"again":"ID","choices"', 1)
    assert cut_stream(twice, marks) == twice
