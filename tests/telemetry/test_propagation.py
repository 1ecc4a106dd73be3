"""W3C trace context in and out of a request (``telemetry.propagation``), on the OpenTelemetry API alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sidecar.telemetry.propagation import extract_parent, inject

from .helpers import APP_SPAN_ID, APP_TRACE_ID, APP_TRACEPARENT


def test_the_apps_trace_context_is_read_and_passed_on() -> None:
    """extract_parent reads the app's traceparent and tracestate; inject writes them back unchanged."""
    headers: dict[str, str] = {}
    inject(extract_parent({"traceparent": APP_TRACEPARENT, "tracestate": "vendor=abc"}), headers)
    assert headers == {"traceparent": f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-01", "tracestate": "vendor=abc"}


@pytest.mark.parametrize(
    "value",
    [
        "junk",
        f"00-{'0' * 32}-{APP_SPAN_ID}-01",  # all-zero trace id
        f"ff-{APP_TRACE_ID}-{APP_SPAN_ID}-01",  # forbidden version
        f"00-{APP_TRACE_ID}-{APP_SPAN_ID}-01-extra",  # version 00 has nothing after the flags
    ],
)
def test_an_invalid_traceparent_starts_a_new_trace(value: str) -> None:
    """An invalid traceparent gives no parent: nothing is propagated from it."""
    headers: dict[str, str] = {}
    inject(extract_parent({"traceparent": value}), headers)
    assert headers == {}


def test_a_sidecar_without_trace_exporters_does_not_load_the_sdks_tracing() -> None:
    """Telemetry with no exporter configured builds no tracer and imports neither the SDK's tracing nor its
    resources (they are loaded only when a trace or metrics exporter is configured)."""
    code = (
        "import sys\n"
        "from sidecar.telemetry import Telemetry\n"
        "Telemetry.from_env({}, service_version='t')\n"
        "print(sorted(m for m in ('opentelemetry.sdk.trace', 'opentelemetry.sdk.resources') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
