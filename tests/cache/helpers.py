"""Assembling test streams (SSE text as providers send it) into entries, as the relay's tap will."""

from __future__ import annotations

from sidecar.cache import Entry, StreamAssembler
from sidecar.dialects import Dialect
from sidecar.translate import new_stream_decoder

from ..translate import sdk

STORED_AT = 1_700_000_000.0


def assembler_for(dialect: Dialect, sse_text: str, max_bytes: int = 1 << 20) -> StreamAssembler:
    decoder = new_stream_decoder(dialect)
    assembler = StreamAssembler(dialect, max_bytes)
    for event in sdk.events(sse_text):
        for delta in decoder.feed(event):
            assembler.feed(delta)
    return assembler


def assemble(dialect: Dialect, sse_text: str, *, clean: bool = True, max_bytes: int = 1 << 20) -> Entry | None:
    """The entry of a whole stream (``clean``: the relay saw the dialect's terminator)."""
    return assembler_for(dialect, sse_text, max_bytes).entry(
        ended_cleanly=clean,
        model="upstream-model",
        target="logical",
        provider="prov",
        stored_at=STORED_AT,
        cost_usd=0.002,
    )
