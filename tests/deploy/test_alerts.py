"""deploy/prometheus/: the alerting rules, plain and as a PrometheusRule, checked by promtool, unit
tested with synthetic series (prometheus/alerts_test.yaml), read only documented metrics, and point
the on-call at labels and at runbook sections of docs/operations.md that exist; each runbook section is
an alert's, and the queries and dashboard panels it sends the on-call to exist.

The breaker, fallback, route error, policy, budget and connections alerts firing and resolving against
a real sidecar are tests/deploy/test_prometheus_live.py; the store alerts,
tests/deploy/test_prometheus_stores_live.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .alert_rules import PROMETHEUS, RULES
from .dashboard import load as load_dashboard
from .dashboard import panels
from .manifests import REPO
from .promql import problems

OPERATOR_RULES = PROMETHEUS / "llm-sidecar-prometheusrule.yaml"
SETTINGS = PROMETHEUS / "settings.yaml"
UNIT_TESTS = Path(__file__).with_name("prometheus") / "alerts_test.yaml"
OPERATIONS = REPO / "docs" / "operations.md"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is required (Debian package prometheus; .ci/run installs it)")
    return path


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors = set()
    for heading in re.findall(r"^#+ +(.+?) *$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def runbooks() -> dict[str, str]:
    """docs/operations.md's alert runbooks: each section's heading (the alert) and its text."""
    text = OPERATIONS.read_text().split("\n## Alert runbooks\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### (\S+)\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


# A code span naming a metric is a query the on-call may paste into Prometheus; an italic span, a
# dashboard panel (or row) by its title, or the start of it.
_RUNBOOK_QUERY = re.compile(r"`([^`]*\b(?:llm_sidecar|gen_ai)_[a-z0-9_]+[^`]*)`")
_PANEL_NAME = re.compile(r"(?<![*\w])\*([^*\s][^*]*?)\*(?![*\w])")


def runbook_queries() -> list[tuple[str, str]]:
    return [(alert, query) for alert, text in runbooks().items() for query in _RUNBOOK_QUERY.findall(text)]


def test_promtool_check_rules_passes() -> None:
    """`promtool check rules` accepts the rules file."""
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    """`promtool test rules` on the synthetic series: each alert fires when and with the labels it should,
    and stays quiet on idle apps, closing breakers, low volume and 4xx."""
    result = subprocess.run(
        [promtool(), "test", "rules", UNIT_TESTS.name],
        cwd=UNIT_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_prometheusrule_holds_the_same_rules() -> None:
    """The PrometheusRule's spec.groups equal the rules file's groups, and the file is what
    prometheusrule.py writes from it."""
    operator = yaml.safe_load(OPERATOR_RULES.read_text())
    assert (operator["apiVersion"], operator["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    assert operator["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    written = subprocess.run(
        [sys.executable, str(PROMETHEUS / "prometheusrule.py")], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert written == OPERATOR_RULES.read_text()


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_runbook_url_starts_with_the_configured_base(rule: dict[str, Any]) -> None:
    """runbook_url is settings.yaml's runbook_base_url, '#' and the alert's name in lower case (the one
    value a user sets, put into both rules files by prometheusrule.py --write)."""
    base = yaml.safe_load(SETTINGS.read_text())["runbook_base_url"]
    assert rule["annotations"]["runbook_url"] == f"{base}#{rule['alert'].lower()}"


def test_the_runbook_base_is_what_prometheusrule_py_puts_in(tmp_path: Path) -> None:
    """With another runbook_base_url in a copy of deploy/prometheus, `prometheusrule.py --write` points
    every runbook_url of both files there and changes nothing else."""
    copy = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS, copy)
    (copy / "settings.yaml").write_text("runbook_base_url: https://docs.example.org/sidecar/operations.html\n")
    subprocess.run([sys.executable, str(copy / "prometheusrule.py"), "--write"], check=True, timeout=30)
    for name in (RULES.name, OPERATOR_RULES.name):
        before, after = (PROMETHEUS / name).read_text(), (copy / name).read_text()
        old_base = yaml.safe_load(SETTINGS.read_text())["runbook_base_url"]
        assert after == before.replace(old_base, "https://docs.example.org/sidecar/operations.html")
        assert after.count("https://docs.example.org/sidecar/operations.html#") == len(alerts())


def test_the_issue_alerts_are_all_there() -> None:
    """Breaker open, a bulkhead saturated, fallback ratio, rejected policy reload, route error ratio, time
    to first token regression, spend rate, quality gate rejections, a budget near its limit, a failing
    budget store, a failing cache store, a cache store that cannot be opened (its password unreadable),
    connections refused at a listener's cap, log lines dropped (stdout's reader stalled), bodies refused at
    the held-bytes ceiling and the open-files limit nearly used each have an alert."""
    assert [rule["alert"] for rule in alerts()] == [
        "LLMSidecarBreakerOpen",
        "LLMSidecarBulkheadSaturated",
        "LLMSidecarFallbackRatioHigh",
        "LLMSidecarPolicyReloadRejected",
        "LLMSidecarRouteErrorRatioHigh",
        "LLMSidecarTimeToFirstTokenRegression",
        "LLMSidecarSpendRateHigh",
        "LLMSidecarGateRejectionRatioHigh",
        "LLMSidecarBudgetNearLimit",
        "LLMSidecarBudgetStoreErrors",
        "LLMSidecarCacheStoreFailing",
        "LLMSidecarCacheUnavailable",
        "LLMSidecarConnectionsRefused",
        "LLMSidecarLogLinesDropped",
        "LLMSidecarHeldBytesRefused",
        "LLMSidecarFileDescriptorsLow",
    ]


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_reads_documented_metrics_and_labels(rule: dict[str, Any]) -> None:
    """The expression reads only metrics of docs/observability.md and groups by labels they carry."""
    assert problems(rule["expr"]) == []


def test_the_check_catches_a_matcher_on_a_label_or_a_value_the_metric_lacks() -> None:
    """The check above reads matchers too: a misspelt label, a value the label never takes (an alert on
    it would never fire) and a label of another metric are reported; an open list (``2xx``…) and
    dashboard variables are not checked."""
    expr = (
        'rate(llm_sidecar_requests_total{outcome=~"fallback|degrade", stauts_class="5xx"}[5m])'
        ' + rate(llm_sidecar_budget_events_total{event="store_error", route="chat"}[5m])'
        ' + rate(llm_sidecar_requests_total{status_class="5xx", route=~"$route"}[5m])'
    )
    assert problems(expr) == [
        "llm_sidecar_requests_total: outcome 'degrade' is not a value docs/observability.md lists",
        "llm_sidecar_requests_total: label stauts_class is not one of its labels",
        "llm_sidecar_budget_events_total: event 'store_error' is not a value docs/observability.md lists",
        "llm_sidecar_budget_events_total: label route is not one of its labels",
    ]


def test_the_unit_tests_catch_every_alert_that_never_fires(tmp_path: Path) -> None:
    """The promtool unit tests are not vacuous: with every alert's expression replaced by one that never
    holds, `promtool test rules` fails, and a firing each alert's own tests expect is missing."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = "vector(1) < 0"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules))
    unit_tests = yaml.safe_load(UNIT_TESTS.read_text()) | {"rule_files": ["rules.yaml"]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(unit_tests))
    result = subprocess.run(
        [promtool(), "test", "rules", "tests.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    # promtool lists each failed expectation: "expr: ALERTS{alertname=...}" or "alertname: ..."
    missed = re.findall(r'^    (?:expr: "ALERTS\{alertname=\\"|alertname: )(\w+)', result.stdout + result.stderr, re.M)
    assert set(missed) == {rule["alert"] for rule in alerts()}


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_tells_the_on_call_where_to_look(rule: dict[str, Any]) -> None:
    """Summary, description and severity are set, and the description names every label the alert is
    grouped by (namespace, app, and the route, target, pod or model)."""
    annotations = rule["annotations"]
    assert annotations["summary"] and rule["labels"]["severity"] in {"warning", "critical"}
    grouped_by = re.search(r"by \(([^)]*)\)", rule["expr"])
    assert grouped_by
    for label in {name.strip() for name in grouped_by.group(1).split(",")} - {"le"}:
        assert f"$labels.{label}" in annotations["description"], label


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_runbook_url_points_at_an_existing_section_of_operations_md(rule: dict[str, Any]) -> None:
    """runbook_url is docs/operations.md#<anchor>, and that heading exists in docs/operations.md."""
    url = rule["annotations"]["runbook_url"]
    path, _, anchor = url.partition("#")
    assert path.endswith("/docs/operations.md"), url
    assert anchor in github_anchors(OPERATIONS.read_text()), f"no heading for #{anchor} in docs/operations.md"


def test_every_runbook_section_is_an_alerts() -> None:
    """The runbook sections of docs/operations.md are the alerts of the rules file, in its order: no alert
    without a runbook, no runbook left behind by an alert renamed or removed."""
    assert list(runbooks()) == [rule["alert"] for rule in alerts()]


@pytest.mark.parametrize(("alert", "query"), runbook_queries(), ids=lambda v: str(v)[:60])
def test_every_query_a_runbook_gives_reads_documented_metrics_and_labels(alert: str, query: str) -> None:
    """A metric, label or label value a runbook tells the on-call to query is one the sidecar exports
    (docs/observability.md)."""
    assert problems(query) == [], alert


def test_every_query_a_runbook_gives_is_promql_promtool_accepts(tmp_path: Path) -> None:
    """Each query of the runbooks, as written (placeholders such as ``target="..."`` included), parses:
    `promtool check rules` accepts them all as recording rules."""
    queries = runbook_queries()
    assert len(queries) >= 10
    rules = [{"record": f"runbook:query_{i}", "expr": query} for i, (_, query) in enumerate(queries)]
    (tmp_path / "runbook-queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "runbooks", "rules": rules}]}))
    result = subprocess.run(
        [promtool(), "check", "rules", "runbook-queries.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_panel_a_runbook_names_exists() -> None:
    """A panel or row a runbook names in italics (*Fallbacks by reason*) is on the dashboard, by its title
    or the start of it: a panel renamed fails here until its runbooks follow."""
    dashboard = load_dashboard()
    titles = [panel["title"] for _, panel in panels(dashboard)] + [p["title"] for p in dashboard["panels"]]
    named = {
        (alert, " ".join(name.split())) for alert, text in runbooks().items() for name in _PANEL_NAME.findall(text)
    }
    assert len(named) >= 10
    assert [(alert, name) for alert, name in sorted(named) if not any(t.startswith(name) for t in titles)] == []
