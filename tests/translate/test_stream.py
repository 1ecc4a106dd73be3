"""The translator's direct path for a plain text delta (``StreamTranslator.relay_text``): the caller gets
the bytes the general path (``feed``: decode, encode, render) gives, and every other event is left to
the general path; for chat callers and for a Responses API caller (``openai-responses``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sidecar.dialects import Operation
from sidecar.dialects.registry import dialect_named
from sidecar.sse import SSEEvent, SSEParser
from sidecar.translate import StreamTranslator, new_stream_translator

from .streams import UPSTREAM

# what two translators made apart differ in: the time (chat's ``created``, a Responses ``created_at``), the
# ids of a Responses answer's items (made per item)
_CREATED = re.compile(rb'"created(_at)?":\d+,|(?<="id":")(msg|rs|fc)_[0-9a-f]+|(?<="item_id":")(msg|rs|fc)_[0-9a-f]+')
CHAT = [(a, b) for a in ("openai", "anthropic", "gemini") for b in ("openai", "anthropic", "gemini") if a != b]
PAIRS = [*CHAT, ("anthropic", "openai-responses"), ("gemini", "openai-responses")]
TEXTS = [
    "tok ",
    "héllo wörld 🌍 日本語",
    "",
    'quote " backslash \\ slash / <b>&amp;</b>',
    "line\nbreak\ttab\r",
    "\x00\x1f\u2028",
]


def translator(source: str, caller: str) -> StreamTranslator:
    """``caller`` ``openai-responses``: an OpenAI caller of the Responses API."""
    dialect, _, api = caller.partition("-")
    return new_stream_translator(
        source=dialect_named(source),
        target=dialect_named(dialect),
        operation=Operation.RESPONSES if api else Operation.CHAT,
        model="m",
        include_usage=True,
        request={"model": "m", "input": "hi"},
    )


def text_event(source: str, text: str) -> bytes:
    """One upstream text delta carrying ``text``, as the dialect sends it."""
    if source == "anthropic":
        body: Any = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
        return f"event: content_block_delta\ndata: {json.dumps(body)}\n\n".encode()
    if source == "openai":
        choice = {"index": 0, "delta": {"content": text}, "logprobs": None, "finish_reason": None}
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "x", "choices": [choice]}
    else:
        body = {
            "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}],
            "responseId": "r1",
        }
    return f"data: {json.dumps(body)}\n\n".encode()


def opening(source: str) -> bytes:
    """The upstream's events before its first text delta: the answer (and a text block) started."""
    if source == "anthropic":
        start = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3, "output_tokens": 1}}}
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        return f"event: message_start\ndata: {json.dumps(start)}\n\n".encode() + (
            f"event: content_block_start\ndata: {json.dumps(block)}\n\n".encode()
        )
    if source == "openai":
        choice = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
        body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "x", "choices": [choice]}
        return f"data: {json.dumps(body)}\n\n".encode()
    return text_event("gemini", "first")


def general(translator: StreamTranslator, event: SSEEvent) -> bytes:
    """The caller's bytes for ``event`` through the common deltas (``created`` left out: two translators
    made in different seconds differ in it)."""
    return _CREATED.sub(b"", b"".join(caller_event.encode() for caller_event in translator.feed(event)))


def relayed(translator: StreamTranslator, event: SSEEvent) -> tuple[bytes, bool]:
    """What the relay sends for ``event`` when no tap listens, and whether the direct path took it."""
    assert translator.relay_text is not None
    direct = translator.relay_text(event)
    return (_CREATED.sub(b"", direct), True) if direct is not None else (general(translator, event), False)


def events(data: bytes) -> list[SSEEvent]:
    parser = SSEParser()
    return parser.feed(data) + parser.close()


