"""``stream_totals``: of the Gemini fragments a relay kept unread because their bytes hold
``"usageMetadata"``, the usage is the last one's that holds it at its top level, not a later one's whose
function call arguments (or text) hold the key; ``compact`` forgets the others without losing it, as
soon as the kept ones' bytes reach 16 KiB (``KeptTotals``), so that a Gemini app's stream, however long,
holds about that much in the relay (through a real sidecar: the memory a long stream leaves allocated)."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import orjson
import pytest

from sidecar.dialects.gemini.response import stream_usage
from sidecar.server.stream_totals import KeptTotals, compact, last_usage
from sidecar.sse import SSEEvent
from sidecar.translate.common import Usage

from ..conftest import SidecarFactory
from ..upstream.raw import ServerConn, UpstreamFactory


def with_usage(candidates: int) -> SSEEvent:
    text = {"candidates": [{"content": {"role": "model", "parts": [{"text": "w"}]}, "index": 0}]}
    return SSEEvent(
        orjson.dumps({**text, "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": candidates}})
    )


def part(value: dict[str, Any]) -> SSEEvent:
    return SSEEvent(orjson.dumps({"candidates": [{"content": {"role": "model", "parts": [value]}, "index": 0}]}))


IN_ARGS = part({"functionCall": {"name": "log", "args": {"usageMetadata": {"promptTokenCount": 7}}}})
IN_TEXT = part({"text": "usageMetadata"})


def test_compact_keeps_the_last_that_holds_usage() -> None:
    """Two fragments with usage, then the key in a call's arguments and as a text: only the second's kept
    (its bytes the ones ``compact`` says are still kept)."""
    kept: list[SSEEvent | bytes] = [with_usage(1), with_usage(2), IN_ARGS, IN_TEXT]
    assert compact(kept, stream_usage) == len(with_usage(2).data)
    assert kept == [with_usage(2)]


def test_compact_forgets_what_holds_no_usage() -> None:
    """None of the kept holds usage: none is kept."""
    kept: list[SSEEvent | bytes] = [IN_ARGS, IN_TEXT]
    assert compact(kept, stream_usage) == 0
    assert kept == []


def test_the_last_usage_of_a_read_of_several_events_is_its_last_event_with_usage() -> None:
    """A read of whole events (bytes) whose last event holds the key only in a call's arguments: the usage
    is its first event's; after the kept fragment before it."""
    read = b"".join(b"data: " + event.data + b"\r\n\r\n" for event in (with_usage(3), IN_ARGS))
    assert last_usage([with_usage(2), read], stream_usage, None) == Usage(5, 3)
    assert last_usage([with_usage(2), IN_ARGS], stream_usage, None) == Usage(5, 2)


BOUND = 16 * 1024  # the relay's bound of kept fragments (docs: 16 KiB)


def padded(candidates: int, pad: int) -> bytes:
    """A fragment with usage (5 prompt tokens, ``candidates``) and ``pad`` bytes of text besides."""
    return orjson.dumps(orjson.loads(with_usage(candidates).data) | {"pad": "x" * pad})


def sized(total: int, count: int) -> list[bytes]:
    """The data of ``count`` fragments with usage (candidates 1, 2...) that add up to ``total`` bytes."""
    fragments = [padded(n, total // count) for n in range(1, count + 1)]
    short = total - sum(map(len, fragments))  # the pad's own bytes and the division's rest: on the last
    fragments[-1] = padded(count, total // count + short)
    return fragments


@pytest.mark.parametrize(("total", "kept"), [(BOUND - 1, 4), (BOUND, 1)], ids=["one byte short", "at the bound"])
def test_kept_fragments_are_cut_back_to_the_last_with_usage_when_they_reach_16_kib(total: int, kept: int) -> None:
    """Four fragments with usage, their bytes one short of 16 KiB: all four kept; reaching it exactly: only
    the last (its bytes the ones said to be kept); the usage read is the last fragment's either way."""
    fragments = sized(total, 4)
    assert sum(map(len, fragments)) == total
    totals = KeptTotals(stream_usage)
    for data in fragments:
        totals.keep(SSEEvent(data), len(data))
    assert (len(totals.unread), totals.size) == (kept, total if kept == 4 else len(fragments[-1]))
    assert totals.usage(None) == Usage(5, 4)


FRAGMENTS = 128  # of 64 KiB each, with usage: 8 MiB the relay would keep without its bound


def held_stream(fragments: list[bytes], gate: asyncio.Event) -> Any:
    """A raw Gemini upstream's handler: each request answered with ``fragments`` as one event stream, its
    last fragment (and its end) held until ``gate`` is set."""

    async def handler(conn: ServerConn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
            for index, data in enumerate(fragments):
                if index == len(fragments) - 1:
                    await gate.wait()
                event = b"data: " + data + b"\r\n\r\n"
                await conn.send(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            await conn.send(b"0\r\n\r\n")

    return handler


async def test_a_long_gemini_stream_leaves_the_relay_holding_no_more_than_its_bound(
    raw_upstream: UpstreamFactory, sidecar: SidecarFactory, gemini_client: Any
) -> None:
    """A Gemini app's stream of 128 fragments of 64 KiB, each with the totals so far, through a real
    sidecar: while the last is held back, the memory still allocated of what was allocated since the
    stream began (tracemalloc, this process: sidecar, provider and app) is under 6 MiB (about 2.4 MiB in
    wave 36; with the bound removed, about 19 MiB: every fragment kept); the usage counted is the last
    fragment's."""
    fragments = [padded(n, 64 * 1024) for n in range(1, FRAGMENTS + 1)]
    fragments[-1] = fragments[-1].replace(b'"index":0', b'"index":0,"finishReason":"STOP"')
    gate = asyncio.Event()
    upstream = await raw_upstream(held_stream(fragments, gate))
    running = await sidecar(
        "version: 1\nproviders:\n"
        f"  p: {{dialect: gemini, base_url: '{upstream.base}', api_key: {{env: P_KEY}}}}\n"
        "models:\n  m: {provider: p, model: m-1}\n",
        env={"P_KEY": "g-key"},
    )
    stream = await gemini_client(running.url).aio.models.generate_content_stream(model="m", contents="hi")
    tracemalloc.start()
    try:
        seen = 0
        async for _ in stream:
            seen += 1
            if seen == FRAGMENTS - 1:
                held, _peak = tracemalloc.get_traced_memory()
                gate.set()
    finally:
        tracemalloc.stop()
    assert seen == FRAGMENTS
    assert held < 6 * 1024 * 1024
    (line,) = running.access_lines()
    assert (line["input_tokens"], line["output_tokens"]) == (5, FRAGMENTS)
