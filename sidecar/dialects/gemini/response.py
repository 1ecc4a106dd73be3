"""Gemini generateContent: responses, usage and finish reasons <-> the common form.

- ``parse_response`` / ``build_response``: ``GenerateContentResponse`` bodies, one choice per candidate,
  its ``logprobsResult`` and ``avgLogprobs`` (``logprobs``) and ``citationMetadata`` (``citations``) with it;
  thought parts (``thought: true``) <-> reasoning parts, a ``thoughtSignature`` on another part <-> a
  text-less reasoning part just before it (``thought_parts``: shared with the stream encoder); a call
  Gemini sent without an id gets ``gemini_call_{responseId}_{n}`` in the common form (other dialects
  need one), which ``function_call`` leaves out again: a Gemini caller gets a call as the live answer
  had it, with Gemini's id or none, also when it is replayed (the cache, an ensemble's stream). The first
  call of an answer another provider made carries Google's documented ``skip_thought_signature_validator``
  (``foreign_call``): the app sends it back, and Gemini 3 refuses an unsigned call (a route that fell
  back mid-conversation, then came back to Gemini, would be stuck on that 400); a prompt
  blocked before any candidate is a content-filter stop.
- ``usage_from`` / ``usage_to``: ``candidatesTokenCount`` excludes ``thoughtsTokenCount``; the common
  ``output_tokens`` includes it. ``web_searches``: the Google Search queries grounding ran
  (``Usage.web_search_calls``): the candidates' unique non-empty ``groundingMetadata.webSearchQueries``,
  which Gemini 3 bills per query (the empty ones it ignores), whole and in a stream's fragments.
- ``FINISH_FROM`` / ``FINISH_TO``: Gemini has no tool-call reason: ``STOP`` with calls is ``TOOL_CALLS``; the
  blocks (safety, recitation, policy) are content-filter stops, ``CONTINUATION`` (cut, to be resumed) a
  length stop, the rest (``MALFORMED_FUNCTION_CALL``, ``LANGUAGE``...) ``OTHER``.

- ``error_body`` / ``error_event``: ``{"error": {"code", "message", "status"}}`` (google.rpc.Status), as a
  body and as the ``data:`` event google-genai raises on (a chunk that starts with ``{"error":`` and
  has a numeric ``code``); another provider's error in Gemini's own ``status`` and ``ErrorInfo`` reason
  for its condition (``ERROR_WORDS``) and the HTTP status Gemini sends for it where another provider's
  differs (``CONDITION_STATUSES``: a bad key is Gemini's 400), the sidecar's own code as a reason of
  domain ``llm-sidecar``.
- ``stream_usage``: the ``usageMetadata`` of one fragment.

Shared with the stream translators. Requests are in ``gemini``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...sse import SSEEvent
from ...translate.common import ChatResponse, Choice, FinishReason, Part, ReasoningPart, Usage, as_count
from ...translate.parts import answer_id, answer_string, new_id, safe_id, text_of
from ..errors import ANTHROPIC_ONLY_STATUSES, ErrorCondition
from . import citations, logprobs
from .fields import SKIP_SIGNATURE

FINISH_FROM = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.LENGTH,
    "SAFETY": FinishReason.CONTENT_FILTER,
    "RECITATION": FinishReason.CONTENT_FILTER,
    "BLOCKLIST": FinishReason.CONTENT_FILTER,
    "PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "SPII": FinishReason.CONTENT_FILTER,
    "IMAGE_SAFETY": FinishReason.CONTENT_FILTER,
    "IMAGE_PROHIBITED_CONTENT": FinishReason.CONTENT_FILTER,
    "IMAGE_RECITATION": FinishReason.CONTENT_FILTER,
    "ESCALATION": FinishReason.CONTENT_FILTER,  # filtered by an escalation rule
    "PUP_LIMITED_DISABLED": FinishReason.CONTENT_FILTER,  # stopped: the account is limited by the use policy
    "MODEL_ARMOR": FinishReason.CONTENT_FILTER,  # Vertex's Model Armor blocked it
    "CONTINUATION": FinishReason.LENGTH,  # cut at the per-request limit, to be resumed: not complete
}
FINISH_TO = {
    FinishReason.STOP: "STOP",
    FinishReason.STOP_SEQUENCE: "STOP",
    FinishReason.LENGTH: "MAX_TOKENS",
    FinishReason.TOOL_CALLS: "STOP",
    FinishReason.CONTENT_FILTER: "SAFETY",
    FinishReason.PAUSE: "STOP",
    FinishReason.OTHER: "OTHER",
}


def finish_from(raw: str | None, has_calls: bool) -> FinishReason | None:
    if not raw:
        return None
    reason = FINISH_FROM.get(raw, FinishReason.OTHER)
    return FinishReason.TOOL_CALLS if has_calls and reason is FinishReason.STOP else reason


MADE_UP_CALL_ID = "gemini_call_"


def call_id(response_id: str | None, n: int) -> str:
    """The id of the ``n``-th call of an answer that gave it none (``MADE_UP_CALL_ID`` marks it)."""
    return f"{MADE_UP_CALL_ID}{safe_id(response_id)}_{n}" if response_id else new_id(MADE_UP_CALL_ID) + f"_{n}"


def foreign_call(ident: str) -> bool:
    """A call another provider made (its id is not one the sidecar gave a Gemini call): Gemini 3 refuses it
    unsigned when the app sends it back, so the first of an answer carries ``SKIP_SIGNATURE``."""
    return not ident.startswith(MADE_UP_CALL_ID)


def function_call(ident: str, name: str, args: Any) -> dict[str, Any]:
    """A ``functionCall`` part's value: ``ident`` left out when the sidecar made it up (``call_id``)."""
    if ident.startswith(MADE_UP_CALL_ID):
        return {"name": name, "args": args}
    return {"id": ident, "name": name, "args": args}


