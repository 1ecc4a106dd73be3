"""One process-wide account of the bytes the sidecar holds from bodies, bounded by a ceiling.

Each memory cap of the sidecar is per request (``SIDECAR_MAX_BODY_BYTES``, ``SIDECAR_UPSTREAM_MAX_BODY_BYTES``,
an SSE event's 16 MiB); concurrency multiplies them, and an OOM kill ends every call in flight of the
pod. ``HeldBytes`` (one object, made at start with the app's state and passed where bodies are read) counts
what those reads hold now:

- an app's request body (``PARSED`` times its length), from its read to the end of its request
  (``pipeline.read_stage``; a body announced past what is left is refused before it is read);
- an upstream answer read whole (not a stream), decoded (so a gzip body's inflated bytes), ``PARSED``
  times, from its read to the end of its attempt (``upstream.UpstreamResponse``);
- a stream's unfinished SSE event, as its chunks are held (``sse.SSEParser``): a whole event in one read,
  the usual one, is never held and costs nothing here;
- a stream's events held back before its first content event, ``PARSED`` times, and a stream held whole
  for its quality gates, ``HELD_STREAM`` times, until sent or dropped (``server.stream``,
  ``server.stream_answer.StreamHold``);
- an answer over ``WRITTEN_FROM`` bytes while it is written to the app, ``WRITTEN`` times, until the app
  has read it (``server.handler``);
- what a shadow sample's background calls keep until the last ends (``server.shadowing``);
- an ensemble member's answer, ``VOTED`` times, from its walk's end until the vote is over
  (``server.ensemble_members``).

``take(size)`` adds ``size`` when it fits under the ceiling, else counts a refusal and returns False:
the reader then fails its one request (a 503 with ``Retry-After`` for an app body; the attempt error
``held_bytes_full`` for an upstream answer, event or held stream, ``HeldBytesFull``, after which the
chain falls back; a shadow sample is skipped), and the process lives. ``hold(size)`` adds without a
refusal (an answer being written: it was counted when read). ``give(size)`` returns bytes taken.
``held`` is the total now, ``peak`` its highest, ``refusals`` the count so far (``status()`` for
``/status``; ``report`` sets the metrics).

The ceiling (``ceiling_for``): ``SIDECAR_MAX_HELD_BYTES`` when set; else ``MEMORY_SHARE`` of the
container's memory limit (``memory_limit``: cgroup v2's ``memory.max``, else v1's
``memory/memory.limit_in_bytes``, read once at start; ``max`` or a value of ``UNLIMITED_FROM`` or more is
no limit); else ``DEFAULT_CEILING``, the share of the 192 Mi limit the shipped manifest sets. The
``held_bytes_ceiling`` start-up line says it and where it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .telemetry.instruments import Instruments

MiB = 1024 * 1024
MEMORY_SHARE = 0.5
"""The share of the container's memory limit bodies may hold: the rest is the process (some 60 MB idle,
150 MB at 2,000 streams, docs/operations.md) and the copies a body's reading makes on the way (a joined
read, its parse, its translation)."""
PARSED = 3
"""What a body read whole and parsed costs the account per byte: the bytes, the copy its reads are
joined into, and what its parse (and a translation's writing) makes of them, for as long as they are
held (a request body's parse lives as long as its request; an answer's while its attempt judges it): a
60 MiB answer relayed whole took a real process 180 MB above its idle RSS (docs/benchmarks.md, wave 38).
An unfinished event's chunks are kept as they came: once (8 such events of 16 MiB took 110-124 MB)."""
HELD_STREAM = 4
"""What a stream held whole for its quality gates costs the account per byte of the caller's events: the
bytes, the answer decoded from them (the gates read it, joined), and the bytes joined again to be sent
(one 24 MiB stream held took a real process 99 MB above its idle RSS: docs/benchmarks.md, wave 39). Bytes
held back before a stream's first content event (its preamble) cost ``PARSED``: themselves, and the copies
reading each event makes of it (as a failure's estimate of the output the provider bills does, one event at
a time: ``server.billed.streamed_tokens``)."""
WRITTEN = 2
"""What an answer read whole costs the account per byte while it is written to the app, from its attempt's
end until the app has read it (a slow reader keeps it that long): the body, and its parse kept for the
usage read after the answer (``Exchange.upstream_answer``)."""
VOTED = 4
"""What an ensemble member's answer costs the account per byte while it waits for the vote: the body, its
parse (kept for the confidence the vote may read), the ballot's text and its normalized key."""
WRITTEN_FROM = 64 * 1024
"""An answer up to this size is not counted while it is written: the write leaves at most this much to the
socket (aiohttp waits above it), so none is held longer than a write."""
DEFAULT_CEILING = 96 * MiB
"""The ceiling with no memory limit to read (a process outside a container): ``MEMORY_SHARE`` of the
shipped manifest's 192 Mi."""
UNLIMITED_FROM = 1 << 60
"""A limit this large is none: cgroup v1 says "unlimited" as 9223372036854771712."""
CGROUP_ROOT = Path("/sys/fs/cgroup")
_LIMIT_FILES = ("memory.max", "memory/memory.limit_in_bytes")  # cgroup v2, then v1


class HeldBytesFull(Exception):
    """Holding more of an upstream body would pass the process's ceiling: this attempt fails
    (``held_bytes_full``, not the provider's fault), the others go on."""


class HeldBytes:
    """The bytes held now by the process's body reads, under ``ceiling``; ``source`` says where the
    ceiling came from (the start-up log line, ``/status``)."""

    __slots__ = ("_reported", "ceiling", "held", "peak", "refusals", "source")

    def __init__(self, ceiling: int, source: str = "setting") -> None:
        self.ceiling = ceiling
        self.source = source
        self.held = 0
        self.peak = 0
        self.refusals = 0
        self._reported = 0  # refusals already added to the metric (``report``)

    def take(self, size: int) -> bool:
        """Add ``size`` bytes held; False (nothing added, a refusal counted) when they would pass the ceiling."""
        held = self.held + size
        if held > self.ceiling:
            self.refusals += 1
            return False
        self.held = held
        if held > self.peak:
            self.peak = held
        return True

    def hold(self, size: int) -> None:
        """Add ``size`` bytes that are held whatever the ceiling (an answer being written to its app: it
        was held under the ceiling when read, and refusing it now would only waste its call): past the
        ceiling, the next ``take`` is refused."""
        self.held = held = self.held + size
        if held > self.peak:
            self.peak = held

    def give(self, size: int) -> None:
        """``size`` bytes taken before are held no more."""
        self.held -= size

    def report(self, instruments: Instruments) -> None:
        """Set the metrics from the account (a scrape, the reload tick for a push): bytes held, the
        ceiling, and the refusals since the last report added to their counter."""
        instruments.held_bytes.set((), self.held)
        instruments.held_bytes_ceiling.set((), self.ceiling)
        instruments.held_bytes_refusals.inc((), self.refusals - self._reported)
        self._reported = self.refusals

    def status(self) -> dict[str, int | str]:
        """The account as ``/status`` shows it."""
        return {
            "held_bytes": self.held,
            "held_bytes_peak": self.peak,
            "held_bytes_ceiling": self.ceiling,
            "held_bytes_ceiling_source": self.source,
            "held_bytes_refusals": self.refusals,
        }

    def full(self, what: str) -> HeldBytesFull:
        """The error for ``what`` (an upstream body, an event) refused by the ceiling."""
        return HeldBytesFull(
            f"{what} would take the sidecar past the {self.ceiling} bytes it may hold from bodies at once "
            "(SIDECAR_MAX_HELD_BYTES)"
        )


def memory_limit(root: Path = CGROUP_ROOT) -> int | None:
    """The container's memory limit in bytes from the cgroup files under ``root`` (v2, then v1); None when
    neither is there or readable, or it says no limit (``max``, or ``UNLIMITED_FROM`` and more)."""
    for name in _LIMIT_FILES:
        try:
            text = (root / name).read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            limit = int(text)
        except ValueError:
            continue
        return limit if 0 < limit < UNLIMITED_FROM else None
    return None


def ceiling_for(setting: int | None, root: Path = CGROUP_ROOT) -> HeldBytes:
    """The process's account: its ceiling ``setting`` when given, else ``MEMORY_SHARE`` of the memory
    limit read under ``root``, else ``DEFAULT_CEILING``; its ``source`` says which."""
    if setting is not None:
        return HeldBytes(setting, "SIDECAR_MAX_HELD_BYTES")
    limit = memory_limit(root)
    if limit is None:
        return HeldBytes(DEFAULT_CEILING, "default (no memory limit found)")
    return HeldBytes(int(limit * MEMORY_SHARE), f"{MEMORY_SHARE:.0%} of the memory limit {limit}")
