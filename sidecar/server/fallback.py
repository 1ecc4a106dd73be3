"""The terminal stage: the route's plan, and the fallback loop that walks a chain.

``Executor`` runs ``route.plan`` (``policy.plans``: a fixed chain), which calls ``walk`` with the
chain(s) the request takes; an ensemble's plan is run by ``ensemble.EnsembleRunner``, which walks
each member's chain with a child exchange of its own (``children``). ``walk`` is a plain loop over
the chain that collects every attempt on the exchange and ends in one answer::

    for each target, in order (until the request's deadline):
        the hooks' say (``hooks.ChainHook.before_target``: a reason to skip it, e.g. a budget)
        its tries (``target_tries.TargetTries``) -> an answer (or the upstream's own error): return it
                                                 -> next target (a hedge may have spent the next one
                                                    already; a context overflow skips those with no
                                                    larger window)
                                                 -> stop (the deadline passed: the targets left are
                                                    recorded as skipped, ``deadline_passed``)
    no answer (``_unanswered``):
        panic mode: no call was made because every target's breaker was open: call each once anyway
        no target could take the request (none was called): 400 ``untranslatable_request``
        the route's last resort (``last_resort``): an error listing every attempt, or a canned answer

Calls and their records are ``calls``; a target's retries, 429 waits and hedging ``target_tries`` and
``hedge``; streams are relayed by ``stream``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from aiohttp.web import StreamResponse

from ..ensemble.plan import EnsemblePlan
from ..policy.compiled import Target
from ..resilience.classify import OutcomeKind
from .attempt import Attempt
from .calls import Calls, skip
from .errors import RequestFailed
from .exchange import Exchange
from .last_resort import answer_last_resort
from .target_tries import ChainRun, TargetTries, deliver, fail_fast
from .targets import TargetStates

if TYPE_CHECKING:
    from ..telemetry import Telemetry
    from .ensemble import EnsembleRunner


class Executor:
    """The terminal stage of the pipeline: the route's plan, over the walk of a chain."""

    def __init__(self, attempt: Attempt, states: TargetStates, telemetry: Telemetry) -> None:
        self._calls = Calls(attempt, states, telemetry)
        self._held = attempt.client.held  # the process's account, for an ensemble's answers waiting for the vote
        self._tries = TargetTries(self._calls)
        self._telemetry = telemetry
        self._ensembles: EnsembleRunner | None = None  # built for the first ensemble request
        # ``walk`` bound once: ``self.walk`` read per request makes a bound method by a generic look-up in
        # Python 3.11 (docs/benchmarks.md, "Wave 54 `plain55`")
        self._walk = self.walk

    async def __call__(self, exchange: Exchange) -> StreamResponse:
        route = exchange.route
        assert route is not None
        plan = route.plan
        if isinstance(plan, EnsemblePlan):  # every member's answer is held before one is sent: not one walk
            return await self._ensemble_runner().run(exchange, plan)
        return await plan.run(exchange.facts, partial(self._walk, exchange))

    def _ensemble_runner(self) -> EnsembleRunner:
        """The ensembles' runner, its modules loaded on first use: a policy without ensembles does not."""
        if self._ensembles is None:
            from .ensemble import EnsembleRunner

            self._ensembles = EnsembleRunner(self.walk, self._telemetry, self._held)
        return self._ensembles

    async def walk(self, exchange: Exchange, chain: Sequence[Target]) -> StreamResponse:
        """Try ``chain`` in order until a target answers (see the module docstring)."""
        assert exchange.route is not None
        settings = exchange.route.settings.tries  # slots, not the spec's fields (``policy.resilience_plan``)
        run = ChainRun(exchange, settings, time.monotonic() + settings.deadline_s)
        pending = [*chain]
        while pending and not run.expired():
            target = pending.pop(0)
            step = await self._tries.run(run, target, pending)
            if step.response is not None:
                return step.response
            if step.hedged:
                pending.pop(0)
            if step.stop:
                break
            if step.above_context is not None:
                pending = self._larger_context(exchange, pending, step.above_context)
                if not pending and run.last is not None:
                    return fail_fast(exchange, *run.last)  # no target can take the prompt: its error says why
            if pending and step.called and exchange.fallback_reason:
                exchange.trace.fallback(from_target=target.key, reason=exchange.fallback_reason)
        return await self._unanswered(run, chain, pending)

    async def _unanswered(self, run: ChainRun, chain: Sequence[Target], pending: list[Target]) -> StreamResponse:
        """The walk ended without an answer (``pending``: the targets it did not reach): panic mode when no
        call was made, a 400 when no target could take the request, else the route's last resort."""
        exchange = run.exchange
        if run.expired():  # the targets left were never tried: the error and the access line say why
            for target in pending:
                skip(exchange, target, "deadline_passed")
        if not exchange.calls:
            response = await self._panic(run, chain)
            if response is not None:
                return response
        if run.untranslatable and not exchange.calls:
            raise RequestFailed(
                400,
                "no target of the route can take this request: " + "; ".join(run.untranslatable),
                code="untranslatable_request",
            )
        return await answer_last_resort(exchange, run.last)

    async def _panic(self, run: ChainRun, chain: Sequence[Target]) -> StreamResponse | None:
        """Every target was skipped by its open breaker: call them anyway, once each (panic mode).

        Like Envoy's panic threshold: breakers exist to spare failing targets load, and refusing a
        request without a single call, while one of them may have recovered, helps nobody. These
        calls bypass the breakers (they neither need a permit nor report to them), not the hooks: the
        budgets reserve on each target before its call (its quotas may skip it), so the answer is
        counted on its own target's counters (before wave 30 on the last one the walk had reserved for).
        """
        exchange = run.exchange
        skipped = {a.target for a in exchange.attempts if a.outcome == "breaker_open"}
        for target in chain:
            if target.name not in skipped or run.expired():
                continue
            if exchange.hooks and not await self._tries.cleared(exchange, target):
                continue
            candidate = self._calls.candidate(exchange, target, run.settings, True, run.untranslatable)
            if candidate is None:
                continue
            exchange.trace.fallback(from_target=target.key, reason="panic")
            result = await self._calls.call(exchange, candidate, run.deadline - time.monotonic(), bypass_breaker=True)
            if result is None:
                continue
            if result.response is not None or result.held is not None:
                return await deliver(exchange, candidate, result)
            run.last = (candidate, result)
            if result.outcome.kind is OutcomeKind.FAIL_FAST:
                return fail_fast(exchange, candidate, result)
        return None

    @staticmethod
    def _larger_context(exchange: Exchange, pending: list[Target], floor: int) -> list[Target]:
        """``pending`` from its first target whose context window beats ``floor``; those before it are
        recorded as skipped."""
        for index, target in enumerate(pending):
            if (target.context_window or 0) > floor:
                return pending[index:]
            skip(exchange, target, "context_too_small")
        return []
