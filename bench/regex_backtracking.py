r"""How slow the regular expressions ``policy.backtracking`` refuses are, and how fast their look-alikes it
accepts are, on hostile texts (measured once: the table in docs/routing.md; no test times anything).

Refused: each pattern of tests/policy/test_backtracking.py's ``REFUSED`` is searched in a hostile text
of growing length (a text that almost matches) until one search takes over ``--limit`` seconds; printed:
that length, that search's time, and the time of the search two characters shorter (exponential
growth shows as a constant ratio). Accepted: each look-alike is searched in a 1,280-character hostile
text (the largest window a rule reads); printed: the time of one search. Also printed: the load-time
cost of the check per pattern (``check_backtracking``, the mean over the example policies' patterns).

    python bench/regex_backtracking.py [--limit 0.5]
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

from sidecar.policy.backtracking import check_backtracking

Text = Callable[[int], str]

REFUSED: list[tuple[str, Text]] = [
    (r"(a+)+b", lambda n: "a" * n + "c"),
    (r"(\w+\s?)+$", lambda n: "a" * n + "!"),
    (r"(a*)*b", lambda n: "a" * n + "c"),
    (r"(.*,)*X", lambda n: "," * n + "c"),
    (r"(a|a)+b", lambda n: "a" * n + "c"),
    (r"(\w|\d\d)+$", lambda n: "1" * n + "!"),
    (r"(a?a?)*b", lambda n: "a" * n + "c"),
    (r"(x+x+)+y", lambda n: "x" * n),
    (r"(x+x+y)+z", lambda n: "xxxxy" * (n // 5) + "q"),
    (r"(\d{1,3})+$", lambda n: "1" * n + "!"),
    (r"(a+){2,5}b", lambda n: "a" * n + "c"),
    (r"((a+)+b)+c", lambda n: "a" * n + "c"),
    (r"x(?=(a+)+b)", lambda n: "x" + "a" * n + "c"),
    (r"(?i)(a|A?a)+b", lambda n: "a" * n + "c"),
]

WINDOW = 1280
ACCEPTED: list[tuple[str, str]] = [
    (r"(?>a+)+b", "a" * WINDOW),
    (r"(a++)+b", "a" * WINDOW),
    (r"(ab)+c", "ab" * (WINDOW // 2)),
    (r"\w+\s+\w+!", "a " * (WINDOW // 2)),
    (r"(\w+\s)+$", "a " * (WINDOW // 2 - 1) + "a!"),
    (r"(\d+,)+$", "1," * (WINDOW // 2 - 1) + "1!"),
    (r"(\w|\d)+$", "1" * (WINDOW - 1) + "!"),
    (r"(a|ab)*c", "ab" * (WINDOW // 2)),
    (r"(a?)*b", "a" * WINDOW),
    (r"SELECT .+ FROM", "SELECT " * (WINDOW // 7)),
]

EXAMPLES = [
    r"```|def \w+\(|=>|#include|SELECT .+ FROM",
    r"\d\s*(\^|\*\*|[x×*/])\s*\(?\w",  # noqa: RUF001 (policies/routing.yaml's multiplication sign)
    r"\d\D+\d",
    r"\b(approve|deny|escalate)\b",
    r"(?i)\b(approve|deny|escalate)\b",
]


def cell(text: str) -> str:
    """``text`` as code in a Markdown table cell (a ``|`` would end the cell)."""
    return "`" + text.replace("|", "\\|") + "`"


def search_time(pattern: re.Pattern[str], text: str) -> float:
    start = time.perf_counter()
    pattern.search(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=float, default=0.5, help="stop growing a text past this search time (s)")
    limit = parser.parse_args().limit
    print("| refused pattern | hostile text | characters | one search (s) | two characters shorter (s) |")
    print("|---|---|---|---|---|")
    for source, text in REFUSED:
        pattern = re.compile(source)
        before, length = 0.0, 4
        while (took := search_time(pattern, text(length))) < limit:
            before, length = took, length + 2
        example = text(8)
        print(f"| {cell(source)} | {cell(example)}... | {len(text(length))} | {took:.2f} | {before:.2f} |")
    print()
    print(f"| accepted look-alike | hostile text of {WINDOW} characters | one search (ms) |")
    print("|---|---|---|")
    for source, text in ACCEPTED:
        check_backtracking(source)
        took = min(search_time(re.compile(source), text) for _ in range(5))
        print(f"| {cell(source)} | {cell(text[:12])}... | {took * 1000:.2f} |")
    print()
    rounds = 200
    start = time.perf_counter()
    for _ in range(rounds):
        for source in EXAMPLES:
            check_backtracking(source)
    mean = (time.perf_counter() - start) / rounds / len(EXAMPLES)
    print(f"check_backtracking: {mean * 1e6:.0f} us per pattern (mean over the {len(EXAMPLES)} example patterns)")


if __name__ == "__main__":
    main()
