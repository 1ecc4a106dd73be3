"""Admission, settlement and release on the local store, with an injected clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sidecar.budgets import Admission, BudgetRequest, Ledger
from sidecar.budgets.lease import LEASE_REQUESTS
from sidecar.budgets.pricing import NANO_USD
from sidecar.translate import Usage
from tests.resilience.fakes import FakeClock

from .conftest import budgets_of

# "big" costs $10 / $30 per million input / output tokens: 1000 in + 1000 out reserves $0.04.
REQUEST = BudgetRequest(input_tokens=1000, max_output_tokens=1000)
COST = 0.04


def ledger(clock: FakeClock, *limits: dict[str, Any], **block: Any) -> Ledger:
    return Ledger(budgets_of({"limits": list(limits), **block}), clock=clock)


def usd(name: str, amount: float, **more: Any) -> dict[str, Any]:
    return {"name": name, "measure": "usd", "amount": amount, "window": "day", **more}


async def used(book: Ledger, name: str, value: str = "*") -> float:
    rows = await book.status()
    return next(float(row["used"]) for row in rows if row["limit"] == name and row["value"] == value)  # type: ignore[arg-type]


async def test_admission_reserves_the_priced_estimate(clock: FakeClock) -> None:
    """Prompt tokens and max output tokens, priced at the target's prices, are held until settlement."""
    book = ledger(clock, usd("day", 1))
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    assert admission.decision.verdict == "allow"
    assert await used(book, "day") == pytest.approx(COST)


async def test_the_models_max_output_is_reserved_when_the_request_sets_none(clock: FakeClock) -> None:
    """Without max_tokens in the request, the reservation uses the model's maximum, else the default."""
    book = ledger(clock, {"name": "tok", "measure": "tokens", "amount": 10**6, "window": "minute"})
    await book.admit(BudgetRequest(input_tokens=10), [book.budgets.target("big")])
    assert await used(book, "tok") == 10 + 4096


async def test_an_embedding_reserves_no_output(clock: FakeClock) -> None:
    """max_output_tokens=0 (an embedding) reserves the input alone, not the model's default output."""
    book = ledger(clock, {"name": "tok", "measure": "tokens", "amount": 10**6, "window": "minute"})
    await book.admit(BudgetRequest(input_tokens=10, max_output_tokens=0), [book.budgets.target("big")])
    assert await used(book, "tok") == 10


async def test_settlement_replaces_the_estimate_by_the_actual_cost(clock: FakeClock) -> None:
    """After settle, the counter holds the actual cost, not the reservation."""
    book = ledger(clock, usd("day", 1))
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    await admission.settle(Usage(input_tokens=1000, output_tokens=100))
    assert await used(book, "day") == pytest.approx(0.013)


async def test_release_leaves_nothing_behind(clock: FakeClock) -> None:
    """A released admission (nothing billable happened) counts nothing."""
    book = ledger(clock, usd("day", 1), {"name": "rpm", "measure": "requests", "amount": 5, "window": "minute"})
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    await admission.release()
    assert (await used(book, "day"), await used(book, "rpm")) == (0, 0)


async def test_settle_without_usage_charges_the_estimate(clock: FakeClock) -> None:
    """When the use is unknown (a stream cut without usage), the estimate is charged, never nothing."""
    book = ledger(clock, usd("day", 1))
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    await admission.settle(None)
    assert await used(book, "day") == pytest.approx(COST)


async def test_charge_settles_at_once_on_the_local_store(clock: FakeClock) -> None:
    """charge (settle without a coroutine) leaves nothing to await locally and counts the actual cost."""
    book = ledger(clock, usd("day", 1))
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    assert admission.charge(Usage(input_tokens=1000, output_tokens=100)) is None
    assert await used(book, "day") == pytest.approx(0.013)


async def test_only_the_first_settlement_counts(clock: FakeClock) -> None:
    """settle then release (a finally block) or settle twice charges once."""
    book = ledger(clock, usd("day", 1))
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    await admission.settle(Usage(input_tokens=1000, output_tokens=1000))
    await admission.settle(Usage(input_tokens=1000, output_tokens=1000))
    await admission.release()
    assert await used(book, "day") == pytest.approx(COST)


