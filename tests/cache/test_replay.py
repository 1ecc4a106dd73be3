"""Replaying entries: a stream assembled from any dialect, stored as bytes, replayed to any dialect's
official SDK stream parser (or whole-response types) with its text, tool calls, reasoning, usage and
finish reason; chunked like a live stream (the original fragments, or words for a whole answer)."""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from typing import Any

import anthropic.types
import openai.types.chat
import orjson
import pytest
from google.genai import types as genai_types

from sidecar.cache import Entry, entry_from_response, replay_body, replay_deltas, replay_stream
from sidecar.cache.entry import ToolPiece, decode, encode
from sidecar.cache.replay import LONG_WORD, body_template, fill_body, fresh_marks, id_prefix, template, word_pieces
from sidecar.dialects import Dialect
from sidecar.dialects.registry import DIALECTS
from sidecar.translate import parse_chat_response
from sidecar.translate.common import FinishReason
from sidecar.translate.deltas import Text

from ..translate import sdk
from ..translate.streams import CALLS, TEXT, TOOL_TEXT, UPSTREAM, USAGE
from .helpers import assemble

ALL_PAIRS = list(itertools.product(DIALECTS, DIALECTS))


def _stored(source: Dialect, scenario: str) -> Entry:
    """The entry of a provider's stream, after a trip through its byte encoding (as a store holds it)."""
    entry = assemble(source, UPSTREAM[(source.value, scenario)])
    assert entry is not None
    return decode(encode(entry))


def _stream(entry: Entry, target: Dialect) -> bytes:
    events = replay_stream(entry, target, model="caller-model", include_usage=True)
    return sdk.render(events)


def _read_stream(target: Dialect, raw: bytes) -> tuple[str, list[Any], str, tuple[int, int, int]]:
    """Text, tool calls, finish reason and (input, output, cached) usage as the target's SDK reads them."""
    if target is Dialect.OPENAI:
        completion = sdk.openai_final(raw)
        message = completion.choices[0].message
        usage = completion.usage
        assert usage is not None and usage.prompt_tokens_details is not None
        calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
        cached = usage.prompt_tokens_details.cached_tokens or 0
        return (
            message.content or "",
            calls,
            str(completion.choices[0].finish_reason),
            (usage.prompt_tokens, usage.completion_tokens, cached),
        )
    if target is Dialect.ANTHROPIC:
        message = sdk.anthropic_final(raw)
        u = message.usage
        total_in = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
        return (
            "".join(b.text for b in message.content if b.type == "text"),
            [(b.name, b.input) for b in message.content if b.type == "tool_use"],
            str(message.stop_reason),
            (total_in, u.output_tokens, u.cache_read_input_tokens or 0),
        )
    chunks = sdk.gemini_stream(raw)
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    meta = chunks[-1].usage_metadata
    assert meta is not None
    return (
        "".join(p.text for p in parts if p.text and not p.thought),
        [(p.function_call.name, p.function_call.args) for p in parts if p.function_call],
        str(chunks[-1].candidates[0].finish_reason.value),  # type: ignore[index, union-attr]
        (
            meta.prompt_token_count or 0,
            (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0),
            meta.cached_content_token_count or 0,
        ),
    )


