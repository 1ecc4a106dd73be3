"""A route's cache settings as the request path reads them: one slotted record made once per load.

``RouteCacheSpec`` is a pydantic model, whose class defines ``__getattr__``: Python 3.11 specializes no
read of its fields (about 460 instructions a read, against 96 for a slot; docs/benchmarks.md, "Wave 47
`plain48`"), and a miss or a hit reads some ten (the app's control, ``ttl_s`` and ``stale_s`` twice, the
single-flight wait, ``store_truncated``, ``cacheable``). ``RouteCache.rules`` holds a ``CacheRules``
copied from the merged spec (``CacheRules.of``) beside it, and the cache stage, the key and
``ResponseCache`` read that. The spec stays the source, validated and immutable: ``diff`` and ``explain``
read it (``RouteCache.settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..policy.base import slotted_copy
from .spec import RouteCacheSpec


@dataclass(frozen=True, slots=True)
class CacheRules:
    """A ``RouteCacheSpec``'s fields, in slots (see the module docstring)."""

    enabled: bool
    ttl_s: float
    cacheable: Literal["deterministic", "always"]
    stale_s: float
    store_truncated: bool
    share_across_apps: bool
    single_flight_wait_s: float
    client_control: bool

    @classmethod
    def of(cls, spec: RouteCacheSpec) -> CacheRules:
        return slotted_copy(cls, spec)


Settings = CacheRules | RouteCacheSpec
"""What ``ResponseCache`` reads a route's ``ttl_s``, ``stale_s`` and ``store_truncated`` from: the request
path gives the rules, a caller off it (a test, a bench) may give the spec."""
