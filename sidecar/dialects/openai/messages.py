"""OpenAI chat-completions ``messages`` <-> the common form's system prompts and turns (pure).

Reading (``parse_messages``), one step per role:

- ``system`` and ``developer``: a system prompt each (text parts joined);
- ``user``: text, ``image_url`` (a ``detail`` other than ``auto`` is dropped, listed) and ``file`` parts
  with inline ``file_data`` (``_user_parts``; a data URI is split into its media type and data);
- ``assistant`` (``_assistant_turn``): the text, or a ``refusal`` without content as the turn's text,
  then the ``tool_calls`` with their JSON-string arguments (a call without an id gets one);
- ``tool``: the result of the call it names, which gives it the call's name;
- ``function`` (legacy) and a participant ``name`` cannot be translated; another role is refused;
- every other field of a message, a tool call or a part: listed or refused by name (``fields``).

Writing (``build_messages``): every system prompt in one leading system message, an assistant turn as
``assistant_message`` (shared with ``response``: arguments as JSON strings), a user turn's tool results
as ``tool`` messages before its content (``_user_messages``), media as ``image_url`` or ``file`` parts.
A history's tool call ids are cut to the 40 characters OpenAI takes (``CALL_ID_MAX``; another provider's
or framework's ids may be longer), identically in the call and its result.
"""

from __future__ import annotations

from typing import Any

from ...translate.common import ChatRequest, MediaPart, Message, Part
from ...translate.media import media_part
from ...translate.options import Drops, TranslationError, name_of, shown
from ...translate.parts import capped_id, dumps, new_id, parse_arguments, result_text, text_of, unanswered_call
from .fields import check_message, check_part

_ROLES = "must be 'system', 'developer', 'user', 'assistant', 'tool' or 'function'"
_TEXT_PARTS = frozenset(("text", "refusal"))  # the parts a system, assistant or tool message may hold
_USER_PARTS = frozenset(("text", "image_url", "file"))  # the parts a user message may hold that translate
CALL_ID_MAX = 40  # OpenAI's 400 for a longer one: "Invalid 'messages[1].tool_calls[0].id': string too long"


# ---------------------------------------------------------------------------------------------------------
# Reading


def parse_messages(raw: list[Any], drops: Drops) -> tuple[list[str], list[Message]]:
    """The system prompts and the turns of a request's ``messages``."""
    system: list[str] = []
    messages: list[Message] = []
    names: dict[str, str] = {}  # each call's function name, by call id: a tool result takes its call's
    for index, m in enumerate(raw):
        if not isinstance(m, dict):
            raise TranslationError(f"messages[{index}]: must be an object, not {shown(m)}")
        role = m.get("role")
        if len(m) > 2 or "content" not in m:  # a role and a content only: nothing to name, no call made
            check_message(role, m, drops)
        if m.get("name") and role not in ("tool", "function"):
            # who said it: no other API has it (a tool result's name, as LangChain writes it, is its call's)
            drops.unsupported("messages.name", "Anthropic and Gemini take no participant names")
        if role == "user":
            messages.append({"role": "user", "parts": _user_parts(m.get("content"), drops)})
        elif role == "assistant":
            parts = _assistant_turn(m, names, drops)
            if parts:
                messages.append({"role": "assistant", "parts": parts})
        elif role == "tool":  # the result of the call it names, which gives it the call's name
            call_id = m.get("tool_call_id") or ""
            name = names.get(call_id)
            if name is None:
                raise unanswered_call(f"messages[{index}].tool_call_id", call_id)
            result: Part = {
                "type": "tool_result",
                "call_id": call_id,
                "name": name,
                "output": _plain_text(m.get("content"), "tool", drops),
                "is_error": False,
            }
            messages.append({"role": "user", "parts": [result]})
        elif role in ("system", "developer"):
            system.append(_plain_text(m.get("content"), role, drops))
        elif role == "function":
            drops.unsupported("messages.function", "legacy function messages")
        else:
            raise TranslationError(f"messages[{index}].role: {_ROLES}, not {shown(role)}")
    return system, messages


def _assistant_turn(m: dict[str, Any], names: dict[str, str], drops: Drops) -> list[Part]:
    """An assistant message's parts: its text, then its function calls (their names noted in ``names``)."""
    parts: list[Part] = []
    text = _plain_text(m.get("content"), "assistant", drops) or _refusal(m)
    if text:
        parts.append({"type": "text", "text": text})
    for call in m.get("tool_calls") or ():
        fn = call.get("function")
        if call.get("type", "function") != "function" or not isinstance(fn, dict):
            drops.unsupported("tool_calls", "only function tool calls translate")
            continue
        call_id = call.get("id") or new_id("call_")
        names[call_id] = fn["name"]
        parts.append(
            {
                "type": "tool_call",
                "id": call_id,
                "name": fn["name"],
                "arguments": parse_arguments(fn.get("arguments")),
            }
        )
    if m.get("function_call"):
        drops.unsupported("function_call")
    if m.get("annotations"):  # the answer's sources (url_citation), sent back with it: no place elsewhere
        drops.ignored("annotations")
    return parts


