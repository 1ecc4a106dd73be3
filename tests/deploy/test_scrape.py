"""deploy/prometheus's scrape of the pods: the plain job and the PodMonitor select the same container
and port and take app from the same pod label. That the job's relabelling attaches namespace, app and
pod to a real scrape is tests/deploy/test_prometheus_live.py."""

from __future__ import annotations

from typing import Any

import yaml

from .manifests import REPO

PROMETHEUS = REPO / "deploy" / "prometheus"


def job() -> dict[str, Any]:
    (only,) = yaml.safe_load((PROMETHEUS / "scrape-config.yaml").read_text())["scrape_configs"]
    return dict(only)


def podmonitor() -> dict[str, Any]:
    return dict(yaml.safe_load((PROMETHEUS / "llm-sidecar-podmonitor.yaml").read_text()))


def test_the_job_and_the_podmonitor_scrape_the_sidecar_container_s_health_port() -> None:
    """Both keep only container llm-sidecar, port health, path /metrics (what SIDECAR_HEALTH_METRICS serves)."""
    keep = next(rule for rule in job()["relabel_configs"] if rule.get("action") == "keep")
    container, port = "__meta_kubernetes_pod_container_name", "__meta_kubernetes_pod_container_port_name"
    assert keep["source_labels"] == [container, port]
    assert keep["regex"] == "llm-sidecar;health" and job()["metrics_path"] == "/metrics"
    (endpoint,) = podmonitor()["spec"]["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("health", "/metrics")
    assert {"sourceLabels": ["__meta_kubernetes_pod_container_name"], "regex": "llm-sidecar", "action": "keep"} in (
        endpoint["relabelings"]
    )


def test_app_comes_from_the_same_pod_label_in_both() -> None:
    """The last rule writing app reads app.kubernetes.io/name, in the job and in the PodMonitor (the
    label deploy/k8s sets on the pod and SIDECAR_APP reads)."""
    source = "__meta_kubernetes_pod_label_app_kubernetes_io_name"
    last = [rule for rule in job()["relabel_configs"] if rule.get("target_label") == "app"][-1]
    assert last["source_labels"] == [source]
    (endpoint,) = podmonitor()["spec"]["podMetricsEndpoints"]
    (rule,) = [rule for rule in endpoint["relabelings"] if rule.get("targetLabel") == "app"]
    assert rule["sourceLabels"] == [source]


def test_the_relabelling_docs_operations_md_shows_is_the_jobs() -> None:
    """docs/operations.md's ``relabel_configs`` block (what the job attaches, for a reader with their own
    scrape config) is the job's relabelling, rule for rule."""
    import re

    text = (REPO / "docs" / "operations.md").read_text()
    shown = next(
        yaml.safe_load(block)
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S)
        if block.startswith("relabel_configs:")
    )
    assert shown["relabel_configs"] == job()["relabel_configs"]
