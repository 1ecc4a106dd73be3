"""The compiled policy: immutable objects the request path reads, built once per load.

``policy.compile.compile_policy(spec, ...)`` builds them from a validated spec and raises every problem
it finds, each with its path, together as one ``PolicyError`` (defined here).

Routing order, as ``Policy.route`` applies it:

1. ``routes`` in file order; the first whose conditions all hold wins;
2. else, when the requested model is a name in ``models``, that model (route ``model:<name>``);
3. else ``default``; else no route (the caller gets 404 in its dialect).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from ..dialects import Dialect, ProviderKind, registry
from ..dialects.base import ProviderAPI
from ..header_text import header_text
from ..request_facts import RequestFacts
from .access_log import AccessSampling
from .conditions import Condition
from .files import DependentFile
from .plans import Plan
from .price_plan import CallPrices
from .resilience_plan import AttemptTimeouts, Tries
from .resilience_spec import BreakerSpec, BulkheadSpec, ResilienceSpec, RetryBudgetSpec, TimeoutsSpec
from .spec import ApiKeySpec, Capability, DefaultsSpec, DenySpec, PriceSpec, TLSSpec

if TYPE_CHECKING:  # a feature's compiled types: imported by the compiler only for a policy that uses it
    from ..budgets import Budgets
    from ..cache.plan import RouteCache
    from ..cache.spec import CacheStoreSpec
    from ..gates.checks import Gates
    from ..gates.spec import GatesSpec
    from ..passthrough.table import PassthroughTable
    from ..routing.caps import TokenCaps
    from ..routing.matrix import Router
    from ..routing.spec import QualitySpec, RoutingSpec
    from ..shadow.plan import Shadow


class PolicyError(Exception):
    """A policy that cannot be used; ``errors`` lists every problem with its path, ``files`` the paths of
    the files it reads (a learned router), read or not: the watcher polls them, so putting one right
    alone loads the policy."""

    def __init__(self, errors: list[str], files: tuple[str, ...] = ()) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
        self.files = files


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
    attempt_timeouts: AttemptTimeouts = field(init=False, compare=False, repr=False)
    """``timeouts`` in slots, as a call reads them (``policy.resilience_plan``)."""

    def __post_init__(self) -> None:
        parsed = urlsplit(self.base_url)
        api = registry.provider_api(self.kind)
        object.__setattr__(self, "api", api)
        object.__setattr__(self, "attempt_timeouts", AttemptTimeouts.of(self.timeouts))
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
    answer_headers: tuple[tuple[str, str], ...] = field(init=False, compare=False, repr=False)
    """The headers of an answer it served (``x-sidecar-model``, ``-upstream-model``, ``-provider``), their
    names written once per load (``header_text``), not per answer."""
    tiered: bool = field(init=False, compare=False, repr=False)
    """Its price has a long-context tier, an audio input price (``PriceSpec.tiered``) or service tiers:
    routing's expected cost on it reads them, and the tier the request asks for
    (``routing.record.expected_cost``); a target without them costs a request no read of its body."""
    prices: CallPrices | None = field(init=False, compare=False, repr=False)
    """``price`` in slots, as an answer's bill reads it (``policy.price_plan``); None: no price."""
    searches_priced: bool = field(init=False, compare=False, repr=False)
    """Its price has a fee per web search (``PriceSpec.web_search_per_1k_calls``): a stream of it counts
    the searches its events show (``Translation.stream_searches``: those a cut leaves unreported, or an
    OpenAI chat stream's ``url_citation`` annotations, which its usage never counts); decided at load, so
    another model's relayed events cost nothing more."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.provider.name}/{self.upstream_model}")
        served = (
            ("x-sidecar-model", header_text(self.name)),
            ("x-sidecar-upstream-model", header_text(self.upstream_model)),
            ("x-sidecar-provider", header_text(self.provider.name)),
        )
        object.__setattr__(self, "answer_headers", served)
        object.__setattr__(self, "prices", None if self.price is None else CallPrices.of(self.price))
        tiered = self.price is not None and (self.price.tiered() or bool(self.price.service_tiers))
        object.__setattr__(self, "tiered", tiered)
        object.__setattr__(
            self, "searches_priced", self.price is not None and self.price.web_search_per_1k_calls is not None
        )


@dataclass(frozen=True, slots=True)
class RouteSettings:
    resilience: ResilienceSpec  # every field set (defaults merged in)
    unsupported_params: Literal["error", "drop"]
    cache: RouteCache | None = None  # the response cache's plan; None: the route does not cache
    validate_stream_events: bool = False  # defaults.streams.validate_events: parse every relayed event
    tries: Tries = field(init=False, compare=False, repr=False)
    """``resilience`` in slots, as a request's walk reads it (``policy.resilience_plan``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tries", Tries.of(self.resilience))


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
    header_name: str = field(init=False, compare=False, repr=False)  # ``x-sidecar-route``: its name, encoded

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_keys", tuple(t.key for t in self.chain))
        object.__setattr__(self, "header_name", header_text(self.name))

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
    access_sampling: AccessSampling | None = None  # which access lines are written; None: every one
    passthrough: PassthroughTable | None = None  # paths forwarded as sent (``passthrough``); None: none

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
