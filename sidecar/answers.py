"""What a model answered, dialect-neutral: the view ensembles, quality gates and shadows compare and check.

``answer_view(response)`` reads the first choice of a ``ChatResponse`` (the common form every dialect's
response parses into, ``translate.common``): its text parts joined, its tool calls, its finish reason.
``AnswerView.content`` is what normalizers and the non-JSON gates read: the text, or for an answer made
of tool calls only, the first call's arguments as compact JSON.

The request path has an answer in one of two forms: a response body in the caller's dialect
(``answer_of_body``: None when it is not a chat answer that parses) or a held stream's deltas
(``answer_of_deltas``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .dialects import Dialect
from .translate import TranslationError, parse_chat_response
from .translate.common import ChatResponse
from .translate.deltas import Delta, Finish, Text, ToolArgs, ToolStart
from .translate.parts import parse_arguments

RAW_ARGUMENTS = "_raw"  # translate.parts.parse_arguments keeps arguments that are not a JSON object here


@dataclass(frozen=True, slots=True)
class ToolCallView:
    name: str
    arguments: Mapping[str, Any]

    @property
    def raw(self) -> str | None:
        """The arguments' text when the model sent something that is not a JSON object, else None."""
        if len(self.arguments) == 1 and isinstance(self.arguments.get(RAW_ARGUMENTS), str):
            return str(self.arguments[RAW_ARGUMENTS])
        return None

    @property
    def json(self) -> str:
        """The arguments as compact JSON (or the raw text the model sent)."""
        raw = self.raw
        return raw if raw is not None else orjson.dumps(self.arguments).decode()


@dataclass(frozen=True, slots=True)
class AnswerView:
    text: str
    tool_calls: tuple[ToolCallView, ...] = ()
    finish_reason: str | None = None

    @property
    def content(self) -> str:
        """The text; for an answer that is only tool calls, the first call's arguments as JSON."""
        if self.text or not self.tool_calls:
            return self.text
        return self.tool_calls[0].json


def answer_view(response: ChatResponse) -> AnswerView:
    """The first choice of a parsed response (an empty answer when there is none)."""
    if not response["choices"]:
        return AnswerView("")
    choice = response["choices"][0]
    texts: list[str] = []
    calls: list[ToolCallView] = []
    for part in choice["parts"]:  # a provider's body, parsed but not typed: a text that is a number is none
        if part["type"] == "text":
            text = part["text"]
            if type(text) is str:
                texts.append(text)
        elif part["type"] == "tool_call":
            name = part["name"]
            calls.append(ToolCallView(name if type(name) is str else "", part["arguments"]))
    reason = choice["finish_reason"]
    return AnswerView("".join(texts), tuple(calls), reason.value if reason is not None else None)


def answer_of_body(body: bytes, dialect: Dialect) -> AnswerView | None:
    """The answer in a chat response body of ``dialect``, or None when the body is not one."""
    try:
        parsed = orjson.loads(body)
        if not isinstance(parsed, dict):
            return None
        return answer_view(parse_chat_response(parsed, dialect))
    except (orjson.JSONDecodeError, TranslationError):
        return None


def answer_of_deltas(deltas: list[Delta]) -> AnswerView:
    """The answer a stream's deltas (``translate.deltas``) spell out."""
    texts: list[str] = []
    names: dict[int, str] = {}
    arguments: dict[int, list[str]] = {}
    reason: str | None = None
    for delta in deltas:
        if isinstance(delta, Text):
            texts.append(delta.text)
        elif isinstance(delta, ToolStart):
            names[delta.index] = delta.name
            arguments.setdefault(delta.index, [])
        elif isinstance(delta, ToolArgs):
            arguments.setdefault(delta.index, []).append(delta.fragment)
        elif isinstance(delta, Finish):
            reason = delta.reason.value
    calls = tuple(
        ToolCallView(names.get(index, ""), parse_arguments("".join(arguments[index]))) for index in sorted(arguments)
    )
    return AnswerView("".join(texts), calls, reason)
