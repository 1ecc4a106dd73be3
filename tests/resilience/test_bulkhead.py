"""Bulkhead: bounded concurrency, bounded FIFO wait, cancel safety; on a virtual-time event loop, so
its sleeps are the times the tests measure (hold times, queue timeouts), taken at once and exactly, however
loaded the machine: none of them waits for something to happen."""

from __future__ import annotations

import asyncio
import random

import pytest

from sidecar.resilience.bulkhead import Bulkhead, BulkheadFull

from .fakes import run_virtual


def test_acquires_up_to_the_limit_without_waiting() -> None:
    """Under the limit, acquire returns at once and in_flight counts the slots."""

    async def main() -> None:
        bulkhead = Bulkhead(2, 1.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await bulkhead.acquire()
        await bulkhead.acquire()
        assert (bulkhead.in_flight, bulkhead.queued, loop.time() - start) == (2, 0, 0.0)
        bulkhead.release()
        bulkhead.release()
        assert bulkhead.in_flight == 0

    run_virtual(main)


def test_try_acquire_takes_a_free_slot_and_never_waits() -> None:
    """try_acquire takes a slot while one is free and says False once all are taken (nothing queued);
    a waiter then still gets the next released slot before any try_acquire."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 1.0)
        assert bulkhead.try_acquire() and bulkhead.in_flight == 1
        assert not bulkhead.try_acquire() and bulkhead.queued == 0
        waiting = asyncio.ensure_future(bulkhead.acquire())
        await asyncio.sleep(0)
        bulkhead.release()  # handed to the waiter
        assert not bulkhead.try_acquire()
        await waiting
        assert bulkhead.in_flight == 1

    run_virtual(main)


def test_queue_timeout_raises_bulkhead_full() -> None:
    """When full, a caller waits exactly queue_timeout_s, then gets BulkheadFull (saying it queued) and
    leaves the queue."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 2.5, name="anthropic")
        await bulkhead.acquire()
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(BulkheadFull, match="anthropic") as info:
            await bulkhead.acquire()
        assert loop.time() - start == pytest.approx(2.5)
        assert info.value.max_concurrent == 1 and info.value.queued
        assert (bulkhead.in_flight, bulkhead.queued) == (1, 0)

    run_virtual(main)


def test_waiter_gets_a_released_slot_in_fifo_order() -> None:
    """Released slots go to waiters in arrival order, before the queue timeout."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 10.0)
        await bulkhead.acquire()
        order: list[int] = []

        async def waiter(i: int) -> None:
            async with bulkhead:
                order.append(i)
                await asyncio.sleep(1.0)

        tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
        await asyncio.sleep(0)
        assert bulkhead.queued == 3
        bulkhead.release()
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2]
        assert (bulkhead.in_flight, bulkhead.queued) == (0, 0)

    run_virtual(main)


def test_new_arrival_does_not_barge_past_a_waiter() -> None:
    """A slot handed to a waiter is not taken by a caller arriving before the waiter runs."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 10.0)
        await bulkhead.acquire()
        first = asyncio.create_task(bulkhead.acquire())
        await asyncio.sleep(0)
        bulkhead.release()  # handed to `first`, which has not run yet
        late = asyncio.create_task(bulkhead.acquire())
        await first
        await asyncio.sleep(0)
        assert not late.done()
        assert (bulkhead.in_flight, bulkhead.queued) == (1, 1)
        bulkhead.release()
        await late
        bulkhead.release()
        assert bulkhead.in_flight == 0

    run_virtual(main)


def test_zero_queue_timeout_rejects_at_once() -> None:
    """queue_timeout_s = 0 never waits: BulkheadFull says the caller did not queue."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 0.0)
        await bulkhead.acquire()
        with pytest.raises(BulkheadFull, match="not queueing") as info:
            await bulkhead.acquire()
        assert not info.value.queued

    run_virtual(main)


def test_max_queued_rejects_at_once() -> None:
    """With max_queued waiters already queued, the next caller is rejected without waiting."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 10.0, max_queued=1)
        await bulkhead.acquire()
        queued = asyncio.create_task(bulkhead.acquire())
        await asyncio.sleep(0)
        with pytest.raises(BulkheadFull, match="1 already queued"):
            await bulkhead.acquire()
        bulkhead.release()
        await queued
        bulkhead.release()

    run_virtual(main)


def test_cancelled_waiter_leaves_the_queue() -> None:
    """Cancelling a queued caller removes it; no slot is lost or created."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 10.0)
        await bulkhead.acquire()
        task = asyncio.create_task(bulkhead.acquire())
        await asyncio.sleep(0)
        assert bulkhead.queued == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (bulkhead.in_flight, bulkhead.queued) == (1, 0)
        bulkhead.release()
        assert bulkhead.in_flight == 0
        await bulkhead.acquire()  # the slot is usable again

    run_virtual(main)


def test_cancel_right_after_handoff_passes_the_slot_on() -> None:
    """A waiter cancelled after a slot was handed to it, before it ran, gives the slot to the next one."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 10.0)
        await bulkhead.acquire()
        first = asyncio.create_task(bulkhead.acquire())
        second = asyncio.create_task(bulkhead.acquire())
        await asyncio.sleep(0)
        bulkhead.release()  # slot handed to `first`
        first.cancel()  # ... which is cancelled before it resumes
        with pytest.raises(asyncio.CancelledError):
            await first
        await second  # got the slot passed on
        assert (bulkhead.in_flight, bulkhead.queued) == (1, 0)
        bulkhead.release()
        assert bulkhead.in_flight == 0

    run_virtual(main)


def test_context_manager_releases_on_error() -> None:
    """`async with` frees the slot even when the body raises."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 1.0)
        with pytest.raises(RuntimeError, match="upstream"):
            async with bulkhead:
                raise RuntimeError("upstream blew up")
        assert bulkhead.in_flight == 0

    run_virtual(main)


def test_slot_is_the_same_context_manager() -> None:
    """`async with bulkhead.slot()` takes and frees a slot like `async with bulkhead`."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 1.0)
        async with bulkhead.slot():
            assert bulkhead.in_flight == 1
        assert bulkhead.in_flight == 0

    run_virtual(main)


def test_release_without_acquire_is_an_error() -> None:
    """Releasing more than was acquired raises instead of corrupting the count."""
    with pytest.raises(RuntimeError, match="without a matching acquire"):
        Bulkhead(1, 1.0).release()


def test_invalid_settings() -> None:
    """max_concurrent < 1 or a negative max_queued raise ValueError."""
    with pytest.raises(ValueError, match="max_concurrent"):
        Bulkhead(0, 1.0)
    with pytest.raises(ValueError, match="max_queued"):
        Bulkhead(1, 1.0, max_queued=-1)


def test_snapshot() -> None:
    """snapshot() reports limits and counts for /status."""
    assert Bulkhead(4, 0.5).snapshot() == {
        "max_concurrent": 4,
        "in_flight": 0,
        "queued": 0,
        "queue_timeout_s": 0.5,
    }


def test_resize_lower_counts_the_calls_in_flight() -> None:
    """Four slots taken and two callers queued when the limit drops to 2: the queued wait until the
    old calls drain below 2 (the third release hands its slot over), in their order, and in_flight
    never passes the new limit once it is reached."""

    async def main() -> None:
        bulkhead = Bulkhead(4, 10.0)
        for _ in range(4):
            assert bulkhead.try_acquire()
        first = asyncio.ensure_future(bulkhead.acquire())
        second = asyncio.ensure_future(bulkhead.acquire())
        await asyncio.sleep(0)
        bulkhead.resize(2, 10.0)
        assert not bulkhead.try_acquire()
        bulkhead.release()
        bulkhead.release()
        await asyncio.sleep(0)
        assert (bulkhead.in_flight, bulkhead.queued, first.done()) == (2, 2, False)
        bulkhead.release()  # 2 in flight: the slot goes to the oldest waiter
        await asyncio.sleep(0)
        assert (bulkhead.in_flight, bulkhead.queued, first.done(), second.done()) == (2, 1, True, False)
        bulkhead.release()
        await second
        assert bulkhead.in_flight == 2

    run_virtual(main)


def test_resize_higher_admits_the_oldest_waiters_at_once() -> None:
    """One slot taken, three callers queued; the limit rises to 3: the two oldest get the new slots at
    once, the third keeps waiting (its queue timeout unchanged) and gets the next released slot."""

    async def main() -> None:
        bulkhead = Bulkhead(1, 5.0)
        assert bulkhead.try_acquire()
        waiters = [asyncio.ensure_future(bulkhead.acquire()) for _ in range(3)]
        await asyncio.sleep(0)
        bulkhead.resize(3, 5.0)
        await asyncio.sleep(0)
        assert [waiter.done() for waiter in waiters] == [True, True, False]
        assert (bulkhead.in_flight, bulkhead.queued) == (3, 1)
        bulkhead.release()
        await waiters[2]
        assert bulkhead.in_flight == 3
        with pytest.raises(ValueError, match="max_concurrent must be >= 1"):
            bulkhead.resize(0, 1.0)

    run_virtual(main)


def test_resize_lower_queue_timeout_applies_to_the_waiters() -> None:
    """A reload lowers queue_timeout_s from 10 s to 2 s at t=3: the caller queued at t=0 has waited
    longer and leaves at once (BulkheadFull, at t=3, not t=10); the one queued at t=2.5 leaves at
    t=4.5, its queue time plus the new timeout; new slots are handed over before anyone expires."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        bulkhead = Bulkhead(1, 10.0)
        assert bulkhead.try_acquire()
        left: dict[str, float] = {}

        async def wait(name: str) -> None:
            with pytest.raises(BulkheadFull, match="no slot within 2s"):
                await bulkhead.acquire()
            left[name] = loop.time()

        early = asyncio.ensure_future(wait("early"))
        await asyncio.sleep(2.5)
        late = asyncio.ensure_future(wait("late"))
        await asyncio.sleep(0.5)
        bulkhead.resize(1, 2.0)
        await asyncio.gather(early, late)
        assert left == {"early": pytest.approx(3.0), "late": pytest.approx(4.5)}
        assert (bulkhead.in_flight, bulkhead.queued) == (1, 0)

    run_virtual(main)


def test_resize_higher_queue_timeout_lets_the_waiters_wait_longer() -> None:
    """queue_timeout_s raised from 2 s to 5 s at t=1: the caller queued at t=0 still waits at t=4 and
    gets the slot released then; a new slot goes to a waiter before a timeout of 0 could send it away;
    an unchanged timeout moves nobody; 0 (never wait) sends a waiter away at once."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        bulkhead = Bulkhead(1, 2.0)
        assert bulkhead.try_acquire()
        waiter = asyncio.ensure_future(bulkhead.acquire())
        await asyncio.sleep(1.0)
        bulkhead.resize(1, 5.0)
        await asyncio.sleep(3.0)
        assert not waiter.done()
        bulkhead.release()
        await waiter
        assert loop.time() == pytest.approx(4.0)
        second = asyncio.ensure_future(bulkhead.acquire())
        await asyncio.sleep(0.5)
        bulkhead.resize(2, 0.0)  # a new slot first: the waiter takes it rather than leave
        await second
        bulkhead.resize(2, 3.0)
        third = asyncio.ensure_future(bulkhead.acquire())
        await asyncio.sleep(0.5)
        bulkhead.resize(2, 3.0)  # unchanged: nothing moves
        assert not third.done()
        bulkhead.resize(2, 0.0)  # never wait: the waiter leaves in the loop's next turn
        with pytest.raises(BulkheadFull, match="no slot within 0s"):
            await third
        assert (loop.time(), bulkhead.queued) == (pytest.approx(5.0), 0)

    run_virtual(main)


@pytest.mark.parametrize("seed", range(30))
def test_random_load_with_cancels_and_resizes_never_exceeds_or_leaks(seed: int) -> None:
    """Random arrivals, hold times, timeouts and cancels, and for a third of the seeds resizes (1 to 4
    slots, waiting or not): never more callers inside than the largest limit, in_flight always counts
    at least the callers inside, and every slot returns, no caller left queued."""

    async def main() -> None:
        rng = random.Random(seed)
        bulkhead = Bulkhead(3, 1.5, max_queued=rng.choice([None, 2, 5]))
        resizing = seed % 3 == 0
        inside = peak = 0

        async def call() -> None:
            nonlocal inside, peak
            try:
                async with bulkhead:
                    inside += 1
                    peak = max(peak, inside)
                    assert inside <= bulkhead.in_flight
                    try:
                        await asyncio.sleep(rng.uniform(0.0, 2.0))
                    finally:
                        inside -= 1
            except BulkheadFull:
                pass

        tasks = []
        for _ in range(60):
            tasks.append(asyncio.create_task(call()))
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            if rng.random() < 0.2:
                rng.choice(tasks).cancel()
            if resizing and rng.random() < 0.2:
                bulkhead.resize(rng.randint(1, 4), rng.choice([0.0, 1.5]))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert not [result for result in results if isinstance(result, AssertionError)]
        assert peak <= (4 if resizing else 3)
        assert (inside, bulkhead.in_flight, bulkhead.queued) == (0, 0, 0)

    run_virtual(main)
