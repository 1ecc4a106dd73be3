"""An ensemble judge's reservation when a member falls back (docs/budgets.md, "Reservation"): the judge's
prompt holds every member's answer at the output maximum of the target the member is held on, a
fallback's once admission moved it there; and what a judge's calls are charged (refused with a 4xx; cut
in flight in its own hedged race by a caller that leaves). On the pod's own counters and on a real redis-server's,
through the official OpenAI SDK, for a request without ``max_tokens`` (the OpenAI SDK's default: each
member's answer may then be as long as its model's ``max_output_tokens``)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import orjson
import pytest

from sidecar.explain import explain_report
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory, provider_block
from ..waiting import until
from .budget_walks import client, store, use
from .callers import leave_once
from .provider_quotas import settled, used_by_provider

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

CHAT: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}]}
FALLS_BACK = "[{target: [short, long]}, long]"
"""The first member's first target (``short``, provider one, 10 output tokens at most) falls to ``long``
(provider two, 3,000 at most)."""
PROVIDER_ONE_FULL = (
    "{name: provider-one, measure: tokens, amount: 1, window: month,"
    " scope: {by: provider, values: [one], others: exempt}}"
)


def judged(first: str, second: str, members: str, limits: list[str], store: str = "") -> str:
    """A judged ensemble over ``members``, the judge on ``long``; every model $1 per Mtok."""
    price = "{input_per_mtok: 1, output_per_mtok: 1}"
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", first)
        + provider_block("two", second)
        + "models:\n"
        + f"  short: {{provider: one, model: short-1, max_output_tokens: 10, price: {price}}}\n"
        + f"  long: {{provider: two, model: long-1, max_output_tokens: 3000, price: {price}}}\n"
        + f"routes:\n  - {{name: chat, ensemble: {{members: {members}, strategy: judge, judge: {{target: long}}}}}}\n"
        + f"budgets:\n{store}  limits:\n"
        + "".join(f"    - {limit}\n" for limit in limits)
    )


def reserved(members: str) -> int:
    """What ``llm-sidecar explain`` says the chat reserves on a request limit for an ensemble of ``members``."""
    text = judged("http://127.0.0.1:1", "http://127.0.0.1:2", members, [tokens(10**9)])
    request = describe_request("/v1/chat/completions", {}, {}, orjson.loads(orjson.dumps(CHAT)), app="")
    (row,) = explain_report(load_policy_bytes(text.encode(), "p.yaml"), request)["budgets"]
    return int(row["reserves"])


def tokens(amount: int) -> str:
    return f"{{name: all, measure: tokens, amount: {amount}, window: month}}"


LONG_MS = 4000  # how long provider two takes to answer: the window in which a test reads the held use


async def members_on_long(running: RunningSidecar, second: str) -> None:
    """Until both members' calls have reached provider two (``long``): every fallback move, and the judge's
    hold estimated again at each, is made by then (on a loaded machine the 503s and moves before it can
    take longer than any fixed guess)."""
    await until(lambda: running.fake_requests(second), lambda seen: len(seen) == 2, timeout_s=30)


@pytest.mark.parametrize("room", [0, -1], ids=["exactly", "one-token-short"])
async def test_a_judge_reads_a_members_fallback_answer_at_its_output_maximum(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, room: int
) -> None:
    """Provider one's quota refuses ``short``: admission holds the first member on ``long``, and the judge's
    prompt with that member's answer at ``long``'s 3,000 tokens, not ``short``'s 10: what an ensemble of
    two ``long`` members reserves. With exactly that much left the request is answered; one token less and
    it is refused before any call (before 2026-12-05 the judge was held for the first target's answer,
    2,990 tokens short, and the request was admitted past the limit by that)."""
    first, second = await fake("one"), await fake("two")
    amount = reserved("[long, long]") + room
    running = await sidecar(judged(first, second, FALLS_BACK, [PROVIDER_ONE_FULL, tokens(amount)], store))
    async with client(running) as sdk:
        if room >= 0:
            await sdk.chat.completions.create(**CHAT)
            assert len(await running.fake_requests(second)) == 2  # both members on long (they agree: no judge)
        else:
            with pytest.raises(openai.RateLimitError, match="'all'"):
                await sdk.chat.completions.create(**CHAT)
            assert await running.fake_requests(second) == []
    assert await running.fake_requests(first) == []


async def test_a_judge_is_held_again_for_the_answer_of_a_member_that_fell_back(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Provider one answers 503: the first member falls back from ``short`` to ``long`` at run time, and the
    judge's hold, held again with the rest of the reservation, reads that member's answer at ``long``'s
    output maximum: while the members' calls to ``long`` (``LONG_MS`` each) are in flight the request holds what an
    ensemble of two ``long`` members reserves (before 2026-12-05 it held the judge for ``short``'s answer,
    2,990 tokens less)."""
    first, second = await fake("one", fault="status=503", fault_rate=1), await fake("two", latency_ms=LONG_MS)
    expected = reserved("[long, long]")
    running = await sidecar(judged(first, second, FALLS_BACK, [tokens(10**9)], store))
    async with client(running) as sdk:
        call = asyncio.create_task(sdk.chat.completions.create(**CHAT))
        await members_on_long(running, second)
        held = await use(running, expected, within_s=2)  # while the members' calls are in flight
        await call
    assert held == expected


