"""A deadline on one wait of the running task: what ``asyncio.timeout_at`` does, for the upstream call's
first byte, at a fraction of its cost, and armed off the request's critical path.

    deadline = Deadline(loop, when)          # the running task is cancelled at loop time ``when``
    try:
        response = await call()
    except asyncio.CancelledError:
        if deadline.lift():                  # the deadline's own cancel, and no one else's
            raise TimeoutError from None
        raise
    finally:
        deadline.lift()

The same protocol as the standard library's ``asyncio.Timeout`` (one ``loop.call_at`` that cancels the
task; ``Task.uncancel`` tells its own cancel from a caller's going away or a lost hedge, which stay a
``CancelledError``), without what a request does not use: nesting, rescheduling, the state machine and
the ``async with`` coroutines. ``asyncio.timeout_at`` costs about 26,000 instructions a use on Python
3.11 under uvloop, this about 11,700 (docs/benchmarks.md, "Wave 7").

The timer itself (a ``loop.call_at``, under uvloop two to three times a ``call_soon``) is set off the
request's critical path: by a callback two turns of the loop later, once the task waits for the upstream
call's head. The first turn runs what the call scheduled as it started, aiohttp's task that writes the
request's body among them (on Python 3.11 a body is written by a task of its own, started on the loop's
next turn): the timer is set after the request is written, while the provider works. The deadline's
time is fixed when it is made, so arming it later changes nothing: a time already past when it is armed
fires at the loop's next turn, as it would have; a deadline lifted before it was armed sets no timer.
Making a deadline on the request's path went from about 8 to 4 us (docs/benchmarks.md, wave 23 ``lat23``).
"""

from __future__ import annotations

import asyncio


class Deadline:
    """Cancels the running task at loop time ``when`` unless lifted before."""

    __slots__ = ("_cancelling", "_fired", "_handle", "_loop", "_task", "_when")

    def __init__(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        task = asyncio.current_task(loop)  # the loop named: no ``getpid`` system call (``get_running_loop``)
        if task is None:
            raise RuntimeError("a deadline needs a running task")
        self._task = task
        self._cancelling = task.cancelling()  # cancel requests made before this deadline: not its own
        self._fired = False
        self._loop = loop
        self._when = when
        # armed two turns of the loop later (``_arm``); until then the handle is the callback's that will
        self._handle: asyncio.Handle | None = loop.call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._handle = self._loop.call_soon(self._arm)  # after the callbacks and tasks the call started

    def _arm(self) -> None:
        self._handle = self._loop.call_at(self._when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._fired = True
        self._task.cancel()

    def lift(self) -> bool:
        """Stop the deadline (again: nothing). True when it had fired and the task has no other cancel
        request: the ``CancelledError`` being handled is the deadline's, to be reported as a timeout."""
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()  # the timer, or the callback that would set it
            return False
        if not self._fired:
            return False
        self._fired = False  # its cancel request is withdrawn once
        return self._task.uncancel() <= self._cancelling
