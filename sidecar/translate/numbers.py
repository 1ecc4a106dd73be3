"""Integers beyond 64 bits, carried exactly across a translation.

orjson reads an integer literal outside ``[-2**63, 2**64)`` as the nearest double
(``18446744073709551616`` becomes ``1.8446744073709552e19``, a 30-digit tool argument loses its last 13
digits) and refuses to write a Python int that large. JSON sets no limit, and a model may write such a
number in a tool call's arguments (an account or order number), so what a translator reads is checked,
and only a text that may hold one is read again by the standard library's reader (``read_exactly``),
each integer beyond 64 bits kept as an ``orjson.Fragment`` of its digits, which orjson writes back
verbatim; everything else reads as orjson reads it (a float is the same double). The check:

- ``exact_body``, a whole body (a translated request or answer, and a request of the target's own
  dialect written again with the model replaced, ``OpenAIWire``/``AnthropicWire.same_dialect_body``):
  its bytes hold a run of 19 digits (``long_digit_run``: a byte translation and a search, the cheapest
  sound check measured: a regular expression's search costs 8 to 18 times as much, walking the parsed body
  2 to 3.4 times; docs/benchmarks.md, waves 24 and 26);
- ``exact_arguments``, an OpenAI tool call's ``arguments`` (a JSON text inside a string): the parsed
  value holds a double of 2**63 or more in magnitude (``holds_inexact``: what such a literal becomes; a
  walk, cheap for the few values arguments hold).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
"""Every digit to ``0``, every other byte to a space: a digit run becomes a run of ``0``."""
_LONGEST_EXACT = b"0" * 19
"""A run of 19 digits: the shortest literal orjson may not read exactly (``-9223372036854775809``)."""
_INEXACT = 2.0**63
"""A double this large or larger in magnitude may stand for an integer literal orjson could not read."""


def long_digit_run(data: bytes) -> bool:
    """True when ``data`` holds 19 digits in a row (an integer literal orjson may not read exactly; a long
    float's digits or a string's too: then the exact reader reads them as orjson would)."""
    return data.translate(_DIGITS).find(_LONGEST_EXACT) >= 0  # ``find``: cheaper than ``in`` for bytes


def holds_inexact(value: Any) -> bool:
    """Whether ``value`` (as orjson parsed it) holds a double of 2**63 or more in magnitude."""
    kind = type(value)
    if kind is float:
        return not -_INEXACT < value < _INEXACT
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return False
    for item in value:  # noqa: SIM110 - a loop: any() over a generator costs more per item
        if type(item) in _CONTAINERS_AND_FLOAT and holds_inexact(item):
            return True
    return False


_CONTAINERS_AND_FLOAT = frozenset((dict, list, float))


def _integer(text: str) -> int | orjson.Fragment:
    value = int(text)
    return value if -(2**63) <= value < 2**64 else orjson.Fragment(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: orjson refuses them too


def read_exactly(text: bytes | str) -> Any:
    """``text`` parsed with each integer beyond 64 bits an ``orjson.Fragment`` of its digits (floats and
    everything else as orjson reads them); ``ValueError`` for text that is not JSON."""
    return json.loads(text, parse_int=_integer, parse_constant=_no_constant)


def exact_arguments(text: str) -> Any:
    """A JSON text (an OpenAI tool call's ``arguments``) parsed, integers beyond 64 bits kept exact;
    ``ValueError`` (``orjson.JSONDecodeError`` is one) for text that is not JSON."""
    value = orjson.loads(text)
    return read_exactly(text) if holds_inexact(value) else value


def exact_body(parsed: Any, raw: bytes) -> Any:
    """``parsed`` (orjson's reading of ``raw``, perhaps changed since) with each integer beyond 64 bits that
    orjson read as a double put back exact; ``parsed`` itself when ``raw`` holds no such integer. What
    changed since is kept: only a double standing where ``raw`` has such an integer is replaced (in a
    copy)."""
    if raw.translate(_DIGITS).find(_LONGEST_EXACT) < 0:  # no ``long_digit_run``: the usual body, one call less
        return parsed
    try:
        exact = read_exactly(raw)
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
