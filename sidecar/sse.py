"""Server-sent events: an incremental parser and an encoder.

The relay feeds upstream bytes to ``SSEParser.feed`` as they arrive, in chunks of any size, and gets back
the complete events; the encoder turns an event back into wire bytes. Parsing follows the WHATWG
algorithm for the fields LLM providers use (``event``, ``data``, ``id``, ``retry``; comments dropped),
accepting ``\\n``, ``\\r\\n`` and ``\\r`` line ends. ``raw`` keeps the event's original bytes so that a
same-dialect relay forwards exactly what the provider sent.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One event: ``event`` is the name (None for the default ``message``), ``data`` the joined data lines."""

    data: bytes
    event: str | None = None
    raw: bytes = b""

    def encode(self) -> bytes:
        """Wire bytes for this event (its original bytes when it was parsed from a stream)."""
        if self.raw:
            return self.raw
        return encode_event(self.data, self.event)


def encode_event(data: bytes, event: str | None = None) -> bytes:
    """Encode one event; multi-line data becomes several ``data:`` lines."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    if b"\n" not in data:
        return head + b"data: " + data + b"\n\n"
    return head + b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"


class SSEParser:
    """Incremental SSE parser; keeps at most one partial event between calls."""

    __slots__ = ("_buffer", "_max_event_bytes")

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buffer = b""
        self._max_event_bytes = max_event_bytes

    @property
    def pending(self) -> bytes:
        """Bytes received that do not yet form a complete event."""
        return self._buffer

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return every event they complete, in order."""
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", start)
            if end < 0:
                break
            block = buffer[start : end + 2]
            start = end + 2
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        self._buffer = buffer[start:]
        if len(self._buffer) > self._max_event_bytes:
            raise ValueError(f"server-sent event larger than {self._max_event_bytes} bytes")
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream: a final event not followed by a blank line is still an event."""
        rest, self._buffer = self._buffer, b""
        if not rest.strip():
            return []
        event = _parse_block(rest if rest.endswith(b"\n") else rest + b"\n")
        return [event] if event is not None else []


def _parse_block(block: bytes) -> SSEEvent | None:
    name: str | None = None
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        if field == b"data":
            data_lines.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
    if not data_lines and name is None:
        return None
    return SSEEvent(data=b"\n".join(data_lines), event=name, raw=block)
