"""The shadow policy block: defaults and errors with paths."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sidecar.ensemble.spec import RegexNormalizerSpec
from sidecar.policy.load import format_validation_error
from sidecar.shadow import ShadowSpec


def test_defaults_and_shorthand():
    """Five per cent sampled, compared as text, four calls in flight; a regex normalizer is accepted."""
    spec = ShadowSpec.model_validate({"candidates": ["mini"]})
    assert (spec.sample, spec.normalizer.kind, spec.judge, spec.max_concurrent) == (0.05, "text", None, 4)
    regex = ShadowSpec.model_validate({"candidates": ["m"], "normalizer": {"kind": "regex", "pattern": "(a)"}})
    assert isinstance(regex.normalizer, RegexNormalizerSpec)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"candidates": []}, "candidates: List should have at least 1 item"),
        ({"candidates": ["a", "a"]}, "(top level): candidates: a model is listed twice"),
        ({"candidates": ["a"], "sample": 1.5}, "sample: Input should be less than or equal to 1"),
        ({"candidates": ["a"], "max_concurrent": 0}, "max_concurrent: Input should be greater than or equal to 1"),
        (
            {"candidates": ["a"], "judge": {"target": "j", "prompt": "Same? {served}"}},
            "judge.prompt: the agreement prompt must contain {question}, {candidate}",
        ),
    ],
)
def test_errors_name_their_path(block: dict[str, Any], expected: str) -> None:
    """Mistakes are reported at their path within the block."""
    with pytest.raises(ValidationError) as caught:
        ShadowSpec.model_validate(block)
    lines = format_validation_error(caught.value)
    assert any(expected in line for line in lines), lines