FINISH = {
    (Dialect.OPENAI, "text"): "stop",
    (Dialect.OPENAI, "tools"): "tool_calls",
    (Dialect.ANTHROPIC, "text"): "end_turn",
    (Dialect.ANTHROPIC, "tools"): "tool_use",
    (Dialect.GEMINI, "text"): "STOP",
    (Dialect.GEMINI, "tools"): "STOP",
}


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{s}->{t}" for s, t in ALL_PAIRS])
@pytest.mark.parametrize("scenario", ["text", "tools"])
def test_stored_stream_replays_to_every_sdk(source: Dialect, target: Dialect, scenario: str) -> None:
    """A stream from any provider, stored, reaches any caller's SDK with its text, calls, usage, finish."""
    text, calls, finish, usage = _read_stream(target, _stream(_stored(source, scenario), target))
    assert text == (TEXT if scenario == "text" else TOOL_TEXT)
    assert calls == ([] if scenario == "text" else CALLS)
    assert finish == FINISH[(target, scenario)]
    assert usage == USAGE[(source.value, scenario)]


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{s}->{t}" for s, t in ALL_PAIRS])
def test_stored_stream_replays_as_a_whole_response(source: Dialect, target: Dialect) -> None:
    """A stored stream answers a non-stream request: the body validates as the SDK's response type."""
    body = replay_body(_stored(source, "tools"), target, model="caller-model")
    if target is Dialect.OPENAI:
        completion = openai.types.chat.ChatCompletion.model_validate(body)
        message = completion.choices[0].message
        calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
        assert (message.content, calls, completion.model) == (TOOL_TEXT, CALLS, "caller-model")
    elif target is Dialect.ANTHROPIC:
        msg = anthropic.types.Message.model_validate(body)
        texts = "".join(b.text for b in msg.content if b.type == "text")
        calls = [(b.name, b.input) for b in msg.content if b.type == "tool_use"]
        assert (texts, calls, msg.stop_reason) == (TOOL_TEXT, CALLS, "tool_use")
    else:
        response = genai_types.GenerateContentResponse.model_validate(body)
        parts = response.candidates[0].content.parts or []  # type: ignore[index, union-attr]
        calls = [(p.function_call.name, p.function_call.args) for p in parts if p.function_call]
        assert calls == CALLS
        assert "".join(p.text for p in parts if p.text and not p.thought) == TOOL_TEXT


def test_same_dialect_replay_keeps_the_original_chunks() -> None:
    """An OpenAI stream replayed to an OpenAI caller has the upstream's content chunks, one for one."""
    chunks = sdk.openai_stream(_stream(_stored(Dialect.OPENAI, "text"), Dialect.OPENAI))
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert contents == ["Hello", "! How can", " I help?"]


def test_cross_dialect_replay_keeps_the_original_chunks() -> None:
    """An Anthropic stream replayed to a Gemini caller: one fragment per original text delta."""
    chunks = sdk.gemini_stream(_stream(_stored(Dialect.ANTHROPIC, "text"), Dialect.GEMINI))
    texts = [
        p.text
        for c in chunks
        if c.candidates and c.candidates[0].content
        for p in c.candidates[0].content.parts or []
        if p.text
    ]
    assert texts == ["Hello", "! How can I help?"]


LONG_ANSWER = (
    "Caching answers saves money when the same question comes back, as it often does in test suites. "
    "See https://example.com/docs/caching/exact-match for details."
)


def _whole_entry(text: str) -> Entry:
    body = {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 25, "total_tokens": 55},
    }
    response = parse_chat_response(body, Dialect.OPENAI)
    entry = entry_from_response(response, model="m", target="t", provider="p", stored_at=0.0, cost_usd=None)
    assert entry is not None
    return entry


def test_whole_answer_streams_in_word_sized_pieces() -> None:
    """A whole answer replays as one chunk per word (spaces before it kept), long runs cut: not one
    giant event, not fixed five-character pieces."""
    chunks = sdk.openai_stream(_stream(_whole_entry(LONG_ANSWER), Dialect.OPENAI))
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(contents) == LONG_ANSWER
    assert contents[:4] == ["Caching", " answers", " saves", " money"]
    assert len(contents) == len(word_pieces(LONG_ANSWER)) > 20
    assert all(len(c.strip()) <= LONG_WORD for c in contents)
    assert len({len(c) for c in contents}) > 3


def test_replay_has_a_fresh_id_each_time() -> None:
    """Two replays of one entry carry two response ids (each is a new answer)."""
    entry = _stored(Dialect.OPENAI, "text")
    ids = {replay_body(entry, Dialect.OPENAI, model="m")["id"] for _ in range(2)}
    assert len(ids) == 2


