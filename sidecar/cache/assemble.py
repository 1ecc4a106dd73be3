"""Assembling a streamed answer into an ``Entry`` as it passes, one common delta at a time.

The relay hands every delta of the upstream's stream (``translate.deltas``: Start, Text, ToolStart,
ToolArgs, Reasoning, ReasoningSignature, Cited, Finish, UsageSeen, Failure, End) to ``StreamAssembler.feed``,
which only appends to lists (no joins, no copies per delta). When the stream is over, ``entry`` gives
the answer with each piece's original fragment lengths, or None when it must not be stored: a failure
seen, no clean end reported by the relay, no finish reason, or more bytes than the store accepts.

Pieces follow the deltas' order: consecutive text fragments make one text piece, consecutive
reasoning fragments one reasoning piece (a non-standalone signature closes it), each ``ToolStart`` one
tool piece that its ``ToolArgs`` (matched by index) fill. ``Cited`` citations are kept for the entry
(those whose span lies in the answer's text: a decoder cannot always bound an OpenAI chunk's). For a
caller of the upstream's dialect (``extras``), the events the decoder read ``Start`` and the last
``UsageSeen`` from (their ``wire``: references, nothing copied) give the entry the answer's fields outside
the common form (``extras.extras_of_stream``), read once the stream is over, and the model the stream
named (``extras.model_of``: a hit names it again, as the live stream did).
"""

from __future__ import annotations

from typing import Any

from ..dialects import Dialect
from ..translate.common import Citation, FinishReason, Usage
from ..translate.deltas import (
    Cited,
    Delta,
    End,
    Failure,
    Finish,
    Reasoning,
    ReasoningSignature,
    Start,
    Text,
    ToolArgs,
    ToolStart,
    UsageSeen,
)
from .entry import Entry, Origin, Piece, ReasoningPiece, TextPiece, ToolPiece
from .extras import extras_of_stream, model_of


class _Open:
    """A piece being assembled: its kind and fragments (reasoning: signature, origin, redacted)."""

    __slots__ = ("fragments", "id", "kind", "name", "origin", "redacted", "signature")

    def __init__(self, kind: str, origin: Origin, id: str = "", name: str = "") -> None:
        self.kind = kind  # "t" text, "r" reasoning, "c" tool call
        self.fragments: list[str] = []
        self.origin: Origin = origin
        self.signature: str | None = None
        self.redacted = False
        self.id = id
        self.name = name

    def piece(self) -> Piece:
        text = "".join(self.fragments)
        cuts = tuple(len(f) for f in self.fragments)
        if self.kind == "t":
            return TextPiece(text, cuts)
        if self.kind == "c":
            return ToolPiece(self.id, self.name, text, cuts)
        return ReasoningPiece(text, self.signature, self.origin, self.redacted, cuts)


