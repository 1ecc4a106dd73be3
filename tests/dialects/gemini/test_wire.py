"""The Gemini dialect: the method in the path, and which error events google-genai raises on."""

from __future__ import annotations

import orjson
import pytest

from sidecar.dialects import Operation, registry
from sidecar.dialects.base import RequestProblem
from sidecar.dialects.gemini.wire import WIRE
from sidecar.sse import SSEEvent


def read(path: str, query: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    found = registry.find_endpoint(path)
    assert found is not None
    return WIRE.read_request(found[0], path, found[1], {}, query or {})


def test_the_method_in_the_path_decides_operation_and_stream() -> None:
    """streamGenerateContent is a streamed generate_content; the model loses a ``models/`` prefix."""
    shape = read("/v1beta/models/gemini-2.5-pro:streamGenerateContent", {"alt": "sse"})
    assert (shape.operation, shape.model, shape.stream, shape.method) == (
        Operation.GENERATE_CONTENT,
        "gemini-2.5-pro",
        True,
        "streamGenerateContent",
    )


def test_an_unknown_method_is_a_404_and_a_stream_without_sse_a_400() -> None:
    """A method Gemini does not have is unknown_path; streaming needs ?alt=sse."""
    with pytest.raises(RequestProblem) as unknown:
        read("/v1beta/models/x:fly")
    assert (unknown.value.status, unknown.value.code) == (404, "unknown_path")
    with pytest.raises(RequestProblem) as no_sse:
        read("/v1beta/models/x:streamGenerateContent")
    assert (no_sse.value.status, no_sse.value.param) == (400, "alt")


@pytest.mark.parametrize(
    "data",
    [
        {"error": {"message": "quota", "status": "RESOURCE_EXHAUSTED"}},  # no numeric code
        {"error": {"code": "429", "message": "quota"}},  # a string code
        {"candidates": [], "error": {"code": 429, "message": "quota"}},  # "error" is not first
        [{"error": {"code": 429, "message": "quota"}}],  # a list
        {"error": {"code": 429}},  # no message
    ],
)
def test_error_events_google_genai_would_not_raise_on_are_recognised(data: object) -> None:
    """An error chunk the SDK reads past (or fails on with a TypeError) is not one that raises."""
    assert not WIRE.error_event_raises(SSEEvent(orjson.dumps(data)))