def test_openai_usage_chunk_only_when_the_caller_asked() -> None:
    """Without include_usage the OpenAI caller's replay has no usage chunk, yet ends with [DONE]."""
    events = replay_stream(_stored(Dialect.ANTHROPIC, "text"), Dialect.OPENAI, model="m", include_usage=False)
    chunks = sdk.openai_stream(sdk.render(events))
    assert all(c.usage is None for c in chunks)
    assert events[-1].data == b"[DONE]"


def test_anthropic_replay_reports_input_tokens_in_message_start() -> None:
    """Usage comes first in a replay, so an Anthropic caller's message_start has the input tokens."""
    events = replay_stream(_stored(Dialect.OPENAI, "text"), Dialect.ANTHROPIC, model="m", include_usage=True)
    start = json.loads(events[0].data)
    assert start["type"] == "message_start"
    assert start["message"]["usage"]["input_tokens"] + start["message"]["usage"]["cache_read_input_tokens"] == 19


def test_anthropic_thinking_survives_a_replay_to_anthropic() -> None:
    """Thinking and its signature, stored from a stream, come back to an Anthropic SDK intact."""
    message = sdk.anthropic_final(_stream(_stored(Dialect.ANTHROPIC, "tools"), Dialect.ANTHROPIC))
    first = message.content[0]
    assert first.type == "thinking"
    assert (first.thinking, first.signature) == ("User wants weather.", "EqQBCgIYAhIM")


def test_anthropic_thinking_reaches_an_openai_caller_as_reasoning_content() -> None:
    """Stored thinking reaches an OpenAI caller as reasoning_content, in the stream and the body."""
    entry = _stored(Dialect.ANTHROPIC, "tools")
    completion = sdk.openai_final(_stream(entry, Dialect.OPENAI))
    assert (completion.choices[0].message.model_extra or {}).get("reasoning_content") == "User wants weather."
    body = replay_body(entry, Dialect.OPENAI, model="m")
    assert body["choices"][0]["message"]["reasoning_content"] == "User wants weather."


def test_gemini_call_signature_survives_a_replay_to_gemini() -> None:
    """A Gemini function call's thoughtSignature is back on the call in the replayed stream."""
    chunks = sdk.gemini_stream(_stream(_stored(Dialect.GEMINI, "tools"), Dialect.GEMINI))
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    calls = [p for p in parts if p.function_call]
    assert calls[0].thought_signature == base64.b64decode("CiQBcsjafE9Uo0pC")
    assert calls[1].thought_signature is None


def test_replay_deltas_end_with_finish_and_end() -> None:
    """The replayed delta sequence starts with Start and usage and ends with Finish and End."""
    deltas = replay_deltas(_stored(Dialect.OPENAI, "text"))
    names = [type(d).__name__ for d in deltas]
    assert names[:2] == ["Start", "UsageSeen"]
    assert names[-2:] == ["Finish", "End"]
    assert [d.text for d in deltas if isinstance(d, Text)] == ["Hello", "! How can", " I help?"]


def test_a_call_without_arguments_replays_an_empty_object() -> None:
    """A tool call that streamed no argument text reaches an OpenAI caller with arguments "{}"."""
    entry = Entry(
        (ToolPiece("toolu_1", "get_time", "", ()),), FinishReason.TOOL_CALLS, None, None, "m", "t", "p", 0.0, None
    )
    completion = sdk.openai_final(_stream(entry, Dialect.OPENAI))
    call = (completion.choices[0].message.tool_calls or [])[0]
    assert (call.function.name, call.function.arguments) == ("get_time", "{}")


