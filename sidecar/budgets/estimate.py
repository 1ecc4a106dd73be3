"""What a reservation assumes about a request: its prompt tokens and its output maximum, cheaply.

``estimate_request(facts, raw)`` returns ``(prompt_tokens, max_output_tokens)``:

    routing already read the request's features   -> theirs (the precise estimator, already paid for)
    the body may carry media, or escaped non-ASCII -> the features, computed now (base64 bytes are
      text (``WALK_MARKERS``)                          not tokens: media count at fixed costs there)
    otherwise                                      -> (body bytes + 2 x its digits) / BYTES_PER_TOKEN
                                                       of the dialect, rounded up; the output maximum
                                                       read from its one field (the dialect's ``bodies.output_limit``)

The byte estimate costs one pass of ``bytes.translate`` (the digits: a number is about one token per
two or three digits, a word one per four or five letters) instead of a walk of the body (about 45 us
for a two-message chat on this machine). The budgets need a number that is not low rather than an exact
one, since the settlement charges what the provider reports: it counts the JSON around the text as
text, so it is high, by about 20-35% for prose, code, JSON and CJK and 60% for accented and Cyrillic
text (``bench/budgets_estimate.py``; docs/budgets.md, "The prompt estimate"), and low for at most a few
percent of bodies, by at most 10-20%.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from sidecar.dialects import Dialect
from sidecar.dialects.registry import WIRE_DIALECTS, wire

if TYPE_CHECKING:
    from sidecar.request_facts import RequestFacts

BYTES_PER_TOKEN: dict[Dialect, float] = {Dialect.OPENAI: 3.6, Dialect.ANTHROPIC: 3.6, Dialect.GEMINI: 4.0}
"""Body bytes (digits thrice) per estimated prompt token; Gemini's bodies wrap each text in more JSON.
A dialect not listed (a newly added one) is estimated at ``DEFAULT_BYTES_PER_TOKEN``."""

DEFAULT_BYTES_PER_TOKEN = 3.6

_DIGITS = b"0123456789"

_BY_DIALECT = MappingProxyType(
    {
        dialect: (BYTES_PER_TOKEN.get(dialect, DEFAULT_BYTES_PER_TOKEN), w.bodies.output_limit)
        for dialect, w in WIRE_DIALECTS.items()
    }
)
"""Each dialect's bytes per token and reader of a body's output maximum (``bodies.output_limit``),
looked up once."""

WALK_MARKERS = (b"image", b"audio", b"video", b"file", b"document", b"inline", b"data:", b"\\u")
"""Substrings of a body the byte estimate would misjudge, so the body is walked (the features):
media (part types, MIME types, Gemini's ``inlineData``; the walk counts them at fixed costs, not their
base64 bytes) and ``\\u`` escapes (non-ASCII text escaped by its SDK: 6 bytes a character, digits
among them). A text that merely says "file" takes the slower, precise path."""


def needs_walk(raw: bytes) -> bool:
    """Whether ``raw`` names one of the ``WALK_MARKERS``. Searched as text decoded as Latin-1 (one
    character per byte, so the same matches): a ``str`` search per marker costs about a third of one
    alternation regular expression, and ``bytes.__contains__`` first tries the needle as an integer."""
    text = raw.decode("latin-1")
    return (
        "image" in text
        or "audio" in text
        or "video" in text
        or "file" in text
        or "document" in text
        or "inline" in text
        or "data:" in text
        or "\\u" in text
    )


def estimate_request(facts: RequestFacts, raw: bytes) -> tuple[int, int | None]:
    """The prompt tokens and the request's own output maximum (None: it set none) for a reservation."""
    features = facts.known_features
    if features is None and needs_walk(raw):
        features = facts.features
    if features is not None:
        return features.prompt_tokens, features.max_output_tokens
    dialect = facts.dialect
    known = _BY_DIALECT.get(dialect)
    per_token, read_limit = known or (DEFAULT_BYTES_PER_TOKEN, wire(dialect).bodies.output_limit)
    tokens = -int(-(3 * len(raw) - 2 * len(raw.translate(None, _DIGITS))) // per_token)  # _weight's, no call
    limit = read_limit(facts.body, facts.operation)  # positive(), without a call:
    return tokens, limit if type(limit) is int and limit > 0 else None


def _weight(raw: bytes) -> int:
    """Bytes, digits thrice: the length plus twice the digits (the bytes ``translate`` deletes)."""
    return 3 * len(raw) - 2 * len(raw.translate(None, _DIGITS))


def byte_estimate(raw: bytes, dialect: Dialect) -> int:
    """The prompt tokens of a body by its length: (bytes + 2 x digits) / ``BYTES_PER_TOKEN``, rounded up."""
    return -int(-_weight(raw) // BYTES_PER_TOKEN.get(dialect, DEFAULT_BYTES_PER_TOKEN))
