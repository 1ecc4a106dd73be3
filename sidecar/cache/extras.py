"""The fields of a whole answer the common form does not carry, kept with its entry so that a hit in the
dialect that answered gives them back (issue 21: an SDK cannot tell a hit from a live answer).

Which fields they are is the dialect's (``WireDialect.answer_extras``: OpenAI's ``system_fingerprint``,
``service_tier`` and usage details; Anthropic's ``usage.cache_creation`` and ``usage.service_tier``;
Gemini's token details by modality...). ``extras_of(body, dialect)`` reads them from the upstream's own
body, when the caller speaks the upstream's dialect (an entry only ever answers its key's dialect);
``with_extras(body, extras, dialect)`` puts them into a hit's body built by that dialect's builder. A
caller of another dialect gets what the translated live answer has: the builder's body alone.

Stored as JSON text, ``[dialect, [[path, value]...]]`` (``entry``'s ``"x"``), at most ``MAX_CHARS``
characters (a provider that sends more: the entry keeps none, and its hits go without them). Entries
stored without them (an older sidecar's, or a streamed answer's: its events are not kept) are served
without them; text that is not what ``extras_of`` wrote is ignored (never a failed hit).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..dialects import Dialect
from ..dialects.registry import wire

MAX_CHARS = 2048
"""The longest extras kept (a few hundred characters in every provider's answer seen)."""


def extras_of(body: dict[str, Any], dialect: Dialect) -> str | None:
    """``body``'s fields outside the common form (``dialect``'s ``answer_extras``) as the JSON text an
    entry keeps; None when it has none, or more than ``MAX_CHARS``."""
    found: list[list[Any]] = []
    for path in wire(dialect).answer_extras:
        value: Any = body
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if value is not None:
            found.append([path, value])
    if not found:
        return None
    text = orjson.dumps([str(dialect), found]).decode()
    return text if len(text) <= MAX_CHARS else None


def with_extras(body: dict[str, Any], extras: str | None, dialect: Dialect) -> dict[str, Any]:
    """``body`` (a ``dialect`` answer built from the common form) with the extras its live answer had, when
    they are that dialect's; each where the live answer had it, replacing what the builder wrote there."""
    if extras is None:
        return body
    try:
        origin, found = orjson.loads(extras)
        if origin != str(dialect):
            return body
        for path, value in found:
            *parents, name = path
            place: Any = body
            for parent in parents:
                place = place.get(parent)  # a path the builder did not make (no usage): skipped below
            if isinstance(place, dict) and type(name) is str:
                place[name] = value
    except (orjson.JSONDecodeError, TypeError, ValueError, AttributeError):
        return body  # not what extras_of wrote: the builder's body, as a hit had before extras were kept
    return body
