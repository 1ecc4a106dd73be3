"""Wiring: build the app and open it.

``SidecarApp`` puts the endpoint table (each endpoint's handler ``handler.proxy``) and the admin routes
in the listener's ``Routes`` (anything unrouted is offered to ``passthrough.Passthrough``, which forwards
what the policy's ``passthrough`` lists, else gets ``refusals.Refusals.not_found``: a 404 in the dialect
the path suggests, recorded as the table's 405s and 413s are; a Gemini method it does not serve gets
``Refusals.unserved``, before its body is read), folds the pipeline once per compiled policy
(``assembly``: only the feature stages the policy uses), and holds the upstream client
(``upstream.UpstreamClient``: opened and closed with the app) and the policy watcher, whose reloads it
applies (``_on_reload``; the reload tick also re-reads rotated key files and TLS files). ``build_state``
makes the state it serves; ``start_app`` opens it and its HTTP listener (``listener``); ``closing_s``
bounds each step of the shutdown after the drain. Serving the process until SIGTERM, the health port and
the drain are ``lifecycle``'s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..budgets.keeper import LedgerKeeper
from ..credentials import Credentials
from ..dialects.registry import ENDPOINTS
from ..held_bytes import ceiling_for
from ..policy.compiled import Policy
from ..policy.watch import PolicyHolder, PolicyWatcher
from ..settings import Settings
from ..telemetry import Telemetry
from ..telemetry.logging import LogOutput, get_logger
from ..upstream import EnvProxies, UpstreamClient
from . import admin
from .access import AccessLog
from .assembly import Deferred, FeatureStage, Pipelines, always, feature_stage, routes_alone
from .attempt import Attempt
from .fallback import Executor
from .forward import Passthrough
from .handler import proxy_handler
from .listener import Listener
from .pipeline import Stage, read_stage, route_request
from .refusals import Refusals
from .response_caches import ResponseCaches
from .routes import Handler, Routes
from .state import SidecarState
from .targets import TargetStates

if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver

    from .shadowing import ChildWalk, ShadowRunner

log = get_logger("sidecar.server")

_SERVES = MappingProxyType(
    {"/v1/models/{model+}": admin.names_a_model, "/v1beta/models/{model+}": admin.names_a_model}
    | {"/v1/models/{tail}": admin.names_a_method, "/v1beta/models/{tail}": admin.names_a_method}  # Gemini's POSTs
)
"""Which paths the templates that overlap serve, for a 405's ``Allow`` (``Routes``)."""

CLOSE_MIN_S = 0.5
CLOSE_MAX_S = 5.0
"""Bounds of each wait of the shutdown after the drain (``closing_s``)."""


def build_state(
    settings: Settings, policy: Policy, telemetry: Telemetry, env: Mapping[str, str], log_output: LogOutput
) -> SidecarState:
    def on_transition(target: str, before: str, after: str, reason: str) -> None:
        log.warning("breaker_transition", target=target, from_state=before, to_state=after, reason=reason)
        telemetry.breaker_transition(target=target, from_state=before, to_state=after)

    telemetry.policy_loaded(policy.loaded_at)
    log_output.count_drops_with(telemetry.instruments.log_lines_dropped.inc)
    targets = TargetStates(on_transition=on_transition, on_new_breaker=telemetry.breaker_started)
    targets.serve(policy)
    return SidecarState(
        settings=settings,
        holder=PolicyHolder(policy),
        telemetry=telemetry,
        credentials=Credentials(env),
        targets=targets,
        log_output=log_output,
        access=AccessLog(log_output),
        proxies=EnvProxies(env),
        budgets=LedgerKeeper(policy.budgets, env),
        held=ceiling_for(settings.max_held_bytes),  # the container's memory limit read here, once
        caches=ResponseCaches(env),
    )