def usage_from(raw: Any, searches: int = 0) -> Usage | None:
    """``raw``: a body's ``usageMetadata``; ``searches``: the search queries its answer ran (``web_searches``)."""
    if not isinstance(raw, dict):
        return None
    thoughts = as_count(raw.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=as_count(raw.get("promptTokenCount")) + as_count(raw.get("toolUsePromptTokenCount")),
        output_tokens=as_count(raw.get("candidatesTokenCount")) + thoughts,
        cached_input_tokens=as_count(raw.get("cachedContentTokenCount")),
        reasoning_tokens=thoughts,
        audio_input_tokens=_audio_count(raw.get("promptTokensDetails")) if "promptTokensDetails" in raw else 0,
        audio_output_tokens=_audio_count(raw.get("candidatesTokensDetails")) if "candidatesTokensDetails" in raw else 0,
        web_search_calls=searches,
    )


def web_searches(body: dict[str, Any]) -> int:
    """The Google Search queries an answer's grounding ran, billed per query (Gemini 3; "for billing
    purposes, we ignore the empty web search queries"): the unique non-empty strings of its candidates'
    ``groundingMetadata.webSearchQueries`` (``search_queries``)."""
    return len(search_queries(body))


def search_queries(body: dict[str, Any]) -> set[str]:
    """The unique non-empty ``groundingMetadata.webSearchQueries`` of a body's (or a fragment's) candidates."""
    queries: set[str] = set()
    for candidate in body.get("candidates") or ():
        grounding = candidate.get("groundingMetadata") if type(candidate) is dict else None
        asked = grounding.get("webSearchQueries") if type(grounding) is dict else None
        if type(asked) is list:
            queries.update(query for query in asked if type(query) is str and query)
    return queries


def _audio_count(details: Any) -> int:
    """The ``AUDIO`` modality's count in a list of ``ModalityTokenCount`` (Gemini's per-modality details)."""
    if not isinstance(details, list):
        return 0
    return sum(
        as_count(part.get("tokenCount"))
        for part in details
        if isinstance(part, dict) and part.get("modality") == "AUDIO"
    )


# google.rpc.Code names by HTTP status.
ERROR_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",  # no google.rpc.Code maps to 408; a timeout is DEADLINE_EXCEEDED
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


