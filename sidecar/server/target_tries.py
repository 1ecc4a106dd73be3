"""The per-target unit of the fallback loop: every try of one target, and what the chain does next.

``TargetTries.run(run, target, rest)`` makes the target's calls and ends in a ``Step``::

    call -> an answer               the hooks (``hooks.ChainHook.after_answer``) accept it: the answer;
                                    NEXT_TARGET: next target; SAME_TARGET: try this one again
         -> FAIL_FAST               the upstream's own error to the caller (the request is wrong): the answer
         -> RETRY_SAME (429)        wait the provider's hint (jittered) if within rate_limit_max_wait_s, retry
         -> FALLBACK                next target at once; on the last target, retry with backoff
                                    (not when the provider said ``x-should-retry: false``)
         -> CONTEXT_OVERFLOW        next target with a larger context window (``Step.above_context``)
         skipped (breaker open, bulkhead full): next target

Before another call of the same target (a retry, a re-ask), ``exchange.again`` (the budgets'), when set,
may refuse it: recorded as a skip, the chain moves on. Retries are bounded three ways:
``max_attempts_per_target``, the target's retry budget (retries are a fraction of its requests, so an
outage never multiplies load; a retry it refuses is recorded as a skip, ``retry_budget``), and the
request's deadline (past it: ``Step.stop``). With ``hedge.after_s`` set, a target's first call races the
next target when it has no first byte in time (``hedge``); the next target is then spent
(``Step.hedged``), unless a hook refused its call.

``ChainRun`` is what the tries of one chain share: the deadline, the backoff, the last failure (for
the last resort), the targets the request could not be translated for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field

import orjson
from aiohttp.web import Response, StreamResponse

from ..dialects import Dialect
from ..policy.compiled import Target
from ..policy.resilience_plan import Tries
from ..resilience.backoff import Backoff, rate_limited_delay
from ..resilience.classify import OutcomeKind
from ..translate import translate_error
from ..translate.errors import error_code
from .attempt import AttemptResult
from .billed import add_unserved, charge_unreported
from .calls import Calls, Candidate, skip
from .exchange import Exchange
from .hedge import Race, hedged_call
from .hooks import Verdict

# A global: Python 3.11 leaves an Enum member's read through its class unspecialized (~900 instructions, "Wave 47")
_ACCEPT = Verdict.ACCEPT


@dataclass(slots=True)
class ChainRun:
    """What the tries of one chain share."""

    exchange: Exchange
    settings: Tries  # the route's (``RouteSettings.tries``)
    deadline: float  # time.monotonic() past which no call starts
    backoff: Backoff | None = None  # made on the first backoff
    last: tuple[Candidate, AttemptResult] | None = None  # the last failure, for the last resort
    untranslatable: list[str] = field(default_factory=list)  # "target: why" for each one skipped so

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


@dataclass(slots=True)
class Step:
    """What one target's tries came to: ``response`` (an answer, or the upstream's own error: the chain
    ends), ``stop`` (the deadline passed), or neither (the next target), ``hedged`` when the next target
    was already called, ``above_context`` when only a target with a larger context window may serve,
    ``called`` False when the target was passed over without a call."""

    response: StreamResponse | None = None
    stop: bool = False
    hedged: bool = False
    above_context: int | None = None
    called: bool = True  # False: skipped before any call (a hook's reason, rate-limited, untranslatable)


class TargetTries:
    """Runs one target's tries (see the module docstring)."""

    def __init__(self, calls: Calls) -> None:
        self._calls = calls

    async def run(self, run: ChainRun, target: Target, rest: list[Target]) -> Step:
        """Try ``target``; ``rest`` are the chain's targets after it (a hedge may call the first)."""
        exchange, settings = run.exchange, run.settings
        candidate = await self._first_candidate(run, target, rest)
        if candidate is None:
            return Step(called=False)
        hedged = False
        reask = False  # the last answer was refused with a re-ask: no backoff, the request is re-prepared
        for attempt_no in range(settings.max_attempts_per_target):
            if attempt_no and not reask and not await self._wait_to_retry(run, candidate, attempt_no):
                break
            reask = False
            if attempt_no and exchange.again is not None and not await self._again(exchange, target):
                break
            remaining = run.deadline - time.monotonic()
            if remaining <= 0:
                return Step(stop=True, hedged=hedged)
            if attempt_no == 0 and settings.hedge is not None and rest:  # the first call races rest[0]
                race = await self._hedged(run, candidate, rest)
                if race.hedged:
                    hedged, rest = True, rest[1:]  # the next target had its call in the race
                used, result = race.winner, race.result
            else:  # one call, no race: neither a frame nor a ``Race`` of its own (about 1,500 instructions)
                used, result = candidate, await self._calls.call(exchange, candidate, remaining)
            if result is None:
                break  # skipped: breaker open, bulkhead full
            if result.response is not None or result.held is not None:
                verdict = await self._judge(exchange, used, result) if exchange.hooks else _ACCEPT
                if verdict is _ACCEPT:
                    return Step(await deliver(exchange, used, result), hedged=hedged)
                again = self._refused(run, target, used, result, verdict, rest)
                if again is None:
                    break
                candidate, reask = again, True
                continue
            step = self._after_failure(run, used, result, rest, hedged)
            if step is not None:
                return step
        return Step(hedged=hedged)

    async def _first_candidate(self, run: ChainRun, target: Target, rest: list[Target]) -> Candidate | None:
        """``target``'s request prepared for its first call, its request counted; None when it is passed
        over without a call (a hook's reason, rate-limited, untranslatable)."""
        exchange = run.exchange
        if exchange.hooks and not await self.cleared(exchange, target):
            return None
        candidate = self._calls.candidate(exchange, target, run.settings, not rest, run.untranslatable)
        if candidate is not None:
            candidate.state.budget.record_request()
        return candidate

    def _hedged(self, run: ChainRun, candidate: Candidate, rest: list[Target]) -> Awaitable[Race]:
        """``candidate``'s first call, racing ``rest[0]`` (the route hedges: ``hedge``)."""
        return hedged_call(
            self._calls, run.exchange, candidate, rest, run.settings, run.deadline, run.untranslatable, self.cleared
        )

    def _refused(
        self,
        run: ChainRun,
        target: Target,
        used: Candidate,
        result: AttemptResult,
        verdict: Verdict,
        rest: list[Target],
    ) -> Candidate | None:
        """The hooks refused ``used``'s answer (its cost is unserved): the request prepared again for a
        re-ask (SAME_TARGET: a hook changed it), or None for the next target."""
        exchange = run.exchange
        if result.held is not None:  # a refused held stream is dropped: its bytes are given back
            result.held.let_go()
        if result.usage is None:  # generated and billed all the same: estimated
            answer = result.held if result.held is not None else result.response
            assert answer is not None
            charge_unreported(exchange, used.target, answer)
        else:
            add_unserved(exchange, used.target, result.usage, estimated=False)
        if verdict is Verdict.NEXT_TARGET:
            exchange.fallback_reason = exchange.fallback_reason or "rejected_answer"
            return None
        return self._calls.candidate(exchange, target, run.settings, not rest, run.untranslatable)

    @staticmethod
    def _after_failure(
        run: ChainRun, used: Candidate, result: AttemptResult, rest: list[Target], hedged: bool
    ) -> Step | None:
        """What a failed call leads to: the chain's ``Step`` (the upstream's own error for the caller, a
        larger context window, the next target), or None to try this target again."""
        settings, exchange = run.settings, run.exchange
        run.last = (used, result)
        outcome = result.outcome
        if outcome.kind is OutcomeKind.FAIL_FAST:
            return Step(fail_fast(exchange, used, result), hedged=hedged)
        exchange.fallback_reason = outcome.error_type
        if outcome.kind is OutcomeKind.CONTEXT_OVERFLOW:
            return Step(hedged=hedged, above_context=used.target.context_window or 0)
        if (outcome.kind is OutcomeKind.FALLBACK and rest) or outcome.no_retry:
            return Step(hedged=hedged)  # the next target; or the provider said x-should-retry: false
        if outcome.kind is OutcomeKind.RETRY_SAME:
            hint = outcome.retry_after_s
            if hint is not None and hint > settings.rate_limit_max_wait_s:
                return Step(hedged=hedged)  # not worth waiting: next target, or the 429 itself to the caller
        return None

    @staticmethod
    async def _again(exchange: Exchange, target: Target) -> bool:
        """True when ``exchange.again`` lets ``target`` be called again (a retry, a re-ask); else recorded
        as a skip, and the chain moves on."""
        assert exchange.again is not None
        reason = await exchange.again(exchange, target)
        if reason is not None:
            skip(exchange, target, reason)
            return False
        return True

    async def cleared(self, exchange: Exchange, target: Target) -> bool:
        """True when no hook has a reason to skip ``target`` (``ChainHook.before_target``); else recorded."""
        for hook in exchange.hooks:
            reason = await hook.before_target(exchange, target)
            if reason is not None:
                skip(exchange, target, reason)
                return False
        return True

    async def _wait_to_retry(self, run: ChainRun, candidate: Candidate, attempt_no: int) -> bool:
        """Wait before retry ``attempt_no``; False when no retry may be made (budget, deadline)."""
        settings = run.settings
        if run.backoff is None:
            run.backoff = Backoff(settings.backoff.base_s, settings.backoff.cap_s, self._calls.states.rng)
        outcome = run.last[1].outcome if run.last else None
        if outcome is not None and outcome.kind is OutcomeKind.RETRY_SAME and outcome.retry_after_s is not None:
            delay = rate_limited_delay(outcome.retry_after_s, self._calls.states.rng)
        else:
            delay = run.backoff.delay(attempt_no - 1)
        if time.monotonic() + delay >= run.deadline:
            return False
        if not candidate.state.budget.try_spend_retry():
            skip(run.exchange, candidate.target, "retry_budget")  # the log says why no retry came
            return False
        await asyncio.sleep(delay)
        return True

    async def _judge(self, exchange: Exchange, used: Candidate, result: AttemptResult) -> Verdict:
        """The hooks' verdict on an answer; a committed stream can only be accepted."""
        answer = result.held if result.held is not None else result.response
        assert answer is not None
        verdict = Verdict.ACCEPT
        for hook in exchange.hooks:
            said = await hook.after_answer(exchange, used.target, answer)
            if verdict is Verdict.ACCEPT:
                verdict = said
        if isinstance(answer, StreamResponse) and answer.prepared:
            return Verdict.ACCEPT
        return verdict


