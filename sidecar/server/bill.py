"""What a request cost: one figure for the access line's ``cost_usd``, ``llm_sidecar_cost_usd_total`` and
the answer's ``x-sidecar-cost`` header (docs/headers.md), decided in one place (``bill``).

The figure counts every call the request paid for: the answer's call at the served model's price
(``cost.cost_usd`` of its usage), and the calls whose answer the app did not get (``Exchange.unserved_cost_usd``:
a gate's rejected answers, calls accepted and then failed, an ensemble's other members and its judge, a
hedge's cut call). In place of the answer's usage, when there is none to price: the app's leaving after a
call started (what the budgets charged, ``cancelled_use``), a request the app left or the drain cut with a
call in flight (``_used_when_cut``), and an answer whose provider reported no usage (its reservation's
estimate, ``billed.reserved_use``): those are ``estimated``.

``bill`` is computed once per status: the handler asks for it when it writes a whole answer's head
(``add_cost_header``), and the access line reuses it (``Exchange.billed``) unless the request ended with
another status (the drain cut it while its answer was being written). A stream's head goes out before its
usage: it has no header, and its bill is the access line's alone.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING

from ..budgets.estimate import estimate_request
from ..cost import cost_usd
from ..dialects import Operation
from ..translate import Usage
from .billed import reserved_cost_usd, reserved_use
from .budget_use import uncharged_cuts

if TYPE_CHECKING:
    from ..policy.compiled import Target
    from .exchange import Exchange

COST_HEADER = "x-sidecar-cost"
NOTHING_BILLED = "0.00000000"  # the header of an answer no billed call made: a cache hit, a refusal


class Bill:
    """A request's bill as it ended with ``status``: the answer's ``usage`` (or what is charged in its place),
    the ``cost`` of every call it paid for (None: nothing priced), the answer's own call's ``served_cost``
    (routing's savings), whether the tokens are in part the sidecar's estimates, and the cost ``shown``: to 8
    decimals, for ``x-sidecar-cost`` and the access line's ``cost_usd`` (rounded once for both). A slotted
    class, not a ``NamedTuple``: Python 3.11 leaves a named tuple's field reads and unpacking generic
    (docs/benchmarks.md, "Wave 49 `plain50`")."""

    __slots__ = ("cost", "estimated", "served_cost", "shown", "status", "usage")

    def __init__(
        self,
        status: int,
        usage: Usage | None,
        cost: float | None,
        served_cost: float | None,
        estimated: bool,
        shown: float | None,
    ) -> None:
        self.status = status
        self.usage = usage
        self.cost = cost
        self.served_cost = served_cost
        self.estimated = estimated
        self.shown = shown


def bill(exchange: Exchange, status: int) -> Bill:
    """The request's bill (the module docstring); the one the answer's head said when its status is the same."""
    billed = exchange.billed
    if billed is not None and billed.status == status:
        return billed
    served = exchange.answered_by if status < 400 else None  # an upstream's own error served nothing
    usage = exchange.usage
    cost = served_cost = cost_usd(served.prices, usage) if served is not None else None  # slots
    estimated = exchange.stream_error is not None  # a stream that stopped early: its output at least its text
    if exchange.cancelled_use is not None:  # the app went away: what the budgets charged for the call
        usage, priced_as = exchange.cancelled_use
        cost = cost_usd(priced_as.prices, usage)
        estimated = True
    elif (status == 499 or exchange.drain_cut) and usage is None and (cut := _used_when_cut(exchange)) is not None:
        usage, priced_as = cut  # no budget charged the call: what it used so far, estimated
        cost = cost_usd(priced_as.prices, usage)
        estimated = True
    elif usage is None and served is not None and unreported(exchange):
        usage = reserved_use(exchange, served)  # what the budgets charge an answer without usage
        cost = reserved_cost_usd(exchange, served, usage)  # at the reservation's prices, as they do
        estimated = True
    if exchange.unserved_cost_usd:  # every call counts: ensemble members, a judge, rejected answers
        cost = (cost or 0.0) + exchange.unserved_cost_usd
    return Bill(status, usage, cost, served_cost, estimated, None if cost is None else rounded_usd(cost))


def rounded_usd(cost: float) -> float:
    """Dollars to 8 decimals, as the access line writes ``cost_usd`` (and ``latency_ms`` to 3)."""
    return (cost * 1e8).__round__() / 1e8


def add_cost_header(headers: MutableMapping[str, str], exchange: Exchange, status: int) -> None:
    """``x-sidecar-cost`` on a whole answer's head of ``status``: the bill, as the access line's ``cost_usd``
    (8 decimals); 0 when nothing was billed (a cache hit, a request refused before a call, an error or a
    last resort's answer after calls the providers refused: those are not billed); none when the model
    that answered has no price (nothing is known of its bill)."""
    shown = (billed := bill(exchange, status)).shown
    exchange.billed = billed
    if shown is not None:
        headers[COST_HEADER] = f"{shown:.8f}"
    elif (target := exchange.answered_by) is None or status >= 400 or target.price is not None:
        headers[COST_HEADER] = NOTHING_BILLED


def _used_when_cut(exchange: Exchange) -> tuple[Usage, Target] | None:
    """A request the app left (or the drain cut) while a call was in flight (its attempt recorded
    ``cancelled``) and no budget charged (``exchange.cancelled_use``): a committed or held stream's use
    so far (``exchange.cut_use``: the provider's counts, its output at least the text sent or held,
    estimated), priced as the streaming target; else that call's prompt estimate, priced as its target
    (the provider bills the prompt it received). None when no call was in flight."""
    if exchange.cut_use is not None:
        return exchange.cut_use
    cut = [record.target for record in uncharged_cuts(exchange)]  # a race's cut call: in the unserved cost
    target = exchange.policy.models.get(cut[-1]) if cut else None
    if target is None:
        return None
    return Usage(estimate_request(exchange.facts, exchange.raw)[0], 0), target


def unreported(exchange: Exchange) -> bool:
    """Whether the answer served (without usage) came whole from a call of the chain, whose provider reported
    no usage: not from the cache or a last resort (no call answered), nor a stream that stopped early (its
    use is counted so), nor an ensemble (its calls are counted each: ``call_costs``, and those answered
    without usage their estimate, ``children.charge_unreported``), nor a token count
    (free: the budgets do not count it)."""
    return (
        exchange.calls > 0
        and exchange.facts.operation is not Operation.COUNT_TOKENS
        and exchange.degraded is None
        and exchange.stream_error is None
        and exchange.call_costs is None
        and exchange.cache != "hit"
    )
