"""The compiled policy: immutable objects the request path reads, built once per load.

``compile_policy(spec, ...)`` resolves every name (route target -> model -> provider), merges the
route's settings over the defaults, compiles match conditions, and checks what pydantic cannot see
alone (references, duplicates, chains). Every problem is collected with its path
(``routes[2].target: unknown model 'gpt-5x'``) and raised together as one ``PolicyError``.

Routing order, as ``Policy.route`` applies it:

1. ``routes`` in file order; the first whose conditions all hold wins;
2. else, when the requested model is a name in ``models``, that model (route ``model:<name>``);
3. else ``default``; else no route (the caller gets 404 in its dialect).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from ..cache.plan import RouteCache, route_cache
from ..cache.spec import CacheStoreSpec, RouteCacheSpec
from ..dialects import Dialect, ProviderKind, registry
from ..dialects.base import ProviderAPI
from ..ensemble.compiled import compile_ensemble
from ..ensemble.normalize import compile_normalizer
from ..ensemble.plan import EnsemblePlan
from ..gates.checks import Gates, compile_gates
from ..gates.spec import GatesSpec
from ..gates.validators import SchemaValidators
from ..request_facts import CREDENTIAL_HEADERS, RequestFacts
from ..routing.caps import TokenCaps
from ..shadow.plan import Shadow, ShadowJudge
from .base import Spec as _Spec
from .conditions import Condition, HeaderIs, ModelIs, build_conditions
from .files import DependentFile
from .plans import ChainPlan, Plan
from .spec import (
    ApiKeySpec,
    BackoffSpec,
    BreakerSpec,
    BulkheadSpec,
    Capability,
    DefaultsSpec,
    DenySpec,
    LastResortSpec,
    PolicySpec,
    PriceSpec,
    ResilienceSpec,
    RetryBudgetSpec,
    RouteSpec,
    TimeoutsSpec,
    TLSSpec,
)

if TYPE_CHECKING:
    from ..budgets import Budgets
    from ..routing.matrix import Router
    from ..routing.spec import QualitySpec, RoutingSpec

BUILTIN_RESILIENCE = ResilienceSpec(
    max_attempts_per_target=2,
    backoff=BackoffSpec(),
    deadline_s=120.0,
    rate_limit_max_wait_s=5.0,
    fallback_on=frozenset({500, 502, 503, 504, 529}),
    last_resort=LastResortSpec(),
)


class PolicyError(Exception):
    """A policy that cannot be used; ``errors`` lists every problem with its path."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    kind: ProviderKind
    base_url: str
    api_key: ApiKeySpec | None
    headers: tuple[tuple[str, str], ...]
    timeouts: TimeoutsSpec
    api_version: str | None
    speaks: Dialect | None
    proxy: str | None = None  # "none", an http:// URL, or None: from the environment (upstream.proxy)
    tls: TLSSpec | None = None
    host: str = field(default="", compare=False)  # server.address / server.port for spans
    port: int = field(default=0, compare=False)
    otel_name: str = field(default="", compare=False)  # gen_ai.provider.name
    api: ProviderAPI = field(init=False, compare=False, repr=False)
    """What its kind means: the dialect it speaks, its URLs, its key header (``dialects.registry``)."""

    def __post_init__(self) -> None:
        parsed = urlsplit(self.base_url)
        api = registry.provider_api(self.kind)
        object.__setattr__(self, "api", api)
        object.__setattr__(self, "host", parsed.hostname or "")
        object.__setattr__(self, "port", parsed.port or (443 if parsed.scheme == "https" else 80))
        object.__setattr__(self, "otel_name", api.otel_name or str(self.speaks or "fake"))

    def wire_dialect(self, caller: Dialect) -> Dialect:
        """The dialect spoken to this provider for a caller of ``caller``'s dialect."""
        return self.api.wire(caller, self.speaks)