async def deliver(exchange: Exchange, used: Candidate, result: AttemptResult) -> StreamResponse:
    """``used``'s answer is the caller's: record it as such, and send it when it was held."""
    exchange.answered_by = used.target
    exchange.dropped = used.prepared.dropped
    exchange.usage = result.usage
    if result.held is not None:
        return await result.held.send(exchange)
    assert result.response is not None
    if result.parsed is not None:
        exchange.upstream_answer = (result.response, used.prepared.wire, result.parsed)
        exchange.usage_later = result.usage_later  # its usage unread: the handler reads it after the answer
    return result.response


def fail_fast(exchange: Exchange, used: Candidate, result: AttemptResult) -> Response:
    """The upstream's own error is the caller's answer (the request itself is wrong)."""
    exchange.answered_by = used.target
    exchange.dropped = used.prepared.dropped
    return error_passthrough(exchange, used.prepared.wire, result)


def error_status(result: AttemptResult) -> int:
    """The status of the upstream's error ``result`` holds: its answer's 4xx/5xx, or, for an error event in a
    200 stream (kept as ``upstream_body``: ``stream_ends``), the status the event stands for (an Anthropic
    ``overloaded_error`` 529, a Gemini ``UNAVAILABLE`` 503); 0 for no error body."""
    if not result.upstream_body:
        return 0
    status = result.upstream_status or 0
    return status if status >= 400 else result.outcome.status or 0


def error_passthrough(exchange: Exchange, wire: Dialect, result: AttemptResult) -> Response:
    """The upstream's own error, for the caller: as is in the same dialect, translated otherwise (in the
    type and code the caller's provider sends for the error's condition; the upstream's own code is kept
    for the access line: ``Exchange.upstream_error_code``). An error event of a stream is answered with
    the status it stands for (``error_status``)."""
    status = error_status(result) or 502
    caller = exchange.facts.dialect
    body = result.upstream_body
    if wire is not caller:
        exchange.upstream_error_code = error_code(body)
        status, translated = translate_error(status, body, source=wire, target=caller)
        body = orjson.dumps(translated)
    relayed = result.upstream_headers or {}
    headers = {k: v for k, v in relayed.items() if k.lower() != "content-type"}
    headers["content-type"] = "application/json"
    return Response(status=status, body=body, headers=headers)
