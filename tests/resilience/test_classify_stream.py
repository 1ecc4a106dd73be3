"""classify_stream_event: errors inside a 200 stream, in each provider's shape; ordinary events are none."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.dialects import Dialect
from sidecar.dialects.registry import DIALECTS
from sidecar.resilience.classify import (
    Outcome,
    OutcomeKind,
    classify_stream_event,
)

OPENAI, ANTHROPIC, GEMINI = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI


def test_anthropic_overloaded_error_event() -> None:
    """Anthropic `event: error` with overloaded_error after a 200: classified like a 529."""
    data = b'{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'
    outcome = classify_stream_event(ANTHROPIC, "error", data)
    assert outcome is not None
    assert (outcome.kind, outcome.status, outcome.error_type, outcome.breaker_failure) == (
        OutcomeKind.FALLBACK,
        529,
        "overloaded",
        True,
    )


def test_anthropic_rate_limit_error_event() -> None:
    """Anthropic rate_limit_error in the stream: classified like a 429."""
    data = b'{"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}}'
    outcome = classify_stream_event(ANTHROPIC, "error", data)
    assert outcome is not None
    assert (outcome.kind, outcome.rate_limited) == (OutcomeKind.RETRY_SAME, True)


def test_anthropic_error_event_with_garbage_data() -> None:
    """An Anthropic error event whose data is not JSON is still an error: stream_error_event, its detail
    saying it could not be decoded, with its first bytes escaped (before wave 36: no detail)."""
    outcome = classify_stream_event(ANTHROPIC, "error", b"\x00garbage")
    assert outcome is not None
    assert (outcome.kind, outcome.error_type, outcome.breaker_failure, outcome.detail) == (
        OutcomeKind.FALLBACK,
        "stream_error_event",
        True,
        "upstream sent an error event that could not be decoded, in a stream answered HTTP 200;"
        " its first bytes: '\\x00garbage'",
    )


@pytest.mark.parametrize(
    ("event", "data"),
    [
        ("ping", b'{"type": "ping"}'),
        (
            "content_block_delta",
            b'{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", '
            b'"text": "an \\"error\\" occurred"}}',
        ),
        ("message_stop", b'{"type": "message_stop"}'),
    ],
)
def test_anthropic_ordinary_events_are_not_errors(event: str, data: bytes) -> None:
    """Ordinary Anthropic events, even with 'error' in their text, give None."""
    assert classify_stream_event(ANTHROPIC, event, data) is None


@pytest.mark.parametrize(
    "data",
    [
        b'{"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, '
        b'"delta": {"content": "Hi"}, "finish_reason": null}]}',
        b"[DONE]",
        b'{"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]}',
    ],
)
def test_openai_ordinary_chunks_are_not_errors(data: bytes) -> None:
    """OpenAI chunks, [DONE], and a finish_reason 'error' with no error object give None."""
    assert classify_stream_event(OPENAI, None, data) is None


def test_openai_error_chunk() -> None:
    """An OpenAI data payload with an error object (server_error): classified like a 500."""
    data = b'{"error": {"message": "The server had an error.", "type": "server_error"}}'
    outcome = classify_stream_event(OPENAI, None, data)
    assert outcome is not None
    assert (outcome.kind, outcome.status, outcome.breaker_failure) == (OutcomeKind.FALLBACK, 500, True)


def test_openrouter_style_error_chunk_with_numeric_code() -> None:
    """An error object with a numeric HTTP code (OpenRouter-style) uses that code."""
    data = b'{"error": {"code": 502, "message": "Provider returned error"}, "choices": []}'
    outcome = classify_stream_event(OPENAI, None, data)
    assert outcome is not None
    assert (outcome.status, outcome.kind) == (502, OutcomeKind.FALLBACK)


def test_gemini_error_chunk() -> None:
    """A Gemini SSE data line with an error (503 UNAVAILABLE): classified like a 503."""
    data = b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}'
    outcome = classify_stream_event(GEMINI, None, data)
    assert outcome is not None
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.FALLBACK, "overloaded")


def test_gemini_error_chunk_with_status_only() -> None:
    """A Gemini error with only the RPC status name: RESOURCE_EXHAUSTED is classified like a 429."""
    data = b'{"error": {"message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}'
    outcome = classify_stream_event(GEMINI, None, data)
    assert outcome is not None
    assert outcome.kind is OutcomeKind.RETRY_SAME


def test_unmappable_stream_error_is_a_generic_stream_error() -> None:
    """An error object that maps to no status: FALLBACK stream_error_event with a breaker failure."""
    outcome = classify_stream_event(OPENAI, None, b'{"error": {"message": "boom"}}')
    assert outcome is not None
    assert (outcome.error_type, outcome.detail, outcome.breaker_failure) == (
        "stream_error_event",
        "boom",
        True,
    )


def test_a_stream_error_given_as_a_string_is_a_stream_error() -> None:
    """``{"error": "text"}`` in a stream (Ollama and other OpenAI-compatible servers) is an error event."""
    outcome = classify_stream_event(OPENAI, None, b'{"error": "model unloaded"}')
    assert outcome is not None and (outcome.error_type, outcome.detail) == ("stream_error_event", "model unloaded")


@settings(deadline=None)
@given(
    dialect=st.sampled_from(DIALECTS),
    event=st.none() | st.text(max_size=10),
    data=st.binary(max_size=200),
)
def test_stream_event_never_raises(dialect: Dialect, event: str | None, data: bytes) -> None:
    """Any event name and data: None or an Outcome, never an exception."""
    outcome = classify_stream_event(dialect, event, data)
    assert outcome is None or isinstance(outcome, Outcome)


def test_outcome_constructors_for_the_caller() -> None:
    """Outcome.success() and Outcome.failure() build what the relay reports itself (truncation, bad JSON)."""
    assert Outcome.success() == Outcome(OutcomeKind.SUCCESS, 200, "ok")
    cut = Outcome.failure("stream_truncated", "ended without message_stop")
    assert (cut.kind, cut.error_type, cut.breaker_failure, cut.rate_limited, cut.status) == (
        OutcomeKind.FALLBACK,
        "stream_truncated",
        True,
        False,
        None,
    )
    assert len(Outcome.failure("malformed_response", "x" * 10_000).detail) == 300
