"""Where entries are kept, behind guards that keep the cache from ever failing a request.

Two stores with one interface (``Store``: async ``get``/``set``/``delete`` that never raise, ``name``,
``breaker``, ``gauges``):

- ``MemoryStore``: the in-process ``BoundedMemoryBackend``. It cannot fail or block, so it has no
  timeout and no breaker, and calls the backend's synchronous ``read``/``write`` directly. Besides the
  bytes of the ``Store`` interface it keeps entries as objects (``Kept``: the ``Entry``, neither encoded
  nor decoded, counted at its ``entry.footprint``) with the answers rendered for its hits
  (``replay.template``: the whole body, or the whole stream, made on an entry's first hit in that form
  and counted at their size too), and the time it was kept on the backend's monotonic clock
  (``Kept.stored_s``): ``response_cache`` tells a kept entry's age by the clock its deadline is on, so a
  step of the wall clock neither ages it nor keeps it young. A miss's answer kept pending
  (``pending.Pending``, counted at its bytes, stamped with the same clock: ``Pending.kept_s``) becomes its
  ``Kept`` on the key's first read (``read_kept``), counted at the entry's footprint from then on.
- ``GuardedStore``: any aiocache backend that goes over the network (Redis), through aiocache's API::

      get/set --breaker open?--> no operation: a miss (``breaker_skips``)
              --run under a deadline of timeout_s--> ok: breaker success
                                                    --> timeout or error: breaker failure, ``errors``
                                                        (+ ``timeouts``), a miss; one log line per
                                                        ``log_interval_s`` with the count since the last

  The breaker is the resilience package's ``CircuitBreaker`` (the state machine of the upstream
  targets), so while Redis is down a lookup costs a few hundred nanoseconds, not a timeout. A read
  (``get``, on the request path) is one ``GET`` on the backend's Redis client under aiocache's key
  (``build_key``), without aiocache's per-call wrappers (its own timeout, plugin hooks and debug log:
  this store has its own timeout, and values are bytes, so nothing is lost), on a connection kept out
  of the pool when given one (``read``: ``redis_store.KeptReads``); writes and deletes go
  through aiocache's API. A ``get`` given ``ahead`` (work its caller can do without the value) schedules
  it as a loop callback as the ``GET`` starts: it runs once the command is written and the task waits
  for the reply, overlapping Redis's work instead of following its reply. ``stop`` (a reload replaced
  the store, or shutdown) refuses every later operation (a miss, nothing written: requests still in flight
  on the old store must not reopen the connections its close is about to shut) and waits for those
  running, each bounded by its timeout.
"""

from __future__ import annotations

import asyncio
import sys
import time
from asyncio import current_task
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..deadline import Deadline, DeadlineClock
from ..dialects import Dialect
from ..resilience.breaker import CircuitBreaker
from ..telemetry.failure_log import FailureLog
from .entry import Entry, encode, footprint
from .padding import Rendered, size_of
from .pending import Pending
from .replay import Form, fill_body, template
from .stats import CacheStats

if TYPE_CHECKING:
    from .memory import BoundedMemoryBackend


class Store(Protocol):
    name: str
    stats: CacheStats

    @property
    def breaker(self) -> CircuitBreaker | None: ...
    def get(self, key: str, ahead: Callable[[], object] | None = None) -> Awaitable[bytes | None]: ...
    async def set(self, key: str, value: bytes, ttl_s: float) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def warm(self) -> None: ...
    def gauges(self) -> dict[str, float]: ...


class Kept:
    """An entry in the memory store, with the answers rendered for its hits (templates, per caller
    dialect and form) and when it was kept (``stored_s``: on the backend's monotonic ``clock``, which
    tells its age as it tells its deadline; the entry's own ``stored_at`` is wall-clock time)."""

    __slots__ = ("bodies", "entry", "stored_s")

    def __init__(self, entry: Entry, stored_s: float) -> None:
        self.entry = entry
        self.stored_s = stored_s
        self.bodies: dict[tuple[Dialect, Form], Rendered] | None = None


KEPT_OVERHEAD = 80
"""The bytes of a ``Kept`` object and its ``stored_s`` float (its entry and templates are counted apart)."""

KEPT_SLACK = 600
"""Bytes counted per kept entry beyond its objects' sizes: an entry kept as objects is many small
allocations made among a request's temporaries, and the allocator's pages they pin outweigh them.
Measured through the sidecar with 10,000 answers of 2 KB (``bench/cache_path.py``): the process grew by
about 3,500 bytes an entry where 2,870 were counted; without this the byte bound was exceeded by 22 %."""
_size = sys.getsizeof


