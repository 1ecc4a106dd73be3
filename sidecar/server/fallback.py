"""The fallback loop: a plain loop over the route's chain that records every attempt.

For each target, in chain order::

    breaker open / rate-limited past the cap / bulkhead full  -> skip (recorded, no network call)
    call -> SUCCESS            answer (a committed stream is an answer, whatever follows)
         -> FAIL_FAST          the upstream's own error to the caller (the request is wrong)
         -> RETRY_SAME (429)   wait the provider's hint (jittered) if within the cap, retry here
         -> FALLBACK           next target at once; on the last target, retry with backoff
         -> CONTEXT_OVERFLOW   next target with a larger context window, or the upstream error

Retries are bounded three ways: ``max_attempts_per_target``, the target's retry budget (retries
are a fraction of its requests, so an outage never multiplies load), and the request's deadline.
With ``hedge.after_s`` set, a target's first call that has no first byte by then races the next
target of the chain (``hedge``); the first answer wins and the other call is cancelled. When every
target has failed, the route's last resort answers (``last_resort``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp.web import Response, StreamResponse

from ..policy.compiled import Target
from ..policy.spec import ResilienceSpec, TimeoutsSpec
from ..resilience.backoff import Backoff, rate_limited_delay
from ..resilience.bulkhead import BulkheadFull
from ..resilience.classify import Outcome, OutcomeKind
from ..translate import TranslationError, UnsupportedParameter
from ..upstream import NoEquivalentOperation
from .attempt import Attempt, AttemptResult, Prepared, error_passthrough, prepare
from .errors import RequestFailed
from .exchange import AttemptRecord, Exchange, telemetry_usage
from .last_resort import answer_last_resort
from .stream import exchange_headers
from .targets import TargetState, TargetStates

if TYPE_CHECKING:
    from ..telemetry import Telemetry


@dataclass(slots=True)
class Candidate:
    """A target ready to be called: its health state, its prepared request, its timeouts."""

    target: Target
    state: TargetState
    prepared: Prepared
    timeouts: TimeoutsSpec


class Executor:
    """The terminal stage of the pipeline: runs the route's chain."""

    def __init__(self, attempt: Attempt, states: TargetStates, telemetry: Telemetry) -> None:
        self._attempt = attempt
        self._states = states
        self._telemetry = telemetry

    async def __call__(self, exchange: Exchange) -> StreamResponse:
        route = exchange.route
        assert route is not None
        settings = route.settings.resilience
        assert settings.deadline_s is not None and settings.max_attempts_per_target is not None
        assert settings.backoff is not None and settings.rate_limit_max_wait_s is not None
        deadline = time.monotonic() + settings.deadline_s
        backoff: Backoff | None = None
        chain = route.chain
        last: tuple[Target, AttemptResult] | None = None
        untranslatable: list[str] = []
        index = 0
        while index < len(chain):
            target = chain[index]
            index += 1
            is_last = index == len(chain)
            candidate = self._candidate(exchange, target, settings, is_last, untranslatable)
            if candidate is None:
                continue
            state = candidate.state
            state.budget.record_request()
            for attempt_no in range(settings.max_attempts_per_target):
                if attempt_no:
                    backoff = backoff or Backoff(settings.backoff.base_s, settings.backoff.cap_s, self._states.rng)
                    delay = self._retry_delay(last, backoff, attempt_no)
                    if delay is None or not state.budget.try_spend_retry():
                        break
                    if time.monotonic() + delay >= deadline:
                        break
                    await asyncio.sleep(delay)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                used = candidate
                if attempt_no == 0 and settings.hedge is not None and not is_last:
                    used, result, hedged = await self._hedged(
                        exchange, candidate, chain[index:], settings, deadline, untranslatable
                    )
                    if hedged:
                        index += 1  # the next target already had its call in the race
                        is_last = index == len(chain)
                else:
                    result = await self._call(exchange, candidate, remaining)
                if result is None:
                    break
                outcome = result.outcome
                if result.response is not None:  # an answer, or a committed stream
                    return self._answer(exchange, used, result)
                last = (used.target, result)
                if outcome.kind is OutcomeKind.FAIL_FAST:
                    return self._fail_fast(exchange, used.prepared, result)
                exchange.fallback_reason = outcome.error_type
                if outcome.kind is OutcomeKind.CONTEXT_OVERFLOW:
                    index = self._larger_context(exchange, chain, index, used.target)
                    if index >= len(chain):
                        return self._fail_fast(exchange, used.prepared, result)
                    break
                if outcome.kind is OutcomeKind.FALLBACK and not is_last:
                    break
                if outcome.kind is OutcomeKind.RETRY_SAME:
                    hint = outcome.retry_after_s
                    if hint is not None and hint > settings.rate_limit_max_wait_s:
                        break  # not worth waiting: next target, or the 429 itself to the caller
            if index < len(chain) and exchange.fallback_reason:
                exchange.trace.fallback(from_target=target.key, reason=exchange.fallback_reason)
            if time.monotonic() >= deadline:
                break
        if not exchange.calls:
            panic = self._panic_calls(exchange, chain, settings, deadline, untranslatable)
            async with aclosing(panic):
                async for used, result in panic:
                    if result.response is not None:
                        return self._answer(exchange, used, result)
                    last = (used.target, result)
                    if result.outcome.kind is OutcomeKind.FAIL_FAST:
                        return self._fail_fast(exchange, used.prepared, result)
        if untranslatable and not exchange.calls:
            raise RequestFailed(
                400,
                "no target of the route can take this request: " + "; ".join(untranslatable),
                code="untranslatable_request",
            )
        return await answer_last_resort(exchange, last)

    def _candidate(
        self,
        exchange: Exchange,
        target: Target,
        settings: ResilienceSpec,
        is_last: bool,
        untranslatable: list[str],
    ) -> Candidate | None:
        """Prepare ``target``, or record why it is skipped (rate-limited, untranslatable)."""
        assert exchange.route is not None and settings.rate_limit_max_wait_s is not None
        state = self._states.get(target, exchange.policy)
        if state.breaker.is_rate_limited() and not is_last:
            wait = state.breaker.rate_limited_until - time.monotonic()
            if wait > settings.rate_limit_max_wait_s:
                self._skip(exchange, target, "rate_limited")
                return None
        try:
            prepared = prepare(exchange, target, exchange.route.settings.unsupported_params)
        except UnsupportedParameter as exc:
            raise RequestFailed(
                400,
                f"parameter {exc.name!r} has no equivalent on {target.provider.kind} "
                f"(model {target.name}); the policy refuses it (unsupported_params: error)",
                code="unsupported_parameter",
                param=exc.name,
            ) from None
        except (NoEquivalentOperation, TranslationError) as exc:
            self._skip(exchange, target, "untranslatable")
            untranslatable.append(f"{target.name}: {exc}")
            return None
        return Candidate(target, state, prepared, settings.timeouts or target.provider.timeouts)

    async def _panic_calls(
        self,
        exchange: Exchange,
        chain: tuple[Target, ...],
        settings: ResilienceSpec,
        deadline: float,
        untranslatable: list[str],
    ) -> AsyncGenerator[tuple[Candidate, AttemptResult], None]:
        """Every target was skipped by its open breaker: call them anyway, once each (panic mode).

        Like Envoy's panic threshold: breakers exist to spare failing targets load, and refusing a
        request without a single call, while one of them may have recovered, helps nobody. These
        calls bypass the breakers (they neither need a permit nor report to them).
        """
        skipped = {a.target for a in exchange.attempts if a.outcome == "breaker_open"}
        for target in chain:
            if target.name not in skipped or time.monotonic() >= deadline:
                continue
            candidate = self._candidate(exchange, target, settings, True, untranslatable)
            if candidate is None:
                continue
            exchange.trace.fallback(from_target=target.key, reason="panic")
            result = await self._call(exchange, candidate, deadline - time.monotonic(), bypass_breaker=True)
            if result is not None:
                yield candidate, result

    async def _call(
        self,
        exchange: Exchange,
        candidate: Candidate,
        remaining: float,
        first_byte: asyncio.Event | None = None,
        *,
        bypass_breaker: bool = False,
    ) -> AttemptResult | None:
        """One upstream call with its permit, bulkhead slot, span and record; None when skipped."""
        target, state = candidate.target, candidate.state
        permit = None if bypass_breaker else state.breaker.try_acquire()
        if permit is None and not bypass_breaker:
            self._skip(exchange, target, "breaker_open")
            return None
        trace = exchange.trace.attempt(
            target=target.key,
            provider=target.provider.name,
            provider_name=target.provider.otel_name,
            request_model=target.upstream_model,
            server_address=target.provider.host,
            server_port=target.provider.port,
            resend_count=exchange.calls,
            breaker_state=str(state.breaker.state),
            request_params=exchange.request_params() if exchange.trace.span is not None else None,
        )
        started = time.monotonic()
        try:
            async with state.bulkhead.slot():
                result = await self._attempt.run(
                    exchange, candidate.prepared, candidate.timeouts, trace, remaining, first_byte
                )
        except BulkheadFull:
            if permit is not None:
                permit.release()
            trace.finish(status=None, error_type="bulkhead_full")
            self._skip(exchange, target, "bulkhead_full")
            return None
        except BaseException:
            if permit is not None:
                permit.release()  # cancelled (client gone, or a hedge lost) or a bug: not the target's fault
            trace.finish(status=None, error_type="cancelled")
            exchange.record(
                AttemptRecord(target.name, target.provider.name, "cancelled", None, (time.monotonic() - started) * 1000)
            )
            raise
        elapsed = time.monotonic() - started
        outcome = result.outcome
        if permit is None:
            pass  # a panic call: the breaker neither granted it nor hears about it
        elif outcome.breaker_failure:
            permit.record_failure(elapsed)
        elif outcome.kind is OutcomeKind.SUCCESS:
            permit.record_success(elapsed)
        else:
            permit.release()
        if outcome.rate_limited and outcome.retry_after_s is not None:
            state.breaker.mark_rate_limited(time.monotonic() + outcome.retry_after_s)
        trace.finish(
            status=result.upstream_status,
            error_type=None if outcome.kind is OutcomeKind.SUCCESS else outcome.error_type,
            response_model=result.response_model,
            response_id=result.response_id,
            finish_reasons=result.finish_reasons,
            usage=telemetry_usage(result.usage),
        )
        exchange.record(
            AttemptRecord(
                target.name,
                target.provider.name,
                "ok" if outcome.kind is OutcomeKind.SUCCESS else outcome.error_type,
                result.upstream_status,
                elapsed * 1000,
            )
        )
        return result

    async def _hedged(
        self,
        exchange: Exchange,
        first: Candidate,
        rest: tuple[Target, ...],
        settings: ResilienceSpec,
        deadline: float,
        untranslatable: list[str],
    ) -> tuple[Candidate, AttemptResult | None, bool]:
        """Call ``first``; if it has no first byte after ``hedge.after_s``, race the next target.

        Returns the candidate whose result counts, that result (None: skipped), and whether the
        next target was called (so the loop does not call it again). The first racer to answer,
        or to commit a stream, wins; the other is cancelled at once.
        """
        assert settings.hedge is not None
        first_byte = asyncio.Event()
        primary = asyncio.ensure_future(self._call(exchange, first, deadline - time.monotonic(), first_byte))
        waiter = asyncio.ensure_future(first_byte.wait())
        try:
            await asyncio.wait({primary, waiter}, timeout=settings.hedge.after_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if primary.done() or first_byte.is_set():
            return first, await primary, False
        second = self._candidate(exchange, rest[0], settings, len(rest) == 1, untranslatable)
        if second is None:
            return first, await primary, False
        exchange.trace.fallback(from_target=first.target.key, reason="hedged")
        second.state.budget.record_request()
        hedge = asyncio.ensure_future(self._call(exchange, second, deadline - time.monotonic()))
        racers = {primary: first, hedge: second}

        def cancel_others() -> None:  # a racer committed its stream: the other must stop now
            current = asyncio.current_task()
            for task in racers:
                if task is not current:
                    task.cancel()

        exchange.on_commit = cancel_others
        best: tuple[Candidate, AttemptResult | None] | None = None
        try:
            while racers:
                done, _ = await asyncio.wait(racers, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    candidate = racers.pop(task)
                    if task.cancelled():
                        continue
                    result = task.result()
                    if result is not None and result.response is not None:
                        if candidate is second:
                            exchange.fallback_reason = "hedged"
                        return candidate, result, True
                    if best is None or best[1] is None:
                        best = (candidate, result)
        finally:
            exchange.on_commit = None
            for task in racers:
                task.cancel()
            if racers:
                await asyncio.gather(*racers, return_exceptions=True)
        assert best is not None
        return best[0], best[1], True

    def _answer(self, exchange: Exchange, used: Candidate, result: AttemptResult) -> StreamResponse:
        assert result.response is not None
        exchange.served = used.target
        exchange.usage = result.usage
        exchange.dropped = used.prepared.dropped
        if not (isinstance(result.response, StreamResponse) and result.response.prepared):
            result.response.headers.update(exchange_headers(exchange, used.prepared))
            result.response.headers["x-sidecar-attempts"] = str(exchange.calls)
        return result.response

    def _fail_fast(self, exchange: Exchange, prepared: Prepared, result: AttemptResult) -> Response:
        response = error_passthrough(exchange, prepared.wire, result)
        response.headers.update(exchange_headers(exchange, prepared))
        response.headers["x-sidecar-attempts"] = str(exchange.calls)
        return response

    def _retry_delay(
        self, last: tuple[Target, AttemptResult] | None, backoff: Backoff, attempt_no: int
    ) -> float | None:
        outcome: Outcome | None = last[1].outcome if last else None
        if outcome is not None and outcome.kind is OutcomeKind.RETRY_SAME and outcome.retry_after_s is not None:
            return rate_limited_delay(outcome.retry_after_s, self._states.rng)
        return backoff.delay(attempt_no - 1)

    def _skip(self, exchange: Exchange, target: Target, reason: str) -> None:
        exchange.record(AttemptRecord(target.name, target.provider.name, reason, None, 0.0, called=False))
        exchange.trace.skipped(target=target.key, reason=reason)
        exchange.fallback_reason = exchange.fallback_reason or reason

    def _larger_context(self, exchange: Exchange, chain: tuple[Target, ...], index: int, failed: Target) -> int:
        """The index of the next target whose context window beats ``failed``'s; skipped ones recorded."""
        floor = failed.context_window or 0
        while index < len(chain):
            candidate = chain[index]
            if (candidate.context_window or 0) > floor:
                return index
            self._skip(exchange, candidate, "context_too_small")
            index += 1
        return index
