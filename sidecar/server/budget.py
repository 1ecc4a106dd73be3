"""The budget stage (issue 22, docs/budgets.md): admission before the walk, settlement after the answer.

One stage after routing, ``BudgetStage``, over the ledger of the policy being served
(``budgets.keeper.LedgerKeeper``)::

    no budgets block, or count_tokens (free)  -> the next stage, untouched
    admission = await ledger.admit(request, the chain it walks)  # check + reserve: one store round trip
                (the output maximum times the answers asked for: ``n``, ``candidateCount``), priced
                on the chain's first target: the route's, or on a ``select: cheapest`` or ``split``
                route the one routing chose (``routing.plans.request_chain``, as ``explain`` says); on
                an ensemble every call it may make at once, each at its own model (``budgets.calls``);
                the prompt at the 1-hour write price when the request asks for 1-hour cache writes
                (``estimate.asks_hour_writes``: not the plain path, whose lane has the usual prices), and
                the web searches it lets its provider run at the model's search fee (``estimate.searches_asked``,
                read only when some model has one: not the plain path either), both read by
                ``estimate.priced_asks``, which every reservation of the request reads (``_again``'s too;
                a fallback's and an ensemble call's from the ``BudgetRequest``: ``Ledger.call_units``)
      deny      -> 429 in the caller's dialect: Retry-After until the window resets, the limit named in
                   the message (x-should-retry: false when that is over a minute away, so that the SDKs
                   raise at once instead of waiting it out: ``errors.retry_headers``)
      downgrade -> the route walks the limit's cheaper list instead of its chain (a ChainPlan)
      warn      -> served, flagged
      every verdict but allow (``budget_verdict``): the access line's ``budget`` field, the
      ``sidecar.budget`` span event, ``llm_sidecar_budget_decisions_total``; the opt-in headers
      (``budgets.headers``) on every answer
    the walk: ``BudgetHook.before_target`` skips the targets a model/provider quota refused at admission;
              before any other target the chain falls back to, settles what the calls so far cost
              beyond an answer (``Exchange.unserved_*``: a billed failure, a gate's rejected answer)
              and then reserves that target against what is left (refused: skip it); before a hedge's
              second call holds it too, until the race is over (``Exchange.on_race_end``: the loser
              settled at what it cost); refused: the hedge is not made. Before another call of the
              same target (``Exchange.again``: a retry, a re-ask) after a billed call, the same
              settlement, and the target reserved again (refused: the call is not made); on a route
              of one target without gates no hook, only ``Exchange.again`` (``_again``: the request
              object a plain admission lacks built then, on that path alone). In an
              ensemble each member's walk and the judge's has its own (``CallBudgetHook``): its failed
              calls settled, its next target reserved for it alone (``Admission.switch_call``)
    the end:  an answer -> settle its usage (the estimate when the provider reported none; a stream that
              ended with an error: its output at least the text streamed); an error that billed
              nothing -> release; cancelled after a call started -> charge what was used
              (``budget_use.used_when_cancelled``: a stream's input and the output streamed so far,
              seen by a ``UsedTap``; an unstreamed call's input alone); in each case plus the calls
              the caller did not get (``Exchange.unserved_*``: ensemble members, a judge, answers a
              gate rejected, calls accepted and then failed or cut in flight: ``billed``); an
              ensemble's end call by call (``Exchange.call_costs``, ``Admission.charge_calls``): each
              call's cost on the counters of the target it is held on

On the local store the common case takes the plain path: the route's ``Lane`` (cached per route and
policy), ``Ledger.admit_plain`` (no coroutine, no request object) and, when the route's first target
answered with usage and nothing else was billed, ``Admission.charge_plain``.

Settlement never waits: with the local store it is a few counter updates, done at once; with a shared
one it is queued and carried by the next admission's round trip (or sent alone 20 ms later when none
comes: ``budgets.guard.GuardedStore.settle_soon``), so a request costs the store one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from ..budgets import Admission, BudgetRequest, Budgets, Ledger, hash_key
from ..budgets.calls import ensemble_calls
from ..budgets.estimate import priced_asks, reservation_tokens
from ..budgets.keeper import LedgerKeeper
from ..budgets.lane import Lane
from ..credentials import APP_KEY_HEADERS, app_key
from ..dialects import Operation
from ..ensemble.plan import EnsemblePlan
from ..routing.plans import SelectPlan, SplitPlan, request_chain
from ..translate import Usage
from .budget_hook import BudgetHook
from .budget_use import UsedTap, at_least_streamed, in_flight, last_called, used_when_cancelled
from .budget_verdict import denial, downgraded, show
from .errors import RequestFailed
from .pipeline import Handler

if TYPE_CHECKING:
    from ..budgets import TargetInfo
    from ..policy.compiled import Policy, Route, Target
    from ..policy.plans import Plan
    from ..request_facts import RequestFacts
    from .exchange import Exchange

_NO_QUERY: Mapping[str, str] = MappingProxyType({})
_NOTHING_ASKED = (False, 0)  # ``priced_asks`` of a request priced at the lane's prices: no 1-hour writes, no search
_OTHER_KEY_HEADERS = APP_KEY_HEADERS[1:]  # where ``app_key`` looks after Authorization, in its order

_KEY_HASHES = 1024  # caller keys whose hash is remembered (the cache is emptied when full)
_ROUTED_LANES = 1024  # lanes remembered, routed chains among them (the cache is emptied when full)
_ROUTING_PLANS = (SelectPlan, SplitPlan)  # a tuple: ``A | B`` in isinstance builds a union per call


class BudgetStage:
    """The pipeline stage (see the module docstring)."""

    def __init__(self, keeper: LedgerKeeper) -> None:
        self._keeper = keeper
        self._key_hashes: dict[str, str] = {}  # caller key -> its hash: a dict lookup, not a SHA-256 each time
        self._bearer_hashes: dict[str, str] = {}  # Authorization header -> its key's hash (bounded alike)
        # The budgets' view of each route's chain (a ``Lane``; None: a model the ledger does not know, or a
        # route whose routing picks the chain: then per (route, chain walked)), for one policy and one
        # ledger's budgets at a time. With it, the chain's first target (whose answer settles the plain
        # way, ``Admission.charge_plain``).
        self._lanes: tuple[Policy | None, Budgets | None, dict[str | tuple[str, ...], tuple[Lane, Target] | None]] = (
            None,
            None,
            {},
        )
        self._renew = self._again  # ``Exchange.again`` of a one-target route: one bound method, not one per request

    async def __call__(self, exchange: Exchange, call_next: Handler) -> StreamResponse:
        ledger = self._keeper.ledger
        route = exchange.route
        facts = exchange.facts
        if ledger is None or route is None or facts.operation is Operation.COUNT_TOKENS:
            return await call_next(exchange)
        reserved = await self._reserve(exchange, ledger, route)
        if reserved is None:  # a model this ledger does not know (a reload is under way), or nothing reserved
            return await call_next(exchange)
        admission, lane, first, prompt_tokens = reserved
        budgets = ledger.budgets
        if exchange.again is None:  # one target, no gates: a retry after a billed call renews the reservation
            exchange.admission = admission
            exchange.again = self._renew
        tap = None
        if facts.stream:
            tap = UsedTap()
            exchange.taps = (*exchange.taps, tap)
        try:
            response = await call_next(exchange)
            usage = exchange.usage
            if usage is not None and tap is not None and exchange.stream_error:  # its counts stopped early
                usage = exchange.usage = at_least_streamed(usage, tap)
            if (  # the common end: the first target answered, with usage, and no other call billed
                usage is not None
                and exchange.answered_by is first
                and not exchange.unserved_tokens
                and not exchange.unserved_cost_usd
            ):
                admission.charge_plain(usage, lane)
                return response
        except RequestFailed as failure:
            self._finish(exchange, admission, budgets, failure.status)
            raise
        except asyncio.CancelledError:
            self._charge_used(exchange, admission, budgets, prompt_tokens, tap)
            raise
        except BaseException:
            self._finish(exchange, admission, budgets, 500)
            raise
        self._finish(exchange, admission, budgets, response.status)
        return response

    async def _reserve(
        self, exchange: Exchange, ledger: Ledger, route: Route
    ) -> tuple[Admission, Lane, Target, int] | None:
        """The request's admission (reserved; a deny limit raises), its lane, the chain's first target and
        the prompt's estimated tokens; None when nothing is reserved: a model this ledger does not know
        (a reload is under way), or a full admission that reserved nothing."""
        facts = exchange.facts
        known = self._lane(exchange.policy, ledger, route)
        if known is None:  # a route whose routing picks the chain, or a model the ledger does not know
            known = self._routed_lane(ledger, route, facts)
            if known is None:
                return None
        lane, first = known
        prompt_tokens, output = reservation_tokens(facts, exchange.raw, lane.output)
        key_hash = self._key_hash(facts.headers, exchange) if ledger.budgets.needs_key else None
        asks = priced_asks(facts, exchange.raw, ledger.budgets)  # 1-hour writes, searches: not the lane's prices
        admission = (
            None
            if self._keeper.shared or asks != _NOTHING_ASKED
            else _admit_plain(exchange, ledger, lane, prompt_tokens, output, key_hash)
        )
        if admission is None:  # a shared store, or a case the plain admission leaves to the full one
            request = BudgetRequest(
                prompt_tokens, output, facts.app, route.name, facts.headers, key_hash, lane.calls, *asks
            )
            admission = await _admit(exchange, ledger, request, lane.chain)
            if admission is None:
                return None
        return admission, lane, first, prompt_tokens

    async def _again(self, exchange: Exchange, target: Target) -> str | None:
        """``Exchange.again`` on a route of one target without gates (no ``BudgetHook`` on its walk): before a
        retry, what the calls so far cost beyond an answer is settled and the target reserved again, as on
        a chain (``BudgetHook.before_target``; refused: the retry is not made). The request object a plain
        admission was made without is built now, on this path alone, with what the first reservation read
        (``priced_asks``: its 1-hour writes, its searches), so that the retry is priced as the first call."""
        admission = exchange.admission
        ledger = self._keeper.ledger
        route = exchange.route
        if admission is None or ledger is None or route is None:
            return None
        facts = exchange.facts
        info = ledger.budgets.targets.get(target.name)
        default = (info.max_output_tokens if info is not None else None) or ledger.budgets.default_max_output_tokens
        prompt_tokens, output = reservation_tokens(facts, exchange.raw, default)
        key_hash = self._key_hash(facts.headers, exchange) if ledger.budgets.needs_key else None
        asks = priced_asks(facts, exchange.raw, ledger.budgets)
        request = BudgetRequest(prompt_tokens, output, facts.app, route.name, facts.headers, key_hash, (), *asks)
        budgets = admission.with_request(request)  # the budgets of the ledger the reservation is on
        return await BudgetHook(admission, budgets, frozenset()).before_target(exchange, target)

    def _lane(self, policy: Policy, ledger: Ledger, route: Route) -> tuple[Lane, Target] | None:
        """The ledger's ``Lane`` of ``route`` and the route's first target (``_lane_of``), cached per route
        for one policy and one ledger's budgets at a time (None: a route whose routing picks the chain
        per request, ``_routed_lane``, or a model the ledger does not know)."""
        budgets = ledger.budgets
        cached_policy, cached_budgets, lanes = self._lanes
        if cached_policy is not policy or cached_budgets is not budgets:
            lanes = {}
            self._lanes = (policy, budgets, lanes)
        try:
            return lanes[route.name]
        except KeyError:
            routed = isinstance(route.plan, _ROUTING_PLANS)
            known = lanes[route.name] = None if routed else _lane_of(ledger, route.chain, route.plan)
            return known

    def _routed_lane(self, ledger: Ledger, route: Route, facts: RequestFacts) -> tuple[Lane, Target] | None:
        """The ``Lane`` of the chain the request walks on a ``select: cheapest`` or ``split`` route (the
        plan's choice, ``request_chain``: the reservation is priced on the target it calls first), cached
        per (route, chain) with ``_lane``'s; None: another route (a model the ledger does not know)."""
        if not isinstance(route.plan, _ROUTING_PLANS):
            return None
        chain = request_chain(route, facts)
        lanes = self._lanes[2]
        key = (route.name, *(target.name for target in chain))
        try:
            return lanes[key]
        except KeyError:
            if len(lanes) >= _ROUTED_LANES:
                lanes.clear()
            known = lanes[key] = _lane_of(ledger, chain, route.plan)
            return known

    def _key_hash(self, headers: Mapping[str, str], exchange: Exchange) -> str | None:
        """The hash of the caller's key (``app_key``), remembered per key and per ``Authorization`` value
        (the header most SDKs send: looked up first, its parsing skipped too)."""
        bearer = headers.get("authorization")
        if bearer is not None and (known := self._bearer_hashes.get(bearer)) is not None:
            return known
        # Without Authorization, app_key's other headers in its order (Authorization not read twice)
        key = app_key(headers, _NO_QUERY) if bearer else next(filter(None, map(headers.get, _OTHER_KEY_HEADERS)), None)
        if not key:  # Gemini's ?key=: the query parsed only when the headers carry no key
            request = exchange.request
            key = app_key(headers, request.query) if "?" in request.raw_path else None
        if not key:
            return None
        key_hash = self._key_hashes.get(key)
        if key_hash is None:
            if len(self._key_hashes) >= _KEY_HASHES:
                self._key_hashes.clear()
            key_hash = self._key_hashes[key] = hash_key(key)
        if bearer:
            if len(self._bearer_hashes) >= _KEY_HASHES:
                self._bearer_hashes.clear()
            self._bearer_hashes[bearer] = key_hash
        return key_hash

    @staticmethod
    def _finish(exchange: Exchange, admission: Admission, budgets: Budgets, status: int) -> None:
        """Settle what the answer used, or release what billed nothing, without waiting (the local store:
        done; a shared one: carried by the next admission's round trip). Calls whose answer the caller
        did not get (ensemble members, a judge, answers a gate rejected) are charged even when it got an
        error. A last resort's answer (``exchange.degraded``: the static text, a stale entry) came from no
        call: like an error, it settles only what the failed calls billed (before 2026-12-05 it was
        charged the reservation's estimate, the output maximum included)."""
        usage = exchange.usage
        unserved = (exchange.unserved_cost_usd, exchange.unserved_tokens)
        if usage is None and (status >= 400 or not exchange.calls or exchange.degraded is not None):
            if unserved != (0.0, 0):
                _charge(exchange, admission, Usage(), None, unserved, answered=False)
            else:
                admission.drop()
            return
        served = exchange.answered_by
        target = budgets.targets.get(served.name) if served is not None else None
        if exchange.call_costs is None:  # the common case, without a call more
            admission.charge(usage, target, unserved=unserved)
        else:
            admission.charge_calls(exchange.call_costs)

    @staticmethod
    def _charge_used(
        exchange: Exchange, admission: Admission, budgets: Budgets, prompt_tokens: int, tap: UsedTap | None
    ) -> None:
        """The caller went away: charge what the calls used so far (``used_when_cancelled``), or release
        the reservation when no call had started, or none was in flight and none answered (each was
        refused, a 429 or a connection error: it billed nothing, and the caller left during the wait
        before the next)."""
        if not exchange.calls or (exchange.usage is None and not any(map(in_flight, exchange.attempts))):
            unserved = (exchange.unserved_cost_usd, exchange.unserved_tokens)
            if unserved != (0.0, 0):
                _charge(exchange, admission, Usage(), None, unserved, answered=False)
            else:
                admission.drop()
            return
        usage, served = used_when_cancelled(exchange, prompt_tokens, tap)
        unserved = (exchange.unserved_cost_usd, exchange.unserved_tokens)
        info = budgets.targets.get(served.name) if served is not None else None
        _charge(exchange, admission, usage, info, unserved)
        priced = served or last_called(exchange)
        if priced is not None:
            exchange.cancelled_use = (usage, priced)


def _charge(
    exchange: Exchange,
    admission: Admission,
    usage: Usage | None,
    target: TargetInfo | None,
    unserved: tuple[float, int],
    *,
    answered: bool = True,
) -> None:
    """``admission.charge``; an ensemble's end call by call, each on its own target's counters
    (``Admission.charge_calls``: the costs its runner left, ``Exchange.call_costs``). ``answered`` False:
    no answer came, only calls that billed (``Admission.charge``)."""
    if exchange.call_costs is not None:
        admission.charge_calls(exchange.call_costs)
    else:
        admission.charge(usage, target, unserved=unserved, answered=answered)


def _lane_of(ledger: Ledger, chain: Sequence[Target], plan: Plan) -> tuple[Lane, Target] | None:
    """The ledger's ``Lane`` of ``chain`` (walked by ``plan``) and its first target (None: a target the
    ledger's budgets do not know)."""
    targets = ledger.budgets.targets
    infos = []
    for target in chain:
        info = targets.get(target.name)
        if info is None:
            return None
        infos.append(info)
    calls = ensemble_calls(plan, targets) if isinstance(plan, EnsemblePlan) else ()
    if calls is None:
        return None
    return ledger.lane(infos, calls), chain[0]


def _admit_plain(
    exchange: Exchange, ledger: Ledger, lane: Lane, prompt_tokens: int, output: int | None, key_hash: str | None
) -> Admission | None:
    """``Ledger.admit_plain`` on the local store: no coroutine, and no request object unless the chain has
    targets to fall back to or a gate may re-ask (the reservation may move or be renewed: the walk's hook
    is added). None: the full admission (``_admit``) decides."""
    facts = exchange.facts
    route = exchange.route
    assert route is not None
    request = None
    if len(lane.chain) > 1 or route.gates is not None or lane.calls:  # the reservation may move or be renewed:
        request = BudgetRequest(prompt_tokens, output, facts.app, route.name, facts.headers, key_hash, lane.calls)
    admission = ledger.admit_plain(lane, prompt_tokens, output, facts.app, route.name, key_hash, facts.headers, request)
    if admission is not None and request is not None:
        _hook(exchange, BudgetHook(admission, ledger.budgets, frozenset()))
    return admission


async def _admit(
    exchange: Exchange, ledger: Ledger, request: BudgetRequest, chain: Sequence[TargetInfo]
) -> Admission | None:
    """The full admission (a shared store, or a case ``Ledger.admit_plain`` leaves): the decision shown,
    a denial raised, a downgrade applied to the exchange's route, the walk's hook added. None: nothing
    was reserved (nothing to settle)."""
    budgets = ledger.budgets
    admission = await ledger.admit(request, chain, plain=False)
    decision = admission.decision
    if decision.acted is not None or decision.store != "ok" or budgets.headers:
        show(exchange, decision, budgets)
    if decision.verdict == "deny":
        raise denial(decision)
    targets = len(chain)
    if decision.verdict == "downgrade":
        assert exchange.route is not None
        exchange.route = downgraded(exchange, exchange.route, decision)
        targets = len(exchange.route.chain)
    if not admission.reserved:
        return None
    gated = exchange.route is not None and exchange.route.gates is not None  # a gate may re-ask the one target
    if decision.skipped or targets > 1 or gated or request.calls:  # else one target: no other to skip, move to
        # or renew (an ensemble's calls: each member's walk and the judge's has its own, ``for_call``)
        _hook(exchange, BudgetHook(admission, budgets, frozenset(decision.skipped)))
    return admission


def _hook(exchange: Exchange, hook: BudgetHook) -> None:
    """``hook`` on the walk: asked before each target, and before another call of the same one."""
    exchange.hooks = (*exchange.hooks, hook)
    exchange.again = hook.before_target
