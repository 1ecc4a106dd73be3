"""Puts the runbook base URL of settings.yaml into the rules, and writes the PrometheusRule (Prometheus
Operator) with the rules of llm-sidecar-alerts.yaml:

    python deploy/prometheus/prometheusrule.py --write   # both files, after editing either source
    python deploy/prometheus/prometheusrule.py           # the PrometheusRule on stdout

The rules file is the one to edit; its ``groups:`` block, comments included, becomes ``spec.groups``.
``settings.yaml`` holds ``runbook_base_url`` (docs/operations.md of your copy): every ``runbook_url``
becomes that plus ``#`` and the alert's name in lower case, the heading of its runbook section.
tests/deploy/test_alerts.py checks that the two files hold the same rules and the configured URL.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
RULES = HERE / "llm-sidecar-alerts.yaml"
OPERATOR_RULES = HERE / "llm-sidecar-prometheusrule.yaml"
SETTINGS = HERE / "settings.yaml"

HEADER = """\
# The alerting rules of llm-sidecar-alerts.yaml for the Prometheus Operator. Generated: edit
# llm-sidecar-alerts.yaml (and settings.yaml), then run python deploy/prometheus/prometheusrule.py --write.
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

_RUNBOOK = re.compile(r"^(\s+runbook_url: ).*#(\S+)$", re.MULTILINE)


def runbook_base_url() -> str:
    base = yaml.safe_load(SETTINGS.read_text())["runbook_base_url"]
    if not isinstance(base, str) or not re.fullmatch(r"https?://\S+", base) or "#" in base:
        raise SystemExit(f"{SETTINGS}: runbook_base_url must be an http(s) URL without '#', not {base!r}")
    return base


def with_runbook_base(rules_text: str, base: str) -> str:
    """The rules text with every ``runbook_url`` pointing at ``base``, its section anchor kept."""
    return _RUNBOOK.sub(lambda m: f"{m.group(1)}{base}#{m.group(2)}", rules_text)


def prometheus_rule(rules_text: str) -> str:
    lines = rules_text.splitlines()
    start = lines.index("groups:")
    return HEADER + "".join(f"  {line}\n" if line else "\n" for line in lines[start:])


def main(argv: list[str]) -> int:
    rules = with_runbook_base(RULES.read_text(), runbook_base_url())
    operator = prometheus_rule(rules)
    if argv == ["--write"]:
        RULES.write_text(rules)
        OPERATOR_RULES.write_text(operator)
    elif not argv:
        sys.stdout.write(operator)
    else:
        sys.stderr.write(__doc__ or "")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
