"""The app's request body on its way to the provider: read from the app's connection as the provider's
connection takes it (never held whole: aiohttp's reader pauses the app's socket while its buffer is
full), counted against the passthrough's ``max_body_bytes``, and each chunk's arrival told to
``on_chunk(False)``, its end to ``on_chunk(True)`` (the caller's timer moves: a body that stops coming,
or a provider that stops taking it, ends the call after ``idle_s``; the head is then awaited).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp.streams import StreamReader


class BodyTooLarge(Exception):
    """The app's body went past the passthrough's ``max_body_bytes`` (a body without ``Content-Length``)."""


class StreamedBody:
    """One call's body from ``content`` (see the module docstring). ``started``: whether a byte was read
    (a call whose body has begun cannot be made again); ``read``: the bytes read; ``too_large``: it
    stopped at the limit; ``done``: every byte was read."""

    __slots__ = ("_content", "_limit", "_on_chunk", "done", "read", "started", "too_large")

    def __init__(self, content: StreamReader, limit: int, on_chunk: Callable[[bool], None]) -> None:
        self._content = content
        self._limit = limit
        self._on_chunk = on_chunk
        self.started = self.too_large = self.done = False
        self.read = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive; raises ``BodyTooLarge`` past the limit."""
        self.started = True
        async for chunk in self._content.iter_any():
            self.read += len(chunk)
            if self.read > self._limit:
                self.too_large = True
                raise BodyTooLarge(f"the request body exceeds the passthrough's max_body_bytes ({self._limit})")
            self._on_chunk(False)
            yield chunk
        self.done = True
        self._on_chunk(True)
