"""The fields of an OpenAI caller's chat messages, tool calls and content parts beside the ones the common
form carries (``messages`` reads those): each is dropped and listed, or refused by name, never left out
unsaid (openai-python 3.63's ``ChatCompletionMessageParam`` and content part types).

- what changes nothing the model generates is dropped and listed (``Drops.ignored``) in either
  ``unsupported`` mode: a part's caching hint (``prompt_cache_breakpoint``, and the ``cache_control``
  OpenAI-compatible gateways take), a file's ``file.filename`` (the data travels whole), an earlier answer's
  reasoning sent back with it (``reasoning_content``, which the sidecar's own answers carry, ``reasoning``,
  ``reasoning_details``: listed as ``assistant.<field>``, as thinking blocks and thought parts are) and a
  tool call's stream ``index`` and ``extra_content`` (Gemini's OpenAI-compatible answers hold their thought
  signature there);
- any other field that is not null is refused by name, or under ``unsupported_params: drop`` dropped and
  listed: a message's ``<role>.<field>`` (``assistant.audio``: an earlier spoken answer only OpenAI
  keeps; ``user.x``), a tool call's ``tool_calls.<field>`` and ``tool_calls.function.<field>``, a part's
  ``<type>.<field>`` (``text.x``; an image's ``image_url.x``, a file's ``file.x`` inside them too), as
  OpenAI refuses a field it does not know (``Additional properties are not allowed``). Before 2026-12-06
  they were left out unsaid.

A message's ``role``, ``content`` and ``name`` (``messages.name``; a tool message's repeats its call's,
which the result takes), an assistant's ``tool_calls``, ``function_call``, ``refusal`` and ``annotations``
and a tool message's ``tool_call_id`` are ``messages``'s; so are an image's ``detail`` and a file's
``file_id``; a message of another role and a part of another type are refused there whole.
"""

from __future__ import annotations

from typing import Any

from ...translate.options import Drops

_MESSAGE = frozenset(("role", "content", "name"))
_CARRIED = {
    "system": _MESSAGE,
    "developer": _MESSAGE,
    "user": _MESSAGE,
    "assistant": _MESSAGE | {"tool_calls", "function_call", "refusal", "annotations"},
    "tool": _MESSAGE | {"tool_call_id"},
}
_REASONING = frozenset(("reasoning_content", "reasoning", "reasoning_details"))
_CALL = frozenset(("id", "type", "function"))
_CALL_IGNORED = frozenset(("index", "extra_content"))
_FUNCTION = frozenset(("name", "arguments"))
_PARTS = {
    "text": frozenset(("type", "text")),
    "refusal": frozenset(("type", "refusal")),
    "image_url": frozenset(("type", "image_url")),
    "file": frozenset(("type", "file")),
}
_PART_IGNORED = frozenset(("prompt_cache_breakpoint", "cache_control"))
_INNER = {"image_url": frozenset(("url", "detail")), "file": frozenset(("file_data", "file_id", "filename"))}


def check_message(role: Any, message: dict[str, Any], drops: Drops) -> None:
    """List or refuse the fields of ``message`` that ``messages`` does not read, and those of its tool
    calls; a message of another ``role`` (``function``, an unknown one) is ``messages``'s to refuse."""
    carried = _CARRIED.get(role) if isinstance(role, str) else None
    if carried is None:
        return
    for key, value in message.items():
        if key in carried or value is None:
            continue
        if key in _REASONING and role == "assistant":
            if value:
                drops.ignored(f"assistant.{key}")
        else:
            drops.unsupported(f"{role}.{key}")
    if role == "assistant" and isinstance(message.get("tool_calls"), list):
        for call in message["tool_calls"]:
            if isinstance(call, dict):
                _check_call(call, drops)


def _check_call(call: dict[str, Any], drops: Drops) -> None:
    for key, value in call.items():
        if key in _CALL or value is None:
            continue
        if key in _CALL_IGNORED:
            drops.ignored(f"tool_calls.{key}")
        else:
            drops.unsupported(f"tool_calls.{key}")
    function = call.get("function")
    if isinstance(function, dict):
        _check_fields(function, _FUNCTION, "tool_calls.function", drops)


def check_part(kind: str, part: dict[str, Any], drops: Drops) -> None:
    """List or refuse the fields of ``part``, a content part of a type ``messages`` reads (``text``,
    ``refusal``, ``image_url``, ``file``), that it does not carry: the part's and its inner object's."""
    for key, value in part.items():
        if key in _PARTS[kind] or value is None:
            continue
        if key in _PART_IGNORED:
            drops.ignored(key)
        else:
            drops.unsupported(f"{kind}.{key}")
    inner = part.get(kind)
    if kind in _INNER and isinstance(inner, dict):
        if inner.get("filename") and kind == "file":
            drops.ignored("file.filename")
        _check_fields(inner, _INNER[kind], kind, drops)


def _check_fields(value: dict[str, Any], carried: frozenset[str], prefix: str, drops: Drops) -> None:
    """Refuse (or drop, listed) each non-null field of ``value`` outside ``carried``, as ``<prefix>.<field>``."""
    for key, field in value.items():
        if key not in carried and field is not None:
            drops.unsupported(f"{prefix}.{key}")
