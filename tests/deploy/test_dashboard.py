"""deploy/grafana/llm-sidecar.json: built by its script, importable (datasource and filter variables,
a sound grid), and every query reads metrics and labels docs/observability.md documents.

That every query returns data from a real Prometheus is tests/deploy/test_prometheus_live.py.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .dashboard import GRAFANA, PanelQuery, load, panels, queries
from .manifests import REPO
from .promql import documented_metrics, documented_name, metric_names, problems

GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range"}
OPERATIONS = REPO / "docs" / "operations.md"


def metrics_left_off() -> dict[str, str]:
    """The metrics docs/operations.md ("Dashboards and alerts") lists as left off the dashboard on purpose,
    each with its reason."""
    section = OPERATIONS.read_text().split("\n## Dashboards and alerts\n", 1)[1].split("\n### ", 1)[0]
    listed = section.split("left off on purpose", 1)[1]
    return dict(re.findall(r"^- `((?:llm_sidecar|gen_ai|process)_\w+)`: (\S.*)$", listed, re.MULTILINE))


def dashboard_metrics() -> set[str]:
    """The documented metrics the dashboard's queries read (a histogram's series as the histogram)."""
    return {documented_name(name) or name for query in queries(load()) for name in metric_names(query.expr)}


def test_the_json_is_what_the_script_builds() -> None:
    """llm-sidecar.json equals the output of dashboard.py: the script is where the dashboard is edited."""
    built = subprocess.run(
        [sys.executable, str(GRAFANA / "dashboard.py")], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert built == (GRAFANA / "llm-sidecar.json").read_text(), (
        "run: python deploy/grafana/dashboard.py > deploy/grafana/llm-sidecar.json"
    )


@pytest.mark.parametrize("query", queries(load()), ids=str)
def test_every_query_reads_documented_metrics_and_labels(query: PanelQuery) -> None:
    """Every metric a query reads is in docs/observability.md, and every label it groups by is carried
    by one of those metrics (or attached by the pipeline: namespace, app, pod): a renamed metric or
    label fails here until the dashboard follows."""
    assert problems(query.expr) == []


def test_the_check_catches_a_renamed_metric_and_a_label_a_metric_lacks() -> None:
    """The check above is not vacuous: an unknown metric name and a target label on tokens are reported."""
    assert problems("sum by (target) (rate(llm_sidecar_tokens_total[5m])) + rate(llm_sidecar_request_total[5m])") == [
        "metric llm_sidecar_request_total is not in docs/observability.md",
        "label target is on none of its metrics",
    ]


def test_every_documented_metric_is_on_the_dashboard_or_listed_off_it() -> None:
    """Each metric of docs/observability.md is read by a dashboard query, or docs/operations.md lists it
    as left off on purpose with the reason: a metric added without a panel fails here."""
    assert set(documented_metrics()) - dashboard_metrics() - set(metrics_left_off()) == set()


def test_the_metrics_listed_off_the_dashboard_are_documented_and_off_it() -> None:
    """The list of metrics left off stays true: each is a documented metric no query reads."""
    left_off = metrics_left_off()
    assert left_off, "the list in docs/operations.md, 'Dashboards and alerts', was not found"
    assert set(left_off) <= set(documented_metrics())
    assert set(left_off) & dashboard_metrics() == set()


def test_filter_variables_and_datasource_variable_exist() -> None:
    """The dashboard has a Prometheus datasource variable and multi-value namespace, app and route
    variables whose 'All' matches every value, an absent label included."""
    variables = {v["name"]: v for v in load()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "app", "route"):
        assert variables[name]["includeAll"] and variables[name]["multi"]
        assert variables[name]["allValue"] == ".*"


def test_every_query_uses_only_defined_variables_and_the_filters() -> None:
    """Queries use only the dashboard's variables and Grafana's built-ins; every panel query filters
    on namespace and app."""
    dashboard = load()
    defined = {v["name"] for v in dashboard["templating"]["list"]} | GRAFANA_BUILTINS
    for query in queries(dashboard):
        used = set(re.findall(r"\$\{?(\w+)", query.expr))
        assert used <= defined, query
        if not query.panel.startswith("variable"):
            assert 'namespace=~"$namespace"' in query.expr and 'app=~"$app"' in query.expr, query


def test_every_panel_reads_the_datasource_variable() -> None:
    """Every data panel and query names the ${datasource} variable, so the import asks for nothing."""
    for _, panel in panels(load()):
        if panel["type"] == "text":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]


def test_panels_have_unique_ids_and_fit_the_grid_without_overlap() -> None:
    """Panel ids are unique, every panel lies within the 24 columns, and no two expanded panels overlap."""
    dashboard = load()
    top = dashboard["panels"]
    ids = [p["id"] for p in top] + [inner["id"] for p in top for inner in p.get("panels", [])]
    assert len(set(ids)) == len(ids)
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not area & cells, panel["title"]
        cells |= area


def test_the_rows_the_issue_asks_for_are_there() -> None:
    """Rows for traffic, fallbacks and breakers, latency, tokens and cost, policy, the cache and budgets."""
    rows = {p["title"]: p for p in load()["panels"] if p["type"] == "row"}
    assert {
        "Traffic",
        "Fallbacks and breakers",
        "Latency",
        "Tokens and cost",
        "Policy and sidecars",
        "Cache",
        "Budgets",
    } <= set(rows)
    assert not rows["Budgets"]["collapsed"]
