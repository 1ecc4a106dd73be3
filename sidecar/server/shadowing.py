"""Shadow evaluation on the request path: a sampled share of a route's requests is also sent to
candidate models in the background, and their answers compared with the served one.

``ShadowRunner.stage`` is the pipeline stage (outermost of the features, so it sees the answer the
caller got, after gates and ensembles). For a route with ``shadow:`` and a chat request that
``shadow.sampled`` picks (by request id and route), it marks the exchange (``x-sidecar-shadow:
sampled``), lets the request run, reads the served answer (the response body, or for a stream what a
``TextTap`` saw), and starts one background task per candidate; the response is returned at once and
written by the server while the tasks wait their turn on the loop. A task:

- takes a slot of the route's ``ShadowSlots`` (``max_concurrent``) or is skipped (counted, never queued);
  skipped too when what the served request's tasks keep until the last ends (the served answer's text, and
  its request ``PARSED`` times: its bytes, its parse, a candidate's copy) would take the process past its
  held-bytes ceiling (``held_bytes``, a refusal counted);
- walks the candidate through the fallback loop with a child exchange (``children``: the caller's
  original request, not streamed, no gates), bounded by the route's deadline;
- compares the two answers with the route's normalizer (``shadow.agree``) or asks the agreement judge;
- records the outcome (``ShadowStats`` on the state, for ``/status``; ``llm_sidecar_shadow_*`` metrics)
  with what each side cost: the served request's as its access line counts it (``served_cost_usd``), the
  candidate's and the judge's calls (``children.spent``; an answer without usage its estimate,
  ``children.charge_unreported``; a call its provider refused, nothing: ``children.refused``).

The route's slots are kept across reloads, a new ``max_concurrent`` counting the calls already in flight.
A candidate or judge on a provider passing the app's key through never gets here: the policy refuses it
(``shadow.plan.app_key_errors``).

The task class comes from the request (``task_class``); once the statistics hold ``max_keys`` rows, a
new class is counted as ``other`` (``shadow.stats.OTHER_TASK``, a row always kept), so neither the table
nor the metrics' labels grow without bound.

Nothing a shadow call does reaches the caller: its failure, stall or answer only shows in the stats.
``close`` (the app's shutdown) waits for the tasks still running for what is left of the drain timeout,
then cancels the rest: a cancelled call counts what it cost so far (the prompt of each call in flight,
estimated: the provider bills a prompt it received) under the result ``cancelled``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from aiohttp.web import Response, StreamResponse

from ..answers import AnswerView, answer_of_body, answer_of_deltas
from ..cost import cost_usd
from ..dialects import CHAT_OPERATIONS, Dialect
from ..ensemble.answer_key import answer_text
from ..ensemble.judge import judge_request_body, question_from_body
from ..held_bytes import PARSED, HeldBytes
from ..resilience.classify import describe_exception
from ..shadow import ShadowOutcome, ShadowSlots, ShadowStats, agree, agreement_prompt, parse_agreement, sampled
from ..shadow.stats import OTHER_TASK
from ..telemetry.logging import get_logger
from ..translate import TranslationError
from ..translate.deltas import Finish, Text, ToolArgs, ToolStart
from .bill import unreported
from .billed import reserved_cost_usd, reserved_use
from .children import (
    charge_in_flight,
    charge_unreported,
    child_exchange,
    judge_facts,
    refused,
    spent,
    unstreamed,
)
from .errors import RequestFailed
from .exchange import Exchange
from .pipeline import Handler

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from ..request_facts import RequestFacts
    from ..shadow.plan import Shadow
    from ..telemetry import Telemetry
    from ..translate.deltas import Delta

log = get_logger("sidecar.shadow")

ChildWalk = Callable[[Exchange, Sequence["Target"]], Awaitable[StreamResponse]]
TASK_HEADER = "x-sidecar-task"
"""The task class shadow statistics are kept by (routing's class, or the app's header); else ``any``."""
_TASK = re.compile(r"[A-Za-z0-9_.-]{1,40}")
ANY_TASK = "any"


class TextTap:
    """Collects the parts of a streamed answer's deltas that ``answer_of_deltas`` reads (``hooks.StreamTap``),
    to compare with the candidates'. Past ``max_bytes`` characters of text and tool arguments (the upstream body
    limit) it lets them go and the answer is not compared: a stream is not bounded as a body is, and a
    hostile upstream streaming without end must not make the sidecar hold it."""

    __slots__ = ("_max_bytes", "_size", "clean", "deltas")

    def __init__(self, max_bytes: int) -> None:
        self.deltas: list[Delta] = []
        self.clean = False
        self._max_bytes = max_bytes
        self._size = 0

    def open(self, target: Target) -> None:
        self.deltas.clear()
        self._size = 0

    def feed(self, delta: Delta) -> None:
        if self._size > self._max_bytes:
            return
        if isinstance(delta, Text):
            self._size += len(delta.text)
        elif isinstance(delta, ToolArgs):
            self._size += len(delta.fragment)
        elif not isinstance(delta, (ToolStart, Finish)):
            return
        if self._size > self._max_bytes:
            self.deltas.clear()
        else:
            self.deltas.append(delta)

    def close(self, clean: bool) -> None:
        self.clean = clean and self._size <= self._max_bytes


def task_class(facts: RequestFacts) -> str:
    """Routing's task class when routing classified the request, else the app's header, else ``any``."""
    routing = facts.routing
    if routing is not None and routing.decision is not None:
        return routing.decision.task.label
    value = facts.headers.get(TASK_HEADER, "")
    return value if _TASK.fullmatch(value) else ANY_TASK


def served_cost_usd(exchange: Exchange) -> float:
    """What serving cost, as the access line's ``cost_usd``: the answer's call (its estimate when its provider
    reported no usage, ``access.unreported``, as the budgets charge it) and every other call it paid for (an
    ensemble's members and judge, answers a gate rejected)."""
    served, usage = exchange.answered_by, exchange.usage
    if served is None:
        return exchange.unserved_cost_usd
    if usage is None and unreported(exchange):
        return (reserved_cost_usd(exchange, served, reserved_use(exchange, served)) or 0.0) + exchange.unserved_cost_usd
    return (cost_usd(served.price, usage) or 0.0) + exchange.unserved_cost_usd


class _KeptForShadow:
    """What a served request's shadow calls keep until the last ends (its answer, its request: ``size``
    bytes), in the process's ``account``: taken by the first call (``join``; False past the ceiling), given
    back by the last (``leave``)."""

    __slots__ = ("account", "calls", "size")

    def __init__(self, account: HeldBytes, size: int) -> None:
        self.account = account
        self.size = size
        self.calls = 0

    def join(self) -> bool:
        if not self.calls and not self.account.take(self.size):
            return False
        self.calls += 1
        return True

    def leave(self) -> None:
        self.calls -= 1
        if not self.calls:
            self.account.give(self.size)


class ShadowRunner:
    """The shadow stage and its background calls (one per app); what they keep is counted in ``held``."""

    def __init__(
        self, walk: ChildWalk, telemetry: Telemetry, stats: ShadowStats, max_answer_bytes: int, held: HeldBytes
    ) -> None:
        self._held = held
        self._walk = walk
        self._max_answer_bytes = max_answer_bytes
        self._telemetry = telemetry
        self.stats = stats
        self._slots: dict[str, ShadowSlots] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.cancelled_cost_usd = 0.0  # what the shadow calls cancelled at shutdown had cost (``close``)

    async def stage(self, exchange: Exchange, call_next: Handler) -> StreamResponse:
        route = exchange.route
        facts = exchange.facts
        shadow = route.shadow if route is not None else None
        if (
            shadow is None
            or route is None
            or facts.operation not in CHAT_OPERATIONS
            or not sampled(exchange.request_id, shadow.sample, route.name)
        ):
            return await call_next(exchange)
        exchange.shadow = "sampled"
        tap: TextTap | None = None
        if facts.stream:
            tap = TextTap(self._max_answer_bytes)
            exchange.taps = (*exchange.taps, tap)
        response = await call_next(exchange)
        served = self._served(exchange, response, tap)
        if served is not None:
            self._start(exchange, facts, shadow, served)
        return response

    def _served(self, exchange: Exchange, response: StreamResponse, tap: TextTap | None) -> AnswerView | None:
        if response.status >= 400 or exchange.answered_by is None or exchange.stream_error:
            return None
        if tap is not None:
            return answer_of_deltas(tap.deltas) if tap.clean else None
        if isinstance(response, Response) and isinstance(response.body, bytes):
            return answer_of_body(response.body, exchange.facts.dialect)
        return None

    def _start(self, exchange: Exchange, facts: RequestFacts, shadow: Shadow, served: AnswerView) -> None:
        assert exchange.route is not None
        route = exchange.route.name
        task = task_class(facts)
        served_by = exchange.answered_by
        served_cost = served_cost_usd(exchange)
        slots = self._slots.get(route)
        if slots is None:
            slots = self._slots[route] = ShadowSlots(shadow.max_concurrent)
        slots.limit = shadow.max_concurrent  # a reload's new bound counts the calls already in flight
        kept = _KeptForShadow(self._held, len(served.content) + PARSED * len(exchange.raw))
        for candidate in shadow.candidates:
            if candidate == served_by:
                continue  # the served model itself: nothing to learn
            if not self.stats.admits(route, task, candidate.name):
                task = OTHER_TASK  # the table is full: new task classes are counted together (bounded labels)
            if not slots.try_acquire():
                self._skipped(route, task, candidate)
                continue
            if not kept.join():  # past the process's held-bytes ceiling (a refusal counted)
                slots.release()
                self._skipped(route, task, candidate)
                continue
            call = self._call(exchange, facts, shadow, candidate, served, served_cost, task)
            running = asyncio.create_task(self._released(call, slots, kept), name=f"shadow {route} {candidate.name}")
            self._tasks.add(running)
            running.add_done_callback(self._tasks.discard)

    def _skipped(self, route: str, task: str, candidate: Target) -> None:
        self.stats.skipped(route, task, candidate.name)
        self._telemetry.shadow_result(route=route, task=task, candidate=candidate.name, result="skipped")

    async def _released(self, call: Awaitable[None], slots: ShadowSlots, kept: _KeptForShadow) -> None:
        try:
            await call
        except Exception as exc:  # a bug must not go unseen, nor reach the served request
            log.error("shadow_failed", error=describe_exception(exc))
        finally:
            slots.release()
            kept.leave()

    async def _call(
        self,
        exchange: Exchange,
        facts: RequestFacts,
        shadow: Shadow,
        candidate: Target,
        served: AnswerView,
        served_cost: float,
        task: str,
    ) -> None:
        assert exchange.route is not None
        route = exchange.route.name
        await asyncio.sleep(0)  # let the served answer be written first
        children = [child_exchange(exchange, unstreamed(facts))]  # the candidate's call, then the judge's
        started = time.monotonic()
        try:
            agreed, failed, cost, judge_cost = await self._compared(exchange, shadow, candidate, served, children)
        except asyncio.CancelledError:  # the shutdown's drain ended: what its calls cost so far is counted
            for child in children:
                charge_in_flight(child)
            cost, judge_cost = spent(children[0]), sum(map(spent, children[1:]))
            self.cancelled_cost_usd += cost + judge_cost
            self._record(route, task, candidate, (None, True, cost, served_cost, judge_cost), started, "cancelled")
            raise
        result = "failed" if failed else ("not_comparable" if agreed is None else ("agreed" if agreed else "disagreed"))
        self._record(route, task, candidate, (agreed, failed, cost, served_cost, judge_cost), started, result)

    async def _compared(
        self, exchange: Exchange, shadow: Shadow, candidate: Target, served: AnswerView, children: list[Exchange]
    ) -> tuple[bool | None, bool, float, float]:
        """Ask ``candidate`` (``children[0]``) and compare its answer with ``served``: (agreed, None when
        not compared; failed; what its calls cost; what the agreement judge's cost). A judge's call is added
        to ``children``."""
        facts = exchange.facts
        child = children[0]
        answer: AnswerView | None = None
        try:
            response = await self._walk(child, (candidate,))
            if response.status >= 400:
                refused(child)  # its provider's own error: no answer, billed nothing
            elif isinstance(response, Response) and isinstance(response.body, bytes):
                answer = answer_of_body(response.body, facts.dialect)
        except RequestFailed:
            answer = None
        charge_unreported(child, [child], None)  # an answer without usage: its estimate, as a member's
        agreed: bool | None = None
        judge_cost = 0.0
        if answer is not None:
            if shadow.judge is None:
                agreed = agree(shadow.normalizer, served, answer)
            else:
                agreed, judge_cost = await self._judge(exchange, facts, shadow, served, answer, children)
        return agreed, answer is None, spent(child), judge_cost

    def _record(
        self,
        route: str,
        task: str,
        candidate: Target,
        outcome: tuple[bool | None, bool, float, float, float],
        started: float,
        result: str,
    ) -> None:
        """One shadow call's ``outcome`` (agreed, failed, its cost, the served request's cost, the agreement
        judge's cost) in the statistics and the metrics (``result``)."""
        agreed, failed, cost, served_cost, judge_cost = outcome
        latency = time.monotonic() - started
        shadowed = ShadowOutcome(agreed, failed, cost, served_cost, latency, judge_cost)
        self.stats.record(route, task, candidate.name, shadowed)
        self._telemetry.shadow_result(
            route=route,
            task=task,
            candidate=candidate.name,
            result=result,
            cost_usd=cost,
            served_cost_usd=served_cost,
            judge_cost_usd=judge_cost,
            duration_s=latency,
        )

    async def _judge(
        self,
        exchange: Exchange,
        facts: RequestFacts,
        shadow: Shadow,
        served: AnswerView,
        answer: AnswerView,
        children: list[Exchange],
    ) -> tuple[bool | None, float]:
        """The agreement judge's verdict (None: no verdict) and what its call cost (its exchange added to
        ``children``)."""
        judge = shadow.judge
        assert judge is not None
        try:
            question = question_from_body(facts.body, facts.dialect)
        except TranslationError:
            return None, 0.0
        body = judge_request_body(
            agreement_prompt(judge.template, question, answer_text(served), answer_text(answer)), 0
        )
        body["max_tokens"] = judge.max_tokens
        child = child_exchange(exchange, judge_facts(facts, body), of_request=False)
        children.append(child)
        try:
            response = await self._walk(child, judge.chain)
        except RequestFailed:
            return None, spent(child)
        if response.status >= 400:
            refused(child)  # its provider's own error: no verdict, billed nothing
        charge_unreported(child, [], child)  # a verdict without usage: its estimate, as an ensemble judge's
        if not isinstance(response, Response) or response.status >= 400 or not isinstance(response.body, bytes):
            return None, spent(child)
        view = answer_of_body(response.body, Dialect.OPENAI)
        return (parse_agreement(view.content) if view is not None else None), spent(child)

    async def close(self, wait_s: float = 0.0) -> None:
        """At shutdown: wait up to ``wait_s`` (what the drain timeout left) for the shadow calls still
        running, counted as they end; then cancel the rest, each counted what it cost so far (``_call``:
        its calls in flight, their prompts), and log ``shadows_closed`` when there were any."""
        tasks = set(self._tasks)
        if not tasks:
            return
        pending = tasks
        if wait_s > 0:
            pending = (await asyncio.wait(tasks, timeout=wait_s))[1]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        log.info(
            "shadows_closed",
            finished=len(tasks) - len(pending),
            cancelled=len(pending),
            cancelled_cost_usd=round(self.cancelled_cost_usd, 8),
        )
