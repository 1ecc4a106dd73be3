"""Wiring and lifecycle: build the aiohttp app, serve it, reload, drain.

``build_app`` registers the endpoint table and the admin routes, folds the pipeline once, and opens
the upstream client and the reload loop in a cleanup context. ``serve`` listens, freezes the start-up
heap (``settle_heap``), and runs until SIGTERM/SIGINT:
it then marks the sidecar not ready, stops accepting, lets in-flight requests and open streams finish
within the drain timeout, and returns (exit 0). SIGHUP reloads the policy at once.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
import traceback
from collections.abc import AsyncIterator, Mapping
from functools import partial
from random import getrandbits

from aiohttp import web

from ..credentials import Credentials
from ..http1 import UpstreamClient
from ..policy.compiled import Policy
from ..policy.watch import PolicyHolder, PolicyWatcher
from ..settings import Settings
from ..telemetry import Telemetry
from ..telemetry.logging import LogOutput, get_logger
from . import admin
from .access import AccessLog
from .attempt import Attempt
from .endpoints import (
    ANTHROPIC_ENDPOINTS,
    GEMINI_ENDPOINTS,
    GEMINI_PATHS,
    OPENAI_ENDPOINTS,
    Endpoint,
    dialect_of_path,
)
from .errors import RequestFailed, error_response
from .exchange import Exchange
from .fallback import Executor
from .pipeline import Handler, build_pipeline, read_request, route_stage
from .state import SidecarState
from .targets import TargetStates

WATCHER_KEY = web.AppKey("policy_watcher", PolicyWatcher)
log = get_logger("sidecar.server")


def build_state(
    settings: Settings, policy: Policy, telemetry: Telemetry, env: Mapping[str, str], log_output: LogOutput
) -> SidecarState:
    def on_transition(target: str, before: str, after: str, reason: str) -> None:
        log.warning("breaker_transition", target=target, from_state=before, to_state=after, reason=reason)
        telemetry.breaker_transition(target=target, from_state=before, to_state=after)

    return SidecarState(
        settings=settings,
        holder=PolicyHolder(policy),
        telemetry=telemetry,
        credentials=Credentials(env),
        targets=TargetStates(on_transition=on_transition),
        log_output=log_output,
        access=AccessLog(log_output),
    )


def build_app(state: SidecarState) -> web.Application:
    app = web.Application(client_max_size=state.settings.max_body_bytes, handler_args={"max_field_size": 65536})
    app[SidecarState.KEY] = state
    app.cleanup_ctx.append(partial(_lifecycle, state=state))
    return app


async def _lifecycle(app: web.Application, *, state: SidecarState) -> AsyncIterator[None]:
    client = UpstreamClient(max_connections=state.settings.upstream_connections)
    executor = Executor(Attempt(client, state.credentials), state.targets, state.telemetry)
    pipeline = build_pipeline([read_request, route_stage(state.settings.app_name)], executor)
    access = state.access
    router = app.router
    for endpoint in (*OPENAI_ENDPOINTS, *ANTHROPIC_ENDPOINTS):
        router.add_post(
            endpoint.path, partial(_proxy, endpoint=endpoint, pipeline=pipeline, state=state, access=access)
        )
    gemini = GEMINI_ENDPOINTS["generateContent"]  # read_request narrows it to the method in the path
    for path in GEMINI_PATHS:
        router.add_post(path, partial(_proxy, endpoint=gemini, pipeline=pipeline, state=state, access=access))
    router.add_get("/v1/models", admin.list_models)
    router.add_get("/healthz", admin.healthz)
    router.add_get("/readyz", admin.readyz)
    router.add_get("/status", admin.status)
    router.add_get("/metrics", admin.metrics)
    router.add_route("*", "/{tail:.*}", _not_found)

    def on_reload(ok: bool, policy: Policy | None, errors: list[str]) -> None:
        state.telemetry.policy_reload(ok=ok)
        if ok and policy is not None:
            log.info("policy_reloaded", version=policy.version, source=policy.source, routes=len(policy.routes))
        else:
            log.error("policy_rejected", errors=errors, serving_version=state.holder.policy.version)

    def on_tick() -> None:
        for path in state.credentials.refresh():
            log.info("key_file_reloaded", path=path)

    watcher = PolicyWatcher(
        state.holder.policy.source,
        state.holder,
        interval=state.settings.reload_interval_s,
        on_reload=on_reload,
        on_tick=on_tick,
    )
    app[WATCHER_KEY] = watcher
    task = asyncio.create_task(watcher.run(), name="policy-watcher")
    try:
        yield
    finally:
        access.flush()
        task.cancel()
        await client.close()


async def _not_found(request: web.Request) -> web.Response:
    dialect = dialect_of_path(request.path, dict(request.headers))
    return error_response(
        dialect, RequestFailed(404, f"unknown path {request.method} {request.path}", code="unknown_path")
    )


async def _proxy(
    request: web.Request, *, endpoint: Endpoint, pipeline: Handler, state: SidecarState, access: AccessLog
) -> web.StreamResponse:
    policy = state.holder.policy  # this request keeps this policy to its end
    trace = state.telemetry.start_request(
        method=request.method,
        path=request.path,
        headers=request.headers,
        dialect=endpoint.dialect,
        operation=endpoint.operation,
        requested_model=None,
        stream=False,
        http_route=endpoint.path,
    )
    # A request id is a log key, not a secret: the process's PRNG, not a getrandom() syscall per request.
    exchange = Exchange(request, endpoint, policy, f"{getrandbits(64):016x}", trace)
    response: web.StreamResponse | None = None
    status = 500
    try:
        with trace:  # log lines written during the request carry its trace ids
            response = await pipeline(exchange)
        status = response.status
        if isinstance(response, web.Response) and isinstance(response.body, bytes):
            exchange.bytes_out = len(response.body)
        return response
    except RequestFailed as failure:
        status = failure.status
        if not exchange.attempts:
            trace.rejected(status=failure.status, reason=failure.code)
        failure.headers.setdefault("x-sidecar-request-id", exchange.request_id)
        failure.headers.setdefault("x-sidecar-policy-version", policy.version)
        response = error_response(endpoint.dialect, failure)
        return response
    except asyncio.CancelledError:
        status = 499  # the client went away; the upstream call was cancelled with this task
        raise
    except Exception as exc:
        log.error(
            "internal_error",
            request_id=exchange.request_id,
            error=repr(exc),
            traceback=traceback.format_exc(),
        )
        response = error_response(
            endpoint.dialect,
            RequestFailed(
                500,
                f"internal error in llm-sidecar (request id {exchange.request_id})",
                code="internal_error",
            ),
        )
        return response
    finally:
        access.record(exchange, status, state.telemetry)


def settle_heap() -> int:
    """Put every object alive once start-up is done out of the cyclic garbage collector's reach
    (``gc.freeze``); return how many.

    Imports, the policy and the app are some 60,000 objects that live as long as the process. Left in
    the collector's oldest generation, each full collection walks all of them: under load here one ran
    about every second and took 23-32 ms (a stall every request in flight waits out, and about 3% of
    throughput). Requests' own objects are freed by reference counting and are not affected; frozen
    objects are still freed that way when a reload drops them. Collected first so that nothing frozen
    is already garbage.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