async def test_a_request_that_would_pass_the_amount_is_denied(clock: FakeClock) -> None:
    """With $0.10 a day and $0.04 per request, the third request is refused with 429."""
    book = ledger(clock, usd("day", 0.1))
    verdicts = [(await book.admit(REQUEST, [book.budgets.target("big")])).decision.verdict for _ in range(3)]
    assert verdicts == ["allow", "allow", "deny"]


async def test_a_denial_names_the_limit_and_waits_until_the_window_ends(clock: FakeClock) -> None:
    """The 429's Retry-After runs to the end of the window; its message names limit, amount and reset."""
    book = ledger(clock, usd("team-day", 0.01, scope={"by": "header", "header": "x-team"}))
    request = BudgetRequest(1000, 1000, headers={"x-team": "search"})
    decision = (await book.admit(request, [book.budgets.target("big")])).decision
    assert (decision.status, decision.retry_after_s) == (429, 86_400 - 30)
    assert decision.message == (
        "budget limit 'team-day' reached for x-team 'search': $0.01 per day, $0 used or reserved, this "
        "request needs up to $0.04; the window resets at 2024-06-02T00:00:00Z"
    )


async def test_a_denied_request_reserves_nothing(clock: FakeClock) -> None:
    """A refusal by one limit leaves every other limit's counter untouched."""
    book = ledger(clock, usd("day", 0.01), {"name": "rpm", "measure": "requests", "amount": 9, "window": "minute"})
    await book.admit(REQUEST, [book.budgets.target("big")])
    assert await used(book, "rpm") == 0


async def test_a_new_window_starts_a_new_counter(clock: FakeClock) -> None:
    """At the end of the window the budget is whole again, without any reset job."""
    book = ledger(clock, {"name": "rpm", "measure": "requests", "amount": 1, "window": "minute"})
    target = book.budgets.target("big")
    await book.admit(REQUEST, [target])
    assert (await book.admit(REQUEST, [target])).decision.verdict == "deny"
    clock.advance(30)
    assert (await book.admit(REQUEST, [target])).decision.verdict == "allow"


async def test_a_settlement_after_rollover_lands_in_the_window_of_admission(clock: FakeClock) -> None:
    """A call admitted before midnight and settled after is charged to the day it was admitted in."""
    book = ledger(clock, usd("day", 1))
    clock.advance(86_400 - 40)  # 23:59:50
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    clock.advance(20)
    await admission.settle(Usage(input_tokens=1000, output_tokens=0))
    assert await used(book, "day") == 0
    clock.advance(-20)
    assert await used(book, "day") == pytest.approx(0.01)


async def test_a_wall_clock_stepped_back_counts_in_the_earlier_window_again(clock: FakeClock) -> None:
    """Admissions follow the clock across a rollover and back (the counters of limits whose scope does
    not depend on the request are built once per window, and rebuilt when the clock leaves it)."""
    book = ledger(clock, {"name": "rpd", "measure": "requests", "amount": 10, "window": "day"})
    target = book.budgets.target("big")
    clock.advance(86_400 - 40)  # 23:59:50
    await (await book.admit(REQUEST, [target])).settle(None)
    clock.advance(20)
    await (await book.admit(REQUEST, [target])).settle(None)
    clock.advance(-20)
    await (await book.admit(REQUEST, [target])).settle(None)
    assert await used(book, "rpd") == 2


async def test_an_unsettled_reservation_expires_after_its_ttl(clock: FakeClock) -> None:
    """A reservation nobody settles stops counting after reservation_ttl_s."""
    book = ledger(clock, usd("day", 1), reservation_ttl_s=60)
    await book.admit(REQUEST, [book.budgets.target("big")])
    clock.advance(60)
    assert await used(book, "day") == 0


