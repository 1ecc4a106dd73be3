"""Model and provider quotas on an ensemble route (docs/budgets.md, "Reservation"): every call the
request makes at once is checked against its own target's quotas at admission, in one reservation, and
settled on them at the end with its own cost. On the pod's own counters and on a real redis-server's,
through the official OpenAI SDK."""

from __future__ import annotations

from functools import partial
from typing import Any

import openai
import orjson
import pytest

from sidecar.explain import explain_report
from sidecar.policy import load_policy_bytes
from sidecar.request_facts import describe_request

from ..conftest import FakeFactory, RunningSidecar, SidecarFactory
from .budget_walks import access_line, client, store, two_provider_policy
from .provider_quotas import (
    CHAT,
    COUNTING,
    ONCE,
    ONE_REQUEST,
    holding,
    left,
    per_provider_requests,
    request_counts,
    usage_less,
    used_by_provider,
)

__all__ = ["store"]  # the store fixture: the pod's own counters, or a real redis-server's

TWO_PROVIDERS = "{name: chat, ensemble: {members: [small, alt], early_quorum: false}}"


def per_provider(amount: int, only: str = "", name: str = "per-provider") -> str:
    """A monthly token quota per provider (``only``: that provider's, the others exempt)."""
    scope = f"{{by: provider, values: [{only}], others: exempt}}" if only else "{by: provider}"
    return f"{{name: {name}, measure: tokens, amount: {amount}, window: month, scope: {scope}}}"


