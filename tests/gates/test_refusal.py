"""The refusal detector: the phrase list, normalisation, only the answer's start, content filters."""

from __future__ import annotations

import pytest

from sidecar.fake_provider.quality import REFUSALS
from sidecar.gates.refusal import REFUSAL_PHRASES, RefusalDetector

detector = RefusalDetector(REFUSAL_PHRASES)


@pytest.mark.parametrize("text", REFUSALS)
def test_fake_provider_refusals_are_caught(text):
    """Every refusal the fake provider gives is detected (the two lists stay in step)."""
    assert detector.phrase(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "I\u2019m sorry, but I can\u2019t help with that.",
        "  I'M SORRY,   BUT I CANNOT do this.",
        "As an AI language model, I do not have opinions.",
        "Sorry, I can't help with requests like this one.",
    ],
)
def test_variants_are_caught(text):
    """Curly apostrophes, case and spacing do not hide a refusal."""
    assert detector.phrase(text) is not None


@pytest.mark.parametrize(
    "text",
    ["positive", "The customer wrote: 'I can help with that'.", '{"label": "refund"}', "Sorry for the delay: 42."],
)
def test_answers_are_not_refusals(text):
    """Ordinary answers pass."""
    assert detector.phrase(text) is None


def test_only_the_start_is_read():
    """A refusal phrase quoted far into a long answer is not a refusal."""
    long_answer = "Here is the summary. " * 20 + "The agent said: I can't help with that."
    assert detector.phrase(long_answer) is None
    assert RefusalDetector(REFUSAL_PHRASES, within_chars=10_000).phrase(long_answer) is not None


def test_content_filter_is_a_refusal():
    """An answer the provider stopped with its content filter counts as refused, whatever its text."""
    assert detector.phrase("", "content_filter") == "the provider's content filter"


def test_custom_phrases_only():
    """Without the defaults only the policy's phrases count; an empty list detects nothing."""
    custom = RefusalDetector(["not my department"])
    assert custom.phrase("That is not my department, sorry.") == "not my department"
    assert custom.phrase("I can't help with that.") is None
    assert RefusalDetector([]).phrase("I can't help with that.") is None