class SidecarApp:
    """The sidecar's request handling: the endpoint table, the pipeline, and what they hold open
    (the upstream client, the policy watcher), all built here once. ``open`` starts the watcher;
    ``close`` stops it and closes the client; ``listener`` makes the HTTP listener that serves it."""

    def __init__(
        self,
        state: SidecarState,
        stages: Sequence[Stage] = (),
        resolver_class: Callable[[], AbstractResolver] | None = None,
    ) -> None:
        """``stages``: more stages, run after routing and before the terminal one (a feature's);
        ``resolver_class``: what looks up the providers' names (``UpstreamClient``)."""
        self.state = state
        settings = state.settings
        self.client = UpstreamClient(settings, state.proxies, resolver_class, state.held)
        executor = Executor(Attempt(self.client, state.credentials), state.targets, state.telemetry)
        self.shadow: ShadowRunner | None = None  # built with the shadow stage
        # Outermost first; each folded in only for a policy that uses it (``assembly``), and the deferred
        # ones built (their modules imported) only then: a policy without the feature does not load it.
        features = [
            FeatureStage("route", route_request, routes_alone),  # the route alone: no routing by task and cost
            feature_stage("routing", Deferred(_routing_stage)),  # the route and routing's decisions, in one stage
            # before budgets: a hit spends nothing
            feature_stage("cache", Deferred(partial(_cache_stage, state))),
            feature_stage("budgets", Deferred(partial(_budget_stage, state))),
            *(FeatureStage(f"stage-{i}", stage, always) for i, stage in enumerate(stages)),
            feature_stage("shadow", Deferred(partial(self._shadow_stage, executor.walk))),
            feature_stage("gates", Deferred(partial(_gate_stage, state))),
        ]
        self.pipelines = Pipelines([read_stage(settings.max_body_bytes, state.held)], features, executor)
        self.pipelines.for_policy(state.holder.policy)
        access = state.access
        refusals = Refusals(state)  # the table's own 404s, 405s and 413s, each with its line and metrics
        routes: list[tuple[str, str, Handler]] = [
            ("POST", endpoint.path, proxy_handler(endpoint, self.pipelines, state, access)) for endpoint in ENDPOINTS
        ]
        routes += [
            ("GET", "/v1/models", partial(admin.list_models, state=state)),
            ("GET", "/v1beta/models", partial(admin.list_models, state=state)),
            ("GET", "/v1/models/{model+}", partial(admin.get_model, state=state, refuse=refusals)),
            ("GET", "/v1beta/models/{model+}", partial(admin.get_model, state=state, refuse=refusals)),
            ("GET", "/healthz", admin.healthz),
            ("GET", "/readyz", partial(admin.readyz, state=state)),
            ("GET", "/status", partial(admin.status, state=state)),
            ("GET", "/metrics", partial(admin.metrics, state=state)),
        ]
        self.routes = Routes(
            routes,
            fallback=refusals.not_found,
            refuse=refusals,  # the health port's are not recorded (``lifecycle.health_listener``)
            max_body=settings.max_body_bytes,
            serves=_SERVES,
            passthrough=Passthrough(self.client, state),
            unserved=dict.fromkeys(_SERVES.keys() & {e.path for e in ENDPOINTS}, refusals.unserved),
        )
        self.watcher = PolicyWatcher(
            state.holder.policy.source,
            state.holder,
            interval=state.settings.reload_interval_s,
            on_reload=self._on_reload,
            on_restore=self._on_restore,
            on_tick=self._on_tick,
        )
        self._watching: asyncio.Task[None] | None = None

    def open(self) -> None:
        self.client.open()
        self.state.caches.update(self.state.holder.policy.cache)
        for name in self.state.proxies.ignored:
            log.warning("proxy_ignored", variable=name, reason="only http:// proxies are supported")
        self._watching = asyncio.create_task(self.watcher.run(), name="policy-watcher")
        self.state.budgets.start(self.state.telemetry.instruments)

    async def close(self, shadow_wait_s: float = 0.0, deadline: float | None = None) -> None:
        """Close what the app holds; shadow calls still running may take ``shadow_wait_s`` to end (what
        the drain timeout left), then are cancelled (``ShadowRunner.close``); settlements for a budget
        store that does not answer are retried until ``closing_s(deadline)``."""
        self.state.access.flush()
        if self.shadow is not None:
            await self.shadow.close(shadow_wait_s)
        if self._watching is not None:
            self._watching.cancel()
        await self.state.budgets.close(closing_s(deadline))  # settlements in flight go out first
        await self.client.close()
        await self.state.caches.close()

    def _shadow_stage(self, walk: ChildWalk) -> Stage:
        from .shadowing import ShadowRunner

        state = self.state
        self.shadow = ShadowRunner(
            walk, state.telemetry, state.shadow, state.settings.upstream_max_body_bytes, state.held
        )
        return self.shadow.stage

    def listener(self) -> Listener:
        """The HTTP listener for the app's port (its limits from the settings)."""
        settings = self.state.settings
        return Listener(
            self.routes,
            max_connections=settings.max_connections,
            keepalive_s=settings.keepalive_s,
            receive_timeout_s=settings.receive_timeout_s,
            on_refused=partial(self.state.telemetry.instruments.connections_refused.inc, ("app",), 1),
        )

    def _on_reload(self, ok: bool, policy: Policy | None, errors: list[str]) -> None:
        state = self.state
        state.telemetry.policy_reload(ok=ok, loaded_at=None if policy is None else policy.loaded_at)
        if ok and policy is not None:
            state.budgets.sync(policy.budgets)
            for target in state.targets.serve(policy):  # its settings, for requests on older policies too
                state.telemetry.breaker_removed(target)
            state.telemetry.bulkheads(state.targets.bulkheads())  # new limits; a removed target's series go
            self.pipelines.for_policy(policy)  # a feature it newly uses is loaded now, not in a request
            log.info("policy_reloaded", version=policy.version, source=policy.source, routes=len(policy.routes))
            keys = {name: provider.api_key for name, provider in policy.providers.items()}
            for warning in (*policy.warnings, *state.credentials.unset_variables(keys)):
                log.warning("policy_warning", source=policy.source, warning=warning)
            replaced = state.caches.update(policy.cache)  # the same store block: the same store, kept
            if replaced is not None:
                retired = replaced.snapshot()
                state.telemetry.cache.store_retired(retired)  # its counts since the last tick
                state.caches.retire(replaced, partial(state.telemetry.cache.store_closed, retired))  # and later
        else:
            log.error("policy_rejected", errors=errors, serving_version=state.holder.policy.version)

    def _on_restore(self, policy: Policy) -> None:
        """The rejected file was rolled back to the policy that serves: no reload, no longer stale."""
        self.state.telemetry.policy_loaded(policy.loaded_at)
        log.info("policy_restored", version=policy.version, source=policy.source)

    def _on_tick(self) -> None:
        self.state.caches.retry()  # a store whose password was unavailable: opened once it can be read
        self.state.caches.report(self.state.telemetry)  # the cache's counts reach an OTLP push without a scrape too
        self.state.telemetry.bulkheads(self.state.targets.bulkheads())  # for a push without a scrape
        self.state.held.report(self.state.telemetry.instruments)
        reloaded, refused = self.state.credentials.refresh()
        for path in reloaded:
            log.info("key_file_reloaded", path=path)
        for reason in refused:
            log.warning("key_file_refused", reason=reason)
        for path in self.client.refresh():
            log.info("tls_file_reloaded", path=path)