def judged_three(first: str, second: str, third: str, store: str) -> str:
    """``judged`` with a third provider (``three``) and model ``mid`` (100 output tokens at most) on it; the
    first member walks ``short`` -> ``mid`` -> ``long``."""
    text = judged(first, second, "[{target: [short, mid, long]}, long]", [tokens(10**9)], store)
    price = "{input_per_mtok: 1, output_per_mtok: 1}"
    text = text.replace("models:\n", provider_block("three", third) + "models:\n", 1)
    return text.replace(
        "  long:", f"  mid: {{provider: three, model: mid-1, max_output_tokens: 100, price: {price}}}\n  long:", 1
    )


async def test_a_judge_is_held_again_at_a_members_second_fallback(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Providers one and three answer 503: the first member falls back twice, ``short`` -> ``mid`` (100
    output tokens) -> ``long`` (3,000), and the judge's hold is estimated again at each move: while the
    members' calls to ``long`` are in flight the request holds what an ensemble of two ``long`` members
    reserves (before wave 28 only the first move re-estimated the judge: it stayed held for ``mid``'s
    answer, 2,900 tokens short)."""
    first = await fake("one", fault="status=503", fault_rate=1)
    second = await fake("two", latency_ms=LONG_MS)
    third = await fake("three", fault="status=503", fault_rate=1)
    expected = reserved("[long, long]")
    running = await sidecar(judged_three(first, second, third, store))
    async with client(running) as sdk:
        call = asyncio.create_task(sdk.chat.completions.create(**CHAT))
        await members_on_long(running, second)
        held = await use(running, expected, within_s=2)  # while the members' calls are in flight
        await call
    assert len(await running.fake_requests(third)) >= 1
    assert held == expected


async def test_a_judge_whose_provider_refused_its_request_with_a_4xx_is_charged_nothing(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The members answer differently (``short`` on provider one, ``long`` on provider two), so the judge
    (``mid``, on provider three) is asked, and provider three refuses its request with a 400 (a refusal:
    nothing billed); majority decides. Provider three is charged nothing and counts no request. Before
    2026-12-06 the refused judge was taken for an answer without usage: its whole estimate was charged on
    provider three and counted there (as a member refused so: the seeded soak, seed 414)."""
    one, two = await fake("one", reply="alpha"), await fake("two", reply="beta")
    three = await fake("three", fault="status=400", fault_rate=1)
    limits = [
        "{name: requests, measure: requests, amount: 100, window: month, scope: {by: provider}}",
        "{name: tokens, measure: tokens, amount: 1000000000, window: month, scope: {by: provider}}",
    ]
    text = judged(one, two, "[short, long]", limits, store).replace("judge: {target: long}", "judge: {target: mid}")
    text = text.replace("models:\n", provider_block("three", three) + "models:\n", 1)
    mid = "  mid: {provider: three, model: mid-1, price: {input_per_mtok: 1, output_per_mtok: 1}}\n"
    running = await sidecar(text.replace("  long:", mid + "  long:", 1))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    assert len(await running.fake_requests(three)) == 1
    counted = {"one": 1.0, "two": 1.0, "three": 0.0}
    assert await used_by_provider(running, counted, "requests") == counted
    assert (await used_by_provider(running, {}, "tokens")).get("three") == 0.0


async def test_a_caller_leaving_a_judges_race_with_both_calls_in_flight_charges_each_prompt_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """The members answer differently (``short`` on provider one, ``long`` on provider two), so the judge
    is asked on its chain [``j3`` on provider three, ``j4`` on provider four], which races a hedge on
    ``j4`` when ``j3`` has no first byte after 0.2 s; both stall, and the caller leaves with the judge's
    two calls in flight. Each judge call's prompt is charged on its own provider (the same prompt, so the
    same tokens on three and four), each of the four providers counts the request once, and the access
    line's tokens and ``cost_usd`` are what the budgets charged (every model $1 per Mtok). hedge36's rule
    for a chain's and a member's race (docs/budgets.md), here for the judge's own."""
    one, two = await fake("one", reply="alpha"), await fake("two", reply="beta")
    three, four = await fake("three", latency_ms=10_000), await fake("four", latency_ms=10_000)
    limits = [
        "{name: requests, measure: requests, amount: 100, window: month, scope: {by: provider}}",
        "{name: tokens, measure: tokens, amount: 1000000000, window: month, scope: {by: provider}}",
    ]
    text = judged(one, two, "[short, long]", limits, store).replace(
        "judge: {target: long}}}",
        "judge: {target: [j3, j4]}}, resilience: {max_attempts_per_target: 1, hedge: {after_s: 0.2}}}",
    )
    text = text.replace("models:\n", provider_block("three", three) + provider_block("four", four) + "models:\n", 1)
    price = "price: {input_per_mtok: 1, output_per_mtok: 1}"
    judges = f"  j3: {{provider: three, model: j3-1, {price}}}\n  j4: {{provider: four, model: j4-1, {price}}}\n"
    running = await sidecar(text.replace("  long:", judges + "  long:", 1))

    async def racing() -> bool:
        return all([len(await running.fake_requests(url)) == 1 for url in (one, two, three, four)])

    await leave_once(running, CHAT, racing)
    [line] = await until(running.access_lines, lambda lines: len(lines) == 1)
    await settled(request, store)
    calls = ["j3:cancelled", "j4:cancelled", "long:ok", "short:ok"]
    assert (line["hedge_cut"], sorted(line["attempt_log"])) == ("j4", calls)
    counted = {"one": 1.0, "two": 1.0, "three": 1.0, "four": 1.0}
    assert await used_by_provider(running, counted, "requests") == counted
    charged = await used_by_provider(running, {}, "tokens")
    assert charged["three"] == charged["four"] > 0
    assert line["input_tokens"] + line["output_tokens"] == sum(charged.values())
    assert line["cost_usd"] == pytest.approx(sum(charged.values()) / 1e6)
