"""What a request used when it did not end with the provider's usage, for the budget stage's settlement
(``budget``): ``UsedTap`` (a stream tap: the estimated tokens of the text the caller was sent, the usage
events seen), ``used_when_cancelled`` (the caller went away after a call started), ``at_least_streamed``
(a stream that stopped early: its output at least what was streamed), ``in_flight``, ``uncharged_cuts``
and ``last_called`` (the calls a caller's leaving cut, those no race charged, and whose price the
reservation is on).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..routing.tokens import estimate_tokens
from ..translate import Usage
from ..translate.deltas import Reasoning, Text, ToolArgs, UsageSeen

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..translate.deltas import Delta
    from .exchange import AttemptRecord, Exchange


def last_called(exchange: Exchange) -> Target | None:
    """The target of the request's last call (the one the reservation is on when no answer came), but a
    hedged race's call the race charged as cut (``Exchange.hedge_cuts``: a caller that left a race with
    both calls in flight leaves the first call's on the reservation, whichever was recorded last)."""
    raced = exchange.hedge_cuts
    called = [r.target for r in exchange.attempts if r.called and not any(r is cut for cut in raced)]
    return exchange.policy.models.get(called[-1]) if called else None


class UsedTap:
    """What the caller was sent of a streamed answer (``hooks.StreamTap``): the estimated tokens of its
    deltas' text and the usage its events reported, for a settlement if the caller goes away before the
    end. The text is estimated every ``FOLD_CHARS`` characters and let go: a stream has no length limit,
    and one without end must not make the sidecar hold it."""

    FOLD_CHARS = 65_536

    __slots__ = ("_folded", "_held", "target", "texts", "usage")

    def __init__(self) -> None:
        self.target: Target | None = None
        self.texts: list[str] = []
        self.usage: Usage | None = None
        self._held = 0
        self._folded = 0

    def open(self, target: Target) -> None:
        self.target = target
        self.texts.clear()
        self.usage = None
        self._held = self._folded = 0

    def feed(self, delta: Delta) -> None:
        if isinstance(delta, (Text, Reasoning)):
            text = delta.text
        elif isinstance(delta, ToolArgs):
            text = delta.fragment
        else:
            if isinstance(delta, UsageSeen):
                self.usage = delta.usage  # the stream's usage so far, whole (``UsageSeen``)
            return
        self.texts.append(text)
        self._held += len(text)
        if self._held > self.FOLD_CHARS:
            self._folded += estimate_tokens("".join(self.texts))  # the pieces of one text, as sent
            self.texts.clear()
            self._held = 0

    def close(self, clean: bool) -> None:
        pass

    def streamed_tokens(self) -> int:
        """The estimated tokens of the text streamed so far."""
        return self._folded + estimate_tokens("".join(self.texts))


def in_flight(attempt: AttemptRecord) -> bool:
    """A call the caller's leaving cut (``calls.Calls.call`` records it so): its prompt was sent. Not a
    call cancelled while it waited for a bulkhead slot (recorded ``cancelled`` too, as not called)."""
    return attempt.outcome == "cancelled" and attempt.called


def uncharged_cuts(exchange: Exchange) -> list[AttemptRecord]:
    """The calls cut in flight (``in_flight``) whose prompt no hedged race charged already (not in
    ``Exchange.hedge_cuts``: a race's loser, a hedge the caller's leaving cut with the first call)."""
    raced = exchange.hedge_cuts
    return [a for a in exchange.attempts if in_flight(a) and not any(a is cut for cut in raced)]


def used_when_cancelled(exchange: Exchange, prompt_tokens: int, tap: UsedTap | None) -> tuple[Usage, Target | None]:
    """The usage to charge for a request its caller cancelled after a call started, and whose price.

    An answer already read: its usage. A stream under way: its input (the provider's count when a usage
    event arrived, else the estimate) and its output (the provider's count so far, or the streamed text
    estimated, whichever is larger), priced as the streaming target. A stream held back for a gate:
    what the relay counted when it was cut (``exchange.cut_use``: the text held, estimated). Otherwise
    (no answer yet): the input estimate alone, priced as the target the reservation is on (None): the
    provider bills the prompt of a call it received, and generated output nobody received is unknown here.
    """
    if exchange.usage is not None:
        return exchange.usage, exchange.answered_by
    if tap is None or tap.target is None:  # no stream committed: one held back for a gate counts its text
        return exchange.cut_use if exchange.cut_use is not None else (Usage(prompt_tokens, 0), None)
    seen = tap.usage
    if seen is None:
        return Usage(prompt_tokens, tap.streamed_tokens()), tap.target
    return at_least_streamed(
        dataclasses.replace(seen, input_tokens=seen.input_tokens or prompt_tokens), tap
    ), tap.target


def at_least_streamed(seen: Usage, tap: UsedTap) -> Usage:
    """The usage a stream reported before it stopped early (the app went away, the upstream cut it or
    sent an error), its output at least the text streamed, estimated: a provider's counts so far lag
    what it sent (Anthropic's ``message_start`` counts one output token)."""
    return dataclasses.replace(seen, output_tokens=max(seen.output_tokens, tap.streamed_tokens()))
