"""A small metrics registry for one event loop: label-tuple dict lookups, no locks, a text renderer.

The per-request path only does ``counter.inc(labels)``, ``gauge.set/inc/dec(labels)`` and
``histogram.observe(labels, value)``: one dict lookup on a tuple of label values (in the order of the
metric's ``labels``) and an addition; histograms add one ``bisect``. Nothing here is thread-safe for
writers: every write happens on the event loop. Readers on other threads (the OTLP push) only take
``snapshot()``s, built from C-level copies that the GIL makes atomic.

- ``Info``: a metric's names (Prometheus and OpenTelemetry), help, unit and label names.
- ``Counter``, ``Gauge``, ``Histogram``: the instruments; ``Histogram.series(labels)`` hands out a
  ``Series`` to keep for repeated observations (per stream chunk).
- ``Registry``: holds instruments in registration order; ``render()`` gives the Prometheus text
  exposition format 0.0.4; ``snapshot()`` gives immutable points for exporters.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

Labels = tuple[str, ...]
Kind = Literal["counter", "gauge", "histogram"]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Info:
    """What a metric is called on both sides: ``name``/``labels`` for Prometheus (the full sample name,
    ``_total`` included for counters), ``otel_name``/``otel_labels``/``unit`` for OTLP export."""

    name: str
    help: str
    labels: Labels = ()
    otel_name: str = ""
    otel_labels: Labels = ()
    unit: str = ""

    def __post_init__(self) -> None:
        if self.otel_labels and len(self.otel_labels) != len(self.labels):
            raise ValueError(f"{self.name}: otel_labels must match labels one for one")


class Counter:
    """A monotonic sum per label tuple."""

    __slots__ = ("info", "values")
    kind: Final[Kind] = "counter"

    def __init__(self, info: Info) -> None:
        self.info = info
        self.values: dict[Labels, float] = {} if info.labels else {(): 0}

    def inc(self, labels: Labels = (), amount: float = 1) -> None:
        values = self.values
        values[labels] = values.get(labels, 0) + amount


class Gauge:
    """A value per label tuple that goes up and down."""

    __slots__ = ("info", "values")
    kind: Final[Kind] = "gauge"

    def __init__(self, info: Info) -> None:
        self.info = info
        self.values: dict[Labels, float] = {} if info.labels else {(): 0}

    def set(self, labels: Labels, value: float) -> None:
        self.values[labels] = value

    def inc(self, labels: Labels = (), amount: float = 1) -> None:
        values = self.values
        values[labels] = values.get(labels, 0) + amount

    def dec(self, labels: Labels = (), amount: float = 1) -> None:
        values = self.values
        values[labels] = values.get(labels, 0) - amount


class Series:
    """One histogram series: per-bucket (not cumulative) counts, the last one for ``+Inf``."""

    __slots__ = ("bounds", "counts", "max", "min", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value


class Histogram:
    """Observations counted in fixed buckets (``le`` upper bounds, inclusive) per label tuple."""

    __slots__ = ("bounds", "info", "values")
    kind: Final[Kind] = "histogram"

    def __init__(self, info: Info, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(set(bounds)):
            raise ValueError(f"{info.name}: bucket bounds must be strictly increasing")
        self.info = info
        self.bounds = tuple(float(b) for b in bounds)
        self.values: dict[Labels, Series] = {}

    def series(self, labels: Labels = ()) -> Series:
        found = self.values.get(labels)
        if found is None:
            found = self.values[labels] = Series(self.bounds)
        return found

    def observe(self, labels: Labels, value: float) -> None:
        found = self.values.get(labels)
        if found is None:
            found = self.values[labels] = Series(self.bounds)
        found.observe(value)


Metric = Counter | Gauge | Histogram


@dataclass(frozen=True, slots=True)
class HistogramPoint:
    counts: tuple[int, ...]
    sum: float
    min: float
    max: float

    @property
    def count(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True, slots=True)
class MetricSnapshot:
    info: Info
    kind: Kind
    bounds: tuple[float, ...]
    points: tuple[tuple[Labels, float | HistogramPoint], ...]


class Registry:
    """The instruments of one process, in registration order; names are unique."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._collectors: list[Callable[[], None]] = []

    def _add(self, metric: Metric) -> None:
        if metric.info.name in self._metrics:
            raise ValueError(f"metric {metric.info.name} registered twice")
        self._metrics[metric.info.name] = metric

    def counter(self, info: Info) -> Counter:
        metric = Counter(info)
        self._add(metric)
        return metric

    def gauge(self, info: Info) -> Gauge:
        metric = Gauge(info)
        self._add(metric)
        return metric

    def histogram(self, info: Info, bounds: Sequence[float]) -> Histogram:
        metric = Histogram(info, bounds)
        self._add(metric)
        return metric

    def on_collect(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` before every render (to copy values kept elsewhere into instruments)."""
        self._collectors.append(callback)

    def collect(self) -> None:
        for callback in self._collectors:
            callback()

    @property
    def metrics(self) -> tuple[Metric, ...]:
        return tuple(self._metrics.values())

    def render(self) -> bytes:
        """The Prometheus text exposition format, version 0.0.4."""
        self.collect()
        lines: list[str] = []
        for metric in self._metrics.values():
            info = metric.info
            lines.append(f"# HELP {info.name} {_escape_help(info.help)}")
            lines.append(f"# TYPE {info.name} {metric.kind}")
            if isinstance(metric, Histogram):
                _render_histogram(lines, metric)
            else:
                for labels, value in list(metric.values.items()):
                    lines.append(f"{info.name}{_label_text(info.labels, labels)} {_number(value)}")
        lines.append("")
        return "\n".join(lines).encode()

    def snapshot(self) -> tuple[MetricSnapshot, ...]:
        """Immutable copies of every series; safe to call from another thread."""
        snapshots: list[MetricSnapshot] = []
        for metric in list(self._metrics.values()):
            points: list[tuple[Labels, float | HistogramPoint]] = []
            bounds: tuple[float, ...] = ()
            if isinstance(metric, Histogram):
                bounds = metric.bounds
                for labels, series in list(metric.values.items()):  # C-level copies: atomic under the GIL
                    counts = tuple(series.counts)
                    points.append((labels, HistogramPoint(counts, series.sum, series.min, series.max)))
            else:
                points.extend((labels, float(value)) for labels, value in list(metric.values.items()))
            snapshots.append(MetricSnapshot(metric.info, metric.kind, bounds, tuple(points)))
        return tuple(snapshots)


def _render_histogram(lines: list[str], metric: Histogram) -> None:
    info = metric.info
    les = [*(repr(b) for b in metric.bounds), "+Inf"]  # "1.0", "0.01": prometheus_client's le spelling
    names = (*info.labels, "le")
    for labels, series in list(metric.values.items()):
        cumulative = 0
        for le, count in zip(les, series.counts, strict=True):
            cumulative += count
            lines.append(f"{info.name}_bucket{_label_text(names, (*labels, le))} {cumulative}")
        text = _label_text(info.labels, labels)
        lines.append(f"{info.name}_sum{text} {_number(series.sum)}")
        lines.append(f"{info.name}_count{text} {cumulative}")


def _label_text(names: Labels, values: Labels) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{name}="{_escape_label(value)}"' for name, value in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)