async def test_a_soft_threshold_downgrades_to_the_cheaper_list(clock: FakeClock) -> None:
    """Past 50% of the amount the request is served from soft.downgrade_to and reserved at its price."""
    soft = {"at": 0.5, "action": "downgrade", "downgrade_to": ["small"]}
    book = ledger(clock, usd("day", 0.1, soft=soft))
    first = await book.admit(REQUEST, [book.budgets.target("big")])
    second = await book.admit(REQUEST, [book.budgets.target("big")])
    assert (first.decision.verdict, second.decision.verdict, second.decision.targets) == (
        "allow",
        "downgrade",
        ("small",),
    )
    assert second.decision.access_field == "downgrade:day:soft"
    assert await used(book, "day") == pytest.approx(COST + 0.003)


async def test_a_downgrade_limit_keeps_serving_past_its_amount(clock: FakeClock) -> None:
    """action: downgrade never refuses: past the amount it serves downgrade_to, and that spend counts."""
    book = ledger(clock, usd("day", 0.01, action="downgrade", downgrade_to=["small"]))
    decisions = [(await book.admit(REQUEST, [book.budgets.target("big")])).decision for _ in range(3)]
    assert [d.verdict for d in decisions] == ["downgrade"] * 3
    assert await used(book, "day") == pytest.approx(3 * 0.003)


async def test_a_downgrade_target_is_still_held_to_deny_limits(clock: FakeClock) -> None:
    """When even the cheaper target does not fit a deny limit, the request is denied."""
    book = ledger(
        clock,
        usd("soft", 0.01, action="downgrade", downgrade_to=["small"]),
        {"name": "rpm", "measure": "requests", "amount": 1, "window": "minute"},
    )
    await book.admit(REQUEST, [book.budgets.target("big")])
    decision = (await book.admit(REQUEST, [book.budgets.target("big")])).decision
    assert (decision.verdict, decision.acted and decision.acted.limit.name) == ("deny", "rpm")


async def test_a_warn_limit_serves_and_flags(clock: FakeClock) -> None:
    """Past a warn limit's amount the request is allowed with verdict warn naming the limit."""
    book = ledger(clock, usd("day", 0.05, action="warn"))
    await book.admit(REQUEST, [book.budgets.target("big")])
    decision = (await book.admit(REQUEST, [book.budgets.target("big")])).decision
    assert (decision.verdict, decision.access_field) == ("warn", "warn:day")


async def test_a_provider_quota_skips_to_the_next_target(clock: FakeClock) -> None:
    """A tokens-per-minute quota on provider acme sends the call to the zeta target before acme says 429."""
    quota = {"name": "acme-tpm", "measure": "tokens", "amount": 3000, "window": "minute"}
    quota["scope"] = {"by": "provider", "values": ["acme"], "others": "exempt"}
    book = ledger(clock, quota)
    chain = [book.budgets.target("big"), book.budgets.target("other-big")]
    first = (await book.admit(REQUEST, chain)).decision
    second = (await book.admit(REQUEST, chain)).decision
    assert (first.targets, second.targets, second.skipped) == (("big", "other-big"), ("other-big",), ("big",))


async def test_every_target_over_quota_is_a_denial(clock: FakeClock) -> None:
    """When each target's quota refuses, the request is denied until the earliest quota resets."""
    quota = {"name": "tpm", "measure": "tokens", "amount": 2500, "window": "minute", "scope": {"by": "model"}}
    book = ledger(clock, quota)
    chain = [book.budgets.target("big"), book.budgets.target("small")]
    await book.admit(REQUEST, [chain[0]])
    await book.admit(REQUEST, [chain[1]])
    decision = (await book.admit(REQUEST, chain)).decision
    assert (decision.verdict, decision.retry_after_s) == ("deny", 30)
    assert decision.message.startswith("every target is over its quota; budget limit 'tpm' reached for model 'big'")


async def test_switch_moves_the_reservation_to_the_fallback_target(clock: FakeClock) -> None:
    """When the fallback loop moves on, the reservation is re-priced for the new target and the old freed."""
    book = ledger(clock, usd("day", 1))
    admission = await book.admit(REQUEST, [book.budgets.target("big"), book.budgets.target("small")])
    assert await admission.switch(book.budgets.target("small"))
    assert await used(book, "day") == pytest.approx(0.003)


