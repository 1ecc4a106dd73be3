"""``BoundedLabel``: a metric label whose values come from outside the policy, kept to a bounded set.

The GenAI metrics' ``gen_ai_response_model`` is the model an upstream's answer names (its ``model`` or
``modelVersion``), which neither the policy nor the sidecar chooses. A provider names a few versions;
a broken or hostile one (or a gateway that writes a request id or a timestamp there) may name a new
one in every answer, and every new value is a new series of each histogram it labels: 3,000 such
answers made 153,000 series and a 34 MB ``/metrics`` (before 2026-12-05). So the first ``limit``
distinct values, each at most ``MAX_CHARS`` characters, are labels as they are, and any other value
is ``other`` (the span's ``gen_ai.response.model`` still says what the answer named).
"""

from __future__ import annotations

from typing import Final

OTHER: Final = "other"
MAX_CHARS: Final = 256
RESPONSE_MODELS: Final = 100
"""The distinct response models a sidecar labels its GenAI metrics with; the rest are ``other``."""


class BoundedLabel:
    """At most ``limit`` distinct values of one label (see the module docstring); ``""`` always passes."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = {""}

    def __call__(self, value: str) -> str:
        """``value`` as the label: itself when already seen or while there is room, else ``other``."""
        if value in self._seen:
            return value
        if len(self._seen) > self._limit or len(value) > MAX_CHARS:
            return OTHER
        self._seen.add(value)
        return value