@dataclass(frozen=True, slots=True)
class Target:
    """A logical model: where it runs and what it is."""

    name: str
    provider: Provider
    upstream_model: str
    context_window: int | None
    max_output_tokens: int | None
    capabilities: frozenset[Capability]
    price: PriceSpec | None
    quality: QualitySpec | None = None  # routing: the model's tier, per task class where it differs
    key: str = field(default="", compare=False)  # "provider/upstream-model": breakers and metrics key

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.provider.name}/{self.upstream_model}")


@dataclass(frozen=True, slots=True)
class RouteSettings:
    resilience: ResilienceSpec  # every field set (defaults merged in)
    unsupported_params: Literal["error", "drop"]
    cache: RouteCache | None = None  # the response cache's plan; None: the route does not cache


@dataclass(frozen=True, slots=True)
class RouteGates:
    """A route's ``gates:`` block: the compiled checks and the escalation settings."""

    gates: Gates
    spec: GatesSpec


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    path: str  # where it stands in the file: "routes[2]", "default", "models.gpt-4o"
    conditions: tuple[Condition, ...]
    plan: Plan  # how a request walks its targets (policy.plans), chosen at load
    deny: DenySpec | None
    settings: RouteSettings
    caps: TokenCaps | None = None  # routing: output tokens clamped, oversized prompts refused (413)

    target_keys: tuple[str, ...] = field(default=(), compare=False)
    gates: RouteGates | None = None  # the route's quality gates (gates:), checked on every answer
    shadow: Shadow | None = None  # the route's shadow evaluation (shadow:)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_keys", tuple(t.key for t in self.chain))

    @property
    def chain(self) -> tuple[Target, ...]:
        """Every target the route may call, in order (its plan's ``targets``)."""
        return self.plan.targets

    def matches(self, request: RequestFacts) -> bool:
        for condition in self.conditions:  # noqa: SIM110 - a plain loop: no generator per request
            if not condition.matches(request):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's answer for ``explain``: matched, or why not."""

    route: Route
    matched: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    version: str
    source: str
    loaded_at: float
    providers: Mapping[str, Provider]
    models: Mapping[str, Target]
    routes: tuple[Route, ...]
    model_routes: Mapping[str, Route]
    default: Route | None
    defaults: DefaultsSpec
    exposed_models: tuple[str, ...]
    logged_headers: tuple[str, ...] = ()  # request headers routes match on (credentials left out): logged
    warnings: tuple[str, ...] = ()  # what still loads but should change (deprecated names), with its path
    budgets: Budgets | None = None  # the compiled ``budgets`` block (sidecar.budgets), None without one
    router: Router | None = None  # routing: task classes, complexity, tiers (``routing.matrix``)
    routing: RoutingSpec | None = None  # the routing block as written (``llm-sidecar diff``)
    cache: CacheStoreSpec | None = None  # the response cache's store; None: no route caches
    files: tuple[DependentFile, ...] = ()  # files compiling read (a learned router): watched, in the version

    def route(self, request: RequestFacts) -> Route | None:
        for route in self.routes:
            if route.matches(request):
                return route
        by_model = self.model_routes.get(request.model)
        return by_model if by_model is not None else self.default

    def explain(self, request: RequestFacts) -> tuple[list[Verdict], Route | None]:
        """Every rule's verdict in order, and the route ``route`` picks."""
        verdicts: list[Verdict] = []
        for route in self.routes:
            reasons = tuple(c.why_not(request) for c in route.conditions if not c.matches(request))
            verdicts.append(Verdict(route, not reasons, reasons))
        return verdicts, self.route(request)

    @property
    def breaker(self) -> BreakerSpec:
        return self.defaults.breaker

    @property
    def retry_budget(self) -> RetryBudgetSpec:
        return self.defaults.retry_budget

    @property
    def bulkhead(self) -> BulkheadSpec:
        return self.defaults.bulkhead


