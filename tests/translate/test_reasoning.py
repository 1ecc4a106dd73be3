"""Reasoning content in the common form: Anthropic thinking (with its signature, and redacted thinking),
Gemini thought parts and thought signatures, OpenAI-compatible ``reasoning_content``, for whole
responses and streams, read back through the official SDKs. A signature reaches only the dialect that
made it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sidecar.dialects import Dialect, Operation
from sidecar.translate import new_stream_translator, translate_response

from . import sdk, streams
from .streams import CALLS

OAI, ANT, GEM = Dialect.OPENAI, Dialect.ANTHROPIC, Dialect.GEMINI
SIG_A = "EqQBCgIYAhIMsignatureA"
SIG_G = base64.b64encode(b"gemini-thought-signature").decode()
SIG_G2 = base64.b64encode(b"gemini-call-signature").decode()


def _anthropic_body() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "Weigh the options.", "signature": SIG_A},
            {"type": "redacted_thinking", "data": "ENCRYPTEDxyz"},
            {"type": "text", "text": "Take the train."},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 20},
    }


def _gemini_body() -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Check the weather first.", "thought": True, "thoughtSignature": SIG_G},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}, "thoughtSignature": SIG_G2},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "thoughtsTokenCount": 7},
        "responseId": "r1",
    }


def _openai_body(field: str = "reasoning_content") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-reasoner",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "42.", field: "Six times seven."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
    }


def _translate(body: dict[str, Any], source: Dialect, target: Dialect) -> dict[str, Any]:
    return translate_response(body, source=source, target=target, operation=Operation.CHAT, model="m")


def test_anthropic_thinking_survives_anthropic_to_anthropic() -> None:
    """Thinking with its signature and redacted thinking come back as the same blocks, in order."""
    out = _translate(_anthropic_body(), ANT, ANT)
    message = sdk.anthropic_client(json.dumps(out).encode(), sdk.JSON).messages.create(
        model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
    )
    kinds = [(b.type, getattr(b, "thinking", None), getattr(b, "signature", None)) for b in message.content]
    assert kinds[0] == ("thinking", "Weigh the options.", SIG_A)
    assert message.content[1].type == "redacted_thinking"
    assert message.content[1].data == "ENCRYPTEDxyz"  # type: ignore[union-attr]
    assert message.content[2].type == "text"


def test_anthropic_thinking_reaches_openai_as_reasoning_content() -> None:
    """An OpenAI caller gets the thinking text as ``message.reasoning_content``, not in ``content``."""
    out = _translate(_anthropic_body(), ANT, OAI)
    completion = sdk.openai_client(json.dumps(out).encode(), sdk.JSON).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    message = completion.choices[0].message
    assert message.content == "Take the train."
    assert (message.model_extra or {})["reasoning_content"] == "Weigh the options."


def test_anthropic_signature_does_not_reach_gemini() -> None:
    """A Gemini caller gets the thinking as a thought part without Anthropic's signature; redacted
    thinking (nothing readable) is left out."""
    out = _translate(_anthropic_body(), ANT, GEM)
    parts = out["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "Weigh the options.", "thought": True}, {"text": "Take the train."}]


def test_gemini_thoughts_and_signatures_survive_gemini_to_gemini() -> None:
    """Thought parts keep their signature, and a function call keeps the signature it carried."""
    out = _translate(_gemini_body(), GEM, GEM)
    response = sdk.gemini_client(json.dumps(out).encode(), sdk.JSON).models.generate_content(
        model="gemini-2.5-flash", contents="hi"
    )
    parts = response.candidates[0].content.parts  # type: ignore[index, union-attr]
    assert parts is not None
    assert (parts[0].thought, parts[0].text, parts[0].thought_signature) == (
        True,
        "Check the weather first.",
        base64.b64decode(SIG_G),
    )
    assert parts[1].function_call is not None
    assert parts[1].function_call.name == "get_weather"
    assert parts[1].thought_signature == base64.b64decode(SIG_G2)


def test_gemini_thought_left_out_for_anthropic() -> None:
    """An Anthropic caller gets no thinking block from Gemini: unsigned thinking sent back would be refused."""
    out = _translate(_gemini_body(), GEM, ANT)
    assert [b["type"] for b in out["content"]] == ["tool_use"]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_reasoning_content_reaches_anthropic_and_gemini(field: str) -> None:
    """``reasoning_content`` (DeepSeek) or ``reasoning`` (vLLM since it dropped the other name, OpenRouter)
    becomes a Gemini thought part; an Anthropic caller gets only the answer text."""
    anthropic_out = _translate(_openai_body(field), OAI, ANT)
    assert [b["type"] for b in anthropic_out["content"]] == ["text"]
    gemini_out = _translate(_openai_body(field), OAI, GEM)
    assert gemini_out["candidates"][0]["content"]["parts"][0] == {"text": "Six times seven.", "thought": True}


def _stream(upstream: str, source: Dialect, target: Dialect) -> bytes:
    translator = new_stream_translator(
        source=source, target=target, operation=Operation.CHAT, model="m", include_usage=True
    )
    out = [e for event in sdk.events(upstream) for e in translator.feed(event)] + translator.finish()
    return sdk.render(out)


ANTHROPIC_THINKING_STREAM = "".join(
    f"event: {p['type']}\ndata: {json.dumps(p)}\n\n"
    for p in [
        {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 4, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Weigh "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "it."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": SIG_A}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "ENC"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Train."}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
)


def test_anthropic_thinking_stream_reaches_anthropic_sdk_intact() -> None:
    """Streamed thinking, its signature and redacted thinking re-encode into blocks the SDK accumulates."""
    message = sdk.anthropic_final(_stream(ANTHROPIC_THINKING_STREAM, ANT, ANT))
    assert message.content[0].type == "thinking"
    assert (message.content[0].thinking, message.content[0].signature) == ("Weigh it.", SIG_A)
    assert message.content[1].type == "redacted_thinking"
    assert message.content[1].data == "ENC"
    assert message.content[2].type == "text"
    assert message.content[2].text == "Train."


def test_anthropic_thinking_stream_reaches_openai_sdk_as_reasoning_content() -> None:
    """An OpenAI caller's chunks carry the thinking as ``reasoning_content`` fragments, in order."""
    chunks = sdk.openai_stream(_stream(ANTHROPIC_THINKING_STREAM, ANT, OAI))
    reasoning = [(c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices]
    assert [r for r in reasoning if r] == ["Weigh ", "it."]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Train."


GEMINI_THOUGHT_STREAM = "".join(
    "data: " + json.dumps(body) + "\n\n"
    for body in [
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Plan: ", "thought": True}]}, "index": 0}]},
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"text": "call it.", "thought": True, "thoughtSignature": SIG_G}],
                    },
                    "index": 0,
                }
            ]
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": SIG_G2}],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1, "thoughtsTokenCount": 4},
        },
    ]
)


