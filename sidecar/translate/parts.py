"""Helpers that read and make the common form's parts and turns, shared by every dialect's translator.

``turns_of`` (a request's turns for a target that needs one), ``check_opening`` (the refusal of a
built conversation its target would refuse: no turn left, or, for Gemini, a tool call first),
``parse_arguments`` / ``result_text`` (tool calls' arguments and tool results across dialects),
``unanswered_call`` (the refusal of a tool result whose call id no earlier call has), ``text_of`` /
``reasoning_of`` (an answer's text and reasoning), ``new_id`` / ``safe_id`` / ``capped_id`` (ids made,
cleaned and cut to a provider's length),
``dumps`` (compact JSON text), and the name of the tool that carries structured output to Anthropic (``RESPONSE_TOOL``).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson

from .common import ChatRequest, Message, Part
from .numbers import exact_arguments
from .options import TranslationError, shown
from .params import caller_name


def unanswered_call(where: str, call: object, by: str = "id") -> TranslationError:
    """The refusal of a tool result (at ``where``, the caller's field) that answers no earlier tool call:
    none has its ``call`` id (or, ``by="name"``, for a Gemini result without an id, no unanswered call has
    its function name). Gemini pairs a result with its call by the call's function name, which only the
    call gives; OpenAI and Anthropic refuse a result without its call (their own 400, after the call)."""
    return TranslationError(
        f"{where}: {shown(call)} is the {by} of no earlier tool call (a tool result answers a call of an "
        f"earlier assistant turn, with that call's {by})"
    )


RESPONSE_TOOL = "sidecar_json_response"
"""Name of the tool that carries structured output to Anthropic; its input is the answer."""
RESPONSE_TOOL_VALUE = RESPONSE_TOOL + "_value"
"""The same, for a schema whose root is not an object: the answer is the input's ``value``."""


def turns_of(req: ChatRequest) -> tuple[list[str], list[Message]]:
    """The request's system prompts and turns for a target that needs a turn (Anthropic, Gemini): a
    request of system prompts only (OpenAI answers one) has them as its one user turn instead."""
    system, messages = req.get("system") or [], req.get("messages") or []
    if system and not any(p["type"] != "text" or p["text"] for m in messages for p in m["parts"]):
        return [], [{"role": "user", "parts": [{"type": "text", "text": "\n\n".join(system)}]}]
    return system, list(messages)


def check_opening(req: ChatRequest, turns: list[dict[str, Any]], target: str, opens_with_call: bool = False) -> None:
    """Refuse a built conversation (its ``turns``) that ``target`` would refuse: no turn left (every turn's
    text empty, or its parts ones the target cannot take, dropped), or, with ``opens_with_call`` (the
    first turn is the model's and calls a tool: Gemini takes a function call only right after a user turn
    or a function response), an agent's conversation that begins with its own tool call. The target's own
    400 would end the route, where a refusal lets its next target serve the request
    (bench/translation_fuzz.py). A conversation that begins with a text answer (an OpenAI app's greeting)
    is not refused: Anthropic and Gemini take it (docs/translation.md, "Alternation"). The caller's name
    of the field is looked up only for a refusal."""
    if not turns:
        raise TranslationError(
            f"{caller_name(req, 'messages')!r}: no turn is left for {target}: every turn is empty (an empty "
            f"text, or only parts {target} cannot take)"
        )
    if opens_with_call:
        raise TranslationError(
            f"{caller_name(req, 'messages')!r}: the conversation begins with a tool call (no user turn before "
            f"it, or only an empty one); {target} takes a function call only right after a user turn or a "
            f"function response"
        )


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as an object: OpenAI sends a JSON string, the others an object.

    Arguments that are not a JSON object (a model may emit broken JSON) travel as ``{"_raw": text}``.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            value = exact_arguments(raw)  # a 30-digit argument stays exact (``numbers``)
        except ValueError:
            return {"_raw": raw}
        if isinstance(value, dict):
            return value
        return {"_raw": raw}
    return {"_raw": dumps(raw)}


def result_text(output: str | dict[str, Any]) -> str:
    """A tool result as text: a lone ``{"result": "..."}`` object (Gemini's convention) unwraps."""
    if isinstance(output, str):
        return output
    if len(output) == 1:
        inner = output.get("result", output.get("output"))
        if isinstance(inner, str):
            return inner
    return dumps(output)


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def safe_id(value: str) -> str:
    """A tool-call id restricted to ``[A-Za-z0-9_-]`` (Anthropic's pattern); other characters become ``_``."""
    if value.replace("_", "").replace("-", "").isalnum() and value.isascii():
        return value
    return "".join(c if (c.isascii() and c.isalnum()) or c in "_-" else "_" for c in value) or "call"


def capped_id(value: str, limit: int) -> str:
    """A tool-call id of at most ``limit`` characters (OpenAI takes 40 in a history): a longer one is cut
    and ends with ``_`` and 8 hex digits of its SHA-256, the same for the call and its result, so that
    distinct ids stay distinct."""
    if len(value) <= limit:
        return value
    return value[: limit - 9] + "_" + hashlib.sha256(value.encode()).hexdigest()[:8]


def text_of(parts: list[Part]) -> str:
    return "".join(p["text"] for p in parts if p["type"] == "text")


def reasoning_of(parts: list[Part]) -> str:
    """The reasoning text of an answer's parts, joined (empty when there is none)."""
    return "".join(p["text"] for p in parts if p["type"] == "reasoning")


def answer_string(value: Any, field: str) -> str:
    """A string field of a provider's answer (a text, a tool's name); a ``TranslationError`` (the answer
    is malformed) for another JSON type, which is never carried into the common form: a translation, or
    a cached answer's replay, would fail writing it again."""
    if isinstance(value, str):
        return value
    raise TranslationError(f"{field} is not a string")


def answer_id(value: Any, field: str) -> str | None:
    """An optional string field of a provider's answer (an id, a signature): None when missing or empty,
    a ``TranslationError`` for another JSON type (``answer_string``)."""
    if value is None or value == "":
        return None
    return answer_string(value, field)