async def test_switch_to_a_target_that_does_not_fit_keeps_the_old_reservation(clock: FakeClock) -> None:
    """A fallback target the budget cannot afford is refused (skip it), and nothing leaks."""
    book = ledger(clock, usd("day", 0.01))
    admission = await book.admit(REQUEST, [book.budgets.target("small"), book.budgets.target("big")])
    assert not await admission.switch(book.budgets.target("big"))
    await admission.release()
    assert await used(book, "day") == 0


async def test_named_values_have_their_own_counter_and_the_rest_share_other(clock: FakeClock) -> None:
    """With values [search], team search counts alone and teams ads and maps share the 'other' counter."""
    scope = {"by": "header", "header": "x-team", "values": ["search"]}
    book = ledger(clock, {"name": "rpm", "measure": "requests", "amount": 1, "window": "minute", "scope": scope})
    target = [book.budgets.target("big")]

    async def verdict(team: str) -> str:
        return (await book.admit(BudgetRequest(1, 1, headers={"x-team": team}), target)).decision.verdict

    assert [await verdict("search"), await verdict("ads"), await verdict("maps")] == ["allow", "allow", "deny"]


async def test_exempt_others_are_not_limited(clock: FakeClock) -> None:
    """With others: exempt, values the policy does not name pass without counting."""
    scope = {"by": "app", "values": ["batch-job"], "others": "exempt"}
    book = ledger(clock, {"name": "rpm", "measure": "requests", "amount": 1, "window": "minute", "scope": scope})
    target = [book.budgets.target("big")]
    verdicts = [(await book.admit(BudgetRequest(1, 1, app="web"), target)).decision.verdict for _ in range(3)]
    assert verdicts == ["allow"] * 3


async def test_every_key_has_its_own_budget(clock: FakeClock) -> None:
    """A key-scoped limit without values gives each caller key its own counter."""
    rpm = {"name": "rpm", "measure": "requests", "amount": 1, "window": "minute", "scope": {"by": "key"}}
    book = ledger(clock, rpm)
    target = [book.budgets.target("big")]
    verdicts = [
        (await book.admit(BudgetRequest(1, 1, key_hash=key), target)).decision.verdict
        for key in ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa")
    ]
    assert verdicts == ["allow", "allow", "deny"]


async def test_concurrent_admissions_never_pass_the_amount(clock: FakeClock) -> None:
    """200 admissions at once against room for 25 admit exactly 25 (the reservation is checked and made at once)."""
    book = ledger(clock, usd("day", 1))
    admissions = await asyncio.gather(*(book.admit(REQUEST, [book.budgets.target("big")]) for _ in range(200)))
    assert sum(a.decision.verdict == "allow" for a in admissions) == 25


async def test_admissions_from_leases_never_pass_the_amount(clock: FakeClock) -> None:
    """Against room for 100 requests (many leases' worth), 150 admissions in flight from two plans that
    share the counter admit exactly 100: the last ones, once no lease can be topped up, hold per counter
    or are judged on the exact use."""
    book = ledger(
        clock,
        {"name": "rpm", "measure": "requests", "amount": 100, "window": "minute"},
        usd("t", 10**6, scope={"by": "app"}),
    )
    chain = [book.budgets.target("big")]
    verdicts = [
        (await book.admit(BudgetRequest(10, 10, app=f"a{turn % 2}"), chain)).decision.verdict for turn in range(150)
    ]
    assert (verdicts.count("allow"), verdicts[-1]) == (100, "deny")


async def test_an_ensembles_extra_calls_count_against_the_same_budget(clock: FakeClock) -> None:
    """Extra calls (ensemble members, shadows) admitted through the same ledger share its counters."""
    book = ledger(clock, {"name": "rpm", "measure": "requests", "amount": 3, "window": "minute"})
    members = [await book.admit(REQUEST, [book.budgets.target(name)]) for name in ("big", "small", "other-big")]
    for member in members:
        await member.settle(Usage(input_tokens=10, output_tokens=10))
    assert (await book.admit(REQUEST, [book.budgets.target("big")])).decision.verdict == "deny"


