"""Upstream stream fixtures, shaped as each provider documents and sends them (SSE text).

Each scenario is the same conversation turn in the three dialects, so that any source can be checked
against any target: TEXT answers "Hello! How can I help?"; TOOLS answers "Let me check." then calls
get_weather({"location": "Boston, MA", "unit": "celsius"}) and get_time({"tz": "America/New_York"}).
"""

from __future__ import annotations

import json
from typing import Any

TEXT = "Hello! How can I help?"
TOOL_TEXT = "Let me check."
CALLS = [
    ("get_weather", {"location": "Boston, MA", "unit": "celsius"}),
    ("get_time", {"tz": "America/New_York"}),
]


def _sse(*payloads: Any, named: bool = False) -> str:
    out = []
    for p in payloads:
        if p == "[DONE]":
            out.append("data: [DONE]\n\n")
        elif named:
            out.append(f"event: {p['type']}\ndata: {json.dumps(p)}\n\n")
        else:
            out.append(f"data: {json.dumps(p)}\n\n")
    return "".join(out)


def _oa_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9x8Yz",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_f85bea6784",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


def _oa_usage(prompt: int, completion: int, cached: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-9x8Yz",
        "object": "chat.completion.chunk",
        "created": 1727000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


OPENAI_TEXT = _sse(
    _oa_chunk({"role": "assistant", "content": "", "refusal": None}),
    _oa_chunk({"content": "Hello"}),
    _oa_chunk({"content": "! How can"}),
    _oa_chunk({"content": " I help?"}),
    _oa_chunk({}, "stop"),
    _oa_usage(19, 7, cached=4),
    "[DONE]",
)

OPENAI_TOOLS = _sse(
    _oa_chunk({"role": "assistant", "content": "", "refusal": None}),
    _oa_chunk({"content": "Let me check."}),
    _oa_chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_aAbB1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    _oa_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location"'}}]}),
    _oa_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ': "Boston, MA", '}}]}),
    _oa_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"unit": "celsius"}'}}]}),
    _oa_chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_cCdD2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        }
    ),
    _oa_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"tz": "America/New_York"}'}}]}),
    _oa_chunk({}, "tool_calls"),
    _oa_usage(82, 41),
    "[DONE]",
)

_MSG_START = {
    "type": "message_start",
    "message": {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 15,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 4,
            "output_tokens": 1,
        },
    },
}

ANTHROPIC_TEXT = _sse(
    _MSG_START,
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "! How can I help?"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 7},
    },
    {"type": "message_stop"},
    named=True,
)

ANTHROPIC_TOOLS = _sse(
    {**_MSG_START, "message": {**_MSG_START["message"], "usage": {"input_tokens": 82, "output_tokens": 1}}},
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "User wants weather."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Let me check."}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_weather",
            "input": {},
        },
    },
    {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}},
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"location":'},
    },
    {"type": "ping"},
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ' "Boston, MA"'},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ', "unit": "celsius"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "content_block_start",
        "index": 3,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01ABCDEFghijkLMNopq",
            "name": "get_time",
            "input": {},
        },
    },
    {
        "type": "content_block_delta",
        "index": 3,
        "delta": {"type": "input_json_delta", "partial_json": '{"tz": "America/'},
    },
    {
        "type": "content_block_delta",
        "index": 3,
        "delta": {"type": "input_json_delta", "partial_json": 'New_York"}'},
    },
    {"type": "content_block_stop", "index": 3},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 41},
    },
    {"type": "message_stop"},
    named=True,
)


def _gm(parts: list[dict[str, Any]] | None, finish: str | None = None, usage: dict[str, Any] | None = None) -> Any:
    cand: dict[str, Any] = {"index": 0}
    if parts is not None:
        cand["content"] = {"parts": parts, "role": "model"}
    if finish:
        cand["finishReason"] = finish
    body: dict[str, Any] = {"candidates": [cand]}
    if usage:
        body["usageMetadata"] = usage
    body["modelVersion"] = "gemini-2.5-flash"
    body["responseId"] = "mXbAaJLuNc-p1MkPnJ7xsQw"
    return body


GEMINI_TEXT = _sse(
    _gm([{"text": "Hello"}], usage={"promptTokenCount": 19, "totalTokenCount": 19}),
    _gm([{"text": "! How can I help?"}], usage={"promptTokenCount": 19, "totalTokenCount": 19}),
    _gm(
        [{"text": ""}],
        "STOP",
        {
            "promptTokenCount": 19,
            "candidatesTokenCount": 7,
            "totalTokenCount": 40,
            "cachedContentTokenCount": 4,
            "thoughtsTokenCount": 14,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 19}],
        },
    ),
)

GEMINI_TOOLS = _sse(
    _gm([{"text": "Let me check."}], usage={"promptTokenCount": 82, "totalTokenCount": 82}),
    _gm(
        [
            {
                "functionCall": {
                    "name": "get_weather",
                    "args": {"location": "Boston, MA", "unit": "celsius"},
                },
                "thoughtSignature": "CiQBcsjafE9Uo0pC",
            },
            {"functionCall": {"name": "get_time", "args": {"tz": "America/New_York"}}},
        ],
        "STOP",
        {"promptTokenCount": 82, "candidatesTokenCount": 41, "totalTokenCount": 123},
    ),
)

UPSTREAM = {
    ("openai", "text"): OPENAI_TEXT,
    ("openai", "tools"): OPENAI_TOOLS,
    ("anthropic", "text"): ANTHROPIC_TEXT,
    ("anthropic", "tools"): ANTHROPIC_TOOLS,
    ("gemini", "text"): GEMINI_TEXT,
    ("gemini", "tools"): GEMINI_TOOLS,
}

# Usage each upstream reports, in the common meaning (input includes cached).
USAGE = {
    ("openai", "text"): (19, 7, 4),
    ("openai", "tools"): (82, 41, 0),
    ("anthropic", "text"): (19, 7, 4),
    ("anthropic", "tools"): (82, 41, 0),
    ("gemini", "text"): (19, 21, 4),
    ("gemini", "tools"): (82, 41, 0),
}
