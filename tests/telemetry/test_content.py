"""Prompt and completion capture: off by default, JSON when on, cut to the byte cap."""

from __future__ import annotations

import orjson
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sidecar.telemetry import Telemetry
from sidecar.telemetry.genai import ContentCapture

from .helpers import attempt, by_kind, finish, start

MESSAGES = [{"role": "user", "parts": [{"type": "text", "content": "What is the capital of France?"}]}]
ANSWER = [{"role": "assistant", "parts": [{"type": "text", "content": "Paris."}], "finish_reason": "stop"}]


def _client_span(telemetry: Telemetry, spans: InMemorySpanExporter, messages: object = MESSAGES) -> dict[str, object]:
    trace = start(telemetry)
    call = attempt(trace, input_messages=messages)
    call.finish(status=200, error_type=None, output_messages=ANSWER)
    finish(trace)
    [client] = by_kind(spans.get_finished_spans(), "CLIENT")
    return dict(client.attributes or {})


def test_content_is_not_captured_by_default() -> None:
    """Without opting in, no gen_ai.input.messages / gen_ai.output.messages attribute is set."""
    spans = InMemorySpanExporter()
    attributes = _client_span(Telemetry.for_tests(spans), spans)
    assert "gen_ai.input.messages" not in attributes
    assert "gen_ai.output.messages" not in attributes
    assert not any("capital" in str(v) for v in attributes.values())


def test_content_is_captured_as_json_when_enabled() -> None:
    """capture_content=True: the messages are JSON strings on the CLIENT span."""
    spans = InMemorySpanExporter()
    attributes = _client_span(Telemetry.for_tests(spans, capture_content=True), spans)
    assert orjson.loads(str(attributes["gen_ai.input.messages"])) == MESSAGES
    assert orjson.loads(str(attributes["gen_ai.output.messages"])) == ANSWER
    assert "sidecar.content.truncated" not in attributes


def test_captured_content_is_truncated_to_the_cap() -> None:
    """A value over the byte cap is cut to at most the cap and flagged sidecar.content.truncated."""
    spans = InMemorySpanExporter()
    telemetry = Telemetry.for_tests(spans, capture_content=True, capture_max_bytes=200)
    long_prompt = [{"role": "user", "parts": [{"type": "text", "content": "é" * 1000}]}]
    attributes = _client_span(telemetry, spans, long_prompt)
    captured = str(attributes["gen_ai.input.messages"])
    assert len(captured.encode()) <= 200
    assert captured.endswith("…[truncated]")
    assert attributes["sidecar.content.truncated"] is True


def test_truncation_never_splits_a_character() -> None:
    """Cutting multi-byte UTF-8 text at the cap leaves valid text."""
    text, truncated = ContentCapture(True, 50).encode("日本語" * 40) or ("", False)
    assert truncated and len(text.encode()) <= 50
    text.encode("utf-8")  # would raise on a lone surrogate
