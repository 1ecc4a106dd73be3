"""The JSON path language and reading JSON out of answers."""

from __future__ import annotations

import pytest

from sidecar.ensemble.jsondoc import MISSING, NOT_JSON, parse_json, parse_path, walk


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("label", ("label",)),
        ("$.a.b", ("a", "b")),
        ("$[0].name", (0, "name")),
        ("items[2][0]", ("items", 2, 0)),
        ('a["dotted.key"].b', ("a", "dotted.key", "b")),
        ("kebab-case.x_y", ("kebab-case", "x_y")),
    ],
)
def test_parse_path(text, steps):
    """Keys, [N] indexes and ["quoted.keys"], with an optional leading $."""
    assert parse_path(text) == steps


@pytest.mark.parametrize("text", ["", "$", ".a", "a.", "a..b", "a[x]", 'a["b'])
def test_bad_paths(text):
    """Malformed paths are refused at load time."""
    with pytest.raises(ValueError, match="path"):
        parse_path(text)


def test_walk():
    """Walking finds nested values and reports MISSING for absent keys, indexes and wrong types."""
    value = {"a": [{"b": 1}, {"b": None}]}
    assert walk(value, ("a", 0, "b")) == 1
    assert walk(value, ("a", 1, "b")) is None
    assert walk(value, ("a", 2, "b")) is MISSING
    assert walk(value, ("a", "b")) is MISSING
    assert walk(value, ("z",)) is MISSING


def test_parse_json_fence_only_when_whole():
    """A fence around the whole answer is unwrapped; prose around JSON is not JSON."""
    assert parse_json(" ```json\n[1, 2]\n``` ") == [1, 2]
    assert parse_json("Here: ```json\n[1]\n```") is NOT_JSON
