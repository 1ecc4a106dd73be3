"""A provider that lies, for the upstream fuzz tests: ``Liar`` is a real HTTP server on loopback (an
aiohttp app) answering every provider path with whatever the test set last (``Lie``: a status and a
JSON body, or a stream of events written one flush each); ``lies(dialect)`` is the hypothesis strategy
of a dialect's answer gone wrong: a valid answer (text, a tool call, usage) with fields replaced by
hostile values (``hostile_json``), removed or added, whole or streamed; a stream may also lose, repeat
or reorder events or carry lines that are not JSON. ``error_lies(dialect)``: an error status with the
dialect's error body gone wrong (or not JSON) and odd retry hints.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from hypothesis import strategies as st

from .hostile_json import dumps, mutated

USAGE_OPENAI = {
    "prompt_tokens": 5,
    "completion_tokens": 3,
    "total_tokens": 8,
    "prompt_tokens_details": {"cached_tokens": 1},
    "completion_tokens_details": {"reasoning_tokens": 1},
}
CALL_OPENAI = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
OPENAI_WHOLE = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi", "tool_calls": [CALL_OPENAI]},
            "finish_reason": "tool_calls",
        }
    ],
    "usage": USAGE_OPENAI,
}


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]}


OPENAI_EVENTS = [
    _openai_chunk({"role": "assistant", "content": ""}),
    _openai_chunk({"content": "hi"}),
    _openai_chunk({"tool_calls": [{"index": 0, **CALL_OPENAI, "function": {"name": "get_weather", "arguments": ""}}]}),
    _openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}),
    _openai_chunk({}, "tool_calls"),
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": USAGE_OPENAI,
    },
]
USAGE_ANTHROPIC = {
    "input_tokens": 5,
    "output_tokens": 3,
    "cache_read_input_tokens": 1,
    "cache_creation_input_tokens": 0,
}
TOOL_USE = {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}
ANTHROPIC_WHOLE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": [{"type": "text", "text": "hi"}, TOOL_USE],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": USAGE_ANTHROPIC,
}
ANTHROPIC_EVENTS = [
    {"type": "message_start", "message": {**ANTHROPIC_WHOLE, "content": [], "stop_reason": None}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {**TOOL_USE, "input": {}}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 3},
    },
    {"type": "message_stop"},
]
USAGE_GEMINI = {
    "promptTokenCount": 5,
    "candidatesTokenCount": 3,
    "totalTokenCount": 9,
    "cachedContentTokenCount": 1,
    "thoughtsTokenCount": 1,
}
CALL_PART = [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]
GEMINI_WHOLE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [{"text": "hi"}, {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": USAGE_GEMINI,
    "modelVersion": "m",
}
GEMINI_EVENTS = [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "index": 0}], "modelVersion": "m"},
    {
        **GEMINI_WHOLE,
        "candidates": [{**GEMINI_WHOLE["candidates"][0], "content": {"role": "model", "parts": CALL_PART}}],
    },
]
WHOLE = {"openai": OPENAI_WHOLE, "anthropic": ANTHROPIC_WHOLE, "gemini": GEMINI_WHOLE}
ERRORS = {
    "openai": {"error": {"message": "slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}},
    "anthropic": {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    "gemini": {
        "error": {
            "code": 429,
            "message": "slow down",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.01s"},
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "PerDay"}]},
            ],
        }
    },
}
ERROR_STATUSES = (400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529)
RETRY_AFTER = ("0", "0.01", "-1", "abc", "1e999", "NaN", "99999999999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "")
EVENTS = {"openai": OPENAI_EVENTS, "anthropic": ANTHROPIC_EVENTS, "gemini": GEMINI_EVENTS}


@dataclass
class Lie:
    """What the liar answers: ``status`` with ``body`` (and ``headers``), or (``events`` not None) a 200
    event stream."""

    status: int = 200
    body: bytes = b"{}"
    events: list[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def sse(dialect: str, event: Any) -> bytes:
    """One event as ``dialect`` frames it (Anthropic names each event by its ``type``)."""
    data = b"data: " + dumps({"__body__": event}) + b"\n\n"
    if dialect == "anthropic" and isinstance(event, dict) and isinstance(event.get("type"), str):
        return f"event: {event['type'][:40]}\n".encode("ascii", "replace") + data
    return data


@st.composite
def error_lies(draw: st.DrawFn, dialect: str) -> Lie:
    """A ``dialect`` error answer gone wrong: an error status, its error body mutated, odd retry hints."""
    headers = {}
    if draw(st.booleans()):
        headers["retry-after"] = draw(st.sampled_from(RETRY_AFTER))
    if draw(st.booleans()):
        headers["retry-after-ms"] = draw(st.sampled_from(RETRY_AFTER))
    body = dumps(draw(mutated(ERRORS[dialect]))) if draw(st.integers(0, 3)) else draw(st.sampled_from(GARBAGE))
    return Lie(status=draw(st.sampled_from(ERROR_STATUSES)), body=body, headers=headers)


@st.composite
def lies(draw: st.DrawFn, dialect: str, stream: bool) -> Lie:
    """A ``dialect`` answer gone wrong, streamed when ``stream``."""
    if not stream:
        return Lie(body=dumps(draw(mutated(WHOLE[dialect]))))
    events: list[Any] = copy.deepcopy(EVENTS[dialect])
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(events) - 1))
        what = draw(st.sampled_from(["mutate", "mutate", "mutate", "remove", "repeat", "swap", "garbage"]))
        if what == "mutate" and isinstance(events[index], dict):
            body = draw(mutated(events[index]))
            events[index] = body["__body__"] if set(body) == {"__body__"} else body
        elif what == "remove" and len(events) > 1:
            del events[index]
        elif what == "repeat":
            events.insert(index, copy.deepcopy(events[index]))
        elif what == "swap":
            other = draw(st.integers(0, len(events) - 1))
            events[index], events[other] = events[other], events[index]
        elif what == "garbage":
            events.insert(index, _Garbage(draw(st.sampled_from(GARBAGE))))
    framed = [e.line if isinstance(e, _Garbage) else sse(dialect, e) for e in events]
    if dialect == "openai" and draw(st.booleans()):
        framed.append(b"data: [DONE]\n\n")
    return Lie(events=framed)


@dataclass(frozen=True)
class _Garbage:
    line: bytes


GARBAGE = (
    b"data: {not json\n\n",
    b"data: \n\n",
    b"data: null\n\n",
    b"data: [1, 2]\n\n",
    b'data: "text"\n\n',
    b'event: error\ndata: {"type": "error", "error": {"type": 5}}\n\n',
    b'data: {"error": "no"}\n\n',
    b'data: {"error": {"code": "x", "message": 5}}\n\n',
    b": comment\n\n",
    b"retry: abc\n\n",
    b"data: \xff\xfe\n\n",
    b"event: message_stop\n\n",
)


@dataclass
class Liar:
    """The lying provider's state: the answer it gives next (``lie``), how many calls it took and the bodies
    they sent (``received``, as bytes)."""

    lie: Lie = field(default_factory=Lie)
    calls: int = 0
    received: list[bytes] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("POST", "/{path:.*}", self._answer)
        return app

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        self.received.append(await request.read())
        self.calls += 1
        lie = self.lie
        if lie.events is None:
            headers = {"content-type": "application/json", **lie.headers}
            return web.Response(status=lie.status, body=lie.body, headers=headers)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in lie.events:
            await response.write(event)
        await response.write_eof()
        return response


OTHER_ANSWERS = {  # (operation, upstream dialect) -> a valid answer
    ("embeddings", "openai"): {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.25, -0.5]},
            {"object": "embedding", "index": 1, "embedding": [0.5, 0.125]},
        ],
        "model": "m",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    },
    ("embeddings", "gemini"): {
        "embeddings": [{"values": [0.25, -0.5]}, {"values": [0.5, 0.125]}],
        "embedding": {"values": [0.25, -0.5]},
        "usageMetadata": {"promptTokenCount": 2},
    },
    ("count_tokens", "anthropic"): {"input_tokens": 5},
    ("count_tokens", "gemini"): {"totalTokens": 5, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5}]},
    ("responses", "openai"): {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "m",
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "hi", "annotations": []}],
            },
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        ],
        "usage": {
            "input_tokens": 5,
            "output_tokens": 3,
            "total_tokens": 8,
            "input_tokens_details": {"cached_tokens": 1},
            "output_tokens_details": {"reasoning_tokens": 1},
        },
    },
}
