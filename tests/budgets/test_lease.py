"""Leases on the local store (``LocalStore.take``): room taken at once, spent per request, and never
visible in what the counters answer."""

from __future__ import annotations

from sidecar.budgets.lease import LEASE_REQUESTS, Lease
from sidecar.budgets.plans import NEVER
from sidecar.budgets.store import NO_CAP, CounterRef, LocalStore

from .conftest import T0

NOW = T0 + 10
HOLD = NOW + 100
KEEP = int(T0) + 3600
USD = CounterRef("lease:usd", KEEP, NO_CAP)
TOKENS = CounterRef("lease:tokens", KEEP, NO_CAP)
REQUESTS = CounterRef("lease:requests", KEEP, NO_CAP)
UNITS = (900, 40, 1)  # (nano-USD, tokens, requests)


def lease_on(local: LocalStore, refs: list[CounterRef], measures: tuple[int, ...], stops: tuple[int, ...]) -> Lease:
    return Lease(local.cells(refs), measures, stops, local.generation)


def test_reads_see_the_true_use_not_the_room() -> None:
    """Requests taken from a lease and settled count their actual use, and the holds in flight their
    estimate, in every counter a read answers: the room the lease took is not counted."""
    local = LocalStore()
    lease = lease_on(local, [USD, TOKENS, REQUESTS], (0, 1, 2), (NEVER, NEVER, NEVER))
    for res_id in range(5):
        assert local.take(res_id, lease, UNITS, NOW, HOLD)
    for res_id in range(3):
        assert local.settle_held(res_id, (500, 30, 1))
    assert local.read_now([USD, TOKENS, REQUESTS], NOW) == (3 * 500 + 2 * 900, 3 * 30 + 2 * 40, 5)


def test_a_lease_takes_room_for_many_requests_at_once() -> None:
    """The first take counts LEASE_REQUESTS requests' units on each counter; the next ones take from that
    room without touching the counters."""
    local = LocalStore()
    cells = local.cells([TOKENS])
    lease = Lease(cells, (1,), (NEVER,), local.generation)
    assert local.take(1, lease, UNITS, NOW, HOLD)
    assert local.take(2, lease, UNITS, NOW, HOLD)
    assert cells[0].use == 40 * LEASE_REQUESTS


def test_no_room_is_taken_past_a_stop_level() -> None:
    """When a counter's stop level (a cap, or where a limit flags) is closer than the lease's room, take
    holds nothing and says so (the request then holds per counter)."""
    local = LocalStore()
    lease = lease_on(local, [TOKENS], (1,), (40 * LEASE_REQUESTS - 1,))
    assert not local.take(1, lease, UNITS, NOW, HOLD)
    assert local.read_now([TOKENS], NOW) == (0,)


def test_another_plans_decision_sees_the_counters_without_the_room() -> None:
    """A reservation on the general path over a counter a lease took room on is judged on the true use:
    a request the cap admits without the lease is admitted with it."""
    local = LocalStore()
    capped = CounterRef("lease:capped", KEEP, LEASE_REQUESTS + 8)
    lease = lease_on(local, [capped], (2,), (capped.cap,))
    assert local.take(1, lease, UNITS, NOW, HOLD)  # 1 request held, LEASE_REQUESTS counted
    result = local.reserve_now("general", [capped], [LEASE_REQUESTS], NOW, HOLD)
    assert (result.refused, result.uses) == (-1, (1 + LEASE_REQUESTS,))


def test_a_settlement_above_the_room_is_counted_in_full() -> None:
    """An answer that used more than its hold and the lease's room together is counted in full."""
    local = LocalStore()
    lease = lease_on(local, [TOKENS], (1,), (NEVER,))
    assert local.take(1, lease, UNITS, NOW, HOLD)
    assert local.settle_held(1, (0, 10**6, 1))
    assert local.read_now([TOKENS], NOW) == (10**6,)


def test_a_hold_from_a_lease_expires() -> None:
    """A hold taken from a lease and never settled stops counting at its expiry."""
    local = LocalStore()
    lease = lease_on(local, [TOKENS], (1,), (NEVER,))
    assert local.take(1, lease, UNITS, NOW, HOLD)
    assert local.take(2, lease, UNITS, HOLD - 1, HOLD + 50)
    assert local.read_now([TOKENS], HOLD) == (40,)


def test_a_hold_settles_on_the_counters_once_its_lease_was_given_back() -> None:
    """A read gives the lease back while a hold is in flight; the hold's settlement and a later take from
    the same lease still leave the counters at the true use."""
    local = LocalStore()
    lease = lease_on(local, [TOKENS], (1,), (NEVER,))
    assert local.take(1, lease, UNITS, NOW, HOLD)
    assert local.read_now([TOKENS], NOW) == (40,)
    assert local.settle_held(1, (0, 25, 1))
    assert local.take(2, lease, UNITS, NOW, HOLD)
    assert local.read_now([TOKENS], NOW) == (25 + 40,)


def test_the_sweep_gives_the_room_back() -> None:
    """A lease nobody spends from any more stops counting its room at the store's next sweep."""
    local = LocalStore(sweep_every_s=10)
    cells = local.cells([TOKENS])
    lease = Lease(cells, (1,), (NEVER,), local.generation)
    assert local.take(1, lease, UNITS, NOW, HOLD)
    assert local.settle_held(1, (0, 40, 1))
    local.take(2, Lease(local.cells([USD]), (0,), (NEVER,), local.generation), UNITS, NOW + 11, HOLD + 11)
    assert cells[0].use == 40


def test_a_settlement_above_the_room_is_counted_before_the_next_hold() -> None:
    """When an answer used more than its hold and its lease's room, the counters count it at once: a
    per-counter hold on the same counter afterwards is judged on that use."""
    local = LocalStore()
    capped = CounterRef("lease:capped", KEEP, 100)
    lease = lease_on(local, [capped], (1,), (100,))
    assert local.take(1, lease, (0, 2, 1), NOW, HOLD)  # room for LEASE_REQUESTS x 2 tokens
    assert local.settle_held(1, (0, 90, 1))
    assert not local.hold(2, local.cells([capped]), (1,), (0, 11, 1), (100,), NOW, HOLD)
