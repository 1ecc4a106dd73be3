"""Normalizers: each kind's key, abstentions (None), and options."""

from __future__ import annotations

import pytest

from sidecar.ensemble.normalize import compile_normalizer
from sidecar.ensemble.spec import (
    JsonNormalizerSpec,
    JsonPathNormalizerSpec,
    RegexNormalizerSpec,
    TextNormalizerSpec,
)

text = compile_normalizer(TextNormalizerSpec())
canonical = compile_normalizer(JsonNormalizerSpec())


def test_text_trims_collapses_and_casefolds():
    """Text answers agree regardless of case, surrounding and repeated whitespace (ß folds to ss)."""
    assert text("  Positive\n") == text("positive") == "positive"
    assert text("New   York\tCity") == "new york city"
    assert text("STRASSE") == text("straße")
    assert text("  \n ") is None


def test_json_is_canonical():
    """Key order, spacing, a ```json fence and 1.0 vs 1 do not matter; a non-JSON answer abstains."""
    assert canonical('{"b": 1.0, "a": [1, {"y": 2, "x": 1}]}') == canonical('{"a":[1,{"x":1,"y":2.0}],"b":1}')
    assert canonical('```json\n{"a": 1}\n```') == '{"a":1}'
    assert canonical('{"a": "X"}') != canonical('{"a": "x"}')  # string values keep their case
    assert canonical("Sure! {'a': 1}") is None


def test_json_path_value():
    """A json_path takes one value: strings trimmed and case-folded, others canonical; missing abstains."""
    label = compile_normalizer(JsonPathNormalizerSpec(path="result.items[1].label"))
    answer = '{"result": {"items": [{"label": "a"}, {"label": " Spam "}]}}'
    assert label(answer) == "spam"
    assert compile_normalizer(JsonPathNormalizerSpec(path="n"))('{"n": 2.0}') == "2"
    assert compile_normalizer(JsonPathNormalizerSpec(path="o"))('{"o": {"b": 1, "a": 2}}') == '{"a":2,"b":1}'
    assert label('{"result": {"items": []}}') is None
    assert label("not json") is None
    assert compile_normalizer(JsonPathNormalizerSpec(path="n"))('{"n": null}') is None


def test_json_path_keeps_case_when_asked():
    """``casefold: false`` keeps a string value's case (still trimmed)."""
    exact = compile_normalizer(JsonPathNormalizerSpec(path="id", casefold=False))
    assert exact('{"id": " AbC "}') == "AbC"


@pytest.mark.parametrize(
    ("spec", "answer", "key"),
    [
        (
            RegexNormalizerSpec(pattern=r"\b(positive|negative|neutral)\b", flags=["ignorecase"]),
            "I'd say NEGATIVE.",
            "negative",
        ),
        (RegexNormalizerSpec(pattern=r"label: (?P<answer>\w+)"), "reason: x\nlabel: Spam", "spam"),
        (RegexNormalizerSpec(pattern=r"(\d+) (\w+)", group=2), "total 12 apples", "apples"),
        (RegexNormalizerSpec(pattern=r"\d+"), "about 1200 units", "1200"),
        (RegexNormalizerSpec(pattern=r"ID-(\w+)", casefold=False), "see ID-AbC", "AbC"),
    ],
)
def test_regex_capture(spec, answer, key):
    """A regex normalizer keys on its ``answer`` group, the given group, group 1, or the whole match."""
    assert compile_normalizer(spec)(answer) == key


def test_regex_without_match_abstains():
    """No match (or an empty optional group) means no usable answer."""
    label = compile_normalizer(RegexNormalizerSpec(pattern=r"\b(yes|no)\b"))
    assert label("I cannot tell.") is None
    assert compile_normalizer(RegexNormalizerSpec(pattern=r"x(\d*)"))("x") is None
