"""Spans of a known shape written by one ``struct`` call: the OTLP span encoder's fast path.

``otlp_encode`` finds a span's *shape* (its name, kind, shared attribute records and status) by one
dict lookup; what differs per request then goes between the shape's constant pieces in one call:

- ``PackedServerSpan``: a SERVER span without trace state or events. The shape fixes every size (its
  key holds whether there is a parent, remote or not, and whether there is a cost); ids, the parent
  span id field, times and cost are the arguments.
- ``PackedClientSpan``: a CLIENT span without trace state, captured content or per-span parameters.
  Its varying values (``client_values``: response id, input, output and cached token counts, time to
  first chunk) are passed as bytes, empty when absent; one writer is made per combination of their
  sizes, since a size fixes the record head written before the value.

Also the span-level constants both paths write: span flags and the attribute keys of the varying
values. Ids are always 16 and 8 bytes (``spans`` makes them), which ``struct``'s fixed sizes rely on.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from . import genai
from .otlp_wire import INT64_MAX, ONE_BYTE, AttributeKey, pack_double, varint

if TYPE_CHECKING:
    from .spans import ClientSpan

# Span.flags (field 16, fixed32): SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, plus IS_REMOTE for a remote parent.
SPAN_FLAGS_LOCAL: Final = b"\x85\x01\x00\x01\x00\x00"
SPAN_FLAGS_REMOTE: Final = b"\x85\x01\x00\x03\x00\x00"
INPUT_TOKENS: Final = AttributeKey(genai.USAGE_INPUT_TOKENS)
OUTPUT_TOKENS: Final = AttributeKey(genai.USAGE_OUTPUT_TOKENS)
CACHE_READ_TOKENS: Final = AttributeKey(genai.USAGE_CACHE_READ_INPUT_TOKENS)
RESPONSE_ID: Final = AttributeKey(genai.RESPONSE_ID)
# The sizes of a CLIENT span's response id, input, output and cached token counts, time to first chunk.
Sizes = tuple[int, int, int, int, int]


class PackedServerSpan:
    """A SERVER span of one shape, with no trace state nor events, written by one ``struct`` call: its
    ids, the parent span id field (none, or 10 bytes), times and cost go between constant pieces (the
    field's tag and length, the trace id's tag; name, kind and the start time's tag; the attributes,
    with the cost record's head if there is a cost; the status and flags)."""

    __slots__ = ("after_cost", "attributes", "head", "middle", "pack")

    def __init__(self, name_kind: bytes, attributes: bytes, status: bytes, link: int, cost_head: bytes | None) -> None:
        flags = SPAN_FLAGS_REMOTE if link == 2 else SPAN_FLAGS_LOCAL
        linked = 10 if link else 0
        self.middle = name_kind + b"\x39"  # then start_time_unix_nano, 0x41, end_time_unix_nano
        if cost_head is None:
            self.attributes, self.after_cost = attributes + status + flags, b""
            tail = f"{len(self.attributes)}s"
        else:
            self.attributes, self.after_cost = attributes + cost_head, status + flags
            tail = f"{len(self.attributes)}sd{len(self.after_cost)}s"
        body = struct.calcsize(f"<16s2s8s{linked}s{len(self.middle)}sQBQ{tail}") + 2  # + the trace id's tag
        self.head = b"\x12" + varint(body) + b"\x0a\x10"
        self.pack: Callable[..., bytes] = struct.Struct(
            f"<{len(self.head)}s16s2s8s{linked}s{len(self.middle)}sQBQ{tail}"
        ).pack


class PackedClientSpan:
    """A CLIENT span of one shape, with no trace state, captured content or per-span parameters, written
    by one ``struct`` call. What varies (response id, input, output and cached token counts, time to
    first chunk; ``client_values``) is passed as bytes, empty when absent: a layout is made for each
    combination of their sizes, and a size fixes the record's head written before it."""

    __slots__ = (
        "attributes",
        "cached_head",
        "chunk_head",
        "head",
        "input_head",
        "middle",
        "output_head",
        "pack",
        "status",
    )

    def __init__(self, name_kind: bytes, attributes: bytes, status: bytes, sizes: Sizes, chunk_head: bytes) -> None:
        """``chunk_head``: the time to first chunk's record up to its 8 bytes (used if ``sizes`` has one)."""
        response_id, input_tokens, output_tokens, cached_tokens, first_chunk = sizes
        self.middle = name_kind + b"\x39"  # then start_time_unix_nano, 0x41, end_time_unix_nano
        self.attributes = attributes + (RESPONSE_ID.text_head(response_id) if response_id else b"")
        self.input_head = INPUT_TOKENS.number_head(input_tokens) if input_tokens else b""
        self.output_head = OUTPUT_TOKENS.number_head(output_tokens) if output_tokens else b""
        self.cached_head = CACHE_READ_TOKENS.number_head(cached_tokens) if cached_tokens else b""
        self.chunk_head = chunk_head if first_chunk else b""
        self.status = status + SPAN_FLAGS_LOCAL
        layout = (
            f"16s2s8s2s8s{len(self.middle)}sQBQ{len(self.attributes)}s{response_id}s{len(self.input_head)}s"
            f"{input_tokens}s{len(self.output_head)}s{output_tokens}s{len(self.cached_head)}s{cached_tokens}s"
            f"{len(self.chunk_head)}s{first_chunk}s{len(self.status)}s"
        )
        self.head = b"\x12" + varint(struct.calcsize("<" + layout) + 2) + b"\x0a\x10"  # + the trace id's tag
        self.pack: Callable[..., bytes] = struct.Struct(f"<{len(self.head)}s{layout}").pack


def client_values(span: ClientSpan) -> tuple[bytes, bytes, bytes, bytes, bytes] | None:
    """A CLIENT span's varying values as the bytes their records end with (empty when absent): response
    id, input, output and cached token counts, time to first chunk. None if one is of a kind only the
    general path writes (an id that is not short ASCII, a count that is not an int64, a non-float time)."""
    response_id = span.response_id
    if not response_id:
        response_bytes = b""
    elif type(response_id) is str and len(response_id) < 126 and response_id.isascii():
        response_bytes = response_id.encode()
    else:
        return None
    usage = span.usage
    input_bytes: bytes | None = b""
    output_bytes: bytes | None = b""
    cached_bytes: bytes | None = b""
    if usage is not None:  # a count below 128 is one byte, looked up here (no call: this runs per span)
        count = usage.input_tokens
        if count is not None:
            input_bytes = ONE_BYTE[count] if type(count) is int and 0 <= count < 0x80 else _count_bytes(count)
        count = usage.output_tokens
        if count is not None:
            output_bytes = ONE_BYTE[count] if type(count) is int and 0 <= count < 0x80 else _count_bytes(count)
        count = usage.cached_input_tokens
        if count is not None:
            cached_bytes = ONE_BYTE[count] if type(count) is int and 0 <= count < 0x80 else _count_bytes(count)
    if input_bytes is None or output_bytes is None or cached_bytes is None:
        return None
    first_chunk = span.time_to_first_chunk
    if first_chunk is None:
        chunk_bytes = b""
    elif type(first_chunk) is float:
        chunk_bytes = pack_double(first_chunk)
    else:
        return None
    return response_bytes, input_bytes, output_bytes, cached_bytes, chunk_bytes


def _count_bytes(count: int) -> bytes | None:
    """A token count as its varint; None if it is not an int64 (the general path writes it)."""
    if type(count) is int and 0 <= count <= INT64_MAX:
        return varint(count)
    return None
