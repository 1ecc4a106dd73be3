"""A bulkhead: at most ``max_concurrent`` calls in flight to one target, and a bounded wait for a slot.

    async with bulkhead.slot():     # waits at most queue_timeout_s, else raises BulkheadFull
        ...call the target...       # (``async with bulkhead:`` is the same)

    if not bulkhead.try_acquire():  # the same without a coroutine when a slot is free (the request path)
        await bulkhead.acquire()
    try: ...call the target... finally: bulkhead.release()

Waiters are served first come, first served; a released slot is handed directly to the oldest waiter
(no barging by new arrivals). ``queue_timeout_s <= 0`` means "never wait": reject at once when full.
``max_queued`` (None = unbounded) rejects at once when that many calls are already waiting.

``resize`` sets new limits in place (a policy reload): the calls in flight keep their slots and count
against the new ``max_concurrent``, so a lower limit admits nobody (waiters included) until they drain
below it, and a higher one hands its new slots to the oldest waiters at once. Waiters keep their place;
a new ``queue_timeout_s`` applies to them too, counted from when each queued (a waiter that has already
waited longer than a lowered one leaves at once with ``BulkheadFull``; 0 sends every waiter away).

Cancel-safe: a waiter cancelled while queued leaves the queue; a waiter cancelled in the instant after
a slot was handed to it passes the slot on, so slots never leak. The wait uses the running event
loop's clock (``loop.call_later``); tests drive it with a virtual-time loop instead of sleeping.
Single event loop; not thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any


class BulkheadFull(Exception):
    """No slot became free within the queue timeout (``queued``: the call waited for one) or the call was
    turned away at once (the queue itself is full, or ``queue_timeout_s <= 0``)."""

    def __init__(self, name: str, max_concurrent: int, reason: str, *, queued: bool = False) -> None:
        super().__init__(f"bulkhead {name or '(unnamed)'} full: {max_concurrent} in flight, {reason}")
        self.name = name
        self.max_concurrent = max_concurrent
        self.reason = reason
        self.queued = queued


@dataclass(slots=True, eq=False)
class _Waiter:
    """A queued call: its future (set when a slot is handed to it), when it queued, its expiry timer."""

    future: asyncio.Future[None]
    queued_at: float
    timer: asyncio.TimerHandle | None = None


class Bulkhead:
    """Limits concurrent calls; ``in_flight`` and ``queued`` are for ``/status`` and the metrics."""

    __slots__ = ("_in_flight", "_waiters", "max_concurrent", "max_queued", "name", "queue_timeout_s")

    def __init__(
        self,
        max_concurrent: int,
        queue_timeout_s: float,
        *,
        max_queued: int | None = None,
        name: str = "",
    ) -> None:
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        if max_queued is not None and max_queued < 0:
            raise ValueError(f"max_queued must be >= 0, got {max_queued}")
        self.max_concurrent = max_concurrent
        self.queue_timeout_s = queue_timeout_s
        self.max_queued = max_queued
        self.name = name
        self._in_flight = 0
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def queued(self) -> int:
        return sum(1 for w in self._waiters if not w.future.done())

    def try_acquire(self) -> bool:
        """Take a free slot at once if there is one (no coroutine: the usual case); else False, and
        ``acquire`` waits for one."""
        if self._in_flight < self.max_concurrent:
            self._in_flight += 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting at most ``queue_timeout_s``; raises ``BulkheadFull`` otherwise."""
        # Invariant: a live waiter exists only while every slot is taken (release hands slots over).
        if self.try_acquire():
            return
        if self.queue_timeout_s <= 0:
            raise BulkheadFull(self.name, self.max_concurrent, "not queueing")
        if self.max_queued is not None and self.queued >= self.max_queued:
            raise BulkheadFull(self.name, self.max_concurrent, f"{self.max_queued} already queued")
        loop = asyncio.get_running_loop()
        entry = _Waiter(loop.create_future(), loop.time())
        self._waiters.append(entry)
        self._arm(entry)
        waiter = entry.future
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # the slot was handed to us just before the cancel: pass it on
            else:
                self._forget(entry)
            raise
        finally:
            if entry.timer is not None:
                entry.timer.cancel()

    def _arm(self, entry: _Waiter) -> None:
        """(Re)start ``entry``'s expiry: ``queue_timeout_s`` after it queued (at once if that has passed)."""
        if entry.timer is not None:
            entry.timer.cancel()
        loop = entry.future.get_loop()
        entry.timer = loop.call_at(entry.queued_at + self.queue_timeout_s, self._expire, entry)

    def release(self) -> None:
        """Give back a slot: to the oldest waiter if any, else to the pool (always to the pool while more
        calls are in flight than ``max_concurrent``: a ``resize`` lowered it)."""
        if self._in_flight <= 0:
            raise RuntimeError("Bulkhead.release() without a matching acquire()")
        # ``_waiters`` tested here first: no waiter (the usual case) costs no ``_hand_over`` frame
        if self._waiters and self._in_flight <= self.max_concurrent and self._hand_over():
            return  # the slot changes hands; in_flight stays the same
        self._in_flight -= 1

    def resize(self, max_concurrent: int, queue_timeout_s: float) -> None:
        """New limits from now on, for the calls in flight and the queued too (see the module docstring):
        a new ``queue_timeout_s`` moves each waiter's deadline to when it queued plus the new timeout
        (one already past expires in the loop's next turn, after the new slots are handed over)."""
        if max_concurrent < 1:
            raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}")
        self.max_concurrent = max_concurrent
        while self._in_flight < max_concurrent and self._hand_over():
            self._in_flight += 1
        if queue_timeout_s != self.queue_timeout_s:
            self.queue_timeout_s = queue_timeout_s
            for entry in self._waiters:
                if not entry.future.done():
                    self._arm(entry)

    def _hand_over(self) -> bool:
        """Wake the oldest live waiter with a slot; False when none waits."""
        while self._waiters:
            waiter = self._waiters.popleft().future
            if not waiter.done():
                waiter.set_result(None)
                return True
        return False

    def snapshot(self) -> dict[str, Any]:
        return {
            "max_concurrent": self.max_concurrent,
            "in_flight": self._in_flight,
            "queued": self.queued,
            "queue_timeout_s": self.queue_timeout_s,
        }

    def slot(self) -> Bulkhead:
        """``async with bulkhead.slot():`` reads better at call sites; the same as ``async with bulkhead``."""
        return self

    async def __aenter__(self) -> Bulkhead:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def _expire(self, entry: _Waiter) -> None:
        if not entry.future.done():
            entry.future.set_exception(
                BulkheadFull(self.name, self.max_concurrent, f"no slot within {self.queue_timeout_s:g}s", queued=True)
            )
            self._forget(entry)

    def _forget(self, entry: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(entry)
