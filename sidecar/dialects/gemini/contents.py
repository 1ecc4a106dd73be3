"""Gemini ``contents`` <-> the common form's turns (pure).

- Reading (``parse_contents``): roles user/model; text, inlineData, fileData, functionCall and
  functionResponse parts (``_parse_part``; camelCase and snake_case keys both read). A thought is dropped,
  listed; a ``fileData`` URI only Gemini can read (``files``: Files API, Cloud Storage) cannot be
  translated; every other field of a content or a part is listed or refused by name (``fields``).
  Consecutive contents of one role are one turn (google-genai's chats keep a streamed answer
  as one ``model`` content per fragment; OpenAI would take them as separate messages).
- Gemini has no tool-call ids in history: reading, calls get ``call_{turn}_{part}`` ids (or keep their
  optional ``id``) and each ``functionResponse`` links to the call its ``id`` names, else (no id, or one no
  call has) to the earliest unanswered call of the same name (none: refused, naming it); writing
  (``build_contents``, over the turns ``_stage_turns`` writes), ids are dropped and each
  ``functionResponse`` takes its call's name and its place in the calls' order. The first
  ``functionCall`` of each model turn written gets the documented ``SKIP_SIGNATURE`` (Gemini 3 requires
  one, and calls from another provider have none).
- Tool results: text that is a JSON object goes as the ``response`` object, other text as
  ``{"result": text}``, an error as ``{"error": ...}`` (``_response_object``); reading back unwraps the
  same way.
"""

from __future__ import annotations

import sys
from typing import Any, Literal

import orjson

from ...translate.common import MediaPart, Message, Part
from ...translate.media import guess_media_type
from ...translate.options import Drops, TranslationError
from ...translate.parts import dumps, unanswered_call
from ...translate.shapes import said_kind
from .fields import SKIP_SIGNATURE, check_content, check_part
from .files import GOOGLE_ONLY_URI, fetchable
from .keys import camel

# A turn being written: its role, its function responses (each with its call's position), its other parts.
_Staged = tuple[str, list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]


# ---------------------------------------------------------------------------------------------------------
# Reading


def parse_contents(value: Any, drops: Drops) -> list[Message]:
    """The turns of a request's ``contents`` (a lone content object is a list of one)."""
    contents = [value] if isinstance(value, dict) else value
    if not isinstance(contents, list):
        raise TranslationError("'contents' must be a list")
    messages: list[Message] = []
    pending: dict[str, list[str]] = {}  # a function's call ids not answered yet, for results without an id
    for turn, content in enumerate(contents):
        role: Literal["user", "assistant"] = "assistant" if content.get("role") == "model" else "user"
        if len(content) > ("role" in content) + ("parts" in content):  # others than those: named
            check_content(content, "contents", drops)
        raw_parts = content.get("parts") or ()
        if isinstance(raw_parts, (str, dict)):  # iterated, a string would read as parts of one letter
            raise TranslationError(f"contents[{turn}].parts: must be an array, not {said_kind(raw_parts)}")
        parts: list[Part] = []
        for index, raw in enumerate(raw_parts):
            part = {camel(k): v for k, v in raw.items()} if any("_" in k for k in raw) else raw
            if len(part) > 1 or "text" not in part:  # a text alone: nothing to name, no call made (``fields``)
                check_part(part, drops)
            parsed = _parse_part(part, f"call_{turn}_{index}", pending, drops)
            if parsed is not None:
                parts.append(parsed)
        if messages and messages[-1]["role"] == role:
            messages[-1]["parts"].extend(parts)  # one turn: a streamed answer is kept one content per fragment
        else:
            messages.append({"role": role, "parts": parts})
    return messages


def _parse_part(part: dict[str, Any], made_id: str, pending: dict[str, list[str]], drops: Drops) -> Part | None:
    """One Gemini part in the common form; None for a part that carries nothing (a thought, empty text)."""
    if "text" in part:
        if part.get("thought"):
            drops.ignored("thought")
            return None
        return {"type": "text", "text": part["text"]} if part["text"] else None
    if "functionCall" in part:
        return _function_call(part["functionCall"], made_id, pending)
    if "functionResponse" in part:
        return _function_response(part["functionResponse"], made_id, pending, drops)
    if "inlineData" in part:
        data = part["inlineData"]
        media = data.get("mimeType") or data.get("mime_type")
        return {"type": "media", "media_type": media, "data": data.get("data"), "url": None}
    if "fileData" in part:
        data = part["fileData"]
        media = data.get("mimeType") or data.get("mime_type")
        uri = data.get("fileUri") or data.get("file_uri")
        if not fetchable(uri):
            raise TranslationError(f"'fileData.fileUri': {GOOGLE_ONLY_URI}")
        return {"type": "media", "media_type": media, "data": None, "url": uri}
    drops.unsupported("parts." + next((k for k in part if k != "thoughtSignature"), "empty"))
    return None


