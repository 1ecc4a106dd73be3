"""Compiling a validated ``PolicySpec`` into the immutable ``compiled.Policy`` (once per load).

``compile_policy(spec, ...)`` resolves every name (route target -> model -> provider), merges the
route's settings over the defaults (``merge``), compiles match conditions and each route's plan (a
chain, a cheapest selection or a split through ``routing.compile``, an ensemble), its gates, shadow,
cache and caps, compiles the ``budgets`` and ``passthrough`` blocks against the names, and checks what
pydantic cannot see alone (references, duplicates, chains). Every problem is collected with its path
(``routes[2].target: unknown model 'gpt-5x'``) and raised together as one ``PolicyError``.

``compile_policy`` reads as those steps: providers, models, the routes (``_RouteBuilder``: a route's plan,
gates, shadow and settings; the router compiled once for all of them), the model routes, the budgets,
the passthrough, then what the policy exposes.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..cache.plan import route_cache
from ..cache.spec import CacheStoreSpec, RouteCacheSpec
from ..dialects import Dialect
from ..request_facts import CREDENTIAL_HEADERS
from ..routing.caps import TokenCaps
from ..routing.shadowed import always_true_rules, shadowed_rules
from ..routing.tier_order import misordered_levels
from .access_log import access_log_warnings, compile_access_sampling
from .base import Spec as _Spec
from .compiled import Policy, PolicyError, Provider, Route, RouteGates, RouteSettings, Target
from .conditions import HeaderIs, ModelIs, build_conditions
from .hazards import hazard_warnings
from .plans import ChainPlan, Plan
from .resilience_spec import BackoffSpec, LastResortSpec, ResilienceSpec
from .spec import PolicySpec, RouteSpec
from .unreachable import unreachable_routes

if TYPE_CHECKING:
    from ..budgets import Budgets
    from ..gates.validators import SchemaValidators
    from ..passthrough.table import PassthroughTable
    from ..shadow.plan import Shadow


BUILTIN_RESILIENCE = ResilienceSpec(
    max_attempts_per_target=2,
    backoff=BackoffSpec(),
    deadline_s=120.0,
    rate_limit_max_wait_s=5.0,
    fallback_on=frozenset({500, 502, 503, 504, 529}),
    last_resort=LastResortSpec(),
)


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
    errors: list[str] = []
    providers = _providers(spec)
    models = _models(spec, providers, errors)
    builder = _RouteBuilder(spec, models, Path(source).parent, errors)
    routes = builder.routes()
    default = builder.default_route()
    model_routes = {name: builder.model_route(name, target) for name, target in models.items()}
    budgets = _compile_budgets(spec, [*routes, *((default,) if default else ()), *model_routes.values()], errors)
    passthrough = _compile_passthrough(spec, providers, errors)
    if errors:
        raise PolicyError(errors, files=files_named(spec, Path(source).parent))
    exposed, matched_headers = _exposed(models, routes)
    router = builder.router
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
        exposed_models=exposed,
        logged_headers=matched_headers,
        warnings=(
            *unreachable_routes(spec.routes, spec.default),
            *builder.warnings,
            *hazard_warnings(spec),
            *shadowed_rules(spec.routing),
            *always_true_rules(spec.routing),
            *misordered_levels(spec.routing),
            *(budgets.warnings if budgets is not None else ()),
            *access_log_warnings(spec.access_log, _route_log_samples(spec)),
        ),
        budgets=budgets,
        router=router,
        routing=spec.routing,
        cache=_cache_store(spec, (*routes, *model_routes.values(), *([default] if default else []))),
        files=router.files if router is not None else (),
        access_sampling=compile_access_sampling(spec.access_log, _route_log_rates(spec, routes, default)),
        passthrough=passthrough,
    )


def _compile_passthrough(
    spec: PolicySpec, providers: dict[str, Provider], errors: list[str]
) -> PassthroughTable | None:
    """The ``passthrough`` block compiled (``passthrough.table``), its module loaded only when there is one."""
    if not spec.passthrough:
        return None
    from ..passthrough.table import compile_passthrough

    return compile_passthrough(spec.passthrough, providers, errors)


def _route_log_rates(spec: PolicySpec, routes: list[Route], default: Route | None) -> dict[str, float]:
    """The routes' own ``access_log.sample``, by route name."""
    specs = [*zip(spec.routes, routes, strict=True), *([(spec.default, default)] if spec.default and default else [])]
    return {route.name: route_spec.access_log.sample for route_spec, route in specs if route_spec.access_log}


