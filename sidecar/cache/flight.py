"""Single flight: identical requests in flight at once make one upstream call.

``SingleFlight.join(key)`` makes the first caller for a key the ``Leader`` and every later caller,
until the leader publishes, a ``Follower``::

    leader = flights.join(key)            # Leader: call the upstream
    with leader:                          # leaving the block unpublished publishes None
        ...answer the caller...
        leader.publish(entry_or_None)     # followers wake with the entry, or with None
    leader.publish(entry, held_until=write)   # ...and later requests follow too, until the write is done

    follower = flights.join(key)          # Follower: wait, bounded
    entry = await follower.wait(30.0)     # the leader's entry; None: it failed, or the wait ran out
                                          # -> the follower goes its own way (its own upstream call)

    flights.join(key, made=False)         # a refresh: a Leader or a Follower of a call under way, but
                                          # None (its own call) where the answer is made, held for its write

A leader whose caller went away (its request cancelled) had neither an answer nor a failure: it
``abandon``s the flight, its followers wake with ``follower.abandoned`` set and join again, so the
first of them leads one new call and the others follow it (not one call each).

Each follower waits on a shield of the shared future, so a follower that gives up (timeout, or its
client went away) never cancels the others' wait. One event loop; no locks.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from .entry import Entry
from .stats import CacheStats


class _Abandoned:
    """What a leader whose caller went away hands its followers (``Leader.abandon``)."""

    __slots__ = ()


_ABANDONED = _Abandoned()


class Leader:
    """The one request for its key that calls the upstream; it must publish (or leave the ``with``).

    The future its followers wait on is made when the first of them comes (``shared``): most misses
    have none, and then single flight costs a dict entry, not a future."""

    __slots__ = ("_done", "_flights", "_future", "followed", "key")

    def __init__(self, flights: SingleFlight, key: str) -> None:
        self._flights = flights
        self._future: asyncio.Future[Entry | _Abandoned | None] | None = None
        self._done = False
        self.key = key
        # a follower waits for its answer (``shared`` was called): a slot, not a property (a miss reads it, and
        # Python 3.11 specializes no property read: a frame a read)
        self.followed = False

    def shared(self) -> asyncio.Future[Entry | _Abandoned | None]:
        """The future the followers wait on (made on the first call)."""
        if self._future is None:
            self._future = asyncio.get_running_loop().create_future()
            self.followed = True
        return self._future

    def publish(self, entry: Entry | None, held_until: asyncio.Future[Any] | None = None) -> None:
        """Wake the followers with ``entry`` (None: go your own way); later calls do nothing. With
        ``held_until`` (the entry's write to a shared store, still on its way), the flight stays joinable
        until it is done: a request for the key that comes meanwhile, which the store cannot answer yet,
        follows and is served ``entry`` at once instead of calling the upstream again."""
        if held_until is None or held_until.done() or self._done:
            self._end(entry)
            return
        self._done = True
        future = self.shared()
        if not future.done():
            future.set_result(entry)
        held_until.add_done_callback(lambda _: self._flights._end(self))

    @property
    def published(self) -> bool:
        """Its answer (or None) is out; a flight still joinable is held until its write is done."""
        return self._done

    def abandon(self) -> None:
        """The leader's caller went away before its answer: wake the followers to join again."""
        self._end(_ABANDONED)

    def _end(self, entry: Entry | _Abandoned | None) -> None:
        if self._done:
            return
        self._done = True
        flights = self._flights._flights  # (``SingleFlight._end`` written out: one call fewer a miss)
        if flights.get(self.key) is self:
            del flights[self.key]
        if self._future is not None and not self._future.done():
            self._future.set_result(entry)

    def __enter__(self) -> Leader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.publish(None)


class Follower:
    """A request identical to one in flight: it waits for that one's answer."""

    __slots__ = ("_future", "_stats", "abandoned")

    def __init__(self, future: asyncio.Future[Entry | _Abandoned | None], stats: CacheStats) -> None:
        self._future = future
        self._stats = stats
        self.abandoned = False
        """Set when ``wait`` returned None because the leader's caller went away: join again."""

    async def wait(self, timeout_s: float) -> Entry | None:
        """The leader's entry, or None when it had none (``abandoned``: it left) or ``timeout_s``
        passed first."""
        try:
            async with asyncio.timeout(timeout_s):
                entry = await asyncio.shield(self._future)
        except TimeoutError:
            self._stats.flight_timeouts += 1
            return None
        if isinstance(entry, _Abandoned):
            self.abandoned = True
            return None
        if entry is not None:
            self._stats.coalesced += 1
            self._stats.saved_cost_usd += entry.cost_usd or 0.0
            self._stats.saved_output_tokens += entry.usage.output_tokens if entry.usage else 0
        return entry


class SingleFlight:
    """The flights in progress, by cache key."""

    __slots__ = ("_flights", "_stats")

    def __init__(self, stats: CacheStats) -> None:
        self._stats = stats
        self._flights: dict[str, Leader] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def join(self, key: str, *, made: bool = True) -> Leader | Follower | None:
        """The ``Leader`` for ``key`` when none is in flight, else a ``Follower``; with ``made`` False (a
        refresh), None instead of following an answer already made (held while its write to Redis is on
        its way: the app asked for a new one, often right after it got that one): its own call."""
        leader = self._flights.get(key)
        if leader is not None:
            if not made and leader.published:
                return None
            return Follower(leader.shared(), self._stats)
        leader = self._flights[key] = Leader(self, key)
        return leader

    def _end(self, leader: Leader) -> None:
        if self._flights.get(leader.key) is leader:
            del self._flights[leader.key]
