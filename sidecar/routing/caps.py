"""Per-route token caps: clamp or set max output tokens, refuse an oversized prompt.

``TokenCaps.output_tokens(requested)`` is the max output tokens to send: the request's value clamped
to the cap, the cap itself when the request sets none (``set_when_absent``), or None to leave the
request as it is. ``TokenCaps.input_problem(features)`` is the message for a 413 answer when the
estimated prompt is over the ceiling, else None (the answer itself, in the caller's dialect, is the
request path's). ``set_output_limit(body, dialect, operation, value)`` writes the value into a copy
of the body under the field that dialect and operation read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

from ..dialects import Dialect, Operation
from .features import RequestFeatures
from .spec import CapsSpec


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
    """A copy of ``body`` asking for at most ``value`` output tokens, in the field its dialect reads."""
    out = dict(body)
    match dialect:
        case Dialect.GEMINI:
            key = (
                "generation_config"
                if "generation_config" in body and "generationConfig" not in body
                else "generationConfig"
            )
            config = dict(body.get(key) or {})
            config.pop("max_output_tokens", None)
            config["maxOutputTokens"] = value
            out[key] = config
        case Dialect.ANTHROPIC:
            out["max_tokens"] = value
        case Dialect.OPENAI if operation is Operation.TEXT_COMPLETION:
            out["max_tokens"] = value
        case Dialect.OPENAI if operation is Operation.RESPONSES:
            out["max_output_tokens"] = value
        case Dialect.OPENAI if "max_tokens" in body and "max_completion_tokens" not in body:
            out["max_tokens"] = value  # keep the field the app used (OpenAI-compatible servers may know only it)
        case Dialect.OPENAI:
            out["max_completion_tokens"] = value
        case _:
            assert_never(dialect)
    return out
