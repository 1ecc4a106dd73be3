"""Per-route token caps: clamp or set max output tokens, refuse an oversized prompt.

``TokenCaps.output_tokens(requested)`` is the max output tokens to send: the request's value clamped
to the cap, the cap itself when the request sets none (``set_when_absent``), or None to leave the
request as it is. ``TokenCaps.input_problem(features)`` is the message for a 413 answer when the
estimated prompt is over the ceiling, else None (the answer itself, in the caller's dialect, is the
request path's). Caps apply to the ``GENERATING`` operations. ``set_output_limit(body, dialect,
operation, value)`` writes the value into a copy of the body under the field that dialect and operation
read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..dialects import Dialect, Operation
from ..dialects.registry import wire
from .features import RequestFeatures
from .spec import CapsSpec

GENERATING = frozenset({Operation.CHAT, Operation.TEXT_COMPLETION, Operation.RESPONSES, Operation.GENERATE_CONTENT})
"""The operations caps apply to (those that generate: not embeddings, token counts)."""


@dataclass(frozen=True, slots=True)
class TokenCaps:
    max_output_tokens: int | None = None
    set_when_absent: bool = True
    max_input_tokens: int | None = None

    @classmethod
    def from_spec(cls, spec: CapsSpec) -> TokenCaps:
        return cls(spec.max_output_tokens, spec.set_when_absent, spec.max_input_tokens)

    def output_tokens(self, requested: int | None) -> int | None:
        """The max output tokens to send, or None to leave the request's own (or its absence)."""
        cap = self.max_output_tokens
        if cap is None:
            return None
        if requested is None:
            return cap if self.set_when_absent else None
        return cap if requested > cap else None

    def input_problem(self, features: RequestFeatures) -> str | None:
        limit = self.max_input_tokens
        if limit is None or features.prompt_tokens <= limit:
            return None
        return (
            f"the prompt is about {features.prompt_tokens:,} tokens (estimated); this route accepts at most "
            f"{limit:,}: shorten the conversation or the documents in it"
        )


def set_output_limit(body: dict[str, Any], dialect: Dialect, operation: Operation, value: int) -> dict[str, Any]:
    """A copy of ``body`` asking for at most ``value`` output tokens, in the field its dialect reads
    (its package's ``bodies.set_output_limit``)."""
    return wire(dialect).bodies.set_output_limit(body, operation, value)