async def test_no_limits_admits_without_reserving(clock: FakeClock) -> None:
    """A policy without limits allows every request and holds nothing."""
    book = ledger(clock)
    admission = await book.admit(REQUEST, [book.budgets.target("big")])
    assert (admission.decision.verdict, admission.reserved) == ("allow", False)


async def test_a_reload_gives_the_leases_room_back(clock: FakeClock) -> None:
    """update() (a reload) hands every lease's room back: right after it the counters hold the true use
    (settled + held), not the room the old plans took for requests they will not serve."""
    tokens = {"name": "tok", "measure": "tokens", "amount": 10**9, "window": "minute"}
    book = ledger(clock, tokens)
    chain = [book.budgets.target("big")]
    (await book.admit(BudgetRequest(10, 10), chain)).charge(Usage(input_tokens=5, output_tokens=5))
    await book.admit(BudgetRequest(10, 10), chain)  # still held
    counters = book._stores.local._counters.values()  # the raw counters: a read would give the room back
    assert [counter.use for counter in counters] == [20 * LEASE_REQUESTS]  # room for 32 requests taken
    book.update(budgets_of({"limits": [tokens]}))
    assert [counter.use for counter in counters] == [10 + 20]


async def test_a_new_policy_keeps_the_counters(clock: FakeClock) -> None:
    """update() with a raised amount keeps what was spent under the same limit name."""
    book = ledger(clock, usd("day", 0.05))
    await (await book.admit(REQUEST, [book.budgets.target("big")])).settle(None)
    book.update(budgets_of({"limits": [usd("day", 0.5)]}))
    assert await used(book, "day") == pytest.approx(COST)


async def test_usd_counts_are_exact_in_nano_dollars(clock: FakeClock) -> None:
    """A thousand settlements of $0.000013 sum to exactly $0.013 (integers, no float drift)."""
    book = ledger(clock, usd("day", 1))
    for _ in range(1000):
        await (await book.admit(BudgetRequest(1, 1), [book.budgets.target("small")])).settle(Usage(1, 6))
    rows = await book.status()
    assert rows[0]["used"] == 13_000_000 / NANO_USD == 0.013


async def test_the_fast_path_admits_a_plain_request_with_the_shared_allow(clock: FakeClock) -> None:
    """On the local store a request no limit refuses or flags is admitted by admit_now, reserved,
    with one "allow" decision shared by every such request."""
    book = ledger(clock, usd("day", 1.0))
    first = book.admit_now(REQUEST, [book.budgets.target("big")])
    second = book.admit_now(REQUEST, [book.budgets.target("big")])
    assert first is not None and second is not None
    assert (first.reserved, first.decision is second.decision, first.decision.verdict) == (True, True, "allow")
    assert await used(book, "day") == pytest.approx(2 * COST)


async def test_the_fast_path_leaves_a_flagged_request_to_the_general_path(clock: FakeClock) -> None:
    """A request that would pass a warn limit gets None from admit_now, with nothing reserved, and a
    warn from admit."""
    book = ledger(clock, usd("day", 0.05, action="warn"))
    await book.admit(REQUEST, [book.budgets.target("big")])
    assert book.admit_now(REQUEST, [book.budgets.target("big")]) is None
    assert await used(book, "day") == pytest.approx(COST)
    assert (await book.admit(REQUEST, [book.budgets.target("big")])).decision.verdict == "warn"


async def test_the_fast_path_is_off_when_headers_are_asked_for(clock: FakeClock) -> None:
    """With budgets.headers the decision carries the tightest counter, so admit_now leaves it to admit."""
    book = ledger(clock, usd("day", 1.0), headers=True)
    assert book.admit_now(REQUEST, [book.budgets.target("big")]) is None


async def test_gauges_of_the_local_store_read_its_counters(clock: FakeClock) -> None:
    """The fast path does not record the use it saw: the gauges read the local counters instead."""
    book = ledger(clock, usd("day", 1.0))
    (await book.admit(REQUEST, [book.budgets.target("big")])).charge(Usage(1000, 0))  # $0.01
    await book.admit(REQUEST, [book.budgets.target("big")])  # $0.04 held
    assert [series["used"] for series in book.gauges()] == [pytest.approx(0.05)]


