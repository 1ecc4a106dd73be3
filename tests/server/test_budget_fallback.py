"""The budget stage when the chain falls back: the reservation moves to the next target before it is
called, checked against every deny limit with the earlier one still held (docs/budgets.md, "Reservation")."""

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

PREMIUM = "{input_per_mtok: 1000, output_per_mtok: 1000}"  # a token: $0.001
CHEAP = "{input_per_mtok: 1, output_per_mtok: 1}"  # a token: $0.000001
CHAT: dict[str, Any] = {"model": "chat", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 20}


async def refused_fallback(running: RunningSidecar, fallback_url: str) -> tuple[str, str]:
    """The 503's message and the last attempt of a request whose fallback (at ``fallback_url``) was never
    called."""
    client = openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="app-key", max_retries=0)
    async with client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(**CHAT)
    assert raised.value.status_code == 503
    assert await running.fake_requests(fallback_url) == []
    access = [line for line in running.log_lines() if line.get("event") == "access"]
    return raised.value.message, access[0]["attempt_log"][-1]


def policy(first: str, second: str, chain: str, limit: str) -> str:
    return (
        "version: 1\nproviders:\n"
        + provider_block("one", first)
        + provider_block("two", second)
        + "models:\n"
        + f"  small: {{provider: one, model: small-1, price: {CHEAP}}}\n"
        + f"  big: {{provider: two, model: big-1, price: {PREMIUM}}}\n"
        + f"  alt: {{provider: two, model: alt-1, price: {CHEAP}}}\n"
        + f"routes:\n  - {{name: chat, target: {chain}}}\n"
        + f"budgets:\n  limits:\n    - {limit}\n"
    )


async def test_a_fallback_to_a_pricier_target_is_checked_before_its_call(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The cheap first target fails (503) with a dollar budget that fits its reservation but not the
    premium fallback's: the premium target is skipped without a call (attempt ``big:budget``) and
    nothing is spent: a fallback never overspends a deny limit, however much pricier it is."""
    broken, premium = await fake("one", fault="status=503", fault_rate=1), await fake("two")
    limit = "{name: team-month, measure: usd, amount: 0.01, window: month}"
    running = await sidecar(policy(broken, premium, "[small, big]", limit))
    message, last = await refused_fallback(running, premium)
    assert "every target of route 'chat' failed" in message
    assert last == "big:budget"
    assert running.state.budgets.ledger is not None
    (row,) = await running.state.budgets.ledger.status()
    assert row["used"] == 0


async def test_a_fallback_is_reserved_before_the_earlier_reservation_is_released(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A tokens budget of exactly one reservation: the first target is admitted and fails (503); the
    fallback, which alone would fit, is skipped without a call, since its reservation is checked while
    the first target's is still held (the move keeps the old one when the new one is refused). The
    caller gets the 503; a budget near its end can refuse a fallback that fits (docs/budgets.md)."""
    broken, other = await fake("one", fault="status=503", fault_rate=1), await fake("two")
    shown = policy(
        "http://127.0.0.1:1",
        "http://127.0.0.1:2",
        "[small, alt]",
        "{name: t, measure: tokens, amount: 1e9, window: month}",
    )
    request = describe_request("/v1/chat/completions", {}, {}, orjson.loads(orjson.dumps(CHAT)), app="")
    (row,) = explain_report(load_policy_bytes(shown.encode(), "p.yaml"), request)["budgets"]
    limit = f"{{name: t, measure: tokens, amount: {row['reserves']:g}, window: month}}"
    running = await sidecar(policy(broken, other, "[small, alt]", limit))
    _, last = await refused_fallback(running, other)
    assert last == "alt:budget"


async def test_a_hedged_race_holds_one_reservation_for_its_two_calls(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """A hedge (the first call has no first byte after 0.2 s) moves the reservation to the second call
    like a fallback: while both calls are in flight the counters hold one reservation, not two. The
    loser's prompt is charged when the race ends (``test_budget.py``); until then it is not held, so
    hedged requests in flight can pass a limit by one prompt each (reported, not changed)."""
    first, second = await fake("one", latency_ms=3000), await fake("two", latency_ms=3000)
    route = "{name: chat, target: [small, alt], resilience: {hedge: {after_s: 0.2}}}"
    limit = "{name: t, measure: tokens, amount: 1000000, window: month}"
    text = policy(first, second, "[small, alt]", limit).replace("{name: chat, target: [small, alt]}", route)
    request = describe_request("/v1/chat/completions", {}, {}, orjson.loads(orjson.dumps(CHAT)), app="")
    (row,) = explain_report(load_policy_bytes(text.encode(), "p.yaml"), request)["budgets"]
    running = await sidecar(text)
    client = openai.AsyncOpenAI(base_url=running.url + "/v1", api_key="app-key", max_retries=0)
    async with client:
        call = asyncio.ensure_future(client.chat.completions.create(**CHAT))
        for _ in range(100):  # until the hedge has started (each fake's latency holds its answer 3 s)
            if await running.fake_requests(second):
                break
            await asyncio.sleep(0.02)
        assert await running.fake_requests(first) != [] and await running.fake_requests(second) != []
        assert running.state.budgets.ledger is not None
        (held,) = await running.state.budgets.ledger.status()
        await call
    assert held["used"] == row["reserves"]
