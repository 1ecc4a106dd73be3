"""Tool names one provider allows and another refuses, mapped for the target and back for the caller.

Each dialect says which function names its provider takes (``ToolNameRule``, in its ``Translation``):

    OpenAI      ^[a-zA-Z0-9_-]{1,64}$
    Anthropic   ^[a-zA-Z0-9_-]{1,128}$
    Gemini      a letter or ``_`` first, then letters, digits, ``_ . : -``; at most 64 characters

An app's tool named the way its own provider allows (an MCP-style ``github.create_issue``, ``fs:read``,
a 100-character name) would be refused by another with a 400. ``plan`` maps every name of a translated
request that the target refuses (in ``tools``, ``tool_choice``, the history's calls and results) to one
it takes, deterministically: each character the target refuses becomes ``_`` (and ``_`` goes first
where the first character is not allowed there); when that name is too long or already another tool's
name, it is cut and ends with ``_`` and 8 hex digits of the original name's SHA-256. Names the target
takes are never changed, and no two names map to one. ``rename_request`` writes the mapped names into
the common form, ``restore_response`` and ``RenamingDecoder`` map the answer's names back (whole
answers, every streamed call), so the app only ever sees its own names. A name that cannot be made
unique (a hash clash) makes the request untranslatable for that target (``TranslationError``: the
chain goes on to the next target). Same-dialect traffic is relayed untouched and never mapped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .common import ChatRequest, ChatResponse, Message, Part
from .deltas import Delta, ToolStart
from .options import TranslationError, shown

if TYPE_CHECKING:
    from ..sse import SSEEvent
    from .stream import StreamDecoder, TextReader

_HASH_DIGITS = 8


class ToolNameRule:
    """The function names a provider takes: ``allowed`` characters (the body of a regex character
    class), ``first`` the characters a name may start with (None: any allowed one), at most
    ``max_length`` of them. Its patterns are compiled once, when the dialect's ``Translation`` is built."""

    __slots__ = ("_first", "accepts", "max_length", "refused")

    def __init__(self, allowed: str, max_length: int, first: str | None = None) -> None:
        self.max_length = max_length
        head = f"[{first or allowed}]"
        self.accepts = re.compile(f"{head}[{allowed}]{{0,{max_length - 1}}}", re.ASCII).fullmatch
        """The name itself (a match) when the provider takes it, else None."""
        self.refused = re.compile(f"[^{allowed}]", re.ASCII)
        """A character the provider refuses anywhere in a name."""
        self._first = re.compile(head, re.ASCII).match

    def starts_well(self, name: str) -> bool:
        return self._first(name) is not None


@dataclass(frozen=True, slots=True)
class ToolNames:
    """One request's mapping: ``to_target`` (the caller's refused names -> the names sent) and
    ``to_caller`` (its inverse). Names not in it travel unchanged both ways."""

    to_target: dict[str, str]
    to_caller: dict[str, str]

    def caller_name(self, name: str) -> str:
        return self.to_caller.get(name, name)


def request_names(req: ChatRequest) -> list[str]:
    """Every tool name of a request, in order of appearance (tools, tool_choice, the history), once each."""
    names: dict[str, None] = {}
    for tool in req.get("tools") or ():
        names[tool["name"]] = None
    choice = req.get("tool_choice")
    for name in choice["names"] if choice else ():
        names[name] = None
    for message in req.get("messages") or ():
        for part in message["parts"]:
            if (part["type"] == "tool_call" or part["type"] == "tool_result") and part["name"]:
                names[part["name"]] = None
    return list(names)


def plan(req: ChatRequest, rule: ToolNameRule) -> ToolNames | None:
    """The mapping of ``req``'s names the target refuses, None when it takes them all (the usual case).
    Raises ``TranslationError`` for a name no mapping can make unique."""
    names = request_names(req)
    refused = [name for name in names if not rule.accepts(name)]
    if not refused:
        return None
    taken = {name for name in names if rule.accepts(name)}
    to_target: dict[str, str] = {}
    for name in refused:
        mapped = _mapped(name, rule)
        if mapped in taken:
            mapped = _hashed(mapped, name, rule)
        if mapped in taken or not rule.accepts(mapped):
            raise TranslationError(f"the tool name {shown(name)} cannot be given a unique name this target accepts")
        taken.add(mapped)
        to_target[name] = mapped
    return ToolNames(to_target, {mapped: name for name, mapped in to_target.items()})


def _mapped(name: str, rule: ToolNameRule) -> str:
    """``name`` with each refused character as ``_`` (and ``_`` first where its first one may not
    start a name); cut with a hash suffix when too long."""
    base = rule.refused.sub("_", name)
    if base and not rule.starts_well(base):
        base = "_" + base
    if not base or len(base) > rule.max_length:
        return _hashed(base, name, rule)
    return base


def _hashed(base: str, name: str, rule: ToolNameRule) -> str:
    suffix = "_" + hashlib.sha256(name.encode()).hexdigest()[:_HASH_DIGITS]
    return base[: rule.max_length - len(suffix)] + suffix


def rename_request(req: ChatRequest, names: ToolNames) -> None:
    """Write the target's names into ``req`` (a freshly parsed request: its lists are replaced, not the
    caller's body)."""
    to = names.to_target
    if "tools" in req:
        req["tools"] = [{**tool, "name": to.get(tool["name"], tool["name"])} for tool in req["tools"]]
    if "tool_choice" in req:
        choice = req["tool_choice"]
        req["tool_choice"] = {"mode": choice["mode"], "names": [to.get(n, n) for n in choice["names"]]}
    if "messages" in req:
        req["messages"] = [_renamed_message(message, to) for message in req["messages"]]


def _renamed_message(message: Message, to: dict[str, str]) -> Message:
    if not any(p["type"] == "tool_call" or p["type"] == "tool_result" for p in message["parts"]):
        return message
    return {"role": message["role"], "parts": [_renamed(part, to) for part in message["parts"]]}


def _renamed(part: Part, to: dict[str, str]) -> Part:
    if part["type"] == "tool_call":
        return {**part, "name": to.get(part["name"], part["name"])}
    if part["type"] == "tool_result":
        return {**part, "name": to.get(part["name"], part["name"])}
    return part


def restore_response(response: ChatResponse, names: ToolNames) -> ChatResponse:
    """An answer with the caller's names back in its tool calls."""
    back = names.to_caller
    for choice in response["choices"]:
        choice["parts"] = [_renamed(part, back) for part in choice["parts"]]
    return response


class RenamingDecoder:
    """A stream decoder whose tool calls carry the caller's names (``ToolStart``); every other delta,
    and the plain text path (``text_of``), is the wrapped decoder's."""

    __slots__ = ("_decoder", "_names", "text_of")

    def __init__(self, decoder: StreamDecoder, names: ToolNames) -> None:
        self._decoder = decoder
        self._names = names
        self.text_of: TextReader | None = getattr(decoder, "text_of", None)

    def feed(self, event: SSEEvent) -> list[Delta]:
        deltas = self._decoder.feed(event)
        if not any(type(delta) is ToolStart for delta in deltas):
            return deltas
        back = self._names.caller_name
        return [
            ToolStart(delta.index, delta.id, back(delta.name)) if type(delta) is ToolStart else delta
            for delta in deltas
        ]
