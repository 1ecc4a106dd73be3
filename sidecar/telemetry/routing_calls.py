"""Routing's calls on a request's telemetry: ``RoutingCalls``, a base of ``request.RequestTrace``.

``routed`` (the routing stage's: the decision metric now, the decision's span attributes at the end) and
``routing_cost`` (the savings metric: what the served model cost and what the requested one would have; the
estimate on the span). Their series are the counters' own cells (``metrics.Counter.cell``), kept on the
telemetry core (``Core.routing_series``, ``Core.routing_costs``) by the route, then by the labels made once with
the decision (``routing.matrix.Decision.labels``) and the arm, or by the task: a routed request builds and
hashes no label tuple and calls no ``Counter.inc``. Kept on the core, so a core made anew (a new
``Telemetry``) finds its own cells, never another's; the names, labels and values ``/metrics`` and the OTel
reader read are the counters' as before (docs/observability.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from . import attributes as attr

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ..routing.matrix import Decision
    from .core import Core

_UNDECIDED: Final = ("", "", "")  # the decision metric's task, complexity and tier of a request with no decision


class RoutingCalls:
    """The routing calls of ``RequestTrace`` (which holds these attributes)."""

    __slots__ = ()
    _core: Core
    _pending: dict[str, Any]
    span: Span | None

    def routed(self, route: str, decision: Decision | None, arm: str | None) -> None:
        """Routing's decision (``routing.stage``; None: a route without a ``routing`` block): the decision
        metric now, span attributes at the end."""
        by_route = self._core.routing_series.get(route)
        if by_route is None:
            by_route = self._core.routing_series[route] = {}
        labels = decision.labels if decision is not None else _UNDECIDED
        key = labels if arm is None else (labels, arm)
        cell = by_route.get(key)
        if cell is None:
            cell = by_route[key] = self._core.instruments.routing_decisions.cell((route, *labels, arm or ""))
        cell[0] += 1
        if self.span is not None:
            pending = self._pending
            if decision is not None:
                task = decision.task
                pending[attr.ROUTING_TASK] = task.label
                pending[attr.ROUTING_TASK_SOURCE] = task.source
                pending[attr.ROUTING_COMPLEXITY] = decision.complexity.label
                pending[attr.ROUTING_TIER] = decision.tier
            if arm:
                pending[attr.ROUTING_ARM] = arm

    def routing_cost(
        self, route: str, task: str, served_usd: float, requested_usd: float, estimated: float | None
    ) -> None:
        """What the served model cost and what the requested one would have (the savings metric)."""
        core = self._core
        by_route = core.routing_costs.get(route)
        if by_route is None:
            by_route = core.routing_costs[route] = {}
        cells = by_route.get(task)
        if cells is None:
            ins, labels = core.instruments, (route, task)
            cells = by_route[task] = (ins.routing_served_cost.cell(labels), ins.routing_requested_cost.cell(labels))
        cells[0][0] += served_usd
        cells[1][0] += requested_usd
        if self.span is not None and estimated is not None:
            self._pending[attr.ROUTING_ESTIMATED_COST] = estimated
