"""Server-sent events: an incremental parser and an encoder.

The relay feeds upstream bytes to ``SSEParser.feed`` as they arrive, in chunks of any size, and gets back
the complete events; the encoder turns an event back into wire bytes. Parsing follows the WHATWG
algorithm for the fields LLM providers use (``event``, ``data``, ``id``, ``retry``; comments dropped, or a
block of comments only kept aside for a relay that passes them on: ``keep_comments``),
accepting ``\\n``, ``\\r\\n`` and ``\\r`` line ends, and ignoring a byte order mark that begins the
stream (some servers write one: read as part of the first field's name, it cost the stream its first
event, silently). ``raw`` keeps the event's original bytes so that a
same-dialect relay forwards exactly what the provider sent.

It runs once per streamed event, so the usual chunk, one whole event of one ``data:`` line or of an
``event:`` line and one ``data:`` line (every provider's), is read from one ``split`` with nothing
pending; a lone event in a longer buffer is read in slices; anything else line by line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from .held_bytes import HeldBytes


class SSEEvent(NamedTuple):
    """One event: ``event`` is the name (None for the default ``message``), ``data`` the joined data lines.

    A named tuple: the parser makes one per streamed event, and a tuple is the cheapest object to make.
    """

    data: bytes
    event: str | None = None
    raw: bytes = b""

    def encode(self) -> bytes:
        """Wire bytes for this event (its original bytes when it was parsed from a stream, or the ones an
        encoder made with it)."""
        if self.raw:
            return self.raw
        return encode_event(self.data, self.event)


_JOIN_EVERY = 64  # chunks of an unfinished event held apart before they are joined into one block
_BOM = b"\xef\xbb\xbf"  # U+FEFF in UTF-8: the WHATWG algorithm ignores one at the start of the stream

# An SSEEvent from a tuple of its three fields, without the generated __new__'s argument handling.
_new = cast(Callable[[type[SSEEvent], tuple[bytes, str | None, bytes]], SSEEvent], tuple.__new__)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """Encode one event; multi-line data becomes several ``data:`` lines."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    if b"\n" not in data:
        return head + b"data: " + data + b"\n\n"
    return head + b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"


