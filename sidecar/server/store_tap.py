"""The cache's stream tap: a caller's streamed answer assembled into a cache entry as it passes.

``StoreTap`` is a ``hooks.StreamTap`` the cache stage (``cache_stage``) hands the chain on a caching route's
miss: it feeds every delta of the answering target's stream to a ``cache.StreamAssembler`` and, once the
stream has ended, gives the entry (or None: nothing assembled, or a stream that did not end cleanly, which the
assembler refuses).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..cache import Entry, StreamAssembler

if TYPE_CHECKING:
    from ..dialects import Dialect
    from ..policy.compiled import Target
    from ..translate.deltas import Delta


class StoreTap:
    """A ``hooks.StreamTap`` that assembles the caller's streamed answer into an entry as it passes."""

    __slots__ = ("_assembler", "_caller", "_clean", "_max_bytes")

    def __init__(self, caller: Dialect, max_bytes: int) -> None:
        self._caller = caller
        self._max_bytes = max_bytes
        self._assembler: StreamAssembler | None = None
        self._clean = False

    def open(self, target: Target) -> None:
        # The deltas are the upstream's, decoded in its wire dialect: its reasoning keeps its origin; in the
        # caller's own dialect, its fields outside the common form are kept too.
        upstream = target.provider.wire_dialect(self._caller)
        self._assembler = StreamAssembler(upstream, self._max_bytes, extras=upstream is self._caller)

    def feed(self, delta: Delta) -> None:
        if self._assembler is not None:
            self._assembler.feed(delta)

    def close(self, clean: bool) -> None:
        self._clean = clean

    def entry(self, target: Target, cost: float | None) -> Entry | None:
        if self._assembler is None:
            return None
        return self._assembler.entry(
            ended_cleanly=self._clean,
            model=target.upstream_model,
            target=target.name,
            provider=target.provider.name,
            stored_at=time.time(),
            cost_usd=cost,
        )
