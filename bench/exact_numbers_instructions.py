r"""CPU instructions of the check a body gets for integers beyond 64 bits
(``sidecar.translate.numbers.exact_body``), counted by valgrind (deterministic).

Every translated request and every translated whole answer is checked once for a run of 19 digits (an
integer literal orjson may read as a double) before it is translated, and so is every request written
again for a target of its own dialect (OpenAI, Anthropic); only a body that has one is read
again, exactly (a walk of the parsed body for a double of 2**63 or more, ``holds_inexact``, measured
11,613 instructions for the small body and 65,017 for the conversation at 2026-12-05 10:34: dearer).
This runs that check, in one process, ``--few`` and then ``--many`` times for one body, under
``valgrind --tool=cachegrind``; the difference of the two totals divided by the difference of the counts
is one check's cost. Bodies: ``small`` (measuring.py's 216-byte chat request), ``2k`` (its ~2 KB
``request_2k``), ``conversation`` (translate_cost.py's ~1.6 KB OpenAI conversation), ``ten-conversations``
(the same ten times over, ~10 KB), ``100k`` (101 times over, ~99 KB), ``long-integer`` (the conversation
with a ``seed`` of 2**64: the check finds it and reads the body again).

``--what same-dialect`` counts instead the whole body an OpenAI target of an OpenAI app is sent
(``OpenAIWire.same_dialect_body``: the app's body with the model replaced, written again; the check is
part of it since wave 26 ``numbers26``): with ``--baseline`` the check's cost on the usual request.
``--what regex`` counts the alternative the check was measured against: one search of the body for
``re.compile(rb"\d{19}")`` (compiled once, before counting).

    python bench/exact_numbers_instructions.py [--bodies small,conversation,...] [--what check|regex|same-dialect]
        [--few 20] [--many 420] [--baseline REF]

Needs valgrind. ``--baseline`` is accepted for the table's shape; a revision without the module fails.
"""

from __future__ import annotations

import argparse
import re
import sys

import orjson
from counted_runs import report
from measuring import REQUEST, request_2k, tools_present

BODIES = ("small", "2k", "conversation", "ten-conversations", "100k", "long-integer")


def body(name: str) -> bytes:
    """The raw body called ``name`` (``BODIES``)."""
    from translate_cost import BODY

    if name == "small":
        return REQUEST.encode() if isinstance(REQUEST, str) else REQUEST
    if name == "2k":
        return request_2k().encode()
    if name == "conversation":
        return orjson.dumps(BODY)
    if name in ("ten-conversations", "100k"):
        return orjson.dumps({**BODY, "messages": BODY["messages"] * (10 if name == "ten-conversations" else 101)})
    return orjson.dumps(BODY)[:-1] + b',"seed":18446744073709551616}'


def check(name: str, times: int) -> None:
    """``exact_body`` of the body ``name`` (parsed once, before counting), ``times`` times."""
    from sidecar.translate.numbers import exact_body

    raw = body(name)
    parsed = orjson.loads(raw)
    for _ in range(times):
        exact_body(parsed, raw)


def same_dialect(name: str, times: int) -> None:
    """The OpenAI body an OpenAI target is sent for the body ``name`` (parsed once), ``times`` times."""
    from sidecar.dialects import Dialect, Operation, registry

    raw = body(name)
    parsed = orjson.loads(raw)
    write = registry.wire(Dialect.OPENAI).same_dialect_body
    for _ in range(times):
        write(parsed, raw, "target-model", Operation.CHAT, False, max_tokens=4096)


def regex(name: str, times: int) -> None:
    """A regular expression's search of the body ``name`` for 19 digits in a row, ``times`` times."""
    search = re.compile(rb"\d{19}").search
    raw = body(name)
    for _ in range(times):
        search(raw)


COUNTED = {"check": check, "regex": regex, "same-dialect": same_dialect}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", default=",".join(BODIES))
    parser.add_argument("--what", choices=sorted(COUNTED), default="check")
    parser.add_argument("--few", type=int, default=20)
    parser.add_argument("--many", type=int, default=420)
    parser.add_argument("--baseline", default="")
    args = parser.parse_args()
    if args.run:  # [what:]body, times
        what, _, name = args.run[0].rpartition(":")
        COUNTED[what or "check"](name, int(args.run[1]))
        return 0
    if not tools_present("valgrind"):
        return 2
    names = [name if args.what == "check" else f"{args.what}:{name}" for name in args.bodies.split(",")]
    print(report(__file__, "body", "request", names, args.baseline, args.few, args.many))
    return 0


if __name__ == "__main__":
    sys.exit(main())
