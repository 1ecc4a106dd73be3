"""Entries: from a whole answer, their byte encoding (round trip, damaged bytes refused), which
answers may be stored, and the memory they are counted at."""

from __future__ import annotations

import sys
import tracemalloc

import pytest

from sidecar.cache.entry import (
    Entry,
    EntryFormatError,
    ReasoningPiece,
    TextPiece,
    ToolPiece,
    decode,
    encode,
    entry_from_response,
    footprint,
    frame,
    unframe,
    unstorable,
)
from sidecar.dialects import Dialect
from sidecar.translate import parse_chat_response
from sidecar.translate.common import FinishReason, Usage


def _entry(*pieces: TextPiece | ToolPiece | ReasoningPiece, finish: FinishReason | None = FinishReason.STOP) -> Entry:
    return Entry(pieces, finish, None, Usage(10, 5, 2, 0, 1), "gpt-4o", "gpt", "openai", 1_700_000_000.5, 0.0012)


def test_encoding_round_trips_every_piece() -> None:
    """Text with cuts, reasoning with signature, tool calls, usage, cost and times come back equal."""
    entry = _entry(
        ReasoningPiece("Think.", "sig==", "anthropic", False, (3, 3)),
        ReasoningPiece("", "ENC", "anthropic", True),
        TextPiece("Hello there", (5, 6)),
        ToolPiece("call_1", "f", '{"a": 1}', (4, 4)),
        TextPiece("whole"),
    )
    assert decode(encode(entry)) == entry


def test_the_one_hour_split_of_cache_writes_is_kept_and_old_entries_still_read() -> None:
    """An answer whose cache writes were in part for an hour keeps that part (the usage's sixth count);
    an entry without it (one written before 2026-12-05, or with no such writes) reads as none."""
    entry = _entry(TextPiece("hi"))._replace(usage=Usage(1100, 50, 0, 1000, 0, 600))
    assert decode(encode(entry)).usage == Usage(1100, 50, 0, 1000, 0, 600)
    plain = encode(entry._replace(usage=Usage(1100, 50, 0, 1000, 0, 0)))
    assert b'"u":[1100,50,0,1000,0]' in plain  # no sixth count: the bytes an older sidecar wrote
    assert decode(plain).usage == Usage(1100, 50, 0, 1000, 0, 0)


def test_damaged_bytes_are_refused() -> None:
    """Bytes that are not an entry of this version raise EntryFormatError, never something else."""
    good = encode(_entry(TextPiece("hi", (2,))))
    for damaged in (b"", b"not json", b"[]", good.replace(b'"v":1', b'"v":9'), good[:-5], good.replace(b"[2]", b"[7]")):
        with pytest.raises(EntryFormatError):
            decode(damaged)


def test_fields_of_the_wrong_type_are_damage() -> None:
    """An entry whose usage, time, cost, stop sequence or id has the wrong type (or an infinite time, an
    entry fresh forever) raises EntryFormatError, as does a framed body that is not a JSON object."""
    good = encode(_entry(TextPiece("hi")))
    for damaged in (
        good.replace(b'"u":[10,5,2,0,1]', b'"u":["10",5,2,0,1]'),
        good.replace(b'"u":[10,5,2,0,1]', b'"u":[10,-5,2,0,1]'),
        good.replace(b'"u":[10,5,2,0,1]', b'"u":[10,5,2,0,1,0,0]'),
        good.replace(b'"at":1700000000.5', b'"at":"inf"'),
        good.replace(b'"c":0.0012', b'"c":"0.1"'),
        good.replace(b'"s":null', b'"s":[1]'),
        good.replace(b'"id":null', b'"id":{"a":1}'),
    ):
        assert damaged != good
        with pytest.raises(EntryFormatError):
            decode(damaged)
    for body in (b"not json", b'{"id": "cut', b"[1]"):
        with pytest.raises(EntryFormatError):
            unframe(frame(good, body))


