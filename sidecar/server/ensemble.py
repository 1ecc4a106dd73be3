"""Running an ensemble route (``ensemble.EnsemblePlan``): every member at once, one vote, one answer.

``EnsembleRunner.run(exchange, plan)``::

    each member: a child exchange (``children``: the request asked without streaming; log-probabilities
        added for ``confidence``, in the caller's body, or, when its dialect cannot ask for them
        (Anthropic), in each translated upstream's (``upstream_logprobs``); the route's gates forked, so a
        member's chain escalates on its own) walking the member's chain through the fallback loop, as a
        task (``ensemble_members.walk_member``); a member whose chain cannot take the added
        log-probabilities (Anthropic) is asked again without them, and votes with its weight
    as each finishes: its answer (``ensemble_members.ballot``; held in the process's held-bytes account until
        the vote is over) or its failure goes to the vote
        (``ensemble.EnsembleRun``); once the vote is decided (early quorum: the winner is certain) the
        other tasks are cancelled: their upstream connections close, and what they used is all they cost
    the route's deadline: the vote closes with what is in
    strategy judge, with distinct answers: the judge's chain is asked (an OpenAI chat body of the
        sidecar's, ``ensemble.judge``, translated like any), its verdict read strictly, else majority
    the winner's response goes to the caller: as it is, or (a streaming caller) as a stream of its dialect
        (``replay``) once decided, shown to the stages' taps (``HeldStream``: cached, shadow-compared)

Every upstream call passes ``CallCap`` (``before_target``): none starts once ``max_calls`` are spent;
and the budget's hook for its call (``budget_hook.CallBudgetHook``: a member's, or the judge's), which holds
each fallback, retry or re-ask after a billed call for that call alone.
Every call's attempts are the request's (``x-sidecar-attempts``, the access line), every call's cost is
the request's cost (``Exchange.unserved_cost_usd``), a call cut in flight its prompt, also when the caller
leaves before the answer (``children.charge_left``), an answer without usage its estimate, as the budgets
charge it (``children.charge_unreported``: the line's ``tokens_estimated``). ``x-sidecar-ensemble`` says
members, votes and the winner (``Exchange.ensemble``); ``x-sidecar-upstream-request-ids`` the providers'
request ids of the calls whose answers came in, as ``member=id`` (``judge=id``), for their support (the
answer itself carries the sidecar's id: it is the vote's, ``answer_headers``). Too few usable answers:
502 ``ensemble_failed`` in the caller's dialect naming each member's fate (``x-should-retry: false``: the
app's SDK would ask every member again), or the upstream's own error when the request itself was refused
(a 4xx).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import orjson
from aiohttp.web import Response, StreamResponse

from ..answers import answer_of_body
from ..dialects import CHAT_OPERATIONS, Dialect
from ..ensemble import EnsembleFailure, EnsembleRun, Member
from ..ensemble.confidence import askable, strip_logprobs, with_logprobs
from ..ensemble.judge import judge_prompt, judge_request_body, question_from_body
from ..ensemble.plan import EnsemblePlan
from ..request_facts import RequestFacts
from ..translate import TranslationError
from .budget_hook import BudgetHook, call_hooks, with_again
from .children import (
    adopt,
    call_costs,
    charge_left,
    charge_spent,
    charge_unreported,
    child_exchange,
    judge_facts,
    refused,
    unstreamed,
    with_body,
)
from .ensemble_members import ChildWalk, MemberResult, ballot, provider_id, upstream_ids, walk_member
from .errors import RequestFailed
from .exchange import Exchange
from .gating import GateHook
from .hooks import ChainHook, Verdict
from .one_answer import refuse_several_choices
from .replay import asks_usage, stream_replay
from .stream_answer import HeldStream

if TYPE_CHECKING:
    from ..held_bytes import HeldBytes
    from ..policy.compiled import Target
    from ..telemetry import Telemetry


class CallCap:
    """``max_calls`` for the whole ensemble: a target is skipped once the calls made reach it."""

    def __init__(self, run: EnsembleRun, children: list[Exchange]) -> None:
        self._run = run
        self._children = children

    async def before_target(self, exchange: Exchange, target: Target) -> str | None:
        made = sum(child.calls for child in self._children)
        return None if made < self._run.ensemble.max_calls else "ensemble_call_cap"

    async def after_answer(self, exchange: Exchange, target: Target, answer: StreamResponse | HeldStream) -> Verdict:
        return Verdict.ACCEPT


class EnsembleRunner:
    def __init__(self, walk: ChildWalk, telemetry: Telemetry, held: HeldBytes) -> None:
        self._walk = walk
        self._telemetry = telemetry
        self._held = held  # the process's account: the members' answers waiting for the vote are in it

    async def run(self, exchange: Exchange, plan: EnsemblePlan) -> StreamResponse:
        facts = exchange.facts
        route = exchange.route
        assert route is not None and route.settings.resilience.deadline_s is not None
        if facts.operation not in CHAT_OPERATIONS:
            raise RequestFailed(
                400,
                f"route {route.name!r} is an ensemble, which answers chat requests only (not {facts.operation})",
                code="unsupported_operation",
            )
        refuse_several_choices(facts, route.name, "the winner of its ensemble's vote")
        ensemble = plan.ensemble
        vote = ensemble.start()
        member_facts, unasked, upstream_logprobs = _members_request(facts, ensemble.wants_logprobs)
        added_logprobs = unasked is not None
        children: list[Exchange] = []
        cap = CallCap(vote, children)
        trace = exchange.trace
        results = [
            MemberResult(member, self._child(exchange, member_facts, cap, member), unasked=unasked)
            for member in ensemble.members
        ]
        for result in results:
            result.child.upstream_logprobs = upstream_logprobs
        children.extend(result.child for result in results)
        deadline = time.monotonic() + route.settings.resilience.deadline_s
        failure: EnsembleFailure | None = None
        judge_id: str | None = None
        judge_child: Exchange | None = None
        left = False
        try:
            decided = await self._vote(vote, results, plan, deadline, ensemble.wants_logprobs)
            if not decided:
                vote.close()
            if vote.judge_candidates:
                judge_hooks = [*call_hooks(exchange, len(results)), cap]
                judge_trace = trace.branch("ensemble_judge", "judge")
                judge_child = with_again(child_exchange(exchange, facts, judge_hooks, judge_trace, of_request=False))
                children.append(judge_child)
                verdict, judge_id = await self._judge(exchange, judge_child, plan, vote, deadline)
                vote.judged(verdict)
        except EnsembleFailure as exc:
            failure = exc
        except asyncio.CancelledError:
            left = True
            raise
        finally:
            states = vote.decision.states if vote.decision is not None else {}
            for result in results:
                state = states.get(result.member.name) or vote.fates.get(result.member.name, "cancelled")
                result.child.trace.end_branch(_result_label(state))
                self._held.give(result.held)  # the vote is over: the answers are held no more for it
                result.held = 0
            for child in children:
                adopt(exchange, child)
                child.trace.end_branch("answered" if child.answered_by is not None else "failed")
            exchange.call_costs = call_costs(children)
            charge_unreported(exchange, [result.child for result in results], judge_child)
            if left:
                charge_left(exchange, children)
        for c in children:  # every member's rejected answers, on the answer or on the error
            exchange.gate_rejections.extend(c.gate_rejections)
        if failure is not None:
            return self._failed(exchange, results, children, failure)
        decision = vote.decision
        assert decision is not None
        winner = results[decision.winner.member.index]
        self._telemetry.ensemble_decided(
            route=route.name, strategy=decision.strategy, decided=decision.decided_by, members=decision.states
        )
        exchange.ensemble = decision.header()
        exchange.upstream_request_ids = upstream_ids(results, judge_id)
        child = winner.child
        exchange.answered_by = child.answered_by
        exchange.usage = child.usage
        exchange.dropped = child.dropped
        exchange.fallback_reason = child.fallback_reason  # the winning member's own chain fell back
        charge_spent(exchange, children, served=child)
        exchange.gate_passed = exchange.gated  # the winner's answer passed its member's gates
        assert winner.response is not None
        return await self._send(exchange, winner.response, strip=added_logprobs)

    @staticmethod
    async def _send(exchange: Exchange, response: Response, *, strip: bool) -> StreamResponse:
        """The winner's response to the caller: log-probabilities it did not ask for stripped; streamed
        when it asked for a stream."""
        facts = exchange.facts
        assert isinstance(response.body, bytes)
        data = response.body
        if not strip and not facts.stream:
            return Response(status=200, body=data, content_type="application/json")
        parsed = orjson.loads(data)
        if strip:
            parsed = strip_logprobs(parsed, facts.dialect, facts.operation)
        if not facts.stream:
            return Response(status=200, body=orjson.dumps(parsed), content_type="application/json")
        served = exchange.answered_by
        assert served is not None
        data, deltas = stream_replay(
            parsed, facts.dialect, model=served.upstream_model, include_usage=asks_usage(facts.body)
        )
        return await HeldStream(served, {}, [data], deltas).send(exchange)

    def _child(self, exchange: Exchange, facts: RequestFacts, cap: CallCap, member: Member) -> Exchange:
        """A member's exchange: its hooks (``_hooks``), its budget's say before another call of the same target."""
        trace = exchange.trace.branch("ensemble_member", member.name)
        return with_again(child_exchange(exchange, facts, self._hooks(exchange, facts, cap, member.index), trace))

    def _hooks(self, exchange: Exchange, facts: RequestFacts, cap: CallCap, index: int) -> list[ChainHook]:
        """Member ``index``'s hooks: the route's gates forked, the budget's for this call, the cap."""
        hooks: list[ChainHook] = []
        for hook in exchange.hooks:
            if isinstance(hook, GateHook):
                hooks.append(hook.fork(facts))
            elif isinstance(hook, BudgetHook):
                hooks.append(hook.for_call(index))
            else:
                hooks.append(hook)
        return [*hooks, cap]

    async def _vote(
        self, vote: EnsembleRun, results: list[MemberResult], plan: EnsemblePlan, deadline: float, logprobs: bool
    ) -> bool:
        """Run every member; feed the vote as they finish. True once it has nothing more to wait for
        (decided, or the judge's candidates ready), False at the deadline."""
        tasks = {
            asyncio.create_task(walk_member(self._walk, self._held, result, plan.chains[result.member.index])): result
            for result in results
        }
        pending = set(tasks)
        try:
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                done, pending = await asyncio.wait(pending, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=lambda t: tasks[t].member.index):
                    task.result()  # a bug in a member's walk is the request's 500, not a silent failure
                    result = tasks[task]
                    if result.response is None:
                        finished = vote.failed(result.member, result.failure)
                    else:
                        finished = vote.answered(result.member, *ballot(result, logprobs))
                    if finished:
                        return True
            return False
        finally:
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)

    async def _judge(
        self, exchange: Exchange, child: Exchange, plan: EnsemblePlan, vote: EnsembleRun, deadline: float
    ) -> tuple[str | None, str | None]:
        """The judge's reply text, or None when it could not be had (then majority decides); the provider's
        request id of its answer."""
        judge = plan.ensemble.judge
        assert judge is not None
        try:
            question = question_from_body(exchange.facts.body, exchange.facts.dialect)
        except TranslationError:
            return None, None
        body = judge_request_body(judge_prompt(judge.template, question, vote.judge_candidates), judge.max_tokens)
        child.facts = judge_facts(exchange.facts, body)
        child.raw = orjson.dumps(body)
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None
        try:
            async with asyncio.timeout(left):
                response = await self._walk(child, plan.judge)
        except (RequestFailed, TimeoutError):
            return None, None
        if response.status >= 400:
            refused(child)
            return None, None
        if not isinstance(response, Response) or not isinstance(response.body, bytes):
            return None, None
        view = answer_of_body(response.body, Dialect.OPENAI)
        return (view.content if view is not None else None), provider_id(child, response)

    def _failed(
        self, exchange: Exchange, results: list[MemberResult], children: list[Exchange], failure: EnsembleFailure
    ) -> StreamResponse:
        """Too few usable answers: the upstream's own error when it refused the request (a 4xx), else 502."""
        charge_spent(exchange, children)
        rejected = [child.gate_failure for child in children if child.gate_failure is not None]
        exchange.gate_failure = rejected[-1] if rejected else None  # x-sidecar-gates: failed; rejected=...
        for result in results:
            if result.error is not None and 400 <= result.error.status < 500:
                exchange.answered_by = result.refused_by
                return result.error
        raise RequestFailed(
            502,
            str(failure),
            code="ensemble_failed",
            headers={"x-should-retry": "false"},  # every member's chain was walked: the SDK would walk them again
            extra={"attempts": [a.as_dict() for a in exchange.attempts]},
        )


def _members_request(facts: RequestFacts, logprobs: bool) -> tuple[RequestFacts, RequestFacts | None, bool]:
    """What each member is asked: the request without streaming, asking for log-probabilities when the
    vote wants them (``logprobs``); the request without them when they were added (None: not added); and
    whether the members' translated calls ask for them instead (a caller whose dialect cannot: Anthropic)."""
    member_facts = unstreamed(facts)
    if not logprobs:
        return member_facts, None, False
    if not askable(facts.dialect, facts.operation):
        return member_facts, None, True
    body, added = with_logprobs(member_facts.body, facts.dialect, facts.operation)
    return with_body(member_facts, body), member_facts if added else None, False


def _result_label(state: str) -> str:
    """A member's state in the vote (a rank, or ``failed (reason)``...) as a span/metric result."""
    if state.isdigit():
        return "won" if state == "1" else "outvoted"
    return state.split(" ", 1)[0]