def test_gemini_thought_stream_reaches_gemini_sdk_with_signatures() -> None:
    """Thought fragments keep their own signature, and the function call keeps the one it carried."""
    chunks = sdk.gemini_stream(_stream(GEMINI_THOUGHT_STREAM, GEM, GEM))
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    thoughts = [(p.text, p.thought_signature) for p in parts if p.thought]
    assert thoughts == [("Plan: ", None), ("call it.", base64.b64decode(SIG_G))]
    calls = [p for p in parts if p.function_call]
    assert len(calls) == 1
    assert calls[0].thought_signature == base64.b64decode(SIG_G2)


def test_gemini_thought_stream_left_out_for_anthropic_sdk() -> None:
    """A streamed Gemini thought never reaches an Anthropic caller; the tool call after it does."""
    message = sdk.anthropic_final(_stream(GEMINI_THOUGHT_STREAM, GEM, ANT))
    assert [block.type for block in message.content] == ["tool_use"]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_openai_reasoning_stream_reaches_gemini_as_thought_parts(field: str) -> None:
    """``reasoning_content`` (or vLLM's ``reasoning``) deltas from an OpenAI-compatible upstream reach a
    Gemini caller as thought parts."""
    upstream = (
        "".join(
            "data: "
            + json.dumps({"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            + "\n\n"
            for delta, finish in [
                ({"role": "assistant", field: "Hmm, "}, None),
                ({field: "six sevens."}, None),
                ({"content": "42"}, None),
                ({}, "stop"),
            ]
        )
        + "data: [DONE]\n\n"
    )
    chunks = sdk.gemini_stream(_stream(upstream, OAI, GEM))
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    assert [p.text for p in parts if p.thought] == ["Hmm, ", "six sevens."]
    assert "".join(p.text or "" for p in parts if not p.thought) == "42"


def _gemini_fragment(parts: list[dict[str, Any]], **extra: Any) -> str:
    candidate = {"content": {"role": "model", "parts": parts}, "index": 0, **extra}
    return f"data: {json.dumps({'candidates': [candidate], 'responseId': 'r1'})}\n\n"


LATE_SIGNATURE_STREAM = _gemini_fragment(
    [{"functionCall": {"id": "fc_1", "name": "get_weather", "args": {"city": "Graz"}}}]
) + _gemini_fragment([{"text": "", "thoughtSignature": SIG_G2}], finishReason="STOP")


def test_a_gemini_signature_on_a_later_fragment_stays_gemini_s_own() -> None:
    """Gemini 3 may stream a call, then its signature on an empty text part of a later fragment
    (https://ai.google.dev/gemini-api/docs/thought-signatures, streaming): re-encoded for a Gemini caller
    (the cache, an ensemble), the signature stays Gemini's, and the call, though it has an id, gets no
    skip value: the answer is Gemini's own."""
    chunks = sdk.gemini_stream(_stream(LATE_SIGNATURE_STREAM, GEM, GEM))
    parts = [p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []]
    assert [p.thought_signature for p in parts if p.function_call] == [None]
    assert [p.thought_signature for p in parts if not p.function_call] == [base64.b64decode(SIG_G2)]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_calls_another_provider_made_reach_a_gemini_caller_with_the_skip_value(stream: bool) -> None:
    """Anthropic's parallel calls reach a Gemini caller with Google's documented skip value on the first call
    only (one step, one signature), so that Gemini 3 takes them back."""
    skip = base64.urlsafe_b64decode("skip_thought_signature_validator")
    if stream:
        chunks = sdk.gemini_stream(_stream(streams.ANTHROPIC_TOOLS, ANT, GEM))
        parts = [
            p for c in chunks if c.candidates and c.candidates[0].content for p in c.candidates[0].content.parts or []
        ]
    else:
        calls = [
            {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": args}
            for n, (name, args) in enumerate(CALLS)
        ]
        body = {**_anthropic_body(), "content": calls, "stop_reason": "tool_use"}
        out = _translate(body, ANT, GEM)
        parts = (
            sdk.gemini_client(json.dumps(out).encode(), sdk.JSON)
            .models.generate_content(model="gemini-3-pro-preview", contents="hi")
            .candidates[0]
            .content.parts
        )  # type: ignore[index, union-attr, assignment]
    assert [p.thought_signature for p in parts if p.function_call] == [skip, None]
