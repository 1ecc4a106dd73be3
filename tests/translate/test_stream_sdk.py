"""Stream translators fed realistic upstream sequences produce bytes the official SDKs parse intact.

For every (upstream, caller) pair and for a text turn and a tool-calling turn, the translated bytes are
served to the caller's own SDK (openai-python's and anthropic's stream helpers, google-genai's
``generate_content_stream``) and the text, tool calls (name and parsed arguments), usage and finish
reason it reports are checked against what the upstream sent; and Anthropic's and Gemini's streams
translated for a caller of OpenAI's Responses API, read by openai-python's ``responses.stream`` helper.
"""

from __future__ import annotations

import itertools
import json

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.dialects.registry import DIALECTS
from sidecar.sse import encode_event
from sidecar.translate import StreamTranslator, new_stream_translator

from . import sdk
from .streams import CALLS, TEXT, TOOL_TEXT, UPSTREAM, USAGE

PAIRS = [(s, t) for s, t in itertools.permutations(DIALECTS, 2)]


def _translate(source: Dialect, target: Dialect, scenario: str) -> tuple[bytes, StreamTranslator]:
    translator = new_stream_translator(
        source=source, target=target, operation=Operation.CHAT, model="caller-model", include_usage=True
    )
    out = []
    for event in sdk.events(UPSTREAM[(source.value, scenario)]):
        out += translator.feed(event)
    out += translator.finish()
    assert all(e.raw in (b"", encode_event(e.data, e.event)) for e in out)  # no upstream bytes
    return sdk.render(out), translator


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=[f"{s}->{t}" for s, t in PAIRS])
@pytest.mark.parametrize("scenario", ["text", "tools"])
def test_sdk_reads_translated_stream(source: Dialect, target: Dialect, scenario: str) -> None:
    """The caller's SDK gets the upstream's text, tool calls, usage and finish reason from the translation."""
    raw, translator = _translate(source, target, scenario)
    want_text = TEXT if scenario == "text" else TOOL_TEXT
    want_calls = [] if scenario == "text" else CALLS
    want_in, want_out, want_cached = USAGE[(source.value, scenario)]

    if target is Dialect.OPENAI:
        completion = sdk.openai_final(raw)
        message = completion.choices[0].message
        assert message.content == want_text
        calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
        assert calls == want_calls
        assert all(c.id for c in message.tool_calls or [])
        assert completion.choices[0].finish_reason == ("stop" if scenario == "text" else "tool_calls")
        assert completion.usage is not None
        assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (want_in, want_out)
        assert completion.usage.prompt_tokens_details.cached_tokens == want_cached
        assert completion.model == "caller-model"
    elif target is Dialect.ANTHROPIC:
        message = sdk.anthropic_final(raw)
        texts = "".join(b.text for b in message.content if b.type == "text")
        assert texts == want_text
        calls = [(b.name, b.input) for b in message.content if b.type == "tool_use"]
        assert calls == want_calls
        assert message.stop_reason == ("end_turn" if scenario == "text" else "tool_use")
        usage = message.usage
        total_in = usage.input_tokens + (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
        assert (total_in, usage.output_tokens, usage.cache_read_input_tokens or 0) == (
            want_in,
            want_out,
            want_cached,
        )
        assert message.model == "caller-model"
    else:
        chunks = sdk.gemini_stream(raw)
        parts = [
            p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []
        ]
        assert "".join(p.text for p in parts if p.text and not p.thought) == want_text
        calls = [(p.function_call.name, p.function_call.args) for p in parts if p.function_call]
        assert calls == want_calls
        last = chunks[-1]
        assert last.candidates[0].finish_reason == "STOP"
        meta = last.usage_metadata
        assert meta.prompt_token_count == want_in
        assert (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0) == want_out
        assert (meta.cached_content_token_count or 0) == want_cached
        assert last.model_version == "caller-model"

    assert translator.usage is not None
    assert (translator.usage.input_tokens, translator.usage.output_tokens) == (want_in, want_out)
    assert translator.finish_reason is not None
    assert translator.response_id


@pytest.mark.parametrize("source", [Dialect.ANTHROPIC, Dialect.GEMINI])
def test_openai_usage_chunk_only_when_asked(source: Dialect) -> None:
    """Without include_usage the OpenAI caller gets no usage chunk, yet [DONE] still ends the stream."""
    translator = new_stream_translator(
        source=source, target=Dialect.OPENAI, operation=Operation.CHAT, model="m", include_usage=False
    )
    out = []
    for event in sdk.events(UPSTREAM[(source.value, "text")]):
        out += translator.feed(event)
    out += translator.finish()
    chunks = sdk.openai_stream(sdk.render(out))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    assert out[-1].data == b"[DONE]"
    assert translator.usage is not None  # telemetry still sees it


TOOL_ONLY = {
    Dialect.ANTHROPIC: (
        'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":'
        '"assistant","model":"c","content":[],"stop_reason":null,"usage":{"input_tokens":9,"output_tokens":1}}}\n\n'
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
        '{"type":"tool_use","id":"toolu_1","name":"get_time","input":{}}}\n\n'
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
        '{"type":"input_json_delta","partial_json":"{\\"tz\\": \\"UTC\\"}"}}\n\n'
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},'
        '"usage":{"output_tokens":12}}\n\n'
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    ),
    Dialect.GEMINI: (
        'data: {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"get_time",'
        '"args":{"tz":"UTC"}}}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":9,'
        '"candidatesTokenCount":12,"totalTokenCount":21},"responseId":"r1"}\n\n'
    ),
}


