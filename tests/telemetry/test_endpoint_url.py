"""An OTLP/HTTP endpoint that is not an http(s) URL stops ``llm-sidecar run`` at start (docs/observability.md).

``otel-collector:4318`` (a collector's own ``host:port`` form, as its receivers are written) used to start
the sidecar, which then failed every export with ``No host specified`` in the log, and nothing pushed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.start_refusal import refused_start

POLICY = (
    "version: 1\nproviders:\n  p: {kind: fake, base_url: 'http://127.0.0.1:9'}\nmodels:\n  m: {provider: p, model: x}\n"
)


@pytest.mark.parametrize(
    ("variable", "endpoint"),
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector:4318"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector.observability.svc"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318/v1/traces"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://"),
    ],
)
def test_an_endpoint_without_http_scheme_or_host_stops_the_start_naming_the_variable(
    tmp_path: Path, variable: str, endpoint: str
) -> None:
    """``llm-sidecar run`` exits 2 with one line naming the variable and the form wanted (``http://host:port``),
    without a traceback and without quoting the value (an endpoint may carry a password)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    result = refused_start({**os.environ, variable: endpoint}, policy, f"{variable}={endpoint}")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"llm-sidecar: {variable}: not an http:// or https:// URL with a host (OTLP/HTTP cannot send to it; "
        "a collector's 'host:port' is written http://host:port)"
    ]
    assert "Traceback" not in result.stdout
