"""The truth grammar: header or ``[truth:...]`` marker, percent-decoded values, clear errors."""

from __future__ import annotations

import pytest

from sidecar.fake_provider.truth import Truth, find_truth, parse_truth, strings_in


def test_parse_every_key():
    """Every key is read; choices split on ``|``; unset keys take their defaults."""
    truth = parse_truth("task=sentiment; answer=positive;choices=positive|negative;trap=negative;id=7;field=label")
    assert truth == Truth("positive", "sentiment", ("positive", "negative"), "negative", "7", "label")
    assert parse_truth("answer=42") == Truth("42")


def test_values_are_percent_decoded():
    """``%3B`` and ``%5D`` let a value hold ``;`` and ``]``."""
    assert parse_truth("answer=a%3Bb%5D").answer == "a;b]"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("task=x", "answer= is required"),
        ("answer=", "answer= is required"),
        ("answer=a;colour=red", "unknown key 'colour'"),
        ("answer=a;answer=b", "answer given twice"),
        ("answer", "expected key=value"),
    ],
)
def test_bad_specs_name_the_problem(spec, message):
    """A spec that does not parse raises ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_truth(spec)


def test_header_wins_over_marker():
    """The header is used when present; otherwise the first marker in the text; otherwise nothing."""
    text = "classify: great! [truth:answer=positive] [truth:answer=negative]"
    assert find_truth("answer=neutral", text)[0] == Truth("neutral")
    assert find_truth(None, text) == (Truth("positive"), "answer=positive")
    assert find_truth(None, "no marker here") == (None, "")


def test_unclosed_marker_is_an_error():
    """``[truth:`` without ``]`` is reported rather than ignored."""
    with pytest.raises(ValueError, match="closing"):
        find_truth(None, "x [truth:answer=a")


def test_strings_in_a_body():
    """Every string of a request body is searched for a marker when the last turn has none."""
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "a [truth:answer=x]"}]}]}
    assert find_truth(None, strings_in(body))[0] == Truth("x")
