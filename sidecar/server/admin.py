"""The sidecar's own endpoints: health, readiness, status, metrics, and OpenAI's model list.

These paths (``/healthz``, ``/readyz``, ``/status``, ``/metrics``) cannot collide with a provider
path: every provider API lives under ``/v1``, ``/v1beta`` or ``/openai``. ``/healthz`` never depends
on an upstream; ``/readyz`` is 200 once a policy is loaded and the listener is up, 503 while draining.
Handlers other than ``healthz`` are given the ``SidecarState`` as a keyword (bound when routes are added).
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp.web import Request, Response

from .. import __version__
from .state import SidecarState


def _json(data: Any, status: int = 200) -> Response:
    return Response(status=status, body=orjson.dumps(data, option=orjson.OPT_INDENT_2), content_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(text="ok\n")


async def readyz(request: Request, *, state: SidecarState) -> Response:
    if state.draining:
        return Response(status=503, text="draining\n")
    if not state.listening:
        return Response(status=503, text="starting\n")
    return Response(text="ready\n")


async def status(request: Request, *, state: SidecarState) -> Response:
    holder = state.holder
    policy = holder.policy
    last_error = holder.last_error
    return _json(
        {
            "version": __version__,
            "uptime_s": round(time.monotonic() - state.started, 3),
            "draining": state.draining,
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
        }
    )


async def metrics(request: Request, *, state: SidecarState) -> Response:
    cache = state.caches.cache
    if cache is not None:
        state.telemetry.cache_store(cache.snapshot())
    return Response(
        body=state.telemetry.metrics_text(),
        headers={"content-type": "text/plain; version=0.0.4; charset=utf-8"},
    )


async def list_models(request: Request, *, state: SidecarState) -> Response:
    """OpenAI's GET /v1/models: the model names the policy exposes."""
    policy = state.holder.policy
    created = int(policy.loaded_at)
    return _json(
        {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": created, "owned_by": "llm-sidecar"}
                for name in policy.exposed_models
            ],
        }
    )