async def test_the_fast_path_counts_in_the_store_after_a_clock_stepped_back_past_a_sweep(clock: FakeClock) -> None:
    """A plan cached for a window whose counters the store has since forgotten (the wall clock went
    ahead, then back) resolves its counters again: the use is where status reads it."""
    team = {"name": "team", "measure": "requests", "amount": 100, "window": "minute"}
    book = ledger(clock, {**team, "scope": {"by": "header", "header": "x-team"}})
    big = [book.budgets.target("big")]
    a, b = BudgetRequest(1, 1, headers={"x-team": "a"}), BudgetRequest(1, 1, headers={"x-team": "b"})
    (await book.admit(a, big)).charge(Usage(1, 1))
    clock.advance(3600)
    (await book.admit(b, big)).charge(Usage(1, 1))  # sweeps the first window's counters
    clock.advance(-3600)
    (await book.admit(a, big)).charge(Usage(1, 1))
    assert await used(book, "team", "a") == 1.0


async def test_the_plain_and_the_general_path_leave_the_same_counters(clock: FakeClock) -> None:
    """The same traffic (several limits of every measure and scope, answers with and without usage,
    cached input, an answer far above its estimate, calls the caller did not get, releases, an expired
    hold, settlements after a read gave the leases back) counts the same in every counter whether
    admitted by admit_plain (from the plans' leases) or by the general path (admit with plain=False)."""
    limits = [
        usd("team", 100, scope={"by": "header", "header": "x-team"}),
        {"name": "tpm", "measure": "tokens", "amount": 10**9, "window": "minute", "scope": {"by": "app"}},
        {"name": "rpm", "measure": "requests", "amount": 10**9, "window": "minute"},
        usd("key", 100, window="month", scope={"by": "key"}),
        {"name": "quota", "measure": "tokens", "amount": 10**9, "window": "minute", "scope": {"by": "provider"}},
    ]
    plain, general = ledger(clock, *limits), ledger(clock, *limits)
    chain = [plain.budgets.target("big")]
    lane = plain.lane(chain)
    endings: list[tuple[Usage | None, tuple[float, int]] | None] = [
        (Usage(900, 120), (0.0, 0)),
        (Usage(1000, 7, cached_input_tokens=600), (0.0, 0)),
        (None, (0.0, 0)),
        (Usage(10, 10), (0.002, 300)),
        None,  # released
        (Usage(300_000, 10), (0.0, 0)),  # far above the estimate and the lease's room
    ]

    def end(fast: Admission, slow: Admission, turn: int) -> None:
        ending = endings[turn % len(endings)]
        if ending is None:
            fast.drop()
            slow.drop()
        elif ending[0] is not None and ending[1] == (0.0, 0) and turn % 2:
            fast.charge_plain(ending[0], lane)
            slow.charge(ending[0], chain[0])
        else:
            fast.charge(ending[0], chain[0], unserved=ending[1])
            slow.charge(ending[0], chain[0], unserved=ending[1])

    in_flight: tuple[Admission, Admission, int] | None = None
    for turn in range(30):
        tokens, output, app, team, key = (
            100 + turn,
            None if turn % 3 else 50,
            f"a{turn % 2}",
            f"t{turn % 3}",
            f"k{turn % 4}",
        )
        fast = plain.admit_plain(lane, tokens, output, app, "chat", key, {"x-team": team})
        request = BudgetRequest(tokens, output, app, "chat", {"x-team": team}, key)
        slow = await general.admit(request, chain, plain=False)
        assert fast is not None and fast.reserved and slow.reserved
        if in_flight is not None:  # settled one turn later: in flight across the reads below
            end(*in_flight)
        in_flight = None if turn == 7 else (fast, slow, turn)  # turn 7's: never settled, expires in both
        if turn in (9, 20):
            assert await plain.status() == await general.status()
    assert in_flight is not None
    end(*in_flight)
    assert await plain.status() == await general.status()
    clock.advance(plain.budgets.reservation_ttl_s)
    assert await plain.status() == await general.status()