def merge(base: _Spec, override: _Spec | None) -> _Spec:
    """``override``'s explicitly set fields over ``base``; nested blocks merge field by field."""
    if override is None:
        return base
    update = {}
    for name in override.model_fields_set:
        value = getattr(override, name)
        current = getattr(base, name)
        if isinstance(value, _Spec) and isinstance(current, _Spec) and type(value) is type(current):
            value = merge(current, value)
        update[name] = value
    return base.model_copy(update=update)


def compile_policy(spec: PolicySpec, *, version: str, source: str, loaded_at: float) -> Policy:
    from ..routing import compile as routing_compile  # here: routing.matrix imports policy.base

    errors: list[str] = []
    providers = {
        name: Provider(
            name=name,
            kind=p.kind,
            base_url=p.base_url,
            api_key=p.api_key,
            headers=tuple((k.lower(), v) for k, v in p.headers.items()),
            timeouts=p.timeouts,
            api_version=p.api_version,
            speaks=Dialect(p.speaks) if p.speaks else None,
            proxy=p.proxy,
            tls=p.tls,
        )
        for name, p in spec.providers.items()
    }
    models: dict[str, Target] = {}
    for name, m in spec.models.items():
        provider = providers.get(m.provider)
        if provider is None:
            errors.append(f"models.{name}.provider: unknown provider {m.provider!r}")
            continue
        models[name] = Target(
            name, provider, m.model, m.context_window, m.max_output_tokens, m.capabilities, m.price, m.quality
        )

    base = merge(BUILTIN_RESILIENCE, spec.defaults.resilience)
    assert isinstance(base, ResilienceSpec)
    router = routing_compile.compile_router(spec.routing, Path(source).parent, errors)
    tiers = routing_compile.tiers_of(router, spec.routing)
    scored = routing_compile.candidates(spec.models, models, tiers, router, errors)

    validators = SchemaValidators()  # request schemas, compiled once per policy and cached by content

    def resolve(value: str | list[str] | None, where: str) -> tuple[Target, ...]:
        chain: list[Target] = []
        names = [value] if isinstance(value, str) else list(value or [])
        for i, model_name in enumerate(names):
            at = where if isinstance(value, str) else f"{where}[{i}]"
            target = models.get(model_name)
            if target is None:
                if model_name not in spec.models:
                    errors.append(f"{at}: unknown model {model_name!r}")
            elif target in chain:
                errors.append(f"{at}: model {model_name!r} appears twice in the chain")
            else:
                chain.append(target)
        return tuple(chain)

    def build(route: RouteSpec, path: str, name: str) -> Route:
        routing_compile.check_match(route.match, path, router, spec.routing is not None, errors)
        plan: Plan | None = None
        if isinstance(route.target, routing_compile.SelectSpec):
            where = f"{path}.target"
            plan = routing_compile.select_plan(route.target, where, models, scored, router, tiers, errors)
            plan = plan or ChainPlan(())
        elif route.split is not None:
            plan = routing_compile.split_plan(route.split, f"{path}.split", name, models, errors) or ChainPlan(())
        elif route.ensemble is not None:
            block = route.ensemble
            chains = tuple(
                resolve(m.target, f"{path}.ensemble.members[{i}].target") for i, m in enumerate(block.members)
            )
            judge = resolve(block.judge.target, f"{path}.ensemble.judge.target") if block.judge else ()
            plan = EnsemblePlan(compile_ensemble(block), chains, judge, spec=block)
        else:
            plan = ChainPlan(resolve(route.target, f"{path}.target"))
        gates = RouteGates(compile_gates(route.gates, validators), route.gates) if route.gates else None
        shadow = None
        if route.shadow is not None:
            block_s = route.shadow
            candidates = tuple(
                t for i, n in enumerate(block_s.candidates) for t in resolve(n, f"{path}.shadow.candidates[{i}]")
            )
            shadow_judge = None
            if block_s.judge is not None:
                judge_chain = resolve(block_s.judge.target, f"{path}.shadow.judge.target")
                shadow_judge = ShadowJudge(judge_chain, block_s.judge.prompt, block_s.judge.max_tokens)
            normalizer = compile_normalizer(block_s.normalizer)
            shadow = Shadow(candidates, block_s.sample, normalizer, shadow_judge, block_s.max_concurrent, block_s)
        resilience = merge(base, route.resilience)
        assert isinstance(resilience, ResilienceSpec)
        unsupported = route.unsupported_params or spec.defaults.unsupported_params
        cache = None
        if route.deny is None:
            cache_spec = merge(spec.defaults.cache, route.cache)
            assert isinstance(cache_spec, RouteCacheSpec)
            cache = route_cache(name, plan.targets, unsupported, cache_spec)
        settings = RouteSettings(resilience, unsupported, cache)
        conditions = build_conditions(route.match, router)
        caps = TokenCaps.from_spec(route.caps) if route.caps is not None else None
        return Route(name, path, conditions, plan, route.deny, settings, caps, gates=gates, shadow=shadow)

    routes: list[Route] = []
    seen: dict[str, str] = {}
    for i, route_spec in enumerate(spec.routes):
        path = f"routes[{i}]"
        name = route_spec.name or f"route-{i}"
        if name in seen:
            errors.append(f"{path}.name: {name!r} already names {seen[name]}")
        seen[name] = path
        routes.append(build(route_spec, path, name))
    default = None
    if spec.default is not None:
        if spec.default.match.model_fields_set:
            errors.append("default.match: the default route matches everything; remove match")
        default = build(spec.default, "default", spec.default.name or "default")
    unsupported = spec.defaults.unsupported_params

    def model_route(name: str, target: Target) -> Route:
        cache = route_cache(f"model:{name}", (target,), unsupported, spec.defaults.cache)
        settings = RouteSettings(base, unsupported, cache)
        return Route(f"model:{name}", f"models.{name}", (), ChainPlan((target,)), None, settings)

    model_routes = {name: model_route(name, target) for name, target in models.items()}
    budgets = _compile_budgets(spec, [*routes, *((default,) if default else ()), *model_routes.values()], errors)
    if errors:
        raise PolicyError(errors)
    exposed = set(models)
    matched_headers: set[str] = set()
    for route in routes:
        for condition in route.conditions:
            if isinstance(condition, ModelIs):
                exposed.update(condition.pattern.exact)
            elif isinstance(condition, HeaderIs) and condition.name not in CREDENTIAL_HEADERS:
                matched_headers.add(condition.name)
    return Policy(
        version=version,
        source=source,
        loaded_at=loaded_at,
        providers=MappingProxyType(providers),
        models=MappingProxyType(models),
        routes=tuple(routes),
        model_routes=MappingProxyType(model_routes),
        default=default,
        defaults=spec.defaults,
        exposed_models=tuple(sorted(exposed)),
        logged_headers=tuple(sorted(matched_headers)),
        warnings=budgets.warnings if budgets is not None else (),
        budgets=budgets,
        router=router,
        routing=spec.routing,
        cache=_cache_store(spec, (*routes, *model_routes.values(), *([default] if default else []))),
        files=router.files if router is not None else (),
    )


def _cache_store(spec: PolicySpec, routes: tuple[Route, ...]) -> CacheStoreSpec | None:
    """The store the caching routes use: the ``cache:`` block, or the default memory store; None when no
    route caches (then no store is built, and aiocache is not even imported)."""
    if not any(route.settings.cache is not None for route in routes):
        return None
    return spec.cache if spec.cache is not None else CacheStoreSpec()


def _compile_budgets(spec: PolicySpec, routes: list[Route], errors: list[str]) -> Budgets | None:
    """The ``budgets`` block compiled against the models, providers and route names (its errors to ``errors``)."""
    if spec.budgets is None:
        return None
    from ..budgets.compiled import compile_budgets  # here: the budgets package imports this module

    try:
        return compile_budgets(
            spec.budgets, models=spec.models, providers=spec.providers, routes=[route.name for route in routes]
        )
    except PolicyError as exc:
        errors.extend(exc.errors)
        return None
