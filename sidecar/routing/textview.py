"""The request's text windows as rules read them: ``TextView`` and how text splits into words.

``TextView`` holds the per-request derived forms of the two windows (``RequestFeatures.system_text``
and ``last_user_text``): lowercased, words, word set, words joined by single spaces; each computed on
first use and shared by every rule, the classifier and the learned model. Words: ASCII punctuation
(except ``_``) separates words like whitespace (``split_words``, ``words_of``); ``ascii_words`` gives an
ASCII window's words as bytes, for a test against keywords as bytes with no ``str`` made per word.
``TEXT_OF`` reads a window by its policy name (``system``, ``last_user``).
"""

from __future__ import annotations

import operator
import string
from collections.abc import Callable, Mapping

from .features import RequestFeatures
from .literal import PatternKey
from .spec import TextField

_PUNCTUATION_TO_SPACE = str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))


_PUNCTUATION = string.punctuation.replace("_", "").encode()
_ASCII_PUNCTUATION_TO_SPACE = bytes.maketrans(_PUNCTUATION, b" " * len(_PUNCTUATION))


def split_words(lowered: str) -> list[str]:
    """The words of lowercased text: ASCII punctuation (except ``_``) separates words, like whitespace.
    An ASCII text is translated as bytes (one table lookup a byte; ``str.translate`` with a dict looks
    every distinct character up in the dict and raises a KeyError inside for each one it lacks)."""
    if lowered.isascii():
        return lowered.encode("ascii").translate(_ASCII_PUNCTUATION_TO_SPACE).decode("ascii").split()
    return lowered.translate(_PUNCTUATION_TO_SPACE).split()


# ``str.split`` also breaks at the ASCII separators 0x1c-0x1f, ``bytes.split`` does not: they become spaces;
# and the upper case letters become lower case (``bytes.lower`` in the same lookup)
_UPPER = bytes(range(65, 91))
ASCII_WORDS_LOWERED = bytes.maketrans(
    _PUNCTUATION + b"\x1c\x1d\x1e\x1f" + _UPPER, b" " * (len(_PUNCTUATION) + 4) + _UPPER.lower()
)


def ascii_words(text: str) -> list[bytes]:
    """The words of an ASCII ``text`` (not lowercased first) as bytes: ``split_words(text.lower())``,
    encoded, with no ``str`` made per word (a check against keywords as bytes needs no more)."""
    return text.encode("ascii").translate(ASCII_WORDS_LOWERED).split()


def words_of(text: str) -> list[str]:
    """Lowercased words: ASCII punctuation (except ``_``) separates words, like whitespace."""
    return split_words(text.lower())


TEXT_OF: Mapping[TextField, Callable[[RequestFeatures], str]] = {
    "system": operator.attrgetter("system_text"),
    "last_user": operator.attrgetter("last_user_text"),
}
"""Each window's reader (in C: no Python call per read)."""


class TextView:
    """The two windows of one request and their derived forms, each computed once on first use."""

    __slots__ = ("_lower", "_spaced", "_word_sets", "_words", "features", "searched")

    def __init__(self, features: RequestFeatures) -> None:
        self.features = features
        self.searched: dict[tuple[PatternKey, str], bool] = {}
        """Gate searches of patterns without a leading literal, by (source and flags, text): the class and the
        level gates often share one (digit-led arithmetic), and such a search scans the whole text."""
        self._lower: dict[str, str] = {}
        self._words: dict[str, list[str]] = {}
        self._word_sets: dict[str, frozenset[str]] = {}
        self._spaced: dict[str, str] = {}

    def raw(self, field: TextField) -> str:
        return self.features.system_text if field == "system" else self.features.last_user_text

    def lower(self, field: TextField) -> str:
        value = self._lower.get(field)
        if value is None:
            value = self._lower[field] = self.raw(field).lower()
        return value

    def words(self, field: TextField) -> list[str]:
        value = self._words.get(field)
        if value is None:
            value = self._words[field] = split_words(self.lower(field))
        return value

    def word_set(self, field: TextField) -> frozenset[str]:
        value = self._word_sets.get(field)
        if value is None:
            words = self._words.get(field)
            if words is None:  # ``words``, without the call: every request with keyword rules needs it
                words = self._words[field] = split_words(self.lower(field))
            value = self._word_sets[field] = frozenset(words)
        return value

    def spaced(self, field: TextField) -> str:
        """The words joined by single spaces, with a space at each end (phrase search)."""
        value = self._spaced.get(field)
        if value is None:
            value = self._spaced[field] = " " + " ".join(self.words(field)) + " "
        return value