async def test_a_member_over_its_providers_quota_is_dropped_and_the_other_answers(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Provider two's quota cannot hold its member's call: admission drops that member (``alt:budget``,
    no call to provider two), the member on provider one answers alone, and provider two's counter is
    untouched (before 2026-12-05 the ensemble was held on its first target's counters alone: the call
    to provider two was made past its quota, and charged to provider one's)."""
    first, second = await fake("one", reply="billing"), await fake("two", reply="billing")
    running = await sidecar(two_provider_policy(first, second, TWO_PROVIDERS, per_provider(1, "two"), store))
    async with client(running) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(**CHAT)
    assert raw.parse().choices[0].message.content == "billing"
    line = access_line(running)
    assert "alt:budget" in line["attempt_log"] and "small:ok" in line["attempt_log"]
    assert raw.headers["x-sidecar-ensemble"].endswith("members=small:1,alt:failed")
    assert await running.fake_requests(second) == []
    assert await used_by_provider(running, {"two": 0.0}) == {"two": 0.0}


async def test_every_member_over_its_providers_quota_is_a_429(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Each provider's quota refuses its member's call: no member is left, the request is refused before
    any call with a 429 naming the quota (as a chain whose every target is over its quota)."""
    first, second = await fake("one"), await fake("two")
    running = await sidecar(two_provider_policy(first, second, TWO_PROVIDERS, per_provider(1), store))
    async with client(running) as sdk:
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(**CHAT)
    assert "every target is over its quota" in str(refused.value)
    assert "per-provider" in str(refused.value)
    assert await running.fake_requests(first) == [] and await running.fake_requests(second) == []


async def test_each_providers_quota_is_settled_with_its_own_calls_cost(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """One member on each provider, both answering: each provider's counter ends at its own call's tokens
    (the same reply to the same prompt: the answer's usage each), their sum the request's, nothing left
    held (before 2026-12-05 both calls were settled on the first target's provider: one at twice that,
    two at nothing)."""
    first, second = await fake("one", reply="billing"), await fake("two", reply="billing")
    running = await sidecar(two_provider_policy(first, second, TWO_PROVIDERS, per_provider(10**6), store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    call = float(answer.usage.total_tokens)
    assert await used_by_provider(running, {"one": call, "two": call}) == {"one": call, "two": call}


async def test_a_member_over_its_first_targets_quota_falls_back_on_its_own_providers_counters(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The first member's first target is on provider one, whose quota cannot hold it: admission skips
    that target (``small:budget``), the member falls back to ``alt`` on provider two, held for it alone,
    and both calls end on provider two's counter, each its own tokens (before 2026-12-05 provider one's
    quota did not see the call: it was made, and both settled on provider one's counter)."""
    first, second = await fake("one", reply="billing"), await fake("two", reply="billing")
    route = "{name: chat, ensemble: {members: [{target: [small, alt]}, alt], early_quorum: false}}"
    limits = per_provider(1, "one", "provider-one") + "\n    - " + per_provider(10**6)
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    line = access_line(running)
    assert sorted(line["attempt_log"]) == ["alt:ok", "alt:ok", "small:budget"]
    assert await running.fake_requests(first) == []
    both = {"one": 0.0, "two": 2.0 * answer.usage.total_tokens}
    assert await used_by_provider(running, both) == both
    assert await used_by_provider(running, {"one": 0.0}, "provider-one") == {"one": 0.0}


async def test_a_members_answer_without_usage_is_charged_its_estimate_on_its_provider(
    aiohttp_server: Any, fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """The member on provider one answers without usage: its provider's counter is charged that call's
    estimate (what explain says it reserves there), as any answer without usage is; provider two's its
    own call's tokens."""
    second_call = await one_call_tokens(fake, sidecar)  # first: a sidecar started later reloads the policy file
    first, second = await usage_less(aiohttp_server), await fake("two", reply="billing")
    limits = per_provider(10**6)
    running = await sidecar(two_provider_policy(first, second, TWO_PROVIDERS, limits, store))
    async with client(running) as sdk:
        raw = await sdk.chat.completions.with_raw_response.create(**CHAT)
    assert raw.headers["x-sidecar-ensemble"].endswith("members=small:1,alt:1")
    estimate = explained(TWO_PROVIDERS, limits)[("per-provider", "one")]
    expected = {"one": estimate, "two": second_call}
    assert await used_by_provider(running, expected) == expected


async def one_call_tokens(fake: FakeFactory, sidecar: SidecarFactory) -> float:
    """The tokens of one member's call to a fake replying "billing", read from a probe sidecar."""
    first, second = await fake("probe-one", reply="billing"), await fake("probe-two", reply="billing")
    probe = await sidecar(two_provider_policy(first, second, TWO_PROVIDERS, per_provider(10**6)))
    async with client(probe) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    return float(answer.usage.total_tokens)


def explained(route: str, limits: str) -> dict[tuple[str, str], float]:
    """What ``llm-sidecar explain`` says the chat reserves, per (limit, scope value)."""
    text = two_provider_policy("http://127.0.0.1:1", "http://127.0.0.1:2", route, limits)
    request = describe_request("/v1/chat/completions", {}, {}, orjson.loads(orjson.dumps(CHAT)), app="")
    rows = explain_report(load_policy_bytes(text.encode(), "p.yaml"), request)["budgets"]
    return {(row["limit"], row["value"]): float(row["reserves"]) for row in rows}


def test_explain_shows_each_providers_share_of_an_ensemble() -> None:
    """``llm-sidecar explain`` on an ensemble whose members and judge span two providers: a provider quota
    reserves the estimates of the calls on that provider only (the judge's with provider two's member),
    a request limit every call's."""
    route = "{name: chat, ensemble: {members: [small, alt], strategy: judge, judge: {target: big}}}"
    limits = per_provider(10**6) + "\n    - {name: all, measure: tokens, amount: 1000000, window: month}"
    reserves = explained(route, limits)
    assert reserves[("per-provider", "one")] + reserves[("per-provider", "two")] == reserves[("all", "*")]
    assert 0 < reserves[("per-provider", "one")] < reserves[("per-provider", "two")]


async def test_every_members_first_target_over_its_quota_falls_back_at_admission(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Both members' first target is on provider one, whose quota cannot hold a call: admission reserves
    each member's call on the next target of its chain that fits (``alt``, ``big`` on provider two), as
    a chain route walks its fallbacks, and the request is answered without a call to provider one
    (before 2026-12-05 it was a 429: no member's first target fit)."""
    first, second = await fake("one", reply="billing"), await fake("two", reply="billing")
    route = "{name: chat, ensemble: {members: [{target: [small, alt]}, {target: [small, big]}], early_quorum: false}}"
    limits = per_provider(1, "one", "provider-one")
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content == "billing"
    assert sorted(access_line(running)["attempt_log"]) == ["alt:ok", "big:ok", "small:budget", "small:budget"]
    assert await running.fake_requests(first) == []
    assert await used_by_provider(running, {"one": 0.0}, "provider-one") == {"one": 0.0}


async def test_too_few_members_within_their_quotas_for_min_members_is_a_429(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """``min_members: 3``; provider one's quota refuses two members' first target, and only one of them has
    a fallback that fits (``big``): two members left cannot make the vote, so the request is refused
    before any call (429 naming the quota and ``min_members``; before 2026-12-05 the two were called and
    the caller got a 502 after paying for them)."""
    first, second = await fake("one"), await fake("two")
    members = "[{target: [small, big]}, small, alt]"
    route = f"{{name: chat, ensemble: {{members: {members}, min_members: 3, early_quorum: false}}}}"
    running = await sidecar(two_provider_policy(first, second, route, per_provider(1, "one", "provider-one"), store))
    async with client(running) as sdk:
        with pytest.raises(openai.RateLimitError) as refused:
            await sdk.chat.completions.create(**CHAT)
    assert "min_members is 3" in str(refused.value) and "provider-one" in str(refused.value)
    assert await running.fake_requests(first) == [] and await running.fake_requests(second) == []


@pytest.mark.parametrize("first_wins", [True, False], ids=["first-wins", "hedge-wins"])
async def test_a_members_hedged_race_is_settled_on_the_targets_it_called(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, first_wins: bool
) -> None:
    """The first member's call to ``small`` (provider one) has no first byte after 0.2 s: its hedge calls
    ``alt`` (provider two). The call cut in flight is charged its prompt on its own provider's counter,
    the answer on the provider that gave it (before 2026-12-05 both were settled on the member's held
    target, provider one: provider two's quota never saw the hedge's call)."""
    slow, fast = (600, 3000) if first_wins else (3000, 0)
    first, second = (
        await fake("one", reply="billing", latency_ms=slow),
        await fake("two", reply="billing", latency_ms=fast),
    )
    route = (
        "{name: chat, ensemble: {members: [{target: [small, alt]}, small], early_quorum: false},"
        " resilience: {hedge: {after_s: 0.2}}}"
    )
    limits = per_provider(10**6)
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    call = float(answer.usage.total_tokens)  # each answer's: the same reply to the same prompt
    cut = explained(TWO_PROVIDERS, limits)[("per-provider", "one")] - CHAT["max_tokens"]  # a prompt's estimate
    expected = {"one": 2 * call, "two": cut} if first_wins else {"one": cut + call, "two": call}
    assert await used_by_provider(running, expected) == expected


async def test_a_members_hedged_race_loser_is_charged_its_prompt_once(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A member's hedge cut after its prompt was sent: the access line's ``cost_usd`` and the budget count
    that prompt once (before 2026-12-05 the race charged it and the ensemble's end charged it again, as a
    call cut in flight)."""
    first, second = await fake("one", reply="billing", latency_ms=600), await fake("two", latency_ms=3000)
    route = "{name: chat, ensemble: {members: [{target: [small, alt]}, small]}, resilience: {hedge: {after_s: 0.2}}}"
    limits = "{name: all, measure: tokens, amount: 1000000, window: month}"
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    cut = explained(TWO_PROVIDERS, per_provider(10**6))[("per-provider", "one")] - CHAT["max_tokens"]
    spent = 2 * answer.usage.total_tokens + cut  # two answers and the cut call's prompt
    assert await used_by_provider(running, {"*": spent}, "all") == {"*": spent}
    assert access_line(running)["cost_usd"] == pytest.approx(spent * 1e-6)  # every model: $1 per Mtok


async def test_a_members_hedged_race_loser_is_named_on_the_access_line(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Both members race a hedge on ``alt`` after 0.2 s and ``small`` wins each race: the access line's
    ``hedge_cut`` names each member's cut call, as a plain route's names its own (before 2026-12-05 an
    ensemble's line had none), and its ``cost_usd`` counts both cut prompts, as the budget does."""
    first, second = await fake("one", reply="billing", latency_ms=600), await fake("two", latency_ms=3000)
    route = (
        "{name: chat, ensemble: {members: [{target: [small, alt]}, {target: [small, alt]}], early_quorum: false},"
        " resilience: {hedge: {after_s: 0.2}}}"
    )  # no early quorum: the first member's answer does not cancel the second's race
    limits = "{name: all, measure: tokens, amount: 1000000, window: month}"
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None
    line = access_line(running)
    assert line["hedge_cut"] == "alt, alt"
    cut = explained(TWO_PROVIDERS, per_provider(10**6))[("per-provider", "one")] - CHAT["max_tokens"]
    spent = 2 * answer.usage.total_tokens + 2 * cut  # two answers and the two cut calls' prompts
    assert await used_by_provider(running, {"*": spent}, "all") == {"*": spent}
    assert line["cost_usd"] == pytest.approx(spent * 1e-6)  # every model: $1 per Mtok


FALLS_TO_TWO = "{name: chat, ensemble: {members: [{target: [small, alt]}, small], early_quorum: false}}"
"""Both members' first target on provider one; the first member's fallback on provider two."""


@pytest.mark.parametrize("route", [FALLS_TO_TWO, "{name: chat, target: [small, alt]}"], ids=["ensemble", "chain"])
async def test_a_provider_whose_calls_billed_nothing_counts_no_request(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, route: str
) -> None:
    """Provider one answers 503 to every call (a refusal: nothing billed); provider two answers. A
    ``requests`` quota by provider counts the request on provider two only, on an ensemble (both members'
    first target on provider one, the first member's fallback on provider two) as on a chain route, whose
    refused call counts no request (docs/budgets.md: a call that billed nothing is released and does not
    count as a request). Before 2026-12-05 the ensemble counted one on provider one too, where the second
    member's refused call still held its share (and none when the member holding it had moved on)."""
    first, second = await fake("one", fault="status=503", fault_rate=1), await fake("two", reply="billing")
    running = await sidecar(two_provider_policy(first, second, route, per_provider_requests(100), store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.choices[0].message.content == "billing"
    assert len(await running.fake_requests(first)) >= 1
    counted = {"one": 0.0, "two": 1.0}
    assert await used_by_provider(running, counted, "requests") == counted


BOTH_FALL_TO_TWO = (
    "{name: chat, ensemble: {members: [{target: [small, alt]}, {target: [small, alt]}], early_quorum: false}}"
)


@pytest.mark.parametrize("route", [BOTH_FALL_TO_TWO, "{name: chat, target: [small, alt]}"], ids=["ensemble", "chain"])
async def test_a_provider_whose_call_billed_counts_the_request_once(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, route: str
) -> None:
    """Provider one accepts every call and sends a body that is not JSON (a call accepted, then failed:
    its prompt billed); the ensemble's members, or the chain, fall back to provider two. The request
    counts once on each provider it billed on: one and two (each once, whatever the number of calls),
    and once in a limit over every provider. Before wave 28 the chain counted it on provider one alone
    (the request was counted by its billed failure, its answer's provider left uncounted)."""
    first, second = await fake("one", fault="malformed", fault_rate=1), await fake("two", reply="billing")
    limits = f"{per_provider_requests(100)}\n    - {ONE_REQUEST}"
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
    assert access_line(running)["billed_failures"]
    both = {"one": 1.0, "two": 1.0}
    assert await used_by_provider(running, both, "requests") == both
    assert await used_by_provider(running, {"*": 1.0}, "all-requests") == {"*": 1.0}


async def test_a_providers_full_requests_quota_refuses_a_chains_fallback_after_a_billed_call(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """A chain whose first provider bills a failure (a body that is not JSON) and whose fallback is on
    provider two, whose quota is one request a month: the first request's fallback takes it; the second
    request's is refused (``alt:budget``, no call to provider two) and the caller gets the first call's
    failure (before wave 28 a fallback after a billed call held no request on its provider's counter: the
    second request called provider two past its quota)."""
    first, second = await fake("one", fault="malformed", fault_rate=1), await fake("two", reply="billing")
    limits = per_provider_requests(1, "two")
    running = await sidecar(two_provider_policy(first, second, "{name: chat, target: [small, alt]}", limits, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
        with pytest.raises(openai.APIStatusError):
            await sdk.chat.completions.create(**CHAT)
    assert "alt:budget" in access_line(running)["attempt_log"]
    assert len(await running.fake_requests(second)) == 1


async def test_a_providers_full_requests_quota_refuses_a_members_fallback_there(
    fake: FakeFactory, sidecar: SidecarFactory, store: str
) -> None:
    """Provider two's quota is one request a month: the first request's fallback to it takes it; the
    second request's is refused (``alt:budget``, no call): the member fails and, every member failed,
    the caller gets 502 (before 2026-12-05 a member's fallback took no request on its provider's counter:
    every request called provider two past its quota)."""
    first, second = await fake("one", fault="status=503", fault_rate=1), await fake("two", reply="billing")
    limits = per_provider_requests(1, "two")
    running = await sidecar(two_provider_policy(first, second, FALLS_TO_TWO, limits, store))
    async with client(running) as sdk:
        await sdk.chat.completions.create(**CHAT)
        with pytest.raises(openai.InternalServerError):
            await sdk.chat.completions.create(**CHAT)
    assert "alt:budget" in access_line(running)["attempt_log"]
    assert len(await running.fake_requests(second)) == 1


PRICED = "{name: chat, ensemble: {members: [small, big], early_quorum: false}}"
"""One member on provider one ($1 per Mtok), one on provider two ($1,000 per Mtok)."""
COUNTED = f"{COUNTING}\n    - {{name: dollars, measure: usd, amount: 100, window: month, scope: {{by: provider}}}}"
"""``COUNTING`` and a dollar limit by provider: where each call is charged, and at which price."""


def prompt_estimate() -> int:
    """The chat's prompt estimate (what explain reserves on provider one, less the output maximum)."""
    return int(explained(TWO_PROVIDERS, per_provider(10**6))[("per-provider", "one")]) - CHAT["max_tokens"]


def dollars(one: float, two: float) -> dict[str, float]:
    """The dollar limit's use by provider of ``one`` tokens at $1 per Mtok and ``two`` at $1,000, as the
    store counts them (nano-dollars)."""
    return {"one": one * 1_000 / 1e9, "two": two * 1_000_000 / 1e9}


def answered(running: RunningSidecar, key: str) -> bool:
    """Whether target ``key``'s call has ended (its bulkhead slot given back) after it was made."""
    return running.state.targets.snapshot()[key]["bulkhead"]["in_flight"] == 0


async def test_a_caller_leaving_an_ensemble_charges_each_members_prompt_on_its_own_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """Both members stall (``small`` on provider one, ``big`` on provider two) and the caller leaves: each
    provider received its member's prompt, so each is charged it on its own counters at its own model's
    price and counts the request, and the access line's ``cost_usd`` is what the budget charged."""
    first, second = await fake("one", latency_ms=10_000), await fake("two", latency_ms=10_000)
    running = await sidecar(two_provider_policy(first, second, PRICED, COUNTED, store))
    line = await left(running, request, store, partial(holding, running, {first: 1, second: 1}), compact=True)
    prompt = prompt_estimate()
    assert (sorted(line["attempt_log"]), line["input_tokens"]) == (["big:cancelled", "small:cancelled"], 2 * prompt)
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)
    spent = dollars(prompt, prompt)
    assert await used_by_provider(running, spent, "dollars") == spent
    assert line["cost_usd"] == pytest.approx(sum(spent.values()))


async def test_a_caller_leaving_an_ensemble_after_one_answer_charges_it_and_the_other_prompt(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """``small`` (provider one) has answered, ``big`` (provider two) stalls when the caller leaves: provider
    one is charged the answer's usage, provider two the prompt it received, each at its own price, and
    each counts the request; the access line's tokens and ``cost_usd`` are the budget's."""
    first, second = await fake("one", reply="billing"), await fake("two", latency_ms=10_000)
    running = await sidecar(two_provider_policy(first, second, PRICED, COUNTED, store))

    async def ready() -> bool:
        return await holding(running, {first: 1, second: 1}) and answered(running, "one/small-1")

    line = await left(running, request, store, ready, compact=True)
    assert sorted(line["attempt_log"]) == ["big:cancelled", "small:ok"]
    prompt = prompt_estimate()
    answer = line["input_tokens"] + line["output_tokens"] - prompt  # the answer's usage: the line's, less the cut
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)
    spent = dollars(answer, prompt)
    assert await used_by_provider(running, spent, "dollars") == spent
    assert line["cost_usd"] == pytest.approx(sum(spent.values()))


RACING_MEMBERS = (
    "{name: chat, ensemble: {members: [{target: [small, big]}, {target: [small, big]}], early_quorum: false},"
    " resilience: {max_attempts_per_target: 1, hedge: {after_s: 0.2}}}"
)
"""Two members, each racing a hedge on ``big`` (provider two) when ``small`` (provider one) has no first
byte after 0.2 s."""


async def test_a_caller_leaving_members_races_with_both_calls_in_flight_charges_each_prompt_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest
) -> None:
    """Every call stalls: each member's call to ``small`` and its hedge to ``big`` are in flight when the
    caller leaves. Each call's prompt is charged on its own provider at its own model's price (provider
    two: the two hedges' prompts at ``big``'s), each provider counts the request once, the access line
    names both hedges in ``hedge_cut`` and its ``cost_usd`` is the budget's. Before 2026-12-06 each
    member's two prompts were charged on provider one's counters, provider two counted nothing."""
    first, second = await fake("one", latency_ms=10_000), await fake("two", latency_ms=10_000)
    running = await sidecar(two_provider_policy(first, second, RACING_MEMBERS, COUNTED, store))
    line = await left(running, request, store, partial(holding, running, {first: 2, second: 2}), compact=True)
    assert (line["hedge_cut"], line["input_tokens"]) == ("big, big", 4 * prompt_estimate())
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)
    spent = dollars(2 * prompt_estimate(), 2 * prompt_estimate())
    assert await used_by_provider(running, spent, "dollars") == spent
    assert line["cost_usd"] == pytest.approx(sum(spent.values()))


@pytest.mark.parametrize("failed", ["one/small-1", "two/big-1"], ids=["first-failed", "hedge-failed"])
async def test_a_caller_leaving_members_races_after_one_call_billed_a_failure_charges_each_on_its_provider(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, request: pytest.FixtureRequest, failed: str
) -> None:
    """In each member's race one call was answered with a body that is not JSON (billed: ``small``'s after
    1.5 s, or the hedge ``big``'s at once) and the other is in flight when the caller leaves: the failed
    calls are charged on their own provider, the calls cut in flight their prompts on theirs, each
    provider counts the request once, and the access line's ``cost_usd`` is the budget's dollars (the
    rule of a chain's race since 2026-12-06, gap35, checked here for a member's race)."""
    first_failed = failed.startswith("one/")
    malformed, stalling = {"fault": "malformed", "fault_rate": 1}, {"latency_ms": 10_000}
    one = await fake("one", **({**malformed, "latency_ms": 1500} if first_failed else stalling))
    two = await fake("two", **(stalling if first_failed else malformed))
    running = await sidecar(two_provider_policy(one, two, RACING_MEMBERS, COUNTED, store))

    async def ready() -> bool:
        snapshot = running.state.targets.snapshot().get(failed)
        calls = [len(await running.fake_requests(url)) for url in (one, two)]
        return snapshot is not None and snapshot["last_failure"] is not None and calls == [2, 2]

    line = await left(running, request, store, ready, compact=True)
    assert len(line["billed_failures"]) == 2
    cut = 2 * prompt_estimate()  # the two calls cut in flight, on the stalled fake's provider
    both = {"one": 1.0, "two": 1.0}
    assert await request_counts(running, both) == (both, ONCE)
    seen = await used_by_provider(running, {}, "dollars")
    assert seen["two" if first_failed else "one"] == dollars(cut, cut)["two" if first_failed else "one"]
    assert line["cost_usd"] == pytest.approx(sum(seen.values()))


@pytest.mark.parametrize("fault", ["context", "status=400"], ids=["context-overflow", "bad-request"])
async def test_a_member_whose_provider_refused_the_request_with_a_4xx_is_charged_nothing(
    fake: FakeFactory, sidecar: SidecarFactory, store: str, fault: str
) -> None:
    """Provider one refuses the member's request with its own 4xx (a context overflow, a bad request: a
    refusal, which no provider bills), provider two's member answers, and the vote goes on without the
    refused one (``min_members: 1``). Provider one is charged nothing and counts no request, and the access
    line's ``cost_usd`` is the answer's alone, as a chain route's request refused with a 4xx is released.
    Before 2026-12-06 the refused member was taken for an answer without usage: its whole estimate (the
    prompt and the output maximum) was charged on provider one, counted there, and in the line (the
    seeded soak, seed 414: ``provider-requests e1oa`` grew 4 more than the lines said)."""
    first, second = await fake("one", fault=fault, fault_rate=1), await fake("two", reply="billing")
    route = "{name: chat, ensemble: {members: [small, alt], min_members: 1}}"
    limits = f"{per_provider_requests(100)}\n    - {per_provider(10**6, name='tokens')}"
    running = await sidecar(two_provider_policy(first, second, route, limits, store))
    async with client(running) as sdk:
        answer = await sdk.chat.completions.create(**CHAT)
    assert answer.usage is not None and len(await running.fake_requests(first)) == 1
    counted = {"one": 0.0, "two": 1.0}
    assert await used_by_provider(running, counted, "requests") == counted
    tokens = {"one": 0.0, "two": float(answer.usage.total_tokens)}
    assert await used_by_provider(running, tokens, "tokens") == tokens
    line = access_line(running)
    assert (line["input_tokens"], line["output_tokens"]) == (answer.usage.prompt_tokens, answer.usage.completion_tokens)