def _route_log_samples(spec: PolicySpec) -> dict[str, float]:
    """The routes' own ``access_log.sample``, by the route's path in the file (``routes[2]``, ``default``)."""
    samples = {f"routes[{i}]": route.access_log.sample for i, route in enumerate(spec.routes) if route.access_log}
    if spec.default is not None and spec.default.access_log is not None:
        samples["default"] = spec.default.access_log.sample
    return samples


def files_named(spec: PolicySpec, base_dir: Path) -> tuple[str, ...]:
    """The paths of the files the policy reads when it is compiled (its learned router), as compiling
    names them (``Policy.files``), whether they can be read or not."""
    learned = spec.routing.learned if spec.routing is not None else None
    return () if learned is None else (str(base_dir / learned.file),)


def _providers(spec: PolicySpec) -> dict[str, Provider]:
    return {
        name: Provider(
            name=name,
            kind=p.kind,
            base_url=p.base_url,
            api_key=p.api_key,
            headers=tuple((k.lower(), v) for k, v in p.headers.items()),
            timeouts=p.timeouts,
            api_version=p.api_version,
            speaks=p.speaks,
            proxy=p.proxy,
            tls=p.tls,
        )
        for name, p in spec.providers.items()
    }


def _models(spec: PolicySpec, providers: dict[str, Provider], errors: list[str]) -> dict[str, Target]:
    models: dict[str, Target] = {}
    for name, m in spec.models.items():
        provider = providers.get(m.provider)
        if provider is None:
            errors.append(f"models.{name}.provider: unknown provider {m.provider!r}")
            continue
        problem = (
            m.price.search_unit_problem(provider.wire_dialect(Dialect.OPENAI) is Dialect.GEMINI) if m.price else None
        )
        if problem is not None:
            errors.append(f"models.{name}.price.{problem}")
        models[name] = Target(
            name, provider, m.model, m.context_window, m.max_output_tokens, m.capabilities, m.price, m.quality
        )
    return models