async def serve(state: SidecarState, *, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then drain within the drain timeout."""
    settings = state.settings
    app = build_app(state)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        handler_cancellation=True,
        shutdown_timeout=settings.drain_timeout_s,
    )
    await runner.setup()
    # Before listening: a SIGTERM that comes as soon as the listener is up must drain, not kill.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: app[WATCHER_KEY].reload_now())
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    await site.start()
    health_runner = None
    if settings.health_port is not None:
        health_app = web.Application()
        health_app[SidecarState.KEY] = state
        health_app.router.add_get("/healthz", admin.healthz)
        health_app.router.add_get("/readyz", admin.readyz)
        health_runner = web.AppRunner(health_app, access_log=None, handle_signals=False)
        await health_runner.setup()
        await web.TCPSite(health_runner, settings.health_host, settings.health_port).start()
    frozen = settle_heap()
    state.listening = True
    log.info(
        "listening",
        host=settings.host,
        port=settings.port,
        health_port=settings.health_port,
        policy_version=state.holder.policy.version,
        startup_s=round(time.monotonic() - state.started, 3),
        heap_frozen_objects=frozen,
    )
    if ready is not None:
        ready.set()
    await stop.wait()
    state.draining = True
    log.info("draining", timeout_s=settings.drain_timeout_s)
    started = time.monotonic()
    await runner.cleanup()
    if health_runner is not None:
        await health_runner.cleanup()
    await state.telemetry.shutdown()
    log.info("stopped", drained_s=round(time.monotonic() - started, 3))
