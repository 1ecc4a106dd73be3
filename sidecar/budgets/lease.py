"""A lease: room taken at once on one plan's local counters, spent by its plain admissions one
subtraction per measure instead of one update per counter.

The local store's plain admission (``LocalStore.take``, for ``Ledger.admit_plain``) costs the same
whatever the number of limits: a plan's ``Lease`` takes room for about ``LEASE_REQUESTS`` requests on
every counter of the plan at once (``top_up``: each counter's use grows by its measure's room, only where
that stays at or under the counter's ``stop_at``: the cap of a denying limit, or the level where a limit
flags), and each request then takes its (usd, tokens, requests) units from the lease's room; its
settlement gives back what it did not use (``held - actual``) to the room. The counters therefore hold
the true use (settled + held) plus the rooms of the live leases, never less:

- nothing can pass a cap or a flag level through a lease that a per-counter hold would have stopped (the
  room was counted against the same ``stop_at``); the overshoot bound is the reservations in flight, as
  without leases;
- a decision that reads the counters (a refusal, a flag, the general path's ``reserve_now``, ``/status``,
  the gauges) first gives every live lease back (``give_back``: each counter's use drops by its room), so
  it sees the exact use: a lease never denies or flags a request that the counters without it would not;
- a lease is given back, too, when a top-up cannot take the room (the request then takes the per-counter
  path), when a settlement used more than the room holds (its room would be negative), at every sweep of
  the store (so the room of a plan no longer used, or of a window that ended, stays at most
  ``sweep_every_s``), and when the policy is reloaded.

A hold made from a lease settles into the room only while the lease is live; a hold whose lease was given
back meanwhile (or an expired one, or ``settle_now``'s per-counter amounts) updates the counters directly:
both keep "counters = true use + live rooms".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import LocalCounter

LEASE_REQUESTS = 32
"""A top-up takes room for this many requests like the one that asked (their units each)."""

UNLIMITED = 1 << 100
"""The room of a measure no counter of the plan counts (never taken, never given back)."""


class Lease:
    """The room one plan holds on its local counters (see the module docstring). ``room``: per measure
    (usd, tokens, requests), taken on the counters and not spent; ``live``: counted in them."""

    __slots__ = ("cells", "generation", "live", "measures", "present", "room", "stop_at")

    def __init__(
        self, cells: Sequence[LocalCounter], measures: Sequence[int], stop_at: Sequence[int], generation: int
    ) -> None:
        self.cells = cells
        self.measures = measures
        self.stop_at = stop_at
        self.generation = generation
        """The store's ``generation`` the cells belong to (a sweep that forgets counters moves it)."""
        self.present = tuple(sorted(set(measures)))
        self.room = [0 if measure in self.present else UNLIMITED for measure in range(3)]
        self.live = False


def top_up(lease: Lease, units: Sequence[int]) -> bool:
    """Take room for ``LEASE_REQUESTS`` requests of ``units`` (beyond what the room holds) on every
    counter of ``lease``, or take nothing and return False when some counter would pass its ``stop_at``."""
    room = lease.room
    want = [0, 0, 0]
    for measure in lease.present:
        want[measure] = max(0, units[measure] * LEASE_REQUESTS - room[measure])
    cells = lease.cells
    for cell, measure, stop in zip(cells, lease.measures, lease.stop_at, strict=True):
        if cell.use + want[measure] > stop:
            return False
    for cell, measure in zip(cells, lease.measures, strict=True):
        cell.use += want[measure]
    for measure in lease.present:
        room[measure] += want[measure]
    lease.live = True
    return True


def give_back(lease: Lease) -> None:
    """The room back to the counters (each counter's use drops by its measure's room; a negative room,
    a settlement above what was held, raises it): the counters hold the true use again."""
    room = lease.room
    for cell, measure in zip(lease.cells, lease.measures, strict=True):
        cell.use -= room[measure]
    for measure in lease.present:
        room[measure] = 0
    lease.live = False


def settle_hold(lease: Lease, held: Sequence[int], actual: Sequence[int]) -> None:
    """A hold of ``held`` units taken from ``lease`` is replaced by ``actual``: into the room while the
    lease is live (given back if that leaves it negative), else on the counters themselves."""
    if lease.live:
        room = lease.room
        usd = room[0] + held[0] - actual[0]
        tokens = room[1] + held[1] - actual[1]
        requests = room[2] + held[2] - actual[2]
        room[0], room[1], room[2] = usd, tokens, requests
        if usd < 0 or tokens < 0 or requests < 0:
            give_back(lease)
        return
    for cell, measure in zip(lease.cells, lease.measures, strict=True):
        cell.use += actual[measure] - held[measure]
