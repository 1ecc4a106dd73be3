"""Calls sent whose answer's head did not come in time (server.billed.charge_unanswered): the provider may
have accepted them and be generating, so an unstreamed one is charged its prompt and the output maximum
(what its reservation held), a stream its prompt, in the budgets and the access line's ``cost_usd``
(``billed_failures`` names them); a call whose deadline fired while it was still connecting was never sent,
and is not charged. A real sidecar, real fake providers (``stall``), the official OpenAI SDK."""

from __future__ import annotations

import openai
import pytest

from ..conftest import FakeFactory, SidecarFactory
from ..upstream.raw import ServerConn, UpstreamFactory
from .budget_policies import (
    BIG,
    LIMITS,
    SMALL,
    access_line,
    answered_whole,
    budget_rows,
    chat,
    openai_sdk,
    policy,
    streamed_usage,
)

# The chain big -> small, each call's head awaited 1 s at most (the stalled provider sends none for 5 s; at
# 0.3 s a loaded machine could reach the deadline before the call was even written, which is then rightly
# not charged, and the tests below, which charge a call sent, failed once so).
ROUTE = "[big, small], resilience: {max_attempts_per_target: 1, timeouts: {first_byte_s: 1}}"
MAX_TOKENS = 20  # budget_policies.chat()'s


async def test_an_unstreamed_call_whose_head_timed_out_is_charged_its_prompt_and_output_maximum(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The first target's provider sends nothing for 5 s: its call times out before the head and the next
    target answers. The timed-out call is charged its prompt estimate and the request's ``max_tokens`` at
    its own price, on top of the answer: the budgets, the access line's cost, ``billed_failures``. Before,
    it was charged nothing (a deny limit could be passed by the answers a provider generated unread)."""
    stalled = await fake("one", fault="stall=5", fault_rate=1)
    running = await sidecar(policy(stalled, await fake("two"), LIMITS, route=ROUTE))
    served, rows = await answered_whole(running)
    timed_out = rows["tokens-month/*"]["used"] - served
    prompt = timed_out - MAX_TOKENS
    assert 0 < prompt < 60  # "hello there", estimated from the body's bytes
    line = access_line(running)
    assert line["attempt_log"] == ["big:timeout_first_byte", "small:ok"]
    assert line["billed_failures"] == ["big:timeout_first_byte"]
    assert line["cost_usd"] == pytest.approx(timed_out * BIG + served * SMALL)
    assert rows["usd-month/*"]["used"] == pytest.approx(line["cost_usd"])


async def test_a_stream_whose_head_timed_out_is_charged_its_prompt(fake: FakeFactory, sidecar: SidecarFactory) -> None:
    """A stream's provider stops generating when the connection closes: a streamed call whose head timed
    out is charged its prompt alone (as a caller's cancel is)."""
    stalled = await fake("one", fault="stall=5", fault_rate=1)
    running = await sidecar(policy(stalled, await fake("two"), LIMITS, route=ROUTE))
    usage = await streamed_usage(running)
    prompt = (await budget_rows(running))["tokens-month/*"]["used"] - usage.prompt_tokens - usage.completion_tokens
    assert 0 < prompt < 60  # "hello there", estimated from the body's bytes (stream_options among them)
    line = access_line(running)
    assert line["billed_failures"] == ["big:timeout_first_byte"]
    assert line["cost_usd"] == pytest.approx(prompt * BIG + (usage.prompt_tokens + usage.completion_tokens) * SMALL)


async def test_a_call_that_timed_out_while_connecting_is_not_charged(
    fake: FakeFactory, sidecar: SidecarFactory, raw_upstream: UpstreamFactory
) -> None:
    """The first target's server takes the TCP connection but never answers its TLS handshake: the
    first-byte deadline fires while the call is still connecting, its request never written. Nothing is
    charged for it (only the next target's answer), and no call is named billed."""

    async def silent(conn: ServerConn) -> None:
        await conn.wait_closed_by_client()

    server = await raw_upstream(silent)
    running = await sidecar(policy(server.base.replace("http://", "https://"), await fake("two"), LIMITS, route=ROUTE))
    served, rows = await answered_whole(running)
    assert rows["tokens-month/*"]["used"] == served
    line = access_line(running)
    assert line["attempt_log"] == ["big:timeout_first_byte", "small:ok"]
    assert "billed_failures" not in line
    assert server.accepted == 1 and server.requests == []


async def test_an_unstreamed_call_whose_head_timed_out_is_charged_without_budgets_too(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """Without budgets the access line's cost counts the timed-out call the same way: its prompt and the
    request's ``max_tokens``, at its own price."""
    stalled = await fake("one", fault="stall=5", fault_rate=1)
    running = await sidecar(policy(stalled, await fake("two"), "", route=ROUTE).split("budgets:")[0])
    client = await openai_sdk(running)
    answer = await client.chat.completions.create(**chat())
    await client.close()
    assert answer.usage is not None
    line = access_line(running)
    assert line["billed_failures"] == ["big:timeout_first_byte"]
    failed = line["cost_usd"] - answer.usage.total_tokens * SMALL
    assert (MAX_TOKENS + 1) * BIG < failed < (MAX_TOKENS + 60) * BIG


async def test_a_retry_after_a_timed_out_call_is_refused_when_the_budget_cannot_hold_it(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A ``deny`` limit with room for one call: the first target's call times out (charged, it may have
    been generated), and the fallback's reservation is checked against what is left: refused, the caller
    gets the chain's error instead of a call past the limit."""
    stalled = await fake("one", fault="stall=5", fault_rate=1)
    limits = "    - {name: tokens-month, measure: tokens, amount: 60, window: month}\n"
    route = "[big, alt], resilience: {max_attempts_per_target: 1, timeouts: {first_byte_s: 1}}"
    running = await sidecar(policy(stalled, await fake("two"), limits, route=route))
    client = await openai_sdk(running)
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(**chat())
    await client.close()
    line = access_line(running)
    assert line["attempt_log"] == ["big:timeout_first_byte", "alt:budget"]
    used = (await budget_rows(running))["tokens-month/*"]["used"]
    assert MAX_TOKENS < used <= 60
