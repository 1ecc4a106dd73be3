"""Stream translators, event by event: the sequences each caller dialect expects."""

from __future__ import annotations

import json
from typing import Any

from sidecar.dialects import Dialect, Operation
from sidecar.sse import SSEEvent
from sidecar.translate import new_stream_translator

from . import sdk
from .streams import UPSTREAM


def _run(source: Dialect, target: Dialect, scenario: str, include_usage: bool = True) -> list[SSEEvent]:
    translator = new_stream_translator(
        source=source, target=target, operation=Operation.CHAT, model="m", include_usage=include_usage
    )
    out: list[SSEEvent] = []
    for event in sdk.events(UPSTREAM[(source.value, scenario)]):
        out += translator.feed(event)
    return out + translator.finish()


def _json(events: list[SSEEvent]) -> list[Any]:
    return [json.loads(e.data) for e in events if e.data != b"[DONE]"]


def test_openai_caller_sequence() -> None:
    """Role chunk first (with ``refusal: null``, as OpenAI's), tool calls announced with id/type/name,
    finish chunk, usage chunk, [DONE]; asked for usage, every chunk before the usage chunk has
    ``"usage": null``, as OpenAI's."""
    events = _run(Dialect.ANTHROPIC, Dialect.OPENAI, "tools")
    chunks = _json(events)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all("usage" in chunk and chunk["usage"] is None for chunk in chunks[:-1])
    first_calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if c["choices"] and "tool_calls" in c["choices"][0]["delta"]
    ]
    announced = [c for c in first_calls if "id" in c]
    assert [(c["index"], c["type"], c["function"]["name"]) for c in announced] == [
        (0, "function", "get_weather"),
        (1, "function", "get_time"),
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == 123
    assert events[-1].data == b"[DONE]"
    assert all(e.event is None for e in events)


def test_anthropic_caller_sequence() -> None:
    """message_start, start/delta/stop per block (consecutive indexes), message_delta, message_stop."""
    events = _run(Dialect.OPENAI, Dialect.ANTHROPIC, "tools")
    names = [e.event for e in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    starts = [json.loads(e.data) for e in events if e.event == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [
        (0, "text"),
        (1, "tool_use"),
        (2, "tool_use"),
    ]
    stops = [json.loads(e.data)["index"] for e in events if e.event == "content_block_stop"]
    assert stops == [0, 1, 2]
    for e in events:  # the SSE event name always equals the payload type
        assert json.loads(e.data)["type"] == e.event


def test_anthropic_message_start_carries_early_input_usage() -> None:
    """Gemini reports the prompt tokens in its first fragment: message_start shows them."""
    events = _run(Dialect.GEMINI, Dialect.ANTHROPIC, "tools")
    assert json.loads(events[0].data)["message"]["usage"]["input_tokens"] == 82


def test_anthropic_message_start_counts_the_first_output_token() -> None:
    """As Anthropic's own stream, a translated one's message_start says ``output_tokens: 1`` when content
    follows (it said 0, so a replayed hit of the same answer, which says 1, differed from it); 0 when the
    stream closes without any content."""
    for source in (Dialect.OPENAI, Dialect.GEMINI):
        events = _run(source, Dialect.ANTHROPIC, "text")
        assert json.loads(events[0].data)["message"]["usage"]["output_tokens"] == 1
    translator = new_stream_translator(
        source=Dialect.OPENAI, target=Dialect.ANTHROPIC, operation=Operation.CHAT, model="m", include_usage=True
    )
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    finish = {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    empty = sdk.events(f"data: {json.dumps(finish)}\n\ndata: [DONE]\n\n")
    out = [event for raw in empty for event in translator.feed(raw)] + translator.finish()
    start = next(json.loads(e.data) for e in out if e.event == "message_start")
    assert start["message"]["usage"]["output_tokens"] == 0


def test_gemini_caller_gets_whole_function_calls_last() -> None:
    """Gemini never streams arguments: calls come whole, with finishReason and usage, in the last fragment."""
    fragments = _json(_run(Dialect.ANTHROPIC, Dialect.GEMINI, "tools"))
    assert fragments[0]["candidates"][0]["content"]["parts"] == [{"text": "User wants weather.", "thought": True}]
    assert fragments[1]["candidates"][0]["content"]["parts"] == [{"text": "Let me check."}]
    last = fragments[-1]
    calls = [p["functionCall"] for p in last["candidates"][0]["content"]["parts"]]
    assert [(c["name"], c["args"]) for c in calls] == [
        ("get_weather", {"location": "Boston, MA", "unit": "celsius"}),
        ("get_time", {"tz": "America/New_York"}),
    ]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"]["promptTokenCount"] == 82


def test_anthropic_ping_produces_nothing_and_thinking_becomes_reasoning_content() -> None:
    """ping events translate to no caller event; a thinking block reaches an OpenAI caller as
    ``reasoning_content`` (its signature, which only Anthropic can read, does not)."""
    translator = new_stream_translator(
        source=Dialect.ANTHROPIC,
        target=Dialect.OPENAI,
        operation=Operation.CHAT,
        model="m",
        include_usage=False,
    )
    events = sdk.events(UPSTREAM[("anthropic", "tools")])
    translator.feed(events[0])
    out = [e for event in events[1:5] for e in translator.feed(event)]  # thinking start, delta, signature, stop
    deltas = [json.loads(e.data)["choices"][0]["delta"] for e in out]  # the role chunk opens the answer
    assert deltas == [
        {"role": "assistant", "content": "", "refusal": None},
        {"reasoning_content": "User wants weather."},
    ]
    assert all("usage" not in json.loads(e.data) for e in out)  # not asked for usage: no usage member
    assert translator.feed(SSEEvent(b'{"type": "ping"}', "ping")) == []


def test_translator_telemetry() -> None:
    """The translator reports the upstream's id, raw finish reason and cumulative usage."""
    translator = new_stream_translator(
        source=Dialect.OPENAI, target=Dialect.GEMINI, operation=Operation.CHAT, model="m", include_usage=False
    )
    for event in sdk.events(UPSTREAM[("openai", "tools")]):
        translator.feed(event)
    assert translator.response_id == "chatcmpl-9x8Yz"
    assert translator.finish_reason == "tool_calls"
    assert translator.usage is not None
    assert translator.usage.total_tokens == 123


def test_openai_streamed_refusal_is_a_content_filter_stop() -> None:
    """Refusal deltas from OpenAI end as a content-filter stop: Anthropic's stop_reason refusal."""
    chunks = [
        {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "refusal": ""}, "finish_reason": None}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"refusal": "I can't"}, "finish_reason": None}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {"refusal": " help."}, "finish_reason": None}]},
        {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    upstream = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    translator = new_stream_translator(
        source=Dialect.OPENAI, target=Dialect.ANTHROPIC, operation=Operation.CHAT, model="m", include_usage=True
    )
    out = [e for event in sdk.events(upstream) for e in translator.feed(event)] + translator.finish()
    message = sdk.anthropic_final(sdk.render(out))
    assert message.stop_reason == "refusal"
    assert message.content[0].text == "I can't help."


def test_a_tool_call_without_arguments_reaches_an_openai_caller_as_empty_json() -> None:
    """Anthropic's call without arguments (``input: {}``, one empty ``input_json_delta``) accumulates to
    ``"{}"`` for an OpenAI caller, as the unstreamed answer gives: an app's json.loads works."""
    translator = new_stream_translator(
        source=Dialect.ANTHROPIC, target=Dialect.OPENAI, operation=Operation.CHAT, model="m", include_usage=False
    )
    upstream = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5}}}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    out = [e for name, data in upstream for e in translator.feed(SSEEvent(json.dumps(data).encode(), name))]
    out += translator.finish()
    arguments = "".join(
        call["function"].get("arguments", "")
        for chunk in _json(out)
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
    )
    assert json.loads(arguments) == {}
