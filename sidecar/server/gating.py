"""Quality gates on the request path: a stage that registers a ``GateHook`` on gated routes.

``gate_stage(telemetry, held)`` is the pipeline stage: when the route has ``gates:`` and the request is a chat,
it registers a ``GateHook`` (``hooks.ChainHook``) and, for a stream, sets ``exchange.hold_stream`` (a
gated stream is buffered: the first byte waits for the check), a ``stream_answer.StreamHold`` of the
process's account whose bytes the stage gives back at the request's end. The hook reads each answer (a response
body in the caller's dialect, or a held stream's deltas, ``answers``), checks it (``gates.Gates.check``
against the request's own schema, ``gates.requested_json``, read once) and says what the fallback loop
does next (``gates.next_step``):

- pass: ``ACCEPT``;
- ``reask``: the request gets the rejected answer and the error appended (``gates.reask_body``), and
  ``SAME_TARGET`` asks the same model again (the loop re-prepares the request; re-asks are attempts of
  the target, so ``max_attempts_per_target`` bounds them too);
- else ``NEXT_TARGET``: a cascade. The next target is asked the caller's original request.

When no answer passes, the route's last resort answers 502 ``quality_gate_failed`` naming the gate
(``last_resort``). Every rejection is counted (``llm_sidecar_gate_failures_total``) and listed in
``x-sidecar-gates``; the rejected answer's cost is counted in the request's cost. An ensemble gives
each member its own hook (``fork``): a member whose chain has no passing answer is a failed member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from aiohttp.web import Response, StreamResponse

from ..answers import AnswerView, answer_of_body, answer_of_deltas
from ..dialects import CHAT_OPERATIONS
from ..gates import Expectation, next_step, reask_body, reask_text, requested_json
from ..request_facts import RequestFacts
from ..translate.numbers import exact_body
from .children import with_body
from .exchange import Exchange
from .hooks import Verdict
from .one_answer import refuse_several_choices
from .pipeline import Handler, Stage
from .stream_answer import HeldStream, StreamHold

if TYPE_CHECKING:
    from ..held_bytes import HeldBytes
    from ..policy.compiled import RouteGates, Target
    from ..telemetry import Telemetry


class GateHook:
    """The gates of one exchange (one per request, or per ensemble member)."""

    def __init__(self, gates: RouteGates, facts: RequestFacts, telemetry: Telemetry) -> None:
        self._gates = gates
        self._original = facts  # the request as the caller sent it: what the next target is asked
        self._telemetry = telemetry
        self._expectation: Expectation | None = requested_json(facts.body, facts.dialect, facts.operation)
        self._reasks: dict[str, int] = {}
        self._reasked = False
        self._original_raw: bytes | None = None  # the request's bytes at the first re-ask

    def fork(self, facts: RequestFacts) -> GateHook:
        """The same gates for another exchange (an ensemble member), with its own re-ask count."""
        return GateHook(self._gates, facts, self._telemetry)

    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        if self._reasked:  # a re-ask is over: the next target gets the original request
            self._reasked = False
            exchange.facts = self._original
            exchange.raw = orjson.dumps(exact_body(self._original.body, self._original_raw or b""))
        return None

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        view = _view(exchange, answer)
        if view is None:
            exchange.gate_passed = True  # a committed stream: too late to say anything else
            return Verdict.ACCEPT
        failure = self._gates.gates.check(view, self._expectation)
        if failure is None:
            exchange.gate_passed = True
            return Verdict.ACCEPT
        exchange.gate_passed = False
        exchange.gate_failure = failure
        exchange.gate_rejections.append(f"{target.name}:{failure.gate}")
        spec = self._gates.spec
        done = self._reasks.get(target.name, 0)
        step = next_step(spec, done, 1)  # the loop knows whether a next target is left
        assert exchange.route is not None
        self._telemetry.gate_failed(route=exchange.route.name, gate=failure.gate, action=step)
        if step == "reask":
            self._reasks[target.name] = done + 1
            facts = exchange.facts
            body = reask_body(facts.body, facts.dialect, facts.operation, view, reask_text(spec.reask_prompt, failure))
            reask = with_body(facts, body)
            # routing's decision on the caller's request stays the request's: its headers, access line and
            # savings (before 2026-12-05 a re-asked answer had no x-sidecar-task, task or complexity)
            record = reask.routing = facts.routing
            if record is not None and record.asked is None:  # its features and estimate: the app's request's
                record.asked = facts.features
            exchange.facts = reask
            if self._original_raw is None:
                self._original_raw = exchange.raw
            exchange.raw = orjson.dumps(exact_body(body, self._original_raw))  # integers beyond 64 bits kept
            self._reasked = True
            return Verdict.SAME_TARGET
        return Verdict.NEXT_TARGET


_NO_ANSWER = AnswerView("")
"""What a 2xx body holding no readable answer (``"choices": "nope"``) is checked as: an empty answer,
so a provider that lies with a 200 cannot pass the gates with it."""


def _view(exchange: Exchange, answer: StreamResponse | HeldStream) -> AnswerView | None:
    if isinstance(answer, HeldStream):
        return answer_of_deltas(answer.deltas)
    if isinstance(answer, Response) and isinstance(answer.body, bytes):
        return answer_of_body(answer.body, exchange.facts.dialect) or _NO_ANSWER
    return None


def gate_stage(telemetry: Telemetry, held: HeldBytes) -> Stage:
    """The stage that puts a gated route's ``GateHook`` on the exchange (see the module docstring); a
    stream's held answers take their bytes from the process's account ``held``."""

    async def gate(exchange: Exchange, call_next: Handler) -> StreamResponse:
        route = exchange.route
        facts = exchange.facts
        if route is not None and route.gates is not None and facts.operation in CHAT_OPERATIONS:
            refuse_several_choices(facts, route.name, "the one its quality gates checked")
            exchange.hooks = (*exchange.hooks, GateHook(route.gates, facts, telemetry))
            exchange.gated = True
            if facts.stream:
                exchange.hold_stream = hold = StreamHold(held)
                try:
                    return await call_next(exchange)
                finally:
                    hold.let_go()  # what a held stream neither sent nor refused still took
        return await call_next(exchange)

    return gate