ERROR_WORDS: Mapping[ErrorCondition, tuple[str, str | None]] = {
    ErrorCondition.RATE_LIMITED: ("RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED"),
    ErrorCondition.QUOTA_EXHAUSTED: ("RESOURCE_EXHAUSTED", "RESOURCE_QUOTA_EXCEEDED"),
    ErrorCondition.OVERLOADED: ("UNAVAILABLE", None),
    ErrorCondition.AUTHENTICATION: ("INVALID_ARGUMENT", "API_KEY_INVALID"),  # a 400 (CONDITION_STATUSES)
    ErrorCondition.PERMISSION: ("PERMISSION_DENIED", None),
    ErrorCondition.NOT_FOUND: ("NOT_FOUND", None),
    ErrorCondition.INVALID_REQUEST: ("INVALID_ARGUMENT", None),
    ErrorCondition.CONTEXT_OVERFLOW: ("INVALID_ARGUMENT", None),
    ErrorCondition.REQUEST_TOO_LARGE: ("INVALID_ARGUMENT", None),
    ErrorCondition.TIMEOUT: ("DEADLINE_EXCEEDED", None),
    ErrorCondition.SERVER_ERROR: ("INTERNAL", None),
}
"""What Gemini sends for each condition, ``(status, ErrorInfo reason)``: the google.rpc.Code name and, where
Google's APIs give one, the ``google.api.ErrorReason`` of an ``ErrorInfo`` detail (domain
``googleapis.com``); another provider's error reaches a Gemini app in these words
(``error_body(..., condition=)``). A key Gemini does not take is a 400 ``INVALID_ARGUMENT`` with reason
``API_KEY_INVALID`` ("API key not valid. Please pass a valid API key.": Google's Firebase AI Logic error
codes page; Gemini's troubleshooting table lists no 401), not ``UNAUTHENTICATED``, Google's word for
OAuth credentials, which a Gemini app sending ``x-goog-api-key`` never meets."""

CONDITION_STATUSES: Mapping[ErrorCondition, int] = {
    ErrorCondition.OVERLOADED: 503,
    ErrorCondition.QUOTA_EXHAUSTED: 429,
    ErrorCondition.AUTHENTICATION: 400,
}
"""The HTTP status Gemini sends for a condition whatever status the upstream said it with (Anthropic's 529
overloaded and 402 billing, another provider's 401 for a bad key): the ``code`` of the body and the
response's status, as google-genai reads them (``APIError.code``; its retry options retry by status:
503 and 429, not 529 or 402)."""


def _error_info(reason: str, domain: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": domain}


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    condition: ErrorCondition | None = None,
) -> dict[str, Any]:
    if condition is not None:
        status = CONDITION_STATUSES.get(condition, status)
        rpc, reason = ERROR_WORDS[condition]
        body: dict[str, Any] = {"code": status, "message": message, "status": rpc}
        if reason:
            body["details"] = [_error_info(reason, "googleapis.com")]
        return {"error": body}
    status = ANTHROPIC_ONLY_STATUSES.get(status, status)
    rpc = ERROR_STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    body = {"code": status, "message": message, "status": rpc}
    if code:
        body["details"] = [_error_info(code, "llm-sidecar")]
    return {"error": body}


def error_event(
    status: int, message: str, *, code: str | None = None, condition: ErrorCondition | None = None
) -> SSEEvent:
    return SSEEvent(orjson.dumps(error_body(status, message, code=code, condition=condition)))


def usage_of(body: dict[str, Any]) -> Usage | None:
    """The usage of a whole response body."""
    return usage_from(body.get("usageMetadata"), web_searches(body))


STREAM_USAGE_KEY = b'"usageMetadata"'
"""A fragment's usage, the stream's totals so far (Google's streams carry it on every fragment)."""


def stream_usage(event: SSEEvent, earlier: Usage | None = None) -> Usage | None:
    """The stream's usage after ``event`` (``earlier``: before it; each fragment's counts are the totals so
    far, combined by ``Usage.merge``), or None when the event has none."""
    data = event.data
    if STREAM_USAGE_KEY not in data:
        return None
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    usage = usage_from(obj.get("usageMetadata"), web_searches(obj)) if isinstance(obj, dict) else None
    return usage if earlier is None or usage is None else earlier.merge(usage)


def usage_to(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    out = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": usage.output_tokens - usage.reasoning_tokens,
        "totalTokenCount": usage.total_tokens,
    }
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cached_input_tokens:
        out["cachedContentTokenCount"] = usage.cached_input_tokens
    return out


