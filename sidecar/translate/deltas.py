"""The stream deltas: one upstream stream event in the common form, between a dialect's decoder and a
dialect's encoder (``stream``).

    upstream event -> decoder (``dialects/<dialect>/decoder.py``) -> deltas
                   -> encoder (``dialects/<dialect>/encoder.py``) -> caller events

    Start(id, wire)                        the answer begins (the upstream's id, when it gives one)
    Text(text)                             a fragment of the answer's text
    ScoredText(text, logprobs)             a ``Text`` with the log-probabilities of its tokens (a subclass:
                                           ``type(delta) is Text`` stays the plain fragment's fast test)
    ToolStart(index, id, name)             a tool call begins (``index``: the call's place in the stream)
    ToolArgs(index, fragment)              a fragment of that call's JSON arguments
    Reasoning(text)                        a fragment of the reasoning shown with the answer
    ReasoningSignature(signature, origin, redacted, standalone)
                                           a provider's opaque signature of reasoning (``ReasoningPart``)
    Cited(citations)                       sources the answer's text cites, first reported by this event:
                                           spans in characters of the whole answer's text streamed so far
    Finish(reason, raw, stop_sequence)     why the answer ended: common ``FinishReason``, upstream's value
    UsageSeen(usage, wire)                 the stream's token counts so far, whole: the newest replaces the
                                           earlier (each decoder combines its upstream's reports as its
                                           dialect defines them: ``Usage.merge``, Anthropic's ``usage_after``)
    Failure(status, message)               an upstream error event: the stream ends with it
    End()                                  the upstream's end marker

Frozen dataclasses with slots, built per event; ``Delta`` is their union. The relay shows them to the
stream's taps (``server/hooks.py``: cache, budgets, shadow), and a cached answer is replayed as deltas.
The request and response form they refer to (``Usage``, ``FinishReason``, ``ReasoningPart``) is
``common``'s. ``wire`` (on ``Start`` and ``UsageSeen``, left out of equality) is the upstream's event object
the decoder read them from, in the paths of its whole answer (Anthropic's ``message_start``: its
``message``), where the fields the common form does not carry are: the cache keeps them for a hit of
the upstream's dialect (``cache.extras``); nothing else reads it, and no work is done for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..dialects.errors import ErrorCondition
from .common import Citation, FinishReason, TokenLogprob, Usage


@dataclass(frozen=True, slots=True)
class Start:
    id: str | None
    wire: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class ScoredText(Text):
    """A fragment of the answer's text and the log-probabilities of its tokens (asked by the request),
    which the caller's chunk carrying this text carries too."""

    logprobs: tuple[TokenLogprob, ...]


@dataclass(frozen=True, slots=True)
class ToolStart:
    index: int
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolArgs:
    index: int
    fragment: str


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A fragment of reasoning text (continues the reasoning part in progress)."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningSignature:
    """A provider's opaque reasoning signature (see ``ReasoningPart``).

    ``standalone`` False: it signs the reasoning just streamed (Anthropic ``signature_delta``, a Gemini
    thought part's own signature). True: it is a part of its own, signing what follows (a Gemini
    ``thoughtSignature`` on a function call or text part) or standing for hidden reasoning (Anthropic
    ``redacted_thinking``, with ``redacted`` True).
    """

    signature: str
    origin: str  # the name of the dialect that made the signature
    redacted: bool = False
    standalone: bool = False


@dataclass(frozen=True, slots=True)
class Cited:
    """Sources the answer cites (``Citation``), each reported once on a stream: an OpenAI search model's
    ``delta.annotations``, a Gemini fragment's ``citationMetadata``. The spans count characters of the
    answer's whole text (every ``Text`` of the stream joined), as an unstreamed answer's do; encoders
    place them where their dialect's stream carries citations (``stream_out``)."""

    citations: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class Finish:
    reason: FinishReason
    raw: str
    stop_sequence: str | None = None


@dataclass(frozen=True, slots=True)
class UsageSeen:
    usage: Usage
    wire: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Failure:
    status: int
    message: str
    condition: ErrorCondition | None = None  # what the upstream's error stands for (``dialects.errors``)


@dataclass(frozen=True, slots=True)
class End:
    pass


Delta = (
    Start | Text | ToolStart | ToolArgs | Reasoning | ReasoningSignature | Cited | Finish | UsageSeen | Failure | End
)