def _exposed(models: dict[str, Target], routes: list[Route]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The model names an app may ask for (the models and the exact names routes match), and the headers
    routes match on (credential headers left out): both sorted."""
    exposed = set(models)
    matched_headers: set[str] = set()
    for route in routes:
        for condition in route.conditions:
            if isinstance(condition, ModelIs):
                exposed.update(condition.pattern.exact)
            elif isinstance(condition, HeaderIs) and condition.name not in CREDENTIAL_HEADERS:
                matched_headers.add(condition.name)
    return tuple(sorted(exposed)), tuple(sorted(matched_headers))


class _RouteBuilder:
    """Compiles the routes of one policy: names resolved against ``models``, the route's settings merged
    over the defaults, its plan, gates, shadow, cache and caps; every problem goes to ``errors`` with its
    path. The router (``routing.compile``) and its scored candidates are compiled once, here."""

    def __init__(self, spec: PolicySpec, models: dict[str, Target], base_dir: Path, errors: list[str]) -> None:
        from ..routing import compile as routing_compile  # here: routing.matrix imports policy.base

        self.spec = spec
        self.models = models
        self.errors = errors
        base = merge(BUILTIN_RESILIENCE, spec.defaults.resilience)
        assert isinstance(base, ResilienceSpec)
        self.base = base
        self.router = routing_compile.compile_router(spec.routing, base_dir, errors)
        self.tiers = routing_compile.tiers_of(self.router, spec.routing)
        self.scored = routing_compile.candidates(spec.models, models, self.tiers, self.router, errors)
        self._validators: SchemaValidators | None = None  # request schemas, compiled once per policy
        self.warnings: list[str] = []  # what loads but will refuse or misroute requests, with its path

    def routes(self) -> list[Route]:
        """``routes``, in order (a name used twice is an error)."""
        routes: list[Route] = []
        seen: dict[str, str] = {}
        for i, route_spec in enumerate(self.spec.routes):
            path = f"routes[{i}]"
            name = route_spec.name or f"route-{i}"
            if name in seen:
                self.errors.append(f"{path}.name: {name!r} already names {seen[name]}")
            seen[name] = path
            routes.append(self.build(route_spec, path, name))
        return routes

    def default_route(self) -> Route | None:
        default = self.spec.default
        if default is None:
            return None
        if default.match.model_fields_set:
            self.errors.append("default.match: the default route matches everything; remove match")
        return self.build(default, "default", default.name or "default")

    def model_route(self, name: str, target: Target) -> Route:
        """The route of a request that names a model directly (``model:<name>``): that model alone."""
        unsupported = self.spec.defaults.unsupported_params
        cache = route_cache(f"model:{name}", (target,), unsupported, self.spec.defaults.cache)
        settings = RouteSettings(self.base, unsupported, cache, self.spec.defaults.streams.validate_events)
        return Route(f"model:{name}", f"models.{name}", (), ChainPlan((target,)), None, settings)

    def build(self, route: RouteSpec, path: str, name: str) -> Route:
        from ..routing import compile as routing_compile

        routing_compile.check_match(route.match, path, self.router, self.spec.routing is not None, self.errors)
        plan = self._plan(route, path, name)
        gates = self._gates(route)
        shadow = self._shadow(route, path)
        resilience = merge(self.base, route.resilience)
        assert isinstance(resilience, ResilienceSpec)
        unsupported = route.unsupported_params or self.spec.defaults.unsupported_params
        cache = None
        if route.deny is None:
            cache_spec = merge(self.spec.defaults.cache, route.cache)
            assert isinstance(cache_spec, RouteCacheSpec)
            cache = route_cache(name, plan.targets, unsupported, cache_spec, route)
        settings = RouteSettings(resilience, unsupported, cache, self.spec.defaults.streams.validate_events)
        conditions = build_conditions(route.match, self.router)
        caps = TokenCaps.from_spec(route.caps) if route.caps is not None else None
        return Route(name, path, conditions, plan, route.deny, settings, caps, gates=gates, shadow=shadow)

    def resolve(self, value: str | list[str] | None, where: str) -> tuple[Target, ...]:
        """Model names as a chain of targets (an unknown or repeated name is an error)."""
        chain: list[Target] = []
        names = [value] if isinstance(value, str) else list(value or [])
        for i, model_name in enumerate(names):
            at = where if isinstance(value, str) else f"{where}[{i}]"
            target = self.models.get(model_name)
            if target is None:
                if model_name not in self.spec.models:
                    self.errors.append(f"{at}: unknown model {model_name!r}")
            elif target in chain:
                self.errors.append(f"{at}: model {model_name!r} appears twice in the chain")
            else:
                chain.append(target)
        return tuple(chain)

    def _plan(self, route: RouteSpec, path: str, name: str) -> Plan:
        """A chain, a cheapest selection, a split or an ensemble."""
        from ..routing import compile as routing_compile
        from ..routing.coverage import select_gaps

        if isinstance(route.target, routing_compile.SelectSpec):
            where = f"{path}.target"
            select = routing_compile.select_plan(
                route.target, where, self.models, self.scored, self.router, self.tiers, self.errors
            )
            if select is not None:
                declared = frozenset().union(*(c.capabilities for c in self.scored.values()))
                select_gaps(select, route.match, where, declared, self.errors, self.warnings)
            return select or ChainPlan(())
        if route.split is not None:
            split = routing_compile.split_plan(route.split, f"{path}.split", name, self.models, self.errors)
            return split or ChainPlan(())
        if route.ensemble is not None:
            from ..ensemble.compiled import compile_ensemble  # here: only a policy with ensembles loads them
            from ..ensemble.plan import EnsemblePlan

            block = route.ensemble
            chains = tuple(
                self.resolve(m.target, f"{path}.ensemble.members[{i}].target") for i, m in enumerate(block.members)
            )
            judge = self.resolve(block.judge.target, f"{path}.ensemble.judge.target") if block.judge else ()
            return EnsemblePlan(compile_ensemble(block), chains, judge, spec=block)
        return ChainPlan(self.resolve(route.target, f"{path}.target"))

    def _gates(self, route: RouteSpec) -> RouteGates | None:
        if route.gates is None:
            return None
        from ..gates.checks import compile_gates  # here: only a policy with gates loads them
        from ..gates.validators import SchemaValidators

        if self._validators is None:
            self._validators = SchemaValidators()
        return RouteGates(compile_gates(route.gates, self._validators), route.gates)

    def _shadow(self, route: RouteSpec, path: str) -> Shadow | None:
        if route.shadow is None:
            return None
        from ..ensemble.normalize import compile_normalizer  # here: only a policy with shadow loads it
        from ..shadow.plan import Shadow, ShadowJudge, app_key_errors

        block_s = route.shadow
        candidates: list[Target] = []
        for i, model_name in enumerate(block_s.candidates):
            at = f"{path}.shadow.candidates[{i}]"
            candidates.extend(resolved := self.resolve(model_name, at))
            self.errors.extend(app_key_errors(at, resolved))
        shadow_judge = None
        if block_s.judge is not None:
            judge_chain = self.resolve(block_s.judge.target, f"{path}.shadow.judge.target")
            self.errors.extend(app_key_errors(f"{path}.shadow.judge.target", judge_chain))
            shadow_judge = ShadowJudge(judge_chain, block_s.judge.prompt, block_s.judge.max_tokens)
        normalizer = compile_normalizer(block_s.normalizer)
        return Shadow(tuple(candidates), block_s.sample, normalizer, shadow_judge, block_s.max_concurrent, block_s)


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
