"""Anthropic messages: responses, usage and stop reasons <-> the common form.

- ``parse_response`` / ``build_response``: ``message`` bodies; ``thinking`` and ``redacted_thinking``
  blocks <-> reasoning parts (signatures written back only when Anthropic made them); a call of the
  structured-output tool (``RESPONSE_TOOL``/``RESPONSE_TOOL_VALUE``) reads back as text.
- ``usage_from`` / ``usage_to``: Anthropic ``input_tokens`` excludes cache reads and writes; the common
  ``input_tokens`` includes them; ``cache_creation.ephemeral_1h_input_tokens``, the writes kept an hour
  (a part of ``cache_creation_input_tokens``), is ``cache_write_1h_tokens``; written back as Anthropic
  splits them (``cache_creation``) when there are writes (a cache hit reports its answer's split);
  ``output_tokens_details.thinking_tokens`` (a part of ``output_tokens``) is ``reasoning_tokens``, written
  back when there are any; ``server_tool_use.web_search_requests`` (the web searches run, billed per
  search) is ``web_search_calls``, written back when there are any.
- ``FINISH_FROM`` / ``FINISH_TO``: ``end_turn|max_tokens|stop_sequence|tool_use|refusal|pause_turn|...``.

- ``error_body`` / ``error_event``: ``{"type": "error", "error": {"type", "message"}}``, as a body and as
  the ``event: error`` the SDK raises ``APIStatusError`` on (it reads the event's name only); another
  provider's error in Anthropic's own ``type`` for its condition (``ERROR_WORDS``) and the HTTP status
  Anthropic sends with that type where another provider's differs (``CONDITION_STATUSES``), a context
  overflow in its words (``overflow_message``: ``prompt is too long: N tokens > M maximum``).
- ``stream_usage`` / ``usage_after``: the stream's usage after ``message_start`` / ``message_delta``: a
  ``message_delta``'s counts are the totals so far ("cumulative"), each one given replacing the earlier,
  a smaller one too; one it leaves out keeps ``message_start``'s, as the SDKs' accumulators read them.

Shared with the stream translators. Requests are in ``anthropic``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import ChatResponse, FinishReason, Part, ReasoningPart, Usage, as_count, as_tier
from ...translate.parts import RESPONSE_TOOL, RESPONSE_TOOL_VALUE, answer_id, answer_string, dumps, new_id, safe_id
from ..errors import ErrorCondition

FINISH_FROM = {
    "end_turn": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    "stop_sequence": FinishReason.STOP_SEQUENCE,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    "pause_turn": FinishReason.PAUSE,
    "model_context_window_exceeded": FinishReason.LENGTH,
}
FINISH_TO = {
    FinishReason.STOP: "end_turn",
    FinishReason.STOP_SEQUENCE: "stop_sequence",
    FinishReason.LENGTH: "max_tokens",
    FinishReason.TOOL_CALLS: "tool_use",
    FinishReason.CONTENT_FILTER: "refusal",
    FinishReason.PAUSE: "pause_turn",
    FinishReason.OTHER: "end_turn",
}


def usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    cached = as_count(raw.get("cache_read_input_tokens"))
    written = as_count(raw.get("cache_creation_input_tokens"))
    ttl = raw.get("cache_creation")  # {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}: written's parts
    hour = min(as_count(ttl.get("ephemeral_1h_input_tokens")), written) if isinstance(ttl, dict) else 0
    details = raw.get("output_tokens_details")  # {thinking_tokens}: a part of output_tokens
    tools = raw.get("server_tool_use")  # {web_search_requests, web_fetch_requests}: billed per search
    return Usage(
        input_tokens=as_count(raw.get("input_tokens")) + cached + written,
        output_tokens=as_count(raw.get("output_tokens")),
        cached_input_tokens=cached,
        cache_write_tokens=written,
        reasoning_tokens=as_count(details.get("thinking_tokens")) if isinstance(details, dict) else 0,
        cache_write_1h_tokens=hour,
        service_tier=as_tier(tier) if (tier := raw.get("service_tier")) is not None else None,
        web_search_calls=as_count(tools.get("web_search_requests")) if isinstance(tools, dict) else 0,
    )


# Anthropic's error types by HTTP status (docs.claude.com/en/api/errors).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


ERROR_WORDS: Mapping[ErrorCondition, str] = {
    ErrorCondition.RATE_LIMITED: "rate_limit_error",
    ErrorCondition.QUOTA_EXHAUSTED: "billing_error",
    ErrorCondition.OVERLOADED: "overloaded_error",
    ErrorCondition.AUTHENTICATION: "authentication_error",
    ErrorCondition.PERMISSION: "permission_error",
    ErrorCondition.NOT_FOUND: "not_found_error",
    ErrorCondition.INVALID_REQUEST: "invalid_request_error",
    ErrorCondition.CONTEXT_OVERFLOW: "invalid_request_error",
    ErrorCondition.REQUEST_TOO_LARGE: "request_too_large",
    ErrorCondition.TIMEOUT: "timeout_error",
    ErrorCondition.SERVER_ERROR: "api_error",
}
"""The error ``type`` Anthropic sends for each condition: another provider's error reaches an Anthropic
app with it (``error_body(..., condition=)``); a context overflow also in Anthropic's words
(``overflow_message``)."""

CONDITION_STATUSES: Mapping[ErrorCondition, int] = {
    ErrorCondition.OVERLOADED: 529,
    ErrorCondition.QUOTA_EXHAUSTED: 402,
}
"""The HTTP status Anthropic sends with a condition's type whatever status the upstream said it with
(platform.claude.com/docs/en/api/errors: ``billing_error`` is a 402, ``overloaded_error`` a 529): the
Anthropic SDK picks its error class by the status (``OverloadedError`` for 529; 402 a plain
``APIStatusError``, never retried, where a 429 would be a ``RateLimitError`` it retries)."""

_OVERFLOW_WORDS = "prompt is too long"
_TOKENS_GIVEN = re.compile(r"resulted in (\d+) tokens|requested (\d+) tokens|input token count \((\d+)\)", re.I)
_TOKENS_MAX = re.compile(
    r"maximum context length is (\d+)|maximum number of tokens allowed \((\d+)\)|limit of (\d+) tokens", re.I
)


def _number(pattern: re.Pattern[str], text: str) -> str | None:
    found = pattern.search(text)
    return next((group for group in found.groups() if group), None) if found else None


def overflow_message(message: str) -> str:
    """Another provider's context overflow in Anthropic's words, ``prompt is too long: N tokens > M
    maximum`` (what Anthropic-based tools parse to shorten the history), the provider's message after it
    in parentheses; without both numbers in it, ``prompt is too long: `` and the message."""
    if message.startswith(_OVERFLOW_WORDS):
        return message
    given, most = _number(_TOKENS_GIVEN, message), _number(_TOKENS_MAX, message)
    if given is None or most is None:
        return f"{_OVERFLOW_WORDS}: {message}"
    return f"{_OVERFLOW_WORDS}: {given} tokens > {most} maximum ({message})"


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    condition: ErrorCondition | None = None,
) -> dict[str, Any]:
    if condition is None:
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    else:
        kind = ERROR_WORDS[condition]
        if condition is ErrorCondition.CONTEXT_OVERFLOW:
            message = overflow_message(message)
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_event(
    status: int, message: str, *, code: str | None = None, condition: ErrorCondition | None = None
) -> SSEEvent:
    return SSEEvent(orjson.dumps(error_body(status, message, code=code, condition=condition)), "error")


def usage_of(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body."""
    return usage_from(body.get("usage"))


