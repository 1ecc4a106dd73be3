"""A deadline on one wait of the running task: what ``asyncio.timeout_at`` does, for the upstream call's
first byte and a cache store's operation (``cache.store.GuardedStore``), at a fraction of its cost, and
without a timer of its own.

    clock = DeadlineClock()                  # one per user (the upstream client, a cache store), made once
    deadline = Deadline(loop, when, clock)   # the running task is cancelled at loop time ``when``
    try:
        response = await call()
    except asyncio.CancelledError:
        if deadline.lift():                  # the deadline's own cancel, and no one else's
            raise TimeoutError from None
        raise
    finally:
        deadline.lift()

The same protocol as the standard library's ``asyncio.Timeout`` (a timer that cancels the task;
``Task.uncancel`` tells its own cancel from a caller's going away or a lost hedge, which stay a
``CancelledError``), without what a request does not use: nesting, rescheduling, the state machine and
the ``async with`` coroutines. ``asyncio.timeout_at`` costs about 26,000 instructions a use on Python
3.11 under uvloop, a timer of the deadline's own (made, started and cancelled: a libuv timer each time)
about 7,400 of them (docs/benchmarks.md, "Wave 7", "Wave 47 `plain48`").

**One timer for all.** A ``DeadlineClock`` files each deadline in a bucket of ``1 / TICKS_PER_S`` seconds
(10 ms) by its time, and keeps one loop timer, armed for the end of the earliest bucket that has a
pending deadline. Making a deadline adds it to its bucket (a timer is set only when no earlier one is
armed: at steady traffic, once per first-byte timeout, not once per request); lifting it takes it out at
once, and an emptied bucket goes with it, so the clock holds exactly the deadlines still pending. The
timer, when it fires, cancels the tasks of every bucket that has ended and re-arms itself for the
earliest bucket left (none left: no timer). A timer left armed for a bucket emptied meanwhile just
fires, finds nothing due and re-arms or stops.

**Precision:** a deadline fires at the end of its bucket: after its time, by at most 10 ms (and the loop's
own lateness; never more than 1 ms early, the loop timer's resolution). The deadline's time is fixed
when it is made; a time already past when it is made fires at the loop's next turns.
"""

from __future__ import annotations

import asyncio

TICKS_PER_S = 100  # buckets of 10 ms: a deadline fires up to 10 ms after its time
_EARLY_TICKS = 0.1  # a bucket ending within 1 ms counts as ended (the loop timer's own resolution)


class DeadlineClock:
    """The one timer of every pending ``Deadline`` made with it (one clock per loop)."""

    __slots__ = ("_armed", "_buckets", "_handle", "_loop")

    def __init__(self) -> None:
        self._buckets: dict[int, set[Deadline]] = {}  # the end of a bucket in ticks -> its pending deadlines
        self._handle: asyncio.TimerHandle | None = None
        self._armed = 0  # the bucket the timer is armed for
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        """How many deadlines are pending (made, not lifted, not fired)."""
        return sum(len(bucket) for bucket in self._buckets.values())

    @property
    def armed_for(self) -> float | None:
        """The loop time the clock's one timer is set for (None: no timer)."""
        return None if self._handle is None else self._armed / TICKS_PER_S

    def _file(self, loop: asyncio.AbstractEventLoop, deadline: Deadline, tick: int) -> set[Deadline]:
        bucket = self._buckets.get(tick)
        if bucket is not None:
            bucket.add(deadline)
            return bucket
        bucket = self._buckets[tick] = {deadline}
        if self._handle is None or tick < self._armed or loop is not self._loop:
            self._arm(loop, tick)
        return bucket

    def _arm(self, loop: asyncio.AbstractEventLoop, tick: int) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._armed = tick
        self._loop = loop
        self._handle = loop.call_at(tick / TICKS_PER_S, self._tick)

    def _drop(self, tick: int) -> None:
        del self._buckets[tick]

    def _tick(self) -> None:
        self._handle = None
        loop = self._loop
        assert loop is not None
        ended = loop.time() * TICKS_PER_S + _EARLY_TICKS
        buckets = self._buckets
        for tick in [tick for tick in buckets if tick <= ended]:
            for deadline in buckets.pop(tick):
                deadline._fire()
        if buckets:
            self._arm(loop, min(buckets))


class Deadline:
    """Cancels the running task at loop time ``when`` (within the clock's precision) unless lifted before."""

    __slots__ = ("_bucket", "_cancelling", "_clock", "_fired", "_task", "_tick")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float, clock: DeadlineClock) -> None:
        task = asyncio.current_task(loop)  # the loop named: no ``getpid`` system call (``get_running_loop``)
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        self._task = task
        self._cancelling = task.cancelling()  # cancel requests made before this deadline: not its own
        self._fired = False
        self._clock = clock
        tick = self._tick = int(when * TICKS_PER_S) + 1  # the end of its bucket, after ``when``
        self._bucket: set[Deadline] | None = clock._file(loop, self, tick)

    def _fire(self) -> None:
        self._bucket = None
        self._fired = True
        self._task.cancel()

    def lift(self) -> bool:
        """Stop the deadline (again: nothing). True when it had fired and the task has no other cancel
        request: the ``CancelledError`` being handled is the deadline's, to be reported as a timeout."""
        bucket = self._bucket
        if bucket is not None:
            self._bucket = None
            bucket.discard(self)
            if not bucket:
                self._clock._drop(self._tick)
            return False
        if not self._fired:
            return False
        self._fired = False  # its cancel request is withdrawn once
        return self._task.uncancel() <= self._cancelling
