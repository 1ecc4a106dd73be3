"""Periodic push of the metrics registry to OTLP (or the console), from a daemon thread.

The per-request path never sees this: every ``interval_s`` the thread takes ``Registry.snapshot()``
(atomic copies), converts it to the SDK's ``MetricsData`` (cumulative temporality, OTel names, units and
attribute keys from each metric's ``Info``) and hands it to the exporter. The exporter's own timeout
bounds each push; a failed push is logged (stdlib logging) and the next one carries the totals anyway.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

from .config import OtlpTarget, TelemetryConfig, TelemetryConfigError
from .genai import SCHEMA_URL
from .metrics import HistogramPoint, MetricSnapshot, Registry
from .tracing import import_grpc

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricsData
    from opentelemetry.sdk.resources import Resource

_log = logging.getLogger(__name__)


class MetricsPusher:
    def __init__(
        self,
        registry: Registry,
        exporters: list[MetricExporter],
        resource: Resource,
        interval_s: float,
        timeout_s: float,
    ) -> None:
        self._registry = registry
        self._exporters = exporters
        self._resource = resource
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._start_ns = time.time_ns()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sidecar-metrics-push", daemon=True)
        self._thread.start()

    @classmethod
    def build(
        cls, config: TelemetryConfig, registry: Registry, resource: Resource, *, console: TextIO | None = None
    ) -> MetricsPusher | None:
        """A pusher for the configured metric exporters; None when there are none."""
        names = config.metrics.exporters
        if not names:
            return None
        exporters = [_metric_exporter(name, config.metrics.otlp, console) for name in names]
        return cls(registry, exporters, resource, config.metric_interval_s, config.metric_timeout_s)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.push()

    def push(self) -> None:
        data = to_metrics_data(self._registry.snapshot(), self._resource, self._start_ns)
        for exporter in self._exporters:
            try:
                exporter.export(data, timeout_millis=self._timeout_s * 1000)
            except Exception:
                _log.exception("metrics export raised")

    def shutdown(self, timeout_s: float) -> None:
        """One last push, then close the exporters (blocking: run it off the event loop)."""
        self._stop.set()
        self._thread.join(timeout_s)
        self.push()
        for exporter in self._exporters:
            exporter.shutdown(timeout_millis=timeout_s * 1000)


def to_metrics_data(snapshots: tuple[MetricSnapshot, ...], resource: Resource, start_ns: int) -> MetricsData:
    from opentelemetry.sdk.metrics.export import (
        AggregationTemporality,
        Gauge,
        Histogram,
        HistogramDataPoint,
        Metric,
        MetricsData,
        NumberDataPoint,
        ResourceMetrics,
        ScopeMetrics,
        Sum,
    )
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    now = time.time_ns()
    cumulative = AggregationTemporality.CUMULATIVE
    metrics: list[Metric] = []
    for snap in snapshots:
        info = snap.info
        keys = info.otel_labels or info.labels
        data: Any
        if snap.kind == "histogram":
            points = []
            for labels, point in snap.points:
                assert isinstance(point, HistogramPoint)
                count = point.count
                points.append(
                    HistogramDataPoint(
                        attributes=dict(zip(keys, labels, strict=True)),
                        start_time_unix_nano=start_ns,
                        time_unix_nano=now,
                        count=count,
                        sum=point.sum,
                        bucket_counts=list(point.counts),
                        explicit_bounds=list(snap.bounds),
                        min=point.min if count else 0.0,
                        max=point.max if count else 0.0,
                    )
                )
            data = Histogram(data_points=points, aggregation_temporality=cumulative)
        else:
            numbers = [
                NumberDataPoint(
                    attributes=dict(zip(keys, labels, strict=True)),
                    start_time_unix_nano=start_ns,
                    time_unix_nano=now,
                    value=value,
                )
                for labels, value in snap.points
                if not isinstance(value, HistogramPoint)
            ]
            if snap.kind == "counter":
                data = Sum(data_points=numbers, aggregation_temporality=cumulative, is_monotonic=True)
            else:
                data = Gauge(data_points=numbers)
        metrics.append(Metric(name=info.otel_name or info.name, description=info.help, unit=info.unit, data=data))
    scope = InstrumentationScope("llm-sidecar", schema_url=SCHEMA_URL)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource,
                scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url=SCHEMA_URL)],
                schema_url="",
            )
        ]
    )


def _metric_exporter(name: str, otlp: OtlpTarget | None, console: TextIO | None) -> MetricExporter:
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter(out=console or sys.stderr, formatter=_one_line)
    if otlp is None:  # pragma: no cover - config guarantees it
        raise TelemetryConfigError("OTEL_METRICS_EXPORTER=otlp without an OTLP target")
    headers = dict(otlp.headers) or None
    if otlp.protocol == "grpc":
        module = import_grpc("opentelemetry.exporter.otlp.proto.grpc.metric_exporter")
        exporter: MetricExporter = module.OTLPMetricExporter(
            endpoint=otlp.endpoint, headers=headers, timeout=otlp.timeout_s
        )
        return exporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=otlp.endpoint, headers=headers, timeout=otlp.timeout_s)


def _one_line(data: MetricsData) -> str:
    return data.to_json(indent=None) + "\n"
