"""Anthropic ``thinking`` <-> the common form's ``Thinking`` (``translate.thinking``), as
``dialects.gemini.thinking`` is for Gemini.

- ``parse_thinking``: ``{type: enabled, budget_tokens}`` and ``{type: adaptive}`` ask for thinking (shown, as
  Anthropic shows it, unless ``display: omitted``); ``disabled`` asks for nothing; ``between_tools`` (thinking
  off) is dropped, listed; anything else, and another field of the object, is refused by name.
- ``build_thinking``: ``{type: enabled, budget_tokens}`` (a level, a Gemini ``thinkingLevel`` or an OpenAI
  ``reasoning_effort``, at Google's budget for it, ``minimal`` as no thinking, dropped, listed) within Anthropic's
  bounds (at least ``ANTHROPIC_MIN_BUDGET``, below ``max_tokens``), with the sampling settings Anthropic
  refuses while thinking dropped by name; no thinking on a turn that answers tool calls (Anthropic wants back
  the signed thinking that preceded them, which a caller of another dialect never received).
  ``max_tokens`` holds the thinking and the answer together (as OpenAI's ``max_completion_tokens`` and
  Gemini's ``maxOutputTokens`` do), so the answer keeps ``ANSWER_ROOM`` tokens after the budget: when the
  caller set no output maximum and the model's ``max_output_tokens`` is unknown, ``max_tokens`` is raised to
  the budget plus that room; otherwise (the caller's maximum, or the model's) a level's budget shrinks to
  leave it, down to Anthropic's minimum, and a budget the caller named is refused when not below it.
- ``unsigned_tool_loop``: the same for an Anthropic app's own request whose tool-calling turn another
  provider answered (a fallback mid-conversation): relayed without ``thinking`` (``wire``).
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest
from ...translate.options import DEFAULT_MAX_TOKENS, Drops, name_of
from ...translate.thinking import ANTHROPIC_MIN_BUDGET, Thinking

ANSWER_ROOM = DEFAULT_MAX_TOKENS
"""The output tokens the answer keeps after a thinking budget (``max_tokens`` counts both): what an answer
gets by default without thinking."""


_THINKING_KEYS = frozenset(("type", "budget_tokens", "display"))


def parse_thinking(value: Any, req: ChatRequest, drops: Drops) -> None:
    """``{type: enabled, budget_tokens}`` and ``{type: adaptive}`` ask for thinking, shown unless ``display`` is
    ``omitted``; ``disabled`` asks for nothing; ``between_tools`` (thinking off, the model's progress notes
    between tool calls returned as thinking blocks) asks for no thinking, dropped and listed. Another field
    of the object is refused by name (``thinking.<field>``)."""
    kind = value.get("type") if isinstance(value, dict) else None
    budget = value.get("budget_tokens") if kind == "enabled" else -1
    if kind == "disabled":
        return
    if kind == "between_tools":
        drops.ignored("thinking")
        return
    if kind not in ("enabled", "adaptive") or type(budget) is not int or not (budget > 0 or kind == "adaptive"):
        drops.unsupported("thinking")
        return
    for key, field in value.items():
        if key not in _THINKING_KEYS and field is not None:
            drops.unsupported(f"thinking.{name_of(key)}")
    display = value.get("display")
    if display not in (None, "summarized", "omitted"):
        drops.unsupported("thinking.display", "only summarized and omitted translate")
    req["thinking"] = {"budget": budget, "show": display != "omitted", "param": "thinking", "effort": None}


def build_thinking(thinking: Thinking, out: dict[str, Any], drops: Drops, *, may_raise: bool) -> None:
    """``thinking {type: enabled, budget_tokens}`` within Anthropic's bounds (``translate.thinking``); what it
    cannot honour is refused naming the caller's field, or (under ``drop``) sent without thinking.
    ``may_raise``: ``out["max_tokens"]`` is the sidecar's default (the caller set none and the model's
    ``max_output_tokens`` is unknown), raised to fit the budget and ``ANSWER_ROOM``."""
    param, budget = thinking["param"], max(thinking["budget"], ANTHROPIC_MIN_BUDGET)
    if thinking["budget"] == 0:  # minimal (a Gemini 3 level or OpenAI effort): no thinking for most queries
        drops.ignored(param)
        return
    budget, max_tokens = _fit_output(budget, thinking["effort"] is not None, out["max_tokens"], may_raise)
    refused = (
        "Anthropic needs a thinking budget"
        if thinking["budget"] < 0
        else "Anthropic cannot think while a tool call is forced (structured output is one)"
        if out.get("tool_choice", {}).get("type") in ("any", "tool")
        else _budget_above_max_tokens(thinking, max_tokens)
        if max_tokens <= budget
        else None
    )
    if refused is not None:
        drops.unsupported(param, refused)
        return
    if _in_tool_loop(out["messages"]):
        # Anthropic wants back the signed thinking that preceded the calls; no other dialect has it.
        drops.ignored(param)
        return
    if out.get("temperature", 1) != 1:
        drops.unsupported("temperature", "Anthropic takes only 1 while thinking")
        del out["temperature"]
    if "top_k" in out:
        drops.unsupported("top_k", "Anthropic takes none while thinking")
        del out["top_k"]
    if out.get("top_p", 1) < 0.95:
        drops.unsupported("top_p", "Anthropic takes 0.95 to 1 while thinking")
        del out["top_p"]
    out["thinking"] = {"type": "enabled", "budget_tokens": budget}
    out["max_tokens"] = max_tokens  # raised only when thinking is sent


def _fit_output(budget: int, level: bool, max_tokens: int, may_raise: bool) -> tuple[int, int]:
    """The budget and ``max_tokens`` to send: ``max_tokens`` raised to hold the budget and ``ANSWER_ROOM``
    after it when ``may_raise``; else a level's budget (``level``) shrunk to leave that room, down to
    Anthropic's minimum (a budget still not below ``max_tokens`` is refused by the caller)."""
    room = max_tokens - ANSWER_ROOM
    if budget <= room:
        return budget, max_tokens
    if may_raise:
        return budget, budget + ANSWER_ROOM
    return (max(room, ANTHROPIC_MIN_BUDGET) if level else budget), max_tokens


