"""The seams stages plug into, around the terminal stage: what a stage registers on the ``Exchange``.

A stage before the terminal one (cache, budgets, gates, ensembles) does not re-implement the fallback
loop or the stream relay: it registers objects they call.

- ``StreamTap`` (``exchange.taps``): sees a streamed answer's events in the common form
  (``translate.deltas``) as they pass: ``open(target)`` when the answer is the one the caller
  gets (its stream committed, released when held, or an ensemble's vote replayed as a stream),
  ``feed(delta)`` for each, ``close(clean)`` at its end, ``clean`` when the dialect's terminator
  arrived and nothing failed. The relay decodes events only when a tap is registered. A stream that
  fails before its commit point (the chain moves on) is never shown to taps; nor is a hedged race's
  loser.
- ``ChainHook`` (``exchange.hooks``): the fallback loop asks ``before_target`` before it calls a
  target (a reason to skip it, e.g. a budget's ``Admission.switch`` refused; None to call it) and
  ``after_answer`` once a target has answered (``Verdict.ACCEPT`` it, ask the ``NEXT_TARGET``, or ask
  the ``SAME_TARGET`` again, e.g. a quality gate). A committed stream can only be accepted: a hook that
  may refuse a streamed answer sets ``exchange.hold_stream``, so that the relay holds the whole stream
  (``HeldStream``) and sends it only once every hook accepted it.

Both are duck-typed protocols; stages set them with ``exchange.taps = (*exchange.taps, tap)``.

Three more seams serve a hook that holds something per call (the budgets: a reservation): a hedge asks
``before_target`` with ``exchange.racing`` set (its first call is still in flight), and calls
``exchange.on_race_end(winner)``, when the hook set it, once the race is over; ``exchange.again``, when
set, is asked before another call of the same target (a retry, a re-ask), as ``before_target`` is.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp.web import StreamResponse

    from ..policy.compiled import Target
    from ..translate.deltas import Delta
    from .exchange import Exchange
    from .stream_answer import HeldStream


class StreamTap(Protocol):
    def open(self, target: Target) -> None:
        """The stream about to be shown is ``target``'s answer, the one the caller gets."""

    def feed(self, delta: Delta) -> None:
        """One event of it, in the common form (an upstream event gives zero or more)."""

    def close(self, clean: bool) -> None:
        """It ended: ``clean`` when its terminator arrived and nothing failed."""


class Verdict(enum.Enum):
    ACCEPT = "accept"
    NEXT_TARGET = "next_target"
    SAME_TARGET = "same_target"


class ChainHook(Protocol):
    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        """A reason to skip ``target`` without calling it (recorded as the attempt's outcome), or None."""

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        """``target`` answered (a response not yet sent, a held stream, or a committed stream that can only
        be accepted): accept it, or ask for another answer."""
