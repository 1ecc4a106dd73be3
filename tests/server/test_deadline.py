"""The first byte's deadline: the running task cancelled at a loop time, its own cancel told apart."""

from __future__ import annotations

import asyncio

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
