"""The shared store: the counters of every pod in one Redis, each operation one server-side Lua script.

Each counter is a hash ``<key>`` (fields ``u`` = used, ``h`` = held) and a sorted set ``<key>:r`` of its
holds (member ``<res_id>:<amount>``, score = the hold's expiry, epoch seconds by Redis's clock). Both expire at the end
of the counter's window plus a grace (``CounterRef.expires_at``), so old windows vanish by themselves;
a settlement after that recreates nothing that lives. Every key carries the hash tag ``{budgets}``, so
a script's keys share one slot on a Redis Cluster.

One script (``STORE_LUA``), one round trip per call: first the settlements the call carries (each:
claim ``<prefix>:{budgets}:d:<res_id>`` with SET NX so a retry counts once, drop the holds still there,
add the actual units), then, for ``reserve``, the reservation (purge expired holds, check caps, add
holds: all or nothing). ``settle_many`` is the settlements alone, ``read`` a reservation with an empty
id (purge and report). The ledger's ``GuardedStore`` queues settlements and hands them to the next
reservation, so a pod under load makes one call per request. The script is sent by SHA (EVALSHA);
redis-py's ``Script`` loads it again when the server answers NOSCRIPT (after a restart or SCRIPT
FLUSH). Needs Redis >= 6.2. Keys are given lifetimes (EXPIRE, SET EX), never instants: a pod whose
clock is minutes off Redis's still counts (an instant in Redis's past would delete a counter as written).
Holds are given lifetimes too, which the script turns into instants of Redis's clock (``TIME``) and
compares with it: pods whose clocks disagree agree on which holds have expired.

The password (``password.file`` or ``.env``) is read for each new connection
(``sidecar.redis_credentials``), so a rotated Secret needs no restart.

Windows are named by Redis's clock, not each pod's: ``clock`` (``server_clock.ServerClock``) is the
pod's clock moved by its offset from Redis's ``TIME``, measured by ``sync_clock`` (the keeper's, every
few seconds), and the ledger reads it too.

Every failure (connection, timeout, script error, pool exhausted, a password that cannot be read)
becomes ``StoreError``: the whole call is bounded by ``timeout_ms`` (``asyncio.timeout``) and redis-py's
own retries are off (the ledger's breaker decides). The client has no ``socket_timeout``: with one,
redis-py sends each command under ``asyncio.wait_for``, which on Python 3.11 returns a result that was
ready when a cancel came and drops the cancel (CPython gh-86296): a request whose app left during its
budget reservation ran its chain on to the end (wave 30's soak); the call's own bound is enough.

The pool is redis-py's ``BlockingConnectionPool`` (a call waits for a free connection, within its bound)
as ``WakingPool``, which passes on a wake-up its waiter could not take: on Python < 3.13 a waiter that a
release notified and that is cancelled before it runs (its call's timeout, its app gone) takes the
``asyncio.Condition``'s notification with it (CPython gh-112202), and the other waiters sleep beside the
free connection until their timeout, each a ``StoreError`` (a test cancelling calls under load saw 124).
redis-py does not pass it on itself (8.2.0, the newest release, neither); the condition is the pool's
private ``_condition``, checked when the store is built (``freed_condition``: redis-py 5.0.1 to 8.2.0; 8.2 is the lowest
``pyproject.toml`` takes).
A Redis error or timeout leaves no socket open: redis-py closes the connection of a command cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis import __version__ as redis_version
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..redis_credentials import SecretCredentials, SecretUnavailable
from .server_clock import ServerClock
from .spec import StoreSpec
from .store import CounterRef, ReserveResult, Settlement, StoreError

STORE_LUA = """
local k, a, settled = 0, 1, 0
for s = 1, tonumber(ARGV[1]) do
  local id, n = ARGV[a + 1], tonumber(ARGV[a + 3])
  if redis.call('SET', KEYS[k + 1], '1', 'NX', 'EX', ARGV[a + 2]) then
    settled = settled + 1
    for i = 1, n do
      local hkey, zkey = KEYS[k + 2 * i], KEYS[k + 2 * i + 1]
      local base = a + 3 + 3 * (i - 1)
      local reserved = ARGV[base + 1]
      if redis.call('ZREM', zkey, id .. ':' .. reserved) == 1 and reserved ~= '0' then
        redis.call('HINCRBY', hkey, 'h', '-' .. reserved)
      end
      if ARGV[base + 2] ~= '0' then
        redis.call('HINCRBY', hkey, 'u', ARGV[base + 2])
        redis.call('EXPIRE', hkey, ARGV[base + 3])
      end
    end
  end
  k = k + 1 + 2 * n
  a = a + 3 + 3 * n
