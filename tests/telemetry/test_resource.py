"""The resource every exported span and metric carries (``telemetry.resource``)."""

from __future__ import annotations

from opentelemetry.sdk.resources import Resource

from sidecar.telemetry.config import TelemetryConfig
from sidecar.telemetry.resource import HashedResource, process_resource


def test_the_resource_hashes_and_compares_as_the_sdks() -> None:
    """The resource keeps its hash from creation (the OTLP encoder hashes it per span); its hash and
    equality are those of the SDK's Resource with the same attributes, so the encoder groups alike."""
    config = TelemetryConfig.from_env({"OTEL_RESOURCE_ATTRIBUTES": "k8s.pod.name=pod-1"})
    resource = process_resource(config, "1.0")
    plain = Resource(dict(resource.attributes))
    assert isinstance(resource, HashedResource)
    assert resource == plain and hash(resource) == hash(plain)
    assert {resource: "spans"}[plain] == "spans"
    assert resource.attributes["k8s.pod.name"] == "pod-1"
