"""The refusal detector: does an answer open by declining to answer?

An answer is a refusal when its first ``within_chars`` characters (default 200), case-folded, with curly
apostrophes straightened and whitespace collapsed, contain one of the phrases, or when the provider
stopped it with a content filter. Only the start is read so that an answer that quotes a refusal later
on is not caught. The built-in ``REFUSAL_PHRASES`` (docs/ensembles.md lists them) can be extended or
replaced in the policy; the pattern is compiled once per policy load.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_WITHIN_CHARS = 200
REFUSAL_PHRASES = (
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i am sorry, but i cannot",
    "i'm sorry, i can't",
    "sorry, i can't help",
    "i can't help with",
    "i cannot help with",
    "i can't assist with",
    "i cannot assist with",
    "i'm unable to help",
    "i am unable to help",
    "i'm not able to help",
    "i won't be able to help",
    "i can't comply",
    "i cannot comply",
    "i must decline",
    "as an ai language model, i",
)
CONTENT_FILTER = "content_filter"
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


class RefusalDetector:
    """Built once per policy load from the phrase list."""

    def __init__(self, phrases: Iterable[str], within_chars: int = DEFAULT_WITHIN_CHARS) -> None:
        normalized = sorted({_normalize(phrase) for phrase in phrases}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(phrase) for phrase in normalized)) if normalized else None
        self.within_chars = within_chars

    def phrase(self, text: str, finish_reason: str | None = None) -> str | None:
        """The refusal phrase found (or ``content filter``), else None."""
        if finish_reason == CONTENT_FILTER:
            return "the provider's content filter"
        if self._pattern is None:
            return None
        match = self._pattern.search(_normalize(text[: self.within_chars * 2])[: self.within_chars])
        return match.group(0) if match else None


def _normalize(text: str) -> str:
    return " ".join(text.translate(_APOSTROPHES).casefold().split())
