"""Instructions of a pending answer's entry made on its first read, against the same entry made at once by
the miss, piece by piece, without the store or the server around them.

    python bench/cache_pending_parts.py [--few 300] [--many 1300] [--baseline REF] [--answers anthropic,...]

Runs this file under ``valgrind --tool=cachegrind`` twice a piece (``--few``, then ``--many`` answers, made
ahead with the collector off and frozen, as bench/cache_keep_parts.py's), per answer:

- ``loop``: the loop over the answers made ahead, nothing else;
- ``parse``: ``orjson.loads`` of the caller's bytes (what the fallback loop did once, and a pending answer's
  first read does again), the body dropped at once;
- ``at-once``: the miss's entry made at once from the body the fallback loop parsed
  (``server.cache_stage._answer_entry``, not lazy: the dialect's parser, the entry, its extras and model);
- ``pending``: a pending answer's entry made from its bytes (``cache.pending.Pending.entry``), as its first
  read makes it.

Each piece's count less the loop's is its own. ``pending`` - ``at-once`` is what a first read pays over the
miss's work it saved: ``parse`` plus what else differs. Answers: those of bench/cache_keep_parts.py.
``--baseline REF``: the same with the ``sidecar`` package of git revision REF. Needs valgrind.
"""

from __future__ import annotations

import gc
import sys
import time

import orjson
from cache_keep_parts import answer_arguments, answered
from parts_command import measured_code, valgrind_script

PIECES = ("loop", "parse", "at-once", "pending")


def run(answer: str, piece: str, n: int) -> None:
    from sidecar.cache.pending import Pending
    from sidecar.server import cache_stage

    gc.disable()
    dialect, raw, answers = answered(answer, n)
    work = [
        (exchange, response, Pending(raw, model="bench-upstream", target="t", provider="p", stored_at=time.time(),
                                     cost_usd=None, dialect=dialect))
        for exchange, response in answers
    ]  # fmt: skip
    gc.freeze()
    gc.enable()
    made = []
    for exchange, response, pending in work:
        if piece == "parse":
            orjson.loads(response.body)
        elif piece == "at-once":
            made.append(cache_stage._answer_entry(exchange, response, None, 1 << 20, False, False))  # type: ignore[arg-type]
        elif piece == "pending":
            made.append(pending.entry())
    assert all(entry is not None for entry in made)


def main() -> int:
    args = answer_arguments()
    if args.run is not None:
        run(args.run[0], args.run[1], int(args.run[2]))
        return 0
    codes = measured_code(__file__, args)
    print(f"Answers: {args.answers}")
    print("\n| answer | code | loop | parse | at-once | pending | pending - at-once |\n|---|---|---|---|---|---|---|")
    for answer in args.answers.split(","):
        for label, code in codes:
            per = {}
            for piece in PIECES:
                few = valgrind_script(__file__, ["--run", answer, piece, str(args.few)], code)
                many = valgrind_script(__file__, ["--run", answer, piece, str(args.many)], code)
                per[piece] = (many - few) / (args.many - args.few)
            own = {piece: per[piece] - per["loop"] for piece in PIECES[1:]}
            cells = " | ".join(f"{own[piece]:,.0f}" for piece in PIECES[1:])
            gap = own["pending"] - own["at-once"]
            print(f"| {answer} | {label} | {per['loop']:,.0f} | {cells} | {gap:,.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