class SSEParser:
    """Incremental SSE parser; keeps at most one partial event between calls.

    The partial event is kept as the chunks that brought it (LF line ends already), and a new chunk is
    searched alone for the blank line that ends it: an event arriving in many chunks costs its length
    once, not once per chunk (a provider that never ends its event, in small writes, made each chunk
    copy and scan everything before it: 16 s of CPU to reach the 16 MiB cap in 16 KiB chunks). A CR
    that ends a chunk is held until the next, which may begin with the LF of the same line end.

    Blank lines and comment-only blocks make no event; a stream may carry at most ``max_eventless_bytes``
    of them in all (a keep-alive comment every second for an hour is some 100 KB), past which ``feed``
    raises ``ValueError`` as for an event past its cap: a provider that sends nothing else, forever, is a
    broken answer, not a core kept busy until the request's timeout. A chunk of blank lines only is
    counted without being read block by block.

    Given the process's account (``held``: ``held_bytes.HeldBytes``), the chunks of an unfinished event are
    taken from it as they are kept, and given back when the event is read or dropped (``let_go``: the
    stream ended any other way); a chunk the account refuses raises ``HeldBytesFull``. A whole event in
    one chunk is never kept, and costs nothing there."""

    __slots__ = (
        "_account",
        "_cr",
        "_eventless",
        "_fresh",
        "_held",
        "_loose",
        "_max_event_bytes",
        "_max_eventless_bytes",
        "_parts",
        "comments",
    )

    def __init__(
        self,
        max_event_bytes: int = 16 * 1024 * 1024,
        keep_comments: bool = False,
        max_eventless_bytes: int = 1024 * 1024,
        held: HeldBytes | None = None,
    ) -> None:
        """``keep_comments``: a block of comment lines only (``: keep-alive``), which is no event, is added to
        ``comments`` as it came (LF line ends), for the caller to take (and clear; it may give another list
        to add them to); else it is dropped. ``held``: the account the unfinished event is held in."""
        self._account = held
        self._eventless = 0  # bytes of blank lines and comment-only blocks read so far
        self._max_eventless_bytes = max_eventless_bytes
        self._parts: list[bytes] = []  # the event not yet complete, LF line ends, no blank line in it
        self._held = 0  # their length
        self._loose = 0  # how many of them came since the last were joined into one (``_hold``)
        self._cr = False  # the last chunk ended in CR, held: the next may begin with its LF
        self._max_event_bytes = max_event_bytes
        self._fresh = True  # no line read yet by the general path below: a leading BOM is still possible
        self.comments: list[bytes] | None = [] if keep_comments else None

    @property
    def pending(self) -> bytes:
        """Bytes received that do not yet form a complete event."""
        held = b"".join(self._parts)
        return held + b"\r" if self._cr else held

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return every event they complete, in order."""
        parts = self._parts
        if self._cr:
            self._cr = False
            chunk = b"\r" + chunk
        elif not parts:  # the usual chunk: one whole event of an event line and a data line, or of
            # a data line, with nothing before it (split, not find/startswith/in: their argument handling
            # costs more than the search on a chunk this size)
            lines = chunk.split(b"\n", 3)
            count = len(lines)
            if count == 4 and not lines[3] and not lines[2]:
                name, data = lines[0], lines[1]
                if data[:6] == b"data: " and name[:7] == b"event: " and chunk.find(b"\r") < 0:
                    return [_new(SSEEvent, (data[6:], name[7:].decode("utf-8", "replace"), chunk))]
            elif count == 3 and not lines[2] and not lines[1]:
                data = lines[0]
                if data[:6] == b"data: " and chunk.find(b"\r") < 0:
                    return [_new(SSEEvent, (data[6:], None, chunk))]
        return self._read(chunk)

    def _read(self, chunk: bytes) -> list[SSEEvent]:
        """``feed`` for any chunk but the usual one: the events it completes, the rest held."""
        parts = self._parts
        if self._fresh:  # a stream that begins with a BOM never takes the usual chunk's path above
            chunk = self._past_bom(b"".join(parts) + chunk if parts else chunk)
            if not chunk:
                return []  # this waits for the rest of one cut short
        if chunk.find(b"\r") >= 0:
            if chunk[-1:] == b"\r":
                self._cr, chunk = True, chunk[:-1]
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not parts and not chunk.strip(b"\n"):
            return self._no_event(chunk)  # blank lines only (a flood of them read at C speed)
        if parts and chunk.find(b"\n\n") < 0 and not (chunk[:1] == b"\n" and parts[-1][-1:] == b"\n"):
            self._hold(chunk)  # no blank line yet: the event goes on
            return []
        buffer = b"".join([*parts, chunk]) if parts else chunk
        if parts:
            self.let_go()
        end = buffer.find(b"\n\n")
        if end >= 0 and end == len(buffer) - 2:  # exactly one whole event
            event = _parse_block(buffer, self.comments)
            return [event] if event is not None else self._no_event(buffer)
        events: list[SSEEvent] = []
        start = 0
        while end >= 0:
            event = _parse_block(buffer[start : end + 2], self.comments)
            if event is not None:
                events.append(event)
            start = end + 2
            end = buffer.find(b"\n\n", start)
        self._hold(buffer[start:] if start else buffer)
        return events if events or self._held else self._no_event(buffer)

    def _no_event(self, read: bytes) -> list[SSEEvent]:
        """``read`` (all of it consumed) made no event: counted against ``max_eventless_bytes``."""
        self._eventless += len(read)
        if self._eventless > self._max_eventless_bytes:
            raise ValueError(
                f"server-sent stream of more than {self._max_eventless_bytes} bytes of blank lines and comments"
            )
        return []

    def _hold(self, rest: bytes) -> None:
        """Keep ``rest`` (LF line ends, no blank line) as part of the event not yet complete; every
        ``_JOIN_EVERY`` chunks are joined into one (each byte copied once more), so that a long event is
        held in a few large blocks, not thousands of small ones the allocator keeps once freed."""
        if rest:
            account = self._account
            if account is not None and not account.take(len(rest)):
                raise account.full("an unfinished server-sent event")
            parts = self._parts
            parts.append(rest)
            self._held += len(rest)
            self._loose += 1
            if self._loose == _JOIN_EVERY:
                parts[-_JOIN_EVERY:] = [b"".join(parts[-_JOIN_EVERY:])]
                self._loose = 0
            if self._held > self._max_event_bytes:
                raise ValueError(f"server-sent event larger than {self._max_event_bytes} bytes")

    def _past_bom(self, buffer: bytes) -> bytes:
        """The stream's first bytes without the BOM that may begin them; ``b""`` (held) while they may
        still be its first bytes, cut short by the read."""
        self.let_go()
        if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
            self._hold(buffer)
            return b""
        self._fresh = False
        return buffer[len(_BOM) :] if buffer.startswith(_BOM) else buffer

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event not followed by a blank line is still an event."""
        rest = self.pending.replace(b"\r", b"\n")
        self.let_go()
        self._cr = False
        if not rest.strip():
            return []
        event = _parse_block(rest if rest.endswith(b"\n") else rest + b"\n")
        return [event] if event is not None else []

    def let_go(self) -> None:
        """Drop the unfinished event (its bytes given back to the account): read, or never to be."""
        self._parts.clear()
        if self._account is not None and self._held:
            self._account.give(self._held)
        self._held = self._loose = 0


def _parse_block(block: bytes, comments: list[bytes] | None = None) -> SSEEvent | None:
    """One event's lines (ending in a blank line) as an event; None for one without data or name (a block
    of comments then goes to ``comments``, when given)."""
    last = len(block) - 2
    if block.startswith(b"data: "):  # one data line
        if block.find(b"\n", 6) == last:
            return _new(SSEEvent, (block[6:last], None, block))
    elif block.startswith(b"event: "):  # an event line and one data line
        line = block.find(b"\n", 7)
        if block.startswith(b"data: ", line + 1) and block.find(b"\n", line + 7) == last:
            return _new(SSEEvent, (block[line + 7 : last], block[7:line].decode("utf-8", "replace"), block))
    name: str | None = None
    data_lines: list[bytes] = []
    for line_bytes in block.split(b"\n"):
        if not line_bytes or line_bytes.startswith(b":"):
            continue
        field, sep, value = line_bytes.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data_lines and name is None:
        if comments is not None and block[:1] == b":":
            comments.append(block)
        return None
    return _new(SSEEvent, (b"\n".join(data_lines), name, block))
