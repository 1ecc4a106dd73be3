"""Name resolution for upstream calls: each lookup bounded by the attempt's ``connect_s``, a failed one
remembered for a few seconds.

aiohttp's connector caches answers (``DNS_CACHE_S``) and merges concurrent lookups of one host into one,
but neither ends a lookup that hangs (a caller's ``connect`` timeout stops its wait; the lookup, shielded
from its callers, runs on) nor remembers a failure: with a resolver that hangs (a lost UDP answer costs
glibc 5 s) every call arriving meanwhile joins it and waits out its own ``connect_s``, and while the name
fails each call looks it up again. ``BoundedResolver`` wraps
the resolver aiohttp would use (``aiohttp.DefaultResolver``, or the class given to ``UpstreamClient``)
and is given to the connector, aiohttp's own seam for resolvers:

- a lookup taking longer than the calling attempt's ``connect_s`` fails as aiohttp's
  ``ConnectionTimeoutError`` (``timeout_connect``), an ``asyncio.timeout`` around the wrapped resolver.
  The attempt's ``connect_s`` reaches the resolver through a context variable ``post`` sets
  (``bound_lookup_by``): aiohttp runs the lookup in a task it creates from the first caller's context.
  Each caller is bounded by aiohttp's ``ClientTimeout(connect=connect_s)`` (``client``), which covers
  the lookup and the connect after it together; this bound ends the lookup itself (aiohttp shields it
  from its callers' timeouts), so that every call merged into it fails and the failure is remembered;
- a failed lookup (an ``OSError``: no such name, a resolver error, that timeout) is remembered per host,
  port and family for ``FAILED_LOOKUP_MEMORY_S``: a lookup within it fails at once with a copy of the
  error, without asking the resolver (aiohttp has no negative cache of its own); then the resolver is
  asked again. At most ``MAX_FAILED_NAMES`` failures are remembered (the oldest forgotten first).

State lives in the resolver object, which the upstream client owns; nothing at module level.
"""

from __future__ import annotations

import asyncio
import copy
import socket
from contextvars import ContextVar

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

FAILED_LOOKUP_MEMORY_S = 5.0
MAX_FAILED_NAMES = 256

_CONNECT_S: ContextVar[float | None] = ContextVar("sidecar_upstream_connect_s", default=None)
"""The calling attempt's ``connect_s`` (``bound_lookup_by``): a value per task context."""


def bound_lookup_by(connect_s: float) -> None:
    """Bound the name lookup of the calling task's next upstream call by ``connect_s`` seconds."""
    _CONNECT_S.set(connect_s)


class BoundedResolver(AbstractResolver):
    """A resolver whose lookups take at most the attempt's ``connect_s`` and whose failures are remembered
    for ``memory_s`` (see the module docstring)."""

    def __init__(
        self, wrapped: AbstractResolver, *, memory_s: float = FAILED_LOOKUP_MEMORY_S, most: int = MAX_FAILED_NAMES
    ) -> None:
        self._wrapped = wrapped
        self._memory_s = memory_s
        self._most = most
        self._loop = asyncio.get_running_loop()
        # by host, port, family: until when the failure holds, and the error
        self._failed: dict[tuple[str, int, int], tuple[float, OSError]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        key = (host, port, int(family))
        failed = self._failed.get(key)
        if failed is not None:
            until, error = failed
            if self._loop.time() < until:
                raise copy.copy(error)  # a fresh exception: one raised again would grow its traceback
            del self._failed[key]
        connect_s = _CONNECT_S.get()
        try:
            async with asyncio.timeout(connect_s):
                return await self._wrapped.resolve(host, port, family)
        except TimeoutError:  # (an OSError too) the bound, or the wrapped resolver's own
            failure: OSError = _timed_out(host, connect_s)
        except OSError as exc:
            failure = exc
        self._remember(key, failure)
        raise failure

    def _remember(self, key: tuple[str, int, int], error: OSError) -> None:
        if len(self._failed) >= self._most:
            del self._failed[next(iter(self._failed))]  # the oldest (insertion order)
        # a copy holds no traceback (nor the frames it references)
        self._failed[key] = (self._loop.time() + self._memory_s, copy.copy(error))

    async def close(self) -> None:
        await self._wrapped.close()


def _timed_out(host: str, connect_s: float | None) -> aiohttp.ConnectionTimeoutError:
    bound = "" if connect_s is None else f" (connect_s {connect_s:g} s)"
    return aiohttp.ConnectionTimeoutError(f"resolving {host} timed out{bound}")
