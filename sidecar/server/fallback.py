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
When every target has failed, the route's last resort answers (``last_resort``).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiohttp import web

from ..policy.compiled import Target
from ..resilience.backoff import Backoff, rate_limited_delay
from ..resilience.bulkhead import BulkheadFull
from ..resilience.classify import Outcome, OutcomeKind
from ..translate import TranslationError, UnsupportedParameter
from ..upstream import NoEquivalentOperation
from .attempt import Attempt, AttemptResult, error_passthrough, prepare
from .errors import RequestFailed
from .exchange import AttemptRecord, Exchange, telemetry_usage
from .last_resort import answer_last_resort
from .stream import exchange_headers
from .targets import TargetStates

if TYPE_CHECKING:
    from ..telemetry import Telemetry


class Executor:
    """The terminal stage of the pipeline: runs the route's chain."""

    def __init__(self, attempt: Attempt, states: TargetStates, telemetry: Telemetry) -> None:
        self._attempt = attempt
        self._states = states
        self._telemetry = telemetry

    async def __call__(self, exchange: Exchange) -> web.StreamResponse:
        route = exchange.route
        assert route is not None
        settings = route.settings.resilience
        assert settings.deadline_s is not None and settings.max_attempts_per_target is not None
        assert settings.backoff is not None and settings.rate_limit_max_wait_s is not None
        deadline = time.monotonic() + settings.deadline_s
        backoff = Backoff(settings.backoff.base_s, settings.backoff.cap_s, self._states.rng)
        chain = route.chain
        last: tuple[Target, AttemptResult] | None = None
        untranslatable: list[str] = []
        index = 0
        while index < len(chain):
            target = chain[index]
            index += 1
            is_last = index == len(chain)
            state = self._states.get(target, exchange.policy)
            if state.breaker.is_rate_limited() and not is_last:
                wait = state.breaker.rate_limited_until - time.monotonic()
                if wait > settings.rate_limit_max_wait_s:
                    self._skip(exchange, target, "rate_limited")
                    continue
            try:
                prepared = prepare(exchange, target, route.settings.unsupported_params)
            except UnsupportedParameter as exc:
                raise RequestFailed(
                    400,
                    f"parameter {exc.name!r} has no equivalent on {target.provider.kind} "
                    f"(model {target.name}); "
                    "the policy refuses it (unsupported_params: error)",
                    code="unsupported_parameter",
                    param=exc.name,
                ) from None
            except (NoEquivalentOperation, TranslationError) as exc:
                self._skip(exchange, target, "untranslatable")
                untranslatable.append(f"{target.name}: {exc}")
                continue
            state.budget.record_request()
            timeouts = settings.timeouts or target.provider.timeouts
            for attempt_no in range(settings.max_attempts_per_target):
                if attempt_no:
                    delay = self._retry_delay(last, backoff, attempt_no)
                    if delay is None or not state.budget.try_spend_retry():
                        break
                    if time.monotonic() + delay >= deadline:
                        break
                    await asyncio.sleep(delay)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                permit = state.breaker.try_acquire()
                if permit is None:
                    self._skip(exchange, target, "breaker_open")
                    break
                trace = exchange.trace.attempt(
                    target=target.key,
                    provider=target.provider.name,
                    provider_name=_otel_provider(target, prepared.wire),
                    request_model=target.upstream_model,
                    server_address=target.provider.host,
                    server_port=target.provider.port,
                    resend_count=exchange.calls(),
                    breaker_state=str(state.breaker.state),
                )
                started = time.monotonic()
                try:
                    async with state.bulkhead.slot():
                        result = await self._attempt.run(exchange, prepared, timeouts, trace, remaining)
                except BulkheadFull:
                    permit.release()
                    trace.finish(status=None, error_type="bulkhead_full")
                    self._skip(exchange, target, "bulkhead_full")
                    break
                except BaseException:
                    permit.release()  # cancelled (client gone) or a bug: neither is the target's fault
                    trace.finish(status=None, error_type="cancelled")
                    raise
                elapsed = time.monotonic() - started
                outcome = result.outcome
                if outcome.breaker_failure:
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
                exchange.attempts.append(
                    AttemptRecord(
                        target.name,
                        target.provider.name,
                        "ok" if outcome.kind is OutcomeKind.SUCCESS else outcome.error_type,
                        result.upstream_status,
                        elapsed * 1000,
                    )
                )
                if result.response is not None:  # an answer, or a committed stream
                    exchange.served = target
                    exchange.usage = result.usage
                    if not result.response.prepared:
                        result.response.headers.update(exchange_headers(exchange, prepared))
                        result.response.headers["x-sidecar-attempts"] = str(exchange.calls())
                    return result.response
                last = (target, result)
                if outcome.kind is OutcomeKind.FAIL_FAST:
                    response = error_passthrough(exchange, prepared.wire, result)
                    response.headers.update(exchange_headers(exchange, prepared))
                    response.headers["x-sidecar-attempts"] = str(exchange.calls())
                    return response
                exchange.fallback_reason = outcome.error_type
                if outcome.kind is OutcomeKind.CONTEXT_OVERFLOW:
                    index = self._larger_context(exchange, chain, index, target)
                    if index >= len(chain):
                        response = error_passthrough(exchange, prepared.wire, result)
                        response.headers.update(exchange_headers(exchange, prepared))
                        return response
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
        if untranslatable and not exchange.calls():
            raise RequestFailed(
                400,
                "no target of the route can take this request: " + "; ".join(untranslatable),
                code="untranslatable_request",
            )
        return await answer_last_resort(exchange, last)

    def _retry_delay(
        self, last: tuple[Target, AttemptResult] | None, backoff: Backoff, attempt_no: int
    ) -> float | None:
        outcome: Outcome | None = last[1].outcome if last else None
        if (
            outcome is not None
            and outcome.kind is OutcomeKind.RETRY_SAME
            and outcome.retry_after_s is not None
        ):
            return rate_limited_delay(outcome.retry_after_s, self._states.rng)
        return backoff.delay(attempt_no - 1)

    def _skip(self, exchange: Exchange, target: Target, reason: str) -> None:
        exchange.attempts.append(
            AttemptRecord(target.name, target.provider.name, reason, None, 0.0, called=False)
        )
        exchange.trace.skipped(target=target.key, reason=reason)
        exchange.fallback_reason = exchange.fallback_reason or reason

    def _larger_context(
        self, exchange: Exchange, chain: tuple[Target, ...], index: int, failed: Target
    ) -> int:
        """The index of the next target whose context window beats ``failed``'s; skipped ones recorded."""
        floor = failed.context_window or 0
        while index < len(chain):
            candidate = chain[index]
            if (candidate.context_window or 0) > floor:
                return index
            self._skip(exchange, candidate, "context_too_small")
            index += 1
        return index


def _otel_provider(target: Target, wire: object) -> str:
    kind = str(target.provider.kind)
    return {
        "openai": "openai",
        "azure-openai": "azure.ai.openai",
        "anthropic": "anthropic",
        "gemini": "gcp.gemini",
    }.get(kind, str(wire))