def _routing_stage() -> Stage:
    from ..routing.stage import routing_stage

    return routing_stage


def _cache_stage(state: SidecarState) -> Stage:
    from .cache_stage import cache_stage

    return cache_stage(state.caches, state.settings.app_name)


def _budget_stage(state: SidecarState) -> Stage:
    from .budget import BudgetStage

    return BudgetStage(state.budgets)


def _gate_stage(state: SidecarState) -> Stage:
    from .gating import gate_stage

    return gate_stage(state.telemetry, state.held)


async def start_app(
    state: SidecarState,
    host: str,
    port: int,
    stages: Sequence[Stage] = (),
    *,
    connect_stores: bool = True,
    resolver_class: Callable[[], AbstractResolver] | None = None,
) -> tuple[SidecarApp, Listener]:
    """Open the app and listen on ``host:port`` (0: any free port, see ``Listener.port``), then connect
    the cache's Redis store (``ResponseCaches.connect``); ``serve`` does that itself, once the heap is
    settled (``connect_stores=False``)."""
    app = SidecarApp(state, stages, resolver_class)
    app.open()
    server = app.listener()
    try:
        await server.start(host, port)
    except BaseException:
        await app.close()
        raise
    if connect_stores:
        state.caches.connect()
    return app, server


def closing_s(deadline: float | None) -> float:
    """How long one step of the shutdown after the drain (the budget store's last settlements, the
    exporters' last flush) may wait: what is left until ``deadline`` (the drain timeout's end), within
    ``CLOSE_MIN_S`` and ``CLOSE_MAX_S``; ``CLOSE_MAX_S`` without a deadline. So the process exits
    within about a second of the drain timeout even when Redis and the collector do not answer."""
    left = CLOSE_MAX_S if deadline is None else deadline - time.monotonic()
    return min(CLOSE_MAX_S, max(CLOSE_MIN_S, left))
