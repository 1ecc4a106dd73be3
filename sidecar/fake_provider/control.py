"""Control endpoints under ``/_fake/`` (never faulted, delayed or recorded):

- ``GET  /_fake/requests``  recent requests, oldest first, as a JSON array of
                            ``{path, method, query, headers (lower-cased names), json, time,
                            in_flight (requests being answered at its arrival, itself included),
                            ended (when its handler was done, or null), client_gone (the caller
                            closed the connection before its answer was sent)}``;
                            ``?path=`` keeps one path, ``?limit=N`` the last N
- ``GET  /_fake/stats``     ``{"requests": n, "by_path": {path: n}, "faults": n, "in_flight": n}``
- ``POST /_fake/reset``     back to the startup state (config, log, counters, RNGs)
- ``GET  /_fake/config``    the current config
- ``POST /_fake/config``    change ``fault``, ``fault_rate``, ``latency_ms``, ``ttft_ms``,
                            ``tokens_per_s``, ``reply``; answers the new config, or 400 ``{"error": ...}``
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from aiohttp import web

from sidecar.fake_provider.state import STATE

PREFIX = "/_fake/"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/_fake/requests", requests)
    router.add_get("/_fake/stats", stats)
    router.add_post("/_fake/reset", reset)
    router.add_get("/_fake/config", get_config)
    router.add_post("/_fake/config", set_config)


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(value), content_type="application/json")


async def requests(request: web.Request) -> web.Response:
    records = list(request.app[STATE].records)
    path = request.query.get("path")
    if path is not None:
        records = [record for record in records if record["path"] == path]
    limit = request.query.get("limit", "")
    if limit.isdigit():
        records = records[len(records) - int(limit) :] if int(limit) else []
    return _json(records)


async def stats(request: web.Request) -> web.Response:
    return _json(request.app[STATE].stats())


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return _json({"ok": True})


async def get_config(request: web.Request) -> web.Response:
    return _json(dataclasses.asdict(request.app[STATE].config))


async def set_config(request: web.Request) -> web.Response:
    try:
        changes = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _json({"error": "body must be a JSON object"}, 400)
    if not isinstance(changes, dict):
        return _json({"error": "body must be a JSON object"}, 400)
    try:
        config = request.app[STATE].reconfigure(changes)
    except ValueError as exc:
        return _json({"error": str(exc)}, 400)
    return _json(dataclasses.asdict(config))
