"""OTLP wire primitives: an attribute key's prefixed records are the records ``record`` writes."""

from __future__ import annotations

import pytest

from sidecar.telemetry.otlp_wire import AttributeKey, record


@pytest.mark.parametrize("value", [0, 1, 127, 128, 16383, 16384, 2**35, 2**63 - 1, -1, 2**63, True, "5"])
def test_a_prefixed_number_record_is_the_generic_record(value: object) -> None:
    """AttributeKey.number gives record()'s bytes for every varint length, and falls back beyond them."""
    assert AttributeKey("gen_ai.usage.input_tokens").number(value) == record("gen_ai.usage.input_tokens", value)


@pytest.mark.parametrize("value", ["", "chatcmpl-1", "é" * 62, "x" * 125, "x" * 126, "y" * 300, "\ud800", 7])
def test_a_prefixed_text_record_is_the_generic_record(value: object) -> None:
    """AttributeKey.text gives record()'s bytes for short strings, and falls back for long or odd ones."""
    assert AttributeKey("gen_ai.response.id").text(value) == record("gen_ai.response.id", value)
