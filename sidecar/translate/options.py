"""What a translation refuses and how: the errors it raises, the per-route options, the drop list.

Everything a translator raises is a ``TranslationError`` (a ``ValueError``); ``UnsupportedParameter``
(``.name``) is the one for a parameter with no equivalent under ``unsupported="error"``.

Policy for parameters with no equivalent (``Drops``): *unsupported* ones raise ``UnsupportedParameter``
under ``unsupported="error"`` and are dropped and listed under ``"drop"``; *ignored* ones (which do not
change what the model generates: ``store``, ``metadata``, ``cache_control``...) are always dropped and
listed, never refused.

A name made of what the caller wrote (an unknown field, a part's ``type``) is shown as ``cut`` and
``name_of`` make it, so that a refusal or the dropped list never quotes a caller's megabyte or Python's
text for its value: at most ``NAME_CHARS`` characters, a value that is not a string by its JSON type;
a translation lists at most ``MAX_DROPPED`` names, then ``MORE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .shapes import kind_of, said_kind

NAME_CHARS = 64
"""The longest name a refusal or the dropped list shows; a longer one is cut and ends in ``...``."""
MAX_DROPPED = 32
"""The most parameter names one translation lists as dropped; ``MORE`` stands for the rest."""
MORE = "..."


def cut(text: str) -> str:
    """``text`` as a message shows what the caller wrote: whole up to ``NAME_CHARS``, else its start and
    ``...``."""
    return text if len(text) <= NAME_CHARS else text[: NAME_CHARS - 3] + "..."


def name_of(value: Any) -> str:
    """A caller's value that names something (a part's or a tool's ``type``) as one segment of a parameter
    name: a string as it is (``cut``), any other JSON value as its type (``<null>``, ``<object>``)."""
    return cut(value) if isinstance(value, str) else f"<{kind_of(value)}>"


def shown(value: Any) -> str:
    """A caller's value as a message quotes it: a string in quotes (``cut``), any other JSON value by its
    type (``a number``, ``null``)."""
    return repr(cut(value)) if isinstance(value, str) else said_kind(value)


class TranslationError(ValueError):
    """The body cannot be translated (malformed, or an operation with no counterpart in the target)."""


class UnsupportedParameter(TranslationError):
    """A parameter has no equivalent in the target dialect and the policy says ``error``."""

    def __init__(self, name: str, detail: str = "") -> None:
        self.name, self.detail = name, detail
        super().__init__(f"parameter {name!r} has no equivalent in the target API" + (f": {detail}" if detail else ""))


DEFAULT_MAX_TOKENS = 4096
"""The output limit an Anthropic target gets when the app set none and the model has no
``max_output_tokens`` (Anthropic requires one): a translated request, or one of Anthropic's own dialect."""


@dataclass(frozen=True, slots=True)
class TranslateOptions:
    """Per-route translation settings, built once at policy load."""

    default_max_tokens: int = DEFAULT_MAX_TOKENS
    """Anthropic requires ``max_tokens``; used when the caller did not set one."""
    model_max_output_tokens: int | None = None
    """The target model's ``max_output_tokens`` (the policy's models table), when known: an Anthropic
    ``max_tokens`` is never raised past it to fit a thinking budget (``dialects.anthropic.thinking``)."""
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
            raise UnsupportedParameter(cut(name), detail)
        self._list(name)

    def ignored(self, name: str) -> None:
        """``name`` does not change the output and cannot be carried over: drop it, listed."""
        self._list(name)

    def _list(self, name: str) -> None:
        name = cut(name)
        if name in self.names:
            return
        if len(self.names) < MAX_DROPPED:
            self.names.append(name)
        elif self.names[-1] != MORE:
            self.names.append(MORE)
