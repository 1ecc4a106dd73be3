"""Child exchanges: calls a request makes besides walking its route's chain for the caller.

An ensemble's members and its judge, and shadow candidates, each walk a chain through the ordinary
fallback loop (``fallback.Executor.walk``) with an exchange of their own: their attempts, usage and
answer are theirs (merged into the request's record by whoever made them), and their answer is never
sent by the loop: a child is always a non-streaming call (``unstreamed``), whose response the loop
returns unsent. What the children cost is the request's: ``spent``, ``charge_spent`` (the request's
unserved cost and tokens), ``call_costs`` (per call, for the budgets), ``charge_left`` (the caller left
before the answer), ``charge_unreported`` (an ensemble's answers whose provider reported no usage: their
estimate, as the budgets charge them, for the access line and the metrics); ``refused``: a child whose
upstream refused the request (its own 4xx) got no answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from ..budgets.call_holds import CallCost
from ..cost import cost_usd
from ..dialects import Dialect, Operation
from ..request_facts import RequestFacts
from ..translate import Usage
from ..translate.numbers import exact_body
from .billed import add_unserved, charge_cut, reserved_use
from .budget_use import uncharged_cuts
from .exchange import Exchange
from .hooks import ChainHook

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..telemetry import RequestTrace


def with_body(facts: RequestFacts, body: dict[str, Any], *, stream: bool | None = None) -> RequestFacts:
    """``facts`` with another body (and stream flag)."""
    streaming = facts.stream if stream is None else stream
    method = facts.path_method
    if facts.stream and not streaming and facts.dialect is Dialect.GEMINI:
        method = ""  # the non-streaming method follows from the operation
    return RequestFacts(
        facts.dialect,
        facts.operation,
        facts.model,
        facts.headers,
        facts.app,
        stream=streaming,
        path_method=method,
        body=body,
    )


def unstreamed(facts: RequestFacts) -> RequestFacts:
    """The same request, asked without streaming."""
    if not facts.stream:
        return facts
    body = dict(facts.body)
    body.pop("stream_options", None)
    if facts.dialect is not Dialect.GEMINI:  # Gemini says it in the path
        body["stream"] = False
    return with_body(facts, body, stream=False)


def judge_facts(parent: RequestFacts, body: dict[str, Any]) -> RequestFacts:
    """A judge call: an OpenAI chat request of the sidecar's own (translated to the judge's dialect)."""
    return RequestFacts(Dialect.OPENAI, Operation.CHAT, "judge", parent.headers, parent.app, body=body)


def child_exchange(
    parent: Exchange,
    facts: RequestFacts,
    hooks: Sequence[ChainHook] = (),
    trace: RequestTrace | None = None,
    *,
    of_request: bool = True,
) -> Exchange:
    """An exchange for one call of ``parent``'s request: same request, policy and route; its calls' spans
    under ``trace`` (a ``RequestTrace.branch``), else under the request's. A call asking the app's request
    (``of_request``: a member, a shadow candidate; not a judge) keeps its integers beyond 64 bits exact
    (``exact_body`` against the app's bytes: orjson read them as doubles)."""
    trace = trace if trace is not None else parent.trace
    child = Exchange(parent.request, parent.endpoint, parent.policy, parent.request_id, trace, facts)
    child.raw = orjson.dumps(exact_body(facts.body, parent.raw) if of_request else facts.body)
    child.route = parent.route
    child.hooks = tuple(hooks)
    return child


def spent(child: Exchange) -> float:
    """What a child's calls cost: its answer and anything it had rejected."""
    served = child.answered_by
    answer = cost_usd(served.price, child.usage) if served is not None else None
    return (answer or 0.0) + child.unserved_cost_usd


def spent_tokens(child: Exchange) -> int:
    """The input and output tokens of a child's calls: its answer and anything it had rejected."""
    usage = child.usage
    answer = usage.input_tokens + usage.output_tokens if usage is not None and child.answered_by is not None else 0
    return answer + child.unserved_tokens


def charge_spent(exchange: Exchange, children: Sequence[Exchange], served: Exchange | None = None) -> None:
    """Add what ``children``'s calls cost to the request's unserved cost (``spent``) and tokens, by part
    (their sum is ``spent_tokens``'s); of ``served``, whose answer is the
    request's own (``Exchange.usage``), only what it had rejected or cut."""
    for child in children:
        unserved = child.unserved_usage
        if child is served:
            exchange.unserved_cost_usd += child.unserved_cost_usd
        else:
            exchange.unserved_cost_usd += spent(child)
            if child.usage is not None and child.answered_by is not None:
                unserved = unserved.plus(child.usage)
        exchange.unserved_usage = exchange.unserved_usage.plus(unserved)
        exchange.unserved_estimated = exchange.unserved_estimated or child.unserved_estimated


def charge_in_flight(child: Exchange) -> None:
    """Charge each call of the child cut in flight its prompt, in the child's unserved cost
    (``billed.charge_cut``); not a hedged race's loser, which the race charged (``Exchange.hedge_cuts``;
    before 2026-12-05 its prompt was charged twice)."""
    models = child.policy.models
    cut = [models[a.target] for a in uncharged_cuts(child) if a.target in models]
    if cut:
        charge_cut(child, cut)


def refused(child: Exchange) -> Target | None:
    """A child's walk ended with its upstream's own error (``target_tries.fail_fast``: the request refused, a
    4xx passed on as its response): no answer of the child's (``answered_by`` None), so that its cost is
    what it billed (``spent``), not an answer without usage's estimate (``call_costs``, ``charge_unreported``;
    before 2026-12-06 an ensemble member refused so was charged its estimate and counted a request on its
    provider: the seeded soak, seed 414). The target refusing."""
    target, child.answered_by = child.answered_by, None
    return target


def adopt(parent: Exchange, child: Exchange) -> None:
    """Count a child's calls and attempts in the request's record (its calls accepted, then failed, too,
    and the calls its hedged races cut, by model: the access line's ``hedge_cut``, in the children's
    order). A call of the child cut in flight (a member cancelled once the vote was decided, a judge past
    the deadline) is charged its prompt (``charge_in_flight``)."""
    charge_in_flight(child)
    parent.calls += child.calls
    parent.attempts.extend(child.attempts)
    parent.billed_failures += child.billed_failures
    if child.hedge_cuts:
        cut = ", ".join(attempt.target for attempt in child.hedge_cuts)
        parent.hedge_cut = f"{parent.hedge_cut}, {cut}" if parent.hedge_cut else cut


def call_costs(children: Sequence[Exchange]) -> tuple[CallCost, ...]:
    """Each call's cost, for the budgets (``Admission.charge_calls``): the members' in order, the judge's
    last, as its budget hook's index (``budget_hook.call_hooks``); an answer without usage said so."""
    return tuple(
        CallCost(index, spent(child), spent_tokens(child), child.answered_by is not None and child.usage is None)
        for index, child in enumerate(children)
    )


def charge_left(exchange: Exchange, children: Sequence[Exchange]) -> None:
    """The caller left before the vote's answer: every call made so far is the request's cost (the answers
    that came, the calls cut in flight: their prompts, ``adopt``), and the request has no usage
    of its own (an empty one, so that the budgets and the access line charge those calls, not one prompt
    more as for a call of its own in flight: ``budget_use.used_when_cancelled``)."""
    charge_spent(exchange, children)
    exchange.usage = Usage()


def charge_unreported(exchange: Exchange, members: Sequence[Exchange], judge: Exchange | None) -> None:
    """Add to the request's unserved cost and tokens, estimated, the estimate of each answer of an
    ensemble's calls whose provider reported no usage (the winner's too: the request's own usage is then
    None), as a plain request's answer without usage is counted (``access``: ``reserved_use``): a member's
    is what the budgets charge it (``CallCost.unmetered``: the app's prompt estimate and the output
    maximum of the model that answered, at its price); the judge's, its own request's (the sidecar's
    prompt, the members' answers in it, and its ``max_tokens``). The budgets do not read these (they
    charge ``call_costs``): the access line and ``llm_sidecar_tokens_total`` do."""
    for member in members:
        _add_unreported(exchange, member, exchange)
    if judge is not None:
        _add_unreported(exchange, judge, judge)


def _add_unreported(exchange: Exchange, child: Exchange, asked: Exchange) -> None:
    """``child``'s answer, when its provider reported no usage: the estimate of ``asked``'s request on the
    model that answered, in ``exchange``'s unserved cost and tokens (``charge_unreported``)."""
    served = child.answered_by
    if served is not None and child.usage is None:
        add_unserved(exchange, served, reserved_use(asked, served), estimated=True)
