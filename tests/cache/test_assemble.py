"""Assembling a stream's deltas into an entry: original fragment boundaries, tool calls, reasoning and
signatures, usage; and no entry unless the stream ended cleanly with a finish reason."""

from __future__ import annotations

import base64
import json

from sidecar.cache.entry import ReasoningPiece, TextPiece, ToolPiece, unstorable
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason, Usage

from ..translate.streams import ANTHROPIC_TOOLS, GEMINI_TOOLS, OPENAI_TEXT, OPENAI_TOOLS
from .helpers import assemble, assembler_for


def test_text_keeps_its_fragment_boundaries() -> None:
    """An OpenAI text stream becomes one text piece cut where the chunks were."""
    entry = assemble(Dialect.OPENAI, OPENAI_TEXT)
    assert entry is not None
    assert entry.pieces == (TextPiece("Hello! How can I help?", (5, 9, 8)),)
    assert entry.finish_reason is FinishReason.STOP
    assert entry.usage == Usage(19, 7, 4, 0, 0)
    assert entry.streamed


def test_tool_arguments_keep_their_fragments() -> None:
    """Each tool call is a piece with the arguments' raw text and its fragment lengths."""
    entry = assemble(Dialect.OPENAI, OPENAI_TOOLS)
    assert entry is not None
    text, weather, time_call = entry.pieces
    assert text == TextPiece("Let me check.", (13,))
    assert isinstance(weather, ToolPiece)
    assert (weather.id, weather.name) == ("call_aAbB1", "get_weather")
    assert json.loads(weather.arguments) == {"location": "Boston, MA", "unit": "celsius"}
    assert weather.cuts == tuple(len(f) for f in ('{"location"', ': "Boston, MA", ', '"unit": "celsius"}'))
    assert isinstance(time_call, ToolPiece)
    assert time_call.name == "get_time"
    assert entry.finish_reason is FinishReason.TOOL_CALLS


def test_anthropic_thinking_is_a_signed_reasoning_piece() -> None:
    """A thinking block becomes a reasoning piece with its signature, before the text and calls."""
    entry = assemble(Dialect.ANTHROPIC, ANTHROPIC_TOOLS)
    assert entry is not None
    assert entry.pieces[0] == ReasoningPiece("User wants weather.", "EqQBCgIYAhIM", "anthropic", False, (19,))
    assert [type(p).__name__ for p in entry.pieces] == ["ReasoningPiece", "TextPiece", "ToolPiece", "ToolPiece"]
    assert entry.usage is not None and entry.usage.output_tokens == 41


def test_gemini_call_signature_is_its_own_piece_before_the_call() -> None:
    """A thoughtSignature on a Gemini function call is a text-less reasoning piece right before it."""
    entry = assemble(Dialect.GEMINI, GEMINI_TOOLS)
    assert entry is not None
    kinds = [type(p).__name__ for p in entry.pieces]
    assert kinds == ["TextPiece", "ReasoningPiece", "ToolPiece", "ToolPiece"]
    assert entry.pieces[1] == ReasoningPiece("", "CiQBcsjafE9Uo0pC", "gemini", False, ())


def test_a_stream_that_did_not_end_cleanly_makes_no_entry() -> None:
    """Without the relay's clean end, nothing is stored, whatever was received."""
    assert assemble(Dialect.OPENAI, OPENAI_TEXT, clean=False) is None


def test_a_stream_cut_before_its_finish_makes_no_entry() -> None:
    """A stream with no finish reason makes no entry even if the relay called its end clean."""
    partial = "data: {".join(OPENAI_TEXT.split("data: {", 3)[:3])
    assert assemble(Dialect.OPENAI, partial) is None


def test_an_error_event_poisons_the_stream() -> None:
    """After an in-stream error event the answer is never stored."""
    broken = OPENAI_TEXT.replace("data: [DONE]", 'data: {"error": {"message": "overloaded"}}\n\ndata: [DONE]')
    assembler = assembler_for(Dialect.OPENAI, broken)
    assert assembler.failed
    assert assemble(Dialect.OPENAI, broken) is None


def test_an_answer_larger_than_the_store_takes_is_dropped_early() -> None:
    """Past ``max_bytes`` the assembler stops collecting and makes no entry."""
    assembler = assembler_for(Dialect.OPENAI, OPENAI_TEXT, max_bytes=10)
    assert assembler.failed
    assert assemble(Dialect.OPENAI, OPENAI_TEXT, max_bytes=10) is None


def test_gemini_thought_with_own_signature_is_one_piece() -> None:
    """A Gemini thought part carrying its own signature is one signed reasoning piece."""
    sig = base64.b64encode(b"s").decode()
    body = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": "Plan.", "thought": True, "thoughtSignature": sig}]},
                "finishReason": "STOP",
                "index": 0,
            }
        ]
    }
    text = "data: " + json.dumps(body) + "\n\n"
    assembler = assembler_for(Dialect.GEMINI, text)
    entry = assembler.entry(ended_cleanly=True, model="m", target="t", provider="p", stored_at=0, cost_usd=None)
    assert entry is not None
    assert entry.pieces == (ReasoningPiece("Plan.", sig, "gemini", False, (5,)),)


def test_a_streamed_refusal_is_not_storable() -> None:
    """An OpenAI refusal streamed as text ends as a content-filter stop, which is never stored."""
    refusal = (
        OPENAI_TEXT.replace('"content": "Hello"', '"refusal": "Hello"')
        .replace('"content": "! How can"', '"refusal": "! How can"')
        .replace('"content": " I help?"', '"refusal": " I help?"')
    )
    entry = assemble(Dialect.OPENAI, refusal)
    assert entry is not None
    assert entry.finish_reason is FinishReason.CONTENT_FILTER
    assert unstorable(entry, store_truncated=True) == "refused"


def test_a_stream_s_citations_are_kept_when_inside_its_text() -> None:
    """An OpenAI search model's annotations chunk (before its finish chunk) is kept with the entry; a
    citation whose span runs past the answer's text (a decoder cannot bound it) is left out."""
    annotations = [
        {
            "type": "url_citation",
            "url_citation": {"url": "https://a.test", "title": "A", "start_index": 7, "end_index": 10},
        },
        {
            "type": "url_citation",
            "url_citation": {"url": "https://b.test", "title": "B", "start_index": 7, "end_index": 99},
        },
    ]
    chunk = {"choices": [{"index": 0, "delta": {"annotations": annotations}, "finish_reason": None}]}
    events = OPENAI_TEXT.split("\n\n")
    finish = next(i for i, event in enumerate(events) if '"finish_reason": "stop"' in event)
    events.insert(finish, f"data: {json.dumps(chunk)}")
    entry = assemble(Dialect.OPENAI, "\n\n".join(events))
    assert entry is not None and entry.pieces == (TextPiece("Hello! How can I help?", (5, 9, 8)),)
    assert entry.citations == ({"url": "https://a.test", "title": "A", "start": 7, "end": 10},)
