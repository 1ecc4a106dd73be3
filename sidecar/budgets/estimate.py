"""What a reservation assumes about a request: its prompt tokens and its output maximum, cheaply.

``estimate_request(facts, raw)`` returns ``(prompt_tokens, max_output_tokens)``:

    routing already read the request's features   -> theirs (the precise estimator, already paid for)
    the body may carry media (``MEDIA_MARKERS``)    -> the features, computed now (base64 bytes are
                                                       not tokens: media count at fixed costs there)
    otherwise                                      -> ceil(len(body bytes) / BYTES_PER_TOKEN[dialect]),
                                                       and the output maximum read from its one field

The byte estimate costs a division instead of a walk of the body (about 45 us for a two-message chat
on this machine): the budgets need a number that is not low, not an exact one, since the settlement
charges what the provider reports. It counts the JSON around the text as text, so it is high for short
requests (a one-line chat: about 2x the o200k count) and close for long ones; ``bench/budgets_estimate.py``
measures it per dialect and kind of text (docs/budgets.md, "The estimate").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sidecar.dialects import Dialect, Operation

if TYPE_CHECKING:
    from sidecar.request_facts import RequestFacts

BYTES_PER_TOKEN: dict[Dialect, float] = {Dialect.OPENAI: 4.0, Dialect.ANTHROPIC: 4.0, Dialect.GEMINI: 4.5}
"""Body bytes per estimated prompt token (Gemini's bodies wrap each text in more JSON)."""

MEDIA_MARKERS = (b"image", b"audio", b"video", b"file", b"document", b"inline", b"data:")
"""Substrings of a body that may carry media (part types, MIME types, Gemini's ``inlineData``): such a
body is estimated by the walk that counts media at fixed costs. A text that merely says "file" takes
the slower, precise path; nothing is ever estimated low because of it."""


def estimate_request(facts: RequestFacts, raw: bytes) -> tuple[int, int | None]:
    """The prompt tokens and the request's own output maximum (None: it set none) for a reservation."""
    features = facts.known_features
    if features is None and any(marker in raw for marker in MEDIA_MARKERS):
        features = facts.features
    if features is not None:
        return features.prompt_tokens, features.max_output_tokens
    tokens = -int(-len(raw) // BYTES_PER_TOKEN[facts.dialect])
    reader = _OUTPUT_LIMITS.get((facts.dialect, facts.operation))
    return tokens, reader(facts.body) if reader is not None else None


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _openai_chat(body: dict[str, Any]) -> int | None:
    return _positive(body.get("max_completion_tokens", body.get("max_tokens")))


def _max_tokens(body: dict[str, Any]) -> int | None:
    return _positive(body.get("max_tokens"))


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    return _positive(body.get("max_output_tokens"))


def _gemini(body: dict[str, Any]) -> int | None:
    config = body.get("generationConfig", body.get("generation_config"))
    if not isinstance(config, dict):
        return None
    return _positive(config.get("maxOutputTokens", config.get("max_output_tokens")))


# The fields ``routing.bodies`` reads the output maximum from, per dialect and operation.
_OUTPUT_LIMITS: dict[tuple[Dialect, Operation], Callable[[dict[str, Any]], int | None]] = {
    (Dialect.OPENAI, Operation.CHAT): _openai_chat,
    (Dialect.OPENAI, Operation.RESPONSES): _max_output_tokens,
    (Dialect.OPENAI, Operation.TEXT_COMPLETION): _max_tokens,
    (Dialect.ANTHROPIC, Operation.CHAT): _max_tokens,
    (Dialect.GEMINI, Operation.CHAT): _gemini,
    (Dialect.GEMINI, Operation.GENERATE_CONTENT): _gemini,
}
