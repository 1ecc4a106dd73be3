"""The sidecar's own endpoints: health, readiness, status, metrics, and the model list and lookup (in the
caller's dialect: ``GET /v1/models`` is OpenAI's, Anthropic's and google-genai's path alike, told apart by
their headers, as ``dialects.registry.dialect_of_path`` does, or by a Gemini ``?key=``; Gemini's
``/v1beta/models`` too).

These paths (``/healthz``, ``/readyz``, ``/status``, ``/metrics``) cannot collide with a provider
path: every provider API lives under ``/v1``, ``/v1beta`` or ``/openai``. ``/healthz`` never depends
on an upstream; ``/readyz`` is 200 once a policy is loaded and the listener is up, 503 while draining.
Handlers other than ``healthz`` are given the ``SidecarState`` as a keyword (bound when routes are added).
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
from aiohttp.web import BaseRequest, Response, StreamResponse

from .. import __version__
from ..dialects import Dialect, registry
from ..fd_limit import open_fds
from ..request_facts import shown_model
from ..telemetry.metrics import CONTENT_TYPE
from .errors import RequestFailed, error_response
from .routes import Refuse, not_allowed
from .state import SidecarState


def _json(data: Any, status: int = 200) -> Response:
    return Response(status=status, body=orjson.dumps(data, option=orjson.OPT_INDENT_2), content_type="application/json")


async def healthz(request: BaseRequest) -> Response:
    return Response(text="ok\n")


async def readyz(request: BaseRequest, *, state: SidecarState) -> Response:
    if state.draining:
        return Response(status=503, text="draining\n")
    if not state.listening:
        return Response(status=503, text="starting\n")
    return Response(text="ready\n")


async def status(request: BaseRequest, *, state: SidecarState) -> Response:
    holder = state.holder
    policy = holder.policy
    last_error = holder.last_error
    return _json(
        {
            "version": __version__,
            "uptime_s": round(time.monotonic() - state.started, 3),
            "draining": state.draining,
            "process": {
                "open_fds": open_fds(),
                "max_fds": state.max_fds,
                "max_connections": state.settings.max_connections,
                "log_lines_dropped": state.log_output.lines_dropped,
                **state.held.status(),
            },
            "policy": {
                "version": policy.version,
                "source": policy.source,
                "loaded_at": policy.loaded_at,
                "reloads_ok": holder.reloads_ok,
                "reloads_failed": holder.reloads_failed,
                "last_reload_error": None
                if last_error is None
                else {"at": last_error.at, "errors": list(last_error.errors)},
            },
            "routes": [
                {
                    "name": route.name,
                    "path": route.path,
                    "targets": [t.name for t in route.chain],
                    "deny": route.deny.message if route.deny else None,
                }
                for route in (*policy.routes, *((policy.default,) if policy.default else ()))
            ],
            "models": {
                name: {"provider": t.provider.name, "upstream_model": t.upstream_model, "key": t.key}
                for name, t in policy.models.items()
            },
            "targets": state.targets.snapshot(),
            "shadow": shadow_table(state),
            "budgets": await state.budgets.status(),
        }
    )


def shadow_table(state: SidecarState) -> list[dict[str, Any]]:
    """What shadow evaluation learnt, one row per route x task class x candidate (docs/ensembles.md)."""
    rows = []
    for row in state.shadow.snapshot():
        stats = row.stats
        agreement, ratio = stats.agreement, stats.cost_ratio
        p50, p95 = stats.latency_quantile(0.5), stats.latency_quantile(0.95)
        rows.append(
            {
                "route": row.route,
                "task": row.task,
                "candidate": row.candidate,
                "compared": stats.compared,
                "agreed": stats.agreed,
                "agreement": None if agreement is None else round(agreement, 4),
                "not_comparable": stats.not_comparable,
                "failed": stats.failed,
                "skipped": stats.skipped,
                "cost_usd": round(stats.cost_usd, 8),
                "served_cost_usd": round(stats.served_cost_usd, 8),
                "judge_cost_usd": round(stats.judge_cost_usd, 8),
                "cost_ratio": None if ratio is None else round(ratio, 4),
                "latency_p50_s": None if p50 is None else round(p50, 3),
                "latency_p95_s": None if p95 is None else round(p95, 3),
            }
        )
    return rows


_METRICS_TYPE = {"content-type": CONTENT_TYPE}


def _metrics_text(state: SidecarState) -> bytes:
    state.budgets.refresh(state.telemetry.instruments)
    state.telemetry.bulkheads(state.targets.bulkheads())
    state.caches.report(state.telemetry)
    state.held.report(state.telemetry.instruments)
    return state.telemetry.metrics_text()


async def metrics(request: BaseRequest, *, state: SidecarState) -> Response:
    return Response(body=_metrics_text(state), headers=_METRICS_TYPE)


class ThrottledMetrics:
    """``GET /metrics`` for the health port, which the whole cluster can reach: rendered at most once
    every ``every_s`` and the same text served in between, so a flood of scrapes costs the event loop
    (shared with the app's requests) one render per ``every_s`` (a scrape every 15 s never sees it)."""

    def __init__(self, state: SidecarState, every_s: float = 1.0) -> None:
        self._state = state
        self._every_s = every_s
        self._text = b""
        self._rendered_at = -math.inf

    async def __call__(self, request: BaseRequest) -> Response:
        now = time.monotonic()
        if now - self._rendered_at >= self._every_s:
            self._text, self._rendered_at = _metrics_text(self._state), now
        return Response(body=self._text, headers=_METRICS_TYPE)


async def list_models(request: BaseRequest, *, state: SidecarState) -> Response:
    """``GET /v1/models`` (and ``/v1beta/models``): the model names the policy exposes, as the caller's SDK
    lists them."""
    policy = state.holder.policy
    wire = registry.wire(_caller_dialect(request))
    return _json(wire.model_listing(policy.exposed_models, int(policy.loaded_at)))


def _caller_dialect(request: BaseRequest) -> Dialect:
    """The dialect of a model path's caller: its path and headers (``registry.dialect_of_path``), or Gemini
    for a ``?key=`` (Gemini's key in the query, as a raw caller sends it; no other dialect's)."""
    return Dialect.GEMINI if "key" in request.query else registry.dialect_of_path(request.path, request.headers)


def names_a_method(path: str) -> bool:
    """Whether a ``.../models/{name}`` path names a Gemini method (``x:generateContent``): a POST endpoint's
    path, whose GET is a 405 (``get_model``), not a model lookup."""
    return registry.wire(Dialect.GEMINI).names_a_method(path.split("/models/", 1)[1])


def names_a_model(path: str) -> bool:
    """Whether a ``.../models/{name}`` path names a model (``get_model``'s), not a Gemini method."""
    return not names_a_method(path)


async def get_model(request: BaseRequest, *, state: SidecarState, refuse: Refuse) -> StreamResponse:
    """``GET /v1/models/{model+}`` (and ``/v1beta/...``; the name may hold '/', as OpenAI-compatible
    servers' do): one exposed model as the caller's SDK reads it, or its dialect's 404; a Gemini method
    path's 405, answered by ``refuse`` (the proxy port's ``refusals.Refusals``: headers, line, metrics)."""
    policy = state.holder.policy
    dialect = _caller_dialect(request)
    name = request.path.split("/models/", 1)[1]
    if name not in policy.exposed_models:
        if registry.wire(dialect).names_a_method(name):  # a POST endpoint's path (Gemini's x:generateContent)
            return await refuse(request, not_allowed(request, ["POST"]))
        message = f"model {shown_model(name)!r} is not served here"
        failure = RequestFailed(404, message, code="model_not_found", param="model")
        return error_response(dialect, failure)
    return _json(registry.wire(dialect).model_entry(name, int(policy.loaded_at)))
