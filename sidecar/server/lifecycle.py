"""The process's life as a server: ``serve`` opens the app (``app.start_app``) and listens (and on the
health port, when set, a second listener with only ``/healthz`` and ``/readyz``: ``health_listener``),
freezes the start-up heap (``settle_heap``), says where it listens (the bound ports: the ``listening`` log
line and the ports file, ``ports_file``), and runs until SIGTERM/SIGINT: it then marks the sidecar not
ready, stops accepting, lets in-flight requests and open streams finish within the drain timeout, closes
the app (each step after the drain within ``app.closing_s``), and returns (exit 0). A listening socket that
stops accepting under the process (``listener``) does the same, and the process exits 1
(``state.listener_stopped``): a port that no longer listens would fail every call. SIGHUP reloads the
policy at once (``app.SidecarApp.watcher``).
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from functools import partial

from .. import ports_file
from ..telemetry.logging import get_logger
from . import admin
from .app import closing_s, start_app
from .handler import not_on_health_port
from .listener import Listener
from .routes import Handler, Routes
from .state import SidecarState

log = get_logger("sidecar.server")


def health_listener(state: SidecarState) -> Listener:
    """The health port's listener: ``/healthz`` and ``/readyz`` (and ``/metrics`` with ``health_metrics``,
    for a Prometheus scrape of the pod), and few connections (it listens on the pod IP, reachable from
    the cluster)."""
    settings = state.settings
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/healthz", admin.healthz),
        ("GET", "/readyz", partial(admin.readyz, state=state)),
    ]
    if settings.health_metrics:
        routes.append(("GET", "/metrics", admin.ThrottledMetrics(state)))
    return Listener(
        Routes(routes, fallback=not_on_health_port, max_body=settings.max_body_bytes),
        max_connections=settings.health_max_connections,
        keepalive_s=settings.keepalive_s,
        receive_timeout_s=settings.receive_timeout_s,
        name="health",
        on_refused=partial(state.telemetry.instruments.connections_refused.inc, ("health",), 1),
        evict_idle=True,  # the kubelet opens one connection per probe: an idle one is someone else's
    )


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
    # Before listening: a SIGTERM that comes as soon as the listener is up must drain, not kill.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    app, server = await start_app(state, settings.host, settings.port, connect_stores=False)
    loop.add_signal_handler(signal.SIGHUP, app.watcher.reload_now)

    def stopped() -> None:  # a listening socket no longer accepts: drain, then exit 1
        state.listener_stopped = True
        stop.set()

    server.on_stopped = stopped
    health: Listener | None = None
    shadow_wait_s = 0.0  # what the drain timeout leaves for shadow calls once the requests are done
    deadline: float | None = None  # the drain timeout's end: the steps after the drain wait within it
    try:
        if settings.health_port is not None:
            health = health_listener(state)
            health.on_stopped = stopped
            await health.start(settings.health_host, settings.health_port)
        frozen = settle_heap()
        state.caches.connect()  # after the blocking start-up work, which a PING's timeout would count
        ports = {"port": server.port, "health_port": None if health is None else health.port}
        state.listening = True
        if settings.ports_file:  # after ``listening``: a reader of the file finds /readyz answering 200
            ports_file.write(settings.ports_file, ports)
        log.info(
            "listening",
            host=settings.host,
            **ports,  # the bound ports: the kernel's choice for port 0
            health_host=None if health is None else settings.health_host,
            policy_version=state.holder.policy.version,
            startup_s=round(time.monotonic() - state.started, 3),
            max_fds=state.max_fds,
            max_connections=settings.max_connections,
            heap_frozen_objects=frozen,
        )
        if ready is not None:
            ready.set()
        await stop.wait()
        state.draining = True
        log.info("draining", timeout_s=settings.drain_timeout_s)
        started = time.monotonic()
        await server.shutdown(settings.drain_timeout_s)
        if health is not None:
            await health.shutdown(0)
        shadow_wait_s = max(0.0, settings.drain_timeout_s - (time.monotonic() - started))
        deadline = started + settings.drain_timeout_s
    finally:
        await app.close(shadow_wait_s, deadline)
    await state.telemetry.shutdown(closing_s(deadline))
    log.info("stopped", drained_s=round(time.monotonic() - started, 3))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(sig)  # asyncio closes its signal pipe before it would remove them
