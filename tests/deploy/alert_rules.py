"""deploy/prometheus's alerting rules (``PROMETHEUS``, ``RULES``), and the copy of them the live tests have
Prometheus evaluate ``SPEEDUP`` times faster (``fast_rules``: every ``for``, range and offset divided,
at least 1 s)."""

from __future__ import annotations

import re

import yaml

from .manifests import REPO

PROMETHEUS = REPO / "deploy" / "prometheus"
RULES = PROMETHEUS / "llm-sidecar-alerts.yaml"
SPEEDUP = 60

_DURATION = re.compile(r"(\d+)([smhdwy])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def faster(duration: str) -> str:
    number, unit = _DURATION.fullmatch(duration).groups()  # type: ignore[union-attr]
    return f"{max(1, int(number) * _SECONDS[unit] // SPEEDUP)}s"


def fast_rules(text: str) -> str:
    """The rules with every ``for``, range and offset divided by SPEEDUP (at least 1 s)."""
    rules = yaml.safe_load(text)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = faster(rule["for"])
            rule["expr"] = re.sub(r"\[(\d+[smhdwy])\]", lambda m: f"[{faster(m.group(1))}]", rule["expr"])
            rule["expr"] = re.sub(r"offset (\d+[smhdwy])", lambda m: f"offset {faster(m.group(1))}", rule["expr"])
    return yaml.safe_dump(rules, sort_keys=False)
