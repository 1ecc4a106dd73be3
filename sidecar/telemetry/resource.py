"""The process's OpenTelemetry ``Resource`` (the SDK's), for the signals it exports.

Built only when a trace or metrics exporter is configured (``facade.Telemetry``): a sidecar that exports
nothing does not load the SDK's resources module.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.resources import Resource

from .config import TelemetryConfig


class HashedResource(Resource):
    """The SDK's ``Resource``, its hash computed once. The SDK's OTLP encoder groups a batch's spans by
    resource, hashing it once per span, and ``Resource.__hash__`` serialises the attributes to JSON each
    time: about 5 us of the export thread's 40-45 us per span (bench/telemetry_cost.py). A resource's
    attributes never change; equality is the SDK's."""

    def __init__(self, attributes: dict[str, Any], schema_url: str | None = None) -> None:
        super().__init__(attributes, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def process_resource(config: TelemetryConfig, service_version: str) -> Resource:
    """The process's resource from the given environment only (no detectors reading ``os.environ``)."""
    from opentelemetry.sdk.version import __version__ as sdk_version

    attributes: dict[str, Any] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "service.version": service_version,
        **config.resource_attributes,
        "service.name": config.service_name,
    }
    return HashedResource(attributes)
