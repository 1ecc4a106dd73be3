"""The budget stage on an ensemble route (docs/budgets.md, "Reservation"; docs/ensembles.md): every call
the request may make at once is reserved at its own model's price and output maximum, a member that
falls back settles its failed call before its fallback is reserved, and a fallback the budget refuses
is skipped (the member fails, the vote goes on). On the pod's own counters and on a real
redis-server's, through the official OpenAI SDK."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sidecar.explain import explain_report
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .budget_walks import access_line, client, store, two_provider_policy, use

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's


CHAT: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 5}
JUDGED = "{name: chat, ensemble: {members: [small, alt], strategy: judge, judge: {target: big}}}"
PREMIUM_MEMBER = "{name: chat, ensemble: {members: [small, big], early_quorum: false}}"
FALLING_BACK = "{name: chat, ensemble: {members: [{target: [small, alt]}, alt], early_quorum: false}}"


def policy(first: str, second: str, route: str, limit: str, store: str = "") -> str:
    return two_provider_policy(first, second, route, limit, store)


def usd(amount: float) -> str:
    return f"{{name: team-month, measure: usd, amount: {amount!r}, window: month}}"


def tokens(amount: int) -> str:
    return f"{{name: team-month, measure: tokens, amount: {amount}, window: month}}"


def shown(route: str, limit: str) -> float:
    """What ``llm-sidecar explain`` says the chat reserves on ``route`` (in ``limit``'s measure)."""
    text = policy("http://127.0.0.1:1", "http://127.0.0.1:2", route, limit)
    request = describe_request("/v1/chat/completions", {}, {}, orjson.loads(orjson.dumps(CHAT)), app="")
    (row,) = explain_report(load_policy_bytes(text.encode(), "p.yaml"), request)["budgets"]
    return float(row["reserves"])


async def test_a_premium_judge_is_reserved_at_its_own_price(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Two cheap members and a premium judge, with a dollar limit of exactly what explain says the
    request reserves: the request is admitted, the judge is asked, and what every call cost stays within
    the limit (before 2026-12-04 each call was reserved at the first member's price: the judge's call
    cost a hundred times the reservation, and concurrent requests passed a deny limit by that much)."""
    first, second = await fake("one", reply="billing"), await fake("two", reply="bug")
    amount = shown(JUDGED, usd(1000))
    running = await sidecar(policy(first, second, JUDGED, usd(amount), store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    line = access_line(running)
    assert len(await running.fake_requests(second)) == 2  # the member alt and the judge
    assert "decided=judge" in line["ensemble"]  # judge, or judge-fallback: its reply is no verdict
    assert await use(running, line["cost_usd"]) == pytest.approx(line["cost_usd"])
    assert line["cost_usd"] <= amount


async def test_a_premium_member_is_reserved_at_its_own_price(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A cheap member and a premium one: the reservation is each call at its own price, explain's figure.
    With exactly that left both members are called (before 2026-12-04 the reservation was moved whole to
    the premium member, both calls priced as it: the premium member was skipped, ``big:budget``); a
    millionth of a dollar less and the request is refused before any call."""
    first, second = await fake("one"), await fake("two")
    amount = shown(PREMIUM_MEMBER, usd(1000))
    running = await sidecar(policy(first, second, PREMIUM_MEMBER, usd(amount), store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    line = access_line(running)
    assert sorted(line["attempt_log"]) == ["big:ok", "small:ok"]
    assert await use(running, line["cost_usd"]) == pytest.approx(line["cost_usd"]) and line["cost_usd"] <= amount
    first, second = await fake("three"), await fake("four")
    running = await sidecar(policy(first, second, PREMIUM_MEMBER, usd(round(amount - 0.000001, 9)), store))
    async with client(running) as sdk:
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(**CHAT)
    assert await running.fake_requests(first) == [] and await running.fake_requests(second) == []


async def billed_charge(fake: FakeFactory, sidecar: SidecarFactory) -> int:
    """The tokens the falling-back member's broken call is charged (``billed.py``), read from a probe
    sidecar whose limit is ample: what the request used less the answer the caller got."""
    broken, other = await fake("probe-one", fault="malformed", fault_rate=1), await fake("probe-two")
    route = FALLING_BACK.replace("[small, alt]", "[small]")[:-1] + ", resilience: {max_attempts_per_target: 1}}"
    probe = await sidecar(policy(broken, other, route, tokens(10**6)))
    async with client(probe) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    line = access_line(probe)
    assert line["billed_failures"] == ["small:malformed_response"]
    await asyncio.sleep(0.05)
    return int(await use(probe)) - answer.usage.total_tokens


@pytest.mark.parametrize("room", [0, -1], ids=["fits", "one-token-short"])
async def test_a_members_fallback_is_reserved_after_its_failed_call_is_settled(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, room: int
) -> None:
    """A member's first target answers a broken body (billed), the other member is in flight or done. With
    room for that charge, the other member's reservation and the fallback's, the fallback is admitted
    against what is really left and answers; one token less and it is skipped without a call
    (``alt:budget``): that member fails and the vote goes on with the other (before 2026-12-04 the whole
    reservation was moved to the fallback, every call priced again, with the failed call's estimate
    still held: a fallback that fitted was refused). Nothing is charged twice, nothing escapes the limit."""
    billed = await billed_charge(fake, sidecar)
    one_call = int(shown(FALLING_BACK, tokens(10**6))) // 2
    broken, other = await fake("one", fault="malformed", fault_rate=1), await fake("two")
    amount = billed + 2 * one_call + room
    running = await sidecar(policy(broken, other, FALLING_BACK, tokens(amount), store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    line = access_line(running)
    assert line["billed_failures"] == ["small:malformed_response"]
    called = len(await running.fake_requests(other))
    if room < 0:
        assert "alt:budget" in line["attempt_log"] and called == 1
        spent = billed + answer.usage.total_tokens
    else:
        assert "alt:budget" not in line["attempt_log"] and called == 2
        spent = billed + 2 * answer.usage.total_tokens
    assert await use(running, spent) == spent <= amount


async def cost_metric(running: RunningSidecar) -> float:
    async with aiohttp.ClientSession() as session, session.get(running.url + "/metrics") as response:
        text = await response.text()
    families = text_string_to_metric_families(text)
    return sum(s.value for f in families for s in f.samples if s.name == "llm_sidecar_cost_usd_total")


@pytest.mark.parametrize("outcome", ["answered", "failed"])
async def test_an_ensembles_cost_agrees_in_the_access_line_the_metric_and_the_budget(
    fake: FakeFactory, sidecar: SidecarFactory, outcome: str
) -> None:
    """An ensemble whose first member's first call is billed and then falls back, a premium judge (or, when
    every call breaks, no answer: a 502): the access line's ``cost_usd``, ``llm_sidecar_cost_usd_total``
    and the dollar budget's use are the same dollars, every call counted once."""
    broken = await fake("one", fault="malformed", fault_rate=1)
    other = (
        await fake("two", reply="bug") if outcome == "answered" else await fake("two", fault="malformed", fault_rate=1)
    )
    route = "{name: chat, ensemble: {members: [{target: [small, big]}, alt], strategy: judge, judge: {target: big}}}"
    running = await sidecar(policy(broken, other, route, usd(1000)))
    async with client(running) as sdk:
        if outcome == "answered":
            await sdk.chat.completions.create(**CHAT)
        else:
            with pytest.raises(openai.APIStatusError):
                await sdk.chat.completions.create(**CHAT)
    line = access_line(running)
    assert line["cost_usd"] > 0
    assert await use(running, line["cost_usd"]) == pytest.approx(line["cost_usd"])
    assert await cost_metric(running) == pytest.approx(line["cost_usd"]), line


async def test_members_falling_back_at_once_each_settle_and_hold_their_own(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Two members whose first calls break (billed) at the same moment and fall back at once: each failed
    call is charged once, each fallback held for its member, and once the answer is out the use is what
    the calls cost, nothing left held (before 2026-12-04, with Redis, the holds of nothing a fallback
    makes on a counter the request already counts in failed the settlement script, ``HINCRBY ... -0``,
    midway: the settlements after it in the batch were lost)."""
    billed = await billed_charge(fake, sidecar)
    broken, other = await fake("one", fault="malformed", fault_rate=1), await fake("two")
    twice = "[{target: [small, alt]}, {target: [small, alt], name: again}]"
    route = f"{{name: chat, ensemble: {{members: {twice}, early_quorum: false}}}}"
    running = await sidecar(policy(broken, other, route, tokens(10**6), store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    assert access_line(running)["billed_failures"] == ["small:malformed_response"] * 2
    spent = 2 * billed + 2 * answer.usage.total_tokens
    await asyncio.sleep(0.1)
    assert await use(running, spent) == spent