def test_entry_from_whole_openai_answer() -> None:
    """A chat.completion becomes an entry whose response() has the same text, calls and usage."""
    body = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Calling.",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}}],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    entry = entry_from_response(
        parse_chat_response(body, Dialect.OPENAI), model="m", target="t", provider="p", stored_at=1.0, cost_usd=None
    )
    assert entry is not None
    assert entry.pieces == (TextPiece("Calling."), ToolPiece("c1", "f", '{"x":1}'))
    assert not entry.streamed
    parts = entry.response()["choices"][0]["parts"]
    assert parts[1] == {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"x": 1}}
    assert entry.origin_id == "chatcmpl-1"


def test_several_choices_make_no_entry() -> None:
    """An answer with several choices is not an entry (a replay carries one)."""
    choice = {"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"}
    body = {"choices": [choice, {**choice, "index": 1}]}
    response = parse_chat_response(body, Dialect.OPENAI)
    assert entry_from_response(response, model="m", target="t", provider="p", stored_at=1, cost_usd=None) is None


@pytest.mark.parametrize(
    ("finish", "store_truncated", "why"),
    [
        (FinishReason.STOP, False, None),
        (FinishReason.STOP_SEQUENCE, False, None),
        (FinishReason.TOOL_CALLS, False, None),
        (FinishReason.LENGTH, False, "truncated"),
        (FinishReason.LENGTH, True, None),
        (FinishReason.CONTENT_FILTER, True, "refused"),
        (FinishReason.PAUSE, True, "unfinished"),
        (FinishReason.OTHER, True, "unfinished"),
        (None, True, "unfinished"),
    ],
)
def test_only_good_answers_are_storable(finish: FinishReason | None, store_truncated: bool, why: str | None) -> None:
    """Finished answers are storable; truncated ones only when allowed; refusals and unfinished never."""
    assert unstorable(_entry(TextPiece("x"), finish=finish), store_truncated=store_truncated) == why


def test_empty_answers_are_not_storable() -> None:
    """An answer with nothing in it is not stored."""
    assert unstorable(_entry(), store_truncated=False) == "empty"


