"""How a window's text splits into words: as str and, for ASCII text, as bytes."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.routing.textview import ascii_words, split_words


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x3000), max_size=60))
def test_words_of_ascii_and_other_text_split_alike(text: str) -> None:
    """An ASCII text's words (split as bytes) are those the punctuation-to-space definition gives."""
    lowered = text.lower()
    expected = lowered.translate(str.maketrans(dict.fromkeys(string.punctuation.replace("_", ""), " "))).split()
    assert split_words(lowered) == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=60))
def test_ascii_words_as_bytes_are_the_words_of_the_text(text: str) -> None:
    """An ASCII text's words as bytes (``ascii_words``) are its words (``split_words`` of it lowercased),
    encoded: the same breaks at punctuation, whitespace and the ASCII separators."""
    assert [word.decode("ascii") for word in ascii_words(text)] == split_words(text.lower())