@pytest.mark.parametrize(("source", "caller"), PAIRS)
def test_a_text_delta_takes_the_direct_path_and_gives_the_general_paths_bytes(source: str, caller: str) -> None:
    """For every pair and text (unicode, empty, JSON escapes, control characters), a text delta after the
    opening is turned into the caller's bytes directly, equal to what decode + encode + render give."""
    plain, direct = translator(source, caller), translator(source, caller)
    for event in events(opening(source)):
        assert general(direct, event) == general(plain, event)
    for text in TEXTS:
        (event,) = events(text_event(source, text))
        expected = general(plain, event)
        got, took = relayed(direct, event)
        assert got == expected, text
        assert took or not text  # an empty Gemini/OpenAI text is no delta at all: the general path's


@pytest.mark.parametrize(("source", "caller"), PAIRS)
@pytest.mark.parametrize("scenario", ["text", "tools"])
def test_a_whole_stream_reads_the_same_on_both_paths(source: str, caller: str, scenario: str) -> None:
    """A provider's whole stream (text; thinking, text and tool calls), relayed with the direct path,
    gives the caller the same bytes, and the translator sees the same usage, finish and id."""
    plain, direct = translator(source, caller), translator(source, caller)
    upstream = events(UPSTREAM[(source, scenario)].encode())
    expected = b"".join(general(plain, event) for event in upstream) + b"".join(e.encode() for e in plain.finish())
    got = b"".join(relayed(direct, event)[0] for event in upstream) + b"".join(e.encode() for e in direct.finish())
    assert _CREATED.sub(b"", got) == _CREATED.sub(b"", expected)
    assert (direct.usage, direct.finish_reason, direct.response_id) == (
        plain.usage,
        plain.finish_reason,
        plain.response_id,
    )


NOT_TEXT = {
    "anthropic": [
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"input_json_delta","partial_json":"{}"}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"x"},"usage":{"output_tokens":3}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"x"},"error":{"type":"overloaded_error","message":"m"}}\n\n',
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":5,'
        b'"delta":{"type":"text_delta","text":"x"}}\n\n',
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
        b'"usage":{"output_tokens":7}}\n\n',
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"busy"}}\n\n',
        b'event: ping\ndata: {"type":"ping"}\n\n',
    ],
    "openai": [
        b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"f",'
        b'"arguments":""}}]},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"think"},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"refusal":"no"},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,'
        b'"completion_tokens":1}}\n\n',
        b'data: {"choices":[{"index":1,"delta":{"content":"x"}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"x"},"logprobs":{"content":[{"token":"x",'
        b'"logprob":-0.5,"top_logprobs":[]}]},"finish_reason":null}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"x","annotations":[{"type":"url_citation",'
        b'"url_citation":{"url":"https://a.test","title":"A","start_index":0,"end_index":1}}]}}]}\n\n',
        b'data: {"error":{"message":"busy","type":"server_error"}}\n\n',
        b'event: error\ndata: {"choices":[{"index":0,"delta":{"content":"x"}}]}\n\n',
        b"data: [DONE]\n\n",
    ],
    "gemini": [
        b'data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"index":0,"logprobsResult":'
        b'{"chosenCandidates":[{"token":"x","logProbability":-0.5}],"topCandidates":[]}}]}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"index":0,"citationMetadata":'
        b'{"citationSources":[{"startIndex":0,"endIndex":1,"uri":"https://a.test"}]}}]}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP","index":0}]}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"text":"x","thought":true}]},"index":0}]}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"text":"x","thoughtSignature":"s"}]},"index":0}]}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]},"index":0}]}\n\n',
        b'data: {"candidates":[{"content":{"parts":[{"text":"a"},{"text":"b"}]},"index":0}]}\n\n',
        b'data: {"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}}\n\n',
    ],
}


@pytest.mark.parametrize(("source", "caller"), PAIRS)
def test_every_other_event_is_left_to_the_general_path(source: str, caller: str) -> None:
    """Tool calls, reasoning, refusals, finishes, usage, errors, the end, another block's or choice's
    text, text with its tokens' log-probabilities or with citations: the direct path declines each (None),
    and the general path then gives what it always did."""
    plain, direct = translator(source, caller), translator(source, caller)
    for event in events(opening(source)):
        general(plain, event), general(direct, event)
    for data in NOT_TEXT[source]:
        (event,) = events(data)
        assert direct.relay_text is not None
        assert direct.relay_text(event) is None, data
        assert general(direct, event) == general(plain, event), data


