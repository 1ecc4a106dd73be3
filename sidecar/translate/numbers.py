"""Integers beyond 64 bits, carried exactly across a translation.

orjson reads an integer literal outside ``[-2**63, 2**64)`` as the nearest double
(``18446744073709551616`` becomes ``1.8446744073709552e19``, a 30-digit tool argument loses its last 13
digits) and refuses to write a Python int that large. JSON sets no limit, and a model may write such a
number in a tool call's arguments (an account or order number), so a body a translator reads is read by
``exact_loads``: with orjson, unless its bytes hold a run of 19 digits or more (``long_digit_run``, a
byte translation and a search: about 1.4 us a KB, paid on translated bodies only); then with the
standard library's reader, each integer beyond 64 bits kept as an ``orjson.Fragment`` of its digits,
which orjson writes back verbatim. Everything else reads as orjson reads it (a float is the same double).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
"""Every digit to ``0``, every other byte to a space: a digit run becomes a run of ``0``."""
_LONGEST_EXACT = b"0" * 19
"""A run of 19 digits: the shortest literal orjson may not read exactly (``-9223372036854775809``)."""


def long_digit_run(data: bytes) -> bool:
    """True when ``data`` holds 19 digits in a row (an integer literal orjson may not read exactly; a long
    float's digits or a string's too: then the exact reader reads them as orjson would)."""
    return _LONGEST_EXACT in data.translate(_DIGITS)


def _integer(text: str) -> int | orjson.Fragment:
    value = int(text)
    return value if -(2**63) <= value < 2**64 else orjson.Fragment(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: orjson refuses them too


def exact_loads(data: bytes | str) -> Any:
    """``data`` parsed as orjson parses it, except that an integer beyond 64 bits stays exact (an
    ``orjson.Fragment``); raises ``ValueError`` (``orjson.JSONDecodeError`` is one) for invalid JSON."""
    raw = data.encode() if isinstance(data, str) else data
    if not long_digit_run(raw):
        return orjson.loads(raw)
    return json.loads(raw, parse_int=_integer, parse_constant=_no_constant)


def exact_body(parsed: Any, raw: bytes) -> Any:
    """``parsed`` (orjson's reading of ``raw``, perhaps changed since) with each integer beyond 64 bits that
    orjson read as a double put back exact, where ``raw`` holds one; else ``parsed`` itself. What changed
    since is kept: only a double standing where ``raw`` has such an integer is replaced (in a copy)."""
    if not long_digit_run(raw):
        return parsed
    try:
        exact = exact_loads(raw)
    except ValueError:
        return parsed
    return _restored(parsed, exact)


def _restored(value: Any, exact: Any) -> Any:
    if isinstance(exact, orjson.Fragment):
        return exact if isinstance(value, float) else value
    if isinstance(value, dict) and isinstance(exact, dict):
        return {key: _restored(item, exact[key]) if key in exact else item for key, item in value.items()}
    if isinstance(value, list) and isinstance(exact, list) and len(value) == len(exact):
        return [_restored(item, twin) for item, twin in zip(value, exact, strict=True)]
    return value