@pytest.mark.parametrize("source", [Dialect.ANTHROPIC, Dialect.GEMINI], ids=str)
def test_openai_tool_only_answer_has_no_content_streamed_or_not(source: Dialect) -> None:
    """A streamed answer that only calls a tool reaches openai-python's stream helper with ``content``
    None, as OpenAI streams it (``"content": null`` beside the first tool call) and as the unstreamed
    translation says, not an empty string."""
    translator = new_stream_translator(
        source=source, target=Dialect.OPENAI, operation=Operation.CHAT, model="m", include_usage=True
    )
    out = []
    for event in sdk.events(TOOL_ONLY[source]):
        out += translator.feed(event)
    message = sdk.openai_final(sdk.render(out + translator.finish())).choices[0].message
    assert message.content is None
    assert [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []] == [
        ("get_time", {"tz": "UTC"})
    ]


def test_finish_after_end_marker_adds_nothing() -> None:
    """finish() after the upstream's own end marker (message_stop, [DONE]) emits no second closing."""
    translator = new_stream_translator(
        source=Dialect.ANTHROPIC,
        target=Dialect.OPENAI,
        operation=Operation.CHAT,
        model="m",
        include_usage=True,
    )
    out = []
    for event in sdk.events(UPSTREAM[("anthropic", "text")]):
        out += translator.feed(event)
    assert out[-1].data == b"[DONE]"
    assert translator.finish() == []


def test_anthropic_caller_gets_complete_sequence_when_upstream_stops_short() -> None:
    """An upstream that ends without a finish reason still yields message_delta and message_stop."""
    translator = new_stream_translator(
        source=Dialect.OPENAI,
        target=Dialect.ANTHROPIC,
        operation=Operation.CHAT,
        model="m",
        include_usage=True,
    )
    text = UPSTREAM[("openai", "text")].split("data: {", 3)
    partial = "data: {".join(text[:3])  # the role chunk and the first text chunk only
    out = []
    for event in sdk.events(partial):
        out += translator.feed(event)
    out += translator.finish()
    names = [e.event for e in out]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    message = sdk.anthropic_final(sdk.render(out))
    assert message.content[0].text == "Hello"
    assert message.stop_reason == "end_turn"


def test_gemini_thought_parts_are_not_text() -> None:
    """Gemini thought summaries (``thought: true``) do not leak into the caller's answer text."""
    upstream = (
        'data: {"candidates":[{"content":{"parts":[{"text":"Thinking about it","thought":true}],'
        '"role":"model"},"index":0}],"responseId":"r1"}\n\n'
        'data: {"candidates":[{"content":{"parts":[{"text":"Answer."}],"role":"model"},"finishReason":"STOP",'
        '"index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},'
        '"responseId":"r1"}\n\n'
    )
    translator = new_stream_translator(
        source=Dialect.GEMINI, target=Dialect.OPENAI, operation=Operation.CHAT, model="m", include_usage=True
    )
    out = []
    for event in sdk.events(upstream):
        out += translator.feed(event)
    out += translator.finish()
    assert sdk.openai_final(sdk.render(out)).choices[0].message.content == "Answer."


@pytest.mark.parametrize("source", [Dialect.ANTHROPIC, Dialect.GEMINI])
@pytest.mark.parametrize("scenario", ["text", "tools"])
def test_the_responses_stream_helper_reads_a_translated_stream(source: Dialect, scenario: str) -> None:
    """An Anthropic or Gemini stream translated for a caller of OpenAI's Responses API: openai-python's
    ``responses.stream`` helper returns the upstream's text, tool calls (arguments parsed), usage and the
    completed status, the caller's model named."""
    translator = new_stream_translator(
        source=source,
        target=Dialect.OPENAI,
        operation=Operation.RESPONSES,
        model="caller-model",
        include_usage=False,
        request={"model": "caller-model", "input": "hi"},
    )
    out = []
    for event in sdk.events(UPSTREAM[(source.value, scenario)]):
        out += translator.feed(event)
    out += translator.finish()
    client = sdk.openai_client(sdk.render(out))
    with client.responses.stream(model="caller-model", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == (TEXT if scenario == "text" else TOOL_TEXT)
    calls = [(item.name, json.loads(item.arguments)) for item in final.output if item.type == "function_call"]
    assert calls == ([] if scenario == "text" else CALLS)
    want_in, want_out, want_cached = USAGE[(source.value, scenario)]
    assert final.usage is not None and (final.usage.input_tokens, final.usage.output_tokens) == (want_in, want_out)
    assert final.usage.input_tokens_details.cached_tokens == want_cached
    assert (final.status, final.model) == ("completed", "caller-model")
