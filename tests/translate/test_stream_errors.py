"""Mid-stream failures reach the caller as the error event its SDK raises on.

``stream_error_event`` is checked against each official SDK after some good content; upstream error
events (Anthropic ``event: error``, an OpenAI ``{"error": ...}`` line, a Gemini error chunk) are
translated into the caller's error event and nothing is sent after it.
"""

from __future__ import annotations

import itertools

import anthropic
import openai
import pytest
from google.genai import errors as genai_errors

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.errors import ErrorCondition
from sidecar.dialects.registry import DIALECTS, TRANSLATIONS
from sidecar.sse import SSEEvent
from sidecar.translate import new_stream_translator, stream_error_event

from . import sdk
from .streams import UPSTREAM

GOOD_PREFIX = {
    Dialect.OPENAI: b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n',
    Dialect.ANTHROPIC: b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
    b'"type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,'
    b'"usage":{"input_tokens":3,"output_tokens":1}}}\n\n',
    Dialect.GEMINI: b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}]}\n\n',
}


def _consume(dialect: Dialect, raw: bytes) -> None:
    if dialect is Dialect.OPENAI:
        sdk.openai_stream(raw)
    elif dialect is Dialect.ANTHROPIC:
        sdk.anthropic_final(raw)
    else:
        sdk.gemini_stream(raw)


def test_openai_sdk_raises_on_error_event() -> None:
    """openai-python raises APIError carrying our message on a ``data: {"error": ...}`` line."""
    raw = GOOD_PREFIX[Dialect.OPENAI] + stream_error_event(Dialect.OPENAI, 502, "upstream went away")
    with pytest.raises(openai.APIError, match="upstream went away"):
        sdk.openai_stream(raw)


def test_anthropic_sdk_raises_on_error_event() -> None:
    """The Anthropic SDK raises APIStatusError carrying our message and type on ``event: error``."""
    raw = GOOD_PREFIX[Dialect.ANTHROPIC] + stream_error_event(Dialect.ANTHROPIC, 529, "Overloaded")
    with pytest.raises(anthropic.APIStatusError, match="Overloaded") as info:
        sdk.anthropic_final(raw)
    assert info.value.body["error"]["type"] == "overloaded_error"


def test_gemini_sdk_raises_on_error_chunk() -> None:
    """google-genai raises ServerError (5xx) / ClientError (4xx) on a ``{"error": ...}`` chunk."""
    raw = GOOD_PREFIX[Dialect.GEMINI] + stream_error_event(Dialect.GEMINI, 503, "The model is overloaded.")
    with pytest.raises(genai_errors.ServerError, match="The model is overloaded") as info:
        sdk.gemini_stream(raw)
    assert info.value.code == 503
    raw = GOOD_PREFIX[Dialect.GEMINI] + stream_error_event(Dialect.GEMINI, 429, "quota")
    with pytest.raises(genai_errors.ClientError):
        sdk.gemini_stream(raw)


UPSTREAM_ERRORS = {
    Dialect.OPENAI: 'data: {"error":{"message":"Rate limit reached","type":"rate_limit_exceeded",'
    '"param":null,"code":"rate_limit_exceeded"}}\n\n',
    Dialect.ANTHROPIC: 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
    '"message":"Overloaded"}}\n\n',
    Dialect.GEMINI: 'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\n\n',
}
STATUS = {Dialect.OPENAI: 429, Dialect.ANTHROPIC: 529, Dialect.GEMINI: 503}
CONDITION = {
    Dialect.OPENAI: ErrorCondition.RATE_LIMITED,
    Dialect.ANTHROPIC: ErrorCondition.OVERLOADED,
    Dialect.GEMINI: ErrorCondition.OVERLOADED,
}
PAIRS = list(itertools.permutations(DIALECTS, 2))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
def test_upstream_error_event_becomes_caller_error(source: Dialect, target: Dialect) -> None:
    """An upstream in-stream error becomes the caller's error event (message kept, in the caller's provider's
    type and code for its condition) and ends the output."""
    translator = new_stream_translator(
        source=source, target=target, operation=Operation.CHAT, model="m", include_usage=True
    )
    good = sdk.events(UPSTREAM[(source.value, "text")])[:2]
    out: list[SSEEvent] = []
    for event in [*good, *sdk.events(UPSTREAM_ERRORS[source]), *sdk.events(UPSTREAM[(source.value, "text")])]:
        out += translator.feed(event)
    out += translator.finish()
    error = out[-1].encode()
    assert (
        error
        == TRANSLATIONS[target].error_event(STATUS[source], _message(source), condition=CONDITION[source]).encode()
    )
    assert sum(1 for e in out if b"error" in e.data) == 1
    with pytest.raises((openai.APIError, anthropic.APIStatusError, genai_errors.APIError)):
        _consume(target, sdk.render(out))


def _message(source: Dialect) -> str:
    return {
        Dialect.OPENAI: "Rate limit reached",
        Dialect.ANTHROPIC: "Overloaded",
        Dialect.GEMINI: "The model is overloaded.",
    }[source]


def test_garbage_upstream_event_is_skipped() -> None:
    """An upstream event that is not JSON is skipped without raising; the stream goes on."""
    translator = new_stream_translator(
        source=Dialect.GEMINI, target=Dialect.OPENAI, operation=Operation.CHAT, model="m", include_usage=False
    )
    assert translator.feed(SSEEvent(b"<html>oops</html>")) == []
    assert isinstance(translator.feed(SSEEvent(b'{"candidates": 5}')), list)  # unreadable shape: no raise
    out = translator.feed(SSEEvent(b'{"candidates": [{"content": {"parts": [{"text": "ok"}]}}]}'))
    assert any(b'"content":"ok"' in e.data for e in out)
