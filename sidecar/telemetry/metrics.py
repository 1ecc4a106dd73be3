"""Metric instruments written to two maintained libraries: ``prometheus_client`` and the OpenTelemetry SDK.

Each instrument is on the ``prometheus_client`` registry of one ``Telemetry`` (rendered for ``GET
/metrics`` by ``prometheus_client.generate_latest``) and, only when a metrics push is configured
(``OTEL_METRICS_EXPORTER`` / an OTLP endpoint), the OpenTelemetry SDK instrument of its OTel name on
that ``Telemetry``'s ``MeterProvider`` (exported by the SDK's ``PeriodicExportingMetricReader``):

- counters and histograms, the ones a request updates (about twenty updates a request): plain numbers
  per label tuple held here, made into ``prometheus_client`` metric families (``CounterMetricFamily``,
  ``HistogramMetricFamily``) by a custom collector when the registry collects; an update is a dict
  lookup and a float add (a histogram's bucket found by bisection), not a call into the library, its
  checks and its lock (the event loop is the only writer). The text is byte for byte what the
  library's own ``Counter`` and ``Histogram`` render (tests/telemetry/test_metrics.py compares them);
- gauges: ``prometheus_client`` gauges;
- on the OTel side, counters and gauges are the SDK's asynchronous instruments (``ObservableCounter``,
  ``ObservableUpDownCounter``, ``ObservableGauge``), whose callback reads the values held when the
  reader collects (once per push interval): an update costs the same, push or not (the SDK's
  synchronous instruments cost about 6 us per update). Both hold cumulative values, so what is pushed
  is the same (the SDK derives deltas itself if a delta temporality is asked for); what is lost is an
  exemplar per counter update, which the SDK attaches only to measurements of synchronous instruments.
- histograms: the SDK's ``Histogram``, recorded at each observation as well (a histogram's buckets
  cannot be read back into the SDK), with the OTel attributes of each label tuple built once.

Why this module exists at all: the names. ``/metrics`` must keep the documented Prometheus names
(dashboards), and the OTLP side the documented OTel names, units and dotted attribute keys. The OTel
SDK's Prometheus reader (``opentelemetry-exporter-prometheus``) derives the Prometheus names from the
OTel names and units itself, adds a ``target_info`` metric and registers on ``prometheus_client``'s
process-wide registry; so each side is given its names here, by a ``Spec``, and written directly.
Without a push, a measurement costs a dict lookup and an add; with one, a histogram observation
also costs an SDK call.

- ``Spec``: one metric's names on both sides, help, unit and, for histograms, bucket bounds.
- ``Counter.inc`` / ``cell``, ``Histogram.observe`` / ``series``, ``Gauge.set``: label values are a tuple
  in the order of ``Spec.labels`` (strings; ``""`` when absent); a series is looked up in a dict by that
  tuple (made on its first update; a label-less metric's at once). ``cell`` and ``series`` hand a series
  out to keep and update without the look-up (``held_series``: those of a request's and a call's end).
- ``UpDownGauge.inc`` / ``dec``: a label-less count, an ``int`` the library reads when it collects.
- ``new_registry()``: a ``CollectorRegistry`` for one ``Telemetry``, with the library's process collector
  (the process's descriptors, memory and CPU, on /metrics only: ``process_*``).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Final

import prometheus_client
from opentelemetry.metrics import Observation
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Meter

Labels = tuple[str, ...]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"  # the text exposition format: /metrics answers it


@dataclass(frozen=True, slots=True)
class Spec:
    """A metric's Prometheus ``name`` (the full sample name: ``_total`` for counters) and ``labels``, and its
    OTel ``otel_name``, ``otel_keys`` (one attribute key per label) and ``unit``."""

    name: str
    help: str
    labels: Labels
    otel_name: str
    otel_keys: Labels
    unit: str
    buckets: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if len(self.otel_keys) != len(self.labels):
            raise ValueError(f"{self.name}: otel_keys must match labels one for one")


def new_registry() -> prometheus_client.CollectorRegistry:
    """A registry holding the library's process collector (``process_open_fds``, ``process_max_fds``,
    ``process_resident_memory_bytes``...: read from ``/proc`` when ``/metrics`` is rendered, nothing per
    request; on /metrics only, not pushed). ``_created`` samples are turned off (a ``prometheus_client``
    setting for the process): the exposition keeps the series it always had, and the sidecar uses the
    library nowhere else."""
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    prometheus_client.ProcessCollector(registry=registry)
    return registry


def render(registry: prometheus_client.CollectorRegistry) -> bytes:
    """The Prometheus text exposition format 0.0.4 of every metric in ``registry``."""
    return prometheus_client.generate_latest(registry)


class _Instrument:
    """A ``prometheus_client`` metric of type ``_PROM`` and, given a meter, the SDK instrument its ``_OTEL``
    method creates: asynchronous (its callback reads the ``prometheus_client`` values) unless it is a
    histogram."""

    __slots__ = ("_children", "_keys", "_labels", "_otel", "_prom", "_sample")
    _PROM: Any
    _OTEL: str

    def __init__(self, spec: Spec, registry: prometheus_client.CollectorRegistry, meter: Meter | None) -> None:
        self._prom = self._PROM(spec.name, spec.help, spec.labels, registry=registry)
        self._labels = spec.labels
        self._keys = spec.otel_keys
        self._sample = spec.name  # the sample of the value
        self._otel: Any = None
        if meter is not None:
            getattr(meter, self._OTEL)(spec.otel_name, [self._observe], spec.unit, spec.help)
        # prometheus_client's children by label tuple, as its own ``labels()`` keeps them, looked up here
        # without its per-call checks and lock.
        self._children: dict[Labels, Any] = {(): self._prom} if not spec.labels else {}

    def _child(self, labels: Labels) -> Any:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = self._prom.labels(*labels)
        return child

    def _observe(self, _: CallbackOptions) -> Iterator[Observation]:
        """Every series' current value, for the SDK reader's collection (not on the request path)."""
        labels, keys = self._labels, self._keys
        for family in self._prom.collect():
            for sample in family.samples:
                if sample.name == self._sample:
                    attributes = {key: sample.labels[label] for label, key in zip(labels, keys, strict=True)}
                    yield Observation(sample.value, attributes)


class _Collected(Collector):
    """A metric whose values are plain numbers held here, one entry per label tuple, made into
    ``prometheus_client`` metric families only when the registry collects (a scrape, or the SDK
    reader's callback): an update on the request path is a dict lookup and a float add, not a call
    into the library and its lock. The event loop's thread is the only writer; a collection from
    another thread (the SDK reader's) reads a copy of the dict."""

    __slots__ = ("_keys", "_otel", "_values", "spec")

    def __init__(self, spec: Spec, registry: prometheus_client.CollectorRegistry) -> None:
        self.spec = spec
        self._keys = spec.otel_keys
        self._otel: Any = None
        registry.register(self)

    def _family(self) -> Metric:
        raise NotImplementedError

    def describe(self) -> list[Metric]:
        """The family without samples: its names, for the registry's duplicate check."""
        return [self._family()]


class Counter(_Collected):
    """A monotonic sum per label tuple (the OTel side is an asynchronous counter reading the sums)."""

    __slots__ = ()

    def __init__(self, spec: Spec, registry: prometheus_client.CollectorRegistry, meter: Meter | None) -> None:
        super().__init__(spec, registry)
        # a series is a one-element list (its sum), kept by who updates it often (``cell``)
        self._values: dict[Labels, list[float]] = {} if spec.labels else {(): [0.0]}  # a label-less one shows 0 at once
        if meter is not None:
            meter.create_observable_counter(spec.otel_name, [self._observe], spec.unit, spec.help)

    def inc(self, labels: Labels = (), amount: float = 1) -> None:
        cell = self._values.get(labels)
        if cell is None:
            cell = self.cell(labels)
        cell[0] += amount

    def cell(self, labels: Labels) -> list[float]:
        """One label tuple's series (made at 0 if new: it shows from now on), to keep and add to
        (``cell[0] += amount``) without looking it up again."""
        cell = self._values.get(labels)
        if cell is None:
            cell = self._values[labels] = [0.0]
        return cell

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(self.spec.name, self.spec.help, labels=self.spec.labels)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for labels, cell in list(self._values.items()):
            family.add_metric(labels, cell[0])
        yield family

    def _observe(self, _: CallbackOptions) -> Iterator[Observation]:
        """Every series' sum, for the SDK reader's collection (not on the request path)."""
        keys = self._keys
        for labels, cell in list(self._values.items()):
            yield Observation(cell[0], dict(zip(keys, labels, strict=True)))


class Histogram(_Collected):
    """Observations counted in the spec's buckets (``le`` upper bounds, inclusive; ``+Inf`` last) per
    label tuple; with a meter, each observation is also recorded on the SDK's ``Histogram`` (its buckets
    cannot be read back into the SDK), with the OTel attributes of each label tuple built once.

    A series is a list: one count per bucket (not cumulative), then the sum; an observation finds its
    bucket by bisection over the bounds."""

    __slots__ = ("_bounds", "_le", "_otel_attributes")

    def __init__(self, spec: Spec, registry: prometheus_client.CollectorRegistry, meter: Meter | None) -> None:
        super().__init__(spec, registry)
        bounds = [float(bound) for bound in spec.buckets]
        if not bounds or bounds != sorted(bounds):
            raise ValueError(f"{spec.name}: buckets must be given in increasing order")
        if bounds[-1] != math.inf:
            bounds.append(math.inf)
        self._bounds = tuple(bounds)
        self._le = tuple(floatToGoString(bound) for bound in bounds)  # type: ignore[no-untyped-call]
        self._values: dict[Labels, list[float]] = {}
        self._otel_attributes: dict[Labels, dict[str, str]] = {}  # per label tuple, built once
        if not spec.labels:
            self._series(())  # a label-less one shows its empty buckets at once
        if meter is not None:
            advice = {"explicit_bucket_boundaries_advisory": spec.buckets}
            self._otel = meter.create_histogram(spec.otel_name, spec.unit, spec.help, **advice)

    def _series(self, labels: Labels) -> list[float]:
        series = self._values.get(labels)
        if series is None:
            series = self._values[labels] = [0.0] * (len(self._bounds) + 1)
        return series

    def observe(self, labels: Labels, value: float) -> None:
        series = self._values.get(labels)
        if series is None:
            series = self._series(labels)
        series[bisect_left(self._bounds, value)] += 1
        series[-1] += value
        if self._otel is not None:
            self._otel.record(value, self._attributes(labels))

    def series(self, labels: Labels) -> Series:
        """One label tuple's series, to keep for repeated observations (per stream chunk)."""
        attributes = self._attributes(labels) if self._otel is not None else None
        return Series(self._series(labels), self._bounds, self._otel, attributes)

    def _attributes(self, labels: Labels) -> dict[str, str]:
        attributes = self._otel_attributes.get(labels)
        if attributes is None:
            attributes = self._otel_attributes[labels] = dict(zip(self._keys, labels, strict=True))
        return attributes

    def _family(self) -> HistogramMetricFamily:
        return HistogramMetricFamily(self.spec.name, self.spec.help, labels=self.spec.labels)

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        le = self._le
        for labels, series in list(self._values.items()):
            counts = list(series)
            cumulative = list(accumulate(counts[:-1]))
            family.add_metric(labels, list(zip(le, cumulative, strict=True)), counts[-1])
        yield family


class Series:
    """One histogram series, looked up once: its counts and sum, and its OTel attributes."""

    __slots__ = ("_attributes", "_bounds", "_otel", "_values")

    def __init__(
        self, values: list[float], bounds: tuple[float, ...], otel: Any, attributes: dict[str, str] | None
    ) -> None:
        self._values = values
        self._bounds = bounds
        self._otel = otel
        self._attributes = attributes

    def observe(self, value: float) -> None:
        values = self._values
        values[bisect_left(self._bounds, value)] += 1
        values[-1] += value
        if self._otel is not None:
            self._otel.record(value, self._attributes)


class Gauge(_Instrument):
    """A value per label tuple, set (the OTel side is an asynchronous gauge)."""

    __slots__ = ()
    _PROM = prometheus_client.Gauge
    _OTEL = "create_observable_gauge"

    def set(self, labels: Labels, value: float) -> None:
        self._child(labels).set(value)

    def remove(self, labels: Labels) -> None:
        """Drop one series (a target gone with a reload); nothing if it was never set."""
        if self._children.pop(labels, None) is not None:
            self._prom.remove(*labels)

    def replace(self, values: dict[Labels, float]) -> None:
        """Every series at once: those not in ``values`` are removed (a limit gone with a reload)."""
        for labels in [labels for labels in self._children if labels not in values]:
            del self._children[labels]
            self._prom.remove(*labels)
        for labels, value in values.items():
            self._child(labels).set(value)


class UpDownGauge(_Instrument):
    """A label-less count that goes up and down by steps (the OTel side is an asynchronous up-down
    counter). It is a plain ``int`` (``value``) that ``prometheus_client`` reads when it collects
    (``Gauge.set_function``): an update, twice per request for the in-flight gauge, is an integer add,
    not a call into the library and its lock."""

    __slots__ = ("value",)
    _PROM = prometheus_client.Gauge
    _OTEL = "create_observable_up_down_counter"

    def __init__(self, spec: Spec, registry: prometheus_client.CollectorRegistry, meter: Meter | None) -> None:
        if spec.labels:
            raise ValueError(f"{spec.name}: an up-down gauge has no labels")
        super().__init__(spec, registry, meter)
        self.value = 0
        self._prom.set_function(self._read)

    def _read(self) -> float:
        return self.value

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1


class Makers:
    """Instruments of one registry (and meter, when metrics are pushed): what ``instruments`` builds with."""

    def __init__(self, registry: prometheus_client.CollectorRegistry, meter: Meter | None) -> None:
        self.registry = registry
        self.meter = meter

    def counter(self, spec: Spec) -> Counter:
        return Counter(spec, self.registry, self.meter)

    def histogram(self, spec: Spec, buckets: tuple[float, ...]) -> Histogram:
        return Histogram(replace(spec, buckets=buckets), self.registry, self.meter)

    def gauge(self, spec: Spec) -> Gauge:
        return Gauge(spec, self.registry, self.meter)


def own(suffix: str, help_text: str, labels: tuple[str, ...], unit: str) -> Spec:
    """The spec of the sidecar's own metric ``llm_sidecar_<suffix>`` (OTel name ``llm_sidecar.<base>``)."""
    name = f"llm_sidecar_{suffix}"
    base = suffix.removesuffix("_total").removesuffix("_seconds")
    return Spec(name, help_text, labels, f"llm_sidecar.{base}", labels, unit)
