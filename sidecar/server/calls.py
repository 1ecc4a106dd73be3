"""One upstream call with everything around it: the target made ready, its permit, its slot, its span,
its record. The fallback loop's smallest unit.

For a target of the chain, ``Calls.candidate`` checks it may be tried now and prepares its request
and reads its key once (not per retry): skipped (recorded, no call) while it is rate-limited past what
the route waits for, when the request has no equivalent there (``untranslatable``), or when its key
or its provider's ``tls`` files cannot be read (``credentials``, ``tls_config``: not a call, nor a
breaker failure); a parameter the policy refuses
to drop answers 400, unless a target before it was called and failed (a fallback): then it is skipped
too (``untranslatable``), and that failure, not a 400 for a request its first target took, answers.
``Calls.call`` then makes one call, in this order::

    breaker permit (none: skip "breaker_open")
        -> bulkhead slot (none free: ``_wait_for_slot``; full: skip "bulkhead_full") -> attempt span
        -> Attempt.run -> ``_report``: permit success / failure / released, a 429's wait, the target's
           health -> span ended (a success of the request's own exchange: its timings taken, its metrics
           and span kept until the request's end, after the answer is written), recorded

On a policy whose stages read no answer before it is out (``Exchange.usage_after_answer``), the answering
call's report (a success) and its record are left, as they were taken, for the handler to make after the
answer's hand-off (``Exchange.record_answered_call``); a half-open breaker's probe reports at once.

Every call is counted on the exchange when it starts, with its slot (``exchange.calls``); a call cancelled (the app
went away, or a hedge lost its race) is recorded as ``cancelled`` and releases its permit: not the
target's fault. A request cancelled while it waits for a bulkhead slot made no call: it is recorded
as a skip (``cancelled``, not called), as a full bulkhead is. A task with a cancel request outstanding
(its ``CancelledError`` dropped by a library on the way) makes no call: ``call`` raises it again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..credentials import CredentialError
from ..policy.compiled import Target
from ..policy.resilience_plan import AttemptTimeouts, Tries
from ..resilience.breaker import Permit
from ..resilience.bulkhead import Bulkhead, BulkheadFull
from ..resilience.classify import OutcomeKind
from ..translate import TranslationError, UnsupportedParameter
from ..upstream import NoEquivalentOperation, TLSConfigError
from .attempt import Attempt, AttemptResult, prepare
from .errors import RequestFailed
from .exchange import AttemptRecord, Exchange
from .prepared import Prepared
from .targets import TargetState, TargetStates

if TYPE_CHECKING:
    from ..telemetry import Telemetry


# A global: Python 3.11 leaves an Enum member's read through its class unspecialized (~900 instructions, "Wave 47")
_SUCCEEDED = OutcomeKind.SUCCESS

UNCALLABLE = frozenset({"credentials", "tls_config"})
"""Skip reasons of a target the sidecar cannot call at all (its key, its ``tls`` files cannot be read): a
later try of the request would find the same."""


@dataclass(slots=True)
class Candidate:
    """A target ready to be called: its health state, its prepared request, its timeouts."""

    target: Target
    state: TargetState
    prepared: Prepared
    timeouts: AttemptTimeouts
    key: str | None  # the provider's key for this request (``Attempt.key_for``)


class Calls:
    """Makes the calls of every request (one per process, on the app)."""

    def __init__(self, attempt: Attempt, states: TargetStates, telemetry: Telemetry) -> None:
        self._attempt = attempt
        self.states = states
        self._telemetry = telemetry

    def candidate(
        self, exchange: Exchange, target: Target, settings: Tries, is_last: bool, untranslatable: list[str]
    ) -> Candidate | None:
        """Prepare ``target``, or record why it is skipped (rate-limited, untranslatable)."""
        assert exchange.route is not None
        state = self.states.get(target, exchange.policy)
        if state.breaker.is_rate_limited() and not is_last:
            wait = state.breaker.rate_limited_until - time.monotonic()
            if wait > settings.rate_limit_max_wait_s:
                skip(exchange, target, "rate_limited")
                return None
        try:
            prepared = prepare(exchange, target, exchange.route.settings.unsupported_params)
        except UnsupportedParameter as exc:
            if exchange.calls:  # a target before it failed: its failure answers, not a 400 for a valid request
                skip(exchange, target, "untranslatable")
                untranslatable.append(f"{target.name}: {exc}")
                return None
            raise RequestFailed(
                400,
                f"parameter {exc.name!r} has no equivalent on {target.provider.speaks or target.provider.kind} "
                f"(model {target.name}){': ' + exc.detail if exc.detail else ''}; "
                "the policy refuses it (unsupported_params: error)",
                code="unsupported_parameter",
                param=exc.name,
            ) from None
        except (NoEquivalentOperation, TranslationError) as exc:
            skip(exchange, target, "untranslatable")
            untranslatable.append(f"{target.name}: {exc}")
            return None
        try:
            key = self._attempt.key_for(exchange, target)
        except CredentialError as exc:
            spec = target.provider.api_key
            self._uncallable(exchange, target, state, "credentials", str(exc), own=spec is None or not spec.passthrough)
            return None
        if target.provider.tls is not None:  # a provider without a ``tls`` block: not even a call here
            try:
                self._attempt.check_tls(target)
            except TLSConfigError as exc:
                self._uncallable(exchange, target, state, "tls_config", str(exc), own=True)
                return None
        return Candidate(target, state, prepared, settings.timeouts or target.provider.attempt_timeouts, key)

    def _uncallable(
        self, exchange: Exchange, target: Target, state: TargetState, reason: str, detail: str, *, own: bool
    ) -> None:
        """``target`` cannot be called (``UNCALLABLE``: its key or its ``tls`` files cannot be read): skipped
        (``reason``, the file or variable in words), so neither an upstream attempt nor a breaker failure.
        A file or variable of the sidecar's ``own`` is the target's ``last_failure`` for /status; an app
        that sent no key (``passthrough``) is the request's fault, not the target's."""
        skip(exchange, target, reason, detail)
        if own:
            self.states.failed(state, reason, None, detail)

    async def call(
        self,
        exchange: Exchange,
        candidate: Candidate,
        remaining: float,
        first_byte: asyncio.Event | None = None,
        *,
        bypass_breaker: bool = False,
    ) -> AttemptResult | None:
        """One upstream call with its permit, bulkhead slot, span and record; None when skipped.

        ``bypass_breaker``: a panic call, which neither needs a permit nor reports to the breaker.
        """
        task = asyncio.current_task(self._attempt.client.loop)  # the loop named: no ``getpid`` system call
        if task is not None and task.cancelling():
            # Cancelled (the app left, a hedge lost) and the CancelledError dropped on its way by a library
            # (Python 3.11's ``asyncio.wait_for`` returns a result that was ready when the cancel came): the
            # cancel request still stands, so no new call is made for a caller that is gone.
            raise asyncio.CancelledError
        target, state = candidate.target, candidate.state
        permit = None if bypass_breaker else state.breaker.try_acquire()
        if permit is None and not bypass_breaker:
            skip(exchange, target, "breaker_open")
            return None
        bulkhead = state.bulkhead
        # a free slot is taken without a coroutine; else wait for one (none: a skip, no call, no span)
        if not bulkhead.try_acquire() and not await _wait_for_slot(exchange, target, bulkhead, permit):
            return None
        recorded = exchange.trace.span is not None  # the span's attributes are made for a recorded request only
        trace = exchange.trace.attempt(
            target=target.key,
            provider=target.provider.name,
            provider_name=target.provider.otel_name,
            request_model=target.upstream_model,
            server_address=target.provider.host,
            server_port=target.provider.port,
            resend_count=exchange.calls,
            breaker_state=str(state.breaker.state) if recorded else "",
            request_params=exchange.request_params() if recorded else None,
        )
        started = time.monotonic()
        exchange.calls += 1
        try:
            try:
                result = await self._attempt.run(
                    exchange, candidate.prepared, candidate.timeouts, trace, remaining, first_byte, key=candidate.key
                )
            finally:
                bulkhead.release()
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
        succeeded = outcome.kind is _SUCCEEDED
        # The answer's bytes need neither this call's report to its breaker nor its ``attempts`` record: on a
        # policy whose stages read neither before the answer is out (``usage_after_answer``: no stage but the
        # route's, no hedge, so its success ends the walk), both are left to the handler, after the answer's
        # hand-off (``Exchange.record_answered_call``), with the duration and status taken now. A closed
        # breaker's success only keeps it closed: at many connections, a failure counted meanwhile is judged
        # against the calls recorded by then, as it would be had this call lasted the write longer. A
        # half-open breaker's probe reports at once: it decides whether the breaker closes.
        later = (
            succeeded and exchange.usage_after_answer and not outcome.detail and (permit is None or not permit.is_probe)
        )
        if not later:
            self._report(state, permit, result, elapsed)
        trace.finish(
            status=result.upstream_status,
            error_type=None if succeeded else outcome.error_type,
            response_model=result.response_model,
            response_id=result.response_id,
            finish_reasons=result.finish_reasons,
            usage=result.usage,  # the telemetry reads its counts (``genai.Tokens``)
            keep=exchange.answer_first,  # the request's own calls: their telemetry after its answer
        )
        if later:
            exchange.answered_call = (permit, elapsed, target, result.upstream_status)
            return result
        exchange.record(
            AttemptRecord(
                target.name,
                target.provider.name,
                "ok" if succeeded else outcome.error_type,
                result.upstream_status,
                elapsed * 1000,
                detail=outcome.detail,
            )
        )
        return result

    def _report(self, state: TargetState, permit: Permit | None, result: AttemptResult, elapsed: float) -> None:
        """The call's outcome to its target: to the breaker through its permit (none: a panic call, which
        the breaker neither granted nor hears about), a 429's wait, a failure of the target's own."""
        outcome = result.outcome
        if permit is None:
            pass
        elif outcome.breaker_failure:
            permit.record_failure(elapsed)
        elif outcome.kind is _SUCCEEDED:
            permit.record_success(elapsed)
        else:
            permit.release()
        if outcome.rate_limited and outcome.retry_after_s is not None:
            state.breaker.mark_rate_limited(time.monotonic() + outcome.retry_after_s)
        if outcome.breaker_failure or outcome.rate_limited:  # the target's fault, not the request's
            self.states.failed(state, outcome.error_type, result.upstream_status, outcome.detail)


async def _wait_for_slot(exchange: Exchange, target: Target, bulkhead: Bulkhead, permit: Permit | None) -> bool:
    """Wait for a slot of the target's full bulkhead; False when none came within the queue timeout (or
    the queue is full too): no call made (its permit released, recorded as a skip, ``bulkhead_full``);
    the caller gone while queued is recorded so (``cancelled``) and raised. The call's span, metrics and
    count start only once it has a slot: a skip is counted once, in ``llm_sidecar_skips_total``. A wait,
    however it ended (``slot``, ``timeout``, ``cancelled``; not a call turned away at once), is observed in
    ``llm_sidecar_bulkhead_wait_seconds``; one that got a slot is the SERVER span's
    ``sidecar.bulkhead.waited`` event."""
    queued = time.monotonic()
    try:
        await bulkhead.acquire()
    except BaseException as exc:  # no slot: no call was made after all
        if permit is not None:
            permit.release()
        waited = time.monotonic() - queued
        if not isinstance(exc, BulkheadFull):  # the caller left while queued
            exchange.trace.waited_for_slot(target=target.key, seconds=waited, outcome="cancelled")
            skip(exchange, target, "cancelled")
            raise
        if exc.queued:
            exchange.trace.waited_for_slot(target=target.key, seconds=waited, outcome="timeout")
        skip(exchange, target, "bulkhead_full")
        return False
    exchange.trace.waited_for_slot(target=target.key, seconds=time.monotonic() - queued, outcome="slot")
    return True


def skip(exchange: Exchange, target: Target, reason: str, detail: str = "") -> None:
    """Record ``target`` as passed over without a call, and why (``detail``: in words, when there are some)."""
    exchange.record(AttemptRecord(target.name, target.provider.name, reason, None, 0.0, called=False, detail=detail))
    exchange.trace.skipped(target=target.key, reason=reason)
    exchange.fallback_reason = exchange.fallback_reason or reason
