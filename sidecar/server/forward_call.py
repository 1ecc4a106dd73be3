"""``Call``: one passthrough request's record (``server.forward``): what it was and what came of it, for
its answer's headers, its access line and its CLIENT span."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from ..dialects.registry import wire
from ..header_text import header_text
from ..passthrough.table import PassRoute
from ..policy.compiled import Policy
from ..telemetry import genai
from ..telemetry.request import RequestTrace
from .answer_headers import OWN_REQUEST_ID_PREFIX

OPERATION = "passthrough"


class Call:
    """One passthrough request's record: what it was, what came of it (for its access line and telemetry)."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "calls",
        "error_type",
        "key",
        "outcome",
        "policy",
        "request",
        "request_id",
        "route",
        "span_id",
        "start_ns",
        "started",
        "status",
        "upstream_status",
    )

    def __init__(self, request: web.BaseRequest, route: PassRoute, policy: Policy, request_id: str) -> None:
        self.request = request
        self.route = route
        self.policy = policy
        self.request_id = request_id
        self.started = time.perf_counter()
        self.start_ns = 0  # when the first call to the provider began (its CLIENT span's start)
        self.span_id = 0  # the CLIENT span's id, sent upstream in its ``traceparent`` (0: not recorded)
        self.upstream_status: int | None = None  # the provider's status, when it answered
        self.status = 500
        self.outcome = "failed"
        self.error_type: str | None = None
        self.calls = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.key: str | None = None

    def add_headers(self, headers: Any) -> None:
        """The sidecar's headers on an answer (docs/headers.md); the dialect's request id header when the
        provider's is not there (the sidecar's own error)."""
        headers["x-sidecar-request-id"] = self.request_id
        headers["x-sidecar-policy-version"] = self.policy.version
        headers["x-sidecar-provider"] = header_text(self.route.provider.name)
        headers["x-sidecar-attempts"] = str(self.calls)
        name = wire(self.route.dialect).request_id_header
        if name is not None and name not in headers and not any(key.lower() == name for key in headers):
            headers[name] = OWN_REQUEST_ID_PREFIX + self.request_id

    def span_attributes(self) -> dict[str, Any]:
        """The CLIENT span's attributes (docs/observability.md, "Spans"): an HTTP client call's, with
        the provider's ``gen_ai.provider.name``."""
        provider = self.route.provider
        attributes: dict[str, Any] = {
            genai.HTTP_METHOD: self.request.method,
            genai.SERVER_ADDRESS: provider.host,
            genai.SERVER_PORT: provider.port,
            genai.PROVIDER_NAME: provider.otel_name,
        }
        if self.calls > 1:
            attributes[genai.HTTP_RESEND_COUNT] = self.calls - 1
        if self.upstream_status is not None:
            attributes[genai.HTTP_STATUS_CODE] = self.upstream_status
        return attributes

    def span_error(self) -> str | None:
        """The CLIENT span's ``error.type``: the sidecar's own failure or the answer's break, else
        ``cancelled`` (the app left), else a provider's error status (``http_404``), as for upstream calls."""
        if self.error_type:
            return self.error_type
        if self.status == 499:
            return "cancelled"
        status = self.upstream_status
        return f"http_{status}" if status is not None and status >= 400 else None

    def access_fields(self, trace: RequestTrace, app: str, latency_ms: float) -> dict[str, Any]:
        """The access line (docs/logs.md): the request's, with ``operation: passthrough``; ``app``: the
        calling app (``request_facts.app_of``)."""
        fields: dict[str, Any] = {
            "component": "sidecar.access",
            "event": "access",
            "level": "info",
            "ts": time.time_ns() // 1000 / 1e6,
            "request_id": self.request_id,
            "method": self.request.method,
            "path": self.request.path,
            "dialect": self.route.dialect,
            "operation": OPERATION,
            "app": app,
            "provider": self.route.provider.name,
            "status": self.status,
            "outcome": self.outcome,
            "latency_ms": round(latency_ms, 3),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "attempts": self.calls,
            "policy_version": self.policy.version,
        }
        if self.error_type:
            fields["error_type"] = self.error_type
        if trace.trace_id:
            fields["trace_id"] = trace.trace_id
            fields["span_id"] = trace.span_id
        return fields
