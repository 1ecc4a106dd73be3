"""The first byte's deadline: the running task cancelled at a loop time, its own cancel told apart."""

from __future__ import annotations

import asyncio
import time

import pytest

from sidecar.server.deadline import Deadline


async def wait_under(deadline_s: float, wait_s: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time() + deadline_s)
    try:
        await asyncio.sleep(wait_s)
    except asyncio.CancelledError:
        if deadline.lift():
            raise TimeoutError from None
        raise
    finally:
        deadline.lift()
    return "done"


async def test_a_wait_past_the_deadline_is_a_timeout_and_leaves_the_task_uncancelled() -> None:
    """The wait is cut at the deadline with TimeoutError; the task itself carries no cancel request after."""
    with pytest.raises(TimeoutError):
        await wait_under(0.01, 5)
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)  # the task goes on waiting normally


async def test_a_wait_that_ends_in_time_is_not_cut_later() -> None:
    """A wait done before the deadline returns; the deadline never fires afterwards."""
    assert await wait_under(0.05, 0) == "done"
    await asyncio.sleep(0.1)  # past the lifted deadline: no CancelledError here


async def test_a_cancel_from_elsewhere_stays_a_cancel() -> None:
    """A caller cancelling the waiting task (a client gone, a hedge lost) gets CancelledError, not a
    timeout, even with a deadline set."""
    task = asyncio.ensure_future(wait_under(5, 5))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_deadline_needs_a_task() -> None:
    """Outside a task (a plain callback) the deadline refuses at once."""
    loop = asyncio.get_running_loop()
    failed: list[BaseException] = []

    def callback() -> None:
        try:
            Deadline(loop, loop.time() + 1)
        except RuntimeError as exc:
            failed.append(exc)

    loop.call_soon(callback)
    await asyncio.sleep(0.01)
    assert failed


async def test_the_deadlines_time_is_fixed_when_it_is_made_not_when_it_is_armed() -> None:
    """The task works past the deadline's time without waiting (the timer is set only once it waits):
    its first wait is cut at once, a timeout."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time() + 0.3)
    busy_until = time.monotonic() + 0.4
    while time.monotonic() < busy_until:  # busy, not waiting: nothing of the loop runs meanwhile
        pass
    started = loop.time()
    with pytest.raises(TimeoutError):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            if deadline.lift():
                raise TimeoutError from None
            raise
    assert loop.time() - started < 0.25  # at the loop's next turns, not 0.3 s after the timer was set


@pytest.mark.parametrize("turns", [0, 1, 2])
async def test_a_deadline_lifted_before_its_timer_is_set_never_fires(turns: int) -> None:
    """Lifted before the task waited (``turns`` 0), or between the turns of the loop that set its timer:
    the task is never cancelled afterwards, however long past the deadline it waits."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time() + 0.01)
    for _ in range(turns):
        await asyncio.sleep(0)
    assert deadline.lift() is False
    await asyncio.sleep(0.1)  # past the deadline: no CancelledError here
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
