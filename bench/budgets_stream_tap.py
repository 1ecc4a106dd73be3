"""What the budgets' ``UsedTap`` costs a streamed answer per event: with a tap registered, the relay
parses and decodes each same-dialect event (``server/stream.py``) instead of forwarding whole chunks
after a few substring checks; the tap keeps each delta's text.

    python bench/budgets_stream_tap.py [--events 20000]

CPU microseconds per event (process time, best of 5 rounds), one OpenAI chat chunk per upstream read,
in one process: the forwarding checks a chunk passes when nothing taps the stream, and the SSE parse +
decode + ``UsedTap.feed`` that replace them. The relay's own work (reading, writing) is the same in
both and not included: compare with ``bench/relay_cost.py``'s per-event cost of a whole relay.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from sidecar.dialects.openai.decoder import OpenAIDecoder
from sidecar.server.budget_use import UsedTap
from sidecar.sse import SSEParser
from sidecar.translate import decode_event

CHUNK = (
    b'data: {"id":"chatcmpl-tap","object":"chat.completion.chunk","created":1700000000,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":" word"},"finish_reason":null}]}\n\n'
)


def per_event_us(step: Callable[[], object], events: int) -> float:
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(events):
            step()
        rounds.append((time.process_time() - started) / events * 1e6)
    return min(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    events = parser.parse_args().events
    sse, decoder, tap = SSEParser(), OpenAIDecoder(), UsedTap()

    def forward() -> bool:
        return CHUNK.endswith(b"\n\n") and b"error" not in CHUNK and b"sage" not in CHUNK and b"[DONE]" not in CHUNK

    def tapped() -> None:
        for event in sse.feed(CHUNK):
            for delta in decode_event(decoder, event):
                tap.feed(delta)

    untapped, with_tap = per_event_us(forward, events), per_event_us(tapped, events)
    print(f"forwarded whole (no tap): {untapped:.2f} us per event")
    print(f"parsed, decoded, tapped:  {with_tap:.2f} us per event")
    print(f"added by the tap:         {with_tap - untapped:.2f} us per event ({events} events, best of 5, CPU time)")


if __name__ == "__main__":
    main()
