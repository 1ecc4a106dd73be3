"""The OpenAI Responses API's ``input`` -> the common form's system prompts and turns (pure).

``parse_input`` reads ``input``: a string (one user turn), or a list of items, one step per kind:

- a message (``type: message``, or no type with a ``role``): ``system`` and ``developer`` are system
  prompts; ``user`` content parts ``input_text``, ``input_image`` (``image_url``, a URL or a base64 data
  URL; a ``detail`` other than ``auto`` is dropped, listed) and ``input_file`` (``file_data``, base64 or a
  data URL, or ``file_url``) become text and media parts; ``assistant`` content ``output_text`` and
  ``refusal`` its text;
- ``function_call``: a tool call of the assistant turn (``call_id``, ``name``, JSON ``arguments``);
- ``function_call_output``: the result of the earlier call its ``call_id`` names (a result answering no
  earlier call is refused, as chat's ``tool`` message is);
- ``reasoning``: OpenAI's own (its ``encrypted_content`` only OpenAI can read): dropped, listed;
- an ``item_reference``, a file by ``file_id`` and the items of OpenAI's built-in tools
  (``web_search_call``, ``file_search_call``, ``computer_call``...) name what OpenAI stores or runs:
  a ``TranslationError`` naming them (the target is skipped, docs/translation.md).

Consecutive items of one role are one turn; tool results are user turns, as the common form has them.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import Message, Part
from ...translate.media import media_part
from ...translate.options import Drops, TranslationError, name_of, shown
from ...translate.parts import new_id, parse_arguments, unanswered_call

_MESSAGE_FIELDS = frozenset(("type", "role", "content", "id", "status"))
_CALL_FIELDS = frozenset(("type", "call_id", "name", "arguments", "id", "status"))
_OUTPUT_FIELDS = frozenset(("type", "call_id", "output", "id", "status"))
_ROLES = "must be 'user', 'assistant', 'system' or 'developer'"


class _Turns:
    """The turns being read: the system prompts, the turns, each call's name by its ``call_id``."""

    __slots__ = ("drops", "messages", "names", "system")

    def __init__(self, drops: Drops) -> None:
        self.drops = drops
        self.system: list[str] = []
        self.messages: list[Message] = []
        self.names: dict[str, str] = {}

    def add(self, role: Any, parts: list[Part]) -> None:
        """``parts`` at the end of a ``role`` turn: the last turn's when it is of that role."""
        if not parts:
            return
        if self.messages and self.messages[-1]["role"] == role:
            self.messages[-1]["parts"] += parts
        else:
            self.messages.append({"role": role, "parts": parts})


def parse_input(value: Any, drops: Drops) -> tuple[list[str], list[Message]]:
    """The system prompts and the turns of a Responses request's ``input``."""
    if isinstance(value, str):
        return [], [{"role": "user", "parts": [{"type": "text", "text": value}]}]
    if not isinstance(value, list):
        raise TranslationError(f"'input' must be a string or a list of items, not {shown(value)}")
    turns = _Turns(drops)
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise TranslationError(f"input[{index}]: must be an object, not {shown(item)}")
        _read_item(item, index, turns)
    return turns.system, turns.messages