class MemoryStore:
    """The bounded in-process store (``memory``)."""

    breaker = None

    def __init__(self, backend: BoundedMemoryBackend, stats: CacheStats) -> None:
        self.backend = backend
        self.stats = stats
        self.name = "memory"

    async def get(self, key: str, ahead: Callable[[], object] | None = None) -> bytes | None:
        """The bytes under ``key``, or None (``ahead`` is not called: nothing to wait for)."""
        value = self.read_kept(key)
        if isinstance(value, Kept):  # kept as objects: encoded on demand (never on the request path)
            value = encode(value.entry)
        if value is not None:
            self.stats.bytes_read += len(value)
        return value

    def read_entry(self, key: str) -> Entry | bytes | None:
        """What is kept under ``key`` (now the most recently used): an entry (``write_entry``), bytes
        (``set``), or None."""
        value = self.read_kept(key)
        return value.entry if isinstance(value, Kept) else value

    def read_kept(self, key: str) -> Kept | bytes | None:
        """``read_entry`` with the entry's ``Kept`` (when it was kept: ``stored_s``); a pending answer's
        entry made now and kept in its place, counted at its size from now on (one whose body does not read
        as an entry: dropped, counted damaged, None)."""
        value: Kept | Pending | bytes | None = self.backend.read(key)
        if not isinstance(value, Pending):
            return value
        entry = value.entry()
        if entry is None:
            self.stats.damaged += 1
            self.backend.remove(key)
            return None
        kept = Kept(entry, value.kept_s)
        self.backend.swap(key, kept, footprint(entry) - value.size)
        return kept

    def write_pending(self, key: str, pending: Pending, ttl_s: float, size: int) -> bool:
        """Keep ``pending`` (of ``size``: ``Pending.size``) until its key is first read, stamped with the
        backend's clock, counted as ``size`` with the overhead and slack of a kept entry (measured: without the
        slack 10,000 pending answers of 2 KB grew the process by 1.17 of the bytes counted; its bytes, too, pin
        pages among a request's temporaries); False when not kept."""
        backend = self.backend
        pending.kept_s = now = backend.clock()  # its age and its deadline told from this one reading
        stored = backend.write(key, pending, ttl_s, size + KEPT_OVERHEAD + KEPT_SLACK, now=now)
        if stored:
            self.stats.bytes_written += size
        return stored

    def write_entry(self, key: str, entry: Entry, size: int, ttl_s: float) -> bool:
        """Keep ``entry`` as it is, counted as ``size`` bytes (``entry.footprint``), stamped with the
        backend's clock; False when not kept."""
        backend = self.backend
        now = backend.clock()  # its age and its deadline told from this one reading
        stored = backend.write(key, Kept(entry, now), ttl_s, size + KEPT_OVERHEAD + KEPT_SLACK, now=now)
        if stored:
            self.stats.bytes_written += size
        return stored

    def answer(self, key: str, entry: Entry, dialect: Dialect, form: Form) -> bytes:
        """``entry`` as one hit's ``dialect`` answer in ``form``, from the template kept with it (made and
        counted the first time; not kept when ``key`` no longer holds this entry or it would not fit)."""
        kept = self.backend.peek(key)
        if not isinstance(kept, Kept) or kept.entry is not entry:
            return fill_body(template(entry, dialect, form), dialect)
        bodies = kept.bodies
        which = (dialect, form)
        rendered = bodies.get(which) if bodies is not None else None
        if rendered is None:
            rendered = template(entry, dialect, form)
            if bodies is None:
                bodies = {which: rendered}
                grown = _size(bodies) + size_of(rendered)
            else:
                before = _size(bodies)
                bodies[which] = rendered
                grown = _size(bodies) - before + size_of(rendered)
            if self.backend.grow(key, grown):
                kept.bodies = bodies
            elif kept.bodies is not None:
                del kept.bodies[which]
        return fill_body(rendered, dialect)

    async def set(self, key: str, value: bytes, ttl_s: float) -> bool:
        return self.write(key, value, ttl_s)

    def write(self, key: str, value: bytes, ttl_s: float) -> bool:
        """``set`` without a coroutine: the memory store never waits (the request path writes this way)."""
        stored = self.backend.write(key, value, ttl_s)
        if stored:
            self.stats.bytes_written += len(value)
        return stored

    async def delete(self, key: str) -> None:
        self.backend.remove(key)

    async def warm(self) -> None:
        """Nothing to connect."""

    def gauges(self) -> dict[str, float]:
        """``entries`` and ``bytes`` held, ``evictions`` (to make room) and ``expirations`` so far."""
        b = self.backend
        return {"entries": b.entries, "bytes": b.bytes, "evictions": b.evictions, "expirations": b.expirations}


