"""A route's chain as the fast path sees it: resolved once per policy, read by every plain admission.

``Ledger.lane(chain, calls)`` builds one; the request path keeps it per route (``server.budget``) and
hands it to ``Ledger.admit_plain`` with the request's estimate and scope values. What it settles once
instead of per request: the chain's plain "allow" decision (shared), the first target (the one the
plain admission reserves on), the output maximum reserved when the request sets none (the model's, else
``default_max_output_tokens``), and that target's prices, so that ``units`` prices an estimate in a few
arithmetic operations (``pricing.estimate_units``'s result), and ``used`` what an answer from it used
(``pricing.actual_units``'s); a prompt above the price's long-context threshold, and every call of a
model whose price names service tiers or audio prices or bills a search per call, is priced by those
functions themselves (the long-context tier, the service tier the answer says, its audio, the search of
``web_search_billed_per: call``). An ensemble's lane prices each of its
calls at its own model (``calls.total_units``), but never admits plainly: its calls are reserved on
their own targets' counters at once (``call_holds``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sidecar import cost  # the module, not its function: ``cost`` imports the policy, which imports this
from sidecar.translate import Usage
from sidecar.translate.common import MAX_REPORTED_TOKENS

from .calls import Call, total_units
from .compiled import Budgets, TargetInfo
from .pricing import NANO_USD, actual_units, estimate_units

if TYPE_CHECKING:
    from sidecar.policy.spec import PriceSpec

    from .decision import Decision


class Lane:
    """See the module docstring. Read-only once built."""

    __slots__ = (
        "_cached_price",
        "_estimate_input_price",
        "_hour_write_price",
        "_input_price",
        "_long_above",
        "_output_price",
        "_price",
        "_priced",
        "_write_price",
        "allowed",
        "calls",
        "chain",
        "default_output",
        "output",
        "target",
    )

    def __init__(
        self, budgets: Budgets, chain: Sequence[TargetInfo], allowed: Decision, calls: tuple[Call, ...] = ()
    ) -> None:
        self.chain = tuple(chain)
        self.allowed = allowed
        self.calls = calls
        target = self.chain[0] if self.chain else None
        self.target = None if calls else target
        """The target a plain admission reserves on (None: an empty chain, or an ensemble's, whose calls
        are reserved on each one's target: ``call_holds``; never plain)."""
        self.default_output = budgets.default_max_output_tokens
        self.output = (target.max_output_tokens if target is not None else None) or self.default_output
        price = target.price if target is not None else None
        self._price = price
        self._priced = price is not None
        long_context = price.long_context if price is not None else None
        self._long_above = long_context.above_input_tokens if long_context is not None else MAX_REPORTED_TOKENS
        if price is not None and (price.service_tiers or _priced_audio(price) or price.web_search_billed_per == "call"):
            self._long_above = -1
        """A prompt of more tokens is priced by ``pricing``, not the fields here: at the long-context tier;
        -1, every prompt: the price names service tiers or audio prices, or a search on every call."""
        self._input_price = price.input_per_mtok if price is not None else 0.0  # dollars per million tokens
        self._output_price = price.output_per_mtok if price is not None else 0.0
        cached = price.cached_input_per_mtok if price is not None else None
        self._cached_price = cached if cached is not None else self._input_price
        written = price.cache_write_per_mtok if price is not None else None
        self._write_price = written if written is not None else self._input_price
        self._hour_write_price = cost.hour_write_price(price) if price is not None else 0.0
        self._estimate_input_price = max(self._input_price, self._write_price)  # an estimate must not be low

    def units(self, input_tokens: int, max_output_tokens: int | None) -> tuple[int, int, int]:
        """The reservation of a request on ``target`` (``max_output_tokens``: the request's own, None: the
        target's ``output``): (nano-USD, tokens, requests), as ``pricing.estimate_units`` and
        ``Ledger._units`` make it; an ensemble's, every call at its own model (``calls.total_units``)."""
        if self.calls:
            return total_units(self.calls, input_tokens, max_output_tokens, self.default_output)
        output_tokens = self.output if max_output_tokens is None else max_output_tokens
        if input_tokens > self._long_above:
            return estimate_units(self._price, input_tokens, output_tokens)
        usd = math.ceil((input_tokens * self._estimate_input_price + output_tokens * self._output_price) * 1000)
        return usd, input_tokens + output_tokens, 1

    def used(self, usage: Usage) -> tuple[int, int, int]:
        """What a call ``target`` answered used: (nano-USD, tokens, requests), as ``pricing.actual_units``
        makes it (the same arithmetic as ``cost.cost_usd``, on the prices read once)."""
        inputs = usage.input_tokens
        output = usage.output_tokens
        if not self._priced:
            return 0, inputs + output, 1
        if inputs > self._long_above or usage.web_search_calls:  # a tier's prices, or per-search fees
            return actual_units(self._price, usage)
        cached = usage.cached_input_tokens
        if cached > inputs:  # subsets of the input: a provider claiming more lies
            cached = inputs
        written = usage.cache_write_tokens
        if written > inputs - cached:
            written = inputs - cached
        hour = usage.cache_write_1h_tokens
        if hour > written:
            hour = written
        fresh = inputs - cached - written
        total = (
            fresh * self._input_price
            + cached * self._cached_price
            + (written - hour) * self._write_price
            + hour * self._hour_write_price
            + output * self._output_price
        )
        return round(total / 1_000_000 * NANO_USD), inputs + output, 1


def _priced_audio(price: PriceSpec) -> bool:
    """Whether the price names an audio price (in any of its tiers)."""
    tiers = (price, *price.service_tiers.values(), *((price.long_context,) if price.long_context else ()))
    return any(t.audio_input_per_mtok is not None or t.audio_output_per_mtok is not None for t in tiers)