end
if #ARGV == a then
  return {settled}
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local id = ARGV[a + 1]
local hold_until = string.format('%.6f', now + tonumber(ARGV[a + 2]))
local n = tonumber(ARGV[a + 3])
local uses = {}
local refused = 0
for i = 1, n do
  local hkey, zkey = KEYS[k + 2 * i - 1], KEYS[k + 2 * i]
  local expired = redis.call('ZRANGEBYSCORE', zkey, '-inf', now)
  if #expired > 0 then
    local freed = 0
    for _, member in ipairs(expired) do
      freed = freed + tonumber(string.match(member, ':(%d+)$'))
    end
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
    redis.call('HINCRBY', hkey, 'h', string.format('%d', -freed))
  end
  local v = redis.call('HMGET', hkey, 'u', 'h')
  local use = (tonumber(v[1]) or 0) + (tonumber(v[2]) or 0)
  uses[i] = use
  local base = a + 3 + 3 * (i - 1)
  local cap = tonumber(ARGV[base + 2])
  if refused == 0 and cap >= 0 and use + tonumber(ARGV[base + 1]) > cap then
    refused = i
  end
end
if refused == 0 and id ~= '' then
  for i = 1, n do
    local hkey, zkey = KEYS[k + 2 * i - 1], KEYS[k + 2 * i]
    local base = a + 3 + 3 * (i - 1)
    local amount = ARGV[base + 1]
    redis.call('HINCRBY', hkey, 'h', amount)
    redis.call('ZADD', zkey, hold_until, id .. ':' .. amount)
    redis.call('EXPIRE', hkey, ARGV[base + 3])
    redis.call('EXPIRE', zkey, ARGV[base + 3])
    uses[i] = uses[i] + tonumber(amount)
  end
