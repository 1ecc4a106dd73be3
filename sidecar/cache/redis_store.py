"""The Redis store: aiocache's ``RedisCache`` (on ``redis.asyncio``) built from a ``RedisStoreSpec``.

- The URL gives the host, port, database and an optional ACL user name; ``rediss://`` turns on TLS
  (``tls`` sets the CA bundle, a client certificate, or, for tests only, no verification).
- The password comes from an environment variable or a file (a mounted Secret), read when the store is
  built (a missing one is a ``CacheConfigError``) and again for each new connection
  (``sidecar.redis_credentials``, as the budgets' store does), so a rotated Secret needs no restart; it
  is handed to the Redis client and nowhere else (never logged: errors name its source).
- ``connect_timeout_s`` bounds a connect (redis-py's ``socket_connect_timeout``); ``timeout_s`` bounds
  each operation: the store runs every call under a deadline of ``timeout_s`` (``sidecar.deadline``, as the
  upstream call's first byte: it cancels the call, as ``asyncio.timeout`` would, at most 10 ms late, with
  one timer for every pending operation and without ``asyncio.timeout``'s three running-loop look-ups) and redis-py
  drops a connection whose command was cancelled, so a half-open connection cannot hold a request. The client
  gets no ``socket_timeout`` of its own (``None``, not redis-py's default of 5 s): with one, redis-py
  wraps every command's send in ``asyncio.wait_for`` (a task and a loop turn per command) and its read
  in a second timeout, for a bound the store already enforces (about 15 us of CPU per hit, and a hit's
  latency; bench/cache_redis_get.py).
- Values are stored as the bytes given (``NullSerializer(encoding=None)``), keys under
  ``key_prefix:`` (aiocache's namespace), so several deployments can share one Redis apart.
- A lookup's ``GET`` runs on a connection kept out of the pool (``KeptReads``: one of the pool's
  connections, its settings and password included), at most half of ``max_connections`` of them, one
  per lookup running at once; a lookup that finds them all busy uses the pool. The pool's take and
  give-back per command (two locks, its connection-count records, an event dispatched: about 43,000
  instructions of a bare 190,000-instruction ``GET``, 27,000-31,000 of a whole Redis hit:
  docs/benchmarks.md, "Wave 44", branch cache45) are paid once per kept connection; the command is sent
  and its reply read on the connection itself (``send_packed_command`` of the ``GET`` as redis-py's
  ``pack_command`` encodes it, ``read_response``), without a client's command path (its lock, retry
  wrapper, response callback lookup and operation-duration record: docs/benchmarks.md, "Wave 45", branch
  cache46; the command's name and key handed to ``pack_command`` as bytes: its encoder's checks and split of a
  string name skipped, wave 56 ``cache57``). Without that
  path's retry, ``KeptReads`` retries a ``GET`` that failed on a connection whose death it had not seen
  yet, once, on that connection connected afresh (docs/caching.md, "The cache never fails a request").

``describe`` renders the store for logs and /status without any secret.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from .spec import RedisStoreSpec


class CacheConfigError(Exception):
    """The store cannot be built; the message names the source of the problem, never a secret."""


def describe(spec: RedisStoreSpec) -> str:
    """``redis://host:port/db`` (user name and password left out)."""
    parts = urlsplit(spec.url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{parts.port or 6379}/{parts.path.strip('/') or '0'}"


def build_redis_backend(spec: RedisStoreSpec, env: Mapping[str, str] = os.environ) -> Any:
    """An aiocache ``RedisCache`` for ``spec`` (no connection is made until the first operation)."""
    from aiocache.backends.redis import RedisCache  # imports redis: only when a Redis store is configured
    from aiocache.serializers import NullSerializer

    from ..redis_credentials import SecretCredentials, SecretUnavailable

    parts = urlsplit(spec.url)
    # No socket_timeout: the store's own timeout bounds every operation (see the module docstring).
    pool: dict[str, Any] = {"socket_timeout": None, "socket_keepalive": True}
    username = unquote(parts.username) if parts.username else None
    if spec.password is not None:
        credentials = SecretCredentials(username, spec.password, env)
        try:
            credentials.get_credentials()  # a missing secret fails the build, not every operation
        except SecretUnavailable as exc:
            raise CacheConfigError(str(exc)) from None
        pool["credential_provider"] = credentials  # read again for each new connection (rotation)
    elif username is not None:
        pool["username"] = username
    tls = parts.scheme == "rediss"
    if tls and spec.tls is not None:
        pool["ssl_cert_reqs"] = "required" if spec.tls.verify else "none"
        pool["ssl_check_hostname"] = spec.tls.verify
        if spec.tls.ca_file:
            pool["ssl_ca_certs"] = spec.tls.ca_file
        if spec.tls.cert_file:
            pool["ssl_certfile"] = spec.tls.cert_file
            pool["ssl_keyfile"] = spec.tls.key_file
    return RedisCache(
        serializer=NullSerializer(encoding=None),
        namespace=spec.key_prefix,
        timeout=None,  # the store bounds each operation itself (one timer, no task per call)
        endpoint=parts.hostname,
        port=parts.port or 6379,
        db=int(parts.path.strip("/") or 0),
        pool_max_size=spec.max_connections,
        create_connection_timeout=spec.connect_timeout_s,
        ssl=tls,
        connection_pool_kwargs=pool,
    )


class KeptReads:
    """``GET`` on connections kept out of ``client``'s pool (see the module docstring), one command at a time
    each, sent and read on the connection itself (redis-py's ``send_packed_command`` of its ``pack_command``,
    without the health check's coroutine: the pool's connections have no health-check interval; and
    ``read_response``: no client's command path around them). Before each command its connection is
    checked as the pool checks one it hands out (``ensure_connection``: connected again when Redis's close
    of it was already seen, a restart or a failover; a connected one by that check's ``can_read`` first,
    without its ``connect``: a retry wrapper and two coroutines around ``is_connected``); a command that
    fails or is cancelled (the store's timeout) leaves its connection disconnected (redis-py's connection
    does so itself). A connection error
    on a connection used before (its death not yet seen: a reset by a middlebox that dropped it idle,
    Redis's close arriving with the command) is told to ``retried`` (the store counts it as an error) and
    the ``GET`` sent once more on that connection connected afresh, as redis-py's client retried it; any
    other failure (a connect that failed, a refused password, an error reply, the store's timeout) is
    raised to the store: a miss, counted against its breaker."""

    def __init__(self, client: Any, most: int, retried: Callable[[BaseException], None]) -> None:
        self._client = client  # aiocache's redis-py client: its pool
        self._most = most
        self._retried = retried
        from redis.exceptions import AuthenticationError, AuthorizationError, ConnectionError  # a Redis store's only

        self._retry_on = ConnectionError
        self._not_retried = (AuthenticationError, AuthorizationError)  # a fresh connection would meet them again
        self._idle: list[Any] = []  # kept connections running no command (the last used first)
        self._kept: list[Any] = []

    async def get(self, key: str) -> bytes | None:
        """The value under ``key`` (aiocache's key: the prefix included), or None."""
        pool = self._client.connection_pool
        idle = self._idle
        if idle:
            connection = idle.pop()
        elif len(self._kept) < self._most:
            connection = await pool.get_connection()  # connected and checked by the pool; kept from now on
            self._kept.append(connection)
        else:  # every kept connection busy: the pool's
            value: bytes | None = await self._client.get(key)
            return value
        try:
            used = connection.is_connected  # False: connected now, so a failure is not a stale socket's
            try:  # the pool's check without its ``connect`` (a retry wrapper, two coroutines) when connected
                ready = used and not await connection.can_read()
            except self._retry_on:  # Redis's close (or a reset) already seen: the pool's check connects afresh
                ready = False
            if not ready:
                await pool.ensure_connection(connection)  # a connect that fails here is raised, not retried
            # redis-py's RESP encoder, not one of ours, handed bytes: the command's name not split and encoded,
            # the key not through the encoder's type checks (its UTF-8, as the encoder would write it)
            command = connection.pack_command(b"GET", key.encode())
            try:
                await connection.send_packed_command(command, check_health=False)
                got: bytes | None = await connection.read_response()  # raises Redis's error reply
                return got
            except self._retry_on as exc:
                if not used or isinstance(exc, self._not_retried):
                    raise
                self._retried(exc)  # the connection is disconnected (redis-py's read did it): connect afresh
            await pool.ensure_connection(connection)
            await connection.send_packed_command(command, check_health=False)
            again: bytes | None = await connection.read_response()
            return again
        finally:
            idle.append(connection)

    async def close(self) -> None:
        """Give the kept connections back to the pool (which its client's close then shuts)."""
        pool = self._client.connection_pool
        for connection in self._kept:
            await pool.release(connection)
        self._kept.clear()
        self._idle.clear()


async def close_redis_backend(backend: Any) -> None:
    """Close the client and its pool (``aclose``: redis-py's ``close``, which aiocache calls, is deprecated)."""
    await backend.client.aclose()