class GuardedStore:
    """An aiocache backend behind a timeout, a breaker, counters and a throttled log line."""

    def __init__(
        self,
        backend: Any,
        *,
        name: str,
        stats: CacheStats,
        timeout_s: float,
        breaker: CircuitBreaker,
        log_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        read: Callable[[str], Awaitable[bytes | None]] | None = None,
    ) -> None:
        self.backend = backend
        self.name = name  # for logs: the Redis URL without credentials
        self.stats = stats
        self._timeout_s = timeout_s
        self._breaker = breaker
        self._failures = FailureLog("sidecar.cache", "cache_store_failing", log_interval_s, clock)
        self._build_key: Callable[[str], str] = backend.build_key  # the key under aiocache's namespace
        # a lookup's GET: ``read`` (``redis_store.KeptReads``: a kept connection), else the backend's client
        self._client_get: Callable[[str], Any] = read or backend.client.get
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop operations run on (read on the first)
        self._deadlines = DeadlineClock()  # each operation's timeout: one timer for all (``sidecar.deadline``)
        self._running = 0  # operations under way
        self._stopped: asyncio.Event | None = None  # set by ``stop``: no new operation; set once none runs

    @property
    def breaker(self) -> CircuitBreaker:
        return self._breaker

    def get(self, key: str, ahead: Callable[[], object] | None = None) -> Awaitable[bytes | None]:
        """The bytes stored under ``key``, or None (absent, or the backend failed, timed out, is off); ``ahead``:
        work the caller wants done while the ``GET`` is on its way (see ``_guarded``). ``_guarded``'s own
        coroutine, counted there: no coroutine of its own around it (one frame fewer a lookup to create, resume
        after the reply and return through: docs/benchmarks.md, wave 56 ``cache57``)."""
        return self._guarded("get", self._client_get, self._build_key(key), ahead=ahead)

    async def set(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Store ``value`` for ``ttl_s`` seconds; False when it was not stored."""
        stored = bool(await self._guarded("set", self.backend.set, key, value, ttl=ttl_s))
        if stored:
            self.stats.bytes_written += len(value)
        return stored

    async def delete(self, key: str) -> None:
        await self._guarded("delete", self.backend.delete, key)

    async def warm(self) -> None:
        """Open a pooled connection now (a PING), so that the first lookup is one round trip, not a
        connect (and a TLS handshake) too; a failure counts as any other."""
        await self._guarded("ping", self.backend.client.ping)

    def gauges(self) -> dict[str, float]:
        """The breaker's state: 0 closed, 1 half-open, 2 open."""
        return {"breaker_state": {"closed": 0, "half_open": 1, "open": 2}[str(self._breaker.state)]}

    async def stop(self) -> None:
        """Refuse every operation from now on and return once those under way are done (the backend can
        then be closed without a request reopening its connections)."""
        if self._stopped is None:
            self._stopped = asyncio.Event()
        if self._running == 0:
            self._stopped.set()
        await self._stopped.wait()

    async def _guarded(
        self,
        operation: str,
        call: Callable[..., Any],
        *args: Any,
        ahead: Callable[[], object] | None = None,
        **kwargs: Any,
    ) -> Any:
        """``call`` under the breaker and the timeout (see the module docstring). ``ahead``: a loop callback
        scheduled as the operation starts, so that it runs when the operation first waits (a ``GET`` written,
        its reply not yet read), overlapping Redis's own work instead of following the reply; not called when
        the breaker or ``stop`` refuses the operation."""
        if self._stopped is not None:  # replaced by a reload, or shut down: a miss, nothing written
            return None
        permit = self._breaker.try_acquire()
        if permit is None:
            self.stats.breaker_skips += 1
            return None
        loop = self._loop
        if loop is None or current_task(loop) is None:  # the first operation (or one on another loop: tests)
            loop = self._loop = asyncio.get_running_loop()  # (given the loop: no running-loop look-up after)
        deadline = Deadline(loop, loop.time() + self._timeout_s, self._deadlines)
        if ahead is not None:
            loop.call_soon(ahead)
        self._running += 1
        try:
            result = await call(*args, **kwargs)
        except asyncio.CancelledError:
            if not deadline.lift():  # the caller's cancellation, not the timeout
                permit.release()
                raise
            permit.record_failure()
            self.stats.timeouts += 1
            self.failed(operation, TimeoutError())
            return None
        except Exception as exc:
            permit.record_failure()
            self.failed(operation, exc)
            return None
        finally:
            deadline.lift()  # nothing left pending (a second lift does nothing)
            self._running -= 1
            if self._running == 0 and self._stopped is not None:
                self._stopped.set()
        permit.record_success()
        if operation == "get" and result is not None:  # a read's value: its bytes counted
            self.stats.bytes_read += len(result)
        return result

    def failed(self, operation: str, exc: BaseException) -> None:
        """Count a failed operation as an error and log it (at most one line per interval)."""
        self.stats.errors += 1
        self._failures.failed(
            store=self.name,
            operation=operation,
            error=type(exc).__name__,
            detail=str(exc)[:200] or "timed out",
            breaker=str(self._breaker.state),
        )
