"""Signed reasoning, as Anthropic and Gemini 3 check it: the fake's thinking answers carry signatures it
can verify, and a request whose history lacks one is refused the way the real API refuses it.

- Anthropic (https://docs.claude.com/en/docs/build-with-claude/extended-thinking): a ``thinking`` block
  sent back carries its ``signature`` (``messages.1.content.0.thinking.signature: Field required``), the
  one made for its text (else ``Invalid `signature` in `thinking` block``); a ``redacted_thinking`` block
  its ``data``. With thinking on, a request answering tool calls (its last message holds
  ``tool_result`` blocks) needs the last assistant message to start with a thinking block.
- Gemini 3 (https://ai.google.dev/gemini-api/docs/thought-signatures): in the current turn (the contents
  from the last user text on), the first ``functionCall`` of each model step (the model's contents in a
  row) carries a ``thoughtSignature``, one the fake made or Google's documented
  ``skip_thought_signature_validator``;
  the fake's answers carry one on their first function call (on the last part when none).

Pure functions: ``RequestError`` for what the provider refuses, signatures derived from what they sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from sidecar.fake_provider.replies import RequestError

GEMINI_SKIP = "skip_thought_signature_validator"
_GEMINI_MARK = b"fake-gemini-thought:"
_ANTHROPIC_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_GEMINI_DOCS = "https://ai.google.dev/gemini-api/docs/thought-signatures"


def anthropic_signature(thinking: str) -> str:
    """The signature the fake gives a thinking block of text ``thinking`` (base64, as Anthropic's)."""
    return base64.b64encode(b"fake-thinking:" + hashlib.sha256(thinking.encode()).digest()).decode()


def thinking_on(body: Mapping[str, Any]) -> bool:
    """Whether an Anthropic request asks for thinking (``enabled`` or ``adaptive``)."""
    thinking = body.get("thinking")
    return isinstance(thinking, Mapping) and thinking.get("type") in ("enabled", "adaptive")


def check_anthropic(body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> None:
    """Anthropic's checks of thinking: its budget, each thinking block's signature, and a tool loop's
    last assistant message starting with its thinking when thinking is on."""
    for i, message in enumerate(messages):
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else ()):
            if not isinstance(block, Mapping):
                continue
            where = f"messages.{i}.content.{j}"
            if block.get("type") == "thinking":
                signature = block.get("signature")
                if not isinstance(signature, str):
                    raise RequestError(f"{where}.thinking.signature: Field required")
                if signature != anthropic_signature(str(block.get("thinking", ""))):
                    raise RequestError(f"{where}: Invalid `signature` in `thinking` block")
            elif block.get("type") == "redacted_thinking" and not isinstance(block.get("data"), str):
                raise RequestError(f"{where}.redacted_thinking.data: Field required")
    if not thinking_on(body):
        return
    _check_budget(body)
    last = messages[-1] if messages else {}
    content = last.get("content")
    answering = last.get("role") == "user" and any(
        isinstance(b, Mapping) and b.get("type") == "tool_result"
        for b in (content if isinstance(content, list) else ())
    )
    if not answering:
        return
    index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "assistant"), None)
    if index is None:
        return
    blocks = messages[index].get("content")
    first = blocks[0] if isinstance(blocks, list) and blocks else {}
    kind = first.get("type") if isinstance(first, Mapping) else "text"
    if kind not in ("thinking", "redacted_thinking"):
        raise RequestError(
            f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{kind}`. "
            "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
            "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
            "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please "
            f"consult our documentation at {_ANTHROPIC_DOCS}"
        )


def _check_budget(body: Mapping[str, Any]) -> None:
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool):
        raise RequestError("thinking.enabled.budget_tokens: Field required")
    if budget < 1024:
        raise RequestError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and budget >= max_tokens:
        raise RequestError("`max_tokens` must be greater than `thinking.budget_tokens`")


def gemini_signature(model: str, step: int) -> str:
    """The ``thoughtSignature`` the fake gives a Gemini 3 answer (base64 bytes, as Gemini's)."""
    return base64.b64encode(_GEMINI_MARK + hashlib.sha256(f"{model}:{step}".encode()).digest()[:12]).decode()


def signs_thoughts(model: str) -> bool:
    """Gemini 3 models sign every answer with a function call and check the signatures sent back."""
    return model.removeprefix("models/").startswith("gemini-3")


def check_gemini(model: str, contents: Sequence[Mapping[str, Any]]) -> None:
    """Gemini 3's check: each model step of the current turn with function calls has a valid signature on
    its first one. A step is the model's contents in a row (google-genai's streamed chat keeps one per
    fragment: a thought, then the call)."""
    if not signs_thoughts(model):
        return
    start = 0
    for index, content in enumerate(contents):
        if content.get("role", "user") == "user" and any(_has_text(part) for part in _parts(content)):
            start = index
    for index, call in _first_calls(contents, start):
        signature = call.get("thoughtSignature", call.get("thought_signature"))
        if signature is None:
            named = call.get("functionCall") or call.get("function_call") or {}
            raise RequestError(
                "Function call is missing a thought_signature in functionCall parts. This is required for "
                "tools to work correctly, and missing thought_signature may lead to degraded model "
                f"performance. Additional data, function call `default_api:{named.get('name')}` , position "
                f"{index + 1}. Please refer to {_GEMINI_DOCS} for more details."
            )
        if signature != GEMINI_SKIP and not _gemini_made(signature):
            raise RequestError(f"Corrupted thought signature in contents[{index}] (position {index + 1}).")


def _first_calls(contents: Sequence[Mapping[str, Any]], start: int) -> list[tuple[int, Mapping[str, Any]]]:
    """The first ``functionCall`` part of each model step from ``contents[start]`` on, with the index of
    the content holding it (a step: the model contents in a row)."""
    firsts: list[tuple[int, Mapping[str, Any]]] = []
    in_step = False  # a call of the current step was found
    for index in range(start, len(contents)):
        content = contents[index]
        if content.get("role") != "model":
            in_step = False
            continue
        calls = [part for part in _parts(content) if "functionCall" in part or "function_call" in part]
        if calls and not in_step:
            firsts.append((index, calls[0]))
            in_step = True
    return firsts


def _gemini_made(signature: Any) -> bool:
    if not isinstance(signature, str):
        return False
    try:
        raw = base64.b64decode(signature.replace("-", "+").replace("_", "/") + "==", validate=False)
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(_GEMINI_MARK)


def _parts(content: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    parts = content.get("parts")
    return [part for part in parts if isinstance(part, Mapping)] if isinstance(parts, list) else []


def _has_text(part: Mapping[str, Any]) -> bool:
    return isinstance(part.get("text"), str) and not part.get("thought")