class StreamAssembler:
    """Collects one stream's deltas. ``origin`` is the upstream's dialect (whose reasoning it is);
    ``max_bytes`` the store's ``max_entry_bytes`` (past it, collecting stops); ``extras``: the caller
    speaks ``origin``, so the answer's fields outside the common form are kept."""

    __slots__ = (
        "_bytes",
        "_cited",
        "_extras",
        "_failed",
        "_finish",
        "_max_bytes",
        "_origin",
        "_parts",
        "_tools",
        "_wire",
        "ended",
        "response_id",
        "usage",
    )

    def __init__(self, origin: Dialect, max_bytes: int, *, extras: bool = False) -> None:
        self._origin: Origin = origin.value
        self._extras = origin if extras else None
        self._wire: list[dict[str, Any] | None] = [None, None]  # Start's event, the last UsageSeen's
        self._max_bytes = max_bytes
        self._parts: list[_Open] = []
        self._tools: dict[int, _Open] = {}
        self._bytes = 0
        self._failed = False
        self._finish: Finish | None = None
        self._cited: list[Citation] = []
        self.ended = False  # the upstream's own end marker (Gemini has none: the relay says)
        self.usage: Usage | None = None
        self.response_id: str | None = None

    def feed(self, delta: Delta) -> None:
        if self._failed:
            return
        if isinstance(delta, Text):  # the usual delta first
            self._append("t", delta.text)
        elif isinstance(delta, ToolArgs):
            tool = self._tools.get(delta.index)
            if tool is not None and delta.fragment:
                tool.fragments.append(delta.fragment)
                self._count(len(delta.fragment))
        elif isinstance(delta, Reasoning):
            self._append("r", delta.text)
        else:
            self._mark(delta)

    def _mark(self, delta: Delta) -> None:
        """A delta other than a fragment: a tool call or a signature opens a piece; the others are what
        the stream said of itself (its id, usage, finish, end, a failure)."""
        if isinstance(delta, ToolStart):
            tool = _Open("c", self._origin, delta.id, delta.name)
            self._tools[delta.index] = tool
            self._parts.append(tool)
            self._count(len(delta.id) + len(delta.name))
        elif isinstance(delta, ReasoningSignature):
            self._signature(delta)
        elif isinstance(delta, UsageSeen):
            self.usage = delta.usage  # the stream's usage so far, whole (``UsageSeen``)
            if delta.wire is not None:
                self._wire[1] = delta.wire
        elif isinstance(delta, Finish):
            self._finish = delta
        elif isinstance(delta, Cited):
            self._cited += delta.citations
        elif isinstance(delta, Start):
            self.response_id = delta.id
            self._wire[0] = delta.wire
        elif isinstance(delta, End):
            self.ended = True
        elif isinstance(delta, Failure):
            self._failed = True

    def _append(self, kind: str, fragment: str) -> None:
        if not fragment:
            return
        parts = self._parts
        last = parts[-1] if parts else None
        if last is None or last.kind != kind or (kind == "r" and (last.signature is not None or last.redacted)):
            last = _Open(kind, self._origin)
            parts.append(last)
        last.fragments.append(fragment)
        self._count(len(fragment))

    def _signature(self, delta: ReasoningSignature) -> None:
        parts = self._parts
        last = parts[-1] if parts else None
        if delta.standalone or last is None or last.kind != "r" or last.signature is not None or last.redacted:
            last = _Open("r", delta.origin)
            parts.append(last)
        last.signature = delta.signature
        last.origin = delta.origin
        last.redacted = delta.redacted
        self._count(len(delta.signature))

    def _count(self, n: int) -> None:
        self._bytes += n
        if self._bytes > self._max_bytes:
            self._failed = True  # too large to store: stop collecting
            self._parts.clear()
            self._tools.clear()

    @property
    def failed(self) -> bool:
        """A failure event was seen, or the answer outgrew the store's limit."""
        return self._failed

    @property
    def finish_reason(self) -> FinishReason | None:
        return self._finish.reason if self._finish is not None else None

    def entry(
        self,
        *,
        ended_cleanly: bool,
        model: str,
        target: str,
        provider: str,
        stored_at: float,
        cost_usd: float | None,
    ) -> Entry | None:
        """The assembled answer, or None unless the stream ended cleanly with a finish reason.

        ``model`` is the target's upstream model (the entry's ``asked``); for a caller of the upstream's
        dialect, the model its stream named in its first event (the upstream's dated name) is kept as the
        entry's ``model`` instead, as a whole answer's is.

        ``ended_cleanly`` is the relay's verdict: the dialect's terminator arrived (``[DONE]``,
        ``message_stop``, Gemini's last fragment with a finish reason) and nothing failed.
        """
        if self._failed or not ended_cleanly or self._finish is None:
            return None
        asked = model
        if self._extras is not None:  # the caller reads the upstream's own stream: the model it named
            model = model_of(self._wire[0]) or model
        return Entry(
            tuple(p.piece() for p in self._parts),
            self._finish.reason,
            self._finish.stop_sequence,
            self.usage,
            model,
            target,
            provider,
            stored_at,
            cost_usd,
            self.response_id,
            self._citations(),
            extras_of_stream(self._wire, self._extras) if self._extras is not None else None,
            asked,
        )

    def _citations(self) -> tuple[Citation, ...]:
        """The citations seen whose span lies in the answer's text."""
        if not self._cited:
            return ()
        length = sum(len(f) for p in self._parts if p.kind == "t" for f in p.fragments)
        return tuple(c for c in self._cited if c["end"] <= length)