def _plain_text(content: Any, role: str, drops: Drops) -> str:
    """The text of a system, developer, assistant or tool message: its string, or its text (and refusal)
    parts joined. OpenAI takes no other part in them; one (an image in a system message) is refused by
    name, ``<role>.content.<type>``, or dropped and listed: it was left out unsaid."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    for p in content:
        kind = p.get("type") if isinstance(p, dict) else None
        if kind in _TEXT_PARTS:
            check_part(kind, p, drops)
        else:
            drops.unsupported(f"{role}.content.{name_of(kind)}", f"a {role} message holds text parts only")
    return "".join(p.get("text") or p.get("refusal") or "" for p in content if isinstance(p, dict))


def _refusal(message: dict[str, Any]) -> str:
    """An assistant message's ``refusal`` text (structured outputs answer a refusal there, with no content):
    the turn's text, so that the conversation keeps it."""
    refusal = message.get("refusal")
    return refusal if isinstance(refusal, str) else ""


def _user_parts(content: Any, drops: Drops) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    parts: list[Part] = []
    for p in content or ():
        kind = p.get("type")
        if kind in _USER_PARTS:
            check_part(kind, p, drops)
        if kind == "text":
            parts.append({"type": "text", "text": p.get("text", "")})
        elif kind == "image_url":
            image = p.get("image_url") or {}
            url = image.get("url", "") if isinstance(image, dict) else str(image)
            if isinstance(image, dict) and image.get("detail", "auto") != "auto":
                drops.ignored("image_url.detail")
            parts.append(media_part(url, None, "image_url.url"))
        elif kind == "file":
            file = p.get("file") or {}
            data = file.get("file_data")
            if not isinstance(data, str) or not data:
                drops.unsupported("file.file_id", "only inline file_data translates")
                continue
            parts.append(media_part(data, "application/pdf", "file.file_data"))
        else:
            drops.unsupported(f"content.{name_of(kind)}")
    return parts


# ---------------------------------------------------------------------------------------------------------
# Writing


def build_messages(req: ChatRequest, drops: Drops) -> list[dict[str, Any]]:
    """The request's ``messages``: one leading system message, then each turn."""
    messages: list[dict[str, Any]] = []
    if req.get("system"):
        messages.append({"role": "system", "content": "\n\n".join(req["system"])})
    for m in req.get("messages", ()):
        if m["role"] == "assistant":
            message = assistant_message(m["parts"])
            for call in message.get("tool_calls", ()):
                if len(call["id"]) > CALL_ID_MAX:
                    call["id"] = capped_id(call["id"], CALL_ID_MAX)
            messages.append(message)
        else:
            _user_messages(m["parts"], messages, drops)
    return messages


def assistant_message(parts: list[Part]) -> dict[str, Any]:
    calls = [
        {
            "id": p["id"],
            "type": "function",
            "function": {"name": p["name"], "arguments": dumps(p["arguments"])},
        }
        for p in parts
        if p["type"] == "tool_call"
    ]
    msg: dict[str, Any] = {"role": "assistant", "content": text_of(parts) or None}
    if calls:
        msg["tool_calls"] = calls
    elif msg["content"] is None:
        msg["content"] = ""
    return msg


def _user_messages(parts: list[Part], out: list[dict[str, Any]], drops: Drops) -> None:
    content: list[dict[str, Any]] = []
    for p in parts:
        if p["type"] == "tool_result":
            call_id = p["call_id"]
            if len(call_id) > CALL_ID_MAX:
                call_id = capped_id(call_id, CALL_ID_MAX)
            out.append({"role": "tool", "tool_call_id": call_id, "content": result_text(p["output"])})
        elif p["type"] == "text":
            content.append({"type": "text", "text": p["text"]})
        elif p["type"] == "media":
            item = _media_content(p, drops)
            if item is not None:
                content.append(item)
    if len(content) == 1 and content[0]["type"] == "text":
        out.append({"role": "user", "content": content[0]["text"]})
    elif content:
        out.append({"role": "user", "content": content})


def _media_content(p: MediaPart, drops: Drops) -> dict[str, Any] | None:
    media = p["media_type"] or "image/jpeg"
    url = p["url"] or f"data:{media};base64,{p['data']}"
    if media.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    if media == "application/pdf" and p["data"] is not None:
        return {"type": "file", "file": {"file_data": url, "filename": "document.pdf"}}
    drops.unsupported("content.media", f"{media} {'URL' if p['url'] else 'data'} has no chat-completions form")
    return None
