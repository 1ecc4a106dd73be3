"""Writes the PrometheusRule (Prometheus Operator) with the rules of llm-sidecar-alerts.yaml:

    python deploy/prometheus/prometheusrule.py > deploy/prometheus/llm-sidecar-prometheusrule.yaml

The rules file is the one to edit; its ``groups:`` block, comments included, becomes ``spec.groups``.
tests/deploy/test_alerts.py checks that the two files hold the same rules.
"""

from __future__ import annotations

import sys
from pathlib import Path

RULES = Path(__file__).with_name("llm-sidecar-alerts.yaml")

HEADER = """\
# The alerting rules of llm-sidecar-alerts.yaml for the Prometheus Operator. Generated: edit
# llm-sidecar-alerts.yaml, then run python deploy/prometheus/prometheusrule.py > this file.
# The operator picks a PrometheusRule up when its labels match the Prometheus resource's
# ruleSelector (kube-prometheus-stack: release: <the Helm release name>); set yours.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: llm-sidecar
  labels:
    app.kubernetes.io/name: llm-sidecar
    role: alert-rules
spec:
"""


def prometheus_rule(rules_text: str) -> str:
    lines = rules_text.splitlines()
    start = lines.index("groups:")
    return HEADER + "".join(f"  {line}\n" if line else "\n" for line in lines[start:])


if __name__ == "__main__":
    sys.stdout.write(prometheus_rule(RULES.read_text()))
