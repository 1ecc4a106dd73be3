"""One non-stream chat answer per dialect, modelled on each provider's documented examples: a text answer
(``"text"``) or one with the tool calls of ``streams.CALLS`` (``"tools"``), with cached and reasoning
tokens in its usage and an optional finish reason; ``BODIES`` maps a dialect to its builder."""

from __future__ import annotations

import json
from typing import Any

from sidecar.dialects import Dialect

from .streams import CALLS, TEXT, TOOL_TEXT


def openai_body(scenario: str, finish: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": TEXT, "refusal": None, "annotations": []}
    if scenario == "tools":
        message["content"] = TOOL_TEXT
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
            for i, (n, a) in enumerate(CALLS)
        ]
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish or ("stop" if scenario == "text" else "tool_calls"),
            }
        ],
        "usage": {
            "prompt_tokens": 82,
            "completion_tokens": 41,
            "total_tokens": 123,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 10, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }


def anthropic_body(scenario: str, stop: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = [
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCgIYAhIM"},
        {"type": "text", "text": TEXT if scenario == "text" else TOOL_TEXT},
    ]
    if scenario == "tools":
        content += [{"type": "tool_use", "id": f"toolu_0{i}", "name": n, "input": a} for i, (n, a) in enumerate(CALLS)]
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop or ("end_turn" if scenario == "text" else "tool_use"),
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 6,
            "cache_read_input_tokens": 64,
            "output_tokens": 41,
            "service_tier": "standard",
        },
    }


def gemini_body(scenario: str, finish: str | None = None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"text": "Thinking...", "thought": True},
        {"text": TEXT if scenario == "text" else TOOL_TEXT},
    ]
    if scenario == "tools":
        parts += [{"functionCall": {"name": n, "args": a}} for n, a in CALLS]
        parts[2]["thoughtSignature"] = "CiQBcsjafE9U"
    return {
        "candidates": [
            {
                "content": {"parts": parts, "role": "model"},
                "finishReason": finish or "STOP",
                "avgLogprobs": -0.12,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 82,
            "candidatesTokenCount": 31,
            "thoughtsTokenCount": 10,
            "cachedContentTokenCount": 64,
            "totalTokenCount": 123,
        },
        "modelVersion": "gemini-2.5-flash",
        "responseId": "mXbAaJLuNc-p1MkPnJ7xsQw",
    }


BODIES = {Dialect.OPENAI: openai_body, Dialect.ANTHROPIC: anthropic_body, Dialect.GEMINI: gemini_body}
