"""What a translation refuses and how: the errors it raises, the per-route options, the drop list.

Everything a translator raises is a ``TranslationError`` (a ``ValueError``); ``UnsupportedParameter``
(``.name``) is the one for a parameter with no equivalent under ``unsupported="error"``.

Policy for parameters with no equivalent (``Drops``): *unsupported* ones raise ``UnsupportedParameter``
under ``unsupported="error"`` and are dropped and listed under ``"drop"``; *ignored* ones (which do not
change what the model generates: ``store``, ``metadata``, ``cache_control``...) are always dropped and
listed, never refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class TranslationError(ValueError):
    """The body cannot be translated (malformed, or an operation with no counterpart in the target)."""


class UnsupportedParameter(TranslationError):
    """A parameter has no equivalent in the target dialect and the policy says ``error``."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name, self.detail = name, detail
        super().__init__(f"parameter {name!r} has no equivalent in the target API" + (f": {detail}" if detail else ""))


@dataclass(frozen=True, slots=True)
class TranslateOptions:
    """Per-route translation settings, built once at policy load."""

    default_max_tokens: int = 4096
    """Anthropic requires ``max_tokens``; used when the caller did not set one."""
    unsupported: Literal["error", "drop"] = "error"
    """What to do with a parameter that has no equivalent in the target."""
    openai_max_tokens_field: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    """Which field carries the output limit to an OpenAI-dialect upstream (older compatible servers only
    know ``max_tokens``; OpenAI's reasoning models only accept ``max_completion_tokens``)."""


class Drops:
    """Collects the parameters dropped while translating one request; raises on unsupported ones."""

    __slots__ = ("_error", "names")

    def __init__(self, options: TranslateOptions) -> None:
        self._error = options.unsupported == "error"
        self.names: list[str] = []

    def unsupported(self, name: str, detail: str = "") -> None:
        """``name`` changes the output and cannot be carried over: refuse or drop per policy."""
        if self._error:
            raise UnsupportedParameter(name, detail)
        if name not in self.names:
            self.names.append(name)

    def ignored(self, name: str) -> None:
        """``name`` does not change the output and cannot be carried over: drop it, listed."""
        if name not in self.names:
            self.names.append(name)
