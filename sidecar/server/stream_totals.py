"""A same-dialect stream's usage when its events carry the totals so far (``Translation.stream_usage_key``:
Gemini's ``usageMetadata``, on every fragment): the relay keeps the events, or reads of whole events,
whose bytes hold the key, unread (``KeptTotals.keep``, in ``EventReader.kept``), and at the stream's end
reads only the last of them that holds usage (``KeptTotals.usage``: ``last_usage``).

The bytes alone cannot tell a fragment's usage from an app's key of that name (a function call's
``args`` may hold ``usageMetadata``; a text may say it), so a kept one is not forgotten until one after
it is read and found to hold usage: once the kept ones' bytes reach ``KEEP_BYTES``, ``compact`` reads
back from the last until one holds usage and keeps only that one (one read per some 50 fragments of
300 bytes, as Google sends them; every kept one read only when none holds usage), so a stream holds
at most ``KEEP_BYTES`` and one read of them. The usage reported is then the last fragment's that carries
it at its top level, whatever a later fragment's arguments hold.
"""

from __future__ import annotations

from collections.abc import Callable

from ..sse import SSEEvent, SSEParser
from ..translate.common import Usage

KEEP_BYTES = 16_384
"""How many bytes of kept events (or reads) pile up before ``compact`` reads back to the last with usage."""

StreamUsage = Callable[[SSEEvent, Usage | None], Usage | None]
"""A dialect's ``Translation.stream_usage``: the stream's usage after an event, None when it holds none."""


class KeptTotals:
    """One stream's events (or reads of whole events) kept unread because their bytes hold the usage key
    (``unread``), their bytes (``size``), cut back to the last that holds usage whenever they reach
    ``KEEP_BYTES`` (``keep``)."""

    __slots__ = ("size", "stream_usage", "unread")

    def __init__(self, stream_usage: StreamUsage) -> None:
        self.stream_usage = stream_usage
        self.unread: list[SSEEvent | bytes] = []
        self.size = 0

    def keep(self, unread: SSEEvent | bytes, size: int) -> None:
        """Keep ``unread`` (``size``: its data's bytes), unread; at ``KEEP_BYTES`` kept, only the last that
        holds usage (``compact``)."""
        self.unread.append(unread)
        self.size += size
        if self.size >= KEEP_BYTES:
            self.size = compact(self.unread, self.stream_usage)

    def usage(self, earlier: Usage | None) -> Usage | None:
        """The stream's usage after the last kept that holds it (``last_usage``; None: none does, or none is
        kept); the kept ones are then forgotten."""
        if not self.unread:
            return None
        usage = last_usage(self.unread, self.stream_usage, earlier)
        self.unread.clear()
        self.size = 0
        return usage


def compact(kept: list[SSEEvent | bytes], stream_usage: StreamUsage) -> int:
    """``kept`` cut to the last of them that holds usage (read from the last back), or emptied when none
    does (the one ``compact`` kept before is among them: none holds usage yet); the bytes still kept."""
    for index in range(len(kept) - 1, -1, -1):
        unread = kept[index]
        if _usage_of(unread, stream_usage, None) is not None:
            del kept[index + 1 :]
            del kept[:index]
            return len(unread.data if isinstance(unread, SSEEvent) else unread)
    kept.clear()
    return 0


def last_usage(kept: list[SSEEvent | bytes], stream_usage: StreamUsage, earlier: Usage | None) -> Usage | None:
    """The stream's usage after the last of ``kept`` that holds usage (``earlier``: the usage before it, as
    ``stream_usage`` combines them); None when none does."""
    for unread in reversed(kept):
        usage = _usage_of(unread, stream_usage, earlier)
        if usage is not None:
            return usage
    return None


def _usage_of(unread: SSEEvent | bytes, stream_usage: StreamUsage, earlier: Usage | None) -> Usage | None:
    """The usage after the last event of ``unread`` (an event, or a read of whole events) that holds it."""
    events = [unread] if isinstance(unread, SSEEvent) else SSEParser().feed(unread)
    for event in reversed(events):
        usage = stream_usage(event, earlier)
        if usage is not None:
            return usage
    return None
