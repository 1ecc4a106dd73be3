"""Normalizers: an answer's text -> the key that votes (answers with equal keys agree), or None.

Built once per policy load by ``compile_normalizer`` (patterns compiled, paths parsed); calling one is a
plain function call on the request path. None means the answer has no usable key (empty text, not JSON,
no match): such a member abstains.

- ``text``       trimmed, inner whitespace collapsed, case-folded
- ``json``       parsed (one surrounding ```json fence allowed), re-serialised with sorted keys; integral
                 floats written as integers (1.0 -> 1)
- ``json_path``  the value at a path inside the JSON answer: a string trimmed and case-folded (unless
                 ``casefold: false``), anything else as canonical JSON
- ``regex``      the first match's group (``answer`` if the pattern names one, else ``group``, else 1 if the
                 pattern has groups, else the whole match), trimmed and case-folded (unless ``casefold: false``)
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .jsondoc import MISSING, NOT_JSON, canonical_json, parse_json, parse_path, walk
from .spec import (
    JsonNormalizerSpec,
    JsonPathNormalizerSpec,
    NormalizerSpec,
    RegexNormalizerSpec,
    TextNormalizerSpec,
    regex_flags,
)

Normalizer = Callable[[str], str | None]


def compile_normalizer(spec: NormalizerSpec) -> Normalizer:
    """The normalizer a policy block describes, with its pattern or path prepared."""
    if isinstance(spec, TextNormalizerSpec):
        return normalize_text
    if isinstance(spec, JsonNormalizerSpec):
        return normalize_json
    if isinstance(spec, JsonPathNormalizerSpec):
        return _json_path(parse_path(spec.path), spec.casefold)
    if isinstance(spec, RegexNormalizerSpec):
        return _regex(spec)
    raise TypeError(f"unknown normalizer {spec!r}")


def normalize_text(text: str) -> str | None:
    key = " ".join(text.split()).casefold()
    return key or None


def normalize_json(text: str) -> str | None:
    value = parse_json(text)
    return None if value is NOT_JSON else canonical_json(value)


def _json_path(steps: tuple[str | int, ...], casefold: bool) -> Normalizer:
    def normalize(text: str) -> str | None:
        value = parse_json(text)
        if value is NOT_JSON:
            return None
        found = walk(value, steps)
        if found is MISSING or found is None:
            return None
        if isinstance(found, str):
            return _fold(found, casefold)
        return canonical_json(found)

    return normalize


def _regex(spec: RegexNormalizerSpec) -> Normalizer:
    pattern = re.compile(spec.pattern, regex_flags(spec.flags))
    group: int | str = spec.group if spec.group is not None else 0
    if spec.group is None and "answer" in pattern.groupindex:
        group = "answer"
    elif spec.group is None and pattern.groups:
        group = 1
    casefold = spec.casefold

    def normalize(text: str) -> str | None:
        match = pattern.search(text)
        if match is None:
            return None
        captured = match.group(group)
        return _fold(captured, casefold) if captured is not None else None

    return normalize


def _fold(text: str, casefold: bool) -> str | None:
    key = " ".join(text.split())
    key = key.casefold() if casefold else key
    return key or None
