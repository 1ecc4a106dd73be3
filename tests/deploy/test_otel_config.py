"""The OpenTelemetry Collector configs (standalone example and the per-pod overlay) are wired correctly:
an OTLP receiver, memory_limiter first and batch in every pipeline, debug and OTLP exporters, and every
component a pipeline names is defined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .manifests import REPO

CONFIGS = {
    "standalone": REPO / "deploy" / "otel-collector" / "config.yaml",
    "per-pod": REPO / "deploy" / "k8s" / "overlays" / "otel-collector" / "collector-config.yaml",
}


def load(path: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(path.read_text())
    return config


@pytest.mark.parametrize("name", list(CONFIGS))
def test_pipelines_name_only_defined_components(name: str) -> None:
    """Every receiver, processor and exporter a pipeline lists, and every service extension, is defined."""
    config = load(CONFIGS[name])
    for pipeline in config["service"]["pipelines"].values():
        for kind in ("receivers", "processors", "exporters"):
            assert set(pipeline.get(kind, [])) <= set(config.get(kind) or {}), kind
    assert set(config["service"].get("extensions", [])) <= set(config.get("extensions") or {})


@pytest.mark.parametrize("name", list(CONFIGS))
def test_traces_pipeline_receives_otlp_batches_and_exports(name: str) -> None:
    """The traces pipeline takes OTLP (gRPC and HTTP), runs memory_limiter first and batch, and exports
    to both the debug and the OTLP exporter."""
    config = load(CONFIGS[name])
    assert {"grpc", "http"} <= set(config["receivers"]["otlp"]["protocols"])
    traces = config["service"]["pipelines"]["traces"]
    assert "otlp" in traces["receivers"]
    assert traces["processors"][0] == "memory_limiter"
    assert "batch" in traces["processors"]
    assert {"debug", "otlp"} <= set(traces["exporters"])


def test_per_pod_collector_listens_on_loopback_only() -> None:
    """The per-pod collector's OTLP receivers bind 127.0.0.1: only the pod's own sidecar can send to it."""
    protocols = load(CONFIGS["per-pod"])["receivers"]["otlp"]["protocols"]
    assert all(p["endpoint"].startswith("127.0.0.1:") for p in protocols.values())
