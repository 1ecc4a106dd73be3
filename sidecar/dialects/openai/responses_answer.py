"""A common-form answer -> an OpenAI Responses API ``response`` object (pure): the whole answer of a
Responses request a target of another dialect served, and the pieces its stream (``responses_encoder``)
writes too.

``build_response`` writes ``output`` in the answer's order: the reasoning the target showed (Anthropic's
thinking, Gemini's thoughts) as one ``reasoning`` item whose ``summary`` holds its text (``summary_text``:
both providers show a summary of their thinking; no ``encrypted_content``, a signature is only its
provider's), the text as a ``message`` item with one ``output_text`` part (its ``annotations`` from the
answer's citations, its ``logprobs`` when asked), then each tool call as a ``function_call`` item
(``call_id``, JSON ``arguments``). ``status`` is ``completed``, or ``incomplete`` with
``incomplete_details.reason``: ``max_output_tokens`` for a length stop, ``content_filter`` for a
refusal or a filter (``FINISH_INCOMPLETE``). ``usage`` in the Responses API's names (``usage_to``). The
request's settings are echoed as OpenAI echoes them (``echoed_settings``); ``store`` is false: nothing is
kept to be retrieved.
"""

from __future__ import annotations

import time
from typing import Any

from ...translate.common import ChatResponse, Citation, FinishReason, Part, TokenLogprob, Usage
from ...translate.parts import dumps, new_id, reasoning_of
from . import citations
from .logprobs import choice_logprobs

FINISH_INCOMPLETE = {FinishReason.LENGTH: "max_output_tokens", FinishReason.CONTENT_FILTER: "content_filter"}
"""The finish reasons that leave a response ``incomplete``, and the ``incomplete_details.reason`` each gives."""

_ECHOED: tuple[tuple[str, str | bool | None], ...] = (
    ("instructions", None),
    ("max_output_tokens", None),
    ("parallel_tool_calls", True),
    ("temperature", None),
    ("tool_choice", "auto"),
    ("top_p", None),
    ("user", None),
)


def echoed_settings(request: dict[str, Any]) -> dict[str, Any]:
    """The request's settings a ``response`` object echoes (OpenAI's defaults for those not sent; the
    object and list defaults made anew for each response)."""
    out: dict[str, Any] = {key: request.get(key, default) for key, default in _ECHOED}
    out["metadata"] = request.get("metadata") or {}
    out["text"] = request.get("text") or {"format": {"type": "text"}}
    out["tools"] = request.get("tools") or []
    reasoning = request.get("reasoning")
    out["reasoning"] = reasoning if isinstance(reasoning, dict) else {"effort": None, "summary": None}
    return out


def usage_to(usage: Usage | None) -> dict[str, Any]:
    """Usage in the Responses API's names (the cached, cache-written and reasoning tokens always present:
    openai-python's ``ResponseUsage`` requires them)."""
    usage = usage or Usage()
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def response_object(
    ident: str,
    model: str,
    created: int,
    settings: dict[str, Any],
    output: list[dict[str, Any]],
    finish: FinishReason | None,
    usage: Usage | None,
    *,
    done: bool = True,
) -> dict[str, Any]:
    """A ``response`` object; ``done`` False: one still in progress (a stream's first events)."""
    reason = FINISH_INCOMPLETE.get(finish) if finish is not None else None
    status = ("incomplete" if reason else "completed") if done else "in_progress"
    return {
        "id": ident,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "model": model,
        "output": output,
        "previous_response_id": None,
        "store": False,
        "truncation": "disabled",
        **settings,
        "usage": usage_to(usage) if done else None,
    }


def reasoning_item(ident: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": ident, "summary": [{"type": "summary_text", "text": text}]}


def text_part(text: str, cited: list[Citation] | None, tokens: list[TokenLogprob] | None) -> dict[str, Any]:
    annotations = [{**a["url_citation"], "type": "url_citation"} for a in citations.annotations_of(cited)]
    scored = choice_logprobs(tokens)
    return {
        "type": "output_text",
        "text": text,
        "annotations": annotations,
        "logprobs": scored["content"] if scored else [],
    }


def message_item(ident: str, part: dict[str, Any], status: str) -> dict[str, Any]:
    return {"type": "message", "id": ident, "status": status, "role": "assistant", "content": [part]}


def call_item(ident: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": ident,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def output_of(parts: list[Part], finish: FinishReason | None, choice: dict[str, Any]) -> list[dict[str, Any]]:
    """An answer's ``output`` items (the module docstring's order)."""
    output: list[dict[str, Any]] = []
    reasoning = reasoning_of(parts)
    if reasoning:
        output.append(reasoning_item(new_id("rs_"), reasoning))
    text = "".join(p["text"] for p in parts if p["type"] == "text")
    if text or not any(p["type"] == "tool_call" for p in parts):
        status = "incomplete" if finish in FINISH_INCOMPLETE else "completed"
        part = text_part(text, choice.get("citations"), choice.get("logprobs"))
        output.append(message_item(new_id("msg_"), part, status))
    for p in parts:
        if p["type"] == "tool_call":
            output.append(call_item(new_id("fc_"), p["id"], p["name"], dumps(p["arguments"])))
    return output


def build_response(resp: ChatResponse, model: str, request: dict[str, Any]) -> dict[str, Any]:
    """A common-form answer as a ``response`` object (its first choice: the Responses API has one)."""
    choice: dict[str, Any] = dict(resp["choices"][0]) if resp["choices"] else {"parts": [], "finish_reason": None}
    finish = choice["finish_reason"]
    output = output_of(choice["parts"], finish, choice)
    ident = resp["id"] or new_id("resp_")
    if not ident.startswith("resp_"):
        ident = "resp_" + ident
    return response_object(ident, model, int(time.time()), echoed_settings(request), output, finish, resp["usage"])