def _without_fresh_fields(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("id", "responseId", "created")}


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.value for d in DIALECTS])
def test_a_filled_body_template_is_the_whole_response_with_fresh_id_and_time(dialect: Dialect) -> None:
    """A body template filled for a hit is the body ``replay_body`` builds (tool calls and all), with a
    fresh response id of the form the provider's own has and the current ``created``; each fill its own
    id."""
    entry = _stored(Dialect.ANTHROPIC, "tools")
    template = body_template(entry, dialect)
    first, second = (orjson.loads(fill_body(template, dialect)) for _ in range(2))
    built = replay_body(entry, dialect, model=entry.model)
    assert _without_fresh_fields(first) == _without_fresh_fields(built)
    id_field = "responseId" if dialect is Dialect.GEMINI else "id"
    assert first[id_field] != second[id_field]
    assert first[id_field].startswith(id_prefix(dialect))
    if dialect is Dialect.GEMINI:  # Gemini's own responseId: URL-safe base64 (a built one is hex)
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", first[id_field])
    else:
        assert len(first[id_field]) == len(built[id_field])
    if dialect is Dialect.OPENAI:
        assert abs(first["created"] - time.time()) < 5


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.value for d in DIALECTS])
def test_a_body_filled_with_marks_made_ahead_has_that_id_and_time(dialect: Dialect) -> None:
    """``fill_body`` given a hit's id and time made before (``fresh_marks``) writes those, cut at its marks or
    not, and the body is the one a fill without them gives but for them."""
    entry = _stored(Dialect.ANTHROPIC, "tools")
    marks = fresh_marks(dialect)
    id_field = "responseId" if dialect is Dialect.GEMINI else "id"
    for kept in (template(entry, dialect, "body"), body_template(entry, dialect)):
        filled = orjson.loads(fill_body(kept, dialect, marks))
        assert _without_fresh_fields(filled) == _without_fresh_fields(orjson.loads(fill_body(kept, dialect)))
        assert b':"%s"' % filled[id_field].encode() == marks[0]
        if dialect is Dialect.OPENAI:
            assert b'"created":%d' % filled["created"] == marks[1]


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.value for d in DIALECTS])
def test_a_whole_body_kept_cut_at_its_marks_fills_as_its_bytes_do(dialect: Dialect) -> None:
    """The whole body a memory store keeps for its hits (``template``'s "body": cut at its id and time) fills
    to the body its bytes fill to (``body_template`` by replacement), but for the fresh id and time."""
    entry = _stored(Dialect.ANTHROPIC, "tools")
    kept = template(entry, dialect, "body")
    assert isinstance(kept, tuple)
    cut = orjson.loads(fill_body(kept, dialect))
    replaced = orjson.loads(fill_body(body_template(entry, dialect), dialect))
    id_field = "responseId" if dialect is Dialect.GEMINI else "id"
    assert cut[id_field] != replaced[id_field] and cut[id_field].startswith(id_prefix(dialect))
    assert _without_fresh_fields(cut) == _without_fresh_fields(replaced)
    if dialect is Dialect.OPENAI:
        assert abs(cut["created"] - time.time()) < 5


@pytest.mark.parametrize("dialect", DIALECTS, ids=[str(d) for d in DIALECTS])
def test_a_filled_stream_template_reads_as_the_replayed_stream_with_fresh_ids(dialect: Dialect) -> None:
    """A stream template filled for a hit is what the SDK reads from ``replay_stream``'s events (text,
    tool calls, finish, usage), with a fresh response id in every event of each fill."""
    entry = _stored(Dialect.ANTHROPIC, "tools")
    kept = template(entry, dialect, "stream_usage")
    first, second = (fill_body(kept, dialect) for _ in range(2))
    assert _read_stream(dialect, first) == _read_stream(dialect, _stream(entry, dialect))
    assert first != second
    if dialect is Dialect.OPENAI:
        chunks = [orjson.loads(line[6:]) for line in first.split(b"\n") if line.startswith(b"data: {")]
        assert len({chunk["id"] for chunk in chunks}) == 1
        assert chunks[0]["id"].startswith(id_prefix(dialect))
        assert all(abs(chunk["created"] - time.time()) < 5 for chunk in chunks)


