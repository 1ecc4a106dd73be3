"""What the dashboard and alert tests read: the metrics docs/observability.md documents (with their
labels and, where a row lists them, the values of a label), and the metric names, grouping labels and
label matchers a PromQL expression uses.

The expression reading is lexical, enough for the queries we write: label matchers (``{...}``) and
label lists (``by (...)``, ``on (...)``...) are taken apart, and what remains of the form of a metric
name is one. A histogram's ``_bucket``, ``_count`` and ``_sum`` series belong to its documented name.
A matcher ``label="v"`` or ``label=~"v|w"`` on a metric must name one of its labels, and values the
documentation lists for that label (a list ending in "…" is open and not checked): a selector on a label
or value the sidecar never exports matches nothing, and an alert on it would never fire.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO / "docs" / "observability.md"

# Labels the pipeline attaches to every series (docs/operations.md, "Dashboards and alerts"), the scrape
# target Prometheus gives every scraped series (``instance``), and histograms' bucket bound.
PIPELINE_LABELS = frozenset({"namespace", "app", "pod", "instance", "le"})

_NAME = re.compile(r"\b((?:llm_sidecar|gen_ai|process)_[a-z0-9_]+)\b")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_LABEL_LIST = re.compile(r"\b(by|on|without|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")
_SELECTOR = re.compile(r"\b((?:llm_sidecar|gen_ai|process)_[a-z0-9_]+)\s*\{([^{}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"')
_LISTED_VALUES = re.compile(r"`([a-z_]+)` \(([^()]*)\)")


@functools.cache
def documented_metrics() -> dict[str, frozenset[str]]:
    """Metric name -> its labels, from the tables of the Metrics section of docs/observability.md."""
    text = OBSERVABILITY.read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    metrics: dict[str, frozenset[str]] = {}
    genai_labels: set[str] = set()
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        name = cells[0].strip("`")
        labels = set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^()]*\)", "", cells[2])))
        if name.startswith("gen_ai_"):
            genai_labels |= labels
        metrics[name] = frozenset(labels)
    for name in metrics:
        if name.startswith("gen_ai_"):
            # The GenAI rows name some labels in words ("operation, provider, request model"): any
            # label the GenAI table names is accepted on any GenAI metric.
            metrics[name] = frozenset(genai_labels)
    return metrics


@functools.cache
def documented_values() -> dict[tuple[str, str], frozenset[str]]:
    """(metric, label) -> the values its row lists in parentheses after the label (closed lists only)."""
    text = OBSERVABILITY.read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    values: dict[tuple[str, str], frozenset[str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for label, listed in _LISTED_VALUES.findall(cells[2]):
            if "…" not in listed:
                values[(cells[0].strip("`"), label)] = frozenset(re.findall(r"`([^`]+)`", listed))
    return values


def matcher_problems(expr: str) -> list[str]:
    """Label matchers on labels a metric does not carry, or asking for values its row does not list."""
    found = []
    for name, body in _SELECTOR.findall(expr):
        documented = documented_name(name)
        if documented is None:
            continue  # reported by ``problems`` as an undocumented metric
        carried = documented_metrics()[documented] | PIPELINE_LABELS
        for label, operator, value in _MATCHER.findall(body):
            if label not in carried:
                found.append(f"{name}: label {label} is not one of its labels")
                continue
            listed = documented_values().get((documented, label))
            if listed is None or operator not in ("=", "=~") or "$" in value:
                continue
            for wanted in value.split("|") if operator == "=~" else [value]:
                if wanted not in listed:
                    found.append(f"{name}: {label} {wanted!r} is not a value docs/observability.md lists")
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (label names and string contents left out)."""
    bare = _STRINGS.sub('""', expr)
    bare = _MATCHERS.sub("", bare)
    bare = _LABEL_LIST.sub("", bare)
    return set(_NAME.findall(bare))


def grouping_labels(expr: str, kinds: frozenset[str] | None = None) -> set[str]:
    """Every label named in a ``by``/``on``/``without``/``group_*`` list of the expression (of the lists of
    ``kinds`` only, when given)."""
    labels: set[str] = set()
    for kind, names in _LABEL_LIST.findall(_STRINGS.sub('""', expr)):
        if kinds is None or kind in kinds:
            labels.update(name.strip() for name in names.split(",") if name.strip())
    return labels


def documented_name(name: str) -> str | None:
    """The documented metric a series name belongs to (itself, or the histogram it is part of)."""
    metrics = documented_metrics()
    if name in metrics:
        return name
    for suffix in _HISTOGRAM_SERIES:
        if name.endswith(suffix) and name.removesuffix(suffix) in metrics:
            return name.removesuffix(suffix)
    return None


def problems(expr: str) -> list[str]:
    """Undocumented metric names, grouping labels that none of the expression's metrics carry, and
    matchers on labels or values a metric does not have (``matcher_problems``)."""
    found = []
    carried = set(PIPELINE_LABELS)
    for name in sorted(metric_names(expr)):
        documented = documented_name(name)
        if documented is None:
            found.append(f"metric {name} is not in docs/observability.md")
        else:
            carried |= documented_metrics()[documented]
    found.extend(f"label {label} is on none of its metrics" for label in sorted(grouping_labels(expr) - carried))
    return found + matcher_problems(expr)