@pytest.mark.parametrize("caller", ["openai", "anthropic", "gemini"])
def test_a_text_delta_before_the_answer_started_is_left_to_the_general_path(caller: str) -> None:
    """Before the upstream's opening event (no text block open, no first chunk) nothing is read directly."""
    for source in ("openai", "anthropic", "gemini"):
        if source != caller:
            (event,) = events(text_event(source, "early"))
            direct = translator(source, caller)
            assert direct.relay_text is not None
            assert direct.relay_text(event) is None


@pytest.mark.parametrize("caller", ["openai", "anthropic"])
def test_a_gemini_text_fragment_with_its_usage_takes_the_direct_path_and_reports_the_same_usage(
    caller: str,
) -> None:
    """Gemini repeats ``usageMetadata``, the totals so far, on every fragment: a text fragment after the
    first is read directly whether its counts are the last one's or new (its usage is kept, unread, until
    the translator's usage is asked or the next fragment read whole); the caller's bytes and the usage
    seen are the general path's."""
    plain, direct = translator("gemini", caller), translator("gemini", caller)
    usage = {"promptTokenCount": 19, "totalTokenCount": 19}
    later = {"promptTokenCount": 19, "candidatesTokenCount": 3, "totalTokenCount": 22}

    def fragment(text: str, metadata: dict[str, int]) -> SSEEvent:
        body = {
            "candidates": [{"content": {"parts": [{"text": text}]}, "index": 0}],
            "usageMetadata": metadata,
            "responseId": "r1",
        }
        (event,) = events(f"data: {json.dumps(body)}\n\n".encode())
        return event

    taken = []
    for event in (fragment("a", usage), fragment("b", usage), fragment("c", later), fragment("d", later)):
        expected = general(plain, event)
        got, took = relayed(direct, event)
        assert got == expected
        taken.append(took)
    assert taken == [False, True, True, True]
    assert direct.usage == plain.usage


@pytest.mark.parametrize("caller", ["openai", "anthropic"])
def test_a_gemini_text_fragments_usage_read_directly_is_the_one_the_caller_is_told(caller: str) -> None:
    """After an opening fragment with no text, text fragments with new counts are read directly: the first
    opens the answer (an Anthropic caller's ``message_start`` shows its 19 prompt tokens, not the opening's
    18), one after a thought goes through the encoder holding the thinking; a finishing fragment has no
    usage: every event's bytes and the closing usage (the last text fragment's 7 output tokens) are the
    general path's."""
    plain, direct = translator("gemini", caller), translator("gemini", caller)

    def fragment(part: dict[str, Any], usage: tuple[int, int] | None, finish: str | None = None) -> SSEEvent:
        candidate: dict[str, Any] = {"content": {"parts": [part]}, "index": 0}
        body: dict[str, Any] = {"candidates": [candidate], "responseId": "r1"}
        if finish:
            candidate["finishReason"] = finish
        if usage is not None:
            body["usageMetadata"] = {"promptTokenCount": usage[0], "candidatesTokenCount": usage[1]}
        (event,) = events(f"data: {json.dumps(body)}\n\n".encode())
        return event

    stream = [
        fragment({"text": ""}, (18, 0)),
        fragment({"text": "a"}, (19, 1)),
        fragment({"text": "t", "thought": True}, (19, 2)),
        fragment({"text": "b"}, (19, 5)),
        fragment({"text": "c"}, (19, 7)),
        fragment({"text": ""}, None, "STOP"),
    ]
    taken = []
    for event in stream:
        got, took = relayed(direct, event)
        assert got == general(plain, event)
        taken.append(took)
    assert taken == [False, True, False, True, True, False]
    closing = b"".join(_CREATED.sub(b"", event.encode()) for event in direct.finish())
    assert closing == b"".join(_CREATED.sub(b"", event.encode()) for event in plain.finish())
    assert b'"completion_tokens":7' in closing or b'"output_tokens":7' in closing
