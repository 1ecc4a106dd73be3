"""A real sidecar scraped by a real Prometheus, for the live alert and dashboard tests.

``scraped_sidecar`` runs ``llm-sidecar run`` with its health port (metrics on) scraped every second by
deploy/prometheus/scrape-config.yaml's job (``kubernetes_job``: the pod discovery replaced by one static
target carrying the labels the discovery would give pod ``POD`` of app ``APP`` in ``NAMESPACE``), the
Prometheus evaluating the rules' fast copy (``alert_rules.fast_rules``). ``Scenario`` records every
alert's state over time and queries Prometheus; ``dashboard_answer_problems`` reads a dashboard query's
answer from it.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..live_stack import Processes, http
from .alert_rules import PROMETHEUS, RULES, fast_rules
from .dashboard import PanelQuery, substitute
from .promql import grouping_labels

SCRAPE_CONFIG = PROMETHEUS / "scrape-config.yaml"
NAMESPACE, APP, POD = "live", "checkout", "checkout-0"
# The dashboard's variables as Grafana sets them to look at this pod (All routes), and its built-ins.
GRAFANA_VALUES = {
    "namespace": NAMESPACE,
    "app": APP,
    "route": ".*",
    "__rate_interval": "2m",
    "__interval": "1m",
    "__range": "10m",
}
# Series a sidecar exports once one of its stores fails (a Redis gone): the dashboard panels reading them
# are held to real data by tests/deploy/test_prometheus_stores_live.py.
STORE_FAILURE_SERIES = ("llm_sidecar_cache_store_errors_total", "llm_sidecar_budget_events_total")


def kubernetes_job(address: str) -> dict[str, Any]:
    """deploy/prometheus/scrape-config.yaml's job, scraping every second, with the pod discovery replaced by
    one static target: the sidecar's health port and the ``__meta_kubernetes_*`` labels the discovery
    would give its pod (namespace, name, app.kubernetes.io/name, the container and port names), so the
    job's relabelling is what attaches namespace, app and pod."""
    (job,) = yaml.safe_load(SCRAPE_CONFIG.read_text())["scrape_configs"]
    del job["kubernetes_sd_configs"]
    meta = {
        "__meta_kubernetes_namespace": NAMESPACE,
        "__meta_kubernetes_pod_name": POD,
        "__meta_kubernetes_pod_label_app_kubernetes_io_name": APP,
        "__meta_kubernetes_pod_container_name": "llm-sidecar",
        "__meta_kubernetes_pod_container_port_name": "health",
    }
    return job | {"scrape_interval": "1s", "static_configs": [{"targets": [address], "labels": meta}]}


def scraped_sidecar(
    processes: Processes, policy: Path, settings: dict[str, str], stdout: int | None = None
) -> tuple[str, Path, str]:
    """``llm-sidecar run`` on ``policy`` with its health port (metrics on) scraped by a Prometheus that
    evaluates the fast copy of the rules: the sidecar's URL, its access log (its stdout: ``stdout``, a
    file descriptor, when given) and Prometheus' URL."""
    health = {"SIDECAR_HEALTH_HOST": "127.0.0.1", "SIDECAR_HEALTH_PORT": "0", "SIDECAR_HEALTH_METRICS": "true"}
    _, ports = processes.start_sidecar(policy, settings | health, stdout=stdout)
    work = processes.workdir
    (work / "rules.yaml").write_text(fast_rules(RULES.read_text()))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(work / "rules.yaml")],
        "scrape_configs": [kubernetes_job(f"127.0.0.1:{ports['health_port']}")],
    }
    return f"http://127.0.0.1:{ports['port']}", work / "sidecar.out", processes.prometheus(yaml.safe_dump(config))


@dataclass
class Scenario:
    prometheus: str
    access_log: Path
    fault_on: float = 0.0
    fault_off: float = 0.0
    rejected_at: float = 0.0
    restored_at: float = 0.0
    capped_at: float = 0.0
    released_at: float = 0.0
    states: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    firing: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def poll(self) -> None:
        """Record each alert's state (inactive, pending, firing) when it changes, and every alert seen
        firing (one per label set, its latest form: an alert of one route may have resolved while
        another still fires when the scenario ends)."""
        now = time.monotonic()
        for group in http("GET", f"{self.prometheus}/api/v1/rules?type=alert")["data"]["groups"]:
            for rule in group["rules"]:
                history = self.states.setdefault(rule["name"], [])
                if not history or history[-1][1] != rule["state"]:
                    history.append((now, rule["state"]))
                seen = {tuple(sorted(a["labels"].items())): a for a in self.firing.get(rule["name"], [])}
                seen |= {tuple(sorted(a["labels"].items())): a for a in rule["alerts"] if a["state"] == "firing"}
                if seen:
                    self.firing[rule["name"]] = list(seen.values())

    def first(self, alert: str, state: str, after: float) -> float | None:
        return next((t for t, s in self.states.get(alert, []) if s == state and t >= after), None)

    def state_at_end(self, alert: str) -> str:
        return self.states[alert][-1][1] if self.states.get(alert) else "inactive"

    def wait(self, seconds: float, until: Any = None) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()
            if until is not None and until():
                return
            time.sleep(0.25)

    def scraped_at_start(self, counter: str) -> float:
        """``counter``'s value once Prometheus has scraped it (within 20 s) and two more seconds passed."""
        self.wait(20, lambda: bool(self.query(counter)["data"]["result"]))
        self.wait(2)
        (sample,) = self.query(counter)["data"]["result"]
        return float(sample["value"][1])

    def fired_for_the_pod(self, alert: str, after: float) -> float:
        """When ``alert`` first fired after ``after``; asserts that it fired, once, with the pod's namespace,
        app and pod labels and a positive value."""
        fired = self.first(alert, "firing", after)
        assert fired is not None, self.states.get(alert)
        (firing,) = self.firing[alert]
        labels: dict[str, Any] = firing["labels"]
        assert (labels["namespace"], labels["app"], labels["pod"]) == (NAMESPACE, APP, POD)
        assert float(firing["value"]) > 0
        return fired

    def query(self, expr: str) -> dict[str, Any]:
        answer: dict[str, Any] = http(
            "GET", f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        )
        return answer


# The label lists whose labels an answer's samples keep: ``on (instance)`` only matches two sides.
OUTPUT_LISTS = frozenset({"by", "group_left", "group_right"})


def dashboard_answer_problems(scenario: Scenario, query: PanelQuery) -> list[str]:
    """What is wrong with the answer Prometheus gives a dashboard query (its variables set to this pod):
    no finite value, or a label the query groups by that no sample carries (a label the real series do
    not have: the panel's legend would show it empty)."""
    answer = scenario.query(substitute(query.expr, GRAFANA_VALUES))
    if answer["status"] != "success":
        return [f"query failed: {answer}"]
    samples = answer["data"]["result"]
    if not any(math.isfinite(float(sample["value"][1])) for sample in samples):
        return [f"no finite value: {answer['data']}"]
    return [
        f"label {label} is empty in every sample: {samples}"
        for label in sorted(grouping_labels(query.expr, OUTPUT_LISTS) - {"le"})
        if not any(sample["metric"].get(label) for sample in samples)
    ]
