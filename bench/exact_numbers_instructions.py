"""CPU instructions of the check a translated body gets for integers beyond 64 bits
(``sidecar.translate.numbers.exact_body``), counted by valgrind (deterministic).

Every translated request and every translated whole answer is checked once for a run of 19 digits (an
integer literal orjson may read as a double) before it is translated; only a body that has one is read
again, exactly (a walk of the parsed body for a double of 2**63 or more, ``holds_inexact``, measured
11,613 instructions for the small body and 65,017 for the conversation at 2026-12-05 10:34: dearer).
This runs that check, in one process, ``--few`` and then ``--many`` times for one body, under
``valgrind --tool=cachegrind``; the difference of the two totals divided by the difference of the counts
is one check's cost. Bodies: ``small`` (measuring.py's 216-byte chat request), ``conversation``
(translate_cost.py's ~1.7 KB OpenAI conversation), ``ten-conversations`` (the same ten times over, ~17
KB), ``long-integer`` (the conversation with a ``seed`` of 2**64: the check finds it and reads the body
again).

    python bench/exact_numbers_instructions.py [--bodies small,conversation,...] [--few 20] [--many 420]
        [--baseline REF]

Needs valgrind. ``--baseline`` is accepted for the table's shape; a revision without the module fails.
"""

from __future__ import annotations

import argparse
import sys

import orjson
from counted_runs import report
from measuring import REQUEST, tools_present

BODIES = ("small", "conversation", "ten-conversations", "long-integer")


def body(name: str) -> bytes:
    """The raw body called ``name`` (``BODIES``)."""
    from translate_cost import BODY

    if name == "small":
        return REQUEST.encode() if isinstance(REQUEST, str) else REQUEST
    if name == "conversation":
        return orjson.dumps(BODY)
    if name == "ten-conversations":
        return orjson.dumps({**BODY, "messages": BODY["messages"] * 10})
    return orjson.dumps(BODY)[:-1] + b',"seed":18446744073709551616}'


def check(name: str, times: int) -> None:
    """``exact_body`` of the body ``name`` (parsed once, before counting), ``times`` times."""
    from sidecar.translate.numbers import exact_body

    raw = body(name)
    parsed = orjson.loads(raw)
    for _ in range(times):
        exact_body(parsed, raw)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", default=",".join(BODIES))
    parser.add_argument("--few", type=int, default=20)
    parser.add_argument("--many", type=int, default=420)
    parser.add_argument("--baseline", default="")
    args = parser.parse_args()
    if args.run:
        check(args.run[0], int(args.run[1]))
        return 0
    if not tools_present("valgrind"):
        return 2
    print(report(__file__, "body", "check", args.bodies.split(","), args.baseline, args.few, args.many))
    return 0


if __name__ == "__main__":
    sys.exit(main())
