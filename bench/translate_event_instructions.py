"""CPU instructions of the relay's translation work per streamed event, counted by valgrind (deterministic).

Per translated event the relay parses the upstream's bytes (``SSEParser.feed``), then, when no tap
listens, turns a plain text delta into the caller's bytes at once (``StreamTranslator.relay_text``; a
revision without it, and every other event, take the general path); with ``--tapped`` (a tap listens,
or a revision before ``relay_text``) it decodes the event into the common form, encodes the caller's
events (``StreamTranslator.decode`` / ``encode``) and renders them (``SSEEvent.encode``). This runs
exactly that, in one process, for ``--few`` and then ``--many``
content events of one stream (relay_cost.py's events), under ``valgrind --tool=cachegrind``; the
difference of the two totals divided by the difference of the counts is one event's cost, start-up
cancelled out. Unlike relay_instructions.py (the whole relay, paced by a real upstream), nothing here
depends on timing, so repeated runs agree to the instruction; the HTTP read and write are not in it.

    python bench/translate_event_instructions.py [--pairs anthropic-openai,gemini-openai,openai-anthropic]
        [--few 1000] [--many 11000] [--baseline REF] [--tapped]

Needs valgrind.
"""

from __future__ import annotations

import argparse
import sys
import time

from counted_runs import count, rows
from measuring import tools_present

PAIRS = {
    "anthropic-openai": ("anthropic", "openai"),
    "gemini-openai": ("gemini", "openai"),
    "openai-anthropic": ("openai", "anthropic"),
    "anthropic-responses": ("anthropic", "openai", "responses"),
    "gemini-responses": ("gemini", "openai", "responses"),
}
"""Each pair: (upstream, caller[, the caller's operation: ``responses``, OpenAI's Responses API; chat
without]). The ``-responses`` pairs need a sidecar that translates the Responses API (wave 36 on)."""


def translate_events(source: str, caller: str, count: int, tapped: bool, operation: str = "chat") -> None:
    """Translate one stream of ``count`` content events from ``source`` to ``caller`` (the counted run):
    as the relay does when no tap listens, or (``tapped``) through the common deltas."""
    from relay_cost import STREAMS

    from sidecar.dialects import Operation

    try:
        from sidecar.dialects.registry import dialect_named
    except ImportError:  # a revision whose Dialect is an enum
        from sidecar.dialects import Dialect as dialect_named  # type: ignore[assignment]
    from sidecar.sse import SSEParser
    from sidecar.translate import new_stream_translator

    first, chunk, _ = STREAMS[source]
    translator = new_stream_translator(
        source=dialect_named(source),
        target=dialect_named(caller),
        operation=Operation(operation),
        model="m",
        include_usage=True,
        **({"request": {"model": "m", "input": "hi"}} if operation != "chat" else {}),
    )
    relay_text = None if tapped else getattr(translator, "relay_text", None)
    parser = SSEParser()
    for event in parser.feed(first):
        [caller_event.encode() for caller_event in translator.encode(translator.decode(event))]
    for _ in range(count):
        for event in parser.feed(chunk):
            if relay_text is None or relay_text(event) is None:
                [caller_event.encode() for caller_event in translator.encode(translator.decode(event))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--few", type=int, default=1000)
    parser.add_argument("--many", type=int, default=11000)
    parser.add_argument("--baseline", default="")
    parser.add_argument("--tapped", action="store_true", help="the path with a tap listening: through the deltas")
    args = parser.parse_args()
    if args.run:
        source, caller, *operation = PAIRS[args.run[0]]
        translate_events(source, caller, int(args.run[1]), args.tapped, *operation)
        return 0
    if not tools_present("valgrind"):
        return 2
    tapped = ["--tapped"] if args.tapped else []
    lines = [
        f"Command: `python bench/translate_event_instructions.py {' '.join(sys.argv[1:])}` "
        f"({time.strftime('%Y-%m-%d %H:%M')})",
        "",
        "| pair (upstream-caller) | sidecar | instructions per event | vs baseline |",
        "|---|---|---|---|",
        *rows(
            args.pairs.split(","),
            args.baseline,
            args.few,
            args.many,
            lambda code, pair, events: count(__file__, code, pair, str(events), *tapped),
        ),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
