"""The ledger of the policy being served, across reloads, and what the request path leaves to it.

``LedgerKeeper`` lives on the running sidecar (``SidecarState.budgets``) for its whole life:

    keeper = LedgerKeeper(policy.budgets, env)   # a ledger when the policy has a budgets block
    keeper.ledger                                # what admission uses (None: no budgets)
    keeper.sync(new_policy.budgets)              # a reload: same store -> ledger.update (counters carry
                                                 # on); another store -> a new ledger, the old one closed
                                                 # once its settlements are sent; no block -> none
    keeper.refresh(instruments)                  # the budget gauges and counters (at scrape, and every 5 s)
    keeper.start(instruments)                    # that every 5 s, and a shared store's clock measured
                                                 # (at start, then every 5 s: ``server_clock``)
    await keeper.close()                         # at shutdown: settlements in flight, then the stores

Settlements never make the request wait: a shared store's ride on the next admission's round trip
(``guard.GuardedStore.settle_soon``), so a request with Redis costs the one admission round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidecar.telemetry.instruments import Instruments

    from .compiled import Budgets
    from .ledger import Ledger

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 5.0
_STAT_COUNTERS = ("store_errors", "fallback_reservations", "settlements_dropped", "internal_errors")


class LedgerKeeper:
    """The current ledger (see the module docstring)."""

    def __init__(self, budgets: Budgets | None, env: Mapping[str, str]) -> None:
        self._env = env
        self.ledger: Ledger | None = None
        self.shared = False
        """Whether the ledger counts in a shared store (the stage then skips ``Ledger.admit_now``)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._counted: dict[str, int] = dict.fromkeys(_STAT_COUNTERS, 0)
        self._refresher: asyncio.Task[None] | None = None
        self.sync(budgets)

    def sync(self, budgets: Budgets | None) -> None:
        """Follow a (re)loaded policy's ``budgets`` block."""
        old = self.ledger
        self.shared = budgets is not None and bool(budgets.limits) and budgets.store.is_redis
        if budgets is None or not budgets.limits:
            self.ledger = None
        elif old is not None and old.budgets.store == budgets.store:
            old.update(budgets)
            return
        else:
            from .opening import open_ledger  # here: a policy without budgets does not load the ledger

            self.ledger = open_ledger(budgets, env=self._env)
        self._counted = dict.fromkeys(_STAT_COUNTERS, 0)  # a new ledger counts from zero
        if old is not None:
            self._spawn(self._retire(old))

    def start(self, instruments: Instruments) -> None:
        """Keep the budget metrics fresh for a metrics push too (a scrape refreshes them as well), and a
        shared store's clock measured (``Ledger.sync_clock``: at once, then every ``REFRESH_EVERY_S``)."""
        self._refresher = asyncio.get_running_loop().create_task(self._refresh_loop(instruments))

    def refresh(self, instruments: Instruments) -> None:
        """Set the per-limit gauges from what this pod last saw (no I/O) and add the ledger's new events
        to the counters."""
        ledger = self.ledger
        used: dict[tuple[str, ...], float] = {}
        remaining: dict[tuple[str, ...], float] = {}
        if ledger is not None:
            for series in ledger.gauges():
                labels = (series["limit"], series["scope"], series["measure"], series["window"])
                used[labels] = series["used"]
                remaining[labels] = series["remaining"]
        instruments.budget_used.replace(used)
        instruments.budget_remaining.replace(remaining)
        stats = ledger.stats if ledger is not None else None
        instruments.budget_pending.set((), float(stats.pending if stats is not None else 0))
        for name in _STAT_COUNTERS:
            now = getattr(stats, name) if stats is not None else 0
            added = now - self._counted[name]
            if added > 0:
                instruments.budget_events.inc((name,), added)
            self._counted[name] = now

    async def status(self) -> list[dict[str, object]] | None:
        """``/status``'s ``budgets``: one row per limit and scope value with its use read now; None
        without budgets."""
        ledger = self.ledger
        return None if ledger is None else await ledger.status()

    async def close(self, drain_s: float = 5.0) -> None:
        """Stop; the ledger's queued settlements are sent for up to ``drain_s`` (``Ledger.close``)."""
        if self._refresher is not None:
            self._refresher.cancel()
        ledger, self.ledger, self.shared = self.ledger, None, False
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if ledger is not None:
            await ledger.close(drain_s)

    @staticmethod
    async def _retire(ledger: Ledger) -> None:
        await ledger.close()

    async def _refresh_loop(self, instruments: Instruments) -> None:
        while True:
            ledger = self.ledger
            if ledger is not None and self.shared:  # the store's clock measured at start, then every tick
                await ledger.sync_clock()
            await asyncio.sleep(REFRESH_EVERY_S)
            with contextlib.suppress(Exception):
                self.refresh(instruments)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("budget settlement failed: %r", task.exception())
