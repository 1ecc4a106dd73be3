"""OpenAI chat completions: responses, usage and finish reasons <-> the common form.

- ``parse_response`` / ``build_response``: ``chat.completion`` bodies, one choice per common choice, its
  ``logprobs`` (``logprobs``) and ``message.annotations`` (``citations``) with it;
  the OpenAI-compatible ``message.reasoning_content`` (DeepSeek...) <-> a leading reasoning part (read:
  also ``reasoning``, vLLM's name since it dropped ``reasoning_content``, and OpenRouter's).
- ``usage_from`` / ``usage_to``: ``prompt_tokens`` (cached and cache-written included,
  ``prompt_tokens_details.cached_tokens`` and ``.cache_write_tokens``, written when there are any),
  ``completion_tokens`` (reasoning included, ``completion_tokens_details.reasoning_tokens``); read also in
  the Responses API's names (``input_tokens``, ``input_tokens_details``, ``output_tokens``,
  ``output_tokens_details``: same meanings), which an answer of ``/v1/responses`` and its stream's
  ``response.completed`` (or ``.incomplete``, ``.failed``) event carry. ``web_searches``: the web
  searches an answer shows (``Usage.web_search_calls``): a Responses answer's (or ``response.completed``'s)
  ``web_search_call`` items; a chat answer's ``url_citation`` annotations, one search (a chat stream's
  come in its deltas: ``searches.ChatCitations`` counts them for the relay, the decoder a translated
  stream's).
- ``FINISH_FROM`` / ``FINISH_TO``: ``stop|length|tool_calls|content_filter`` <-> ``FinishReason``; a
  ``stop`` whose message is a ``refusal`` (and no content) is a content-filter stop.

- ``error_body`` / ``error_event``: ``{"error": {"message", "type", "param", "code"}}``, as a body and as
  the ``data:`` event openai-python's ``Stream`` raises ``APIError`` on (a payload with an ``error`` key);
  another provider's error in OpenAI's own ``type`` and ``code`` for its condition (``ERROR_WORDS``), with
  the HTTP status OpenAI sends for it where another provider's differs (``CONDITION_STATUSES``).
- ``stream_usage``: the usage of one stream chunk (the trailing usage chunk), rejected by a byte search
  before any parsing.

Shared with the stream translators. Requests are in ``openai``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import MAX_REPORTED_TOKENS, ChatResponse, Choice, FinishReason, Part, Usage, as_tier
from ...translate.parts import answer_id, answer_string, new_id, parse_arguments, reasoning_of
from ..errors import ANTHROPIC_ONLY_STATUSES, ErrorCondition
from . import citations, logprobs
from .messages import assistant_message

FINISH_FROM = {
    "stop": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
}
FINISH_TO = {
    FinishReason.STOP: "stop",
    FinishReason.STOP_SEQUENCE: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.CONTENT_FILTER: "content_filter",
    FinishReason.PAUSE: "stop",
    FinishReason.OTHER: "stop",
}


# The usage fields of chat completions, and of the Responses API: (input, its details, output, its details).
_CHAT_USAGE = ("prompt_tokens", "prompt_tokens_details", "completion_tokens", "completion_tokens_details")
_RESPONSES_USAGE = ("input_tokens", "input_tokens_details", "output_tokens", "output_tokens_details")


def usage_from(raw: Any, service_tier: Any = None, searches: int = 0) -> Usage | None:
    """``raw``: a body's ``usage``; ``service_tier``: the body's (OpenAI says it beside the usage);
    ``searches``: the web searches its answer shows (``web_searches``). Each count is ``as_count``'s reading
    (an integer from 0 to ``MAX_REPORTED_TOKENS``, else 0), written out here: this runs on every OpenAI
    answer, and seven calls cost more than the reading (docs/benchmarks.md, "Wave 46 `plain47`")."""
    if not isinstance(raw, dict):
        return None
    names = _RESPONSES_USAGE if "prompt_tokens" not in raw and "input_tokens" in raw else _CHAT_USAGE
    inputs, input_details, outputs, output_details = names
    top = MAX_REPORTED_TOKENS
    prompt = raw.get(input_details) or {}
    if not isinstance(prompt, dict):
        prompt = {}
    completion = raw.get(output_details) or {}
    if not isinstance(completion, dict):
        completion = {}
    # ``type(n) is int``: a bool is not a count (JSON's numbers are never another subclass of int)
    return Usage(
        input_tokens=n if type(n := raw.get(inputs)) is int and 0 <= n <= top else 0,
        output_tokens=n if type(n := raw.get(outputs)) is int and 0 <= n <= top else 0,
        cached_input_tokens=n if type(n := prompt.get("cached_tokens")) is int and 0 <= n <= top else 0,
        cache_write_tokens=n if type(n := prompt.get("cache_write_tokens")) is int and 0 <= n <= top else 0,
        reasoning_tokens=n if type(n := completion.get("reasoning_tokens")) is int and 0 <= n <= top else 0,
        audio_input_tokens=n if type(n := prompt.get("audio_tokens")) is int and 0 <= n <= top else 0,
        audio_output_tokens=n if type(n := completion.get("audio_tokens")) is int and 0 <= n <= top else 0,
        service_tier=as_tier(service_tier) if service_tier is not None else None,
        web_search_calls=searches,
    )


def web_searches(body: dict[str, Any]) -> int:
    """The web searches an answer shows, billed per call: a Responses answer's ``web_search_call`` output
    items, one each; a chat answer (a search model's, ``gpt-4o-search-preview``) one when a choice cites
    the web (``url_citation`` annotations: a chat answer says nothing else of its search)."""
    output = body.get("output")
    if output is not None:  # the Responses API
        if type(output) is not list:
            return 0
        return sum(1 for item in output if type(item) is dict and item.get("type") == "web_search_call")
    for choice in body.get("choices") or ():
        message = choice.get("message") if type(choice) is dict else None
        cited = message.get("annotations") if type(message) is dict else None
        if cited and type(cited) is list and any(type(a) is dict and a.get("type") == "url_citation" for a in cited):
            return 1
    return 0


# OpenAI's error types by HTTP status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    502: "server_error",
    503: "server_error",
    504: "timeout",
}

_INVALID = "invalid_request_error"
ERROR_WORDS: Mapping[ErrorCondition, tuple[str, str | None]] = {
    ErrorCondition.RATE_LIMITED: ("requests", "rate_limit_exceeded"),
    ErrorCondition.QUOTA_EXHAUSTED: ("insufficient_quota", "insufficient_quota"),
    # OpenAI's own Codex client (openai/codex, codex-rs/codex-api/src/api_bridge.rs) reads a 503 whose
    # error.code is server_is_overloaded (or slow_down) as the server overloaded; the type is the one in
    # OpenAI's overload errors as apps have logged them, no OpenAI page names it (openai-python reads
    # neither: a 503 is its InternalServerError, retried). docs/translation.md, "Errors"
    ErrorCondition.OVERLOADED: ("service_unavailable_error", "server_is_overloaded"),
    ErrorCondition.AUTHENTICATION: (_INVALID, "invalid_api_key"),
    ErrorCondition.PERMISSION: (_INVALID, None),
    ErrorCondition.NOT_FOUND: (_INVALID, "model_not_found"),
    ErrorCondition.INVALID_REQUEST: (_INVALID, None),
    ErrorCondition.CONTEXT_OVERFLOW: (_INVALID, "context_length_exceeded"),
    ErrorCondition.REQUEST_TOO_LARGE: (_INVALID, None),
    ErrorCondition.TIMEOUT: ("timeout", None),
    ErrorCondition.SERVER_ERROR: ("server_error", None),
}
"""What OpenAI sends for each condition, ``(type, code)`` (its error-codes guide; apps branch on ``code``:
``insufficient_quota`` pages a human, ``rate_limit_exceeded`` retries): another provider's error reaches
an OpenAI app in these words (``error_body(..., condition=)``)."""

CONDITION_STATUSES: Mapping[ErrorCondition, int] = {
    ErrorCondition.OVERLOADED: 503,
    ErrorCondition.QUOTA_EXHAUSTED: 429,
}
"""The HTTP status OpenAI sends for a condition whatever status the upstream said it with (Anthropic's 529
overloaded, 402 billing; a Gemini billing ``FAILED_PRECONDITION`` 400): openai-python picks its error class
and its retries by the status (``RateLimitError`` for ``insufficient_quota``'s 429)."""


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    condition: ErrorCondition | None = None,
) -> dict[str, Any]:
    if condition is not None:
        kind, code = ERROR_WORDS[condition]
    else:
        status = ANTHROPIC_ONLY_STATUSES.get(status, status)
        kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_event(
    status: int, message: str, *, code: str | None = None, condition: ErrorCondition | None = None
) -> SSEEvent:
    return SSEEvent(orjson.dumps(error_body(status, message, code=code, condition=condition)))


def usage_of(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body."""
    return usage_from(body.get("usage"), body.get("service_tier"), web_searches(body))


def stream_usage(event: SSEEvent, earlier: Usage | None = None) -> Usage | None:
    """The stream's usage after ``event`` (``earlier``: before it; a compatible server's repeated usage
    chunks are totals so far, combined by ``Usage.merge``), or None when the event has none."""
    data = event.data
    if b'"usage"' not in data or b'"usage":null' in data or b'"usage": null' in data:
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    raw, tier, searches = obj.get("usage"), obj.get("service_tier"), 0
    if raw is None and isinstance(response := obj.get("response"), dict):  # the Responses API's last event
        raw, tier, searches = response.get("usage"), response.get("service_tier"), web_searches(response)
    usage = usage_from(raw, tier, searches)
    return usage if earlier is None or usage is None else earlier.merge(usage)


def usage_to(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        # always, as OpenAI sends it: apps read usage.completion_tokens_details.reasoning_tokens unguarded
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_write_tokens:  # optional in OpenAI's usage (openai 3.63): written when there are any
        out["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_tokens
    return out


def reasoning_in(message: dict[str, Any]) -> str | None:
    """The reasoning text of a message or stream delta: ``reasoning_content`` or ``reasoning`` (a string:
    OpenRouter's request-side ``reasoning`` is an object), None when there is none."""
    text = message.get("reasoning_content") or message.get("reasoning")
    return text if isinstance(text, str) and text else None


def _message_text(message: dict[str, Any]) -> str | None:
    """A message's text: ``content`` (a string, or the text parts of a list, as some OpenAI-compatible
    servers write it), else its ``refusal``; a ``TranslationError`` for another JSON type."""
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(
            p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p["text"], str)
        )
    return answer_id(content or message.get("refusal"), "message.content")


def parse_response(body: dict[str, Any]) -> ChatResponse:
    choices: list[Choice] = []
    for ch in body.get("choices") or ():
        msg = ch.get("message") or {}
        parts: list[Part] = []
        reasoning = reasoning_in(msg)
        if reasoning is not None:
            parts.append(
                {"type": "reasoning", "text": reasoning, "signature": None, "origin": "openai", "redacted": False}
            )
        text = _message_text(msg)
        if text:
            parts.append({"type": "text", "text": text})
        for call in msg.get("tool_calls") or ():
            fn = call.get("function") or {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": answer_id(call.get("id"), "tool_calls[].id") or new_id("call_"),
                    "name": answer_string(fn.get("name", ""), "tool_calls[].function.name"),
                    "arguments": parse_arguments(fn.get("arguments")),
                }
            )
        raw = ch.get("finish_reason")
        reason = FINISH_FROM.get(raw, FinishReason.OTHER) if raw else None
        if reason is FinishReason.STOP and msg.get("refusal") and not msg.get("content"):
            reason = FinishReason.CONTENT_FILTER  # the model refused (structured outputs): Anthropic's "refusal"
        choices.append(_with_extras({"parts": parts, "finish_reason": reason, "stop_sequence": None}, ch, msg, text))
    usage = usage_from(body.get("usage"), body.get("service_tier"), web_searches(body))
    return {"id": answer_id(body.get("id"), "id"), "choices": choices, "usage": usage}


def _with_extras(choice: Choice, raw: dict[str, Any], message: dict[str, Any], text: str | None) -> Choice:
    """``choice`` with the log-probabilities and the citations the answer carried, when it carried any."""
    tokens = logprobs.tokens_of(raw.get("logprobs"))
    if tokens:
        choice["logprobs"] = tokens
    cited = citations.citations_of(message, text or "")
    if cited:
        choice["citations"] = cited
    return choice


def build_response(resp: ChatResponse, model: str) -> dict[str, Any]:
    choices = []
    for index, ch in enumerate(resp["choices"]):
        message = assistant_message(ch["parts"])
        message["refusal"] = None
        message["annotations"] = citations.annotations_of(ch.get("citations"))  # [] without: apps iterate it
        reasoning = reasoning_of(ch["parts"])
        if reasoning:
            message["reasoning_content"] = reasoning
        reason = ch["finish_reason"]
        choices.append(
            {
                "index": index,
                "message": message,
                "finish_reason": FINISH_TO[reason] if reason else "stop",
                "logprobs": logprobs.choice_logprobs(ch.get("logprobs")),
            }
        )
    return {
        "id": resp["id"] or new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage_to(resp["usage"]),
    }
