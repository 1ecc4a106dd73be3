"""The per-request record every stage reads and fills: one object, no globals.

Who fills what, in pipeline order:

- the handler (``app``): the request, its endpoint, the policy it keeps to its end, the request id, the
  trace, and ``facts`` as the endpoint alone says (dialect, operation);
- ``read_stage``: ``raw`` (the body's bytes) and ``facts`` (``request_facts.RequestFacts``: model,
  stream, app, body; features on demand);
- ``route_request`` (or ``routing.stage.routing_stage``, which also routes by task and cost): ``route``;
- stages around the terminal one: ``taps``, ``hooks``, ``hold_stream`` (``hooks``); the quality gates
  (``gating``): ``gated``, ``gate_passed``, ``gate_rejections``, ``gate_failure``; shadow evaluation
  (``shadowing``): ``shadow``;
- an ensemble (``ensemble``): ``ensemble`` (the vote, for ``x-sidecar-ensemble``) and
  ``upstream_request_ids`` (the providers' ids of its calls that answered), ``call_costs`` (each call's
  cost, for the budgets); on a member's exchange,
  ``upstream_logprobs`` (its translated calls ask for log-probabilities);
- the budget stage (``budget``): ``budget`` and ``budget_headers``; ``cancelled_use`` when the app went
  away after a call started (what it charged, for the access line); the relay (``stream``): ``cut_use``
  when a committed or held stream was cut by the app's leaving or the drain (what it used, estimated);
- the fallback loop: ``attempts`` (``record``), ``calls`` (counted when each call starts),
  ``fallback_reason``, ``billed_failures`` (calls accepted, then failed: ``billed``), then, for the
  response the caller gets, ``answered_by`` (the target whose answer or own error it is), ``dropped``
  and, for a whole answer, ``upstream_answer`` (the upstream's body already parsed, so the cache need
  not parse it again); ``usage``, ``bytes_out``, ``stream_error`` as it is sent, ``upstream_error_code``
  (the upstream's error code, when the app got its error in another provider's words) (``usage_later``
  instead of ``usage`` when no stage reads it before the answer's head: read from ``upstream_answer``
  by the handler just before it, for ``x-sidecar-cost``); ``billed``, the bill that head said
  (``bill.add_cost_header``), which the access line reuses;
  ``degraded`` when the route's last resort answered;
- the cache stage (``cache_stage``): ``cache`` (hit, miss, stale, bypass) and ``cache_age_s``, and
  ``stale_answer``, which the last resort ``kind: cache`` calls.

``answer_headers.sidecar_headers`` reads these fields for the ``x-sidecar-*`` headers of every answer;
``access`` reads them for the access line and the request's telemetry.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp.web import BaseRequest, StreamResponse

from ..dialects import Dialect
from ..dialects.base import Endpoint
from ..policy.compiled import Policy, Route, Target
from ..request_facts import RequestFacts
from ..translate import RequestParams, Usage, extract_request_params, extract_usage

if TYPE_CHECKING:
    from ..budgets import Admission
    from ..budgets.call_holds import CallCost
    from ..gates.checks import GateFailure
    from ..resilience.breaker import Permit
    from ..telemetry import AttemptTrace, RequestTrace
    from .bill import Bill
    from .hooks import ChainHook, StreamTap
    from .stream_answer import StreamHold


NO_USAGE = Usage()  # (frozen) no tokens at all


@dataclass(slots=True)
class AttemptRecord:
    """One try of one target, as listed in the 503 body and the access line."""

    target: str
    provider: str
    outcome: str  # "ok" or the error type ("http_503", "timeout_first_byte", "breaker_open", ...)
    status: int | None
    latency_ms: float
    called: bool = True  # False: skipped without a network call
    detail: str = ""  # why it failed, in words (``Outcome.detail``): the provider's message, the key's source...

    def as_dict(self) -> dict[str, Any]:
        fields = {
            "target": self.target,
            "provider": self.provider,
            "outcome": self.outcome,
            "status": self.status,
            "latency_ms": round(self.latency_ms, 2),
            "called": self.called,
        }
        if self.detail:
            fields["detail"] = self.detail
        return fields

    def describe(self) -> str:
        """``target: outcome``, and ``(detail)`` when there is one: the attempt in an error message."""
        return f"{self.target}: {self.outcome} ({self.detail})" if self.detail else f"{self.target}: {self.outcome}"


@dataclass(slots=True, eq=False)
class Exchange:
    request: BaseRequest
    endpoint: Endpoint
    policy: Policy
    request_id: str
    trace: RequestTrace
    facts: RequestFacts
    started: float = field(default_factory=time.perf_counter)
    raw: bytes = b""
    route: Route | None = None
    taps: tuple[StreamTap, ...] = ()
    hooks: tuple[ChainHook, ...] = ()
    # A hook may refuse a streamed answer: hold it whole before sending it, its bytes counted here (the gates')
    hold_stream: StreamHold | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)  # append only through record()
    calls: int = 0  # upstream calls made so far (counted as each starts)
    answered_by: Target | None = None  # whose response the caller gets: its answer, or its own error
    # A whole answer the fallback loop delivered: (the response, the upstream's wire dialect, its parsed body)
    upstream_answer: tuple[StreamResponse, Dialect, dict[str, Any]] | None = None
    dropped: tuple[str, ...] = ()  # parameters dropped in translation (unsupported_params: drop)
    fallback_reason: str | None = None
    degraded: str | None = None  # the route's last resort answered: "static", "cache-unavailable"
    usage: Usage | None = None
    billed: Bill | None = None  # the bill the answer's head said (``x-sidecar-cost``), for the access line
    bytes_out: int = 0
    stream_error: str | None = None  # set when a committed stream ended with an error event
    # The upstream's own error code, when the app got the error in its own provider's words (another dialect)
    upstream_error_code: str | None = None
    committed: bool = False  # a stream's first bytes went to the caller; nothing may replace them
    stream: StreamResponse | None = None  # the stream committed to the caller (its error event at a drain cut)
    drain_cut: bool = False  # the drain timeout cut the request (``drain``): a 503, not the app's 499
    # The handler's own exchange (not a child's: an ensemble member, a shadow call): its answer goes out
    # before its telemetry, its successful calls' included (``Calls.call``, ``AttemptTrace.finish(keep=)``)
    answer_first: bool = False
    # No stage reads a whole answer's usage before the answer's head (``Pipelines.usage_after_answer``): the
    # answering call leaves it unread (``attempt._answered``), ``deliver`` leaves here the call's kept
    # telemetry, which awaits it, and ``read_usage_later`` reads it from ``upstream_answer`` just before the
    # handler writes the head (its ``x-sidecar-cost``), before the access line and the request's telemetry
    usage_after_answer: bool = False
    usage_later: AttemptTrace | None = None
    # On such a request, its answering call's report to its breaker and its ``attempts`` record, left by
    # ``Calls.call`` for after the answer is handed to the socket (``record_answered_call``): (the permit,
    # the call's duration, its target, its upstream status), all taken when the call ended
    answered_call: tuple[Permit | None, float, Target, int | None] | None = None
    on_commit: Callable[[], None] | None = None  # set while hedged calls race
    racing: bool = False  # a hedge asks the hooks about its second call while the first is in flight
    # Set by a hook that holds something per call of a hedged race (the budgets: a reservation each), and
    # called by the race once it is over, with the target whose result counts (``hedge``)
    on_race_end: Callable[[Target], None] | None = None
    # Asked before another call of the same target (a retry, a gate's re-ask), the earlier call's cost known:
    # a reason not to make it (set by the budgets: the reservation renewed once that cost is charged)
    again: Callable[[Exchange, Target], Awaitable[str | None]] | None = None
    admission: Admission | None = None  # the budgets' reservation, when ``again`` renews it (``server.budget``)
    params: RequestParams | None = None  # see request_params()
    unserved_cost_usd: float = 0.0  # calls whose answer the caller did not get: gate-rejected, ensemble, judge
    # their tokens by part (input, output, cached, cache writes: the access line; ``unserved_tokens``: budgets)
    unserved_usage: Usage = NO_USAGE
    unserved_estimated: bool = False  # some of them are the sidecar's estimates (``billed``)
    # The app went away after a call started: what the budgets charged for it (``budget_use.used_when_cancelled``)
    # and the model it is priced as, for the access line's tokens and cost.
    cancelled_use: tuple[Usage, Target] | None = None
    # A stream cut after its commit point or while held (the app went away, the drain): what the provider
    # counted, its output at least the text sent or held, estimated (``stream``, ``billed.used_so_far``),
    # and the target it is priced as, for the access line and the budgets.
    cut_use: tuple[Usage, Target] | None = None
    hedge_cut: str | None = None  # the hedged race's loser, cut after its call started (its prompt is unserved)
    hedge_cuts: tuple[AttemptRecord, ...] = ()  # every such call, charged so by the race (not again: ``children``)
    billed_failures: tuple[str, ...] = ()  # "target:error_type" of calls accepted, then failed (``billed``): unserved
    # An ensemble member of a caller whose dialect cannot ask for log-probabilities (Anthropic) under
    # ``strategy: confidence``: a translated target is asked for them (``attempt.prepare``)
    upstream_logprobs: bool = False
    # An ensemble's calls' costs, per member and the judge: what the budgets settle per call, each on the
    # target it is held on (``Admission.charge_calls``)
    call_costs: tuple[CallCost, ...] | None = None
    ensemble: str | None = None  # the ensemble's vote (ensemble.Decision.header()), for x-sidecar-ensemble
    upstream_request_ids: str = ""  # an ensemble's "member=provider's request id, ..." (its answering calls)
    gated: bool = False  # the route's quality gates check this request's answers
    gate_passed: bool = False  # the answer sent passed them
    gate_rejections: list[str] = field(default_factory=list)  # "target:gate" for each answer rejected
    gate_failure: GateFailure | None = None  # the last rejection: the error when no answer passes
    shadow: str | None = None  # "sampled": candidates are also asked, in the background
    budget: str | None = None  # a budget limit acted: "deny:team-day", "warn:key-rpm", "store:fallback"
    budget_headers: tuple[tuple[str, str], ...] = ()  # x-sidecar-budget-*, RateLimit (server.budget)
    cache: str | None = None  # the response cache's say: "hit", "miss", "stale", "bypass" (caching routes only)
    cache_age_s: float | None = None  # a hit's or a stale answer's age (the Age header)
    # The last resort kind: cache, called with this exchange (it must not hold it: a cycle would leave
    # every exchange to the garbage collector).
    stale_answer: Callable[[Exchange], Awaitable[StreamResponse | None]] | None = None

    @property
    def unserved_tokens(self) -> int:
        """The input and output tokens of the calls whose answer the caller did not get (budgets count them)."""
        unserved = self.unserved_usage
        return unserved.input_tokens + unserved.output_tokens

    def request_params(self) -> RequestParams:
        """Sampling parameters of the request (for span attributes; computed once, only when traced)."""
        if self.params is None:
            self.params = extract_request_params(self.facts.dialect, self.facts.body)
        return self.params

    def read_usage_later(self) -> None:
        """The answer's usage left unread by the stages (``usage_later``): read now, just before the answer's
        head (its ``x-sidecar-cost``), for the access line, cost's sake, and the answering call's kept
        telemetry."""
        attempt, answer = self.usage_later, self.upstream_answer
        if attempt is not None and answer is not None:  # ``deliver`` sets both
            self.usage_later = None
            _, wire, parsed = answer
            self.usage = extract_usage(wire, parsed)
            attempt.kept_usage(self.usage)  # the telemetry reads its counts (``genai.Tokens``)

    def gate_verdict(self) -> str:
        """A gated request's word on its gates, the same in ``x-sidecar-gates`` and the access line's
        ``gates``: ``passed`` (the answer sent passed them), ``failed`` (answers came and the gates rejected
        the last one), ``unchecked`` (no answer reached them: every call failed, or the last resort
        answered without one)."""
        return "passed" if self.gate_passed else ("failed" if self.gate_failure else "unchecked")

    def record(self, attempt: AttemptRecord) -> None:
        """Add one attempt (a call, or a target skipped without one) to the request's record."""
        self.attempts.append(attempt)

    def record_answered_call(self) -> None:
        """The answering call ``Calls.call`` left for after the answer (``answered_call``): its success to its
        breaker (none for a panic call), its record (``ok``) to ``attempts``, with the duration and status taken
        when the call ended. The handler calls it after the answer's hand-off, before the access line, and
        before anything that reads ``attempts`` on a failure's way (it is the request's last call: a
        success ends the walk of a policy whose calls leave it, ``Calls.call``)."""
        answered = self.answered_call
        if answered is not None:
            self.answered_call = None
            permit, elapsed, target, status = answered
            if permit is not None:
                permit.record_success(elapsed)
            self.attempts.append(AttemptRecord(target.name, target.provider.name, "ok", status, elapsed * 1000))