def parse_response(body: dict[str, Any]) -> ChatResponse:
    response_id = answer_id(body.get("responseId"), "responseId")
    choices: list[Choice] = []
    n = 0
    for cand in body.get("candidates") or ():
        parts: list[Part] = []
        for part in (cand.get("content") or {}).get("parts") or ():
            signature = answer_id(part.get("thoughtSignature"), "parts[].thoughtSignature")
            if part.get("thought"):
                parts.append(_reasoning(answer_string(part.get("text") or "", "parts[].text"), signature))
                continue
            if signature is not None:
                parts.append(_reasoning("", signature))
            if "text" in part:
                if part["text"]:
                    parts.append({"type": "text", "text": answer_string(part["text"], "parts[].text")})
            elif "functionCall" in part:
                fc = part["functionCall"]
                args = fc.get("args")
                parts.append(
                    {
                        "type": "tool_call",
                        "id": answer_id(fc.get("id"), "functionCall.id") or call_id(response_id, n),
                        "name": answer_string(fc.get("name", ""), "functionCall.name"),
                        "arguments": args if isinstance(args, dict) else {},
                    }
                )
                n += 1
        has_calls = any(p["type"] == "tool_call" for p in parts)
        reason = finish_from(cand.get("finishReason"), has_calls)
        choices.append(_with_extras({"parts": parts, "finish_reason": reason, "stop_sequence": None}, cand))
    if not choices and (body.get("promptFeedback") or {}).get("blockReason"):
        choices.append({"parts": [], "finish_reason": FinishReason.CONTENT_FILTER, "stop_sequence": None})
    return {"id": response_id, "choices": choices, "usage": usage_from(body.get("usageMetadata"), web_searches(body))}


def _with_extras(choice: Choice, candidate: dict[str, Any]) -> Choice:
    """``choice`` with the log-probabilities and the citations the candidate carried, when it carried any."""
    tokens = logprobs.tokens_of(candidate)
    if tokens:
        choice["logprobs"] = tokens
    cited = citations.citations_of(candidate, text_of(choice["parts"]))
    if cited:
        choice["citations"] = cited
    return choice


def _reasoning(text: str, signature: str | None) -> ReasoningPart:
    return {"type": "reasoning", "text": text, "signature": signature, "origin": "gemini", "redacted": False}


def own_signature(part: ReasoningPart) -> str | None:
    """The part's signature when Gemini made it (others' signatures mean nothing to Gemini)."""
    return part["signature"] if part["origin"] == "gemini" and not part["redacted"] else None


def thought_parts(parts: list[Part]) -> list[dict[str, Any]]:
    """Common answer parts as Gemini parts: a text-less reasoning part's signature goes on the part
    after it (or on an empty text part at the end); the first call, when another provider made it,
    carries ``SKIP_SIGNATURE`` (``foreign_call``)."""
    out: list[dict[str, Any]] = []
    pending: str | None = None
    first_call = not any(p["type"] == "reasoning" and own_signature(p) for p in parts)  # else Gemini's answer
    for p in parts:
        built: dict[str, Any]
        if p["type"] == "reasoning":
            signature = own_signature(p)
            if not p["text"]:
                pending = signature or pending
                continue
            built = {"text": p["text"], "thought": True}
            if signature:
                built["thoughtSignature"] = signature
        elif p["type"] == "text":
            built = {"text": p["text"]}
        elif p["type"] == "tool_call":
            built = {"functionCall": function_call(p["id"], p["name"], p["arguments"])}
            if first_call and foreign_call(p["id"]):
                built["thoughtSignature"] = SKIP_SIGNATURE
            first_call = False
        else:
            continue
        if pending is not None:
            built.setdefault("thoughtSignature", pending)
            pending = None
        out.append(built)
    if pending is not None:
        out.append({"text": "", "thoughtSignature": pending})
    return out


def build_response(resp: ChatResponse, model: str) -> dict[str, Any]:
    candidates = []
    for index, ch in enumerate(resp["choices"]):
        parts = thought_parts(ch["parts"])
        reason = ch["finish_reason"]
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": parts},
            "finishReason": FINISH_TO[reason] if reason else "STOP",
            "index": index,
        }
        logprobs.add_to_candidate(candidate, ch.get("logprobs"))
        citations.add_to_candidate(candidate, ch.get("citations"), text_of(ch["parts"]))
        candidates.append(candidate)
    return {
        "candidates": candidates,
        "usageMetadata": usage_to(resp["usage"]),
        "modelVersion": model,
        "responseId": resp["id"] or new_id(""),
    }
