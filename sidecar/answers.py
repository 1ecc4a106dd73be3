"""What a model answered, dialect-neutral: the view ensembles, quality gates and shadows compare and check.

``answer_view(response)`` reads the first choice of a ``ChatResponse`` (the common form every dialect's
response parses into, ``translate.common``): its text parts joined, its tool calls, its finish reason.
``AnswerView.content`` is what normalizers and the non-JSON gates read: the text, or for an answer made
of tool calls only, the first call's arguments as compact JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from .translate.common import ChatResponse

RAW_ARGUMENTS = "_raw"  # translate.common.parse_arguments keeps arguments that are not a JSON object here


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
    for part in choice["parts"]:
        if part["type"] == "text":
            texts.append(part["text"])
        elif part["type"] == "tool_call":
            calls.append(ToolCallView(part["name"], part["arguments"]))
    reason = choice["finish_reason"]
    return AnswerView("".join(texts), tuple(calls), reason.value if reason is not None else None)
