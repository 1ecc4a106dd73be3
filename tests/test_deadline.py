"""A deadline (the first byte's, a cache store's operation's): the running task cancelled at a loop time, its own
cancel told apart; one timer a loop for all the pending deadlines, at 10 ms precision, holding none once lifted."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref

import pytest

from sidecar.deadline import TICKS_PER_S, Deadline, DeadlineClock

from .conftest import FakeFactory, SidecarFactory
from .sdk_clients import openai_client
from .server.chain import chain_policy, fakes


async def wait_under(deadline_s: float, wait_s: float, clock: DeadlineClock | None = None) -> str:
    loop = asyncio.get_running_loop()
    return await wait_with(Deadline(loop, loop.time() + deadline_s, clock or DeadlineClock()), wait_s)


async def wait_with(deadline: Deadline, wait_s: float) -> str:
    """Sleep ``wait_s`` under ``deadline`` made before, as a call waits: its own cut a TimeoutError."""
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
            Deadline(loop, loop.time() + 1, DeadlineClock())
        except RuntimeError as exc:
            failed.append(exc)

    loop.call_soon(callback)
    await asyncio.sleep(0.01)
    assert failed


async def test_a_deadline_already_past_when_the_task_first_waits_cuts_that_wait() -> None:
    """The task works past the deadline's time without waiting (the loop runs nothing meanwhile, the
    clock's timer among it): its first wait is cut at the loop's next turns, a timeout."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time() + 0.3, DeadlineClock())
    busy_until = time.monotonic() + 0.4
    while time.monotonic() < busy_until:  # busy, not waiting: nothing of the loop runs meanwhile
        pass
    started = loop.time()
    with pytest.raises(TimeoutError):
        await wait_with(deadline, 5)
    assert loop.time() - started < 0.25  # at the loop's next turns, not 0.3 s after the timer was set


@pytest.mark.parametrize("turns", [0, 1, 2])
async def test_a_deadline_lifted_before_its_time_never_fires(turns: int) -> None:
    """Lifted before the task waited (``turns`` 0), or after one or two turns of the loop, before its time:
    the task is never cancelled afterwards, however long past the deadline it waits."""
    loop = asyncio.get_running_loop()
    deadline = Deadline(loop, loop.time() + 0.01, DeadlineClock())
    for _ in range(turns):
        await asyncio.sleep(0)
    assert deadline.lift() is False
    await asyncio.sleep(0.1)  # past the deadline: no CancelledError here
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_a_deadline_fires_after_its_time_and_within_its_10_ms_bucket() -> None:
    """The clock's timer is set for the end of the deadline's 10 ms bucket (never before its time, at most
    10 ms after), and the task is cut no earlier than its time less the loop timer's 1 ms resolution."""
    loop = asyncio.get_running_loop()
    clock = DeadlineClock()
    when = loop.time() + 0.05
    deadline = Deadline(loop, when, clock)
    armed_for = clock.armed_for
    assert armed_for is not None and when < armed_for <= when + 1 / TICKS_PER_S
    with pytest.raises(TimeoutError):
        await wait_with(deadline, 5)
    assert loop.time() >= when - 0.001


async def test_deadlines_share_one_timer_armed_for_the_earliest() -> None:
    """Many deadlines set one timer between them, for the earliest bucket; a later deadline does not move
    it, an earlier one does."""
    loop = asyncio.get_running_loop()
    clock = DeadlineClock()
    now = loop.time()
    later = [Deadline(loop, now + 30 + i / 1000, clock) for i in range(50)]
    first = clock.armed_for
    assert first is not None and first <= now + 30 + 1 / TICKS_PER_S
    Deadline(loop, now + 60, clock).lift()
    assert clock.armed_for == first
    earlier = Deadline(loop, now + 5, clock)
    armed_for = clock.armed_for
    assert armed_for is not None and armed_for <= now + 5 + 1 / TICKS_PER_S
    for deadline in [*later, earlier]:
        assert deadline.lift() is False
    assert clock.pending == 0


async def test_a_lifted_deadline_leaves_nothing_pending() -> None:
    """A deadline lifted is out of the clock at once; its timer, left armed, fires past the deadline's time
    without cancelling anything and is not set again: no deadline and no timer pending."""
    clock = DeadlineClock()
    assert await wait_under(0.02, 0, clock) == "done"
    assert clock.pending == 0
    await asyncio.sleep(0.1)  # past the lifted deadline's bucket: the timer has fired, found nothing
    assert clock.armed_for is None and clock.pending == 0
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def waits_under_one_clock(clock: DeadlineClock, count: int) -> list[weakref.ref[asyncio.Task[str]]]:
    """``count`` waits in tasks of their own under deadlines of ``clock``, every tenth cut; weak references
    to their tasks."""
    tasks = [
        asyncio.ensure_future(wait_under(0.01, 0.05, clock) if i % 10 == 0 else wait_under(30, 0, clock))
        for i in range(count)
    ]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert sum(isinstance(result, TimeoutError) for result in results) == count // 10
    assert results.count("done") == count - count // 10
    return [weakref.ref(task) for task in tasks]


async def test_many_requests_leave_no_deadline_or_task_held() -> None:
    """A thousand waits under deadlines of one clock, ended in time or cut, in tasks of their own: the
    clock holds none of them afterwards, nor any of their tasks."""
    clock = DeadlineClock()
    held = await waits_under_one_clock(clock, 1000)
    assert clock.pending == 0
    await asyncio.sleep(0)  # the gather's own callbacks, which hold every task until the loop's next turn
    gc.collect()
    assert not [task for task in held if task() is not None]


async def test_a_stalled_provider_is_cut_at_its_first_byte_timeout_and_the_next_answers(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """openai-python, a route whose first target stalls its head: the sidecar cuts it no earlier than the
    route's ``first_byte_s`` (0.3 s) and answers from the second target, saying why in its headers; a
    second request on the same sidecar (its clock's timer already armed) is cut the same way."""
    urls = await fakes(fake, 2)
    running = await sidecar(chain_policy(urls, route_extra="    resilience: {timeouts: {first_byte_s: 0.3}}\n"))
    async with openai_client(running) as client:
        for _ in range(2):
            started = time.monotonic()
            raw = await client.chat.completions.with_raw_response.create(
                model="chain",
                messages=[{"role": "user", "content": "hello"}],
                extra_headers={"x-fake-fault": "f0:stall=5"},
            )
            elapsed = time.monotonic() - started
            assert raw.parse().choices[0].message.content
            assert (raw.headers["x-sidecar-model"], raw.headers["x-sidecar-fallback-reason"]) == (
                "m1",
                "timeout_first_byte",
            )
            assert elapsed >= 0.3 - 0.001  # never before the timeout (the clock fires at most 10 ms after it)
