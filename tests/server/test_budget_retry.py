"""The budget stage on a route of one target without gates (docs/budgets.md, "Reservation"): a retry after a
billed call (here one sent whose head timed out: ``billed.charge_unanswered``) is reserved again once that
call is settled, against every deny limit, as a fallback is; refused, the retry is not made. On the pod's
own counters and on a real redis-server's, through the official OpenAI SDK."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from .budget_walks import CHAT, access_line, client, policy, reservation, store, tokens, use

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

# One target, its call's head awaited 1 s (the stalled provider sends none for 5 s; at 0.3 s a loaded
# machine reached the deadline before the call was even written, which is then rightly not charged, and
# the first test below, which charges a call sent, failed once so); retries after a short backoff.
ONE = "{name: chat, target: [small], resilience: {timeouts: {first_byte_s: 1}, backoff: {base_s: 0.01, cap_s: 0.02}}}"


async def test_a_retry_after_a_billed_call_is_refused_when_the_budget_cannot_hold_it(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A limit with room for one reservation and a little more: the first call is sent and its head times
    out (charged its estimate: it may be generating), so the retry's reservation is refused and the
    retry not made; the caller gets the timed-out call's 504 and the limit holds. Before, the retry ran on the one
    reservation and its answer passed the limit by its cost."""
    estimate = reservation()
    stalled = await fake("one", fault="stall=5;times=1", fault_rate=1)
    running = await sidecar(policy(stalled, await fake("two"), "", tokens(estimate + 3), store, route=ONE))
    async with client(running) as sdk:
        with pytest.raises(openai.APIStatusError) as raised:
            await sdk.chat.completions.create(**CHAT)
    assert raised.value.status_code == 504
    assert access_line(running)["attempt_log"] == ["small:timeout_first_byte", "small:budget"]
    assert await use(running, estimate) == estimate


async def test_a_retry_after_a_billed_call_is_reserved_and_served(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """With room for both calls, the retry is reserved and served: the timed-out call's estimate and the
    answer's usage are charged, the request counted once."""
    estimate = reservation()
    stalled = await fake("one", fault="stall=5;times=1", fault_rate=1)
    running = await sidecar(policy(stalled, await fake("two"), "", tokens(10 * estimate), store, route=ONE))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    assert access_line(running)["attempt_log"] == ["small:timeout_first_byte", "small:ok"]
    expected = estimate + answer.usage.total_tokens
    assert await use(running, expected) == expected