def _read_item(item: dict[str, Any], index: int, turns: _Turns) -> None:
    kind = item.get("type", "message" if "role" in item else None)
    if kind == "message":
        _others(item, _MESSAGE_FIELDS, "input.message", turns.drops)
        _read_message(item, index, turns)
    elif kind == "function_call":
        _others(item, _CALL_FIELDS, "input.function_call", turns.drops)
        call_id = item.get("call_id") or new_id("call_")
        name = item["name"]
        turns.names[call_id] = name
        arguments = parse_arguments(item.get("arguments"))
        turns.add("assistant", [{"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}])
    elif kind == "function_call_output":
        _others(item, _OUTPUT_FIELDS, "input.function_call_output", turns.drops)
        call_id = item.get("call_id") or ""
        name = turns.names.get(call_id)
        if name is None:
            raise unanswered_call(f"input[{index}].call_id", call_id)
        output = _result_output(item.get("output"), index)
        turns.add(
            "user", [{"type": "tool_result", "call_id": call_id, "name": name, "output": output, "is_error": False}]
        )
    elif kind == "reasoning":
        turns.drops.ignored("input.reasoning")  # OpenAI's own reasoning (encrypted): no other provider reads it
    elif kind == "item_reference":
        raise TranslationError(f"input[{index}]: an item_reference names an item OpenAI stores")
    elif not isinstance(kind, str):
        raise TranslationError(f"input[{index}]: an item has a type (a string) or a role, not {shown(kind)}")
    else:
        raise TranslationError(
            f"input[{index}].type: {shown(kind)} is an item of OpenAI's own (a built-in tool's call or "
            "output): only messages, function_call and function_call_output items translate"
        )


def _read_message(item: dict[str, Any], index: int, turns: _Turns) -> None:
    role = item.get("role")
    content = item.get("content")
    if role == "user":
        turns.add("user", _user_parts(content, index, turns.drops))
    elif role == "assistant":
        text = _plain_text(content, index, role, turns.drops)
        turns.add("assistant", [{"type": "text", "text": text}] if text else [])
    elif role in ("system", "developer"):
        turns.system.append(_plain_text(content, index, role, turns.drops))
    else:
        raise TranslationError(f"input[{index}].role: {_ROLES}, not {shown(role)}")


def _plain_text(content: Any, index: int, role: str, drops: Drops) -> str:
    """The text of a system, developer or assistant message: its string, or its text parts joined
    (``input_text``, ``output_text``, ``refusal``); another part is refused by name, or dropped, listed."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise TranslationError(f"input[{index}].content: must be a string or a list of parts, not {shown(content)}")
    texts: list[str] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            texts.append(part["text"])
            if kind == "output_text" and (part.get("annotations") or part.get("logprobs")):
                drops.ignored("output_text.annotations")
        elif kind == "refusal":
            texts.append(part["refusal"])
        else:
            drops.unsupported(f"{role}.content.{name_of(kind)}", f"a {role} message holds text parts only")
    return "".join(texts)


def _user_parts(content: Any, index: int, drops: Drops) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise TranslationError(f"input[{index}].content: must be a string or a list of parts, not {shown(content)}")
    parts: list[Part] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "input_text":
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image":
            parts.append(_image(part, drops))
        elif kind == "input_file":
            parts.append(_file(part))
        else:
            drops.unsupported(f"content.{name_of(kind)}")
    return parts


def _image(part: dict[str, Any], drops: Drops) -> Part:
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        raise TranslationError("input_image.file_id: an image by file_id is stored at OpenAI; send image_url")
    if part.get("detail", "auto") != "auto":
        drops.ignored("input_image.detail")
    return media_part(url, None, "input_image.image_url")


def _file(part: dict[str, Any]) -> Part:
    """An ``input_file``: its ``file_data`` (a data URL, or bare base64 of a PDF), or a ``file_url``."""
    data, url = part.get("file_data"), part.get("file_url")
    if isinstance(data, str) and data:
        if data[:5].lower() == "data:":
            return media_part(data, "application/pdf", "input_file.file_data")
        return {"type": "media", "media_type": "application/pdf", "data": data, "url": None}
    if isinstance(url, str) and url:
        return {"type": "media", "media_type": "application/pdf", "data": None, "url": url}
    raise TranslationError("input_file.file_id: a file by file_id is stored at OpenAI; send file_data or file_url")


def _result_output(output: Any, index: int) -> str:
    """A ``function_call_output``'s output: its string, or its ``input_text`` parts joined (an image or
    file in a tool's output has no place in every provider's tool result: refused)."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for part in output:
            if not isinstance(part, dict) or part.get("type") != "input_text":
                kind = part.get("type") if isinstance(part, dict) else None
                raise TranslationError(
                    f"input[{index}].output: a {name_of(kind)} part in a function_call_output does not translate"
                )
            texts.append(part["text"])
        return "".join(texts)
    raise TranslationError(f"input[{index}].output: must be a string or a list of parts, not {shown(output)}")


def _others(item: dict[str, Any], carried: frozenset[str], prefix: str, drops: Drops) -> None:
    """Refuse (or drop, listed, per the policy) the fields of an item no other provider can carry."""
    if carried.issuperset(item):
        return
    for key in item:
        if key not in carried:
            drops.unsupported(f"{prefix}.{name_of(key)}")