def test_an_answer_quoting_the_marks_is_served_unchanged() -> None:
    """Text that holds a template's marks (the id mark, ``"created":`` and its number) is not touched by
    filling, by replacement or by the cut of a kept whole body: only the response's own id and time are."""
    mark = "sidecar-cached-answer-7f3c9a41e2d8b605"
    marks = f'{mark} "created":4242424242424242 :"{mark}"'
    entry = entry_from_response(
        {
            "id": None,
            "choices": [
                {"parts": [{"type": "text", "text": marks}], "finish_reason": FinishReason.STOP, "stop_sequence": None}
            ],
            "usage": None,
        },
        model="m",
        target="t",
        provider="p",
        stored_at=0.0,
        cost_usd=None,
    )
    assert entry is not None
    for kept in (body_template(entry, Dialect.OPENAI), template(entry, Dialect.OPENAI, "body")):  # bytes, cut
        body = orjson.loads(fill_body(kept, Dialect.OPENAI))
        assert body["choices"][0]["message"]["content"] == marks
        assert body["id"].startswith("chatcmpl-") and abs(body["created"] - time.time()) < 5


CITED_TEXT = "Crème brûlée — 東京 🍮 is cited here."
CITATION = {
    "url": "https://example.com/recipe",
    "title": "Recipe",
    "start": CITED_TEXT.index("cited"),
    "end": CITED_TEXT.index("cited") + 5,
}


def _cited_entry() -> Entry:
    return _whole_entry(CITED_TEXT)._replace(citations=(CITATION,))


def test_a_cited_entry_replays_its_citation_after_the_text_and_before_the_finish() -> None:
    """The replayed deltas carry one ``Cited`` between the last text and the ``Finish``, where a live
    stream reports its sources."""
    names = [type(d).__name__ for d in replay_deltas(_cited_entry())]
    assert names[-4:] == ["Text", "Cited", "Finish", "End"]


def test_a_cited_entry_streams_to_each_sdk_where_its_provider_puts_citations() -> None:
    """openai-python: one annotations chunk before the finish chunk, the span in characters; google-genai:
    the last fragment's citation_metadata, in bytes; the whole bodies cite the same text."""
    entry = decode(encode(_cited_entry()))
    chunks = sdk.openai_stream(_stream(entry, Dialect.OPENAI))
    deltas = [c.choices[0].delta.model_dump(exclude_none=True) for c in chunks if c.choices]
    (at,) = [i for i, delta in enumerate(deltas) if "annotations" in delta]
    assert chunks[at + 1].choices[0].finish_reason == "stop"
    span = deltas[at]["annotations"][0]["url_citation"]
    assert CITED_TEXT[span["start_index"] : span["end_index"]] == "cited"
    fragments = [
        genai_types.GenerateContentResponse.model_validate(orjson.loads(line[6:]))
        for line in _stream(entry, Dialect.GEMINI).split(b"\n")
        if line.startswith(b"data: ")
    ]
    assert [f.candidates[0].citation_metadata is not None for f in fragments][-2:] == [False, True]
    (citation,) = fragments[-1].candidates[0].citation_metadata.citations
    assert CITED_TEXT.encode()[citation.start_index : citation.end_index] == b"cited"
    whole = genai_types.GenerateContentResponse.model_validate(replay_body(entry, Dialect.GEMINI, model="m"))
    assert whole.candidates[0].citation_metadata.citations[0].start_index == citation.start_index
    message = openai.types.chat.ChatCompletion.model_validate(replay_body(entry, Dialect.OPENAI, model="m"))
    assert (message.choices[0].message.annotations or [])[0].url_citation.start_index == span["start_index"]


def test_an_anthropic_stream_template_is_cut_at_its_one_id() -> None:
    """An Anthropic stream names its id once (``message_start``): its template is cut there (a ``Cut`` of two
    pieces: one join a hit, no scan of its bytes); a Gemini stream, naming it in every fragment, stays the
    bytes ``fill_body`` replaces it in."""
    entry = _stored(Dialect.ANTHROPIC, "tools")
    kept = template(entry, Dialect.ANTHROPIC, "stream_usage")
    assert isinstance(kept, tuple) and len(kept) == 2
    assert b"message_start" in kept[0] and b"message_start" not in kept[1]
    assert isinstance(template(entry, Dialect.GEMINI, "stream_usage"), bytes)
