"""The compiled budgets: immutable tables built once per policy load, read by every admission.

``compile_budgets(data, models=..., providers=..., routes=...)`` validates the ``budgets`` block (the
pydantic models of ``spec``) and what pydantic cannot see alone: unique names, model / provider / route
names that exist, prices for USD limits on a model or provider. Every problem comes back at once with
its path (``budgets.limits[2].downgrade_to[0]: unknown model 'gpt-4o-mini'``) in one ``PolicyError``.

Per request, ``Limit.scope_value(request, target)`` says which counter of a limit a call falls in:

    global -> "*";  app / route / header / key -> the request's value, "-" when it has none;
    model / provider -> the serving target's name;
    with ``values``: a named value, else "other" (others: shared) or None (others: exempt: not limited).

Limits scoped by model or provider are *target limits* (client-side quotas): they are checked for the
target about to be called, and a ``deny`` there skips that target instead of refusing the request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sidecar.policy.spec import ModelSpec, PriceSpec
from sidecar.request_facts import readable_text

from .pricing import to_units
from .spec import (
    DEFAULT_WEB_SEARCHES,
    TARGET_SCOPES,
    Action,
    BudgetsSpec,
    LimitSpec,
    Measure,
    ScopeKind,
    StoreSpec,
    Window,
)

if TYPE_CHECKING:
    from .calls import Call

NO_VALUE = "-"
OTHER = "other"
GLOBAL = "*"
_KEY_SAFE = re.compile(r"[A-Za-z0-9_.@/+=-]{1,64}")


def hash_key(api_key: str) -> str:
    """The scope value of a caller's API key: 16 hex digits of its SHA-256 (the key never leaves); a key's
    bytes that are not UTF-8 (the listener's lone surrogates) hashed as they came (``surrogatepass``)."""
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def key_part(value: str) -> str:
    """A scope value as a store-key component: itself when short and plain, else ``~`` + a hash."""
    if _KEY_SAFE.fullmatch(value):
        return value
    return "~" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """One model a call may be served by, as the budgets see it."""

    model: str
    provider: str
    price: PriceSpec | None = None
    max_output_tokens: int | None = None


@dataclass(slots=True)
class BudgetRequest:
    """What admission needs to know about a request (the request path fills it after routing); read-only
    by convention (not frozen: one is built per request, and a frozen one's construction costs more).

    ``headers``: lower-case names (only those named by ``by: header`` limits are read). ``key_hash``:
    ``hash_key(caller's key)`` or None. ``input_tokens``: the estimated prompt tokens.
    ``max_output_tokens``: the request's own maximum (0 for embeddings), or None (then the model's,
    else ``default_max_output_tokens``).
    """

    input_tokens: int
    max_output_tokens: int | None = None
    app: str | None = None
    route: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    key_hash: str | None = None
    calls: tuple[Call, ...] = ()  # an ensemble's calls at once (its members and judge: ``calls``); () one call
    hour_writes: bool = False  # it asks for 1-hour prompt-cache writes: its prompt priced so (``pricing``)
    searches: int = 0  # the web searches it lets the provider run (``estimate.searches_asked``): priced so


@dataclass(frozen=True, slots=True)
class Limit:
    """One compiled limit. Amounts are in counter units (``pricing``)."""

    index: int
    name: str
    measure: Measure
    amount: float
    units: int
    window: Window
    scope: ScopeKind
    header: str | None
    values: frozenset[str] | None
    exempt_others: bool
    action: Action
    downgrade_to: tuple[str, ...]
    soft_units: int | None
    soft_action: Action | None
    soft_downgrade_to: tuple[str, ...]
    fail_closed: bool
    key_stem: str
    measure_index: int
    """Where this limit's measure is in the (usd, tokens, requests) triples of ``pricing``."""
    read_value: Callable[[BudgetRequest, TargetInfo], str] = field(compare=False, repr=False)
    """The scope's raw value for a call, chosen at compile time (no per-request dispatch on the kind)."""

    @property
    def is_target_limit(self) -> bool:
        return self.scope in TARGET_SCOPES

    @property
    def blocks(self) -> bool:
        """Whether the store refuses a reservation that would pass the amount."""
        return self.action is Action.DENY

    def scope_value(self, request: BudgetRequest, target: TargetInfo) -> str | None:
        value = self.read_value(request, target)
        values = self.values
        if values is None or value in values:
            return value
        return None if self.exempt_others else OTHER

    def label(self, value: str) -> str:
        """The metric label of a scope value: itself when the policy names it (or global), else other."""
        if value == GLOBAL or (self.values is not None and value in self.values):
            return value
        return OTHER


@dataclass(frozen=True, slots=True)
class Budgets:
    """The compiled ``budgets`` block."""

    limits: tuple[Limit, ...]
    request_limits: tuple[Limit, ...]
    target_limits: tuple[Limit, ...]
    targets: Mapping[str, TargetInfo]
    store: StoreSpec
    reservation_ttl_s: float
    default_max_output_tokens: int
    headers: bool
    max_tracked_values: int
    header_names: frozenset[str]
    warnings: tuple[str, ...] = ()
    needs_key: bool = False
    """Some limit is scoped by the caller's key (only then is the key hashed per request)."""
    spec: BudgetsSpec | None = field(default=None, compare=False, repr=False)
    """The block as written (``llm-sidecar diff`` compares it)."""
    default_web_searches: int = DEFAULT_WEB_SEARCHES
    """The web searches reserved for a search tool whose request gives no bound (``estimate.searches_asked``)."""
    searches_priced: bool = False
    """Some model's price has a fee per web search: only then is a request read for the searches it allows
    (decided at load: the other policies' requests cost nothing more)."""

    def target(self, model: str) -> TargetInfo:
        """The ``TargetInfo`` of a model name (a key of ``models``)."""
        return self.targets[model]


def compile_budgets(
    data: Any,
    *,
    models: Mapping[str, ModelSpec],
    providers: Iterable[str],
    routes: Iterable[str] = (),
    path: str = "budgets",
) -> Budgets:
    """Validate and compile the ``budgets`` block (a mapping, or an already validated ``BudgetsSpec``)."""
    # Here, not at the top: ``policy.compiled`` compiles this block, so it imports this module.
    from sidecar.policy.compiled import PolicyError
    from sidecar.policy.load import format_validation_error

    if isinstance(data, BudgetsSpec):
        spec = data
    else:
        try:
            spec = BudgetsSpec.model_validate({} if data is None else data)
        except ValidationError as exc:
            raise PolicyError([_prefixed(path, line) for line in format_validation_error(exc)]) from None
    problems: list[str] = []
    warnings: list[str] = []
    known = {
        ScopeKind.MODEL: models.keys(),
        ScopeKind.PROVIDER: frozenset(providers),
        ScopeKind.ROUTE: frozenset(routes),
    }
    first_seen: dict[str, int] = {}
    for i, limit in enumerate(spec.limits):
        here = f"{path}.limits[{i}]"
        if limit.name in first_seen:
            problems.append(f"{here}.name: duplicate name {limit.name!r} (also limits[{first_seen[limit.name]}])")
        first_seen.setdefault(limit.name, i)
        problems += _unknown_names(limit, here, models, known)
        if limit.measure is Measure.USD:
            _check_prices(limit, here, models, problems, warnings)
    if problems:
        raise PolicyError(problems)
    limits = tuple(_compile_limit(i, limit) for i, limit in enumerate(spec.limits))
    return Budgets(
        limits=limits,
        request_limits=tuple(limit for limit in limits if not limit.is_target_limit),
        target_limits=tuple(limit for limit in limits if limit.is_target_limit),
        targets={
            name: TargetInfo(name, model.provider, model.price, model.max_output_tokens)
            for name, model in models.items()
        },
        store=spec.store,
        reservation_ttl_s=spec.reservation_ttl_s,
        default_max_output_tokens=spec.default_max_output_tokens,
        headers=spec.headers,
        max_tracked_values=spec.max_tracked_values,
        header_names=frozenset(limit.header for limit in limits if limit.header is not None),
        warnings=tuple(warnings),
        needs_key=any(limit.scope is ScopeKind.KEY for limit in limits),
        spec=spec,
        default_web_searches=spec.default_web_searches,
        searches_priced=any(m.price is not None and m.price.web_search_per_1k_calls for m in models.values()),
    )


def _unknown_names(
    limit: LimitSpec, here: str, models: Mapping[str, ModelSpec], known: Mapping[ScopeKind, Collection[str]]
) -> list[str]:
    """The models a limit downgrades to and the scope values it names that the policy does not know (a
    route scope's values are checked only when the policy's routes were given)."""
    problems = []
    for key, targets in (("downgrade_to", limit.downgrade_to), ("soft.downgrade_to", _soft_targets(limit))):
        for j, name in enumerate(targets or ()):
            if name not in models:
                problems.append(f"{here}.{key}[{j}]: unknown model {name!r}")
    names = known.get(limit.scope.by)
    if names is not None and limit.scope.values is not None and (names or limit.scope.by is not ScopeKind.ROUTE):
        kind = limit.scope.by.value
        for j, value in enumerate(limit.scope.values):
            if value not in names:
                problems.append(f"{here}.scope.values[{j}]: unknown {kind} {value!r}")
    return problems


def _check_prices(
    limit: LimitSpec, here: str, models: Mapping[str, ModelSpec], problems: list[str], warnings: list[str]
) -> None:
    """A USD limit over models without a price: a problem when the limit names its targets, else a warning
    (they count $0)."""
    unpriced = _unpriced(limit, models)
    if unpriced and limit.scope.by in TARGET_SCOPES and limit.scope.values is not None:
        prices = ", ".join(f"models.{name}.price" for name in unpriced)
        problems.append(f"{here}.measure: usd, but {_without_price(unpriced)}: set {prices}")
    elif unpriced:
        warnings.append(f"{here}: {_without_price(unpriced)} and counts $0 here")


def _prefixed(path: str, line: str) -> str:
    return f"{path}: {line.removeprefix('(top level): ')}" if line.startswith("(top level)") else f"{path}.{line}"


def _soft_targets(limit: LimitSpec) -> list[str] | None:
    return limit.soft.downgrade_to if limit.soft is not None else None


def _without_price(names: list[str]) -> str:
    """``model x has no price`` or ``models x, y have no price``."""
    return f"model {names[0]} has no price" if len(names) == 1 else f"models {', '.join(names)} have no price"


def _unpriced(limit: LimitSpec, models: Mapping[str, ModelSpec]) -> list[str]:
    """Models a USD limit may count that have no price."""
    values = limit.scope.values
    candidates = [
        name
        for name, model in models.items()
        if values is None
        or limit.scope.by not in TARGET_SCOPES
        or (name if limit.scope.by is ScopeKind.MODEL else model.provider) in values
    ]
    return sorted(name for name in candidates if models[name].price is None)


def _compile_limit(index: int, spec: LimitSpec) -> Limit:
    soft = spec.soft
    units = to_units(spec.measure, spec.amount)
    return Limit(
        index=index,
        name=spec.name,
        measure=spec.measure,
        amount=spec.amount,
        units=units,
        window=spec.window,
        scope=spec.scope.by,
        header=spec.scope.header,
        values=frozenset(spec.scope.values) if spec.scope.values is not None else None,
        exempt_others=spec.scope.others == "exempt",
        action=spec.action,
        downgrade_to=tuple(spec.downgrade_to or ()),
        soft_units=int(units * soft.at) if soft is not None else None,
        soft_action=Action(soft.action) if soft is not None else None,
        soft_downgrade_to=tuple(soft.downgrade_to or ()) if soft is not None else (),
        fail_closed=spec.on_store_error == "closed",
        key_stem=f"{spec.name}:{spec.measure.value}:{spec.window.value}",
        measure_index=list(Measure).index(spec.measure),
        read_value=_value_reader(spec.scope.by, spec.scope.header),
    )


def _header_value(value: str | None) -> str:
    """A header's value as a scope value: bytes that are not UTF-8 written ``\\xNN`` (the listener's
    lone surrogates would break /status's JSON), "-" when absent or empty."""
    if not value:
        return NO_VALUE
    return value if value.isascii() else readable_text(value)


def _value_reader(scope: ScopeKind, header: str | None) -> Callable[[BudgetRequest, TargetInfo], str]:
    """How a scope reads its value: global -> "*", a missing request value -> "-"."""
    if scope is ScopeKind.HEADER:
        name = header or ""
        return lambda request, target: _header_value(request.headers.get(name))
    readers: dict[ScopeKind, Callable[[BudgetRequest, TargetInfo], str]] = {
        ScopeKind.GLOBAL: lambda request, target: GLOBAL,
        ScopeKind.APP: lambda request, target: request.app or NO_VALUE,
        ScopeKind.ROUTE: lambda request, target: request.route or NO_VALUE,
        ScopeKind.MODEL: lambda request, target: target.model,
        ScopeKind.PROVIDER: lambda request, target: target.provider,
        ScopeKind.KEY: lambda request, target: request.key_hash or NO_VALUE,
    }
    return readers[scope]
