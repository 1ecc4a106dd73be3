"""The budget stage when a request makes more than one call (docs/budgets.md, "Reservation"): a fallback
is reserved after the earlier call is settled at what it cost, against every deny limit; a hedged race
holds a reservation for each of its calls until it is over, then settles the loser at what it cost. On
the pod's own counters and on a real redis-server's, through the official OpenAI SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .budget_walks import CHAT, access_line, client, policy, reservation, store, tokens, use

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

# A chat whose output maximum is below what the fake's broken answers' text estimates at: a billed
# failure's estimated output is capped at it (``billed.used_so_far``), so its charge is exact.
SHORT: dict[str, Any] = {**CHAT, "max_tokens": 5}
HEDGED = "{name: chat, target: [small, alt], resilience: {hedge: {after_s: 0.2}}}"
GATED = "{name: chat, target: [small, alt], gates: {regex: {pattern: bug}}}"  # "nope" is rejected, "bug" passes


async def billed_charge(fake: FakeFactory, sidecar: SidecarFactory, fault: str, chat: dict[str, Any] = SHORT) -> int:
    """What a call of a target with ``fault`` is charged (``billed.py``: its prompt and the text of the body
    that came), read from a sidecar of its own whose limit holds one reservation: the call is made and
    charged, the fallback refused."""
    broken, other = await fake("probe-one", fault=fault, fault_rate=1), await fake("probe-two")
    probe = await sidecar(policy(broken, other, "[small, alt]", tokens(reservation(**chat))))
    await refused_fallback(probe, other, chat)
    line = access_line(probe)  # its tokens: the failed call's, as the budget charges them once settled
    charged = line["input_tokens"] + line["output_tokens"]
    assert await use(probe, charged) == charged == reservation(**chat)  # the prompt and the capped output
    return int(charged)


async def refused_fallback(running: RunningSidecar, fallback_url: str, chat: dict[str, Any] = CHAT) -> tuple[str, str]:
    """The 503's message and the last attempt of a request whose fallback (at ``fallback_url``) was never
    called."""
    async with client(running) as sdk:
        with pytest.raises(openai.APIStatusError) as raised:
            await sdk.chat.completions.create(**chat)
    assert raised.value.status_code == 503
    assert await running.fake_requests(fallback_url) == []
    return raised.value.message, access_line(running)["attempt_log"][-1]


async def test_a_fallback_to_a_pricier_target_is_checked_before_its_call(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The cheap first target fails (503) with a dollar budget that fits its reservation but not the
    premium fallback's: the premium target is skipped without a call (attempt ``big:budget``) and
    nothing is spent: a fallback never overspends a deny limit, however much pricier it is."""
    broken, premium = await fake("one", fault="status=503", fault_rate=1), await fake("two")
    limit = "{name: team-month, measure: usd, amount: 0.01, window: month}"
    running = await sidecar(policy(broken, premium, "[small, big]", limit, store))
    message, last = await refused_fallback(running, premium)
    assert "every target of route 'chat' failed" in message
    assert last == "big:budget"
    assert await use(running, 0) == 0