def test_footprint_counts_at_least_what_the_entry_holds() -> None:
    """``footprint`` (what the memory store counts) is no less than the memory an entry's objects take
    (tracemalloc), and not far above it, for a whole and for a streamed answer."""
    text = "a few words of an answer " * 80

    def make(i: int, streamed: bool) -> Entry:
        cuts = tuple(5 for _ in range(len(text) // 5)) if streamed else None  # one tuple each, as assembled
        piece = TextPiece(text[:-8] + f"{i:08d}", cuts)
        return Entry(
            (piece,),
            FinishReason.STOP,
            None,
            Usage(30, 400),
            f"model-{i:04d}",
            "t",
            "p",
            i + 0.5,
            0.001,
            f"id-{i:020d}",
        )

    for streamed in (False, True):
        make(0, streamed)
        tracemalloc.start()
        entries = [make(i, streamed) for i in range(200)]
        held = tracemalloc.get_traced_memory()[0] / len(entries)
        tracemalloc.stop()
        assert held <= footprint(entries[1]) <= held * 1.25


def test_a_framed_entry_round_trips_with_its_body() -> None:
    """What Redis holds (the entry, a newline, the body its hits are answered with) gives both back; a
    value without a body (an older sidecar's) is the entry alone."""
    entry = _entry(TextPiece("line one\nline two"))
    body = b'{"id":"x","text":"a\\nb"}'
    assert unframe(frame(encode(entry), body)) == (entry, body)
    assert unframe(encode(entry)) == (entry, None)


CITATION = {"url": "https://example.com/a", "title": "A", "start": 0, "end": 5}


def test_citations_round_trip_and_an_entry_without_them_encodes_as_before() -> None:
    """An entry's citations (a missing title too) come back equal; an entry citing nothing is written
    without the ``ci`` field, so its bytes are what an older sidecar wrote."""
    untitled = {**CITATION, "title": None, "start": 6, "end": 11}
    cited = _entry(TextPiece("Hello there"))._replace(citations=(CITATION, untitled))
    assert decode(encode(cited)) == cited
    assert b'"ci"' not in encode(_entry(TextPiece("Hello there")))


def test_an_entry_an_older_sidecar_wrote_reads_without_citations() -> None:
    """The JSON of the format before citations were kept (no ``ci``) decodes, citing nothing; a damaged
    ``ci`` is refused like any damaged entry."""
    old = (
        b'{"v":1,"p":[["t","Hello there",null]],"f":"stop","s":null,"u":[10,5,2,0,1],"m":"gpt-4o","t":"gpt",'
        b'"pr":"openai","at":1700000000.5,"c":0.0012,"id":null}'
    )
    assert decode(old) == _entry(TextPiece("Hello there"))
    assert decode(old).citations == ()
    for damaged in (b'"ci":[["u",null,3,1]]', b'"ci":[[1,null,0,1]]', b'"ci":7', b'"ci":[["u",null,0]]'):
        with pytest.raises(EntryFormatError):
            decode(old[:-1] + b"," + damaged + b"}")


def test_a_whole_answer_s_citations_are_kept() -> None:
    """``entry_from_response`` keeps a cited answer (it was refused when entries kept no citations), and
    its ``response()`` cites the same."""
    body = {
        "id": "chatcmpl-1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello there",
                    "annotations": [
                        {
                            "type": "url_citation",
                            "url_citation": {
                                "url": "https://example.com/a",
                                "title": "A",
                                "start_index": 0,
                                "end_index": 5,
                            },
                        }
                    ],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }
    entry = entry_from_response(
        parse_chat_response(body, Dialect.OPENAI), model="m", target="t", provider="p", stored_at=1.0, cost_usd=None
    )
    assert entry is not None and entry.citations == (CITATION,)
    assert entry.response()["choices"][0]["citations"] == [CITATION]


def test_footprint_counts_an_entry_s_citations() -> None:
    """A cited entry's ``footprint`` is no less than the memory its objects take (tracemalloc, this
    thread's allocations for them), citations included, and not far above it."""
    text = "a few words of an answer " * 80

    def make(i: int) -> Entry:
        url = f"https://example.com/source/{i:08d}/"
        citations = tuple(
            {"url": url + str(n), "title": f"Source {i} {n}", "start": 300 + n, "end": 400 + n} for n in range(4)
        )
        return _entry(TextPiece(text[:-8] + f"{i:08d}"))._replace(model=f"model-{i:04d}", citations=citations)

    make(0)
    tracemalloc.start(64)
    entries = [make(i) for i in range(200)]
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # only what ``make`` allocated (not another thread's allocations meanwhile), less the list holding them
    made = snapshot.filter_traces([tracemalloc.Filter(True, __file__, all_frames=True)])
    held = (sum(trace.size for trace in made.traces) - sys.getsizeof(entries)) / len(entries)
    # one-off allocations ``make`` triggers (a table of the interpreter's growing) spread a few bytes an entry
    assert held * 0.995 <= footprint(entries[1]) <= held * 1.25


def test_extras_round_trip_and_an_entry_without_them_reads_as_before() -> None:
    """An entry's extras (the answer's fields outside the common form, JSON text) come back equal; an
    entry without them is written without ``x`` (an older sidecar's bytes) and reads with none; an ``x``
    that is not text is damage."""
    extras = '["openai",[[["system_fingerprint"],"fp_1"]]]'
    kept = _entry(TextPiece("Hello there"))._replace(extras=extras)
    assert decode(encode(kept)) == kept
    plain = encode(_entry(TextPiece("Hello there")))
    assert b'"x"' not in plain and decode(plain).extras is None
    with pytest.raises(EntryFormatError):
        decode(plain[:-1] + b',"x":["openai"]}')
    assert footprint(kept) > footprint(_entry(TextPiece("Hello there"))) + len(extras)


def test_the_model_asked_for_round_trips_and_is_written_only_when_the_answer_named_another() -> None:
    """``asked`` (the upstream model the sidecar asked for) comes back when the answer named another model
    (an alias answered under a dated name); when it is the answer's model it is not written (the bytes an
    older sidecar wrote) and reads as None; an ``a`` that is not text is damage."""
    alias = _entry(TextPiece("hi"))._replace(model="claude-3-5-haiku-20241022", asked="claude-3-5-haiku-latest")
    assert decode(encode(alias)) == alias
    same = encode(_entry(TextPiece("hi"))._replace(asked="gpt-4o"))
    assert same == encode(_entry(TextPiece("hi"))) and decode(same).asked is None
    with pytest.raises(EntryFormatError):
        decode(same[:-1] + b',"a":7}')
