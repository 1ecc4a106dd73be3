"""The gates policy block: defaults and validation errors with their paths."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sidecar.gates.spec import GatesSpec, JsonSchemaGateSpec, RefusalGateSpec
from sidecar.policy.load import format_validation_error


def errors(block: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        GatesSpec.model_validate(block)
    return format_validation_error(caught.value)


def test_defaults():
    """An empty block checks non-empty, refusals and the request's schema, and cascades on failure."""
    spec = GatesSpec.model_validate({})
    assert (spec.non_empty, spec.refusal.enabled, spec.json_schema.source, spec.regex) == (True, True, "request", None)
    assert (spec.on_fail, spec.max_reasks) == ("next_target", 1)


def test_long_forms():
    """The refusal gate takes options; json_schema takes a schema of the policy's own."""
    spec = GatesSpec.model_validate(
        {
            "refusal": {"phrases": ["not my department"], "defaults": False},
            "json_schema": {"schema": {"type": "object"}},
        }
    )
    assert spec.refusal == RefusalGateSpec(phrases=["not my department"], defaults=False)
    assert spec.json_schema == JsonSchemaGateSpec(source="policy", schema={"type": "object"})
    off = GatesSpec.model_validate({"refusal": False, "json_schema": "off"})
    assert (off.refusal.enabled, off.json_schema.source) == (False, "off")


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"regex": {"pattern": "(["}}, "regex.pattern: invalid regular expression"),
        ({"regex": {"pattern": "^(yes\\w*)+$"}}, "regex.pattern: '^(yes\\w*)+$' backtracks exponentially"),
        (  # one way to match case-sensitively, two case-folded: the flags are read with the pattern
            {"regex": {"pattern": "^(x|X\\w)+$", "flags": ["ignorecase"]}},
            "regex: pattern with flags [ignorecase]: '^(x|X\\w)+$' backtracks exponentially",
        ),
        (  # '.' meets the newline only with dotall
            {"regex": {"pattern": "(.|\\n)+x", "flags": ["multiline", "dotall"]}},
            "regex: pattern with flags [multiline, dotall]: '(.|\\n)+x' backtracks exponentially",
        ),
        (
            {"json_schema": {"schema": {"type": "object", "minProperties": "x"}}},
            "json_schema.schema: not a usable JSON Schema",
        ),
        (  # re's own error, not a ValueError: it escaped the policy check as a traceback
            {"json_schema": {"schema": {"type": "string", "pattern": "("}}},
            "json_schema.schema: not a usable JSON Schema: error: missing ), unterminated subpattern",
        ),
        (
            {"json_schema": {"schema": {"properties": {"code": {"type": "string", "pattern": "^(\\w+\\s?)+$"}}}}},
            "json_schema.schema: properties.code.pattern: '^(\\w+\\s?)+$' backtracks exponentially",
        ),
        (
            {
                "json_schema": {
                    "schema": {"properties": {"pattern": {"type": "string"}}, "patternProperties": {"^(a|a)+$": {}}}
                }
            },
            "json_schema.schema: patternProperties['^(a|a)+$']: '^(a|a)+$' backtracks exponentially",
        ),
        ({"json_schema": "always"}, "json_schema.source: Input should be 'request', 'policy' or 'off'"),
        ({"json_schema": {"source": "policy"}}, "json_schema: give schema exactly when source is policy"),
        ({"refusal": {"phrases": ["  "]}}, "refusal.phrases: a phrase must not be blank"),
        ({"on_fail": "retry"}, "on_fail: Input should be 'next_target' or 'reask'"),
        ({"max_reasks": 9}, "max_reasks: Input should be less than or equal to 5"),
        ({"reask_prompt": "Try again."}, "reask_prompt: the re-ask prompt must contain {error}"),
        ({"schema": {}}, "schema: unknown field"),
    ],
)
def test_errors_name_their_path(block, expected):
    """Every mistake is reported at its path within the block."""
    lines = errors(block)
    assert any(expected in line for line in lines), lines