async def test_a_fallback_that_fits_alone_is_called_after_a_call_that_billed_nothing(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A tokens budget of exactly one reservation: the first target refuses (503, not billed), so its
    reservation is released before the fallback's is checked, and the fallback is called and answers
    (before 2026-12-04 both were held at once: a 503 for a request that fit)."""
    broken, other = await fake("one", fault="status=503", fault_rate=1), await fake("two")
    running = await sidecar(policy(broken, other, "[small, alt]", tokens(reservation()), store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.model == "alt-1" and answer.usage is not None
    assert access_line(running)["attempt_log"] == ["small:overloaded", "alt:ok"]
    assert await use(running, answer.usage.total_tokens) == answer.usage.total_tokens


@pytest.mark.parametrize("room", [0, -1], ids=["fits", "one-token-short"])
async def test_a_billed_failure_is_charged_before_the_fallback_is_reserved(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, room: int
) -> None:
    """The first target answers 200 with a body that is not JSON (billed: its prompt and the text that came,
    ``billed.py``). With room for that charge and one reservation, the fallback is admitted against what
    is really left and answers; one token less and it is refused: the caller gets the 503, and the
    billed call is still charged. Nothing is charged twice, nothing escapes the limit."""
    billed_prompt = await billed_charge(fake, sidecar, "malformed")
    broken, other = await fake("one", fault="malformed", fault_rate=1), await fake("two")
    amount = billed_prompt + reservation(**SHORT) + room
    running = await sidecar(policy(broken, other, "[small, alt]", tokens(amount), store))
    if room < 0:
        _, last = await refused_fallback(running, other, SHORT)
        assert last == "alt:budget"
        assert await use(running, billed_prompt) == billed_prompt
        return
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**SHORT)
    assert answer.model == "alt-1" and answer.usage is not None
    line = access_line(running)
    assert line["billed_failures"] == ["small:malformed_response"]
    spent = billed_prompt + answer.usage.total_tokens
    assert await use(running, spent) == spent <= amount


async def test_a_hedged_race_holds_a_reservation_for_each_of_its_calls(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A hedge (the first call has no first byte after 0.2 s) holds the second call's reservation besides
    the first's while both are in flight (before 2026-12-04 one reservation was moved to the second
    call: hedged requests in flight could pass a limit by a prompt each); when the race ends, the cut
    loser is charged its prompt and the winner its answer."""
    first, second = await fake("one", latency_ms=2000), await fake("two", latency_ms=3000)
    running = await sidecar(policy(first, second, "", tokens(1_000_000), store, HEDGED))
    async with client(running) as sdk:
        call = asyncio.ensure_future(sdk.chat.completions.create(**CHAT))
        for _ in range(100):  # until the hedge has started (each fake's latency holds its answer)
            if await running.fake_requests(second):
                break
            await asyncio.sleep(0.02)
        assert await running.fake_requests(first) != [] and await running.fake_requests(second) != []
        held = await use(running, 2 * reservation())  # with Redis, a release made at the hedge is carried
        answer = await call
    assert held == 2 * reservation()
    assert answer.model == "small-1" and answer.usage is not None
    assert access_line(running)["hedge_cut"] == "alt"
    spent = answer.usage.total_tokens + reservation() - 20  # the answer and the cut call's prompt
    assert await use(running, spent) == spent


async def test_a_hedged_streams_loser_is_settled_when_the_race_ends(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The first call's stream commits (its first words reach the caller) and cuts the hedge: from then
    on, while the stream goes on, the cut call is charged its prompt and no longer held; the winner's
    reservation is."""
    first = await fake("one", latency_ms=600, reply="one two three four five six", tokens_per_s=3)
    second = await fake("two", latency_ms=3000)
    running = await sidecar(policy(first, second, "", tokens(1_000_000), store, HEDGED))
    options: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
    held = reservation(**options)
    async with client(running) as sdk:
        stream = await sdk.chat.completions.create(**CHAT, **options)
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
            if chunk.choices and chunk.choices[0].delta.content:
                break
        during = await use(running, 2 * held - 20)
        chunks += [chunk async for chunk in stream]
    usage = chunks[-1].usage
    assert usage is not None and access_line(running)["hedge_cut"] == "alt"
    assert during == held + held - 20  # the winner's hold and the loser's prompt
    spent = usage.total_tokens + held - 20
    assert await use(running, spent) == spent


async def test_a_hedge_the_budget_cannot_hold_is_not_made(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Room for one reservation and not two: the hedge's second call is not made (attempt ``alt:budget``
    on the access line), the first call goes on alone and answers, and the budget is never passed."""
    first, second = await fake("one", latency_ms=800), await fake("two")
    amount = 2 * reservation() - 1
    running = await sidecar(policy(first, second, "", tokens(amount), store, HEDGED))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.model == "small-1" and answer.usage is not None
    assert await running.fake_requests(second) == []
    line = access_line(running)
    assert line["attempt_log"] == ["alt:budget", "small:ok"] and "hedge_cut" not in line
    assert await use(running, answer.usage.total_tokens) == answer.usage.total_tokens


async def test_a_hedge_the_budget_refused_is_still_the_fallback(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The hedge the budget could not hold stays in the chain: when the first call then fails (a 503
    after 0.6 s, not billed), the fallback to it is reserved once the first's reservation is released,
    and it answers."""
    first = await fake("one", latency_ms=600, fault="status=503", fault_rate=1)
    second = await fake("two")
    running = await sidecar(policy(first, second, "", tokens(2 * reservation() - 1), store, HEDGED))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.model == "alt-1" and answer.usage is not None
    assert access_line(running)["attempt_log"] == ["alt:budget", "small:overloaded", "alt:ok"]
    assert await use(running, answer.usage.total_tokens) == answer.usage.total_tokens


async def rejected_tokens(sidecar: SidecarFactory, first: str, second: str, store: str, route: str) -> float:
    """The tokens of the answer the gates of ``route`` reject before one passes ("bug"), measured by a
    sidecar of its own with a large limit (named apart: with Redis the counters are shared)."""
    probe = await sidecar(policy(first, second, "", tokens(1_000_000, "probe"), store, route))
    async with client(probe) as sdk:
        served = await sdk.chat.completions.create(**CHAT)
    assert served.usage is not None and (served.choices[0].message.content or "").startswith("bug")
    line = access_line(probe)  # its tokens count both calls, as the budget does once both are settled
    paid = line["input_tokens"] + line["output_tokens"]
    assert await use(probe, paid) == paid  # with Redis, the last settlement is carried ~20 ms later
    return paid - served.usage.total_tokens


async def gate_failed(running: RunningSidecar) -> list[str]:
    """The attempts of a request answered 502 (no answer passed the gates)."""
    async with client(running) as sdk:
        with pytest.raises(openai.APIStatusError) as raised:
            await sdk.chat.completions.create(**CHAT)
    assert raised.value.status_code == 502
    return list(access_line(running)["attempt_log"])


@pytest.mark.parametrize("room", [0, -1], ids=["fits", "one-token-short"])
async def test_a_rejected_answer_is_charged_before_the_next_target_is_reserved(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, room: int
) -> None:
    """A quality gate rejects the first target's answer (billed: its usage). The next target is admitted
    against what is really left: with room for the rejected answer and one reservation it is called and
    its answer served (before 2026-12-04 the first reservation was still held: a 502 for a request that
    fit); one token less and it is not called, the rejected answer still charged."""
    nope, bug = await fake("one", reply="nope"), await fake("two", reply="bug")
    rejected = await rejected_tokens(sidecar, nope, bug, store, GATED)
    amount = int(rejected) + reservation() + room
    running = await sidecar(policy(nope, bug, "", tokens(amount), store, GATED))
    if room < 0:
        assert await gate_failed(running) == ["small:ok", "alt:budget"]
        assert await use(running, rejected) == rejected
        return
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None and answer.choices[0].message.content == "bug"
    assert access_line(running)["gate_rejections"] == ["small:regex"]
    spent = rejected + answer.usage.total_tokens
    assert await use(running, spent) == spent <= amount


@pytest.mark.parametrize("room", [0, -1], ids=["fits", "one-token-short"])
async def test_a_gates_reask_is_admitted_against_what_the_rejected_answer_left(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, room: int
) -> None:
    """A one-target gated route re-asks its model (the fake echoes the last user turn: "hello there" is
    rejected, the re-ask prompt "bug ..." passes). The re-ask is a call of its own: the rejected answer is
    charged and the re-ask reserved against what is left. With room for both it is made and served; one
    token short of a reservation after the rejected answer and it is not made (attempt ``small:budget``,
    a 502 naming the gate), the budget never passed (before 2026-12-04 a re-ask was never checked)."""
    echo = await fake("one")
    route = (
        "{name: chat, target: [small], gates: {regex: {pattern: bug}, on_fail: reask, max_reasks: 1,"
        " reask_prompt: 'bug {error}'}}"
    )
    rejected = await rejected_tokens(sidecar, echo, echo, store, route)
    amount = int(rejected) + reservation() + room
    running = await sidecar(policy(echo, echo, "", tokens(amount), store, route))
    asked = len(await running.fake_requests(echo))
    if room < 0:
        assert await gate_failed(running) == ["small:ok", "small:budget"]
        assert len(await running.fake_requests(echo)) == asked + 1
        assert await use(running, rejected) == rejected
        return
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None and access_line(running)["attempt_log"] == ["small:ok", "small:ok"]
    spent = rejected + answer.usage.total_tokens
    assert await use(running, spent) == spent


@pytest.mark.parametrize("room", [0, -1], ids=["fits", "one-token-short"])
async def test_a_retry_after_a_billed_failure_is_admitted_against_what_it_left(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, room: int
) -> None:
    """The first target refuses (503); the last one's 200 body breaks off once (billed: its prompt and the
    text that came) and it is tried again: the retry is reserved after that call is charged. With room for
    both it is made and answers; one token short and it is not made (attempt ``alt:budget``): a 503, the
    billed call charged, the budget never passed (before 2026-12-04 a retry was never checked)."""
    billed_prompt = await billed_charge(fake, sidecar, "reset-body")
    broken, cut_once = (
        await fake("one", fault="status=503", fault_rate=1),
        await fake("two", fault="reset-body;times=1", fault_rate=1),
    )
    amount = billed_prompt + reservation(**SHORT) + room
    running = await sidecar(policy(broken, cut_once, "[small, alt]", tokens(amount), store))
    async with client(running) as sdk:
        if room < 0:
            with pytest.raises(openai.APIStatusError) as raised:
                await sdk.chat.completions.create(**SHORT)
            assert raised.value.status_code == 503
            assert access_line(running)["attempt_log"] == ["small:overloaded", "alt:reset", "alt:budget"]
            assert len(await running.fake_requests(cut_once)) == 1
            assert await use(running, billed_prompt) == billed_prompt
            return
        answer = await sdk.chat.completions.create(**SHORT)
    assert answer.usage is not None and access_line(running)["attempt_log"] == [
        "small:overloaded",
        "alt:reset",
        "alt:ok",
    ]
    spent = billed_prompt + answer.usage.total_tokens
    assert await use(running, spent) == spent <= amount