end
table.insert(uses, 1, refused)
return uses
"""
"""The one script: first the settlements it carries (ARGV[1] of them: per settlement its id, the
seconds its done-marker lives, its counter count n and (reserved, used, key TTL) per counter; KEYS: the
marker, then each counter's hash and holds), then, when arguments remain, a reservation (id, the
holds' lifetime in seconds, n, and (amount, cap, key TTL) per counter; KEYS: each counter's hash and
holds). Key lifetimes are relative (EXPIRE, SET EX); a hold's expiry is an instant of Redis's clock
(``TIME`` in the script), the one clock every pod sharing the store agrees on: a pod whose clock is off
neither frees another's holds early nor keeps them late.
Replies ``{settled}`` without a reservation, else ``{refused index + 1 (0: none), uses...}``."""


class WakingPool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool; a call that leaves while a connection is free wakes the next waiter, in
    case the free connection was the one it had been woken for (the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.freed = freed_condition(self)

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        except BaseException:
            if self.can_get_connection():
                async with self.freed:
                    self.freed.notify()
            raise


def freed_condition(pool: aioredis.ConnectionPool) -> asyncio.Condition:
    """The ``asyncio.Condition`` on which redis-py's blocking pool waits for a free connection: its private
    ``_condition`` (no public method wakes a waiter, but ``release`` of a connection, which would count a
    connection used and released that was not). Read when the store is built: a redis-py release without
    it stops the sidecar at start (a ``RuntimeError``), not at the first cancelled waiter. Checked:
    redis-py 5.0.1 and 8.2.0 (the lock's, the newest released, the lowest ``pyproject.toml`` takes)."""
    condition = getattr(pool, "_condition", None)
    if not isinstance(condition, asyncio.Condition):
        raise RuntimeError(
            f"redis-py {redis_version}: {type(pool).__name__} has no asyncio.Condition `_condition`, on which "
            "llm-sidecar's WakingPool (sidecar/budgets/redis_store.py) passes on a wake-up a cancelled waiter "
            "took (CPython gh-112202); install the redis-py pyproject.toml takes (8.2 or later, below 9)"
        )
    return condition


class RedisStore:
    """Counters in Redis, shared by every pod that names the same server and ``key_prefix``."""

    remote = True

    def __init__(
        self, spec: StoreSpec, *, env: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.prefix = f"{spec.key_prefix}:{{budgets}}"
        self.clock = ServerClock(clock)  # the ledger's too: windows and key lifetimes follow it
        self._timeout_s = spec.timeout_ms / 1000
        options: dict[str, Any] = {
            "max_connections": spec.max_connections,
            "timeout": self._timeout_s,
            "socket_timeout": None,  # the call's bound is ``_call``'s (see the module docstring)
            "socket_connect_timeout": spec.connect_timeout_ms / 1000,
            "retry": Retry(NoBackoff(), 0),
        }
        if spec.password is not None:
            options["credential_provider"] = SecretCredentials(
                spec.username, spec.password, os.environ if env is None else env
            )
        elif spec.username is not None:
            options["username"] = spec.username
        tls = spec.tls  # only with a rediss:// URL, whose scheme makes the pool's connections TLS ones
        if spec.url.startswith("rediss://"):
            options.update(
                ssl_ca_certs=tls.ca_file if tls else None,
                ssl_certfile=tls.cert_file if tls else None,
                ssl_keyfile=tls.key_file if tls else None,
                ssl_cert_reqs="required" if tls is None or tls.verify else "none",
                ssl_check_hostname=tls is None or tls.verify,
            )
        pool = WakingPool.from_url(spec.url, **options)
        self._client = aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose closes both
        self._script = self._client.register_script(STORE_LUA)
        self._running = 0  # calls under way
        self._closed = False  # closed (a reload retired the store): calls still run, then the pool closes

    async def reserve(
        self,
        res_id: str,
        counters: Sequence[CounterRef],
        amounts: Sequence[int],
        now: float,
        hold_until: float,
        carried: Sequence[Settlement] = (),
    ) -> ReserveResult:
        keys, args = self._settlements(carried, now)
        args += (res_id, repr(max(0.0, hold_until - now)), len(counters))  # a lifetime: Redis's clock counts it
        for ref, amount in zip(counters, amounts, strict=True):
            keys += (ref.key, ref.key + ":r")
            args += (amount, ref.cap, _ttl(ref.expires_at, now))
        reply = await self._call(self._script(keys=keys, args=args))
        return ReserveResult(int(reply[0]) - 1, tuple(int(use) for use in reply[1:]))

    async def settle(
        self,
        res_id: str,
        counters: Sequence[CounterRef],
        reserved: Sequence[int],
        actual: Sequence[int],
        done_until: float,
    ) -> None:
        await self.settle_many([Settlement(res_id, counters, reserved, actual, done_until)])

    async def settle_many(self, settlements: Sequence[Settlement]) -> None:
        if settlements:
            keys, args = self._settlements(settlements, self.clock.now())
            await self._call(self._script(keys=keys, args=args))

    def _settlements(self, settlements: Sequence[Settlement], now: float) -> tuple[list[str], list[str | int | float]]:
        """The script's keys and arguments for ``settlements`` (a reservation's are appended after); key
        lifetimes relative to ``now``, the pod's clock."""
        keys: list[str] = []
        args: list[str | int | float] = [len(settlements)]
        for op in settlements:
            keys.append(f"{self.prefix}:d:{op.res_id}")
            args += (op.res_id, _ttl(op.done_until + 1, now), len(op.refs))
            for ref, held, used in zip(op.refs, op.reserved, op.actual, strict=True):
                keys += (ref.key, ref.key + ":r")
                args += (held, used, _ttl(ref.expires_at, now))
        return keys, args

    async def read(self, counters: Sequence[CounterRef], now: float) -> tuple[int, ...]:
        result = await self.reserve("", counters, [0] * len(counters), now, now)
        return result.uses

    async def ping(self) -> None:
        await self._call(self._client.ping())  # type: ignore[arg-type,unused-ignore]  # redis-py < 8 types ping() loosely

    async def sync_clock(self) -> None:
        """Measure the pod's clock against Redis's ``TIME`` (``ServerClock.sync``: one round trip)."""
        await self.clock.sync(self._server_time)

    async def _server_time(self) -> float:
        seconds, micros = await self._call(self._client.time())
        return float(seconds) + float(micros) / 1_000_000

    async def close(self) -> None:
        """Close the pool now, or once the calls under way are done. A call after the close (the
        settlement of a request in flight when a reload retired the store) still counts, and the pool is
        closed again after it: no connection it opens is left behind."""
        self._closed = True
        if self._running == 0:
            await self._close_pool()

    async def _close_pool(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()

    async def _call(self, command: Awaitable[Any]) -> Any:
        """Await one Redis ``command`` (a script's call, ``ping``, ``time``) within ``timeout_ms``, its
        failures as ``StoreError``."""
        self._running += 1
        try:
            async with asyncio.timeout(self._timeout_s):
                return await command
        except (RedisError, OSError, TimeoutError, SecretUnavailable) as exc:
            raise StoreError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        finally:
            self._running -= 1
            if self._closed and self._running == 0:
                await self._close_pool()


def _ttl(expires_at: float, now: float) -> int:
    """Whole seconds from ``now`` to ``expires_at`` (both the pod's clock), at least 1: a key given a
    lifetime rather than an instant lives as long whatever Redis's clock says."""
    return max(1, math.ceil(expires_at - now))