def stream_usage(event: SSEEvent, earlier: Usage | None = None) -> Usage | None:
    """The stream's usage after ``event`` (``earlier``: before it), or None when the event has none."""
    data = event.data
    if event.event not in ("message_start", "message_delta") and b'"usage"' not in data:
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == "message_start":
        message = obj.get("message")
        return usage_from(message.get("usage") if isinstance(message, dict) else None)
    return usage_after(earlier, obj.get("usage"))


def usage_after(earlier: Usage | None, raw: Any) -> Usage | None:
    """The stream's usage once a ``message_delta`` whose ``usage`` is ``raw`` came (``earlier``: before it).
    Anthropic documents its counts as cumulative, the totals so far (its SDKs' ``MessageDeltaUsage``), and
    its SDKs' accumulators let each count given replace ``message_start``'s, a smaller one too
    (``output_tokens: 0`` after ``message_start``'s 1), and keep those left out (optional there)."""
    if not isinstance(raw, dict):
        return None
    if earlier is None:
        return usage_from(raw)
    counts = usage_to(earlier) | {"service_tier": earlier.service_tier}  # message_start's tier, kept
    return usage_from(counts | {name: count for name, count in raw.items() if count is not None})


def usage_to(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    body: dict[str, Any] = {
        "input_tokens": max(usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens, 0),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
    }
    written = usage.cache_write_tokens
    if written:  # Anthropic's split of the writes: five minutes, an hour (priced apart)
        hour = min(usage.cache_write_1h_tokens, written)
        body["cache_creation"] = {"ephemeral_5m_input_tokens": written - hour, "ephemeral_1h_input_tokens": hour}
    if usage.reasoning_tokens:  # another provider's reasoning tokens (OpenAI's, Gemini's thoughts)
        body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    if usage.web_search_calls:  # the searches run (another provider's too), kept across a stream's deltas
        body["server_tool_use"] = {"web_search_requests": usage.web_search_calls}
    return body


def response_tool_text(name: str, arguments: Any) -> str | None:
    """The text answer carried by a structured-output tool call, or None for an ordinary call."""
    if name == RESPONSE_TOOL:
        return dumps(arguments if isinstance(arguments, dict) else {})
    if name == RESPONSE_TOOL_VALUE:
        return dumps(arguments.get("value") if isinstance(arguments, dict) else None)
    return None


def thinking_block(part: ReasoningPart) -> dict[str, Any] | None:
    """A reasoning part as an Anthropic block: ``thinking`` with Anthropic's signature, or
    ``redacted_thinking`` for Anthropic's own hidden reasoning; None for any other provider's reasoning
    (an app would send it back in its next turn, and Anthropic refuses thinking it did not sign)."""
    if part["origin"] != "anthropic" or not part["signature"]:
        return None  # Anthropic refuses a thinking block sent back without its own signature
    if part["redacted"]:
        return {"type": "redacted_thinking", "data": part["signature"]}
    return {"type": "thinking", "thinking": part["text"], "signature": part["signature"]}


def parse_response(body: dict[str, Any]) -> ChatResponse:
    parts: list[Part] = []
    answered = False
    for block in body.get("content") or ():
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": answer_string(block.get("text", ""), "content[].text")})
        elif kind == "thinking":
            signature = answer_id(block.get("signature"), "content[].signature")
            thinking = answer_string(block.get("thinking") or "", "content[].thinking")
            parts.append(
                {
                    "type": "reasoning",
                    "text": thinking,
                    "signature": signature,
                    "origin": "anthropic",
                    "redacted": False,
                }
            )
        elif kind == "redacted_thinking":
            data = answer_string(block.get("data") or "", "content[].data")
            parts.append({"type": "reasoning", "text": "", "signature": data, "origin": "anthropic", "redacted": True})
        elif kind == "tool_use":
            args = block.get("input")
            name = answer_string(block.get("name", ""), "content[].name")
            text = response_tool_text(name, args)
            if text is not None:
                parts.append({"type": "text", "text": text})
                answered = True
                continue
            parts.append(
                {
                    "type": "tool_call",
                    "id": answer_id(block.get("id"), "content[].id") or new_id("toolu_"),
                    "name": name,
                    "arguments": args if isinstance(args, dict) else {},
                }
            )
    raw = body.get("stop_reason")
    reason = FINISH_FROM.get(raw, FinishReason.OTHER) if raw else None
    if answered and reason is FinishReason.TOOL_CALLS and not any(p["type"] == "tool_call" for p in parts):
        reason = FinishReason.STOP  # the answer tool's call is the answer; a cut one stays a length stop
    stop_sequence = answer_id(body.get("stop_sequence"), "stop_sequence")
    return {
        "id": answer_id(body.get("id"), "id"),
        "choices": [{"parts": parts, "finish_reason": reason, "stop_sequence": stop_sequence}],
        "usage": usage_from(body.get("usage")),
    }


def build_response(resp: ChatResponse, model: str) -> dict[str, Any]:
    choice = resp["choices"][0] if resp["choices"] else {"parts": [], "finish_reason": None, "stop_sequence": None}
    content: list[dict[str, Any]] = []
    for p in choice["parts"]:
        if p["type"] == "text":
            if content and content[-1]["type"] == "text":
                content[-1]["text"] += p["text"]
            else:
                content.append({"type": "text", "text": p["text"]})
        elif p["type"] == "tool_call":
            content.append({"type": "tool_use", "id": safe_id(p["id"]), "name": p["name"], "input": p["arguments"]})
        elif p["type"] == "reasoning":
            block = thinking_block(p)
            if block is not None:
                content.append(block)
    reason = choice["finish_reason"]
    return {
        "id": resp["id"] or new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": FINISH_TO[reason] if reason else "end_turn",
        "stop_sequence": choice["stop_sequence"] if reason is FinishReason.STOP_SEQUENCE else None,
        "usage": usage_to(resp["usage"]),
    }
