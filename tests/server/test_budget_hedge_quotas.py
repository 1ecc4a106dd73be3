"""A ``requests`` quota by model or provider on a chain's hedged race (docs/budgets.md, "one request"):
the request counts once on each provider one of its calls billed on, the race's loser cut after its
prompt was sent included. On the pod's own counters and on a real redis-server's, through the official
OpenAI SDK."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from ..waiting import until
from .budget_policies import metrics
from .budget_walks import access_line, client, store, two_provider_policy
from .callers import leave_once
from .provider_quotas import (
    CHAT,
    COUNTING,
    ONCE,
    failed_chat,
    holding,
    left,
    per_provider_requests,
    request_counts,
    usage_less,
    used_by_provider,
)

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

HEDGED_CHAIN = "{name: chat, target: [small, alt], resilience: {hedge: {after_s: 0.2}}}"


@pytest.mark.parametrize("first_wins", [True, False], ids=["first-wins", "hedge-wins"])
async def test_a_hedged_races_cut_loser_counts_the_request_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, first_wins: bool
) -> None:
    """The chain's call to ``small`` (provider one) has no first byte after 0.2 s: the hedge calls ``alt``
    (provider two); the slower call is cut after its prompt was sent (billed: ``hedge_cut``). The request
    counts once on each provider (the loser's as the winner's) and once in a limit over every provider.
    Before wave 29 the loser's provider counted no request."""
    slow, fast = (600, 3000) if first_wins else (3000, 0)
    first = await fake("one", reply="billing", latency_ms=slow)
    second = await fake("two", reply="billing", latency_ms=fast)
    running = await sidecar(two_provider_policy(first, second, HEDGED_CHAIN, COUNTING, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    assert access_line(running)["hedge_cut"] == ("alt" if first_wins else "small")
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)


async def test_a_hedge_that_wins_without_usage_still_counts_the_request_on_the_losers_provider(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The hedge on ``alt`` (provider two) wins with an answer that reports no usage, so it is charged its
    estimate; the call to ``small`` (provider one) is cut after its prompt was sent. The request counts
    once on each provider and each model, as a race whose winner reported usage (docs/budgets.md, "one
    request"), and each provider's tokens counter is charged its own call: the cut prompt on one, the
    hedge's estimate (its prompt and max_tokens) on two. Checked for a leftover of stop 44, which
    thought such a request counted on the winner's model and provider alone: it does not."""
    first = await fake("one", reply="billing", latency_ms=3000)
    second = await usage_less(aiohttp_server)
    by_model = "{name: by-model, measure: requests, amount: 100, window: month, scope: {by: model}}"
    by_provider_tokens = "{name: tokens, measure: tokens, amount: 100000, window: month, scope: {by: provider}}"
    limits = f"{per_provider_requests(100)}\n    - {by_model}\n    - {by_provider_tokens}"
    running = await sidecar(two_provider_policy(first, second, HEDGED_CHAIN, limits, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    line = access_line(running)
    assert (line["served_model"], line["hedge_cut"]) == ("alt", "small")
    both = {"one": 1.0, "two": 1.0}
    assert await used_by_provider(running, both, "requests") == both
    assert await used_by_provider(running, {"small": 1.0, "alt": 1.0}, "by-model") == {"small": 1.0, "alt": 1.0}
    # the line counts the cut call's prompt estimate and the hedge's estimate (its prompt and max_tokens: its
    # answer reported no usage), marked estimated: what the budgets charge, each provider its own call
    prompt, odd = divmod(line["input_tokens"], 2)
    assert (odd, line["output_tokens"], line["tokens_estimated"]) == (0, CHAT["max_tokens"], True)
    charged = {"one": float(prompt), "two": float(prompt + CHAT["max_tokens"])}
    assert await used_by_provider(running, charged, "tokens") == charged


async def test_a_providers_full_requests_quota_keeps_a_hedge_from_being_made_there(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Provider two's quota is one request a month: the first request's hedge there takes it (cut, its
    prompt billed); the second request's hedge is refused (``alt:budget``, no call to provider two) and
    its first call answers alone. Before wave 29 the hedge held no request on provider two's counter: the
    second request called provider two past its quota."""
    first = await fake("one", reply="billing", latency_ms=600)
    second = await fake("two", reply="billing", latency_ms=3000)
    running = await sidecar(two_provider_policy(first, second, HEDGED_CHAIN, per_provider_requests(1, "two"), store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
        await sdk.chat.completions.create(**CHAT)
    assert "alt:budget" in access_line(running)["attempt_log"]
    assert len(await running.fake_requests(second)) == 1


async def test_a_hedge_refused_in_a_race_its_first_call_billed_counts_no_request_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The chain's call to ``small`` (provider one) has no head within its first-byte timeout (billed: a
    call sent); meanwhile the hedge to ``alt`` (provider two) is answered 500 (refused), and the chain
    goes on to ``big`` (provider two), answered 500 too. The request counts on provider one alone (the
    seeded soak found it, docs/benchmarks.md wave 30: the race's end counted the request where its first
    call billed but did not remember it counted, so the move to ``big`` counted it again on the refused
    hedge's provider)."""
    first = await fake("one", fault="stall=5", fault_rate=1)
    second = await fake("two", fault="status=500", fault_rate=1)
    resilience = "{max_attempts_per_target: 1, hedge: {after_s: 0.2}, timeouts: {first_byte_s: 1}}"
    route = f"{{name: chat, target: [small, alt, big], resilience: {resilience}}}"
    running = await sidecar(two_provider_policy(first, second, route, COUNTING, store))
    line = await failed_chat(running)
    assert line["billed_failures"] == ["small:timeout_first_byte"]
    assert line["attempt_log"] == ["alt:http_500", "small:timeout_first_byte", "big:http_500"]
    counted = {"one": 1.0, "two": 0.0}
    assert await request_counts(running, counted) == (counted, ONCE)


async def test_a_hedge_that_billed_in_a_race_the_first_call_lost_by_refusal_counts_on_the_hedges_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The chain's call to ``small`` (provider one) is answered 500 after 1 s (refused); the hedge to
    ``alt`` (provider two), made at 0.2 s, is answered with a body that is not JSON (billed) first. The
    request counts on provider two alone, where a call billed, not on provider one."""
    first = await fake("one", fault="status=500", fault_rate=1, latency_ms=1000)
    second = await fake("two", fault="malformed", fault_rate=1)
    resilience = "{max_attempts_per_target: 1, hedge: {after_s: 0.2}}"
    route = f"{{name: chat, target: [small, alt], resilience: {resilience}}}"
    running = await sidecar(two_provider_policy(first, second, route, COUNTING, store))
    line = await failed_chat(running)
    assert line["billed_failures"] == ["alt:malformed_response"]
    counted = {"one": 0.0, "two": 1.0}
    assert await request_counts(running, counted) == (counted, ONCE)


async def test_a_race_whose_both_calls_billed_counts_the_request_on_both_providers(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Neither ``small`` (provider one) nor its hedge ``alt`` (provider two) sends a head within the
    first-byte timeout: both calls were sent (billed), the request fails. It counts once on each
    provider, the race's winner's (the first to time out, whose hold the request keeps) included."""
    first = await fake("one", fault="stall=5", fault_rate=1)
    second = await fake("two", fault="stall=5", fault_rate=1)
    resilience = "{max_attempts_per_target: 1, hedge: {after_s: 0.2}, timeouts: {first_byte_s: 1}}"
    route = f"{{name: chat, target: [small, alt], resilience: {resilience}}}"
    running = await sidecar(two_provider_policy(first, second, route, COUNTING, store))
    line = await failed_chat(running)
    assert sorted(line["billed_failures"]) == ["alt:timeout_first_byte", "small:timeout_first_byte"]
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)


RACE_ONCE = "{name: chat, target: [small, alt], resilience: {max_attempts_per_target: 1, hedge: {after_s: 0.2}}}"


async def left_race(
    sidecar: SidecarFactory,
    urls: tuple[str, str],
    store: str,
    request: pytest.FixtureRequest,
    failed: str | None,
    route: str = RACE_ONCE,
    limits: str = COUNTING,
) -> tuple[RunningSidecar, dict[str, Any]]:
    """``route`` over the fakes at ``urls`` (providers one and two): the chat, whose caller leaves once
    target ``failed`` has failed while the other fake holds its call (None: once both fakes hold one);
    the sidecar and the access line, once every settlement landed."""
    running = await sidecar(two_provider_policy(*urls, route, limits, store))
    if failed is None:
        ready = partial(holding, running, dict.fromkeys(urls, 1))
    else:
        ready = partial(failed_while_running, running, failed, urls[1] if failed.startswith("one/") else urls[0])
    return running, await left(running, request, store, ready)


async def failed_while_running(running: RunningSidecar, failed: str, other: str) -> bool:
    """Whether target ``failed`` (its key) has failed while the fake at ``other`` holds a call."""
    snapshot = running.state.targets.snapshot().get(failed)
    return snapshot is not None and snapshot["last_failure"] is not None and bool(await running.fake_requests(other))


async def test_a_caller_leaving_a_race_whose_first_call_billed_a_failure_counts_the_cut_hedge_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """The chain's call to ``small`` (provider one) is answered after 1.5 s with a body that is not JSON
    (billed); the hedge to ``alt`` (provider two), made at 0.2 s, is still waiting for its answer when the
    caller leaves: its prompt was sent, so the request counts on provider two as on provider one. Before
    2026-12-06 the cut hedge's hold was released and its prompt charged on provider one's counters (the
    seeded soak, seed 407: ``provider-requests f1ge`` one short of the access lines)."""
    first = await fake("one", fault="malformed", fault_rate=1, latency_ms=1500)
    second = await fake("two", latency_ms=10_000)
    running, line = await left_race(sidecar, (first, second), store, request, "one/small-1")
    assert (line["billed_failures"], line["attempt_log"]) == (
        ["small:malformed_response"],
        ["small:malformed_response", "alt:cancelled"],
    )
    (hedge,), (primary,) = await running.fake_requests(second), await running.fake_requests(first)
    assert hedge["time"] < primary["ended"]  # a race: the hedge was sent while the first call ran
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)


async def test_a_caller_leaving_a_race_whose_hedge_billed_a_failure_counts_the_hedge_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """The hedge to ``alt`` (provider two), made at 0.2 s, is answered at once with a body that is not
    JSON (billed); the chain's call to ``small`` (provider one) is still waiting for its answer when the
    caller leaves. The request counts on both providers. Before 2026-12-06 the hedge's hold was released
    and its billed failure charged on provider one's counters, none on provider two's."""
    first = await fake("one", latency_ms=10_000)
    second = await fake("two", fault="malformed", fault_rate=1)
    running, line = await left_race(sidecar, (first, second), store, request, "two/alt-1")
    assert (line["billed_failures"], line["attempt_log"]) == (
        ["alt:malformed_response"],
        ["alt:malformed_response", "small:cancelled"],
    )
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)


BOTH_PRICES = "{name: chat, target: [small, big], resilience: {max_attempts_per_target: 1, hedge: {after_s: 0.2}}}"
"""A race of ``small`` (provider one, $1 per Mtok) and ``big`` (provider two, $1,000 per Mtok)."""
DOLLARS = "{name: dollars, measure: usd, amount: 100, window: month, scope: {by: provider}}"


async def test_a_caller_leaving_a_race_with_both_calls_in_flight_charges_each_prompt_on_its_own_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """Both racers stall: the chain's call to ``small`` (provider one) and its hedge to ``big`` (provider
    two) are in flight when the caller leaves. Each provider received the prompt: each is charged it, on
    its own counters at its own model's price, and counts the request; the access line counts both
    prompts (``hedge_cut`` names the hedge), and its ``cost_usd``, the budget's dollars and the metrics
    agree. Before 2026-12-06 one prompt was charged, at ``small``'s price on provider one, provider two
    counted nothing, and the line priced its one prompt as the call recorded last."""
    first, second = await fake("one", latency_ms=10_000), await fake("two", latency_ms=10_000)
    limits = f"{COUNTING}\n    - {DOLLARS}"
    running, line = await left_race(sidecar, (first, second), store, request, None, BOTH_PRICES, limits)
    assert (sorted(line["attempt_log"]), line["hedge_cut"]) == (["big:cancelled", "small:cancelled"], "big")
    prompt, odd = divmod(line["input_tokens"], 2)  # both calls' prompt estimates
    assert (odd, line.get("output_tokens", 0)) == (0, 0)
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)
    dollars = {"one": prompt * 1_000 / 1e9, "two": prompt * 1_000_000 / 1e9}  # each prompt at its own price
    assert await used_by_provider(running, dollars, "dollars") == dollars
    assert line["cost_usd"] == pytest.approx(sum(dollars.values()))
    told = await metrics(running)  # llm_sidecar_cost_usd_total and _tokens_total say the same
    assert told["cost"] == pytest.approx(line["cost_usd"])
    assert (told["input"], told["output"]) == (2 * prompt, 0)


async def test_a_caller_leaving_a_race_with_both_calls_in_flight_counts_both_prompts_without_budgets(
    fake: FakeFactory, sidecar: SidecarFactory
) -> None:
    """The same race on a route without budgets: the access line and the metrics count both calls' prompts,
    each at its own model's price (before 2026-12-06 one prompt, priced as the call recorded last)."""
    first, second = await fake("one", latency_ms=10_000), await fake("two", latency_ms=10_000)
    text = two_provider_policy(first, second, BOTH_PRICES, COUNTING)
    running = await sidecar(text.split("budgets:")[0])
    await leave_once(running, CHAT, partial(holding, running, {first: 1, second: 1}))
    [line] = await until(running.access_lines, lambda lines: len(lines) == 1)
    prompt, odd = divmod(line["input_tokens"], 2)
    assert (odd, line["hedge_cut"]) == (0, "big")
    assert line["cost_usd"] == pytest.approx(prompt * 1e-6 + prompt * 1e-3)
    told = await metrics(running)
    assert (told["cost"], told["input"]) == (pytest.approx(line["cost_usd"]), 2 * prompt)