def _budget_above_max_tokens(thinking: Thinking, max_tokens: int) -> str:
    """Why a budget not below ``max_tokens`` is refused: what the app asked, what Anthropic needs (a budget
    under its minimum was raised to it, which the app never sent) and what to change. A level (OpenAI
    ``reasoning_effort``, Gemini 3's ``thinkingLevel``) is named with the budget it stands for."""
    asked, effort = thinking["budget"], thinking["effort"]
    if effort is not None:  # its budget shrank to Anthropic's minimum, and max_tokens is not above that
        return (
            f"Anthropic needs max_tokens ({max_tokens}) above its minimum thinking budget"
            f" ({ANTHROPIC_MIN_BUDGET}), which {effort} would be shrunk to: ask for more than"
            f" {ANTHROPIC_MIN_BUDGET} output tokens, or for no thinking"
        )
    if asked < ANTHROPIC_MIN_BUDGET:
        return (
            f"the budget asked ({asked}) is below Anthropic's minimum thinking budget ({ANTHROPIC_MIN_BUDGET}),"
            f" and Anthropic needs max_tokens ({max_tokens}) above the budget: ask for more than"
            f" {ANTHROPIC_MIN_BUDGET} output tokens, or for no thinking"
        )
    return (
        f"Anthropic needs max_tokens ({max_tokens}) above the thinking budget ({asked}): ask for more than"
        f" {asked} output tokens, or for a smaller budget"
    )


def unsigned_tool_loop(body: dict[str, Any]) -> bool:
    """An Anthropic app's own request Anthropic would refuse: thinking on, answering tool calls whose
    assistant turn does not start with its signed thinking (``thinking`` or ``redacted_thinking``).

    That turn came from another provider, which a route fell back to mid-conversation: it has no Anthropic
    thinking, and Anthropic answers ``a final assistant message must start with a thinking block``, a 400
    that ends the route on every retry. Sent without thinking (dropped, listed), as a translated request
    is, Anthropic answers; the next user turn thinks again."""
    thinking = body.get("thinking")
    messages = body.get("messages")
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return False
    if not isinstance(messages, list):
        return False
    for message in reversed(messages):
        content = message.get("content") if isinstance(message, dict) else None
        blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
        if isinstance(message, dict) and message.get("role") == "assistant":
            calls = any(b.get("type") == "tool_use" for b in blocks)
            return calls and (not blocks or blocks[0].get("type") not in ("thinking", "redacted_thinking"))
        if not any(b.get("type") == "tool_result" for b in blocks):
            return False
    return False


def _in_tool_loop(messages: list[dict[str, Any]]) -> bool:
    """The request answers tool calls: its last assistant turn called tools (no text turn since)."""
    for msg in reversed(messages):
        if msg["role"] == "assistant":
            return any(b["type"] == "tool_use" for b in msg["content"])
        if not any(b["type"] == "tool_result" for b in msg["content"]):
            return False
    return False
