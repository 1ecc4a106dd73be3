"""The committed Grafana dashboard, read as the tests need it: its panels (rows unfolded) and every
query in it (panel targets, annotations, variables), with the dashboard's variables substituted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .manifests import REPO

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "llm-sidecar.json"


@dataclass(frozen=True)
class PanelQuery:
    panel: str  # the panel's title (or "annotation: ...", "variable: ...")
    row: str
    expr: str

    def __str__(self) -> str:
        return f"{self.row} / {self.panel}"


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(row title, panel) for every panel that is not a row, collapsed rows' panels included."""
    row = ""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            row = panel["title"]
            for inner in panel.get("panels", []):
                yield row, inner
        else:
            yield row, panel


def queries(dashboard: dict[str, Any]) -> list[PanelQuery]:
    found = [
        PanelQuery(panel["title"], row, target["expr"])
        for row, panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]
    found += [PanelQuery(f"annotation: {a['name']}", "", a["expr"]) for a in dashboard["annotations"]["list"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.*), *\w+\)", variable["definition"])
            assert match, variable["definition"]
            found.append(PanelQuery(f"variable: {variable['name']}", "", match.group(1)))
    return found


def substitute(expr: str, values: dict[str, str]) -> str:
    """The expression with Grafana's variables replaced (``$name`` and ``${name}``)."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)