def _function_call(fc: dict[str, Any], made_id: str, pending: dict[str, list[str]]) -> Part:
    ident = fc.get("id") or made_id
    pending.setdefault(fc["name"], []).append(ident)
    args = fc.get("args")
    return {"type": "tool_call", "id": ident, "name": fc["name"], "arguments": args if isinstance(args, dict) else {}}


def _function_response(fr: dict[str, Any], made_id: str, pending: dict[str, list[str]], drops: Drops) -> Part:
    if fr.get("parts"):  # Gemini 3's media results (an image the function made): no other form
        drops.unsupported("functionResponse.parts", "a function's media result does not translate")
    waiting = pending.get(fr["name"]) or []
    ident = fr.get("id")
    if ident in waiting:  # answered by its id: no longer waiting for a result without one
        waiting.remove(ident)
    else:  # no id, or one no call of the request has: the earliest waiting call of its name, as Gemini pairs
        ident = waiting.pop(0) if waiting else None
    if ident is None:  # no call of its name waits for it: an id made up here would be refused upstream
        turn, index = made_id.removeprefix("call_").split("_")  # ``call_{turn}_{part}``: where it is
        raise unanswered_call(f"contents[{turn}].parts[{index}].functionResponse", fr["name"], "name")
    response = fr.get("response")
    response = response if isinstance(response, dict) else {}
    error = response.get("error") if len(response) == 1 else None
    output = response if error is None else error if isinstance(error, (str, dict)) else dumps(error)
    return {
        "type": "tool_result",
        "call_id": ident,
        "name": fr["name"],
        "output": output,
        "is_error": error is not None,
    }


# ---------------------------------------------------------------------------------------------------------
# Writing


def build_contents(messages: Any) -> list[dict[str, Any]]:
    """Gemini ``contents``: a turn's function responses first, in the order of the calls they answer
    (Gemini links a response to its call by position among the calls of that name, not by id), then its
    other parts; in a model turn, the first function call signed."""
    out = []
    for role, results, parts in _stage_turns(messages):
        if role == "model":
            for part in parts:
                if "functionCall" in part:
                    part["thoughtSignature"] = SKIP_SIGNATURE
                    break
        answers = [result for _, result in sorted(results, key=lambda r: r[0])]  # stable
        out.append({"role": role, "parts": answers + parts if answers else parts})
    return out


def _stage_turns(messages: Any) -> list[_Staged]:
    """Each turn's parts written, its function responses apart (with their calls' positions); empty turns
    left out, consecutive turns of one role merged."""
    staged: list[_Staged] = []
    names: dict[str, str] = {}
    order: dict[str, int] = {}  # each call's position in the conversation
    for m in messages:
        role = "model" if m["role"] == "assistant" else "user"
        parts: list[dict[str, Any]] = []
        results: list[tuple[int, dict[str, Any]]] = []
        for p in m["parts"]:
            kind = p["type"]
            if kind == "text":
                if p["text"]:
                    parts.append({"text": p["text"]})
            elif kind == "tool_call":
                names[p["id"]] = p["name"]
                order.setdefault(p["id"], len(order))
                parts.append({"functionCall": {"name": p["name"], "args": p["arguments"]}})
            elif kind == "tool_result":
                name = p["name"] or names.get(p["call_id"]) or p["call_id"]
                response = _response_object(p["output"], p["is_error"])
                position = order.get(p["call_id"], sys.maxsize)  # an unknown call's after the known ones
                results.append((position, {"functionResponse": {"name": name, "response": response}}))
            elif kind != "reasoning":  # answer-side only: requests never carry reasoning
                parts.append(_media_part(p))
        if not parts and not results:
            continue
        if staged and staged[-1][0] == role:
            staged[-1][1].extend(results)
            staged[-1][2].extend(parts)
        else:
            staged.append((role, results, parts))
    return staged


def _media_part(p: MediaPart) -> dict[str, Any]:
    """A URL as ``fileData`` (its media type guessed from it when unknown), data as ``inlineData``."""
    if p["url"] is not None:
        media = p["media_type"] or guess_media_type(p["url"])
        return {"fileData": {"mimeType": media, "fileUri": p["url"]}}
    return {"inlineData": {"mimeType": p["media_type"] or "image/jpeg", "data": p["data"]}}


def _response_object(output: str | dict[str, Any], is_error: bool) -> dict[str, Any]:
    if isinstance(output, str) and output.startswith("{"):
        try:
            parsed = orjson.loads(output)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            output = parsed
    if is_error:
        return {"error": output}
    return output if isinstance(output, dict) else {"result": output}
