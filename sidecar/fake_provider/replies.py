"""The contract between the dialect builders (pure) and the wire writer (I/O).

A builder receives a ``Call`` (the parsed request body and a few request facts) and returns a ``Reply``:

- ``JsonReply``   one JSON body, sent at once;
- ``StreamReply`` a sequence of ``Frame`` written one by one (SSE, or Gemini's JSON-array stream), with
  ``error_event(sent)`` making the dialect's in-stream error for the ``error-event`` fault.

Builders raise ``RequestError`` for a request the real provider would reject (4xx); the app answers it
in the dialect's error shape.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from sidecar.fake_provider.profiles import QualityProfile, lookup
from sidecar.fake_provider.quality import Grading
from sidecar.fake_provider.truth import find_truth, strings_in

TRUTH_HEADER = "x-fake-truth"
TRUTH_MARKER = "[truth:"
# Where each dialect keeps the conversation (system prompts first, as translation moves them there).
CONVERSATION_KEYS = ("system", "systemInstruction", "instructions", "messages", "contents", "input", "prompt")


class RequestError(Exception):
    """The request is invalid: answered with ``status`` in the dialect's error shape."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param


class IdSource(Protocol):
    """Makes realistic random ids (seeded per server)."""

    def make_id(self, prefix: str, size: int, alphabet: str = ...) -> str: ...


@dataclass(frozen=True)
class Call:
    """What a builder may look at: the JSON body and request facts, never the live request."""

    body: dict[str, Any]
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    reply: str | None
    ids: IdSource
    now: float
    truth_header: str | None = None  # the x-fake-truth header
    profiles: Mapping[str, QualityProfile] = field(default_factory=dict)  # the server's quality profiles
    seed: int = 0  # the quality draws' seed

    def grading(self, model: str, text: str) -> Grading | None:
        """How to grade this request's answer, when it carries a truth: the header, else a marker in ``text``
        (the last user text), else one anywhere in the body."""
        source = text
        if not self.truth_header and TRUTH_MARKER not in text:
            source = strings_in(self.body)
        try:
            truth, spec = find_truth(self.truth_header, source)
        except ValueError as exc:
            source = TRUTH_HEADER if self.truth_header else "[truth:] marker"
            raise RequestError(f"{source}: {exc}") from None
        if truth is None:
            return None
        conversation = strings_in({key: self.body[key] for key in CONVERSATION_KEYS if key in self.body})
        return Grading(truth, spec, lookup(self.profiles, model), model, self.seed, conversation)


class StreamFormat(enum.Enum):
    SSE = "sse"  # text/event-stream
    JSON_ARRAY = "json-array"  # Gemini streamGenerateContent without alt=sse: one JSON array, streamed


@dataclass(frozen=True)
class Frame:
    """One stream event. ``tokens`` is how many output tokens it carries (drives the pacing)."""

    data: bytes
    event: str | None = None
    tokens: int = 0


@dataclass(frozen=True)
class JsonReply:
    body: Any
    output_tokens: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamReply:
    frames: tuple[Frame, ...]
    error_event: Callable[[int], Frame]  # the in-stream error to send after `sent` frames
    format: StreamFormat = StreamFormat.SSE
    headers: Mapping[str, str] = field(default_factory=dict)


Reply = JsonReply | StreamReply


def fixed(error: Frame) -> Callable[[int], Frame]:
    """An ``error_event`` that does not depend on how many frames were sent."""
    return lambda _sent: error


def frame(payload: object, event: str | None = None, tokens: int = 0) -> Frame:
    """A frame whose data is ``payload`` as compact JSON."""
    return Frame(orjson.dumps(payload), event, tokens)


def require(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``body[key]`` if present and of ``kind``, else a ``RequestError`` naming the field."""
    value = body.get(key)
    if value is None:
        raise RequestError(f"{key}: Field required", param=key)
    if not isinstance(value, kind):
        raise RequestError(f"{key}: invalid type", param=key)
    return value


def optional_int(body: Mapping[str, Any], *keys: str) -> int | None:
    """The first of ``keys`` present in ``body``, which must be a positive integer."""
    for key in keys:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RequestError(f"{key}: must be a positive integer", param=key)
        return value
    return None
