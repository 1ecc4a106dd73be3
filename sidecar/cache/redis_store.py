"""The Redis store: aiocache's ``RedisCache`` (on ``redis.asyncio``) built from a ``RedisStoreSpec``.

- The URL gives the host, port, database and an optional ACL user name; ``rediss://`` turns on TLS
  (``tls`` sets the CA bundle, a client certificate, or, for tests only, no verification).
- The password comes from an environment variable or a file (a mounted Secret), read when the store is
  built; it is handed to the Redis client and nowhere else (never logged: errors name its source).
- ``connect_timeout_s`` bounds a connect (redis-py's ``socket_connect_timeout``); ``timeout_s`` bounds
  each operation: the store runs every call under ``asyncio.timeout(timeout_s)`` and redis-py drops a
  connection whose command was cancelled, so a half-open connection cannot hold a request. The client
  gets no ``socket_timeout`` of its own (``None``, not redis-py's default of 5 s): with one, redis-py
  wraps every command's send in ``asyncio.wait_for`` (a task and a loop turn per command) and its read
  in a second timeout, for a bound the store already enforces (about 15 us of CPU per hit, and a hit's
  latency; bench/cache_redis_get.py).
- Values are stored as the bytes given (``NullSerializer(encoding=None)``), keys under
  ``key_prefix:`` (aiocache's namespace), so several deployments can share one Redis apart.

``describe`` renders the store for logs and /status without any secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from .spec import RedisStoreSpec, SecretSourceSpec


class CacheConfigError(Exception):
    """The store cannot be built; the message names the source of the problem, never a secret."""


def read_secret(source: SecretSourceSpec, env: Mapping[str, str]) -> str:
    if source.env is not None:
        value = env.get(source.env, "").strip()
        if not value:
            raise CacheConfigError(f"environment variable {source.env} is not set")
        return value
    assert source.file is not None
    try:
        with open(source.file, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError as exc:
        raise CacheConfigError(f"secret file {source.file} cannot be read: {exc.strerror}") from None
    if not value:
        raise CacheConfigError(f"secret file {source.file} is empty")
    return value


def describe(spec: RedisStoreSpec) -> str:
    """``redis://host:port/db`` (user name and password left out)."""
    parts = urlsplit(spec.url)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{parts.port or 6379}/{parts.path.strip('/') or '0'}"


def build_redis_backend(spec: RedisStoreSpec, env: Mapping[str, str] = os.environ) -> Any:
    """An aiocache ``RedisCache`` for ``spec`` (no connection is made until the first operation)."""
    from aiocache.backends.redis import RedisCache  # imports redis: only when a Redis store is configured
    from aiocache.serializers import NullSerializer

    parts = urlsplit(spec.url)
    # No socket_timeout: the store's own timeout bounds every operation (see the module docstring).
    pool: dict[str, Any] = {"socket_timeout": None, "socket_keepalive": True}
    if parts.username:
        pool["username"] = unquote(parts.username)
    tls = parts.scheme == "rediss"
    if tls and spec.tls is not None:
        pool["ssl_cert_reqs"] = "required" if spec.tls.verify else "none"
        pool["ssl_check_hostname"] = spec.tls.verify
        if spec.tls.ca_file:
            pool["ssl_ca_certs"] = spec.tls.ca_file
        if spec.tls.cert_file:
            pool["ssl_certfile"] = spec.tls.cert_file
            pool["ssl_keyfile"] = spec.tls.key_file
    password = read_secret(spec.password, env) if spec.password is not None else None
    return RedisCache(
        serializer=NullSerializer(encoding=None),
        namespace=spec.key_prefix,
        timeout=None,  # the store bounds each operation itself (asyncio.timeout, no task per call)
        endpoint=parts.hostname,
        port=parts.port or 6379,
        db=int(parts.path.strip("/") or 0),
        password=password,
        pool_max_size=spec.max_connections,
        create_connection_timeout=spec.connect_timeout_s,
        ssl=tls,
        connection_pool_kwargs=pool,
    )


async def close_redis_backend(backend: Any) -> None:
    """Close the client and its pool (``aclose``: redis-py's ``close``, which aiocache calls, is deprecated)."""
    await backend.client.aclose()
