"""The metric catalog against its documentation: every metric docs/observability.md lists is exported,
on /metrics with its name, type and labels, and in the OTLP push with its OTel name and attribute keys."""

from __future__ import annotations

import ast
import io
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from sidecar.telemetry import Telemetry

from .helpers import drive_every_metric

DOC = Path(__file__).resolve().parents[2] / "docs" / "observability.md"


@dataclass(frozen=True)
class Documented:
    name: str  # the Prometheus sample name, as the doc writes it (with _total for counters)
    kind: str
    labels: frozenset[str]
    otel_name: str
    unit: str  # the OTel unit: the GenAI table's "(s)", the own table's type cell "counter (`{request}`)"


def documented_metrics() -> list[Documented]:
    """Rows of the two metric tables of docs/observability.md's "Metrics" section. A labels cell names
    each label in backticks; parenthesised text (example values) is not a label; "—" means none."""
    text = DOC.read_text()
    section = text[text.index("\n## Metrics\n") : text.index("\n## Configuration\n")]
    found = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`(gen_ai|llm_sidecar)_\w+`", cells[0]):
            continue
        name = cells[0].strip("`")
        labels = frozenset(re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", cells[2])))
        unit = re.search(r"\(`?([^`()]+)`?\)", cells[1])
        if name.startswith("gen_ai_"):  # Prometheus name | OTel name (unit) | labels | meaning
            kind = "histogram"
            otel_name = re.findall(r"`([\w.]+)`", cells[1])[0]
        else:  # name | type (unit) | labels | meaning; OTel: llm_sidecar.<name> without _total/_seconds
            kind = cells[1].split()[0]
            base = name.removeprefix("llm_sidecar_").removesuffix("_total").removesuffix("_seconds")
            otel_name = f"llm_sidecar.{base}"
        found.append(Documented(name, kind, labels, otel_name, unit.group(1) if unit else ""))
    return found


def test_the_doc_lists_the_metrics() -> None:
    """The parser finds both tables (the 4 GenAI metrics and the 20 and more of the sidecar's own, each
    once), so the checks below bite."""
    names = [metric.name for metric in documented_metrics()]
    assert len(names) >= 24 and len(set(names)) == len(names)
    assert sum(name.startswith("gen_ai_") for name in names) == 4


def test_every_documented_metric_is_on_metrics_with_its_labels() -> None:
    """/metrics (parsed by prometheus_client) has each documented metric with its type, and samples with
    exactly the documented label names (histogram buckets add ``le``)."""
    telemetry = Telemetry.from_env({}, service_version="1.0")
    drive_every_metric(telemetry)
    families = {f.name: f for f in text_string_to_metric_families(telemetry.metrics_text().decode())}
    for metric in documented_metrics():
        family = families.get(metric.name.removesuffix("_total") if metric.kind == "counter" else metric.name)
        assert family is not None, metric.name
        assert family.type == metric.kind, metric.name
        label_sets = {frozenset(sample.labels) - {"le"} for sample in family.samples}
        assert label_sets == {metric.labels}, (metric.name, label_sets)


async def test_every_documented_metric_is_pushed_with_its_otel_name_and_keys() -> None:
    """The OTLP push (here its console twin) carries each documented metric under its OTel name, with
    attribute keys that are the Prometheus labels in dotted form (``gen_ai.operation.name``)."""
    out = io.StringIO()
    telemetry = Telemetry.from_env({"OTEL_METRICS_EXPORTER": "console"}, service_version="1.0", console=out)
    drive_every_metric(telemetry)
    await telemetry.shutdown(timeout_s=5)
    [line] = out.getvalue().splitlines()
    pushed = {m["name"]: m for m in orjson.loads(line)["resource_metrics"][0]["scope_metrics"][0]["metrics"]}
    assert len(pushed) == len(documented_metrics())
    for metric in documented_metrics():
        otel = pushed.get(metric.otel_name)
        assert otel is not None, metric.otel_name
        points = otel["data"]["data_points"]
        assert points, metric.otel_name
        keys = {frozenset(key.replace(".", "_") for key in point["attributes"]) for point in points}
        assert keys == {metric.labels}, (metric.otel_name, keys)


async def test_every_documented_metric_is_pushed_with_its_documented_unit() -> None:
    """The OTLP push (its console twin) gives each metric the unit docs/observability.md's tables give it
    (the GenAI table's ``(s)``, the own table's type cell ``counter (`{request}`)``)."""
    out = io.StringIO()
    telemetry = Telemetry.from_env({"OTEL_METRICS_EXPORTER": "console"}, service_version="1.0", console=out)
    drive_every_metric(telemetry)
    await telemetry.shutdown(timeout_s=5)
    [line] = out.getvalue().splitlines()
    pushed = {m["name"]: m["unit"] for m in orjson.loads(line)["resource_metrics"][0]["scope_metrics"][0]["metrics"]}
    documented = {metric.otel_name: metric.unit for metric in documented_metrics()}
    assert [name for name, unit in documented.items() if not unit] == []
    assert {name: unit for name, unit in pushed.items() if documented.get(name) != unit} == {}


def documented_buckets() -> dict[str, tuple[list[float], float | None]]:
    """Each histogram row's "Buckets A, B, … Z" (the first bounds in order, and the last), or "Buckets
    as duration" (the GenAI duration's), by Prometheus name; a histogram without it maps to ([], None)."""
    text = DOC.read_text()
    rows = {
        metric.name: line
        for metric in documented_metrics()
        for line in text.splitlines()
        if f"| `{metric.name}` |" in line
    }
    found: dict[str, tuple[list[float], float | None]] = {}
    for metric in documented_metrics():
        if metric.kind != "histogram":
            continue
        said = re.search(r"Buckets ([^|]*)\|", rows[metric.name])
        if said is None:
            found[metric.name] = ([], None)
        elif said.group(1).strip() == "as duration":
            found[metric.name] = found["gen_ai_client_operation_duration_seconds"]
        else:
            head, _, last = said.group(1).partition("…")
            found[metric.name] = ([float(n) for n in re.findall(r"[\d.]+", head)], float(last.strip()))
    return found


def test_every_histogram_documents_its_buckets_as_metrics_has_them() -> None:
    """Each documented histogram's row says its buckets: the first bounds it lists and the last finite
    one are those /metrics has."""
    telemetry = Telemetry.from_env({}, service_version="1.0")
    drive_every_metric(telemetry)
    families = {f.name: f for f in text_string_to_metric_families(telemetry.metrics_text().decode())}
    for name, (first, last) in documented_buckets().items():
        bounds = sorted({float(s.labels["le"]) for s in families[name].samples if s.name.endswith("_bucket")})
        finite = [b for b in bounds if b != float("inf")]
        assert (first, last) == (finite[: len(first)], finite[-1]) and first, name


def documented_process_metrics() -> dict[str, str]:
    """The rows of docs/observability.md's "Process metrics" table (on /metrics only): name -> type."""
    text = DOC.read_text()
    section = text[text.index("\n## Metrics\n") : text.index("\n## Configuration\n")]
    rows = re.findall(r"^\| `(process_\w+)` \| (\w+) \|", section, re.MULTILINE)
    return dict(rows)


def test_every_metric_of_the_catalog_is_documented() -> None:
    """Every metric family a new ``Telemetry``'s registry holds (each instrument of the catalog, whether
    or not a test drives it, and the process collector's) is a row of docs/observability.md's metric
    tables, and every row is one."""
    telemetry = Telemetry.from_env({}, service_version="1.0")
    held = {family.name for family in telemetry.registry.collect()}
    documented = [(m.name, m.kind) for m in documented_metrics()] + list(documented_process_metrics().items())
    rows = {name.removesuffix("_total") if kind == "counter" else name for name, kind in documented}
    assert {"undocumented": held - rows, "not held": rows - held} == {"undocumented": set(), "not held": set()}


def skip_reasons() -> dict[str, str]:
    """Each reason the package records a target skipped for (``llm_sidecar_skips_total{reason}``, the access
    line's ``attempt_log``), with where: a constant passed to ``skip`` or ``skipped``, a constant a
    ``before_target`` hook returns, the ``SKIP_REASON`` and ``UNCALLABLE`` constants."""

    root = DOC.parents[1]
    reasons: dict[str, str] = {}
    for module in sorted((root / "sidecar").rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            found: list[ast.AST] = []
            if isinstance(node, ast.Call) and _called(node) in ("skip", "skipped"):
                found = [*node.args[2:3], *(k.value for k in node.keywords if k.arg == "reason")]
            elif isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name == "before_target":
                found = [part for n in ast.walk(node) if isinstance(n, ast.Return) for part in ast.walk(n)]
            elif isinstance(node, ast.Assign) and {getattr(t, "id", "") for t in node.targets} & {
                "SKIP_REASON",
                "UNCALLABLE",
            }:
                found = list(ast.walk(node.value))
            for value in found:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    reasons.setdefault(value.value, f"{module.relative_to(root)}:{value.lineno}")
    return reasons


def _called(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def test_every_skip_reason_is_listed_in_the_skips_metric_row() -> None:
    """Each reason the package skips a target for is named in ``llm_sidecar_skips_total``'s row of
    docs/observability.md, so an SRE reading the metric (or an ``attempt_log``) finds what each means."""
    text = DOC.read_text()
    [row] = [line for line in text.splitlines() if line.startswith("| `llm_sidecar_skips_total` |")]
    reasons = skip_reasons()
    assert len(reasons) >= 10
    assert sorted(f"{reason} ({where})" for reason, where in reasons.items() if f"`{reason}`" not in row) == []


def test_the_response_model_bound_the_docs_give_is_the_codes() -> None:
    """docs/observability.md's bound on ``gen_ai_response_model`` (a sidecar's first 100 distinct values,
    each at most 256 characters, then ``other``) is the one ``label_bound`` keeps."""
    from sidecar.telemetry.label_bound import MAX_CHARS, RESPONSE_MODELS

    text = " ".join(DOC.read_text().split())
    said = re.search(r"first ([\d,]+) distinct values \(each at most ([\d,]+) characters\)", text)
    assert said is not None
    assert (int(said.group(1).replace(",", "")), int(said.group(2).replace(",", ""))) == (RESPONSE_MODELS, MAX_CHARS)


def test_the_outcome_values_the_docs_list_are_the_ones_a_request_can_end_with() -> None:
    """The ``outcome`` values a request can end with (``server.access._outcome``'s answers) are exactly
    those listed for ``llm_sidecar_requests_total{outcome}`` and the SERVER span's ``sidecar.outcome`` in
    docs/observability.md, and described in docs/logs.md's ``outcome`` row."""
    import inspect

    from sidecar.server import access

    tree = ast.parse(inspect.getsource(access._outcome))
    returned = {
        node.value
        for ret in ast.walk(tree)
        if isinstance(ret, ast.Return) and ret.value is not None
        for node in ast.walk(ret.value)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    text = DOC.read_text().splitlines()
    metric = re.search(r"`outcome` \(([^)]*)\)", next(line for line in text if "`llm_sidecar_requests_total`" in line))
    span = next(line for line in text if line.startswith("| `http.response.status_code`, `sidecar.outcome`"))
    logs = (DOC.parent / "logs.md").read_text().splitlines()
    described = next(line for line in logs if line.startswith("| `outcome` |"))
    assert metric and len(returned) >= 8
    for listed in (set(re.findall(r"`(\w+)`", metric.group(1))), set(re.findall(r"`(\w+)`", span.split(" | ")[-1]))):
        assert {"not listed": returned - listed, "listed, never ended with": listed - returned} == {
            "not listed": set(),
            "listed, never ended with": set(),
        }
    assert sorted(value for value in returned if f"`{value}`" not in described) == []
