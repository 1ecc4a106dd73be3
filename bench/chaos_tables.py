"""The numbers and tables of ``chaos_bench.py``'s report: percentiles, milliseconds, shares, markdown
tables and the yes / **no** of a target.
"""

from __future__ import annotations

from typing import Any


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def percent(part: float, whole: float, digits: int = 2) -> str:
    return f"{100 * part / whole:.{digits}f}%" if whole else "n/a"


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "**no**"
