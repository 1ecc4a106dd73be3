"""The fields of an Anthropic caller's messages and of its ``text``, ``tool_use`` and ``tool_result`` blocks
beside the ones the common form carries (``request`` reads those): each is dropped and listed, or refused
by name, never left out unsaid (``image`` and ``document`` blocks: ``media``).

- a message carries ``role`` and ``content`` only (anthropic's ``MessageParam``): any other field that is
  not null is refused by name, ``<role>.<field>`` (``user.x``), or under ``unsupported_params: drop``
  dropped and listed (``check_message``), as an OpenAI message's is; before 2026-12-06 (wave 34's soak
  found it) it was left out unsaid;

- ``cache_control``, a text block's ``citations`` (an earlier answer's sources, sent back with it) and a
  ``tool_use``'s ``caller`` of type ``direct`` (the model made the call, as every call another provider
  gets was made; the Anthropic SDKs send an answer's block back with it) change nothing the model
  generates: dropped and listed (``Drops.ignored``), in either ``unsupported`` mode;
- any other field that is not null (a ``caller`` that names a server tool, programmatic tool calling;
  ``toolset_name``; a field the sidecar does not know) is refused by name, ``<type>.<field>``
  (``tool_use.toolset_name``), or under ``unsupported_params: drop`` dropped and listed
  (``Drops.unsupported``), as Anthropic refuses a field it does not know (``messages.0.content.0.text.x:
  Extra inputs are not permitted``, anthropics/claude-code#4378). Before 2026-12-06 they were left out
  unsaid.
"""

from __future__ import annotations

from typing import Any

from ...translate.options import Drops

_MESSAGE = frozenset(("role", "content"))
_CARRIED = {
    "text": frozenset(("type", "text")),
    "tool_use": frozenset(("type", "id", "name", "input")),
    "tool_result": frozenset(("type", "tool_use_id", "content", "is_error")),
}


def check_fields(kind: Any, block: dict[str, Any], drops: Drops) -> None:
    """List or refuse (``drops``) the fields of ``block``, a block of type ``kind``, that the common form
    does not carry: of a text, tool_use or tool_result block, each; of another block (an image or a
    document, whose other fields ``media`` reads; thinking, which is left out whole), ``cache_control``."""
    carried = _CARRIED.get(kind) if isinstance(kind, str) else None
    if carried is None:
        if block.get("cache_control"):
            drops.ignored("cache_control")
        return
    for key, value in block.items():
        if key in carried or value is None:
            continue
        if key == "cache_control" or (key == "citations" and kind == "text"):
            if value:
                drops.ignored(key)
        elif key == "caller" and kind == "tool_use" and isinstance(value, dict) and value.get("type") == "direct":
            drops.ignored("tool_use.caller")
        else:
            drops.unsupported(f"{kind}.{key}")


def check_message(role: str, message: dict[str, Any], drops: Drops) -> None:
    """Refuse (or drop and list, ``drops``) each non-null field of ``message`` beside its role and content."""
    for key, value in message.items():
        if key not in _MESSAGE and value is not None:
            drops.unsupported(f"{role}.{key}")
