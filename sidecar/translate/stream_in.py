"""Stream decoders (one upstream SSE event -> common deltas, ``deltas.Delta``): the helpers they share
(``load_data``, ``LoadedOnce``, ``failure_of``, ``text_field``), and what each reads; each is its dialect's
``decoder`` module (``sidecar/dialects/<dialect>/decoder.py``).

- ``OpenAIDecoder``: ``chat.completion.chunk`` payloads; the first chunk gives ``Start``,
  ``reasoning_content`` or ``reasoning`` (OpenAI-compatible servers) gives ``Reasoning``, ``content``
  gives ``Text``, the first delta of each ``tool_calls[index]`` gives ``ToolStart`` and every ``arguments`` fragment
  ``ToolArgs``; ``finish_reason`` -> ``Finish`` (a content-filter stop after a ``refusal``); a chunk
  with ``usage`` -> ``UsageSeen``; ``[DONE]`` -> ``End``; ``{"error": ...}`` -> ``Failure``. Choices
  other than index 0 are ignored.
- ``AnthropicDecoder``: ``message_start`` (id, input usage), ``content_block_start/delta/stop`` (text,
  tool_use + ``input_json_delta``, thinking + ``thinking_delta``/``signature_delta`` -> ``Reasoning`` /
  ``ReasoningSignature``, ``redacted_thinking`` -> a redacted signature), ``message_delta`` (stop
  reason, usage),
  ``message_stop`` -> ``End``, ``ping`` ignored, ``error`` -> ``Failure``. A structured-output tool
  (``RESPONSE_TOOL``) streams out as text.
- ``GeminiDecoder``: each ``GenerateContentResponse`` fragment; text parts -> ``Text``, thought parts ->
  ``Reasoning`` (+ their own ``ReasoningSignature``), a ``thoughtSignature`` on another part -> a
  standalone ``ReasoningSignature`` before it, a ``functionCall`` (always whole) -> ``ToolStart`` + one
  ``ToolArgs``; ``finishReason`` -> ``Finish``;
  ``usageMetadata`` -> ``UsageSeen``. Gemini has no end marker: the stream's end is ``finish()``.

Citations (``Cited``): an OpenAI chunk's ``delta.annotations``, a Gemini fragment's ``citationMetadata``
(spans over the whole answer streamed so far, converted from bytes by the Gemini decoder, which keeps
the text for it); ``new_citations`` keeps each reported once (Gemini may repeat them on later fragments).

Decoders read defensively (``.get`` everywhere, a string field of another type read as missing:
``text_field``); the translator skips an event a decoder cannot read.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.errors import ErrorInfo, condition_of
from .common import Citation
from .deltas import Cited, Failure
from .errors import status_of


def load_data(data: bytes) -> Any:
    """An event's JSON data, or None when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class LoadedOnce:
    """The last event data a decoder's ``text_of`` parsed and what it gave, so that ``feed`` does not parse
    again an event ``text_of`` declined (the relay calls the two on the same event, one after the other)."""

    __slots__ = ("_data", "_value")

    def __init__(self) -> None:
        self._data: bytes | None = None
        self._value: Any = None

    def first(self, data: bytes) -> Any:
        """``load_data(data)``, kept for ``again``."""
        self._data = data
        value = self._value = load_data(data)
        return value

    def again(self, data: bytes) -> Any:
        """``load_data(data)``, not parsed again when ``first`` just read this very object."""
        return self._value if data is self._data else load_data(data)


def failure_of(source: Dialect, error: Any) -> Failure:
    """The ``Failure`` delta of a ``source`` upstream's in-stream error object (or message): the status it
    stands for (``errors.status_of``), its message and its condition (``dialects.errors.condition_of``,
    which the caller's encoder words in its provider's own type and code)."""
    status = status_of(error)
    message = error.get("message") if isinstance(error, dict) else error
    text = message if isinstance(message, str) and message else "upstream stream error"
    return Failure(status, text, condition_of(source, status, ErrorInfo.of({"error": error})))


def text_field(value: object) -> str:
    """A string field of a provider's event, or "" when it is missing or not a string (a lying or broken
    provider's number, list or object is never passed on as text)."""
    return value if type(value) is str else ""


def new_citations(citations: list[Citation], seen: set[tuple[str, str | None, int, int]]) -> Cited | None:
    """The ``Cited`` delta of the citations not in ``seen`` (added to it), None when every one was."""
    fresh = []
    for citation in citations:
        key = (citation["url"], citation["title"], citation["start"], citation["end"])
        if key not in seen:
            seen.add(key)
            fresh.append(citation)
    return Cited(tuple(fresh)) if fresh else None
