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

# What each object carries, and what it may hold that changes nothing generated (listed as the value says).
_MESSAGE = frozenset(("role", "content", "name"))
_NOTHING: dict[str, str] = {}
_REASONING = {key: f"assistant.{key}" for key in ("reasoning_content", "reasoning", "reasoning_details")}
_MESSAGES = {
    "system": (_MESSAGE, _NOTHING),
    "developer": (_MESSAGE, _NOTHING),
    "user": (_MESSAGE, _NOTHING),
    "assistant": (_MESSAGE | {"tool_calls", "function_call", "refusal", "annotations"}, _REASONING),
    "tool": (_MESSAGE | {"tool_call_id"}, _NOTHING),
}
_CALL = frozenset(("id", "type", "function"))
_CALL_IGNORED = {"index": "tool_calls.index", "extra_content": "tool_calls.extra_content"}
_FUNCTION = frozenset(("name", "arguments"))
_CACHING = {"prompt_cache_breakpoint": "prompt_cache_breakpoint", "cache_control": "cache_control"}
_PARTS = {
    "text": frozenset(("type", "text")),
    "refusal": frozenset(("type", "refusal")),
    "image_url": frozenset(("type", "image_url")),
    "file": frozenset(("type", "file")),
}
_INNER = {
    "image_url": (frozenset(("url", "detail")), _NOTHING),
    "file": (frozenset(("file_data", "file_id")), {"filename": "file.filename"}),
}


def check_message(role: Any, message: dict[str, Any], drops: Drops) -> None:
    """List or refuse the fields of ``message`` that ``messages`` does not read, and those of its tool
    calls; a message of another ``role`` (``function``, an unknown one) is ``messages``'s to refuse.
    ``messages`` calls it only for a message of more than a role and a content (most of a conversation is
    of those: a call costs about 900 CPU instructions, bench/translate_instructions.py)."""
    rule = _MESSAGES.get(role) if isinstance(role, str) else None
    if rule is None:
        return
    carried, ignored = rule
    if not carried.issuperset(message):  # the usual message holds nothing more: one check in C
        _name_others(message, carried, ignored, role, drops)
    calls = message.get("tool_calls") if role == "assistant" else None
    for call in calls if isinstance(calls, list) else ():
        if not isinstance(call, dict):
            continue
        # fields counted, not a set built (about 400 CPU instructions, not 950)
        if len(call) > ("id" in call) + ("type" in call) + ("function" in call):
            _name_others(call, _CALL, _CALL_IGNORED, "tool_calls", drops)
        function = call.get("function")
        if isinstance(function, dict) and len(function) > ("name" in function) + ("arguments" in function):
            _name_others(function, _FUNCTION, _NOTHING, "tool_calls.function", drops)


def check_part(kind: str, part: dict[str, Any], drops: Drops) -> None:
    """List or refuse the fields of ``part``, a content part of a type ``messages`` reads (``text``,
    ``refusal``, ``image_url``, ``file``), that it does not carry: the part's and its inner object's."""
    if not _PARTS[kind].issuperset(part):
        _name_others(part, _PARTS[kind], _CACHING, kind, drops)
    inner = part.get(kind)
    rule = _INNER.get(kind)
    if rule is not None and isinstance(inner, dict) and not rule[0].issuperset(inner):
        _name_others(inner, rule[0], rule[1], kind, drops)


def _name_others(
    value: dict[str, Any], carried: frozenset[str], ignored: dict[str, str], prefix: str, drops: Drops
) -> None:
    """Each non-null field of ``value`` outside ``carried``: listed by the name ``ignored`` gives it, else
    refused (or dropped, listed) as ``<prefix>.<field>``."""
    for key, field in value.items():
        if key in carried or field is None:
            continue
        listed = ignored.get(key)
        if listed is not None:
            drops.ignored(listed)
        else:
            drops.unsupported(f"{prefix}.{key}")
