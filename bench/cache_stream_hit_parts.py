"""Instructions of a streamed OpenAI memory hit's bytes (``ResponseCache.answer``), by the entry's kind.

    python bench/cache_stream_hit_parts.py [--few 200] [--many 2200] [--baseline REF]

Runs this file under ``valgrind --tool=cachegrind`` twice per kind, doing ``--few`` and then ``--many``
streamed hits (``stream_options.include_usage``, the padding left on: OpenAI's default) of one memory
entry in process: the whole stream's bytes an OpenAI caller gets, from the template the memory store
keeps with the entry (rendered on the first hit). The answer is about 2 KB of text (``WORDS`` words, as
many chunks). Kinds: ``stream``, an entry from an OpenAI stream whose chunks were padded (``obfuscation``);
``whole``, one from a whole OpenAI answer. The difference of the totals over the difference of the counts
is one hit's. ``--baseline REF``: the same with the ``sidecar`` package of git revision REF. Needs valgrind.
"""

from __future__ import annotations

import sys
import time

from parts_command import measured_code, parts_arguments, valgrind_script

from sidecar.cache import CacheStoreSpec, ResponseCache, RouteCacheSpec
from sidecar.cache.entry import Entry, TextPiece
from sidecar.cache.extras import extras_of, extras_of_stream
from sidecar.dialects import Dialect
from sidecar.translate.common import FinishReason, Usage

WORDS = 360
KINDS = ("stream", "whole")
_HEAD = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "system_fingerprint": "fp_1"}


def entry(kind: str) -> Entry:
    """A 2 KB answer stored from an OpenAI stream with padded chunks, or from a whole OpenAI answer."""
    words = [f" word{n % 97}" for n in range(WORDS)]
    text = "".join(words)
    usage = {"prompt_tokens": 31, "completion_tokens": WORDS, "total_tokens": WORDS + 31}
    if kind == "stream":
        first = {**_HEAD, "choices": [], "usage": None, "obfuscation": "Qx7"}
        extras = extras_of_stream((first, {**_HEAD, "choices": [], "usage": usage}), Dialect.OPENAI)
        piece = TextPiece(text, tuple(len(w) for w in words))
    else:
        extras = extras_of({**_HEAD, "object": "chat.completion", "usage": usage}, Dialect.OPENAI)
        piece = TextPiece(text)
    stop = FinishReason.STOP
    return Entry((piece,), stop, None, Usage(31, WORDS), "gpt-4o-mini", "m", "p", time.time(), 1e-4, None, (), extras)


def hits(kind: str, n: int) -> None:
    settings = RouteCacheSpec(enabled=True, cacheable="always")
    cache = ResponseCache.from_spec(CacheStoreSpec())
    stored = entry(kind)
    cache.store_in_memory("k", stored, settings)
    for _ in range(n):
        lookup = cache.lookup_in_memory("k", settings, Dialect.OPENAI, None)
        assert lookup.entry is not None
        cache.answer("k", lookup.entry, Dialect.OPENAI, "stream_usage", lookup.body)


def main() -> int:
    args = parts_arguments(200, 2200, run_values=2)
    if args.run is not None:
        hits(args.run[0], int(args.run[1]))
        return 0
    codes = measured_code(__file__, args)
    print("| package | kind | instructions per streamed hit's bytes |\n|---|---|---|", flush=True)
    for label, code in codes:
        for kind in KINDS:
            few, many = (valgrind_script(__file__, ["--run", kind, str(n)], code) for n in (args.few, args.many))
            print(f"| {label} | {kind} | {(many - few) / (args.many - args.few):,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
