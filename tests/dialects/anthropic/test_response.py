"""The Anthropic dialect's error words: another provider's context overflow in Anthropic's own form."""

from __future__ import annotations

import pytest

from sidecar.dialects.anthropic.response import overflow_message

OPENAI = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. "
    "Please reduce the length of the messages."
)
GEMINI = "The input token count (1048577) exceeds the maximum number of tokens allowed (1048576)."


@pytest.mark.parametrize(
    ("message", "numbers"),
    [(OPENAI, "130000 tokens > 128000 maximum"), (GEMINI, "1048577 tokens > 1048576 maximum")],
    ids=["openai", "gemini"],
)
def test_an_overflow_with_both_counts_reads_as_anthropics(message: str, numbers: str) -> None:
    """The tokens sent and the window, read from the provider's words, in Anthropic's form (what
    Anthropic-based tools parse), the provider's message after it."""
    assert overflow_message(message) == f"prompt is too long: {numbers} ({message})"


def test_an_overflow_without_counts_keeps_the_message_after_anthropics_words() -> None:
    """Without both counts the message follows ``prompt is too long: `` as it came."""
    assert overflow_message("context length exceeded") == "prompt is too long: context length exceeded"


def test_anthropics_own_words_stay_as_they_are() -> None:
    """A message already in Anthropic's form (an Anthropic-compatible upstream's) is not wrapped again."""
    assert overflow_message("prompt is too long: 9 tokens > 8 maximum") == "prompt is too long: 9 tokens > 8 maximum"
