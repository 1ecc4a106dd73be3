"""Which counters this pod knows, their store keys, and the use it last saw: what /status and metrics read.

``Tracker`` keeps, per limit, the scope values it has met (least recently used first, at most
``max_tracked_values`` besides the values the policy names) with their ``CounterRef`` for the current
window, so admission builds a counter's key once per window, not once per request.

- ``rows(now)``: one row per limit and known value (the named ones always, plus ``other`` when the
  others share a counter, or ``*`` for a global limit), for ``Ledger.status`` to read from the store.
- ``gauges(now)``: bounded-cardinality series (``Gauge``) for Prometheus: per limit, each named value (or ``*``)
  and one ``other`` series. For a limit whose values each have their own counter (no ``values`` in the
  policy) ``other`` reports the most used of them: the one closest to its limit. Uses are those this
  pod last saw (an admission's answer from the store), so no I/O happens at scrape time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from .compiled import GLOBAL, OTHER, Budgets, Limit, key_part
from .pricing import from_units
from .spec import ScopeKind
from .store import KEY_GRACE_S, NO_CAP, CounterRef
from .windows import WindowClock


class Gauge(TypedDict):
    """One series of ``gauges``: a limit and a scope label, the use this pod last saw and what remains."""

    limit: str
    scope: str
    measure: str
    window: str
    amount: float
    used: float
    remaining: float
    resets_at: int | None


@dataclass(slots=True)
class Seen:
    """One counter of the current window as this pod knows it: its ref and the use last seen."""

    start: int
    end: int
    ref: CounterRef
    used: int = 0


@dataclass(frozen=True, slots=True)
class Row:
    limit: Limit
    value: str
    ref: CounterRef
    resets_at: int

    def as_dict(self, used: int, now: float, source: str) -> dict[str, object]:
        limit = self.limit
        return {
            "limit": limit.name,
            "measure": limit.measure.value,
            "window": limit.window.value,
            "scope": limit.scope.value,
            "value": self.value,
            "label": limit.label(self.value),
            "amount": limit.amount,
            "used": from_units(limit.measure, used),
            "remaining": from_units(limit.measure, max(0, limit.units - used)),
            "resets_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.resets_at)),
            "reset_in_s": max(0, round(self.resets_at - now)),
            "action": limit.action.value,
            "on_store_error": "closed" if limit.fail_closed else "open",
            "source": source,
        }


class Tracker:
    """Counter refs and last-seen uses per limit (a bounded LRU of scope values per limit)."""

    def __init__(self, budgets: Budgets) -> None:
        self._limits = budgets.limits
        self._prefix = f"{budgets.store.key_prefix}:{{budgets}}:c:"
        self._grace = int(budgets.reservation_ttl_s) + KEY_GRACE_S
        self._cap = budgets.max_tracked_values
        self._seen: list[OrderedDict[str, Seen]] = [OrderedDict() for _ in budgets.limits]
        self.evictions = 0
        """Counters forgotten so far (a holder of a ``Seen`` rebuilds it when this moves)."""

    def counter(self, limit: Limit, value: str, start: int, end: int) -> Seen:
        """The counter of ``limit`` and ``value`` in the window ``[start, end)``; set ``used`` on it."""
        seen = self._seen[limit.index]
        entry = seen.get(value)
        if entry is not None and entry.start == start:
            seen.move_to_end(value)
            return entry
        key = f"{self._prefix}{limit.key_stem}:{start}:{key_part(value)}"
        entry = seen[value] = Seen(
            start, end, CounterRef(key, end + self._grace, limit.units if limit.blocks else NO_CAP)
        )
        seen.move_to_end(value)
        if len(seen) > self._cap + len(limit.values or ()):
            self._evict(limit, seen)
        return entry

    def carry(self, old: Tracker) -> None:
        """Know the scope values ``old`` (the tracker before a reload) had met, for each limit whose
        counters carry on (the same name, measure and window), with the use last seen: /status and the
        gauges go on showing them (before 2026-12-05 a reload forgot them until each was met again, so
        a request in flight across it was settled on a counter /status no longer listed)."""
        before = {limit.key_stem: limit for limit in old._limits}
        for limit in self._limits:
            was = before.get(limit.key_stem)
            if was is None:
                continue
            for value, entry in old._seen[was.index].items():
                self.counter(limit, value, entry.start, entry.end).used = entry.used

    def seen(self, limit: Limit) -> OrderedDict[str, Seen]:
        """``limit``'s counters by scope value, least recently used first (``move_to_end`` marks a use)."""
        return self._seen[limit.index]

    def rows(self, now: float, clocks: Sequence[WindowClock]) -> list[Row]:
        rows = []
        for limit in self._limits:
            start, end = clocks[limit.index].at(now)
            for value in self._values(limit):
                rows.append(Row(limit, value, self.counter(limit, value, start, end).ref, end))
        return rows

    def gauges(self, now: float, live: Callable[[CounterRef], int] | None = None) -> list[Gauge]:
        """The series (see the module docstring); ``live``: read each counter's use with it instead of
        the use last seen (the local store: reading is a dictionary lookup)."""
        series: list[Gauge] = []
        for limit in self._limits:
            best: dict[str, tuple[int, Seen]] = {}
            for value, entry in self._seen[limit.index].items():
                if entry.end <= now:
                    continue
                label = limit.label(value)
                use = entry.used if live is None else live(entry.ref)
                if label not in best or use > best[label][0]:
                    best[label] = (use, entry)
            for label in self._labels(limit):
                pair = best.get(label)
                used, found = pair if pair is not None else (0, None)
                series.append(
                    {
                        "limit": limit.name,
                        "scope": label,
                        "measure": limit.measure.value,
                        "window": limit.window.value,
                        "amount": limit.amount,
                        "used": from_units(limit.measure, used),
                        "remaining": from_units(limit.measure, max(0, limit.units - used)),
                        "resets_at": found.end if found is not None else None,
                    }
                )
        return series

    def _values(self, limit: Limit) -> list[str]:
        if limit.scope is ScopeKind.GLOBAL:
            return [GLOBAL]
        if limit.values is not None:
            named = sorted(limit.values)
            return named if limit.exempt_others else [*named, OTHER]
        return list(self._seen[limit.index])

    def _labels(self, limit: Limit) -> list[str]:
        if limit.scope is ScopeKind.GLOBAL:
            return [GLOBAL]
        named = sorted(limit.values or ())
        return named if limit.values is not None and limit.exempt_others else [*named, OTHER]

    def _evict(self, limit: Limit, seen: OrderedDict[str, Seen]) -> None:
        self.evictions += 1
        for value in seen:
            if limit.values is None or value not in limit.values:
                del seen[value]
                return
