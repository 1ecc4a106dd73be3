"""Per-server state, kept on the app under ``STATE`` (no module-level mutable state).

``FakeState`` holds:

- ``config``     the current ``FakeConfig``, swapped whole by ``reconfigure`` (``POST /_fake/config``);
- the request log: a bounded deque of recent requests, plus counts by path (``/_fake/requests``, ``stats``);
- ``in_flight``: the requests being answered now (each record holds the count at its arrival, itself
  included: what a test of the sidecar's concurrency limits counts; ``reset`` leaves it, it is live);
- the ``times=N`` counters, one per spec text;
- two seeded RNGs: one for ids, one for the fault-rate draws (so ids do not shift which requests fail).

``reset`` returns everything to the start: the startup config, an empty log, zeroed counters, reseeded RNGs.
"""

from __future__ import annotations

import collections
import random
import string
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from sidecar.fake_provider.config import FakeConfig, updated
from sidecar.fake_provider.faults import (
    NO_FAULTS,
    Fault,
    FaultPlan,
    compose,
    for_server,
    markers,
    parse_faults,
)

DEFAULT_MAX_RECORDS = 1000
_ALPHANUMERIC = string.ascii_letters + string.digits


class FakeState:
    """Everything one fake server remembers between requests."""

    def __init__(self, config: FakeConfig, max_records: int = DEFAULT_MAX_RECORDS) -> None:
        self.initial = config
        self.max_records = max_records
        self.in_flight = 0  # requests being answered now (the app's ``_record`` middleware counts them)
        self.reset()

    def reset(self) -> None:
        """Back to the startup state."""
        self._set_config(self.initial)
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=self.max_records)
        self.total = 0
        self.by_path: collections.Counter[str] = collections.Counter()
        self.faults_applied = 0
        self._used: dict[str, int] = {}
        self._id_rng = random.Random(self.initial.seed)
        self._fault_rng = random.Random(self.initial.seed)

    def reconfigure(self, changes: Mapping[str, object]) -> FakeConfig:
        """Apply runtime changes (``ValueError`` when invalid); in-flight requests keep their config."""
        self._set_config(updated(self.config, changes))
        return self.config

    def _set_config(self, config: FakeConfig) -> None:
        self._default_faults = parse_faults(config.fault) if config.fault else ()
        self.config = config

    def record(self, request: web.Request, body: Any) -> dict[str, Any]:
        """Log one request (header names lower-cased); the record, which ``ended`` and ``client_gone``
        complete when its handler is done (``RECORD`` on the request holds it meanwhile)."""
        self.total += 1
        self.by_path[request.path] += 1
        record = {
            "path": request.path,
            "method": request.method,
            "query": dict(request.query),
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "json": body,
            "time": time.time(),
            "in_flight": self.in_flight,
            "ended": None,
            "client_gone": False,
        }
        self.records.append(record)
        return record

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.total,
            "by_path": dict(self.by_path),
            "faults": self.faults_applied,
            "in_flight": self.in_flight,
        }

    def make_id(self, prefix: str, size: int, alphabet: str = _ALPHANUMERIC) -> str:
        """``prefix`` + ``size`` random characters from ``alphabet`` (seeded)."""
        return prefix + "".join(self._id_rng.choices(alphabet, k=size))

    def plan(self, header: str | None, body_text: str) -> FaultPlan:
        """The faults for one request: header items, then body markers, else the default at its rate.

        Items naming another server are skipped; an item with ``times=N`` is skipped once it has been
        applied N times. ``ValueError`` when a header or marker spec does not parse.
        """
        name = self.config.name
        requested = for_server(parse_faults(header) if header else (), name)
        requested += for_server(markers(body_text), name) if "[fault:" in body_text else []
        chosen = [fault for fault in requested if self._take(fault)]
        rate = self.config.fault_rate
        if not chosen and self._default_faults and rate > 0 and self._fault_rng.random() < rate:
            chosen = [fault for fault in for_server(self._default_faults, name) if self._take(fault)]
        if not chosen:
            return NO_FAULTS
        self.faults_applied += 1
        return compose(chosen)

    def _take(self, fault: Fault) -> bool:
        if fault.times is None:
            return True
        used = self._used.get(fault.key, 0)
        if used >= fault.times:
            return False
        self._used[fault.key] = used + 1
        return True


STATE = web.AppKey("fake_provider_state", FakeState)
RECORD = web.RequestKey("fake_provider_record", dict)  # the request's entry in the log, while it is answered
